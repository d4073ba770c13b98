"""Fuzzing every file reader of ``frt`` (issue 21, part 3): bad input is exit 2 and a message
naming the file, never an internal error (exit 1) and never a traceback.

Each test mutates a valid file of one entry point (random bytes, truncation, a stray quote,
deep nesting, a huge field, another encoding, an impossible year, a flipped byte) and runs
``main(argv)`` in process. The fast budget (a few dozen examples per entry point, derandomized
so every run sees the same inputs) runs in CI; ``-m slow`` runs ten times as many.

The contract checked: exit 0 or 2; on 2, every error line starts ``error:``, names the file
(one line per problem: a table with two broken columns gives two lines), and is short (a
megabyte value is shortened); no ``internal error`` and no traceback, whatever the input.
"""

from __future__ import annotations

import io
import shutil
from collections.abc import Callable
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from frt_experiments.cli import main

FIX = Path(__file__).resolve().parent / "fixtures"

#: Examples per entry point: the fast budget (CI) and the slow one (``-m slow``).
FAST, SLOW = 25, 100
#: The longest error line accepted (values in messages are shortened to 80 characters).
MAX_LINE = 1_000

# a failing example may be a megabyte file: Hypothesis warns before printing it
pytestmark = pytest.mark.filterwarnings("ignore:Generating overly large repr")

BUDGETS = [pytest.param(FAST, id="fast"), pytest.param(SLOW, id="slow", marks=pytest.mark.slow)]


def run_cli(argv: list[str]) -> tuple[int, str]:
    """``main(argv)`` in process: the exit status and what it printed on stderr."""
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        status = main(argv)
    return status, err.getvalue()


def check_outcome(status: int, err: str, names: tuple[str, ...]) -> None:
    """Exit 0, or exit 2 with error lines that each name one of the input ``names``."""
    assert status in (0, 2), f"exit {status}:\n{err[:2000]}"
    assert "Traceback" not in err, err[:2000]
    assert "internal error" not in err, err[:2000]
    if status == 2:
        errors = [line for line in err.splitlines()
                  if not line.startswith(("warning: ", "note: "))]
        assert errors, "exit 2 without a message"
        for line in errors:
            assert line.startswith("error: "), line[:300]
            assert any(n in line for n in names), f"names none of {names}: {line[:300]}"
            assert len(line) <= MAX_LINE, f"{len(line)} characters: {line[:300]}"


def fuzz(strategy: st.SearchStrategy[Any], check: Callable[[Any], None], examples: int) -> None:
    """Run ``check`` on ``examples`` derandomized draws of ``strategy``."""

    @settings(max_examples=examples, deadline=None, derandomize=True, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                     HealthCheck.large_base_example])
    @given(strategy)
    def inner(value: Any) -> None:
        check(value)

    inner()


# ----------------------------------------------------------------------------- mutations
YEARS = ["9999", "0001", "1677", "2262", "2263", "10000", "0000", "1000", "-001"]


@st.composite
def mutated(draw: st.DrawFn, seed: bytes, *, nest: bytes = b"[", close: bytes = b"]"
            ) -> bytes:
    """``seed`` with one to three mutations, or random bytes."""
    if draw(st.integers(0, 9)) == 0:
        return draw(st.binary(max_size=2_000))
    data = seed
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["truncate", "quote", "nest", "huge", "encoding", "year",
                                     "flip", "insert", "delete_line", "duplicate_line"]))
        at = draw(st.integers(0, max(len(data), 1)))
        if kind == "truncate":
            data = data[:at]
        elif kind == "quote":
            data = data[:at] + b'"' + data[at:]
        elif kind == "nest":
            depth = draw(st.sampled_from([3, 63, 65, 300, 3_000, 50_000]))
            data = data[:at] + nest * depth + close * depth + data[at:]
        elif kind == "huge":
            size = draw(st.sampled_from([200, 70_000, 200_000, 1_100_000]))
            data = data[:at] + draw(st.sampled_from([b"9", b"x", b"2025-"])) * size + data[at:]
        elif kind == "encoding":
            text = data.decode("utf-8", errors="replace")
            data = draw(st.sampled_from([
                lambda t: t.encode("utf-16"), lambda t: t.encode("utf-16-le"),
                lambda t: ("é" + t).encode("latin-1", errors="replace"),
                lambda t: b"\xef\xbb\xbf" + t.encode("utf-8"),
                lambda t: t.replace("\n", "\r").encode("utf-8"),
                lambda t: t.encode("utf-8") + b"\xff\xfe\x80",
            ]))(text)
        elif kind == "year":
            data = data.replace(b"2025", draw(st.sampled_from(YEARS)).encode(),
                                draw(st.integers(1, 5)))
        elif kind == "flip" and data:
            i = min(at, len(data) - 1)
            data = data[:i] + bytes([data[i] ^ draw(st.integers(1, 255))]) + data[i + 1:]
        elif kind == "insert":
            data = data[:at] + draw(st.binary(min_size=1, max_size=20)) + data[at:]
        elif kind == "delete_line":
            lines = data.split(b"\n")
            if len(lines) > 1:
                del lines[draw(st.integers(0, len(lines) - 1))]
            data = b"\n".join(lines)
        elif kind == "duplicate_line":
            lines = data.split(b"\n")
            i = draw(st.integers(0, len(lines) - 1))
            data = b"\n".join([*lines[:i + 1], lines[i], *lines[i + 1:]])
    return data


# ----------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def trial(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small valid trial; its tables cut to their first 25 rows are the CSV seeds."""
    root = tmp_path_factory.mktemp("fuzz")
    status, err = run_cli(["simulate", "--customers", "300", "--months", "1", "--seed", "5",
                           "--no-progress", "--out", str(root / "good")])
    assert status == 0, err
    for name in ("customers", "conversations", "assignments"):
        lines = (root / "good" / f"{name}.csv").read_bytes().split(b"\n")
        (root / f"{name}_seed.csv").write_bytes(b"\n".join(lines[:25]) + b"\n")
    (root / "plan.toml").write_text(
        '[experiment]\nname = "frt-low-spend"\nalpha = 0.05\nalternative = "two-sided"\n\n'
        "[margins]\ncsat = -0.02\nnrr = 0.01\n\n"
        '[monitoring]\nlooks = 2\nspending = "obrien-fleming"\ninformation = [0.5, 1.0]\n\n'
        "[design]\npower = 0.8\nn_per_arm = 1000\nmonths = 1.0\n\n"
        "[weights]\nfast = 0.5\none_business_day = 0.5\n")
    return root


def _work(trial: Path, name: str) -> Path:
    work = trial / "work" / name
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    return work


# ----------------------------------------------------------------------------- frt validate
VALIDATE_CSV = [
    pytest.param(table, budget, id=f"{table}-{label}", marks=[
        *([pytest.mark.slow] if label == "slow" else [])])
    for label, budget in (("fast", FAST), ("slow", SLOW))
    for table in ("customers", "conversations", "assignments")]


@pytest.mark.parametrize(("table", "budget"), VALIDATE_CSV)
def test_validate_csv_never_fails_internally(trial: Path, table: str, budget: int) -> None:
    seed = (trial / f"{table}_seed.csv").read_bytes()

    def check(data: bytes) -> None:
        path = _work(trial, f"validate-{table}") / f"{table}.csv"
        path.write_bytes(data)
        status, err = run_cli(["validate", f"--{table}", str(path)])
        check_outcome(status, err, (path.name,))

    fuzz(mutated(seed), check, budget)


#: Arrow types a fuzzed Parquet column may have: flat ones, and nested ones (refused by name).
def _arrow_column(draw: st.DrawFn, n: int) -> pa.Array:
    kind = draw(st.sampled_from(["text", "int", "float", "bool", "null", "ts", "naive_ts",
                                 "list", "struct", "huge_int"]))
    if kind == "text":
        return pa.array(draw(st.lists(st.one_of(st.none(), st.text(max_size=12),
                                                st.sampled_from(["2025-01-06T09:00:00Z",
                                                                 "9999-01-01T00:00:00Z"])),
                                      min_size=n, max_size=n)), pa.string())
    if kind == "int":
        return pa.array(draw(st.lists(st.integers(-2**63, 2**63 - 1), min_size=n, max_size=n)),
                        pa.int64())
    if kind == "huge_int":
        return pa.array(draw(st.lists(st.integers(0, 2**64 - 1), min_size=n, max_size=n)),
                        pa.uint64())
    if kind == "float":
        return pa.array(draw(st.lists(st.floats(allow_nan=True, allow_infinity=True),
                                      min_size=n, max_size=n)), pa.float64())
    if kind == "bool":
        return pa.array(draw(st.lists(st.booleans(), min_size=n, max_size=n)), pa.bool_())
    if kind == "null":
        return pa.nulls(n)
    if kind in ("ts", "naive_ts"):
        unit = draw(st.sampled_from(["s", "ms", "us", "ns"]))
        tz = "UTC" if kind == "ts" else None
        years = draw(st.lists(st.sampled_from([1, 1000, 1677, 1970, 2025, 2262, 2263, 9999]),
                              min_size=n, max_size=n))
        if unit == "ns":
            years = [min(max(y, 1678), 2261) for y in years]
        values = [np.datetime64(f"{y:04d}-01-06T09:00:00", unit) for y in years]
        return pa.array(np.array(values, dtype=f"datetime64[{unit}]"),
                        pa.timestamp(unit, tz=tz))
    if kind == "list":
        return pa.array([[str(i)] for i in range(n)], pa.list_(pa.string()))
    return pa.array([{"k": str(i)} for i in range(n)])


@st.composite
def parquet_tables(draw: st.DrawFn, columns: tuple[str, ...]) -> bytes:
    """A Parquet file with the table's column names (some left out, some extra), each of a
    random Arrow type."""
    n = draw(st.integers(0, 5))
    names = [c for c in columns if draw(st.integers(0, 5))]
    names += draw(st.lists(st.sampled_from(["extra", "x" * 300, "é"]), max_size=2,
                           unique=True))
    table = pa.table({name: _arrow_column(draw, n) for name in names} or {"a": pa.nulls(n)})
    sink = io.BytesIO()
    pq.write_table(table, sink)
    data = sink.getvalue()
    if draw(st.integers(0, 7)) == 0:  # a damaged file
        data = draw(mutated(data))
    return data


COLUMNS = {
    "customers": ("customer_id", "monthly_spend", "revenue_start", "revenue_end", "segment"),
    "conversations": ("conversation_id", "customer_id", "created_at", "first_response_at",
                      "handle_seconds", "csat", "csat_scale"),
    "assignments": ("customer_id", "experiment", "arm", "assigned_at", "bucket"),
}


@pytest.mark.parametrize("budget", BUDGETS)
@pytest.mark.parametrize("table", ["customers", "conversations", "assignments"])
def test_validate_parquet_never_fails_internally(trial: Path, table: str, budget: int) -> None:
    def check(data: bytes) -> None:
        path = _work(trial, f"validate-pq-{table}") / f"{table}.parquet"
        path.write_bytes(data)
        status, err = run_cli(["validate", f"--{table}", str(path), "--timezone", "UTC"])
        check_outcome(status, err, (path.name,))

    fuzz(parquet_tables(COLUMNS[table]), check, budget)


# ----------------------------------------------------------------------------- frt import
IMPORT_SEEDS = {
    "zendesk": FIX / "zendesk" / "api" / "tickets.json",
    "intercom": FIX / "intercom" / "api" / "conversations.json",
    "freshdesk": FIX / "freshdesk" / "tickets.json",
    "helpscout": FIX / "helpscout" / "api" / "conversations.json",
    "calls": FIX / "calls" / "acd_calls.csv",
}


def test_every_importer_is_fuzzed() -> None:
    out = io.StringIO()
    with redirect_stdout(out), redirect_stderr(io.StringIO()):
        assert main(["import", "--list"]) == 0
    listed = {line.split()[0] for line in out.getvalue().splitlines() if line.strip()}
    # the five above, and the generic csv importer with its mapping below
    assert listed == {*IMPORT_SEEDS, "csv"}


@pytest.mark.parametrize("budget", BUDGETS)
@pytest.mark.parametrize("helpdesk", sorted(IMPORT_SEEDS))
def test_import_never_fails_internally(trial: Path, helpdesk: str, budget: int) -> None:
    seed_path = IMPORT_SEEDS[helpdesk]
    seed = seed_path.read_bytes()
    nest, close = (b"[", b"]") if seed_path.suffix == ".json" else (b'"', b'"')

    def check(data: bytes) -> None:
        work = _work(trial, f"import-{helpdesk}")
        path = work / seed_path.name
        path.write_bytes(data)
        status, err = run_cli(["import", helpdesk, str(path), "--out", str(work / "out")])
        check_outcome(status, err, (path.name,))

    fuzz(mutated(seed, nest=nest, close=close), check, budget)


@pytest.mark.parametrize("budget", BUDGETS)
def test_import_csv_with_a_mapping_never_fails_internally(trial: Path, budget: int) -> None:
    table = (FIX / "generic" / "tickets_de.csv").read_bytes()
    mapping = (FIX / "generic" / "tickets_de.toml").read_bytes()
    which = st.sampled_from(["table", "mapping"])

    def check(drawn: tuple[str, bytes]) -> None:
        part, data = drawn
        work = _work(trial, "import-csv")
        csv_path, toml_path = work / "tickets_de.csv", work / "tickets_de.toml"
        csv_path.write_bytes(data if part == "table" else table)
        toml_path.write_bytes(data if part == "mapping" else mapping)
        status, err = run_cli(["import", "csv", str(csv_path), "--mapping", str(toml_path),
                               "--out", str(work / "out")])
        check_outcome(status, err, (csv_path.name, toml_path.name))

    fuzz(which.flatmap(lambda part: st.tuples(st.just(part), mutated(
        table if part == "table" else mapping))), check, budget)


# ----------------------------------------------------------------------------- TOML files
@pytest.mark.parametrize("budget", BUDGETS)
def test_analyze_plan_never_fails_internally(trial: Path, budget: int) -> None:
    seed = (trial / "plan.toml").read_bytes()
    good = trial / "good"

    def check(data: bytes) -> None:
        work = _work(trial, "analyze-plan")
        path = work / "plan.toml"
        path.write_bytes(data)
        status, err = run_cli([
            "analyze", "--customers", str(good / "customers.csv"), "--conversations",
            str(good / "conversations.csv"), "--assignments", str(good / "assignments.csv"),
            "--plan", str(path), "--permutations", "99", "--no-diagnostics",
            "--out", str(work / "out")])
        # a valid plan may still disagree with the trial (its weights, its looks)
        check_outcome(status, err, (path.name, "--plan", "--look", "--weights"))

    fuzz(mutated(seed), check, budget)


SCENARIO = (Path(__file__).resolve().parents[1] / "frt_experiments" / "scenarios"
            / "published.toml").read_bytes()


@pytest.mark.parametrize("budget", BUDGETS)
def test_simulate_scenario_never_fails_internally(trial: Path, budget: int) -> None:
    def check(data: bytes) -> None:
        work = _work(trial, "simulate-scenario")
        path = work / "scenario.toml"
        path.write_bytes(data)
        status, err = run_cli(["simulate", "--scenario", str(path), "--customers", "30",
                               "--months", "0.5", "--no-progress", "--out", str(work / "out")])
        check_outcome(status, err, (path.name,))

    fuzz(mutated(SCENARIO), check, budget)


@pytest.mark.parametrize("budget", [pytest.param(6, id="fast"),
                                    pytest.param(20, id="slow", marks=pytest.mark.slow)])
def test_demo_scenario_never_fails_internally(trial: Path, budget: int) -> None:
    # a valid scenario runs the whole demo (seconds): a smaller budget
    def check(data: bytes) -> None:
        work = _work(trial, "demo-scenario")
        path = work / "scenario.toml"
        path.write_bytes(data)
        status, err = run_cli(["demo", "--scenario", str(path), "--customers", "1000",
                               "--no-progress", "--out", str(work / "out")])
        check_outcome(status, err, (path.name,))

    fuzz(mutated(SCENARIO), check, budget)


# ----------------------------------------------------------------------------- frt assign
@pytest.mark.parametrize("budget", BUDGETS)
@pytest.mark.parametrize("form", ["csv", "parquet"])
def test_assign_customers_never_fails_internally(trial: Path, form: str, budget: int) -> None:
    seed = (trial / "customers_seed.csv").read_bytes()
    strategy = mutated(seed) if form == "csv" else parquet_tables(COLUMNS["customers"])

    def check(data: bytes) -> None:
        work = _work(trial, f"assign-{form}")
        path = work / f"customers.{form}"
        path.write_bytes(data)
        status, err = run_cli(["assign", "--customers", str(path), "--experiment", "e",
                               "--salt", "s", "--max-spend", "100", "--ledger",
                               str(work / "ledger.csv"), "--assigned-at",
                               "2025-01-06T00:00:00Z"])
        check_outcome(status, err, (path.name,))

    fuzz(strategy, check, budget)


def test_a_valid_seed_passes(trial: Path) -> None:
    """The seeds themselves are valid: the fuzzing starts from files the readers accept."""
    for table in ("customers", "conversations", "assignments"):
        status, err = run_cli(["validate", f"--{table}", str(trial / f"{table}_seed.csv")])
        assert status == 0, err
    frame = pd.read_csv(trial / "customers_seed.csv")
    assert len(frame) == 24
