"""`frt power` in process: R's power.prop.test numbers, plans from history, errors."""

import math

import numpy as np
import pytest

from frt_experiments._parametric import ParametricModel, history_tables
from frt_experiments.cli import main
from frt_experiments.design import estimate_variances, metric_power
from frt_experiments.plan import read_plan
from frt_experiments.schema import write_table


def test_two_proportions_as_r(capsys):
    # R: power.prop.test(p1 = 0.50, p2 = 0.75, power = 0.90) -> n = 76.71 per group
    assert main(["power", "--p1", "0.5", "--p2", "0.75", "--power", "0.9"]) == 0
    assert "n = 76.71 per group" in capsys.readouterr().out
    # R: power.prop.test(n = 50, p1 = 0.50, p2 = 0.75) -> power = 0.740
    assert main(["power", "--p1", "0.5", "--p2", "0.75", "--n", "50"]) == 0
    assert "power = 0.7402" in capsys.readouterr().out


def test_plan_from_history_writes_plan(tmp_path, capsys):
    customers, conversations = history_tables(ParametricModel(), 3_000,
                                              np.random.default_rng(5))
    write_table(customers, tmp_path / "customers.csv")
    write_table(conversations, tmp_path / "conversations.csv")
    out = tmp_path / "plan.toml"
    status = main(["power", "--customers", str(tmp_path / "customers.csv"),
                   "--conversations", str(tmp_path / "conversations.csv"),
                   "--mde", "csat=-0.0125", "--mde", "questions=-0.04", "--nrr-margin", "0.02",
                   "--csat-margin", "-0.02", "--eligible-per-month", "8000", "--looks", "5",
                   "--name", "frt-low-spend", "--write-plan", str(out)])
    text = capsys.readouterr().out
    assert status == 0
    assert "binding metric:" in text
    assert "4.8769" in text  # first O'Brien-Fleming boundary of 5 looks
    plan = read_plan(out)
    assert plan.name == "frt-low-spend"
    assert plan.looks == 5
    assert plan.csat_margin == -0.02
    assert plan.n_per_arm is not None
    assert plan.n_per_arm > 0


def test_direct_metrics_fixed_duration(capsys):
    assert main(["power", "--metric", "csat:0.85:0.6:1.2", "--metric", "questions:1.2:1.7",
                 "--eligible-per-month", "8000", "--months", "5"]) == 0
    assert "20,000 control + 20,000 treatment" in capsys.readouterr().out


@pytest.mark.parametrize(("argv", "message"), [
    (["power"], "give --customers"),
    (["power", "--metric", "csat:x:1"], "--metric 'csat:x:1'"),
    (["power", "--metric", "csat:0.85:0.6", "--mde", "csat"], "--mde 'csat'"),
    (["power", "--p1", "0.5"], "both --p1 and --p2"),
    (["power", "--metric", "csat:0.85:0.6", "--months", "5"], "eligible_per_month"),
])
def test_errors_one_line_exit_2(capsys, argv, message):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err
    assert err.count("\n") == 1


def test_unequal_looks_reach_the_plan_file(tmp_path, capsys):
    # rpact: getDesignGroupSequential(kMax = 4, alpha = 0.13, typeOfDesign = "asOF",
    #   informationRates = c(0.4, 0.75, 0.85, 1), ...)$criticalValues (one-sided)
    #   2.1280732 1.4368565 1.422873 1.2970881
    out = tmp_path / "plan.toml"
    assert main(["power", "--metric", "csat:0.85:0.6", "--mde", "csat=0.0125",
                 "--alpha", "0.13", "--alternative", "greater", "--information",
                 "0.4,0.75,0.85,1", "--write-plan", str(out)]) == 0
    text = capsys.readouterr().out
    for bound in ("2.1281", "1.4369", "1.4229", "1.2971"):
        assert bound in text
    plan = read_plan(out)
    assert plan.information == (0.4, 0.75, 0.85, 1.0)
    assert plan.looks == 4
    assert main(["power", "--metric", "csat:0.85:0.6", "--mde", "csat=-0.0125",
                 "--looks", "3", "--information", "0.5,1"]) == 2
    assert "--information gives 2 fractions but --looks is 3" in capsys.readouterr().err


def test_proportion_given_directly_uses_its_design_effect(capsys):
    # CSAT 0.85 with 0.3 rated conversations per customer and design effect 1.2: per-customer
    # sd sqrt(0.85 * 0.15 * 1.2 / 0.3) (Kish 1965), so the size is the z-test closed form
    # n = 2 (z_.975 + z_.8)^2 sd^2 / (0.85 * 0.0125)^2 (Chow, Shao and Wang 2008, 3.2.1)
    assert main(["power", "--proportion", "csat:0.85:0.3:1.2", "--mde", "csat=-0.0125"]) == 0
    sd2 = 0.85 * 0.15 * 1.2 / 0.3
    n = 2 * (1.959963984540054 + 0.8416212335729143) ** 2 * sd2 / (0.85 * 0.0125) ** 2
    out = capsys.readouterr().out
    assert f"{math.ceil(n):,} control" in out
    assert "1.20" in out  # the design effect is shown
    assert main(["power", "--proportion", "csat:1.2:0.3"]) == 2
    assert "--proportion 'csat:1.2:0.3': p must be in (0, 1)" in capsys.readouterr().err
    assert main(["power", "--proportion", "csat:0.85:0"]) == 2
    assert "UNITS and DEFF must be positive" in capsys.readouterr().err


def test_history_screened_to_eligible_customers(tmp_path, capsys):
    # Variances come from the customers the trial would enrol: --max-spend keeps the history's
    # customers with monthly_spend <= X and their conversations, as frt assign screens them.
    customers, conversations = history_tables(ParametricModel(), 3_000,
                                              np.random.default_rng(8))
    write_table(customers, tmp_path / "customers.csv")
    write_table(conversations, tmp_path / "conversations.csv")
    ceiling = float(np.quantile(customers["monthly_spend"], 0.5))
    keep = customers[customers["monthly_spend"] <= ceiling]
    expected = estimate_variances(
        keep, conversations[conversations["customer_id"].isin(keep["customer_id"])])
    n = metric_power(expected["nrr"], test="equivalence", margin=0.02).n_control
    files = ["--customers", str(tmp_path / "customers.csv"),
             "--conversations", str(tmp_path / "conversations.csv")]
    assert main(["power", *files, "--max-spend", str(ceiling), "--nrr-margin", "0.02"]) == 0
    out = capsys.readouterr().out
    assert f"history: {len(keep):,} of 3,000 customers eligible" in out
    assert f"needs {math.ceil(n):,} control" in out
    assert main(["power", *files, "--spend-quantile", "0.5", "--nrr-margin", "0.02"]) == 0
    assert f"needs {math.ceil(n):,} control" in capsys.readouterr().out
    assert main(["power", *files, "--spend-quantile", "1.5", "--nrr-margin", "0.02"]) == 2
    assert "--spend-quantile must be in (0, 1]" in capsys.readouterr().err
