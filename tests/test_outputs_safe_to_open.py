"""Outputs safe to open (issue 21, part 4): cells a spreadsheet would evaluate are neutralised
in files meant for people, and an output path that is an input is refused."""

from __future__ import annotations

import csv
from pathlib import Path

import pandas as pd

from frt_experiments import schema
from frt_experiments._spreadsheet import neutralise
from frt_experiments.assignment import write_tags
from frt_experiments.cli import main


def test_tags_neutralise_formula_cells_but_keep_numbers(tmp_path):
    # Before: '=HYPERLINK(...)' reached tags.csv verbatim (formula injection in a spreadsheet).
    ids = ["=HYPERLINK(\"http://x\")", "+cmd", "@SUM(A1)", "\tx", "-5", "+1.5e3", "plain",
           "-x"]
    assignments = pd.DataFrame({schema.CUSTOMER_ID: ids, schema.ARM: ["-fast"] + ["fast"] * 7,
                                schema.EXPERIMENT: "e"})
    path = write_tags(assignments, tmp_path / "tags.csv", "e")
    with path.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [r[schema.CUSTOMER_ID] for r in rows] == [
        "'=HYPERLINK(\"http://x\")", "'+cmd", "'@SUM(A1)", "'\tx", "-5", "+1.5e3", "plain",
        "'-x"]
    assert rows[0][schema.ARM] == "'-fast"
    assert rows[0]["tag"] == "frt-e--fast"  # tags hold letters, digits, - and _ only


def test_neutralise_rule():
    df = pd.DataFrame({"text": ["\rx", "=1", "-1", "-1.5e-3", ".5", "a=1", None],
                       "number": [-1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0]})
    out = neutralise(df)
    assert out["text"].tolist()[:6] == ["'\rx", "'=1", "-1", "-1.5e-3", ".5", "a=1"]
    assert pd.isna(out["text"].iloc[6])
    assert out["number"].tolist() == df["number"].tolist()


def test_export_tags_through_a_symlink_to_the_customers_is_refused(tmp_path, capsys):
    customers = tmp_path / "customers.csv"
    customers.write_text("customer_id,monthly_spend\nc1,10\nc2,20\n")
    link = tmp_path / "tags.csv"
    link.symlink_to(customers)
    before = customers.read_bytes()
    status = main(["assign", "--customers", str(customers), "--experiment", "e", "--salt", "s",
                   "--max-spend", "100", "--ledger", str(tmp_path / "ledger.csv"),
                   "--export-tags", str(link)])
    err = capsys.readouterr().err.splitlines()
    assert status == 2
    assert err == [f"error: --export-tags: {link} is the --customers file; writing it would "
                   "overwrite an input (give another path)"]
    assert customers.read_bytes() == before
    assert not (tmp_path / "ledger.csv").exists()


def test_canonical_tables_keep_values_as_given(tmp_path):
    # The canonical tables are data for programs: never altered.
    df = pd.DataFrame({schema.CUSTOMER_ID: ["=1+1", "-5"], schema.MONTHLY_SPEND: [1.0, 2.0]})
    path = schema.write_table(df, tmp_path / "customers.csv")
    assert Path(path).read_text().splitlines()[1:] == ["=1+1,1.0", "-5,2.0"]
