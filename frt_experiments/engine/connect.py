"""One way to open an engine: :func:`connect` takes a URL, :func:`table` opens a table by name.

URL forms (query parameters after ``?`` are passed on, see each form):

- ``duckdb://`` -- DuckDB in memory (embedded, nothing to install);
  ``duckdb:///abs/path/trial.duckdb`` a database file (created when missing), and
  ``duckdb://trial.duckdb`` one relative to the working directory. Parameters are DuckDB
  settings (``?read_only=true&threads=4``).
- ``postgresql://USER:PASSWORD@HOST:PORT/DB`` (or ``postgres://``) -- PostgreSQL, with
  ``pip install 'frt-experiments[postgres]'``. Any libpq parameter may follow
  (``?sslmode=require``); ``connect_timeout`` defaults to ``timeout``.
- ``spark://local``, ``spark://local[4]``, ``spark://local[*]`` -- a Spark session in local mode
  made here (``local`` is ``local[*]``: all cores), with ``pip install
  'frt-experiments[spark]'`` and Java 17 or later. ``spark://HOST:7077`` -- the master of a
  standalone Spark cluster: the driver runs in this process and the cluster's workers must
  reach this machine back (Spark's client mode). Parameters are Spark settings
  (``?spark.driver.memory=8g&spark.sql.shuffle.partitions=64``).
- ``sc://HOST:15002`` -- a Spark Connect server (Spark 3.5 or later; Databricks and others
  serve it), with ``pip install 'frt-experiments[spark]' 'pyspark[connect]'``; the rest of the
  URL is Spark Connect's own (``sc://HOST:15002/;token=...;use_ssl=true``). PySpark runs no
  Connect session in a process that runs a ``spark://`` one.

Every Spark session (made here or reached) gets the settings the engine's results depend on:
the session time zone UTC (Spark's ``TIMESTAMP`` and ``TIMESTAMP_NTZ`` reach Ibis without a
zone, as wall clocks of that zone) and Arrow for the transfers between Python and Spark (without
it PySpark converts timestamps through the local time zone of this process, which shifts
instants in a daylight-saving fold). Sessions made here also run the JVM in UTC and log only
errors. Spark allows one session per process: a second ``spark://local[...]`` URL with another
master is refused while the first session runs.

An engine that cannot be reached or opened raises :class:`EngineConnectionError` (a
:class:`ConnectionError`, so ``frt`` reports it in one line and exits 2) with the message
``could not connect to URL: REASON``, the URL's password shown as ``***``; a missing driver
names the extra to install. A malformed URL raises :class:`ValueError`.

Example::

    from frt_experiments.engine.connect import connect, table

    con = connect("postgresql://analyst@warehouse.internal/support")
    conversations = table(con, "helpdesk.conversations")
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import socket
import subprocess
import warnings
import weakref
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl, unquote

from frt_experiments.errors import DataError, FrtError, Problem, shorten

__all__ = ["DEFAULT_TIMEOUT", "EngineConnectionError", "connect", "redact", "spark_master",
           "table"]

#: Seconds to wait for a server to answer (PostgreSQL's ``connect_timeout``, the TCP check of
#: a Spark master or Connect server).
DEFAULT_TIMEOUT = 10.0
#: How many of an engine's tables a "no such table" message lists.
TABLES_SHOWN = 8

_URL_FORMS = ("duckdb://, duckdb:///PATH.duckdb, postgresql://USER@HOST:PORT/DB, spark://local[N], "
              "spark://HOST:7077 or sc://HOST:15002")
_LOCAL_MASTER = re.compile(r"local(\[(?:[1-9]\d*|\*)\])?")
_HOST_PORT = re.compile(r"(?P<host>\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.\-]+):(?P<port>\d{1,5})")
_SECRET_PARAM = re.compile(r"(?i)\b(password|token|secret|api_key)=([^&;/]*)")
#: Ibis 12 reads a DuckDB table's schema through an API DuckDB 1.5 deprecates (theirs to fix).
_DUCKDB_WARNING = r"fetch_arrow_table\(\) is deprecated"
# the URLs connect() opened each engine with (passwords hidden), for table()'s messages, by
# the engine's id (Ibis backends compare equal when they reach the same database)
_URLS: dict[int, tuple[weakref.ref[Any], str]] = {}


class EngineConnectionError(FrtError, ConnectionError):
    """An engine could not be reached or opened (or its driver is not installed).

    The message is one line, ``could not connect to URL: REASON``, with any password or token
    in the URL shown as ``***``. ``url`` and ``reason`` hold the two parts.
    """

    def __init__(self, url: str, reason: object) -> None:
        self.url = redact(url)
        self.reason = _one_line(reason, url)
        super().__init__(f"could not connect to {self.url}: {self.reason}")


def redact(url: str) -> str:
    """``url`` with its password (``user:PASSWORD@``) and any ``password=``, ``token=``,
    ``secret=`` or ``api_key=`` parameter shown as ``***``.

    >>> redact("postgresql://ana:s3cret@db.internal:5432/support?sslmode=require")
    'postgresql://ana:***@db.internal:5432/support?sslmode=require'
    >>> redact("sc://spark.internal:15002/;token=abc;use_ssl=true")
    'sc://spark.internal:15002/;token=***;use_ssl=true'
    """
    scheme, sep, rest = url.partition("://")
    if sep:
        # the authority ends at the first '/', '?' or '#'; its userinfo at the last '@'
        end = min((i for i in (rest.find(c) for c in "/?#") if i >= 0), default=len(rest))
        authority, tail = rest[:end], rest[end:]
        if "@" in authority:
            userinfo, _, hostport = authority.rpartition("@")
            if ":" in userinfo:
                userinfo = userinfo.split(":", 1)[0] + ":***"
            authority = f"{userinfo}@{hostport}"
        url = f"{scheme}{sep}{authority}{tail}"
    return _SECRET_PARAM.sub(lambda m: f"{m.group(1)}=***", url)


def _secrets(url: str) -> list[str]:
    """The password and secret parameters of ``url`` as written and decoded (to hide them
    wherever a driver's message repeats them)."""
    found: list[str] = []
    authority = url.partition("://")[2].split("/", 1)[0].split("?", 1)[0]
    userinfo = authority.rpartition("@")[0]
    if ":" in userinfo:
        found.append(userinfo.split(":", 1)[1])
    found += [m.group(2) for m in _SECRET_PARAM.finditer(url)]
    return [s for x in found if x for s in {x, unquote(x)} if len(s) >= 3]


def _one_line(reason: object, url: str = "") -> str:
    """A driver's message on one line: whitespace runs (newlines, tabs) collapsed, secrets of
    ``url`` hidden, cut to 400 characters."""
    text = " ".join(str(reason).split()) or type(reason).__name__
    for secret in _secrets(url):
        text = text.replace(secret, "***")
    return shorten(text, 400)


def _invalid(url: str, why: str) -> ValueError:
    return ValueError(f"not an engine URL: {redact(url)!r}: {why} (give {_URL_FORMS})")


def connect(url: str, *, timeout: float = DEFAULT_TIMEOUT) -> Any:
    """Open the engine ``url`` names: an Ibis backend (``con.table(...)``,
    ``con.read_parquet(...)``, ``con.sql(...)``) for :mod:`frt_experiments.engine`.

    Args:
        url: ``duckdb://`` (in memory), ``duckdb:///path/trial.duckdb``,
            ``postgresql://USER:PASSWORD@HOST:PORT/DB``, ``spark://local[N]``,
            ``spark://HOST:7077`` or ``sc://HOST:15002`` (see the module's docstring).
        timeout: Seconds to wait for a server (PostgreSQL, a Spark master or Connect server).

    Raises:
        EngineConnectionError: The engine cannot be reached or opened, or its driver is not
            installed (the message names the extra to install).
        ValueError: ``url`` is not one of the forms above.
    """
    if not isinstance(url, str):
        raise TypeError(f"url must be a string, got {type(url).__name__}")
    if not timeout > 0:
        raise ValueError(f"timeout must be positive, got {timeout!r}")
    scheme, sep, rest = url.strip().partition("://")
    if not sep or not re.fullmatch(r"[A-Za-z][A-Za-z0-9+.\-]*", scheme):
        raise _invalid(url, "no scheme:// at its start")
    scheme = scheme.lower()
    if scheme == "duckdb":
        con = _duckdb(url, rest)
    elif scheme in ("postgres", "postgresql"):
        con = _postgres(url, timeout)
    elif scheme == "spark":
        con = _spark(url, rest, timeout)
    elif scheme == "sc":
        con = _spark_connect(url, rest, timeout)
    else:
        raise _invalid(url, f"unknown scheme {scheme}://")
    with contextlib.suppress(TypeError):  # not weakly referable: messages name the backend
        key = id(con)
        _URLS[key] = (weakref.ref(con, lambda _: _URLS.pop(key, None)), redact(url))
    return con


def _query(url: str, query: str) -> dict[str, str]:
    try:
        pairs = parse_qsl(query, keep_blank_values=True, strict_parsing=bool(query))
    except ValueError as exc:
        raise _invalid(url, f"its parameters {query!r} are not name=value pairs") from exc
    return dict(pairs)


def _duckdb(url: str, rest: str) -> Any:
    import duckdb  # noqa: PLC0415 (a dependency; loads with the engine)
    import ibis  # noqa: PLC0415

    target, _, query = rest.partition("?")
    params: dict[str, Any] = _query(url, query)
    path = unquote(target)
    if path in ("", ":memory:", "memory", "/:memory:"):
        path = ":memory:"
    if "read_only" in params:
        flag = params["read_only"].strip().lower()
        if flag not in ("true", "false", "1", "0", "yes", "no"):
            raise _invalid(url, f"read_only={params['read_only']!r} is not true or false")
        params["read_only"] = flag in ("true", "1", "yes")
    try:
        return ibis.duckdb.connect(path, **params)
    except (duckdb.Error, OSError) as exc:
        raise EngineConnectionError(url, exc) from exc


def _postgres(url: str, timeout: float) -> Any:
    try:
        import ibis.backends.postgres  # noqa: PLC0415 (an optional dependency)
        import psycopg  # noqa: PLC0415
        from psycopg.conninfo import conninfo_to_dict  # noqa: PLC0415
    except ImportError as exc:
        raise EngineConnectionError(
            url, f"the PostgreSQL driver is not installed ({exc.name or exc}): pip install "
                 "'frt-experiments[postgres]'") from exc
    import ibis  # noqa: PLC0415

    try:
        info: dict[str, Any] = dict(conninfo_to_dict(url))
    except psycopg.Error as exc:
        raise _invalid(url, _one_line(exc, url)) from exc
    port = str(info.get("port", ""))
    if port and not all(p.strip().isdigit() for p in port.split(",")):
        raise _invalid(url, f"port {port!r} is not a number")
    info.setdefault("connect_timeout", str(max(2, round(timeout))))
    kwargs = {("database" if k == "dbname" else k): v for k, v in info.items()}
    try:
        return ibis.postgres.connect(**kwargs)
    except (psycopg.Error, OSError) as exc:
        raise EngineConnectionError(url, exc) from exc


def _reachable(url: str, host: str, port: int, timeout: float) -> None:
    """Fail fast, in ``timeout`` seconds, when nothing answers at ``host:port`` (Spark's own
    clients retry for minutes)."""
    try:
        with socket.create_connection((host.strip("[]"), port), timeout=timeout):
            pass
    except OSError as exc:
        why = exc.strerror or str(exc) or type(exc).__name__
        if isinstance(exc, TimeoutError | socket.timeout):
            why = f"no answer within {timeout:g} s"
        raise EngineConnectionError(url, f"{host}:{port}: {why}") from exc


def spark_master(url: str) -> str:
    """The Spark master a ``spark://`` URL names: ``local[*]``, ``local[4]`` or
    ``spark://HOST:PORT``.

    >>> spark_master("spark://local[4]"), spark_master("spark://local")
    ('local[4]', 'local[*]')
    >>> spark_master("spark://spark-master.internal:7077?spark.executor.memory=8g")
    'spark://spark-master.internal:7077'
    """
    scheme, sep, rest = url.strip().partition("://")
    if not sep or scheme.lower() != "spark":
        raise _invalid(url, "not a spark:// URL")
    target = rest.partition("?")[0].rstrip("/")
    if _LOCAL_MASTER.fullmatch(target):
        return "local[*]" if target == "local" else target
    if _HOST_PORT.fullmatch(target):
        return f"spark://{target}"
    raise _invalid(url, f"{target!r} is neither local, local[N], local[*] nor HOST:PORT")


def _java() -> str | None:
    home = os.environ.get("JAVA_HOME", "").strip()
    if home and os.access(os.path.join(home, "bin", "java"), os.X_OK):
        return os.path.join(home, "bin", "java")
    return shutil.which("java")


def _java_version(java: str) -> str:
    try:
        out = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=30,
                             check=False)
    except (OSError, subprocess.SubprocessError) as exc:
        return f"{java} -version failed: {exc}"
    lines = (out.stderr or out.stdout).strip().splitlines()
    return lines[0] if lines else f"{java} -version printed nothing"


def _import_pyspark(url: str, connect_client: bool = False) -> Any:
    try:
        import ibis.backends.pyspark  # noqa: F401, PLC0415 (an optional dependency)
        import pyspark  # noqa: PLC0415
        from pyspark.sql import SparkSession  # noqa: PLC0415
    except ImportError as exc:
        raise EngineConnectionError(
            url, f"Spark's Python package is not installed ({exc.name or exc}): pip install "
                 "'frt-experiments[spark]'") from exc
    if connect_client:
        try:
            from pyspark.sql.connect.utils import check_dependencies  # noqa: PLC0415

            check_dependencies("pyspark.sql.connect.session")
        except ImportError as exc:
            raise EngineConnectionError(
                url, f"the Spark Connect client is not installed ({_one_line(exc)}): pip "
                     f"install 'pyspark[connect]=={pyspark.__version__}'") from exc
    return SparkSession


#: Settings every Spark session gets (see the module's docstring).
_SPARK_SESSION_CONF = {
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
}
#: Defaults of the sessions made here (a URL's parameters replace them).
_SPARK_LOCAL_DEFAULTS = {
    **_SPARK_SESSION_CONF,
    "spark.app.name": "frt-experiments",
    "spark.log.level": "ERROR",
    "spark.ui.showConsoleProgress": "false",
}
_JVM_UTC = "-Duser.timezone=UTC"


def _spark_backend(url: str, session: Any, conf: Mapping[str, str]) -> Any:
    import ibis  # noqa: PLC0415

    for key, value in conf.items():
        try:
            session.conf.set(key, value)
        except Exception:  # a server may refuse a setting; it keeps its own
            continue
    return ibis.pyspark.connect(session)


def _spark(url: str, rest: str, timeout: float) -> Any:
    master = spark_master(url)
    params = _query(url, rest.partition("?")[2])
    unknown = [k for k in params if not k.startswith("spark.")]
    if unknown:
        raise _invalid(url, f"parameter {unknown[0]!r} is not a Spark setting (spark.*)")
    match = _HOST_PORT.fullmatch(master.removeprefix("spark://"))
    if match:
        _reachable(url, match["host"], int(match["port"]), timeout)
    session_cls = _import_pyspark(url)
    from pyspark import SparkContext  # noqa: PLC0415

    running = SparkContext._active_spark_context  # PySpark's one per process
    if running is not None:
        if str(running.master) != master:
            raise EngineConnectionError(
                url, f"this process already runs a Spark session with master {running.master} "
                     "and Spark allows one per process: stop it (con.disconnect()) first, or "
                     f"connect to spark://{str(running.master).removeprefix('spark://')}")
        # the running session, with this URL's session settings (JVM settings stay as they are)
        return _spark_backend(url, session_cls.builder.getOrCreate(),
                              {**_SPARK_SESSION_CONF, **params})
    java = _java()
    if java is None:
        raise EngineConnectionError(
            url, "no Java runtime: Spark needs Java 17 or later (`java` on PATH or JAVA_HOME; "
                 "e.g. apt-get install openjdk-17-jre-headless)")
    conf = {**_SPARK_LOCAL_DEFAULTS, **params}
    for key in ("spark.driver.extraJavaOptions", "spark.executor.extraJavaOptions"):
        if "-Duser.timezone=" not in conf.get(key, ""):
            conf[key] = f"{conf.get(key, '')} {_JVM_UTC}".strip()
    builder = session_cls.builder.master(master)
    for key, value in conf.items():
        builder = builder.config(key, value)
    try:
        session = builder.getOrCreate()
    except Exception as exc:
        import pyspark  # noqa: PLC0415

        reason = _one_line(exc, url)
        if "JAVA_GATEWAY_EXITED" in reason or "Java gateway" in reason:
            reason += (f" (PySpark {pyspark.__version__} needs Java 17 or later; "
                       f"{java}: {_java_version(java)})")
        raise EngineConnectionError(url, reason) from exc
    return _spark_backend(url, session, _SPARK_SESSION_CONF)


def _spark_connect(url: str, rest: str, timeout: float) -> Any:
    match = _HOST_PORT.match(rest)
    if not match or rest[match.end():][:1] not in ("", "/"):
        raise _invalid(url, "give sc://HOST:PORT (Spark Connect's port is 15002 by default)")
    session_cls = _import_pyspark(url, connect_client=True)
    _reachable(url, match["host"], int(match["port"]), timeout)
    try:
        session = session_cls.builder.remote(url).getOrCreate()
        session.version  # noqa: B018 (the first call to the server: fails here, not later)
    except Exception as exc:
        raise EngineConnectionError(url, exc) from exc
    return _spark_backend(url, session, _SPARK_SESSION_CONF)


def _source(con: Any) -> str:
    ref, url = _URLS.get(id(con), (None, None))
    if ref is not None and ref() is con and url:
        return url
    return f"the {getattr(con, 'name', type(con).__name__)} engine"


def table(con: Any, name: str) -> Any:
    """The table ``name`` (``table`` or ``schema.table``; a Spark or DuckDB database in place
    of a schema) of the engine ``con``, as an Ibis table.

    Raises:
        DataError: No such table (or schema): a problem naming the engine's URL and the table,
            listing a few tables that exist there.
        ValueError: ``name`` is not ``table`` or ``schema.table``.
    """
    if not isinstance(name, str):
        raise TypeError(f"name must be a string, got {type(name).__name__}")
    parts = [p.strip() for p in name.strip().split(".")]
    if len(parts) > 2 or not all(parts):
        raise ValueError(f"table name {name!r}: give table or schema.table")
    database = parts[0] if len(parts) == 2 else None
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=_DUCKDB_WARNING, category=DeprecationWarning)
        try:
            return con.table(parts[-1], database=database)
        except Exception as exc:
            missing = _missing_table(con, name, parts[-1], database)
            if missing is None:
                raise  # the table exists: some other failure, the driver's own error
            raise missing from exc


def _missing_table(con: Any, name: str, table_name: str, database: str | None
                   ) -> DataError | None:
    """The error for a table ``con`` does not have, or ``None`` when it has it."""
    try:
        there = sorted(con.list_tables(database=database))
    except Exception as listing:  # a missing schema fails to list
        if database is None:
            return None
        first = _one_line(listing).split(". ")[0]  # drivers go on with advice
        return DataError([Problem(_source(con), None, f"no schema {database!r} (for table "
                                  f"{name!r}): {first}")])
    if table_name in there:
        return None
    shown = ", ".join(there[:TABLES_SHOWN])
    more = f", ... ({len(there)} in all)" if len(there) > TABLES_SHOWN else ""
    where = f" in schema {database!r}" if database else ""
    listing_text = f"tables there: {shown}{more}" if there else "it has no tables"
    return DataError([Problem(_source(con), None, f"no table {name!r}{where} ({listing_text})")])
