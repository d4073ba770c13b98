"""The interference diagnostic (frt_experiments.interference): on the simulator's desk with the
desk in the loop (published-desk), the control arm of a shared-desk trial is answered faster than
the same customers were before the trial (their status-quo conversations, placed before the
assignment): diagnose() flags it; with everyone answered as before (the status quo in both
periods) it does not; without pre-period conversations there is nothing to compare."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from frt_experiments import schema
from frt_experiments.diagnostics import default_calendar, diagnose, diagnose_arms
from frt_experiments.errors import InterferenceWarning
from frt_experiments.interference import MATERIAL_DOSE_DROP, interference_check
from frt_experiments.policy import default_policies
from frt_experiments.simulate import simulate_worlds


@pytest.fixture(scope="module")
def worlds():
    return simulate_worlds("published-desk", customers=8_000, rng=3)


def _before(world, shift: pd.Timedelta) -> pd.DataFrame:
    """A world's conversations moved back by ``shift``: the same customers' pre-period."""
    pre = world.conversations.copy()
    for c in (schema.CREATED_AT, schema.FIRST_RESPONSE_AT):
        pre[c] = pre[c] - shift
    pre[schema.CONVERSATION_ID] = "P" + pre[schema.CONVERSATION_ID].astype(str)
    return pre


def _tables(worlds, during):
    shift = pd.Timedelta(weeks=22)  # whole weeks: the same weekdays, the pre-period ends first
    conv = pd.concat([_before(worlds.status_quo, shift), during.conversations],
                     ignore_index=True)
    return worlds.trial.customers, conv, worlds.assignments


def test_a_shared_desk_trial_is_flagged(worlds):
    customers, conv, asg = _tables(worlds, worlds.trial)
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        d = diagnose(customers, conv, asg, calendar=default_calendar())
    assert any(issubclass(w.category, InterferenceWarning)
               and "control arm 'fast' was answered faster" in str(w.message) for w in seen)
    check = d.interference
    assert check.faster
    assert check.during_share_within_target > check.before_share_within_target
    assert check.ci_high < -MATERIAL_DOSE_DROP / 2
    assert "Interference" in d.to_markdown()
    # the same check once over the arms of a K-arm diagnosis, and in each arm's view
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        k = diagnose_arms(customers, conv, asg, treatments=["one_business_day"],
                          calendar=default_calendar())
    assert k.interference == check
    assert k.for_arm("one_business_day").interference == check


def test_the_status_quo_in_both_periods_is_not_flagged(worlds):
    customers, conv, asg = _tables(worlds, worlds.status_quo)
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        d = diagnose(customers, conv, asg, calendar=default_calendar())
    assert not any(issubclass(w.category, InterferenceWarning) for w in seen)
    check = d.interference
    assert not check.faster
    assert check.ci_low < 0 < check.ci_high or abs(check.dose_diff) < MATERIAL_DOSE_DROP


def test_no_pre_period_no_check(worlds):
    t = worlds.trial
    pol = default_policies(default_calendar())["fast"]
    assert interference_check(t.conversations, t.assignments, policy=pol) is None
    assert interference_check(t.conversations, t.assignments.drop(columns=schema.ASSIGNED_AT),
                              policy=pol) is None


def test_the_paired_interval_is_the_t_interval_of_the_customers_differences(worlds):
    _, conv, asg = _tables(worlds, worlds.trial)
    cal = default_calendar()
    pol = default_policies(cal)["fast"]
    check = interference_check(conv, asg, policy=pol)
    # by hand: per control customer, mean log(1 + business hours) before and during
    fast = asg.loc[asg[schema.ARM] == "fast", [schema.CUSTOMER_ID, schema.ASSIGNED_AT]]
    c = conv.merge(fast, on=schema.CUSTOMER_ID)
    c = c[c[schema.FIRST_RESPONSE_AT].notna()]
    hours = cal.business_duration(c[schema.CREATED_AT], c[schema.FIRST_RESPONSE_AT])
    c = c.assign(dose=np.log1p(hours.dt.total_seconds() / 3600),
                 during=c[schema.CREATED_AT] >= c[schema.ASSIGNED_AT])
    per = c.groupby([schema.CUSTOMER_ID, "during"])["dose"].mean().unstack().dropna()
    d = per[True] - per[False]
    assert check.customers == len(d)
    assert check.dose_diff == pytest.approx(d.mean(), rel=1e-10)
    from scipy import stats
    lo, hi = stats.t.interval(0.95, len(d) - 1, loc=d.mean(), scale=d.sem())
    assert (check.ci_low, check.ci_high) == pytest.approx((lo, hi), rel=1e-9)


@pytest.mark.filterwarnings("ignore")
def test_the_arms_figures_are_the_trials_in_memory_and_in_the_engine(worlds, tmp_path):
    # pre-period conversations count neither in the arms' FRT nor in their response rates
    ibis = pytest.importorskip("ibis")
    customers, conv, asg = _tables(worlds, worlds.trial)
    cal = default_calendar()
    with_pre = diagnose(customers, conv, asg, calendar=cal)
    trial_only = diagnose(customers, worlds.trial.conversations, asg, calendar=cal)
    for attr in ("frt", "response_rates"):
        pd.testing.assert_frame_equal(getattr(with_pre, attr), getattr(trial_only, attr))
    from frt_experiments.engine.diagnostics import diagnose as engine_diagnose
    con = ibis.duckdb.connect()
    t = {}
    for name, df in (("customers", customers), ("conversations", conv), ("assignments", asg)):
        df.to_parquet(tmp_path / f"{name}.parquet")
        t[name] = con.read_parquet(tmp_path / f"{name}.parquet")
    e = engine_diagnose(t["customers"], t["conversations"], t["assignments"], calendar=cal)
    for attr in ("frt", "response_rates"):
        a, b = getattr(with_pre, attr), getattr(e, attr)
        num = a.select_dtypes("number").columns
        np.testing.assert_allclose(b[num].to_numpy(float), a[num].to_numpy(float), rtol=1e-9,
                                   atol=1e-12)
