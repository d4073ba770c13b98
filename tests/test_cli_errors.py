"""Bad input on every ``frt`` subcommand: one line per problem on stderr, exit 2, no traceback,
no output.

Each case runs ``main(argv)`` in process on a small simulated trial and on deliberately broken
files, and checks that the message names the offending file or option and that nothing was
written to the output location.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from frt_experiments.cli import main

FIX = Path(__file__).resolve().parent / "fixtures"


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small valid trial (good/) and broken files (bad/)."""
    root = tmp_path_factory.mktemp("cli_errors")
    assert main(["simulate", "--customers", "400", "--months", "1", "--seed", "3",
                 "--no-progress", "--out", str(root / "good")]) == 0
    bad = root / "bad"
    bad.mkdir()
    (bad / "empty.csv").write_text("")
    (bad / "folder.csv").mkdir()
    (bad / "wrong.csv").write_text("a,b\n1,2\n")
    (bad / "header_only.csv").write_text("customer_id,monthly_spend,revenue_start,revenue_end\n")
    cust = (root / "good" / "customers.csv").read_text().splitlines()
    first = cust[1].split(",")
    first[1] = "lots"
    (bad / "text_spend.csv").write_text("\n".join([cust[0], ",".join(first), *cust[2:]]) + "\n")
    conv = (root / "good" / "conversations.csv").read_text()
    (bad / "naive_conversations.csv").write_text(conv.replace("+00:00", ""))
    (bad / "unknown_key.toml").write_text("[window]\nbogus = 1\n")
    (bad / "empty.toml").write_text("# nothing\n")
    (bad / "broken.meta.json").write_text('{"arms": ["fast", "one_business_day"]')
    (bad / "one_arm.meta.json").write_text('{"arms": ["fast"], "weights": [0.9, 0.1]}')
    (bad / "weights.toml").write_text('[experiment]\nname = "e"\n[weights]\nfast = 0.9\n'
                                      'one_business_day = 0.2\n')
    return root


G = "{root}/good"
B = "{root}/bad"
OUT = "{root}/out"
TRIAL = ["--customers", f"{G}/customers.csv", "--conversations", f"{G}/conversations.csv",
         "--assignments", f"{G}/assignments.csv"]
ASSIGN = ["assign", "--customers", f"{G}/customers.csv", "--experiment", "e", "--salt", "s",
          "--max-spend", "100"]

CASES = [
    # (id, argv, a fragment the one-line message must contain)
    ("validate-missing", ["validate", "--customers", f"{B}/nope.csv"],
     "nope.csv: file not found"),
    ("validate-empty", ["validate", "--customers", f"{B}/empty.csv"], "empty.csv: file is empty"),
    ("validate-directory", ["validate", "--customers", f"{B}/folder.csv"],
     "folder.csv: is a directory"),
    ("validate-header-only", ["validate", "--customers", f"{B}/header_only.csv"],
     "header_only.csv: file has no rows"),
    ("validate-wrong-table", ["validate", "--conversations", f"{G}/customers.csv"],
     "customers.csv: missing required columns conversation_id"),
    ("validate-text-number", ["validate", "--customers", f"{B}/text_spend.csv"],
     "text_spend.csv: column monthly_spend: 1 row is text, not numbers (line 2)"),
    ("validate-unknown-zone", ["validate", "--conversations", f"{G}/conversations.csv",
                               "--timezone", "Mars/Base"], "unknown time zone 'Mars/Base'"),
    ("validate-nothing", ["validate"], "give at least one of"),
    ("validate-naive-window", ["validate", "--conversations", f"{G}/conversations.csv",
                               "--window-end", "2025-02-01"], "--window-end: "),
    ("validate-inverted-window", ["validate", "--conversations", f"{G}/conversations.csv",
                                  "--window-start", "2025-02-01T00:00:00+00:00",
                                  "--window-end", "2025-01-01T00:00:00+00:00"],
     "must be before --window-end"),
    ("import-no-helpdesk", ["import"], "name the importer"),
    ("import-zendesk-missing", ["import", "zendesk", f"{B}/nope", "--out", OUT],
     "nope: tickets file not found"),
    ("import-zendesk-empty", ["import", "zendesk", f"{B}/empty.csv", "--out", OUT],
     "empty.csv: file is empty"),
    ("import-zendesk-directory", ["import", "zendesk", f"{B}/folder.csv", "--out", OUT],
     "folder.csv: holds neither ticket_data.csv"),
    ("import-zendesk-zone", ["import", "zendesk", str(FIX / "zendesk"), "--out", OUT,
                             "--timezone", "Mars/Base"], "unknown time zone"),
    ("import-zendesk-out-is-file", ["import", "zendesk", str(FIX / "zendesk"), "--out",
                                    f"{G}/customers.csv"], "--out: "),
    ("import-zendesk-bad-billing", ["import", "zendesk", str(FIX / "zendesk"), "--out", OUT,
                                    "--billing", f"{B}/text_spend.csv"],
     "text_spend.csv: column monthly_spend"),
    ("import-intercom-missing", ["import", "intercom", f"{B}/nope", "--out", OUT],
     "nope: Intercom export not found"),
    ("import-intercom-empty", ["import", "intercom", f"{B}/empty.csv", "--out", OUT],
     "empty.csv: file is empty"),
    ("import-intercom-zone", ["import", "intercom", str(FIX / "intercom"), "--out", OUT,
                              "--timezone", "Mars/Base"], "unknown time zone"),
    ("assign-missing", [*ASSIGN[:2], f"{B}/nope.csv", *ASSIGN[3:], "--ledger", f"{OUT}/l.csv"],
     "nope.csv: file not found"),
    ("assign-empty", [*ASSIGN[:2], f"{B}/empty.csv", *ASSIGN[3:], "--ledger", f"{OUT}/l.csv"],
     "empty.csv: file is empty"),
    ("assign-directory", [*ASSIGN[:2], f"{B}/folder.csv", *ASSIGN[3:], "--ledger",
                          f"{OUT}/l.csv"], "folder.csv: is a directory"),
    ("assign-wrong-table", [*ASSIGN[:2], f"{B}/wrong.csv", *ASSIGN[3:], "--ledger",
                            f"{OUT}/l.csv"], "wrong.csv: missing required column"),
    ("assign-text-spend", [*ASSIGN[:2], f"{B}/text_spend.csv", *ASSIGN[3:], "--ledger",
                           f"{OUT}/l.csv"], "text_spend.csv: column monthly_spend"),
    ("assign-negative-ceiling", [*ASSIGN[:-1], "-5", "--ledger", f"{OUT}/l.csv"],
     "max_spend must be a finite number >= 0"),
    ("assign-bad-weights", [*ASSIGN, "--ledger", f"{OUT}/l.csv", "--weights", "1,x"],
     "--weights"),
    ("assign-naive-time", [*ASSIGN, "--ledger", f"{OUT}/l.csv", "--assigned-at",
                           "2025-01-01T00:00"], "time-zone aware"),
    ("assign-ledger-is-directory", [*ASSIGN, "--ledger", f"{B}/folder.csv"],
     "--ledger: "),
    ("assign-ledger-under-file", [*ASSIGN, "--ledger", f"{G}/customers.csv/l.csv"],
     "--ledger: "),
    # the ledger must not be written when the tag export cannot be
    ("assign-tags-unwritable", [*ASSIGN, "--ledger", f"{OUT}/l.csv", "--export-tags",
                                f"{G}/customers.csv/tags.csv"], "--export-tags: "),
    ("assign-negative-seed", [*ASSIGN[:5], "--max-spend", "100", "--ledger", f"{OUT}/l.csv",
                              "--spend-bands", "2", "--seed", "-1"], "--seed"),
    ("simulate-unknown-scenario", ["simulate", "--scenario", "nope", "--out", OUT],
     "not a preset"),
    ("simulate-unknown-key", ["simulate", "--scenario", f"{B}/unknown_key.toml", "--out", OUT],
     "unknown_key.toml: unknown key window.bogus"),
    ("simulate-empty-scenario", ["simulate", "--scenario", f"{B}/empty.toml", "--out", OUT],
     "empty.toml: the scenario file holds no settings"),
    ("simulate-scenario-directory", ["simulate", "--scenario", f"{B}/folder.csv", "--out", OUT],
     "folder.csv: is a directory"),
    ("simulate-negative-customers", ["simulate", "--customers", "-5", "--out", OUT],
     "customers must be a positive integer"),
    ("simulate-zero-months", ["simulate", "--months", "0", "--out", OUT],
     "months must be in (0, 60]"),
    ("simulate-text-months", ["simulate", "--months", "five", "--out", OUT], "--months"),
    ("simulate-negative-seed", ["simulate", "--seed", "-1", "--out", OUT], "--seed"),
    ("simulate-out-is-file", ["simulate", "--customers", "50", "--out", f"{G}/customers.csv"],
     "--out: "),
    ("analyze-missing", ["analyze", *TRIAL[:1], f"{B}/nope.csv", *TRIAL[2:], "--out", OUT],
     "nope.csv: file not found"),
    ("analyze-empty", ["analyze", *TRIAL[:1], f"{B}/empty.csv", *TRIAL[2:], "--out", OUT],
     "empty.csv: file is empty"),
    ("analyze-naive", ["analyze", *TRIAL[:3], f"{B}/naive_conversations.csv", *TRIAL[4:],
                       "--out", OUT, "--no-diagnostics"],
     "naive_conversations.csv: column created_at"),
    ("analyze-bad-alpha", ["analyze", *TRIAL, "--out", OUT, "--alpha", "2"], "alpha"),
    ("analyze-few-permutations", ["analyze", *TRIAL, "--out", OUT, "--permutations", "10"],
     "--permutations must be at least 99"),
    ("decide-text-amount", ["decide", "--results", f"{G}/customers.csv", "--revenue-per-year",
                            "abc", "--staffing-savings", "1"], "--revenue-per-year"),
    ("power-nothing", ["power"], "frt power: give"),
    ("power-bad-p1", ["power", "--p1", "1.5", "--p2", "0.5"], "p1 must be in (0, 1)"),
    ("staffing-erlang-negative", ["staffing", "erlang", "--arrivals-per-hour", "-5", "--aht",
                                  "300", "--target", "20", "--service-level", "0.8"],
     "--arrivals-per-hour"),
    ("staffing-desk-missing", ["staffing", "desk", "--conversations", f"{B}/nope.csv",
                               "--assignments", f"{G}/assignments.csv", "--agents", "2",
                               "--out", OUT], "nope.csv: file not found"),
    ("staffing-desk-zone", ["staffing", "desk", "--conversations", f"{G}/conversations.csv",
                            "--assignments", f"{G}/assignments.csv", "--agents", "2",
                            "--desk-timezone", "Mars/Base", "--out", OUT], "Mars/Base"),
    ("staffing-no-action", ["staffing"], "choose an action"),
    ("staffing-desk-negative-seed", ["staffing", "desk", "--conversations",
                                     f"{G}/conversations.csv", "--assignments",
                                     f"{G}/assignments.csv", "--agents", "2", "--seed", "-1",
                                     "--out", OUT], "--seed"),
    ("staffing-desk-out-is-file", ["staffing", "desk", "--conversations",
                                   f"{G}/conversations.csv", "--assignments",
                                   f"{G}/assignments.csv", "--agents", "2", "--out",
                                   f"{G}/customers.csv"], "--out: "),
    # the plan and curve must not be written when the projection's --months is bad
    ("staffing-plan-bad-months", ["staffing", "plan", "--conversations",
                                  f"{G}/conversations.csv", "--assignments",
                                  f"{G}/assignments.csv", "--weeks", "1", "--targets", "4",
                                  "--months", "-2", "--out", OUT], "--months"),
    ("analyze-out-is-file", ["analyze", *TRIAL, "--out", f"{G}/customers.csv"], "--out: "),
    ("analyze-weights-sum", ["analyze", *TRIAL, "--out", OUT, "--weights",
                             "fast=0.9,one_business_day=0.2"],
     "error: --weights: the shares must sum to 1, got 1.1 for {'fast': 0.9, "
     "'one_business_day': 0.2}"),
    ("analyze-weights-unknown-arm", ["analyze", *TRIAL, "--out", OUT, "--weights",
                                     "fast=0.9,slow=0.1"],
     "error: --weights: arm 'slow' is not in the assignments (arms: fast, one_business_day)"),
    ("analyze-weights-missing-arm", ["analyze", *TRIAL, "--out", OUT, "--weights",
                                     "fast=0.5,two_business_days=0.5"],
     "error: --weights: arm 'two_business_days' is not in the assignments"),
    ("analyze-weights-syntax", ["analyze", *TRIAL, "--out", OUT, "--weights", "0.9,0.1"],
     "error: --weights '0.9,0.1': expected ARM=SHARE,ARM=SHARE"),
    ("analyze-weights-negative", ["analyze", *TRIAL, "--out", OUT, "--weights",
                                  "fast=1.5,one_business_day=-0.5"],
     "the share of arm 'one_business_day' must be a positive finite number, got -0.5"),
    ("analyze-ledger-meta-missing", ["analyze", *TRIAL, "--out", OUT, "--ledger-meta",
                                     f"{G}/assignments.csv"],
     "error: --ledger-meta: assignments.csv.meta.json: file not found"),
    ("analyze-ledger-meta-not-json", ["analyze", *TRIAL, "--out", OUT, "--ledger-meta",
                                      f"{B}/broken.meta.json"],
     "error: --ledger-meta: broken.meta.json: cannot be read as JSON"),
    ("analyze-ledger-meta-one-arm", ["analyze", *TRIAL, "--out", OUT, "--ledger-meta",
                                     f"{B}/one_arm.meta.json"],
     "one_arm.meta.json: needs 'arms' and 'weights', lists of the same length"),
    ("analyze-plan-weights", ["analyze", *TRIAL, "--out", OUT, "--plan", f"{B}/weights.toml"],
     "error: weights.toml: weights: the shares must sum to 1, got 1.1"),
    ("decide-out-under-file", ["decide", "--results", f"{G}/customers.csv",
                               "--revenue-per-year", "1000", "--staffing-savings", "1", "--out",
                               f"{G}/customers.csv/d.md"], "--out: "),
    ("power-weights-three-arms", ["power", "--metric", "csat:0.85:0.74", "--mde", "csat=-0.02",
                                  "--weights", "fast=0.5,one_business_day=0.3,slow=0.2"],
     "frt power sizes two arms, control then treatment, got 3"),
    ("power-weights-disagree-ratio", ["power", "--p1", "0.5", "--p2", "0.75", "--ratio", "2",
                                      "--weights", "fast=0.9,one_business_day=0.1"],
     "error: --ratio 2 disagrees with --weights (one_business_day/fast = 0.111111)"),
    ("power-plan-under-file", ["power", "--metric", "csat:0.85:0.74", "--mde", "csat=-0.02",
                               "--eligible-per-month", "1000", "--write-plan",
                               f"{G}/customers.csv/p.toml"], "--write-plan: "),
    # an output path that is an input would overwrite it (issue 21)
    ("assign-tags-are-the-customers", [*ASSIGN, "--ledger", f"{OUT}/l.csv", "--export-tags",
                                       f"{G}/customers.csv"],
     "--export-tags: {root}/good/customers.csv is the --customers file"),
    ("assign-tags-are-the-ledger", [*ASSIGN, "--ledger", f"{G}/assignments.csv",
                                    "--export-tags", f"{G}/../good/assignments.csv"],
     "is the --ledger file; writing it would overwrite an input"),
    ("decide-out-is-the-results", ["decide", "--results", f"{G}/customers.csv",
                                   "--revenue-per-year", "1000", "--staffing-savings", "1",
                                   "--out", f"{G}/customers.csv"],
     "--out: {root}/good/customers.csv is the --results file"),
    ("power-plan-is-the-conversations", ["power", "--customers", f"{G}/customers.csv",
                                         "--conversations", f"{G}/conversations.csv",
                                         "--max-spend", "100", "--mde", "questions=-0.05",
                                         "--eligible-per-month", "1000", "--write-plan",
                                         f"{G}/conversations.csv"],
     "--write-plan: {root}/good/conversations.csv is the --conversations file"),
    ("demo-negative-customers", ["demo", "--customers", "-5", "--out", OUT], "customers"),
    ("demo-unknown-scenario", ["demo", "--scenario", "nope", "--out", OUT], "not a preset"),
    ("demo-negative-seed", ["demo", "--seed", "-1", "--out", OUT], "--seed"),
    ("demo-out-is-file", ["demo", "--customers", "1000", "--no-progress", "--out",
                          f"{G}/customers.csv"], "--out: "),
]


@pytest.mark.parametrize(("argv", "fragment"), [pytest.param(a, f, id=i) for i, a, f in CASES])
def test_bad_input_is_one_line_exit_2_nothing_written(
    files: Path, argv: list[str], fragment: str, capsys: pytest.CaptureFixture[str]
) -> None:
    before = {p: p.stat().st_mtime_ns for p in files.rglob("*")}
    status = main([a.replace("{root}", str(files)) for a in argv])
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if not line.startswith("warning: ")]
    assert status == 2, err
    # one line per problem (the naive table has two broken columns), each a plain message
    assert len(lines) == (2 if "naive" in fragment else 1), err
    assert all(line.startswith(("error: ", "frt ")) for line in lines), err
    assert "Traceback" not in err
    assert fragment.replace("{root}", str(files)) in lines[0]
    assert not (files / "out").exists()  # nothing written half-way
    assert {p: p.stat().st_mtime_ns for p in files.rglob("*")} == before


def test_simulated_files_are_readable_by_others(files: Path) -> None:
    """Outputs get the mode an ordinary open() gives (0666 less umask), not mkstemp's 0600."""
    umask = os.umask(0)
    os.umask(umask)
    mode = stat.S_IMODE((files / "good" / "customers.csv").stat().st_mode)
    assert mode == 0o666 & ~umask


def test_out_of_memory_is_one_line_exit_2(monkeypatch, capsys) -> None:
    # pyarrow's ArrowMemoryError (a MemoryError) on a 2.3 GB CSV under a memory cap
    import pyarrow as pa

    from frt_experiments._commands import validate

    def exhausted(args):
        raise pa.ArrowMemoryError("malloc of size 2415919104 failed")

    monkeypatch.setattr(validate, "run", exhausted)
    monkeypatch.delenv("FRT_DEBUG", raising=False)
    assert main(["validate", "--customers", "x.csv"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith("error: out of memory (malloc of size 2415919104 failed)")
