"""Simulator: synthetic customers and conversations for both arms, as canonical tables.

- :mod:`~frt_experiments.simulate.scenario` -- TOML scenarios and their validation; presets
  ``published`` (reproduces the published table in expectation), ``aa`` (no effect) and
  ``harsh`` (a stronger CSAT and churn response).
- :mod:`~frt_experiments.simulate.population` -- customers, revenue, pre-period covariates.
- :mod:`~frt_experiments.simulate.conversations` -- arrivals, FRT, handle time, ratings.
- :mod:`~frt_experiments.simulate.first_response` -- each arm's FRT model (the slow arm held
  until shortly before its one-business-day deadline) and its closed-form distribution.
- :mod:`~frt_experiments.simulate.effects` -- the CSAT dose-response and its calibration.
- :mod:`~frt_experiments.simulate.calibrate` -- ``python -m frt_experiments.simulate.calibrate``
  prints the calibration and checks it on a large run.
"""

from frt_experiments.simulate.effects import (
    CsatCalibration,
    calibrate_csat,
    expected_csat,
    expected_csat_slow,
)
from frt_experiments.simulate.first_response import slow_frt_cdf, slow_share_within_deadline
from frt_experiments.simulate.scenario import PRESETS, Scenario, load_scenario, scenario_to_toml
from frt_experiments.simulate.trial import SimulatedTrial, simulate

__all__ = [
    "PRESETS",
    "CsatCalibration",
    "Scenario",
    "SimulatedTrial",
    "calibrate_csat",
    "expected_csat",
    "expected_csat_slow",
    "load_scenario",
    "scenario_to_toml",
    "simulate",
    "slow_frt_cdf",
    "slow_share_within_deadline",
]
