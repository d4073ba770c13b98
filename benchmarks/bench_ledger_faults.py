"""Benchmark: the assignment ledger under concurrent runs and SIGKILLs (the long version of
``tests/test_ledger_faults.py``).

Prints trials and failures of three checks, each with real ``frt assign`` processes:

- **Concurrency**: 2 or 4 processes started at once on one ledger, alternately on an existing
  ledger with grown customer lists and with no ledger yet. A failure is a lost or duplicated
  customer (the ledger and excluded list must hold exactly the union of what the successful
  runs saw), a ledger that ``verify_ledger`` refuses, or an exit other than 0 (or 2 with the
  lock-timeout message).
- **Kills at each commit step**: a run SIGKILLs itself before each of the 12 steps of the
  ledger's commit (flush of each staged file, the journal, its rename, the three renames, the
  journal's removal, the directory flushes), on an existing ledger and with none.
- **Kills at random times**: the parent SIGKILLs a run at a uniformly random moment of its
  work (after the interpreter started), on a larger ledger.

After every kill, recovery (what the next run does first, under the lock) must leave exactly
the old set of files (ledger, ``excluded.csv``, ``meta.json``) or exactly the new one, byte for
byte, no temporary file, and a ledger that verifies; the next run must then give the new set.

Run: ``python benchmarks/bench_ledger_faults.py [--concurrency-trials N] [--kill-trials N]
[--customers N]``.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from frt_experiments import schema
from frt_experiments.cli import main as cli_main
from frt_experiments.ledger import ledger_lock, recover, resolve_ledger, sidecars, verify_ledger

SALT = "bench-salt"
MAX_SPEND = 60.0
T0 = "2026-03-02T09:00:00Z"
STEPS = 12

CHILD = r"""
import os, signal, sys
kill_at = int(sys.argv[1])
from frt_experiments.cli import main
calls = [0]
def wrap(fn):
    def inner(*args, **kwargs):
        calls[0] += 1
        if calls[0] == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)
        return fn(*args, **kwargs)
    return inner
if kill_at:
    os.fsync, os.replace, os.unlink = wrap(os.fsync), wrap(os.replace), wrap(os.unlink)
print("start", flush=True)
status = main(sys.argv[2:])
print(f"steps {calls[0]}", flush=True)
sys.exit(status)
"""


def _customers(ids: range) -> pd.DataFrame:
    num = np.fromiter(ids, dtype=np.int64)
    spend = np.round(np.exp(4.0 + 0.8 * np.sin(num * 12.9898) * 1.7), 2)
    return pd.DataFrame({schema.CUSTOMER_ID: [f"C{i:07d}" for i in num],
                         schema.MONTHLY_SPEND: spend})


def _write(path: Path, ids: range) -> pd.DataFrame:
    df = _customers(ids)
    df.to_csv(path, index=False)
    return df


def _argv(customers: Path, ledger: Path, *extra: str) -> list[str]:
    return ["assign", "--customers", str(customers), "--experiment", "bench", "--salt", SALT,
            "--max-spend", str(MAX_SPEND), "--ledger", str(ledger), "--assigned-at", T0, *extra]


def _start(argv: list[str], kill_at: int = 0) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-c", CHILD, str(kill_at), *argv], text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _snapshot(ledger: Path) -> tuple[bytes | None, ...]:
    return tuple(p.read_bytes() if p.exists() else None for p in [ledger, *sidecars(ledger)])


def _restore(snap: tuple[bytes | None, ...], ledger: Path) -> None:
    for p, data in zip([ledger, *sidecars(ledger)], snap, strict=True):
        if data is not None:
            p.write_bytes(data)


def _temporaries(d: Path) -> list[str]:
    return [p.name for p in d.iterdir() if p.name.startswith(".")]


# ----------------------------------------------------------------------------- concurrency
def concurrency(trials: int, n: int, root: Path) -> tuple[int, int, int]:
    """Trials, failures and lock timeouts of concurrent runs."""
    failures = timeouts = 0
    for t in range(trials):
        procs = 2 if t % 2 == 0 else 4
        grown = (t // 2) % 2 == 0
        d = root / f"conc{t}"
        d.mkdir()
        ledger = d / "ledger.csv"
        lists = []
        if grown:
            lists.append(_write(d / "first.csv", range(n)))
            with contextlib.redirect_stdout(io.StringIO()), \
                    contextlib.redirect_stderr(io.StringIO()):
                cli_main(_argv(d / "first.csv", ledger))
        argvs = []
        for i in range(procs):
            ids = range(n // 2 * i, n + n * (i + 1) // 2 + 13 * t)
            lists.append(_write(d / f"c{i}.csv", ids))
            argvs.append(_argv(d / f"c{i}.csv", ledger))
        running = [_start(a) for a in argvs]
        results = [(p.wait(), p.communicate()[1]) for p in running]
        ok = [0] + [i + 1 for i, (s, _) in enumerate(results) if s == 0] if grown else \
            [i for i, (s, _) in enumerate(results) if s == 0]
        problem = ""
        for status, err in results:
            if status == 2 and "another run is updating this ledger" in err:
                timeouts += 1
            elif status != 0:
                problem = f"exit {status}: {err.strip()[-300:]}"
        seen = pd.concat([lists[i] for i in ok]).drop_duplicates(schema.CUSTOMER_ID)
        low = seen[schema.MONTHLY_SPEND] <= MAX_SPEND
        try:
            rows = pd.read_csv(ledger, dtype=str, keep_default_na=False)[schema.CUSTOMER_ID]
            excl = pd.read_csv(sidecars(ledger)[1], dtype=str,
                               keep_default_na=False)[schema.CUSTOMER_ID]
            if rows.duplicated().any() or excl.duplicated().any():
                problem = problem or f"{int(rows.duplicated().sum())} duplicated customers"
            lost = (set(seen.loc[low, schema.CUSTOMER_ID]) ^ set(rows)) | (
                set(seen.loc[~low, schema.CUSTOMER_ID]) ^ set(excl))
            if lost:
                problem = problem or f"{len(lost)} customers lost or extra"
            verify_ledger(ledger, salt=SALT)
        except Exception as exc:
            problem = problem or f"{type(exc).__name__}: {exc}"
        if _temporaries(d):
            problem = problem or f"temporary files left: {_temporaries(d)}"
        if problem:
            failures += 1
            print(f"  trial {t} ({procs} processes, {'grown' if grown else 'no ledger'}): "
                  f"FAILED: {problem}")
        shutil.rmtree(d)
    return trials, failures, timeouts


# ----------------------------------------------------------------------------- kills
def _kill_trial(d: Path, old: tuple[bytes | None, ...], new: tuple[bytes | None, ...],
                customers: Path, *, kill_at: int = 0, after: float | None = None) -> str:
    """One killed run and the recovery; 'old', 'new', 'finished' (not killed) or a failure."""
    if d.exists():
        shutil.rmtree(d)
    d.mkdir()
    ledger = d / "ledger.csv"
    _restore(old, ledger)
    p = _start(_argv(customers, ledger), kill_at)
    assert p.stdout is not None
    p.stdout.readline()                     # "start": the interpreter is up
    if after is not None:
        time.sleep(after)
        p.send_signal(signal.SIGKILL)
    status = p.wait()
    p.communicate()
    real = resolve_ledger(ledger)
    try:
        with ledger_lock(real):
            recover(real)
    except Exception as exc:
        return f"recovery failed: {exc}"
    state = _snapshot(ledger)
    if _temporaries(d):
        return f"temporary files left: {_temporaries(d)}"
    if state not in (old, new):
        return "a mix of old and new files"
    outcome = "finished" if status == 0 else ("old" if state == old else "new")
    try:
        if state[0] is not None:
            verify_ledger(ledger, salt=SALT)
        err = io.StringIO()
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
            status = cli_main(_argv(customers, ledger))
        if status != 0:
            return f"the next run failed: {err.getvalue().strip()[-300:]}"
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    if _snapshot(ledger) != new:
        return "the next run did not give the new set"
    return outcome


def kills(trials: int, n: int, root: Path, rng: np.random.Generator) -> None:
    base = root / "base"
    base.mkdir()
    for grown in (True, False):
        label = "existing ledger" if grown else "no ledger yet"
        first, more = (n, 2 * n)
        _write(base / "first.csv", range(first))
        _write(base / "grown.csv", range(more))
        ref = root / "ref"
        if ref.exists():
            shutil.rmtree(ref)
        ref.mkdir()
        if grown:
            _start(_argv(base / "first.csv", ref / "ledger.csv")).wait()
        old = _snapshot(ref / "ledger.csv")
        t = time.perf_counter()
        p = _start(_argv(base / "grown.csv", ref / "ledger.csv"))
        assert p.stdout is not None
        p.stdout.readline()
        t = time.perf_counter()
        p.wait()
        work = time.perf_counter() - t          # the run's own work, after start-up
        new = _snapshot(ref / "ledger.csv")
        counts: dict[str, int] = {}
        for k in range(1, STEPS + 1):
            out = _kill_trial(root / "kill", old, new, base / "grown.csv", kill_at=k)
            counts[out] = counts.get(out, 0) + 1
            if out not in ("old", "new"):
                print(f"  kill before step {k} ({label}): FAILED: {out}")
        print(f"kills before each of the {STEPS} commit steps ({label}): "
              f"{STEPS} trials, {STEPS - counts.get('old', 0) - counts.get('new', 0)} failures "
              f"(recovered to the old set {counts.get('old', 0)}, to the new set "
              f"{counts.get('new', 0)})")
        counts = {}
        for _ in range(trials):
            out = _kill_trial(root / "kill", old, new, base / "grown.csv",
                              after=float(rng.uniform(0, work)))
            counts[out] = counts.get(out, 0) + 1
            if out not in ("old", "new", "finished"):
                print(f"  random kill ({label}): FAILED: {out}")
        fails = trials - sum(counts.get(k, 0) for k in ("old", "new", "finished"))
        print(f"kills at random times within the run's {work:.2f} s of work ({label}, "
              f"{more:,} customers): {trials} trials, {fails} failures (old set "
              f"{counts.get('old', 0)}, new set {counts.get('new', 0)}, finished before the "
              f"kill {counts.get('finished', 0)})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--concurrency-trials", type=int, default=12)
    parser.add_argument("--kill-trials", type=int, default=24,
                        help="random-time kills per scenario (existing ledger, none)")
    parser.add_argument("--customers", type=int, default=20_000,
                        help="customers of the first list (the grown one has twice as many)")
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cpus")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        t = time.perf_counter()
        trials, failures, timeouts = concurrency(args.concurrency_trials, 2_000, root)
        print(f"concurrency (2 and 4 frt assign processes at once, grown lists and no ledger "
              f"yet): {trials} trials, {failures} failures (lost or duplicated customers, "
              f"refused ledgers, bad exits), {timeouts} lock timeouts "
              f"({time.perf_counter() - t:.0f} s)")
        t = time.perf_counter()
        kills(args.kill_trials, args.customers, root, rng)
        print(f"kills: {time.perf_counter() - t:.0f} s")


if __name__ == "__main__":
    main()
