"""Statistical building blocks that see only numbers and per-arm sufficient statistics.

- :mod:`~frt_experiments.stats.ratio` -- ratio metrics by the delta method.
- :mod:`~frt_experiments.stats.tests` -- Welch, two proportions, non-inferiority, TOST.
- :mod:`~frt_experiments.stats.cuped` -- variance reduction with pre-period covariates.
- :mod:`~frt_experiments.stats.multiplicity` -- Holm's adjustment.
- :mod:`~frt_experiments.stats.power`, :mod:`~frt_experiments.stats.sequential` -- power and
  sample size; group-sequential boundaries.
"""
