"""`frt staffing` on a real desk (issue 18): without an experiment, with a dated roster and
fitted patience; `patience`, `calibrate` and `analytics` end to end on the call-centre
fixture (conftest.py); bad rosters, abandonments and patience in one line, exit 2, nothing
written."""

from __future__ import annotations

import json

import pandas as pd
import pytest

import frt_experiments as frt
from frt_experiments.cli import main
from frt_experiments.schema import write_table


@pytest.fixture(scope="module")
def desk_files(tmp_path_factory, call_centre):
    d = tmp_path_factory.mktemp("desk")
    conv = call_centre.conversations
    write_table(conv, d / "conversations.csv")
    call_centre.roster.to_csv(d / "roster.csv", index=False)
    # bad rosters: a negative headcount (line 4), a start inside the interval before it
    neg = call_centre.roster.copy()
    neg["agents"] = neg["agents"].astype(float)
    neg.loc[2, "agents"] = -2
    neg.to_csv(d / "negative.csv", index=False)
    extra = pd.DataFrame({"interval_start": [pd.Timestamp("2025-03-03 01:15", tz="UTC")],
                          "agents": [3]})
    pd.concat([call_centre.roster.iloc[:4], extra, call_centre.roster.iloc[4:]]).to_csv(
        d / "overlap.csv", index=False)
    # conversations: an abandonment before its creation; none abandoned; only five abandoned
    bad = conv.copy()
    i = bad.index[bad["abandoned_at"].notna()][0]
    bad.loc[i, "abandoned_at"] = bad.loc[i, "created_at"] - pd.Timedelta(minutes=5)
    write_table(bad, d / "abandoned_early.csv")
    answered = conv[conv["abandoned_at"].isna()]
    write_table(answered, d / "no_abandonment.csv")
    gone = conv[conv["abandoned_at"].notna()]
    write_table(pd.concat([answered, gone.iloc[:5]]).sort_values("created_at"),
                d / "few_abandonments.csv")
    return d


def _run(argv, capsys):
    status = main(argv)
    out = capsys.readouterr()
    return status, out.out, out.err


LIVE = ["--hours", "24/7", "--desk-timezone", "UTC", "--fast-target", "20s"]


def test_desk_without_assignments_on_a_dated_roster_with_fitted_patience(desk_files, tmp_path,
                                                                          capsys):
    out = tmp_path / "desk"
    status, text, err = _run(["staffing", "desk", "--conversations",
                              str(desk_files / "conversations.csv"), "--roster",
                              str(desk_files / "roster.csv"), "--patience", "fit", *LIVE,
                              "--out", str(out)], capsys)
    assert status == 0, err
    assert err == ""
    # the fit (truth 180 s), the replay, one queue, waits in seconds
    assert "Patience (exponential MLE, censored by service): mean 182.3 business s" in text
    assert "Desk simulation: dated roster of 0-20 agents per 30-minute interval" in text
    assert "FRT median 0.0 business s" in text
    assert "queues: one (no --assignments)" in text
    summary = pd.read_csv(out / "desk_summary.csv")
    assert set(summary["arm"]) == {"fast"}
    manifest = json.loads((out / "manifest.json").read_text())
    assert {f["name"] for f in manifest["files"]} == {"desk_summary.csv", "backlog.csv"}


def test_patience_writes_the_fit_and_kaplan_meier(desk_files, tmp_path, capsys):
    out = tmp_path / "patience"
    status, text, err = _run(["staffing", "patience", "--conversations",
                              str(desk_files / "conversations.csv"), "--out", str(out)], capsys)
    assert status == 0, err
    assert "mean 182.3 s [168.5, 197.6]" in text  # elapsed seconds without a calendar
    fit = pd.read_csv(out / "patience.csv")
    assert fit.loc[0, "abandoned"] == 607
    assert fit.loc[0, "mean_seconds"] == pytest.approx(182.3, abs=0.05)
    km = pd.read_csv(out / "kaplan_meier.csv")
    assert list(km.columns[:3]) == ["seconds", "at_risk", "events"]
    assert km["survival"].is_monotonic_decreasing
    # a weak fit is written with a warning
    weak = tmp_path / "weak"
    status, _, err = _run(["staffing", "patience", "--conversations",
                           str(desk_files / "few_abandonments.csv"), "--out", str(weak)],
                          capsys)
    assert status == 0
    assert "patience rests on only 5 abandonments (fewer than 20)" in err
    assert (weak / "patience.csv").exists()


def test_calibrate_recovers_the_hidden_capacity(desk_files, tmp_path, capsys):
    out = tmp_path / "calibrate"
    status, text, err = _run(["staffing", "calibrate", "--conversations",
                              str(desk_files / "conversations.csv"), "--roster",
                              str(desk_files / "roster.csv"), "--statistic", "p_abandon",
                              "--patience", "fit", "--replications", "6", "--out", str(out)],
                             capsys)
    assert status == 0, err
    assert "Effective capacity:" in text
    cal = pd.read_csv(out / "calibration.csv")
    # the fixture's agents answer 70% of the rostered time
    assert cal.loc[0, "ci_low"] - 0.02 <= 0.7 <= cal.loc[0, "ci_high"] + 0.02
    assert 0.6 < cal.loc[0, "multiplier"] < 0.8
    eff = pd.read_csv(out / "effective_roster.csv")
    assert eff["agents"].max() == pytest.approx(20 * cal.loc[0, "multiplier"])
    assert len(pd.read_csv(out / "calibration_curve.csv")) >= 3
    status, _, err = _run(["staffing", "calibrate", "--conversations",
                           str(desk_files / "conversations.csv"), "--roster",
                           str(desk_files / "roster.csv"), "--statistic", "service_level",
                           "--out", str(tmp_path / "x")], capsys)
    assert status == 2
    assert err.strip() == ("error: frt staffing calibrate: --statistic service_level needs "
                           "--target (e.g. 20s)")


def test_analytics_observed_and_simulated_side_by_side(desk_files, tmp_path, capsys):
    out = tmp_path / "analytics"
    effective = tmp_path / "effective.csv"
    roster = pd.read_csv(desk_files / "roster.csv")
    roster.assign(agents=roster["agents"] * 0.7).to_csv(effective, index=False)
    status, text, err = _run(["staffing", "analytics", "--conversations",
                              str(desk_files / "conversations.csv"), "--simulate", "--roster",
                              str(effective), "--patience", "180", "--target", "20s",
                              "--interval", "30min", "--resamples", "99", "--out", str(out)],
                             capsys)
    assert status == 0, err
    assert "waits of answered conversations in seconds (elapsed)" in text
    t = pd.read_csv(out / "desk_intervals.csv")
    assert {"offered_observed", "offered_simulated", "mean_wait_s_observed",
            "mean_wait_s_simulated", "service_level_simulated",
            "occupancy_observed"} <= set(t.columns)
    assert len(t) == 5 * 48
    days = pd.read_csv(out / "desk_days.csv")
    assert len(days) == 5
    overall = pd.read_csv(out / "desk_overall.csv").set_index("statistic")
    assert abs(overall.loc["p_abandon", "observed"] - overall.loc["p_abandon", "simulated"]) \
        < 0.03
    assert (overall[["observed_ci_low", "simulated_ci_low"]] >= 0).all().all()
    assert (out / "desk_analytics.png").read_bytes()[:4] == b"\x89PNG"
    # observed only, in minutes, hourly
    obs = tmp_path / "observed"
    status, _, err = _run(["staffing", "analytics", "--conversations",
                           str(desk_files / "conversations.csv"), "--unit", "min",
                           "--interval", "1h", "--resamples", "0", "--out", str(obs)], capsys)
    assert status == 0, err
    t = pd.read_csv(obs / "desk_intervals.csv")
    assert "mean_wait_min_observed" in t.columns
    assert not any(c.endswith("_simulated") for c in t.columns)


def test_plan_without_an_experiment(tmp_path, capsys):
    trial = frt.simulate(customers=2_000, months=1, rng=4)
    write_table(trial.conversations, tmp_path / "conversations.csv")
    out = tmp_path / "plan"
    status, text, err = _run(["staffing", "plan", "--conversations",
                              str(tmp_path / "conversations.csv"), "--weeks", "1",
                              "--targets", "4", "--out", str(out)], capsys)
    assert status == 0, err
    assert "no experiment: every conversation is one fast queue" in text
    assert "rollout" not in text.split("(no experiment")[0]
    plan = pd.read_csv(out / "staffing_plan.csv")
    assert list(plan["policy"]) == ["everyone_fast"]
    assert list(pd.read_csv(out / "staffing_curve.csv")["policy"]) == ["everyone_fast"]
    status, _, err = _run(["staffing", "plan", "--conversations",
                           str(tmp_path / "conversations.csv"), "--results", "r.csv",
                           "--revenue-per-year", "1e6", "--out", str(tmp_path / "p2")], capsys)
    assert status == 2
    assert "--results needs --assignments" in err


@pytest.mark.parametrize(("argv", "message"), [
    (["desk", "--roster", "negative.csv", *LIVE],
     "error: negative.csv: column agents: 1 row is negative (agents must be >= 0) (line 4)"),
    (["desk", "--roster", "overlap.csv", *LIVE],
     "error: overlap.csv: column interval_start: 1 row is overlapping the interval before it"),
    (["calibrate", "--roster", "negative.csv"], "error: negative.csv: column agents: 1 row is "
     "negative"),
    (["analytics", "--roster", "overlap.csv"], "error: overlap.csv: column interval_start: 1 "
     "row is overlapping"),
    (["desk", "--agents", "5", "--roster", "roster.csv", *LIVE],
     "error: frt staffing desk: --agents and --roster: give one, not both"),
    (["desk", *LIVE], "error: frt staffing desk: give --agents N or --roster FILE"),
    (["desk", "--agents", "5", "--patience", "soon", *LIVE],
     "error: frt staffing desk: --patience must be 'fit' or a number of seconds > 0"),
    (["analytics", "--patience", "fit"], "error: frt staffing analytics: --patience needs "
     "--simulate"),
    (["analytics", "--target", "20"], "error: frt staffing analytics: --target must be a "
     "duration with a unit"),
    (["analytics", "--interval", "45min"], "error: frt staffing analytics: --interval"),
])
def test_bad_input_is_one_line_exit_2_nothing_written(desk_files, tmp_path, capsys, argv,
                                                      message):
    cmd, *rest = argv
    rest = [str(desk_files / a) if a.endswith(".csv") else a for a in rest]
    out = tmp_path / "out"
    status, _, err = _run(["staffing", cmd, "--conversations",
                           str(desk_files / "conversations.csv"), *rest, "--out", str(out)],
                          capsys)
    assert status == 2
    assert err.startswith(message), err
    assert len(err.strip().splitlines()) == 1
    assert not out.exists()


@pytest.mark.parametrize("case", [
    ("abandoned_early.csv", ["desk", "--agents", "5", *LIVE],
     "column abandoned_at: 1 row is earlier than created_at"),
    ("abandoned_early.csv", ["analytics"], "column abandoned_at: 1 row is earlier than "
     "created_at"),
    ("no_abandonment.csv", ["desk", "--agents", "5", "--patience", "fit", *LIVE],
     "column abandoned_at: patience cannot be estimated: no abandonment"),
    ("no_abandonment.csv", ["patience"], "column abandoned_at: patience cannot be estimated"),
    ("no_abandonment.csv", ["calibrate", "--roster", "roster.csv", "--patience", "fit"],
     "column abandoned_at: patience cannot be estimated"),
])
def test_bad_conversations_are_one_line_exit_2_nothing_written(desk_files, tmp_path, capsys,
                                                               case):
    table, (cmd, *rest), message = case
    rest = [str(desk_files / a) if a.endswith(".csv") else a for a in rest]
    out = tmp_path / "out"
    status, _, err = _run(["staffing", cmd, "--conversations", str(desk_files / table), *rest,
                           "--out", str(out)], capsys)
    assert status == 2
    assert err.startswith(f"error: {table}: {message}"), err
    assert len(err.strip().splitlines()) == 1
    assert not out.exists()
