"""The first-response time each customer got: the dose of the dose-response estimates.

The dose is measured per answered conversation as ``log(1 + business hours)`` of its first
response on the desk's calendar (``log1p``: an answer sent while the desk is closed waits 0
business hours, whose log would be undefined; one business hour counts as much as the step from
one to three), over the conversations that count as the trial's outcomes
(:func:`frt_experiments.metrics.customer_rows`' rule: created at or after the customer's
assignment and not after the window end). Per customer, :func:`customer_doses` returns the sum
of those logs and the number of answered conversations, so the dose of an arm is the ratio of
their sums, its mean per answered conversation: a customer without an answered conversation
weighs nothing rather than being dropped (dropping would condition on an outcome of the
treatment). Give ``dose=(DOSE_SUM, ANSWERED)`` to :mod:`frt_experiments.stats.iv`.

Example::

    from frt_experiments.dose import ANSWERED, DOSE_SUM, customer_doses
    from frt_experiments.metrics import arm_statistics, customer_rows
    from frt_experiments.stats.iv import wald_ratio

    rows = customer_rows(customers, conversations, assignments).join(
        customer_doses(conversations, assignments, calendar=cal).drop(columns="arm"))
    st = arm_statistics(rows, columns=["satisfied", "rated", DOSE_SUM, ANSWERED])
    wald_ratio(st["fast"], st["one_business_day"], outcome=("satisfied", "rated"),
               dose=(DOSE_SUM, ANSWERED))
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from frt_experiments import schema
from frt_experiments._ids import arrow_strings
from frt_experiments.calendar import BusinessCalendar
from frt_experiments.errors import DataError, Problem
from frt_experiments.metrics import outcomes

__all__ = ["ANSWERED", "DOSE_SUM", "customer_doses"]

#: Per customer: the sum over answered conversations of log(1 + business hours to answer).
DOSE_SUM = "dose_log_hours"
#: Per customer: answered conversations (the denominator of the dose).
ANSWERED = "answered"


def customer_doses(conversations: pd.DataFrame, assignments: pd.DataFrame, *,
                   calendar: BusinessCalendar, window_end: Any = None) -> pd.DataFrame:
    """Each assigned customer's dose sum and answered conversations (see the module docstring).

    Args:
        conversations: Canonical conversations (``customer_id``, ``created_at``,
            ``first_response_at``; timestamps aware).
        assignments: Canonical assignments (``customer_id``, ``arm``, ``assigned_at``).
        calendar: The desk's business calendar.
        window_end: End of the window (aware); default the latest ``created_at``.

    Returns:
        A frame indexed by ``customer_id`` in the assignments' order (as
        :func:`~frt_experiments.metrics.customer_rows`) with ``arm``, :data:`DOSE_SUM` and
        :data:`ANSWERED`.

    Raises:
        DataError: A required column is missing.
        ValueError: A first response earlier than its creation.
    """
    for name, df, cols in (("conversations", conversations,
                            (schema.CUSTOMER_ID, schema.CREATED_AT, schema.FIRST_RESPONSE_AT)),
                           ("assignments", assignments,
                            (schema.CUSTOMER_ID, schema.ARM, schema.ASSIGNED_AT))):
        missing = [c for c in cols if c not in df.columns]
        if missing:
            raise DataError([Problem(name, None, "missing required column(s) "
                                     + ", ".join(missing))])
    assigned = arrow_strings(assignments[schema.CUSTOMER_ID])
    n = len(assigned)
    assigned_at = assignments[schema.ASSIGNED_AT].to_numpy(dtype="datetime64[ns]")
    code, keep, _ = outcomes(conversations, assigned, assigned_at, window_end)
    keep &= conversations[schema.FIRST_RESPONSE_AT].notna().to_numpy(bool)
    where = np.flatnonzero(keep)
    hours = calendar.business_duration(
        conversations[schema.CREATED_AT].iloc[where],
        conversations[schema.FIRST_RESPONSE_AT].iloc[where]).dt.total_seconds().to_numpy() / 3600
    if (hours < 0).any():
        bad = where[hours < 0]
        raise ValueError(f"first_response_at: {bad.size} rows are earlier than created_at "
                         f"(rows {bad[:5].tolist()})")
    c = code[where]
    out = pd.DataFrame(index=pd.Index(pd.array(assigned, dtype="string"),
                                      name=schema.CUSTOMER_ID))
    out[schema.ARM] = assignments[schema.ARM].astype("string").to_numpy()
    out[DOSE_SUM] = np.bincount(c, weights=np.log1p(hours), minlength=n)
    out[ANSWERED] = np.bincount(c, minlength=n).astype(float)
    return out
