"""Discrete-event simulation of a support desk on business hours, with a deferred queue.

Steady-state queueing formulas (Erlang C and A) describe a live channel: constant rates, agents
always present, waits of seconds. First-response targets of hours are set by what they ignore:
the desk closes at night and at weekends, work arrives in daily peaks, and a backlog carries
over. :func:`simulate_desk` runs the desk itself:

- **Arrivals** from a conversations table (trace-driven: every conversation at its
  ``created_at`` with its ``handle_seconds``, its arm from an assignments table; with several
  replications each one is a day bootstrap of the trace) or from an
  :class:`~frt_experiments.staffing.profile.ArrivalProfile` (Poisson by hour of the week, drawn
  afresh in every replication).
- **Agents** work only while the :class:`~frt_experiments.calendar.BusinessCalendar` is open:
  a constant number, or a number per local hour of the week (a shift schedule).
- **Two queues**. Conversations of the ``fast`` arm are served first, first come first served.
  The others (``one_business_day``) wait in a queue ordered by their first-response deadline
  (from :func:`frt_experiments.policy.default_policies`), so agents take them whenever no fast
  conversation is waiting: deferred work fills the quiet hours, and the most urgent of it goes
  first. Service is non-preemptive.
- **Handle time is business time**: a conversation taken near closing is finished at the next
  opening. Patience (optional, exponential, for live channels) also runs on business time:
  live channels are offered only while the desk is open.
- **Replications** with a warm-up: statistics of conversations created in the warm-up are
  discarded (the desk starts empty), and each statistic comes with a t interval across the
  independent replications (for day-bootstrap replications of a table, widened from the
  Monte Carlo error of their mean to the sampling error of the observed days).

First response time is reported in business hours (open time from creation to the first
reply, judged against the arm's policy like :meth:`FrtPolicy.evaluate
<frt_experiments.policy.FrtPolicy.evaluate>`) and in calendar hours.

References:
    Law, A. M. (2015). Simulation Modeling and Analysis, 5th ed. McGraw-Hill: section 9.4
    (independent replications with deletion of a warm-up period, t confidence intervals).
    Efron, B. and Tibshirani, R. J. (1993). An Introduction to the Bootstrap. Chapman &
    Hall, ch. 8 (resampling blocks of dependent data; here whole days of a trace).
    Gans, N., Koole, G. and Mandelbaum, A. (2003). Telephone call centers: tutorial, review,
    and research prospects. M&SOM 5(2), 79-141 (Erlang C and A as the steady-state models
    that the simulation must reproduce).
    Kiefer, J. and Wolfowitz, J. (1955), the multi-server workload recursion used by the core
    loop (:mod:`frt_experiments.staffing._engine`).
"""

from __future__ import annotations

import datetime as _dt
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from frt_experiments.calendar import BusinessCalendar
from frt_experiments.errors import FrtWarning
from frt_experiments.policy import FrtPolicy, default_policies
from frt_experiments.schema import (
    ABANDONED_AT,
    ARM,
    CONTROL_ARM,
    CREATED_AT,
    CUSTOMER_ID,
    FIRST_RESPONSE_AT,
    HANDLE_SECONDS,
)
from frt_experiments.staffing import _engine
from frt_experiments.staffing.patience import PatienceEstimate
from frt_experiments.staffing.profile import HOURS_PER_WEEK, ArrivalProfile, _checked, _real
from frt_experiments.staffing.roster import Roster

__all__ = ["DeskResult", "simulate_desk"]

_HOUR_NS = 3600 * 10**9
_SEC_NS = 10**9
_TAIL = pd.Timedelta(weeks=8)  # agents keep working this long after the last arrival
#: Per-replication statistics, in the order of :meth:`DeskResult.to_pandas`.
STATISTICS = ("n", "share_answered", "p_abandon", "p_wait", "mean_wait_hours",
              "median_business_hours", "p90_business_hours", "median_calendar_hours",
              "p90_calendar_hours", "share_within_target", "occupancy")
#: Statistics that are shares: their intervals are clipped to [0, 1].
_SHARES = ("share_answered", "p_abandon", "p_wait", "share_within_target")


# ----------------------------------------------------------------------------- preparation
@dataclass(frozen=True)
class _Sample:
    """One replication's conversations, sorted by creation, in business-time coordinates."""

    created: np.ndarray  # UTC ns
    arm: np.ndarray  # arm labels (object)
    handle: np.ndarray  # seconds
    b: np.ndarray  # business seconds since the origin
    allowed: np.ndarray  # business seconds from creation to the policy deadline
    patience: np.ndarray  # business seconds (inf: never abandons)
    fast: np.ndarray  # bool: joins the fast queue
    measured: np.ndarray  # bool: created after the warm-up
    jobs: _engine.Jobs


@dataclass(frozen=True)
class _Setup:
    calendar: BusinessCalendar
    policies: Mapping[str, FrtPolicy]
    origin: int  # UTC ns
    measure_from: int
    end: int  # UTC ns: end of the arrival window
    arms: tuple[str, ...]
    samples: tuple[_Sample, ...]


def _business_seconds(cal: BusinessCalendar, origin: int, ns: np.ndarray) -> np.ndarray:
    start = pd.DatetimeIndex(np.full(1, origin).view("datetime64[ns]"), tz="UTC")
    stop = pd.DatetimeIndex(ns.view("datetime64[ns]"), tz="UTC")
    return cal.business_duration(start, stop).as_unit("ns").asi8 / _SEC_NS


def _allowed(cal: BusinessCalendar, policies: Mapping[str, FrtPolicy], *, arm: np.ndarray,
             created: np.ndarray, b: np.ndarray, origin: int) -> np.ndarray:
    out = np.full(len(arm), np.nan)
    for name, policy in policies.items():  # one vectorized pass per arm
        mask = arm == name
        if not mask.any():
            continue
        if policy.rule == "business_time" and policy.target is not None:
            out[mask] = policy.target.total_seconds()
        else:
            idx = pd.DatetimeIndex(created[mask].view("datetime64[ns]"), tz="UTC")
            deadline = policy.deadline(idx).as_unit("ns").asi8
            out[mask] = _business_seconds(cal, origin, deadline) - b[mask]
    return out


def _make_sample(cal: BusinessCalendar, policies: Mapping[str, FrtPolicy], fast_arms: set[str],
                 *, created: np.ndarray, arm: np.ndarray, handle: np.ndarray,
                 patience: float | None, origin: int, measure_from: int,
                 rng: np.random.Generator, gone: np.ndarray | None = None) -> _Sample:
    """``gone``: nanoseconds from creation to the observed abandonment (negative: not
    abandoned), for a table with ``abandoned_at``; abandoned conversations draw their handle
    time from the others' (they were never served, so theirs is unknown), and without a
    patience model leave the queue at their observed time."""
    b = _business_seconds(cal, origin, created)
    allowed = _allowed(cal, policies, arm=arm, created=created, b=b, origin=origin)
    pat = (rng.exponential(patience, len(created)) if patience is not None
           else np.full(len(created), np.inf))
    if gone is not None and (gone >= 0).any():
        left = gone >= 0
        pool = handle[~left]
        if not pool.size:
            raise ValueError("conversations: every conversation in the window was abandoned; "
                             "the desk needs answered ones for their handle times")
        handle = handle.copy()
        handle[left] = pool[rng.integers(0, pool.size, int(left.sum()))]
        if patience is None:
            pat[left] = _business_seconds(cal, origin, created[left] + gone[left]) - b[left]
    fast = np.isin(arm, list(fast_arms))
    d = ~fast
    jobs = _engine.Jobs(b[fast], handle[fast], pat[fast], b[d], handle[d], pat[d],
                        b[d] + allowed[d])
    return _Sample(created, arm, handle, b, allowed, pat, fast, created >= measure_from, jobs)


def _prepare(arrivals: pd.DataFrame | ArrivalProfile, assignments: pd.DataFrame | None, *,
             calendar: BusinessCalendar | None, policies: Mapping[str, FrtPolicy] | None,
             fast_arms: Sequence[str], unassigned_arm: str,
             patience_seconds: float | PatienceEstimate | None,
             start: Any, end: Any, warmup: Any, replications: int,
             rng: np.random.Generator, resample: str = "auto",
             stream_rngs: Callable[[int], Sequence[np.random.Generator]] | None = None
             ) -> _Setup:
    if isinstance(replications, bool) or not isinstance(replications, int | np.integer) \
            or replications < 1:
        raise ValueError(f"replications: must be a positive integer, got {replications!r}")
    patience = _patience(patience_seconds)
    if isinstance(arrivals, ArrivalProfile):
        tz = arrivals.timezone
    elif isinstance(arrivals, pd.DataFrame):
        tz = "UTC"
    else:
        raise TypeError(f"arrivals: expected a conversations DataFrame or an ArrivalProfile, "
                        f"got {type(arrivals).__name__}")
    cal = calendar if calendar is not None else BusinessCalendar(tz, hours="24/7")
    pols = dict(policies) if policies is not None else default_policies(cal)
    warm = _duration(warmup, "warmup")
    if isinstance(fast_arms, str):
        raise ValueError(f"fast_arms: expected a sequence of arm names such as "
                         f"({fast_arms!r},), got the string {fast_arms!r}")
    fast_set = set(fast_arms)
    unknown = sorted(fast_set - set(pols))
    if unknown:
        raise ValueError(f"fast_arms: arms {unknown} have no first-response policy; policies "
                         f"cover {sorted(pols)}")
    samples = []
    if isinstance(arrivals, ArrivalProfile):
        if start is None or end is None:
            raise ValueError("start and end: required when arrivals is an ArrivalProfile")
        origin, stop = _ts(start, "start"), _ts(end, "end")
        if stop <= origin:
            raise ValueError(f"end: must be after start ({end!r} <= {start!r})")
        if resample != "auto":
            raise ValueError(f"resample: applies to a conversations table; an ArrivalProfile "
                             f"draws fresh Poisson arrivals in every replication (got "
                             f"{resample!r})")
        _check_arms(np.array(arrivals.arms, dtype=object), pols, "arrivals (profile)")
        arm_names = np.array([s.arm for s in arrivals.streams], dtype=object)
        for r in range(replications):
            created, code, handle = arrivals._draw(
                origin, stop, rng if stream_rngs is None else stream_rngs(r))
            samples.append(_make_sample(
                cal, pols, fast_set, created=created, arm=arm_names[code], handle=handle,
                patience=patience, origin=origin, measure_from=origin + warm, rng=rng))
    else:
        conv = _checked(arrivals, "conversations")
        created = pd.DatetimeIndex(conv[CREATED_AT]).as_unit("ns").asi8
        if assignments is not None:
            arm_of = assignments.drop_duplicates(CUSTOMER_ID).set_index(CUSTOMER_ID)[ARM]
            arm = conv[CUSTOMER_ID].map(arm_of).astype(object).to_numpy()
            arm = np.where(pd.isna(arm), unassigned_arm, arm).astype(object)
        else:
            arm = np.full(len(conv), unassigned_arm, dtype=object)
        handle = conv[HANDLE_SECONDS].to_numpy(dtype=float)
        gone = _gone(conv, created)
        order = np.argsort(created, kind="stable")
        created, arm, handle, gone = created[order], arm[order], handle[order], gone[order]
        origin = _ts(start, "start") if start is not None else int(created[0])
        stop = _ts(end, "end") if end is not None else int(created[-1]) + 1
        keep = (created >= origin) & (created < stop)
        if not keep.any():
            raise ValueError("start/end: no conversation was created in the window")
        created, arm, handle, gone = created[keep], arm[keep], handle[keep], gone[keep]
        _check_arms(arm, pols, "conversations")
        mode = _resample_mode(resample, replications)
        for r in range(replications):
            if mode == "days":
                c, a, h, g = _bootstrap_days(created, arm, handle, gone, tz=cal.timezone,
                                             origin=origin, stop=stop, rng=rng, warn=r == 0)
            else:
                c, a, h, g = created, arm, handle, gone
            samples.append(_make_sample(
                cal, pols, fast_set, created=c, arm=a, handle=h, patience=patience,
                origin=origin, measure_from=origin + warm, rng=rng, gone=g))
    if origin + warm >= stop:
        raise ValueError(f"warmup: {pd.Timedelta(warm, unit='ns')} leaves no time to measure")
    arms = tuple(a for a in pols if any((s.arm == a).any() for s in samples))
    return _Setup(cal, pols, origin, origin + warm, stop, arms, tuple(samples))


def _patience(value: Any) -> float | None:
    """Mean patience in business seconds from a number, a :class:`PatienceEstimate` or
    ``None``."""
    if value is None:
        return None
    if isinstance(value, PatienceEstimate):
        return value.mean_seconds
    if not (np.isfinite(_real(value)) and value > 0):
        raise ValueError(f"patience_seconds: must be > 0 (or None), got {value!r} (a "
                         "number of seconds or a PatienceEstimate)")
    return float(value)


def _gone(conv: pd.DataFrame, created: np.ndarray) -> np.ndarray:
    """Nanoseconds from creation to the observed abandonment, -1 where none."""
    if ABANDONED_AT not in conv.columns:
        return np.full(len(created), -1, dtype=np.int64)
    at = pd.DatetimeIndex(conv[ABANDONED_AT]).as_unit("ns")
    out = np.where(at.isna(), -1, at.asi8 - created)
    return np.where(out < 0, -1, out).astype(np.int64)


_RESAMPLE = ("auto", "days", "none")
_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def _resample_mode(resample: str, replications: int) -> str:
    if resample not in _RESAMPLE:
        raise ValueError(f"resample: expected one of {_RESAMPLE}, got {resample!r}")
    if resample == "auto":
        return "days" if replications > 1 else "none"
    return resample


def _bootstrap_days(created: np.ndarray, arm: np.ndarray, handle: np.ndarray,
                    gone: np.ndarray | None = None, *, tz: str,
                    origin: int, stop: int, rng: np.random.Generator, warn: bool = False
                    ) -> tuple[np.ndarray, ...]:
    """One day-bootstrap replicate of a trace (Efron and Tibshirani 1993, ch. 8: resampling
    blocks, here local days, keeps the dependence within a block).

    Every local day of ``[origin, stop)`` receives the conversations of a day drawn with
    replacement from the trace's whole days of the same weekday (any whole day if the trace
    has none of that weekday), at the same elapsed time since local midnight, with their arms
    and handle times.
    """
    first = pd.Timestamp(origin, tz="UTC").tz_convert(tz).normalize()
    last = pd.Timestamp(stop - 1, tz="UTC").tz_convert(tz).normalize()
    days = pd.date_range(first, last + pd.Timedelta(days=1), freq="D")  # local midnights
    mid = days.as_unit("ns").asi8  # len(days) = number of days + 1
    whole = np.flatnonzero((mid[:-1] >= origin) & (mid[1:] <= stop))
    if whole.size == 0:
        raise ValueError("resample: 'days' needs a window holding at least one whole local "
                         "day; use resample='none' or a longer window")
    day_of = np.searchsorted(mid, created, side="right") - 1  # each conversation's day
    lo = np.searchsorted(day_of, np.arange(len(mid) - 1), side="left")
    hi = np.searchsorted(day_of, np.arange(len(mid) - 1), side="right")
    weekday = days[:-1].day_of_week.to_numpy()
    slots = np.arange(len(mid) - 1)
    per_weekday = np.bincount(weekday[whole], minlength=7)
    single = [_WEEKDAYS[w] for w in range(7) if per_weekday[w] == 1]
    if warn and single:
        warnings.warn(
            f"resample: the window holds a single whole {', '.join(single)}, which is the same "
            "in every day-bootstrap replication, so the intervals leave out how such days "
            "vary; use a window of several weeks", FrtWarning, stacklevel=4)
    source = np.empty(slots.size, dtype=np.int64)
    for wd in range(7):  # one vectorized draw per weekday
        want = slots[weekday == wd]
        if not want.size:
            continue
        pool = whole[weekday[whole] == wd]
        if not pool.size:
            pool = whole
        source[want] = pool[rng.integers(0, pool.size, want.size)]
    counts = hi[source] - lo[source]
    total = int(counts.sum())
    offset = np.repeat(np.cumsum(counts) - counts, counts)
    idx = np.repeat(lo[source], counts) + (np.arange(total) - offset)
    shifted = created[idx] - np.repeat(mid[source], counts) + np.repeat(mid[slots], counts)
    keep = (shifted >= origin) & (shifted < stop)
    order = np.argsort(shifted[keep], kind="stable")
    out = (shifted[keep][order], arm[idx][keep][order], handle[idx][keep][order])
    if gone is None:
        return out
    return (*out, gone[idx][keep][order])


def _check_arms(arm: np.ndarray, policies: Mapping[str, FrtPolicy], source: str) -> None:
    missing = sorted(set(pd.unique(arm).tolist()) - set(policies))
    if missing:
        raise ValueError(f"{source}: arms {missing} have no first-response policy; policies "
                         f"cover {sorted(policies)} (pass policies={{arm: FrtPolicy}})")


def _ts(x: Any, name: str) -> int:
    t = pd.Timestamp(x)
    if t.tz is None:
        raise ValueError(f"{name}: {x!r} is a naive timestamp; give a time zone")
    return int(t.as_unit("ns").value)


def _duration(x: Any, name: str) -> int:
    try:
        if isinstance(x, int | float | np.integer | np.floating) and not isinstance(x, bool):
            d = pd.Timedelta(hours=float(x))
        else:
            d = pd.Timedelta(x)
    except (TypeError, ValueError):
        d = pd.NaT
    if pd.isna(d) or d < pd.Timedelta(0):
        raise ValueError(f"{name}: must be a duration >= 0 (hours or a timedelta), got {x!r}")
    return int(d.value)


# ----------------------------------------------------------------------------- agents
@dataclass(frozen=True)
class _Staff:
    """Agents: a constant headcount, or a roster of duty segments on the business clock."""

    agents: int | None
    roster: _engine.DutyRoster | None
    duty_seconds: float  # scheduled agent time in the measured window (business seconds)
    window: tuple[float, float] = (0.0, np.inf)  # the measured window (business seconds)


def _staff(agents: Any, setup: _Setup) -> _Staff:
    cal, origin = setup.calendar, setup.origin
    b_from, b_end = (_business_seconds(cal, origin, np.array([setup.measure_from, setup.end]))
                     .tolist())
    if isinstance(agents, Roster):
        return _dated_staff(agents, setup, (b_from, b_end))
    if isinstance(agents, int | np.integer) and not isinstance(agents, bool):
        if agents < 1:
            raise ValueError(f"agents: must be >= 1, got {agents}")
        return _Staff(int(agents), None, float(agents) * (b_end - b_from), (b_from, b_end))
    per_hour = np.asarray(agents)
    if per_hour.shape != (HOURS_PER_WEEK,) or per_hour.dtype.kind not in "iuf" \
            or (per_hour < 0).any() or (per_hour != np.round(per_hour)).any():
        raise ValueError(f"agents: expected an integer >= 1 or {HOURS_PER_WEEK} whole numbers "
                         ">= 0 (agents per local hour of the week, Monday 00:00 first)")
    per_hour = per_hour.astype(np.int64)
    if per_hour.max() == 0:
        raise ValueError("agents: the schedule has no agent in any hour")
    tz = cal.timezone
    lo = pd.Timestamp(origin, tz="UTC").tz_convert(tz).floor(
        "h", ambiguous=True, nonexistent="shift_forward")
    edges = pd.date_range(lo, (pd.Timestamp(setup.end, tz="UTC") + _TAIL).tz_convert(tz),
                          freq="h")
    how = (edges.day_of_week * 24 + edges.hour).to_numpy()[:-1]
    eb = _business_seconds(cal, origin, edges.as_unit("ns").asi8)
    s_all, e_all, c_all = eb[:-1], eb[1:], per_hour[how]
    starts, ends, cums, duty = [], [], [], 0.0
    for k in range(int(per_hour.max())):  # one vectorized pass per agent level
        m = (c_all > k) & (e_all > s_all)
        s, e = s_all[m], e_all[m]
        if not len(s):
            s, e = np.array([np.inf]), np.array([np.inf])
        brk = np.r_[True, s[1:] != e[:-1]]
        st, en = s[brk], e[np.r_[brk[1:], True]]
        starts.append(st.tolist())
        ends.append(en.tolist())
        cums.append(np.r_[0.0, np.cumsum(en - st)[:-1]].tolist())
        duty += float(np.clip(np.minimum(en, b_end) - np.maximum(st, b_from), 0, None).sum())
    roster = _engine.DutyRoster(tuple(starts), tuple(ends), tuple(cums))
    return _Staff(None, roster, duty, (b_from, b_end))


def _dated_staff(roster: Roster, setup: _Setup, window: tuple[float, float]) -> _Staff:
    """Duty segments of a dated roster on the business clock: agent level ``k`` works where
    the roster has more than ``k`` agents (the first fraction of an interval with a fractional
    agent); nobody works outside the roster."""
    lo, hi = roster.start.value, roster.end.value
    if lo > setup.origin or hi < setup.end:
        raise ValueError(
            f"agents: the roster covers {roster.start.isoformat()} to "
            f"{roster.end.isoformat()}, the arrivals "
            f"{pd.Timestamp(setup.origin, tz='UTC').isoformat()} to "
            f"{pd.Timestamp(setup.end, tz='UTC').isoformat()}; give a roster for the whole "
            "window (0 agents where nobody works)")
    cal, origin = setup.calendar, setup.origin
    b_from, b_end = window
    starts, ends, cums, duty = [], [], [], 0.0
    for k in range(int(np.ceil(roster.agents.max()))):  # one vectorized pass per agent level
        s_ns, e_ns = roster.duty_segments(k)
        s = _business_seconds(cal, origin, s_ns)
        e = _business_seconds(cal, origin, e_ns)
        m = e > s
        s, e = s[m], e[m]
        if not len(s):
            s, e = np.array([np.inf]), np.array([np.inf])
        brk = np.r_[True, s[1:] != e[:-1]]
        st, en = s[brk], e[np.r_[brk[1:], True]]
        starts.append(st.tolist())
        ends.append(en.tolist())
        cums.append(np.r_[0.0, np.cumsum(en - st)[:-1]].tolist())
        duty += float(np.clip(np.minimum(en, b_end) - np.maximum(st, b_from), 0, None).sum())
    return _Staff(None, _engine.DutyRoster(tuple(starts), tuple(ends), tuple(cums)), duty,
                  (b_from, b_end))


def _warn_overload(setup: _Setup, staff: _Staff) -> None:
    """Warn when the offered work exceeds the scheduled agent time (an unstable queue).

    Only for a measured window of a week or more: over shorter windows work arriving at the
    end is legitimately finished after it.
    """
    if setup.end - setup.measure_from < 7 * 24 * _HOUR_NS:
        return
    work = float(np.mean([s.handle[s.measured].sum() for s in setup.samples]))
    if staff.duty_seconds > 0 and work > staff.duty_seconds:
        warnings.warn(
            f"agents: the offered work ({work / 3600:,.0f} agent hours after the warm-up) "
            f"exceeds the scheduled agent time ({staff.duty_seconds / 3600:,.0f} hours): the "
            "queue is unstable (load above capacity), the backlog grows through the window "
            "and the results depend on its length", FrtWarning, stacklevel=3)


def _run(sample: _Sample, staff: _Staff) -> np.ndarray:
    """Business-clock start time of every conversation (NaN: abandoned or never reached)."""
    if staff.roster is None:
        assert staff.agents is not None
        jobs = sample.jobs
        if not len(jobs.def_arrival) and not np.isfinite(jobs.fast_patience).any():
            # one FCFS queue, nobody abandons: the Kiefer-Wolfowitz recursion is the same
            # schedule as the two-queue loop, about twice as fast
            fs, ds = _engine.run_fcfs(jobs.fast_arrival, jobs.fast_service, staff.agents), \
                np.empty(0)
        else:
            fs, ds = _engine.run_uniform(jobs, staff.agents)
    else:
        fs, ds = _engine.run_roster(sample.jobs, staff.roster)
    start = np.empty(len(sample.b))
    start[sample.fast] = fs
    start[~sample.fast] = ds
    return start


def _share_met(sample: _Sample, start: np.ndarray) -> dict[str, float]:
    """Share of measured conversations answered within their policy, per arm."""
    met = (start - sample.b) <= sample.allowed + 1e-9
    out = {}
    for arm in pd.unique(sample.arm[sample.measured]).tolist():
        m = sample.measured & (sample.arm == arm)
        out[arm] = float(met[m].mean())
    return out


# ----------------------------------------------------------------------------- result
@dataclass(frozen=True, repr=False)
class DeskResult:
    """What the desk simulation produced, per arm, with intervals across replications.

    Attributes:
        replications: One row per replication and arm with the statistics
            ``n, share_answered, p_abandon, p_wait, mean_wait_hours, median_business_hours,
            p90_business_hours, median_calendar_hours, p90_calendar_hours,
            share_within_target, occupancy`` (conversations created after the warm-up;
            FRT quantiles over answered conversations, type 7; waits in business hours;
            occupancy is desk-wide: agent time spent serving inside the measured window
            over the agent time scheduled there, so at most 1 on a desk with a constant
            headcount).
        conversations: Every simulated conversation of every replication: ``replication,
            arm, created_at, first_response_at, frt_business_hours, frt_calendar_hours,
            handle_seconds, met, abandoned, measured`` (``measured``: created after the
            warm-up).
        backlog: Conversations waiting for a first response (not yet taken by an agent), per
            arm (columns) at each time of a regular grid, averaged over replications.
        agents: The headcount (an int) or the per-hour-of-week schedule (a tuple).
        confidence: Confidence level of the intervals.
        bootstrap: The replications are day-bootstrap resamples of one conversations table.
            Their spread is then the bootstrap standard error ``se`` of the table's own
            figures (Efron and Tibshirani 1993, ch. 6), not Monte Carlo noise around a known
            model, so the intervals are ``mean +- t se sqrt(1 + 1/R)`` (the sampling error of
            the observed days plus the Monte Carlo error of the mean of ``R`` resamples)
            rather than ``mean +- t se / sqrt(R)``, which shrinks to nothing as ``R`` grows.
    """

    replications: pd.DataFrame
    conversations: pd.DataFrame
    backlog: pd.DataFrame
    agents: int | tuple[int, ...] | Roster
    confidence: float = 0.95
    arms: tuple[str, ...] = field(default=())
    bootstrap: bool = False

    def to_pandas(self) -> pd.DataFrame:
        """Mean of every statistic per arm, with a t interval across replications.

        Columns ``arm, statistic, mean, ci_low, ci_high, replications`` (intervals are NaN
        with a single replication). Intervals respect the statistics' bounds: every statistic
        is >= 0 (counts, shares, waits, occupancy) and shares are <= 1, so the t interval is
        cut at those bounds where it crosses them. (A percentile interval would respect them
        by construction but needs many more replications than a desk simulation runs: with
        10 its 95% ends are the extreme replications; the t interval, whose coverage the tests
        check at 10, is kept and cut. :mod:`~frt_experiments.staffing.analytics` resamples
        observed days cheaply and gives percentile intervals.)
        """
        long = self.replications.melt(id_vars=["replication", ARM], value_vars=list(STATISTICS),
                                      var_name="statistic")
        g = long.groupby([ARM, "statistic"], sort=False)["value"]
        out = g.agg(mean="mean", sd="std", replications="count").reset_index()
        half = _t_half(out["sd"].to_numpy(), out["replications"].to_numpy(), self.confidence,
                       bootstrap=self.bootstrap)
        share = out["statistic"].isin(_SHARES).to_numpy()
        # every statistic is >= 0 and shares are <= 1: the t interval of a wait near 0 (a
        # live queue's p90, mostly 0 s, from a few day-bootstrap replications) crossed 0
        out["ci_low"] = np.maximum(out["mean"] - half, 0.0)
        out["ci_high"] = np.where(share, np.minimum(out["mean"] + half, 1.0), out["mean"] + half)
        return out[[ARM, "statistic", "mean", "ci_low", "ci_high", "replications"]]

    def estimate(self, statistic: str, arm: str | None = None) -> tuple[float, float, float]:
        """``(mean, ci_low, ci_high)`` of one statistic for one arm (default: the only/first)."""
        if statistic not in STATISTICS:
            raise ValueError(f"statistic: expected one of {STATISTICS}, got {statistic!r}")
        arm = self._arm(arm)
        row = self.to_pandas().query(f"{ARM} == @arm and statistic == @statistic").iloc[0]
        return float(row["mean"]), float(row["ci_low"]), float(row["ci_high"])

    def service_level(self, seconds: float, arm: str | None = None) -> tuple[float, float, float]:
        """Share of arrivals answered within ``seconds`` of business time (abandoned count as
        missed): ``(mean, ci_low, ci_high)`` across replications."""
        arm = self._arm(arm)
        c = self.conversations
        m = c["measured"].to_numpy() & (c[ARM].to_numpy() == arm)
        hit = (c["frt_business_hours"].to_numpy()[m] * 3600.0 <= seconds)
        per = pd.Series(hit).groupby(c["replication"].to_numpy()[m]).mean().to_numpy()
        return _mean_ci(per, self.confidence, bounds=(0.0, 1.0), bootstrap=self.bootstrap)

    def frt(self, arm: str | None = None, *, business: bool = True) -> np.ndarray:
        """First response times (hours) of the answered, measured conversations of an arm."""
        arm = self._arm(arm)
        c = self.conversations
        col = "frt_business_hours" if business else "frt_calendar_hours"
        m = c["measured"].to_numpy() & (c[ARM].to_numpy() == arm)
        x = c[col].to_numpy()[m]
        return x[np.isfinite(x)]

    @property
    def share_within_target(self) -> dict[str, float]:
        """Mean share within each arm's first-response target."""
        r = self.replications
        return {a: float(r.loc[r[ARM] == a, "share_within_target"].mean()) for a in self.arms}

    @property
    def occupancy(self) -> float:
        return float(self.replications["occupancy"].mean())

    def _arm(self, arm: str | None) -> str:
        if arm is None:
            return self.arms[0]
        if arm not in self.arms:
            raise ValueError(f"arm: {arm!r} is not simulated; arms are {list(self.arms)}")
        return arm

    def summary(self) -> str:
        """Per arm: volume, share within target, abandonment, waits in the desk's units
        (seconds for a live queue, minutes, or hours for an email desk: see
        :func:`~frt_experiments.staffing.analytics.wait_unit`)."""
        from frt_experiments.staffing.analytics import UNITS, wait_unit  # noqa: PLC0415

        t = self.to_pandas()
        c = self.conversations
        frt = c["frt_business_hours"].to_numpy()[c["measured"].to_numpy()] if len(c) else []
        unit = wait_unit(np.asarray(frt, dtype=float) * 3600.0)
        k = 3600.0 / UNITS[unit]
        lines = [f"Desk simulation: {_agents_text(self.agents)}, "
                 f"{_replications_text(int(self.replications['replication'].nunique()))}, "
                 f"{self.confidence:.0%} intervals"]
        for arm in self.arms:
            s = t[t[ARM] == arm].set_index("statistic")

            def fmt(name: str, pct: bool = False, s: pd.DataFrame = s) -> str:
                m, lo, hi = s.loc[name, ["mean", "ci_low", "ci_high"]]
                f = "{:.1%}" if pct else "{:.2f}" if unit == "h" else "{:.1f}"
                scale = 1.0 if pct else k
                ci = (f" [{f.format(lo * scale)}, {f.format(hi * scale)}]"
                      if np.isfinite(lo) else "")
                return f.format(m * scale) + ci

            abandon = (f", abandoned {fmt('p_abandon', True)}"
                       if s.loc["p_abandon", "mean"] > 0 else "")
            lines.append(f"  {arm}: n={s.loc['n', 'mean']:,.0f}/replication, within target "
                         f"{fmt('share_within_target', True)}{abandon}, FRT median "
                         f"{fmt('median_business_hours')} business {unit} "
                         f"({fmt('median_calendar_hours')} calendar {unit}), p90 "
                         f"{fmt('p90_business_hours')} business {unit}")
        lines.append(f"  occupancy {self.occupancy:.1%}")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        return (f"<p>{_html_escape(repr(self))}</p>"
                + self.to_pandas().to_html(index=False, float_format="{:.4g}".format))

    def __repr__(self) -> str:
        share = ", ".join(f"{a}={v:.1%}" for a, v in self.share_within_target.items())
        return (f"DeskResult({_agents_text(self.agents)}, within target: {share}, occupancy "
                f"{self.occupancy:.1%})")


def _html_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _agents_text(agents: int | tuple[int, ...] | Roster) -> str:
    if isinstance(agents, int):
        return f"{agents} agents"
    if isinstance(agents, Roster):
        minutes = agents.interval.total_seconds() / 60
        return (f"dated roster of {agents.agents.min():g}-{agents.agents.max():g} agents per "
                f"{minutes:g}-minute interval")
    return f"schedule of {min(agents)}-{max(agents)} agents"


def _t_half(sd: np.ndarray, n: np.ndarray, confidence: float, *,
            bootstrap: bool = False) -> np.ndarray:
    """Half-width of the t interval of a mean of ``n`` replications (Law 2015, section 9.4);
    for bootstrap resamples of one data set, ``t sd sqrt(1 + 1/n)`` (see
    :class:`DeskResult`)."""
    n = np.asarray(n, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        q = stats.t.ppf(0.5 + confidence / 2, np.where(n > 1, n - 1, np.nan))
        scale = np.sqrt(1.0 + 1.0 / n) if bootstrap else 1.0 / np.sqrt(n)
        return np.where(n > 1, q * sd * scale, np.nan)


def _mean_ci(x: np.ndarray, confidence: float, *,
             bounds: tuple[float, float] = (0.0, np.inf),
             bootstrap: bool = False) -> tuple[float, float, float]:
    """Mean and t interval across replications, clipped to ``bounds`` (default ``[0, inf)``:
    every desk statistic is >= 0; [0, 1] for a share: the t interval of a share near 0 or 1
    can cross them; the share cannot)."""
    m = float(np.mean(x))
    sd = float(np.std(x, ddof=1)) if len(x) > 1 else np.nan
    half = float(_t_half(np.array([sd]), np.array([len(x)]), confidence,
                         bootstrap=bootstrap)[0])
    return m, max(m - half, bounds[0]), min(m + half, bounds[1])


def _quantile(x: np.ndarray, p: float) -> float:
    return float(np.quantile(x, p)) if len(x) else float("nan")


def _replication(r: int, sample: _Sample, start: np.ndarray, setup: _Setup,
                 staff: _Staff) -> tuple[pd.DataFrame, list[dict[str, Any]], pd.DataFrame]:
    cal = setup.calendar
    frt_b = start - sample.b
    answered = np.isfinite(start)
    created = pd.DatetimeIndex(sample.created.view("datetime64[ns]"), tz="UTC")
    first = np.full(len(start), np.iinfo(np.int64).min)
    if answered.any():
        at = cal.add_business_time(created[answered],
                                   pd.to_timedelta(np.round(frt_b[answered] * 1e9), unit="ns"))
        first[answered] = cal.next_open(at).as_unit("ns").asi8
    first_ts = pd.DatetimeIndex(first.view("datetime64[ns]"), tz="UTC")
    frt_c = np.where(answered, (first - sample.created) / _HOUR_NS, np.nan)
    abandoned = ~answered & np.isfinite(sample.patience)
    met = answered & (frt_b <= sample.allowed + 1e-9)
    conv = pd.DataFrame({
        "replication": r, ARM: sample.arm, CREATED_AT: created, FIRST_RESPONSE_AT: first_ts,
        "frt_business_hours": np.where(answered, frt_b / 3600.0, np.nan),
        "frt_calendar_hours": frt_c, HANDLE_SECONDS: sample.handle, "met": met,
        "abandoned": abandoned, "measured": sample.measured,
    })
    # occupancy: agent time busy inside the measured window over agent time on duty there.
    # Service runs on the business clock from its start for its handle time; work begun in
    # the warm-up or still running at the window's end counts only for its part inside.
    lo, hi = staff.window
    s0 = start[answered]
    work = float(np.clip(np.minimum(s0 + sample.handle[answered], hi) - np.maximum(s0, lo),
                         0.0, None).sum())
    occupancy = work / staff.duty_seconds if staff.duty_seconds > 0 else np.nan
    rows = []
    for arm in setup.arms:
        m = sample.measured & (sample.arm == arm)
        n = int(m.sum())
        if n == 0:
            continue
        fb, fc = frt_b[m & answered], frt_c[m & answered]
        rows.append({
            "replication": r, ARM: arm, "n": n, "share_answered": float(answered[m].mean()),
            "p_abandon": float(abandoned[m].mean()),
            "p_wait": float(1.0 - ((frt_b[m] == 0) & answered[m]).mean()),
            "mean_wait_hours": float(fb.mean() / 3600.0) if len(fb) else np.nan,
            "median_business_hours": _quantile(fb, 0.5) / 3600.0,
            "p90_business_hours": _quantile(fb, 0.9) / 3600.0,
            "median_calendar_hours": _quantile(fc, 0.5),
            "p90_calendar_hours": _quantile(fc, 0.9),
            "share_within_target": float(met[m].mean()), "occupancy": occupancy,
        })
    # backlog: created by x, not yet taken (answered or abandoned) by x
    left = first.astype(float)
    left[~answered] = np.inf
    if abandoned.any():
        gone = cal.add_business_time(created[abandoned], pd.to_timedelta(
            np.round(sample.patience[abandoned] * 1e9), unit="ns"))
        left[abandoned] = gone.as_unit("ns").asi8
    grid = pd.date_range(pd.Timestamp(setup.origin, tz="UTC").ceil("h"),
                         pd.Timestamp(setup.end, tz="UTC"), freq="h")
    g = grid.as_unit("ns").asi8
    backlog = {}
    for arm in setup.arms:
        m = sample.arm == arm
        backlog[arm] = (np.searchsorted(np.sort(sample.created[m]), g, side="right")
                        - np.searchsorted(np.sort(left[m]), g, side="right"))
    return conv, rows, pd.DataFrame(backlog, index=grid)


def simulate_desk(
    arrivals: pd.DataFrame | ArrivalProfile,
    assignments: pd.DataFrame | None = None,
    *,
    agents: int | Sequence[int] | np.ndarray | Roster,
    calendar: BusinessCalendar | None = None,
    policies: Mapping[str, FrtPolicy] | None = None,
    fast_arms: Sequence[str] = (CONTROL_ARM,),
    unassigned_arm: str = CONTROL_ARM,
    patience_seconds: float | PatienceEstimate | None = None,
    start: Any = None,
    end: Any = None,
    warmup: float | _dt.timedelta | str = 0.0,
    replications: int = 1,
    resample: str = "auto",
    confidence: float = 0.95,
    rng: int | np.random.Generator | None = None,
) -> DeskResult:
    """Simulate the desk: queues, agents on the business calendar, FRT per arm.

    Args:
        arrivals: A canonical conversations table (``customer_id``, ``created_at``,
            ``handle_seconds``; trace-driven, see ``resample`` for replications) or an
            :class:`ArrivalProfile` (Poisson arrivals drawn afresh per replication).
        assignments: Maps ``customer_id`` to ``arm`` for a conversations table; customers
            without an assignment get ``unassigned_arm``.
        agents: Agents on duty while the desk is open: an int; 168 whole numbers (agents
            per local hour of the week in the calendar's zone, Monday 00:00-01:00 first;
            hours in which the calendar is closed are ignored); or a dated
            :class:`~frt_experiments.staffing.roster.Roster` covering the arrival window
            (agents per interval, possibly fractional -- an effective roster; nobody works
            outside it, so what is still waiting at its end stays unanswered).
        calendar: The desk's business calendar (default: open 24/7 in the profile's zone).
        policies: First-response policy per arm (default
            :func:`~frt_experiments.policy.default_policies` on ``calendar``): judges
            ``met`` and sets the deferred queue's deadlines.
        fast_arms: Arms served first, first come first served; every other arm waits in the
            deadline-ordered deferred queue.
        unassigned_arm: Arm of conversations whose customer has no assignment.
        patience_seconds: Mean exponential patience in business seconds (live channels), or
            a :class:`~frt_experiments.staffing.patience.PatienceEstimate` (from
            :func:`~frt_experiments.staffing.patience.estimate_patience`): every conversation
            draws its patience afresh in every replication. ``None``: nobody abandons, except
            that conversations of a table with ``abandoned_at`` leave the queue at their
            observed abandonment (if no agent took them before). Abandoned conversations of a
            table were never served, so their handle time is drawn from the answered ones'.
        start, end: Arrival window (required for a profile; for a table, default the first
            and last ``created_at``).
        warmup: Hours (or a timedelta) after ``start`` whose conversations are simulated but
            not measured.
        replications: Independent replications (profile arrivals, patience draws).
        resample: How the replications of a conversations table differ: ``"days"`` -- each
            is a day bootstrap of the trace (every local day of the window gets the
            conversations of a whole day of the same weekday drawn with replacement), so the
            intervals reflect day-to-day variation of the arrivals (the sampling error of the
            observed days, see :class:`DeskResult`; a window with a single day of some
            weekday cannot vary that weekday); ``"none"`` -- every
            replication replays the trace as it is (only patience draws differ);
            ``"auto"`` (default) -- ``"days"`` with more than one replication, otherwise
            ``"none"`` (one replication replays the history). Must be ``"auto"`` for an
            :class:`ArrivalProfile`, which draws fresh arrivals in every replication.
        confidence: Level of the t intervals across replications (for day-bootstrap
            replications, intervals for the table's figures: see :class:`DeskResult`).
        rng: Seed or generator.

    Returns:
        A :class:`DeskResult`.

    References:
        See the module docstring (Law 2015; Kiefer and Wolfowitz 1955; Gans et al. 2003;
        Efron and Tibshirani 1993 for the day bootstrap).
    """
    if not 0 < _real(confidence) < 1:
        raise ValueError(f"confidence: must be in (0, 1), got {confidence!r}")
    gen = np.random.default_rng(rng)
    setup = _prepare(arrivals, assignments, calendar=calendar, policies=policies,
                     fast_arms=fast_arms, unassigned_arm=unassigned_arm,
                     patience_seconds=patience_seconds, start=start, end=end, warmup=warmup,
                     replications=replications, rng=gen, resample=resample)
    staff = _staff(agents, setup)
    _warn_overload(setup, staff)
    # day-bootstrap resamples of one table: their spread is the sampling error of its figures
    bootstrap = (isinstance(arrivals, pd.DataFrame)
                 and _resample_mode(resample, replications) == "days")
    convs, rows, backlogs = [], [], []
    for r, sample in enumerate(setup.samples):
        c, rs, bl = _replication(r, sample, _run(sample, staff), setup, staff)
        convs.append(c)
        rows.extend(rs)
        backlogs.append(bl)
    backlog = sum(backlogs[1:], backlogs[0].astype(float)) / len(backlogs)
    agents_rec: int | tuple[int, ...] | Roster = (
        staff.agents if staff.agents is not None else agents if isinstance(agents, Roster)
        else tuple(int(a) for a in np.asarray(agents)))
    return DeskResult(pd.DataFrame(rows), pd.concat(convs, ignore_index=True), backlog,
                      agents_rec, confidence, setup.arms, bootstrap)


def _replications_text(n: int) -> str:
    return f"{n} replication{'' if n == 1 else 's'}"
