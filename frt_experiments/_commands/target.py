"""``frt target``: which customers to answer slowly, and the policy's honest value.

Register with ``frt_experiments.cli.COMMANDS`` (the module name ``target``); the command reads
a two-arm trial's canonical tables, runs :func:`frt_experiments.targeting.learn_targeting` and
writes ``targeting.csv`` (the comparison: learned policy, defer every low-spend customer, defer
none), ``targeting_leaves.csv`` (the policy's rules) and ``targeting.md`` as one output set.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from frt_experiments._commands._args import check_input_file, check_output_dir, seed

OUTPUTS = ("targeting.csv", "targeting_leaves.csv", "targeting.md")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "target",
        help="learn which customers to answer slowly, with the policy's value out of sample",
        description="Learn a shallow tree of rules saying which customers to answer slowly "
        "(defer) to maximise the net benefit per customer (staffing saving per deferred "
        "conversation minus months of revenue at risk) with the deferred groups' CSAT falling "
        "by at most a margin; doubly robust scores with cross-fitting, the policy's value "
        "estimated on held-out folds with a 95%% interval, against deferring every assigned "
        "(low-spend) customer and deferring none. Needs scikit-learn "
        "(pip install 'frt-experiments[targeting]').",
    )
    p.add_argument("--customers", type=Path, required=True, metavar="FILE")
    p.add_argument("--conversations", type=Path, required=True, metavar="FILE")
    p.add_argument("--assignments", type=Path, required=True, metavar="FILE")
    p.add_argument("--control", default="fast", metavar="ARM", help="the fast arm")
    p.add_argument("--treatment", default=None, metavar="ARM",
                   help="the slow arm (default: the only other arm)")
    p.add_argument("--saving-per-conversation", type=float, default=1.5, metavar="X",
                   help="staffing saved per conversation answered slowly (default 1.5)")
    p.add_argument("--cost-per-conversation", type=float, default=0.0, metavar="X",
                   help="cost of one conversation, so fewer questions save too (default 0)")
    p.add_argument("--revenue-months", type=float, default=12.0, metavar="M",
                   help="months a unit of lost monthly revenue counts for (default 12)")
    p.add_argument("--csat-margin", type=float, default=0.03, metavar="M",
                   help="largest fall of a deferred group's CSAT in points of the satisfied "
                   "share, positive (default 0.03: 3 points); not the relative, negative "
                   "margin of frt analyze and frt decide")
    p.add_argument("--treatment-share", type=float, default=0.5, metavar="P",
                   help="the design's probability of the slow arm (default 0.5)")
    p.add_argument("--policy-features", default=None, metavar="COL,COL",
                   help="customers columns the rules may split on (default: those of "
                   "segment, monthly_spend, pre_conversations the table has)")
    p.add_argument("--depth", type=int, choices=(1, 2), default=2)
    p.add_argument("--caution", type=float, default=1.0, metavar="C",
                   help="defer a group only if its summed score clears C standard errors "
                   "(default 1; 0: the plain sum)")
    p.add_argument("--holdout-share", type=float, default=0.3, metavar="P",
                   help="share of customers held out to value the policy (default 0.3)")
    p.add_argument("--folds", type=int, default=5, metavar="K")
    p.add_argument("--evaluation", choices=("holdout", "crossfit"), default="holdout",
                   help="holdout (default): value the policy on 30%% of customers nothing in "
                   "its learning touched (exact interval); crossfit: average each fold's "
                   "policy's value (narrower interval that undercovers)")
    p.add_argument("--seed", type=seed, default=0, metavar="S")
    p.add_argument("--out", type=Path, required=True, metavar="DIR", help="output directory")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from frt_experiments._document import _markdown_table  # noqa: PLC0415 (heavy imports)
    from frt_experiments._outputs import output_set  # noqa: PLC0415 (heavy imports)
    from frt_experiments.errors import DataError  # noqa: PLC0415
    from frt_experiments.net_benefit import NetBenefit  # noqa: PLC0415
    from frt_experiments.schema import check_tables, read_table, write_table  # noqa: PLC0415
    from frt_experiments.targeting import learn_targeting  # noqa: PLC0415 (heavy imports)

    for option in ("customers", "conversations", "assignments"):
        check_input_file(getattr(args, option), f"--{option}")
    check_output_dir(args.out, "--out")
    benefit = NetBenefit(saving_per_conversation=args.saving_per_conversation,
                         cost_per_conversation=args.cost_per_conversation,
                         revenue_months=args.revenue_months, csat_margin=args.csat_margin)
    customers = read_table(args.customers, "customers")
    conversations = read_table(args.conversations, "conversations")
    assignments = read_table(args.assignments, "assignments")
    problems = check_tables(customers, conversations, assignments,
                            names={"customers": args.customers.name,
                                   "conversations": args.conversations.name,
                                   "assignments": args.assignments.name})
    if problems:
        raise DataError(problems)
    features = None
    if args.policy_features is not None:
        features = tuple(c.strip() for c in args.policy_features.split(",") if c.strip())
        if not features:
            raise ValueError("--policy-features: give one or more customers columns, "
                             "separated by commas")
    try:
        result = learn_targeting(customers, conversations, assignments, control=args.control,
                                 treatment=args.treatment, benefit=benefit,
                                 treatment_share=args.treatment_share, depth=args.depth,
                                 folds=args.folds, seed=args.seed,
                                 evaluation=args.evaluation, caution=args.caution,
                                 holdout_share=args.holdout_share,
                                 policy_features=features, validate=False)
    except ImportError as exc:
        raise ValueError(str(exc)) from None
    table = result.to_pandas().reset_index()
    leaves = result.leaves
    shown = table.copy()
    num = shown.select_dtypes("number").columns
    shown[num] = shown[num].apply(lambda col: col.map(lambda v: f"{v:.4g}"))
    markdown = ("# Targeting: which customers to answer slowly\n\n"
                + "\n".join(f"- {r}" for r in result.policy.rules()) + "\n\n"
                + _markdown_table(shown) + "\n")
    with output_set(args.out, command="frt target", names=OUTPUTS) as outputs:
        write_table(table, outputs.path("targeting.csv"))
        write_table(leaves, outputs.path("targeting_leaves.csv"))
        outputs.write_text("targeting.md", markdown)
    print(result.summary(), file=sys.stdout)
    for path in outputs.written:
        print(f"wrote {path}", file=sys.stdout)
    return 0
