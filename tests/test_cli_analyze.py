"""frt analyze in process: outputs written, exact results.csv columns, one-line errors."""

import pandas as pd
import pytest

from frt_experiments.analysis import RESULT_COLUMNS, analyze
from frt_experiments.calendar import BusinessCalendar
from frt_experiments.cli import main
from frt_experiments.errors import TreatmentNotDeliveredWarning
from frt_experiments.plan import ExperimentPlan, write_plan
from frt_experiments.simulate import simulate


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
