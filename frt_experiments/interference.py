"""Interference between arms on one desk: was the control arm served faster during the trial?

The arms of an FRT trial share one desk. Deferring the slow arm's conversations frees agents,
and the fast arm is then answered *faster than usual*: the A/B contrast compares slow with
faster-than-usual, which overstates what a rollout (everyone slow, nobody sped up) would do.
On the simulator's desk with 28 agents (``published-desk``), the fast arm met its 4-business-
hour target for 89.9% of conversations when everyone was fast and for 97.5% in the 50/50 trial
(:func:`frt_experiments.simulate.desk_truth`).

With real data there is no "everyone fast" world to compare with, but there is the same
customers' past: :func:`interference_check` compares the control arm's first responses during
the trial with those the *same customers* got before their assignment (conversations created
before ``assigned_at``, which the analysis leaves out as pre-period). Per customer with an
answered conversation in both periods it takes the mean dose (``log(1 + business hours)`` per
answered conversation, :mod:`frt_experiments.dose`) before and during, and tests the mean of the
paired differences (a one-sample t test over customers, the customer the unit). The control arm
counts as **materially faster** when the during-trial dose is lower with ``p < 0.01`` and by more
than :data:`MATERIAL_DOSE_DROP` (``log 1.1``: the typical ``1 + hours`` at least 10% shorter).
A desk that got faster for other reasons (more agents, a quieter season) reads the same way:
the warning says what to check, not what happened.

References:
    Blake, T. and Coey, D. (2014). Why marketplace experimentation is harder than it seems: the
    role of test-control interference. EC '14, 567-582.
    Student (1908). The probable error of a mean. Biometrika 6(1), 1-25 (the paired t test).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from frt_experiments import schema
from frt_experiments._ids import arrow_strings, positions
from frt_experiments.policy import FrtPolicy

__all__ = ["MATERIAL_DOSE_DROP", "MIN_PAIRED_CUSTOMERS", "InterferenceCheck",
           "interference_check"]

#: A during-trial dose this much lower than before (``log 1.1``) is material.
MATERIAL_DOSE_DROP = math.log(1.1)
#: Customers with answered conversations in both periods needed for the check.
MIN_PAIRED_CUSTOMERS = 30
_P_FLAG = 0.01


@dataclass(frozen=True)
class InterferenceCheck:
    """The control arm's first responses before and during the trial (same customers).

    Attributes:
        arm: The control arm.
        customers: Customers with an answered conversation in both periods (the pairs).
        before_median_business_hours, during_median_business_hours: Median business-hours
            FRT of those customers' answered conversations in each period.
        before_share_within_target, during_share_within_target: Share of their answered
            conversations within the control policy's allowance.
        dose_diff: Mean over the pairs of (during - before) mean dose; negative: faster.
        ci_low, ci_high: Its 95% interval (t).
        p_value: Two-sided paired t test of no change.
        faster: Materially faster during the trial (module docstring).
    """

    arm: str
    customers: int
    before_median_business_hours: float
    during_median_business_hours: float
    before_share_within_target: float
    during_share_within_target: float
    dose_diff: float
    ci_low: float
    ci_high: float
    p_value: float
    faster: bool

    def to_pandas(self) -> pd.DataFrame:
        return pd.DataFrame([{f.name: getattr(self, f.name) for f in fields(self)}])

    def message(self) -> str:
        """The warning's text."""
        return (f"interference: control arm {self.arm!r} was answered faster during the trial "
                f"than the same {self.customers:,} customers were before it (median FRT "
                f"{self.during_median_business_hours:.2f} vs "
                f"{self.before_median_business_hours:.2f} business hours, within target "
                f"{self.during_share_within_target:.1%} vs {self.before_share_within_target:.1%}"
                f"; dose {self.dose_diff:+.3f}, p = {self.p_value:.2g}): the slow arm's deferred "
                "work may have freed agents for it, so the A/B contrast can overstate a "
                "rollout's effect; check the desk's staffing and volume over the same dates")

    def __repr__(self) -> str:
        return (f"InterferenceCheck(arm={self.arm!r}, customers={self.customers}, median "
                f"{self.before_median_business_hours:.2f} -> "
                f"{self.during_median_business_hours:.2f} business h, dose_diff="
                f"{self.dose_diff:+.4f} [{self.ci_low:+.4f}, {self.ci_high:+.4f}], "
                f"faster={self.faster})")


def interference_check(conversations: pd.DataFrame, assignments: pd.DataFrame, *,
                       policy: FrtPolicy, window_end: Any = None,
                       min_customers: int = MIN_PAIRED_CUSTOMERS) -> InterferenceCheck | None:
    """Compare the control arm's first responses during the trial with the same customers'
    before it (see the module docstring).

    Args:
        conversations: Canonical conversations, including the pre-period ones (created before
            the customer's ``assigned_at``).
        assignments: Canonical assignments with ``assigned_at``.
        policy: The control arm's policy (its ``arm`` names the control; its calendar measures
            business hours, its deadline the share within target).
        window_end: End of the trial's window (default: the latest ``created_at``).
        min_customers: Fewest pairs to run the check.

    Returns:
        The check, or ``None`` when fewer than ``min_customers`` control customers have answered
        conversations in both periods (no pre-period conversations in the data, most often).
    """
    if schema.ASSIGNED_AT not in assignments.columns:
        return None
    arm = policy.arm
    control = assignments[(assignments[schema.ARM].astype("string") == arm)
                          .fillna(False).to_numpy(bool)]
    if control.empty or conversations.empty:
        return None
    pos = positions(arrow_strings(conversations[schema.CUSTOMER_ID]),
                    arrow_strings(control[schema.CUSTOMER_ID].astype("string")))
    created = conversations[schema.CREATED_AT]
    first = conversations[schema.FIRST_RESPONSE_AT]
    keep = (pos >= 0) & first.notna().to_numpy(bool)
    if window_end is not None:
        keep &= (created <= pd.Timestamp(window_end)).to_numpy(bool)
    where = np.flatnonzero(keep)
    if where.size == 0:
        return None
    who = pos[where]
    at = control[schema.ASSIGNED_AT].to_numpy(dtype="datetime64[ns]")[who]
    c, f = created.iloc[where], first.iloc[where]
    during = c.to_numpy(dtype="datetime64[ns]") >= at
    ev = policy.evaluate(c, f)
    hours = ev["frt_business_hours"].to_numpy(float)
    met = ev["met"].to_numpy(bool)
    dose = np.log1p(np.maximum(hours, 0.0))
    n = len(control)
    sums = {p: (np.bincount(who[during == p], weights=dose[during == p], minlength=n),
                np.bincount(who[during == p], minlength=n)) for p in (False, True)}
    both = (sums[False][1] > 0) & (sums[True][1] > 0)
    k = int(both.sum())
    if k < min_customers:
        return None
    before = sums[False][0][both] / sums[False][1][both]
    after = sums[True][0][both] / sums[True][1][both]
    d = after - before
    mean, se = float(d.mean()), float(d.std(ddof=1) / math.sqrt(k))
    t_crit = stats.t.ppf(0.975, k - 1)
    p = float(2 * stats.t.sf(abs(mean) / se, k - 1)) if se > 0 else (1.0 if mean == 0 else 0.0)
    paired = both[who]
    pre, cur = paired & ~during, paired & during
    return InterferenceCheck(
        arm, k, float(np.median(hours[pre])), float(np.median(hours[cur])),
        float(met[pre].mean()), float(met[cur].mean()), mean, mean - t_crit * se,
        mean + t_crit * se, p, bool(mean < -MATERIAL_DOSE_DROP and p < _P_FLAG))
