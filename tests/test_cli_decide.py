"""`frt decide` in process: verdict from results.csv, Markdown output, one-line errors."""

import pytest

from frt_experiments.cli import main
from frt_experiments.plan import ExperimentPlan, write_plan

HEADER = ("metric,control_arm,treatment_arm,n_control,n_treatment,control,treatment,diff,"
          "diff_ci_low,diff_ci_high,rel_diff,rel_ci_low,rel_ci_high,p_value,significant,method")
ROWS = [
    "questions,fast,one_business_day,5000,5000,1.0,0.96,-0.04,-0.06,-0.02,-0.04,-0.06,-0.02,"
    "0.001,True,welch",
    "csat,fast,one_business_day,5000,5000,0.88,0.8536,-0.0264,-0.044,-0.0088,-0.03,-0.05,-0.01,"
    "0.002,True,delta",
    "nrr,fast,one_business_day,5000,5000,0.97,0.9506,-0.0194,-0.0582,0.0194,-0.02,-0.06,0.02,"
    "0.3,False,delta",
    "efficiency,fast,one_business_day,5000,5000,2.0,2.4,0.4,0.3,0.5,0.2,0.15,0.25,1e-6,True,"
    "delta",
]


@pytest.fixture
def results_csv(tmp_path):
    path = tmp_path / "results.csv"
    path.write_text("\n".join([HEADER, *ROWS]) + "\n")
    return path


def test_failure_on_the_pessimistic_bound_and_markdown_written(results_csv, tmp_path, capsys):
    out = tmp_path / "decision.md"
    status = main(["decide", "--results", str(results_csv), "--revenue-per-year", "1000000",
                   "--staffing-savings", "50000", "--out", str(out)])
    text = capsys.readouterr().out
    assert status == 0
    # CSAT significantly worse; revenue at risk 0.06 * 1e6 = 60,000 > 50,000
    assert text.startswith("Decision: failure")
    assert "60,000" in text
    assert "5.00%" in text  # break-even NRR drop 50,000 / 1,000,000
    assert out.read_text().startswith("**Decision: failure.**")


def test_estimate_basis_and_plan_margin(results_csv, tmp_path, capsys):
    assert main(["decide", "--results", str(results_csv), "--revenue-per-year", "1e6",
                 "--staffing-savings", "5e4", "--basis", "estimate"]) == 0
    assert capsys.readouterr().out.startswith("Decision: success")
    plan = tmp_path / "plan.toml"
    write_plan(ExperimentPlan(name="frt", csat_margin=-0.06), plan)
    assert main(["decide", "--results", str(results_csv), "--revenue-per-year", "1e6",
                 "--staffing-savings", "0", "--plan", str(plan)]) == 0
    text = capsys.readouterr().out
    assert "non-inferior" in text
    assert text.startswith("Decision: success")


def test_errors_are_one_line_with_exit_2(results_csv, tmp_path, capsys):
    assert main(["decide", "--results", str(results_csv), "--revenue-per-year", "0",
                 "--staffing-savings", "5e4"]) == 2
    err = capsys.readouterr().err
    assert "--revenue-per-year must be a positive finite amount" in err
    assert len(err.strip().splitlines()) == 1
    bad = tmp_path / "bad.csv"
    bad.write_text("\n".join([HEADER, ROWS[0]]) + "\n")
    assert main(["decide", "--results", str(bad), "--revenue-per-year", "1e6",
                 "--staffing-savings", "5e4"]) == 2
    err = capsys.readouterr().err
    assert "error: bad.csv: column metric: has no row for metric 'csat' nor 'nrr'" in err
    assert main(["decide", "--results", str(tmp_path / "missing.csv"),
                 "--revenue-per-year", "1e6", "--staffing-savings", "5e4"]) == 2
    assert "missing.csv" in capsys.readouterr().err


def test_unreadable_results_files_name_the_file(tmp_path, capsys):
    (tmp_path / "empty.csv").write_text("")
    (tmp_path / "header.csv").write_text(HEADER + "\n")
    for target, message in ((tmp_path / "empty.csv", "error: empty.csv: file is empty"),
                            (tmp_path / "header.csv", "error: header.csv: file has no rows"),
                            (tmp_path, f"error: {tmp_path.name}: is a directory"),
                            (tmp_path / "nope.csv", "error: nope.csv: file not found")):
        assert main(["decide", "--results", str(target), "--revenue-per-year", "1e6",
                     "--staffing-savings", "5e4"]) == 2
        err = capsys.readouterr().err
        assert err.startswith(message), err
        assert len(err.strip().splitlines()) == 1


def test_one_sided_greater_results_need_a_margin(tmp_path, capsys):
    # `frt analyze` with a one-sided 'greater' plan writes rel_ci_high as inf
    rows = [r.split(",") for r in ROWS]
    for r in rows:
        r[9], r[12] = "inf", "inf"
    path = tmp_path / "results.csv"
    path.write_text("\n".join([HEADER, *(",".join(r) for r in rows)]) + "\n")
    argv = ["decide", "--results", str(path), "--revenue-per-year", "1e6",
            "--staffing-savings", "7e4"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: frt decide: --csat-margin is needed: the result tests CSAT "
                          "one-sided for an improvement")
    assert len(err.strip().splitlines()) == 1
    assert main([*argv, "--csat-margin", "-0.06"]) == 0
    text = capsys.readouterr().out
    # CSAT lower bound -5% > -6%: non-inferior; NRR's lower bound -6% puts 60,000 at risk
    assert text.startswith("Decision: success")
    assert "60,000" in text
    # frt staffing plan takes the margin too, and checks the results before simulating
    plan = ["staffing", "plan", "--conversations", "c.csv", "--assignments", "a.csv",
            "--out", str(tmp_path / "p")]
    assert main([*plan, "--csat-margin", "-0.02"]) == 2
    assert "--csat-margin needs --results" in capsys.readouterr().err
