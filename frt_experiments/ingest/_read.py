"""Reading tables as analysts have them: CSV in the common dialects, or an Excel workbook.

A file is read as text whatever its dialect:

- encoding: a UTF-8 byte-order mark (Excel's "CSV UTF-8") is dropped; UTF-16 (with a mark, or
  detected by its zero bytes; Excel's "Unicode text") is decoded; text that is not UTF-8 is read
  as Windows-1252 (Excel's "CSV" on Windows) with a note;
- delimiter: ``,``, ``;`` (Excel in locales with a decimal comma), tab or ``|``, detected as the
  one that splits the header and the first rows into the same number of fields (or given);
- line ends: ``\\n``, ``\\r\\n``, or ``\\r`` alone (old Mac files). In a file whose lines end in
  ``\\n``, a bare carriage return is inside a text field (pasted from an email or a form) and is
  read as a space, with a note counting them;
- ``.xlsx``/``.xlsm`` workbooks (or a file that is one whatever its name) are read through
  openpyxl, an optional extra: ``pip install 'frt-experiments[excel]'``.

Every value is read as text (ids keep their leading zeros); rows are indexed by their line in
the file (header = line 1; a workbook's row number), so messages can name them.

This module imports nothing of the toolkit but its errors (and, on the error path of a CSV pandas
cannot read, the schema's line finder), so :mod:`frt_experiments.schema` can use it too.
"""

from __future__ import annotations

import codecs
import csv
import importlib.util
import io
import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from frt_experiments.errors import DataError, Problem, shorten, shown

__all__ = ["DELIMITERS", "EXCEL_EXTRA", "TextTable", "decode", "read_tabular", "sniff_delimiter"]

#: Delimiters tried when none is given, in order of preference on a tie.
DELIMITERS = (",", ";", "\t", "|")
#: The optional extra that reads Excel workbooks.
EXCEL_EXTRA = "excel"
_EXCEL_SUFFIXES = (".xlsx", ".xlsm")
_ZIP_MAGIC = b"PK\x03\x04"
_SNIFF_LINES = 50
_DECIMAL_COMMA = r"-?\d+(?:,\d+)?"


@dataclass(frozen=True)
class TextTable:
    """A table read as text.

    Attributes:
        frame: Every value as a string (empty cells are missing), indexed by file line.
        delimiter: The delimiter used (``None`` for a workbook).
        encoding: ``"utf-8"``, ``"utf-8-sig"``, ``"utf-16"``, ``"cp1252"`` or ``"xlsx"``.
        notes: What the reader had to assume (encoding, carriage returns).
    """

    frame: pd.DataFrame
    delimiter: str | None
    encoding: str
    notes: tuple[str, ...] = ()


def is_excel(path: Path) -> bool:
    """A workbook by its name, or by its zip signature whatever its name."""
    if path.suffix.lower() in _EXCEL_SUFFIXES:
        return True
    with path.open("rb") as fh:
        return fh.read(4) == _ZIP_MAGIC


def decode(path: Path) -> tuple[str, str, tuple[str, ...]]:
    """The text of ``path``, its encoding and notes; line ends normalised to ``\\n``.

    Raises:
        DataError: the file is missing or holds bytes no supported encoding reads.
    """
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DataError([Problem(path.name, None, f"cannot be read: {exc.strerror or exc}")]
                        ) from exc
    notes: list[str] = []
    if data.startswith(codecs.BOM_UTF8):
        text, encoding = data[len(codecs.BOM_UTF8):].decode("utf-8", errors="replace"), \
            "utf-8-sig"
    elif data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        text, encoding = data.decode("utf-16", errors="replace"), "utf-16"
    elif _looks_utf16(data):
        le = data[1:200:2].count(0) > data[0:200:2].count(0)
        text, encoding = data.decode("utf-16-le" if le else "utf-16-be", errors="replace"), \
            "utf-16"
    else:
        try:
            text, encoding = data.decode("utf-8"), "utf-8"
        except UnicodeDecodeError as exc:
            text, encoding = data.decode("cp1252", errors="replace"), "cp1252"
            notes.append(f"{path.name} is not UTF-8 (byte 0x{data[exc.start]:02x} at offset "
                         f"{exc.start}): read as Windows-1252")
    text, lone = _line_ends(text)
    if lone:
        notes.append(f"{path.name}: {lone:,} bare carriage return{'s' if lone != 1 else ''} "
                     "inside text fields read as spaces")
    return text, encoding, tuple(notes)


def _looks_utf16(data: bytes) -> bool:
    """UTF-16 without a byte-order mark: text whose every other byte is zero."""
    head = data[:200]
    return len(head) >= 4 and head.count(0) >= len(head) // 3


def _line_ends(text: str) -> tuple[str, int]:
    """``\\r\\n`` and old-Mac ``\\r`` line ends as ``\\n``; bare ``\\r`` in ``\\n`` files as
    spaces (they sit inside fields). Returns the text and the count of those bare ``\\r``."""
    if "\r" not in text:
        return text, 0
    if "\n" not in text:
        return text.replace("\r", "\n"), 0
    text = text.replace("\r\n", "\n")
    lone = text.count("\r")
    return text.replace("\r", " "), lone


def sniff_delimiter(text: str) -> str:
    """The delimiter that splits the header and the first rows into equal, most fields."""
    head = "\n".join(text.split("\n", _SNIFF_LINES)[:_SNIFF_LINES])
    best, best_score = DELIMITERS[0], (-1, -1)
    for delim in DELIMITERS:
        try:
            rows = [r for r in csv.reader(io.StringIO(head), delimiter=delim) if r]
        except csv.Error:
            continue
        if not rows:
            continue
        width = len(rows[0])
        body = rows[1:-1] if len(rows) > 2 else rows[1:]  # the last line may be cut
        consistent = int(all(len(r) == width for r in body)) if width > 1 else 0
        score = (consistent, width)
        if score > best_score:
            best, best_score = delim, score
    return best


def _check_delimiter(delimiter: str | None) -> str | None:
    if delimiter is None:
        return None
    named = {"tab": "\t", "\\t": "\t", "comma": ",", "semicolon": ";", "pipe": "|"}
    d = named.get(delimiter.lower(), delimiter)
    if len(d) != 1:
        raise ValueError(f"delimiter: expected one character (or tab, comma, semicolon, pipe), "
                         f"got {shown(delimiter)}")
    return d


def read_tabular(
    path: str | Path, *, what: str = "file", delimiter: str | None = None,
    sheet: str | int | None = None,
) -> TextTable:
    """Read a CSV (any dialect above) or an Excel sheet as text, indexed by line.

    Args:
        path: The file.
        what: What the file is, for messages (``"tickets export"``).
        delimiter: The CSV delimiter (one character, or ``tab``/``semicolon``/...); detected
            when ``None``.
        sheet: The workbook sheet (name or 0-based position; default the first).

    Raises:
        DataError: the file is missing, empty or unreadable, naming it; a workbook without the
            ``excel`` extra installed, naming the extra.
    """
    p = Path(path)
    if not p.is_file():
        raise DataError([Problem(p.name, None, f"{what} not found ({p})")])
    if p.stat().st_size == 0:
        raise DataError([Problem(p.name, None, "file is empty")])
    if is_excel(p):
        return _read_excel(p, sheet)
    text, encoding, notes = decode(p)
    delim = _check_delimiter(delimiter) or sniff_delimiter(text)
    try:
        df = pd.read_csv(io.StringIO(text), sep=delim, dtype=str, keep_default_na=False,
                         na_values=[""], index_col=False, engine="c")
    except (ValueError, pd.errors.ParserError) as exc:
        raise DataError([_unreadable(p, text, delim, exc)]) from exc
    short = short_rows(text, delim, len(df.columns))
    if short:
        raise DataError([short_rows_problem(p.name, short, len(df.columns))])
    df.columns = [_clean_header(c) for c in df.columns]
    df.index = pd.RangeIndex(2, len(df) + 2)
    if delim == ";":
        df, fixed = decimal_commas(df)
        if fixed:
            notes = (*notes, f"{p.name}: decimal commas read as points in "
                     f"{', '.join(fixed)}")
    return TextTable(df, delim, encoding, notes)


def _unreadable(p: Path, text: str, delimiter: str, exc: Exception) -> Problem:
    """Why pandas could not read a CSV text, with lines: rows longer than the header, or the
    line where a stray quote opens a field that never closes; else pandas' first line."""
    from frt_experiments import schema  # noqa: PLC0415 (schema imports this module lazily)

    try:
        width = len(schema._csv_header(text, delimiter))
    except ValueError as header:  # the header itself holds the stray quote
        return Problem(p.name, None, f"cannot be read: {header}")
    found = schema._long_rows(p, text, delimiter, width)
    if found.count:
        return found
    msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return Problem(p.name, None, f"cannot be read: {shorten(msg)}")


def short_rows(text: str, delimiter: str, width: int) -> list[int]:
    """The rows (numbered as lines are elsewhere: header 1, first row 2) of a CSV text with
    fewer fields than its header of ``width`` fields.

    pandas fills a short row's missing fields as empty, which would let a cut line pass as a
    row with empty optional values; this streams the text through pyarrow's reader (bounded
    memory), which reports each row whose field count differs.
    """
    import pyarrow as pa  # noqa: PLC0415
    import pyarrow.csv as pa_csv  # noqa: PLC0415

    found: list[int] = []

    def invalid(row: pa_csv.InvalidRow) -> str:
        if row.actual_columns < row.expected_columns and row.number is not None:
            found.append(int(row.number))
        return "skip"

    names = [f"c{i}" for i in range(width)]
    try:
        reader = pa_csv.open_csv(
            io.BytesIO(text.encode("utf-8")),
            read_options=pa_csv.ReadOptions(use_threads=False, column_names=names,
                                            skip_rows=1),
            parse_options=pa_csv.ParseOptions(delimiter=delimiter, newlines_in_values=True,
                                              invalid_row_handler=invalid),
            convert_options=pa_csv.ConvertOptions(column_types=dict.fromkeys(
                names, pa.string()), strings_can_be_null=False))
        for _ in reader:
            pass
    except (pa.ArrowInvalid, ValueError):  # pandas reports what pyarrow cannot read
        return found
    return found


def short_rows_problem(name: str, rows: list[int], width: int) -> Problem:
    return Problem(name, None, f"shorter than the header (fewer than {width} fields)",
                   len(rows), tuple(rows[:5]), "lines")


def long_rows_problem(name: str, rows: list[int], width: int) -> Problem:
    return Problem(name, None, f"longer than the header (more than {width} fields)",
                   len(rows), tuple(rows[:5]), "lines")


def decimal_commas(df: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """Columns of a ``;`` file whose every value is a number with a decimal comma (``12,5``,
    as Excel writes them in such locales) with decimal points; and their names."""
    fixed = []
    out = df.copy()
    for name in df.columns:
        s = df[name].dropna()
        if len(s) and s.str.fullmatch(_DECIMAL_COMMA).all() and s.str.contains(",").any():
            out[name] = df[name].str.replace(",", ".", regex=False)
            fixed.append(str(name))
    return out, fixed


def _clean_header(name: object) -> str:
    return re.sub(r"\s+", " ", str(name).replace("\ufeff", "")).strip()


def excel_available() -> bool:
    return importlib.util.find_spec("openpyxl") is not None


def _read_excel(p: Path, sheet: str | int | None) -> TextTable:
    if not excel_available():
        raise DataError([Problem(p.name, None, "is an Excel workbook; reading it needs the "
                                 f"optional extra '{EXCEL_EXTRA}': pip install "
                                 f"'frt-experiments[{EXCEL_EXTRA}]' (or save the sheet as "
                                 "CSV UTF-8)")])
    try:
        df = pd.read_excel(p, sheet_name=0 if sheet is None else sheet, dtype=str,
                           engine="openpyxl")
    except (ValueError, KeyError, OSError) as exc:
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise DataError([Problem(p.name, None, f"cannot be read as a workbook: {shorten(msg)}")]
                        ) from exc
    except Exception as exc:  # zipfile.BadZipFile and openpyxl's own errors
        raise DataError([Problem(p.name, None, "cannot be read as a workbook: "
                                 f"{type(exc).__name__}: {shorten(str(exc))}")]) from exc
    df = df.apply(lambda s: s.str.strip()).replace("", pd.NA)
    df.columns = [_clean_header(c) for c in df.columns]
    df.index = pd.RangeIndex(2, len(df) + 2)
    return TextTable(df, None, "xlsx")
