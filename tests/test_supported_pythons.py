"""Supported Pythons (3.11-3.13): no generic-unit NaT, library deprecations hidden by the CLI.

numpy 2.5 deprecates ``np.datetime64("NaT")`` without a unit (a DeprecationWarning, an error
under the test suite's ``filterwarnings = error``); on Python 3.12/3.13 such a call broke the
README's test command and put a ``warning:`` line into ``frt demo``'s output.
"""

import re
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import frt_experiments
from frt_experiments._commands import decide as decide_command
from frt_experiments.cli import main
from frt_experiments.errors import DataWarning

PACKAGE = Path(frt_experiments.__file__).parent
# np.datetime64("NaT") / np.timedelta64('NaT') with no unit argument
GENERIC_NAT = re.compile(r"""(datetime64|timedelta64)\(\s*["']NaT["']\s*\)""")


def test_no_generic_unit_nat_in_the_package():
    found = [f"{path.relative_to(PACKAGE.parent)}:{n}"
             for path in sorted(PACKAGE.rglob("*.py"))
             for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
             if GENERIC_NAT.search(line)]
    assert not found, f"generic-unit NaT (deprecated by numpy 2.5): {found}"


def test_trial_tables_with_missing_timestamps_write_without_warnings(tmp_path):
    # the path that used np.datetime64("NaT"): a timestamp column with missing values
    from frt_experiments.simulate.trial import _to_arrow

    df = pd.DataFrame({"first_response_at": pd.to_datetime(
        ["2025-01-02T10:00:00Z", None], utc=True)})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        table = _to_arrow(df)
    assert table.column("first_response_at").to_pylist() == ["2025-01-02T10:00:00+00:00", None]


def _warning_command(monkeypatch, category, message):
    def run(_args):
        warnings.warn_explicit(message, category, filename="site-packages/numpy/x.py",
                               lineno=1)
        return 0

    monkeypatch.setattr(decide_command, "run", run)
    return ["decide", "--results", "r.csv", "--revenue-per-year", "1", "--staffing-savings",
            "0"]


@pytest.mark.parametrize("category", [DeprecationWarning, PendingDeprecationWarning,
                                      FutureWarning])
def test_library_deprecations_are_shown_only_in_debug_mode(monkeypatch, capsys, category):
    argv = _warning_command(monkeypatch, category, "The generic unit is deprecated")
    monkeypatch.delenv("FRT_DEBUG", raising=False)
    assert main(argv) == 0
    assert capsys.readouterr().err == ""
    monkeypatch.setenv("FRT_DEBUG", "0")
    assert main(argv) == 0
    assert capsys.readouterr().err == ""
    monkeypatch.setenv("FRT_DEBUG", "1")
    assert main(argv) == 0
    err = capsys.readouterr().err
    assert err.startswith("warning: The generic unit is deprecated")
    assert category.__name__ in err


def test_the_toolkits_own_warnings_are_always_shown(monkeypatch, capsys):
    monkeypatch.delenv("FRT_DEBUG", raising=False)
    argv = _warning_command(monkeypatch, DataWarning, "3 conversations have no customer")
    assert main(argv) == 0
    assert capsys.readouterr().err == "warning: 3 conversations have no customer\n"


def test_nat_of_a_unit_is_not_deprecated():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert np.isnat(np.datetime64("NaT", "s"))
