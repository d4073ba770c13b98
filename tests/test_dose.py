"""The dose per customer (frt_experiments.dose) against a conversation-by-conversation
computation, and the Wald ratio of CSAT per unit of dose on a simulated trial."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest

from frt_experiments import schema
from frt_experiments.diagnostics import default_calendar
from frt_experiments.dose import ANSWERED, DOSE_SUM, customer_doses
from frt_experiments.errors import DataError
from frt_experiments.metrics import arm_statistics, customer_rows
from frt_experiments.simulate import simulate
from frt_experiments.stats.iv import wald_ratio


def test_doses_equal_a_conversation_by_conversation_sum():
    trial = simulate("published", customers=400, rng=3)
    conv, asg = trial.conversations, trial.assignments
    cal = default_calendar()
    end = conv[schema.CREATED_AT].quantile(0.9)
    got = customer_doses(conv, asg, calendar=cal, window_end=end)
    assigned_at = asg.set_index(schema.CUSTOMER_ID)[schema.ASSIGNED_AT]
    want = {c: [0.0, 0] for c in asg[schema.CUSTOMER_ID]}
    for row in conv.itertuples(index=False):
        cid = getattr(row, schema.CUSTOMER_ID)
        created, first = getattr(row, schema.CREATED_AT), getattr(row, schema.FIRST_RESPONSE_AT)
        if cid not in want or pd.isna(first) or created < assigned_at[cid] or created > end:
            continue
        hours = cal.business_duration(created, first).total_seconds() / 3600
        want[cid][0] += math.log1p(hours)
        want[cid][1] += 1
    assert list(got.index) == list(asg[schema.CUSTOMER_ID])
    np.testing.assert_allclose(got[DOSE_SUM], [want[c][0] for c in got.index], rtol=1e-12)
    assert got[ANSWERED].tolist() == [float(want[c][1]) for c in got.index]
    assert got[ANSWERED].sum() > 0
    with pytest.raises(DataError, match="missing required column"):
        customer_doses(conv.drop(columns=schema.FIRST_RESPONSE_AT), asg, calendar=cal)


def test_wald_ratio_of_csat_per_unit_of_dose_on_the_simulator():
    # the published trial: the slow arm's dose is larger (a strong first stage), and CSAT
    # falls with it (a negative effect per unit of log business hours)
    trial = simulate("published", customers=20_000, rng=5)
    cal = default_calendar()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rows = customer_rows(trial.customers, trial.conversations, trial.assignments)
    doses = customer_doses(trial.conversations, trial.assignments, calendar=cal)
    rows = rows.join(doses.drop(columns=schema.ARM))
    st = arm_statistics(rows, columns=["satisfied", "rated", DOSE_SUM, ANSWERED],
                        arms=["fast", "one_business_day"])
    est = wald_ratio(st["fast"], st["one_business_day"], outcome=("satisfied", "rated"),
                     dose=(DOSE_SUM, ANSWERED))
    assert est.first_stage > 0
    assert not est.weak
    assert est.effect < 0
    assert est.ci_low < est.effect < est.ci_high
