"""Readers that never guess (issue 21, part 2): a value that cannot be read as its column's
type, a timestamp without a time of day, a word such as ``now``, a short row, or an arm outside
the design is an error (or a warning naming it), never silently dropped or invented."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from frt_experiments import DataError, analyze, import_csv, import_intercom, schema
from frt_experiments.cli import main
from frt_experiments.errors import DataWarning

CONVERSATIONS = (
    "conversation_id,customer_id,created_at,first_response_at,handle_seconds,csat,csat_scale\n"
    "v1,c1,2025-01-06T10:00:00Z,2025-01-06T12:00:00Z,300,5,1-5\n"
    "v2,c1,2025-01-07T10:00:00Z,,120,,\n"
    "v3,c2,2025-01-07T10:00:00Z,2025-01-08T10:00:00Z,0,good,good-bad\n"
)


def _messages(path: Path, table: str, **kwargs: object) -> list[str]:
    with pytest.raises(DataError) as info:
        schema.read_table(path, table, **kwargs)  # type: ignore[arg-type]
    return [str(p) for p in info.value.problems]


def _conv(tmp_path: Path, old: str, new: str) -> Path:
    path = tmp_path / "conversations.csv"
    path.write_text(CONVERSATIONS.replace(old, new, 1))
    return path


@pytest.mark.parametrize("timezone", [None, "America/New_York"])
def test_date_only_timestamp_is_an_error_with_or_without_a_zone(tmp_path, timezone):
    # Before: '2025-01-06' matched the offset pattern ('-06') and was read as UTC midnight.
    path = _conv(tmp_path, "2025-01-07T10:00:00Z,,", "2025-01-07,,")
    assert _messages(path, "conversations", timezone=timezone) == [
        "conversations.csv: column created_at: 1 row is a date without a time of day (give "
        "the time and offset, e.g. 2025-01-06T09:00:00Z) (line 3)"]


@pytest.mark.parametrize("word", ["now", "today", "NOW"])
def test_now_and_today_are_not_timestamps_with_a_zone(tmp_path, word):
    # Before: with a time zone, pandas read these as the current time.
    path = _conv(tmp_path, "2025-01-06T12:00:00Z", word)
    assert _messages(path, "conversations", timezone="Europe/Paris") == [
        "conversations.csv: column first_response_at: 1 row is not parseable as ISO 8601 "
        "timestamps (line 2)"]


def test_a_space_between_date_and_time_is_still_a_timestamp(tmp_path):
    path = _conv(tmp_path, "2025-01-07T10:00:00Z,,", "2025-01-07 10:00:00,,")
    conv = schema.read_table(path, "conversations", timezone="UTC")
    assert conv[schema.CREATED_AT].iloc[1] == pd.Timestamp("2025-01-07T10:00:00Z")


def test_short_row_is_an_error_naming_its_lines(tmp_path):
    # Before: the missing csat and csat_scale were read as empty (no rating).
    path = _conv(tmp_path, "0,good,good-bad", "0")
    assert _messages(path, "conversations", timezone="UTC") == [
        "conversations.csv: 1 row is shorter than the header (fewer than 7 fields) (line 4)"]


def test_short_row_in_a_quoted_multiline_file_counts_rows_as_the_other_messages(tmp_path):
    text = ("customer_id,segment,monthly_spend\n"
            '"c1","two\nlines",10\n'
            "c2,smb\n"
            "c3,smb,5\n")
    path = tmp_path / "customers.csv"
    path.write_text(text)
    assert _messages(path, "customers") == [
        "customers.csv: 1 row is shorter than the header (fewer than 3 fields) (line 3)"]


def test_short_row_in_an_export_is_an_error(tmp_path):
    path = tmp_path / "tickets.csv"
    path.write_text("id,customer,created\n1,a,2025-01-06T10:00:00Z\n2,b\n")
    with pytest.raises(DataError, match=r"tickets\.csv: 1 row is shorter than the header "
                       r"\(fewer than 3 fields\) \(line 3\)"):
        import_csv(path, columns={"conversation_id": "id", "customer_id": "customer",
                                  "created_at": "created"})


def test_export_date_only_and_now_are_errors(tmp_path):
    path = tmp_path / "tickets.csv"
    cols = {"conversation_id": "id", "customer_id": "customer", "created_at": "created"}
    path.write_text("id,customer,created\n1,a,2025-01-06T10:00:00\n2,b,2025-01-06\n")
    with pytest.raises(DataError, match=r"tickets\.csv: column created: 1 row is a date "
                       r"without a time of day .*\(line 3\)"):
        import_csv(path, columns=cols, timezone="Europe/Berlin")
    # a documented option reads dates: the date format
    path.write_text("id,customer,created\n2,b,2025-01-06\n")
    result = import_csv(path, columns=cols, timezone="Europe/Berlin", date_format="%Y-%m-%d")
    assert result.conversations[schema.CREATED_AT].iloc[0] == pd.Timestamp(
        "2025-01-05T23:00:00Z")
    path.write_text("id,customer,created\n1,a,2025-01-06T10:00:00\n2,b,today\n")
    with pytest.raises(DataError, match=r"tickets\.csv: column created: 1 row is not "
                       r"parseable as timestamps \(line 3\)"):
        import_csv(path, columns=cols, timezone="Europe/Berlin")


def test_export_handle_time_that_is_not_a_number_names_file_column_and_line(tmp_path):
    # Before: the schema check named no file ('conversations: ... (row 1)').
    path = tmp_path / "tickets.csv"
    path.write_text("id,customer,created,secs\n1,a,2025-01-06T10:00:00Z,60\n"
                    "2,b,2025-01-06T11:00:00Z,36OO\n")
    with pytest.raises(DataError, match=r"tickets\.csv: column secs: 1 row is not numbers of "
                       r"seconds \(line 3\)"):
        import_csv(path, columns={"conversation_id": "id", "customer_id": "customer",
                                  "created_at": "created", "handle_seconds": "secs"})


@pytest.mark.parametrize(("column", "value", "message"), [
    ("Conversation rating", "three",
     r"conversations_export\.csv: column conversation_rating: 1 row is not ratings \(numbers "
     r"1 to 5\) \(line 2\)"),
    ("Time to admin reply", "36OO",
     r"conversations_export\.csv: column time_to_admin_reply: 1 row is not numbers of "
     r"seconds \(line 2\)"),
])
def test_intercom_rating_or_seconds_that_are_not_numbers_are_errors(tmp_path, column, value,
                                                                     message):
    # Before: 'three' and '36OO' became empty (no rating, no reply time) without a word.
    src = Path(__file__).resolve().parent / "fixtures" / "intercom" / "conversations_export.csv"
    df = pd.read_csv(src, dtype=str, keep_default_na=False)
    df.loc[0, column] = value
    path = tmp_path / "conversations_export.csv"
    df.to_csv(path, index=False)
    with pytest.raises(DataError, match=message):
        import_intercom(path)


def test_intercom_json_rating_that_is_not_a_number_names_the_row(tmp_path):
    path = tmp_path / "conversations.json"
    path.write_text('{"conversations": [{"id": "1", "created_at": 1709542800, '
                    '"contacts": {"contacts": [{"id": "u1"}]}, "conversation_rating": '
                    '{"rating": "three"}}]}')
    with pytest.raises(DataError, match=r"conversations\.json: column "
                       r"conversation_rating\.rating: 1 row is not ratings .*\(row 0\)"):
        import_intercom(path)


def test_cli_validate_date_only_with_timezone_is_one_line_exit_2(tmp_path, capsys):
    path = _conv(tmp_path, "2025-01-07T10:00:00Z,,", "2025-01-07,,")
    assert main(["validate", "--conversations", str(path), "--timezone", "UTC"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err == ["error: conversations.csv: column created_at: 1 row is a date without a "
                   "time of day (give the time and offset, e.g. 2025-01-06T09:00:00Z) "
                   "(line 3)"]


def _trial(arms: tuple[str, ...]) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Small canonical tables: customers cycling through ``arms``, two conversations each."""
    t0 = pd.Timestamp("2025-01-01T00:00:00Z")
    n = 60
    ids = [f"c{i}" for i in range(n)]
    customers = pd.DataFrame({"customer_id": ids, "monthly_spend": 10.0,
                              "revenue_start": 100.0 + np.arange(n) % 7,
                              "revenue_end": 95.0 + np.arange(n) % 11})
    assignments = pd.DataFrame({"customer_id": ids, "experiment": "x",
                                "arm": [arms[i % len(arms)] for i in range(n)],
                                "assigned_at": t0, "bucket": 0.5})
    cid = np.repeat(ids, 2)
    m = len(cid)
    conversations = pd.DataFrame({
        "conversation_id": [f"v{i}" for i in range(m)], "customer_id": cid,
        "created_at": t0 + pd.to_timedelta(1 + np.arange(m) % 50, unit="D"),
        "first_response_at": pd.NaT, "handle_seconds": 100.0 + 37.0 * (np.arange(m) % 13),
        "csat": np.where(np.arange(m) % 3 == 0, "bad", "good"), "csat_scale": "good-bad"})
    return customers, conversations, assignments


def test_arm_differing_only_in_case_is_an_error_without_diagnostics():
    # Before: with diagnostics off, the 'Fast' customers were dropped without a word.
    tables = _trial(("fast", "one_business_day", "Fast"))
    with pytest.raises(DataError, match=r"assignments: column arm: arm 'Fast' \(20 customers\) "
                       r"differs from control 'fast' or treatment 'one_business_day' only in "
                       r"case or spaces"):
        analyze(*tables, diagnostics=False, cuped=False)


def test_arm_outside_the_comparison_is_a_warning_naming_it_and_its_count():
    tables = _trial(("fast", "one_business_day", "slow"))
    with pytest.warns(DataWarning, match=r"assignments: arm 'slow' \(20 customers\) is neither "
                      r"control 'fast' nor treatment 'one_business_day': its customers are left "
                      r"out of the comparison"):
        analyze(*tables, diagnostics=False, cuped=False)


def test_cli_analyze_no_diagnostics_arm_typo_is_one_line_exit_2(tmp_path, capsys):
    customers, conversations, assignments = _trial(("fast", "one_business_day", "Fast"))
    for name, df in (("customers", customers), ("conversations", conversations),
                     ("assignments", assignments)):
        schema.write_table(df, tmp_path / f"{name}.csv")
    out = tmp_path / "out"
    argv = ["analyze", *(x for name in ("customers", "conversations", "assignments")
                         for x in (f"--{name}", str(tmp_path / f"{name}.csv"))),
            "--out", str(out), "--no-diagnostics"]
    assert main(argv) == 2
    err = [x for x in capsys.readouterr().err.splitlines() if not x.startswith("warning: ")]
    assert len(err) == 1
    assert err[0].startswith("error: assignments: column arm: arm 'Fast'")
    assert not out.exists() or not any(out.iterdir())
