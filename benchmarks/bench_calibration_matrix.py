"""Calibration matrix: false positive rates and coverage by trial size, allocation and CUPED.

Issue 13, item 5. For every cell -- customers per trial ``--sizes`` (default 20, 40, 100, 400,
1,000, 4,000) x allocation ``--alloc`` (control/treatment shares, default 50/50 and 90/10) x
CUPED on/off -- it simulates ``--reps`` A/A trials and ``--reps`` known-effect trials of
per-customer rows, analyses each with
``analyze_rows(rows, cuped=..., inference="auto", permutations=--permutations, rng=...)`` and
prints, per metric and cell:

- the share of trials where ``auto`` chose the randomization test (and its main reason);
- the A/A false positive rate (share of ``p < 0.05``; every metric's true change is 0);
- the coverage of the 95% relative interval ``[rel_ci_low, rel_ci_high]`` of the known-effect
  trials (share containing the true relative change, :data:`TRUE_REL`);
- Monte Carlo standard errors ``sqrt(p (1 - p) / trials)`` (``p`` the estimate), and a
  PASS/FAIL flag against the targets: false positive rate <= 5% + 2 SE and coverage >= 95% -
  2 SE, with SE the Monte Carlo SE *at the nominal rate*, ``sqrt(0.05 * 0.95 / trials)``,
  so that a calibrated method passes a check with probability 97.7% (about 1 check in 44
  fails by chance: the summary says how many to expect).

``--compare normal`` analyses the same trials with ``inference="normal"`` too and prints its
rates beside auto's (what ``auto`` fixes).

Population (strongly clustered; per-customer rows drawn directly, vectorised; :func:`draw_rows`)
------------------------------------------------------------------------------------------------
For each customer ``i``, independently:

- contact rate ``λ_i ~ Gamma(shape 0.5, mean 3)`` conversations per window (over-dispersed:
  38% of customers have none); ``conversations ~ Poisson(λ_i q)``, ``pre_conversations ~
  Poisson(λ_i)`` (the pre-period, never treated: a skewed covariate correlated with the
  outcome through ``λ_i``);
- raters: 40% of customers rate *every* conversation, the others none (``rated =
  conversations`` or 0; ``pre_rated`` likewise, same customer);
- satisfaction propensity ``π_i ~ Beta(1.6, 0.4)`` (mean 0.8; intra-customer correlation
  1/3: most customers are almost always or almost never satisfied); ``satisfied ~
  Binomial(rated, π_i s)``, ``pre_satisfied ~ Binomial(pre_rated, π_i)``;
- mean handle time per conversation ``h_i ~ LogNormal(log 0.2 h, 0.8)``; the customer's
  ``handle_hours`` is the sum of ``conversations`` Gamma(shape 2, mean ``h_i e``) times, i.e.
  ``Gamma(2 conversations, h_i e / 2)``, mean ``conversations h_i e``; ``pre_handle_seconds``
  likewise with ``e = 1``;
- ``revenue_start``: Pareto with tail index ``--tail`` (default 1.8: infinite variance) and
  minimum 25 (``--revenue pareto``, default), or LogNormal(log 60, 1.5)
  (``--revenue lognormal``); ``revenue_end = revenue_start x 0`` with probability 5% (churn),
  else ``x LogNormal(0, 0.1)``, times ``r``.

``rate`` (λ), rater, π, h, revenue and churn are mutually independent. A/A: ``q = s = e = r =
1`` in both arms. Known effect: the treatment arm has ``q = 0.96``, ``s = 0.9875``, ``e =
1 / 1.2``, ``r = 0.99`` (control as A/A).

The true relative changes (ratios of superpopulation expectations; ``E`` over customers)
-----------------------------------------------------------------------------------------
- questions: ``E[conv_t] / E[conv_c] = q E[λ] / E[λ] = 0.96``: **-4%**;
- csat: ``E[sat] / E[rated] = E[R C π s] / E[R C] = s E[π]`` because the rater indicator
  ``R``, the count ``C`` and ``π`` are independent (``E[R C π s] = s E[R] E[C] E[π]``), whatever
  ``q`` does to ``C``; so the ratio is ``s = 0.9875``: **-1.25%** (this needs the propensity
  independent of the number of conversations and of rating, which the model ensures);
- nrr: ``E[S M r] / E[S] = r E[M]``, ratio ``r = 0.99``: **-1%** (exact and heavy tails do
  not matter: treated revenue at the end / 0.99 has the control distribution);
- efficiency: ``E[C] / E[C h e] = 1 / (e E[h])`` (``C`` and ``h`` independent, handle time's
  conditional mean ``C h e``), ratio ``1 / e = 1.2``: **+20%**.

``--check-truth`` draws a huge sample of each arm and compares the estimates with these,
with delta-method standard errors from the sample (for NRR under Pareto revenue of tail
index below 2 the variance is infinite and that z is only indicative; the identity holds
exactly, see above).

Trials: complete randomization with the cell's shares (``round(N w)`` customers, half up, in
the treatment arm of share ``w``: at N = 20 with 90/10 that is 2). A cell whose arm would have
fewer than 2 customers is reported as not analysable (the analysis needs 2 per arm). A metric
a trial does not define (``analyze_rows`` lists it in ``result.skipped``, e.g. CSAT when an
arm has no rater; or raises a ``DataError`` for the whole trial; or, with ``inference=
"normal"``, refuses it for an arm without variance) is counted per cell and metric and left
out of that metric's rates, which are therefore conditional on the metric being defined; the
other metrics of the trial still count (:func:`analyse`). The same trials (same seed) are
used for the CUPED and the no-CUPED cell of a size and allocation.

Run: ``python benchmarks/bench_calibration_matrix.py [--quick] [--reps 1000] [--sizes 20,40,100]
[--alloc 50/50,90/10] [--cuped both|yes|no] [--permutations 999] [--workers 2]
[--compare normal] [--seed 0] [--revenue pareto|lognormal] [--tail 1.8]``, or
``--check-truth [--truth-customers 2000000]``. ``--quick`` is a smoke run (20 reps, 199
permutations). ``--permutations`` defaults to 999 for speed; the analysis' own default is
9,999. Re-assignments are enumerated instead when there are at most ten times
``permutations`` of them (9,990 at 999): 190 at N = 20 with 2 treated customers (an exact
test), while 91,390 at N = 40 with 4 treated are sampled. Progress goes to stderr (a line
per cell, and every 5 minutes within a long cell), the table to stdout.
"""

from __future__ import annotations

import argparse
import math
import re
import sys
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from frt_experiments import schema
from frt_experiments.analysis import METRICS, analyze_rows
from frt_experiments.errors import DataError
from frt_experiments.metrics import CONVERSATIONS, HANDLE_HOURS, RATED, SATISFIED

# ---------------------------------------------------------------------- population
CONTACT_SHAPE = 0.5          # gamma shape of the contact rate (smaller: more clustered)
MEAN_CONVERSATIONS = 3.0     # mean conversations per customer per window
RATER_SHARE = 0.4            # customers who rate all their conversations (the rest: none)
SAT_A, SAT_B = 1.6, 0.4      # Beta satisfaction propensity: mean 0.8, ICC 1 / (a + b + 1)
HANDLE_MEDIAN_HOURS = 0.2    # median over customers of the mean handle time per conversation
HANDLE_SIGMA = 0.8           # log-sd of that mean over customers
HANDLE_SHAPE = 2.0           # gamma shape of one conversation's handle time around it
PARETO_TAIL = 1.8            # default tail index of revenue at the start (< 2: infinite var.)
PARETO_MIN = 25.0            # Pareto minimum revenue
LOGNORMAL_MEDIAN, LOGNORMAL_SIGMA = 60.0, 1.5
CHURN = 0.05                 # share of customers whose revenue at the end is 0
GROWTH_SIGMA = 0.1           # log-sd of the revenue multiplier of those who stay

# known effect, applied to each treated customer
QUESTIONS_FACTOR = 0.96      # contact rate x q
CSAT_FACTOR = 0.9875         # satisfaction propensity x s
HANDLE_FACTOR = 1 / 1.2      # handle time per conversation x e
NRR_FACTOR = 0.99            # revenue at the end x r

#: True relative change (treatment / control - 1) of each metric under the known effect.
TRUE_REL = {
    "questions": QUESTIONS_FACTOR - 1,
    "csat": CSAT_FACTOR - 1,
    "nrr": NRR_FACTOR - 1,
    "efficiency": 1 / HANDLE_FACTOR - 1,
}
REVENUES = ("pareto", "lognormal")
PROGRESS_SECONDS = 300       # a long cell reports its progress this often (stderr)
MAX_EXACT_PER_PERMUTATION = 10  # analyze_rows enumerates up to 10 x permutations
ALPHA = 0.05
LEVEL = 1 - ALPHA


def draw_rows(rng: np.random.Generator, treated: np.ndarray, *, effect: bool = False,
              revenue: str = "pareto", tail: float = PARETO_TAIL) -> pd.DataFrame:
    """Per-customer rows (``analyze_rows``' input) of customers drawn from the population.

    ``treated`` marks the treatment arm's customers (``arm`` is the control arm's name
    otherwise); with ``effect`` they get the known effect (module docstring), else both arms
    are alike (A/A).
    """
    t = np.asarray(treated, dtype=bool)
    n = t.size
    on = t & bool(effect)
    rate = rng.gamma(CONTACT_SHAPE, MEAN_CONVERSATIONS / CONTACT_SHAPE, n)
    pre = rng.poisson(rate)
    conv = rng.poisson(rate * np.where(on, QUESTIONS_FACTOR, 1.0))
    rater = rng.random(n) < RATER_SHARE
    rated = np.where(rater, conv, 0)
    pre_rated = np.where(rater, pre, 0)
    p_sat = rng.beta(SAT_A, SAT_B, n)
    satisfied = rng.binomial(rated, p_sat * np.where(on, CSAT_FACTOR, 1.0))
    pre_satisfied = rng.binomial(pre_rated, p_sat)
    per_conv = rng.lognormal(math.log(HANDLE_MEDIAN_HOURS), HANDLE_SIGMA, n)
    scale = per_conv * np.where(on, HANDLE_FACTOR, 1.0) / HANDLE_SHAPE
    handle = rng.gamma(np.maximum(conv * HANDLE_SHAPE, 1e-12), scale) * (conv > 0)
    pre_handle = rng.gamma(np.maximum(pre * HANDLE_SHAPE, 1e-12),
                           per_conv / HANDLE_SHAPE) * (pre > 0) * 3600.0
    if revenue == "pareto":
        start = PARETO_MIN * (1.0 + rng.pareto(tail, n))   # Lomax + 1: classical Pareto
    elif revenue == "lognormal":
        start = rng.lognormal(math.log(LOGNORMAL_MEDIAN), LOGNORMAL_SIGMA, n)
    else:
        raise ValueError(f"revenue must be one of {', '.join(REVENUES)}, got {revenue!r}")
    stay = rng.random(n) >= CHURN
    growth = rng.lognormal(0.0, GROWTH_SIGMA, n)
    end = start * np.where(stay, growth, 0.0) * np.where(on, NRR_FACTOR, 1.0)
    return pd.DataFrame({
        schema.ARM: np.where(t, schema.TREATMENT_ARM, schema.CONTROL_ARM),
        CONVERSATIONS: conv.astype(float), RATED: rated.astype(float),
        SATISFIED: satisfied.astype(float), HANDLE_HOURS: handle,
        schema.REVENUE_START: start, schema.REVENUE_END: end,
        schema.PRE_CONVERSATIONS: pre.astype(float), schema.PRE_RATED: pre_rated.astype(float),
        schema.PRE_SATISFIED: pre_satisfied.astype(float),
        schema.PRE_HANDLE_SECONDS: pre_handle})


_RATIOS = {"questions": (CONVERSATIONS, None), "csat": (SATISFIED, RATED),
           "nrr": (schema.REVENUE_END, schema.REVENUE_START),
           "efficiency": (CONVERSATIONS, HANDLE_HOURS)}


def ratio_estimate(rows: pd.DataFrame, metric: str) -> tuple[float, float]:
    """(Σy / Σx, delta-method variance of its log) of one arm's rows."""
    num, den = _RATIOS[metric]
    y = rows[num].to_numpy(float)
    x = np.ones_like(y) if den is None else rows[den].to_numpy(float)
    r = y.sum() / x.sum()
    psi = (y - r * x) / x.mean()
    return float(r), float(psi.var(ddof=1) / y.size / r**2)


def truth_check(rows_c: pd.DataFrame, rows_t: pd.DataFrame) -> pd.DataFrame:
    """Estimated relative change of each metric (treatment vs control rows) against TRUE_REL.

    Columns: metric, truth, estimate, se (delta method, from the samples), z.
    """
    out = []
    for m in METRICS:
        rc, vc = ratio_estimate(rows_c, m)
        rt, vt = ratio_estimate(rows_t, m)
        est = rt / rc - 1
        se = (1 + est) * math.sqrt(vc + vt)
        out.append({"metric": m, "truth": TRUE_REL[m], "estimate": est, "se": se,
                    "z": (est - TRUE_REL[m]) / se})
    return pd.DataFrame(out)


def _check_truth(n: int, seed: int, revenue: str, tail: float) -> None:
    rng = np.random.default_rng(seed)
    t0 = time.perf_counter()
    ctrl = draw_rows(rng, np.zeros(n, bool), revenue=revenue, tail=tail)
    trt = draw_rows(rng, np.ones(n, bool), effect=True, revenue=revenue, tail=tail)
    print(f"Known-effect truth, {n:,} customers per arm ({revenue} revenue"
          f"{f', tail index {tail:g}' if revenue == 'pareto' else ''}; seed {seed}; "
          f"{time.perf_counter() - t0:.1f} s to draw)\n")
    print(truth_check(ctrl, trt).to_string(index=False, float_format=lambda x: f"{x:.5f}"))
    conv = ctrl[CONVERSATIONS].to_numpy()
    rated = ctrl[RATED].to_numpy()
    mixed = ((rated > 0) & (rated < conv)).sum()
    has = conv > 0
    print(f"\ncontrol population: {np.mean(~has):.1%} without conversations; raters "
          f"{np.mean(rated[has] > 0):.1%} of customers with conversations, customers rating "
          f"some but not all: {mixed}; corr(pre_conversations, conversations) "
          f"{np.corrcoef(ctrl[schema.PRE_CONVERSATIONS], conv)[0, 1]:.2f}; skewness of "
          f"conversations {pd.Series(conv).skew():.1f}, of pre_handle_seconds "
          f"{ctrl[schema.PRE_HANDLE_SECONDS].skew():.1f}; churned "
          f"{np.mean(ctrl[schema.REVENUE_END] == 0):.1%}; top 1% of customers hold "
          f"{_top_share(ctrl[schema.REVENUE_START].to_numpy(), 0.01):.0%} of revenue")
    if revenue == "pareto" and tail <= 2:
        print(f"(revenue has infinite variance at tail index {tail:g}: the NRR z above is only "
              "indicative; its truth is exact by construction)")


def _top_share(v: np.ndarray, q: float) -> float:
    s = np.sort(v)[::-1]
    return float(s[: max(1, int(q * s.size))].sum() / s.sum())


# ---------------------------------------------------------------------- trials
@dataclass(frozen=True)
class Cell:
    """One cell of the matrix: customers per trial, treatment share, CUPED."""

    n: int
    control_share: float
    cuped: bool

    @property
    def n_treated(self) -> int:
        return math.floor(self.n * (1 - self.control_share) + 0.5)

    @property
    def alloc(self) -> str:
        c = round(100 * self.control_share)
        return f"{c}/{100 - c}"


@dataclass
class Tally:
    """Counts of one inference over one cell's trials, per metric (order of METRICS)."""

    aa: np.ndarray = field(default_factory=lambda: np.zeros(len(METRICS), int))   # analysed
    eff: np.ndarray = field(default_factory=lambda: np.zeros(len(METRICS), int))  # analysed
    reject: np.ndarray = field(default_factory=lambda: np.zeros(len(METRICS), int))
    cover: np.ndarray = field(default_factory=lambda: np.zeros(len(METRICS), int))
    #: known-effect intervals entirely above the truth (the rest of the misses: below it)
    above: np.ndarray = field(default_factory=lambda: np.zeros(len(METRICS), int))
    rand: np.ndarray = field(default_factory=lambda: np.zeros(len(METRICS), int))
    #: analysed trials where CUPED was applied (it is not when an arm is too small for it)
    cuped: np.ndarray = field(default_factory=lambda: np.zeros(len(METRICS), int))
    why: list[Counter] = field(default_factory=lambda: [Counter() for _ in METRICS])
    #: (metric or "trial", why, numbers masked) -> trials where it was not analysed
    undefined: Counter = field(default_factory=Counter)


@dataclass
class CellResult:
    cell: Cell
    auto: Tally
    normal: Tally | None
    seconds: float
    unanalysable: str = ""


_TRUTH = np.array([TRUE_REL[m] for m in METRICS])


def _reason(method: str) -> str:
    """Short reason why normal theory was not used, from a row's ``method``."""
    if "contributing customer" in method:
        return "few"
    if "skewness" in method:
        return "skew"
    if "no variance" in method:
        return "novar"
    return "other"


def _error_text(problem: object) -> str:
    """A problem's text, numbers masked so that like errors are counted together."""
    return re.sub(r"-?\d+(\.\d+)?(e-?\d+)?", "#", str(problem))[:120]


_NORMAL_REFUSED = re.compile(r"cannot analyse (\w+)")


def analyse(rows: pd.DataFrame, *, cuped: bool, inference: str, permutations: int,
            seed: int) -> tuple[dict[str, object], dict[str, str]]:
    """Analyse one trial; a metric undefined in it does not lose the others.

    ``analyze_rows`` leaves out a metric the trial's data do not define (an arm without
    raters: no CSAT) and lists it in ``result.skipped``. ``inference="normal"`` refuses a
    metric with an arm without variance (a ``ValueError``); the trial is then analysed again
    without that metric (``metrics=``). Returns ({metric: MetricResult} of the analysed
    metrics, {metric, or "trial" when nothing could be analysed: why not}).
    """
    undefined: dict[str, str] = {}
    for _ in range(len(METRICS)):
        chosen = [m for m in METRICS if m not in undefined] if undefined else None
        try:
            res = analyze_rows(rows, cuped=cuped, inference=inference, alpha=ALPHA,
                               permutations=permutations, rng=seed, metrics=chosen)
        except DataError as err:
            first = err.problems[0] if err.problems else err
            metric = getattr(first, "source", "").removeprefix("metric ")
            if metric not in METRICS or metric in undefined:
                return {}, {**undefined, "trial": _error_text(first)}
            undefined[metric] = _error_text(first.rule)
            continue
        except ValueError as err:
            m = _NORMAL_REFUSED.search(str(err))
            if m is None or m[1] not in METRICS or m[1] in undefined:
                raise
            reason = str(err).split(": ", 1)[-1].split(", so normal theory")[0]
            undefined[m[1]] = _error_text(f"{reason} (refused by normal theory)")
            continue
        for metric, why in getattr(res, "skipped", ()):
            undefined[metric] = _error_text(why)
        return {m.metric: m for m in res.metrics}, undefined
    return {}, {**undefined, "trial": "no metric left to analyse"}


def _record(tally: Tally, rows: pd.DataFrame, *, cell: Cell, kind: str, inference: str,
            permutations: int, seed: int) -> None:
    results, undefined = analyse(rows, cuped=cell.cuped, inference=inference,
                                 permutations=permutations, seed=seed)
    for what, text in undefined.items():
        tally.undefined[(what, text)] += 1
    for j, name in enumerate(METRICS):
        m = results.get(name)
        if m is None:
            continue
        tally.cuped[j] += bool(m.covariates)
        if m.inference == "randomization":
            tally.rand[j] += 1
            tally.why[j][_reason(m.method)] += 1
        if kind == "aa":
            tally.aa[j] += 1
            tally.reject[j] += m.p_value < ALPHA
        else:
            tally.eff[j] += 1
            tally.cover[j] += m.rel_ci_low <= _TRUTH[j] <= m.rel_ci_high
            tally.above[j] += m.rel_ci_low > _TRUTH[j]


def run_cell(cell: Cell, *, reps: int, permutations: int, seed: int, revenue: str,
             tail: float, compare: bool) -> CellResult:
    """Simulate and analyse one cell's A/A and known-effect trials."""
    t0 = time.perf_counter()
    auto, normal = Tally(), (Tally() if compare else None)
    k = cell.n_treated
    if min(k, cell.n - k) < 2:
        return CellResult(cell, auto, normal, 0.0,
                          f"an arm would have {min(k, cell.n - k)} customer(s) "
                          f"(round({cell.n} x {1 - cell.control_share:g}) = {k} treated); "
                          "the analysis needs at least 2 per arm")
    # the same trials for the CUPED and the no-CUPED cell (the seed ignores cuped)
    shown = t0
    for kind, effect in (("aa", False), ("eff", True)):
        ss = np.random.SeedSequence([seed, cell.n, round(1000 * cell.control_share),
                                     int(effect)])
        rng = np.random.default_rng(ss)
        for _ in range(reps):
            treated = np.zeros(cell.n, bool)
            treated[rng.choice(cell.n, size=k, replace=False)] = True
            rows = draw_rows(rng, treated, effect=effect, revenue=revenue, tail=tail)
            perm_seed = int(rng.integers(2**32))
            for tally, inference in ((auto, "auto"), (normal, "normal")):
                if tally is not None:
                    _record(tally, rows, cell=cell, kind=kind, inference=inference,
                            permutations=permutations, seed=perm_seed)
            if time.perf_counter() - shown > PROGRESS_SECONDS:
                shown = time.perf_counter()
                done = int(auto.aa.max() + auto.eff.max())
                print(f"  ... N={cell.n} {cell.alloc} CUPED {'yes' if cell.cuped else 'no'}: "
                      f"{kind} trials, about {done} of {2 * reps} done after "
                      f"{shown - t0:.0f} s", file=sys.stderr, flush=True)
    return CellResult(cell, auto, normal, time.perf_counter() - t0)


# ---------------------------------------------------------------------- report
def _rate_text(hits: int, trials: int) -> str:
    if trials == 0:
        return "n/a"
    p = hits / trials
    return f"{p:6.1%} ± {math.sqrt(p * (1 - p) / trials):4.1%}"


def _flag(hits: int, trials: int, *, coverage: bool) -> str:
    if trials == 0:
        return "----"
    p, se = hits / trials, math.sqrt(ALPHA * LEVEL / trials)
    ok = p >= LEVEL - 2 * se if coverage else p <= ALPHA + 2 * se
    return "PASS" if ok else "FAIL"


def _chance(trials: int) -> float:
    """Probability that a calibrated method (rate exactly 5%) fails a check on ``trials``.

    Rejections (or misses) are then Binomial(trials, 0.05); the check fails above
    ``trials (0.05 + 2 SE)``: 2.3% for many trials, more for few (7.5% at 20) by discreteness.
    """
    limit = trials * (ALPHA + 2 * math.sqrt(ALPHA * LEVEL / trials))
    return float(stats.binom.sf(math.floor(limit + 1e-9), trials, ALPHA))


def _why(tally: Tally, j: int) -> str:
    total = sum(tally.why[j].values())
    if not total:
        return ""
    return "/".join(r for r, c in tally.why[j].most_common() if c >= 0.1 * total)


def report(results: list[CellResult], *, reps: int, compare: bool) -> int:
    """Print the matrix; return the number of cells missing a target."""
    mcse = math.sqrt(ALPHA * LEVEL / reps)
    print(f"\nTargets: false positive rate <= {ALPHA:.0%} + 2 SE, coverage of the "
          f"{LEVEL:.0%} relative interval >= {LEVEL:.0%} - 2 SE; SE at the nominal rate, "
          f"sqrt(0.05 x 0.95 / trials) ({mcse:.2%} at {reps:,} trials). '±' is the "
          "estimate's own Monte Carlo SE sqrt(p (1 - p) / trials).")
    print("trials: A/A and known-effect trials where the metric was defined (analysed). "
          "auto->rand: share of them where inference='auto' used the randomization test; "
          "why: few = < 30 contributing customers in an arm, skew = skewness of the "
          "difference > 0.053, novar = an arm without variance. miss lo/hi: known-effect "
          "intervals below / above the true change. CUPED 'yes*': requested but never "
          "applied (the smaller arm has fewer than 20 customers per covariate), so the row "
          "repeats the no-CUPED one; 'yes~': applied in some trials only.\n")
    head = (f"{'N':>5} {'alloc':>5} {'CUPED':>5} {'metric':<10} {'trials':>11} "
            f"{'auto->rand':>10} {'why':<10} {'FPR ± SE':>15} {'':4} {'coverage ± SE':>15} "
            f"{'':4} {'miss lo/hi':>10}")
    if compare:
        head += f" | {'normal FPR':>10} {'':4} {'normal cov':>10} {'':4} {'trials':>11}"
    print(head)
    print("-" * len(head))
    failing, checks, failed_checks, expected = [], 0, 0, 0.0
    plain = {(r.cell.n, r.cell.control_share) for r in results if not r.cell.cuped}
    for r in results:
        c = r.cell
        label = f"{c.n:>5} {c.alloc:>5} {'yes' if c.cuped else 'no':>5}"
        if r.unanalysable:
            print(f"{label} not analysable: {r.unanalysable}")
            continue
        a = r.auto
        repeat = False   # CUPED never applied: the same analyses as the no-CUPED cell's
        if c.cuped:
            used = a.cuped.sum() / max((a.aa + a.eff).sum(), 1)
            mark = "yes" if used == 1 else "yes*" if used == 0 else "yes~"
            label = f"{c.n:>5} {c.alloc:>5} {mark:>5}"
            repeat = used == 0 and (c.n, c.control_share) in plain
        bad = False
        for j, m in enumerate(METRICS):
            fa = _flag(a.reject[j], a.aa[j], coverage=False)
            fc = _flag(a.cover[j], a.eff[j], coverage=True)
            if not repeat:
                checks += int(a.aa[j] > 0) + int(a.eff[j] > 0)
                expected += sum(_chance(t) for t in (a.aa[j], a.eff[j]) if t > 0)
                failed_checks += (fa == "FAIL") + (fc == "FAIL")
            bad |= "FAIL" in (fa, fc)
            analysed = a.aa[j] + a.eff[j]
            share = f"{a.rand[j] / analysed:.0%}" if analysed else "n/a"
            trials = f"{a.aa[j]}, {a.eff[j]}"
            line = (f"{label} {m:<10} {trials:>11} {share:>10} {_why(a, j):<10} "
                    f"{_rate_text(a.reject[j], a.aa[j]):>15} {fa:4} "
                    f"{_rate_text(a.cover[j], a.eff[j]):>15} {fc:4} "
                    f"{f'{a.eff[j] - a.cover[j] - a.above[j]}/{a.above[j]}':>10}")
            if compare and r.normal is not None:
                n = r.normal
                fpr = f"{n.reject[j] / n.aa[j]:.1%}" if n.aa[j] else "n/a"
                cov = f"{n.cover[j] / n.eff[j]:.1%}" if n.eff[j] else "n/a"
                line += (f" | {fpr:>10} {_flag(n.reject[j], n.aa[j], coverage=False):4} "
                         f"{cov:>10} {_flag(n.cover[j], n.eff[j], coverage=True):4} "
                         f"{f'{n.aa[j]}, {n.eff[j]}':>11}")
            print(line)
        if bad:
            failing.append(f"N={c.n} {c.alloc} CUPED {'yes' if c.cuped else 'no'}"
                           + (" (= no CUPED)" if repeat else ""))
    print()
    undefined = [(r, t) for r in results for t in (r.auto, r.normal)
                 if t is not None and t.undefined]
    if undefined:
        print(f"Metrics a trial did not define (skipped, DataError or refused by normal "
              f"theory; out of {2 * reps:,} trials per cell, left out of that metric's rates):")
        for r, t in undefined:
            c = r.cell
            which = "auto" if t is r.auto else "normal"
            top = "; ".join(f"{what} {n:,} x {text}"
                            for (what, text), n in t.undefined.most_common(3))
            print(f"  N={c.n} {c.alloc} CUPED {'yes' if c.cuped else 'no'} ({which}): {top}")
        print()
    sparse = [f"N={r.cell.n} {r.cell.alloc} CUPED {'yes' if r.cell.cuped else 'no'} {m} "
              f"{(r.auto.aa[j] + r.auto.eff[j]) / (2 * reps):.0%}"
              for r in results if not r.unanalysable
              for j, m in enumerate(METRICS) if r.auto.aa[j] + r.auto.eff[j] < 0.9 * 2 * reps]
    if sparse:
        print("Rates conditional on the metric being defined, which it was in under 90% of the "
              "trials (share defined): " + ", ".join(sparse) + "\n")
    analysed = [r for r in results if not r.unanalysable]
    print(f"Cells missing a target (inference='auto'): {len(failing)} of {len(analysed)}"
          + (f" -- {', '.join(failing)}" if failing else ""))
    print(f"Failed checks: {failed_checks} of {checks} (cells repeating the no-CUPED one "
          "left out); a calibrated method would fail about "
          f"{expected:.1f} of them by chance (per check 2.3% on many trials; "
          f"{_chance(reps):.1%} on {reps:,}, by the binomial's discreteness)")
    skipped = [r for r in results if r.unanalysable]
    if skipped:
        print(f"Cells not analysable: {len(skipped)} -- "
              + ", ".join(f"N={r.cell.n} {r.cell.alloc} CUPED "
                          f"{'yes' if r.cell.cuped else 'no'}" for r in skipped))
    return len(failing)


def _cost(cell: Cell, permutations: int) -> float:
    """Rough cost of a cell's randomization tests: re-assignments x customers."""
    k = cell.n_treated
    exact = math.comb(cell.n, k) if 0 <= k <= cell.n else 0
    return (exact if exact <= MAX_EXACT_PER_PERMUTATION * permutations else permutations) \
        * cell.n


def _sizes(text: str) -> list[int]:
    try:
        sizes = [int(s.replace("_", "")) for s in text.split(",") if s.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"--sizes: integers separated by commas, got "
                                         f"{text!r}") from None
    if not sizes or min(sizes) < 2:
        raise argparse.ArgumentTypeError(f"--sizes: at least one size, each >= 2, got {text!r}")
    return sizes


def _allocs(text: str) -> list[float]:
    out = []
    for part in text.split(","):
        m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*/\s*(\d+(?:\.\d+)?)\s*", part)
        if not m or float(m[1]) + float(m[2]) <= 0 or min(float(m[1]), float(m[2])) <= 0:
            raise argparse.ArgumentTypeError(
                f"--alloc: control/treatment shares such as 50/50,90/10, got {text!r}")
        out.append(float(m[1]) / (float(m[1]) + float(m[2])))
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=None,
                    help="A/A trials and known-effect trials per cell (default 1000; "
                         "--quick: 20)")
    ap.add_argument("--sizes", type=_sizes, default=[20, 40, 100, 400, 1000, 4000],
                    help="customers per trial, comma-separated (default 20,40,100,400,1000,4000)")
    ap.add_argument("--alloc", type=_allocs, default=[0.5, 0.9],
                    help="control/treatment shares, comma-separated (default 50/50,90/10)")
    ap.add_argument("--cuped", choices=("both", "yes", "no"), default="both")
    ap.add_argument("--permutations", type=int, default=None,
                    help="random re-assignments of a randomization test (default 999, "
                         "--quick: 199; the analysis' own default is 9,999)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workers", type=int, default=2, help="processes over cells (default 2)")
    ap.add_argument("--compare", choices=("normal",), default=None,
                    help="also analyse every trial with inference='normal'")
    ap.add_argument("--revenue", choices=REVENUES, default="pareto")
    ap.add_argument("--tail", type=float, default=PARETO_TAIL,
                    help=f"Pareto tail index of revenue (default {PARETO_TAIL})")
    ap.add_argument("--quick", action="store_true",
                    help="smoke run: 20 reps per cell (unless --reps is given), 199 "
                         "permutations (unless --permutations is given)")
    ap.add_argument("--check-truth", action="store_true",
                    help="check the known-effect truth on a huge sample and exit")
    ap.add_argument("--truth-customers", type=int, default=2_000_000,
                    help="customers per arm of --check-truth (default 2,000,000)")
    args = ap.parse_args()
    if args.tail <= 1:
        ap.error(f"--tail must be > 1 (a finite mean), got {args.tail}")
    if args.check_truth:
        _check_truth(args.truth_customers, args.seed, args.revenue, args.tail)
        return 0
    reps = args.reps if args.reps is not None else 20 if args.quick else 1000
    permutations = (args.permutations if args.permutations is not None
                    else 199 if args.quick else 999)
    if reps < 1:
        ap.error(f"--reps must be >= 1, got {reps}")
    if permutations < 99:
        ap.error(f"--permutations must be >= 99 (the analysis' minimum), got {permutations}")
    cupeds = {"both": (True, False), "yes": (True,), "no": (False,)}[args.cuped]
    cells = [Cell(n, a, c) for n in args.sizes for a in args.alloc for c in cupeds]
    compare = args.compare == "normal"
    print(f"Calibration matrix: {len(cells)} cells x ({reps:,} A/A + {reps:,} known-effect "
          f"trials), inference='auto'{' and normal' if compare else ''}, "
          f"{permutations:,} permutations, seed {args.seed}, {args.workers} worker(s); "
          f"{args.revenue} revenue"
          f"{f' (tail index {args.tail:g})' if args.revenue == 'pareto' else ''}; "
          "true relative changes under the effect: "
          + ", ".join(f"{m} {TRUE_REL[m]:+.2%}" for m in METRICS), flush=True)
    t0 = time.perf_counter()
    kw = {"reps": reps, "permutations": permutations, "seed": args.seed,
          "revenue": args.revenue, "tail": args.tail, "compare": compare}
    order = sorted(cells, key=lambda c: -_cost(c, permutations))   # the slowest first
    results: list[CellResult] = []

    def progress(r: CellResult) -> None:
        c = r.cell
        done = len(results)
        what = (f"not analysable ({r.unanalysable})" if r.unanalysable else
                f"{r.seconds:.0f} s; trials analysed per metric "
                + ", ".join(f"{m} {r.auto.aa[j] + r.auto.eff[j]}"
                            for j, m in enumerate(METRICS)) + f" of {2 * reps}")
        print(f"[{done}/{len(cells)}] N={c.n} {c.alloc} CUPED {'yes' if c.cuped else 'no'}: "
              f"{what} (elapsed {time.perf_counter() - t0:.0f} s)", file=sys.stderr, flush=True)

    if args.workers <= 1:
        for c in order:
            results.append(run_cell(c, **kw))
            progress(results[-1])
    else:
        workers = min(args.workers, len(cells))
        with ProcessPoolExecutor(max_workers=workers) as pool:
            futures = [pool.submit(run_cell, c, **kw) for c in order]
            for f in as_completed(futures):
                results.append(f.result())
                progress(results[-1])
    results.sort(key=lambda r: (r.cell.n, r.cell.control_share, not r.cell.cuped))
    print(f"({time.perf_counter() - t0:.0f} s)")
    report(results, reps=reps, compare=compare)
    return 0


if __name__ == "__main__":
    sys.exit(main())
