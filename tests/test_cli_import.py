"""``frt import``: in-process CLI runs whose outputs pass ``frt validate``."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from frt_experiments import cli

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
