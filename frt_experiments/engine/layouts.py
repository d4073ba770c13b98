"""The helpdesks' warehouse layouts as canonical tables, inside the engine.

The Fivetran Zendesk and Intercom connectors land a helpdesk in a warehouse schema;
``frt import zendesk DIR`` and ``frt import intercom DIR`` read those tables (as CSV files) and
derive the canonical ``conversations`` (and, with billing, ``customers``) in pandas.
:func:`canonical_tables` builds the same tables as Ibis expressions over the warehouse itself
(DuckDB, PostgreSQL, ...), so nothing is exported: the expressions feed
:func:`frt_experiments.engine.rows.customer_rows` directly.

The rules are the importers' (:mod:`frt_experiments.ingest.zendesk` and
:mod:`frt_experiments.ingest.intercom`, ``_warehouse``), each a column expression or a join:

- history tables (several rows per ticket, conversation, part or contact) keep the latest row
  per id, by ``updated_at`` then ``_fivetran_synced`` (a window ``ROW_NUMBER``; a missing
  value sorts first, as in :func:`frt_experiments.ingest._common.latest`);
- ids are text (``customer_id`` included): integer columns are cast, text is stripped, a whole
  float loses its ``.0``;
- timestamps are aware UTC: naive ones (Fivetran lands UTC) are read in ``timezone``, aware
  ones kept, text cast in the engine;
- booleans (``public``) are a boolean column or the text ``TRUE``/``FALSE`` (any case);
- Zendesk: tickets with status ``deleted`` are dropped; ``customer_id`` is ``requester_id``;
  ``first_response_at`` is the first public comment after creation by someone other than the
  requester whose role (where ``user`` knows the author) is ``agent`` or ``admin``;
  ``closed_at`` is the latest move of the status history to ``solved``, else ``closed``, for a
  ticket now solved or closed; ``csat`` is the latest satisfaction rating's score, lower case,
  when ``good`` or ``bad`` (scale ``good-bad``); ``channel`` is ``via_channel``;
- Intercom: ``customer_id`` is the conversation's contact (``conversation_contact_history``),
  else a ``user``/``lead``/``contact`` ``source_author_id``; ``first_response_at`` is the
  first admin part of type ``comment`` (or an ``open``/``close``/``assignment``/... part with a
  non-blank body) after creation; ``closed_at`` is the latest ``updated_at`` of a closed
  conversation; ``csat`` is ``conversation_rating_value`` as ``1``..``5`` text (scale
  ``1-5``); ``channel`` is ``source_type``;
- ``handle_seconds`` is 0 and ``first_response_business_seconds`` empty (the layouts have
  neither);
- with ``billing`` (a frame or CSV as for ``frt import``, or a table of the warehouse),
  ``customers`` is the billing table, and ``billing_key="email"``/``"external_id"`` re-keys the
  conversations by the requester's or contact's email (trimmed, lower case) or external id.

Missing tables and columns are :class:`~frt_experiments.errors.DataError` naming the table (with
its schema) and column, raised before any query runs. Tables are found by their Fivetran names
(``ticket``, ``conversation_history``, ...) or, as the importers' files and the ``dbt``
seeds name them, with ``_data`` after them (``ticket_data``); ``tables=`` names others.

Rows the importer refuses are not refused as the expressions are built: a conversation
without a contact, or a customer without the email or external id of ``billing_key``, gets an
empty ``customer_id``, and a customer with conversations but no billing row stays out of
``customers``; :func:`frt_experiments.engine.checks.check_tables` on the views finds them (and
the canonical schema's other row rules), in the engine. Ratings that are not numbers fail
the query's cast. Where a history table
holds two rows with the same ``updated_at`` and ``_fivetran_synced``, the importer keeps the
later line of its file and the engine either one. A naive time in a daylight-saving gap or
overlap of a ``timezone`` other than UTC follows the engine's rule, not the importer's; text
holding epoch seconds (which the importer reads) is not a timestamp here, nor is text the engine
cannot cast (the importer sorts such history rows first; the query fails).

Example::

    import ibis
    from frt_experiments.engine.layouts import canonical_tables
    from frt_experiments.engine.rows import customer_rows, fetch_rows

    con = ibis.connect("postgresql://analyst@warehouse/helpdesk")
    views = canonical_tables(con, "zendesk-fivetran", schema="zendesk",
                             billing=con.table("billing", database="finance"))
    rows = fetch_rows(customer_rows(views["customers"], views["conversations"],
                                    con.table("assignments", database="experiments")))
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir
import pandas as pd
import pyarrow as pa
from ibis.common.exceptions import TableNotFound

from frt_experiments import schema as canon
from frt_experiments.errors import DataError, Problem
from frt_experiments.ingest import _common as c

__all__ = ["LAYOUTS", "canonical_tables"]

ZENDESK = "zendesk-fivetran"
INTERCOM = "intercom-fivetran"
#: The warehouse layouts :func:`canonical_tables` reads.
LAYOUTS = (ZENDESK, INTERCOM)

_UTC = dt.Timestamp(timezone="UTC")
_HISTORY_ORDER = ("updated_at", "_fivetran_synced")
# the importers' constants, so that a rule changed there changes here
_GOOD_BAD = ("good", "bad")
_AGENT_ROLES = ("agent", "admin")
_CONTACT_TYPES = ("user", "lead", "contact")
_REPLY_ACTIONS = ("open", "close", "assignment", "assign_and_reopen", "snoozed")
_OFFSET = r"(?:[Zz]|[+-]\d{2}:?\d{2})$"
_BILLING_COLUMNS = (canon.MONTHLY_SPEND, canon.REVENUE_START, canon.REVENUE_END)
_BILLING_OPTIONAL = (canon.SEGMENT, canon.COUNTRY, canon.TIMEZONE)


@dataclass(frozen=True)
class _Spec:
    """One table a layout reads: its Fivetran name, what it is, the columns it must have."""

    name: str
    what: str
    required: tuple[str, ...]
    optional: bool = True


_SPECS: dict[str, tuple[_Spec, ...]] = {
    ZENDESK: (
        _Spec("ticket", "tickets table", ("id", "requester_id", "created_at", "status"),
              optional=False),
        _Spec("user", "users table", ("id",)),
        _Spec("ticket_comment", "ticket comments table",
              ("ticket_id", "created", "public", "user_id")),
        _Spec("ticket_field_history", "ticket field history table",
              ("field_name", "ticket_id", "updated", "value")),
        _Spec("satisfaction_rating", "satisfaction ratings table", ("ticket_id", "score")),
    ),
    INTERCOM: (
        _Spec("conversation_history", "conversation history table",
              ("id", "updated_at", "created_at", "state"), optional=False),
        _Spec("conversation_contact_history", "conversation contacts table",
              ("contact_id", "conversation_id")),
        _Spec("conversation_part_history", "conversation parts table",
              ("id", "conversation_id", "author_type", "part_type", "created_at")),
        _Spec("contact_history", "contacts table", ("id",)),
    ),
}
#: Where the people (id, email, external id) of ``billing_key`` come from.
_PEOPLE = {ZENDESK: "user", INTERCOM: "contact_history"}


def canonical_tables(
    con: Any,
    layout: str,
    *,
    schema: str | None = None,
    timezone: str = "UTC",
    billing: str | Path | pd.DataFrame | ir.Table | None = None,
    billing_key: str = "id",
    tables: Mapping[str, str] | None = None,
) -> dict[str, ir.Table]:
    """The canonical tables of a helpdesk's warehouse layout, as Ibis expressions.

    Args:
        con: An Ibis connection (``ibis.duckdb.connect()``, ``ibis.connect("postgresql://
            ...")``) holding the connector's tables.
        layout: ``"zendesk-fivetran"`` or ``"intercom-fivetran"`` (:data:`LAYOUTS`).
        schema: The schema the connector writes to (``zendesk``, ``intercom``); default the
            connection's current one.
        timezone: Zone of naive timestamps (Fivetran lands UTC), as ``frt import --timezone``.
        billing: ``customer_id, monthly_spend, revenue_start, revenue_end`` (and optionally
            ``segment``, ``country``, ``timezone``): a CSV path or frame (read and checked as
            ``frt import --billing`` does) or an Ibis table (of the warehouse). Without it there
            is no ``customers`` table, as the importer gives none.
        billing_key: What billing ``customer_id`` holds: the helpdesk ``"id"`` of the requester
            or contact, its ``"email"`` or its ``"external_id"`` (needs the ``user`` or
            ``contact_history`` table); with the latter two the conversations are keyed by it.
        tables: Other names of the layout's tables, Fivetran name to the name in ``schema``
            (``{"ticket": "zd_ticket"}``).

    Returns:
        ``{"conversations": ..., "customers": ...}`` (``customers`` only with ``billing``):
        unexecuted expressions whose columns, types and rows are those of ``frt import``'s
        tables from the same data.

    Raises:
        DataError: a table or a column the layout needs is missing (naming ``schema.table``
            and the column), before any query runs; a billing frame or file breaking its rules.
        ValueError: an unknown layout or billing key, a bad time zone, ``billing_key`` other
            than ``"id"`` without the table of people.
    """
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {', '.join(LAYOUTS)}, got {layout!r}")
    if billing_key not in c.BILLING_KEYS:
        raise ValueError(f"billing_key must be one of {', '.join(c.BILLING_KEYS)}, "
                         f"got {billing_key!r}")
    canon.check_timezone(timezone)
    found = _resolve(con, layout, schema, dict(tables or {}), billing)
    people_table = _PEOPLE[layout]
    if billing is not None and billing_key != "id" and people_table not in found:
        raise ValueError(f"billing_key={billing_key!r}: this export has no {billing_key} of "
                         f"its customers (the {_qualified(schema, people_table)} table is "
                         "missing; use billing_key='id')")
    build = _zendesk if layout == ZENDESK else _intercom
    conversations, people = build(found, timezone)
    out: dict[str, ir.Table] = {}
    if billing is not None:
        bill = _billing(billing, billing_key)
        if billing_key != "id":
            conversations = _rekey(conversations, people, billing_key)
        out[canon.CUSTOMERS.name] = bill
    out[canon.CONVERSATIONS.name] = conversations
    return out


# ----------------------------------------------------------------------------- tables
def _qualified(schema: str | None, name: str) -> str:
    return f"{schema}.{name}" if schema else name


def _resolve(con: Any, layout: str, schema: str | None, names: dict[str, str],
             billing: Any) -> dict[str, ir.Table]:
    """The layout's tables in ``schema``, every missing table and column a problem."""
    specs = _SPECS[layout]
    unknown = sorted(set(names) - {s.name for s in specs})
    if unknown:
        raise ValueError(f"tables: {', '.join(unknown)} not tables of {layout} (its tables: "
                         f"{', '.join(s.name for s in specs)})")
    found: dict[str, ir.Table] = {}
    problems: list[Problem] = []
    for spec in specs:
        candidates = ((names[spec.name],) if spec.name in names
                      else (spec.name, f"{spec.name}_data"))
        name, table = next(((n, t) for n in candidates
                            if (t := _table(con, n, schema)) is not None), ("", None))
        if table is None:
            if not spec.optional:
                where = " nor ".join(_qualified(schema, n) for n in candidates)
                problems.append(Problem(_qualified(schema, candidates[0]), None,
                                        f"{spec.what} not found (neither {where})"
                                        if len(candidates) > 1 else f"{spec.what} not found"))
            continue
        problems.extend(Problem(_qualified(schema, name), col,
                                "missing: the warehouse table must have this column")
                        for col in spec.required if col not in table.columns)
        found[spec.name] = table
    if isinstance(billing, ir.Table):
        problems.extend(Problem("billing", col, "missing: the billing table must have this "
                                "column") for col in (canon.CUSTOMER_ID, *_BILLING_COLUMNS)
                        if col not in billing.columns)
    if problems:
        raise DataError(problems)
    return found


def _table(con: Any, name: str, schema: str | None) -> ir.Table | None:
    """The table ``name`` of ``schema``, or None (its schema is read, no rows)."""
    try:
        return con.table(name, database=schema) if schema else con.table(name)
    except TableNotFound:
        return None


def _column(t: ir.Table, name: str, kind: Callable[[ir.Value], ir.Value],
            null: dt.DataType = dt.string) -> ir.Value:
    """``kind(t[name])``, or a null column when the table has no such column (an optional
    field, as :func:`frt_experiments.ingest._common.column`)."""
    if name in t.columns:
        return kind(t[name])
    return ibis.null(null)


def _text(col: ir.Value) -> ir.Value:
    return col if col.type().is_string() else col.cast(dt.string)


def _ids(col: ir.Value) -> ir.Value:
    """Ids as text: integers cast, text stripped (empty is missing), a whole float without
    ``.0`` (:func:`frt_experiments.ingest._common.ids`)."""
    kind = col.type()
    if kind.is_integer():
        return col.cast(dt.string)
    if kind.is_floating() or kind.is_decimal():
        return ibis.cases((col == col.round(), col.cast(dt.int64).cast(dt.string)),
                          else_=col.cast(dt.string))
    return _blank_null(_text(col))


def _blank_null(text: ir.Value) -> ir.Value:
    stripped = text.strip()
    return ibis.cases((stripped == "", ibis.null(dt.string)), else_=stripped)


@ibis.udf.scalar.builtin(name="timezone", signature=((dt.string, dt.Timestamp()), _UTC))
def _zone_wall(zone: Any, wall: Any) -> Any:
    """SQL ``timezone(zone, timestamp)`` (DuckDB, PostgreSQL): the instant of a wall-clock
    time in ``zone`` (``wall AT TIME ZONE zone``)."""


def _instant(col: ir.Value, timezone: str) -> ir.Value:
    """An aware UTC timestamp: a naive time is read in ``timezone``; text with an offset
    keeps it, text without one is a naive time."""
    kind = col.type()
    if kind.is_timestamp():
        if kind.timezone is not None:
            return col.cast(_UTC)
        return _zone_wall(timezone, col).cast(_UTC)
    text = _blank_null(_text(col))
    naive = text.re_replace(_OFFSET, "").cast(dt.Timestamp())
    return ibis.cases((text.re_search(_OFFSET), text.cast(_UTC)),
                      else_=_zone_wall(timezone, naive).cast(_UTC))


def _flag(col: ir.Value) -> ir.Value:
    """A boolean column, or ``TRUE``/``FALSE`` text; missing is false."""
    if col.type().is_boolean():
        return col.fill_null(False)
    return (_text(col).upper() == "TRUE").fill_null(False)


def _order_key(col: ir.Value) -> ir.Value:
    return col if col.type().is_timestamp() else _instant(col, "UTC")


def _latest(t: ir.Table, key: ir.Value, order: Sequence[str]) -> ir.Table:
    """One row per ``key``, the last by the ``order`` columns present (missing first), with
    the key as column ``_key`` (:func:`frt_experiments.ingest._common.latest`)."""
    present = [col for col in order if col in t.columns]
    keyed = t.mutate(_key=key)
    if not present:
        return keyed.filter(ibis.row_number().over(group_by=keyed._key) == 0)
    by = [_order_key(keyed[col]).desc(nulls_first=False) for col in present]
    rank = ibis.row_number().over(group_by=keyed._key, order_by=by)
    return keyed.mutate(_rank=rank).filter(lambda r: r._rank == 0).drop("_rank")


def _frame(base: ir.Table, cols: dict[str, ir.Value]) -> ir.Table:
    """The canonical columns in the schema's order, typed as the importer's frame."""
    types = {
        canon.CONVERSATION_ID: dt.string, canon.CUSTOMER_ID: dt.string,
        canon.CREATED_AT: _UTC, canon.FIRST_RESPONSE_AT: _UTC, canon.CLOSED_AT: _UTC,
        canon.HANDLE_SECONDS: dt.float64, canon.CSAT: dt.string, canon.CSAT_SCALE: dt.string,
        canon.CHANNEL: dt.string, canon.FIRST_RESPONSE_BUSINESS_SECONDS: dt.float64,
    }
    return base.select(**{name: cols[name].cast(types[name]) for name in types})


# ----------------------------------------------------------------------------- Zendesk
def _zendesk(found: dict[str, ir.Table], timezone: str) -> tuple[ir.Table, ir.Table | None]:
    t = found["ticket"]
    t = _latest(t, _ids(t.id), _HISTORY_ORDER)
    status = _text(t.status)
    t = t.filter(status.fill_null("") != "deleted")
    tickets = t.select(
        _tid=t._key, _requester=_ids(t.requester_id),
        _created=_instant(t.created_at, timezone), _status=_text(t.status),
        _channel=_column(t, "via_channel", _text))

    people = None
    roles = None
    if "user" in found:
        u = found["user"]
        u = _latest(u, _ids(u.id), _HISTORY_ORDER)
        people = u.select(**{c.PERSON_ID: u._key,
                             c.PERSON_EMAIL: _column(u, "email", _text),
                             c.PERSON_EXTERNAL_ID: _column(u, "external_id", _ids)})
        if "role" in u.columns:
            roles = u.select(_uid=u._key, _role=_text(u.role))

    base = tickets
    if "ticket_comment" in found:
        cm = found["ticket_comment"]
        cm = cm.select(_ticket=_ids(cm.ticket_id), _user=_ids(cm.user_id),
                       _at=_instant(cm.created, timezone), _public=_flag(cm.public))
        j = cm.join(tickets, cm._ticket == tickets._tid)
        if roles is not None:  # an author the users table knows must be an agent or admin
            j = j.left_join(roles, j._user == roles._uid)
        reply = (j._public
                 & (j._user != j._requester).fill_null(True)
                 & (j._at > j._created).fill_null(False))
        if roles is not None:
            reply &= (j._role.isnull() | j._role.isin(_AGENT_ROLES)).fill_null(False)
        firsts = (j.filter(reply).group_by(_fticket=j._ticket)
                  .aggregate(_first=j._at.min()))
        base = base.left_join(firsts, base._tid == firsts._fticket)
        first = base._first
    else:
        first = ibis.null(_UTC)

    if "ticket_field_history" in found:
        h = found["ticket_field_history"]
        h = h.select(_field=_text(h.field_name), _hticket=_ids(h.ticket_id),
                     _hat=_instant(h.updated, timezone), _value=_text(h.value))
        h = h.filter((h._field == "status") & h._value.isin(("solved", "closed")))
        moves = h.group_by("_hticket").aggregate(
            _solved=h._hat.max(where=h._value == "solved"),
            _closed=h._hat.max(where=h._value == "closed"))
        base = base.left_join(moves, base._tid == moves._hticket)
        closed = ibis.cases((base._status.isin(("solved", "closed")).fill_null(False),
                             base._solved.coalesce(base._closed)), else_=ibis.null(_UTC))
    else:
        closed = ibis.null(_UTC)

    if "satisfaction_rating" in found:
        r = found["satisfaction_rating"]
        r = _latest(r, _ids(r.ticket_id), _HISTORY_ORDER)
        r = r.select(_rticket=r._key, _score=_text(r.score).lower())
        base = base.left_join(r, base._tid == r._rticket)
        score = base._score
    else:
        score = ibis.null(dt.string)
    rated = score.isin(_GOOD_BAD).fill_null(False)

    conv = _frame(base, {
        canon.CONVERSATION_ID: base._tid,
        canon.CUSTOMER_ID: base._requester,
        canon.CREATED_AT: base._created,
        canon.FIRST_RESPONSE_AT: first,
        canon.CLOSED_AT: closed,
        canon.HANDLE_SECONDS: ibis.literal(0.0),
        canon.CSAT: ibis.cases((rated, score), else_=ibis.null(dt.string)),
        canon.CSAT_SCALE: ibis.cases((rated, ibis.literal(canon.SCALE_GOOD_BAD)),
                                     else_=ibis.null(dt.string)),
        canon.CHANNEL: base._channel,
        canon.FIRST_RESPONSE_BUSINESS_SECONDS: ibis.null(dt.float64),
    })
    return conv, people


# ----------------------------------------------------------------------------- Intercom
def _intercom(found: dict[str, ir.Table], timezone: str) -> tuple[ir.Table, ir.Table | None]:
    h = found["conversation_history"]
    h = _latest(h, _ids(h.id), _HISTORY_ORDER)
    author_type = _column(h, "source_author_type", _text)
    author = ibis.cases((author_type.isin(_CONTACT_TYPES).fill_null(False),
                         _column(h, "source_author_id", _ids)), else_=ibis.null(dt.string))
    base = h.select(
        _cid=h._key, _author=author, _created=_instant(h.created_at, timezone),
        _updated=_instant(h.updated_at, timezone), _state=_text(h.state),
        _rating=_column(h, "conversation_rating_value", _rating_number, dt.float64),
        _channel=_column(h, "source_type", _text))

    if "conversation_contact_history" in found:
        cc = found["conversation_contact_history"]
        # the importer orders by conversation_updated_at (as updated_at), then _fivetran_synced
        cc = cc.mutate(_order=_column(cc, "conversation_updated_at", _order_key, _UTC))
        order = ("_order", *(col for col in ("_fivetran_synced",) if col in cc.columns))
        cc = _latest(cc, _ids(cc.conversation_id), order)
        cc = cc.select(_ccid=cc._key, _contact=_ids(cc.contact_id))
        base = base.left_join(cc, base._cid == cc._ccid)
        customer = base._contact.coalesce(base._author)
    else:
        customer = base._author

    if "conversation_part_history" in found:
        pt = found["conversation_part_history"]
        pt = _latest(pt, _ids(pt.id), _HISTORY_ORDER)
        body = _column(pt, "body", lambda b: _text(b).strip().fill_null("") != "", dt.boolean)
        part_type = _text(pt.part_type)
        pt = pt.select(
            _pcid=_ids(pt.conversation_id), _at=_instant(pt.created_at, timezone),
            _reply=((_text(pt.author_type) == "admin").fill_null(False)
                    & ((part_type == "comment").fill_null(False)
                       | (part_type.isin(_REPLY_ACTIONS).fill_null(False)
                          & body.fill_null(False)))))
        created = base.select(_ccreated_id=base._cid, _ccreated=base._created)
        j = pt.join(created, pt._pcid == created._ccreated_id)
        firsts = (j.filter(j._reply & (j._at > j._ccreated).fill_null(False))
                  .group_by(_fcid=j._pcid).aggregate(_first=j._at.min()))
        base = base.left_join(firsts, base._cid == firsts._fcid)
        first = base._first
    else:
        first = ibis.null(_UTC)

    people = None
    if "contact_history" in found:
        k = found["contact_history"]
        k = _latest(k, _ids(k.id), _HISTORY_ORDER)
        people = k.select(**{c.PERSON_ID: k._key,
                             c.PERSON_EMAIL: _column(k, "email", _text),
                             c.PERSON_EXTERNAL_ID: _column(k, "external_id", _ids)})

    rating = base._rating
    whole = (rating == rating.round()).fill_null(False)
    conv = _frame(base, {
        canon.CONVERSATION_ID: base._cid,
        canon.CUSTOMER_ID: customer,
        canon.CREATED_AT: base._created,
        canon.FIRST_RESPONSE_AT: first,
        canon.CLOSED_AT: ibis.cases(((base._state == "closed").fill_null(False),
                                     base._updated), else_=ibis.null(_UTC)),
        canon.HANDLE_SECONDS: ibis.literal(0.0),
        canon.CSAT: ibis.cases((whole, rating.cast(dt.int64).cast(dt.string)),
                               else_=rating.cast(dt.string)),
        canon.CSAT_SCALE: ibis.cases((rating.notnull(), ibis.literal(canon.SCALE_1_5)),
                                     else_=ibis.null(dt.string)),
        canon.CHANNEL: base._channel,
        canon.FIRST_RESPONSE_BUSINESS_SECONDS: ibis.null(dt.float64),
    })
    return conv, people


def _rating_number(col: ir.Value) -> ir.Value:
    """A rating as a number (text is cast; blank is missing)."""
    if col.type().is_numeric():
        return col.cast(dt.float64)
    return _blank_null(_text(col)).cast(dt.float64)


# ----------------------------------------------------------------------------- billing
def _billing(billing: str | Path | pd.DataFrame | ir.Table, billing_key: str) -> ir.Table:
    """The customers table: billing as ``frt import --billing`` reads it."""
    if not isinstance(billing, ir.Table):
        bill = c._read_billing(billing)
        if billing_key == "email":
            bill[canon.CUSTOMER_ID] = bill[canon.CUSTOMER_ID].str.strip().str.lower()
        # through Arrow: Ibis' inference from pandas warns under pandas 3
        return ibis.memtable(pa.Table.from_pandas(bill, preserve_index=False))
    key = _ids(billing[canon.CUSTOMER_ID])
    if billing_key == "email":
        key = key.lower()
    cols: dict[str, ir.Value] = {canon.CUSTOMER_ID: key}
    cols.update({name: billing[name].cast(dt.float64) for name in _BILLING_COLUMNS})
    cols.update({name: _text(billing[name]) for name in _BILLING_OPTIONAL
                 if name in billing.columns})
    return billing.select(**cols)


def _rekey(conversations: ir.Table, people: ir.Table | None, billing_key: str) -> ir.Table:
    """Conversations keyed by the person's email (trimmed, lower case) or external id; a
    person without it leaves ``customer_id`` empty (the importer refuses the import)."""
    assert people is not None  # checked by canonical_tables
    value = people[billing_key]
    if billing_key == "email":
        value = value.strip().lower()
    lookup = people.select(_pid=people[c.PERSON_ID], _pkey=value)
    lookup = lookup.filter(lookup._pkey.notnull())
    conversations = conversations.view()  # a join chain joined again: Ibis needs a reference
    j = conversations.left_join(lookup, conversations[canon.CUSTOMER_ID] == lookup._pid)
    return j.select(**{col: j._pkey if col == canon.CUSTOMER_ID else j[col]
                       for col in conversations.columns})
