"""frt analyze with several slow arms, in process: results.csv with the arm column and the
family-adjusted p-values (equal to the API), summary.md per arm, trust.json and the manifest;
the plan's [arms]; bad arms and policies in one line with exit 2; frt assign writes a K-arm
ledger; frt decide refuses several arms."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from test_analysis_arms import POLICIES, SLOW, WEIGHTS, relabel

import frt_experiments as frt
from frt_experiments import schema
from frt_experiments.arms import ARMS_COLUMNS
from frt_experiments.cli import main
from frt_experiments.plan import ExperimentPlan, write_plan
from frt_experiments.simulate import simulate

pytestmark = pytest.mark.filterwarnings("ignore::frt_experiments.errors.BalanceWarning")

WEIGHTS_FLAG = "fast=0.5,four_hours=0.16666666666666666,one_business_day=0.16666666666666666," \
    "two_business_days=0.16666666666666666"


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    trial = simulate("published", customers=3_000, rng=7)
    d = tmp_path_factory.mktemp("trial")
    trial.write(d, format="csv")
    other = tmp_path_factory.mktemp("arms")  # the relabelled ledger, outside the trial's set
    assignments = relabel(trial.to_pandas()["assignments"])
    schema.write_table(assignments, other / "assignments.csv")
    return trial, d, other / "assignments.csv"


def _args(data, out, *extra):
    _, d, assignments = data
    return ["analyze", "--customers", str(d / "customers.csv"),
            "--conversations", str(d / "conversations.csv"),
            "--assignments", str(assignments), "--out", str(out), *extra]


def test_several_slow_arms_end_to_end(data, tmp_path, capsys):
    trial, _, _ = data
    out = tmp_path / "out"
    status = main(_args(data, out, "--treatment", ",".join(SLOW), "--policy", "four_hours=4h",
                        "--weights", WEIGHTS_FLAG))
    printed = capsys.readouterr()
    assert status == 0, printed.err
    assert "p-values adjusted by Holm (1979)" in printed.out
    res = pd.read_csv(out / "results.csv")
    assert tuple(res.columns) == ARMS_COLUMNS
    assert list(res["arm"].unique()) == SLOW
    ref = frt.analyze(trial.customers, trial.conversations,
                      relabel(trial.to_pandas()["assignments"]), treatment=SLOW,
                      policies=POLICIES, diagnostics=False).to_pandas()
    np.testing.assert_allclose(res["p_adjusted"], ref["p_adjusted"], rtol=1e-9)
    np.testing.assert_allclose(res["rel_diff"], ref["rel_diff"], rtol=1e-9)
    summary = (out / "summary.md").read_text()
    assert summary.startswith("## 3 slow arms vs fast")
    for arm in SLOW:
        assert f"### {arm} vs fast" in summary
    assert "Multiplicity: p-values adjusted by Holm (1979)" in summary
    assert "First response time per arm" in summary
    trust = json.loads((out / "trust.json").read_text())
    assert trust["treatments"] == SLOW
    assert trust["treatment_delivered_by_arm"] == dict.fromkeys(SLOW, True)
    assert trust["trust_problems"] == []
    manifest = json.loads((out / "manifest.json").read_text())
    assert {"results.csv", "summary.md", "forest.png", "trust.json"} <= set(
        manifest["files"] if isinstance(manifest["files"], dict)
        else [f["name"] for f in manifest["files"]])
    assert (out / "forest.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # frt decide judges one slower policy: several arms are refused in one line
    status = main(["decide", "--results", str(out / "results.csv"), "--revenue-per-year",
                   "1000000", "--staffing-savings", "100000"])
    err = capsys.readouterr().err
    assert status == 2
    assert "compare 3 slow arms" in err
    assert len(err.strip().splitlines()) == 1


def test_the_plan_arms_and_dunnett(data, tmp_path, capsys):
    plan = tmp_path / "plan.toml"
    write_plan(ExperimentPlan(name="k", arms={"fast": "4h", **POLICIES,
                                              "one_business_day": "one_business_day",
                                              "two_business_days": "two_business_days"},
                              weights=WEIGHTS), plan)
    out = tmp_path / "out"
    assert main(_args(data, out, "--plan", str(plan), "--multiplicity", "dunnett",
                      "--no-diagnostics")) == 0
    res = pd.read_csv(out / "results.csv")
    assert list(res["arm"].unique()) == SLOW
    assert "Dunnett (1955)" in (out / "summary.md").read_text()
    assert "Dunnett-Holm p" in capsys.readouterr().out


@pytest.mark.parametrize(("extra", "message"), [
    (["--treatment", ",".join(SLOW)], "arm 'four_hours' has no FRT policy"),
    (["--treatment", ",".join(SLOW), "--policy", "four_hours=3 days"],
     "--policy four_hours=3 days: arm 'four_hours': unknown FRT policy '3 days'"),
    (["--treatment", "four_hours,three_days", "--policy", "four_hours=4h"],
     "--treatment: arm 'three_days' is not in the assignments"),
    (["--treatment", "four_hours,"], "--treatment 'four_hours,': an empty arm name"),
    (["--treatment", "fast,four_hours"], "treatment: arm 'fast' is the control"),
    (["--treatment", ",".join(SLOW), "--policy", "four_hours"],
     "--policy 'four_hours': expected ARM=NAME"),
    (["--treatment", ",".join(SLOW), "--policy", "four_hours=4h", "--policy", "x=4h"],
     "policies: arm 'x' is not one of the compared arms"),
])
def test_bad_arms_one_line_exit_2(data, tmp_path, capsys, extra, message):
    status = main(_args(data, tmp_path / "out", *extra))
    err = capsys.readouterr().err
    assert status == 2
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, err
    assert message in errors[0]
    assert "Traceback" not in err
    assert not (tmp_path / "out" / "results.csv").exists()


def test_fewer_than_two_arms_in_the_plan(data, tmp_path, capsys):
    plan = tmp_path / "plan.toml"
    plan.write_text('[experiment]\nname = "k"\n[arms]\nfast = "4h"\n')
    assert main(_args(data, tmp_path / "out", "--plan", str(plan))) == 2
    err = capsys.readouterr().err.strip()
    assert err == ("error: plan.toml: arms: a trial needs at least two arms, the control first "
                   "(e.g. fast = \"4h\", one_business_day = \"one_business_day\"), got "
                   "{'fast': '4h'}")


def test_assign_writes_a_ledger_of_four_arms(tmp_path, capsys):
    rng = np.random.default_rng(0)
    n = 2_000
    pd.DataFrame({schema.CUSTOMER_ID: [f"{i:05d}" for i in range(n)],
                  schema.MONTHLY_SPEND: np.round(rng.lognormal(4.0, 0.8, n), 2)}
                 ).to_csv(tmp_path / "customers.csv", index=False)
    arms = "fast,four_hours,one_business_day,two_business_days"
    status = main(["assign", "--customers", str(tmp_path / "customers.csv"), "--experiment",
                   "k", "--salt", "k1", "--ledger", str(tmp_path / "ledger.csv"),
                   "--assigned-at", "2026-03-02T09:00:00Z", "--max-spend", "1e9",
                   "--arms", arms, "--weights", "0.4,0.2,0.2,0.2"])
    assert status == 0, capsys.readouterr().err
    ledger = schema.read_table(tmp_path / "ledger.csv", "assignments")
    counts = ledger[schema.ARM].value_counts()
    assert set(counts.index) == set(arms.split(","))
    assert counts["fast"] == pytest.approx(0.4 * n, abs=4 * np.sqrt(n * 0.24))
    # the hashed formula: arm by cumulative weights of the bucket
    cut = np.cumsum([0.4, 0.2, 0.2, 0.2])
    expect = np.array(arms.split(","))[np.searchsorted(cut, ledger[schema.BUCKET], side="right")]
    assert (ledger[schema.ARM].to_numpy() == expect).all()
    meta = json.loads((tmp_path / "ledger.csv.meta.json").read_text()) \
        if (tmp_path / "ledger.csv.meta.json").exists() else None
    assert meta is None or "four_hours" in json.dumps(meta)
