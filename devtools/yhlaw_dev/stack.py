"""The local stack around the platform: simulator processes and DAG runs through ``dag.test``.

Used by the demo, the bench, the reliability harness and the tests.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from contextlib import ExitStack, contextmanager
from datetime import datetime
from pathlib import Path
from typing import Iterator

import requests

from yhlaw.paths import DAGS_DIR

from yhlaw_dev.world import DevSettings as Settings


def free_port(preferred: int) -> int:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", preferred))
            return preferred
        except OSError:
            s.bind(("127.0.0.1", 0))
            return s.getsockname()[1]


class Simulator:
    """A simulator process of one source, reachable at ``url``; admin calls for tests/demo."""

    def __init__(self, source: str, port: int, admin_token: str, process: subprocess.Popen, log_path: Path):
        self.source, self.port, self.admin_token = source, port, admin_token
        self.process, self.log_path = process, log_path
        self.url = f"http://127.0.0.1:{port}"

    def admin(self, method: str, path: str, body: dict | None = None) -> dict:
        # Generous: moving the clock makes a file-drop or database system write (or rebuild) itself.
        resp = requests.request(method, self.url + path, json=body, timeout=180,
                                headers={"X-Sim-Admin": self.admin_token})
        resp.raise_for_status()
        return resp.json()

    def set_clock(self, now: datetime | None) -> None:
        self.admin("PUT", "/_sim/clock", {"now": now.isoformat() if now else None})

    def set_faults(self, faults: dict[str, float]) -> None:
        self.admin("PUT", "/_sim/faults", faults)

    def truth(self, entity: str, since: datetime, until: datetime) -> list[dict]:
        q = f"/_sim/truth?entity={entity}&updated_since={_q(since)}&updated_until={_q(until)}"
        return self.admin("GET", q)["items"]


def _q(dt: datetime) -> str:
    return requests.utils.quote(dt.isoformat())


@contextmanager
def simulator(settings: Settings, source: str, *, port: int | None = None, now: datetime | None = None,
              extra_env: dict[str, str] | None = None) -> Iterator[Simulator]:
    """Start the simulator of ``source`` as its own process; stop it on exit.

    ``now`` starts its world clock there instead of at the real time (a simulated file drop or
    database then starts small, instead of writing out three years of history first).
    """
    port = free_port(port or settings.sim_base_port)
    if now is not None:
        extra_env = {"SIM_NOW": now.isoformat(), **(extra_env or {})}
    log_dir = settings.airflow_home.parent / "sim-logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"{source}-{port}.log"
    env = {**os.environ, **settings.simulator_environment(source), **(extra_env or {})}
    with open(log_path, "w") as log:
        proc = subprocess.Popen([sys.executable, "-m", "yhlaw_dev.sim", "serve", "--source", source,
                                 "--port", str(port), "--log-level", "warning"],
                                env=env, stdout=log, stderr=subprocess.STDOUT)
    sim = Simulator(source, port, settings.sim_secrets["SIM_ADMIN_TOKEN"], proc, log_path)
    try:
        try:
            wait_healthy(sim.url + "/healthz", proc)
        except RuntimeError as exc:
            raise RuntimeError(f"simulator {source} {exc}; see {log_path}:\n" + log_path.read_text()[-2000:]) from None
        yield sim
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


def wait_healthy(url: str, proc: subprocess.Popen, *, seconds: float = 120) -> None:
    """Until ``url`` answers 2xx; RuntimeError if the process exits or ``seconds`` pass first (a file-drop
    simulator writes its history before it answers: on a busy machine that took over 30 s)."""
    deadline = time.monotonic() + seconds
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"exited ({proc.returncode})")
        try:
            if requests.get(url, timeout=1).ok:
                return
        except requests.RequestException:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"did not answer on {url} within {seconds:.0f} s")
        time.sleep(0.1)


@contextmanager
def simulators(settings: Settings, sources: list[str], *, now: datetime | None = None,
               extra_env: dict[str, str] | None = None) -> Iterator[dict[str, Simulator]]:
    """One simulator per source, each on its spec's port (shifted by SIM_BASE_PORT)."""
    with ExitStack() as stack:
        yield {source: stack.enter_context(simulator(settings, source, now=now, extra_env=extra_env,
                                                     port=settings.sim_port(source)))
               for source in sources}


def load_dag(dag_id: str):
    """The DAG as Airflow's DagBag parses it from the dags folder (what dag.test needs)."""
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(DAGS_DIR))
    if bag.import_errors:
        raise RuntimeError("DAG import errors:\n" + json.dumps(bag.import_errors, indent=2, ensure_ascii=False))
    return bag.get_dag(dag_id)


def run_dag_for_interval(dag, interval_end: datetime):
    """Run the DAG once for the interval ending at ``interval_end``; return the DagRun.

    Its logical date is the interval's *start*, as the scheduler's run of that interval has:
    a later backfill or scheduled run of the same day then finds it (and does not read the
    day a second time under another date). ``dag.test`` by itself infers a manual run's
    interval as the one *ending* at the logical date; for the one call it is told the
    scheduler's rule instead.
    """
    from airflow.serialization.encoders import coerce_to_core_timetable
    from airflow.timetables.interval import CronDataIntervalTimetable

    timetable = coerce_to_core_timetable(dag.timetable)
    if not isinstance(timetable, CronDataIntervalTimetable):   # compute_indicators: a trigger, no interval
        return dag.test(logical_date=interval_end, run_after=interval_end)
    interval_start = timetable._get_prev(timetable._align_to_prev(interval_end))
    with _scheduled_interval(type(timetable)):
        return dag.test(logical_date=interval_start, run_after=interval_end)


@contextmanager
def _scheduled_interval(timetable_class) -> Iterator[None]:
    """Within the block, a manual run at logical date D covers [D, next(D)), the interval a
    scheduled run at D covers (the demo's and the tests' runs agree with the scheduler's)."""
    from airflow.timetables.base import DataInterval

    original = timetable_class.infer_manual_data_interval

    def scheduled(self, *, run_after):
        start = self._align_to_next(run_after)
        return DataInterval(start=start, end=self._get_next(start))

    timetable_class.infer_manual_data_interval = scheduled
    try:
        yield
    finally:
        timetable_class.infer_manual_data_interval = original


def run_state(run) -> str:
    return str(getattr(run.state, "value", run.state))


def task_tries(run) -> dict[str, int]:
    """task_id -> try number of each task of a finished run (1 = no Airflow retry was needed)."""
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session

    with create_session() as session:
        rows = session.query(TaskInstance.task_id, TaskInstance.try_number).filter(
            TaskInstance.dag_id == run.dag_id, TaskInstance.run_id == run.run_id).all()
    return dict(rows)


def task_seconds(run) -> float:
    """Seconds spent inside the tasks of a finished run (the rest of its time is Airflow's)."""
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session

    with create_session() as session:
        rows = session.query(TaskInstance.duration).filter(
            TaskInstance.dag_id == run.dag_id, TaskInstance.run_id == run.run_id).all()
    return float(sum(r[0] or 0 for r in rows))
