"""frt analyze in process: outputs written, exact results.csv columns, one-line errors."""

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from frt_experiments.analysis import RESULT_COLUMNS, analyze
from frt_experiments.calendar import BusinessCalendar
from frt_experiments.cli import main
from frt_experiments.errors import TreatmentNotDeliveredWarning
from frt_experiments.plan import ExperimentPlan, read_plan, write_plan
from frt_experiments.simulate import simulate
from frt_experiments.stats.sequential import sequential_bounds


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    trial = simulate("published", customers=4_000, rng=7)
    d = tmp_path_factory.mktemp("trial")
    trial.write(d, format="csv")
    return trial, d


def _args(d, out, *extra):
    return ["analyze", "--customers", str(d / "customers.csv"),
            "--conversations", str(d / "conversations.csv"),
            "--assignments", str(d / "assignments.csv"), "--out", str(out), *extra]


def test_writes_results_summary_and_plot(data, tmp_path, capsys):
    trial, d = data
    out = tmp_path / "out"
    assert main(_args(d, out, "--csat-margin", "-0.02", "--nrr-margin", "0.01")) == 0
    printed = capsys.readouterr().out
    assert "net revenue retention" in printed
    assert "csat non-inferiority" in printed
    res = pd.read_csv(out / "results.csv")
    assert tuple(res.columns) == RESULT_COLUMNS
    # the file holds what the API computes on the same tables
    ref = analyze(trial.customers, trial.conversations, trial.assignments,
                  diagnostics=False).to_pandas()
    pd.testing.assert_series_equal(res["rel_diff"], ref["rel_diff"], rtol=1e-9)
    assert (out / "summary.md").read_text().startswith("## one_business_day vs fast")
    assert (out / "forest.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not list(out.glob(".*"))  # no temporary files left behind


def test_no_cuped_and_plan(data, tmp_path):
    _, d = data
    plan = tmp_path / "plan.toml"
    write_plan(ExperimentPlan(name="frt-low-spend", alpha=0.1, csat_margin=-0.03), plan)
    out = tmp_path / "out"
    assert main(_args(d, out, "--no-cuped", "--plan", str(plan), "--no-diagnostics")) == 0
    res = pd.read_csv(out / "results.csv")
    assert not res["method"].str.contains("CUPED").any()
    assert "90% CI" in (out / "summary.md").read_text()


def test_errors_are_one_line_and_nothing_is_written(data, tmp_path, capsys):
    _, d = data
    out = tmp_path / "out"
    assert main(_args(d, out, "--treatment", "slow", "--no-diagnostics")) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert "treatment arm 'slow' has 0 customers" in err[0]
    assert not out.exists() or not any(out.iterdir())
    assert main(_args(d, out, "--csat-margin", "0.5")) == 2
    assert "csat_margin must be a relative non-inferiority margin" in capsys.readouterr().err
    missing = ["analyze", "--customers", str(tmp_path / "nope.csv"),
               "--conversations", str(d / "conversations.csv"),
               "--assignments", str(d / "assignments.csv"), "--out", str(out)]
    assert main(missing) == 2
    assert "nope.csv: file not found" in capsys.readouterr().err


def test_desk_calendar_reaches_the_diagnostics(data, tmp_path):
    # On an always-open desk in UTC, business time is calendar time: the FRT table in
    # summary.md must show equal medians; on the default (New York, 9-17) desk it must not.
    _, d = data
    out = tmp_path / "allday"
    assert main(_args(d, out, "--desk-timezone", "UTC", "--hours", "24/7")) == 0
    trial = data[0]
    # Judged on business hours that are really calendar hours, the fast arm's overnight
    # waits miss its 4-hour target: the diagnostics say so.
    with pytest.warns(TreatmentNotDeliveredWarning, match="fast's median FRT"):
        res = analyze(trial.customers, trial.conversations, trial.assignments,
                      calendar=BusinessCalendar("UTC", hours="24/7"))
    frt = res.diagnostics.frt.set_index("arm")
    assert frt["median_business_hours"].to_numpy() == pytest.approx(
        frt["median_calendar_hours"].to_numpy())
    default = analyze(trial.customers, trial.conversations, trial.assignments)
    frt0 = default.diagnostics.frt.set_index("arm")
    assert (frt0["median_business_hours"] < frt0["median_calendar_hours"]).all()
    summary = (out / "summary.md").read_text()
    assert f"{frt.loc['fast', 'median_calendar_hours']:.2f}" in summary


def test_plan_written_by_frt_power_drives_frt_analyze(data, tmp_path, capsys):
    """frt power --write-plan -> frt analyze --plan: alpha, margins and looks all arrive."""
    trial, d = data
    plan_file = tmp_path / "plan.toml"
    assert main(["power", "--metric", "csat:0.85:0.74:1.3", "--metric", "questions:2.5:3.1",
                 "--mde", "questions=-0.04", "--csat-margin", "-0.02", "--nrr-margin", "0.01",
                 "--metric", "nrr:0.97:0.4", "--alpha", "0.1", "--looks", "5",
                 "--name", "frt-low-spend", "--write-plan", str(plan_file)]) == 0
    capsys.readouterr()
    out = tmp_path / "out"
    assert main(_args(d, out, "--plan", str(plan_file), "--no-diagnostics")) == 0
    printed = capsys.readouterr().out
    plan = read_plan(plan_file)
    assert (plan.alpha, plan.csat_margin, plan.nrr_margin, plan.looks) == (0.1, -0.02, 0.01, 5)
    # the files hold what the API computes under the same plan
    ref = analyze(trial.customers, trial.conversations, trial.assignments, plan=plan,
                  diagnostics=False)
    res = pd.read_csv(out / "results.csv")
    pd.testing.assert_series_equal(res["p_value"], ref.to_pandas()["p_value"], rtol=1e-9)
    dec = ref.decisions.set_index("metric")
    assert dec.loc["csat", "margin"] == -0.02
    assert dec.loc["csat", "alpha"] == 0.05  # one-sided alpha/2 of the two-sided 0.1 plan
    assert dec.loc["nrr", "margin"] == 0.01
    assert dec.loc["nrr", "alpha"] == 0.1  # TOST at alpha per side
    assert "csat non-inferiority" in printed
    assert "nrr equivalence" in printed
    summary = (out / "summary.md").read_text()
    assert "90% CI" in summary
    assert "Sequential monitoring: look 5 of 5" in summary
    # the last of five O'Brien-Fleming looks at two-sided 0.1 is judged at its own boundary
    seq = pd.read_csv(out / "sequential.csv")
    final = sequential_bounds(5, alpha=0.1).bounds[-1]
    assert seq["bound"].to_numpy() == pytest.approx([final] * 4, abs=1e-9)
    z = np.sign(ref.to_pandas()["diff"]) * stats.norm.isf(ref.to_pandas()["p_value"] / 2)
    expected = np.where(np.abs(z) >= final, "stop: efficacy", "final: not significant")
    assert seq["decision"].tolist() == expected.tolist()
    # repeated confidence intervals: the estimate plus or minus the final boundary times its se
    se = np.array([m.se for m in ref.metrics])
    np.testing.assert_allclose(seq["rci_high"] - seq["rci_low"], 2 * final * se, rtol=1e-9)
    assert "repeated 90% CI of the relative change [" in printed
    assert "repeated CI (relative change)" in summary
    assert "are fixed-sample and do not allow for the plan's looks" in printed
    # an interim look at observed information fractions: boundaries recomputed (Lan-DeMets)
    out2 = tmp_path / "interim"
    assert main(_args(d, out2, "--plan", str(plan_file), "--no-diagnostics", "--look", "2",
                      "--information", "0.3,0.45")) == 0
    seq2 = pd.read_csv(out2 / "sequential.csv")
    assert seq2["bound"].iloc[0] == pytest.approx(
        sequential_bounds([0.3, 0.45, 1.0], alpha=0.1).bounds[1], abs=1e-9)


@pytest.mark.parametrize(("extra", "message"), [
    (["--look", "2"], "--look and --information need --plan"),
    (["--plan", "PLAN", "--look", "7"], "--look 7: the plan plan.toml has looks 1 to 5"),
    (["--plan", "PLAN", "--alpha", "0.05"], "--alpha 0.05 disagrees with the plan's alpha 0.1"),
    (["--plan", "PLAN", "--look", "2", "--information", "0.3;0.5"], "--information"),
    (["--plan", "PLAN", "--look", "2", "--information", "0.5"],
     "--information: give 2 fractions for looks 1 to 2, got 1"),
])
def test_sequential_arguments_are_checked(data, tmp_path, capsys, extra, message):
    _, d = data
    plan_file = tmp_path / "plan.toml"
    write_plan(ExperimentPlan(name="x", looks=5, alpha=0.1), plan_file)
    extra = [str(plan_file) if x == "PLAN" else x for x in extra]
    assert main(_args(d, tmp_path / "out", "--no-diagnostics", *extra)) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert message in err[0]
    assert not (tmp_path / "out").exists()  # checked before any table is read or written


def test_bad_window_end_and_missing_plan_are_named(data, tmp_path, capsys):
    _, d = data
    assert main(_args(d, tmp_path / "out", "--window-end", "abc", "--no-diagnostics")) == 2
    assert "--window-end 'abc': not an ISO 8601 timestamp" in capsys.readouterr().err
    assert main(_args(d, tmp_path / "out", "--plan", str(tmp_path / "none.toml"))) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"error: none.toml: file not found ({tmp_path / 'none.toml'})"]


# ---------------------------------------------------------------- designs other than 50/50
@pytest.fixture(scope="module")
def data_90_10(tmp_path_factory):
    """A sound 90/10 trial (12,024 fast, 1,344 slow) as CSV, and the ledger frt assign keeps
    for it (same salt, spend ceiling and weights, so the same customers in the same arms)."""
    from frt_experiments import load_scenario

    scenario = load_scenario("published").with_(effects={"weights": [0.9, 0.1]})
    trial = simulate(scenario, customers=20_000, rng=1)
    d = tmp_path_factory.mktemp("trial_90_10")
    trial.write(d, format="csv")
    el = scenario.eligibility
    assert main(["assign", "--customers", str(d / "customers.csv"), "--experiment",
                 el.experiment, "--salt", el.salt, "--max-spend", str(el.max_spend),
                 "--weights", "0.9,0.1", "--ledger", str(d / "ledger.csv"),
                 "--assigned-at", "2025-01-06T00:00:00+00:00"]) == 0
    return trial, d


def test_weights_and_ledger_meta_test_the_sample_ratio_against_the_design(data_90_10, tmp_path,
                                                                          capsys):
    _, d = data_90_10
    capsys.readouterr()
    assert main(_args(d, tmp_path / "plain")) == 0
    assert ("warning: sample ratio mismatch: customers per arm {'fast': 12024, "
            "'one_business_day': 1344}") in capsys.readouterr().err
    ledger = d / "ledger.csv"
    for extra, source in [
            (["--weights", " one_business_day = 0.1 , fast=0.9"], "(--weights)"),
            (["--ledger-meta", str(ledger)], "(--ledger-meta ledger.csv)"),
            # the ledger frt assign wrote is the trial's assignment, read with its own record
            (["--assignments", str(ledger), "--ledger-meta", f"{ledger}.meta.json"],
             "(--ledger-meta ledger.csv.meta.json)")]:
        out = tmp_path / "out"
        assert main(_args(d, out, *extra)) == 0
        captured = capsys.readouterr()
        assert "sample ratio" not in captured.err, extra
        assert "sample ratio tested against the weights" in captured.out
        assert source in captured.out
        summary = (out / "summary.md").read_text()
        assert "sample ratio mismatch" not in summary
        assert "12031.2" in summary.replace(",", "")  # expected fast customers at 90%


def test_a_plan_with_weights_from_frt_power_sizes_and_drives_frt_analyze(data_90_10, tmp_path,
                                                                          capsys):
    """frt power --weights sizes the arms 9:1 (z test: n_control = (z_a + z_b)^2 sd^2
    (1 + 1/ratio) / d^2, five times the 50/50 arm for ratio 1/9) and writes the weights to
    the plan; frt analyze --plan then tests the sample ratio against them."""
    _, d = data_90_10
    common = ["power", "--metric", "questions:1.2:1.7", "--mde", "questions=-0.04",
              "--eligible-per-month", "8000"]
    plan_file = tmp_path / "plan.toml"
    even_file = tmp_path / "even.toml"
    assert main([*common, "--weights", "fast=0.9,one_business_day=0.1", "--write-plan",
                 str(plan_file)]) == 0
    assert main([*common, "--write-plan", str(even_file)]) == 0
    capsys.readouterr()
    plan, even = read_plan(plan_file), read_plan(even_file)
    assert plan.weights == {"fast": 0.9, "one_business_day": 0.1}
    assert even.weights is None
    n_c = (stats.norm.isf(0.025) + stats.norm.isf(0.2)) ** 2 * 1.7**2 * (1 + 9) / (0.04 * 1.2)**2
    assert plan.n_per_arm == math.ceil(n_c)  # 98,452
    assert abs(plan.n_per_arm - 5 * even.n_per_arm) <= 5
    n_t = math.ceil(plan.n_per_arm / 9 - 1e-9)
    assert plan.months == round((plan.n_per_arm + n_t) / 8000, 2)
    assert "[weights]\nfast = 0.9\none_business_day = 0.1\n" in plan_file.read_text()
    out = tmp_path / "out"
    assert main(_args(d, out, "--plan", str(plan_file))) == 0
    captured = capsys.readouterr()
    assert "sample ratio" not in captured.err
    assert f"(the plan {plan_file.name})" in captured.out
    # the ledger agrees with the plan; an explicit allocation that disagrees is an error
    assert main(_args(d, out, "--plan", str(plan_file), "--ledger-meta",
                      str(d / "ledger.csv"))) == 0
    capsys.readouterr()
    assert main(_args(d, tmp_path / "out2", "--plan", str(plan_file), "--weights",
                      "fast=0.5,one_business_day=0.5")) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["error: --weights gives the weights {'fast': 0.5, 'one_business_day': 0.5} "
                   "but the plan plan.toml gives {'fast': 0.9, 'one_business_day': 0.1}; give "
                   "one of them"]
    assert not (tmp_path / "out2").exists()


def test_markdown_outputs_escape_names(tmp_path, capsys):
    """An arm named '<b>x</b>|y' became bold HTML and broke the table in summary.md; names
    are shown as written (HTML-escaped, pipes escaped in tables)."""
    from frt_experiments.analysis import analyze_rows
    from frt_experiments.decision import decide

    rng = np.random.default_rng(2)
    n = 200
    arm = np.where(np.arange(n) % 2 == 0, "<b>x</b>|y", "slow")
    conv = rng.poisson(3, n).astype(float) + 1
    rows = pd.DataFrame({"arm": arm, "conversations": conv, "rated": conv,
                         "satisfied": rng.binomial(conv.astype(int), 0.8).astype(float),
                         "handle_hours": conv * rng.lognormal(-1, 0.3, n),
                         "revenue_start": 100.0, "revenue_end": rng.normal(100, 10, n)})
    res = analyze_rows(rows, control="<b>x</b>|y", treatment="slow", cuped=False)
    md = res.to_markdown()
    assert "<b>" not in md
    assert "&lt;b&gt;x&lt;/b&gt;|y" in md.splitlines()[0]
    dec = decide(res, low_spend_revenue_per_year=1e6, annual_staffing_savings=1e4).to_markdown()
    assert "<b>" not in dec
    for line in dec.splitlines():
        if line.startswith("|") and "&lt;b&gt;" in line:
            assert "\\|y" in line
