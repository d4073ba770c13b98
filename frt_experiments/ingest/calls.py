"""Call and chat log importer: one row per call (or chat session) with its queue entry, answer
and hang-up times, to the canonical conversations table.

A contact centre's log (ACD, cloud telephony, live chat) has a row per contact. Columns are
matched by name after lower-casing and turning anything but letters and digits into ``_``
(first match wins), or named with ``columns`` (``--map``):

=============== ============================================================================
field           accepted columns
=============== ============================================================================
conversation_id call_id, contact_id, interaction_id, session_id, chat_id, conversation_id, id
customer_id     customer_id, caller_id, customer, account_id, contact, ani, caller
queued_at       queued_at, queue_entry, queue_entry_time, queue_entered_at, entered_queue_at,
                enqueued_at, queue_start, q_start, created_at, start_time, started_at
answered_at     answered_at, answered, answer_time, answered_time, connected_at,
                agent_connected_at, first_response_at, ser_start
hung_up_at      hung_up_at, hung_up, hangup, hangup_at, hang_up_at, hangup_time,
                hang_up_time, ended_at, end_time, disconnected_at, disconnect_time
talk_seconds    talk_seconds, agent_talk_time, talk_time, talk_duration, handle_seconds,
                handle_time (seconds, or h:mm:ss / m:ss)
channel         channel, media_type, media
=============== ============================================================================

Mapping: ``created_at`` = the queue entry; ``first_response_at`` = the answer (an agent
picking up is the first response); ``closed_at`` = the hang-up. A contact with no answer that
hung up is **abandoned**: it stays a conversation (a question the customer asked), with its
``abandoned_at`` = the hang-up and no first response -- never a response. A contact with
neither an answer nor a hang-up (still queued when the log was cut) has neither (noted).
``handle_seconds`` = the agent talk time; without a talk-time column, hang-up minus answer
for answered contacts (talk time without after-call work, noted) and 0 for abandoned ones;
without either the column is left out and efficiency is not analysed. Calls carry no ratings.

An answer or a hang-up before the queue entry, a hang-up before the answer, an empty id or
queue entry, and a repeated call id (a transferred call logged once per leg: keep one row per
customer contact) are errors naming the file, the column and the lines.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from frt_experiments import schema
from frt_experiments.errors import DataError, Problem, shorten, shown
from frt_experiments.ingest import _common as c

__all__ = ["CALL_FIELDS", "import_calls"]

#: The fields of a call log and the column names accepted for each (first match wins).
CALL_FIELDS: dict[str, tuple[str, ...]] = {
    "conversation_id": ("call_id", "contact_id", "interaction_id", "session_id", "chat_id",
                        "conversation_id", "id"),
    "customer_id": ("customer_id", "caller_id", "customer", "account_id", "contact", "ani",
                    "caller"),
    "queued_at": ("queued_at", "queue_entry", "queue_entry_time", "queue_entered_at",
                  "entered_queue_at", "enqueued_at", "queue_start", "q_start", "created_at",
                  "start_time", "started_at"),
    "answered_at": ("answered_at", "answered", "answer_time", "answered_time", "connected_at",
                    "agent_connected_at", "first_response_at", "ser_start"),
    "hung_up_at": ("hung_up_at", "hung_up", "hangup", "hangup_at", "hang_up_at", "hangup_time",
                   "hang_up_time", "ended_at", "end_time", "disconnected_at",
                   "disconnect_time"),
    "talk_seconds": ("talk_seconds", "agent_talk_time", "talk_time", "talk_duration",
                     "handle_seconds", "handle_time"),
    "channel": ("channel", "media_type", "media"),
}
_REQUIRED = ("conversation_id", "customer_id", "queued_at")
_CLOCK = re.compile(r"^(?:(\d+):)?(\d{1,2}):(\d{1,2}(?:\.\d+)?)$")


def import_calls(
    path: str | Path,
    *,
    columns: Mapping[str, str] | None = None,
    date_format: str | None = None,
    timezone: str = "UTC",
    delimiter: str | None = None,
    sheet: str | int | None = None,
    billing: str | Path | pd.DataFrame | None = None,
    billing_key: str = "id",
) -> c.ImportResult:
    """Import a call or chat log (one row per contact) as canonical conversations.

    Args:
        path: A CSV (any delimiter, BOM, UTF-16) or an Excel workbook.
        columns: Field -> the log's column, for columns the names above do not match
            (fields: ``conversation_id``, ``customer_id``, ``queued_at``, ``answered_at``,
            ``hung_up_at``, ``talk_seconds``, ``channel``).
        date_format: ``strftime`` layout of the times (default ISO 8601 or epoch seconds).
        timezone: Zone of naive times (default UTC, noted).
        delimiter: CSV delimiter (default detected).
        sheet: Workbook sheet (default the first).
        billing, billing_key: As for :func:`~frt_experiments.import_zendesk` (only ``"id"``).

    Returns:
        ImportResult with ``.conversations`` (with ``abandoned_at``) and ``.customers``
        (``None`` without billing).

    Raises:
        DataError: the file, a column or a value is missing or unreadable, or times are out of
            order, naming the file, the column and the lines.
        ValueError: an unknown field in ``columns``.

    Examples:
        >>> from frt_experiments import import_calls
        >>> result = import_calls("acd_calls.csv", timezone="Europe/London")  # doctest: +SKIP
    """
    given = dict(columns or {})
    unknown = [k for k in given if k not in CALL_FIELDS]
    if unknown:
        raise ValueError(f"columns: {shown(unknown[0])} is not a call log field (one of "
                         f"{', '.join(CALL_FIELDS)})")
    schema.check_timezone(timezone)
    p = Path(path)
    with c.collecting_notes(timezone) as extra:
        if not p.is_file():
            raise c.missing_file(p, "call log")
        if p.suffix.lower() in c.JSON_SUFFIXES:
            raise DataError([Problem(p.name, None, "is JSON: a call log is a CSV or Excel "
                                     "table, one row per contact (helpdesk JSON has its own "
                                     "importer: frt import --list)")])
        table = c._read.read_tabular(p, what="call log", delimiter=delimiter, sheet=sheet)
        for text in table.notes:
            c.note(text)
        conv, notes = _convert(table.frame, p.name, given, date_format=date_format,
                               timezone=timezone)
    return c.finish(conv, origin=Path(path).name,
                    source=f"call log ({p.name})", notes=(*notes, *extra),
                    billing=billing, billing_key=billing_key, people=None)


def _normal(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", str(name).lower()).strip("_")


def _convert(df: pd.DataFrame, name: str, given: dict[str, str], *,
             date_format: str | None, timezone: str) -> tuple[pd.DataFrame, tuple[str, ...]]:
    absent = [(k, v) for k, v in given.items() if v not in df.columns]
    if absent:
        listed = shorten(", ".join(repr(x) for x in list(df.columns)[:15]), 300)
        raise DataError([Problem(name, v, f"missing: mapped to {k} but not a column of the "
                                 f"file (columns: {listed})") for k, v in absent])
    normal = {_normal(col): col for col in reversed(list(df.columns))}
    picked: dict[str, str | None] = {}
    for field, aliases in CALL_FIELDS.items():
        picked[field] = given.get(field) or next(
            (normal[a] for a in aliases if a in normal), None)
    lacking = [k for k in _REQUIRED if picked[k] is None]
    if lacking:
        raise DataError([Problem(name, k, "missing: the log needs one of the columns "
                                 f"{', '.join(CALL_FIELDS[k])} (or --map {k}=\"<column>\")")
                         for k in lacking])

    def col(field: str) -> pd.Series:
        label = picked[field]
        return df[label] if label is not None else pd.Series(pd.NA, index=df.index,
                                                             dtype="object")

    def ts(field: str) -> pd.Series:
        return c.timestamps(col(field), source=name, name=picked[field] or field,
                            timezone=timezone, date_format=date_format)

    def problem(field: str, mask: np.ndarray, rule: str) -> Problem:
        lines = tuple(int(i) for i in df.index[mask][:5])
        return Problem(name, picked[field] or field, rule, int(mask.sum()), lines, "lines")

    # ids as written (a caller id +4930... or 0012 keeps its plus and zeros)
    cid, customer = _text(col("conversation_id")), _text(col("customer_id"))
    queued, answered, hung_up = ts("queued_at"), ts("answered_at"), ts("hung_up_at")
    problems = []
    for field, values in (("conversation_id", cid), ("customer_id", customer),
                          ("queued_at", queued)):
        empty = values.isna().to_numpy(bool)
        if empty.any():
            problems.append(problem(field, empty, "empty (a value is required)"))
    repeated = (cid.duplicated(keep="first") & cid.notna()).to_numpy(bool)
    if repeated.any():
        problems.append(problem("conversation_id", repeated, "repeating an earlier call id "
                                "(one row per contact: merge the legs of a transferred call)"))
    for field, values, rule in (
            ("answered_at", answered < queued, f"before the queue entry ({picked['queued_at']})"),
            ("hung_up_at", hung_up < queued, f"before the queue entry ({picked['queued_at']})"),
            ("hung_up_at", hung_up < answered,
             f"before the answer ({picked['answered_at']})")):
        bad = values.fillna(False).to_numpy(bool)
        if bad.any():
            problems.append(problem(field, bad, rule))
    if problems:
        raise DataError(problems)

    is_answered = answered.notna().to_numpy(bool)
    abandoned = ~is_answered & hung_up.notna().to_numpy(bool)
    waiting = ~is_answered & ~abandoned
    notes: list[str] = []
    if picked["answered_at"] is None:
        notes.append("no answer column: no contact has a first response (every contact that "
                     "hung up is abandoned)")
    if waiting.any():
        notes.append(f"{c._count(int(waiting.sum()), 'contact')} with neither an answer nor a "
                     "hang-up (still queued when the log was cut?): neither answered nor "
                     "abandoned")
    out: dict[str, pd.Series] = {
        schema.CONVERSATION_ID: cid,
        schema.CUSTOMER_ID: customer,
        schema.CREATED_AT: queued,
        schema.FIRST_RESPONSE_AT: answered,
        schema.CLOSED_AT: hung_up,
        schema.ABANDONED_AT: hung_up.where(abandoned),
    }
    handle = (_talk(col("talk_seconds"), problem) if picked["talk_seconds"] is not None
              else None)
    if handle is None and picked["hung_up_at"] is not None and picked["answered_at"] is not None:
        handle = (hung_up - answered).dt.total_seconds()
        notes.append("handle_seconds is hang-up minus answer (talk time without after-call "
                     "work): the log has no talk-time column")
    if handle is not None:
        unknown = (handle.isna().to_numpy(bool) & is_answered)
        if unknown.any():
            n = c._count(int(unknown.sum()), "answered contact")
            notes.append(f"handle_seconds is 0 for {n} without a talk time")
        out[schema.HANDLE_SECONDS] = handle.where(is_answered, 0.0).fillna(0.0)
    else:
        notes.append("no talk time (and no answer and hang-up times): handle_seconds is left "
                     "out and efficiency cannot be analysed")
    if picked["channel"] is not None:
        out[schema.CHANNEL] = col("channel").astype("string").str.strip().str.lower()
    return c.conversations_frame(**out), tuple(notes)


def _text(s: pd.Series) -> pd.Series:
    return s.astype("string").str.strip().replace("", pd.NA)


def _talk(raw: pd.Series, problem: Callable[[str, np.ndarray, str], Problem]) -> pd.Series:
    """Talk time in seconds: a number of seconds, or a clock duration (h:mm:ss, m:ss)."""
    text = raw.astype("string").str.strip().replace("", pd.NA)
    seconds = pd.to_numeric(text.str.replace(",", ".", regex=False), errors="coerce")
    parts = text.str.extract(_CLOCK)
    clock = (pd.to_numeric(parts[0], errors="coerce").fillna(0) * 3600
             + pd.to_numeric(parts[1], errors="coerce") * 60
             + pd.to_numeric(parts[2], errors="coerce"))
    out = seconds.fillna(clock).astype("float64")
    bad = (text.notna() & out.isna()).to_numpy(bool)
    negative = (out < 0).fillna(False).to_numpy(bool)
    problems = []
    if bad.any():
        problems.append(problem("talk_seconds", bad, "not a talk time (seconds, or h:mm:ss)"))
    if negative.any():
        problems.append(problem("talk_seconds", negative, "negative"))
    if problems:
        raise DataError(problems)
    return out
