"""The ledger files: design record, sidecars, byte-preserving appends, refusals."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pandas as pd
import pytest

from frt_experiments import schema
from frt_experiments.errors import LedgerError
from frt_experiments.ledger import (
    REASON,
    design_record,
    read_ledger,
    sidecars,
    write_ledger,
)

RULE = {"max_spend": 100.0, "spend_quantile": None, "include_segments": None,
        "exclude_segments": None, "spend_ceiling": 100.0}


def _rows(ids, experiment="exp", ts="2026-01-05T09:00:00Z"):
    n = len(ids)
    return pd.DataFrame({
        schema.CUSTOMER_ID: pd.Series(ids, dtype="string"),
        schema.EXPERIMENT: pd.Series([experiment] * n, dtype="string"),
        schema.ARM: pd.Series(["fast", "one_business_day"] * (n // 2) + ["fast"] * (n % 2),
                              dtype="string"),
        schema.ASSIGNED_AT: pd.Series(pd.Timestamp(ts), index=range(n)),
        schema.BUCKET: np.linspace(0.1, 0.9, n),
    })


def _excluded(ids):
    return pd.DataFrame({schema.CUSTOMER_ID: ids, REASON: "spend above ceiling"}).astype("string")


def _meta(**change):
    return design_record(change.pop("experiment", "exp"), change.pop("salt", "salt"),
                         ("fast", "one_business_day"), np.array([0.5, 0.5]), dict(RULE))


def test_design_record_fingerprints_the_salt():
    meta = _meta()
    assert meta["salt_sha256"] == hashlib.sha256(b"salt").hexdigest()
    assert "salt" not in json.dumps(meta).replace("salt_sha256", "")
    with pytest.raises(ValueError, match="salt must be a non-empty string"):
        design_record("exp", "", ("a", "b"), np.array([0.5, 0.5]), dict(RULE))


def test_write_then_append_keeps_old_bytes_even_without_final_newline(tmp_path):
    path = tmp_path / "ledger.csv"
    write_ledger(path, _rows(["a", "b"]), _excluded(["z"]), _meta(), append=False)
    meta_path, excl_path = sidecars(path)
    assert meta_path.name == "ledger.csv.meta.json"
    assert excl_path.name == "ledger.csv.excluded.csv"
    # Someone opened the ledger in an editor that dropped the final newline.
    text = path.read_bytes().rstrip(b"\n")
    path.write_bytes(text)
    write_ledger(path, _rows(["c"], ts="2026-02-01T00:00:00Z"), _excluded(["y"]), _meta(),
                 append=True)
    data = path.read_bytes()
    assert data.startswith(text + b"\n")
    assert data.endswith(b"c,exp,fast,2026-02-01T00:00:00+00:00,0.1\n")
    rows, excluded, record = read_ledger(path, _meta())
    assert rows[schema.CUSTOMER_ID].tolist() == ["a", "b", "c"]
    assert excluded[schema.CUSTOMER_ID].tolist() == ["z", "y"]
    assert record is not None
    assert record["eligibility"]["spend_ceiling"] == 100.0


def test_csv_ledger_is_what_write_table_writes(tmp_path):
    rows = _rows(["a", "b", "c"])
    write_ledger(tmp_path / "l.csv", rows, _excluded([]), _meta(), append=False)
    schema.write_table(rows, tmp_path / "w.csv")
    assert (tmp_path / "l.csv").read_bytes() == (tmp_path / "w.csv").read_bytes()


def test_read_ledger_refusals(tmp_path):
    path = tmp_path / "ledger.csv"
    assert read_ledger(path, _meta()) is None
    write_ledger(path, _rows(["a", "b"]), _excluded([]), _meta(), append=False)
    with pytest.raises(LedgerError, match="salt differs"):
        read_ledger(path, _meta(salt="pepper"))
    sidecars(path)[0].write_text("{not json", encoding="utf-8")
    with pytest.raises(LedgerError, match=r"ledger.csv.meta.json: cannot be read"):
        read_ledger(path, _meta())
    sidecars(path)[0].unlink()
    _, _, record = read_ledger(path, _meta())
    assert record is None   # no meta: the caller checks the rows against the salt
    other = tmp_path / "other.csv"
    write_ledger(other, _rows(["a"], experiment="old"), _excluded([]), _meta(), append=False)
    with pytest.raises(LedgerError, match="holds experiment 'old', not 'exp'"):
        read_ledger(other, _meta())
    stratified = _rows(["a", "b"]).assign(**{schema.BUCKET: np.nan})
    schema.write_table(stratified, tmp_path / "strat.csv")
    with pytest.raises(LedgerError, match="rows without a bucket"):
        read_ledger(tmp_path / "strat.csv", _meta())
