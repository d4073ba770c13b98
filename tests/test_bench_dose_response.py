"""benchmarks/bench_dose_response.py in small: on seeded `dose` trials the 2SLS slopes are
centred on the simulator's true slopes with the spread their standard errors promise, their
intervals cover, and A/A trials call the slope significant at the nominal rate. The full run
(300 + 300 trials, coverage 93-97%) is the benchmark's; tolerances here are 3 Monte Carlo SE."""

from __future__ import annotations

import importlib.util
import math
import sys
from pathlib import Path

import numpy as np
import pytest

from frt_experiments.simulate import dose_truth

_PATH = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_dose_response.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_dose_response", _PATH)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.modules.pop(spec.name, None)


def test_slopes_are_centred_on_the_truth_and_their_intervals_cover(bench):
    truth = dose_truth("dose")
    trials = [bench.run_trial("dose", 900 + i, 10_000) for i in range(60)]
    slopes, arms = bench.score(trials, truth)
    z = np.array([[(t.slope[o][0] - truth.slopes[o]) / t.slope[o][1] for o in bench.OUTCOMES]
                  for t in trials])
    n = z.size  # 180 z-scores, nearly independent across outcomes
    assert abs(z.mean()) < 3 / math.sqrt(n)
    assert abs(z.var(ddof=1) - 1) < 3 * math.sqrt(2 / (n - 1))
    se = math.sqrt(0.05 * 0.95 / len(trials))
    assert (slopes["coverage"] >= 0.95 - 3 * se).all(), slopes
    assert (arms["coverage"] >= 0.95 - 3 * se).all(), arms
    # the naive regression of CSAT on realized FRT is confounded: too steep
    csat = slopes.set_index("outcome").loc["csat"]
    assert csat["naive_bias"] < -4 * csat["naive_bias_se"]


def test_aa_trials_call_the_slope_significant_at_the_nominal_rate(bench):
    trials = [bench.run_trial("aa", 700 + i, 4_000, naive=False) for i in range(80)]
    assert all(t.weak for t in trials)  # no arm moves the dose: the first stage is weak
    calls = np.array([[t.significant[o] for o in bench.OUTCOMES] for t in trials])
    se = math.sqrt(0.05 * 0.95 / calls.size)
    assert calls.mean() <= 0.05 + 3 * se
