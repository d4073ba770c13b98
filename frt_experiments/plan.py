"""The experiment plan: alpha, sidedness, margins and the monitoring schedule, as a TOML file.

A plan is written before the trial (by ``frt power --write-plan`` or :func:`write_plan`) and read
by the analysis (``frt analyze --plan``), so the confidence level, the non-inferiority margin for
CSAT, the equivalence margin for NRR and the interim looks are fixed in advance.

File layout::

    [experiment]
    name = "frt-low-spend"
    alpha = 0.05
    alternative = "two-sided"

    [margins]
    csat = -0.02   # relative non-inferiority margin: treatment/control - 1 may not fall below it
    nrr = 0.01     # relative equivalence margin: |treatment/control - 1| must stay within it

    [monitoring]
    looks = 5
    spending = "obrien-fleming"
    information = [0.2, 0.4, 0.6, 0.8, 1.0]   # optional; equally spaced when absent

    [design]       # optional, informative: what the plan was sized for
    power = 0.8
    n_per_arm = 12000
    months = 5.0

    [weights]      # optional: the designed allocation, arm = share (control first)
    fast = 0.9
    one_business_day = 0.1

    [arms]         # optional: the arms and their FRT policies, arm = "policy" (control first)
    fast = "4h"
    one_business_day = "one_business_day"

    [segments]     # optional: pre-registered segment readouts (frt_experiments.segments)
    by = ["segment", "spend_band", "contact_tercile"]
    spend_bands = [25.0, 50.0]   # optional cut points of revenue_start; terciles when absent
    fdr = "bh"                   # "bh" (Benjamini-Hochberg, default) or "holm"

Every section but ``[experiment]`` is optional. ``[weights]`` gives every arm of the
assignment its share of the customers (positive, summing to 1); the analysis tests the sample
ratio against it and ``frt power`` sizes the arms with it (without it the arms are equal).

``[arms]`` names the trial's arms, the control first, each with its first-response policy as
:func:`frt_experiments.policy.policy_from_spec` reads it (``"4h"``, ``"90m"``,
``"one_business_day"``, ``"two_business_days"``, ``"<N>_business_days"``,
``"end_of_next_business_day"``, ``"end_of_business_day_<N>"``). A trial with several slow arms
(``fast = "4h"``, ``four_hours = "4h"``, ``one_business_day = "one_business_day"``,
``two_business_days = "two_business_days"``) is analysed arm by arm against the control, the
p-values adjusted across arms and metrics (:mod:`frt_experiments.arms`); the policies are put
on the desk calendar of the analysis. At least two arms; with ``[weights]`` both sections name
the same arms. Without ``[arms]`` the trial has the two default arms, ``fast`` and
``one_business_day``.

``[segments]`` declares the segment readouts before the trial (:mod:`frt_experiments.segments`):
``by`` lists the dimensions (columns of the customers table, ``"spend_band"``,
``"contact_tercile"``), ``spend_bands`` the cut points of the spend bands, ``fdr`` how the
readouts' p-values are adjusted across segments x metrics.
Unknown sections or keys and invalid values raise
:class:`~frt_experiments.errors.ScenarioError` naming the file and the key.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from itertools import pairwise
from pathlib import Path
from typing import Any

import pandas as pd

from frt_experiments._atomic import write_text_atomic
from frt_experiments._limits import read_toml
from frt_experiments.calendar import BusinessCalendar
from frt_experiments.errors import ScenarioError, shorten, shown
from frt_experiments.policy import policy_from_spec

__all__ = ["ALTERNATIVES", "SPENDING_FUNCTIONS", "ExperimentPlan", "arms_problems", "read_plan",
           "write_plan"]

#: Relative tolerance of "the shares sum to 1".
SHARE_TOLERANCE = 1e-9

#: SciPy's spelling of the alternative hypothesis.
ALTERNATIVES = ("two-sided", "greater", "less")
#: Lan-DeMets spending functions understood by :mod:`frt_experiments.stats.sequential`.
SPENDING_FUNCTIONS = ("obrien-fleming", "pocock")


@dataclass(frozen=True)
class ExperimentPlan:
    """What the analysis of one experiment is committed to before it starts.

    Attributes:
        name: Experiment name (matches the ``experiment`` column of the assignments).
        alpha: Overall type I error rate (two-sided total when ``alternative="two-sided"``).
        alternative: ``"two-sided"``, ``"greater"`` or ``"less"``.
        csat_margin: Relative non-inferiority margin for CSAT (e.g. ``-0.02``: the treatment's
            CSAT may not be more than 2% below control's), or ``None``.
        nrr_margin: Relative equivalence margin for NRR (e.g. ``0.01``: the NRR change must lie
            within +-1%), or ``None``.
        looks: Number of analyses including the final one (``None`` or 1: a single analysis).
        spending: Lan-DeMets alpha-spending function, ``"obrien-fleming"`` or ``"pocock"``.
        information: Information fractions of the looks (increasing, last 1.0), or ``None`` for
            equally spaced looks.
        power: Target power the plan was sized for (informative), or ``None``.
        n_per_arm: Customers per arm the plan was sized for (informative), or ``None``.
        months: Planned duration in months (informative), or ``None``.
        weights: The designed allocation, arm -> share of the customers (e.g.
            ``{"fast": 0.9, "one_business_day": 0.1}``; positive shares summing to 1, one per
            arm of the assignment), or ``None`` for equal arms. ``n_per_arm`` is then the
            control arm's size.
        arms: The arms and their FRT policy names, control first (e.g. ``{"fast": "4h",
            "one_business_day": "one_business_day", "two_business_days":
            "two_business_days"}``; see the module docstring), or ``None`` for the two default
            arms.
        segments: The pre-registered segment readouts (``{"by": [...], "spend_bands":
            [...], "fdr": "bh"}``; see the module docstring), or ``None``.
    """

    name: str
    alpha: float = 0.05
    alternative: str = "two-sided"
    csat_margin: float | None = None
    nrr_margin: float | None = None
    looks: int | None = None
    spending: str = "obrien-fleming"
    information: tuple[float, ...] | None = None
    power: float | None = None
    n_per_arm: int | None = None
    months: float | None = None
    weights: Mapping[str, float] | None = None
    arms: Mapping[str, str] | None = None
    segments: Mapping[str, Any] | None = None
    _source: str = field(default="plan", repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.information is not None and not isinstance(self.information, tuple):
            object.__setattr__(self, "information", tuple(float(x) for x in self.information))
        if isinstance(self.weights, Mapping):  # a copy: the caller's dict may change later
            object.__setattr__(self, "weights", dict(self.weights))
        if isinstance(self.arms, Mapping):
            object.__setattr__(self, "arms", dict(self.arms))
        if isinstance(self.segments, Mapping):
            object.__setattr__(self, "segments", {k: tuple(v) if isinstance(v, list) else v
                                                  for k, v in self.segments.items()})
        for problem in _problems(self):
            raise ScenarioError(f"{self._source}: {problem}")

    def __hash__(self) -> int:  # weights and arms are dicts: hash their items
        values = (getattr(self, f.name) for f in fields(self) if f.compare)
        return hash(tuple(frozenset(v.items()) if isinstance(v, dict) else v for v in values))


    @property
    def information_fractions(self) -> tuple[float, ...]:
        """The information fractions of the looks (equally spaced unless given)."""
        if self.information is not None:
            return self.information
        k = self.looks or 1
        return tuple((i + 1) / k for i in range(k))

    def to_pandas(self) -> pd.Series:
        """The plan as a Series (one entry per field)."""
        d = {k: v for k, v in asdict(self).items() if not k.startswith("_")}
        return pd.Series(d, dtype=object, name=self.name)

    def summary(self) -> str:
        """A few lines describing the plan."""
        side = {"two-sided": "two-sided", "greater": "one-sided (greater)",
                "less": "one-sided (less)"}[self.alternative]
        lines = [f"Experiment plan {self.name!r}: alpha {self.alpha:g}, {side}"]
        if self.csat_margin is not None:
            lines.append(f"  CSAT non-inferiority margin: {self.csat_margin:+.2%} (relative)")
        if self.nrr_margin is not None:
            lines.append(f"  NRR equivalence margin: +-{self.nrr_margin:.2%} (relative)")
        if self.looks and self.looks > 1:
            fr = ", ".join(f"{x:.2f}" for x in self.information_fractions)
            lines.append(f"  {self.looks} looks, {self.spending} alpha spending, "
                         f"information {fr}")
        design = [f"power {self.power:.0%}" if self.power is not None else "",
                  f"{self.n_per_arm:,} customers per arm" if self.n_per_arm is not None else "",
                  f"{self.months:g} months" if self.months is not None else ""]
        if any(design):
            lines.append("  sized for " + ", ".join(d for d in design if d))
        if self.weights is not None:
            lines.append("  allocation: " + ", ".join(f"{arm} {share:.4g}"
                                                      for arm, share in self.weights.items()))
        if self.arms is not None:
            lines.append("  arms: " + ", ".join(f"{arm} ({spec})"
                                                for arm, spec in self.arms.items()))
        if self.segments is not None:
            lines.append("  segments: by " + ", ".join(self.segments["by"])
                         + f" ({'Holm' if self.segments.get('fdr') == 'holm' else 'BH'})")
        return "\n".join(lines)


def _problems(p: ExperimentPlan) -> list[str]:
    out: list[str] = []
    if not isinstance(p.name, str) or not p.name.strip():
        out.append(f"experiment.name must be a non-empty string, got {shown(p.name)}")
    if not _is_number(p.alpha) or not 0 < p.alpha < 1:
        out.append(f"experiment.alpha must be a number in (0, 1), got {shown(p.alpha)}")
    if p.alternative not in ALTERNATIVES:
        out.append(f"experiment.alternative must be one of {', '.join(ALTERNATIVES)}, "
                   f"got {shown(p.alternative)}")
    if p.csat_margin is not None and (not _is_number(p.csat_margin)
                                      or not -1 < p.csat_margin < 0):
        # 0 is no margin: the analysis' non-inferiority test needs a negative one
        out.append("margins.csat must be a relative non-inferiority margin in (-1, 0) "
                   f"(e.g. -0.02), got {shown(p.csat_margin)}")
    if p.nrr_margin is not None and (not _is_number(p.nrr_margin)
                                     or not 0 < p.nrr_margin < 1):
        out.append("margins.nrr must be a relative equivalence margin in (0, 1) (e.g. 0.01), "
                   f"got {shown(p.nrr_margin)}")
    if p.looks is not None and (isinstance(p.looks, bool) or not isinstance(p.looks, int)
                                or p.looks < 1):
        out.append(f"monitoring.looks must be a positive integer, got {shown(p.looks)}")
    if p.spending not in SPENDING_FUNCTIONS:
        out.append(f"monitoring.spending must be one of {', '.join(SPENDING_FUNCTIONS)}, "
                   f"got {shown(p.spending)}")
    if p.information is not None:
        info = p.information
        ok = (len(info) > 0 and all(_is_number(x) for x in info)
              and info[0] > 0 and all(a < b for a, b in pairwise(info))
              and math.isclose(info[-1], 1.0))
        if not ok:
            out.append("monitoring.information must be increasing fractions in (0, 1] ending "
                       f"at 1.0, got {shown(list(info))}")
        elif p.looks is not None and len(info) != p.looks:
            out.append(f"monitoring.information has {len(info)} fractions but "
                       f"monitoring.looks is {p.looks}")
    if p.power is not None and (not _is_number(p.power) or not 0 < p.power < 1):
        out.append(f"design.power must be a number in (0, 1), got {shown(p.power)}")
    if p.n_per_arm is not None and (isinstance(p.n_per_arm, bool)
                                    or not isinstance(p.n_per_arm, int) or p.n_per_arm < 1):
        out.append(f"design.n_per_arm must be a positive integer, got {shown(p.n_per_arm)}")
    if p.months is not None and (not _is_number(p.months) or not p.months > 0):
        out.append(f"design.months must be a positive number, got {shown(p.months)}")
    if p.weights is not None:
        out += allocation_problems(p.weights, "weights")
    if p.arms is not None:
        out += arms_problems(p.arms, p.weights)
    if p.segments is not None:
        out += segments_problems(p.segments)
    return out


#: The keys of ``[segments]``.
SEGMENT_KEYS = ("by", "spend_bands", "fdr")


def segments_problems(segments: object) -> list[str]:
    """What is wrong with a plan's ``[segments]``: known keys; ``by`` a non-empty list of
    distinct dimension names; ``spend_bands`` strictly increasing finite numbers; ``fdr``
    ``"bh"`` or ``"holm"``."""
    if not isinstance(segments, Mapping):
        return [f"segments must be a table with by = [...], got {shown(segments)}"]
    out = [f"unknown key segments.{shorten(str(k))} (known: {', '.join(SEGMENT_KEYS)})"
           for k in segments if k not in SEGMENT_KEYS]
    by = segments.get("by")
    if by is None:
        out.append("segments.by is missing: the dimensions to read (e.g. by = [\"segment\", "
                   "\"spend_band\"])")
    elif (isinstance(by, str) or not isinstance(by, Sequence) or not by
          or not all(isinstance(d, str) and d.strip() for d in by) or len(set(by)) < len(by)):
        out.append("segments.by must be a list of distinct dimension names (columns of the "
                   "customers table, \"spend_band\", \"contact_tercile\"), got "
                   f"{shown(list(by) if isinstance(by, tuple) else by)}")
    bands = segments.get("spend_bands")
    if bands is not None and (isinstance(bands, str) or not isinstance(bands, Sequence)
                              or not bands or not all(_is_number(x) for x in bands)
                              or any(b <= a for a, b in pairwise(bands))):
        given = list(bands) if isinstance(bands, tuple) else bands
        out.append("segments.spend_bands must be a list of strictly increasing numbers (e.g. "
                   f"[25.0, 50.0]), got {shown(given)}")
    fdr = segments.get("fdr", "bh")
    if fdr not in ("bh", "holm"):
        out.append(f"segments.fdr must be \"bh\" or \"holm\", got {shown(fdr)}")
    return out


def arms_problems(arms: object, weights: object = None) -> list[str]:
    """What is wrong with a plan's ``[arms]`` (arm -> FRT policy name), each naming the section
    and the arm: at least two arms with non-empty names, each policy a name
    :func:`frt_experiments.policy.policy_from_spec` reads, and, beside ``[weights]``, the same
    arms in both sections."""
    if not isinstance(arms, Mapping):
        return [f"arms must map each arm to its FRT policy (e.g. {{'fast': '4h', "
                f"'one_business_day': 'one_business_day'}}), got {shown(arms)}"]
    out: list[str] = []
    if len(arms) < 2:
        out.append(f"arms: a trial needs at least two arms, the control first (e.g. fast = "
                   f"\"4h\", one_business_day = \"one_business_day\"), got {shown(dict(arms))}")
    names_ok = True
    for arm in arms:
        if not isinstance(arm, str) or not arm.strip():
            out.append(f"arms: arm names must be non-empty strings, got {shown(arm)}")
            names_ok = False
    if names_ok:
        calendar = BusinessCalendar("UTC")  # any calendar: only the names are checked here
        for arm, spec in arms.items():
            try:
                policy_from_spec(arm, spec, calendar)
            except ValueError as exc:
                out.append(f"arms: {exc}")
    if isinstance(weights, Mapping) and names_ok:
        only_w = [a for a in weights if a not in arms]
        only_a = [a for a in arms if a not in weights]
        if only_w:
            out.append(f"weights: arm{'s' if len(only_w) > 1 else ''} "
                       f"{', '.join(map(shown, only_w))} {'are' if len(only_w) > 1 else 'is'} "
                       f"not in [arms] (arms: {', '.join(map(str, arms))})")
        if only_a:
            out.append(f"arms: arm{'s' if len(only_a) > 1 else ''} "
                       f"{', '.join(map(shown, only_a))} {'have' if len(only_a) > 1 else 'has'}"
                       f" no share in [weights] (weights: {', '.join(map(str, weights))})")
    return out


def same_allocation(a: Mapping[str, float], b: Mapping[str, float]) -> bool:
    """Whether two sound allocations give the same arms the same shares (within
    :data:`SHARE_TOLERANCE`, relative)."""
    return set(a) == set(b) and all(
        math.isclose(float(a[arm]), float(b[arm]), rel_tol=SHARE_TOLERANCE) for arm in a)


def allocation_problems(weights: object, name: str,
                        arms: Sequence[str] | None = None) -> list[str]:
    """What is wrong with a designed allocation ``weights`` (arm -> share), each naming ``name``.

    The rule: a mapping of at least two arms (non-empty strings) to positive, finite shares
    summing to 1 (within :data:`SHARE_TOLERANCE`, relative); with ``arms`` (the arms present in
    an assignment), exactly one share per arm. An empty list means the allocation is sound.
    """
    if not isinstance(weights, Mapping):
        return [f"{name} must map each arm to its share (e.g. {{'fast': 0.9, "
                f"'one_business_day': 0.1}}), got {shown(weights)}"]
    out: list[str] = []
    bad_names = [a for a in weights if not isinstance(a, str) or not a.strip()]
    if bad_names:
        out.append(f"{name}: arm names must be non-empty strings, got {shown(bad_names)}")
    if len(weights) < 2:
        out.append(f"{name} must give the shares of at least two arms, got "
                   f"{shown(dict(weights))}")
    bad = {a: w for a, w in weights.items() if not _is_number(w) or not float(w) > 0}
    for arm, w in bad.items():
        out.append(f"{name}: the share of arm {shown(arm)} must be a positive finite number, "
                   f"got {shown(w)}")
    if not bad and weights:
        total = math.fsum(float(w) for w in weights.values())
        if not math.isclose(total, 1.0, rel_tol=SHARE_TOLERANCE, abs_tol=0.0):
            out.append(f"{name}: the shares must sum to 1, got {total:.10g} for "
                       f"{shown(dict(weights))}")
    if arms is not None:
        present = [str(a) for a in arms]
        unknown = [a for a in weights if a not in present]
        if unknown:
            out.append(f"{name}: arm{'s' if len(unknown) > 1 else ''} "
                       f"{', '.join(map(shown, unknown))} {'are' if len(unknown) > 1 else 'is'} "
                       f"not in the assignments (arms: {', '.join(sorted(present))})")
        missing = [a for a in sorted(present) if a not in weights]
        if missing:
            out.append(f"{name}: no share for arm{'s' if len(missing) > 1 else ''} "
                       f"{', '.join(map(shown, missing))} of the assignments (give one share "
                       f"per arm: {', '.join(sorted(present))})")
    return out


def _is_number(x: object) -> bool:
    return (isinstance(x, int | float) and not isinstance(x, bool)
            and math.isfinite(float(x)))


#: TOML section -> {key: ExperimentPlan field}.
_LAYOUT: dict[str, dict[str, str]] = {
    "experiment": {"name": "name", "alpha": "alpha", "alternative": "alternative"},
    "margins": {"csat": "csat_margin", "nrr": "nrr_margin"},
    "monitoring": {"looks": "looks", "spending": "spending", "information": "information"},
    "design": {"power": "power", "n_per_arm": "n_per_arm", "months": "months"},
}
#: The section whose keys are arm names: arm = share (ExperimentPlan.weights).
_WEIGHTS = "weights"
#: The section whose keys are arm names: arm = FRT policy name (ExperimentPlan.arms).
_ARMS = "arms"
#: The section of the pre-registered segment readouts (ExperimentPlan.segments).
_SEGMENTS = "segments"


def plan_from_mapping(data: Mapping[str, Any], *, source: str = "plan") -> ExperimentPlan:
    """Build a plan from a parsed TOML mapping, rejecting unknown sections and keys."""
    for section, body in data.items():
        if section not in _LAYOUT and section not in (_WEIGHTS, _ARMS, _SEGMENTS):
            raise ScenarioError(f"{source}: unknown section [{shorten(str(section))}] (known: "
                                f"{', '.join([*_LAYOUT, _WEIGHTS, _ARMS, _SEGMENTS])})")
        if not isinstance(body, Mapping):
            raise ScenarioError(f"{source}: {section} must be a table [{section}], got "
                                f"{shown(body)}")
        if section in (_WEIGHTS, _ARMS, _SEGMENTS):
            continue
        for key in body:
            if key not in _LAYOUT[section]:
                raise ScenarioError(f"{source}: unknown key {section}.{shorten(str(key))} (known: "
                                    f"{', '.join(_LAYOUT[section])})")
    if "name" not in data.get("experiment", {}):
        raise ScenarioError(f"{source}: missing key experiment.name")
    kwargs: dict[str, Any] = {}
    for section, keys in _LAYOUT.items():
        for key, attr in keys.items():
            if key in data.get(section, {}):
                kwargs[attr] = data[section][key]
    info = kwargs.get("information")
    if info is not None:
        if not isinstance(info, list):
            raise ScenarioError(f"{source}: monitoring.information must be a list of "
                                f"fractions, got {shown(info)}")
        kwargs["information"] = tuple(info)
    for attr in ("alpha", "csat_margin", "nrr_margin", "power", "months"):
        if isinstance(kwargs.get(attr), int) and not isinstance(kwargs[attr], bool):
            kwargs[attr] = float(kwargs[attr])
    if _WEIGHTS in data:
        kwargs["weights"] = {arm: float(w) if isinstance(w, int) and not isinstance(w, bool)
                             else w for arm, w in data[_WEIGHTS].items()}
    if _ARMS in data:
        kwargs["arms"] = dict(data[_ARMS])
    if _SEGMENTS in data:
        kwargs["segments"] = dict(data[_SEGMENTS])
    return ExperimentPlan(**kwargs, _source=source)


def read_plan(path: str | os.PathLike[str]) -> ExperimentPlan:
    """Read and validate an experiment plan TOML file.

    Raises:
        ScenarioError: The file is not valid TOML (or not UTF-8, larger than 1 MB, nested
            deeper than 64 levels: :mod:`frt_experiments._limits`), has unknown sections or
            keys, or a value breaks its rule; the message names the file and the key.
        OSError: The file cannot be read.
    """
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"{p.name}: file not found ({p})")
    data = read_toml(p, what="plan")
    return plan_from_mapping(data, source=p.name)


def _toml_value(v: object) -> str:
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return repr(v)
    if isinstance(v, Sequence):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    raise TypeError(f"cannot write {shown(v)} to TOML")


def plan_to_toml(plan: ExperimentPlan) -> str:
    """The TOML text of a plan (sections without values are left out)."""
    chunks = []
    for section, keys in _LAYOUT.items():
        lines = [f"{key} = {_toml_value(getattr(plan, attr))}" for key, attr in keys.items()
                 if getattr(plan, attr) is not None]
        if lines:
            chunks.append(f"[{section}]\n" + "\n".join(lines) + "\n")
    if plan.weights is not None:
        lines = [f"{_toml_key(arm)} = {_toml_value(float(share))}"
                 for arm, share in plan.weights.items()]
        chunks.append(f"[{_WEIGHTS}]\n" + "\n".join(lines) + "\n")
    if plan.arms is not None:
        lines = [f"{_toml_key(arm)} = {_toml_value(spec)}" for arm, spec in plan.arms.items()]
        chunks.append(f"[{_ARMS}]\n" + "\n".join(lines) + "\n")
    if plan.segments is not None:
        lines = [f"{key} = {_toml_value(plan.segments[key])}" for key in SEGMENT_KEYS
                 if plan.segments.get(key) is not None]
        chunks.append(f"[{_SEGMENTS}]\n" + "\n".join(lines) + "\n")
    return "\n".join(chunks)


def _toml_key(key: str) -> str:
    """A bare TOML key when it is one (letters, digits, ``_``, ``-``), else a quoted one."""
    bare = key and all(c.isascii() and (c.isalnum() or c in "_-") for c in key)
    return key if bare else _toml_value(key)


def write_plan(plan: ExperimentPlan, path: str | os.PathLike[str]) -> Path:
    """Write ``plan`` to ``path`` as TOML, atomically (temporary file, then rename)."""
    if not isinstance(plan, ExperimentPlan):
        raise TypeError(f"plan must be an ExperimentPlan, got {type(plan).__name__}")
    return write_text_atomic(path, plan_to_toml(plan))
