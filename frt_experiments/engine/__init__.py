"""The analysis where the data live: expressions over any engine Ibis reaches (DuckDB embedded,
PostgreSQL, Spark, and the SQL of other warehouses).

- :mod:`.connect`: an engine from a URL (``duckdb://``, ``postgresql://``, ``spark://``,
  ``sc://``) and its tables by name;
- :mod:`.checks`: the canonical tables' rules, counted in the engine;
- :mod:`.rows`: the per-customer rows every metric is built from;
- :mod:`.moments`: per-arm sufficient statistics (``VAR_SAMP``/``COVAR_SAMP``);
- :mod:`.business_time`: business time by joins against the calendar's step table;
- :mod:`.diagnostics`: the run-as-designed checks of :func:`frt_experiments.diagnostics.diagnose`;
- :mod:`.analysis`: what :func:`frt_experiments.analyze` runs when given Ibis tables;
- :mod:`.layouts`: the canonical tables as views over a helpdesk's Fivetran tables.

This module itself stays light (Ibis loads with the modules above).
"""

from __future__ import annotations

import warnings
from typing import Any

#: Ibis 12 sets a pandas option that pandas 3 deprecates each time it builds a frame; the
#: warning speaks to Ibis' developers, not to ours or to users.
IBIS_PANDAS_WARNING = "The 'future.infer_string' option is deprecated"


def is_engine_table(table: object) -> bool:
    """Whether ``table`` is a table of an engine (an Ibis table), checked without importing
    Ibis."""
    return type(table).__module__.startswith("ibis.") and hasattr(table, "execute")


def instant(value: Any) -> Any:
    """An instant the engine returned, as an aware UTC ``pandas.Timestamp`` (``None`` for a
    missing one). Timestamps without a zone are UTC: Spark hands its ``TIMESTAMP`` and
    ``TIMESTAMP_NTZ`` to Ibis without one, as wall clocks of the session's zone (UTC)."""
    import pandas as pd  # noqa: PLC0415 (this module stays light)

    if value is None or pd.isna(value):
        return None
    ts = pd.Timestamp(value)
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def timestamp(column: Any) -> Any:
    """A timestamp column as an aware timestamp: ISO 8601 text with an offset (as ``frt
    simulate --format parquet`` and the CSV tables hold them) is cast in the engine."""
    import ibis.expr.datatypes as dt  # noqa: PLC0415 (Ibis loads only with the engine)

    if column.type().is_string():
        return column.cast(dt.Timestamp(timezone="UTC"))
    return column


def cached(table: Any, backend: Any = None) -> Any:
    """``table`` computed once into a temporary table of ``backend`` (default: the table's
    own engine); release it with ``.release()``. The in-memory tables it reads are sent to
    that engine first: Ibis' Spark backend does not do that for ``cache`` as it does for
    queries, and a table made only of in-memory tables would otherwise go to Ibis' default
    engine rather than to the engine of the tables it is later joined with."""
    if backend is None:
        backend = table._find_backend(use_default=True)
    hooks = getattr(backend, "_run_pre_execute_hooks", None)
    if hooks is not None:
        hooks(table)
    return backend._cached_table(table)


def engine_name(expr: Any) -> str | None:
    """The name of the engine an expression runs on (``"duckdb"``, ``"postgres"``,
    ``"pyspark"``), or ``None`` for an unbound one (SQL compiled for another dialect)."""
    try:
        return str(expr._find_backend(use_default=True).name)
    except Exception:  # an unbound expression
        return None


def require_columns(name: str, table: Any, columns: Any) -> None:
    """``table`` is an Ibis table with ``columns``, else a TypeError or a DataError naming
    ``name`` and the missing columns."""
    from frt_experiments.errors import DataError, Problem  # noqa: PLC0415 (stays light)

    if not is_engine_table(table):
        raise TypeError(f"{name} must be an Ibis table, got {type(table).__name__}")
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise DataError([Problem(name, None, "missing required column(s) "
                                 + ", ".join(missing))])


def execute(expr: Any) -> Any:
    """Run an Ibis expression and return its pandas result."""
    return _run(expr.execute)


def to_arrow(expr: Any) -> Any:
    """Run an Ibis table expression and return its result as a ``pyarrow.Table``."""
    return _run(expr.to_pyarrow)


def _run(method: Any) -> Any:
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=IBIS_PANDAS_WARNING)
        return method()
