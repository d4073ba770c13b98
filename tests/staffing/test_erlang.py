"""Erlang B, C and A against closed forms, exact rationals, a log-space direct form and an
independent numerical solution of the M/M/n+M birth-death chain."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import linalg, special

from frt_experiments.errors import UnstableQueueError
from frt_experiments.staffing import (
    QueueMetrics,
    StaffingRequirement,
    erlang_a,
    erlang_b,
    erlang_c,
    required_agents,
)

# ------------------------------------------------------------------ reference examples


def test_reference_example_200_per_hour():
    # Issue 8 reference: 200 contacts/h, 180 s AHT, 80% within 20 s, occupancy <= 85%,
    # shrinkage 30% -> 14 raw, 20 scheduled, SL 0.88835, P(wait) 0.17413, occupancy 0.714.
    r = required_agents(200, 180, 20, 0.8, max_occupancy=0.85, shrinkage=0.30)
    assert isinstance(r, StaffingRequirement)
    assert r.raw_agents == 14
    assert r.scheduled_agents == 20  # 14 / 0.7 is 20.000000000000004 in floating point
    assert round(r.service_level, 5) == 0.88835
    assert round(r.p_wait, 5) == 0.17413
    assert round(r.occupancy, 3) == 0.714
    assert r.p_abandon == 0.0
    assert r.model == "erlang_c"
    # ASA = C * AHT / (n - a) = 0.17413 * 180 / 4
    assert r.asa == pytest.approx(r.p_wait * 180 / 4, rel=1e-12)


def test_true_minimum_18_per_hour_four_hours():
    # 18/h x 15 min = 4.5 Erlangs; 90% within 4 h needs 5 agents, not 6.
    r = required_agents(18, 900, 4 * 3600, 0.9)
    assert r.raw_agents == 5
    with pytest.raises(UnstableQueueError):
        erlang_c(4, 18, 900)


@pytest.mark.parametrize(
    "case",
    [(200, 180, 20, 0.8, 0.85, None), (18, 900, 14400, 0.9, None, None),
     (30, 300, 60, 0.95, None, None), (1200, 240, 30, 0.9, 0.9, None),
     (5, 600, 0, 0.5, None, None), (200, 180, 20, 0.8, None, 120.0),
     (60, 300, 30, 0.7, 0.9, 60.0), (500, 200, 10, 0.9, None, 600.0)])
def test_required_agents_is_the_true_minimum(case):
    lam, aht, t, sl, occ, patience = case
    r = required_agents(lam, aht, t, sl, max_occupancy=occ, patience_seconds=patience)
    load = lam * aht / 3600
    n = r.raw_agents
    assert r.service_level >= sl
    if occ is not None:
        assert r.occupancy <= occ
    if n - 1 < 1 or (patience is None and n - 1 <= load):
        return  # fewer agents are not admissible
    if patience is None:
        m = erlang_c(n - 1, lam, aht, target_seconds=t)
    else:
        m = erlang_a(n - 1, lam, aht, patience, target_seconds=t)
    fails = m.service_level[0] < sl or (occ is not None and m.occupancy[0] > occ)
    assert fails


# ---------------------------------------------------------------------- closed forms


@pytest.mark.parametrize(("lam_h", "aht", "t"), [(10, 180, 0), (10, 180, 60), (19, 180, 30)])
def test_erlang_c_single_agent_is_mm1(lam_h, aht, t):
    lam, mu = lam_h / 3600, 1 / aht
    rho = lam / mu
    m = erlang_c(1, lam_h, aht, target_seconds=t)
    assert m.p_wait[0] == pytest.approx(rho, rel=1e-12)  # P(wait) = rho
    assert m.asa[0] == pytest.approx(rho / (mu - lam), rel=1e-12)  # Wq = rho / (mu - lambda)
    assert m.service_level[0] == pytest.approx(1 - rho * math.exp(-(mu - lam) * t), rel=1e-12)
    assert m.occupancy[0] == pytest.approx(rho, rel=1e-12)


def _exact_b(n: int, a: Fraction) -> Fraction:
    terms = [a**k / math.factorial(k) for k in range(n + 1)]
    return terms[-1] / sum(terms)


def _exact_c(n: int, a: Fraction) -> Fraction:
    # direct summation: C = (a^n/n! * n/(n-a)) / (sum_{k<n} a^k/k! + a^n/n! * n/(n-a))
    top = a**n / math.factorial(n) * n / (n - a)
    return top / (sum(a**k / math.factorial(k) for k in range(n)) + top)


@pytest.mark.parametrize(("n", "a"), [(1, Fraction(1, 2)), (2, Fraction(3, 2)), (5, Fraction(4)),
                                      (10, Fraction(5)), (14, Fraction(10)),
                                      (30, Fraction(57, 2))])
def test_erlang_b_and_c_against_exact_rationals(n, a):
    assert erlang_b(n, float(a)) == pytest.approx(float(_exact_b(n, a)), rel=1e-12)
    # Erlang C through the rates: a = lambda * aht / 3600 with aht = 3600 s
    m = erlang_c(n, float(a), 3600.0)
    assert m.p_wait[0] == pytest.approx(float(_exact_c(n, a)), rel=1e-12)


@pytest.mark.parametrize(("n", "a"), [(1, Fraction(3)), (5, Fraction(10)), (7, Fraction(15, 2)),
                                      (40, Fraction(100)), (12, Fraction(12))])
def test_erlang_b_overloaded_against_exact_rationals(n, a):
    # n <= a takes the recursion (n >= a the Poisson pmf/cdf form); both against exact sums
    assert erlang_b(n, float(a)) == pytest.approx(float(_exact_b(n, a)), rel=1e-12)
    mixed = erlang_b([n, n + 30], float(a))
    assert mixed[1] == pytest.approx(float(_exact_b(n + 30, a)), rel=1e-12)


def test_erlang_b_published_table_value():
    # Classical Erlang B table (e.g. Cooper, Introduction to Queueing Theory, 1981,
    # table of B(c, a)): 10 trunks, 5 Erlangs -> 0.01838.
    assert round(erlang_b(10, 5.0), 5) == 0.01838


def test_erlang_b_vectorises_and_broadcasts():
    got = erlang_b([[1], [2], [5]], [0.5, 2.0])
    want = [[float(_exact_b(n, Fraction(a))) for a in (Fraction(1, 2), Fraction(2))]
            for n in (1, 2, 5)]
    np.testing.assert_allclose(got, want, rtol=1e-12)


@pytest.mark.parametrize(("n", "load"), [(5000, 4900.0), (5000, 4999.0), (3000, 100.0)])
def test_erlang_c_is_stable_for_thousands_of_agents(n, load):
    m = erlang_c(n, load, 3600.0)
    c = m.p_wait[0]
    assert np.isfinite(c)
    # log-space direct form: log of a^k/k! terms, with the n/(n-a) tail, by logsumexp
    k = np.arange(n)
    log_terms = k * math.log(load) - special.gammaln(k + 1)
    log_top = n * math.log(load) - special.gammaln(n + 1) + math.log(n / (n - load))
    log_c = log_top - special.logsumexp(np.append(log_terms, log_top))
    if log_c < -700:  # below the smallest double: the probability is 0 to machine precision
        assert c == 0.0
    else:
        assert math.log(c) == pytest.approx(log_c, rel=1e-9, abs=1e-9)


def test_erlang_c_vector_of_agents_matches_scalars():
    m = erlang_c([11, 12, 13, 14], 200, 180)
    for i, n in enumerate([11, 12, 13, 14]):
        assert m.p_wait[i] == pytest.approx(erlang_c(n, 200, 180).p_wait[0], rel=1e-13)
    assert np.all(np.diff(m.p_wait) < 0)


# --------------------------------------------------------------------------- Erlang A


def _chain(n: int, lam: float, mu: float, theta: float, extra: int):
    """Stationary distribution of M/M/n+M truncated at n + extra, solved numerically."""
    states = np.arange(n + extra + 1)
    death = np.minimum(states, n) * mu + np.maximum(states - n, 0) * theta
    # detailed balance pi_j = pi_{j-1} lambda / death_j, accumulated in log space
    log_pi = np.concatenate([[0.0], np.cumsum(np.log(lam / death[1:]))])
    pi = np.exp(log_pi - log_pi.max())
    return pi / pi.sum()


def _chain_metrics(n, lam_h, aht, patience, t, *, extra=400):
    lam, mu, theta = lam_h / 3600, 1 / aht, 1 / patience
    pi = _chain(n, lam, mu, theta, extra)
    queue = np.maximum(np.arange(pi.size) - n, 0)
    p_wait = pi[n:].sum()
    p_ab = theta * (queue * pi).sum() / lam
    # tagged arrival seeing m ahead: transient states k = 0..extra ahead, absorbing
    # "served" and "abandoned"; generator of the transient part
    m_ahead = pi[n:]
    K = m_ahead.size
    ks = np.arange(K)
    Q = np.zeros((K + 2, K + 2))
    advance = n * mu + ks * theta
    Q[ks[1:], ks[1:] - 1] = advance[1:]
    Q[0, K] = n * mu  # served
    Q[ks, K + 1] = theta  # the tagged contact abandons
    Q[ks, ks] = -(advance + theta)
    start = np.zeros(K + 2)
    start[:K] = m_ahead
    served_by_t = (start @ linalg.expm(Q * t))[K]
    sl = (1 - p_wait) + served_by_t
    # E[T; served] = start . N h with N = (-Q_T)^-1, h = P(served | state)
    QT = Q[:K, :K]
    h = np.linalg.solve(-QT, Q[:K, K])
    wait_served = start[:K] @ np.linalg.solve(-QT, h)
    asa = wait_served / (1 - p_ab)
    return p_wait, p_ab, sl, asa


@pytest.mark.parametrize(("n", "lam_h", "aht", "patience", "t"),
                         [(12, 200, 180, 120, 20), (8, 200, 180, 120, 30),
                          (3, 60, 300, 90, 60), (20, 400, 180, 600, 15)])
def test_erlang_a_against_the_truncated_birth_death_chain(n, lam_h, aht, patience, t):
    p_wait, p_ab, sl, asa = _chain_metrics(n, lam_h, aht, patience, t)
    m = erlang_a(n, lam_h, aht, patience, target_seconds=t)
    assert m.p_wait[0] == pytest.approx(p_wait, rel=1e-9)
    assert m.p_abandon[0] == pytest.approx(p_ab, rel=1e-9)
    assert m.service_level[0] == pytest.approx(sl, rel=1e-8)
    assert m.asa[0] == pytest.approx(asa, rel=1e-8)
    assert m.mean_wait[0] == pytest.approx(p_ab * patience, rel=1e-12)
    # flow balance: carried load = lambda (1 - P(Ab)) AHT
    assert m.occupancy[0] == pytest.approx(lam_h * aht / 3600 * (1 - p_ab) / n, rel=1e-9)


@pytest.mark.parametrize("n", [11, 14, 30])
def test_erlang_a_tends_to_erlang_c_as_patience_grows(n):
    # the gap closes at rate AHT / patience: tenfold patience, about a tenth of the gap
    c = erlang_c(n, 200, 180, target_seconds=20)
    gaps = []
    for patience in (1e5, 1e6):
        a = erlang_a(n, 200, 180, patience, target_seconds=20)
        gaps.append(np.array([a.p_wait[0] - c.p_wait[0], a.service_level[0]
                              - c.service_level[0], a.asa[0] - c.asa[0]]))
    ratio = np.abs(gaps[0] / gaps[1])
    assert np.all((ratio > 8) & (ratio < 12)), ratio
    a = erlang_a(n, 200, 180, 1e9, target_seconds=20)
    assert a.p_wait[0] == pytest.approx(c.p_wait[0], rel=1e-5)
    assert a.service_level[0] == pytest.approx(c.service_level[0], rel=1e-5)
    assert a.asa[0] == pytest.approx(c.asa[0], rel=1e-5)
    assert a.p_abandon[0] < 1e-5


def test_erlang_a_allows_overload_and_conserves_flow():
    m = erlang_a([1, 2, 5, 10, 40], 2000, 180, 60, target_seconds=20)  # load 100 Erlangs
    assert np.all(np.isfinite(m.p_wait))
    assert np.all(np.isfinite(m.asa))
    assert np.all(m.occupancy <= 1 + 1e-12)
    assert np.all(np.diff(m.p_abandon) < 0)
    _, p_ab, sl, _ = _chain_metrics(40, 2000, 180, 60, 20, extra=600)
    assert m.p_abandon[-1] == pytest.approx(p_ab, rel=1e-9)
    assert m.service_level[-1] == pytest.approx(sl, rel=1e-8)


def test_erlang_a_service_level_counts_abandonment_against_it():
    m = erlang_a(12, 200, 180, 120, target_seconds=1e6)
    assert m.service_level[0] == pytest.approx(1 - m.p_abandon[0], rel=1e-9)
    m0 = erlang_a(12, 200, 180, 120, target_seconds=0)
    assert m0.service_level[0] == pytest.approx(1 - m0.p_wait[0], rel=1e-12)


def test_erlang_a_with_long_patience_and_thousands_of_agents_is_finite():
    m = erlang_a([3000, 3050], 3000 * 20 * 0.97, 180, 3600 * 24, target_seconds=20)
    for field in ("p_wait", "p_abandon", "service_level", "asa"):
        assert np.all(np.isfinite(getattr(m, field))), field


# ---------------------------------------------------------------------- input errors


@pytest.mark.parametrize(("kwargs", "name"), [
    ({"arrivals_per_hour": 0}, "arrivals_per_hour"),
    ({"aht_seconds": -1}, "aht_seconds"),
    ({"target_seconds": -5}, "target_seconds"),
    ({"service_level": 1.0}, "service_level"),
    ({"service_level": "high"}, "service_level"),
    ({"max_occupancy": 1.5}, "max_occupancy"),
    ({"shrinkage": 1.0}, "shrinkage"),
    ({"patience_seconds": 0}, "patience_seconds"),
])
def test_bad_arguments_name_the_argument(kwargs, name):
    args = {"arrivals_per_hour": 200, "aht_seconds": 180, "target_seconds": 20,
            "service_level": 0.8}
    extra = {k: v for k, v in kwargs.items() if k not in args}
    args.update({k: v for k, v in kwargs.items() if k in args})
    with pytest.raises(ValueError, match=name):
        required_agents(**args, **extra)


def test_bad_agents_and_load():
    with pytest.raises(ValueError, match="agents"):
        erlang_c(2.5, 10, 180)
    with pytest.raises(ValueError, match="agents"):
        erlang_b(0, 1.0)
    with pytest.raises(ValueError, match="load"):
        erlang_b(3, -1.0)


def test_unstable_erlang_c_raises_and_names_load():
    with pytest.raises(UnstableQueueError, match="load 10"):
        erlang_c(10, 200, 180)
    with pytest.raises(UnstableQueueError):
        erlang_c([9, 12], 200, 180)


# --------------------------------------------------------------------------- records


def test_records_to_pandas_and_repr():
    r = required_agents(200, 180, 20, 0.8, max_occupancy=0.85, shrinkage=0.30)
    s = r.to_pandas()
    assert isinstance(s, pd.Series)
    assert s["raw_agents"] == 14
    assert s["scheduled_agents"] == 20
    assert r.to_dict()["target_service_level"] == 0.8
    assert "14 agents on the floor, 20 scheduled" in repr(r)
    m = erlang_c([13, 14], 200, 180)
    assert isinstance(m, QueueMetrics)
    frame = m.to_pandas()
    assert list(frame.columns) == ["agents", "p_wait", "asa", "mean_wait", "service_level",
                                   "occupancy", "p_abandon"]
    assert len(frame) == 2
    assert "erlang_c" in repr(m)


@settings(max_examples=40, deadline=None)
@given(case=st.tuples(st.floats(1, 3000), st.floats(30, 1800), st.floats(0, 600),
                     st.floats(0.05, 0.99), st.one_of(st.none(), st.floats(0.5, 1.0)),
                     st.one_of(st.none(), st.floats(10, 3600))))
def test_required_agents_minimal_property(case):
    lam, aht, t, sl, occ, patience = case
    r = required_agents(lam, aht, t, sl, max_occupancy=occ, patience_seconds=patience)
    assert r.service_level >= sl
    assert occ is None or r.occupancy <= occ
    n = r.raw_agents - 1
    if n < 1 or (patience is None and n <= r.load):
        return
    if patience is None:
        m = erlang_c(n, lam, aht, target_seconds=t)
    else:
        m = erlang_a(n, lam, aht, patience, target_seconds=t)
    assert m.service_level[0] < sl or (occ is not None and m.occupancy[0] > occ)


def test_html_reprs():
    r = required_agents(200, 180, 20, 0.8)
    assert "raw_agents" in r._repr_html_()
    assert "<table" in erlang_c([13, 14], 200, 180)._repr_html_()


@pytest.mark.parametrize("case", [(200, 180, 20, 0.8, 120.0), (600, 300, 60, 0.95, 30.0),
                                  (50, 600, 0, 0.3, 900.0), (3000, 240, 20, 0.99, 3600.0)])
def test_erlang_a_search_equals_brute_force_from_one_agent(case):
    lam, aht, t, sl, patience = case
    r = required_agents(lam, aht, t, sl, patience_seconds=patience)
    every = erlang_a(np.arange(1, r.raw_agents + 1), lam, aht, patience, target_seconds=t)
    assert int(np.flatnonzero(every.service_level >= sl)[0]) + 1 == r.raw_agents


def test_erlang_a_matches_pyworkforce_published_example():
    # pyworkforce documentation, "Erlang A (abandonment)"
    # (https://pyworkforce.rodrigo-arenas.com/stable/guide/erlanga), computed from the M/M/c+M
    # birth-death chain, an implementation independent of ours:
    #   ErlangA(transactions=100, aht=3, asa=20/60, interval=30, patience=5, shrinkage=0.3)
    #   .required_positions(service_level=0.8, max_occupancy=0.85, max_abandonment=0.05)
    #   -> raw_positions 13, positions 19, service_level 0.858..., occupancy 0.750...,
    #      abandonment_probability 0.025..., waiting_probability 0.226...,
    #      average_speed_of_answer 0.125... (minutes; the mean wait of *all* arrivals)
    # i.e. 200 contacts/h, 180 s handle time, 20 s target, 300 s mean patience.
    r = required_agents(200, 180, 20, 0.8, max_occupancy=0.85, shrinkage=0.3,
                        patience_seconds=300)
    assert (r.raw_agents, r.scheduled_agents) == (13, 19)
    assert r.model == "erlang_a"
    # the page shows three decimals
    assert round(r.service_level, 3) == 0.858
    assert round(r.occupancy, 3) == 0.750
    assert round(r.p_abandon, 3) == 0.025
    assert round(r.p_wait, 3) == 0.226
    m = erlang_a(13, 200, 180, 300, target_seconds=20)
    assert round(float(m.mean_wait[0]) / 60, 3) == 0.125  # pyworkforce's ASA: all arrivals
    assert float(m.asa[0]) < float(m.mean_wait[0])  # ours: answered contacts only


def test_an_occupancy_cap_out_of_reach_is_named():
    # 100,000 contacts/h x 180 s = 5,000 Erlangs; occupancy <= 0.001 needs 5,000,000 agents,
    # beyond the search limit: the error names the cap, not the service level
    with pytest.raises(ValueError, match=r"max_occupancy 0\.001"):
        required_agents(100_000, 180, 20, 0.8, max_occupancy=0.001)
    # a cap that binds is met exactly at ceil(load / cap): 10 Erlangs at 1% occupancy
    r = required_agents(200, 180, 20, 0.8, max_occupancy=0.01)
    assert r.raw_agents == 1000
    assert r.occupancy == pytest.approx(0.01)
