"""Per-customer rows in the engine (frt_experiments.engine.rows) equal metrics.customer_rows,
and the analysis of either gives the same table; on DuckDB over Parquet files."""

from __future__ import annotations

import warnings

import ibis
import numpy as np
import pandas as pd
import pytest

from frt_experiments import schema
from frt_experiments.analysis import analyze_rows
from frt_experiments.engine import IBIS_PANDAS_WARNING
from frt_experiments.engine.rows import customer_rows as engine_rows
from frt_experiments.engine.rows import fetch_rows
from frt_experiments.errors import DataError
from frt_experiments.metrics import customer_rows
from frt_experiments.simulate import simulate

pytestmark = pytest.mark.filterwarnings(f"ignore:{IBIS_PANDAS_WARNING}")


def _on_duckdb(tmp_path, tables):
    con = ibis.duckdb.connect()
    out = {}
    for name, df in tables.items():
        df.to_parquet(tmp_path / f"{name}.parquet")
        out[name] = con.read_parquet(tmp_path / f"{name}.parquet")
    return out


def _same(ref: pd.DataFrame, got: pd.DataFrame) -> None:
    assert got.index.is_monotonic_increasing
    got = got.loc[ref.index]
    assert list(got.columns) == list(ref.columns)
    assert (got[schema.ARM] == ref[schema.ARM]).all()
    num = [c for c in ref.columns if c != schema.ARM]
    np.testing.assert_allclose(got[num].to_numpy(float), ref[num].to_numpy(float),
                               rtol=1e-12, atol=0)


@pytest.mark.parametrize(("scenario", "seed"), [("published", 4), ("harsh", 5), ("aa", 6)])
def test_rows_and_results_equal_the_pandas_path(tmp_path, scenario, seed):
    trial = simulate(scenario, customers=3_000, rng=seed)
    t = _on_duckdb(tmp_path, trial.to_pandas())
    ref = customer_rows(trial.customers, trial.conversations, trial.assignments)
    got = fetch_rows(engine_rows(t["customers"], t["conversations"], t["assignments"]))
    _same(ref, got)
    for cuped in (True, False):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # small-trial warnings, the same on both paths
            # the engine orders customers by id; the randomization draws follow that order
            a = analyze_rows(ref.sort_index(), cuped=cuped).to_pandas()
            b = analyze_rows(got, cuped=cuped).to_pandas()
        num = a.select_dtypes("number").columns
        np.testing.assert_allclose(b[num].to_numpy(float), a[num].to_numpy(float),
                                   rtol=1e-9, atol=1e-12)
        assert (a["method"] == b["method"]).all()


def test_window_end_and_tables_without_ratings_or_handle_time(tmp_path):
    trial = simulate("published", customers=1_500, rng=8)
    conv = trial.conversations.drop(columns=[schema.CSAT, schema.CSAT_SCALE,
                                             schema.HANDLE_SECONDS])
    cust = trial.customers.drop(columns=[schema.REVENUE_START, schema.REVENUE_END])
    end = pd.Timestamp("2025-02-01T12:00:00Z")
    t = _on_duckdb(tmp_path, {"customers": cust, "conversations": conv,
                              "assignments": trial.assignments})
    ref = customer_rows(cust, conv, trial.assignments, window_end=end)
    got = fetch_rows(engine_rows(t["customers"], t["conversations"], t["assignments"],
                              window_end=end))
    _same(ref, got)
    assert (got["rated"] == 0).all()


def _five_customers_missing(tmp_path, trial):
    """The trial's tables on DuckDB without its first five customers, and how many
    assignments that leaves without their customer."""
    t = _on_duckdb(tmp_path, {"customers": trial.customers.iloc[5:],
                              "conversations": trial.conversations,
                              "assignments": trial.assignments})
    return t, int(trial.assignments[schema.CUSTOMER_ID].isin(
        trial.customers[schema.CUSTOMER_ID].iloc[:5]).sum())


def test_refusals_name_the_table(tmp_path):
    trial = simulate("published", customers=500, rng=9)
    twice = pd.concat([trial.assignments, trial.assignments.head(3)], ignore_index=True)
    t = _on_duckdb(tmp_path, {"customers": trial.customers.iloc[5:],
                              "conversations": trial.conversations, "assignments": twice})
    with pytest.raises(DataError, match="3 rows are assigning a customer already assigned"):
        engine_rows(t["customers"], t["conversations"], t["assignments"])
    t, lost = _five_customers_missing(tmp_path, trial)
    assert lost > 0
    with pytest.raises(DataError, match=f"{lost} rows? (is|are) assigned customers missing"):
        engine_rows(t["customers"], t["conversations"], t["assignments"])
    t = _on_duckdb(tmp_path, {"customers": trial.customers,
                              "conversations": trial.conversations.drop(columns="created_at"),
                              "assignments": trial.assignments})
    with pytest.raises(DataError, match="conversations: missing required column"):
        engine_rows(t["customers"], t["conversations"], t["assignments"])
    with pytest.raises(TypeError, match="must be an Ibis table"):
        engine_rows(trial.customers, t["conversations"], t["assignments"])
    with pytest.raises(ValueError, match="time-zone aware"):
        engine_rows(t["customers"], t["conversations"].mutate(created_at=ibis.now()),
                    t["assignments"], window_end="2025-02-01")


def test_keys_checked_on_the_fetched_rows_name_the_table(tmp_path):
    """``check_keys=False`` (what ``frt.analyze`` runs) leaves the keys' checks to the fetched
    rows, without the two queries before; the refusals say the same things, and
    ``rows_and_trial_counts`` tells an assignment given twice from a customer listed twice."""
    from frt_experiments.engine.analysis import rows_and_trial_counts

    trial = simulate("published", customers=500, rng=9)
    twice = pd.concat([trial.assignments, trial.assignments.head(3)], ignore_index=True)
    t = _on_duckdb(tmp_path, {"customers": trial.customers,
                              "conversations": trial.conversations, "assignments": twice})
    first = sorted(trial.assignments[schema.CUSTOMER_ID].head(3))[0]
    with pytest.raises(DataError, match=r"rows: column customer_id: 3 rows are repeating an "
                                        r"earlier row's customer \(assigned twice, or listed "
                                        rf"twice in customers\) \(customer_ids {first}, "):
        fetch_rows(engine_rows(t["customers"], t["conversations"], t["assignments"],
                               check_keys=False))
    with pytest.raises(DataError, match="3 rows are assigning a customer already assigned"):
        rows_and_trial_counts(t["customers"], t["conversations"], t["assignments"])
    listed = pd.concat([trial.customers, trial.customers.head(2)], ignore_index=True)
    t = _on_duckdb(tmp_path, {"customers": listed, "conversations": trial.conversations,
                              "assignments": trial.assignments})
    with pytest.raises(DataError, match="customers: column customer_id: 2 rows are listing a "
                                        "customer already listed"):
        rows_and_trial_counts(t["customers"], t["conversations"], t["assignments"])
    with pytest.raises(DataError, match="2 rows are listing a customer already listed"):
        engine_rows(t["customers"], t["conversations"], t["assignments"])  # checks before
    t, lost = _five_customers_missing(tmp_path, trial)
    with pytest.raises(DataError, match=f"{lost} rows? (is|are) assigned customers missing "
                                        r"from customers \(customer_ids? \w"):
        rows_and_trial_counts(t["customers"], t["conversations"], t["assignments"])
    t = _on_duckdb(tmp_path, trial.to_pandas())
    rows, counts = rows_and_trial_counts(t["customers"], t["conversations"], t["assignments"])
    _same(customer_rows(trial.customers, trial.conversations, trial.assignments), rows)
    assert counts is not None
    assert schema.MONTHLY_SPEND in counts.columns


def test_assignments_without_a_customer_id_are_named_as_such(tmp_path):
    # an assignment naming no customer is neither a repeat nor a missing customer
    from frt_experiments.engine.analysis import rows_and_trial_counts

    trial = simulate("published", customers=300, rng=3)
    blank = trial.assignments.head(2).assign(**{schema.CUSTOMER_ID: pd.NA})
    a = pd.concat([trial.assignments, blank], ignore_index=True)
    a[schema.CUSTOMER_ID] = a[schema.CUSTOMER_ID].astype("string")
    t = _on_duckdb(tmp_path, {"customers": trial.customers,
                              "conversations": trial.conversations, "assignments": a})
    with pytest.raises(DataError, match=r"^assignments: column customer_id: 2 rows are empty "
                                        r"\(a value is required\)$"):
        rows_and_trial_counts(t["customers"], t["conversations"], t["assignments"])


def test_without_diagnostics_the_rows_read_no_diagnostics_column(tmp_path):
    # monthly_spend feeds the diagnostics' balance table only: unchecked text there does not
    # stop an analysis without diagnostics, which then equals the in-memory one
    import frt_experiments as frt

    trial = simulate("published", customers=1_000, rng=8)
    customers = trial.customers.assign(**{schema.MONTHLY_SPEND: trial.customers[
        schema.MONTHLY_SPEND].astype(str).where(trial.customers.index != 0, "n/a")})
    t = _on_duckdb(tmp_path, {"customers": customers, "conversations": trial.conversations,
                              "assignments": trial.assignments})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # small-trial warnings, the same on both paths
        got = frt.analyze(t["customers"], t["conversations"], t["assignments"],
                          validate=False, diagnostics=False).to_pandas()
        ref = frt.analyze(customers, trial.conversations, trial.assignments, validate=False,
                          diagnostics=False).to_pandas()
    num = ref.select_dtypes("number").columns
    np.testing.assert_allclose(got[num].to_numpy(float), ref[num].to_numpy(float), rtol=1e-9,
                               atol=1e-12)


def test_integer_ids_are_ordered_as_text(tmp_path):
    """Integer customer ids in the engine (a warehouse's) come back in the code point order of
    their text, as the in-memory rows of the same ids as text: DuckDB sorts them as numbers,
    so they are sorted here, and not mistaken for repeated ones."""
    from frt_experiments.engine.analysis import rows_and_trial_counts

    trial = simulate("published", customers=300, rng=19)
    tables = trial.to_pandas()
    ids = {c: i for i, c in enumerate(tables["customers"][schema.CUSTOMER_ID].astype(str))}
    as_int = {n: df.assign(**{schema.CUSTOMER_ID: df[schema.CUSTOMER_ID].astype(str).map(ids)
                              .astype("int64")}) for n, df in tables.items()}
    t = _on_duckdb(tmp_path, as_int)
    assert t["customers"][schema.CUSTOMER_ID].type().is_integer()
    rows, _ = rows_and_trial_counts(t["customers"], t["conversations"], t["assignments"])
    as_text = {n: df.assign(**{schema.CUSTOMER_ID: df[schema.CUSTOMER_ID].astype(str)})
               for n, df in as_int.items()}
    ref = customer_rows(as_text["customers"], as_text["conversations"],
                        as_text["assignments"])
    assert list(rows.index) == sorted(rows.index)
    assert "10" in rows.index  # text order: "10" before "2"
    _same(ref, rows)


def test_rows_keep_code_point_order_under_another_collation(tmp_path):
    """DuckDB sorts the rows; a session whose default collation is not bytewise (``nocase``
    puts ``a`` before ``B``) is caught by the check of the fetched order and sorted here, so
    the order (and the randomization test's draws) stays that of the ids' code points."""
    trial = simulate("published", customers=600, rng=17)
    tables = trial.to_pandas()
    ids = tables["customers"][schema.CUSTOMER_ID].astype(str)
    rename = dict(zip(ids, [(s.upper() if i % 2 else s.lower()) for i, s in enumerate(ids)],
                      strict=True))
    for name in ("customers", "conversations", "assignments"):
        tables[name] = tables[name].assign(**{schema.CUSTOMER_ID: tables[name][
            schema.CUSTOMER_ID].astype(str).map(rename)})
    t = _on_duckdb(tmp_path, tables)
    t["customers"]._find_backend().raw_sql("SET default_collation = 'nocase'")
    got = fetch_rows(engine_rows(t["customers"], t["conversations"], t["assignments"]))
    assert list(got.index) == sorted(got.index)  # Python compares str by code points
    assert list(got.index) != sorted(got.index, key=str.lower)
    _same(customer_rows(tables["customers"], tables["conversations"], tables["assignments"]),
          got)


@pytest.fixture(scope="module")
def pg(postgres_url, psycopg_module):
    con = ibis.connect(postgres_url)
    yield con
    con.disconnect()


def test_rows_on_postgresql_equal_the_pandas_path(pg):
    trial = simulate("harsh", customers=2_000, rng=11)
    t = {k: pg.create_table(f"frt_engine_rows_{k}", v, overwrite=True)
         for k, v in trial.to_pandas().items()}
    ref = customer_rows(trial.customers, trial.conversations, trial.assignments)
    got = fetch_rows(engine_rows(t["customers"], t["conversations"], t["assignments"]))
    _same(ref, got)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a = analyze_rows(ref.sort_index()).to_pandas()
        b = analyze_rows(got).to_pandas()
    num = a.select_dtypes("number").columns
    np.testing.assert_allclose(b[num].to_numpy(float), a[num].to_numpy(float), rtol=1e-9,
                               atol=1e-12)


def test_tables_as_frt_simulate_writes_them(tmp_path):
    # Parquet from frt simulate holds timestamps as ISO 8601 text: cast in the engine
    trial = simulate("published", customers=1_500, rng=13)
    trial.write(tmp_path, format="parquet")
    con = ibis.duckdb.connect()
    t = {n: con.read_parquet(tmp_path / f"{n}.parquet")
         for n in ("customers", "conversations", "assignments")}
    assert t["conversations"]["created_at"].type().is_string()
    got = fetch_rows(engine_rows(t["customers"], t["conversations"], t["assignments"]))
    _same(customer_rows(trial.customers, trial.conversations, trial.assignments), got)
