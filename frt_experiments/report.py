"""The trial report: the decision first, then the analyst's detail, in one document.

:func:`build_report` assembles a document from the canonical tables and the outputs of the
analysis (:func:`frt_experiments.analyze`), the assignment, the staffing plan and the decision
(:func:`frt_experiments.decide`). The document writes itself as one HTML file with its plots
embedded (no external files, so it can be mailed or attached to a ticket) and as Markdown with
the plots beside it as PNG files (``figures/``).

Order, for a support leader who reads the first screen and an analyst who reads the rest:

1. **The decision** (with ``decision``): what was tested; the verdict and which clause carried
   it (CSAT within its margin, or the revenue at risk below the savings), with a caution when
   CSAT or NRR got significantly worse; the annual money in ``currency``; and the confidence
   that CSAT fell by more than its margin and that the revenue lost exceeds the savings (the
   confidence-distribution reading, :mod:`frt_experiments.stats.confidence`). Without a
   decision: what was tested and each metric's change in words.
2. **Results**: the published-style table, the forest plot (one panel per metric on its own
   scale, the margins drawn) and the margin tests.
3. The decision's figures and assumptions, diagnostics (sample ratio, covariate balance, survey
   response, treatment delivered with the FRT distributions), the dose-response (when given),
   satisfaction and volume, staffing (plan and curve), the rollout (when given) and the full
   results table (its methods as numbered notes below it).
4. **Provenance** (a footer): the package version, the command line or call that made the
   report, fingerprints of the data (SHA-256 of the input files when known, of the tables in
   memory always) and the seed when simulated.

A trial with several slow arms (:class:`frt_experiments.arms.ArmsResult`) is reported arm by arm:
the results table and forest plot hold a row per slow arm and metric, the method sentence names
the adjustment across arms and metrics, and the diagnostics give each arm's FRT against its own
policy and whether each slow arm's treatment was delivered.

References:
    Xie, M. and Singh, K. (2013). Confidence distribution, the frequentist distribution
    estimator of a parameter: a review. *International Statistical Review* 81(1), 3-39.
"""

from __future__ import annotations

import argparse
import contextlib
import contextvars
import hashlib
import math
import platform
import re
import shlex
import sys
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from frt_experiments import plotting, schema
from frt_experiments._atomic import sha256_file
from frt_experiments._document import Document
from frt_experiments._version import __version__

__all__ = ["build_report", "command_line", "format_money", "report_settings"]

#: Currency symbols shown before an amount; any other ISO 4217 code is shown as "CHF 1,200".
CURRENCY_SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥"}
_SYMBOL_CODES = {v: k for k, v in CURRENCY_SYMBOLS.items()}
_SETTINGS: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar(
    "frt_report_settings", default=None)


def _currency(value: Any) -> str:
    """An ISO 4217 code (``"usd"`` read as ``"USD"``) or one of the symbols, as its code."""
    text = value.strip() if isinstance(value, str) else None
    if text in _SYMBOL_CODES:
        return _SYMBOL_CODES[text]
    if text is None or not re.fullmatch(r"[A-Za-z]{3}", text):
        raise ValueError(f"currency: expected an ISO 4217 code of three letters (USD, EUR, "
                         f"CHF, ...) or one of {' '.join(_SYMBOL_CODES)}, got {value!r}")
    return text.upper()


def format_money(amount: float, currency: str = "USD") -> str:
    """``amount`` rounded to a whole unit with thousands separators and its currency.

    Examples:
        >>> format_money(-211981.4), format_money(12300, "chf"), format_money(5, "€")
        ('-$211,981', 'CHF 12,300', '€5')
    """
    code = _currency(currency)
    if not math.isfinite(amount):
        return "not available"
    sign = "-" if round(amount) < 0 else ""
    number = f"{abs(amount):,.0f}"
    symbol = CURRENCY_SYMBOLS.get(code)
    return f"{sign}{symbol}{number}" if symbol else f"{sign}{code} {number}"


@contextlib.contextmanager
def report_settings(*, currency: str | None = None,
                    provenance: Mapping[str, Any] | None = None) -> Iterator[None]:
    """Defaults for the reports built inside the ``with`` block (arguments given to
    :func:`build_report` win): how the CLI passes ``--currency`` and its command line to a
    report that a library function such as :func:`frt_experiments.demo.run_demo` builds."""
    token = _SETTINGS.set({"currency": None if currency is None else _currency(currency),
                           "provenance": dict(provenance or {})})
    try:
        yield
    finally:
        _SETTINGS.reset(token)


def command_line(command: str, args: argparse.Namespace) -> str:
    """The ``frt`` command line that ``args`` (parsed options) amounts to, defaults included:
    ``frt demo --out frt-demo --scenario harsh ...`` (options named from their ``dest``)."""
    words = ["frt", *command.split()]
    for key, value in vars(args).items():
        if key in ("func", "command") or callable(value) or value is None or value is False:
            continue
        option = "--" + key.replace("_", "-")
        if value is True:
            words.append(option)
        elif isinstance(value, list | tuple):
            for item in value:
                words += [option, str(item)]
        else:
            words += [option, str(value)]
    return shlex.join(words)


def _rounded(df: pd.DataFrame, digits: int = 4) -> pd.DataFrame:
    out = df.copy()
    num = out.select_dtypes("number").columns
    out[num] = out[num].round(digits)
    return out


def _with_p_values(df: pd.DataFrame, digits: int = 4) -> pd.DataFrame:
    """Numbers rounded, and ``p_value`` in significant figures (rounding showed 1e-13 as 0.0)."""
    out = _rounded(df, digits)
    if "p_value" in df.columns:
        p = pd.to_numeric(df["p_value"], errors="coerce")
        out["p_value"] = ["" if pd.isna(v) else "<1e-300" if v == 0 else f"{v:.3g}" for v in p]
    return out


def _methods_as_notes(df: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """The ``method`` column replaced by a note number (``[1]``), the methods as notes: one
    method is a paragraph, and as a cell it made rows 170 px tall."""
    if "method" not in df.columns:
        return df, []
    notes = [str(m) for m in pd.unique(df["method"].astype(str))]
    out = df.copy()
    out["method"] = [f"[{notes.index(str(m)) + 1}]" for m in df["method"].astype(str)]
    return out, notes


#: Full results of at most this many rows are shown transposed (a column per metric).
_TRANSPOSE_ROWS = 6


def _transposed(df: pd.DataFrame) -> pd.DataFrame:
    """Rows as columns, headed by the metric."""
    names = ([str(m) for m in df["metric"]] if "metric" in df.columns
             else [str(i) for i in range(len(df))])
    body = df.drop(columns=[c for c in ("metric",) if c in df.columns]).astype(object)
    out = body.T
    out.columns = names
    out.insert(0, "column", out.index.astype(str))
    return out.reset_index(drop=True)


def _method_sentence(result: Any) -> str:
    """How the table was computed, from the result's own settings."""
    alpha = float(getattr(result, "alpha", 0.05))
    alternative = str(getattr(result, "alternative", "two-sided"))
    cuped = bool(getattr(result, "cuped", False))
    rule = getattr(result, "rule", None)  # several slow arms: the family adjustment
    who = "each slow arm" if rule else "the slow arm"
    adjusted = (f"p-values adjusted across arms and metrics by {rule} beside the raw"
                if rule else "Holm-adjusted p-values beside the raw")
    return (f"Relative change of {who} against the fast arm with {100 * (1 - alpha):g}% "
            "confidence intervals: customer-level delta method (Deng, Knoblich and Lu 2018), "
            + ("CUPED on pre-period covariates where the tables have them (Deng et al. 2013), "
               if cuped else "no CUPED adjustment, ")
            + f"{alternative} Welch tests, {adjusted}.")


def _need(obj: Any, name: str, attrs: Sequence[str]) -> None:
    missing = [a for a in attrs if not hasattr(obj, a)]
    if missing:
        raise TypeError(f"{name}: expected an object with {', '.join(missing)} "
                        f"(got {type(obj).__name__})")


def _pct(x: float) -> str:
    return f"{x:+.2%}" if math.isfinite(x) else ("+inf" if x > 0 else "-inf")


def _metric(result: Any, name: str) -> Any:
    """The result's :class:`~frt_experiments.analysis.MetricResult` for ``name``, or None."""
    for m in getattr(result, "metrics", None) or ():
        if getattr(m, "metric", None) == name:
            return m
    return None


def _margin_test(result: Any, metric: str, test: str) -> Any:
    for name, t in getattr(result, "margin_tests", None) or ():
        if name == metric and getattr(t, "test", None) == test:
            return t
    return None


def _confidence(p: float) -> str:
    """A confidence in percent, saturated ends said as bounds (not "100.0%")."""
    if p > 0.999:
        return "more than 99.9%"
    if p < 0.001:
        return "less than 0.1%"
    return f"{p:.1%}"


def _level(result: Any) -> str:
    return f"{100 * (1 - float(getattr(result, 'alpha', 0.05))):g}%"


# ---------------------------------------------------------------------------- the decision
def _headline(decision: Any, money: Any) -> tuple[str, str, str]:
    """(tone, headline, sentence) of the verdict block, in a manager's words."""
    margin = decision.csat_margin
    csat_clause = (f"CSAT stayed within its {margin:+.0%} margin" if margin is not None
                   else "CSAT was not significantly worse")
    csat_failed = (f"CSAT was not shown within its {margin:+.0%} margin" if margin is not None
                   else "CSAT was significantly worse")
    which = "at NRR's pessimistic bound" if decision.basis == "ci_bound" else "at NRR's estimate"
    at_risk = (decision.revenue_at_risk_pessimistic if decision.basis == "ci_bound"
               else decision.revenue_at_risk)
    revenue_clause = (f"the revenue at risk ({money(at_risk)} a year {which}) is below the "
                      f"staffing savings ({money(decision.annual_staffing_savings)} a year)")
    revenue_failed = (f"the revenue at risk ({money(at_risk)} a year {which}) is not below "
                      f"the staffing savings ({money(decision.annual_staffing_savings)} a "
                      "year)")
    if "nrr" in decision.not_evaluated:
        revenue_failed = "revenue could not be judged (NRR was not analysed)"
    if "csat" in decision.not_evaluated:
        csat_failed = "CSAT could not be judged (it was not analysed)"
    carried = decision.carried_by
    reads = {
        "both": ("SUCCESS.", f"{csat_clause}, and {revenue_clause}."),
        "csat": ("SUCCESS, carried by CSAT.", f"{csat_clause}; that alone meets the criterion "
                 f"({revenue_failed})."),
        "revenue": ("SUCCESS, carried by the revenue clause alone.",
                    f"{csat_failed}, but {revenue_clause}, which meets the criterion."),
        "neither": ("FAILURE.", f"{csat_failed}, and {revenue_failed}."),
    }
    head, text = reads[carried]
    if decision.verdict == "inconclusive":
        problems = "; ".join(decision.trust_problems) or (
            "the clause it needs was not evaluated")
        sound = head.rstrip(".").lower()
        return ("inconclusive", "INCONCLUSIVE: the trial cannot support a decision.",
                f"{problems[0].upper() + problems[1:]}. Were it sound, the criterion would "
                f"read {sound}: {text}")
    tone = ("failure" if not decision.success
            else "tradeoff" if carried == "revenue" else "success")
    return tone, head, text


def _gain(at_risk: float) -> str:
    """Said beside a negative revenue at risk: NRR rose, so revenue is gained."""
    return " (a gain)" if round(at_risk) < 0 else ""


def _cautions(decision: Any) -> list[str]:
    parts = []
    if decision.csat_significantly_worse:
        parts.append(f"CSAT fell significantly ({_pct(decision.csat_rel_diff)}, CI "
                     f"{_pct(decision.csat_rel_ci_low)} to {_pct(decision.csat_rel_ci_high)})")
    if getattr(decision, "nrr_significantly_worse", False):
        parts.append(f"NRR fell significantly ({_pct(decision.nrr_rel_diff)}, CI "
                     f"{_pct(decision.nrr_rel_ci_low)} to {_pct(decision.nrr_rel_ci_high)})")
    return parts


def _confidence_statements(result: Any, decision: Any) -> list[tuple[str, str]]:
    """The probabilities managers ask for, read off the analysis' own confidence distributions
    (Xie and Singh 2013): each is the one-sided p-value of the matching test."""
    from frt_experiments.stats.confidence import log_ratio_below  # noqa: PLC0415

    rows: list[tuple[str, str]] = []
    margin = decision.csat_margin
    csat = _metric(result, "csat")
    test = _margin_test(result, "csat", "non-inferiority")
    if margin is not None and csat is not None and "csat" not in decision.not_evaluated:
        if test is not None and math.isclose(test.margin, margin):
            p = float(test.p_value)
            how = ("Fieller's confidence distribution: the p-value of the non-inferiority test "
                   "at the margin" if csat.inference == "normal" else
                   "the randomization test's p-value at the margin")
        else:
            p = log_ratio_below(csat.rel_diff, csat.log_se, margin, df=csat.df)
            how = "normal confidence distribution of the log ratio (delta method)"
        rows.append((f"Confidence that CSAT fell by more than its {abs(margin):.0%} margin",
                     f"{_confidence(p)} ({how})"))
    elif csat is not None and "csat" not in decision.not_evaluated and math.isfinite(
            csat.log_se):  # no margin: the confidence that CSAT fell at all
        p = log_ratio_below(csat.rel_diff, csat.log_se, 0.0, df=csat.df)
        rows.append(("Confidence that CSAT fell", f"{_confidence(p)} (normal confidence "
                     "distribution of the log ratio, delta method)"))
    nrr = _metric(result, "nrr")
    if nrr is not None and "nrr" not in decision.not_evaluated and math.isfinite(nrr.log_se):
        threshold = -float(decision.break_even_nrr_drop)
        p = (0.0 if threshold <= -1 else
             log_ratio_below(nrr.rel_diff, nrr.log_se, threshold, df=nrr.df))
        rows.append((f"Confidence that the revenue lost exceeds the savings (NRR's change "
                     f"below {_pct(threshold)})",
                     f"{_confidence(p)} (normal confidence distribution of the log ratio, "
                     "delta method)"))
    return rows


def _decision_first(doc: Document, result: Any, decision: Any, tested: str,
                    money: Any) -> None:
    doc.section("The decision")
    doc.text(tested)
    tone, head, text = _headline(decision, money)
    doc.verdict(text, tone=tone, headline=head)
    cautions = _cautions(decision)
    if cautions:
        tail = (" The verdict rests on the revenue clause: the slower policy pays for itself "
                "in staffing while these customers' satisfaction or retention fall."
                if decision.carried_by == "revenue" else "")
        doc.verdict(" and ".join(cautions) + "." + tail, tone="caution", headline="Caution:")
    basis = "NRR's pessimistic bound" if decision.basis == "ci_bound" else "NRR's estimate"
    rows = [
        ("Annual staffing savings", money(decision.annual_staffing_savings)),
        ("Revenue at risk per year",
         f"{money(decision.revenue_at_risk)}{_gain(decision.revenue_at_risk)} at NRR's "
         f"estimate; {money(decision.revenue_at_risk_pessimistic)}"
         f"{_gain(decision.revenue_at_risk_pessimistic)} at its pessimistic bound"),
        (f"Net benefit per year (savings less revenue at risk at {basis})",
         money(decision.net_benefit)),
        ("Break-even NRR drop (revenue lost = savings)", f"{decision.break_even_nrr_drop:.2%}"),
    ]
    doc.facts(rows + _confidence_statements(result, decision))
    doc.note("The confidences are the confidence-distribution reading (Xie and Singh 2013): "
             "the level of the one-sided interval that would just exclude the threshold, "
             "equal to the p-value of the one-sided test at it. They read as probabilities "
             "of the true change only in that frequentist sense (or as a Bayesian posterior "
             "under a flat prior on the log ratio), not from a prior informed by other "
             "trials.")


def _glance(doc: Document, result: Any, tested: str) -> None:
    """Without a decision: what was tested and each metric's change in words."""
    doc.section("At a glance")
    doc.text(tested)
    table = result.to_pandas()
    if {"metric", "rel_diff", "rel_ci_low", "rel_ci_high", "significant"} <= set(table.columns):
        items = []
        for row in table.itertuples(index=False):
            arm = f" ({row.treatment_arm})" if "treatment_arm" in table.columns else ""
            word = "significant" if bool(row.significant) else "not significant"
            items.append(f"{row.metric}{arm}: {_pct(float(row.rel_diff))} ({_level(result)} "
                         f"interval {_pct(float(row.rel_ci_low))} to "
                         f"{_pct(float(row.rel_ci_high))}), {word}")
        doc.bullets(items)
    decisions = getattr(result, "decisions", None)
    if isinstance(decisions, pd.DataFrame) and not decisions.empty:
        doc.bullets([f"{r.metric} {r.test} (margin {r.margin:+.0%}): {r.conclusion}"
                     for r in decisions.itertuples(index=False)])


def _forest(doc: Document, result: Any, table: pd.DataFrame, decision: Any) -> None:
    two_arms = ("treatment_arm" not in table.columns
                or len(pd.unique(table["treatment_arm"].astype(str))) <= 1)
    if not two_arms:  # several slow arms: one axis per arm pair, as the analysis draws it
        fig = result.plot() if hasattr(result, "plot") else plotting.plot_forest(table)
        doc.figure(fig, "forest", alt="Forest plot of the relative change of each slow arm "
                   "against the control, per metric, with its interval: " + "; ".join(
                       f"{r.treatment_arm} {r.metric} {_pct(float(r.rel_diff))}"
                       for r in table.itertuples(index=False)))
        return
    margins: dict[str, list[tuple[float, str]]] = {}
    csat_margin = getattr(decision, "csat_margin", None)
    test = _margin_test(result, "csat", "non-inferiority")
    if csat_margin is None and test is not None:
        csat_margin = test.margin
    if csat_margin is not None:
        margins["csat"] = [(float(csat_margin), f"margin {csat_margin:+.0%}")]
    eq = _margin_test(result, "nrr", "equivalence")
    if eq is not None:
        margins["nrr"] = [(-eq.margin, f"equivalence -{eq.margin:.0%}"),
                          (eq.margin, f"+{eq.margin:.0%}")]
    if decision is not None and 0 < decision.break_even_nrr_drop < 1:
        margins.setdefault("nrr", []).append(
            (-decision.break_even_nrr_drop, f"break-even {-decision.break_even_nrr_drop:+.1%}"))
    title = f"Relative change by metric ({_level(result)} confidence intervals)"
    doc.figure(plotting.plot_forest_by_metric(table, margins=margins, title=title), "forest",
               alt=plotting.forest_alt_text(table, margins))


def _tested(result: Any, assignments: pd.DataFrame, conversations: pd.DataFrame,
            scenario: str | None) -> str:
    table = result.to_pandas()
    n_arm = assignments.groupby(schema.ARM)[schema.CUSTOMER_ID].nunique()
    arms = ", ".join(f"{arm}: {n:,}" for arm, n in n_arm.items())
    if "treatment_arm" in table.columns and len(table):
        slow = ", ".join(str(a) for a in pd.unique(table["treatment_arm"].astype(str)))
        fast = str(table["control_arm"].iloc[0])
        what = f"What was tested: the slower first response ({slow}) against {fast}"
    else:
        what = "What was tested: the arms"
    text = (f"{what}, on {len(assignments):,} customers ({arms}) and "
            f"{len(conversations):,} conversations")
    return text + (f"; {scenario}." if scenario else ".")


# ---------------------------------------------------------------------------- provenance
def _frame_digest(df: pd.DataFrame) -> str:
    """SHA-256 of a table's content in memory: its column names and pandas' row hashes."""
    h = hashlib.sha256("\x1f".join(map(str, df.columns)).encode())
    try:
        h.update(pd.util.hash_pandas_object(df, index=False).to_numpy().tobytes())
    except TypeError:  # unhashable cells (lists): their text
        h.update(df.astype(str).to_csv(index=False).encode())
    return h.hexdigest()


def _provenance(given: Mapping[str, Any],
                tables: Sequence[tuple[str, pd.DataFrame]]) -> list[tuple[str, str]]:
    rows = [("frt-experiments", __version__),
            ("Python", f"{platform.python_version()} ({platform.platform(terse=True)})")]
    command = given.get("command")
    rows.append(("Command", str(command) if command else
                 "build_report() called from Python, process "
                 f"{shlex.join([Path(sys.argv[0]).name, *sys.argv[1:]]) if sys.argv else '?'}"))
    for name, path in dict(given.get("files") or {}).items():
        try:
            size, digest = sha256_file(Path(path))
            rows.append((f"{name} file", f"{path} ({size:,} bytes), SHA-256 {digest}"))
        except OSError as exc:
            rows.append((f"{name} file", f"{path} (not readable: {exc.strerror})"))
    for name, df in tables:
        rows.append((f"{name} table", f"{len(df):,} rows, content SHA-256 "
                     f"{_frame_digest(df)} (pandas row hashes)"))
    if given.get("seed") is not None:
        rows.append(("Seed", str(given["seed"])))
    for key, value in given.items():
        if key not in ("command", "files", "seed"):
            rows.append((str(key), str(value)))
    return rows


# ---------------------------------------------------------------------------- the report
def build_report(
    customers: pd.DataFrame,
    conversations: pd.DataFrame,
    assignments: pd.DataFrame,
    result: Any,
    *,
    summary: pd.DataFrame | None = None,
    notes: Sequence[str] = (),
    title: str = "First-response-time experiment",
    scenario: str | None = None,
    assignment: Any = None,
    staffing: pd.DataFrame | None = None,
    staffing_text: str | None = None,
    curve: pd.DataFrame | None = None,
    decision: Any = None,
    assumptions: Sequence[str] = (),
    dose_response: Any = None,
    rollout: Any = None,
    currency: str | None = None,
    provenance: Mapping[str, Any] | None = None,
) -> Document:
    """Assemble the trial report; call ``.write(out_dir)`` on it to write HTML and Markdown.

    Args:
        customers, conversations, assignments: The canonical tables the result was computed on.
        result: The analysis result (:class:`frt_experiments.ExperimentResult`).
        summary: The headline table (default ``result.summary()``).
        notes: Sentences shown under the headline table.
        title: The document's title.
        scenario: Where the data came from, shown in what was tested.
        assignment: The :class:`frt_experiments.AssignmentResult` (counts, SRM, balance);
            without it the balance is computed from ``customers`` and ``assignments``.
        staffing: Agents needed per staffing policy (e.g. ``StaffingPlan.to_pandas()``).
        staffing_text: The staffing plan's summary in words and figures.
        curve: Staffing curve (``target_hours``, ``policy``, ``agents``).
        decision: The decision (:class:`frt_experiments.Decision`): the report opens with it.
        assumptions: Assumptions behind the decision, one sentence each.
        dose_response: The dose-response estimates (an object with ``add_to(doc)``, e.g.
            :mod:`frt_experiments.dose_response`'s result): a section "Dose-response" after
            the diagnostics, filled by ``dose_response.add_to(doc)``.
        rollout: The rollout's prediction or frontier (an object with ``add_to(doc)``, e.g.
            :func:`frt_experiments.rollout_frontier`'s or :func:`frt_experiments.predict_rollout`'s
            result): a section "Rollout" after the staffing, filled by ``rollout.add_to(doc)``.
        currency: The currency of the money figures: an ISO 4217 code (``"USD"``, ``"EUR"``,
            ``"CHF"``; shown as ``$12,300`` for USD, EUR, GBP and JPY, else ``CHF 12,300``) or
            one of ``$ € £ ¥``. Default: :func:`report_settings`' or ``"USD"``.
        provenance: What made the report, for its footer: ``command`` (the command line or
            call), ``files`` (name -> path of the input files, fingerprinted by SHA-256),
            ``seed``, and any other ``key: value`` shown as given. The package version and the
            tables' content fingerprints are always shown.

    Raises:
        TypeError: ``result``, ``decision``, ``dose_response`` or ``rollout`` lacks what the
            report reads.
        ValueError: ``currency`` is not a three-letter code nor a known symbol.
    """
    _need(result, "result", ("to_pandas", "summary"))
    settings = _SETTINGS.get() or {}
    code = _currency(currency if currency is not None else settings.get("currency") or "USD")
    given = {**(settings.get("provenance") or {}), **dict(provenance or {})}

    def money(x: float) -> str:
        return format_money(x, code)

    table = result.to_pandas()
    doc = Document(title)
    tested = _tested(result, assignments, conversations, scenario)
    if decision is not None:
        _need(decision, "decision", ("verdict", "reason", "summary", "csat_ok", "revenue_ok"))
        _decision_first(doc, result, decision, tested, money)
    else:
        _glance(doc, result, tested)

    doc.section("Results").text(_method_sentence(result))
    doc.table(result.summary() if summary is None else summary)
    for note in notes:
        doc.note(note)
    _forest(doc, result, table, decision)
    decisions = getattr(result, "decisions", None)
    if isinstance(decisions, pd.DataFrame) and not decisions.empty:
        doc.text("Margin tests on the relative change (non-inferiority for CSAT: the "
                 "one-sided 1 - alpha bound must lie above the margin; equivalence for NRR by "
                 "TOST: the 1 - 2 alpha interval must lie inside +-margin):")
        doc.table(_with_p_values(decisions))

    if decision is not None:
        doc.section("Decision: the figures behind it")
        doc.text(f"Why: {decision.reason}")
        if getattr(decision, "trust_note", ""):
            doc.note(f"Note: {decision.trust_note}.")
        doc.facts(_decision_rows(decision, money))
        if assumptions:
            doc.text("Assumptions:")
            doc.bullets(list(assumptions))

    _diagnostics(doc, result, customers, conversations, assignments, assignment=assignment)

    if dose_response is not None:
        _need(dose_response, "dose_response", ("add_to",))
        doc.section("Dose-response")
        dose_response.add_to(doc)

    readouts = _segment_readouts(result)
    for k, segments in enumerate(readouts, start=1):
        doc.section(f"Segments: {segments.treatment_arm} against {segments.control_arm}")
        segments.add_to(doc, name="segments" if len(readouts) == 1 else f"segments_{k}")

    doc.section("Satisfaction and volume")
    doc.text("CSAT by the first response each conversation actually got (a description of the "
             "dose-response, not the experiment's test), and conversations per customer per week.")
    doc.figure(plotting.plot_csat_by_frt(conversations, assignments), "csat_by_frt",
               alt="CSAT (share satisfied) per band of business hours to first response, one "
               "line per arm, with the number of rated conversations per band.")
    doc.figure(plotting.plot_questions_over_time(conversations, assignments), "questions",
               alt="Conversations per customer per week over the trial, one line per arm.")

    if staffing is not None or curve is not None or staffing_text:
        doc.section("Staffing")
        if staffing_text:
            doc.preformatted(staffing_text)
        if staffing is not None:
            doc.table(_rounded(staffing))
        if curve is not None:
            doc.figure(plotting.plot_staffing_curve(curve), "staffing_curve",
                       alt=_curve_alt(curve))

    if rollout is not None:
        _need(rollout, "rollout", ("add_to",))
        doc.section("Rollout: the predicted effect and the target that pays most")
        rollout.add_to(doc)

    doc.section("Full results (the columns of results.csv)")
    full, methods = _methods_as_notes(_with_p_values(table, 6))
    # in HTML one column per metric (sixteen numbers fit no row of the text column), a table
    # per slow arm; the Markdown keeps the rows of results.csv
    parts = ([(str(arm), part) for arm, part in full.groupby("treatment_arm", sort=False)]
             if "treatment_arm" in full.columns else [("", full)])
    if all(len(part) <= _TRANSPOSE_ROWS for _, part in parts):
        for i, (arm, part) in enumerate(parts):
            if len(parts) > 1:
                doc.text(f"Slow arm {arm} against {part['control_arm'].iloc[0]}:")
            doc.table(part, html_view=_transposed(part),
                      footnotes=methods if i == len(parts) - 1 else ())
    else:
        doc.table(full, footnotes=methods)
    doc.footer(_provenance(given, [("customers", customers), ("conversations", conversations),
                                   ("assignments", assignments)]))
    return doc


def _segment_readouts(result: Any) -> list[Any]:
    """The segment readouts (:mod:`frt_experiments.segments`) of a result, one per slow arm."""
    results = getattr(result, "results", None) or [result]
    return [r.by_segment for r in results if getattr(r, "by_segment", None) is not None]


def _decision_rows(decision: Any, money: Any) -> list[tuple[str, str]]:
    """The decision's figures (its ``summary()``) with the money in the report's currency."""
    amounts = {
        "Low-spend revenue per year": decision.low_spend_revenue_per_year,
        "Revenue at risk per year (estimate)": decision.revenue_at_risk,
        "Revenue at risk per year (pessimistic bound)": decision.revenue_at_risk_pessimistic,
        "Annual staffing savings": decision.annual_staffing_savings,
        "Net benefit per year": decision.net_benefit,
        "Revenue at risk per year, rollout (predicted)":
            getattr(decision, "rollout_revenue_at_risk", math.nan),
    }
    rows = decision._rows() if hasattr(decision, "_rows") else []
    return [(k, money(amounts[k]) if k in amounts else v) for k, v in rows]


def _curve_alt(curve: pd.DataFrame) -> str:
    parts = []
    for policy, d in curve.groupby("policy", sort=False):
        pts = ", ".join(f"{t:g} h: {a:g}" for t, a in
                        zip(d["target_hours"], d["agents"], strict=True))
        parts.append(f"{policy} ({pts})")
    return ("Staffing curve: agents needed against the fast queue's first-response target in "
            "business hours, per policy: " + "; ".join(parts) + ".")


def _diagnostics(doc: Document, result: Any, customers: pd.DataFrame,
                 conversations: pd.DataFrame, assignments: pd.DataFrame, *,
                 assignment: Any) -> None:
    doc.section("Diagnostics: was the experiment run as designed?")
    diag = getattr(result, "diagnostics", None)
    srm = getattr(assignment, "srm", None) or getattr(diag, "srm", None)
    if srm is not None:
        doc.text(f"Sample ratio: chi-square {srm.statistic:.3f}, p = {srm.p_value:.4g} -- "
                 + ("MISMATCH (p < 0.001): find the cause before trusting any result."
                    if srm.flagged else "no mismatch (flagged at p < 0.001)."))
    if assignment is not None:
        balance = assignment.balance
    else:
        from frt_experiments.balance import covariate_balance  # noqa: PLC0415

        balance = covariate_balance(customers, assignments, warn=False)
    if not balance.empty:
        doc.text("Covariate balance (standardized mean difference of pre-period covariates; "
                 "|SMD| > 0.1 is flagged):")
        several = ("treatment_arm" in balance.columns
                   and len(set(balance["treatment_arm"].dropna())) > 1)
        cols = [c for c in ("treatment_arm" if several else "", "covariate", "n_control",
                            "n_treatment", "control", "treatment", "smd", "imbalanced")
                if c in balance.columns]
        doc.table(_rounded(balance[cols]))
    by_arm = getattr(diag, "delivered", None)
    if diag is not None and isinstance(by_arm, dict):  # several slow arms
        doc.text("Treatment delivered per arm (each slow arm's median business-hours FRT "
                 "above the control's target, the control's within it): " + "; ".join(
                     f"{arm}: {'yes' if ok else 'NO'}" for arm, ok in by_arm.items()) + ".")
        for name, caption in (("frt", "First response time per arm, each against its own "
                               "policy (hours):"),
                              ("response_rates", "CSAT survey response per arm, each slow arm "
                               "against the control (a slower arm may change who answers "
                               "surveys):")):
            part = getattr(diag, name, None)
            if isinstance(part, pd.DataFrame):
                doc.text(caption)
                doc.table(_rounded(part))
        for w in getattr(diag, "warnings", None) or []:
            doc.verdict(f"Warning: {w}", tone="caution")
    elif diag is not None:
        delivered = getattr(diag, "treatment_delivered", None)
        if delivered is not None:
            doc.text("Treatment delivered: " + (
                "yes -- the arms' first response times differ as designed."
                if delivered else "NO -- the arms' first response times do not differ as "
                "designed; the trial does not test the policy."))
        for name, caption in (("frt", "First response time per arm (hours):"),
                              ("response_rates", "CSAT survey response per arm (a slower arm "
                               "may change who answers surveys):")):
            part = getattr(diag, name, None)
            if isinstance(part, pd.DataFrame):
                doc.text(caption)
                doc.table(_rounded(part))
        for w in getattr(diag, "warnings", None) or []:
            doc.verdict(f"Warning: {w}", tone="caution")
    doc.figure(plotting.plot_frt_distribution(conversations, assignments), "frt_distribution",
               alt=_frt_alt(conversations, assignments))


def _frt_alt(conversations: pd.DataFrame, assignments: pd.DataFrame) -> str:
    text = ("Distribution of the first response time per arm (share of conversations "
            "answered within each time)")
    try:
        joined = plotting.conversations_by_arm(conversations, assignments)
        col = next(c for c in ("frt_business_hours", "frt_calendar_hours")
                   if c in joined.columns)
        unit = "business" if col == "frt_business_hours" else "calendar"
        med = joined.groupby(schema.ARM)[col].median()
        text += f": median in {unit} hours " + ", ".join(f"{arm} {v:.2f}"
                                                         for arm, v in med.items())
    except (KeyError, StopIteration, ValueError):
        pass
    return text + "."
