"""Erlang C and A per interval: one vectorised call over 10,000 intervals equals the one-queue
call interval by interval (1e-12 relative), including intervals without arrivals, agents at or
below the load (Erlang A) and loads of thousands of Erlangs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from frt_experiments.errors import UnstableQueueError
from frt_experiments.staffing import (
    StaffingByInterval,
    StaffingRequirement,
    erlang_a,
    erlang_c,
    required_agents,
)

FIELDS = ("p_wait", "asa", "mean_wait", "service_level", "occupancy", "p_abandon")
N = 10_000


def _grid(rng: int, *, stable: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Arrival rates, handle times and agents of N intervals: quiet nights (no arrivals),
    ordinary desks, loads of thousands of Erlangs; agents from 1 (or just above the load) to
    well above it."""
    gen = np.random.default_rng(rng)
    aht = gen.uniform(60, 900, N)
    load = np.concatenate([np.zeros(500), gen.uniform(0.01, 5, 2_500),
                           gen.uniform(5, 200, 5_000), gen.uniform(1_000, 5_000, 2_000)])
    gen.shuffle(load)
    lam = load * 3600 / aht
    load = lam * aht / 3600  # as the functions compute it
    if stable:
        agents = np.floor(load) + 1 + gen.integers(0, 12, N)
    else:  # at or below the load too (Erlang A has a steady state there)
        agents = np.maximum(1, np.floor(load * gen.uniform(0.5, 1.3, N)))
    agents = np.where(lam == 0, gen.integers(0, 3, N), agents).astype(int)
    return lam, aht, agents


def _close(vector: float, scalar: float) -> bool:
    if np.isnan(scalar):
        return bool(np.isnan(vector))
    return abs(vector - scalar) <= 1e-12 * abs(scalar) + 1e-300


def _check(m, lam, aht, agents, idx, *, scalar):
    for i in idx:
        if lam[i] == 0:  # the one-queue call refuses no arrivals; an empty queue never waits
            assert (m.p_wait[i], m.asa[i], m.service_level[i], m.occupancy[i],
                    m.p_abandon[i]) == (0, 0, 1, 0, 0)
            continue
        one = scalar(int(agents[i]), float(lam[i]), float(aht[i]))
        for f in FIELDS:
            assert _close(float(getattr(m, f)[i]), float(getattr(one, f)[0])), (f, i)


def test_erlang_c_over_10000_intervals_equals_the_scalar_function():
    lam, aht, agents = _grid(1, stable=True)
    m = erlang_c(agents, lam, aht, target_seconds=20)
    assert m.by_interval
    assert len(m.to_pandas()) == N
    _check(m, lam, aht, agents, range(N),
           scalar=lambda n, r, h: erlang_c(n, r, h, target_seconds=20))


def test_erlang_a_over_10000_intervals_equals_the_scalar_function():
    lam, aht, agents = _grid(2, stable=False)
    assert (agents[lam > 0] <= lam[lam > 0] * aht[lam > 0] / 3600).sum() > 1_000
    m = erlang_a(agents, lam, aht, 180, target_seconds=30)
    assert np.isfinite(m.asa).all()
    assert np.isfinite(m.service_level).all()
    idx = np.random.default_rng(3).choice(N, 600, replace=False)  # ~1 ms per scalar call
    _check(m, lam, aht, agents, idx,
           scalar=lambda n, r, h: erlang_a(n, r, h, 180, target_seconds=30))


@pytest.mark.slow
def test_erlang_a_over_10000_intervals_equals_the_scalar_function_everywhere():
    lam, aht, agents = _grid(2, stable=False)
    m = erlang_a(agents, lam, aht, 180, target_seconds=30)
    _check(m, lam, aht, agents, range(N),
           scalar=lambda n, r, h: erlang_a(n, r, h, 180, target_seconds=30))


@pytest.mark.parametrize("patience", [None, 120.0])
def test_required_agents_per_interval_equals_the_scalar_search(patience):
    gen = np.random.default_rng(4)
    lam = np.concatenate([[0.0, 0.0], gen.uniform(0.5, 50, 100), gen.uniform(50, 3000, 100),
                          [40_000.0]])
    aht = gen.uniform(120, 600, lam.size)
    index = pd.date_range("2025-01-06", periods=lam.size, freq="30min", name="interval_start")
    req = required_agents(pd.Series(lam, index=index), aht, 20, 0.8, max_occupancy=0.9,
                          shrinkage=0.3, patience_seconds=patience)
    assert isinstance(req, StaffingByInterval)
    assert req.requirement.index.equals(index)
    assert list(req.raw_agents[:2]) == [0, 0]
    for i in range(2, lam.size):
        one = required_agents(lam[i], aht[i], 20, 0.8, max_occupancy=0.9, shrinkage=0.3,
                              patience_seconds=patience)
        assert isinstance(one, StaffingRequirement)
        assert req.raw_agents[i] == one.raw_agents
        assert req.scheduled_agents[i] == one.scheduled_agents
        for f in ("service_level", "p_wait", "asa", "occupancy", "p_abandon"):
            assert _close(float(getattr(req, f)[i]), float(getattr(one, f))), (f, i)
    table = req.to_pandas()
    assert list(table.columns[:5]) == ["arrivals_per_hour", "aht_seconds", "load",
                                       "raw_agents", "scheduled_agents"]
    assert "intervals" in req.summary()
    assert "<table" in req._repr_html_()


def test_scalars_keep_their_results_and_types():
    m = erlang_c([13, 14], 200, 180)
    assert not m.by_interval
    assert next(iter(m.to_pandas().columns)) == "agents"
    assert round(float(m.p_wait[1]), 5) == 0.17413
    assert isinstance(required_agents(200, 180, 20, 0.8), StaffingRequirement)
    with pytest.raises(ValueError, match="arrivals_per_hour"):
        required_agents(0, 180, 20, 0.8)  # one queue: still at least one arrival


def test_unstable_interval_is_named_and_bad_inputs_name_the_argument():
    idx = pd.date_range("2025-01-06 08:00", periods=3, freq="h")
    with pytest.raises(UnstableQueueError, match=r"2025-01-06 09:00:00.*1 of 3 intervals"):
        erlang_c([3, 10, 3], pd.Series([20.0, 200, 20], index=idx), 180)
    with pytest.raises(ValueError, match=r"arrivals_per_hour must be finite numbers >= 0, "
                                         r"got -1.0 at interval 1"):
        erlang_c(3, [1.0, -1.0], 180)
    with pytest.raises(ValueError, match="aht_seconds"):
        erlang_a(3, [1.0, 2.0], [180, 0], 60)
    with pytest.raises(ValueError, match=r"agents must be whole numbers, >= 1 where "
                                         r"arrivals_per_hour > 0, got 0 at interval 1"):
        erlang_c([2, 0], [0.0, 5.0], 180)
    with pytest.raises(ValueError, match="one value per interval"):
        erlang_c([2, 3, 4], [1.0, 5.0], 180)
    with pytest.raises(ValueError, match="one value per interval"):
        required_agents([1.0, 2.0], [180, 200, 300], 20, 0.8)
