"""Net benefit of answering a customer slowly: the units of a targeting policy's value.

Deferring a customer (answering its conversations by the slow arm's policy instead of fast)
saves staffing on every conversation answered slowly and changes how many conversations it
brings, and it puts recurring revenue at risk. Per customer, against answering it fast::

    benefit = saving_per_conversation x conversations_slow
              + cost_per_conversation x (conversations_fast - conversations_slow)
              - revenue_months x (revenue_end_fast - revenue_end_slow)

``revenue_end`` is the monthly recurring revenue at the end of the window, so
``revenue_end_fast - revenue_end_slow = revenue_start x (NRR_fast - NRR_slow)`` is the monthly
revenue at risk; ``revenue_months`` counts how many months of it a lost customer costs (12: a
year). The benefit is the difference of one per-customer outcome between the arms::

    Y = revenue_months x revenue_end - cost_per_conversation x conversations
        + saving_per_conversation x conversations x [answered slowly]

so it can be estimated by any estimator of an average effect on ``Y`` (the doubly robust scores
of :mod:`frt_experiments.targeting`). CSAT enters as a constraint, not a price: a policy may
defer a group only if the group's CSAT (pooled ratings, as the analysis reports it) falls by at
most ``csat_margin`` (an absolute share, 0.02 = 2 points).

A policy's **value** is the mean benefit per eligible customer of deferring the customers it
picks while answering the others fast, relative to answering everyone fast (the status quo,
value 0).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["NetBenefit"]


@dataclass(frozen=True, kw_only=True)
class NetBenefit:
    """The prices of a deferral (module docstring).

    Attributes:
        saving_per_conversation: Staffing saved per conversation answered slowly (currency of
            the spend).
        cost_per_conversation: Cost of one conversation, so fewer questions also save (0: not
            counted).
        revenue_months: Months of monthly recurring revenue a unit of lost end-of-window
            revenue counts for.
        csat_margin: Largest fall of a deferred group's CSAT (absolute share) a policy accepts.
    """

    saving_per_conversation: float = 1.5
    cost_per_conversation: float = 0.0
    revenue_months: float = 12.0
    csat_margin: float = 0.03

    def __post_init__(self) -> None:
        for name in ("saving_per_conversation", "cost_per_conversation", "revenue_months",
                     "csat_margin"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int | float) or not np.isfinite(v) \
                    or v < 0:
                raise ValueError(f"NetBenefit: {name} must be a finite number >= 0, got {v!r}")

    def outcome(self, slow: np.ndarray, conversations: np.ndarray,
                revenue_end: np.ndarray) -> np.ndarray:
        """The per-customer outcome ``Y`` whose slow-minus-fast effect is the benefit."""
        slow = np.asarray(slow, dtype=float)
        n = np.asarray(conversations, dtype=float)
        return (self.revenue_months * np.asarray(revenue_end, dtype=float)
                - self.cost_per_conversation * n + self.saving_per_conversation * n * slow)

    def benefit(self, *, conversations_fast: np.ndarray, conversations_slow: np.ndarray,
                revenue_end_fast: np.ndarray, revenue_end_slow: np.ndarray) -> np.ndarray:
        """Per customer, the benefit of deferring it (module docstring)."""
        return (self.saving_per_conversation * np.asarray(conversations_slow, dtype=float)
                + self.cost_per_conversation * (np.asarray(conversations_fast, dtype=float)
                                                - np.asarray(conversations_slow, dtype=float))
                - self.revenue_months * (np.asarray(revenue_end_fast, dtype=float)
                                         - np.asarray(revenue_end_slow, dtype=float)))
