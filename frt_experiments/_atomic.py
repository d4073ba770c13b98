"""Atomic file output: write to a temporary file beside the target, then rename over it.

A reader (or a crash) never sees a half-written file: either the old file or the new one.
Every writer in the toolkit goes through here. Several files that must change together (the
assignment ledger and its sidecars; a command's outputs, :mod:`frt_experiments._outputs`) are
staged beside their targets and committed through a journal (:func:`files_together`,
:func:`complete_interrupted`), which can also remove files an earlier run left.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import stat
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from frt_experiments._limits import load_json_text

__all__ = ["CommitInterruptedError", "FileSet", "atomic_path", "complete_interrupted",
           "files_together", "sha256_file", "stale_temporaries",
           "write_bytes_atomic", "write_text_atomic"]


@contextmanager
def atomic_path(path: str | os.PathLike[str], *, suffix: str = ".tmp") -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` when the block succeeds.

    The parent directory is created. On any error the temporary file is removed and ``path``
    is left as it was.
    """
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=suffix, dir=p.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        # mkstemp creates the file private (0600); give it the mode an ordinary open() would:
        # the existing file's mode when replacing one, else 0666 less the process umask.
        os.chmod(tmp, _mode_of(p))
        os.replace(tmp, p)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _mode_of(p: Path) -> int:
    try:
        return stat.S_IMODE(p.stat().st_mode)
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def write_bytes_atomic(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically; return the path."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def write_text_atomic(path: str | os.PathLike[str], text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically; return the path."""
    return write_bytes_atomic(path, text.encode("utf-8"))


# ----------------------------------------------------------------------------- files as one unit
class CommitInterruptedError(OSError):
    """A set of files was committed (its journal written) but not every file was renamed into
    place; :func:`complete_interrupted` finishes it."""


def sha256_file(path: Path) -> tuple[int, str]:
    """(size in bytes, SHA-256 hex digest) of a file, read in 1 MiB chunks."""
    h = hashlib.sha256()
    size = 0
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            h.update(chunk)
            size += len(chunk)
    return size, h.hexdigest()


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dirs(paths: Iterable[Path]) -> None:
    """Make renames in these directories durable (where the platform allows it)."""
    if os.name != "posix":  # pragma: no cover - Windows has no directory fsync
        return
    for d in {p.parent for p in paths}:
        try:
            fd = os.open(d, os.O_RDONLY)
        except OSError:  # pragma: no cover
            continue
        try:
            os.fsync(fd)
        except OSError:  # pragma: no cover - some file systems refuse it
            pass
        finally:
            os.close(fd)


class FileSet:
    """New versions of several files, staged beside their targets and made visible together.

    :meth:`stage` gives a temporary file beside each target; :meth:`remove` marks a file to be
    removed by the same commit. :meth:`commit` flushes them, writes a journal naming every
    temporary file, its target, size and SHA-256, and the files to remove (the commit point: an
    atomic rename), renames the files into place in the order staged, removes the marked files,
    and removes the journal.
    A crash before the journal leaves every target as it was (the temporary files are stale and
    can be removed); a crash after it is finished by :func:`complete_interrupted`, so the files
    are seen either all old or all new once the next run has recovered.
    """

    def __init__(self, journal: Path) -> None:
        self.journal = Path(journal)
        self._staged: list[tuple[Path, Path]] = []
        self._removed: list[Path] = []

    def stage(self, target: Path, data: bytes | None = None) -> Path:
        """A temporary file beside ``target`` (holding ``data`` when given) that becomes
        ``target`` on commit."""
        target = Path(target)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
        self._staged.append((target, Path(tmp)))
        try:
            if data is not None:
                with os.fdopen(fd, "wb") as fh:
                    fh.write(data)
            else:
                os.close(fd)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return Path(tmp)

    def remove(self, target: Path) -> None:
        """Remove ``target`` on commit, after the staged files are in place (a file of an
        earlier run that the new set does not include); a missing file is no error."""
        self._removed.append(Path(target))

    def discard(self) -> None:
        """Remove every staged temporary file (the targets are untouched)."""
        for _, tmp in self._staged:
            tmp.unlink(missing_ok=True)
        self._staged = []
        self._removed = []

    def commit(self) -> None:
        """Make every staged file visible (see the class docstring)."""
        if not self._staged and not self._removed:
            return
        entries = []
        for target, tmp in self._staged:
            os.chmod(tmp, _mode_of(target))
            _fsync_file(tmp)
            size, digest = sha256_file(tmp)
            entries.append({"temp": os.path.relpath(tmp, self.journal.parent),
                            "target": os.path.relpath(target, self.journal.parent),
                            "bytes": size, "sha256": digest})
        record: dict[str, object] = {"format": 1, "files": entries}
        if self._removed:
            record["remove"] = [os.path.relpath(t, self.journal.parent) for t in self._removed]
        text = json.dumps(record, indent=2) + "\n"
        fd, jtmp = tempfile.mkstemp(prefix=f".{self.journal.name}.", suffix=".tmp",
                                    dir=self.journal.parent)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(text.encode())
                fh.flush()
                os.fsync(fh.fileno())
            _fsync_dirs([t for t, _ in self._staged])
            os.replace(jtmp, self.journal)          # the commit point
        except BaseException:
            Path(jtmp).unlink(missing_ok=True)
            raise
        try:
            for target, tmp in self._staged:
                os.replace(tmp, target)
            for target in self._removed:
                target.unlink(missing_ok=True)
            _fsync_dirs([self.journal, *(t for t, _ in self._staged), *self._removed])
            self.journal.unlink()
            _fsync_dirs([self.journal])
        except OSError as exc:
            raise CommitInterruptedError(exc.errno, f"{exc.strerror or exc}; {self.journal.name} "
                                    "holds what is needed to complete it") from exc
        finally:
            self._staged = []
            self._removed = []


@contextmanager
def files_together(journal: str | os.PathLike[str]) -> Iterator[FileSet]:
    """Stage files in the block; commit them together when it succeeds, else discard them.

    ``journal`` is the path of the commit record (e.g. ``<main file>.journal``); callers
    serialise updates themselves (a lock) and run :func:`complete_interrupted` first.
    """
    fs = FileSet(Path(journal))
    try:
        yield fs
    except BaseException:
        fs.discard()
        raise
    try:
        fs.commit()
    except CommitInterruptedError:
        raise
    except BaseException:
        fs.discard()
        raise


def complete_interrupted(journal: str | os.PathLike[str]) -> list[Path] | None:
    """Finish a commit that was interrupted after its journal was written.

    Returns the targets (``None`` when there is no journal). Each staged file still present is
    checked against the journal (size and SHA-256) and renamed onto its target; a file already
    renamed must show on its target. Files the journal marks for removal are removed.

    Raises:
        ValueError: The journal is unreadable, or a staged file is neither present nor on its
            target (the commit cannot be completed; nothing is changed then).
    """
    j = Path(journal)
    if not j.exists():
        return None
    try:
        record = load_json_text(j.read_text(encoding="utf-8"), j.name)
        entries = [(j.parent / e["temp"], j.parent / e["target"], int(e["bytes"]),
                    str(e["sha256"])) for e in record["files"]]
        removals = [j.parent / str(name) for name in record.get("remove", [])]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"{j.name}: the record of an interrupted update cannot be read "
                         f"({exc})") from exc
    todo = []
    for tmp, target, size, digest in entries:
        if tmp.exists() and sha256_file(tmp) == (size, digest):
            todo.append((tmp, target))
        elif not (target.exists() and sha256_file(target) == (size, digest)):
            raise ValueError(f"{j.name}: an interrupted update cannot be completed: "
                             f"{tmp.name} is missing or changed and {target.name} does not "
                             "hold its new version")
    for tmp, target in todo:
        os.replace(tmp, target)
    for target in removals:
        target.unlink(missing_ok=True)
    _fsync_dirs([j, *(t for _, t, _, _ in entries), *removals])
    j.unlink()
    _fsync_dirs([j])
    return [t for _, t, _, _ in entries]


_TEMP = re.compile(r"\.[a-z0-9_]{8}\.tmp")


def stale_temporaries(path: str | os.PathLike[str]) -> list[Path]:
    """Temporary files that :func:`atomic_path` or :class:`FileSet` made for ``path`` and a
    killed process left behind (``.<name>.XXXXXXXX.tmp`` beside it)."""
    p = Path(path)
    try:
        names = os.listdir(p.parent)
    except OSError:
        return []
    prefix = f".{p.name}"
    return sorted(p.parent / n for n in names
                  if n.startswith(prefix) and _TEMP.fullmatch(n[len(prefix):]))
