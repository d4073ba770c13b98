"""Simulator: synthetic customers and conversations for two arms or more, as canonical tables.

- :mod:`~frt_experiments.simulate.scenario` -- TOML scenarios and their validation; presets
  ``published`` (reproduces the published table in expectation), ``aa`` (no effect),
  ``harsh`` (a stronger CSAT and churn response), ``dose`` (four FRT arms; CSAT, questions
  and churn respond to the realized FRT, with a confounder) and ``published-desk`` (the
  published trial with first responses from the desk simulation); ``hte`` (effects that differ
  by segment, spend and contact rate) and ``hte-null`` (its homogeneous control: the same
  average effects for everyone).
- :mod:`~frt_experiments.simulate.heterogeneity` -- the per-customer effect modifiers of
  ``[heterogeneity]``.
- :mod:`~frt_experiments.simulate.customer_truth` -- :func:`segment_truth` (each segment's
  true effects in the analysis's estimands), :func:`customer_truth` (each customer's expected
  outcomes fast and slow) and :func:`policy_value` (a targeting policy's true net benefit).
- :mod:`~frt_experiments.simulate.population` -- customers, revenue, pre-period covariates.
- :mod:`~frt_experiments.simulate.conversations` -- arrivals, follow-ups, FRT, handle time,
  ratings.
- :mod:`~frt_experiments.simulate.first_response` -- each arm's FRT policy (``fast``, or held
  until shortly before a deadline in business hours), its closed-form distribution and the
  quadrature of expectations over it.
- :mod:`~frt_experiments.simulate.effects` -- the responses to FRT (CSAT, follow-ups, churn)
  and the CSAT calibration.
- :mod:`~frt_experiments.simulate.truth` -- :func:`dose_truth`: each arm's expected dose and
  outcomes, the effects against control and the true 2SLS slopes.
- :mod:`~frt_experiments.simulate.desk_loop` -- the desk in the loop (``desk.agents > 0``,
  preset ``published-desk``): first responses from the desk simulation, on common random
  numbers shared by every world.
- :mod:`~frt_experiments.simulate.worlds` -- :func:`simulate_worlds`: the status quo, the
  trial and the rollout on the same customers and arrivals, each world's true effects and the
  interference between the trial's arms; :func:`desk_truth`: their large-sample expectation.
- :mod:`~frt_experiments.simulate.calibrate` -- ``python -m frt_experiments.simulate.calibrate``
  prints the calibration and checks it on a large run.
"""

from frt_experiments.simulate.customer_truth import (
    PolicyValue,
    customer_truth,
    policy_value,
    segment_truth,
)
from frt_experiments.simulate.effects import (
    CsatCalibration,
    calibrate_csat,
    expected_csat,
    expected_csat_slow,
)
from frt_experiments.simulate.first_response import (
    frt_cdf,
    share_within_deadline,
    slow_frt_cdf,
    slow_share_within_deadline,
)
from frt_experiments.simulate.scenario import PRESETS, Scenario, load_scenario, scenario_to_toml
from frt_experiments.simulate.trial import SimulatedTrial, simulate
from frt_experiments.simulate.truth import ArmTruth, DoseTruth, dose_truth
from frt_experiments.simulate.worlds import DeskTruth, Worlds, desk_truth, simulate_worlds

__all__ = [
    "PRESETS",
    "ArmTruth",
    "CsatCalibration",
    "DeskTruth",
    "DoseTruth",
    "PolicyValue",
    "Scenario",
    "SimulatedTrial",
    "Worlds",
    "calibrate_csat",
    "customer_truth",
    "desk_truth",
    "dose_truth",
    "expected_csat",
    "expected_csat_slow",
    "frt_cdf",
    "load_scenario",
    "policy_value",
    "scenario_to_toml",
    "segment_truth",
    "share_within_deadline",
    "simulate",
    "simulate_worlds",
    "slow_frt_cdf",
    "slow_share_within_deadline",
]
