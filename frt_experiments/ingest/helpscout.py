"""Help Scout importer: Mailbox API conversations and threads to the canonical conversations
table.

Files, as the Help Scout Mailbox API 2.0 (or the Singer ``tap-helpscout``) returns them; keys
may be camelCase (the API: ``createdAt``, ``primaryCustomer``) or snake_case (the tap:
``created_at``, ``primary_customer``):

- **conversations** -- ``GET /v2/conversations`` (``{"_embedded": {"conversations": [...]}}``),
  a list, JSON lines, or one conversation; ``embed=threads`` puts each conversation's threads
  under ``_embedded.threads``;
- **threads** (optional) -- thread records carrying their ``conversation_id`` (the tap's
  ``conversation_threads`` stream);
- **happiness ratings** (optional) -- ``GET /v2/reports/happiness/ratings``
  (``{"results": [...]}``, where ``id`` is the conversation and ``ratingId`` the rating), the
  tap's ``happiness_ratings_report`` rows (``conversation_id``, ``rating_id``), or rating
  objects (``conversationId``, ``rating``: ``great``/``okay``/``not_good``).

Mapping (one conversation = one conversation):

- ``conversation_id`` = ``id``; ``customer_id`` = ``primary_customer.id`` (else the creator
  when ``created_by.type`` is ``customer``), as text; ``channel`` = ``type`` (email, chat,
  phone); spam (``status``) and draft or deleted (``state``) conversations are dropped (noted);
- ``first_response_at`` = the first staff reply: the earliest thread of type ``reply`` or
  ``chat`` created by a user (``created_by.type`` ``user``; a ``reply`` without a creator type
  counts), published (not a draft, hidden or under review), after the conversation was created.
  Notes, line items (status changes), forwards and customer threads are not responses.
  Without threads the field is empty (noted);
- ``closed_at`` = ``closed_at`` of closed conversations;
- ``csat`` (scale ``1-5``) = the conversation's latest happiness rating: Great -> 5,
  Okay -> 3, Not Good -> 1 (``ratingId`` 1, 2, 3). Satisfied (4 or 5) is then a Great rating,
  and the CSAT is Help Scout's share of Great ratings; Okay is not satisfied. ``unknown`` is no
  rating; any other value is an error naming the file;
- ``handle_seconds`` is 0 (Help Scout exports no agent working time; noted);
  ``first_response_business_seconds`` is empty.

References:
    Help Scout Mailbox API 2.0: Conversations, Threads, Happiness Ratings Report, Rating
    object (developer.helpscout.com/mailbox-api). Field lists of the Singer
    ``tap-helpscout`` schemas (conversations, conversation_threads, happiness_ratings_report).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from frt_experiments import schema
from frt_experiments.errors import DataError, Problem
from frt_experiments.ingest import _common as c

__all__ = ["HELPSCOUT_RATINGS", "import_helpscout"]

#: Help Scout happiness ratings -> the canonical 1-5 rating (satisfied = 4 or 5 = Great).
HELPSCOUT_RATINGS: dict[str, str] = {"great": "5", "okay": "3", "ok": "3", "not good": "1",
                                     "not_good": "1", "notgood": "1", "bad": "1",
                                     "1": "5", "2": "3", "3": "1"}
_NOT_A_RATING = ("unknown", "0")
_REPLY_TYPES = ("reply", "chat")
_UNPUBLISHED = ("draft", "hidden", "underreview", "under_review")
_NO_HANDLE = ("handle_seconds is 0: Help Scout exports no agent working time; the efficiency "
              "metric needs handle time")
_CAMEL = re.compile(r"(?<=[a-z0-9])([A-Z])")


def import_helpscout(
    path: str | Path,
    *,
    threads: str | Path | None = None,
    happiness_ratings: str | Path | None = None,
    billing: str | Path | pd.DataFrame | None = None,
    billing_key: str = "id",
    timezone: str = "UTC",
) -> c.ImportResult:
    """Import Help Scout conversations as canonical conversations (and customers, with billing).

    Args:
        path: A conversations JSON file, or a directory holding ``conversations.json`` (and
            optionally ``conversation_threads.json``, ``happiness_ratings.json``).
        threads, happiness_ratings: JSON files (default: those names beside the
            conversations file, if present).
        billing: CSV (or frame) of ``customer_id, monthly_spend, revenue_start, revenue_end``;
            with it the result also has a customers table.
        billing_key: What billing ``customer_id`` holds: the customer ``"id"`` or its
            ``"email"`` (``primary_customer.email``).
        timezone: Zone of naive timestamps (the API writes UTC with ``Z``).

    Returns:
        ImportResult with ``.conversations`` and ``.customers`` (``None`` without billing).

    Raises:
        DataError: a file or field is missing or unreadable (naming the file and field), a
            rating is not a Help Scout rating, or the tables break the canonical schema.

    Examples:
        >>> from frt_experiments import import_helpscout
        >>> result = import_helpscout("exports/helpscout")  # doctest: +SKIP
    """
    schema.check_timezone(timezone)
    p = Path(path)
    if p.is_dir():
        conversations = p / "conversations.json"
        if not conversations.exists():
            raise DataError([Problem(p.name, None, f"holds no conversations.json ({p})")])
    else:
        conversations = p
    base = conversations.parent

    def beside(given: str | Path | None, name: str) -> Path | None:
        if given is not None:
            return Path(given)
        return base / name if (base / name).exists() else None

    with c.collecting_notes(timezone) as extra:
        conv, people, notes = _api(conversations,
                                   beside(threads, "conversation_threads.json"),
                                   beside(happiness_ratings, "happiness_ratings.json"),
                                   timezone=timezone)
    return c.finish(conv, origin=Path(path).name,
                    source="helpscout (API JSON)", notes=(*notes, *extra),
                    billing=billing, billing_key=billing_key, people=people)


def _snake(obj: Any) -> Any:
    """camelCase keys (the API) as snake_case (the tap's field names), recursively."""
    if isinstance(obj, dict):
        return {_CAMEL.sub(r"_\1", k).lower() if isinstance(k, str) else k: _snake(v)
                for k, v in obj.items()}
    if isinstance(obj, list):
        return [_snake(v) for v in obj]
    return obj


def _records(path: Path, keys: tuple[str, ...], *, what: str) -> list[dict[str, Any]]:
    """Records of a Help Scout JSON file: a HAL page (``_embedded``), a report (``results``),
    a list or JSON lines, or one object."""
    if not path.is_file():
        raise c.missing_file(path, what)
    data = c.read_json(path)
    if isinstance(data, dict) and isinstance(data.get("_embedded"), dict):
        embedded = data["_embedded"]
        found = [k for k in keys if isinstance(embedded.get(k), list)]
        if not found:
            raise DataError([Problem(path.name, None, f"holds _embedded "
                                     f"{', '.join(map(repr, embedded))}, expected "
                                     f"{' or '.join(map(repr, keys))} (is it the right file?)")])
        data = embedded[found[0]]
    elif isinstance(data, dict):
        found = [k for k in (*keys, "results") if isinstance(data.get(k), list)]
        data = data[found[0]] if found else [data]
    if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
        raise DataError([Problem(path.name, None, "must hold a list of objects (a list, JSON "
                                 f"lines, or _embedded {' or '.join(map(repr, keys))})")])
    return [_snake(r) for r in data]


def _text(s: pd.Series) -> pd.Series:
    return s.astype("string").str.strip().str.lower()


def _api(
    conversations_path: Path, threads_path: Path | None, ratings_path: Path | None, *,
    timezone: str,
) -> tuple[pd.DataFrame, pd.DataFrame, tuple[str, ...]]:
    name = conversations_path.name
    d = c.flatten(_records(conversations_path, ("conversations",),
                           what="conversations file"))
    c.check_columns(d, ("id", "created_at"), name)
    if not d.columns.str.startswith(("primary_customer", "created_by")).any():
        raise DataError([Problem(name, None, "has no primary_customer or created_by: is it a "
                                 "Help Scout conversations file?")])
    notes: list[str] = []
    dropped = ((_text(c.column(d, "status")) == "spam")
               | _text(c.column(d, "state")).isin(("draft", "deleted"))).fillna(False)
    if dropped.any():
        notes.append(f"{c._count(int(dropped.sum()), 'spam, draft or deleted conversation')} "
                     "dropped")
        d = d[~dropped.to_numpy(bool)].reset_index(drop=True)
    cid = c.ids(d["id"])
    by_customer = _text(c.column(d, "created_by.type")) == "customer"
    customer = c.ids(c.column(d, "primary_customer.id")).fillna(
        c.ids(c.column(d, "created_by.id").where(by_customer.fillna(False))))
    missing = customer.isna().to_numpy()
    if missing.any():
        raise DataError([Problem(name, "primary_customer.id", "without a customer "
                                 "(primary_customer.id, or a customer created_by)",
                                 int(missing.sum()), tuple(int(i) for i in
                                                           np.flatnonzero(missing)[:5]))])
    created = c.timestamps(d["created_at"], source=name, name="created_at", timezone=timezone)

    first = pd.Series(pd.NaT, index=d.index, dtype="datetime64[ns, UTC]")
    replies = _threads(d, cid, threads_path, timezone=timezone)
    if replies is None:
        notes.append("no threads (embed=threads or a threads file): first_response_at is "
                     "empty")
    else:
        conv_created = pd.Series(created.to_numpy(), index=cid)
        after = (replies["at"] > c.lookup(replies["conversation_id"], conv_created))
        firsts = replies.loc[after.fillna(False).to_numpy(bool)].groupby(
            "conversation_id")["at"].min()
        first = pd.Series(c.lookup(cid, firsts).to_numpy(), index=d.index,
                          dtype="datetime64[ns, UTC]")
    closed = c.timestamps(c.column(d, "closed_at"), source=name, name="closed_at",
                          timezone=timezone)
    is_closed = (_text(c.column(d, "status")) == "closed").fillna(False).to_numpy(bool)
    notes.append(_NO_HANDLE)
    people = pd.DataFrame({c.PERSON_ID: customer,
                           c.PERSON_EMAIL: c.column(d, "primary_customer.email")
                           .astype("string")})
    conv = c.conversations_frame(**{
        schema.CONVERSATION_ID: cid,
        schema.CUSTOMER_ID: customer,
        schema.CREATED_AT: created,
        schema.FIRST_RESPONSE_AT: first,
        schema.CLOSED_AT: closed.where(is_closed),
        schema.HANDLE_SECONDS: pd.Series(0.0, index=d.index),
        **_ratings(cid, ratings_path, timezone=timezone),
        schema.CHANNEL: _text(c.column(d, "type")),
        schema.FIRST_RESPONSE_BUSINESS_SECONDS: pd.Series(np.nan, index=d.index),
    })
    return conv, people, tuple(notes)


def _threads(d: pd.DataFrame, cid: pd.Series, path: Path | None, *,
             timezone: str) -> pd.DataFrame | None:
    """Staff replies (``conversation_id``, ``at``) from embedded threads and the threads file;
    ``None`` when there are neither."""
    frames = []
    if "_embedded.threads" in d.columns:
        inline = d["_embedded.threads"].explode()
        inline = inline[inline.map(lambda v: isinstance(v, dict))]
        th = pd.json_normalize(inline.tolist(), sep=".") if len(inline) else pd.DataFrame()
        th["conversation_id"] = cid.reindex(inline.index).to_numpy()
        frames.append((th, "threads (embedded)"))
    if path is not None:
        th = c.flatten(_records(path, ("threads",), what="threads file"))
        if len(th):
            c.check_columns(th, ("conversation_id", "type", "created_at"), path.name)
        frames.append((th, path.name))
    if not frames:
        return None
    out = [pd.DataFrame({"conversation_id": pd.Series(dtype="string"),
                         "at": pd.Series(dtype="datetime64[ns, UTC]")})]
    for th, source in frames:
        if th.empty:
            continue
        kind = _text(c.column(th, "type"))
        author = _text(c.column(th, "created_by.type"))
        state = _text(c.column(th, "state"))
        staff = (author == "user") | ((kind == "reply") & author.isna())
        reply = (kind.isin(_REPLY_TYPES) & staff & ~state.isin(_UNPUBLISHED).fillna(False))
        at = c.timestamps(c.column(th, "created_at"), source=source, name="created_at",
                          timezone=timezone)
        out.append(pd.DataFrame({"conversation_id": c.ids(th["conversation_id"]),
                                 "at": at})[reply.fillna(False).to_numpy(bool)])
    return pd.concat(out, ignore_index=True)


def _ratings(cid: pd.Series, path: Path | None, *, timezone: str) -> dict[str, pd.Series]:
    empty = pd.Series(pd.NA, index=cid.index, dtype="string")
    if path is None:
        return {schema.CSAT: empty, schema.CSAT_SCALE: empty.copy()}
    name = path.name
    r = c.flatten(_records(path, ("ratings", "happiness_ratings"),
                           what="happiness ratings file"))
    if r.empty:
        return {schema.CSAT: empty, schema.CSAT_SCALE: empty.copy()}
    if "conversation_id" in r.columns:
        conv_id = c.ids(r["conversation_id"])
    elif "rating_id" in r.columns and "id" in r.columns:  # the report: id is the conversation
        conv_id = c.ids(r["id"])
    else:
        raise DataError([Problem(name, "conversation_id", "missing: the export must have this "
                                 "field (or the report's id with ratingId)")])
    if "rating_id" in r.columns:
        raw, field = r["rating_id"], "rating_id"
    elif "rating" in r.columns:
        raw, field = r["rating"], "rating"
    else:
        raise DataError([Problem(name, "rating_id", "missing: the export must have this field "
                                 "(or rating)")])
    text = c.ids(raw).str.lower().str.replace("-", " ", regex=False)
    rating = text.map(HELPSCOUT_RATINGS)
    bad = (text.notna() & rating.isna() & ~text.isin(_NOT_A_RATING)).to_numpy(bool)
    if bad.any():
        shown = ", ".join(str(v) for v in pd.unique(text[bad])[:3])
        raise DataError([Problem(name, field, f"not a Help Scout rating ({shown}; expected "
                                 "Great, Okay or Not Good, or ratingId 1, 2 or 3)",
                                 int(bad.sum()), tuple(int(i) for i in np.flatnonzero(bad)[:5]))])
    order = [c.timestamps(c.column(r, col), source=name, name=col, timezone=timezone)
             for col in ("rating_created_at", "modified_at", "created_at")]
    when = order[0].fillna(order[1]).fillna(order[2])
    r = pd.DataFrame({"conversation_id": conv_id, "rating": rating.astype("string"),
                      "at": when})
    r = r[r["rating"].notna().to_numpy(bool)].sort_values("at", kind="stable",
                                                           na_position="first")
    latest = r.drop_duplicates("conversation_id", keep="last").set_index("conversation_id")
    csat = pd.Series(c.lookup(cid, latest["rating"]).to_numpy(), index=cid.index,
                     dtype="string")
    scale = pd.Series(schema.SCALE_1_5, index=cid.index, dtype="string").where(csat.notna())
    return {schema.CSAT: csat, schema.CSAT_SCALE: scale}
