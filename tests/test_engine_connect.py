"""engine.connect: every URL form opens its engine (DuckDB in memory and in a file, PostgreSQL,
Spark in local mode), tables open by name or schema.name, a missing table is a DataError naming
the URL and listing tables, an unreachable engine fails fast in one line with the password
hidden, a missing driver names its extra, and a malformed URL is a ValueError."""

from __future__ import annotations

import doctest
import os
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator

import pandas as pd
import pytest

from frt_experiments.engine import IBIS_PANDAS_WARNING
from frt_experiments.engine import connect as connect_module
from frt_experiments.engine.connect import (
    EngineConnectionError,
    connect,
    redact,
    spark_master,
    table,
)
from frt_experiments.errors import DataError, FrtError

pytestmark = pytest.mark.filterwarnings(f"ignore:{IBIS_PANDAS_WARNING}")
FRAME = pd.DataFrame({"customer_id": ["c1", "c2"], "x": [1.0, 2.0]})
#: The exceptions `frt` reports in one line with exit status 2 (frt_experiments/cli.py).
CLI_ONE_LINE = (FrtError, ValueError, TypeError, OSError, KeyError)


def test_module_examples_run():
    assert doctest.testmod(connect_module).failed == 0


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A loopback port bound but not listening: connections to it are refused."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        yield s.getsockname()[1]


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A loopback port that accepts connections and never answers."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(8)
        yield s.getsockname()[1]


# ------------------------------------------------------------------------------------ DuckDB
def test_duckdb_in_memory_and_in_a_file(tmp_path, monkeypatch):
    con = connect("duckdb://")
    con.create_table("customers", FRAME)
    assert table(con, "customers").count().execute() == 2
    assert table(con, "main.customers").count().execute() == 2

    path = tmp_path / "trial.duckdb"
    con = connect(f"duckdb://{path}")  # duckdb:///abs/path
    con.create_table("customers", FRAME)
    con.disconnect()
    con = connect(f"duckdb://{path}?read_only=true")
    assert table(con, "customers").x.sum().execute() == 3.0
    con.disconnect()
    monkeypatch.chdir(tmp_path)
    con = connect("duckdb://trial.duckdb")  # relative to the working directory
    assert table(con, "customers").count().execute() == 2
    con.disconnect()


def test_a_missing_table_names_the_url_and_lists_tables(tmp_path):
    path = tmp_path / "trial.duckdb"
    con = connect(f"duckdb://{path}")
    for i in range(10):
        con.create_table(f"t{i}", FRAME)
    with pytest.raises(DataError) as err:
        table(con, "conversations")
    (problem,) = err.value.problems
    assert problem.source == f"duckdb://{path}"
    assert problem.rule == ("no table 'conversations' (tables there: t0, t1, t2, t3, t4, t5, t6, "
                            "t7, ... (10 in all))")
    assert str(err.value).endswith(f": {problem.rule}")  # the source cut to 80 characters
    with pytest.raises(DataError, match=r"no table 'main\.nope' in schema 'main' \(tables"):
        table(con, "main.nope")
    with pytest.raises(DataError, match=r"no table 'elsewhere\.t0' in schema 'elsewhere'"):
        table(con, "elsewhere.t0")
    with pytest.raises(DataError, match=r"^duckdb://: no table 'x' \(it has no tables\)$"):
        table(connect("duckdb://"), "x")
    for bad in ("a.b.c", "", ".t", "s."):
        with pytest.raises(ValueError, match=r"give table or schema\.table"):
            table(con, bad)
    con.disconnect()


def test_an_unopenable_duckdb_file_is_a_connection_error(tmp_path):
    with pytest.raises(EngineConnectionError, match=r"^could not connect to duckdb://.*/no/such"):
        connect(f"duckdb://{tmp_path}/no/such/dir/trial.duckdb")


# -------------------------------------------------------------------------------- PostgreSQL
def test_postgresql_urls_and_tables(postgres_url, postgres_connection):
    postgres_connection.execute("DROP SCHEMA IF EXISTS frt_connect CASCADE")
    postgres_connection.execute("CREATE SCHEMA frt_connect")
    postgres_connection.execute(
        "CREATE TABLE frt_connect.customers AS SELECT 'c1'::text AS customer_id, 1.5 AS x")
    postgres_connection.execute("DROP TABLE IF EXISTS frt_connect_top")
    postgres_connection.execute("CREATE TABLE frt_connect_top AS SELECT 1 AS y")
    for url in (postgres_url, postgres_url.replace("postgresql://", "postgres://", 1)):
        con = connect(url)
        try:
            assert table(con, "frt_connect.customers").x.sum().execute() == 1.5
            assert table(con, "frt_connect_top").count().execute() == 1
            with pytest.raises(DataError) as err:
                table(con, "frt_connect.conversations")
            assert str(err.value) == (f"{url}: no table 'frt_connect.conversations' in schema "
                                      "'frt_connect' (tables there: customers)")
            with pytest.raises(DataError, match=r"no table 'nope' \(tables there: "):
                table(con, "nope")
        finally:
            con.disconnect()
    # the tables of the default schema are listed (other tests' tables may be there too: a
    # libpq option puts a schema of its own first on the search path)
    sep = "&" if "?" in postgres_url else "?"
    con = connect(f"{postgres_url}{sep}options=-csearch_path%3Dfrt_connect")
    try:
        with pytest.raises(DataError, match=r"no table 'nope' \(tables there: customers\)"):
            table(con, "nope")
    finally:
        con.disconnect()


def test_unreachable_postgresql_is_one_line_with_the_password_hidden(closed_port):
    url = f"postgresql://ana:s3cr%40t@127.0.0.1:{closed_port}/support?sslmode=disable"
    start = time.monotonic()
    with pytest.raises(EngineConnectionError) as err:
        connect(url)
    assert time.monotonic() - start < 10
    message = str(err.value)
    prefix = (f"could not connect to postgresql://ana:***@127.0.0.1:{closed_port}/support"
              "?sslmode=disable: ")
    assert message.startswith(prefix)
    assert "refused" in message
    assert "\n" not in message
    assert "s3cr" not in message
    assert isinstance(err.value, CLI_ONE_LINE)


def test_a_silent_postgresql_server_times_out(silent_port):
    start = time.monotonic()
    with pytest.raises(EngineConnectionError, match=r"^could not connect to postgresql://"
                                                    r"u@127\.0\.0\.1:\d+/db: .*timeout"):
        connect(f"postgresql://u@127.0.0.1:{silent_port}/db", timeout=2)
    assert time.monotonic() - start < 8


def test_a_missing_driver_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "psycopg", None)
    with pytest.raises(EngineConnectionError, match=r"^could not connect to postgresql://h/db: "
                                                    r".*pip install 'frt-experiments\[postgres\]'"):
        connect("postgresql://h/db")
    monkeypatch.setitem(sys.modules, "pyspark", None)
    with pytest.raises(EngineConnectionError, match=r"^could not connect to spark://local\[2\]: "
                                                    r".*pip install 'frt-experiments\[spark\]'"):
        connect("spark://local[2]")


# ------------------------------------------------------------------------------------- Spark
def test_spark_local_url_and_tables(spark_connection):
    spark_connection.create_table("frt_connect_customers", FRAME, overwrite=True)
    # Spark runs one session per process: the URL of the running one reaches it
    con = connect("spark://local[2]?spark.sql.shuffle.partitions=2")
    assert con._session is spark_connection._session
    assert con._session.conf.get("spark.sql.execution.arrow.pyspark.enabled") == "true"
    assert con._session.conf.get("spark.sql.session.timeZone") == "UTC"
    assert table(con, "frt_connect_customers").x.sum().execute() == 3.0
    assert table(con, "default.frt_connect_customers").count().execute() == 2
    with pytest.raises(DataError, match=r"^spark://local\[2\]\?spark\.sql\.shuffle\.partitions"
                                        r"=2: no table 'nope' \(tables there: .*"
                                        r"frt_connect_customers"):
        table(con, "nope")
    with pytest.raises(DataError, match=r"no schema 'elsewhere' .*SCHEMA_NOT_FOUND"):
        table(con, "elsewhere.t")
    with pytest.raises(EngineConnectionError, match=r"^could not connect to spark://local\[4\]: "
                                                    r"this process already runs a Spark session "
                                                    r"with master local\[2\]"):
        connect("spark://local[4]")


def test_spark_masters():
    assert spark_master("spark://local") == "local[*]"
    assert spark_master("spark://local[4]") == "local[4]"
    assert spark_master("spark://local[*]") == "local[*]"
    assert spark_master("spark://10.0.0.5:7077/") == "spark://10.0.0.5:7077"
    for bad in ("spark://localhost", "spark://local[0]", "spark://host", "spark://h:7077/x"):
        with pytest.raises(ValueError, match="not an engine URL"):
            spark_master(bad)


def test_unreachable_spark_master_and_connect_server_fail_fast(closed_port):
    pytest.importorskip("pyspark")
    start = time.monotonic()
    with pytest.raises(EngineConnectionError, match=rf"^could not connect to spark://127\.0\.0\.1:"
                                                    rf"{closed_port}: 127\.0\.0\.1:{closed_port}: "
                                                    r".*refused"):
        connect(f"spark://127.0.0.1:{closed_port}")
    # without the Spark Connect client (pyspark[connect]) the message says how to install it
    with pytest.raises(EngineConnectionError, match=rf"^could not connect to sc://127\.0\.0\.1:"
                                                    rf"{closed_port}/;token=\*\*\*: "
                                                    r".*(refused|pip install 'pyspark\[connect\])"):
        connect(f"sc://127.0.0.1:{closed_port}/;token=t0ps3cret")
    assert time.monotonic() - start < 10


def test_no_java_is_named(monkeypatch):
    pytest.importorskip("pyspark")
    from pyspark import SparkContext

    monkeypatch.setattr(SparkContext, "_active_spark_context", None)  # none running
    monkeypatch.setenv("PATH", "")
    monkeypatch.delenv("JAVA_HOME", raising=False)
    with pytest.raises(EngineConnectionError, match=r"^could not connect to spark://local: no "
                                                    r"Java runtime: Spark needs Java 17"):
        connect("spark://local")


@pytest.mark.skipif(not os.environ.get("FRT_TEST_SPARK_CONNECT"),
                    reason="set FRT_TEST_SPARK_CONNECT to a Spark Connect server's sc:// URL")
def test_spark_connect_server():
    # in a fresh process: PySpark refuses a Connect session beside a running local one
    code = textwrap.dedent("""
        import os, warnings
        warnings.simplefilter("ignore")
        from frt_experiments.engine.connect import connect, table
        from frt_experiments.errors import DataError
        con = connect(os.environ["FRT_TEST_SPARK_CONNECT"])
        print(con.execute(con.sql("SELECT 1 AS one"))["one"].tolist())
        try:
            table(con, "frt_connect_nope")
        except DataError as exc:
            print(exc)
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=300, check=True).stdout.splitlines()
    assert out[0] == "[1]"
    assert "no table 'frt_connect_nope'" in out[1]


# ------------------------------------------------------------------------- malformed and redact
@pytest.mark.parametrize(("url", "why"), [
    ("trial.duckdb", "no scheme"),
    ("mysql://db/x", "unknown scheme mysql://"),
    ("postgresql://h:abc/db", "port 'abc' is not a number"),
    ("duckdb://?read_only=maybe", "read_only='maybe' is not true or false"),
    ("duckdb://x.duckdb?threads", "not name=value pairs"),
    ("spark://localhost", "neither local"),
    ("spark://local[2]?threads=2", "'threads' is not a Spark setting"),
    ("sc://spark.internal", "give sc://HOST:PORT"),
])
def test_malformed_urls(url, why):
    with pytest.raises(ValueError, match=r"^not an engine URL: ") as err:
        connect(url)
    assert why in str(err.value)
    assert not isinstance(err.value, EngineConnectionError)


def test_redact():
    assert redact("postgresql://ana:p%40ss@db:5432/x") == "postgresql://ana:***@db:5432/x"
    assert redact("postgresql://ana@db/x?password=pw&sslmode=require") == (
        "postgresql://ana@db/x?password=***&sslmode=require")
    assert redact("sc://h:15002/;user_id=ana;token=abc") == "sc://h:15002/;user_id=ana;token=***"
    assert redact("duckdb:///tmp/a@b.duckdb") == "duckdb:///tmp/a@b.duckdb"
    assert redact("postgresql://ana@db/x") == "postgresql://ana@db/x"
    err = EngineConnectionError("postgresql://ana:pw1234@db/x", "password pw1234 refused\n\tby db")
    assert str(err) == "could not connect to postgresql://ana:***@db/x: password *** refused by db"
