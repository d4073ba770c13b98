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
- :mod:`~frt_experiments.staffing.patience` -- ``estimate_patience``: exponential patience
  from waits censored by service, with the Kaplan-Meier curve (``kaplan_meier``).
- :mod:`~frt_experiments.staffing.roster` -- ``Roster``: agents per dated interval;
  ``busy_agents`` from the data; ``calibrate_capacity``: the effective share of the roster.
- :mod:`~frt_experiments.staffing.analytics` -- ``desk_analytics``: observed and simulated
  desks side by side per interval and per day, in the desk's units.
"""

from frt_experiments.staffing.analytics import DeskAnalytics, desk_analytics
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
from frt_experiments.staffing.patience import PatienceEstimate, estimate_patience, kaplan_meier
from frt_experiments.staffing.plan import (
    HeadcountProjection,
    StaffingPlan,
    plan_staffing,
    project_headcount,
    staffing_curve,
)
from frt_experiments.staffing.profile import ArrivalProfile, ArrivalStream
from frt_experiments.staffing.roster import (
    CapacityCalibration,
    Roster,
    busy_agents,
    calibrate_capacity,
)
from frt_experiments.staffing.shifts import ShiftRules, ShiftSchedule, ShiftType, solve_shifts

__all__ = [
    "ArrivalProfile",
    "ArrivalStream",
    "CapacityCalibration",
    "DeskAnalytics",
    "DeskResult",
    "HeadcountProjection",
    "PatienceEstimate",
    "QueueMetrics",
    "Roster",
    "ShiftRules",
    "ShiftSchedule",
    "ShiftType",
    "StaffingByInterval",
    "StaffingPlan",
    "StaffingRequirement",
    "busy_agents",
    "calibrate_capacity",
    "desk_analytics",
    "erlang_a",
    "erlang_b",
    "erlang_c",
    "estimate_patience",
    "kaplan_meier",
    "plan_staffing",
    "project_headcount",
    "required_agents",
    "simulate_desk",
    "solve_shifts",
    "staffing_curve",
]
