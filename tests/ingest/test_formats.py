"""Importers for what analysts actually have (issue 14): Zendesk's UI/Explore CSV, Zendesk JSON
lines and search results, single Intercom conversations and webhook notifications, and any
table through a column mapping (frt import csv); each through frt validate (and frt analyze
where the export has ratings and handle time)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from frt_experiments import DataError, cli, import_csv, import_intercom, import_zendesk, schema
from frt_experiments.errors import DataWarning

FIX = Path(__file__).resolve().parents[1] / "fixtures"
ZD, IC, GEN = FIX / "zendesk", FIX / "intercom", FIX / "generic"


def _by_id(conv: pd.DataFrame) -> pd.DataFrame:
    return conv.set_index(schema.CONVERSATION_ID)


def test_zendesk_ui_csv_export() -> None:
    # Before: "ui_export.csv: is not valid JSON: Extra data".
    result = import_zendesk(ZD / "ui_export.csv", timezone="America/New_York",
                            time_field="Total time spent (sec)")
    assert result.source == "zendesk (CSV export)"
    conv = _by_id(result.conversations)
    assert list(conv.index) == ["2301", "2302", "2303", "2304"]
    # 2302: created 17:40 EST, first reply 950 calendar minutes later, 50 business minutes
    assert conv.loc["2302", schema.CREATED_AT] == pd.Timestamp("2025-03-03T22:40:00Z")
    assert conv.loc["2302", schema.FIRST_RESPONSE_AT] == pd.Timestamp("2025-03-04T14:30:00Z")
    assert conv.loc["2302", schema.FIRST_RESPONSE_BUSINESS_SECONDS] == 3000.0
    assert conv.loc["2302", schema.CLOSED_AT] == pd.Timestamp("2025-03-04T16:30:00Z")
    assert conv.loc["2302", schema.HANDLE_SECONDS] == 1260.0
    assert conv.loc["2302", schema.CUSTOMER_ID] == "381003"
    assert conv.loc["2302", schema.CHANNEL] == "web form"
    assert (conv.loc["2301", schema.CSAT], conv.loc["2302", schema.CSAT]) == ("good", "bad")
    assert conv.loc[["2303", "2304"], schema.CSAT].isna().all()  # Unoffered, Offered
    assert pd.isna(conv.loc["2303", schema.FIRST_RESPONSE_AT])
    assert any("read as America/New_York time" in n for n in result.notes)


def test_zendesk_ui_csv_time_field_must_be_a_column() -> None:
    with pytest.raises(DataError, match=r"ui_export\.csv: column Time spent: missing: the "
                       r"time field \(--time-field\)"):
        import_zendesk(ZD / "ui_export.csv", time_field="Time spent")


def test_zendesk_json_lines_and_search_results() -> None:
    # Before: "is not valid JSON: Extra data" and "holds 'results', expected 'tickets'".
    lines = _by_id(import_zendesk(ZD / "tickets.jsonl").conversations)
    assert list(lines.index) == ["501", "502", "503", "504"]
    assert lines.loc["502", schema.FIRST_RESPONSE_AT] == pd.Timestamp("2025-03-04T09:30:00Z")
    search = _by_id(import_zendesk(ZD / "search_results.json",
                                   ticket_metrics=ZD / "search_ticket_metrics.json")
                    .conversations)
    assert list(search.index) == ["501", "502", "503"]  # the user result is not a ticket
    assert search.loc["501", schema.FIRST_RESPONSE_BUSINESS_SECONDS] == 2700.0
    assert search.loc["503", schema.CSAT] == "bad"


def test_single_intercom_conversation_and_webhook_notification() -> None:
    single = import_intercom(IC / "api" / "conversation_single.json").conversations
    assert list(single[schema.CONVERSATION_ID]) == ["5001"]
    # Before: "must hold a list of objects under 'conversations' or 'data'".
    hook = import_intercom(IC / "api" / "webhook_conversation_closed.json").conversations
    row = hook.iloc[0]
    assert row[schema.CONVERSATION_ID] == "5002"
    assert row[schema.CUSTOMER_ID] == "c-51"
    assert row[schema.FIRST_RESPONSE_AT] == pd.Timestamp("2025-03-10T10:10:00Z")
    assert row[schema.HANDLE_SECONDS] == 610.0
    assert row[schema.CSAT] == "4"


def test_generic_csv_with_a_mapping_toml() -> None:
    with pytest.warns(DataWarning, match=r"tickets_de\.csv: column Created time: 1 row is in "
                      r"the spring-forward gap of Europe/Berlin .* \(line 5\)"):
        result = import_csv(GEN / "tickets_de.csv", mapping=GEN / "tickets_de.toml")
    conv = _by_id(result.conversations)
    assert conv.loc["FD-1001", schema.CREATED_AT] == pd.Timestamp("2025-03-03T08:15:00Z")
    assert conv.loc["FD-1001", schema.HANDLE_SECONDS] == 312.5  # "312,5"
    assert conv.loc["FD-1003", schema.HANDLE_SECONDS] == 0.0
    assert conv.loc["FD-1004", schema.CREATED_AT] == pd.Timestamp("2025-03-30T01:00:00Z")
    assert conv.loc["FD-1002", schema.CSAT] == "2"
    assert conv.loc["FD-1002", schema.CSAT_SCALE] == "1-5"


def test_generic_csv_map_overrides_and_errors() -> None:
    with pytest.raises(DataError, match=r"tickets_de\.csv: column Opened: missing: mapped to "
                       r"created_at but not a column of the file"):
        import_csv(GEN / "tickets_de.csv", mapping=GEN / "tickets_de.toml",
                   columns={"created_at": "Opened"})
    with pytest.raises(ValueError, match=r"columns: 'opened_at' is not a canonical"):
        import_csv(GEN / "tickets_de.csv", columns={"opened_at": "Created time"})
    with pytest.raises(DataError, match=r"column conversation_id: not mapped: give --map "
                       r"conversation_id="):
        import_csv(GEN / "tickets_de.csv", columns={"created_at": "Created time"})
    with pytest.raises(DataError, match=r"column Created time: 4 rows are not parseable as "
                       r"timestamps \(lines 2, 3, 4, 5\)"):
        import_csv(GEN / "tickets_de.csv", columns={
            "conversation_id": "Ticket ID", "customer_id": "Contact ID",
            "created_at": "Created time"})


def test_frt_import_list_names_every_importer(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["import", "--list"]) == 0
    names = [line.split()[0] for line in capsys.readouterr().out.splitlines()]
    assert names == ["zendesk", "intercom", "freshdesk", "helpscout", "calls", "csv"]


def _billing(path: Path, ids: list[str]) -> Path:
    n = len(ids)
    pd.DataFrame({"customer_id": ids, "monthly_spend": [50.0] * n,
                  "revenue_start": [100.0] * n, "revenue_end": [95.0] * n}).to_csv(
        path, index=False)
    return path


@pytest.mark.parametrize(("argv", "customers"), [
    (["zendesk", str(ZD / "ui_export.csv"), "--timezone", "America/New_York",
      "--time-field", "Total time spent (sec)"], ["381002", "381003", "381009"]),
    (["zendesk", str(ZD / "tickets.jsonl")], ["8801", "8802", "8803"]),
    (["zendesk", str(ZD / "search_results.json"), "--ticket-metrics",
      str(ZD / "search_ticket_metrics.json")], ["8801", "8802"]),
    (["intercom", str(IC / "api" / "webhook_conversation_closed.json")], ["c-51"]),
    (["csv", str(GEN / "tickets_de.csv"), "--mapping", str(GEN / "tickets_de.toml")],
     ["K-17", "K-18", "K-19"]),
    (["csv", str(GEN / "tickets_de.csv"), "--map", "conversation_id=Ticket ID",
      "--map", 'customer_id="Contact ID"', "--map", "created_at=Created time",
      "--map", "first_response_at=Initial response time", "--delimiter", "semicolon",
      "--date-format", "%d/%m/%Y %H:%M", "--timezone", "Europe/Berlin"],
     ["K-17", "K-18", "K-19"]),
])
def test_import_then_validate(tmp_path: Path, argv: list[str], customers: list[str],
                              capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    bill = _billing(tmp_path / "billing.csv", customers)
    assert cli.main(["import", *argv, "--out", str(out), "--billing", str(bill)]) == 0, \
        capsys.readouterr().err
    status = cli.main(["validate", "--conversations", str(out / "conversations.csv"),
                       "--customers", str(out / "customers.csv")])
    assert status == 0, capsys.readouterr().err


def test_zendesk_ui_csv_flows_through_frt_analyze(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    # The UI export has ratings and (with --time-field) handle time: every metric.
    out = tmp_path / "imp"
    ids = ["381002", "381003", "381009", "381010"]
    bill = _billing(tmp_path / "billing.csv", ids)
    assert cli.main(["import", "zendesk", str(ZD / "ui_export.csv"), "--timezone",
                     "America/New_York", "--time-field", "Total time spent (sec)", "--out",
                     str(out), "--billing", str(bill)]) == 0
    pd.DataFrame({"customer_id": ids, "experiment": "frt", "arm": [
        schema.CONTROL_ARM, schema.TREATMENT_ARM, schema.TREATMENT_ARM, schema.CONTROL_ARM],
        "assigned_at": "2025-03-01T00:00:00+00:00", "bucket": ""}).to_csv(
        tmp_path / "assignments.csv", index=False)
    status = cli.main(["analyze", "--customers", str(out / "customers.csv"),
                       "--conversations", str(out / "conversations.csv"),
                       "--assignments", str(tmp_path / "assignments.csv"),
                       "--out", str(tmp_path / "res"), "--no-diagnostics"])
    captured = capsys.readouterr()
    assert status == 0, captured.err
    assert (tmp_path / "res" / "results.csv").exists()
