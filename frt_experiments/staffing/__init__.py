"""Staffing: Erlang formulas for live channels, the desk simulation and headcount planning.

- :mod:`~frt_experiments.staffing.erlang` -- Erlang B, C and A; ``required_agents``.
- :mod:`~frt_experiments.staffing.profile` -- ``ArrivalProfile``: Poisson arrivals by hour of
  the week.
- :mod:`~frt_experiments.staffing.desk` -- ``simulate_desk``: the desk on business hours, fast
  queue first, deferred queue by deadline.
- :mod:`~frt_experiments.staffing.plan` -- ``plan_staffing``, ``staffing_curve``,
  ``project_headcount``.
- :mod:`~frt_experiments.staffing.shifts` -- ``solve_shifts``: a requirement per interval
  turned into shifts (``ShiftType``, ``ShiftRules``) by integer programming.
"""

from frt_experiments.staffing.desk import DeskResult, simulate_desk
from frt_experiments.staffing.erlang import (
    QueueMetrics,
    StaffingByInterval,
    StaffingRequirement,
    erlang_a,
    erlang_b,
    erlang_c,
    required_agents,
)
from frt_experiments.staffing.plan import (
    HeadcountProjection,
    StaffingPlan,
    plan_staffing,
    project_headcount,
    staffing_curve,
)
from frt_experiments.staffing.profile import ArrivalProfile, ArrivalStream
from frt_experiments.staffing.shifts import ShiftRules, ShiftSchedule, ShiftType, solve_shifts

__all__ = [
    "ArrivalProfile",
    "ArrivalStream",
    "DeskResult",
    "HeadcountProjection",
    "QueueMetrics",
    "ShiftRules",
    "ShiftSchedule",
    "ShiftType",
    "StaffingByInterval",
    "StaffingPlan",
    "StaffingRequirement",
    "erlang_a",
    "erlang_b",
    "erlang_c",
    "plan_staffing",
    "project_headcount",
    "required_agents",
    "simulate_desk",
    "solve_shifts",
    "staffing_curve",
]
