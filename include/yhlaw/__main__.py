"""Command line of the platform: ``python -m yhlaw setup | rebuild | rotate-key | replay | indicators | docs | env |
cockpit | report``.

The demo, the benchmarks and the reliability harness are the development harness's:
``python -m yhlaw_dev demo | bench | reliability | env``.
"""

from __future__ import annotations

import argparse
import os
import sys

from yhlaw.cli import print_airflow_environment, run
from yhlaw.settings import Settings


def cmd_setup(args: argparse.Namespace) -> int:
    from yhlaw.bootstrap import prepare_airflow, prepare_warehouse

    settings = Settings.from_env(test=args.test)
    applied = prepare_warehouse(settings, recreate=args.test)   # the test database is disposable
    print(f"warehouse {settings.database}: ready ({len(applied)} migration(s) applied now)")
    prepare_airflow(settings)
    print(f"airflow metadata DB: ready in {settings.airflow_home}")
    from yhlaw.cockpit.browser import browser_status
    from yhlaw.cockpit.vendor import install_assets

    try:
        print(install_assets())
    except RuntimeError as exc:         # only the cockpit's charts need them: say so, go on
        print(f"cockpit assets: MISSING, {exc}")
    print(browser_status(install=True))
    return 0


def cmd_rebuild(args: argparse.Namespace) -> int:
    from yhlaw.pipeline import rebuild
    from yhlaw.spec import load_spec

    settings = Settings.from_env()
    spec = load_spec(args.source)
    for name, entity in spec.entities.items():
        result = rebuild(entity, warehouse_url=settings.warehouse_url, hmac_key=settings.hmac_key)
        print(f"{args.source}.{name}: rebuilt from {result['batches']} landed batches")
    return 0


def cmd_rotate_key(args: argparse.Namespace) -> int:
    from yhlaw.pipeline import rotate_key
    from yhlaw.spec import load_spec, source_names

    settings = Settings.from_env()
    entities = [e for s in source_names() for e in load_spec(s).entities.values()]
    done = rotate_key(entities, warehouse_url=settings.warehouse_url, new_key=settings.hmac_key)
    for name, batches in done.items():
        print(f"{name}: rebuilt from {batches} landed batches under the new key")
    print("the warehouse's PII key is now the one in use (audit.pii_key); destroy the old one")
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
        r = replay(entity, warehouse_url=settings.warehouse_url, hmac_key=settings.hmac_key,
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


def cmd_docs(args: argparse.Namespace) -> int:
    """Regenerate every document made from the platform's declarations (tests hold them equal)."""
    from yhlaw import indicators, reasons, spec_docs

    print(f"wrote {indicators.write_docs()}")
    reasons.write_reason_docs()
    print(f"wrote {reasons.REASON_DOCS_FILE}")
    print(f"wrote {spec_docs.write_sources_doc()}")
    return 0


def cmd_cockpit(args: argparse.Namespace) -> int:
    from yhlaw.cockpit.server import exec_server

    print(f"法治驾驶舱: http://{args.host}:{args.port}/ (Ctrl-C stops it)", flush=True)
    exec_server(args.host, args.port)
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from datetime import date

    from yhlaw.cockpit.report import MonthNotComplete, render_month

    settings = Settings.from_env()
    month = date.fromisoformat(args.month + "-01")
    try:
        done = render_month(settings.warehouse_url, month, force=args.force)
    except MonthNotComplete as exc:
        print(f"{exc}; --force renders it anyway, marked 含初步数", file=sys.stderr)
        return 1
    print(f"月度通报 {args.month}: {done['pdf_path']} ({done['pdf_pages']} pages"
          f"{', 含初步数' if done['provisional'] else ''})")
    return 0


def cmd_env(args: argparse.Namespace) -> int:
    return print_airflow_environment(Settings.from_env().airflow_environment())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m yhlaw")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("setup", help="create/migrate the warehouse and the Airflow metadata DB")
    p.add_argument("--test", action="store_true", help="the test database and test AIRFLOW_HOME")
    p.set_defaults(func=cmd_setup)
    p = sub.add_parser("rebuild", help="re-derive core from raw for one source (same key; to change it: rotate-key)")
    p.add_argument("--source", required=True)
    p.set_defaults(func=cmd_rebuild)
    p = sub.add_parser("rotate-key", help="rebuild every entity under the PII key now in use and adopt it "
                                          "(docs/security.md; pause the ingest DAGs first)")
    p.set_defaults(func=cmd_rotate_key)
    p = sub.add_parser("replay", help="re-validate quarantined records and rejected batches after a fix")
    p.add_argument("--source", required=True)
    p.add_argument("--entity", action="append", help="only this entity (repeatable)")
    p.add_argument("--reason", help="only batches with quarantined records of this reason code")
    p.set_defaults(func=cmd_replay)
    p = sub.add_parser("indicators", help="refresh mart.indicator_values from core (incremental by default)")
    p.add_argument("--full", action="store_true", help="recompute every period of every indicator")
    p.add_argument("--docs", action="store_true", help="regenerate docs/indicators.md from the catalog")
    p.set_defaults(func=cmd_indicators)
    p = sub.add_parser("docs", help="regenerate the generated docs (indicators, reason codes, sources)")
    p.set_defaults(func=cmd_docs)
    p = sub.add_parser("cockpit", help="serve the 法治驾驶舱 on the marts, as role dashboard")
    p.add_argument("--host", default=os.environ.get("COCKPIT_HOST", "127.0.0.1"))
    p.add_argument("--port", type=int, default=int(os.environ.get("COCKPIT_PORT", "8050")))
    p.set_defaults(func=cmd_cockpit)
    p = sub.add_parser("report", help="render the monthly 通报 (HTML and PDF) of a month")
    p.add_argument("month", help="YYYY-MM")
    p.add_argument("--force", action="store_true", help="even if the month's data is not complete")
    p.set_defaults(func=cmd_report)
    p = sub.add_parser("env", help="print the environment for running `airflow` by hand")
    p.set_defaults(func=cmd_env)
    return run(parser, argv)


if __name__ == "__main__":
    sys.exit(main())
