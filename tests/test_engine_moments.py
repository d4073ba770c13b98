"""Per-arm sufficient statistics in the engine (frt_experiments.engine.moments) equal
metrics.arm_statistics: on DuckDB and PostgreSQL, on simulated trials and on columns whose mean
is large against their spread (where raw sums of squares lose precision)."""

from __future__ import annotations

import ibis
import numpy as np
import pandas as pd
import pytest

from frt_experiments import schema
from frt_experiments.engine import IBIS_PANDAS_WARNING
from frt_experiments.engine.moments import arm_statistics as engine_statistics
from frt_experiments.engine.rows import customer_rows as engine_rows
from frt_experiments.metrics import arm_statistics, customer_rows
from frt_experiments.simulate import simulate

pytestmark = pytest.mark.filterwarnings(f"ignore:{IBIS_PANDAS_WARNING}")
ARMS = (schema.CONTROL_ARM, schema.TREATMENT_ARM)


def _same(got, want):
    for arm in want:
        g, w = got[arm], want[arm]
        assert g.n == w.n
        assert g.columns == w.columns
        np.testing.assert_allclose(g.sums, w.sums, rtol=1e-12, atol=0)
        # each entry to 1e-9 of its scale sqrt(cross_ii cross_jj), where a column's spread
        # counts at least what rounding its values (unit roundoff 1.1e-16 at |mean|) can give:
        # a constant column's cross-products are zero up to that rounding on both paths
        spread = np.sqrt(np.diag(w.cross)) + np.sqrt(w.n) * 1.1e-16 * np.abs(w.mean)
        scale = np.outer(spread, spread)
        off = np.abs(g.cross - w.cross) <= 1e-9 * scale
        assert off.all(), (np.argwhere(~off), g.cross[~off], w.cross[~off])


def test_simulated_trial_on_duckdb(tmp_path):
    trial = simulate("published", customers=4_000, rng=21)
    rows = customer_rows(trial.customers, trial.conversations, trial.assignments)
    columns = [c for c in rows.columns if c != schema.ARM]
    want = arm_statistics(rows, columns=columns, arms=list(ARMS))
    con = ibis.duckdb.connect()
    t = {}
    for name, df in trial.to_pandas().items():
        df.to_parquet(tmp_path / f"{name}.parquet")
        t[name] = con.read_parquet(tmp_path / f"{name}.parquet")
    e = engine_rows(t["customers"], t["conversations"], t["assignments"])
    _same(engine_statistics(e, columns, ARMS), want)


def test_large_means_small_spreads_keep_precision():
    rng = np.random.default_rng(5)
    n = 50_000
    df = pd.DataFrame({"arm": rng.choice(["fast", "slow", "other"], n),
                       "x": 1e9 + rng.normal(0, 1, n), "y": rng.normal(0, 1, n),
                       "z": np.zeros(n)})
    df["w"] = 1e9 - df["x"] + rng.normal(0, 1e-3, n)  # nearly -x: covariance near -var
    want = arm_statistics(df, columns=["x", "y", "z", "w"], arms=["fast", "slow", "none"])
    got = engine_statistics(ibis.memtable(df), ["x", "y", "z", "w"], ["fast", "slow", "none"])
    assert got["none"].n == 0
    _same({a: got[a] for a in ("fast", "slow")}, {a: want[a] for a in ("fast", "slow")})


def test_missing_values_and_columns_are_refused():
    df = pd.DataFrame({"arm": ["fast", "fast", "slow"], "x": [1.0, None, 2.0]})
    with pytest.raises(ValueError, match="column x has missing values"):
        engine_statistics(ibis.memtable(df), ["x"], ["fast", "slow"])
    with pytest.raises(ValueError, match="missing column"):
        engine_statistics(ibis.memtable(df), ["nope"], ["fast"])


def test_simulated_trial_on_postgresql(postgres_url, psycopg_module):
    trial = simulate("harsh", customers=2_000, rng=22)
    rows = customer_rows(trial.customers, trial.conversations, trial.assignments)
    columns = [c for c in rows.columns if c != schema.ARM]
    want = arm_statistics(rows, columns=columns, arms=list(ARMS))
    con = ibis.connect(postgres_url)
    try:
        t = {k: con.create_table(f"frt_engine_moments_{k}", v, overwrite=True)
             for k, v in trial.to_pandas().items()}
        e = engine_rows(t["customers"], t["conversations"], t["assignments"])
        _same(engine_statistics(e, columns, ARMS), want)
    finally:
        con.disconnect()
