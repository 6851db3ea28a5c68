"""The platform's settings, in one typed place, with their defaults.

Settings come from environment variables. The one secret the platform itself holds, the PII
HMAC key, is never in the repository: on first use it is generated into ``.local/secrets.env``
(git-ignored), or taken from the environment when set there (as a deployment would, e.g. from
a secrets manager). Where the source systems are is not a setting: each source's Airflow
connection (named in its spec) says so. The development harness (``yhlaw_dev``) extends these
settings with where its simulated systems live.

The same names are used by ``docker-compose.yml``.
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

from yhlaw.assets import DEFAULT_WAREHOUSE_URL
from yhlaw.paths import DAGS_DIR, LOCAL_DIR, PLUGINS_DIR, PROJECT_ROOT, REFERENCE_DIR
from yhlaw.spec import load_spec, source_names
from yhlaw.zone import DISTRICT_TZ

__all__ = ["DEFAULT_WAREHOUSE_URL", "LOCAL_DIR", "PROJECT_ROOT", "SECRET_NAMES", "TEST_DATABASE", "Settings",
           "local_secrets", "with_database", "with_user"]

TEST_DATABASE = "yuhang_law_test"
DEFAULT_DATABASE = urlsplit(DEFAULT_WAREHOUSE_URL).path.lstrip("/")

# The platform's secret, generated locally on first use when not supplied by the environment.
SECRET_NAMES = ("PII_HMAC_KEY",)


def _load_secrets_file(path: Path) -> dict[str, str]:
    values: dict[str, str] = {}
    if path.exists():
        for line in path.read_text().splitlines():
            if "=" in line and not line.lstrip().startswith("#"):
                k, v = line.split("=", 1)
                values[k.strip()] = v.strip()
    return values


def local_secrets(names: tuple[str, ...] = SECRET_NAMES) -> dict[str, str]:
    """Secrets from the environment, else from .local/secrets.env (missing ones generated there)."""
    path = LOCAL_DIR / "secrets.env"
    stored = _load_secrets_file(path)
    missing = [n for n in names if n not in stored]
    if missing:
        LOCAL_DIR.mkdir(parents=True, exist_ok=True)
        for name in missing:
            stored[name] = secrets.token_urlsafe(32)
        path.write_text(
            "# Generated locally by yhlaw; never commit. Delete to rotate (see docs/security.md).\n"
            + "".join(f"{k}={v}\n" for k, v in sorted(stored.items()))
        )
        path.chmod(0o600)
    return {n: os.environ.get(n) or stored[n] for n in names}


def with_database(url: str, database: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + database))


def with_user(url: str, user: str) -> str:
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = quote(user) + "@" + host + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


def postgres_connection(url: str) -> dict:
    """A libpq URL as the fields of an Airflow postgres connection."""
    parts = urlsplit(url)
    return {"conn_type": "postgres", "host": parts.hostname or "127.0.0.1", "port": parts.port or 5432,
            "login": parts.username or "etl", "password": parts.password or "", "schema": parts.path.lstrip("/")}


@dataclass(frozen=True)
class Settings:
    """Resolved settings. ``Settings.from_env()`` is the only constructor callers need."""

    warehouse_url: str
    admin_user: str
    airflow_home: Path
    test: bool = False

    @classmethod
    def from_env(cls, *, test: bool = False) -> "Settings":
        return cls(**cls._env_fields(test))

    @staticmethod
    def _env_fields(test: bool) -> dict:
        url = os.environ.get("WAREHOUSE_URL", DEFAULT_WAREHOUSE_URL)
        # One local Airflow metadata DB per warehouse: its Assets name that warehouse's tables.
        database = urlsplit(url).path.lstrip("/")
        default_home = LOCAL_DIR / ("airflow" if database == DEFAULT_DATABASE else f"airflow-{database}")
        home = Path(os.environ.get("AIRFLOW_HOME", default_home))
        if test:
            database = os.environ.get("WAREHOUSE_TEST_DATABASE", TEST_DATABASE)
            url = with_database(url, database)
            # A second test database (run side by side) gets its own Airflow metadata DB too.
            home = LOCAL_DIR / ("airflow-test" if database == TEST_DATABASE else f"airflow-{database}")
        return {"warehouse_url": url, "admin_user": os.environ.get("WAREHOUSE_ADMIN_USER", "postgres"),
                "airflow_home": home, "test": test}

    @property
    def admin_url(self) -> str:
        """The same server and database, as the role that may create databases and roles."""
        return os.environ.get("WAREHOUSE_ADMIN_URL") or with_user(self.warehouse_url, self.admin_user)

    @property
    def database(self) -> str:
        return urlsplit(self.warehouse_url).path.lstrip("/")

    @cached_property
    def secrets(self) -> dict[str, str]:
        return local_secrets()

    @property
    def hmac_key(self) -> str:
        return self.secrets["PII_HMAC_KEY"]

    @property
    def ledger_dir(self) -> Path:
        """Where the hand-maintained ledgers live (LEDGER_DIR; default: the repository's copy)."""
        return Path(os.environ.get("LEDGER_DIR", REFERENCE_DIR / "ledgers"))

    def airflow_environment(self, source_connections: dict[str, dict] | None = None) -> dict[str, str]:
        """Environment for Airflow: home, DAG and plugin folders, and the connections the DAGs use.

        Connections are passed as AIRFLOW_CONN_* variables (Airflow's environment secrets
        backend), so no credential is stored in the metadata database or the repository.
        ``source_connections`` (source name -> connection fields) says where the source systems
        are; the hand-kept ledgers are a folder this platform knows itself.
        """
        env = {
            "AIRFLOW_HOME": str(self.airflow_home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_DIR),
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(PLUGINS_DIR),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__DEFAULT_TIMEZONE": DISTRICT_TZ,
            "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{self.airflow_home}/airflow.db",
            # INFO: every task logs what it read, checked and loaded (counts, rates).
            "AIRFLOW__LOGGING__LOGGING_LEVEL": os.environ.get("AIRFLOW__LOGGING__LOGGING_LEVEL", "INFO"),
            "AIRFLOW_CONN_WAREHOUSE": json.dumps(postgres_connection(self.warehouse_url)),
            "AIRFLOW_CONN_PII_HMAC": json.dumps({"conn_type": "generic", "password": self.hmac_key}),
            "GX_ANALYTICS_ENABLED": "False",
        }
        connections = {**self.ledger_connections(), **(source_connections or {})}
        for source, conn in connections.items():
            env[f"AIRFLOW_CONN_{load_spec(source).connection.upper()}"] = json.dumps(conn)
        return env

    def ledger_connections(self) -> dict[str, dict]:
        """The connection of every source whose records are files kept by hand (a folder)."""
        return {source: {"conn_type": "fs", "extra": json.dumps({"path": str(self.ledger_dir)})}
                for source in source_names() if load_spec(source).transport.get("kind") == "ledger_file"}
