"""Shared fixtures: a fresh test warehouse, the real simulator, Airflow on a SQLite metadata DB.

Nothing here is mocked. If PostgreSQL is not reachable the session fails with the same
message a user gets from ``make setup`` (it never skips).
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta

import pendulum
import pytest

from yhlaw.settings import Settings
from yhlaw.warehouse import transaction

TZ = "Asia/Shanghai"
# Short client timeout and a slow fault longer than it: the "slow" fault must time out.
CLIENT_TIMEOUT = 1.0
SIM_ENV = {"SIM_SLOW_SECONDS": "2.5", "SIM_TOKEN_TTL": "600"}


@pytest.fixture(scope="session")
def settings() -> Settings:
    return Settings.from_env(test=True)


@pytest.fixture(scope="session")
def warehouse(settings) -> str:
    """A freshly created, migrated test warehouse; yields the etl role's URL."""
    from yhlaw.runtime import prepare_warehouse

    prepare_warehouse(settings, recreate=True)
    return settings.warehouse_url


@pytest.fixture(scope="session")
def sim(settings):
    from yhlaw.runtime import simulator

    with simulator(settings, "enforcement", port=18801, extra_env=SIM_ENV) as s:
        yield s


@pytest.fixture(scope="session")
def airflow(settings, warehouse, sim):
    """Airflow configured for the test warehouse and simulator (env connections)."""
    import json

    from yhlaw.runtime import prepare_airflow

    prepare_airflow(settings, {"enforcement": sim.url})
    conn = json.loads(os.environ["AIRFLOW_CONN_SRC_ENFORCEMENT"])
    conn["extra"] = json.dumps({"timeout_seconds": CLIENT_TIMEOUT, "backoff_seconds": 0.05})
    os.environ["AIRFLOW_CONN_SRC_ENFORCEMENT"] = json.dumps(conn)
    return settings


@pytest.fixture(scope="session")
def ingest_dag(airflow):
    from yhlaw.runtime import load_dag

    return load_dag("ingest_enforcement")


def day(d: str) -> datetime:
    return pendulum.parse(d, tz=TZ)


@pytest.fixture
def db(warehouse):
    with transaction(warehouse) as conn:
        yield conn


def run_day(dag, sim, start: datetime, *, retries_allowed: bool = False) -> str:
    """Run the DAG for [start, start + 1 day) with the world clock one hour after its end.

    Returns the run's state. Unless ``retries_allowed``, every task must have succeeded or
    failed at its first try: transient faults are the extraction client's to absorb.
    """
    from yhlaw.runtime import run_dag_for_interval, run_state, task_tries

    end = start + timedelta(days=1)
    sim.set_clock(end + timedelta(hours=1))
    run = run_dag_for_interval(dag, end)
    if not retries_allowed:
        tries = task_tries(run)
        assert set(tries.values()) <= {0, 1}, f"tasks needed Airflow retries: {tries}"
    return run_state(run)
