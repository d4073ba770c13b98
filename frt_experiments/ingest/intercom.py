"""Intercom importer: conversations to the canonical conversations table.

Three layouts are read:

- **API JSON** (REST API 2.14 conversation objects): ``{"type": "conversation.list",
  "conversations": [...]}`` from ``GET /conversations`` or ``POST /conversations/search``, a
  list of conversation objects, or a single one. Timestamps are Unix seconds.
- **CSV export**: one row per conversation. Intercom's exports differ by product version and
  tool, so columns are matched by name after lower-casing and turning spaces into
  underscores, accepting these names (first match wins):

  ========================== ======================================================================
  canonical                  accepted export columns
  ========================== ======================================================================
  conversation_id            conversation_id, id
  customer_id                contact_id, user_id, customer_id, message_author_id
  created_at                 conversation_created_at, conversation_started_at, created_at
  first_response_at          conversation_first_response_at, first_admin_reply_at,
                             conversation_first_replied_at, first_response_at
  closed_at                  conversation_closed_at, last_close_at, closed_at
  csat (1-5)                 conversation_rating, conversation_rating_value, rating
  business seconds           time_to_admin_reply (seconds, office hours only)
  handle_seconds             adjusted_handling_time, handling_time (seconds)
  channel                    source_type, channel
  ========================== ======================================================================

  A message-level export (a ``message_type`` column) keeps only its
  ``conversation_message`` rows, one per conversation. Naive timestamps are UTC.
- **Warehouse** -- the Fivetran Intercom tables (``conversation_history_data.csv`` and,
  optionally, ``conversation_part_history_data.csv``, ``conversation_contact_history_data.csv``,
  ``contact_history_data.csv``). History tables hold several rows per conversation: the latest
  by ``updated_at``, then ``_fivetran_synced``, is taken.

Mapping: the contact is the customer (``contacts[0].id``; in the warehouse the conversation's
contact from ``conversation_contact_history_data.csv``, else the ``source_author_id`` of a
user/lead/contact author); ``statistics.first_admin_reply_at`` gives ``first_response_at`` (a
human teammate's first visible reply; bots and automations are excluded by Intercom);
``statistics.time_to_admin_reply`` gives ``first_response_business_seconds``;
``conversation_rating.rating`` (1-5) gives ``csat``; ``statistics.adjusted_handling_time``
(else ``handling_time``) gives ``handle_seconds``, 0 when absent; ``statistics.last_close_at``
gives ``closed_at`` for closed conversations; ``source.type`` gives ``channel``.

The warehouse tables have no statistics: ``first_response_at`` is the first admin part of type
``comment`` (or an ``open``/``close``/``assignment`` part carrying a message body) after the
conversation was created, from the part history; ``closed_at`` is the latest ``updated_at`` of a
closed conversation; handle time is 0 and ``first_response_business_seconds`` empty.

References:
    Intercom REST API 2.14, Conversation object and conversation statistics
    (developers.intercom.com). Fivetran Intercom connector schema and the
    ``fivetran/dbt_intercom`` seed tables.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from frt_experiments import schema
from frt_experiments.errors import DataError, Problem
from frt_experiments.ingest import _common as c

__all__ = ["import_intercom"]

_CONTACT_TYPES = ("user", "lead", "contact")
_REPLY_ACTIONS = ("open", "close", "assignment", "assign_and_reopen", "snoozed")
_HISTORY_ORDER = ("updated_at", "_fivetran_synced")
_NO_HANDLE = "handle_seconds is 0: this export has no handling time"

_CSV_ALIASES: dict[str, tuple[str, ...]] = {
    schema.CONVERSATION_ID: ("conversation_id", "id"),
    schema.CUSTOMER_ID: ("contact_id", "user_id", "customer_id", "message_author_id"),
    schema.CREATED_AT: ("conversation_created_at", "conversation_started_at", "created_at"),
    schema.FIRST_RESPONSE_AT: ("conversation_first_response_at", "first_admin_reply_at",
                               "conversation_first_replied_at", "first_response_at"),
    schema.CLOSED_AT: ("conversation_closed_at", "last_close_at", "closed_at"),
    schema.CSAT: ("conversation_rating", "conversation_rating_value", "rating"),
    schema.FIRST_RESPONSE_BUSINESS_SECONDS: ("time_to_admin_reply",),
    schema.HANDLE_SECONDS: ("adjusted_handling_time", "handling_time"),
    schema.CHANNEL: ("source_type", "channel"),
}
_CSV_REQUIRED = (schema.CONVERSATION_ID, schema.CUSTOMER_ID, schema.CREATED_AT)


def import_intercom(
    path: str | Path,
    *,
    contacts: str | Path | None = None,
    billing: str | Path | pd.DataFrame | None = None,
    billing_key: str = "id",
    timezone: str = "UTC",
) -> c.ImportResult:
    """Import Intercom conversations as canonical conversations (and customers, with billing).

    Args:
        path: A warehouse directory (holding ``conversation_history_data.csv``), an API JSON
            file (``.json``), or a CSV export (``.csv``).
        contacts: API JSON of contacts (``{"data": [...]}`` from ``GET /contacts``), needed for
            ``billing_key="email"`` with the API layout.
        billing: CSV (or frame) of ``customer_id, monthly_spend, revenue_start, revenue_end``;
            with it the result also has a customers table.
        billing_key: What billing ``customer_id`` holds: the contact ``"id"``, its ``"email"``
            or its ``"external_id"``; with the latter two the conversations are keyed by it.
        timezone: Zone of naive timestamps (CSV and warehouse layouts store UTC).

    Returns:
        ImportResult with ``.conversations`` and ``.customers`` (``None`` without billing).

    Raises:
        DataError: a file or column is missing or unreadable (naming the file and column),
            or the imported tables break the canonical schema.
    """
    schema.check_timezone(timezone)
    with c.collecting_notes(timezone) as extra:
        p = Path(path)
        if p.is_dir():
            conv, people, notes = _warehouse(p, timezone)
            source = "intercom (warehouse)"
        elif p.suffix.lower() in c.JSON_SUFFIXES:
            conv, people, notes = _api(p, None if contacts is None else Path(contacts),
                                       timezone)
            source = "intercom (API JSON)"
        elif p.suffix.lower() in c.TABLE_SUFFIXES:
            conv, people, notes = _csv(p, timezone)
            source = "intercom (CSV export)"
        elif not p.exists():
            raise c.missing_file(p, "Intercom export")
        else:
            raise DataError([Problem(p.name, None, "is not an Intercom export: give a "
                                     "warehouse directory, a .json API file or a .csv/.xlsx "
                                     "export")])
    notes = (*notes, *extra)
    return c.finish(conv, origin=Path(path).name,
                    source=source, notes=notes, billing=billing,
                    billing_key=billing_key, people=people)


def _csat_1_5(rating: pd.Series, source: str, name: str) -> dict[str, pd.Series]:
    num = c.numbers(rating, source=source, name=name, what="ratings (numbers 1 to 5)")
    whole = (num == num.round()).to_numpy(dtype=bool)  # 4.5 stays 4.5: off the 1-5 scale
    text = num.where(whole).astype("Int64").astype("string").where(whole,
                                                                    num.astype("string"))
    scale = pd.Series(schema.SCALE_1_5, index=rating.index, dtype="string").where(num.notna())
    return {schema.CSAT: text, schema.CSAT_SCALE: scale}


def _seconds(s: pd.Series, source: str, name: str) -> pd.Series:
    return c.numbers(s, source=source, name=name, what="numbers of seconds")


# ----------------------------------------------------------------------------- API JSON
def _api(
    path: Path, contacts_path: Path | None, timezone: str,
) -> tuple[pd.DataFrame, pd.DataFrame | None, tuple[str, ...]]:
    name = path.name
    d = c.flatten(c.read_json_records(path, ("conversations", "data"),
                                      what="conversations file"))
    c.check_columns(d, ("id", "created_at"), name)
    # API 2.14: contacts = {"type": "contact.list", "contacts": [...]}; older: a list.
    nested = c.column(d, "contacts.contacts")
    plain = c.column(d, "contacts")
    lists = nested.where(nested.notna(), plain)
    first_contact = lists.str[0].str.get("id") if lists.notna().any() else lists
    author_is_contact = c.column(d, "source.author.type").isin(_CONTACT_TYPES)
    customer = c.ids(first_contact).fillna(
        c.ids(c.column(d, "source.author.id").where(author_is_contact)))
    missing = customer.isna().to_numpy()
    if missing.any():
        rows = tuple(int(i) for i in np.flatnonzero(missing)[:5])
        raise DataError([Problem(name, "contacts", "without a contact (contacts[0].id or a "
                                 "contact source.author)", int(missing.sum()), rows)])
    stat = {k: c.column(d, f"statistics.{k}") for k in (
        "first_admin_reply_at", "time_to_admin_reply", "adjusted_handling_time",
        "handling_time", "last_close_at")}
    notes = []
    handle = _seconds(stat["adjusted_handling_time"], name,
                      "statistics.adjusted_handling_time").fillna(
        _seconds(stat["handling_time"], name, "statistics.handling_time"))
    if handle.isna().all():
        notes.append(_NO_HANDLE)
    closed = c.timestamps(stat["last_close_at"], source=name, name="statistics.last_close_at",
                          timezone=timezone)
    is_closed = (c.column(d, "state") == "closed").to_numpy(dtype=bool)
    people = None
    cont = lists.str[0]
    if lists.notna().any():
        people = pd.DataFrame({c.PERSON_ID: customer,
                               c.PERSON_EXTERNAL_ID: c.ids(cont.str.get("external_id")),
                               c.PERSON_EMAIL: cont.str.get("email").astype("string")})
    if contacts_path is not None:
        k = c.flatten(c.read_json_records(contacts_path, ("data", "contacts"),
                                          what="contacts file"))
        c.check_columns(k, ("id",), contacts_path.name)
        people = pd.DataFrame({c.PERSON_ID: c.ids(k["id"]),
                               c.PERSON_EMAIL: c.column(k, "email").astype("string"),
                               c.PERSON_EXTERNAL_ID: c.ids(c.column(k, "external_id"))})
    conv = c.conversations_frame(**{
        schema.CONVERSATION_ID: c.ids(d["id"]),
        schema.CUSTOMER_ID: customer,
        schema.CREATED_AT: c.timestamps(d["created_at"], source=name, name="created_at",
                                        timezone=timezone),
        schema.FIRST_RESPONSE_AT: c.timestamps(stat["first_admin_reply_at"], source=name,
                                               name="statistics.first_admin_reply_at",
                                               timezone=timezone),
        schema.CLOSED_AT: closed.where(is_closed),
        schema.HANDLE_SECONDS: handle.fillna(0.0),
        **_csat_1_5(c.column(d, "conversation_rating.rating"), name,
                    "conversation_rating.rating"),
        schema.CHANNEL: c.column(d, "source.type").astype("string"),
        schema.FIRST_RESPONSE_BUSINESS_SECONDS: _seconds(stat["time_to_admin_reply"], name,
                                                         "statistics.time_to_admin_reply"),
    })
    return conv, people, tuple(notes)


# ----------------------------------------------------------------------------- CSV export
def _csv(path: Path, timezone: str) -> tuple[pd.DataFrame, None, tuple[str, ...]]:
    raw = c.read_export_csv(path, (), what="Intercom CSV export")
    raw.columns = [re.sub(r"[^a-z0-9]+", "_", col.lower()).strip("_") for col in raw.columns]
    if "message_type" in raw.columns:
        raw = raw[raw["message_type"] == "conversation_message"]
    picked = {canon: next((a for a in aliases if a in raw.columns), None)
              for canon, aliases in _CSV_ALIASES.items()}
    missing = [k for k in _CSV_REQUIRED if picked[k] is None]
    if missing:
        raise DataError([Problem(path.name, k, "missing: the export needs one of the columns "
                                 + ", ".join(_CSV_ALIASES[k])) for k in missing])

    def col(canon: str) -> pd.Series:
        name = picked[canon]
        return raw[name] if name is not None else pd.Series(pd.NA, index=raw.index,
                                                            dtype="object")

    def ts(canon: str) -> pd.Series:
        return c.timestamps(col(canon), source=path.name, name=picked[canon] or canon,
                            timezone=timezone)

    handle = _seconds(col(schema.HANDLE_SECONDS), path.name,
                      picked[schema.HANDLE_SECONDS] or schema.HANDLE_SECONDS)
    notes = (_NO_HANDLE,) if handle.isna().all() else ()
    conv = c.conversations_frame(**{
        schema.CONVERSATION_ID: c.ids(col(schema.CONVERSATION_ID)),
        schema.CUSTOMER_ID: c.ids(col(schema.CUSTOMER_ID)),
        schema.CREATED_AT: ts(schema.CREATED_AT),
        schema.FIRST_RESPONSE_AT: ts(schema.FIRST_RESPONSE_AT),
        schema.CLOSED_AT: ts(schema.CLOSED_AT),
        schema.HANDLE_SECONDS: handle.fillna(0.0),
        **_csat_1_5(col(schema.CSAT), path.name, picked[schema.CSAT] or schema.CSAT),
        schema.CHANNEL: col(schema.CHANNEL).astype("string"),
        schema.FIRST_RESPONSE_BUSINESS_SECONDS: _seconds(
            col(schema.FIRST_RESPONSE_BUSINESS_SECONDS), path.name,
            picked[schema.FIRST_RESPONSE_BUSINESS_SECONDS]
            or schema.FIRST_RESPONSE_BUSINESS_SECONDS),
    })
    return conv, None, notes


# ----------------------------------------------------------------------------- warehouse
def _warehouse(
    d: Path, timezone: str,
) -> tuple[pd.DataFrame, pd.DataFrame | None, tuple[str, ...]]:
    hpath = d / "conversation_history_data.csv"
    h = c.read_export_csv(hpath, ("id", "updated_at", "created_at", "state"),
                          what="conversation history table")
    h = c.latest(h, "id", _HISTORY_ORDER)
    cid = c.ids(h["id"])

    def ts(df: pd.DataFrame, name: str, source: str) -> pd.Series:
        return c.timestamps(c.column(df, name), source=source, name=name, timezone=timezone)

    created = ts(h, "created_at", hpath.name)
    author_is_contact = c.column(h, "source_author_type").isin(_CONTACT_TYPES)
    customer = c.ids(c.column(h, "source_author_id").where(author_is_contact))
    ccpath = d / "conversation_contact_history_data.csv"
    if ccpath.exists():
        cc = c.read_export_csv(ccpath, ("contact_id", "conversation_id"),
                               what="conversation contacts table")
        cc = cc.assign(conversation_id=c.ids(cc["conversation_id"]))
        cc = c.latest(cc.assign(updated_at=c.column(cc, "conversation_updated_at")),
                      "conversation_id", _HISTORY_ORDER).set_index("conversation_id")
        customer = c.ids(cid.map(c.ids(cc["contact_id"]))).fillna(customer)
    missing = customer.isna().to_numpy()
    if missing.any():
        rows = tuple(int(i) for i in h.index[missing][:5])
        raise DataError([Problem(hpath.name, "source_author_id", "conversations without a "
                                 "contact (no contact author, not in "
                                 "conversation_contact_history_data.csv)",
                                 int(missing.sum()), rows, "lines")])

    first = pd.Series(pd.NaT, index=h.index, dtype="datetime64[ns, UTC]")
    notes = ["first_response_at is the first admin reply in the part history (the warehouse "
             "layout has no conversation statistics); first_response_business_seconds is empty",
             _NO_HANDLE]
    ppath = d / "conversation_part_history_data.csv"
    if ppath.exists():
        pt = c.read_export_csv(ppath, ("id", "conversation_id", "author_type", "part_type",
                                       "created_at"), what="conversation parts table")
        pt = c.latest(pt, "id", _HISTORY_ORDER)
        pt = pt.assign(conversation_id=c.ids(pt["conversation_id"]),
                       at=ts(pt, "created_at", ppath.name))
        body = c.column(pt, "body").astype("string").str.strip().fillna("") != ""
        reply = (pt["author_type"] == "admin") & (
            (pt["part_type"] == "comment") | (pt["part_type"].isin(_REPLY_ACTIONS) & body))
        conv_created = pd.Series(created.to_numpy(), index=cid)
        reply &= (pt["at"] > c.lookup(pt["conversation_id"], conv_created)).fillna(False)
        firsts = pt.loc[reply.to_numpy(dtype=bool)].groupby("conversation_id")["at"].min()
        first = pd.Series(c.lookup(cid, firsts).to_numpy(), index=h.index,
                          dtype="datetime64[ns, UTC]")
    else:
        notes[0] = "no conversation_part_history_data.csv: first_response_at is empty"

    people = None
    kpath = d / "contact_history_data.csv"
    if kpath.exists():
        k = c.read_export_csv(kpath, ("id",), what="contacts table")
        k = c.latest(k, "id", _HISTORY_ORDER)
        people = pd.DataFrame({c.PERSON_ID: c.ids(k["id"]),
                               c.PERSON_EMAIL: c.column(k, "email").astype("string"),
                               c.PERSON_EXTERNAL_ID: c.ids(c.column(k, "external_id"))})
    is_closed = (h["state"] == "closed").to_numpy(dtype=bool)
    conv = c.conversations_frame(**{
        schema.CONVERSATION_ID: cid,
        schema.CUSTOMER_ID: customer,
        schema.CREATED_AT: created,
        schema.FIRST_RESPONSE_AT: first,
        schema.CLOSED_AT: ts(h, "updated_at", hpath.name).where(is_closed),
        schema.HANDLE_SECONDS: pd.Series(0.0, index=h.index),
        **_csat_1_5(c.column(h, "conversation_rating_value"), hpath.name,
                    "conversation_rating_value"),
        schema.CHANNEL: c.column(h, "source_type").astype("string"),
        schema.FIRST_RESPONSE_BUSINESS_SECONDS: pd.Series(np.nan, index=h.index),
    })
    return conv, people, tuple(notes)
