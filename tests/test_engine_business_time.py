"""Business time inside the engine (frt_experiments.engine.business_time): a range join against
the calendar's step table equals BusinessCalendar exactly on whole seconds, across daylight
saving time, holidays and split shifts; the SQL for BigQuery and Snowflake is kept as snapshots.
"""

from __future__ import annotations

import os
from pathlib import Path

import ibis
import numpy as np
import pandas as pd
import pytest

from frt_experiments.calendar import BusinessCalendar
from frt_experiments.engine import IBIS_PANDAS_WARNING
from frt_experiments.engine.business_time import (
    business_clock,
    business_deadline,
    business_seconds,
    step_table,
)

SNAPSHOTS = Path(__file__).resolve().parent / "snapshots"
# Ibis 12 sets a pandas option pandas 3 deprecates (not ours to fix; see engine.execute)
pytestmark = pytest.mark.filterwarnings(f"ignore:{IBIS_PANDAS_WARNING}")

CALENDARS = {
    "new-york-split-us-holidays": BusinessCalendar(
        "America/New_York", "Mon-Fri 09:00-12:00,13:00-17:00", holidays="US"),
    # southern-hemisphere DST, a desk open across the night of the change
    "sydney-late": BusinessCalendar("Australia/Sydney", "Mon-Sun 00:00-03:30; Sat 20:00-24:00"),
    "paris-24-7-closed-dates": BusinessCalendar(
        "Europe/Paris", "24/7", closed_dates=["2025-03-30", "2025-10-26", "2025-12-25"]),
}


def _instants(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    a = rng.integers(1_735_689_600, 1_767_225_600, n)           # 2025, whole seconds
    b = a + rng.integers(-2 * 86_400, 30 * 86_400, n)
    # instants on and around the DST changes and midnights, where off-by-one errors live
    edges = np.array([1_741_503_600, 1_741_503_599, 1_762_063_200, 1_762_066_800,
                      1_743_901_200, 1_759_593_600, 1_743_296_400, 1_761_440_400])
    a[: len(edges)] = edges
    b[: len(edges)] = edges[::-1] + 3_600
    return a, b


@pytest.fixture(scope="module")
def con():
    return ibis.duckdb.connect()


@pytest.mark.parametrize("name", sorted(CALENDARS))
def test_business_seconds_and_deadlines_equal_the_calendar(con, tmp_path, name):
    cal = CALENDARS[name]
    rng = np.random.default_rng(sorted(CALENDARS).index(name))
    n = 20_000
    a, b = _instants(rng, n)
    df = pd.DataFrame({"id": np.arange(n), "created_at": pd.to_datetime(a, unit="s", utc=True),
                       "first_response_at": pd.to_datetime(b, unit="s", utc=True)})
    df.loc[5::11, "first_response_at"] = pd.NaT
    df.to_parquet(tmp_path / "conv.parquet")
    t = con.read_parquet(tmp_path / "conv.parquet")
    reach = pd.Timedelta(hours=7, minutes=59, seconds=59)
    steps = step_table(cal, t, "created_at", "first_response_at", reach=reach)
    e = business_seconds(t, "created_at", "first_response_at", steps, "frt_s")
    e = business_deadline(e, "created_at", int(reach.total_seconds()), steps, "due_at")
    e = business_clock(e, "created_at", steps, "clock_s")
    out = e.execute().sort_values("id").reset_index(drop=True)

    want = cal.business_duration(df["created_at"], df["first_response_at"])
    got = out["frt_s"].to_numpy(dtype=float, na_value=np.nan)
    np.testing.assert_array_equal(got, (want / pd.Timedelta(seconds=1)).to_numpy())
    assert np.isnan(got[5::11]).all()
    due = cal.add_business_time(df["created_at"], reach)
    assert (pd.to_datetime(out["due_at"], utc=True) == due).all()
    # the clock's origin is arbitrary; its differences are business durations
    clock = out["clock_s"].to_numpy(dtype=np.int64)
    first = df["created_at"].iloc[[0]].repeat(n).reset_index(drop=True)
    ref = cal.business_duration(first, df["created_at"]) // pd.Timedelta(seconds=1)
    np.testing.assert_array_equal(clock - clock[0], ref.to_numpy())


def test_fractions_of_a_second_are_dropped(con):
    cal = CALENDARS["paris-24-7-closed-dates"]
    df = pd.DataFrame({"created_at": pd.to_datetime(["2025-01-06T09:00:00.900Z"]),
                       "first_response_at": pd.to_datetime(["2025-01-06T09:00:02.100Z"])})
    t = ibis.memtable(df)
    steps = step_table(cal, start=df["created_at"][0], end=df["first_response_at"][0])
    out = con.execute(business_seconds(t, "created_at", "first_response_at", steps, "s"))
    assert out["s"].tolist() == [2]


def test_the_step_table_is_small_and_covers_its_range():
    cal = CALENDARS["new-york-split-us-holidays"]
    start, end = pd.Timestamp("2025-01-01", tz="UTC"), pd.Timestamp("2025-12-31", tz="UTC")
    steps = cal.step_table(start, end)
    assert len(steps) < 2_000
    assert steps["lo_s"].iloc[0] < start.timestamp()
    assert steps["hi_s"].iloc[-1] > end.timestamp()
    # consecutive ranges tile the line; each interval lies within its range
    assert (steps["hi_s"].to_numpy()[:-1] == steps["lo_s"].to_numpy()[1:]).all()
    assert (steps["open_s"] >= steps["lo_s"]).all()
    assert (steps["close_s"] <= steps["hi_s"]).all()
    assert (np.diff(steps["cum_s"]) == (steps["close_s"] - steps["open_s"]).to_numpy()[:-1]).all()


def test_bad_arguments():
    cal = CALENDARS["new-york-split-us-holidays"]
    with pytest.raises(ValueError, match="time-zone naive"):
        step_table(cal, start="2025-01-01", end="2025-02-01")
    with pytest.raises(ValueError, match="give a table"):
        step_table(cal)
    t = ibis.table({"created_at": "timestamp('UTC')"}, name="conversations")
    steps = ibis.table(dict.fromkeys(("lo_s", "hi_s", "open_s", "close_s", "cum_s", "k"), "int64"),
                       name="steps")
    with pytest.raises(ValueError, match="positive whole number"):
        business_deadline(t, "created_at", 0, steps, "due")


@pytest.mark.parametrize("dialect", ["bigquery", "snowflake", "postgres", "pyspark"])
def test_sql_snapshots(dialect):
    conv = ibis.table({"conversation_id": "string", "created_at": "timestamp('UTC')",
                       "first_response_at": "timestamp('UTC')"}, name="conversations")
    steps = ibis.table(dict.fromkeys(("lo_s", "hi_s", "open_s", "close_s", "cum_s", "k"), "int64"),
                       name="frt_business_steps")
    e = business_seconds(conv, "created_at", "first_response_at", steps, "frt_business_s")
    e = business_deadline(e, "created_at", 4 * 3600, steps, "due_at")
    sql = ibis.to_sql(e, dialect=dialect) + "\n"
    path = SNAPSHOTS / f"business_time.{dialect}.sql"
    if os.environ.get("FRT_UPDATE_SNAPSHOTS") == "1":
        path.parent.mkdir(exist_ok=True)
        path.write_text(sql)
    assert path.exists(), f"no snapshot {path.name}: run with FRT_UPDATE_SNAPSHOTS=1"
    assert sql == path.read_text(), (f"the {dialect} SQL changed; review it and run with "
                                     "FRT_UPDATE_SNAPSHOTS=1 to keep the new text")


def test_business_time_on_postgresql(postgres_url, psycopg_module):
    cal = CALENDARS["new-york-split-us-holidays"]
    a, b = _instants(np.random.default_rng(42), 5_000)
    df = pd.DataFrame({"id": np.arange(len(a)),
                       "created_at": pd.to_datetime(a, unit="s", utc=True),
                       "first_response_at": pd.to_datetime(b, unit="s", utc=True)})
    con = ibis.connect(postgres_url)
    try:
        t = con.create_table("frt_engine_business_time", df, overwrite=True)
        reach = pd.Timedelta(hours=4)
        steps = step_table(cal, t, "created_at", "first_response_at", reach=reach)
        e = business_seconds(t, "created_at", "first_response_at", steps, "frt_s")
        e = business_deadline(e, "created_at", 4 * 3600, steps, "due_at")
        out = con.execute(e).sort_values("id").reset_index(drop=True)
    finally:
        con.disconnect()
    want = cal.business_duration(df["created_at"], df["first_response_at"])
    np.testing.assert_array_equal(out["frt_s"].to_numpy(dtype=np.int64),
                                  (want // pd.Timedelta(seconds=1)).to_numpy())
    assert (pd.to_datetime(out["due_at"], utc=True)
            == cal.add_business_time(df["created_at"], reach)).all()
