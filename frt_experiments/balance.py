"""Randomization checks: sample ratio mismatch and covariate balance.

Both are shown whenever customers are assigned (:func:`frt_experiments.assignment.assign`) and
are available to the analysis (:func:`frt_experiments.diagnostics.diagnose`).

- :func:`sample_ratio_mismatch`: Pearson's chi-square goodness-of-fit test of the arms' sizes
  against the design weights, flagged at p < 0.001 (a mismatch that strict means the
  assignment or the data pipeline is broken, not bad luck).
- :func:`covariate_balance`: the standardized mean difference (SMD) of each pre-period
  covariate between each arm and the control, flagged above |SMD| 0.1.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from scipy import stats

from frt_experiments import schema
from frt_experiments._ids import arrow_strings, positions
from frt_experiments.errors import BalanceWarning, DataError, Problem

__all__ = ["SMD_THRESHOLD", "SRM_THRESHOLD", "SRMResult", "covariate_balance",
           "sample_ratio_mismatch"]

#: p-value below which a sample ratio mismatch is flagged.
SRM_THRESHOLD = 0.001
#: |SMD| above which a covariate is flagged as imbalanced.
SMD_THRESHOLD = 0.1
#: Per-customer pre-period CSAT (pre_satisfied / pre_rated), a derived covariate.
PRE_CSAT = "pre_csat"


@dataclass(frozen=True)
class SRMResult:
    """A sample-ratio-mismatch test.

    Attributes:
        statistic: Pearson's chi-square statistic.
        p_value: Upper tail of chi-square with ``df`` degrees of freedom.
        flagged: ``p_value < threshold``.
        df: Degrees of freedom (arms - 1).
        counts: Observed customers per arm.
        expected: Expected customers per arm under the weights.
        threshold: The flagging threshold (0.001).
    """

    statistic: float
    p_value: float
    flagged: bool
    df: int = 1
    counts: tuple[int, ...] = ()
    expected: tuple[float, ...] = ()
    threshold: float = SRM_THRESHOLD

    def to_pandas(self) -> pd.DataFrame:
        """One row per arm: observed, expected and their ratio; the test in every row."""
        return pd.DataFrame({"observed": list(self.counts), "expected": list(self.expected),
                             "statistic": self.statistic, "p_value": self.p_value,
                             "flagged": self.flagged})

    def __repr__(self) -> str:
        flag = ", FLAGGED" if self.flagged else ""
        return (f"SRMResult(statistic={self.statistic:.4g}, p_value={self.p_value:.4g}, "
                f"df={self.df}, counts={self.counts}{flag})")


def sample_ratio_mismatch(
    counts: Sequence[int] | Mapping[str, int] | pd.Series | np.ndarray,
    weights: Sequence[float] | np.ndarray | None = None,
    *,
    threshold: float = SRM_THRESHOLD,
) -> SRMResult:
    """Chi-square goodness-of-fit test of the arms' sizes against the design weights.

    ``statistic = sum((observed - expected)**2 / expected)`` with ``expected = N * w / sum(w)``,
    referred to chi-square with ``k - 1`` degrees of freedom (R: ``chisq.test(counts, p = w)``).

    Args:
        counts: Customers per arm (a mapping or Series: its values, in order).
        weights: Relative arm sizes in the same order (default: equal).
        threshold: Flag when ``p_value < threshold`` (default 0.001).

    References:
        Pearson, K. (1900). On the criterion that a given system of deviations from the probable
        ... Philosophical Magazine 50(302), 157-175. Fabijan, A. et al. (2019). Diagnosing sample
        ratio mismatch in online controlled experiments. KDD '19, 2156-2164 (the p < 0.001 rule).
    """
    c = np.asarray(list(counts.values()) if isinstance(counts, Mapping) else counts,
                   dtype=np.float64)
    if c.ndim != 1 or c.size < 2:
        raise ValueError(f"counts: need a count for each of at least two arms, got {counts!r}")
    if not np.all(np.isfinite(c) & (c >= 0) & (c == np.round(c))):
        raise ValueError(f"counts must be whole numbers >= 0, got {c.tolist()}")
    w = np.ones(c.size) if weights is None else np.asarray(weights, dtype=np.float64)
    if w.shape != c.shape:
        raise ValueError(f"weights: need one weight per count ({c.size}), got {weights!r}")
    if not np.all(np.isfinite(w) & (w > 0)):
        raise ValueError(f"weights must be positive and finite, got {w.tolist()}")
    if not 0 < threshold < 1:
        raise ValueError(f"threshold must be in (0, 1), got {threshold!r}")
    total = c.sum()
    if total == 0:
        raise ValueError("counts: no customers in any arm")
    expected = total * w / w.sum()
    stat = float(np.sum((c - expected) ** 2 / expected))
    df = c.size - 1
    p = float(stats.chi2.sf(stat, df))
    return SRMResult(stat, p, p < threshold, df, tuple(int(v) for v in c),
                     tuple(float(v) for v in expected), threshold)


#: The customers' columns the balance table's covariates are computed from.
BALANCE_INPUTS = (schema.MONTHLY_SPEND, schema.PRE_CONVERSATIONS, schema.PRE_RATED,
                  schema.PRE_SATISFIED, schema.PRE_HANDLE_SECONDS)


def _covariates(customers: pd.DataFrame, *, ids: bool = True) -> pd.DataFrame:
    """The per-customer pre-period covariates present in ``customers`` (with ``ids``, after
    their ``customer_id``)."""
    out = pd.DataFrame({schema.CUSTOMER_ID: customers[schema.CUSTOMER_ID].astype("string")}
                       if ids else {}, index=None if ids else customers.index)
    for col in (schema.MONTHLY_SPEND, schema.PRE_CONVERSATIONS):
        if col in customers.columns:
            out[col] = pd.to_numeric(customers[col], errors="coerce").astype("float64")
    if schema.PRE_RATED in customers.columns and schema.PRE_SATISFIED in customers.columns:
        rated = pd.to_numeric(customers[schema.PRE_RATED], errors="coerce").to_numpy(float)
        sat = pd.to_numeric(customers[schema.PRE_SATISFIED], errors="coerce").to_numpy(float)
        out[PRE_CSAT] = np.divide(sat, rated, out=np.full(rated.size, np.nan),
                                  where=rated > 0)
    if schema.PRE_HANDLE_SECONDS in customers.columns:
        out[schema.PRE_HANDLE_SECONDS] = pd.to_numeric(
            customers[schema.PRE_HANDLE_SECONDS], errors="coerce").astype("float64")
    return out


def covariate_balance(
    customers: pd.DataFrame,
    assignments: pd.DataFrame,
    *,
    arms: Sequence[str] | None = None,
    threshold: float = SMD_THRESHOLD,
    warn: bool = True,
) -> pd.DataFrame:
    """Standardized mean difference of each pre-period covariate, each arm against control.

    ``smd = (mean_treatment - mean_control) / sqrt((var_treatment + var_control) / 2)`` with
    sample variances (``ddof=1``). Covariates, where present: ``monthly_spend``,
    ``pre_conversations``, ``pre_csat`` (each customer's ``pre_satisfied / pre_rated``, over
    customers with at least one pre-period rating) and ``pre_handle_seconds``. Missing values
    are left out of that covariate. Assigned customers absent from ``customers`` are ignored.

    Args:
        customers: Customers with the covariates.
        assignments: ``customer_id`` and ``arm``.
        arms: Arm order, control first (default: ``fast`` first when present, else sorted).
        threshold: Flag |SMD| above it (default 0.1).
        warn: Warn :class:`~frt_experiments.errors.BalanceWarning` for flagged covariates.

    Returns:
        DataFrame with columns ``covariate, control_arm, treatment_arm, n_control,
        n_treatment, control, treatment, control_sd, treatment_sd, smd, imbalanced``.

    References:
        Austin, P. C. (2009). Balance diagnostics for comparing the distribution of baseline
        covariates between treatment groups in propensity-score matched samples. Statistics in
        Medicine 28(25), 3083-3107 (the SMD for continuous covariates, eq. 1; the 0.1 rule).
    """
    for name, df in (("customers", customers), ("assignments", assignments)):
        missing = [c for c in (schema.CUSTOMER_ID,) + ((schema.ARM,) if name == "assignments"
                                                       else ()) if c not in df.columns]
        if missing:
            raise DataError([Problem(name, None, f"missing required column {missing[0]}")])
    cov = _covariates(customers)
    names = [c for c in cov.columns if c != schema.CUSTOMER_ID]
    arm = assignments[schema.ARM].astype("string")
    present = list(pd.unique(arm.dropna()))
    order = list(arms) if arms is not None else (
        [schema.CONTROL_ARM, *sorted(a for a in present if a != schema.CONTROL_ARM)]
        if schema.CONTROL_ARM in present else sorted(present))
    # Hashed join of the assigned customers to their covariates (absent customers drop out).
    pos = positions(arrow_strings(assignments[schema.CUSTOMER_ID]),
                    arrow_strings(cov[schema.CUSTOMER_ID]))
    code = pd.Categorical(arm, categories=order).codes
    found = pos >= 0
    if len(order) < 2 or not names or not found.any():
        return pd.DataFrame({c: [] for c in BALANCE_COLUMNS})
    pos, code = pos[found], code[found]
    values = {name: cov[name].to_numpy(dtype=float)[pos] for name in names}
    out = _table(values, code, order, threshold)
    return _warned(out, threshold) if warn else out


def balance_of_rows(rows: pd.DataFrame, arms: Sequence[str], *,
                    threshold: float = SMD_THRESHOLD) -> pd.DataFrame:
    """:func:`covariate_balance` (without its warning) of per-customer rows that already hold
    each assigned customer's arm and covariates, one row per customer (the customers' columns
    ``monthly_spend``, ``pre_conversations``, ``pre_rated``, ``pre_satisfied``,
    ``pre_handle_seconds`` where present, as numbers): no join, the same table.
    """
    cov = _covariates(rows, ids=False)
    names = list(cov.columns)
    order = list(arms)
    if len(order) < 2 or not names or not len(rows):
        return pd.DataFrame({c: [] for c in BALANCE_COLUMNS})
    found = pc.index_in(arrow_strings(rows[schema.ARM]),
                        value_set=pa.array(order, pa.large_string()))
    code = np.asarray(pc.fill_null(found, -1).to_numpy(zero_copy_only=False), dtype=np.int64)
    return _table({name: cov[name].to_numpy(dtype=float) for name in names}, code, order,
                  threshold)


def _table(values: dict[str, np.ndarray], code: np.ndarray, order: list[str],
           threshold: float) -> pd.DataFrame:
    """The balance table from each covariate's values and each customer's arm (its position in
    ``order``, -1 for another arm)."""
    names = list(values)
    # count, mean and sample variance of each covariate (rows) in each arm (columns).
    count = np.zeros((len(names), len(order)))
    mean = np.full_like(count, np.nan)
    var = np.full_like(count, np.nan)
    for i, name in enumerate(names):
        x = values[name]
        for k in range(len(order)):
            v = x[(code == k) & ~np.isnan(x)]
            count[i, k] = v.size
            if v.size:
                mean[i, k] = v.mean()
            if v.size > 1:
                var[i, k] = v.var(ddof=1)
    return balance_table(names, order, count, mean, var, threshold=threshold)


def _warned(out: pd.DataFrame, threshold: float) -> pd.DataFrame:
    """``out``, after a :class:`BalanceWarning` naming its imbalanced covariates, if any."""
    if out["imbalanced"].any():
        bad = out[out["imbalanced"]]
        listed = ", ".join(f"{r.covariate} {r.treatment_arm} vs {r.control_arm} "
                           f"SMD {r.smd:+.3f}" for r in bad.itertuples())
        warnings.warn(f"covariate imbalance above |SMD| {threshold}: {listed}",
                      BalanceWarning, stacklevel=3)
    return out


#: Columns of :func:`covariate_balance`'s table.
BALANCE_COLUMNS = ("covariate", "control_arm", "treatment_arm", "n_control", "n_treatment",
                   "control", "treatment", "control_sd", "treatment_sd", "smd", "imbalanced")


def balance_table(names: Sequence[str], order: Sequence[str], count: np.ndarray,
                  mean: np.ndarray, var: np.ndarray, *, threshold: float = SMD_THRESHOLD
                  ) -> pd.DataFrame:
    """:func:`covariate_balance`'s table from each covariate's (rows) count, mean and sample
    variance in each arm (columns, control first): shared with the engine's diagnostics, which
    compute the moments where the data live."""
    frames = []
    for k, arm_name in enumerate(order[1:], start=1):
        pooled = np.sqrt((var[:, k] + var[:, 0]) / 2)
        diff = mean[:, k] - mean[:, 0]
        with np.errstate(divide="ignore", invalid="ignore"):
            smd = np.where(pooled > 0, diff / pooled, np.where(diff == 0, 0.0, np.inf * diff))
        frames.append(pd.DataFrame({
            "covariate": list(names), "control_arm": order[0], "treatment_arm": arm_name,
            "n_control": count[:, 0].astype("int64"), "n_treatment": count[:, k].astype("int64"),
            "control": mean[:, 0], "treatment": mean[:, k],
            "control_sd": np.sqrt(var[:, 0]), "treatment_sd": np.sqrt(var[:, k]), "smd": smd,
            "imbalanced": np.abs(smd) > threshold,
        }))
    return pd.concat(frames, ignore_index=True)
