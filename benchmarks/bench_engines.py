"""frt.analyze with diagnostics in pandas, in DuckDB and in Spark, from Parquet files.

Run: ``python benchmarks/bench_engines.py`` (default: 1,000,000 customers, all assigned, and
10,000,000 conversations; about 400 MB of Parquet in a temporary directory). ``--scale 0.1``
runs at a tenth of the size; ``--scale 10 --engines duckdb`` is the 100,000,000-conversation
case (pandas does not fit it). ``--engines`` picks among pandas, duckdb and spark (default all
three; Spark only where PySpark and Java are installed).

Each run is a fresh Python process from the Parquet files to the results table and the
diagnostics, printing wall-clock seconds and peak resident memory (VmHWM):

- pandas (today's path): ``pd.read_parquet`` of the three tables, ``frt.analyze``;
- DuckDB: ``frt.analyze`` on ``con.read_parquet`` tables (the checks, the per-customer rows and
  the diagnostics run in DuckDB, the statistics here);
- Spark (``local[2]``): the same on ``spark.read.parquet`` tables.

For Spark the peak is the Python process's only: the JVM that runs Spark's driver and
executors is a process of its own and is not counted.

Each engine runs with the tables' checks off (``validate=False``: the analysis with diagnostics)
and on. The results and diagnostics tables of every run are compared with the first (1e-9).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from _measure import PEAK_GB

_MEASURE = """
import json, sys, time

{peak_gb}
import warnings
warnings.simplefilter("ignore")
t = time.perf_counter()
{body}
res = result.to_pandas()
diag = result.diagnostics.to_pandas()
print(json.dumps({{"seconds": time.perf_counter() - t,
                  "peak_gb": peak_gb(),
                  "table": res.select_dtypes("number").to_numpy().tolist(),
                  "diagnostics": diag.select_dtypes("number").to_numpy().tolist()}}))
"""

READ = {
    "pandas": """
import pandas as pd
c, v, a = (pd.read_parquet(f"{d}/{n}.parquet") for n in ("customers", "conversations",
                                                       "assignments"))
""",
    "duckdb": """
import ibis
con = ibis.duckdb.connect()
c, v, a = (con.read_parquet(f"{d}/{n}.parquet") for n in ("customers", "conversations",
                                                           "assignments"))
""",
    "spark": """
from frt_experiments.engine.connect import connect
con = connect("spark://local[2]?spark.driver.memory=6g&spark.sql.shuffle.partitions=16")
c, v, a = (con.read_parquet(f"{d}/{n}.parquet") for n in ("customers", "conversations",
                                                           "assignments"))
""",
}

ANALYZE = """
import frt_experiments as frt
result = frt.analyze(c, v, a, validate={validate})
"""


def measure(engine: str, validate: bool, d: Path) -> dict:
    body = READ[engine] + ANALYZE.format(validate=validate)
    code = _MEASURE.format(body=f"d = {str(d)!r}\n" + body, peak_gb=PEAK_GB)
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                         text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--dir", type=Path, help="where to write the Parquet files (a temporary "
                    "directory inside it)")
    ap.add_argument("--engines", default="pandas,duckdb,spark", metavar="E,E,...")
    args = ap.parse_args()
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    if "spark" in engines and not _spark_available():
        print("Spark skipped: PySpark or Java is not installed (pip install -e '.[spark]')")
        engines.remove("spark")
    n_cust, n_conv = int(1_000_000 * args.scale), int(10_000_000 * args.scale)
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        d = Path(tmp)
        t = time.perf_counter()
        write_trial(d, n_cust, n_conv, np.random.default_rng(1))
        mb = sum(p.stat().st_size for p in d.glob("*.parquet")) / 1e6
        print(f"{n_cust:,} customers, {n_conv:,} conversations, {mb:,.0f} MB of Parquet "
              f"(written in {time.perf_counter() - t:.0f} s)")
        print("frt.analyze with diagnostics, from the Parquet files (a fresh process each):")
        base: dict | None = None
        first: dict | None = None
        for validate in (False, True):
            for engine in engines:
                m = measure(engine, validate, d)
                label = f"{engine}, checks {'on' if validate else 'off'}"
                ratio = "" if base is None or engine == "pandas" else (
                    f"   {m['seconds'] / base['seconds']:5.2f}x the time, "
                    f"{m['peak_gb'] / base['peak_gb']:5.2f}x the memory of pandas")
                if engine == "pandas":
                    base = m
                print(f"  {label:<24} {m['seconds']:7.1f} s  {m['peak_gb']:5.2f} GB{ratio}",
                      flush=True)
                if first is None:
                    first = m
                    continue
                same = all(np.allclose(np.asarray(m[k], dtype=float),
                                       np.asarray(first[k], dtype=float), rtol=1e-9,
                                       atol=1e-12, equal_nan=True)
                           for k in ("table", "diagnostics"))
                print(f"  {'':<24} results and diagnostics equal the first run's: {same}")
            base = None


if __name__ == "__main__":
    main()
