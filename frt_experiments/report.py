"""The trial report: results, plots, staffing and the decision in one self-contained document.

:func:`build_report` assembles a document from the canonical tables and the outputs of the
analysis (:func:`frt_experiments.analyze`), the assignment, the staffing plan and the decision
(:func:`frt_experiments.decide`). The document writes itself as one HTML file with its plots
embedded (no external files, so it can be mailed or attached to a ticket) and as Markdown with
the plots beside it as PNG files (``figures/``).

Everything after the results is optional, so the same function reports a trial with or without
a staffing model. Sections, in order: results (the published-style table and the forest plot),
the decision with its figures and assumptions, diagnostics (sample ratio, covariate balance,
survey response, treatment delivered with the FRT distributions), the dose-response (when
given), satisfaction and volume (CSAT by FRT band, questions over time), staffing (plan and
curve), the rollout (its predicted effect, or the frontier over slow-arm targets, when given) and
the full results table.

A trial with several slow arms (:class:`frt_experiments.arms.ArmsResult`) is reported arm by arm:
the results table and forest plot hold a row per slow arm and metric, the method sentence names
the adjustment across arms and metrics, and the diagnostics give each arm's FRT against its own
policy and whether each slow arm's treatment was delivered.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

from frt_experiments import plotting, schema
from frt_experiments._document import Document

__all__ = ["build_report"]


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
) -> Document:
    """Assemble the trial report; call ``.write(out_dir)`` on it to write HTML and Markdown.

    Args:
        customers, conversations, assignments: The canonical tables the result was computed on.
        result: The analysis result (:class:`frt_experiments.ExperimentResult`).
        summary: The headline table (default ``result.summary()``).
        notes: Sentences shown under the headline table.
        title: The document's title.
        scenario: Where the data came from, shown under the title.
        assignment: The :class:`frt_experiments.AssignmentResult` (counts, SRM, balance);
            without it the balance is computed from ``customers`` and ``assignments``.
        staffing: Agents needed per staffing policy (e.g. ``StaffingPlan.to_pandas()``).
        staffing_text: The staffing plan's summary in words and figures.
        curve: Staffing curve (``target_hours``, ``policy``, ``agents``).
        decision: The decision (:class:`frt_experiments.Decision`).
        assumptions: Assumptions behind the decision, one sentence each.
        dose_response: The dose-response estimates (an object with ``add_to(doc)``, e.g.
            :mod:`frt_experiments.dose_response`'s result): a section "Dose-response" after
            the diagnostics, filled by ``dose_response.add_to(doc)``.
        rollout: The rollout's prediction or frontier (an object with ``add_to(doc)``, e.g.
            :func:`frt_experiments.rollout_frontier`'s or :func:`frt_experiments.predict_rollout`'s
            result): a section "Rollout" after the staffing, filled by ``rollout.add_to(doc)``.
    """
    _need(result, "result", ("to_pandas", "summary"))
    table = result.to_pandas()
    doc = Document(title)

    n_arm = assignments.groupby(schema.ARM)[schema.CUSTOMER_ID].nunique()
    intro = (f"{len(assignments):,} assigned customers ("
             + ", ".join(f"{arm}: {n:,}" for arm, n in n_arm.items())
             + f"), {len(conversations):,} conversations")
    if scenario:
        intro += f"; {scenario}"
    doc.section("Results").text(intro + ". " + _method_sentence(result))
    doc.table(result.summary() if summary is None else summary)
    for note in notes:
        doc.text(note)
    doc.figure(result.plot() if hasattr(result, "plot") else plotting.plot_forest(table),
               "forest")
    decisions = getattr(result, "decisions", None)
    if isinstance(decisions, pd.DataFrame) and not decisions.empty:
        doc.text("Margin tests on the relative change (non-inferiority for CSAT: the "
                 "one-sided 1 - alpha bound must lie above the margin; equivalence for NRR by "
                 "TOST: the 1 - 2 alpha interval must lie inside +-margin):")
        doc.table(_with_p_values(decisions))

    if decision is not None:
        _need(decision, "decision", ("verdict", "reason", "summary"))
        doc.section("Decision")
        doc.verdict(f"{str(decision.verdict).upper()}: {decision.reason}")
        lines = str(decision.summary()).splitlines()
        if lines and lines[0].startswith("Decision:"):  # the verdict above says it already
            lines = lines[1:]
        doc.preformatted("\n".join(lines))
        if assumptions:
            doc.text("Assumptions:")
            doc.bullets(list(assumptions))

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
            doc.verdict(f"Warning: {w}")
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
            doc.verdict(f"Warning: {w}")
    doc.figure(plotting.plot_frt_distribution(conversations, assignments), "frt_distribution")

    if dose_response is not None:
        _need(dose_response, "dose_response", ("add_to",))
        doc.section("Dose-response")
        dose_response.add_to(doc)

    doc.section("Satisfaction and volume")
    doc.text("CSAT by the first response each conversation actually got (a description of the "
             "dose-response, not the experiment's test), and conversations per customer per week.")
    doc.figure(plotting.plot_csat_by_frt(conversations, assignments), "csat_by_frt")
    doc.figure(plotting.plot_questions_over_time(conversations, assignments), "questions")

    if staffing is not None or curve is not None or staffing_text:
        doc.section("Staffing")
        if staffing_text:
            doc.preformatted(staffing_text)
        if staffing is not None:
            doc.table(_rounded(staffing))
        if curve is not None:
            doc.figure(plotting.plot_staffing_curve(curve), "staffing_curve")

    if rollout is not None:
        _need(rollout, "rollout", ("add_to",))
        doc.section("Rollout: the predicted effect and the target that pays most")
        rollout.add_to(doc)

    doc.section("Full results (the columns of results.csv)")
    doc.table(_with_p_values(table, 6))
    return doc
