"""Separate agent pools per arm (issue 17, item 3): agents split in proportion to each arm's
pre-period work by largest remainder, and a tags file with each customer's pool for routing."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from frt_experiments import schema
from frt_experiments.assignment import split_pools, write_tags
from frt_experiments.cli import main


def _tables():
    cust = pd.DataFrame({schema.CUSTOMER_ID: [f"c{i}" for i in range(6)],
                         schema.PRE_HANDLE_SECONDS: [100.0, 200.0, 300.0, 50.0, 50.0, 300.0]})
    asg = pd.DataFrame({schema.CUSTOMER_ID: [f"c{i}" for i in range(6)],
                        schema.ARM: ["fast", "fast", "fast", "slow", "slow", "slow"]})
    return cust, asg


def test_agents_split_by_work_with_largest_remainder():
    cust, asg = _tables()
    pools = split_pools(asg, cust, 10)
    # work 600 and 400: one agent each, the other 8 split 4.8 / 3.2 -> 5 / 3
    assert pools["agents"].tolist() == [6, 4]
    assert pools["share"].tolist() == pytest.approx([0.6, 0.4])
    assert pools["agents"].sum() == 10
    assert pools["pool"].tolist() == ["pool-fast", "pool-slow"]
    assert split_pools(asg, cust, 2)["agents"].tolist() == [1, 1]


def test_sums_always_to_the_agents_and_follow_the_shares():
    rng = np.random.default_rng(1)
    for _ in range(200):
        k = int(rng.integers(2, 6))
        n = 50
        cust = pd.DataFrame({schema.CUSTOMER_ID: [f"c{i}" for i in range(n)],
                             schema.PRE_HANDLE_SECONDS: rng.gamma(1.0, 100.0, n)})
        asg = pd.DataFrame({schema.CUSTOMER_ID: cust[schema.CUSTOMER_ID],
                            schema.ARM: [f"a{j}" for j in np.arange(n) % k]})
        agents = int(rng.integers(k, 60))
        pools = split_pools(asg, cust, agents)
        assert pools["agents"].sum() == agents
        assert (pools["agents"] >= 1).all()
        # Hamilton's method: each pool within one agent of its quota above the first agent
        quota = 1 + pools["share"] * (agents - k)
        assert (np.abs(pools["agents"] - quota) < 1).all()


def test_bad_pools_are_refused():
    cust, asg = _tables()
    with pytest.raises(ValueError, match="at least one agent per arm"):
        split_pools(asg, cust, 1)
    with pytest.raises(ValueError, match="no column 'handle'"):
        split_pools(asg, cust, 4, work="handle")
    with pytest.raises(ValueError, match="sums to zero"):
        split_pools(asg, cust.assign(**{schema.PRE_HANDLE_SECONDS: 0.0}), 4)


def test_tags_carry_the_pool(tmp_path):
    cust, asg = _tables()
    pools = split_pools(asg, cust, 4)
    out = write_tags(asg, tmp_path / "tags.csv", "Low Spend", pools=pools)
    tags = pd.read_csv(out)
    assert tags["pool"].tolist() == ["frt-low_spend-pool-fast"] * 3 + \
        ["frt-low_spend-pool-slow"] * 3
    with pytest.raises(ValueError, match="no pool for arm 'slow'"):
        write_tags(asg, tmp_path / "t2.csv", "x", pools=pools.iloc[:1])


def test_cli_pool_agents(tmp_path, capsys):
    from frt_experiments.simulate import simulate
    t = simulate("published", customers=3_000, rng=2).to_pandas()
    t["customers"].to_csv(tmp_path / "customers.csv", index=False)
    args = ["assign", "--customers", str(tmp_path / "customers.csv"), "--experiment", "e",
            "--salt", "s", "--ledger", str(tmp_path / "ledger.csv"), "--max-spend", "100",
            "--assigned-at", "2026-03-02T09:00:00Z"]
    assert main([*args, "--pool-agents", "12"]) == 2
    assert "--pool-agents: give --export-tags" in capsys.readouterr().err
    assert main([*args, "--export-tags", str(tmp_path / "tags.csv"),
                 "--pool-agents", "12"]) == 0
    printed = capsys.readouterr().out
    assert "agent pools (12 agents by pre_handle_seconds)" in printed
    tags = pd.read_csv(tmp_path / "tags.csv")
    assert set(tags["pool"]) == {"frt-e-pool-fast", "frt-e-pool-one_business_day"}
