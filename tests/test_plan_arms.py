"""A plan's [arms]: round trip, and errors naming the file, the section and the arm."""

import pytest

from frt_experiments.errors import ScenarioError
from frt_experiments.plan import ExperimentPlan, read_plan, write_plan

ARMS = {"fast": "4h", "four_hours": "4h", "one_business_day": "one_business_day",
        "two_business_days": "two_business_days"}


def test_round_trip_keeps_the_arms_in_order(tmp_path):
    plan = ExperimentPlan(name="k", arms=ARMS, weights={"fast": 0.4, "four_hours": 0.2,
                                                        "one_business_day": 0.2,
                                                        "two_business_days": 0.2})
    path = write_plan(plan, tmp_path / "plan.toml")
    assert "[arms]\nfast = \"4h\"\nfour_hours = \"4h\"" in path.read_text()
    back = read_plan(path)
    assert back == plan
    assert list(back.arms) == list(ARMS)
    assert "arms: fast (4h), four_hours (4h)" in back.summary()
    assert read_plan(write_plan(ExperimentPlan(name="two"), tmp_path / "p2.toml")).arms is None


@pytest.mark.parametrize(("body", "message"), [
    ('[arms]\nfast = "4h"\n', "plan.toml: arms: a trial needs at least two arms"),
    ('[arms]\nfast = "4h"\nslow = "3 days"\n',
     "plan.toml: arms: arm 'slow': unknown FRT policy '3 days'"),
    ('[arms]\nfast = "4h"\nslow = 4\n', "plan.toml: arms: arm 'slow': expected an FRT policy"),
    ('[arms]\nfast = "4h"\nslow = "one_business_day"\n[weights]\nfast = 0.5\nother = 0.5\n',
     "plan.toml: weights: arm 'other' is not in [arms]"),
    ('[arms]\nfast = "4h"\nslow = "one_business_day"\nthird = "2h"\n'
     '[weights]\nfast = 0.5\nslow = 0.5\n', "plan.toml: arms: arm 'third' has no share in"),
    ('[arms]\nslow = "4h"\n[arms.fast]\nx = 1\n',
     "plan.toml: arms: arm 'fast': expected an FRT policy"),
])
def test_bad_arms_name_the_file_section_and_arm(tmp_path, body, message):
    path = tmp_path / "plan.toml"
    path.write_text('[experiment]\nname = "k"\n' + body)
    with pytest.raises(ScenarioError, match=message.replace("[", r"\[").replace("]", r"\]")):
        read_plan(path)
