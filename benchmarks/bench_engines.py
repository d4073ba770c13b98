"""The analysis' heavy half in pandas and in DuckDB: per-customer rows from Parquet files.

Run: ``python benchmarks/bench_engines.py`` (default: 1,000,000 customers, all assigned, and
10,000,000 conversations; about 1 GB of Parquet in a temporary directory). ``--scale 0.1`` runs
at a tenth of the size.

Each path runs in a fresh Python process from the Parquet files to the results table and
prints wall-clock seconds and peak resident memory:

- pandas (today's path): ``pd.read_parquet`` of the three tables, ``metrics.customer_rows``,
  ``analysis.analyze_rows``;
- DuckDB: ``engine.rows.customer_rows`` over ``read_parquet`` (the join and the sums run in
  DuckDB), ``fetch_rows``, ``analyze_rows`` on the per-customer rows.

Both print the same results table (checked here to 1e-9). The issue's targets for the full
analysis with diagnostics on DuckDB (3 s, 1.5 GB at this size) need the per-arm moments and the
diagnostics pushed down as well; this prints where the first step stands.
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
from _measure import PEAK_GB

_MEASURE = """
import json, sys, time

{peak_gb}
import warnings
warnings.simplefilter("ignore")
t = time.perf_counter()
{body}
res = result.to_pandas()
print(json.dumps({{"seconds": time.perf_counter() - t,
                  "peak_gb": peak_gb(),
                  "table": res.select_dtypes("number").to_numpy().tolist()}}))
"""

PANDAS = """
import pandas as pd
from frt_experiments.analysis import analyze_rows
from frt_experiments.metrics import customer_rows
c, v, a = (pd.read_parquet(f"{{d}}/{{n}}.parquet") for n in ("customers", "conversations",
                                                         "assignments"))
result = analyze_rows(customer_rows(c, v, a, validate=False))
"""

DUCKDB = """
import ibis
from frt_experiments.analysis import analyze_rows
from frt_experiments.engine.rows import customer_rows, fetch_rows
con = ibis.duckdb.connect()
c, v, a = (con.read_parquet(f"{{d}}/{{n}}.parquet") for n in ("customers", "conversations",
                                                             "assignments"))
result = analyze_rows(fetch_rows(customer_rows(c, v, a)))
"""


def measure(body: str, d: Path) -> dict:
    code = _MEASURE.format(body=f"d = {str(d)!r}\n" + body.format(), peak_gb=PEAK_GB)
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                         text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


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
                 ).to_parquet(d / "customers.parquet")
    start = pd.Timestamp("2025-01-06T00:00:00Z")
    pd.DataFrame({"customer_id": ids, "experiment": "trial",
                  "arm": np.where(rng.random(n_cust) < 0.5, "fast", "one_business_day"),
                  "assigned_at": start, "bucket": rng.random(n_cust)}
                 ).to_parquet(d / "assignments.parquet")
    who = rng.integers(0, n_cust, n_conv)
    created = start + pd.to_timedelta(rng.integers(0, 60 * 86_400, n_conv), unit="s")
    first = created + pd.to_timedelta(rng.integers(60, 90_000, n_conv), unit="s")
    csat = rng.choice(np.array(["1", "2", "3", "4", "5", None], dtype=object), n_conv,
                      p=[0.03, 0.03, 0.04, 0.1, 0.1, 0.7])
    pd.DataFrame({"conversation_id": pd.Series(np.char.add("v", np.arange(n_conv).astype(str)),
                                               dtype="string"),
                  "customer_id": ids.to_numpy()[who], "created_at": created,
                  "first_response_at": first,
                  "handle_seconds": rng.gamma(2.0, 300.0, n_conv),
                  "csat": pd.Series(csat, dtype="string"),
                  "csat_scale": pd.Series(np.where(pd.isna(csat), None, "1-5"), dtype="string")}
                 ).to_parquet(d / "conversations.parquet")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--dir", type=Path)
    args = ap.parse_args()
    n_cust, n_conv = int(1_000_000 * args.scale), int(10_000_000 * args.scale)
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        d = Path(tmp)
        t = time.perf_counter()
        write_trial(d, n_cust, n_conv, np.random.default_rng(1))
        mb = sum(p.stat().st_size for p in d.glob("*.parquet")) / 1e6
        print(f"{n_cust:,} customers, {n_conv:,} conversations, {mb:,.0f} MB of Parquet "
              f"(written in {time.perf_counter() - t:.0f} s)")
        runs = {"pandas (read_parquet, customer_rows, analyze_rows)": measure(PANDAS, d),
                "DuckDB (engine.rows, fetch_rows, analyze_rows)": measure(DUCKDB, d)}
        base = None
        for label, m in runs.items():
            ratio = "" if base is None else (f"   {m['seconds'] / base['seconds']:5.2f}x time, "
                                             f"{m['peak_gb'] / base['peak_gb']:5.2f}x memory")
            print(f"  {label:<52} {m['seconds']:7.1f} s  {m['peak_gb']:5.2f} GB{ratio}")
            base = base or m
        a, b = (np.asarray(m["table"], dtype=float) for m in runs.values())
        same = np.allclose(a, b, rtol=1e-9, atol=1e-12, equal_nan=True)
        print(f"  results tables equal to 1e-9: {same}")


if __name__ == "__main__":
    main()
