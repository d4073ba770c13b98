"""frt-experiments: first-response-time experiments for support teams, end to end.

Can low-spend customers get a slower first response (one business day instead of a few hours)
without losing their satisfaction or revenue, and what headcount does it save? The toolkit
assigns customers, simulates the trial and the desk, analyses it at 95% confidence and prices
the staffing tradeoff.

Where things live:

- :mod:`~frt_experiments.schema` -- canonical tables (customers, assignments, conversations),
  readers, writers, validation.
- :mod:`~frt_experiments.errors` -- exception and warning types.
- :mod:`~frt_experiments.ingest` -- helpdesk importers (Zendesk, Intercom).
- :mod:`~frt_experiments.calendar`, :mod:`~frt_experiments.policy` -- business time and FRT
  policies per arm.
- :mod:`~frt_experiments.assignment` -- eligibility, hashed split, ledger, SRM and balance
  (the checks in :mod:`~frt_experiments.balance`, the files in :mod:`~frt_experiments.ledger`);
  :mod:`~frt_experiments.sql` -- the same split as SQL for a warehouse or a routing rule.
- :mod:`~frt_experiments.simulate` -- synthetic customers and conversations (scenarios).
- :mod:`~frt_experiments.metrics`, :mod:`~frt_experiments.stats`,
  :mod:`~frt_experiments.analysis` -- per-customer rows, sufficient statistics, tests, results;
  :mod:`~frt_experiments.diagnostics` -- was it run as designed (SRM, response rates, FRT);
  :mod:`~frt_experiments.arms` -- several slow arms against one control (Holm, Dunnett).
- :mod:`~frt_experiments.design`, :mod:`~frt_experiments.plan`,
  :mod:`~frt_experiments.monitoring` -- power, sample size, duration, sequential plans; the
  experiment plan file; judging interim looks.
- :mod:`~frt_experiments.staffing`, :mod:`~frt_experiments.decision` -- Erlang, desk
  simulation, headcount and the cost-benefit verdict; :mod:`~frt_experiments.rollout` -- the
  rollout's predicted effect (the trial's dose-response on the desk's rollout FRT) and the
  slow-arm target that pays most.
- :mod:`~frt_experiments.plotting`, :mod:`~frt_experiments.report`,
  :mod:`~frt_experiments.demo`, :mod:`~frt_experiments.cli` -- plots, the HTML/Markdown
  report, the end-to-end demo, ``frt``.
"""

# The namespace is lazy (PEP 562): ``import frt_experiments`` loads no submodule, so the ``frt``
# command answers --version, --help and argument errors without importing pandas, SciPy,
# statsmodels, Matplotlib, DuckDB or Ibis. A public name is imported from its module on first
# access (``frt.analyze``, ``from frt_experiments import analyze``) and then cached here.
#
# To export a new public name: add it to ``__all__`` (sorted), to ``_EXPORTS`` (name -> module)
# and to the ``TYPE_CHECKING`` imports (for mypy and IDEs); tests/test_cli_startup.py checks
# that the three agree.

import importlib as _importlib
import sys as _sys
import types as _types
import typing as _typing

from frt_experiments._version import __version__

if _typing.TYPE_CHECKING:
    from frt_experiments import plotting as plotting  # the arm-coloured plots, as frt.plotting
    from frt_experiments.analysis import ExperimentResult, MetricResult, analyze, analyze_rows
    from frt_experiments.arms import ArmsResult
    from frt_experiments.assignment import (
        AssignmentResult,
        arms_from_buckets,
        assign,
        hash_buckets,
        stratified_assign,
        write_tags,
    )
    from frt_experiments.balance import SRMResult, covariate_balance, sample_ratio_mismatch
    from frt_experiments.calendar import BusinessCalendar
    from frt_experiments.decision import Decision, decide
    from frt_experiments.demo import DemoOutput, run_demo
    from frt_experiments.design import (
        DesignResult,
        MetricVariance,
        PowerResult,
        estimate_variances,
        metric_power,
        plan_experiment,
    )
    from frt_experiments.diagnostics import ArmsDiagnostics, Diagnostics, diagnose, diagnose_arms
    from frt_experiments.dose_response import DoseResponseResult, dose_response
    from frt_experiments.errors import (
        BalanceWarning,
        DataError,
        DataWarning,
        FrtError,
        FrtWarning,
        LedgerError,
        Problem,
        SampleRatioMismatchWarning,
        ScenarioError,
        SegmentWarning,
        TreatmentNotDeliveredWarning,
        UnstableQueueError,
    )
    from frt_experiments.ingest import (
        ImportResult,
        import_calls,
        import_csv,
        import_freshdesk,
        import_helpscout,
        import_intercom,
        import_zendesk,
    )
    from frt_experiments.ledger import LedgerCheck, read_design_weights, verify_ledger
    from frt_experiments.metrics import ArmStatistics, arm_statistics, customer_rows
    from frt_experiments.monitoring import (
        InterimDecision,
        judge_interim,
        judge_interim_results,
        repeated_ci,
    )
    from frt_experiments.net_benefit import NetBenefit
    from frt_experiments.plan import ExperimentPlan, read_plan, write_plan
    from frt_experiments.policy import Attainment, FrtPolicy, attainment_table, default_policies
    from frt_experiments.report import build_report
    from frt_experiments.rollout import (
        RolloutFrontier,
        RolloutPrediction,
        predict_rollout,
        rollout_frontier,
    )
    from frt_experiments.schema import (
        check_tables,
        read_table,
        validate_assignments,
        validate_conversations,
        validate_customers,
        write_table,
    )
    from frt_experiments.segments import SegmentResult, analyze_segments
    from frt_experiments.simulate import Scenario, SimulatedTrial, load_scenario, simulate
    from frt_experiments.sql import arm_sql, bucket_sql
    from frt_experiments.staffing import (
        ArrivalProfile,
        ArrivalStream,
        CapacityCalibration,
        DeskAnalytics,
        DeskResult,
        HeadcountProjection,
        PatienceEstimate,
        QueueMetrics,
        Roster,
        ShiftRules,
        ShiftSchedule,
        ShiftType,
        StaffingByInterval,
        StaffingPlan,
        StaffingRequirement,
        busy_agents,
        calibrate_capacity,
        desk_analytics,
        erlang_a,
        erlang_b,
        erlang_c,
        estimate_patience,
        kaplan_meier,
        plan_staffing,
        project_headcount,
        required_agents,
        simulate_desk,
        solve_shifts,
        staffing_curve,
    )
    from frt_experiments.stats.cuped import CupedAdjustment, cuped
    from frt_experiments.stats.dose_power import (
        DoseArm,
        ManyToOneSampleSize,
        SlopeSampleSize,
        dose_slope_sample_size,
        many_to_one_sample_size,
    )
    from frt_experiments.stats.multiplicity import holm
    from frt_experiments.stats.power import proportion_power, proportion_sample_size
    from frt_experiments.stats.ratio import RatioEstimate, delta_ratio
    from frt_experiments.stats.sequential import SequentialBounds, sequential_bounds
    from frt_experiments.stats.tests import (
        ArmSummary,
        DiffTestResult,
        MarginTestResult,
        equivalence_test,
        noninferiority_test,
        two_proportion_ztest,
        welch_test,
    )
    from frt_experiments.targeting import PolicyTree, TargetingResult, learn_targeting

#: Public name -> the module that defines it, imported on first access.
_EXPORTS: dict[str, str] = {
    "ArmStatistics": "frt_experiments.metrics",
    "ArmSummary": "frt_experiments.stats.tests",
    "ArmsDiagnostics": "frt_experiments.diagnostics",
    "ArmsResult": "frt_experiments.arms",
    "ArrivalProfile": "frt_experiments.staffing",
    "ArrivalStream": "frt_experiments.staffing",
    "AssignmentResult": "frt_experiments.assignment",
    "Attainment": "frt_experiments.policy",
    "BalanceWarning": "frt_experiments.errors",
    "BusinessCalendar": "frt_experiments.calendar",
    "CapacityCalibration": "frt_experiments.staffing",
    "CupedAdjustment": "frt_experiments.stats.cuped",
    "DataError": "frt_experiments.errors",
    "DataWarning": "frt_experiments.errors",
    "Decision": "frt_experiments.decision",
    "DemoOutput": "frt_experiments.demo",
    "DesignResult": "frt_experiments.design",
    "DeskAnalytics": "frt_experiments.staffing",
    "DeskResult": "frt_experiments.staffing",
    "Diagnostics": "frt_experiments.diagnostics",
    "DiffTestResult": "frt_experiments.stats.tests",
    "DoseArm": "frt_experiments.stats.dose_power",
    "DoseResponseResult": "frt_experiments.dose_response",
    "ExperimentPlan": "frt_experiments.plan",
    "ExperimentResult": "frt_experiments.analysis",
    "FrtError": "frt_experiments.errors",
    "FrtPolicy": "frt_experiments.policy",
    "FrtWarning": "frt_experiments.errors",
    "HeadcountProjection": "frt_experiments.staffing",
    "ImportResult": "frt_experiments.ingest",
    "InterimDecision": "frt_experiments.monitoring",
    "LedgerCheck": "frt_experiments.ledger",
    "LedgerError": "frt_experiments.errors",
    "ManyToOneSampleSize": "frt_experiments.stats.dose_power",
    "MarginTestResult": "frt_experiments.stats.tests",
    "MetricResult": "frt_experiments.analysis",
    "MetricVariance": "frt_experiments.design",
    "NetBenefit": "frt_experiments.net_benefit",
    "PatienceEstimate": "frt_experiments.staffing",
    "PolicyTree": "frt_experiments.targeting",
    "PowerResult": "frt_experiments.design",
    "Problem": "frt_experiments.errors",
    "QueueMetrics": "frt_experiments.staffing",
    "RatioEstimate": "frt_experiments.stats.ratio",
    "RolloutFrontier": "frt_experiments.rollout",
    "RolloutPrediction": "frt_experiments.rollout",
    "Roster": "frt_experiments.staffing",
    "SRMResult": "frt_experiments.balance",
    "SampleRatioMismatchWarning": "frt_experiments.errors",
    "Scenario": "frt_experiments.simulate",
    "ScenarioError": "frt_experiments.errors",
    "SegmentResult": "frt_experiments.segments",
    "SegmentWarning": "frt_experiments.errors",
    "SequentialBounds": "frt_experiments.stats.sequential",
    "ShiftRules": "frt_experiments.staffing",
    "ShiftSchedule": "frt_experiments.staffing",
    "ShiftType": "frt_experiments.staffing",
    "SimulatedTrial": "frt_experiments.simulate",
    "SlopeSampleSize": "frt_experiments.stats.dose_power",
    "StaffingByInterval": "frt_experiments.staffing",
    "StaffingPlan": "frt_experiments.staffing",
    "StaffingRequirement": "frt_experiments.staffing",
    "TargetingResult": "frt_experiments.targeting",
    "TreatmentNotDeliveredWarning": "frt_experiments.errors",
    "UnstableQueueError": "frt_experiments.errors",
    "analyze": "frt_experiments.analysis",
    "analyze_rows": "frt_experiments.analysis",
    "analyze_segments": "frt_experiments.segments",
    "arm_sql": "frt_experiments.sql",
    "arm_statistics": "frt_experiments.metrics",
    "arms_from_buckets": "frt_experiments.assignment",
    "assign": "frt_experiments.assignment",
    "attainment_table": "frt_experiments.policy",
    "bucket_sql": "frt_experiments.sql",
    "build_report": "frt_experiments.report",
    "busy_agents": "frt_experiments.staffing",
    "calibrate_capacity": "frt_experiments.staffing",
    "check_tables": "frt_experiments.schema",
    "covariate_balance": "frt_experiments.balance",
    "cuped": "frt_experiments.stats.cuped",
    "customer_rows": "frt_experiments.metrics",
    "decide": "frt_experiments.decision",
    "default_policies": "frt_experiments.policy",
    "delta_ratio": "frt_experiments.stats.ratio",
    "desk_analytics": "frt_experiments.staffing",
    "diagnose": "frt_experiments.diagnostics",
    "diagnose_arms": "frt_experiments.diagnostics",
    "dose_response": "frt_experiments.dose_response",
    "dose_slope_sample_size": "frt_experiments.stats.dose_power",
    "equivalence_test": "frt_experiments.stats.tests",
    "erlang_a": "frt_experiments.staffing",
    "erlang_b": "frt_experiments.staffing",
    "erlang_c": "frt_experiments.staffing",
    "estimate_patience": "frt_experiments.staffing",
    "estimate_variances": "frt_experiments.design",
    "hash_buckets": "frt_experiments.assignment",
    "holm": "frt_experiments.stats.multiplicity",
    "import_calls": "frt_experiments.ingest",
    "import_csv": "frt_experiments.ingest",
    "import_freshdesk": "frt_experiments.ingest",
    "import_helpscout": "frt_experiments.ingest",
    "import_intercom": "frt_experiments.ingest",
    "import_zendesk": "frt_experiments.ingest",
    "judge_interim": "frt_experiments.monitoring",
    "judge_interim_results": "frt_experiments.monitoring",
    "kaplan_meier": "frt_experiments.staffing",
    "learn_targeting": "frt_experiments.targeting",
    "load_scenario": "frt_experiments.simulate",
    "many_to_one_sample_size": "frt_experiments.stats.dose_power",
    "metric_power": "frt_experiments.design",
    "noninferiority_test": "frt_experiments.stats.tests",
    "plan_experiment": "frt_experiments.design",
    "plan_staffing": "frt_experiments.staffing",
    "predict_rollout": "frt_experiments.rollout",
    "project_headcount": "frt_experiments.staffing",
    "proportion_power": "frt_experiments.stats.power",
    "proportion_sample_size": "frt_experiments.stats.power",
    "read_design_weights": "frt_experiments.ledger",
    "read_plan": "frt_experiments.plan",
    "read_table": "frt_experiments.schema",
    "repeated_ci": "frt_experiments.monitoring",
    "required_agents": "frt_experiments.staffing",
    "rollout_frontier": "frt_experiments.rollout",
    "run_demo": "frt_experiments.demo",
    "sample_ratio_mismatch": "frt_experiments.balance",
    "sequential_bounds": "frt_experiments.stats.sequential",
    "simulate": "frt_experiments.simulate",
    "simulate_desk": "frt_experiments.staffing",
    "solve_shifts": "frt_experiments.staffing",
    "staffing_curve": "frt_experiments.staffing",
    "stratified_assign": "frt_experiments.assignment",
    "two_proportion_ztest": "frt_experiments.stats.tests",
    "validate_assignments": "frt_experiments.schema",
    "validate_conversations": "frt_experiments.schema",
    "validate_customers": "frt_experiments.schema",
    "verify_ledger": "frt_experiments.ledger",
    "welch_test": "frt_experiments.stats.tests",
    "write_plan": "frt_experiments.plan",
    "write_table": "frt_experiments.schema",
    "write_tags": "frt_experiments.assignment",
}

__all__ = [
    "ArmStatistics",
    "ArmSummary",
    "ArmsDiagnostics",
    "ArmsResult",
    "ArrivalProfile",
    "ArrivalStream",
    "AssignmentResult",
    "Attainment",
    "BalanceWarning",
    "BusinessCalendar",
    "CapacityCalibration",
    "CupedAdjustment",
    "DataError",
    "DataWarning",
    "Decision",
    "DemoOutput",
    "DesignResult",
    "DeskAnalytics",
    "DeskResult",
    "Diagnostics",
    "DiffTestResult",
    "DoseArm",
    "DoseResponseResult",
    "ExperimentPlan",
    "ExperimentResult",
    "FrtError",
    "FrtPolicy",
    "FrtWarning",
    "HeadcountProjection",
    "ImportResult",
    "InterimDecision",
    "LedgerCheck",
    "LedgerError",
    "ManyToOneSampleSize",
    "MarginTestResult",
    "MetricResult",
    "MetricVariance",
    "NetBenefit",
    "PatienceEstimate",
    "PolicyTree",
    "PowerResult",
    "Problem",
    "QueueMetrics",
    "RatioEstimate",
    "RolloutFrontier",
    "RolloutPrediction",
    "Roster",
    "SRMResult",
    "SampleRatioMismatchWarning",
    "Scenario",
    "ScenarioError",
    "SegmentResult",
    "SegmentWarning",
    "SequentialBounds",
    "ShiftRules",
    "ShiftSchedule",
    "ShiftType",
    "SimulatedTrial",
    "SlopeSampleSize",
    "StaffingByInterval",
    "StaffingPlan",
    "StaffingRequirement",
    "TargetingResult",
    "TreatmentNotDeliveredWarning",
    "UnstableQueueError",
    "__version__",
    "analyze",
    "analyze_rows",
    "analyze_segments",
    "arm_sql",
    "arm_statistics",
    "arms_from_buckets",
    "assign",
    "attainment_table",
    "bucket_sql",
    "build_report",
    "busy_agents",
    "calibrate_capacity",
    "check_tables",
    "covariate_balance",
    "cuped",
    "customer_rows",
    "decide",
    "default_policies",
    "delta_ratio",
    "desk_analytics",
    "diagnose",
    "diagnose_arms",
    "dose_response",
    "dose_slope_sample_size",
    "equivalence_test",
    "erlang_a",
    "erlang_b",
    "erlang_c",
    "estimate_patience",
    "estimate_variances",
    "hash_buckets",
    "holm",
    "import_calls",
    "import_csv",
    "import_freshdesk",
    "import_helpscout",
    "import_intercom",
    "import_zendesk",
    "judge_interim",
    "judge_interim_results",
    "kaplan_meier",
    "learn_targeting",
    "load_scenario",
    "many_to_one_sample_size",
    "metric_power",
    "noninferiority_test",
    "plan_experiment",
    "plan_staffing",
    "predict_rollout",
    "project_headcount",
    "proportion_power",
    "proportion_sample_size",
    "read_design_weights",
    "read_plan",
    "read_table",
    "repeated_ci",
    "required_agents",
    "rollout_frontier",
    "run_demo",
    "sample_ratio_mismatch",
    "sequential_bounds",
    "simulate",
    "simulate_desk",
    "solve_shifts",
    "staffing_curve",
    "stratified_assign",
    "two_proportion_ztest",
    "validate_assignments",
    "validate_conversations",
    "validate_customers",
    "verify_ledger",
    "welch_test",
    "write_plan",
    "write_table",
    "write_tags",
]


def __getattr__(name: str) -> _typing.Any:
    """Import a public name (or a submodule, such as ``plotting``) on first access (PEP 562)."""
    module = _EXPORTS.get(name)
    if module is not None:
        value = getattr(_importlib.import_module(module), name)
    elif not name.startswith("__"):
        try:
            value = _importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"{__name__}.{name}":
                raise
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


class _Namespace(_types.ModuleType):
    """The package's module type: a public name keeps its value when a same-named submodule
    is imported (``frt_experiments.simulate`` and ``frt_experiments.dose_response`` are both a
    module and a function; the import system binds the module on the package, and
    ``frt.simulate`` stays the function, as when the namespace was eager)."""

    def __setattr__(self, name: str, value: object) -> None:
        if (name in _EXPORTS and isinstance(value, _types.ModuleType)
                and value.__name__ == f"{__name__}.{name}"):
            value = getattr(_importlib.import_module(_EXPORTS[name]), name)
        super().__setattr__(name, value)


_sys.modules[__name__].__class__ = _Namespace
