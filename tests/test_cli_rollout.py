"""`frt rollout` end to end, in process: a published-desk trial simulated by `frt simulate`, the
frontier over slow-arm targets written as one output set, and bad input refused in one line with
exit 2 and nothing written."""

from __future__ import annotations

import pandas as pd
import pytest

from frt_experiments.cli import main


@pytest.fixture(scope="module")
def trial(tmp_path_factory):
    d = tmp_path_factory.mktemp("rollout")
    assert main(["simulate", "--scenario", "published-desk", "--customers", "4000", "--seed",
                 "7", "--out", str(d / "trial")]) == 0
    return d


def _tables(d) -> list[str]:
    t = d / "trial"
    return ["--customers", str(t / "customers.csv"), "--conversations",
            str(t / "conversations.csv"), "--assignments", str(t / "assignments.csv")]


_HELD = ["--headcount", "7", "--rollout-headcounts", "4h=7,8h=5,12h=4"]


def test_rollout_writes_the_frontier(trial, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["rollout", *_tables(trial), "--out", str(out), "--revenue-per-year",
                 "1300000", "--targets", "4h,8h,12h", *_HELD, "--replications", "3",
                 "--seed", "1"]) == 0, capsys.readouterr().err
    captured = capsys.readouterr()
    assert "Rollout frontier over 3 slow-arm targets" in captured.out
    assert "wrote" in captured.out
    assert sorted(p.name for p in out.iterdir()) == [
        "manifest.json", "rollout_frontier.csv", "rollout_frontier.md", "rollout_frontier.png"]
    table = pd.read_csv(out / "rollout_frontier.csv")
    assert table["target"].tolist() == ["4h", "8h", "12h"]
    assert table["agents_rollout"].tolist() == [7, 5, 4]
    assert table["recommended"].sum() <= 1
    md = (out / "rollout_frontier.md").read_text()
    assert md.startswith("# Rollout frontier")
    assert "Desk calendar: America/New_York" in md
    # the default CSAT rule is the estimate's; whether non-inferiority is shown is a column,
    # and where it recommends a target without it the caution is a line of its own
    assert (table["csat_ok"] == (table["csat_rel_change"] > -0.02)).all()
    assert (table["csat_shown"] == (table["csat_rel_ci_low"] > -0.02)).all()
    rec = table[table["recommended"]]
    cautioned = len(rec) == 1 and not bool(rec["csat_shown"].iloc[0])
    lines = captured.out.splitlines()
    assert any(line.startswith("caution: CSAT non-inferiority is not yet shown at ")
               for line in lines) is cautioned
    assert ("**Caution:** CSAT non-inferiority is not yet shown" in md) is cautioned
    if cautioned:
        bound = float(rec["csat_rel_ci_low"].iloc[0])
        assert f"its predicted change, {bound:+.2%}, is not above the -2.00% margin" in md


def test_rollout_csat_basis_ci_bound(trial, tmp_path, capsys):
    out = tmp_path / "bound"
    assert main(["rollout", *_tables(trial), "--out", str(out), "--revenue-per-year",
                 "1300000", "--targets", "4h,8h,12h", *_HELD, "--replications", "3",
                 "--seed", "1", "--csat-basis", "ci_bound"]) == 0, capsys.readouterr().err
    captured = capsys.readouterr()
    assert "lower 95% bound of its predicted relative change" in captured.out
    assert "caution:" not in captured.out
    table = pd.read_csv(out / "rollout_frontier.csv")
    assert (table["csat_ok"] == (table["csat_rel_ci_low"] > -0.02)).all()
    assert (table["csat_ok"] == table["csat_shown"]).all()


def test_rollout_plans_the_headcounts(trial, tmp_path, capsys):
    out = tmp_path / "planned"
    assert main(["rollout", *_tables(trial), "--out", str(out), "--revenue-per-year",
                 "1300000", "--targets", "4h,12h", "--replications", "2", "--weeks", "2"]) == 0, \
        capsys.readouterr().err
    table = pd.read_csv(out / "rollout_frontier.csv")
    assert table["agents_everyone_fast"].nunique() == 1
    assert table.loc[1, "agents_rollout"] < table.loc[1, "agents_everyone_fast"]


def test_a_dose_response_file_on_the_same_calendar_is_accepted(trial, tmp_path, capsys):
    dr = tmp_path / "dr"
    assert main(["dose-response", *_tables(trial), "--out", str(dr)]) == 0, \
        capsys.readouterr().err
    out = tmp_path / "out"
    assert main(["rollout", *_tables(trial), "--out", str(out), "--revenue-per-year", "1e6",
                 "--targets", "8h", "--headcount", "7", "--rollout-headcounts", "8h=5",
                 "--replications", "2", "--dose-response", str(dr / "dose_response.csv")]) == 0, \
        capsys.readouterr().err


def _refused(args: list[str], out, capsys, match: str) -> None:
    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert match in err[0], err[0]
    assert not out.exists() or not any(out.iterdir())


def test_a_rollout_headcount_the_desk_cannot_sustain(trial, tmp_path, capsys):
    out = tmp_path / "out"
    _refused(["rollout", *_tables(trial), "--out", str(out), "--revenue-per-year", "1e6",
              "--targets", "8h,12h", "--headcount", "7", "--rollout-headcounts", "8h=5,12h=1",
              "--replications", "2"], out, capsys,
             "error: rollout_headcounts['12h']: 1 agents cannot carry the offered work")


@pytest.mark.parametrize("targets", ["8h,60h", "2h", "8h,banana"])
def test_a_target_grid_outside_the_calendars_range(trial, tmp_path, capsys, targets):
    out = tmp_path / "out"
    _refused(["rollout", *_tables(trial), "--out", str(out), "--revenue-per-year", "1e6",
              "--targets", targets, "--replications", "2"], out, capsys, "error: targets: ")


def test_a_dose_response_from_another_calendar(trial, tmp_path, capsys):
    dr = tmp_path / "dr"
    assert main(["dose-response", *_tables(trial), "--out", str(dr), "--hours", "24/7"]) == 0, \
        capsys.readouterr().err
    capsys.readouterr()
    out = tmp_path / "out"
    _refused(["rollout", *_tables(trial), "--out", str(out), "--revenue-per-year", "1e6",
              "--targets", "8h", "--headcount", "7", "--rollout-headcounts", "8h=5",
              "--replications", "2", "--dose-response", str(dr / "dose_response.csv")],
             out, capsys, "another calendar")


@pytest.mark.parametrize(("extra", "match"), [
    (["--headcount", "7"], "--headcount: give both"),
    (["--headcount", "7", "--rollout-headcounts", "8h=x"], "not a whole number"),
    (["--csat-margin", "0.5"], "csat_margin"),
])
def test_bad_flags(trial, tmp_path, capsys, extra, match):
    out = tmp_path / "out"
    _refused(["rollout", *_tables(trial), "--out", str(out), "--revenue-per-year", "1e6",
              "--targets", "8h", "--replications", "2", *extra], out, capsys, match)
