"""The optional ``abandoned_at`` column of the conversations table (issue 18).

Rules (schema.validate_conversations, the streamed validator of ``frt validate`` and the
engine's checks share them):

- an aware timestamp (or empty: not abandoned), like every timestamp of the table;
- not earlier than ``created_at``;
- never together with ``first_response_at``: an abandoned conversation got no response. A
  reply sent after the customer left (a chat answered into the void) is recorded as a first
  response without ``abandoned_at``; an answer before the hang-up means the customer was
  served, so the pair is contradictory either way.

A table without the column is as valid as before; a conversation with neither a response nor
an abandonment is still waiting (or lost) when the data end.
"""

from __future__ import annotations

import pandas as pd
import pytest

from frt_experiments import _stream, schema
from frt_experiments.cli import main
from frt_experiments.errors import DataError

HEADER = "conversation_id,customer_id,created_at,first_response_at,abandoned_at,handle_seconds\n"
ROWS = """v1,c1,2025-03-03T09:00:00Z,2025-03-03T09:01:00Z,,120
v2,c2,2025-03-03T09:00:00Z,,2025-03-03T09:02:30Z,0
v3,c3,2025-03-03T09:00:00Z,,2025-03-03T08:59:00Z,0
v4,c4,2025-03-03T09:00:00Z,2025-03-03T09:05:00Z,2025-03-03T09:03:00Z,0
v5,c5,2025-03-03T09:00:00Z,,2025-03-03 09:04:00,0
v6,c6,2025-03-03T09:00:00Z,,,0
v7,c7,2025-03-03T09:00:00Z,2025-03-03T09:01:00Z,2025-03-03T09:09:00Z,60
v8,c8,2025-03-03T09:00:00Z,,2025-03-03,0
"""
EXPECTED = [
    "conversations.csv: column abandoned_at: 1 row is a date without a time of day (give the "
    "time and offset, e.g. 2025-01-06T09:00:00Z) (line 9)",
    "conversations.csv: column abandoned_at: 1 row is earlier than created_at (line 4)",
    "conversations.csv: column abandoned_at: 1 row is time-zone naive (give an offset, or name "
    "the zone: timezone= in Python, --timezone on the command line) (line 6)",
    "conversations.csv: column abandoned_at: 2 rows are set together with first_response_at "
    "(an abandoned conversation got no response) (lines 5, 8)",
]


@pytest.fixture
def bad_csv(tmp_path):
    path = tmp_path / "conversations.csv"
    path.write_text(HEADER + ROWS)
    return path


def test_every_broken_rule_is_named_with_column_lines_and_rule(bad_csv):
    with pytest.raises(DataError) as info:
        schema.read_table(bad_csv, "conversations")
    assert sorted(str(p) for p in info.value.problems) == EXPECTED


def test_streamed_validation_names_the_same_problems(bad_csv, monkeypatch):
    # tiny batches: the rows meet the rules in several batches, lines carry across them
    monkeypatch.setattr(_stream, "CHECK_ROWS", 3)
    monkeypatch.setattr(_stream, "BLOCK_BYTES", 1 << 10)
    scan = _stream.scan_table(bad_csv, "conversations")
    assert sorted(str(p) for p in scan.problems) == EXPECTED


def test_frt_validate_exits_2_naming_the_rule(bad_csv, capsys):
    assert main(["validate", "--conversations", str(bad_csv)]) == 2
    err = capsys.readouterr().err
    assert "column abandoned_at: 1 row is earlier than created_at (line 4)" in err
    assert "set together with first_response_at" in err


def test_a_valid_table_reads_typed_and_round_trips(tmp_path):
    good = [r for i, r in enumerate(ROWS.splitlines()) if i in (0, 1, 5)]
    path = tmp_path / "conversations.csv"
    path.write_text(HEADER + "\n".join(good) + "\n")
    conv = schema.read_table(path, "conversations")
    assert conv[schema.ABANDONED_AT].dtype == "datetime64[ns, UTC]"
    assert conv[schema.ABANDONED_AT].notna().tolist() == [False, True, False]
    # still waiting when the data end: neither answered nor abandoned, valid
    assert conv[schema.FIRST_RESPONSE_AT].isna().iloc[2]
    out = tmp_path / "again.parquet"
    schema.write_table(conv, out)
    pd.testing.assert_frame_equal(schema.read_table(out, "conversations"), conv)
    assert main(["validate", "--conversations", str(path)]) == 0


def test_naive_abandonments_take_the_named_zone():
    conv = pd.DataFrame({
        schema.CONVERSATION_ID: ["a"], schema.CUSTOMER_ID: ["1"],
        schema.CREATED_AT: ["2025-03-03 09:00"], schema.FIRST_RESPONSE_AT: [""],
        schema.ABANDONED_AT: ["2025-03-03 09:02"]})
    out = schema.validate_conversations(conv, timezone="Europe/Berlin")
    assert out[schema.ABANDONED_AT].iloc[0] == pd.Timestamp("2025-03-03 08:02", tz="UTC")
    # an abandonment at the instant of creation is allowed (a caller who hung up at once)
    same = conv.assign(**{schema.ABANDONED_AT: ["2025-03-03 09:00"]})
    schema.validate_conversations(same, timezone="Europe/Berlin")


def test_without_the_column_the_table_is_as_before():
    conv = pd.DataFrame({
        schema.CONVERSATION_ID: ["a"], schema.CUSTOMER_ID: ["1"],
        schema.CREATED_AT: ["2025-03-03T09:00Z"], schema.FIRST_RESPONSE_AT: [""]})
    assert schema.ABANDONED_AT not in schema.validate_conversations(conv)
    assert not schema.CONVERSATIONS.column(schema.ABANDONED_AT).required
