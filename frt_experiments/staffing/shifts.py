"""Shift schedules: the cheapest shifts whose coverage meets a requirement per interval.

A requirement per interval (agents on the floor each half hour of a week, from
:func:`~frt_experiments.staffing.erlang.required_agents` for a live queue or from the desk
simulation for deferred work) is turned into shifts by integer programming:

**Formulation** (set covering; Dantzig 1954). A *tour* ``j`` is one shift type worked at one
start time on ``days_on`` consecutive days from one start day (the other days of the week off;
the week wraps around, so a Sunday-night shift covers Monday morning). With ``a_ij = 1`` when
tour ``j`` is on duty in interval ``i``, cost ``c_j`` (default: its paid hours) and shrinkage
``s``::

    minimise   sum_j c_j x_j
    subject to sum_j a_ij x_j >= ceil(r_i / (1 - s))   for every interval i
               x_j >= 0 integer

``x_j`` is the number of people working tour ``j``; ``sum_j x_j`` is the headcount, paid
hours over the FTE week the FTE.

**Breaks** (the explicit formulation of Dantzig 1954). A shift type may have a break of a
given length that starts anywhere in a window after the shift start; every placement is its
own column (the tour with the break's intervals taken out of ``a_ij``, the same time on each
working day), so the covering problem keeps its form and the solver chooses shifts and breaks
at once. Segal (1974) placed breaks by a network flow after the shifts were fixed; the
implicit formulations of Bechtold and Jacobs (1990) and Aykin (1996) need fewer variables when
break windows are wide or breaks move from day to day (not modelled here: a break window of
``k`` placements multiplies the columns by ``k``).

The problem is solved by HiGHS through :func:`scipy.optimize.milp` with a time limit; the result
reports HiGHS's status, the relative MIP gap and the bound of the LP relaxation (always <= the
integer optimum; a schedule at the bound is optimal).

References:
    Dantzig, G. B. (1954). A comment on Edie's "Traffic delays at toll booths". *Journal of
    the Operations Research Society of America* 2(3), 339-341.
    Segal, M. (1974). The operator-scheduling problem: a network-flow approach. *Operations
    Research* 22(4), 808-823.
    Bechtold, S. E. and Jacobs, L. W. (1990). Implicit modeling of flexible break assignments
    in optimal shift scheduling. *Management Science* 36(11), 1339-1351.
    Aykin, T. (1996). Optimal shift scheduling with multiple break windows. *Management
    Science* 42(4), 591-602.
    Huangfu, Q. and Hall, J. A. J. (2018). Parallelizing the dual revised simplex method.
    *Mathematical Programming Computation* 10(1), 119-142 (HiGHS).
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from scipy import sparse
from scipy.optimize import Bounds, LinearConstraint, milp

__all__ = ["ShiftRules", "ShiftSchedule", "ShiftType", "solve_shifts"]

_DAY = pd.Timedelta(days=1)


def _duration(name: str, value: Any) -> pd.Timedelta:
    try:
        td = pd.Timedelta(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a duration such as '8h' or '30min', got "
                         f"{value!r}") from None
    if td is pd.NaT or td <= pd.Timedelta(0):
        raise ValueError(f"{name} must be a positive duration, got {value!r}")
    return td


def _time_of_day(name: str, text: str) -> pd.Timedelta:
    try:
        t = pd.Timedelta(f"{text.strip()}:00" if text.count(":") == 1 else text.strip())
    except ValueError:
        raise ValueError(f"{name} must be times of day such as '06:00' or '06:00-14:00', got "
                         f"{text!r}") from None
    if not pd.Timedelta(0) <= t < _DAY:
        raise ValueError(f"{name} must be times of day in 00:00-23:59, got {text!r}")
    return t


@dataclass(frozen=True)
class ShiftType:
    """One kind of shift: its length, when it may start, how many days in a row, its break.

    Args:
        length: Paid length of one shift (``"8h"``, ``"6h"``, a Timedelta), a multiple of the
            interval.
        starts: Allowed start times of day: ``None`` (every interval), ``"07:00"``, a range
            ``"06:00-14:00"`` (every interval from 06:00 to 14:00 inclusive) or a list of
            either.
        days_on: Consecutive working days per week (default 5: five on, two off; the start
            day is chosen by the solver); ``None`` for single shifts, each one day (the
            solver then counts shifts, not people).
        cost: Cost of one tour (``days_on`` shifts); default its paid hours.
        break_length: Length of a break in each shift (``"30min"``); ``None``: no break.
        break_window: Earliest and latest start of the break after the shift start, e.g.
            ``("2h", "5h")``; default from 2 hours after the start to 2 hours before the end
            (the whole shift when it is shorter than 4 hours plus the break).
        name: Label in tables (default the length, e.g. ``"8h"``).
    """

    length: Any
    starts: Any = None
    days_on: int | None = 5
    cost: float | None = None
    break_length: Any = None
    break_window: tuple[Any, Any] | None = None
    name: str | None = None

    def __post_init__(self) -> None:
        length = _duration("shifts: length", self.length)
        object.__setattr__(self, "length", length)
        if self.name is None:
            hours = length / pd.Timedelta(hours=1)
            object.__setattr__(self, "name", f"{hours:g}h")
        d = self.days_on
        if d is not None and (isinstance(d, bool) or not isinstance(d, int) or d < 1):
            raise ValueError(f"shifts: days_on must be a whole number of days >= 1 (or None "
                             f"for single shifts), got {d!r}")
        if d is not None and length > _DAY:
            raise ValueError(f"shifts: shift {self.name!r} lasts {length}, longer than a day, "
                             f"but is worked {d} days in a row (days_on=None for single "
                             "shifts)")
        if self.cost is not None and not (isinstance(self.cost, int | float)
                                          and math.isfinite(self.cost) and self.cost >= 0):
            raise ValueError(f"shifts: cost of {self.name!r} must be a number >= 0, got "
                             f"{self.cost!r}")
        if self.break_length is not None:
            brk = _duration("shifts: break_length", self.break_length)
            object.__setattr__(self, "break_length", brk)
            if brk >= length:
                raise ValueError(f"shifts: the break of {self.name!r} ({brk}) must be shorter "
                                 f"than the shift ({length})")
            if self.break_window is None:
                lo, hi = pd.Timedelta(hours=2), length - pd.Timedelta(hours=2) - brk
                if hi < lo:
                    lo, hi = pd.Timedelta(0), length - brk
                object.__setattr__(self, "break_window", (lo, hi))
            else:
                try:
                    lo, hi = (pd.Timedelta(v) for v in self.break_window)
                except (TypeError, ValueError):
                    raise ValueError(f"shifts: break_window of {self.name!r} must be two "
                                     f"durations after the shift start, got "
                                     f"{self.break_window!r}") from None
                if not (pd.Timedelta(0) <= lo <= hi and hi + brk <= length):
                    raise ValueError(f"shifts: break_window of {self.name!r} must satisfy 0 <= "
                                     f"earliest <= latest and latest + break <= length "
                                     f"({length}), got {self.break_window!r}")
                object.__setattr__(self, "break_window", (lo, hi))
        elif self.break_window is not None:
            raise ValueError(f"shifts: break_window of {self.name!r} needs break_length")

    def start_times(self, interval: pd.Timedelta) -> list[pd.Timedelta]:
        """The allowed start times of day on a grid of ``interval``."""
        grid = [interval * k for k in range(int(_DAY / interval))]
        if self.starts is None:
            return grid
        parts = [self.starts] if isinstance(self.starts, str) else list(self.starts)
        allowed: set[pd.Timedelta] = set()
        for part in parts:
            if not isinstance(part, str):
                raise ValueError(f"shifts: starts of {self.name!r} must be times of day such as "
                                 f"'07:00' or '06:00-14:00', got {part!r}")
            if "-" in part:
                a, b = (_time_of_day(f"shifts: starts of {self.name!r}", x)
                        for x in part.split("-", 1))
                allowed.update(t for t in grid if (a <= t <= b if a <= b else t >= a or t <= b))
            else:
                allowed.add(_time_of_day(f"shifts: starts of {self.name!r}", part))
        return sorted(t for t in allowed if t in set(grid))

    @property
    def label(self) -> str:
        return str(self.name)


@dataclass(frozen=True)
class ShiftRules:
    """The shift types, the interval grid, shrinkage and the solver's limits.

    Args:
        shifts: The shift types (:class:`ShiftType`, or lengths such as ``"8h"`` for the
            default five-on-two-off shifts starting at any interval).
        interval: Length of an interval (default 30 minutes; with a Series requirement,
            ``None`` takes it from the index).
        shrinkage: Share of paid time agents are unavailable (absence, training, meetings),
            in [0, 1): ``ceil(requirement / (1 - shrinkage))`` must be on shift in each
            interval. Breaks modelled by ``break_length`` are not part of it.
        fte_hours: Paid hours per week of one full-time equivalent (default 40).
        time_limit: Seconds HiGHS may search (default 60); at the limit the best schedule
            found is returned with its gap.
        mip_gap: Relative gap at which HiGHS stops (default 0: prove optimality).
    """

    shifts: Sequence[Any] = ("8h",)
    interval: Any = "30min"
    shrinkage: float = 0.0
    fte_hours: float = 40.0
    time_limit: float = 60.0
    mip_gap: float = 0.0

    def __post_init__(self) -> None:
        items = [self.shifts] if isinstance(self.shifts, str | ShiftType) else list(self.shifts)
        if not items:
            raise ValueError("shifts: give at least one shift type, got none")
        types = tuple(s if isinstance(s, ShiftType) else ShiftType(s) for s in items)
        names = [t.label for t in types]
        if len(set(names)) != len(names):
            raise ValueError(f"shifts: names must differ, got {names} (give name=...)")
        object.__setattr__(self, "shifts", types)
        if self.interval is not None:
            object.__setattr__(self, "interval", _duration("interval", self.interval))
            if (_DAY % self.interval) != pd.Timedelta(0):
                raise ValueError(f"interval must divide a day, got {self.interval}")
        s = self.shrinkage
        if isinstance(s, bool) or not isinstance(s, int | float) or not 0.0 <= s < 1.0:
            raise ValueError(f"shrinkage must be a share in [0, 1), got {s!r}")
        for name in ("fte_hours", "time_limit"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int | float) or not (
                    math.isfinite(v) and v > 0):
                raise ValueError(f"{name} must be a positive number, got {v!r}")
        g = self.mip_gap
        if isinstance(g, bool) or not isinstance(g, int | float) or not 0.0 <= g < 1.0:
            raise ValueError(f"mip_gap must be in [0, 1), got {g!r}")


# ------------------------------------------------------------------------------- model


@dataclass(frozen=True)
class _Grid:
    """The intervals of the requirement: n intervals of ``interval``, ``per_day`` a day."""

    n: int
    interval: pd.Timedelta
    per_day: int
    days: int
    index: pd.Index
    day_labels: list[str]


@dataclass(frozen=True)
class _Model:
    """Columns of the covering problem: one per tour (and break placement)."""

    cover: sparse.csr_array  # (n, n_tours): 1 where the tour is on duty and not on break
    cost: np.ndarray  # (n_tours,)
    tours: pd.DataFrame  # shift, day, start, days_on, length, break_start, paid_hours, cost

    @property
    def n_tours(self) -> int:
        return len(self.tours)


def _grid(requirement: Any, rules: ShiftRules) -> tuple[np.ndarray, _Grid]:
    if isinstance(requirement, pd.DataFrame):
        raise ValueError("requirement must be one number per interval (an array or a Series), "
                         "got a DataFrame")
    index = requirement.index if isinstance(requirement, pd.Series) else None
    try:
        r = np.asarray(requirement, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"requirement must be numbers >= 0 per interval, got "
                         f"{type(requirement).__name__}") from None
    if r.ndim != 1 or r.size == 0:
        raise ValueError(f"requirement must be one number per interval (1-d), got shape "
                         f"{r.shape}")
    bad = ~np.isfinite(r) | (r < 0)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        where = index[i] if index is not None else i
        raise ValueError(f"requirement must be finite numbers >= 0, got {r[i]:g} at interval "
                         f"{where} ({int(bad.sum())} bad)")
    interval = rules.interval
    if isinstance(index, pd.DatetimeIndex):
        if len(index) > 1:
            steps = np.unique(np.diff(index.as_unit("ns").asi8))
            if len(steps) != 1 or steps[0] <= 0:
                raise ValueError("requirement: the interval starts must be evenly spaced and "
                                 "increasing")
            inferred = pd.Timedelta(int(steps[0]), unit="ns")
            if interval is not None and inferred != interval:
                raise ValueError(f"interval is {interval}, but the requirement's index is "
                                 f"spaced {inferred}")
            interval = inferred
        if index[0] != index[0].normalize():
            raise ValueError(f"requirement: the first interval must start at midnight (the "
                             f"day boundaries of the shifts), got {index[0]}")
    if interval is None:
        interval = pd.Timedelta(minutes=30)
    if (_DAY % interval) != pd.Timedelta(0):
        raise ValueError(f"interval must divide a day, got {interval}")
    per_day = int(_DAY / interval)
    if r.size % per_day:
        raise ValueError(f"requirement must cover whole days: {r.size} intervals of {interval} "
                         f"are {r.size * interval}")
    days = r.size // per_day
    if isinstance(index, pd.DatetimeIndex):
        labels = [(index[0] + pd.Timedelta(days=d)).strftime("%a") for d in range(days)]
    else:
        labels = [f"day {d + 1}" for d in range(days)]
        index = pd.RangeIndex(r.size, name="interval")
    return r, _Grid(r.size, interval, per_day, days, index, labels)


def _steps(name: str, value: pd.Timedelta, interval: pd.Timedelta) -> int:
    k = value / interval
    if abs(k - round(k)) > 1e-9:
        raise ValueError(f"shifts: {name} ({value}) must be a multiple of the interval "
                         f"({interval})")
    return round(k)


def _break_offsets(st: ShiftType, interval: pd.Timedelta) -> list[int | None]:
    if st.break_length is None or st.break_window is None:
        return [None]
    lo = math.ceil(st.break_window[0] / interval - 1e-9)
    hi = math.floor(st.break_window[1] / interval + 1e-9)
    if hi < lo:
        raise ValueError(f"shifts: the break_window of {st.label!r} holds no break start on "
                         f"the {interval} grid")
    return list(range(lo, hi + 1))


def _build(grid: _Grid, rules: ShiftRules) -> _Model:
    """The covering problem's columns: every tour of every shift type (with each break
    placement when the type has a break)."""
    n, P, D = grid.n, grid.per_day, grid.days
    rows: list[np.ndarray] = []
    cols: list[np.ndarray] = []
    tours: list[dict[str, Any]] = []
    for st in rules.shifts:
        length = _steps(f"length of {st.label!r}", st.length, grid.interval)
        if length > n:
            raise ValueError(f"shifts: shift {st.label!r} lasts {st.length}, longer than the "
                             f"requirement's {D}-day horizon")
        days_on = st.days_on or 1
        if days_on > D:
            raise ValueError(f"shifts: shift {st.label!r} is worked {days_on} days in a row, "
                             f"more than the requirement's {D} days")
        starts = st.start_times(grid.interval)
        if not starts:
            raise ValueError(f"shifts: shift {st.label!r} has no allowed start time on the "
                             f"{grid.interval} grid (starts={st.starts!r})")
        brk = (0 if st.break_length is None
               else _steps(f"break_length of {st.label!r}", st.break_length, grid.interval))
        offsets = _break_offsets(st, grid.interval)
        paid = length * grid.interval / pd.Timedelta(hours=1) * days_on
        cost = paid if st.cost is None else float(st.cost)
        for d in range(D):
            for t in starts:
                s = round(t / grid.interval)
                for o in offsets:
                    on = np.ones(length, dtype=bool)
                    if o is not None:
                        on[o:o + brk] = False
                    steps = np.flatnonzero(on)
                    pos = ((d + np.arange(days_on))[:, None] * P + s + steps[None, :]).ravel() % n
                    rows.append(pos)
                    cols.append(np.full(pos.size, len(tours)))
                    tours.append({"shift": st.label, "day": d, "start": t,
                                  "days_on": st.days_on, "length": st.length,
                                  "break_start": None if o is None else o * grid.interval,
                                  "break_length": st.break_length, "paid_hours": paid,
                                  "cost": cost})
    r = np.concatenate(rows)
    cover = sparse.csr_array((np.ones(r.size), (r, np.concatenate(cols))),
                             shape=(n, len(tours)))
    table = pd.DataFrame(tours)
    return _Model(cover, table["cost"].to_numpy(dtype=float), table)


@dataclass(frozen=True)
class _Solved:
    x: np.ndarray
    status: str
    message: str
    objective: float
    lp_bound: float
    mip_gap: float
    seconds: float


def _solve(c: np.ndarray, integrality: np.ndarray, constraints: list[LinearConstraint],
           rules: ShiftRules, what: str, *, bounds: Bounds | None = None) -> _Solved:
    """HiGHS on the MILP, and on its LP relaxation for the bound."""
    t0 = time.perf_counter()
    lp = milp(c, integrality=np.zeros_like(integrality), constraints=constraints,
              bounds=bounds, options={"time_limit": rules.time_limit})
    if lp.status == 2:  # HiGHS: infeasible
        raise ValueError(f"{what}: no schedule of these shifts can meet the requirement "
                         f"({lp.message})")
    lp_bound = float(lp.fun) if lp.x is not None else -math.inf
    left = max(rules.time_limit - (time.perf_counter() - t0), 1.0)
    res = milp(c, integrality=integrality, constraints=constraints, bounds=bounds,
               options={"time_limit": left, "mip_rel_gap": rules.mip_gap})
    seconds = time.perf_counter() - t0
    if res.x is None:
        raise RuntimeError(f"{what}: HiGHS found no schedule within time_limit "
                           f"{rules.time_limit:g} s ({res.message}); allow more time")
    status = "optimal" if res.status == 0 else "time_limit"
    gap = max(0.0, float(getattr(res, "mip_gap", 0.0) or 0.0))
    return _Solved(np.round(res.x), status, str(res.message), float(res.fun), lp_bound, gap,
                   seconds)


# ------------------------------------------------------------------------------ result


@dataclass(frozen=True, repr=False)
class ShiftSchedule:
    """The shifts chosen, their coverage per interval against the requirement, and the solve.

    Attributes:
        shifts: One row per tour worked by at least one person: ``shift, start_day,
            start_time, end_time, days_on, agents, paid_hours`` (``agents``: people on the
            tour; ``paid_hours``: their paid hours per horizon), and with breaks ``breaks``
            (``"2 at 11:00, 1 at 11:30"``: when its people take their break, the same time on
            each working day).
        coverage: Per interval: ``requirement`` (agents on the floor), ``needed``
            (``ceil(requirement / (1 - shrinkage))``), ``scheduled`` (on shift and not on
            break), ``surplus``.
        agents: People scheduled (tours); with single shifts (``days_on=None``), shifts.
        paid_hours_per_week: Paid hours of all shifts per week.
        fte: ``paid_hours_per_week / fte_hours``.
        objective: Total cost (paid hours per horizon unless costs are given).
        lp_bound: Optimum of the LP relaxation (a lower bound on ``objective``).
        mip_gap: HiGHS's relative gap between ``objective`` and its best bound (0: optimal).
        status: ``"optimal"`` or ``"time_limit"`` (the best schedule found in the time).
        solve_seconds: Wall time of HiGHS (LP relaxation and MILP).
        rules: The :class:`ShiftRules`.
    """

    shifts: pd.DataFrame
    coverage: pd.DataFrame
    agents: int
    paid_hours_per_week: float
    fte: float
    objective: float
    lp_bound: float
    mip_gap: float
    status: str
    solve_seconds: float
    rules: ShiftRules = field(repr=False)

    @property
    def optimal(self) -> bool:
        return self.status == "optimal"

    def to_pandas(self) -> pd.DataFrame:
        """The shifts by type and start (one row per tour worked)."""
        return self.shifts.copy()

    def summary(self) -> str:
        cov = self.coverage
        short = int((cov["scheduled"] < cov["needed"]).sum())
        by_type = self.shifts.groupby("shift", sort=False)["agents"].sum()
        kinds = ", ".join(f"{int(v)} x {k}" for k, v in by_type.items())
        state = ("optimal" if self.optimal else
                 f"stopped at the time limit, gap {self.mip_gap:.2%}")
        shrink = self.rules.shrinkage
        unit = "agents" if all(t.days_on is not None for t in self.rules.shifts) else "shifts"
        return (f"Shift schedule ({state}, {self.solve_seconds:.2f} s): {self.agents} {unit} "
                f"({kinds}), {self.paid_hours_per_week:,.1f} paid hours a week = "
                f"{self.fte:,.2f} FTE of {self.rules.fte_hours:g} h; cost {self.objective:,.6g} "
                f"(LP bound {self.lp_bound:,.6g}); coverage >= requirement / (1 - "
                f"{shrink:.0%}) in {len(cov) - short} of {len(cov)} intervals, surplus "
                f"{int(cov['surplus'].sum()):,} agent-intervals")

    def __repr__(self) -> str:
        return f"ShiftSchedule({self.summary()})"

    def _repr_html_(self) -> str:
        esc = self.summary().replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        return f"<p>{esc}</p>" + self.shifts.to_html(index=False, max_rows=40)

    def plot(self, ax: Any = None) -> Figure:
        """Requirement (after shrinkage) and scheduled coverage over the horizon, per
        interval, on ``ax`` or a new figure (object API, no pyplot state). Returns the
        Figure."""
        if ax is None:
            ax = Figure(figsize=(11, 3.5), layout="constrained").add_subplot()
        cov = self.coverage
        x = np.arange(len(cov) + 1)
        needed = np.r_[cov["needed"].to_numpy(), cov["needed"].iloc[-1]]
        got = np.r_[cov["scheduled"].to_numpy(), cov["scheduled"].iloc[-1]]
        ax.fill_between(x, 0, needed, step="post", alpha=0.25, color="C0",
                        label="needed (requirement / (1 - shrinkage))")
        ax.step(x, got, where="post", color="C1", lw=1.5, label="scheduled coverage")
        per_day = int(_DAY / (self.rules.interval or pd.Timedelta(minutes=30)))
        days = len(cov) // per_day
        ax.set_xticks([d * per_day for d in range(days + 1)])
        ax.set_xticklabels([*self._day_names(), ""])
        ax.set_xlim(0, len(cov))
        ax.set_ylabel("agents")
        ax.set_title(f"{self.agents} agents, {self.fte:.1f} FTE ({self.status})")
        ax.legend(loc="upper right", fontsize=8)
        return ax.figure

    def _day_names(self) -> list[str]:
        return list(self.coverage.attrs.get("days", []))


def _schedule(grid: _Grid, model: _Model, solved: _Solved, requirement: np.ndarray,
              needed: np.ndarray, *, rules: ShiftRules) -> ShiftSchedule:
    x = solved.x
    nt = model.n_tours
    scheduled = model.cover @ x
    coverage = pd.DataFrame({"requirement": requirement, "needed": needed.astype(int),
                             "scheduled": np.round(scheduled).astype(int)}, index=grid.index)
    coverage["surplus"] = coverage["scheduled"] - coverage["needed"]
    coverage.attrs["days"] = grid.day_labels
    tours = model.tours.assign(agents=x[:nt].astype(int))
    used = tours[tours["agents"] > 0]

    def clock(t: pd.Timedelta) -> str:
        minutes = int(t / pd.Timedelta(minutes=1)) % 1440
        return f"{minutes // 60:02d}:{minutes % 60:02d}"

    shifts = pd.DataFrame({
        "shift": used["shift"].to_numpy(),
        "start_day": [grid.day_labels[d] for d in used["day"]],
        "start_time": [clock(t) for t in used["start"]],
        "end_time": [clock(t + ln) for t, ln in zip(used["start"], used["length"],
                                                     strict=True)],
        "days_on": used["days_on"].to_numpy(),
        "break_start": [None if b is None or pd.isna(b) else clock(t + b)
                        for t, b in zip(used["start"], used["break_start"], strict=True)],
        "agents": used["agents"].to_numpy(),
        "paid_hours": (used["agents"] * used["paid_hours"]).to_numpy()})
    if not any(st.break_length is not None for st in rules.shifts):
        shifts = shifts.drop(columns="break_start")
    else:
        keys = ["shift", "start_day", "start_time", "end_time", "days_on"]
        shifts = (shifts.groupby(keys, sort=False, dropna=False)
                  .agg(agents=("agents", "sum"), paid_hours=("paid_hours", "sum"),
                       breaks=("break_start", lambda b: _breaks_text(b, shifts["agents"])))
                  .reset_index())
    paid = float((tours["agents"] * tours["paid_hours"]).sum())
    per_week = paid * 7.0 / grid.days
    return ShiftSchedule(shifts.reset_index(drop=True), coverage,
                         int(tours["agents"].sum()), per_week, per_week / rules.fte_hours,
                         solved.objective, solved.lp_bound, solved.mip_gap, solved.status,
                         solved.seconds, rules)


def _breaks_text(starts: pd.Series, agents: pd.Series) -> str:
    """``"2 at 11:00, 1 at 11:30"``: the break starts of one tour's people."""
    parts = [f"{int(agents[i])} at {b}" for i, b in starts.items() if b is not None]
    return ", ".join(parts)


def _needed(requirement: np.ndarray, shrinkage: float) -> np.ndarray:
    # ceil with a relative tolerance: 14 / (1 - 0.3) is 20.000000000000004 in binary
    return np.ceil(requirement / (1.0 - shrinkage) * (1.0 - 1e-12) - 1e-9)


def solve_shifts(requirement: Any, rules: ShiftRules | None = None) -> ShiftSchedule:
    """The cheapest shifts (fewest paid hours by default) that cover a requirement per interval.

    Args:
        requirement: Agents needed on the floor per interval over whole days (a week of
            half hours is 336 numbers), Monday 00:00 first for an array; a Series indexed by
            interval start (evenly spaced, starting at midnight) names the days and gives
            the interval. Non-integer requirements are rounded up after shrinkage.
        rules: :class:`ShiftRules` (default: 8-hour shifts, five days on and two off, any
            start on a 30-minute grid, no shrinkage).

    Returns:
        :class:`ShiftSchedule`.

    Raises:
        ValueError: A negative or missing requirement, a horizon of no whole days, a shift
            longer than the horizon or not a multiple of the interval, a shift type without
            an allowed start, an interval that no shift can cover -- naming the argument.
        RuntimeError: HiGHS found no schedule within the time limit.

    References:
        Dantzig (1954) for the set-covering formulation and its breaks; see the
        module docstring.

    Examples:
        >>> req = [0, 0, 2, 3, 3, 1] * 2  # two days of 4-hour intervals
        >>> s = solve_shifts(req, ShiftRules([ShiftType("8h", days_on=None)], interval="4h"))
        >>> s.agents, s.status, bool((s.coverage["scheduled"] >= req).all())
        (10, 'optimal', True)
    """
    rules = ShiftRules() if rules is None else rules
    r, grid = _grid(requirement, rules)
    if rules.interval is None:
        rules = ShiftRules(rules.shifts, grid.interval, rules.shrinkage, rules.fte_hours,
                           rules.time_limit, rules.mip_gap)
    model = _build(grid, rules)
    needed = _needed(r, rules.shrinkage)
    reach = model.cover.sum(axis=1)
    uncovered = (needed > 0) & (reach == 0)
    if uncovered.any():
        i = int(np.flatnonzero(uncovered)[0])
        raise ValueError(f"requirement: interval {grid.index[i]} needs {needed[i]:g} agents but "
                         "no allowed shift covers it (check the shifts' start times)")
    constraints = [LinearConstraint(model.cover, lb=needed, ub=np.inf)]
    integrality = np.ones(len(model.cost))
    solved = _solve(model.cost, integrality, constraints, rules, "requirement")
    return _schedule(grid, model, solved, r, needed, rules=rules)
