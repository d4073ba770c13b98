"""Targeting: which customers to answer slowly, learned with doubly robust scores, and the
policy's value estimated out of sample.

Given a two-arm trial (fast control, slow treatment), :func:`learn_targeting` finds a shallow
decision tree over pre-period covariates that says which customers to *defer* (answer by the
slow arm's policy) to maximise the net benefit per customer of
:class:`~frt_experiments.net_benefit.NetBenefit` (staffing saving per deferred conversation
minus revenue at risk), subject to a CSAT constraint, and estimates that policy's value with a
95% interval.

Estimator (the *DR-learner* with known propensity):

1. Per customer the outcome ``Y = revenue_months x revenue_end - cost x conversations + saving
   x conversations x [slow]`` (so the slow-minus-fast effect on ``Y`` is the net benefit of
   deferring), and for the CSAT constraint the satisfied and rated counts.
2. ``K``-fold cross-fitting (Chernozhukov et al. 2018): for each fold, gradient-boosted outcome
   models ``mu_a(x)`` per arm and outcome (scikit-learn's ``HistGradientBoostingRegressor``)
   are fit on the other folds and predict the fold.
3. AIPW scores (Robins, Rotnitzky and Zhao 1994) with the design's known assignment
   probability ``e`` (not estimated: the arms are assigned by hash at fixed weights)::

       G_a = mu_a(x) + [A = a] (Y - mu_a(x)) / P(A = a),     Gamma = G_slow - G_fast

   ``E[Gamma | x]`` is the conditional effect whatever the outcome models (the propensity is
   exact), and ``mean(pi(x) Gamma)`` estimates a policy's value (Athey and Wager 2021).
4. Policy class: trees of depth 1 or 2 over a few readable covariates (segment, monthly spend,
   pre-period conversations by default), each leaf "defer" or "answer fast", found by
   exhaustive search over thresholds at the covariates' quantiles (as ``policytree`` does:
   Sverdrup et al. 2020), maximising ``sum over deferred leaves of Gamma`` less a pessimism
   penalty ``caution x sd(Gamma) x sqrt(leaf size)`` per deferred leaf (a lower confidence bound
   of the leaf's summed score, ``caution = 1`` by default; Jin, Ren, Yang and Wang 2022 on
   pessimistic policy learning). A leaf is deferred only if that bound is positive and its CSAT
   constraint holds: the leaf's doubly robust
   CSAT under slow minus under fast (``sum G_slow(satisfied) / sum G_slow(rated) - the same
   for fast``, ratings pooled as the analysis pools them) is at least ``-csat_margin``. The
   tree is the DR-learner's second stage (Kennedy 2023) restricted to a class a helpdesk can
   route on.
5. Honest value (``evaluation="holdout"``, the default): a held-out share of customers (30%) is
   touched by nothing the policy is learned from (their outcome models fit on the other
   customers; the other customers' scores cross-fitted among themselves, step 2); the policy is
   learned on the others' scores, and its value is the mean of ``pi(x_i) Gamma_i`` over the
   held-out customers: given the learning data these scores are independent with mean the
   policy's value, so the interval (``+- 1.96 sd / sqrt(m)``, Athey and Wager 2021) is exact
   for the very policy reported. ``benchmarks/bench_targeting.py`` measures its coverage.
   ``evaluation="crossfit"``: the policy used for fold ``k`` is learned from the scores of the
   other folds only, and its value is the mean of ``pi_k(x_i) Gamma_i`` over fold ``k``; the
   estimate is the average over all customers, its standard error ``sd(pi(x) Gamma) / sqrt(n)``
   (Athey and Wager 2021, section 2), the interval ``+- 1.96`` standard errors. Two dependences
   are left out of that standard error: the scores of the other folds come from outcome models
   that saw fold ``k``'s outcomes, and fold ``k``'s policy was learned on the folds whose
   values the other policies are judged on, so the folds' errors are positively correlated
   (Imai and Li 2023 derive the variance of such cross-validated values for the procedure's
   expected value); ``benchmarks/bench_targeting.py`` measures the interval's coverage of the
   true value. The value is that of the *learning procedure* (the average of the folds'
   policies); the policy reported for use is learned on every customer's scores, and its
   in-sample leaf figures are optimistic (they were selected on the same scores). Measured: 90.7%
   coverage over 300 ``hte`` trials (MC SE 1.7%, caution 0), the standard error 15% too small;
   so it is not the default (the held-out interval: 94.7%, MC SE 1.3%).

The value is per eligible customer (every assigned customer), relative to answering everyone
fast (the status quo, "defer none", value 0 by definition); "defer every low-spend customer"
(everyone in the trial) is the average effect on ``Y``.

scikit-learn is an optional dependency: ``pip install "frt-experiments[targeting]"``.

References:
    Athey, S. and Wager, S. (2021). Policy learning with observational data. *Econometrica*
    89(1), 133-161.
    Imai, K. and Li, M. L. (2023). Experimental evaluation of individualized treatment rules.
    *JASA* 118(541), 242-256.
    Chernozhukov, V., Chetverikov, D., Demirer, M., Duflo, E., Hansen, C., Newey, W. and
    Robins, J. (2018). Double/debiased machine learning for treatment and structural
    parameters. *The Econometrics Journal* 21(1), C1-C68.
    Jin, Y., Ren, Z., Yang, Z. and Wang, Z. (2022). Policy learning "without" overlap:
    pessimism and generalized empirical Bernstein's inequality. arXiv preprint.
    Kennedy, E. H. (2023). Towards optimal doubly robust estimation of heterogeneous causal
    effects. *Electronic Journal of Statistics* 17(2), 3008-3049.
    Robins, J. M., Rotnitzky, A. and Zhao, L. P. (1994). Estimation of regression coefficients
    when some regressors are not always observed. *JASA* 89(427), 846-866.
    Sverdrup, E., Kanodia, A., Zhou, Z., Athey, S. and Wager, S. (2020). policytree: Policy
    learning via doubly robust empirical welfare maximization over trees. *Journal of Open
    Source Software* 5(50), 2232.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from frt_experiments import schema
from frt_experiments.metrics import customer_rows
from frt_experiments.net_benefit import NetBenefit
from frt_experiments.stats.ratio import delta_ratio
from frt_experiments.stats.tests import ArmSummary

__all__ = ["PolicyTree", "TargetingResult", "learn_targeting"]

_Z = 1.959963984540054
#: Covariates the policy tree may split on by default (customers table names).
POLICY_FEATURES = (schema.SEGMENT, schema.MONTHLY_SPEND, schema.PRE_CONVERSATIONS)
_STATS = ("count", "gamma", "sat_slow", "rated_slow", "sat_fast", "rated_fast")


def _sklearn() -> Any:
    try:
        from sklearn.ensemble import HistGradientBoostingRegressor  # noqa: PLC0415
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("targeting needs scikit-learn: pip install "
                          "'frt-experiments[targeting]' (or pip install scikit-learn)") from exc
    return HistGradientBoostingRegressor


# --------------------------------------------------------------------------------------------
# features


def _spend(frame: pd.DataFrame) -> np.ndarray:
    col = schema.MONTHLY_SPEND if schema.MONTHLY_SPEND in frame.columns else schema.REVENUE_START
    return frame[col].to_numpy(dtype=float)


def _nuisance_features(frame: pd.DataFrame, levels: dict[str, tuple[str, ...]]) -> np.ndarray:
    """Every pre-period covariate for the outcome models (NaN allowed: pre CSAT unrated)."""
    spend = _spend(frame)
    cols = [spend, np.log(np.maximum(spend, 0.005))]
    cols.extend(frame[c].to_numpy(dtype=float) for c in schema.PRE_COVARIATES
                if c in frame.columns)
    if schema.PRE_RATED in frame.columns and schema.PRE_SATISFIED in frame.columns:
        rated = frame[schema.PRE_RATED].to_numpy(dtype=float)
        with np.errstate(invalid="ignore", divide="ignore"):
            cols.append(np.where(rated > 0, frame[schema.PRE_SATISFIED].to_numpy(float) / rated,
                                 np.nan))
    for name, values in levels.items():
        col = frame[name].astype("string").to_numpy(dtype=object)
        cols.extend((col == v).astype(float) for v in values)
    return np.column_stack(cols)


@dataclass(frozen=True)
class _Feature:
    """One column the policy may split on: a numeric covariate or ``column == level``."""

    column: str
    level: str | None = None

    @property
    def name(self) -> str:
        return self.column if self.level is None else f"{self.column} = {self.level}"

    def values(self, frame: pd.DataFrame) -> np.ndarray:
        if self.level is not None:
            col = frame[self.column].astype("string").to_numpy(dtype=object)
            return (col == self.level).astype(float)
        if self.column == schema.MONTHLY_SPEND:
            return _spend(frame)
        return frame[self.column].to_numpy(dtype=float)

    def condition(self, threshold: float, left: bool) -> str:
        if self.level is not None:
            return f"{self.column} is {'not ' if left else ''}{self.level}"
        t = f"{threshold:,.6g}"
        return f"{self.column} <= {t}" if left else f"{self.column} > {t}"


@dataclass(frozen=True)
class _Node:
    """A tree node: a leaf (``feature`` None, ``defer``) or a split ``x <= threshold``."""

    defer: bool = False
    feature: _Feature | None = None
    threshold: float = math.nan
    left: _Node | None = None
    right: _Node | None = None

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        if self.feature is None or self.left is None or self.right is None:
            return np.full(len(frame), self.defer)
        go_left = self.feature.values(frame) <= self.threshold
        return np.where(go_left, self.left.predict(frame), self.right.predict(frame))

    def leaves(self, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], _Node]]:
        """Each leaf with the conditions that lead to it."""
        if self.feature is None or self.left is None or self.right is None:
            return [(path, self)]
        return (self.left.leaves((*path, self.feature.condition(self.threshold, True)))
                + self.right.leaves((*path, self.feature.condition(self.threshold, False))))

    def members(self, frame: pd.DataFrame) -> list[np.ndarray]:
        """Per leaf (in :meth:`leaves`' order), which rows of ``frame`` reach it."""
        if self.feature is None or self.left is None or self.right is None:
            return [np.ones(len(frame), bool)]
        go_left = self.feature.values(frame) <= self.threshold
        return ([m & go_left for m in self.left.members(frame)]
                + [m & ~go_left for m in self.right.members(frame)])


@dataclass(frozen=True)
class PolicyTree:
    """A targeting policy: a tree of depth at most 2 whose leaves say "defer" (answer slowly)
    or "answer fast".

    Call :meth:`defer` on a frame with the customers table's columns (``segment``,
    ``monthly_spend``, ``pre_conversations``, ...) for one boolean per row; :meth:`rules` gives
    the rules as text a support leader can read and a helpdesk can route on.
    """

    root: _Node

    def defer(self, customers: pd.DataFrame) -> np.ndarray:
        """Per row of ``customers``, whether the policy answers the customer slowly."""
        return np.asarray(self.root.predict(customers), dtype=bool)

    def __call__(self, customers: pd.DataFrame) -> np.ndarray:
        return self.defer(customers)

    def rules(self) -> list[str]:
        """One line per leaf: its conditions and its action."""
        out = []
        for path, leaf in self.root.leaves():
            cond = " and ".join(path) if path else "every customer"
            out.append(f"{'defer' if leaf.defer else 'answer fast'}: {cond}")
        return out

    def __str__(self) -> str:
        return "\n".join(self.rules())


# --------------------------------------------------------------------------------------------
# exhaustive search over trees of depth <= 2


def _leaf_value(st: np.ndarray, margin: float,
                penalty: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Per set of summed scores (last axis :data:`_STATS`): the value of the set as a leaf and
    whether it is deferred: its summed score less ``penalty x sqrt(count)`` (``penalty`` =
    caution x the scores' sd: a lower confidence bound of the sum) is positive and the CSAT
    constraint is met; the value is that penalised sum."""
    with np.errstate(invalid="ignore", divide="ignore"):
        change = st[..., 2] / st[..., 3] - st[..., 4] / st[..., 5]
    ok = (st[..., 3] > 0) & (st[..., 5] > 0) & (change >= -margin)
    gain = st[..., 1] - penalty * np.sqrt(np.maximum(st[..., 0], 0.0)) if penalty \
        else st[..., 1]
    defer = (gain > 0) & ok
    return np.where(defer, gain, 0.0), defer


def _best_split(hist: np.ndarray, min_leaf: float, margin: float,
                penalty: float = 0.0) -> tuple[np.ndarray, ...]:
    """Best single split of sets given per-feature bin histograms ``hist[..., j, b, stat]``:
    per set (leading axes), the best value (a leaf when no split beats it), and the feature
    and bin of the split (-1 for a leaf)."""
    total = hist[..., :1, :, :].sum(axis=-2)  # (..., 1, stats)
    leaf, _ = _leaf_value(total[..., 0, :], margin, penalty)
    left = np.cumsum(hist, axis=-2)[..., :-1, :]  # split after bin b: bins <= b go left
    right = total[..., None, :] - left
    vl, _ = _leaf_value(left, margin, penalty)
    vr, _ = _leaf_value(right, margin, penalty)
    ok = (left[..., 0] >= min_leaf) & (right[..., 0] >= min_leaf)
    value = np.where(ok, vl + vr, -np.inf)
    flat = value.reshape(*value.shape[:-2], -1)
    arg = np.argmax(flat, axis=-1)
    best = np.take_along_axis(flat, arg[..., None], axis=-1)[..., 0]
    nb = value.shape[-1]
    split = best > leaf + 1e-9 * np.maximum(1.0, np.abs(leaf))
    return (np.where(split, best, leaf), np.where(split, arg // nb, -1),
            np.where(split, arg % nb, -1))


def _search(bins: np.ndarray, stats: np.ndarray, *, n_bins: int, depth: int,
            min_leaf: float, margin: float, penalty: float = 0.0) -> tuple[float, Any]:
    """The best tree of depth <= ``depth`` (1 or 2) as nested tuples of bin indices:
    ``("leaf",)`` or ``(j, b, left, right)``."""
    p, k = bins.shape[1], stats.shape[1]
    hist1 = np.zeros((p, n_bins, k))
    for j in range(p):
        for s in range(k):
            hist1[j, :, s] = np.bincount(bins[:, j], weights=stats[:, s], minlength=n_bins)
    if depth == 1:
        v1, j1, b1 = _best_split(hist1, min_leaf, margin, penalty)
        return float(v1), (("leaf",) if j1 < 0 else (int(j1), int(b1), ("leaf",), ("leaf",)))
    # hist2[j, b, j2, b2, s]: rows with bin b of feature j and bin b2 of feature j2
    hist2 = np.zeros((p, n_bins, p, n_bins, k))
    for j in range(p):
        for j2 in range(p):
            idx = bins[:, j] * n_bins + bins[:, j2]
            for s in range(k):
                hist2[j, :, j2, :, s] = np.bincount(idx, weights=stats[:, s],
                                                    minlength=n_bins * n_bins).reshape(
                    n_bins, n_bins)
    left_h = np.cumsum(hist2, axis=1)[:, :-1]  # (p, B-1, p, B, k): root split after bin b
    right_h = hist1[None, None] - left_h
    vl, jl, bl = _best_split(left_h, min_leaf, margin, penalty)
    vr, jr, br = _best_split(right_h, min_leaf, margin, penalty)
    count_l = left_h[:, :, 0, :, 0].sum(axis=-1)
    count_r = right_h[:, :, 0, :, 0].sum(axis=-1)
    ok = (count_l >= min_leaf) & (count_r >= min_leaf)
    value = np.where(ok, vl + vr, -np.inf)
    root_leaf, _ = _leaf_value(hist1[0].sum(axis=0), margin, penalty)
    jr0, br0 = (int(i) for i in np.unravel_index(int(np.argmax(value)), value.shape))
    if not value[jr0, br0] > float(root_leaf) + 1e-9 * max(1.0, abs(float(root_leaf))):
        return float(root_leaf), ("leaf",)

    def child(jc: int, bc: int) -> Any:
        return ("leaf",) if jc < 0 else (int(jc), int(bc), ("leaf",), ("leaf",))

    return float(value[jr0, br0]), (jr0, br0, child(jl[jr0, br0], bl[jr0, br0]),
                                    child(jr[jr0, br0], br[jr0, br0]))


def _build(spec: Any, rows: np.ndarray, bins: np.ndarray, stats: np.ndarray, *,
           features: list[_Feature], edges: list[np.ndarray], margin: float,
           penalty: float = 0.0) -> _Node:
    """The tree of a search result, each leaf's action from its rows' summed scores."""
    if spec[0] == "leaf":
        _, defer = _leaf_value(stats[rows].sum(axis=0), margin, penalty)
        return _Node(defer=bool(defer))
    j, b, left, right = spec
    go_left = bins[:, j] <= b
    kw: dict[str, Any] = {"features": features, "edges": edges, "margin": margin,
                          "penalty": penalty}
    return _Node(feature=features[j], threshold=float(edges[j][b]),
                 left=_build(left, rows & go_left, bins, stats, **kw),
                 right=_build(right, rows & ~go_left, bins, stats, **kw))


def _has_covariate(frame: pd.DataFrame, name: str) -> bool:
    """Whether the policy can read ``name`` (``monthly_spend`` falls back to
    ``revenue_start``, as :func:`_spend` reads it)."""
    return name in frame.columns or (name == schema.MONTHLY_SPEND
                                     and schema.REVENUE_START in frame.columns)


def _policy_columns(frame: pd.DataFrame, names: tuple[str, ...],
                    n_bins: int) -> tuple[list[_Feature], np.ndarray, list[np.ndarray]]:
    """The policy's split candidates: per covariate its features, bins and thresholds
    (quantiles of the covariate over every customer: the covariates are pre-period, so the
    thresholds use no outcome)."""
    features: list[_Feature] = []
    bins, edges = [], []
    for name in names:
        if not _has_covariate(frame, name):
            raise ValueError(f"policy_features: column {name!r} is not in the customers table")
        if name in (schema.SEGMENT, schema.TIMEZONE) or not pd.api.types.is_numeric_dtype(
                frame[name]):
            levels = sorted(frame[name].astype("string").dropna().unique())
            feats = [_Feature(name, str(v)) for v in levels] if len(levels) > 1 else []
        else:
            feats = [_Feature(name)]
        for f in feats:
            x = f.values(frame)
            if f.level is not None:
                e = np.array([0.0])
            else:
                q = np.nanquantile(x, np.arange(1, n_bins) / n_bins)
                e = np.unique(q)
                e = e[e < np.nanmax(x)]
            if e.size == 0:
                continue
            features.append(f)
            bins.append(np.searchsorted(e, x, side="left"))
            edges.append(e)
    if not features:
        raise ValueError(f"policy_features {list(names)}: no covariate varies across customers")
    return features, np.column_stack(bins), edges


# --------------------------------------------------------------------------------------------
# the result


@dataclass(frozen=True, repr=False)
class TargetingResult:
    """A learned targeting policy and its honest value (:func:`learn_targeting`).

    Attributes:
        policy: The policy to route on: learned on the customers not held out
            (``evaluation="holdout"``, the default), or on every customer's scores
            (``"crossfit"``).
        value: Its net benefit per customer against answering everyone fast, estimated on the
            held-out customers (default: exact for this policy), or with ``"crossfit"`` the
            cross-fitted value of the learning procedure's fold policies.
        se, ci_low, ci_high: Its standard error and 95% interval.
        comparison: One row per policy (learned, defer every low-spend customer, defer none,
            and the learned policy minus defer-all): value, se, ci_low, ci_high,
            deferred_share, csat_change (the deferred customers' doubly robust CSAT change,
            slow minus fast) and its se.
        leaves: The reported policy's leaves: rule, action, share, and on every customer's
            scores (in-sample: the leaves were selected on them, so optimistic) the benefit
            per customer and the doubly robust CSAT change (slow minus fast, a share); then
            the leaf's conditional effects on the evaluated customers (held out by default,
            so not selected on): ``questions_change`` (conversations per customer, slow
            minus fast, a difference in means) and ``nrr_change`` (NRR under slow minus under
            fast, ratios of summed revenue), each with its standard error.
        fold_policies: The policy learned without each fold (for the value's truth).
        fold_sizes: Customers per fold.
        benefit: The prices.
        treatment_share: The design's probability of the slow arm used in the scores.
        customers: Customers analysed (both arms).
        arms: (control, treatment).
        evaluation: ``"holdout"`` or ``"crossfit"``.
        scores: Per customer: fold, arm, the AIPW scores and the fold policy's choice.
    """

    policy: PolicyTree
    value: float
    se: float
    ci_low: float
    ci_high: float
    comparison: pd.DataFrame
    leaves: pd.DataFrame
    fold_policies: tuple[PolicyTree, ...]
    fold_sizes: tuple[int, ...]
    benefit: NetBenefit
    treatment_share: float
    customers: int
    arms: tuple[str, str]
    evaluation: str
    scores: pd.DataFrame = field(compare=False)

    def to_pandas(self) -> pd.DataFrame:
        """The comparison table (one row per policy)."""
        return self.comparison.copy()

    def summary(self) -> str:
        b = self.benefit
        lines = [
            f"Targeting: which customers to answer slowly ({self.arms[1]}) instead of fast "
            f"({self.arms[0]}), {self.customers:,} customers, doubly robust scores, "
            + (f"valued on {self.fold_sizes[0]:,} held-out customers."
               if self.evaluation == "holdout"
               else f"valued by {len(self.fold_sizes)}-fold cross-fitting."),
            f"Net benefit per customer = {b.saving_per_conversation:g} x deferred "
            f"conversations + {b.cost_per_conversation:g} x conversations avoided - "
            f"{b.revenue_months:g} months x monthly revenue lost; a deferred group's CSAT may "
            f"fall by at most {b.csat_margin:.3g}.",
            "Policy (learned on every customer):" if self.evaluation == "crossfit"
            else "Policy (learned on the customers not held out):",
            *(f"  {r}" for r in self.policy.rules()),
            f"Value of the learned policy (out of sample): {self.value:,.3f} per customer, 95% "
            f"CI [{self.ci_low:,.3f}, {self.ci_high:,.3f}], against answering everyone fast.",
        ]
        with pd.option_context("display.float_format", "{:,.4g}".format, "display.width", 140):
            lines.append(self.comparison.to_string())
        return "\n".join(lines)

    def __repr__(self) -> str:
        return (f"TargetingResult(value={self.value:.4g}, ci=[{self.ci_low:.4g}, "
                f"{self.ci_high:.4g}], rules={self.policy.rules()!r})")


def _mean_ci(x: np.ndarray) -> tuple[float, float, float, float]:
    m = float(np.mean(x))
    se = float(np.std(x, ddof=1) / math.sqrt(x.size)) if x.size > 1 else math.nan
    return m, se, m - _Z * se, m + _Z * se


def _csat_change(pick: np.ndarray, st: np.ndarray) -> tuple[float, float]:
    """Doubly robust CSAT change of the picked customers (slow minus fast, ratings pooled) and
    its delta-method standard error."""
    if not pick.any():
        return math.nan, math.nan
    s = st[pick]
    n = st.shape[0]
    r1, r0 = s[:, 3].sum(), s[:, 5].sum()
    if r1 <= 0 or r0 <= 0:
        return math.nan, math.nan
    c1, c0 = s[:, 2].sum() / r1, s[:, 4].sum() / r0
    infl = np.zeros(n)
    infl[pick] = (s[:, 2] - c1 * s[:, 3]) / (r1 / n) - (s[:, 4] - c0 * s[:, 5]) / (r0 / n)
    return float(c1 - c0), float(np.std(infl, ddof=1) / math.sqrt(n))


def _mean_difference(y: np.ndarray, slow: np.ndarray, rows: np.ndarray) -> tuple[float, float]:
    """Difference in means of ``y``, slow minus fast, over ``rows``, and its Welch standard
    error (Neyman's variance for a randomized comparison); NaN with fewer than two customers
    in an arm."""
    if (rows & slow).sum() < 2 or (rows & ~slow).sum() < 2:
        return math.nan, math.nan
    a, b = (ArmSummary.from_values(y[rows & arm]) for arm in (slow, ~slow))
    return a.mean - b.mean, math.sqrt(a.var / a.n + b.var / b.n)


def _nrr_difference(end: np.ndarray, start: np.ndarray, slow: np.ndarray,
                    rows: np.ndarray) -> tuple[float, float]:
    """NRR (revenue at the end over revenue at the start, summed over customers) under slow
    minus under fast over ``rows``, and its delta-method standard error
    (:func:`~frt_experiments.stats.ratio.delta_ratio` per arm, the arms independent)."""
    picks = [rows & arm for arm in (slow, ~slow)]
    if any(pick.sum() < 2 or start[pick].sum() <= 0 for pick in picks):
        return math.nan, math.nan
    a, b = (delta_ratio(end[pick], start[pick]) for pick in picks)
    return a.ratio - b.ratio, math.sqrt(a.variance + b.variance)


# --------------------------------------------------------------------------------------------
# the estimator


def _frame(customers: pd.DataFrame, conversations: pd.DataFrame, assignments: pd.DataFrame,
           *, control: str, treatment: str | None,
           validate: bool) -> tuple[pd.DataFrame, str]:
    rows = customer_rows(customers, conversations, assignments, validate=validate)
    arms = list(pd.unique(rows[schema.ARM].dropna()))
    if control not in arms:
        raise ValueError(f"control arm {control!r} is not in the assignments (arms: "
                         f"{', '.join(map(str, arms))})")
    others = [a for a in arms if a != control]
    if treatment is None:
        if len(others) != 1:
            raise ValueError(f"treatment: the assignments have {len(others)} arms besides "
                             f"{control!r} ({', '.join(map(str, others))}); name the slow one")
        treatment = str(others[0])
    elif treatment not in others:
        raise ValueError(f"treatment arm {treatment!r} is not in the assignments (arms: "
                         f"{', '.join(map(str, arms))})")
    for col in (schema.REVENUE_START, schema.REVENUE_END):
        if col not in rows.columns:
            raise ValueError(f"customers: column {col} is needed for the net benefit "
                             "(revenue at risk)")
    rows = rows[rows[schema.ARM].isin([control, treatment])]
    cov = customers.set_index(schema.CUSTOMER_ID)
    for col in (schema.SEGMENT, schema.TIMEZONE, schema.MONTHLY_SPEND):
        if col in cov.columns:
            rows[col] = cov[col].reindex(rows.index).to_numpy()
    bad = ~np.isfinite(rows[[schema.REVENUE_START, schema.REVENUE_END]].to_numpy(float)).all(1)
    if bad.any():
        first = ", ".join(map(str, rows.index[bad][:5]))
        raise ValueError(f"customers: revenue_start and revenue_end must be present for every "
                         f"assigned customer; {int(bad.sum())} are missing (e.g. {first})")
    return rows.reset_index(), treatment


def learn_targeting(
    customers: pd.DataFrame, conversations: pd.DataFrame, assignments: pd.DataFrame, *,
    control: str = "fast", treatment: str | None = None, benefit: NetBenefit | None = None,
    treatment_share: float = 0.5, policy_features: tuple[str, ...] | None = None,
    depth: int = 2, folds: int = 5, bins: int = 16, min_leaf_share: float = 0.05,
    caution: float = 1.0, seed: int = 0, max_iter: int = 50, evaluation: str = "holdout",
    holdout_share: float = 0.3, validate: bool = True,
) -> TargetingResult:
    """Learn which customers to answer slowly and estimate the policy's value out of sample
    (module docstring).

    Args:
        customers, conversations, assignments: The canonical tables of a two-arm trial (a
            trial of more arms: the control and ``treatment`` are used).
        control: The fast arm.
        treatment: The slow arm (default: the only other arm).
        benefit: The prices (default :class:`~frt_experiments.net_benefit.NetBenefit()`).
        treatment_share: The design's probability that a customer is assigned the slow arm
            among the two (the assignment weights: 0.5 for equal weights). Known, not
            estimated.
        policy_features: Covariates the tree may split on (customers table columns; a text
            column such as ``segment`` splits by level). Default: those of
            :data:`POLICY_FEATURES` the customers table has (``monthly_spend`` read from
            ``revenue_start`` where it is missing).
        depth: Tree depth, 1 or 2.
        folds: Cross-fitting folds (2 or more).
        bins: Candidate thresholds per numeric covariate: its ``bins``-quantiles.
        min_leaf_share: Smallest leaf, as a share of the customers the tree is learned on.
        caution: A leaf is deferred only if its summed score exceeds ``caution`` standard
            errors (``caution x sd(scores) x sqrt(leaf size)``), and the search maximises the
            summed scores less that penalty (0: the plain sum).
        seed: Seed of the folds and the outcome models.
        max_iter: Boosting iterations of each outcome model.
        evaluation: ``"holdout"`` (default: the policy learned on the other customers,
            cross-fitted among them, and valued on a held-out ``holdout_share`` that nothing in
            the learning touched: the interval is exact for the reported policy) or
            ``"crossfit"`` (each fold's policy learned on the other folds, values averaged over
            every customer: a narrower interval that covered the truth in only 90.7% of 300
            benchmark trials, the held-out one 94.7%; module docstring).
        holdout_share: The held-out share with ``evaluation="holdout"``.
        validate: Validate the tables first.

    Raises:
        ValueError: An argument out of range, an arm not in the assignments, revenue missing.
        ImportError: scikit-learn is not installed.
    """
    hgb = _sklearn()
    benefit = benefit or NetBenefit()
    if not 0 < treatment_share < 1:
        raise ValueError(f"treatment_share must be in (0, 1), got {treatment_share!r}")
    if depth not in (1, 2):
        raise ValueError(f"depth must be 1 or 2, got {depth!r}")
    if isinstance(folds, bool) or not isinstance(folds, int) or folds < 2:
        raise ValueError(f"folds must be an integer >= 2, got {folds!r}")
    if not 2 <= bins <= 64:
        raise ValueError(f"bins must be in [2, 64], got {bins!r}")
    if evaluation not in ("crossfit", "holdout"):
        raise ValueError(f"evaluation must be 'crossfit' or 'holdout', got {evaluation!r}")
    if not 0.05 <= holdout_share <= 0.95:
        raise ValueError(f"holdout_share must be in [0.05, 0.95], got {holdout_share!r}")
    if not 0 <= caution <= 5:
        raise ValueError(f"caution must be in [0, 5], got {caution!r}")
    if not 0 < min_leaf_share < 0.5:
        raise ValueError(f"min_leaf_share must be in (0, 0.5), got {min_leaf_share!r}")
    frame, treatment = _frame(customers, conversations, assignments, control=control,
                              treatment=treatment, validate=validate)
    if policy_features is None:
        policy_features = tuple(c for c in POLICY_FEATURES if _has_covariate(frame, c))
    features, fbins, edges = _policy_columns(frame, tuple(policy_features), bins)
    n = len(frame)
    slow = (frame[schema.ARM] == treatment).to_numpy()
    if slow.sum() < 2 * folds or (~slow).sum() < 2 * folds:
        raise ValueError(f"too few customers per arm for {folds}-fold cross-fitting "
                         f"({int((~slow).sum())} {control}, {int(slow.sum())} {treatment})")
    conv = frame["conversations"].to_numpy(float)
    outcomes = {
        "y": benefit.outcome(slow, conv, frame[schema.REVENUE_END].to_numpy(float)),
        "sat": frame["satisfied"].to_numpy(float),
        "rated": frame["rated"].to_numpy(float),
    }
    levels = {c: tuple(sorted(frame[c].astype("string").dropna().unique()))
              for c in (schema.SEGMENT, schema.TIMEZONE) if c in frame.columns}
    x = _nuisance_features(frame, levels)
    rng = np.random.default_rng(seed)
    e = treatment_share
    scores = {f"{o}_{a}": np.empty(n) for o in outcomes for a in ("slow", "fast")}

    def fit_predict(train: np.ndarray, test: np.ndarray) -> None:
        """AIPW scores of the ``test`` rows from outcome models fit on the ``train`` rows."""
        for arm_name, in_arm, p in (("slow", slow, e), ("fast", ~slow, 1 - e)):
            fit_rows = train & in_arm
            for o, y in outcomes.items():
                model = hgb(max_iter=max_iter, max_depth=3, min_samples_leaf=50,
                            learning_rate=0.15, early_stopping=False,
                            random_state=int(rng.integers(2**31)))
                model.fit(x[fit_rows], y[fit_rows])
                mu = model.predict(x[test])
                scores[f"{o}_{arm_name}"][test] = mu + in_arm[test] * (y[test] - mu) / p

    if evaluation == "crossfit":
        fold = rng.permutation(np.arange(n) % folds)
        for k in range(folds):
            fit_predict(fold != k, fold == k)
    else:
        # the held-out customers (fold -1) touch nothing the policy is learned from: the
        # policy's scores are cross-fitted within the rest, the held-out ones' outcome models
        # fit on the rest
        held = rng.permutation(n) < round(holdout_share * n)
        fold = np.full(n, -1)
        fold[~held] = rng.permutation(np.arange(int((~held).sum())) % folds)
        for k in range(folds):
            fit_predict((fold != k) & ~held, fold == k)
        fit_predict(~held, held)
    gamma = scores["y_slow"] - scores["y_fast"]
    st = np.column_stack([np.ones(n), gamma, scores["sat_slow"], scores["rated_slow"],
                          scores["sat_fast"], scores["rated_fast"]])
    n_bins = int(fbins.max()) + 1
    margin = benefit.csat_margin

    def learn(rows: np.ndarray) -> PolicyTree:
        min_leaf = max(1.0, min_leaf_share * rows.sum())
        penalty = caution * float(np.std(gamma[rows], ddof=1))
        _, spec = _search(fbins[rows], st[rows], n_bins=n_bins, depth=depth,
                          min_leaf=min_leaf, margin=margin, penalty=penalty)
        return PolicyTree(_build(spec, rows, fbins, st, features=features, edges=edges,
                                 margin=margin, penalty=penalty))

    if evaluation == "crossfit":
        fold_policies = tuple(learn(fold != k) for k in range(folds))
        evaluated = np.ones(n, bool)
        pick = np.zeros(n, bool)
        for k, pol in enumerate(fold_policies):
            rows = fold == k
            pick[rows] = pol.defer(frame.loc[rows])
        final = learn(np.ones(n, bool))
        sizes = tuple(int((fold == k).sum()) for k in range(folds))
    else:
        final = learn(fold >= 0)
        fold_policies = (final,)
        evaluated = fold < 0
        pick = final.defer(frame) & evaluated
        sizes = (int(evaluated.sum()),)
    gamma_all = gamma
    gamma = np.where(evaluated, gamma, 0.0)

    learned = _mean_ci(np.where(pick, gamma, 0.0)[evaluated])
    everyone = _mean_ci(gamma_all)
    versus = _mean_ci((np.where(pick, gamma, 0.0) - gamma)[evaluated])
    all_pick = np.ones(n, bool)
    label = "learned (cross-fitted)" if evaluation == "crossfit" else "learned (held out)"
    table = pd.DataFrame([
        {"policy": label, **dict(zip(("value", "se", "ci_low", "ci_high"),
                                                        learned, strict=True)),
         "deferred_share": float(pick[evaluated].mean()),
         **dict(zip(("csat_change", "csat_change_se"), _csat_change(pick[evaluated],
                                                                    st[evaluated]),
                    strict=True))},
        {"policy": "defer every low-spend customer",
         **dict(zip(("value", "se", "ci_low", "ci_high"), everyone, strict=True)),
         "deferred_share": 1.0,
         **dict(zip(("csat_change", "csat_change_se"), _csat_change(all_pick, st),
                    strict=True))},
        {"policy": "defer none (status quo)", "value": 0.0, "se": 0.0, "ci_low": 0.0,
         "ci_high": 0.0, "deferred_share": 0.0, "csat_change": math.nan,
         "csat_change_se": math.nan},
        {"policy": "learned - defer every low-spend customer",
         **dict(zip(("value", "se", "ci_low", "ci_high"), versus, strict=True)),
         "deferred_share": math.nan, "csat_change": math.nan, "csat_change_se": math.nan},
    ]).set_index("policy")

    leaf_rows = []
    rev0 = frame[schema.REVENUE_START].to_numpy(float)
    rev1 = frame[schema.REVENUE_END].to_numpy(float)
    for (path, leaf), member in zip(final.root.leaves(), final.root.members(frame),
                                    strict=True):
        change, _ = _csat_change(member, st)
        held_out = member & evaluated
        q, q_se = _mean_difference(conv, slow, held_out)
        r, r_se = _nrr_difference(rev1, rev0, slow, held_out)
        leaf_rows.append({"rule": " and ".join(path) or "every customer",
                          "action": "defer" if leaf.defer else "answer fast",
                          "share": float(member.mean()),
                          "benefit_per_customer": float(gamma_all[member].mean())
                          if member.any()
                          else math.nan,
                          "csat_change": change,
                          "questions_change": q, "questions_change_se": q_se,
                          "nrr_change": r, "nrr_change_se": r_se})
    per = pd.DataFrame({schema.CUSTOMER_ID: frame[schema.CUSTOMER_ID], "fold": fold,
                        schema.ARM: frame[schema.ARM], "gamma": gamma_all, "defer": pick,
                        **{f"score_{k}": v for k, v in scores.items()}})
    return TargetingResult(
        policy=final, value=learned[0], se=learned[1], ci_low=learned[2], ci_high=learned[3],
        comparison=table, leaves=pd.DataFrame(leaf_rows), fold_policies=fold_policies,
        fold_sizes=sizes, benefit=benefit,
        treatment_share=e, customers=n, arms=(control, treatment), evaluation=evaluation,
        scores=per)

