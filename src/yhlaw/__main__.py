"""Command line of the platform: ``python -m yhlaw setup | demo | rebuild | replay | indicators | bench | env``."""

from __future__ import annotations

import argparse
import shlex
import sys

from yhlaw.settings import Settings
from yhlaw.warehouse import WarehouseUnavailable


def cmd_setup(args: argparse.Namespace) -> int:
    from yhlaw.runtime import prepare_airflow, prepare_warehouse

    settings = Settings.from_env(test=args.test)
    applied = prepare_warehouse(settings, recreate=args.test)   # the test database is disposable
    print(f"warehouse {settings.database}: ready ({len(applied)} migration(s) applied now)")
    prepare_airflow(settings)
    print(f"airflow metadata DB: ready in {settings.airflow_home}")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from yhlaw.demo import main

    return main(days=args.days, start=args.start)


def cmd_rebuild(args: argparse.Namespace) -> int:
    from yhlaw.pipeline import rebuild
    from yhlaw.spec import load_spec

    settings = Settings.from_env()
    spec = load_spec(args.source)
    for name, entity in spec.entities.items():
        result = rebuild(entity, warehouse_url=settings.warehouse_url, hmac_key=settings.secrets["PII_HMAC_KEY"])
        print(f"{args.source}.{name}: rebuilt from {result['batches']} landed batches")
    return 0


def cmd_replay(args: argparse.Namespace) -> int:
    from datetime import datetime, timezone

    from yhlaw.pipeline import replay
    from yhlaw.spec import load_spec

    settings = Settings.from_env()
    spec = load_spec(args.source)
    run_id = f"cli__{datetime.now(timezone.utc):%Y%m%dT%H%M%S}"
    for name, entity in spec.entities.items():
        if args.entity and name not in args.entity:
            continue
        r = replay(entity, warehouse_url=settings.warehouse_url, hmac_key=settings.secrets["PII_HMAC_KEY"],
                   reason=args.reason, run_id=run_id)
        print(f"{args.source}.{name}: {r.get('batches', 0)} batches re-validated, {r.get('released', 0)} records "
              f"now in core, {r.get('quarantined_after', 0)} still quarantined, "
              f"{r.get('still_rejected', 0)} batches still rejected (audit.replay run {run_id})")
    return 0


def cmd_indicators(args: argparse.Namespace) -> int:
    from yhlaw import indicators

    if args.docs:
        path = indicators.write_docs()
        print(f"wrote {path}")
        return 0
    from yhlaw.warehouse import transaction

    settings = Settings.from_env()
    with transaction(settings.warehouse_url) as conn:
        r = indicators.refresh(conn, full=args.full, trigger="cli")
    print(f"indicator refresh {r['refresh_id']} ({'full' if args.full else 'incremental'}): {r['new_batches']} new "
          f"batches, {r['indicators']} indicators / {r['months']} indicator-months recomputed, "
          f"{r['rows_written']} rows written, {r['rows_revised']} published values revised")
    return 0


def bench_docs():
    from yhlaw.settings import PROJECT_ROOT

    return PROJECT_ROOT / "docs" / "benchmarks.md"


def cmd_bench(args: argparse.Namespace) -> int:
    import os
    from pathlib import Path

    from yhlaw import bench

    os.environ.pop("WAREHOUSE_ADMIN_URL", None)   # the bench database is derived from WAREHOUSE_URL
    settings = Settings.from_env()
    bench.run(sizes=[int(x) for x in args.sizes.split(",")],
              naive_sizes=[int(x) for x in args.naive_sizes.split(",")] if args.naive_sizes else [],
              indicator_records=args.indicator_records, demo_days=args.demo_days,
              bench=bench.bench_settings(settings), airflow=settings,
              only=args.only.split(",") if args.only else None,
              naive_large=args.naive_large.split(",") if args.naive_large else None,
              out=Path(args.out))
    return 0


def cmd_reliability(args: argparse.Namespace) -> int:
    import os
    from pathlib import Path

    from yhlaw import reliability

    os.environ.pop("WAREHOUSE_ADMIN_URL", None)   # its database is derived from WAREHOUSE_URL
    settings = reliability.reliability_settings(Settings.from_env(), args.database, args.port)
    return reliability.run(quick=args.quick, settings=settings, out=Path(args.out) if args.out else None,
                           sources=args.source)


def cmd_env(args: argparse.Namespace) -> int:
    import os
    from pathlib import Path

    settings = Settings.from_env()
    for key, value in settings.airflow_environment().items():
        print(f"export {key}={shlex.quote(value)}")
    # `airflow standalone` starts its components as `airflow ...`: the venv must be on PATH.
    print(f"export PATH={shlex.quote(str(Path(sys.executable).parent))}:\"$PATH\"")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m yhlaw")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("setup", help="create/migrate the warehouse and the Airflow metadata DB")
    p.add_argument("--test", action="store_true", help="the test database and test AIRFLOW_HOME")
    p.set_defaults(func=cmd_setup)
    p = sub.add_parser("demo", help="run the ingest DAGs end to end on the simulators")
    p.add_argument("--days", type=int, default=30)
    p.add_argument("--start", default="2022-03-01")
    p.set_defaults(func=cmd_demo)
    p = sub.add_parser("rebuild", help="re-derive core from raw for one source (e.g. after rotating the HMAC key)")
    p.add_argument("--source", required=True)
    p.set_defaults(func=cmd_rebuild)
    p = sub.add_parser("replay", help="re-validate quarantined records and rejected batches after a fix")
    p.add_argument("--source", required=True)
    p.add_argument("--entity", action="append", help="only this entity (repeatable)")
    p.add_argument("--reason", help="only batches with quarantined records of this reason code")
    p.set_defaults(func=cmd_replay)
    p = sub.add_parser("indicators", help="refresh mart.indicator_values from core (incremental by default)")
    p.add_argument("--full", action="store_true", help="recompute every period of every indicator")
    p.add_argument("--docs", action="store_true", help="regenerate docs/indicators.md from the catalog")
    p.set_defaults(func=cmd_indicators)
    p = sub.add_parser("bench", help="measure ingest, validation and indicator refresh; write docs/benchmarks.md")
    p.add_argument("--sizes", default="100000,1000000", help="records per ingest, comma-separated")
    p.add_argument("--naive-sizes", default="100000,1000000", help="sizes at which to run the naive baseline too")
    p.add_argument("--indicator-records", type=int, default=10_000_000, help="synthetic core records (0: skip)")
    p.add_argument("--demo-days", type=int, default=3, help="days of `make demo` to time (0: skip)")
    p.add_argument("--only", help="only these entities, e.g. enforcement.case,courts.case")
    p.add_argument("--out", default=str(bench_docs()), help="where to write the report (markdown)")
    p.add_argument("--naive-large", default="",
                   help="entities to run the slow naive baseline for above the smallest size ('' = all)")
    p.set_defaults(func=cmd_bench)
    p = sub.add_parser("reliability", help="inject every fault kind into every source; reconcile; write docs/reliability.md")
    p.add_argument("--quick", action="store_true", help="a source's own fault kinds share one interval (make test)")
    p.add_argument("--source", action="append", help="only this source (repeatable)")
    p.add_argument("--database", default="yuhang_law_reliability", help="its own warehouse database (recreated)")
    p.add_argument("--port", type=int, default=48801, help="first port of its simulators")
    p.add_argument("--out", default=None, help="write the report here (make reliability: docs/reliability.md)")
    p.set_defaults(func=cmd_reliability)
    p = sub.add_parser("env", help="print the environment for running `airflow` by hand")
    p.set_defaults(func=cmd_env)
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except WarehouseUnavailable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
