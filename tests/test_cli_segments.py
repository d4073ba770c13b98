"""frt analyze --by: the segment readouts from the command line (outputs, equal to the API,
the plan's [segments], several slow arms) and their bad input (one line, exit 2, or a named
warning)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import frt_experiments as frt
from frt_experiments.cli import main
from frt_experiments.plan import ExperimentPlan, write_plan
from frt_experiments.segments import HETEROGENEITY_COLUMNS, TABLE_COLUMNS
from frt_experiments.simulate import simulate
from frt_experiments.stats.multiplicity import benjamini_hochberg


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> tuple[frt.SimulatedTrial, Path]:
    trial = simulate("hte", customers=5_000, rng=4)
    d = tmp_path_factory.mktemp("trial")
    trial.write(d, format="csv")
    return trial, d


def _args(d: Path, out: Path, *extra: str) -> list[str]:
    return ["analyze", "--customers", str(d / "customers.csv"),
            "--conversations", str(d / "conversations.csv"),
            "--assignments", str(d / "assignments.csv"), "--out", str(out),
            "--no-diagnostics", *extra]


def test_by_writes_the_readouts_equal_to_the_api(data: tuple, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    _, d = data
    out = tmp_path / "out"
    assert main(_args(d, out, "--by", "segment,spend_band", "--spend-bands", "30,60")) == 0
    printed = capsys.readouterr().out
    assert "segment readouts:" in printed
    table = pd.read_csv(out / "segments.csv", keep_default_na=False)
    assert tuple(table.columns) == TABLE_COLUMNS
    het = pd.read_csv(out / "heterogeneity.csv", keep_default_na=False)
    assert tuple(het.columns) == HETEROGENEITY_COLUMNS
    ref = frt.analyze(frt.read_table(d / "customers.csv", "customers"),
                      frt.read_table(d / "conversations.csv", "conversations"),
                      frt.read_table(d / "assignments.csv", "assignments"),
                      by=["segment", "spend_band"], spend_bands=[30, 60],
                      diagnostics=False).by_segment
    np.testing.assert_allclose(table["p_adjusted"], ref.table["p_adjusted"], rtol=1e-9)
    assert list(table["level"]) == list(ref.table["level"])
    assert set(table.loc[table["dimension"] == "spend_band", "level"]) == {
        "< 30", "30 to < 60", ">= 60"}
    assert "Heterogeneity" in (out / "segments.md").read_text()
    assert (out / "segments.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    manifest = (out / "manifest.json").read_text()
    assert "segments.csv" in manifest
    # a later run without --by removes the earlier run's segment files
    assert main(_args(d, out)) == 0
    assert not (out / "segments.csv").exists()
    assert "removed" in capsys.readouterr().out


def test_several_slow_arms_one_family_and_a_row_of_panels_each(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    trial = simulate("dose", customers=4_000, rng=2)
    d = tmp_path / "trial"
    trial.write(d, format="csv")
    arms = sorted(set(trial.assignments["arm"]) - {"fast"})
    out = tmp_path / "out"
    assert main(_args(d, out, "--treatment", ",".join(arms), "--by", "segment",
                      "--metrics", "questions,csat")) == 0
    printed = capsys.readouterr().out
    table = pd.read_csv(out / "segments.csv", keep_default_na=False)
    assert list(dict.fromkeys(table["arm"])) == arms
    assert f"segment readouts: {len(table)} segment x metric tests" in printed
    # one family: every arm's p-values adjusted together
    np.testing.assert_allclose(table["p_adjusted"],
                               benjamini_hochberg(table["p_value"].to_numpy()), rtol=1e-12)
    assert (f"adjusted across {len(table)} segment x metric tests of the {len(arms)} slow "
            "arms together") in (out / "segments.md").read_text()
    from PIL import Image

    with Image.open(out / "segments.png") as image:  # a row of panels per arm: taller
        width, height = image.size
    assert height > 0.9 * width / 2


def test_plan_segments_and_fdr(data: tuple, tmp_path: Path) -> None:
    _, d = data
    plan = tmp_path / "plan.toml"
    write_plan(ExperimentPlan("frt-low-spend", segments={"by": ["segment"], "fdr": "holm"}),
               plan)
    out = tmp_path / "out"
    assert main(_args(d, out, "--plan", str(plan), "--metrics", "csat,nrr")) == 0
    table = pd.read_csv(out / "segments.csv")
    assert set(table["metric"]) == {"csat", "nrr"}
    assert "Holm" in (out / "segments.md").read_text()
    # the command line's --fdr takes precedence over the plan's
    assert main(_args(d, out, "--plan", str(plan), "--fdr", "bh", "--metrics", "csat")) == 0
    assert "Benjamini-Hochberg" in (out / "segments.md").read_text()


def _one_line_error(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if not line.startswith("warning:")]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


def test_bad_segments_are_one_line(data: tuple, tmp_path: Path,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    _, d = data
    out = tmp_path / "out"
    line = _one_line_error(capsys, _args(d, out, "--by", "region"))
    assert "column region" in line
    assert "spend_band" in line
    line = _one_line_error(capsys, _args(d, out, "--by", "segment", "--spend-bands", "a,b"))
    assert "--spend-bands" in line
    line = _one_line_error(capsys, _args(d, out, "--fdr", "holm"))
    assert "give by=" in line
    # cut points for a dimension not asked for, and a continuous column as a dimension
    line = _one_line_error(capsys, _args(d, out, "--by", "segment", "--spend-bands", "30,60"))
    assert "spend_bands cuts the spend_band dimension" in line
    line = _one_line_error(capsys, _args(d, out, "--by", "monthly_spend"))
    assert "monthly_spend" in line
    assert "distinct values" in line
    assert "spend_band" in line
    plan = tmp_path / "plan.toml"
    write_plan(ExperimentPlan("frt-low-spend", segments={"by": ["country"]}), plan)
    line = _one_line_error(capsys, _args(d, out, "--plan", str(plan)))
    assert "column country" in line
    assert not out.exists()


def test_a_small_segment_is_a_named_warning(data: tuple, tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    trial, d = data
    customers = trial.customers.copy()
    few = set(trial.assignments["customer_id"].iloc[:8])
    customers["tier"] = np.where(customers["customer_id"].isin(few), "enterprise", "self-serve")
    customers.to_csv(d / "customers_tier.csv", index=False)
    out = tmp_path / "out"
    argv = _args(d, out, "--by", "tier", "--metrics", "questions")
    argv[argv.index(str(d / "customers.csv"))] = str(d / "customers_tier.csv")
    assert main(argv) == 0
    err = capsys.readouterr().err
    assert "warning: segments not analysed: tier = enterprise" in err
    table = pd.read_csv(out / "segments.csv")
    assert set(table["level"]) == {"self-serve"}
    assert "enterprise" in (out / "segments.md").read_text()


def test_report_has_the_segment_section(data: tuple, tmp_path: Path) -> None:
    _, d = data
    out = tmp_path / "out"
    assert main(_args(d, out, "--by", "segment", "--report", "--metrics", "csat,nrr")) == 0
    html = (out / "report.html").read_text()
    assert "Segments: one_business_day against fast" in html
    assert "Cochran" in html
    assert (out / "figures" / "segments.png").read_bytes()[:4] == b"\x89PNG"
    md = (out / "report.md").read_text()
    assert "## Segments: one_business_day against fast" in md
    assert "Forest plot of the relative change per segment" in html
    assert main(_args(d, out, "--report", "--metrics", "csat,nrr")) == 0
    assert not (out / "figures" / "segments.png").exists()
