"""frt analyze where the data live: --engine duckdb over files, --source with tables of DuckDB
and PostgreSQL, --layout over a helpdesk's Fivetran tables; the files written equal those of
the in-memory path, and bad sources are one line and exit 2."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import duckdb
import ibis
import pandas as pd
import pytest

from frt_experiments.cli import main
from frt_experiments.engine import IBIS_PANDAS_WARNING
from frt_experiments.schema import read_table

pytestmark = pytest.mark.filterwarnings(f"ignore:{IBIS_PANDAS_WARNING}")

NAMES = ("customers", "conversations", "assignments")


@pytest.fixture(scope="module")
def trial_files(tmp_path_factory):
    d = tmp_path_factory.mktemp("trial")
    assert main(["simulate", "--customers", "2500", "--seed", "7", "--out", str(d),
                 "--format", "parquet", "--no-progress"]) == 0
    return d


def _files(d: Path) -> list[str]:
    return [a for n in NAMES for a in (f"--{n}", str(d / f"{n}.parquet"))]


def _same_outputs(a: Path, b: Path) -> None:
    assert (a / "results.csv").read_bytes() == (b / "results.csv").read_bytes()
    assert (a / "summary.md").read_text() == (b / "summary.md").read_text()
    ta, tb = ((d / "trust.json").read_text() for d in (a, b))
    assert ta == tb


@pytest.fixture(scope="module")
def in_memory(trial_files, tmp_path_factory):
    out = tmp_path_factory.mktemp("mem")
    assert main(["analyze", *_files(trial_files), "--out", str(out)]) == 0
    return out


def test_engine_duckdb_over_parquet_files_writes_the_same_files(trial_files, in_memory,
                                                                 tmp_path, capsys):
    out = tmp_path / "duck"
    assert main(["analyze", "--engine", "duckdb", *_files(trial_files), "--out", str(out)]) == 0
    assert "tables in an embedded DuckDB" in capsys.readouterr().out
    _same_outputs(in_memory, out)


def test_source_duckdb_file_and_a_ledger_file_beside_it(trial_files, in_memory, tmp_path):
    db = tmp_path / "trial.duckdb"
    con = duckdb.connect(str(db))
    for n in ("customers", "conversations"):
        con.execute(f"CREATE SCHEMA IF NOT EXISTS helpdesk; CREATE TABLE helpdesk.{n} AS "
                    f"SELECT * FROM read_parquet('{trial_files / (n + '.parquet')}')")
    con.close()
    out = tmp_path / "src"
    # the assignments stay a file (as a ledger would), the rest are tables of the database
    assert main(["analyze", "--source", f"duckdb:///{db}", "--customers", "helpdesk.customers",
                 "--conversations", "helpdesk.conversations", "--assignments",
                 str(trial_files / "assignments.parquet"), "--out", str(out)]) == 0
    _same_outputs(in_memory, out)


def test_source_postgresql(trial_files, in_memory, tmp_path, postgres_url, psycopg_module):
    con = ibis.connect(postgres_url)
    try:
        for n in NAMES:
            frame = read_table(trial_files / f"{n}.parquet", n)
            con.create_table(f"frt_cli_{n}", frame, overwrite=True)
    finally:
        con.disconnect()
    out = tmp_path / "pg"
    assert main(["analyze", "--source", postgres_url,
                 *[a for n in NAMES for a in (f"--{n}", f"frt_cli_{n}")],
                 "--out", str(out)]) == 0
    _same_outputs(in_memory, out)


def _frt(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "frt_experiments.cli", *args],
                          capture_output=True, text=True, timeout=120, check=False)


def test_bad_sources_are_one_line_and_exit_2(trial_files, tmp_path):
    db = tmp_path / "t.duckdb"
    duckdb.connect(str(db)).close()
    cases = {
        "no table 'customers'": ["--source", f"duckdb:///{db}", "--customers", "customers",
                                 "--conversations", "conversations", "--assignments", "a"],
        "could not connect to postgresql://frt:***@127.0.0.1:1/x": [
            "--source", "postgresql://frt:secret@127.0.0.1:1/x", "--customers", "c",
            "--conversations", "v", "--assignments", "a"],
        "--engine pandas: --source and --layout run in an engine": [
            "--engine", "pandas", "--source", "duckdb://", *_files(trial_files)],
        "--schema needs --layout": ["--schema", "zendesk", *_files(trial_files)],
        "no DuckDB database file nope.duckdb": [
            "--source", "duckdb://nope.duckdb", *_files(trial_files)],
        "--timezone applies to files only": [
            "--source", f"duckdb:///{db}", "--timezone", "Europe/Berlin", "--customers",
            str(trial_files / "customers.parquet"), "--conversations", "conversations",
            "--assignments", "assignments"],
    }
    for expected, args in cases.items():
        run = _frt("analyze", *args, "--out", str(tmp_path / "out"))
        assert run.returncode == 2, run.stderr
        lines = run.stderr.strip().splitlines()
        assert len(lines) == 1, run.stderr
        assert expected in lines[0]
        assert "secret" not in run.stderr


FIXTURES = Path(__file__).resolve().parent / "fixtures"


def test_layout_zendesk_fivetran_equals_import_then_analyze(tmp_path):
    """The Zendesk fixture tables in DuckDB, analysed through the layout's views with billing
    and assignments files, write what frt import followed by frt analyze on files writes."""
    from test_engine_layouts import _write_layout  # the fixture with a row for every rule

    raw = _write_layout(tmp_path / "zendesk", "zendesk")
    imported = tmp_path / "imported"
    ids = sorted(set(pd.read_csv(raw / "ticket_data.csv", dtype=str)["requester_id"]))
    billing = pd.DataFrame({"customer_id": ids, "monthly_spend": 50.0,
                            "revenue_start": [100.0 + i for i in range(len(ids))],
                            "revenue_end": [98.0 + 1.5 * i for i in range(len(ids))]})
    billing.to_csv(tmp_path / "billing.csv", index=False)
    assert main(["import", "zendesk", str(raw), "--billing", str(tmp_path / "billing.csv"),
                 "--out", str(imported)]) == 0
    asg = pd.DataFrame({"customer_id": ids, "experiment": "x",
                        "arm": ["fast", "one_business_day"] * (len(ids) // 2)
                        + ["fast"] * (len(ids) % 2),
                        "assigned_at": "2015-01-01T00:00:00+00:00",
                        "bucket": [i / len(ids) for i in range(len(ids))]})
    asg.to_csv(tmp_path / "assignments.csv", index=False)
    db = tmp_path / "warehouse.duckdb"
    con = duckdb.connect(str(db))
    con.execute("CREATE SCHEMA zendesk")
    for f in sorted(raw.glob("*.csv")):
        con.execute(f"CREATE TABLE zendesk.{f.stem} AS SELECT * FROM read_csv('{f}')")
    con.close()
    common = ["--assignments", str(tmp_path / "assignments.csv"), "--no-diagnostics",
              "--inference", "randomization", "--permutations", "999"]
    a, b = tmp_path / "files", tmp_path / "layout"
    assert main(["analyze", "--customers", str(imported / "customers.csv"), "--conversations",
                 str(imported / "conversations.csv"), *common, "--out", str(a)]) == 0
    assert main(["analyze", "--source", f"duckdb:///{db}", "--layout", "zendesk-fivetran",
                 "--schema", "zendesk", "--billing", str(tmp_path / "billing.csv"), *common,
                 "--out", str(b)]) == 0
    assert (a / "results.csv").read_bytes() == (b / "results.csv").read_bytes()


def test_validate_in_the_engine(trial_files, tmp_path, capsys):
    db = tmp_path / "v.duckdb"
    con = duckdb.connect(str(db))
    for n in NAMES:
        con.execute(f"CREATE TABLE {n} AS SELECT * FROM "
                    f"read_parquet('{trial_files / (n + '.parquet')}')")
    con.execute("CREATE TABLE bad AS SELECT * REPLACE (CASE WHEN conversation_id = "
                "(SELECT min(conversation_id) FROM conversations) THEN 'x' ELSE csat END "
                "AS csat) FROM conversations")
    con.close()
    url = f"duckdb:///{db}"
    assert main(["validate", "--source", url, *[a for n in NAMES for a in (f"--{n}", n)]]) == 0
    assert "conversations (" in capsys.readouterr().out
    run = _frt("validate", "--source", url, "--conversations", "bad")
    assert run.returncode == 2
    assert "column csat: 1 row is off the" in run.stderr
