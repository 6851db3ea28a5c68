"""What the platform's and the harness's command lines share."""

from __future__ import annotations

import argparse
import shlex
import sys

from yhlaw.key_check import KeyMismatch
from yhlaw.warehouse import WarehouseUnavailable


def print_airflow_environment(environment: dict[str, str]) -> int:
    """``export`` lines for a shell: Airflow's environment, and the venv first on PATH (`airflow
    standalone` starts its components as `airflow ...`)."""
    from pathlib import Path

    for key, value in environment.items():
        print(f"export {key}={shlex.quote(value)}")
    print(f"export PATH={shlex.quote(str(Path(sys.executable).parent))}:\"$PATH\"")
    return 0


def run(parser: argparse.ArgumentParser, argv: list[str] | None) -> int:
    """Parse and run a subcommand; a warehouse that is not there, or a PII key that is not the
    warehouse's, is a message, not a traceback."""
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except (WarehouseUnavailable, KeyMismatch) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
