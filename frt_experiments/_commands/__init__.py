"""Subcommands of the ``frt`` CLI, one module each (see :mod:`frt_experiments.cli`)."""
