"""Exception and warning types of frt-experiments.

Bad *arguments* raise the built-in :class:`ValueError` or :class:`TypeError`.
Domain conditions have their own small hierarchy, rooted at :class:`FrtError`:

- :class:`DataError` -- a canonical table (or a helpdesk export) breaks a rule; it carries
  every :class:`Problem` found, so a user sees all of them at once.
- :class:`LedgerError` -- an assignment run conflicts with an existing ledger (changed salt,
  arms or weights); never resolved by silently re-shuffling.
- :class:`ScenarioError` -- a simulation scenario or experiment plan file is invalid.
- :class:`UnstableQueueError` -- offered load reaches the agents' capacity, so a queue has
  no steady state.

Warnings (all subclasses of :class:`FrtWarning`, itself a :class:`UserWarning`) flag data or
results that are legal but suspicious.

A value quoted in a message is shortened by :func:`shorten` (text) or :func:`shown` (any value,
as its ``repr``) to :data:`MAX_SHOWN_CHARS` characters, so a megabyte field in a bad file
gives a one-line message, not a megabyte one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

__all__ = [
    "BalanceWarning",
    "DataError",
    "DataWarning",
    "FrtError",
    "FrtWarning",
    "LedgerError",
    "Problem",
    "SampleRatioMismatchWarning",
    "ScenarioError",
    "SegmentWarning",
    "TreatmentNotDeliveredWarning",
    "UnstableQueueError",
    "shorten",
    "shown",
]

#: How many offending rows a message lists before it says "...".
MAX_ROWS_SHOWN = 5
#: How many characters of a value (or a column name) a message quotes before it cuts it.
MAX_SHOWN_CHARS = 80


def shorten(text: str, limit: int = MAX_SHOWN_CHARS) -> str:
    """``text`` cut to ``limit`` characters for a message, saying how long it was.

    >>> shorten("x" * 5_000_000, 5)
    'xxxxx... (5,000,000 characters)'
    >>> shorten("short")
    'short'
    """
    if len(text) <= limit:
        return text
    return f"{text[:limit]}... ({len(text):,} characters)"


def shown(value: object, limit: int = MAX_SHOWN_CHARS) -> str:
    """``repr(value)`` for a message, cut like :func:`shorten` (a long string is never copied
    whole into its repr).

    >>> shown("9" * 1_000, 6)
    "'99999... (1,000 characters)"
    >>> shown([1, 2])
    '[1, 2]'
    """
    if isinstance(value, str) and len(value) > limit:
        return f"{repr(value[:limit])[:limit]}... ({len(value):,} characters)"
    return shorten(repr(value), limit)


@dataclass(frozen=True)
class Problem:
    """One broken rule in one table.

    Attributes:
        source: The file name or argument name the table came from.
        column: The offending column, or ``None`` for a table-level problem.
        rule: What is wrong, phrased to follow "N rows are ..." (for row problems) or a full
            sentence (for table-level problems, where ``count`` is 0).
        count: How many rows break the rule (0 for a table-level problem).
        rows: The first offending rows, as file line numbers for CSV files (the header is
            line 1), 0-based row positions of frames and Parquet files, or the ids of
            engine tables (which have no row order; shown quoted).
        location: ``"lines"`` for CSV files, ``"rows"`` for positions, ``"customer_ids"`` or
            ``"conversation_ids"`` for ids.
    """

    source: str
    column: str | None
    rule: str
    count: int = 0
    rows: tuple[int | str, ...] = ()
    location: str = "rows"

    def __str__(self) -> str:
        where = (f"{shorten(self.source)}: "
                 + (f"column {shorten(self.column)}: " if self.column else ""))
        if self.count == 0:
            return where + self.rule
        noun, verb = ("row", "is") if self.count == 1 else ("rows", "are")
        if not self.rows:  # counted where the rows are not located (an engine's count)
            return f"{where}{self.count} {noun} {verb} {self.rule}"
        shown = ", ".join(str(r) for r in self.rows[:MAX_ROWS_SHOWN])
        more = ", ..." if self.count > min(len(self.rows), MAX_ROWS_SHOWN) else ""
        word = self.location if self.count > 1 else self.location.rstrip("s")
        return f"{where}{self.count} {noun} {verb} {self.rule} ({word} {shown}{more})"


class FrtError(Exception):
    """Base class of the toolkit's domain errors."""


class DataError(FrtError, ValueError):
    """A table breaks one or more rules of the canonical schema.

    ``problems`` holds every problem found; ``str(error)`` lists them one per line.
    """

    def __init__(self, problems: Sequence[Problem] | str) -> None:
        if isinstance(problems, str):
            problems = [Problem(source="data", column=None, rule=problems)]
        self.problems: tuple[Problem, ...] = tuple(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


class LedgerError(FrtError, ValueError):
    """An assignment run conflicts with the existing ledger."""


class ScenarioError(FrtError, ValueError):
    """A scenario or plan file has unknown keys or invalid values."""


class UnstableQueueError(FrtError, ValueError):
    """Offered load is at or above capacity: the queue has no steady state."""


class FrtWarning(UserWarning):
    """Base class of the toolkit's warnings."""


class DataWarning(FrtWarning):
    """Legal but suspicious data (e.g. conversations outside the analysis window)."""


class SampleRatioMismatchWarning(FrtWarning):
    """The arms' sizes differ from the design weights more than chance allows (p < 0.001)."""


class BalanceWarning(FrtWarning):
    """A pre-period covariate is imbalanced between arms (|SMD| > 0.1)."""


class TreatmentNotDeliveredWarning(FrtWarning):
    """The arms' first response times do not differ as the design intended."""


class InterferenceWarning(FrtWarning):
    """The control arm was answered materially faster during the trial than before it: the
    slow arm's deferred work may have freed agents for it, so the A/B contrast can overstate a
    rollout's effect."""


class SegmentWarning(FrtWarning):
    """A segment of a segment readout was not analysed (too few customers in an arm, or its
    data do not define a metric); the readout names it and why, and goes on without it."""
