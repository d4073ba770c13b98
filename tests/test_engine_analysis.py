"""frt.analyze on tables of an engine (Ibis tables) equals the in-memory analysis: the results
table, the diagnostics and the FRT attainment, on DuckDB (over Parquet files) and PostgreSQL;
CUPED on and off, small trials (randomization tests), three arms, both calendar-day deadline
rules, unanswered and pending conversations."""

from __future__ import annotations

import datetime as dt
import warnings

import ibis
import numpy as np
import pandas as pd
import pytest
from test_engine_rows import _on_duckdb  # the tables as Parquet files read by DuckDB

import frt_experiments as frt
from frt_experiments import schema
from frt_experiments.calendar import BusinessCalendar
from frt_experiments.diagnostics import diagnose
from frt_experiments.engine import IBIS_PANDAS_WARNING
from frt_experiments.engine.diagnostics import diagnose as engine_diagnose
from frt_experiments.errors import DataWarning
from frt_experiments.policy import FrtPolicy
from frt_experiments.simulate import simulate

pytestmark = pytest.mark.filterwarnings(f"ignore:{IBIS_PANDAS_WARNING}")


def _numbers_equal(a: pd.DataFrame, b: pd.DataFrame) -> None:
    assert list(a.columns) == list(b.columns)
    num = a.select_dtypes("number").columns
    np.testing.assert_allclose(b[num].to_numpy(float), a[num].to_numpy(float), rtol=1e-9,
                               atol=1e-12)
    other = [c for c in a.columns if c not in num]
    assert a[other].astype(str).equals(b[other].astype(str))


def _same_result(a, b) -> None:
    _numbers_equal(a.to_pandas(), b.to_pandas())
    _numbers_equal(a.holm, b.holm)
    assert a.window_end == b.window_end
    assert a.skipped == b.skipped
    _numbers_equal(a.decisions, b.decisions)
    if a.diagnostics is not None:
        _same_diagnostics(a.diagnostics, b.diagnostics)


def _same_diagnostics(a, b) -> None:
    for attr in ("counts", "response_rates", "frt", "balance"):
        x, y = getattr(a, attr), getattr(b, attr)
        if x.empty:
            assert y.empty
            continue
        _numbers_equal(x, y)
    assert a.srm == b.srm
    assert a.treatment_delivered == b.treatment_delivered
    assert a.control_target_business_hours == b.control_target_business_hours
    assert a.warnings == b.warnings


def _both(tables, engine_tables, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # small-trial and diagnostic warnings, checked equal
        a = frt.analyze(tables["customers"], tables["conversations"], tables["assignments"],
                        **kw)
        b = frt.analyze(engine_tables["customers"], engine_tables["conversations"],
                        engine_tables["assignments"], **kw)
    return a, b


@pytest.mark.parametrize(("scenario", "customers", "seed"),
                         [("published", 3_000, 4), ("harsh", 300, 5), ("aa", 1_500, 6)])
def test_analyze_on_duckdb_equals_the_in_memory_analysis(tmp_path, scenario, customers, seed):
    trial = simulate(scenario, customers=customers, rng=seed)
    tables = trial.to_pandas()
    t = _on_duckdb(tmp_path, tables)
    for cuped in (True, False):
        a, b = _both(tables, t, cuped=cuped, csat_margin=-0.02, nrr_margin=0.01)
        _same_result(a, b)
    if customers < 1_000:  # a small trial: some metrics go to randomization tests
        assert any("randomization" in m for m in a.to_pandas()["method"])


def test_three_arms_pending_conversations_and_a_window_end(tmp_path):
    trial = simulate("published", customers=2_000, rng=21)
    tables = trial.to_pandas()
    asg = tables["assignments"].copy()
    slow = asg.index[asg[schema.ARM] == "one_business_day"][::3]
    asg.loc[slow, schema.ARM] = "two_business_days"
    conv = tables["conversations"].copy()
    conv.loc[conv.index[::7], schema.FIRST_RESPONSE_AT] = pd.NaT  # unanswered
    end = conv[schema.CREATED_AT].quantile(0.8)  # later conversations still pending
    tables |= {"assignments": asg, "conversations": conv}
    t = _on_duckdb(tmp_path, tables)
    weights = {"fast": 0.5, "one_business_day": 1 / 3, "two_business_days": 1 / 6}
    a, b = _both(tables, t, weights=weights, window_end=end)
    _same_result(a, b)
    assert list(b.diagnostics.counts[schema.ARM]) == ["fast", "one_business_day",
                                                      "two_business_days"]
    assert (b.diagnostics.frt["n_pending"] > 0).all()
    # without weights the third arm is named in a warning, the same on both paths
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        frt.analyze(t["customers"], t["conversations"], t["assignments"], diagnostics=False)
    assert any(issubclass(w.category, DataWarning) and "'two_business_days'" in str(w.message)
               for w in seen)


@pytest.mark.parametrize(("rule", "days"), [("next_business_day", 1),
                                            ("end_of_next_business_day", 1),
                                            ("next_business_day", 2),
                                            ("end_of_next_business_day", 3)])
def test_attainment_on_a_calendar_with_breaks_dst_and_holidays(tmp_path, rule, days):
    # Berlin with a lunch break and German holidays, over the spring DST change
    trial = simulate("published", customers=1_500, rng=31)
    tables = trial.to_pandas()
    conv = tables["conversations"].copy()
    shift = pd.Timestamp("2025-03-20T00:00:00Z") - conv[schema.CREATED_AT].min()
    for c in (schema.CREATED_AT, schema.FIRST_RESPONSE_AT):
        conv[c] = conv[c] + shift
    conv.loc[conv.index[::5], schema.FIRST_RESPONSE_AT] = pd.NaT
    cal = BusinessCalendar("Europe/Berlin", hours="Mon-Fri 09:00-12:00,13:00-17:00",
                           holidays="DE")
    policies = {"fast": FrtPolicy("fast", cal, target=dt.timedelta(hours=3, minutes=30)),
                "one_business_day": FrtPolicy("one_business_day", cal, rule=rule, days=days)}
    as_of = conv[schema.CREATED_AT].quantile(0.9)
    tables["conversations"] = conv
    t = _on_duckdb(tmp_path, tables)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a = diagnose(tables["customers"], conv, tables["assignments"], calendar=cal,
                     policies=policies, as_of=as_of)
        b = engine_diagnose(t["customers"], t["conversations"], t["assignments"], calendar=cal,
                            policies=policies, as_of=as_of)
    _same_diagnostics(a, b)
    assert (b.frt["n_pending"] > 0).all()


def _unanswered_arm(seed: int) -> dict:
    """A trial whose one_business_day customers were never answered (their FRT quantiles are
    missing), with some of the fast arm's conversations unanswered too."""
    tables = simulate("published", customers=1_200, rng=seed).to_pandas()
    conv = tables["conversations"].copy()
    slow = tables["assignments"].loc[tables["assignments"][schema.ARM] == "one_business_day",
                                     schema.CUSTOMER_ID]
    conv.loc[conv[schema.CUSTOMER_ID].isin(slow), schema.FIRST_RESPONSE_AT] = pd.NaT
    conv.loc[conv.index[::7], schema.FIRST_RESPONSE_AT] = pd.NaT
    tables["conversations"] = conv
    return tables


@pytest.mark.parametrize("exact", [True, False])
def test_quantiles_in_one_query_or_from_distributions_and_an_arm_never_answered(
        tmp_path, monkeypatch, exact):
    """The attainment's quantiles from the engine's exact percentiles in one query, or (on
    engines without them in Ibis) from each arm's distribution: both equal the in-memory
    figures, and an arm with no answered conversation has missing quantiles, not an error."""
    import frt_experiments.engine.diagnostics as ed

    if not exact:
        monkeypatch.setattr(ed, "EXACT_QUANTILE_ENGINES", ())
    tables = _unanswered_arm(83)
    t = _on_duckdb(tmp_path, tables)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a = diagnose(tables["customers"], tables["conversations"], tables["assignments"])
        b = engine_diagnose(t["customers"], t["conversations"], t["assignments"])
    _same_diagnostics(a, b)
    frt_table = b.frt.set_index(schema.ARM)
    assert frt_table.loc["one_business_day", "n_responded"] == 0
    assert np.isnan(frt_table.loc["one_business_day", "median_business_hours"])
    assert frt_table.loc["fast", "median_business_hours"] > 0


def test_pandas_tables_beside_engine_tables_and_tables_of_two_engines(tmp_path):
    trial = simulate("published", customers=800, rng=41)
    tables = trial.to_pandas()
    t = _on_duckdb(tmp_path, tables)
    mixed = dict(t, assignments=tables["assignments"])
    a, b = _both(tables, mixed, inference="normal")
    _same_result(a, b)
    other = ibis.duckdb.connect().create_table("assignments", tables["assignments"])
    with pytest.raises(ValueError, match="different engines"):
        frt.analyze(t["customers"], t["conversations"], other)
    with pytest.raises(TypeError, match="must be a pandas DataFrame or an Ibis table"):
        frt.analyze(t["customers"], t["conversations"], [1, 2])


@pytest.fixture(scope="module")
def pg(postgres_url, psycopg_module):
    con = ibis.connect(postgres_url)
    yield con
    con.disconnect()


def test_analyze_on_postgresql_equals_the_in_memory_analysis(pg):
    trial = simulate("harsh", customers=2_000, rng=51)
    tables = trial.to_pandas()
    t = {k: pg.create_table(f"frt_engine_analysis_{k}", v, overwrite=True)
         for k, v in tables.items()}
    for cuped in (True, False):
        a, b = _both(tables, t, cuped=cuped)
        _same_result(a, b)


def test_an_arm_never_answered_on_postgresql(pg):
    tables = _unanswered_arm(89)
    t = {k: pg.create_table(f"frt_engine_unanswered_{k}", v, overwrite=True)
         for k, v in tables.items()}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a = diagnose(tables["customers"], tables["conversations"], tables["assignments"])
        b = engine_diagnose(t["customers"], t["conversations"], t["assignments"])
    _same_diagnostics(a, b)
    assert np.isnan(b.frt.set_index(schema.ARM).loc["one_business_day", "p90_calendar_hours"])


def test_analyze_on_spark_equals_the_in_memory_analysis(spark_connection, tmp_path):
    trial = simulate("published", customers=1_500, rng=61)
    tables = trial.to_pandas()
    t = {}
    for name, df in tables.items():
        # Spark reads no nanosecond Parquet timestamps (pandas' default)
        df.to_parquet(tmp_path / f"{name}.parquet", coerce_timestamps="us",
                      allow_truncated_timestamps=False)
        t[name] = spark_connection.read_parquet(tmp_path / f"{name}.parquet")
    a, b = _both(tables, t, csat_margin=-0.02)
    _same_result(a, b)


def test_engine_path_refuses_and_reads_what_the_in_memory_path_does(tmp_path):
    trial = simulate("published", customers=600, rng=71)
    tables = trial.to_pandas()
    t = _on_duckdb(tmp_path, tables)
    # a window ending before every assignment: refused on both paths
    early = tables["assignments"][schema.ASSIGNED_AT].min() - pd.Timedelta(days=1)
    for source in (tables, t):
        with pytest.raises(ValueError, match="is before every assignment"):
            frt.analyze(source["customers"], source["conversations"], source["assignments"],
                        window_end=early, diagnostics=False)
    # integer customer ids in the engine meet text ids of a frame; nanoseconds in a frame
    con = t["customers"]._find_backend()
    ids = {c: i for i, c in enumerate(sorted(tables["customers"][schema.CUSTOMER_ID]))}
    as_int = {n: tables[n].assign(**{schema.CUSTOMER_ID: tables[n][schema.CUSTOMER_ID].map(ids)})
              for n in ("customers", "conversations")}
    engine_int = {n: con.create_table(f"int_{n}", as_int[n]) for n in as_int}
    asg = tables["assignments"].assign(**{
        schema.CUSTOMER_ID: tables["assignments"][schema.CUSTOMER_ID].map(ids).astype(str),
        schema.ASSIGNED_AT: tables["assignments"][schema.ASSIGNED_AT]
        + pd.Timedelta(nanoseconds=7)})
    def tables_there() -> set[str]:  # (Ibis' list_tables warns on DuckDB 1.5)
        return {r[0] for r in con.raw_sql("SELECT table_name FROM duckdb_tables()").fetchall()}

    before = tables_there()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        got = frt.analyze(engine_int["customers"], engine_int["conversations"], asg,
                          inference="normal")
        want = frt.analyze(as_int["customers"].astype({schema.CUSTOMER_ID: str}),
                           as_int["conversations"].astype({schema.CUSTOMER_ID: str}), asg,
                           inference="normal")
    _numbers_equal(want.to_pandas(), got.to_pandas())
    assert tables_there() == before  # the frame's temporary table is gone


def test_diagnostics_on_the_policies_calendar(tmp_path):
    trial = simulate("published", customers=800, rng=72)
    tables = trial.to_pandas()
    t = _on_duckdb(tmp_path, tables)
    tokyo = BusinessCalendar("Asia/Tokyo", hours="Mon-Fri 09:00-18:00", holidays="JP")
    policies = {"fast": FrtPolicy("fast", tokyo, target=dt.timedelta(hours=4)),
                "one_business_day": FrtPolicy("one_business_day", tokyo,
                                              rule="next_business_day")}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a = diagnose(tables["customers"], tables["conversations"], tables["assignments"],
                     policies=policies)
        b = engine_diagnose(t["customers"], t["conversations"], t["assignments"],
                            policies=policies)
    _numbers_equal(a.frt, b.frt)
    mixed = dict(policies, fast=FrtPolicy("fast", BusinessCalendar("UTC", hours="24/7"),
                                          target=dt.timedelta(hours=4)))
    with pytest.raises(ValueError, match="different calendars"):
        engine_diagnose(t["customers"], t["conversations"], t["assignments"], policies=mixed)


def test_an_integer_rating_column_counts_as_its_ratings(tmp_path):
    trial = simulate("published", customers=800, rng=73)
    tables = trial.to_pandas()
    conv = tables["conversations"]
    ints = conv.assign(**{schema.CSAT: pd.to_numeric(conv[schema.CSAT]).astype("Int64")})
    t = _on_duckdb(tmp_path, dict(tables, conversations=ints))
    assert t["conversations"][schema.CSAT].type().is_integer()
    a, b = _both(tables, t)  # checks on: the integer column passes them
    _same_result(a, b)


def test_response_rates_from_the_rows_query_equal_the_diagnostics_own_count(tmp_path):
    """The trial counts summed in the per-customer rows' query (``rows_and_trial_counts``) give
    the diagnostics the same response rates as their own grouping of the conversations and as
    the in-memory diagnostics: conversations before the assignment left out, those after the
    window's end kept (the rows' ``conversations`` leave them out)."""
    from frt_experiments.engine.analysis import rows_and_trial_counts

    trial = simulate("published", customers=1_500, rng=31)
    tables = trial.to_pandas()
    asg = tables["assignments"].copy()
    conv = tables["conversations"]
    later = asg.index[::4]  # a quarter assigned a week later: their first week is pre-period
    asg.loc[later, schema.ASSIGNED_AT] += pd.Timedelta(days=7)
    tables["assignments"] = asg
    end = conv[schema.CREATED_AT].quantile(0.7)
    t = _on_duckdb(tmp_path, tables)
    rows, counts = rows_and_trial_counts(t["customers"], t["conversations"], t["assignments"],
                                         end)
    assert counts is not None
    assert list(rows.columns) == list(frt.customer_rows(
        tables["customers"], tables["conversations"], tables["assignments"],
        window_end=end).columns)
    at = asg.set_index(schema.CUSTOMER_ID)[schema.ASSIGNED_AT]
    during = conv[conv[schema.CREATED_AT] >= conv[schema.CUSTOMER_ID].map(at)]
    expected = during.groupby(schema.CUSTOMER_ID).size().reindex(counts.index, fill_value=0)
    np.testing.assert_array_equal(counts["conversations"].to_numpy(), expected.to_numpy())
    assert (counts["conversations"] > rows["conversations"]).any()  # after the window's end
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = diagnose(tables["customers"], tables["conversations"], tables["assignments"],
                       as_of=end)
        own = engine_diagnose(t["customers"], t["conversations"], t["assignments"], as_of=end)
        given = engine_diagnose(t["customers"], t["conversations"], t["assignments"], as_of=end,
                                trial_counts=counts)
    _same_diagnostics(ref, own)
    _same_diagnostics(ref, given)
