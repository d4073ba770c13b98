"""The engine on Spark in local mode (``spark_connection``, tests/conftest.py): per-customer rows
and the analysis, per-arm moments, and business time equal the in-memory numbers, as
tests/test_engine_rows.py, test_engine_moments.py and test_engine_business_time.py check them on
DuckDB and PostgreSQL (their comparisons are imported from there).

Spark's differences met here: it reads no nanosecond Parquet timestamps (the files are written
in microseconds); its ``TIMESTAMP`` and ``TIMESTAMP_NTZ`` both reach Ibis without a zone (as UTC
wall clocks: ``engine.connect`` sets the session zone); PySpark converts timestamps through the
local zone of the Python process unless Arrow carries them (``engine.connect`` turns Arrow on;
the business-time test runs with this process in New York's zone, whose autumn fold shifted an
instant by an hour without Arrow); ``VAR_SAMP`` of one row is null. Small tables: a Spark query
costs about a second whatever its size.
"""

from __future__ import annotations

import os
import time
import warnings

import numpy as np
import pandas as pd
import pytest
from test_engine_business_time import CALENDARS, _instants
from test_engine_moments import _same as same_statistics
from test_engine_rows import _same as same_rows

from frt_experiments import schema
from frt_experiments.analysis import analyze_rows
from frt_experiments.engine import IBIS_PANDAS_WARNING
from frt_experiments.engine.business_time import (
    business_clock,
    business_deadline,
    business_seconds,
    step_table,
)
from frt_experiments.engine.moments import arm_statistics as engine_statistics
from frt_experiments.engine.rows import customer_rows as engine_rows
from frt_experiments.engine.rows import fetch_rows
from frt_experiments.metrics import arm_statistics, customer_rows
from frt_experiments.simulate import simulate

pytestmark = pytest.mark.filterwarnings(f"ignore:{IBIS_PANDAS_WARNING}")
ARMS = (schema.CONTROL_ARM, schema.TREATMENT_ARM)


def _to_parquet(df: pd.DataFrame, path) -> None:
    # Spark reads no TIMESTAMP(NANOS) Parquet columns (pandas' default); microseconds lose
    # nothing here (the writer refuses to truncate)
    df.to_parquet(path, coerce_timestamps="us", allow_truncated_timestamps=False)


@pytest.fixture(scope="module")
def trial(spark_connection, tmp_path_factory):
    """``engine.rows.customer_rows`` of a simulated trial's Parquet files read by Spark (the
    assignments' instants written as naive UTC wall clocks, which Spark reads as
    ``TIMESTAMP_NTZ``), and ``metrics.customer_rows`` of the trial."""
    trial = simulate("harsh", customers=2_000, rng=11)
    d = tmp_path_factory.mktemp("spark-trial")
    frames = trial.to_pandas()
    frames["assignments"] = frames["assignments"].assign(
        **{schema.ASSIGNED_AT: frames["assignments"][schema.ASSIGNED_AT].dt.tz_localize(None)})
    tables = {}
    for name, df in frames.items():
        _to_parquet(df, d / f"{name}.parquet")
        tables[name] = spark_connection.read_parquet(d / f"{name}.parquet")
    assert tables["assignments"][schema.ASSIGNED_AT].type().timezone is None
    ref = customer_rows(trial.customers, trial.conversations, trial.assignments)
    rows = engine_rows(tables["customers"], tables["conversations"], tables["assignments"])
    return rows, ref


def test_rows_and_results_equal_the_pandas_path(trial):
    rows, ref = trial
    got = fetch_rows(rows)
    same_rows(ref, got)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # small-trial warnings, the same on both paths
        a = analyze_rows(ref.sort_index()).to_pandas()
        b = analyze_rows(got).to_pandas()
    num = a.select_dtypes("number").columns
    np.testing.assert_allclose(b[num].to_numpy(float), a[num].to_numpy(float), rtol=1e-9,
                               atol=1e-12)
    assert (a["method"] == b["method"]).all()


def test_arm_statistics_equal_the_pandas_path(trial):
    rows, ref = trial
    columns = [c for c in ref.columns if c != schema.ARM]
    want = arm_statistics(ref, columns=columns, arms=list(ARMS))
    same_statistics(engine_statistics(rows, columns, ARMS), want)


def test_large_means_small_spreads_and_an_arm_of_one_row(spark_connection):
    rng = np.random.default_rng(5)
    n = 20_000
    df = pd.DataFrame({"arm": rng.choice(["fast", "slow", "other"], n),
                       "x": 1e9 + rng.normal(0, 1, n), "y": rng.normal(0, 1, n),
                       "z": np.zeros(n)})
    df["w"] = 1e9 - df["x"] + rng.normal(0, 1e-3, n)  # nearly -x: covariance near -var
    df.loc[0, "arm"] = "alone"  # VAR_SAMP and COVAR_SAMP of one row are null
    columns, arms = ["x", "y", "z", "w"], ["fast", "slow", "alone", "none"]
    want = arm_statistics(df, columns=columns, arms=arms)
    t = spark_connection.create_table("frt_engine_moments", df, overwrite=True)
    got = engine_statistics(t, columns, arms)
    assert got["none"].n == 0
    assert got["alone"].n == 1
    assert not got["alone"].cross.any()
    same_statistics({a: got[a] for a in ("fast", "slow", "alone")},
                    {a: want[a] for a in ("fast", "slow", "alone")})


@pytest.fixture
def local_zone_new_york():
    """This process in New York's zone (PySpark without Arrow converts through it)."""
    before = os.environ.get("TZ")
    os.environ["TZ"] = "America/New_York"
    time.tzset()
    try:
        yield
    finally:
        if before is None:
            del os.environ["TZ"]
        else:
            os.environ["TZ"] = before
        time.tzset()


@pytest.mark.usefixtures("local_zone_new_york")
@pytest.mark.parametrize("name", sorted(CALENDARS))
def test_business_time_equals_the_calendar(spark_connection, name):
    cal = CALENDARS[name]
    a, b = _instants(np.random.default_rng(sorted(CALENDARS).index(name) + 40), 3_000)
    n = len(a)
    df = pd.DataFrame({"id": np.arange(n), "created_at": pd.to_datetime(a, unit="s", utc=True),
                       "first_response_at": pd.to_datetime(b, unit="s", utc=True)})
    df.loc[5::11, "first_response_at"] = pd.NaT
    t = spark_connection.create_table("frt_engine_business_time", df, overwrite=True)
    reach = pd.Timedelta(hours=7, minutes=59, seconds=59)
    steps = step_table(cal, t, "created_at", "first_response_at", reach=reach)
    e = business_seconds(t, "created_at", "first_response_at", steps, "frt_s")
    e = business_deadline(e, "created_at", int(reach.total_seconds()), steps, "due_at")
    e = business_clock(e, "created_at", steps, "clock_s")
    out = spark_connection.execute(e).sort_values("id").reset_index(drop=True)

    want = cal.business_duration(df["created_at"], df["first_response_at"])
    got = out["frt_s"].to_numpy(dtype=float, na_value=np.nan)
    np.testing.assert_array_equal(got, (want / pd.Timedelta(seconds=1)).to_numpy())
    assert np.isnan(got[5::11]).all()
    due = cal.add_business_time(df["created_at"], reach)
    assert (pd.to_datetime(out["due_at"], utc=True) == due).all()
    clock = out["clock_s"].to_numpy(dtype=np.int64)
    first = df["created_at"].iloc[[0]].repeat(n).reset_index(drop=True)
    ref = cal.business_duration(first, df["created_at"]) // pd.Timedelta(seconds=1)
    np.testing.assert_array_equal(clock - clock[0], ref.to_numpy())


def test_tables_as_frt_simulate_writes_them(spark_connection, tmp_path):
    # frt simulate's Parquet holds timestamps as ISO 8601 text: Spark casts them
    trial = simulate("published", customers=1_000, rng=13)
    trial.write(tmp_path, format="parquet")
    t = {n: spark_connection.read_parquet(tmp_path / f"{n}.parquet")
         for n in ("customers", "conversations", "assignments")}
    assert t["conversations"]["created_at"].type().is_string()
    got = fetch_rows(engine_rows(t["customers"], t["conversations"], t["assignments"]))
    same_rows(customer_rows(trial.customers, trial.conversations, trial.assignments), got)
