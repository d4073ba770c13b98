"""``frt demo``: the whole toolkit on a simulated trial, ending in the published-style table.

Simulates the ``published`` scenario, re-derives the assignment from the customers with the
scenario's salt (the same code path a user runs), analyses the trial, sizes the desk for both
policies, prices the difference, decides, and writes a self-contained HTML report and a
Markdown summary.
"""

from __future__ import annotations

import argparse
import math
import sys
import textwrap
import time
from pathlib import Path
from typing import TYPE_CHECKING

from frt_experiments._commands._args import check_output_dir, seed
from frt_experiments.errors import ScenarioError, shorten

if TYPE_CHECKING:
    from frt_experiments.simulate import Scenario


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "demo",
        help="simulate, assign, analyse, staff and decide; write an HTML report",
        description="Run the whole toolkit on a simulated trial of the published experiment "
        "(or another scenario): simulate, assign, analyse at 95% confidence, size the desk "
        "for both policies, price the tradeoff, decide, and write report.html (plots "
        "embedded), report.md, results.csv (with trust.json, its trust flags, for frt decide) "
        "and the simulated tables under --out. The desk is the default desk of every frt "
        "command (America/New_York, Mon-Fri 09:00-17:00, US holidays), printed at the end.",
    )
    p.add_argument("--out", type=Path, default=Path("frt-demo"), metavar="DIR",
                   help="output directory (default: frt-demo)")
    p.add_argument("--scenario", default="published", metavar="NAME|PATH",
                   help="simulator preset or scenario TOML (default: published)")
    p.add_argument("--customers", type=int, default=200_000, metavar="N",
                   help="customers to simulate, all spend levels (default: 200000)")
    p.add_argument("--seed", type=seed, default=2025, metavar="S",
                   help="random seed (default: 2025)")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p.add_argument("--currency", default="USD", metavar="CODE",
                   help="currency of the report's money figures: an ISO 4217 code (USD, EUR, "
                   "CHF, ...) or one of $ € £ ¥ (default: USD)")
    p.set_defaults(func=run)


def _check_demo_design(scenario: Scenario, given: str) -> None:
    """The demo re-assigns, analyses and staffs the default design: arms ``fast`` and
    ``one_business_day`` (control first) at equal weights. A scenario with other
    ``effects.arms`` or ``effects.weights`` is refused here, naming the keys, rather than failing
    midway; ``frt simulate`` writes its tables for ``frt assign --arms/--weights`` and
    ``frt analyze --control/--treatment``."""
    from frt_experiments.schema import CONTROL_ARM, TREATMENT_ARM  # noqa: PLC0415 (heavy imports)
    from frt_experiments.simulate import PRESETS  # noqa: PLC0415 (heavy imports)
    effects, default = scenario.effects, (CONTROL_ARM, TREATMENT_ARM)
    total = sum(effects.weights)
    equal = all(math.isclose(w / total, 1 / len(effects.weights)) for w in effects.weights)
    if tuple(effects.arms) == default and equal:
        return
    name = Path(given).name if given not in PRESETS else given
    arms = ", ".join(shorten(a, 40) for a in effects.arms)
    weights = ", ".join(f"{w:g}" for w in effects.weights)
    raise ValueError(
        f"--scenario: {shorten(name)}: effects.arms = [{arms}] with effects.weights = "
        f"[{weights}]: frt demo runs the default design only ({', '.join(default)} at "
        "equal weights); simulate this scenario with frt simulate, then run frt assign "
        "(--arms, --weights) and frt analyze (--control, --treatment) on its tables")


def run(args: argparse.Namespace) -> int:
    from frt_experiments.demo import (  # noqa: PLC0415 (heavy imports)
        EXPECTED_NOTE,
        MIN_CUSTOMERS,
        run_demo,
    )
    from frt_experiments.diagnostics import (  # noqa: PLC0415 (heavy imports)
        default_calendar,
        describe_calendar,
    )
    from frt_experiments.simulate import load_scenario  # noqa: PLC0415 (heavy imports)
    started = time.perf_counter()
    if args.customers < MIN_CUSTOMERS:
        raise ValueError(f"--customers: the demo needs at least {MIN_CUSTOMERS:,} customers, "
                         f"got {args.customers:,}")
    check_output_dir(args.out, "--out")
    try:  # a bad scenario fails before the progress bar starts
        scenario = load_scenario(args.scenario)
    except ScenarioError as exc:
        raise ValueError(f"--scenario: {exc}") from None
    _check_demo_design(scenario, args.scenario)
    from frt_experiments.report import command_line, report_settings  # noqa: PLC0415
    # the report (built inside run_demo) shows the money in --currency and this command line
    with report_settings(currency=args.currency,
                         provenance={"command": command_line("demo", args), "seed": args.seed}):
        out = run_demo(args.out, scenario=args.scenario, customers=args.customers,
                       rng=args.seed, progress=not args.no_progress)
    print(out.table_text)
    print(textwrap.fill(EXPECTED_NOTE, width=100))
    print()
    print(out.verdict)
    print()
    print(f"report: {out.paths['html']}")
    print(f"summary: {out.paths['markdown']}")
    print(f"results: {out.paths['results']} (trust flags: {out.paths['trust']})")
    print(f"desk calendar: {describe_calendar(default_calendar())} (the default desk)")
    print(f"finished in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    return 0
