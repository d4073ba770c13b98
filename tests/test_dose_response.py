"""frt.dose_response and `frt dose-response`: the slope equals linearmodels' IV2SLS on the
linearized per-customer data of a simulated trial (customer-clustered, 1e-8), two arms give the
Wald ratio, a weak first stage warns and falls back to the Anderson-Rubin test, and bad input
is refused naming the arm or flag."""

from __future__ import annotations

import datetime as dt
import math
import warnings

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from frt_experiments import schema
from frt_experiments._document import Document
from frt_experiments.calendar import BusinessCalendar
from frt_experiments.cli import main
from frt_experiments.diagnostics import default_calendar
from frt_experiments.dose import ANSWERED, DOSE_SUM, customer_doses
from frt_experiments.dose_response import COLUMNS, DOSE, dose_response
from frt_experiments.errors import DataWarning
from frt_experiments.metrics import CONVERSATIONS, arm_statistics, customer_rows
from frt_experiments.policy import FrtPolicy
from frt_experiments.simulate import simulate
from frt_experiments.stats.iv import two_stage_least_squares, wald_ratio

linearmodels = pytest.importorskip("linearmodels")

FOUR = ("fast", "b", "c", "d")


def _four_arms(customers: int, seed: int) -> dict[str, pd.DataFrame]:
    """A published trial relabelled by bucket into four arms: two share the fast arm's first
    responses, two the slow arm's (so two distinct doses among four arms)."""
    t = simulate("published", customers=customers, rng=seed).to_pandas()
    asg = t["assignments"].copy()
    slow = asg[schema.ARM] == "one_business_day"
    upper = asg[schema.BUCKET].to_numpy() % 0.5 >= 0.25
    arm = np.where(slow, np.where(upper, "d", "c"), np.where(upper, "b", "fast"))
    asg[schema.ARM] = pd.array(arm, dtype="string")
    return {**t, "assignments": asg}


def _rows(t: dict[str, pd.DataFrame], cal: BusinessCalendar) -> pd.DataFrame:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rows = customer_rows(t["customers"], t["conversations"], t["assignments"])
    return rows.join(customer_doses(t["conversations"], t["assignments"], calendar=cal)
                     .drop(columns=schema.ARM))


@pytest.fixture(scope="module")
def four():
    return _four_arms(6_000, 21)


def test_the_slope_is_linearmodels_iv2sls_of_the_linearized_customers(four):
    # each arm's ratio dose enters as its linearization R_k + (num - R_k den) / mean(den)_k
    # (the delta method, Deng et al. 2018); 2SLS of questions per customer on it, the arm
    # indicators as instruments, customer-clustered: linearmodels' numbers to 1e-8
    cal = default_calendar()
    res = dose_response(four["customers"], four["conversations"], four["assignments"],
                        calendar=cal, outcomes=["questions"], validate=False)
    rows = _rows(four, cal)
    lin = np.empty(len(rows))
    for arm in FOUR:
        m = (rows[schema.ARM] == arm).to_numpy()
        num, den = rows.loc[m, DOSE_SUM], rows.loc[m, ANSWERED]
        r = num.sum() / den.sum()
        lin[m] = r + (num - r * den) / den.mean()
    df = pd.DataFrame({"y": rows[CONVERSATIONS].to_numpy(), "dose": lin, "const": 1.0,
                       "cid": np.arange(len(rows))})
    z = [f"z_{arm}" for arm in FOUR[1:]]
    for arm, name in zip(FOUR[1:], z, strict=True):
        df[name] = (rows[schema.ARM] == arm).to_numpy(float)
    fit = linearmodels.iv.IV2SLS(df.y, df[["const"]], df.dose, df[z]).fit(
        cov_type="clustered", clusters=df.cid, debiased=False)
    s = res.outcomes["questions"].slope
    assert s.effect == pytest.approx(fit.params["dose"], rel=1e-8)
    assert s.intercept == pytest.approx(fit.params["const"], rel=1e-8)
    # the reported variance is the delta method's (within-arm divisor n_k - 1); on HC0's
    # divisor n_k it is linearmodels' clustered variance
    st = arm_statistics(rows, columns=[CONVERSATIONS, DOSE_SUM, ANSWERED], arms=list(FOUR))
    robust = two_stage_least_squares(st, outcome=CONVERSATIONS, dose=DOSE, variance="hc0")
    assert robust.effect == pytest.approx(s.effect, rel=1e-12)  # arm order differs
    assert robust.se == pytest.approx(fit.std_errors["dose"], rel=1e-8)
    assert 1 < s.se / robust.se < 1 + 1 / (len(rows) / len(FOUR) - 1)
    lin_test = res.outcomes["questions"].linearity
    assert lin_test is not None
    assert lin_test.df == 2


def test_two_arms_give_the_wald_ratio():
    t = simulate("published", customers=8_000, rng=4).to_pandas()
    cal = default_calendar()
    res = dose_response(t["customers"], t["conversations"], t["assignments"], calendar=cal,
                        policies={"fast": "4h", "one_business_day": "one_business_day"})
    rows = _rows(t, cal)
    st = arm_statistics(rows, columns=["satisfied", "rated", DOSE_SUM, ANSWERED],
                        arms=["fast", "one_business_day"])
    w = wald_ratio(st["fast"], st["one_business_day"], outcome=("satisfied", "rated"),
                   dose=DOSE)
    o = res.outcomes["csat"]
    assert o.slope.effect == pytest.approx(w.effect, rel=1e-12)
    assert o.slope.se == pytest.approx(w.se, rel=1e-10)
    assert o.slope.f_statistic == pytest.approx(w.f_statistic, rel=1e-10)
    assert o.linearity is None
    assert res.arms == ("fast", "one_business_day")
    assert res.policies == {"fast": "4h", "one_business_day": "one_business_day"}
    # each arm's point: the arm's Wald ratio against control is the slope itself
    slow = o.arms.set_index("arm").loc["one_business_day"]
    assert slow["wald"] == pytest.approx(w.effect, rel=1e-12)
    assert slow["effect"] == pytest.approx(o.slope.effect * w.first_stage, rel=1e-10)
    assert o.per_doubling == pytest.approx(o.slope.effect * math.log(2))
    # the long table and the summary
    table = res.to_pandas()
    assert tuple(table.columns) == COLUMNS
    assert (table["row"] == "slope").sum() == len(res.outcomes)
    assert set(res.summary()["outcome"]) == set(res.outcomes)
    fig = res.plot()
    assert isinstance(fig, Figure)
    assert len(fig.axes) == len(res.outcomes)
    doc = Document("t")
    res.add_to(doc)
    md = doc.to_markdown(image_dir="figures")
    assert "per doubling" in md
    assert "figures/dose_response.png" in md
    assert "| csat |" in md


def test_a_weak_first_stage_warns_and_uses_the_anderson_rubin_test():
    t = simulate("aa", customers=3_000, rng=8).to_pandas()
    with pytest.warns(DataWarning, match="first stage is weak"):
        res = dose_response(t["customers"], t["conversations"], t["assignments"],
                            calendar=default_calendar(), outcomes=["csat"])
    o = res.outcomes["csat"]
    assert o.slope.weak
    assert o.significant == (o.p_value_ar < 0.05)


def test_bad_input_is_refused_naming_the_arm(four):
    cal = default_calendar()
    c, v, a = four["customers"], four["conversations"], four["assignments"]
    with pytest.raises(ValueError, match="no FRT policy for arm 'c'"):
        dose_response(c, v, a, calendar=cal, policies={"fast": "4h", "b": "4h", "d": "8h"})
    other = BusinessCalendar("Europe/Berlin", hours="Mon-Fri 09:00-17:00")
    pol = {arm: FrtPolicy(arm, cal, target=dt.timedelta(hours=4)) for arm in FOUR}
    pol["d"] = FrtPolicy("d", other, rule="next_business_day")
    with pytest.raises(ValueError, match="arm 'd' is on another calendar"):
        dose_response(c, v, a, calendar=cal, policies=pol)
    with pytest.raises(ValueError, match="at least two arms"):
        dose_response(c, v, a, calendar=cal, arms=["fast"])
    with pytest.raises(ValueError, match="arm 'e' is not in the assignments"):
        dose_response(c, v, a, calendar=cal, arms=["fast", "e"])
    with pytest.raises(ValueError, match="control: arm 'fast' is not among"):
        dose_response(c, v, a, calendar=cal, arms=["b", "c"])
    # a dose that does not vary between arms: every answer sent at creation on a 24/7 desk
    v0 = v.copy()
    v0[schema.FIRST_RESPONSE_AT] = v0[schema.CREATED_AT]
    with pytest.raises(ValueError, match="no arm moves the first-response time"):
        dose_response(c, v0, a, calendar=BusinessCalendar("UTC", hours="24/7"))
    with pytest.raises(ValueError, match="outcomes"):
        dose_response(c, v, a, calendar=cal, outcomes=["efficiency"])


def _files(tmp_path, t: dict[str, pd.DataFrame]) -> list[str]:
    d = tmp_path / "in"
    d.mkdir()
    for name, df in t.items():
        df.to_csv(d / f"{name}.csv", index=False)
    return ["--customers", str(d / "customers.csv"), "--conversations",
            str(d / "conversations.csv"), "--assignments", str(d / "assignments.csv")]


def test_cli_writes_the_table_the_text_and_the_figure(four, tmp_path, capsys):
    args = _files(tmp_path, {k: four[k] for k in ("customers", "conversations", "assignments")})
    out = tmp_path / "out"
    pol = ["--policy", "b=4h", "--policy", "c=one_business_day", "--policy",
           "d=one_business_day"]
    assert main(["dose-response", *args, "--out", str(out), *pol]) == 0
    printed = capsys.readouterr().out
    assert "slope" in printed
    assert "straight line: J =" in printed
    table = pd.read_csv(out / "dose_response.csv")
    assert tuple(table.columns) == COLUMNS
    assert set(table.loc[table["row"] == "arm", "arm"]) == set(FOUR)
    assert (out / "dose_response.png").stat().st_size > 10_000
    assert "# Dose-response" in (out / "dose_response.md").read_text()
    assert (out / "manifest.json").exists()
    # the same numbers as the Python call
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        py = dose_response(four["customers"], four["conversations"], four["assignments"],
                           calendar=default_calendar())
    got = table[table["row"] == "slope"].set_index("outcome")["effect"]
    for name, o in py.outcomes.items():
        assert got[name] == pytest.approx(o.slope.effect, rel=1e-9)


@pytest.mark.parametrize(("extra", "message"), [
    (["--policy", "b=4h", "--policy", "c=8h"], "arm 'd' has no FRT policy: give --policy d=NAME"),
    (["--policy", "b=4h", "--policy", "c=soon", "--policy", "d=8h"],
     "arm 'c': unknown FRT policy 'soon'"),
    (["--arms", "fast"], "--arms 'fast': the dose-response needs at least two arms"),
    (["--policy", "b"], "--policy 'b': expected ARM=NAME"),
])
def test_cli_bad_input_is_one_line_exit_2(four, tmp_path, capsys, extra, message):
    args = _files(tmp_path, {k: four[k] for k in ("customers", "conversations", "assignments")})
    out = tmp_path / "out"
    assert main(["dose-response", *args, "--out", str(out), *extra]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert message in err[0]
    assert not out.exists() or not any(out.iterdir())


def test_policies_on_an_equal_calendar_are_accepted_and_control_rows_have_no_effect(four):
    from frt_experiments.policy import policy_from_spec
    pol = {a: policy_from_spec(a, s, default_calendar())
           for a, s in zip(FOUR, ("4h", "4h", "one_business_day", "one_business_day"),
                           strict=True)}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = dose_response(four["customers"], four["conversations"], four["assignments"],
                            calendar=default_calendar(), policies=pol)  # another equal object
    assert list(res.policies) == list(res.arms)
    rows = res.to_pandas()
    control = rows[(rows["row"] == "arm") & (rows["arm"] == "fast")]
    assert control[["effect", "se", "ci_low", "ci_high", "p_value"]].isna().all().all()


def test_cli_refuses_a_dose_no_arm_moves(tmp_path, capsys):
    t = simulate("aa", customers=3_000, rng=8).to_pandas()
    args = _files(tmp_path, {k: t[k] for k in ("customers", "conversations", "assignments")})
    out = tmp_path / "out"
    assert main(["dose-response", *args, "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert "do not move the first-response time enough" in err[0]
    assert not out.exists() or not any(out.iterdir())
    # in Python: one warning, no interval, significance by Anderson-Rubin
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        res = dose_response(t["customers"], t["conversations"], t["assignments"],
                            calendar=default_calendar())
    assert sum("first stage is weak" in str(w.message) for w in seen) == 1
    assert res.summary()[["ci_low", "ci_high"]].isna().all().all()
    assert "no interval: weak first stage" in res.text()
