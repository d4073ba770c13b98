"""The desk in the loop: first responses from the desk simulation, on common random numbers.

With ``desk.agents > 0`` a scenario's first responses are not drawn from each arm's policy
(:mod:`~frt_experiments.simulate.first_response`) but come from
:func:`frt_experiments.staffing.simulate_desk` run on the world's conversations with a given
headcount (or roster): fast-policy arms in the desk's first-come-first-served queue, every
other arm in its deadline-ordered deferred queue, taken whenever no fast conversation waits.
So the FRT depends on the load, and satisfaction, follow-up questions and churn respond to the
FRT each conversation actually got, by the functions of :mod:`~frt_experiments.simulate.
effects` (the same as the ``dose`` preset's).

**Common random numbers.** Everything random is drawn once, before any world is run
(:func:`draw_potential`): the customers, their revenue events, and every *potential*
conversation with its arrival, handle-time draw and rating uniforms. A potential conversation
is a primary one (Poisson count at the largest question multiplier of any world, thinned per
world by a uniform to the multiplier of the customer's arm in that world) or a potential
follow-up of one: a conversation whose follow-up uniform lies below the largest follow-up
probability any FRT can give has a potential child, drawn in generations. A world
(:func:`run_world`) decides which potential conversations exist and runs the desk on them, so
the status quo, the trial and the rollout share their customers and arrivals: a conversation
that exists in two worlds arrives at the same time with the same handle-time draw in both.

**Follow-ups settle on a fixed point.** Whether a conversation brings a follow-up depends on
its FRT, which depends on the load of every conversation, follow-ups included. A world is run
as a fixed-point iteration: run the desk on the current set; decide every follow-up from the
FRT it gave (a potential conversation outside the set, whose FRT is not known yet, is judged
by the FRT of the same arm's conversation created just before it); stop when the set no longer
changes (usually after three or four runs), or after ``desk.max_iterations`` runs, reporting
how many decisions still disagree with the final FRT (``unsettled``).

**Pools.** ``desk.pools = "shared"``: one desk serves everybody. ``"split"`` (a design
without interference): one pool of agents per arm, each serving its arm's customers and the
same share ``w_k`` (the arm's weight share) of the customers outside the experiment, so every
pool is a ``w_k`` sample of all customers; it gets ``w_k`` of the agents of the world its
policy stands for -- a fast arm's pool ``w_k`` of the status quo's headcount, a slow arm's
pool ``w_k`` of the rollout's (rounded, at least one; a roster hour by hour), i.e. agents in
proportion to the pool's work at that world's staffing -- so each pool is a small copy of
the desk its arm's policy would have. :func:`~frt_experiments.staffing.simulate_desk` runs once
per pool.

**Stability.** A pool whose offered work reaches the agent time scheduled over the window has
no steady state; :class:`~frt_experiments.errors.UnstableQueueError` names the argument and
the headcount that would carry the load.

References:
    Glasserman, P. and Yao, D. D. (1992). Some guidelines and guarantees for common random
    numbers. Management Science 38(6), 884-908.
    Lewis, P. A. W. and Shedler, G. S. (1979). Simulation of nonhomogeneous Poisson processes
    by thinning. Naval Research Logistics Quarterly 26(3), 403-413 (the primaries of a
    world with a smaller question multiplier).
    Kiefer, J. and Wolfowitz, J. (1955); Jackson, J. R. (1955): the desk's queues
    (:mod:`frt_experiments.staffing.desk`).
"""

from __future__ import annotations

import datetime as _dt
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from frt_experiments import schema
from frt_experiments.errors import UnstableQueueError
from frt_experiments.simulate.conversations import (
    _UNSATISFIED_CDF,
    DrawnConversations,
    _add_business,
    _real_calendar,
    draw_arrivals,
)
from frt_experiments.simulate.effects import (
    followup_probability,
    satisfaction_probability,
    target_arm,
)
from frt_experiments.simulate.population import (
    Population,
    RevenueEvents,
    draw_population,
    draw_revenue_events,
)
from frt_experiments.simulate.scenario import HOURS_PER_WEEK, Scenario

__all__ = ["Potential", "World", "checked_agents", "desk_trial", "draw_potential",
           "headcount_of", "rollout_position", "run_world", "world_conversations",
           "world_revenue"]

#: Generations of potential follow-ups drawn at most (a chain that long has probability
#: below the largest follow-up probability to that power).
_MAX_DEPTH = 200
#: The FRT (business hours) bounding the follow-up probability when it rises with the FRT.
_H_CAP = 24.0 * 366

Agents = int | np.ndarray  # a constant headcount, or agents per local hour of the week


@dataclass(frozen=True)
class Potential:
    """What every world shares: customers and potential conversations (module docstring).

    Per customer: ``pop``, ``ids``, ``buckets`` and ``arm`` (the trial's assignment: a
    position in ``effects.arms``, -1 outside the experiment), ``events`` (revenue uniforms),
    ``pool_u`` (the pool of a customer outside the experiment under split pools). Per potential
    conversation, parents before children: ``owner``, ``parent`` (-1 for a primary), ``depth``,
    ``created_ns``, ``keep_u`` (thinning of primaries), ``follow_u``, ``handle_z``, ``z``
    (difficulty, zeros when ``csat.difficulty`` is 0), ``rated_u``, ``sat_u``, ``five_u``,
    ``low_u``; ``q_max`` the question multiplier the primaries were drawn at.
    """

    pop: Population
    ids: pd.Series
    buckets: np.ndarray
    arm: np.ndarray
    events: RevenueEvents
    pool_u: np.ndarray
    owner: np.ndarray
    parent: np.ndarray
    depth: np.ndarray
    created_ns: np.ndarray
    keep_u: np.ndarray
    follow_u: np.ndarray
    handle_z: np.ndarray
    z: np.ndarray
    rated_u: np.ndarray
    sat_u: np.ndarray
    five_u: np.ndarray
    low_u: np.ndarray
    q_max: float

    @property
    def eligible(self) -> np.ndarray:
        return self.arm >= 0


def _follow(sc: Scenario, hours: np.ndarray) -> np.ndarray:
    c = sc.conversations
    return followup_probability(hours, followup=c.followup, slope=c.followup_slope)


def draw_potential(sc: Scenario, gen: np.random.Generator) -> Potential:
    """Draw the customers and every potential conversation of ``sc`` once (module docstring).

    The customers and the trial's assignment are drawn as :func:`~frt_experiments.simulate.
    simulate` draws them (population, hashed buckets, revenue uniforms); the conversations in
    the order of the module docstring.
    """
    from frt_experiments.simulate.trial import _arm_index, _buckets, _ids  # noqa: PLC0415

    n = sc.window.customers
    el, e, c = sc.eligibility, sc.effects, sc.conversations
    pop = draw_population(sc, n, gen)
    ids = _ids("C", n, max(7, len(str(n))))
    eligible = pop.spend <= el.max_spend
    buckets = np.full(n, np.nan)
    buckets[eligible] = _buckets(ids[eligible], el.salt)
    arm = np.full(n, -1)
    arm[eligible] = _arm_index(buckets[eligible], e.arms, e.weights)
    events = draw_revenue_events(n, gen)
    pool_u = gen.random(n)
    q_max = max(1.0, e.questions)
    counts = gen.poisson(pop.rate * sc.window.months * q_max)
    owners = [np.repeat(np.arange(n), counts)]
    parents = [np.full(owners[0].size, -1)]
    follow = [gen.random(owners[0].size)]
    if c.followup > 0:
        r_max = float(np.max(_follow(sc, np.array([0.0, _H_CAP]))))
        offset = 0
        for _ in range(_MAX_DEPTH):
            kids = np.flatnonzero(follow[-1] < r_max)
            if kids.size == 0:
                break
            owners.append(owners[-1][kids])
            parents.append(offset + kids)
            offset += follow[-1].size
            follow.append(gen.random(kids.size))
    depth = np.repeat(np.arange(len(owners)), [o.size for o in owners])
    owner, parent, follow_u = (np.concatenate(x) for x in (owners, parents, follow))
    m = owner.size
    created = draw_arrivals(sc, pop.timezone[owner], gen)
    keep_u, handle_z = gen.random(m), gen.standard_normal(m)
    z = gen.standard_normal(m) if sc.csat.difficulty != 0 else np.zeros(m)
    rated_u, sat_u, five_u, low_u = (gen.random(m) for _ in range(4))
    return Potential(pop, ids, buckets, arm, events, pool_u, owner, parent, depth, created,
                     keep_u, follow_u, handle_z, z, rated_u, sat_u, five_u, low_u, q_max)


def rollout_position(sc: Scenario) -> int:
    """The position in ``effects.arms`` of the arm every low-spend customer gets in the
    rollout: ``desk.rollout_arm``, else the CSAT target arm (the second arm by default)."""
    if sc.desk.rollout_arm:
        return sc.effects.arms.index(sc.desk.rollout_arm)
    return target_arm(sc)


def headcount_of(sc: Scenario, agents: int, name: str) -> Agents:
    """``agents`` (``desk.agents`` or ``desk.rollout_agents``) with ``desk.roster`` applied:
    the agents on duty per local hour of the week (rounded), or ``agents`` itself without a
    roster."""
    if isinstance(agents, bool) or not isinstance(agents, int | np.integer) or agents < 1:
        raise ValueError(f"{name}: must be a whole number of agents >= 1, got {agents!r}")
    if not sc.desk.roster:
        return int(agents)
    return np.round(np.asarray(sc.desk.roster) * int(agents)).astype(np.int64)


def checked_agents(value: Any, name: str) -> Agents:
    """A headcount argument: a whole number >= 1, or 168 whole numbers >= 0 (agents per local
    hour of the week, Monday 00:00 first) with an agent in some hour."""
    if isinstance(value, int | np.integer) and not isinstance(value, bool):
        if value < 1:
            raise ValueError(f"{name}: must be >= 1 agent, got {value}")
        return int(value)
    if isinstance(value, str | bytes) or not isinstance(value, Sequence | np.ndarray):
        raise TypeError(f"{name}: expected a number of agents or a roster of "
                        f"{HOURS_PER_WEEK} whole numbers, got {type(value).__name__}")
    arr = np.asarray(value)
    if arr.shape != (HOURS_PER_WEEK,) or arr.dtype.kind not in "iuf" \
            or not np.all(np.isfinite(arr)) or (arr < 0).any() \
            or (arr != np.round(arr)).any() or arr.max() < 1:
        raise ValueError(f"{name}: a roster must be {HOURS_PER_WEEK} whole numbers >= 0 (agents "
                         f"per local hour of the week, Monday 00:00 first) with an agent in "
                         f"some hour, got {arr.size} values")
    return arr.astype(np.int64)


@dataclass(frozen=True)
class World:
    """One world run on the potential draws.

    Attributes:
        name: ``status_quo``, ``trial`` or ``rollout`` (or another label).
        arm: Per customer, the position in ``effects.arms`` of the arm it was served under
            (-1 outside the experiment).
        agents: Per pool, its agents (an int or a 168-hour roster).
        pool: Per customer, its pool (all 0 with a shared desk).
        exists: Per potential conversation, whether it exists in this world.
        frt_seconds: Per potential conversation, its FRT in business seconds (NaN where it
            does not exist).
        handle_seconds: Per potential conversation, its handle time in this world.
        runs: Desk runs the follow-ups took to settle.
        unsettled: Follow-up decisions that still disagree with the final FRT (0 when settled).
    """

    name: str
    arm: np.ndarray
    agents: tuple[Agents, ...]
    pool: np.ndarray
    exists: np.ndarray
    frt_seconds: np.ndarray
    handle_seconds: np.ndarray
    runs: int
    unsettled: int


def _policies(sc: Scenario, calendar: Any) -> tuple[dict[str, Any], tuple[str, ...]]:
    """Each arm's policy on the desk's calendar and the arms served first (policy ``fast``:
    the business-time target ``desk.fast_target_hours``)."""
    from frt_experiments.policy import FrtPolicy, policy_from_spec  # noqa: PLC0415

    pols, fast = {}, []
    target = _dt.timedelta(hours=sc.desk.fast_target_hours)
    for arm, spec in zip(sc.effects.arms, sc.frt.arm_policies(), strict=True):
        if sc.frt.policy_hours(spec) is None:
            pols[arm] = FrtPolicy(arm, calendar, rule="business_time", target=target)
            fast.append(arm)
        else:
            pols[arm] = policy_from_spec(arm, spec, calendar)
    return pols, tuple(fast)


def _duty_seconds(sc: Scenario, calendar: Any, agents: Agents) -> float:
    """Agent time scheduled over the window, in business seconds (what the desk compares the
    offered work with)."""
    start, end = sc.start, sc.end
    if isinstance(agents, int):
        span = calendar.business_duration(pd.Series([start]), pd.Series([end]))
        return float(agents) * float(pd.to_timedelta(span).dt.total_seconds().iloc[0])
    tz = calendar.timezone
    edges = pd.date_range(start.tz_convert(tz).floor("h", ambiguous=True,
                                                     nonexistent="shift_forward"),
                          end.tz_convert(tz), freq="h")
    edges = edges.append(pd.DatetimeIndex([end.tz_convert(tz)]))
    lo = pd.Series(edges[:-1]).clip(lower=start.tz_convert(tz))
    secs = pd.to_timedelta(calendar.business_duration(lo, pd.Series(edges[1:]))) \
        .dt.total_seconds().to_numpy()
    how = (edges[:-1].day_of_week * 24 + edges[:-1].hour).to_numpy()
    return float(np.sum(secs * agents[how]))


def _stable(sc: Scenario, calendar: Any, agents: Agents, work: float, *, name: str,
            pool: str) -> None:
    duty = _duty_seconds(sc, calendar, agents)
    if work < duty:
        return
    scale = agents if isinstance(agents, int) else int(np.max(agents))
    need = math.floor(scale * work / duty) + 1 if duty > 0 else float("inf")
    where = f" (pool {pool})" if pool else ""
    raise UnstableQueueError(
        f"{name}: {_agents_text(agents)}{where} cannot carry the offered work "
        f"({work / 3600:,.0f} agent hours against {duty / 3600:,.0f} scheduled): the queue is "
        f"unstable (load {work / duty if duty else float('inf'):.2f} >= 1); give at least "
        f"{need} agents")


def _agents_text(agents: Agents) -> str:
    if isinstance(agents, int):
        return f"{agents} agents"
    return f"a roster of {int(np.min(agents))}-{int(np.max(agents))} agents"


def _pool_agents(agents: Agents, share: float) -> Agents:
    """``share`` of a headcount (at least one agent) or of a roster, hour by hour."""
    if isinstance(agents, int):
        return max(1, round(agents * share))
    return np.round(agents * share).astype(np.int64)


def run_world(pot: Potential, sc: Scenario, name: str, arm: np.ndarray, agents: Agents, *,
              pools: str = "shared", rollout_agents: Agents | None = None,
              argument: str = "agents", rollout_argument: str = "rollout_agents") -> World:
    """Run one world: which potential conversations exist, and the FRT the desk gives them.

    Args:
        pot: The shared draws (:func:`draw_potential`).
        sc: The scenario.
        name: The world's label.
        arm: Per customer, the position in ``effects.arms`` it is served under (-1: outside
            the experiment, served as the control).
        agents: A headcount or a 168-hour roster (of the status quo, with ``"split"``).
        pools: ``"shared"`` or ``"split"`` (module docstring).
        rollout_agents: With ``"split"``, the rollout's headcount (default ``agents``).
        argument: The argument named by an error about the headcount (``rollout_argument``
            for a slow arm's pool, staffed from ``rollout_agents``).

    Raises:
        UnstableQueueError: A pool's offered work reaches its agents' scheduled time.
    """
    from frt_experiments.staffing import simulate_desk  # noqa: PLC0415

    e, c = sc.effects, sc.conversations
    served = np.where(arm < 0, 0, arm)
    later = served >= 1
    own = pot.owner
    prim = (pot.depth == 0) & (pot.keep_u * pot.q_max < np.where(later, e.questions, 1.0)[own])
    handle = np.maximum(1.0, np.round(
        c.handle_median_minutes * 60 * pot.pop.handle_factor[own]
        * np.where(later[own], e.handle_time, 1.0) * np.exp(c.handle_sigma * pot.handle_z)))
    calendar = _real_calendar(sc)
    pols, fast = _policies(sc, calendar)
    labels = np.asarray(e.arms, dtype=object)
    label = labels[served]  # per customer
    if pools == "split":
        w = np.cumsum(e.weights) / np.sum(e.weights)
        outside = np.minimum(np.searchsorted(w, pot.pool_u, side="right"), len(e.arms) - 1)
        pool = np.where(arm < 0, outside, served)
        k = len(e.arms)
        roll = agents if rollout_agents is None else rollout_agents
        per_pool = [_pool_agents(agents if fast_arm else roll, wk / sum(e.weights))
                    for wk, fast_arm in zip(e.weights, (a in fast for a in e.arms), strict=True)]
    elif pools == "shared":
        pool = np.zeros(arm.size, dtype=np.int64)
        k, per_pool = 1, [agents]
    else:
        raise ValueError(f"pools: expected 'shared' or 'split', got {pools!r}")
    conv_pool = pool[own]
    customers = np.arange(arm.size)
    asg = pd.DataFrame({schema.CUSTOMER_ID: customers, schema.ARM: label})

    def desk(exists: np.ndarray) -> np.ndarray:
        frt = np.full(own.size, np.nan)
        for p in range(k):
            idx = np.flatnonzero(exists & (conv_pool == p))
            if idx.size == 0:
                continue
            idx = idx[np.argsort(pot.created_ns[idx], kind="stable")]
            pool_name = str(labels[p]) if pools == "split" else ""
            named = rollout_argument if pool_name and pool_name not in fast else argument
            _stable(sc, calendar, per_pool[p], float(handle[idx].sum()), name=named,
                    pool=pool_name)
            table = pd.DataFrame({
                schema.CUSTOMER_ID: own[idx],
                schema.CREATED_AT: pd.DatetimeIndex(pot.created_ns[idx].astype("datetime64[ns]"),
                                                    tz="UTC"),
                schema.HANDLE_SECONDS: handle[idx],
            })
            res = simulate_desk(table, asg, agents=per_pool[p], calendar=calendar,
                                policies=pols, fast_arms=fast, unassigned_arm=str(labels[0]),
                                start=sc.start, end=sc.end + pd.Timedelta(seconds=1), rng=0)
            hours = res.conversations["frt_business_hours"].to_numpy(dtype=float)
            if hours.size != idx.size or not np.all(np.isfinite(hours)):
                raise UnstableQueueError(
                    f"{argument}: the desk left {int(np.sum(~np.isfinite(hours)))} of "
                    f"{idx.size:,} conversations unanswered (a roster without enough agents "
                    "after the window)")
            frt[idx] = np.round(hours * 3600.0)
        return frt

    exists = prim
    runs, unsettled = 0, 0
    by_depth = [np.flatnonzero(pot.depth == d) for d in range(1, int(pot.depth.max()) + 1)]
    while True:
        frt = desk(exists)
        runs += 1
        if c.followup <= 0 or not by_depth:
            break
        est = _estimate(frt, exists, pot.created_ns, label[own])
        brings = pot.follow_u < _follow(sc, est / 3600.0)
        new = prim.copy()
        for idx in by_depth:
            par = pot.parent[idx]
            new[idx] = new[par] & brings[par]
        if np.array_equal(new, exists):
            break
        if runs >= sc.desk.max_iterations:
            unsettled = int(np.sum(new != exists))
            break
        exists = new
    return World(name, arm.copy(), tuple(per_pool), pool, exists, frt, handle, runs, unsettled)


def _estimate(frt: np.ndarray, exists: np.ndarray, created: np.ndarray,
              label: np.ndarray) -> np.ndarray:
    """The FRT of every potential conversation: its own where it was run, else that of the
    same arm's conversation created just before it (the first one's when none is earlier)."""
    out = frt.copy()
    missing = ~exists
    for name in pd.unique(label[missing]).tolist():
        ran = np.flatnonzero(exists & (label == name))
        if ran.size == 0:
            ran = np.flatnonzero(exists)
        ran = ran[np.argsort(created[ran], kind="stable")]
        want = np.flatnonzero(missing & (label == name))
        at = np.clip(np.searchsorted(created[ran], created[want], side="right") - 1, 0, None)
        out[want] = frt[ran[at]]
    return out


def world_conversations(pot: Potential, sc: Scenario, world: World) -> DrawnConversations:
    """The world's conversations, sorted by creation, with ratings from the shared uniforms
    and the satisfaction dose-response at the FRT the desk gave."""
    c, cs = sc.conversations, sc.csat
    idx = np.flatnonzero(world.exists)
    idx = idx[np.argsort(pot.created_ns[idx], kind="stable")]
    own, frt = pot.owner[idx], world.frt_seconds[idx]
    u = pot.pop.propensity[own] - cs.difficulty * pot.z[idx]
    p = satisfaction_probability(frt / 3600.0, u, intercept=cs.intercept, slope=cs.slope)
    sat = pot.sat_u[idx] < p
    five = pot.five_u[idx] < c.satisfied_five
    low = np.searchsorted(_UNSATISFIED_CDF, pot.low_u[idx], side="right") + 1
    rated = pot.rated_u[idx] < c.survey_response
    rating = np.where(sat, np.where(five, 5, 4), np.minimum(low, 3)) * rated
    first = _add_business(sc, pot.created_ns[idx], frt)
    return DrawnConversations(own, pot.created_ns[idx], first, frt, world.handle_seconds[idx],
                              rating.astype("int8"))


def world_revenue(pot: Potential, sc: Scenario, world: World,
                  conv: DrawnConversations) -> np.ndarray:
    """Revenue at the end of the window per customer, churn responding to the FRT."""
    n = pot.arm.size
    log_hours = None
    if sc.revenue.churn_per_log_hour != 0:
        log_hours = np.bincount(conv.customer, weights=np.log1p(conv.frt_business_seconds
                                                                / 3600.0), minlength=n)
    later = world.arm >= 1
    return pot.events.revenue_end(sc, pot.pop.spend, np.where(later, sc.effects.churn, 1.0),
                                  log_hours)


def desk_trial(sc: Scenario, gen: np.random.Generator, seed: int | None) -> Any:
    """:func:`~frt_experiments.simulate.simulate` with the desk in the loop: the trial world
    (the assigned arms on the scenario's headcount and pools) as a
    :class:`~frt_experiments.simulate.SimulatedTrial`."""
    from frt_experiments.simulate.trial import _trial  # noqa: PLC0415

    pot = draw_potential(sc, gen)
    roll = headcount_of(sc, sc.desk.rollout_agents or sc.desk.agents, "desk.rollout_agents")
    world = run_world(pot, sc, "trial", pot.arm, headcount_of(sc, sc.desk.agents, "desk.agents"),
                      pools=sc.desk.pools, rollout_agents=roll, argument="desk.agents",
                      rollout_argument="desk.rollout_agents")
    conv = world_conversations(pot, sc, world)
    return _trial(sc, pot.pop, pot.ids, buckets=pot.buckets, arm_idx=world.arm,
                  rev_end=world_revenue(pot, sc, world, conv), conv=conv, seed=seed)
