"""Readers that diagnose what they see: Excel CSV dialects, UTF-16, bare carriage returns,
workbooks, daylight-saving local times, and the import checks built on them (issue 14)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from frt_experiments import DataError, cli, import_intercom, import_zendesk, schema
from frt_experiments.errors import DataWarning
from frt_experiments.ingest import _read

FIX = Path(__file__).resolve().parents[1] / "fixtures"
READERS = FIX / "readers"
EXPECTED_HANDLE = [312.5, 95.0, 0.0, 604.25]


@pytest.mark.parametrize("name", [
    "conversations_excel_semicolon.csv",  # BOM, ';', decimal commas, CRLF
    "conversations_utf16.txt",            # UTF-16 LE with BOM, tabs
    "conversations_bare_cr.csv",          # an unquoted \r inside the subject
])
def test_csv_dialects_read_as_the_same_table(name: str) -> None:
    conv = schema.read_table(READERS / name, "conversations")
    assert list(conv[schema.CONVERSATION_ID]) == ["c-101", "c-102", "c-103", "c-104"]
    assert list(conv[schema.HANDLE_SECONDS]) == EXPECTED_HANDLE
    assert conv.loc[1, schema.FIRST_RESPONSE_AT] == pd.Timestamp("2025-03-03T20:30:00Z")


_NEEDS_OPENPYXL = pytest.mark.skipif(not _read.excel_available(),
                                     reason="the 'excel' extra (openpyxl) is not installed")


@pytest.mark.parametrize("name", [
    "conversations_excel_semicolon.csv", "conversations_utf16.txt",
    "conversations_bare_cr.csv", pytest.param("conversations.xlsx", marks=_NEEDS_OPENPYXL),
])
def test_frt_validate_accepts_each_dialect(name: str, capsys: pytest.CaptureFixture[str]
                                           ) -> None:
    # Before: 'longer than the header', a UTF-8 decode error, 'empty (a value is required)'.
    status = cli.main(["validate", "--conversations", str(READERS / name)])
    out, err = capsys.readouterr()
    assert status == 0, err
    assert f"{name}: 4 conversations ok" in out


def test_reader_notes_bare_carriage_return_and_decimal_commas() -> None:
    cr = _read.read_tabular(READERS / "conversations_bare_cr.csv")
    assert cr.frame.loc[3, "subject"] == "Card declined please help"
    assert cr.notes == ("conversations_bare_cr.csv: 1 bare carriage return inside text "
                        "fields read as spaces",)
    semi = _read.read_tabular(READERS / "conversations_excel_semicolon.csv")
    assert (semi.delimiter, semi.encoding) == (";", "utf-8-sig")
    assert "decimal commas read as points in handle_seconds" in semi.notes[0]
    utf16 = _read.read_tabular(READERS / "conversations_utf16.txt")
    assert (utf16.delimiter, utf16.encoding) == ("\t", "utf-16")


def test_workbook_is_read_through_openpyxl() -> None:
    pytest.importorskip("openpyxl")
    conv = schema.read_table(READERS / "conversations.xlsx", "conversations")
    assert list(conv[schema.HANDLE_SECONDS]) == EXPECTED_HANDLE
    assert conv.loc[0, schema.CSAT] == "5"


def test_workbook_without_the_extra_names_it(monkeypatch: pytest.MonkeyPatch,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(_read, "excel_available", lambda: False)
    status = cli.main(["validate", "--conversations", str(READERS / "conversations.xlsx")])
    err = capsys.readouterr().err
    assert status == 2
    assert err == ("error: conversations.xlsx: is an Excel workbook; reading it needs the "
                   "optional extra 'excel': pip install 'frt-experiments[excel]' (or save the "
                   "sheet as CSV UTF-8)\n")


def test_dst_gap_shifts_forward_and_repeat_is_first_occurrence() -> None:
    # Before: "3 rows are not parseable as ISO 8601 timestamps".
    with pytest.warns(DataWarning) as caught:
        conv = schema.read_table(READERS / "conversations_new_york_local.csv",
                                 "conversations", timezone="America/New_York")
    messages = [str(w.message) for w in caught]
    assert ("conversations_new_york_local.csv: column created_at: 2 rows are in the "
            "spring-forward gap of America/New_York (times its clocks skipped): shifted "
            "forward to the first time after the gap (lines 3, 4)") in messages
    assert ("conversations_new_york_local.csv: column created_at: 1 row is in the hour "
            "America/New_York repeats in autumn: read as its first occurrence (daylight "
            "time) (line 5)") in messages
    created = conv.set_index(schema.CONVERSATION_ID)[schema.CREATED_AT]
    assert created["ny-1"] == pd.Timestamp("2025-03-09T06:50:00Z")  # 01:50 EST
    assert created["ny-2"] == pd.Timestamp("2025-03-09T07:00:00Z")  # 02:15 -> 03:00 EDT
    assert created["ny-3"] == pd.Timestamp("2025-03-09T07:00:00Z")  # 02:45 -> 03:00 EDT
    assert created["ny-4"] == pd.Timestamp("2025-11-02T05:30:00Z")  # 01:30 EDT, the first
    assert created["ny-5"] == pd.Timestamp("2025-11-03T15:00:00Z")  # 10:00 EST
    # shifting forward keeps every reply after its conversation
    assert (conv[schema.FIRST_RESPONSE_AT] >= conv[schema.CREATED_AT]).all()


def test_frt_validate_prints_the_dst_warnings(capsys: pytest.CaptureFixture[str]) -> None:
    status = cli.main(["validate", "--conversations",
                       str(READERS / "conversations_new_york_local.csv"),
                       "--timezone", "America/New_York"])
    _, err = capsys.readouterr()
    assert status == 0
    assert err.count("warning: ") == 2
    assert "2 rows are in the spring-forward gap of America/New_York" in err


def test_intercom_business_frt_above_calendar_is_emptied_with_warning() -> None:
    # 4101: first admin reply 10 minutes after creation, time_to_admin_reply 7200 s.
    with pytest.warns(DataWarning, match=r"1 conversation has a business-hours first "
                      r"response time above the calendar one .*\(conversation_id 4101\)"):
        result = import_intercom(FIX / "intercom" / "api" / "business_above_calendar.json")
    conv = result.conversations.set_index(schema.CONVERSATION_ID)
    assert pd.isna(conv.loc["4101", schema.FIRST_RESPONSE_BUSINESS_SECONDS])
    assert conv.loc["4102", schema.FIRST_RESPONSE_BUSINESS_SECONDS] == 1800.0


def test_naive_timestamps_on_import_are_noted_with_their_zone() -> None:
    result = import_intercom(FIX / "intercom" / "conversations_export.csv")
    assert ("timestamps without a UTC offset (conversation_created_at, "
            "conversation_first_response_at, conversation_closed_at) were read as UTC time; "
            "give --timezone "
            "(timezone=) if the export used another zone") in result.notes
    berlin = import_intercom(FIX / "intercom" / "conversations_export.csv",
                             timezone="Europe/Berlin")
    assert any("read as Europe/Berlin time" in n for n in berlin.notes)
    # API JSON holds epoch seconds: nothing naive, no note
    api = import_intercom(FIX / "intercom" / "api" / "conversations.json")
    assert not any("without a UTC offset" in n for n in api.notes)


def test_import_prints_the_naive_note(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                      ) -> None:
    assert cli.main(["import", "intercom", str(FIX / "intercom" / "conversations_export.csv"),
                     "--out", str(tmp_path)]) == 0
    assert "note: timestamps without a UTC offset" in capsys.readouterr().out


@pytest.mark.parametrize(("field", "message"), [
    ("999", r"tickets\.json: column custom_fields: time field 999 \(--time-field\) is on no "
            r"ticket \(custom field ids present: 555, 777\)"),
    ("777", r"tickets\.json: column custom_fields: time field 777 \(--time-field\): 1 row is "
            r"not a number of seconds \(ticket 101\)"),
])
def test_time_field_missing_or_not_numeric_is_an_error(field: str, message: str,
                                                       capsys: pytest.CaptureFixture[str],
                                                       tmp_path: Path) -> None:
    # Before: handle time silently 0 and no note.
    with pytest.raises(DataError, match=message):
        import_zendesk(FIX / "zendesk" / "api", time_field=field)
    status = cli.main(["import", "zendesk", str(FIX / "zendesk" / "api"), "--time-field",
                       field, "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert status == 2
    assert err.startswith("error: tickets.json: column custom_fields: time field")
    assert err.count("\n") == 1
    assert not (tmp_path / "o").exists()


def test_ids_keep_leading_zeros_and_every_digit():
    """'0012' became '12' (and could merge with customer 12); JSON integers beyond 2**53 must
    not pass through float64."""
    import pandas as pd

    from frt_experiments.ingest._common import ids

    text = ids(pd.Series(["0012", "12", " +4930123 ", None, ""], dtype="object"))
    assert text.tolist()[:3] == ["0012", "12", "+4930123"]
    assert text.isna().tolist()[3:] == [True, True]
    mixed = ids(pd.Series([12345678901234567, 12345678901234568, 17.0, "a1"], dtype="object"))
    assert mixed.tolist() == ["12345678901234567", "12345678901234568", "17", "a1"]
    assert ids(pd.Series([3.0, 4.5, float("nan")])).tolist()[:2] == ["3", "4.5"]
