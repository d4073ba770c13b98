"""Call and chat log importer: an abandoned contact is kept, with its abandoned_at, and is not
a response; the abandoned_at rules of the conversations table."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from frt_experiments import DataError, import_calls, schema

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "calls"
LOG = FIX / "acd_calls.csv"


def _conv(path: Path = LOG, **kwargs: object) -> pd.DataFrame:
    return import_calls(path, **kwargs).conversations.set_index(schema.CONVERSATION_ID)


def test_answered_call_by_hand() -> None:
    row = _conv().loc["C-20250303-0001"]
    assert row[schema.CUSTOMER_ID] == "+4930111001"  # a caller id stays text, with its '+'
    # queue entry 09:00:12+01:00, answer 09:01:40, hang-up 09:07:55; talk time 6:15
    assert row[schema.CREATED_AT] == pd.Timestamp("2025-03-03T08:00:12Z")
    assert row[schema.FIRST_RESPONSE_AT] == pd.Timestamp("2025-03-03T08:01:40Z")
    assert row[schema.CLOSED_AT] == pd.Timestamp("2025-03-03T08:07:55Z")
    assert pd.isna(row[schema.ABANDONED_AT])
    assert row[schema.HANDLE_SECONDS] == 375.0
    assert row[schema.CHANNEL] == "voice"


def test_abandoned_call_is_kept_and_is_not_a_response() -> None:
    result = import_calls(LOG)
    conv = result.conversations.set_index(schema.CONVERSATION_ID)
    assert len(conv) == 7  # every contact is a conversation, abandoned ones too
    gone = conv.loc["C-20250303-0002"]
    assert gone[schema.ABANDONED_AT] == pd.Timestamp("2025-03-03T08:05:30Z")
    assert pd.isna(gone[schema.FIRST_RESPONSE_AT])
    assert gone[schema.HANDLE_SECONDS] == 0.0
    assert conv[schema.ABANDONED_AT].notna().sum() == 2
    assert not (conv[schema.ABANDONED_AT].notna() & conv[schema.FIRST_RESPONSE_AT].notna()).any()
    # still queued when the log was cut: neither answered nor abandoned, and noted
    waiting = conv.loc["C-20250305-0007"]
    assert pd.isna(waiting[schema.ABANDONED_AT])
    assert pd.isna(waiting[schema.FIRST_RESPONSE_AT])
    assert any("1 contact with neither an answer nor a hang-up" in n for n in result.notes)
    assert "4 with a first response, 2 abandoned, 0 rated" in result.summary()


def test_talk_time_formats() -> None:
    conv = _conv()
    assert conv.loc["C-20250303-0003", schema.HANDLE_SECONDS] == 1620.0  # 0:27:00
    assert conv.loc["C-20250304-0005", schema.HANDLE_SECONDS] == 360.0  # 360
    assert conv.loc["C-20250304-0006", schema.HANDLE_SECONDS] == 150.0  # 2:30


def test_without_talk_time_handle_is_hang_up_minus_answer(tmp_path: Path) -> None:
    f = tmp_path / "log.csv"
    pd.read_csv(LOG, dtype=str).drop(columns="Talk Time").to_csv(f, index=False)
    result = import_calls(f)
    conv = result.conversations.set_index(schema.CONVERSATION_ID)
    assert conv.loc["C-20250303-0001", schema.HANDLE_SECONDS] == 375.0  # 09:01:40 -> 09:07:55
    assert conv.loc["C-20250303-0002", schema.HANDLE_SECONDS] == 0.0
    assert any("hang-up minus answer" in n for n in result.notes)
    g = tmp_path / "bare.csv"
    pd.read_csv(LOG, dtype=str)[["Call ID", "Caller ID", "Queue Entry", "Answered"]].to_csv(
        g, index=False)
    bare = import_calls(g)
    assert schema.HANDLE_SECONDS not in bare.conversations.columns  # efficiency not analysed
    assert schema.ABANDONED_AT in bare.conversations.columns


def test_map_naive_times_and_date_format(tmp_path: Path) -> None:
    f = tmp_path / "chats.csv"
    f.write_text("session;visitor;waiting since;agent joined;closed\n"
                 "s1;v-01;03.03.2025 09:00;03.03.2025 09:02;03.03.2025 09:10\n"
                 "s2;v-02;03.03.2025 09:05;;03.03.2025 09:06\n", encoding="utf-8")
    result = import_calls(f, columns={"conversation_id": "session", "customer_id": "visitor",
                                      "queued_at": "waiting since",
                                      "answered_at": "agent joined", "hung_up_at": "closed"},
                          date_format="%d.%m.%Y %H:%M", timezone="Europe/Berlin")
    conv = result.conversations.set_index(schema.CONVERSATION_ID)
    assert conv.loc["s1", schema.FIRST_RESPONSE_AT] == pd.Timestamp("2025-03-03T08:02:00Z")
    assert conv.loc["s2", schema.ABANDONED_AT] == pd.Timestamp("2025-03-03T08:06:00Z")
    assert any("read as Europe/Berlin time" in n for n in result.notes)


@pytest.mark.parametrize(("edit", "message"), [
    ({"Answered": ("C-20250303-0001", "2025-03-03T08:59:00+01:00")},
     r"acd_calls\.csv: column Answered: 1 row is before the queue entry \(Queue Entry\) "
     r"\(line 2\)"),
    ({"Hung Up": ("C-20250303-0003", "2025-03-03T10:15:10+01:00")},
     r"acd_calls\.csv: column Hung Up: 1 row is before the answer \(Answered\) \(line 4\)"),
    ({"Caller ID": ("C-20250303-0004", "")},
     r"acd_calls\.csv: column Caller ID: 1 row is empty \(a value is required\) \(line 5\)"),
    ({"Call ID": ("C-20250303-0004", "C-20250303-0003")},
     r"acd_calls\.csv: column Call ID: 1 row is repeating an earlier call id"),
    ({"Talk Time": ("C-20250303-0001", "six minutes")},
     r"acd_calls\.csv: column Talk Time: 1 row is not a talk time"),
    ({"Queue Entry": ("C-20250303-0001", "yesterday")},
     r"acd_calls\.csv: column Queue Entry: 1 row is not parseable as timestamps"),
])
def test_bad_rows_name_file_column_and_line(tmp_path: Path, edit: dict[str, tuple[str, str]],
                                            message: str) -> None:
    df = pd.read_csv(LOG, dtype=str, keep_default_na=False)
    for column, (call, value) in edit.items():
        df.loc[df["Call ID"] == call, column] = value
    f = tmp_path / "acd_calls.csv"
    df.to_csv(f, index=False)
    with pytest.raises(DataError, match=message):
        import_calls(f)


def test_missing_columns_and_unknown_field(tmp_path: Path) -> None:
    f = tmp_path / "log.csv"
    pd.read_csv(LOG, dtype=str).drop(columns="Queue Entry").to_csv(f, index=False)
    with pytest.raises(DataError, match=r"log\.csv: column queued_at: missing: the log needs "
                       "one of the columns queued_at, queue_entry"):
        import_calls(f)
    with pytest.raises(DataError, match=r"column Waiting: missing: mapped to queued_at"):
        import_calls(LOG, columns={"queued_at": "Waiting"})
    with pytest.raises(ValueError, match=r"columns: 'answer' is not a call log field"):
        import_calls(LOG, columns={"answer": "Answered"})


def test_abandoned_at_rules_in_the_conversations_table() -> None:
    conv = pd.DataFrame({
        schema.CONVERSATION_ID: ["a", "b", "c"], schema.CUSTOMER_ID: ["1", "1", "2"],
        schema.CREATED_AT: ["2025-03-03T09:00:00Z"] * 3,
        schema.FIRST_RESPONSE_AT: ["2025-03-03T09:05:00Z", "", ""],
        schema.ABANDONED_AT: ["2025-03-03T09:01:00Z", "2025-03-03T08:59:00Z",
                              "2025-03-03T09:02:00Z"]})
    with pytest.raises(DataError) as info:
        schema.validate_conversations(conv, source="c.csv", csv_lines=True)
    lines = [str(p) for p in info.value.problems]
    assert lines == [
        "c.csv: column abandoned_at: 1 row is earlier than created_at (line 3)",
        "c.csv: column abandoned_at: 1 row is set together with first_response_at (an "
        "abandoned conversation got no response) (line 2)"]
    ok = schema.validate_conversations(conv.iloc[2:])
    assert ok[schema.ABANDONED_AT].dtype == "datetime64[ns, UTC]"
    # optional: a table without the column is as valid as before
    assert schema.ABANDONED_AT not in schema.validate_conversations(
        conv.drop(columns=schema.ABANDONED_AT).iloc[1:])
