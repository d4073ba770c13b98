"""Arrival profiles: conversations per hour of the week, per stream, with their handle times.

An :class:`ArrivalProfile` is a non-homogeneous Poisson process whose rate is constant within
each local hour of the week (Monday 00:00-01:00 is hour 0, Sunday 23:00-24:00 is hour 167), one
rate vector per :class:`ArrivalStream`. Each stream joins one arm's queue (its first-response
policy) and carries its own handle-time distribution: an empirical sample drawn with
replacement, or an exponential distribution with a given mean.

Profiles come from observed conversations (:meth:`ArrivalProfile.from_conversations`: the mean
count in each hour of the week, the maximum-likelihood rate of a piecewise-constant Poisson
process) or from a constant rate (:meth:`ArrivalProfile.constant`, the M/M/c validation case).

References:
    Lewis, P. A. W. and Shedler, G. S. (1979). Simulation of nonhomogeneous Poisson processes
    by thinning. Naval Research Logistics Quarterly 26(3), 403-413 (piecewise-constant rates
    are simulated exactly by a Poisson count per piece with uniform times within it).
    Brown, L. et al. (2005). Statistical analysis of a telephone call center: a
    queueing-science perspective. JASA 100(469), 36-50 (hourly Poisson arrivals).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from frt_experiments.errors import DataError, Problem
from frt_experiments.schema import (
    ABANDONED_AT,
    ARM,
    CONTROL_ARM,
    CREATED_AT,
    CUSTOMER_ID,
    FIRST_RESPONSE_AT,
    HANDLE_SECONDS,
)

__all__ = ["HOURS_PER_WEEK", "ArrivalProfile", "ArrivalStream"]

#: Hours in a week; hour-of-week 0 is Monday 00:00-01:00 local time.
HOURS_PER_WEEK = 168
_HOUR_NS = 3600 * 10**9


@dataclass(frozen=True)
class ArrivalStream:
    """One stream of conversations: its arm's queue, hourly rates and handle times.

    Attributes:
        name: Stream name (e.g. ``"fast"``, ``"unassigned"``).
        arm: The arm whose queue and first-response policy the stream's conversations join.
        rates: Arrivals per hour for each of the 168 hours of the week (local time).
        handle_seconds: Empirical handle times drawn with replacement; empty to draw
            exponential handle times with mean ``aht_seconds``.
        aht_seconds: Mean handle time (the sample mean when a sample is given).
    """

    name: str
    arm: str
    rates: np.ndarray
    handle_seconds: np.ndarray = field(default_factory=lambda: np.empty(0))
    aht_seconds: float = float("nan")

    def __post_init__(self) -> None:
        rates = np.asarray(self.rates, dtype=float)
        if rates.shape == ():
            rates = np.full(HOURS_PER_WEEK, float(rates))
        if rates.shape != (HOURS_PER_WEEK,):
            raise ValueError(f"rates: expected one rate per hour of the week "
                             f"({HOURS_PER_WEEK}), got shape {rates.shape}")
        if not np.isfinite(rates).all() or (rates < 0).any():
            raise ValueError(f"rates: arrivals per hour must be finite and >= 0 (stream "
                             f"{self.name!r})")
        sample = np.asarray(self.handle_seconds, dtype=float)
        if sample.size:
            if not np.isfinite(sample).all() or (sample < 0).any():
                raise ValueError(f"handle_seconds: must be finite and >= 0 (stream "
                                 f"{self.name!r})")
            aht = float(sample.mean())
        else:
            aht = float(self.aht_seconds)
            if not (np.isfinite(aht) and aht > 0):
                raise ValueError(f"aht_seconds: must be > 0 when no handle-time sample is "
                                 f"given, got {self.aht_seconds!r} (stream {self.name!r})")
        object.__setattr__(self, "rates", rates)
        object.__setattr__(self, "handle_seconds", sample)
        object.__setattr__(self, "aht_seconds", aht)

    @property
    def per_week(self) -> float:
        """Expected arrivals per week."""
        return float(self.rates.sum())

    def _handle(self, n: int, rng: np.random.Generator) -> np.ndarray:
        if self.handle_seconds.size:
            return self.handle_seconds[rng.integers(0, self.handle_seconds.size, n)]
        return rng.exponential(self.aht_seconds, n)


@dataclass(frozen=True)
class ArrivalProfile:
    """Hour-of-week Poisson arrivals of several streams, in a local time zone.

    Attributes:
        streams: The streams.
        timezone: IANA zone in which the hours of the week are counted.

    Examples:
        >>> p = ArrivalProfile.constant(18.0, aht_seconds=900)
        >>> round(p.workload_hours_per_week(), 1)
        756.0
    """

    streams: tuple[ArrivalStream, ...]
    timezone: str = "UTC"

    def __post_init__(self) -> None:
        streams = tuple(self.streams)
        if not streams:
            raise ValueError("streams: a profile needs at least one stream")
        names = [s.name for s in streams]
        if len(set(names)) != len(names):
            raise ValueError(f"streams: names must be unique, got {names}")
        object.__setattr__(self, "streams", streams)

    # ----------------------------------------------------------------- constructors
    @classmethod
    def constant(cls, arrivals_per_hour: float, *, aht_seconds: float, arm: str = CONTROL_ARM,
                 timezone: str = "UTC") -> ArrivalProfile:
        """A homogeneous Poisson stream with exponential handle times (M/M/c arrivals)."""
        if not (np.isfinite(_real(arrivals_per_hour)) and arrivals_per_hour > 0):
            raise ValueError(f"arrivals_per_hour: must be > 0, got {arrivals_per_hour!r}")
        stream = ArrivalStream(arm, arm, np.full(HOURS_PER_WEEK, float(arrivals_per_hour)),
                               aht_seconds=aht_seconds)
        return cls((stream,), timezone)

    @classmethod
    def from_conversations(
        cls, conversations: pd.DataFrame, assignments: pd.DataFrame | None = None, *,
        timezone: str = "UTC", unassigned_arm: str = CONTROL_ARM,
        source: str = "conversations",
    ) -> ArrivalProfile:
        """Mean arrivals in each local hour of the week, one stream per arm.

        Conversations of customers without an assignment form the stream ``"unassigned"``,
        whose conversations join ``unassigned_arm``'s queue. The rate of an hour of the week
        is the number of conversations created in it divided by how often that hour occurs
        between the first and the last conversation's local dates (whole days).
        """
        conv = _checked(conversations, source)
        created = pd.DatetimeIndex(conv[CREATED_AT]).tz_convert(timezone)
        if assignments is not None:
            arm_of = assignments.drop_duplicates(CUSTOMER_ID).set_index(CUSTOMER_ID)[ARM]
            arm = conv[CUSTOMER_ID].map(arm_of).astype(object).to_numpy()
        else:
            arm = np.full(len(conv), None, dtype=object)
        stream = np.where(pd.isna(arm), "unassigned", arm).astype(str)
        how = created.day_of_week.to_numpy() * 24 + created.hour.to_numpy()
        first = created.min().normalize()
        last = created.max().normalize() + pd.Timedelta(days=1)
        grid = pd.date_range(first, last, freq="h", inclusive="left")
        occurs = np.bincount(grid.day_of_week * 24 + grid.hour, minlength=HOURS_PER_WEEK)
        handle = conv[HANDLE_SECONDS].to_numpy(dtype=float)
        # abandoned conversations count as arrivals; their handle time (0, or none) does not
        handle = np.where(_abandoned(conv), np.nan, handle)
        streams = []
        for name in sorted(set(stream.tolist())):  # one pass per stream, not per row
            mask = stream == name
            counts = np.bincount(how[mask], minlength=HOURS_PER_WEEK)
            rates = np.divide(counts, occurs, out=np.zeros(HOURS_PER_WEEK),
                              where=occurs > 0)
            h = handle[mask]
            streams.append(ArrivalStream(name, unassigned_arm if name == "unassigned" else name,
                                         rates, h[np.isfinite(h)]))
        return cls(tuple(streams), timezone)

    # ----------------------------------------------------------------- transformations
    def scaled(self, factor: float | Mapping[str, float]) -> ArrivalProfile:
        """Every stream's rates times ``factor`` (or per stream name from a mapping)."""
        get = factor.get if isinstance(factor, Mapping) else (lambda _n, _d: factor)
        out = []
        for s in self.streams:
            f = float(get(s.name, 1.0))
            if not (np.isfinite(f) and f >= 0):
                raise ValueError(f"factor: must be finite and >= 0, got {f!r} for {s.name!r}")
            out.append(replace(s, rates=s.rates * f))
        return replace(self, streams=tuple(out))

    def with_arms(self, arms: Mapping[str, str]) -> ArrivalProfile:
        """The same streams sent to other arms' queues (``{stream name: arm}``)."""
        unknown = set(arms) - {s.name for s in self.streams}
        if unknown:
            raise ValueError(f"arms: unknown streams {sorted(unknown)}; the profile has "
                             f"{[s.name for s in self.streams]}")
        return replace(self, streams=tuple(replace(s, arm=arms.get(s.name, s.arm))
                                           for s in self.streams))

    def select(self, names: Any) -> ArrivalProfile:
        """Only the named streams."""
        keep = tuple(s for s in self.streams if s.name in set(names))
        return replace(self, streams=keep)

    # ----------------------------------------------------------------- description
    @property
    def arms(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(s.arm for s in self.streams))

    def workload_hours_per_week(self) -> float:
        """Expected agent hours of work arriving per week."""
        return float(sum(s.per_week * s.aht_seconds for s in self.streams) / 3600.0)

    def to_pandas(self) -> pd.DataFrame:
        """Rates per hour of the week (rows) and stream (columns)."""
        return pd.DataFrame({s.name: s.rates for s in self.streams},
                            index=pd.RangeIndex(HOURS_PER_WEEK, name="hour_of_week"))

    def __repr__(self) -> str:
        parts = ", ".join(f"{s.name}->{s.arm}: {s.per_week:,.0f}/week, AHT {s.aht_seconds:,.0f} s"
                          for s in self.streams)
        return f"ArrivalProfile({self.timezone}; {parts})"

    # ----------------------------------------------------------------- sampling
    def sample(self, start: Any, end: Any, *,
               rng: int | np.random.Generator | None = None) -> pd.DataFrame:
        """Draw conversations created in ``[start, end)``.

        Returns a frame sorted by ``created_at`` with ``created_at`` (UTC), ``stream``,
        ``arm`` and ``handle_seconds``.
        """
        created, stream, handle = self._draw(_ns(start, "start"), _ns(end, "end"),
                                             np.random.default_rng(rng))
        names = np.array([s.name for s in self.streams], dtype=object)
        arms = np.array([s.arm for s in self.streams], dtype=object)
        return pd.DataFrame({
            CREATED_AT: pd.DatetimeIndex(created.view("datetime64[ns]"), tz="UTC"),
            "stream": names[stream], ARM: arms[stream], HANDLE_SECONDS: handle,
        })

    def _draw(self, start_ns: int, end_ns: int,
              rng: np.random.Generator | Sequence[np.random.Generator]
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(created UTC ns sorted, stream index, handle seconds).

        ``rng``: one generator for all streams, or one per stream (common random numbers:
        a stream drawn with the same generator in two profiles gets the same arrivals when
        its rates and handle times are the same).
        """
        gens = ([rng] * len(self.streams) if isinstance(rng, np.random.Generator)
                else list(rng))
        if len(gens) != len(self.streams):
            raise ValueError(f"rng: expected one generator per stream ({len(self.streams)}), "
                             f"got {len(gens)}")
        if end_ns <= start_ns:
            raise ValueError("end: must be after start")
        lo = pd.Timestamp(start_ns, tz="UTC").tz_convert(self.timezone).floor(
            "h", ambiguous=True, nonexistent="shift_forward")
        edges = pd.date_range(lo, pd.Timestamp(end_ns, tz="UTC").tz_convert(self.timezone),
                              freq="h")
        edge_ns = np.append(edges.as_unit("ns").asi8, edges[-1].value + _HOUR_NS)
        how = (edges.day_of_week * 24 + edges.hour).to_numpy()
        a = np.clip(edge_ns[:-1], start_ns, end_ns)
        b = np.clip(edge_ns[1:], start_ns, end_ns)
        length = (b - a).astype(float)
        times, codes, handles = [], [], []
        for k, s in enumerate(self.streams):  # one vectorized draw per stream
            g = gens[k]
            counts = g.poisson(s.rates[how] * length / _HOUR_NS)
            total = int(counts.sum())
            t = np.repeat(a, counts) + (g.random(total) * np.repeat(length, counts)).astype(
                np.int64)
            times.append(t)
            codes.append(np.full(total, k, dtype=np.int64))
            handles.append(s._handle(total, g))
        created = np.concatenate(times)
        order = np.argsort(created, kind="stable")
        return created[order], np.concatenate(codes)[order], np.concatenate(handles)[order]


def _real(value: Any) -> float:
    """``value`` as a float; NaN when it is not a real number (a string, a bool, None), so
    that range checks reject it with a message naming the argument."""
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        return float("nan")
    return float(value)


def _ns(ts: Any, name: str) -> int:
    t = pd.Timestamp(ts)
    if t.tz is None:
        raise ValueError(f"{name}: timestamp {ts!r} is naive; give a time zone")
    return int(t.as_unit("ns").value)


def _checked(conversations: pd.DataFrame, source: str) -> pd.DataFrame:
    missing = [c for c in (CUSTOMER_ID, CREATED_AT, HANDLE_SECONDS)
               if c not in conversations.columns]
    if missing:
        raise DataError([Problem(source, c, "column is missing (needed for the desk "
                                 "simulation)") for c in missing])
    if len(conversations) == 0:
        raise DataError([Problem(source, None, "the table has no conversations")])
    created = conversations[CREATED_AT]
    if not isinstance(created.dtype, pd.DatetimeTZDtype):
        raise DataError([Problem(source, CREATED_AT, "must hold time-zone-aware timestamps "
                                 "(read the table with frt_experiments.read_table)")])
    bad = created.isna().to_numpy()
    if bad.any():
        rows = tuple(np.flatnonzero(bad)[:5].tolist())
        raise DataError([Problem(source, CREATED_AT, "empty", int(bad.sum()), rows)])
    problems = _abandonment_problems(conversations, source)
    if problems:
        raise DataError(problems)
    handle = pd.to_numeric(conversations[HANDLE_SECONDS], errors="coerce").to_numpy(float)
    # an abandoned conversation was never served: its handle time may be empty
    bad = (~np.isfinite(handle) | (handle < 0)) & ~_abandoned(conversations)
    if bad.any():
        rows = tuple(np.flatnonzero(bad)[:5].tolist())
        raise DataError([Problem(source, HANDLE_SECONDS, "missing or negative (handle time "
                                 "must be >= 0 seconds)", int(bad.sum()), rows)])
    return conversations


def _abandoned(conversations: pd.DataFrame) -> np.ndarray:
    """Rows with an ``abandoned_at`` (all False without the column)."""
    if ABANDONED_AT not in conversations.columns:
        return np.zeros(len(conversations), bool)
    return conversations[ABANDONED_AT].notna().to_numpy(bool)


def _abandonment_problems(conversations: pd.DataFrame, source: str) -> list[Problem]:
    """The ``abandoned_at`` rules of :func:`~frt_experiments.schema.validate_conversations`
    on a typed table (aware timestamps, not before ``created_at``, never with a first
    response), for tables built in memory."""
    if ABANDONED_AT not in conversations.columns:
        return []
    gone = conversations[ABANDONED_AT]
    if not isinstance(gone.dtype, pd.DatetimeTZDtype):
        if gone.isna().all():
            return []
        return [Problem(source, ABANDONED_AT, "must hold time-zone-aware timestamps (read "
                        "the table with frt_experiments.read_table)")]
    out = []
    created = conversations[CREATED_AT]
    masks = [(gone < created).to_numpy(bool), np.zeros(len(gone), bool)]
    if FIRST_RESPONSE_AT in conversations.columns:
        masks[1] = (gone.notna() & conversations[FIRST_RESPONSE_AT].notna()).to_numpy(bool)
    for mask, rule in zip(masks, (f"earlier than {CREATED_AT}",
                                  f"set together with {FIRST_RESPONSE_AT} (an abandoned "
                                  "conversation got no response)"), strict=True):
        if mask.any():
            out.append(Problem(source, ABANDONED_AT, rule, int(mask.sum()),
                               tuple(np.flatnonzero(mask)[:5].tolist())))
    return out
