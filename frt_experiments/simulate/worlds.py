"""Three worlds on one desk: the status quo, the trial and the rollout, and their true effects.

The decision is about the rollout (every low-spend customer answered slowly, with fewer
agents); the trial measures something else, because its arms share one desk and the slow arm's
deferrals speed up the fast arm. With the desk in the loop
(:mod:`~frt_experiments.simulate.desk_loop`) :func:`simulate_worlds` runs, on the same customers
and arrivals (common random numbers):

- **status quo**: everybody on the control (fast) policy, at ``headcount``;
- **trial**: the assigned arms, at ``headcount`` (one shared desk, or split pools);
- **rollout**: every low-spend customer on the rollout arm's policy (``desk.rollout_arm``), at
  ``rollout_headcount``.

**True effects**, per outcome (CSAT as satisfied over rated, questions as conversations per
customer, NRR as revenue at the end over revenue at the start; ratios of sums over customers as
:mod:`frt_experiments.analysis` computes them), with ``R_w(G)`` the outcome of the customers
``G`` in world ``w`` (``L`` the low-spend customers, ``C`` the control arm, ``S`` the slow arm
of the rollout):

- ``rollout``: the rollout's effect against the status quo, ``R_rollout(L) - R_status_quo(L)``;
- ``trial``: the trial's A/B contrast in expectation. The plain contrast ``R_trial(S) -
  R_trial(C)`` carries the sampling noise of two independent groups; its expectation is
  estimated with the status quo as a control variate, ``[R_trial(S) - R_sq(S)] - [R_trial(C) -
  R_sq(C)]``: the dropped term ``R_sq(S) - R_sq(C)`` has expectation 0 (the arms are a random
  split of customers treated alike in the status quo), and what is left is a difference of
  paired changes of the same customers, far less noisy (``contrast`` keeps the plain one);
- ``bias``: ``trial - rollout``, the interference bias of the trial's contrast as an estimate
  of the rollout's effect, split into ``control_part = -(R_trial(C) - R_sq(C))`` (the control
  arm served faster than under the status quo) and ``slow_part = R_trial(S) - R_rollout(S)``
  (the slow arm served otherwise than in the rollout: the desk's other headcount and its other
  mix); the rest is the sampling of ``S`` within ``L``, 0 in expectation.

No closed form exists (the FRT comes out of a queue), so these are the simulation's own values.
The standard errors of one run (:attr:`Worlds.effects`) are delta-method SEs over customers
(Deng et al. 2018), treating customers as independent, which the shared desk makes only
approximately true; :func:`desk_truth` gives the large-sample expectation with the Monte Carlo
SE of independent replications, which holds whatever the desk does.

**Interference measured** (:attr:`Worlds.interference`): per arm and world the FRT in business
hours (mean, median, 90th percentile) and the share within the fast target: the control arm
in the status quo and in the trial (how much faster the trial served it), the slow arm in the
trial and in the rollout.

References:
    Glasserman, P. and Yao, D. D. (1992). Some guidelines and guarantees for common random
    numbers. Management Science 38(6), 884-908.
    Deng, A., Knoblich, U. and Lu, J. (2018). Applying the delta method in metric analytics.
    KDD '18, 233-242 (the ratio metrics' linearization).
    Blake, T. and Coey, D. (2014). Why marketplace experimentation is harder than it seems: the
    role of test-control interference. EC '14, 567-582 (arms that share a resource).
    Law, A. M. (2015). Simulation Modeling and Analysis, 5th ed., section 9.4 (independent
    replications).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from frt_experiments.simulate.desk_loop import (
    Agents,
    Potential,
    World,
    checked_agents,
    draw_potential,
    headcount_of,
    rollout_position,
    run_world,
    world_conversations,
    world_revenue,
)
from frt_experiments.simulate.scenario import POOLS, Scenario, load_scenario
from frt_experiments.simulate.trial import SimulatedTrial, _scaled_desk, _trial
from frt_experiments.simulate.truth import OUTCOMES

__all__ = ["WORLDS", "DeskTruth", "Worlds", "desk_truth", "simulate_worlds"]

#: The worlds, in order.
WORLDS = ("status_quo", "trial", "rollout")
#: The effects of :attr:`Worlds.effects`, in order.
EFFECTS = ("rollout", "trial", "bias", "control_part", "slow_part", "contrast")


@dataclass(frozen=True)
class _Stats:
    """Per customer of one world: conversations, rated, satisfied, revenue start and end;
    per conversation: owner and FRT (business hours)."""

    conversations: np.ndarray
    rated: np.ndarray
    satisfied: np.ndarray
    start: np.ndarray
    end: np.ndarray
    owner: np.ndarray
    frt_hours: np.ndarray
    work_hours: float

    def pair(self, outcome: str) -> tuple[np.ndarray, np.ndarray]:
        if outcome == "csat":
            return self.satisfied, self.rated
        if outcome == "questions":
            return self.conversations, np.ones_like(self.conversations)
        return self.end, self.start


def _stats(pot: Potential, sc: Scenario, world: World) -> tuple[_Stats, Any]:
    conv = world_conversations(pot, sc, world)
    n = pot.arm.size
    rev_end = world_revenue(pot, sc, world, conv)
    count = np.bincount(conv.customer, minlength=n).astype(float)
    rated = np.bincount(conv.customer, weights=(conv.rating > 0), minlength=n)
    sat = np.bincount(conv.customer, weights=(conv.rating >= 4), minlength=n)
    st = _Stats(count, rated, sat, pot.pop.spend, rev_end, conv.customer,
                conv.frt_business_seconds / 3600.0, float(conv.handle_seconds.sum()) / 3600)
    return st, conv


def _ratio(st: _Stats, outcome: str, group: np.ndarray) -> tuple[float, np.ndarray]:
    """``R(G)`` and its influence per customer (zero outside ``G``)."""
    num, den = st.pair(outcome)
    total = float(den[group].sum())
    r = float(num[group].sum()) / total if total > 0 else math.nan
    psi = np.where(group, (num - r * den) / total, 0.0) if total > 0 else np.zeros(num.size)
    return r, psi


def _effects(stats: dict[str, _Stats], arm: np.ndarray, slow: int) -> pd.DataFrame:
    low, ctrl, sl = arm >= 0, arm == 0, arm == slow
    rows = []
    for o in OUTCOMES:
        sq_l, p_sq_l = _ratio(stats["status_quo"], o, low)
        ro_l, p_ro_l = _ratio(stats["rollout"], o, low)
        tr_s, p_tr_s = _ratio(stats["trial"], o, sl)
        tr_c, p_tr_c = _ratio(stats["trial"], o, ctrl)
        sq_s, p_sq_s = _ratio(stats["status_quo"], o, sl)
        sq_c, p_sq_c = _ratio(stats["status_quo"], o, ctrl)
        ro_s, p_ro_s = _ratio(stats["rollout"], o, sl)
        parts = {
            "rollout": (ro_l - sq_l, p_ro_l - p_sq_l),
            "trial": ((tr_s - sq_s) - (tr_c - sq_c), p_tr_s - p_sq_s - p_tr_c + p_sq_c),
            "control_part": (-(tr_c - sq_c), -(p_tr_c - p_sq_c)),
            "slow_part": (tr_s - ro_s, p_tr_s - p_ro_s),
            "contrast": (tr_s - tr_c, None),
        }
        t, r = parts["trial"], parts["rollout"]
        parts["bias"] = (t[0] - r[0], t[1] - r[1])
        row: dict[str, Any] = {"outcome": o, "status_quo": sq_l}
        for name in EFFECTS:
            value, psi = parts[name]
            row[name] = value
            if psi is None:  # two independent groups
                se = math.sqrt(float(np.sum(p_tr_s**2) + np.sum(p_tr_c**2)))
            else:
                se = math.sqrt(float(np.sum(psi**2)))
            row[f"{name}_se"] = se
        rows.append(row)
    return pd.DataFrame(rows).set_index("outcome")


def _interference(stats: dict[str, _Stats], arm: np.ndarray, slow: int, names: Sequence[str],
                  target: float) -> pd.DataFrame:
    rows = []
    for a, worlds in ((0, ("status_quo", "trial")), (slow, ("trial", "rollout"))):
        for w in worlds:
            st = stats[w]
            h = st.frt_hours[arm[st.owner] == a]
            rows.append({"arm": names[a], "world": w, "conversations": int(h.size),
                         "mean_business_hours": float(h.mean()) if h.size else math.nan,
                         "median_business_hours": float(np.median(h)) if h.size else math.nan,
                         "p90_business_hours": float(np.quantile(h, 0.9)) if h.size else math.nan,
                         "share_within_target": float(np.mean(h <= target + 1e-9))
                         if h.size else math.nan})
    return pd.DataFrame(rows).set_index(["arm", "world"])


def _resolve(scenario: str | Path | Scenario, *, customers: int | None,
             months: float | None, headcount: Any, rollout_headcount: Any,
             pools: str | None) -> tuple[Scenario, Agents, Agents, str]:
    from frt_experiments.simulate.trial import simulate  # noqa: PLC0415  (its checks)

    sc = load_scenario(scenario)
    if customers is not None or months is not None:
        sc = _with_window(sc, customers, months, simulate)
    if sc.desk.agents == 0 and headcount is None:
        raise ValueError(f"headcount: scenario {sc.name!r} has no desk in the loop "
                         "(desk.agents = 0); give the headcount (e.g. headcount=28) or a "
                         "scenario with one such as 'published-desk'")
    pools = sc.desk.pools if pools is None else pools
    if pools not in POOLS:
        raise ValueError(f"pools: expected one of {', '.join(POOLS)}, got {pools!r}")
    if headcount is None:
        head = headcount_of(sc, sc.desk.agents, "desk.agents")
    else:
        head = checked_agents(headcount, "headcount")
    if rollout_headcount is None:
        if headcount is not None and sc.desk.rollout_agents == 0:
            roll = head
        else:
            roll = headcount_of(sc, sc.desk.rollout_agents or sc.desk.agents,
                                "desk.rollout_agents")
    else:
        roll = checked_agents(rollout_headcount, "rollout_headcount")
    return sc, head, roll, pools


def _with_window(sc: Scenario, customers: int | None, months: float | None,
                 simulate: Any) -> Scenario:
    if customers is not None and (isinstance(customers, bool)
                                  or not isinstance(customers, int | np.integer)
                                  or customers < 1):
        raise ValueError(f"customers must be a positive integer, got {customers!r}")
    if months is not None and not (isinstance(months, int | float) and 0 < months <= 60):
        raise ValueError(f"months must be in (0, 60], got {months!r}")
    changes: dict[str, Any] = {}
    if customers is not None:
        changes["customers"] = int(customers)
    if months is not None:
        changes["months"] = float(months)
    return _scaled_desk(sc, changes.get("customers")).with_(window=changes)


def _run(sc: Scenario, gen: np.random.Generator, head: Agents, roll: Agents, pools: str,
         *, tables: bool, seed: int | None = None
         ) -> tuple[dict[str, World], dict[str, _Stats], dict[str, SimulatedTrial], Potential]:
    pot = draw_potential(sc, gen)
    slow = rollout_position(sc)
    low = pot.eligible
    plans = {
        "status_quo": (np.where(low, 0, -1), head, "shared", "headcount"),
        "trial": (pot.arm, head, pools, "headcount"),
        "rollout": (np.where(low, slow, -1), roll, "shared", "rollout_headcount"),
    }
    worlds, stats, trials = {}, {}, {}
    for name, (arm, agents, pl, argument) in plans.items():
        w = run_world(pot, sc, name, arm, agents, pools=pl, rollout_agents=roll,
                      argument=argument, rollout_argument="rollout_headcount")
        st, conv = _stats(pot, sc, w)
        worlds[name], stats[name] = w, st
        if tables:
            trials[name] = _trial(sc, pot.pop, pot.ids, buckets=pot.buckets, arm_idx=w.arm,
                                  rev_end=st.end, conv=conv, seed=seed)
    return worlds, stats, trials, pot


def _agents_repr(a: Agents) -> str:
    return str(a) if isinstance(a, int) else f"roster {int(np.min(a))}-{int(np.max(a))}"


@dataclass(frozen=True, repr=False)
class Worlds:
    """The status quo, the trial and the rollout of one scenario on common random numbers.

    Attributes:
        scenario: The scenario (with its headcounts as run).
        status_quo, trial, rollout: Each world's canonical tables
            (:class:`~frt_experiments.simulate.SimulatedTrial`; ``assignments`` holds the arm
            each low-spend customer was served under in that world).
        assignments: The trial's assignment (the arms of the trial, for every world).
        headcount, rollout_headcount: Agents (or a 168-hour roster) of the status quo and the
            trial, and of the rollout.
        pools: ``"shared"`` or ``"split"`` (the trial's desk).
        effects: Per outcome the status quo's value and the true effects with their SE
            (columns ``rollout, trial, bias, control_part, slow_part, contrast`` and
            ``<effect>_se``; module docstring).
        interference: Per arm and world the FRT and the share within the fast target.
        runs: Per world, the desk runs its follow-ups took and the decisions left unsettled.
        agents: Per world, the agents of each pool.
        load: Per world, offered work over the agent time scheduled (desk-wide).
    """

    scenario: Scenario
    status_quo: SimulatedTrial
    trial: SimulatedTrial
    rollout: SimulatedTrial
    assignments: pd.DataFrame
    headcount: Agents
    rollout_headcount: Agents
    pools: str
    effects: pd.DataFrame
    interference: pd.DataFrame
    runs: dict[str, tuple[int, int]] = field(default_factory=dict)
    agents: dict[str, tuple[Agents, ...]] = field(default_factory=dict)
    load: dict[str, float] = field(default_factory=dict)

    def world(self, name: str) -> SimulatedTrial:
        """The tables of ``status_quo``, ``trial`` or ``rollout``."""
        if name not in WORLDS:
            raise ValueError(f"world: expected one of {', '.join(WORLDS)}, got {name!r}")
        trial: SimulatedTrial = getattr(self, name)
        return trial

    def effect(self, outcome: str, kind: str = "rollout") -> tuple[float, float]:
        """``(value, se)`` of one effect (``rollout``, ``trial``, ``bias``, ...) of one
        outcome (``csat``, ``questions``, ``nrr``)."""
        if outcome not in OUTCOMES:
            raise ValueError(f"outcome: expected one of {', '.join(OUTCOMES)}, got {outcome!r}")
        if kind not in EFFECTS:
            raise ValueError(f"kind: expected one of {', '.join(EFFECTS)}, got {kind!r}")
        row = self.effects.loc[outcome]
        return float(row[kind]), float(row[f"{kind}_se"])

    def to_pandas(self) -> pd.DataFrame:
        """The effects table (one row per outcome)."""
        return self.effects.copy()

    def summary(self) -> str:
        with pd.option_context("display.float_format", "{:.5g}".format, "display.width", 160):
            eff = self.effects[["status_quo", "rollout", "rollout_se", "trial", "trial_se",
                                "bias", "bias_se", "control_part", "slow_part"]].to_string()
            inter = self.interference.to_string()
        runs = ", ".join(f"{w} {r} runs" + (f" ({u} unsettled)" if u else "")
                         for w, (r, u) in self.runs.items())
        load = ", ".join(f"{w} {v:.0%}" for w, v in self.load.items())
        return (f"{self!r}\nTrue effects against the status quo (low-spend customers):\n{eff}\n"
                f"First response by arm and world (business hours; target "
                f"{self.scenario.desk.fast_target_hours:g} h):\n{inter}\n"
                f"desk load: {load}; follow-ups settled in {runs}")

    def __repr__(self) -> str:
        return (f"Worlds(scenario={self.scenario.name!r}, customers="
                f"{self.scenario.window.customers:,}, headcount="
                f"{_agents_repr(self.headcount)}, rollout_headcount="
                f"{_agents_repr(self.rollout_headcount)}, pools={self.pools!r})")

    def _repr_html_(self) -> str:
        return (f"<p>{repr(self).replace('<', '&lt;')}</p>"
                + self.effects.to_html(float_format="{:.5g}".format)
                + self.interference.to_html(float_format="{:.4g}".format))


def _loads(sc: Scenario, worlds: dict[str, World], stats: dict[str, _Stats]) -> dict[str, float]:
    from frt_experiments.simulate.conversations import _real_calendar  # noqa: PLC0415
    from frt_experiments.simulate.desk_loop import _duty_seconds  # noqa: PLC0415

    cal = _real_calendar(sc)
    out = {}
    for name, w in worlds.items():
        duty = sum(_duty_seconds(sc, cal, a) for a in w.agents) / 3600
        out[name] = stats[name].work_hours / duty
    return out


def simulate_worlds(
    scenario: str | Path | Scenario = "published-desk", *,
    customers: int | None = None, months: float | None = None,
    rng: int | np.random.Generator | None = None,
    headcount: int | Sequence[int] | None = None,
    rollout_headcount: int | Sequence[int] | None = None,
    pools: str | None = None,
) -> Worlds:
    """Simulate the status quo, the trial and the rollout on the same customers and arrivals.

    Args:
        scenario: A preset name, a TOML path or a :class:`~frt_experiments.simulate.Scenario`
            (default ``published-desk``).
        customers, months: As :func:`~frt_experiments.simulate.simulate` (``customers``
            scales the scenario's headcounts in proportion).
        rng: Seed or generator; the same seed gives the same worlds.
        headcount: Agents of the status quo and the trial: a number, or 168 whole numbers
            (agents per local hour of the week, Monday 00:00 first). Default ``desk.agents``
            (with ``desk.roster``).
        rollout_headcount: Agents of the rollout, the same forms (default
            ``desk.rollout_agents``; with ``headcount`` given and none in the scenario, the
            same as ``headcount``).
        pools: The trial's desk, ``"shared"`` or ``"split"`` (default ``desk.pools``).

    Returns:
        :class:`Worlds`, with each world's tables, the true effects and the interference.

    Raises:
        UnstableQueueError: A headcount cannot carry its world's work (naming ``headcount``
            or ``rollout_headcount``).
        ValueError: A headcount or roster that is not one.

    Example:
        >>> from frt_experiments.simulate import simulate_worlds
        >>> w = simulate_worlds("published-desk", customers=3000, rng=1)
        >>> w.headcount, w.rollout_headcount
        (4, 4)
    """
    sc, head, roll, pl = _resolve(scenario, customers=customers, months=months,
                                  headcount=headcount, rollout_headcount=rollout_headcount,
                                  pools=pools)
    seed = rng if isinstance(rng, int) else None
    gen = np.random.default_rng(rng)
    worlds, stats, trials, pot = _run(sc, gen, head, roll, pl, tables=True, seed=seed)
    slow = rollout_position(sc)
    effects = _effects(stats, pot.arm, slow)
    inter = _interference(stats, pot.arm, slow, sc.effects.arms, sc.desk.fast_target_hours)
    asg = trials["trial"].assignments
    return Worlds(sc, trials["status_quo"], trials["trial"], trials["rollout"], asg, head, roll,
                  pl, effects, inter, {k: (w.runs, w.unsettled) for k, w in worlds.items()},
                  {k: w.agents for k, w in worlds.items()}, _loads(sc, worlds, stats))


@dataclass(frozen=True, repr=False)
class DeskTruth:
    """The worlds' true effects as the mean over independent replications.

    Attributes:
        scenario: The scenario's name.
        replications: Independent replications run.
        effects: Per outcome the mean of every effect of :attr:`Worlds.effects` with its Monte
            Carlo SE (sd over replications / sqrt(replications)) in ``<effect>_se``.
        interference: The mean of every figure of :attr:`Worlds.interference` (and its Monte
            Carlo SE in ``<figure>_se``).
        per_replication: Every replication's effects (long: ``replication, outcome, effect,
            value``).
    """

    scenario: str
    replications: int
    effects: pd.DataFrame
    interference: pd.DataFrame
    per_replication: pd.DataFrame

    def effect(self, outcome: str, kind: str = "rollout") -> tuple[float, float]:
        """``(mean, Monte Carlo SE)`` of one effect of one outcome."""
        row = self.effects.loc[outcome]
        return float(row[kind]), float(row[f"{kind}_se"])

    def to_pandas(self) -> pd.DataFrame:
        return self.effects.copy()

    def summary(self) -> str:
        with pd.option_context("display.float_format", "{:.5g}".format, "display.width", 160):
            return (f"{self!r}\n{self.effects.to_string()}\n{self.interference.to_string()}")

    def __repr__(self) -> str:
        return f"DeskTruth(scenario={self.scenario!r}, replications={self.replications})"

    def _repr_html_(self) -> str:
        return f"<p>{self!r}</p>" + self.effects.to_html(float_format="{:.5g}".format)


def desk_truth(
    scenario: str | Path | Scenario = "published-desk", *, replications: int = 20,
    customers: int | None = None, months: float | None = None,
    rng: int | np.random.Generator | None = None,
    headcount: int | Sequence[int] | None = None,
    rollout_headcount: int | Sequence[int] | None = None,
    pools: str | None = None,
) -> DeskTruth:
    """The worlds' true effects by the simulation's own large-sample expectation: the mean of
    ``replications`` independent :func:`simulate_worlds` runs (tables not built) with its
    Monte Carlo standard error (Law 2015, 9.4). Arguments as :func:`simulate_worlds`."""
    if isinstance(replications, bool) or not isinstance(replications, int | np.integer) \
            or replications < 2:
        raise ValueError(f"replications: must be a whole number >= 2, got {replications!r}")
    sc, head, roll, pl = _resolve(scenario, customers=customers, months=months,
                                  headcount=headcount, rollout_headcount=rollout_headcount,
                                  pools=pools)
    gen = np.random.default_rng(rng)
    slow = rollout_position(sc)
    effs, inters = [], []
    for r in range(replications):
        _, stats, _, pot = _run(sc, np.random.default_rng(gen.integers(2**63)), head, roll,
                                pl, tables=False)
        effs.append(_effects(stats, pot.arm, slow).assign(replication=r))
        inters.append(_interference(stats, pot.arm, slow, sc.effects.arms,
                                    sc.desk.fast_target_hours).assign(replication=r))
    eff = pd.concat(effs)
    cols = ["status_quo", *EFFECTS]
    g = eff.groupby(level=0, sort=False)[cols]
    table = g.mean()
    for c, se in (g.std(ddof=1) / math.sqrt(replications)).items():
        table[f"{c}_se"] = se
    table = table.loc[list(OUTCOMES)]
    inter = pd.concat(inters)
    figs = [c for c in inter.columns if c != "replication"]
    gi = inter.groupby(level=[0, 1], sort=False)[figs]
    itable = gi.mean()
    for c, se in (gi.std(ddof=1) / math.sqrt(replications)).items():
        itable[f"{c}_se"] = se
    long = eff.reset_index().melt(id_vars=["replication", "outcome"], value_vars=cols,
                                  var_name="effect")
    return DeskTruth(sc.name, int(replications), table, itable, long)
