"""The ledger files: design record, sidecars, byte-preserving appends, refusals."""

from __future__ import annotations

import errno
import hashlib
import json
import os

import numpy as np
import pandas as pd
import pytest

from frt_experiments import schema
from frt_experiments._atomic import FileSet
from frt_experiments.errors import FrtWarning, LedgerError
from frt_experiments.ledger import (
    REASON,
    design_record,
    journal_file,
    ledger_lock,
    read_ledger,
    sidecars,
    verify_ledger,
    write_ledger,
)

RULE = {"max_spend": 100.0, "spend_quantile": None, "include_segments": None,
        "exclude_segments": None, "spend_ceiling": 100.0}


def _rows(ids, experiment="exp", ts="2026-01-05T09:00:00Z"):
    n = len(ids)
    return pd.DataFrame({
        schema.CUSTOMER_ID: pd.Series(ids, dtype="string"),
        schema.EXPERIMENT: pd.Series([experiment] * n, dtype="string"),
        schema.ARM: pd.Series(["fast", "one_business_day"] * (n // 2) + ["fast"] * (n % 2),
                              dtype="string"),
        schema.ASSIGNED_AT: pd.Series(pd.Timestamp(ts), index=range(n)),
        schema.BUCKET: np.linspace(0.1, 0.9, n),
    })


def _excluded(ids):
    return pd.DataFrame({schema.CUSTOMER_ID: ids, REASON: "spend above ceiling"}).astype("string")


def _meta(**change):
    return design_record(change.pop("experiment", "exp"), change.pop("salt", "salt"),
                         ("fast", "one_business_day"), np.array([0.5, 0.5]), dict(RULE))


def test_design_record_fingerprints_the_salt():
    meta = _meta()
    assert meta["salt_sha256"] == hashlib.sha256(b"salt").hexdigest()
    assert "salt" not in json.dumps(meta).replace("salt_sha256", "")
    with pytest.raises(ValueError, match="salt must be a non-empty string"):
        design_record("exp", "", ("a", "b"), np.array([0.5, 0.5]), dict(RULE))


def test_write_then_append_keeps_old_bytes_even_without_final_newline(tmp_path):
    path = tmp_path / "ledger.csv"
    write_ledger(path, _rows(["a", "b"]), _excluded(["z"]), _meta(), append=False)
    meta_path, excl_path = sidecars(path)
    assert meta_path.name == "ledger.csv.meta.json"
    assert excl_path.name == "ledger.csv.excluded.csv"
    # Someone opened the ledger in an editor that dropped the final newline.
    text = path.read_bytes().rstrip(b"\n")
    path.write_bytes(text)
    write_ledger(path, _rows(["c"], ts="2026-02-01T00:00:00Z"), _excluded(["y"]), _meta(),
                 append=True)
    data = path.read_bytes()
    assert data.startswith(text + b"\n")
    assert data.endswith(b"c,exp,fast,2026-02-01T00:00:00+00:00,0.1\n")
    rows, excluded, record = read_ledger(path, _meta())
    assert rows[schema.CUSTOMER_ID].tolist() == ["a", "b", "c"]
    assert excluded[schema.CUSTOMER_ID].tolist() == ["z", "y"]
    assert record is not None
    assert record["eligibility"]["spend_ceiling"] == 100.0


def test_csv_ledger_is_what_write_table_writes(tmp_path):
    rows = _rows(["a", "b", "c"])
    write_ledger(tmp_path / "l.csv", rows, _excluded([]), _meta(), append=False)
    schema.write_table(rows, tmp_path / "w.csv")
    assert (tmp_path / "l.csv").read_bytes() == (tmp_path / "w.csv").read_bytes()


def test_read_ledger_refusals(tmp_path):
    path = tmp_path / "ledger.csv"
    assert read_ledger(path, _meta()) is None
    write_ledger(path, _rows(["a", "b"]), _excluded([]), _meta(), append=False)
    with pytest.raises(LedgerError, match="salt differs"):
        read_ledger(path, _meta(salt="pepper"))
    sidecars(path)[0].write_text("{not json", encoding="utf-8")
    with pytest.raises(LedgerError, match=r"ledger.csv.meta.json: cannot be read"):
        read_ledger(path, _meta())
    sidecars(path)[0].unlink()
    _, _, record = read_ledger(path, _meta())
    assert record is None   # no meta: the caller checks the rows against the salt
    other = tmp_path / "other.csv"
    write_ledger(other, _rows(["a"], experiment="old"), _excluded([]), _meta(), append=False)
    with pytest.raises(LedgerError, match="holds experiment 'old', not 'exp'"):
        read_ledger(other, _meta())
    stratified = _rows(["a", "b"]).assign(**{schema.BUCKET: np.nan})
    schema.write_table(stratified, tmp_path / "strat.csv")
    with pytest.raises(LedgerError, match="rows without a bucket"):
        read_ledger(tmp_path / "strat.csv", _meta())


# ----------------------------------------------------------------------------- integrity
# Ledgers made by assign(): the integrity record, tampering, old ledgers, symlinks, failures.
SALT = "s"
T0 = "2026-01-05T09:00:00Z"


def _cust(n, start=0):
    num = np.arange(start, start + n)
    return pd.DataFrame({schema.CUSTOMER_ID: [f"C{i:05d}" for i in num],
                         schema.MONTHLY_SPEND: np.round(20 + (num * 37 % 100), 2)})


def _assign(ledger, n=300, **kw):
    import warnings

    from frt_experiments.assignment import assign

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FrtWarning)   # chance imbalance of a small sample
        return assign(_cust(n), experiment="exp", salt=kw.pop("salt", SALT), max_spend=60,
                      assigned_at=kw.pop("assigned_at", T0), ledger=ledger, **kw)


def _files(ledger):
    return {p.name: p.read_bytes() for p in [ledger, *sidecars(ledger)] if p.exists()}


def _lines(path):
    return path.read_text(encoding="utf-8").splitlines(keepends=True)


def _edit_line(path, number, edit):
    lines = _lines(path)
    lines[number - 1] = edit(lines[number - 1])
    path.write_text("".join(lines), encoding="utf-8")


def _flip_arm(line):
    a, b = "fast", "one_business_day"
    return line.replace(f",{a},", f",{b},") if f",{a}," in line else line.replace(f",{b},",
                                                                               f",{a},")


def test_meta_carries_an_integrity_record_of_both_files(tmp_path):
    ledger = tmp_path / "ledger.csv"
    r = _assign(ledger)
    meta = json.loads(sidecars(ledger)[0].read_text())
    rec = meta["integrity"]
    assert rec["ledger"]["rows"] == len(r.assignments)
    assert rec["ledger"]["sha256"] == hashlib.sha256(ledger.read_bytes()).hexdigest()
    assert rec["ledger"]["lines"] == len(r.assignments) + 1
    assert rec["ledger"]["block_lines"] == 16
    assert len(rec["ledger"]["block_sha256"]) == -(-(len(r.assignments) + 1) // 16)
    excl = sidecars(ledger)[1]
    assert rec["excluded"]["rows"] == len(r.excluded)
    assert rec["excluded"]["sha256"] == hashlib.sha256(excl.read_bytes()).hexdigest()
    assert meta["salt_sha256"] == hashlib.sha256(SALT.encode()).hexdigest()
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "ledger.csv", "ledger.csv.excluded.csv", "ledger.csv.lock", "ledger.csv.meta.json"]
    assert verify_ledger(ledger, salt=SALT).summary().startswith(
        f"ok: ledger.csv: {len(r.assignments):,} customers assigned in experiment 'exp'")


def _forge(path):
    # a line made with another salt, arm consistent with it: only the salt can tell
    from frt_experiments.assignment import arms_from_buckets, hash_buckets

    b = hash_buckets(["Z1"], "other")
    arm = arms_from_buckets(b, ("fast", "one_business_day"), (0.5, 0.5))[0]
    with path.open("a", encoding="utf-8") as fh:
        fh.write(f"Z1,exp,{arm},2026-01-05T09:00:00+00:00,{float(b[0])!r}\n")


def _cut_bucket(line):
    head, bucket = line.rstrip("\n").rsplit(",", 1)
    return f"{head},{bucket[:6]}\n"


def _delete_line(path, number):
    lines = _lines(path)
    del lines[number - 1]
    path.write_text("".join(lines), encoding="utf-8")


TAMPER = [
    ("changed-arm", lambda L: _edit_line(L, 5, _flip_arm),
     r"ledger.csv: was changed after frt wrote it \(it does not match the integrity record in "
     r"ledger.csv.meta.json\): line 5: 1 stored arm differs from the arm of its bucket"),
    ("forged-line", _forge,
     r"ledger.csv: was changed .*: line 125: 1 stored bucket is not the hash of its "
     r"customer_id with this salt"),
    ("cut-bucket", lambda L: _edit_line(L, 7, _cut_bucket),
     r"ledger.csv: was changed .*: line 7: 1 stored bucket is not the hash"),
    ("deleted-line", lambda L: _delete_line(L, 20),
     r"ledger.csv: was changed .*: 122 rows, not the 123 committed; the first difference is "
     r"in lines 17-32 \(a line deleted, inserted or changed there\)"),
    ("deleted-last-line", lambda L: _delete_line(L, 124),
     r"ledger.csv: was changed .*: 122 rows, not the 123 committed; the first difference is "
     r"in lines 113-124"),
    ("cut-file", lambda L: L.write_bytes(b"".join(L.read_bytes().splitlines(True)[:64])),
     r"ledger.csv: was changed .*: 63 rows, not the 123 committed; the file ends after line "
     r"64 \(lines 65-124 gone\)"),
    ("changed-time", lambda L: _edit_line(L, 40, lambda s: s.replace("09:00:00", "10:00:00")),
     r"ledger.csv: was changed .*: the first difference is in lines 33-48 \(a line changed"),
    ("deleted-excluded", lambda L: sidecars(L)[1].unlink(),
     r"ledger.csv.excluded.csv: is missing, but ledger.csv.meta.json records it with 177 "
     r"rows; restore it from a backup"),
    ("deleted-excluded-line", lambda L: _delete_line(sidecars(L)[1], 50),
     r"ledger.csv.excluded.csv: was changed after frt wrote it .*: 176 rows, not the 177 "
     r"committed; the first difference is in lines 49-64"),
    ("deleted-ledger", lambda L: L.unlink(),
     r"ledger.csv: is missing, but ledger.csv.meta.json records a ledger of 123 rows"),
]


@pytest.mark.parametrize(("edit", "message"), [t[1:] for t in TAMPER],
                         ids=[t[0] for t in TAMPER])
def test_every_edit_is_an_error_naming_file_and_line(tmp_path, edit, message):
    ledger = tmp_path / "ledger.csv"
    r = _assign(ledger)
    assert (len(r.assignments), len(r.excluded)) == (123, 177)
    edit(ledger)
    before = _files(ledger)
    with pytest.raises(LedgerError, match=message):
        _assign(ledger, n=400)                    # a run with newcomers refuses
    assert _files(ledger) == before               # and changes nothing
    if ledger.exists():
        with pytest.raises(LedgerError, match=message):
            verify_ledger(ledger, salt=SALT)


def test_an_editor_dropping_the_final_newline_is_not_tampering(tmp_path):
    ledger = tmp_path / "ledger.csv"
    _assign(ledger, n=100)
    ledger.write_bytes(ledger.read_bytes().rstrip(b"\n"))
    assert verify_ledger(ledger, salt=SALT).integrity
    r = _assign(ledger, n=200)
    assert r.n_new > 0
    assert verify_ledger(ledger, salt=SALT).rows == len(r.assignments)


def test_parquet_ledger_integrity(tmp_path):
    ledger = tmp_path / "ledger.parquet"
    _assign(ledger, n=100)
    assert verify_ledger(ledger, salt=SALT).integrity
    table = pd.read_parquet(ledger)
    table.loc[3, schema.ARM] = ("fast" if table.loc[3, schema.ARM] != "fast"
                                else "one_business_day")
    table.to_parquet(ledger, index=False)
    with pytest.raises(LedgerError, match=r"ledger.parquet: was changed .*: row 3: 1 stored "
                                          r"arm differs"):
        _assign(ledger, n=200)


def _as_earlier_version(ledger):
    """What the previous version left: a meta file without an integrity record."""
    meta_path = sidecars(ledger)[0]
    meta = json.loads(meta_path.read_text())
    del meta["integrity"]
    meta_path.write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")


def test_ledger_of_an_earlier_version_is_checked_by_salt_and_gets_its_record(tmp_path):
    ledger = tmp_path / "ledger.csv"
    _assign(ledger, n=200)
    _as_earlier_version(ledger)
    check = verify_ledger(ledger, salt=SALT)
    assert not check.integrity
    assert "no integrity record" in check.summary()
    assert "has no integrity record" in check.notes[0]
    # an edited arm is still found, by recomputing every row from the salt
    good = ledger.read_bytes()
    _edit_line(ledger, 4, _flip_arm)
    with pytest.raises(LedgerError, match=r"ledger.csv: line 4: 1 stored arm differs"):
        _assign(ledger, n=300)
    ledger.write_bytes(good)
    r = _assign(ledger, n=300)
    assert r.n_new > 0
    assert r.notes == ("ledger.csv: ledger.csv.meta.json has no integrity record (a ledger of "
                       "an earlier version): every bucket and arm was checked against the "
                       "salt, and the integrity record is added now",)
    assert verify_ledger(ledger, salt=SALT).integrity
    # with nobody new the record is added too, and nothing else changes
    _as_earlier_version(ledger)
    data = ledger.read_bytes()
    r = _assign(ledger, n=300)
    assert r.n_new == 0
    assert r.notes
    assert ledger.read_bytes() == data
    assert "integrity" in json.loads(sidecars(ledger)[0].read_text())
    assert _assign(ledger, n=300).notes == ()


def test_symlinked_ledger_is_updated_where_it_points(tmp_path):
    real_dir = tmp_path / "shared"
    real_dir.mkdir()
    real = real_dir / "real.csv"
    link = tmp_path / "ledger.csv"
    link.symlink_to(real)                         # dangling until the first run
    _assign(link, n=100)
    assert link.is_symlink()
    assert real.is_file()
    assert sorted(p.name for p in real_dir.iterdir()) == [
        "real.csv", "real.csv.excluded.csv", "real.csv.lock", "real.csv.meta.json"]
    before = real.read_bytes()
    r = _assign(link, n=300)
    assert link.is_symlink()
    assert os.readlink(link) == str(real)
    assert real.read_bytes().startswith(before)
    assert len(pd.read_csv(real)) == len(r.assignments)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ledger.csv", "shared"]
    assert verify_ledger(link, salt=SALT).rows == len(r.assignments)


def test_a_failed_append_changes_no_file_and_names_it(tmp_path, monkeypatch):
    ledger = tmp_path / "ledger.csv"
    _assign(ledger, n=200)
    before = _files(ledger)
    calls = []

    def disk_full(self, target, data=None):
        calls.append(target)
        if len(calls) == 2:
            raise OSError(errno.ENOSPC, "No space left on device")
        return stage(self, target, data)

    stage = FileSet.stage
    monkeypatch.setattr(FileSet, "stage", disk_full)
    with pytest.raises(LedgerError, match=r"^ledger.csv.excluded.csv: cannot be written \(No "
                                          r"space left on device\); the ledger and its "
                                          r"sidecars are unchanged$"):
        _assign(ledger, n=400)
    monkeypatch.undo()
    assert _files(ledger) == before
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []

    def fsync_full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", fsync_full)
    with pytest.raises(LedgerError, match=r"^ledger.csv: the update cannot be committed"):
        _assign(ledger, n=400)
    monkeypatch.undo()
    assert _files(ledger) == before
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


def test_an_extra_column_in_an_old_ledger_fails_the_append_before_any_write(tmp_path):
    ledger = tmp_path / "ledger.csv"
    _assign(ledger, n=200)
    _as_earlier_version(ledger)
    lines = _lines(ledger)
    ledger.write_text("".join([lines[0].rstrip("\n") + ",note\n",
                               *(x.rstrip("\n") + ",\n" for x in lines[1:])]))
    before = _files(ledger)
    with pytest.raises(LedgerError, match=r"^ledger.csv: cannot append: its columns are not "
                                          r"customer_id, experiment, arm, assigned_at, bucket "
                                          r"\(extra note\); nothing was written$"):
        _assign(ledger, n=400)
    assert _files(ledger) == before


def test_an_interrupted_commit_is_completed_by_the_next_run(tmp_path, monkeypatch):
    ledger = tmp_path / "ledger.csv"
    ref = tmp_path / "ref" / "ledger.csv"
    for path in (ledger, ref):
        _assign(path, n=200)
    _assign(ref, n=400)
    replaced = []

    def crash_after_journal(src, dst):
        replaced.append(dst)
        if len(replaced) == 3:     # the journal and the ledger are in place, not the others
            raise OSError(errno.EIO, "Input/output error")
        return replace(src, dst)

    replace = os.replace
    monkeypatch.setattr(os, "replace", crash_after_journal)
    with pytest.raises(LedgerError, match=r"^ledger.csv: the update was committed but not "
                                          r"completed \(.*\); the next run completes it$"):
        _assign(ledger, n=400)
    monkeypatch.undo()
    assert journal_file(ledger).exists()
    with pytest.raises(LedgerError, match=r"ledger.csv: an update was interrupted "
                                          r"\(ledger.csv.journal exists\)"):
        verify_ledger(ledger, salt=SALT)
    r = _assign(ledger, n=400)
    assert r.n_new == 0
    assert r.notes[0].startswith("ledger.csv: completed the update an interrupted run had "
                                 "committed (ledger.csv, ledger.csv.excluded.csv, "
                                 "ledger.csv.meta.json)")
    assert _files(ledger) == _files(ref)
    assert not journal_file(ledger).exists()


def test_stale_temporary_files_are_reported_then_removed(tmp_path):
    ledger = tmp_path / "ledger.csv"
    _assign(ledger, n=100)
    for name in (".ledger.csv.abcd1234.tmp", ".ledger.csv.meta.json.x_9y8z7w.tmp"):
        (tmp_path / name).write_text("half")
    (tmp_path / ".other.csv.abcd1234.tmp").write_text("not ours")
    check = verify_ledger(ledger, salt=SALT)
    assert check.notes == ("ledger.csv: 2 temporary files of an interrupted run beside it "
                           "(.ledger.csv.abcd1234.tmp, .ledger.csv.meta.json.x_9y8z7w.tmp); "
                           "the next frt assign removes them",)
    r = _assign(ledger, n=100)
    assert r.notes == ("ledger.csv: removed 2 temporary files an interrupted run left "
                       "(.ledger.csv.abcd1234.tmp, .ledger.csv.meta.json.x_9y8z7w.tmp)",)
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == [
        ".other.csv.abcd1234.tmp"]


def test_lock_timeout_and_its_argument(tmp_path):
    ledger = tmp_path / "ledger.csv"
    with ledger_lock(ledger), pytest.raises(
            LedgerError, match=r"^ledger.csv: another run is updating this ledger \(it holds "
                               r"ledger.csv.lock\); gave up after waiting 0.01 s"):
        _assign(ledger, n=50, lock_timeout=0.01)
    assert not ledger.exists()
    with pytest.raises(ValueError, match="lock_timeout must be a finite number of seconds"):
        _assign(ledger, n=50, lock_timeout=-1)
    # readers share the lock; a writer waits for them
    with ledger_lock(ledger, shared=True), ledger_lock(ledger, shared=True), \
            pytest.raises(LedgerError, match="gave up after waiting 0 s"):
        _assign(ledger, n=50, lock_timeout=0)


def test_verify_checks_design_and_experiment(tmp_path):
    ledger = tmp_path / "ledger.csv"
    _assign(ledger, n=100)
    with pytest.raises(LedgerError, match=r"ledger\.csv\.meta\.json: the salt differs"):
        verify_ledger(ledger, salt="other")
    with pytest.raises(LedgerError, match="records experiment 'exp', not 'other'"):
        verify_ledger(ledger, salt=SALT, experiment="other")
    with pytest.raises(LedgerError, match=r"missing.csv: file not found"):
        verify_ledger(tmp_path / "missing.csv", salt=SALT)
    # without a meta file the given design is used
    sidecars(ledger)[0].unlink()
    assert not verify_ledger(ledger, salt=SALT).integrity
    with pytest.raises(LedgerError, match=r"ledger.csv: lines \d+, \d+, .*: \d+ stored arms "
                                          r"differ"):
        verify_ledger(ledger, salt=SALT, weights=(0.1, 0.9))


def test_a_record_edited_to_match_an_edited_ledger_breaks_its_seal(tmp_path):
    # someone deletes a line and recomputes the digests in meta.json: only the salt can seal
    from frt_experiments.ledger import _file_record

    ledger = tmp_path / "ledger.csv"
    r = _assign(ledger, n=200)
    _delete_line(ledger, 10)
    meta_path = sidecars(ledger)[0]
    meta = json.loads(meta_path.read_text())
    meta["integrity"]["ledger"] = _file_record(ledger.read_bytes(), len(r.assignments) - 1,
                                               lines=True)
    meta_path.write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")
    message = (r"^ledger.csv.meta.json: was changed after frt wrote it: its integrity record "
               r"does not match its seal \(an HMAC keyed by the salt\)")
    with pytest.raises(LedgerError, match=message):
        _assign(ledger, n=300)
    with pytest.raises(LedgerError, match=message):
        verify_ledger(ledger, salt=SALT)
    # a hand-edited design is found the same way
    _assign(tmp_path / "b.csv", n=100)
    meta_path = sidecars(tmp_path / "b.csv")[0]
    meta = json.loads(meta_path.read_text())
    meta["eligibility"]["max_spend"] = 90.0
    meta_path.write_text(json.dumps(meta))
    with pytest.raises(LedgerError, match=r"^b.csv.meta.json: was changed after frt wrote it"):
        verify_ledger(tmp_path / "b.csv", salt=SALT)
    meta = json.loads(meta_path.read_text())
    assert "hmac_sha256" in meta["integrity"]


def test_a_committed_ledger_is_parsed_as_the_validating_reader_reads_it(tmp_path):
    # ids with commas, quotes, a newline, leading zeros, spaces inside and non-ASCII
    ids = ["007", "a,b", 'say "hi"', "x\ny", "12345678901234567890", "Zoë", "a b", "NA"]
    rows = _rows(ids)
    path = tmp_path / "ledger.csv"
    write_ledger(path, rows, _excluded(["q"]), _meta(), append=False, salt="salt")
    fast, _, _ = read_ledger(path, _meta())              # the digest matches: parsed only
    checked = schema.read_table(path, "assignments")     # every rule checked
    pd.testing.assert_frame_equal(fast, checked)
    assert fast[schema.CUSTOMER_ID].tolist() == ids


def test_an_empty_committed_ledger_reads_as_an_empty_table(tmp_path):
    path = tmp_path / "ledger.csv"
    write_ledger(path, _rows([]), _excluded(["q"]), _meta(), append=False)
    rows, excluded, _ = read_ledger(path, _meta())
    assert len(rows) == 0
    assert list(rows.columns) == list(schema.ASSIGNMENTS.names)
    assert excluded[schema.CUSTOMER_ID].tolist() == ["q"]


def test_a_resealed_ledger_with_a_repeated_customer_is_still_refused(tmp_path):
    # whoever holds the salt can reseal a record; a customer twice is found all the same
    from frt_experiments import ledger as ledger_module

    path = tmp_path / "ledger.csv"
    write_ledger(path, _rows(["a", "b", "c"]), _excluded([]), _meta(), append=False,
                 salt="salt")
    lines = path.read_bytes().splitlines(keepends=True)
    data = b"".join([*lines, lines[2]])
    path.write_bytes(data)
    meta_path, _ = sidecars(path)
    meta = json.loads(meta_path.read_text())
    record = meta["integrity"]
    record["ledger"] = ledger_module._file_record(data, 4, lines=True)
    record.pop("hmac_sha256")
    record["hmac_sha256"] = ledger_module._seal("salt", meta, record)
    meta_path.write_text(json.dumps(meta))
    with pytest.raises(Exception, match=r"assigned twice in the same experiment \(line 5\)"):
        read_ledger(path, _meta(), salt="salt")
