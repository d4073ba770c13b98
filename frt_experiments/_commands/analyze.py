"""``frt analyze``: the four metrics of a trial -> results.csv, summary.md and forest.png.

With several slow arms (``--treatment a,b,c`` or a plan's ``[arms]``) every slow arm is compared
with the control: results.csv gains the ``arm`` column and the family-adjusted ``p_adjusted``
(``--multiplicity``), summary.md one block per slow arm under the family table.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

from frt_experiments._commands import _names
from frt_experiments._commands._args import (
    add_calendar_options,
    check_output_dir,
    desk_calendar,
)
from frt_experiments._commands._args import window_end as parse_window_end
from frt_experiments._commands._source import add_source_options, engine_tables, wants_engine
from frt_experiments.errors import DataError, DataWarning, LedgerError

if TYPE_CHECKING:
    import pandas as pd

    from frt_experiments.calendar import BusinessCalendar
    from frt_experiments.plan import ExperimentPlan


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "analyze",
        help="analyse a trial: questions, CSAT, NRR and efficiency with intervals",
        description="Compare the treatment arm with the control arm on questions per customer, "
        "CSAT, net revenue retention and efficiency (conversations per agent hour), customer-"
        "clustered (delta method), with CUPED when pre-period covariates exist, Holm-adjusted "
        "p-values, and CSAT non-inferiority / NRR equivalence when margins are given. Writes "
        "results.csv, trust.json, summary.md, forest.png and manifest.json (each file's size "
        "and SHA-256) to --out, all made visible together (a killed run leaves the earlier set "
        "or the new one), and prints the summary table. Tables written by frt simulate are "
        "checked against the manifest.json beside them.",
    )
    p.add_argument("--customers", type=Path, metavar="FILE|TABLE",
                   help="the customers table: a file, or with --source a table")
    p.add_argument("--conversations", type=Path, metavar="FILE|TABLE",
                   help="the conversations table: a file, or with --source a table "
                   "(with --layout: left out)")
    p.add_argument("--assignments", type=Path, metavar="FILE|TABLE",
                   help="the assignments table: a file (e.g. the ledger), or with --source a "
                   "table")
    add_source_options(p)
    p.add_argument("--out", type=Path, required=True, metavar="DIR",
                   help="output directory; an earlier run's files of frt analyze's own names "
                   f"({', '.join(OUTPUTS)}) that this run does not write are removed, "
                   "other files are left alone")
    p.add_argument("--no-cuped", action="store_true", help="do not adjust by CUPED")
    p.add_argument("--inference", choices=("auto", "normal", "randomization"), default="auto",
                   help="auto (default): per metric, normal theory where it holds, else a "
                   "randomization test; normal: Welch and the delta method throughout; "
                   "randomization: randomization tests throughout")
    p.add_argument("--metrics", metavar="M,M,...",
                   help="metrics to analyse, among questions, csat, nrr, efficiency (default: "
                   "every metric the tables support; the others are listed as not analysed)")
    p.add_argument("--permutations", type=int, default=9_999, metavar="B",
                   help="random re-assignments of a randomization test (default 9999)")
    p.add_argument("--alpha", type=float, default=None, metavar="A",
                   help="level of the tests (default 0.05, or the plan's)")
    p.add_argument("--plan", type=Path, metavar="PLAN.toml",
                   help="experiment plan: alpha, alternative, margins, monitoring looks and "
                   "the arms' weights")
    p.add_argument("--weights", metavar="ARM=SHARE,...",
                   help="the designed allocation the sample ratio is tested against, one share "
                   "per assigned arm summing to 1, e.g. fast=0.9,one_business_day=0.1 "
                   "(default: the plan's or the ledger's, else equal arms)")
    p.add_argument("--ledger-meta", type=Path, metavar="FILE",
                   help="take the weights from the ledger's design record: its "
                   "<ledger>.meta.json, or the ledger itself (frt assign)")
    p.add_argument("--look", type=int, metavar="K",
                   help="this analysis is look K of the plan's group-sequential monitoring "
                   "(default with a plan of several looks: its last look)")
    p.add_argument("--information", metavar="F,F,...",
                   help="information fractions reached at looks 1..K (e.g. 0.21,0.4), when "
                   "they differ from the plan's")
    p.add_argument("--csat-margin", type=float, metavar="M",
                   help="relative CSAT non-inferiority margin, e.g. -0.02")
    p.add_argument("--nrr-margin", type=float, metavar="M",
                   help="relative NRR equivalence margin, e.g. 0.01")
    p.add_argument("--control", default=None, metavar="ARM",
                   help="control arm (fast, or the first arm of the plan's [arms])")
    p.add_argument("--treatment", default=None, metavar="ARM[,ARM,...]",
                   help="treatment arm (one_business_day), or several slow arms, comma-"
                   "separated, each compared with the control with p-values adjusted across "
                   "arms and metrics (default with a plan's [arms]: its slow arms)")
    p.add_argument("--policy", action="append", default=None, metavar="ARM=NAME",
                   help="an arm's FRT policy for the diagnostics, e.g. four_hours=4h, "
                   "two_business_days=two_business_days (repeatable; default: the plan's "
                   "[arms], else the control 4h and a slow arm the policy its name reads as)")
    p.add_argument("--multiplicity", choices=("holm", "dunnett"), default="holm",
                   help="with several slow arms: holm (default) over every arm and metric, or "
                   "dunnett across the arms within each metric, step-down with bonferroni across "
                   "the metrics left")
    p.add_argument("--window-end", metavar="TIMESTAMP",
                   help="end of the analysis window, ISO 8601 with offset (default: the "
                   "latest conversation)")
    p.add_argument("--timezone", metavar="ZONE",
                   help="IANA zone of naive timestamps (default: naive timestamps are errors)")
    add_calendar_options(p, purpose="for FRT in business hours in the diagnostics")
    p.add_argument("--report", action="store_true",
                   help="also write report.html and report.md with figures/: the results per "
                   "slow arm, the diagnostics, and the dose-response (the effect per unit of "
                   "first-response time, instrumented by the arms; frt dose-response)")
    p.add_argument("--by", metavar="DIM[,DIM,...]",
                   help="segment readouts: every metric per level of each dimension -- a "
                   "column of the customers table (segment, country, ...), spend_band or "
                   "contact_tercile -- written to segments.csv, heterogeneity.csv, segments.md "
                   "and segments.png (default: the plan's [segments])")
    p.add_argument("--spend-bands", metavar="X,Y,...",
                   help="cut points of revenue_start for --by spend_band (default: the plan's, "
                   "else the terciles)")
    p.add_argument("--fdr", choices=("bh", "holm"), default=None,
                   help="how the segment readouts' p-values are adjusted across segments x "
                   "metrics: bh (Benjamini-Hochberg, default) or holm")
    p.add_argument("--min-segment-customers", type=int, default=None, metavar="N",
                   help="customers a segment needs per arm to be analysed (default 10); a "
                   "smaller one is listed as not analysed")
    p.add_argument("--no-diagnostics", action="store_true",
                   help="skip the diagnostics (sample ratio, response rates, FRT per arm)")
    p.set_defaults(func=run)


#: Slow arms whose segment readouts get a figure of their own in the report.
MAX_SEGMENT_FIGURES = 12
#: Every file frt analyze writes into --out (trust.json: the diagnostics' trust flags and the
#: desk calendar, read by frt decide and frt staffing plan --results beside results.csv).
OUTPUTS = ("results.csv", _names.TRUST_FILE, "summary.md", "forest.png", "sequential.csv",
           "segments.csv", "heterogeneity.csv", "segments.md", "segments.png",
           "report.html", "report.md",
           *(f"figures/{n}.png" for n in ("forest", "frt_distribution", "dose_response",
                                          "csat_by_frt", "questions", "segments")),
           # the report's segment figure per slow arm when there are several
           *(f"figures/segments_{k}.png" for k in range(1, MAX_SEGMENT_FIGURES + 1)))

SEQUENTIAL_NOTE = ("With a monitoring plan, judge each metric by its sequential verdict and "
                   "repeated interval: the table's 'significant' column and intervals, and "
                   "the margin decisions, are fixed-sample and do not allow for the plan's "
                   "looks.")


def run(args: argparse.Namespace) -> int:
    import pandas as pd  # noqa: PLC0415 (heavy imports)

    from frt_experiments import schema  # noqa: PLC0415 (heavy imports)
    from frt_experiments._outputs import (  # noqa: PLC0415 (heavy imports)
        output_set,
        require_manifest,
        stage_document,
    )
    from frt_experiments.analysis import ExperimentResult, analyze  # noqa: PLC0415 (heavy imports)
    from frt_experiments.arms import ArmsResult  # noqa: PLC0415 (heavy imports)
    from frt_experiments.decision import TRUST_FILE, trust_json  # noqa: PLC0415 (heavy imports)
    from frt_experiments.plan import allocation_problems, read_plan  # noqa: PLC0415 (heavy imports)
    from frt_experiments.schema import (  # noqa: PLC0415 (heavy imports)
        check_tables,
        read_table,
        write_table,
    )
    check_output_dir(args.out, "--out")
    if args.permutations < 99:
        raise ValueError(f"--permutations must be at least 99, got {args.permutations}")
    plan = read_plan(args.plan) if args.plan is not None else None
    if plan is not None and args.alpha is not None and args.alpha != plan.alpha:
        raise ValueError(f"--alpha {args.alpha:g} disagrees with the plan's alpha "
                         f"{plan.alpha:g} ({args.plan.name}); give one of them")
    alpha = args.alpha if args.alpha is not None else (plan.alpha if plan else 0.05)
    information = _fractions(args.information)
    if (args.look is not None or information is not None) and plan is None:
        raise ValueError("--look and --information need --plan (its monitoring looks)")
    sequential = plan is not None and (args.look is not None or (plan.looks or 1) > 1)
    if plan is not None and args.look is not None and not 1 <= args.look <= (plan.looks or 1):
        raise ValueError(f"--look {args.look}: the plan {args.plan.name} has looks 1 to "
                         f"{plan.looks or 1}")
    if information is not None and args.look is not None and len(information) != args.look:
        raise ValueError(f"--information: give {args.look} fractions for looks 1 to "
                         f"{args.look}, got {len(information)}")
    weights, weights_source = _design_weights(args, plan)
    treatment = _treatment(args.treatment)
    several = not isinstance(treatment, str) and (treatment is not None or (
        plan is not None and plan.arms is not None and len(plan.arms) > 2))
    if several and sequential:
        raise ValueError("--plan/--look: group-sequential monitoring of several slow arms is not "
                         "supported yet; analyse one slow arm at a time (--treatment ARM)")
    policies = _policies(args.policy, plan, _calendar(args))
    on_engine = wants_engine(args)
    if on_engine and args.report:
        raise ValueError("--report: the report reads the tables in memory; analyse the files, "
                         "or run frt analyze on the engine without --report")
    given = [p for p in (args.customers, args.conversations, args.assignments) if p is not None]
    # tables of one frt simulate run: refuse one changed or mixed in from another run
    require_manifest([p for p in given if p.is_file()] if on_engine else given)
    if on_engine:
        tables, where = engine_tables(args)
        customers, conversations, assignments = (tables[n] for n in
                                                 ("customers", "conversations", "assignments"))
        print(f"tables in {where}: checked and analysed there", file=sys.stdout)
    else:
        for name in ("customers", "conversations", "assignments"):
            if getattr(args, name) is None:
                raise ValueError(f"give --{name} (a file, or a table with --source)")
        customers = read_table(args.customers, "customers")
        conversations = read_table(args.conversations, "conversations", timezone=args.timezone)
        assignments = read_table(args.assignments, "assignments", timezone=args.timezone)
        names = {"customers": args.customers.name, "conversations": args.conversations.name,
                 "assignments": args.assignments.name}
        problems = check_tables(customers, conversations, assignments, names=names)
        if problems:
            raise DataError(problems)
        if weights is not None:
            arms = [str(a) for a in pd.unique(assignments[schema.ARM].dropna())]
            wrong = allocation_problems(weights, weights_source, arms)
            if wrong:
                raise ValueError(wrong[0])
        if treatment is not None and not isinstance(treatment, str):
            present = {str(a) for a in assignments[schema.ARM].dropna().unique()}
            have = ", ".join(sorted(present))
            for arm in [args.control, *treatment]:
                if arm is not None and arm not in present:
                    raise ValueError(f"--{'treatment' if arm in treatment else 'control'}: "
                                     f"arm {arm!r} is not in the assignments "
                                     f"({args.assignments.name}: arms {have})")
    window_end = parse_window_end(args.window_end)
    result = analyze(customers, conversations, assignments, alpha=alpha,
                     cuped=not args.no_cuped, inference=args.inference,
                     permutations=args.permutations, metrics=args.metrics,
                     control=args.control, treatment=treatment, policies=policies,
                     multiplicity=args.multiplicity,
                     csat_margin=args.csat_margin, nrr_margin=args.nrr_margin, plan=plan,
                     window_end=window_end, diagnostics=not args.no_diagnostics,
                     validate=on_engine, calendar=_calendar(args), weights=weights,
                     by=args.by, spend_bands=_numbers(args.spend_bands, "--spend-bands"),
                     fdr=args.fdr, min_segment_customers=args.min_segment_customers)
    segments = _segment_outputs(result)
    markdown = result.to_markdown()
    seq = (result.sequential(look=args.look, information=information)
           if sequential and isinstance(result, ExperimentResult) else None)
    if seq is not None and plan is not None:
        look = args.look if args.look is not None else (plan.looks or 1)
        markdown += (f"\n### Sequential monitoring: look {look} of {plan.looks or 1} "
                     f"({plan.spending} alpha spending)\n\n{SEQUENTIAL_NOTE}\n\n"
                     + _markdown(seq) + "\n")
    desk = None if args.no_diagnostics else desk_calendar(args)[1]
    if desk is not None:
        markdown += f"\nDesk calendar of the diagnostics' business hours: {desk}.\n"
    figure = result.plot()
    doc = (_report(result, (customers, conversations, assignments), policies=policies,
                   args=args, alpha=alpha, window_end=window_end) if args.report else None)
    # every output (results.csv with its trust.json, summary.md, forest.png, sequential.csv
    # and manifest.json) becomes visible together; an earlier run's sequential.csv that this
    # run does not write is removed by the same commit
    with output_set(args.out, command="frt analyze", names=OUTPUTS) as outputs:
        results_tmp = outputs.path("results.csv")
        write_table(result.to_pandas(), results_tmp)
        outputs.write_bytes(TRUST_FILE, trust_json(result, results_tmp.read_bytes(),
                                                   desk_calendar=desk).encode())
        outputs.write_text("summary.md", markdown)
        figure.savefig(outputs.path("forest.png"), dpi=120, format="png")
        if seq is not None:
            write_table(seq, outputs.path("sequential.csv"))
        if segments is not None:
            table, heterogeneity, text, seg_figure = segments
            write_table(table, outputs.path("segments.csv"))
            write_table(heterogeneity, outputs.path("heterogeneity.csv"))
            outputs.write_text("segments.md", text)
            seg_figure.savefig(outputs.path("segments.png"), dpi=120, format="png")
        if doc is not None:
            stage_document(outputs, doc)
    written, removed = outputs.written, outputs.removed
    for note in outputs.notes:
        print(f"note: {note}", file=sys.stdout)
    print(result.summary().to_string(index=False), file=sys.stdout)
    dec = result.decisions
    for row in dec.itertuples(index=False):
        arm = f"{row.arm} " if "arm" in dec.columns else ""
        print(f"{arm}{row.metric} {row.test}: {row.conclusion} (p = {row.p_value:.4g})",
              file=sys.stdout)
    if isinstance(result, ArmsResult):
        print(f"p-values adjusted by {result.rule} (p_adjusted in results.csv)",
              file=sys.stdout)
    if weights is not None and not args.no_diagnostics:
        shares = ", ".join(f"{arm} {share:.4g}" for arm, share in weights.items())
        print(f"sample ratio tested against the weights {shares} ({weights_source})",
              file=sys.stdout)
    if seq is not None:
        print(SEQUENTIAL_NOTE, file=sys.stdout)
        for r in seq.itertuples(index=False):
            print(f"{r.metric} sequential: z = {r.z:+.3f} vs boundary {r.bound:.3f} -> "
                  f"{r.decision}; repeated {_level(plan)} CI of the relative change "
                  f"{_rel_interval(r.rel_rci_low, r.rel_rci_high)}", file=sys.stdout)
    if segments is not None:
        _print_segments(segments[0], segments[1], alpha)
    if desk is not None:
        print(f"desk calendar: {desk}", file=sys.stdout)
    for path in written:
        print(f"wrote {path}", file=sys.stdout)
    for path in removed:
        print(f"removed {path} (an earlier run's, not written by this one)", file=sys.stdout)
    return 0


def _report(result: Any, tables: tuple[Any, Any, Any], *, policies: dict[str, str] | None,
            args: argparse.Namespace, alpha: float, window_end: Any) -> Any:
    """The trial report (:func:`frt_experiments.build_report`) with its dose-response section;
    a dose-response the data cannot give (e.g. no arm moves the first-response time) is a note
    in the report, not a failure of the analysis."""
    from frt_experiments.arms import ArmsResult  # noqa: PLC0415 (heavy imports)
    from frt_experiments.dose_response import dose_response  # noqa: PLC0415 (heavy imports)
    from frt_experiments.report import build_report, command_line  # noqa: PLC0415

    customers, conversations, assignments = tables
    arms = ([result.control, *result.treatments] if isinstance(result, ArmsResult)
            else [result.metrics[0].control_arm, result.metrics[0].treatment_arm])
    calendar = desk_calendar(args)[0]
    notes: list[str] = []
    dose = None
    # the policies the analysis judged FRT by; two arms by role (fast: 4h, slow: one day)
    names = dict(getattr(result, "policies", None) or {})
    if not isinstance(result, ArmsResult):
        names = {arms[0]: "4h", arms[1]: "one_business_day"} | dict(policies or {})
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        try:
            dose = dose_response(customers, conversations, assignments, calendar=calendar,
                                 policies=names if set(arms) <= set(names) else None,
                                 control=arms[0], arms=arms, alpha=alpha,
                                 window_end=window_end, validate=False)
        except ValueError as exc:
            notes.append(f"Dose-response not estimated: {exc}.")
    notes += [f"Dose-response: {w.message}" for w in seen
              if issubclass(w.category, DataWarning)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the diagnostics' warnings are in the report itself
        # the footer: this command line and the SHA-256 of the files it read
        files = {name: getattr(args, name) for name in ("customers", "conversations",
                                                         "assignments")}
        return build_report(customers, conversations, assignments, result, notes=notes,
                            dose_response=dose, provenance={
                                "command": command_line("analyze", args), "files": files})


def _numbers(text: str | None, option: str) -> list[float] | None:
    """A comma-separated list of numbers, or ``None``."""
    if text is None:
        return None
    try:
        return [float(x) for x in text.split(",")]
    except ValueError:
        raise ValueError(f"{option}: give comma-separated numbers (e.g. 25,50), got "
                         f"{text!r}") from None


def _segment_outputs(result: Any) -> tuple[Any, Any, str, Any] | None:
    """The segment readouts' table, heterogeneity table, Markdown and forest plot (every slow
    arm's, with an ``arm`` column and a row of panels each, when there are several), or
    ``None`` without segments."""
    import pandas as pd  # noqa: PLC0415 (heavy imports)

    from frt_experiments.arms import ArmsResult  # noqa: PLC0415 (heavy imports)

    per_arm = ([(r.metrics[0].treatment_arm, r.by_segment) for r in result.results]
               if isinstance(result, ArmsResult) else [(None, result.by_segment)])
    if per_arm[0][1] is None:
        return None
    tables, hets, texts = [], [], []
    for arm, seg in per_arm:
        table, het = seg.to_pandas(), seg.heterogeneity.copy()
        if arm is not None:
            table.insert(0, "arm", arm)
            het.insert(0, "arm", arm)
        tables.append(table)
        hets.append(het)
        texts.append(seg.to_markdown())
    from frt_experiments.segments import plot_arms  # noqa: PLC0415 (heavy imports)

    if not any(len(seg.table) for _, seg in per_arm):
        raise ValueError("--by: no segment could be analysed (see the warnings above: each "
                         "has too few customers in an arm, or no data for the metrics)")
    figure = plot_arms([seg for _, seg in per_arm])  # a row of panels per slow arm
    return (pd.concat(tables, ignore_index=True), pd.concat(hets, ignore_index=True),
            "\n".join(texts), figure)


def _print_segments(table: Any, heterogeneity: Any, alpha: float) -> None:
    found = table.loc[table["significant"]]
    arm = "arm" in table.columns
    print(f"segment readouts: {len(table)} segment x metric tests, {len(found)} significant "
          "after adjustment (segments.csv)", file=sys.stdout)
    for r in found.itertuples(index=False):
        print(f"  {f'{r.arm} ' if arm else ''}{r.dimension} = {r.level}: {r.metric} "
              f"{100 * r.rel_diff:+.2f}% (adjusted p = {r.p_adjusted:.4g})", file=sys.stdout)
    differ = heterogeneity.loc[heterogeneity["p_adjusted"] < alpha]
    for r in differ.itertuples(index=False):
        print(f"  heterogeneity: {f'{r.arm} ' if arm else ''}{r.metric} differs by "
              f"{r.dimension} (Cochran's Q adjusted p = {r.p_adjusted:.4g})", file=sys.stdout)


def _treatment(text: str | None) -> str | list[str] | None:
    """``--treatment``: one arm, or several comma-separated ones (a list)."""
    if text is None or "," not in text:
        return text
    items = [t.strip() for t in text.split(",")]
    if any(not t for t in items):
        raise ValueError(f"--treatment {text!r}: an empty arm name; give the slow arms "
                         "comma-separated, e.g. four_hours,one_business_day,two_business_days")
    return items


def _policies(items: list[str] | None, plan: ExperimentPlan | None,
              calendar: BusinessCalendar) -> dict[str, str] | None:
    """``--policy ARM=NAME`` (repeatable) as ``{arm: name}``, each name checked; one that
    disagrees with the plan's ``[arms]`` is an error."""
    from frt_experiments.policy import policy_from_spec  # noqa: PLC0415 (heavy imports)
    if not items:
        return None
    out: dict[str, str] = {}
    for item in items:
        arm, sep, name = (x.strip() for x in item.partition("="))
        if not sep or not arm or not name:
            raise ValueError(f"--policy {item!r}: expected ARM=NAME, e.g. four_hours=4h or "
                             "two_business_days=two_business_days")
        if arm in out:
            raise ValueError(f"--policy: arm {arm!r} is given twice")
        try:
            policy_from_spec(arm, name, calendar)
        except ValueError as exc:
            raise ValueError(f"--policy {item}: {exc}") from None
        planned = (plan.arms or {}).get(arm) if plan is not None else None
        if planned is not None and planned.strip().casefold() != name.casefold():
            raise ValueError(f"--policy {item} disagrees with the plan's [arms] {arm} = "
                             f"{planned!r}; give one of them")
        out[arm] = name
    if plan is not None and plan.arms is not None:
        out = {**plan.arms, **out}
    return out


def parse_weights(text: str) -> dict[str, float]:
    """``--weights fast=0.9,one_business_day=0.1`` as ``{arm: share}``, checked."""
    from frt_experiments.plan import allocation_problems  # noqa: PLC0415 (heavy imports)
    out: dict[str, float] = {}
    for item in text.split(","):
        arm, sep, share = item.partition("=")
        arm = arm.strip()
        try:
            out_share = float(share)
        except ValueError:
            sep = ""
        if not sep or not arm:
            raise ValueError(f"--weights {text!r}: expected ARM=SHARE,ARM=SHARE,... e.g. "
                             "fast=0.9,one_business_day=0.1")
        if arm in out:
            raise ValueError(f"--weights {text!r}: arm {arm!r} is given twice")
        out[arm] = out_share
    problems = allocation_problems(out, "--weights")
    if problems:
        raise ValueError(problems[0])
    return out


def _design_weights(args: argparse.Namespace, plan: ExperimentPlan | None
                    ) -> tuple[dict[str, float] | None, str]:
    """The designed allocation from --weights, --ledger-meta and the plan, and where it came
    from; sources that disagree are an error, as --alpha against the plan's alpha."""
    from frt_experiments.ledger import read_design_weights  # noqa: PLC0415 (heavy imports)
    from frt_experiments.plan import same_allocation  # noqa: PLC0415 (heavy imports)
    sources: list[tuple[str, dict[str, float]]] = []
    if args.weights is not None:
        sources.append(("--weights", parse_weights(args.weights)))
    if args.ledger_meta is not None:
        try:
            sources.append((f"--ledger-meta {args.ledger_meta.name}",
                            read_design_weights(args.ledger_meta)))
        except (OSError, LedgerError) as exc:
            raise type(exc)(f"--ledger-meta: {exc}") from None
    if plan is not None and plan.weights is not None:
        sources.append((f"the plan {args.plan.name}", dict(plan.weights)))
    if not sources:
        return None, ""
    first, chosen = sources[0]
    for other, w in sources[1:]:
        if not same_allocation(chosen, w):
            raise ValueError(f"{first} gives the weights {chosen} but {other} gives {w}; "
                             "give one of them")
    return chosen, first


def _fractions(text: str | None) -> list[float] | None:
    if text is None:
        return None
    try:
        return [float(x) for x in text.split(",")]
    except ValueError:
        raise ValueError(f"--information {text!r}: expected comma-separated fractions, e.g. "
                         "0.2,0.4") from None


def _level(plan: ExperimentPlan | None) -> str:
    return f"{1 - (plan.alpha if plan is not None else 0.05):.0%}"


def _rel_interval(low: float, high: float) -> str:
    import numpy as np  # noqa: PLC0415 (heavy imports)
    def pct(x: float) -> str:
        return f"{x:+.2%}" if np.isfinite(x) else ("-inf" if x < 0 else "+inf")

    return f"[{pct(low)}, {pct(high)}]"


def _markdown(df: pd.DataFrame) -> str:
    shown = df.assign(z=df["z"].map("{:+.3f}".format), bound=df["bound"].map("{:.3f}".format),
                      nominal_p=df["nominal_p"].map("{:.4g}".format))
    shown["repeated CI (relative change)"] = [
        _rel_interval(lo, hi) for lo, hi in zip(df["rel_rci_low"], df["rel_rci_high"],
                                                strict=True)]
    shown = shown.drop(columns=["rci_low", "rci_high", "rel_rci_low", "rel_rci_high"])
    head = "| " + " | ".join(shown.columns) + " |"
    rule = "|" + "|".join("---" for _ in shown.columns) + "|"
    body = ["| " + " | ".join(str(v) for v in r) + " |"
            for r in shown.itertuples(index=False, name=None)]
    return "\n".join([head, rule, *body])


def _calendar(args: argparse.Namespace) -> BusinessCalendar:
    """The desk calendar from --desk-timezone/--hours/--holidays (the default desk's otherwise,
    as in every command)."""
    return desk_calendar(args)[0]
