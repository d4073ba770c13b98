"""The hashed split as SQL equals Python's, bit for bit, in DuckDB and a real PostgreSQL.

``bucket_sql``/``arm_sql`` evaluated on 1,000,000 mixed ids (numbers, leading zeros, unicode,
quotes, backslashes, long strings) equal ``hash_buckets``/``arms_from_buckets`` exactly: every
float64 bucket and every arm, with unequal weights and three arms, for salts with quotes.
BigQuery, Snowflake and Spark SQL are kept as snapshots (and parsed by sqlglot when installed).
"""

from __future__ import annotations

import doctest
import re
import time

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import frt_experiments.sql as frt_sql
from frt_experiments.assignment import arms_from_buckets, hash_buckets
from frt_experiments.cli import main
from frt_experiments.sql import DIALECTS, arm_sql, bucket_sql, quote_literal

ARMS = ("fast", "one_business_day", "o'clock \\ arm")
WEIGHTS = (0.2, 0.45, 0.35)
QUOTED_SALT = "o'brien\\2026"   # a quote and a backslash
SALTS = ("s1", "100% spring", "x'; DROP TABLE frt_sql_ids; --", "ünï ☃ 顧客", '"double"')
N_FULL = 1_000_000
N_OTHER_SALTS = 100_000


def _mixed_ids(n: int, seed: int = 15) -> list[str]:
    """Customer ids of every shape an export holds (no NUL: PostgreSQL text refuses it)."""
    rng = np.random.default_rng(seed)
    kind = rng.integers(0, 8, n)
    k = rng.integers(0, 10**12, n)
    width = rng.integers(1, 12, n)
    unicode = ["ü", "é", "e\u0301", "顧客", "🙂", "Ω", "ß", "\u200b", "ﬁ", "𝔘"]
    pick = rng.integers(0, len(unicode), n)
    # a tenth of the long kind runs to thousands of characters, the rest to a hundred
    long_len = np.where(rng.random(n) < 0.1, rng.integers(100, 3_000, n),
                        rng.integers(20, 100, n))
    ids: list[str] = []
    for i in range(n):
        t = kind[i]
        if t == 0:
            ids.append(str(k[i]))                                    # plain numbers
        elif t == 1:
            ids.append(str(k[i] % 10 ** width[i]).zfill(int(width[i]) + 1))  # leading zeros
        elif t == 2:
            ids.append(f"{unicode[pick[i]]}{k[i]}{unicode[(pick[i] + 3) % 10]}")
        elif t == 3:
            ids.append(f"o'neil-{k[i]}" if k[i] % 2 else f'say "{k[i]}"')   # quotes
        elif t == 4:
            ids.append(f"C:\\users\\{k[i]}\\")                          # backslashes
        elif t == 5:
            ids.append(("ab'c\\" * 800)[: long_len[i]] + str(i))          # long strings
        elif t == 6:
            ids.append(f" {k[i]}\t{i} ")                                  # spaces, a tab
        else:
            ids.append(f"cus_{k[i]:x}")                                    # hex-like
    ids[:4] = ["", "0", "00", "NULL"]   # an empty id is an id; "NULL" is text
    return ids


@pytest.fixture(scope="module")
def mixed_ids() -> list[str]:
    return _mixed_ids(N_FULL)


def _expected(ids, salt):
    buckets = hash_buckets(ids, salt)
    return buckets, arms_from_buckets(buckets, ARMS, WEIGHTS)


def _select(dialect: str, salt: str, column: str = "customer_id") -> str:
    return (f"{bucket_sql(dialect, salt, id_column=column)} AS bucket, "
            f"{arm_sql(dialect, salt, arms=ARMS, weights=WEIGHTS, id_column=column)} AS arm")


def _duckdb_eval(ids, salt):
    con = duckdb.connect()
    con.register("ids_table", pa.table({"ord": np.arange(len(ids)),
                                        "customer_id": pa.array(ids, pa.large_string())}))
    out = con.execute(f"SELECT {_select('duckdb', salt)} FROM ids_table ORDER BY ord"
                      ).fetchnumpy()
    return np.asarray(out["bucket"], dtype=np.float64), np.asarray(out["arm"]).astype(str)


def _load_postgres(conn, ids):
    conn.execute("DROP TABLE IF EXISTS frt_sql_ids")
    conn.execute("CREATE TABLE frt_sql_ids (ord integer PRIMARY KEY, customer_id text)")
    with conn.cursor().copy("COPY frt_sql_ids (ord, customer_id) FROM STDIN") as copy:
        for row in enumerate(ids):
            copy.write_row(row)


def _postgres_eval(conn, salt):
    rows = conn.execute(f"SELECT {_select('postgres', salt)} FROM frt_sql_ids ORDER BY ord"
                        ).fetchall()
    buckets = np.fromiter((r[0] for r in rows), dtype=np.float64, count=len(rows))
    return buckets, np.asarray([r[1] for r in rows]).astype(str)


def _with_params(sql: str) -> str:
    """``sql`` for a psycopg query with parameters: its own ``%`` doubled (a salt may hold one)."""
    return sql.replace("%", "%%")


def _assert_same(got, expected):
    (b, a), (eb, ea) = got, expected
    assert b.shape == eb.shape
    differ = np.flatnonzero(b != eb)
    assert differ.size == 0, f"{differ.size} buckets differ, first at {differ[:5]}"
    assert np.array_equal(a, ea)


# ----------------------------------------------------------------------------- DuckDB
def test_duckdb_equals_python_on_a_million_mixed_ids(mixed_ids):
    start = time.perf_counter()
    expected = _expected(mixed_ids, QUOTED_SALT)
    _assert_same(_duckdb_eval(mixed_ids, QUOTED_SALT), expected)
    assert time.perf_counter() - start < 60
    # every arm is used, in proportion
    arms = expected[1]
    shares = [np.mean(arms == arm) for arm in ARMS]
    np.testing.assert_allclose(shares, WEIGHTS, atol=0.005)


@pytest.mark.parametrize("salt", SALTS)
def test_duckdb_equals_python_for_other_salts(mixed_ids, salt):
    ids = mixed_ids[:N_OTHER_SALTS]
    _assert_same(_duckdb_eval(ids, salt), _expected(ids, salt))


def test_duckdb_integer_ids_hash_as_their_decimal_text():
    ids = np.array([0, 7, 123456789012, -5, 2**62], dtype=np.int64)
    con = duckdb.connect()
    table = pd.DataFrame({"ord": np.arange(ids.size), "customer_id": ids})
    con.register("table_ints", table)
    out = con.execute(f"SELECT {_select('duckdb', 's1')} FROM table_ints ORDER BY ord").fetchnumpy()
    expected = hash_buckets([str(i) for i in ids], "s1")
    assert np.array_equal(np.asarray(out["bucket"]), expected)


def test_null_id_gives_null_bucket_and_arm():
    con = duckdb.connect()
    row = con.execute(f"SELECT {_select('duckdb', 's1')} FROM "
                      "(SELECT CAST(NULL AS VARCHAR) AS customer_id)").fetchone()
    assert row == (None, None)


def test_id_column_expression_is_inserted_as_written():
    con = duckdb.connect()
    expr = arm_sql("duckdb", "s1", id_column='t."Customer Id"')
    row = con.execute(f'SELECT {expr} FROM (SELECT \'00042\' AS "Customer Id") AS t').fetchone()
    assert row is not None
    assert row[0] == arms_from_buckets(hash_buckets(["00042"], "s1"))[0]


def _hex_cases() -> list[str]:
    """64-bit values where float64 rounding matters: ties to even, near 2**64, near 0."""
    values = [0, 1, 2**32 - 1, 2**32, 2**53 - 1, 2**53, 2**53 + 1, 2**53 + 2, 2**53 + 3,
              2**54 + 2, 2**54 + 6, 2**63, 2**63 + 1024, 2**63 + 1025, 2**63 + 3072,
              2**64 - 1, 2**64 - 1024, 2**64 - 1025, 2**64 - 2048, 2**64 - 2049,
              2**64 - 3072, 2**64 - 3073, 0x8000_0000_FFFF_FFFF, 0xFFFF_FFFF_0000_0000]
    rng = np.random.default_rng(1)
    values += [int(v) for v in rng.integers(0, 2**63, 2_000, dtype=np.uint64) * 2
               + rng.integers(0, 2, 2_000, dtype=np.uint64)]
    return [f"{v:016x}" for v in values]


def _python_bucket_of_hex(hexes: list[str]) -> np.ndarray:
    raw = np.array([int(h, 16) for h in hexes], dtype=np.uint64)
    return np.minimum(raw.astype(np.float64) / 2.0**64, np.nextafter(1.0, 0.0))


def test_duckdb_rounds_the_64_bit_integer_as_numpy():
    hexes = _hex_cases()
    con = duckdb.connect()
    con.register("hexes", pd.DataFrame({"ord": np.arange(len(hexes)), "h": hexes}))
    expr = frt_sql._bucket_of_hex("duckdb", "h")
    got = np.asarray(con.execute(f"SELECT {expr} AS b FROM hexes ORDER BY ord").fetchnumpy()["b"])
    assert np.array_equal(got, _python_bucket_of_hex(hexes))


_SALT_TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), max_size=30)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(salt=_SALT_TEXT, ids=st.lists(_SALT_TEXT, min_size=1, max_size=20))
@example(salt="%:%s%%\u00a0'\\", ids=["%s", "it's"])
def test_any_salt_is_quoted_safely_in_duckdb(salt, ids):
    _assert_same(_duckdb_eval(ids, salt), _expected(ids, salt))


# ----------------------------------------------------------------------------- PostgreSQL
@pytest.fixture(scope="module")
def postgres_ids(postgres_url, psycopg_module, mixed_ids):
    with psycopg_module.connect(postgres_url, autocommit=True) as conn:
        _load_postgres(conn, mixed_ids)
        yield conn
        conn.execute("DROP TABLE IF EXISTS frt_sql_ids")


def test_postgres_equals_python_on_a_million_mixed_ids(postgres_ids, mixed_ids):
    start = time.perf_counter()
    _assert_same(_postgres_eval(postgres_ids, QUOTED_SALT), _expected(mixed_ids, QUOTED_SALT))
    assert time.perf_counter() - start < 120


@pytest.mark.parametrize("salt", SALTS)
def test_postgres_equals_python_for_other_salts(postgres_ids, mixed_ids, salt):
    rows = postgres_ids.execute(
        f"SELECT {_with_params(_select('postgres', salt))} FROM frt_sql_ids WHERE ord < %s "
        "ORDER BY ord",
        (N_OTHER_SALTS,)).fetchall()
    got = (np.array([r[0] for r in rows]), np.array([r[1] for r in rows]).astype(str))
    _assert_same(got, _expected(mixed_ids[:N_OTHER_SALTS], salt))
    # the salt that tries to end its literal did not drop anything
    assert postgres_ids.execute("SELECT count(*) FROM frt_sql_ids").fetchone() == (N_FULL,)


def test_postgres_rounds_the_64_bit_integer_as_numpy(postgres_connection):
    hexes = _hex_cases()
    expr = frt_sql._bucket_of_hex("postgres", "h")
    rows = postgres_connection.execute(
        f"SELECT {expr} FROM unnest(%s::text[]) WITH ORDINALITY AS t(h, ord) ORDER BY ord",
        (hexes,)).fetchall()
    assert np.array_equal(np.array([r[0] for r in rows]), _python_bucket_of_hex(hexes))


def test_postgres_backslash_salt_whatever_standard_conforming_strings(postgres_connection):
    expected = hash_buckets(["42"], QUOTED_SALT)[0]
    for setting in ("on", "off"):
        postgres_connection.execute(f"SET standard_conforming_strings = {setting}")
        row = postgres_connection.execute(
            f"SELECT {bucket_sql('postgres', QUOTED_SALT)} FROM (SELECT '42' AS customer_id) t"
        ).fetchone()
        assert row == (expected,)
    postgres_connection.execute("RESET standard_conforming_strings")


@settings(max_examples=60, deadline=None, suppress_health_check=[
    HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(salt=_SALT_TEXT, ids=st.lists(_SALT_TEXT, min_size=1, max_size=20))
@example(salt="%:%s%%\u00a0'\\", ids=["%s", "it's"])
def test_any_salt_is_quoted_safely_in_postgres(postgres_connection, salt, ids):
    rows = postgres_connection.execute(
        f"SELECT {_with_params(_select('postgres', salt))} FROM unnest(%s::text[]) "
        "WITH ORDINALITY AS t(customer_id, ord) ORDER BY ord", (ids,)).fetchall()
    got = (np.array([r[0] for r in rows], dtype=np.float64),
           np.array([r[1] for r in rows]).astype(str))
    _assert_same(got, _expected(ids, salt))


# ----------------------------------------------------------------------------- other dialects
SNAPSHOT_SALT = "o'b\\x"
SNAPSHOT_ARMS = ("fast", "slow's")
SNAPSHOTS = {
    "bigquery": (
        'CASE WHEN c.customer_id IS NULL THEN NULL WHEN CASE WHEN c.customer_id IS NULL THEN '
        "NULL ELSE LEAST((CAST(CAST(CONCAT('0x', SUBSTR(TO_HEX(SHA256(CONCAT('o\\'b\\\\x:', "
        "CAST(c.customer_id AS STRING)))), 1, 8)) AS INT64) AS FLOAT64) * CAST('4294967296' AS "
        "FLOAT64) + CAST(CAST(CONCAT('0x', SUBSTR(TO_HEX(SHA256(CONCAT('o\\'b\\\\x:', "
        'CAST(c.customer_id AS STRING)))), 9, 8)) AS INT64) AS FLOAT64)) / '
        "CAST('18446744073709551616' AS FLOAT64), CAST('0.9999999999999999' AS FLOAT64)) END < "
        "CAST('0.25' AS FLOAT64) THEN 'fast' ELSE 'slow\\'s' END"
    ),
    "snowflake": (
        'CASE WHEN c.customer_id IS NULL THEN NULL WHEN CASE WHEN c.customer_id IS NULL THEN '
        "NULL ELSE LEAST((CAST(TO_NUMBER(UPPER(SUBSTR(SHA2('o\\'b\\\\x:' || CAST(c.customer_id "
        "AS VARCHAR), 256), 1, 8)), 'XXXXXXXX') AS DOUBLE) * CAST('4294967296' AS DOUBLE) + "
        "CAST(TO_NUMBER(UPPER(SUBSTR(SHA2('o\\'b\\\\x:' || CAST(c.customer_id AS VARCHAR), "
        "256), 9, 8)), 'XXXXXXXX') AS DOUBLE)) / CAST('18446744073709551616' AS DOUBLE), "
        "CAST('0.9999999999999999' AS DOUBLE)) END < CAST('0.25' AS DOUBLE) THEN 'fast' ELSE "
        "'slow\\'s' END"
    ),
    "spark": (
        'CASE WHEN c.customer_id IS NULL THEN NULL WHEN CASE WHEN c.customer_id IS NULL THEN '
        "NULL ELSE LEAST((CAST(CAST(conv(substr(sha2(concat(concat('o', chr(39), 'b', chr(92), "
        "'x:'), CAST(c.customer_id AS STRING)), 256), 1, 8), 16, 10) AS BIGINT) AS DOUBLE) * "
        "CAST('4294967296' AS DOUBLE) + CAST(CAST(conv(substr(sha2(concat(concat('o', chr(39), "
        "'b', chr(92), 'x:'), CAST(c.customer_id AS STRING)), 256), 9, 8), 16, 10) AS BIGINT) "
        "AS DOUBLE)) / CAST('18446744073709551616' AS DOUBLE), CAST('0.9999999999999999' AS "
        "DOUBLE)) END < CAST('0.25' AS DOUBLE) THEN 'fast' ELSE concat('slow', chr(39), 's') "
        'END'
    ),
}


@pytest.mark.parametrize("dialect", sorted(SNAPSHOTS))
def test_sql_text_snapshot(dialect):
    got = arm_sql(dialect, SNAPSHOT_SALT, arms=SNAPSHOT_ARMS, weights=(1, 3),
                  id_column="c.customer_id")
    assert got == SNAPSHOTS[dialect]


@pytest.mark.parametrize("dialect", DIALECTS)
def test_sql_parses_in_sqlglot(dialect):
    sqlglot = pytest.importorskip("sqlglot")
    read = {"postgres": "postgres", "spark": "spark"}.get(dialect, dialect)
    sql = f"SELECT {_select(dialect, SNAPSHOT_SALT)} FROM customers"
    tree = sqlglot.parse_one(sql, read=read)
    strings = {lit.this for lit in tree.find_all(sqlglot.exp.Literal) if lit.is_string}
    # (spark spells quotes and backslashes as chr(39), chr(92); sqlglot keeps PostgreSQL's
    # E'' escapes as written; both engines' literals are checked by running them)
    if dialect not in ("spark", "postgres"):
        assert f"{SNAPSHOT_SALT}:" in strings
        assert ARMS[2] in strings


def test_quote_literal_per_dialect():
    assert quote_literal("duckdb", "a'b\\c") == "'a''b\\c'"
    assert quote_literal("postgres", "a'b") == "'a''b'"
    assert quote_literal("postgres", "a'b\\c") == "E'a''b\\\\c'"
    assert quote_literal("bigquery", "a'b\\c") == "'a\\'b\\\\c'"
    assert quote_literal("snowflake", "a'b\\c") == "'a\\'b\\\\c'"
    assert quote_literal("spark", "a'b\\c") == "concat('a', chr(39), 'b', chr(92), 'c')"
    assert quote_literal("spark", "'") == "chr(39)"
    assert quote_literal("spark", "") == "''"


@pytest.mark.parametrize(("call", "message"), [
    (lambda: bucket_sql("mysql", "s"), "dialect: 'mysql' is not supported; use one of "
                                       "bigquery, duckdb, postgres, snowflake, spark"),
    (lambda: bucket_sql("duckdb", "a\nb"), "salt: 'a\\nb' holds control characters (U+000A)"),
    (lambda: bucket_sql("duckdb", "s", id_column=" "), "id_column: need a column name"),
    (lambda: bucket_sql("duckdb", "s", id_column="id; DROP TABLE x"), "must be one expression"),
    (lambda: arm_sql("duckdb", "s", arms=("a",), weights=(1,)), "arms: need at least two"),
    (lambda: arm_sql("duckdb", "s", arms=("a", "b"), weights=(1, -1)), "weights: every weight"),
    (lambda: arm_sql("duckdb", "s", arms=("a", "b\x00"), weights=(1, 1)),
     "arms: 'b\\x00' holds control characters (U+0000)"),
])
def test_bad_arguments_are_named(call, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        call()


def test_salt_must_be_text():
    with pytest.raises(TypeError, match="salt must be a string, got int"):
        bucket_sql("duckdb", 5)  # type: ignore[arg-type]


def test_module_examples_run():
    assert doctest.testmod(frt_sql, optionflags=doctest.ELLIPSIS).failed == 0


# ----------------------------------------------------------------------------- CLI
def test_cli_emit_sql_prints_bucket_and_arm_that_duckdb_runs(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    status = main(["assign", "--emit-sql", "DuckDB", "--salt", QUOTED_SALT,
                   "--arms", ",".join(ARMS), "--weights", ",".join(map(str, WEIGHTS)),
                   "--id-column", "cid"])
    out, err = capsys.readouterr()
    assert status == 0
    assert err == ""
    assert out.splitlines()[0].endswith(" AS bucket,")
    assert out.splitlines()[1].endswith(" AS arm")
    assert not list(tmp_path.iterdir())   # no ledger, no files
    ids = _mixed_ids(2_000, seed=3)
    con = duckdb.connect()
    con.register("t", pd.DataFrame({"ord": np.arange(len(ids)), "cid": ids}))
    got = con.execute(f"SELECT {out} FROM t ORDER BY ord").fetchnumpy()
    _assert_same((np.asarray(got["bucket"]), np.asarray(got["arm"]).astype(str)),
                 _expected(ids, QUOTED_SALT))


def test_cli_emit_sql_defaults_to_the_two_arms_and_customer_id(capsys):
    assert main(["assign", "--emit-sql", "postgres", "--salt", "s1"]) == 0
    out = capsys.readouterr().out
    assert out == (f"{bucket_sql('postgres', 's1')} AS bucket,\n"
                   f"{arm_sql('postgres', 's1')} AS arm\n")


@pytest.mark.parametrize(("argv", "message"), [
    (["--emit-sql", "mysql", "--salt", "s"],
     "error: --emit-sql: 'mysql' is not a supported dialect; use one of bigquery, duckdb, "
     "postgres, snowflake, spark"),
    (["--emit-sql", "duckdb"], "error: --salt: required with --emit-sql"),
    (["--emit-sql", "duckdb", "--salt", "s", "--customers", "c.csv", "--ledger", "l.csv"],
     "error: --emit-sql: prints the SQL only; leave out --customers, --ledger"),
    (["--emit-sql", "duckdb", "--salt", "s", "--weights", "1,x"],
     "error: --weights: '1,x' is not a list of numbers"),
    (["--emit-sql", "spark", "--salt", "a\tb"], "error: salt: 'a\\tb' holds control characters"),
    (["--salt", "s", "--id-column", "cid"], "error: --id-column: only with --emit-sql"),
    (["--salt", "s", "--customers", "c.csv"],
     "error: the following arguments are required: --ledger"),
])
def test_cli_emit_sql_errors_are_one_line_exit_2(tmp_path, monkeypatch, capsys, argv, message):
    monkeypatch.chdir(tmp_path)
    assert main(["assign", *argv]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith(message)
    assert len(err.strip().splitlines()) == 1
    assert not list(tmp_path.iterdir())
