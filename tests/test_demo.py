"""frt demo and the report: every stage runs, every file is written, the table is honest."""

from __future__ import annotations

import json
import re

import pandas as pd
import pytest

from frt_experiments import cli
from frt_experiments._outputs import check_manifest
from frt_experiments.demo import run_demo, with_expected
from frt_experiments.report import build_report

RESULT_COLUMNS = ["metric", "control_arm", "treatment_arm", "n_control", "n_treatment",
                  "control", "treatment", "diff", "diff_ci_low", "diff_ci_high", "rel_diff",
                  "rel_ci_low", "rel_ci_high", "p_value", "significant", "method"]
FIGURES = {"forest", "frt_distribution", "csat_by_frt", "questions", "staffing_curve"}


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    return run_demo(out, customers=12_000, rng=3, progress=False), out


def test_demo_writes_report_results_and_data(demo):
    res, out = demo
    html = (out / "report.html").read_text()
    # Self-contained: every figure embedded, nothing fetched.
    assert len(re.findall(r"src='data:image/png;base64,", html)) == len(FIGURES)
    assert not re.search(r"src=['\"]https?:", html)
    for heading in ("Results", "Decision", "Diagnostics", "Staffing"):
        assert f"<h2>{heading}" in html
    md = (out / "report.md").read_text()
    for name in FIGURES:
        assert f"](figures/{name}.png)" in md
        assert (out / "figures" / f"{name}.png").read_bytes()[:4] == b"\x89PNG"
    results = pd.read_csv(out / "results.csv")
    assert list(results.columns) == RESULT_COLUMNS
    assert list(results["metric"]) == ["questions", "csat", "nrr", "efficiency"]
    pd.testing.assert_frame_equal(results[["rel_diff"]], res.result.to_pandas()[["rel_diff"]],
                                  check_exact=False, rtol=1e-9)
    for table in ("customers", "assignments", "conversations"):
        assert (out / "data" / f"{table}.csv").exists()
    # one set: every file listed with its digest in manifest.json, data/ included
    listed = {f["name"] for f in json.loads((out / "manifest.json").read_text())["files"]}
    written = {str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()}
    assert listed == written - {"manifest.json"}
    assert "data/conversations.csv" in listed
    assert check_manifest([out / "data" / "conversations.csv", out / "results.csv"]) == []
    curve = pd.read_csv(out / "staffing_curve.csv")
    assert set(curve["policy"]) == {"everyone_fast", "rollout"}
    # The plan and the curve share their random draws: the 4-hour point is the plan.
    at4 = curve[curve["target_hours"] == 4.0].set_index("policy")["agents"]
    assert at4["everyone_fast"] == res.staffing.agents("everyone_fast")


def test_demo_decision_uses_the_measured_effects_and_the_plan(demo):
    res, _ = demo
    d = res.decision
    nrr = res.result.to_pandas().set_index("metric").loc["nrr"]
    assert d.annual_staffing_savings == pytest.approx(max(res.staffing.annual_savings, 0.0))
    low = res.trial.customers["customer_id"].isin(res.trial.assignments["customer_id"])
    base = 12 * res.trial.customers.loc[low, "revenue_start"].sum()
    assert d.low_spend_revenue_per_year == pytest.approx(base)
    assert d.revenue_at_risk == pytest.approx(-nrr["rel_diff"] * base)
    assert res.verdict.startswith(f"Decision: {d.verdict}")


def test_expected_column_says_whether_the_interval_covers_the_truth(demo):
    res, _ = demo
    table = with_expected(res.result, {"questions": -0.04, "csat": -0.0125, "nrr": 0.0,
                                       "efficiency": 0.2})
    frame = res.result.to_pandas()
    want = [("yes" if lo <= e <= hi else "no") for lo, e, hi in
            zip(frame["rel_ci_low"], [-0.04, -0.0125, 0.0, 0.2], frame["rel_ci_high"],
                strict=True)]
    assert list(table["in CI"]) == want
    assert list(table["scenario expects"]) == ["-4.00%", "-1.25%", "+0.00%", "+20.00%"]
    assert with_expected(res.result, {}).equals(res.result.summary())


def test_report_refuses_objects_it_cannot_read(demo):
    res, _ = demo
    t = res.trial
    with pytest.raises(TypeError, match="result: expected an object with"):
        build_report(t.customers, t.conversations, t.assignments, object())
    with pytest.raises(TypeError, match="decision: expected an object with"):
        build_report(t.customers, t.conversations, t.assignments, res.result,
                     decision=object())


def test_demo_cli_prints_the_table_and_where_the_report_is(tmp_path, capsys):
    status = cli.main(["demo", "--out", str(tmp_path / "d"), "--customers", "8000",
                       "--seed", "5", "--no-progress"])
    out = capsys.readouterr().out
    assert status == 0
    assert "questions asked" in out
    assert "Decision:" in out
    assert f"report: {tmp_path / 'd' / 'report.html'}" in out


def test_demo_cli_bad_arguments_are_one_line_exit_2(tmp_path, capsys):
    status = cli.main(["demo", "--out", str(tmp_path), "--customers", "10"])
    err = capsys.readouterr().err
    assert status == 2
    assert err.count("\n") == 1
    assert "customers" in err
    assert "Traceback" not in err


def test_report_without_the_assignment_run_computes_balance_itself(demo):
    res, _ = demo
    t = res.trial
    doc = build_report(t.customers, t.conversations, t.assignments, res.result)
    md = doc.to_markdown()
    assert "Covariate balance" in md
    assert "| monthly_spend |" in md
    assert f"p = {res.result.diagnostics.srm.p_value:.4g}" in md
    assert "## Decision" not in md  # nothing to decide without a decision


def test_a_failing_stage_leaves_no_half_written_output(tmp_path, monkeypatch, capsys):
    from frt_experiments import staffing

    def broken(*args, **kwargs):
        raise ValueError("calendar: the desk is never open")

    monkeypatch.setattr(staffing, "plan_staffing", broken)
    out = tmp_path / "d"
    status = cli.main(["demo", "--out", str(out), "--customers", "2000", "--no-progress"])
    assert status == 2
    assert "the desk is never open" in capsys.readouterr().err
    assert not out.exists() or not any(out.iterdir())


def test_report_states_the_results_settings_and_prints_small_p_values(demo):
    res, out = demo
    md = (out / "report.md").read_text()
    level = f"{100 * (1 - res.result.alpha):g}% confidence intervals"
    assert level in md
    assert f"{res.result.alternative} Welch tests" in md
    # p-values in significant figures: 1e-13 is not printed as 0.0.
    full = md.split("## Full results")[1]
    rows = [r.split(" | ") for r in full.splitlines() if r.startswith("| questions")]
    p = res.result.to_pandas().set_index("metric").loc["questions", "p_value"]
    assert rows[0][13] == f"{p:.3g}"


@pytest.mark.parametrize(("flag", "value", "says"), [
    ("--scenario", "nope", "--scenario: scenario 'nope': not a preset"),
    ("--scenario", "missing.toml", "--scenario: missing.toml: scenario file not found"),
    ("--customers", "10", "--customers: the demo needs at least 1,000 customers, got 10"),
    ("--customers", "0", "--customers: the demo needs at least 1,000 customers, got 0"),
])
def test_demo_cli_rejects_bad_input_before_writing(tmp_path, capsys, flag, value, says):
    out = tmp_path / "d"
    if value.endswith(".toml"):
        value = str(tmp_path / value)
    assert cli.main(["demo", "--out", str(out), flag, value, "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {says}")
    assert err.count("\n") == 1
    assert not out.exists()
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert cli.main(["demo", "--out", str(blocker / "sub"), "--no-progress"]) == 2
    assert "--out: cannot write" in capsys.readouterr().err


def test_demo_help_reads_cleanly(capsys):
    with pytest.raises(SystemExit):
        cli.main(["demo", "--help"])
    out = capsys.readouterr().out
    assert "95% confidence" in out
    assert "%%" not in out
