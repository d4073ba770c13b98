"""Simulation scenarios: every parameter of the generative model, read from TOML and validated.

A scenario file has one table per part of the model (all optional; a missing key keeps its
default)::

    name = "published"
    description = "..."

    [window]        start, months, customers, seed
    [population]    spend, contact rate, satisfaction propensity, time zones
    [eligibility]   max_spend (only customers at or below it are assigned)
    [revenue]       churn, contraction, expansion per month
    [conversations] channel, handle time, survey response, arrival shape
    [frt]           the desk calendar, each arm's first-response policy and distribution
    [csat]          the dose-response of satisfaction on business-hour FRT
    [effects]       the arms and their weights; the question, handle-time and churn
                    multipliers of every arm but the first (control)
    [desk]          the desk in the loop: headcounts of the status quo (and trial) and of
                    the rollout, a roster, the fast target, shared or split agent pools
    [heterogeneity] effects that differ by segment, spend and contact rate (presets
                    ``hte``; ``hte-null`` the same average effects for everyone)

The desk in the loop (``desk.agents > 0``, preset ``published-desk``): first responses come
from the desk simulation (:func:`frt_experiments.staffing.simulate_desk`) on the given
headcount and roster instead of each arm's policy draw, so FRT depends on load
(:mod:`~frt_experiments.simulate.desk_loop`, :func:`~frt_experiments.simulate.simulate_worlds`).

Arms and policies: ``effects.arms`` names two arms or more (control first) and
``frt.policies`` gives each its first-response policy, in the same order: ``"fast"`` (the fast
draw, never held) or a deadline in business hours the desk holds conversations to: ``"4h"``,
``"90m"``, ``"4 business hours"``, ``"one_business_day"`` (one open day, ``close_hour -
open_hour`` business hours), ``"two_business_days"``, ``"3_business_days"``
(:mod:`~frt_experiments.simulate.first_response` has the model). Without ``frt.policies`` the
two arms are ``"fast"`` and ``frt.slow_policy`` (the model before K arms, draw for draw).

Responses to the realized FRT (all off by default, drawing no random number when off;
:mod:`~frt_experiments.simulate.effects`): satisfaction (``[csat]``), follow-up questions
(``conversations.followup``, ``conversations.followup_slope``), churn
(``revenue.churn_per_log_hour``), and a per-conversation difficulty that slows the answer and
lowers satisfaction (``frt.difficulty_sigma``, ``csat.difficulty``: the confounder of an
observational FRT curve).

Unknown sections or keys and out-of-range values raise
:class:`~frt_experiments.errors.ScenarioError` naming the file and the key. Presets
(``published``, ``aa``, ``harsh``, ``dose``, ``published-desk``, ``hte``, ``hte-null``) ship
inside the package (``frt_experiments/scenarios``) and are loaded by name.
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass, field, fields, replace
from importlib import resources
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pandas as pd

from frt_experiments._limits import (
    TIMESTAMP_RANGE,
    TIMESTAMP_RANGE_TEXT,
    check_timestamp_text,
    parse_toml,
    read_toml,
)
from frt_experiments.errors import ScenarioError, shorten, shown

__all__ = ["PRESETS", "Scenario", "load_scenario", "scenario_to_toml"]

#: Preset names shipped with the package.
PRESETS = ("aa", "dose", "harsh", "hte", "hte-null", "published", "published-desk")
#: Values of ``frt.slow_policy``: the slow arm held to one business day, or A/A (as fast).
SLOW_POLICIES = ("one_business_day", "fast")
#: The forms of an arm's policy in ``frt.policies`` (the names of
#: :func:`frt_experiments.policy.policy_from_spec` whose deadline is a fixed business time).
POLICY_FORMS = ("fast", "<N>h", "<N>m", "<N> business hours", "one_business_day",
                "two_business_days", "<N>_business_days")

_TARGET = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(h|hours?|business[ _]hours?|m|min|minutes?|"
                     r"business[ _]minutes?)\s*$", re.IGNORECASE)
_WORD_DAYS = {"one_business_day": 1, "next_business_day": 1, "two_business_days": 2,
              "three_business_days": 3, "four_business_days": 4, "five_business_days": 5}
_N_DAYS = re.compile(r"^\s*(\d+)[ _]business[ _]days?\s*$", re.IGNORECASE)


def policy_hours(policy: str, day_hours: float) -> float | None:
    """The deadline of an arm's policy in business hours (``None`` for ``"fast"``), with
    ``day_hours`` business hours in an open day.

    Raises:
        ValueError: Not one of :data:`POLICY_FORMS`, or a deadline that is not positive.
    """
    text = policy.strip() if isinstance(policy, str) else ""
    key = text.casefold()
    if key == "fast":
        return None
    m = _TARGET.match(text)
    if m:
        value, unit = float(m.group(1)), m.group(2).casefold()
        minutes = unit.startswith("m") or "minute" in unit
        hours = value / 60 if minutes else value
        if hours > 0:
            return hours
        raise ValueError(f"policy {shown(policy)}: the deadline must be positive")
    if key in _WORD_DAYS:
        return _WORD_DAYS[key] * day_hours
    m = _N_DAYS.match(text)
    if m and int(m.group(1)) >= 1:
        return int(m.group(1)) * day_hours
    raise ValueError(f"policy {shown(policy)} is not one of {', '.join(POLICY_FORMS)}")


def _f(default: Any, lo: float | None = None, hi: float | None = None, *,
       lo_open: bool = False, hi_open: bool = False, doc: str = "",
       kind: type | None = None) -> Any:
    """A field with its bounds, its doc and, for a list whose default is empty, the type of
    its entries (``kind``; else the type of the default's first entry, or ``str``)."""
    return field(default=default, metadata={"lo": lo, "hi": hi, "lo_open": lo_open,
                                            "hi_open": hi_open, "doc": doc, "kind": kind})


@dataclass(frozen=True)
class Window:
    start: str = _f("2025-01-06T00:00:00+00:00", doc="window start, ISO 8601 with offset")
    months: float = _f(5.0, 0.0, 60.0, lo_open=True, doc="window length in months")
    customers: int = _f(20_000, 1, 100_000_000, doc="customers simulated")
    pre_months: float = _f(3.0, 0.0, 60.0, doc="pre-period length for covariates")


@dataclass(frozen=True)
class Population:
    spend_median: float = _f(60.0, 0.0, None, lo_open=True, doc="median monthly spend")
    spend_sigma: float = _f(1.2, 0.0, 5.0, doc="log-normal sigma of monthly spend")
    contact_rate: float = _f(0.7, 0.0, 100.0, doc="mean conversations per customer-month")
    contact_shape: float = _f(1.5, 0.0, None, lo_open=True,
                              doc="gamma shape of the contact rate (smaller: more dispersed)")
    satisfaction_sd: float = _f(0.8, 0.0, 5.0, doc="sd of the customer random effect (logit)")
    handle_sd: float = _f(0.3, 0.0, 3.0, doc="sd of the customer log handle-time factor")
    timezones: tuple[str, ...] = _f(("America/New_York", "America/Chicago",
                                     "America/Los_Angeles", "Europe/London"))
    timezone_weights: tuple[float, ...] = _f((0.4, 0.2, 0.25, 0.15))
    segments: tuple[str, ...] = _f(("smb", "mid"))
    segment_weights: tuple[float, ...] = _f((0.8, 0.2))


@dataclass(frozen=True)
class Eligibility:
    max_spend: float = _f(100.0, 0.0, None, doc="only customers at or below it are assigned")
    experiment: str = _f("frt-low-spend")
    salt: str = _f("frt-low-spend-2025")


@dataclass(frozen=True)
class Revenue:
    churn: float = _f(0.015, 0.0, 1.0, doc="monthly churn probability")
    contraction: float = _f(0.02, 0.0, 1.0, doc="monthly probability of a contraction")
    contraction_size: float = _f(0.3, 0.0, 1.0, doc="relative size of a contraction")
    expansion: float = _f(0.05, 0.0, 1.0, doc="monthly probability of an expansion")
    expansion_size: float = _f(0.3, 0.0, 10.0, doc="relative size of an expansion")
    churn_per_log_hour: float = _f(0.0, 0.0, 1.0,
                                   doc="churn hazard added per log(1 + business hours) of each "
                                       "conversation's FRT (0: churn ignores the FRT)")


@dataclass(frozen=True)
class Conversations:
    channel: str = _f("email")
    handle_median_minutes: float = _f(9.0, 0.0, None, lo_open=True)
    handle_sigma: float = _f(0.8, 0.0, 5.0)
    survey_response: float = _f(0.25, 0.0, 1.0, doc="share of conversations rated")
    satisfied_five: float = _f(0.7, 0.0, 1.0, doc="share of satisfied ratings that are 5")
    day_weights: tuple[float, ...] = _f((1.0, 1.0, 1.0, 1.0, 0.9, 0.35, 0.3),
                                        doc="relative volume Mon..Sun (customer's zone)")
    hour_weights: tuple[float, ...] = _f(
        (0.2, 0.15, 0.1, 0.1, 0.1, 0.2, 0.4, 0.8, 1.4, 1.9, 2.0, 2.0,
         1.8, 1.9, 2.0, 1.9, 1.7, 1.3, 1.0, 0.9, 0.8, 0.7, 0.5, 0.3),
        doc="relative volume by local hour 0..23")
    followup: float = _f(0.0, 0.0, 1.0, hi_open=True,
                         doc="probability that a conversation answered at once brings a "
                             "follow-up one (0: none)")
    followup_slope: float = _f(0.0, -20.0, 20.0,
                               doc="logit drop of the follow-up probability per "
                                   "log(1 + business hours) of FRT")


@dataclass(frozen=True)
class Frt:
    timezone: str = _f("America/New_York", doc="the desk's time zone")
    open_hour: float = _f(9.0, 0.0, 24.0)
    close_hour: float = _f(17.0, 0.0, 24.0)
    holidays: str = _f("US", doc="country code for public holidays, or empty for none")
    fast_median_hours: float = _f(2.0, 0.0, None, lo_open=True,
                                  doc="median business-hour FRT of the fast arm")
    fast_sigma: float = _f(0.6, 0.0, 5.0, doc="log-normal sigma of the fast arm's FRT")
    slow_policy: str = _f("one_business_day",
                          doc="slow arm's FRT: 'one_business_day' (held until shortly before "
                              "its deadline) or 'fast' (A/A: the fast arm's FRT)")
    slow_slack_median_hours: float = _f(1.0, 0.0, None, lo_open=True,
                                        doc="median business hours answered before the "
                                            "one-business-day deadline (log-normal slack)")
    slow_slack_sigma: float = _f(0.75, 0.0, 5.0, doc="log-normal sigma of the slack")
    slow_late_share: float = _f(0.05, 0.0, 1.0,
                                doc="share of held conversations that slip past the deadline "
                                    "(answered the slack after it instead of before)")
    policies: tuple[str, ...] = _f((), doc="each arm's policy, parallel to effects.arms "
                                           "(default: 'fast' and slow_policy)")
    difficulty_sigma: float = _f(0.0, 0.0, 5.0,
                                 doc="fast draw scaled by exp(difficulty_sigma * z), z ~ N(0, 1) "
                                     "a conversation's difficulty (0: no difficulty)")

    @property
    def deadline_hours(self) -> float:
        """Business hours from creation to the one-business-day deadline (one open day)."""
        return self.close_hour - self.open_hour

    def arm_policies(self) -> tuple[str, ...]:
        """Each arm's policy: ``policies``, or ``("fast", slow_policy)`` when not given."""
        return self.policies if self.policies else ("fast", self.slow_policy)

    def policy_hours(self, policy: str) -> float | None:
        """A policy's deadline in business hours on this desk (``None`` for ``"fast"``)."""
        return policy_hours(policy, self.deadline_hours)


@dataclass(frozen=True)
class Csat:
    intercept: float = _f(2.356345282712768, doc="logit of satisfaction at FRT 0 (calibrated)")
    slope: float = _f(0.11880013394227015,
                      doc="logit drop per unit log(1 + business hours) (calibrated)")
    target_fast: float = _f(0.88, 0.0, 1.0, lo_open=True,
                            doc="calibration target: fast-arm CSAT")
    target_ratio: float = _f(0.9875, 0.0, None, lo_open=True,
                             doc="calibration target: slow/fast CSAT ratio")
    target_arm: str = _f("", doc="the arm of target_ratio (default: the second arm)")
    difficulty: float = _f(0.0, doc="logit drop per unit of a conversation's difficulty z")


@dataclass(frozen=True)
class Effects:
    questions: float = _f(0.96, 0.0, None, doc="slow arm's conversation-rate multiplier")
    handle_time: float = _f(1 / 1.2, 0.0, None, lo_open=True,
                            doc="slow arm's handle-time multiplier (1/1.2: +20% efficiency)")
    churn: float = _f(1.0, 0.0, None, doc="slow arm's churn hazard multiplier")
    arms: tuple[str, ...] = _f(("fast", "one_business_day"),
                               doc="the arms, control first (two or more)")
    weights: tuple[float, ...] = _f((0.5, 0.5))


@dataclass(frozen=True)
class Heterogeneity:
    """Effects that differ by customer (every arm but the first; all 0 by default: none).

    For a customer of segment ``g`` with monthly spend ``s`` and contact rate ``c``, with
    ``ls = log(s / population.spend_median)`` and ``lc = log(c / population.contact_rate)``,
    a slow arm's multipliers and shift are::

        questions multiplier = effects.questions x exp(segment_questions[g]
                                                       + spend_questions ls + rate_questions lc)
        churn multiplier     = effects.churn x exp(segment_churn[g]
                                                   + spend_churn ls + rate_churn lc)
        satisfaction logit  += csat_shift + segment_csat[g] + spend_csat ls + rate_csat lc

    (:mod:`~frt_experiments.simulate.heterogeneity`). An empty ``segment_*`` list is 0 for every
    segment; else one number per entry of ``population.segments``.
    """

    csat_shift: float = _f(0.0, -5.0, 5.0, doc="satisfaction logit shift of every slow arm")
    segment_csat: tuple[float, ...] = _f((), doc="satisfaction logit shift per segment",
                                         kind=float)
    segment_questions: tuple[float, ...] = _f((), doc="log questions multiplier per segment",
                                              kind=float)
    segment_churn: tuple[float, ...] = _f((), doc="log churn multiplier per segment", kind=float)
    spend_csat: float = _f(0.0, -5.0, 5.0, doc="satisfaction logit shift per log spend")
    spend_questions: float = _f(0.0, -1.0, 1.0, doc="log questions multiplier per log spend")
    spend_churn: float = _f(0.0, -1.0, 1.0, doc="log churn multiplier per log spend")
    rate_csat: float = _f(0.0, -5.0, 5.0, doc="satisfaction logit shift per log contact rate")
    rate_questions: float = _f(0.0, -1.0, 1.0, doc="log questions multiplier per log contact "
                                                   "rate")
    rate_churn: float = _f(0.0, -1.0, 1.0, doc="log churn multiplier per log contact rate")

    @property
    def active(self) -> bool:
        """Whether any setting is not 0 (the simulator then applies them per customer)."""
        values = [getattr(self, f.name) for f in fields(self)]
        return any(x != 0 for v in values for x in (v if isinstance(v, tuple) else (v,)))


#: Values of ``desk.pools``.
POOLS = ("shared", "split")
#: Hours in a week: the length of ``desk.roster``.
HOURS_PER_WEEK = 168


@dataclass(frozen=True)
class Desk:
    agents: int = _f(0, 0, 1_000_000,
                     doc="agents of the status quo and the trial at window.customers (scaled "
                         "in proportion when another number of customers is simulated); 0: the "
                         "desk is not in the loop, each arm's FRT is its policy's draw")
    rollout_agents: int = _f(0, 0, 1_000_000,
                             doc="agents of the rollout at window.customers (0: as agents)")
    roster: tuple[float, ...] = _f((), doc="share of the headcount on duty per local hour of "
                                           "the week (168 numbers in [0, 1], Monday 00:00 "
                                           "first); empty: all agents whenever the desk is open",
                           kind=float)
    fast_target_hours: float = _f(4.0, 0.0, None, lo_open=True,
                                  doc="business-hour target of the fast policy (measured, not "
                                      "enforced)")
    rollout_arm: str = _f("", doc="the arm every low-spend customer gets in the rollout "
                                  "(default: csat.target_arm, else the second arm)")
    pools: str = _f("shared", doc="'shared': one desk serves every arm; 'split': a pool per "
                                  "arm, each an arm-weight share of all customers with that "
                                  "share of the agents of the world its policy stands for")
    max_iterations: int = _f(8, 1, 100, doc="desk runs at most per world to settle the "
                                            "follow-ups on the FRT they got")


_SECTIONS: dict[str, type] = {
    "window": Window, "population": Population, "eligibility": Eligibility,
    "revenue": Revenue, "conversations": Conversations, "frt": Frt, "csat": Csat,
    "effects": Effects, "desk": Desk, "heterogeneity": Heterogeneity,
}


@dataclass(frozen=True)
class Scenario:
    """All parameters of one simulation (see the module docstring for the file layout).

    Use :func:`load_scenario` to read a preset or a file, and :meth:`with_` /
    :func:`dataclasses.replace` to change a part.
    """

    name: str = "published"
    description: str = ""
    window: Window = field(default_factory=Window)
    population: Population = field(default_factory=Population)
    eligibility: Eligibility = field(default_factory=Eligibility)
    revenue: Revenue = field(default_factory=Revenue)
    conversations: Conversations = field(default_factory=Conversations)
    frt: Frt = field(default_factory=Frt)
    csat: Csat = field(default_factory=Csat)
    effects: Effects = field(default_factory=Effects)
    desk: Desk = field(default_factory=Desk)
    heterogeneity: Heterogeneity = field(default_factory=Heterogeneity)

    def __post_init__(self) -> None:
        problems = _problems(self)
        if problems:
            raise ScenarioError(f"scenario {shorten(self.name)}: {problems[0]}")

    @property
    def start(self) -> pd.Timestamp:
        return pd.Timestamp(self.window.start).tz_convert("UTC")

    @property
    def end(self) -> pd.Timestamp:
        months = self.window.months
        whole = int(months)
        end = self.start + pd.DateOffset(months=whole)
        return end + pd.Timedelta(days=(months - whole) * 30.4375)

    def with_(self, **sections: dict[str, Any]) -> Scenario:
        """A copy with some keys of some sections changed, e.g. ``with_(window={"months": 2})``."""
        changes = {}
        for name, values in sections.items():
            if name not in _SECTIONS:
                raise ScenarioError(f"scenario {self.name}: unknown section [{name}]")
            changes[name] = _section(_SECTIONS[name], values, f"scenario {self.name}", name,
                                     base=getattr(self, name))
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def summary(self) -> str:
        return scenario_to_toml(self)


def _problems(s: Scenario) -> list[str]:
    out: list[str] = []
    for sec in _SECTIONS:
        obj = getattr(s, sec)
        for f in fields(obj):
            v = getattr(obj, f.name)
            lo, hi = f.metadata.get("lo"), f.metadata.get("hi")
            if isinstance(v, int | float) and not isinstance(v, bool):
                if not math.isfinite(v):
                    out.append(f"{sec}.{f.name} = {v} is not finite")
                elif lo is not None and (v < lo or (f.metadata["lo_open"] and v == lo)):
                    rel = ">" if f.metadata["lo_open"] else ">="
                    out.append(f"{sec}.{f.name} = {v} must be {rel} {lo}")
                elif hi is not None and (v > hi or (f.metadata["hi_open"] and v == hi)):
                    rel = "<" if f.metadata["hi_open"] else "<="
                    out.append(f"{sec}.{f.name} = {v} must be {rel} {hi}")
    p, c, fr, e = s.population, s.conversations, s.frt, s.effects
    pairs = (("population.timezones", p.timezones, "population.timezone_weights",
              p.timezone_weights),
             ("population.segments", p.segments, "population.segment_weights",
              p.segment_weights),
             ("effects.arms", e.arms, "effects.weights", e.weights))
    for an, a, wn, w in pairs:
        if len(a) == 0 or len(a) != len(w):
            out.append(f"{wn} must have one weight per entry of {an} ({len(a)})")
        elif any(x < 0 for x in w) or sum(w) <= 0:
            out.append(f"{wn} must be >= 0 with a positive sum")
    out.extend(_arm_problems(e, fr, s.csat.target_arm))
    for name, w, k in (("conversations.day_weights", c.day_weights, 7),
                       ("conversations.hour_weights", c.hour_weights, 24)):
        if len(w) != k or any(x < 0 for x in w) or sum(w) <= 0:
            out.append(f"{name} must be {k} numbers >= 0 with a positive sum")
    if fr.slow_policy not in SLOW_POLICIES:
        out.append(f"frt.slow_policy = {shown(fr.slow_policy)} must be one of "
                   f"{', '.join(SLOW_POLICIES)}")
    if fr.close_hour <= fr.open_hour:
        out.append(f"frt.close_hour = {fr.close_hour} must be later than frt.open_hour "
                   f"= {fr.open_hour}")
    for tz in (*p.timezones, fr.timezone):
        try:
            pd.Timestamp("2025-01-01").tz_localize(tz)
        except Exception:  # any failure means an unknown zone
            out.append(f"time zone {shown(tz)} is not a known IANA zone")
    out.extend(_window_problems(s.window))
    out.extend(_desk_problems(s.desk, e))
    out.extend(_heterogeneity_problems(s.heterogeneity, p, s.desk))
    return out


def _heterogeneity_problems(h: Heterogeneity, p: Population, d: Desk) -> list[str]:
    """Each ``segment_*`` list empty or one number per segment; not with the desk in the loop."""
    out = []
    for name in ("segment_csat", "segment_questions", "segment_churn"):
        v = getattr(h, name)
        if v and len(v) != len(p.segments):
            out.append(f"heterogeneity.{name} must be empty or give one number per entry of "
                       f"population.segments ({len(p.segments)}), got {len(v)}")
        elif any(not math.isfinite(x) or abs(x) > 5 for x in v):
            out.append(f"heterogeneity.{name} must hold finite numbers within [-5, 5]")
    if h.active and d.agents > 0:
        out.append("heterogeneity: effects that differ by customer are not simulated with the "
                   "desk in the loop (desk.agents > 0); set desk.agents = 0")
    return out


def _desk_problems(d: Desk, e: Effects) -> list[str]:
    """``desk.pools`` known, ``desk.roster`` empty or 168 shares with someone on duty,
    ``desk.rollout_arm`` one of the slow arms."""
    out = []
    if d.pools not in POOLS:
        out.append(f"desk.pools = {shown(d.pools)} must be one of {', '.join(POOLS)}")
    if d.roster and (len(d.roster) != HOURS_PER_WEEK or any(not 0 <= x <= 1 for x in d.roster)
                     or max(d.roster) == 0):
        out.append(f"desk.roster must be empty or {HOURS_PER_WEEK} shares in [0, 1] (one per "
                   f"local hour of the week, Monday 00:00 first) with one above 0, got "
                   f"{len(d.roster)} numbers")
    if d.rollout_arm and d.rollout_arm not in e.arms[1:]:
        arms = ", ".join(shorten(str(a), 40) for a in e.arms[1:])
        out.append(f"desk.rollout_arm = {shown(d.rollout_arm)} must be one of the arms after "
                   f"the control ({arms})")
    return out


def _arm_problems(e: Effects, fr: Frt, csat_arm: str) -> list[str]:
    """Two arms or more, none twice, each with a known policy (``frt.policies``, or two arms
    for ``fast`` and ``frt.slow_policy`` when it is not given)."""
    arms = ", ".join(shorten(str(a), 40) for a in e.arms)
    if len(e.arms) < 2:
        return [f"effects.arms = [{arms}] must name two arms or more (control first)"]
    seen: set[str] = set()
    for a in e.arms:
        if a in seen:
            return [f"effects.arms = [{arms}] names arm {shown(a)} twice"]
        if not a.strip():
            return [f"effects.arms = [{arms}]: every arm needs a name"]
        seen.add(a)
    if csat_arm and csat_arm not in e.arms:
        return [f"csat.target_arm = {shown(csat_arm)} must be one of effects.arms = [{arms}]"]
    if not fr.policies:
        if len(e.arms) != 2:
            return [f"frt.policies is not given: each of the {len(e.arms)} arms of "
                    f"effects.arms = [{arms}] needs a policy there (e.g. \"fast\", \"4h\", "
                    "\"one_business_day\"); without it the arms are two"]
        return []
    if len(fr.policies) != len(e.arms):
        return [f"frt.policies must give one policy per entry of effects.arms = [{arms}] "
                f"({len(e.arms)}), got {len(fr.policies)}"]
    for arm, policy in zip(e.arms, fr.policies, strict=True):
        try:
            fr.policy_hours(policy)
        except ValueError as exc:
            return [f"frt.policies: arm {shown(arm)}: {exc}"]
    return []


def _window_problems(w: Window) -> list[str]:
    """``window.start``: a bounded ISO 8601 timestamp with an offset, whose window (with its
    pre-period, and a year after its end for late responses) stays within the years a
    timestamp can hold."""
    try:
        start = check_timestamp_text(w.start, "window.start").as_unit("s")
    except ValueError as exc:
        return [str(exc)]
    if not (math.isfinite(w.months) and math.isfinite(w.pre_months)):
        return []  # reported with the numbers
    lo = start - pd.DateOffset(months=math.ceil(w.pre_months) + 1)
    hi = start + pd.DateOffset(months=math.ceil(w.months) + 12)
    if lo < TIMESTAMP_RANGE[0] or hi > TIMESTAMP_RANGE[1]:
        return [f"window.start = {shown(w.start)}: the simulated window, its pre-period and a "
                f"year after its end must fall within the years a timestamp can hold "
                f"({TIMESTAMP_RANGE_TEXT})"]
    return []


def _section(cls: type, values: Any, source: str, name: str, base: Any = None) -> Any:
    if not isinstance(values, dict):
        raise ScenarioError(f"{source}: {name} must be a table [{name}], got {shown(values)}")
    known = {f.name: f for f in fields(cls)}
    kwargs: dict[str, Any] = {}
    for key, v in values.items():
        if key not in known:
            raise ScenarioError(f"{source}: unknown key {name}.{shorten(str(key))} (known: "
                                f"{', '.join(sorted(known))})")
        default = known[key].default
        kwargs[key] = _coerce(v, default, f"{source}: {name}.{key}",
                              known[key].metadata.get("kind"))
    return replace(base if base is not None else cls(), **kwargs)


def _coerce(v: Any, default: Any, where: str, kind: type | None = None) -> Any:
    if isinstance(default, bool):
        if not isinstance(v, bool):
            raise ScenarioError(f"{where} must be true or false, got {shown(v)}")
        return v
    if isinstance(default, int):
        if isinstance(v, bool) or not isinstance(v, int):
            raise ScenarioError(f"{where} must be an integer, got {shown(v)}")
        return v
    if isinstance(default, float):
        if isinstance(v, bool) or not isinstance(v, int | float):
            raise ScenarioError(f"{where} must be a number, got {shown(v)}")
        return float(v)
    if isinstance(default, str):
        if not isinstance(v, str):
            raise ScenarioError(f"{where} must be a string, got {shown(v)}")
        return v
    if isinstance(default, tuple):
        if not isinstance(v, list):
            raise ScenarioError(f"{where} must be a list, got {shown(v)}")
        entry = kind if kind is not None else type(default[0]) if default else str
        return tuple(_coerce(x, entry(), where) for x in v)
    raise ScenarioError(f"{where}: unsupported value {shown(v)}")  # pragma: no cover


def scenario_from_mapping(data: dict[str, Any], *, source: str = "scenario") -> Scenario:
    """Build a :class:`Scenario` from parsed TOML, validating every key."""
    kwargs: dict[str, Any] = {}
    for key, v in data.items():
        if key in ("name", "description"):
            if not isinstance(v, str):
                raise ScenarioError(f"{source}: {key} must be a string, got {shown(v)}")
            kwargs[key] = v
        elif key in _SECTIONS:
            kwargs[key] = _section(_SECTIONS[key], v, source, key)
        else:
            raise ScenarioError(f"{source}: unknown section or key {shown(key)} (known: name, "
                                f"description, {', '.join(_SECTIONS)})")
    parts = SimpleNamespace(**{sec: kwargs.get(sec, cls()) for sec, cls in _SECTIONS.items()})
    problems = _problems(parts)  # type: ignore[arg-type]  # the sections are all _problems reads
    if problems:
        raise ScenarioError(f"{source}: {problems[0]}")
    return Scenario(**kwargs)


def load_scenario(name_or_path: str | Path | Scenario) -> Scenario:
    """A preset by name (``"published"``, ``"aa"``, ``"harsh"``) or a TOML file by path.

    Raises:
        ScenarioError: unknown preset, unreadable file, invalid TOML (or not UTF-8, larger than
            1 MB, nested deeper than 64 levels: :mod:`frt_experiments._limits`), unknown keys or
            bad values.
    """
    if isinstance(name_or_path, Scenario):
        return name_or_path
    text_name = str(name_or_path)
    text: str | None
    if text_name in PRESETS:
        ref = resources.files("frt_experiments").joinpath(f"scenarios/{text_name}.toml")
        text, source = ref.read_text(encoding="utf-8"), f"{text_name}.toml"
    else:
        p = Path(name_or_path)
        if p.suffix.lower() != ".toml" and not p.exists():
            raise ScenarioError(f"scenario {shown(text_name)}: not a preset ({', '.join(PRESETS)}) "
                                "nor a .toml file")
        if p.is_dir():
            raise ScenarioError(f"{p.name}: is a directory, not a scenario file ({p})")
        if not p.is_file():
            raise ScenarioError(f"{p.name}: scenario file not found ({p})")
        text, source = None, p.name
    data = (parse_toml(text, source, what="scenario") if text is not None
            else read_toml(p, what="scenario"))
    if not data:
        raise ScenarioError(f"{source}: the scenario file holds no settings (give at least "
                            "one section, or a preset name such as 'published')")
    return scenario_from_mapping(data, source=source)


def _toml(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int | float):
        return repr(v)
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return "[" + ", ".join(_toml(x) for x in v) + "]"


def scenario_to_toml(s: Scenario) -> str:
    """The fully resolved scenario as TOML (every key, defaults included)."""
    lines = [f"name = {_toml(s.name)}", f"description = {_toml(s.description)}"]
    for sec in _SECTIONS:
        if sec == "heterogeneity" and s.heterogeneity == Heterogeneity():
            continue  # absent unless set: the files of scenarios without it are unchanged
        lines.append(f"\n[{sec}]")
        obj = getattr(s, sec)
        lines.extend(f"{f.name} = {_toml(getattr(obj, f.name))}" for f in fields(obj))
    return "\n".join(lines) + "\n"
