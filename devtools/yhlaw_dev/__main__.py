"""Command line of the development harness: ``python -m yhlaw_dev demo | run | bench | bench-cockpit | reliability | airflow | env``.

The harness plays the outside world (simulated source systems) around the platform; the
platform's own commands are ``python -m yhlaw setup | rebuild | replay | indicators``.
"""

from __future__ import annotations

import argparse
import sys

from yhlaw.paths import DOCS_DIR
from yhlaw.cli import print_airflow_environment, run

from yhlaw_dev.world import DevSettings as Settings


def cmd_demo(args: argparse.Namespace) -> int:
    from yhlaw_dev.demo import main

    return main(days=args.days, start=args.start)


def cmd_bench(args: argparse.Namespace) -> int:
    import os
    from pathlib import Path

    from yhlaw_dev import bench

    os.environ.pop("WAREHOUSE_ADMIN_URL", None)   # the bench database is derived from WAREHOUSE_URL
    settings = Settings.from_env()
    bench.run(sizes=[int(x) for x in args.sizes.split(",")],
              naive_sizes=[int(x) for x in args.naive_sizes.split(",")] if args.naive_sizes else [],
              indicator_records=args.indicator_records, demo_days=args.demo_days,
              bench=bench.bench_settings(settings, port=args.port, database=args.database),
              airflow=settings,
              peer_sizes=[int(x) for x in args.peer_sizes.split(",") if int(x)] if args.peer_sizes else None,
              peer_runs=args.peer_runs,
              only=args.only.split(",") if args.only else None,
              naive_large=args.naive_large.split(",") if args.naive_large else None,
              out=Path(args.out))
    return 0


def cmd_bench_cockpit(args: argparse.Namespace) -> int:
    """Only the cockpit's figures (§6a of docs/benchmarks.md): optionally (re)build the benchmark
    warehouse's synthetic core first, then time the pages on it and on the demo's warehouse."""
    import os

    from yhlaw import indicators
    from yhlaw.bootstrap import prepare_warehouse
    from yhlaw_dev import bench
    from yhlaw_dev.bench_cockpit import bench_cockpit, render_cockpit, warehouse_with_values
    from yhlaw.warehouse import transaction

    os.environ.pop("WAREHOUSE_ADMIN_URL", None)
    settings = Settings.from_env()
    target = bench.bench_settings(settings)
    prepare_warehouse(target, recreate=bool(args.build))     # migrations and the generated mart views
    if args.build:
        bench.build_synthetic_core(target.admin_url, args.build, print)
        with transaction(target.warehouse_url) as conn:
            indicators.refresh(conn, trigger="bench: cockpit")
    urls = {"demo warehouse": settings.warehouse_url} if warehouse_with_values(settings.warehouse_url) else {}
    result = bench_cockpit({**urls, "benchmark warehouse": target.warehouse_url}, repeats=args.repeats)
    print("\n".join(render_cockpit(result)))
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    """One DAG run for the interval ending at ``--interval-end``, through real Airflow (dag.test)
    in this environment's own metadata DB: what a test needs when its warehouse is not the test
    session's (one Airflow metadata DB holds one warehouse's Assets)."""
    import pendulum

    from yhlaw.bootstrap import prepare_airflow
    from yhlaw_dev.stack import load_dag, run_dag_for_interval, run_state

    settings = Settings.from_env()
    prepare_airflow(settings)
    state = run_state(run_dag_for_interval(load_dag(args.dag), pendulum.parse(args.interval_end)))
    print(f"{args.dag} for the interval ending {args.interval_end}: {state}")
    return 0 if state == "success" else 1


def cmd_reliability(args: argparse.Namespace) -> int:
    import os
    from pathlib import Path

    from yhlaw_dev import hostile, reliability

    os.environ.pop("WAREHOUSE_ADMIN_URL", None)   # its database is derived from WAREHOUSE_URL
    out = Path(args.out) if args.out else None
    code = 0
    if not args.hostile:
        settings = reliability.reliability_settings(Settings.from_env(), args.database, args.port)
        code = reliability.run(quick=args.quick, settings=settings, out=out, sources=args.source)
    if args.hostile or not args.quick:          # make reliability: the fault matrix, then hostile sources
        return max(code, hostile.main(Settings.from_env(), f"{args.database}_hostile", out))
    return code


def cmd_airflow(args: argparse.Namespace) -> int:
    from yhlaw_dev.services import operate

    return operate(Settings.from_env(), api_port=args.port)


def cmd_env(args: argparse.Namespace) -> int:
    """The environment for running ``airflow`` by hand against the simulated systems."""
    settings = Settings.from_env()
    if args.services:
        from yhlaw_dev.services import AirflowServices

        return print_airflow_environment(AirflowServices(settings).environment(settings.default_sim_urls()))
    return print_airflow_environment(settings.airflow_environment())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m yhlaw_dev")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("demo", help="run the ingest DAGs end to end on the simulators")
    p.add_argument("--days", type=int, default=30)
    p.add_argument("--start", default="2022-03-01")
    p.set_defaults(func=cmd_demo)
    p = sub.add_parser("bench", help="measure ingest, validation and indicator refresh; write docs/benchmarks.md")
    p.add_argument("--sizes", default="100000,1000000", help="records per ingest, comma-separated")
    p.add_argument("--naive-sizes", default="100000,1000000", help="sizes at which to run the naive baseline too")
    p.add_argument("--indicator-records", type=int, default=10_000_000, help="synthetic core records (0: skip)")
    p.add_argument("--demo-days", type=int, default=3, help="days of `make demo` to time (0: skip)")
    p.add_argument("--only", help="only these entities, e.g. enforcement.case,courts.case")
    p.add_argument("--out", default=str(DOCS_DIR / "benchmarks.md"), help="where to write the report (markdown)")
    p.add_argument("--database", help="the bench's own database (default yuhang_law_bench or BENCH_DATABASE)")
    p.add_argument("--port", type=int, help="first simulator port (default 28801 or BENCH_SIM_BASE_PORT)")
    p.add_argument("--peer-sizes", help="§1a sizes against dlt and the tutorial path (default 700,100000; "
                                        "add 1000000 for 1M; 0 skips)")
    p.add_argument("--peer-runs", type=int, default=5, help="§1a runs per contender at the daily size")
    p.add_argument("--naive-large", default="",
                   help="entities to run the slow naive baseline for above the smallest size ('' = all)")
    p.set_defaults(func=cmd_bench)
    p = sub.add_parser("run", help="run one DAG for one interval (dag.test) in this environment's metadata DB")
    p.add_argument("--dag", required=True)
    p.add_argument("--interval-end", required=True, help="e.g. 2022-03-01T00:00:00+08:00")
    p.set_defaults(func=cmd_run)
    p = sub.add_parser("bench-cockpit", help="only the cockpit's page times (docs/benchmarks.md §6a)")
    p.add_argument("--build", type=int, default=0, help="first rebuild the benchmark warehouse with N synthetic records")
    p.add_argument("--repeats", type=int, default=20)
    p.set_defaults(func=cmd_bench_cockpit)
    p = sub.add_parser("reliability", help="inject every fault kind into every source; reconcile; write docs/reliability.md")
    p.add_argument("--quick", action="store_true", help="a source's own fault kinds share one interval (make test)")
    p.add_argument("--source", action="append", help="only this source (repeatable)")
    p.add_argument("--database", default="yuhang_law_reliability", help="its own warehouse database (recreated)")
    p.add_argument("--port", type=int, default=48801, help="first port of its simulators")
    p.add_argument("--out", default=None, help="write the report here (make reliability: docs/reliability.md)")
    p.add_argument("--hostile", action="store_true", help="only the hostile sources (fakes per transport)")
    p.set_defaults(func=cmd_reliability)
    p = sub.add_parser("airflow", help="Airflow as operators run it (api-server, scheduler, dag-processor, "
                                       "triggerer, Celery worker; PostgreSQL metadata, Redis) on the simulators")
    p.add_argument("--port", type=int, default=8080, help="the api-server's (UI's) port")
    p.set_defaults(func=cmd_airflow)
    p = sub.add_parser("env", help="print the environment for running `airflow` by hand on the simulators")
    p.add_argument("--services", action="store_true", help="the environment of `make airflow` (PostgreSQL, Celery)")
    p.set_defaults(func=cmd_env)
    return run(parser, argv)


if __name__ == "__main__":
    sys.exit(main())
