"""`frt staffing` in process: Erlang reference numbers, desk and plan outputs, one-line errors."""

import pandas as pd
import pytest

import frt_experiments as frt
from frt_experiments.cli import main
from frt_experiments.schema import write_table


@pytest.fixture(scope="module")
def trial_files(tmp_path_factory):
    d = tmp_path_factory.mktemp("trial")
    trial = frt.simulate(customers=3_000, months=2, rng=4)
    write_table(trial.conversations, d / "conversations.csv")
    write_table(trial.assignments, d / "assignments.csv")
    results = pd.DataFrame({
        "metric": ["csat", "nrr"], "control_arm": "fast", "treatment_arm": "one_business_day",
        "n_control": 1000, "n_treatment": 1000, "control": [0.88, 1.0],
        "treatment": [0.869, 0.998], "diff": [-0.011, -0.002], "diff_ci_low": [-0.03, -0.01],
        "diff_ci_high": [0.005, 0.006], "rel_diff": [-0.0125, -0.002],
        "rel_ci_low": [-0.03, -0.01], "rel_ci_high": [0.005, 0.006], "p_value": [0.16, 0.6],
        "significant": [False, False], "method": "welch"})
    results.to_csv(d / "results.csv", index=False)
    return d


def test_erlang_reference_case(capsys):
    # issue 8: 200 contacts/h, 180 s, 80% within 20 s, occupancy <= 85%, shrinkage 30%
    # -> 14 raw and 20 scheduled agents, service level 0.88835, P(wait) 0.17413
    status = main(["staffing", "erlang", "--arrivals-per-hour", "200", "--aht", "180",
                   "--target", "20", "--service-level", "0.8", "--max-occupancy", "0.85",
                   "--shrinkage", "0.3"])
    out = capsys.readouterr().out
    assert status == 0
    assert "14 agents on the floor, 20 scheduled" in out
    assert "service level 0.88835" in out
    assert "P(wait) 0.17413" in out


def test_desk_writes_summary_and_backlog(trial_files, tmp_path, capsys):
    out = tmp_path / "desk"
    status = main(["staffing", "desk", "--conversations", str(trial_files / "conversations.csv"),
                   "--assignments", str(trial_files / "assignments.csv"), "--agents", "3",
                   "--desk-timezone", "America/New_York", "--out", str(out)])
    text = capsys.readouterr().out
    assert status == 0
    assert "Desk simulation: 3 agents" in text
    summary = pd.read_csv(out / "desk_summary.csv")
    assert set(summary["arm"]) == {"fast", "one_business_day"}
    backlog = pd.read_csv(out / "backlog.csv")
    assert list(backlog.columns) == ["time", "fast", "one_business_day"]


def test_plan_writes_plan_curve_projection_and_decision(trial_files, tmp_path, capsys):
    out = tmp_path / "plan"
    status = main(["staffing", "plan", "--conversations", str(trial_files / "conversations.csv"),
                   "--assignments", str(trial_files / "assignments.csv"),
                   "--desk-timezone", "America/New_York", "--holidays", "US", "--weeks", "2",
                   "--targets", "2,4,8", "--months", "6", "--results",
                   str(trial_files / "results.csv"), "--revenue-per-year", "2000000",
                   "--out", str(out)])
    text = capsys.readouterr().out
    assert status == 0, text
    plan = pd.read_csv(out / "staffing_plan.csv")
    assert list(plan["policy"]) == ["everyone_fast", "rollout"]
    curve = pd.read_csv(out / "staffing_curve.csv")
    assert list(curve.columns) == ["target_hours", "policy", "agents", "deferred"]
    assert len(curve) == 6
    head = pd.read_csv(out / "headcount.csv")
    assert {"month", "policy", "agents", "agents_saved", "annual_savings"} <= set(head.columns)
    assert (out / "decision.md").read_text().strip()
    assert "Staffing plan" in text


@pytest.mark.parametrize(("argv", "message"), [
    (["staffing", "erlang", "--arrivals-per-hour", "-2", "--aht", "180", "--target", "20",
      "--service-level", "0.8"], "--arrivals-per-hour must be"),
    (["staffing", "plan", "--conversations", "missing.csv", "--assignments", "a.csv",
      "--out", "x"], "missing.csv: file not found"),
    (["staffing", "desk", "--conversations", "c.csv", "--assignments", "a.csv",
      "--agents", "2", "--hours", "Mon-Fri 18:00-09:00", "--out", "x"], "hours:"),
])
def test_errors_are_one_line_with_status_2(argv, message, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err
    assert len(err.strip().splitlines()) == 1
    assert "Traceback" not in err


def test_results_need_revenue(trial_files, tmp_path, capsys):
    status = main(["staffing", "plan", "--conversations", str(trial_files / "conversations.csv"),
                   "--assignments", str(trial_files / "assignments.csv"),
                   "--results", str(trial_files / "results.csv"), "--out", str(tmp_path)])
    assert status == 2
    assert "--results needs --revenue-per-year" in capsys.readouterr().err
    assert not (tmp_path / "staffing_plan.csv").exists()


@pytest.mark.parametrize(("extra", "message"), [
    (["--agents", "0"], "frt staffing desk: --agents must be >= 1, got 0"),
    (["--agents", "2", "--patience", "0"], "frt staffing desk: --patience must be > 0"),
    (["--agents", "2", "--warmup-hours", "-1"], "frt staffing desk: --warmup-hours must be"),
    (["--agents", "2", "--replications", "0"], "frt staffing desk: --replications must be"),
])
def test_desk_errors_name_the_option(trial_files, tmp_path, extra, message, capsys):
    argv = ["staffing", "desk", "--conversations", str(trial_files / "conversations.csv"),
            "--assignments", str(trial_files / "assignments.csv"), "--out", str(tmp_path),
            *extra]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err, err
    assert len(err.strip().splitlines()) == 1


@pytest.mark.parametrize(("extra", "message"), [
    (["--service-level-fast", "1.2"], "frt staffing plan: --service-level-fast must be in"),
    (["--service-level-deferred", "0"], "frt staffing plan: --service-level-deferred must"),
    (["--cost-per-agent", "-5"], "frt staffing plan: --cost-per-agent must be >= 0"),
    (["--weeks", "0"], "frt staffing plan: --weeks must be > 0"),
    (["--months", "0"], "frt staffing plan: --months must be a whole number"),
    (["--months", "3", "--monthly-growth", "-2"], "frt staffing plan: --monthly-growth must"),
])
def test_plan_errors_name_the_option(trial_files, tmp_path, extra, message, capsys):
    argv = ["staffing", "plan", "--conversations", str(trial_files / "conversations.csv"),
            "--assignments", str(trial_files / "assignments.csv"), "--weeks", "1",
            "--targets", "4", "--out", str(tmp_path), *extra]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err, err
    assert len(err.strip().splitlines()) == 1


def test_unknown_arm_names_and_bad_results_fail_before_any_simulation(trial_files, tmp_path,
                                                                      capsys):
    asg = pd.read_csv(trial_files / "assignments.csv")
    asg.loc[[0, 3], "arm"] = "slow"
    asg.to_csv(tmp_path / "asg.csv", index=False)
    argv = ["staffing", "desk", "--conversations", str(trial_files / "conversations.csv"),
            "--assignments", str(tmp_path / "asg.csv"), "--agents", "3", "--out",
            str(tmp_path / "o")]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err == ("error: asg.csv: column arm: 2 rows are not an arm frt staffing knows "
                   "(slow; the arms are fast and one_business_day: --control and "
                   "--treatment) (lines 2, 5)")
    (tmp_path / "empty.csv").write_text("")
    bad = pd.read_csv(trial_files / "results.csv").query("metric == 'csat'")
    bad.assign(metric="questions").to_csv(tmp_path / "neither.csv", index=False)
    (tmp_path / "trust.json").write_text("[]")  # beside no_nrr.csv: not a trust record
    bad.to_csv(tmp_path / "no_nrr.csv", index=False)
    for name, message in (("empty.csv", "error: empty.csv: file is empty"),
                          ("neither.csv", "error: neither.csv: column metric: has no row for "
                                          "metric 'csat' nor 'nrr'"),
                          ("no_nrr.csv", "error: trust.json: is not a trust record")):
        argv = ["staffing", "plan", "--conversations", str(trial_files / "conversations.csv"),
                "--assignments", str(trial_files / "assignments.csv"), "--results",
                str(tmp_path / name), "--revenue-per-year", "1e6", "--out", str(tmp_path / "p")]
        assert main(argv) == 2
        assert capsys.readouterr().err.startswith(message)
        assert not (tmp_path / "p").exists()  # nothing simulated or written


def test_desk_replications_give_intervals(trial_files, tmp_path, capsys):
    out = tmp_path / "desk"
    status = main(["staffing", "desk", "--conversations", str(trial_files / "conversations.csv"),
                   "--assignments", str(trial_files / "assignments.csv"), "--agents", "4",
                   "--replications", "3", "--out", str(out)])
    capsys.readouterr()
    assert status == 0
    summary = pd.read_csv(out / "desk_summary.csv")
    assert (summary["replications"] == 3).all()
    n = summary[summary["statistic"] == "n"]
    assert (n["ci_high"] > n["ci_low"]).all()  # day bootstraps differ, replays would not
