"""Shared fixtures: a fresh test warehouse, the real simulator, Airflow on a SQLite metadata DB.

Nothing here is mocked. If PostgreSQL is not reachable the session fails with the same
message a user gets from ``make setup`` (it never skips).

Two tiers: a test that uses any fixture below that starts or reaches a service, or sits in a
module marked ``stack``, is marked ``stack``; ``make test-unit`` runs the rest
(``-m "not stack"``) with the warehouse pointed at a dead port, so a unit test that reaches for
a service fails there.
"""

from __future__ import annotations

import os
import shutil
from datetime import datetime, timedelta

import pendulum
import pytest

from yhlaw_dev.world import DevSettings as Settings
from yhlaw.warehouse import transaction

TZ = "Asia/Shanghai"
# The in-process dag.test runs log warnings only (pytest keeps the output of every test); the
# scheduler tests' components log at the platform's INFO.
os.environ.setdefault("AIRFLOW__LOGGING__LOGGING_LEVEL", "WARNING")
# Short client timeout and a slow fault longer than it: the "slow" fault must time out.
CLIENT_TIMEOUT = 1.0
SIM_ENV = {"SIM_SLOW_SECONDS": "2.5", "SIM_TOKEN_TTL": "600"}
# Ports of the test simulators; TEST_SIM_BASE_PORT moves them so two suites can run side by side.
TEST_SIM_BASE_PORT = int(os.environ.get("TEST_SIM_BASE_PORT", "18801"))


# Fixtures that start or reach a service (PostgreSQL, the simulators, Airflow's metadata DB).
STACK_FIXTURES = {"warehouse", "db", "sims", "sim", "airflow", "dags", "ingest_dag", "source_db", "world"}


def pytest_collection_modifyitems(config, items):
    for item in items:
        if STACK_FIXTURES & set(item.fixturenames):
            item.add_marker(pytest.mark.stack)


@pytest.fixture(scope="session")
def settings() -> Settings:
    return Settings.from_env(test=True)


@pytest.fixture(scope="session")
def warehouse(settings) -> str:
    """A freshly created, migrated test warehouse; yields the etl role's URL."""
    from yhlaw.bootstrap import prepare_warehouse

    prepare_warehouse(settings, recreate=True)
    return settings.warehouse_url


@pytest.fixture(scope="session")
def sims(settings):
    """One real simulator process per source spec."""
    from dataclasses import replace

    from yhlaw_dev.stack import simulators
    from yhlaw_dev.sim import simulated_sources

    # The simulated world starts empty: no files delivered by an earlier session.
    for source in simulated_sources():
        shutil.rmtree(settings.sim_drop_dir(source), ignore_errors=True)

    with simulators(replace(settings, sim_base_port=TEST_SIM_BASE_PORT), simulated_sources(), now=day("2022-03-01"),
                    extra_env=SIM_ENV) as running:
        yield running


@pytest.fixture(scope="session")
def sim(sims):
    return sims["enforcement"]


def source_connection_env(source: str) -> str:
    from yhlaw.spec import load_spec

    return f"AIRFLOW_CONN_{load_spec(source).connection.upper()}"


@pytest.fixture(scope="session")
def airflow(settings, warehouse, sims):
    """Airflow configured for the test warehouse and simulators (env connections)."""
    import json

    from yhlaw.bootstrap import prepare_airflow

    prepare_airflow(settings, settings.airflow_environment({s: sim.url for s, sim in sims.items()}))
    for source in sims:
        conn = json.loads(os.environ[source_connection_env(source)])
        extra = {**json.loads(conn.get("extra") or "{}"), "timeout_seconds": CLIENT_TIMEOUT, "backoff_seconds": 0.05}
        conn["extra"] = json.dumps(extra)
        os.environ[source_connection_env(source)] = json.dumps(conn)
    return settings


@pytest.fixture(scope="session")
def dags(airflow, sims):
    from yhlaw_dev.stack import load_dag

    return {s: load_dag(f"ingest_{s}") for s in sims}


@pytest.fixture(scope="session")
def ingest_dag(dags):
    return dags["enforcement"]


def own_database(settings, purpose: str) -> str:
    """A database of a test module's own, derived from the session's test database so that two
    suites side by side (WAREHOUSE_TEST_DATABASE) never share it: yuhang_law_<purpose>_test for
    the default test database, <test database>_<purpose> for another."""
    from yhlaw.settings import TEST_DATABASE

    return f"yuhang_law_{purpose}_test" if settings.database == TEST_DATABASE else f"{settings.database}_{purpose}"


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
    from yhlaw_dev.stack import run_dag_for_interval, run_state, task_tries

    end = start + timedelta(days=1)
    sim.set_clock(end + timedelta(hours=1))
    run = run_dag_for_interval(dag, end)
    assert run.logical_date == start, "the run's logical date is its interval's start, as the scheduler's"
    if not retries_allowed:
        tries = task_tries(run)
        assert set(tries.values()) <= {0, 1}, f"tasks needed Airflow retries: {tries}"
    return run_state(run)


def type_both_ways(url: str, entity, batch_id: str) -> tuple[set[int], list[tuple]]:
    """Type a landed batch as validation does (in SQL where the typer vouches for a record, in
    Python for the rest) and all in Python (``normalise``). Returns the records typed in SQL and
    every difference between the two typed tables, as (seq, column, in SQL, in Python)."""
    from psycopg2 import sql

    from yhlaw import conform, pipeline
    from yhlaw.normalise import Context
    from yhlaw.pii import PartyKeyer

    columns = ["seq", *entity.columns, *conform.helper_columns(entity)]
    tables = []
    for sql_typing in (True, False):
        with transaction(url) as conn, conn.cursor() as cur:
            cur.execute("SELECT interval_end FROM raw.batch WHERE batch_id = %s", (batch_id,))
            interval_end = cur.fetchone()[0]
            ctx = Context(pipeline._town_resolver(cur), PartyKeyer("test key"), interval_end=interval_end)
            conform.type_batch(cur, entity, batch_id, ctx, chunk_rows=1000, sql_typing=sql_typing)
            cur.execute(sql.SQL("SELECT {}, _fast FROM pg_temp.{} ORDER BY seq").format(
                sql.SQL(", ").join(map(sql.Identifier, columns)), conform.typed_table(entity)))
            tables.append(cur.fetchall())
            conn.rollback()
    in_sql, in_python = tables
    assert [r[0] for r in in_sql] == [r[0] for r in in_python]
    diffs = [(a[0], c, x, y) for a, b in zip(in_sql, in_python) for c, x, y in zip(columns, a, b) if x != y]
    return {r[0] for r in in_sql if r[-1]}, diffs


def source_keys_stored_and_counted(url: str, batch_id: str) -> tuple[dict, dict]:
    """The batch's top-level key counts as landing stored them (raw.batch.source_keys) and as
    counted again from its payloads in raw (what validation did before they were stored)."""
    from yhlaw.pipeline import _source_keys

    with transaction(url) as conn, conn.cursor() as cur:
        cur.execute("SELECT source_keys FROM raw.batch WHERE batch_id = %s", (batch_id,))
        stored = cur.fetchone()[0]
        return stored, _source_keys(cur, batch_id, None)
