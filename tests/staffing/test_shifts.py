"""Shift scheduling by integer programming: exact optimum against brute force, coverage, the
LP bound, breaks, shrinkage and bad inputs named."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from frt_experiments.staffing import ShiftRules, ShiftSchedule, ShiftType, solve_shifts

WEEK = pd.date_range("2025-01-06", periods=336, freq="30min", name="interval_start")


def _weekly(scale: float = 12.0) -> pd.Series:
    h = WEEK.hour + WEEK.minute / 60
    day = np.exp(-0.5 * ((h - 11) / 3) ** 2) + 0.7 * np.exp(-0.5 * ((h - 15.5) / 2.5) ** 2)
    week = np.where(WEEK.day_of_week < 5, 1.0, 0.45)
    return pd.Series(np.ceil(1 + scale * day * week), index=WEEK)


def _brute_force(req: np.ndarray, cover: np.ndarray, cost: np.ndarray, top: int) -> float:
    """The cheapest integer vector x in {0..top}^m with cover @ x >= req, by enumeration."""
    grid = np.array(list(itertools.product(range(top + 1), repeat=cover.shape[1])))
    ok = ((grid @ cover.T) >= req).all(axis=1)
    return float((grid[ok] @ cost).min())


@pytest.mark.parametrize("seed", range(4))
def test_milp_equals_brute_force_on_a_small_instance(seed):
    # two days of 3-hour intervals (16); 6-hour single shifts may start at 00, 06, 12, 18 and
    # 9-hour ones at 06 and 15 (cost 9 hours vs 6): 2 days x 6 columns, 3^... enumerated
    gen = np.random.default_rng(seed)
    req = gen.integers(0, 3, 16)
    rules = ShiftRules([ShiftType("6h", starts=["00:00", "06:00", "12:00", "18:00"],
                                  days_on=None),
                        ShiftType("9h", starts=["06:00", "15:00"], days_on=None)],
                       interval="3h")
    s = solve_shifts(req, rules)
    assert s.status == "optimal"
    # the columns, written out by hand: start slot and length in 3-hour steps
    cols, cost = [], []
    for day in range(2):
        for start, steps in [(0, 2), (2, 2), (4, 2), (6, 2), (2, 3), (5, 3)]:
            a = np.zeros(16)
            a[(day * 8 + start + np.arange(steps)) % 16] = 1
            cols.append(a)
            cost.append(3.0 * steps)
    best = _brute_force(req, np.array(cols).T, np.array(cost), top=2)
    assert s.objective == pytest.approx(best)
    assert s.lp_bound <= s.objective + 1e-9
    assert (s.coverage["scheduled"] >= req).all()


def test_weekly_tours_cover_the_requirement_with_the_lp_bound_below():
    req = _weekly()
    rules = ShiftRules([ShiftType("8h", starts=[f"{h:02d}:00" for h in range(24)])],
                       shrinkage=0.25, time_limit=30)
    s = solve_shifts(req, rules)
    assert isinstance(s, ShiftSchedule)
    assert s.status == "optimal"
    needed = np.ceil(req.to_numpy() / 0.75 - 1e-9)
    assert (s.coverage["needed"].to_numpy() == needed).all()
    assert (s.coverage["scheduled"] >= s.coverage["needed"]).all()
    assert s.lp_bound <= s.objective + 1e-9
    # every tour is 5 days x 8 h, so the headcount is the paid hours / 40
    assert s.agents * 40 == pytest.approx(s.paid_hours_per_week)
    assert s.fte == pytest.approx(s.paid_hours_per_week / 40)
    table = s.to_pandas()
    assert list(table.columns) == ["shift", "start_day", "start_time", "end_time", "days_on",
                                   "agents", "paid_hours"]
    assert table["agents"].sum() == s.agents
    assert set(table["start_day"]) <= {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"}
    # scheduled coverage recomputed from the table: 5 consecutive days (wrapping the week)
    cov = np.zeros(336)
    for r in table.itertuples():
        d0 = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"].index(r.start_day)
        s0 = int(r.start_time[:2]) * 2
        for d in range(5):
            cov[((d0 + d) * 48 + s0 + np.arange(16)) % 336] += r.agents
    assert (cov == s.coverage["scheduled"].to_numpy()).all()
    assert "optimal" in s.summary()
    assert "<table" in s._repr_html_()
    assert isinstance(s.plot(), Figure)


def test_breaks_are_inside_their_window_and_uncovered():
    req = np.tile([0, 0, 0, 0, 2, 3, 3, 3, 3, 3, 2, 0], 1)  # one day of 2-hour intervals
    rules = ShiftRules([ShiftType("8h", days_on=None, break_length="2h",
                                  break_window=("2h", "4h"))], interval="2h")
    s = solve_shifts(req, rules)
    assert s.status == "optimal"
    assert (s.coverage["scheduled"].to_numpy() >= req).all()
    rows = s.to_pandas()
    for r in rows.itertuples():
        start = int(r.start_time[:2])
        for part in r.breaks.split(", "):
            _n, t = part.split(" at ")
            offset = (int(t[:2]) - start) % 24
            assert 2 <= offset <= 4
    # a break costs coverage: the same shifts without breaks cover more
    plain = solve_shifts(req, ShiftRules([ShiftType("8h", days_on=None)], interval="2h"))
    assert plain.objective <= s.objective


def test_shrinkage_raises_the_paid_hours():
    req = (_weekly(6)[:96] - 2).clip(lower=0)  # two days, nobody needed at night
    rules = [ShiftRules([ShiftType("8h", starts="04:00-14:00", days_on=2)], shrinkage=s)
             for s in (0.0, 0.3)]
    lean, padded = (solve_shifts(req.set_axis(WEEK[:96]), r) for r in rules)
    assert padded.paid_hours_per_week > lean.paid_hours_per_week


@pytest.mark.parametrize(("requirement", "rules", "message"), [
    (np.r_[np.ones(47), -1.0], ShiftRules(), r"requirement must be finite numbers >= 0, got "
                                             r"-1 at interval 47"),
    (np.ones(47), ShiftRules(), "requirement must cover whole days"),
    (np.ones(48), ShiftRules([ShiftType("30h", days_on=None)]),
     r"shifts: shift '30h' lasts .*longer than the requirement's 1-day horizon"),
    (np.ones(48), ShiftRules([ShiftType("8h", days_on=5)]),
     "shifts: shift '8h' is worked 5 days in a row, more than the requirement's 1 days"),
    (np.ones(48), ShiftRules([ShiftType("8h", starts="06:15", days_on=None)]),
     r"shifts: shift '8h' has no allowed start time on the 0 days 00:30:00 grid"),
    (np.ones(48), ShiftRules([ShiftType("8h", starts=[], days_on=None)]),
     "shifts: shift '8h' has no allowed start time"),
    (np.r_[np.zeros(24), np.ones(24)], ShiftRules([ShiftType("4h", starts="00:00-06:00",
                                                              days_on=None)]),
     r"requirement: interval 24 needs 1 agents but no allowed shift covers it"),
    (np.ones(48), ShiftRules([ShiftType("7h45min", days_on=None)], interval="1h"),
     r"must be a multiple of the interval"),
])
def test_bad_inputs_are_value_errors_naming_the_argument(requirement, rules, message):
    with pytest.raises(ValueError, match=message):
        solve_shifts(requirement, rules)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"shifts": []}, "shifts: give at least one shift type"),
    ({"shrinkage": 1.0}, r"shrinkage must be a share in \[0, 1\)"),
    ({"interval": "7min"}, "interval must divide a day"),
    ({"time_limit": 0}, "time_limit must be a positive number"),
    ({"shifts": ["8h", "8h"]}, "shifts: names must differ"),
    ({"shifts": ["soon"]}, "shifts: length must be a duration"),
    ({"shifts": ["30h"]}, "longer than a day"),
])
def test_bad_rules_name_the_argument(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ShiftRules(**kwargs)


def test_series_requirement_must_start_at_midnight_and_be_evenly_spaced():
    req = _weekly()
    with pytest.raises(ValueError, match="first interval must start at midnight"):
        solve_shifts(req.iloc[1:49], ShiftRules())
    with pytest.raises(ValueError, match="index is spaced"):
        solve_shifts(req, ShiftRules(interval="1h"))
    with pytest.raises(ValueError, match="break_window"):
        ShiftType("8h", break_length="30min", break_window=("6h", "8h"))


# ------------------------------------------------------------------ plan and CLI


@pytest.fixture(scope="module")
def trial_files(tmp_path_factory):
    import frt_experiments as frt
    from frt_experiments.schema import write_table

    d = tmp_path_factory.mktemp("trial")
    trial = frt.simulate(customers=3_000, months=2, rng=4)
    write_table(trial.conversations, d / "conversations.csv")
    write_table(trial.assignments, d / "assignments.csv")
    return d


def _plan_argv(trial_files, out, *extra):
    return ["staffing", "plan", "--conversations", str(trial_files / "conversations.csv"),
            "--assignments", str(trial_files / "assignments.csv"),
            "--desk-timezone", "America/New_York", "--hours", "Mon-Fri 08:00-20:00",
            "--weeks", "2", "--targets", "4", "--out", str(out), *extra]


def test_cli_plan_with_shifts_writes_the_schedules_beside_the_plan(trial_files, tmp_path,
                                                                   capsys):
    from frt_experiments.cli import main

    out = tmp_path / "plan"
    # shifts starting 06:00-10:00: the schedule's integer programs solve in a third of the
    # time of 06:00-14:00 (17 s against 46 s for the whole command), outputs alike
    status = main(_plan_argv(trial_files, out, "--shifts", "8h,6h", "--interval", "1h",
                             "--shift-starts", "06:00-10:00", "--shrinkage", "0.3",
                             "--time-limit", "20"))
    text = capsys.readouterr().out
    assert status == 0, text
    assert "On shift schedules (8h, 6h shifts, 60-minute intervals, shrinkage 30%)" in text
    assert "saved on schedules:" in text
    plan = pd.read_csv(out / "staffing_plan.csv")  # today's table, unchanged
    assert list(plan["policy"]) == ["everyone_fast", "rollout"]
    sched = pd.read_csv(out / "staffing_scheduled.csv")
    assert list(sched["policy"]) == ["everyone_fast", "rollout"]
    assert (sched["status"] == "optimal").all()
    assert (sched["share_within_target_fast"] >= 0.9).all()
    shifts = pd.read_csv(out / "shift_schedule.csv")
    assert {"policy", "shift", "start_day", "start_time", "agents"} <= set(shifts.columns)
    assert set(shifts["start_time"]) <= {f"{h:02d}:00" for h in range(6, 11)}
    for pol, g in shifts.groupby("policy"):
        assert g["agents"].sum() == sched.set_index("policy").loc[pol, "people"]
    cov = pd.read_csv(out / "interval_staffing.csv")
    assert len(cov) == 2 * 168
    assert (cov["scheduled"] >= cov["needed"]).all()
    # a run without --shifts removes the schedule files of the earlier run
    assert main(_plan_argv(trial_files, out)) == 0
    capsys.readouterr()
    assert not (out / "shift_schedule.csv").exists()
    assert (out / "staffing_plan.csv").exists()


@pytest.mark.parametrize(("extra", "message"), [
    (["--interval", "1h"], "frt staffing plan: --interval needs --shifts"),
    (["--shrinkage", "0.3"], "frt staffing plan: --shrinkage needs --shifts"),
    (["--shifts", "8h", "--interval", "7min"], "frt staffing plan: --interval must divide a day"),
    (["--shifts", "30h"], "frt staffing plan: --shifts: shift '30h' lasts 1 days 06:00:00, "
                          "longer than a day"),
    (["--shifts", "8h", "--shrinkage", "1.5"], "frt staffing plan: --shrinkage must be a share"),
    (["--shifts", "8h", "--days-on", "0"], "frt staffing plan: --days-on must be a whole"),
    (["--shifts", "8h", "--shift-starts", "06:15"], "frt staffing plan: --shifts: shift '8h' "
                                                    "has no allowed start time"),
    (["--shifts", "soon"], "frt staffing plan: --shifts must be a duration"),
])
def test_cli_bad_shift_flags_are_one_line_exit_2_nothing_written(trial_files, tmp_path, extra,
                                                                  message, capsys):
    from frt_experiments.cli import main

    out = tmp_path / "plan"
    assert main(_plan_argv(trial_files, out, *extra)) == 2
    err = capsys.readouterr().err
    assert message in err, err
    assert len(err.strip().splitlines()) == 1
    assert not out.exists()
