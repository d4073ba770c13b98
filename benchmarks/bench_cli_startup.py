"""How fast ``frt`` answers when it has nothing to compute (issue 20, part 4).

For each command line -- ``frt --version``, ``frt --help``, ``frt analyze --help`` and an
argument error (``frt analyze --no-such-option``) -- it runs a fresh interpreter ``--runs``
times and prints the median wall time and the median CPU time (user + system of the child),
against the issue's figure before the change (2.6-3.0 s of CPU: matplotlib and SciPy imported
by every command) and the goal (0.3 s). It also lists the heavy libraries the command line
imported (from ``python -X importtime``): there should be none.

``--before COMMIT`` times the same command lines on that commit's package as well (extracted
with ``git archive`` into a temporary directory; the working tree is not touched), for a
before/after on this machine, e.g. ``--before 81349ca`` (the commit before the lazy imports).

Run: ``python benchmarks/bench_cli_startup.py [--runs 7] [--before COMMIT]``.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

COMMAND_LINES = (
    ["--version"],
    ["--help"],
    ["analyze", "--help"],
    ["analyze", "--no-such-option"],
)
HEAVY = ("matplotlib", "scipy", "statsmodels", "duckdb", "ibis", "pandas", "pyarrow", "numpy")
GOAL_S = 0.3
ISSUE_BEFORE = "2.6-3.0 s CPU"


def _run(argv: list[str], package_root: Path) -> tuple[float, float]:
    env = dict(os.environ, PYTHONPATH=str(package_root))
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "frt_experiments.cli", *argv], env=env,
                   cwd=package_root, capture_output=True, check=False, timeout=120)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def _heavy_imports(argv: list[str], package_root: Path) -> list[str]:
    env = dict(os.environ, PYTHONPATH=str(package_root))
    proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "frt_experiments.cli",
                           *argv], env=env, cwd=package_root, capture_output=True, text=True,
                          check=False, timeout=120)
    names = {line.rsplit("|", 1)[1].strip().split(".")[0] for line in proc.stderr.splitlines()
             if line.startswith("import time:") and "|" in line}
    return sorted(names & set(HEAVY))


def _table(package_root: Path, runs: int, label: str) -> None:
    print(f"\n{label} ({package_root}), median of {runs} runs:")
    print(f"  {'command line':34} {'wall s':>7} {'CPU s':>7}  heavy imports")
    for argv in COMMAND_LINES:
        _run(argv, package_root)  # warm the file cache
        times = [_run(argv, package_root) for _ in range(runs)]
        wall = statistics.median(t[0] for t in times)
        cpu = statistics.median(t[1] for t in times)
        heavy = _heavy_imports(argv, package_root)
        print(f"  {'frt ' + ' '.join(argv):34} {wall:7.3f} {cpu:7.3f}  "
              f"{', '.join(heavy) if heavy else 'none'}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--before", metavar="COMMIT", help="also time this commit's package")
    args = ap.parse_args()
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores, load average "
          f"{', '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"goal: under {GOAL_S} s; the issue's figure before the change: {ISSUE_BEFORE}")
    _table(ROOT, args.runs, "this tree")
    if args.before:
        with tempfile.TemporaryDirectory() as tmp:
            archive = Path(tmp) / "before.tar"
            subprocess.run(["git", "-C", str(ROOT), "archive", "-o", str(archive),
                            args.before, "frt_experiments"], check=True)
            with tarfile.open(archive) as tar:
                tar.extractall(tmp, filter="data")
            _table(Path(tmp), args.runs, f"commit {args.before}")


if __name__ == "__main__":
    main()
