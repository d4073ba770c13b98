"""The population of benchmarks/bench_calibration_matrix.py: its documented properties and truth.

The benchmark's calibration figures mean something only if its simulated customers are what
its docstring says (all-or-none raters, a pre-period from the same customer) and if the true
relative changes it scores coverage against are the population's. Truth is checked by seeded
simulation: 200,000 customers per arm, tolerance 4 standard errors (delta method, computed
from the samples themselves).
"""

import importlib.util
import math
import sys
from pathlib import Path

import numpy as np
import pytest

from frt_experiments import schema
from frt_experiments.analysis import METRICS
from frt_experiments.metrics import CONVERSATIONS, HANDLE_HOURS, RATED, SATISFIED

_PATH = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_calibration_matrix.py"


@pytest.fixture(scope="module")
def bench():
    # benchmarks/ is not a package: load the script from its path (registered in sys.modules
    # first, as dataclasses need their module there)
    spec = importlib.util.spec_from_file_location("bench_calibration_matrix", _PATH)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.modules.pop(spec.name, None)


def test_aa_population_has_the_documented_shape(bench):
    rng = np.random.default_rng(11)
    n = 50_000
    treated = np.arange(n) % 2 == 1
    rows = bench.draw_rows(rng, treated)
    assert (rows[schema.ARM] == schema.TREATMENT_ARM).sum() == n // 2
    conv, rated = rows[CONVERSATIONS].to_numpy(), rows[RATED].to_numpy()
    pre, pre_rated = rows[schema.PRE_CONVERSATIONS].to_numpy(), rows[schema.PRE_RATED].to_numpy()
    # customers rate all of their conversations or none, in both periods, and the same ones
    rater = (rated > 0) | (pre_rated > 0)
    np.testing.assert_array_equal(rated, np.where(rater, conv, 0))
    np.testing.assert_array_equal(pre_rated, np.where(rater, pre, 0))
    assert (rows[SATISFIED] <= rated).all()
    assert (rows[schema.PRE_SATISFIED] <= pre_rated).all()
    assert ((rows[HANDLE_HOURS] > 0) == (conv > 0)).all()
    assert ((rows[schema.PRE_HANDLE_SECONDS] > 0) == (pre > 0)).all()
    values = rows.drop(columns=schema.ARM).to_numpy(float)
    assert np.isfinite(values).all()
    assert (values >= 0).all()
    # shares the docstring quotes, within 4 binomial SE: raters among customers with
    # conversations 40%, churn 5%, no conversations (1 + 3 / 0.5)^-0.5 = 37.8%
    has = (conv > 0) | (pre > 0)
    for share, p, m in ((rater[has].mean(), bench.RATER_SHARE, has.sum()),
                        ((rows[schema.REVENUE_END] == 0).mean(), bench.CHURN, n),
                        ((conv == 0).mean(), 7**-0.5, n)):
        assert abs(share - p) <= 4 * math.sqrt(p * (1 - p) / m)
    # the pre-period is a covariate of the outcome, and skewed
    assert np.corrcoef(pre, conv)[0, 1] > 0.5
    assert rows[schema.PRE_HANDLE_SECONDS].skew() > 2


def _log_ratio(rows, metric):
    """log(Σy / Σx) of one arm and the delta-method variance of it."""
    num, den = {"questions": (CONVERSATIONS, None), "csat": (SATISFIED, RATED),
                "nrr": (schema.REVENUE_END, schema.REVENUE_START),
                "efficiency": (CONVERSATIONS, HANDLE_HOURS)}[metric]
    y = rows[num].to_numpy(float)
    x = np.ones_like(y) if den is None else rows[den].to_numpy(float)
    r = y.sum() / x.sum()
    return math.log(r), ((y - r * x) / (r * x.mean())).var(ddof=1) / y.size


@pytest.mark.parametrize("revenue", ["pareto", "lognormal"])
def test_known_effect_truth_matches_the_population(bench, revenue):
    rng = np.random.default_rng(12 if revenue == "pareto" else 13)
    n = 200_000
    control = bench.draw_rows(rng, np.zeros(n, bool), revenue=revenue)
    treatment = bench.draw_rows(rng, np.ones(n, bool), effect=True, revenue=revenue)
    assert set(bench.TRUE_REL) == set(METRICS)
    for metric in METRICS:
        lc, vc = _log_ratio(control, metric)
        lt, vt = _log_ratio(treatment, metric)
        truth = math.log1p(bench.TRUE_REL[metric])
        # Pareto revenue (tail 1.8) has no variance: the NRR sample SE is then the SE given the
        # drawn revenues (the churn and growth multipliers are independent of them)
        assert abs(lt - lc - truth) <= 4 * math.sqrt(vc + vt), metric


def test_an_undefined_metric_does_not_lose_the_others(bench):
    rng = np.random.default_rng(14)
    treated = np.arange(60) % 2 == 1
    rows = bench.draw_rows(rng, treated)
    rows.loc[treated, [RATED, SATISFIED]] = 0.0   # no rater in the treatment arm
    results, undefined = bench.analyse(rows, cuped=False, inference="normal",
                                       permutations=99, seed=0)
    assert set(undefined) == {"csat"}
    assert "no ratings" in undefined["csat"]
    assert set(results) == {"questions", "nrr", "efficiency"}
