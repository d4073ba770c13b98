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

from frt_experiments import plotting as plotting  # the arm-coloured plots, as frt.plotting
from frt_experiments._version import __version__
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
    "PatienceEstimate",
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
    "SequentialBounds",
    "ShiftRules",
    "ShiftSchedule",
    "ShiftType",
    "SimulatedTrial",
    "SlopeSampleSize",
    "StaffingByInterval",
    "StaffingPlan",
    "StaffingRequirement",
    "TreatmentNotDeliveredWarning",
    "UnstableQueueError",
    "__version__",
    "analyze",
    "analyze_rows",
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
