"""The effect of the first-response time itself: the Wald (instrumental-variable) ratio of two arms.

The randomized arm moves the first-response time (the *dose*, e.g. the mean log business hours
of a customer's conversations) and nothing else, so it is an instrument for the dose. With two
arms the instrumental-variable estimate of the outcome's change per unit of dose is the Wald
ratio

    beta = (mean_y[t] - mean_y[c]) / (mean_d[t] - mean_d[c]),

which two-stage least squares with the arm indicator as instrument reproduces exactly. Its
variance by the delta method, with the arms independent, is

    Var(beta) = (s2_u[t] / n[t] + s2_u[c] / n[c]) / (mean_d[t] - mean_d[c])**2,

where ``u = y - beta * d`` and ``s2_u = s2_y - 2 beta s_yd + beta**2 s2_d`` within each arm: it
needs only each arm's count, means, variances and covariance of outcome and dose
(:class:`~frt_experiments.metrics.ArmStatistics`), so it can run where the data live. The
heteroskedasticity-robust (HC0) 2SLS variance equals it with ``(n - 1) / n**2`` in place of
``1 / n`` (``tests/stats/test_iv.py`` checks both against linearmodels' ``IV2SLS``).

The first stage's strength is the squared t statistic of the dose difference, ``F =
(mean_d[t] - mean_d[c])**2 / (s2_d[t] / n[t] + s2_d[c] / n[c])`` (one instrument: the robust
first-stage F); below 10 the instrument is weak (Staiger and Stock 1997) and the ratio's normal
interval is not to be trusted.

References:
    Wald, A. (1940). The fitting of straight lines if both variables are subject to error.
    Annals of Mathematical Statistics 11(3), 284-300.
    Angrist, J. D. and Pischke, J.-S. (2009). Mostly Harmless Econometrics, sections 4.1-4.2
    (the Wald estimator as 2SLS with a binary instrument).
    Staiger, D. and Stock, J. H. (1997). Instrumental variables regression with weak
    instruments. Econometrica 65(3), 557-586 (first-stage F below 10).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats

from frt_experiments.metrics import ArmStatistics

__all__ = ["WEAK_INSTRUMENT_F", "AndersonRubinTest", "IVEstimate", "LinearityTest", "Outcome",
           "WaldEstimate", "anderson_rubin", "linearity_test", "two_stage_least_squares",
           "wald_ratio"]

#: First-stage F below which the instrument is called weak (Staiger and Stock 1997).
WEAK_INSTRUMENT_F = 10.0


#: An outcome or a dose: a per-customer column (its mean per arm), or ``(numerator,
#: denominator)``, the ratio of their sums per arm (CSAT: satisfied over rated; a dose per
#: answered conversation), linearized (delta method).
Outcome = str | tuple[str, str]


@dataclass(frozen=True)
class _Moments:
    """Per arm: customers, means of outcome and dose, their variances and covariance."""

    n: np.ndarray
    y: np.ndarray
    d: np.ndarray
    vy: np.ndarray
    vd: np.ndarray
    cyd: np.ndarray


def _linearized(st: ArmStatistics, arm: str, what: Outcome) -> tuple[float, np.ndarray]:
    """The arm's value of a column or ratio and the gradient that linearizes it over the
    arm's columns: a column is itself; a ratio ``num / den`` enters as ``R + (num - R den) /
    mean(den)`` (``R`` the arm's ratio), whose mean is ``R`` and whose variance is the ratio's
    delta-method one times ``n`` (Deng, Knoblich and Lu 2018)."""
    g = np.zeros(len(st.columns))
    mean = st.mean
    if isinstance(what, str):
        g[st.index(what)] = 1.0
        return float(mean[st.index(what)]), g
    a, b = st.index(what[0]), st.index(what[1])
    if not mean[b] > 0:
        raise ValueError(f"arm {arm!r}: the denominator {what[1]!r} sums to zero, the ratio "
                         "is undefined")
    r = float(mean[a] / mean[b])
    g[a], g[b] = 1 / mean[b], -r / mean[b]
    return r, g


def _moments(stats_by_arm: dict[str, ArmStatistics], outcome: Outcome,
             dose: Outcome) -> _Moments:
    """The arms' means, variances and covariance of outcome and dose, each a column or a ratio
    of sums (:func:`_linearized`)."""
    k = len(stats_by_arm)
    n, y, d, vy, vd, cyd = (np.empty(k) for _ in range(6))
    for i, (arm, st) in enumerate(stats_by_arm.items()):
        if st.n < 2:
            raise ValueError(f"arm {arm!r}: at least 2 customers are needed, got {st.n}")
        cov = st.cov
        y[i], gy = _linearized(st, arm, outcome)
        d[i], gd = _linearized(st, arm, dose)
        n[i], vy[i], vd[i], cyd[i] = st.n, gy @ cov @ gy, gd @ cov @ gd, gy @ cov @ gd
    return _Moments(n, y, d, vy, vd, cyd)


@dataclass(frozen=True)
class WaldEstimate:
    """The Wald ratio of two arms with its delta-method standard error.

    Attributes:
        effect: Change of the outcome per unit of dose (treatment against control).
        se: Its delta-method standard error.
        ci_low, ci_high: The normal interval at ``1 - alpha``.
        p_value: Two-sided, of ``effect = 0``.
        first_stage: The dose difference, treatment minus control.
        first_stage_se: Its standard error (Welch).
        f_statistic: The first-stage F, ``(first_stage / first_stage_se)**2``.
        weak: ``f_statistic`` below :data:`WEAK_INSTRUMENT_F`.
        alpha: Level of the interval.
    """

    effect: float
    se: float
    ci_low: float
    ci_high: float
    p_value: float
    first_stage: float
    first_stage_se: float
    f_statistic: float
    weak: bool
    alpha: float


def wald_ratio(control: ArmStatistics, treatment: ArmStatistics, *, outcome: Outcome,
               dose: Outcome, alpha: float = 0.05) -> WaldEstimate:
    """The Wald ratio of ``outcome`` per unit of ``dose``, treatment against control, from the
    arms' sufficient statistics (see the module docstring). ``outcome``: a column, or
    ``(numerator, denominator)`` for a ratio of sums such as CSAT.

    Raises:
        ValueError: An arm with fewer than two customers, a column missing, ``alpha`` outside
            (0, 1), or no difference in dose between the arms (the ratio is undefined).
    """
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha!r}")
    if control.arm == treatment.arm:
        raise ValueError(f"control and treatment must differ, both are {control.arm!r}")
    m = _moments({control.arm: control, treatment.arm: treatment}, outcome, dose)
    (nc, nt), (yc, yt), (dc, dt) = m.n, m.y, m.d
    (vyc, vyt), (vdc, vdt), (cyc, cyt) = m.vy, m.vd, m.cyd
    first = float(dt - dc)
    first_var = vdt / nt + vdc / nc
    if first == 0 or not math.isfinite(first):
        raise ValueError(f"dose {dose!r}: the arms' means do not differ ({dc:g} and {dt:g}); "
                         "the arm does not move the dose, so the ratio is undefined")
    effect = float((yt - yc) / first)
    # the variance of u = y - effect * d within each arm
    vut = vyt - 2 * effect * cyt + effect**2 * vdt
    vuc = vyc - 2 * effect * cyc + effect**2 * vdc
    var = max(float(vut / nt + vuc / nc), 0.0) / first**2
    se = math.sqrt(var)
    z = stats.norm.ppf(1 - alpha / 2)
    exact = 1.0 if effect == 0 else 0.0  # no spread at all: the effect is exact
    p = float(2 * stats.norm.sf(abs(effect) / se)) if se > 0 else exact
    f_stat = first**2 / first_var if first_var > 0 else math.inf
    return WaldEstimate(effect, se, float(effect - z * se), float(effect + z * se), p, first,
                        math.sqrt(first_var), float(f_stat), bool(f_stat < WEAK_INSTRUMENT_F),
                        alpha)


@dataclass(frozen=True)
class IVEstimate:
    """The two-stage least squares slope of an outcome on the dose, the arms as instruments.

    Attributes:
        effect: Change of the outcome per unit of dose.
        se: Its standard error (see :func:`two_stage_least_squares` for the two variances).
        ci_low, ci_high: The normal interval at ``1 - alpha``.
        p_value: Two-sided, of ``effect = 0``.
        first_stage_chi2: Wald statistic of the arms' dose means being equal (``arms - 1``
            degrees of freedom), with the same variance convention.
        f_statistic: ``first_stage_chi2 / (arms - 1)``; below :data:`WEAK_INSTRUMENT_F` the
            instruments are weak.
        weak: ``f_statistic`` below :data:`WEAK_INSTRUMENT_F`.
        arms: The arms used, in order.
        alpha: Level of the interval.
        intercept: The line's intercept (outcome at dose 0).
        cov: The sandwich covariance of ``(intercept, effect)``, 2 x 2, with the same
            variance convention as ``se`` (for a band around the line).
    """

    effect: float
    se: float
    ci_low: float
    ci_high: float
    p_value: float
    first_stage_chi2: float
    f_statistic: float
    weak: bool
    arms: tuple[str, ...]
    alpha: float
    intercept: float = float("nan")
    cov: tuple[tuple[float, float], tuple[float, float]] = ((float("nan"),) * 2,) * 2

    def line(self, dose: np.ndarray | float, *, alpha: float | None = None
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The fitted outcome ``intercept + effect * dose`` with its pointwise normal band at
        ``1 - alpha`` (default the estimate's): ``(fit, low, high)``."""
        x = np.asarray(dose, dtype=float)
        v = np.asarray(self.cov)
        fit = self.intercept + self.effect * x
        se = np.sqrt(np.maximum(v[0, 0] + 2 * x * v[0, 1] + x**2 * v[1, 1], 0.0))
        z = stats.norm.ppf(1 - (self.alpha if alpha is None else alpha) / 2)
        return fit, fit - z * se, fit + z * se


def two_stage_least_squares(stats_by_arm: dict[str, ArmStatistics], *, outcome: Outcome,
                            dose: Outcome, alpha: float = 0.05,
                            variance: str = "delta") -> IVEstimate:
    """The 2SLS slope of ``outcome`` on ``dose`` with every arm's indicator as an instrument,
    from each arm's sufficient statistics (two arms or more).

    With arm indicators as instruments the first stage is each arm's mean dose, and the slope
    is the weighted least-squares line through the arms' (mean dose, mean outcome) points,
    weights the arms' sizes. Its sandwich variance needs per arm only
    ``sum_i u_i**2`` for ``u = y - a - effect * d``, which is ``(n - 1) s2_u + n (mean_u)**2``
    from the arm's moments. ``variance="hc0"`` uses exactly that (the heteroskedasticity-
    robust HC0 covariance, linearmodels' ``IV2SLS(...).fit(cov_type="robust",
    debiased=False)``); ``variance="delta"`` (default) takes the within-arm part with divisor
    ``n - 1`` (``n s2_u``), so two arms give the Wald ratio's delta-method variance of
    :func:`wald_ratio` exactly. The first-stage Wald statistic uses the same convention.

    Raises:
        ValueError: Fewer than two arms, an arm with fewer than two customers, an unknown
            ``variance``, or arms whose mean doses are all equal.

    References:
        Angrist and Pischke (2009), section 4.1.3 (2SLS with a saturated first stage as a
        weighted regression of group means); White, H. (1980). A heteroskedasticity-consistent
        covariance matrix estimator. Econometrica 48(4), 817-838.
    """
    if variance not in ("delta", "hc0"):
        raise ValueError(f"variance must be 'delta' or 'hc0', got {variance!r}")
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha!r}")
    arms = tuple(stats_by_arm)
    if len(arms) < 2:
        raise ValueError(f"at least two arms are needed, got {list(arms)}")
    m = _moments(stats_by_arm, outcome, dose)
    n, my, md, vy, vd, cyd = m.n, m.y, m.d, m.vy, m.vd, m.cyd
    total = n.sum()
    d_bar, y_bar = n @ md / total, n @ my / total
    sxx = n @ (md - d_bar) ** 2
    if not sxx > 0:
        raise ValueError(f"dose {dose!r}: the arms' means do not differ; the arms do not move "
                         "the dose, so the slope is undefined")
    effect = float(n @ ((md - d_bar) * (my - y_bar)) / sxx)
    intercept = y_bar - effect * d_bar
    within = vy - 2 * effect * cyd + effect**2 * vd  # s2 of u within each arm
    mean_u = my - intercept - effect * md
    scale = n - 1 if variance == "hc0" else n
    meat_u = scale * within + n * mean_u**2  # sum of u_i**2 per arm
    # sandwich for the slope: x_hat = (1, mean dose of the arm); bread (X_hat' X_hat)^-1
    x = np.column_stack([np.ones(len(arms)), md])
    bread = np.linalg.inv(x.T @ (x * n[:, None]))
    meat = x.T @ (x * meat_u[:, None])
    cov = bread @ meat @ bread
    var = float(cov[1, 1])
    se = math.sqrt(max(var, 0.0))
    # first stage: the arms' mean doses equal? contrasts against the first arm
    v_means = (scale * vd) / n**2
    r = np.column_stack([-np.ones(len(arms) - 1), np.eye(len(arms) - 1)])
    diff = r @ md
    chi2 = float(diff @ np.linalg.solve(r @ np.diag(v_means) @ r.T, diff))
    f_stat = chi2 / (len(arms) - 1)
    z = stats.norm.ppf(1 - alpha / 2)
    exact = 1.0 if effect == 0 else 0.0
    p = float(2 * stats.norm.sf(abs(effect) / se)) if se > 0 else exact
    return IVEstimate(effect, se, float(effect - z * se), float(effect + z * se), p, chi2, f_stat,
                      bool(f_stat < WEAK_INSTRUMENT_F), arms, alpha, float(intercept),
                      ((float(cov[0, 0]), float(cov[0, 1])), (float(cov[1, 0]), float(cov[1, 1]))))


@dataclass(frozen=True)
class AndersonRubinTest:
    """The Anderson-Rubin test of a slope value, valid whatever the instruments' strength.

    Attributes:
        effect: The slope value tested (``beta_0``).
        statistic: The Wald statistic of the arms' means of ``y - beta_0 d`` being equal.
        df: ``arms - 1``.
        p_value: Chi-square with ``df``.
    """

    effect: float
    statistic: float
    df: int
    p_value: float


def anderson_rubin(stats_by_arm: dict[str, ArmStatistics], *, outcome: Outcome, dose: Outcome,
                   effect: float = 0.0) -> AndersonRubinTest:
    """The Anderson-Rubin test that the slope of ``outcome`` on ``dose`` is ``effect``.

    Under the model ``y = a + effect * d + u`` with the arms as instruments, ``y - effect * d``
    has the same mean in every arm; the test is the Wald statistic of those ``arms - 1``
    differences, with each arm's variance of ``y - effect * d`` (delta method for ratios),
    chi-square with ``arms - 1`` degrees of freedom. It needs no first stage at all, so its
    size holds when the instruments are weak or irrelevant (where the 2SLS t test does not).
    At ``effect = 0`` it is the test that the arms' outcomes are equal: with two arms, the
    Welch test of the A/B comparison itself. With three arms or more it also rejects when the
    dose-response is not a straight line.

    References:
        Anderson, T. W. and Rubin, H. (1949). Estimation of the parameters of a single equation
        in a complete system of stochastic equations. Annals of Mathematical Statistics 20(1),
        46-63. Andrews, I., Stock, J. H. and Sun, L. (2019). Weak instruments in instrumental
        variables regression: theory and practice. Annual Review of Economics 11, 727-753.
    """
    if len(stats_by_arm) < 2:
        raise ValueError(f"at least two arms are needed, got {list(stats_by_arm)}")
    if not math.isfinite(effect):
        raise ValueError(f"effect must be finite, got {effect!r}")
    m = _moments(stats_by_arm, outcome, dose)
    means = m.y - effect * m.d
    var = (m.vy - 2 * effect * m.cyd + effect**2 * m.vd) / m.n
    k = len(means)
    r = np.column_stack([-np.ones(k - 1), np.eye(k - 1)])
    diff = r @ means
    v = r @ np.diag(var) @ r.T
    try:
        chi2 = float(diff @ np.linalg.solve(v, diff))
    except np.linalg.LinAlgError:
        chi2 = 0.0 if not np.any(diff) else math.inf
    return AndersonRubinTest(float(effect), chi2, k - 1, float(stats.chi2.sf(chi2, k - 1)))


@dataclass(frozen=True)
class LinearityTest:
    """Whether the arms' (mean dose, mean outcome) points lie on one line: Hansen's J test of
    the overidentifying restrictions, three arms or more.

    Attributes:
        statistic: Hansen's J.
        df: Its degrees of freedom, ``arms - 2``.
        p_value: Of a straight dose-response (chi-square with ``df``).
        effect: The two-step GMM slope at which J is evaluated.
    """

    statistic: float
    df: int
    p_value: float
    effect: float


def linearity_test(stats_by_arm: dict[str, ArmStatistics], *, outcome: Outcome,
                   dose: Outcome) -> LinearityTest:
    """Hansen's J test that the outcome is linear in the dose across the arms (robust to
    heteroskedasticity), from each arm's sufficient statistics.

    With every arm's indicator as an instrument the moment conditions are one per arm,
    ``n_k (mean_y[k] - a - b mean_d[k]) = 0``. Two-step GMM weights them by the inverse of each
    arm's sum of squared 2SLS residuals ``S_k`` (:func:`two_stage_least_squares`, HC0), so the
    slope and intercept are the weighted least-squares line through the arms' mean points with
    weights ``n_k**2 / S_k``, and J is that line's weighted sum of squares: chi-square with
    ``arms - 2`` degrees of freedom when the dose-response is a straight line. Equal to
    linearmodels' ``IVGMM(...).fit(cov_type="robust").j_stat``.

    Raises:
        ValueError: Fewer than three arms (a line always passes through two points), or what
            :func:`two_stage_least_squares` refuses.

    References:
        Hansen, L. P. (1982). Large sample properties of generalized method of moments
        estimators. Econometrica 50(4), 1029-1054.
    """
    if len(stats_by_arm) < 3:
        raise ValueError(f"the linearity test needs three arms or more (a line passes through "
                         f"any two points), got {list(stats_by_arm)}")
    first = two_stage_least_squares(stats_by_arm, outcome=outcome, dose=dose, variance="hc0")
    m = _moments(stats_by_arm, outcome, dose)
    n, my, md = m.n, m.y, m.d
    b = first.effect
    s_k = (m.vy - 2 * b * m.cyd + b**2 * m.vd) * (n - 1)  # + n mean_u**2 below
    total = n.sum()
    intercept = (n @ my - first.effect * (n @ md)) / total
    s_k += n * (my - intercept - first.effect * md) ** 2
    w = n**2 / s_k
    x = np.column_stack([np.ones(len(n)), md])
    coef = np.linalg.solve(x.T @ (x * w[:, None]), x.T @ (w * my))
    resid = my - x @ coef
    j = float(w @ resid**2)
    df = len(n) - 2
    return LinearityTest(j, df, float(stats.chi2.sf(j, df)), float(coef[1]))
