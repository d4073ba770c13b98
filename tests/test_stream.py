"""Streamed validation (frt_experiments._stream): batch by batch, the same answer as the
whole-file reader.

Batches are made tiny here (3 rows checked at a time, 1 KiB parsed at a time) so every rule
meets rows in several batches and line numbers must carry across them.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet
import pytest

from frt_experiments import _stream, schema
from frt_experiments.cli import main
from frt_experiments.errors import DataError, DataWarning


@pytest.fixture(autouse=True)
def _tiny_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_stream, "CHECK_ROWS", 3)
    monkeypatch.setattr(_stream, "PARQUET_BATCH_ROWS", 3)
    monkeypatch.setattr(_stream, "BLOCK_BYTES", 1 << 10)


CONVERSATIONS = ("conversation_id,customer_id,created_at,first_response_at,handle_seconds,"
                 "csat,csat_scale\n") + """v1,c1,2025-01-06T09:00:00Z,2025-01-06T10:00:00Z,30,5,1-5
v2,c2,2025-01-06T09:00:00Z,2025-01-06T08:00:00Z,thirty,,
v3,c1,2025-01-06 09:00:00,,40,good,good-bad
v1,c3,2025-01-07T09:00:00Z,,-5,7,1-5
v4,,2025-01-07T09:00:00Z,,5,,
v5,c2,2025-01-07T09:00:00Z,2025-01-07T10:00:00Z,5,4,
v2,c2,2025-01-08,,5,,
v6,c4,2025-01-08T09:00:00Z,2025-01-08T10:00:00Z,12,bad,good-bad
v1,c4,now,,1e400,3,1-5
"""


def _whole(path, table, timezone=None) -> list[str]:
    try:
        schema.read_table(path, table, timezone=timezone)
    except DataError as err:
        return sorted(str(p) for p in err.problems)
    return []


def _streamed(path, table, timezone=None) -> list[str]:
    return sorted(str(p) for p in _stream.scan_table(path, table, timezone=timezone).problems)


def test_problems_across_batches_are_those_of_the_whole_file(tmp_path):
    path = tmp_path / "conversations.csv"
    path.write_text(CONVERSATIONS)
    whole = _whole(path, "conversations")
    assert len(whole) >= 8  # the fixture breaks many rules
    assert _streamed(path, "conversations") == whole
    # repeats found across batches, numbered as file lines (header = line 1)
    assert ("conversations.csv: column conversation_id: 3 rows are repeating an earlier "
            "conversation_id (lines 5, 8, 10)") in whole


def test_problems_match_with_a_time_zone_and_dst_warnings(tmp_path):
    text = "conversation_id,customer_id,created_at,first_response_at\n" + "".join(
        f"v{i},c{i % 4},2025-03-09 02:{i:02d}:00,\n" for i in range(10))
    path = tmp_path / "conversations.csv"
    path.write_text(text)
    with warnings.catch_warnings(record=True) as whole_w:
        warnings.simplefilter("always")
        schema.read_table(path, "conversations", timezone="America/New_York")
    with warnings.catch_warnings(record=True) as stream_w:
        warnings.simplefilter("always")
        scan = _stream.scan_table(path, "conversations", timezone="America/New_York")
    assert scan.problems == []
    assert [str(w.message) for w in stream_w if issubclass(w.category, DataWarning)] == \
        [str(w.message) for w in whole_w if issubclass(w.category, DataWarning)]
    assert "10 rows are in the spring-forward gap" in str(stream_w[0].message)


@pytest.mark.parametrize("seed", range(6))
def test_random_tables_agree_with_the_whole_file_reader(tmp_path, seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 40))
    ids = rng.choice([f"c{i}" for i in range(n)] + ["", " "], n)
    spend = rng.choice(["1", "2.5", "-3", "x", "", "inf", "0"], n)
    df = pd.DataFrame({"customer_id": ids, "monthly_spend": spend,
                       "revenue_start": rng.choice(["1", "0", "", "y"], n),
                       "revenue_end": rng.choice(["1", "2", ""], n),
                       "pre_rated": rng.choice(["1", "2"], n),
                       "pre_satisfied": rng.choice(["0", "3"], n)})
    path = tmp_path / "customers.csv"
    df.to_csv(path, index=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        assert _streamed(path, "customers") == _whole(path, "customers")


def test_assignments_repeat_is_per_experiment(tmp_path):
    path = tmp_path / "assignments.csv"
    rows = ["c1,e1,fast,2025-01-06T00:00:00Z,0.1", "c1,e2,fast,2025-01-06T00:00:00Z,0.1",
            "c2,e1,fast,2025-01-06T00:00:00Z,0.2", "c1,e1,fast,2025-01-06T00:00:00Z,0.1",
            ",e1,fast,2025-01-06T00:00:00Z,0.3", ",e1,fast,2025-01-06T00:00:00Z,0.3"]
    path.write_text("customer_id,experiment,arm,assigned_at,bucket\n" + "\n".join(rows) + "\n")
    assert _streamed(path, "assignments") == _whole(path, "assignments")
    assert any("assigned twice in the same experiment (line 5)" in p
               for p in _streamed(path, "assignments"))


def test_short_and_long_rows_name_their_lines(tmp_path):
    path = tmp_path / "customers.csv"
    path.write_text("customer_id,monthly_spend\n" + "c1,1\nc2\nc3,1\nc4,1\nc5,1,9\nc6\n")
    got = _streamed(path, "customers")
    assert got == ["customers.csv: 1 row is longer than the header (more than 2 fields) "
                   "(line 6)",
                   "customers.csv: 2 rows are shorter than the header (fewer than 2 fields) "
                   "(lines 3, 7)"]


def test_quoted_newlines_and_bom(tmp_path):
    path = tmp_path / "customers.csv"
    path.write_bytes(b'\xef\xbb\xbfcustomer_id,segment\nc1,"two\nlines"\nc2,x\nc3,y\nc1,z\n')
    scan = _stream.scan_table(path, "customers")
    assert scan.rows == 4
    assert [str(p) for p in scan.problems] == [
        "customers.csv: column customer_id: 1 row is repeating an earlier customer_id (line 5)"]


def test_spreadsheet_dialects_are_read_whole(tmp_path):
    path = tmp_path / "customers.csv"
    path.write_bytes("customer_id;monthly_spend\nc1;12,5\nc2;x\n".encode("utf-16"))
    assert _streamed(path, "customers") == _whole(path, "customers")
    assert len(_streamed(path, "customers")) == 1
    latin = tmp_path / "latin.csv"
    latin.write_bytes("customer_id,segment\nc1,caf\xe9\nc1,x\n".encode("cp1252"))
    assert _streamed(latin, "customers") == _whole(latin, "customers")


def test_parquet_batches_number_rows_from_zero(tmp_path):
    path = tmp_path / "customers.parquet"
    pd.DataFrame({"customer_id": ["a", "b", "c", "d", "a", "e", "b"],
                  "monthly_spend": [1.0, 2, -1, 3, 4, 5, 6]}).to_parquet(path)
    got = _streamed(path, "customers")
    assert got == _whole(path, "customers")
    assert got == [
        "customers.parquet: column customer_id: 2 rows are repeating an earlier customer_id "
        "(rows 4, 6)",
        "customers.parquet: column monthly_spend: 1 row is negative (must be >= 0) (row 2)"]


def test_a_missing_column_is_reported_once(tmp_path):
    path = tmp_path / "customers.csv"
    path.write_text("id,monthly_spend\n" + "".join(f"c{i},1\n" for i in range(10)))
    assert _streamed(path, "customers") == ["customers.csv: missing required column "
                                            "customer_id"]


def test_repeats_survive_hash_collisions(monkeypatch):
    values = pa.chunked_array([["a", "b", None], ["a", None, "c", "b", "d"]])
    expected = pd.Series(["a", "b", None, "a", None, "c", "b", "d"])
    truth = (expected.duplicated() & expected.notna()).to_numpy()
    assert _stream.repeated(values).tolist() == truth.tolist()
    # every hash the same: the text comparison alone decides
    monkeypatch.setattr(pd.util, "hash_array", lambda a: np.zeros(len(a), np.uint64))
    assert _stream.repeated(values).tolist() == truth.tolist()


def test_cli_cross_checks_and_window(tmp_path, capsys):
    cust = tmp_path / "customers.csv"
    cust.write_text("customer_id\nc1\nc2\nc3\nc4\n")
    conv = tmp_path / "conversations.csv"
    conv.write_text("conversation_id,customer_id,created_at,first_response_at\n" + "".join(
        f"v{i},c{i % 6},2025-01-0{1 + i % 9}T09:00:00Z,\n" for i in range(12)))
    code = main(["validate", "--customers", str(cust), "--conversations", str(conv)])
    err = capsys.readouterr().err
    assert code == 2
    assert ("conversations.csv: column customer_id: 4 rows are of customers not in "
            "customers.csv (lines 2, 7, 8, 13)") in err
    conv.write_text("conversation_id,customer_id,created_at,first_response_at\n" + "".join(
        f"v{i},c{1 + i % 4},2025-01-0{1 + i % 9}T09:00:00Z,\n" for i in range(12)))
    code = main(["validate", "--customers", str(cust), "--conversations", str(conv),
                 "--window-start", "2025-01-03T00:00:00Z"])
    out = capsys.readouterr()
    assert code == 0
    assert "conversations.csv: 12 conversations ok" in out.out
    assert ("4 rows are outside the analysis window [2025-01-03T00:00:00+00:00, "
            "2262-04-11T23:47:16.854775807+00:00) (lines 2, 3, 11, 12)") in out.err


@pytest.mark.parametrize("split_at", [0, 1, 2, 5])
def test_bare_carriage_returns_read_as_the_whole_file_reader_reads_them(tmp_path, monkeypatch,
                                                                       split_at):
    # a bare CR past the first block (pasted into a field) is a space, not a line end; CRLF
    # is a line end; a CR at the edge of a read waits for the next byte
    monkeypatch.setattr(_stream, "BLOCK_BYTES", 64 + split_at)
    monkeypatch.setattr(_stream, "_HEAD_BYTES", 48)  # the CRs lie past the sniffed head
    body = "".join(f"c{i},seg{i}\r\n" for i in range(40)) + "x1,a\rb\nx2,c\r\nx3,d\n"
    path = tmp_path / "customers.csv"
    path.write_bytes(("customer_id,segment\n" + body).encode())
    assert _streamed(path, "customers") == _whole(path, "customers")
    assert _stream.scan_table(path, "customers").rows == 43
    short = tmp_path / "short.csv"
    short.write_bytes(("customer_id,monthly_spend\n" + "".join(f"c{i},1\n" for i in range(40))
                       + "x1,5\rx2,6\n").encode())
    assert _streamed(short, "customers") == _whole(short, "customers")
    assert len(_streamed(short, "customers")) == 1  # x1's spend is '5 x2' and the row long


def test_a_field_larger_than_a_block_is_read_whole(tmp_path):
    path = tmp_path / "customers.csv"
    path.write_text("customer_id,segment\nc1," + "s" * 5_000 + "\nc2,a\nc1,b\n")
    assert _streamed(path, "customers") == _whole(path, "customers")
    assert len(_streamed(path, "customers")) == 1


def test_a_header_without_a_line_end_has_no_rows(tmp_path):
    path = tmp_path / "customers.csv"
    path.write_text("customer_id,monthly_spend")
    assert _streamed(path, "customers") == _whole(path, "customers") == [
        "customers.csv: file has no rows"]


def test_parquet_bytes_that_are_not_utf8_are_named(tmp_path):
    path = tmp_path / "customers.parquet"
    pa.parquet.write_table(pa.table({
        "customer_id": pa.array([b"a", b"\xff", b"c", b"d"], pa.binary()),
        "segment": pa.array([b"x", b"y", b"z", b"\xfe"], pa.binary())}), path)
    want = ["customers.parquet: column customer_id: 1 row is bytes that are not UTF-8 text "
            "(row 1)",
            "customers.parquet: column segment: 1 row is bytes that are not UTF-8 text (row 3)"]
    assert _streamed(path, "customers") == _whole(path, "customers") == want
