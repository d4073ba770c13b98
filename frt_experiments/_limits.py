"""Limits on what the readers accept, so that bad input is a one-line error, never a crash or
a hang.

The rules (issue 21, "no internal errors on bad input"):

- **Nesting**: a JSON export or a TOML file (plan, scenario, column mapping) may nest arrays,
  objects and tables at most :data:`MAX_NESTING` levels deep. Real files nest a few levels (a
  helpdesk ticket about six); deeper nesting would exhaust the parsers' recursion.
- **Size of configuration files**: a plan, scenario or mapping TOML (and a JSON sidecar such as
  ``meta.json``) is at most :data:`MAX_CONFIG_BYTES` bytes; they are a few hundred bytes. Data
  files (CSV, Parquet, JSON exports) have no size limit here.
- **Encoding**: configuration files are UTF-8 text (TOML requires it); other bytes are an
  error naming the file, the offending byte, and its line.
- **One field**: a timestamp is at most :data:`MAX_TIMESTAMP_CHARS` characters once trimmed
  (``2025-01-06T09:00:00.123456789+01:00`` has 35); longer text is refused before any parser
  sees it, so a megabyte field costs no more than a short one.
- **Years**: timestamps are held to the nanosecond, which limits them to
  :data:`TIMESTAMP_RANGE` (1677-09-21 to 2262-04-11 UTC); a time outside it is an error naming
  the file or option, the column and the line.
- **Parquet**: canonical tables take flat columns; a list, struct or map column is refused by
  name (:func:`check_flat_parquet`).

This module imports nothing of the toolkit but its errors, so every reader can use it.
"""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from frt_experiments.errors import DataError, Problem, ScenarioError, shown

__all__ = [
    "MAX_CONFIG_BYTES",
    "MAX_EPOCH_SECONDS",
    "MAX_NESTING",
    "MAX_TIMESTAMP_CHARS",
    "OUT_OF_RANGE_RULE",
    "TIMESTAMP_RANGE",
    "TIMESTAMP_RANGE_TEXT",
    "TOO_DEEP_RULE",
    "TOO_LONG_RULE",
    "check_flat_parquet",
    "check_timestamp_text",
    "load_json_text",
    "nesting_depth",
    "out_of_range",
    "read_toml",
]

#: Deepest nesting of arrays, objects or tables accepted in a JSON or TOML file.
MAX_NESTING = 64
#: Largest plan, scenario or mapping TOML (or JSON sidecar) accepted, in bytes (1 MB).
MAX_CONFIG_BYTES = 1_000_000
#: Longest text (trimmed) read as a timestamp.
MAX_TIMESTAMP_CHARS = 64
#: The first and last instants a timestamp can hold (nanoseconds since 1970 in 64 bits).
TIMESTAMP_RANGE = (pd.Timestamp.min.tz_localize("UTC"), pd.Timestamp.max.tz_localize("UTC"))
#: The rule a timestamp outside :data:`TIMESTAMP_RANGE` breaks, phrased to follow "N rows are".
#: That range as people read it.
TIMESTAMP_RANGE_TEXT = (f"{TIMESTAMP_RANGE[0]:%Y-%m-%d} to {TIMESTAMP_RANGE[1]:%Y-%m-%d} UTC")
#: The largest whole number of seconds since 1970 (either way) safely within
#: :data:`TIMESTAMP_RANGE` (a second inside, so converting to nanoseconds cannot overflow).
MAX_EPOCH_SECONDS = int(min(-TIMESTAMP_RANGE[0].timestamp(), TIMESTAMP_RANGE[1].timestamp())) - 1
OUT_OF_RANGE_RULE = (f"outside the years a timestamp can hold ({TIMESTAMP_RANGE_TEXT}; "
                     "a mistyped year?)")
#: The rule a too long timestamp breaks, phrased to follow "N rows are".
TOO_LONG_RULE = (f"longer than {MAX_TIMESTAMP_CHARS} characters (not a timestamp; "
                 "e.g. 2025-01-06T09:00:00Z)")


# ----------------------------------------------------------------------------- nesting
def nesting_depth(obj: Any, limit: int = MAX_NESTING) -> int:
    """Levels of lists and dicts in ``obj`` (a scalar is 0, ``[]`` is 1), counted without
    recursion; the count stops just past ``limit``."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(obj, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list | tuple):
            children = item
        else:
            continue
        deepest = max(deepest, depth)
        if deepest > limit:
            return deepest
        stack.extend((child, depth + 1) for child in children
                     if isinstance(child, dict | list | tuple))
    return deepest


#: The rule a file nested too deep breaks.
TOO_DEEP_RULE = (f"nesting deeper than {MAX_NESTING} levels (arrays, objects or tables inside "
                 "each other); a valid file nests a few levels")


# ----------------------------------------------------------------------------- JSON
def load_json_text(text: str, name: str) -> Any:
    """Parse JSON text from the file ``name``, refusing nesting deeper than
    :data:`MAX_NESTING`.

    Raises:
        ValueError: not JSON (``json.JSONDecodeError``, as :func:`json.loads`).
        DataError: nested too deep, naming the file.
    """
    try:
        data = json.loads(text)
    except RecursionError:
        raise DataError([Problem(name, None, TOO_DEEP_RULE)]) from None
    if nesting_depth(data) > MAX_NESTING:
        raise DataError([Problem(name, None, TOO_DEEP_RULE)])
    return data


# ----------------------------------------------------------------------------- TOML
def read_toml(path: str | Path, *, what: str) -> dict[str, Any]:
    """Read a configuration TOML (``what``: ``"plan"``, ``"scenario"``, ...) within the limits.

    Raises:
        ScenarioError: larger than :data:`MAX_CONFIG_BYTES`, not UTF-8, not valid TOML, or
            nested deeper than :data:`MAX_NESTING`; each message names the file.
        OSError: the file cannot be read.
    """
    p = Path(path)
    size = p.stat().st_size
    if size > MAX_CONFIG_BYTES:
        raise ScenarioError(f"{p.name}: file is {size / 1e6:,.1f} MB, larger than the "
                            f"{MAX_CONFIG_BYTES / 1e6:g} MB a {what} file may be (a {what} "
                            "is a few hundred bytes: is it the right file?)")
    return parse_toml(p.read_bytes(), p.name, what=what)


def parse_toml(data: bytes | str, name: str, *, what: str) -> dict[str, Any]:
    """Parse TOML bytes (or text) of the file ``name`` within the limits of :func:`read_toml`
    (but for the size)."""
    if isinstance(data, bytes):
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            line = data.count(b"\n", 0, exc.start) + 1
            raise ScenarioError(
                f"{name}: not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start}, "
                f"line {line}); a {what} file must be saved as UTF-8") from None
        text = text.removeprefix("\ufeff")
    else:
        text = data
    if _bracket_depth(text) > MAX_NESTING:
        # refused before parsing: the parser would recurse to Python's limit, where a
        # finalizer that runs then cannot report (Python prints "Exception ignored ...")
        raise ScenarioError(f"{name}: {TOO_DEEP_RULE}")
    try:
        parsed = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"{name}: not valid TOML: {exc}") from None
    except RecursionError:
        raise ScenarioError(f"{name}: {TOO_DEEP_RULE}") from None
    if nesting_depth(parsed) > MAX_NESTING:
        raise ScenarioError(f"{name}: {TOO_DEEP_RULE}")
    return parsed


#: What the depth scan steps over: multi-line and one-line strings (literal and basic, with
#: escapes) and comments; and the brackets it counts.
_TOML_TOKEN = re.compile(
    r"""'{3}.*?'{3}"""  # multi-line literal string
    r"""|"{3}(?:\\.|.)*?"{3}"""  # multi-line basic string
    r"""|'[^'\n]*'"""  # literal string
    r"""|"(?:\\.|[^"\\\n])*\""""  # basic string
    r"""|#[^\n]*|[\[\]{}]""",  # comment; a bracket
    re.DOTALL)


def _bracket_depth(text: str) -> int:
    """The deepest nesting of ``[`` and ``{`` in TOML text, strings and comments skipped (a
    linear scan; unbalanced text is the parser's to refuse)."""
    depth = deepest = 0
    for m in _TOML_TOKEN.finditer(text):
        c = m.group()
        if c in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif c in "]}":
            depth = max(depth - 1, 0)
    return deepest


# ----------------------------------------------------------------------------- timestamps
def check_timestamp_text(text: str, where: str) -> pd.Timestamp:
    """One timestamp given as text (an option, a scenario key), read with its offset, in UTC.

    ``where`` names the option or key (``--assigned-at``, ``window.start``); messages read
    ``where = 'value' ...``.

    Raises:
        ValueError: longer than :data:`MAX_TIMESTAMP_CHARS`, not ISO 8601, without an offset,
            or outside :data:`TIMESTAMP_RANGE`; the message names ``where`` and shows the value
            (shortened).
    """
    value = text.strip()
    head = f"{where} = {shown(text)}"
    if len(value) > MAX_TIMESTAMP_CHARS:
        raise ValueError(f"{head} is {TOO_LONG_RULE}")
    try:
        ts = pd.Timestamp(value)
    except (ValueError, OverflowError):
        raise ValueError(f"{head} is not an ISO 8601 timestamp (e.g. "
                         "2025-01-06T09:00:00Z)") from None
    if pd.isna(ts):
        raise ValueError(f"{head} is not a timestamp (e.g. 2025-01-06T09:00:00Z)")
    if ts.tzinfo is None:
        raise ValueError(f"{head} needs an offset (e.g. +00:00 or Z: a timestamp must be "
                         "time-zone aware)")
    utc = ts.tz_convert("UTC")
    if not TIMESTAMP_RANGE[0] <= utc <= TIMESTAMP_RANGE[1]:
        raise ValueError(f"{head} is {OUT_OF_RANGE_RULE}")
    return utc.as_unit("ns")


def out_of_range(parsed: pd.Series) -> np.ndarray:
    """Mask of the parsed timestamps (aware or naive, any unit) outside
    :data:`TIMESTAMP_RANGE`."""
    lo, hi = TIMESTAMP_RANGE
    if not isinstance(parsed.dtype, pd.DatetimeTZDtype):
        lo, hi = lo.tz_localize(None), hi.tz_localize(None)
    return (parsed.notna() & ((parsed < lo) | (parsed > hi))).to_numpy(dtype=bool)


# ----------------------------------------------------------------------------- Parquet
def check_flat_parquet(path: str | Path) -> None:
    """Refuse a Parquet file holding nested (list, struct or map) columns, naming them.

    Called before the file is read: pandas would turn such columns into Python objects (or
    fail inside pyarrow), and a canonical table's values are flat.

    Raises:
        DataError: one problem per nested column, naming the file and the column.
    """
    import pyarrow as pa  # noqa: PLC0415 (heavy, and only Parquet needs it)
    import pyarrow.parquet as pq  # noqa: PLC0415

    p = Path(path)
    try:
        schema = pq.read_schema(p)
    except (pa.ArrowException, OSError, ValueError):
        return  # not readable as Parquet: the reader reports it
    nested = [f.name for f in schema if pa.types.is_nested(f.type)
              or (pa.types.is_dictionary(f.type) and pa.types.is_nested(f.type.value_type))]
    if nested:
        raise DataError([Problem(p.name, name, "is a nested (list/struct) column; canonical "
                                 "tables take flat columns (one number, text or timestamp "
                                 "per cell)") for name in nested])
