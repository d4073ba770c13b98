"""Business calendar: opening hours, time zone, holidays; exact, vectorized business time.

Helpdesks promise and report first response time in *business* time. A
:class:`BusinessCalendar` turns opening hours in an IANA time zone (with public holidays and
explicit closed dates) into a sorted array of open intervals in UTC nanoseconds, plus the
cumulative business time at each interval start. Every operation is then a
:func:`numpy.searchsorted` over that array: exact (int64 nanoseconds, no floating point) and fast
(a million timestamps in a fraction of a second).

Conventions (all documented in the README, "Business time"):

- **Intervals are half-open** ``[open, close)``: an instant at closing time is closed, an instant
  at opening time is open.
- **Business clock** ``B(t)``: business time elapsed since an arbitrary origin. It is continuous
  and non-decreasing; it stands still while the desk is closed.
  ``business_duration(start, end) = B(end) - B(start)`` (negative when ``end < start``).
- **add_business_time(t, d)** returns the *earliest* instant ``u >= t`` with
  ``B(u) - B(t) = d``. A duration that runs out exactly at closing time therefore ends *at*
  closing time (pandas' ``CustomBusinessHour`` returns the next opening instead; otherwise the
  two agree). ``d = 0`` returns ``t`` itself, open or closed: ``t`` is the earliest instant at
  which no business time has elapsed. A negative ``d`` counts back: it returns the *latest*
  instant ``u <= t`` with ``B(t) - B(u) = -d`` (an opening time rather than the previous
  close).
- **Daylight saving time**: opening hours are local wall-clock times. An opening or closing time
  that falls in the hour skipped in spring moves forward to the first valid instant (the
  transition); one in the hour repeated in autumn means its *first* occurrence. A desk open
  through the repeated hour is therefore open for both occurrences (it really is).
- **Holidays** close the whole local day. A shift belongs to the local date it is listed on.
- **Business day**: a local date with at least one (non-empty) open interval.
  ``add_business_days(t, n)`` keeps ``t``'s position within its business day: it returns the
  earliest instant that is as much business time into the ``n``-th next business day as ``t``
  (or, if ``t`` is closed, the next opening) is into its own, capped at that day's length. For
  ``Mon-Fri 09:00-17:00`` this is "the same clock time on the next business day"; a ticket that
  arrives while the desk is closed is due at the close of the first business day.

References:
    pandas.tseries.offsets.CustomBusinessHour (pandas documentation), whose arithmetic this
    module reproduces except at exact closing times.
    Zendesk Help Center, "Defining and using SLA policies": SLA targets in business hours are
    measured only while the schedule is open.
"""

from __future__ import annotations

import datetime as _dt
import itertools
import re
import zoneinfo
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["BusinessCalendar"]

_DAY_NS = 86_400 * 10**9
_SEC_NS = 10**9
_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_TIME_RE = re.compile(r"^(\d{1,2}):(\d{2})$")
_MAX_EXTENSIONS = 64
# Local days whose nanoseconds int64 can hold (pandas' 1677-09-21 .. 2262-04-11, less slack
# for UTC offsets): spans never reach past them, so no arithmetic overflows.
_LO_DAY, _HI_DAY = -106_740, 106_740
_OUT_OF_RANGE = ("the result lies outside the range of nanosecond timestamps "
                 "(1677-09-21 to 2262-04-11)")


def _weekday(name: object) -> int:
    if isinstance(name, (int, np.integer)) and not isinstance(name, bool) and 0 <= name <= 6:
        return int(name)
    key = str(name).strip().lower()[:3]
    if key in _WEEKDAYS and str(name).strip().lower() in (key, _full_day(key)):
        return _WEEKDAYS.index(key)
    raise ValueError(
        f"hours: unknown weekday {name!r}; use Mon..Sun (or 0=Monday..6=Sunday)"
    )


def _full_day(key: str) -> str:
    return {"mon": "monday", "tue": "tuesday", "wed": "wednesday", "thu": "thursday",
            "fri": "friday", "sat": "saturday", "sun": "sunday"}[key]


def _clock(text: object, what: str) -> int:
    """'HH:MM' -> seconds after midnight; '24:00' allowed (closing at midnight)."""
    if isinstance(text, _dt.time):
        return text.hour * 3600 + text.minute * 60 + text.second
    m = _TIME_RE.match(str(text).strip())
    if not m:
        raise ValueError(f"hours: {what} {text!r} is not a clock time 'HH:MM'")
    h, mi = int(m.group(1)), int(m.group(2))
    if mi >= 60 or h > 24 or (h == 24 and mi != 0):
        raise ValueError(f"hours: {what} {text!r} is not a clock time between 00:00 and 24:00")
    return h * 3600 + mi * 60


def _day_range(spec: str) -> list[int]:
    days: list[int] = []
    for raw in spec.split(","):
        part = raw.strip()
        if "-" in part:
            a, b = (_weekday(x) for x in part.split("-", 1))
            days.extend(range(a, b + 1) if a <= b else [*range(a, 7), *range(b + 1)])
        elif part:
            days.append(_weekday(part))
    return days


def _parse_hours(hours: str | Mapping[Any, Any]) -> dict[int, list[tuple[int, int]]]:
    week: dict[int, list[tuple[int, int]]] = {d: [] for d in range(7)}
    if isinstance(hours, str):
        text = hours.strip()
        if text.lower() in ("24/7", "24x7"):
            return {d: [(0, 86_400)] for d in range(7)}
        for clause in filter(None, (c.strip() for c in text.split(";"))):
            m = re.match(r"^([A-Za-z][A-Za-z0-9,\- ]*?)\s+(\d.*)$", clause)
            if not m:
                raise ValueError(
                    f"hours: cannot read {clause!r}; expected e.g. 'Mon-Fri 09:00-17:00' "
                    "or 'Mon-Thu 09:00-17:00; Fri 09:00-13:00' or '24/7'"
                )
            for span in m.group(2).split(","):
                if span.count("-") != 1:
                    raise ValueError(f"hours: cannot read time span {span.strip()!r} in "
                                     f"{clause!r}; expected 'HH:MM-HH:MM'")
                a, b = span.split("-")
                interval = (_clock(a, "opening time"), _clock(b, "closing time"))
                for d in _day_range(m.group(1)):
                    week[d].append(interval)
    elif isinstance(hours, Mapping):
        for key, spans in hours.items():
            d = _weekday(key)
            for span in spans or ():
                if isinstance(span, str) or not hasattr(span, "__len__") or len(span) != 2:
                    raise ValueError(f"hours: {key}: expected a list of (open, close) pairs, "
                                     f"e.g. [('09:00', '17:00')], got {spans!r}")
                a, b = span
                week[d].append((_clock(a, "opening time"), _clock(b, "closing time")))
    else:
        raise TypeError(f"hours: expected a string or a mapping weekday -> [(open, close)], "
                        f"got {type(hours).__name__}")
    for d, spans in week.items():
        spans.sort()
        for a, b in spans:
            if a >= b:
                raise ValueError(f"hours: {_WEEKDAYS[d].title()} interval "
                                 f"{_fmt(a)}-{_fmt(b)} is inverted or empty (open must be "
                                 "before close)")
        for (a1, b1), (a2, b2) in itertools.pairwise(spans):
            if a2 < b1:
                raise ValueError(f"hours: {_WEEKDAYS[d].title()} intervals {_fmt(a1)}-"
                                 f"{_fmt(b1)} and {_fmt(a2)}-{_fmt(b2)} overlap")
    if not any(week.values()):
        raise ValueError("hours: the week has no opening hours (use '24/7' for always open)")
    return week


def _fmt(sec: int) -> str:
    return f"{sec // 3600:02d}:{sec % 3600 // 60:02d}"


@dataclass(frozen=True)
class _Span:
    """Materialized open intervals over local days [lo_day, hi_day)."""

    lo_day: int
    hi_day: int
    start: np.ndarray  # int64 UTC ns, sorted, non-empty intervals
    end: np.ndarray
    cum: np.ndarray  # business ns before each interval
    day: np.ndarray  # local day number of each interval
    bday: np.ndarray  # sorted unique business days
    bday_cum: np.ndarray  # business ns before each business day
    bday_len: np.ndarray  # business ns in each business day
    bday_close: np.ndarray  # UTC ns of each business day's last close

    @property
    def total(self) -> int:
        return int(self.cum[-1] + (self.end[-1] - self.start[-1])) if len(self.start) else 0

    def clock(self, t: np.ndarray) -> np.ndarray:
        """B(t): business ns since the span start (t must lie inside the span)."""
        i = np.searchsorted(self.start, t, side="right") - 1
        j = np.maximum(i, 0)
        inside = np.minimum(t - self.start[j], self.end[j] - self.start[j])
        return np.where(i >= 0, self.cum[j] + np.maximum(inside, 0), 0)

    def earliest(self, b: np.ndarray) -> np.ndarray:
        """Earliest instant u with B(u) = b (0 < b <= total)."""
        cend = self.cum + (self.end - self.start)
        k = np.minimum(np.searchsorted(cend, b, side="left"), len(cend) - 1)
        return self.start[k] + (b - self.cum[k])

    def latest(self, b: np.ndarray) -> np.ndarray:
        """Latest instant u with B(u) = b (0 <= b < total)."""
        k = np.maximum(np.searchsorted(self.cum, b, side="right") - 1, 0)
        return self.start[k] + (b - self.cum[k])


class BusinessCalendar:
    """Opening hours in a time zone, with holidays; vectorized business-time arithmetic.

    Args:
        timezone: IANA time zone of the opening hours, e.g. ``"America/New_York"``.
        hours: Opening hours. A compact string, ``"Mon-Fri 09:00-17:00"``,
            ``"Mon-Thu 09:00-17:00; Fri 09:00-13:00"``, ``"Mon-Fri 09:00-12:00,13:00-17:00"``
            or ``"24/7"``; or a mapping weekday -> list of ``(open, close)`` clock times for
            split shifts, e.g. ``{"Mon": [("09:00", "12:00"), ("13:00", "17:00")]}`` (weekdays
            as names or 0=Monday..6=Sunday). Closing at ``"24:00"`` is allowed.
        holidays: Closed dates: a country code for the ``holidays`` package (``"US"``), a
            :class:`holidays.HolidayBase`, an iterable of dates, or ``None``.
        subdivision: Subdivision for the country code (``"CA"`` for California).
        closed_dates: Further explicit closed local dates, added to ``holidays``.

    Inputs of every method are time-zone-aware timestamps: a :class:`pandas.Series`, a
    :class:`pandas.DatetimeIndex`, an array-like, or a scalar. ``NaT`` passes through. A Series
    comes back as a Series with the same index and time zone; a scalar as a
    :class:`pandas.Timestamp`; anything else as a :class:`pandas.DatetimeIndex`. Two arguments
    are paired by position; two Series must share their index. Durations are timedeltas (plain
    numbers are refused: pandas would read them as nanoseconds). Results must lie within
    pandas' nanosecond range (1677-09-21 to 2262-04-11); beyond it is a ``ValueError``.

    References:
        pandas ``CustomBusinessHour`` (reference implementation for tests);
        Python ``zoneinfo`` / IANA tz database for offsets and DST;
        the ``holidays`` package for public holidays.

    Examples:
        >>> cal = BusinessCalendar("Europe/Paris")
        >>> t = pd.Timestamp("2025-03-07 15:00", tz="Europe/Paris")  # a Friday
        >>> cal.add_business_time(t, pd.Timedelta(hours=4))
        Timestamp('2025-03-10 11:00:00+0100', tz='Europe/Paris')
    """

    def __init__(
        self,
        timezone: str,
        hours: str | Mapping[Any, Any] = "Mon-Fri 09:00-17:00",
        holidays: str | Iterable[Any] | None = None,
        *,
        subdivision: str | None = None,
        closed_dates: Iterable[Any] = (),
    ) -> None:
        if not isinstance(timezone, str):
            raise ValueError(f"timezone: expected an IANA zone name, got {timezone!r}")
        try:
            zoneinfo.ZoneInfo(timezone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"timezone: unknown time zone {timezone!r} (expected an IANA "
                             "name such as 'America/New_York')") from exc
        self.timezone = timezone
        self.hours = hours
        self._week = _parse_hours(hours)
        self._template = [(d, a, b) for d, spans in self._week.items() for a, b in spans]
        self._week_ns = sum(b - a for _, a, b in self._template) * _SEC_NS
        self._country: Any = None
        explicit: list[Any] = list(closed_dates)
        if subdivision is not None and not isinstance(holidays, str):
            raise ValueError(f"subdivision: only used with a country code in holidays (e.g. "
                             f"holidays='US', subdivision={subdivision!r}), got "
                             f"holidays={holidays!r}")
        if isinstance(holidays, str):
            import holidays as _holidays  # noqa: PLC0415  (optional heavy import)

            try:
                _holidays.country_holidays(holidays, subdiv=subdivision, years=[2000])
            except NotImplementedError as exc:
                raise ValueError(f"holidays: unknown country or subdivision "
                                 f"{holidays!r}/{subdivision!r} for the holidays "
                                 "package") from exc
            self._country = (holidays, subdivision)
        elif holidays is not None and hasattr(holidays, "_populate"):
            self._country = holidays  # a holidays.HolidayBase
        elif isinstance(holidays, (_dt.date, np.datetime64)):
            explicit.append(holidays)  # a single date
        elif holidays is not None:
            explicit.extend(holidays)
        self.holidays = holidays
        try:
            days = pd.to_datetime(pd.Series(explicit, dtype=object)).dt.tz_localize(None)
        except (ValueError, TypeError) as exc:
            raise ValueError(f"holidays/closed_dates: cannot read dates {explicit!r}") from exc
        self._explicit = np.unique(
            days.dt.normalize().values.astype("datetime64[D]").astype(np.int64))
        self._span: _Span | None = None

    def __repr__(self) -> str:
        hol = f", holidays={self.holidays!r}" if self.holidays is not None else ""
        return f"BusinessCalendar({self.timezone!r}, hours={self.hours!r}{hol})"

    # ----------------------------------------------------------------- materialization
    def _holiday_days(self, lo_day: int, hi_day: int) -> np.ndarray:
        out = [self._explicit]
        if self._country is not None:
            y0 = int(np.datetime64(lo_day, "D").astype("datetime64[Y]").astype(int)) + 1970
            y1 = int(np.datetime64(hi_day, "D").astype("datetime64[Y]").astype(int)) + 1970
            years = list(range(y0, y1 + 1))
            if isinstance(self._country, tuple):
                import holidays as _holidays  # noqa: PLC0415

                hol = _holidays.country_holidays(self._country[0], subdiv=self._country[1],
                                                 years=years)
            else:
                hol = self._country
                for y in years:  # populate the years we need (loop over years, not rows)
                    hol.get(_dt.date(y, 1, 1))
            out.append(np.array(list(hol.keys()), dtype="datetime64[D]").astype(np.int64))
        return np.concatenate(out)

    def _build(self, lo_day: int, hi_day: int) -> _Span:
        days = np.arange(lo_day, hi_day, dtype=np.int64)
        weekday = (days + 3) % 7  # 1970-01-01 was a Thursday
        open_day = ~np.isin(days, self._holiday_days(lo_day, hi_day))
        parts = [(days[(weekday == d) & open_day], a, b) for d, a, b in self._template]
        day = np.concatenate([p[0] for p in parts])
        lo_local = np.concatenate([p[0] * _DAY_NS + p[1] * _SEC_NS for p in parts])
        hi_local = np.concatenate([p[0] * _DAY_NS + p[2] * _SEC_NS for p in parts])
        order = np.argsort(lo_local, kind="stable")
        day, lo_local, hi_local = day[order], lo_local[order], hi_local[order]
        start, end = self._localize(lo_local), self._localize(hi_local)
        keep = end > start
        start, end, day = start[keep], end[keep], day[keep]
        length = end - start
        cum = (np.cumsum(length) - length).astype(np.int64)
        bday, first = np.unique(day, return_index=True)
        last = np.concatenate([first[1:], [len(day)]]) - 1 if len(first) else first
        bday_len = np.add.reduceat(length, first) if len(first) else length[:0]
        return _Span(lo_day, hi_day, start, end, cum, day, bday, cum[first], bday_len,
                     end[last] if len(last) else end[:0])

    def _localize(self, local_ns: np.ndarray) -> np.ndarray:
        idx = pd.DatetimeIndex(local_ns.view("datetime64[ns]"))
        aware = idx.tz_localize(self.timezone, ambiguous=np.ones(len(idx), dtype=bool),
                                nonexistent="shift_forward")
        return aware.as_unit("ns").asi8

    def _ensure(self, lo_ns: int, hi_ns: int) -> _Span:
        """A span whose intervals cover [lo_ns, hi_ns] with a margin on both sides."""
        lo_day, hi_day = lo_ns // _DAY_NS - 8, hi_ns // _DAY_NS + 9
        if lo_day < _LO_DAY or hi_day > _HI_DAY:
            raise ValueError("timestamps: too close to the limits of nanosecond timestamps "
                             "(1677-09-21 to 2262-04-11) for business-time arithmetic")
        sp = self._span
        if sp is not None and sp.lo_day <= lo_day and hi_day <= sp.hi_day:
            return sp
        if sp is not None:
            lo_day, hi_day = min(lo_day, sp.lo_day), max(hi_day, sp.hi_day)
        # grow in generous steps so repeated calls reuse the span
        lo_day, hi_day = max(lo_day - 183, _LO_DAY), min(hi_day + 366, _HI_DAY)
        sp = self._build(lo_day, hi_day)
        if len(sp.start) == 0 and len(self._explicit):
            # closed dates covering the whole window: reach past the closure on both sides
            lo_day = max(min(lo_day, int(self._explicit.min()) - 31), _LO_DAY)
            hi_day = min(max(hi_day, int(self._explicit.max()) + 31), _HI_DAY)
            sp = self._build(lo_day, hi_day)
        if len(sp.start) == 0:
            raise ValueError("holidays/closed_dates: the calendar has no open time at all in "
                             f"{np.datetime64(lo_day, 'D')}..{np.datetime64(hi_day, 'D')}")
        self._span = sp
        return sp

    def _grow(self, sp: _Span, *, before: bool, business_ns: float,
              what: str = "duration") -> _Span:
        """Extend the span by enough days to hold business_ns more business time."""
        days = int(min(business_ns / max(self._week_ns, 1) * 7 * 1.25, 10 * _HI_DAY)) + 31
        if before:
            if sp.lo_day <= _LO_DAY:
                raise ValueError(f"{what}: {_OUT_OF_RANGE}")
            lo = max(sp.lo_day - days, _LO_DAY)
            return self._ensure((lo + 8) * _DAY_NS, (sp.hi_day - 10) * _DAY_NS)
        if sp.hi_day >= _HI_DAY:
            raise ValueError(f"{what}: {_OUT_OF_RANGE}")
        hi = min(sp.hi_day + days, _HI_DAY)
        return self._ensure((sp.lo_day + 10) * _DAY_NS, (hi - 9) * _DAY_NS)

    def _span_for(self, *arrays: np.ndarray) -> _Span:
        vals = [a for a in arrays if a.size]
        if not vals:
            return self._ensure(0, 0)
        lo = min(int(a.min()) for a in vals)
        hi = max(int(a.max()) for a in vals)
        return self._ensure(lo, hi)

    # ----------------------------------------------------------------- operations
    def is_open(self, ts: Any) -> Any:
        """Whether the desk is open at each instant (``[open, close)``); NaT gives False."""
        t, nat, wrap = _timestamps(ts, "ts")
        sp = self._span_for(t[~nat])
        i = np.searchsorted(sp.start, t, side="right") - 1
        out = (i >= 0) & (t < sp.end[np.maximum(i, 0)]) & ~nat
        return wrap.values(out)

    def next_open(self, ts: Any) -> Any:
        """The first open instant at or after each timestamp (itself when open)."""
        t, nat, wrap = _timestamps(ts, "ts")
        sp = self._span_for(t[~nat])
        tv = np.where(nat, sp.start[0], t)
        i = np.searchsorted(sp.start, tv, side="right") - 1
        is_in = (i >= 0) & (tv < sp.end[np.maximum(i, 0)])
        while (~is_in & (i + 1 >= len(sp.start))).any():
            sp = self._grow(sp, before=False, business_ns=0)
            i = np.searchsorted(sp.start, tv, side="right") - 1
            is_in = (i >= 0) & (tv < sp.end[np.maximum(i, 0)])
        out = np.where(is_in, tv, sp.start[np.minimum(i + 1, len(sp.start) - 1)])
        return wrap.times(out, nat)

    def business_duration(self, start: Any, end: Any) -> Any:
        """Open time between two instants, ``B(end) - B(start)``, as timedeltas.

        Negative when ``end`` precedes ``start``; NaT where either is NaT.
        """
        _same_index(start, end, "start and end")
        s, nat_s, wrap = _timestamps(start, "start")
        e, nat_e, wrap_e = _timestamps(end, "end")
        s, e, nat_s, nat_e = _broadcast(s, e, nat_s, nat_e, an="start", bn="end")
        if wrap.scalar and not wrap_e.scalar:
            wrap = wrap_e
        nat = nat_s | nat_e
        sp = self._span_for(s[~nat], e[~nat])
        out = sp.clock(e) - sp.clock(s)
        return wrap.durations(out, nat)

    def add_business_time(self, ts: Any, duration: Any) -> Any:
        """The earliest instant at which ``duration`` of business time has elapsed after ``ts``.

        A duration that runs out exactly at closing time ends at closing time; a zero duration
        returns ``ts`` itself (open or closed); a negative duration counts back and returns the
        latest instant ``u <= ts`` with ``business_duration(u, ts) == -duration``.
        """
        _same_index(ts, duration, "ts and duration")
        t, nat_t, wrap = _timestamps(ts, "ts")
        d, nat_d = _durations(duration, "duration")
        t, d, nat_t, nat_d = _broadcast(t, d, nat_t, nat_d, an="ts", bn="duration")
        nat = nat_t | nat_d
        t = np.where(nat, 0, t)
        d = np.where(nat, 0, d)
        if wrap.scalar and isinstance(duration, pd.Series):
            wrap = _Wrap(duration.index, wrap.tz, scalar=False, series=True)
        elif wrap.scalar and len(t) > 1:
            wrap = _Wrap(None, wrap.tz, scalar=False)
        sp = self._span_for(t[~nat])
        for _ in range(_MAX_EXTENSIONS):
            b = sp.clock(t) + d
            b = np.where(nat, 1, b)
            over = float(b.max() - sp.total) if b.size else -1.0
            under = float(-b.min()) if b.size else -1.0
            if over < 0 and under < 0:
                break
            if over >= 0:
                sp = self._grow(sp, before=False, business_ns=over)
            if under >= 0:
                sp = self._grow(sp, before=True, business_ns=under)
        else:  # pragma: no cover - guarded by _grow's 2000-year limit
            raise ValueError("duration: could not reach the result")
        out = t.copy()
        for mask, invert in ((d > 0, sp.earliest), (d < 0, sp.latest)):
            if mask.all():
                out = invert(b)
            elif mask.any():
                out[mask] = invert(b[mask])
        return wrap.times(out, nat)

    def add_business_days(self, ts: Any, n: Any = 1) -> Any:
        """The same position ``n`` business days later (``n >= 0``).

        With ``s`` = :meth:`next_open` of ``ts`` on business day ``D`` and ``e`` the business
        time from ``D``'s opening to ``s``, returns the earliest instant with ``B`` equal to the
        start of business day ``D + n`` plus ``min(e, length of that day)``. For uniform
        ``09:00-17:00`` days: an open ``ts`` maps to the same clock time ``n`` business days
        later; a closed ``ts`` maps to the close of the ``n``-th business day counting the one
        that opens next. ``n = 0`` returns ``ts``.
        """
        t, nat, wrap = _timestamps(ts, "ts")
        n_arr = np.asarray(n)
        if n_arr.dtype.kind not in "iu" and not (n_arr.dtype.kind == "f"
                                                  and np.all(n_arr == np.round(n_arr))):
            raise ValueError(f"n: expected whole numbers of business days, got {n!r}")
        n_arr = np.broadcast_to(n_arr.astype(np.int64), t.shape)
        if (n_arr < 0).any():
            raise ValueError(f"n: business days must be >= 0, got {int(n_arr.min())}")
        s = self._ns(self.next_open(_utc(np.where(nat, 0, t))))
        sp = self._span_for(s)
        for _ in range(_MAX_EXTENSIONS):
            k = np.searchsorted(sp.start, s, side="right") - 1
            pos = np.searchsorted(sp.bday, sp.day[k])
            if (pos + n_arr < len(sp.bday)).all():
                break
            sp = self._grow(sp, before=False, business_ns=float(n_arr.max()) * 86_400e9,
                            what="n")
        e = sp.clock(s) - sp.bday_cum[pos]
        p = pos + n_arr
        b = sp.bday_cum[p] + np.minimum(e, sp.bday_len[p])
        out = np.where(n_arr == 0, t, sp.earliest(np.maximum(b, 1)))
        return wrap.times(out, nat)

    def end_of_next_business_day(self, ts: Any, n: int = 1) -> Any:
        """The closing time of the ``n``-th business day *after* each timestamp's local date.

        ``Tue 14:00 -> Wed close``, ``Tue 07:00 -> Wed close``, ``Sat -> Mon close``: the
        helpdesk promise "by the end of the next business day" (``n = 2``: the day after).
        """
        if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
            raise ValueError(f"n: expected a whole number of business days >= 1, got {n!r}")
        t, nat, wrap = _timestamps(ts, "ts")
        t = np.where(nat, 0, t)
        local = _utc(t).tz_convert(self.timezone).tz_localize(None).as_unit("ns").asi8
        day = local // _DAY_NS
        sp = self._span_for(t)
        for _ in range(_MAX_EXTENSIONS):
            p = np.searchsorted(sp.bday, day, side="right") + (int(n) - 1)
            if (p < len(sp.bday)).all():
                break
            sp = self._grow(sp, before=False, business_ns=0 if n == 1 else n * 86_400e9)
        return wrap.times(sp.bday_close[p], nat)

    def step_table(self, start: Any, end: Any) -> pd.DataFrame:
        """The open intervals covering ``[start, end]`` as a small table an engine can join.

        One row per open interval, in whole seconds since 1970-01-01 UTC: ``open_s`` and
        ``close_s`` (``[open, close)``), ``cum_s`` (business seconds before ``open_s``, from an
        origin before ``start``), and ``lo_s``/``hi_s``, the range of instants whose business
        clock the row gives: from its opening to the next opening (a first row with an empty
        interval takes every earlier instant, the last row every later one). For an instant
        ``t`` in ``[lo_s, hi_s)``: ``B(t) = cum_s + min(max(t - open_s, 0), close_s - open_s)``,
        the business clock of :meth:`business_duration` in seconds. The table holds a few rows
        per week of the span (about 1,300 for five years of a Mon-Fri desk), so a range join
        against it computes business time in any SQL engine without user-defined functions.

        Args:
            start, end: Aware timestamps; the table covers them with at least a week of
                margin on each side.

        Raises:
            ValueError: Opening hours not on whole seconds (every boundary must be).
        """
        return self.clock_tables(start, end)["steps"]

    def clock_tables(self, start: Any, end: Any, *, days_ahead: Sequence[int] = ()
                     ) -> dict[str, pd.DataFrame]:
        """:meth:`step_table` with two more tables on the same business clock (one origin),
        for deadlines in an engine:

        - ``days``: one row per business day, ``b_lo_s`` and ``b_hi_s`` (the business clock at
          its opening and at its close) and ``next_len_s`` (the business seconds of the next
          business day). :meth:`add_business_days` by one is then, for an instant with clock
          ``b`` in ``[b_lo_s, b_hi_s)``: the clock ``b_hi_s + min(b - b_lo_s, next_len_s)``.
        - ``dates``: one row per local date, ``lo_s`` and ``hi_s`` (its UTC bounds: the first
          instant of the date and of the next), ``due_s`` (the close of the first business day
          after it, :meth:`end_of_next_business_day`) and ``due_b_s`` (the business clock
          there).

        All in whole seconds since 1970-01-01 UTC; see :meth:`step_table` for ``steps``.
        Local dates are taken as monotone in UTC (true of every zone whose clocks do not go
        back across midnight).

        For each ``n`` of ``days_ahead`` (business days, ``n >= 2``), ``days`` also has
        ``ahead{n}_lo_s`` and ``ahead{n}_len_s`` (the clock at the opening of the ``n``-th
        business day after the row's and that day's length), so :meth:`add_business_days` by
        ``n`` is the clock ``ahead{n}_lo_s + min(b - b_lo_s, ahead{n}_len_s)``; and ``dates``
        has ``due{n}_b_s``, the clock at the close of the ``n``-th business day after the date
        (``end_of_next_business_day(ts, n)``).
        """
        ahead = sorted({int(n) for n in days_ahead})
        if any(n < 2 for n in ahead):
            raise ValueError(f"days_ahead: expected business days >= 2, got {list(days_ahead)}")
        lo, hi = (int(self._ns([pd.Timestamp(x)])[0]) for x in (start, end))
        if hi < lo:
            lo, hi = hi, lo
        sp = self._ensure(lo, hi)
        if ahead:  # room for the furthest day ahead of the last one
            far = int(self._ns(self.end_of_next_business_day(
                pd.DatetimeIndex([hi], tz="UTC"), ahead[-1] + 1))[0])
            sp = self._ensure(lo, far)
        if ((sp.start % _SEC_NS) | (sp.end % _SEC_NS)).any():  # pragma: no cover - hours are
            raise ValueError("hours: opening times must fall on whole seconds")  # HH:MM
        open_s, close_s = sp.start // _SEC_NS, sp.end // _SEC_NS
        cum_s = sp.cum // _SEC_NS
        # a leading empty interval at the first opening holds every earlier instant (B = 0)
        open_s = np.concatenate([[open_s[0]], open_s])
        close_s = np.concatenate([[open_s[0]], close_s])
        cum_s = np.concatenate([[0], cum_s])
        edge = np.int64(2**62)
        lo_s = np.concatenate([[-edge], open_s[1:]])
        hi_s = np.concatenate([open_s[1:], [edge]])
        steps = pd.DataFrame({"lo_s": lo_s, "hi_s": hi_s, "open_s": open_s, "close_s": close_s,
                              "cum_s": cum_s}).astype("int64")
        b_lo = sp.bday_cum // _SEC_NS
        b_hi = (sp.bday_cum + sp.bday_len) // _SEC_NS
        days = pd.DataFrame({"b_lo_s": b_lo[:-1], "b_hi_s": b_hi[:-1],
                             "next_len_s": sp.bday_len[1:] // _SEC_NS}).astype("int64")
        for n in ahead:  # rows without a day n ahead are dropped (beyond the span)
            k = len(b_lo) - n
            days.loc[:k - 1, f"ahead{n}_lo_s"] = b_lo[n:]
            days.loc[:k - 1, f"ahead{n}_len_s"] = sp.bday_len[n:] // _SEC_NS
        days = days.dropna().astype("int64")
        local = np.arange(sp.lo_day, sp.hi_day, dtype=np.int64)
        bounds = self._localize(np.arange(sp.lo_day, sp.hi_day + 1, dtype=np.int64) * _DAY_NS)
        p = np.searchsorted(sp.bday, local, side="right")
        ok = p < len(sp.bday)
        q = p[ok]
        dates = pd.DataFrame({"lo_s": bounds[:-1][ok] // _SEC_NS, "hi_s": bounds[1:][ok] // _SEC_NS,
                              "due_s": sp.bday_close[q] // _SEC_NS,
                              "due_b_s": b_hi[q]}).astype("int64")
        for n in ahead:
            qn = q + n - 1
            inside = qn < len(b_hi)
            dates.loc[inside, f"due{n}_b_s"] = b_hi[qn[inside]]
        dates = dates.dropna().astype("int64")
        return {"steps": steps, "days": days, "dates": dates}

    @staticmethod
    def _ns(x: Any) -> np.ndarray:
        return pd.DatetimeIndex(x).as_unit("ns").asi8


def _utc(ns: np.ndarray) -> pd.DatetimeIndex:
    return pd.DatetimeIndex(np.asarray(ns, dtype=np.int64).view("datetime64[ns]")).tz_localize(
        "UTC")


class _Wrap:
    """Rebuilds outputs in the caller's container (Series, DatetimeIndex, scalar)."""

    def __init__(self, index: Any, tz: Any, *, scalar: bool, name: Any = None,
                 series: bool = False) -> None:
        self.index, self.tz, self.scalar, self.name, self.series = index, tz, scalar, name, series

    def times(self, ns: np.ndarray, nat: np.ndarray) -> Any:
        vals = np.where(nat, np.iinfo(np.int64).min, ns).astype(np.int64)
        idx = pd.DatetimeIndex(vals.view("datetime64[ns]"), tz="UTC").tz_convert(self.tz)
        if self.scalar:
            return idx[0]
        if self.series:
            return pd.Series(idx, index=self.index, name=self.name)
        return idx

    def durations(self, ns: np.ndarray, nat: np.ndarray) -> Any:
        vals = np.where(nat, np.iinfo(np.int64).min, ns).astype(np.int64)
        idx = pd.TimedeltaIndex(vals.view("timedelta64[ns]"))
        if self.scalar:
            return idx[0]
        if self.series:
            return pd.Series(idx, index=self.index, name=self.name)
        return idx

    def values(self, arr: np.ndarray) -> Any:
        if self.scalar:
            return bool(arr[0])
        if self.series:
            return pd.Series(arr, index=self.index, name=self.name)
        return arr


def _timestamps(ts: Any, name: str) -> tuple[np.ndarray, np.ndarray, _Wrap]:
    """Tz-aware timestamps -> (UTC int64 ns, NaT mask, wrapper)."""
    scalar = False
    if isinstance(ts, pd.Series):
        try:
            idx = pd.DatetimeIndex(ts)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{name}: expected time-zone-aware timestamps ({exc})") from exc
        wrap_index, series, sname = ts.index, True, ts.name
    else:
        wrap_index, series, sname = None, False, None
        if isinstance(ts, (pd.Timestamp, _dt.datetime, np.datetime64, str)):
            scalar, ts = True, [ts]
        try:
            idx = pd.DatetimeIndex(ts)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{name}: expected time-zone-aware timestamps ({exc})") from exc
    if idx.tz is None:
        if idx.isna().all() and len(idx):
            idx = idx.tz_localize("UTC")
        else:
            raise ValueError(f"{name}: timestamps are naive (no time zone); localize them "
                             "first, e.g. with .dt.tz_localize('UTC')")
    nat = np.asarray(idx.isna())
    ns = idx.as_unit("ns").asi8.copy()
    ns[nat] = 0
    return ns, nat, _Wrap(wrap_index, idx.tz, scalar=scalar, name=sname, series=series)


def _same_index(a: Any, b: Any, names: str) -> None:
    """Two Series are paired by position: refuse when their indexes say otherwise."""
    if isinstance(a, pd.Series) and isinstance(b, pd.Series) and not a.index.equals(b.index):
        raise ValueError(f"{names}: the Series have different indexes, and are paired by "
                         "position, not by label; align them first (e.g. b.reindex(a.index)) "
                         "or pass arrays")


def _durations(d: Any, name: str) -> tuple[np.ndarray, np.ndarray]:
    if d is pd.NaT:
        return np.zeros(1, dtype=np.int64), np.ones(1, dtype=bool)
    if isinstance(d, (pd.Timedelta, _dt.timedelta, np.timedelta64, str)):
        d = [d]
    s = d if isinstance(d, pd.Series) else pd.Series(d)
    if pd.api.types.infer_dtype(s, skipna=True) in (
            "integer", "floating", "mixed-integer-float", "decimal", "boolean"):
        raise ValueError(f"{name}: plain numbers are not durations (pandas would read 4 as 4 "
                         "nanoseconds); give timedeltas, e.g. pd.Timedelta(hours=4) or "
                         "pd.to_timedelta(values, unit='h')")
    try:
        idx = pd.TimedeltaIndex(pd.to_timedelta(s))
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name}: expected timedeltas ({exc})") from exc
    nat = np.asarray(idx.isna())
    ns = idx.as_unit("ns").asi8.copy()
    ns[nat] = 0
    return ns, nat


def _broadcast(a: np.ndarray, b: np.ndarray, na: np.ndarray, nb: np.ndarray, *, an: str,
               bn: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    if len(a) != len(b) and 1 not in (len(a), len(b)):
        raise ValueError(f"{an} and {bn}: lengths differ ({len(a)} vs {len(b)})")
    n = 0 if 0 in (len(a), len(b)) else max(len(a), len(b))
    return (np.broadcast_to(a, n), np.broadcast_to(b, n), np.broadcast_to(na, n),
            np.broadcast_to(nb, n))
