"""Benchmark: simulate 1,000,000 customers over five months and write the tables.

Run: ``python benchmarks/bench_simulate.py [customers]``. Prints the time to generate, the time
to write CSV (pyarrow's writer, used by the simulator) and, for comparison, the time pandas'
``DataFrame.to_csv`` takes for the conversations table, the row counts and the peak memory
(``resource.getrusage`` max RSS). Goal: generation + writing under 30 s.
"""

from __future__ import annotations

import resource
import sys
import tempfile
import time
from pathlib import Path

from frt_experiments.simulate import simulate


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    t0 = time.perf_counter()
    trial = simulate("published", customers=n, rng=2025)
    t1 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        trial.write(tmp)
        t2 = time.perf_counter()
        size = sum(p.stat().st_size for p in Path(tmp).iterdir()) / 1e6
        trial.write(Path(tmp) / "pq", format="parquet")
        t3 = time.perf_counter()
        sample = trial.conversations.iloc[: len(trial.conversations) // 10]
        t4 = time.perf_counter()
        sample.to_csv(Path(tmp) / "pandas.csv", index=False)
        t5 = time.perf_counter()
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    m = len(trial.conversations)
    print(f"customers            {n:>12,}")
    print(f"assigned (low spend) {len(trial.assignments):>12,}")
    print(f"conversations        {m:>12,}")
    print(f"generate             {t1 - t0:>10.2f} s")
    print(f"write CSV (pyarrow)  {t2 - t1:>10.2f} s  ({size:,.0f} MB)")
    print(f"generate + CSV       {t2 - t0:>10.2f} s  (goal < 30 s)")
    print(f"write Parquet        {t3 - t2:>10.2f} s")
    pandas_est = (t5 - t4) * m / max(len(sample), 1) * 1.0
    print(f"pandas to_csv, conversations only (extrapolated from 10%): {pandas_est:.2f} s; "
          f"pyarrow all tables is {pandas_est / (t2 - t1):.1f}x faster")
    print(f"peak memory (max RSS) {peak_mb:>9,.0f} MB")


if __name__ == "__main__":
    main()
