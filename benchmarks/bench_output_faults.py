"""Benchmark: every multi-file output command under SIGKILLs (the long version of
``tests/test_output_sets.py``).

Each command runs as a real ``frt`` process over the complete set of an earlier run with other
files (another seed; for ``frt simulate`` another format, for ``frt analyze`` an earlier
``sequential.csv``, for ``frt staffing plan`` an earlier ``headcount.csv``, files the new run
does not write and must remove):

- **Kills at each step**: the run SIGKILLs itself before each ``os.fsync``, ``os.replace`` and
  ``os.unlink`` it makes (every step of its commit), once per step.
- **Kills at random times**: the parent SIGKILLs the run at a uniformly random moment of its
  work (after the interpreter has imported the toolkit).

A trial fails if, after the kill, the visible files are a mix of the old and new sets while no
commit is in progress, or readers (``check_manifest``) accept a directory whose commit was
interrupted; if recovery (what the next run does first) leaves anything but exactly the old
set or exactly the new one, byte for byte, with no temporary file; or if the next run does not
give the new set (and, for ``frt simulate``, ``frt validate`` does not pass).

Before this design (issue 21) a kill between files left a mixed set in 5 of 8 ``frt simulate``
and 4 of 8 ``frt analyze`` runs.

Run: ``python benchmarks/bench_output_faults.py [--trials N] [--customers N]
[--commands simulate,analyze,desk,plan]``.
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
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from frt_experiments._commands.analyze import OUTPUTS as ANALYZE_OUTPUTS
from frt_experiments._outputs import JOURNAL, _directory_lock, check_manifest, recover
from frt_experiments.cli import main as cli_main
from frt_experiments.plan import ExperimentPlan, write_plan
from frt_experiments.simulate.trial import OUTPUTS as SIMULATE_OUTPUTS

CHILD = r"""
import os, signal, sys
kill_at = int(sys.argv[1])
from frt_experiments.cli import main
import frt_experiments.analysis, frt_experiments.simulate, frt_experiments.staffing
import matplotlib.pyplot
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
sys.stdout = open(os.devnull, "w")
status = main(sys.argv[2:])
sys.stdout = sys.__stdout__
print(f"steps {calls[0]}", flush=True)
sys.exit(status)
"""

TABLES = ("customers", "conversations", "assignments")


def _quiet(argv: list[str]) -> int:
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        return cli_main(argv)


def _files(d: Path) -> dict[str, bytes]:
    return {p.relative_to(d).as_posix(): p.read_bytes() for p in sorted(d.rglob("*"))
            if p.is_file()} if d.exists() else {}


def _start(argv: list[str], kill_at: int = 0) -> subprocess.Popen[str]:
    p = subprocess.Popen([sys.executable, "-c", CHILD, str(kill_at), *argv], text=True,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert p.stdout is not None
    p.stdout.readline()   # "start": the toolkit is imported
    return p


@dataclass
class Command:
    name: str
    names: tuple[str, ...]
    old: list[str]
    new: list[str]
    root: Path
    old_set: dict[str, bytes] = field(default_factory=dict)
    new_set: dict[str, bytes] = field(default_factory=dict)

    def argv(self, base: list[str], out: Path) -> list[str]:
        i = base.index("--out")
        return [*base[:i + 1], str(out), *base[i + 2:]]

    def prepare(self) -> None:
        for which, base in (("old", self.old), ("new", self.new)):
            status = _quiet(self.argv(base, self.root / which))
            if status != 0:
                raise SystemExit(f"{self.name}: the {which} run failed (exit {status})")
        self.old_set, self.new_set = _files(self.root / "old"), _files(self.root / "new")

    def fresh(self, d: Path) -> list[str]:
        shutil.copytree(self.root / "old", d)
        return self.argv(self.new, d)

    def judge(self, d: Path) -> tuple[str, str]:
        """(where the kill fell: old, commit or new; the failure, or "")."""
        listed = [d / n for n in self.names if (d / n).exists()]
        where = "commit" if (d / JOURNAL).exists() else ""
        if where and not check_manifest(listed):
            return where, "readers accepted a directory whose commit was interrupted"
        if not where:
            visible = {k: v for k, v in _files(d).items()
                       if not k.split("/")[-1].startswith(".")}
            if visible not in (self.old_set, self.new_set):
                return "mixed", "the visible files are a mix of the old and new sets"
        with _directory_lock(d, shared=False, timeout=30):
            recover(d, self.names)
        state = _files(d)
        if state not in (self.old_set, self.new_set):
            extra = sorted(set(state) - set(self.old_set) - set(self.new_set))
            return where or "?", f"recovery left a mix (extra files {extra})"
        where = where or ("old" if state == self.old_set else "new")
        if _quiet(self.argv(self.new, d)) != 0 or _files(d) != self.new_set:
            return where, "the next run did not give the new set"
        if self.name == "simulate" and _quiet(
                ["validate", *(a for t in TABLES for a in (f"--{t}", str(d / f"{t}.parquet")))]):
            return where, "frt validate refused the new set"
        return where, ""


def commands(root: Path, customers: int, chosen: list[str]) -> list[Command]:
    sims = []
    for seed in (1, 2):
        d = root / f"sim{seed}"
        if _quiet(["simulate", "--customers", str(customers), "--months", "1", "--seed",
                   str(seed), "--no-progress", "--out", str(d)]) != 0:
            raise SystemExit("the input trial could not be simulated")
        sims.append(d)
    plan = root / "plan.toml"
    write_plan(ExperimentPlan(name="bench", looks=3), plan)

    def simulate(seed: int, fmt: str) -> list[str]:
        return ["simulate", "--customers", str(customers), "--months", "1", "--seed",
                str(seed), "--format", fmt, "--no-progress", "--out", "x"]

    def tables(d: Path) -> list[str]:
        return [a for t in TABLES for a in (f"--{t}", str(d / f"{t}.csv"))]

    def desk(d: Path, agents: int) -> list[str]:
        return ["staffing", "desk", "--conversations", str(d / "conversations.csv"),
                "--assignments", str(d / "assignments.csv"), "--agents", str(agents),
                "--seed", "1", "--out", "x"]

    def staffing_plan(d: Path, *extra: str) -> list[str]:
        return ["staffing", "plan", "--conversations", str(d / "conversations.csv"),
                "--assignments", str(d / "assignments.csv"), "--weeks", "1", "--targets",
                "2,8", "--seed", "1", "--out", "x", *extra]

    analyze = ["analyze", "--inference", "normal", "--no-diagnostics", "--out", "x"]
    all_commands = {
        "simulate": (SIMULATE_OUTPUTS, simulate(1, "csv"), simulate(2, "parquet")),
        "analyze": (ANALYZE_OUTPUTS, [*analyze, *tables(sims[0]), "--plan", str(plan)],
                    [*analyze, *tables(sims[1])]),
        "desk": (("desk_summary.csv", "backlog.csv"), desk(sims[0], 3), desk(sims[1], 4)),
        "plan": (("staffing_plan.csv", "staffing_curve.csv", "headcount.csv", "decision.md"),
                 staffing_plan(sims[0], "--months", "2"), staffing_plan(sims[1])),
    }
    out = []
    for name in chosen:
        names, old, new = all_commands[name]
        (root / name).mkdir()
        c = Command(name, names, old, new, root / name)
        c.prepare()
        out.append(c)
    return out


def kill_at_steps(c: Command, root: Path) -> tuple[int, dict[str, int], list[str]]:
    d = root / f"{c.name}-count"
    p = _start(c.fresh(d), -1)
    out, err = p.communicate()
    if p.returncode != 0:
        raise SystemExit(f"{c.name}: the counting run failed: {err.strip()[-300:]}")
    steps = int(out.split()[-1])
    seen = {"old": 0, "commit": 0, "new": 0}
    failures = []
    for k in range(1, steps + 1):
        d = root / f"{c.name}-k{k}"
        p = _start(c.fresh(d), k)
        p.communicate()
        if p.returncode != -signal.SIGKILL:
            failures.append(f"step {k}: exit {p.returncode}, not killed")
            continue
        where, failure = c.judge(d)
        seen[where] = seen.get(where, 0) + 1
        if failure:
            failures.append(f"step {k}: {failure}")
        shutil.rmtree(d)
    return steps, seen, failures


def kill_at_random(c: Command, root: Path, trials: int, rng: np.random.Generator
                   ) -> tuple[dict[str, int], list[str]]:
    d = root / f"{c.name}-timing"
    p = _start(c.fresh(d))
    started = time.perf_counter()
    assert p.stdout is not None
    p.stdout.readline()   # "steps N": the work is done (the interpreter's exit is not timed)
    took = time.perf_counter() - started
    p.communicate()
    seen = {"old": 0, "commit": 0, "new": 0, "finished": 0}
    failures = []
    for t in range(trials):
        d = root / f"{c.name}-r{t}"
        p = _start(c.fresh(d))
        time.sleep(float(rng.uniform(0, took)))
        with contextlib.suppress(ProcessLookupError):
            os.kill(p.pid, signal.SIGKILL)
        p.communicate()
        if p.returncode == 0:
            seen["finished"] += 1
        where, failure = c.judge(d)
        seen[where] = seen.get(where, 0) + 1
        if failure:
            failures.append(f"trial {t}: {failure}")
        shutil.rmtree(d)
    return seen, failures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=100,
                        help="random kills per command (default 100)")
    parser.add_argument("--customers", type=int, default=3_000,
                        help="customers of the simulated trials (default 3000)")
    parser.add_argument("--commands", default="simulate,analyze,desk,plan",
                        help="commands to kill (default simulate,analyze,desk,plan)")
    parser.add_argument("--seed", type=int, default=21, help="seed of the kill times")
    args = parser.parse_args()
    chosen = [c.strip() for c in args.commands.split(",") if c.strip()]
    rng = np.random.default_rng(args.seed)
    total_trials = total_failures = 0
    with tempfile.TemporaryDirectory(prefix="frt-output-faults-") as tmp:
        root = Path(tmp)
        for c in commands(root, args.customers, chosen):
            steps, seen, failures = kill_at_steps(c, root)
            print(f"{c.name:9s} kills at each step: {steps} trials, {len(failures)} failures "
                  f"(recovered to old {seen['old']}, rolled forward from the commit "
                  f"{seen['commit']}, new {seen['new']})", flush=True)
            total_trials += steps
            total_failures += len(failures)
            for f in failures[:5]:
                print(f"    {f}")
            seen, failures = kill_at_random(c, root, args.trials, rng)
            print(f"{c.name:9s} kills at random times: {args.trials} trials, {len(failures)} "
                  f"failures (old {seen['old']}, mid-commit {seen['commit']}, new "
                  f"{seen['new']}; {seen['finished']} finished before the kill)", flush=True)
            total_trials += args.trials
            total_failures += len(failures)
            for f in failures[:5]:
                print(f"    {f}")
    print(f"total: {total_trials} trials, {total_failures} failures")
    return 1 if total_failures else 0


if __name__ == "__main__":
    sys.exit(main())
