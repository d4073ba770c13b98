"""The sequential core of the desk simulation: agents, a priority queue and a deadline queue.

Everything here runs in *business time* coordinates: seconds of the desk's open time since an
origin (the business clock ``B`` of :class:`~frt_experiments.calendar.BusinessCalendar`).
Agents work only while the desk is open, so closing hours have zero length on this clock, a
conversation created overnight arrives at the next opening, and a backlog carries over nights
and weekends by construction. Handle time is business time too: work interrupted by closing
resumes at the next opening.

Agents are *levels*: agent ``k`` is on duty during the segments of the business clock in
which at least ``k + 1`` agents are scheduled. With a constant headcount every level is on duty
all the time and the loop needs no duty-clock arithmetic (:func:`run_uniform`).

The discipline is non-preemptive priority: an agent who becomes free takes the oldest waiting
conversation of the *fast* queue (first come, first served); only when that queue is empty the
*deferred* conversation with the earliest deadline; when both are empty the next arrival.
A waiting conversation whose patience runs out before an agent takes it is abandoned.

Per event the loops do one heap operation on the agents (a heap of free times, as in the
Kiefer-Wolfowitz workload recursion for the multi-server FCFS queue) and, for deferred work,
one on the deadline heap. Arrays come in as Python lists: scalar indexing of lists is several
times faster than of numpy arrays.

References:
    Kiefer, J. and Wolfowitz, J. (1955). On the theory of queues with many servers.
    Transactions of the American Mathematical Society 78(1), 1-18.
    Jackson, J. R. (1955). Scheduling a production line to minimize maximum tardiness
    (earliest due date first). Research Report 43, Management Science Research Project, UCLA.
"""

from __future__ import annotations

import heapq
from bisect import bisect_right
from dataclasses import dataclass

import numpy as np

__all__ = ["DutyRoster", "Jobs", "run_fcfs", "run_roster", "run_uniform"]

_INF = float("inf")


@dataclass(frozen=True)
class Jobs:
    """Conversations in business-time coordinates, sorted by arrival within each queue.

    ``fast_*`` and ``def_*`` arrays: arrival ``B`` (s), handle time (business s), patience
    (business s, ``inf`` when none); ``def_deadline``: the deferred conversations' deadlines
    on the same clock.
    """

    fast_arrival: np.ndarray
    fast_service: np.ndarray
    fast_patience: np.ndarray
    def_arrival: np.ndarray
    def_service: np.ndarray
    def_patience: np.ndarray
    def_deadline: np.ndarray


@dataclass(frozen=True)
class DutyRoster:
    """On-duty segments of the business clock per agent level.

    ``starts[k]``/``ends[k]``: sorted disjoint segments ``[start, end)`` in which agent ``k``
    works; ``cum[k]``: duty seconds before each segment start.
    """

    starts: tuple[list[float], ...]
    ends: tuple[list[float], ...]
    cum: tuple[list[float], ...]

    @property
    def agents(self) -> int:
        return len(self.starts)


def run_fcfs(arrival: np.ndarray, service: np.ndarray, agents: int) -> np.ndarray:
    """Start times of one FCFS queue with ``agents`` servers always on duty (no abandonment).

    The Kiefer-Wolfowitz recursion: each customer starts at the later of its arrival and the
    earliest time a server frees up.
    """
    free = [0.0] * agents
    start = [0.0] * len(arrival)
    replace = heapq.heapreplace
    for i, (a, s) in enumerate(zip(arrival.tolist(), service.tolist(), strict=True)):
        t = free[0]
        st = a if a > t else t
        replace(free, st + s)
        start[i] = st
    return np.asarray(start)


def _deferred(jobs: Jobs) -> tuple[np.ndarray, list[float], list[float], list[float],
                                   list[float]]:
    """The deferred conversations ordered by arrival, then deadline: an idle agent takes the
    next arrival by position, so among conversations arriving at the same instant (common
    with timestamps in whole seconds) the earliest deadline must come first."""
    order = np.lexsort((jobs.def_deadline, jobs.def_arrival))
    return (order, jobs.def_arrival[order].tolist(), jobs.def_service[order].tolist(),
            jobs.def_patience[order].tolist(), jobs.def_deadline[order].tolist())


def _in_job_order(values: list[float], order: np.ndarray) -> np.ndarray:
    out = np.empty(len(values))
    out[order] = values
    return out


def _results(nf: int, nd: int) -> tuple[list[float], list[float]]:
    return [np.nan] * nf, [np.nan] * nd


def run_uniform(jobs: Jobs, agents: int) -> tuple[np.ndarray, np.ndarray]:
    """Start times (``NaN`` = abandoned) of the fast and deferred conversations.

    ``agents`` agents are on duty whenever the desk is open.
    """
    fa, fs, fp = jobs.fast_arrival.tolist(), jobs.fast_service.tolist(), \
        jobs.fast_patience.tolist()
    order, da, ds, dp, dd = _deferred(jobs)
    nf, nd = len(fa), len(da)
    fstart, dstart = _results(nf, nd)
    free = [0.0] * agents
    queue: list[tuple[float, int]] = []
    push, pop, replace = heapq.heappush, heapq.heappop, heapq.heapreplace
    i = j = 0
    fa.append(_INF)
    da.append(_INF)
    while True:
        t = free[0]
        while da[j] <= t:  # admit deferred arrivals into the deadline heap
            push(queue, (dd[j], j))
            j += 1
        a = fa[i]
        if a <= t:  # a fast conversation is waiting: oldest first
            if t - a > fp[i]:
                i += 1  # abandoned before an agent was free
                continue
            fstart[i] = t
            replace(free, t + fs[i])
            i += 1
            continue
        if queue:
            k = pop(queue)[1]
            if t - da[k] > dp[k]:
                continue
            dstart[k] = t
            replace(free, t + ds[k])
            continue
        # idle: the next arrival, whichever queue it joins, starts at once
        b = da[j]
        if a <= b:
            if a == _INF:
                break
            fstart[i] = a
            replace(free, a + fs[i])
            i += 1
        else:
            dstart[j] = b
            replace(free, b + ds[j])
            j += 1
    return np.asarray(fstart), _in_job_order(dstart, order)


def run_roster(jobs: Jobs, roster: DutyRoster) -> tuple[np.ndarray, np.ndarray]:
    """As :func:`run_uniform`, with agents on duty only in their roster's segments.

    Service is measured in the agent's duty time: work interrupted by the end of a shift
    resumes at the agent's next shift. Conversations no agent reaches before the roster ends
    stay unanswered (``NaN``).
    """
    fa, fs, fp = jobs.fast_arrival.tolist(), jobs.fast_service.tolist(), \
        jobs.fast_patience.tolist()
    order, da, ds, dp, dd = _deferred(jobs)
    nf, nd = len(fa), len(da)
    fstart, dstart = _results(nf, nd)
    starts, ends, cums = roster.starts, roster.ends, roster.cum
    cum_ends = [[c + e - s for s, e, c in zip(st, en, cu, strict=True)]
                for st, en, cu in zip(starts, ends, cums, strict=True)]

    def on_duty(k: int, x: float) -> float:
        st = starts[k]
        m = bisect_right(st, x) - 1
        if m >= 0 and x < ends[k][m]:
            return x
        return st[m + 1] if m + 1 < len(st) else _INF

    def finish(k: int, x: float, s: float) -> float:
        st, cu, ce = starts[k], cums[k], cum_ends[k]
        m = bisect_right(st, x) - 1  # x is on duty in segment m
        target = cu[m] + (x - st[m]) + s
        n = bisect_right(ce, target)  # first segment whose duty end exceeds target
        if n >= len(st):
            return _INF if target > ce[-1] else ends[k][-1]
        return st[n] + (target - cu[n])

    free = [(on_duty(k, 0.0), k) for k in range(roster.agents)]
    heapq.heapify(free)
    queue: list[tuple[float, int]] = []
    push, pop, replace = heapq.heappush, heapq.heappop, heapq.heapreplace
    i = j = 0
    fa.append(_INF)
    da.append(_INF)
    while free[0][0] < _INF:
        t, k = free[0]
        while da[j] <= t:
            push(queue, (dd[j], j))
            j += 1
        a = fa[i]
        if a <= t:
            if t - a > fp[i]:
                i += 1
                continue
            fstart[i] = t
            replace(free, (on_duty(k, finish(k, t, fs[i])), k))
            i += 1
            continue
        if queue:
            q = pop(queue)[1]
            if t - da[q] > dp[q]:
                continue
            dstart[q] = t
            replace(free, (on_duty(k, finish(k, t, ds[q])), k))
            continue
        b = da[j]
        x = a if a <= b else b
        if x == _INF:
            break
        x_on = on_duty(k, x)
        if x_on > x:  # this agent is off duty when the next conversation arrives
            replace(free, (x_on, k))
            continue
        if a <= b:
            fstart[i] = a
            replace(free, (on_duty(k, finish(k, a, fs[i])), k))
            i += 1
        else:
            dstart[j] = b
            replace(free, (on_duty(k, finish(k, b, ds[j])), k))
            j += 1
    return np.asarray(fstart), _in_job_order(dstart, order)
