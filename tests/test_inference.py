"""analyze_rows(inference=...): valid at every size (issue: small, sparse, skewed, unequal trials).

Each case below misled the normal-theory analysis: a zero-variance arm, CUPED overfitting a tiny
trial, and significance that disagreed with the displayed interval.
"""

import math

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy import stats

from frt_experiments.analysis import analyze_rows
from frt_experiments.errors import DataError
from frt_experiments.stats.cuped import regression_adjust
from frt_experiments.stats.ratio import fieller_interval, ratio_t
from frt_experiments.stats.validity import MAX_SKEWNESS, normal_check


def _rows(arm, conversations, rated, satisfied, *, handle=None, start=None, end=None,
          covariates=None):
    n = len(arm)
    conv = np.asarray(conversations, float)
    rows = pd.DataFrame({
        "arm": arm, "conversations": conv, "rated": np.asarray(rated, float),
        "satisfied": np.asarray(satisfied, float),
        "handle_hours": conv * 0.5 if handle is None else np.asarray(handle, float),
        "revenue_start": np.full(n, 100.0) if start is None else np.asarray(start, float),
        "revenue_end": np.linspace(90, 110, n) if end is None else np.asarray(end, float)})
    for name, v in (covariates or {}).items():
        rows[name] = v
    return rows


def test_a_zero_variance_arm_is_not_treated_as_known():
    """Control at 100% CSAT with 2 raters against 5 raters at 84%: the delta method gave
    p = 0.0076 (control variance 0); auto switches to the randomization test."""
    arm = ["fast"] * 2 + ["one_business_day"] * 5
    rows = _rows(arm, [3, 2, 5, 6, 5, 7, 5], [3, 2, 5, 5, 5, 5, 5], [3, 2, 4, 5, 4, 4, 4])
    res = analyze_rows(rows, cuped=False)
    csat = res["csat"]
    assert csat.inference == "randomization"
    assert "no variance" in csat.method
    assert "exact over all 21 re-assignments" in csat.method
    assert csat.p_value > 0.2
    assert not csat.significant
    assert csat.rel_ci_low < 0 < csat.rel_ci_high
    with pytest.raises(ValueError, match="inference='normal' cannot analyse csat: arm 'fast'"):
        analyze_rows(rows, cuped=False, inference="normal")


def test_one_rater_per_arm_says_nothing():
    arm = ["fast"] * 3 + ["one_business_day"] * 3
    rows = _rows(arm, [2, 1, 1, 1, 2, 1], [2, 0, 0, 2, 0, 0], [2, 0, 0, 1, 0, 0])
    csat = analyze_rows(rows, cuped=False)["csat"]
    assert csat.p_value == 1.0
    assert (csat.rel_ci_low, csat.rel_ci_high) == (-1.0, math.inf)


def test_cuped_cannot_overfit_three_customers_per_arm():
    """Four pure-noise covariates on 3 customers per arm removed 100% of the variance and gave
    p ~ 1e-15; CUPED is now not used below 20 customers per covariate in the smaller arm."""
    rng = np.random.default_rng(7)
    arm = ["fast"] * 3 + ["one_business_day"] * 3
    covs = {c: rng.gamma(1.0, 1.0, 6) for c in ("pre_conversations", "pre_rated", "pre_satisfied",
                                             "pre_handle_seconds")}
    rows = _rows(arm, rng.poisson(3, 6) + 1, [1] * 6, [1, 0, 1, 1, 0, 1], covariates=covs)
    res = analyze_rows(rows)
    for m in res.metrics:
        assert m.variance_reduction == 0
        assert m.covariates == ()
        assert "CUPED not used: 3 customers in the smaller arm" in m.method
    assert min(m.p_value for m in res.metrics) > 1e-4


def test_hc2_regression_matches_statsmodels():
    rng = np.random.default_rng(2)
    n = 60
    t = rng.random(n) < 0.3
    x = rng.gamma(0.5, 2, (n, 2))
    y = x @ [1.0, 2.0] + rng.normal(size=n) * (1 + x[:, 0])
    r = regression_adjust(y, t, x)
    z = np.column_stack([~t, t, x - x.mean(axis=0)]).astype(float)
    fit = sm.OLS(y, z).fit(cov_type="HC2")
    c = np.array([-1.0, 1.0, 0.0, 0.0])
    np.testing.assert_allclose(r.means, fit.params[:2], rtol=1e-10)
    np.testing.assert_allclose(r.cov, fit.cov_params()[:2, :2], rtol=1e-10)
    assert r.pieces.sum() == pytest.approx(c @ fit.cov_params() @ c, rel=1e-10)
    np.testing.assert_allclose(r.theta, fit.params[2:], rtol=1e-10)
    # no covariates: HC2 is exactly Welch's variance and degrees of freedom
    w = regression_adjust(y, t, np.zeros((n, 0)))
    ref = stats.ttest_ind(y[t], y[~t], equal_var=False)
    assert w.pieces.sum() == pytest.approx((y[t].mean() - y[~t].mean()) ** 2
                                           / ref.statistic ** 2, rel=1e-10)
    assert w.df == pytest.approx(ref.df, rel=1e-10)


def test_fieller_bounds_are_where_the_pivot_meets_the_quantile():
    c, t, vc, vt, cv, df = 10.0, 12.0, 0.25, 0.36, 0.05, 40.0
    lo, hi = fieller_interval(c, t, var_control=vc, var_treatment=vt, cov=cv, df=df)
    q = stats.t.isf(0.025, df)
    for rho in (1 + lo, 1 + hi):
        assert abs(ratio_t(c, t, rho, var_control=vc, var_treatment=vt, cov=cv)) \
            == pytest.approx(q, rel=1e-10)
    # not bounded when the control is not distinguishable from 0
    assert fieller_interval(0.1, 1.0, var_control=0.01, var_treatment=0.01) == (-1.0, math.inf)


def _small_trials(rng, n):
    arm = np.where(rng.permutation(np.arange(n) < n // 2), "one_business_day", "fast")
    conv = rng.poisson(rng.gamma(0.6, 4, n)).astype(float) + (np.arange(n) < 4)
    raters = rng.random(n) < 0.5
    raters[:4] = True
    rated = np.where(raters, conv, 0)
    sat = rng.binomial(rated.astype(int), rng.beta(4, 1, n)).astype(float)
    start = rng.pareto(1.8, n) * 50 + 10
    end = start * np.where(rng.random(n) < 0.1, 0.0, rng.lognormal(0, 0.2, n))
    return _rows(arm, conv, rated, sat, handle=conv * rng.lognormal(-1, 0.8, n), start=start,
                 end=end)


@pytest.mark.parametrize("n", [40, 600])
def test_significance_p_value_and_interval_agree(n):
    """'significant' beside an interval that covers 0 (efficiency p = 0.0495 beside
    [-47.4%, +3.1%]) cannot happen: for every row, 0 is outside the relative and the
    difference intervals exactly when p < alpha, for both methods."""
    rng = np.random.default_rng(n)
    for i in range(6):
        rows = _small_trials(rng, n)
        for inference in ("auto", "normal", "randomization"):
            try:
                res = analyze_rows(rows, cuped=False, inference=inference, permutations=199,
                                   rng=i)
            except DataError:
                continue
            for m in res.metrics:
                outside = not (m.rel_ci_low <= 0 <= m.rel_ci_high)
                assert outside == m.significant == (m.p_value < 0.05), (inference, m)
                assert (m.diff_ci_low <= 0 <= m.diff_ci_high) != m.significant, (inference, m)


def test_auto_keeps_normal_theory_on_large_symmetric_trials():
    rng = np.random.default_rng(1)
    n = 4000
    arm = np.where(np.arange(n) % 2 == 0, "fast", "one_business_day")
    conv = rng.poisson(3, n).astype(float) + 1
    rows = _rows(arm, conv, conv, rng.binomial(conv.astype(int), 0.8),
                 handle=conv * rng.normal(0.5, 0.05, n), start=rng.normal(100, 10, n),
                 end=rng.normal(100, 10, n))
    res = analyze_rows(rows, cuped=False)
    assert [m.inference for m in res.metrics] == ["normal"] * 4
    assert all("normal theory (skewness" in m.method for m in res.metrics)


def test_normal_check_rules():
    t = np.arange(200) % 2 == 1
    ok = normal_check(np.random.default_rng(0).normal(size=200), t)
    assert ok.ok
    assert ok.skewness < MAX_SKEWNESS
    few = normal_check(np.random.default_rng(0).normal(size=200), t,
                       contributing=np.arange(200) < 50)
    assert not few.ok
    assert "25 contributing customers (< 30)" in few.reason
    flat = normal_check(np.where(t, 1.0, 0.0), t)
    assert not flat.ok
    assert "no variance" in flat.reason


def test_bad_inference_arguments():
    rows = _rows(["fast", "fast", "one_business_day", "one_business_day"], [1, 2, 1, 2],
                 [1, 1, 1, 1], [1, 0, 0, 1])
    with pytest.raises(ValueError, match="inference must be one of auto, normal, randomization"):
        analyze_rows(rows, inference="exact")
    with pytest.raises(ValueError, match="permutations must be an integer >= 99"):
        analyze_rows(rows, permutations=10)
    with pytest.raises(ValueError, match="strata: rows have no column 'band'"):
        analyze_rows(rows, strata="band")


def test_large_balanced_trials_give_todays_estimates_and_nearly_todays_intervals():
    """On 13,000 customers with four CUPED covariates: the same adjusted differences as the
    theta-known CUPED of the first version, variances that differ only by the HC2/leverage
    correction (of order covariates / customers), and Fieller's relative interval within a
    fraction of a percent of the log-ratio one."""
    from frt_experiments.metrics import customer_rows
    from frt_experiments.simulate import simulate
    from frt_experiments.stats.cuped import cuped_adjust
    from frt_experiments.stats.ratio import linearize

    trial = simulate("published", customers=20_000, rng=1)
    rows = customer_rows(trial.customers, trial.conversations, trial.assignments)
    res = analyze_rows(rows)
    covs = ["pre_conversations", "pre_rated", "pre_satisfied", "pre_handle_seconds"]
    n = len(rows)
    for metric, (num, den) in {"questions": ("conversations", None),
                               "csat": ("satisfied", "rated")}.items():
        m = res[metric]
        assert m.inference == "normal"
        lin, arms = [], []
        for arm in ("fast", "one_business_day"):
            sub = rows[rows.arm == arm]
            y = sub[num].to_numpy(float)
            v = y if den is None else linearize(y, sub[den].to_numpy(float))
            lin.append(v)
            arms.append(sub[covs].to_numpy(float))
        mean_y = np.array([m.control, m.treatment])
        var_y = np.array([v.var(ddof=1) for v in lin])
        mean_x = np.array([x.mean(axis=0) for x in arms])
        cov_xx = np.array([np.cov(x, rowvar=False) for x in arms])
        cov_xy = np.array([[np.cov(x[:, j], v)[0, 1] for j in range(4)]
                           for x, v in zip(arms, lin, strict=True)])
        old = cuped_adjust([len(v) for v in lin], mean_y=mean_y, var_y=var_y, mean_x=mean_x,
                           cov_xx=cov_xx, cov_xy=cov_xy)
        old_diff = old.means[1] - old.means[0]
        old_var = float((old.variances / np.array([len(v) for v in lin])).sum())
        assert m.diff == pytest.approx(old_diff, rel=1e-9)
        assert abs(m.se ** 2 / old_var - 1) < 4 * 4 / n
        log_half = math.log((1 + m.rel_ci_high) / (1 + m.rel_ci_low)) / 2
        assert log_half / (stats.t.isf(0.025, m.df) * m.log_se) == pytest.approx(1, abs=0.005)


# ---------------------------------------------------------------- what the data support
def _partial_trial():
    from frt_experiments.simulate import simulate

    trial = simulate("published", customers=3000, rng=4)
    conv = trial.conversations.drop(columns=["csat", "csat_scale", "handle_seconds"])
    cust = trial.customers.drop(columns=["revenue_start", "revenue_end", "monthly_spend"])
    return cust, conv, trial.assignments


def test_an_export_without_ratings_revenue_or_handle_time_gets_its_questions_analysed():
    """Today: 'metric csat: arm fast has no ratings' stopped the whole analysis."""
    from frt_experiments.analysis import analyze

    cust, conv, assignments = _partial_trial()
    res = analyze(cust, conv, assignments, diagnostics=False)
    assert [m.metric for m in res.metrics] == ["questions"]
    skipped = dict(res.skipped)
    assert set(skipped) == {"csat", "nrr", "efficiency"}
    assert "no ratings" in skipped["csat"]
    assert "no revenue" in skipped["nrr"]
    assert "no handle time" in skipped["efficiency"]
    # Holm over the analysed metric only: nothing to inflate
    assert res.p_holm == (res["questions"].p_value,)
    table = res.summary()
    assert table["significant"].str.startswith("not analysed").sum() == 3
    assert "not analysed: no revenue" in res.to_markdown()
    with pytest.raises(KeyError, match="'csat' was not analysed: no ratings"):
        res["csat"]
    with pytest.raises(DataError, match="metric csat: no ratings"):
        analyze(cust, conv, assignments, diagnostics=False, metrics=["questions", "csat"])
    only = analyze(cust, conv, assignments, diagnostics=False, metrics=["questions"])
    assert only.skipped == ()
    with pytest.raises(ValueError, match="metrics must name distinct metrics"):
        analyze(cust, conv, assignments, diagnostics=False, metrics=["speed"])


def test_frt_analyze_and_validate_accept_partial_tables(tmp_path, capsys):
    from frt_experiments.cli import main

    cust, conv, assignments = _partial_trial()
    paths = {}
    for name, df in (("customers", cust), ("conversations", conv),
                     ("assignments", assignments)):
        paths[name] = tmp_path / f"{name}.csv"
        df.to_csv(paths[name], index=False)
    flat = [x for k, p in paths.items() for x in (f"--{k}", str(p))]
    assert main(["validate", *flat]) == 0
    out = tmp_path / "out"
    assert main(["analyze", *flat, "--out", str(out), "--no-diagnostics"]) == 0
    printed = capsys.readouterr().out
    assert "not analysed: no ratings" in printed
    results = pd.read_csv(out / "results.csv")
    assert results["metric"].tolist() == ["questions"]
    assert "not analysed: no handle time" in (out / "summary.md").read_text()
    assert main(["analyze", *flat, "--out", str(tmp_path / "o2"), "--no-diagnostics",
                 "--metrics", "questions,nrr"]) == 2
    assert "metric nrr: no revenue" in capsys.readouterr().err


def test_the_rule_reads_a_sample_of_a_large_trial_at_its_full_size():
    """Beyond ROW_CHECK_MAX customers the third moments come from an even sample, but the rule
    is applied at the arms' full sizes: the skewness equals the one computed from every
    customer to within the sample's error."""
    from frt_experiments import analysis

    rng = np.random.default_rng(3)
    n = 2 * analysis.ROW_CHECK_MAX + 1000
    arm = np.where(np.arange(n) % 2 == 0, "fast", "one_business_day")
    conv = rng.poisson(rng.gamma(0.5, 6, n)).astype(float)
    rows = _rows(arm, conv, conv, rng.binomial(conv.astype(int), 0.8),
                 handle=conv * rng.lognormal(-1, 0.5, n), start=rng.lognormal(4, 1, n),
                 end=rng.lognormal(4, 1, n))
    q = analyze_rows(rows, cuped=False, metrics=["questions"])["questions"]
    full = normal_check(conv - np.where(arm == "fast", conv[arm == "fast"].mean(),
                                        conv[arm != "fast"].mean()), arm != "fast")
    assert q.skewness == pytest.approx(full.skewness, rel=0.15)
    assert q.n_control + q.n_treatment == n
