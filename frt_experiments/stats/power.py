"""Power and sample size of two-sample tests, solving for whichever quantity is missing.

Three families, all with the toolkit's vocabulary (``alpha``, ``power``, ``ratio``,
``alternative`` in SciPy's spelling):

- two proportions, exactly as R's ``power.prop.test`` (``strict = FALSE``), extended to unequal
  allocation: :func:`proportion_power`, :func:`proportion_sample_size`;
- a difference of means on the normal (z) or Student (t) scale, as statsmodels'
  ``NormalIndPower`` and ``TTestIndPower``: :func:`normal_power`, :func:`solve_power`;
- tests against a margin on the z scale: non-inferiority (one-sided, shifted null) and
  equivalence (two one-sided tests, TOST): :func:`margin_power`.

Sample sizes are per arm: ``nobs1`` is the control arm, the treatment arm has
``ratio * nobs1`` units. They are returned unrounded, as R reports them.

References:
    Fleiss, J. L., Levin, B. and Paik, M. C. (2003). *Statistical Methods for Rates and
    Proportions*, 3rd ed., section 4.2. Wiley.
    R Core Team. ``stats::power.prop.test`` and ``stats::power.t.test``.
    Chow, S.-C., Shao, J. and Wang, H. (2008). *Sample Size Calculations in Clinical Research*,
    2nd ed., chapter 3 (non-inferiority and equivalence on the normal scale). Chapman & Hall.
    Schuirmann, D. J. (1987). A comparison of the two one-sided tests procedure and the power
    approach for assessing the equivalence of average bioavailability. *J. Pharmacokinet.
    Biopharm.* 15(6), 657-680.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from scipy import optimize, stats

__all__ = [
    "margin_power",
    "normal_power",
    "proportion_power",
    "proportion_sample_size",
    "solve_power",
]

_ALTERNATIVES = ("two-sided", "greater", "less")


def _check_alternative(alternative: str) -> None:
    if alternative not in _ALTERNATIVES:
        raise ValueError(f"alternative must be one of {', '.join(_ALTERNATIVES)}, "
                         f"got {alternative!r}")


def _check_open_unit(name: str, value: float) -> float:
    v = float(value)
    if not math.isfinite(v) or not 0 < v < 1:
        raise ValueError(f"{name} must be in (0, 1), got {value!r}")
    return v


def _check_positive(name: str, value: float) -> float:
    v = float(value)
    if not math.isfinite(v) or v <= 0:
        raise ValueError(f"{name} must be a positive number, got {value!r}")
    return v


def _z_upper(alpha: float, alternative: str) -> float:
    """The critical z of a one-sided (alpha) or two-sided (alpha/2 per side) test."""
    return float(stats.norm.isf(alpha / 2 if alternative == "two-sided" else alpha))


# --------------------------------------------------------------------------- proportions

def _prop_parts(p1: float, p2: float, ratio: float) -> tuple[float, float, float]:
    """(difference, sd under H0, sd under H1) for one unit of nobs1 (times sqrt(nobs1))."""
    pbar = (p1 + ratio * p2) / (1 + ratio)
    sd0 = math.sqrt(pbar * (1 - pbar) * (1 + 1 / ratio))
    sd1 = math.sqrt(p1 * (1 - p1) + p2 * (1 - p2) / ratio)
    return p2 - p1, sd0, sd1


def proportion_power(
    p1: float,
    p2: float,
    nobs1: float,
    *,
    alpha: float = 0.05,
    ratio: float = 1.0,
    alternative: str = "two-sided",
) -> float:
    """Power of the two-sample test of proportions (pooled variance under the null).

    Args:
        p1: Proportion in the control arm.
        p2: Proportion in the treatment arm.
        nobs1: Units in the control arm (the treatment arm has ``ratio * nobs1``).
        alpha: Significance level (two-sided total for ``"two-sided"``).
        ratio: Allocation ratio treatment/control.
        alternative: ``"two-sided"`` (effect of either sign, counting only the tail in the
            direction of ``p2 - p1``, as R's ``power.prop.test`` with ``strict = FALSE``),
            ``"greater"`` (H1: p2 > p1) or ``"less"`` (H1: p2 < p1).

    Returns:
        The power, in [0, 1].

    References:
        R ``stats::power.prop.test``; Fleiss, Levin and Paik (2003), section 4.2.

    Examples:
        >>> round(proportion_power(0.5, 0.75, 50), 3)   # R: power.prop.test(n=50, ...)
        0.74
    """
    p1 = _check_open_unit("p1", p1)
    p2 = _check_open_unit("p2", p2)
    n = _check_positive("nobs1", nobs1)
    alpha = _check_open_unit("alpha", alpha)
    ratio = _check_positive("ratio", ratio)
    _check_alternative(alternative)
    diff, sd0, sd1 = _prop_parts(p1, p2, ratio)
    if alternative == "two-sided":
        diff = abs(diff)
    elif alternative == "less":
        diff = -diff
    z = _z_upper(alpha, alternative)
    return float(stats.norm.cdf((math.sqrt(n) * diff - z * sd0) / sd1))


def proportion_sample_size(
    p1: float,
    p2: float,
    *,
    power: float = 0.8,
    alpha: float = 0.05,
    ratio: float = 1.0,
    alternative: str = "two-sided",
) -> float:
    """Units in the control arm needed to detect ``p1`` vs ``p2`` (unrounded, like R).

    The treatment arm needs ``ratio`` times as many. Solves :func:`proportion_power` for
    ``nobs1`` in closed form.

    Raises:
        ValueError: ``p1 == p2``, or a one-sided ``alternative`` points away from the effect.

    References:
        R ``stats::power.prop.test``; Fleiss, Levin and Paik (2003), equation 4.14.

    Examples:
        >>> round(proportion_sample_size(0.5, 0.75, power=0.9), 2)   # R: n = 76.7101
        76.71
    """
    p1 = _check_open_unit("p1", p1)
    p2 = _check_open_unit("p2", p2)
    power = _check_open_unit("power", power)
    alpha = _check_open_unit("alpha", alpha)
    ratio = _check_positive("ratio", ratio)
    _check_alternative(alternative)
    diff, sd0, sd1 = _prop_parts(p1, p2, ratio)
    if alternative == "less":
        diff = -diff
    elif alternative == "two-sided":
        diff = abs(diff)
    if diff <= 0:
        raise ValueError(f"p2 - p1 = {p2 - p1:g} has no power under alternative="
                         f"{alternative!r}: give p1 != p2 in the direction of the alternative")
    z = _z_upper(alpha, alternative)
    zb = float(stats.norm.ppf(power))
    return ((z * sd0 + zb * sd1) / diff) ** 2


# --------------------------------------------------------------------------- means

def normal_power(
    effect_size: float,
    nobs1: float,
    *,
    alpha: float = 0.05,
    ratio: float = 1.0,
    alternative: str = "two-sided",
    dist: str = "normal",
) -> float:
    """Power of the two-sample test of means for a standardized effect.

    ``effect_size`` is (mean2 - mean1) / sd with a common per-unit sd; the standard error of
    the difference is ``sd * sqrt(1/nobs1 + 1/(ratio*nobs1))``. With ``dist="normal"`` the
    z test (both tails counted when two-sided, as statsmodels' ``NormalIndPower``); with
    ``dist="t"`` the pooled Student t test via the noncentral t (as ``TTestIndPower``).

    References:
        Cohen, J. (1988). *Statistical Power Analysis for the Behavioral Sciences*, 2nd ed.,
        chapter 2. statsmodels ``stats.power.NormalIndPower`` / ``TTestIndPower``.
    """
    n = _check_positive("nobs1", nobs1)
    alpha = _check_open_unit("alpha", alpha)
    ratio = _check_positive("ratio", ratio)
    _check_alternative(alternative)
    if dist not in ("normal", "t"):
        raise ValueError(f"dist must be 'normal' or 't', got {dist!r}")
    d = float(effect_size)
    if not math.isfinite(d):
        raise ValueError(f"effect_size must be finite, got {effect_size!r}")
    nc = d * math.sqrt(n * ratio / (1 + ratio))
    if dist == "normal":
        if alternative == "two-sided":
            z = stats.norm.isf(alpha / 2)
            return float(stats.norm.sf(z - nc) + stats.norm.cdf(-z - nc))
        z = stats.norm.isf(alpha)
        return float(stats.norm.sf(z - nc) if alternative == "greater"
                     else stats.norm.cdf(-z - nc))
    df = n * (1 + ratio) - 2
    if df <= 0:
        raise ValueError(f"nobs1 = {n:g} leaves no degrees of freedom for the t test")
    # Lower tails by symmetry, P(T_nc <= -t) = P(T_-nc >= t): SciPy's nct.cdf returns NaN far
    # in the left tail (e.g. nc 14, df 1e4), where nct.sf stays finite.
    if alternative == "two-sided":
        t = stats.t.isf(alpha / 2, df)
        return float(stats.nct.sf(t, df, nc) + stats.nct.sf(t, df, -nc))
    t = stats.t.isf(alpha, df)
    return float(stats.nct.sf(t, df, nc) if alternative == "greater"
                 else stats.nct.sf(t, df, -nc))


def solve_power(
    *,
    effect_size: float | None = None,
    nobs1: float | None = None,
    alpha: float | None = 0.05,
    power: float | None = None,
    ratio: float = 1.0,
    alternative: str = "two-sided",
    dist: str = "normal",
) -> float:
    """Solve :func:`normal_power` for the one argument left as ``None``.

    Exactly one of ``effect_size``, ``nobs1``, ``alpha``, ``power`` must be ``None``; it is
    found by root finding (Brent) and returned. A solved effect size is positive for
    ``"two-sided"``/``"greater"`` and negative for ``"less"``.

    With ``dist="t"`` a sample size is searched from 2 units in each arm upwards
    (``nobs1 >= max(2, 2 / ratio)``), where R's ``power.t.test`` starts its search; a
    design that reaches the power with fewer raises ``ValueError`` (R extends the search
    below 2 per group, e.g. 1.76 for ``delta = 10``, power 0.9). Two-sided powers count
    both tails, so sizes match ``power.t.test(..., strict = TRUE)`` (the default
    ``strict = FALSE`` ignores the far tail: 22.02110 rather than 22.02109 per group for
    ``delta = 1``, power 0.9).

    References:
        statsmodels ``stats.power.NormalIndPower.solve_power`` and
        ``TTestIndPower.solve_power`` (same convention); R Core Team ``stats::power.t.test``.
    """
    given = {"effect_size": effect_size, "nobs1": nobs1, "alpha": alpha, "power": power}
    missing = [k for k, v in given.items() if v is None]
    if len(missing) != 1:
        raise ValueError("give all but exactly one of effect_size, nobs1, alpha, power; "
                         f"missing: {missing or 'none'}")
    target = missing[0]
    if power is not None:
        _check_open_unit("power", power)

    def pw(**kw: float) -> float:
        args = {k: v for k, v in given.items() if k != "power" and v is not None}
        args.update(kw)
        return normal_power(args["effect_size"], args["nobs1"], alpha=args["alpha"],
                            ratio=ratio, alternative=alternative, dist=dist)

    if target == "power" or power is None:
        return pw()
    if effect_size is not None and ((alternative == "greater" and effect_size < 0)
                                    or (alternative == "less" and effect_size > 0)):
        raise ValueError(f"effect_size {effect_size:g} points away from alternative="
                         f"{alternative!r}: no {target} reaches power {power:g}")
    if target == "alpha":
        lo_p, hi_p = pw(alpha=1e-12), pw(alpha=1 - 1e-12)
        if not lo_p < power < hi_p:
            raise ValueError(f"no alpha in (0, 1) gives power {power:g} for this design")
        return _brentq(lambda a: pw(alpha=a) - power, 1e-12, 1 - 1e-12)
    if target == "nobs1":
        if effect_size == 0:
            raise ValueError("effect_size 0 has no finite sample size")
        lo = 1e-9
        if dist == "t":
            # From 2 units per arm up, where R's power.t.test starts (uniroot from n = 2):
            # towards one unit per arm the degrees of freedom n1 (1 + ratio) - 2 fall to 0,
            # where the noncentral t loses all accuracy (power 0.99999 at df 2e-9 for d = 1).
            lo = max(2.0, 2.0 / _check_positive("ratio", ratio))

        def f(n: float) -> float:
            return pw(nobs1=n) - power

        if dist == "t" and f(lo) >= 0:
            raise ValueError(f"the t test has power {pw(nobs1=lo):.4g} >= {power:g} already at "
                             f"nobs1 = {lo:g} (2 units in the smaller arm); smaller sizes are "
                             "not solved")
        if dist == "normal" and alpha is not None and effect_size is not None and power > alpha:
            # Bracket the root around the closed form that ignores the far tail
            # (n1 = (z_alpha + z_power)^2 (1 + 1/ratio) / d^2): a few Brent steps, not forty.
            side = 2 if alternative == "two-sided" else 1
            z = stats.norm.isf(alpha / side) + stats.norm.ppf(power)
            n0 = z * z * (1 + 1 / ratio) / (effect_size * effect_size)
            a, b = max(n0 / 2, lo), n0 * 2
            if np.isfinite(n0) and np.sign(f(a)) != np.sign(f(b)):
                return _brentq(f, a, b)
        return _brentq(f, lo, 1e12)
    sign = -1.0 if alternative == "less" else 1.0
    return sign * _brentq(lambda d: pw(effect_size=sign * d) - power, 1e-12, 1e3)


def _brentq(f: Callable[[float], float], lo: float, hi: float) -> float:
    flo, fhi = f(lo), f(hi)
    if np.sign(flo) == np.sign(fhi):
        raise ValueError("no solution in the admissible range: the target power cannot be "
                         "reached (or is exceeded everywhere) with the given inputs")
    return float(optimize.brentq(f, lo, hi, xtol=1e-12, rtol=1e-12, maxiter=500))


# --------------------------------------------------------------------------- margins

def margin_power(
    diff: float,
    se: float,
    *,
    margin: float,
    test: str,
    alpha: float = 0.05,
) -> float:
    """Power of a non-inferiority or equivalence test on the z scale.

    ``diff`` is the true treatment - control difference, ``se`` its standard error.

    - ``test="non-inferiority"``: H0 diff <= margin vs H1 diff > margin when ``margin < 0``
      (higher is better); H0 diff >= margin vs H1 diff < margin when ``margin > 0`` (lower is
      better); a one-sided z test at level ``alpha``.
    - ``test="equivalence"``: H0 |diff| >= margin vs H1 |diff| < margin by two one-sided tests
      at level ``alpha`` each (TOST; the 1 - 2 alpha interval inside +-margin).

    References:
        Chow, Shao and Wang (2008), sections 3.2.2-3.2.3; Schuirmann (1987).
    """
    se = _check_positive("se", se)
    alpha = _check_open_unit("alpha", alpha)
    z = float(stats.norm.isf(alpha))
    if test == "non-inferiority":
        if margin == 0 or not math.isfinite(margin):
            raise ValueError(f"margin must be a non-zero finite number, got {margin!r}")
        shift = (diff - margin) if margin < 0 else (margin - diff)
        return float(stats.norm.cdf(shift / se - z))
    if test == "equivalence":
        if not margin > 0 or not math.isfinite(margin):
            raise ValueError(f"equivalence margin must be positive, got {margin!r}")
        p = stats.norm.cdf((margin - diff) / se - z) + stats.norm.cdf((margin + diff) / se - z)
        return float(max(p - 1.0, 0.0))
    raise ValueError(f"test must be 'non-inferiority' or 'equivalence', got {test!r}")
