"""Desk analytics in the desk's units: observed and simulated waits per interval and per day.

A call centre reads its desk in intervals of 15, 30 or 60 minutes and in days: calls offered,
answered and abandoned, the share that waited at all, the mean and quantile waits of answered
calls, the share answered within a target (the service level) and the agents' occupancy.
:func:`desk_analytics` computes those figures for a conversations table (what happened) and for
a :func:`~frt_experiments.staffing.desk.simulate_desk` result (what the model says), side by
side on one grid, so that a replay can be judged interval by interval before it is used to plan.

Definitions (both sides alike; a conversation belongs to the interval it was created in):

- ``offered``: conversations created; ``answered``: with a first response; ``abandoned``:
  gone before one (``abandoned_at``); ``unresolved``: neither (still waiting when the data
  end, or never reached by the simulated roster). A simulation's counts are means per
  replication.
- ``p_wait``: share of offered not answered at once (a wait of 0 s); abandoned ones waited.
- ``mean_wait``, ``median_wait``, ``p90_wait``: waits of *answered* conversations (the ASA and
  its quantiles, numpy's default linear quantile), in the unit named in the column
  (``mean_wait_s``, ``mean_wait_min`` or ``mean_wait_h``), chosen from the typical wait
  (:func:`wait_unit`) or by the caller.
- ``service_level``: share of offered answered within ``target_seconds`` (abandoned and
  unresolved ones count as missed, as in Erlang A and
  :meth:`DeskResult.service_level <frt_experiments.staffing.desk.DeskResult.service_level>`).
- ``busy_agents``: mean agents serving (service from the first response for its handle
  time, as :func:`~frt_experiments.staffing.roster.busy_agents`); ``agents``: mean agents on
  duty from a roster or a headcount; ``occupancy``: their ratio (per day and over the window,
  over the intervals with agents on duty).

Waits are elapsed time by default (a live channel's queue is open while customers wait); with
a ``calendar``, business time of that calendar (the observed waits measured on it, the
simulated ones the desk's business-hour FRT: give the calendar the desk ran on).

**Intervals.** The whole-window figures come with percentile bootstrap intervals (Efron and
Tibshirani 1993, ch. 13) that resample whole days (ch. 8: days keep the dependence of a queue
within them), so every interval lies within its statistic's range (shares in [0, 1], waits
>= 0), where a normal interval of a skewed wait crosses 0. The simulated side resamples the
days of all replications, so its interval is that of the simulated mean.

References:
    Efron, B. and Tibshirani, R. J. (1993). An Introduction to the Bootstrap. Chapman & Hall:
    ch. 8 (resampling blocks of dependent data), ch. 13 (percentile intervals).
    Gans, N., Koole, G. and Mandelbaum, A. (2003). Telephone call centers: tutorial, review,
    and research prospects. M&SOM 5(2), 79-141: section 2 (the interval reports of a call
    centre: offered, abandoned, ASA, service level, occupancy).
    Brown, L. et al. (2005). Statistical analysis of a telephone call center: a
    queueing-science perspective. JASA 100(469), 36-50 (waits of answered calls, abandonment
    and the share that waited).
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from frt_experiments.errors import DataError, Problem
from frt_experiments.schema import ABANDONED_AT, CREATED_AT, FIRST_RESPONSE_AT, HANDLE_SECONDS
from frt_experiments.staffing.patience import waits
from frt_experiments.staffing.roster import Roster

if TYPE_CHECKING:
    from frt_experiments.calendar import BusinessCalendar
    from frt_experiments.staffing.desk import DeskResult

__all__ = ["UNITS", "DeskAnalytics", "desk_analytics", "wait_unit"]

#: Wait units and their length in seconds.
UNITS = {"s": 1.0, "min": 60.0, "h": 3600.0}
#: The two sides of the comparison.
SOURCES = ("observed", "simulated")
_NS = 10**9
_DAY_NS = 86_400 * _NS
#: Statistics of a table in order; the waits' names get their unit (``mean_wait_s``).
_COUNTS = ("offered", "answered", "abandoned", "unresolved")
_SHARES = ("p_wait", "p_abandon", "service_level", "occupancy")
_WAITS = ("mean_wait", "median_wait", "p90_wait")


def wait_unit(seconds: Any) -> str:
    """The unit that reads a desk's waits best: ``"s"`` when the typical wait is under 3
    minutes (a live queue), ``"min"`` under 3 hours, ``"h"`` beyond (an email desk).

    The typical wait is the larger of the mean and the 90th percentile of the finite waits
    (a live queue answers most calls at once, so its median is 0).

    Examples:
        >>> wait_unit([0, 0, 12, 40]), wait_unit([600, 1800]), wait_unit([3600 * 20])
        ('s', 'min', 'h')
    """
    x = np.asarray(seconds, dtype=float).ravel()
    x = x[np.isfinite(x)]
    if not x.size:
        return "s"
    typical = max(float(np.quantile(x, 0.9)), float(x.mean()))
    return "s" if typical < 180 else "min" if typical < 3 * 3600 else "h"


def _unit_text(unit: str) -> str:
    return {"s": "seconds", "min": "minutes", "h": "hours"}[unit]


# ----------------------------------------------------------------------------- inputs
@dataclass(frozen=True)
class _Side:
    """Per conversation of one side: creation, outcome and wait; service for busy time."""

    created: np.ndarray  # UTC ns
    unit_of: np.ndarray  # resampling unit (day, or replication x day)
    answered: np.ndarray
    abandoned: np.ndarray
    wait: np.ndarray  # seconds to the first response (NaN unless answered)
    serve_start: np.ndarray  # UTC ns of answered ones
    serve_end: np.ndarray
    serve_rep: np.ndarray  # their replication
    replications: int


def _observed_side(conv: pd.DataFrame, calendar: BusinessCalendar | None,
                   source: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray,
                                         np.ndarray, np.ndarray]:
    if not isinstance(conv, pd.DataFrame):
        raise TypeError(f"observed: expected a conversations DataFrame, got "
                        f"{type(conv).__name__}")
    missing = [c for c in (CREATED_AT, FIRST_RESPONSE_AT) if c not in conv.columns]
    if missing:
        raise DataError([Problem(source, c, "column is missing (needed for desk analytics)")
                         for c in missing])
    if not len(conv):
        raise DataError([Problem(source, None, "the table has no conversations")])
    if ABANDONED_AT not in conv.columns:
        conv = conv.assign(**{ABANDONED_AT: pd.Series(pd.NaT, index=conv.index,
                                                      dtype="datetime64[ns, UTC]")})
    # the rules (aware times, no response or abandonment before creation, not both) and the
    # waits of the resolved conversations, in elapsed or business seconds
    w, gone, _ = waits(conv, calendar=calendar, source=source)
    created = pd.DatetimeIndex(conv[CREATED_AT]).tz_convert("UTC").as_unit("ns").asi8
    first = pd.DatetimeIndex(conv[FIRST_RESPONSE_AT]).tz_convert("UTC").as_unit("ns")
    ab = pd.DatetimeIndex(conv[ABANDONED_AT]).tz_convert("UTC")
    answered = np.asarray(first.notna())
    abandoned = np.asarray(ab.notna())
    done = answered | abandoned
    wait = np.full(len(conv), np.nan)
    resolved_wait = np.full(int(done.sum()), np.nan)
    resolved_wait[~gone] = w[~gone]
    wait[done] = resolved_wait
    handle = (pd.to_numeric(conv[HANDLE_SECONDS], errors="coerce").to_numpy(float)
              if HANDLE_SECONDS in conv.columns else np.full(len(conv), np.nan))
    start = np.where(answered, first.asi8, 0)
    return created, answered, abandoned, wait, start, handle


def _simulated_side(res: DeskResult, business: bool) -> tuple[np.ndarray, ...]:
    c = res.conversations
    c = c[c["measured"].to_numpy()]
    created = pd.DatetimeIndex(c[CREATED_AT]).tz_convert("UTC").as_unit("ns").asi8
    hours = c["frt_business_hours" if business else "frt_calendar_hours"].to_numpy(float)
    answered = np.isfinite(hours)
    abandoned = c["abandoned"].to_numpy(bool)
    first = pd.DatetimeIndex(c[FIRST_RESPONSE_AT]).tz_convert("UTC").as_unit("ns")
    start = np.where(answered, first.asi8, 0)
    return (created, answered, abandoned, np.where(answered, hours * 3600.0, np.nan), start,
            c[HANDLE_SECONDS].to_numpy(float), c["replication"].to_numpy(np.int64))


def _local_wall(ns: np.ndarray, tz: str) -> np.ndarray:
    """Local wall-clock nanoseconds (as if UTC) of UTC nanoseconds."""
    idx = pd.DatetimeIndex(ns.view("datetime64[ns]"), tz="UTC").tz_convert(tz)
    return idx.tz_localize(None).as_unit("ns").asi8


def _interval(value: Any) -> pd.Timedelta:
    try:
        step = pd.Timedelta(value)
    except (TypeError, ValueError):
        step = pd.NaT
    if pd.isna(step) or step <= pd.Timedelta(0) or pd.Timedelta(hours=1) % step:
        raise ValueError(f"interval: expected a duration that divides an hour, such as "
                         f"'15min', "
                         f"'30min' or '1h', got {value!r}")
    return step


# ----------------------------------------------------------------------------- agents
def _duty(agents: Any, edges: np.ndarray, *, calendar: BusinessCalendar | None,
          tz: str) -> np.ndarray | None:
    """Agent seconds on duty in each ``[edges[i], edges[i + 1])`` (UTC ns)."""
    if agents is None:
        return None
    if isinstance(agents, Roster):
        r_edges = np.append(agents.starts.asi8, agents.end.value)
        cum = np.r_[0.0, np.cumsum(agents.agents * agents.interval.total_seconds())]
        at = np.interp(edges.astype(float), r_edges.astype(float), cum)
        return np.diff(at)
    if isinstance(agents, tuple | list | np.ndarray):  # 168 hours of the week
        per_hour = np.asarray(agents, dtype=float)
        lo = pd.Timestamp(edges[0], tz="UTC").floor("h")
        hi = pd.Timestamp(edges[-1], tz="UTC").ceil("h") + pd.Timedelta(hours=1)
        return _duty(Roster.weekly(per_hour, lo, hi, timezone=tz), edges, calendar=calendar,
                     tz=tz)
    if isinstance(agents, bool) or not isinstance(agents, int | float | np.integer |
                                                  np.floating) or not agents > 0:
        raise ValueError(f"agents: expected a Roster, a number of agents > 0 or 168 numbers "
                         f"per hour of the week, got {agents!r}")
    seconds = np.diff(edges) / _NS
    if calendar is not None:  # a constant headcount works while the desk is open
        idx = pd.DatetimeIndex(edges.view("datetime64[ns]"), tz="UTC")
        seconds = calendar.business_duration(idx[:-1], idx[1:]).total_seconds().to_numpy()
    return float(agents) * np.asarray(seconds, dtype=float)


def _busy(start: np.ndarray, end: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Agent seconds serving in each interval of ``edges``: ``F(e_{i+1}) - F(e_i)`` with
    ``F(x) = sum(clip(x - s, 0, e - s))`` from sorted starts and ends."""
    ss, es = np.sort(start).astype(float), np.sort(end).astype(float)
    cs, ce = np.r_[0.0, np.cumsum(ss)], np.r_[0.0, np.cumsum(es)]
    x = edges.astype(float)
    i = np.searchsorted(ss, x, side="right")
    j = np.searchsorted(es, x, side="right")
    served = (i * x - cs[i]) - (j * x - ce[j])
    return np.diff(served) / _NS


# ----------------------------------------------------------------------------- tables
def _table(keys: np.ndarray, side: _Side, target: float | None, scale: float,
           unit: str) -> pd.DataFrame:
    """The statistics of one side per key (interval start or day, UTC ns)."""
    r = side.replications
    df = pd.DataFrame({"key": keys, "answered": side.answered, "abandoned": side.abandoned,
                       "wait": side.wait / scale,
                       "waited": ~(side.answered & (side.wait <= 0))})
    if target is not None:
        df["within"] = side.answered & (side.wait <= target + 1e-9)
    g = df.groupby("key", sort=True)
    n, ans, ab = g.size(), g["answered"].sum(), g["abandoned"].sum()
    out = pd.DataFrame({"offered": n / r, "answered": ans / r, "abandoned": ab / r,
                        "unresolved": (n - ans - ab) / r})
    out["p_wait"] = g["waited"].mean()
    out["p_abandon"] = g["abandoned"].mean()
    out[f"mean_wait_{unit}"] = g["wait"].mean()
    q = g["wait"].quantile([0.5, 0.9]).unstack()
    out[f"median_wait_{unit}"] = q[0.5] if 0.5 in q.columns else np.nan
    out[f"p90_wait_{unit}"] = q[0.9] if 0.9 in q.columns else np.nan
    if target is not None:
        out["service_level"] = g["within"].mean()
    return out


def _side_by_side(tables: dict[str, pd.DataFrame], index: pd.Index) -> pd.DataFrame:
    cols: dict[str, np.ndarray] = {}
    stats = list(dict.fromkeys(c for t in tables.values() for c in t.columns))
    for stat in stats:
        for src, t in tables.items():
            if stat in t.columns:
                cols[f"{stat}_{src}"] = t[stat].to_numpy(dtype=float)
    out = pd.DataFrame(cols, index=index)
    for c in out.columns:
        if c.split("_")[0] in _COUNTS:
            out[c] = out[c].fillna(0.0)
    return out


# ----------------------------------------------------------------------------- bootstrap
def _overall(side: _Side, target: float | None, scale: float, busy: np.ndarray | None,
             duty: np.ndarray | None, *, resamples: int, confidence: float,
             rng: np.random.Generator) -> pd.DataFrame:
    """Whole-window statistics of one side with percentile intervals from resampling its
    days (Efron and Tibshirani 1993, ch. 8 and 13). ``busy``, ``duty``: agent seconds per
    resampling unit."""
    units, u = np.unique(side.unit_of, return_inverse=True)
    n_units = len(units)
    one = np.ones(len(u))

    def per_unit(x: np.ndarray) -> np.ndarray:
        return np.bincount(u, weights=x.astype(float), minlength=n_units)

    ans = side.answered
    nums = {"offered": per_unit(one), "answered": per_unit(ans),
            "abandoned": per_unit(side.abandoned),
            "waited": per_unit(~(ans & (side.wait <= 0))),
            "wait_sum": per_unit(np.where(ans, side.wait, 0.0))}
    if target is not None:
        nums["within"] = per_unit(ans & (side.wait <= target + 1e-9))
    order = np.argsort(u, kind="stable")
    w_sorted = side.wait[order]
    keep = np.isfinite(w_sorted)
    u_w = u[order][keep]
    w_sorted = w_sorted[keep] / scale
    lo = np.searchsorted(u_w, np.arange(n_units), side="left")
    hi = np.searchsorted(u_w, np.arange(n_units), side="right")

    def stats_of(weights: np.ndarray, draw: np.ndarray | None) -> dict[str, float]:
        s = {k: float(weights @ v) for k, v in nums.items()}
        off = s["offered"]
        out = {"offered_per_day": off / n_units,
               "share_answered": s["answered"] / off if off else np.nan,
               "p_abandon": s["abandoned"] / off if off else np.nan,
               "p_wait": s["waited"] / off if off else np.nan,
               "mean_wait": s["wait_sum"] / s["answered"] / scale if s["answered"] else np.nan}
        if draw is None:
            x = w_sorted
        else:
            counts = hi[draw] - lo[draw]
            start = np.repeat(lo[draw], counts)
            offset = np.repeat(np.cumsum(counts) - counts, counts)
            x = w_sorted[start + (np.arange(int(counts.sum())) - offset)]
        q = np.quantile(x, [0.5, 0.9]) if x.size else np.array([np.nan, np.nan])
        out["median_wait"], out["p90_wait"] = float(q[0]), float(q[1])
        if target is not None:
            out["service_level"] = s["within"] / off if off else np.nan
        if busy is not None and duty is not None:
            d = float(weights @ duty)
            out["busy_agents"] = float(weights @ busy)
            out["occupancy"] = float(weights @ busy) / d if d > 0 else np.nan
        return out

    point = stats_of(np.ones(n_units), None)
    rows = {k: [v, np.nan, np.nan] for k, v in point.items()}
    if resamples and n_units > 1:
        draws = rng.integers(0, n_units, size=(resamples, n_units))
        boot: dict[str, list[float]] = {k: [] for k in point}
        for b in range(resamples):
            wts = np.bincount(draws[b], minlength=n_units).astype(float)
            got = stats_of(wts, draws[b])
            for k, v in got.items():
                boot[k].append(v)
        a = (1.0 - confidence) / 2
        for k, vals in boot.items():
            x = np.asarray(vals, dtype=float)
            x = x[np.isfinite(x)]
            if x.size:
                rows[k][1:] = np.quantile(x, [a, 1.0 - a]).tolist()
    if busy is not None and "busy_agents" in rows:
        rows.pop("busy_agents")  # agent seconds, not a figure to read; occupancy is
    return pd.DataFrame.from_dict(rows, orient="index", columns=["estimate", "ci_low",
                                                                  "ci_high"])


# ----------------------------------------------------------------------------- result
@dataclass(frozen=True, repr=False)
class DeskAnalytics:
    """Observed and simulated desk figures side by side, per interval, per day and overall.

    Attributes:
        intervals: One row per interval start (local time of ``timezone``):
            ``<statistic>_<source>`` for every statistic (``offered, answered, abandoned,
            unresolved, p_wait, p_abandon, mean_wait_<unit>, median_wait_<unit>,
            p90_wait_<unit>``, ``service_level`` with a target, ``busy_agents, agents,
            occupancy`` with agents) and source (``observed``, ``simulated``).
        days: The same per local day.
        overall: One row per statistic of the whole window (``offered_per_day,
            share_answered, p_abandon, p_wait, mean_wait_<unit>, median_wait_<unit>,
            p90_wait_<unit>``, ``service_level``, ``occupancy``) with ``<source>``,
            ``<source>_ci_low``, ``<source>_ci_high`` (percentile bootstrap over days).
        unit: Unit of the waits: ``"s"``, ``"min"`` or ``"h"``.
        interval: Length of the intervals.
        target_seconds: The service-level target (``None``: no service level).
        business: Waits are business time of a calendar (else elapsed).
        sources: The sides present (``observed``, ``simulated`` or both).
        confidence, resamples: Level and number of the bootstrap resamples.
        timezone: Zone of the interval and day boundaries.
    """

    intervals: pd.DataFrame
    days: pd.DataFrame
    overall: pd.DataFrame
    unit: str
    interval: pd.Timedelta
    target_seconds: float | None
    business: bool
    sources: tuple[str, ...]
    confidence: float
    resamples: int
    timezone: str

    def to_pandas(self, by: str = "interval") -> pd.DataFrame:
        """The table ``by`` ``"interval"``, ``"day"`` or ``"overall"``, index as a column."""
        tables = {"interval": (self.intervals, "interval_start"), "day": (self.days, "date"),
                  "overall": (self.overall, "statistic")}
        if by not in tables:
            raise ValueError(f"by: expected one of {tuple(tables)}, got {by!r}")
        t, name = tables[by]
        return t.rename_axis(name).reset_index()

    def column(self, statistic: str) -> str:
        """The column stem of a statistic: ``"mean_wait"`` -> ``"mean_wait_s"``."""
        return f"{statistic}_{self.unit}" if statistic in _WAITS else statistic

    def summary(self) -> str:
        clock = "business" if self.business else "elapsed"
        target = ("" if self.target_seconds is None else
                  f", service level within {_fmt_seconds(self.target_seconds)}")
        n_int = len(self.intervals)
        lines = [f"Desk analytics: {n_int} intervals of {_fmt_td(self.interval)} over "
                 f"{len(self.days)} days ({self.timezone}), waits of answered conversations "
                 f"in {_unit_text(self.unit)} ({clock}){target}; "
                 f"{self.confidence:.0%} intervals by resampling days"]
        head = f"  {'':<22}" + "".join(f"{s:>28}" for s in self.sources)
        lines.append(head)
        for stat, row in self.overall.iterrows():
            cells = []
            for s in self.sources:
                v, lo, hi = row[s], row[f"{s}_ci_low"], row[f"{s}_ci_high"]
                cells.append(f"{_fmt(stat, v, lo, hi):>28}")
            lines.append(f"  {stat:<22}" + "".join(cells))
        return "\n".join(lines)

    def plot(self, statistics: Sequence[str] = ("offered", "mean_wait", "p_wait"), *,
             by: str = "interval") -> Figure:
        """Observed (solid) and simulated (dashed) over time, one panel per statistic
        (``offered``, ``answered``, ``abandoned``, ``p_wait``, ``p_abandon``, ``mean_wait``,
        ``median_wait``, ``p90_wait``, ``service_level``, ``occupancy``). Returns a Figure
        (object API, no pyplot state)."""
        if isinstance(statistics, str):
            statistics = (statistics,)
        t = {"interval": self.intervals, "day": self.days}.get(by)
        if t is None:
            raise ValueError(f"by: expected 'interval' or 'day', got {by!r}")
        stems = [self.column(s) for s in statistics]
        bad = [s for s, c in zip(statistics, stems, strict=True)
               if not any(col == f"{c}_{src}" for col in t.columns for src in self.sources)]
        if bad:
            raise ValueError(f"statistics: {bad} are not in the table; it has "
                             f"{sorted({c.rsplit('_', 1)[0] for c in t.columns})}")
        fig = Figure(figsize=(11, 2.4 * len(stems) + 0.6), layout="constrained")
        axes = fig.subplots(len(stems), 1, sharex=True, squeeze=False)[:, 0]
        x = t.index.tz_localize(None) if isinstance(t.index, pd.DatetimeIndex) else t.index
        for ax, stat, stem in zip(axes, statistics, stems, strict=True):
            for src, style in zip(self.sources, ("-", "--"), strict=False):
                col = f"{stem}_{src}"
                if col in t.columns:
                    ax.plot(x, t[col].to_numpy(dtype=float), style, lw=1.2,
                            color="C0" if src == "observed" else "C1", label=src,
                            drawstyle="steps-post" if by == "interval" else "default")
            label = stat.replace("_", " ")
            if stat in _WAITS:
                label += f" ({self.unit})"
            ax.set_ylabel(label)
            ax.legend(loc="upper right", fontsize=8)
        per = f"interval of {_fmt_td(self.interval)}" if by == "interval" else "day"
        axes[0].set_title(f"Per {per} ({self.timezone})")
        return fig

    def _repr_html_(self) -> str:
        esc = self.summary().replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        return f"<pre>{esc}</pre>"

    def __repr__(self) -> str:
        return (f"DeskAnalytics({'/'.join(self.sources)}, {len(self.intervals)} x "
                f"{_fmt_td(self.interval)}, {len(self.days)} days, waits in {self.unit})")


def _fmt_td(td: pd.Timedelta) -> str:
    minutes = td.total_seconds() / 60
    return f"{minutes:g} min" if minutes < 60 else f"{minutes / 60:g} h"


def _fmt_seconds(seconds: float) -> str:
    if seconds < 180:
        return f"{seconds:g} s"
    if seconds < 3 * 3600:
        return f"{seconds / 60:g} min"
    return f"{seconds / 3600:g} h"


def _fmt(stat: str, v: float, lo: float, hi: float) -> str:
    if not np.isfinite(v):
        return "-"
    f = "{:.1%}" if stat in ("share_answered", "p_abandon", "p_wait", "service_level",
                             "occupancy") else "{:,.1f}" if abs(v) < 1e4 else "{:,.0f}"
    ci = f" [{f.format(lo)}, {f.format(hi)}]" if np.isfinite(lo) and np.isfinite(hi) else ""
    return f.format(v) + ci


# ----------------------------------------------------------------------------- entry point
def desk_analytics(
    observed: pd.DataFrame | None = None,
    simulated: DeskResult | None = None,
    *,
    interval: str | _dt.timedelta = "30min",
    unit: str = "auto",
    target_seconds: float | None = None,
    agents: Roster | float | Sequence[float] | None = None,
    calendar: BusinessCalendar | None = None,
    timezone: str | None = None,
    start: Any = None,
    end: Any = None,
    confidence: float = 0.95,
    resamples: int = 999,
    rng: int | np.random.Generator | None = None,
    source: str = "conversations",
) -> DeskAnalytics:
    """Per-interval, per-day and whole-window desk figures, observed and simulated.

    Args:
        observed: A canonical conversations table (``created_at``, ``first_response_at``;
            ``abandoned_at`` and ``handle_seconds`` when present).
        simulated: A :func:`~frt_experiments.staffing.desk.simulate_desk` result (its
            measured conversations; counts are per replication).
        interval: Interval length, a duration that divides an hour (``"15min"``, ``"30min"``,
            ``"1h"``).
        unit: Unit of the waits: ``"s"``, ``"min"``, ``"h"`` or ``"auto"`` (default:
            :func:`wait_unit` of every answered wait of both sides).
        target_seconds: Service-level target in seconds (of the waits' clock); ``None``: no
            service level.
        agents: Agents on duty for occupancy: a
            :class:`~frt_experiments.staffing.roster.Roster`, a headcount (on duty while
            ``calendar`` is open, else all the time) or 168 numbers per hour of the week;
            default: the simulation's own agents when it has any, else no occupancy.
        calendar: Measure waits in this calendar's business time (give the desk's); default
            elapsed time.
        timezone: Zone of the interval and day boundaries (default the calendar's, else UTC).
        start, end: Keep conversations created in ``[start, end)`` (aware timestamps).
        confidence: Level of the bootstrap intervals.
        resamples: Bootstrap resamples of the days (0: no intervals).
        rng: Seed or generator of the bootstrap.
        source: Name of the observed table in messages.

    Returns:
        A :class:`DeskAnalytics`.

    Raises:
        DataError: The observed table breaks a rule (a response or abandonment before its
            creation, both set, naive times, missing columns).
        ValueError: Neither side given, or an argument is invalid (named).

    References:
        See the module docstring (Efron and Tibshirani 1993; Gans et al. 2003; Brown et al.
        2005).

    Examples:
        >>> conv = pd.DataFrame({
        ...     "created_at": pd.to_datetime(["2025-03-03 09:00", "2025-03-03 09:10",
        ...                                   "2025-03-03 09:40"], utc=True),
        ...     "first_response_at": pd.to_datetime(["2025-03-03 09:00", "2025-03-03 09:11",
        ...                                          None], utc=True),
        ...     "abandoned_at": pd.to_datetime([None, None, "2025-03-03 09:42"], utc=True)})
        >>> a = desk_analytics(conv, target_seconds=20, resamples=0)
        >>> a.intervals[["offered_observed", "abandoned_observed", "mean_wait_s_observed",
        ...              "service_level_observed"]].to_numpy().tolist()
        [[2.0, 0.0, 30.0, 0.5], [1.0, 1.0, nan, 0.0]]
    """
    if observed is None and simulated is None:
        raise ValueError("observed and simulated: give at least one (a conversations table, "
                         "a simulate_desk result)")
    step = _interval(interval)
    if unit != "auto" and unit not in UNITS:
        raise ValueError(f"unit: expected 'auto' or one of {tuple(UNITS)}, got {unit!r}")
    if target_seconds is not None and (isinstance(target_seconds, bool) or not isinstance(
            target_seconds, int | float | np.integer | np.floating)
            or not (np.isfinite(target_seconds) and target_seconds >= 0)):
        raise ValueError(f"target_seconds: must be a number of seconds >= 0, got "
                         f"{target_seconds!r}")
    if isinstance(confidence, bool) or not isinstance(confidence, int | float) \
            or not 0 < confidence < 1:
        raise ValueError(f"confidence: must be in (0, 1), got {confidence!r}")
    if isinstance(resamples, bool) or not isinstance(resamples, int | np.integer) \
            or resamples < 0:
        raise ValueError(f"resamples: must be an integer >= 0, got {resamples!r}")
    if simulated is not None:
        from frt_experiments.staffing.desk import DeskResult  # noqa: PLC0415 (desk uses us)

        if not isinstance(simulated, DeskResult):
            raise TypeError(f"simulated: expected a DeskResult (simulate_desk's result), got "
                            f"{type(simulated).__name__}")
    tz = timezone or (calendar.timezone if calendar is not None else "UTC")
    business = calendar is not None
    gen = np.random.default_rng(rng)
    lo = None if start is None else pd.Timestamp(start)
    hi = None if end is None else pd.Timestamp(end)
    for name, t in (("start", lo), ("end", hi)):
        if t is not None and t.tz is None:
            raise ValueError(f"{name}: {t!r} is a naive timestamp; give a time zone")

    raw: dict[str, tuple[np.ndarray, ...]] = {}
    if observed is not None:
        c, a, ab, w, s, h = _observed_side(observed, calendar, source)
        raw["observed"] = (c, a, ab, w, s, h, np.zeros(len(c), np.int64))
    if simulated is not None:
        raw["simulated"] = _simulated_side(simulated, business)
    sides: dict[str, _Side] = {}
    for src, arrays in raw.items():
        keep = np.ones(len(arrays[0]), bool)
        if lo is not None:
            keep &= arrays[0] >= lo.value
        if hi is not None:
            keep &= arrays[0] < hi.value
        if not keep.any():
            raise ValueError(f"start/end: no {src} conversation was created in the window")
        c, a, ab, w, s, h, rep = (x[keep] for x in arrays)
        day = _local_wall(c, tz) // _DAY_NS
        n_rep = int(rep.max()) + 1
        work = np.where(np.isfinite(h) & (h > 0), h, 0.0)
        sides[src] = _Side(c, rep * (1 << 32) + day, a, ab, w, s[a],
                           s[a] + np.round(work[a] * _NS).astype(np.int64), rep[a], n_rep)

    if unit == "auto":
        unit = wait_unit(np.concatenate([sd.wait[sd.answered] for sd in sides.values()]))
    scale = UNITS[unit]
    # the grid: interval starts (UTC ns) aligned on the local clock, over whole local days
    keys = {src: sd.created - _local_wall(sd.created, tz) % step.value
            for src, sd in sides.items()}
    day_keys = {src: _local_wall(sd.created, tz) // _DAY_NS for src, sd in sides.items()}
    all_days = np.arange(min(int(d.min()) for d in day_keys.values()),
                         max(int(d.max()) for d in day_keys.values()) + 1)
    day_index = pd.Index(pd.to_datetime(all_days * _DAY_NS).date, name="date")
    midnights = [pd.Timestamp(int(d) * _DAY_NS).tz_localize(
        tz, ambiguous=True, nonexistent="shift_forward").value
                 for d in (all_days[0], all_days[-1] + 1)]
    grid = np.arange(midnights[0], midnights[1], step.value, dtype=np.int64)
    edges = np.append(grid, grid[-1] + step.value)
    index = pd.DatetimeIndex(grid.view("datetime64[ns]"), tz="UTC").tz_convert(tz)
    index.name = "interval_start"

    per_int, per_day, overall = {}, {}, {}
    int_day = _local_wall(grid, tz) // _DAY_NS  # the local day of each interval
    for src, sd in sides.items():
        t_int = _table(keys[src], sd, target_seconds, scale, unit).reindex(grid)
        t_day = _table(day_keys[src], sd, target_seconds, scale, unit).reindex(all_days)
        side_agents = agents
        if side_agents is None and src == "simulated" and simulated is not None:
            side_agents = simulated.agents
        duty = _duty(side_agents, edges, calendar=calendar, tz=tz)
        busy_u = duty_u = None
        if duty is not None:
            # agent seconds serving per replication and interval
            busy_r = np.array([_busy(sd.serve_start[sd.serve_rep == r],
                                     sd.serve_end[sd.serve_rep == r], edges)
                               for r in range(sd.replications)])
            busy = busy_r.mean(axis=0)
            secs = step.total_seconds()
            t_int["busy_agents"] = busy / secs
            t_int["agents"] = duty / secs
            with np.errstate(invalid="ignore", divide="ignore"):
                t_int["occupancy"] = np.where(duty > 0, busy / duty, np.nan)
            # days and the whole window: occupancy over the intervals with agents on duty
            # (service outside a roster's window or in its empty intervals is left out)
            covered = duty > 0
            busy_r = busy_r * covered
            b_day = pd.Series(busy * covered).groupby(int_day).sum().reindex(all_days,
                                                                             fill_value=0.0)
            d_day = pd.Series(duty).groupby(int_day).sum().reindex(all_days, fill_value=0.0)
            day_secs = (pd.Series(np.diff(edges) / _NS).groupby(int_day).sum()
                        .reindex(all_days).to_numpy())
            t_day["busy_agents"] = b_day.to_numpy() / day_secs
            t_day["agents"] = d_day.to_numpy() / day_secs
            with np.errstate(invalid="ignore", divide="ignore"):
                t_day["occupancy"] = np.where(d_day > 0, b_day / d_day, np.nan)
            # per resampling unit (replication, day): its busy and duty agent seconds
            units = np.unique(sd.unit_of)
            u_rep, u_day = units >> 32, units & ((1 << 32) - 1)
            per_rd = pd.DataFrame(busy_r.T).groupby(int_day).sum()  # day x replication
            busy_u = np.array([float(per_rd.at[d, r]) if d in per_rd.index else 0.0
                               for r, d in zip(u_rep, u_day, strict=True)])
            duty_u = d_day.reindex(u_day, fill_value=0.0).to_numpy()
        per_int[src] = t_int
        per_day[src] = t_day
        o = _overall(sd, target_seconds, scale, busy_u, duty_u, resamples=int(resamples),
                     confidence=float(confidence), rng=gen)
        o.index = [f"{k}_{unit}" if k in _WAITS else k for k in o.index]
        overall[src] = o

    intervals = _side_by_side(per_int, index)
    days = _side_by_side(per_day, day_index)
    stats = list(dict.fromkeys(k for o in overall.values() for k in o.index))
    ov = pd.DataFrame(index=pd.Index(stats, name="statistic"))
    for src, figures in overall.items():
        o = figures.reindex(stats)
        ov[src] = o["estimate"]
        ov[f"{src}_ci_low"] = o["ci_low"]
        ov[f"{src}_ci_high"] = o["ci_high"]
    return DeskAnalytics(intervals, days, ov, unit, step,
                         float(target_seconds) if target_seconds is not None else None,
                         business, tuple(sides), float(confidence), int(resamples), tz)
