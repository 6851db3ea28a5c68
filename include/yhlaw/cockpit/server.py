"""The cockpit's process: uvicorn serving ``app`` as role ``dashboard``, holding no other secret.

``COCKPIT_DATABASE_URL`` says where to connect (default: the warehouse of ``WAREHOUSE_URL`` as
user ``dashboard``, no password: a deployment gives its own URL). Before anything else the
process removes from its environment every variable that could carry another credential (the
warehouse's other URLs, Airflow connections, the PII key, anything named like a secret), so
neither the app nor a library it loads can reach them.
"""

from __future__ import annotations

import os
import re
import sys

from yhlaw.settings import DEFAULT_WAREHOUSE_URL, with_user

DATABASE_ENV = "COCKPIT_DATABASE_URL"
_SECRET_NAME = re.compile(r"^(AIRFLOW_CONN_|AIRFLOW__)|PASSWORD|SECRET|TOKEN|_KEY$|^PII_|^WAREHOUSE_|^SIM_")


def database_url(environ: dict[str, str] | None = None) -> str:
    env = os.environ if environ is None else environ
    return env.get(DATABASE_ENV) or with_user(env.get("WAREHOUSE_URL", DEFAULT_WAREHOUSE_URL), "dashboard")


def strip_secrets(environ: dict[str, str] | None = None) -> list[str]:
    """Remove every credential-like variable; returns the names removed (never the values)."""
    env = os.environ if environ is None else environ
    removed = sorted(k for k in env if _SECRET_NAME.search(k) and k != DATABASE_ENV)
    for k in removed:
        del env[k]
    return removed


def clean_environment(environ: dict[str, str] | None = None) -> dict[str, str]:
    """The environment the cockpit process starts with: no credential but its own database URL."""
    env = dict(os.environ if environ is None else environ)
    env[DATABASE_ENV] = database_url(env)
    strip_secrets(env)
    return env


def exec_server(host: str, port: int) -> None:
    """Replace this process by the server, started with ``clean_environment()``: the secrets
    are never in the server's environment, not even in its initial one (/proc/<pid>/environ)."""
    os.execve(sys.executable, [sys.executable, "-m", "yhlaw.cockpit.server", host, str(port)], clean_environment())


def serve(host: str, port: int) -> None:
    import uvicorn

    from yhlaw.cockpit.app import create_app
    from yhlaw.cockpit.db import Mart
    from yhlaw.cockpit.report import reports_dir
    from yhlaw.cockpit.vendor import echarts_path

    url = database_url()
    strip_secrets()
    mart = Mart(url)
    app = create_app(mart, echarts=echarts_path(), reports_dir=reports_dir())
    try:
        uvicorn.run(app, host=host, port=port, log_level="info")
    finally:
        mart.close()


if __name__ == "__main__":
    serve(sys.argv[1], int(sys.argv[2]))
