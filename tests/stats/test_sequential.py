"""Lan-DeMets boundaries against published gsDesign/rpact values and simulation."""

import numpy as np
import pytest

from frt_experiments.stats.sequential import sequential_bounds, spending_function


def test_obrien_fleming_five_looks_two_sided():
    # gsDesign: gsDesign(k = 5, test.type = 2, alpha = 0.025, sfu = sfLDOF)$upper$bound
    #   4.877 3.357 2.680 2.290 2.031   (issue 7 reference)
    b = sequential_bounds(5, alpha=0.05, spending="obrien-fleming")
    assert b.bounds == pytest.approx([4.877, 3.357, 2.680, 2.290, 2.031], abs=6e-4)
    assert b.alpha_spent[-1] == pytest.approx(0.05)
    assert b.rejection_probability(0.0) == pytest.approx(0.05, abs=1e-6)


def test_pocock_type_matches_rpact():
    # rpact unit tests (test-f_design_group_sequential.R), non-binding futility, so the
    # efficacy bounds ignore the futility bounds:
    # getDesignGroupSequential(kMax = 3, alpha = 0.13, typeOfDesign = "asP",
    #   informationRates = c(0.35, 0.7, 1), ...)$criticalValues
    #   1.5446617 1.4828682 1.4620058 ; alphaSpent 0.061214062 0.10266465 0.13
    b = sequential_bounds([0.35, 0.7, 1.0], alpha=0.13, spending="pocock",
                          alternative="greater")
    assert b.bounds == pytest.approx([1.5446617, 1.4828682, 1.4620058], abs=2e-5)
    assert b.alpha_spent == pytest.approx([0.061214062, 0.10266465, 0.13], abs=1e-8)
    # getDesignGroupSequential(informationRates = c(0.4, 0.7), typeOfDesign = "asP")
    #   (alpha 0.025, one-sided) criticalValues 2.223875 2.3050796
    b = sequential_bounds([0.4, 0.7], alpha=0.025, spending="pocock", alternative="greater")
    assert b.bounds == pytest.approx([2.223875, 2.3050796], abs=2e-5)


def test_obrien_fleming_unequal_matches_rpact():
    # rpact: getDesignGroupSequential(kMax = 3, alpha = 0.13, typeOfDesign = "asOF",
    #   informationRates = c(0.4, 0.75, 1), bindingFutility = FALSE, ...)$criticalValues
    #   2.1280732 1.4368565 1.2468994
    b = sequential_bounds([0.4, 0.75, 1.0], alpha=0.13, alternative="greater")
    assert b.bounds == pytest.approx([2.1280732, 1.4368565, 1.2468994], abs=2e-5)
    # same file, kMax = 4, informationRates = c(0.4, 0.75, 0.85, 1):
    #   criticalValues 2.1280732 1.4368565 1.422873 1.2970881
    #   stageLevels 0.016665509 0.075379384 0.077386492 0.097300444
    b = sequential_bounds([0.4, 0.75, 0.85, 1.0], alpha=0.13, alternative="greater")
    assert b.bounds == pytest.approx([2.1280732, 1.4368565, 1.422873, 1.2970881], abs=2e-5)
    assert b.nominal_p == pytest.approx([0.016665509, 0.075379384, 0.077386492, 0.097300444],
                                        abs=1e-6)


def test_pocock_two_sided_five_looks_spends_alpha():
    b = sequential_bounds(5, spending="pocock")
    # Lan-DeMets Pocock-type boundaries are nearly flat and above the fixed 1.96
    assert np.all(np.diff(b.bounds) < 0)
    assert b.bounds[0] - b.bounds[-1] < 0.06
    assert b.rejection_probability(0.0) == pytest.approx(0.05, abs=1e-6)


def test_less_mirrors_greater():
    g = sequential_bounds(4, alternative="greater")
    s = sequential_bounds(4, alternative="less")
    assert s.bounds == pytest.approx([-x for x in g.bounds])


def test_single_look_is_fixed_test():
    assert sequential_bounds(1).bounds[0] == pytest.approx(1.959963984540054, abs=1e-9)


def test_type_one_error_by_simulation():
    # Seeded Brownian motion under H0: rejection rate within 4 simulation SEs of alpha.
    rng = np.random.default_rng(7)
    b = sequential_bounds(5, spending="pocock")
    reps = 40_000
    info = np.array(b.information)
    s = np.cumsum(rng.normal(size=(reps, 5)) * np.sqrt(np.diff(info, prepend=0.0)), axis=1)
    z = s / np.sqrt(info)
    rate = np.mean(np.any(np.abs(z) >= np.array(b.bounds), axis=1))
    se = np.sqrt(0.05 * 0.95 / reps)
    assert abs(rate - 0.05) < 4 * se


def test_inflation_obrien_fleming():
    # Jennison & Turnbull (2000) Table 7.6 (rho-family close to OBF): max information for
    # K = 5, alpha = 0.05 two-sided, power 0.8 is about 1.02-1.03 times the fixed design.
    b = sequential_bounds(5)
    assert 1.015 < b.inflation(0.8) < 1.035
    assert b.rejection_probability(b.drift_for_power(0.8)) == pytest.approx(0.8, abs=1e-8)


def test_spending_function_endpoints():
    assert spending_function(1.0, 0.025, "obrien-fleming") == pytest.approx(0.025)
    assert spending_function(1.0, 0.025, "pocock") == pytest.approx(0.025)
    assert spending_function(0.0, 0.025, "pocock") == 0.0


@pytest.mark.parametrize(("looks", "message"), [
    (0, "positive integer"), ([0.5, 0.4], "increasing"), ([0.0, 1.0], "increasing"),
])
def test_bad_looks(looks, message):
    with pytest.raises(ValueError, match=message):
        sequential_bounds(looks)
    with pytest.raises(ValueError, match="spending must be"):
        sequential_bounds(3, spending="haybittle")


def test_one_sided_less_mirrors_greater_in_power_and_inflation():
    # A "less" plan is the mirror image of a "greater" one: the same drift magnitude, with
    # E[Z(1)] negative, gives the same power, and the same maximum-information inflation.
    # (drift_for_power used to search only positive drifts and failed for "less".)
    g = sequential_bounds(5, alternative="greater", alpha=0.025)
    s = sequential_bounds(5, alternative="less", alpha=0.025)
    assert s.rejection_probability(-2.5) == pytest.approx(g.rejection_probability(2.5),
                                                          abs=1e-12)
    assert s.drift_for_power(0.8) == pytest.approx(-g.drift_for_power(0.8), abs=1e-8)
    assert s.inflation(0.8) == pytest.approx(g.inflation(0.8), abs=1e-10)
    with pytest.raises(ValueError, match="power must exceed"):
        g.drift_for_power(0.01)


def test_spending_time_separates_alpha_from_correlation():
    # Interim z boundaries depend only on the spending and on ratios of information, so
    # rescaling the information fractions with the spending time held fixed leaves them
    # unchanged; the spending time alone sets alpha_spent.
    a = sequential_bounds([0.3, 0.6, 0.8], spending="pocock")
    b = sequential_bounds([0.3 / 0.8, 0.6 / 0.8, 1.0], spending="pocock",
                          spending_time=[0.3, 0.6, 0.8])
    assert b.bounds == pytest.approx(a.bounds, abs=1e-7)
    assert b.alpha_spent == pytest.approx(a.alpha_spent, abs=1e-12)
    with pytest.raises(ValueError, match="spending_time has 2 fractions for 3 looks"):
        sequential_bounds(3, spending_time=[0.5, 1.0])
    with pytest.raises(ValueError, match="spending_time must be increasing"):
        sequential_bounds(3, spending_time=[0.5, 0.4, 1.0])
    with pytest.raises(ValueError, match="looks must be a positive integer or information"):
        sequential_bounds(5.0)
