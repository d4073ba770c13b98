"""The ``frt`` command: a thin layer that parses arguments and calls the public functions.

Each subcommand lives in ``frt_experiments/_commands/<name>.py`` and exposes
``register(subparsers)``, which adds its parser and sets ``func(args) -> int``.

User errors (bad files, bad arguments, invalid data) are printed on stderr, one line per
problem, and the command exits with status 2, without a traceback. Warnings are printed as
``warning: ...`` lines. An unexpected internal error prints one line and exits 1; set
``FRT_DEBUG=1`` to see its traceback. Ctrl-C at any moment (while parsing, importing or
running) prints ``frt: interrupted`` and exits with status 130. Deprecation notices of the
libraries underneath (``DeprecationWarning``, ``PendingDeprecationWarning`` and
``FutureWarning`` not raised by the toolkit itself) concern the code, not the user's data:
they are shown only with ``FRT_DEBUG=1``.

The parsers are built without importing pandas, SciPy, statsmodels, Matplotlib, DuckDB or Ibis
(each command imports what it runs on inside its ``run``), so ``frt --version``, ``--help`` and
an argument error answer at once; tests/test_cli_startup.py guards it.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import warnings
from collections.abc import Sequence

from frt_experiments._version import __version__
from frt_experiments.errors import DataError, FrtError, FrtWarning

__all__ = ["main", "run"]

#: Subcommand modules, in the order ``frt --help`` lists them.
COMMANDS: tuple[str, ...] = ("demo", "validate", "power", "simulate", "import_", "assign",
                              "analyze", "dose_response", "decide", "staffing", "rollout",
                              "target")


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line and exit status 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise _UsageError(f"{self.prog}: {message}")


class _UsageError(Exception):
    pass


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="frt",
        description="Design, simulate, analyse and price first-response-time experiments.",
    )
    parser.add_argument("--version", action="version", version=f"frt {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name in COMMANDS:
        module = importlib.import_module(f"frt_experiments._commands.{name}")
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``frt`` with ``argv`` (default ``sys.argv[1:]``); return the exit status.

    Ctrl-C anywhere (building the parser, importing a command's libraries, running it) is one
    line on stderr, ``frt: interrupted``, and status 130 (128 + SIGINT, as a shell reports it);
    with ``FRT_DEBUG=1`` the interrupt's traceback shows where it stopped (e.g. a hang).
    """
    try:
        return _main(argv)
    except KeyboardInterrupt:
        if _debug():
            raise
        return _interrupted()


def _interrupted() -> int:
    print("frt: interrupted", file=sys.stderr)
    return INTERRUPTED


#: The exit status after Ctrl-C: 128 + SIGINT, as a shell reports a process it interrupted.
INTERRUPTED = 130


def _main(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(list(argv) if argv is not None else None)
    except _UsageError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    if getattr(args, "func", None) is None:
        parser.print_help()
        return 0
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            status = int(args.func(args))
        except DataError as exc:
            _print_warnings(caught)
            for problem in exc.problems:
                print(f"error: {problem}", file=sys.stderr)
            return 2
        except (FrtError, ValueError, TypeError, OSError, KeyError) as exc:
            _print_warnings(caught)
            if _debug():
                raise
            print(f"error: {_one_line(exc)}", file=sys.stderr)
            return 2
        except MemoryError as exc:  # incl. pyarrow's ArrowMemoryError: inputs too large here
            _print_warnings(caught)
            if _debug():
                raise
            detail = _one_line(exc) if str(exc) else "MemoryError"
            print(f"error: out of memory ({detail}): the inputs are too large for this "
                  "machine's memory; frt validate checks tables of any size in bounded memory, "
                  "the other commands need the tables in memory", file=sys.stderr)
            return 2
        except Exception as exc:
            if _debug():
                raise
            print(f"internal error: {type(exc).__name__}: {_one_line(exc)} "
                  "(set FRT_DEBUG=1 for a traceback and please report it)", file=sys.stderr)
            return 1
    _print_warnings(caught)
    return status


def _one_line(exc: BaseException) -> str:
    text = str(exc.args[0]) if isinstance(exc, KeyError) and exc.args else str(exc)
    return " ".join(text.split()) or type(exc).__name__


#: Warning categories that speak to developers, not users: shown only in debug mode.
_DEVELOPER_WARNINGS = (DeprecationWarning, PendingDeprecationWarning, FutureWarning)


def _debug() -> bool:
    """Debug mode: ``FRT_DEBUG`` set to anything but empty or ``0``."""
    return os.environ.get("FRT_DEBUG", "").strip() not in ("", "0")


def _print_warnings(caught: list[warnings.WarningMessage]) -> None:
    seen: set[str] = set()
    debug = _debug()
    for w in caught:
        developer = (issubclass(w.category, _DEVELOPER_WARNINGS)
                     and not issubclass(w.category, FrtWarning))
        if developer and not debug:
            continue
        line = _one_line(Exception(str(w.message)))
        if developer:
            line += f" ({w.category.__name__} at {w.filename}:{w.lineno})"
        if line not in seen:
            seen.add(line)
            print(f"warning: {line}", file=sys.stderr)


def run() -> None:
    """Console-script entry point (``frt`` in pyproject's [project.scripts]): exits with
    :func:`main`'s status; a second Ctrl-C while the first is reported exits 130 quietly."""
    try:
        status = main()
    except KeyboardInterrupt:
        if _debug():
            raise
        status = INTERRUPTED
    sys.exit(status)


if __name__ == "__main__":  # pragma: no cover
    run()
