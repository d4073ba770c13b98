"""Abandoned conversations in FRT attainment (issue 18, item 1): a conversation the customer
abandoned before any response is neither met nor missed -- it leaves the share within target
and is counted per arm (n_abandoned, share_abandoned) -- the same in memory and in the engine."""

from __future__ import annotations

import warnings

import ibis
import numpy as np
import pandas as pd
import pytest

from frt_experiments import schema
from frt_experiments.diagnostics import default_calendar, diagnose
from frt_experiments.engine import IBIS_PANDAS_WARNING
from frt_experiments.engine.diagnostics import diagnose as engine_diagnose
from frt_experiments.policy import default_policies
from frt_experiments.simulate import simulate

pytestmark = pytest.mark.filterwarnings(f"ignore:{IBIS_PANDAS_WARNING}")


@pytest.fixture(scope="module")
def trial():
    t = simulate("published", customers=3_000, rng=12).to_pandas()
    conv = t["conversations"].copy()
    rng = np.random.default_rng(0)
    left = rng.random(len(conv)) < 0.08
    conv[schema.ABANDONED_AT] = pd.Series(pd.NaT, index=conv.index, dtype=conv[
        schema.CREATED_AT].dtype)
    conv.loc[left, schema.ABANDONED_AT] = conv.loc[left, schema.CREATED_AT] + pd.Timedelta(
        minutes=20)
    conv.loc[left, schema.FIRST_RESPONSE_AT] = pd.NaT
    return {**t, "conversations": conv}, left


def test_abandoned_conversations_leave_the_share_within_target(trial):
    t, left = trial
    cal = default_calendar()
    pol = default_policies(cal)
    conv, asg = t["conversations"], t["assignments"]
    arm = conv[schema.CUSTOMER_ID].map(asg.set_index(schema.CUSTOMER_ID)[schema.ARM])
    for name, p in pol.items():
        mine = (arm == name).fillna(False).to_numpy(bool)
        a = p.attainment(conv.loc[mine, schema.CREATED_AT],
                         conv.loc[mine, schema.FIRST_RESPONSE_AT],
                         abandoned_at=conv.loc[mine, schema.ABANDONED_AT])
        assert a.n_abandoned == int(left[mine].sum())
        assert a.share_abandoned == pytest.approx(left[mine].mean())
        kept = mine & ~left
        met = p.evaluate(conv.loc[kept, schema.CREATED_AT],
                         conv.loc[kept, schema.FIRST_RESPONSE_AT])["met"]
        assert a.share_within_target == pytest.approx(met.mean(), rel=1e-12)
        # without abandoned_at they count as missed
        b = p.attainment(conv.loc[mine, schema.CREATED_AT],
                         conv.loc[mine, schema.FIRST_RESPONSE_AT])
        assert b.share_within_target < a.share_within_target
        assert b.n_abandoned == 0


def test_in_memory_and_engine_agree(trial, tmp_path):
    t, _ = trial
    cal = default_calendar()
    con = ibis.duckdb.connect()
    e = {}
    for name, df in t.items():
        df.to_parquet(tmp_path / f"{name}.parquet")
        e[name] = con.read_parquet(tmp_path / f"{name}.parquet")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a = diagnose(t["customers"], t["conversations"], t["assignments"], calendar=cal)
        b = engine_diagnose(e["customers"], e["conversations"], e["assignments"], calendar=cal)
    assert list(a.frt.columns) == list(b.frt.columns)
    num = a.frt.select_dtypes("number").columns
    np.testing.assert_allclose(b.frt[num].to_numpy(float), a.frt[num].to_numpy(float),
                               rtol=1e-9, atol=1e-12)
    assert (a.frt["n_abandoned"] > 0).all()
