"""Erlang C and A: speed of required-agent searches and stability for large desks.

Run: python benchmarks/bench_erlang.py [--searches 1000]

1. 1,000 Erlang C searches (required_agents with an 80/20 target and an 85% occupancy cap, on
   random desks of 10 to 2,000 contacts an hour and 2 to 10 minute handle times) against the
   textbook implementation analysts usually copy: the direct summation with math.factorial in
   floats, stepping up from floor(load) + 1. Prints the time per search, the ratio, whether both
   agree where the textbook form works, and how often it fails (float overflow once the desk
   passes about 170 agents).
2. 1,000 Erlang A searches (patience 2 minutes).
3. One evaluation at 5,000 agents (load 4,900 Erlangs): Erlang C and Erlang A.
4. Per interval: erlang_c, erlang_a and required_agents over 10,000 intervals (0 to 2,000
   contacts an hour, 2 to 10 minute handle times, 5% without arrivals) in one vectorised call
   against a Python loop of the one-queue call over the same intervals: time of each, the
   ratio, and the largest relative difference between them.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import time

import numpy as np

from frt_experiments.staffing import erlang_a, erlang_c, required_agents


def textbook_erlang_c(n: int, load: float) -> float:
    """The direct formula as usually copied: a^n/n! * n/(n-a) over the sum (floats)."""
    top = load**n / math.factorial(n) * n / (n - load)
    return top / (sum(load**k / math.factorial(k) for k in range(n)) + top)


def textbook_required(lam: float, aht: float, t: float, sl: float, occ: float) -> int:
    load = lam * aht / 3600
    n = math.floor(load) + 1
    while True:
        c = textbook_erlang_c(n, load)
        if 1 - c * math.exp(-(n - load) * t / aht) >= sl and load / n <= occ:
            return n
        n += 1


def bench_searches(searches: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    lam = rng.uniform(10, 2000, searches)
    aht = rng.uniform(120, 600, searches)
    ours = np.empty(searches, dtype=int)
    start = time.perf_counter()
    for i in range(searches):
        ours[i] = required_agents(lam[i], aht[i], 20, 0.8, max_occupancy=0.85).raw_agents
    t_ours = time.perf_counter() - start

    naive = np.full(searches, -1)
    for i in range(searches):
        with contextlib.suppress(OverflowError):
            naive[i] = textbook_required(float(lam[i]), float(aht[i]), 20, 0.8, 0.85)
    ok = naive > 0
    start = time.perf_counter()
    for i in np.flatnonzero(ok):  # ours again, on the desks where the textbook form works
        required_agents(lam[i], aht[i], 20, 0.8, max_occupancy=0.85)
    t_ours_ok = time.perf_counter() - start
    start = time.perf_counter()
    for i in np.flatnonzero(ok):
        textbook_required(float(lam[i]), float(aht[i]), 20, 0.8, 0.85)
    t_naive_ok = time.perf_counter() - start
    print(f"1. {searches:,} Erlang C searches (loads {lam.min() * aht.min() / 3600:.1f} to "
          f"{(lam * aht).max() / 3600:.0f} Erlangs; answers {ours.min()} to {ours.max()} agents)")
    print(f"   frt required_agents:  {t_ours * 1e3 / searches:8.3f} ms per search, "
          f"{t_ours:.2f} s in all")
    print(f"   textbook direct form: fails with OverflowError on {(~ok).sum()} of {searches} "
          f"desks ({(~ok).mean():.0%}); agrees on {(naive[ok] == ours[ok]).sum()} of "
          f"{ok.sum()} where it works; on those desks {t_naive_ok * 1e3 / ok.sum():.3f} ms vs "
          f"{t_ours_ok * 1e3 / ok.sum():.3f} ms per search (ratio {t_naive_ok / t_ours_ok:.1f}x)")

    start = time.perf_counter()
    for i in range(searches):
        required_agents(lam[i], aht[i], 20, 0.8, patience_seconds=120)
    t_a = time.perf_counter() - start
    print(f"2. {searches:,} Erlang A searches (patience 120 s): {t_a * 1e3 / searches:.3f} ms "
          f"per search, {t_a:.2f} s in all")


def bench_large() -> None:
    lam, aht = 4900 * 20.0, 180.0  # 4,900 Erlangs
    start = time.perf_counter()
    c = erlang_c(5000, lam, aht)
    t_c = time.perf_counter() - start
    start = time.perf_counter()
    a = erlang_a(5000, lam, aht, 600)
    t_a = time.perf_counter() - start
    print(f"3. 5,000 agents, 4,900 Erlangs: Erlang C P(wait) {c.p_wait[0]:.5f}, SL "
          f"{c.service_level[0]:.5f} in {t_c * 1e3:.2f} ms; Erlang A (patience 600 s) P(wait) "
          f"{a.p_wait[0]:.5f}, P(abandon) {a.p_abandon[0]:.6f}, SL {a.service_level[0]:.5f} "
          f"in {t_a * 1e3:.2f} ms")
    try:
        textbook_erlang_c(5000, 4900.0)
        print("   textbook direct form: finished")
    except OverflowError as exc:
        print(f"   textbook direct form: OverflowError ({exc})")


def bench_intervals(intervals: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    lam = rng.uniform(0, 2000, intervals)
    lam[rng.random(intervals) < 0.05] = 0.0
    aht = rng.uniform(120, 600, intervals)
    load = lam * aht / 3600
    agents = (np.floor(load) + 1 + rng.integers(0, 10, intervals)).astype(int)
    busy = np.flatnonzero(lam > 0)
    print(f"4. {intervals:,} intervals ({busy.size:,} with arrivals), one call vs a loop of "
          "one-queue calls")
    cases = [
        ("erlang_c", lambda: erlang_c(agents, lam, aht),
         lambda i: erlang_c(int(agents[i]), lam[i], aht[i]), "service_level"),
        ("erlang_a", lambda: erlang_a(agents, lam, aht, 120),
         lambda i: erlang_a(int(agents[i]), lam[i], aht[i], 120), "service_level"),
        ("required_agents", lambda: required_agents(lam, aht, 20, 0.8, max_occupancy=0.85),
         lambda i: required_agents(lam[i], aht[i], 20, 0.8, max_occupancy=0.85),
         "service_level"),
    ]
    for name, vector, one, field in cases:
        start = time.perf_counter()
        res = vector()
        t_vec = time.perf_counter() - start
        start = time.perf_counter()
        worst = 0.0
        for i in busy:
            r = one(i)
            a = float(np.ravel(getattr(r, field))[0])
            worst = max(worst, abs(float(getattr(res, field)[i]) - a) / abs(a))
        t_loop = time.perf_counter() - start
        print(f"   {name:16s} vectorised {t_vec * 1e3:8.1f} ms, loop {t_loop * 1e3:9.1f} ms "
              f"(x{t_loop / t_vec:.0f}); largest relative difference in {field}: {worst:.1e}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--searches", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--intervals", type=int, default=10_000)
    args = parser.parse_args()
    bench_searches(args.searches, args.seed)
    bench_large()
    bench_intervals(args.intervals, args.seed)


if __name__ == "__main__":
    main()
