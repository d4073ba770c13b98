"""Help Scout importer: conversations, threads (the first staff reply) and happiness ratings,
in the tap's snake_case layout and the Mailbox API's camelCase HAL pages."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from frt_experiments import DataError, import_helpscout, schema

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "helpscout"


def _conv(path: Path = FIX, **kwargs: object) -> pd.DataFrame:
    return import_helpscout(path, **kwargs).conversations.set_index(schema.CONVERSATION_ID)


def test_conversations_by_hand() -> None:
    result = import_helpscout(FIX)
    conv = result.conversations.set_index(schema.CONVERSATION_ID)
    # 2900105 is spam: dropped
    assert list(conv.index) == ["2900101", "2900102", "2900103", "2900104", "2900106"]
    assert any("1 spam, draft or deleted conversation dropped" in n for n in result.notes)
    row = conv.loc["2900101"]
    assert row[schema.CUSTOMER_ID] == "501001"
    assert row[schema.CREATED_AT] == pd.Timestamp("2025-03-03T08:30:00Z")
    assert row[schema.CLOSED_AT] == pd.Timestamp("2025-03-03T13:00:00Z")
    assert row[schema.CHANNEL] == "email"
    assert pd.isna(conv.loc["2900102", schema.CLOSED_AT])  # active
    # 2900106 has no primary_customer: the customer who created it
    assert conv.loc["2900106", schema.CUSTOMER_ID] == "501004"
    assert (conv[schema.HANDLE_SECONDS] == 0.0).all()


def test_first_response_is_the_first_published_staff_reply() -> None:
    conv = _conv()
    # 2900101: the customer's thread (08:30), a note (08:40) and a draft reply (08:50) are not
    # responses; the published reply at 09:05 is.
    assert conv.loc["2900101", schema.FIRST_RESPONSE_AT] == pd.Timestamp("2025-03-03T09:05:00Z")
    # chat: the agent's chat thread
    assert conv.loc["2900102", schema.FIRST_RESPONSE_AT] == pd.Timestamp("2025-03-03T10:01:30Z")
    # only a customer thread and a status line item: no response
    assert pd.isna(conv.loc["2900103", schema.FIRST_RESPONSE_AT])
    # a forward (forwardparent, 11:10) is not a reply to the customer
    assert conv.loc["2900106", schema.FIRST_RESPONSE_AT] == pd.Timestamp("2025-03-06T11:40:00Z")


def test_happiness_ratings_mapping_and_latest() -> None:
    conv = _conv()
    assert (conv.loc["2900101", schema.CSAT], conv.loc["2900101", schema.CSAT_SCALE]) == (
        "5", schema.SCALE_1_5)  # Great
    assert conv.loc["2900102", schema.CSAT] == "3"  # Okay: not satisfied
    # 2900104: Not Good at 10:00, then Great at 11:00 (the latest counts)
    assert conv.loc["2900104", schema.CSAT] == "5"
    assert pd.isna(conv.loc["2900103", schema.CSAT])
    sat = schema.satisfied(conv.reset_index())
    assert list(sat.dropna()) == [1.0, 0.0, 1.0]


def test_api_hal_page_with_embedded_threads_and_the_ratings_report() -> None:
    conv = _conv(FIX / "api" / "conversations.json")
    assert list(conv.index) == ["2900101", "2900102"]
    assert conv.loc["2900101", schema.CUSTOMER_ID] == "501001"  # primaryCustomer.id
    assert conv.loc["2900101", schema.FIRST_RESPONSE_AT] == pd.Timestamp("2025-03-03T09:05:00Z")
    assert conv.loc["2900102", schema.FIRST_RESPONSE_AT] == pd.Timestamp("2025-03-03T10:01:30Z")
    # the report: id is the conversation, ratingId 3 is Not Good
    assert conv.loc["2900101", schema.CSAT] == "1"


def test_rating_objects_with_text_ratings(tmp_path: Path) -> None:
    d = tmp_path / "hs"
    shutil.copytree(FIX, d)
    (d / "happiness_ratings.json").write_text(json.dumps([
        {"id": 1, "conversationId": 2900101, "rating": "great",
         "createdAt": "2025-03-03T14:00:00Z"},
        {"id": 2, "conversationId": 2900102, "rating": "not_good",
         "createdAt": "2025-03-03T11:00:00Z"},
        {"id": 3, "conversationId": 2900104, "rating": "unknown",
         "createdAt": "2025-03-05T11:00:00Z"}]))
    conv = _conv(d)
    assert list(conv[schema.CSAT].fillna("-")) == ["5", "1", "-", "-", "-"]


def test_bad_rating_and_missing_customer_are_errors(tmp_path: Path) -> None:
    d = tmp_path / "hs"
    shutil.copytree(FIX, d)
    ratings = json.loads((FIX / "happiness_ratings.json").read_text())
    ratings[1]["rating_id"] = 7
    (d / "happiness_ratings.json").write_text(json.dumps(ratings))
    with pytest.raises(DataError, match=r"happiness_ratings\.json: column rating_id: 1 row is "
                       r"not a Help Scout rating \(7;"):
        import_helpscout(d)
    f = tmp_path / "c.json"
    f.write_text(json.dumps([{"id": 1, "createdAt": "2025-03-03T09:00:00Z",
                              "createdBy": {"id": 9, "type": "user"}}]))
    with pytest.raises(DataError, match=r"c\.json: column primary_customer\.id: 1 row is "
                       "without a customer"):
        import_helpscout(f)


def test_another_hal_page_says_what_it_holds(tmp_path: Path) -> None:
    f = tmp_path / "page.json"
    f.write_text(json.dumps({"_embedded": {"mailboxes": [{"id": 1}]}}))
    with pytest.raises(DataError, match=r"page\.json: holds _embedded 'mailboxes', expected "
                       "'conversations'"):
        import_helpscout(f)
