"""`frt assign` in process: counts, ledger growth, tag export, one-line errors with exit 2."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pandas as pd
import pytest

from frt_experiments import schema
from frt_experiments.cli import main

# Small test populations can trip the balance warning by chance (printed as a warning line).
pytestmark = pytest.mark.filterwarnings("ignore::frt_experiments.errors.BalanceWarning")


def _write_customers(path, n, *, seed=0):
    rng = np.random.default_rng(seed)
    df = pd.DataFrame({
        schema.CUSTOMER_ID: [f"{i:05d}" for i in range(n)],   # leading zeros stay text
        schema.MONTHLY_SPEND: np.round(rng.lognormal(4.0, 0.8, n), 2),
        schema.SEGMENT: rng.choice(["smb", "partner"], n),
        schema.PRE_CONVERSATIONS: rng.poisson(2.0, n),
    })
    df.to_csv(path, index=False)
    return df


def _args(tmp_path, *extra):
    return ["assign", "--customers", str(tmp_path / "customers.csv"), "--experiment", "spring",
            "--salt", "s1", "--ledger", str(tmp_path / "ledger.csv"),
            "--assigned-at", "2026-03-02T09:00:00Z", *extra]


def test_assign_prints_counts_srm_and_balance_and_writes_ledger(tmp_path, capsys):
    df = _write_customers(tmp_path / "customers.csv", 1_500)
    status = main(_args(tmp_path, "--max-spend", "60", "--export-tags",
                        str(tmp_path / "tags.csv")))
    out = capsys.readouterr().out
    assert status == 0
    eligible = df[df[schema.MONTHLY_SPEND] <= 60]
    ledger = schema.read_table(tmp_path / "ledger.csv", "assignments")
    assert len(ledger) == len(eligible)
    assert ledger[schema.CUSTOMER_ID].iloc[0] == eligible[schema.CUSTOMER_ID].iloc[0]
    first = ledger.iloc[0]
    digest = hashlib.sha256(f"s1:{first[schema.CUSTOMER_ID]}".encode()).digest()
    assert first[schema.BUCKET] == int.from_bytes(digest[:8], "big") / 2**64
    fast = int((ledger[schema.ARM] == "fast").sum())
    assert f"fast: {fast:,}" in out
    assert "sample ratio: chi-square" in out
    assert "monthly_spend" in out
    assert f"({len(eligible):,} rows, {len(eligible):,} new)" in out
    tags = pd.read_csv(tmp_path / "tags.csv", dtype=str)
    assert set(tags["tag"]) == {"frt-spring-fast", "frt-spring-one_business_day"}


def test_rerun_appends_and_changed_salt_exits_2(tmp_path, capsys):
    _write_customers(tmp_path / "customers.csv", 800)
    assert main(_args(tmp_path, "--spend-quantile", "0.5")) == 0
    before = (tmp_path / "ledger.csv").read_bytes()
    _write_customers(tmp_path / "customers.csv", 1_200)   # the same 800 plus 400 new
    assert main(_args(tmp_path, "--spend-quantile", "0.5")) == 0
    assert (tmp_path / "ledger.csv").read_bytes().startswith(before)
    capsys.readouterr()
    args = _args(tmp_path, "--spend-quantile", "0.5")
    args[args.index("s1")] = "s2"
    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert err[0].startswith("error: ledger.csv.meta.json: the salt differs")


@pytest.mark.parametrize(("extra", "message"), [
    (["--max-spend", "10", "--spend-quantile", "0.5"], "not allowed with argument"),
    ([], "one of the arguments --max-spend --spend-quantile is required"),
    (["--max-spend", "10", "--weights", "1,x"], "--weights: '1,x' is not a list of numbers"),
    (["--max-spend", "10", "--arms", "fast,"], "--arms: empty item"),
])
def test_bad_arguments_exit_2(tmp_path, capsys, extra, message):
    _write_customers(tmp_path / "customers.csv", 20)
    assert main(_args(tmp_path, *extra)) == 2
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err
    assert not (tmp_path / "ledger.csv").exists()


def test_bad_customers_file_names_file_column_and_lines(tmp_path, capsys):
    (tmp_path / "customers.csv").write_text(
        "customer_id,monthly_spend\nA,10\nB,ten\nA,5\n", encoding="utf-8")
    assert main(_args(tmp_path, "--max-spend", "50")) == 2
    err = capsys.readouterr().err
    assert "customers.csv: column customer_id: 1 row is repeating an earlier customer_id " \
           "(line 4)" in err
    assert "customers.csv: column monthly_spend: 1 row is empty or not numbers" in err
    assert not (tmp_path / "ledger.csv").exists()
    assert main(["assign", "--customers", str(tmp_path / "nope.csv"), "--experiment", "e",
                 "--salt", "s", "--max-spend", "1", "--ledger", str(tmp_path / "l.csv")]) == 2
    assert "nope.csv: file not found" in capsys.readouterr().err


def test_stratified_cohort(tmp_path, capsys):
    df = _write_customers(tmp_path / "customers.csv", 1_000)
    args = ["assign", "--customers", str(tmp_path / "customers.csv"), "--experiment", "cohort",
            "--ledger", str(tmp_path / "cohort.csv"), "--max-spend", "80",
            "--strata", "segment", "--spend-bands", "3", "--seed", "4",
            "--assigned-at", "2026-03-02T09:00:00Z"]
    assert main(args) == 0
    table = schema.read_table(tmp_path / "cohort.csv", "assignments")
    assert len(table) == int((df[schema.MONTHLY_SPEND] <= 80).sum())
    assert table[schema.BUCKET].isna().all()
    seg = df.set_index(schema.CUSTOMER_ID).loc[table[schema.CUSTOMER_ID], schema.SEGMENT]
    per = pd.crosstab(seg.to_numpy(), table[schema.ARM].to_numpy())
    assert (per["fast"] - per["one_business_day"]).abs().max() <= 3   # one per spend band
    capsys.readouterr()
    assert main(args) == 2   # a cohort is assigned once
    assert "cohort.csv: exists; a stratified cohort" in capsys.readouterr().err
    assert main([*args[:-4], "--salt", "s"]) == 2
    assert "--salt: a stratified cohort is not hashed" in capsys.readouterr().err
    no_seed = [a for a in args if a not in ("--seed", "4")]
    assert main(no_seed) == 2
    assert "--seed: required" in capsys.readouterr().err


def test_hashed_split_needs_a_salt(tmp_path, capsys):
    _write_customers(tmp_path / "customers.csv", 20)
    args = _args(tmp_path, "--max-spend", "10")
    i = args.index("--salt")
    assert main(args[:i] + args[i + 2:]) == 2
    assert "--salt: required for the hashed split" in capsys.readouterr().err


def test_nobody_eligible_with_tag_export_is_not_an_error(tmp_path, capsys):
    # the ledger is written, so the tag export must not then fail (exit 2 after writing)
    _write_customers(tmp_path / "customers.csv", 50)
    status = main(_args(tmp_path, "--max-spend", "0", "--export-tags",
                        str(tmp_path / "tags.csv")))
    out = capsys.readouterr().out
    assert status == 0
    assert "fast: 0 (n/a; design 50.00%)" in out
    assert (tmp_path / "tags.csv").read_text(encoding="utf-8") == "customer_id,arm,tag\n"
    assert (tmp_path / "ledger.csv").read_text(encoding="utf-8").splitlines() == [
        "customer_id,experiment,arm,assigned_at,bucket"]


# ----------------------------------------------------------------------------- --verify
def _verify(tmp_path, *extra, ledger="ledger.csv"):
    return ["assign", "--verify", "--salt", "s1", "--ledger", str(tmp_path / ledger), *extra]


def test_verify_prints_one_ok_line_and_changes_nothing(tmp_path, capsys):
    _write_customers(tmp_path / "customers.csv", 600)
    assert main(_args(tmp_path, "--max-spend", "60")) == 0
    capsys.readouterr()
    before = {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in tmp_path.iterdir()}
    assert main(_verify(tmp_path, "--experiment", "spring")) == 0
    out, err = capsys.readouterr()
    ledger = schema.read_table(tmp_path / "ledger.csv", "assignments")
    fast = int((ledger[schema.ARM] == "fast").sum())
    assert out.splitlines() == [
        f"ok: ledger.csv: {len(ledger):,} customers assigned in experiment 'spring' "
        f"(fast {fast:,}, one_business_day {len(ledger) - fast:,}), "
        f"{600 - len(ledger):,} screened out; every bucket and arm recomputed from the salt; "
        "matches its integrity record"]
    assert err == ""
    assert {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in tmp_path.iterdir()} == before


def test_verify_finds_an_edit_with_its_line_exit_2(tmp_path, capsys):
    _write_customers(tmp_path / "customers.csv", 600)
    assert main(_args(tmp_path, "--max-spend", "60")) == 0
    path = tmp_path / "ledger.csv"
    lines = path.read_text().splitlines(keepends=True)
    lines[2] = (lines[2].replace(",fast,", ",one_business_day,") if ",fast," in lines[2]
                else lines[2].replace(",one_business_day,", ",fast,"))
    path.write_text("".join(lines))
    capsys.readouterr()
    assert main(_verify(tmp_path)) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1
    assert err[0].startswith("error: ledger.csv: was changed after frt wrote it (it does not "
                             "match the integrity record in ledger.csv.meta.json): line 3: 1 "
                             "stored arm differs from the arm of its bucket")
    # an assignment run refuses it the same way, before writing anything
    assert main(_args(tmp_path, "--max-spend", "60")) == 2
    assert "line 3: 1 stored arm differs" in capsys.readouterr().err


@pytest.mark.parametrize(("extra", "message"), [
    (["--salt", "s1", "--verify"], "the following arguments are required: --customers, "
                                   "--experiment"),
    (["--verify", "--customers", "c.csv"], "--salt: required with --verify"),
    (["--verify", "--salt", "s1", "--customers", "c.csv", "--max-spend", "5"],
     "--verify: checks the ledger only; leave out --customers, --max-spend"),
    (["--verify", "--salt", "s1", "--lock-timeout", "-1"],
     "argument --lock-timeout: must be a finite number of seconds >= 0, got -1"),
])
def test_verify_argument_errors(tmp_path, capsys, extra, message):
    argv = ["assign", "--ledger", str(tmp_path / "l.csv"), *extra]
    if "--verify" in argv and extra[0] == "--salt":   # not a verify: the first case
        argv.remove("--verify")
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err
    assert len(err.strip().splitlines()) == 1
    assert not list(tmp_path.iterdir())


def test_verify_of_an_earlier_version_and_a_missing_ledger(tmp_path, capsys):
    _write_customers(tmp_path / "customers.csv", 300)
    assert main(_args(tmp_path, "--max-spend", "60")) == 0
    meta_path = tmp_path / "ledger.csv.meta.json"
    meta = json.loads(meta_path.read_text())
    del meta["integrity"]
    meta_path.write_text(json.dumps(meta))
    capsys.readouterr()
    assert main(_verify(tmp_path)) == 0
    out, err = capsys.readouterr()
    assert out.rstrip().endswith("no integrity record (a ledger of an earlier version; the "
                                 "next frt assign adds one)")
    assert err.startswith("note: ledger.csv: ledger.csv.meta.json has no integrity record")
    _write_customers(tmp_path / "customers.csv", 400)
    assert main(_args(tmp_path, "--max-spend", "60")) == 0
    assert "note: ledger.csv: ledger.csv.meta.json has no integrity record (a ledger of an " \
           "earlier version): every bucket and arm was checked against the salt, and the " \
           "integrity record is added now" in capsys.readouterr().err
    assert main(_verify(tmp_path)) == 0
    assert capsys.readouterr().out.rstrip().endswith("matches its integrity record")
    assert main(_verify(tmp_path, ledger="nope.csv")) == 2
    assert "error: nope.csv: file not found" in capsys.readouterr().err


def test_symlinked_ledger_stays_a_link(tmp_path, capsys):
    _write_customers(tmp_path / "customers.csv", 300)
    (tmp_path / "data").mkdir()
    (tmp_path / "ledger.csv").symlink_to(tmp_path / "data" / "assignments.csv")
    assert main(_args(tmp_path, "--max-spend", "60")) == 0
    _write_customers(tmp_path / "customers.csv", 500)
    assert main(_args(tmp_path, "--max-spend", "60")) == 0
    assert (tmp_path / "ledger.csv").is_symlink()
    table = schema.read_table(tmp_path / "data" / "assignments.csv", "assignments")
    assert f"ledger: {tmp_path / 'ledger.csv'} ({len(table):,} rows" in capsys.readouterr().out
    assert (tmp_path / "data" / "assignments.csv.meta.json").exists()
    assert main(_verify(tmp_path)) == 0


def test_an_id_with_a_carriage_return_is_refused_before_the_ledger(tmp_path, capsys):
    # written bare into the ledger's CSV, the id would read back as two lines or with a space
    (tmp_path / "customers.csv").write_bytes(
        b'customer_id,monthly_spend\nA,10\n"B\rC",10\nD,10\n')
    assert main(_args(tmp_path, "--max-spend", "50")) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "customers.csv: column customer_id: 1 row is holding a carriage return" in err
    assert "(line 3)" in err
    assert not (tmp_path / "ledger.csv").exists()


@pytest.mark.parametrize("flags", [["--experiment", " spring "], ["--arms", "fast, slow "]])
def test_names_with_spaces_around_them_are_refused(tmp_path, capsys, flags):
    # canonical tables strip text: ' spring ' would be read back as 'spring' and the ledger
    # would then disagree with its own record
    _write_customers(tmp_path / "customers.csv", 20)
    argv = _args(tmp_path, "--max-spend", "1e9")
    if flags[0] == "--experiment":
        argv[argv.index("--experiment") + 1] = flags[1]
    else:
        argv += flags
    code = main(argv)
    err = capsys.readouterr().err
    if flags[0] == "--arms":  # the command line strips list items: accepted as fast, slow
        assert code == 0, err
        return
    assert code == 2
    assert "experiment: ' spring ' has spaces around it" in err
    assert not (tmp_path / "ledger.csv").exists()
