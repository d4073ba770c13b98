"""Atomic writes: the target is replaced whole or not at all."""

from __future__ import annotations

import pytest

from frt_experiments._atomic import atomic_path, write_bytes_atomic, write_text_atomic


def test_writes_create_parents_and_replace_whole(tmp_path):
    target = tmp_path / "a" / "b" / "out.txt"
    assert write_text_atomic(target, "first") == target
    write_text_atomic(target, "second ü")
    assert target.read_text(encoding="utf-8") == "second ü"
    write_bytes_atomic(target, b"\x00\x01")
    assert target.read_bytes() == b"\x00\x01"
    assert sorted(p.name for p in target.parent.iterdir()) == ["out.txt"]


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "out.csv"
    target.write_text("old")

    def fail_half_way() -> None:
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        fail_half_way()
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.csv"]
