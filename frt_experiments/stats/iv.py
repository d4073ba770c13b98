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

from scipy import stats

from frt_experiments.metrics import ArmStatistics

__all__ = ["WEAK_INSTRUMENT_F", "WaldEstimate", "wald_ratio"]

#: First-stage F below which the instrument is called weak (Staiger and Stock 1997).
WEAK_INSTRUMENT_F = 10.0


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


def wald_ratio(control: ArmStatistics, treatment: ArmStatistics, *, outcome: str, dose: str,
               alpha: float = 0.05) -> WaldEstimate:
    """The Wald ratio of ``outcome`` per unit of ``dose``, treatment against control, from the
    arms' sufficient statistics (see the module docstring).

    Raises:
        ValueError: An arm with fewer than two customers, a column missing, ``alpha`` outside
            (0, 1), or no difference in dose between the arms (the ratio is undefined).
    """
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha!r}")
    moments = []
    for name, st in (("control", control), ("treatment", treatment)):
        if st.n < 2:
            raise ValueError(f"{name} arm {st.arm!r}: at least 2 customers are needed, got "
                             f"{st.n}")
        iy, idose = st.index(outcome), st.index(dose)
        cov = st.cov
        moments.append((st.n, st.mean[iy], st.mean[idose], cov[iy, iy], cov[idose, idose],
                        cov[iy, idose]))
    (nc, yc, dc, vyc, vdc, cyc), (nt, yt, dt, vyt, vdt, cyt) = moments
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
    return WaldEstimate(effect, se, effect - z * se, effect + z * se, p, first,
                        math.sqrt(first_var), float(f_stat), bool(f_stat < WEAK_INSTRUMENT_F),
                        alpha)
