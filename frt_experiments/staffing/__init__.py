"""Staffing: Erlang formulas for live channels, the desk simulation and headcount planning.

- :mod:`~frt_experiments.staffing.erlang` -- Erlang B, C and A; ``required_agents``.
"""

from frt_experiments.staffing.erlang import (
    QueueMetrics,
    StaffingRequirement,
    erlang_a,
    erlang_b,
    erlang_c,
    required_agents,
)

__all__ = [
    "QueueMetrics",
    "StaffingRequirement",
    "erlang_a",
    "erlang_b",
    "erlang_c",
    "required_agents",
]
