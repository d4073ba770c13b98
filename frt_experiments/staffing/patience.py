"""Customer patience in a queue, estimated from waits that ended in abandonment or in service.

A caller (or chat customer) waits until an agent answers or until their patience runs out. The
patience of an abandoned conversation is observed: ``abandoned_at - created_at``. The patience
of an answered one is only known to exceed its wait, ``first_response_at - created_at``: it is
*right-censored* there. Treating answered waits as patience, or dropping them, biases the
estimate; both estimators here use every wait (Brown et al. 2005, section 6: patience is
censored by service, and its hazard is estimated with survival methods).

- **Exponential patience** (the model of Erlang A and of the desk simulation): the maximum-
  likelihood rate is ``theta = d / T``, abandonments over total exposure (the sum of all
  waits), with an interval from the likelihood ratio (default) or the exact chi-square
  (Poisson) limits on ``d`` (Lawless 2003, section 2.4; Cox 1953).
- **Kaplan-Meier** curve of patience, with Greenwood's variance and log(-log) limits
  (Kaplan and Meier 1958; Greenwood 1926; Kalbfleisch and Prentice 2002, section 1.4), to
  see whether the exponential fits (its survival is ``exp(-theta t)``).

Conversations with neither a first response nor an abandonment (still waiting when the data
were cut) are left out and counted (``unresolved``).

References:
    Brown, L., Gans, N., Mandelbaum, A., Sakov, A., Shen, H., Zeltyn, S. and Zhao, L. (2005).
    Statistical analysis of a telephone call center: a queueing-science perspective. JASA
    100(469), 36-50.
    Kaplan, E. L. and Meier, P. (1958). Nonparametric estimation from incomplete
    observations. JASA 53(282), 457-481.
    Greenwood, M. (1926). The natural duration of cancer. Reports on Public Health and
    Medical Subjects 33, HMSO, London.
    Lawless, J. F. (2003). Statistical Models and Methods for Lifetime Data, 2nd ed. Wiley:
    section 2.4 (exponential distribution under censoring; likelihood-ratio intervals).
    Cox, D. R. (1953). Some simple approximate tests for Poisson variates. Biometrika 40,
    354-360 (chi-square limits of a Poisson count).
    Kalbfleisch, J. D. and Prentice, R. L. (2002). The Statistical Analysis of Failure Time
    Data, 2nd ed. Wiley: section 1.4 (the log(-log) interval of a survival probability).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import optimize, stats

from frt_experiments.calendar import BusinessCalendar
from frt_experiments.errors import DataError, FrtWarning, Problem
from frt_experiments.schema import ABANDONED_AT, CREATED_AT, FIRST_RESPONSE_AT

__all__ = ["FEW_ABANDONMENTS", "PatienceEstimate", "estimate_patience", "kaplan_meier"]

#: Fewer abandonments than this: the fit is made but warned about (its interval is wide).
FEW_ABANDONMENTS = 20
_METHODS = ("lr", "chi2")
NO_ABANDONMENT_RULE = ("patience cannot be estimated: no abandonment (no conversation has "
                       "an abandoned_at; every wait ended in service, so the data only say "
                       "that patience is longer than the waits)")


def kaplan_meier(time: Any, event: Any, *, confidence: float = 0.95) -> pd.DataFrame:
    """The Kaplan-Meier survival curve of right-censored times, with Greenwood's variance.

    Args:
        time: Times (>= 0).
        event: 1/True where the time is an event (here: an abandonment), 0/False where it is
            censored (an answer ended the wait).
        confidence: Level of the pointwise intervals.

    Returns:
        One row per distinct event time: ``time, at_risk, events, censored, survival, se,
        ci_low, ci_high``. ``at_risk`` counts times ``>= time``; ``censored`` the censored
        times in ``[time, next event time)``; ``se`` is Greenwood's standard error
        ``S(t) sqrt(sum d / (n (n - d)))``; the interval is the log(-log) one, which stays
        inside [0, 1] (Kalbfleisch and Prentice 2002, section 1.4).

    References:
        Kaplan and Meier (1958); Greenwood (1926).

    Examples:
        >>> km = kaplan_meier([1, 2, 2, 3], [1, 1, 0, 1])
        >>> km["survival"].round(4).tolist()
        [0.75, 0.5, 0.0]
    """
    t = np.asarray(time, dtype=float)
    e = np.asarray(event).astype(bool)
    if t.shape != e.shape or t.ndim != 1:
        raise ValueError(f"time and event: expected two 1-d arrays of one length, got shapes "
                         f"{t.shape} and {e.shape}")
    if not np.isfinite(t).all() or (t < 0).any():
        raise ValueError("time: must be finite and >= 0")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence: must be in (0, 1), got {confidence!r}")
    times = np.unique(t[e])
    n = len(t) - np.searchsorted(np.sort(t), times, side="left")  # at risk: t_i >= time
    d = np.bincount(np.searchsorted(times, t[e]), minlength=len(times)).astype(float)
    nxt = np.append(times[1:], np.inf)
    tc = np.sort(t[~e])
    cens = (np.searchsorted(tc, nxt, side="left") - np.searchsorted(tc, times, side="left"))
    surv = np.cumprod(1.0 - d / n)
    with np.errstate(divide="ignore", invalid="ignore"):
        gw = np.cumsum(d / (n * (n - d)))  # inf once the curve reaches 0
        se = surv * np.sqrt(gw)
        z = stats.norm.ppf(0.5 + confidence / 2)
        # log(-log S) has se sqrt(gw) / |log S|
        v = np.sqrt(gw) / np.abs(np.log(surv))
        lo = surv ** np.exp(z * v)
        hi = surv ** np.exp(-z * v)
    zero = surv <= 0
    se = np.where(zero, 0.0, se)
    lo = np.where(zero, 0.0, lo)
    hi = np.where(zero, 0.0, hi)
    return pd.DataFrame({"time": times, "at_risk": n.astype(np.int64),
                         "events": d.astype(np.int64), "censored": cens.astype(np.int64),
                         "survival": surv, "se": se, "ci_low": lo, "ci_high": hi})


@dataclass(frozen=True, repr=False)
class PatienceEstimate:
    """Exponential patience fitted to censored waits, with the Kaplan-Meier curve beside it.

    Attributes:
        rate: Maximum-likelihood abandonment rate ``d / T`` per second of waiting.
        rate_ci_low, rate_ci_high: Its interval.
        n: Waits used (answered plus abandoned).
        abandoned: Abandonments ``d`` (events).
        exposure_seconds: Total waiting time ``T`` (seconds), answered and abandoned.
        unresolved: Conversations left out: neither answered nor abandoned.
        method: ``"lr"`` (likelihood ratio) or ``"chi2"`` (exact chi-square on ``d``).
        confidence: Level of the intervals.
        business: Waits were measured in business seconds of a calendar.
        km: The Kaplan-Meier curve (see :func:`kaplan_meier`), times in seconds.
    """

    rate: float
    rate_ci_low: float
    rate_ci_high: float
    n: int
    abandoned: int
    exposure_seconds: float
    unresolved: int
    method: str
    confidence: float
    business: bool
    km: pd.DataFrame

    @property
    def mean_seconds(self) -> float:
        """Mean patience ``1 / rate`` in seconds (what ``simulate_desk`` and ``erlang_a``
        take as patience)."""
        return 1.0 / self.rate

    @property
    def mean_ci(self) -> tuple[float, float]:
        """Interval of the mean patience (seconds)."""
        return 1.0 / self.rate_ci_high, (1.0 / self.rate_ci_low if self.rate_ci_low > 0
                                         else float("inf"))

    @property
    def share_abandoned(self) -> float:
        return self.abandoned / self.n if self.n else float("nan")

    def survival(self, seconds: Any) -> pd.DataFrame:
        """Kaplan-Meier and exponential survival ``P(patience > t)`` at the given times."""
        t = np.atleast_1d(np.asarray(seconds, dtype=float))
        km = self.km
        idx = np.searchsorted(km["time"].to_numpy(), t, side="right") - 1
        s = np.where(idx >= 0, km["survival"].to_numpy()[np.maximum(idx, 0)], 1.0)
        return pd.DataFrame({"seconds": t, "kaplan_meier": s,
                             "exponential": np.exp(-self.rate * t)})

    def to_pandas(self) -> pd.DataFrame:
        """One row: ``n, abandoned, exposure_seconds, rate, rate_ci_low, rate_ci_high,
        mean_seconds, mean_ci_low, mean_ci_high, unresolved, method, confidence``."""
        lo, hi = self.mean_ci
        return pd.DataFrame([{
            "n": self.n, "abandoned": self.abandoned, "exposure_seconds": self.exposure_seconds,
            "rate": self.rate, "rate_ci_low": self.rate_ci_low, "rate_ci_high": self.rate_ci_high,
            "mean_seconds": self.mean_seconds, "mean_ci_low": lo, "mean_ci_high": hi,
            "unresolved": self.unresolved, "method": self.method,
            "confidence": self.confidence}])

    def summary(self) -> str:
        lo, hi = self.mean_ci
        unit = "business s" if self.business else "s"
        lines = [f"Patience (exponential MLE, censored by service): mean {self.mean_seconds:,.1f} "
                 f"{unit} [{lo:,.1f}, {hi:,.1f}] ({self.confidence:.0%}, "
                 f"{'likelihood ratio' if self.method == 'lr' else 'exact chi-square'})",
                 f"  {self.abandoned:,} abandoned of {self.n:,} waits "
                 f"({self.share_abandoned:.1%}), {self.exposure_seconds / 3600:,.1f} hours "
                 "waited in all"]
        if self.unresolved:
            lines.append(f"  {self.unresolved:,} still waiting when the data end: left out")
        probe = [t for t in (30.0, 60.0, 120.0, 300.0)
                 if len(self.km) and t <= float(self.km["time"].iloc[-1])]
        if probe:
            s = self.survival(probe)
            lines.append("  P(patience > t): " + ", ".join(
                f"{t:g} s KM {k:.3f} / exp {x:.3f}" for t, k, x in
                zip(s["seconds"], s["kaplan_meier"], s["exponential"], strict=True)))
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        return (f"<p>{_escape(repr(self))}</p>"
                + self.to_pandas().to_html(index=False, float_format="{:.4g}".format))

    def __repr__(self) -> str:
        lo, hi = self.mean_ci
        return (f"PatienceEstimate(mean {self.mean_seconds:.4g} s [{lo:.4g}, {hi:.4g}], "
                f"{self.abandoned} abandoned of {self.n})")


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _rate_interval(d: int, T: float, confidence: float, method: str) -> tuple[float, float]:
    """Interval of an exponential rate from ``d`` events in exposure ``T``.

    ``"chi2"``: ``[chi2(a/2; 2d) / 2T, chi2(1 - a/2; 2d + 2) / 2T]``, the exact limits of a
    Poisson mean (Cox 1953; Lawless 2003, eq. 2.4.6 for type I censoring). ``"lr"``: the
    rates whose log-likelihood ``d log r - r T`` is within ``chi2(1; confidence) / 2`` of its
    maximum (Lawless 2003, section 2.4.1): with ``x = r / rhat``,
    ``d (x - 1 - log x) = q / 2``.
    """
    alpha = 1.0 - confidence
    if method == "chi2":
        lo = stats.chi2.ppf(alpha / 2, 2 * d) / (2 * T) if d > 0 else 0.0
        return float(lo), float(stats.chi2.ppf(1 - alpha / 2, 2 * d + 2) / (2 * T))
    rhat = d / T
    half = stats.chi2.ppf(confidence, 1) / 2

    def f(x: float) -> float:
        return d * (x - 1.0 - np.log(x)) - half

    hi_x = 2.0
    while f(hi_x) < 0:
        hi_x *= 2.0
    lo = optimize.brentq(f, 1e-300, 1.0, xtol=1e-14, rtol=1e-12) if d > 0 else 0.0
    hi = optimize.brentq(f, 1.0, hi_x, xtol=1e-14, rtol=1e-12)
    return float(lo * rhat), float(hi * rhat)


def waits(conversations: pd.DataFrame, *, calendar: BusinessCalendar | None = None,
          source: str = "conversations") -> tuple[np.ndarray, np.ndarray, int]:
    """``(wait seconds, abandoned 0/1, unresolved count)`` of a conversations table.

    The wait of an abandoned conversation ends at ``abandoned_at``, of an answered one at
    ``first_response_at``; in business seconds of ``calendar`` when given.

    Raises:
        DataError: A column is missing or not time-zone aware, or an abandonment or answer
            is earlier than its creation, or both are set.
    """
    missing = [c for c in (CREATED_AT, FIRST_RESPONSE_AT, ABANDONED_AT)
               if c not in conversations.columns]
    if missing:
        raise DataError([Problem(source, c, "column is missing (needed to estimate patience: "
                                 "waits end in an answer or an abandonment)") for c in missing])
    cols = {}
    for c in (CREATED_AT, FIRST_RESPONSE_AT, ABANDONED_AT):
        s = conversations[c]
        if not isinstance(s.dtype, pd.DatetimeTZDtype):
            if s.isna().all():
                s = pd.Series(pd.NaT, index=s.index, dtype="datetime64[ns, UTC]")
            else:
                raise DataError([Problem(source, c, "must hold time-zone-aware timestamps "
                                         "(read the table with frt_experiments.read_table)")])
        cols[c] = pd.DatetimeIndex(s).tz_convert("UTC")
    created, first, gone = cols[CREATED_AT], cols[FIRST_RESPONSE_AT], cols[ABANDONED_AT]
    problems = []
    for name, end in ((FIRST_RESPONSE_AT, first), (ABANDONED_AT, gone)):
        bad = np.asarray(end < created)
        if bad.any():
            problems.append(Problem(source, name, f"earlier than {CREATED_AT}", int(bad.sum()),
                                    tuple(np.flatnonzero(bad)[:5].tolist())))
    both = np.asarray(first.notna() & gone.notna())
    if both.any():
        problems.append(Problem(source, ABANDONED_AT, f"set together with {FIRST_RESPONSE_AT} "
                                "(an abandoned conversation got no response)", int(both.sum()),
                                tuple(np.flatnonzero(both)[:5].tolist())))
    no_created = np.asarray(created.isna())
    if no_created.any():
        problems.append(Problem(source, CREATED_AT, "empty", int(no_created.sum()),
                                tuple(np.flatnonzero(no_created)[:5].tolist())))
    if problems:
        raise DataError(problems)
    abandoned = np.asarray(gone.notna())
    end = first.where(~abandoned, gone)
    done = np.asarray(end.notna())
    if calendar is not None:
        w = calendar.business_duration(created[done], end[done])
    else:
        w = end[done] - created[done]
    seconds = pd.TimedeltaIndex(w).as_unit("ns").asi8 / 1e9
    return np.asarray(seconds, dtype=float), abandoned[done], int((~done).sum())


def estimate_patience(
    conversations: pd.DataFrame,
    *,
    calendar: BusinessCalendar | None = None,
    method: Literal["lr", "chi2"] = "lr",
    confidence: float = 0.95,
    source: str = "conversations",
) -> PatienceEstimate:
    """Fit patience to the waits of a conversations table (abandonment = event, answer =
    censoring).

    Args:
        conversations: A canonical conversations table with ``created_at``,
            ``first_response_at`` and ``abandoned_at``.
        calendar: Measure waits in this calendar's business seconds (as the desk simulation's
            patience runs); default: elapsed seconds (a live channel's queue, open while
            customers wait).
        method: Interval of the rate: ``"lr"`` (likelihood ratio, default; close to its
            level from about 20 abandonments) or ``"chi2"`` (the exact chi-square limits of
            the abandonment count, conservative: at least the level).
        confidence: Level of the intervals.
        source: Name of the table in messages.

    Returns:
        A :class:`PatienceEstimate`; ``mean_seconds`` is what
        :func:`~frt_experiments.staffing.desk.simulate_desk` takes as ``patience_seconds``
        (it also takes the estimate itself).

    Raises:
        DataError: A needed column is missing or breaks the ``abandoned_at`` rules, or there
            is no abandonment at all ("patience cannot be estimated: no abandonment").

    Warns:
        FrtWarning: Fewer than :data:`FEW_ABANDONMENTS` abandonments: the estimate is made
        but its interval is wide.

    References:
        Brown et al. (2005), section 6; Lawless (2003), section 2.4; Kaplan and Meier (1958);
        Greenwood (1926).

    Examples:
        >>> conv = pd.DataFrame({
        ...     "created_at": pd.to_datetime(["2025-03-03 09:00"] * 3, utc=True),
        ...     "first_response_at": pd.to_datetime(["2025-03-03 09:01", None, None], utc=True),
        ...     "abandoned_at": pd.to_datetime([None, "2025-03-03 09:02", None], utc=True)})
        >>> import warnings
        >>> with warnings.catch_warnings():
        ...     warnings.simplefilter("ignore")
        ...     fit = estimate_patience(conv)
        >>> fit.abandoned, fit.exposure_seconds, fit.mean_seconds, fit.unresolved
        (1, 180.0, 180.0, 1)
    """
    if method not in _METHODS:
        raise ValueError(f"method: expected one of {_METHODS}, got {method!r}")
    if isinstance(confidence, bool) or not isinstance(confidence, int | float) \
            or not 0 < confidence < 1:
        raise ValueError(f"confidence: must be in (0, 1), got {confidence!r}")
    if not isinstance(conversations, pd.DataFrame):
        raise TypeError(f"conversations: expected a DataFrame, got "
                        f"{type(conversations).__name__}")
    w, event, unresolved = waits(conversations, calendar=calendar, source=source)
    d = int(event.sum())
    if d == 0:
        raise DataError([Problem(source, ABANDONED_AT, NO_ABANDONMENT_RULE)])
    T = float(w.sum())
    if T <= 0:
        raise DataError([Problem(source, ABANDONED_AT, "patience cannot be estimated: every "
                                 "wait is 0 s (abandonments at the instant of creation)")])
    if d < FEW_ABANDONMENTS:
        warnings.warn(f"{source}: patience rests on only {d} abandonment"
                      f"{'' if d == 1 else 's'} (fewer than {FEW_ABANDONMENTS}): the estimate "
                      "is weak and its interval wide", FrtWarning, stacklevel=2)
    lo, hi = _rate_interval(d, T, float(confidence), method)
    km = kaplan_meier(w, event, confidence=float(confidence))
    return PatienceEstimate(d / T, lo, hi, len(w), d, T, unresolved, method,
                            float(confidence), calendar is not None, km)
