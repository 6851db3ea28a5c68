"""Airflow as operators run it: api-server, scheduler, dag-processor, triggerer and Celery workers
as separate processes, on a PostgreSQL metadata database and Redis (the set-up of
docker-compose.yml, on this machine's services).

Everything is derived from the environment it belongs to, so two environments on one server
never meet: the metadata database is ``<warehouse database>_airflow``, the Celery queue is
named after the warehouse database (workers take only their own environment's tasks), the
api-server listens on its own port, and AIRFLOW_HOME (logs, the UI's generated password) is
``.local/airflow-services-<warehouse database>``.

Used by ``make airflow`` (the README's scheduler path) and by tests/test_scheduler.py.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import requests

from yhlaw.settings import LOCAL_DIR, local_secrets, with_database
from yhlaw.warehouse import ensure_database

from yhlaw_dev.world import DevSettings

# Shared by every component of one environment (JWTs between api-server, scheduler, workers).
AIRFLOW_SECRET_NAMES = ("AIRFLOW_JWT_SECRET", "AIRFLOW_API_SECRET_KEY")
REDIS_URL = os.environ.get("AIRFLOW_REDIS_URL", "redis://127.0.0.1:6379/0")
COMPONENTS = ("api-server", "scheduler", "dag-processor", "triggerer", "worker")


@dataclass
class AirflowServices:
    """The Airflow of one environment (``settings``), its components as processes."""

    settings: DevSettings
    api_port: int = 28080
    executor: str = "CeleryExecutor"
    worker_concurrency: int = 4
    fresh: bool = False          # drop the metadata database first (tests)
    extra_env: dict[str, str] = field(default_factory=dict)   # e.g. AIRFLOW_CONN_SMTP_ALERTS
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)

    @property
    def home(self) -> Path:
        return LOCAL_DIR / f"airflow-services-{self.settings.database}"

    @property
    def metadata_database(self) -> str:
        return f"{self.settings.database}_airflow"

    @property
    def queue(self) -> str:
        return self.settings.database

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    def environment(self, sim_urls: dict[str, str]) -> dict[str, str]:
        """The platform's Airflow environment with the operators' components and executor."""
        metadata = with_database(self.settings.admin_url, self.metadata_database).split("://", 1)[1]
        secrets = local_secrets(AIRFLOW_SECRET_NAMES)
        return {
            **self.settings.airflow_environment(sim_urls),
            "AIRFLOW_HOME": str(self.home),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"postgresql+psycopg2://{metadata}",
            "AIRFLOW__CORE__EXECUTOR": self.executor,
            "AIRFLOW__CELERY__BROKER_URL": REDIS_URL,
            "AIRFLOW__CELERY__RESULT_BACKEND": f"db+postgresql://{metadata}",
            "AIRFLOW__CELERY__WORKER_CONCURRENCY": str(self.worker_concurrency),
            "AIRFLOW__OPERATORS__DEFAULT_QUEUE": self.queue,
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.api_url}/execution/",
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(self.api_port),
            "AIRFLOW__API__BASE_URL": self.api_url,
            "AIRFLOW__API_AUTH__JWT_SECRET": secrets["AIRFLOW_JWT_SECRET"],
            "AIRFLOW__API__SECRET_KEY": secrets["AIRFLOW_API_SECRET_KEY"],
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin",
            "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "True",
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "30",
            **self.extra_env,
        }

    def cli(self, env: dict[str, str], *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
        """``airflow <args>`` in this environment; raises with its output when it fails."""
        result = subprocess.run([sys.executable, "-m", "airflow", *args], env={**os.environ, **env},
                                capture_output=True, text=True, timeout=timeout)
        if result.returncode != 0:
            raise RuntimeError(f"airflow {' '.join(args)} failed ({result.returncode}):\n"
                               f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
        return result

    def prepare(self, env: dict[str, str]) -> None:
        """The metadata database, created and migrated (idempotent)."""
        ensure_database(with_database(self.settings.admin_url, self.metadata_database), recreate=self.fresh)
        self.home.mkdir(parents=True, exist_ok=True)
        self.cli(env, "db", "migrate", timeout=600)

    def start(self, env: dict[str, str]) -> None:
        """Every component as its own process, logging to AIRFLOW_HOME/<component>.log."""
        commands = {
            "api-server": ["api-server", "--host", "127.0.0.1", "--port", str(self.api_port)],
            "scheduler": ["scheduler"],
            "dag-processor": ["dag-processor"],
            "triggerer": ["triggerer"],
            "worker": ["celery", "worker", "--queues", self.queue,
                       "--concurrency", str(self.worker_concurrency)],
        }
        if self.executor != "CeleryExecutor":
            commands.pop("worker")
        self.stop_leftovers()
        for name, args in commands.items():
            log = open(self.home / f"{name}.log", "w")
            self.processes[name] = subprocess.Popen([sys.executable, "-m", "airflow", *args],
                                                    env={**os.environ, **env}, stdout=log,
                                                    stderr=subprocess.STDOUT, start_new_session=True,
                                                    preexec_fn=_terminate_with_parent)
        self.pidfile.write_text(" ".join(str(p.pid) for p in self.processes.values()))
        self.wait_healthy()

    @property
    def pidfile(self) -> Path:
        return self.home / "components.pids"

    def stop_leftovers(self) -> None:
        """Components of an earlier start of this environment that outlived it (a killed test)
        would take its queue's tasks against a dropped metadata database: stop them first."""
        if not self.pidfile.exists():
            return
        for pid in map(int, self.pidfile.read_text().split()):
            try:
                if b"airflow" in Path(f"/proc/{pid}/cmdline").read_bytes():   # not a reused pid
                    os.killpg(pid, 9)
            except (OSError, ProcessLookupError):
                pass
        self.pidfile.unlink()

    def wait_healthy(self, timeout: float = 180) -> None:
        """Until the api-server answers and reports a healthy scheduler, triggerer and dag-processor."""
        deadline = time.monotonic() + timeout
        last = "no answer"
        while time.monotonic() < deadline:
            self.check_alive()
            try:
                health = requests.get(f"{self.api_url}/api/v2/monitor/health", timeout=2).json()
                states = {k: (v or {}).get("status") for k, v in health.items()}
                if all(s == "healthy" for s in states.values()):
                    return
                last = str(states)
            except (requests.RequestException, ValueError) as exc:
                last = type(exc).__name__
            time.sleep(1)
        raise RuntimeError(f"Airflow did not become healthy within {timeout:.0f} s ({last}); logs in {self.home}")

    def check_alive(self) -> None:
        for name, proc in self.processes.items():
            if proc.poll() is not None:
                log = (self.home / f"{name}.log").read_text(errors="replace")[-3000:]
                raise RuntimeError(f"airflow {name} exited ({proc.returncode}):\n{log}")

    def stop(self) -> None:
        self.pidfile.unlink(missing_ok=True)
        for proc in self.processes.values():
            if proc.poll() is None:
                os.killpg(proc.pid, 15)
        for proc in self.processes.values():
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, 9)
        self.processes.clear()


def _terminate_with_parent() -> None:
    """In the child before exec: SIGTERM when the process that started it dies (Linux)."""
    import ctypes
    import signal

    PR_SET_PDEATHSIG = 1
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


@contextmanager
def airflow_services(settings: DevSettings, sim_urls: dict[str, str], **options) -> Iterator[tuple[AirflowServices, dict]]:
    """Prepared and started; stopped on exit. Yields the services and their environment."""
    services = AirflowServices(settings, **options)
    env = services.environment(sim_urls)
    services.prepare(env)
    with ExitStack() as stack:
        stack.callback(services.stop)
        services.start(env)
        yield services, env


def metadata_rows(services: AirflowServices, query: str, params: tuple = ()) -> list[tuple]:
    """Rows of a query on the environment's metadata database (what the UI shows)."""
    from yhlaw.warehouse import transaction

    with transaction(with_database(services.settings.admin_url, services.metadata_database)) as conn, \
            conn.cursor() as cur:
        cur.execute(query, params)
        return cur.fetchall()


def wait_for_runs(services: AirflowServices, expected: dict[str, int], timeout: float = 1200) -> dict[str, list]:
    """Until every DAG in ``expected`` has at least that many finished runs (success or failed)
    and none queued or running; returns per DAG its runs as
    (run_type, logical_date, data_interval_start, data_interval_end, state)."""
    deadline = time.monotonic() + timeout
    while True:
        services.check_alive()
        rows = metadata_rows(services, """SELECT dag_id, run_type, logical_date, data_interval_start,
                                                 data_interval_end, state FROM dag_run
                                          WHERE dag_id = ANY(%s) ORDER BY dag_id, logical_date""",
                             (list(expected),))
        runs: dict[str, list] = {d: [] for d in expected}
        for dag_id, *rest in rows:
            runs[dag_id].append(tuple(rest))
        finished = {d: sum(r[-1] in ("success", "failed") for r in rs) for d, rs in runs.items()}
        if all(finished[d] >= n and finished[d] == len(runs[d]) for d, n in expected.items()):
            return runs
        if time.monotonic() > deadline:
            counts = {d: f"{finished[d]} finished of {len(runs[d])}, {n} expected" for d, n in expected.items()}
            raise TimeoutError(f"runs not finished within {timeout:.0f} s: {counts}; logs in {services.home}")
        time.sleep(3)


def operate(settings: DevSettings, *, api_port: int = 8080) -> int:
    """``make airflow``: the simulated systems and Airflow's components on this machine, until
    Ctrl-C. The simulators answer each window as an hour after its end (a backfill reads the
    demo's world); alert mails land in .local/mail/ (a local SMTP sink)."""
    import json
    import signal

    from yhlaw.bootstrap import prepare_warehouse
    from yhlaw_dev.sim import simulated_sources
    from yhlaw_dev.smtp_sink import SmtpSink
    from yhlaw_dev.stack import simulators

    prepare_warehouse(settings)
    mail_dir = LOCAL_DIR / "mail"
    with SmtpSink(folder=mail_dir) as sink, \
            simulators(settings, simulated_sources(), extra_env={"SIM_CLOCK_FOLLOW_MINUTES": "60"}) as sims:
        smtp = {"conn_type": "smtp", "host": "127.0.0.1", "port": sink.port,
                "extra": json.dumps({"to": ["ops@localhost"]})}
        with airflow_services(settings, {s: sim.url for s, sim in sims.items()}, api_port=api_port,
                              extra_env={"AIRFLOW_CONN_SMTP_ALERTS": json.dumps(smtp)}) as (services, env):
            print(_operating_notes(services, mail_dir), flush=True)
            stop = {"now": False}
            signal.signal(signal.SIGTERM, lambda *_: stop.update(now=True))
            try:
                while not stop["now"]:
                    services.check_alive()
                    time.sleep(2)
            except KeyboardInterrupt:
                pass
    return 0


def _operating_notes(services: AirflowServices, mail_dir: Path) -> str:
    passwords = services.home / "simple_auth_manager_passwords.json.generated"
    return f"""
Airflow is up ({services.executor}, metadata DB {services.metadata_database}, Celery queue {services.queue}).
  UI          {services.api_url}   user admin, password in {passwords}
  logs        {services.home}/<component>.log, task logs under {services.home}/logs
  alert mail  {mail_dir}/*.eml
In another shell:
  eval "$(make -s airflow-env AIRFLOW_SERVICES=1)"
  airflow backfill create --dag-id ingest_enforcement --from-date 2022-03-01 --to-date 2022-03-07
  airflow dags unpause ingest_enforcement      # backfill runs start once the DAG is unpaused
Ctrl-C stops everything."""
