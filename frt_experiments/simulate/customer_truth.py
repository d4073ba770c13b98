"""The truth of effects that differ by customer: per segment, per customer and per policy.

For a scenario whose effects differ by segment, spend and contact rate
(:mod:`~frt_experiments.simulate.heterogeneity`, presets ``hte`` and ``hte-null``):

- :func:`segment_truth`: per level of ``segment`` (or ``timezone``, or all customers) the
  control's and a slow arm's expected CSAT, questions and NRR among the *eligible* customers
  (``monthly_spend <= eligibility.max_spend``, the ones a trial assigns), in the estimands the
  analysis reports for a subset of customers: CSAT the ratio of expectations
  ``E[satisfied] / E[rated]`` within the level, questions the mean conversations per customer,
  NRR ``E[revenue_end] / E[revenue_start]`` within the level;
- :func:`customer_truth`: each simulated customer's expected outcomes under the control (fast)
  and the slow arm, given its latent draws (contact rate, satisfaction propensity);
- :func:`policy_value`: the true value of a targeting policy (which customers to answer
  slowly) in the units of :class:`~frt_experiments.net_benefit.NetBenefit`.

Given a customer's segment ``g``, spend ``s``, contact rate ``c`` and propensity ``u``, an arm
``a`` (policy with FRT distribution ``F_a``) with the customer's modifiers (questions
multiplier ``m_q``, churn multiplier ``m_c`` and satisfaction shift ``d``; 1, 1 and 0 in the
control) gives, in expectation over everything else (the same arguments as
:mod:`~frt_experiments.simulate.truth`: ratings independent of satisfaction and of the count,
each conversation's FRT independent of whether it exists, Wald's identity)::

    conversations  = c T m_q / (1 - rho_a)          rho_a = E[r(FRT)] (follow-ups)
    csat           = P_a(intercept + u + d)          P_a(x) = E[expit(x - lambda z - b log(1+FRT))]
    revenue_end    = s (1 - p_churn(m_c)) C E exp(-c T m_q (1 - phi_a))

with ``T`` the months, ``C`` and ``E`` the expected contraction and expansion factors, and
``phi_a`` the churn generating function of one follow-up chain (1 without
``revenue.churn_per_log_hour``). ``P_a`` is computed by the quadrature of
:func:`~frt_experiments.simulate.first_response.arm_expectation` at the 250 Chebyshev points of
``[-25, 25]`` and interpolated (Chebyshev interpolation of a function analytic in a strip of
half-width pi converges like ``rho**-250 ~ 3e-14``, ``rho = pi/25 + sqrt(1 + (pi/25)**2)``;
Trefethen 2013, ch. 8; beyond the interval, where the logistic is within 2e-11 of 0 or 1, the
ends are used). Within a
level the covariates are independent: spend a log-normal truncated at ``max_spend`` (64
Gauss-Legendre nodes on the standard-normal scale over ``[-12, z_max]``), the contact rate a
gamma (64 generalized Gauss-Laguerre nodes), the propensity a normal (32 Gauss-Hermite nodes),
so the level's sums are tensor-product quadratures. They are exact for what the homogeneous
model integrates in closed form (the pooled truth of ``published`` and ``dose`` equals
:func:`~frt_experiments.simulate.dose_truth`'s to 1e-9); with the non-integer powers of the
rate that ``rate_*`` slopes bring they are accurate to about 2e-6 (160 nodes instead of 64 over
rate and spend change no value of ``hte``'s :func:`segment_truth` by more than 1.6e-6, against a
20,000-customer trial's standard errors of 0.01 or more). The simulator takes spend to the cent;
the quadrature takes it continuous (an error of order 1e-9 in the share eligible).

References:
    Trefethen, L. N. (2013). *Approximation Theory and Approximation Practice*, ch. 8
    (convergence for analytic functions).
    Abramowitz, M. and Stegun, I. A. (1964). *Handbook of Mathematical Functions*, 25.4.29-30,
    25.4.45 and 25.4.46 (Gauss-Legendre, generalized Gauss-Laguerre and Gauss-Hermite).
    Wald, A. (1944). On cumulative sums of random variables. Annals of Mathematical Statistics
    15(3), 283-296.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from numpy.polynomial import chebyshev
from scipy.special import expit, roots_genlaguerre
from scipy.stats import norm

from frt_experiments import schema
from frt_experiments.net_benefit import NetBenefit
from frt_experiments.simulate.effects import followup_probability
from frt_experiments.simulate.first_response import arm_expectation
from frt_experiments.simulate.heterogeneity import customer_modifiers
from frt_experiments.simulate.population import Population, _window_prob, draw_population
from frt_experiments.simulate.scenario import Scenario, load_scenario

__all__ = ["PolicyValue", "customer_truth", "policy_value", "segment_truth"]

_CHEB_HALF, _CHEB_POINTS = 25.0, 250
_LEG_X, _LEG_W = np.polynomial.legendre.leggauss(64)
_U_NODES, _U_WEIGHTS = np.polynomial.hermite_e.hermegauss(32)
_U_WEIGHTS = _U_WEIGHTS / _U_WEIGHTS.sum()
_Z_MIN = -12.0
#: The levels :func:`segment_truth` can split by.
BY = ("segment", "timezone", None)
#: Covariate columns of the customers table a policy may read (pre-period and profile).
COVARIATES = (schema.SEGMENT, schema.TIMEZONE, schema.MONTHLY_SPEND, schema.REVENUE_START,
              *schema.PRE_COVARIATES)


@dataclass(frozen=True)
class _Arm:
    """An arm's constants: its position, the follow-up mean ``rho``, the churn generating
    function ``phi`` of one chain, and ``P_a`` as Chebyshev coefficients."""

    position: int
    rho: float
    phi: float
    coef: np.ndarray

    def csat(self, x: np.ndarray) -> np.ndarray:
        """``P_a(x)``: the expected satisfaction probability at logit ``x`` before the FRT."""
        t = np.clip(np.asarray(x, dtype=float), -_CHEB_HALF, _CHEB_HALF) / _CHEB_HALF
        return np.clip(chebyshev.chebval(t, self.coef), 0.0, 1.0)


@functools.lru_cache(maxsize=32)
def _arm(sc: Scenario, position: int) -> _Arm:
    frt, c, cs = sc.frt, sc.conversations, sc.csat
    policy = frt.arm_policies()[position]
    lam, b = cs.difficulty, cs.slope

    def follow(h: np.ndarray) -> np.ndarray:
        return followup_probability(h, followup=c.followup, slope=c.followup_slope)

    rho = arm_expectation(lambda h, z: follow(h), frt, policy) if c.followup > 0 else 0.0
    eta = sc.revenue.churn_per_log_hour
    phi = 1.0
    if eta != 0:
        a = arm_expectation(lambda h, z: np.exp(-eta * np.log1p(h)) * (1 - follow(h)), frt,
                            policy)
        bb = arm_expectation(lambda h, z: np.exp(-eta * np.log1p(h)) * follow(h), frt, policy)
        phi = a / (1 - bb)
    k = np.arange(_CHEB_POINTS)
    t = np.cos(np.pi * (k + 0.5) / _CHEB_POINTS)  # Chebyshev points of the first kind
    def at(x: float) -> float:
        def f(h: np.ndarray, z: np.ndarray) -> np.ndarray:
            return expit(x - lam * z - b * np.log1p(h))
        return arm_expectation(f, frt, policy, difficulty=lam != 0)

    values = np.array([at(x) for x in _CHEB_HALF * t])
    coef = chebyshev.chebfit(t, values, _CHEB_POINTS - 1)
    return _Arm(position, float(rho), float(phi), coef)


def _target(sc: Scenario, arm: str | None) -> int:
    arms = sc.effects.arms
    if arm is None:
        return 1
    if arm not in arms[1:]:
        raise ValueError(f"arm must be one of the slow arms ({', '.join(arms[1:])}), got "
                         f"{arm!r}")
    return arms.index(arm)


def _expected(sc: Scenario, arm: _Arm, segment: np.ndarray, spend: np.ndarray,
              rate: np.ndarray, *, propensity: np.ndarray | None) -> dict[str, np.ndarray]:
    """Per customer (broadcast arrays), expected conversations, CSAT (over ``u`` when
    ``propensity`` is None) and revenue_end / spend under ``arm``."""
    shape = np.broadcast_shapes(np.shape(segment), np.shape(spend), np.shape(rate))
    if arm.position == 0:
        shift, mq, mc = np.zeros(shape), np.ones(shape), np.ones(shape)
    else:
        m = customer_modifiers(sc, *np.broadcast_arrays(segment, spend, rate))
        shift, mq, mc = m.csat_shift, m.questions, m.churn
    months, r = sc.window.months, sc.revenue
    primaries = np.asarray(rate) * months * mq
    conversations = primaries / (1 - arm.rho)
    x = sc.csat.intercept + shift
    if propensity is None:
        u = sc.population.satisfaction_sd * _U_NODES
        csat = arm.csat(x[..., None] + u) @ _U_WEIGHTS
    else:
        csat = arm.csat(x + propensity)
    keep = ((1 - _window_prob(r.churn * mc, months))
            * (1 - r.contraction_size * _window_prob(r.contraction, months))
            * (1 + r.expansion_size * _window_prob(r.expansion, months)))
    if arm.phi != 1.0:
        keep = keep * np.exp(-primaries * (1 - arm.phi))
    return {"conversations": conversations, "csat": csat, "nrr": keep}


def _spend_nodes(sc: Scenario) -> tuple[np.ndarray, np.ndarray, float]:
    """Spend nodes and weights (summing to 1) of the eligible customers, and the share
    eligible."""
    p, cap = sc.population, sc.eligibility.max_spend
    if p.spend_sigma == 0:
        ok = p.spend_median <= cap
        return np.array([p.spend_median]), np.array([1.0]), float(ok)
    z_max = min(12.0, math.log(cap / p.spend_median) / p.spend_sigma) if cap > 0 else -np.inf
    if z_max <= _Z_MIN:
        raise ValueError(f"scenario {sc.name}: no customer is eligible (eligibility.max_spend "
                         f"= {cap} is far below population.spend_median = {p.spend_median})")
    half = (z_max - _Z_MIN) / 2
    z = _Z_MIN + half * (_LEG_X + 1)
    w = half * _LEG_W * norm.pdf(z)
    return p.spend_median * np.exp(p.spend_sigma * z), w / w.sum(), float(norm.cdf(z_max))


def _rate_nodes(sc: Scenario) -> tuple[np.ndarray, np.ndarray]:
    p = sc.population
    if p.contact_rate == 0:
        return np.zeros(1), np.ones(1)
    x, w = roots_genlaguerre(64, p.contact_shape - 1)
    return x * p.contact_rate / p.contact_shape, w / w.sum()


def _segment_sums(sc: Scenario, arm: _Arm) -> np.ndarray:
    """Per segment (rows): E[conversations], E[conversations x csat], E[spend x nrr] and
    E[spend] over the eligible customers of that segment (columns)."""
    s, ws = _spend_nodes(sc)[:2]
    lam, wl = _rate_nodes(sc)
    w = ws[:, None] * wl[None, :]
    out = np.empty((len(sc.population.segments), 4))
    for g in range(len(sc.population.segments)):
        e = _expected(sc, arm, np.full(w.shape, g), s[:, None], lam[None, :],
                      propensity=None)
        out[g] = (np.sum(w * e["conversations"]), np.sum(w * e["conversations"] * e["csat"]),
                  np.sum(w * s[:, None] * e["nrr"]), np.sum(w * s[:, None]))
    return out


def _pooled(sums: np.ndarray, weights: np.ndarray) -> dict[str, float]:
    tot = weights @ sums
    return {"csat": float(tot[1] / tot[0]), "questions": float(tot[0] / weights.sum()),
            "nrr": float(tot[2] / tot[3])}


def overall_truth(sc: Scenario, position: int) -> dict[str, float]:
    """An arm's expected CSAT, questions and NRR over every eligible customer."""
    w = np.asarray(sc.population.segment_weights, dtype=float)
    return _pooled(_segment_sums(sc, _arm(sc, position)), w / w.sum())


def segment_truth(scenario: str | Path | Scenario = "hte", by: str | None = "segment", *,
                  arm: str | None = None) -> pd.DataFrame:
    """Per level of ``by`` and outcome, the control's and the slow ``arm``'s expected value
    among the eligible customers, in the analysis's estimands (module docstring).

    Args:
        scenario: A preset name, a TOML path or a :class:`Scenario`.
        by: ``"segment"``, ``"timezone"`` (no effect differs by zone: every level has the
            pooled values) or ``None`` (one level, ``"all"``).
        arm: The slow arm (default: the second arm).

    Returns:
        One row per level and metric (``csat``, ``questions``, ``nrr``): the level (a column
        named after ``by``, or ``level`` for ``None``), ``metric``, ``control``, ``treatment``,
        ``diff``, ``rel_diff`` and ``share`` (the level's share of eligible customers).

    Example:
        >>> from frt_experiments.simulate import segment_truth
        >>> t = segment_truth("hte-null")
        >>> bool(t.groupby("metric")["diff"].nunique().eq(1).all())
        True
    """
    sc = load_scenario(scenario)
    if by not in BY:
        raise ValueError(f"by must be 'segment', 'timezone' or None, got {by!r}")
    position = _target(sc, arm)
    control = _segment_sums(sc, _arm(sc, 0))
    treated = _segment_sums(sc, _arm(sc, position))
    seg_w = np.asarray(sc.population.segment_weights, dtype=float)
    seg_w = seg_w / seg_w.sum()
    levels: list[tuple[str, np.ndarray, float]]
    if by == "segment":
        levels = [(name, np.eye(len(seg_w))[g], float(seg_w[g]))
                  for g, name in enumerate(sc.population.segments)]
    elif by == "timezone":
        tz_w = np.asarray(sc.population.timezone_weights, dtype=float)
        levels = [(name, seg_w, float(tz_w[i] / tz_w.sum()))
                  for i, name in enumerate(sc.population.timezones)]
    else:
        levels = [("all", seg_w, 1.0)]
    rows: list[dict[str, Any]] = []
    for name, weights, share in levels:
        c, t = _pooled(control, weights), _pooled(treated, weights)
        rows.extend({by or "level": name, "metric": metric, "control": c[metric],
                     "treatment": t[metric], "diff": t[metric] - c[metric],
                     "rel_diff": t[metric] / c[metric] - 1, "share": share}
                    for metric in ("csat", "questions", "nrr"))
    return pd.DataFrame(rows)


def _latent(trial: Any) -> Population:
    """The latent draws of a simulated trial, drawn again from its seed (the population is the
    first thing :func:`~frt_experiments.simulate.simulate` draws)."""
    sc, seed = trial.scenario, trial.seed
    if seed is None:
        raise ValueError("customer_truth: the trial has no integer seed (simulate it with "
                         "rng=<int>), so its customers' latent draws cannot be recovered")
    if sc.desk.agents > 0:
        raise ValueError("customer_truth: a trial with the desk in the loop is not supported")
    pop = draw_population(sc, len(trial.customers), np.random.default_rng(seed))
    got = trial.customers[schema.MONTHLY_SPEND].to_numpy(dtype=float)
    if got.shape != pop.spend.shape or not np.array_equal(got, pop.spend):
        raise ValueError("customer_truth: the trial's customers are not the ones its scenario "
                         "and seed draw (changed tables?)")
    return pop


def _covariates(sc: Scenario, pop: Population) -> pd.DataFrame:
    p = sc.population
    return pd.DataFrame({
        schema.SEGMENT: pd.Series(np.asarray(p.segments)[pop.segment], dtype="string"),
        schema.TIMEZONE: pd.Series(np.asarray(p.timezones)[pop.timezone], dtype="string"),
        schema.MONTHLY_SPEND: pop.spend,
        schema.REVENUE_START: pop.spend,
        schema.PRE_CONVERSATIONS: pop.pre_conversations,
        schema.PRE_RATED: pop.pre_rated,
        schema.PRE_SATISFIED: pop.pre_satisfied,
        schema.PRE_HANDLE_SECONDS: pop.pre_handle_seconds,
    })


def customer_truth(source: Any, scenario: str | Path | Scenario | None = None, *,
                   arm: str | None = None) -> pd.DataFrame:
    """Each customer's expected outcomes under the control (fast) and the slow ``arm``.

    Args:
        source: A :class:`~frt_experiments.simulate.SimulatedTrial` simulated with an integer
            seed (its customers' latent draws are drawn again from it and checked against its
            customers table), or a :class:`~frt_experiments.simulate.population.Population`
            with its ``scenario``.
        scenario: The scenario of a ``Population`` (ignored for a trial).
        arm: The slow arm (default: the second arm).

    Returns:
        One row per customer, in the customers table's order: ``customer_id`` (a trial), the
        covariates of the customers table (:data:`COVARIATES`), ``eligible``, ``arm`` (a trial;
        missing when not assigned), the latent ``rate`` and ``propensity``, and per arm
        (``_fast`` the control, ``_slow`` the slow arm): ``conversations`` (expected
        conversations), ``rated`` (expected rated conversations: the weight of the customer's
        ``csat`` when ratings are pooled), ``csat`` (expected satisfaction probability of a
        rated conversation), ``nrr`` (expected revenue_end / revenue_start) and
        ``revenue_end``; and ``benefit`` of deferring the customer in the default
        :class:`~frt_experiments.net_benefit.NetBenefit` units.
    """
    if isinstance(source, Population):
        if scenario is None:
            raise ValueError("customer_truth: give the scenario of the population")
        sc, pop = load_scenario(scenario), source
        head = pd.DataFrame(index=range(len(source.spend)))
    elif hasattr(source, "customers") and hasattr(source, "scenario"):
        sc = source.scenario
        pop = _latent(source)
        head = pd.DataFrame({schema.CUSTOMER_ID: source.customers[schema.CUSTOMER_ID]})
    else:
        raise TypeError(f"customer_truth: source must be a SimulatedTrial or a Population, got "
                        f"{type(source).__name__}")
    return _truth_frame(sc, pop, head, _target(sc, arm), source)


def _truth_frame(sc: Scenario, pop: Population, head: pd.DataFrame, position: int,
                 source: Any = None) -> pd.DataFrame:
    out = pd.concat([head.reset_index(drop=True), _covariates(sc, pop)], axis=1)
    out["eligible"] = pop.spend <= sc.eligibility.max_spend
    if source is not None and hasattr(source, "assignments"):
        a = source.assignments.set_index(schema.CUSTOMER_ID)[schema.ARM]
        out["arm"] = out[schema.CUSTOMER_ID].map(a).astype("string")
    out["rate"] = pop.rate
    out["propensity"] = pop.propensity
    survey = sc.conversations.survey_response
    for label, pos in (("fast", 0), ("slow", position)):
        e = _expected(sc, _arm(sc, pos), pop.segment, pop.spend, pop.rate,
                      propensity=pop.propensity)
        out[f"conversations_{label}"] = e["conversations"]
        out[f"rated_{label}"] = survey * e["conversations"]
        out[f"csat_{label}"] = e["csat"]
        out[f"nrr_{label}"] = e["nrr"]
        out[f"revenue_end_{label}"] = pop.spend * e["nrr"]
    out["benefit"] = _benefit(out, NetBenefit())
    return out


def _benefit(frame: pd.DataFrame, benefit: NetBenefit) -> np.ndarray:
    return benefit.benefit(conversations_fast=frame["conversations_fast"].to_numpy(),
                           conversations_slow=frame["conversations_slow"].to_numpy(),
                           revenue_end_fast=frame["revenue_end_fast"].to_numpy(),
                           revenue_end_slow=frame["revenue_end_slow"].to_numpy())


@functools.lru_cache(maxsize=4)
def _population_truth(sc: Scenario, customers: int, seed: int, position: int) -> pd.DataFrame:
    pop = draw_population(sc, customers, np.random.default_rng(seed))
    frame = _truth_frame(sc, pop, pd.DataFrame(index=range(customers)), position)
    return frame[frame["eligible"]].reset_index(drop=True)


@dataclass(frozen=True)
class PolicyValue:
    """A policy's true value (:func:`policy_value`).

    Attributes:
        value: Mean net benefit per eligible customer of deferring the customers the policy
            picks (the others answered fast), relative to answering everyone fast.
        mc_se: Its Monte Carlo standard error (the population is a large sample).
        deferred_share: Share of eligible customers deferred.
        csat_change: The deferred customers' pooled CSAT under the slow arm minus under fast
            (NaN when none is deferred).
        customers: Eligible customers in the population it was computed on.
    """

    value: float
    mc_se: float
    deferred_share: float
    csat_change: float
    customers: int

    def to_pandas(self) -> pd.Series:
        return pd.Series({"value": self.value, "mc_se": self.mc_se,
                          "deferred_share": self.deferred_share,
                          "csat_change": self.csat_change, "customers": self.customers},
                         name="policy_value")

    def summary(self) -> str:
        return (f"true value {self.value:.4f} per eligible customer (MC SE {self.mc_se:.2g}), "
                f"{self.deferred_share:.1%} deferred, their CSAT change "
                f"{self.csat_change:+.4f}, over {self.customers:,} customers")


Policy = Callable[[pd.DataFrame], Any] | np.ndarray | str


def policy_value(scenario: str | Path | Scenario, policy: Policy, *,
                 benefit: NetBenefit | None = None, arm: str | None = None,
                 population: pd.DataFrame | None = None, customers: int = 500_000,
                 seed: int = 20_251_202) -> PolicyValue:
    """The true value of answering slowly the customers a policy picks.

    Args:
        scenario: A preset name, a TOML path or a :class:`Scenario`.
        policy: ``policy(frame) -> booleans`` over the rows of a frame holding the customers
            table's covariates (:data:`COVARIATES`), or booleans aligned with ``population``'s
            eligible rows, or ``"all"`` (defer every eligible customer), ``"none"`` or
            ``"oracle"`` (defer exactly the customers whose true benefit is positive, from
            their latent draws: the best any policy can do, without the CSAT constraint).
        benefit: The prices (default :class:`~frt_experiments.net_benefit.NetBenefit()`).
        arm: The slow arm (default: the second arm).
        population: A :func:`customer_truth` frame to evaluate on (its eligible rows); default
            a drawn population of ``customers`` customers from ``seed`` (cached), whose Monte
            Carlo error is reported.
        customers: Size of the drawn population.
        seed: Its seed.
    """
    sc = load_scenario(scenario)
    benefit = benefit or NetBenefit()
    position = _target(sc, arm)
    if population is None:
        frame = _population_truth(sc, customers, seed, position)
    else:
        frame = population[population["eligible"]].reset_index(drop=True)
    tau = _benefit(frame, benefit)
    if isinstance(policy, str):
        if policy not in ("all", "none", "oracle"):
            raise ValueError(f"policy must be a callable, booleans, 'all', 'none' or 'oracle', "
                             f"got {policy!r}")
        pick = {"all": np.ones(len(frame), bool), "none": np.zeros(len(frame), bool),
                "oracle": tau > 0}[policy]
    elif callable(policy):
        pick = np.asarray(policy(frame.loc[:, list(COVARIATES)]), dtype=bool)
    else:
        pick = np.asarray(policy, dtype=bool)
    if pick.shape != (len(frame),):
        raise ValueError(f"policy: must give one boolean per eligible customer ({len(frame)}), "
                         f"got shape {pick.shape}")
    contrib = np.where(pick, tau, 0.0)
    n = len(frame)
    if pick.any():
        d = frame[pick]
        slow = float((d["rated_slow"] * d["csat_slow"]).sum() / d["rated_slow"].sum())
        fast = float((d["rated_fast"] * d["csat_fast"]).sum() / d["rated_fast"].sum())
        change = slow - fast
    else:
        change = math.nan
    return PolicyValue(float(contrib.mean()), float(contrib.std(ddof=1) / math.sqrt(n)),
                       float(pick.mean()), change, n)
