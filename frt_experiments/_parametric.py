"""A small parametric customer-level generator for checking power calculations by simulation.

Not the scenario simulator (:mod:`frt_experiments.simulate`): a minimal model with the same
metric definitions (DESIGN section 4), where every effect is an exact relative change of the
metric's expectation, so analytic power can be confirmed by Monte Carlo on sufficient
statistics.

Per customer: contacts ~ gamma-Poisson (mean ``contact_rate * (1 + q)``, gamma shape
``dispersion``), ratings ~ Binomial(contacts, ``response_rate``), satisfied ~
Binomial(ratings, propensity) with propensity ~ Beta(mean ``csat * (1 + c)``, concentration
``csat_concentration``), handle hours per conversation log-normal (mean ``handle_hours / (1 +
e)``), revenue_start log-normal, revenue_end = revenue_start * growth * (1 + r) * not-churned.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from frt_experiments import schema

__all__ = ["ParametricModel", "arm_sums", "estimate_and_var", "history_tables", "z_statistics"]


@dataclass(frozen=True)
class ParametricModel:
    contact_rate: float = 1.2
    dispersion: float = 0.8
    response_rate: float = 0.35
    csat: float = 0.85
    csat_concentration: float = 6.0
    handle_hours: float = 0.25
    handle_sigma: float = 0.8
    revenue_mean: float = 50.0
    revenue_sigma: float = 1.0
    churn: float = 0.05
    growth_sigma: float = 0.15


def _customers(model: ParametricModel, shape: tuple[int, ...], rng: np.random.Generator,
               effects: dict[str, float]) -> dict[str, np.ndarray]:
    q, c = effects.get("questions", 0.0), effects.get("csat", 0.0)
    e, r = effects.get("efficiency", 0.0), effects.get("nrr", 0.0)
    lam = rng.gamma(model.dispersion, model.contact_rate * (1 + q) / model.dispersion, shape)
    conv = rng.poisson(lam).astype(float)
    rated = rng.binomial(conv.astype(np.int64), model.response_rate).astype(float)
    mean = model.csat * (1 + c)
    k = model.csat_concentration
    prop = rng.beta(mean * k, (1 - mean) * k, shape)
    sat = rng.binomial(rated.astype(np.int64), prop).astype(float)
    # sum of conv log-normal handle times: mean conv * mu, variance via per-conversation draw
    mu = model.handle_hours / (1 + e)
    s2 = model.handle_sigma**2
    per_conv_mean = mu
    per_conv_var = mu**2 * (np.exp(s2) - 1)
    # normal approximation of the sum given conv > 0 keeps this vectorized; floor at a minimum
    hours = np.where(conv > 0, rng.normal(conv * per_conv_mean,
                                          np.sqrt(conv * per_conv_var)), 0.0)
    hours = np.where(conv > 0, np.maximum(hours, conv * mu * 0.05), 0.0)
    start = model.revenue_mean * np.exp(model.revenue_sigma * rng.standard_normal(shape)
                                        - model.revenue_sigma**2 / 2)
    alive = rng.random(shape) >= model.churn
    growth = np.exp(model.growth_sigma * rng.standard_normal(shape)
                    - model.growth_sigma**2 / 2)
    end = start * growth * (1 + r) * alive
    return {"conv": conv, "rated": rated, "sat": sat, "hours": hours, "start": start,
            "end": end}


def arm_sums(model: ParametricModel, n: int, reps: int, rng: np.random.Generator,
             effects: dict[str, float] | None = None) -> dict[str, np.ndarray]:
    """Per-replicate sufficient statistics (sums over ``n`` customers) of one arm.

    Returns arrays of shape (reps,) keyed ``n``, ``S_<v>`` and ``SS_<v>_<w>`` (cross
    products) for v, w in conv, rated, sat, hours, start, end.
    """
    d = _customers(model, (reps, n), rng, effects or {})
    out: dict[str, np.ndarray] = {"n": np.full(reps, float(n))}
    for v, a in d.items():
        out[f"S_{v}"] = a.sum(axis=1)
    pairs = [("conv", "conv"), ("sat", "sat"), ("rated", "rated"), ("sat", "rated"),
             ("end", "end"), ("start", "start"), ("end", "start"), ("hours", "hours"),
             ("conv", "hours")]
    for v, w in pairs:
        out[f"SS_{v}_{w}"] = (d[v] * d[w]).sum(axis=1)
    return out


def history_tables(model: ParametricModel, n: int, rng: np.random.Generator,
                   effects: dict[str, float] | None = None) -> tuple[pd.DataFrame,
                                                                     pd.DataFrame]:
    """Canonical customers and conversations tables for ``n`` customers (one arm)."""
    d = _customers(model, (n,), rng, effects or {})
    ids = np.char.add("c", np.arange(n).astype(str))
    customers = pd.DataFrame({
        schema.CUSTOMER_ID: ids,
        schema.MONTHLY_SPEND: d["start"],
        schema.REVENUE_START: d["start"],
        schema.REVENUE_END: d["end"],
    })
    conv = d["conv"].astype(np.int64)
    owner = np.repeat(np.arange(n), conv)
    m = len(owner)
    # spread each customer's ratings and satisfied ratings over its first conversations
    rank = np.arange(m) - np.repeat(np.cumsum(conv) - conv, conv)
    rated = rank < d["rated"][owner]
    good = rank < d["sat"][owner]
    share = np.where(conv[owner] > 0, d["hours"][owner] / np.maximum(conv[owner], 1), 0.0)
    created = pd.Timestamp("2026-01-01", tz="UTC") + pd.to_timedelta(
        rng.uniform(0, 150 * 86400, m), unit="s")
    conversations = pd.DataFrame({
        schema.CONVERSATION_ID: np.char.add("v", np.arange(m).astype(str)),
        schema.CUSTOMER_ID: ids[owner],
        schema.CREATED_AT: created,
        schema.FIRST_RESPONSE_AT: created + pd.Timedelta(hours=2),
        schema.HANDLE_SECONDS: share * 3600,
        schema.CSAT: pd.Series(np.where(good, "good", "bad"), dtype="string").mask(~rated),
        schema.CSAT_SCALE: pd.Series(np.full(m, schema.SCALE_GOOD_BAD),
                                     dtype="string").mask(~rated),
    })
    return customers, conversations


_RATIOS = {"questions": ("conv", None), "csat": ("sat", "rated"), "nrr": ("end", "start"),
           "efficiency": ("conv", "hours")}


def _pair(s: dict[str, np.ndarray], v: str, w: str) -> np.ndarray:
    return s[f"SS_{v}_{w}"] if f"SS_{v}_{w}" in s else s[f"SS_{w}_{v}"]


def estimate_and_var(s: dict[str, np.ndarray], metric: str) -> tuple[np.ndarray, np.ndarray]:
    """Per-replicate estimate and delta-method variance of a metric from one arm's sums.

    References:
        Deng, Knoblich and Lu (2018), section 3 (delta method for a ratio of means).
    """
    y, x = _RATIOS[metric]
    n = s["n"]
    my = s[f"S_{y}"] / n
    vy = (_pair(s, y, y) - n * my**2) / (n - 1)
    if x is None:
        return my, vy / n
    mx = s[f"S_{x}"] / n
    vx = (_pair(s, x, x) - n * mx**2) / (n - 1)
    cxy = (_pair(s, y, x) - n * mx * my) / (n - 1)
    r = my / mx
    return r, (vy - 2 * r * cxy + r**2 * vx) / (n * mx**2)


def z_statistics(control: dict[str, np.ndarray], treatment: dict[str, np.ndarray],
                 metric: str) -> np.ndarray:
    """Welch-type z of treatment - control per replicate (delta method for ratios)."""
    a, va = estimate_and_var(control, metric)
    b, vb = estimate_and_var(treatment, metric)
    return (b - a) / np.sqrt(va + vb)
