"""The Fivetran Zendesk and Intercom layouts as canonical tables in the engine
(frt_experiments.engine.layouts) equal what ``frt import`` makes of the same tables.

The fixture tables (tests/fixtures/zendesk, tests/fixtures/intercom: the Fivetran layouts of the
``dbt_zendesk`` and ``dbt_intercom`` seeds) get rows that exercise every rule of the importers
(history rows, deleted tickets, who replies first, the status history, ratings), then are
loaded three ways: into DuckDB with the types its CSV reader finds (BIGINT ids, TIMESTAMP,
BOOLEAN), into DuckDB as text, and into PostgreSQL under the connector's own table names (the
``_fivetran_*`` times aware, the others naive).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.datatypes as dt
import numpy as np
import pandas as pd
import pytest

from frt_experiments import import_intercom, import_zendesk, schema
from frt_experiments.engine import IBIS_PANDAS_WARNING, execute
from frt_experiments.engine.layouts import LAYOUTS, canonical_tables
from frt_experiments.engine.rows import customer_rows as engine_rows
from frt_experiments.engine.rows import fetch_rows
from frt_experiments.errors import DataError
from frt_experiments.metrics import RATED, customer_rows

pytestmark = pytest.mark.filterwarnings(f"ignore:{IBIS_PANDAS_WARNING}")

FIXTURES = Path(__file__).resolve().parent / "fixtures"
ZENDESK_FILES = ("ticket_data", "ticket_comment_data", "user_data",
                 "ticket_field_history_data", "satisfaction_rating_data")
INTERCOM_FILES = ("conversation_history_data", "conversation_contact_history_data",
                  "conversation_part_history_data", "contact_history_data")
SCHEMAS = {"zendesk-fivetran": "zendesk", "intercom-fivetran": "intercom"}
IMPORTERS: dict[str, Callable[..., Any]] = {"zendesk-fivetran": import_zendesk,
                                            "intercom-fivetran": import_intercom}

# ----------------------------------------------------------------------------- extra rows
_T = ("id", "_fivetran_synced", "created_at", "requester_id", "status", "updated_at",
      "via_channel")
ZENDESK_TICKETS = [
    # 1966 later moved to solved on the web: the latest row counts
    ("1966", "2020-04-02 00:00:00.000", "2020-02-27 06:05:08", "402813302773", "solved",
     "2020-04-01 10:00:00", "web"),
    # 9001 open, then deleted: dropped
    ("9001", "2020-09-01 10:00:00.000", "2020-09-01 09:00:00", "2222", "open",
     "2020-09-01 09:00:00", "web"),
    ("9001", "2020-09-02 10:00:00.000", "2020-09-01 09:00:00", "2222", "deleted",
     "2020-09-02 09:00:00", "web"),
    # 9002 deleted, then restored and solved: kept
    ("9002", "2020-09-02 10:00:00.000", "2020-09-02 10:00:00", "403957746773", "deleted",
     "2020-09-02 10:00:00", "api"),
    ("9002", "2020-09-08 10:00:00.000", "2020-09-02 10:00:00", "403957746773", "solved",
     "2020-09-07 10:00:00", "api"),
    # 9003: the same updated_at twice, the later sync (written first) wins
    ("9003", "2020-09-09 10:00:00.000", "2020-09-03 10:00:00", "2222", "closed",
     "2020-09-08 10:00:00", "web"),
    ("9003", "2020-09-08 11:00:00.000", "2020-09-03 10:00:00", "2222", "pending",
     "2020-09-08 10:00:00", "web"),
    # 9004: a requester the users table does not know, no channel
    ("9004", "2020-09-10 10:00:00.000", "2020-09-04 10:00:00", "5555", "solved",
     "2020-09-09 10:00:00", ""),
    # 9006: open again after being solved: not closed
    ("9006", "2020-09-10 10:00:00.000", "2020-09-06 08:00:00", "2222", "open",
     "2020-09-09 10:00:00", "email"),
]
_U = ("id", "_fivetran_synced", "email", "external_id", "role", "updated_at")
ZENDESK_USERS = [
    ("3333", "2020-03-05 05:03:34.208", "bo@example.com", "x-3", "end-user",
     "2020-02-26 22:00:00"),
    ("3333", "2020-09-01 05:03:34.208", "bo@example.com", "x-3", "agent",
     "2020-08-26 22:00:00"),  # promoted: an agent when they reply
    ("4444", "2020-03-05 05:03:34.208", "cy@example.com", "", "", "2020-02-26 22:00:00"),
]
_C = ("id", "_fivetran_synced", "body", "created", "public", "ticket_id", "user_id")
ZENDESK_COMMENTS = [
    # ticket 11071, created 2020-08-28 18:06:36, requester 2222, agent 1111
    ("1", "2020-10-02", "b", "2020-08-28 18:06:36", "TRUE", "11071", "2222"),  # requester
    ("2", "2020-10-02", "b", "2020-08-28 19:00:00", "FALSE", "11071", "1111"),  # private
    ("3", "2020-10-02", "b", "2020-08-29 09:30:00", "TRUE", "11071", "1111"),  # first
    ("4", "2020-10-02", "b", "2020-08-29 10:30:00", "TRUE", "11071", "1111"),
    ("5", "2020-10-02", "b", "2020-08-28 21:00:00", "TRUE", "11071", "403957746773"),  # user
    # 9002, created 2020-09-02 10:00: an agent before it was created, then 3333 (agent now)
    ("6", "2020-10-02", "b", "2020-09-02 09:00:00", "TRUE", "9002", "1111"),
    ("7", "2020-10-02", "b", "2020-09-02 11:00:00", "TRUE", "9002", "3333"),
    # 9003, created 2020-09-03 10:00: no author (a reply: not the requester), no role, unknown
    ("8", "2020-10-02", "b", "2020-09-03 11:00:00", "TRUE", "9003", ""),
    ("9", "2020-10-02", "b", "2020-09-03 11:30:00", "TRUE", "9003", "7777"),
    ("10", "2020-10-02", "b", "2020-09-03 12:00:00", "TRUE", "9003", "4444"),
    # 9004: the requester, a private agent note, then a public agent reply (lower case)
    ("11", "2020-10-02", "b", "2020-09-04 10:30:00", "TRUE", "9004", "5555"),
    ("12", "2020-10-02", "b", "2020-09-04 11:00:00", "FALSE", "9004", "1111"),
    ("13", "2020-10-02", "b", "2020-09-04 12:00:00", "true", "9004", "1111"),
    # 1966 and the deleted 9001
    ("14", "2020-10-02", "b", "2020-02-27 08:00:00", "TRUE", "1966", "1111"),
    ("15", "2020-10-02", "b", "2020-09-01 09:30:00", "TRUE", "9001", "1111"),
]
_H = ("field_name", "ticket_id", "updated", "_fivetran_synced", "user_id", "value")
ZENDESK_HISTORY = [
    ("status", "9002", "2020-09-05 10:00:00", "2020-10-02 14:08:33.216", "", "solved"),
    ("status", "9002", "2020-09-06 10:00:00", "2020-10-02 14:08:33.216", "", "solved"),
    ("status", "9002", "2020-09-07 10:00:00", "2020-10-02 14:08:33.216", "", "closed"),
    ("status", "9003", "2020-09-08 10:00:00", "2020-10-02 14:08:33.216", "", "closed"),
    ("priority", "9004", "2020-09-09 10:00:00", "2020-10-02 14:08:33.216", "", "solved"),
    ("status", "9006", "2020-09-07 10:00:00", "2020-10-02 14:08:33.216", "", "solved"),
    ("status", "1966", "2020-03-30 10:00:00", "2020-10-02 14:08:33.216", "", "solved"),
]
_R = ("id", "_fivetran_synced", "created_at", "requester_id", "score", "ticket_id",
      "updated_at")
ZENDESK_RATINGS = [
    ("51", "2020-09-10 00:00:00.000", "2020-09-06 10:00:00", "403957746773", "offered",
     "9002", "2020-09-06 10:00:00"),
    ("52", "2020-09-10 00:00:00.000", "2020-09-06 10:00:00", "403957746773", "good", "9002",
     "2020-09-07 10:00:00"),
    ("53", "2020-09-10 00:00:00.000", "2020-09-08 10:00:00", "2222", "Bad", "9003",
     "2020-09-08 10:00:00"),
    ("54", "2020-09-10 00:00:00.000", "2020-09-05 10:00:00", "5555", "unoffered", "9004",
     "2020-09-09 10:00:00"),
    ("54", "2020-09-09 00:00:00.000", "2020-09-05 10:00:00", "5555", "good", "9004",
     "2020-09-05 10:00:00"),  # rated, then the rating withdrawn: none
    ("55", "2020-09-10 00:00:00.000", "2020-03-30 10:00:00", "402813302773", "GOOD", "1966",
     "2020-03-30 10:00:00"),
    ("56", "2020-09-10 00:00:00.000", "2020-11-15 10:00:00", "2222", "offered", "11071",
     "2020-11-15 10:00:00"),
    ("57", "2020-09-10 00:00:00.000", "2020-09-02 10:00:00", "2222", "good", "9001",
     "2020-09-02 10:00:00"),
]

_CH = ("id", "updated_at", "_fivetran_synced", "conversation_rating_value", "created_at",
       "source_author_id", "source_author_type", "source_type", "state")
INTERCOM_CONVERSATIONS = [
    # 7001: three versions, rated 3 then 5, closed
    ("7001", "2021-01-04 09:00:00", "2021-01-04 10:00:00.000", "", "2021-01-04 09:00:00",
     "c-ann", "user", "conversation", "open"),
    ("7001", "2021-01-06 08:00:00", "2021-01-06 09:00:00.000", "5", "2021-01-04 09:00:00",
     "c-ann", "user", "conversation", "closed"),
    ("7001", "2021-01-05 12:00:00", "2021-01-05 12:30:00.000", "3", "2021-01-04 09:00:00",
     "c-ann", "user", "conversation", "closed"),
    # 7002: started by an admin, the contact from the contacts history; rated while open
    ("7002", "2021-01-05 11:00:00", "2021-01-05 12:00:00.000", "4", "2021-01-05 10:00:00",
     "4077639", "admin", "email", "open"),
    # 7003: a lead, but the contacts history names another contact
    ("7003", "2021-01-06 10:30:00", "2021-01-06 11:00:00.000", "", "2021-01-06 10:00:00",
     "c-cat", "lead", "conversation", "snoozed"),
    # 7004: a contact author, no contacts history row, closed
    ("7004", "2021-01-08 10:00:00", "2021-01-08 11:00:00.000", "1", "2021-01-07 10:00:00",
     "c-eve", "contact", "push", "closed"),
]
_CC = ("contact_id", "conversation_id", "conversation_updated_at", "_fivetran_synced")
INTERCOM_CONTACTS_OF = [
    ("c-bob", "7002", "2021-01-05 11:00:00", "2021-01-05 12:00:00.000"),
    ("c-old", "7002", "2021-01-05 10:00:00", "2021-01-05 12:00:00.000"),
    ("c-dan", "7003", "2021-01-06 10:30:00", "2021-01-06 11:00:00.000"),
]
_P = ("id", "updated_at", "_fivetran_synced", "author_id", "author_type", "conversation_id",
      "created_at", "part_type", "body")
INTERCOM_PARTS = [
    # 7001, created 2021-01-04 09:00
    ("8001", "2021-01-04 08:00:00", "2021-01-04 10:00:00.000", "4077639", "admin", "7001",
     "2021-01-04 08:00:00", "comment", "before"),
    ("8002", "2021-01-04 09:10:00", "2021-01-04 10:00:00.000", "c-ann", "user", "7001",
     "2021-01-04 09:10:00", "comment", "hello"),
    ("8003", "2021-01-04 09:20:00", "2021-01-04 10:00:00.000", "4077639", "admin", "7001",
     "2021-01-04 09:20:00", "note", "internal"),
    ("8004", "2021-01-04 09:30:00", "2021-01-04 10:00:00.000", "4077639", "admin", "7001",
     "2021-01-04 09:30:00", "close", ""),
    ("8006", "2021-01-04 09:45:00", "2021-01-04 10:00:00.000", "4077639", "admin", "7001",
     "2021-01-04 09:45:00", "assignment", "On it"),  # the first reply
    ("8007", "2021-01-04 10:00:00", "2021-01-04 10:30:00.000", "4077639", "admin", "7001",
     "2021-01-04 10:00:00", "comment", "later"),
    # 7002, created 2021-01-05 10:00: a note edited into a comment
    ("8008", "2021-01-05 10:05:00", "2021-01-05 10:10:00.000", "4077639", "admin", "7002",
     "2021-01-05 10:05:00", "note", "x"),
    ("8008", "2021-01-05 10:30:00", "2021-01-05 11:00:00.000", "4077639", "admin", "7002",
     "2021-01-05 10:05:00", "comment", "x"),
    # 7004, created 2021-01-07 10:00: a bot, a comment turned into a note, an admin comment
    ("8009", "2021-01-07 10:01:00", "2021-01-07 11:00:00.000", "99", "bot", "7004",
     "2021-01-07 10:01:00", "comment", "beep"),
    ("8011", "2021-01-07 10:05:00", "2021-01-07 10:06:00.000", "4077639", "admin", "7004",
     "2021-01-07 10:05:00", "comment", "x"),
    ("8011", "2021-01-07 10:20:00", "2021-01-07 11:00:00.000", "4077639", "admin", "7004",
     "2021-01-07 10:05:00", "note", "x"),
    ("8010", "2021-01-07 10:15:00", "2021-01-07 11:00:00.000", "4077639", "admin", "7004",
     "2021-01-07 10:15:00", "comment", "x"),
]
_K = ("id", "updated_at", "_fivetran_synced", "created_at", "email", "external_id")
INTERCOM_PEOPLE = [
    ("5f7295ca37f0d717d37dfddb", "2020-10-01 00:00:00", "2020-10-02 00:00:00.000",
     "2020-09-01 00:00:00", "Fix@Example.com", "ext-fix"),
    ("c-ann", "2021-01-01 00:00:00", "2021-01-02 00:00:00.000", "2021-01-01 00:00:00",
     "ann@example.com", "ext-ann"),
    ("c-bob", "2021-01-01 00:00:00", "2021-01-02 00:00:00.000", "2021-01-01 00:00:00",
     "old-bob@example.com", "ext-bob"),
    ("c-bob", "2021-01-03 00:00:00", "2021-01-03 00:00:00.000", "2021-01-01 00:00:00",
     "Bob@Example.COM", "ext-bob"),
    ("c-dan", "2021-01-01 00:00:00", "2021-01-02 00:00:00.000", "2021-01-01 00:00:00",
     "dan@example.com", "ext-dan"),
    ("c-eve", "2021-01-01 00:00:00", "2021-01-02 00:00:00.000", "2021-01-01 00:00:00",
     "eve@example.com", "ext-eve"),
]

EXTRA: dict[str, dict[str, tuple[tuple[str, ...], list[tuple[str, ...]]]]] = {
    "zendesk": {"ticket_data": (_T, ZENDESK_TICKETS), "user_data": (_U, ZENDESK_USERS),
                "ticket_comment_data": (_C, ZENDESK_COMMENTS),
                "ticket_field_history_data": (_H, ZENDESK_HISTORY),
                "satisfaction_rating_data": (_R, ZENDESK_RATINGS)},
    "intercom": {"conversation_history_data": (_CH, INTERCOM_CONVERSATIONS),
                 "conversation_contact_history_data": (_CC, INTERCOM_CONTACTS_OF),
                 "conversation_part_history_data": (_P, INTERCOM_PARTS),
                 "contact_history_data": (_K, INTERCOM_PEOPLE)},
}


def _write_layout(d: Path, helpdesk: str) -> Path:
    """The fixture tables with the extra rows, as CSV files in the Fivetran layout."""
    d.mkdir()
    for name, (columns, rows) in EXTRA[helpdesk].items():
        src = FIXTURES / helpdesk / f"{name}.csv"
        extra = pd.DataFrame(rows, columns=list(columns), dtype=str)
        if src.exists():
            base = pd.read_csv(src, dtype=str, keep_default_na=False)
            extra = pd.concat([base, extra], ignore_index=True).fillna("")
        extra.to_csv(d / f"{name}.csv", index=False)
    return d


@pytest.fixture(scope="module")
def layouts(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("layouts")
    return {layout: _write_layout(base / helpdesk, helpdesk)
            for layout, helpdesk in SCHEMAS.items()}


# ----------------------------------------------------------------------------- loading
def _duckdb(d: Path, schema_name: str, *, text: bool = False) -> Any:
    """A DuckDB holding the files of ``d`` in ``schema_name``, named as the files."""
    con = ibis.duckdb.connect()
    con.raw_sql(f"CREATE SCHEMA {schema_name}")
    for f in sorted(d.glob("*.csv")):
        table = con.read_csv(f, all_varchar=True) if text else con.read_csv(f)
        con.create_table(f.stem, table, database=schema_name)
    return con


def _fivetran_name(stem: str) -> str:
    return stem.removesuffix("_data")


def _postgres(url: str, pg: Any, d: Path, schema_name: str) -> Any:
    """PostgreSQL holding the files of ``d`` in ``schema_name`` under the connector's names
    (``ticket``, ``user``, ...), with the types DuckDB's reader finds; ``_fivetran_*`` times
    aware (timestamptz), the others naive."""
    pg.execute(f"DROP SCHEMA IF EXISTS {schema_name} CASCADE")
    pg.execute(f"CREATE SCHEMA {schema_name}")
    duck = ibis.duckdb.connect()
    con = ibis.connect(url)
    for f in sorted(d.glob("*.csv")):
        t = duck.read_csv(f)
        aware = {c: t[c].cast(dt.Timestamp(timezone="UTC")) for c in t.columns
                 if c.startswith("_fivetran") and t[c].type().is_timestamp()}
        con.create_table(_fivetran_name(f.stem), t.mutate(**aware).to_pyarrow(),
                         database=schema_name)
    return con


LOADERS = ("duckdb", "duckdb-text", "postgres")


@pytest.fixture
def load(request: pytest.FixtureRequest) -> Iterator[Callable[[Path, str], Any]]:
    """``load(directory, schema)``: a connection holding the tables, as the test's
    ``loader`` parameter says."""
    opened: list[Any] = []

    def loader(d: Path, schema_name: str) -> Any:
        kind = request.node.callspec.params["loader"]
        if kind == "postgres":
            url = request.getfixturevalue("postgres_url")
            pg = request.getfixturevalue("postgres_connection")
            con = _postgres(url, pg, d, schema_name)
        else:
            con = _duckdb(d, schema_name, text=kind == "duckdb-text")
        opened.append(con)
        return con

    yield loader
    for con in opened:
        con.disconnect()


# ----------------------------------------------------------------------------- comparing
CANONICAL_TYPES = {
    schema.CONVERSATION_ID: dt.string, schema.CUSTOMER_ID: dt.string,
    schema.CREATED_AT: dt.Timestamp(timezone="UTC"),
    schema.FIRST_RESPONSE_AT: dt.Timestamp(timezone="UTC"),
    schema.CLOSED_AT: dt.Timestamp(timezone="UTC"), schema.HANDLE_SECONDS: dt.float64,
    schema.CSAT: dt.string, schema.CSAT_SCALE: dt.string, schema.CHANNEL: dt.string,
    schema.FIRST_RESPONSE_BUSINESS_SECONDS: dt.float64,
}


def _same(expr: Any, ref: pd.DataFrame, key: str) -> pd.DataFrame:
    """The expression's rows equal ``ref``'s, sorted by ``key``, in the reference's pandas
    types (text, aware UTC timestamps, floats: Ibis hands back pandas' defaults)."""
    got = execute(expr)
    assert list(got.columns) == list(ref.columns)
    got = got.sort_values(key).reset_index(drop=True).astype(ref.dtypes.to_dict())
    ref = ref.sort_values(key).reset_index(drop=True)
    pd.testing.assert_frame_equal(got, ref)
    return got


def _import(layout: str, d: Path, **kwargs: Any) -> Any:
    return IMPORTERS[layout](d, **kwargs)


def _billing(customers: pd.Series) -> pd.DataFrame:
    ids = sorted(set(customers))
    n = np.arange(len(ids), dtype=float)
    return pd.DataFrame({"customer_id": ids, "monthly_spend": 100.0 + n,
                         "revenue_start": 1000.0 + 10 * n, "revenue_end": 990.0 + 12 * n})


# ----------------------------------------------------------------------------- tests
def test_the_extra_rows_exercise_the_rules(layouts):
    # the importer's view of the extra rows, by hand: what the engine is held to below
    z = import_zendesk(layouts["zendesk-fivetran"]).conversations.set_index(
        schema.CONVERSATION_ID)
    assert "9001" not in z.index
    assert "9002" in z.index
    first = z[schema.FIRST_RESPONSE_AT]
    assert first["11071"] == pd.Timestamp("2020-08-29 09:30:00Z")
    assert first["9002"] == pd.Timestamp("2020-09-02 11:00:00Z")  # 3333, an agent now
    assert first["9003"] == pd.Timestamp("2020-09-03 11:00:00Z")  # no author is a reply
    assert first["9004"] == pd.Timestamp("2020-09-04 12:00:00Z")
    closed = z[schema.CLOSED_AT]
    assert closed["9002"] == pd.Timestamp("2020-09-06 10:00:00Z")
    assert closed["9003"] == pd.Timestamp("2020-09-08 10:00:00Z")
    assert pd.isna(closed["9004"])
    assert pd.isna(closed["9006"])
    assert z[schema.CSAT].dropna().to_dict() == {"1966": "good", "9002": "good", "9003": "bad"}
    assert (z.loc["1966", schema.CHANNEL], z.loc["9003", schema.CUSTOMER_ID]) == ("web", "2222")

    i = import_intercom(layouts["intercom-fivetran"]).conversations.set_index(
        schema.CONVERSATION_ID)
    assert i[schema.CUSTOMER_ID][["7001", "7002", "7003", "7004"]].tolist() == [
        "c-ann", "c-bob", "c-dan", "c-eve"]
    assert i[schema.FIRST_RESPONSE_AT]["7001"] == pd.Timestamp("2021-01-04 09:45:00Z")
    assert i[schema.FIRST_RESPONSE_AT]["7002"] == pd.Timestamp("2021-01-05 10:05:00Z")
    assert i[schema.FIRST_RESPONSE_AT]["7004"] == pd.Timestamp("2021-01-07 10:15:00Z")
    assert i[schema.CSAT].dropna().to_dict() == {"7001": "5", "7002": "4", "7004": "1"}
    assert i[schema.CLOSED_AT]["7001"] == pd.Timestamp("2021-01-06 08:00:00Z")
    assert pd.isna(i[schema.CLOSED_AT]["7002"])


@pytest.mark.parametrize("loader", LOADERS)
@pytest.mark.parametrize("layout", LAYOUTS)
def test_conversations_equal_the_importer(layouts, load, layout, loader):
    d = layouts[layout]
    con = load(d, SCHEMAS[layout])
    views = canonical_tables(con, layout, schema=SCHEMAS[layout])
    assert set(views) == {"conversations"}  # no billing: no customers, as the importer
    conv = views["conversations"]
    assert dict(conv.schema().items()) == CANONICAL_TYPES
    ref = _import(layout, d).conversations
    _same(conv, ref, schema.CONVERSATION_ID)


@pytest.mark.parametrize("loader", LOADERS)
@pytest.mark.parametrize("layout", LAYOUTS)
def test_views_feed_customer_rows_as_the_imported_frames_do(layouts, load, layout, loader):
    d = layouts[layout]
    imported = _import(layout, d)
    bill = _billing(imported.conversations[schema.CUSTOMER_ID])
    result = _import(layout, d, billing=bill)
    con = load(d, SCHEMAS[layout])
    views = canonical_tables(con, layout, schema=SCHEMAS[layout], billing=bill)
    assert set(views) == {"customers", "conversations"}
    _same(views["customers"], result.customers, schema.CUSTOMER_ID)
    _same(views["conversations"], result.conversations, schema.CONVERSATION_ID)

    ids = sorted(result.customers[schema.CUSTOMER_ID])
    assignments = pd.DataFrame({
        schema.CUSTOMER_ID: ids, schema.EXPERIMENT: "frt",
        schema.ARM: ["fast" if k % 2 else "slow" for k in range(len(ids))],
        schema.ASSIGNED_AT: pd.Timestamp("2020-01-01", tz="UTC"),
        schema.BUCKET: np.arange(len(ids), dtype=float) / len(ids)})
    ref = customer_rows(result.customers, result.conversations, assignments)
    table = con.create_table("frt_layout_assignments", assignments, overwrite=True)
    got = fetch_rows(engine_rows(views["customers"], views["conversations"], table))
    assert ref[RATED].sum() > 0  # ratings reach the rows
    got = got.loc[ref.index]
    assert list(got.columns) == list(ref.columns)
    assert (got[schema.ARM] == ref[schema.ARM]).all()
    num = [col for col in ref.columns if col != schema.ARM]
    np.testing.assert_allclose(got[num].to_numpy(float), ref[num].to_numpy(float),
                               rtol=1e-12, atol=0)


@pytest.mark.parametrize("billing_key", ["email", "external_id"])
def test_billing_by_email_or_external_id_rekeys_conversations(layouts, billing_key):
    layout = "intercom-fivetran"
    d = layouts[layout]
    people = pd.read_csv(d / "contact_history_data.csv", dtype=str, keep_default_na=False)
    keys = people.loc[people[billing_key] != "", billing_key]
    if billing_key == "email":
        keys = keys.str.strip().str.lower()
    bill = _billing(keys.str.upper() if billing_key == "email" else keys)
    result = import_intercom(d, billing=bill, billing_key=billing_key)
    con = _duckdb(d, "intercom")
    views = canonical_tables(con, layout, schema="intercom", billing=bill,
                             billing_key=billing_key)
    _same(views["customers"], result.customers, schema.CUSTOMER_ID)
    got = _same(views["conversations"], result.conversations, schema.CONVERSATION_ID)
    if billing_key == "email":
        assert "bob@example.com" in set(got[schema.CUSTOMER_ID])  # the latest, lower case
    # billing held in the warehouse, as a table
    con.create_table("billing", bill)
    views = canonical_tables(con, layout, schema="intercom", billing=con.table("billing"),
                             billing_key=billing_key)
    _same(views["customers"], result.customers, schema.CUSTOMER_ID)
    _same(views["conversations"], result.conversations, schema.CONVERSATION_ID)


def test_billing_table_with_integer_ids(layouts):
    d = layouts["zendesk-fivetran"]
    ids = import_zendesk(d).conversations[schema.CUSTOMER_ID]
    bill = _billing(ids)
    result = import_zendesk(d, billing=bill)
    con = _duckdb(d, "zendesk")
    con.create_table("billing", bill.assign(customer_id=bill["customer_id"].astype("int64")))
    views = canonical_tables(con, "zendesk-fivetran", schema="zendesk",
                             billing=con.table("billing"))
    assert con.table("billing").customer_id.type().is_integer()
    _same(views["customers"], result.customers, schema.CUSTOMER_ID)


def test_naive_times_in_another_zone(layouts):
    d = layouts["zendesk-fivetran"]
    ref = import_zendesk(d, timezone="America/New_York").conversations
    for text in (False, True):
        con = _duckdb(d, "zendesk", text=text)
        views = canonical_tables(con, "zendesk-fivetran", schema="zendesk",
                                 timezone="America/New_York")
        got = _same(views["conversations"], ref, schema.CONVERSATION_ID)
        assert got.set_index(schema.CONVERSATION_ID).loc["9002", schema.CREATED_AT] == (
            pd.Timestamp("2020-09-02 14:00:00Z"))


def test_tables_named_otherwise_and_the_default_schema(layouts, tmp_path):
    d = layouts["zendesk-fivetran"]
    con = ibis.duckdb.connect()
    for f in d.glob("*.csv"):
        con.create_table(f"zd_{_fivetran_name(f.stem)}", con.read_csv(f))
    names = {"ticket": "zd_ticket", "user": "zd_user", "ticket_comment": "zd_ticket_comment",
             "ticket_field_history": "zd_ticket_field_history",
             "satisfaction_rating": "zd_satisfaction_rating"}
    views = canonical_tables(con, "zendesk-fivetran", tables=names)
    _same(views["conversations"], import_zendesk(d).conversations, schema.CONVERSATION_ID)
    with pytest.raises(ValueError, match="tables: tickets not tables of zendesk-fivetran"):
        canonical_tables(con, "zendesk-fivetran", tables={"tickets": "zd_ticket"})


def test_optional_tables_left_out(layouts, tmp_path):
    for layout, keep in (("zendesk-fivetran", ("ticket_data",)),
                         ("intercom-fivetran", ("conversation_history_data",))):
        d = tmp_path / SCHEMAS[layout]
        d.mkdir()
        for name in keep:
            shutil.copy(layouts[layout] / f"{name}.csv", d)
        con = _duckdb(d, SCHEMAS[layout])
        views = canonical_tables(con, layout, schema=SCHEMAS[layout])
        if layout == "intercom-fivetran":  # every conversation needs its contact author
            with pytest.raises(DataError, match="conversations without a contact"):
                import_intercom(d)
            continue
        _same(views["conversations"], _import(layout, d).conversations,
              schema.CONVERSATION_ID)


def _without(layouts: dict[str, Path], layout: str, out: Path, *, table: str | None = None,
             column: tuple[str, str] | None = None) -> tuple[Path, Any]:
    """The layout's files without a table or a column, and a DuckDB holding them."""
    out.mkdir()
    for f in sorted(layouts[layout].glob("*.csv")):
        if f.stem == table:
            continue
        frame = pd.read_csv(f, dtype=str, keep_default_na=False)
        if column is not None and column[0] == f.stem:
            frame = frame.drop(columns=column[1])
        frame.to_csv(out / f.name, index=False)
    return out, _duckdb(out, SCHEMAS[layout])


@pytest.mark.parametrize(("layout", "table", "message"), [
    ("zendesk-fivetran", "ticket_data", r"zendesk\.ticket: tickets table not found \(neither "
     r"zendesk\.ticket nor zendesk\.ticket_data\)"),
    ("intercom-fivetran", "conversation_history_data", r"intercom\.conversation_history: "
     r"conversation history table not found"),
])
def test_a_missing_table_names_it(layouts, tmp_path, layout, table, message):
    _, con = _without(layouts, layout, tmp_path / "d", table=table)
    with pytest.raises(DataError, match=message):
        canonical_tables(con, layout, schema=SCHEMAS[layout])


@pytest.mark.parametrize(("layout", "table", "column"), [
    ("zendesk-fivetran", "ticket_data", "requester_id"),
    ("zendesk-fivetran", "ticket_comment_data", "public"),
    ("zendesk-fivetran", "satisfaction_rating_data", "score"),
    ("intercom-fivetran", "conversation_history_data", "state"),
    ("intercom-fivetran", "conversation_part_history_data", "author_type"),
])
def test_a_missing_column_names_table_and_column(layouts, tmp_path, layout, table, column):
    d, con = _without(layouts, layout, tmp_path / "d", column=(table, column))
    # the expressions are refused as they are built: nothing has run yet
    with pytest.raises(DataError, match=rf"{SCHEMAS[layout]}\.{table}: column {column}: "
                       "missing"):
        canonical_tables(con, layout, schema=SCHEMAS[layout])
    # as the importer refuses the files, naming the file and the column
    with pytest.raises(DataError, match=rf"{table}\.csv: column {column}: missing"):
        _import(layout, d)


def test_refusals(layouts, tmp_path):
    con = _duckdb(layouts["zendesk-fivetran"], "zendesk")
    with pytest.raises(ValueError, match="layout must be one of zendesk-fivetran, "
                       "intercom-fivetran"):
        canonical_tables(con, "zendesk", schema="zendesk")
    with pytest.raises(ValueError, match="billing_key must be one of"):
        canonical_tables(con, "zendesk-fivetran", schema="zendesk", billing_key="phone")
    with pytest.raises(ValueError, match="time zone"):
        canonical_tables(con, "zendesk-fivetran", schema="zendesk", timezone="Mars/Olympus")
    bill = pd.DataFrame({"customer_id": ["a"], "monthly_spend": [1.0]})
    with pytest.raises(DataError, match="billing: column revenue_start: missing"):
        canonical_tables(con, "zendesk-fivetran", schema="zendesk", billing=bill)
    con.create_table("billing", bill)
    with pytest.raises(DataError, match="billing: column revenue_start: missing"):
        canonical_tables(con, "zendesk-fivetran", schema="zendesk",
                         billing=con.table("billing"))
    _, con = _without(layouts, "zendesk-fivetran", tmp_path / "d", table="user_data")
    with pytest.raises(ValueError, match=r"billing_key='email': .*zendesk\.user table is "
                       "missing"):
        canonical_tables(con, "zendesk-fivetran", schema="zendesk", billing_key="email",
                         billing=_billing(pd.Series(["x@example.com"])))


def test_the_importers_refusals_of_rows_are_found_by_the_engine_checks(layouts, tmp_path):
    # the importer refuses rows the views cannot refuse as they are built (a conversation
    # without a contact, a customer without billing); engine.checks.check_tables finds them
    from frt_experiments.engine.checks import check_tables

    for layout in LAYOUTS:
        d = layouts[layout]
        bill = _billing(_import(layout, d).conversations[schema.CUSTOMER_ID])
        views = canonical_tables(_duckdb(d, SCHEMAS[layout]), layout,
                                 schema=SCHEMAS[layout], billing=bill)
        check_tables(customers=views["customers"], conversations=views["conversations"])
        short = bill.iloc[1:]
        with pytest.raises(DataError, match="billing row"):
            _import(layout, d, billing=short)
        views = canonical_tables(_duckdb(d, SCHEMAS[layout]), layout,
                                 schema=SCHEMAS[layout], billing=short)
        with pytest.raises(DataError, match=r"conversations: column customer_id: \d+ rows? "
                           r"(is|are) of customers not in customers"):
            check_tables(customers=views["customers"], conversations=views["conversations"])

    d = tmp_path / "intercom"
    d.mkdir()
    shutil.copy(layouts["intercom-fivetran"] / "conversation_history_data.csv", d)
    with pytest.raises(DataError, match="conversations without a contact"):
        import_intercom(d)
    views = canonical_tables(_duckdb(d, "intercom"), "intercom-fivetran", schema="intercom")
    with pytest.raises(DataError, match=r"conversations: column customer_id: 1 row is empty "
                       r"\(a value is required\) \(conversation_id '7002'\)"):
        check_tables(conversations=views["conversations"])
