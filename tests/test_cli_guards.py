"""The command line keeps the Python API's guards (issue 14, item 4).

- ``frt analyze`` writes the diagnostics' trust flags to ``trust.json`` beside results.csv, and
  ``frt decide`` / ``frt staffing plan --results`` give the verdict Python gives (inconclusive
  on a sample ratio mismatch); a results.csv without it still decides, with a note.
- One default desk calendar (the simulator's New York desk) in every command, printed.
- Arms named other than ``fast``/``one_business_day`` get their policy by role.
- A command leaves only its own run's files of its output names in ``--out``.
"""

import json

import pandas as pd
import pytest

from frt_experiments._commands._args import DEFAULT_DESK
from frt_experiments.analysis import RESULT_COLUMNS, analyze
from frt_experiments.cli import main
from frt_experiments.decision import TRUST_FILE, decide
from frt_experiments.diagnostics import default_calendar, describe_calendar, diagnose
from frt_experiments.errors import SampleRatioMismatchWarning
from frt_experiments.plan import ExperimentPlan, write_plan
from frt_experiments.policy import default_policies
from frt_experiments.simulate import simulate

NEW_YORK = "America/New_York, Mon-Fri 09:00-17:00, US holidays"
MONEY = ["--revenue-per-year", "1e6", "--staffing-savings", "5e5"]


@pytest.fixture(scope="module")
def trial():
    return simulate("published", customers=4_000, months=2, rng=7)


@pytest.fixture(scope="module")
def files(trial, tmp_path_factory):
    d = tmp_path_factory.mktemp("trial")
    trial.write(d, format="csv")
    return d


@pytest.fixture(scope="module")
def srm_files(trial, tmp_path_factory):
    """The trial with a third of the slow arm's customers lost from the assignments."""
    d = tmp_path_factory.mktemp("srm")
    trial.write(d, format="csv")
    asg = trial.assignments
    slow = asg.index[asg["arm"] == "one_business_day"]
    lost = asg.drop(index=slow[: len(slow) // 3])
    lost = lost.assign(assigned_at=lost["assigned_at"].dt.strftime("%Y-%m-%dT%H:%M:%S+00:00"))
    lost.to_csv(d / "assignments.csv", index=False)
    return d, lost


@pytest.fixture(scope="module")
def renamed_files(trial, tmp_path_factory):
    """The trial with its arms named control and treatment."""
    d = tmp_path_factory.mktemp("renamed")
    trial.write(d, format="csv")
    asg = pd.read_csv(d / "assignments.csv")
    asg["arm"] = asg["arm"].map({"fast": "control", "one_business_day": "treatment"})
    asg.to_csv(d / "assignments.csv", index=False)
    return d


def _analyze(d, out, *extra):
    return ["analyze", "--customers", str(d / "customers.csv"),
            "--conversations", str(d / "conversations.csv"),
            "--assignments", str(d / "assignments.csv"), "--out", str(out), *extra]


def _plan(d, out, *extra):
    return ["staffing", "plan", "--conversations", str(d / "conversations.csv"),
            "--assignments", str(d / "assignments.csv"), "--weeks", "1", "--targets", "4",
            "--out", str(out), *extra]


# ------------------------------------------------------------------ trust flags reach the CLI
def test_sample_ratio_mismatch_makes_frt_decide_inconclusive_as_in_python(
        trial, srm_files, tmp_path, capsys):
    d, lost = srm_files
    out = tmp_path / "out"
    assert main(_analyze(d, out)) == 0
    capsys.readouterr()
    assert tuple(pd.read_csv(out / "results.csv").columns) == RESULT_COLUMNS  # unchanged
    record = json.loads((out / TRUST_FILE).read_text())
    assert record["sample_ratio_mismatch"] is True
    assert record["trust_problems"][0].startswith("sample ratio mismatch (p = ")
    assert record["desk_calendar"].startswith(NEW_YORK)
    with pytest.warns(SampleRatioMismatchWarning):
        result = analyze(trial.customers, trial.conversations, lost)
    python = decide(result, low_spend_revenue_per_year=1e6, annual_staffing_savings=5e5)
    assert python.verdict == "inconclusive"
    assert main(["decide", "--results", str(out / "results.csv"), *MONEY]) == 0
    text = capsys.readouterr().out
    assert text.startswith("Decision: inconclusive -- The trial cannot support a decision: "
                           "sample ratio mismatch")
    assert python.trust_problems[0] in text
    # Python given the path reads the sidecar too
    assert decide(out / "results.csv", low_spend_revenue_per_year=1e6,
                  annual_staffing_savings=5e5).verdict == "inconclusive"


def test_staffing_plan_with_results_is_inconclusive_on_a_mismatch(srm_files, files, tmp_path,
                                                                  capsys):
    d, _ = srm_files
    out = tmp_path / "out"
    assert main(_analyze(d, out)) == 0
    capsys.readouterr()
    plan = tmp_path / "plan"
    assert main(_plan(files, plan, "--results", str(out / "results.csv"),
                      "--revenue-per-year", "1e6")) == 0
    text = capsys.readouterr().out
    assert "Decision: inconclusive" in text
    md = (plan / "decision.md").read_text()
    assert md.startswith("**Decision: inconclusive.**")
    assert f"Staffing desk calendar: {NEW_YORK}" in md


def test_a_sound_trial_decides_and_results_without_sidecar_say_trust_was_not_checked(
        files, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(_analyze(files, out)) == 0
    capsys.readouterr()
    record = json.loads((out / TRUST_FILE).read_text())
    assert record["trust_problems"] == []
    assert record["diagnostics"] is True
    assert main(["decide", "--results", str(out / "results.csv"), *MONEY]) == 0
    text = capsys.readouterr().out
    assert not text.startswith("Decision: inconclusive")
    assert "trust could not be checked" not in text
    # an older or hand-made results.csv: still decided, with a note
    alone = tmp_path / "alone"
    alone.mkdir()
    (alone / "results.csv").write_bytes((out / "results.csv").read_bytes())
    assert main(["decide", "--results", str(alone / "results.csv"), *MONEY]) == 0
    text = capsys.readouterr().out
    assert "Note: trust could not be checked: results.csv has no trust.json beside it" in text
    # a results.csv changed since frt analyze wrote it: not the set its manifest lists...
    edited = (out / "results.csv").read_text().replace("csat", "csat", 1) + "\n"
    (out / "results.csv").write_text(edited)
    assert main(["decide", "--results", str(out / "results.csv"), *MONEY]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: results.csv: does not match the set frt analyze wrote")
    assert err.count("\n") == 1
    # ... and with the manifest deleted (an intended edit), its sidecar no longer vouches for it
    (out / "manifest.json").unlink()
    assert main(["decide", "--results", str(out / "results.csv"), *MONEY]) == 0
    assert "was written for another version of it" in capsys.readouterr().out
    # an analysis without diagnostics says so
    nodiag = tmp_path / "nodiag"
    assert main(_analyze(files, nodiag, "--no-diagnostics")) == 0
    capsys.readouterr()
    assert main(["decide", "--results", str(nodiag / "results.csv"), *MONEY]) == 0
    assert "the analysis ran without diagnostics" in capsys.readouterr().out


def test_a_broken_sidecar_is_an_error_naming_it(files, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(_analyze(files, out, "--no-diagnostics")) == 0
    capsys.readouterr()
    (out / TRUST_FILE).write_text("{not json")
    assert main(["decide", "--results", str(out / "results.csv"), *MONEY]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: trust.json: cannot be read")
    assert len(err.strip().splitlines()) == 1
    plan = tmp_path / "plan"
    assert main(_plan(files, plan, "--results", str(out / "results.csv"),
                      "--revenue-per-year", "1e6")) == 2
    assert capsys.readouterr().err.startswith("error: trust.json: cannot be read")
    assert not plan.exists()  # refused before any simulation


# ------------------------------------------------------------------ one default desk calendar
def test_the_default_desk_is_the_simulators_everywhere():
    cal = default_calendar()
    assert (cal.timezone, cal.hours, cal.holidays) == DEFAULT_DESK
    assert describe_calendar(cal) == NEW_YORK


def test_staffing_plan_defaults_to_the_desk_analyze_and_demo_use(files, tmp_path, capsys):
    assert main(_plan(files, tmp_path / "default")) == 0
    default_text = capsys.readouterr().out
    assert f"desk calendar: {NEW_YORK} (the default desk" in default_text
    assert main(_plan(files, tmp_path / "ny", "--desk-timezone", "America/New_York",
                      "--holidays", "US")) == 0
    assert f"desk calendar: {NEW_YORK}\n" in capsys.readouterr().out
    default = pd.read_csv(tmp_path / "default" / "staffing_plan.csv")
    ny = pd.read_csv(tmp_path / "ny" / "staffing_plan.csv")
    pd.testing.assert_frame_equal(default, ny)
    assert main(_plan(files, tmp_path / "utc", "--desk-timezone", "UTC")) == 0
    assert "desk calendar: UTC, Mon-Fri 09:00-17:00, no holidays\n" in capsys.readouterr().out


def test_analyze_prints_and_writes_its_desk_calendar(files, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(_analyze(files, out)) == 0
    assert f"desk calendar: {NEW_YORK} (the default desk" in capsys.readouterr().out
    assert NEW_YORK in (out / "summary.md").read_text()
    assert main(_analyze(files, tmp_path / "paris", "--desk-timezone", "Europe/Paris",
                         "--holidays", "FR")) == 0
    assert "desk calendar: Europe/Paris, Mon-Fri 09:00-17:00, FR holidays" in \
        capsys.readouterr().out
    assert main(_analyze(files, tmp_path / "bad", "--desk-timezone", "Mars/Olympus")) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --desk-timezone: unknown time zone 'Mars/Olympus'")


def test_staffing_plan_warns_when_the_analysis_used_another_desk(files, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(_analyze(files, out)) == 0
    capsys.readouterr()
    assert main(_plan(files, tmp_path / "plan", "--desk-timezone", "UTC", "--results",
                      str(out / "results.csv"), "--revenue-per-year", "1e6")) == 0
    err = capsys.readouterr().err
    assert f"warning: the analysis measured FRT on the desk calendar {NEW_YORK}" in err


# ------------------------------------------------------------------ policies by role
def test_default_policies_go_by_role():
    cal = default_calendar()
    pol = default_policies(cal, control="control", treatment="treatment")
    assert pol["control"].rule == "business_time"
    assert pol["treatment"].rule == "next_business_day"
    with pytest.raises(ValueError, match="control and treatment must differ"):
        default_policies(cal, control="a", treatment="a")


def test_diagnostics_give_renamed_arms_their_policies(trial):
    asg = trial.assignments.assign(arm=trial.assignments["arm"].map(
        {"fast": "control", "one_business_day": "treatment"}))
    diag = diagnose(trial.customers, trial.conversations, asg, control="control",
                    treatment="treatment")
    ref = diagnose(trial.customers, trial.conversations, trial.assignments)
    assert diag.treatment_delivered
    assert ref.treatment_delivered
    pd.testing.assert_series_equal(diag.frt["share_within_target"],
                                   ref.frt["share_within_target"])


def test_arms_named_control_and_treatment_work_end_to_end(files, renamed_files, tmp_path,
                                                          capsys):
    arms = ["--control", "control", "--treatment", "treatment"]
    out = tmp_path / "out"
    assert main(_analyze(renamed_files, out, *arms)) == 0
    capsys.readouterr()
    ref = tmp_path / "ref"
    assert main(_analyze(files, ref)) == 0
    capsys.readouterr()
    res, res0 = pd.read_csv(out / "results.csv"), pd.read_csv(ref / "results.csv")
    assert set(res["control_arm"]) == {"control"}
    pd.testing.assert_series_equal(res["rel_diff"], res0["rel_diff"])
    trust = json.loads((out / TRUST_FILE).read_text())
    assert trust["treatment_delivered"] is True
    assert (trust["control"], trust["treatment"]) == ("control", "treatment")
    plan = tmp_path / "plan"
    assert main(_plan(renamed_files, plan, *arms, "--results", str(out / "results.csv"),
                      "--revenue-per-year", "1e6")) == 0
    capsys.readouterr()
    plan0 = tmp_path / "plan0"
    assert main(_plan(files, plan0)) == 0
    capsys.readouterr()
    pd.testing.assert_series_equal(pd.read_csv(plan / "staffing_plan.csv")["agents"],
                                   pd.read_csv(plan0 / "staffing_plan.csv")["agents"])
    desk = tmp_path / "desk"
    assert main(["staffing", "desk", "--conversations",
                 str(renamed_files / "conversations.csv"), "--assignments",
                 str(renamed_files / "assignments.csv"), "--agents", "3", *arms,
                 "--out", str(desk)]) == 0
    assert set(pd.read_csv(desk / "desk_summary.csv")["arm"]) == {"control", "treatment"}
    # without the flags the names are refused before any simulation, naming the flags
    assert main(_plan(renamed_files, tmp_path / "refused")) == 2
    assert "--control and --treatment" in capsys.readouterr().err


# ------------------------------------------------------------------ only this run's files
def test_a_second_analysis_into_the_same_out_leaves_no_stale_sequential_csv(files, tmp_path,
                                                                          capsys):
    plan = tmp_path / "plan.toml"
    write_plan(ExperimentPlan(name="frt", looks=3), plan)
    out = tmp_path / "out"
    assert main(_analyze(files, out, "--plan", str(plan), "--no-diagnostics")) == 0
    assert (out / "sequential.csv").exists()
    (out / "notes.txt").write_text("mine")
    capsys.readouterr()
    assert main(_analyze(files, out, "--no-diagnostics")) == 0
    text = capsys.readouterr().out
    assert not (out / "sequential.csv").exists()
    assert f"removed {out / 'sequential.csv'}" in text
    assert (out / "notes.txt").read_text() == "mine"  # not one of frt analyze's names
    assert sorted(p.name for p in out.iterdir()) == [
        "forest.png", "manifest.json", "notes.txt", "results.csv", "summary.md", TRUST_FILE]


def test_a_second_staffing_plan_leaves_no_stale_headcount_or_decision(files, tmp_path, capsys):
    out = tmp_path / "plan"
    assert main(_plan(files, out, "--months", "2")) == 0
    assert (out / "headcount.csv").exists()
    capsys.readouterr()
    assert main(_plan(files, out)) == 0
    assert not (out / "headcount.csv").exists()
    assert f"removed {out / 'headcount.csv'}" in capsys.readouterr().out


def test_frt_demo_prints_its_desk_and_writes_trust_flags_without_library_warnings(tmp_path,
                                                                                 capsys):
    out = tmp_path / "demo"
    assert main(["demo", "--customers", "1000", "--no-progress", "--seed", "5",
                 "--out", str(out)]) == 0
    captured = capsys.readouterr()
    assert f"desk calendar: {NEW_YORK} (the default desk)" in captured.out
    assert "Deprecat" not in captured.err  # numpy's generic-unit NaT notice, on 3.12/3.13
    assert json.loads((out / TRUST_FILE).read_text())["desk_calendar"].startswith(NEW_YORK)
    assert main(["decide", "--results", str(out / "results.csv"), *MONEY]) == 0
    assert "trust could not be checked" not in capsys.readouterr().out


def test_frt_simulate_in_another_format_removes_the_earlier_tables(tmp_path, capsys):
    """A Parquet run over an earlier CSV run left customers.csv etc. beside the new tables,
    and the mixed set passed frt validate."""
    from frt_experiments.cli import main

    out = tmp_path / "sim"
    base = ["simulate", "--customers", "300", "--months", "1", "--seed", "3", "--out", str(out),
            "--no-progress"]
    assert main([*base, "--format", "csv"]) == 0
    assert (out / "customers.csv").exists()
    assert main([*base, "--format", "parquet"]) == 0
    printed = capsys.readouterr().out
    assert not (out / "customers.csv").exists()
    assert (out / "customers.parquet").exists()
    assert "removed" in printed
    assert sorted(p.name for p in out.iterdir()) == [
        "assignments.parquet", "conversations.parquet", "customers.parquet", "manifest.json",
        "scenario.toml"]
