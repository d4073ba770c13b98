"""The hashed split as SQL: a customer's bucket and arm computed where the data live.

:func:`~frt_experiments.assignment.hash_buckets` documents the split::

    bucket = int.from_bytes(sha256(f"{salt}:{customer_id}".encode("utf-8")).digest()[:8],
                            "big") / 2**64

and :func:`~frt_experiments.assignment.arms_from_buckets` the arm: the first arm whose
cumulative weight share exceeds the bucket. :func:`bucket_sql` and :func:`arm_sql` write the
same two things as one SQL expression each, for a warehouse query or a routing rule, in the
dialects of :data:`DIALECTS`. They give the same float64 bucket and the same arm as Python,
bit for bit:

- the first 16 hex digits of the digest are read as two 32-bit halves, ``hi`` and ``lo``
  (every engine reads 32-bit integers exactly), and combined as ``hi * 2**32 + lo`` in double
  precision: ``hi * 2**32`` is exact and the one addition rounds to nearest, ties to even,
  as numpy's uint64 to float64 conversion does; the division by ``2**64`` is exact;
- the cap just below 1 is applied as in Python (``LEAST(..., 0.9999999999999999)``, under a
  ``CASE`` that keeps a ``NULL`` id's bucket ``NULL``, as ``LEAST`` skips ``NULL`` in DuckDB,
  PostgreSQL and Spark);
- the arm thresholds are numpy's cumulative shares, written with ``repr`` (the shortest text
  that reads back as the same float64) and read back by a cast of that text, never through
  the engines' decimal types.

The id column is cast to text as written: an integer column gives ``'123'`` like Python's
``str(123)``; text ids are hashed as their UTF-8 bytes. A ``NULL`` id gives a ``NULL`` bucket
and arm. The salt and the arm names become string literals quoted for the dialect (quotes and
backslashes escaped), so no salt can end the literal; control characters are refused.

References:
    NIST FIPS 180-4, Secure Hash Standard (SHA-256). IEEE 754-2019, section 4.3 (rounding to
    nearest, ties to even). Kohavi, R., Tang, D. and Xu, Y. (2020). Trustworthy Online
    Controlled Experiments, ch. 14.

Examples:
    >>> print(bucket_sql("duckdb", "spring", id_column="c.id"))  # doctest: +ELLIPSIS
    CASE WHEN c.id IS NULL THEN NULL ELSE LEAST((CAST(CAST('0x' || substr(sha256('spring:' ...
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from frt_experiments.assignment import _BELOW_ONE, DEFAULT_ARMS, DEFAULT_WEIGHTS, _weights

__all__ = ["DIALECTS", "arm_sql", "bucket_sql", "quote_literal"]

#: Dialects :func:`bucket_sql` and :func:`arm_sql` write.
DIALECTS: tuple[str, ...] = ("bigquery", "duckdb", "postgres", "snowflake", "spark")


@dataclass(frozen=True)
class _Dialect:
    double: str                         # the float64 type
    text: str                           # the text type, for the id's cast
    concat: Callable[[str, str], str]   # two text expressions joined
    hex_digest: Callable[[str], str]    # lowercase hex SHA-256 of a text's UTF-8 bytes
    hex32: Callable[[str], str]         # the integer (0..2**32-1) of 8 hex digits


def _pipes(a: str, b: str) -> str:
    return f"{a} || {b}"


def _concat(a: str, b: str) -> str:
    return f"concat({a}, {b})"


_DIALECTS: dict[str, _Dialect] = {
    "duckdb": _Dialect(
        double="DOUBLE", text="VARCHAR", concat=_pipes,
        hex_digest=lambda t: f"sha256({t})",
        hex32=lambda h: f"CAST('0x' || {h} AS BIGINT)"),
    "postgres": _Dialect(
        double="DOUBLE PRECISION", text="TEXT", concat=_pipes,
        hex_digest=lambda t: f"encode(sha256(convert_to({t}, 'UTF8')), 'hex')",
        hex32=lambda h: f"CAST(CAST('x' || {h} AS BIT(32)) AS BIGINT)"),
    "spark": _Dialect(
        double="DOUBLE", text="STRING", concat=_concat,
        hex_digest=lambda t: f"sha2({t}, 256)",
        hex32=lambda h: f"CAST(conv({h}, 16, 10) AS BIGINT)"),
    "bigquery": _Dialect(
        double="FLOAT64", text="STRING", concat=lambda a, b: f"CONCAT({a}, {b})",
        hex_digest=lambda t: f"TO_HEX(SHA256({t}))",
        hex32=lambda h: f"CAST(CONCAT('0x', {h}) AS INT64)"),
    "snowflake": _Dialect(
        double="DOUBLE", text="VARCHAR", concat=_pipes,
        hex_digest=lambda t: f"SHA2({t}, 256)",
        hex32=lambda h: f"TO_NUMBER(UPPER({h}), 'XXXXXXXX')"),
}
_SUBSTR = {"bigquery": "SUBSTR", "snowflake": "SUBSTR"}


def _dialect(dialect: str) -> _Dialect:
    if not isinstance(dialect, str) or dialect.lower() not in _DIALECTS:
        raise ValueError(f"dialect: {dialect!r} is not supported; use one of "
                         f"{', '.join(DIALECTS)}")
    return _DIALECTS[dialect.lower()]


def quote_literal(dialect: str, value: str) -> str:
    """``value`` as a string literal of ``dialect``, quotes and backslashes escaped.

    PostgreSQL and DuckDB double a quote (PostgreSQL writes an ``E''`` literal when there is a
    backslash, so the text is the same whatever ``standard_conforming_strings`` says);
    BigQuery and Snowflake escape with a backslash; Spark SQL, whose reading of backslashes
    depends on ``spark.sql.parser.escapedStringLiterals``, gets quotes and backslashes as
    ``chr(39)`` and ``chr(92)`` joined with ``concat``.

    Raises:
        ValueError: ``value`` holds a control character (U+0000-U+001F, U+007F), which not
            every dialect can write in a literal.

    Examples:
        >>> quote_literal("postgres", "o'brien")
        "'o''brien'"
        >>> quote_literal("bigquery", "o'brien")
        "'o\\\\'brien'"
    """
    _dialect(dialect)
    name = dialect.lower()
    _check_text("value", value)
    if name == "duckdb":
        return "'" + value.replace("'", "''") + "'"
    if name == "postgres":
        if "\\" in value:
            return "E'" + value.replace("\\", "\\\\").replace("'", "''") + "'"
        return "'" + value.replace("'", "''") + "'"
    if name in ("bigquery", "snowflake"):
        return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
    # spark: only plain text between quotes, whatever the parser's escaping setting
    parts: list[str] = []
    plain = ""
    for c in value:
        if c in "'\\":
            if plain:
                parts.append(f"'{plain}'")
                plain = ""
            parts.append(f"chr({ord(c)})")
        else:
            plain += c
    if plain or not parts:
        parts.append(f"'{plain}'")
    return parts[0] if len(parts) == 1 else f"concat({', '.join(parts)})"


def _check_text(name: str, value: object) -> None:
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a string, got {type(value).__name__}")
    bad = sorted({f"U+{ord(c):04X}" for c in value if ord(c) < 0x20 or ord(c) == 0x7F})
    if bad:
        raise ValueError(f"{name}: {value!r} holds control characters ({', '.join(bad)}), "
                         "which cannot be written portably in an SQL string literal")


def _double(d: _Dialect, value: float | int) -> str:
    """A float64 constant, read from its exact shortest text (never via a decimal type)."""
    text = repr(float(value)) if isinstance(value, float) else str(value)
    return f"CAST('{text}' AS {d.double})"


def _check_id_column(id_column: str) -> str:
    if not isinstance(id_column, str) or not id_column.strip():
        raise ValueError(f"id_column: need a column name or SQL expression, got {id_column!r}")
    if any(ord(c) < 0x20 for c in id_column) or ";" in id_column:
        raise ValueError(f"id_column: {id_column!r} must be one expression on one line "
                         "(no ';', no control characters)")
    return id_column.strip()


def bucket_sql(dialect: str, salt: str, *, id_column: str = "customer_id") -> str:
    """The SQL expression of each row's assignment bucket in [0, 1).

    Equal, as float64, to :func:`~frt_experiments.assignment.hash_buckets` of the id column's
    text with this salt (see the module notes for why it is exact).

    Args:
        dialect: One of :data:`DIALECTS`.
        salt: The experiment's salt, as given to ``frt assign``.
        id_column: Column name or SQL expression of the customer id, inserted as written
            (qualify or quote it as the query needs: ``c.customer_id``, ``"Customer Id"``).

    Returns:
        One SQL expression (no trailing alias).

    Raises:
        ValueError: An unsupported dialect, a salt with control characters, an empty id column.
    """
    d = _dialect(dialect)
    _check_text("salt", salt)
    column = _check_id_column(id_column)
    message = d.concat(quote_literal(dialect, f"{salt}:"), f"CAST({column} AS {d.text})")
    # LEAST skips a NULL in some engines: the NULL id is kept NULL here
    return (f"CASE WHEN {column} IS NULL THEN NULL "
            f"ELSE {_bucket_of_hex(dialect, d.hex_digest(message))} END")


def _bucket_of_hex(dialect: str, hex_digits: str) -> str:
    """The bucket of a text expression whose first 16 characters are lowercase hex digits."""
    d = _dialect(dialect)
    substr = _SUBSTR.get(dialect.lower(), "substr")
    hi = f"CAST({d.hex32(f'{substr}({hex_digits}, 1, 8)')} AS {d.double})"
    lo = f"CAST({d.hex32(f'{substr}({hex_digits}, 9, 8)')} AS {d.double})"
    value = f"({hi} * {_double(d, 4294967296)} + {lo}) / {_double(d, 18446744073709551616)}"
    return f"LEAST({value}, {_double(d, _BELOW_ONE)})"


def arm_sql(
    dialect: str,
    salt: str,
    *,
    arms: Sequence[str] = DEFAULT_ARMS,
    weights: Sequence[float] | np.ndarray = DEFAULT_WEIGHTS,
    id_column: str = "customer_id",
) -> str:
    """The SQL expression of each row's arm: a ``CASE`` over the bucket of :func:`bucket_sql`.

    ``CASE WHEN bucket < t1 THEN arm1 WHEN bucket < t2 THEN arm2 ... ELSE last END`` with the
    cumulative weight shares as thresholds, the rule of
    :func:`~frt_experiments.assignment.arms_from_buckets` (numpy's ``searchsorted`` with
    ``side="right"``): the same arm as ``frt assign`` for every id.

    Args:
        dialect: One of :data:`DIALECTS`.
        salt: The experiment's salt.
        arms: Arm names, in the order their shares are laid out on [0, 1).
        weights: Relative size of each arm (normalised to shares).
        id_column: Column name or SQL expression of the customer id, inserted as written.

    Returns:
        One SQL ``CASE`` expression (no trailing alias); ``NULL`` for a ``NULL`` id.

    Raises:
        ValueError: As :func:`bucket_sql`; fewer than two arms, repeated arms, weights not
            positive and finite or not one per arm.
    """
    arms_t, share = _weights(arms, weights)
    d = _dialect(dialect)
    for arm in arms_t:
        _check_text("arms", arm)
    bucket = bucket_sql(dialect, salt, id_column=id_column)
    column = _check_id_column(id_column)
    thresholds = np.cumsum(share)[:-1]
    whens = " ".join(f"WHEN {bucket} < {_double(d, float(t))} "
                     f"THEN {quote_literal(dialect, arm)}"
                     for t, arm in zip(thresholds, arms_t, strict=False))
    return (f"CASE WHEN {column} IS NULL THEN NULL {whens} "
            f"ELSE {quote_literal(dialect, arms_t[-1])} END")
