"""`frt power --arm ...`: K-arm trials for the dose-response slope and for each slow arm against
control, in process and from the command line; bad input is one line and exit 2."""

import math
import subprocess
import sys

import pytest

from frt_experiments.cli import main
from frt_experiments.design import MetricVariance
from frt_experiments.stats.dose_power import (
    DoseArm,
    dose_slope_sample_size,
    many_to_one_sample_size,
)

ARMS = ["--arm", "fast=2:0.6", "--arm", "four_hours=4:0.6", "--arm", "one_business_day=9:0.7"]
CSAT = ["--proportion", "csat:0.85:0.3:1.2"]
Z975 = 1.959963984540054  # qnorm(0.975)


def test_slope_halfwidth_closed_form(capsys):
    # CSAT's per-customer sd sqrt(0.85 0.15 1.2 / 0.3) (as --proportion); doses log(1 + hours);
    # equal shares: N = s_y^2 / (sum w (d - dbar)^2 (h / z)^2) under no effect
    assert main(["power", *ARMS, *CSAT, "--slope-halfwidth", "csat=0.01"]) == 0
    out = capsys.readouterr().out
    d = [math.log(3), math.log(5), math.log(10)]
    dbar = sum(d) / 3
    sxx = sum((x - dbar) ** 2 for x in d) / 3
    n_arm = math.ceil(0.85 * 0.15 * 1.2 / 0.3 / sxx / (0.01 / Z975) ** 2 / 3)
    assert f"needs {3 * n_arm:,} customers in 3 arms" in out
    assert "two arms (fast + one_business_day) need" in out
    assert "first-stage F" in out
    assert "binding target: csat slope" in out


def test_slope_with_weights_dose_and_assumed_slope_matches_the_api(capsys):
    assert main(["power", "--arm-dose", "fast=1.1:0.6", "--arm", "four_hours=4",
                 "--arm-dose", "one_business_day=2.3", "--dose-sd", "0.7",
                 "--metric", "questions:1.2:1.7", "--slope-se", "questions=0.02",
                 "--slope", "questions=0.05", "--dose-corr", "questions=0.2",
                 "--weights", "fast=0.5,four_hours=0.25,one_business_day=0.25",
                 "--eligible-per-month", "8000"]) == 0
    out = capsys.readouterr().out
    arms = [DoseArm("fast", 1.1, 0.6), DoseArm.from_hours("four_hours", 4, dose_sd=0.7),
            DoseArm("one_business_day", 2.3, 0.7)]
    r = dose_slope_sample_size(arms, outcome_sd=1.7, se=0.02, dose_corr=0.2, slope=0.05,
                               weights={"fast": 0.5, "four_hours": 0.25,
                                        "one_business_day": 0.25})
    assert f"needs {r.n_total:,} customers" in out
    assert f"need {r.pair_n_total:,}" in out
    assert f"{r.n_total / 8000:.1f} months at 8,000 eligible customers per month" in out
    for n in r.n_per_arm:
        assert f"{n:,}" in out


def test_each_arm_against_control_with_dunnett(capsys):
    assert main(["power", *ARMS, *CSAT, "--mde", "csat=-0.02", "--pair", "four_hours"]) == 0
    out = capsys.readouterr().out
    sd = MetricVariance.proportion("csat", 0.85, units_per_customer=0.3, design_effect=1.2).sd
    r = many_to_one_sample_size({"fast": 1, "four_hours": 1, "one_business_day": 1}, sd=sd,
                                mde=-0.02 * 0.85, pair="four_hours")
    assert "Dunnett critical value 2.2121 (2 comparisons, two-sided alpha 0.05)" in out
    assert f"needs {r.n_total:,} customers in 3 arms" in out
    assert f"two arms (fast + four_hours) need {r.pair_n_total:,}" in out
    assert main(["power", *ARMS, *CSAT, "--mde", "csat=-0.02", "--multiplicity",
                 "bonferroni"]) == 0
    assert "Bonferroni critical value 2.2414" in capsys.readouterr().out


def test_both_targets_name_the_binding_one(capsys):
    assert main(["power", *ARMS, *CSAT, "--slope-halfwidth", "csat=0.01",
                 "--mde", "csat=-0.02"]) == 0
    out = capsys.readouterr().out
    assert out.count("needs ") == 2
    assert "binding target: csat per arm" in out


@pytest.mark.parametrize(("argv", "message"), [
    (["--arm", "fast=2:0.6", *CSAT, "--slope-se", "csat=0.01"],
     "--arm: a K-arm design needs at least two arms"),
    (["--arm", "fast", "--arm", "day=9:0.7", *CSAT, "--slope-se", "csat=0.01"],
     "--arm 'fast': expected NAME=HOURS[:DOSE_SD]"),
    (["--arm", "fast=2", "--arm", "day=9:0.7", *CSAT, "--slope-se", "csat=0.01"],
     "--arm 'fast=2': no sd of the dose"),
    (["--arm-dose", "fast=x:0.5", "--arm", "day=9:0.7", *CSAT, "--slope-se", "csat=0.01"],
     "--arm-dose 'fast=x:0.5': expected NAME=DOSE[:DOSE_SD]"),
    (["--arm", "fast=-2:0.6", "--arm", "day=9:0.7", *CSAT, "--slope-se", "csat=0.01"],
     "hours must be >= 0"),
    (["--arm", "fast=4:0.6", "--arm", "day=4:0.7", *CSAT, "--slope-se", "csat=0.01"],
     "--arm: the arms' doses do not differ"),
    (["--arm", "fast=2:0.6", "--arm", "fast=9:0.7", *CSAT, "--slope-se", "csat=0.01"],
     "arm 'fast' is given twice"),
    ([*ARMS, *CSAT, "--slope-se", "csat=0.01", "--weights", "fast=0.5,two_days=0.5"],
     "--weights 'fast=0.5,two_days=0.5': arm 'two_days' is not among the arms"),
    ([*ARMS, *CSAT, "--slope-se", "csat=0.01", "--weights", "fast=0.5,four_hours=0.5"],
     "no share for arm 'one_business_day'"),
    ([*ARMS, *CSAT, "--slope-se", "csat=0.01", "--weights",
      "four_hours=0.5,fast=0.25,one_business_day=0.25"], "control first"),
    ([*ARMS, *CSAT, "--slope-se", "questions=0.01"], "--slope-se 'questions=0.01': no metric"),
    ([*ARMS, *CSAT, "--slope-se", "csat=0.01", "--slope-halfwidth", "csat=0.02"],
     "both give 'csat'"),
    ([*ARMS, *CSAT], "--arm needs a target"),
    ([*ARMS, "--slope-se", "csat=0.01"], "--arm needs the outcomes"),
    ([*ARMS, *CSAT, "--slope-se", "csat=0.01", "--pair", "fast"], "--pair 'fast': not a slow"),
    ([*ARMS, *CSAT, "--slope-se", "csat=0.01", "--ratio", "2"], "--ratio does not combine"),
    ([*ARMS, *CSAT, "--slope-se", "csat=0.01", "--write-plan", "plan.toml"],
     "--write-plan writes two-arm plans only"),
    ([*CSAT, "--slope-se", "csat=0.01"], "--slope-se sizes a trial with K arms"),
    ([*CSAT, "--mde", "csat=-0.02", "--multiplicity", "dunnett"],
     "--multiplicity sizes a trial with K arms"),
    ([*ARMS, *CSAT, "--mde", "csat=0.02", "--alternative", "less"],
     "--mde csat=0.02: mde of arm 'four_hours'"),
])
def test_bad_input_one_line_exit_2(capsys, tmp_path, monkeypatch, argv, message):
    monkeypatch.chdir(tmp_path)
    assert main(["power", *argv]) == 2
    captured = capsys.readouterr()
    assert message in captured.err
    assert captured.err.count("\n") == 1
    assert captured.out == ""
    assert not (tmp_path / "plan.toml").exists()


def test_from_the_command_line():
    ok = subprocess.run([sys.executable, "-m", "frt_experiments.cli", "power", *ARMS, *CSAT,
                         "--slope-se", "csat=0.005"], capture_output=True, text=True,
                        check=False)
    assert ok.returncode == 0, ok.stderr
    assert "dose-response slope: se" in ok.stdout
    bad = subprocess.run([sys.executable, "-m", "frt_experiments.cli", "power", "--arm",
                          "fast=2:0.6", *CSAT, "--slope-se", "csat=0.005"],
                         capture_output=True, text=True, check=False)
    assert bad.returncode == 2
    assert bad.stderr.count("\n") == 1
    assert "Traceback" not in bad.stderr
