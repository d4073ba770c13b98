"""Diagnostics: sample ratio, CSAT response rates, FRT per arm, treatment delivered."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.proportion import proportions_ztest

from frt_experiments import schema
from frt_experiments.calendar import BusinessCalendar
from frt_experiments.diagnostics import Diagnostics, default_calendar, diagnose
from frt_experiments.errors import (
    DataError,
    DataWarning,
    SampleRatioMismatchWarning,
    TreatmentNotDeliveredWarning,
)
from frt_experiments.policy import default_policies
from frt_experiments.simulate import simulate

UTC_DESK = BusinessCalendar("UTC", hours="Mon-Fri 09:00-17:00")


@pytest.fixture(scope="module")
def trial():
    return simulate("published", customers=5_000, rng=1)


def test_simulated_trial_is_delivered_without_warnings(trial):
    # pytest turns warnings into errors: any warning here fails the test.
    d = diagnose(trial.customers, trial.conversations, trial.assignments)
    assert isinstance(d, Diagnostics)
    assert d.treatment_delivered
    assert d.warnings == []
    assert not d.srm.flagged
    frt = d.frt.set_index(schema.ARM)
    assert frt.loc["fast", "median_business_hours"] <= 4.0 < frt.loc[
        "one_business_day", "median_business_hours"]
    assert d.control_target_business_hours == 4.0
    assert set(d.balance["covariate"]) >= {"monthly_spend", "pre_conversations", "pre_csat"}
    assert d.counts["customers"].sum() == len(trial.assignments)


def test_default_calendar_is_the_simulators_desk(trial):
    cal = default_calendar()
    ts = pd.Series(pd.to_datetime(["2025-01-06 13:59", "2025-01-06 14:00"]).tz_localize("UTC"))
    # 09:00 New York on a January Monday is 14:00 UTC.
    assert cal.is_open(ts).tolist() == [False, True]


def test_default_calendar_reads_the_published_scenarios_desk():
    """default_calendar reads the preset's file itself (not the simulator): the same desk as
    the scenario the simulator loads."""
    from frt_experiments.calendar import BusinessCalendar
    from frt_experiments.simulate import load_scenario

    f = load_scenario("published").frt
    expected = BusinessCalendar(f.timezone, hours=f"Mon-Fri {int(f.open_hour):02d}:00-"
                                f"{int(f.close_hour):02d}:00", holidays=f.holidays or None)
    cal = default_calendar()
    instants = pd.Series(pd.date_range("2025-01-01", "2025-12-31", freq="37min", tz="UTC"))
    assert cal.is_open(instants).tolist() == expected.is_open(instants).tolist()
    assert cal.holidays == expected.holidays


def test_treatment_with_the_controls_first_responses_is_not_delivered(trial):
    conv = trial.conversations.copy()
    arm = conv[schema.CUSTOMER_ID].map(trial.assignments.set_index(schema.CUSTOMER_ID)[
        schema.ARM])
    cal = default_calendar()
    fast = default_policies(cal)["fast"]
    control = conv[arm.eq("fast").fillna(False).to_numpy(bool)]
    frt_fast = fast.evaluate(control[schema.CREATED_AT], control[schema.FIRST_RESPONSE_AT])[
        "frt_business_hours"].to_numpy()
    slow = arm.eq("one_business_day").fillna(False).to_numpy(bool)
    drawn = np.random.default_rng(3).choice(frt_fast, size=int(slow.sum()))
    conv.loc[slow, schema.FIRST_RESPONSE_AT] = cal.add_business_time(
        conv.loc[slow, schema.CREATED_AT], pd.to_timedelta(drawn, unit="h")).to_numpy()
    with pytest.warns(TreatmentNotDeliveredWarning, match="one_business_day's median FRT"):
        d = diagnose(trial.customers, conv, trial.assignments, calendar=cal)
    assert not d.treatment_delivered
    assert len(d.warnings) == 1
    assert d.warnings[0].startswith("treatment not delivered")


def _synthetic(n_control: int, n_treatment: int, *, rated_control: float,
               rated_treatment: float, seed: int = 0):
    """One conversation per customer, Monday 10:00 UTC; fast answered in 1 business hour,
    slow at the same time next day (8 business hours)."""
    rng = np.random.default_rng(seed)
    n = n_control + n_treatment
    ids = pd.Series([f"C{i}" for i in range(n)], dtype="string")
    arm = np.r_[np.full(n_control, "fast"), np.full(n_treatment, "one_business_day")]
    created = pd.Series(pd.Timestamp("2026-03-02 10:00", tz="UTC"), index=range(n))
    hours = np.where(arm == "fast", 1.0, 24.0)
    rated = rng.random(n) < np.where(arm == "fast", rated_control, rated_treatment)
    conversations = pd.DataFrame({
        schema.CONVERSATION_ID: ids.str.replace("C", "V"),
        schema.CUSTOMER_ID: ids,
        schema.CREATED_AT: created,
        schema.FIRST_RESPONSE_AT: created + pd.to_timedelta(hours, unit="h"),
        schema.CSAT: pd.Series(np.where(rated, "5", None), dtype="string"),
    })
    assignments = pd.DataFrame({schema.CUSTOMER_ID: ids, schema.ARM: arm})
    return conversations, assignments


def test_srm_flags_a_52_48_split_at_large_n():
    conv, asg = _synthetic(52_000, 48_000, rated_control=0.3, rated_treatment=0.3)
    with pytest.warns(SampleRatioMismatchWarning, match="sample ratio mismatch"):
        d = diagnose(None, conv, asg, calendar=UTC_DESK)
    # X^2 = 2 * 2000^2 / 50000 = 160.
    assert d.srm.statistic == pytest.approx(160.0)
    assert d.srm.flagged
    assert d.treatment_delivered
    assert d.balance.empty


def test_response_rate_tests_against_statsmodels_and_closed_form():
    conv, asg = _synthetic(1_500, 1_400, rated_control=0.30, rated_treatment=0.27, seed=4)
    d = diagnose(None, conv, asg, calendar=UTC_DESK)
    rr = d.response_rates.set_index(schema.ARM)
    k = rr["rated"].to_numpy()
    n = rr["conversations"].to_numpy()
    _, p_sm = proportions_ztest(k, n)   # pooled two-proportion z test
    assert rr["ztest_p_value"].iloc[0] == pytest.approx(p_sm, rel=1e-10)
    # With one conversation per customer the customer-clustered (delta method) variance of a
    # rate is the sample variance of 0/1 values over n: p (1 - p) / (n - 1).
    p = k / n
    z = (p[1] - p[0]) / math.sqrt((p * (1 - p) / (n - 1)).sum())
    assert rr["p_value"].iloc[0] == pytest.approx(math.erfc(abs(z) / math.sqrt(2)), rel=1e-10)
    assert rr["diff"].iloc[0] == pytest.approx(p[1] - p[0])


def test_clustered_response_rate_is_wider_than_the_z_test_when_customers_cluster():
    # Customers rate all or none of their 5 conversations: the effective sample is customers,
    # so the clustered p-value must be far larger than the z test's.
    rng = np.random.default_rng(8)
    n = 2_000
    ids = np.repeat([f"C{i}" for i in range(n)], 5)
    arm = np.where(np.arange(n) < n // 2, "fast", "one_business_day")
    raters = rng.random(n) < np.where(arm == "fast", 0.30, 0.35)
    created = pd.Series(pd.Timestamp("2026-03-02 10:00", tz="UTC"), index=range(ids.size))
    conv = pd.DataFrame({
        schema.CUSTOMER_ID: ids, schema.CREATED_AT: created,
        schema.FIRST_RESPONSE_AT: created + pd.to_timedelta(
            np.where(np.repeat(arm, 5) == "fast", 1.0, 24.0), unit="h"),
        schema.CSAT: pd.Series(np.where(np.repeat(raters, 5), "good", None), dtype="string"),
    })
    asg = pd.DataFrame({schema.CUSTOMER_ID: [f"C{i}" for i in range(n)], schema.ARM: arm})
    d = diagnose(None, conv, asg, calendar=UTC_DESK)
    rr = d.response_rates.iloc[0]
    assert rr["p_value"] > 10 * rr["ztest_p_value"]


def test_response_rate_warning():
    conv, asg = _synthetic(3_000, 3_000, rated_control=0.40, rated_treatment=0.25, seed=2)
    with pytest.warns(DataWarning, match="CSAT response rates differ: fast 39.7%"):
        d = diagnose(None, conv, asg, calendar=UTC_DESK)
    assert any(w.startswith("CSAT response rates differ") for w in d.warnings)


def test_report_forms(trial):
    d = diagnose(trial.customers, trial.conversations, trial.assignments)
    md = d.to_markdown()
    for heading in ("### Sample ratio", "### CSAT response rate", "### First response time",
                    "### Covariate balance"):
        assert heading in md
    assert "| arm | customers | expected |" in md
    assert "Treatment delivered" in md
    table = d.to_pandas()
    assert table[schema.ARM].tolist() == ["fast", "one_business_day"]
    assert {"customers", "response_rate", "median_business_hours",
            "share_within_target"} <= set(table.columns)
    assert "treatment_delivered=True" in repr(d)


def test_bad_input():
    conv, asg = _synthetic(10, 10, rated_control=0.5, rated_treatment=0.5)
    with pytest.raises(ValueError, match="treatment: arm 'slow' has no customers"):
        diagnose(None, conv, asg, treatment="slow", calendar=UTC_DESK)
    with pytest.raises(DataError, match="conversations: missing required column csat"):
        diagnose(None, conv.drop(columns=schema.CSAT), asg, calendar=UTC_DESK)
    with pytest.raises(DataError, match="repeating an earlier customer_id"):
        diagnose(None, conv, pd.concat([asg, asg.iloc[:2]]), calendar=UTC_DESK)
    with pytest.raises(ValueError, match="policies: no FRT policy for arm 'one_business_day'"):
        diagnose(None, conv, asg, policies={"fast": default_policies(UTC_DESK)["fast"]})


def test_clustered_response_rate_test_holds_its_size_in_an_aa_simulation():
    # A/A: customers differ in contacts (gamma-Poisson) and willingness to rate (beta), the same
    # in both arms. The clustered test should reject 5% at alpha 0.05; with 300 replications
    # the Monte Carlo se is sqrt(0.05 * 0.95 / 300) = 0.0126, so allow 3 se either side.
    from frt_experiments.diagnostics import _response_rates

    rng = np.random.default_rng(11)
    reps, n = 300, 2_000
    ids = np.char.add("C", np.arange(n).astype(str))
    arm_of = pd.Series(np.where(np.arange(n) < n // 2, "fast", "one_business_day"), index=ids)
    p = np.empty((reps, 2))
    for r in range(reps):
        contacts = rng.poisson(rng.gamma(1.5, 2.0, n))
        rated = rng.binomial(contacts, rng.beta(0.6, 1.4, n))
        start = np.r_[0, np.cumsum(contacts)[:-1]]
        pos = np.arange(contacts.sum()) - np.repeat(start, contacts)
        conv = pd.DataFrame({
            schema.CUSTOMER_ID: np.repeat(ids, contacts),
            schema.CSAT: pd.Series(np.where(pos < np.repeat(rated, contacts), "good", None),
                                   dtype="string")})
        rr = _response_rates(conv, arm_of, "fast", "one_business_day")
        p[r] = rr["p_value"].iloc[0], rr["ztest_p_value"].iloc[0]
    clustered, naive = (p < 0.05).mean(axis=0)
    se = math.sqrt(0.05 * 0.95 / reps)
    assert abs(clustered - 0.05) <= 3 * se
    assert naive > 0.05 + 3 * se   # conversations are not independent: the z test over-rejects


def test_html_for_notebooks(trial):
    d = diagnose(trial.customers, trial.conversations, trial.assignments)
    page = d._repr_html_()
    assert "<h4>First response time</h4>" in page
    assert "<table" in page


def test_a_calendar_that_misses_most_conversations_is_flagged():
    """A desk calendar in the wrong zone: most conversations created and answered while it is
    'closed' (business FRT 0) passed without a word; now a DataWarning says so."""
    import pandas as pd

    from frt_experiments.calendar import BusinessCalendar
    from frt_experiments.diagnostics import diagnose
    from frt_experiments.errors import DataWarning

    t0 = pd.Timestamp("2025-01-06T02:00:00Z")  # Monday 02:00 UTC: night in New York and UTC
    n = 60
    ids = [f"c{i}" for i in range(n)]
    created = t0 + pd.to_timedelta(np.arange(n) % 5, unit="D") + pd.to_timedelta(
        np.arange(n) % 3 * 10, unit="min")
    conversations = pd.DataFrame({
        "conversation_id": [f"v{i}" for i in range(n)], "customer_id": ids,
        "created_at": created, "first_response_at": created + pd.Timedelta(minutes=30),
        "csat": None, "csat_scale": None})
    assignments = pd.DataFrame({"customer_id": ids,
                                "arm": ["fast", "one_business_day"] * (n // 2)})
    desk = BusinessCalendar("UTC", hours="Mon-Fri 09:00-17:00")
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        diag = diagnose(None, conversations, assignments, calendar=desk)
    hits = [w for w in caught if issubclass(w.category, DataWarning)
            and "60 of 60 answered conversations (100%) were created and answered while the "
                "desk calendar (UTC" in str(w.message)]
    assert len(hits) == 1
    assert any("desk calendar" in m for m in diag.warnings)
    # on an always-open desk nothing is closed, so nothing is said
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        diagnose(None, conversations, assignments, calendar=BusinessCalendar("UTC", hours="24/7"))
    assert not [w for w in caught if "desk calendar" in str(w.message)]
