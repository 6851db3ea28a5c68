"""Airflow as operators run it: api-server, scheduler, dag-processor, triggerer and a Celery
worker as separate processes, on a PostgreSQL metadata database and Redis, with the DAGs from
``dags/`` (yhlaw_dev.services). Nothing goes through ``dag.test`` except the one run that
stands for the demo.

One environment of its own (warehouse, metadata database, Celery queue, simulators, ports):
- every ingest DAG is backfilled for three days with ``airflow backfill create`` and unpaused;
  the simulators answer each window as they stood an hour after its end (the demo's world),
  and the warehouse is reconciled record by record with what they served, as the e2e tests do;
- one day of petitions was run first the demo's way (``dag.test``): the backfill finds that
  run under the same logical date and reads the day only once;
- compute_indicators runs because the ingests published their Assets;
- check_freshness raises source_stale alerts, mailed to a local SMTP sink, only where a due
  interval is missing;
- a second environment's Celery worker takes none of this environment's tasks (the queue).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from dataclasses import replace
from datetime import timedelta

import pendulum
import pytest

from conftest import TEST_SIM_BASE_PORT, own_database
from yhlaw.settings import with_database
from yhlaw.spec import load_spec, source_names
from yhlaw.warehouse import transaction
from yhlaw_dev.reliability import reconcile_interval

pytestmark = pytest.mark.stack

TZ = "Asia/Shanghai"
FIRST, LAST = "2022-03-01", "2022-03-03"
DAYS = [pendulum.parse(FIRST, tz=TZ).add(days=n) for n in range(3)]
# The file drop and the mediation database are written up to this instant; the HTTP systems
# answer each window as at its end + 60 minutes (SIM_CLOCK_FOLLOW_MINUTES).
WORLD_CLOCK = DAYS[-1].add(days=1, hours=1)
INGEST_DAGS = [f"ingest_{s}" for s in source_names()]
DEMO_DAG = "ingest_petitions"
RUN_COLUMNS = "dag_id, run_id, run_type, logical_date, data_interval_start, data_interval_end, state"


def demo_run(env: dict[str, str], dag_id: str, interval_end) -> None:
    """The demo's way of running one interval (dag.test in a process of its own), against the
    scheduler's metadata database."""
    code = ("import sys, pendulum; from yhlaw_dev.stack import load_dag, run_dag_for_interval, run_state;"
            f"run = run_dag_for_interval(load_dag({dag_id!r}), pendulum.parse({interval_end.isoformat()!r}));"
            "sys.exit(0 if run_state(run) == 'success' else 1)")
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]


@pytest.fixture(scope="module")
def operated(settings):
    """The environment after the backfills: (settings, services, env, sims, runs, mail sink)."""
    from yhlaw.bootstrap import prepare_warehouse
    from yhlaw_dev.services import airflow_services, metadata_rows, wait_for_runs
    from yhlaw_dev.sim import simulated_sources
    from yhlaw_dev.smtp_sink import SmtpSink
    from yhlaw_dev.stack import free_port, simulators

    database = own_database(settings, "sched")
    env_settings = replace(settings, warehouse_url=with_database(settings.warehouse_url, database),
                           sim_base_port=TEST_SIM_BASE_PORT + 200, sim_namespace=database)
    prepare_warehouse(env_settings, recreate=True)
    for source in simulated_sources():
        shutil.rmtree(env_settings.sim_drop_dir(source), ignore_errors=True)
    with SmtpSink() as sink, simulators(env_settings, simulated_sources(), now=WORLD_CLOCK,
                                        extra_env={"SIM_CLOCK_FOLLOW_MINUTES": "60"}) as sims, \
            airflow_services(env_settings, {s: sim.url for s, sim in sims.items()}, fresh=True,
                             api_port=free_port(TEST_SIM_BASE_PORT + 300),
                             extra_env={"AIRFLOW_CONN_SMTP_ALERTS": json.dumps(
                                 {"conn_type": "smtp", "host": "127.0.0.1", "port": sink.port,
                                  "extra": json.dumps({"to": ["ops@example.gov.cn"]})})}) as (services, env):
        demo_run(env, DEMO_DAG, DAYS[0].add(days=1))
        for dag_id in INGEST_DAGS:
            services.cli(env, "backfill", "create", "--dag-id", dag_id, "--from-date", FIRST, "--to-date", LAST)
        created = dict(metadata_rows(services, "SELECT dag_id, count(*) FROM dag_run GROUP BY 1"))
        for dag_id in INGEST_DAGS:
            services.cli(env, "dags", "unpause", dag_id)
        # ... and the latest interval's scheduled run, which unpausing a catchup=False DAG creates.
        runs = wait_for_runs(services, {d: created[d] + 1 for d in INGEST_DAGS}, timeout=1500)
        wait_for_runs(services, {"compute_indicators": 1, "check_freshness": 1}, timeout=600)
        yield env_settings, services, env, sims, runs, sink


def test_backfills_run_on_celery_and_agree_with_the_demo_on_logical_dates(operated):
    settings, services, env, sims, runs, sink = operated
    from yhlaw_dev.services import metadata_rows

    for dag_id in INGEST_DAGS:
        backfill = [r for r in runs[dag_id] if r[0] == "backfill"]
        # The demo's run of day 1 was found, not repeated; the ledgers' intervals start at 06:00,
        # so two of them (03-01 06:00, 03-02 06:00) start within 03-01 .. 03-03 00:00.
        expected = 2 if dag_id in (DEMO_DAG, "ingest_ledgers") else 3
        assert len(backfill) == expected, runs[dag_id]
        for run_type, logical, start, end, state in runs[dag_id]:
            assert state == "success", (dag_id, run_type, logical)
            assert logical == start and end - start == timedelta(days=1), "logical date = interval start"
    demo = [r for r in runs[DEMO_DAG] if r[0] == "manual"]
    assert [r[1] for r in demo] == [DAYS[0]]
    tasks = metadata_rows(services, "SELECT DISTINCT queue, executor FROM task_instance WHERE dag_id LIKE 'ingest_%%' "
                                    "AND run_id LIKE 'backfill__%%'")
    assert {q for q, _ in tasks} == {services.queue}, tasks
    log = (services.home / "worker.log").read_text(errors="replace")
    assert "execute_workload" in log and "succeeded" in log, "the Celery worker ran the tasks"


@pytest.mark.parametrize("source", [s for s in source_names() if load_spec(s).transport.get("kind") != "ledger_file"])
def test_what_the_scheduler_loaded_reconciles_with_what_the_sources_served(operated, source):
    settings, services, env, sims, runs, sink = operated
    served = 0
    for entity in load_spec(source).entities.values():
        for day in DAYS:
            r = reconcile_interval(settings.warehouse_url, sims[source], entity, day)
            assert not r.problems, "\n".join(r.problems)
            assert (r.lost, r.duplicates, r.wrong_reason) == (0, 0, 0)
            served += r.served
    # Some entities are sparse (a monthly 效能评价, a rare 违规): the source as a whole must have served.
    assert served > 0 or source == "courts", f"{source}: an empty world proves nothing"


def test_the_assets_triggered_the_indicators(operated):
    settings, services, env, sims, runs, sink = operated
    from yhlaw_dev.services import metadata_rows

    triggered = metadata_rows(services, "SELECT state FROM dag_run WHERE dag_id = 'compute_indicators' "
                                        "AND run_type = 'asset_triggered'")
    assert triggered and all(s in ("success", "running", "queued") for (s,) in triggered), triggered
    assert ("success",) in triggered
    with transaction(settings.warehouse_url) as conn, conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM mart.indicator_values WHERE period_start = '2022-03-01'")
        assert cur.fetchone()[0] > 0


def test_freshness_alerts_name_only_missing_intervals_and_are_mailed(operated):
    settings, services, env, sims, runs, sink = operated
    from yhlaw_dev.services import wait_for_runs

    fresh, late = DAYS[-1].add(days=1, hours=6, minutes=20), DAYS[-1].add(days=3, hours=6, minutes=20)
    for at in (fresh, late):
        services.cli(env, "dags", "trigger", "check_freshness", "--logical-date", at.isoformat(),
                     "--run-id", f"freshness__{at:%Y%m%dT%H%M}")
    wait_for_runs(services, {"check_freshness": 3}, timeout=300)
    with transaction(settings.warehouse_url) as conn, conn.cursor() as cur:
        cur.execute("SELECT run_id, message FROM audit.alert WHERE kind = 'source_stale' AND run_id LIKE 'freshness__%%'")
        alerts = cur.fetchall()
    assert not [m for r, m in alerts if r == f"freshness__{fresh:%Y%m%dT%H%M}"], "all due intervals were loaded"
    stale = {m.split(":")[0] for r, m in alerts if r == f"freshness__{late:%Y%m%dT%H%M}"}
    every = {f"{s}.{e}" for s in source_names() for e in load_spec(s).entities}
    assert stale == every, stale ^ every
    mailed = [m for m in sink.messages if "数据源未按时入库" in m["Subject"]]
    assert len(mailed) >= len(every)
    assert all("ops@example.gov.cn" == m["To"] for m in mailed)


def test_the_task_logs_carry_counts_at_info(operated):
    settings, services, env, sims, runs, sink = operated
    logs = list((services.home / "logs").rglob("*.log"))
    loads = [p for p in logs if "task_id=load_" in str(p)]
    assert loads, f"no task logs under {services.home / 'logs'}"
    text = loads[0].read_text(errors="replace")
    assert "loaded" in text and "quarantined" in text, text[-2000:]
