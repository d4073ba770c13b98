"""Erlang B, C and A: steady-state queue formulas for live channels (chat, phone).

A queue with ``n`` agents, Poisson arrivals at rate lambda and exponential handle times of mean
``aht`` carries an offered load ``a = lambda * aht`` (Erlangs). The formulas here answer how
likely a contact is to wait, how long it waits, the share answered within a target time and
how busy the agents are:

- Erlang B (M/M/n/n) -- :func:`erlang_b`, by the stable recursion
  ``B(k) = a B(k-1) / (k + a B(k-1))`` carried out in log space (no overflow, no underflow
  for thousands of agents).
- Erlang C (M/M/n, infinitely patient customers) -- :func:`erlang_c`, from Erlang B by
  ``C = n B / (n - a (1 - B))``.
- Erlang A (M/M/n+M, customers abandon after an exponential patience) -- :func:`erlang_a`,
  with Palm's formulas in the form of Mandelbaum and Zeltyn (2007), built on the function
  ``A(x, y) = 1 + sum_{j>=1} y^j / prod_{k=1..j} (x + k) = x e^y y^-x gamma(x, y)`` with
  ``x = n mu / theta`` and ``y = lambda / theta``.

**Intervals.** A planner staffs a day or a week interval by interval: ``erlang_c``,
``erlang_a`` and ``required_agents`` take one arrival rate (and optionally one handle time and
one agent count) per interval as arrays or a :class:`pandas.Series` indexed by interval start,
and answer for all intervals in one vectorised call (the stationary independent period-by-period
approximation, Green, Kolesar and Soares 2001: each interval is treated as its own steady
state). Intervals without arrivals need no agents. A scalar arrival rate and handle time keep
the agent sweep (one row per agent count) of the single-queue calls.

For first-response targets of hours these formulas reduce to pure workload; the desk
simulation (:mod:`frt_experiments.staffing.desk`) covers business hours and backlog.
:func:`required_agents` finds the fewest agents for a service level, occupancy cap and
shrinkage.

References:
    Erlang, A. K. (1917). Solution of some problems in the theory of probabilities of
    significance in automatic telephone exchanges. *Elektroteknikeren* 13.
    Jagerman, D. L. (1974). Some properties of the Erlang loss function. *Bell System
    Technical Journal* 53(3), 525-551 (the Erlang B recursion).
    Palm, C. (1943). Intensitätsschwankungen im Fernsprechverkehr. *Ericsson Technics* 44.
    Garnett, O., Mandelbaum, A. and Reiman, M. (2002). Designing a call center with impatient
    customers. *Manufacturing & Service Operations Management* 4(3), 208-227.
    Mandelbaum, A. and Zeltyn, S. (2007). Service engineering in action: the Palm/Erlang-A
    queue, with applications to call centers. In *Advances in Services Innovations*,
    Springer, 17-45.
    Gans, N., Koole, G. and Mandelbaum, A. (2003). Telephone call centers: tutorial, review,
    and research prospects. *Manufacturing & Service Operations Management* 5(2), 79-141.
    Green, L. V., Kolesar, P. J. and Soares, J. (2001). Improving the SIPP approach for
    staffing service systems that have cyclic demands. *Operations Research* 49(4), 549-564.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, TypeAlias, overload

import numpy as np
import pandas as pd
from scipy import special, stats

from frt_experiments.errors import UnstableQueueError

__all__ = [
    "QueueMetrics",
    "StaffingByInterval",
    "StaffingRequirement",
    "erlang_a",
    "erlang_b",
    "erlang_c",
    "required_agents",
]

_SECONDS_PER_HOUR = 3600.0
#: Agents are never searched beyond this many (a guard against a target that cannot be met).
_MAX_AGENTS = 1_000_000


# ---------------------------------------------------------------------------- validation


def _positive(name: str, value: Any) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a positive number, got {value!r}") from None
    if not (v > 0) or math.isinf(v):
        raise ValueError(f"{name} must be a positive finite number, got {value!r}")
    return v


def _non_negative(name: str, value: Any) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number >= 0, got {value!r}") from None
    if not (v >= 0) or math.isinf(v):
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    return v


def _agents_array(agents: Any) -> np.ndarray:
    arr = np.asarray(agents)
    if arr.dtype.kind not in "iuf" or arr.size == 0:
        raise ValueError(f"agents must be positive whole numbers, got {agents!r}")
    bad = ~np.isfinite(arr) | (arr < 1) | (arr != np.floor(arr))
    if bad.any():
        shown = ", ".join(str(v) for v in arr[bad].ravel()[:5])
        raise ValueError(f"agents must be whole numbers >= 1, got {shown}")
    return arr.astype(np.int64)


def _load_array(load: Any) -> np.ndarray:
    arr = np.asarray(load, dtype=float)
    if arr.size == 0 or not (np.isfinite(arr) & (arr > 0)).all():
        raise ValueError(f"load must be positive finite Erlangs, got {load!r}")
    return arr


def _out(x: np.ndarray) -> Any:
    """A 0-d result as a Python float, otherwise the array."""
    return float(x) if np.ndim(x) == 0 else x


@dataclass(frozen=True)
class _Intervals:
    """Per-interval inputs: arrival rate, handle time and load (1-d, one entry per interval)."""

    lam: np.ndarray
    aht: np.ndarray
    t: float
    load: np.ndarray
    index: pd.Index | None


def _is_intervals(*values: Any) -> bool:
    """Interval mode: an arrival rate or handle time given per interval (array or Series)."""
    return any(isinstance(v, pd.Series) or np.ndim(v) > 0 for v in values)


def _label(index: pd.Index | None, i: int) -> str:
    return f"interval {i}" if index is None else f"interval {index[i]}"


def _per_interval(name: str, value: Any, *, zero_ok: bool) -> np.ndarray:
    rule = ">= 0" if zero_ok else "> 0"
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be numbers {rule} (one per interval), got "
                         f"{value!r}") from None
    if arr.ndim > 1:
        raise ValueError(f"{name} must be one number per interval (1-d), got shape {arr.shape}")
    ok = np.isfinite(arr) & ((arr >= 0) if zero_ok else (arr > 0))
    if not ok.all():
        i = int(np.flatnonzero(~np.broadcast_to(ok, arr.shape).ravel())[0]) if arr.ndim else 0
        shown = float(arr.ravel()[i]) if arr.ndim else float(arr)
        where = f" at interval {i}" if arr.ndim else ""
        raise ValueError(f"{name} must be finite numbers {rule}, got {shown!r}{where} "
                         f"({int((~ok).sum())} bad)")
    return arr


def _interval_inputs(arrivals_per_hour: Any, aht_seconds: Any, target_seconds: Any
                     ) -> _Intervals:
    index = next((v.index for v in (arrivals_per_hour, aht_seconds)
                  if isinstance(v, pd.Series)), None)
    lam = _per_interval("arrivals_per_hour", arrivals_per_hour, zero_ok=True)
    aht = _per_interval("aht_seconds", aht_seconds, zero_ok=False)
    try:
        lam, aht = (np.array(x, dtype=float) for x in np.broadcast_arrays(lam, aht))
    except ValueError:
        raise ValueError(f"arrivals_per_hour and aht_seconds must have one value per interval "
                         f"each, got {lam.size} and {aht.size}") from None
    if lam.size == 0:
        raise ValueError("arrivals_per_hour must have at least one interval, got none")
    if index is not None and len(index) != lam.size:
        raise ValueError(f"arrivals_per_hour and aht_seconds must have one value per interval "
                         f"each, got {lam.size} and {len(index)}")
    t = _non_negative("target_seconds", target_seconds)
    return _Intervals(lam, aht, t, lam * aht / _SECONDS_PER_HOUR, index)


def _interval_agents(agents: Any, iv: _Intervals) -> np.ndarray:
    """Agents per interval: whole numbers >= 0, at least 1 where contacts arrive."""
    arr = np.asarray(agents)
    if arr.dtype.kind not in "iuf" or arr.ndim > 1:
        raise ValueError(f"agents must be whole numbers (one per interval), got {agents!r}")
    try:
        n = np.broadcast_to(arr, iv.load.shape)
    except ValueError:
        raise ValueError(f"agents must have one value per interval ({iv.load.size}), got "
                         f"{arr.size}") from None
    bad = ~np.isfinite(n) | (n < 0) | (n != np.floor(n)) | ((n < 1) & (iv.load > 0))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(f"agents must be whole numbers, >= 1 where arrivals_per_hour > 0, got "
                         f"{float(n[i]):g} at {_label(iv.index, i)} ({int(bad.sum())} bad)")
    return n.astype(np.int64)


# ------------------------------------------------------------------------ Erlang B and C


def _log_erlang_b(agents: np.ndarray, load: np.ndarray) -> np.ndarray:
    """log B(n, a), broadcast over agents and load: Poisson pmf/cdf where n >= a, else
    Jagerman's recursion in log space."""
    n, a = np.broadcast_arrays(agents, load)
    log_a = np.log(a)
    # Where n >= a, B = Poisson pmf / cdf at n: the cdf is at least about 1/2, so the direct
    # form neither underflows nor cancels and costs O(1). Elsewhere, the recursion from B(0)=1.
    direct = n >= a
    log_b = np.where(direct, stats.poisson.logpmf(n, a) - stats.poisson.logcdf(n, a), 0.0)
    if not direct.all():
        rec = np.zeros(n.shape)  # B(0, a) = 1
        top = int(n[~direct].max())
        for k in range(1, top + 1):  # a loop over agent counts, vectorised over inputs
            step = log_a + rec - np.logaddexp(math.log(k), log_a + rec)
            rec = np.where(k <= n, step, rec)
        log_b = np.where(direct, log_b, rec)
    return log_b


def erlang_b(agents: Any, load: Any) -> Any:
    """Erlang B: the probability that all ``agents`` are busy in a loss system (M/M/n/n).

    Args:
        agents: Number of agents (whole numbers >= 1; array-like broadcasts with ``load``).
        load: Offered load in Erlangs (arrival rate times mean handle time).

    Returns:
        The blocking probability, a float for scalar input and an array otherwise.

    References:
        Erlang (1917); Jagerman (1974), the recursion ``B(k) = a B(k-1) / (k + a B(k-1))``,
        evaluated in log space so that thousands of agents neither overflow nor underflow.

    Examples:
        >>> round(erlang_b(2, 1.0), 6)  # (1/2) / (1 + 1 + 1/2)
        0.2
    """
    n = _agents_array(agents)
    a = _load_array(load)
    return _out(np.exp(_log_erlang_b(n, a)))


def _check_stable(n: np.ndarray, a: np.ndarray) -> None:
    n, a = np.broadcast_arrays(n, a)
    bad = n <= a
    if bad.any():
        i = np.flatnonzero(bad.ravel())[0]
        raise UnstableQueueError(
            f"load {a.ravel()[i]:.4g} Erlangs is at or above the capacity of agents="
            f"{n.ravel()[i]}: an Erlang C queue without abandonment has no steady state "
            f"(use more agents than the load, or give patience_seconds for Erlang A)")


def _log_erlang_c(n: np.ndarray, a: np.ndarray) -> np.ndarray:
    log_b = _log_erlang_b(n, a)
    b = np.exp(log_b)
    return np.log(n) + log_b - np.log(n - a * (1.0 - b))


# ------------------------------------------------------------------------------ Erlang A


def _log_a_function(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """log A(x, y), A(x, y) = 1 + sum_{j>=1} y^j / prod_{k=1..j}(x+k) = x e^y y^-x gamma(x, y).

    Direct form through the regularised lower incomplete gamma function where it does not
    underflow; otherwise (y well below x) the series, whose terms then fall geometrically.
    """
    x, y = np.broadcast_arrays(np.asarray(x, dtype=float), np.asarray(y, dtype=float))
    zero = y <= 0.0  # A(x, 0) = 1 (the target time is so long that e^-theta*t underflows)
    y = np.where(zero, 1.0, y)
    p = special.gammainc(x, y)
    log_density = x * np.log(y) - y - special.gammaln(x + 1.0)
    direct = p > 1e-280
    with np.errstate(divide="ignore"):
        out = np.where(direct, np.log(np.where(direct, p, 1.0)) - log_density, 0.0)
    todo = np.flatnonzero(~direct.ravel())
    if todo.size:
        xs, ys = x.ravel()[todo], y.ravel()[todo]
        total = np.ones(todo.size)
        cum = np.zeros(todo.size)
        active = np.ones(todo.size, dtype=bool)
        start = 1
        chunk = 256
        while active.any():  # convergence loop over series terms, vectorised over inputs
            k = np.arange(start, start + chunk, dtype=float)
            logs = np.cumsum(np.log((xs[active, None] + k) / ys[active, None]), axis=1)
            logs += cum[active, None]
            terms = np.exp(-logs)
            total[active] += terms.sum(axis=1)
            cum[active] = logs[:, -1]
            done = terms[:, -1] < 1e-17 * total[active]
            idx = np.flatnonzero(active)
            active[idx[done]] = False
            start += chunk
            chunk = min(chunk * 2, 65536)
        flat = out.ravel().copy()
        flat[todo] = np.log(total)
        out = flat.reshape(out.shape)
    return np.where(zero, 0.0, out)


@dataclass(frozen=True)
class _ErlangA:
    log_p_wait: np.ndarray
    p_wait: np.ndarray
    p_abandon: np.ndarray
    log_pi_n: np.ndarray


def _erlang_a_core(n: np.ndarray, a: np.ndarray, theta_over_mu: Any) -> _ErlangA:
    """P(wait) and P(abandon) of M/M/n+M with offered load a and patience rate theta."""
    x = n / theta_over_mu
    y = a / theta_over_mu
    log_e = _log_erlang_b(n, a)
    log_a = _log_a_function(x, y)
    # pi_n = E / (1 + (A - 1) E) = 1 / (1/E - 1 + A), in log space
    log_inv_e_minus_1 = np.log(-np.expm1(log_e)) - log_e
    log_pi_n = -np.logaddexp(log_inv_e_minus_1, log_a)
    log_p_wait = log_a + log_pi_n
    p_wait = np.exp(log_p_wait)
    rho = a / n
    # P(Ab) = P(W > 0) [1 / (rho A) + 1 - 1 / rho]   (Mandelbaum and Zeltyn 2007)
    bracket = np.exp(-log_a) / rho + 1.0 - 1.0 / rho
    p_abandon = np.clip(p_wait * bracket, 0.0, 1.0)
    return _ErlangA(log_p_wait, p_wait, p_abandon, log_pi_n)


def _erlang_a_service_level(n: np.ndarray, a: np.ndarray, theta_over_mu: Any,
                            core: _ErlangA, t_over_aht: Any) -> np.ndarray:
    """Share of all arrivals answered within t: P(W = 0) + P(0 < W <= t, served).

    With u0 = exp(-theta t), the queued-and-served-within-t mass is
    pi_n x/(x+1) [A(x+1, y) - u0^(x+1) e^(y(1-u0)) A(x+1, y u0)] (the arrival's virtual wait
    V given m customers ahead satisfies exp(-theta V) ~ Beta(x, m+1)).
    """
    x = n / theta_over_mu
    y = a / theta_over_mu
    theta_t = theta_over_mu * t_over_aht
    # per interval (array theta) or one queue (float: math.exp, as before)
    u0 = np.exp(-theta_t) if np.ndim(theta_t) else math.exp(-theta_t)
    log_a1 = _log_a_function(x + 1.0, y)
    if np.all(theta_t == 0.0):
        served_within = np.zeros(np.broadcast(n, a).shape)
    else:
        log_a1_t = _log_a_function(x + 1.0, y * u0)
        log_ratio = -(x + 1.0) * theta_t + y * (1.0 - u0) + log_a1_t - log_a1
        log_ratio = np.minimum(log_ratio, 0.0)
        served_within = (np.exp(core.log_pi_n + np.log(x / (x + 1.0)) + log_a1)
                         * -np.expm1(log_ratio))
    return np.clip(1.0 - core.p_wait + served_within, 0.0, 1.0)


def _gauss_legendre_panels(lo: np.ndarray, hi: np.ndarray, panels: int = 64,
                           order: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """Nodes and weights (shape (m, panels*order)) of composite Gauss-Legendre on [lo, hi]."""
    z, w = np.polynomial.legendre.leggauss(order)
    edges = np.linspace(0.0, 1.0, panels + 1)
    half = 0.5 * (edges[1:] - edges[:-1])
    mid = 0.5 * (edges[1:] + edges[:-1])
    unit_nodes = (mid[:, None] + half[:, None] * z[None, :]).ravel()
    unit_weights = (half[:, None] * w[None, :]).ravel()
    width = (hi - lo)[:, None]
    return lo[:, None] + width * unit_nodes[None, :], width * unit_weights[None, :]


def _erlang_a_mean_wait_served(n: np.ndarray, a: np.ndarray, theta_over_mu: Any,
                               core: _ErlangA, p_abandon: np.ndarray) -> np.ndarray:
    """E[W | served] in units of the mean handle time.

    E[W; served] = (pi_n x / theta) int_0^inf v exp(y (1 - e^-v) - (x+1) v) dv, evaluated by
    composite Gauss-Legendre quadrature around the integrand's peak, in log space.
    """
    shape = np.broadcast(n, a).shape
    x = np.broadcast_to(n / theta_over_mu, shape).ravel().astype(float)
    y = np.broadcast_to(a / theta_over_mu, shape).ravel().astype(float)

    def g(v: np.ndarray, xx: np.ndarray, yy: np.ndarray) -> np.ndarray:
        return yy * -np.expm1(-v) - (xx + 1.0) * v

    peak = np.maximum(0.0, np.log(y / (x + 1.0)))
    g_max = g(peak, x, y)
    drop = 60.0
    # upper end: g(v) <= y - (x+1) v, so v_up below brackets the point where g = g_max - drop
    lo_b, hi_b = peak.copy(), (y - g_max + drop) / (x + 1.0) + peak
    lower_lo, lower_hi = np.zeros_like(peak), peak.copy()
    for _ in range(80):  # bisection, vectorised over inputs
        mid = 0.5 * (lo_b + hi_b)
        above = g(mid, x, y) > g_max - drop
        lo_b, hi_b = np.where(above, mid, lo_b), np.where(above, hi_b, mid)
        mid_l = 0.5 * (lower_lo + lower_hi)
        above_l = g(mid_l, x, y) > g_max - drop
        lower_lo, lower_hi = np.where(above_l, lower_lo, mid_l), np.where(above_l, mid_l,
                                                                          lower_hi)
    v_lo = np.where(g(np.zeros_like(peak), x, y) > g_max - drop, 0.0, lower_lo)
    nodes, weights = _gauss_legendre_panels(v_lo, hi_b)
    integrand = nodes * np.exp(g(nodes, x[:, None], y[:, None]) - g_max[:, None])
    log_integral = g_max + np.log((weights * integrand).sum(axis=1))
    log_pi_n = np.broadcast_to(core.log_pi_n, shape).ravel()
    theta = np.broadcast_to(theta_over_mu, shape).ravel() if np.ndim(theta_over_mu) \
        else theta_over_mu
    wait_served = np.exp(log_pi_n + np.log(x) + log_integral) / theta
    p_served = 1.0 - np.broadcast_to(p_abandon, shape).ravel()
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where(p_served > 0, wait_served / p_served, np.nan)
    return out.reshape(shape)


# ----------------------------------------------------------------------------- results


@dataclass(frozen=True, repr=False, eq=False)
class QueueMetrics:
    """Steady-state performance of a live queue for one or more agent counts, or per interval.

    One queue (scalar arrival rate and handle time): one row per agent count. Per interval
    (arrival rates, handle times or agents given per interval): one row per interval, and
    ``arrivals_per_hour``, ``aht_seconds`` and ``load`` are arrays too.

    Attributes:
        model: ``"erlang_c"`` or ``"erlang_a"``.
        arrivals_per_hour, aht_seconds, target_seconds, patience_seconds: The inputs
            (``patience_seconds`` is ``None`` for Erlang C).
        load: Offered load in Erlangs.
        agents: Agent counts (array).
        p_wait: Probability that a contact waits at all (all agents busy on arrival).
        asa: Average speed of answer in seconds: mean wait of answered contacts, counting
            those answered at once.
        mean_wait: Mean wait of all arrivals in seconds (abandoned contacts count the time
            until they left; equals ``asa`` for Erlang C).
        service_level: Share of all arrivals answered within ``target_seconds`` (an
            abandonment counts against it).
        occupancy: Share of agent time spent handling contacts (carried load / agents; 0 in
            an interval without arrivals).
        p_abandon: Probability of abandoning (0 for Erlang C).
        index: Per interval: the index of the Series the rates came in (interval starts),
            ``None`` otherwise.
    """

    model: str
    arrivals_per_hour: Any
    aht_seconds: Any
    target_seconds: float
    patience_seconds: float | None
    load: Any
    agents: np.ndarray
    p_wait: np.ndarray
    asa: np.ndarray
    mean_wait: np.ndarray
    service_level: np.ndarray
    occupancy: np.ndarray
    p_abandon: np.ndarray
    index: pd.Index | None = field(default=None, compare=False)

    _COLUMNS = ("agents", "p_wait", "asa", "mean_wait", "service_level", "occupancy",
                "p_abandon")

    @property
    def by_interval(self) -> bool:
        """Whether the rows are intervals (rates per interval) rather than agent counts."""
        return bool(np.ndim(self.load))

    def to_pandas(self) -> pd.DataFrame:
        """One row per agent count (one queue) or per interval (indexed by interval start
        when the rates came as a Series)."""
        if not self.by_interval:
            return pd.DataFrame({c: np.ravel(getattr(self, c)) for c in self._COLUMNS})
        cols = ("arrivals_per_hour", "aht_seconds", "load", *self._COLUMNS)
        index = self.index if self.index is not None else pd.RangeIndex(
            len(self.load), name="interval")
        return pd.DataFrame({c: np.ravel(getattr(self, c)) for c in cols}, index=index)

    def summary(self) -> str:
        patience = ("" if self.patience_seconds is None
                    else f", patience {self.patience_seconds:g} s")
        if self.by_interval:
            lam, aht = np.asarray(self.arrivals_per_hour), np.asarray(self.aht_seconds)
            busy = lam > 0
            worst = float(self.service_level[busy].min()) if busy.any() else 1.0
            head = (f"{self.model} over {lam.size:,} intervals ({int(busy.sum()):,} with "
                    f"arrivals; {float(lam.min()):g} to {float(lam.max()):g} contacts/h, AHT "
                    f"{float(aht.min()):g} to {float(aht.max()):g} s){patience}; service level "
                    f"within {self.target_seconds:g} s: lowest {worst:.5f}")
            return head + "\n" + self.to_pandas().to_string(
                max_rows=12, float_format="{:.5g}".format)
        head = (f"{self.model}: {self.arrivals_per_hour:g} contacts/h, AHT "
                f"{self.aht_seconds:g} s (load {self.load:.4g} Erlangs){patience}; "
                f"service level within {self.target_seconds:g} s")
        return head + "\n" + self.to_pandas().to_string(index=False, float_format="{:.5g}".format)

    def __repr__(self) -> str:
        return f"QueueMetrics({self.summary()})"

    def _repr_html_(self) -> str:
        return self.to_pandas().to_html(index=self.by_interval, escape=True, max_rows=60)


def _rate_inputs(arrivals_per_hour: Any, aht_seconds: Any, target_seconds: Any
                 ) -> tuple[float, float, float, float]:
    lam = _positive("arrivals_per_hour", arrivals_per_hour)
    aht = _positive("aht_seconds", aht_seconds)
    t = _non_negative("target_seconds", target_seconds)
    return lam, aht, t, lam * aht / _SECONDS_PER_HOUR


def erlang_c(agents: Any, arrivals_per_hour: float, aht_seconds: float, *,
             target_seconds: float = 20.0) -> QueueMetrics:
    """Erlang C (M/M/n): waiting probability, ASA, service level and occupancy.

    With load ``a = arrivals_per_hour * aht_seconds / 3600`` and ``n`` agents (``n > a``):
    ``P(wait) = C(n, a) = n B / (n - a (1 - B))`` with ``B`` the Erlang B probability,
    ``ASA = C * aht / (n - a)``, ``SL(t) = 1 - C exp(-(n - a) t / aht)``, occupancy ``a / n``.

    Args:
        agents: Agent count(s); whole numbers greater than the load (array-like vectorises).
            Per interval: one count for all intervals or one per interval (0 allowed where
            nothing arrives).
        arrivals_per_hour: Poisson arrival rate; an array or Series gives one rate per
            interval (zeros allowed) and one row per interval.
        aht_seconds: Mean handle time (exponential); one per interval allowed.
        target_seconds: Service-level target time (default 20 s, the common 80/20 rule).

    Returns:
        :class:`QueueMetrics` (``p_abandon`` is 0).

    Raises:
        UnstableQueueError: If any agent count is at or below the load (per interval: the
            message names the first such interval).

    References:
        Erlang (1917); Gans, Koole and Mandelbaum (2003), section 4.1 (M/M/N formulas);
        Jagerman (1974) for the Erlang B recursion.

    Examples:
        >>> m = erlang_c(14, 200, 180)
        >>> round(float(m.p_wait[0]), 5), round(float(m.service_level[0]), 5)
        (0.17413, 0.88835)
    """
    if _is_intervals(arrivals_per_hour, aht_seconds):
        return _erlang_c_intervals(agents, _interval_inputs(arrivals_per_hour, aht_seconds,
                                                            target_seconds))
    lam, aht, t, load = _rate_inputs(arrivals_per_hour, aht_seconds, target_seconds)
    n = np.atleast_1d(_agents_array(agents))
    _check_stable(n, np.asarray(load))
    c = np.exp(_log_erlang_c(n, np.asarray(load)))
    asa = c * aht / (n - load)
    sl = 1.0 - c * np.exp(-(n - load) * t / aht)
    return QueueMetrics("erlang_c", lam, aht, t, None, load, n, c, asa, asa.copy(),
                        sl, load / n, np.zeros(n.shape))


def erlang_a(agents: Any, arrivals_per_hour: float, aht_seconds: float,
             patience_seconds: float, *, target_seconds: float = 20.0) -> QueueMetrics:
    """Erlang A (M/M/n+M, Palm's queue with exponential patience).

    With ``mu = 1/aht``, ``theta = 1/patience``, ``x = n mu / theta``, ``y = lambda / theta``,
    Erlang B probability ``E = B(n, lambda/mu)`` and
    ``A(x, y) = x e^y y^-x gamma(x, y)`` (lower incomplete gamma):

    - ``P(W > 0) = A E / (1 + (A - 1) E)``;
    - ``P(Ab) = P(W > 0) [1 / (rho A) + 1 - 1 / rho]``, ``rho = lambda / (n mu)``;
    - the share of *all* arrivals answered within ``t`` is ``P(W = 0)`` plus
      ``pi_n x/(x+1) [A(x+1, y) - u^(x+1) e^(y(1-u)) A(x+1, y u)]``, ``u = e^(-theta t)``,
      ``pi_n = E / (1 + (A - 1) E)`` (the waiting-time distribution of served contacts in
      Mandelbaum and Zeltyn 2007, integrated over the state seen on arrival);
    - ASA = E[W | served], by quadrature of the same mixture; mean wait of all arrivals
      ``E[W] = P(Ab) * patience`` (Little's law on the abandonment flow);
    - occupancy = carried load / n = ``a (1 - P(Ab)) / n``.

    Erlang A has a steady state for any number of agents, so overloaded desks are allowed.
    As ``patience_seconds`` grows the results tend to Erlang C's.

    Args:
        agents: Agent count(s), whole numbers >= 1 (array-like vectorises). Per interval:
            one count for all intervals or one per interval (0 allowed where nothing
            arrives).
        arrivals_per_hour: Poisson arrival rate; an array or Series gives one rate per
            interval (zeros allowed) and one row per interval.
        aht_seconds: Mean handle time (exponential); one per interval allowed.
        patience_seconds: Mean patience of a waiting contact (exponential).
        target_seconds: Service-level target time (default 20 s).

    Returns:
        :class:`QueueMetrics`.

    References:
        Palm (1943); Garnett, Mandelbaum and Reiman (2002), section 3; Mandelbaum and Zeltyn
        (2007), section 3 (the function A(x, y), P(W > 0), P(Ab) and the waiting-time
        distribution).
    """
    if _is_intervals(arrivals_per_hour, aht_seconds):
        iv = _interval_inputs(arrivals_per_hour, aht_seconds, target_seconds)
        return _erlang_a_intervals(agents, iv, _positive("patience_seconds", patience_seconds))
    lam, aht, t, load = _rate_inputs(arrivals_per_hour, aht_seconds, target_seconds)
    patience = _positive("patience_seconds", patience_seconds)
    n = np.atleast_1d(_agents_array(agents))
    a = np.asarray(load)
    theta_over_mu = aht / patience
    core = _erlang_a_core(n, a, theta_over_mu)
    sl = _erlang_a_service_level(n, a, theta_over_mu, core, t / aht)
    asa = _erlang_a_mean_wait_served(n, a, theta_over_mu, core, core.p_abandon) * aht
    occupancy = load * (1.0 - core.p_abandon) / n
    return QueueMetrics("erlang_a", lam, aht, t, patience, load, n, core.p_wait, asa,
                        core.p_abandon * patience, sl, occupancy, core.p_abandon)


def _erlang_c_intervals(agents: Any, iv: _Intervals) -> QueueMetrics:
    """Erlang C per interval: the same formulas as the one-queue call, element by element."""
    n = _interval_agents(agents, iv)
    load, aht, t = iv.load, iv.aht, iv.t
    busy = load > 0
    unstable = busy & (n <= load)
    if unstable.any():
        i = int(np.flatnonzero(unstable)[0])
        raise UnstableQueueError(
            f"load {load[i]:.4g} Erlangs is at or above the capacity of agents={n[i]} at "
            f"{_label(iv.index, i)} ({int(unstable.sum())} of {load.size} intervals): an "
            "Erlang C queue without abandonment has no steady state (use more agents than "
            "the load, or give patience_seconds for Erlang A)")
    c, asa = np.zeros(load.shape), np.zeros(load.shape)
    sl, occ = np.ones(load.shape), np.zeros(load.shape)
    nb, ab, hb = n[busy], load[busy], aht[busy]
    cb = np.exp(_log_erlang_c(nb, ab))
    c[busy] = cb
    asa[busy] = cb * hb / (nb - ab)
    sl[busy] = 1.0 - cb * np.exp(-(nb - ab) * t / hb)
    occ[busy] = ab / nb
    return QueueMetrics("erlang_c", iv.lam, aht, t, None, load, n, c, asa, asa.copy(), sl, occ,
                        np.zeros(load.shape), index=iv.index)


def _erlang_a_intervals(agents: Any, iv: _Intervals, patience: float, *,
                        with_asa: bool = True) -> QueueMetrics:
    """Erlang A per interval: the one-queue formulas with a handle time per interval."""
    n = _interval_agents(agents, iv)
    load, aht, t = iv.load, iv.aht, iv.t
    busy = load > 0
    p_wait, p_ab = np.zeros(load.shape), np.zeros(load.shape)
    asa, sl, occ = np.zeros(load.shape), np.ones(load.shape), np.zeros(load.shape)
    if busy.any():
        nb, ab, hb = n[busy], load[busy], aht[busy]
        theta_over_mu = hb / patience
        core = _erlang_a_core(nb, ab, theta_over_mu)
        p_wait[busy], p_ab[busy] = core.p_wait, core.p_abandon
        sl[busy] = _erlang_a_service_level(nb, ab, theta_over_mu, core, t / hb)
        asa[busy] = (_erlang_a_mean_wait_served(nb, ab, theta_over_mu, core, core.p_abandon)
                     * hb if with_asa else np.nan)
        occ[busy] = ab * (1.0 - core.p_abandon) / nb
    return QueueMetrics("erlang_a", iv.lam, aht, t, patience, load, n, p_wait, asa,
                        p_ab * patience, sl, occ, p_ab, index=iv.index)


# ---------------------------------------------------------------------------- staffing


@dataclass(frozen=True, repr=False)
class StaffingRequirement:
    """The fewest agents that meet a service level (and occupancy cap), before and after
    shrinkage.

    Attributes:
        arrivals_per_hour, aht_seconds, target_seconds, target_service_level,
            max_occupancy, shrinkage, patience_seconds: The inputs.
        model: ``"erlang_c"`` or ``"erlang_a"`` (when ``patience_seconds`` is given).
        load: Offered load in Erlangs.
        raw_agents: Agents needed on the floor.
        scheduled_agents: ``ceil(raw_agents / (1 - shrinkage))``: agents to schedule so
            that ``raw_agents`` are available after breaks, training and absence.
        service_level, p_wait, asa (seconds), occupancy, p_abandon: Performance with
            ``raw_agents``.
    """

    arrivals_per_hour: float
    aht_seconds: float
    target_seconds: float
    target_service_level: float
    max_occupancy: float | None
    shrinkage: float
    patience_seconds: float | None
    model: str
    load: float
    raw_agents: int
    scheduled_agents: int
    service_level: float
    p_wait: float
    asa: float
    occupancy: float
    p_abandon: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_pandas(self) -> pd.Series:
        return pd.Series(self.to_dict(), name="staffing")

    def summary(self) -> str:
        cap = "" if self.max_occupancy is None else f", occupancy <= {self.max_occupancy:g}"
        patience = ("" if self.patience_seconds is None
                    else f", patience {self.patience_seconds:g} s")
        abandon = "" if self.model == "erlang_c" else f", P(abandon) {self.p_abandon:.5f}"
        return (f"{self.model}: {self.arrivals_per_hour:g} contacts/h x {self.aht_seconds:g} s "
                f"(load {self.load:.4g} Erlangs){patience}; target "
                f"{self.target_service_level:.0%} within {self.target_seconds:g} s{cap}, "
                f"shrinkage {self.shrinkage:.0%} -> {self.raw_agents} agents on the floor, "
                f"{self.scheduled_agents} scheduled; service level {self.service_level:.5f}, "
                f"P(wait) {self.p_wait:.5f}, ASA {self.asa:.4g} s, occupancy "
                f"{self.occupancy:.3f}{abandon}")

    def __repr__(self) -> str:
        return f"StaffingRequirement({self.summary()})"

    def _repr_html_(self) -> str:
        return self.to_pandas().to_frame().to_html(escape=True)


def _scheduled(raw: int, shrinkage: float) -> int:
    # ceil with a relative tolerance: 14 / (1 - 0.3) is 20.000000000000004 in binary
    value = raw / (1.0 - shrinkage)
    return math.ceil(value * (1.0 - 1e-12))


_PerInterval: TypeAlias = np.ndarray | pd.Series | Sequence[float]


@overload
def required_agents(arrivals_per_hour: float, aht_seconds: float, target_seconds: float,
                    service_level: float, *, max_occupancy: float | None = None,
                    shrinkage: float = 0.0,
                    patience_seconds: float | None = None) -> StaffingRequirement: ...


@overload
def required_agents(arrivals_per_hour: _PerInterval, aht_seconds: float | _PerInterval,
                    target_seconds: float, service_level: float, *,
                    max_occupancy: float | None = None, shrinkage: float = 0.0,
                    patience_seconds: float | None = None) -> StaffingByInterval: ...


@overload
def required_agents(arrivals_per_hour: float, aht_seconds: _PerInterval,
                    target_seconds: float, service_level: float, *,
                    max_occupancy: float | None = None, shrinkage: float = 0.0,
                    patience_seconds: float | None = None) -> StaffingByInterval: ...


def required_agents(arrivals_per_hour: Any, aht_seconds: Any, target_seconds: float,
                    service_level: float, *, max_occupancy: float | None = None,
                    shrinkage: float = 0.0, patience_seconds: float | None = None
                    ) -> StaffingRequirement | StaffingByInterval:
    """The fewest agents that answer ``service_level`` of contacts within ``target_seconds``.

    Erlang C by default; Erlang A when ``patience_seconds`` is given (the service level is then
    the share of all arrivals answered within the target, so abandonments count against it).

    The search is exhaustive from the smallest admissible count upwards -- ``floor(load) + 1``
    for Erlang C (fewer agents have no steady state; with an occupancy cap, at least
    ``load / max_occupancy``); for Erlang A ``floor(load * SL) + 1``,
    because the share answered within the target is at most the share answered at all,
    ``1 - P(Ab) = carried load / load < n / load``, so no ``n <= load * SL`` can meet it -- and
    returns the first count that meets every requirement. It therefore finds the true minimum
    without relying on monotonicity (a common shortcut starts from ``ceil(load) + 1`` or a
    rounded guess and misses it: 18 contacts an hour at 15 minutes with 90% within 4 hours
    needs 5 agents, not 6).

    **Per interval.** An array or Series of arrival rates (or of handle times) sizes every
    interval in one call, by the same exhaustive search run on all intervals at once (the
    answer in each interval equals the one-queue call's; intervals without arrivals need 0
    agents), and returns a :class:`StaffingByInterval` whose ``requirement`` is the input of
    :func:`~frt_experiments.staffing.shifts.solve_shifts`.

    Args:
        arrivals_per_hour: Poisson arrival rate (> 0); per interval an array or Series
            (>= 0, a Series' index names the intervals).
        aht_seconds: Mean handle time (> 0); one per interval allowed.
        target_seconds: Answer-within time (>= 0).
        service_level: Required share answered within the target, in (0, 1).
        max_occupancy: Optional cap on occupancy, in (0, 1].
        shrinkage: Share of paid time agents are unavailable, in [0, 1).
        patience_seconds: Mean patience for Erlang A; ``None`` for Erlang C.

    Returns:
        :class:`StaffingRequirement` for one queue, :class:`StaffingByInterval` per interval.

    References:
        Gans, Koole and Mandelbaum (2003), section 4 (square-root staffing and the Erlang C
        and A service-level targets); Mandelbaum and Zeltyn (2007) for Erlang A.

    Examples:
        >>> r = required_agents(200, 180, 20, 0.8, max_occupancy=0.85, shrinkage=0.30)
        >>> r.raw_agents, r.scheduled_agents
        (14, 20)
    """
    intervals = _is_intervals(arrivals_per_hour, aht_seconds)
    if not intervals:
        lam, aht, t, load = _rate_inputs(arrivals_per_hour, aht_seconds, target_seconds)
    sl_target = float(service_level) if isinstance(service_level, int | float) else math.nan
    if not (0.0 < sl_target < 1.0):
        raise ValueError(f"service_level must be a share strictly between 0 and 1, got "
                         f"{service_level!r}")
    if max_occupancy is not None:
        occ = float(max_occupancy) if isinstance(max_occupancy, int | float) else math.nan
        if not (0.0 < occ <= 1.0):
            raise ValueError(f"max_occupancy must be in (0, 1], got {max_occupancy!r}")
    if not isinstance(shrinkage, int | float) or not (0.0 <= float(shrinkage) < 1.0):
        raise ValueError(f"shrinkage must be a share in [0, 1), got {shrinkage!r}")
    shrinkage = float(shrinkage)
    if patience_seconds is not None:
        patience_seconds = _positive("patience_seconds", patience_seconds)
    if intervals:
        iv = _interval_inputs(arrivals_per_hour, aht_seconds, target_seconds)
        return _required_intervals(iv, sl_target, max_occupancy, shrinkage, patience_seconds)

    if patience_seconds is None:
        start = math.floor(load) + 1
        if max_occupancy is not None:
            # occupancy a / n <= cap needs n >= a / cap (rounded down for floating error)
            start = max(start, math.floor(load / max_occupancy * (1.0 - 1e-12)))
            if start > _MAX_AGENTS:
                raise ValueError(f"max_occupancy {max_occupancy:g} at a load of {load:.6g} "
                                 f"Erlangs needs more than {_MAX_AGENTS} agents (occupancy "
                                 f"= load / agents)")
    else:
        # SL <= 1 - P(Ab) = carried load / a < n / a, so no n <= a * SL can meet the target
        start = max(1, math.floor(load * sl_target * (1.0 - 1e-12)) + 1)
    block = 32
    while start <= _MAX_AGENTS:
        n = np.arange(start, start + block)
        if patience_seconds is None:
            m = erlang_c(n, lam, aht, target_seconds=t)
        else:
            m = _erlang_a_without_asa(n, lam, aht, patience_seconds, t)
        ok = m.service_level >= sl_target
        if max_occupancy is not None:
            ok &= m.occupancy <= max_occupancy
        hits = np.flatnonzero(ok)
        if hits.size:
            i = int(hits[0])
            raw = int(n[i])
            asa = float(m.asa[i])
            if patience_seconds is not None:
                asa = float(erlang_a(raw, lam, aht, patience_seconds, target_seconds=t).asa[0])
            return StaffingRequirement(
                arrivals_per_hour=lam, aht_seconds=aht, target_seconds=t,
                target_service_level=sl_target, max_occupancy=max_occupancy,
                shrinkage=shrinkage, patience_seconds=patience_seconds, model=m.model,
                load=load, raw_agents=raw, scheduled_agents=_scheduled(raw, shrinkage),
                service_level=float(m.service_level[i]), p_wait=float(m.p_wait[i]),
                asa=asa, occupancy=float(m.occupancy[i]), p_abandon=float(m.p_abandon[i]))
        start += block
        block *= 2
    cap = "" if max_occupancy is None else f" with max_occupancy {max_occupancy:g}"
    raise ValueError(f"service_level {sl_target} within target_seconds {t}{cap} cannot be met "
                     f"by {_MAX_AGENTS} agents")


@dataclass(frozen=True, repr=False)
class StaffingByInterval:
    """The fewest agents per interval (a day or week of intervals), before and after shrinkage.

    Attributes:
        target_seconds, target_service_level, max_occupancy, shrinkage, patience_seconds,
            model: As :class:`StaffingRequirement`.
        arrivals_per_hour, aht_seconds, load: Per interval (arrays).
        raw_agents: Agents needed on the floor per interval (0 where nothing arrives).
        scheduled_agents: ``ceil(raw_agents / (1 - shrinkage))`` per interval.
        service_level, p_wait, asa, occupancy, p_abandon: Performance with ``raw_agents``.
        index: The intervals (the Series index the rates came in, else 0, 1, ...).
    """

    target_seconds: float
    target_service_level: float
    max_occupancy: float | None
    shrinkage: float
    patience_seconds: float | None
    model: str
    arrivals_per_hour: np.ndarray
    aht_seconds: np.ndarray
    load: np.ndarray
    raw_agents: np.ndarray
    scheduled_agents: np.ndarray
    service_level: np.ndarray
    p_wait: np.ndarray
    asa: np.ndarray
    occupancy: np.ndarray
    p_abandon: np.ndarray
    index: pd.Index = field(compare=False)

    _COLUMNS = ("arrivals_per_hour", "aht_seconds", "load", "raw_agents", "scheduled_agents",
                "service_level", "p_wait", "asa", "occupancy", "p_abandon")

    @property
    def requirement(self) -> pd.Series:
        """Agents on the floor per interval, indexed by interval: the input of
        :func:`~frt_experiments.staffing.shifts.solve_shifts` (which applies shrinkage)."""
        return pd.Series(self.raw_agents, index=self.index, name="raw_agents")

    def to_pandas(self) -> pd.DataFrame:
        """One row per interval."""
        return pd.DataFrame({c: getattr(self, c) for c in self._COLUMNS}, index=self.index)

    def summary(self) -> str:
        cap = "" if self.max_occupancy is None else f", occupancy <= {self.max_occupancy:g}"
        patience = ("" if self.patience_seconds is None
                    else f", patience {self.patience_seconds:g} s")
        return (f"{self.model} over {len(self.index):,} intervals{patience}: target "
                f"{self.target_service_level:.0%} within {self.target_seconds:g} s{cap}, "
                f"shrinkage {self.shrinkage:.0%} -> {int(self.raw_agents.max())} agents on the "
                f"floor at the peak, {int(self.raw_agents.sum()):,} agent-intervals "
                f"({int(self.scheduled_agents.sum()):,} scheduled)\n"
                + self.to_pandas().to_string(max_rows=12, float_format="{:.5g}".format))

    def __repr__(self) -> str:
        return f"StaffingByInterval({self.summary()})"

    def _repr_html_(self) -> str:
        return self.to_pandas().to_html(escape=True, max_rows=60)


def _required_intervals(iv: _Intervals, sl_target: float, max_occupancy: float | None,
                        shrinkage: float, patience: float | None) -> StaffingByInterval:
    """:func:`required_agents` for every interval at once: the same start and the same
    exhaustive upward search, on a (interval x candidate) grid growing block by block."""
    load, aht, t = iv.load, iv.aht, iv.t
    busy = load > 0
    if patience is None:
        start = np.floor(load) + 1
        if max_occupancy is not None:
            start = np.maximum(start, np.floor(load / max_occupancy * (1.0 - 1e-12)))
            too_many = busy & (start > _MAX_AGENTS)
            if too_many.any():
                i = int(np.flatnonzero(too_many)[0])
                raise ValueError(f"max_occupancy {max_occupancy:g} at a load of {load[i]:.6g} "
                                 f"Erlangs needs more than {_MAX_AGENTS} agents (occupancy = "
                                 f"load / agents) at {_label(iv.index, i)}")
    else:
        start = np.maximum(1, np.floor(load * sl_target * (1.0 - 1e-12)) + 1)
    start = start.astype(np.int64)
    raw = np.zeros(load.shape, dtype=np.int64)
    todo = np.flatnonzero(busy)
    block = 32
    while todo.size:
        if int(start[todo].min()) > _MAX_AGENTS:
            cap = "" if max_occupancy is None else f" with max_occupancy {max_occupancy:g}"
            raise ValueError(f"service_level {sl_target} within target_seconds {t}{cap} cannot "
                             f"be met by {_MAX_AGENTS} agents at "
                             f"{_label(iv.index, int(todo[0]))}")
        n = start[todo, None] + np.arange(block)[None, :]
        a, h = load[todo, None], aht[todo, None]
        if patience is None:
            c = np.exp(_log_erlang_c(n, a))
            sl = 1.0 - c * np.exp(-(n - a) * t / h)
            occupancy = a / n
        else:
            core = _erlang_a_core(n, a, h / patience)
            sl = _erlang_a_service_level(n, a, h / patience, core, t / h)
            occupancy = a * (1.0 - core.p_abandon) / n
        ok = sl >= sl_target
        if max_occupancy is not None:
            ok &= occupancy <= max_occupancy
        hit = ok.any(axis=1)
        raw[todo[hit]] = n[hit, ok[hit].argmax(axis=1)]
        start[todo[~hit]] += block
        todo = todo[~hit]
        block *= 2
    m = (_erlang_c_intervals(raw, iv) if patience is None
         else _erlang_a_intervals(raw, iv, patience))
    scheduled = np.ceil(raw / (1.0 - shrinkage) * (1.0 - 1e-12)).astype(np.int64)
    index = iv.index if iv.index is not None else pd.RangeIndex(load.size, name="interval")
    return StaffingByInterval(
        target_seconds=t, target_service_level=sl_target, max_occupancy=max_occupancy,
        shrinkage=shrinkage, patience_seconds=patience, model=m.model,
        arrivals_per_hour=iv.lam, aht_seconds=aht, load=load, raw_agents=raw,
        scheduled_agents=scheduled, service_level=m.service_level, p_wait=m.p_wait,
        asa=m.asa, occupancy=m.occupancy, p_abandon=m.p_abandon, index=index)


def _erlang_a_without_asa(n: np.ndarray, lam: float, aht: float, patience: float,
                          t: float) -> QueueMetrics:
    """Erlang A metrics for the search (the ASA quadrature is computed only for the answer)."""
    load = lam * aht / _SECONDS_PER_HOUR
    a = np.asarray(load)
    theta_over_mu = aht / patience
    core = _erlang_a_core(n, a, theta_over_mu)
    sl = _erlang_a_service_level(n, a, theta_over_mu, core, t / aht)
    nan = np.full(n.shape, np.nan)
    return QueueMetrics("erlang_a", lam, aht, t, patience, load, n, core.p_wait, nan,
                        core.p_abandon * patience, sl, load * (1.0 - core.p_abandon) / n,
                        core.p_abandon)
