"""The ledger under faults: concurrent runs on one ledger and SIGKILLs during its update.

Fast versions of the checks in ``benchmarks/bench_ledger_faults.py`` (which repeats them many
times with real ``frt assign`` processes and kills at random times):

- **Concurrency**: 2 and 4 processes run ``frt assign`` on one ledger at once (released together
  by a barrier), with grown customer lists on an existing ledger and with no ledger yet.
  Afterwards no customer is lost or listed twice (the ledger and the excluded list hold exactly
  the union of what the successful runs saw), ``frt assign --verify`` passes, and every process
  exited 0, or 2 with the one-line lock-timeout message when it was told not to wait.
- **Kills**: a run is SIGKILLed at each step of its multi-file write (before each file flush,
  rename and journal removal, counted in a dry run). Afterwards the next run's recovery leaves
  exactly the old set of files or exactly the new one (byte for byte), no temporary file, and a
  ledger that verifies; re-running then gives the new set.

Child processes come from a ``forkserver`` that imported the toolkit once, so each costs
milliseconds rather than the 2-3 s of a fresh interpreter.
"""

from __future__ import annotations

import contextlib
import io
import multiprocessing as mp
import os
import signal
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from frt_experiments import schema
from frt_experiments.cli import main
from frt_experiments.ledger import (
    ledger_lock,
    recover,
    resolve_ledger,
    sidecars,
    verify_ledger,
)

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals and flock")

SALT = "fault-salt"
MAX_SPEND = 60.0
T0 = "2026-03-02T09:00:00Z"


# ----------------------------------------------------------------------------- helpers
def _customers(ids: range) -> pd.DataFrame:
    """Customers with ids ``C000123``; a customer's spend depends only on their number, so a
    grown list agrees with a shorter one on everyone they share."""
    num = np.fromiter(ids, dtype=np.int64)
    spend = np.round(np.exp(4.0 + 0.8 * np.sin(num * 12.9898) * 1.7), 2)  # ~40% under 60
    return pd.DataFrame({schema.CUSTOMER_ID: [f"C{i:06d}" for i in num],
                         schema.MONTHLY_SPEND: spend})


def _write(path: Path, ids: range) -> pd.DataFrame:
    df = _customers(ids)
    df.to_csv(path, index=False)
    return df


def _argv(customers: Path, ledger: Path, *extra: str) -> list[str]:
    return ["assign", "--customers", str(customers), "--experiment", "faults", "--salt", SALT,
            "--max-spend", str(MAX_SPEND), "--ledger", str(ledger), "--assigned-at", T0, *extra]


def _child(argv: list[str], report: str, barrier: object | None, kill_at: int) -> None:
    """Run ``frt assign`` in a child; write its exit status and stderr to ``report``.

    With ``kill_at`` > 0 the process SIGKILLs itself just before its ``kill_at``-th call of
    ``os.fsync``, ``os.replace`` or ``os.unlink`` (the steps of the ledger's commit); with
    ``kill_at`` < 0 it counts those calls and reports the count.
    """
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
    if barrier is not None:
        barrier.wait()  # type: ignore[attr-defined]
    err, out = io.StringIO(), io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
        status = main(argv)
    Path(report).write_text(f"{status}\n{calls[0]}\n{err.getvalue()}", encoding="utf-8")
    sys.exit(status)


@pytest.fixture(scope="module")
def ctx() -> mp.context.BaseContext:
    context = mp.get_context("forkserver")
    context.set_forkserver_preload(["frt_experiments.cli", "pandas", "numpy"])
    return context


def _run_together(ctx: mp.context.BaseContext, argvs: list[list[str]], tmp: Path
                  ) -> list[tuple[int, str]]:
    """Start one child per argv, released at once; their (exit code, stderr)."""
    barrier = ctx.Barrier(len(argvs))
    reports = [tmp / f"report{i}.txt" for i in range(len(argvs))]
    procs = [ctx.Process(target=_child, args=(a, str(r), barrier, 0))
             for a, r in zip(argvs, reports, strict=True)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    out = []
    for p, r in zip(procs, reports, strict=True):
        assert p.exitcode is not None, "a child hung"
        text = r.read_text(encoding="utf-8") if r.exists() else "\n\n"
        out.append((int(p.exitcode), text.split("\n", 2)[2]))
    return out


def _expected(lists: list[pd.DataFrame]) -> tuple[set[str], set[str]]:
    everyone = pd.concat(lists).drop_duplicates(schema.CUSTOMER_ID)
    low = everyone[schema.MONTHLY_SPEND] <= MAX_SPEND
    return (set(everyone.loc[low, schema.CUSTOMER_ID]),
            set(everyone.loc[~low, schema.CUSTOMER_ID]))


def _check_no_loss_no_duplicate(ledger: Path, assigned: set[str], excluded: set[str]) -> None:
    rows = pd.read_csv(ledger, dtype=str, keep_default_na=False)
    excl = pd.read_csv(sidecars(ledger)[1], dtype=str, keep_default_na=False)
    assert not rows[schema.CUSTOMER_ID].duplicated().any(), "a customer assigned twice"
    assert not excl[schema.CUSTOMER_ID].duplicated().any(), "a customer excluded twice"
    assert set(rows[schema.CUSTOMER_ID]) == assigned, "customers lost from the ledger"
    assert set(excl[schema.CUSTOMER_ID]) == excluded, "customers lost from the excluded list"
    check = verify_ledger(ledger, salt=SALT)
    assert check.integrity
    assert check.rows == len(assigned)


# ----------------------------------------------------------------------------- concurrency
@pytest.mark.parametrize(("n_procs", "start", "trials"), [
    (2, "grown", 2), (2, "empty", 2), (4, "grown", 1), (4, "empty", 1)])
def test_concurrent_runs_lose_and_duplicate_nobody(ctx, tmp_path, n_procs, start, trials):
    for trial in range(trials):
        d = tmp_path / f"t{trial}"
        d.mkdir()
        ledger = d / "ledger.csv"
        lists = []
        if start == "grown":
            lists.append(_write(d / "first.csv", range(600)))
            assert main(_argv(d / "first.csv", ledger)) == 0
        argvs = []
        for i in range(n_procs):
            # each run a grown list: overlapping, each with customers the others lack
            ids = range(300 * i, 600 + 500 * (i + 1) + 37 * trial)
            lists.append(_write(d / f"c{i}.csv", ids))
            argvs.append(_argv(d / f"c{i}.csv", ledger))
        results = _run_together(ctx, argvs, d)
        assert [s for s, _ in results] == [0] * n_procs, results
        _check_no_loss_no_duplicate(ledger, *_expected(lists))
        assert sorted(p.name for p in d.iterdir() if p.name.startswith(".")) == []


def test_a_run_that_cannot_wait_fails_with_one_clear_line(ctx, tmp_path):
    # --lock-timeout 0: a run that finds the lock held gives up at once; the ledger then holds
    # exactly what the runs that got the lock saw
    ledger = tmp_path / "ledger.csv"
    lists = [_write(tmp_path / f"c{i}.csv", range(200 * i, 2_000 + 200 * i)) for i in range(4)]
    results = _run_together(ctx, [_argv(tmp_path / f"c{i}.csv", ledger, "--lock-timeout", "0")
                                  for i in range(4)], tmp_path)
    ok = [i for i, (s, _) in enumerate(results) if s == 0]
    for status, err in results:
        assert status in (0, 2), err
        if status == 2:
            lines = [x for x in err.splitlines() if not x.startswith("warning: ")]
            assert lines == ["error: ledger.csv: another run is updating this ledger (it "
                             "holds ledger.csv.lock); gave up after waiting 0 s (try again "
                             "when it has finished, or wait longer with --lock-timeout / "
                             "lock_timeout=)"], err
    assert ok
    _check_no_loss_no_duplicate(ledger, *_expected([lists[i] for i in ok]))


def test_a_held_lock_times_out_naming_the_ledger(tmp_path, capsys):
    _write(tmp_path / "c.csv", range(50))
    ledger = tmp_path / "ledger.csv"
    with ledger_lock(resolve_ledger(ledger)):
        assert main(_argv(tmp_path / "c.csv", ledger, "--lock-timeout", "0.05")) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert err[0].startswith("error: ledger.csv: another run is updating this ledger")
    assert "gave up after waiting 0.05 s" in err[0]
    assert not ledger.exists()
    assert main(_argv(tmp_path / "c.csv", ledger)) == 0   # free again


# ----------------------------------------------------------------------------- kills
def _snapshot(ledger: Path) -> dict[str, bytes | None]:
    files = [ledger, *sidecars(ledger)]
    return {p.name: (p.read_bytes() if p.exists() else None) for p in files}


def _count_steps(ctx, argv: list[str], tmp: Path) -> int:
    report = tmp / "count.txt"
    p = ctx.Process(target=_child, args=(argv, str(report), None, -1))
    p.start()
    p.join(120)
    assert p.exitcode == 0
    return int(report.read_text(encoding="utf-8").split("\n")[1])


# The commit's 12 steps: flush the 3 staged files, flush the journal and the directory, rename
# the journal into place (the commit point), rename the 3 files, flush the directory, remove the
# journal, flush the directory. The benchmark kills before every step; here a spread of them.
@pytest.mark.parametrize(("start", "kill_steps"), [
    ("grown", (1, 5, 6, 7, 8, 9, 11, 12)), ("empty", (3, 6, 8, 10))])
def test_a_kill_at_any_step_of_the_write_leaves_the_old_or_the_new_set(ctx, tmp_path, start,
                                                                        kill_steps):
    base = tmp_path / "base"
    base.mkdir()
    _write(base / "first.csv", range(200))
    _write(base / "grown.csv", range(500))
    if start == "grown":
        assert main(_argv(base / "first.csv", base / "ledger.csv")) == 0
    old = _snapshot(base / "ledger.csv")
    ref = tmp_path / "ref"
    ref.mkdir()
    for name, data in old.items():
        if data is not None:
            (ref / name).write_bytes(data)
    assert main(_argv(base / "grown.csv", ref / "ledger.csv")) == 0
    new = _snapshot(ref / "ledger.csv")
    assert new != old
    steps = _count_steps(ctx, _argv(base / "grown.csv", ref / "again.csv"), tmp_path)
    assert steps == 12
    seen = {"old": 0, "new": 0}
    for k in kill_steps:
        d = tmp_path / f"k{k}"
        d.mkdir()
        for name, data in old.items():
            if data is not None:
                (d / name).write_bytes(data)
        ledger = d / "ledger.csv"
        report = d / "report.txt"
        p = ctx.Process(target=_child, args=(_argv(base / "grown.csv", ledger), str(report),
                                              None, k))
        p.start()
        p.join(120)
        assert p.exitcode == -signal.SIGKILL, (k, p.exitcode)
        real = resolve_ledger(ledger)
        with ledger_lock(real):
            recover(real)
        state = _snapshot(ledger)
        assert state in (old, new), f"kill at step {k}: a mix of old and new files"
        seen["old" if state == old else "new"] += 1
        assert [p.name for p in d.iterdir() if p.name.startswith(".")] == [], k
        if state == new or start == "grown":
            assert verify_ledger(ledger, salt=SALT).integrity
        if state == old:
            assert main(_argv(base / "grown.csv", ledger)) == 0   # the next run does the job
            assert _snapshot(ledger) == new, k
    assert seen["old"], seen   # the kills fell on both sides of the commit
    assert seen["new"], seen
