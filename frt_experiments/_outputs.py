"""A command's outputs as one set: every file of a run becomes visible together, or none does.

The rule, for every command that writes several files into an output directory (``frt
simulate``, ``frt analyze``, ``frt staffing desk`` and ``plan``; ``frt demo`` and ``frt import``
through the same functions):

1. The run takes an exclusive lock on the directory (an ``flock`` on the directory itself; a
   second run into the same directory waits for the first).
2. It first finishes what a killed earlier run left: an interrupted commit (the journal
   ``.frt-outputs.journal`` is there) is rolled forward, then the temporary files of a run
   killed before its commit are removed.
3. Every file is written to a temporary file beside its target (``.<name>.XXXXXXXX.tmp``), and
   ``manifest.json`` last: each file's name, size and SHA-256, the command and the toolkit's
   version (no time stamp: the same run gives the same bytes).
4. The commit (:class:`frt_experiments._atomic.FileSet`) writes the journal, renames every file
   into place, manifest last, removes the files of the command's own names that this run did
   not write (an earlier run's ``sequential.csv``, the other format's tables), and removes the
   journal. A kill before the journal leaves the old set; a kill after it is completed by the
   next run into the directory, so the directory holds the old set or the new one.

Readers of such a set (``frt validate``, ``frt analyze``, ``frt staffing``, ``frt decide``) call
:func:`check_manifest` with the files they were given: a file that a ``manifest.json`` beside it
(or one directory up) lists but whose size or SHA-256 differs is refused, by name; so is a
directory whose commit was interrupted. A file the manifest does not list is not judged.
Single-file outputs (``frt decide --out``, ``frt power --write-plan``, ``--export-tags``) are
one atomic rename each (:func:`frt_experiments._atomic.atomic_path`).
"""

from __future__ import annotations

import json
import os
import re
import sys
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from frt_experiments._atomic import (
    CommitInterruptedError,
    FileSet,
    complete_interrupted,
    sha256_file,
    stale_temporaries,
)
from frt_experiments._limits import load_json_text
from frt_experiments._version import __version__
from frt_experiments.errors import DataError, Problem

if sys.platform != "win32":
    import fcntl

__all__ = ["JOURNAL", "MANIFEST", "OutputSet", "check_manifest", "output_set",
           "read_manifest", "stage_document"]

#: The manifest of an output set, written last, in the output directory.
MANIFEST = "manifest.json"
#: The commit record of an output set in progress (present only while committing, or after a
#: kill during the commit until the next run into the directory completes it).
JOURNAL = ".frt-outputs.journal"
#: Journals of earlier versions (frt analyze's own), completed in the same way.
_OLD_JOURNALS = (".frt-analyze.journal",)
#: The key that marks a manifest.json as the toolkit's (its format number).
_MARK = "frt_output_set"
DEFAULT_LOCK_TIMEOUT = 300.0


class OutputSet:
    """The files of one run, staged in ``directory`` until they are committed together.

    Made by :func:`output_set`. :meth:`path` gives the temporary file to write a named output
    into; :meth:`write_bytes` and :meth:`write_text` write one directly. Names are paths
    relative to the directory (``"figures/forest.png"``). After the commit, :attr:`written`
    holds the final paths (the manifest last), :attr:`removed` the earlier run's files that were
    removed and :attr:`notes` what was done to finish or clean up after a killed run.
    """

    def __init__(self, directory: Path, command: str, names: Iterable[str], *,
                 manifest: bool = True) -> None:
        self.directory = directory
        self.command = command
        self.names = tuple(names)
        self.manifest = manifest
        self.written: list[Path] = []
        self.removed: list[Path] = []
        self.notes: list[str] = []
        self._files = FileSet(directory / JOURNAL)
        self._staged: dict[str, Path] = {}

    def path(self, name: str) -> Path:
        """A temporary file that becomes ``directory/name`` when the set is committed."""
        name = _name(name)
        if name == MANIFEST:
            raise ValueError(f"{MANIFEST} is written by the output set itself")
        if name in self._staged:
            raise ValueError(f"{name} is already part of this output set")
        tmp = self._files.stage(self.directory / name)
        self._staged[name] = tmp
        return tmp

    def write_bytes(self, name: str, data: bytes) -> Path:
        """Stage ``data`` as ``name``; return the file's final path."""
        self.path(name).write_bytes(data)
        return self.directory / _name(name)

    def write_text(self, name: str, text: str) -> Path:
        """Stage ``text`` (UTF-8) as ``name``; return the file's final path."""
        return self.write_bytes(name, text.encode("utf-8"))

    def final(self, name: str) -> Path:
        """Where ``name`` will be once committed."""
        return self.directory / _name(name)

    def _commit(self) -> None:
        files = []
        for name in sorted(self._staged):
            size, digest = sha256_file(self._staged[name])
            files.append({"name": name, "bytes": size, "sha256": digest})
        if self.manifest:
            # "outputs": every name the command may write, so a file of such a name that the
            # set does not list (another run's) is refused too
            record = {_MARK: 1, "command": self.command, "version": __version__, "files": files,
                      "outputs": sorted(self.names)}
            self._files.stage(self.directory / MANIFEST,
                              (json.dumps(record, indent=2, sort_keys=True) + "\n").encode())
        stale = [self.directory / n for n in self.names if n not in self._staged
                 and ((self.directory / n).is_file() or (self.directory / n).is_symlink())]
        if not self.manifest and _ours(self.directory):
            # an earlier run's manifest goes with its files; it does not vouch for these
            stale.append(self.directory / MANIFEST)
        for target in stale:
            self._files.remove(target)
        self._files.commit()
        self.written = [self.directory / n for n in self._staged]
        if self.manifest:
            self.written.append(self.directory / MANIFEST)
        self.removed = stale

    def _discard(self) -> None:
        self._files.discard()
        self._staged = {}


def _ours(directory: Path) -> bool:
    """Whether ``directory`` holds a manifest.json of the toolkit's (readable or not)."""
    try:
        return read_manifest(directory) is not None
    except ValueError:
        return True


def _name(name: str) -> str:
    p = Path(name)
    if p.is_absolute() or ".." in p.parts or not p.parts:
        raise ValueError(f"an output name is a path inside the output directory, got {name!r}")
    return p.as_posix()


@contextmanager
def output_set(directory: str | os.PathLike[str], *, command: str, names: Iterable[str],
               manifest: bool = True,
               lock_timeout: float = DEFAULT_LOCK_TIMEOUT) -> Iterator[OutputSet]:
    """Write a command's outputs into ``directory`` as one set (see the module docstring).

    Args:
        directory: The output directory (created if missing).
        command: What wrote the set, recorded in the manifest (``"frt simulate"``).
        names: Every name the command may write; those this run does not write are removed
            from the directory by the same commit. Other files are not touched.
        manifest: Write ``manifest.json`` (the commands do; the Python writers, whose tables
            are often adjusted by hand afterwards, do not). Either way an earlier
            ``manifest.json`` does not outlive the files it describes.
        lock_timeout: Seconds to wait for another run into the same directory.

    The block stages the files; when it succeeds they are committed together, when it raises
    they are discarded and the directory is as it was.

    Raises:
        OSError: The directory cannot be locked, or the set cannot be committed (nothing is
            changed then; an interrupted commit is completed by the next run).
    """
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    names = tuple(_name(n) for n in names)
    with _directory_lock(d, shared=False, timeout=lock_timeout):
        out = OutputSet(d, command, names, manifest=manifest)
        out.notes = recover(d, names)
        try:
            yield out
        except BaseException:
            out._discard()
            raise
        try:
            out._commit()
        except CommitInterruptedError as exc:
            raise OSError(exc.errno, f"{d}: the outputs were committed but not all put in "
                          f"place ({exc.strerror}); the next run into {d} completes it") from exc
        except BaseException:
            out._discard()
            raise


def recover(directory: Path, names: Iterable[str] = ()) -> list[str]:
    """Finish or clean up after a run killed while writing into ``directory``; call under the
    directory's lock. Returns notes saying what was done.

    An interrupted commit (its journal is there) is rolled forward: every new file was written
    before the journal, so the set becomes the new one. One that cannot be completed (a
    temporary file was deleted by hand) is abandoned: its journal and temporary files are
    removed and the manifest refuses the mixed files until a run rewrites them. Then the
    temporary files of ``names``, the manifest and the journal that a killed run left are
    removed.
    """
    notes = []
    for journal in (directory / JOURNAL, *(directory / j for j in _OLD_JOURNALS)):
        try:
            done = complete_interrupted(journal)
        except (ValueError, OSError) as exc:
            notes.append(f"{directory}: an interrupted run's outputs could not be completed "
                         f"({exc}); they are replaced by this run's")
            _abandon(journal)
            continue
        if done is not None:
            notes.append(f"{directory}: completed the outputs an interrupted run had committed "
                         f"({', '.join(sorted(p.name for p in done))})")
    stale = [t for n in (*names, MANIFEST, JOURNAL, *_OLD_JOURNALS)
             for t in _temporaries(directory / n)]
    for tmp in stale:
        tmp.unlink(missing_ok=True)
    if stale:
        notes.append(f"{directory}: removed {len(stale)} temporary "
                     f"{'file' if len(stale) == 1 else 'files'} an interrupted run left")
    return notes


_TEMPS = re.compile(r"(\.[a-z0-9_]{8}\.tmp)+")


def _temporaries(path: Path) -> list[Path]:
    """Temporary files a killed run left for ``path``: ``.<name>.XXXXXXXX.tmp``
    (:func:`frt_experiments._atomic.stale_temporaries`) and the temporary of such a staged
    file that an atomic writer (``schema.write_table``) made while writing it,
    ``..<name>.XXXXXXXX.tmp.YYYYYYYY.tmp``."""
    try:
        entries = os.listdir(path.parent)
    except OSError:
        return []
    found = set(stale_temporaries(path))
    for n in entries:
        rest = n.lstrip(".")
        if n != rest and rest.startswith(path.name) \
                and _TEMPS.fullmatch(rest[len(path.name):]):
            found.add(path.parent / n)
    return sorted(found)


def _abandon(journal: Path) -> None:
    try:
        record = load_json_text(journal.read_text(encoding="utf-8"), journal.name)
        temps = [journal.parent / str(e["temp"]) for e in record["files"]]
    except (OSError, ValueError, KeyError, TypeError):
        temps = []
    for tmp in temps:
        if tmp.name.endswith(".tmp"):
            tmp.unlink(missing_ok=True)
    journal.unlink(missing_ok=True)


@contextmanager
def _directory_lock(d: Path, *, shared: bool, timeout: float) -> Iterator[None]:
    """An ``flock`` on the directory itself (no lock file is left); a no-op where directories
    cannot be opened or locked (Windows, some network file systems)."""
    if sys.platform == "win32":  # pragma: no cover
        yield
        return
    try:
        fd = os.open(d, os.O_RDONLY)
    except OSError:
        yield
        return
    try:
        deadline = time.monotonic() + timeout
        delay = 0.005
        mode = fcntl.LOCK_SH if shared else fcntl.LOCK_EX
        while True:
            try:
                fcntl.flock(fd, mode | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise OSError(f"{d}: another frt run is writing into this directory; gave "
                                  f"up after waiting {timeout:g} s") from None
                time.sleep(min(delay, left))
                delay = min(delay * 2, 0.2)
            except OSError:  # pragma: no cover - a file system without flock
                break
        yield
    finally:
        os.close(fd)


# ------------------------------------------------------------------------------------ readers
def read_manifest(directory: str | os.PathLike[str]) -> dict[str, Any] | None:
    """The toolkit's ``manifest.json`` in ``directory``: ``None`` when there is none (or the
    file of that name is not the toolkit's).

    Raises:
        ValueError: The manifest is the toolkit's but cannot be read (naming it).
    """
    path = Path(directory) / MANIFEST
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"{MANIFEST}: cannot be read ({exc})") from None
    try:
        record = load_json_text(text, MANIFEST)
        ok = isinstance(record, dict) and _MARK in record
        files = {str(e["name"]): (int(e["bytes"]), str(e["sha256"]))
                 for e in record["files"]} if ok else {}
        outputs = {str(n) for n in record.get("outputs", [])} if ok else set()
    except (ValueError, KeyError, TypeError) as exc:
        if _MARK in text:
            raise ValueError(f"{MANIFEST}: cannot be read ({exc}); delete it and run the "
                             "command that wrote the directory again") from None
        return None
    if not ok:
        return None
    return {**record, "files": files, "outputs": outputs}


def require_manifest(paths: Iterable[str | os.PathLike[str] | None]) -> None:
    """:func:`check_manifest` for a command that reads the files: its problems raised.

    Raises:
        DataError: A file is not the set its manifest lists, naming it.
    """
    problems = check_manifest(paths)
    if problems:
        raise DataError(problems)


def check_manifest(paths: Iterable[str | os.PathLike[str] | None]) -> list[Problem]:
    """Problems of files that belong to an output set but not to the one its manifest lists.

    For each existing file, the toolkit's ``manifest.json`` in its directory (or, when there
    is none, one directory up listing ``<dir>/<name>``) is consulted: a listed file whose size
    or SHA-256 differs is a problem naming the file (it was changed after the run, or copied in
    from another run); a directory whose commit was interrupted (its journal is there) is a
    problem too, and so is a file named like one of the writing command's outputs that the
    manifest does not list (a ``conversations.parquet`` copied beside a CSV set). Other files
    no manifest lists, and missing files, are left to the readers.
    """
    problems: list[Problem] = []
    manifests: dict[Path, dict[str, Any] | None] = {}
    for raw in paths:
        if raw is None:
            continue
        path = Path(raw)
        if not path.is_file():
            continue
        found = _manifest_of(path, manifests, problems)
        if found is None:
            continue
        d, rel, record = found
        label = path.name
        if record["interrupted"]:
            problems.append(Problem(label, None, (
                f"the {record.get('command', 'frt')} run that wrote {d} was interrupted while "
                f"putting its files in place ({JOURNAL} is there); run {record.get('command')} "
                "again into that directory (it completes the interrupted run first)")))
            continue
        if rel not in record["files"]:  # one of the command's names, not in this set
            problems.append(Problem(label, None, (
                f"is not in the set {record.get('command', 'frt')} wrote into {d} (its "
                f"{MANIFEST} does not list {rel}, one of the names that command writes): it "
                f"comes from another run. Run {record.get('command', 'the command')} again, "
                f"or delete {MANIFEST} if the file is meant to be used with these")))
            continue
        size, digest = record["files"][rel]
        actual_size = path.stat().st_size
        if actual_size == size:
            actual_size, actual = sha256_file(path)
            if actual == digest:
                continue
        else:
            actual = None
        has = f"{actual_size:,} bytes" + (f", SHA-256 {actual[:12]}..." if actual else "")
        problems.append(Problem(label, None, (
            f"does not match the set {record.get('command', 'frt')} wrote into {d} (its "
            f"{MANIFEST} lists {rel} with {size:,} bytes, SHA-256 {digest[:12]}...; the file "
            f"has {has}): it was changed after that run or comes from another run. Run "
            f"{record.get('command', 'the command')} again, or delete {MANIFEST} if the change "
            "is intended")))
    return problems


def _manifest_of(path: Path, cache: dict[Path, dict[str, Any] | None],
                 problems: list[Problem]) -> tuple[Path, str, dict[str, Any]] | None:
    """(directory, name in its manifest, manifest) of the set ``path`` belongs to, or None."""
    here = path.resolve().parent
    for d in (here, here.parent):
        if d not in cache:
            with _directory_lock(d, shared=True, timeout=DEFAULT_LOCK_TIMEOUT):
                try:
                    record = read_manifest(d)
                    if record is not None:  # read under the lock: no run is committing now
                        record["interrupted"] = (d / JOURNAL).exists()
                    cache[d] = record
                except ValueError as exc:
                    problems.append(Problem(path.name, None, f"{d}/{exc}"))
                    cache[d] = None
                    return None
        record = cache[d]
        rel = path.resolve().relative_to(d).as_posix()
        if record is not None:
            return (d, rel, record) if rel in record["files"] or rel in record["outputs"] \
                else None
    return None


def stage_document(outputs: OutputSet, doc: Any, *, stem: str = "report") -> dict[str, Path]:
    """Stage a report (:class:`frt_experiments._document.Document`) into ``outputs``:
    ``<stem>.html``, ``<stem>.md`` and its figures under ``figures/``, as ``Document.write``
    writes them. Returns the final paths of the HTML and Markdown files."""
    paths = {"html": outputs.write_text(f"{stem}.html", doc.to_html()),
             "markdown": outputs.write_text(f"{stem}.md", doc.to_markdown("figures"))}
    for _, blocks in doc.sections:
        for b in blocks:
            if b.kind == "figure":
                outputs.write_bytes(f"figures/{b.name}.png", bytes(b.content))
    return paths
