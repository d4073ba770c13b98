"""Dated rosters, the agents really busy, and the effective capacity a desk runs on.

A :class:`Roster` gives the agents on duty in every interval of a window (``interval_start``,
``agents``; all intervals one length, contiguous), dated rather than per hour of the week, so
a month with holidays, a new hire or a sick day is replayed as it was.
:func:`~frt_experiments.staffing.desk.simulate_desk` takes one as ``agents``.

Rosters overstate what a desk can do: agents on duty spend time on after-call work, breaks,
training and empty seats (Gans et al. 2003, section 4.2: "shrinkage"). :func:`calibrate_capacity`
finds the multiplier on the roster under which the desk simulation, replaying the observed
conversations with common random numbers, reproduces an observed statistic (the mean wait of
answered conversations, the share answered within a target, or the share abandoned), by a
one-dimensional root-find, and the interval of that multiplier: the multipliers whose
simulated statistic is within the replications' prediction interval of the observed one (the
observed window is one more draw of the same randomness the replications show). Plan with
``roster.scaled(calibration.multiplier)``, and say so.

Agents may be fractional (an effective roster, or full-time equivalents): 2.5 agents in an
interval are two agents all through it and a third for its first half, so agent time is
exactly ``agents x interval`` and a multiplier changes capacity continuously.

The canonical conversations table has no agent column, so a roster cannot be derived from
who handled what; :func:`busy_agents` reads from ``first_response_at`` and ``handle_seconds``
how many agents were serving in each interval, a lower bound of the agents on duty (the
bank desk of issue 18 had 4.5 busy of 8 rostered while callers waited).

References:
    Gans, N., Koole, G. and Mandelbaum, A. (2003). Telephone call centers: tutorial, review,
    and research prospects. M&SOM 5(2), 79-141.
    Law, A. M. (2015). Simulation Modeling and Analysis, 5th ed. McGraw-Hill: section 11.2
    (common random numbers), section 9.4 (intervals across replications).
    Brent, R. P. (1973). Algorithms for Minimization without Derivatives, ch. 4 (the root
    finder, :func:`scipy.optimize.brentq`).
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd
from scipy import optimize, stats

from frt_experiments.errors import DataError, Problem
from frt_experiments.schema import (
    ABANDONED_AT,
    CONTROL_ARM,
    CREATED_AT,
    FIRST_RESPONSE_AT,
    HANDLE_SECONDS,
)
from frt_experiments.staffing.patience import PatienceEstimate, waits

if TYPE_CHECKING:
    from frt_experiments.calendar import BusinessCalendar
    from frt_experiments.policy import FrtPolicy

__all__ = ["AGENTS", "INTERVAL_START", "CapacityCalibration", "Roster", "busy_agents",
           "calibrate_capacity"]

#: Columns of a roster table.
INTERVAL_START = "interval_start"
AGENTS = "agents"
_NS = 10**9


@dataclass(frozen=True, repr=False)
class Roster:
    """Agents on duty per interval of a dated window.

    Attributes:
        starts: Interval starts (UTC, sorted, contiguous).
        agents: Agents on duty in each interval (``>= 0``, may be fractional).
        interval: The length of every interval.

    Examples:
        >>> r = Roster.from_table(pd.DataFrame({
        ...     "interval_start": ["2025-03-03T08:00Z", "2025-03-03T08:30Z"],
        ...     "agents": [2, 3]}))
        >>> r.agent_hours
        2.5
        >>> r.scaled(0.5).agents.tolist()
        [1.0, 1.5]
    """

    starts: pd.DatetimeIndex
    agents: np.ndarray
    interval: pd.Timedelta

    def __post_init__(self) -> None:
        starts = pd.DatetimeIndex(self.starts)
        if starts.tz is None:
            raise ValueError("starts: must be time-zone aware")
        starts = starts.tz_convert("UTC").as_unit("ns")
        agents = np.asarray(self.agents, dtype=float)
        step = pd.Timedelta(self.interval)
        if step <= pd.Timedelta(0):
            raise ValueError(f"interval: must be a positive duration, got {self.interval!r}")
        if agents.shape != (len(starts),) or not len(starts):
            raise ValueError("agents: expected one number per interval start (at least one)")
        if not np.isfinite(agents).all() or (agents < 0).any():
            raise ValueError("agents: must be finite and >= 0")
        gaps = np.diff(starts.asi8)
        if (gaps != step.value).any():
            raise ValueError(f"starts: must be contiguous intervals of {step} (use "
                             "Roster.from_table to have every problem named)")
        if agents.max() == 0:
            raise ValueError("agents: the roster has no agent in any interval")
        object.__setattr__(self, "starts", starts)
        object.__setattr__(self, "agents", agents)
        object.__setattr__(self, "interval", step)

    # ----------------------------------------------------------------- constructors
    @classmethod
    def from_table(cls, table: pd.DataFrame, *, interval: Any = None,
                   timezone: str | None = None, source: str = "roster",
                   csv_lines: bool = False) -> Roster:
        """A roster from a table of ``interval_start`` and ``agents``.

        Args:
            table: One row per interval. ``interval_start``: timestamps with an offset (or
                naive with ``timezone``); ``agents``: numbers ``>= 0``.
            interval: The intervals' length (a timedelta or a string such as ``"30min"``);
                default: the shortest step between consecutive starts.
            timezone: IANA zone of naive ``interval_start`` values.
            source: Name of the table in messages.
            csv_lines: Name rows as CSV file lines (the header is line 1).

        Raises:
            DataError: Listing every problem: a missing column, an unreadable or naive time,
                agents missing, negative or not numbers, intervals that repeat or overlap,
                starts off the interval grid, gaps (give 0 agents where nobody works).
        """
        if not isinstance(table, pd.DataFrame):
            raise TypeError(f"table: expected a DataFrame, got {type(table).__name__}")
        missing = [c for c in (INTERVAL_START, AGENTS) if c not in table.columns]
        if missing:
            raise DataError([Problem(source, c, "column is missing (a roster has "
                                     f"{INTERVAL_START} and {AGENTS})") for c in missing])
        if not len(table):
            raise DataError([Problem(source, None, "the roster has no rows")])
        rows = _Rows(source, csv_lines)
        start = _times(table[INTERVAL_START], timezone, rows)
        raw = table[AGENTS]
        num = (raw.astype("float64") if pd.api.types.is_numeric_dtype(raw)
               and not pd.api.types.is_bool_dtype(raw)
               else pd.to_numeric(raw.astype("string").str.strip(), errors="coerce"))
        a = num.to_numpy(dtype=float)
        rows.add(AGENTS, np.isnan(a), "empty or not a number")
        rows.add(AGENTS, np.isinf(a), "infinite (agents must be finite)")
        rows.add(AGENTS, a < 0, "negative (agents must be >= 0)")
        if rows.problems:
            raise DataError(rows.problems)
        ns = start.asi8
        order = np.argsort(ns, kind="stable")
        step_ns = _interval_ns(interval, ns[order])
        step = pd.Timedelta(step_ns, unit="ns")
        first = ns[order[0]]
        # rows off the grid of the earliest start: inside the interval before them, or not
        off = (ns - first) % step_ns != 0
        prev = np.empty(len(ns), np.int64)  # the start before each row's, in time order
        prev[order] = np.r_[ns[order[0]] - step_ns, ns[order[:-1]]]
        inside = off & (ns - prev < step_ns)
        # rows on the grid: a slot taken twice, or slots missing before them
        on = order[~off[order]]
        slot = (ns[on] - first) // step_ns
        dslot = np.diff(slot)
        repeat, gap = np.zeros(len(ns), bool), np.zeros(len(ns), bool)
        repeat[on[1:][dslot == 0]] = True
        gap[on[1:][dslot > 1]] = True
        rows.add(INTERVAL_START, repeat, "repeating an earlier interval_start (overlapping "
                 "intervals)")
        rows.add(INTERVAL_START, inside, f"overlapping the interval before it (starting less "
                 f"than {step} after it; intervals are {step} long)")
        rows.add(INTERVAL_START, off & ~inside, f"off the {step} grid that starts at "
                 f"{pd.Timestamp(first, tz='UTC').isoformat()} (unaligned intervals)")
        rows.add(INTERVAL_START, gap, f"after a gap (no interval in the {step} slots before "
                 "it; give 0 agents where nobody works)")
        if rows.problems:
            raise DataError(rows.problems)
        if a.max() == 0:
            raise DataError([Problem(source, AGENTS, "the roster has no agent in any "
                                     "interval")])
        return cls(pd.DatetimeIndex(ns[order], tz="UTC"), a[order], step)

    @classmethod
    def weekly(cls, per_hour: Any, start: Any, end: Any, *, timezone: str = "UTC") -> Roster:
        """The dated hourly roster of 168 hour-of-week numbers (Monday 00:00 first, local
        time in ``timezone``) over ``[start, end)`` (both aware, whole local hours)."""
        rates = np.asarray(per_hour, dtype=float)
        if rates.shape != (168,):
            raise ValueError(f"per_hour: expected 168 numbers, got shape {rates.shape}")
        lo, hi = pd.Timestamp(start), pd.Timestamp(end)
        if lo.tz is None or hi.tz is None:
            raise ValueError("start and end: must be time-zone aware")
        edges = pd.date_range(lo.tz_convert("UTC"), hi.tz_convert("UTC"), freq="h",
                              inclusive="left")
        local = edges.tz_convert(timezone)
        how = (local.day_of_week * 24 + local.hour).to_numpy()
        return cls(edges, rates[how], pd.Timedelta(hours=1))

    # ----------------------------------------------------------------- description
    @property
    def start(self) -> pd.Timestamp:
        return pd.Timestamp(self.starts[0])

    @property
    def end(self) -> pd.Timestamp:
        return pd.Timestamp(self.starts[-1] + self.interval)

    @property
    def agent_hours(self) -> float:
        """Agent time on duty over the whole roster, in hours."""
        return float(self.agents.sum() * self.interval / pd.Timedelta(hours=1))

    def scaled(self, factor: float) -> Roster:
        """Every interval's agents times ``factor`` (an effective roster)."""
        f = float(factor)
        if not (np.isfinite(f) and f > 0):
            raise ValueError(f"factor: must be a finite number > 0, got {factor!r}")
        return Roster(self.starts, self.agents * f, self.interval)

    def to_pandas(self) -> pd.DataFrame:
        """``interval_start, agents``: the table form (:meth:`from_table` reads it back)."""
        return pd.DataFrame({INTERVAL_START: self.starts, AGENTS: self.agents})

    def duty_segments(self, level: int) -> tuple[np.ndarray, np.ndarray]:
        """UTC ns ``(starts, ends)`` in which agent ``level`` (0-based) is on duty: the whole
        interval where ``agents >= level + 1``, its first ``agents - level`` fraction where
        ``level < agents < level + 1``."""
        s = self.starts.asi8
        frac = np.clip(self.agents - level, 0.0, 1.0)
        on = frac > 0
        e = s + np.round(frac * self.interval.value).astype(np.int64)
        return s[on], e[on]

    def __repr__(self) -> str:
        return (f"Roster({self.start.isoformat()} to {self.end.isoformat()}, "
                f"{len(self.agents)} x {self.interval}, {self.agents.min():g}-"
                f"{self.agents.max():g} agents, {self.agent_hours:,.1f} agent hours)")

    def _repr_html_(self) -> str:
        return f"<p>{_escape(repr(self))}</p>"


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class _Rows:
    """Row problems of one table, rows shown as CSV lines or positions."""

    def __init__(self, source: str, csv_lines: bool) -> None:
        self.source, self.csv_lines = source, csv_lines
        self.problems: list[Problem] = []

    def add(self, column: str, mask: np.ndarray, rule: str) -> None:
        mask = np.asarray(mask, dtype=bool)
        if not mask.any():
            return
        first = np.flatnonzero(mask)[:5]
        shown = tuple(int(i) + (2 if self.csv_lines else 0) for i in first)
        self.problems.append(Problem(self.source, column, rule, int(mask.sum()), shown,
                                     "lines" if self.csv_lines else "rows"))


def _times(s: pd.Series, timezone: str | None, rows: _Rows) -> pd.DatetimeIndex:
    if isinstance(s.dtype, pd.DatetimeTZDtype):
        t = pd.DatetimeIndex(s).tz_convert("UTC")
    else:
        text = s.astype("string").str.strip()
        has_offset = text.str.contains(r"(?:[Zz]|[+-]\d{2}(?::?\d{2})?)$",
                                       regex=True).fillna(False).to_numpy(bool)
        if pd.api.types.is_datetime64_dtype(s):
            has_offset = np.zeros(len(s), bool)
        out = pd.Series(pd.NaT, index=s.index, dtype="datetime64[ns, UTC]")
        if has_offset.any():
            out[has_offset] = pd.to_datetime(text[has_offset], utc=True, errors="coerce",
                                             format="ISO8601")
        naive = ~has_offset & s.notna().to_numpy()
        readable = np.zeros(len(s), bool)
        if naive.any():
            local = (s[naive] if pd.api.types.is_datetime64_dtype(s) else
                     pd.to_datetime(text[naive], errors="coerce", format="ISO8601"))
            readable[naive] = local.notna().to_numpy()
            if timezone is None:
                rows.add(INTERVAL_START, readable, "time-zone naive (give an offset, or name "
                         "the zone: timezone=)")
            else:
                out[naive] = local.dt.tz_localize(timezone, ambiguous="NaT",
                                                  nonexistent="NaT").dt.tz_convert("UTC")
        t = pd.DatetimeIndex(out)
        bad = np.asarray(t.isna()) & s.notna().to_numpy() & ~(readable & (timezone is None))
        rows.add(INTERVAL_START, bad, "not a timestamp (or a local time the clock skips or "
                 "repeats)")
    rows.add(INTERVAL_START, np.asarray(s.isna()), "empty")
    return t.as_unit("ns")


def _interval_ns(interval: Any, sorted_ns: np.ndarray) -> int:
    if interval is not None:
        try:
            step = pd.Timedelta(interval)
        except (TypeError, ValueError):
            step = pd.NaT
        if pd.isna(step) or step <= pd.Timedelta(0):
            raise ValueError(f"interval: expected a positive duration such as '30min', got "
                             f"{interval!r}")
        return int(step.value)
    diff = np.diff(sorted_ns)
    diff = diff[diff > 0]
    if not diff.size:
        raise ValueError("interval: a roster of one interval (or of one repeated start) needs "
                         "its length, e.g. interval='30min'")
    return int(diff.min())


# ----------------------------------------------------------------------------- busy agents
def busy_agents(conversations: pd.DataFrame, *, interval: Any = "30min",
                start: Any = None, end: Any = None,
                source: str = "conversations") -> pd.Series:
    """Mean number of agents serving in each interval, from ``first_response_at`` and
    ``handle_seconds`` (service taken to start at the first response, as on a live channel).

    A lower bound of the agents on duty: on-duty agents also wait idle, do after-call work and
    take breaks. Compare it with a roster to see the capacity the roster does not deliver.

    Returns:
        A series indexed by interval start (UTC).
    """
    for c in (FIRST_RESPONSE_AT, HANDLE_SECONDS):
        if c not in conversations.columns:
            raise DataError([Problem(source, c, "column is missing (needed for the agents "
                                     "busy)")])
    first = conversations[FIRST_RESPONSE_AT]
    if not isinstance(first.dtype, pd.DatetimeTZDtype):
        raise DataError([Problem(source, FIRST_RESPONSE_AT, "must hold time-zone-aware "
                                 "timestamps")])
    handle = pd.to_numeric(conversations[HANDLE_SECONDS], errors="coerce").to_numpy(float)
    ok = first.notna().to_numpy() & np.isfinite(handle) & (handle > 0)
    s = pd.DatetimeIndex(first[ok]).tz_convert("UTC").as_unit("ns").asi8
    e = s + np.round(handle[ok] * _NS).astype(np.int64)
    step = pd.Timedelta(interval)
    if not len(s) and (start is None or end is None):
        raise DataError([Problem(source, FIRST_RESPONSE_AT, "no answered conversation with a "
                                 "handle time: give start and end for a window of zeros")])
    lo = pd.Timestamp(start) if start is not None else pd.Timestamp(s.min(), tz="UTC")
    hi = pd.Timestamp(end) if end is not None else pd.Timestamp(e.max(), tz="UTC")
    grid = pd.date_range(lo.floor(step), hi, freq=step, inclusive="left")
    g = np.append(grid.as_unit("ns").asi8, grid[-1].value + step.value)
    # busy time in [g_i, g_{i+1}): sum over services of overlap = F(g_{i+1}) - F(g_i), where
    # F(x) = sum(clip(x - s, 0, e - s)), computed with sorted starts and ends
    ss, es = np.sort(s), np.sort(e)
    cs, ce = np.r_[0, np.cumsum(ss)], np.r_[0, np.cumsum(es)]

    def served_by(x: np.ndarray) -> np.ndarray:
        i = np.searchsorted(ss, x, side="right")
        j = np.searchsorted(es, x, side="right")
        # started by x: (i x - sum s); ended by x: minus (j x - sum e)
        return (i * x - cs[i]).astype(float) - (j * x - ce[j]).astype(float)

    busy = np.diff(served_by(g)) / step.value
    return pd.Series(busy, index=grid, name="busy_agents")


# ----------------------------------------------------------------------------- calibration
_STATISTICS = ("mean_wait", "service_level", "p_abandon")


@dataclass(frozen=True, repr=False)
class CapacityCalibration:
    """The multiplier on a roster under which the desk simulation matches observed waits.

    Attributes:
        multiplier: Effective agents per rostered agent (1 - shrinkage).
        ci_low, ci_high: Its interval: multipliers whose simulated statistic is within the
            replications' prediction interval of the observed one.
        statistic: ``"mean_wait"`` (seconds, answered conversations), ``"service_level"``
            (share of all offered answered within ``target_seconds``) or ``"p_abandon"``.
        observed: The statistic in the data.
        simulated: The mean simulated statistic at ``multiplier``.
        simulated_sd: Its standard deviation across replications.
        replications: Replications per evaluated multiplier (common random numbers).
        confidence: Level of the interval.
        roster: The rostered (nominal) roster.
        busy_agents: Mean agents serving while the roster had agents on duty, from the data.
        curve: Every evaluated multiplier: ``multiplier, mean, sd``.
        target_seconds: The service-level target (``service_level`` only).
    """

    multiplier: float
    ci_low: float
    ci_high: float
    statistic: str
    observed: float
    simulated: float
    simulated_sd: float
    replications: int
    confidence: float
    roster: Roster
    busy_agents: float
    curve: pd.DataFrame
    target_seconds: float | None = None

    @property
    def shrinkage(self) -> float:
        """``1 - multiplier``: the share of rostered capacity not delivered."""
        return 1.0 - self.multiplier

    @property
    def effective_roster(self) -> Roster:
        """The roster times the multiplier: what to plan and replay with."""
        return self.roster.scaled(self.multiplier)

    @property
    def rostered_agents(self) -> float:
        """Mean rostered agents over the intervals with anyone on duty."""
        a = self.roster.agents
        return float(a[a > 0].mean())

    def to_pandas(self) -> pd.DataFrame:
        """One row with every figure of the calibration."""
        return pd.DataFrame([{
            "statistic": self.statistic, "observed": self.observed,
            "simulated": self.simulated, "simulated_sd": self.simulated_sd,
            "multiplier": self.multiplier, "ci_low": self.ci_low, "ci_high": self.ci_high,
            "shrinkage": self.shrinkage, "rostered_agents": self.rostered_agents,
            "effective_agents": self.rostered_agents * self.multiplier,
            "busy_agents": self.busy_agents, "replications": self.replications,
            "confidence": self.confidence}])

    def summary(self) -> str:
        name = ("mean wait of answered (s)" if self.statistic == "mean_wait"
                else "share abandoned" if self.statistic == "p_abandon"
                else f"share answered within {self.target_seconds or 0:g} s")
        eff = self.rostered_agents * self.multiplier
        return "\n".join([
            f"Effective capacity: {self.multiplier:.3f} x the roster "
            f"[{self.ci_low:.3f}, {self.ci_high:.3f}] ({self.confidence:.0%}; shrinkage "
            f"{self.shrinkage:.1%})",
            f"  matched: {name}, observed {self.observed:.4g}, simulated {self.simulated:.4g} "
            f"(sd {self.simulated_sd:.3g} over {self.replications} replications)",
            f"  agents on duty: {self.rostered_agents:.2f} rostered, {eff:.2f} effective, "
            f"{self.busy_agents:.2f} busy in the data (mean over rostered intervals)",
            "  plan with calibration.effective_roster (the roster times the multiplier)"])

    def _repr_html_(self) -> str:
        return (f"<p>{_escape(repr(self))}</p>"
                + self.to_pandas().to_html(index=False, float_format="{:.4g}".format))

    def __repr__(self) -> str:
        return (f"CapacityCalibration({self.multiplier:.3f} x roster [{self.ci_low:.3f}, "
                f"{self.ci_high:.3f}], {self.statistic} observed {self.observed:.4g})")


def _observed(conv: pd.DataFrame, window: tuple[int, int], *, statistic: str,
              target: float | None, calendar: BusinessCalendar, source: str) -> float:
    created = pd.DatetimeIndex(conv[CREATED_AT]).as_unit("ns").asi8
    keep = (created >= window[0]) & (created < window[1])
    c = conv.loc[keep]
    if ABANDONED_AT not in c.columns:
        c = c.assign(**{ABANDONED_AT: pd.Series(pd.NaT, index=c.index,
                                                dtype="datetime64[ns, UTC]")})
    w, gone, unresolved = waits(c, calendar=calendar, source=source)
    if statistic == "mean_wait":
        if not (~gone).any():
            raise DataError([Problem(source, FIRST_RESPONSE_AT, "no answered conversation in "
                                     "the calibration window")])
        return float(w[~gone].mean())
    offered = len(w) + unresolved
    if statistic == "p_abandon":
        return float(gone.sum() / offered)
    assert target is not None
    return float(((~gone) & (w <= target)).sum() / offered)


def calibrate_capacity(
    conversations: pd.DataFrame,
    roster: Roster,
    assignments: pd.DataFrame | None = None,
    *,
    statistic: Literal["mean_wait", "service_level", "p_abandon"] = "mean_wait",
    target_seconds: float | None = None,
    patience_seconds: float | PatienceEstimate | None = None,
    calendar: BusinessCalendar | None = None,
    policies: Mapping[str, FrtPolicy] | None = None,
    fast_arms: Sequence[str] = (CONTROL_ARM,),
    unassigned_arm: str = CONTROL_ARM,
    start: Any = None,
    end: Any = None,
    warmup: float | _dt.timedelta | str = 0.0,
    bounds: tuple[float, float] = (0.05, 2.0),
    replications: int = 20,
    confidence: float = 0.95,
    rng: int | np.random.Generator | None = None,
) -> CapacityCalibration:
    """Find the multiplier on ``roster`` whose desk replay matches an observed statistic.

    The conversations are replayed as they came (their arrivals, arms and the answered ones'
    handle times; abandoned ones draw a handle time from the answered ones) on
    ``roster.scaled(m)``; ``replications`` replications differ in their patience draws (and
    those handle times), and every ``m`` uses the same draws (common random numbers), so the
    mean simulated statistic ``g(m)`` is smooth and monotone in ``m`` up to the order of
    events. :func:`scipy.optimize.brentq` solves ``g(m) = observed`` within ``bounds``. The
    interval solves ``g(m) = observed -+ h`` with ``h = t sd sqrt(1 + 1/R)``, the prediction
    half-width of one more run of the desk (the observed window) from the ``R`` replications'
    spread ``sd`` at the estimate (Law 2015, sections 9.4 and 11.2).

    Args:
        conversations: A canonical conversations table with ``created_at``,
            ``first_response_at``, ``handle_seconds`` and, for a desk where customers hang
            up, ``abandoned_at``.
        roster: The rostered agents (:class:`Roster`) over the window.
        assignments: Arms of customers (priorities); default: all in ``unassigned_arm``.
        statistic: What to match: ``"mean_wait"`` (answered conversations' mean wait, the
            ASA), ``"service_level"`` (share of offered answered within ``target_seconds``)
            or ``"p_abandon"``.
        target_seconds: The service-level target (``service_level`` only).
        patience_seconds: Mean exponential patience (business seconds) or a
            :class:`~frt_experiments.staffing.patience.PatienceEstimate`; ``None``: abandoned
            conversations leave at their observed time, the others never do.
        calendar, policies, fast_arms, unassigned_arm, start, end, warmup: As
            :func:`~frt_experiments.staffing.desk.simulate_desk` (waits in the calendar's
            business seconds; default 24/7 UTC, the roster says when agents work).
        bounds: The multipliers searched.
        replications: Replications per multiplier.
        confidence: Level of the interval.
        rng: Seed or generator.

    Returns:
        A :class:`CapacityCalibration`; its ``summary()`` is the report to read before
        planning with ``effective_roster``.

    Raises:
        ValueError: The observed statistic is outside what the multipliers in ``bounds``
            produce (naming both ends), or an argument is invalid.
    """
    from frt_experiments.staffing import desk as _desk  # noqa: PLC0415 (desk imports roster)

    if statistic not in _STATISTICS:
        raise ValueError(f"statistic: expected one of {_STATISTICS}, got {statistic!r}")
    if statistic == "service_level" and (
            target_seconds is None or not (np.isfinite(float(target_seconds))
                                           and target_seconds >= 0)):
            raise ValueError(f"target_seconds: a number >= 0 is required with "
                             f"statistic='service_level', got {target_seconds!r}")
    if not isinstance(roster, Roster):
        raise TypeError(f"roster: expected a Roster, got {type(roster).__name__}")
    lo_b, hi_b = (float(b) for b in bounds)
    if not 0 < lo_b < hi_b:
        raise ValueError(f"bounds: expected 0 < low < high, got {bounds!r}")
    if isinstance(replications, bool) or not isinstance(replications, int) or replications < 2:
        raise ValueError(f"replications: must be an integer >= 2 (the interval needs their "
                         f"spread), got {replications!r}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence: must be in (0, 1), got {confidence!r}")
    gen = np.random.default_rng(rng)
    setup = _desk._prepare(conversations, assignments, calendar=calendar, policies=policies,
                           fast_arms=fast_arms, unassigned_arm=unassigned_arm,
                           patience_seconds=patience_seconds, start=start, end=end,
                           warmup=warmup, replications=replications, rng=gen,
                           resample="none")
    observed = _observed(conversations, (setup.measure_from, setup.end), statistic=statistic,
                         target=target_seconds, calendar=setup.calendar,
                         source="conversations")
    cache: dict[float, np.ndarray] = {}

    def per_replication(m: float) -> np.ndarray:
        if m not in cache:
            staff = _desk._staff(roster.scaled(m), setup)
            cache[m] = np.array([_simulated(s, _desk._run(s, staff), statistic, target_seconds)
                                 for s in setup.samples])
        return cache[m]

    def g(m: float) -> float:
        return float(per_replication(m).mean())

    g_lo, g_hi = g(lo_b), g(hi_b)
    # mean wait and abandonment fall with capacity, the service level rises
    sign = 1.0 if statistic == "service_level" else -1.0
    if not (min(g_lo, g_hi) <= observed <= max(g_lo, g_hi)):
        raise ValueError(
            f"bounds: the observed {statistic} ({observed:.4g}) is outside what the roster "
            f"times {lo_b:g} to {hi_b:g} produces ({g_lo:.4g} to {g_hi:.4g}); widen bounds, or "
            "check the roster, the patience and the window")

    def solve(level: float) -> float:
        f_lo, f_hi = g_lo - level, g_hi - level
        if f_lo * f_hi > 0:  # the level is beyond what the bounds reach
            return lo_b if sign * (level - g_lo) <= 0 else hi_b
        return float(optimize.brentq(lambda m: g(m) - level, lo_b, hi_b, xtol=1e-4))

    m_hat = solve(observed)
    at = per_replication(m_hat)
    sd = float(at.std(ddof=1))
    R = len(at)
    half = float(stats.t.ppf(0.5 + confidence / 2, R - 1)) * sd * np.sqrt(1.0 + 1.0 / R)
    ends = sorted((solve(observed - half), solve(observed + half)))
    curve = pd.DataFrame([{"multiplier": m, "mean": float(v.mean()),
                           "sd": float(v.std(ddof=1))} for m, v in sorted(cache.items())])
    busy = busy_agents(conversations, interval=roster.interval, start=roster.start,
                       end=roster.end)
    on = pd.Series(roster.agents, index=roster.starts).reindex(busy.index).fillna(0) > 0
    return CapacityCalibration(
        float(m_hat), float(ends[0]), float(ends[1]), statistic, observed, float(at.mean()),
        sd, R, float(confidence), roster, float(busy[on].mean()) if on.any() else float("nan"),
        curve, float(target_seconds) if target_seconds is not None else None)


def _simulated(sample: Any, start: np.ndarray, statistic: str, target: float | None) -> float:
    m = sample.measured
    wait = start[m] - sample.b[m]
    answered = np.isfinite(wait)
    if statistic == "mean_wait":
        return float(wait[answered].mean()) if answered.any() else float("inf")
    if statistic == "p_abandon":
        return float((~answered).mean())
    assert target is not None
    return float((answered & (wait <= target + 1e-9)).mean())
