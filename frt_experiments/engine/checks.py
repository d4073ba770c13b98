"""The canonical tables' rules checked inside the engine: counts by one aggregate query.

:func:`frt_experiments.schema.validate_customers` (and its siblings for conversations and
assignments) check a table in pandas. When the tables live in an engine (DuckDB, PostgreSQL,
later Spark) as Ibis tables, :func:`check_tables` checks the same rules there, so a bad
warehouse table is a :class:`~frt_experiments.errors.DataError` listing every problem, as a
bad file is, and never a query failing half-way through an analysis:

- one aggregate query per table counts the rows breaking each rule (``SUM(CASE WHEN ...)``),
- only when a rule fails, one more small query names up to
  :data:`~frt_experiments.errors.MAX_ROWS_SHOWN` offending rows per failing rule, and
- with ``customers`` and another table, one query per table counts the rows of customers
  missing from ``customers``.

A good table costs one query. The problems carry the same table names, columns and rule texts
as the pandas validators. An engine table has no row order, so the offending rows are named by
their key (``customer_id``, or ``conversation_id`` for conversations), quoted when text, and
``NULL`` for a row without one: ``conversations: column handle_seconds: 2 rows are negative
(must be >= 0) (conversation_ids 'c17', 'c9')``.

Types. A timestamp column is an aware timestamp, or ISO 8601 text with seconds and an offset
that every engine casts (``2025-01-06T09:00:00Z``, ``2025-01-06 09:00:00+01:00``, as frt writes
them; :func:`frt_experiments.engine.timestamp` casts it). A naive timestamp, a date, text the
engines do not all read (no seconds, the compact ``20250106T090000Z``) and a time outside the
years a timestamp holds are errors. Number columns are numeric (or numbers as text); ids are
text or integers.

Beyond the pandas rules, two that the engine's own queries need (pandas normalises these on
reading): ratings written as frt writes them (``4`` or an integer column, not ``4.0``; ``good``,
not ``Good``), and
timestamp text in the one form every engine reads (:data:`ENGINE_RATING_RULE`,
:data:`ENGINE_TIMESTAMP_RULE`). Not checked: ids differing only by spaces around them (pandas
trims them, so they are one id there; the engine's joins keep them apart).

Example::

    import ibis
    from frt_experiments.engine.checks import check_tables

    con = ibis.duckdb.connect()
    check_tables(customers=con.read_parquet("customers.parquet"),
                 conversations=con.read_parquet("conversations.parquet"),
                 assignments=con.read_parquet("assignments.parquet"))  # DataError if bad
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir
import pandas as pd

from frt_experiments import _limits, schema
from frt_experiments.engine import engine_name, execute
from frt_experiments.errors import MAX_ROWS_SHOWN, DataError, DataWarning, Problem, shown

__all__ = ["ENGINE_RATING_RULE", "ENGINE_TIMESTAMP_RULE", "check_assignments",
           "check_conversations", "check_customers", "check_tables"]

# ----------------------------------------------------------------------------- rule texts
# The texts schema.py writes inline, written the same here (one vocabulary for users).
EMPTY_RULE = "empty (a value is required)"
NEGATIVE_RULE = "negative (must be >= 0)"
BOOLEAN_RULE = "true/false, not numbers"
NOT_NUMBERS_RULE = "text, not numbers"
INFINITE_RULE = "infinite (numbers must be finite)"
NAIVE_RULE = ("time-zone naive (give an offset, or name the zone: timezone= in Python, "
              "--timezone on the command line)")
UNPARSABLE_RULE = "not parseable as ISO 8601 timestamps"
EARLIER_RULE = f"earlier than {schema.CREATED_AT}"
BUCKET_RULE = "not in [0, 1)"
ABANDONED_RULE = (f"set together with {schema.FIRST_RESPONSE_AT} (an abandoned conversation "
                  "got no response)")
BAD_SCALE_RULE = f"not a known scale ({', '.join(schema.CSAT_SCALES)})"
OFF_1_5_RULE = "off the 1-5 scale (integers 1 to 5)"
OFF_GOOD_BAD_RULE = "off the good-bad scale (good or bad)"
NO_SCALE_RULE = "empty where csat holds a rating"
ZERO_REVENUE_RULE = ("zero: customers with no revenue at the start do not count towards NRR")

#: Engine only: ISO 8601 text that pandas reads but not every engine casts (DuckDB wants the
#: seconds and an upper-case ``T``; PostgreSQL offsets within +-15:59).
ENGINE_TIMESTAMP_RULE = ("written in a form not every engine reads as a timestamp (give "
                         "the seconds and an offset: 2025-01-06T09:00:00Z or "
                         "2025-01-06 09:00:00+01:00)")
#: Engine only: valid ratings not written as frt writes them; the engine's queries compare
#: ratings as text, so they would not count these as satisfied.
ENGINE_RATING_RULE = ("ratings not written as frt writes them (text: 4, not 4.0; good, not "
                      "Good; no spaces around), which the engine would not count as satisfied: "
                      "normalise them (frt import)")

# ----------------------------------------------------------------------------- patterns
_NUMBER_RE = r"^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]{1,2})?$"
_INFINITY_RE = r"^[+-]?inf(inity)?$"
_OFFSET_RE = r"([Zz]|[+-][0-9]{2}(:?[0-9]{2})?)$"
_HAS_TIME_RE = r"^[0-9]{4}-?[0-9]{2}-?[0-9]{2}[Tt ][0-9]{2}"
_DATE_ONLY_RE = r"^[0-9]{4}-?[0-9]{2}-?[0-9]{2}$"
#: The one text form every engine casts (any digits in the date and time; PostgreSQL takes
#: offsets up to 15:59) ...
_ENGINE_SHAPE_RE = (r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?"
                    r"(Z|[+-](0[0-9]|1[0-5])(:?[0-5][0-9])?)$")
#: ... and with each field in its range (the day of the month is checked apart).
_ENGINE_VALID_RE = (r"^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])[T ]([01][0-9]|2[0-3])"
                    r":[0-5][0-9]:[0-5][0-9](\.[0-9]{1,9})?(Z|[+-](0[0-9]|1[0-5])(:?[0-5][0-9])?)$")
#: The instants a timestamp holds (:data:`frt_experiments._limits.TIMESTAMP_RANGE`), to the
#: microsecond engines keep.
_LOW = _limits.TIMESTAMP_RANGE[0].ceil("us")
_HIGH = _limits.TIMESTAMP_RANGE[1].floor("us")
_UTC = dt.Timestamp(timezone="UTC")


@dataclass(frozen=True)
class _Rule:
    """One rule: the rows breaking it (``when``); a warning rather than an error."""

    column: str | None
    rule: str
    when: ir.BooleanValue
    warning: bool = False


def _flag(cond: ir.BooleanValue) -> ir.IntegerValue:
    """1 where ``cond`` holds, 0 where it does not or is NULL."""
    return ibis.cases((cond, 1), else_=0)


def _true() -> ir.BooleanValue:
    return ibis.literal(True)


# ----------------------------------------------------------------------------- column views
def _text(col: ir.Value) -> ir.StringValue:
    """A column as text the way pandas reads it: trimmed, empty as NULL; numbers as text."""
    if col.type().is_string():
        return col.strip().nullif("")
    return col.cast("string")


def _present(col: ir.Value) -> ir.BooleanValue:
    """Where the raw value is not empty (NULL, blank text or a float NaN)."""
    typ = col.type()
    if typ.is_string():
        return _text(col).notnull()
    if typ.is_floating():
        return col.notnull() & ~col.isnan()
    return col.notnull()


#: Registers a derived column under a name and returns it: computed once per row in a first
#: projection, which the rules then read (engines do not all share repeated expressions).
_Keep = Callable[[str, Any], Any]


@dataclass
class _Number:
    value: ir.FloatingValue | None  # the number where it is one
    rules: list[_Rule]


def _number(col: ir.Value, c: schema.Column, keep: _Keep) -> _Number:
    name, typ = c.name, col.type()
    present = _present(col)
    rules: list[_Rule] = []
    value: ir.FloatingValue | None = None
    negative_infinity: ir.BooleanValue | None = None
    if typ.is_boolean():
        rules.append(_Rule(name, BOOLEAN_RULE, _true()))
    elif typ.is_numeric():
        value = col.cast("float64")
        if typ.is_floating():
            value = keep(f"{name}_value", ibis.cases((~col.isnan(), value), else_=None))
            rules.append(_Rule(name, INFINITE_RULE, col.isinf()))
    elif typ.is_string():
        text = keep(f"{name}_text", _text(col))
        present = text.notnull()
        number = keep(f"{name}_number", text.re_search(_NUMBER_RE) & (text.length() <= 300))
        infinite = keep(f"{name}_infinite", text.lower().re_search(_INFINITY_RE))
        value = keep(f"{name}_value", ibis.cases((number, text.cast("float64")), else_=None))
        rules.append(_Rule(name, NOT_NUMBERS_RULE, text.notnull() & ~number & ~infinite))
        rules.append(_Rule(name, INFINITE_RULE, infinite))
        negative_infinity = infinite & text.startswith("-")
    else:  # a timestamp, a date, bytes: pandas reads them as text that is not a number
        rules.append(_Rule(name, NOT_NUMBERS_RULE, col.notnull()))
    if not c.nullable:
        rules.append(_Rule(name, EMPTY_RULE, ~present))
    if c.nonnegative and value is not None:
        negative = value < 0
        if negative_infinity is not None:
            negative = negative | negative_infinity
        rules.append(_Rule(name, NEGATIVE_RULE, negative))
    return _Number(value, rules)


@dataclass
class _Timestamp:
    value: ir.TimestampValue | None  # the aware instant where the column holds one
    rules: list[_Rule]


def _days_in_month(year: ir.IntegerValue, month: ir.IntegerValue) -> ir.IntegerValue:
    leap = ((year % 4 == 0) & (year % 100 != 0)) | (year % 400 == 0)
    return ibis.cases((month == 2, ibis.cases((leap, 29), else_=28)),
                      (month.isin([4, 6, 9, 11]), 30), else_=31)


def _spark(col: ir.Value) -> bool:
    """Whether ``col`` lives in Spark, whose ``TIMESTAMP`` (an instant) reaches Ibis without a
    zone: it is read as UTC (the session zone :mod:`.connect` sets), like ``TIMESTAMP_NTZ``,
    which Ibis does not tell apart."""
    return engine_name(col) == "pyspark"


def _timestamp(col: ir.Value, c: schema.Column, keep: _Keep) -> _Timestamp:
    name, typ = c.name, col.type()
    present = _present(col)
    rules: list[_Rule] = []
    value: ir.TimestampValue | None = None
    if typ.is_timestamp() and (typ.timezone is not None or _spark(col)):
        value = col
    elif typ.is_timestamp():
        rules.append(_Rule(name, NAIVE_RULE, col.notnull()))
    elif typ.is_date():
        rules.append(_Rule(name, schema.DATE_ONLY_RULE, col.notnull()))
    elif typ.is_string():
        text = keep(f"{name}_text", _text(col))
        present = text.notnull()
        too_long = text.length() > _limits.MAX_TIMESTAMP_CHARS
        short = keep(f"{name}_short", text.notnull() & ~too_long)
        date_only = keep(f"{name}_date_only", short & text.re_search(_DATE_ONLY_RE))
        timed = keep(f"{name}_timed", short & text.re_search(_HAS_TIME_RE))
        offset = keep(f"{name}_offset", text.re_search(_OFFSET_RE))
        valid = timed & offset & text.re_search(_ENGINE_VALID_RE)
        # the fields are digits where valid holds, so these casts cannot fail
        year = ibis.cases((valid, text.substr(0, 4).cast("int32")), else_=None)
        month = ibis.cases((valid, text.substr(5, 2).cast("int32")), else_=None)
        day = ibis.cases((valid, text.substr(8, 2).cast("int32")), else_=None)
        valid = keep(f"{name}_valid",
                     (valid & (year >= 1) & (day <= _days_in_month(year, month))).fill_null(False))
        shape = keep(f"{name}_shape", text.re_search(_ENGINE_SHAPE_RE))
        value = keep(f"{name}_value", ibis.cases((valid, text.cast(_UTC)), else_=None))
        rules += [
            _Rule(name, _limits.TOO_LONG_RULE, too_long),
            _Rule(name, schema.DATE_ONLY_RULE, date_only),
            _Rule(name, NAIVE_RULE, timed & ~offset),
            # words (now, today), and fields out of their range (2025-02-30)
            _Rule(name, UNPARSABLE_RULE, short & ~date_only & (
                ~timed | (timed & offset & shape & ~valid))),
            _Rule(name, ENGINE_TIMESTAMP_RULE, timed & offset & ~shape),
        ]
    else:  # numbers, booleans: pandas reads them as text that is not a timestamp
        rules.append(_Rule(name, UNPARSABLE_RULE, col.notnull()))
    if value is not None:
        rules.append(_Rule(name, _limits.OUT_OF_RANGE_RULE,
                           (value < ibis.literal(_LOW)) | (value > ibis.literal(_HIGH))))
    if not c.nullable:
        rules.append(_Rule(name, EMPTY_RULE, ~present))
    return _Timestamp(value, rules)


def _type_problem(table: str, col: ir.Value, c: schema.Column) -> Problem | None:
    """A column whose engine type cannot hold its kind (ids: text or integers; text: text or
    numbers); numbers and timestamps of other types are row problems, as in pandas."""
    typ = col.type()
    if c.kind == "id" and not (typ.is_string() or typ.is_integer()):
        return Problem(table, c.name, f"holds {typ} values; ids must be text or integers")
    if c.kind == "text" and not (typ.is_string() or typ.is_numeric()):
        return Problem(table, c.name, f"holds {typ} values; it must be text")
    return None


# ----------------------------------------------------------------------------- one table
class _Check:
    """The rules of one table, the aggregate query counting them, and the examples."""

    def __init__(self, name: str, table: Any, spec: schema.TableSpec,
                 rules: Callable[[_Check], None]) -> None:
        if not isinstance(table, ir.Table):
            raise TypeError(f"{name} must be an Ibis table, got {type(table).__name__}")
        self.name, self.t, self.spec = name, table, spec
        self.problems: list[Problem] = []
        #: Warnings found (issued only when the table has no problem, as in pandas).
        self.warnings: list[Problem] = []
        self.rules: list[_Rule] = []
        self.numbers: dict[str, ir.FloatingValue] = {}
        self.times: dict[str, ir.TimestampValue] = {}
        self.texts: dict[str, ir.StringValue] = {}
        self.kept: dict[str, ir.Value] = {}
        self._stage: ir.Table | None = None
        missing = [c for c in spec.required if c not in table.columns]
        if missing:
            self.problems.append(Problem(
                name, None, f"missing required column{'s' if len(missing) > 1 else ''} "
                f"{', '.join(missing)}"))
            return
        # twice: first to collect the derived columns, then over the projection holding them
        self._build(table, rules)
        if self.kept:
            self._stage = table.mutate(**self.kept)
            self._build(self._stage, rules)

    def _build(self, table: ir.Table, rules: Callable[[_Check], None]) -> None:
        self.t, self.problems, self.rules = table, [], []
        self.numbers, self.times, self.texts = {}, {}, {}
        for c in self.spec.columns:
            if c.name in table.columns:
                self._column(c)
        rules(self)

    def keep(self, name: str, expr: Any) -> Any:
        """``expr`` as the derived column ``name`` (see :data:`_Keep`)."""
        name = f"_frt_{name}"
        if self._stage is None:
            self.kept[name] = expr
            return expr
        return self._stage[name]

    def has(self, column: str) -> bool:
        return column in self.t.columns

    def _column(self, c: schema.Column) -> None:
        col = self.t[c.name]
        if c.kind in ("id", "text"):
            problem = _type_problem(self.name, col, c)
            if problem is not None:
                self.problems.append(problem)
                return
            text = self.texts[c.name] = self.keep(f"{c.name}_text", _text(col))
            if not c.nullable:
                self.rules.append(_Rule(c.name, EMPTY_RULE, text.isnull()))
        elif c.kind == "number":
            n = _number(col, c, self.keep)
            self.rules += n.rules
            if n.value is not None:
                self.numbers[c.name] = n.value
        else:
            ts = _timestamp(col, c, self.keep)
            self.rules += ts.rules
            if ts.value is not None:
                self.times[c.name] = ts.value

    def duplicates(self, columns: Sequence[str], rule: str) -> None:
        """Rows repeating an earlier row's key (``columns``: the last is the id, which must be
        present; the others may be empty, as in pandas)."""
        if any(c not in self.texts for c in columns):
            return
        *others, key = columns
        parts = [self.texts[c].fill_null("") for c in others] + [self.texts[key]]
        # row_number is 0-based in Ibis: 1 is a key's first repeat
        number = ibis.row_number().over(group_by=parts)
        present = self.texts[key].notnull()
        self.rules.append(_Rule(key, rule, present & (number >= 1)))

    def flags(self) -> ir.Table:
        """The key of each row and, per rule, 1 where the row breaks it (else 0)."""
        key = self.t[self.spec.key]  # a required column: there are rules only with it
        if not (key.type().is_string() or key.type().is_integer()):
            key = key.cast("string")
        return self.t.select(_frt_key=key, **{f"_frt_r{i}": _flag(r.when)
                                              for i, r in enumerate(self.rules)})

    def counts(self) -> ir.Table:
        """The one-row query counting the rows that break each rule (``r0``, ``r1``, ...)."""
        flags = self.flags()
        return flags.aggregate(**{f"r{i}": flags[f"_frt_r{i}"].sum()
                                  for i in range(len(self.rules))})

    def run(self) -> list[Problem]:
        """Count every rule in one query; name a few rows of the failing ones in one more."""
        if not self.rules:
            return self.problems
        flags, counts = self.flags(), self.counts()
        row = execute(counts).iloc[0]
        failing = {i: int(row[f"r{i}"]) for i in range(len(self.rules))
                   if not pd.isna(row[f"r{i}"]) and int(row[f"r{i}"]) > 0}
        if not failing:
            return self.problems
        examples = self._examples(flags, failing)
        location = f"{self.spec.key}s"
        for i, count in failing.items():
            r = self.rules[i]
            rows = examples.get(i, ())  # engine rows: their ids
            problem = Problem(self.name, r.column, r.rule, count, rows, location)
            if r.warning:
                self.warnings.append(problem)
            else:
                self.problems.append(problem)
        return self.problems

    def _examples(self, flags: ir.Table, failing: dict[int, int]) -> dict[int, tuple[Any, ...]]:
        parts = [flags.filter(flags[f"_frt_r{i}"] == 1)
                 .select(rule=ibis.literal(i, "int32"), key=flags["_frt_key"])
                 .order_by("key").limit(MAX_ROWS_SHOWN) for i in failing]
        query = parts[0] if len(parts) == 1 else ibis.union(*parts, distinct=False)
        found: dict[int, list[Any]] = {}
        for rule, value in execute(query).itertuples(index=False):
            found.setdefault(int(rule), []).append(_name(value))
        return {i: tuple(sorted(v, key=str)) for i, v in found.items()}


def _name(value: Any) -> Any:
    """A key as a message shows it: integers bare, text quoted (and shortened), NULL."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return "NULL"
    if isinstance(value, str):
        return shown(value)
    try:
        return int(value)
    except (TypeError, ValueError):
        return shown(str(value))


def _customers(t: Any) -> _Check:
    return _Check("customers", t, schema.CUSTOMERS, _customer_rules)


def _customer_rules(chk: _Check) -> None:
    if chk.has(schema.REVENUE_START) != chk.has(schema.REVENUE_END):
        have, lack = ((schema.REVENUE_START, schema.REVENUE_END) if chk.has(schema.REVENUE_START)
                      else (schema.REVENUE_END, schema.REVENUE_START))
        chk.problems.append(Problem(chk.name, None,
                                    f"column {have} without column {lack} (NRR needs both)"))
    chk.duplicates([schema.CUSTOMER_ID], schema.DUPLICATE_RULES["customers"])
    n = chk.numbers
    if schema.PRE_RATED in n and schema.PRE_SATISFIED in n:
        chk.rules.append(_Rule(schema.PRE_SATISFIED, f"greater than {schema.PRE_RATED}",
                               n[schema.PRE_SATISFIED] > n[schema.PRE_RATED]))
    if schema.REVENUE_START in n:
        chk.rules.append(_Rule(schema.REVENUE_START, ZERO_REVENUE_RULE,
                               n[schema.REVENUE_START] == 0, warning=True))


def _assignments(t: Any) -> _Check:
    return _Check("assignments", t, schema.ASSIGNMENTS, _assignment_rules)


def _assignment_rules(chk: _Check) -> None:
    chk.duplicates([schema.EXPERIMENT, schema.CUSTOMER_ID], schema.DUPLICATE_RULES["assignments"])
    if schema.BUCKET in chk.numbers:
        chk.rules.append(_Rule(schema.BUCKET, BUCKET_RULE, chk.numbers[schema.BUCKET] >= 1))


def _conversations(t: Any) -> _Check:
    return _Check("conversations", t, schema.CONVERSATIONS, _conversation_rules)


def _conversation_rules(chk: _Check) -> None:
    chk.duplicates([schema.CONVERSATION_ID], schema.DUPLICATE_RULES["conversations"])
    times = chk.times
    if schema.CREATED_AT in times:
        created = times[schema.CREATED_AT]
        for col in (schema.FIRST_RESPONSE_AT, schema.CLOSED_AT, schema.ABANDONED_AT):
            if col in times:
                chk.rules.append(_Rule(col, EARLIER_RULE, times[col] < created))
    if chk.has(schema.ABANDONED_AT) and schema.ABANDONED_AT in times \
            and schema.FIRST_RESPONSE_AT in times:
        chk.rules.append(_Rule(schema.ABANDONED_AT, ABANDONED_RULE,
                               times[schema.ABANDONED_AT].notnull()
                               & times[schema.FIRST_RESPONSE_AT].notnull()))
    has_csat, has_scale = chk.has(schema.CSAT), chk.has(schema.CSAT_SCALE)
    if has_csat != has_scale:
        have, lack = ((schema.CSAT, schema.CSAT_SCALE) if has_csat
                      else (schema.CSAT_SCALE, schema.CSAT))
        chk.problems.append(Problem(chk.name, None, f"column {have} without column {lack} "
                                    "(ratings need their scale)"))
    elif has_csat and schema.CSAT in chk.texts and schema.CSAT_SCALE in chk.texts:
        chk.rules += _csat_rules(chk.t[schema.CSAT], chk.texts[schema.CSAT_SCALE], chk.keep)


def _csat_rules(raw: ir.Value, scale: ir.StringValue, keep: _Keep) -> list[_Rule]:
    """The rules of ``schema._check_csat``: a known scale, ratings on it, a scale wherever
    there is a rating; and ratings written as frt writes them (engine only)."""
    rating = keep("csat_rating", _text(raw).lower())
    if raw.type().is_numeric():
        number = raw.cast("float64")
        integral = raw.notnull() & (number == number.round())
        if raw.type().is_floating():
            integral = integral & ~raw.isnan() & ~raw.isinf()
    else:
        numeric = keep("csat_numeric", rating.re_search(_NUMBER_RE))
        number = keep("csat_number", ibis.cases((numeric, rating.cast("float64")), else_=None))
        integral = numeric & (number == number.round())
    # "4.0" on a 1-5 scale is the rating 4 (as pandas reads it)
    whole = ibis.cases((integral & (number.abs() < 1e15), number.cast("int64").cast("string")),
                       else_=None)
    as_int = keep("csat_as_int", ibis.cases((integral, whole), else_=rating))
    on15, ongb = scale == schema.SCALE_1_5, scale == schema.SCALE_GOOD_BAD
    off15 = on15 & as_int.notnull() & ~as_int.isin(schema.RATINGS_1_5)
    offgb = ongb & rating.notnull() & ~rating.isin(schema.RATINGS_GOOD_BAD)
    canonical = ibis.cases((on15, as_int), else_=rating)
    spelled = raw.cast("string") if not raw.type().is_string() else raw
    valid = ((on15 & as_int.isin(schema.RATINGS_1_5))
             | (ongb & rating.isin(schema.RATINGS_GOOD_BAD)))
    return [
        _Rule(schema.CSAT_SCALE, BAD_SCALE_RULE,
              scale.notnull() & ~scale.isin(schema.CSAT_SCALES)),
        _Rule(schema.CSAT, OFF_1_5_RULE, off15),
        _Rule(schema.CSAT, OFF_GOOD_BAD_RULE, offgb),
        _Rule(schema.CSAT_SCALE, NO_SCALE_RULE, rating.notnull() & scale.isnull()),
        # an integer column is read as its text (4 -> "4"); a float column is not (4.0)
        _Rule(schema.CSAT, ENGINE_RATING_RULE,
              valid & ((spelled != canonical)
                       | ibis.literal(not (raw.type().is_string() or raw.type().is_integer())))),
    ]


def _finish(chk: _Check) -> list[Problem]:
    problems = chk.run()
    if not problems:
        for w in chk.warnings:
            warnings.warn(str(w), DataWarning, stacklevel=3)
    return problems


# ----------------------------------------------------------------------------- public
def check_customers(t: Any) -> list[Problem]:
    """The problems of a customers table (an Ibis table), counted in its engine.

    Rules of :func:`frt_experiments.schema.validate_customers`: ``customer_id`` present and
    unique; ``monthly_spend``, ``revenue_start``, ``revenue_end`` and the pre-period
    covariates (each optional) numbers ``>= 0``; both revenue columns or neither;
    ``pre_satisfied`` not greater than ``pre_rated``. Warns
    (:class:`~frt_experiments.errors.DataWarning`) for customers with no revenue at the start.

    Raises:
        TypeError: ``t`` is not an Ibis table.
    """
    return _finish(_customers(t))


def check_conversations(t: Any) -> list[Problem]:
    """The problems of a conversations table (an Ibis table), counted in its engine.

    Rules of :func:`frt_experiments.schema.validate_conversations`: ``conversation_id``
    present and unique; ``customer_id`` present; ``created_at`` an aware timestamp;
    ``first_response_at``, ``closed_at`` and ``abandoned_at`` not earlier than it;
    ``abandoned_at`` never with ``first_response_at``; ``handle_seconds`` ``>= 0``; ``csat`` on
    its ``csat_scale`` and a scale wherever there is a rating; and ratings written as frt
    writes them.

    Raises:
        TypeError: ``t`` is not an Ibis table.
    """
    return _finish(_conversations(t))


def check_assignments(t: Any) -> list[Problem]:
    """The problems of an assignments table (an Ibis table), counted in its engine.

    Rules of :func:`frt_experiments.schema.validate_assignments`: each customer assigned once
    per experiment; ``experiment`` and ``arm`` present; ``assigned_at`` an aware timestamp;
    ``bucket`` in [0, 1) when given.

    Raises:
        TypeError: ``t`` is not an Ibis table.
    """
    return _finish(_assignments(t))


def _unknown_customers(customers: _Check, other: _Check) -> Problem | None:
    """Rows of ``other`` whose customer is not in ``customers`` (one query; examples in one
    more when there are some)."""
    cid = schema.CUSTOMER_ID
    if cid not in customers.texts or cid not in other.texts:
        return None
    known = customers.t.select(_frt_id=customers.texts[cid]).distinct()
    rows = other.t.select(_frt_id=other.texts[cid], _frt_key=other.t[other.spec.key])
    rows = rows.filter(rows["_frt_id"].notnull())
    lost = rows.anti_join(known, "_frt_id")
    count = int(execute(lost.count()))
    if count == 0:
        return None
    first = execute(lost.select("_frt_key").order_by("_frt_key").limit(MAX_ROWS_SHOWN))
    names = tuple(sorted((_name(v) for v in first["_frt_key"]), key=str))
    return Problem(other.name, cid, schema.UNKNOWN_CUSTOMERS_RULE.format(customers="customers"),
                   count, names, f"{other.spec.key}s")


def check_tables(customers: Any = None, conversations: Any = None,
                 assignments: Any = None) -> None:
    """Check canonical tables held in an engine (Ibis tables of one backend) in the engine.

    Each table given is checked by :func:`check_customers`, :func:`check_conversations` or
    :func:`check_assignments` (one aggregate query, and one more naming a few rows of each
    failing rule); with ``customers``, the conversations and assignments of customers not in
    it are counted too (one query each).

    Raises:
        DataError: listing every problem found; the rows are named by their ids
            (``customer_id``, ``conversation_id``), since an engine table has no row order.
        TypeError: a table is not an Ibis table.
    """
    checks = {name: make(t) for name, t, make in (
        ("customers", customers, _customers), ("conversations", conversations, _conversations),
        ("assignments", assignments, _assignments)) if t is not None}
    problems: list[Problem] = []
    for chk in checks.values():
        problems += _finish(chk)
    if "customers" in checks:
        for name in ("conversations", "assignments"):
            if name in checks:
                problem = _unknown_customers(checks["customers"], checks[name])
                if problem is not None:
                    problems.append(problem)
    if problems:
        raise DataError(problems)
