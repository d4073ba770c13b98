"""The decision-first report: order, the clause that carried the verdict, money in a currency,
the confidence statements against the analysis' own tests, methods as notes, provenance."""

from __future__ import annotations

import argparse
import hashlib
import re
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.lines import Line2D

from frt_experiments import plotting
from frt_experiments._version import __version__
from frt_experiments.analysis import analyze
from frt_experiments.cli import main
from frt_experiments.decision import decide
from frt_experiments.errors import FrtWarning
from frt_experiments.report import build_report, command_line, format_money, report_settings
from frt_experiments.simulate import simulate
from frt_experiments.stats.confidence import log_ratio_below

MARGIN = -0.02


@pytest.fixture(scope="module")
def harsh():
    """A small harsh trial: CSAT and NRR fall significantly; revenue carries the verdict."""
    trial = simulate("harsh", customers=6000, rng=5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FrtWarning)
        result = analyze(trial.customers, trial.conversations, trial.assignments,
                         csat_margin=MARGIN, nrr_margin=0.01)
    low = trial.customers["customer_id"].isin(trial.assignments["customer_id"])
    revenue = 12.0 * float(trial.customers.loc[low, "revenue_start"].sum())
    return trial, result, revenue


def _doc(harsh, *, savings: float, **kw):
    trial, result, revenue = harsh
    decision = decide(result, low_spend_revenue_per_year=revenue,
                      annual_staffing_savings=savings, csat_margin=MARGIN)
    doc = build_report(trial.customers, trial.conversations, trial.assignments, result,
                       decision=decision, **kw)
    return doc, decision, result


def _shown(p: float) -> str:
    """A confidence as the report words it (saturated ends as bounds)."""
    return ("more than 99.9%" if p > 0.999 else "less than 0.1%" if p < 0.001
            else f"{p:.1%}")


def _blocks(doc, section: str):
    return next(blocks for title, blocks in doc.sections if title == section)


def test_format_money_in_a_currency() -> None:
    assert format_money(211_981.4) == "$211,981"
    assert format_money(-1_200, "EUR") == "-€1,200"
    assert format_money(12_300, "chf") == "CHF 12,300"
    assert format_money(5, "£") == "£5"
    assert format_money(-0.2) == "$0"  # rounds to zero: no "-$0"
    with pytest.raises(ValueError, match=r"currency: expected an ISO 4217 code.*'dollars'"):
        format_money(1, "dollars")


def test_the_decision_comes_first_and_names_the_clause_that_carried_it(harsh) -> None:
    revenue = harsh[2]
    # savings well above the pessimistic revenue at risk: revenue carries the verdict
    doc, decision, _ = _doc(harsh, savings=revenue * 0.2)
    assert decision.carried_by == "revenue"
    assert decision.csat_significantly_worse
    assert doc.sections[0][0] == "The decision"
    verdicts = [b for b in doc.sections[0][1] if b.kind == "verdict"]
    assert verdicts[0].name == "SUCCESS, carried by the revenue clause alone."
    assert verdicts[0].alt == "tradeoff"  # not the plain success's green
    assert verdicts[1].alt == "caution"
    assert "CSAT fell significantly" in verdicts[1].content
    assert ("NRR fell significantly" in verdicts[1].content) == decision.nrr_significantly_worse
    html = doc.to_html()
    assert html.index("The decision") < html.index("<h2>Results")
    assert "class='verdict tradeoff'" in html


def test_a_failure_and_the_currency(harsh) -> None:
    doc, decision, _ = _doc(harsh, savings=0.0, currency="EUR")
    assert decision.carried_by == "neither"
    verdict = next(b for b in doc.sections[0][1] if b.kind == "verdict")
    assert (verdict.name, verdict.alt) == ("FAILURE.", "failure")
    facts = dict(next(b for b in doc.sections[0][1] if b.kind == "facts").content)
    assert facts["Annual staffing savings"] == "€0"
    pessimistic = format_money(decision.revenue_at_risk_pessimistic, "EUR")
    assert pessimistic in facts["Revenue at risk per year"]
    assert "$" not in doc.to_html().split("<footer>")[0]


def test_report_settings_give_defaults_that_arguments_override(harsh) -> None:
    with report_settings(currency="GBP", provenance={"command": "frt demo --x", "seed": 3}):
        doc, _, _ = _doc(harsh, savings=1e9)
        doc_usd, _, _ = _doc(harsh, savings=1e9, currency="USD")
    assert "£1,000,000,000" in doc.to_html()
    assert "$1,000,000,000" in doc_usd.to_html()
    footer = dict(doc._footer)
    assert footer["Command"] == "frt demo --x"
    assert footer["Seed"] == "3"
    with pytest.raises(ValueError, match="currency"):
        _doc(harsh, savings=1.0, currency="us dollars")


def test_confidences_are_the_analysis_one_sided_p_values(harsh) -> None:
    # CSAT: the confidence that it fell by more than its margin is the non-inferiority test's
    # p-value (Fieller's confidence distribution at the margin); NRR: the log-ratio confidence
    # distribution at minus the break-even drop
    doc, decision, result = _doc(harsh, savings=harsh[2] * 0.02)
    facts = dict(next(b for b in doc.sections[0][1] if b.kind == "facts").content)
    test = dict(result.margin_tests)["csat"]
    csat_text = facts["Confidence that CSAT fell by more than its 2% margin"]
    assert csat_text.startswith(_shown(test.p_value) + " (Fieller's confidence distribution")
    nrr = next(m for m in result.metrics if m.metric == "nrr")
    p = log_ratio_below(nrr.rel_diff, nrr.log_se, -decision.break_even_nrr_drop, df=nrr.df)
    key = next(k for k in facts if k.startswith("Confidence that the revenue lost"))
    assert f"{-decision.break_even_nrr_drop:+.2%}" in key
    assert facts[key].startswith(_shown(p) + " (normal confidence distribution")


def test_full_results_put_methods_in_numbered_notes(harsh) -> None:
    doc, _, result = _doc(harsh, savings=1.0)
    block = next(b for b in _blocks(doc, "Full results (the columns of results.csv)")
                 if b.kind == "table")
    methods = list(pd.unique(result.to_pandas()["method"]))
    assert list(block.footnotes) == methods
    # the HTML shows it transposed: a column per metric, a row per column of results.csv;
    # the Markdown the rows of results.csv
    assert list(block.content["metric"]) == [m.metric for m in result.metrics]
    table = block.view.set_index("column")
    assert list(table.columns) == [m.metric for m in result.metrics]
    refs = table.loc["method"]
    assert set(refs) <= {f"[{i}]" for i in range(1, len(methods) + 1)}
    csat = next(m for m in result.metrics if m.metric == "csat")
    assert table.loc["rel_diff", "csat"] == round(csat.rel_diff, 6)
    md = doc.to_markdown("figures")
    assert f"1. {methods[0][:40]}" in md


def test_forest_alt_text_and_margins_are_in_the_report(harsh) -> None:
    doc, _, result = _doc(harsh, savings=1.0)
    forest = next(b for b in _blocks(doc, "Results") if b.kind == "figure")
    csat = next(m for m in result.metrics if m.metric == "csat")
    assert f"csat {csat.rel_diff:+.2%}" in forest.alt
    assert "margin -2% at -2.00%" in forest.alt
    assert "<img alt='Forest plot, one panel per metric" in doc.to_html()


def test_provenance_fingerprints_files_and_tables(harsh, tmp_path) -> None:
    trial, result, _ = harsh
    path = tmp_path / "customers.csv"
    trial.customers.to_csv(path, index=False)
    doc = build_report(trial.customers, trial.conversations, trial.assignments, result,
                       provenance={"files": {"customers": path}, "seed": 5})
    footer = dict(doc._footer)
    assert footer["frt-experiments"] == __version__
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    assert footer["customers file"].endswith(f"SHA-256 {digest}")
    assert re.search(r"[0-9,]+ rows, content SHA-256 [0-9a-f]{64}", footer["customers table"])
    assert footer["Seed"] == "5"
    assert footer["Command"].startswith("build_report() called from Python")
    # the same tables give the same fingerprint; a changed cell another
    again = build_report(trial.customers, trial.conversations, trial.assignments, result)
    assert dict(again._footer)["customers table"] == footer["customers table"]
    changed = trial.customers.copy()
    changed.iloc[0, changed.columns.get_loc("revenue_start")] += 1
    other = build_report(changed, trial.conversations, trial.assignments, result)
    assert dict(other._footer)["customers table"] != footer["customers table"]
    assert "<footer><h2>Provenance</h2>" in doc.to_html()
    assert "## Provenance" in doc.to_markdown("figures")


def test_without_a_decision_the_report_opens_with_each_metric_in_words(harsh) -> None:
    trial, result, _ = harsh
    doc = build_report(trial.customers, trial.conversations, trial.assignments, result)
    assert doc.sections[0][0] == "At a glance"
    items = next(b for b in doc.sections[0][1] if b.kind == "bullets").content
    assert any(i.startswith("csat (one_business_day): ") for i in items)


def test_command_line_spells_the_parsed_options() -> None:
    args = argparse.Namespace(out=Path("d x"), scenario="harsh", customers=3000,
                              no_progress=True, quiet=False, policy=["a=4h", "b=1d"],
                              window_end=None, func=print, command="demo")
    assert command_line("demo", args) == ("frt demo --out 'd x' --scenario harsh --customers "
                                          "3000 --no-progress --policy a=4h --policy b=1d")


def test_forest_by_metric_gives_each_metric_its_scale_and_draws_the_margins() -> None:
    res = pd.DataFrame({"metric": ["csat", "nrr", "efficiency"],
                        "rel_diff": [-0.0125, -0.002, 0.2],
                        "rel_ci_low": [-0.03, -0.012, 0.15], "rel_ci_high": [0.005, 0.008, 0.25],
                        "significant": [False, False, True],
                        "control_arm": "fast", "treatment_arm": "one_business_day"})
    margins = {"csat": [(-0.02, "margin -2%")], "nrr": [(-0.05, "break-even")]}
    fig = plotting.plot_forest_by_metric(res, margins=margins)
    axes = fig.axes
    assert len(axes) == 3
    for ax, row in zip(axes, res.itertuples(), strict=True):
        left, right = ax.get_xlim()
        # its own scale: the interval fills a good part of the panel (not a 1% speck on 50%)
        assert left <= 100 * row.rel_ci_low
        assert 100 * row.rel_ci_high <= right
        width = 100 * (row.rel_ci_high - row.rel_ci_low)
        lines = [ln for ln in ax.get_lines() if isinstance(ln, Line2D) and ln.get_linestyle()
                 == "--"]
        assert sorted(np.asarray(ln.get_xdata())[0] for ln in lines) == [
            100 * v for v, _ in margins.get(row.metric, [])]
        assert width / (right - left) > 0.1
    alt = plotting.forest_alt_text(res, margins)
    assert "csat -1.25% (interval -3.00% to +0.50%, not significant; margin -2% at -2.00%)" in alt


def test_analyze_report_footer_has_the_command_and_the_files_sha256(tmp_path, capsys) -> None:
    d = tmp_path / "pub"
    assert main(["simulate", "--scenario", "published", "--customers", "3000", "--seed", "7",
                 "--out", str(d)]) == 0
    out = tmp_path / "out"
    tables = [d / f"{n}.csv" for n in ("customers", "conversations", "assignments")]
    assert main(["analyze", "--customers", str(tables[0]), "--conversations", str(tables[1]),
                 "--assignments", str(tables[2]), "--report", "--out", str(out)]) == 0, \
        capsys.readouterr().err
    md = (out / "report.md").read_text(encoding="utf-8")
    footer = md.split("## Provenance")[1]
    assert f"frt analyze --customers {tables[0]}" in footer
    for path in tables:
        assert hashlib.sha256(path.read_bytes()).hexdigest() in footer


def test_frt_demo_currency_reaches_the_report(tmp_path, capsys) -> None:
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), "--customers", "1500", "--seed", "3",
                 "--no-progress", "--currency", "chf"]) == 0, capsys.readouterr().err
    md = (out / "report.md").read_text(encoding="utf-8")
    decision_part = md.split("## Results")[0]
    assert re.search(r"\| Annual staffing savings \| -?CHF [0-9,]+ \|", decision_part)
    assert "$" not in decision_part
    footer = md.split("## Provenance")[1]
    assert (f"frt demo --out {out} --scenario published --customers 1500 --seed 3 "
            "--no-progress --currency chf") in footer
    assert "| Seed | 3 |" in footer


def test_frt_demo_refuses_a_bad_currency_in_one_line(tmp_path, capsys) -> None:
    assert main(["demo", "--out", str(tmp_path / "d"), "--customers", "1500",
                 "--currency", "dollars"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "currency: expected an ISO 4217 code" in err
    assert not (tmp_path / "d" / "report.html").exists()


def test_without_a_margin_the_confidence_is_that_csat_fell_at_all(harsh) -> None:
    trial, result, revenue = harsh
    table = result.to_pandas()  # a results table: decide() reads no margin from it
    decision = decide(table, low_spend_revenue_per_year=revenue, annual_staffing_savings=1.0)
    assert decision.csat_margin is None
    doc = build_report(trial.customers, trial.conversations, trial.assignments, result,
                       decision=decision)
    facts = dict(next(b for b in doc.sections[0][1] if b.kind == "facts").content)
    csat = next(m for m in result.metrics if m.metric == "csat")
    p = log_ratio_below(csat.rel_diff, csat.log_se, 0.0, df=csat.df)
    assert facts["Confidence that CSAT fell"].startswith(_shown(p) + " (normal confidence")
    verdict = next(b for b in doc.sections[0][1] if b.kind == "verdict")
    said = ("CSAT was significantly worse" if decision.csat_significantly_worse
            else "CSAT was not significantly worse")
    assert said in verdict.content
