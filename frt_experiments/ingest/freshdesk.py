"""Freshdesk importer: API JSON tickets (with their stats) to the canonical conversations table.

Files, as the Freshdesk API v2 (or a Singer tap) returns them:

- **tickets** -- ``GET /api/v2/tickets?include=stats,requester``: a list (or JSON lines, or
  search results ``{"results": [...]}``, or one ticket from ``GET /api/v2/tickets/{id}``,
  which may hold its ``conversations`` from ``include=conversations``);
- **conversations** (optional) -- ``GET /api/v2/tickets/{id}/conversations`` records with
  their ``ticket_id``, for tickets without ``stats``;
- **satisfaction ratings** (optional) -- ``GET /api/v2/surveys/satisfaction_ratings``.

Mapping (one ticket = one conversation):

- ``conversation_id`` = ticket ``id``; ``customer_id`` = ``requester_id`` (else
  ``requester.id``), as text; deleted and spam tickets are dropped (noted);
- ``first_response_at`` = ``stats.first_responded_at`` (Freshdesk's first agent response).
  Without stats it is the first conversation that is an agent's public reply: not
  ``incoming`` (incoming ones come from the customer), not ``private`` (notes), not a note,
  survey feedback or forward (conversation ``source`` 2, 6, 8), not by the requester, and after
  the ticket was created; without either, empty (noted);
- ``closed_at`` = ``stats.resolved_at`` (else ``stats.closed_at``) for resolved (4) or closed
  (5) tickets; ``channel`` = ticket ``source`` (1 email, 2 portal, 3 phone, 4 forum,
  5 twitter, 6 facebook, 7 chat, 8 mobihelp, 9 feedback_widget, 10 outbound_email);
- ``csat`` (scale ``1-5``) = the ``default_question`` rating of the ticket's latest
  satisfaction rating (by ``updated_at``). Freshdesk stores ratings as codes: the classic
  survey uses 103 (happy), 100 (neutral) and -103 (unhappy); custom surveys use 103, 102, 101
  (strongly agree, agree, slightly agree), 100 (neutral), -101, -102, -103 (slightly
  disagree, disagree, strongly disagree). They map to 103 -> 5, 102 and 101 -> 4, 100 -> 3,
  -101 and -102 -> 2, -103 -> 1, so that *satisfied* (4 or 5) is exactly a positive answer
  and neutral is not satisfied. Any other value is an error naming the file;
- ``handle_seconds`` is 0 (Freshdesk keeps agent time in time entries, not read here; noted);
  ``first_response_business_seconds`` is empty (Freshdesk exports no business-hours figure).

Timestamps are ISO 8601 with an offset (``Z``); naive ones are read in ``timezone`` (noted).

References:
    Freshdesk API v2: Tickets (``stats``, ``source``, ``status``), Conversations, Satisfaction
    Ratings (developers.freshdesk.com/api). Field lists of the Singer ``tap-freshdesk``
    schemas (tickets, conversations, satisfaction_ratings).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from frt_experiments import schema
from frt_experiments.errors import DataError, Problem
from frt_experiments.ingest import _common as c

__all__ = ["FRESHDESK_RATINGS", "import_freshdesk"]

#: Freshdesk rating codes -> the canonical 1-5 rating (satisfied = 4 or 5 = a positive answer).
FRESHDESK_RATINGS: dict[int, str] = {103: "5", 102: "4", 101: "4", 100: "3", -101: "2",
                                     -102: "2", -103: "1"}
_CHANNELS = {1: "email", 2: "portal", 3: "phone", 4: "forum", 5: "twitter", 6: "facebook",
             7: "chat", 8: "mobihelp", 9: "feedback_widget", 10: "outbound_email"}
_DONE_STATUSES = (4, 5)  # resolved, closed
_NOT_REPLIES = (2, 6, 8)  # conversation sources: note, survey feedback, forwarded email
_NO_HANDLE = ("handle_seconds is 0: Freshdesk keeps agent time in time entries, which this "
              "import does not read; the efficiency metric needs handle time")


def import_freshdesk(
    path: str | Path,
    *,
    conversations: str | Path | None = None,
    satisfaction_ratings: str | Path | None = None,
    billing: str | Path | pd.DataFrame | None = None,
    billing_key: str = "id",
    timezone: str = "UTC",
) -> c.ImportResult:
    """Import Freshdesk tickets as canonical conversations (and customers, with billing).

    Args:
        path: A tickets JSON file, or a directory holding ``tickets.json`` (and optionally
            ``conversations.json``, ``satisfaction_ratings.json``).
        conversations, satisfaction_ratings: JSON files (default: those names beside the
            tickets file, if present).
        billing: CSV (or frame) of ``customer_id, monthly_spend, revenue_start, revenue_end``;
            with it the result also has a customers table.
        billing_key: What billing ``customer_id`` holds: the requester ``"id"`` or its
            ``"email"`` (from ``requester.email``, ``include=requester``).
        timezone: Zone of naive timestamps (the API writes UTC with ``Z``).

    Returns:
        ImportResult with ``.conversations`` and ``.customers`` (``None`` without billing).

    Raises:
        DataError: a file or field is missing or unreadable (naming the file and field), a
            rating is not a Freshdesk code, or the tables break the canonical schema.

    Examples:
        >>> from frt_experiments import import_freshdesk
        >>> result = import_freshdesk("exports/freshdesk")  # doctest: +SKIP
    """
    schema.check_timezone(timezone)
    p = Path(path)
    if p.is_dir():
        tickets = p / "tickets.json"
        if not tickets.exists():
            raise DataError([Problem(p.name, None, f"holds no tickets.json ({p})")])
    else:
        tickets = p
    base = tickets.parent

    def beside(given: str | Path | None, name: str) -> Path | None:
        if given is not None:
            return Path(given)
        return base / name if (base / name).exists() else None

    with c.collecting_notes(timezone) as extra:
        conv, people, notes = _api(tickets, beside(conversations, "conversations.json"),
                                   beside(satisfaction_ratings, "satisfaction_ratings.json"),
                                   timezone=timezone)
    return c.finish(conv, origin=Path(path).name,
                    source="freshdesk (API JSON)", notes=(*notes, *extra),
                    billing=billing, billing_key=billing_key, people=people)


def _true(s: pd.Series) -> pd.Series:
    """JSON booleans (or their text) as a boolean mask; missing is False."""
    return (s.astype("string").str.strip().str.lower() == "true").fillna(False)


def _api(
    tickets_path: Path, conversations_path: Path | None, ratings_path: Path | None, *,
    timezone: str,
) -> tuple[pd.DataFrame, pd.DataFrame, tuple[str, ...]]:
    name = tickets_path.name
    raw = c.read_json_records(tickets_path, ("tickets", "results"), what="tickets file",
                              single=("ticket",))
    t = c.flatten(raw)
    c.check_columns(t, ("id", "created_at"), name)
    if "requester_id" not in t.columns and "requester.id" not in t.columns:
        c.check_columns(t, ("requester_id",), name)
    notes: list[str] = []
    dropped = (_true(c.column(t, "deleted")) | _true(c.column(t, "spam"))).to_numpy(bool)
    if dropped.any():
        notes.append(f"{c._count(int(dropped.sum()), 'deleted or spam ticket')} dropped")
        t = t[~dropped].reset_index(drop=True)
    tid = c.ids(t["id"])
    requester = c.ids(c.column(t, "requester_id")).fillna(c.ids(c.column(t, "requester.id")))
    missing = requester.isna().to_numpy()
    if missing.any():
        raise DataError([Problem(name, "requester_id", "without a requester",
                                 int(missing.sum()), tuple(int(i) for i in
                                                           np.flatnonzero(missing)[:5]))])
    created = c.timestamps(t["created_at"], source=name, name="created_at", timezone=timezone)

    def stat(field: str) -> pd.Series:
        return c.timestamps(c.column(t, f"stats.{field}"), source=name,
                            name=f"stats.{field}", timezone=timezone)

    first = stat("first_responded_at")
    has_stats = t.columns.str.startswith("stats.").any()
    replies = _conversations(t, tid, conversations_path, timezone=timezone)
    if replies is not None:
        t_created = pd.Series(created.to_numpy(), index=tid)
        t_requester = pd.Series(requester.to_numpy(), index=tid)
        ok = ((replies["at"] > c.lookup(replies["ticket_id"], t_created))
              & (replies["user_id"] != c.lookup(replies["ticket_id"], t_requester))
              .fillna(True)).fillna(False).to_numpy(bool)
        firsts = replies.loc[ok].groupby("ticket_id")["at"].min()
        first = first.fillna(pd.Series(c.lookup(tid, firsts).to_numpy(), index=t.index,
                                       dtype="datetime64[ns, UTC]"))
    elif not has_stats:
        notes.append("no stats (include=stats) and no conversations: first_response_at is "
                     "empty")
    status = pd.to_numeric(c.column(t, "status"), errors="coerce")
    done = (status.isin(_DONE_STATUSES) | status.isna()).to_numpy(bool)
    closed = stat("resolved_at").fillna(stat("closed_at")).where(done)
    source = pd.to_numeric(c.column(t, "source"), errors="coerce")
    channel = source.map(_CHANNELS).astype("string").fillna(
        "source " + source.astype("Int64").astype("string"))
    notes.append(_NO_HANDLE)
    people = pd.DataFrame({
        c.PERSON_ID: requester,
        c.PERSON_EMAIL: c.column(t, "requester.email").astype("string").fillna(
            c.column(t, "email").astype("string"))})
    conv = c.conversations_frame(**{
        schema.CONVERSATION_ID: tid,
        schema.CUSTOMER_ID: requester,
        schema.CREATED_AT: created,
        schema.FIRST_RESPONSE_AT: first,
        schema.CLOSED_AT: closed,
        schema.HANDLE_SECONDS: pd.Series(0.0, index=t.index),
        **_ratings(tid, ratings_path, timezone=timezone),
        schema.CHANNEL: channel,
        schema.FIRST_RESPONSE_BUSINESS_SECONDS: pd.Series(np.nan, index=t.index),
    })
    return conv, people, tuple(notes)


def _conversations(t: pd.DataFrame, tid: pd.Series, path: Path | None, *,
                   timezone: str) -> pd.DataFrame | None:
    """Agent public replies (``ticket_id``, ``user_id``, ``at``) from the conversations file
    and the tickets' inline ``conversations``; ``None`` when there are neither."""
    frames = []
    if "conversations" in t.columns:
        inline = t["conversations"].explode()
        inline = inline[inline.map(lambda v: isinstance(v, dict))]
        if len(inline):
            cv = pd.json_normalize(inline.tolist())
            cv["ticket_id"] = tid.reindex(inline.index).to_numpy()
            frames.append((cv, "conversations (inline)"))
    if path is not None:
        cv = c.flatten(c.read_json_records(path, ("conversations",),
                                           what="conversations file"))
        if len(cv):
            c.check_columns(cv, ("ticket_id", "created_at"), path.name)
        frames.append((cv, path.name))
    if not frames:
        return None
    out = []
    for cv, source in frames:
        if cv.empty:
            continue
        src = pd.to_numeric(c.column(cv, "source"), errors="coerce")
        reply = (~_true(c.column(cv, "incoming")) & ~_true(c.column(cv, "private"))
                 & ~src.isin(_NOT_REPLIES)).to_numpy(bool)
        out.append(pd.DataFrame({
            "ticket_id": c.ids(cv["ticket_id"]),
            "user_id": c.ids(c.column(cv, "user_id")),
            "at": c.timestamps(c.column(cv, "created_at"), source=source, name="created_at",
                               timezone=timezone)})[reply])
    if not out:
        return pd.DataFrame({"ticket_id": pd.Series(dtype="string"),
                             "user_id": pd.Series(dtype="string"),
                             "at": pd.Series(dtype="datetime64[ns, UTC]")})
    return pd.concat(out, ignore_index=True)


def _default_rating(value: Any) -> Any:
    """The ``default_question`` answer of a Singer-style ``[{question, value}, ...]`` list
    (else the first answer)."""
    if not isinstance(value, list):
        return None
    answers = [a for a in value if isinstance(a, dict)]
    for a in answers:
        if a.get("question") == "default_question":
            return a.get("value")
    return answers[0].get("value") if answers else None


def _ratings(tid: pd.Series, path: Path | None, *, timezone: str) -> dict[str, pd.Series]:
    empty = pd.Series(pd.NA, index=tid.index, dtype="string")
    if path is None:
        return {schema.CSAT: empty, schema.CSAT_SCALE: empty.copy()}
    name = path.name
    r = c.flatten(c.read_json_records(path, ("satisfaction_ratings", "ratings"),
                                      what="satisfaction ratings file"))
    if r.empty:
        return {schema.CSAT: empty, schema.CSAT_SCALE: empty.copy()}
    c.check_columns(r, ("ticket_id",), name)
    if "ratings.default_question" in r.columns:
        code, field = r["ratings.default_question"], "ratings.default_question"
    elif "ratings" in r.columns:
        code, field = r["ratings"].map(_default_rating), "ratings"
    else:
        raise DataError([Problem(name, "ratings", "missing: the export must have this field "
                                 "(ratings.default_question)")])
    num = pd.to_numeric(code, errors="coerce")
    rating = num.map(FRESHDESK_RATINGS)
    bad = (code.notna() & rating.isna()).to_numpy(bool)
    if bad.any():
        shown = ", ".join(str(v) for v in pd.unique(code[bad])[:3])
        raise DataError([Problem(name, field, f"not a Freshdesk rating code ({shown}; "
                                 f"expected one of {', '.join(map(str, FRESHDESK_RATINGS))})",
                                 int(bad.sum()), tuple(int(i) for i in np.flatnonzero(bad)[:5]))])
    # a ticket rated twice (a re-sent survey): its latest rating, by updated_at
    order = {col: c.timestamps(c.column(r, col), source=name, name=col, timezone=timezone)
             for col in ("updated_at", "created_at")}
    r = pd.DataFrame({"ticket_id": c.ids(r["ticket_id"]), "rating": rating.astype("string"),
                      "u": order["updated_at"], "c": order["created_at"]})
    r = r[r["rating"].notna().to_numpy(bool)].sort_values(["u", "c"], kind="stable",
                                                           na_position="first")
    latest = r.drop_duplicates("ticket_id", keep="last").set_index("ticket_id")
    csat = pd.Series(c.lookup(tid, latest["rating"]).to_numpy(), index=tid.index,
                     dtype="string")
    scale = pd.Series(schema.SCALE_1_5, index=tid.index, dtype="string").where(csat.notna())
    return {schema.CSAT: csat, schema.CSAT_SCALE: scale}
