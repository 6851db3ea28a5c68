"""Every setting the project reads, in one place, with its default.

Settings come from environment variables. Secrets (the simulator client secrets, the admin
token of the simulators and the PII HMAC key) are never in the repository: on first use they
are generated into ``.local/secrets.env`` (git-ignored), or taken from the environment when
set there (as a deployment would, e.g. from a secrets manager).

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

from yhlaw.spec import load_spec, simulated_sources, source_names

PROJECT_ROOT = Path(os.environ.get("YHLAW_HOME", Path(__file__).resolve().parents[2]))
LOCAL_DIR = Path(os.environ.get("YHLAW_LOCAL_DIR", PROJECT_ROOT / ".local"))

DEFAULT_WAREHOUSE_URL = "postgresql://etl@127.0.0.1:5432/yuhang_law"
TEST_DATABASE = "yuhang_law_test"

# Secrets generated locally on first use when not supplied by the environment.
SECRET_NAMES = ("SIM_CLIENT_SECRET", "SIM_ADMIN_TOKEN", "PII_HMAC_KEY")


def _load_secrets_file(path: Path) -> dict[str, str]:
    values: dict[str, str] = {}
    if path.exists():
        for line in path.read_text().splitlines():
            if "=" in line and not line.lstrip().startswith("#"):
                k, v = line.split("=", 1)
                values[k.strip()] = v.strip()
    return values


def local_secrets() -> dict[str, str]:
    """Secrets from the environment, else from .local/secrets.env (created if missing)."""
    path = LOCAL_DIR / "secrets.env"
    stored = _load_secrets_file(path)
    missing = [n for n in SECRET_NAMES if n not in stored]
    if missing:
        LOCAL_DIR.mkdir(parents=True, exist_ok=True)
        for name in missing:
            stored[name] = secrets.token_urlsafe(32)
        path.write_text(
            "# Generated locally by yhlaw; never commit. Delete to rotate (see docs/security.md).\n"
            + "".join(f"{k}={v}\n" for k, v in sorted(stored.items()))
        )
        path.chmod(0o600)
    return {n: os.environ.get(n) or stored[n] for n in SECRET_NAMES}


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


@dataclass(frozen=True)
class Settings:
    """Resolved settings. ``Settings.from_env()`` is the only constructor callers need."""

    warehouse_url: str
    admin_user: str
    sim_host: str
    sim_base_port: int
    airflow_home: Path
    test: bool = False
    sim_namespace: str = ""     # keeps another set of simulated systems apart (the benchmark's)

    @classmethod
    def from_env(cls, *, test: bool = False) -> "Settings":
        url = os.environ.get("WAREHOUSE_URL", DEFAULT_WAREHOUSE_URL)
        home = Path(os.environ.get("AIRFLOW_HOME", LOCAL_DIR / "airflow"))
        database = ""
        if test:
            database = os.environ.get("WAREHOUSE_TEST_DATABASE", TEST_DATABASE)
            url = with_database(url, database)
            # A second test database (run side by side) gets its own Airflow metadata DB too.
            home = LOCAL_DIR / ("airflow-test" if database == TEST_DATABASE else f"airflow-{database}")
        return cls(
            warehouse_url=url,
            admin_user=os.environ.get("WAREHOUSE_ADMIN_USER", "postgres"),
            sim_host=os.environ.get("SIM_HOST", "127.0.0.1"),
            sim_base_port=int(os.environ.get("SIM_BASE_PORT", "8801")),
            airflow_home=home,
            test=test,
            # ... and its own simulated systems (databases, drop folders).
            sim_namespace=database if test and database != TEST_DATABASE else "",
        )

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

    def airflow_environment(self, sim_urls: dict[str, str] | None = None) -> dict[str, str]:
        """Environment for Airflow: home, DAG folder, and the connections every DAG uses.

        Connections are passed as AIRFLOW_CONN_* variables (Airflow's environment secrets
        backend), so no credential is stored in the metadata database or the repository.
        """

        parts = urlsplit(self.warehouse_url)
        warehouse = {
            "conn_type": "postgres",
            "host": parts.hostname or "127.0.0.1",
            "port": parts.port or 5432,
            "login": parts.username or "etl",
            "password": parts.password or "",
            "schema": parts.path.lstrip("/"),
        }
        env = {
            "AIRFLOW_HOME": str(self.airflow_home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(PROJECT_ROOT / "dags"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__DEFAULT_TIMEZONE": "Asia/Shanghai",
            "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{self.airflow_home}/airflow.db",
            "AIRFLOW__LOGGING__LOGGING_LEVEL": os.environ.get("AIRFLOW__LOGGING__LOGGING_LEVEL", "WARNING"),
            "AIRFLOW_CONN_WAREHOUSE": json.dumps(warehouse),
            "AIRFLOW_CONN_PII_HMAC": json.dumps(
                {"conn_type": "generic", "password": self.secrets["PII_HMAC_KEY"]}
            ),
            "GX_ANALYTICS_ENABLED": "False",
        }
        for source, url in (sim_urls or self.default_sim_urls()).items():
            env[f"AIRFLOW_CONN_{load_spec(source).connection.upper()}"] = json.dumps(
                self.source_connection(source, url))
        for source in source_names():
            if not load_spec(source).simulated:
                env[f"AIRFLOW_CONN_{load_spec(source).connection.upper()}"] = json.dumps(
                    {"conn_type": "fs", "extra": json.dumps({"path": str(self.ledger_dir)})})
        return env

    @property
    def ledger_dir(self) -> Path:
        """Where the hand-maintained ledgers live (LEDGER_DIR; default: the repository's copy)."""
        return Path(os.environ.get("LEDGER_DIR", PROJECT_ROOT / "reference" / "ledgers"))

    def source_connection(self, source: str, sim_url: str) -> dict:
        """The Airflow connection of a source, pointing at its simulator's system: the HTTP API,
        the system's database (read-only account) or the drop folder, by transport kind."""
        kind = load_spec(source).transport.get("kind", "http")
        if kind == "sql":
            parts = urlsplit(self.warehouse_url)
            return {"conn_type": "postgres", "host": parts.hostname or "127.0.0.1", "port": parts.port or 5432,
                    "login": self.sim_db_reader(source), "password": "", "schema": self.sim_database(source)}
        if kind == "file_drop":
            return {"conn_type": "fs", "extra": json.dumps({"path": str(self.sim_drop_dir(source))})}
        u = urlsplit(sim_url)
        return {"conn_type": "http", "host": u.hostname, "port": u.port, "schema": u.scheme,
                "login": os.environ.get("SIM_CLIENT_ID", "yhlaw-etl"),
                "password": self.secrets["SIM_CLIENT_SECRET"]}

    # Where the simulated non-HTTP systems live (kept apart for the test suite).
    def sim_database(self, source: str) -> str:
        return f"yhlaw_sim_{source}" + ("_test" if self.test else "") + (
            f"_{self.sim_namespace}" if self.sim_namespace else "")

    def sim_db_reader(self, source: str) -> str:
        return f"{source}_reader"

    def sim_drop_dir(self, source: str) -> Path:
        """Where a file-drop source delivers: SIM_DROP_ROOT/<source> (tests: their own root)."""
        if self.sim_namespace:
            return LOCAL_DIR / f"sim-drop-{self.sim_namespace}" / source
        if self.test:
            return LOCAL_DIR / "sim-drop-test" / source
        return Path(os.environ.get("SIM_DROP_ROOT", LOCAL_DIR / "sim-drop")) / source

    def simulator_environment(self, source: str) -> dict[str, str]:
        """What a source's simulator process needs to play its system."""
        return {
            "SIM_CLIENT_SECRET": self.secrets["SIM_CLIENT_SECRET"],
            "SIM_ADMIN_TOKEN": self.secrets["SIM_ADMIN_TOKEN"],
            "SIM_DB_ADMIN_URL": with_database(self.admin_url, "postgres"),
            "SIM_DB_NAME": self.sim_database(source),
            "SIM_DB_READER": self.sim_db_reader(source),
            "SIM_DROP_DIR": str(self.sim_drop_dir(source)),
        }

    def default_sim_urls(self) -> dict[str, str]:
        return {name: f"http://{self.sim_host}:{load_spec(name).sim_port(self.sim_base_port)}"
                for name in simulated_sources()}
