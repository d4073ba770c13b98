"""``frt`` answers at once, stops cleanly on Ctrl-C and logs progress in plain lines (issue 20).

- ``frt --version``, ``--help``, ``frt <command> --help`` and an argument error import none of
  pandas, SciPy, statsmodels, Matplotlib, DuckDB, Ibis, pyarrow or NumPy (checked with
  ``python -X importtime`` as the issue asks, and on ``sys.modules`` after the run, which also
  sees modules imported through ``importlib``);
- the median wall time of three ``frt --version`` runs stays under a generous bound
  (:data:`VERSION_BOUND_S`, for loaded CI machines); benchmarks/bench_cli_startup.py prints the
  real figures against the 0.3 s goal;
- the lazy namespace (PEP 562) exports every name of ``__all__``, and its three lists (the
  ``__all__``, the name -> module map and the static imports for type checkers) agree;
- Ctrl-C at any moment is ``frt: interrupted`` and status 130, no traceback, checked on a real
  process group receiving SIGINT as a terminal sends it;
- progress written to a file or a pipe is a few whole lines, never carriage-return frames.
"""

from __future__ import annotations

import ast
import importlib
import io
import json
import os
import signal
import statistics
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

import frt_experiments
from frt_experiments import cli
from frt_experiments._progress import PlainProgress, progress_bar

ROOT = Path(__file__).resolve().parent.parent

#: Libraries the parsers must not import: the figures of issue 20 (2.6-3.0 s of CPU) were theirs.
HEAVY = ("matplotlib", "scipy", "statsmodels", "duckdb", "ibis", "pandas", "pyarrow", "numpy",
         "sqlglot", "tqdm")

#: The test's bound on the median wall time of ``frt --version`` (goal 0.3 s; the issue's
#: figure before the change 2.6-3.0 s of CPU). Generous: CI machines are shared and loaded.
VERSION_BOUND_S = 1.5

#: Command lines that must answer without the heavy libraries, and their exit status.
FAST_COMMANDS = [
    (["--version"], 0),
    (["--help"], 0),
    (["analyze", "--help"], 0),
    (["staffing", "plan", "--help"], 0),
    (["demo", "--help"], 0),
    (["analyze", "--no-such-option"], 2),
    (["no-such-command"], 2),
    ([], 0),
]

_RUN_AND_LIST_MODULES = textwrap.dedent("""
    import json, sys
    from frt_experiments.cli import main
    status = main(sys.argv[1:])
    print(json.dumps({"status": status, "modules": sorted(sys.modules)}), file=sys.stderr)
""")


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("FRT_DEBUG", None)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def _heavy(modules: list[str]) -> list[str]:
    return sorted({m for m in modules if m.split(".")[0] in HEAVY})


def test_version_under_importtime_imports_no_heavy_library():
    proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "frt_experiments.cli",
                           "--version"], capture_output=True, text=True, env=_env(),
                          cwd=ROOT, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == f"frt {frt_experiments.__version__}"
    imported = [line.rsplit("|", 1)[1].strip() for line in proc.stderr.splitlines()
                if line.startswith("import time:") and "|" in line]
    assert "frt_experiments" in imported  # the report is the one the issue reads
    assert not _heavy(imported), _heavy(imported)


@pytest.mark.parametrize(("argv", "status"), FAST_COMMANDS, ids=lambda a: " ".join(a)
                         if isinstance(a, list) else None)
def test_parsers_import_no_heavy_library(argv, status):
    proc = subprocess.run([sys.executable, "-c", _RUN_AND_LIST_MODULES, *argv],
                          capture_output=True, text=True, env=_env(), cwd=ROOT, timeout=60,
                          check=False)
    last = proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else ""
    if last.startswith("{"):
        report = json.loads(last)
    else:  # --version and --help exit inside argparse: the same check in-process below
        assert proc.returncode == status, proc.stderr[-2000:]
        report = _modules_after_exit(argv)
    assert report["status"] == status, proc.stderr[-2000:]
    assert not _heavy(report["modules"]), _heavy(report["modules"])
    assert "Traceback" not in proc.stderr


def _modules_after_exit(argv: list[str]) -> dict:
    code = textwrap.dedent("""
        import json, sys
        from frt_experiments.cli import main
        try:
            status = main(sys.argv[1:])
        except SystemExit as exc:
            status = exc.code or 0
        print(json.dumps({"status": status, "modules": sorted(sys.modules)}))
    """)
    proc = subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True,
                          env=_env(), cwd=ROOT, timeout=60, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_version_answers_within_the_time_budget():
    """Median of three runs; the benchmark prints the real figure (under 0.3 s unloaded)."""
    times = []
    for _ in range(3):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "frt_experiments.cli", "--version"],
                       capture_output=True, env=_env(), cwd=ROOT, timeout=60, check=True)
        times.append(time.perf_counter() - start)
    assert statistics.median(times) < VERSION_BOUND_S, times


# -- the lazy namespace ------------------------------------------------------------------------


def _fresh(code: str) -> str:
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                          text=True, env=_env(), cwd=ROOT, timeout=120, check=True)
    return proc.stdout.strip()


def test_importing_the_package_loads_no_submodule():
    out = _fresh("""
        import sys
        import frt_experiments
        print(sorted(m for m in sys.modules if m.startswith("frt_experiments.")))
        print(sorted({m.split(".")[0] for m in sys.modules}))
    """)
    ours, roots = out.splitlines()
    assert ours == "['frt_experiments._version']"
    assert not _heavy(ast.literal_eval(roots))


def test_every_exported_name_imports_from_the_package():
    """``from frt_experiments import X`` for each X of ``__all__``, in a fresh interpreter (in
    this one earlier tests have imported the modules already)."""
    out = _fresh("""
        import frt_experiments
        names = list(frt_experiments.__all__)
        for name in names:
            exec(f"from frt_experiments import {name}")
        print(len(names))
    """)
    assert int(out) == len(frt_experiments.__all__)
    for name in frt_experiments.__all__:
        assert getattr(frt_experiments, name) is not None, name
        assert name in dir(frt_experiments), name


def test_the_lazy_map_the_all_and_the_static_imports_agree():
    """Registering a public name takes three lines in frt_experiments/__init__.py: its entry in
    ``__all__``, in ``_EXPORTS`` (name -> module) and in the ``TYPE_CHECKING`` imports."""
    tree = ast.parse((ROOT / "frt_experiments" / "__init__.py").read_text(encoding="utf-8"))
    static: dict[str, str] = {}
    for node in ast.walk(tree):
        if (isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)):
            for imp in node.body:
                assert isinstance(imp, ast.ImportFrom), ast.unparse(imp)
                for alias in imp.names:
                    static[alias.asname or alias.name] = str(imp.module)
    static.pop("plotting")  # a submodule, as frt.plotting (not in __all__)
    exports = frt_experiments._EXPORTS
    assert static == exports
    assert set(exports) | {"__version__"} == set(frt_experiments.__all__)
    for name, module in exports.items():
        assert getattr(importlib.import_module(module), name) is getattr(frt_experiments, name)


def test_functions_named_like_their_submodules_stay_functions():
    """``frt_experiments.simulate`` and ``frt_experiments.dose_response`` are both a submodule
    and a function; importing the submodule first must not replace the function."""
    out = _fresh("""
        import frt_experiments.simulate.trial
        import frt_experiments.dose_response
        import frt_experiments as frt
        print(callable(frt.simulate), callable(frt.dose_response), frt.simulate.__module__)
    """)
    assert out == "True True frt_experiments.simulate.trial"


def test_submodules_and_unknown_names():
    assert frt_experiments.plotting.__name__ == "frt_experiments.plotting"
    with pytest.raises(AttributeError, match="has no attribute 'no_such_name'"):
        _ = frt_experiments.no_such_name


def test_the_parsers_names_equal_their_sources():
    from frt_experiments import decision, ledger, schema, sql
    from frt_experiments._commands import _names
    from frt_experiments.ingest import _common, calls
    from frt_experiments.simulate import PRESETS
    from frt_experiments.staffing import plan

    assert _names.PRESETS == PRESETS
    assert (_names.CUSTOMER_ID, _names.ARM) == (schema.CUSTOMER_ID, schema.ARM)
    assert (_names.CONTROL_ARM, _names.TREATMENT_ARM) == (schema.CONTROL_ARM,
                                                          schema.TREATMENT_ARM)
    assert _names.TRUST_FILE == decision.TRUST_FILE
    assert _names.DEFAULT_LOCK_TIMEOUT == ledger.DEFAULT_LOCK_TIMEOUT
    assert _names.DIALECTS == sql.DIALECTS
    assert tuple(calls.CALL_FIELDS) == _names.CALL_FIELD_NAMES
    assert _names.BILLING_KEYS == _common.BILLING_KEYS
    assert (_names.EVERYONE_FAST, _names.POLICIES) == (plan.EVERYONE_FAST, plan.POLICIES)


# -- Ctrl-C ------------------------------------------------------------------------------------


def _frt() -> list[str]:
    script = Path(sys.executable).with_name("frt")
    return [str(script)] if script.exists() else [sys.executable, "-m", "frt_experiments.cli"]


#: Runs its arguments with SIGINT at its default disposition (kept across exec).
_WITH_DEFAULT_SIGINT = [sys.executable, "-c", "import os, signal, sys; "
                        "signal.signal(signal.SIGINT, signal.SIG_DFL); "
                        "os.execv(sys.argv[1], sys.argv[1:])"]


def _interrupt(argv: list[str], *, after: float | None = None, when_line: str | None = None,
               tmp_path: Path) -> tuple[int, str]:
    """Start ``frt argv`` in its own process group, send SIGINT to the group (as a terminal's
    Ctrl-C does) ``after`` seconds or once stderr shows ``when_line``; its status and stderr.

    The child gets SIGINT's default disposition, as a process started from a terminal has: a
    test run started as a shell's background job (``pytest ... &``) inherits SIGINT ignored,
    and Python then leaves it ignored (as it should: the shell asked for that)."""
    proc = subprocess.Popen([*_WITH_DEFAULT_SIGINT, *_frt(), *argv], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True, env=_env(), cwd=tmp_path,
                            start_new_session=True)
    seen = ""
    try:
        if when_line is not None:
            assert proc.stderr is not None
            while when_line not in seen:
                line = proc.stderr.readline()
                assert line, f"frt ended before {when_line!r}: {seen}"
                seen += line
        else:
            time.sleep(after or 0.0)
        assert proc.poll() is None, f"frt ended before the interrupt: {seen}"
        os.killpg(proc.pid, signal.SIGINT)
        _, rest = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return proc.returncode, seen + rest


DEMO = ["demo", "--customers", "200000", "--out", "demo-out"]


def test_ctrl_c_while_running_is_one_line_and_status_130(tmp_path):
    status, err = _interrupt([*DEMO, "--no-progress"], after=1.0, tmp_path=tmp_path)
    assert (status, err) == (130, "frt: interrupted\n")
    assert not (tmp_path / "demo-out").exists()  # nothing half-written


def test_ctrl_c_during_the_progress_log(tmp_path):
    """Stderr is a pipe here: the progress is plain lines; Ctrl-C mid-run adds one line."""
    status, err = _interrupt(DEMO, when_line="frt demo: started", tmp_path=tmp_path)
    assert status == 130, err
    assert "Traceback" not in err
    assert "\r" not in err
    lines = err.splitlines()
    assert lines[0] == "frt demo: started, 6 stages"
    assert lines[-1] == "frt: interrupted"
    assert sum("interrupted" in line for line in lines) == 1


def test_main_reports_ctrl_c_while_importing_a_command(monkeypatch, capsys):
    monkeypatch.delenv("FRT_DEBUG", raising=False)
    def interrupted(name: str) -> object:
        raise KeyboardInterrupt

    monkeypatch.setattr(cli.importlib, "import_module", interrupted)
    assert cli.main(["--version"]) == 130
    assert capsys.readouterr().err == "frt: interrupted\n"


def test_main_reports_ctrl_c_while_running(monkeypatch, capsys):
    monkeypatch.delenv("FRT_DEBUG", raising=False)
    from frt_experiments._commands import validate

    def interrupted(args: object) -> int:
        raise KeyboardInterrupt

    monkeypatch.setattr(validate, "run", interrupted)
    assert cli.main(["validate", "--customers", "c.csv"]) == 130
    assert capsys.readouterr().err == "frt: interrupted\n"


def test_ctrl_c_in_debug_mode_shows_where_it_stopped(monkeypatch):
    monkeypatch.setenv("FRT_DEBUG", "1")

    def interrupted(name: str) -> object:
        raise KeyboardInterrupt

    monkeypatch.setattr(cli.importlib, "import_module", interrupted)
    with pytest.raises(KeyboardInterrupt):
        cli.main(["--version"])


def test_the_entry_point_exits_130_on_a_second_interrupt(monkeypatch, capsys):
    monkeypatch.delenv("FRT_DEBUG", raising=False)
    def interrupted(argv: object = None) -> int:
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "main", interrupted)
    with pytest.raises(SystemExit) as exc:
        cli.run()
    assert exc.value.code == 130


# -- progress in a log -------------------------------------------------------------------------


class _Clock:
    def __init__(self, step: float) -> None:
        self.now, self.step = 0.0, step

    def __call__(self) -> float:
        self.now += self.step
        return self.now


def test_plain_progress_writes_few_whole_lines():
    out = io.StringIO()
    bar = PlainProgress(1000, desc="simulate", unit="customer", file=out, clock=_Clock(0.001))
    for _ in range(1000):
        bar.update()
    bar.close()
    lines = out.getvalue().splitlines()
    assert "\r" not in out.getvalue()
    assert lines == ["simulate: started, 1000 customers", "simulate: 250/1000 customers, 0 s",
                     "simulate: 500/1000 customers, 1 s", "simulate: 750/1000 customers, 1 s",
                     "simulate: done, 1000/1000 customers in 1.0 s"]


def test_plain_progress_adds_a_line_at_most_every_few_seconds():
    """Slow steps: a line per ``every`` seconds between quarters, so lines <= 2 + 4 + t/every."""
    out = io.StringIO()
    clock = _Clock(3.0)  # each clock reading 3 s later: updates every 3 s
    bar = PlainProgress(100, desc="desk", file=out, every=10.0, clock=clock)
    for _ in range(100):
        bar.update()
    bar.close()
    lines = out.getvalue().splitlines()
    elapsed = clock.now
    assert len(lines) <= 2 + 4 + elapsed / 10.0
    assert len(lines) >= elapsed / 10.0 / 2  # it does report between quarters
    assert lines[-1].startswith("desk: done, 100/100 steps")


def test_plain_progress_stopped_early_writes_no_closing_line():
    out = io.StringIO()
    bar = PlainProgress(6, desc="frt demo", unit="stage", file=out, clock=_Clock(0.1))
    bar.update()
    bar.set_description("frt demo: analyse")
    bar.update()
    bar.close()
    assert out.getvalue().splitlines() == ["frt demo: started, 6 stages",
                                           "frt demo: analyse: 2/6 stages, 0 s"]


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_bar_chooses_by_where_it_writes():
    assert isinstance(progress_bar(total=3, desc="x", file=io.StringIO()), PlainProgress)
    tty = progress_bar(total=3, desc="x", file=_Terminal())
    assert type(tty).__name__ == "tqdm"
    tty.close()
    silent = progress_bar(total=3, desc="x", enabled=False, file=io.StringIO())
    silent.update()
    silent.close()
    assert not isinstance(silent, PlainProgress)
