"""Patience from censored waits: the exponential MLE against its closed form, the Kaplan-Meier
curve against the textbook (and lifelines when installed), coverage by simulation, and the
refusals."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from frt_experiments.calendar import BusinessCalendar
from frt_experiments.errors import DataError, FrtWarning
from frt_experiments.staffing import patience as _patience
from frt_experiments.staffing.patience import (
    FEW_ABANDONMENTS,
    PatienceEstimate,
    estimate_patience,
    kaplan_meier,
)

T0 = pd.Timestamp("2025-03-03 09:00", tz="UTC")


def conversations(wait_seconds, abandoned, *, unresolved: int = 0) -> pd.DataFrame:
    """A conversations table whose waits end at ``T0 + wait`` in an abandonment (1) or an
    answer (0), plus ``unresolved`` conversations still waiting."""
    w = pd.to_timedelta(np.asarray(wait_seconds, dtype=float), unit="s")
    ab = np.asarray(abandoned, dtype=bool)
    end = pd.Series(T0 + w)
    n = len(ab) + unresolved
    return pd.DataFrame({
        "created_at": pd.Series([T0] * n, dtype="datetime64[ns, UTC]"),
        "first_response_at": pd.concat([end.where(~ab), pd.Series([pd.NaT] * unresolved)],
                                       ignore_index=True).astype("datetime64[ns, UTC]"),
        "abandoned_at": pd.concat([end.where(ab), pd.Series([pd.NaT] * unresolved)],
                                  ignore_index=True).astype("datetime64[ns, UTC]"),
    })


# ----------------------------------------------------------------------------- closed forms
def test_rate_is_abandonments_over_exposure_with_both_intervals():
    w = [10, 20, 30, 40, 50, 60, 70, 80, 90, 100] * 3
    ab = [1, 0, 0, 1, 0, 1, 0, 0, 1, 0] * 3
    conv = conversations(w, ab, unresolved=2)
    with pytest.warns(FrtWarning, match="only 12 abandonments"):
        fit = estimate_patience(conv)
    d, T = 12, 1650.0
    assert (fit.abandoned, fit.n, fit.unresolved) == (d, 30, 2)
    assert fit.exposure_seconds == T
    assert fit.rate == pytest.approx(d / T, rel=1e-14)
    assert fit.mean_seconds == pytest.approx(T / d, rel=1e-14)
    # likelihood ratio: both ends solve d (x - 1 - log x) = chi2(1; 0.95)/2, x = rate / rhat
    q = stats.chi2.ppf(0.95, 1) / 2
    for end in (fit.rate_ci_low, fit.rate_ci_high):
        x = end / fit.rate
        assert d * (x - 1 - np.log(x)) == pytest.approx(q, rel=1e-9)
    assert fit.rate_ci_low < fit.rate < fit.rate_ci_high
    # exact chi-square limits of the count (Cox 1953; Lawless 2003, eq. 2.4.6)
    with pytest.warns(FrtWarning):
        ex = estimate_patience(conv, method="chi2", confidence=0.9)
    assert ex.rate_ci_low == pytest.approx(stats.chi2.ppf(0.05, 2 * d) / (2 * T), rel=1e-12)
    assert ex.rate_ci_high == pytest.approx(stats.chi2.ppf(0.95, 2 * d + 2) / (2 * T),
                                            rel=1e-12)
    lo, hi = fit.mean_ci
    assert lo == pytest.approx(1 / fit.rate_ci_high)
    assert hi == pytest.approx(1 / fit.rate_ci_low)
    row = fit.to_pandas().iloc[0]
    assert row["abandoned"] == d
    assert row["mean_seconds"] == pytest.approx(T / d)
    assert "12 abandoned of 30 waits" in fit.summary()
    assert "2 still waiting" in fit.summary()
    assert repr(fit).startswith("PatienceEstimate(mean 137.5 s")
    assert "<table" in fit._repr_html_()


def test_kaplan_meier_matches_the_textbook_6mp_example():
    """The 6-MP arm of Freireich et al. (1963) (remission times in weeks, + = censored), the
    classic example of Kaplan-Meier estimation: Klein and Moeschberger (2003), Survival
    Analysis, 2nd ed., Table 4.1A (survival and Greenwood standard errors, 3 decimals). R:
    ``summary(survfit(Surv(t, d) ~ 1, conf.type = "log-log"))`` gives the same survival and
    std.err columns."""
    t = [6, 6, 6, 6, 7, 9, 10, 10, 11, 13, 16, 17, 19, 20, 22, 23, 25, 32, 32, 34, 35]
    d = [1, 1, 1, 0, 1, 0, 1, 0, 0, 1, 1, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0]
    km = kaplan_meier(t, d)
    assert km["time"].tolist() == [6, 7, 10, 13, 16, 22, 23]
    assert km["at_risk"].tolist() == [21, 17, 15, 12, 11, 7, 6]
    np.testing.assert_allclose(km["survival"], [0.857, 0.807, 0.753, 0.690, 0.627, 0.538,
                                                0.448], atol=5e-4)
    np.testing.assert_allclose(km["se"], [0.076, 0.087, 0.096, 0.107, 0.114, 0.128, 0.135],
                               atol=5e-4)
    # by hand at week 7: S = (18/21)(16/17), Greenwood sum 3/(21*18) + 1/(17*16)
    s7 = 18 / 21 * 16 / 17
    v = 3 / (21 * 18) + 1 / (17 * 16)
    assert km["survival"].iloc[1] == pytest.approx(s7, rel=1e-12)
    assert km["se"].iloc[1] == pytest.approx(s7 * np.sqrt(v), rel=1e-12)
    # log(-log) limits (Kalbfleisch and Prentice 2002, section 1.4)
    z = stats.norm.ppf(0.975)
    c = z * np.sqrt(v) / abs(np.log(s7))
    assert km["ci_low"].iloc[1] == pytest.approx(s7 ** np.exp(c), rel=1e-12)
    assert km["ci_high"].iloc[1] == pytest.approx(s7 ** np.exp(-c), rel=1e-12)
    assert (km["ci_low"] <= km["survival"]).all()
    assert (km["survival"] <= km["ci_high"]).all()


def test_kaplan_meier_agrees_with_lifelines_when_installed():
    lifelines = pytest.importorskip("lifelines")
    rng = np.random.default_rng(5)
    t = np.round(rng.exponential(100, 300))
    d = rng.random(300) < 0.6
    km = kaplan_meier(t, d)
    ref = lifelines.KaplanMeierFitter().fit(t, d)
    sf = ref.survival_function_.iloc[:, 0]
    np.testing.assert_allclose(km["survival"], sf.loc[km["time"]].to_numpy(), rtol=1e-12)


def test_kaplan_meier_curve_of_the_fit_follows_the_exponential():
    rng = np.random.default_rng(11)
    n = 20_000
    patience = rng.exponential(120.0, n)
    answer = rng.exponential(60.0, n)  # independent censoring by service
    ab = patience < answer
    fit = estimate_patience(conversations(np.minimum(patience, answer), ab))
    s = fit.survival([30.0, 60.0, 120.0])
    truth = np.exp(-np.array([30.0, 60.0, 120.0]) / 120.0)
    # within 4 Greenwood standard errors of the true survival
    se = fit.km["se"].to_numpy()[np.searchsorted(fit.km["time"], [30.0, 60.0, 120.0]) - 1]
    assert (np.abs(s["kaplan_meier"].to_numpy() - truth) < 4 * se).all()
    lo, hi = fit.mean_ci
    assert lo < 120.0 < hi


def test_interval_covers_the_true_mean_at_its_level():
    """4,000 simulated desks of 60 waits each (exponential patience of mean 90 s censored by
    exponential answers of mean 45 s, about 20 abandonments each): the likelihood-ratio
    interval covers the true rate at 95% within 3 binomial standard errors; the exact
    chi-square one at least at 95% (exact Poisson limits are conservative). The first desk
    goes through estimate_patience, all through the interval it uses."""
    rng = np.random.default_rng(2025)
    reps, n, rate = 4000, 60, 1 / 90
    p = rng.exponential(1 / rate, (reps, n))
    a = rng.exponential(45.0, (reps, n))
    d, T = (p < a).sum(axis=1), np.minimum(p, a).sum(axis=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FrtWarning)
        fit = estimate_patience(conversations(np.minimum(p[0], a[0]), p[0] < a[0]))
    assert (fit.abandoned, fit.exposure_seconds) == (d[0], pytest.approx(T[0], rel=1e-9))
    assert _patience._rate_interval(int(d[0]), float(T[0]), 0.95, "lr") == pytest.approx(
        (fit.rate_ci_low, fit.rate_ci_high), rel=1e-9)
    se = np.sqrt(0.95 * 0.05 / reps)
    for method in ("lr", "chi2"):
        ends = np.array([_patience._rate_interval(int(k), float(t), 0.95, method)
                         for k, t in zip(d, T, strict=True)])
        cover = float(((ends[:, 0] <= rate) & (rate <= ends[:, 1])).mean())
        assert cover > 0.95 - 3 * se, (method, cover)
        if method == "lr":
            assert cover < 0.95 + 3 * se, (method, cover)


def test_business_seconds_of_a_calendar():
    # created Friday 16:59, abandoned Monday 09:01: 2 business minutes on an office calendar
    cal = BusinessCalendar("UTC", hours="Mon-Fri 09:00-17:00")
    fri = pd.Timestamp("2025-03-07 16:59", tz="UTC")
    conv = pd.DataFrame({
        "created_at": [fri, fri],
        "first_response_at": [pd.NaT, fri + pd.Timedelta(minutes=1)],
        "abandoned_at": [pd.Timestamp("2025-03-10 09:01", tz="UTC"), pd.NaT]})
    with pytest.warns(FrtWarning, match="only 1 abandonment"):
        fit = estimate_patience(conv, calendar=cal)
    assert fit.exposure_seconds == 180.0
    assert fit.business
    with pytest.warns(FrtWarning):
        # elapsed: 2 days 16 h 2 min, plus the answered minute
        assert estimate_patience(conv).exposure_seconds == (2 * 86400 + 16 * 3600 + 120) + 60


# ----------------------------------------------------------------------------- refusals
def test_no_abandonment_cannot_be_estimated():
    conv = conversations([10, 20, 30], [0, 0, 0])
    with pytest.raises(DataError, match=r"^conversations: column abandoned_at: patience cannot "
                       r"be estimated: no abandonment"):
        estimate_patience(conv)


def test_few_abandonments_warn_but_fit():
    conv = conversations([10, 20, 30, 40], [1, 0, 1, 0])
    with pytest.warns(FrtWarning, match=rf"only 2 abandonments \(fewer than "
                      rf"{FEW_ABANDONMENTS}\): the estimate is weak"):
        fit = estimate_patience(conv)
    assert isinstance(fit, PatienceEstimate)
    assert fit.mean_seconds == 50.0


def test_bad_tables_and_arguments_are_named():
    conv = conversations([10, 20], [1, 0])
    with pytest.raises(DataError, match="column abandoned_at: column is missing"):
        estimate_patience(conv.drop(columns="abandoned_at"))
    before = conv.assign(abandoned_at=[T0 - pd.Timedelta(seconds=5), pd.NaT])
    before["abandoned_at"] = before["abandoned_at"].astype("datetime64[ns, UTC]")
    with pytest.raises(DataError, match=r"abandoned_at: 1 row is earlier than created_at "
                       r"\(row 0\)"):
        estimate_patience(before)
    both = conv.assign(first_response_at=conv["abandoned_at"])
    with pytest.raises(DataError, match="set together with first_response_at"):
        estimate_patience(both)
    naive = conv.assign(abandoned_at=conv["abandoned_at"].dt.tz_localize(None))
    with pytest.raises(DataError, match="time-zone-aware"):
        estimate_patience(naive)
    with pytest.raises(ValueError, match="method: expected one of"):
        estimate_patience(conv, method="wald")
    with pytest.raises(ValueError, match="confidence: must be in"):
        estimate_patience(conv, confidence=95)
    with pytest.raises(ValueError, match="time: must be finite and >= 0"):
        kaplan_meier([-1.0], [1])
