"""``frt simulate``: write a simulated trial's canonical tables and its resolved scenario."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from frt_experiments._commands._args import check_output_dir, seed
from frt_experiments._commands._names import PRESETS


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "simulate",
        help="simulate a trial and write customers, assignments and conversations",
        description="Simulate customers, the assignment of the low-spend ones and their "
        "conversations from a scenario; write customers, assignments and conversations "
        "(CSV or Parquet), the resolved scenario.toml and manifest.json (each file's size and "
        "SHA-256), all made visible together: a run that is killed leaves the earlier set or "
        "the new one. The same seed gives identical files.",
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
    from frt_experiments._outputs import output_set  # noqa: PLC0415 (heavy imports)
    from frt_experiments.simulate import simulate  # noqa: PLC0415 (heavy imports)
    from frt_experiments.simulate.trial import OUTPUTS  # noqa: PLC0415 (heavy imports)
    check_output_dir(args.out, "--out")
    trial = simulate(args.scenario, customers=args.customers, months=args.months,
                     rng=args.seed, progress=not args.no_progress)
    # one set: a kill leaves the earlier run's files or this run's, never some of each; the
    # other format's tables of an earlier run are removed by the same commit
    with output_set(args.out, command="frt simulate", names=OUTPUTS) as outputs:
        trial.stage(outputs, format=args.format)
    for note in outputs.notes:
        print(f"note: {note}", file=sys.stdout)
    print(repr(trial), file=sys.stdout)
    for path in outputs.written:
        print(f"wrote {path}", file=sys.stdout)
    for path in outputs.removed:
        print(f"removed {path} (an earlier run's)", file=sys.stdout)
    return 0

