"""The notebooks run top to bottom without error (executed with nbclient)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
NAMES = ["01_design_experiment.ipynb", "02_analyze_trial.ipynb", "03_staffing_tradeoffs.ipynb",
         "04_dose_response.ipynb"]


@pytest.mark.parametrize("name", NAMES)
def test_notebook_executes(name, tmp_path, monkeypatch):
    os.environ.setdefault("JUPYTER_PLATFORM_DIRS", "1")
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    path = NOTEBOOKS / name
    assert path.exists(), f"missing notebook {path}"
    nb = nbformat.read(path, as_version=4)
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code"), (
        "notebooks are committed without outputs")
    monkeypatch.chdir(tmp_path)
    client = nbclient.NotebookClient(nb, timeout=300, kernel_name="python3",
                                     resources={"metadata": {"path": str(tmp_path)}})
    client.execute()
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
              if o.get("output_type") == "error"]
    assert errors == []
    # An analyst reads every line: no warnings or other stderr output in a clean run.
    stderr = [o.get("text", "") for c in nb.cells if c.cell_type == "code"
              for o in c.get("outputs", [])
              if o.get("output_type") == "stream" and o.get("name") == "stderr"]
    assert stderr == []
    assert any(o.get("output_type") in ("display_data", "execute_result")
               and "image/png" in o.get("data", {})
               for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])), (
        "each notebook shows at least one plot")
