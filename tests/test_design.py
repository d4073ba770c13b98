"""Experiment design: closed forms, statsmodels, round trips and Monte Carlo power."""

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from statsmodels.stats.power import zt_ind_solve_power

from frt_experiments._parametric import ParametricModel, arm_sums, history_tables, z_statistics
from frt_experiments.design import (
    MetricVariance,
    estimate_variances,
    metric_power,
    plan_experiment,
)
from frt_experiments.errors import DataError
from frt_experiments.stats.sequential import sequential_bounds

Z975, Z95, Z80 = stats.norm.isf(0.025), stats.norm.isf(0.05), stats.norm.ppf(0.8)


@pytest.fixture(scope="module")
def history():
    return history_tables(ParametricModel(), 20_000, np.random.default_rng(3))


def test_estimate_variances_matches_delta_method_formula(history):
    customers, conversations = history
    v = estimate_variances(customers, conversations)
    assert set(v) == {"questions", "csat", "nrr", "efficiency"}
    # independent computation: per-customer sums, then the textbook delta-method variance
    # Var(Y/X) ~ (s_y^2 - 2 R s_xy + R^2 s_x^2) / mean(x)^2 (Deng, Knoblich and Lu 2018, eq. 3)
    conv = conversations.assign(
        sat=(conversations["csat"] == "good").astype(float),
        rated=conversations["csat"].notna().astype(float))
    per = conv.groupby("customer_id")[["sat", "rated"]].sum().reindex(
        customers["customer_id"], fill_value=0.0)
    y, x = per["sat"].to_numpy(), per["rated"].to_numpy()
    r = y.sum() / x.sum()
    cov = np.cov(y, x, ddof=1)
    sd = math.sqrt(cov[0, 0] - 2 * r * cov[0, 1] + r**2 * cov[1, 1]) / x.mean()
    assert v["csat"].baseline == pytest.approx(r, rel=1e-12)
    assert v["csat"].sd == pytest.approx(sd, rel=1e-9)
    # design effect = clustered variance / binomial variance of independent ratings
    assert v["csat"].design_effect == pytest.approx(sd**2 * x.mean() / (r * (1 - r)), rel=1e-9)
    # beta-distributed satisfaction propensity clusters ratings: deff > 1
    assert v["csat"].design_effect > 1.0
    counts = conversations.groupby("customer_id").size().reindex(customers["customer_id"],
                                                                 fill_value=0)
    assert v["questions"].sd == pytest.approx(counts.std(ddof=1), rel=1e-12)


def test_design_effect_is_one_for_independent_single_ratings():
    # Theory: with at most one rating per customer and a common p the delta-method variance
    # equals the binomial one, so the design effect is 1 up to sampling error (se ~ 1/sqrt(n)).
    rng = np.random.default_rng(11)
    model = ParametricModel(contact_rate=0.5, dispersion=1e6, response_rate=1.0,
                            csat_concentration=1e9)
    customers, conversations = history_tables(model, 20_000, rng)
    first = conversations.drop_duplicates("customer_id")
    v = estimate_variances(customers, first)
    assert v["csat"].design_effect == pytest.approx(1.0, abs=0.05)


def test_difference_n_matches_statsmodels():
    var = MetricVariance("questions", 1.2, 1.7)
    r = metric_power(var, rel_mde=-0.04, power=0.8, ratio=1.5)
    expected = zt_ind_solve_power(effect_size=-0.04 * 1.2 / 1.7, alpha=0.05, power=0.8,
                                  ratio=1.5)
    assert r.n_control == pytest.approx(expected, rel=1e-5)
    assert r.n_treatment == pytest.approx(1.5 * r.n_control)
    # closed form ignoring the far tail, which is worth ~2e-6 of n here
    approx = (Z975 + Z80) ** 2 * 1.7**2 * (1 + 1 / 1.5) / (0.048**2)
    assert r.n_control == pytest.approx(approx, rel=1e-5)
    assert r.n_control < approx


@pytest.mark.parametrize("alternative", ["two-sided", "less"])
def test_round_trips(alternative):
    var = MetricVariance.proportion("csat", 0.85, units_per_customer=0.4, design_effect=1.2)
    n = metric_power(var, rel_mde=-0.0125, alternative=alternative).n_control
    assert metric_power(var, n_per_arm=n, rel_mde=-0.0125, power=None,
                        alternative=alternative).power == pytest.approx(0.8, abs=1e-9)
    mde = metric_power(var, n_per_arm=n, alternative=alternative).rel_mde
    assert mde == pytest.approx(-0.0125 if alternative == "less" else 0.0125, rel=1e-7)
    a = metric_power(var, n_per_arm=n, rel_mde=-0.0125, alpha=None,
                     alternative=alternative).alpha
    assert a == pytest.approx(0.05, rel=1e-6)


def test_proportion_variance_given_directly():
    v = MetricVariance.proportion("csat", 0.85, units_per_customer=0.5, design_effect=1.3)
    assert v.sd == pytest.approx(math.sqrt(0.85 * 0.15 * 1.3 / 0.5))


def test_non_inferiority_closed_form():
    # Chow, Shao and Wang (2008) eq. 3.2.4: n1 = (z_a + z_b)^2 sd^2 (1 + 1/r) / (delta - m)^2,
    # one-sided at alpha/2 = 0.025 for a two-sided plan
    var = MetricVariance("csat", 0.85, 0.6)
    r = metric_power(var, test="non-inferiority", margin=-0.02, ratio=2.0)
    expected = (Z975 + Z80) ** 2 * 0.36 * 1.5 / (0.02 * 0.85) ** 2
    assert r.n_control == pytest.approx(expected, rel=1e-6)


def test_equivalence_closed_form():
    # TOST at true difference 0: n1 = (z_a + z_{b/2})^2 sd^2 (1 + 1/r) / m^2
    # (Chow, Shao and Wang 2008, eq. 3.2.6)
    var = MetricVariance("nrr", 1.0, 0.4)
    r = metric_power(var, test="equivalence", margin=0.01)
    expected = (Z95 + stats.norm.isf(0.1)) ** 2 * 0.16 * 2 / 0.01**2
    assert r.n_control == pytest.approx(expected, rel=1e-6)
    back = metric_power(var, test="equivalence", margin=0.01, n_per_arm=r.n_control,
                        power=None)
    assert back.power == pytest.approx(0.8, abs=1e-8)


def test_plan_names_binding_metric_and_months():
    variances = {"csat": MetricVariance("csat", 0.85, 0.6, 1.2),
                 "questions": MetricVariance("questions", 1.2, 1.7),
                 "nrr": MetricVariance("nrr", 0.95, 0.43)}
    d = plan_experiment(variances, eligible_per_month=10_000,
                        rel_mde={"csat": -0.0125, "questions": -0.04}, nrr_margin=0.02)
    n = {m: metric_power(variances[m], rel_mde=e).n_control
         for m, e in {"csat": -0.0125, "questions": -0.04}.items()}
    assert d.binding_metric == "csat"
    assert d.n_control == math.ceil(n["csat"])
    assert d.months == pytest.approx(2 * d.n_control / 10_000)
    row = d.table.set_index("metric")
    assert row.loc["nrr", "test"] == "equivalence"
    assert row.loc["questions", "months"] == pytest.approx(2 * n["questions"] / 10_000)
    assert d.plan.n_per_arm == d.n_control
    assert d.plan.nrr_margin == 0.02
    assert "binding metric: csat" in d.summary()


def test_plan_with_looks_inflates_by_sequential_factor():
    variances = {"questions": MetricVariance("questions", 1.2, 1.7)}
    fixed = plan_experiment(variances, rel_mde={"questions": -0.04})
    seq = plan_experiment(variances, rel_mde={"questions": -0.04}, looks=5)
    factor = sequential_bounds(5).inflation(0.8)
    assert seq.table["n_control"].iloc[0] == pytest.approx(
        fixed.table["n_control"].iloc[0] * factor, rel=1e-9)
    assert seq.plan.looks == 5


def test_one_sided_less_plan_with_looks_mirrors_greater():
    # Testing for a drop (alternative "less") with monthly looks sizes the trial as testing
    # for the mirrored rise; it used to fail inside the sequential power search.
    variances = {"questions": MetricVariance("questions", 1.2, 1.7)}
    less = plan_experiment(variances, rel_mde={"questions": -0.04}, alternative="less",
                           looks=5)
    greater = plan_experiment(variances, rel_mde={"questions": 0.04}, alternative="greater",
                              looks=5)
    assert less.n_control == greater.n_control
    assert less.inflation == pytest.approx(sequential_bounds(5, alternative="greater")
                                           .inflation(0.8), rel=1e-9)
    assert less.bounds is not None
    assert less.bounds.bounds[-1] < 0


@pytest.mark.parametrize("spending", ["obrien-fleming", "pocock"])
@pytest.mark.parametrize(("alternative", "rel"), [("two-sided", -0.0125), ("less", -0.0125),
                                                  ("greater", 0.0125)])
def test_power_of_a_fixed_sequential_trial_is_the_plans_crossing_probability(
        spending, alternative, rel):
    # The power reported for a given trial size with looks is the probability that the plan's
    # boundaries are crossed at some look, at E[Z(1)] = effect / se at the maximum size
    # (Jennison and Turnbull 2000, ch. 19), not the fixed-design power at n / inflation
    # (which overstated a 5-look Pocock plan's 0.343 as 0.363).
    v = MetricVariance("csat", 0.85, 0.6, 1.2)
    n = 20_000
    d = plan_experiment({"csat": v}, n_per_arm=n, looks=5, spending=spending,
                        alternative=alternative, rel_mde={"csat": rel})
    drift = 0.85 * rel / (0.6 * math.sqrt(2 / n))
    bounds = sequential_bounds(5, spending=spending, alternative=alternative)
    assert d.table["power"].iloc[0] == pytest.approx(bounds.rejection_probability(drift),
                                                     abs=1e-9)
    # and at the MDE the design reports, the plan has the target power
    mde = plan_experiment({"csat": v}, n_per_arm=n, looks=5, spending=spending,
                          alternative=alternative)
    drift_mde = mde.table["mde"].iloc[0] / (0.6 * math.sqrt(2 / n))
    assert bounds.rejection_probability(drift_mde) == pytest.approx(0.8, abs=2e-3)


def test_fixed_duration_reports_mde():
    variances = {"questions": MetricVariance("questions", 1.2, 1.7),
                 "csat": MetricVariance("csat", 0.85, 0.6, 1.2)}
    d = plan_experiment(variances, eligible_per_month=8_000, months=5)
    n = 5 * 8_000 / 2
    row = d.table.set_index("metric")
    assert row.loc["csat", "rel_mde"] == pytest.approx(
        metric_power(variances["csat"], n_per_arm=n).rel_mde)
    assert d.binding_metric == "questions"  # larger relative MDE at equal power


def test_monte_carlo_confirms_analytic_power(history):
    # Seeded simulation on sufficient statistics; tolerance = 4 simulation standard errors.
    customers, conversations = history
    v = estimate_variances(customers, conversations)
    model, n, reps = ParametricModel(), 2_000, 300
    effects = {"questions": -0.1, "csat": -0.04, "nrr": 0.04}
    rng = np.random.default_rng(2026)
    control = arm_sums(model, n, reps, rng)
    treatment = arm_sums(model, n, reps, rng, effects)
    for metric, effect in effects.items():
        analytic = metric_power(v[metric], n_per_arm=n, rel_mde=effect, power=None).power
        observed = np.mean(np.abs(z_statistics(control, treatment, metric)) >= Z975)
        se = math.sqrt(analytic * (1 - analytic) / reps)
        assert abs(observed - analytic) < 4 * se, (metric, analytic, observed)


def test_bad_inputs():
    v = MetricVariance("questions", 1.2, 1.7)
    with pytest.raises(ValueError, match="exactly one"):
        metric_power(v, n_per_arm=100, rel_mde=0.1, power=0.8)
    with pytest.raises(ValueError, match="needs a margin"):
        metric_power(v, test="equivalence")
    with pytest.raises(ValueError, match="rel_mde names metrics"):
        plan_experiment({"questions": v}, rel_mde={"csat": -0.01})
    with pytest.raises(ValueError, match="months needs eligible_per_month"):
        plan_experiment({"questions": v}, months=5)
    with pytest.raises(ValueError, match="sd, design_effect"):
        MetricVariance("questions", 1.0, 0.0)
    with pytest.raises(DataError, match="at least 3 customers"):
        estimate_variances(
            pd.DataFrame({"customer_id": ["a"], "monthly_spend": [1.0],
                          "revenue_start": [1.0], "revenue_end": [1.0]}),
            pd.DataFrame({c: [] for c in ["conversation_id", "customer_id", "created_at",
                                          "first_response_at", "handle_seconds", "csat",
                                          "csat_scale"]}))


def test_variances_from_simulated_history():
    # The scenario simulator writes canonical tables: the design reads them directly.
    from frt_experiments.simulate import simulate

    trial = simulate(customers=3_000, rng=1)
    fast = trial.assignments.loc[trial.assignments["arm"] == "fast", "customer_id"]
    customers = trial.customers[trial.customers["customer_id"].isin(fast)]
    conversations = trial.conversations[trial.conversations["customer_id"].isin(fast)]
    v = estimate_variances(customers, conversations)
    assert set(v) == {"questions", "csat", "nrr", "efficiency"}
    assert 0 < v["csat"].baseline < 1
    assert v["csat"].units_per_customer == pytest.approx(
        conversations["csat"].notna().sum() / len(customers))
    design = plan_experiment(v, eligible_per_month=2_000, rel_mde={"csat": -0.0125})
    assert design.binding_metric == "csat"


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"rel_mde": -0.01, "n_per_arm": -5, "power": None}, "n_per_arm must be positive"),
    ({"test": "non-inferiority", "margin": -0.02, "n_per_arm": -5, "power": None},
     "n_per_arm must be positive"),
    ({"test": "non-inferiority", "margin": -0.02, "ratio": -1}, "ratio must be positive"),
    ({"rel_mde": -0.01, "alpha": 1.5}, "alpha must be in"),
    ({"rel_mde": float("nan")}, "rel_mde must be a finite number"),
    ({"test": "equivalence", "margin": 1.5}, "equivalence margin must be relative"),
    ({"rel_mde": -0.01, "alternative": "both"}, "alternative must be one of"),
])
def test_bad_power_arguments_are_named(kwargs, message):
    var = MetricVariance("csat", 0.85, 0.6)
    with pytest.raises(ValueError, match=message):
        metric_power(var, **kwargs)


def test_plan_rejects_what_is_not_a_variance():
    with pytest.raises(TypeError, match="variances: values must be MetricVariance"):
        plan_experiment({"csat": 0.6}, rel_mde={"csat": -0.01})
    with pytest.raises(ValueError, match="n_per_arm must be a positive number"):
        plan_experiment({"csat": MetricVariance("csat", 0.85, 0.6)}, n_per_arm=-3)


@pytest.mark.parametrize(("kwargs", "message"), [
    # an effect of zero, or one pointing away from a one-sided alternative, names rel_mde
    ({"rel_mde": 0.0}, r"rel_mde/mde must be non-zero"),
    ({"rel_mde": 0.02, "alternative": "less"}, r"rel_mde/mde \+0.017 .* alternative='less'"),
    ({"mde": -0.02, "alternative": "greater"}, r"rel_mde/mde -0.02 .*alternative='greater'"),
    # the missing quantities are listed by their argument names
    ({"power": None}, r"missing: \['n_per_arm', 'rel_mde/mde', 'power'\]"),
])
def test_effect_arguments_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        metric_power(MetricVariance("csat", 0.85, 0.6), **kwargs)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"power": 1.2}, r"^power must be in \(0, 1\)"),
    ({"alpha": 0.0}, r"^alpha must be in \(0, 1\)"),
    ({"looks": 0}, r"^looks must be a positive integer"),
    ({"looks": [0.5, 0.3, 1.0]}, r"^looks: information fractions must be increasing"),
    ({"spending": "haybittle"}, r"^spending must be one of"),
])
def test_plan_arguments_are_named(kwargs, message):
    # plan_experiment names its own arguments, not the plan file's keys
    with pytest.raises(ValueError, match=message):
        plan_experiment({"csat": MetricVariance("csat", 0.85, 0.6)},
                        rel_mde={"csat": -0.01}, **kwargs)


def test_design_effect_of_clustered_ratings_matches_kish():
    # Kish (1965, 8.2) with unequal cluster sizes m and intra-customer correlation rho:
    # deff = 1 + rho (E[m^2] / E[m] - 1). Ratings m ~ Poisson(3) (no over-dispersion, every
    # contact rated) and satisfaction propensity ~ Beta with concentration 4, so rho = 1/5 and
    # E[m^2]/E[m] = 4: deff = 1.6. Tolerance: 4 standard errors of the variance estimate,
    # from the per-customer linearized values themselves.
    model = ParametricModel(contact_rate=3.0, dispersion=1e6, response_rate=1.0,
                            csat_concentration=4.0)
    customers, conversations = history_tables(model, 20_000, np.random.default_rng(21))
    v = estimate_variances(customers, conversations)["csat"]
    sat = (conversations["csat"] == "good").astype(float)
    per = pd.DataFrame({"y": sat, "x": 1.0}).groupby(conversations["customer_id"]).sum()
    per = per.reindex(customers["customer_id"], fill_value=0.0)
    u2 = ((per["y"] - v.baseline * per["x"]) / per["x"].mean()).to_numpy() ** 2
    se = v.design_effect * u2.std(ddof=1) / (math.sqrt(len(u2)) * u2.mean())
    assert v.design_effect == pytest.approx(1.6, abs=4 * se)
    assert 4 * se < 0.15  # the check can fail: deff 1 (no clustering) is far outside
