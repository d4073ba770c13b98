"""The K-arm path from the command line, as a team would run it: `frt simulate --scenario dose`,
`frt assign` with four arms, `frt analyze --plan` (the plan's [arms]) with `--report`, and
`frt dose-response`; the report carries the results per slow arm and the dose-response."""

from __future__ import annotations

import pandas as pd
import pytest

from frt_experiments import schema
from frt_experiments.cli import main
from frt_experiments.dose_response import COLUMNS
from frt_experiments.plan import ExperimentPlan, write_plan
from frt_experiments.simulate import dose_truth

ARMS = ("fast", "four_hours", "one_business_day", "two_business_days")
POLICIES = {"fast": "4h", "four_hours": "4h", "one_business_day": "one_business_day",
            "two_business_days": "two_business_days"}


@pytest.fixture(scope="module")
def trial(tmp_path_factory):
    d = tmp_path_factory.mktemp("dose")
    assert main(["simulate", "--scenario", "dose", "--customers", "12000", "--seed", "5",
                 "--out", str(d / "trial")]) == 0
    plan = d / "plan.toml"
    write_plan(ExperimentPlan(name="frt-dose", arms=POLICIES), plan)
    return d


def _tables(d) -> list[str]:
    t = d / "trial"
    return ["--customers", str(t / "customers.csv"), "--conversations",
            str(t / "conversations.csv"), "--assignments", str(t / "assignments.csv")]


def test_assign_writes_the_four_arms(trial, tmp_path, capsys):
    ledger = tmp_path / "ledger.csv"
    assert main(["assign", "--customers", str(trial / "trial" / "customers.csv"),
                 "--experiment", "frt-dose", "--salt", "dose-2026", "--ledger", str(ledger),
                 "--assigned-at", "2026-03-02T09:00:00Z", "--max-spend", "100",
                 "--arms", ",".join(ARMS), "--weights", "0.25,0.25,0.25,0.25"]) == 0, \
        capsys.readouterr().err
    counts = schema.read_table(ledger, "assignments")[schema.ARM].value_counts()
    assert set(counts.index) == set(ARMS)
    assert counts.min() > 0.2 * counts.sum()


def test_analyze_with_the_plans_arms_and_the_report(trial, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["analyze", *_tables(trial), "--plan", str(trial / "plan.toml"), "--report",
                 "--out", str(out)]) == 0, capsys.readouterr().err
    captured = capsys.readouterr()
    # every slow arm is delivered (four_hours is held within the fast promise, and waits
    # longer than the fast arm's median by more than the margin)
    assert "not delivered" not in captured.err + captured.out
    results = pd.read_csv(out / "results.csv")
    assert set(results["arm"]) == set(ARMS[1:])
    assert "p_adjusted" in results.columns
    html = (out / "report.html").read_text()
    md = (out / "report.md").read_text()
    for text in ("Dose-response", "per doubling", "two_business_days"):
        assert text in html
        assert text in md
    assert (out / "figures" / "dose_response.png").stat().st_size > 10_000


def test_dose_response_with_the_plans_arms(trial, tmp_path, capsys):
    out = tmp_path / "dose"
    assert main(["dose-response", *_tables(trial), "--plan", str(trial / "plan.toml"),
                 "--out", str(out)]) == 0, capsys.readouterr().err
    table = pd.read_csv(out / "dose_response.csv")
    assert tuple(table.columns) == COLUMNS
    slopes = table[table["row"] == "slope"].set_index("outcome")
    truth = dose_truth("dose").slopes
    # one trial of 8,000 assigned customers: within 4 of its own standard errors of the truth
    for outcome in ("csat", "questions", "nrr"):
        r = slopes.loc[outcome]
        assert abs(r["effect"] - truth[outcome]) < 4 * r["se"], (outcome, r["effect"])
        assert r["f_statistic"] > 1_000
    assert "Policies: fast = 4h, four_hours = 4h" in (out / "dose_response.md").read_text()


def test_the_plans_first_arm_is_the_control(trial, tmp_path, capsys):
    t = trial / "trial"
    asg = pd.read_csv(t / "assignments.csv")
    asg["arm"] = asg["arm"].replace({"fast": "standard"})
    asg.to_csv(tmp_path / "assignments.csv", index=False)
    plan = tmp_path / "plan.toml"
    write_plan(ExperimentPlan(name="frt-dose", arms={"standard": "4h", **{
        a: p for a, p in POLICIES.items() if a != "fast"}}), plan)
    args = ["--customers", str(t / "customers.csv"), "--conversations",
            str(t / "conversations.csv"), "--assignments", str(tmp_path / "assignments.csv")]
    out = tmp_path / "dose"
    assert main(["dose-response", *args, "--plan", str(plan), "--out", str(out)]) == 0, \
        capsys.readouterr().err
    table = pd.read_csv(out / "dose_response.csv")
    assert table.loc[table["row"] == "arm", "arm"].iloc[0] == "standard"
    # a plan arm that is not in the assignments is named
    write_plan(ExperimentPlan(name="frt-dose", arms={"standard": "4h", "later": "3h",
                                                     "two_business_days": "two_business_days"}),
               plan)
    assert main(["dose-response", *args, "--plan", str(plan), "--out", str(out)]) == 2
    assert "arm 'later' is not in the assignments" in capsys.readouterr().err


def test_two_arm_report(tmp_path, capsys):
    d = tmp_path / "pub"
    assert main(["simulate", "--scenario", "published", "--customers", "4000", "--seed", "7",
                 "--out", str(d)]) == 0
    out = tmp_path / "out"
    assert main(["analyze", "--customers", str(d / "customers.csv"), "--conversations",
                 str(d / "conversations.csv"), "--assignments", str(d / "assignments.csv"),
                 "--report", "--out", str(out)]) == 0, capsys.readouterr().err
    md = (out / "report.md").read_text()
    assert "Dose-response" in md
    assert "one_business_day" in md
