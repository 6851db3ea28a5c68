"""Where one environment's simulated systems live: ports, databases, drop folders, secrets.

``DevSettings`` is the platform's ``Settings`` plus the simulated world around it. Everything
the simulators need is derived from the environment it belongs to (the test suite, the bench
and the reliability harness each get their own), so two environments on one server never share
a simulated system.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from yhlaw.settings import DEFAULT_DATABASE, LOCAL_DIR, TEST_DATABASE, Settings, local_secrets, with_database
from yhlaw.spec import load_spec

from yhlaw_dev.sim import DEFAULT_BASE_PORT, sim_port, simulated_sources

# The simulators' secrets, generated locally on first use like the platform's.
SIM_SECRET_NAMES = ("SIM_CLIENT_SECRET", "SIM_ADMIN_TOKEN")


def namespace_of(database: str) -> str:
    """The simulated systems of the environment whose warehouse is ``database``: the default and
    the test warehouse have their own names (no suffix), any other one its own suffix, so two
    environments on one server never share a simulator database or drop folder."""
    return "" if database in (DEFAULT_DATABASE, TEST_DATABASE) else database


@dataclass(frozen=True)
class DevSettings(Settings):
    """The platform's settings and the simulated systems of the same environment."""

    sim_host: str = "127.0.0.1"
    sim_base_port: int = DEFAULT_BASE_PORT
    sim_namespace: str = ""     # keeps another set of simulated systems apart (the benchmark's)

    @classmethod
    def from_env(cls, *, test: bool = False) -> "DevSettings":
        fields = cls._env_fields(test)
        database = urlsplit(fields["warehouse_url"]).path.lstrip("/")
        return cls(**fields, sim_host=os.environ.get("SIM_HOST", "127.0.0.1"),
                   sim_base_port=int(os.environ.get("SIM_BASE_PORT", str(DEFAULT_BASE_PORT))),
                   sim_namespace=namespace_of(database))

    @property
    def sim_secrets(self) -> dict[str, str]:
        return local_secrets(SIM_SECRET_NAMES)

    def airflow_environment(self, sim_urls: dict[str, str] | None = None) -> dict[str, str]:
        """The platform's Airflow environment, its source connections pointing at the simulators."""
        urls = sim_urls or self.default_sim_urls()
        return super().airflow_environment({source: self.source_connection(source, url)
                                            for source, url in urls.items()})

    def source_connection(self, source: str, sim_url: str) -> dict:
        """The Airflow connection of a source, pointing at its simulator's system: the HTTP API,
        the system's database (read-only account) or the drop folder, by transport kind."""
        transport = load_spec(source).transport
        kind = transport.get("kind", "http")
        if kind == "sql" and transport.get("dialect") == "mysql":
            parts = urlsplit(self.sim_mariadb_admin_url)
            return {"conn_type": "mysql", "host": parts.hostname or "127.0.0.1", "port": parts.port or 3306,
                    "login": self.sim_db_reader(source), "password": "", "schema": self.sim_database(source)}
        if kind == "sql":
            parts = urlsplit(self.warehouse_url)
            return {"conn_type": "postgres", "host": parts.hostname or "127.0.0.1", "port": parts.port or 5432,
                    "login": self.sim_db_reader(source), "password": "", "schema": self.sim_database(source)}
        if kind == "file_drop":
            return {"conn_type": "fs", "extra": json.dumps({"path": str(self.sim_drop_dir(source))})}
        u = urlsplit(sim_url)
        return {"conn_type": "http", "host": u.hostname, "port": u.port, "schema": u.scheme,
                "login": os.environ.get("SIM_CLIENT_ID", "yhlaw-etl"),
                "password": self.sim_secrets["SIM_CLIENT_SECRET"]}

    def sim_database(self, source: str) -> str:
        return f"yhlaw_sim_{source}" + ("_test" if self.test else "") + (
            f"_{self.sim_namespace}" if self.sim_namespace else "")

    @property
    def sim_mariadb_admin_url(self) -> str:
        """The MariaDB server where MySQL-dialect systems live (SIM_MARIADB_ADMIN_URL), as its admin."""
        return os.environ.get("SIM_MARIADB_ADMIN_URL") or "mysql://root@127.0.0.1:3306"

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
            "SIM_CLIENT_SECRET": self.sim_secrets["SIM_CLIENT_SECRET"],
            "SIM_ADMIN_TOKEN": self.sim_secrets["SIM_ADMIN_TOKEN"],
            "SIM_DB_ADMIN_URL": with_database(self.admin_url, "postgres"),
            "SIM_MARIADB_ADMIN_URL": self.sim_mariadb_admin_url,
            "SIM_DB_NAME": self.sim_database(source),
            "SIM_DB_READER": self.sim_db_reader(source),
            "SIM_DROP_DIR": str(self.sim_drop_dir(source)),
        }

    def sim_port(self, source: str) -> int:
        return sim_port(source, self.sim_base_port)

    def default_sim_urls(self) -> dict[str, str]:
        return {name: f"http://{self.sim_host}:{self.sim_port(name)}" for name in simulated_sources()}
