"""Freshdesk importer: API JSON tickets with stats, conversations and satisfaction ratings."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from frt_experiments import DataError, import_freshdesk, schema
from frt_experiments.ingest.freshdesk import FRESHDESK_RATINGS

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "freshdesk"


def _conv(path: Path = FIX, **kwargs: object) -> pd.DataFrame:
    return import_freshdesk(path, **kwargs).conversations.set_index(schema.CONVERSATION_ID)


def test_tickets_with_stats_by_hand() -> None:
    result = import_freshdesk(FIX)
    assert result.source == "freshdesk (API JSON)"
    conv = result.conversations.set_index(schema.CONVERSATION_ID)
    # 4105 is spam: dropped, and said so
    assert list(conv.index) == ["4101", "4102", "4103", "4104", "4106"]
    assert any("1 deleted or spam ticket dropped" in n for n in result.notes)
    row = conv.loc["4101"]
    assert row[schema.CUSTOMER_ID] == "77001001"  # requester_id, as text
    assert row[schema.CREATED_AT] == pd.Timestamp("2025-03-03T09:12:40Z")
    assert row[schema.FIRST_RESPONSE_AT] == pd.Timestamp("2025-03-03T10:02:10Z")
    assert row[schema.CLOSED_AT] == pd.Timestamp("2025-03-03T15:30:00Z")  # resolved_at
    assert row[schema.CHANNEL] == "email"
    assert (row[schema.CSAT], row[schema.CSAT_SCALE]) == ("5", schema.SCALE_1_5)  # 103
    # 4102 closed: resolved_at (11:00 on the 4th) rather than closed_at (the 6th)
    assert conv.loc["4102", schema.CLOSED_AT] == pd.Timestamp("2025-03-04T11:00:00Z")
    assert conv.loc["4102", schema.CHANNEL] == "portal"
    # 4103 open, no response yet; 4104 pending (status 3): no closed_at
    assert pd.isna(conv.loc["4103", schema.FIRST_RESPONSE_AT])
    assert pd.isna(conv.loc["4103", schema.CLOSED_AT])
    assert pd.isna(conv.loc["4104", schema.CLOSED_AT])
    assert conv.loc["4103", schema.CHANNEL] == "chat"
    assert (conv[schema.HANDLE_SECONDS] == 0.0).all()
    assert any("handle_seconds is 0" in n for n in result.notes)


def test_ticket_without_stats_takes_the_first_public_agent_reply(tmp_path: Path) -> None:
    # 4106 has "stats": null. Its conversations: the customer's own message (incoming) at
    # 12:00:05, a private note at 12:10, a forward (source 8) at 12:15, the agent's reply at
    # 12:25 -- only the last is a response.
    conv = _conv()
    assert conv.loc["4106", schema.FIRST_RESPONSE_AT] == pd.Timestamp("2025-03-06T12:25:00Z")
    shutil.copy(FIX / "tickets.json", tmp_path / "tickets.json")
    without = _conv(tmp_path / "tickets.json")  # no conversations.json beside it
    assert pd.isna(without.loc["4106", schema.FIRST_RESPONSE_AT])
    assert without.loc["4101", schema.FIRST_RESPONSE_AT] == conv.loc["4101",
                                                                     schema.FIRST_RESPONSE_AT]


def test_inline_conversations_of_a_single_ticket(tmp_path: Path) -> None:
    tickets = json.loads((FIX / "tickets.json").read_text())
    one = dict(tickets[-1])  # GET /api/v2/tickets/4106?include=conversations
    one["conversations"] = [c for c in json.loads((FIX / "conversations.json").read_text())
                            if c["ticket_id"] == 4106]
    f = tmp_path / "ticket.json"
    f.write_text(json.dumps(one))
    conv = _conv(f)
    assert list(conv.index) == ["4106"]
    assert conv.loc["4106", schema.FIRST_RESPONSE_AT] == pd.Timestamp("2025-03-06T12:25:00Z")


def test_rating_mapping_and_latest_rating() -> None:
    conv = _conv()
    # 4102 was rated 101 (slightly agree) on the 4th, then -102 (disagree) on the 6th
    assert conv.loc["4102", schema.CSAT] == "2"
    assert conv.loc["4104", schema.CSAT] == "4"  # 102: agree
    assert conv.loc["4106", schema.CSAT] == "3"  # 100: neutral, not satisfied
    assert pd.isna(conv.loc["4103", schema.CSAT])
    assert {FRESHDESK_RATINGS[k] for k in (103, 102, 101)} <= set(schema.SATISFIED_RATINGS)
    assert not {FRESHDESK_RATINGS[k] for k in (100, -101, -102, -103)} & set(
        schema.SATISFIED_RATINGS)


def test_singer_style_ratings_list(tmp_path: Path) -> None:
    d = tmp_path / "fd"
    shutil.copytree(FIX, d)
    ratings = json.loads((FIX / "satisfaction_ratings.json").read_text())
    for r in ratings:
        r["ratings"] = [{"question": "question_2", "value": -103},
                        {"question": "default_question", "value": r["ratings"]["default_question"]}]
    (d / "satisfaction_ratings.json").write_text(json.dumps(ratings))
    conv = _conv(d)
    assert conv.loc["4101", schema.CSAT] == "5"
    assert conv.loc["4102", schema.CSAT] == "2"


def test_unknown_rating_code_is_an_error_naming_the_file(tmp_path: Path) -> None:
    d = tmp_path / "fd"
    shutil.copytree(FIX, d)
    ratings = json.loads((FIX / "satisfaction_ratings.json").read_text())
    ratings[0]["ratings"]["default_question"] = 5
    (d / "satisfaction_ratings.json").write_text(json.dumps(ratings))
    with pytest.raises(DataError, match=r"satisfaction_ratings\.json: column "
                       r"ratings\.default_question: 1 row is not a Freshdesk rating code \(5;"):
        import_freshdesk(d)


def test_missing_requester_and_wrong_file(tmp_path: Path) -> None:
    f = tmp_path / "t.json"
    f.write_text(json.dumps([{"id": 1, "created_at": "2025-03-03T09:00:00Z"}]))
    with pytest.raises(DataError, match=r"t\.json: column requester_id: missing"):
        import_freshdesk(f)
    with pytest.raises(DataError, match=r"holds no tickets\.json"):
        import_freshdesk(tmp_path)


def test_billing_by_requester_email() -> None:
    bill = pd.DataFrame({"customer_id": ["MARA@acme.example", "tomas@rey.example",
                                         "ines@okafor.example", "ken@ito.example"],
                         "monthly_spend": 10.0, "revenue_start": 10.0, "revenue_end": 9.0})
    result = import_freshdesk(FIX, billing=bill, billing_key="email")
    assert set(result.conversations[schema.CUSTOMER_ID]) == {
        "mara@acme.example", "tomas@rey.example", "ines@okafor.example", "ken@ito.example"}
    assert result.customers is not None
