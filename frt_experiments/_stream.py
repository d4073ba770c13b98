"""Validating canonical tables in bounded memory: a file is read and checked batch by batch.

:func:`~frt_experiments.schema.read_table` reads a whole file into one frame, which is what an
analysis needs; checking a file only needs one batch at a time. :func:`scan_table` streams a
CSV file through pyarrow's incremental reader (or a Parquet file by row groups), validates each
batch with the same validators as ``read_table`` (so the rules and messages are the same), and
keeps only what checks across the file need: the table's key (for repeats) and customer ids (for
references), as Arrow string arrays. Problems of every batch are merged per column and rule:
counts add up and the first offending lines are kept, numbered as in the file.

Files in the dialects the whole-file reader normalises first (UTF-16, Windows-1252, bare
carriage returns as line ends, ``;`` with decimal commas, Excel workbooks) are read whole, as
``read_table`` reads them: they are the small exports of spreadsheets, not the large tables.

Peak memory of ``frt validate`` on 1,000,000 customers and 3,500,000 conversations is printed
by ``benchmarks/bench_large_tables.py``.
"""

from __future__ import annotations

import codecs
import contextlib
import io
import sys
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from frt_experiments import schema
from frt_experiments._limits import check_flat_parquet
from frt_experiments.errors import DataError, DataWarning, Problem
from frt_experiments.ingest import _read

__all__ = ["Scan", "scan_table"]

#: Bytes of CSV text pyarrow parses at a time (its reader holds a few blocks ahead; larger
#: blocks cost memory, not speed).
BLOCK_BYTES = 1 << 20
#: Rows validated at a time (blocks are gathered to this many rows).
CHECK_ROWS = 100_000
#: Rows per batch of a Parquet file.
PARQUET_BATCH_ROWS = CHECK_ROWS
_HEAD_BYTES = 1 << 20
#: Text columns stay in Arrow memory (pandas' pyarrow-backed strings), not Python objects.
_ARROW_TEXT = {pa.string(): pd.StringDtype("pyarrow")}


@dataclass
class Scan:
    """What a streamed check of one table keeps.

    Attributes:
        name: The file name.
        table: ``"customers"``, ``"assignments"`` or ``"conversations"``.
        rows: Data rows read.
        keys: The table's key per row (``experiment`` and ``customer_id`` joined for
            assignments), as text with nulls where empty.
        customer_ids: ``customer_id`` per row (``None`` when the column is missing).
        problems: Every broken rule (errors), merged over the file.
        warnings: Every warning, merged over the file.
        csv: Row positions are file lines (header = line 1).
    """

    name: str
    table: str
    rows: int = 0
    keys: pa.ChunkedArray | None = None
    customer_ids: pa.ChunkedArray | None = None
    problems: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    csv: bool = True


class _Merged:
    """Problems of many batches merged per (column, rule), in the order first seen."""

    def __init__(self) -> None:
        self._by: dict[tuple[str | None, str], Problem] = {}

    def add(self, problems: list[Problem]) -> None:
        for p in problems:
            key = (p.column, p.rule)
            old = self._by.get(key)
            if old is None:
                self._by[key] = p
            elif p.count:
                self._by[key] = Problem(old.source, old.column, old.rule, old.count + p.count,
                                        (old.rows + p.rows)[:5], old.location)

    def list(self) -> list[Problem]:
        return list(self._by.values())


def scan_table(path: str | Path, table: str, *, timezone: str | None = None,
               window: tuple[pd.Timestamp, pd.Timestamp] | None = None) -> Scan:
    """Check a canonical table file batch by batch, in memory bounded by the batch size.

    Args:
        path: A ``.csv`` or ``.parquet`` file.
        table: ``"customers"``, ``"assignments"`` or ``"conversations"``.
        timezone: The IANA zone of naive timestamps (as in ``read_table``).
        window: Conversations created outside ``[start, end)`` are warned about.

    Returns:
        A :class:`Scan`. Its warnings are also issued as
        :class:`~frt_experiments.errors.DataWarning`.

    Raises:
        DataError: The file is missing, empty or cannot be read at all (problems with rows
            are returned in ``Scan.problems``, not raised).
    """
    if table not in schema.TABLES:
        raise ValueError(f"table must be one of {', '.join(schema.TABLES)}, got {table!r}")
    schema.check_timezone(timezone)
    p = schema.check_file(path)
    parquet = p.suffix.lower() == ".parquet"
    scan = Scan(p.name, table, csv=not parquet)
    try:
        batches = _parquet_batches(p) if parquet else _csv_batches(p)
        if batches is None:
            return _whole(p, table, timezone, window)
        _check(batches, scan, timezone, window)
    except _UnstreamableError:
        return _whole(p, table, timezone, window)
    except (pa.ArrowInvalid, OSError) as exc:
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise DataError([Problem(p.name, None, f"cannot be read: {msg}")]) from exc
    for w in scan.warnings:
        warnings.warn(str(w), DataWarning, stacklevel=2)
    return scan


class _UnstreamableError(Exception):
    """The file needs the whole-file reader (found after streaming began)."""


# ----------------------------------------------------------------------------- readers
def _csv_batches(p: Path) -> Iterator[tuple[pd.DataFrame, list[Problem]]] | None:
    """Batches of a UTF-8 CSV file as text frames; ``None`` for the dialects read whole."""
    if _read.is_excel(p):
        return None
    with p.open("rb") as fh:
        head = fh.read(_HEAD_BYTES)
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) or _read._looks_utf16(head):
        return None
    try:
        text = codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
    except UnicodeDecodeError:
        return None
    if "\r" in text.replace("\r\n", ""):
        return None
    text = text.removeprefix("\ufeff")
    delim = _read.sniff_delimiter(text)
    if delim == ";":
        return None
    try:
        header = schema._csv_header(text, delim)
    except ValueError:  # a stray quote in the header: the whole-file reader names it
        return None
    if not header or (len(head) == _HEAD_BYTES and "\n" not in text):
        return None
    return _csv_iter(p, header, delim)


def _csv_iter(p: Path, header: list[str], delim: str
              ) -> Iterator[tuple[pd.DataFrame, list[Problem]]]:
    schema.duplicate_columns(p.name, header)
    width = len(header)
    short: list[int] = []
    long: list[int] = []

    def invalid(row: pa_csv.InvalidRow) -> str:
        number = int(row.number) if row.number is not None else 0
        (short if row.actual_columns < row.expected_columns else long).append(number)
        return "skip"

    names = [f"c{i}" for i in range(width)]
    pending: list[pa.RecordBatch] = []
    try:
        with _undecodable_rows():
            reader = pa_csv.open_csv(
                io.BufferedReader(_LineEnds(p), buffer_size=BLOCK_BYTES),
                read_options=pa_csv.ReadOptions(use_threads=False, column_names=names,
                                                skip_rows=1, block_size=BLOCK_BYTES),
                parse_options=pa_csv.ParseOptions(delimiter=delim, newlines_in_values=True,
                                                  invalid_row_handler=invalid),
                convert_options=pa_csv.ConvertOptions(
                    column_types=dict.fromkeys(names, pa.string()), strings_can_be_null=True,
                    quoted_strings_can_be_null=True, null_values=[""]))
        batches = iter(reader)
        while True:
            with _undecodable_rows():
                batch = next(batches, None)
            if batch is None:
                break
            pending.append(batch)
            if sum(b.num_rows for b in pending) >= CHECK_ROWS:
                yield _frame(pending, header), []
                pending = []
        if pending:
            yield _frame(pending, header), []
    except pa.ArrowInvalid as exc:
        text = str(exc).lower()
        if "utf8" in text:
            raise _UnstreamableError from exc  # not UTF-8 after all: read whole, as Windows-1252
        if "straddl" in text or "skip initial" in text:
            # one record larger than a block, or a header without a line end: read whole
            raise _UnstreamableError from exc
        raise
    found = ([_read.short_rows_problem(p.name, short, width)] if short else []) + (
        [_read.long_rows_problem(p.name, long, width)] if long else [])
    if found:
        yield pd.DataFrame(columns=header), found


@contextlib.contextmanager
def _undecodable_rows() -> Iterator[None]:
    """Around pyarrow's reading: a malformed row whose bytes are not UTF-8 cannot be handed to
    the invalid-row handler (pyarrow fails decoding it inside its callback, where the error can
    only be reported as unraisable); such a file is not UTF-8 after all, so it is read whole,
    as Windows-1252 (:class:`_UnstreamableError`), as when pyarrow rejects a value's bytes."""
    failed: list[BaseException] = []
    previous = sys.unraisablehook

    def hook(u: Any) -> None:
        if isinstance(u.exc_value, UnicodeDecodeError):
            failed.append(u.exc_value)
        else:
            previous(u)

    sys.unraisablehook = hook
    try:
        yield
    finally:
        sys.unraisablehook = previous
    if failed:
        raise _UnstreamableError from failed[0]


class _LineEnds(io.RawIOBase):
    r"""A file's bytes with line ends as the whole-file reader reads them: ``\r\n`` as
    ``\n``, and a bare ``\r`` (inside a field, pasted from an email) as a space, where
    pyarrow would end the line. A ``\r`` at the end of one read waits for the next byte."""

    def __init__(self, path: Path) -> None:
        super().__init__()
        self._fh = path.open("rb")
        self._held = b""
        self._out = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self._out:
            chunk = self._fh.read(BLOCK_BYTES)
            data = self._held + chunk
            self._held = b""
            if not data:
                return 0
            if chunk and data.endswith(b"\r"):
                data, self._held = data[:-1], b"\r"
            self._out = data.replace(b"\r\n", b"\n").replace(b"\r", b" ")
        n = min(len(buffer), len(self._out))
        buffer[:n] = self._out[:n]
        self._out = self._out[n:]
        return n

    def close(self) -> None:
        self._fh.close()
        super().close()


def _frame(batches: list[pa.RecordBatch], header: list[str]) -> pd.DataFrame:
    frame = pa.Table.from_batches(batches).to_pandas(types_mapper=_ARROW_TEXT.get)
    frame.columns = header
    return frame


def _parquet_batches(p: Path) -> Iterator[tuple[pd.DataFrame, list[Problem]]]:
    check_flat_parquet(p)
    pf = pq.ParquetFile(p)
    arrow_schema = pf.schema_arrow

    def batches() -> Iterator[tuple[pd.DataFrame, list[Problem]]]:
        for batch in pf.iter_batches(batch_size=PARQUET_BATCH_ROWS):
            yield pa.Table.from_batches([batch], schema=arrow_schema).to_pandas(), []

    return batches()


def _whole(p: Path, table: str, timezone: str | None,
           window: tuple[pd.Timestamp, pd.Timestamp] | None) -> Scan:
    """A file in a spreadsheet dialect, read whole by ``read_table``."""
    scan = Scan(p.name, table, csv=p.suffix.lower() != ".parquet")
    try:
        frame = schema.read_table(p, table, timezone=timezone)
    except DataError as err:
        scan.problems = list(err.problems)
        return scan
    _keep(scan, frame)
    scan.rows = len(frame)
    if window is not None and table == "conversations":
        schema.check_tables(None, frame, None, window=window, names={"conversations": p.name})
    return scan


# ----------------------------------------------------------------------------- checking
def _check(batches: Iterator[tuple[pd.DataFrame, list[Problem]]], scan: Scan,
           timezone: str | None, window: tuple[pd.Timestamp, pd.Timestamp] | None) -> None:
    validator = schema._VALIDATORS[scan.table]
    errors, notes = _Merged(), _Merged()
    keys: list[pa.Array] = []
    customers: list[pa.Array] = []
    structural: list[Problem] = []
    for frame, found in batches:
        if found:
            structural += found
            continue
        sink: list[Problem] = []
        bag = schema._Collector(scan.name, csv_lines=scan.csv, offset=scan.rows, sink=sink)
        kwargs: dict[str, object] = {"raise_errors": False, "_bag": bag}
        if scan.table != "customers":
            kwargs["timezone"] = timezone
        out = validator(frame, **kwargs)
        errors.add(bag.problems)
        if bag.problems and any(p.count == 0 for p in bag.problems):
            break  # a table-level problem (a missing column) is the same in every batch
        if window is not None and scan.table == "conversations":
            _window(out, bag, window)
        notes.add(sink)
        keys.append(_key(out, scan.table))
        customers.append(_text(out[schema.CUSTOMER_ID]))
        scan.rows += len(frame)
    if structural:  # rows were skipped: later positions are off, so report only these
        scan.problems = structural
        return
    if scan.rows == 0 and not errors.list():
        scan.problems = [Problem(scan.name, None, "file has no rows")]
        return
    scan.keys = pa.chunked_array(keys, type=pa.string())
    scan.customer_ids = pa.chunked_array(customers, type=pa.string())
    scan.problems = errors.list()
    if not any(p.count == 0 for p in scan.problems):
        bag = schema._Collector(scan.name, csv_lines=scan.csv)
        column = schema.TABLES[scan.table].key
        bag.rows(column, repeated(scan.keys), schema.DUPLICATE_RULES[scan.table])
        scan.problems += bag.problems
    scan.warnings = notes.list()


def _keep(scan: Scan, frame: pd.DataFrame) -> None:
    if schema.CUSTOMER_ID in frame:
        scan.keys = pa.chunked_array([_key(frame, scan.table)], type=pa.string())
        scan.customer_ids = pa.chunked_array([_text(frame[schema.CUSTOMER_ID])],
                                             type=pa.string())


def _text(s: pd.Series) -> pa.Array:
    return pa.array(s.astype("string").to_numpy(dtype=object, na_value=None), type=pa.string())


def _key(out: pd.DataFrame, table: str) -> pa.Array:
    if table != "assignments":
        return _text(out[schema.TABLES[table].key])
    exp = pc.fill_null(_text(out[schema.EXPERIMENT]), "")
    cid = _text(out[schema.CUSTOMER_ID])
    joined = pc.binary_join_element_wise(exp, pc.fill_null(cid, ""), "\x00")
    return pc.if_else(pc.is_null(cid), pa.scalar(None, pa.string()), joined)


def _window(out: pd.DataFrame, bag: schema._Collector,
            window: tuple[pd.Timestamp, pd.Timestamp]) -> None:
    start, end = window
    created = out[schema.CREATED_AT]
    outside = ((created < start) | (created >= end)).to_numpy(dtype=bool)
    if outside.any():
        schema._warn(bag, schema.CREATED_AT, outside,
                     f"outside the analysis window [{start.isoformat()}, {end.isoformat()})")


def repeated(values: pa.ChunkedArray) -> np.ndarray:
    """True at every value seen earlier in ``values`` (nulls are never repeats).

    Values are compared by a 64-bit hash computed a chunk at a time (8 bytes a row, where a
    hash table of the strings would hold them all again); rows whose hash repeats are then
    compared as text, so a hash collision never makes a repeat.
    """
    n = len(values)
    out = np.zeros(n, bool)
    if n == 0:
        return out
    hashes = np.concatenate([
        pd.util.hash_array(c.to_numpy(zero_copy_only=False).astype(object))
        for c in values.chunks]) if values.num_chunks else np.zeros(0, np.uint64)
    valid = np.asarray(pc.is_valid(values).to_numpy(zero_copy_only=False), dtype=bool)
    where = np.flatnonzero(valid)
    order = where[np.argsort(hashes[where], kind="stable")]
    h = hashes[order]
    tie = np.zeros(len(order), bool)
    tie[1:] = h[1:] == h[:-1]
    tie[:-1] |= tie[1:]
    candidates = np.sort(order[tie])
    if len(candidates):
        text = pd.Series(values.take(pa.array(candidates)).to_numpy(zero_copy_only=False))
        out[candidates[text.duplicated(keep="first").to_numpy()]] = True
    return out


def unknown(ids: pa.ChunkedArray, known: pa.ChunkedArray) -> np.ndarray:
    """True where an id is not among ``known`` (nulls are not reported here)."""
    found = pc.is_in(ids, value_set=known.combine_chunks() if known.num_chunks != 1
                     else known.chunk(0), skip_nulls=True)
    present = pc.is_valid(ids)
    mask = pc.and_(present, pc.invert(found))
    return np.asarray(mask.to_numpy(zero_copy_only=False), dtype=bool)
