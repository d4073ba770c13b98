"""Scenarios: presets load, files are validated with errors naming the key."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import pytest

from frt_experiments.errors import ScenarioError
from frt_experiments.simulate import PRESETS, Scenario, load_scenario, scenario_to_toml
from frt_experiments.simulate.effects import calibrate_csat

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("name", PRESETS)
def test_presets_load_and_match_simulations_folder(name: str) -> None:
    packaged = resources.files("frt_experiments").joinpath(f"scenarios/{name}.toml")
    assert packaged.read_text() == (ROOT / "simulations" / f"{name}.toml").read_text()
    assert load_scenario(name).name == name


@pytest.mark.parametrize("name", PRESETS)
def test_preset_dose_response_is_the_calibrated_one(name: str) -> None:
    sc = load_scenario(name)
    cal = calibrate_csat(sc)
    assert cal.intercept == pytest.approx(sc.csat.intercept, abs=1e-6)
    assert cal.slope == pytest.approx(sc.csat.slope, abs=1e-6)


def test_resolved_toml_round_trips(tmp_path: Path) -> None:
    sc = load_scenario("published").with_(window={"months": 2.0, "customers": 7})
    path = tmp_path / "resolved.toml"
    path.write_text(scenario_to_toml(sc))
    assert load_scenario(path) == sc


@pytest.mark.parametrize(("text", "message"), [
    ("[window]\nmonth = 5\n", "unknown key window.month"),
    ("[speed]\nx = 1\n", "unknown section or key 'speed'"),
    ("[window]\nmonths = -1\n", "window.months = -1.0 must be > 0.0"),
    ("[window]\nmonths = \"five\"\n", "window.months must be a number"),
    ("[conversations]\nsurvey_response = 1.5\n",
     "conversations.survey_response = 1.5 must be <= 1.0"),
    ("[frt]\ntimezone = \"Mars/Base\"\n", "'Mars/Base' is not a known IANA zone"),
    ("[frt]\nopen_hour = 18.0\n", "frt.close_hour = 17.0 must be later than frt.open_hour"),
    ("[effects]\nweights = [1.0]\n", "effects.weights must have one weight per entry"),
    ("[conversations]\nday_weights = [1.0, 2.0]\n", "conversations.day_weights must be 7"),
    ("[window]\nstart = \"2025-01-06\"\n", "window.start = '2025-01-06' needs an offset"),
    ("[window\n", "not valid TOML"),
])
def test_bad_scenarios_name_file_and_key(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ScenarioError, match=r"bad\.toml") as info:
        load_scenario(path)
    assert message in str(info.value)


def test_unknown_preset_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match="not a preset"):
        load_scenario("publishd")
    with pytest.raises(ScenarioError, match=r"missing\.toml: scenario file not found"):
        load_scenario(tmp_path / "missing.toml")


def test_with_rejects_unknown_section() -> None:
    with pytest.raises(ScenarioError, match=r"unknown section \[nope\]"):
        Scenario().with_(nope={"a": 1})
