"""Whole trials: calibrated effects, A/A, canonical output, determinism and the CLI."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from frt_experiments import schema
from frt_experiments.cli import main
from frt_experiments.simulate import SimulatedTrial, load_scenario, simulate
from frt_experiments.simulate.calibrate import arm_effects, expected_effects

TARGETS = {"questions": -0.04, "csat": -0.0125, "nrr": 0.0, "efficiency": 0.20}


@pytest.fixture(scope="module")
def published() -> SimulatedTrial:
    return simulate("published", customers=150_000, rng=20250106)


def test_published_preset_expects_the_published_table() -> None:
    exp = expected_effects(load_scenario("published"))
    for metric, target in TARGETS.items():
        assert exp[metric] == pytest.approx(target, abs=1e-9), metric


@pytest.mark.parametrize("metric", list(TARGETS))
def test_published_preset_reproduces_the_table(published, metric: str) -> None:
    row = arm_effects(published).loc[metric]
    # tolerance: 4 delta-method standard errors of the simulated relative change
    assert abs(row["rel_diff"] - TARGETS[metric]) < 4 * row["rel_se"]


def test_published_effects_are_detectable_where_they_should_be(published) -> None:
    eff = arm_effects(published)
    assert abs(eff.loc["efficiency", "rel_diff"] / eff.loc["efficiency", "rel_se"]) > 10
    assert 0.85 < eff.loc["csat", "control"] < 0.90
    assert 0.95 < eff.loc["nrr", "control"] < 1.0


def test_aa_shows_no_effect() -> None:
    eff = arm_effects(simulate("aa", customers=100_000, rng=99))
    assert np.all(np.abs(eff["rel_diff"]) < 4 * eff["rel_se"])
    trial = simulate("aa", customers=5_000, rng=1)
    conv = trial.conversations.merge(trial.assignments, on=schema.CUSTOMER_ID)
    med = conv.groupby(schema.ARM)[schema.FIRST_RESPONSE_BUSINESS_SECONDS].median() / 3600
    assert med.max() < 3  # both arms answered within the fast target


def test_output_is_canonical(published) -> None:
    t = published
    cust = schema.validate_customers(t.customers)
    asg = schema.validate_assignments(t.assignments)
    conv = schema.validate_conversations(t.conversations)
    pd.testing.assert_frame_equal(conv, t.conversations, check_dtype=False)
    assert schema.check_tables(cust, conv, asg, window=(t.scenario.start, t.scenario.end)) == []
    assert str(conv[schema.CREATED_AT].dt.tz) == "UTC"
    assert set(conv[schema.CSAT].dropna().unique()) == set(schema.RATINGS_1_5)
    assert conv[schema.FIRST_RESPONSE_BUSINESS_SECONDS].notna().all()


def test_only_low_spend_customers_are_assigned_by_the_agreed_hash(published) -> None:
    t, sc = published, published.scenario
    low = t.customers.loc[t.customers[schema.MONTHLY_SPEND] <= sc.eligibility.max_spend,
                          schema.CUSTOMER_ID]
    assert set(t.assignments[schema.CUSTOMER_ID]) == set(low)
    sample = t.assignments.head(50)
    want = [int.from_bytes(hashlib.sha256(f"{sc.eligibility.salt}:{i}".encode()).digest()[:8],
                           "big") / 2**64 for i in sample[schema.CUSTOMER_ID]]
    np.testing.assert_allclose(sample[schema.BUCKET], want, rtol=0, atol=0)
    arms = np.where(sample[schema.BUCKET] < 0.5, "fast", "one_business_day")
    assert (sample[schema.ARM].to_numpy() == arms).all()


def test_repr_and_summary(published) -> None:
    assert "SimulatedTrial(scenario='published', customers=150,000" in repr(published)
    assert "one_business_day" in published.summary()


def _files(d: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(d.iterdir()) if p.is_file()}


def test_cli_same_seed_same_bytes_and_validates(tmp_path: Path, capsys) -> None:
    args = ["simulate", "--customers", "2000", "--months", "2", "--no-progress"]
    assert main([*args, "--seed", "4", "--out", str(tmp_path / "a")]) == 0
    assert main([*args, "--seed", "4", "--out", str(tmp_path / "b")]) == 0
    assert main([*args, "--seed", "5", "--out", str(tmp_path / "c")]) == 0
    a, b, c = (_files(tmp_path / x) for x in "abc")
    assert set(a) == {"customers.csv", "assignments.csv", "conversations.csv", "scenario.toml",
                      "manifest.json"}
    assert a == b
    assert a["conversations.csv"] != c["conversations.csv"]
    assert load_scenario(tmp_path / "a" / "scenario.toml").window.months == 2.0
    capsys.readouterr()
    d = tmp_path / "a"
    assert main(["validate", "--customers", str(d / "customers.csv"), "--conversations",
                 str(d / "conversations.csv"), "--assignments", str(d / "assignments.csv")]) == 0
    assert "conversations ok" in capsys.readouterr().out


def test_cli_parquet(tmp_path: Path) -> None:
    args = ["simulate", "--customers", "500", "--seed", "1", "--format", "parquet",
            "--scenario", "harsh", "--no-progress", "--out"]
    assert main([*args, str(tmp_path)]) == 0
    assert main([*args, str(tmp_path / "again")]) == 0
    first, again = _files(tmp_path), _files(tmp_path / "again")
    assert set(first) == {"customers.parquet", "assignments.parquet", "conversations.parquet",
                          "scenario.toml", "manifest.json"}
    assert first == again  # same seed, byte-identical Parquet files
    conv = schema.read_table(tmp_path / "conversations.parquet", "conversations")
    csv = simulate("harsh", customers=500, rng=1).conversations
    assert len(conv) == len(csv)
    assert (conv[schema.CREATED_AT] == csv[schema.CREATED_AT]).all()


@pytest.mark.parametrize(("argv", "message"), [
    (["--scenario", "nope"], "not a preset"),
    (["--customers", "0"], "customers must be a positive integer"),
    (["--months", "-1"], "months must be in (0, 60]"),
])
def test_cli_errors_are_one_line(tmp_path: Path, capsys, argv, message) -> None:
    assert main(["simulate", "--out", str(tmp_path), *argv]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert len(err.strip().splitlines()) == 1


def test_fast_arm_meets_its_policy_as_the_frt_distribution_implies(published) -> None:
    from scipy.stats import norm

    from frt_experiments.calendar import BusinessCalendar
    from frt_experiments.policy import default_policies

    t, f = published, published.scenario.frt
    cal = BusinessCalendar(f.timezone, hours="Mon-Fri 09:00-17:00", holidays=f.holidays)
    fast = t.assignments.loc[t.assignments[schema.ARM] == "fast", schema.CUSTOMER_ID]
    conv = t.conversations[t.conversations[schema.CUSTOMER_ID].isin(fast)]
    got = default_policies(cal)["fast"].attainment(conv[schema.CREATED_AT],
                                                   conv[schema.FIRST_RESPONSE_AT])
    # P(LogNormal(log 2, 0.6) <= 4 business hours), closed form; binomial standard error
    want = norm.cdf(np.log(4 / f.fast_median_hours) / f.fast_sigma)
    assert abs(got.share_within_target - want) < 4 * np.sqrt(want * (1 - want) / len(conv))
    assert got.median_calendar_hours > got.median_business_hours  # nights and weekends wait


def test_slow_arm_meets_its_one_business_day_deadline_as_the_model_implies(published) -> None:
    from scipy.optimize import brentq

    from frt_experiments.calendar import BusinessCalendar
    from frt_experiments.policy import default_policies
    from frt_experiments.simulate.first_response import slow_frt_cdf, slow_share_within_deadline

    t, f = published, published.scenario.frt
    cal = BusinessCalendar(f.timezone, hours="Mon-Fri 09:00-17:00", holidays=f.holidays)
    slow = t.assignments.loc[t.assignments[schema.ARM] == "one_business_day", schema.CUSTOMER_ID]
    conv = t.conversations[t.conversations[schema.CUSTOMER_ID].isin(slow)]
    got = default_policies(cal)["one_business_day"].attainment(conv[schema.CREATED_AT],
                                                               conv[schema.FIRST_RESPONSE_AT])
    # closed form (1 - q) Phi(log(8 / 2) / 0.6) = 0.9401; binomial standard error
    want = slow_share_within_deadline(f)
    assert want == pytest.approx(0.95 * 0.98962, abs=1e-4)
    assert abs(got.share_within_target - want) < 4 * np.sqrt(want * (1 - want) / len(conv))
    # median business-hour FRT: the closed-form median, SE 1 / (2 f(median) sqrt(n))
    med = brentq(lambda x: float(slow_frt_cdf(x, f)) - 0.5, 0.1, 50, xtol=1e-12)
    dens = float(slow_frt_cdf(med + 1e-4, f) - slow_frt_cdf(med - 1e-4, f)) / 2e-4
    se = 1 / (2 * dens * np.sqrt(len(conv)))
    assert abs(got.median_business_hours - med) < 4 * se
    assert 6.5 < med < 7.5  # about one business day, answered as the deadline approaches


def test_assignment_uses_the_toolkit_arms_from_buckets_when_installed(published) -> None:
    assignment = pytest.importorskip("frt_experiments.assignment")
    t, e = published, published.scenario.effects
    arms = assignment.arms_from_buckets(t.assignments[schema.BUCKET].to_numpy(),
                                        arms=e.arms, weights=e.weights)
    assert (np.asarray(arms) == t.assignments[schema.ARM].to_numpy()).all()
