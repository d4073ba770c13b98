"""Synthetic conversations: arrivals, handle time, first response and CSAT ratings.

Per customer, the count over the window is Poisson(rate x months x questions multiplier); the
customer's attributes are repeated onto its conversations with :func:`numpy.repeat`.

- Arrivals: a day of the window and an hour of the day are drawn by inverse-CDF sampling of
  the scenario's day-of-week and hour-of-day profiles (the hour-of-week profile is their
  product) *in the customer's time zone*, plus a uniform second within the hour; then
  converted to UTC. The few arrivals that the zone offset pushes outside the window are
  wrapped around it.
- First response: FRT in business hours is LogNormal(log(fast_median_hours), fast_sigma) in
  a ``fast`` arm; in an arm with a deadline (``frt.policies``) the desk holds the conversation
  and answers it a log-normal slack before the deadline (a share ``slow_late_share`` slip the
  slack past it), never sooner than the fast arm would have (:mod:`~frt_experiments.simulate.
  first_response`, with the closed-form distribution). The FRT is added to the creation time
  on the desk's business calendar. Conversations created out of hours wait for the desk to
  open, so calendar FRT exceeds business FRT as in real helpdesk data.
- Handle time: LogNormal(log(median), sigma) x the customer's factor x the arm's multiplier,
  whole seconds.
- Follow-ups (``conversations.followup``): each conversation brings another with a
  probability that depends on its FRT (:mod:`~frt_experiments.simulate.effects`); the
  follow-up's arrival is drawn from the same profile as any conversation's (the model counts
  them; it does not tie a follow-up's time to its parent's answer).
- CSAT: rated with probability ``survey_response``; satisfied with the dose-response of
  :mod:`~frt_experiments.simulate.effects` on the business-hour FRT actually received (and the
  conversation's difficulty, when ``csat.difficulty`` is set); a
  satisfied rating is 5 with probability ``satisfied_five`` else 4, an unsatisfied one is
  1, 2 or 3 (0.4, 0.25, 0.35).

Hook for the desk simulation (staffing): pass ``frt_model`` to :func:`draw_conversations` (or
to :func:`~frt_experiments.simulate.simulate`), a callable
``frt_model(created_at: pandas.Series[UTC], slow: numpy.ndarray[bool]) -> business seconds``
that returns one FRT per conversation, e.g. the waits of a desk simulation with the two queues;
the CSAT dose-response then follows those FRTs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from frt_experiments.simulate.effects import followup_probability, satisfaction_probability
from frt_experiments.simulate.first_response import deadlines, draw_frt_hours
from frt_experiments.simulate.scenario import Scenario

__all__ = ["DeskClock", "draw_arrivals", "draw_conversations"]

_UNSATISFIED_CDF = np.cumsum([0.4, 0.25, 0.35])
_NS = 1_000_000_000


class DeskClock:
    """Business time of the desk: weekdays between the open and close hour, minus holidays.

    A vectorised business clock: ``to_business`` maps UTC nanoseconds to business seconds
    since an epoch (a business day before the window), ``from_business`` inverts it, so adding
    a business duration is ``from_business(to_business(t) + d)``. Used when
    :mod:`frt_experiments.calendar` is not available.
    """

    def __init__(self, scenario: Scenario) -> None:
        f = scenario.frt
        self.tz = f.timezone
        self.open_s = f.open_hour * 3600.0
        self.length = (f.close_hour - f.open_hour) * 3600.0
        start = scenario.start.tz_convert(self.tz).tz_localize(None).normalize()
        end = scenario.end + pd.Timedelta(days=60)
        days: list[np.datetime64] = []
        if f.holidays:
            import holidays as holidays_lib  # noqa: PLC0415 -- only when holidays are asked for

            years = range(start.year - 1, end.year + 1)
            try:
                days = [np.datetime64(d, "D")
                        for d in holidays_lib.country_holidays(f.holidays, years=years)]
            except NotImplementedError as exc:
                raise ValueError(f"frt.holidays: unknown country code {f.holidays!r}") from exc
        self.holidays = np.array(sorted(days), dtype="datetime64[D]")
        first = (start - pd.Timedelta(days=7)).to_datetime64().astype("datetime64[D]")
        self.epoch = np.busday_offset(first, 0, roll="forward", holidays=self.holidays)

    def to_business(self, utc_ns: np.ndarray) -> np.ndarray:
        local = (pd.DatetimeIndex(utc_ns.astype("datetime64[ns]"), tz="UTC")
                 .tz_convert(self.tz).tz_localize(None).to_numpy())
        day = local.astype("datetime64[D]")
        tod = (local - day).astype("int64") / _NS
        before = np.busday_count(self.epoch, day, holidays=self.holidays)
        open_day = np.is_busday(day, holidays=self.holidays)
        return before * self.length + open_day * np.clip(tod - self.open_s, 0, self.length)

    def from_business(self, seconds: np.ndarray) -> np.ndarray:
        k = np.floor(seconds / self.length).astype("int64")
        rem = seconds - k * self.length
        day = np.busday_offset(self.epoch, k, roll="forward", holidays=self.holidays)
        local = day.astype("datetime64[ns]") + np.round(
            (self.open_s + rem) * _NS).astype("int64").astype("timedelta64[ns]")
        utc = (pd.DatetimeIndex(local).tz_localize(self.tz, ambiguous=np.zeros(len(local), bool),
                                                   nonexistent="shift_forward")
               .tz_convert("UTC").tz_localize(None).to_numpy())
        return utc.astype("int64")


def _inverse_cdf(weights: np.ndarray, u: np.ndarray) -> np.ndarray:
    cdf = np.cumsum(weights) / np.sum(weights)
    return np.minimum(np.searchsorted(cdf, u, side="right"), len(weights) - 1)


def draw_arrivals(scenario: Scenario, tz_index: np.ndarray,
                  rng: np.random.Generator) -> np.ndarray:
    """Creation times (UTC nanoseconds, whole seconds) for conversations of given zones."""
    n = tz_index.size
    c = scenario.conversations
    u_day, u_hour = rng.random(n), rng.random(n)
    sec = rng.integers(0, 3600, n)
    hour = _inverse_cdf(np.asarray(c.hour_weights), u_hour)
    start, end = scenario.start, scenario.end
    out = np.empty(n, dtype="int64")
    for i, tz in enumerate(scenario.population.timezones):
        mask = tz_index == i
        if not mask.any():
            continue
        local0 = start.tz_convert(tz).tz_localize(None).normalize()
        n_days = int(np.ceil((end - start) / pd.Timedelta(days=1)))
        days = local0.to_datetime64().astype("datetime64[D]") + np.arange(n_days)
        dow = (days.astype("int64") + 3) % 7  # 1970-01-01 was a Thursday (Mon = 0)
        d = _inverse_cdf(np.asarray(c.day_weights)[dow], u_day[mask])
        local = (days[d].astype("datetime64[ns]")
                 + (hour[mask] * 3600 + sec[mask]).astype("timedelta64[s]"))
        utc = (pd.DatetimeIndex(local).tz_localize(tz, ambiguous=np.zeros(local.size, bool),
                                                   nonexistent="shift_forward")
               .tz_convert("UTC").tz_localize(None).to_numpy())
        out[mask] = utc.astype("int64")
    s0, length = start.value, end.value - start.value
    return s0 + np.mod(out - s0, length) // _NS * _NS


@dataclass(frozen=True)
class DrawnConversations:
    """Per-conversation arrays (numpy), sorted by creation time."""

    customer: np.ndarray  # customer row index
    created_ns: np.ndarray
    first_response_ns: np.ndarray
    frt_business_seconds: np.ndarray
    handle_seconds: np.ndarray
    rating: np.ndarray  # 0 = unrated, 1..5


def _add_business(scenario: Scenario, created_ns: np.ndarray,
                  seconds: np.ndarray) -> np.ndarray:
    calendar = _real_calendar(scenario)
    created = pd.Series(pd.DatetimeIndex(created_ns.astype("datetime64[ns]"), tz="UTC"))
    done = calendar.add_business_time(created, pd.to_timedelta(seconds, unit="s"))
    return pd.DatetimeIndex(done).tz_convert("UTC").as_unit("ns").asi8


def _real_calendar(scenario: Scenario) -> Any:
    """The scenario's desk as the toolkit's BusinessCalendar (issue 3).

    A zone, hours or holiday code the calendar cannot use is an error naming ``frt``; the
    simulator never falls back quietly to a different clock.
    """
    from frt_experiments.calendar import BusinessCalendar  # noqa: PLC0415

    f = scenario.frt
    hours = f"Mon-Fri {int(f.open_hour):02d}:{int(f.open_hour % 1 * 60):02d}-" \
            f"{int(f.close_hour):02d}:{int(f.close_hour % 1 * 60):02d}"
    try:
        return BusinessCalendar(f.timezone, hours=hours, holidays=f.holidays or None)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"frt: the scenario's desk calendar (timezone {f.timezone!r}, hours "
                         f"{hours!r}, holidays {f.holidays!r}) is not usable: {exc}") from exc


def draw_conversations(
    scenario: Scenario, *, rate: np.ndarray, propensity: np.ndarray,
    handle_factor: np.ndarray, tz_index: np.ndarray, treated: np.ndarray | None = None,
    rng: np.random.Generator,
    frt_model: Callable[[pd.Series, np.ndarray], np.ndarray] | None = None,
    arm: np.ndarray | None = None,
    questions_multiplier: np.ndarray | None = None,
    csat_shift: np.ndarray | None = None,
) -> DrawnConversations:
    """Draw every conversation of the window for customers with the given latent attributes.

    ``arm`` is each customer's position in ``effects.arms`` (-1 for a customer not assigned,
    answered as the first arm): its FRT follows that arm's policy, and every arm but the first
    gets the effects' question and handle-time multipliers. ``treated`` (True for the second
    arm of two) is the older spelling, used when ``arm`` is not given. ``frt_model`` gets, per
    conversation, whether its customer is in an arm other than the first.

    Primary conversations are drawn first (counts, arrivals, difficulty when it is on, FRT);
    with ``conversations.followup`` each conversation then brings a follow-up with the
    probability of :func:`~frt_experiments.simulate.effects.followup_probability` at its FRT,
    drawn as a new generation (arrival from the same profile, FRT of the customer's arm), until
    a generation brings none.

    ``questions_multiplier`` and ``csat_shift`` (per customer, for every arm but the first;
    :mod:`~frt_experiments.simulate.heterogeneity`) replace ``effects.questions`` and shift the
    satisfaction logit when given; left out, the draws are those of the homogeneous model.
    """
    e, c, f, cs = scenario.effects, scenario.conversations, scenario.frt, scenario.csat
    if arm is None:
        if treated is None:
            raise TypeError("draw_conversations: give arm (or treated)")
        arm = np.asarray(treated, dtype=bool).astype(np.int64)
    arm = np.where(np.asarray(arm) < 0, 0, arm)
    later = arm >= 1  # every arm but the first (control)
    mult = np.where(later, e.questions if questions_multiplier is None
                    else questions_multiplier, 1.0)
    counts = rng.poisson(rate * scenario.window.months * mult)
    confounded = f.difficulty_sigma != 0 or cs.difficulty != 0
    generation = np.repeat(np.arange(rate.size), counts)
    owners, times, frts, difficulty = [], [], [], []
    while True:
        g = generation.size
        created_g = draw_arrivals(scenario, tz_index[generation], rng)
        z = rng.standard_normal(g) if confounded else None
        slow = later[generation]
        if frt_model is None:
            frt_g = np.round(draw_frt_hours(f, slow, rng, deadline=deadlines(f, arm[generation]),
                                            difficulty=z) * 3600.0)
        else:
            frt_g = np.asarray(frt_model(pd.Series(pd.DatetimeIndex(
                created_g.astype("datetime64[ns]"), tz="UTC")), slow), dtype=float)
            if frt_g.shape != (g,) or not np.all(np.isfinite(frt_g) & (frt_g >= 0)):
                raise ValueError(f"frt_model: must return {g} finite business seconds >= 0, "
                                 f"got shape {frt_g.shape}")
        owners.append(generation)
        times.append(created_g)
        frts.append(frt_g)
        if z is not None:
            difficulty.append(z)
        if c.followup <= 0 or g == 0:
            break
        back = rng.random(g) < followup_probability(frt_g / 3600.0, followup=c.followup,
                                                    slope=c.followup_slope)
        generation = generation[back]
        if generation.size == 0:
            break
    if len(owners) == 1:
        owner, created, frt_s = owners[0], times[0], frts[0]
    else:
        owner, created, frt_s = (np.concatenate(x) for x in (owners, times, frts))
    m = owner.size
    slow = later[owner]
    first = _add_business(scenario, created, frt_s)
    handle = np.maximum(1.0, np.round(
        c.handle_median_minutes * 60 * handle_factor[owner] * np.where(slow, e.handle_time, 1.0)
        * np.exp(c.handle_sigma * rng.standard_normal(m))))
    rated = rng.random(m) < c.survey_response
    u = propensity[owner]
    if cs.difficulty != 0:
        u = u - cs.difficulty * np.concatenate(difficulty)
    if csat_shift is not None:
        u = u + np.where(slow, np.asarray(csat_shift, dtype=float)[owner], 0.0)
    p = satisfaction_probability(frt_s / 3600.0, u, intercept=cs.intercept, slope=cs.slope)
    sat = rng.random(m) < p
    five = rng.random(m) < c.satisfied_five
    low = np.searchsorted(_UNSATISFIED_CDF, rng.random(m), side="right") + 1
    rating = np.where(sat, np.where(five, 5, 4), np.minimum(low, 3)) * rated
    order = np.argsort(created, kind="stable")
    return DrawnConversations(owner[order], created[order], first[order], frt_s[order],
                              handle[order], rating[order].astype("int8"))
