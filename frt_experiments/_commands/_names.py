"""The names the ``frt`` parsers show (choices, defaults, help), without the modules that
define them.

Building the parsers must not import pandas, SciPy, statsmodels, Matplotlib, DuckDB or Ibis:
``frt --version``, ``frt --help`` and an argument error answer at once. The modules that
define these names import those libraries, so the values are repeated here; a test
(tests/test_cli_startup.py) checks each against its source, so the two cannot drift apart.
"""

from __future__ import annotations

from pathlib import Path

#: The scenario presets: the TOML files shipped in frt_experiments/scenarios
#: (frt_experiments.simulate.PRESETS), read from the directory without importing the simulator.
PRESETS: tuple[str, ...] = tuple(sorted(
    p.stem for p in (Path(__file__).resolve().parent.parent / "scenarios").glob("*.toml")))

#: frt_experiments.schema
CUSTOMER_ID = "customer_id"
ARM = "arm"
CONTROL_ARM = "fast"
TREATMENT_ARM = "one_business_day"

#: frt_experiments.decision.TRUST_FILE
TRUST_FILE = "trust.json"

#: frt_experiments.ledger.DEFAULT_LOCK_TIMEOUT
DEFAULT_LOCK_TIMEOUT = 300.0

#: frt_experiments.sql.DIALECTS
DIALECTS: tuple[str, ...] = ("bigquery", "duckdb", "postgres", "snowflake", "spark")

#: the fields of frt_experiments.ingest.calls.CALL_FIELDS
CALL_FIELD_NAMES: tuple[str, ...] = ("conversation_id", "customer_id", "queued_at",
                                     "answered_at", "hung_up_at", "talk_seconds", "channel")

#: frt_experiments.ingest._common.BILLING_KEYS
BILLING_KEYS: tuple[str, ...] = ("id", "email", "external_id")

#: frt_experiments.staffing.plan.EVERYONE_FAST and POLICIES
EVERYONE_FAST = "everyone_fast"
POLICIES: tuple[str, ...] = (EVERYONE_FAST, "rollout")
