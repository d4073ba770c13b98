"""Zendesk importer: tickets (with ticket metrics) to the canonical conversations table.

Two layouts are read:

- **API JSON** -- what the Zendesk Support REST API returns: ``{"tickets": [...]}`` from
  ``GET /api/v2/tickets``, ``{"ticket_metrics": [...]}`` from ``GET /api/v2/ticket_metrics``,
  optionally ``{"satisfaction_ratings": [...]}`` and ``{"users": [...]}``. Metrics may also come
  inline as ``ticket["metric_set"]`` (``include=metric_sets``).
- **Warehouse** -- the tables the Fivetran Zendesk connector lands (``ticket_data.csv``,
  ``ticket_comment_data.csv``, ``user_data.csv``, ``ticket_field_history_data.csv``, optionally
  ``satisfaction_rating_data.csv``), with naive timestamps in UTC.

Mapping (one ticket = one conversation):

- ``conversation_id`` = ticket ``id``; ``customer_id`` = ``requester_id`` (the requester is the
  customer); ``channel`` = ``via.channel``; tickets with status ``deleted`` are dropped.
- ``first_response_at`` = ``created_at`` + ``reply_time_in_minutes.calendar`` minutes, and
  ``first_response_business_seconds`` = 60 x ``reply_time_in_minutes.business`` (Zendesk's own
  business-hours clock, kept beside it). Without metrics (the warehouse layout has no
  ticket-metrics table) ``first_response_at`` is the first *public* comment after the ticket
  was created whose author is not the requester and, where ``user_data.csv`` knows the author,
  has role ``agent`` or ``admin``; ``first_response_business_seconds`` is then empty.
- ``csat`` = ``satisfaction_rating.score`` when ``good`` or ``bad`` (scale ``good-bad``);
  ``offered`` and ``unoffered`` mean no rating was given and become empty.
- ``closed_at`` = ticket metrics ``solved_at``; in the warehouse, the last time the status
  history moved to ``solved`` (else ``closed``).
- ``handle_seconds``: Zendesk exports no agent working time (the Time Tracking app stores it
  in an account-specific custom field). Give its field id as ``time_field`` (API layout) to
  use it (seconds); otherwise handle time is 0 and the efficiency metric cannot be analysed
  from this import -- the result's ``notes`` say so.

References:
    Zendesk Support API: Tickets, Ticket Metrics, Satisfaction Ratings
    (developer.zendesk.com/api-reference/ticketing). Fivetran Zendesk connector schema and the
    ``fivetran/dbt_zendesk`` seed tables.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from frt_experiments import schema
from frt_experiments.errors import DataError, Problem
from frt_experiments.ingest import _common as c

__all__ = ["import_zendesk"]

_GOOD_BAD = ("good", "bad")
_AGENT_ROLES = ("agent", "admin")
_NO_HANDLE = ("handle_seconds is 0: Zendesk exports no agent working time; the efficiency "
              "metric needs a time-tracking field")


def import_zendesk(
    path: str | Path,
    *,
    ticket_metrics: str | Path | None = None,
    satisfaction_ratings: str | Path | None = None,
    users: str | Path | None = None,
    time_field: int | str | None = None,
    billing: str | Path | pd.DataFrame | None = None,
    billing_key: str = "id",
    timezone: str = "UTC",
) -> c.ImportResult:
    """Import Zendesk tickets as canonical conversations (and customers, with billing).

    Args:
        path: A warehouse directory (holding ``ticket_data.csv``), a directory holding API
            JSON files (``tickets.json``, ``ticket_metrics.json``, optional
            ``satisfaction_ratings.json``, ``users.json``), or a tickets JSON file.
        ticket_metrics, satisfaction_ratings, users: API JSON files, when ``path`` is a
            tickets JSON file (default: those names beside it, if present).
        time_field: Id of the custom ticket field holding agent time in seconds (API layout).
        billing: CSV (or frame) of ``customer_id, monthly_spend, revenue_start, revenue_end``;
            with it the result also has a customers table.
        billing_key: What billing ``customer_id`` holds: the requester ``"id"``, its
            ``"email"`` or its ``"external_id"`` (needs users); with the latter two the
            conversations are keyed by that value.
        timezone: Zone of naive timestamps (the warehouse layout stores UTC).

    Returns:
        ImportResult with ``.conversations`` and ``.customers`` (``None`` without billing).

    Raises:
        DataError: a file or a column is missing or unreadable (naming the file and column),
            or the imported tables break the canonical schema.

    Examples:
        >>> from frt_experiments import import_zendesk
        >>> result = import_zendesk("exports/zendesk")  # doctest: +SKIP
    """
    schema.check_timezone(timezone)
    with c.collecting_notes(timezone) as extra:
        p = Path(path)
        if p.is_dir() and (p / "ticket_data.csv").exists():
            conv, people, notes = _warehouse(p, timezone)
            source = "zendesk (warehouse)"
        elif p.is_file() and p.suffix.lower() in c.TABLE_SUFFIXES:
            conv, people, notes = _ui_csv(p, time_field=time_field, timezone=timezone)
            source = "zendesk (CSV export)"
        else:
            if p.is_dir() and not (p / "tickets.json").exists():
                raise DataError([Problem(p.name, None, "holds neither ticket_data.csv (warehouse "
                                         f"layout) nor tickets.json (API layout) ({p})")])
            tickets = p / "tickets.json" if p.is_dir() else p
            base = tickets.parent

            def beside(given: str | Path | None, name: str) -> Path | None:
                if given is not None:
                    return Path(given)
                return base / name if (base / name).exists() else None

            conv, people, notes = _api(
                tickets, beside(ticket_metrics, "ticket_metrics.json"),
                beside(satisfaction_ratings, "satisfaction_ratings.json"),
                beside(users, "users.json"), time_field=time_field, timezone=timezone)
            source = "zendesk (API JSON)"
    notes = (*notes, *extra)
    return c.finish(conv, origin=Path(path).name,
                    source=source, notes=notes, billing=billing,
                    billing_key=billing_key, people=people)


# ----------------------------------------------------------------------------- API JSON
def _api(
    tickets_path: Path, metrics_path: Path | None, ratings_path: Path | None,
    users_path: Path | None, *, time_field: int | str | None, timezone: str,
) -> tuple[pd.DataFrame, pd.DataFrame | None, tuple[str, ...]]:
    name = tickets_path.name
    raw = c.read_json_records(tickets_path, ("tickets", "results"), what="tickets file",
                              single=("ticket",))
    # search results mix tickets with users, organizations, ... (result_type)
    raw = [r for r in raw if r.get("result_type", "ticket") == "ticket"]
    t = c.flatten(raw)
    c.check_columns(t, ("id", "requester_id", "created_at"), name)
    t = t[c.column(t, "status").astype("string").fillna("") != "deleted"]
    tid = c.ids(t["id"])
    created = c.timestamps(t["created_at"], source=name, name="created_at", timezone=timezone)

    # Metrics: inline metric_set first, then the ticket_metrics file.
    reply_cal = c.numbers(c.column(t, "metric_set.reply_time_in_minutes.calendar"),
                          source=name, name="metric_set.reply_time_in_minutes.calendar",
                          what="numbers of minutes")
    reply_bus = c.numbers(c.column(t, "metric_set.reply_time_in_minutes.business"),
                          source=name, name="metric_set.reply_time_in_minutes.business",
                          what="numbers of minutes")
    solved = c.timestamps(c.column(t, "metric_set.solved_at"), source=name,
                          name="metric_set.solved_at", timezone=timezone)
    notes: list[str] = []
    if metrics_path is not None:
        mname = metrics_path.name
        m = c.flatten(c.read_json_records(metrics_path, ("ticket_metrics",),
                                          what="ticket metrics file"))
        if len(m):
            c.check_columns(m, ("ticket_id", "reply_time_in_minutes.calendar"), mname)
            m = m.assign(ticket_id=c.ids(m["ticket_id"])).drop_duplicates("ticket_id",
                                                                           keep="last")
            m = m.set_index("ticket_id")
            reply_cal = reply_cal.fillna(c.lookup(tid, c.numbers(
                m["reply_time_in_minutes.calendar"], source=mname,
                name="reply_time_in_minutes.calendar", what="numbers of minutes")))
            reply_bus = reply_bus.fillna(c.lookup(tid, c.numbers(
                c.column(m, "reply_time_in_minutes.business"), source=mname,
                name="reply_time_in_minutes.business", what="numbers of minutes")))
            m_solved = c.timestamps(c.column(m, "solved_at"), source=mname, name="solved_at",
                                    timezone=timezone)
            m_solved.index = m.index
            solved = solved.fillna(c.lookup(tid, m_solved))
    elif "metric_set.reply_time_in_minutes.calendar" not in t.columns:
        notes.append("no ticket metrics given: first_response_at is empty")
    first = created + pd.to_timedelta(reply_cal.to_numpy(dtype=float), unit="min")

    score = c.column(t, "satisfaction_rating.score").astype("string").str.lower()
    if ratings_path is not None:
        r = c.flatten(c.read_json_records(ratings_path, ("satisfaction_ratings",),
                                          what="satisfaction ratings file"))
        if len(r):
            c.check_columns(r, ("ticket_id", "score"), ratings_path.name)
            r = r.assign(ticket_id=c.ids(r["ticket_id"]))
            r = c.latest(r, "ticket_id", ("updated_at", "created_at")).set_index("ticket_id")
            score = score.fillna(tid.map(r["score"].astype("string").str.lower()))

    handle = pd.Series(0.0, index=t.index)
    if time_field is not None:
        handle = _time_field(t, tid, str(time_field).strip(), name)
    else:
        notes.append(_NO_HANDLE)

    people = None
    if users_path is not None:
        u = c.flatten(c.read_json_records(users_path, ("users",), what="users file"))
        c.check_columns(u, ("id",), users_path.name)
        people = pd.DataFrame({c.PERSON_ID: c.ids(u["id"]),
                               c.PERSON_EMAIL: c.column(u, "email").astype("string"),
                               c.PERSON_EXTERNAL_ID: c.ids(c.column(u, "external_id"))})

    conv = c.conversations_frame(**{
        schema.CONVERSATION_ID: tid,
        schema.CUSTOMER_ID: c.ids(t["requester_id"]),
        schema.CREATED_AT: created,
        schema.FIRST_RESPONSE_AT: first,
        schema.CLOSED_AT: solved,
        schema.HANDLE_SECONDS: handle.astype("float64"),
        **_csat(score),
        schema.CHANNEL: c.column(t, "via.channel").astype("string"),
        schema.FIRST_RESPONSE_BUSINESS_SECONDS: reply_bus.astype("float64") * 60.0,
    })
    return conv, people, tuple(notes)


def _time_field(t: pd.Series, tid: pd.Series, field: str, name: str) -> pd.Series:
    """Seconds from custom field ``field`` (empty: 0); an error when no ticket has the field
    or a value is not a number, naming the field."""
    fields = (t["custom_fields"] if "custom_fields" in t.columns
              else pd.Series(None, index=t.index, dtype="object")).explode()
    fields = fields[fields.map(lambda f: isinstance(f, dict))]
    fdf = (pd.json_normalize(fields.tolist()).set_index(fields.index) if len(fields)
           else pd.DataFrame({"id": pd.Series(dtype="object"), "value": pd.Series(
               dtype="object")}))
    fid = c.ids(c.column(fdf, "id"))
    hit = fdf[(fid == field).fillna(False).to_numpy(dtype=bool)]
    label = f"time field {field} (--time-field)"
    if hit.empty:
        present = ", ".join(sorted(set(fid.dropna()), key=lambda v: (len(v), v))[:10])
        raise DataError([Problem(name, "custom_fields", f"{label} is on no ticket (custom "
                                 f"field ids present: {present or 'none'})")])
    value = c.column(hit, "value").astype("string").str.strip().replace("", pd.NA)
    num = pd.to_numeric(value, errors="coerce")
    bad = (value.notna() & num.isna()).to_numpy(dtype=bool)
    if bad.any():
        who = tid.reindex(hit.index[bad]).astype(str).drop_duplicates()
        n = len(who)
        shown = ", ".join(who.head(5)) + (", ..." if n > 5 else "")
        raise DataError([Problem(name, "custom_fields", f"{label}: {n} "
                                 f"{'row is' if n == 1 else 'rows are'} not a number of "
                                 f"seconds (ticket{'s' if n > 1 else ''} {shown})")])
    return num.astype("float64").groupby(level=0).sum().reindex(t.index).fillna(0.0)


def _csat(score: pd.Series) -> dict[str, pd.Series]:
    """good/bad are ratings; offered/unoffered (and anything else) are not."""
    rated = score.isin(_GOOD_BAD).fillna(False).to_numpy(dtype=bool)
    csat = score.where(rated, pd.NA).astype("string")
    scale = pd.Series(schema.SCALE_GOOD_BAD, index=score.index, dtype="string").where(rated)
    return {schema.CSAT: csat, schema.CSAT_SCALE: scale}


# ----------------------------------------------------------------------------- UI CSV export
_UI_REQUIRED = ("Id", "Requester id", "Created at")
# Explore names its columns differently from the ticket export: the same fields.
_UI_ALIASES = {"Ticket ID": "Id", "Requester ID": "Requester id",
               "Ticket created - Timestamp": "Created at",
               "Ticket solved - Timestamp": "Solved at", "Ticket status": "Status",
               "Ticket channel": "Via", "Satisfaction score": "Satisfaction Score"}


def _ui_csv(
    path: Path, *, time_field: int | str | None, timezone: str,
) -> tuple[pd.DataFrame, pd.DataFrame | None, tuple[str, ...]]:
    """The CSV (or workbook) that Zendesk's ticket export and Explore write: one row per
    ticket, columns titled as in the UI, naive times in the account's time zone."""
    name = path.name
    t = c.read_export_csv(path, (), what="Zendesk CSV export")
    t = t.rename(columns={k: v for k, v in _UI_ALIASES.items()
                          if k in t.columns and v not in t.columns})
    c.check_columns(t, _UI_REQUIRED, name)
    t = t[c.column(t, "Status").astype("string").str.lower().fillna("") != "deleted"]

    def ts(col: str) -> pd.Series:
        return c.timestamps(c.column(t, col), source=name, name=col, timezone=timezone)

    def number(col: str, what: str) -> pd.Series:
        raw = c.column(t, col).astype("string").str.strip().replace("", pd.NA)
        num = pd.to_numeric(raw, errors="coerce").astype("float64")
        bad = (raw.notna() & num.isna()).to_numpy(dtype=bool)
        if bad.any():
            raise DataError([Problem(name, col, f"not a number of {what}", int(bad.sum()),
                                     tuple(int(i) for i in t.index[bad][:5]), "lines")])
        return num

    created = ts("Created at")
    reply = number("First reply time in minutes", "minutes")
    notes: list[str] = []
    if "First reply time in minutes" not in t.columns:
        notes.append("no 'First reply time in minutes' column: first_response_at is empty")
    if time_field is None:
        notes.append(_NO_HANDLE)
        handle = pd.Series(0.0, index=t.index)
    else:
        col = str(time_field)
        if col not in t.columns:
            raise DataError([Problem(name, col, "missing: the time field (--time-field) must "
                                     "name a column of seconds in this export")])
        handle = number(col, "seconds (the time field, --time-field)").fillna(0.0)
    people = pd.DataFrame({
        c.PERSON_ID: c.ids(t["Requester id"]),
        c.PERSON_EMAIL: c.column(t, "Requester email").astype("string"),
        c.PERSON_EXTERNAL_ID: c.ids(c.column(t, "Requester external id"))})
    score = c.column(t, "Satisfaction Score").astype("string").str.strip().str.lower()
    conv = c.conversations_frame(**{
        schema.CONVERSATION_ID: c.ids(t["Id"]),
        schema.CUSTOMER_ID: c.ids(t["Requester id"]),
        schema.CREATED_AT: created,
        schema.FIRST_RESPONSE_AT: created + pd.to_timedelta(reply.to_numpy(dtype=float),
                                                            unit="min"),
        schema.CLOSED_AT: ts("Solved at"),
        schema.HANDLE_SECONDS: handle,
        **_csat(score),
        schema.CHANNEL: c.column(t, "Via").astype("string").str.strip().str.lower(),
        schema.FIRST_RESPONSE_BUSINESS_SECONDS:
            number("First reply time in minutes within business hours", "minutes") * 60.0,
    })
    return conv, people, tuple(notes)


# ----------------------------------------------------------------------------- warehouse
def _warehouse(
    d: Path, timezone: str,
) -> tuple[pd.DataFrame, pd.DataFrame | None, tuple[str, ...]]:
    tpath = d / "ticket_data.csv"
    t = c.read_export_csv(tpath, ("id", "requester_id", "created_at", "status"),
                          what="tickets table")
    # Fivetran keeps one row per ticket; keep the latest sync should a history creep in.
    t = c.latest(t, "id", ("updated_at", "_fivetran_synced"))
    t = t[t["status"].fillna("") != "deleted"]
    tid = c.ids(t["id"])
    requester = c.ids(t["requester_id"])
    created = c.timestamps(t["created_at"], source=tpath.name, name="created_at",
                           timezone=timezone)
    notes = ["first_response_at is the first public comment by someone other than the "
             "requester (the warehouse layout has no ticket metrics); "
             "first_response_business_seconds is empty", _NO_HANDLE]

    people = None
    roles = pd.Series(dtype="string")
    upath = d / "user_data.csv"
    if upath.exists():
        u = c.read_export_csv(upath, ("id",), what="users table")
        u = c.latest(u, "id", ("updated_at", "_fivetran_synced"))
        uid = c.ids(u["id"])
        roles = pd.Series(c.column(u, "role").astype("string").to_numpy(), index=uid)
        people = pd.DataFrame({c.PERSON_ID: uid,
                               c.PERSON_EMAIL: c.column(u, "email").astype("string"),
                               c.PERSON_EXTERNAL_ID: c.ids(c.column(u, "external_id"))})

    first = pd.Series(pd.NaT, index=t.index, dtype="datetime64[ns, UTC]")
    cpath = d / "ticket_comment_data.csv"
    if cpath.exists():
        cm = c.read_export_csv(cpath, ("ticket_id", "created", "public", "user_id"),
                               what="ticket comments table")
        cm = cm.assign(ticket_id=c.ids(cm["ticket_id"]), user_id=c.ids(cm["user_id"]),
                       at=c.timestamps(cm["created"], source=cpath.name, name="created",
                                       timezone=timezone))
        t_created = pd.Series(created.to_numpy(), index=tid)
        t_requester = pd.Series(requester.to_numpy(), index=tid)
        role = cm["user_id"].map(roles)
        public = cm["public"].astype("string").str.upper() == "TRUE"
        reply = (public.fillna(False)
                 & (cm["user_id"] != cm["ticket_id"].map(t_requester)).fillna(True)
                 & (role.isna() | role.isin(_AGENT_ROLES)).fillna(False)
                 & (cm["at"] > c.lookup(cm["ticket_id"], t_created)).fillna(False))
        firsts = cm.loc[reply.to_numpy(dtype=bool)].groupby("ticket_id")["at"].min()
        first = pd.Series(c.lookup(tid, firsts).to_numpy(), index=t.index,
                          dtype="datetime64[ns, UTC]")
    else:
        notes[0] = ("no ticket_comment_data.csv: first_response_at is empty")

    closed = pd.Series(pd.NaT, index=t.index, dtype="datetime64[ns, UTC]")
    hpath = d / "ticket_field_history_data.csv"
    if hpath.exists():
        h = c.read_export_csv(hpath, ("field_name", "ticket_id", "updated", "value"),
                              what="ticket field history table")
        h = h[(h["field_name"] == "status") & h["value"].isin(("solved", "closed"))]
        h = h.assign(ticket_id=c.ids(h["ticket_id"]),
                     at=c.timestamps(h["updated"], source=hpath.name, name="updated",
                                     timezone=timezone))
        solved = h[h["value"] == "solved"].groupby("ticket_id")["at"].max()
        closed_only = h[h["value"] == "closed"].groupby("ticket_id")["at"].max()
        done = t["status"].isin(("solved", "closed")).to_numpy()
        at = c.lookup(tid, solved).fillna(c.lookup(tid, closed_only))
        closed = pd.Series(np.where(done, at.to_numpy(), pd.NaT), index=t.index,
                           dtype="datetime64[ns, UTC]")

    score = pd.Series(pd.NA, index=t.index, dtype="string")
    spath = d / "satisfaction_rating_data.csv"
    if spath.exists():
        r = c.read_export_csv(spath, ("ticket_id", "score"), what="satisfaction ratings table")
        r = r.assign(ticket_id=c.ids(r["ticket_id"]))
        r = c.latest(r, "ticket_id", ("updated_at", "_fivetran_synced")).set_index("ticket_id")
        score = pd.Series(tid.map(r["score"].astype("string").str.lower()).to_numpy(),
                          index=t.index, dtype="string")

    conv = c.conversations_frame(**{
        schema.CONVERSATION_ID: tid,
        schema.CUSTOMER_ID: requester,
        schema.CREATED_AT: created,
        schema.FIRST_RESPONSE_AT: first,
        schema.CLOSED_AT: closed,
        schema.HANDLE_SECONDS: pd.Series(0.0, index=t.index),
        **_csat(score),
        schema.CHANNEL: c.column(t, "via_channel").astype("string"),
        schema.FIRST_RESPONSE_BUSINESS_SECONDS: pd.Series(np.nan, index=t.index),
    })
    return conv, people, tuple(notes)
