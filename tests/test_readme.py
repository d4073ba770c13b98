"""The README's commands, flags and Python names are the real ones.

Every ``frt ...`` command in the README (fenced shell blocks and inline code) must name
existing subcommands and flags of the argparse parser; every flag quoted on its own in prose
must exist on some ``frt`` subcommand (or on the benchmark script the sentence runs); every
``frt.<name>`` / ``frt_experiments.<name>`` must resolve (``frt.<key>`` may also be a key of a
scenario's ``[frt]`` table, which the simulation section quotes); every benchmark script and
``python -m`` module it names must exist. A renamed flag or function then fails here instead of
misleading a reader.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import re
import tomllib
from pathlib import Path

import pytest

import frt_experiments
from frt_experiments.cli import build_parser

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")

_FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.MULTILINE | re.DOTALL)
_FLAG = re.compile(r"--[a-z][a-z0-9-]*")
_BENCH = re.compile(r"benchmarks/(bench_\w+\.py)")


def _fenced() -> list[tuple[str, str]]:
    return [(m.group(1), m.group(2)) for m in _FENCE.finditer(README)]


def _inline() -> list[str]:
    prose = _FENCE.sub("", README)
    return [" ".join(s.split()) for s in re.findall(r"`([^`]+)`", prose)]


def _logical_lines(block: str) -> list[str]:
    return block.replace("\\\n", " ").splitlines()


def _frt_commands() -> list[str]:
    """Every ``frt ...`` invocation, as the text after ``frt``."""
    candidates = []
    for lang, body in _fenced():
        if lang in {"", "bash", "sh", "console"}:
            candidates += _logical_lines(body)
    candidates += _inline()
    commands = []
    for line in candidates:
        for part in line.split("&&"):
            text = part.split(" #")[0].strip()
            m = re.match(r"^(?:\S*/)?frt\s+(.*)$", text)
            if m:
                commands.append(m.group(1))
    return commands


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _all_parsers() -> list[argparse.ArgumentParser]:
    todo, seen = [build_parser()], []
    while todo:
        p = todo.pop()
        seen.append(p)
        todo += _subparsers(p).values()
    return seen


def _resolve(tokens: list[str]) -> tuple[argparse.ArgumentParser, list[str]]:
    """Walk subcommands as far as the tokens name them; return the parser and its path."""
    parser, path = build_parser(), []
    for token in tokens:
        choices = _subparsers(parser)
        if not choices:
            break
        assert token in choices, (
            f"README: 'frt {' '.join([*path, token])}': no such subcommand "
            f"(choices: {', '.join(choices)})"
        )
        parser, path = choices[token], [*path, token]
    return parser, path


def test_readme_quotes_frt_commands():
    # The scan itself must find the documented commands, else the checks below prove nothing.
    heads = {c.split()[0] for c in _frt_commands() if c.split()}
    assert {"demo", "validate", "power", "assign", "analyze", "decide", "simulate"} <= heads


@pytest.mark.parametrize("command", sorted(set(_frt_commands())))
def test_readme_frt_command_is_real(command):
    words = [w for w in re.split(r"[\s\[\]|]+", command) if w]
    leading = []
    for w in words:
        if w.startswith("-") or w == "...":
            break
        leading.append(w)
    parser, path = _resolve(leading)
    known = set(parser._option_string_actions)
    unknown = [f for f in (w.split("=")[0] for w in words if w.startswith("--"))
               if f not in known]
    assert not unknown, f"README: 'frt {' '.join(path)}' has no option(s) {unknown}"


def _benchmark_flags(script: str) -> set[str]:
    source = (ROOT / "benchmarks" / script).read_text(encoding="utf-8")
    return set(re.findall(r"add_argument\(\s*\"(--[a-z0-9-]+)\"", source))


def test_readme_benchmark_scripts_and_modules_exist():
    scripts = set(_BENCH.findall(README))
    assert scripts, "the README names no benchmark script"
    missing = sorted(s for s in scripts if not (ROOT / "benchmarks" / s).is_file())
    assert not missing, f"README names missing benchmark scripts {missing}"
    for module in re.findall(r"python -m ([\w.]+)", README):
        assert importlib.util.find_spec(module) is not None, f"README: no module {module}"


def test_readme_benchmark_flags_exist():
    for span in _inline() + [line for _, body in _fenced() for line in _logical_lines(body)]:
        m = _BENCH.search(span)
        if m and "python" in span:
            unknown = set(_FLAG.findall(span[m.end():])) - _benchmark_flags(m.group(1))
            assert not unknown, f"README: benchmarks/{m.group(1)} has no option(s) {unknown}"


def test_readme_prose_flags_exist():
    """A flag quoted on its own (`--format parquet`) exists on some command or benchmark."""
    known = {f for p in _all_parsers() for f in p._option_string_actions}
    for script in {p.name for p in (ROOT / "benchmarks").glob("bench_*.py")}:
        known |= _benchmark_flags(script)
    quoted = {f for span in _inline() if span.startswith("--") for f in _FLAG.findall(span)}
    assert quoted, "the scan found no flags quoted in prose"
    assert not quoted - known, f"README quotes unknown flags {sorted(quoted - known)}"


def _scenario_frt_keys() -> set[str]:
    path = ROOT / "frt_experiments" / "scenarios" / "published.toml"
    return set(tomllib.loads(path.read_text(encoding="utf-8"))["frt"])


def test_readme_python_names_exist():
    python = "\n".join(body for lang, body in _fenced() if lang == "python")
    text = python + "\n" + "\n".join(_inline())
    names = set(re.findall(r"\bfrt\.([A-Za-z_]\w*)", text))
    names -= _scenario_frt_keys()
    missing = sorted(n for n in names if not hasattr(frt_experiments, n))
    assert not missing, f"README uses frt.<name> that the package lacks: {missing}"
    for line in re.findall(r"from frt_experiments import ([\w, ]+)", python):
        for name in (n.strip() for n in line.split(",")):
            assert name in frt_experiments.__all__, f"README imports missing {name}"
    for dotted in set(re.findall(r"\bfrt_experiments((?:\.\w+)+)", text)):
        # A subpackage wins over a same-named function (frt_experiments.simulate is both).
        parts = dotted.strip(".").split(".")
        obj: object = frt_experiments
        for i, part in enumerate(parts):
            module = "frt_experiments." + ".".join(parts[: i + 1])
            if hasattr(obj, "__path__") and importlib.util.find_spec(module):
                obj = importlib.import_module(module)
            else:
                assert hasattr(obj, part), f"README: frt_experiments{dotted} does not exist"
                obj = getattr(obj, part)
