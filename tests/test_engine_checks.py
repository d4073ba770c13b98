"""The canonical tables' rules checked in the engine (frt_experiments.engine.checks) find the
problems the pandas validators find: same table, column, rule and count, on DuckDB and on
PostgreSQL; good tables cost one query each."""

from __future__ import annotations

import itertools
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import ibis
import numpy as np
import pandas as pd
import pytest

from frt_experiments import _limits, schema
from frt_experiments.engine import IBIS_PANDAS_WARNING, checks
from frt_experiments.errors import DataError, DataWarning, Problem
from frt_experiments.simulate import simulate

pytestmark = pytest.mark.filterwarnings(f"ignore:{IBIS_PANDAS_WARNING}")

UTC = "UTC"
_names = itertools.count()


# ----------------------------------------------------------------------------- engines
@pytest.fixture(scope="module")
def duck() -> Iterator[Any]:
    con = ibis.duckdb.connect()
    yield con
    con.disconnect()


@pytest.fixture(scope="module")
def pg(postgres_url: str, psycopg_module: Any) -> Iterator[Any]:
    con = ibis.connect(postgres_url)
    yield con
    con.disconnect()


@pytest.fixture(params=["duckdb", "postgres"])
def engine(request: pytest.FixtureRequest) -> Any:
    return request.getfixturevalue("duck" if request.param == "duckdb" else "pg")


def load(con: Any, df: pd.DataFrame) -> Any:
    return con.create_table(f"frt_checks_{next(_names)}", df, overwrite=True)


@pytest.fixture
def queries(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """The queries checks runs (each execution recorded)."""
    ran: list[Any] = []
    run = checks.execute

    def counting(expr: Any) -> Any:
        ran.append(expr)
        return run(expr)

    monkeypatch.setattr(checks, "execute", counting)
    return ran


# ----------------------------------------------------------------------------- tables
def ts(*values: str | None) -> pd.Series:
    return pd.Series(pd.to_datetime(list(values), utc=True), dtype="datetime64[ns, UTC]")


def customers(n: int = 6) -> pd.DataFrame:
    return pd.DataFrame({
        schema.CUSTOMER_ID: pd.array([f"u{i}" for i in range(n)], dtype="string"),
        schema.MONTHLY_SPEND: np.arange(n, dtype=float) * 10 + 5,
        schema.REVENUE_START: np.arange(n, dtype=float) + 100,
        schema.REVENUE_END: np.arange(n, dtype=float) + 110,
        schema.PRE_RATED: np.full(n, 3.0),
        schema.PRE_SATISFIED: np.full(n, 2.0),
    })


def conversations(n: int = 6) -> pd.DataFrame:
    created = [f"2025-01-0{1 + i % 8}T09:00:00Z" for i in range(n)]
    first = [f"2025-01-0{1 + i % 8}T10:00:00Z" for i in range(n)]
    return pd.DataFrame({
        schema.CONVERSATION_ID: pd.array([f"c{i}" for i in range(n)], dtype="string"),
        schema.CUSTOMER_ID: pd.array([f"u{i % 3}" for i in range(n)], dtype="string"),
        schema.CREATED_AT: ts(*created),
        schema.FIRST_RESPONSE_AT: ts(*first),
        schema.HANDLE_SECONDS: np.arange(n, dtype=float) * 60,
        schema.CSAT: pd.array([["5", "good", None, "1", "bad", "3"][i % 6] for i in range(n)],
                              dtype="string"),
        schema.CSAT_SCALE: pd.array(
            [["1-5", "good-bad", None, "1-5", "good-bad", "1-5"][i % 6] for i in range(n)],
            dtype="string"),
    })


def assignments(n: int = 6) -> pd.DataFrame:
    return pd.DataFrame({
        schema.CUSTOMER_ID: pd.array([f"u{i}" for i in range(n)], dtype="string"),
        schema.EXPERIMENT: pd.array(["exp"] * n, dtype="string"),
        schema.ARM: pd.array([schema.CONTROL_ARM, schema.TREATMENT_ARM] * (n // 2),
                             dtype="string"),
        schema.ASSIGNED_AT: ts(*["2025-01-01T00:00:00Z"] * n),
        schema.BUCKET: np.linspace(0, 0.9, n),
    })


BASE = {"customers": customers, "conversations": conversations, "assignments": assignments}
PANDAS = {"customers": schema.validate_customers,
          "conversations": schema.validate_conversations,
          "assignments": schema.validate_assignments}
CHECK: dict[str, Callable[[Any], list[Problem]]] = {
    "customers": checks.check_customers, "conversations": checks.check_conversations,
    "assignments": checks.check_assignments}


def with_column(df: pd.DataFrame, column: str, values: list[Any],
                dtype: str | None = None) -> pd.DataFrame:
    out = df.copy()
    out[column] = pd.Series(values, dtype=dtype) if dtype else values
    return out


def text(values: list[str | None]) -> list[Any]:
    return values


# One bad table per rule (or a few rules of one column): table, a frame, and the problems
# (column, rule, count) both paths must find.
CASES: dict[str, tuple[str, Callable[[], pd.DataFrame], set[tuple[str | None, str, int]]]] = {
    "missing required column": (
        "conversations", lambda: conversations().drop(columns=[schema.CREATED_AT]),
        {(None, "missing required column created_at", 0)}),
    "missing required columns": (
        "assignments", lambda: assignments().drop(columns=[schema.ARM, schema.BUCKET]),
        {(None, "missing required columns arm, bucket", 0)}),
    "repeated customer_id": (
        "customers", lambda: with_column(customers(), schema.CUSTOMER_ID,
                                         ["u0", "u1", "u0", "u1", "u0", " u5 "], "string"),
        {(schema.CUSTOMER_ID, schema.DUPLICATE_RULES["customers"], 3)}),
    "empty customer_id": (
        "customers", lambda: with_column(customers(), schema.CUSTOMER_ID,
                                         ["u0", None, "  ", "u3", "u4", "u5"], "string"),
        {(schema.CUSTOMER_ID, checks.EMPTY_RULE, 2)}),
    "negative and empty numbers": (
        "customers", lambda: with_column(customers(), schema.REVENUE_START,
                                         [-1.0, 0.5, np.nan, -3.0, 4.0, 5.0]),
        {(schema.REVENUE_START, checks.NEGATIVE_RULE, 2),
         (schema.REVENUE_START, checks.EMPTY_RULE, 1)}),
    "numbers as text": (
        "customers", lambda: with_column(customers(), schema.MONTHLY_SPEND,
                                         ["12.5", " 1e3 ", "abc", "-2", "", "-inf"]),
        {(schema.MONTHLY_SPEND, checks.NOT_NUMBERS_RULE, 1),
         (schema.MONTHLY_SPEND, checks.NEGATIVE_RULE, 2),
         (schema.MONTHLY_SPEND, checks.INFINITE_RULE, 1),
         (schema.MONTHLY_SPEND, checks.EMPTY_RULE, 1)}),
    "infinite number": (
        "customers", lambda: with_column(customers(), schema.MONTHLY_SPEND,
                                         [1.0, np.inf, 2.0, 3.0, 4.0, 5.0]),
        {(schema.MONTHLY_SPEND, checks.INFINITE_RULE, 1)}),
    "true/false as numbers": (
        "customers", lambda: with_column(customers(), schema.PRE_RATED,
                                         [True, False, True, True, False, True]),
        {(schema.PRE_RATED, checks.BOOLEAN_RULE, 6)}),
    "pre_satisfied greater than pre_rated": (
        "customers", lambda: with_column(customers(), schema.PRE_SATISFIED,
                                         [4.0, 2.0, 3.0, 9.0, 0.0, 1.0]),
        {(schema.PRE_SATISFIED, f"greater than {schema.PRE_RATED}", 2)}),
    "revenue_start without revenue_end": (
        "customers", lambda: customers().drop(columns=[schema.REVENUE_END]),
        {(None, "column revenue_start without column revenue_end (NRR needs both)", 0)}),
    "repeated conversation_id": (
        "conversations", lambda: with_column(conversations(), schema.CONVERSATION_ID,
                                             ["c0", "c0", "c1", "c1", "c0", "c5"], "string"),
        {(schema.CONVERSATION_ID, schema.DUPLICATE_RULES["conversations"], 3)}),
    "first response before creation": (
        "conversations", lambda: with_column(conversations(), schema.FIRST_RESPONSE_AT, ts(
            "2025-01-01T08:59:59Z", None, "2025-01-03T09:00:00Z", "2025-01-03T09:00:00Z",
            None, "2025-01-06T10:00:00Z")),
        {(schema.FIRST_RESPONSE_AT, checks.EARLIER_RULE, 2)}),
    "closed and abandoned": (
        "conversations", lambda: conversations().assign(**{
            schema.CLOSED_AT: ts("2025-01-01T08:00:00Z", None, None, None, None, None),
            schema.ABANDONED_AT: ts(None, "2025-01-02T09:30:00Z", None, None, None,
                                    "2025-01-06T08:00:00Z")}),
        {(schema.CLOSED_AT, checks.EARLIER_RULE, 1),
         (schema.ABANDONED_AT, checks.EARLIER_RULE, 1),
         (schema.ABANDONED_AT, checks.ABANDONED_RULE, 2)}),
    "timestamp text": (
        "conversations", lambda: with_column(conversations(), schema.CREATED_AT, [
            "2025-01-01T09:00:00Z", "2025-01-02 09:00:00.123456+01:00", "2" * 70,
            "2025-01-06", "2025-13-01T09:00:00Z", "2025-02-29T09:00:00Z"]),
        {(schema.CREATED_AT, _limits.TOO_LONG_RULE, 1),
         (schema.CREATED_AT, schema.DATE_ONLY_RULE, 1),
         (schema.CREATED_AT, checks.UNPARSABLE_RULE, 2)}),
    # alone: pandas stops at the first text without an offset ("now" has none)
    "a word for a time": (
        "conversations", lambda: with_column(conversations(), schema.CREATED_AT, [
            "2025-01-01T09:00:00Z", "now", "2025-01-03T09:00:00Z", "2025-01-04T09:00:00Z",
            "2025-01-05T09:00:00Z", "2025-01-06T09:00:00Z"]),
        {(schema.CREATED_AT, checks.UNPARSABLE_RULE, 1)}),
    "leap day and offsets": (
        "conversations", lambda: with_column(conversations(), schema.CREATED_AT, [
            "2024-02-29T09:00:00Z", "2025-01-02T09:00:00-0500", "2025-01-03T09:00:00+05",
            "2000-02-29 09:00:00Z", "1900-02-29T09:00:00Z", "2025-04-31T09:00:00Z"]).assign(
                **{schema.FIRST_RESPONSE_AT: ts(*[None] * 6)}),
        {(schema.CREATED_AT, checks.UNPARSABLE_RULE, 2)}),
    "naive timestamp text": (
        "conversations", lambda: with_column(conversations(), schema.CREATED_AT, [
            "2025-01-01T09:00:00", "2025-01-02T09:00:00Z", "2025-01-03 09:00:00",
            "2025-01-04T09:00:00Z", "2025-01-05T09:00:00Z", "2025-01-06T09:00:00Z"]),
        {(schema.CREATED_AT, checks.NAIVE_RULE, 2)}),
    "naive timestamps": (
        "assignments", lambda: with_column(assignments(), schema.ASSIGNED_AT, pd.to_datetime(
            ["2025-01-01T00:00:00"] * 5 + [None])),
        {(schema.ASSIGNED_AT, checks.NAIVE_RULE, 5),
         (schema.ASSIGNED_AT, checks.EMPTY_RULE, 1)}),
    "years a timestamp cannot hold": (
        "assignments", lambda: with_column(assignments(), schema.ASSIGNED_AT, [
            "9999-01-01T00:00:00Z", "1500-06-01T00:00:00+01:00", "2025-01-01T00:00:00Z",
            "2262-04-11T00:00:00Z", "2262-04-12T00:00:00Z", None]),
        {(schema.ASSIGNED_AT, _limits.OUT_OF_RANGE_RULE, 3),
         (schema.ASSIGNED_AT, checks.EMPTY_RULE, 1)}),
    "ratings": (
        "conversations", lambda: conversations().assign(**{
            schema.CSAT: pd.array(["6", "meh", "5", "2.5", "good", None], dtype="string"),
            schema.CSAT_SCALE: pd.array(["1-5", "good-bad", None, "1-5", "1-10", "1-5"],
                                        dtype="string")}),
        {(schema.CSAT, checks.OFF_1_5_RULE, 2),
         (schema.CSAT, checks.OFF_GOOD_BAD_RULE, 1),
         (schema.CSAT_SCALE, checks.NO_SCALE_RULE, 1),
         (schema.CSAT_SCALE, checks.BAD_SCALE_RULE, 1)}),
    "csat without csat_scale": (
        "conversations", lambda: conversations().drop(columns=[schema.CSAT_SCALE]),
        {(None, "column csat without column csat_scale (ratings need their scale)", 0)}),
    "negative handle time": (
        "conversations", lambda: with_column(conversations(), schema.HANDLE_SECONDS,
                                             [-1.0, 0.0, -0.5, np.nan, 3.0, 4.0]),
        {(schema.HANDLE_SECONDS, checks.NEGATIVE_RULE, 2),
         (schema.HANDLE_SECONDS, checks.EMPTY_RULE, 1)}),
    "assigned twice": (
        "assignments", lambda: assignments().assign(**{
            schema.CUSTOMER_ID: pd.array(["u0", "u0", "u1", "u1", "u1", "u2"], dtype="string"),
            schema.EXPERIMENT: pd.array(["a", "a", "a", "b", "b", None], dtype="string")}),
        {(schema.CUSTOMER_ID, schema.DUPLICATE_RULES["assignments"], 2),
         (schema.EXPERIMENT, checks.EMPTY_RULE, 1)}),
    "bucket": (
        "assignments", lambda: with_column(assignments(), schema.BUCKET,
                                           [0.0, 1.0, 1.5, -0.1, None, 0.99]),
        {(schema.BUCKET, checks.BUCKET_RULE, 2), (schema.BUCKET, checks.NEGATIVE_RULE, 1)}),
    "empty arm": (
        "assignments", lambda: with_column(assignments(), schema.ARM,
                                           ["fast", "", None, "fast", " ", "slow"], "string"),
        {(schema.ARM, checks.EMPTY_RULE, 3)}),
    "integer ids": (
        "customers", lambda: with_column(customers(), schema.CUSTOMER_ID, [1, 2, 3, 3, 4, 5]),
        {(schema.CUSTOMER_ID, schema.DUPLICATE_RULES["customers"], 1)}),
}


def pandas_problems(table: str, df: pd.DataFrame) -> set[tuple[str, str | None, str, int]]:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DataWarning)
            PANDAS[table](df)
    except DataError as exc:
        return {(p.source, p.column, p.rule, p.count) for p in exc.problems}
    return set()


def engine_problems(table: str, con: Any, df: pd.DataFrame) -> list[Problem]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        return CHECK[table](load(con, df))


@pytest.mark.parametrize("case", list(CASES))
def test_each_rule_as_in_pandas(engine, case, queries):
    table, make, expected = CASES[case]
    df = make()
    want = {(table, *e) for e in expected}
    assert pandas_problems(table, df) == want
    got = engine_problems(table, engine, df)
    assert {(p.source, p.column, p.rule, p.count) for p in got} == want
    assert len(queries) <= 2  # the counts, then the rows of the failing rules
    for p in got:
        if p.count:
            assert p.location == f"{schema.TABLES[table].key}s"
            assert 1 <= len(p.rows) <= min(p.count, 5)


def test_good_tables_pass_in_one_query_each(engine, queries):
    trial = simulate("published", customers=300, rng=21)
    t = {name: load(engine, df) for name, df in trial.to_pandas().items()}
    for name, table in t.items():
        assert CHECK[name](table) == []
    assert len(queries) == 3
    queries.clear()
    checks.check_tables(**t)  # and the customers of the other tables are known
    assert len(queries) == 5
    frames = {name: load(engine, df) for name, df in
              {"customers": customers(), "conversations": conversations(),
               "assignments": assignments()}.items()}
    checks.check_tables(**frames)


def test_rows_are_named_by_their_ids(duck, queries):
    conv = with_column(conversations(8), schema.HANDLE_SECONDS,
                       [-1.0, -2.0, 3.0, -4.0, -5.0, -6.0, -7.0, -8.0])
    conv[schema.CONVERSATION_ID] = pd.array(["c7", "c6", "c5", None, "c3", "c2", "c1", "c0"],
                                            dtype="string")
    empty, p = checks.check_conversations(load(duck, conv))
    assert str(empty) == ("conversations: column conversation_id: 1 row is empty (a value is "
                          "required) (conversation_id NULL)")
    assert (p.column, p.count) == (schema.HANDLE_SECONDS, 7)
    assert str(p) == ("conversations: column handle_seconds: 7 rows are negative (must be "
                      ">= 0) (conversation_ids 'c0', 'c1', 'c2', 'c3', 'c6', ...)")
    assert len(queries) == 2
    dup = with_column(customers(), schema.CUSTOMER_ID, [7, 7, 7, 9, 9, 11])
    (p,) = checks.check_customers(load(duck, dup))
    assert str(p) == ("customers: column customer_id: 3 rows are repeating an earlier "
                      "customer_id (customer_ids 7, 7, 9)")
    one = with_column(customers(), schema.REVENUE_END, [1.0, -1.0, 1.0, 1.0, 1.0, 1.0])
    (p,) = checks.check_customers(load(duck, one))
    assert str(p).endswith("1 row is negative (must be >= 0) (customer_id 'u1')")


def test_check_tables_raises_every_problem_and_unknown_customers(engine):
    conv = conversations()
    conv[schema.CUSTOMER_ID] = pd.array(["u0", "x1", "x2", "u1", "x1", "u2"], dtype="string")
    conv[schema.HANDLE_SECONDS] = [-1.0, 0, 0, 0, 0, 0]
    assign = assignments()
    ref = schema.check_tables(customers(3), conversations=conv, assignments=assign)
    with pytest.raises(DataError) as err:
        checks.check_tables(customers=load(engine, customers(3)),
                            conversations=load(engine, conv),
                            assignments=load(engine, assign))
    got = {(p.source, p.column, p.rule, p.count) for p in err.value.problems}
    want = {(p.source, p.column, p.rule, p.count) for p in ref}
    assert want == {("conversations", schema.CUSTOMER_ID, "of customers not in customers", 3),
                    ("assignments", schema.CUSTOMER_ID, "of customers not in customers", 3)}
    assert got == want | {("conversations", schema.HANDLE_SECONDS, checks.NEGATIVE_RULE, 1)}
    lines = str(err.value).splitlines()
    assert "conversations: column customer_id: 3 rows are of customers not in customers " \
           "(conversation_ids 'c1', 'c2', 'c4')" in lines
    with pytest.raises(TypeError, match="conversations must be an Ibis table"):
        checks.check_tables(conversations=conv)


def test_engine_only_rules(duck):
    conv = conversations().assign(**{
        schema.CREATED_AT: ["2025-01-01T09:00Z", "2025-01-02 09:00Z", "20250103T090000Z",
                            "2025-01-04T09:00:00Z", "2025-01-05T09:00:00+16:00",
                            "2025-01-06T09:00:00Z"],
        schema.FIRST_RESPONSE_AT: ts(*[None] * 6),
        schema.CSAT: pd.array(["4.0", "Good", None, " 1", "bad", "3"], dtype="string")})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        assert pandas_problems("conversations", conv) == set()
    got = {(p.column, p.rule, p.count) for p in checks.check_conversations(load(duck, conv))}
    assert got == {(schema.CREATED_AT, checks.ENGINE_TIMESTAMP_RULE, 4),
                   (schema.CSAT, checks.ENGINE_RATING_RULE, 3)}


def test_column_types(duck):
    floats = with_column(customers(), schema.CUSTOMER_ID, [1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
    (p,) = checks.check_customers(load(duck, floats))
    assert (p.column, p.count) == (schema.CUSTOMER_ID, 0)
    assert str(p) == ("customers: column customer_id: holds float64 values; ids must be text "
                      "or integers")
    dates = assignments()
    dates[schema.ASSIGNED_AT] = dates[schema.ASSIGNED_AT].dt.date
    got = {(p.column, p.rule, p.count) for p in checks.check_assignments(load(duck, dates))}
    assert got == {(schema.ASSIGNED_AT, schema.DATE_ONLY_RULE, 6)}
    assert pandas_problems("assignments", dates) == {("assignments", *g) for g in got}
    numbers = with_column(assignments(), schema.ASSIGNED_AT, [1.7e9] * 6)
    got = {(p.column, p.rule, p.count) for p in checks.check_assignments(load(duck, numbers))}
    assert got == {(schema.ASSIGNED_AT, checks.UNPARSABLE_RULE, 6)}
    assert pandas_problems("assignments", numbers) == {("assignments", *g) for g in got}
    stamps = with_column(customers(), schema.MONTHLY_SPEND, ts(*["2025-01-01T00:00:00Z"] * 6))
    got = {(p.column, p.rule, p.count) for p in checks.check_customers(load(duck, stamps))}
    assert got == {(schema.MONTHLY_SPEND, checks.NOT_NUMBERS_RULE, 6)}
    assert pandas_problems("customers", stamps) == {("customers", *g) for g in got}


def test_zero_revenue_warns_only_without_problems(duck):
    zero = with_column(customers(), schema.REVENUE_START, [0.0, 1.0, 0.0, 1.0, 1.0, 1.0])
    table = load(duck, zero)
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("ignore")
        warnings.simplefilter("always", DataWarning)
        assert checks.check_customers(table) == []
    assert [str(w.message) for w in seen] == [
        "customers: column revenue_start: 2 rows are zero: customers with no revenue at the "
        "start do not count towards NRR (customer_ids 'u0', 'u2')"]
    zero.loc[1, schema.MONTHLY_SPEND] = -1.0
    with warnings.catch_warnings():
        warnings.simplefilter("error", DataWarning)
        (p,) = checks.check_customers(load(duck, zero))
    assert p.rule == checks.NEGATIVE_RULE


def test_ratings_held_as_numbers(duck):
    conv = conversations().assign(**{schema.CSAT: [5, 1, None, 7, 2, 3],
                                     schema.CSAT_SCALE: ["1-5", "1-5", None, "1-5", "good-bad",
                                                         "1-5"]})
    want = {(schema.CSAT, checks.OFF_1_5_RULE, 1), (schema.CSAT, checks.OFF_GOOD_BAD_RULE, 1)}
    assert pandas_problems("conversations", conv) == {("conversations", *w) for w in want}
    got = {(p.column, p.rule, p.count) for p in checks.check_conversations(load(duck, conv))}
    # valid ratings held as floats: the engine's queries compare ratings as text (4.0 is not 4)
    assert got == want | {(schema.CSAT, checks.ENGINE_RATING_RULE, 3)}
    # held as integers they are read as their text (4 is "4"): only the off-scale ones
    ints = conv.astype({schema.CSAT: "Int64"})
    got = {(p.column, p.rule, p.count) for p in checks.check_conversations(load(duck, ints))}
    assert got == want


# Spark: Ibis' pyspark compiler reads an option its backend registers, which needs pyspark
@pytest.mark.parametrize("dialect", ["snowflake", "bigquery", "postgres", "duckdb"])
def test_the_counting_query_compiles_for_other_engines(dialect):
    for name, make, spec in (("customers", checks._customers, schema.CUSTOMERS),
                             ("conversations", checks._conversations, schema.CONVERSATIONS),
                             ("assignments", checks._assignments, schema.ASSIGNMENTS)):
        for text_times in (False, True):
            columns = {c.name: ("string" if c.kind in ("id", "text") or text_times
                                else "float64" if c.kind == "number" else "timestamp('UTC')")
                       for c in spec.columns}
            chk = make(ibis.table(columns, name=name))
            assert chk.rules
            assert not chk.problems
            sql = ibis.to_sql(chk.counts(), dialect=dialect)
            assert "CASE" in sql.upper()
