"""CUPED: variance reduction with pre-period covariates, on sufficient statistics.

For a metric with per-customer value ``Y`` (for a ratio metric, its linearized value, see
:mod:`frt_experiments.stats.ratio`) and pre-period covariates ``X`` (not affected by the
treatment), the adjusted value ``Y - θᵀ(X - E X)`` has the same expectation in each arm and
variance ``Var(Y) - 2θᵀCov(X, Y) + θᵀVar(X)θ``, smallest at ``θ = Var(X)⁻¹ Cov(X, Y)``.

``θ`` is *pooled across arms*: estimated from the within-arm covariances weighted by their
degrees of freedom, i.e. the covariate coefficients of an OLS regression of ``Y`` on the arm
indicators and ``X``. One ``θ`` for both arms keeps the adjusted difference unbiased, and
``X̄`` is the mean over all customers, so each arm's adjusted mean is
``Ȳₐ - θᵀ(X̄ₐ - X̄)``. The variance reduction reported is
``1 - Var(adjusted diff) / Var(unadjusted diff)``, which for one covariate approaches ``ρ²``.
Treating ``θ`` as known costs ``O(1/n)`` in the variance, negligible at experiment sizes.

Covariates without variation within arms are dropped; collinear ones are handled by a
least-squares solution.

References:
    Deng, A., Xu, Y., Kohavi, R. and Walker, T. (2013). Improving the sensitivity of online
    controlled experiments by utilizing pre-experiment data. *WSDM '13*, 123-132, sections 3
    and 3.3 (several covariates).
    Deng, A., Knoblich, U. and Lu, J. (2018). Applying the delta method in metric analytics.
    *KDD '18*, section 3.3 (CUPED for ratio metrics through the linearization).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

__all__ = ["CupedAdjustment", "RegressionAdjustment", "cuped", "cuped_adjust", "pooled_theta",
           "regression_adjust"]


@dataclass(frozen=True)
class CupedAdjustment:
    """CUPED-adjusted means and variances per arm.

    Attributes:
        theta: Pooled coefficients, one per covariate (0 for dropped ones).
        means: Adjusted means per arm.
        variances: Adjusted per-customer variances per arm.
        raw_variances: Unadjusted per-customer variances per arm.
        variance_reduction: ``1 - Σ variances/n / Σ raw_variances/n`` (the share of the
            difference's variance removed).
    """

    theta: np.ndarray
    means: np.ndarray
    variances: np.ndarray
    raw_variances: np.ndarray
    variance_reduction: float

    def __repr__(self) -> str:
        return (f"CupedAdjustment(theta={np.round(self.theta, 6).tolist()}, "
                f"variance_reduction={self.variance_reduction:.1%})")


def pooled_theta(n: ArrayLike, cov_xx: ArrayLike, cov_xy: ArrayLike) -> np.ndarray:
    """Pooled CUPED coefficients ``θ = (Σₐ(nₐ-1)Sₓₓ,ₐ)⁻¹ Σₐ(nₐ-1)Sₓᵧ,ₐ``.

    Args:
        n: Customers per arm, shape ``(A,)``.
        cov_xx: Within-arm covariance matrices of the covariates, shape ``(A, p, p)``.
        cov_xy: Within-arm covariances of the covariates with the metric, shape ``(A, p)``.

    Returns:
        ``θ``, shape ``(p,)``; equal to the covariate coefficients of the OLS regression of the
        metric on arm indicators and covariates.

    References:
        Deng, Xu, Kohavi and Walker (2013), section 3.
    """
    nn = np.asarray(n, dtype=float)
    sxx = np.asarray(cov_xx, dtype=float)
    sxy = np.asarray(cov_xy, dtype=float)
    if sxx.ndim != 3 or sxy.ndim != 2 or sxx.shape[:2] != sxy.shape or nn.shape != sxy.shape[:1]:
        raise ValueError(f"shapes do not agree: n {nn.shape}, cov_xx {sxx.shape}, "
                         f"cov_xy {sxy.shape} (expected (A,), (A, p, p), (A, p))")
    w = nn - 1
    pxx = np.tensordot(w, sxx, axes=1)
    pxy = w @ sxy
    theta = np.zeros(pxy.shape[0])
    scale = np.sqrt(np.clip(np.diag(pxx), 0, None))
    keep = scale > 1e-12 * max(float(scale.max(initial=0.0)), 1.0)
    if keep.any():
        # solve on the correlation scale so that covariates of very different units are fine
        s = scale[keep]
        a = pxx[np.ix_(keep, keep)] / np.outer(s, s)
        sol = np.linalg.lstsq(a, pxy[keep] / s, rcond=1e-12)[0]
        theta[keep] = sol / s
    return theta


def cuped_adjust(
    n: ArrayLike,
    *,
    mean_y: ArrayLike,
    var_y: ArrayLike,
    mean_x: ArrayLike,
    cov_xx: ArrayLike,
    cov_xy: ArrayLike,
    theta: ArrayLike | None = None,
) -> CupedAdjustment:
    """Adjust each arm's mean and variance by CUPED with a pooled ``θ``.

    Args:
        n: Customers per arm ``(A,)``.
        mean_y: Metric means per arm ``(A,)`` (for a ratio: the ratio itself; its linearized
            values have the same first-order deviations).
        var_y: Per-customer variances of the metric (linearized) per arm ``(A,)``.
        mean_x: Covariate means per arm ``(A, p)``.
        cov_xx: Within-arm covariate covariance matrices ``(A, p, p)``.
        cov_xy: Within-arm covariances of covariates and metric ``(A, p)``.
        theta: Coefficients to use instead of :func:`pooled_theta`.

    References:
        Deng, Xu, Kohavi and Walker (2013), sections 3.1-3.3.
    """
    nn = np.asarray(n, dtype=float)
    my = np.asarray(mean_y, dtype=float)
    vy = np.asarray(var_y, dtype=float)
    mx = np.asarray(mean_x, dtype=float)
    sxx = np.asarray(cov_xx, dtype=float)
    sxy = np.asarray(cov_xy, dtype=float)
    th = pooled_theta(nn, sxx, sxy) if theta is None else np.asarray(theta, dtype=float)
    grand = (nn @ mx) / nn.sum()
    means = my - (mx - grand) @ th
    var = vy - 2 * sxy @ th + np.einsum("i,aij,j->a", th, sxx, th)
    var = np.clip(var, 0.0, None)
    raw = float((vy / nn).sum())
    reduction = 1.0 - float((var / nn).sum()) / raw if raw > 0 else 0.0
    return CupedAdjustment(th, means, var, vy, reduction)


def cuped(y: ArrayLike, covariates: ArrayLike, arms: ArrayLike) -> CupedAdjustment:
    """CUPED from per-customer arrays (a convenience over :func:`cuped_adjust`).

    Args:
        y: Per-customer metric values (linearized values for a ratio metric), ``(N,)``.
        covariates: Pre-period covariates, ``(N,)`` or ``(N, p)``.
        arms: Arm label per customer, ``(N,)``; results follow the sorted unique labels.

    Examples:
        >>> import numpy as np
        >>> x = np.arange(10.0); y = 2 * x + np.r_[1, -1] .repeat(5)
        >>> float(np.round(cuped(y, x, np.r_[0, 1].repeat(5)).theta[0], 6))
        2.0

    References:
        Deng, Xu, Kohavi and Walker (2013).
    """
    yy = np.asarray(y, dtype=float)
    xx = np.asarray(covariates, dtype=float)
    if xx.ndim == 1:
        xx = xx[:, None]
    labels, codes = np.unique(np.asarray(arms), return_inverse=True)
    if yy.ndim != 1 or xx.shape[0] != len(yy) or len(codes) != len(yy):
        raise ValueError(f"y, covariates and arms must have one row per customer, got shapes "
                         f"{yy.shape}, {xx.shape}, {np.shape(arms)}")
    ns, my, vy, mx, sxx, sxy = [], [], [], [], [], []
    for a in range(len(labels)):
        sel = codes == a
        if sel.sum() < 2:
            raise ValueError(f"arm {labels[a]!r} has fewer than 2 customers")
        c = np.cov(np.column_stack([xx[sel], yy[sel]]), rowvar=False)
        ns.append(sel.sum())
        my.append(yy[sel].mean())
        vy.append(c[-1, -1])
        mx.append(xx[sel].mean(axis=0))
        sxx.append(c[:-1, :-1])
        sxy.append(c[:-1, -1])
    return cuped_adjust(np.array(ns), mean_y=np.array(my), var_y=np.array(vy),
                        mean_x=np.array(mx), cov_xx=np.array(sxx), cov_xy=np.array(sxy))


@dataclass(frozen=True)
class RegressionAdjustment:
    """CUPED as a regression on per-customer rows, with a leverage-corrected (HC2) variance.

    Attributes:
        theta: Pooled covariate coefficients.
        means: Adjusted arm means ``(control, treatment)``.
        cov: Covariance matrix of the two adjusted means (HC2), shape ``(2, 2)``; the shared
            ``θ`` makes them correlated.
        pieces: Each arm's customers' share of the difference's variance ``(2,)`` (they sum to
            ``Var(treatment - control)``), for Satterthwaite's degrees of freedom.
        df: Satterthwaite degrees of freedom of the difference, each arm's piece carrying
            ``n_a - 1 - p n_a / N`` residual degrees of freedom.
        residuals: Per-customer residuals (the adjusted, within-arm centred values).
        raw_variance: Variance of the unadjusted difference (Welch), for the reduction.
        variance_reduction: ``1 - Var(adjusted diff) / Var(unadjusted diff)``.
    """

    theta: np.ndarray
    means: np.ndarray
    cov: np.ndarray
    pieces: np.ndarray
    df: float
    residuals: np.ndarray
    raw_variance: float
    variance_reduction: float


def regression_adjust(values: ArrayLike, treated: ArrayLike, covariates: ArrayLike
                      ) -> RegressionAdjustment:
    """CUPED with ``θ`` pooled across arms and an HC2 variance that accounts for estimating it.

    The adjusted difference is the coefficient of the treatment indicator in the OLS
    regression of the per-customer value (a ratio's linearized value plus its arm's estimate)
    on the two arm indicators and the centred covariates -- the pooled-``θ`` CUPED estimate of
    Deng et al. (2013). Its variance is the HC2 sandwich (MacKinnon and White 1985): residuals
    inflated by ``1 / (1 - h_ii)`` for their leverage, which is what an estimated ``θ`` costs;
    with no covariates it is exactly Welch's ``s²_c/n_c + s²_t/n_t``, and Lin (2013) shows it
    is consistent (conservative) for regression-adjusted experiments whatever the model. The
    degrees of freedom are Satterthwaite's over the arms with ``p`` covariates' worth removed
    in proportion to arm size, an approximation of Bell and McCaffrey's (2002) that reduces
    to Welch's without covariates (Imbens and Kolesár 2016 recommend HC2 with such a
    correction in small samples).

    Args:
        values: Per-customer values ``(N,)``.
        treated: One boolean per customer.
        covariates: ``(N, p)`` pre-period covariates (columns without variance within arms
            should be dropped beforehand; they would make ``Z'Z`` singular).

    References:
        Deng, Xu, Kohavi and Walker (2013); MacKinnon, J. G. and White, H. (1985). Some
        heteroskedasticity-consistent covariance matrix estimators with improved finite sample
        properties. *Journal of Econometrics* 29, 305-325. Lin, W. (2013). Agnostic notes on
        regression adjustments to experimental data. *Annals of Applied Statistics* 7(1),
        295-318. Bell, R. M. and McCaffrey, D. F. (2002). Bias reduction in standard errors
        for linear regression with multi-stage samples. *Survey Methodology* 28(2), 169-181.
        Imbens, G. W. and Kolesár, M. (2016). Robust standard errors in small samples: some
        practical advice. *Review of Economics and Statistics* 98(4), 701-712.
    """
    y = np.asarray(values, dtype=float)
    t = np.asarray(treated).astype(bool)
    x = np.asarray(covariates, dtype=float)
    if x.ndim == 1:
        x = x[:, None]
    n = y.size
    if y.ndim != 1 or t.shape != y.shape or x.shape[0] != n:
        raise ValueError(f"values, treated and covariates must have one row per customer, got "
                         f"shapes {y.shape}, {t.shape}, {x.shape}")
    p = x.shape[1]
    nt = int(t.sum())
    nc = n - nt
    xc = x - x.mean(axis=0)
    sd = xc.std(axis=0)
    sd = np.where(sd > 0, sd, 1.0)  # unit scale: Z'Z stays well conditioned
    z = np.column_stack([~t, t, xc / sd]).astype(float)
    zz_inv = np.linalg.pinv(z.T @ z, hermitian=True)
    beta = np.linalg.lstsq(z, y, rcond=None)[0]
    e = y - z @ beta
    h = np.einsum("ij,jk,ik->i", z, zz_inv, z)
    w = e * e / np.clip(1.0 - h, 1e-12, None)
    c = np.array([-1.0, 1.0] + [0.0] * p)
    a = z @ (zz_inv @ c)  # the difference is Σ a_i y_i
    pieces = np.array([np.sum((a * a * w)[~t]), np.sum((a * a * w)[t])])
    bread = zz_inv[:2]
    cov = bread @ ((z * w[:, None]).T @ z) @ bread.T
    nu = np.array([nc - 1 - p * nc / n, nt - 1 - p * nt / n])
    nu = np.clip(nu, 1.0, None)
    den = float(np.sum(pieces * pieces / nu))
    df = float(pieces.sum() ** 2 / den) if den > 0 else math.inf
    raw = float(y[~t].var(ddof=1) / nc + y[t].var(ddof=1) / nt)
    var = float(pieces.sum())
    reduction = 1.0 - var / raw if raw > 0 else 0.0
    return RegressionAdjustment(beta[2:] / sd, beta[:2], cov, pieces, df, e, raw, reduction)
