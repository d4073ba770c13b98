"""Zendesk importer: field mapping on fixture rows, warehouse derivations, errors."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from frt_experiments import DataError, import_zendesk, schema

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "zendesk"
API = FIX / "api"


def _row(df: pd.DataFrame, conversation_id: str) -> pd.Series:
    return df.set_index(schema.CONVERSATION_ID).loc[conversation_id]


def test_api_first_response_is_created_plus_calendar_minutes() -> None:
    conv = import_zendesk(API).conversations
    # ticket 102: created 2024-03-04T16:40Z, reply_time_in_minutes.calendar = 1010
    # -> 16:40 + 16 h 50 min = 2024-03-05T09:30Z; business 80 min = 4800 s.
    row = _row(conv, "102")
    assert row[schema.FIRST_RESPONSE_AT] == pd.Timestamp("2024-03-05T09:30:00Z")
    assert row[schema.FIRST_RESPONSE_BUSINESS_SECONDS] == 4800.0
    assert row[schema.CUSTOMER_ID] == "9002"
    assert row[schema.CHANNEL] == "web"


def test_api_csat_good_bad_and_offered_unoffered_are_not_ratings() -> None:
    conv = import_zendesk(API).conversations.set_index(schema.CONVERSATION_ID)
    assert conv.loc["101", schema.CSAT] == "good"
    assert conv.loc["103", schema.CSAT] == "bad"
    assert conv.loc["101", schema.CSAT_SCALE] == schema.SCALE_GOOD_BAD
    assert conv.loc[["102", "104"], schema.CSAT].isna().all()  # offered, unoffered
    assert conv.loc[["102", "104"], schema.CSAT_SCALE].isna().all()


def test_api_deleted_dropped_unreplied_empty_solved_at_closes() -> None:
    conv = import_zendesk(API).conversations.set_index(schema.CONVERSATION_ID)
    assert "105" not in conv.index  # status deleted
    assert pd.isna(conv.loc["104", schema.FIRST_RESPONSE_AT])
    assert conv.loc["101", schema.CLOSED_AT] == pd.Timestamp("2024-03-04T15:00:00Z")


def test_api_time_field_gives_handle_seconds_else_zero_with_note() -> None:
    with_field = import_zendesk(API, time_field=555).conversations
    assert _row(with_field, "101")[schema.HANDLE_SECONDS] == 420.0
    assert _row(with_field, "102")[schema.HANDLE_SECONDS] == 0.0
    without = import_zendesk(API)
    assert (without.conversations[schema.HANDLE_SECONDS] == 0).all()
    assert any("handle_seconds is 0" in n for n in without.notes)


def test_api_inline_metric_set(tmp_path: Path) -> None:
    tickets = [{"id": 7, "requester_id": 1, "created_at": "2024-01-02T08:00:00+01:00",
                "status": "open", "metric_set": {"reply_time_in_minutes":
                                                 {"calendar": 61, "business": 1}}}]
    f = tmp_path / "t.json"
    f.write_text(json.dumps({"tickets": tickets}))
    row = import_zendesk(f).conversations.iloc[0]
    assert row[schema.CREATED_AT] == pd.Timestamp("2024-01-02T07:00:00Z")
    assert row[schema.FIRST_RESPONSE_AT] == pd.Timestamp("2024-01-02T08:01:00Z")
    assert row[schema.FIRST_RESPONSE_BUSINESS_SECONDS] == 60.0


def test_warehouse_mapping_and_deleted_tickets() -> None:
    result = import_zendesk(FIX)
    conv = result.conversations.set_index(schema.CONVERSATION_ID)
    # ticket_data.csv has 10 tickets, 2 of them deleted (1595, 11013).
    assert len(conv) == 8
    assert {"1595", "11013"}.isdisjoint(conv.index)
    assert conv.loc["16988", schema.CUSTOMER_ID] == "1500656884401"
    assert conv.loc["16988", schema.CREATED_AT] == pd.Timestamp("2020-12-22T00:19:23Z")
    # ticket 11071 status history: solved 2020-11-14 11:01:27, then closed the day after.
    assert conv.loc["11071", schema.CLOSED_AT] == pd.Timestamp("2020-11-14T11:01:27Z")
    assert conv[schema.CSAT].isna().all()


def test_warehouse_first_public_agent_comment(tmp_path: Path) -> None:
    d = tmp_path / "zd"
    shutil.copytree(FIX, d, ignore=shutil.ignore_patterns("api"))
    extra = (
        # ticket 11071, created 2020-08-28 18:06:36, requester 2222, agent 1111 (user_data)
        "1,2020-10-02,b,2020-08-28 18:06:36,FALSE,TRUE,11071,FALSE,2222,FALSE\n"  # requester
        "2,2020-10-02,b,2020-08-28 19:00:00,FALSE,FALSE,11071,FALSE,1111,FALSE\n"  # private
        "3,2020-10-02,b,2020-08-28 20:15:00,FALSE,TRUE,11071,FALSE,2222,FALSE\n"  # requester
        "4,2020-10-02,b,2020-08-29 09:30:00,FALSE,TRUE,11071,FALSE,1111,FALSE\n"  # agent: first
        "5,2020-10-02,b,2020-08-29 10:30:00,FALSE,TRUE,11071,FALSE,1111,FALSE\n"
        "6,2020-10-02,b,2020-08-28 21:00:00,FALSE,TRUE,11071,FALSE,403957746773,FALSE\n"
    )  # 403957746773 is an end-user in user_data.csv: not a reply
    comments = d / "ticket_comment_data.csv"
    comments.write_text(comments.read_text().rstrip("\n") + "\n" + extra)
    conv = import_zendesk(d).conversations.set_index(schema.CONVERSATION_ID)
    assert conv.loc["11071", schema.FIRST_RESPONSE_AT] == pd.Timestamp("2020-08-29T09:30:00Z")
    assert pd.isna(conv.loc["11071", schema.FIRST_RESPONSE_BUSINESS_SECONDS])


def test_billing_joins_customers_and_keeps_billing_only_customers(tmp_path: Path) -> None:
    bill = pd.DataFrame({"customer_id": ["9001", "9002", "9003", "9999"],
                         "monthly_spend": [10, 20, 30, 40], "revenue_start": [10, 20, 30, 40],
                         "revenue_end": [10, 0, 30, 45]})
    result = import_zendesk(API, billing=bill)
    assert result.customers is not None
    assert sorted(result.customers[schema.CUSTOMER_ID]) == ["9001", "9002", "9003", "9999"]
    assert import_zendesk(API).customers is None


def test_billing_by_email_rekeys_conversations() -> None:
    bill = pd.DataFrame({"customer_id": ["ana@example.com", "BO@example.com", "cy@example.com"],
                         "monthly_spend": [1, 2, 3], "revenue_start": [1, 2, 3],
                         "revenue_end": [1, 2, 3]})
    result = import_zendesk(API, billing=bill, billing_key="email")
    conv = result.conversations.set_index(schema.CONVERSATION_ID)
    assert conv.loc["101", schema.CUSTOMER_ID] == "ana@example.com"
    assert conv.loc["102", schema.CUSTOMER_ID] == "bo@example.com"


def test_billing_missing_customer_is_an_error_listing_them() -> None:
    bill = pd.DataFrame({"customer_id": ["9001"], "monthly_spend": [1], "revenue_start": [1],
                         "revenue_end": [1]})
    with pytest.raises(DataError, match=r"2 customers with conversations have no billing "
                       r"row \(9002, 9003\)"):
        import_zendesk(API, billing=bill)


def test_missing_column_names_file_and_column(tmp_path: Path) -> None:
    d = tmp_path / "zd"
    d.mkdir()
    pd.read_csv(FIX / "ticket_data.csv", dtype=str).drop(columns="requester_id").to_csv(
        d / "ticket_data.csv", index=False)
    with pytest.raises(DataError, match=r"ticket_data\.csv: column requester_id: missing"):
        import_zendesk(d)


def test_missing_file_and_bad_timestamp(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"holds neither ticket_data\.csv \(warehouse layout\) "
                       r"nor tickets\.json"):
        import_zendesk(tmp_path)
    with pytest.raises(DataError, match=r"nope\.json: tickets file not found"):
        import_zendesk(tmp_path / "nope.json")
    f = tmp_path / "tickets.json"
    f.write_text(json.dumps({"tickets": [{"id": 1, "requester_id": 2, "created_at": "soon"}]}))
    with pytest.raises(DataError, match=r"tickets\.json: column created_at: 1 row is not "
                       "parseable as timestamps"):
        import_zendesk(f)


def test_bad_billing_key() -> None:
    with pytest.raises(ValueError, match="billing_key must be one of id, email, external_id"):
        import_zendesk(API, billing=FIX / "none.csv", billing_key="name")


def test_bad_timestamp_names_its_file_line(tmp_path: Path) -> None:
    d = tmp_path / "zd"
    d.mkdir()
    t = pd.read_csv(FIX / "ticket_data.csv", dtype=str)
    t.loc[t["id"] == "14173", "created_at"] = "yesterday"  # file line 4, after a deleted row
    t.to_csv(d / "ticket_data.csv", index=False)
    with pytest.raises(DataError, match=r"ticket_data\.csv: column created_at: 1 row is not "
                       r"parseable as timestamps \(line 4\)"):
        import_zendesk(d)
