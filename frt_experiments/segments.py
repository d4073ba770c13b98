"""Pre-registered segment readouts: every metric per segment, false-discovery control, and a
test of heterogeneity.

The first question after the overall table is "does it hurt the mid-market ones? the ones who
write often?". Cutting the trial in pandas until something is significant is how effects that
are not there get found; this module reads the segments declared in advance (a plan's
``[segments]``, or ``by=`` / ``frt analyze --by``) with the overall analysis' own estimators, and
controls the error rate across every segment x metric it reads.

**Segments.** A *dimension* cuts the assigned customers into *levels*:

- any column of the customers table (``segment``, ``country``, ``timezone``, ...): one level
  per value, customers without a value in ``(missing)``;
- ``spend_band``: bands of ``revenue_start`` (the monthly spend at the start), cut at the plan's
  ``spend_bands`` (e.g. ``[25, 50]`` gives ``< 25``, ``25 to < 50``, ``>= 50``), by default at
  the terciles of all assigned customers;
- ``contact_tercile``: terciles of the pre-period contact count (``pre_conversations``), cut at
  its 1/3 and 2/3 quantiles over all assigned customers (levels such as ``<= 1``, ``2``,
  ``>= 3``; tied counts stay in one level, so a heavily tied count can give fewer than three).

Every cut is computed from pre-treatment data over both arms together, so a segment is the same
set of customers whichever arm they are in (a cut on an outcome would not be).

**Readouts.** Each level is analysed by :func:`frt_experiments.analysis.analyze_rows` on its
customers alone -- the same estimators as the overall table (Welch and the delta method,
CUPED where it pays, the small-sample rule that switches to randomization tests): a readout
*equals* the overall analysis run on the segment's customers (tested). A level with fewer than
``min_customers`` customers in an arm, or whose data do not define a metric (no ratings), is
reported as not analysed, with the reason, and a :class:`~frt_experiments.errors.SegmentWarning`
-- it does not fail the run.

**Multiplicity.** The p-values of every (dimension, level, metric) read are adjusted together
(with several slow arms, every arm's together: :func:`adjust_together`):
Benjamini-Hochberg by default (false discovery rate at ``alpha``; with no effect anywhere it is
also the family-wise error rate), Holm as an option (family-wise error rate under any
dependence). Levels of one dimension are disjoint sets of customers, so their tests are
independent; the dimensions overlap, and BH's guarantee then rests on positive dependence
(Benjamini and Yekutieli 2001), which overlapping segments of one trial satisfy in practice.

**Heterogeneity.** Per dimension and metric, Cochran's Q tests whether the levels share one
relative effect: ``Q = sum_k w_k (y_k - y_bar)^2`` with ``y_k`` the log of the level's ratio
(treatment / control, CUPED-adjusted as the level's relative change),
``w_k = 1 / log_se_k^2`` (the delta-method variance of the log ratio) and ``y_bar``
their weighted mean, referred to chi-square with ``K - 1`` degrees of freedom
(Cochran 1954); ``I^2 = max(0, (Q - df) / Q)`` is the share of the spread beyond chance
(Higgins and Thompson 2002). The Q tests of every dimension x metric (and slow arm) are
adjusted together by the readouts' method (``p_adjusted``; with three dimensions and four
metrics, twelve tests at 5% would name a difference where there is none in far more than 5% of
trials). The relative scale is the one the report reads, and the one on
which a homogeneous effect stays homogeneous when segments differ in their baseline (contact
terciles differ threefold in conversations per customer; a common -4% is a different difference
in each). With independent levels Q equals the Wald test of the treatment x segment interaction
in a model with a separate variance per level. It rests on normal theory within each level: a
level analysed by randomization (normal theory did not hold there) is flagged in the
heterogeneity table's ``note``.

References:
    Benjamini, Y. and Hochberg, Y. (1995). Controlling the false discovery rate. *JRSS B*
    57(1), 289-300.
    Benjamini, Y. and Yekutieli, D. (2001). *Annals of Statistics* 29(4), 1165-1188.
    Holm, S. (1979). *Scandinavian Journal of Statistics* 6(2), 65-70.
    Cochran, W. G. (1954). The combination of estimates from different experiments.
    *Biometrics* 10(1), 101-129.
    Higgins, J. P. T. and Thompson, S. G. (2002). Quantifying heterogeneity in a
    meta-analysis. *Statistics in Medicine* 21(11), 1539-1558.
    Wang, R., Lagakos, S. W., Ware, J. H., Hunter, D. J. and Drazen, J. M. (2007). Statistics
    in medicine -- reporting of subgroup analyses in clinical trials. *New England Journal of
    Medicine* 357, 2189-2194 (pre-specification, interaction tests, multiplicity).
"""

from __future__ import annotations

import itertools
import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats as sps

from frt_experiments import schema
from frt_experiments.errors import DataError, Problem, SegmentWarning
from frt_experiments.stats.multiplicity import benjamini_hochberg, holm

__all__ = [
    "DERIVED",
    "FDR_METHODS",
    "SegmentResult",
    "adjust_together",
    "analyze_segments",
    "cochran_q",
    "plot_arms",
    "segment_labels",
]

#: Dimensions computed from the data rather than read from a customers column.
DERIVED = ("spend_band", "contact_tercile")
#: How p-values are adjusted across segments x metrics.
FDR_METHODS = ("bh", "holm")
#: The level of customers without a value in a segment column.
MISSING_LEVEL = "(missing)"
#: Default minimum of customers per arm for a level to be analysed.
MIN_CUSTOMERS = 10
#: Most distinct values a numeric customers column may have as a segment dimension: more is
#: a continuous column (monthly_spend, a count), which would be read as a segment per value,
#: each too small to say anything, spending the false discovery rate's budget over them.
MAX_NUMERIC_LEVELS = 20
#: Most levels any customers column may have as a segment dimension (an id-like column).
MAX_LEVELS = 250

TABLE_COLUMNS = ("dimension", "level", "metric", "share", "n_control", "n_treatment", "control",
                 "treatment", "diff", "diff_ci_low", "diff_ci_high", "rel_diff", "rel_ci_low",
                 "rel_ci_high", "p_value", "p_adjusted", "significant", "inference", "method")
HETEROGENEITY_COLUMNS = ("dimension", "metric", "levels", "q", "df", "p_value", "p_adjusted",
                         "i2", "note")


# ------------------------------------------------------------------------------ the cuts
def _number(x: float) -> str:
    return f"{x:,.2f}".rstrip("0").rstrip(".") if math.isfinite(x) else str(x)


def _band_labels(values: np.ndarray, cuts: Sequence[float], *, closed: str
                 ) -> tuple[np.ndarray, list[str]]:
    """Level labels of ``values`` cut at ``cuts`` (increasing), and the levels in order.

    ``closed="left"``: ``< a``, ``a to < b``, ``>= b`` (spend); ``"right"``: ``<= a``,
    ``a to <= b``, ``> b``, for whole-number cuts ``<= a``, ``a+1 to b``, ``>= b+1``
    (counts)."""
    c = list(cuts)
    if closed == "left":
        names = ([f"< {_number(c[0])}"]
                 + [f"{_number(a)} to < {_number(b)}" for a, b in itertools.pairwise(c)]
                 + [f">= {_number(c[-1])}"])
        idx = np.searchsorted(np.asarray(c), values, side="right")
    elif all(float(x).is_integer() for x in c):  # counts: 0 to 1, 2, 3 or more
        k = [int(x) for x in c]
        names = ([f"<= {k[0]}"]
                 + [f"{a + 1}" if a + 1 == b else f"{a + 1} to {b}"
                    for a, b in itertools.pairwise(k)]
                 + [f">= {k[-1] + 1}"])
        idx = np.searchsorted(np.asarray(c), values, side="left")
    else:
        names = ([f"<= {_number(c[0])}"]
                 + [f"{_number(a)} to <= {_number(b)}" for a, b in itertools.pairwise(c)]
                 + [f"> {_number(c[-1])}"])
        idx = np.searchsorted(np.asarray(c), values, side="left")
    labels = np.asarray(names, dtype=object)[idx]
    labels[np.isnan(values)] = MISSING_LEVEL
    return labels, names


def _check_cuts(cuts: object, what: str) -> tuple[float, ...]:
    if isinstance(cuts, str) or not isinstance(cuts, Sequence) or not cuts:
        raise ValueError(f"{what} must be a non-empty list of increasing numbers (e.g. [25, "
                         f"50]), got {cuts!r}")
    out = []
    for x in cuts:
        if isinstance(x, bool) or not isinstance(x, int | float | np.integer | np.floating) \
                or not math.isfinite(float(x)):
            raise ValueError(f"{what} must be finite numbers, got {x!r} in {list(cuts)!r}")
        out.append(float(x))
    if any(b <= a for a, b in itertools.pairwise(out)):
        raise ValueError(f"{what} must be strictly increasing, got {out!r}")
    return tuple(out)


def segment_labels(
    rows: pd.DataFrame,
    by: str | Sequence[str],
    *,
    customers: pd.DataFrame | None = None,
    spend_bands: Sequence[float] | None = None,
    source: str = "customers",
) -> pd.DataFrame:
    """Each assigned customer's level in each dimension of ``by``.

    Args:
        rows: Per-customer rows indexed by ``customer_id``
            (:func:`frt_experiments.metrics.customer_rows`).
        by: Dimensions: columns of ``customers``, ``"spend_band"`` or ``"contact_tercile"``.
        customers: The customers table (needed for column dimensions).
        spend_bands: Cut points of ``revenue_start`` for ``spend_band`` (default: its terciles
            over the assigned customers).
        source: The customers table's name in messages (a file name).

    Returns:
        A frame indexed like ``rows``, one text column per dimension; the levels in their
        natural order are in ``frame.attrs["levels"][dimension]``.

    Raises:
        DataError: A dimension is neither a column of the customers table nor a derived one
            (naming the table and the columns it has), or a derived one lacks its column.
        ValueError: ``by`` is empty or repeats a dimension; ``spend_bands`` not increasing.

    A numeric customers column with more than :data:`MAX_NUMERIC_LEVELS` distinct values, or
    any with more than :data:`MAX_LEVELS`, is refused (``DataError``): a segment per value of
    a continuous column says nothing.
    """
    dims = _dimensions(by)
    out = pd.DataFrame(index=rows.index)
    levels: dict[str, list[str]] = {}
    lookup = None
    for dim in dims:
        if dim == "spend_band":
            if schema.REVENUE_START not in rows.columns:
                raise DataError([Problem(source, schema.REVENUE_START, "segments: spend_band "
                                         "needs revenue_start (the monthly spend at the start),"
                                         " which the customers table does not have")])
            x = rows[schema.REVENUE_START].to_numpy(dtype=float)
            if spend_bands is not None:
                cuts = _check_cuts(spend_bands, "spend_bands")
            else:
                cuts = _quantile_cuts(x)
            out[dim], levels[dim] = _band_labels(x, cuts, closed="left")
        elif dim == "contact_tercile":
            if schema.PRE_CONVERSATIONS not in rows.columns:
                raise DataError([Problem(source, schema.PRE_CONVERSATIONS, "segments: "
                                         "contact_tercile needs pre_conversations (the "
                                         "pre-period contact count), which the customers table "
                                         "does not have")])
            x = rows[schema.PRE_CONVERSATIONS].to_numpy(dtype=float)
            out[dim], levels[dim] = _band_labels(x, _quantile_cuts(x), closed="right")
        else:
            if customers is None or dim not in customers.columns:
                have = [] if customers is None else [str(c) for c in customers.columns]
                raise DataError([Problem(source, dim, "segments: no such column (segment "
                                         "by a column of the customers table -- it has "
                                         f"{', '.join(have) or 'none'} -- or by "
                                         f"{' or '.join(DERIVED)})")])
            if lookup is None:
                lookup = customers.drop_duplicates(schema.CUSTOMER_ID).set_index(
                    schema.CUSTOMER_ID)
            values = lookup[dim].reindex(rows.index)
            n_levels = int(values.nunique(dropna=True))
            numeric = pd.api.types.is_numeric_dtype(values.dtype) \
                and not pd.api.types.is_bool_dtype(values.dtype)
            most = MAX_NUMERIC_LEVELS if numeric else MAX_LEVELS
            if n_levels > most:
                kind = "a numeric column" if numeric else "a column"
                raise DataError([Problem(source, dim, f"segments: {n_levels:,} distinct values "
                                         f"among the assigned customers ({kind} may have at "
                                         f"most {most} as a dimension: segment by a column of "
                                         "categories; for spend or contact rate use "
                                         "spend_band or contact_tercile, or cut the column "
                                         "into bands)")])
            text = values.astype(object).where(values.notna(), MISSING_LEVEL).map(str)
            out[dim] = text.to_numpy(dtype=object)
            present = sorted(set(out[dim]) - {MISSING_LEVEL})
            levels[dim] = present + ([MISSING_LEVEL] if (out[dim] == MISSING_LEVEL).any()
                                     else [])
            continue
        if (out[dim] == MISSING_LEVEL).any():
            levels[dim].append(MISSING_LEVEL)
        levels[dim] = [lv for lv in levels[dim] if (out[dim] == lv).any()]
    out.attrs["levels"] = levels
    return out


def _quantile_cuts(x: np.ndarray) -> tuple[float, ...]:
    finite = x[np.isfinite(x)]
    if finite.size == 0:
        return (0.0,)
    cuts = np.unique(np.quantile(finite, [1 / 3, 2 / 3]))
    return tuple(float(c) for c in cuts)


def _dimensions(by: str | Sequence[str]) -> list[str]:
    if isinstance(by, str):
        dims = [d.strip() for d in by.split(",")]
    elif isinstance(by, Sequence):
        dims = list(by)
    else:
        raise TypeError(f"by must be a dimension or a list of them, got {type(by).__name__}")
    bad = [d for d in dims if not isinstance(d, str) or not d.strip()]
    if bad or not dims:
        raise ValueError(f"by must name one or more segment dimensions (columns of the "
                         f"customers table, {', '.join(DERIVED)}), got {by!r}")
    repeated = sorted({d for d in dims if dims.count(d) > 1})
    if repeated:
        raise ValueError(f"by names {', '.join(repeated)} more than once")
    return dims


# ------------------------------------------------------------------------- heterogeneity
@dataclass(frozen=True)
class CochranQ:
    """Cochran's Q across independent estimates (see the module docstring).

    Attributes:
        q: The statistic.
        df: Its degrees of freedom (estimates - 1).
        p_value: ``P(chi2_df >= q)``.
        i2: Higgins and Thompson's ``I^2``, the share of ``q`` beyond its expectation.
        pooled: The inverse-variance weighted mean.
    """

    q: float
    df: int
    p_value: float
    i2: float
    pooled: float


def cochran_q(estimates: Sequence[float], standard_errors: Sequence[float]) -> CochranQ:
    """Cochran's (1954) test that independent estimates share one true value.

    Examples:
        >>> r = cochran_q([0.1, 0.3], [0.1, 0.1])
        >>> round(r.q, 6), r.df, round(r.p_value, 6)
        (2.0, 1, 0.157299)

    References:
        Cochran (1954); Higgins and Thompson (2002).
    """
    y = np.asarray(estimates, dtype=float)
    se = np.asarray(standard_errors, dtype=float)
    if y.ndim != 1 or y.shape != se.shape or y.size < 2:
        raise ValueError("cochran_q needs two or more estimates with one standard error each, "
                         f"got {y.size} and {se.size}")
    if not (np.isfinite(y).all() and np.isfinite(se).all() and (se > 0).all()):
        raise ValueError("cochran_q needs finite estimates and positive finite standard "
                         f"errors, got {y.tolist()} and {se.tolist()}")
    w = 1 / se**2
    pooled = float(np.sum(w * y) / np.sum(w))
    q = float(np.sum(w * (y - pooled) ** 2))
    df = y.size - 1
    i2 = max(0.0, (q - df) / q) if q > 0 else 0.0
    return CochranQ(q, df, float(sps.chi2.sf(q, df)), i2, pooled)


# ------------------------------------------------------------------------------- result
@dataclass(frozen=True, eq=False)  # holds frames: compared by identity
class SegmentResult:
    """The segment readouts of one comparison (treatment against control).

    Attributes:
        by: The dimensions read, in order.
        control_arm, treatment_arm: The arms compared.
        alpha: Level of the tests and the error rate controlled.
        fdr: ``"bh"`` (Benjamini-Hochberg, false discovery rate) or ``"holm"``.
        table: One row per dimension x level x metric analysed (:data:`TABLE_COLUMNS`);
            ``p_adjusted`` across all of them (and the other slow arms' with ``family``),
            ``significant`` is ``p_adjusted < alpha``.
        heterogeneity: Cochran's Q per dimension x metric (:data:`HETEROGENEITY_COLUMNS`),
            its p-values adjusted over every dimension x metric (and the other slow arms'
            with ``family``) by the readouts' method (``p_adjusted``): the report and
            ``frt analyze`` name a difference by it.
        not_analysed: ``(dimension, level, metric, reason)``; ``metric`` is ``"*"`` when the
            level was not analysed at all.
        results: ``(dimension, level) -> ExperimentResult`` of each analysed level.
        min_customers: Customers per arm a level needed to be analysed.
        family: When the readouts of several slow arms were adjusted together
            (:func:`adjust_together`), ``(readouts, heterogeneity tests, arms)`` of that
            family; ``None`` for one comparison's alone.
    """

    by: tuple[str, ...]
    control_arm: str
    treatment_arm: str
    alpha: float
    fdr: str
    table: pd.DataFrame
    heterogeneity: pd.DataFrame
    not_analysed: tuple[tuple[str, str, str, str], ...] = ()
    results: Mapping[tuple[str, str], Any] = field(default_factory=dict, repr=False)
    min_customers: int = MIN_CUSTOMERS
    family: tuple[int, int, int] | None = None

    def _adjusted_over(self, heterogeneity: bool = False) -> str:
        """The tests adjusted together, readouts (or heterogeneity tests): this comparison's,
        or every slow arm's (:func:`adjust_together`)."""
        here = len(self.heterogeneity if heterogeneity else self.table)
        what = "dimension x metric" if heterogeneity else "segment x metric"
        if self.family is None:
            return f"{here} {what} tests"
        total, arms = self.family[1 if heterogeneity else 0], self.family[2]
        return (f"{total} {what} tests of the {arms} slow arms together (this arm's {here} "
                "among them)")

    @property
    def _method(self) -> str:
        """The adjustment's name and what it controls."""
        return ("Benjamini-Hochberg (false discovery rate)" if self.fdr == "bh"
                else "Holm (family-wise error rate)")

    @property
    def _legend(self) -> str:
        """What a filled point means in the forest plots."""
        return (f"{1 - self.alpha:.0%} intervals; filled: significant after "
                f"{'BH' if self.fdr == 'bh' else 'Holm'}"
                f"{'' if self.family is None else ', adjusted across the arms'}")

    def to_pandas(self) -> pd.DataFrame:
        """The readouts, one row per dimension x level x metric."""
        return self.table.copy()

    def not_analysed_frame(self) -> pd.DataFrame:
        """The levels (and metrics) not analysed, with the reason."""
        return pd.DataFrame(list(self.not_analysed),
                            columns=["dimension", "level", "metric", "reason"])

    @property
    def discoveries(self) -> pd.DataFrame:
        """The rows significant after the adjustment."""
        return self.table.loc[self.table["significant"]].reset_index(drop=True)

    def summary(self) -> pd.DataFrame:
        """A readable table: relative change with its interval, adjusted p-value."""
        t = self.table
        adj = "q (BH)" if self.fdr == "bh" else "p (Holm)"
        level = f"{1 - self.alpha:.0%}"
        return pd.DataFrame({
            "dimension": t["dimension"], "level": t["level"], "metric": t["metric"],
            "share": t["share"].map(lambda x: f"{x:.1%}"),
            "customers": (t["n_control"] + t["n_treatment"]).map(lambda n: f"{n:,}"),
            "change": t["rel_diff"].map(_pct),
            f"{level} CI": [f"[{_pct(a)}, {_pct(b)}]"
                            for a, b in zip(t["rel_ci_low"], t["rel_ci_high"], strict=True)],
            "p": t["p_value"].map(_p), adj: t["p_adjusted"].map(_p),
            "significant": t["significant"].map(lambda s: "yes" if s else ""),
        })

    def to_markdown(self) -> str:
        """The readouts, the heterogeneity tests and what was not analysed, as Markdown."""
        parts = [f"Segment readouts: {self.treatment_arm} against {self.control_arm}, by "
                 f"{', '.join(self.by)}; p-values adjusted across {self._adjusted_over()} by "
                 f"{self._method} at {self.alpha:g}.", "",
                 _markdown(self.summary()), "",
                 "Heterogeneity (Cochran's Q on the log ratio across the levels):", "",
                 _markdown(self._heterogeneity_summary())]
        if self.not_analysed:
            parts += ["", "Not analysed:", ""]
            parts += [f"- {d} = {lv}" + ("" if m == "*" else f", {m}") + f": {why}"
                      for d, lv, m, why in self.not_analysed]
        return "\n".join(parts) + "\n"

    def _heterogeneity_summary(self) -> pd.DataFrame:
        h = self.heterogeneity
        return pd.DataFrame({
            "dimension": h["dimension"], "metric": h["metric"], "levels": h["levels"],
            "Q": h["q"].map(lambda x: f"{x:.2f}"), "df": h["df"],
            "p": h["p_value"].map(_p), "adjusted p": h["p_adjusted"].map(_p),
            "I2": h["i2"].map(lambda x: f"{x:.0%}"),
            "note": h["note"]})

    def add_to(self, doc: Any, *, name: str = "segments") -> None:
        """Add the readouts to a report (:class:`frt_experiments._document.Document`): what
        was read and how it was adjusted, the heterogeneity tests first (read them before any
        segment), the segments' table, the forest plot and what was not analysed."""
        doc.text(f"Segments declared in advance ({', '.join(self.by)}): every metric read on "
                 f"each segment's customers alone with the overall analysis' estimators, "
                 f"{self.treatment_arm} against {self.control_arm}; the p-values of the "
                 f"{self._adjusted_over()} adjusted together by {self._method}. "
                 "Read the heterogeneity test first: only where it rejects do the segments "
                 "differ beyond chance.")
        differ = self.heterogeneity.loc[self.heterogeneity["p_adjusted"] < self.alpha]
        doc.text("Heterogeneity (Cochran's Q across the levels, on the log ratio; its p-values "
                 f"adjusted over the {self._adjusted_over(heterogeneity=True)} as the "
                 "readouts are): "
                 + ("; ".join(f"{r.metric} differs by {r.dimension} (adjusted p = "
                              f"{r.p_adjusted:.3g})"
                              for r in differ.itertuples(index=False))
                    if len(differ) else "no metric's effect differs between segments at "
                    f"{self.alpha:g}") + ".")
        doc.table(self._heterogeneity_summary())
        doc.table(self.summary())
        if len(self.table):
            found = self.discoveries
            alt = (f"Forest plot of the relative change per segment and metric with "
                   f"{1 - self.alpha:.0%} intervals; {len(found)} of {len(self.table)} "
                   "readouts significant after adjustment"
                   + (": " + ", ".join(f"{r.metric} in {r.dimension} {r.level} "
                                       f"{100 * r.rel_diff:+.1f}%"
                                       for r in found.head(8).itertuples(index=False))
                      if len(found) else "") + ".")
            fig = self.plot()
            doc.figure(fig, name, alt=alt)
        if self.not_analysed:
            doc.text("Not analysed:")
            doc.bullets([f"{d} = {lv}" + ("" if m == "*" else f", {m}") + f": {why}"
                         for d, lv, m, why in self.not_analysed])

    def __repr__(self) -> str:
        n = len(self.table)
        k = int(self.table["significant"].sum()) if n else 0
        return (f"SegmentResult(by={list(self.by)}, {n} segment x metric readouts, {k} "
                f"significant after {self.fdr}, {len(self.not_analysed)} not analysed)")

    def _repr_html_(self) -> str:
        return (f"<p>{_escape(repr(self))}</p>" + self.summary().to_html(index=False)
                + "<p>Heterogeneity (Cochran's Q)</p>"
                + self._heterogeneity_summary().to_html(index=False))

    def plot(self, metrics: Sequence[str] | None = None, *, dimension: str | None = None,
             ax: Any = None) -> Any:
        """A forest plot: each level's relative change with its interval, one panel per metric
        (each on its own scale), a line at no change; adjusted-significant levels filled.
        Returns the matplotlib figure (:func:`plot_arms` draws several slow arms' readouts in
        one)."""
        import matplotlib.pyplot as plt  # noqa: PLC0415 (plotting is optional and slow to import)

        t, wanted = self._plotted(metrics, dimension)
        keys = list(dict.fromkeys(zip(t["dimension"], t["level"], strict=True)))
        height = 0.8 + 0.32 * len(keys)
        axes: list[Any]
        if ax is None:
            fig, grid = plt.subplots(1, len(wanted), figsize=(3.2 * len(wanted) + 2.2, height),
                                     sharey=True, squeeze=False)
            axes = list(grid[0])
        else:
            axes = [ax] if len(wanted) == 1 else list(ax)
            fig = axes[0].figure
        self._draw(axes, t, wanted)
        fig.suptitle(f"{self.treatment_arm} vs {self.control_arm} by segment ({self._legend})",
                     fontsize=9)
        fig.tight_layout()
        return fig

    def _plotted(self, metrics: Sequence[str] | None, dimension: str | None
                 ) -> tuple[pd.DataFrame, list[str]]:
        """The readouts a plot draws and its metrics, checked."""
        t = self.table
        if dimension is not None:
            if dimension not in self.by:
                raise ValueError(f"dimension must be one of {', '.join(self.by)}, got "
                                 f"{dimension!r}")
            t = t.loc[t["dimension"] == dimension]
        wanted = list(dict.fromkeys(t["metric"])) if metrics is None else list(metrics)
        unknown = [m for m in wanted if m not in set(t["metric"])]
        if unknown:
            raise ValueError(f"metrics: no readout of {', '.join(unknown)} (have "
                             f"{', '.join(dict.fromkeys(t['metric']))})")
        if not wanted:
            raise ValueError("nothing to plot: no segment was analysed")
        return t, wanted

    @staticmethod
    def _draw(axes: Sequence[Any], t: pd.DataFrame, wanted: Sequence[str],
              titles: Sequence[str] | None = None) -> None:
        """Each metric's readouts in ``t`` on its axis (a metric without any: a blank panel)."""
        keys = list(dict.fromkeys(zip(t["dimension"], t["level"], strict=True)))
        ypos = {k: len(keys) - 1 - i for i, k in enumerate(keys)}
        for i, (a, metric) in enumerate(zip(axes, wanted, strict=True)):
            m = t.loc[t["metric"] == metric]
            for row in m.itertuples(index=False):
                y = ypos[(row.dimension, row.level)]
                a.plot([100 * row.rel_ci_low, 100 * row.rel_ci_high], [y, y], color="#1f4e79",
                       lw=1.6)
                a.plot(100 * row.rel_diff, y, "o", color="#1f4e79",
                       mfc="#1f4e79" if row.significant else "white", ms=5)
            if m.empty:
                a.text(0.5, 0.5, "not analysed", transform=a.transAxes, ha="center",
                       va="center", color="#666666", fontsize=8)
            a.axvline(0, color="#888888", lw=0.8)
            a.set_title(metric if titles is None else titles[i])
            a.set_xlabel("relative change (%)")
        axes[0].set_yticks(range(len(keys)))
        axes[0].set_yticklabels([f"{d}: {lv}" for d, lv in reversed(keys)])


def plot_arms(readouts: Sequence[SegmentResult], metrics: Sequence[str] | None = None) -> Any:
    """The forest plots of several slow arms' segment readouts in one figure: a row of panels
    per arm (one per metric, as :meth:`SegmentResult.plot`), arms without an analysed segment
    left out. Returns the matplotlib figure.

    Raises:
        ValueError: No arm has an analysed segment, or a metric has no readout in any arm.
    """
    import matplotlib.pyplot as plt  # noqa: PLC0415 (plotting is optional and slow to import)

    shown = [r for r in readouts if len(r.table)]
    if not shown:
        raise ValueError("nothing to plot: no segment was analysed in any arm")
    if len(shown) == 1:
        return shown[0].plot(metrics)
    have = list(dict.fromkeys(m for r in shown for m in r.table["metric"]))
    wanted = have if metrics is None else list(metrics)
    unknown = [m for m in wanted if m not in have]
    if unknown:
        raise ValueError(f"metrics: no readout of {', '.join(unknown)} in any arm (have "
                         f"{', '.join(have)})")
    rows = [len(set(zip(r.table["dimension"], r.table["level"], strict=True))) for r in shown]
    fig, grid = plt.subplots(len(shown), len(wanted), squeeze=False, sharey="row",
                             figsize=(3.2 * len(wanted) + 2.2, 0.8 * len(shown)
                                      + 0.32 * sum(rows) + 0.4),
                             gridspec_kw={"height_ratios": [max(k, 1) + 1.5 for k in rows]})
    for r, axes in zip(shown, grid, strict=True):
        SegmentResult._draw(list(axes), r.table, wanted,
                            titles=[f"{r.treatment_arm}: {m}" for m in wanted])
    first = shown[0]
    fig.suptitle(f"Each slow arm vs {first.control_arm} by segment ({first._legend})",
                 fontsize=9)
    fig.tight_layout()
    return fig


def adjust_together(readouts: Sequence[SegmentResult]) -> list[SegmentResult]:
    """Several slow arms' readouts (each against the control) with their p-values adjusted as
    one family: the segment x metric tests of every arm together, and the heterogeneity tests
    of every arm together, by the readouts' method (``significant`` follows). One arm's
    readouts come back unchanged.

    ``frt analyze`` writes every arm's readouts in one ``segments.csv`` and counts the
    significant ones over all of them, so they are adjusted as the one family they are read
    as: adjusted arm by arm, the false discovery rate (or family-wise error rate) would hold
    within each arm only, and the count over the arms could exceed it.

    Raises:
        ValueError: The readouts use different methods or levels.
    """
    readouts = list(readouts)
    if len(readouts) < 2:
        return readouts
    fdrs = {r.fdr for r in readouts}
    alphas = {r.alpha for r in readouts}
    if len(fdrs) > 1 or len(alphas) > 1:
        raise ValueError(f"adjust_together: the readouts use different methods ({sorted(fdrs)})"
                         f" or levels ({sorted(alphas)})")
    if len({(r.control_arm, r.by) for r in readouts}) > 1 \
            or len({r.treatment_arm for r in readouts}) < len(readouts):
        raise ValueError("adjust_together: the readouts must compare different slow arms with "
                         "one control, by the same dimensions")
    fdr, alpha = fdrs.pop(), alphas.pop()

    def split(frames: list[pd.DataFrame]) -> list[np.ndarray]:
        sizes = [len(f) for f in frames]
        if not sum(sizes):
            return [np.empty(0) for _ in frames]
        p = np.concatenate([f["p_value"].to_numpy(dtype=float) for f in frames])
        return np.split(_adjusted(p, fdr), np.cumsum(sizes)[:-1])

    tables = [r.table.copy() for r in readouts]
    hets = [r.heterogeneity.copy() for r in readouts]
    for t, adj in zip(tables, split(tables), strict=True):
        if len(t):
            t["p_adjusted"] = adj
            t["significant"] = t["p_adjusted"] < alpha
    for h, adj in zip(hets, split(hets), strict=True):
        if len(h):
            h["p_adjusted"] = adj
    family = (sum(len(t) for t in tables), sum(len(h) for h in hets), len(readouts))
    return [replace(r, table=t, heterogeneity=h, family=family)
            for r, t, h in zip(readouts, tables, hets, strict=True)]


def _pct(x: float) -> str:
    return "n/a" if not math.isfinite(x) else f"{100 * x:+.2f}%"


def _p(p: float) -> str:
    return "n/a" if not math.isfinite(p) else ("<0.0001" if p < 1e-4 else f"{p:.4f}")


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _markdown(df: pd.DataFrame) -> str:
    cells = [[str(c) for c in df.columns], *[[str(v) for v in r] for r in df.to_numpy()]]
    head = "| " + " | ".join(cells[0]) + " |"
    rule = "|" + "|".join("---" for _ in cells[0]) + "|"
    body = ["| " + " | ".join(c.replace("|", "\\|") for c in r) + " |" for r in cells[1:]]
    return "\n".join([head, rule, *body])


# ----------------------------------------------------------------------------- analysis
def analyze_segments(
    rows: pd.DataFrame,
    labels: pd.DataFrame,
    *,
    control: str = schema.CONTROL_ARM,
    treatment: str = schema.TREATMENT_ARM,
    alpha: float = 0.05,
    fdr: str = "bh",
    min_customers: int = MIN_CUSTOMERS,
    **analysis: Any,
) -> SegmentResult:
    """Analyse each level of each dimension of ``labels`` on its customers alone.

    Args:
        rows: Per-customer rows (:func:`frt_experiments.metrics.customer_rows`).
        labels: :func:`segment_labels` of ``rows`` (same index).
        control, treatment: The arms compared.
        alpha: Level of each test and the error rate controlled across segments x metrics.
        fdr: ``"bh"`` (Benjamini-Hochberg, default) or ``"holm"``.
        min_customers: Customers a level needs in each arm to be analysed (default 10); a
            level with fewer is reported as not analysed.
        **analysis: Passed on to :func:`frt_experiments.analysis.analyze_rows` (``cuped``,
            ``alternative``, ``inference``, ``permutations``, ``rng``, ``metrics``).

    Returns:
        A :class:`SegmentResult`.

    References:
        Benjamini and Hochberg (1995); Holm (1979); Cochran (1954); see the module docstring.
    """
    from frt_experiments.analysis import analyze_rows  # noqa: PLC0415 (analysis imports us)

    if fdr not in FDR_METHODS:
        raise ValueError(f"fdr must be one of {', '.join(FDR_METHODS)}, got {fdr!r}")
    if isinstance(min_customers, bool) or not isinstance(min_customers, int | np.integer) \
            or min_customers < 2:
        raise ValueError(f"min_customers must be an integer >= 2 (the analysis needs two "
                         f"customers per arm), got {min_customers!r}")
    if not labels.index.equals(rows.index):
        raise ValueError("labels must be indexed like rows (see segment_labels)")
    in_trial = rows[schema.ARM].isin([control, treatment]).to_numpy(bool)
    total = int(in_trial.sum())
    arm = rows[schema.ARM].to_numpy()
    levels_of = labels.attrs.get("levels", {})
    records: list[dict[str, Any]] = []
    skipped: list[tuple[str, str, str, str]] = []
    results: dict[tuple[str, str], Any] = {}
    for dim in labels.columns:
        lab = labels[dim].to_numpy(dtype=object)
        for level in levels_of.get(dim, sorted(set(lab))):
            mask = lab == level
            n_c = int(np.count_nonzero(mask & (arm == control)))
            n_t = int(np.count_nonzero(mask & (arm == treatment)))
            if min(n_c, n_t) < min_customers:
                skipped.append((dim, level, "*", f"{n_c:,} control and {n_t:,} treatment "
                                f"customers; at least {min_customers} per arm are needed"))
                continue
            try:
                res = analyze_rows(rows.loc[mask], alpha=alpha, control=control,
                                   treatment=treatment, **analysis)
            except DataError as exc:
                skipped.append((dim, level, "*", "; ".join(p.rule for p in exc.problems)))
                continue
            results[(dim, level)] = res
            skipped += [(dim, level, m, why) for m, why in res.skipped]
            records.extend({
                "dimension": dim, "level": level, "metric": m.metric,
                "share": (n_c + n_t) / total if total else math.nan,
                "n_control": m.n_control, "n_treatment": m.n_treatment,
                "control": m.control, "treatment": m.treatment, "diff": m.diff,
                "diff_ci_low": m.diff_ci_low, "diff_ci_high": m.diff_ci_high,
                "rel_diff": m.rel_diff, "rel_ci_low": m.rel_ci_low,
                "rel_ci_high": m.rel_ci_high, "p_value": m.p_value,
                "inference": m.inference, "method": m.method, "_log_se": m.log_se}
                for m in res.metrics)
    table = pd.DataFrame(records, columns=[*TABLE_COLUMNS, "_log_se"])
    if len(table):
        p = table["p_value"].to_numpy(dtype=float)
        table["p_adjusted"] = _adjusted(p, fdr)
        table["significant"] = table["p_adjusted"] < alpha
    table = table.astype({"n_control": "int64", "n_treatment": "int64", "significant": bool})
    het = _heterogeneity(table)
    if len(het):  # the Q tests of every dimension x metric, adjusted together as the readouts
        q_p = het["p_value"].to_numpy(dtype=float)
        het["p_adjusted"] = _adjusted(q_p, fdr)
    if skipped:
        whole = [f"{d} = {lv}" for d, lv, m, _ in skipped if m == "*"]
        if whole:
            warnings.warn(f"segments not analysed: {', '.join(whole)} (see "
                          "not_analysed for why)", SegmentWarning, stacklevel=2)
    return SegmentResult(tuple(labels.columns), control, treatment, alpha, fdr,
                         table.drop(columns="_log_se").reset_index(drop=True), het,
                         tuple(skipped), results, int(min_customers))


def _adjusted(p: np.ndarray, fdr: str) -> np.ndarray:
    """``p`` adjusted by Benjamini-Hochberg (``fdr="bh"``) or Holm."""
    return benjamini_hochberg(p) if fdr == "bh" else holm(p)


def _heterogeneity(table: pd.DataFrame) -> pd.DataFrame:
    out = []
    for (dim, metric), g in table.groupby(["dimension", "metric"], sort=False):
        # the (CUPED-adjusted) log ratio the analysis' log_se belongs to: log(1 + rel_diff),
        # not the log of the unadjusted arm means (control, treatment)
        ok = (g["rel_diff"] > -1) & np.isfinite(g["_log_se"]) & (g["_log_se"] > 0)
        used = g.loc[ok]
        if len(used) < 2:
            continue
        y = np.log1p(used["rel_diff"].to_numpy(float))
        r = cochran_q(y, used["_log_se"].to_numpy(float))
        rand = used.loc[used["inference"] != "normal", "level"].tolist()
        note = ("" if not rand else "normal theory did not hold in " + ", ".join(rand)
                + " (analysed by randomization): Q is approximate")
        out.append({"dimension": dim, "metric": metric, "levels": len(used), "q": r.q,
                    "df": r.df, "p_value": r.p_value, "p_adjusted": math.nan, "i2": r.i2,
                    "note": note})
    return pd.DataFrame(out, columns=list(HETEROGENEITY_COLUMNS))
