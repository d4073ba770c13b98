"""The end-to-end demonstration behind ``frt demo``.

:func:`run_demo` runs every stage of the toolkit on a simulated trial, in the order a team would
run a real one, and writes what each stage produced:

1. **simulate** the scenario (default ``published``): customers, their conversations and the
   simulator's assignment;
2. **assign** the low-spend customers again with :func:`frt_experiments.assign`, from the customers
   table, the scenario's salt and spend ceiling -- the code path a user runs on real data -- and
   check that it reproduces the simulator's assignment row for row;
3. **analyse** the four metrics at 95% confidence (:func:`frt_experiments.analyze`);
4. **staff** the desk for both policies with the desk simulation
   (:func:`frt_experiments.plan_staffing`) and the staffing curve;
5. **decide** with the published success criterion (:func:`frt_experiments.decide`);
6. **report**: ``report.html`` (self-contained), ``report.md`` with ``figures/``,
   ``results.csv`` and the simulated tables under ``data/``.
"""

from __future__ import annotations

import os
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from frt_experiments import schema
from frt_experiments._outputs import output_set, stage_document
from frt_experiments._progress import progress_bar
from frt_experiments.decision import TRUST_FILE
from frt_experiments.errors import FrtWarning
from frt_experiments.report import build_report
from frt_experiments.simulate.trial import OUTPUTS as TRIAL_OUTPUTS

__all__ = ["DemoOutput", "run_demo"]

_STAGES = ("simulate", "assign", "analyse", "staff", "decide", "report")
#: Every file frt demo writes (files of these names an earlier run left are removed).
OUTPUTS = ("report.html", "report.md", "results.csv", TRUST_FILE, "staffing_curve.csv",
           *(f"figures/{n}.png" for n in ("forest", "frt_distribution", "csat_by_frt",
                                          "questions", "staffing_curve")),
           *(f"data/{n}" for n in TRIAL_OUTPUTS))


@dataclass(frozen=True)
class DemoOutput:
    """What :func:`run_demo` produced: the stage outputs and the files written."""

    trial: Any
    result: Any
    staffing: Any
    decision: Any
    paths: dict[str, Path]
    expected: dict[str, float] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def table(self) -> pd.DataFrame:
        """The published-style table, with the change the scenario implies in expectation."""
        return with_expected(self.result, self.expected)

    @property
    def table_text(self) -> str:
        return self.table.to_string(index=False)

    @property
    def verdict(self) -> str:
        v = getattr(self.decision, "verdict", None)
        reason = getattr(self.decision, "reason", None)
        return f"Decision: {v}" + (f" -- {reason}" if reason else "")


def run_demo(
    out: str | os.PathLike[str] = "frt-demo",
    *,
    scenario: str | Path = "published",
    customers: int = 200_000,
    rng: int | np.random.Generator | None = 2025,
    progress: bool = True,
) -> DemoOutput:
    """Run the whole toolkit on a simulated trial and write the report under ``out``.

    Args:
        out: Output directory (created if missing).
        scenario: Simulator preset or scenario TOML file.
        customers: Customers to simulate, every spend level (the low-spend ones are assigned).
        rng: Seed or generator; the same seed writes the same report.
        progress: Show the progress over the stages on stderr: a bar on a terminal or in a
            notebook, a few whole lines (no carriage returns) when stderr is a file or a pipe.
    """
    from frt_experiments.analysis import analyze  # noqa: PLC0415 (heavy imports, lazily)
    from frt_experiments.assignment import assign  # noqa: PLC0415
    from frt_experiments.decision import decide, trust_json  # noqa: PLC0415
    from frt_experiments.diagnostics import (  # noqa: PLC0415
        default_calendar,
        describe_calendar,
    )
    from frt_experiments.simulate import simulate  # noqa: PLC0415
    from frt_experiments.simulate.calibrate import expected_effects  # noqa: PLC0415
    from frt_experiments.staffing import plan_staffing, staffing_curve  # noqa: PLC0415

    if isinstance(customers, bool) or not isinstance(customers, int | np.integer):
        raise TypeError(f"customers: expected a whole number, got {customers!r}")
    if customers < MIN_CUSTOMERS:
        raise ValueError(f"customers: the demo needs at least {MIN_CUSTOMERS:,} customers, "
                         f"got {customers:,}")
    gen = np.random.default_rng(rng)
    out_dir = Path(out)
    timings: dict[str, float] = {}
    # a bar on a terminal or in a notebook, a few whole lines in a log (frt_experiments._progress)
    bar = progress_bar(total=len(_STAGES), desc="frt demo", unit="stage", enabled=progress,
                       bar_format="{desc} {n}/{total} stages |{bar}| {elapsed}")

    def stage(name: str) -> None:
        bar.set_description(f"frt demo: {name}")
        timings[name] = time.perf_counter()

    def done(name: str) -> None:
        timings[name] = time.perf_counter() - timings[name]
        bar.update(1)

    try:
        stage("simulate")
        trial = simulate(scenario, customers=customers, rng=gen)
        expected = expected_effects(trial.scenario)
        done("simulate")

        stage("assign")
        sc = trial.scenario
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FrtWarning)  # shown in the report's diagnostics
            assigned = assign(trial.customers, experiment=sc.eligibility.experiment,
                              salt=sc.eligibility.salt, max_spend=sc.eligibility.max_spend,
                              assigned_at=trial.assignments[schema.ASSIGNED_AT].iloc[0])
        _same_assignment(assigned.assignments, trial.assignments)
        done("assign")

        stage("analyse")
        calendar = default_calendar()  # one desk for the diagnostics and the staffing
        result = analyze(trial.customers, trial.conversations, assigned.assignments,
                         csat_margin=CSAT_MARGIN, nrr_margin=NRR_MARGIN, calendar=calendar)
        done("analyse")

        stage("staff")
        desk_seed = int(gen.integers(2**32))  # one seed: the curve at 4 h is the plan
        plan = plan_staffing(trial.conversations, assigned.assignments, calendar=calendar,
                             cost_per_agent=COST_PER_AGENT, rng=desk_seed)
        curve = staffing_curve(trial.conversations, assigned.assignments, calendar=calendar,
                               targets_hours=CURVE_TARGETS_HOURS, rng=desk_seed)
        done("staff")

        stage("decide")
        low_spend = trial.customers[schema.CUSTOMER_ID].isin(
            assigned.assignments[schema.CUSTOMER_ID])
        revenue_per_year = 12.0 * float(trial.customers.loc[low_spend,
                                                            schema.REVENUE_START].sum())
        decision = decide(result, low_spend_revenue_per_year=revenue_per_year,
                          annual_staffing_savings=plan.annual_savings,
                          csat_margin=CSAT_MARGIN)
        done("decide")

        stage("report")
        doc = build_report(
            trial.customers, trial.conversations, assigned.assignments, result,
            summary=with_expected(result, expected), notes=[EXPECTED_NOTE],
            title=(f"frt demo: the first-response-time experiment, simulated ('{sc.name}' "
                   "scenario)"),
            scenario=f"simulated scenario '{sc.name}', {customers:,} customers, seed {rng}",
            staffing=plan.to_pandas(), staffing_text=plan.summary(), curve=curve,
            decision=decision, assignment=assigned,
            assumptions=_assumptions(revenue_per_year, plan),
        )
        # Nothing is written until every stage has succeeded, and then every file is staged
        # and committed as one set with its manifest (a killed run leaves the old set or the
        # new one, never a mix).
        with output_set(out_dir, command="frt demo", names=OUTPUTS) as outputs:
            data_paths = trial.stage(outputs, under="data")
            results_csv = result.to_pandas().to_csv(index=False)
            results_path = outputs.write_text("results.csv", results_csv)
            # the trust flags beside results.csv, for frt decide --results (as analyze does)
            trust_path = outputs.write_text(TRUST_FILE, trust_json(
                result, results_csv.encode(),
                desk_calendar=f"{describe_calendar(calendar)} (the default desk)"))
            outputs.write_text("staffing_curve.csv", curve.to_csv(index=False))
            paths = stage_document(outputs, doc)
        done("report")
    finally:
        bar.close()
    paths = {**paths, "results": results_path, "trust": trust_path,
             **{f"data_{k}": v for k, v in data_paths.items()}}
    return DemoOutput(trial=trial, result=result, staffing=plan, decision=decision,
                      paths=paths, expected=expected, timings=timings)


#: How to read the "scenario expects" and "in CI" columns (shown under the table).
EXPECTED_NOTE = (
    "'scenario expects' is the relative change the simulated scenario implies in expectation "
    "(the published table for the 'published' preset); 'in CI' says whether this run's 95% "
    "interval covers it. Each interval misses the truth in about 1 run in 20, so with four "
    "metrics about one run in five shows a 'no' somewhere by chance alone.")

#: Fewest customers the demo simulates (fewer leave too few per arm to analyse and staff).
MIN_CUSTOMERS = 1_000

#: Decision margins and costs the demo assumes (shown in the report).
CSAT_MARGIN = -0.02
NRR_MARGIN = 0.01
COST_PER_AGENT = 65_000.0
#: Fast-queue FRT targets of the staffing curve, all inside the deferred arm's one business
#: day (8 business hours): at or beyond it the "fast" promise is no faster than the deferred one.
CURVE_TARGETS_HOURS = (1.0, 2.0, 3.0, 4.0, 6.0)


def _assumptions(revenue_per_year: float, plan: Any) -> list[str]:
    return [
        f"CSAT non-inferiority margin {CSAT_MARGIN:+.0%} (relative); NRR equivalence margin "
        f"+/-{NRR_MARGIN:.0%} (relative).",
        f"Low-spend revenue base {revenue_per_year:,.0f} a year: 12 x the assigned (low-spend) "
        "customers' monthly recurring revenue at the start of the window; the NRR change over "
        "the window is applied to it as an annual change.",
        f"Loaded cost per agent {COST_PER_AGENT:,.0f} a year; agents from the desk simulation "
        f"of {plan.weeks:g} weeks of the trial's arrivals (everyone fast vs the slow policy "
        "rolled out to every low-spend customer); customers above the spend ceiling always "
        "get the fast policy.",
        f"Desk calendar: {_desk()} (the scenario's, and every frt command's default).",
    ]


def _desk() -> str:
    from frt_experiments.diagnostics import (  # noqa: PLC0415
        default_calendar,
        describe_calendar,
    )

    return describe_calendar(default_calendar())


def _same_assignment(ours: pd.DataFrame, simulated: pd.DataFrame) -> None:
    """The user's assignment path must reproduce the simulator's row for row."""
    a = ours.set_index(schema.CUSTOMER_ID)[schema.ARM].sort_index()
    b = simulated.set_index(schema.CUSTOMER_ID)[schema.ARM].sort_index()
    if not a.index.equals(b.index) or not (a.to_numpy() == b.to_numpy()).all():
        raise RuntimeError("frt demo: assign() did not reproduce the simulator's assignment "
                           f"({len(a):,} vs {len(b):,} customers); please report this")


def with_expected(result: Any, expected: dict[str, float]) -> pd.DataFrame:
    """``result.summary()`` with the relative change the scenario implies in expectation.

    ``in CI`` says whether the 95% interval covers it (it should about 95% of the time).
    """
    table = result.summary().copy()
    if not expected:
        return table
    res = result.to_pandas()
    exp = res["metric"].map(expected).astype(float)
    table.insert(3, "scenario expects", [f"{100 * v:+.2f}%" for v in exp])
    covered = (res["rel_ci_low"] <= exp) & (exp <= res["rel_ci_high"])
    table.insert(4, "in CI", ["yes" if c else "no" for c in covered])
    return table
