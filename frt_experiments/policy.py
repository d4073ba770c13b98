"""First-response-time policies per arm: targets, deadlines, FRT in business time, attainment.

The experiment's treatment is a business-time promise. An :class:`FrtPolicy` turns a
conversation's ``created_at`` into its first-response *deadline* on a
:class:`~frt_experiments.calendar.BusinessCalendar`, and judges a first response against it.

Arms (see :func:`default_policies`):

- ``fast``: a target in business time (default 4 business hours); deadline
  ``calendar.add_business_time(created_at, target)``.
- ``one_business_day``: deadline ``calendar.add_business_days(created_at, 1)``: the same clock
  time on the next business day (for a conversation created while the desk is closed: the close
  of the first business day that follows). This is what a helpdesk SLA target of "1 business
  day" (one full business day of open time) amounts to. With ``rule="end_of_next_business_day"``
  the deadline is instead the closing time of the first business day after the local date the
  conversation arrived on (``calendar.end_of_next_business_day``).

A first response *meets* the policy when the business time from creation to response does not
exceed the business time from creation to the deadline (judged on business time, so a reply
sent after hours, before the desk reopens, counts as on time).

Attainment per arm reports the median and 90th percentile of FRT in calendar and business hours
(quantiles by linear interpolation, Hyndman and Fan's type 7, R's default) and the share of
conversations within target. Conversations without a first response count as missed.

References:
    Hyndman, R. J. and Fan, Y. (1996). Sample quantiles in statistical packages. The American
    Statistician 50(4), 361-365.
    Zendesk Help Center, "Defining and using SLA policies" (first reply time targets measured
    in business hours).
"""

from __future__ import annotations

import datetime as _dt
import re
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any, Literal

import numpy as np
import pandas as pd

from frt_experiments._ids import arm_codes
from frt_experiments.calendar import BusinessCalendar
from frt_experiments.schema import (
    ABANDONED_AT,
    ARM,
    CONTROL_ARM,
    CREATED_AT,
    CUSTOMER_ID,
    FIRST_RESPONSE_AT,
    TREATMENT_ARM,
)

__all__ = ["POLICY_SPECS", "Attainment", "FrtPolicy", "attainment_table", "default_policies",
           "policies_from_specs", "policy_from_spec"]

Rule = Literal["business_time", "next_business_day", "end_of_next_business_day"]
_RULES = ("business_time", "next_business_day", "end_of_next_business_day")
_HOUR_NS = 3600 * 10**9


@dataclass(frozen=True)
class Attainment:
    """FRT attainment of one arm's policy.

    Attributes:
        arm: The arm.
        n: Conversations.
        n_responded: Conversations with a first response.
        median_calendar_hours, p90_calendar_hours: FRT quantiles in calendar hours, over the
            answered conversations (type 7; NaN when none was answered).
        median_business_hours, p90_business_hours: The same in business hours.
        share_within_target: Share of conversations answered within the policy's target, over
            the conversations decided by ``as_of`` (unanswered conversations count as missed
            once their deadline has passed).
        n_pending: Conversations left out of ``share_within_target``: unanswered at ``as_of``
            (the data's cut-off) with their deadline still ahead, so neither met nor missed
            yet (0 without ``as_of``).
        target_business_hours: The business time the policy allows: its target, or for a
            calendar-day rule the median over these conversations of the business time from
            creation to deadline.
        n_abandoned: Conversations the customer abandoned (``abandoned_at``) before any
            response: left out of ``share_within_target`` (the customer withdrew before the
            promise came due or was broken), and counted here.
        share_abandoned: ``n_abandoned / n`` (NaN without conversations).
    """

    arm: str
    n: int
    n_responded: int
    median_calendar_hours: float
    p90_calendar_hours: float
    median_business_hours: float
    p90_business_hours: float
    share_within_target: float
    n_pending: int = 0
    target_business_hours: float = float("nan")
    n_abandoned: int = 0
    share_abandoned: float = float("nan")

    def to_pandas(self) -> pd.DataFrame:
        return pd.DataFrame([{f.name: getattr(self, f.name) for f in fields(self)}])

    def __repr__(self) -> str:
        return (f"Attainment(arm={self.arm!r}, n={self.n}, median={self.median_business_hours:.2f}"
                f" business h ({self.median_calendar_hours:.2f} calendar h), p90="
                f"{self.p90_business_hours:.2f} business h, within target="
                f"{self.share_within_target:.1%})")


@dataclass(frozen=True)
class FrtPolicy:
    """One arm's first-response promise on a business calendar.

    Args:
        arm: The arm this policy belongs to.
        calendar: The desk's business calendar.
        rule: ``"business_time"`` (deadline = ``target`` of business time after creation),
            ``"next_business_day"`` (same clock time on the next business day) or
            ``"end_of_next_business_day"`` (close of the first business day after the local
            creation date).
        target: The business-time target for ``rule="business_time"``.
        days: Business days of ``rule="next_business_day"`` (``2``: the same clock time two
            business days later) or ``"end_of_next_business_day"`` (``2``: the close of the
            second business day after the local creation date); 1 by default.

    References:
        See the module docstring (Zendesk SLA conventions; Hyndman and Fan 1996 quantiles).
    """

    arm: str
    calendar: BusinessCalendar
    rule: Rule = "business_time"
    target: _dt.timedelta | None = None
    days: int = 1

    def __post_init__(self) -> None:
        if not isinstance(self.calendar, BusinessCalendar):
            raise TypeError(f"calendar: expected a BusinessCalendar, got "
                            f"{type(self.calendar).__name__}")
        if self.rule not in _RULES:
            raise ValueError(f"rule: expected one of {_RULES}, got {self.rule!r}")
        if self.rule == "business_time":
            if self.target is None:
                raise ValueError("target: required when rule='business_time'")
            if isinstance(self.target, (bool, int, float, np.number)):
                raise ValueError(f"target: plain numbers are not durations (pandas would read "
                                 f"{self.target!r} as nanoseconds); give a timedelta, e.g. "
                                 "datetime.timedelta(hours=4) or '4h'")
            try:
                t = pd.Timedelta(self.target)
            except (TypeError, ValueError) as exc:
                raise ValueError(f"target: cannot read {self.target!r} as a duration "
                                 "(e.g. datetime.timedelta(hours=4) or '4h')") from exc
            if pd.isna(t) or t <= pd.Timedelta(0):
                raise ValueError(f"target: must be a positive duration, got {self.target!r}")
            if t < pd.Timedelta(1, "us"):
                raise ValueError(f"target: must be at least one microsecond, got {t!r}")
            object.__setattr__(self, "target", t.to_pytimedelta())
        elif self.target is not None:
            raise ValueError(f"target: only used with rule='business_time', not {self.rule!r}")
        if isinstance(self.days, bool) or not isinstance(self.days, int | np.integer) \
                or self.days < 1:
            raise ValueError(f"days: expected a whole number of business days >= 1, got "
                             f"{self.days!r}")
        if self.days != 1 and self.rule == "business_time":
            raise ValueError("days: only used with a business-day rule, not 'business_time'")
        object.__setattr__(self, "days", int(self.days))

    @property
    def spec(self) -> str:
        """The policy as :func:`policy_from_spec` reads it (e.g. ``"4h"``,
        ``"two_business_days"``)."""
        if self.rule == "business_time":
            assert self.target is not None
            return _duration_spec(self.target)
        if self.rule == "next_business_day":
            return _DAY_WORDS.get(self.days, f"{self.days}_business_days")
        return ("end_of_next_business_day" if self.days == 1
                else f"end_of_business_day_{self.days}")

    def deadline(self, created_at: Any) -> Any:
        """The first-response deadline of conversations created at ``created_at``."""
        if self.rule == "business_time":
            return self.calendar.add_business_time(created_at, self.target)
        if self.rule == "next_business_day":
            return self.calendar.add_business_days(created_at, self.days)
        return self.calendar.end_of_next_business_day(created_at, self.days)

    def evaluate(self, created_at: Any, first_response_at: Any) -> pd.DataFrame:
        """Per conversation: deadline, FRT in calendar and business hours, target met.

        Returns a frame with columns ``created_at``, ``first_response_at``, ``deadline``,
        ``frt_calendar_hours``, ``frt_business_hours``, ``met`` and
        ``allowed_business_hours`` (business time from creation to the deadline). FRT is NaN
        without a first response; ``met`` is then False.
        """
        created = _series(created_at, "created_at")
        first = _series(first_response_at, "first_response_at")
        if len(created) != len(first):
            raise ValueError(f"created_at and first_response_at: lengths differ "
                             f"({len(created)} vs {len(first)})")
        # Align on created_at's index, keeping the tz-aware array (to_numpy() would box
        # every timestamp into an object array).
        first = first.set_axis(created.index).rename(FIRST_RESPONSE_AT)
        deadline = self.deadline(created)
        cal = self.calendar
        frt_cal = (first - created).dt.total_seconds() / 3600.0
        frt_bus = cal.business_duration(created, first).dt.total_seconds() / 3600.0
        allowed = cal.business_duration(created, deadline).dt.total_seconds() / 3600.0
        bad = (frt_cal < 0).to_numpy()
        if bad.any():
            rows = np.flatnonzero(bad)[:5].tolist()
            raise ValueError(f"first_response_at: {int(bad.sum())} rows are earlier than "
                             f"created_at (rows {rows})")
        met = (frt_bus <= allowed).fillna(False).astype(bool)
        return pd.DataFrame({
            CREATED_AT: created, FIRST_RESPONSE_AT: first, "deadline": deadline,
            "frt_calendar_hours": frt_cal, "frt_business_hours": frt_bus, "met": met,
            "allowed_business_hours": allowed,
        })

    def attainment(self, created_at: Any, first_response_at: Any, *,
                   as_of: Any = None, abandoned_at: Any = None) -> Attainment:
        """Median and p90 FRT (calendar and business hours) and share within target.

        ``as_of`` is the data's cut-off (e.g. the export time): a conversation still
        unanswered then whose deadline is later is *pending* and left out of the share within
        target; counting it as missed would bias the share against the slower arm, whose
        deadlines reach further past the cut-off. Without ``as_of`` every unanswered
        conversation counts as missed. ``abandoned_at`` (aligned with ``created_at``): an
        unanswered conversation the customer abandoned is left out of the share within target
        too, and counted in ``n_abandoned``.
        """
        ev = self.evaluate(created_at, first_response_at)
        unanswered = ev[FIRST_RESPONSE_AT].isna().to_numpy(bool)
        abandoned = np.zeros(len(ev), dtype=bool)
        if abandoned_at is not None:
            abandoned = unanswered & pd.Series(abandoned_at).notna().to_numpy(bool)
        pending = np.zeros(len(ev), dtype=bool)
        if as_of is not None:
            cutoff = _cutoff(as_of)
            pending = unanswered & ~abandoned & (ev["deadline"] > cutoff).to_numpy(bool)
        met = ev["met"].to_numpy(bool)[~pending & ~abandoned]
        cal_h = ev["frt_calendar_hours"].dropna().to_numpy()
        bus_h = ev["frt_business_hours"].dropna().to_numpy()

        def q(x: np.ndarray, p: float) -> float:
            return float(np.quantile(x, p)) if len(x) else float("nan")

        return Attainment(
            arm=self.arm, n=len(ev), n_responded=len(cal_h),
            median_calendar_hours=q(cal_h, 0.5), p90_calendar_hours=q(cal_h, 0.9),
            median_business_hours=q(bus_h, 0.5), p90_business_hours=q(bus_h, 0.9),
            share_within_target=float(met.mean()) if len(met) else float("nan"),
            n_pending=int(pending.sum()), n_abandoned=int(abandoned.sum()),
            share_abandoned=float(abandoned.mean()) if len(ev) else float("nan"),
            target_business_hours=(
                self.target.total_seconds() / 3600.0
                if self.rule == "business_time" and self.target is not None
                else q(ev["allowed_business_hours"].to_numpy(float), 0.5)),
        )


def default_policies(
    calendar: BusinessCalendar,
    *,
    fast_target: _dt.timedelta = _dt.timedelta(hours=4),
    one_business_day: Literal["next_business_day", "end_of_next_business_day"] = (
        "next_business_day"),
    control: str = CONTROL_ARM,
    treatment: str = TREATMENT_ARM,
) -> dict[str, FrtPolicy]:
    """The experiment's two arms: ``fast`` (a business-time target) and ``one_business_day``.

    Policies go by role, not by name: the control arm gets the fast policy and the treatment
    arm the one-business-day policy, whatever the arms are called.

    Args:
        calendar: The desk's business calendar.
        fast_target: Business-time target of the ``fast`` arm (default 4 business hours).
        one_business_day: ``"next_business_day"`` (same clock time next business day) or
            ``"end_of_next_business_day"``.
        control: Name of the control arm, which gets the fast policy (default ``fast``).
        treatment: Name of the treatment arm, which gets the one-business-day policy (default
            ``one_business_day``).
    """
    for name, arm in (("control", control), ("treatment", treatment)):
        if not isinstance(arm, str) or not arm:
            raise ValueError(f"{name}: expected an arm name, got {arm!r}")
    if control == treatment:
        raise ValueError(f"control and treatment must differ, both are {control!r}")
    return {
        control: FrtPolicy(control, calendar, rule="business_time", target=fast_target),
        treatment: FrtPolicy(treatment, calendar, rule=one_business_day),
    }


def attainment_table(
    conversations: pd.DataFrame, assignments: pd.DataFrame, policies: dict[str, FrtPolicy],
    *, as_of: Any = None,
) -> pd.DataFrame:
    """Attainment of every arm's policy, one row per arm (columns of :class:`Attainment`).

    ``conversations`` needs ``customer_id``, ``created_at`` and ``first_response_at``;
    ``assignments`` maps ``customer_id`` to ``arm``. ``as_of``: the data's cut-off (see
    :meth:`FrtPolicy.attainment`).
    """
    names = list(policies)
    code = arm_codes(conversations[CUSTOMER_ID], assignments[CUSTOMER_ID], assignments[ARM],
                     names)
    return attainment_by_code(conversations[CREATED_AT], conversations[FIRST_RESPONSE_AT], code,
                              policies, as_of=as_of,
                              abandoned_at=conversations.get(ABANDONED_AT))


def attainment_by_code(created_at: pd.Series, first_response_at: pd.Series, code: np.ndarray,
                       policies: dict[str, FrtPolicy], *, as_of: Any = None,
                       abandoned_at: pd.Series | None = None) -> pd.DataFrame:
    """:func:`attainment_table` for conversations already joined to their arm: ``code[i]`` is
    the position of conversation ``i``'s arm among ``policies`` (-1 for none)."""
    rows = []
    for k, policy in enumerate(policies.values()):  # one pass per arm, not per row
        mask = code == k
        rows.append(policy.attainment(
            created_at[mask], first_response_at[mask], as_of=as_of,
            abandoned_at=None if abandoned_at is None else abandoned_at[mask]).to_pandas())
    return pd.concat(rows, ignore_index=True)


def _cutoff(as_of: Any) -> pd.Timestamp:
    try:
        ts = pd.Timestamp(as_of)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"as_of: expected a time-zone-aware timestamp, got {as_of!r}") from exc
    if ts is pd.NaT or ts.tzinfo is None:
        raise ValueError(f"as_of: expected a time-zone-aware timestamp, got {as_of!r}")
    return ts


def _series(x: Any, name: str) -> pd.Series:
    try:
        idx = pd.DatetimeIndex(x)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name}: expected time-zone-aware timestamps ({exc})") from exc
    if idx.tz is None:
        if not idx.isna().all():
            raise ValueError(f"{name}: timestamps are naive (no time zone); localize them "
                             "first, e.g. with .dt.tz_localize('UTC')")
        idx = idx.tz_localize("UTC")
    return pd.Series(idx, index=x.index if isinstance(x, pd.Series) else None, name=name)


#: Words for business days in policy names: ``one_business_day`` ... ``five_business_days``.
_DAY_WORDS = {1: "one_business_day", 2: "two_business_days", 3: "three_business_days",
              4: "four_business_days", 5: "five_business_days"}

#: The policy names :func:`policy_from_spec` reads, besides business-time targets such as
#: ``"4h"``, ``"90m"``, ``"4 business hours"`` or ``"2.5h"``.
POLICY_SPECS = ("<N>h", "<N>m", "<N> business hours", "one_business_day", "next_business_day",
                "two_business_days", "<N>_business_days", "end_of_next_business_day",
                "end_of_business_day_<N>")

_TARGET = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(h|hours?|business[ _]hours?|m|min|minutes?|"
                     r"business[ _]minutes?)\s*$", re.IGNORECASE)
_WORD_DAYS = {v: k for k, v in _DAY_WORDS.items()} | {"next_business_day": 1}
_N_DAYS = re.compile(r"^\s*(\d+)[ _]business[ _]days?\s*$", re.IGNORECASE)
_EOD = re.compile(r"^\s*end_of_business_day_(\d+)\s*$", re.IGNORECASE)


def _duration_spec(t: _dt.timedelta) -> str:
    minutes = t.total_seconds() / 60
    if minutes % 6 == 0:  # whole tenths of an hour
        return f"{minutes / 60:g}h"
    return f"{minutes:g}m"


def policy_from_spec(arm: str, spec: Any, calendar: BusinessCalendar) -> FrtPolicy:
    """An arm's policy from its name in a plan or on the command line.

    ``"4h"``, ``"90m"``, ``"4 business hours"``: a business-time target (``rule =
    "business_time"``); ``"one_business_day"`` (or ``"next_business_day"``),
    ``"two_business_days"``, ``"3_business_days"``: the same clock time that many business days
    later (``rule = "next_business_day"``); ``"end_of_next_business_day"``,
    ``"end_of_business_day_2"``: the close of the first (second) business day after the local
    creation date. Case and the spaces around the name do not matter.

    Raises:
        ValueError: A name that is none of these, naming the arm and listing the forms.
    """
    if not isinstance(spec, str) or not spec.strip():
        raise ValueError(f"arm {arm!r}: expected an FRT policy name such as '4h' or "
                         f"'one_business_day', got {spec!r}")
    text = spec.strip()
    key = text.casefold()
    m = _TARGET.match(text)
    if m:
        value, unit = float(m.group(1)), m.group(2).casefold()
        hours = value / 60 if unit.endswith(("m", "min", "minute", "minutes")) \
            and "hour" not in unit else value
        if not hours > 0:
            raise ValueError(f"arm {arm!r}: policy {text!r}: the target must be positive")
        return FrtPolicy(arm, calendar, rule="business_time",
                         target=_dt.timedelta(hours=hours))
    if key in _WORD_DAYS:
        return FrtPolicy(arm, calendar, rule="next_business_day", days=_WORD_DAYS[key])
    m = _N_DAYS.match(text)
    if m and int(m.group(1)) >= 1:
        return FrtPolicy(arm, calendar, rule="next_business_day", days=int(m.group(1)))
    if key == "end_of_next_business_day":
        return FrtPolicy(arm, calendar, rule="end_of_next_business_day")
    m = _EOD.match(text)
    if m and int(m.group(1)) >= 1:
        return FrtPolicy(arm, calendar, rule="end_of_next_business_day", days=int(m.group(1)))
    raise ValueError(f"arm {arm!r}: unknown FRT policy {text!r} (expected a business-time "
                     "target such as '4h' or '90m', 'one_business_day', 'two_business_days', "
                     "'<N>_business_days', 'end_of_next_business_day' or "
                     "'end_of_business_day_<N>')")


def policies_from_specs(specs: Mapping[str, Any], calendar: BusinessCalendar
                        ) -> dict[str, FrtPolicy]:
    """Each arm's policy from ``{arm: name}`` (:func:`policy_from_spec`), in the given order
    (control first), all on ``calendar``.

    Raises:
        ValueError: Fewer than two arms, an arm name that is empty, or an unknown policy name.
    """
    if len(specs) < 2:
        raise ValueError(f"arms: need at least two arms with a policy each, got "
                         f"{list(specs)}")
    out: dict[str, FrtPolicy] = {}
    for arm, spec in specs.items():
        if not isinstance(arm, str) or not arm.strip():
            raise ValueError(f"arms: every arm needs a name, got {arm!r}")
        out[arm] = policy_from_spec(arm, spec, calendar)
    return out
