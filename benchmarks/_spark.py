"""Spark in local mode on the benchmark's Parquet files (``bench_engines.write_trial``): the
seconds of each step of the engine path, for ``bench_engines.py`` to print beside pandas and
DuckDB.

``time_spark`` starts a ``local[2]`` session (``engine.connect``), opens the three Parquet files,
and runs ``engine.rows.customer_rows`` (its checks query the engine), ``fetch_rows`` (the join
and the sums in Spark, the per-customer rows to pandas through Arrow) and
``engine.moments.arm_statistics`` on the rows expression (Spark computes the join again for its
two queries), then stops the session. Spark reads the files lazily: each query scans the
Parquet it needs, so ``read_parquet`` times opening the files (their footers), not a scan.

Spark reads no ``TIMESTAMP(NANOS)`` Parquet columns, which pandas writes by default
(``bench_engines.write_trial`` does): such columns are read as whole nanoseconds
(``spark.sql.legacy.parquet.nanosAsLong``) and turned into timestamps in the engine, inside the
timed steps. Write timestamps in microseconds (``to_parquet(..., coerce_timestamps="us")``) to
spare Spark that.

Run alone: ``python benchmarks/_spark.py DIR`` with DIR holding customers.parquet,
conversations.parquet and assignments.parquet (``--write N_CUSTOMERS`` writes them first, ten
conversations a customer, with ``bench_engines.write_trial``).
"""

from __future__ import annotations

import argparse
import json
import time
import warnings
from pathlib import Path
from typing import Any
from urllib.parse import quote

#: The arms of ``bench_engines.write_trial``.
ARMS = ("fast", "one_business_day")


def _nanosecond_columns(path: str | Path) -> list[str]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    return [f.name for f in pq.read_schema(path)
            if pa.types.is_timestamp(f.type) and f.type.unit == "ns"]


def _open(con: Any, path: str | Path, name: str) -> Any:
    """A Parquet file as a Spark table, nanosecond timestamps turned into timestamps (whole
    microseconds, Spark's resolution; Ibis turns only seconds into timestamps on Spark)."""
    nanos = _nanosecond_columns(path)
    if not nanos:
        return con.read_parquet(str(path))
    from pyspark.sql import functions as F  # noqa: N812 (PySpark's convention)

    df = con._session.read.parquet(str(path))
    for c in nanos:
        df = df.withColumn(c, F.timestamp_micros(F.expr(f"`{c}` DIV 1000")))
    df.createOrReplaceTempView(f"frt_bench_{name}")
    return con.table(f"frt_bench_{name}")


def time_spark(customers_parquet: str | Path, conversations_parquet: str | Path,
               assignments_parquet: str | Path, *, master: str = "local[2]",
               driver_memory: str = "4g") -> dict[str, Any]:
    """Seconds per step of the engine path on Spark in local mode.

    Returns:
        ``{"start": ..., "read_parquet": ..., "customer_rows": ..., "fetch_rows": ...,
        "arm_statistics": ..., "total": ..., "customers": N}``: seconds to start the session,
        open the files, build ``customer_rows`` (with its checks), fetch the per-customer rows,
        and compute the per-arm moments; ``total`` is their sum; ``customers`` the rows
        fetched. The session is stopped before returning.
    """
    from frt_experiments import schema
    from frt_experiments.engine.connect import connect
    from frt_experiments.engine.moments import arm_statistics
    from frt_experiments.engine.rows import customer_rows, fetch_rows

    seconds: dict[str, Any] = {}
    paths = {"customers": customers_parquet, "conversations": conversations_parquet,
             "assignments": assignments_parquet}
    with warnings.catch_warnings():
        # PySpark's own warnings (unclosed loopback sockets, pandas 3 deprecations)
        warnings.simplefilter("ignore")
        t = time.perf_counter()
        conf = {"spark.driver.memory": driver_memory, "spark.ui.enabled": "false",
                "spark.sql.shuffle.partitions": "16"}
        if any(_nanosecond_columns(p) for p in paths.values()):
            conf["spark.sql.legacy.parquet.nanosAsLong"] = "true"
        con = connect(f"spark://{master}?"
                      + "&".join(f"{k}={quote(v)}" for k, v in conf.items()))
        seconds["start"] = time.perf_counter() - t
        try:
            t = time.perf_counter()
            tables = {name: _open(con, p, name) for name, p in paths.items()}
            seconds["read_parquet"] = time.perf_counter() - t

            t = time.perf_counter()
            rows = customer_rows(tables["customers"], tables["conversations"],
                                 tables["assignments"])
            seconds["customer_rows"] = time.perf_counter() - t

            t = time.perf_counter()
            fetched = fetch_rows(rows)
            seconds["fetch_rows"] = time.perf_counter() - t
            seconds["customers"] = len(fetched)

            t = time.perf_counter()
            columns = [c for c in fetched.columns if c != schema.ARM]
            arm_statistics(rows, columns, ARMS)
            seconds["arm_statistics"] = time.perf_counter() - t
        finally:
            con.disconnect()
    seconds["total"] = sum(v for k, v in seconds.items() if k not in ("customers", "total"))
    return seconds


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dir", type=Path)
    ap.add_argument("--write", type=int, metavar="N_CUSTOMERS",
                    help="first write N customers and 10 N conversations there")
    ap.add_argument("--master", default="local[2]")
    args = ap.parse_args()
    if args.write:
        import numpy as np
        from bench_engines import write_trial

        args.dir.mkdir(parents=True, exist_ok=True)
        t = time.perf_counter()
        write_trial(args.dir, args.write, 10 * args.write, np.random.default_rng(1))
        print(f"wrote {args.write:,} customers in {time.perf_counter() - t:.0f} s")
    d = args.dir
    out = time_spark(d / "customers.parquet", d / "conversations.parquet",
                     d / "assignments.parquet", master=args.master)
    print(json.dumps({k: round(v, 2) if isinstance(v, float) else v for k, v in out.items()}))


if __name__ == "__main__":
    main()
