"""frt.analyze with diagnostics in pandas, in DuckDB and in Spark, from Parquet files.

Run: ``python benchmarks/bench_engines.py`` (default: 1,000,000 customers, all assigned, and
10,000,000 conversations; about 400 MB of Parquet in a temporary directory). ``--scale 0.1``
runs at a tenth of the size; ``--scale 10 --engines duckdb`` is the 100,000,000-conversation
case (pandas does not fit it). ``--engines`` picks among pandas, duckdb and spark (default all
three; Spark only where PySpark and Java are installed). ``--data DIR`` keeps the Parquet files
in ``DIR`` and reuses them in later runs of the same size; ``--repeat N`` runs each engine N
times, interleaved, and prints medians; ``--checks off`` leaves out the runs with the checks
on; ``--baseline PATH`` measures another version of the package (a directory holding its
``frt_experiments``, e.g. ``git archive REV frt_experiments | tar -x -C PATH``) beside this
one on DuckDB, in the same run, so a change is measured under the same load.

Each run is a fresh Python process from the Parquet files to the results table and the
diagnostics, printing wall-clock seconds and peak resident memory (VmHWM):

- pandas (today's path): ``pd.read_parquet`` of the three tables, ``frt.analyze``;
- DuckDB: ``frt.analyze`` on ``con.read_parquet`` tables (the checks, the per-customer rows and
  the diagnostics run in DuckDB, the statistics here);
- Spark (``local[2]``): the same on ``spark.read.parquet`` tables.

Under each run, where its time went, wall-clock and CPU (the process's CPU time over all its
threads: on a machine shared with other work the CPU time moves less than the wall clock):
the imports (the package and, for the engines, Ibis and the engine modules), reading (opening
the tables), the checks (with checks on), the per-customer rows (the engine's query and the
fetch of its rows), the diagnostics, and the statistics with the rest of ``frt.analyze`` (arm
counts, the window's end). Then the engine floor: DuckDB alone, in a fresh process, scanning
the conversations and grouping them by customer id, and the same with the join to the
assignments that the per-customer rows and the diagnostics' per-conversation figures each
need; and the time to import Ibis and the engine modules. Then the least a design sharing one
join of the conversations between the rows and the diagnostics would do, written by hand in
DuckDB SQL: the join materialized once, the per-customer sums from it, and the FRT figures from
it (business clocks and deadlines by the package's bucketed equi-joins against the calendar's
tables, per-arm counts and exact quantiles: the same figures as the diagnostics'), with their
sum. Each run prints the 1-minute load average beside it.

For Spark the peak and the CPU time are the Python process's only: the JVM that runs Spark's
driver and executors is a process of its own and is not counted.

Each engine runs with the tables' checks off (``validate=False``: the analysis with diagnostics)
and on. The results and diagnostics tables of every run are compared with the first (1e-9).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from _measure import PEAK_GB

_MEASURE = """
import json, os, sys, time

t0 = time.perf_counter()
{peak_gb}
import warnings
warnings.simplefilter("ignore")
{imports}
imported, imported_cpu = time.perf_counter() - t0, time.process_time()
phase, phase_cpu = {{}}, {{}}


def timed(module, name, key):
    f = getattr(module, name, None)
    if f is None:  # another version of the package (--baseline)
        return

    def wrapper(*args, **kwargs):
        start, cpu = time.perf_counter(), time.process_time()
        try:
            return f(*args, **kwargs)
        finally:
            phase[key] = phase.get(key, 0.0) + time.perf_counter() - start
            phase_cpu[key] = phase_cpu.get(key, 0.0) + time.process_time() - cpu
    setattr(module, name, wrapper)


{hooks}
t = time.perf_counter()
{read}
read = time.perf_counter() - t
t, cpu = time.perf_counter(), time.process_time()
result = frt.analyze(c, v, a, validate={validate})
analyzed, analyzed_cpu = time.perf_counter() - t, time.process_time() - cpu
res = result.to_pandas()
diag = result.diagnostics.to_pandas()
print(json.dumps({{"seconds": time.perf_counter() - t0, "peak_gb": peak_gb(),
                  "cpu": time.process_time(), "load": os.getloadavg()[0],
                  "imports": imported, "read": read, "analyze": analyzed, "phases": phase,
                  "imports_cpu": imported_cpu, "analyze_cpu": analyzed_cpu,
                  "phases_cpu": phase_cpu,
                  "table": res.select_dtypes("number").to_numpy().tolist(),
                  "diagnostics": diag.select_dtypes("number").to_numpy().tolist()}}))
"""

#: What each engine imports before the clock of its phases starts (the package, the engine).
IMPORTS = {
    "pandas": "import pandas as pd\nimport frt_experiments as frt",
    "duckdb": "import ibis\nimport frt_experiments as frt\n"
              "import frt_experiments.engine.analysis, frt_experiments.engine.diagnostics",
    "spark": "import frt_experiments as frt\n"
             "import frt_experiments.engine.analysis, frt_experiments.engine.diagnostics\n"
             "from frt_experiments.engine.connect import connect",
}

#: The phases timed inside frt.analyze: the per-customer rows, the diagnostics, the checks.
_ENGINE_HOOKS = """
import frt_experiments.engine.analysis as ea, frt_experiments.engine.diagnostics as ed
timed(ea, "rows_and_trial_counts", "rows")
timed(ea, "per_customer_rows", "rows")  # before rows_and_trial_counts (--baseline)
timed(ea, "validate", "checks")
timed(ed, "diagnose", "diagnostics")
"""
HOOKS = {
    "pandas": """
import frt_experiments.analysis as fa
timed(fa, "customer_rows", "rows")
timed(fa, "_diagnose_tables", "diagnostics")
""",
    "duckdb": _ENGINE_HOOKS,
    "spark": _ENGINE_HOOKS,
}

READ = {
    "pandas": """
c, v, a = (pd.read_parquet(f"{d}/{n}.parquet") for n in ("customers", "conversations",
                                                       "assignments"))
""",
    "duckdb": """
con = ibis.duckdb.connect()
c, v, a = (con.read_parquet(f"{d}/{n}.parquet") for n in ("customers", "conversations",
                                                           "assignments"))
""",
    "spark": """
con = connect("spark://local[2]?spark.driver.memory=6g&spark.sql.shuffle.partitions=16")
c, v, a = (con.read_parquet(f"{d}/{n}.parquet") for n in ("customers", "conversations",
                                                           "assignments"))
""",
}

#: The engine floor: DuckDB's bare scan and grouping by customer id, then with the join to the
#: assignments the rows need, over the same Parquet files (a fresh process, nothing else); then
#: the least a design sharing one join would do, written by hand: the join materialized once
#: (a temporary table of the figures both results read), the per-customer sums from it, and
#: the FRT figures from it (each conversation's business clock at creation and at first
#: response, and the next business day's deadline, by the bucketed equi-joins against the
#: calendar's tables that the package uses; per arm the counts met and the exact quantiles).
_FLOOR = """
import json, time
import duckdb
con = duckdb.connect()
d = {d!r}
conv = f"read_parquet('{{d}}/conversations.parquet')"
asg = f"read_parquet('{{d}}/assignments.parquet')"
queries = {{
    "group": f"SELECT customer_id, count(*)::DOUBLE AS n, sum(handle_seconds) AS s FROM {{conv}} "
             "GROUP BY customer_id",
    "join": f"SELECT v.customer_id, count(*)::DOUBLE AS n, sum(handle_seconds) AS s FROM {{conv}} "
            f"v JOIN {{asg}} a ON v.customer_id = a.customer_id WHERE v.created_at >= "
            "a.assigned_at GROUP BY v.customer_id",
    "import": None,
    "shared_join": f"CREATE TEMP TABLE j AS SELECT v.customer_id, a.arm, v.created_at >= "
                   "a.assigned_at AS during, CAST(floor(epoch_us(v.created_at) / 1000000) AS "
                   "BIGINT) AS cs, CAST(floor(epoch_us(v.first_response_at) / 1000000) AS "
                   "BIGINT) AS fs, v.csat IS NOT NULL AS rated, coalesce(v.csat IN ({sat}), "
                   f"false) AS sat, v.handle_seconds AS h FROM {{conv}} v JOIN (SELECT "
                   "customer_id, CASE arm WHEN 'fast' THEN 0 ELSE 1 END::TINYINT AS arm, "
                   f"assigned_at FROM {{asg}}) a ON v.customer_id = a.customer_id",
    "shared_rows": "SELECT customer_id, sum(CASE WHEN during THEN 1.0 ELSE 0.0 END) AS n, "
                   "sum(CASE WHEN during AND rated THEN 1.0 ELSE 0.0 END) AS r, sum(CASE WHEN "
                   "during AND sat THEN 1.0 ELSE 0.0 END) AS s, sum(CASE WHEN during THEN h "
                   "ELSE 0.0 END) AS h FROM j GROUP BY customer_id",
    "shared_figures": "WITH c AS (SELECT j.arm, j.cs, j.fs, s.cum_s + least(greatest(j.cs - "
                      "s.open_s, 0), s.close_s - s.open_s) AS bc FROM j LEFT JOIN steps s ON "
                      "s.k = j.cs // {bucket} AND s.lo_s <= j.cs AND j.cs < s.hi_s WHERE during), "
                      "f AS (SELECT c.*, s.cum_s + least(greatest(c.fs - s.open_s, 0), s.close_s "
                      "- s.open_s) AS bf FROM c LEFT JOIN steps s ON s.k = c.fs // {bucket} AND "
                      "s.lo_s <= c.fs AND c.fs < s.hi_s), g AS (SELECT f.*, CASE arm WHEN 0 "
                      "THEN {fast_s} ELSE d.b_hi_s + least(f.bc - d.b_lo_s, d.next_len_s) - f.bc "
                      "END AS allowed FROM f LEFT JOIN days d ON d.k = f.bc // {bucket} AND "
                      "d.b_lo_s <= f.bc AND f.bc < d.b_hi_s) SELECT arm, count(*) AS n, "
                      "count(fs) AS answered, sum(CASE WHEN bf - bc <= allowed THEN 1 ELSE 0 "
                      "END) AS met, quantile_cont(fs - cs, [0.5, 0.9]) AS cal, "
                      "quantile_cont(bf - bc, [0.5, 0.9]) AS bus, quantile_cont(allowed, 0.5) "
                      "AS allowed FROM g GROUP BY arm",
}}
out = {{}}
for name, q in queries.items():
    if q is None:
        t = time.perf_counter()
        import ibis, frt_experiments.engine.analysis, frt_experiments.engine.diagnostics
        out[name] = time.perf_counter() - t
        # the calendar's tables for the figures (the simulator's desk), set up untimed
        import pandas as pd
        from frt_experiments.diagnostics import default_calendar
        from frt_experiments.engine.business_time import bucketed
        lo, hi = (pd.Timestamp(x, unit="s", tz="UTC") for x in con.execute(
            f"SELECT epoch(min(created_at)), epoch(max(first_response_at)) FROM {{conv}}"
        ).fetchone())
        tables = default_calendar().clock_tables(lo, hi + pd.Timedelta(days=10))
        steps = bucketed(tables["steps"], "lo_s", "hi_s")
        days = bucketed(tables["days"], "b_lo_s", "b_hi_s")
        con.execute("CREATE TEMP TABLE steps AS SELECT * FROM steps")
        con.execute("CREATE TEMP TABLE days AS SELECT * FROM days")
        continue
    t, cpu = time.perf_counter(), time.process_time()
    result = con.execute(q)
    if not q.startswith("CREATE"):
        result.arrow()
    out[name], out[name + "_cpu"] = time.perf_counter() - t, time.process_time() - cpu
print(json.dumps(out))
"""


def _run(code: str, pythonpath: str | None = None) -> dict:
    import os

    env = dict(os.environ)
    if pythonpath:
        env["PYTHONPATH"] = pythonpath + os.pathsep + env.get("PYTHONPATH", "")
    out = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True,
                         text=True, env=env, cwd=tempfile.gettempdir() if pythonpath else None)
    if out.returncode:
        raise SystemExit(f"a measured run failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def measure(engine: str, validate: bool, d: Path, pythonpath: str | None = None) -> dict:
    """One fresh process: imports, reading, ``frt.analyze`` with diagnostics, its phases."""
    code = _MEASURE.format(peak_gb=PEAK_GB, imports=IMPORTS[engine], hooks=HOOKS[engine],
                           read=f"d = {str(d)!r}\n" + READ[engine], validate=validate)
    return _run(code, pythonpath)


def floor(d: Path) -> dict:
    """The engine floor's seconds (``group``, ``join``) and the engine path's imports."""
    from frt_experiments import schema
    from frt_experiments.diagnostics import default_calendar
    from frt_experiments.engine.business_time import BUCKET_S
    from frt_experiments.policy import default_policies

    fast = default_policies(default_calendar())[schema.CONTROL_ARM].target
    assert fast is not None
    sat = ", ".join(f"'{r}'" for r in sorted(schema.SATISFIED_RATINGS))
    return _run(_FLOOR.format(d=str(d), sat=sat, bucket=BUCKET_S,
                              fast_s=int(fast.total_seconds())))


def _median(runs: list[dict], key: str) -> float:
    values = [r[key] for r in runs if key in r]
    return float(np.median(values)) if values else float("nan")


def _breakdown(runs: list[dict], cpu: bool = False) -> str:
    """Medians of the phases (wall-clock, or with ``cpu`` the process's CPU time over its
    threads): imports, reading, checks, rows, diagnostics, the rest (the statistics, the arm
    counts and the window's end)."""
    def med(get: Any) -> float:
        return float(np.median([get(r) for r in runs]))

    x = "_cpu" if cpu else ""
    parts = [("imports", med(lambda r: r["imports" + x]))]
    if not cpu:
        parts.append(("read", med(lambda r: r["read"])))
    keys = ["rows", "diagnostics"]
    if any("checks" in r["phases"] for r in runs):
        keys.insert(0, "checks")
    parts += [(k, med(lambda r, k=k: r["phases" + x].get(k, 0.0))) for k in keys]
    parts.append(("statistics",
                  med(lambda r: r["analyze" + x] - sum(r["phases" + x].values()))))
    return "  ".join(f"{k} {v:.1f}" for k, v in parts)


#: Conversations generated and written at a time.
_CHUNK = 5_000_000


def write_trial(d: Path, n_cust: int, n_conv: int, rng: np.random.Generator) -> None:
    ids = pd.Series(np.char.add("c", np.char.zfill(np.arange(n_cust).astype(str), 8)),
                    dtype="string")
    spend = rng.gamma(2.0, 50.0, n_cust)
    pre = rng.poisson(2.0, n_cust).astype(float)
    pd.DataFrame({"customer_id": ids, "monthly_spend": spend, "revenue_start": spend * 3,
                  "revenue_end": spend * 3 * rng.uniform(0.8, 1.1, n_cust),
                  "pre_conversations": pre, "pre_rated": np.floor(pre / 2),
                  "pre_satisfied": np.floor(pre / 3),
                  "pre_handle_seconds": pre * rng.gamma(2.0, 300.0, n_cust)}
                 ).to_parquet(d / "customers.parquet", coerce_timestamps="us")
    start = pd.Timestamp("2025-01-06T00:00:00Z")
    pd.DataFrame({"customer_id": ids, "experiment": "trial",
                  "arm": np.where(rng.random(n_cust) < 0.5, "fast", "one_business_day"),
                  "assigned_at": start, "bucket": rng.random(n_cust)}
                 ).to_parquet(d / "assignments.parquet", coerce_timestamps="us")
    # in chunks, one Parquet file: the 100M case stays within memory
    writer = None
    for lo in range(0, n_conv, _CHUNK):
        n = min(_CHUNK, n_conv - lo)
        who = rng.integers(0, n_cust, n)
        created = start + pd.to_timedelta(rng.integers(0, 60 * 86_400, n), unit="s")
        first = created + pd.to_timedelta(rng.integers(60, 90_000, n), unit="s")
        csat = rng.choice(np.array(["1", "2", "3", "4", "5", None], dtype=object), n,
                          p=[0.03, 0.03, 0.04, 0.1, 0.1, 0.7])
        chunk = pd.DataFrame({
            "conversation_id": pd.Series(np.char.add("v", np.arange(lo, lo + n).astype(str)),
                                         dtype="string"),
            "customer_id": ids.to_numpy()[who], "created_at": created,
            "first_response_at": first, "handle_seconds": rng.gamma(2.0, 300.0, n),
            "csat": pd.Series(csat, dtype="string"),
            "csat_scale": pd.Series(np.where(pd.isna(csat), None, "1-5"), dtype="string")})
        table = pa.Table.from_pandas(chunk, preserve_index=False)
        if writer is None:
            writer = pq.ParquetWriter(d / "conversations.parquet", table.schema,
                                      coerce_timestamps="us")
        writer.write_table(table.cast(writer.schema))
    if writer is not None:
        writer.close()


def _spark_available() -> bool:
    import importlib.util
    import shutil

    return importlib.util.find_spec("pyspark") is not None and shutil.which("java") is not None


def _data(directory: Path | None, n_cust: int, n_conv: int) -> tuple[Path, Any]:
    """Where the Parquet files are: ``directory`` (written there once per size, reused after),
    or a temporary directory (the returned handle removes it)."""
    if directory is None:
        tmp = tempfile.TemporaryDirectory()
        d, handle = Path(tmp.name), tmp
    else:
        d, handle = directory / f"{n_cust}_{n_conv}", None
    done = d / "WRITTEN"
    if done.exists():
        mb = sum(p.stat().st_size for p in d.glob("*.parquet")) / 1e6
        print(f"{n_cust:,} customers, {n_conv:,} conversations, {mb:,.0f} MB of Parquet "
              f"(reused from {d})")
        return d, handle
    d.mkdir(parents=True, exist_ok=True)
    t = time.perf_counter()
    write_trial(d, n_cust, n_conv, np.random.default_rng(1))
    done.write_text("1\n")
    mb = sum(p.stat().st_size for p in d.glob("*.parquet")) / 1e6
    print(f"{n_cust:,} customers, {n_conv:,} conversations, {mb:,.0f} MB of Parquet "
          f"(written in {time.perf_counter() - t:.0f} s)")
    return d, handle


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--dir", type=Path, help="where to write the Parquet files (a temporary "
                    "directory inside it)")
    ap.add_argument("--data", type=Path, help="keep the Parquet files in this directory and "
                    "reuse them in later runs of the same size (default: written afresh into a "
                    "temporary directory)")
    ap.add_argument("--engines", default="pandas,duckdb,spark", metavar="E,E,...")
    ap.add_argument("--repeat", type=int, default=1, help="runs of each engine and setting "
                    "(medians printed; default 1)")
    ap.add_argument("--checks", default="off,on", metavar="off,on",
                    help="the tables' checks off, on or both (default)")
    ap.add_argument("--baseline", metavar="PATH", help="a directory holding another version "
                    "of the frt_experiments package (e.g. git archive REV frt_experiments | tar "
                    "-x -C PATH): measured beside this one, DuckDB, in the same run")
    args = ap.parse_args()
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    if "spark" in engines and not _spark_available():
        print("Spark skipped: PySpark or Java is not installed (pip install -e '.[spark]')")
        engines.remove("spark")
    checks = [c.strip() == "on" for c in args.checks.split(",") if c.strip()]
    n_cust, n_conv = int(1_000_000 * args.scale), int(10_000_000 * args.scale)
    if args.dir is not None and args.data is None:
        tempfile.tempdir = str(args.dir)
    d, handle = _data(args.data, n_cust, n_conv)
    try:
        _report(d, engines, checks, max(1, args.repeat), args.baseline)
    finally:
        if handle is not None:
            handle.cleanup()


def _report(d: Path, engines: list[str], checks: list[bool], repeat: int,
            baseline: str | None) -> None:
    print(f"frt.analyze with diagnostics, from the Parquet files (a fresh process each; "
          f"medians of {repeat} run(s); load: the 1-minute load average at the run's end, "
          f"{os.cpu_count()} cores):")
    print("  seconds: imports, read (the tables opened), checks, rows (per-customer rows in "
          "the engine, fetched), diagnostics, statistics (and the rest of frt.analyze)")
    first: dict | None = None
    for validate in checks:
        base: dict | None = None
        configs: list[tuple[str, str | None]] = [(e, None) for e in engines]
        if baseline and "duckdb" in engines:
            configs.insert(engines.index("duckdb"), ("duckdb", baseline))
        # the repetitions interleaved, so a change in the machine's load meets every engine
        all_runs: dict[int, list[dict]] = {k: [] for k in range(len(configs))}
        for _ in range(repeat):
            for k, (engine, path) in enumerate(configs):
                all_runs[k].append(measure(engine, validate, d, path))
        for k, (engine, path) in enumerate(configs):
            runs = all_runs[k]
            m = {"seconds": _median(runs, "seconds"), "peak_gb": _median(runs, "peak_gb"),
                 "table": runs[-1]["table"], "diagnostics": runs[-1]["diagnostics"]}
            name = engine + (" (baseline)" if path else "")
            label = f"{name}, checks {'on' if validate else 'off'}"
            ratio = "" if base is None or engine == "pandas" else (
                f"   {m['seconds'] / base['seconds']:5.2f}x the time, "
                f"{m['peak_gb'] / base['peak_gb']:5.2f}x the memory of pandas")
            if engine == "pandas":
                base = m
            loads = "/".join(f"{r['load']:.1f}" for r in runs)
            each = "/".join(f"{r['seconds']:.1f}" for r in runs)
            print(f"  {label:<30} {m['seconds']:7.1f} s  {m['peak_gb']:5.2f} GB{ratio}",
                  flush=True)
            print(f"  {'':<30} wall: {_breakdown(runs)}   (runs {each} s; load {loads})")
            print(f"  {'':<30} CPU:  {_breakdown(runs, cpu=True)}   (all "
                  f"{_median(runs, 'cpu'):.1f} s)", flush=True)
            if first is None:
                first = m
                continue
            same = all(np.allclose(np.asarray(m[k], dtype=float),
                                   np.asarray(first[k], dtype=float), rtol=1e-9,
                                   atol=1e-12, equal_nan=True)
                       for k in ("table", "diagnostics"))
            print(f"  {'':<30} results and diagnostics equal the first run's: {same}")
    if "duckdb" in engines:
        floors = [floor(d) for _ in range(repeat)]
        def med(key: str) -> float:
            return float(np.median([f[key] for f in floors]))

        print(f"  engine floor (DuckDB alone, fresh process, median of {repeat}): scan and "
              f"group the conversations by customer id {med('group'):.1f} s (CPU "
              f"{med('group_cpu'):.1f} s); with the join to the assignments {med('join'):.1f} s "
              f"(CPU {med('join_cpu'):.1f} s): the rows' query and the diagnostics' figures "
              f"each need at least the join; import of Ibis and the engine modules "
              f"{med('import'):.1f} s (load {os.getloadavg()[0]:.1f})")
        shared = [med(k) for k in ("shared_join", "shared_rows", "shared_figures")]
        cpu = sum(med(k + "_cpu") for k in ("shared_join", "shared_rows", "shared_figures"))
        print(f"  one join shared, by hand in DuckDB: the join materialized {shared[0]:.1f} s, "
              f"the per-customer sums from it {shared[1]:.1f} s, the FRT figures from it "
              f"(business clocks, deadlines, exact quantiles) {shared[2]:.1f} s: "
              f"{sum(shared):.1f} s of engine time (CPU {cpu:.1f} s), "
              f"{sum(shared) + med('import'):.1f} s with the imports, before the customers' "
              "columns, the rows' fetch and the statistics")

if __name__ == "__main__":
    main()
