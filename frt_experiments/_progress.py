"""Progress on stderr: a live bar on a terminal, a plain log anywhere else.

A bar redraws itself with carriage returns; written into a file (``frt demo 2> run.log``, a CI
job, a cron mail) every redraw becomes a frame of the log. :func:`progress_bar` therefore
chooses by where the progress goes:

- a terminal: tqdm's text bar;
- a Jupyter kernel with widgets installed: tqdm's notebook bar;
- anything else: :class:`PlainProgress`, whole lines and few of them -- one when the work
  starts, one at each quarter of it (at most one every ``every`` seconds in between when the
  steps are long) and one when it is done, never a carriage return.
"""

from __future__ import annotations

import importlib.util
import sys
import time
from collections.abc import Callable
from typing import Any, Protocol, TextIO

__all__ = ["PlainProgress", "Progress", "progress_bar"]


class Progress(Protocol):
    """What the long computations call: tqdm's bar and :class:`PlainProgress` both fit."""

    def update(self, n: int = 1) -> Any: ...

    def set_description(self, desc: str | None = None) -> Any: ...

    def close(self) -> Any: ...


class PlainProgress:
    """Progress as whole lines for a log: ``<desc>: <n>/<total> <unit>s, <elapsed> s``.

    A line when the work starts, a line each time a new quarter of ``total`` is reached (or,
    between quarters, when ``every`` seconds have passed since the last line), and one line
    when :meth:`close` finds the work complete. Work stopped before its end (an error, Ctrl-C)
    writes no closing line: the command's own message says what happened. At most
    ``2 + steps + elapsed / every`` lines in all.
    """

    def __init__(self, total: int, *, desc: str, unit: str = "step", file: TextIO | None = None,
                 every: float = 10.0, steps: int = 4,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if total < 1 or steps < 1 or not every > 0:
            raise ValueError(f"PlainProgress: total and steps must be at least 1 and every > 0, "
                             f"got total={total!r}, steps={steps!r}, every={every!r}")
        self.total, self.n, self.desc, self.unit = total, 0, desc, unit
        self._name = desc  # the start and done lines name the work, not its last stage
        self._file, self._every, self._steps, self._clock = file, every, steps, clock
        self._start = self._last = clock()
        self._step = 0
        self._closed = False
        self._write(f"{desc}: started, {total} {self._units(total)}")

    def update(self, n: int = 1) -> None:
        self.n += n
        now = self._clock()
        step = min(self._steps, self.n * self._steps // self.total)
        if self.n < self.total and (step > self._step or now - self._last >= self._every):
            self._write(f"{self.desc}: {self.n}/{self.total} {self._units(self.total)}, "
                        f"{now - self._start:.0f} s")
        self._step = max(self._step, step)

    def set_description(self, desc: str | None = None) -> None:
        """The current stage's name, shown on the next line (no line of its own)."""
        self.desc = desc or ""

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self.n >= self.total:
            self._write(f"{self._name}: done, {self.n}/{self.total} {self._units(self.total)} "
                        f"in {self._clock() - self._start:.1f} s")

    def _units(self, count: int) -> str:
        return self.unit if count == 1 else f"{self.unit}s"

    def _write(self, line: str) -> None:
        self._last = self._clock()
        stream = sys.stderr if self._file is None else self._file
        print(line, file=stream, flush=True)


class _Silent:
    """No progress (``progress=False``, ``--no-progress``)."""

    def update(self, n: int = 1) -> None:
        pass

    def set_description(self, desc: str | None = None) -> None:
        pass

    def close(self) -> None:
        pass


def progress_bar(*, total: int, desc: str, unit: str = "step", enabled: bool = True,
                 file: TextIO | None = None, bar_format: str | None = None) -> Progress:
    """The progress display for ``total`` steps on ``file`` (default: ``sys.stderr``).

    A tqdm bar on a terminal (``bar_format`` is tqdm's), tqdm's notebook bar in a Jupyter kernel
    with ``ipywidgets`` (``tqdm.auto`` warns in a kernel without them), a
    :class:`PlainProgress` log elsewhere, nothing when ``enabled`` is false.
    """
    if not enabled:
        return _Silent()
    stream = sys.stderr if file is None else file
    if _in_notebook_with_widgets():
        from tqdm.auto import tqdm as auto_tqdm  # noqa: PLC0415 (only in a kernel)

        bar: Progress = auto_tqdm(total=total, desc=desc, unit=unit, bar_format=bar_format)
        return bar
    if _is_terminal(stream):
        from tqdm import tqdm  # noqa: PLC0415 (only on a terminal)

        return tqdm(total=total, desc=desc, unit=unit, file=stream, bar_format=bar_format)
    return PlainProgress(total, desc=desc, unit=unit, file=stream)


def _is_terminal(stream: TextIO) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):  # a closed or detached stream
        return False


def _in_notebook_with_widgets() -> bool:
    return "ipykernel" in sys.modules and importlib.util.find_spec("ipywidgets") is not None
