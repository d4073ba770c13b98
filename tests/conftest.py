"""Shared fixtures: a PostgreSQL server for the engine tests.

``postgres_url`` is the URL of a server the tests may create tables in:

- ``$FRT_TEST_POSTGRES`` when set (``.ci/run`` starts one with ``.ci/postgres.sh`` and sets it);
- otherwise a throw-away server started for the session by the same script (a temporary data
  directory under /tmp, a free loopback port; stopped and removed at the end).

When neither is possible (no PostgreSQL binaries, no ``bash``) the tests that need it are
skipped with the reason, or fail when ``FRT_REQUIRE_POSTGRES=1`` (as in CI), so a CI run never
passes by skipping them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NoReturn

import pytest

POSTGRES_SCRIPT = Path(__file__).resolve().parent.parent / ".ci" / "postgres.sh"


def _postgres_unavailable(reason: str) -> NoReturn:
    """Skip, or fail when ``FRT_REQUIRE_POSTGRES`` is set (to anything but empty or 0)."""
    if os.environ.get("FRT_REQUIRE_POSTGRES", "").strip() not in ("", "0"):
        pytest.fail(f"PostgreSQL is required (FRT_REQUIRE_POSTGRES=1) but {reason}",
                    pytrace=False)
    pytest.skip(f"no PostgreSQL server for the tests: {reason} (set FRT_TEST_POSTGRES to a "
                "server's URL, or install PostgreSQL)")


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """URL of a PostgreSQL server (``postgresql://USER@HOST:PORT/DB``) for the session."""
    given = os.environ.get("FRT_TEST_POSTGRES", "").strip()
    if given:
        yield given
        return
    bash = shutil.which("bash")
    if bash is None or not POSTGRES_SCRIPT.is_file():
        _postgres_unavailable(f"bash or {POSTGRES_SCRIPT} is missing")
    # under /tmp: the server may run as another user (initdb refuses root), who must reach it
    base = "/tmp" if os.name == "posix" and os.path.isdir("/tmp") else None
    workdir = tempfile.mkdtemp(prefix="frt-postgres.", dir=base)
    try:
        started = subprocess.run([str(bash), str(POSTGRES_SCRIPT), "start", workdir],
                                 capture_output=True, text=True, timeout=180, check=False)
    except subprocess.TimeoutExpired:
        started = None
    if started is None or started.returncode != 0:
        subprocess.run([str(bash), str(POSTGRES_SCRIPT), "stop", workdir],
                       capture_output=True, timeout=120, check=False)
        shutil.rmtree(workdir, ignore_errors=True)
        detail = ("the server did not start within 180 s" if started is None
                  else (started.stderr.strip().splitlines() or ["no message"])[-1])
        _postgres_unavailable(detail)
    assert started is not None
    try:
        yield started.stdout.strip().splitlines()[-1]
    finally:
        subprocess.run([str(bash), str(POSTGRES_SCRIPT), "stop", workdir],
                       capture_output=True, timeout=120, check=False)
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture(scope="session")
def psycopg_module() -> Any:
    """The ``psycopg`` module (skipped, or failed under ``FRT_REQUIRE_POSTGRES``, without it)."""
    try:
        import psycopg
    except ImportError:
        _postgres_unavailable("psycopg is not installed (pip install -e '.[postgres]')")
    return psycopg


@pytest.fixture
def postgres_connection(postgres_url: str, psycopg_module: Any) -> Iterator[Any]:
    """An autocommit psycopg connection to :func:`postgres_url`, closed after the test."""
    with psycopg_module.connect(postgres_url, autocommit=True) as conn:
        yield conn


# Spark: a local session for the engine tests ------------------------------------------------

#: Third-party warnings the Spark tests meet, none of them ours, as (message, category, module)
#: (ignored in every test that uses ``spark_connection``, and around the session's start and
#: stop):
SPARK_WARNINGS = (
    # PySpark reads each result from a loopback socket it never closes
    (r"unclosed <socket\.socket [^>]*raddr=\('127\.0\.0\.1'", "ResourceWarning", ""),
    # PySpark 4.0 calls Series.astype(copy=False), which pandas 3 deprecates
    ("The copy keyword is deprecated", "DeprecationWarning", "pyspark"),
)


def _spark_unavailable(reason: str) -> NoReturn:
    """Skip, or fail when ``FRT_REQUIRE_SPARK`` is set (to anything but empty or 0)."""
    if os.environ.get("FRT_REQUIRE_SPARK", "").strip() not in ("", "0"):
        pytest.fail(f"Spark is required (FRT_REQUIRE_SPARK=1) but {reason}", pytrace=False)
    pytest.skip(f"no Spark for the tests: {reason} (pip install -e '.[spark]' and Java 17+)")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The Spark tests ignore :data:`SPARK_WARNINGS` (a fixture cannot set its tests' warning
    filters: pytest sets them afresh for each test)."""
    for item in items:
        if "spark_connection" in getattr(item, "fixturenames", ()):
            for message, category, module in SPARK_WARNINGS:
                item.add_marker(pytest.mark.filterwarnings(
                    f"ignore:{message}:{category}:{module}"))


def _ignore_spark_warnings() -> None:
    import builtins
    import warnings

    for message, category, module in SPARK_WARNINGS:
        warnings.filterwarnings("ignore", message, getattr(builtins, category), module)


@pytest.fixture(scope="session")
def spark_connection(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """An Ibis pyspark backend on a ``local[2]`` Spark session for the test session, made by
    ``engine.connect.connect`` (UTC session time zone and JVM, Arrow, errors-only logs) with 2
    shuffle partitions, no UI, settings for small queries and a temporary warehouse directory;
    stopped at the end.
    Skipped without PySpark or Java, or failed under ``FRT_REQUIRE_SPARK=1`` (as in CI)."""
    import warnings
    from urllib.parse import quote

    from frt_experiments.engine.connect import EngineConnectionError, connect

    warehouse = tmp_path_factory.mktemp("spark-warehouse")
    # small queries: no whole-stage code generation and the JVM's quick compiler only (the
    # first queries take half the time)
    url = ("spark://local[2]?spark.sql.shuffle.partitions=2&spark.ui.enabled=false"
           "&spark.sql.codegen.wholeStage=false"
           "&spark.driver.extraJavaOptions=" + quote("-XX:TieredStopAtLevel=1")
           + f"&spark.sql.warehouse.dir={quote(str(warehouse))}")
    with warnings.catch_warnings():
        _ignore_spark_warnings()
        try:
            con = connect(url)
        except EngineConnectionError as exc:
            _spark_unavailable(exc.reason)
    try:
        yield con
    finally:
        with warnings.catch_warnings():
            _ignore_spark_warnings()
            con.disconnect()
