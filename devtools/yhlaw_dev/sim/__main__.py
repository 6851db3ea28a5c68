"""Command line: ``python -m yhlaw_dev.sim serve --source enforcement|petitions|legal_services|courts|mediation --port 8801``.

Every flag falls back to its ``SIM_*`` environment variable, then to the
default.  ``courts`` needs SIM_DROP_DIR, ``mediation`` SIM_DB_ADMIN_URL
(plus optional SIM_DB_NAME, SIM_DB_READER); neither needs SIM_CLIENT_SECRET.  Secrets (SIM_CLIENT_SECRET, SIM_ADMIN_TOKEN) are read from the
environment only, so they never show up in process listings.
"""

from __future__ import annotations

import argparse
import logging
import sys
from datetime import date

from .framework import parse_iso
from .server import SOURCES, SimulatorConfig, SimulatorConfigError, create_app


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m yhlaw_dev.sim", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run a simulated source over HTTP (single process)")
    serve.add_argument("--source", choices=sorted(SOURCES), default="enforcement")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8801)
    serve.add_argument("--log-level", default="info")
    serve.add_argument("--seed", type=int, help="SIM_SEED (default 20220101)")
    serve.add_argument("--cases-per-day", type=int, help="SIM_CASES_PER_DAY (default 40)")
    serve.add_argument("--inspections-per-day", type=int, help="SIM_INSPECTIONS_PER_DAY (default 60)")
    serve.add_argument("--petitions-per-day", type=int, help="SIM_PETITIONS_PER_DAY (default 25)")
    serve.add_argument("--services-per-day", type=int, help="SIM_SERVICES_PER_DAY (default 60)")
    serve.add_argument("--court-cases-per-day", type=int, help="SIM_COURT_CASES_PER_DAY (default 50; courts)")
    serve.add_argument("--mediations-per-day", type=int, help="SIM_MEDIATIONS_PER_DAY (default 30; mediation)")
    serve.add_argument("--drop-dir", help="SIM_DROP_DIR: the courts source's drop folder")
    serve.add_argument("--dirt", help='SIM_DIRT: "default", "none" or "kind:p,..."')
    serve.add_argument("--faults", help='SIM_FAULTS: "none" or "5xx:0.2,429:0.1,..."')
    serve.add_argument("--client-id", help="SIM_CLIENT_ID (default yhlaw-etl)")
    serve.add_argument("--token-ttl", type=int, help="SIM_TOKEN_TTL seconds (default 600)")
    serve.add_argument("--cursor-ttl", type=int, help="SIM_CURSOR_TTL seconds (default 300; cursor sources)")
    serve.add_argument("--rate-limit-per-min", type=int,
                       help="SIM_RATE_LIMIT_PER_MIN per API key (default 600; cursor sources)")
    serve.add_argument("--slow-seconds", type=float, help="SIM_SLOW_SECONDS (default 5)")
    serve.add_argument("--start-date", type=date.fromisoformat, help="SIM_START_DATE (default 2020-01-01)")
    serve.add_argument("--end-date", type=date.fromisoformat, help="SIM_END_DATE (default 2023-12-31)")
    serve.add_argument("--now", type=parse_iso, help="SIM_NOW: pin the world clock (ISO 8601 with offset)")
    return parser


def serve(args: argparse.Namespace) -> int:
    import uvicorn

    overrides = {k: getattr(args, k) for k in (
        "source", "seed", "cases_per_day", "inspections_per_day", "petitions_per_day", "services_per_day",
        "court_cases_per_day", "mediations_per_day", "drop_dir", "dirt", "faults", "client_id", "token_ttl", "cursor_ttl", "rate_limit_per_min", "slow_seconds",
        "start_date", "end_date", "now")}
    try:
        settings = SimulatorConfig.from_env(**overrides)
        app = create_app(settings)
    except (SimulatorConfigError, ValueError) as exc:
        print(f"yhlaw_dev.sim: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(name)s %(levelname)s %(message)s")
    if not settings.admin_token:
        logging.getLogger("yhlaw_dev.sim").warning("SIM_ADMIN_TOKEN unset: /_sim/* endpoints answer 403")
    uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level, workers=1)
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return serve(args)


if __name__ == "__main__":
    sys.exit(main())
