"""Judging interim analyses against a group-sequential plan.

At look k of a plan with Lan-DeMets alpha spending, a metric's z statistic is compared with
the efficacy boundary of that look (:mod:`frt_experiments.stats.sequential`). When the
information actually reached differs from the plan, the boundaries are recomputed for the
observed fractions, which keeps the overall type I error (the point of the spending approach).

A *repeated confidence interval* (:func:`repeated_ci`) widens each look's interval to that look's
boundary: the intervals of all looks then cover the true effect simultaneously with probability
``1 - alpha``, so an interval read at an interim look (or after stopping) keeps its level.

References:
    Jennison, C. and Turnbull, B. W. (1989). Interim analyses: the repeated confidence interval
    approach. *Journal of the Royal Statistical Society B* 51(3), 305-361.
    Lan, K. K. G. and DeMets, D. L. (1983). Discrete sequential boundaries for clinical trials.
    *Biometrika* 70(3), 659-663.
    Jennison, C. and Turnbull, B. W. (2000). *Group Sequential Methods with Applications to
    Clinical Trials*, section 7.2. Chapman & Hall/CRC.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy import stats

from frt_experiments.plan import ExperimentPlan
from frt_experiments.stats.sequential import SequentialBounds, sequential_bounds

__all__ = ["InterimDecision", "judge_interim", "judge_interim_results", "repeated_ci"]


@dataclass(frozen=True)
class InterimDecision:
    """The verdict of one look of a group-sequential plan."""

    look: int
    looks: int
    information: float
    z: float
    bound: float
    nominal_p: float
    decision: str  # "stop: efficacy", "continue", "final: not significant"

    @property
    def stop(self) -> bool:
        return self.decision != "continue"

    def to_pandas(self) -> pd.Series:
        return pd.Series(asdict(self))

    def summary(self) -> str:
        return (f"look {self.look} of {self.looks} (information {self.information:.2f}): "
                f"z = {self.z:+.3f} vs boundary {self.bound:+.3f} (nominal p "
                f"{self.nominal_p:.4g}) -> {self.decision}")

    def __repr__(self) -> str:
        return f"InterimDecision({self.summary()})"


def judge_interim(
    z: float,
    *,
    look: int,
    plan: ExperimentPlan | SequentialBounds,
    information: Sequence[float] | None = None,
) -> InterimDecision:
    """Compare the z statistic of look ``look`` (1-based) with the plan's efficacy boundary.

    ``information`` gives the information fractions actually reached at looks 1..look (e.g.
    customers analysed / planned); the Lan-DeMets boundaries are then recomputed for them,
    which keeps the overall alpha whatever the timing: interims spend the alpha of their
    fractions, and the final look spends all that is left, whatever its fraction, with the
    correlations of the information actually reached (fractions of the final information;
    spending time and information time as gsDesign's ``usTime``). Without it the planned
    fractions are used. A two-sided plan stops when |z| >= bound; a one-sided one when z
    crosses it.

    A look whose information reaches the plan's (fraction >= 1) before the last planned look
    is the final analysis: it spends all the alpha left, exactly as a final look would (with a
    fraction of 1.0 its boundary is that of a plan whose last look is this one), and a z
    short of it is ``"final: not significant"``, not ``"continue"``. No look may follow it.
    gsDesign re-sets a design the same way: its documented ``gsDesign(k = 3, test.type = 2,
    n.fix = 800, n.I = c(300, 600, 860), maxn.IPlan = x$n.I[x$k])`` ends a 5-analysis plan
    at its third analysis, which overran the planned maximum information.

    References:
        Lan and DeMets (1983); Jennison and Turnbull (2000), section 7.2; gsDesign
        ``gsDesign(usTime = )`` and ``gsDesign(n.I = , maxn.IPlan = )`` (Anderson, K. M.,
        package documentation, examples of ``?gsDesign``).
    """
    if isinstance(plan, SequentialBounds):
        bounds = plan
        planned = plan.information
    elif not isinstance(plan, ExperimentPlan):
        raise TypeError(f"plan must be an ExperimentPlan or SequentialBounds, got "
                        f"{type(plan).__name__}")
    else:
        planned = plan.information_fractions
        bounds = sequential_bounds(list(planned), alpha=plan.alpha, spending=plan.spending,
                                   alternative=plan.alternative)
    k = len(planned)
    if isinstance(look, bool) or not isinstance(look, int) or not 1 <= look <= k:
        raise ValueError(f"look must be an integer from 1 to {k}, got {look!r}")
    if not math.isfinite(float(z)):
        raise ValueError(f"z must be finite, got {z!r}")
    if information is not None:
        info = [float(x) for x in information]
        if len(info) != look:
            raise ValueError(f"information must give {look} fractions (looks 1..{look}), got "
                             f"{len(info)}")
        frac = info[-1]
        done = [j + 1 for j, x in enumerate(info[:-1]) if x >= 1]
        if done:
            raise ValueError(f"information: look {done[0]} reached the planned information "
                             f"({info[done[0] - 1]:g} >= 1) and was the final analysis; no "
                             f"look follows it, got {list(information)!r}")
        final = look == k or frac >= 1
        spend: list[float] | None = None
        if final and frac > 0:
            # the final analysis (the last planned look, or an earlier one that reached the
            # planned information) spends whatever alpha is left; the z statistics'
            # correlations sqrt(I_i / I_j) follow the information reached, so fractions of
            # the final one
            spend = [*info[:-1], 1.0]
            info = [x / frac for x in info]
        try:
            bounds = sequential_bounds(info, alpha=bounds.alpha, spending=bounds.spending,
                                       alternative=bounds.alternative, spending_time=spend)
        except ValueError:
            raise ValueError("information must be increasing fractions in (0, 1] (the final "
                             f"look may overrun 1), got {list(information)!r}") from None
    else:
        frac = planned[look - 1]
        final = look == k
    bound = bounds.bounds[look - 1]
    if bounds.alternative == "two-sided":
        crossed = abs(z) >= bound
    elif bounds.alternative == "greater":
        crossed = z >= bound
    else:
        crossed = z <= bound
    decision = ("stop: efficacy" if crossed
                else "final: not significant" if final else "continue")
    return InterimDecision(look=look, looks=k, information=float(frac), z=float(z),
                           bound=float(bound), nominal_p=float(bounds.nominal_p[look - 1]),
                           decision=decision)


def judge_interim_results(
    results: pd.DataFrame,
    *,
    look: int,
    plan: ExperimentPlan | SequentialBounds,
    information: Sequence[float] | None = None,
) -> pd.DataFrame:
    """Judge every metric of an interim analysis table against the plan.

    ``results`` is ``ExperimentResult.to_pandas()`` or a ``results.csv`` frame with columns
    ``metric``, ``diff`` and ``p_value``: the p-values of the difference tests under the
    plan's alternative (what :func:`frt_experiments.analyze` reports when given the plan).
    Each row's z statistic is recovered from its p-value: ``sign(diff) Phi^-1(1 - p/2)`` for
    a two-sided plan, ``Phi^-1(1 - p)`` for ``"greater"`` and ``Phi^-1(p)`` for ``"less"``.
    A p-value that underflowed to 0 (a very large trial) counts as the smallest positive
    double, far beyond any boundary. Returns one row per metric: metric, z, bound,
    nominal_p, decision.

    References:
        Lan and DeMets (1983); Jennison and Turnbull (2000), section 7.2.
    """
    if not isinstance(results, pd.DataFrame):
        raise TypeError(f"results must be a DataFrame (ExperimentResult.to_pandas() or "
                        f"results.csv), got {type(results).__name__}")
    missing = [c for c in ("metric", "diff", "p_value") if c not in results.columns]
    if missing:
        raise ValueError(f"results: missing columns {missing} (need metric, diff, p_value)")
    p = pd.to_numeric(results["p_value"], errors="coerce").to_numpy(dtype=float)
    diff = pd.to_numeric(results["diff"], errors="coerce").to_numpy(dtype=float)
    bad = ~((p >= 0) & (p <= 1)) | ~np.isfinite(diff)
    if bad.any():
        rows = ", ".join(str(i) for i in np.flatnonzero(bad)[:5])
        raise ValueError(f"results: columns p_value, diff: {int(bad.sum())} rows have a "
                         f"p-value outside [0, 1] or a missing difference (rows {rows})")
    p = np.maximum(p, np.finfo(float).tiny)
    alternative = (plan.alternative if isinstance(plan, SequentialBounds)
                   else getattr(plan, "alternative", "two-sided"))
    if alternative == "two-sided":
        z = np.sign(diff) * stats.norm.isf(p / 2)
    elif alternative == "greater":
        z = stats.norm.isf(p)
    else:
        z = stats.norm.ppf(p)
    decisions = [judge_interim(float(zi), look=look, plan=plan, information=information)
                 for zi in z]
    return pd.DataFrame({
        "metric": results["metric"].to_numpy(),
        "z": z,
        "bound": [d.bound for d in decisions],
        "nominal_p": [d.nominal_p for d in decisions],
        "decision": [d.decision for d in decisions],
    })


def repeated_ci(
    estimate: ArrayLike,
    se: ArrayLike,
    bound: ArrayLike,
    *,
    alternative: str = "two-sided",
) -> tuple[np.ndarray, np.ndarray]:
    """Repeated confidence intervals: each look's estimate plus or minus its boundary times its
    standard error.

    With ``c_k`` the efficacy boundary of look ``k`` on the z scale (:func:`~frt_experiments.
    stats.sequential.sequential_bounds`), the interval of look ``k`` is
    ``estimate_k ± |c_k| se_k`` (two-sided), ``[estimate_k - c_k se_k, inf)`` (``"greater"``) or
    ``(-inf, estimate_k + |c_k| se_k]`` (``"less"``). The intervals of all looks cover the true
    effect simultaneously with probability ``1 - alpha`` (asymptotically, for estimates with
    the canonical joint distribution), whereas fixed-sample intervals read at every look do
    not. With a single look it is the usual normal interval (``c = 1.96`` at alpha 0.05).

    Args:
        estimate, se: Estimates and standard errors (arrays broadcast together).
        bound: Boundaries on the z scale, matching ``estimate``.
        alternative: The plan's alternative.

    Returns:
        ``(low, high)`` arrays.

    References:
        Jennison, C. and Turnbull, B. W. (1989). Interim analyses: the repeated confidence
        interval approach. JRSS B 51(3), 305-361. Jennison and Turnbull (2000), *Group
        Sequential Methods with Applications to Clinical Trials*, chapter 9.
    """
    est, s, c = np.broadcast_arrays(np.asarray(estimate, dtype=float),
                                    np.asarray(se, dtype=float),
                                    np.abs(np.asarray(bound, dtype=float)))
    if np.any(s < 0) or np.any(c == 0):
        raise ValueError("repeated_ci: se must be >= 0 and bounds non-zero")
    if alternative not in ("two-sided", "greater", "less"):
        raise ValueError(f"alternative must be 'two-sided', 'greater' or 'less', got "
                         f"{alternative!r}")
    low, high = est - c * s, est + c * s
    if alternative == "greater":
        high = np.full(est.shape, np.inf)
    elif alternative == "less":
        low = np.full(est.shape, -np.inf)
    return low, high
