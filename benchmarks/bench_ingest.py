"""Importer throughput: Zendesk and Intercom API JSON with 100,000 records each.

Run: ``python benchmarks/bench_ingest.py``. Writes synthetic exports in the API layouts to a
temporary directory and prints wall-clock seconds for ``import_zendesk`` (tickets + ticket
metrics) and ``import_intercom`` (conversation objects), each beside the floor that any pandas
user pays to read the same file (``json.load`` + ``pandas.json_normalize``), and the ratio.
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from frt_experiments import import_intercom, import_zendesk

N = 100_000


def _write_zendesk(d: Path, rng: np.random.Generator) -> Path:
    created = 1_700_000_000 + rng.integers(0, 150 * 86_400, N)
    iso = pd.to_datetime(created, unit="s", utc=True).strftime("%Y-%m-%dT%H:%M:%SZ")
    score = rng.choice(["good", "bad", "offered", "unoffered"], N)
    tickets = [{"id": i, "requester_id": int(r), "created_at": c, "status": "solved",
                "via": {"channel": "email"}, "satisfaction_rating": {"score": s}}
               for i, r, c, s in zip(range(N), rng.integers(0, N // 3, N), iso, score,
                                     strict=True)]
    minutes = rng.integers(1, 2_000, N)
    metrics = [{"ticket_id": i, "reply_time_in_minutes": {"calendar": int(m), "business":
                                                          int(m) // 3}}
               for i, m in zip(range(N), minutes, strict=True)]
    (d / "tickets.json").write_text(json.dumps({"tickets": tickets}))
    (d / "ticket_metrics.json").write_text(json.dumps({"ticket_metrics": metrics}))
    return d


def _write_intercom(d: Path, rng: np.random.Generator) -> Path:
    created = 1_700_000_000 + rng.integers(0, 150 * 86_400, N)
    reply = created + rng.integers(10, 90_000, N)
    rating = rng.integers(1, 6, N)
    conv = [{"type": "conversation", "id": str(i), "created_at": int(c), "state": "closed",
             "source": {"type": "email", "author": {"type": "user", "id": f"u{k}"}},
             "contacts": {"type": "contact.list", "contacts": [{"type": "contact",
                                                                "id": f"u{k}"}]},
             "conversation_rating": {"rating": int(r)} if r != 3 else None,
             "statistics": {"first_admin_reply_at": int(a), "time_to_admin_reply": int(a - c),
                            "last_close_at": int(a + 600), "handling_time": 300}}
            for i, c, a, r, k in zip(range(N), created, reply, rating,
                                     rng.integers(0, N // 3, N), strict=True)]
    f = d / "conversations.json"
    f.write_text(json.dumps({"type": "conversation.list", "conversations": conv}))
    return f


def _floor(path: Path, key: str) -> float:
    t0 = time.perf_counter()
    pd.json_normalize(json.loads(path.read_text())[key], sep=".")
    return time.perf_counter() - t0


def main() -> None:
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        _write_zendesk(d, rng)
        t0 = time.perf_counter()
        z = import_zendesk(d)
        tz = time.perf_counter() - t0
        fz = _floor(d / "tickets.json", "tickets") + _floor(d / "ticket_metrics.json",
                                                              "ticket_metrics")
        print(f"import_zendesk, {N:,} tickets + metrics: {tz:.2f} s "
              f"(json.load + json_normalize alone: {fz:.2f} s; ratio {tz / fz:.2f}); "
              f"{len(z.conversations):,} conversations")
        f = _write_intercom(d, rng)
        t0 = time.perf_counter()
        i = import_intercom(f)
        ti = time.perf_counter() - t0
        fi = _floor(f, "conversations")
        print(f"import_intercom, {N:,} conversations: {ti:.2f} s "
              f"(json.load + json_normalize alone: {fi:.2f} s; ratio {ti / fi:.2f}); "
              f"{len(i.conversations):,} conversations")


if __name__ == "__main__":
    main()
