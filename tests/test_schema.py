"""Every validation rule of the canonical tables, each with a bad file and its message."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from frt_experiments import schema
from frt_experiments.cli import main
from frt_experiments.errors import DataError, DataWarning

CUSTOMERS_OK = """customer_id,monthly_spend,revenue_start,revenue_end
c1,10,100,100
c2,20,200,0
c3,5,50,60
"""

CONVERSATIONS_OK = (
    "conversation_id,customer_id,created_at,first_response_at,handle_seconds,csat,csat_scale\n"
    """v1,c1,2025-01-06T10:00:00+00:00,2025-01-06T12:00:00+00:00,300,5,1-5
v2,c1,2025-01-07T10:00:00Z,,120,,
v3,c2,2025-01-07T10:00:00-05:00,2025-01-08T10:00:00-05:00,0,good,good-bad
"""
)

ASSIGNMENTS_OK = """customer_id,experiment,arm,assigned_at,bucket
c1,frt,fast,2025-01-01T00:00:00+00:00,0.1
c2,frt,one_business_day,2025-01-01T00:00:00+00:00,0.7
"""


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def _messages(path: Path, table: str, **kwargs) -> list[str]:
    with pytest.raises(DataError) as info:
        schema.read_table(path, table, **kwargs)
    return [str(p) for p in info.value.problems]


def test_valid_tables_are_typed(tmp_path):
    conv = schema.read_table(_write(tmp_path, "conversations.csv", CONVERSATIONS_OK),
                             "conversations")
    assert str(conv[schema.CREATED_AT].dtype) == "datetime64[ns, UTC]"
    # -05:00 offset converted to UTC
    assert conv[schema.CREATED_AT].iloc[2] == pd.Timestamp("2025-01-07T15:00:00Z")
    assert conv[schema.FIRST_RESPONSE_AT].isna().tolist() == [False, True, False]
    assert conv[schema.HANDLE_SECONDS].dtype == np.float64
    assert schema.satisfied(conv).tolist()[0] == 1.0
    assert np.isnan(schema.satisfied(conv).tolist()[1])
    assert schema.satisfied(conv).tolist()[2] == 1.0
    cust = schema.read_table(_write(tmp_path, "customers.csv", CUSTOMERS_OK), "customers")
    assert cust[schema.CUSTOMER_ID].tolist() == ["c1", "c2", "c3"]


def test_missing_file(tmp_path):
    msgs = _messages(tmp_path / "nope.csv", "customers")
    assert msgs[0].startswith("nope.csv: file not found")


def test_empty_file(tmp_path):
    assert _messages(_write(tmp_path, "customers.csv", ""), "customers") == [
        "customers.csv: file is empty"]


def test_header_only_file(tmp_path):
    path = _write(tmp_path, "customers.csv", CUSTOMERS_OK.splitlines()[0] + "\n")
    assert _messages(path, "customers") == ["customers.csv: file has no rows"]


def test_missing_column(tmp_path):
    # revenue is optional (without it NRR is not analysed), but comes in pairs
    text = "customer_id,monthly_spend,revenue_start\nc1,10,100\n"
    msgs = _messages(_write(tmp_path, "customers.csv", text), "customers")
    assert msgs == ["customers.csv: column revenue_start without column revenue_end (NRR "
                    "needs both)"]
    msgs = _messages(_write(tmp_path, "customers.csv", "monthly_spend\n10\n"), "customers")
    assert msgs == ["customers.csv: missing required column customer_id"]


def test_partial_tables_are_valid(tmp_path):
    """An export without ratings, handle time or revenue supports fewer metrics, not none."""
    from frt_experiments.schema import read_table

    cust = read_table(_write(tmp_path, "customers.csv", "customer_id\nc1\nc2\n"), "customers")
    assert cust["customer_id"].tolist() == ["c1", "c2"]
    conv = read_table(_write(tmp_path, "conversations.csv",
                             "conversation_id,customer_id,created_at,first_response_at\n"
                             "v1,c1,2025-01-06T10:00:00Z,\n"), "conversations")
    assert conv["csat"].isna().all()
    assert "handle_seconds" not in conv.columns
    msgs = _messages(_write(tmp_path, "conversations.csv",
                            "conversation_id,customer_id,created_at,first_response_at,csat\n"
                            "v1,c1,2025-01-06T10:00:00Z,,5\n"), "conversations")
    assert msgs == ["conversations.csv: column csat without column csat_scale (ratings need "
                    "their scale)"]


def test_duplicate_column(tmp_path):
    text = "customer_id,monthly_spend,revenue_start,revenue_end,monthly_spend\nc1,1,1,1,1\n"
    msgs = _messages(_write(tmp_path, "customers.csv", text), "customers")
    assert msgs == ["customers.csv: duplicate columns monthly_spend"]


def test_duplicate_ids_name_lines(tmp_path):
    text = CUSTOMERS_OK + "c1,1,1,1\nc4,1,1,1\nc2,1,1,1\n"
    msgs = _messages(_write(tmp_path, "customers.csv", text), "customers")
    assert msgs == ["customers.csv: column customer_id: 2 rows are repeating an earlier "
                    "customer_id (lines 5, 7)"]


def test_duplicate_conversation_ids(tmp_path):
    text = CONVERSATIONS_OK.replace("v2,", "v1,")
    msgs = _messages(_write(tmp_path, "conversations.csv", text), "conversations")
    assert msgs == ["conversations.csv: column conversation_id: 1 row is repeating an earlier "
                    "conversation_id (line 3)"]


def test_unparsable_timestamp(tmp_path):
    text = CONVERSATIONS_OK.replace("2025-01-07T10:00:00Z", "next tuesday+01:00")
    msgs = _messages(_write(tmp_path, "conversations.csv", text), "conversations")
    assert msgs == ["conversations.csv: column created_at: 1 row is not parseable as "
                    "ISO 8601 timestamps (line 3)"]


def test_naive_timestamp_is_an_error_unless_zone_named(tmp_path):
    text = CONVERSATIONS_OK.replace("2025-01-07T10:00:00Z", "2025-01-07T10:00:00")
    path = _write(tmp_path, "conversations.csv", text)
    msgs = _messages(path, "conversations")
    assert msgs == ["conversations.csv: column created_at: 1 row is time-zone naive (give an "
                    "offset, or name the zone: timezone= in Python, --timezone on the command "
                    "line) (line 3)"]
    conv = schema.read_table(path, "conversations", timezone="Europe/Paris")
    assert conv[schema.CREATED_AT].iloc[1] == pd.Timestamp("2025-01-07T09:00:00Z")


def test_first_response_before_created(tmp_path):
    text = CONVERSATIONS_OK.replace("2025-01-06T12:00:00+00:00", "2025-01-06T09:59:00+00:00")
    msgs = _messages(_write(tmp_path, "conversations.csv", text), "conversations")
    assert msgs == ["conversations.csv: column first_response_at: 1 row is earlier than "
                    "created_at (line 2)"]


def test_negative_handle_time(tmp_path):
    text = CONVERSATIONS_OK.replace(",300,", ",-3,").replace(",120,", ",-1,")
    msgs = _messages(_write(tmp_path, "conversations.csv", text), "conversations")
    assert msgs == ["conversations.csv: column handle_seconds: 2 rows are negative "
                    "(must be >= 0) (lines 2, 3)"]


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (",5,1-5", ",6,1-5", "column csat: 1 row is off the 1-5 scale (integers 1 to 5) (line 2)"),
        (",5,1-5", ",4.5,1-5",
         "column csat: 1 row is off the 1-5 scale (integers 1 to 5) (line 2)"),
        (",good,good-bad", ",meh,good-bad",
         "column csat: 1 row is off the good-bad scale (good or bad) (line 4)"),
        (",5,1-5", ",5,1-10", "column csat_scale: 1 row is not a known scale (1-5, good-bad) "
         "(line 2)"),
        (",5,1-5", ",5,", "column csat_scale: 1 row is empty where csat holds a rating (line 2)"),
    ],
)
def test_ratings_off_scale(tmp_path, old, new, message):
    text = CONVERSATIONS_OK.replace(old, new)
    msgs = _messages(_write(tmp_path, "conversations.csv", text), "conversations")
    assert msgs == [f"conversations.csv: {message}"]


def test_rating_written_as_float_is_normalised(tmp_path):
    text = CONVERSATIONS_OK.replace(",5,1-5", ",4.0,1-5")
    conv = schema.read_table(_write(tmp_path, "conversations.csv", text), "conversations")
    assert conv[schema.CSAT].iloc[0] == "4"


def test_negative_revenue(tmp_path):
    text = CUSTOMERS_OK.replace("c3,5,50,60", "c3,5,50,-60")
    msgs = _messages(_write(tmp_path, "customers.csv", text), "customers")
    assert msgs == ["customers.csv: column revenue_end: 1 row is negative (must be >= 0) "
                    "(line 4)"]


def test_text_in_number_column(tmp_path):
    text = CUSTOMERS_OK.replace("c2,20,", "c2,twenty,")
    msgs = _messages(_write(tmp_path, "customers.csv", text), "customers")
    assert msgs == ["customers.csv: column monthly_spend: 1 row is text, not numbers (line 3)"]


def test_required_value_empty(tmp_path):
    text = CUSTOMERS_OK.replace("c2,20,", "c2,,")
    msgs = _messages(_write(tmp_path, "customers.csv", text), "customers")
    assert msgs == ["customers.csv: column monthly_spend: 1 row is empty (a value is required) "
                    "(line 3)"]


def test_customer_assigned_twice(tmp_path):
    text = ASSIGNMENTS_OK + "c1,frt,one_business_day,2025-01-02T00:00:00+00:00,0.9\n"
    msgs = _messages(_write(tmp_path, "assignments.csv", text), "assignments")
    assert msgs == ["assignments.csv: column customer_id: 1 row is customers assigned twice in "
                    "the same experiment (line 4)"]


def test_bucket_out_of_range(tmp_path):
    text = ASSIGNMENTS_OK.replace(",0.7", ",1.5")
    msgs = _messages(_write(tmp_path, "assignments.csv", text), "assignments")
    assert msgs == ["assignments.csv: column bucket: 1 row is not in [0, 1) (line 3)"]


def test_many_problems_reported_together_with_ellipsis(tmp_path):
    rows = "".join(f"x{i},-1,1,1\n" for i in range(8))
    text = CUSTOMERS_OK + rows
    msgs = _messages(_write(tmp_path, "customers.csv", text), "customers")
    assert msgs == ["customers.csv: column monthly_spend: 8 rows are negative (must be >= 0) "
                    "(lines 5, 6, 7, 8, 9, ...)"]


def test_unknown_customers_cross_reference(tmp_path):
    cust = schema.read_table(_write(tmp_path, "customers.csv", CUSTOMERS_OK), "customers")
    text = CONVERSATIONS_OK.replace("v3,c2", "v3,c9")
    conv = schema.read_table(_write(tmp_path, "conversations.csv", text), "conversations")
    problems = schema.check_tables(cust, conv, names={"customers": "customers.csv",
                                                      "conversations": "conversations.csv"})
    assert [str(p) for p in problems] == [
        "conversations.csv: column customer_id: 1 row is of customers not in customers.csv "
        "(line 4)"]


def test_warning_for_customers_without_revenue(tmp_path):
    text = CUSTOMERS_OK.replace("c3,5,50,60", "c3,5,0,0")
    with pytest.warns(DataWarning, match=r"revenue_start: 1 row is zero"):
        schema.read_table(_write(tmp_path, "customers.csv", text), "customers")


def test_warning_for_conversations_outside_window(tmp_path):
    conv = schema.read_table(_write(tmp_path, "conversations.csv", CONVERSATIONS_OK),
                             "conversations")
    window = (pd.Timestamp("2025-01-07", tz="UTC"), pd.Timestamp("2025-02-01", tz="UTC"))
    with pytest.warns(DataWarning, match=r"1 row is outside the analysis window.*line 2"):
        problems = schema.check_tables(conversations=conv, window=window,
                                       names={"conversations": "conversations.csv"})
    assert problems == []


def test_parquet_round_trip_and_naive_parquet(tmp_path):
    conv = schema.read_table(_write(tmp_path, "conversations.csv", CONVERSATIONS_OK),
                             "conversations")
    out = schema.write_table(conv, tmp_path / "conversations.parquet")
    back = schema.read_table(out, "conversations")
    pd.testing.assert_frame_equal(back, conv)
    naive = conv.assign(created_at=conv[schema.CREATED_AT].dt.tz_localize(None))
    naive.to_parquet(tmp_path / "naive.parquet")
    msgs = _messages(tmp_path / "naive.parquet", "conversations")
    assert msgs == ["naive.parquet: column created_at: 3 rows are time-zone naive (give an "
                    "offset, or name the zone: timezone= in Python, --timezone on the command "
                    "line) (rows 0, 1, 2)"]


def test_csv_round_trip_is_exact(tmp_path):
    conv = schema.read_table(_write(tmp_path, "conversations.csv", CONVERSATIONS_OK),
                             "conversations")
    schema.write_table(conv, tmp_path / "again.csv")
    back = schema.read_table(tmp_path / "again.csv", "conversations")
    pd.testing.assert_frame_equal(back, conv)


def test_write_is_atomic_on_failure(tmp_path, monkeypatch):
    target = tmp_path / "customers.csv"
    target.write_text("original\n")

    def boom(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(pd.DataFrame, "to_csv", boom)
    with pytest.raises(RuntimeError, match="disk full"):
        schema.write_table(pd.DataFrame({"a": [1]}), target)
    assert target.read_text() == "original\n"
    assert [p.name for p in tmp_path.iterdir()] == ["customers.csv"]


def test_in_memory_frames_are_validated():
    df = pd.DataFrame({"customer_id": ["a", "b"], "monthly_spend": [1.0, -2.0],
                       "revenue_start": [1.0, 1.0], "revenue_end": [1.0, 1.0]})
    with pytest.raises(DataError, match=r"customers: column monthly_spend: 1 row is negative "
                       r"\(must be >= 0\) \(row 1\)"):
        schema.validate_customers(df)


# ------------------------------------------------------------------ frt validate (in process)
def test_cli_validate_ok(tmp_path, capsys):
    c = _write(tmp_path, "customers.csv", CUSTOMERS_OK)
    v = _write(tmp_path, "conversations.csv", CONVERSATIONS_OK)
    a = _write(tmp_path, "assignments.csv", ASSIGNMENTS_OK)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        status = main(["validate", "--customers", str(c), "--conversations", str(v),
                       "--assignments", str(a)])
    out = capsys.readouterr()
    assert status == 0, out.err
    assert "conversations.csv: 3 conversations ok" in out.out


def test_cli_validate_reports_every_problem_one_line_each(tmp_path, capsys):
    c = _write(tmp_path, "customers.csv", CUSTOMERS_OK.replace("c3,5,50,60", "c3,5,50,-60"))
    v = _write(tmp_path, "conversations.csv",
               CONVERSATIONS_OK.replace(",300,", ",-3,").replace("v3,c2", "v3,c7"))
    a = _write(tmp_path, "assignments.csv", ASSIGNMENTS_OK.replace("c2,frt", "c8,frt"))
    status = main(["validate", "--customers", str(c), "--conversations", str(v),
                   "--assignments", str(a)])
    err = capsys.readouterr().err.splitlines()
    assert status == 2
    assert err == [
        "error: customers.csv: column revenue_end: 1 row is negative (must be >= 0) (line 4)",
        "error: conversations.csv: column handle_seconds: 1 row is negative (must be >= 0) "
        "(line 2)",
        "error: conversations.csv: column customer_id: 1 row is of customers not in "
        "customers.csv (line 4)",
        "error: assignments.csv: column customer_id: 1 row is of customers not in customers.csv "
        "(line 3)",
    ]
    assert "Traceback" not in "\n".join(err)


def test_cli_validate_missing_file(tmp_path, capsys):
    status = main(["validate", "--customers", str(tmp_path / "none.csv")])
    err = capsys.readouterr().err
    assert status == 2
    assert err.strip() == f"error: none.csv: file not found ({tmp_path / 'none.csv'})"


def test_cli_validate_needs_a_table(capsys):
    assert main(["validate"]) == 2
    assert "give at least one of" in capsys.readouterr().err


def test_cli_version_and_help(capsys):
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    assert capsys.readouterr().out.startswith("frt ")
    assert main([]) == 0
    assert "validate" in capsys.readouterr().out


def test_cli_unknown_argument_is_one_line(capsys):
    assert main(["validate", "--bogus"]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1
    assert "unrecognized arguments: --bogus" in err


def test_float_ids_become_their_text():
    """Ids stored as floats (a Parquet export) are read as the integers they hold."""
    df = pd.DataFrame({"customer_id": [17.0, 17.5, 1e20, np.nan],
                       "monthly_spend": [1.0, 2.0, 3.0, 4.0],
                       "revenue_start": [1.0] * 4, "revenue_end": [1.0] * 4})
    with pytest.raises(DataError, match=r"customer_id: 1 row is empty \(a value is required\)"):
        schema.validate_customers(df)
    out = schema.validate_customers(df.iloc[:3])
    assert out[schema.CUSTOMER_ID].tolist() == ["17", "17.5", "100000000000000000000"]


def test_cli_validate_warns_about_conversations_outside_the_window(tmp_path, capsys):
    v = _write(tmp_path, "conversations.csv", CONVERSATIONS_OK)
    assert main(["validate", "--conversations", str(v),
                 "--window-end", "2025-01-07T00:00:00+00:00"]) == 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert err[0].startswith("warning: conversations.csv: column created_at: ")
    assert "outside the analysis window" in err[0]


def test_row_longer_than_the_header_is_an_error(tmp_path):
    # pandas would silently turn the extra leading fields into an index and shift the columns
    text = CUSTOMERS_OK.replace("c2,20,200,0", "c2,20,200,0,7,8")
    msgs = _messages(_write(tmp_path, "customers.csv", text), "customers")
    assert msgs == ["customers.csv: 1 row is longer than the header (more than 4 fields) "
                    "(line 3)"]


def test_infinite_numbers_are_errors(tmp_path):
    text = CUSTOMERS_OK.replace("c1,10,100,100", "c1,1e400,inf,100")
    msgs = _messages(_write(tmp_path, "customers.csv", text), "customers")
    assert msgs == [
        "customers.csv: column monthly_spend: 1 row is infinite (numbers must be finite) "
        "(line 2)",
        "customers.csv: column revenue_start: 1 row is infinite (numbers must be finite) "
        "(line 2)"]
    df = pd.DataFrame({"customer_id": ["a"], "monthly_spend": [np.inf],
                       "revenue_start": [1.0], "revenue_end": [1.0]})
    with pytest.raises(DataError, match=r"monthly_spend: 1 row is infinite .*\(row 0\)"):
        schema.validate_customers(df)
