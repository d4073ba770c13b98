"""``frt import``: in-process CLI runs whose outputs pass ``frt validate``."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from frt_experiments import cli, schema

FIX = Path(__file__).resolve().parent / "fixtures"


def _billing(path: Path, ids: list[str]) -> Path:
    n = len(ids)
    pd.DataFrame({"customer_id": ids, "monthly_spend": [50.0] * n,
                  "revenue_start": [100.0] * n, "revenue_end": [90.0] * n}).to_csv(
        path, index=False)
    return path


@pytest.mark.parametrize(("helpdesk", "source", "customer_ids"), [
    ("zendesk", FIX / "zendesk",
     ["1500656884401", "424883466453", "2222", "402813302773", "403125197514",
      "402862357193", "410930434074", "410416672973"]),
    ("zendesk", FIX / "zendesk" / "api", ["9001", "9002", "9003"]),
    ("intercom", FIX / "intercom", ["5f7295ca37f0d717d37dfddb"]),
    ("intercom", FIX / "intercom" / "api" / "conversations.json", ["c-1", "c-2", "c-3"]),
    ("intercom", FIX / "intercom" / "conversations_export.csv", ["u-10", "u-11"]),
])
def test_import_then_validate(tmp_path: Path, helpdesk: str, source: Path,
                              customer_ids: list[str],
                              capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    bill = _billing(tmp_path / "billing.csv", [*customer_ids, "no-conversations"])
    assert cli.main(["import", helpdesk, str(source), "--out", str(out),
                     "--billing", str(bill)]) == 0
    assert "wrote" in capsys.readouterr().out
    status = cli.main(["validate", "--conversations", str(out / "conversations.csv"),
                       "--customers", str(out / "customers.csv")])
    captured = capsys.readouterr()
    assert status == 0, captured.err
    customers = pd.read_csv(out / "customers.csv", dtype=str)
    assert "no-conversations" in set(customers["customer_id"])


def test_import_without_billing_writes_conversations_only(tmp_path: Path) -> None:
    assert cli.main(["import", "intercom", str(FIX / "intercom"), "--out", str(tmp_path)]) == 0
    assert (tmp_path / "conversations.csv").exists()
    assert not (tmp_path / "customers.csv").exists()
    assert cli.main(["validate", "--conversations", str(tmp_path / "conversations.csv")]) == 0


def test_import_error_is_one_line_exit_2(tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    bill = _billing(tmp_path / "billing.csv", ["9001"])
    status = cli.main(["import", "zendesk", str(FIX / "zendesk" / "api"), "--out",
                       str(tmp_path / "o"), "--billing", str(bill)])
    err = capsys.readouterr().err
    assert status == 2
    assert err.count("\n") == 1
    assert "2 customers with conversations have no billing row (9002, 9003)" in err
    assert "Traceback" not in err
    assert not (tmp_path / "o" / "conversations.csv").exists()


def test_import_missing_path(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status = cli.main(["import", "intercom", str(tmp_path / "nope.csv"), "--out",
                       str(tmp_path)])
    assert status == 2
    assert "nope.csv: Intercom CSV export not found" in capsys.readouterr().err


def test_import_bad_billing_file_names_it(tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    bill = tmp_path / "bill.csv"
    bill.write_text("customer_id,monthly_spend,revenue_start\n9001,1,1\n")
    status = cli.main(["import", "zendesk", str(FIX / "zendesk" / "api"), "--out",
                       str(tmp_path), "--billing", str(bill)])
    assert status == 2
    assert "bill.csv: column revenue_end: missing" in capsys.readouterr().err


# ----------------------------------------------------------------------------- Freshdesk, Help
# Scout, call logs: import -> frt validate -> frt analyze (the metrics each export supports)
def _assignments(path: Path, ids: list[str]) -> Path:
    arms = ["fast", "one_business_day"] * len(ids)
    pd.DataFrame({"customer_id": ids, "experiment": "frt", "arm": arms[:len(ids)],
                  "assigned_at": "2025-03-01T00:00:00+00:00", "bucket": ""}).to_csv(
        path, index=False)
    return path


@pytest.mark.parametrize("case", [
    (["freshdesk", str(FIX / "freshdesk")],
     ["77001001", "77001002", "77001004", "77001003"], True,
     ["questions", "CSAT", "net revenue retention"], ["efficiency"]),
    (["freshdesk", str(FIX / "freshdesk" / "tickets.json"), "--conversations",
      str(FIX / "freshdesk" / "conversations.json"), "--satisfaction-ratings",
      str(FIX / "freshdesk" / "satisfaction_ratings.json")],
     ["77001001", "77001002", "77001004", "77001003"], False,
     ["questions", "CSAT"], ["net revenue retention", "efficiency"]),
    (["helpscout", str(FIX / "helpscout")], ["501001", "501003", "501002", "501004"], True,
     ["questions", "CSAT", "net revenue retention"], ["efficiency"]),
    (["helpscout", str(FIX / "helpscout" / "conversations.json"), "--threads",
      str(FIX / "helpscout" / "conversation_threads.json"), "--happiness-ratings",
      str(FIX / "helpscout" / "happiness_ratings.json")],
     ["501001", "501003", "501002", "501004"], False,
     ["questions", "CSAT"], ["net revenue retention", "efficiency"]),
    (["calls", str(FIX / "calls" / "acd_calls.csv")],
     ["+4930111001", "+4930111002", "+4930111003", "+4930111004", "+4930111005"], False,
     ["questions", "efficiency"], ["CSAT", "net revenue retention"]),
])
def test_new_importers_validate_and_analyze(
    tmp_path: Path, case: tuple[list[str], list[str], bool, list[str], list[str]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    # case: argv, customer ids, with billing, metrics analysed, metrics not analysed
    argv, ids, billing, analysed, not_analysed = case
    out = tmp_path / "imp"
    extra = ["--billing", str(_billing(tmp_path / "billing.csv", ids))] if billing else []
    assert cli.main(["import", *argv, "--out", str(out), *extra]) == 0, capsys.readouterr().err
    customers = out / "customers.csv"
    if not billing:  # an analysis without revenue needs only the customer ids
        pd.DataFrame({"customer_id": ids}).to_csv(customers, index=False)
    capsys.readouterr()
    status = cli.main(["validate", "--conversations", str(out / "conversations.csv"),
                       "--customers", str(customers)])
    assert status == 0, capsys.readouterr().err
    status = cli.main(["analyze", "--customers", str(customers),
                       "--conversations", str(out / "conversations.csv"),
                       "--assignments", str(_assignments(tmp_path / "a.csv", ids)),
                       "--out", str(tmp_path / "res"), "--no-diagnostics"])
    captured = capsys.readouterr()
    assert status == 0, captured.err
    rows = {line.strip().split("  ")[0]: line for line in captured.out.splitlines()}
    for metric in analysed:
        line = next(v for k, v in rows.items() if k.startswith(metric))
        assert "not analysed" not in line, line
    for metric in not_analysed:
        line = next(v for k, v in rows.items() if k.startswith(metric))
        assert "not analysed" in line, line


def test_call_log_abandoned_contacts_survive_the_round_trip(tmp_path: Path) -> None:
    assert cli.main(["import", "calls", str(FIX / "calls" / "acd_calls.csv"), "--out",
                     str(tmp_path)]) == 0
    back = schema.read_table(tmp_path / "conversations.csv", "conversations")
    gone = back[back[schema.ABANDONED_AT].notna()]
    assert list(gone[schema.CONVERSATION_ID]) == ["C-20250303-0002", "C-20250303-0004"]
    assert gone[schema.FIRST_RESPONSE_AT].isna().all()


def test_call_log_map_on_the_command_line(tmp_path: Path) -> None:
    f = tmp_path / "chats.csv"
    f.write_text("session;visitor;waiting since;agent joined;closed\n"
                 "s1;v-01;03/03/2025 09:00;03/03/2025 09:02;03/03/2025 09:10\n"
                 "s2;v-02;03/03/2025 09:05;;03/03/2025 09:06\n", encoding="utf-8")
    assert cli.main(["import", "calls", str(f), "--map", "conversation_id=session",
                     "--map", "customer_id=visitor", "--map", 'queued_at="waiting since"',
                     "--map", "answered_at=agent joined", "--map", "hung_up_at=closed",
                     "--date-format", "%d/%m/%Y %H:%M", "--delimiter", "semicolon",
                     "--timezone", "Europe/Berlin", "--out", str(tmp_path / "o")]) == 0
    conv = pd.read_csv(tmp_path / "o" / "conversations.csv", dtype=str)
    assert list(conv["abandoned_at"].fillna("")) == ["", "2025-03-03T08:06:00+00:00"]


@pytest.mark.parametrize(("argv", "message"), [
    (["calls", "{bad_calls}"],
     "error: acd_calls.csv: column Answered: 1 row is before the queue entry (Queue Entry) "
     "(line 2)"),
    (["calls", str(FIX / "calls" / "acd_calls.csv"), "--map", "answer=Answered"],
     "error: columns: 'answer' is not a call log field"),
    (["freshdesk", "{bad_ratings}"],
     "error: satisfaction_ratings.json: column ratings.default_question: 1 row is not a "
     "Freshdesk rating code"),
    (["helpscout", str(FIX / "freshdesk" / "tickets.json")],
     "error: tickets.json: has no primary_customer or created_by: is it a Help Scout "
     "conversations file?"),
    (["freshdesk", str(FIX / "helpscout")],
     "error: helpscout: holds no tickets.json"),
    (["calls", str(FIX / "freshdesk" / "tickets.json")],
     "error: tickets.json: is JSON: a call log is a CSV or Excel table"),
])
def test_new_importers_bad_input_is_one_error_line(
    tmp_path: Path, argv: list[str], message: str, capsys: pytest.CaptureFixture[str],
) -> None:
    calls = pd.read_csv(FIX / "calls" / "acd_calls.csv", dtype=str, keep_default_na=False)
    calls.loc[0, "Answered"] = "2025-03-03T08:59:00+01:00"
    calls.to_csv(tmp_path / "acd_calls.csv", index=False)
    fd = tmp_path / "fd"
    fd.mkdir()
    for name in ("tickets.json", "conversations.json"):
        (fd / name).write_bytes((FIX / "freshdesk" / name).read_bytes())
    (fd / "satisfaction_ratings.json").write_text(
        (FIX / "freshdesk" / "satisfaction_ratings.json").read_text().replace("103", "3", 1))
    argv = [a.format(bad_calls=tmp_path / "acd_calls.csv", bad_ratings=fd) for a in argv]
    status = cli.main(["import", *argv, "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert status == 2
    assert err.count("\n") == 1, err
    assert err.startswith(message), err
    assert "Traceback" not in err
    assert not (tmp_path / "o" / "conversations.csv").exists()


@pytest.mark.parametrize(("argv", "ids"), [
    (["csv", str(FIX / "generic" / "tickets_de.csv"), "--mapping",
      str(FIX / "generic" / "tickets_de.toml")], ["K-17", "K-18", "K-19"]),
    (["zendesk", str(FIX / "zendesk" / "tickets.jsonl")], ["8801", "8802", "8803"]),
    (["intercom", str(FIX / "intercom" / "api" / "conversation_single.json")], ["c-51"]),
])
def test_new_formats_validate_and_analyze(tmp_path: Path, argv: list[str], ids: list[str],
                                          capsys: pytest.CaptureFixture[str]) -> None:
    """The generic CSV importer and the new Zendesk/Intercom formats flow through frt validate
    and frt analyze: these small exports support questions per customer (customers without
    conversations pad each arm to the two the analysis needs)."""
    out = tmp_path / "imp"
    assert cli.main(["import", *argv, "--out", str(out)]) == 0, capsys.readouterr().err
    everyone = [*ids, "pad-1", "pad-2", "pad-3", "pad-4"]
    customers = tmp_path / "customers.csv"
    pd.DataFrame({"customer_id": everyone}).to_csv(customers, index=False)
    capsys.readouterr()
    assert cli.main(["validate", "--conversations", str(out / "conversations.csv"),
                     "--customers", str(customers)]) == 0, capsys.readouterr().err
    status = cli.main(["analyze", "--customers", str(customers),
                       "--conversations", str(out / "conversations.csv"),
                       "--assignments", str(_assignments(tmp_path / "a.csv", everyone)),
                       "--out", str(tmp_path / "res"), "--no-diagnostics"])
    captured = capsys.readouterr()
    assert status == 0, captured.err
    line = next(v for v in captured.out.splitlines() if v.strip().startswith("questions"))
    assert "not analysed" not in line
    assert "net revenue retention" in captured.out  # listed, as not analysed
    assert (tmp_path / "res" / "results.csv").exists()
