"""A call-centre fixture with hang-ups, two priorities and a documented roster (issue 18).

:func:`make_call_centre` generates, deterministically from a seed, five weekdays of phone calls
on a desk open 08:00-18:00 UTC, by an event-driven simulation written here independently of
the toolkit's desk engine:

- **Roster** (documented, 30-minute intervals, Monday 2025-03-03 00:00 to Saturday 00:00 UTC):
  10 agents 08:00-10:00, 12:00-14:00 and 16:00-18:00, 20 agents in the peaks 10:00-12:00 and
  14:00-16:00, 0 at night (closed intervals are rows with 0 agents, so the table has no gaps).
- **Hidden effective capacity**: only ``EFFECTIVE`` = 70% of the rostered agents answer calls
  (7 and 14 on duty in fact); the rest is after-call work, breaks and empty seats.
- **Arrivals**: Poisson, 95 calls an hour (190 in the peaks), about 95% of the effective
  capacity; 20% of callers are ``priority`` (served first, first come first served), the
  others ``regular`` (first come first served among themselves).
- **Handle times**: lognormal with mean 240 s (log sd 0.8; Brown et al. 2005, section 5 find
  service times close to lognormal).
- **Patience**: exponential with mean ``PATIENCE_SECONDS`` = 180 s; a caller still waiting
  then hangs up (``abandoned_at``; handle time 0, as the call-log importer writes it).
- **Shift ends**: an agent whose shift ends during a call finishes it (overtime) and takes no
  new one; calls still waiting at 18:00 wait until they hang up.

Outputs are canonical tables (validated) plus the truth: about 7,000 calls, in memory.
"""

from __future__ import annotations

import heapq
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest

from frt_experiments import schema

MONDAY = pd.Timestamp("2025-03-03", tz="UTC")
DAYS = 5
EFFECTIVE = 0.7
PATIENCE_SECONDS = 180.0
AHT_SECONDS = 240.0
PRIORITY_SHARE = 0.2
SEED = 20250303


def documented_roster() -> pd.DataFrame:
    """The roster table: ``interval_start`` (30 min, Monday 00:00 to Friday 23:30 UTC) and
    ``agents``."""
    starts = pd.date_range(MONDAY, MONDAY + pd.Timedelta(days=DAYS), freq="30min",
                           inclusive="left")
    hour = starts.hour + starts.minute / 60
    agents = np.where((hour >= 8) & (hour < 18), 10, 0)
    agents = np.where(((hour >= 10) & (hour < 12)) | ((hour >= 14) & (hour < 16)), 20, agents)
    return pd.DataFrame({"interval_start": starts, "agents": agents})


@dataclass(frozen=True)
class CallCentre:
    conversations: pd.DataFrame
    assignments: pd.DataFrame
    roster: pd.DataFrame  # documented
    effective: pd.DataFrame  # the hidden truth: agents really answering
    multiplier: float
    patience_seconds: float


def make_call_centre(seed: int = SEED) -> CallCentre:
    rng = np.random.default_rng(seed)
    roster = documented_roster()
    effective = roster.assign(agents=np.round(roster["agents"] * EFFECTIVE).astype(int))
    step = 1800.0
    starts = (roster["interval_start"] - MONDAY).dt.total_seconds().to_numpy()
    on = effective["agents"].to_numpy()
    # Poisson arrivals: 95 an hour per 7 effective agents, uniform within each interval
    rate = on / 7 * 95.0 / 3600.0
    counts = rng.poisson(rate * step)
    created = np.sort(np.repeat(starts, counts) + rng.random(counts.sum()) * step)
    n = len(created)
    priority = rng.random(n) < PRIORITY_SHARE
    sigma = 0.8
    handle = rng.lognormal(np.log(AHT_SECONDS) - sigma**2 / 2, sigma, n)
    patience = rng.exponential(PATIENCE_SECONDS, n)

    # event-driven simulation: (time, order, kind, index); kinds sorted so that at one instant
    # shift changes come first, then departures, arrivals and hang-ups
    SHIFT, DEPART, ARRIVE, HANGUP = 0, 1, 2, 3
    events: list[tuple[float, int, int]] = []
    for k, t in enumerate(starts):
        events.append((t, SHIFT, k))
    for i, t in enumerate(created):
        events.append((t, ARRIVE, i))
        events.append((t + patience[i], HANGUP, i))
    heapq.heapify(events)
    queues = (deque(), deque())  # priority first
    waiting = np.zeros(n, bool)
    answered = np.full(n, np.nan)
    gone = np.full(n, np.nan)
    on_duty = busy = 0

    def dispatch(t: float) -> None:
        nonlocal busy
        while busy < on_duty:
            q = next((q for q in queues if q), None)
            if q is None:
                return
            i = q.popleft()
            if not waiting[i]:
                continue  # hung up already
            waiting[i] = False
            answered[i] = t
            busy += 1
            heapq.heappush(events, (t + handle[i], DEPART, i))

    while events:
        t, kind, i = heapq.heappop(events)
        if kind == SHIFT:
            on_duty = int(on[i])
        elif kind == DEPART:
            busy -= 1
        elif kind == ARRIVE:
            waiting[i] = True
            queues[0 if priority[i] else 1].append(i)
        elif waiting[i]:  # hang-up of a caller still waiting
            waiting[i] = False
            gone[i] = t
        dispatch(t)

    def ts(seconds: np.ndarray) -> pd.Series:
        return pd.Series(MONDAY + pd.to_timedelta(np.round(seconds * 1e6), unit="us"))

    ids = [f"C{i:05d}" for i in range(n)]
    conv = pd.DataFrame({
        schema.CONVERSATION_ID: [f"V{i:05d}" for i in range(n)],
        schema.CUSTOMER_ID: ids,
        schema.CREATED_AT: ts(created),
        schema.FIRST_RESPONSE_AT: ts(answered),
        schema.ABANDONED_AT: ts(gone),
        schema.HANDLE_SECONDS: np.where(np.isnan(answered), 0.0, handle),
        schema.CHANNEL: "phone",
    })
    conv = schema.validate_conversations(conv)
    asg = pd.DataFrame({schema.CUSTOMER_ID: ids,
                        schema.ARM: np.where(priority, "priority", "regular")})
    return CallCentre(conv, asg, roster, effective, EFFECTIVE, PATIENCE_SECONDS)


@pytest.fixture(scope="session")
def call_centre() -> CallCentre:
    return make_call_centre()


@pytest.fixture(scope="session")
def call_centre_from_seed() -> Callable[[int], CallCentre]:
    """The generator itself, for tests over several seeds."""
    return make_call_centre
