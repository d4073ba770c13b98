"""``frt simulate``: write a simulated trial's canonical tables and its resolved scenario."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from frt_experiments._atomic import remove_stale_outputs
from frt_experiments._commands._args import check_output_dir, seed
from frt_experiments.simulate import PRESETS, simulate


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "simulate",
        help="simulate a trial and write customers, assignments and conversations",
        description="Simulate customers, the assignment of the low-spend ones and their "
        "conversations from a scenario; write customers, assignments and conversations "
        "(CSV or Parquet) and the resolved scenario.toml. The same seed gives identical files.",
    )
    p.add_argument("--scenario", default="published", metavar="NAME|PATH",
                   help=f"a preset ({', '.join(PRESETS)}) or a scenario TOML file "
                   "(default: published)")
    p.add_argument("--customers", type=int, metavar="N",
                   help="customers to simulate (default: the scenario's)")
    p.add_argument("--months", type=float, metavar="M",
                   help="window length in months (default: the scenario's)")
    p.add_argument("--seed", type=seed, default=None, metavar="S", help="random seed")
    p.add_argument("--out", type=Path, required=True, metavar="DIR", help="output directory")
    p.add_argument("--format", choices=("csv", "parquet"), default="csv")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    check_output_dir(args.out, "--out")
    trial = simulate(args.scenario, customers=args.customers, months=args.months,
                     rng=args.seed, progress=not args.no_progress)
    paths = trial.write(args.out, format=args.format)
    # the other format's tables of an earlier run would pass for this run's
    removed = remove_stale_outputs(args.out, OUTPUTS, paths.values())
    print(repr(trial), file=sys.stdout)
    for path in paths.values():
        print(f"wrote {path}", file=sys.stdout)
    for path in removed:
        print(f"removed {path} (an earlier run's)", file=sys.stdout)
    return 0


#: Every file ``frt simulate`` may write into ``--out``.
OUTPUTS = (*(f"{t}.{f}" for t in ("customers", "assignments", "conversations")
             for f in ("csv", "parquet")), "scenario.toml")
