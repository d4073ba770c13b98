"""Targeting (issue 19 part 2): the exhaustive tree search against brute force, the doubly
robust values against the simulator's truth (policy_value) within multiples of their standard
errors, the result's structure, bad arguments named, and (slow) the interval's coverage."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("sklearn")

from frt_experiments import schema
from frt_experiments.net_benefit import NetBenefit
from frt_experiments.simulate import policy_value, simulate
from frt_experiments.targeting import (
    PolicyTree,
    TargetingResult,
    _leaf_value,
    _search,
    learn_targeting,
)

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def trial():
    return simulate("hte", customers=8000, rng=11)


@pytest.fixture(scope="module")
def result(trial) -> TargetingResult:
    return learn_targeting(trial.customers, trial.conversations, trial.assignments, seed=3,
                           evaluation="crossfit")


def _brute(bins: np.ndarray, stats: np.ndarray, n_bins: int, min_leaf: float, *,
           margin: float, penalty: float) -> float:
    """Best value over every tree of depth <= 2, by enumeration."""
    n, p = bins.shape
    splits = [(j, b) for j in range(p) for b in range(n_bins - 1)]

    def leaf(rows: np.ndarray) -> float:
        return float(_leaf_value(stats[rows].sum(axis=0), margin, penalty)[0])

    def depth1(rows: np.ndarray) -> float:
        best = leaf(rows)
        for j, b in splits:
            left, right = rows & (bins[:, j] <= b), rows & (bins[:, j] > b)
            if left.sum() >= min_leaf and right.sum() >= min_leaf:
                best = max(best, leaf(left) + leaf(right))
        return best

    everyone = np.ones(n, bool)
    best = leaf(everyone)
    for j, b in splits:
        left, right = bins[:, j] <= b, bins[:, j] > b
        if left.sum() >= min_leaf and right.sum() >= min_leaf:
            best = max(best, depth1(left) + depth1(right))
    return best


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_search_finds_the_best_depth_two_tree(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n, p, n_bins = 300, 3, 5
    bins = rng.integers(0, n_bins, size=(n, p))
    effect = np.where((bins[:, 0] <= 1) & (bins[:, 1] >= 3), 2.0, -1.0)
    rated = rng.poisson(2.0, size=(n, 2)).astype(float)
    stats = np.column_stack([np.ones(n), effect + rng.normal(0, 2, n),
                             rated[:, 0] * rng.uniform(0.6, 1, n), rated[:, 0],
                             rated[:, 1] * rng.uniform(0.6, 1, n), rated[:, 1]])
    for margin, penalty in ((1.0, 0.0), (0.02, 0.0), (1.0, 2.0)):
        got, _ = _search(bins, stats, n_bins=n_bins, depth=2, min_leaf=15, margin=margin,
                         penalty=penalty)
        assert got == pytest.approx(_brute(bins, stats, n_bins, 15, margin=margin,
                                           penalty=penalty),
                                    abs=1e-9)


def test_result_structure(result: TargetingResult, trial) -> None:
    t = result.to_pandas()
    assert list(t.index) == ["learned (cross-fitted)", "defer every low-spend customer",
                             "defer none (status quo)",
                             "learned - defer every low-spend customer"]
    assert {"value", "se", "ci_low", "ci_high", "deferred_share", "csat_change"} <= set(t)
    row = t.loc["learned (cross-fitted)"]
    assert row.ci_low < row.value < row.ci_high
    assert row.ci_high - row.ci_low == pytest.approx(2 * 1.959963984540054 * row.se)
    assert result.value == row.value
    assert t.loc["defer none (status quo)", "value"] == 0.0
    # the difference row is the learned value minus defer-all's
    assert t.loc["learned - defer every low-spend customer", "value"] == pytest.approx(
        row.value - t.loc["defer every low-spend customer", "value"], abs=1e-9)
    assert len(result.fold_policies) == 5
    assert sum(result.fold_sizes) == result.customers == len(trial.assignments)
    assert isinstance(result.policy, PolicyTree)
    rules = result.policy.rules()
    assert 1 <= len(rules) <= 4
    assert all(r.startswith(("defer: ", "answer fast: ")) for r in rules)
    picks = result.policy.defer(trial.customers)
    assert picks.dtype == bool
    assert picks.shape == (len(trial.customers),)
    assert "Value of the learned policy" in result.summary()
    assert result.leaves["share"].sum() == pytest.approx(1.0)
    # each customer's deferral is its fold policy's choice
    s = result.scores
    assert s["fold"].nunique() == 5
    assert float(np.mean(np.where(s["defer"], s["gamma"], 0.0))) == pytest.approx(result.value)


def test_defer_all_estimate_agrees_with_the_truth() -> None:
    """The AIPW estimate of deferring everyone on a 40,000-customer trial lies within 4 of
    its standard errors of the true value (policy_value, whose own MC SE is far smaller)."""
    tr = simulate("hte", customers=40_000, rng=7)
    r = learn_targeting(tr.customers, tr.conversations, tr.assignments, depth=1, folds=2,
                        seed=1, validate=False, evaluation="crossfit")
    row = r.comparison.loc["defer every low-spend customer"]
    truth = policy_value("hte", "all")
    assert truth.mc_se < row.se / 20
    assert abs(row.value - truth.value) < 4 * row.se
    assert abs(row.csat_change - truth.csat_change) < 4 * row.csat_change_se


def test_bad_arguments_are_named(trial) -> None:
    args = (trial.customers, trial.conversations, trial.assignments)
    for kwargs, message in [
        ({"treatment_share": 1.0}, "treatment_share must be in"),
        ({"depth": 3}, "depth must be 1 or 2"),
        ({"folds": 1}, "folds must be an integer >= 2"),
        ({"treatment": "nope"}, "treatment arm 'nope' is not in the assignments"),
        ({"control": "slowest"}, "control arm 'slowest' is not in the assignments"),
        ({"policy_features": ("shoe_size",)}, "column 'shoe_size' is not in"),
        ({"min_leaf_share": 0.6}, "min_leaf_share must be in"),
        ({"caution": -1.0}, "caution must be in"),
    ]:
        with pytest.raises(ValueError, match=message):
            learn_targeting(*args, validate=False, **kwargs)
    with pytest.raises(ValueError, match="NetBenefit: revenue_months must be"):
        NetBenefit(revenue_months=-1)
    no_revenue = trial.customers.drop(columns=[schema.REVENUE_END])
    with pytest.raises(ValueError, match="revenue_end is needed"):
        learn_targeting(no_revenue, trial.conversations, trial.assignments, validate=False)


def test_benchmark_runs_small() -> None:
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import bench_targeting
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    rows = bench_targeting.run(2, 5, customers=5000)
    assert len(rows) == 2
    assert {"estimate", "ci_low", "ci_high", "truth", "covered", "final_truth"} <= set(rows)
    assert (rows["truth_mc_se"] < rows["se"] / 20).all()
    f = bench_targeting.report(rows)
    assert f["oracle"] > max(0.0, f["defer_all"])
    assert f["final_truth"] <= f["oracle"] + 4 * f["oracle_mc_se"]


@pytest.mark.slow
def test_interval_covers_the_true_value() -> None:
    """60 seeded hte trials of 10,000 customers: the 95% interval of the learned policy's
    held-out value covers its true value in a share within 3 binomial SEs of 95%. (The
    cross-fitted interval covered 90.7% over 300 trials of 20,000 in bench_targeting: too
    narrow, so it is not the default and not checked here.)"""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import bench_targeting
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    trials = 60
    rows = bench_targeting.run(trials, 1000, customers=10_000, evaluation="holdout")
    cover = rows["covered"].mean()
    assert abs(cover - 0.95) <= 3 * math.sqrt(0.95 * 0.05 / trials)
    err = rows["estimate"] - rows["truth"]
    assert abs(err.mean()) < 4 * err.std(ddof=1) / math.sqrt(trials)


def test_target_command_writes_one_output_set(tmp_path, trial, capsys) -> None:
    """``frt target`` from the command line (registered in ``cli.COMMANDS``) on a simulated
    trial's files: the comparison, the leaves and the Markdown; a bad arm is one line on
    stderr, exit 2, and no output directory."""
    from frt_experiments.cli import main

    data = tmp_path / "data"
    trial.write(data)
    files = [f"--{t}={data / f'{t}.csv'}" for t in ("customers", "conversations",
                                                    "assignments")]
    assert main(["target", *files, "--out", str(tmp_path / "out"), "--folds", "3"]) == 0
    out = capsys.readouterr().out
    assert "Value of the learned policy" in out
    table = pd.read_csv(tmp_path / "out" / "targeting.csv")
    assert table["policy"].tolist()[:3] == ["learned (held out)",
                                            "defer every low-spend customer",
                                            "defer none (status quo)"]
    leaves = pd.read_csv(tmp_path / "out" / "targeting_leaves.csv")
    assert set(leaves["action"]) <= {"defer", "answer fast"}
    assert "# Targeting" in (tmp_path / "out" / "targeting.md").read_text()
    status = main(["target", *files, "--out", str(tmp_path / "bad"), "--policy-features",
                   "segment,region"])
    err = capsys.readouterr().err
    assert status == 2
    assert err == "error: policy_features: column 'region' is not in the customers table\n"
    status = main(["target", *files, "--out", str(tmp_path / "bad"), "--treatment", "nope"])
    err = capsys.readouterr().err
    assert status == 2
    assert err.count("\n") == 1
    assert "treatment arm 'nope' is not in the assignments" in err
    assert "Traceback" not in err
    assert not (tmp_path / "bad").exists()


def test_holdout_values_the_reported_policy_on_untouched_customers(trial) -> None:
    r = learn_targeting(trial.customers, trial.conversations, trial.assignments, seed=3,
                        evaluation="holdout", holdout_share=0.3, validate=False)
    n = len(trial.assignments)
    assert r.fold_sizes == (round(0.3 * n),)
    assert r.fold_policies == (r.policy,)
    s = r.scores
    held = s["fold"] < 0
    assert int(held.sum()) == r.fold_sizes[0]
    assert not s.loc[~held, "defer"].any()  # only the held-out customers are valued
    row = r.comparison.loc["learned (held out)"]
    pick = s.loc[held, "defer"].to_numpy()
    g = s.loc[held, "gamma"].to_numpy()
    assert row.value == pytest.approx(float(np.mean(np.where(pick, g, 0.0))))
    assert row.se == pytest.approx(float(np.std(np.where(pick, g, 0.0), ddof=1)
                                         / math.sqrt(held.sum())))
    assert bool(np.array_equal(pick, r.policy.defer(
        trial.customers.set_index(schema.CUSTOMER_ID).loc[s.loc[held, schema.CUSTOMER_ID]]
        .reset_index())))
    with pytest.raises(ValueError, match="evaluation must be"):
        learn_targeting(trial.customers, trial.conversations, trial.assignments,
                        evaluation="insample", validate=False)


def test_leaves_carry_questions_and_nrr_on_the_held_out_customers(trial) -> None:
    """The leaves' conditional effects on questions and NRR are the difference in means and
    the difference of summed-revenue ratios over the leaf's held-out customers, computed
    here by hand from the customer rows."""
    from frt_experiments.metrics import customer_rows

    r = learn_targeting(trial.customers, trial.conversations, trial.assignments, seed=3,
                        depth=1, validate=False)
    rows = customer_rows(trial.customers, trial.conversations, trial.assignments)
    s = r.scores.set_index(schema.CUSTOMER_ID)
    held = s["fold"] < 0
    customers = trial.customers.set_index(schema.CUSTOMER_ID).loc[s.index].reset_index()
    members = r.policy.root.members(customers)
    assert len(members) == len(r.leaves)
    for member, (_, leaf) in zip(members, r.leaves.iterrows(), strict=True):
        ids = s.index[member & held.to_numpy()]
        part = rows.loc[ids]
        slow = part[schema.ARM] == r.arms[1]
        a, b = part.loc[slow, "conversations"], part.loc[~slow, "conversations"]
        assert leaf["questions_change"] == pytest.approx(a.mean() - b.mean(), rel=1e-12)
        assert leaf["questions_change_se"] == pytest.approx(
            math.sqrt(a.var() / len(a) + b.var() / len(b)), rel=1e-12)
        nrr = [part.loc[m, schema.REVENUE_END].sum() / part.loc[m, schema.REVENUE_START].sum()
               for m in (slow, ~slow)]
        assert leaf["nrr_change"] == pytest.approx(nrr[0] - nrr[1], rel=1e-12)
        assert leaf["nrr_change_se"] > 0


def test_default_rules_use_the_covariates_the_table_has(trial) -> None:
    """Without ``segment`` (an optional column) the default tree splits on the others; a
    named covariate that is missing is an error naming it, on the command line one line."""
    customers = trial.customers.drop(columns=[schema.SEGMENT])
    r = learn_targeting(customers, trial.conversations, trial.assignments, seed=3, depth=1,
                        folds=2, validate=False)
    assert all(schema.SEGMENT not in rule for rule in r.leaves["rule"])
    with pytest.raises(ValueError, match="column 'segment' is not in the customers table"):
        learn_targeting(customers, trial.conversations, trial.assignments, depth=1, folds=2,
                        policy_features=(schema.SEGMENT,), validate=False)
