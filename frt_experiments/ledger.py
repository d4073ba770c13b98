"""The assignment ledger on disk: the assignments table, its two sidecar files and its lock.

- ``<ledger>`` (CSV or Parquet) -- the canonical assignments table. A re-run appends: the old
  CSV bytes are copied unchanged and the new rows written after them (Parquet is rewritten with
  the old rows first).
- ``<ledger>.excluded.csv`` -- ``customer_id, reason`` of customers screened out, so that a
  customer judged ineligible stays out when their data change.
- ``<ledger>.meta.json`` -- the design record: experiment, SHA-256 fingerprint of the salt (not
  the salt), arms, weights (as shares) and the eligibility rule with the spend ceiling it fixed,
  and the *integrity record* of the other two files: for each its rows, bytes, SHA-256 digest
  and (CSV) the SHA-256 of each block of lines, so that a later run can tell which lines were
  changed after frt wrote them, sealed by an HMAC-SHA256 keyed by the salt (a record edited to
  match an edited ledger is found by anyone holding the salt).
- ``<ledger>.lock`` -- the lock file: every update holds an exclusive ``flock`` on it (a second
  run waits up to :data:`DEFAULT_LOCK_TIMEOUT` seconds, then fails naming the ledger). It stays
  beside the ledger; deleting it while no run is going is harmless.
- ``<ledger>.journal`` -- present only while an update is being committed (or after a run was
  killed during the commit; the next run completes it).

An update writes all three new files to temporary files beside them, then commits them together
through the journal (:func:`frt_experiments._atomic.files_together`): a run that fails or is
killed before the commit changes none of them, and one killed during the commit is completed by
the next run, so a ledger is always seen with the sidecars it was written with. Every run checks
the integrity record (a ledger written by an earlier version without one is checked row by row
against the salt instead, and gets its record on the next write). A ledger path that is a
symbolic link is resolved: the file it points to is updated in place, the link stays.
:func:`frt_experiments.assignment.assign` is the user-facing entry point;
:func:`verify_ledger` checks a ledger without changing it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import os
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv

from frt_experiments import schema
from frt_experiments._atomic import (
    CommitInterruptedError,
    complete_interrupted,
    files_together,
    sha256_file,
    stale_temporaries,
    write_bytes_atomic,
)
from frt_experiments._ids import isin
from frt_experiments._limits import load_json_text
from frt_experiments.errors import DataError, LedgerError
from frt_experiments.plan import allocation_problems

if sys.platform == "win32":  # pragma: no cover
    import msvcrt
else:
    import fcntl

__all__ = ["DEFAULT_LOCK_TIMEOUT", "META_FORMAT", "REASON", "LedgerCheck", "LedgerState",
           "atomic_csv", "atomic_text", "check_rows", "design_record", "journal_file",
           "ledger_lock", "lock_file", "read_design_weights", "read_ledger", "recover",
           "resolve_ledger", "sidecars", "verify_ledger", "write_ledger"]

#: Version of the meta file layout.
META_FORMAT = 1
#: Column of the excluded-customers file giving why a customer was screened out.
REASON = "reason"
#: Seconds a run waits for another run's lock on the same ledger before it gives up.
DEFAULT_LOCK_TIMEOUT = 300.0
#: Version of the integrity record's layout.
INTEGRITY_FORMAT = 1
_MIN_BLOCK_LINES = 16
_INTEGRITY = "it does not match the integrity record"
_MAX_BLOCKS = 4096


def design_record(experiment: str, salt: str, arms: tuple[str, ...], share: np.ndarray,
                  rule: dict[str, Any]) -> dict[str, Any]:
    """What the meta file stores: experiment, salt fingerprint, arms, weights, eligibility."""
    if not isinstance(salt, str) or not salt:
        raise ValueError(f"salt must be a non-empty string, got {salt!r}")
    return {"format": META_FORMAT, "experiment": experiment,
            "salt_sha256": hashlib.sha256(salt.encode()).hexdigest(),
            "arms": list(arms), "weights": [float(s) for s in share],
            "eligibility": dict(rule)}


def sidecars(path: Path) -> tuple[Path, Path]:
    """``<ledger>.meta.json`` and ``<ledger>.excluded.csv``."""
    return (path.with_name(path.name + ".meta.json"),
            path.with_name(path.name + ".excluded.csv"))


def read_design_weights(path: str | os.PathLike[str]) -> dict[str, float]:
    """The designed allocation recorded beside a ledger: arm -> share, control first.

    Args:
        path: The ``<ledger>.meta.json`` file, or the ledger itself (its sidecar is read).

    Returns:
        ``{arm: share}`` in the ledger's arm order (e.g. ``{"fast": 0.9,
        "one_business_day": 0.1}``), ready for ``analyze(..., weights=...)``.

    Raises:
        FileNotFoundError: There is no such meta file (a stratified cohort has none).
        LedgerError: The file is not JSON, or its ``arms`` and ``weights`` are not one
            positive share per arm summing to 1.
    """
    p = Path(path)
    meta_path = p if p.name.endswith(".meta.json") else sidecars(p)[0]
    if not meta_path.is_file():
        beside = ("" if meta_path == p
                  else f" (the design record frt assign writes beside {p.name})")
        raise FileNotFoundError(f"{meta_path.name}: file not found{beside} ({meta_path})")
    try:
        stored = load_json_text(meta_path.read_text(encoding="utf-8"), meta_path.name)
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise LedgerError(f"{meta_path.name}: cannot be read as JSON ({exc})") from exc
    arms = stored.get("arms") if isinstance(stored, dict) else None
    shares = stored.get("weights") if isinstance(stored, dict) else None
    if (not isinstance(arms, list) or not isinstance(shares, list) or len(arms) != len(shares)
            or len(set(map(str, arms))) != len(arms)):
        raise LedgerError(f"{meta_path.name}: needs 'arms' and 'weights', lists of the same "
                          f"length with distinct arms, got arms {arms!r}, weights {shares!r}")
    weights = dict(zip(arms, shares, strict=True))
    problems = allocation_problems(weights, "weights")
    if problems:
        raise LedgerError(f"{meta_path.name}: {problems[0]}")
    return {str(arm): float(w) for arm, w in weights.items()}


# ----------------------------------------------------------------------------- paths and lock
def resolve_ledger(path: str | os.PathLike[str]) -> Path:
    """The file a ledger path names: a symbolic link is followed (its target is updated in
    place, the link stays); the sidecars, lock and journal live beside the target."""
    return Path(os.path.realpath(Path(path)))


def lock_file(path: Path) -> Path:
    """``<ledger>.lock``."""
    return path.with_name(path.name + ".lock")


def journal_file(path: Path) -> Path:
    """``<ledger>.journal``: the commit record of an update in progress."""
    return path.with_name(path.name + ".journal")


def _try_lock(fd: int, shared: bool) -> bool:
    """Take the lock without waiting; ``False`` when another process holds it."""
    if sys.platform == "win32":  # pragma: no cover - a byte lock (always exclusive)
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True
    try:
        fcntl.flock(fd, (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


@contextmanager
def ledger_lock(path: Path, *, timeout: float = DEFAULT_LOCK_TIMEOUT,
                shared: bool = False) -> Iterator[None]:
    """Hold the lock of the ledger at ``path`` (its resolved path) for the block.

    An exclusive ``flock`` on ``<ledger>.lock`` (POSIX; a byte lock on Windows), taken by every
    update; ``shared`` is for readers (:func:`verify_ledger`), which proceed without a lock when
    the directory is read-only. A held lock is waited for, polling, up to ``timeout`` seconds.

    Raises:
        LedgerError: The lock was not free within ``timeout``, or the lock file cannot be made.
    """
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) \
            or not math.isfinite(timeout) or timeout < 0:
        raise ValueError(f"lock_timeout must be a finite number of seconds >= 0, got {timeout!r}")
    lock = lock_file(path)
    fd = _open_lock(lock, shared)
    if fd is None:
        yield               # a read-only place: nobody can be updating the ledger there
        return
    try:
        deadline = time.monotonic() + timeout
        delay = 0.005
        while not _try_lock(fd, shared):
            left = deadline - time.monotonic()
            if left <= 0:
                raise LedgerError(
                    f"{path.name}: another run is updating this ledger (it holds {lock.name}); "
                    f"gave up after waiting {timeout:g} s (try again when it has finished, or "
                    "wait longer with --lock-timeout / lock_timeout=)")
            time.sleep(min(delay, left))
            delay = min(delay * 2, 0.2)
        yield
    finally:
        os.close(fd)        # releases the lock


def _open_lock(lock: Path, shared: bool) -> int | None:
    try:
        lock.parent.mkdir(parents=True, exist_ok=True)
        return os.open(lock, os.O_RDWR | os.O_CREAT, 0o666)
    except OSError as exc:
        if shared:
            try:
                return os.open(lock, os.O_RDONLY)
            except OSError:
                return None
        raise LedgerError(f"{lock.name}: cannot create the ledger's lock file "
                          f"({exc.strerror or exc})") from exc


def recover(path: Path) -> list[str]:
    """Complete or clean up after a run killed while updating the ledger; call under the lock.

    A journal left by a run killed during its commit is completed (its files were all written
    before the journal was); temporary files of a run killed before its commit are removed.
    Returns notes saying what was done (empty when there was nothing to do).

    Raises:
        LedgerError: The interrupted update cannot be completed (its files are gone).
    """
    notes = []
    journal = journal_file(path)
    try:
        done = complete_interrupted(journal)
    except (ValueError, OSError) as exc:
        raise LedgerError(f"{path.name}: {exc}; restore the ledger and its sidecars from a "
                          f"backup, then delete {journal.name}") from exc
    if done is not None:
        notes.append(f"{path.name}: completed the update an interrupted run had committed "
                     f"({', '.join(sorted(p.name for p in done))})")
    meta_path, excl_path = sidecars(path)
    stale = [t for p in (path, meta_path, excl_path, journal) for t in stale_temporaries(p)]
    for tmp in stale:
        tmp.unlink(missing_ok=True)
    if stale:
        notes.append(f"{path.name}: removed {len(stale)} temporary "
                     f"{'file' if len(stale) == 1 else 'files'} an interrupted run left "
                     f"({', '.join(t.name for t in stale[:3])}{', ...' if len(stale) > 3 else ''})")
    return notes


# ----------------------------------------------------------------------------- integrity record
def _line_ends(data: bytes) -> np.ndarray:
    """End offset (exclusive) of every line of ``data``; a last line without newline counts."""
    ends = np.flatnonzero(np.frombuffer(data, dtype=np.uint8) == 10) + 1
    if len(data) and (not len(ends) or ends[-1] != len(data)):
        ends = np.append(ends, len(data))
    return ends.astype(np.int64)


def _block_size(lines: int) -> int:
    """Lines per block: at least 16, a power of two, at most 4,096 blocks per file."""
    size = _MIN_BLOCK_LINES
    while size * _MAX_BLOCKS < lines:
        size *= 2
    return size


def _blocks(data: bytes, size: int) -> list[str]:
    """SHA-256 (first 16 hex digits) of each block of ``size`` lines."""
    ends = _line_ends(data)
    cuts = np.concatenate([[0], ends[size - 1::size]])
    if len(ends) and cuts[-1] != ends[-1]:
        cuts = np.append(cuts, ends[-1])
    return [hashlib.sha256(data[a:b]).hexdigest()[:16]
            for a, b in zip(cuts[:-1].tolist(), cuts[1:].tolist(), strict=True)]


def _file_record(data: bytes, rows: int, *, lines: bool) -> dict[str, Any]:
    rec: dict[str, Any] = {"rows": int(rows), "bytes": len(data),
                           "sha256": hashlib.sha256(data).hexdigest()}
    if lines:
        size = _block_size(len(_line_ends(data)))
        rec |= {"lines": len(_line_ends(data)), "block_lines": size,
                "block_sha256": _blocks(data, size)}
    return rec


def _committed(data: bytes, rec: dict[str, Any]) -> bool:
    """``data`` is what was committed (or that less its final newline, as editors leave it)."""
    if len(data) == rec.get("bytes") and hashlib.sha256(data).hexdigest() == rec.get("sha256"):
        return True
    return (bool(data) and not data.endswith(b"\n") and len(data) + 1 == rec.get("bytes")
            and hashlib.sha256(data + b"\n").hexdigest() == rec.get("sha256"))


def _range(first: int, last: int) -> str:
    return f"line {first:,}" if first >= last else f"lines {first:,}-{last:,}"


def _where_changed(data: bytes, rec: dict[str, Any]) -> str:
    """Which lines of ``data`` differ from the committed file, from the block digests."""
    size, old = rec.get("block_lines"), rec.get("block_sha256")
    n_old = rec.get("lines")
    if not isinstance(size, int) or size < 1 or not isinstance(old, list) \
            or not isinstance(n_old, int):
        return "its SHA-256 digest differs"
    n_new = len(_line_ends(data))
    new = _blocks(data, size)
    count = f"{n_new - 1:,} rows, not the {n_old - 1:,} committed; " if n_new != n_old else ""
    k = next((i for i, (a, b) in enumerate(zip(new, old, strict=False)) if a != b),
             min(len(new), len(old)))
    if k == len(new) and k < len(old):
        return f"{count}the file ends after line {n_new:,} ({_range(n_new + 1, n_old)} gone)"
    if k == len(old):
        return f"{count}{_range(n_old + 1, n_new)} added at the end"
    last = min((k + 1) * size, max(n_new, n_old))
    what = "deleted, inserted or changed" if n_new != n_old else "changed"
    return f"{count}the first difference is in {_range(k * size + 1, last)} (a line {what} there)"


def _integrity_problem(path: Path, rec: Any, meta_name: str, *, lines: bool
                       ) -> tuple[str | None, bytes | None]:
    """What is wrong with ``path`` against its record (``None`` if nothing), and its bytes."""
    if not isinstance(rec, dict):
        return f"{meta_name}: its integrity record of {path.name} is not readable", None
    if not path.exists():
        return (f"{path.name}: is missing, but {meta_name} records it with "
                f"{rec.get('rows', 0):,} rows; restore it from a backup"), None
    if not lines:
        size, digest = sha256_file(path)
        if (size, digest) == (rec.get("bytes"), rec.get("sha256")):
            return None, None
        return _changed(path.name, meta_name, "its SHA-256 digest differs"), None
    data = path.read_bytes()
    if _committed(data, rec):
        return None, data
    return _changed(path.name, meta_name, _where_changed(data, rec)), data


def _seal(salt: str, design: dict[str, Any], record: dict[str, Any]) -> str:
    """HMAC-SHA256, keyed by the salt, of the design record and the integrity record."""
    body = {"design": {k: v for k, v in design.items() if k != "integrity"},
            "record": {k: v for k, v in record.items() if k != "hmac_sha256"}}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"))
    return hmac.new(salt.encode(), text.encode(), hashlib.sha256).hexdigest()


def _seal_problem(meta_name: str, stored: dict[str, Any], salt: str) -> str | None:
    record = stored.get("integrity")
    if not isinstance(record, dict):
        return f"{meta_name}: its integrity record is not readable"
    seal = record.get("hmac_sha256")
    if not isinstance(seal, str) or not hmac.compare_digest(seal, _seal(salt, stored, record)):
        return (f"{meta_name}: was changed after frt wrote it: its integrity record does not "
                "match its seal (an HMAC keyed by the salt); restore it from a backup")
    return None


# ----------------------------------------------------------------------------- reading
class LedgerState(NamedTuple):
    """An existing ledger: its rows, its screened-out customers and its stored design record
    (``None`` when the meta file is missing)."""

    rows: pd.DataFrame
    excluded: pd.DataFrame
    stored: dict[str, Any] | None


def _read_meta(meta_path: Path) -> dict[str, Any] | None:
    if not meta_path.exists():
        return None
    try:
        stored = load_json_text(meta_path.read_text(encoding="utf-8"), meta_path.name)
    except (OSError, ValueError) as exc:
        raise LedgerError(f"{meta_path.name}: cannot be read ({exc})") from exc
    if not isinstance(stored, dict):
        raise LedgerError(f"{meta_path.name}: cannot be read (not a JSON object)")
    return stored


def read_ledger(path: Path, meta: dict[str, Any], *, salt: str | None = None
                ) -> LedgerState | None:
    """The existing ledger, its screened-out customers and its stored design record.

    Returns ``None`` when there is no ledger yet. The stored record (``None`` when the meta
    file is missing) must match ``meta``. With an integrity record in the meta file, the ledger
    and excluded list must be exactly what frt committed; without one (a ledger of an earlier
    version) and with ``salt``, every bucket and arm is recomputed from the salt instead.

    Raises:
        LedgerError: Another experiment, rows without buckets, a changed design, a file changed
            or lost since frt wrote it (naming the file and, where it can, the lines).
        DataError: The ledger file breaks the assignments table's rules.
    """
    meta_path, excl_path = sidecars(path)
    stored = _read_meta(meta_path)
    record = stored.get("integrity") if stored is not None else None
    if not path.exists():
        if record is not None:
            rows = record.get("ledger", {}).get("rows", 0) if isinstance(record, dict) else 0
            raise LedgerError(f"{path.name}: is missing, but {meta_path.name} records a ledger "
                              f"of {rows:,} rows; restore it from a backup, or delete "
                              f"{meta_path.name} and {excl_path.name} to start a new one")
        return None
    csv = path.suffix.lower() != ".parquet"
    problem = data = None
    if record is not None:
        if stored is not None:
            _compare_salt(meta_path.name, stored, meta)
        rec = record.get("ledger") if isinstance(record, dict) else None
        problem, data = _integrity_problem(path, rec, meta_path.name, lines=csv)
    sealed = None
    if stored is not None and record is not None and salt is not None and problem is None:
        sealed = _seal_problem(meta_path.name, stored, salt)
    # Bytes frt committed (the digest matches a record sealed with this salt) were checked
    # when written: they are parsed, not checked rule by rule again, so a re-run on a large
    # ledger reads it at the speed of the parser. Anything else is read by the checking reader.
    trusted = problem is None and sealed is None and salt is not None
    committed = _read_committed(data) if trusted and data is not None else None
    try:
        rows = committed if committed is not None else _read_rows(path)
    except DataError as err:
        if problem is None:
            raise
        raise LedgerError(f"{problem}; {err.problems[0]}") from err
    if problem is not None:
        design = stored if stored is not None else meta
        raise LedgerError(_locate(problem, rows, salt, design, names=(path.name, meta_path.name),
                                  salt_sha256=meta["salt_sha256"], csv=csv))
    if sealed is not None and stored is not None:
        raise LedgerError(_locate(sealed, rows, salt, stored, names=(path.name, meta_path.name),
                                  salt_sha256=meta["salt_sha256"], csv=csv))
    name = path.name
    off = rows[schema.EXPERIMENT].notna() & (rows[schema.EXPERIMENT] != meta["experiment"])
    if off.any():
        first = rows[schema.EXPERIMENT][off].iloc[0]
        raise LedgerError(f"{name}: holds experiment {first!r}, not {meta['experiment']!r} "
                          f"({_where(off.to_numpy(bool), csv)}); keep one ledger per "
                          "experiment")
    missing = rows[schema.BUCKET].isna().to_numpy()
    if missing.any():
        raise LedgerError(f"{name}: has rows without a bucket (a stratified assignment?, "
                          f"{_where(missing, csv)}); a hashed assignment cannot extend it")
    if stored is not None:
        _compare(meta_path.name, stored, meta)
    if record is None and salt is not None:
        check_rows(name, rows, salt, stored if stored is not None else meta, csv=csv)
    excluded = _read_excluded(excl_path, record, meta_path.name)
    _check_overlap(name, rows, excl_path.name, excluded)
    return LedgerState(rows, excluded, stored)


def _read_excluded(excl_path: Path, record: Any, meta_name: str) -> pd.DataFrame:
    empty = pd.DataFrame({schema.CUSTOMER_ID: pd.Series([], dtype="string"),
                          REASON: pd.Series([], dtype="string")})
    if record is not None:
        rec = record.get("excluded") if isinstance(record, dict) else None
        if not excl_path.exists() and isinstance(rec, dict) and rec.get("rows") == 0:
            return empty            # an empty list lost: nobody can slip in
        problem, _ = _integrity_problem(excl_path, rec, meta_name, lines=True)
        if problem is not None:
            raise LedgerError(problem)
    if not excl_path.exists():
        return empty
    try:
        excluded = pd.read_csv(excl_path, dtype="string", keep_default_na=False)
    except (ValueError, OSError, UnicodeDecodeError) as exc:
        raise LedgerError(f"{excl_path.name}: cannot be read ({exc})") from exc
    if list(excluded.columns) != [schema.CUSTOMER_ID, REASON]:
        raise LedgerError(f"{excl_path.name}: columns {list(excluded.columns)} are not "
                          f"{[schema.CUSTOMER_ID, REASON]}")
    dup = excluded[schema.CUSTOMER_ID].duplicated().to_numpy()
    if dup.any():
        raise LedgerError(f"{excl_path.name}: lists a customer_id twice "
                          f"({_where(dup, True)})")
    return excluded


def _check_overlap(name: str, rows: pd.DataFrame, excl_name: str,
                   excluded: pd.DataFrame) -> None:
    if not len(excluded) or not len(rows):
        return
    both = isin(excluded[schema.CUSTOMER_ID], rows[schema.CUSTOMER_ID])
    if both.any():
        raise LedgerError(f"{excl_name}: lists customers who are also assigned in {name} "
                          f"({_where(both, True)})")


#: The Arrow type of each kind of canonical column, as the validators type them.
_ARROW_TYPES = {"id": pa.string(), "text": pa.string(), "number": pa.float64(),
                "timestamp": pa.timestamp("ns", tz="UTC")}


def _read_committed(data: bytes) -> pd.DataFrame | None:
    """A CSV ledger's rows from the bytes frt committed, typed as the assignments table;
    ``None`` when they are not what frt writes (another header, a value of another type, a
    customer twice: then the checking reader reads them and names the lines)."""
    names = list(schema.ASSIGNMENTS.names)
    types = {c.name: _ARROW_TYPES[c.kind] for c in schema.ASSIGNMENTS.columns}
    try:
        table = pa_csv.read_csv(pa.BufferReader(data), parse_options=pa_csv.ParseOptions(
            newlines_in_values=True), convert_options=pa_csv.ConvertOptions(
            column_types=types, strings_can_be_null=True, null_values=[""]))
    except pa.ArrowInvalid:
        return None
    if table.column_names != names or table.num_rows != pc.count_distinct(
            table.column(schema.CUSTOMER_ID), mode="all").as_py():
        return None
    return table.to_pandas(types_mapper={pa.string(): pd.StringDtype()}.get)


def _read_rows(path: Path) -> pd.DataFrame:
    """The ledger's rows; a ledger with a header and no rows (nobody was eligible on its first
    run) is an empty assignments table, not an unreadable file."""
    try:
        return schema.read_table(path, "assignments")
    except DataError as err:
        if path.stat().st_size == 0:
            raise
        try:
            if path.suffix.lower() == ".parquet":
                head = pd.read_parquet(path)
            else:
                head = pd.read_csv(path, dtype=str, nrows=1, keep_default_na=False)
        except (ValueError, OSError, UnicodeDecodeError):
            raise err from None
        if len(head):
            raise
    return schema.validate_assignments(head.astype(object), source=path.name)


def _where(mask: np.ndarray, csv: bool) -> str:
    """``line 5`` / ``lines 5, 9, ...`` of the rows in ``mask`` (CSV: the header is line 1),
    or 0-based ``row``/``rows`` positions otherwise."""
    idx = np.flatnonzero(mask)
    shown = ", ".join(f"{int(i) + (2 if csv else 0):,}" for i in idx[:5])
    more = ", ..." if len(idx) > 5 else ""
    word = "line" if csv else "row"
    return f"{word}{'s' if len(idx) > 1 else ''} {shown}{more}"


def _salt_problems(rows: pd.DataFrame, salt: str, design: dict[str, Any],
                   csv: bool) -> list[str]:
    """Rows whose bucket is not the hash of their id with ``salt``, or whose arm is not the arm
    of their bucket under the design's arms and weights."""
    # assignment imports this module; the hash lives there
    from frt_experiments.assignment import arms_from_buckets, hash_buckets  # noqa: PLC0415

    out = []
    buckets = rows[schema.BUCKET].to_numpy(dtype=np.float64, na_value=np.nan)
    missing = np.isnan(buckets)
    if missing.any():
        out.append(f"{_where(missing, csv)}: {_n(missing, 'row has', 'rows have')} no bucket")
    ids = rows[schema.CUSTOMER_ID]
    again = hash_buckets(ids.fillna(""), salt)
    off = (again != buckets) & ~missing
    if off.any():
        verb = ("stored bucket is not the hash of its", "stored buckets are not the hash of their")
        out.append(f"{_where(off, csv)}: {_n(off, *verb)} customer_id with this salt (a forged "
                   "or edited line, or another salt?)")
    arms = arms_from_buckets(again, design["arms"], design["weights"])
    arm_off = (arms != rows[schema.ARM].to_numpy(dtype=object).astype(str)) & ~off & ~missing
    if arm_off.any():
        verb = ("stored arm differs from the arm of its bucket",
                "stored arms differ from the arms of their buckets")
        out.append(f"{_where(arm_off, csv)}: {_n(arm_off, *verb)} (arms "
                   f"{list(design['arms'])}, weights {list(design['weights'])}; an edited arm, "
                   "or other arms or weights?)")
    return out


def _n(mask: np.ndarray, one: str, many: str) -> str:
    k = int(np.count_nonzero(mask))
    return f"1 {one}" if k == 1 else f"{k:,} {many}"


def check_rows(name: str, rows: pd.DataFrame, salt: str, design: dict[str, Any], *,
               csv: bool = True) -> None:
    """Recompute every bucket from ``salt`` and every arm from the design's arms and weights.

    Raises:
        LedgerError: Naming ``name`` and the first offending lines (rows for Parquet).
    """
    problems = _salt_problems(rows, salt, design, csv)
    if problems:
        raise LedgerError(f"{name}: {'; '.join(problems)}")


def _changed(name: str, meta_name: str, detail: str) -> str:
    return f"{name}: was changed after frt wrote it ({_INTEGRITY} in {meta_name}): {detail}"


def _locate(problem: str, rows: pd.DataFrame, salt: str | None, design: dict[str, Any], *,
            names: tuple[str, str], salt_sha256: str, csv: bool) -> str:
    """The integrity problem, with the exact lines a recomputation from the salt finds in place
    of the block-level detail when it finds any."""
    if salt is None or hashlib.sha256(salt.encode()).hexdigest() != salt_sha256:
        return problem
    found = _salt_problems(rows, salt, design, csv)
    return _changed(*names, "; ".join(found)) if found else problem


def _compare_salt(name: str, stored: dict[str, Any], meta: dict[str, Any]) -> None:
    if stored.get("salt_sha256") != meta["salt_sha256"]:
        raise LedgerError(f"{name}: the salt differs from the one the ledger was made with; "
                          "changing it would re-shuffle assigned customers (use a new ledger "
                          "for a new experiment)")


def _compare(name: str, stored: dict[str, Any], meta: dict[str, Any]) -> None:
    _compare_salt(name, stored, meta)
    if list(stored.get("arms", [])) != meta["arms"]:
        raise LedgerError(f"{name}: arms {meta['arms']} differ from the ledger's "
                          f"{stored.get('arms')}")
    sw = np.asarray(stored.get("weights", []), dtype=float)
    if sw.shape != (len(meta["weights"]),) or not np.allclose(sw, meta["weights"],
                                                              rtol=0, atol=1e-12):
        raise LedgerError(f"{name}: weights {meta['weights']} differ from the ledger's "
                          f"{stored.get('weights')}")
    if stored.get("experiment") != meta["experiment"]:
        raise LedgerError(f"{name}: experiment {meta['experiment']!r} differs from the "
                          f"ledger's {stored.get('experiment')!r}")
    el = stored.get("eligibility", {})
    for key in ("max_spend", "spend_quantile", "include_segments", "exclude_segments"):
        if el.get(key) != meta["eligibility"][key]:
            raise LedgerError(f"{name}: eligibility rule {key}={meta['eligibility'][key]!r} "
                              f"differs from the ledger's {el.get(key)!r}; eligibility is "
                              "fixed when the ledger is created")


# ----------------------------------------------------------------------------- verify
@dataclass(frozen=True)
class LedgerCheck:
    """What :func:`verify_ledger` found: a ledger that passed every check.

    Attributes:
        path: The ledger checked (resolved when given as a symbolic link).
        experiment: The experiment of its rows (or of its meta file when it has none).
        counts: Assigned customers per arm, in the design's order.
        excluded: Customers in the excluded list.
        integrity: ``True`` when the meta file's integrity record was checked; ``False`` for
            a ledger of an earlier version without one (then only the rows were checked).
        notes: Anything worth knowing that is not an error (stale temporary files, a missing
            integrity record).
    """

    path: Path
    experiment: str | None
    counts: dict[str, int]
    excluded: int
    integrity: bool
    notes: tuple[str, ...] = field(default=())

    @property
    def rows(self) -> int:
        """Assigned customers in the ledger."""
        return sum(self.counts.values())

    def to_pandas(self) -> pd.DataFrame:
        """Customers per arm."""
        return pd.DataFrame({"arm": list(self.counts), "customers": list(self.counts.values())})

    def summary(self) -> str:
        """One line: the ledger, its counts and what was checked."""
        arms = ", ".join(f"{a} {n:,}" for a, n in self.counts.items())
        record = ("matches its integrity record" if self.integrity else
                  "no integrity record (a ledger of an earlier version; the next frt assign "
                  "adds one)")
        return (f"ok: {self.path.name}: {self.rows:,} customers assigned in experiment "
                f"{self.experiment!r} ({arms}), {self.excluded:,} screened out; every bucket "
                f"and arm recomputed from the salt; {record}")

    def __repr__(self) -> str:
        return (f"LedgerCheck(path={str(self.path)!r}, rows={self.rows:,}, "
                f"excluded={self.excluded:,}, integrity={self.integrity})")


def verify_ledger(
    ledger: str | os.PathLike[str],
    *,
    salt: str,
    experiment: str | None = None,
    arms: Sequence[str] | None = None,
    weights: Sequence[float] | None = None,
    lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
) -> LedgerCheck:
    """Check a ledger and its sidecars without changing anything.

    Every bucket is recomputed from ``salt`` and every arm from the design (the meta file's
    arms and weights; ``arms``/``weights``, default two equal arms ``fast`` and
    ``one_business_day``, only for a ledger without a meta file); the salt's fingerprint and
    the integrity record of the ledger and the excluded list are checked; no customer may be
    both assigned and excluded. Waits for a run updating the ledger to finish (a shared lock).

    Raises:
        LedgerError: The first problem found, naming the file and, where it can, the lines.
        DataError: The ledger breaks the assignments table's rules.
    """
    if not isinstance(salt, str) or not salt:
        raise ValueError(f"salt must be a non-empty string, got {salt!r}")
    path = resolve_ledger(ledger)
    meta_path, excl_path = sidecars(path)
    with ledger_lock(path, timeout=lock_timeout, shared=True):
        journal = journal_file(path)
        if journal.exists():
            raise LedgerError(f"{path.name}: an update was interrupted ({journal.name} "
                              "exists); run frt assign again to complete it, then verify")
        if not path.exists():
            raise LedgerError(f"{path.name}: file not found ({path})")
        stored = _read_meta(meta_path)
        fingerprint = hashlib.sha256(salt.encode()).hexdigest()
        if stored is not None and stored.get("salt_sha256") != fingerprint:
            raise LedgerError(f"{meta_path.name}: the salt differs from the one the ledger "
                              "was made with")
        design = _design(stored, arms, weights)
        record = stored.get("integrity") if stored is not None else None
        csv = path.suffix.lower() != ".parquet"
        problem = None
        if record is not None:
            rec = record.get("ledger") if isinstance(record, dict) else None
            problem, _ = _integrity_problem(path, rec, meta_path.name, lines=csv)
        try:
            rows = _read_rows(path)
        except DataError as err:
            if problem is None:
                raise
            raise LedgerError(f"{problem}; {err.problems[0]}") from err
        if problem is None and stored is not None and record is not None:
            problem = _seal_problem(meta_path.name, stored, salt)
        if problem is not None:
            raise LedgerError(_locate(problem, rows, salt, design,
                                      names=(path.name, meta_path.name),
                                      salt_sha256=fingerprint, csv=csv))
        names = rows[schema.EXPERIMENT].dropna()
        stored_exp = stored.get("experiment") if stored is not None else None
        if experiment is not None and stored_exp is not None and experiment != stored_exp:
            raise LedgerError(f"{meta_path.name}: records experiment {stored_exp!r}, not "
                              f"{experiment!r}")
        expected = experiment if experiment is not None else stored_exp
        if expected is None and len(names):
            expected = str(names.iloc[0])
        off = (rows[schema.EXPERIMENT].notna() & (rows[schema.EXPERIMENT] != expected)
               ).to_numpy(bool)
        if off.any():
            raise LedgerError(f"{path.name}: holds experiment "
                              f"{rows[schema.EXPERIMENT][off].iloc[0]!r}, not {expected!r} "
                              f"({_where(off, csv)})")
        check_rows(path.name, rows, salt, design, csv=csv)
        excluded = _read_excluded(excl_path, record, meta_path.name)
        _check_overlap(path.name, rows, excl_path.name, excluded)
        notes = []
        stale = [t.name for p in (path, meta_path, excl_path, journal)
                 for t in stale_temporaries(p)]
        if stale:
            notes.append(f"{path.name}: {len(stale)} temporary "
                         f"{'file' if len(stale) == 1 else 'files'} of an interrupted run "
                         f"beside it ({', '.join(stale[:3])}); the next frt assign removes them")
        if record is None:
            notes.append(f"{path.name}: {meta_path.name} "
                         f"{'has no integrity record' if stored is not None else 'is missing'}"
                         " (a ledger of an earlier version): its rows were checked against "
                         "the salt, but a deleted line or excluded customer cannot be seen; "
                         "the next frt assign adds the record")
        arm = rows[schema.ARM].to_numpy(dtype=object)
        counts = {str(a): int(np.count_nonzero(arm == a)) for a in design["arms"]}
    return LedgerCheck(path, expected, counts, len(excluded), record is not None,
                       tuple(notes))


def _design(stored: dict[str, Any] | None, arms: Sequence[str] | None,
            weights: Sequence[float] | None) -> dict[str, Any]:
    if stored is not None and "arms" in stored and "weights" in stored:
        return {"arms": list(stored["arms"]), "weights": list(stored["weights"])}
    a = list(arms) if arms is not None else [schema.CONTROL_ARM, schema.TREATMENT_ARM]
    w = np.asarray(weights if weights is not None else [1.0] * len(a), dtype=float)
    if w.shape != (len(a),) or not np.all(np.isfinite(w)) or (w <= 0).any():
        raise ValueError(f"weights must be one positive number per arm, got {weights!r}")
    return {"arms": a, "weights": (w / w.sum()).tolist()}


# ----------------------------------------------------------------------------- writing
def write_ledger(path: Path, rows: pd.DataFrame, excluded: pd.DataFrame,
                 meta: dict[str, Any], *, append: bool,
                 counts: tuple[int, int] | None = None, salt: str | None = None) -> None:
    """Write (or append ``rows`` and ``excluded`` to) the ledger and its sidecars as one unit.

    All new versions are written to temporary files beside their targets and committed
    together through ``<ledger>.journal`` (see the module docstring); existing CSV lines are
    kept byte for byte. The meta file gets the integrity record of the other two. Call under
    :func:`ledger_lock` after :func:`recover`. ``counts`` are the rows already in the ledger and
    the excluded list (read from the files when not given). With ``salt`` the record is sealed:
    an HMAC-SHA256 keyed by the salt over the design and the record, so that a record edited
    to match an edited ledger is found too (by whoever holds the salt).

    Raises:
        LedgerError: An existing file cannot be appended to (other columns), or the files
            cannot be written (naming the file); nothing is changed then.
    """
    meta_path, excl_path = sidecars(path)
    csv = path.suffix.lower() != ".parquet"
    if counts is None:
        counts = ((len(_read_rows(path)) if append and path.exists() else 0),
                  (len(pd.read_csv(excl_path, dtype=str)) if append and excl_path.exists()
                   else 0))
    n_rows, n_excl = counts[0] + len(rows), counts[1] + len(excluded)
    excl_data = _csv_bytes(excl_path, excluded, [schema.CUSTOMER_ID, REASON],
                           append=append and excl_path.exists())
    data = (_csv_bytes(path, _csv_ready(rows), list(schema.ASSIGNMENTS.names), append=append)
            if csv else None)
    try:
        with files_together(journal_file(path)) as fs:
            if data is not None:
                if not (append and data == path.read_bytes()):
                    _stage(fs, path, data)
                ledger_rec = _file_record(data, n_rows, lines=True)
            elif append and not len(rows):
                size, digest = sha256_file(path)
                ledger_rec = {"rows": n_rows, "bytes": size, "sha256": digest}
            else:
                table = (pd.concat([pd.read_parquet(path), rows], ignore_index=True)
                         if append else rows)
                tmp = _stage(fs, path)
                try:
                    table.to_parquet(tmp, index=False)
                except OSError as exc:
                    raise _unwritten(path, exc) from exc
                size, digest = sha256_file(tmp)
                ledger_rec = {"rows": n_rows, "bytes": size, "sha256": digest}
            if not (append and excl_path.exists() and excl_data == excl_path.read_bytes()):
                _stage(fs, excl_path, excl_data)
            record = {"format": INTEGRITY_FORMAT, "ledger": ledger_rec,
                      "excluded": _file_record(excl_data, n_excl, lines=True)}
            if salt is not None:
                record["hmac_sha256"] = _seal(salt, meta, record)
            _stage(fs, meta_path, (json.dumps({**meta, "integrity": record}, indent=2,
                                              sort_keys=True) + "\n").encode())
    except CommitInterruptedError as exc:
        raise LedgerError(f"{path.name}: the update was committed but not completed "
                          f"({exc.strerror}); the next run completes it") from exc
    except OSError as exc:
        raise LedgerError(f"{path.name}: the update cannot be committed "
                          f"({exc.strerror or exc}); the ledger and its sidecars are "
                          "unchanged") from exc


def _unwritten(target: Path, exc: OSError) -> LedgerError:
    return LedgerError(f"{target.name}: cannot be written ({exc.strerror or exc}); the ledger "
                       "and its sidecars are unchanged")


def _stage(fs: Any, target: Path, data: bytes | None = None) -> Path:
    try:
        return Path(fs.stage(target, data))
    except OSError as exc:
        raise _unwritten(target, exc) from exc


def _csv_bytes(path: Path, df: pd.DataFrame, columns: list[str], *, append: bool) -> bytes:
    """The CSV file's new bytes: its exact old bytes (plus a final newline an editor dropped)
    followed by ``df``'s rows, or ``df`` with a header when not appending."""
    if not append:
        return df[columns].to_csv(index=False, lineterminator="\n").encode()
    old = path.read_bytes()
    if not len(df):
        return old
    if old and not old.endswith(b"\n"):
        old += b"\n"
    try:
        header = pd.read_csv(path, nrows=0).columns.tolist()
    except (ValueError, UnicodeDecodeError) as exc:
        raise LedgerError(f"{path.name}: cannot be read to append to it ({exc})") from exc
    if sorted(header) != sorted(columns):
        extra = sorted(set(header) - set(columns))
        lost = sorted(set(columns) - set(header))
        raise LedgerError(f"{path.name}: cannot append: its columns are not "
                          f"{', '.join(columns)} ("
                          + "; ".join(x for x in (f"extra {', '.join(extra)}" if extra else "",
                                                   f"missing {', '.join(lost)}" if lost else "")
                                      if x) + "); nothing was written")
    return old + df[header].to_csv(index=False, header=False, lineterminator="\n").encode()


def _csv_ready(rows: pd.DataFrame) -> pd.DataFrame:
    """Assignments with ``assigned_at`` as the ISO 8601 text write_table gives (formatted once
    per distinct time: a run's rows share one)."""
    out = rows.copy()
    codes, uniques = pd.factorize(out[schema.ASSIGNED_AT])
    text = pd.Series(uniques).dt.strftime("%Y-%m-%dT%H:%M:%S%z").str.replace(
        r"([+-]\d{2})(\d{2})$", r"\1:\2", regex=True).to_numpy(dtype=object)
    out[schema.ASSIGNED_AT] = pd.Series(text[codes] if len(text) else [], dtype="string",
                                        index=out.index)
    return out


def atomic_text(path: Path, text: str | bytes) -> None:
    write_bytes_atomic(path, text.encode() if isinstance(text, str) else text)


def atomic_csv(path: Path, df: pd.DataFrame, *, header: bool) -> None:
    atomic_text(path, df.to_csv(index=False, header=header, lineterminator="\n"))
