"""Intercom importer: API JSON, CSV export and warehouse layouts; history dedup; errors."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from frt_experiments import DataError, import_intercom, schema

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "intercom"
API = FIX / "api" / "conversations.json"
CSV = FIX / "conversations_export.csv"


def test_api_mapping_by_hand() -> None:
    conv = import_intercom(API).conversations.set_index(schema.CONVERSATION_ID)
    row = conv.loc["2001"]
    # created_at 1709543700 = 2024-03-04 09:15:00 UTC; first_admin_reply_at 1709547300
    # = 10:15:00 UTC; last_close_at 1709559000 = 13:30:00 UTC.
    assert row[schema.CUSTOMER_ID] == "c-1"
    assert row[schema.CREATED_AT] == pd.Timestamp("2024-03-04T09:15:00Z")
    assert row[schema.FIRST_RESPONSE_AT] == pd.Timestamp("2024-03-04T10:15:00Z")
    assert row[schema.CLOSED_AT] == pd.Timestamp("2024-03-04T13:30:00Z")
    assert row[schema.FIRST_RESPONSE_BUSINESS_SECONDS] == 3600.0
    assert row[schema.HANDLE_SECONDS] == 600.0  # adjusted_handling_time over handling_time
    assert (row[schema.CSAT], row[schema.CSAT_SCALE]) == ("4", schema.SCALE_1_5)
    assert row[schema.CHANNEL] == "email"


def test_api_unrated_unreplied_and_admin_initiated() -> None:
    conv = import_intercom(API).conversations.set_index(schema.CONVERSATION_ID)
    assert pd.isna(conv.loc["2002", schema.CSAT])
    assert pd.isna(conv.loc["2002", schema.FIRST_RESPONSE_AT])
    assert conv.loc["2002", schema.HANDLE_SECONDS] == 0.0
    assert conv.loc["2003", schema.HANDLE_SECONDS] == 1200.0  # handling_time fallback
    # 2004 was started by an admin: the customer is still the contact.
    assert conv.loc["2004", schema.CUSTOMER_ID] == "c-3"


def test_api_conversation_without_contact_is_an_error(tmp_path: Path) -> None:
    f = tmp_path / "c.json"
    f.write_text(json.dumps([{"id": "1", "created_at": 1709543700,
                              "source": {"author": {"type": "admin", "id": "9"}}}]))
    with pytest.raises(DataError, match=r"c\.json: column contacts: 1 row is without a contact"):
        import_intercom(f)


def test_csv_export_mapping() -> None:
    result = import_intercom(CSV)
    conv = result.conversations.set_index(schema.CONVERSATION_ID)
    assert conv.loc["3001", schema.FIRST_RESPONSE_AT] == pd.Timestamp("2024-03-04T09:45:30Z")
    assert conv.loc["3001", schema.FIRST_RESPONSE_BUSINESS_SECONDS] == 2730.0
    assert conv.loc["3003", schema.CSAT] == "3"
    assert conv.loc["3002", schema.CUSTOMER_ID] == "u-11"
    assert any("handle_seconds is 0" in n for n in result.notes)


def test_csv_export_missing_column(tmp_path: Path) -> None:
    f = tmp_path / "export.csv"
    pd.read_csv(CSV, dtype=str).drop(columns="Contact ID").to_csv(f, index=False)
    with pytest.raises(DataError, match=r"export\.csv: column customer_id: missing: the export "
                       "needs one of the columns contact_id"):
        import_intercom(f)


def test_warehouse_takes_latest_history_row() -> None:
    conv = import_intercom(FIX).conversations.set_index(schema.CONVERSATION_ID)
    # conversation_history_data.csv: 3 rows for ...1311 and 6 for ...1372 (out of order);
    # the latest by updated_at are closed at 2020-11-02 14:17:59 and 2020-11-06 13:55:01.
    assert sorted(conv.index) == ["156643300001311", "156643300001372"]
    assert conv.loc["156643300001372", schema.CLOSED_AT] == pd.Timestamp(
        "2020-11-06T13:55:01Z")
    assert conv.loc["156643300001311", schema.CLOSED_AT] == pd.Timestamp(
        "2020-11-02T14:17:59Z")
    assert conv.loc["156643300001311", schema.CUSTOMER_ID] == "5f7295ca37f0d717d37dfddb"


def test_warehouse_latest_row_wins_for_rating(tmp_path: Path) -> None:
    d = tmp_path / "ic"
    shutil.copytree(FIX, d, ignore=shutil.ignore_patterns("api", "*.csv"))
    h = pd.read_csv(FIX / "conversation_history_data.csv", dtype=str)
    # an older row says rating 5, the latest (2020-11-06 13:55:01) says 2
    latest = h["updated_at"] == "2020-11-06 13:55:01"
    h.loc[latest, "conversation_rating_value"] = "2"
    h.loc[h["updated_at"] == "2020-11-05 07:46:32", "conversation_rating_value"] = "5"
    h.to_csv(d / "conversation_history_data.csv", index=False)
    parts = pd.DataFrame({
        "id": ["p1", "p1", "p2", "p3"], "updated_at": ["2020-11-04 05:00:00",
                                                      "2020-11-04 06:00:00",
                                                      "2020-11-04 04:00:00",
                                                      "2020-11-04 03:30:00"],
        "_fivetran_synced": ["2020-11-05"] * 4,
        "author_type": ["admin", "admin", "admin", "bot"],
        "conversation_id": ["156643300001372"] * 4,
        "created_at": ["2020-11-04 05:00:00", "2020-11-04 05:00:00", "2020-11-04 04:00:00",
                       "2020-11-04 03:30:00"],
        "part_type": ["comment", "comment", "note", "comment"], "body": ["hi", "hi", "x", "y"],
    })
    parts.to_csv(d / "conversation_part_history_data.csv", index=False)
    conv = import_intercom(d).conversations.set_index(schema.CONVERSATION_ID)
    assert conv.loc["156643300001372", schema.CSAT] == "2"
    # the note (internal) and the bot reply do not count: first admin comment at 05:00
    assert conv.loc["156643300001372", schema.FIRST_RESPONSE_AT] == pd.Timestamp(
        "2020-11-04T05:00:00Z")
    assert pd.isna(conv.loc["156643300001311", schema.FIRST_RESPONSE_AT])


def test_warehouse_missing_table(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"conversation_history_data\.csv: conversation history "
                       "table not found"):
        import_intercom(tmp_path)


def test_billing_by_external_id_from_api_contacts() -> None:
    bill = pd.DataFrame({"customer_id": ["acct-1", "acct-2", "acct-3"],
                         "monthly_spend": [5, 6, 7], "revenue_start": [5, 6, 7],
                         "revenue_end": [5, 6, 0]})
    with pytest.raises(DataError, match=r"1 customer has no external_id .*\(c-3\)"):
        import_intercom(API, billing=bill, billing_key="external_id")


def test_zendesk_json_given_to_intercom_says_so() -> None:
    tickets = FIX.parent / "zendesk" / "api" / "tickets.json"
    with pytest.raises(DataError, match=r"tickets\.json: holds 'tickets', expected "
                       r"'conversations' or 'data'"):
        import_intercom(tickets)


def test_result_repr_summary_and_write(tmp_path: Path) -> None:
    result = import_intercom(CSV)
    assert repr(result) == ("ImportResult(source='intercom (CSV export)', conversations=3 "
                            "rows, customers=None)")
    assert result.summary().splitlines()[0] == (
        "intercom (CSV export): 3 conversations of 2 customers; 2 with a first response, "
        "2 rated")
    (path,) = result.write(tmp_path)
    back = schema.read_table(path, "conversations")
    assert back[schema.FIRST_RESPONSE_AT].equals(result.conversations[schema.FIRST_RESPONSE_AT])
