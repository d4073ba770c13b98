"""Simulate a whole trial: customers, assignments and conversations as canonical tables."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from frt_experiments import schema
from frt_experiments._outputs import OutputSet, output_set
from frt_experiments._progress import progress_bar
from frt_experiments.simulate.conversations import DrawnConversations, draw_conversations
from frt_experiments.simulate.heterogeneity import customer_modifiers
from frt_experiments.simulate.population import (
    Population,
    draw_population,
    draw_revenue_events,
)
from frt_experiments.simulate.scenario import Scenario, load_scenario, scenario_to_toml

__all__ = ["SimulatedTrial", "simulate"]


@dataclass(frozen=True, repr=False)
class SimulatedTrial:
    """The three canonical tables of one simulated trial, and the scenario that made them."""

    scenario: Scenario
    customers: pd.DataFrame
    assignments: pd.DataFrame
    conversations: pd.DataFrame
    seed: int | None = None

    def __repr__(self) -> str:
        return (f"SimulatedTrial(scenario={self.scenario.name!r}, "
                f"customers={len(self.customers):,}, assignments={len(self.assignments):,}, "
                f"conversations={len(self.conversations):,}, "
                f"window={self.scenario.start.isoformat()}..{self.scenario.end.isoformat()})")

    def to_pandas(self) -> dict[str, pd.DataFrame]:
        return {"customers": self.customers, "assignments": self.assignments,
                "conversations": self.conversations}

    def summary(self) -> str:
        conv = self.conversations.merge(self.assignments[[schema.CUSTOMER_ID, schema.ARM]],
                                        on=schema.CUSTOMER_ID)
        per = conv.groupby(schema.ARM, observed=True).agg(
            conversations=(schema.CONVERSATION_ID, "size"),
            median_frt_business_hours=(schema.FIRST_RESPONSE_BUSINESS_SECONDS,
                                       lambda s: s.median() / 3600))
        return f"{self!r}\n{per.to_string()}"

    def write(self, out: str | os.PathLike[str], *, format: str = "csv",
              manifest: bool = False) -> dict[str, Path]:
        """Write the tables (``csv`` or ``parquet``) and ``scenario.toml`` into ``out`` as one
        set: all become visible together, and the other format's tables of an earlier write
        are removed by the same commit (see :mod:`frt_experiments._outputs`). With
        ``manifest`` (as ``frt simulate`` writes) ``manifest.json`` lists each file's size and
        SHA-256, and readers refuse a file of the set that was changed or mixed in from another
        run. Returns the paths by table (and ``"scenario"``)."""
        with output_set(out, command="frt simulate", names=OUTPUTS,
                        manifest=manifest) as outputs:
            return self.stage(outputs, format=format)

    def stage(self, outputs: OutputSet, *, format: str = "csv", under: str = "") -> dict[str, Path]:
        """Stage the tables and ``scenario.toml`` into an output set
        (:func:`frt_experiments._outputs.output_set`), in the folder ``under`` of it; returns
        the paths they will have once committed."""
        if format not in ("csv", "parquet"):
            raise ValueError(f"format must be 'csv' or 'parquet', got {format!r}")
        prefix = f"{under.rstrip('/')}/" if under else ""
        paths = {}
        for name, df in self.to_pandas().items():
            target = f"{prefix}{name}.{format}"
            _write_arrow(_to_arrow(df), outputs.path(target), format)
            paths[name] = outputs.final(target)
        paths["scenario"] = outputs.write_text(f"{prefix}scenario.toml",
                                               scenario_to_toml(self.scenario))
        return paths


#: Every file a simulated trial writes into its directory (either format's tables).
OUTPUTS = (*(f"{t}.{f}" for t in schema.TABLES for f in ("csv", "parquet")), "scenario.toml")

_WHOLE_NUMBERS = (schema.HANDLE_SECONDS, *schema.PRE_COVARIATES,
                  schema.FIRST_RESPONSE_BUSINESS_SECONDS)


def _to_arrow(df: pd.DataFrame) -> pa.Table:
    cols = {}
    for name in df.columns:
        s = df[name]
        if isinstance(s.dtype, pd.DatetimeTZDtype):
            ns = s.to_numpy(dtype="datetime64[s]", na_value=np.datetime64("NaT", "s"))
            text = pa.array(np.datetime_as_string(ns, unit="s"), mask=np.isnat(ns))
            cols[name] = pc.binary_join_element_wise(text, "+00:00", "")
        elif name in _WHOLE_NUMBERS:
            cols[name] = pa.array(s.to_numpy(dtype=float).astype("int64"))  # whole numbers
        else:
            cols[name] = pa.array(s)
    return pa.table(cols)


def _write_arrow(table: pa.Table, path: Path, format: str) -> Path:
    """Write ``table`` to ``path`` (a staged file of an output set) as CSV or Parquet."""
    import pyarrow.csv as pacsv  # noqa: PLC0415
    import pyarrow.parquet as pq  # noqa: PLC0415

    if format == "csv":
        opts = pacsv.WriteOptions(quoting_style="none", quoting_header="none")
        pacsv.write_csv(table, str(path), opts)
    else:
        pq.write_table(table, str(path))
    return path


def _ids(prefix: str, n: int, width: int) -> pd.Series:
    num = pc.cast(pa.array(np.arange(1, n + 1)), pa.string())
    return pd.Series(pc.binary_join_element_wise(prefix, pc.utf8_lpad(num, width, "0"), "")
                     .to_pandas(), dtype="string")


def _buckets(ids: pd.Series, salt: str) -> np.ndarray:
    """Assignment buckets: the toolkit's hash_buckets (issue 4) when installed, else the same
    agreed rule (SHA-256 of "{salt}:{id}", first 8 bytes big-endian / 2**64)."""
    try:
        from frt_experiments.assignment import hash_buckets  # noqa: PLC0415
    except ImportError:
        raw = b"".join(hashlib.sha256(f"{salt}:{i}".encode()).digest()[:8]
                       for i in ids.tolist())
        return np.frombuffer(raw, dtype=">u8").astype(np.float64) / 2.0**64
    return np.asarray(hash_buckets(ids, salt), dtype=np.float64)


def _arm_index(buckets: np.ndarray, arms: tuple[str, ...],
               weights: tuple[float, ...]) -> np.ndarray:
    """Each bucket's arm as its position in ``arms`` (0 the control): the toolkit's
    arms_from_buckets (issue 4) when installed, so a simulated trial is assigned by the users'
    code path; else the same agreed rule (the first arm whose cumulative weight share exceeds
    the bucket)."""
    try:
        from frt_experiments.assignment import arms_from_buckets  # noqa: PLC0415
    except ImportError:
        cdf = np.cumsum(weights) / np.sum(weights)
        return np.minimum(np.searchsorted(cdf, buckets, side="right"), len(arms) - 1)
    labels = np.asarray(arms_from_buckets(buckets, arms=tuple(arms), weights=tuple(weights)))
    out = np.zeros(labels.shape, dtype=np.int64)
    for i, arm in enumerate(arms[1:], start=1):
        out[labels == arm] = i
    return out


def _utc(ns: np.ndarray) -> pd.Series:
    return pd.Series(pd.DatetimeIndex(ns.astype("datetime64[ns]"), tz="UTC"))


def simulate(
    scenario: str | Path | Scenario = "published", *,
    customers: int | None = None, months: float | None = None,
    rng: int | np.random.Generator | None = None, progress: bool = False,
    frt_model: Callable[[pd.Series, np.ndarray], np.ndarray] | None = None,
) -> SimulatedTrial:
    """Simulate a trial: customers, the assignment of the low-spend ones, and conversations.

    Args:
        scenario: A preset name (``"published"``, ``"aa"``, ``"harsh"``, ``"dose"``), a TOML
            path or a :class:`Scenario`.
        customers: Number of customers (default: the scenario's ``window.customers``).
        months: Window length in months (default: the scenario's ``window.months``).
        rng: Seed or generator; the same seed gives the same tables.
        progress: Show the progress on stderr: a bar on a terminal, a few whole lines (no
            carriage returns) when stderr is a file or a pipe.
        frt_model: Optional hook replacing the policy FRT:
            ``frt_model(created_at, slow) -> business seconds`` per conversation, ``slow``
            True in every arm but the first (see :mod:`frt_experiments.simulate.conversations`).

    With the desk in the loop (``desk.agents > 0``, e.g. the ``published-desk`` preset) the
    first responses come from the desk simulation on the scenario's headcount
    (:mod:`~frt_experiments.simulate.desk_loop`; ``customers`` scales the headcounts in
    proportion, so the load per agent stays); :func:`~frt_experiments.simulate.
    simulate_worlds` runs the status quo and the rollout beside the trial.

    Returns:
        A :class:`SimulatedTrial` with canonical, typed tables (UTC timestamps, string ids).

    References:
        The generative model and its calibration are described in
        :mod:`frt_experiments.simulate` and DESIGN section 5.
    """
    sc = load_scenario(scenario)
    changes: dict[str, int | float] = {}
    if customers is not None:
        if isinstance(customers, bool) or not isinstance(customers, int | np.integer) \
                or customers < 1:
            raise ValueError(f"customers must be a positive integer, got {customers!r}")
        changes["customers"] = int(customers)
    if months is not None:
        if not (isinstance(months, int | float) and 0 < months <= 60):
            raise ValueError(f"months must be in (0, 60], got {months!r}")
        changes["months"] = float(months)
    if changes:
        sc = _scaled_desk(sc, changes.get("customers")).with_(window=changes)
    seed = rng if isinstance(rng, int) else None
    gen = np.random.default_rng(rng)
    if sc.desk.agents > 0 and frt_model is None:
        from frt_experiments.simulate.desk_loop import desk_trial  # noqa: PLC0415

        return desk_trial(sc, gen, seed)
    n = sc.window.customers
    bar = progress_bar(total=4, desc="simulate", unit="step", enabled=progress)
    pop = draw_population(sc, n, gen)
    bar.update()
    ids = _ids("C", n, max(7, len(str(n))))
    el, e = sc.eligibility, sc.effects
    eligible = pop.spend <= el.max_spend
    buckets = np.full(n, np.nan)
    buckets[eligible] = _buckets(ids[eligible], el.salt)
    arm_idx = np.full(n, -1)
    arm_idx[eligible] = _arm_index(buckets[eligible], e.arms, e.weights)
    treated = arm_idx >= 1  # every arm but the control gets the effects' multipliers
    events = draw_revenue_events(n, gen)  # drawn here, read once the FRT is known
    bar.update()
    hte: dict[str, np.ndarray] = {}
    churn_mult: np.ndarray | float = e.churn
    if sc.heterogeneity.active:
        mods = customer_modifiers(sc, pop.segment, pop.spend, pop.rate)
        hte = {"questions_multiplier": mods.questions, "csat_shift": mods.csat_shift}
        churn_mult = mods.churn
    conv = draw_conversations(sc, rate=pop.rate, propensity=pop.propensity,
                              handle_factor=pop.handle_factor, tz_index=pop.timezone,
                              arm=arm_idx, rng=gen, frt_model=frt_model, **hte)
    log_hours = None
    if sc.revenue.churn_per_log_hour != 0:
        log_hours = np.bincount(conv.customer, weights=np.log1p(conv.frt_business_seconds
                                                                / 3600.0), minlength=n)
    rev_end = events.revenue_end(sc, pop.spend, np.where(treated, churn_mult, 1.0), log_hours)
    bar.update()
    trial = _trial(sc, pop, ids, buckets=buckets, arm_idx=arm_idx, rev_end=rev_end, conv=conv,
                   seed=seed)
    bar.update()
    bar.close()
    return trial


def _scaled_desk(sc: Scenario, customers: int | float | None) -> Scenario:
    """With the desk in the loop, its headcounts scaled to ``customers`` in proportion to
    ``window.customers`` (rounded, at least one agent), so the load per agent stays."""
    if customers is None or sc.desk.agents == 0 or customers == sc.window.customers:
        return sc
    ratio = customers / sc.window.customers
    rollout = sc.desk.rollout_agents or sc.desk.agents
    return sc.with_(desk={"agents": max(1, round(sc.desk.agents * ratio)),
                          "rollout_agents": max(1, round(rollout * ratio))})


def _trial(sc: Scenario, pop: Population, ids: pd.Series, *, buckets: np.ndarray,
           arm_idx: np.ndarray, rev_end: np.ndarray, conv: DrawnConversations,
           seed: int | None) -> SimulatedTrial:
    """The canonical tables of a simulated trial from its drawn arrays: customers, the
    assignments of the customers with an arm (``arm_idx >= 0``, a position in
    ``effects.arms``) and the conversations."""
    el, e, p = sc.eligibility, sc.effects, sc.population
    cust = pd.DataFrame({
        schema.CUSTOMER_ID: ids,
        schema.MONTHLY_SPEND: pop.spend,
        schema.REVENUE_START: pop.spend,
        schema.REVENUE_END: rev_end,
        schema.SEGMENT: pd.Series(np.asarray(p.segments)[pop.segment], dtype="string"),
        schema.TIMEZONE: pd.Series(np.asarray(p.timezones)[pop.timezone], dtype="string"),
        schema.PRE_CONVERSATIONS: pop.pre_conversations,
        schema.PRE_RATED: pop.pre_rated,
        schema.PRE_SATISFIED: pop.pre_satisfied,
        schema.PRE_HANDLE_SECONDS: pop.pre_handle_seconds,
    })
    assigned = np.flatnonzero(arm_idx >= 0)
    asg = pd.DataFrame({
        schema.CUSTOMER_ID: ids.iloc[assigned].reset_index(drop=True),
        schema.EXPERIMENT: pd.Series(np.full(assigned.size, el.experiment), dtype="string"),
        schema.ARM: pd.Series(np.asarray(e.arms)[arm_idx[assigned]], dtype="string"),
        schema.ASSIGNED_AT: pd.Series(pd.DatetimeIndex(np.full(assigned.size, sc.start.value)
                                                  .astype("datetime64[ns]"), tz="UTC")),
        schema.BUCKET: buckets[assigned],
    })
    m = conv.customer.size
    rating = pd.Series(conv.rating.astype(str), dtype="string").where(conv.rating > 0)
    convs = pd.DataFrame({
        schema.CONVERSATION_ID: _ids("V", m, max(8, len(str(m)))),
        schema.CUSTOMER_ID: ids.iloc[conv.customer].reset_index(drop=True),
        schema.CREATED_AT: _utc(conv.created_ns),
        schema.FIRST_RESPONSE_AT: _utc(conv.first_response_ns),
        schema.HANDLE_SECONDS: conv.handle_seconds,
        schema.CSAT: rating,
        schema.CSAT_SCALE: pd.Series(np.full(m, schema.SCALE_1_5), dtype="string"),
        schema.CHANNEL: pd.Series(np.full(m, sc.conversations.channel), dtype="string"),
        schema.FIRST_RESPONSE_BUSINESS_SECONDS: conv.frt_business_seconds,
    })
    return SimulatedTrial(sc, cust, asg, convs, seed)
