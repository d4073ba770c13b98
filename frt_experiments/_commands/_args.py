"""Checks shared by the ``frt`` subcommands, run before any work starts.

A command checks its output locations and its seed up front, so that a mistyped ``--out``
fails in a second with a message naming the option, instead of after minutes of computation
and with some files already written.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

__all__ = ["check_input_file", "check_output_dir", "check_output_file", "seed"]


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
