"""Checks shared by the ``frt`` subcommands, run before any work starts.

A command checks its output locations and its seed up front, so that a mistyped ``--out``
fails in a second with a message naming the option, instead of after minutes of computation
and with some files already written.
"""

from __future__ import annotations

import argparse
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from frt_experiments.calendar import BusinessCalendar

__all__ = [
    "DEFAULT_DESK",
    "add_calendar_options",
    "check_input_file",
    "check_output_dir",
    "check_output_file",
    "desk_calendar",
    "seed",
    "window_end",
    "write_table_set",
]

#: The desk every command assumes when no calendar option is given: the simulator's desk
#: (:func:`frt_experiments.diagnostics.default_calendar`; a test keeps the two equal).
DEFAULT_DESK = ("America/New_York", "Mon-Fri 09:00-17:00", "US")


def seed(text: str) -> int:
    """``argparse`` type of ``--seed``: a non-negative integer (NumPy's seed rule)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"must be a non-negative integer, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be a non-negative integer, got {value}")
    return value


def _existing_ancestor(path: Path) -> Path:
    for parent in path.parents:
        if parent.exists():
            return parent
    return Path(".")  # pragma: no cover - the root always exists


def _check_parents(path: Path, option: str) -> None:
    """Every existing ancestor of ``path`` is a writable directory."""
    ancestor = _existing_ancestor(path)
    if not ancestor.is_dir():
        raise ValueError(f"{option}: cannot write {path}: {ancestor} is a file, not a directory")
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise ValueError(f"{option}: cannot write {path}: directory {ancestor} is not writable")


def check_output_dir(path: Path, option: str) -> None:
    """Raise ``ValueError`` naming ``option`` unless ``path`` is or can become a directory."""
    if path.exists():
        if not path.is_dir():
            raise ValueError(f"{option}: {path} is a file, not a directory")
        if not os.access(path, os.W_OK | os.X_OK):
            raise ValueError(f"{option}: directory {path} is not writable")
        return
    _check_parents(path, option)


def check_output_file(path: Path, option: str) -> None:
    """Raise ``ValueError`` naming ``option`` unless a file can be written at ``path``."""
    if path.is_dir():
        raise ValueError(f"{option}: {path} is a directory, not a file")
    if path.exists():
        if not os.access(path.parent, os.W_OK | os.X_OK):
            raise ValueError(f"{option}: directory {path.parent} is not writable")
        return
    _check_parents(path, option)


def check_not_an_input(path: Path, option: str, inputs: dict[str, Path | None]) -> None:
    """Raise ``ValueError`` naming ``option`` when ``path`` is (symlinks resolved) one of the
    ``inputs`` (option -> path): writing it would overwrite the command's own input."""
    out = path.resolve()
    for name, given in inputs.items():
        if given is not None and given.resolve() == out:
            raise ValueError(f"{option}: {path} is the {name} file; writing it would overwrite "
                             "an input (give another path)")


def check_input_file(path: Path, option: str) -> None:
    """Raise ``ValueError`` naming ``option`` unless ``path`` is a readable, non-empty file."""
    if not path.exists():
        raise ValueError(f"{option}: {path.name}: file not found ({path})")
    if path.is_dir():
        raise ValueError(f"{option}: {path.name}: is a directory, not a file ({path})")
    if path.stat().st_size == 0:
        raise ValueError(f"{option}: {path.name}: file is empty")
    if not os.access(path, os.R_OK):
        raise ValueError(f"{option}: {path.name}: file is not readable ({path})")


def add_calendar_options(p: argparse.ArgumentParser, *, purpose: str) -> None:
    """``--desk-timezone``, ``--hours`` and ``--holidays`` with one default for every command.

    With none of them the desk is :data:`DEFAULT_DESK`; an option left out takes the default
    desk's value, except holidays, which are the default desk's (US) only on its time zone.
    """
    zone, hours, country = DEFAULT_DESK
    p.add_argument("--desk-timezone", metavar="ZONE",
                   help=f"IANA time zone of the desk's opening hours, {purpose} (default "
                   f"{zone}: the default desk, {zone} {hours} with {country} holidays, as in "
                   "every frt command)")
    p.add_argument("--hours", metavar="HOURS",
                   help=f"the desk's opening hours (default '{hours}'; '24/7' for always open)")
    p.add_argument("--holidays", metavar="COUNTRY",
                   help=f"the desk's public holidays, a country code such as {country}, or "
                   f"'none' (default: {country} on the default desk's time zone, none on "
                   "another --desk-timezone)")


def desk_calendar(args: argparse.Namespace) -> tuple[BusinessCalendar, str]:
    """The calendar of ``--desk-timezone/--hours/--holidays`` and a line describing it."""
    from frt_experiments.calendar import BusinessCalendar  # noqa: PLC0415 (heavy imports)
    from frt_experiments.diagnostics import describe_calendar  # noqa: PLC0415

    zone, hours, country = DEFAULT_DESK
    given = [args.desk_timezone, args.hours, args.holidays]
    holidays: str | None = args.holidays
    if holidays is not None and holidays.strip().lower() == "none":
        holidays = None
    elif holidays is None and args.desk_timezone in (None, zone):
        holidays = country
    try:
        cal = BusinessCalendar(args.desk_timezone or zone, hours=args.hours or hours,
                               holidays=holidays)
    except ValueError as exc:
        text = str(exc)
        for arg, option in (("timezone", "--desk-timezone"), ("hours", "--hours"),
                            ("holidays", "--holidays")):
            text = re.sub(rf"^{arg}(/closed_dates)?:", f"{option}:", text)
        raise ValueError(text) from None
    text = describe_calendar(cal)
    if all(g is None for g in given):
        text += " (the default desk; --desk-timezone, --hours and --holidays change it)"
    return cal, text


def window_end(text: str | None) -> Any:
    """``--window-end``: an aware timestamp (``None`` when not given)."""
    import pandas as pd  # noqa: PLC0415 (heavy imports)

    if text is None:
        return None
    try:
        end = pd.Timestamp(text)
    except ValueError:
        raise ValueError(f"--window-end {text!r}: not an ISO 8601 timestamp "
                         "(e.g. 2025-06-01T00:00:00+00:00)") from None
    if end.tzinfo is None:
        raise ValueError(f"--window-end must carry a UTC offset, got {text!r}")
    return end


def write_table_set(out: Path, *, command: str, stem: str, names: tuple[str, ...],
                    table: Any, text: str, markdown_head: str, summary: Any,
                    figure: Any) -> int:
    """Write ``<stem>.csv`` (``table``), ``<stem>.md`` (``markdown_head`` and ``summary`` as a
    Markdown table, numbers to four significant figures) and ``<stem>.png`` (``figure``) as
    one output set, then print ``text`` and what was written; the exit status (0)."""
    import sys  # noqa: PLC0415

    from frt_experiments._document import _markdown_table  # noqa: PLC0415
    from frt_experiments._outputs import output_set  # noqa: PLC0415
    from frt_experiments.schema import write_table  # noqa: PLC0415

    shown = summary.copy()
    num = shown.select_dtypes("number").columns
    shown[num] = shown[num].apply(lambda col: col.map(lambda v: f"{v:.4g}"))
    markdown = markdown_head + _markdown_table(shown) + "\n"
    with output_set(out, command=command, names=names) as outputs:
        write_table(table, outputs.path(f"{stem}.csv"))
        outputs.write_text(f"{stem}.md", markdown)
        figure.savefig(outputs.path(f"{stem}.png"), dpi=120, format="png")
    print(text, file=sys.stdout)
    for note in outputs.notes:
        print(f"note: {note}", file=sys.stdout)
    for path in outputs.written:
        print(f"wrote {path}", file=sys.stdout)
    for path in outputs.removed:
        print(f"removed {path} (an earlier run's, not written by this one)", file=sys.stdout)
    return 0
