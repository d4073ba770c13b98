"""Treatment delivered for a slow arm held within the fast promise (its policy allows no more
than the control's target): delivered when its median FRT is above 1.25 x the control's
median, the two-arm rule (median above the control's target) unchanged otherwise."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from frt_experiments import schema
from frt_experiments.diagnostics import HELD_MARGIN, default_calendar, diagnose_arms
from frt_experiments.simulate import simulate

POLICIES = {"fast": "4h", "four_hours": "4h", "one_business_day": "one_business_day",
            "two_business_days": "two_business_days"}


def _diagnose(t: dict[str, pd.DataFrame]):
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        d = diagnose_arms(t["customers"], t["conversations"], t["assignments"],
                          treatments=list(POLICIES)[1:], calendar=default_calendar(),
                          policies=POLICIES)
    return d, [str(w.message) for w in seen]


def test_a_held_arm_that_waits_longer_is_delivered():
    d, _ = _diagnose(simulate("dose", customers=8_000, rng=2).to_pandas())
    assert d.delivered == {"four_hours": True, "one_business_day": True,
                           "two_business_days": True}
    med = d.frt.set_index(schema.ARM)["median_business_hours"]
    assert med["four_hours"] < 4 < med["one_business_day"]  # below fast's target, yet held
    assert med["four_hours"] > HELD_MARGIN * med["fast"]


def test_a_held_arm_answered_as_fast_as_control_is_not_delivered():
    t = simulate("dose", customers=8_000, rng=2).to_pandas()
    asg = t["assignments"]
    # the held arm's own customers left out, and half of the fast arm's customers named
    # four_hours instead: answered exactly as fast as the control
    asg = asg[asg[schema.ARM] != "four_hours"].copy()
    fast = np.flatnonzero((asg[schema.ARM] == "fast").to_numpy())
    asg.loc[asg.index[fast[::2]], schema.ARM] = "four_hours"
    t2 = {**t, "assignments": asg}
    d, messages = _diagnose(t2)
    assert d.delivered["four_hours"] is False
    assert d.delivered["one_business_day"] is True
    assert any("four_hours's median FRT" in m and f"{HELD_MARGIN:g} x fast's median" in m
               for m in messages)
