"""A malformed row whose bytes are not UTF-8, in a CSV the streaming validator reads: pyarrow
cannot hand such a row to the invalid-row handler (it fails decoding it inside its callback,
an error Python can only report as unraisable); frt validate reads the file whole instead and
answers with one line naming the file (found by tests/test_fuzz_readers.py)."""

from __future__ import annotations

import sys

from frt_experiments.cli import main

ROW = b"C%07d,frt-low-spend,fast,2025-01-06T00:00:00+00:00,0.25\n"


def test_an_undecodable_malformed_row_is_one_line(tmp_path, capsys):
    header = b"\xef\xbf\xbdcustomer_id,experiment,arm,assigned_at,bucket\n"
    huge = b"C0000000,frt-low-spend,fast,2025-01-06T00" + b"9" * 1_100_000 + b",0.2\n"
    data = header + huge + b"".join(ROW % i for i in range(1, 24)) + b"\xff\xfe\x80"
    path = tmp_path / "assignments.csv"
    path.write_bytes(data)
    seen = []
    previous = sys.unraisablehook
    sys.unraisablehook = seen.append
    try:
        status = main(["validate", "--assignments", str(path)])
    finally:
        sys.unraisablehook = previous
    err = capsys.readouterr().err.strip().splitlines()
    assert seen == []
    assert status == 2
    assert len(err) == 1
    assert err[0].startswith("error: assignments.csv")
