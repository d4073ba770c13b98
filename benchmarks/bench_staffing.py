"""Desk simulation speed vs SimPy on the same M/M/c queue; Erlang searches; a staffing plan.

Run: ``python benchmarks/bench_staffing.py``. Prints

1. customers per second of an M/M/c FCFS queue (c = 10 agents, load 8 Erlangs, 300,000
   customers with the same arrival and service times) simulated by
   - SimPy (a ``Resource`` with ``capacity=c`` and one process per customer, the textbook
     model; simpy is a benchmark-only dependency),
   - the desk engine's FCFS path (Kiefer-Wolfowitz recursion on a heap of free times),
   - the desk engine's two-queue loop (fast FCFS + deferred EDF, here all fast),
   - ``simulate_desk`` end to end (arrival draws, business calendar, per-arm statistics),
   with the ratios to SimPy, and checks that all give the same mean wait;
2. the time of 1,000 ``required_agents`` searches (Erlang C, random inputs);
3. the coverage of ``simulate_desk``'s 95% replication intervals: over 200 seeds of an M/M/5
   desk at load 4 (20 replications of 12 hours after a 1-hour warm-up each), how often the
   interval for P(wait) and for the mean wait contains the Erlang C value (binomial standard
   error about 1.5 points);
4. the time of ``plan_staffing`` on a five-month simulated trial (200,000 customers, the
   ``published`` scenario, New York desk with US holidays, default 4 weeks, 1 replication),
   and of ``staffing_curve`` (5 targets) on the same trial;
5. ``simulate_desk`` on that trial's conversations with 10 day-bootstrap replications: time
   and the 95% interval of each arm's share within target;
6. ``project_headcount`` over 24 months on a small desk (20,000 customers) for three seeds:
   agents saved month by month (months share their arrivals, and so do the two policies, so
   the series moves with growth instead of bouncing).

Speed figures are the best of three runs (the machine is shared).
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import simpy

import frt_experiments as frt
from frt_experiments.calendar import BusinessCalendar
from frt_experiments.staffing import _engine

N = 300_000
AGENTS = 10
LAM, MU = 8.0, 1.0  # per minute


def simpy_mmc(arrival: np.ndarray, service: np.ndarray, agents: int) -> np.ndarray:
    env = simpy.Environment()
    desk = simpy.Resource(env, capacity=agents)
    wait = np.empty(len(arrival))
    gaps = np.diff(arrival, prepend=0.0).tolist()
    serv = service.tolist()

    def customer(i: int):
        arrived = env.now
        with desk.request() as req:
            yield req
            wait[i] = env.now - arrived
            yield env.timeout(serv[i])

    def source():
        for i, gap in enumerate(gaps):
            yield env.timeout(gap)
            env.process(customer(i))

    env.process(source())
    env.run()
    return wait


def timed(f, *args):
    t0 = time.perf_counter()
    out = f(*args)
    return out, time.perf_counter() - t0


def best_of(k, f, *args):
    """(result, best time) of ``k`` runs."""
    runs = [timed(f, *args) for _ in range(k)]
    return runs[0][0], min(t for _, t in runs)


def main() -> None:
    rng = np.random.default_rng(0)
    arrival = np.cumsum(rng.exponential(1 / LAM, N))
    service = rng.exponential(1 / MU, N)

    w_simpy, t_simpy = best_of(3, simpy_mmc, arrival, service, AGENTS)
    start, t_fcfs = best_of(3, _engine.run_fcfs, arrival, service, AGENTS)
    inf = np.full(N, np.inf)
    jobs = _engine.Jobs(arrival, service, inf, *(np.empty(0),) * 4)
    (fs, _), t_two = best_of(3, _engine.run_uniform, jobs, AGENTS)
    cal = BusinessCalendar("UTC", hours="24/7")
    profile = frt.ArrivalProfile.constant(LAM * 60, aht_seconds=60 / MU)
    t0 = pd.Timestamp("2025-01-06", tz="UTC")
    hours = N / (LAM * 60)
    res, t_desk = best_of(3, lambda: frt.simulate_desk(
        profile, agents=AGENTS, calendar=cal, start=t0, end=t0 + pd.Timedelta(hours=hours),
        rng=1))
    n_desk = int(res.replications["n"].sum())

    rate = {"SimPy": N / t_simpy, "engine FCFS (Kiefer-Wolfowitz)": N / t_fcfs,
            "engine two-queue loop": N / t_two, "simulate_desk end to end": n_desk / t_desk}
    print(f"M/M/{AGENTS} at load {LAM / MU:g} Erlangs, {N:,} customers")
    for name, r in rate.items():
        print(f"  {name:34s} {r:12,.0f} customers/s   {r / rate['SimPy']:6.1f} x SimPy")
    print(f"  mean wait (minutes): SimPy {w_simpy.mean():.4f}, engine FCFS "
          f"{(start - arrival).mean():.4f}, two-queue {(fs - arrival).mean():.4f}, "
          f"simulate_desk {res.estimate('mean_wait_hours')[0] * 60:.4f} (own arrivals); "
          f"Erlang C {frt.erlang_c(AGENTS, LAM * 60, 60 / MU).asa[0] / 60:.4f}")

    r = np.random.default_rng(1)
    lam = r.uniform(10, 2_000, 1_000)
    aht = r.uniform(60, 900, 1_000)
    sl = r.uniform(0.7, 0.95, 1_000)
    t_start = time.perf_counter()
    for k in range(1_000):
        frt.required_agents(float(lam[k]), float(aht[k]), 20.0, float(sl[k]))
    t_req = time.perf_counter() - t_start
    print(f"1,000 required_agents searches (10-2,000 contacts/h): {t_req:.3f} s "
          f"({t_req:.3f} ms each)")

    seeds = 200
    t_start = time.perf_counter()
    hits = np.zeros(2)
    ref = frt.erlang_c(5, 240.0, 60.0)
    truth = (float(ref.p_wait[0]), float(ref.asa[0]) / 3600)
    small = frt.ArrivalProfile.constant(240.0, aht_seconds=60.0)
    for seed in range(seeds):
        res = frt.simulate_desk(small, agents=5, calendar=cal, start=t0,
                                end=t0 + pd.Timedelta(hours=13), warmup=1.0, replications=20,
                                rng=seed)
        for k, stat in enumerate(("p_wait", "mean_wait_hours")):
            _, lo, hi = res.estimate(stat)
            hits[k] += lo <= truth[k] <= hi
    print(f"95% interval coverage over {seeds} seeds (M/M/5, load 4, 20 x 12 h): P(wait) "
          f"{hits[0] / seeds:.1%}, mean wait {hits[1] / seeds:.1%} "
          f"({time.perf_counter() - t_start:.1f} s)")

    trial, t_sim = timed(lambda: frt.simulate(customers=200_000, rng=1))
    desk = BusinessCalendar("America/New_York", holidays="US")
    plan, t_plan = timed(lambda: frt.plan_staffing(trial.conversations, trial.assignments,
                                                   calendar=desk, rng=1))
    curve, t_curve = timed(lambda: frt.staffing_curve(trial.conversations, trial.assignments,
                                                      calendar=desk, rng=1))
    print(f"five-month trial: {len(trial.conversations):,} conversations (simulated in "
          f"{t_sim:.1f} s)")
    print(f"  plan_staffing: {t_plan:.2f} s, {plan.simulations} desk simulations; {plan!r}")
    print(f"  staffing_curve (5 targets x 2 policies): {t_curve:.2f} s")
    print(curve.pivot(index="target_hours", columns="policy", values="agents").to_string())
    print("  (rollout rows with deferred=False: the target is at or beyond the deferred "
          "deadline, nobody is deferred) " + ", ".join(
              f"{t:g} h: {d}" for t, d in curve.loc[curve["policy"] == "rollout",
                                                    ["target_hours", "deferred"]].to_numpy()))

    agents = int(plan.agents("everyone_fast"))
    boot, t_boot = timed(lambda: frt.simulate_desk(
        trial.conversations, trial.assignments, agents=agents, calendar=desk,
        replications=10, rng=1))
    print(f"simulate_desk on the trial's conversations, {agents} agents, 10 day-bootstrap "
          f"replications: {t_boot:.1f} s")
    for arm in boot.arms:
        m, lo, hi = boot.estimate("share_within_target", arm)
        print(f"  {arm}: share within target {m:.2%} [{lo:.2%}, {hi:.2%}]")

    small = frt.simulate(customers=20_000, rng=1)
    for seed in (1, 2, 3):
        proj, t_proj = timed(lambda seed=seed: frt.project_headcount(
            small.conversations, small.assignments, calendar=desk, months=24,
            monthly_growth=0.03, rng=seed))
        saved = proj.savings["agents_saved"].tolist()
        print(f"project_headcount (20,000 customers, 24 months at 3%/month, seed {seed}): "
              f"{t_proj:.1f} s; agents saved every 3 months {saved}")


if __name__ == "__main__":
    main()
