"""Headcount planning: the fewest agents that hold every arm's first-response target.

The question the experiment exists to answer in money: how many agents does the desk need if
everyone keeps the fast first response, and how many if the experiment's policy is rolled out
(low-spend customers deferred to one business day)? :func:`plan_staffing` answers it with the
desk simulation (:func:`~frt_experiments.staffing.desk.simulate_desk`), on arrivals drawn from
the trial's own conversations:

- an :class:`~frt_experiments.staffing.profile.ArrivalProfile` per hour of the week is
  estimated for the customers outside the experiment and for each arm; the low-spend
  population under a policy is that policy's arm scaled up by the inverse of the arm's share
  of assignments (its volume *and* its handle times, so the arm's effects on questions and
  efficiency enter the plan);
- *everyone fast*: the outside stream and the scaled-up control arm join the fast queue;
  *rollout*: the outside stream joins the fast queue, the scaled-up treatment arm the
  deferred queue, whose deadlines are never tighter than the fast target (a deferred
  conversation gets the later of its one-business-day deadline and the target); when the fast
  target is at or beyond one business day nobody gains time by deferral, nobody is deferred
  and the rollout is everyone fast (``deferred`` is ``False``);
- for each, the fewest agents (a constant headcount while the desk is open) such that the
  mean share answered within target over the replications reaches each arm's service level.

**Search.** The share within target is assumed non-decreasing in the number of agents (more
agents never make a queue slower; with common random numbers, the same arrivals and handle
times for every candidate, this holds for the simulated FCFS queue path by path and for the
priority/deadline desk in all but contrived cases). The search starts at the offered load
(agents below it cannot keep up over the window), gallops by doubling steps to bracket the
answer and bisects the bracket, so it needs O(log n) simulations.

**Shift schedules** (``plan_staffing(schedule=ShiftRules(...))``). A constant headcount
wastes the quiet hours, so its saving is measured against a weak baseline. With a schedule each
policy is also planned on its own best shifts: a fluid model of the desk in intervals of the
week (work arriving per interval from the simulated arrivals; each queue's backlog may never
hold work past its deadline, the fast queue first-come first-served, the deferred queue by
deadline; agents only work while the desk is open) is solved together with the shifts
(:mod:`~frt_experiments.staffing.shifts`) as one integer program: the fewest paid hours whose
agents on the floor, ``(1 - shrinkage)`` of those on shift, process every conversation by its
deadline. The deferred queue's deadlines let its work move into quiet hours, which is what the
rollout gains. The fluid plan ignores randomness (and averages the weeks, so a holiday's
backlog is not in it), so each queue's work is scaled by its own margin until the desk
simulation with that schedule's agents per interval meets every arm's service level (Green,
Kolesar and Whitt 2007 on simulation-based staffing of time-varying demand): one margin for
both queues first, bracketed by 10% steps from 1 and bisected between the last failing and
the first passing value to within 0.02; then, with deferred work, the fast queue's margin is
lowered by 10% steps, while that lowers the cost, and the smallest deferred margin that passes
is searched for each; the cheapest passing schedule is kept. The deferred queue usually needs the
larger margin (its 95% within deadline against the fast queue's 90%, and its backlog after a
closed day). Two candidates bound the answer, each accepted only if it meets the service
levels in the simulation: the cheapest shifts covering the policy's constant headcount in every
open interval, and, for the rollout, everyone fast's schedule (deferring work never has to cost
more than answering everyone fast; whether it does on this desk's arrivals is checked, not
assumed). Both savings are reported: today's constant headcount and the scheduled one.

**Growth.** :func:`project_headcount` grows month 0's arrivals by Poisson thinning and
superposition with common random numbers, so each month's arrivals contain the previous
month's and the headcount moves with volume, not with sampling noise.

References:
    Kiefer, J. and Wolfowitz, J. (1955): a FCFS multi-server queue's waits are
    non-increasing in the number of servers for fixed arrivals and service times (the
    monotonicity the bisection relies on).
    Glasserman, P. and Yao, D. D. (1992). Some guidelines and guarantees for common random
    numbers. Management Science 38(6), 884-908.
    Lewis, P. A. W. and Shedler, G. S. (1979). Simulation of nonhomogeneous Poisson processes
    by thinning. Naval Research Logistics Quarterly 26(3), 403-413.
    Green, L. V., Kolesar, P. J. and Whitt, W. (2007). Coping with time-varying demand when
    setting staffing requirements for a service system. Production and Operations
    Management 16(1), 13-39 (simulation-based staffing when steady-state formulas fail).
"""

from __future__ import annotations

import datetime as _dt
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd
from scipy import sparse
from scipy.optimize import Bounds, LinearConstraint, milp

from frt_experiments.calendar import BusinessCalendar
from frt_experiments.policy import FrtPolicy, default_policies
from frt_experiments.schema import ARM, CONTROL_ARM, CREATED_AT, CUSTOMER_ID, TREATMENT_ARM
from frt_experiments.staffing import _engine
from frt_experiments.staffing import desk as _desk
from frt_experiments.staffing import shifts as _shifts
from frt_experiments.staffing.profile import ArrivalProfile, _checked, _real
from frt_experiments.staffing.shifts import ShiftRules, ShiftSchedule

__all__ = ["HeadcountProjection", "StaffingPlan", "plan_staffing", "project_headcount",
           "staffing_curve"]

#: The two policies compared.
EVERYONE_FAST = "everyone_fast"
ROLLOUT = "rollout"
POLICIES = (EVERYONE_FAST, ROLLOUT)
_WEEK_NS = 7 * 86_400 * 10**9
#: Stream of the customers outside the experiment (see ArrivalProfile.from_conversations).
_OUTSIDE = "unassigned"
_MAX_AGENTS = 100_000


@dataclass(frozen=True)
class _Scenario:
    """Arrival profiles of the two policies, built from the trial."""

    profiles: dict[str, ArrivalProfile]
    start: pd.Timestamp  # a local Monday 00:00
    control_share: float
    experiment: bool = True  # False: no assignments, every conversation one fast queue


def _monday(conv: pd.DataFrame, calendar: BusinessCalendar) -> pd.Timestamp:
    first = pd.Timestamp(conv[CREATED_AT].min()).tz_convert(calendar.timezone).normalize()
    return first + pd.Timedelta(days=(7 - first.day_of_week) % 7)


def _scenario(conversations: pd.DataFrame, assignments: pd.DataFrame | None, *,
              calendar: BusinessCalendar, control: str, treatment: str) -> _Scenario:
    conv = _checked(conversations, "conversations")
    if assignments is None:
        # a desk without an experiment: every conversation joins the fast queue, and the
        # rollout (nobody is known to be low-spend) is everyone fast
        base = ArrivalProfile.from_conversations(conv, None, timezone=calendar.timezone,
                                                 unassigned_arm=control)
        return _Scenario({EVERYONE_FAST: base, ROLLOUT: base}, _monday(conv, calendar), 1.0,
                         experiment=False)
    if ARM not in assignments.columns or CUSTOMER_ID not in assignments.columns:
        raise ValueError(f"assignments: needs columns {CUSTOMER_ID!r} and {ARM!r}")
    counts = assignments[ARM].value_counts()
    for arm in (control, treatment):
        if counts.get(arm, 0) == 0:
            raise ValueError(f"assignments: no customer in arm {arm!r} (arms: "
                             f"{sorted(counts.index.astype(str))})")
    n_c, n_t = float(counts[control]), float(counts[treatment])
    base = ArrivalProfile.from_conversations(conv, assignments, timezone=calendar.timezone,
                                             unassigned_arm=control)
    names = {s.name for s in base.streams}
    for arm in (control, treatment):
        if arm not in names:
            raise ValueError(f"conversations: no conversation from a customer in arm {arm!r}")
    outside = [_OUTSIDE] if _OUTSIDE in names else []
    fast = base.select([*outside, control]).scaled({control: (n_c + n_t) / n_c})
    roll = base.select([*outside, treatment]).scaled({treatment: (n_c + n_t) / n_t})
    return _Scenario({EVERYONE_FAST: fast, ROLLOUT: roll}, _monday(conv, calendar),
                     n_c / (n_c + n_t))


@dataclass(frozen=True)
class _Search:
    agents: int
    share: dict[str, float]
    occupancy: float
    simulations: int
    per_replication: dict[str, list[float]] = field(default_factory=dict)


def _min_agents(setup: _desk._Setup, service_levels: Mapping[str, float], guess: int, *,
                lower: int = 0) -> _Search:
    """Fewest constant agents with mean share within target >= each arm's service level.

    ``lower``: a headcount known to miss the targets (e.g. one less than the answer for a
    looser target or a smaller volume); the answer is searched above it.
    """
    cache: dict[int, tuple[float, dict[str, float], float]] = {0: (-1.0, {}, float("nan"))}
    per_rep: dict[int, dict[str, list[float]]] = {}

    def margin(n: int) -> float:
        """min over arms of (mean share within target - service level); >= 0 is feasible."""
        if n not in cache:
            staff = _desk._staff(n, setup)
            shares: dict[str, list[float]] = {}
            work = 0.0
            for sample in setup.samples:
                start = _desk._run(sample, staff)
                for arm, v in _desk._share_met(sample, start).items():
                    shares.setdefault(arm, []).append(v)
                work += float(sample.handle[np.isfinite(start) & sample.measured].sum())
            mean = {a: float(np.mean(v)) for a, v in shares.items()}
            gap = min((mean.get(a, 1.0) - sl for a, sl in service_levels.items()), default=0.0)
            cache[n] = (gap, mean, work / (staff.duty_seconds * len(setup.samples)))
            per_rep[n] = shares
        return cache[n][0]

    # bracket: margin(lo) < 0 <= margin(hi), galloping by growing steps from the guess
    n = max(guess, lower + 1, 1)
    step = max(1, n // 16)
    if margin(n) >= 0:
        hi, lo = n, lower
        while hi - 1 > lower:
            cand = max(hi - step, lower + 1)
            if margin(cand) >= 0:
                hi = cand
                step *= 2
            else:
                lo = cand
                break
    else:
        lo = n
        while True:
            cand = lo + step
            if cand > _MAX_AGENTS:
                raise ValueError(f"no headcount up to {_MAX_AGENTS:,} agents meets the "
                                 "targets; check the service levels and the calendar")
            if margin(cand) >= 0:
                hi = cand
                break
            lo = cand
            step *= 2
    # safeguarded regula falsi on the margin (falls back to bisection when it stalls)
    use_secant = True
    while hi - lo > 1:
        m_lo, m_hi = margin(lo), margin(hi)
        mid = (lo + hi) // 2
        if use_secant and m_hi > m_lo:
            x = lo + (0.0 - m_lo) / (m_hi - m_lo) * (hi - lo)
            mid = min(max(round(x), lo + 1), hi - 1)
        width = hi - lo
        if margin(mid) >= 0:
            hi = mid
        else:
            lo = mid
        use_secant = (hi - lo) <= width // 2 or not use_secant  # alternate when slow
    margin(hi)
    _, share, occ = cache[hi]
    return _Search(hi, share, occ, len(cache) - 1, per_rep[hi])


def _setup(profile: ArrivalProfile, *, calendar: BusinessCalendar,
           policies: Mapping[str, FrtPolicy], start: pd.Timestamp, weeks: float,
           warmup_days: float, replications: int, rng: np.random.Generator,
           control: str) -> _desk._Setup:
    end = start + pd.Timedelta(days=warmup_days) + pd.Timedelta(weeks=weeks)
    base = int(rng.integers(0, 2**63 - 1))
    # common random numbers across policies: replication r of the stream of customers outside
    # the experiment is drawn from the same generator in both, the low-spend stream (control
    # arm scaled up, or treatment arm scaled up) from another shared one
    roles = [0 if st.name == _OUTSIDE else 1 for st in profile.streams]

    def stream_rngs(r: int) -> list[np.random.Generator]:
        return [np.random.default_rng([base, r, role]) for role in roles]

    return _desk._prepare(profile, None, calendar=calendar, policies=policies,
                          fast_arms=(control,), unassigned_arm=control, patience_seconds=None,
                          start=start, end=end, warmup=pd.Timedelta(days=warmup_days),
                          replications=replications, rng=rng, stream_rngs=stream_rngs)


def _load_guess(setup: _desk._Setup) -> int:
    """Offered load: work per unit of open time (agents below it cannot keep up)."""
    work = np.mean([float(s.handle[s.measured].sum()) for s in setup.samples])
    b = _desk._business_seconds(setup.calendar, setup.origin,
                                np.array([setup.measure_from, setup.end]))
    return max(1, math.ceil(work / max(b[1] - b[0], 1.0)))


def _seeds(gen: np.random.Generator) -> list[int]:
    """The seed of each policy, drawn in the same way by every planning function, so that the
    same ``rng`` gives the same arrivals to :func:`plan_staffing`, :func:`staffing_curve` and
    month 0 of :func:`project_headcount`. Both policies get the same seed: with the per-stream
    generators of :func:`_setup` they share the outside customers' arrivals and draw their
    low-spend streams from the same random numbers (common random numbers: the agents saved
    vary about a third less from seed to seed)."""
    seed = int(gen.integers(0, 2**63 - 1, size=len(POLICIES))[0])
    return [seed] * len(POLICIES)


def _with_fast_target(setup: _desk._Setup, control: str, seconds: float | None
                      ) -> _desk._Setup:
    """The same arrivals judged against a fast-policy target of ``seconds`` (business time);
    deferred conversations get at least as long (their deadline is never tighter than the
    fast target), and the deferred queue is ordered by those deadlines. ``None``: the
    policies' own targets, deferred deadlines floored at nothing."""
    if seconds is None:
        return setup
    samples = []
    for smp in setup.samples:
        allowed = np.where(smp.arm == control, seconds, smp.allowed)
        allowed = np.where(smp.fast, allowed, np.maximum(allowed, seconds))
        d = ~smp.fast
        jobs = replace(smp.jobs, def_deadline=smp.b[d] + allowed[d])
        samples.append(replace(smp, allowed=allowed, jobs=jobs))
    return replace(setup, samples=tuple(samples))


def _defers(setup: _desk._Setup, seconds: float | None) -> bool:
    """Whether the deferred queue gives any conversation more time than the fast target."""
    if seconds is None:
        return True
    return any(bool((smp.allowed[~smp.fast] > seconds + 1e-9).any()) for smp in setup.samples)


def _fast_seconds(policies: Mapping[str, FrtPolicy], control: str) -> float | None:
    """The fast policy's business-time target in seconds (``None`` for a deadline rule)."""
    pol = policies.get(control)
    if pol is None or pol.rule != "business_time" or pol.target is None:
        return None
    return float(pol.target.total_seconds())


def _validate_common(service_levels: Mapping[str, float], weeks: float, warmup_days: float,
                     replications: int, cost_per_agent: float) -> None:
    for arm, sl in service_levels.items():
        if not 0 < _real(sl) < 1:
            raise ValueError(f"service_levels: {arm!r} must be in (0, 1), got {sl!r}")
    if not (np.isfinite(_real(weeks)) and weeks > 0):
        raise ValueError(f"weeks: must be > 0, got {weeks!r}")
    if not (np.isfinite(_real(warmup_days)) and warmup_days >= 0):
        raise ValueError(f"warmup_days: must be >= 0, got {warmup_days!r}")
    if isinstance(replications, bool) or not isinstance(replications, int) or replications < 1:
        raise ValueError(f"replications: must be a positive integer, got {replications!r}")
    if not (np.isfinite(_real(cost_per_agent)) and cost_per_agent >= 0):
        raise ValueError(f"cost_per_agent: must be >= 0, got {cost_per_agent!r}")


def _open_hours_per_week(setup: _desk._Setup, weeks: float) -> float:
    b = _desk._business_seconds(setup.calendar, setup.origin,
                                np.array([setup.measure_from, setup.end]))
    return float(b[1] - b[0]) / 3600.0 / weeks


# ---------------------------------------------------------------------- shift schedules


@dataclass(frozen=True)
class _FluidWeek:
    """Work per interval of the week (agent hours per week, averaged over the simulation)."""

    arrive: dict[str, np.ndarray]  # queue ("fast", "deferred") -> work arriving
    allowed: dict[str, np.ndarray]  # queue -> work arrived, not done, not yet due at the end
    open_share: np.ndarray  # share of each interval the desk is open
    index: pd.DatetimeIndex  # a reference week's interval starts (local, Monday 00:00)


def _week_grid(setup: _desk._Setup, interval: pd.Timedelta, lo: int, hi: int
               ) -> tuple[pd.DatetimeIndex, np.ndarray, np.ndarray]:
    """Interval edges (local) from the local midnight before ``lo`` to past ``hi``, each
    interval's position in the week and the edges on the business clock."""
    tz = setup.calendar.timezone
    start = pd.Timestamp(lo, tz="UTC").tz_convert(tz).normalize()
    edges = pd.date_range(start, pd.Timestamp(hi, tz="UTC").tz_convert(tz), freq=interval)
    minutes = (edges.day_of_week * 1440 + edges.hour * 60 + edges.minute).to_numpy()
    pos = (minutes[:-1] // int(interval / pd.Timedelta(minutes=1))).astype(np.int64)
    eb = _desk._business_seconds(setup.calendar, setup.origin, edges.as_unit("ns").asi8)
    return edges, pos, eb


def _fluid_week(setup: _desk._Setup, interval: pd.Timedelta, weeks: float) -> _FluidWeek:
    n = int(pd.Timedelta(weeks=1) / interval)
    edges, pos, eb = _week_grid(setup, interval, setup.measure_from,
                                int(setup.end + pd.Timedelta(days=14).value))
    ens = edges.as_unit("ns").asi8
    m = len(pos)
    arrive = {"fast": np.zeros(m), "deferred": np.zeros(m)}
    allowed = {"fast": np.zeros(m + 1), "deferred": np.zeros(m + 1)}
    for smp in setup.samples:
        keep = smp.measured
        at = np.searchsorted(ens, smp.created[keep], side="right") - 1
        due = np.searchsorted(eb, smp.b[keep] + smp.allowed[keep], side="left")
        hours = smp.handle[keep] / 3600.0
        for queue, mask in (("fast", smp.fast[keep]), ("deferred", ~smp.fast[keep])):
            arrive[queue] += np.bincount(at[mask], hours[mask], minlength=m)[:m]
            # not yet due at the end of intervals at .. due - 2 (due: the first edge at or
            # after the deadline, on the business clock)
            stop = np.maximum(at[mask], due[mask] - 1)
            allowed[queue] += (np.bincount(at[mask], hours[mask], minlength=m + 1)[:m + 1]
                               - np.bincount(np.minimum(stop, m), hours[mask],
                                             minlength=m + 1)[:m + 1])
    reps = len(setup.samples) * weeks
    open_share = np.diff(eb) / interval.total_seconds()
    measured = (ens[:-1] >= setup.measure_from) & (ens[1:] <= setup.end)
    counts = np.bincount(pos[measured], minlength=n)
    week_open = np.bincount(pos[measured], open_share[measured], minlength=n) / np.maximum(
        counts, 1)
    ref = pd.date_range("2024-01-01", periods=n, freq=interval)  # a Monday
    return _FluidWeek(
        {q: np.bincount(pos, a, minlength=n) / reps for q, a in arrive.items()},
        {q: np.bincount(pos, np.cumsum(a)[:m], minlength=n) / reps for q, a in allowed.items()},
        np.clip(week_open, 0.0, 1.0), ref)


@dataclass(frozen=True)
class _FluidProblem:
    cost: np.ndarray
    integrality: np.ndarray
    constraints: list[LinearConstraint]
    bounds: Bounds
    grid: Any  # shifts._Grid
    model: Any  # shifts._Model


def _fluid_problem(week: _FluidWeek, rules: ShiftRules, m_f: float, m_d: float
                   ) -> _FluidProblem:
    interval = rules.interval
    r0 = pd.Series(np.zeros(len(week.index)), index=week.index)
    _, grid = _shifts._grid(r0, rules)
    model = _shifts._build(grid, rules)
    n, nt = grid.n, model.n_tours
    hours = interval.total_seconds() / 3600.0
    eye = sparse.identity(n, format="csr")
    zero = sparse.csr_array((n, n))
    back = sparse.csr_array(sparse.eye(n, k=-1) + sparse.eye(n, k=n - 1))  # s_{i-1}, cyclic
    zt = sparse.csr_array((n, nt))
    # variables: tours x | floor agents y | processed p_f, p_d | backlogs s_f, s_d
    floor = sparse.hstack([(1.0 - rules.shrinkage) * model.cover, -eye, zero, zero, zero, zero])
    capacity = sparse.hstack([zt, -sparse.diags(hours * week.open_share), eye, eye, zero, zero])
    flow_f = sparse.hstack([zt, zero, eye, zero, eye - back, zero])
    flow_d = sparse.hstack([zt, zero, zero, eye, zero, eye - back])
    constraints = [
        LinearConstraint(floor, lb=0.0, ub=np.inf),
        LinearConstraint(capacity, lb=-np.inf, ub=0.0),
        LinearConstraint(flow_f, lb=m_f * week.arrive["fast"], ub=m_f * week.arrive["fast"]),
        LinearConstraint(flow_d, lb=m_d * week.arrive["deferred"],
                         ub=m_d * week.arrive["deferred"]),
    ]
    upper = np.r_[np.full(nt + 3 * n, np.inf), m_f * week.allowed["fast"],
                  m_d * week.allowed["deferred"]]
    cost = np.r_[model.cost, np.zeros(5 * n)]
    integrality = np.r_[np.ones(nt + n), np.zeros(4 * n)]
    return _FluidProblem(cost, integrality, constraints, Bounds(np.zeros(cost.size), upper),
                         grid, model)


def _fluid_lp_bound(week: _FluidWeek, rules: ShiftRules, m_f: float, m_d: float) -> float:
    """A lower bound on the cost of any schedule at these margins: the optimum of the fluid
    program's LP relaxation, rounded up to the next multiple of the tours' costs' greatest
    common divisor when they are whole numbers (paid hours: every schedule costs a multiple
    of it); ``inf`` when the relaxation is infeasible."""
    prob = _fluid_problem(week, rules, m_f, m_d)
    tours = prob.model.cost
    step = 0
    if len(tours) and np.allclose(tours, np.round(tours), rtol=0.0, atol=1e-9):
        step = math.gcd(*(round(float(c)) for c in tours))
    lp = milp(prob.cost, integrality=np.zeros_like(prob.integrality),
              constraints=prob.constraints, bounds=prob.bounds,
              options={"time_limit": rules.time_limit})
    if lp.status == 2:  # HiGHS: infeasible
        return math.inf
    if lp.x is None:  # no bound within the time limit: nothing can be ruled out
        return -math.inf
    bound = float(lp.fun)
    return math.ceil(bound / step - 1e-9) * step if step > 0 else bound


def _fluid_schedule(week: _FluidWeek, rules: ShiftRules, margin: float,
                    deferred_margin: float | None = None) -> ShiftSchedule:
    """The cheapest shifts whose agents on the floor process the week's work by its deadlines,
    as one integer program (see the module docstring): the fast queue's work times
    ``margin``, the deferred queue's times ``deferred_margin`` (default ``margin``)."""
    m_d = margin if deferred_margin is None else deferred_margin
    prob = _fluid_problem(week, rules, margin, m_d)
    grid, model = prob.grid, prob.model
    n, nt = grid.n, model.n_tours
    solved = _shifts._solve(prob.cost, prob.integrality, prob.constraints, rules, "schedule",
                            bounds=prob.bounds)
    y = solved.x[nt:nt + n]
    tours_only = _shifts._Solved(solved.x[:nt], solved.status, solved.message,
                                 solved.objective, solved.lp_bound, solved.mip_gap,
                                 solved.seconds)
    needed = _shifts._needed(y, rules.shrinkage)
    return _shifts._schedule(grid, model, tours_only, y, needed, rules=rules)


def _interval_staff(floor: np.ndarray, interval: pd.Timedelta, setup: _desk._Setup
                    ) -> _desk._Staff:
    """Agents on the floor per interval of the week as duty segments on the business clock
    (as :func:`frt_experiments.staffing.desk._staff` does for hours of the week)."""
    _, pos, eb = _week_grid(setup, interval, setup.origin, int(setup.end + _desk._TAIL.value))
    b_from, b_end = _desk._business_seconds(
        setup.calendar, setup.origin, np.array([setup.measure_from, setup.end])).tolist()
    s_all, e_all, c_all = eb[:-1], eb[1:], floor.astype(np.int64)[pos]
    starts, ends, cums, duty = [], [], [], 0.0
    for k in range(max(int(floor.max()), 1)):  # one vectorized pass per agent level
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
    return _desk._Staff(None, roster, duty, (b_from, b_end))


#: Margins are searched to within this (absolute) tolerance, between 0.5 and 2.85 (a
#: finer one costs MILPs and rarely moves a cost that comes in whole shifts).
_MARGIN_TOLERANCE = 0.02
_MARGIN_LOW, _MARGIN_HIGH = 0.5, 2.85


@dataclass(frozen=True)
class _Scheduled:
    schedule: ShiftSchedule
    fast_margin: float
    deferred_margin: float  # NaN without deferred work
    share: dict[str, float]
    simulations: int
    seconds: float
    source: str = "own"  # "own", or "everyone_fast": the everyone-fast schedule, re-simulated


def _on_floor(sched: ShiftSchedule) -> np.ndarray:
    """Agents available on the floor per interval: ``(1 - shrinkage)`` of those on shift,
    rounded down."""
    cov = sched.coverage["scheduled"].to_numpy()
    return np.floor(cov * (1.0 - sched.rules.shrinkage) + 1e-9)


def _simulated_shares(sched: ShiftSchedule, setup: _desk._Setup, rules: ShiftRules
                      ) -> dict[str, float] | None:
    """Mean share within target per arm of the desk simulation on ``sched``'s agents on the
    floor (``None``: nobody on the floor)."""
    floor = _on_floor(sched)
    if floor.max() < 1:
        return None
    staff = _interval_staff(floor, rules.interval, setup)
    shares: dict[str, list[float]] = {}
    for sample in setup.samples:
        start = _desk._run(sample, staff)
        for arm, v in _desk._share_met(sample, start).items():
            shares.setdefault(arm, []).append(v)
    return {a: float(np.mean(v)) for a, v in shares.items()}


def _meets(share: Mapping[str, float] | None, service_levels: Mapping[str, float]) -> bool:
    return share is not None and all(share.get(a, 1.0) >= sl
                                     for a, sl in service_levels.items())


def _smallest_passing(ok: Any, start: float, *, tolerance: float) -> float | None:
    """The smallest margin in [0.5, 2.85] with ``ok(margin)``, to within ``tolerance``.

    From ``start``, 10% steps down while ``ok`` holds or up until it does bracket the answer
    between the last failing and the first passing margin; bisection then halves that
    bracket until it is at most ``tolerance`` wide. ``ok`` is assumed non-decreasing in the
    margin (more fluid work, more agents); the margin returned passed its own check either
    way. ``None``: no margin up to 2.85 passes.
    """
    hi: float | None = None
    lo = 0.0
    m = min(max(start, _MARGIN_LOW), _MARGIN_HIGH)
    if ok(m):
        hi = m
        while hi > _MARGIN_LOW:
            cand = max(round(hi * 0.9, 6), _MARGIN_LOW)
            if not ok(cand):
                lo = cand
                break
            hi = cand
        else:
            return hi
    else:
        lo = m
        while lo < _MARGIN_HIGH:
            cand = min(round(lo * 1.1, 6), _MARGIN_HIGH)
            if ok(cand):
                hi = cand
                break
            lo = cand
        if hi is None:
            return None
    while hi - lo > tolerance:
        mid = round((lo + hi) / 2.0, 6)
        if ok(mid):
            hi = mid
        else:
            lo = mid
    return hi


def _scheduled_plan(setup: _desk._Setup, rules: ShiftRules, service_levels: Mapping[str, float],
                    weeks: float, *, constant_agents: int | None = None,
                    tolerance: float = _MARGIN_TOLERANCE) -> _Scheduled:
    """The cheapest schedule whose desk meets the service levels, over the two queues'
    margins (the fluid work of each queue scaled by its own margin).

    1. One margin for both queues: the smallest that passes the desk simulation, bracketed
       by 10% steps from 1 and bisected to ``tolerance`` (:func:`_smallest_passing`).
    2. With deferred work, the fast queue's margin is lowered in 10% steps from there (down
       to 0.5) and for each the smallest deferred margin that passes is found in the same
       way, starting from the previous one (a lower fast margin needs at least as high a
       deferred one); this stops at the first step that does not lower the cost.

    The cost of the fluid schedule does not fall as a margin grows (a schedule for more work
    serves less), so a margin pair whose LP relaxation (or integer optimum) costs at least
    as much as the cheapest schedule that passed so far cannot improve on it: the search
    moves below it without solving the integer program or simulating (most of the
    bisection's steps, since costs come in whole shifts). The cheapest schedule that passed
    is returned (ties: fewer paid hours, then smaller margins); every returned schedule was
    checked in the simulation.
    With ``constant_agents`` (the policy's constant headcount), the cheapest shifts that put
    at least that many agents on the floor in every open interval are a candidate too
    (checked in the simulation as well), so the schedule never needs more paid hours than
    the constant headcount's cover by these shifts.
    """
    t0 = time.perf_counter()
    week = _fluid_week(setup, rules.interval, weeks)
    verdict: dict[tuple[float, float], bool] = {}
    # passing schedules: (cost, paid hours, m_f + m_d, m_f, m_d) -> schedule and shares
    passing: dict[tuple[float, float, float, float, float],
                  tuple[ShiftSchedule, dict[str, float]]] = {}
    sims = 0

    def best_cost() -> float:
        return min(passing)[0] if passing else math.inf

    def attempt(m_f: float, m_d: float) -> bool:
        """Whether the schedule at these margins passes; also ``True`` when no schedule at
        these margins (or above: the cost does not fall as a margin grows) can cost less than
        the best one that passed, so the search moves below them without solving or
        simulating them."""
        nonlocal sims
        key = (round(m_f, 6), round(m_d, 6))
        if key in verdict:
            return verdict[key]
        if _fluid_lp_bound(week, rules, *key) >= best_cost() - 1e-6:
            verdict[key] = True
            return True
        sched = _fluid_schedule(week, rules, *key)
        if sched.objective >= best_cost() - 1e-6:
            verdict[key] = True
            return True
        share = _simulated_shares(sched, setup, rules)
        sims += 1
        verdict[key] = _meets(share, service_levels)
        if verdict[key] and share is not None:
            passing[(sched.objective, sched.paid_hours_per_week, key[0] + key[1], *key)] = (
                sched, share)
        return verdict[key]

    has_deferred = bool(week.arrive["deferred"].sum() > 0)
    common = _smallest_passing(lambda m: attempt(m, m), 1.0, tolerance=tolerance)
    if common is None or not passing:
        raise ValueError("schedule: no schedule up to 2.85 times the fluid work meets the "
                         "service levels in the desk simulation; check the shifts (start "
                         "times, lengths) against the desk's open hours")
    if has_deferred:
        m_f, m_d, stale = common, common, 0
        while m_f > _MARGIN_LOW and stale < 1:
            before = best_cost()
            m_f = max(round(m_f * 0.9, 6), _MARGIN_LOW)
            found = _smallest_passing(lambda m, m_f=m_f: attempt(m_f, m), m_d,
                                      tolerance=tolerance)
            if found is None:
                break
            m_d = found
            stale = 0 if best_cost() < before - 1e-6 else stale + 1
    *_, m_f, m_d = min(passing)
    sched, share = passing[min(passing)]
    source = "own"
    if constant_agents is not None:
        cover = _constant_cover(week, rules, constant_agents)
        if cover is not None and cover.objective < sched.objective - 1e-6:
            sims += 1
            cover_share = _simulated_shares(cover, setup, rules)
            if _meets(cover_share, service_levels) and cover_share is not None:
                sched, share, source = cover, cover_share, "constant"
                m_f, m_d = float("nan"), float("nan")
    return _Scheduled(sched, m_f, m_d if has_deferred else float("nan"), share, sims,
                      time.perf_counter() - t0, source=source)


def _constant_cover(week: _FluidWeek, rules: ShiftRules, agents: int) -> ShiftSchedule | None:
    """The cheapest shifts with ``agents`` on the floor in every interval the desk is open
    (``None`` when these shifts cannot cover the open hours)."""
    requirement = pd.Series(np.where(week.open_share > 0, float(agents), 0.0),
                            index=week.index)
    try:
        return _shifts.solve_shifts(requirement, rules)
    except (ValueError, RuntimeError):
        return None


def _no_worse_than_fast(own: _Scheduled, fast: _Scheduled, setup: _desk._Setup,
                        rules: ShiftRules, service_levels: Mapping[str, float]) -> _Scheduled:
    """The rollout's schedule, or everyone fast's when that is cheaper and meets the rollout's
    service levels in the rollout's own simulation (a rollout could answer its deferred work
    as fast as everyone fast does; the simulation checks it rather than assume it)."""
    if own.schedule.paid_hours_per_week <= fast.schedule.paid_hours_per_week + 1e-9:
        return own
    t0 = time.perf_counter()
    share = _simulated_shares(fast.schedule, setup, rules)
    seconds = own.seconds + time.perf_counter() - t0
    if not _meets(share, service_levels) or share is None:
        return replace(own, simulations=own.simulations + 1, seconds=seconds)
    return _Scheduled(fast.schedule, fast.fast_margin, fast.deferred_margin, share,
                      own.simulations + 1, seconds, source=EVERYONE_FAST)


@dataclass(frozen=True, repr=False)
class StaffingPlan:
    """Agents needed for everyone fast and for the rollout, and what the difference is worth.

    Attributes:
        table: One row per policy (``everyone_fast``, ``rollout``): ``policy, agents,
            scheduled_hours_per_week, workload_hours_per_week, occupancy``,
            ``share_within_target_<arm>`` per arm and ``deferred`` (low-spend conversations
            wait in the deferred queue; ``False`` for the rollout when the fast target is at
            or beyond the deferred deadline, which then repeats everyone fast's row).
        agents_saved: Agents the rollout saves (negative: it costs agents).
        agent_hours_saved_per_year: Scheduled agent hours saved per year (52 weeks).
        annual_savings: ``agents_saved * cost_per_agent``.
        cost_per_agent: Loaded cost per year of one agent *on duty through all the desk's
            open hours* (the plans count agents on duty, before shrinkage): on a 40-hour
            desk one full-time agent grossed up for shrinkage; on a 24/7 desk about 4.2
            full-time people.
        service_levels: Required share within target per arm.
        weeks, replications: Simulated weeks (after warm-up) and replications per candidate.
        simulations: Desk simulations run by the searches.
        intervals: The share within target at each policy's headcount with its t interval
            across replications (Law 2015, section 9.4; clipped to [0, 1]): ``policy, arm,
            service_level, share_within_target, ci_low, ci_high, replications`` (NaN bounds
            with one replication). The headcount meets the service level *on average over the
            replications*; a lower bound under it says the plan is at the edge.
        schedules: With ``schedule``: each policy's :class:`ShiftSchedule` (shifts and
            coverage per interval; ``coverage["requirement"]``: the agents on the floor the
            fluid plan uses, ``scheduled``: on shift).
        scheduled: With ``schedule``: one row per policy: ``policy, people, paid_hours_per_week,
            fte, on_floor_hours_per_week, constant_hours_per_week, fast_margin,
            deferred_margin, schedule_from, status, mip_gap, solve_seconds,
            share_within_target_<arm>`` (``constant_hours_per_week``: the constant headcount's
            on-duty hours, grossed up for the same shrinkage, for comparison;
            ``fast_margin``/``deferred_margin``: the factors on each queue's fluid work,
            ``deferred_margin`` NaN without deferred work; ``schedule_from``: ``"own"``, or
            ``"everyone_fast"`` when the rollout is staffed on everyone fast's schedule,
            which was cheaper than its own and met its service levels in its simulation).
        scheduled_hours_saved_per_week: Paid hours a week the rollout saves when both
            policies are on their own best schedule.
        scheduled_annual_savings: That saving priced like ``annual_savings``: the paid hours
            net of shrinkage (on-duty hours) at ``cost_per_agent`` per agent on duty through
            the open hours.
        experiment: ``False`` for a desk planned without assignments: every conversation is
            one fast queue, the rollout row repeats everyone fast's and nothing is saved.
    """

    table: pd.DataFrame
    agents_saved: int
    agent_hours_saved_per_year: float
    annual_savings: float
    cost_per_agent: float
    service_levels: dict[str, float] = field(default_factory=dict)
    weeks: float = 4.0
    replications: int = 1
    simulations: int = 0
    intervals: pd.DataFrame = field(default_factory=pd.DataFrame)
    schedules: dict[str, ShiftSchedule] = field(default_factory=dict)
    scheduled: pd.DataFrame = field(default_factory=pd.DataFrame)
    scheduled_hours_saved_per_week: float = float("nan")
    scheduled_annual_savings: float = float("nan")
    experiment: bool = True

    def agents(self, policy: str) -> int:
        """Agents needed under ``policy`` (``"everyone_fast"`` or ``"rollout"``)."""
        if policy not in POLICIES:
            raise ValueError(f"policy: expected one of {POLICIES}, got {policy!r}")
        return int(self.table.set_index("policy").loc[policy, "agents"])

    def to_pandas(self) -> pd.DataFrame:
        return self.table.copy()

    def summary(self) -> str:
        t = self.table.set_index("policy")
        weeks = f"{self.weeks:g} simulated week{'' if self.weeks == 1 else 's'}"
        reps = f"{self.replications} replication{'' if self.replications == 1 else 's'}"
        lines = [f"Staffing plan ({weeks} x {reps}; targets: " + ", ".join(
                     f"{a} {sl:.0%}" for a, sl in self.service_levels.items()) + ")"]
        ci: dict[tuple[str, str], str] = {}
        if self.replications > 1 and len(self.intervals):
            ci = {(str(i["policy"]), str(i["arm"])): f" [{i['ci_low']:.1%}, {i['ci_high']:.1%}]"
                  for i in self.intervals.to_dict("records")}
        for pol in POLICIES if self.experiment else (EVERYONE_FAST,):
            r = t.loc[pol]
            shares = ", ".join(
                f"{c.removeprefix('share_within_target_')} {r[c]:.1%}"
                + ci.get((pol, c.removeprefix("share_within_target_")), "")
                for c in t.columns if c.startswith("share_within_target_") and np.isfinite(r[c]))
            lines.append(f"  {pol}: {int(r['agents'])} agents, "
                         f"{r['scheduled_hours_per_week']:,.0f} scheduled h/week, occupancy "
                         f"{r['occupancy']:.1%}; within target: {shares}")
        if not self.experiment:
            lines.append("  (no experiment: every conversation is one fast queue; nobody is "
                         "known to be low-spend, so there is no rollout to price: give "
                         "assignments for that)")
        elif not bool(t.loc[ROLLOUT, "deferred"]):
            lines.append("  (nobody deferred: the deferred deadline gives no conversation "
                         "more time than the fast target, so the rollout is everyone fast)")
        if self.experiment:
            lines.append(f"  saved: {self.agents_saved} agents, "
                         f"{self.agent_hours_saved_per_year:,.0f} agent hours and "
                         f"{self.annual_savings:,.0f} a year at {self.cost_per_agent:,.0f} per "
                         "agent on duty through the open hours")
        if self.schedules:
            lines.extend(self._schedule_lines())
        return "\n".join(lines)

    def _schedule_lines(self) -> list[str]:
        t = self.scheduled.set_index("policy")
        rules = next(iter(self.schedules.values())).rules
        kinds = ", ".join(st.label for st in rules.shifts)
        lines = [f"On shift schedules ({kinds} shifts, {rules.interval.total_seconds() / 60:g}-"
                 f"minute intervals, shrinkage {rules.shrinkage:.0%}):"]
        for pol in POLICIES if self.experiment else (EVERYONE_FAST,):
            r = t.loc[pol]
            shares = ", ".join(f"{c.removeprefix('share_within_target_')} {r[c]:.1%}"
                               for c in t.columns
                               if c.startswith("share_within_target_") and np.isfinite(r[c]))
            state = "optimal" if r["status"] == "optimal" else f"gap {r['mip_gap']:.2%}"
            margins = f"margin fast {r['fast_margin']:.2f}"
            if np.isfinite(r["deferred_margin"]):
                margins += f", deferred {r['deferred_margin']:.2f}"
            if r["schedule_from"] != "own":
                margins += f"; {r['schedule_from']}'s schedule"
            lines.append(f"  {pol}: {int(r['people'])} people, {r['paid_hours_per_week']:,.0f} "
                         f"paid h/week = {r['fte']:,.1f} FTE ({state}, {margins}; constant "
                         f"headcount: {r['constant_hours_per_week']:,.0f} h); within target: "
                         f"{shares}")
        if self.experiment:
            lines.append(f"  saved on schedules: {self.scheduled_hours_saved_per_week:,.0f} "
                         f"paid hours a week and {self.scheduled_annual_savings:,.0f} a year "
                         f"(constant headcount: {self.annual_savings:,.0f})")
        return lines

    def _repr_html_(self) -> str:
        return (f"<p>{_desk._html_escape(repr(self))}</p>"
                + self.table.to_html(index=False, float_format="{:.4g}".format))

    def __repr__(self) -> str:
        if not self.experiment:
            return (f"StaffingPlan(no experiment: {self.agents(EVERYONE_FAST)} agents for one "
                    "fast queue)")
        return (f"StaffingPlan(everyone_fast={self.agents(EVERYONE_FAST)} agents, rollout="
                f"{self.agents(ROLLOUT)} agents, saved {self.agents_saved} agents = "
                f"{self.annual_savings:,.0f}/year)")


def _default_levels(control: str, treatment: str,
                    service_levels: Mapping[str, float] | None) -> dict[str, float]:
    out = {control: 0.9, treatment: 0.95}
    unknown = sorted(set(service_levels or {}) - set(out))
    if unknown:
        raise ValueError(f"service_levels: unknown arms {unknown}; the arms are {control!r} "
                         f"and {treatment!r}")
    out.update(service_levels or {})
    return out


def _policies(calendar: BusinessCalendar, policies: Mapping[str, FrtPolicy] | None,
              fast_target: _dt.timedelta, control: str,
              treatment: str) -> dict[str, FrtPolicy]:
    if policies is not None:
        return dict(policies)
    return default_policies(calendar, fast_target=fast_target, control=control,
                            treatment=treatment)


def plan_staffing(
    conversations: pd.DataFrame,
    assignments: pd.DataFrame | None,
    *,
    calendar: BusinessCalendar,
    policies: Mapping[str, FrtPolicy] | None = None,
    fast_target: _dt.timedelta = _dt.timedelta(hours=4),
    service_levels: Mapping[str, float] | None = None,
    cost_per_agent: float = 65_000.0,
    weeks: float = 4.0,
    warmup_days: float = 4.0,
    replications: int = 1,
    growth: float = 1.0,
    schedule: ShiftRules | None = None,
    control: str = CONTROL_ARM,
    treatment: str = TREATMENT_ARM,
    rng: int | np.random.Generator | None = None,
) -> StaffingPlan:
    """The fewest agents for (a) everyone on the fast policy, (b) the rollout; the savings.

    Args:
        conversations: The trial's canonical conversations (``customer_id``, ``created_at``,
            ``handle_seconds``).
        assignments: The trial's assignments (``customer_id``, ``arm``); customers without
            one are outside the experiment and keep the fast policy. ``None``: a desk without
            an experiment, every conversation in one fast queue (the plan is its headcount;
            the rollout repeats it and saves nothing).
        calendar: The desk's business calendar (agents work only while it is open).
        policies: First-response policy per arm (default
            :func:`~frt_experiments.policy.default_policies` with ``fast_target``).
        fast_target: Business-time target of the fast policy (ignored with ``policies``).
        service_levels: Required share within target per arm (default 0.9 for ``control``,
            0.95 for ``treatment``).
        cost_per_agent: Loaded cost per year of one agent *on duty through all the desk's
            open hours* (the plans count agents on duty, before shrinkage): on a 40-hour
            desk one full-time agent grossed up for shrinkage; on a 24/7 desk about 4.2
            full-time people.
        weeks: Weeks of arrivals measured per replication (after the warm-up).
        warmup_days: Days simulated first and not measured (the desk starts empty).
        replications: Replications per candidate headcount (common random numbers).
        growth: Volume multiplier (e.g. 1.3 for 30% more conversations).
        schedule: :class:`~frt_experiments.staffing.shifts.ShiftRules`: also plan each
            policy on its own best shift schedule (see the module docstring) and report that
            saving next to the constant headcount's. ``None`` (default): constant headcount
            only.
        control, treatment: Arm names.
        rng: Seed or generator.

    Returns:
        A :class:`StaffingPlan`.

    References:
        See the module docstring (Kiefer and Wolfowitz 1955; Glasserman and Yao 1992; Green,
        Kolesar and Whitt 2007).
    """
    levels = _default_levels(control, treatment, service_levels)
    _validate_common(levels, weeks, warmup_days, replications, cost_per_agent)
    if isinstance(growth, bool) or not (isinstance(growth, int | float) and np.isfinite(growth)
                                        and growth > 0):
        raise ValueError(f"growth: must be a positive volume multiplier (e.g. 1.3), got "
                         f"{growth!r}")
    if schedule is not None and not isinstance(schedule, ShiftRules):
        raise ValueError(f"schedule: expected ShiftRules(...) or None, got {schedule!r}")
    if schedule is not None and (schedule.interval is None
                                 or pd.Timedelta(weeks=1) % schedule.interval):
        raise ValueError(f"schedule: the interval must divide a week, got {schedule.interval}")
    gen = np.random.default_rng(rng)
    pols = _policies(calendar, policies, fast_target, control, treatment)
    sc = _scenario(conversations, assignments, calendar=calendar, control=control,
                   treatment=treatment)
    fast_s = _fast_seconds(pols, control)
    rows: list[dict[str, Any]] = []
    spans: list[dict[str, Any]] = []
    planned: dict[str, _Scheduled] = {}
    sims = 0
    hours_per_week = float("nan")
    for name, seed in zip(POLICIES, _seeds(gen), strict=True):
        profile = sc.profiles[name].scaled(growth) if growth != 1.0 else sc.profiles[name]
        setup = _setup(profile, calendar=calendar, policies=pols, start=sc.start, weeks=weeks,
                       warmup_days=warmup_days, replications=replications,
                       rng=np.random.default_rng(seed), control=control)
        setup = _with_fast_target(setup, control, fast_s)
        if name == ROLLOUT and (not sc.experiment or not _defers(setup, fast_s)):
            # the deferred deadline gives nobody more time than the fast target: nobody is
            # deferred, so the rollout is everyone fast (and saves nothing)
            rows.append(dict(rows[0], policy=ROLLOUT))
            spans.extend(dict(r, policy=ROLLOUT) for r in list(spans))
            if schedule is not None:
                planned[ROLLOUT] = planned[EVERYONE_FAST]
            continue
        found = _min_agents(setup, {a: levels[a] for a in setup.arms if a in levels},
                            _load_guess(setup))
        if schedule is not None:
            arm_levels = {a: levels[a] for a in setup.arms if a in levels}
            planned[name] = _scheduled_plan(setup, schedule, arm_levels, weeks,
                                            constant_agents=found.agents)
            if name == ROLLOUT:
                planned[name] = _no_worse_than_fast(planned[name], planned[EVERYONE_FAST],
                                                    setup, schedule, arm_levels)
            sims += planned[name].simulations
        sims += found.simulations
        hours_per_week = _open_hours_per_week(setup, weeks)
        row: dict[str, Any] = {
            "policy": name, "agents": found.agents,
            "scheduled_hours_per_week": found.agents * hours_per_week,
            "workload_hours_per_week": profile.workload_hours_per_week(),
            "occupancy": found.occupancy,
        }
        for arm in (control, treatment):
            row[f"share_within_target_{arm}"] = found.share.get(arm, np.nan)
        row["deferred"] = name == ROLLOUT
        rows.append(row)
        for arm, values in found.per_replication.items():
            mean, low, high = _desk._mean_ci(np.asarray(values), 0.95, bounds=(0.0, 1.0))
            spans.append({"policy": name, "arm": arm, "service_level": levels.get(arm, np.nan),
                          "share_within_target": mean, "ci_low": low, "ci_high": high,
                          "replications": len(values)})
    table = pd.DataFrame(rows)
    saved = int(table["agents"].iloc[0] - table["agents"].iloc[1])
    extra: dict[str, Any] = {}
    if schedule is not None:
        extra = _scheduled_fields(planned, table, schedule, hours_per_week,
                                  float(cost_per_agent), arms=(control, treatment))
    if not sc.experiment:
        levels = {control: levels[control]}
    return StaffingPlan(table, saved, saved * hours_per_week * 52.0, saved * cost_per_agent,
                        float(cost_per_agent), levels, float(weeks), replications, sims,
                        pd.DataFrame(spans), **extra, experiment=sc.experiment)


def _scheduled_fields(planned: Mapping[str, _Scheduled], table: pd.DataFrame,
                      rules: ShiftRules, hours_per_week: float, cost_per_agent: float, *,
                      arms: tuple[str, str]) -> dict[str, Any]:
    rows = []
    agents = table.set_index("policy")["agents"]
    for pol in POLICIES:
        p = planned[pol]
        sched = p.schedule
        on_floor = float(_on_floor(sched).sum() * rules.interval.total_seconds() / 3600.0)
        row: dict[str, Any] = {
            "policy": pol, "people": sched.agents, "paid_hours_per_week":
            sched.paid_hours_per_week, "fte": sched.fte, "on_floor_hours_per_week": on_floor,
            "constant_hours_per_week": float(agents[pol]) * hours_per_week
            / (1.0 - rules.shrinkage),
            "fast_margin": p.fast_margin, "deferred_margin": p.deferred_margin,
            "schedule_from": p.source, "status": sched.status, "mip_gap": sched.mip_gap,
            "solve_seconds": p.seconds}
        for arm in arms:
            row[f"share_within_target_{arm}"] = p.share.get(arm, np.nan)
        rows.append(row)
    out = pd.DataFrame(rows)
    paid = out.set_index("policy")["paid_hours_per_week"]
    paid_saved = float(paid[EVERYONE_FAST] - paid[ROLLOUT])
    # cost_per_agent is per agent on duty through the open hours (grossed up for shrinkage):
    # an on-duty hour a week costs cost_per_agent / hours_per_week a year
    per_hour = cost_per_agent / hours_per_week if hours_per_week > 0 else math.nan
    return {"schedules": {p: planned[p].schedule for p in POLICIES}, "scheduled": out,
            "scheduled_hours_saved_per_week": paid_saved,
            "scheduled_annual_savings": paid_saved * (1.0 - rules.shrinkage) * per_hour}


def staffing_curve(
    conversations: pd.DataFrame,
    assignments: pd.DataFrame | None,
    *,
    calendar: BusinessCalendar,
    targets_hours: Sequence[float] = (1, 2, 4, 8, 24),
    service_levels: Mapping[str, float] | None = None,
    weeks: float = 4.0,
    warmup_days: float = 4.0,
    replications: int = 1,
    control: str = CONTROL_ARM,
    treatment: str = TREATMENT_ARM,
    rng: int | np.random.Generator | None = None,
) -> pd.DataFrame:
    """Agents needed against the fast policy's FRT target, for both policies.

    For each target (business hours) the fast policy becomes "answer within the target";
    under the rollout the low-spend customers keep the one-business-day deadline, but it is
    never tighter than the fast target: a deferred conversation gets the later of the two.
    Once the target reaches one business day (8 business hours on a 09:00-17:00 desk) the
    deferral gives nobody more time, so nobody is deferred: the rollout *is* everyone fast,
    its row repeats everyone fast's agents and ``deferred`` is ``False`` there. (Without the
    floor, the deferred arm's one-day deadline would bind and the "rollout" would need more
    agents than everyone fast at loose targets.) Below one business day the rollout's
    headcount is usually set by the deferred arm's own service level (95% by default, stricter
    than the fast arm's 90%), so it is flat in the target and, close to one business day, can
    exceed everyone fast's.

    Columns ``target_hours, policy, agents, deferred`` (``deferred``: some low-spend
    conversations wait in the deferred queue; always ``False`` for everyone fast, and for
    both without ``assignments``: a desk without an experiment is one fast queue).

    References:
        As :func:`plan_staffing`.
    """
    targets = [] if isinstance(targets_hours, str) else [_real(t) for t in targets_hours]
    if not targets or any(not (np.isfinite(t) and t > 0) for t in targets):
        raise ValueError(f"targets_hours: must be positive numbers, got {list(targets_hours)}")
    levels = _default_levels(control, treatment, service_levels)
    _validate_common(levels, weeks, warmup_days, replications, 0.0)
    gen = np.random.default_rng(rng)
    sc = _scenario(conversations, assignments, calendar=calendar, control=control,
                   treatment=treatment)
    pols = _policies(calendar, None, _dt.timedelta(hours=4), control, treatment)
    rows = []
    fast_agents: dict[float, int] = {}
    for name, seed in zip(POLICIES, _seeds(gen), strict=True):
        base = _setup(sc.profiles[name], calendar=calendar, policies=pols, start=sc.start,
                      weeks=weeks, warmup_days=warmup_days, replications=replications,
                      rng=np.random.default_rng(seed), control=control)
        arm_levels = {a: levels[a] for a in base.arms if a in levels}
        guess, lower = _load_guess(base), 0
        for t in sorted(set(targets), reverse=True):  # loosest first: answers only grow
            setup = _with_fast_target(base, control, t * 3600.0)
            deferred = name == ROLLOUT and sc.experiment and _defers(setup, t * 3600.0)
            if name == ROLLOUT and not deferred:
                agents = fast_agents[t]  # nobody deferred: the rollout is everyone fast
            else:
                agents = _min_agents(setup, arm_levels, guess, lower=lower).agents
                guess, lower = agents, agents - 1
            if name == EVERYONE_FAST:
                fast_agents[t] = agents
            rows.append({"target_hours": t, "policy": name, "agents": agents,
                         "deferred": deferred})
    out = pd.DataFrame(rows).sort_values(["policy", "target_hours"], kind="stable")
    return out.reset_index(drop=True)


@dataclass(frozen=True, repr=False)
class HeadcountProjection:
    """Agents needed month by month as the customer base grows, for both policies.

    Attributes:
        table: ``month, growth, policy, conversations_per_week, agents, annual_cost``.
        monthly_growth: Growth rate of conversation volume per month.
        cost_per_agent: Loaded cost per year of one agent *on duty through all the desk's
            open hours* (the plans count agents on duty, before shrinkage): on a 40-hour
            desk one full-time agent grossed up for shrinkage; on a 24/7 desk about 4.2
            full-time people.
    """

    table: pd.DataFrame
    monthly_growth: float
    cost_per_agent: float

    def to_pandas(self) -> pd.DataFrame:
        return self.table.copy()

    @property
    def savings(self) -> pd.DataFrame:
        """Per month: ``agents_saved`` and ``annual_savings`` of the rollout."""
        w = self.table.pivot(index="month", columns="policy", values="agents")
        saved = (w[EVERYONE_FAST] - w[ROLLOUT]).astype(int)
        return pd.DataFrame({"agents_saved": saved,
                             "annual_savings": saved * self.cost_per_agent}).reset_index()

    def summary(self) -> str:
        w = self.table.pivot(index="month", columns="policy", values="agents")
        last = int(w.index.max())
        return (f"Headcount over {last} months at {self.monthly_growth:.1%} monthly growth: "
                f"everyone fast {int(w.loc[0, EVERYONE_FAST])} -> "
                f"{int(w.loc[last, EVERYONE_FAST])} agents, rollout {int(w.loc[0, ROLLOUT])} -> "
                f"{int(w.loc[last, ROLLOUT])} agents")

    def _repr_html_(self) -> str:
        return (f"<p>{_desk._html_escape(self.summary())}</p>"
                + self.table.to_html(index=False, float_format="{:.4g}".format))

    def __repr__(self) -> str:
        return f"HeadcountProjection({self.summary()})"


def _grown(base: _desk._Setup, extra: _desk._Setup | None, marks: list[np.ndarray],
           extra_marks: list[np.ndarray], *, growth: float, top: float) -> _desk._Setup:
    """The base arrivals grown to ``growth`` with common random numbers.

    Poisson thinning and superposition (Lewis and Shedler 1979): the base draw (rate lambda)
    thinned to ``min(growth, 1)`` plus the extra draw (rate ``(top - 1) lambda``) thinned to
    ``max(growth - 1, 0) / (top - 1)`` is a Poisson process of rate ``growth * lambda``, and
    the sets are nested: a larger growth keeps every arrival of a smaller one.
    """
    samples = []
    for k, smp in enumerate(base.samples):
        keep = marks[k] < min(growth, 1.0)
        parts = [(smp, keep)]
        if extra is not None and growth > 1.0:
            parts.append((extra.samples[k], extra_marks[k] < (growth - 1.0) / (top - 1.0)))
        created = np.concatenate([p.created[m] for p, m in parts])
        order = np.argsort(created, kind="stable")

        def cat(field: str, parts: list = parts, order: np.ndarray = order) -> np.ndarray:
            return np.concatenate([getattr(p, field)[m] for p, m in parts])[order]

        b, allowed, handle, pat, fast = (cat("b"), cat("allowed"), cat("handle"),
                                         cat("patience"), cat("fast"))
        d = ~fast
        jobs = _desk._engine.Jobs(b[fast], handle[fast], pat[fast], b[d], handle[d], pat[d],
                                  b[d] + allowed[d])
        samples.append(_desk._Sample(created[order], cat("arm"), handle, b, allowed, pat, fast,
                                     cat("measured"), jobs))
    return replace(base, samples=tuple(samples))


def project_headcount(
    conversations: pd.DataFrame,
    assignments: pd.DataFrame | None,
    *,
    calendar: BusinessCalendar,
    months: int = 24,
    monthly_growth: float = 0.03,
    step_months: int = 3,
    cost_per_agent: float = 65_000.0,
    service_levels: Mapping[str, float] | None = None,
    fast_target: _dt.timedelta = _dt.timedelta(hours=4),
    weeks: float = 4.0,
    warmup_days: float = 4.0,
    replications: int = 1,
    control: str = CONTROL_ARM,
    treatment: str = TREATMENT_ARM,
    rng: int | np.random.Generator | None = None,
) -> HeadcountProjection:
    """Agents for both policies every ``step_months`` over ``months`` of compound growth.

    Conversation volume grows by ``(1 + monthly_growth) ** month`` (customers grow, each
    asks as often as today); each month's plan is found as in :func:`plan_staffing` (month 0
    *is* that plan for the same ``rng``), searching from the previous month's answer.

    **Common random numbers across months.** The months do not draw fresh arrivals: month
    0's arrivals are kept, and growth adds arrivals from one extra draw, thinned so that each
    month's arrivals contain the previous month's (Poisson thinning and superposition). The
    headcount then rises smoothly with volume instead of jumping with the sampling noise of
    separate draws, and the savings move with the growth rather than bouncing month to month
    (Glasserman and Yao 1992).

    References:
        As :func:`plan_staffing`; Lewis and Shedler (1979) for thinning; Glasserman and Yao
        (1992) for common random numbers.
    """
    if isinstance(months, bool) or not isinstance(months, int) or not 1 <= months <= 120:
        raise ValueError(f"months: must be a whole number of months in 1..120, got {months!r}")
    if isinstance(step_months, bool) or not isinstance(step_months, int) or step_months < 1:
        raise ValueError(f"step_months: must be a positive integer, got {step_months!r}")
    if not (np.isfinite(_real(monthly_growth)) and monthly_growth > -1):
        raise ValueError(f"monthly_growth: must be > -1, got {monthly_growth!r}")
    levels = _default_levels(control, treatment, service_levels)
    _validate_common(levels, weeks, warmup_days, replications, cost_per_agent)
    gen = np.random.default_rng(rng)
    pols = _policies(calendar, None, fast_target, control, treatment)
    fast_s = _fast_seconds(pols, control)
    sc = _scenario(conversations, assignments, calendar=calendar, control=control,
                   treatment=treatment)
    rows = []
    steps = sorted({*range(0, months + 1, step_months), months})
    growth = {m: (1.0 + monthly_growth) ** m for m in steps}
    top = max(growth.values())
    fast_agents: dict[int, int] = {}
    for name, seed in zip(POLICIES, _seeds(gen), strict=True):
        common = {"calendar": calendar, "policies": pols, "start": sc.start, "weeks": weeks,
                  "warmup_days": warmup_days, "replications": replications,
                  "control": control}
        base = _with_fast_target(_setup(sc.profiles[name], rng=np.random.default_rng(seed),
                                        **common), control, fast_s)
        crn = np.random.default_rng([seed, 1])
        extra = None
        if top > 1.0:
            extra = _with_fast_target(_setup(sc.profiles[name].scaled(top - 1.0), rng=crn,
                                             **common), control, fast_s)
        marks = [crn.random(len(smp.b)) for smp in base.samples]
        extra_marks = ([crn.random(len(smp.b)) for smp in extra.samples]
                       if extra is not None else [])
        previous = 0
        for m in steps:
            g = growth[m]
            profile = sc.profiles[name].scaled(g)
            setup = _grown(base, extra, marks, extra_marks, growth=g, top=top)
            if name == ROLLOUT and (not sc.experiment or not _defers(setup, fast_s)):
                agents = fast_agents[m]  # nobody deferred: the rollout is everyone fast
            else:
                # volume grows (or shrinks) monotonically: search up (or down) from last month
                lower = previous - 1 if previous and monthly_growth >= 0 else 0
                agents = _min_agents(setup, {a: levels[a] for a in setup.arms if a in levels},
                                     max(previous, _load_guess(setup)), lower=lower).agents
                previous = agents
            if name == EVERYONE_FAST:
                fast_agents[m] = agents
            rows.append({"month": m, "growth": g, "policy": name,
                         "conversations_per_week": sum(s.per_week for s in profile.streams),
                         "agents": agents, "annual_cost": agents * float(cost_per_agent)})
    return HeadcountProjection(pd.DataFrame(rows), float(monthly_growth), float(cost_per_agent))
