"""Experiment plan files: round trip, defaults and validation messages naming the key."""

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
