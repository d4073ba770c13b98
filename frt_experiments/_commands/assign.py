"""``frt assign``: screen customers, split the eligible ones by hash, keep the ledger."""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path
from typing import Any

from frt_experiments._commands._args import check_not_an_input, check_output_file, seed
from frt_experiments._commands._names import CUSTOMER_ID, DEFAULT_LOCK_TIMEOUT, DIALECTS
from frt_experiments.errors import LedgerError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "assign",
        help="assign eligible low-spend customers to arms (hashed split, append-only ledger)",
        description="Screen customers for eligibility (low spend by a ceiling or a quantile, "
        "optional segments), assign the eligible ones by SHA-256 bucket of 'SALT:customer_id', "
        "and append newly eligible customers to the ledger (existing rows never change; a "
        "changed salt, arm set, weights or eligibility rule is an error). With --strata or "
        "--spend-bands and --seed, a fixed cohort is randomized in permuted blocks within "
        "strata instead. Prints counts per arm, the sample-ratio-mismatch test and the "
        "covariate balance table. Every update holds an exclusive lock on <ledger>.lock and "
        "commits the ledger, <ledger>.excluded.csv and <ledger>.meta.json together; "
        "meta.json carries an integrity record of the other two, checked on every run. "
        "With --verify, only checks the ledger (--salt and --ledger). With --emit-sql DIALECT, "
        "prints the SQL of each customer's bucket and arm instead (--salt, --arms, --weights; "
        "no customers, no ledger).",
    )
    p.add_argument("--customers", type=Path, metavar="FILE",
                   help="customers (CSV or Parquet): customer_id, monthly_spend[, segment, "
                   "pre-period covariates] (required unless --verify)")
    p.add_argument("--experiment", metavar="NAME",
                   help="experiment name (required unless --verify)")
    p.add_argument("--salt", help="hash salt; a new one per experiment (hashed split)")
    rule = p.add_mutually_exclusive_group()
    rule.add_argument("--max-spend", type=float, metavar="X",
                      help="eligible: monthly_spend at most X")
    rule.add_argument("--spend-quantile", type=float, metavar="Q",
                      help="eligible: monthly_spend at most its Q quantile (fixed on first run)")
    p.add_argument("--ledger", type=Path, metavar="FILE",
                   help="assignments ledger (CSV or Parquet); created or appended to (a "
                   "symbolic link is followed and its target updated in place; required "
                   "unless --emit-sql)")
    p.add_argument("--verify", action="store_true",
                   help="check the ledger without changing it: every bucket and arm "
                   "recomputed from --salt, the integrity record in <ledger>.meta.json and the "
                   "excluded list checked; prints one line and exits 0, or exits 2 naming the "
                   "problem")
    p.add_argument("--emit-sql", metavar="DIALECT",
                   help="print the SQL expressions of the bucket and the arm of each customer "
                   "for --salt, --arms and --weights, exactly as frt assign computes them, and "
                   f"exit ({', '.join(DIALECTS)}); reads no customers, touches no ledger")
    p.add_argument("--id-column", metavar="SQL",
                   help=f"with --emit-sql: the customer id column or expression, inserted as "
                   f"written (default: {CUSTOMER_ID})")
    p.add_argument("--lock-timeout", type=_seconds, default=DEFAULT_LOCK_TIMEOUT,
                   metavar="SECONDS",
                   help="how long to wait while another run holds the ledger's lock "
                   f"(default: {DEFAULT_LOCK_TIMEOUT:g})")
    p.add_argument("--export-tags", type=Path, metavar="FILE",
                   help="also write customer_id, arm, tag (frt-NAME-ARM) for helpdesk tagging")
    p.add_argument("--pool-agents", type=int, metavar="N",
                   help="with --export-tags: split N agents into one pool per arm, in "
                   "proportion to each arm's pre-period handle time (separate pools remove the "
                   "interference between arms of one desk); adds a pool column to the tags and "
                   "prints the agents per pool")
    p.add_argument("--arms", default="fast,one_business_day", metavar="A,B",
                   help="arm names, control first (default: fast,one_business_day)")
    p.add_argument("--weights", default=None, metavar="W1,W2",
                   help="relative arm sizes (default: equal)")
    p.add_argument("--include-segment", action="append", metavar="SEGMENT",
                   help="only customers in this segment (repeatable)")
    p.add_argument("--exclude-segment", action="append", metavar="SEGMENT",
                   help="leave out customers in this segment (repeatable)")
    p.add_argument("--assigned-at", metavar="TIMESTAMP",
                   help="ISO 8601 time with offset written for new rows (default: now)")
    strat = p.add_argument_group(
        "stratified cohort", "instead of the hashed split: permuted blocks within strata, exact "
        "balance per stratum, for a fixed cohort (the ledger must not exist yet)")
    strat.add_argument("--strata", action="append", metavar="COLUMN",
                       help="stratify by this customers column (repeatable)")
    strat.add_argument("--spend-bands", type=int, metavar="K",
                       help="stratify by K spend quantile bands of the eligible cohort")
    strat.add_argument("--seed", type=seed, help="random seed of the stratified assignment")
    p.set_defaults(func=run)


def _seconds(text: str) -> float:
    """``argparse`` type of ``--lock-timeout``: a finite number of seconds >= 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number of seconds, got {text!r}") from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"must be a finite number of seconds >= 0, got {text}")
    return value


def _list(text: str, name: str) -> list[str]:
    items = [t.strip() for t in text.split(",")]
    if any(not t for t in items):
        raise ValueError(f"{name}: empty item in {text!r} (use comma-separated values)")
    return items


def run(args: argparse.Namespace) -> int:
    from frt_experiments._limits import check_timestamp_text  # noqa: PLC0415 (heavy imports)
    from frt_experiments.assignment import (  # noqa: PLC0415 (heavy imports)
        assign,
        read_customers,
        split_pools,
        stratified_assign,
        write_tags,
    )
    from frt_experiments.ledger import (  # noqa: PLC0415 (heavy imports)
        ledger_lock,
        recover,
        resolve_ledger,
        sidecars,
    )
    from frt_experiments.schema import (  # noqa: PLC0415 (heavy imports)
        PRE_CONVERSATIONS,
        PRE_HANDLE_SECONDS,
        write_table,
    )
    arms = _list(args.arms, "--arms")
    if args.weights is None:
        weights = [1.0] * len(arms)
    else:
        try:
            weights = [float(w) for w in _list(args.weights, "--weights")]
        except ValueError as exc:
            raise ValueError(f"--weights: {args.weights!r} is not a list of numbers") from exc
    stratified = bool(args.strata) or args.spend_bands is not None
    if args.emit_sql is not None:
        return _emit_sql(args, arms, weights, stratified)
    if args.id_column is not None:
        raise ValueError("--id-column: only with --emit-sql")
    if args.ledger is None:
        raise ValueError("the following arguments are required: --ledger")
    if args.verify:
        return _verify(args, arms, weights, stratified)
    if args.assigned_at is not None:  # bounded in length and years, with an offset
        args.assigned_at = check_timestamp_text(args.assigned_at, "--assigned-at")
    missing = [flag for flag, value in (("--customers", args.customers),
                                        ("--experiment", args.experiment)) if value is None]
    if missing:
        raise ValueError(f"the following arguments are required: {', '.join(missing)}")
    if args.max_spend is None and args.spend_quantile is None:
        raise ValueError("one of the arguments --max-spend --spend-quantile is required")
    if stratified:
        if args.salt is not None:
            raise ValueError("--salt: a stratified cohort is not hashed; leave out --salt, or "
                             "leave out --strata/--spend-bands for the hashed split")
        if args.seed is None:
            raise ValueError("--seed: required with --strata/--spend-bands, so the "
                             "assignment can be reproduced")
        if args.ledger.exists():
            raise LedgerError(f"{args.ledger.name}: exists; a stratified cohort is assigned "
                              "once and cannot be extended (use a new ledger file)")
    elif args.salt is None:
        raise ValueError("--salt: required for the hashed split (or give --strata/"
                         "--spend-bands and --seed for a stratified cohort)")
    check_output_file(args.ledger, "--ledger")
    if args.pool_agents is not None and args.export_tags is None:
        raise ValueError("--pool-agents: give --export-tags FILE too (the pools are routed by "
                         "the tags file's pool column)")
    if args.export_tags is not None:
        check_output_file(args.export_tags, "--export-tags")
        meta, excluded = sidecars(args.ledger)
        check_not_an_input(args.export_tags, "--export-tags", {
            "--customers": args.customers, "--ledger": args.ledger,
            "--ledger's meta.json": meta, "--ledger's excluded.csv": excluded})
    customers = read_customers(args.customers)
    common: dict[str, Any] = {
        "experiment": args.experiment, "max_spend": args.max_spend,
        "spend_quantile": args.spend_quantile, "arms": arms, "weights": weights,
        "include_segments": args.include_segment, "exclude_segments": args.exclude_segment,
        "assigned_at": args.assigned_at, "source": args.customers.name,
    }
    if stratified:
        result = stratified_assign(customers, strata=args.strata, spend_bands=args.spend_bands,
                                   rng=args.seed, **common)
        real = resolve_ledger(args.ledger)
        with ledger_lock(real, timeout=args.lock_timeout):
            for note in recover(real):
                print(f"note: {note}", file=sys.stderr)
            if real.exists():  # made by another run since the check above
                raise LedgerError(f"{args.ledger.name}: exists; a stratified cohort is "
                                  "assigned once and cannot be extended (use a new ledger file)")
            write_table(result.assignments, real)
    else:
        result = assign(customers, salt=str(args.salt), ledger=args.ledger,
                        lock_timeout=args.lock_timeout, **common)
        for note in result.notes:
            print(f"note: {note}", file=sys.stderr)
    print(result.summary(), file=sys.stdout)
    print(f"ledger: {args.ledger} ({len(result.assignments):,} rows, "
          f"{result.n_new:,} new)", file=sys.stdout)
    if args.export_tags is not None:
        pools = None
        if args.pool_agents is not None:
            work = (PRE_HANDLE_SECONDS if PRE_HANDLE_SECONDS in customers.columns
                    else PRE_CONVERSATIONS)
            pools = split_pools(result.assignments, customers, args.pool_agents, work=work)
        write_tags(result.assignments, args.export_tags, args.experiment, pools=pools)
        print(f"tags: {args.export_tags}", file=sys.stdout)
        if pools is not None:
            print(f"agent pools ({args.pool_agents} agents by {work}):", file=sys.stdout)
            print(pools.to_string(index=False, float_format=lambda v: f"{v:.4g}"),
                  file=sys.stdout)
    return 0


def _verify(args: argparse.Namespace, arms: list[str], weights: list[float],
            stratified: bool) -> int:
    """``--verify``: check the ledger, change nothing."""
    from frt_experiments.ledger import verify_ledger  # noqa: PLC0415 (heavy imports)
    if args.salt is None:
        raise ValueError("--salt: required with --verify (every bucket is recomputed from it)")
    given = [flag for flag, value in (("--customers", args.customers),
                                      ("--max-spend", args.max_spend),
                                      ("--spend-quantile", args.spend_quantile),
                                      ("--export-tags", args.export_tags),
                                      ("--assigned-at", args.assigned_at),
                                      ("--strata/--spend-bands", stratified or None),
                                      ("--seed", args.seed)) if value is not None]
    if given:
        raise ValueError(f"--verify: checks the ledger only; leave out {', '.join(given)}")
    check = verify_ledger(args.ledger, salt=str(args.salt), experiment=args.experiment,
                          arms=arms, weights=weights, lock_timeout=args.lock_timeout)
    for note in check.notes:
        print(f"note: {note}", file=sys.stderr)
    print(check.summary(), file=sys.stdout)
    return 0


def _emit_sql(args: argparse.Namespace, arms: list[str], weights: list[float],
              stratified: bool) -> int:
    """``--emit-sql``: print the bucket and arm expressions, read and write nothing."""
    from frt_experiments.schema import ARM, BUCKET, CUSTOMER_ID  # noqa: PLC0415 (heavy imports)
    from frt_experiments.sql import DIALECTS, arm_sql, bucket_sql  # noqa: PLC0415 (heavy imports)
    dialect = args.emit_sql.strip().lower()
    if dialect not in DIALECTS:
        raise ValueError(f"--emit-sql: {args.emit_sql!r} is not a supported dialect; use one "
                         f"of {', '.join(DIALECTS)}")
    given = [flag for flag, value in (("--customers", args.customers),
                                      ("--experiment", args.experiment),
                                      ("--ledger", args.ledger),
                                      ("--verify", args.verify or None),
                                      ("--max-spend", args.max_spend),
                                      ("--spend-quantile", args.spend_quantile),
                                      ("--export-tags", args.export_tags),
                                      ("--assigned-at", args.assigned_at),
                                      ("--include-segment", args.include_segment),
                                      ("--exclude-segment", args.exclude_segment),
                                      ("--strata/--spend-bands", stratified or None),
                                      ("--seed", args.seed)) if value is not None]
    if given:
        raise ValueError(f"--emit-sql: prints the SQL only; leave out {', '.join(given)}")
    if args.salt is None:
        raise ValueError("--salt: required with --emit-sql (the SQL hashes 'SALT:id')")
    id_column = CUSTOMER_ID if args.id_column is None else args.id_column
    bucket = bucket_sql(dialect, args.salt, id_column=id_column)
    arm = arm_sql(dialect, args.salt, arms=arms, weights=weights, id_column=id_column)
    print(f"{bucket} AS {BUCKET},\n{arm} AS {ARM}", file=sys.stdout)
    return 0
