"""Plan an experiment: power per metric, sample size, MDE, duration and interim monitoring.

The customer is the unit of randomization and analysis (DESIGN section 2), so every metric is
reduced to one number per metric: the per-customer standard deviation ``sd`` of its estimator,
such that an arm of ``n`` customers estimates the metric with standard error ``sd / sqrt(n)``.

- ``questions`` (conversations per customer): a mean; ``sd`` is the customers' sd.
- ``csat`` (satisfied / rated), ``nrr`` (revenue_end / revenue_start) and ``efficiency``
  (conversations / handle hours): ratios of per-customer sums, whose ``sd`` is that of the
  linearized values ``(y - R x) / mean(x)`` (delta method). For CSAT this includes customers
  without ratings and the clustering of ratings within customers; its *design effect* is the
  ratio of that variance to the naive binomial variance of independent ratings.

A difference test at ``alpha`` detects an absolute change ``mde`` with ``power`` when
``mde = (z_alpha + z_power) * sd * sqrt(1/n_control + 1/n_treatment)``; non-inferiority (CSAT)
and equivalence (NRR) use the margin tests of :func:`frt_experiments.stats.power.margin_power`.
Sizes are per arm: ``n_control`` customers in control and ``ratio * n_control`` in treatment.

Duration: customers enter the trial at ``eligible_per_month`` (both arms together); the months
needed are ``(n_control + n_treatment) / eligible_per_month``, and the metric needing the most
months *binds*. Each customer's outcomes are assumed to be measured over a window like the
history's (the variances come from it).

With ``looks > 1`` the maximum sample size is the fixed one times the inflation factor of the
Lan-DeMets group-sequential design (:mod:`frt_experiments.stats.sequential`);
:func:`frt_experiments.monitoring.judge_interim` compares an interim z statistic with the
plan's boundary.

References:
    Deng, A., Knoblich, U. and Lu, J. (2018). Applying the delta method in metric analytics.
    *KDD '18*, 233-242.
    Kish, L. (1965). *Survey Sampling*, section 8.2 (design effect). Wiley.
    Chow, S.-C., Shao, J. and Wang, H. (2008). *Sample Size Calculations in Clinical Research*,
    2nd ed., chapter 3. Chapman & Hall.
    Lan, K. K. G. and DeMets, D. L. (1983). *Biometrika* 70(3), 659-663.
    Jennison, C. and Turnbull, B. W. (2000). *Group Sequential Methods*, sections 7.2 and 7.4.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from functools import partial

import numpy as np
import pandas as pd
from scipy import optimize

from frt_experiments import schema
from frt_experiments.errors import DataError, Problem
from frt_experiments.plan import (
    ALTERNATIVES,
    SPENDING_FUNCTIONS,
    ExperimentPlan,
    allocation_problems,
)
from frt_experiments.stats.power import margin_power, solve_power
from frt_experiments.stats.sequential import SequentialBounds, _fractions, sequential_bounds

__all__ = [
    "METRICS",
    "DesignResult",
    "MetricVariance",
    "PowerResult",
    "estimate_variances",
    "metric_power",
    "plan_experiment",
]

METRICS = ("questions", "csat", "nrr", "efficiency")
_TESTS = ("difference", "non-inferiority", "equivalence")
_DAYS_PER_MONTH = 365.25 / 12


@dataclass(frozen=True)
class MetricVariance:
    """What a power calculation needs to know about one metric.

    Attributes:
        metric: ``questions``, ``csat``, ``nrr``, ``efficiency`` (or any name).
        baseline: The metric's value in control (mean or ratio).
        sd: Per-customer sd of the estimator: an arm of n customers has se ``sd / sqrt(n)``.
        design_effect: Variance relative to treating the ratio's denominator units (ratings,
            conversations) as independent; 1.0 for a mean.
        units_per_customer: Mean denominator per customer (ratings per customer for CSAT).
    """

    metric: str
    baseline: float
    sd: float
    design_effect: float = 1.0
    units_per_customer: float = 1.0

    def __post_init__(self) -> None:
        for name in ("baseline", "sd", "design_effect", "units_per_customer"):
            v = getattr(self, name)
            if not isinstance(v, int | float) or not math.isfinite(v):
                raise ValueError(f"MetricVariance({self.metric}).{name} must be finite, "
                                 f"got {v!r}")
        if self.sd <= 0 or self.design_effect <= 0 or self.units_per_customer <= 0:
            raise ValueError(f"MetricVariance({self.metric}): sd, design_effect and "
                             "units_per_customer must be positive")

    @classmethod
    def proportion(cls, metric: str, p: float, *, units_per_customer: float,
                   design_effect: float = 1.0) -> MetricVariance:
        """A ratio of 0/1 outcomes (like CSAT) given directly: p, ratings per customer, deff.

        ``sd = sqrt(p (1 - p) * design_effect / units_per_customer)`` (Kish 1965).
        """
        if not 0 < p < 1:
            raise ValueError(f"p must be in (0, 1), got {p!r}")
        sd = math.sqrt(p * (1 - p) * design_effect / units_per_customer)
        return cls(metric, float(p), sd, float(design_effect), float(units_per_customer))


def _ratio_sd(y: np.ndarray, x: np.ndarray) -> tuple[float, float]:
    """(ratio, per-customer sd of the delta-method linearization) of sum(y)/sum(x)."""
    mx = x.mean()
    r = y.sum() / x.sum()
    return float(r), float(np.std((y - r * x) / mx, ddof=1))


def estimate_variances(
    customers: pd.DataFrame,
    conversations: pd.DataFrame,
    *,
    source: str = "history",
) -> dict[str, MetricVariance]:
    """Estimate each metric's baseline, per-customer sd and design effect from history.

    ``customers`` and ``conversations`` are canonical tables (validated first); every customer
    counts, with zeros for those without conversations or ratings.

    Raises:
        DataError: A table is invalid, or has too few customers, ratings or revenue to
            estimate a metric.

    References:
        Deng, Knoblich and Lu (2018) for the ratio variances; Kish (1965) for the design effect.
    """
    customers = schema.validate_customers(customers, source=f"{source} customers")
    conversations = schema.validate_conversations(conversations,
                                                  source=f"{source} conversations")
    ids = customers[schema.CUSTOMER_ID]
    if len(ids) < 3:
        raise DataError([Problem(f"{source} customers", None,
                                 f"needs at least 3 customers to estimate variances, has "
                                 f"{len(ids)}")])
    sat = schema.satisfied(conversations)
    per = pd.DataFrame({
        "n": 1.0,
        "rated": sat.notna().astype(float).to_numpy(),
        "satisfied": sat.fillna(0.0).to_numpy(),
        "hours": conversations[schema.HANDLE_SECONDS].astype(float).to_numpy() / 3600,
    }).groupby(conversations[schema.CUSTOMER_ID].to_numpy()).sum()
    per = per.reindex(ids.to_numpy(), fill_value=0.0)
    out: dict[str, MetricVariance] = {}
    n = per["n"].to_numpy()
    out["questions"] = MetricVariance("questions", float(n.mean()), float(np.std(n, ddof=1)))
    rated = per["rated"].to_numpy()
    if rated.sum() > 0 and 0 < per["satisfied"].sum() < rated.sum():
        r, sd = _ratio_sd(per["satisfied"].to_numpy(), rated)
        m = float(rated.mean())
        out["csat"] = MetricVariance("csat", r, sd, sd**2 * m / (r * (1 - r)), m)
    start = customers[schema.REVENUE_START].astype(float).to_numpy()
    end = customers[schema.REVENUE_END].astype(float).to_numpy()
    if start.sum() > 0:
        r, sd = _ratio_sd(end, start)
        out["nrr"] = MetricVariance("nrr", r, sd)
    hours = per["hours"].to_numpy()
    if hours.sum() > 0:
        r, sd = _ratio_sd(n, hours)
        out["efficiency"] = MetricVariance("efficiency", r, sd,
                                           units_per_customer=float(n.mean()))
    return out


@dataclass(frozen=True)
class PowerResult:
    """Power calculation for one metric (all sizes per arm, unrounded)."""

    metric: str
    test: str
    baseline: float
    sd: float
    n_control: float
    n_treatment: float
    alpha: float
    power: float
    mde: float
    rel_mde: float
    margin: float | None
    alternative: str
    design_effect: float
    solved_for: str

    def to_pandas(self) -> pd.Series:
        return pd.Series(asdict(self), name=self.metric)

    def summary(self) -> str:
        if self.test == "difference":
            what = f"detect {self.rel_mde:+.2%} ({self.mde:+.4g} absolute)"
        elif self.test == "non-inferiority":
            what = (f"show non-inferiority (margin {self.margin:+.2%}) at a true change of "
                    f"{self.rel_mde:+.2%}")
        else:
            what = (f"show equivalence (margin +-{self.margin:.2%}) at a true change of "
                    f"{self.rel_mde:+.2%}")
        return (f"{self.metric}: {self.n_control:,.0f} + {self.n_treatment:,.0f} customers "
                f"{what} with power {self.power:.1%} at alpha {self.alpha:g} "
                f"({self.alternative}; baseline {self.baseline:.4g}, sd {self.sd:.4g}, "
                f"design effect {self.design_effect:.2f}; solved for {self.solved_for})")

    def __repr__(self) -> str:
        return f"PowerResult({self.summary()})"


def metric_power(
    variance: MetricVariance,
    *,
    n_per_arm: float | None = None,
    rel_mde: float | None = None,
    mde: float | None = None,
    power: float | None = 0.8,
    alpha: float | None = 0.05,
    ratio: float = 1.0,
    alternative: str = "two-sided",
    test: str = "difference",
    margin: float | None = None,
) -> PowerResult:
    """Solve the power equation of one metric for the one quantity left as ``None``.

    Give all but one of ``n_per_arm`` (control customers; treatment has ``ratio`` times as
    many), the effect (``rel_mde``, relative to the baseline, or ``mde``, absolute),
    ``power`` and ``alpha``. For ``test="difference"`` the effect is the minimum detectable
    change; for ``"non-inferiority"`` (one-sided at alpha/2 when ``alternative`` is two-sided,
    i.e. the two-sided 1 - alpha interval must clear the margin) and ``"equivalence"`` (TOST at
    alpha per side) it is the assumed true change (default 0) and ``margin`` is relative
    (e.g. -0.02 for CSAT, 0.01 for NRR).

    Margin tests are sized on the absolute scale (margin ``baseline * margin``, per-customer
    ``sd``), while :func:`frt_experiments.analyze` tests ``log(t / c)`` against
    ``log(1 + margin)``; the two agree to first order in the margin. For a -2% CSAT margin the
    size planned here is about 2% larger than the log-scale test needs; for a ±1% NRR
    equivalence margin about 1% smaller.

    References:
        Chow, Shao and Wang (2008), chapter 3; statsmodels ``NormalIndPower.solve_power``.
    """
    if not isinstance(variance, MetricVariance):
        raise TypeError(f"variance must be a MetricVariance, got {type(variance).__name__}")
    if test not in _TESTS:
        raise ValueError(f"test must be one of {', '.join(_TESTS)}, got {test!r}")
    _check_power_args(n_per_arm=n_per_arm, rel_mde=rel_mde, mde=mde, power=power, alpha=alpha,
                      ratio=ratio, alternative=alternative, test=test, margin=margin)
    if rel_mde is not None and mde is not None:
        raise ValueError("give rel_mde or mde, not both")
    base, sd = variance.baseline, variance.sd
    effect = mde if mde is not None else (None if rel_mde is None else rel_mde * base)
    if test != "difference":
        if margin is None:
            raise ValueError(f"test={test!r} needs a margin")
        effect = 0.0 if effect is None else effect
    givens = {"n_per_arm": n_per_arm, "effect": effect, "power": power, "alpha": alpha}
    missing = [k for k, v in givens.items() if v is None]
    if len(missing) != 1:
        named = [("rel_mde/mde" if k == "effect" else k) for k in missing]
        raise ValueError("give all but exactly one of n_per_arm, rel_mde/mde, power, alpha; "
                         f"missing: {named or 'none'}")
    solved = missing[0]
    if test == "difference" and effect is not None and solved in ("n_per_arm", "alpha"):
        if effect == 0:
            raise ValueError(f"rel_mde/mde must be non-zero to solve for {solved}")
        if (alternative == "less" and effect > 0) or (alternative == "greater" and effect < 0):
            raise ValueError(f"rel_mde/mde {effect:+.3g} (absolute change) points away from "
                             f"alternative={alternative!r}: no {solved} reaches the power")
    if test == "difference":
        d = solve_power(effect_size=None if effect is None else effect / sd, nobs1=n_per_arm,
                        alpha=alpha, power=power, ratio=ratio, alternative=alternative)
        if solved == "n_per_arm":
            n_per_arm = d
        elif solved == "effect":
            effect = d * sd
        elif solved == "alpha":
            alpha = d
        else:
            power = d
    elif margin is not None and effect is not None:
        n_per_arm, effect, power, alpha = _solve_margin(
            sd, base * float(margin), n=n_per_arm, effect=float(effect), power=power,
            alpha=alpha, ratio=ratio,
            alternative=alternative, test=test, solved=solved)
    if n_per_arm is None or effect is None or alpha is None or power is None:
        raise RuntimeError("power equation left a quantity unsolved")  # unreachable
    return PowerResult(
        metric=variance.metric, test=test, baseline=base, sd=sd,
        n_control=float(n_per_arm), n_treatment=float(n_per_arm) * ratio,
        alpha=float(alpha), power=float(power), mde=float(effect),
        rel_mde=float(effect) / base, margin=margin, alternative=alternative,
        design_effect=variance.design_effect,
        solved_for="mde" if solved == "effect" else solved,
    )


def _check_power_args(*, n_per_arm: float | None, rel_mde: float | None, mde: float | None,
                      power: float | None, alpha: float | None, ratio: float,
                      alternative: str, test: str, margin: float | None) -> None:
    """Name the argument and the rule before any solver sees a bad value."""
    def number(name: str, v: object) -> float:
        if isinstance(v, bool) or not isinstance(v, int | float | np.number) \
                or not math.isfinite(float(v)):
            raise ValueError(f"{name} must be a finite number, got {v!r}")
        return float(v)

    if n_per_arm is not None and not number("n_per_arm", n_per_arm) > 0:
        raise ValueError(f"n_per_arm must be positive (control customers), got {n_per_arm!r}")
    for name, v in (("power", power), ("alpha", alpha)):
        if v is not None and not 0 < number(name, v) < 1:
            raise ValueError(f"{name} must be in (0, 1), got {v!r}")
    if not number("ratio", ratio) > 0:
        raise ValueError(f"ratio must be positive (treatment/control customers), got {ratio!r}")
    for name, v in (("rel_mde", rel_mde), ("mde", mde)):
        if v is not None:
            number(name, v)
    if rel_mde is not None and rel_mde <= -1:
        raise ValueError(f"rel_mde must be > -1 (a relative change), got {rel_mde!r}")
    if alternative not in ALTERNATIVES:
        raise ValueError(f"alternative must be one of {', '.join(ALTERNATIVES)}, "
                         f"got {alternative!r}")
    if margin is not None:
        m = number("margin", margin)
        if test == "non-inferiority" and not (m != 0 and m > -1):
            raise ValueError(f"a non-inferiority margin must be relative, non-zero and > -1 "
                             f"(e.g. -0.02), got {margin!r}")
        if test == "equivalence" and not 0 < m < 1:
            raise ValueError(f"an equivalence margin must be relative, in (0, 1) (e.g. 0.01), "
                             f"got {margin!r}")


def _solve_margin(sd: float, abs_margin: float, *, n: float | None, effect: float,
                  power: float | None, alpha: float | None, ratio: float, alternative: str,
                  test: str, solved: str) -> tuple[float, float, float, float]:
    def pw(n_: float, a: float) -> float:
        one_sided = a / 2 if (test == "non-inferiority" and alternative == "two-sided") else a
        se = sd * math.sqrt(1 / n_ + 1 / (ratio * n_))
        return margin_power(effect, se, margin=abs_margin, test=test, alpha=one_sided)

    if solved == "power" and n is not None and alpha is not None:
        return n, effect, pw(n, alpha), alpha
    if solved == "n_per_arm" and power is not None and alpha is not None:
        a, target = alpha, power
        if pw(1e12, a) <= target:
            raise ValueError(f"the {test} test cannot reach power {target:g}: the assumed "
                             "change lies on or outside the margin")
        return _root(lambda x: pw(x, a) - target, 2.0, 1e12), effect, target, a
    if solved == "alpha" and n is not None and power is not None:
        nn, target = n, power
        return nn, effect, target, _root(lambda a: pw(nn, a) - target, 1e-12, 0.999)
    raise ValueError(f"for a {test} test give the assumed true change (rel_mde, default 0) "
                     "and solve for n_per_arm, power or alpha")


def _root(f: Callable[[float], float], lo: float, hi: float) -> float:
    if np.sign(f(lo)) == np.sign(f(hi)):
        raise ValueError("no solution in the admissible range for these inputs")
    return float(optimize.brentq(f, lo, hi, xtol=1e-9, rtol=1e-12))


@dataclass(frozen=True)
class DesignResult:
    """A planned experiment: per-metric requirements, the binding metric and the plan.

    ``table`` has one row per planned metric: metric, test, alternative, baseline, sd,
    design_effect, units_per_customer (ratings per customer for CSAT, conversations per
    customer for efficiency: the contact and response rates of the history), n_control,
    n_treatment, months, mde, rel_mde, margin, alpha, power, binding.
    """

    table: pd.DataFrame
    binding_metric: str
    n_control: int
    n_treatment: int
    months: float | None
    eligible_per_month: float | None
    inflation: float
    bounds: SequentialBounds | None
    plan: ExperimentPlan

    def to_pandas(self) -> pd.DataFrame:
        return self.table.copy()

    def to_plan(self) -> ExperimentPlan:
        return self.plan

    def summary(self) -> str:
        p = self.plan
        lines = [f"Experiment design {p.name!r}: alpha {p.alpha:g} ({p.alternative}), "
                 f"power {p.power:.0%}" if p.power is not None else
                 f"Experiment design {p.name!r}: alpha {p.alpha:g} ({p.alternative})"]
        size = f"{self.n_control:,} control + {self.n_treatment:,} treatment customers"
        if self.months is not None:
            size += (f" = {self.months:.1f} months at {self.eligible_per_month:,.0f} eligible "
                     "customers per month")
        lines.append(f"  needs {size}; binding metric: {self.binding_metric}")
        if self.bounds is not None:
            lines.append(f"  sequential plan (sample size x {self.inflation:.3f}):")
            lines.extend("    " + ln for ln in self.bounds.summary().splitlines())
        cols = ["metric", "test", "baseline", "sd", "design_effect", "n_control", "months",
                "rel_mde", "margin", "power", "binding"]
        shown = self.table[cols].copy()
        fmt = {"baseline": "{:.4g}", "sd": "{:.4g}", "design_effect": "{:.2f}",
               "n_control": "{:,.0f}", "months": "{:.2f}", "rel_mde": "{:+.2%}",
               "margin": "{:+.2%}", "power": "{:.1%}"}
        for c, f in fmt.items():
            shown[c] = [("" if (v is None or (isinstance(v, float) and math.isnan(v)))
                         else f.format(v)) for v in shown[c]]
        lines.append(shown.to_string(index=False))
        return "\n".join(lines)

    def __repr__(self) -> str:
        return (f"DesignResult(binding_metric={self.binding_metric!r}, n_control="
                f"{self.n_control}, n_treatment={self.n_treatment}, months={self.months})")


def plan_experiment(
    variances: Mapping[str, MetricVariance],
    *,
    eligible_per_month: float | None = None,
    rel_mde: Mapping[str, float] | None = None,
    n_per_arm: float | None = None,
    months: float | None = None,
    power: float = 0.8,
    alpha: float = 0.05,
    ratio: float = 1.0,
    alternative: str = "two-sided",
    csat_margin: float | None = None,
    nrr_margin: float | None = None,
    looks: int | Sequence[float] | None = None,
    spending: str = "obrien-fleming",
    name: str = "frt-experiment",
    weights: Mapping[str, float] | None = None,
) -> DesignResult:
    """Plan an experiment over several metrics and name the one that binds.

    Two modes:

    - *size the trial* (neither ``n_per_arm`` nor ``months``): every metric with a target
      (``rel_mde[metric]`` for a difference test, ``csat_margin`` for CSAT non-inferiority,
      ``nrr_margin`` for NRR equivalence) gets the control-arm size reaching ``power``; the
      largest binds, and with ``eligible_per_month`` it is turned into months;
    - *judge a fixed trial* (``n_per_arm``, or ``months`` with ``eligible_per_month``):
      difference tests report the minimum detectable change at ``power`` (or the power for
      ``rel_mde`` when given), margin tests their power. The binding metric is the one with
      the largest relative MDE (or lowest power).

    Margin tests assume a true change of ``rel_mde.get(metric, 0)``. ``looks`` adds a
    Lan-DeMets group-sequential plan; its maximum sample size is the fixed one times the
    inflation factor at ``power`` (applied to margin tests as an approximation), and the power
    of a difference test in a trial of given size is the probability of crossing the plan's
    boundaries at some look (recursive numerical integration).

    ``weights`` (the designed allocation, control first: ``{"fast": 0.9,
    "one_business_day": 0.1}``) sizes the arms in that ratio -- ``ratio`` becomes the treatment
    share over the control share -- and is recorded in the plan, so that the analysis tests the
    sample ratio against it. A ``ratio`` other than 1 that disagrees with it is an error.

    References:
        Chow, Shao and Wang (2008), chapter 3; Jennison and Turnbull (2000), section 7.2.
    """
    if weights is not None:
        ratio = _allocation_ratio(weights, ratio)
    if not variances:
        raise ValueError("variances: give at least one MetricVariance")
    wrong = [k for k, v in variances.items() if not isinstance(v, MetricVariance)]
    if wrong:
        raise TypeError(f"variances: values must be MetricVariance, not for {wrong}")
    if n_per_arm is not None and (isinstance(n_per_arm, bool)
                                  or not isinstance(n_per_arm, int | float)
                                  or not math.isfinite(n_per_arm) or not n_per_arm > 0):
        raise ValueError(f"n_per_arm must be a positive number (control customers), got "
                         f"{n_per_arm!r}")
    rel_mde = dict(rel_mde or {})
    unknown = sorted(set(rel_mde) - set(variances))
    if unknown:
        raise ValueError(f"rel_mde names metrics without a variance: {unknown} "
                         f"(have {sorted(variances)})")
    for arg, v in (("power", power), ("alpha", alpha)):
        if isinstance(v, bool) or not isinstance(v, int | float) or not 0 < v < 1:
            raise ValueError(f"{arg} must be in (0, 1), got {v!r}")
    if alternative not in ALTERNATIVES:
        raise ValueError(f"alternative must be one of {', '.join(ALTERNATIVES)}, "
                         f"got {alternative!r}")
    if spending not in SPENDING_FUNCTIONS:
        raise ValueError(f"spending must be one of {', '.join(SPENDING_FUNCTIONS)}, "
                         f"got {spending!r}")
    if looks is not None:
        fractions = _fractions(looks)
        if not math.isclose(fractions[-1], 1.0):
            raise ValueError(f"looks: a plan's last look is the final analysis, information "
                             f"1.0, got {fractions.tolist()!r}")
    if eligible_per_month is not None and not eligible_per_month > 0:
        raise ValueError(f"eligible_per_month must be positive, got {eligible_per_month!r}")
    if months is not None:
        if eligible_per_month is None:
            raise ValueError("months needs eligible_per_month to give the trial's size")
        if n_per_arm is not None:
            raise ValueError("give n_per_arm or months, not both")
        if not months > 0:
            raise ValueError(f"months must be positive, got {months!r}")
        n_per_arm = months * eligible_per_month / (1 + ratio)
    plan = ExperimentPlan(name=name, alpha=alpha, alternative=alternative,
                          csat_margin=csat_margin, nrr_margin=nrr_margin,
                          looks=_count(looks), spending=spending,
                          information=(None if looks is None or isinstance(looks, int)
                                       else tuple(float(x) for x in looks)),
                          power=power, weights=weights)
    bounds = None
    inflation = 1.0
    if looks is not None and (_count(looks) or 1) > 1:
        bounds = sequential_bounds(looks, alpha=alpha, spending=spending,
                                   alternative=alternative)
        inflation = bounds.inflation(power)
    fixed_n = None if n_per_arm is None else n_per_arm / inflation
    rows = []
    for metric, var in variances.items():
        test, margin = "difference", None
        if metric == "csat" and csat_margin is not None:
            test, margin = "non-inferiority", csat_margin
        elif metric == "nrr" and nrr_margin is not None:
            test, margin = "equivalence", nrr_margin
        target = rel_mde.get(metric)
        if fixed_n is None and test == "difference" and target is None:
            continue
        solve = partial(metric_power, var, ratio=ratio, alternative=alternative, test=test,
                        margin=margin, alpha=alpha)
        if fixed_n is None:
            r = solve(rel_mde=target, power=power, n_per_arm=None)
        elif test == "difference" and target is None:
            r = solve(n_per_arm=fixed_n, power=power)
        else:
            r = solve(n_per_arm=fixed_n, rel_mde=target, power=None)
        row = asdict(r)
        if bounds is not None and n_per_arm is not None and test == "difference" \
                and target is not None:
            # the plan's power: crossing some look's boundary at E[Z(1)] = effect / se(max n)
            se = var.sd * math.sqrt(1 / n_per_arm + 1 / (ratio * n_per_arm))
            row["power"] = bounds.rejection_probability(r.mde / se)
        row["n_control"] = r.n_control * inflation
        row["n_treatment"] = r.n_treatment * inflation
        row["units_per_customer"] = var.units_per_customer
        rows.append(row)
    if not rows:
        raise ValueError("nothing to plan: give rel_mde for some metric, csat_margin, "
                         "nrr_margin, or a fixed n_per_arm/months")
    table = pd.DataFrame(rows)
    total = table["n_control"] + table["n_treatment"]
    table["months"] = total / eligible_per_month if eligible_per_month else np.nan
    if fixed_n is None:
        binding = int(np.argmax(table["n_control"].to_numpy()))
    else:  # lowest power binds; among equal powers the largest relative MDE
        size = np.where(table["test"] == "difference", table["rel_mde"].abs(), 0.0)
        order = np.lexsort((-size, table["power"].round(12).to_numpy()))
        binding = int(order[0])
    table["binding"] = np.arange(len(table)) == binding
    table = table[["metric", "test", "alternative", "baseline", "sd", "design_effect",
                   "units_per_customer", "n_control", "n_treatment", "months", "mde",
                   "rel_mde", "margin", "alpha", "power", "binding"]]
    n_c = math.ceil(table["n_control"].iloc[binding] - 1e-9)
    n_t = math.ceil(n_c * ratio - 1e-9)
    total_months = (n_c + n_t) / eligible_per_month if eligible_per_month else None
    plan = ExperimentPlan(name=plan.name, alpha=plan.alpha, alternative=plan.alternative,
                          csat_margin=plan.csat_margin, nrr_margin=plan.nrr_margin,
                          looks=plan.looks, spending=plan.spending,
                          information=plan.information, power=power, n_per_arm=n_c,
                          months=None if total_months is None else round(total_months, 2),
                          weights=plan.weights)
    return DesignResult(table=table, binding_metric=str(table["metric"].iloc[binding]),
                        n_control=n_c, n_treatment=n_t, months=total_months,
                        eligible_per_month=eligible_per_month, inflation=inflation,
                        bounds=bounds, plan=plan)


def _allocation_ratio(weights: Mapping[str, float], ratio: float) -> float:
    """Treatment/control customers of a two-arm allocation (control first), checked against
    ``ratio`` (1, the default, defers to the weights)."""
    problems = allocation_problems(weights, "weights")
    if problems:
        raise ValueError(problems[0])
    if len(weights) != 2:
        raise ValueError(f"weights: the plan sizes two arms, control then treatment, got "
                         f"{len(weights)} ({dict(weights)!r})")
    (control, w_c), (treatment, w_t) = weights.items()
    implied = float(w_t) / float(w_c)
    if ratio != 1.0 and not math.isclose(ratio, implied, rel_tol=1e-9):
        raise ValueError(f"ratio={ratio!r} disagrees with the weights' {treatment}/{control} "
                         f"= {implied:.6g}; give one of them")
    return implied


def _count(looks: int | Sequence[float] | None) -> int | None:
    if looks is None:
        return None
    if isinstance(looks, bool):
        raise ValueError(f"looks must be a positive integer or information fractions, got "
                         f"{looks!r}")
    if isinstance(looks, int):
        return looks
    return len(list(looks))
