"""Assignment: hashed buckets, arms, eligibility, the ledger, tags and the stratified design."""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from frt_experiments import assignment as asg
from frt_experiments import schema
from frt_experiments.assignment import (
    arms_from_buckets,
    assign,
    hash_buckets,
    stratified_assign,
    write_tags,
)
from frt_experiments.errors import (
    DataError,
    FrtWarning,
    LedgerError,
    SampleRatioMismatchWarning,
)

# Test populations are small (hundreds of customers per arm), where |SMD| > 0.1 happens by
# chance; the balance warning itself is tested in test_balance.py.
pytestmark = pytest.mark.filterwarnings("ignore::frt_experiments.errors.BalanceWarning")

T0 = "2026-01-05T09:00:00+00:00"


@contextlib.contextmanager
def _quiet(category: type[Warning] = FrtWarning):
    """Small random populations can trip the SRM and balance checks; not the point there."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category)
        yield


def _reference_bucket(salt: str, cid: str) -> float:
    """The documented formula, straight from hashlib (no numpy)."""
    digest = hashlib.sha256(f"{salt}:{cid}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def _customers(n: int, *, seed: int = 0, prefix: str = "C") -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rated = rng.poisson(2.0, n).astype(float)
    return pd.DataFrame({
        schema.CUSTOMER_ID: [f"{prefix}{i:06d}" for i in range(n)],
        schema.MONTHLY_SPEND: np.round(rng.lognormal(4.0, 1.0, n), 2),
        schema.SEGMENT: rng.choice(["smb", "startup", "partner"], n),
        schema.PRE_CONVERSATIONS: rng.poisson(3.0, n).astype(float),
        schema.PRE_RATED: rated,
        schema.PRE_SATISFIED: rng.binomial(rated.astype(int), 0.8).astype(float),
    })


# ----------------------------------------------------------------------------- buckets
def test_buckets_match_hashlib_for_fixed_ids():
    ids = ["C0000001", "C0000002", "42", "client-é", ""]
    got = hash_buckets(ids, "frt-2026")
    want = [_reference_bucket("frt-2026", i) for i in ids]
    np.testing.assert_array_equal(got, want)
    assert got.dtype == np.float64


def test_bucket_of_integer_id_is_bucket_of_its_text():
    assert hash_buckets([7], "s")[0] == _reference_bucket("s", "7")


def test_buckets_reject_missing_ids_and_non_string_salt():
    with pytest.raises(ValueError, match=r"customer_ids: 1 ids are missing \(positions 1\)"):
        hash_buckets(pd.Series(["a", None]), "s")
    with pytest.raises(TypeError, match="salt must be a string"):
        hash_buckets(["a"], 3)  # type: ignore[arg-type]


def test_million_ids_split_within_binomial_bounds():
    n = 1_000_000
    ids = pd.Series(np.char.add("C", np.arange(n).astype(str)))
    arms = arms_from_buckets(hash_buckets(ids, "million"))
    fast = int(np.count_nonzero(arms == "fast"))
    # Bin(n, 1/2): sd = sqrt(n)/2 = 500; 3.29 sd is the two-sided 99.9% bound.
    assert abs(fast - n / 2) <= 3.29 * math.sqrt(n) / 2


def test_buckets_are_uniform():
    from scipy import stats

    b = hash_buckets([f"id{i}" for i in range(50_000)], "uniform")
    assert stats.kstest(b, "uniform").pvalue > 0.001
    assert b.min() >= 0
    assert b.max() < 1


# ----------------------------------------------------------------------------- arms
def test_arms_by_cumulative_weight():
    b = np.array([0.0, 0.4999999, 0.5, 0.9999999])
    assert arms_from_buckets(b).tolist() == ["fast", "fast", "one_business_day",
                                             "one_business_day"]
    three = arms_from_buckets(np.array([0.1, 0.25, 0.74, 0.75]), arms=("a", "b", "c"),
                              weights=(1, 2, 1))
    assert three.tolist() == ["a", "b", "b", "c"]


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"arms": ("a",), "weights": (1,)}, "at least two arms"),
    ({"arms": ("a", "a")}, "unique"),
    ({"weights": (1, 0)}, "positive"),
    ({"weights": (1, 1, 1)}, "one weight per arm"),
])
def test_arms_reject_bad_designs(kwargs, message):
    with pytest.raises(ValueError, match=message):
        arms_from_buckets(np.array([0.2]), **kwargs)


def test_arms_reject_buckets_outside_unit_interval():
    with pytest.raises(ValueError, match=r"buckets: 2 values are not in \[0, 1\) \(positions 1, 2"):
        arms_from_buckets(np.array([0.2, 1.0, np.nan]))


# Ids as a canonical table holds them: no surrounding whitespace (validation strips it) and no
# carriage return (assign refuses those: the ledger's CSV would not read them back).
ids_strategy = st.lists(st.text(st.characters(blacklist_categories=("Cs",)), min_size=1,
                                max_size=12).filter(lambda s: s == s.strip() and s != ""
                                                    and "\r" not in s),
                        min_size=1, max_size=40, unique=True)


@settings(max_examples=60, deadline=None)
@given(ids=ids_strategy, salt=st.text(max_size=10), data=st.data())
def test_assignment_is_deterministic_and_order_independent(ids, salt, data):
    perm = data.draw(st.permutations(ids))
    a = dict(zip(ids, arms_from_buckets(hash_buckets(ids, salt)), strict=True))
    b = dict(zip(perm, arms_from_buckets(hash_buckets(perm, salt)), strict=True))
    assert a == b


@settings(max_examples=30, deadline=None)
@given(ids=ids_strategy, extra=ids_strategy, salt=st.text(min_size=1, max_size=10))
def test_arms_stable_as_population_grows(ids, extra, salt):
    small = pd.DataFrame({schema.CUSTOMER_ID: ids, schema.MONTHLY_SPEND: 1.0})
    grown = pd.DataFrame({schema.CUSTOMER_ID: list(dict.fromkeys(extra + ids)),
                          schema.MONTHLY_SPEND: 1.0})
    with _quiet():
        r1 = assign(small, experiment="e", salt=salt, assigned_at=T0)
        r2 = assign(grown, experiment="e", salt=salt, assigned_at=T0)
    arm1 = r1.assignments.set_index(schema.CUSTOMER_ID)[schema.ARM]
    arm2 = r2.assignments.set_index(schema.CUSTOMER_ID)[schema.ARM]
    assert arm2.loc[arm1.index].tolist() == arm1.tolist()


# ----------------------------------------------------------------------------- assign
def test_assign_canonical_table_and_eligibility_by_ceiling():
    cust = _customers(2_000)
    r = assign(cust, experiment="exp", salt="s1", max_spend=60.0, assigned_at=T0)
    table = schema.validate_assignments(r.assignments)
    eligible = cust[cust[schema.MONTHLY_SPEND] <= 60.0]
    assert set(table[schema.CUSTOMER_ID]) == set(eligible[schema.CUSTOMER_ID])
    assert list(table.columns) == list(schema.ASSIGNMENTS.names)
    want = [_reference_bucket("s1", i) for i in table[schema.CUSTOMER_ID]]
    np.testing.assert_array_equal(table[schema.BUCKET].to_numpy(), want)
    assert (table[schema.ASSIGNED_AT] == pd.Timestamp(T0)).all()
    assert r.counts.sum() == len(table)
    assert r.n_new == len(table)
    assert len(r.excluded) == len(cust) - len(eligible)
    assert set(r.excluded[asg.REASON]) == {"spend above ceiling"}
    assert r.srm.counts == tuple(r.counts.tolist())
    assert set(r.balance["covariate"]) == {"monthly_spend", "pre_conversations", "pre_csat"}
    assert "sample ratio" in r.summary()
    assert "<table" in r._repr_html_()
    assert "fast" in repr(r)


def test_spend_quantile_sets_ceiling_from_the_population():
    cust = _customers(1_000)
    r = assign(cust, experiment="e", salt="q", spend_quantile=0.3, assigned_at=T0)
    ceiling = np.quantile(cust[schema.MONTHLY_SPEND], 0.3)
    assert r.spend_ceiling == pytest.approx(ceiling)
    assert len(r.assignments) == int((cust[schema.MONTHLY_SPEND] <= ceiling).sum())


def test_segment_lists():
    cust = _customers(600)
    r = assign(cust, experiment="e", salt="seg", include_segments=["smb", "startup"],
               exclude_segments=["startup"], assigned_at=T0)
    kept = cust.set_index(schema.CUSTOMER_ID).loc[r.assignments[schema.CUSTOMER_ID]]
    assert set(kept[schema.SEGMENT]) == {"smb"}
    assert set(r.excluded[asg.REASON]) == {"segment not included", "segment excluded"}


def test_assign_bad_input_messages():
    cust = _customers(10)
    with pytest.raises(ValueError, match="max_spend or spend_quantile, not both"):
        assign(cust, experiment="e", salt="s", max_spend=1, spend_quantile=0.5)
    with pytest.raises(ValueError, match=r"spend_quantile must be in \(0, 1\]"):
        assign(cust, experiment="e", salt="s", spend_quantile=1.5)
    bad = cust.copy()
    bad.loc[3, schema.CUSTOMER_ID] = bad.loc[1, schema.CUSTOMER_ID]
    bad.loc[5, schema.MONTHLY_SPEND] = -1
    with pytest.raises(DataError) as err:
        assign(bad, experiment="e", salt="s", source="customers")
    text = str(err.value)
    assert "customers: column customer_id: 1 row is repeating an earlier customer_id " \
           "(row 3)" in text
    assert "column monthly_spend: 1 row is negative (must be >= 0) (row 5)" in text
    with pytest.raises(DataError, match="missing required column segment"):
        assign(cust.drop(columns=schema.SEGMENT), experiment="e", salt="s",
               include_segments=["smb"])
    with pytest.raises(ValueError, match="assigned_at must be time-zone aware"):
        assign(cust, experiment="e", salt="s", assigned_at="2026-01-01 09:00")


def test_assign_warns_on_sample_ratio_mismatch(monkeypatch):
    # A broken hash (every bucket low) must not pass silently.
    monkeypatch.setattr(asg, "hash_buckets", lambda ids, salt: np.full(len(ids), 0.1))
    cust = _customers(400)
    with pytest.warns(SampleRatioMismatchWarning, match="sample ratio mismatch in e"):
        r = assign(cust, experiment="e", salt="s", assigned_at=T0)
    assert r.srm.flagged
    assert r.counts["one_business_day"] == 0


# ----------------------------------------------------------------------------- ledger
def test_ledger_grows_by_appending_and_keeps_existing_rows_byte_identical(tmp_path):
    ledger = tmp_path / "assignments.csv"
    cust = _customers(3_000)
    first = cust.iloc[:2_000].copy()
    r1 = assign(first, experiment="exp", salt="s", max_spend=80, assigned_at=T0, ledger=ledger)
    before = ledger.read_bytes()
    meta = json.loads((tmp_path / "assignments.csv.meta.json").read_text())
    assert meta["salt_sha256"] == hashlib.sha256(b"s").hexdigest()
    assert "s" not in meta.values()

    # Later data: an assigned customer's spend grows, an excluded one's shrinks, and new
    # customers arrive. Neither existing customer moves; only new eligible ones are appended.
    grown = cust.copy()
    assigned_id = r1.assignments[schema.CUSTOMER_ID].iloc[0]
    excluded_id = r1.excluded[schema.CUSTOMER_ID].iloc[0]
    grown.loc[grown[schema.CUSTOMER_ID] == assigned_id, schema.MONTHLY_SPEND] = 10_000.0
    grown.loc[grown[schema.CUSTOMER_ID] == excluded_id, schema.MONTHLY_SPEND] = 1.0
    r2 = assign(grown.iloc[::-1], experiment="exp", salt="s", max_spend=80,
                assigned_at="2026-02-01T09:00:00Z", ledger=ledger)
    after = ledger.read_bytes()
    assert after.startswith(before)
    new_ids = set(cust.iloc[2_000:].query("monthly_spend <= 80")[schema.CUSTOMER_ID])
    assert r2.n_new == len(new_ids)
    assert after.count(b"\n") == before.count(b"\n") + len(new_ids)
    table = schema.read_table(ledger, "assignments")
    assert assigned_id in set(table[schema.CUSTOMER_ID])
    assert excluded_id not in set(table[schema.CUSTOMER_ID])
    assert set(table[schema.CUSTOMER_ID].iloc[len(r1.assignments):]) == new_ids
    # A third run with nothing new changes nothing.
    r3 = assign(grown, experiment="exp", salt="s", max_spend=80, ledger=ledger)
    assert r3.n_new == 0
    assert ledger.read_bytes() == after


@pytest.mark.parametrize(("change", "message"), [
    ({"salt": "other"}, "salt differs"),
    ({"weights": (0.6, 0.4)}, "weights"),
    ({"arms": ("fast", "slow")}, "arms"),
    ({"max_spend": 90}, "eligibility rule max_spend"),
    ({"experiment": "exp2"}, "holds experiment 'exp'"),
])
def test_ledger_refuses_a_changed_design(tmp_path, change, message):
    ledger = tmp_path / "a.csv"
    kwargs = {"experiment": "exp", "salt": "s", "max_spend": 80, "assigned_at": T0}
    cust = _customers(500)
    assign(cust, ledger=ledger, **kwargs)
    before = ledger.read_bytes()
    with pytest.raises(LedgerError, match=message):
        assign(_customers(600), ledger=ledger, **(kwargs | change))
    assert ledger.read_bytes() == before


def test_ledger_without_meta_is_checked_against_its_rows(tmp_path):
    ledger = tmp_path / "a.csv"
    cust = _customers(500)
    assign(cust, experiment="exp", salt="s", assigned_at=T0, ledger=ledger)
    (tmp_path / "a.csv.meta.json").unlink()
    with pytest.raises(LedgerError, match="not the hash of their customer_id with this salt"):
        assign(cust, experiment="exp", salt="t", ledger=ledger)
    with pytest.raises(LedgerError, match="stored arms differ"):
        assign(cust, experiment="exp", salt="s", weights=(0.2, 0.8), ledger=ledger)
    r = assign(_customers(700), experiment="exp", salt="s", ledger=ledger, assigned_at=T0)
    assert r.n_new == 200


def test_parquet_ledger_round_trip(tmp_path):
    ledger = tmp_path / "a.parquet"
    cust = _customers(800)
    r1 = assign(cust.iloc[:500], experiment="exp", salt="s", assigned_at=T0, ledger=ledger)
    r2 = assign(cust, experiment="exp", salt="s", assigned_at=T0, ledger=ledger)
    table = schema.read_table(ledger, "assignments")
    assert len(table) == 800
    assert r2.n_new == 300
    pd.testing.assert_frame_equal(table.iloc[:500], r1.assignments, check_dtype=False)


# ----------------------------------------------------------------------------- tags
def test_write_tags(tmp_path):
    r = assign(_customers(50), experiment="Spring Test", salt="s", assigned_at=T0)
    path = write_tags(r.assignments, tmp_path / "tags.csv", "Spring Test")
    tags = pd.read_csv(path, dtype=str)
    assert list(tags.columns) == ["customer_id", "arm", "tag"]
    assert set(tags["tag"]) == {"frt-spring_test-fast", "frt-spring_test-one_business_day"}
    assert tags["customer_id"].tolist() == r.assignments[schema.CUSTOMER_ID].tolist()
    with pytest.raises(ValueError, match="no assignments of 'other'"):
        write_tags(r.assignments, tmp_path / "t2.csv", "other")


# ----------------------------------------------------------------------------- stratified
def test_stratified_exact_balance_within_strata():
    cust = _customers(1_003)
    bands = pd.qcut(cust[schema.MONTHLY_SPEND], 4, labels=False)
    r = stratified_assign(cust, strata=bands, experiment="fixed", rng=7, assigned_at=T0)
    t = r.assignments.assign(band=bands.to_numpy())
    per = t.groupby(["band", schema.ARM]).size().unstack()
    assert (per["fast"] - per["one_business_day"]).abs().max() <= 1
    assert t[schema.BUCKET].isna().all()
    again = stratified_assign(cust, strata=bands, experiment="fixed", rng=7, assigned_at=T0)
    pd.testing.assert_frame_equal(r.assignments, again.assignments)


def test_stratified_unequal_weights_and_column_strata():
    cust = _customers(301)
    r = stratified_assign(cust, strata=[schema.SEGMENT], experiment="f", weights=(2, 1),
                          rng=3, assigned_at=T0)
    t = r.assignments.assign(seg=cust[schema.SEGMENT].to_numpy())
    per = t.groupby(["seg", schema.ARM]).size().unstack()
    size = per.sum(axis=1)
    assert ((per["fast"] - size * 2 / 3).abs() < 1 + 1e-9).all()
    with pytest.raises(ValueError, match="permuted block"):
        stratified_assign(cust, strata=schema.SEGMENT, experiment="f", weights=(0.3141, 0.6859))


def test_stratified_each_customer_is_fast_with_probability_one_half():
    # 600 strata of 3 (one full block and one left over each), randomized independently: the
    # j-th customer of every stratum must be a fair coin, the left-over one included.
    reps = 600
    cust = _customers(3 * reps)
    r = stratified_assign(cust, strata=np.repeat(np.arange(reps), 3), experiment="f", rng=9,
                          assigned_at=T0)
    fast = (r.assignments[schema.ARM] == "fast").to_numpy().reshape(reps, 3).sum(axis=0)
    # Binomial(600, 1/2): sd = sqrt(600)/2 = 12.2; allow 4 sd.
    assert np.all(np.abs(fast - reps / 2) <= 4 * math.sqrt(reps) / 2)
    per_stratum = (r.assignments[schema.ARM] == "fast").to_numpy().reshape(reps, 3).sum(axis=1)
    assert set(per_stratum) == {1, 2}   # exact balance: 2-1 or 1-2 in every stratum


def test_ids_read_as_numbers_hash_as_their_text():
    cust = pd.DataFrame({schema.CUSTOMER_ID: [17.0, 18.0], schema.MONTHLY_SPEND: [1.0, 2.0]})
    r = assign(cust, experiment="e", salt="s", assigned_at=T0)
    assert r.assignments[schema.CUSTOMER_ID].tolist() == ["17", "18"]
    assert r.assignments[schema.BUCKET].iloc[0] == _reference_bucket("s", "17")


@settings(max_examples=40, deadline=None)
@given(sizes=st.lists(st.integers(1, 40), min_size=1, max_size=6),
       weights=st.sampled_from([(1, 1), (2, 1), (1, 3), (1, 1, 1)]), seed=st.integers(0, 2**32))
def test_stratified_balance_property(sizes, weights, seed):
    # Every stratum of m customers gives each arm m * share, give or take less than one block.
    labels = np.repeat(np.arange(len(sizes)), sizes)
    n = labels.size
    cust = pd.DataFrame({schema.CUSTOMER_ID: [f"C{i}" for i in range(n)],
                         schema.MONTHLY_SPEND: 1.0})
    arms = ("a", "b", "c")[:len(weights)]
    with _quiet():
        r = stratified_assign(cust, strata=labels, experiment="p", arms=arms, weights=weights,
                              rng=seed, assigned_at=T0)
    share = np.asarray(weights) / sum(weights)
    block = sum(weights)
    got = pd.crosstab(labels, r.assignments[schema.ARM].to_numpy()).reindex(
        columns=list(arms), fill_value=0).to_numpy()
    want = np.asarray(sizes)[:, None] * share[None, :]
    assert np.all(np.abs(got - want) < block)
    assert got.sum() == n


def test_nobody_eligible_is_an_empty_assignment_not_an_error():
    cust = pd.DataFrame({schema.CUSTOMER_ID: ["a", "b"], schema.MONTHLY_SPEND: [500.0, 600.0]})
    r = assign(cust, experiment="e", salt="s", max_spend=10, assigned_at=T0)
    assert r.assignments.empty
    assert r.counts.tolist() == [0, 0]
    assert not r.srm.flagged
    assert math.isnan(r.srm.p_value)


def test_balance_uses_the_normalised_ids():
    cust = _customers(400).assign(**{schema.CUSTOMER_ID: np.arange(400, dtype=float)})
    r = assign(cust, experiment="e", salt="s", assigned_at=T0)
    spend = r.balance.set_index("covariate").loc[schema.MONTHLY_SPEND]
    assert spend["n_control"] + spend["n_treatment"] == 400


def test_stratified_with_eligibility_and_spend_bands():
    cust = _customers(2_001)
    r = stratified_assign(cust, spend_bands=4, strata=schema.SEGMENT, max_spend=80.0,
                          experiment="cohort", rng=5, assigned_at=T0)
    eligible = cust[cust[schema.MONTHLY_SPEND] <= 80.0]
    assert set(r.assignments[schema.CUSTOMER_ID]) == set(eligible[schema.CUSTOMER_ID])
    assert set(r.excluded[asg.REASON]) == {"spend above ceiling"}
    band = pd.qcut(eligible[schema.MONTHLY_SPEND], 4, labels=False).to_numpy()
    t = r.assignments.assign(band=band, seg=eligible[schema.SEGMENT].to_numpy())
    per = t.groupby(["band", "seg", schema.ARM]).size().unstack(fill_value=0)
    assert (per["fast"] - per["one_business_day"]).abs().max() <= 1
    with pytest.raises(ValueError, match="give strata"):
        stratified_assign(cust, experiment="cohort")
    with pytest.raises(ValueError, match="spend_bands must be a positive integer"):
        stratified_assign(cust, experiment="cohort", spend_bands=0)


def test_readme_worked_example_matches_the_code() -> None:
    """The bucket table in README.md is what hash_buckets/arms_from_buckets compute."""
    import re
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    salt = re.search(r"Worked example .*? with salt `([^`]+)`", readme).group(1)
    rows = re.findall(r"^\| `([^`]+)` \| `([0-9a-f]{16})` \| (\d+) \| ([0-9.]+) \| (\w+) \|$",
                      readme, flags=re.MULTILINE)
    assert len(rows) >= 2
    ids = pd.Series([r[0] for r in rows], dtype="string")
    buckets = hash_buckets(ids, salt)
    arms = arms_from_buckets(buckets)
    for (cid, hexa, integer, bucket, arm), b, a in zip(rows, buckets, arms, strict=True):
        digest = hashlib.sha256(f"{salt}:{cid}".encode()).digest()[:8]
        assert digest.hex() == hexa
        assert int.from_bytes(digest, "big") == int(integer)
        assert b == float(bucket)
        assert a == arm


@pytest.mark.parametrize(("text", "message"), [
    # pre-period covariates feed the balance table: bad values are errors, not silently dropped
    ("customer_id,monthly_spend,pre_conversations\nA,5,1\nB,6,two\nC,7,2\nD,3,x\n",
     "c.csv: column pre_conversations: 2 rows are text, not numbers (lines 3, 5)"),
    ("customer_id,monthly_spend,pre_conversations\nA,5,1\nB,6,-3\n",
     "c.csv: column pre_conversations: 1 row is negative (must be >= 0) (line 3)"),
    ("customer_id,monthly_spend,pre_rated,pre_satisfied\nA,5,1,3\nB,6,2,1\n",
     "c.csv: column pre_satisfied: 1 row is greater than pre_rated (line 2)"),
    ("customer_id,monthly_spend\nA,inf\nB,6\n",
     "c.csv: column monthly_spend: 1 row is infinite (numbers must be finite) (line 2)"),
    ("customer_id,monthly_spend\nA,true\nB,false\n",
     "c.csv: column monthly_spend: 2 rows are true/false, not numbers"),
    ("customer_id,monthly_spend,monthly_spend\nA,5,5\nB,6,6\n",
     "c.csv: duplicate columns monthly_spend"),
])
def test_bad_customers_files_are_named_errors(tmp_path, text, message):
    path = tmp_path / "c.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(DataError) as err:
        assign(asg.read_customers(path), experiment="e", salt="s", source="c.csv",
               assigned_at=T0, ledger=tmp_path / "ledger.csv")
    assert message in str(err.value)
    assert not (tmp_path / "ledger.csv").exists()


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_ledger_that_started_empty_grows(tmp_path, suffix):
    # nobody eligible on the first run: the ledger holds no rows (but records the excluded);
    # a later run with newly arrived low spenders must append to it, not fail to read it
    ledger = tmp_path / f"a{suffix}"
    rich = pd.DataFrame({schema.CUSTOMER_ID: ["a", "b"], schema.MONTHLY_SPEND: [500.0, 600.0]})
    r1 = assign(rich, experiment="e", salt="s", max_spend=10, assigned_at=T0, ledger=ledger)
    assert r1.assignments.empty
    grown = pd.concat([rich.assign(**{schema.MONTHLY_SPEND: 1.0}),   # spend fell: stays out
                       pd.DataFrame({schema.CUSTOMER_ID: ["c", "d"],
                                     schema.MONTHLY_SPEND: [1.0, 2.0]})], ignore_index=True)
    with _quiet():
        r2 = assign(grown, experiment="e", salt="s", max_spend=10, assigned_at=T0,
                    ledger=ledger)
    assert r2.assignments[schema.CUSTOMER_ID].tolist() == ["c", "d"]
    assert r2.n_new == 2
    assert schema.read_table(ledger, "assignments")[schema.CUSTOMER_ID].tolist() == ["c", "d"]


def test_ids_that_look_like_missing_values_are_ids(tmp_path):
    # as schema.read_table reads them: only an empty field is missing ("NA" may be initials)
    path = tmp_path / "c.csv"
    path.write_text("customer_id,monthly_spend,segment\nNA,5,NA\nnull,6,smb\nB,7,\n",
                    encoding="utf-8")
    cust = asg.read_customers(path)
    assert cust[schema.CUSTOMER_ID].tolist() == ["NA", "null", "B"]
    assert cust[schema.SEGMENT].isna().tolist() == [False, False, True]
    with _quiet():
        r = assign(cust, experiment="e", salt="s", assigned_at=T0)
    assert r.assignments[schema.BUCKET].tolist() == [_reference_bucket("s", i)
                                                     for i in ("NA", "null", "B")]
