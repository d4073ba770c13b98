"""Experiment plan files: round trip, defaults and validation messages naming the key."""

import math

import pytest

from frt_experiments.errors import ScenarioError
from frt_experiments.plan import ExperimentPlan, read_plan, write_plan

FULL = """\
[experiment]
name = "frt-low-spend"
alpha = 0.05
alternative = "two-sided"

[margins]
csat = -0.02
nrr = 0.01

[monitoring]
looks = 5
spending = "obrien-fleming"
"""


def test_read_agreed_layout(tmp_path):
    path = tmp_path / "plan.toml"
    path.write_text(FULL)
    plan = read_plan(path)
    assert plan == ExperimentPlan(name="frt-low-spend", alpha=0.05, csat_margin=-0.02,
                                  nrr_margin=0.01, looks=5)
    assert plan.information_fractions == pytest.approx([0.2, 0.4, 0.6, 0.8, 1.0])
    assert "5 looks" in plan.summary()


def test_round_trip_with_all_fields(tmp_path):
    plan = ExperimentPlan(name='x "quoted"', alpha=0.1, alternative="less", csat_margin=-0.0125,
                          nrr_margin=0.02, looks=3, spending="pocock",
                          information=(0.3, 0.7, 1.0), power=0.9, n_per_arm=1234, months=4.5)
    path = write_plan(plan, tmp_path / "p.toml")
    assert read_plan(path) == plan
    assert list(tmp_path.iterdir()) == [path]  # no temporary file left behind


def test_minimal_plan_defaults(tmp_path):
    path = tmp_path / "p.toml"
    path.write_text('[experiment]\nname = "a"\n')
    plan = read_plan(path)
    assert (plan.alpha, plan.alternative, plan.looks, plan.csat_margin) == (
        0.05, "two-sided", None, None)
    assert plan.information_fractions == (1.0,)
    assert plan.to_pandas()["alpha"] == 0.05
    assert plan.weights is None  # a plan without [weights] stays valid: equal arms


@pytest.mark.parametrize(("text", "message"), [
    ('[experiment]\nname = "a"\nalpha = 1.5\n', "experiment.alpha"),
    ('[experiment]\nname = "a"\nalternative = "two_sided"\n', "experiment.alternative"),
    ('[experiment]\nname = "a"\n[margins]\ncsat = 0.02\n', "margins.csat"),
    ('[experiment]\nname = "a"\n[margins]\ncsat = 0.0\n', "margins.csat"),
    ('[experiment]\nname = "a"\n[margins]\nnrr = -0.01\n', "margins.nrr"),
    ('[experiment]\nname = "a"\n[margins]\nbogus = 1\n', "margins.bogus"),
    ('[experiment]\nname = "a"\n[monitoring]\nlooks = 0\n', "monitoring.looks"),
    ('[experiment]\nname = "a"\n[monitoring]\nspending = "haybittle"\n', "monitoring.spending"),
    ('[experiment]\nname = "a"\n[monitoring]\nlooks = 2\ninformation = [0.6, 0.5]\n',
     "monitoring.information"),
    ('[experiment]\nname = "a"\n[monitoring]\nlooks = 3\ninformation = [0.5, 1.0]\n',
     "monitoring.looks is 3"),
    ('[experiment]\nalpha = 0.05\n', "experiment.name"),
    ('[experiment]\nname = "a"\n[extra]\nx = 1\n', "[extra]"),
    ('[experiment\nname = "a"\n', "not valid TOML"),
    ('[experiment]\nname = "a"\n[weights]\nfast = 0.9\none_business_day = 0.2\n',
     "weights: the shares must sum to 1, got 1.1"),
    ('[experiment]\nname = "a"\n[weights]\nfast = 1.1\none_business_day = -0.1\n',
     "share of arm 'one_business_day' must be a positive finite number, got -0.1"),
    ('[experiment]\nname = "a"\n[weights]\nfast = 1\n', "at least two arms"),
    ('[experiment]\nname = "a"\n[weights]\nfast = "0.9"\nslow = 0.1\n',
     "share of arm 'fast' must be a positive finite number, got '0.9'"),
    ('weights = 0.9\n[experiment]\nname = "a"\n', "weights must be a table [weights]"),
])
def test_invalid_plans_name_file_and_key(tmp_path, text, message):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ScenarioError, match=r"bad\.toml") as info:
        read_plan(path)
    assert message in str(info.value)


def test_constructor_validates():
    with pytest.raises(ScenarioError, match=r"experiment\.alpha"):
        ExperimentPlan(name="a", alpha=0)


WEIGHTED = FULL + """
[weights]
fast = 0.9
one_business_day = 0.1
"""


def test_weights_are_read_written_and_compared_as_an_allocation(tmp_path):
    path = tmp_path / "plan.toml"
    path.write_text(WEIGHTED)
    plan = read_plan(path)
    assert plan.weights == {"fast": 0.9, "one_business_day": 0.1}
    assert list(plan.weights) == ["fast", "one_business_day"]  # control first, as written
    assert "allocation: fast 0.9, one_business_day 0.1" in plan.summary()
    # round trip, with an arm name TOML must quote
    odd = ExperimentPlan(name="b", power=0.8, n_per_arm=40_000,
                         weights={"fast": 0.75, "one business day": 0.25})
    out = write_plan(odd, tmp_path / "odd.toml")
    assert '"one business day" = 0.25' in out.read_text()
    assert read_plan(out) == odd
    # the plan keeps its own copy; equal plans hash alike whatever the order of the arms
    given = {"fast": 0.9, "one_business_day": 0.1}
    mine = ExperimentPlan(name="frt-low-spend", csat_margin=-0.02, nrr_margin=0.01, looks=5,
                          weights=given)
    given["fast"] = 0.5
    swapped = ExperimentPlan(name="frt-low-spend", csat_margin=-0.02, nrr_margin=0.01, looks=5,
                             weights={"one_business_day": 0.1, "fast": 0.9})
    assert mine == plan == swapped
    assert len({mine, plan, swapped}) == 1
    assert plan != ExperimentPlan(name="frt-low-spend", csat_margin=-0.02, nrr_margin=0.01,
                                  looks=5)
    assert plan.to_pandas()["weights"] == {"fast": 0.9, "one_business_day": 0.1}


def test_three_arm_weights_sum_to_one_within_rounding():
    third = 1 / 3
    plan = ExperimentPlan(name="a", weights={"fast": third, "one_business_day": third,
                                             "two_business_days": third})
    assert plan.weights is not None
    assert len(plan.weights) == 3
    with pytest.raises(ScenarioError, match=r"weights: the shares must sum to 1, got 1\.000001"):
        ExperimentPlan(name="a", weights={"fast": 0.500001, "one_business_day": 0.5})
    with pytest.raises(ScenarioError, match="weights must map each arm to its share"):
        ExperimentPlan(name="a", weights=[0.9, 0.1])  # type: ignore[arg-type]


def test_a_design_with_weights_sizes_the_arms_and_writes_them_to_the_plan(tmp_path):
    """plan_experiment(weights=...) sizes the arms in the allocation's ratio (z test:
    n_control = (z_a + z_b)^2 sd^2 (1 + 1/ratio) / d^2 with ratio = 0.1/0.9) and the plan it
    writes carries the weights back to the analysis."""
    from scipy import stats

    from frt_experiments.design import MetricVariance, plan_experiment

    v = {"questions": MetricVariance("questions", 1.2, 1.7)}
    w = {"fast": 0.9, "one_business_day": 0.1}
    d = plan_experiment(v, rel_mde={"questions": -0.04}, eligible_per_month=8000, weights=w,
                        name="frt-low-spend")
    n_c = (stats.norm.isf(0.025) + stats.norm.isf(0.2)) ** 2 * 1.7**2 * 10 / (0.04 * 1.2) ** 2
    assert d.n_control == math.ceil(n_c)
    assert d.n_treatment == math.ceil(d.n_control / 9 - 1e-9)
    assert d.plan.weights == w
    assert d.plan.n_per_arm == d.n_control
    assert read_plan(write_plan(d.plan, tmp_path / "plan.toml")) == d.plan
    # the ratio the weights imply may be given too; another one is an error
    same = plan_experiment(v, rel_mde={"questions": -0.04}, weights=w, ratio=1 / 9)
    assert same.n_control == d.n_control
    with pytest.raises(ValueError, match=r"ratio=2 disagrees with the weights' "
                                         r"one_business_day/fast = 0\.111111"):
        plan_experiment(v, rel_mde={"questions": -0.04}, weights=w, ratio=2)
    with pytest.raises(ValueError, match="weights: the plan sizes two arms"):
        plan_experiment(v, rel_mde={"questions": -0.04},
                        weights={"fast": 0.5, "one_business_day": 0.25, "b": 0.25})
