"""The assignment ledger on disk: the assignments table and its two sidecar files.

- ``<ledger>`` (CSV or Parquet) -- the canonical assignments table. A re-run appends: the old
  CSV bytes are copied unchanged and the new rows written after them (Parquet is rewritten with
  the old rows first).
- ``<ledger>.excluded.csv`` -- ``customer_id, reason`` of customers screened out, so that a
  customer judged ineligible stays out when their data change.
- ``<ledger>.meta.json`` -- the design record: experiment, SHA-256 fingerprint of the salt (not
  the salt), arms, weights (as shares) and the eligibility rule with the spend ceiling it fixed.

Every file is written to a temporary file in the same directory and renamed into place.
:func:`frt_experiments.assignment.assign` is the user-facing entry point.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from frt_experiments import schema
from frt_experiments._atomic import write_bytes_atomic
from frt_experiments.errors import DataError, LedgerError
from frt_experiments.plan import allocation_problems

__all__ = ["META_FORMAT", "REASON", "atomic_csv", "atomic_text", "design_record",
           "read_design_weights", "read_ledger", "sidecars", "write_ledger"]

#: Version of the meta file layout.
META_FORMAT = 1
#: Column of the excluded-customers file giving why a customer was screened out.
REASON = "reason"


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
        stored = json.loads(meta_path.read_text(encoding="utf-8"))
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


def read_ledger(path: Path, meta: dict[str, Any]
                ) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any] | None] | None:
    """The existing ledger, its screened-out customers and its stored design record.

    Returns ``None`` when there is no ledger yet. The stored record (``None`` when the meta
    file is missing: the caller then checks the rows themselves) must match ``meta``.

    Raises:
        LedgerError: Another experiment, rows without buckets, or a changed design.
        DataError: The ledger file breaks the assignments table's rules.
    """
    meta_path, excl_path = sidecars(path)
    if not path.exists():
        return None
    rows = _read_rows(path)
    name = path.name
    other = sorted(set(rows[schema.EXPERIMENT].dropna()) - {meta["experiment"]})
    if other:
        raise LedgerError(f"{name}: holds experiment {other[0]!r}, not "
                          f"{meta['experiment']!r}; keep one ledger per experiment")
    if rows[schema.BUCKET].isna().any():
        raise LedgerError(f"{name}: has rows without a bucket (a stratified assignment?); "
                          "a hashed assignment cannot extend it")
    if meta_path.exists():
        try:
            stored = json.loads(meta_path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise LedgerError(f"{meta_path.name}: cannot be read ({exc})") from exc
        _compare(meta_path.name, stored, meta)
    else:
        stored = None
    if excl_path.exists():
        excluded = pd.read_csv(excl_path, dtype="string", keep_default_na=False)
    else:
        excluded = pd.DataFrame({schema.CUSTOMER_ID: pd.Series([], dtype="string"),
                                 REASON: pd.Series([], dtype="string")})
    return rows, excluded, stored


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


def _compare(name: str, stored: dict[str, Any], meta: dict[str, Any]) -> None:
    if stored.get("salt_sha256") != meta["salt_sha256"]:
        raise LedgerError(f"{name}: the salt differs from the one the ledger was made with; "
                          "changing it would re-shuffle assigned customers (use a new ledger "
                          "for a new experiment)")
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


def write_ledger(path: Path, rows: pd.DataFrame, excluded: pd.DataFrame,
                 meta: dict[str, Any], *, append: bool) -> None:
    """Write (or append ``rows`` and ``excluded`` to) the ledger and its sidecars, atomically
    file by file; existing CSV lines are kept byte for byte."""
    meta_path, excl_path = sidecars(path)
    atomic_text(meta_path, json.dumps(meta, indent=2, sort_keys=True) + "\n")
    if not append or not excl_path.exists():
        atomic_csv(excl_path, excluded, header=True)
    elif len(excluded):
        _append_csv(excl_path, excluded)
    if not append:
        if path.suffix.lower() == ".parquet":
            schema.write_table(rows, path)
        else:
            atomic_csv(path, _csv_ready(rows), header=True)
    elif len(rows):
        if path.suffix.lower() == ".parquet":
            old = pd.read_parquet(path)
            schema.write_table(pd.concat([old, rows], ignore_index=True), path)
        else:
            _append_csv(path, _csv_ready(rows))


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


def _append_csv(path: Path, df: pd.DataFrame) -> None:
    """Rewrite ``path`` atomically as its exact old bytes followed by ``df``'s rows."""
    old = path.read_bytes()
    if old and not old.endswith(b"\n"):
        old += b"\n"
    header = pd.read_csv(path, nrows=0).columns.tolist()
    new = df[header].to_csv(index=False, header=False, lineterminator="\n").encode()
    atomic_text(path, old + new)
