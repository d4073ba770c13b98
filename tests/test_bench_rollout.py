"""benchmarks/bench_rollout.py in small: on seeded published-desk trials the predicted rollout
effect is centred on desk_truth's rollout effect and its intervals cover it, while the trial's
plain A/B contrast is biased for it; the frontier's recommendation is printed against the
truth's best target. The full run (200 trials at the preset's size) is the benchmark's;
tolerances here are 3 Monte Carlo SE."""

from __future__ import annotations

import importlib.util
import math
import sys
from pathlib import Path

import pandas as pd
import pytest

_PATH = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_rollout.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_rollout", _PATH)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.modules.pop(spec.name, None)


def _run(bench, customers: int, trials: int, seed: int, *, grid: tuple[str, ...] = ("4h", "8h"),
         truth_replications: int = 6) -> dict:
    setup = bench.make_setup(customers, truth_replications=truth_replications,
                             frontier_truth_replications=2, replications=4, grid=grid,
                             seed=seed)
    rows = pd.DataFrame([bench.one_trial(setup, 500 + i) for i in range(trials)])
    return bench.report(setup, rows)


def _check(figures: dict) -> None:
    n = figures["trials"]
    floor = 0.95 - 3 * math.sqrt(0.95 * 0.05 / n)
    for o in ("csat", "questions", "nrr"):
        f = figures[o]
        assert f["coverage"] >= floor, (o, f)
        assert abs(f["bias"]) < 3 * f["bias_se"], (o, f)
        # the interval's width is honest: its SE is the spread of the predictions (within
        # the sampling error of an sd over n trials, about 1 / sqrt(2 (n - 1)) relative)
        assert f["mean_se"] == pytest.approx(f["sd"], rel=3 / math.sqrt(2 * (n - 1))), (o, f)
    assert 0.0 <= figures["share_ci_bound"] <= 1.0
    assert 0.0 <= figures["share_estimate"] <= 1.0
    assert math.isnan(figures["shown_estimate"]) or 0.0 <= figures["shown_estimate"] <= 1.0


def test_prediction_covers_the_rollout_truth(bench, capsys):
    # 6,000 customers (8 agents, 7 in the rollout): on a desk of three or four agents the
    # status quo's load, taken from the trial's control arm, is off by its extra follow-ups
    figures = _run(bench, 6000, 10, seed=3)
    _check(figures)
    out = capsys.readouterr().out
    assert "truth's best target" in out
    assert "A/B" in out
    # the frontier's default CSAT rule is printed first, the conservative one beside it
    assert bench.BASES[0] == bench.DEFAULT_BASIS == "estimate"
    rules = [line.split(":")[0].split()[-2] for line in out.splitlines()
             if line.strip().startswith("CSAT rule ")]
    assert rules == ["estimate", "ci_bound"]
    assert "CSAT rule estimate (default)" in out
    assert "CSAT rule ci_bound (conservative)" in out
    assert "non-inferiority shown at the recommended target" in out


@pytest.mark.slow
def test_prediction_covers_the_rollout_truth_at_more_trials(bench):
    figures = _run(bench, 10_000, 80, seed=4, grid=("4h", "8h", "12h"),
                   truth_replications=20)
    _check(figures)
    # the plain contrast overstates the rollout's CSAT and questions effects (its control
    # arm was served faster than under the status quo)
    assert figures["csat"]["ab_bias"] < 0
