"""Holm's adjustment against statsmodels.stats.multitest.multipletests(method="holm")."""

from unittest import mock

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from statsmodels.stats.multitest import multipletests

from frt_experiments.stats.multiplicity import holm


@settings(max_examples=100, deadline=None)
@given(st.lists(st.floats(0, 1), min_size=1, max_size=12))
def test_holm_matches_statsmodels(p):
    ours = holm(p)
    # statsmodels' Holm branch runs a full garbage collection on every call (0.1-0.2 s in a
    # test process holding the whole suite); it frees memory and changes no number
    with mock.patch("gc.collect", return_value=0):
        reject, ref, _, _ = multipletests(p, alpha=0.05, method="holm")
    np.testing.assert_allclose(ours, ref, rtol=1e-12, atol=0)
    away = np.abs(ours - 0.05) > 1e-12  # statsmodels rejects at p <= alpha, the boundary aside
    np.testing.assert_array_equal((ours < 0.05)[away], reject[away])


def test_holm_by_hand():
    # sorted 0.01, 0.03, 0.04 -> 3*0.01, 2*0.03, max(0.06, 1*0.04)
    assert holm([0.01, 0.04, 0.03]).tolist() == pytest.approx([0.03, 0.06, 0.06])


def test_holm_rejects_bad_p_values():
    with pytest.raises(ValueError, match=r"numbers in \[0, 1\]"):
        holm([0.1, np.nan])
    with pytest.raises(ValueError, match="1-d"):
        holm([[0.1]])
