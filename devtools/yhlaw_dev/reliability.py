"""``make reliability``: every source x every fault kind, then three reruns of every interval.

The run uses its own warehouse database and its own set of simulators, real Airflow
(``dag.test`` on the DAGs parsed from ``dags/``), and injects one fault kind per interval:

* source side, by the simulators: HTTP 5xx bursts, 429 with Retry-After, responses slower than
  the client timeout, connections reset mid-page, truncated and malformed pages, expired tokens
  and cursors; a file drop's half-written file and a corrected re-delivery; a database source's
  rows changing while it is read.
* warehouse side, by this module: the database connection of a running task terminated
  (``pg_terminate_backend``) at each of land, validate and publish; the worker process running
  an interval killed (SIGKILL) half-way through validate and through publish, then the interval
  run again by Airflow; two runs of the same interval started at the same moment.

To catch a task at a precise stage, a trap holds a SHARE lock on the table that stage writes
next (``raw.record``, ``staging.<t>``, ``core.<t>``): the task's write waits in plain sight in
``pg_locks``, and the fault is injected into exactly that backend or process.

Throughout, two readers log in as ``analyst`` and ``dashboard`` and poll: every batch an analyst
sees in ``core.*_version`` must be complete (its final row count), and every state of
``mart.indicator_values`` a dashboard sees must be one a refresh committed (write, audit, then
publish: nothing partial is ever visible).

After the faults, every interval's warehouse content is reconciled record by record with what
the simulator says it served (its ``/_sim/truth``; the pipeline itself never reads it): lost and
duplicated records must be 0. Then every interval is run three more times and the warehouse
checksum must not change.

Not a timed test: figures are counts. ``--quick`` (used by ``make test``) mixes a source's
fault kinds into one interval instead of one interval per kind.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import shutil
import signal
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Callable

import pendulum
from psycopg2 import sql

from yhlaw.settings import LOCAL_DIR, PROJECT_ROOT, with_database, with_user
from yhlaw.spec import Entity, load_spec

from yhlaw_dev.sim import simulated_sources
from yhlaw_dev.world import DevSettings as Settings
from yhlaw.warehouse import connect, table_checksum, transaction

TZ = "Asia/Shanghai"
RELIABILITY_DB = "yuhang_law_reliability"
CLOCK_LAG = timedelta(hours=1)
# The client's timeout is shorter than a "slow" response, so that fault really times out.
SIM_ENV = {"SIM_SLOW_SECONDS": "2.5", "SIM_TOKEN_TTL": "600"}
# Sources whose day is a handful of pages (a few projects and their 办件): the --quick mixed
# interval makes too few requests for every fault kind to fire. Their transport's kinds are all
# fired by another source of the same style (petitions: signed cursor pages), and the full
# `make reliability` gives each kind an interval of its own.
FEW_PAGES = frozenset({"investment"})
# Small pages (many requests per interval, so every fault kind gets its chance) and a retry
# budget that a run of faults cannot exhaust.
CLIENT_EXTRAS = {"timeout_seconds": 1.0, "backoff_seconds": 0.05, "backoff_max_seconds": 0.2,
                 "max_attempts": 15, "max_restarts": 30, "page_size": 20}
WAREHOUSE_FAULTS = ("connection_dropped", "task_killed", "concurrent_runs")
# Source-side faults this module plays itself, as the outside world would (the rest the simulators inject).
WORLD_FAULTS = ("rows_changing", "delivered_twice")

# The oracle: the simulators' dirt kinds and the quarantine reasons that must catch them.
ERROR_DIRT = {
    "missing_required": {"missing_required_field"},
    "unknown_town": {"unknown_town"},
    "pre2021_town": {"town_out_of_district"},
    "impossible_date": {"impossible_date", "unparseable_value"},
    "negative_amount": {"amount_out_of_range"},
}
# Dirt that is valid data once normalised (or legitimately incomplete records).
HARMLESS_DIRT = {"town_name", "late_correction", "duplicate", "stages_out_of_order", "incomplete_stages",
                 "encoding_mixup", "xlsx"}


def transport_kind(source: str) -> str:
    return load_spec(source).transport.get("kind", "http")


def source_faults(source: str) -> dict[str, float]:
    """The fault kinds the source's simulator can inject, with a per-request probability."""
    transport = load_spec(source).transport
    kind = transport_kind(source)
    if kind == "file_drop":
        return {"half_written": 1.0, "delivered_twice": 1.0}   # the second: the harness copies files
    if kind == "sql":
        return {"rows_changing": 1.0}          # injected by moving the world's clock during the read
    faults = {"5xx": 0.08, "429": 0.04, "slow": 0.03, "truncated": 0.06, "malformed": 0.06, "reset": 0.06}
    if transport.get("auth") == "oauth_client_credentials":
        faults["token_expire"] = 0.06
    if transport.get("pagination") == "cursor":
        faults["cursor_expire"] = 0.06
    if kind == "soap":
        faults["soap_fault"] = 0.06            # a soap:Server fault in a 500 answer
    return faults


def simulator_faults(source: str) -> dict[str, float]:
    """The fault kinds the source's simulator injects itself (the rest this module plays)."""
    return {k: p for k, p in source_faults(source).items() if k not in WORLD_FAULTS}


def api_name(entity: Entity) -> str:
    """The simulator's name for an entity (its truth endpoint)."""
    if transport_kind(entity.source) == "http":
        return entity.path.rstrip("/").rsplit("/", 1)[-1]
    return {"case": "cases"}.get(entity.name, entity.name)


def version_stamps(entity: Entity) -> tuple[str, str]:
    """(payload field, core column) that identify a record version the way the truth does."""
    if transport_kind(entity.source) == "file_drop":
        return "_delivered_at", "delivered_at"
    return entity.updated_at, "source_updated_at"


def instant(text: str):
    return pendulum.parse(text, tz=TZ)


# --------------------------------------------------------------------------------------------
# The oracle: what the source served for an interval vs what the warehouse holds


@dataclass
class Reconciled:
    served: int = 0
    received: int = 0
    loaded: int = 0
    quarantined: int = 0
    lost: int = 0
    duplicates: int = 0
    wrong_reason: int = 0
    problems: list[str] = field(default_factory=list)

    def add(self, other: "Reconciled") -> None:
        for k in ("served", "received", "loaded", "quarantined", "lost", "duplicates", "wrong_reason"):
            setattr(self, k, getattr(self, k) + getattr(other, k))
        self.problems += other.problems


def reconcile_interval(url: str, sim, entity: Entity, start: datetime, truth: list[dict] | None = None,
                       superseded_ok: bool = False, served_again: list[dict] = ()) -> Reconciled:
    """Every record version the source served for the interval's window is in core, or in
    quarantine with the reason its dirt calls for; counts reconcile; core has no version the
    source did not serve. ``superseded_ok``: a version may instead have been replaced by a newer
    one (rows changing during the read). ``served_again``: records of an earlier window the
    source delivered once more in this one (they count as served and must change nothing)."""
    from yhlaw.pipeline import window_for

    out = Reconciled()
    window = window_for(entity.source, start, start + timedelta(days=1))
    truth = sim.truth(api_name(entity), window.since, window.end) if truth is None else truth
    payload_stamp, version_stamp = version_stamps(entity)
    out.served = sum(2 if "duplicate" in t["dirt"] else 1 for t in [*truth, *served_again])
    with transaction(url) as conn, conn.cursor() as cur:
        cur.execute("""SELECT batch_id, status, received, loaded, quarantined FROM audit.batch
                       WHERE source = %s AND entity = %s AND interval_start = %s
                       ORDER BY landed_at DESC LIMIT 1""", (entity.source, entity.name, window.start))
        row = cur.fetchone()
        if row is None or row[1] != "loaded":
            out.lost = out.served
            out.problems.append(f"{entity.source}.{entity.name} {start:%Y-%m-%d}: no loaded batch ({row})")
            return out
        batch_id, _, out.received, out.loaded, out.quarantined = row
        cur.execute("""SELECT count(*) - count(DISTINCT r.content_sha256) FROM raw.batch r
                       WHERE source = %s AND entity = %s AND interval_start = %s""",
                    (entity.source, entity.name, window.start))
        twins = cur.fetchone()[0]
        if twins:      # the same content landed twice for one interval: its records counted twice
            out.duplicates += twins * out.received
            out.problems.append(f"{entity.source}.{entity.name} {start:%Y-%m-%d}: the same content landed as "
                                f"{twins + 1} batches")
        cur.execute(sql.SQL("SELECT record_key, payload->>{stamp}, reasons FROM quarantine.record "
                            "WHERE batch_id = %s").format(stamp=sql.Literal(payload_stamp)), (batch_id,))
        quarantined = [(k, instant(ts) if ts else None, set(r)) for k, ts, r in cur.fetchall()]
        cur.execute(sql.SQL("SELECT {k}, {v} FROM {t} WHERE {v} >= %s AND {v} < %s").format(
            k=sql.Identifier(entity.natural_key), v=sql.Identifier(version_stamp),
            t=sql.Identifier("core", f"{entity.table}_version")), (window.since, window.end))
        versions = set(cur.fetchall())
        cur.execute(sql.SQL("SELECT {k}, {v} FROM {t} WHERE {v} >= %s AND {v} < %s").format(
            k=sql.Identifier(entity.natural_key), v=sql.Identifier(version_stamp),
            t=sql.Identifier("core", f"{entity.table}_version")), (window.start, window.end))
        phantoms = set(cur.fetchall()) - {(t["key"], instant(t["updatedAt"])) for t in truth}
        cur.execute(sql.SQL("SELECT {k}, source_updated_at FROM {t}").format(
            k=sql.Identifier(entity.natural_key), t=sql.Identifier("core", entity.table)))
        latest = dict(cur.fetchall()) if superseded_ok else {}
    where = f"{entity.source}.{entity.name} {start:%Y-%m-%d}"
    if out.received != out.loaded + out.quarantined:
        out.problems.append(f"{where}: received {out.received} != loaded {out.loaded} + quarantined {out.quarantined}")
    if not superseded_ok and out.received != out.served:
        gap = out.served - out.received
        out.lost += max(gap, 0)
        out.duplicates += max(-gap, 0)
        out.problems.append(f"{where}: landed {out.received}, the source served {out.served}")

    by_key: dict[tuple, list[set]] = {}
    for key, updated, reasons in quarantined:
        by_key.setdefault((key, updated), []).append(reasons)
    if phantoms:
        out.duplicates += len(phantoms)
        out.problems.append(f"{where}: {len(phantoms)} versions in core the source never served, "
                            f"e.g. {sorted(phantoms)[:3]}")
    expected_quarantine = sum((2 if "duplicate" in t["dirt"] else 1) if t["key"].startswith("<null>") or any(
        d in ERROR_DIRT for d in t["dirt"]) else (1 if "duplicate" in t["dirt"] else 0) for t in served_again)
    for t in truth:
        copies = 2 if "duplicate" in t["dirt"] else 1
        errors = [d for d in t["dirt"] if d in ERROR_DIRT]
        unknown = set(t["dirt"]) - set(ERROR_DIRT) - HARMLESS_DIRT
        if unknown:
            out.problems.append(f"{where}: the oracle does not know dirt kinds {unknown}")
        if t["key"].startswith("<null>"):
            expected_quarantine += copies
            continue
        stamp = instant(t["updatedAt"])
        found = by_key.get((t["key"], stamp), [])
        if errors:
            expected_quarantine += copies
            if len(found) < copies:
                out.lost += copies - len(found)
                out.problems.append(f"{where}: {t['key']} should be quarantined {copies}x, found {len(found)}")
            for reasons in found:
                if not all(reasons & ERROR_DIRT[d] for d in errors):
                    out.wrong_reason += 1
                    out.problems.append(f"{where}: {t['key']} quarantined for {reasons}, dirt {errors}")
            continue
        present = (t["key"], stamp) in versions
        if not present and superseded_ok and t["key"] in latest and latest[t["key"]] >= stamp:
            present = True
        if not present:
            out.lost += 1
            out.problems.append(f"{where}: clean record {t['key']}@{t['updatedAt']} is not in core")
        if copies == 2:
            expected_quarantine += 1
            if found != [{"duplicate_record"}]:
                out.problems.append(f"{where}: second copy of {t['key']} should be a duplicate_record: {found}")
                out.wrong_reason += 1
    if not superseded_ok and out.quarantined != expected_quarantine:
        extra = out.quarantined - expected_quarantine
        out.duplicates += max(extra, 0)
        out.lost += max(-extra, 0) if not out.problems else 0
        out.problems.append(f"{where}: quarantined {out.quarantined}, expected {expected_quarantine}")
    return out


# --------------------------------------------------------------------------------------------
# Injecting warehouse faults


class LockTrap:
    """Holds a SHARE lock on one table, so the pipeline's next write to it waits in plain sight."""

    def __init__(self, admin_url: str, table: str):
        self.admin_url, self.table = admin_url, table
        self.conn = connect(admin_url, application_name="yhlaw-reliability-trap")
        with self.conn.cursor() as cur:
            cur.execute(sql.SQL("LOCK TABLE {} IN SHARE MODE").format(sql.Identifier(*table.split("."))))

    def waiting(self, timeout: float, count: int = 1) -> list[int]:
        """Pipeline backends (pids) waiting for this lock: up to ``timeout`` s for ``count`` of them."""
        deadline = time.monotonic() + timeout
        probe = connect(self.admin_url, application_name="yhlaw-reliability-probe")
        probe.autocommit = True
        try:
            with probe.cursor() as cur:
                while True:
                    cur.execute("""SELECT l.pid FROM pg_locks l JOIN pg_stat_activity a USING (pid)
                                   WHERE l.relation = %s::regclass AND NOT l.granted
                                     AND a.backend_type = 'client backend' AND a.usename = 'etl'""", (self.table,))
                    pids = [r[0] for r in cur.fetchall()]
                    if len(pids) >= count or time.monotonic() > deadline:
                        return pids
                    time.sleep(0.005)
        finally:
            probe.close()

    def terminate(self, pid: int) -> None:
        with self.conn.cursor() as cur:
            cur.execute("SELECT pg_terminate_backend(%s)", (pid,))

    def release(self) -> None:
        self.conn.rollback()
        self.conn.close()


def wait_for_landed(url: str, entity: Entity, start: datetime, timeout: float = 120) -> bool:
    """Until the interval's batch of ``entity`` is landed (committed); then validate is next."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with transaction(url) as conn, conn.cursor() as cur:
            cur.execute("SELECT 1 FROM audit.batch WHERE source = %s AND entity = %s AND interval_start = %s",
                        (entity.source, entity.name, start))
            if cur.fetchone():
                return True
        time.sleep(0.005)
    return False


# Where each stage of a task is caught: the table it writes next, and whether the trap may only
# be set once the batch has landed (validate's last write is the batch's status in audit.batch,
# which extract writes too).
STAGES = {"extract": ("raw.record", False), "validate": ("audit.batch", True), "load": ("core.{table}", False)}


def connection_from_env(source: str) -> SimpleNamespace:
    """The source's Airflow connection from its AIRFLOW_CONN_* variable (for worker processes)."""
    conn = json.loads(os.environ[f"AIRFLOW_CONN_{load_spec(source).connection.upper()}"])
    return SimpleNamespace(conn_type=conn.get("conn_type"), host=conn.get("host"), port=conn.get("port"),
                           schema=conn.get("schema"), login=conn.get("login"), password=conn.get("password"),
                           extra_dejson=json.loads(conn.get("extra") or "{}"))


def run_interval_tasks(source: str, start: datetime, url: str, hmac_key: str) -> None:
    """What the ingest DAG's tasks do for one interval, in this process (a worker's view)."""
    from yhlaw.readers import SourceConnection
    from yhlaw.pipeline import extract_batch, load_batch, validate_batch, window_for

    connection = SourceConnection.from_airflow_connection(connection_from_env(source))
    window = window_for(source, start, start + timedelta(days=1))
    for entity in load_spec(source).entities.values():
        landed = extract_batch(entity, window, warehouse_url=url, connection=connection, dag_run_id="reliability-worker")
        validate_batch(entity, landed["batch_id"], warehouse_url=url, hmac_key=hmac_key)
        load_batch(entity, landed["batch_id"], warehouse_url=url)


def _worker(source: str, start: datetime, url: str, hmac_key: str) -> None:
    try:
        run_interval_tasks(source, start, url, hmac_key)
    except BaseException as exc:          # the exit code tells the parent; the message goes to the log
        print(f"worker {source} {start:%Y-%m-%d} failed: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
        os._exit(1)
    os._exit(0)


def start_worker(source: str, start: datetime, url: str, hmac_key: str) -> multiprocessing.Process:
    """A worker process (forked: this process has pandas and GX loaded already)."""
    proc = multiprocessing.get_context("fork").Process(target=_worker, args=(source, start, url, hmac_key),
                                                      daemon=True)
    proc.start()
    return proc


# --------------------------------------------------------------------------------------------
# Readers that must never see a partial batch


class Readers:
    """``analyst`` polls the version tables, ``dashboard`` the mart, for the whole fault phase."""

    def __init__(self, url: str, tables: list[str]):
        self.url, self.tables = url, tables
        self.batches: dict[tuple[str, str], set[int]] = {}
        self.mart_states: set[str] = set()
        self.polls = Counter()
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._loop, args=(role, fn), daemon=True)
                         for role, fn in (("analyst", self._poll_core), ("dashboard", self._poll_mart))]

    def __enter__(self) -> "Readers":
        for t in self._threads:
            t.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(timeout=30)

    def _loop(self, role: str, poll: Callable) -> None:
        while not self._stop.is_set():
            try:
                with transaction(with_user(self.url, role)) as conn, conn.cursor() as cur:
                    while not self._stop.is_set():
                        poll(cur)
                        conn.rollback()
                        self.polls[role] += 1
                        time.sleep(0.02)
            except Exception as exc:       # a terminated backend of ours, etc.: note it, reconnect
                self.errors.append(f"{role}: {type(exc).__name__}: {exc}")
                time.sleep(0.1)

    def _poll_core(self, cur) -> None:
        for table in self.tables:
            cur.execute(sql.SQL("SELECT batch_id, count(*) FROM {} GROUP BY 1").format(
                sql.Identifier("core", f"{table}_version")))
            for batch_id, n in cur.fetchall():
                self.batches.setdefault((table, batch_id), set()).add(n)

    def _poll_mart(self, cur) -> None:
        self.mart_states.add(mart_digest(cur))


def mart_digest(cur) -> str:
    cur.execute("""SELECT coalesce(md5(string_agg(concat_ws(',', indicator_code, grain, period_start, town_code,
                                                           numerator, denominator, value), '|'
                                                 ORDER BY indicator_code, grain, period_start, town_code)), '')
                   FROM mart.indicator_values""")
    return cur.fetchone()[0]


# --------------------------------------------------------------------------------------------
# The run


@dataclass
class Scenario:
    source: str
    fault: str                      # a source fault kind, "source_faults" (mixed) or a warehouse fault
    start: datetime
    injected: Counter = field(default_factory=Counter)
    runs: int = 0
    retries: int = 0
    failed_runs: int = 0            # DAG runs that ended failed (Airflow's own retries did not absorb it)
    worker_failures: int = 0        # concurrent workers that failed (each must succeed or fail retryably)
    result: Reconciled = field(default_factory=Reconciled)
    truth: dict[str, list[dict]] | None = None     # as the source said before its rows changed
    served_again: dict[str, list[dict]] = field(default_factory=dict)   # delivered twice

    @property
    def end(self) -> datetime:
        return self.start + timedelta(days=1)


def plan(sources: list[str], first: datetime, quick: bool) -> list[Scenario]:
    """One interval per (source, fault kind); ``quick``: a source's own fault kinds share one."""
    out = []
    for source in sources:
        kinds = list(source_faults(source))
        source_side = (["source_faults"] if quick and transport_kind(source) == "http" else kinds)
        for i, fault in enumerate(source_side + list(WAREHOUSE_FAULTS)):
            out.append(Scenario(source, fault, first + timedelta(days=i)))
    return out


def reliability_settings(settings: Settings, database: str, port: int) -> Settings:
    return replace(settings, warehouse_url=with_database(settings.warehouse_url, database), sim_base_port=port,
                   sim_namespace=database, airflow_home=LOCAL_DIR / f"airflow-{database}")


class Runner:
    def __init__(self, settings: Settings, sims: dict):
        from yhlaw_dev.stack import load_dag

        self.settings, self.sims = settings, sims
        self.url = settings.warehouse_url
        self.hmac_key = settings.secrets["PII_HMAC_KEY"]
        self.dags = {s: load_dag(f"ingest_{s}") for s in sims}
        self.compute = load_dag("compute_indicators")
        for dag in [*self.dags.values(), self.compute]:
            for task in dag.tasks:       # Airflow's own retries, without the production back-off wait
                task.retry_delay = timedelta(seconds=1)
                task.max_retry_delay = timedelta(seconds=1)
        self.mart_boundaries: set[str] = set()

    def say(self, text: str) -> None:
        print(text, flush=True)

    def dag_run(self, sc: Scenario, *, rerun: bool = False) -> str:
        from yhlaw_dev.stack import run_dag_for_interval, run_state, task_tries

        run = run_dag_for_interval(self.dags[sc.source], sc.end)
        if rerun:
            return run_state(run)
        tries = task_tries(run)
        sc.runs += 1
        sc.retries += sum(max(0, n - 1) for n in tries.values())
        state = run_state(run)
        if state != "success":
            sc.failed_runs += 1
        return state

    def refresh_indicators(self, label: str) -> None:
        from yhlaw_dev.stack import run_dag_for_interval, run_state

        state = run_state(run_dag_for_interval(self.compute, pendulum.now(TZ)))
        if state != "success":
            raise RuntimeError(f"compute_indicators failed after {label}")
        with transaction(self.url) as conn, conn.cursor() as cur:
            self.mart_boundaries.add(mart_digest(cur))

    def set_clock(self, sc: Scenario) -> None:
        self.sims[sc.source].set_clock(sc.end + CLOCK_LAG)

    def inject(self, sc: Scenario) -> None:
        """Run the scenario's interval with its fault; Airflow retries what fails transiently."""
        sim = self.sims[sc.source]
        entities = list(load_spec(sc.source).entities.values())
        if sc.fault not in WAREHOUSE_FAULTS + WORLD_FAULTS:
            self._source_faults(sc)
            return
        self.set_clock(sc)
        if sc.fault in WAREHOUSE_FAULTS:
            getattr(self, f"_{sc.fault}")(sc, entities)
        elif sc.fault == "delivered_twice":
            self._delivered_twice(sc, entities)
        elif sc.fault == "rows_changing":
            sc.truth = {e.name: sim.truth(api_name(e), sc.start - self._overlap(sc), sc.end) for e in entities}
            mover = threading.Thread(target=sim.admin, args=("PUT", "/_sim/clock", {
                "now": (sc.end + timedelta(hours=13)).isoformat(), "gradual_seconds": 3}))
            mover.start()
            self.dag_run(sc)
            mover.join()
            sc.injected["rows_changing"] += 1
        self._until_loaded(sc)

    def _source_faults(self, sc: Scenario) -> None:
        """The simulator injects the fault(s); set before its clock moves, since moving the clock
        is when a file drop delivers."""
        sim = self.sims[sc.source]
        mixed = sc.fault == "source_faults"
        faults = (simulator_faults(sc.source) if mixed else {sc.fault: max(source_faults(sc.source)[sc.fault], 0.3)})
        sim.admin("POST", "/_sim/stats/reset")
        sim.set_faults(faults)
        try:
            self.set_clock(sc)
            # The simulator draws its faults from a seeded sequence: a short interval may see
            # none of them, so the interval is read again (same content) until the kind fired.
            for _ in range(3 if mixed else 5):
                self.dag_run(sc)
                fired = {k: n for k, n in sim.admin("GET", "/_sim/stats")["faults"].items() if n}
                if not mixed and fired.get(sc.fault):
                    break
        finally:
            sim.set_faults({})
        sc.injected.update(fired)
        self._until_loaded(sc)

    def _until_loaded(self, sc: Scenario) -> None:
        while self._needs_retry(sc):           # a run that failed retryably is run again, as Airflow would
            if sc.failed_runs > 5:
                raise RuntimeError(f"{sc.source} {sc.start:%Y-%m-%d} ({sc.fault}) keeps failing")
            self.dag_run(sc)

    @staticmethod
    def _overlap(sc: Scenario) -> timedelta:
        return timedelta(minutes=load_spec(sc.source).overlap_minutes)

    def _needs_retry(self, sc: Scenario) -> bool:
        with transaction(self.url) as conn, conn.cursor() as cur:
            cur.execute("""SELECT count(*) FILTER (WHERE status = 'loaded') FROM (
                               SELECT DISTINCT ON (entity) status FROM audit.batch
                               WHERE source = %s AND interval_start = %s ORDER BY entity, landed_at DESC) b""",
                        (sc.source, sc.start))
            loaded = cur.fetchone()[0]
        return loaded < len(load_spec(sc.source).entities)

    def _trap(self, stage: str, entity: Entity, start: datetime) -> LockTrap:
        table, after_landing = STAGES[stage]
        if after_landing and not wait_for_landed(self.url, entity, start):
            raise RuntimeError(f"{entity.source}.{entity.name} {start:%Y-%m-%d} never landed")
        return LockTrap(self.settings.admin_url, table.format(table=entity.table))

    def _delivered_twice(self, sc: Scenario, entities: list[Entity]) -> None:
        """The files of the previous window, delivered again (same bytes, new name and time)."""
        drop = self.settings.sim_drop_dir(sc.source)
        previous = sc.start - timedelta(days=1)
        for m in sorted(drop.glob("*.manifest.json")):
            manifest = json.loads(m.read_text())
            if "_again" in m.name or not previous <= datetime.fromisoformat(manifest["delivered_at"]) < sc.start:
                continue
            data = m.with_name(m.name[: -len(".manifest.json")])
            stem, ext = data.name.rsplit(".", 1)
            again = data.with_name(f"{stem}_again.{ext}")
            shutil.copyfile(data, again)                       # the data first, then its manifest
            manifest.update(file=again.name, delivered_at=(sc.start + timedelta(hours=3)).isoformat())
            again.with_name(again.name + ".manifest.json").write_text(json.dumps(manifest, ensure_ascii=False))
            sc.injected["delivered_twice"] += 1
        sim = self.sims[sc.source]
        sc.served_again = {e.name: sim.truth(api_name(e), previous, sc.start) for e in entities}
        self.dag_run(sc)

    def _connection_dropped(self, sc: Scenario, entities: list[Entity]) -> None:
        """Terminate the task's database connection in the middle of extract (raw written, not
        committed), validate (staging and quarantine written) and load (history written, core not)."""
        e = entities[0]

        def killer():
            for stage in STAGES:
                trap = self._trap(stage, e, sc.start)
                try:
                    for pid in trap.waiting(timeout=60):
                        trap.terminate(pid)
                        sc.injected[f"connection_dropped:{stage}"] += 1
                finally:
                    trap.release()

        t = threading.Thread(target=killer, daemon=True)
        t.start()
        self.dag_run(sc)       # each task whose connection dropped fails; Airflow retries it after 1 s
        t.join(timeout=120)

    def _task_killed(self, sc: Scenario, entities: list[Entity]) -> None:
        """A worker killed (SIGKILL) half-way through validate, another half-way through load;
        then the interval runs again through Airflow, as the retry after a lost worker."""
        e = entities[0]
        for stage in ("validate", "load"):
            worker = start_worker(sc.source, sc.start, self.url, self.hmac_key)
            trap = self._trap(stage, e, sc.start)
            try:
                if trap.waiting(timeout=60):
                    os.kill(worker.pid, signal.SIGKILL)
                    sc.injected[f"task_killed:{stage}"] += 1
                worker.join(timeout=60)
            finally:
                trap.release()
        self.dag_run(sc)

    def _concurrent_runs(self, sc: Scenario, entities: list[Entity]) -> None:
        """Two workers run the same interval at once (held at raw until both have started)."""
        trap = LockTrap(self.settings.admin_url, "raw.record")
        try:
            workers = [start_worker(sc.source, sc.start, self.url, self.hmac_key) for _ in range(2)]
            if trap.waiting(timeout=60):
                time.sleep(0.5)            # the other one reaches the entity's lock
                sc.injected["concurrent_runs"] += 1
        finally:
            trap.release()
        for w in workers:
            w.join(timeout=300)
        sc.runs += 2
        sc.worker_failures += sum(w.exitcode != 0 for w in workers)

    def reconcile(self, sc: Scenario) -> Reconciled:
        self.set_clock(sc)
        out = Reconciled()
        for e in load_spec(sc.source).entities.values():
            out.add(reconcile_interval(self.url, self.sims[sc.source], e, sc.start,
                                       truth=sc.truth[e.name] if sc.truth else None,
                                       served_again=sc.served_again.get(e.name, ()),
                                       superseded_ok=sc.fault == "rows_changing"))
        return out

    def rerun(self, sc: Scenario) -> str:
        self.set_clock(sc)
        return self.dag_run(sc, rerun=True)


def warehouse_checksum(url: str, sources: list[str]) -> dict[str, Any]:
    """Everything a rerun could change: core and its history, quarantine, raw and audit counts, marts."""
    parts: dict[str, Any] = {}
    with transaction(url) as conn, conn.cursor() as cur:
        for s in sources:
            for e in load_spec(s).entities.values():
                for suffix in ("", "_version"):
                    parts[f"core.{e.table}{suffix}"] = table_checksum(conn, "core", f"{e.table}{suffix}")
        cur.execute("""SELECT count(*), md5(string_agg(concat_ws(',', batch_id, seq, reasons, details), '|'
                                                   ORDER BY batch_id, seq)) FROM quarantine.record""")
        parts["quarantine.record"] = cur.fetchone()
        cur.execute("SELECT (SELECT count(*) FROM raw.batch), (SELECT count(*) FROM raw.record)")
        parts["raw"] = cur.fetchone()
        cur.execute("""SELECT md5(string_agg(concat_ws(',', batch_id, status, received, loaded, quarantined), '|'
                                         ORDER BY batch_id)) FROM audit.batch""")
        parts["audit.batch"] = cur.fetchone()[0]
        parts["mart.indicator_values"] = mart_digest(cur)
    parts["all"] = hashlib.md5(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()
    return parts


def run(*, quick: bool, settings: Settings, out: Path | None, sources: list[str] | None = None,
        start: str = "2022-03-01") -> int:
    from yhlaw.bootstrap import prepare_airflow, prepare_warehouse
    from yhlaw_dev.stack import simulators

    t0 = time.monotonic()
    sources = sources or simulated_sources()
    first = pendulum.parse(start, tz=TZ)
    prepare_warehouse(settings, recreate=True)
    for source in sources:                      # the simulated world starts empty
        shutil.rmtree(settings.sim_drop_dir(source), ignore_errors=True)
    scenarios = plan(sources, first, quick)
    with simulators(settings, sources, now=first, extra_env=SIM_ENV) as sims:
        prepare_airflow(settings, settings.airflow_environment({s: sim.url for s, sim in sims.items()}))
        for source in sources:
            var = f"AIRFLOW_CONN_{load_spec(source).connection.upper()}"
            conn = json.loads(os.environ[var])
            conn["extra"] = json.dumps({**json.loads(conn.get("extra") or "{}"), **CLIENT_EXTRAS})
            os.environ[var] = json.dumps(conn)
        runner = Runner(settings, sims)
        tables = [e.table for s in sources for e in load_spec(s).entities.values()]
        runner.say(f"reliability: {len(scenarios)} intervals, {len(sources)} sources "
                   f"({'quick' if quick else 'one interval per fault kind'})")
        days = sorted({sc.start for sc in scenarios})
        with Readers(settings.warehouse_url, tables) as readers:
            runner.refresh_indicators("start")
            for d in days:
                for sc in [s for s in scenarios if s.start == d]:
                    runner.inject(sc)
                    runner.say(f"  {sc.start:%Y-%m-%d} {sc.source:<15} {sc.fault:<20} injected "
                               f"{dict(sc.injected) or '-'}; runs {sc.runs}, Airflow retries {sc.retries}")
                runner.refresh_indicators(f"{d:%Y-%m-%d}")
            time.sleep(0.2)
        for sc in scenarios:
            sc.result = runner.reconcile(sc)
        after_faults = warehouse_checksum(settings.warehouse_url, sources)
        # Three reruns of every interval, each round followed by an indicator refresh.
        rounds = []
        rerun_failures = 0
        for i in range(3):
            for sc in scenarios:
                if runner.rerun(sc) != "success":
                    rerun_failures += 1
            runner.refresh_indicators(f"rerun {i + 1}")
            rounds.append(warehouse_checksum(settings.warehouse_url, sources))
            runner.say(f"  rerun {i + 1}: warehouse checksum {rounds[-1]['all']}")
        final = Reconciled()
        for sc in scenarios:
            if sc.fault != "rows_changing":
                final.add(runner.reconcile(sc))

    with transaction(settings.warehouse_url) as conn, conn.cursor() as cur:
        complete = {}
        for table in tables:
            cur.execute(sql.SQL("SELECT batch_id, count(*) FROM {} GROUP BY 1").format(
                sql.Identifier("core", f"{table}_version")))
            complete.update({(table, b): n for b, n in cur.fetchall()})
    partial = {k: sorted(v) for k, v in readers.batches.items()
               if len(v) > 1 or (k in complete and v != {complete[k]})}
    unseen_mart = readers.mart_states - runner.mart_boundaries
    report = Report(scenarios=scenarios, rounds=rounds, after_faults=after_faults, final=final,
                    rerun_failures=rerun_failures, partial_batches=partial, mart_states=len(readers.mart_states),
                    unseen_mart_states=len(unseen_mart), polls=dict(readers.polls), reader_errors=readers.errors,
                    quick=quick, seconds=time.monotonic() - t0)
    text = report.markdown()
    print(text)
    if out:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text)
        print(f"wrote {out}")
    return 0 if report.ok else 1


@dataclass
class Report:
    scenarios: list[Scenario]
    rounds: list[dict]
    after_faults: dict
    final: Reconciled
    rerun_failures: int
    partial_batches: dict
    mart_states: int
    unseen_mart_states: int
    polls: dict
    reader_errors: list[str]
    quick: bool
    seconds: float

    @property
    def totals(self) -> Reconciled:
        t = Reconciled()
        for sc in self.scenarios:
            t.add(sc.result)
        return t

    @property
    def checks(self) -> list[tuple[str, bool]]:
        t = self.totals
        return [
            ("every fault kind was injected", all(sum(sc.injected.values()) > 0 for sc in self.scenarios)),
            ("no record lost", t.lost == 0 and self.final.lost == 0),
            ("no record duplicated", t.duplicates == 0 and self.final.duplicates == 0),
            ("every quarantined record has its reason", t.wrong_reason == 0 and self.final.wrong_reason == 0),
            ("every DAG run succeeded (faults absorbed by the client or by Airflow's retries)",
             all(sc.failed_runs == 0 for sc in self.scenarios)),
            ("both of two concurrent runs of one interval succeeded", all(sc.worker_failures == 0 for sc in self.scenarios)),
            ("every interval ended loaded after retries", all(sc.result.received or sc.result.served == 0
                                                             for sc in self.scenarios)),
            ("reruns all succeeded", self.rerun_failures == 0),
            ("checksum identical after each of 3 reruns", len({r["all"] for r in self.rounds}) == 1),
            ("no partial batch visible to analyst", not self.partial_batches),
            ("no uncommitted mart state visible to dashboard", self.unseen_mart_states == 0),
        ]

    @property
    def ok(self) -> bool:
        return all(ok for _, ok in self.checks)

    def markdown(self) -> str:
        lines = ["# Reliability: faults injected, records reconciled", "",
                 "Made by `make reliability` (`python -m yhlaw_dev reliability"
                 + (" --quick" if self.quick else "") + "`), "
                 f"{pendulum.now(TZ):%Y-%m-%d %H:%M} Asia/Shanghai, {self.seconds:.0f} s. "
                 "How it works: `devtools/yhlaw_dev/reliability.py` (module docstring).", "",
                 "One row per interval: the source, the fault injected into it and how often, DAG runs "
                 "(Airflow task retries in brackets), and the interval's records as the source's own ground "
                 "truth lists them against what the warehouse holds after the retries.", "",
                 "| source | fault | injected | runs (retries) | served | loaded | quarantined | lost | duplicates |",
                 "|---|---|---|---|---:|---:|---:|---:|---:|"]
        for sc in self.scenarios:
            inj = ", ".join(f"{k} {n}" for k, n in sorted(sc.injected.items())) or "0"
            r = sc.result
            lines.append(f"| {sc.source} | {sc.fault} | {inj} | {sc.runs} ({sc.retries}) | {r.served} | {r.loaded} | "
                         f"{r.quarantined} | {r.lost} | {r.duplicates} |")
        t = self.totals
        lines.append(f"| **total** | {len(self.scenarios)} intervals | "
                     f"{sum(sum(sc.injected.values()) for sc in self.scenarios)} | "
                     f"{sum(sc.runs for sc in self.scenarios)} ({sum(sc.retries for sc in self.scenarios)}) | "
                     f"{t.served} | {t.loaded} | {t.quarantined} | {t.lost} | {t.duplicates} |")
        by_kind = Counter()
        for sc in self.scenarios:
            for k, n in sc.injected.items():
                by_kind[k.split(":")[0]] += n
        lines += ["", "Faults injected per kind: " + ", ".join(f"{k} {n}" for k, n in sorted(by_kind.items())) + ".",
                  "", "## Reruns", "",
                  "Every interval run again three times (world clock as at its first run), then the indicators "
                  "refreshed. Warehouse checksum (core and history, quarantine, raw and audit counts, marts):", "",
                  "| after | checksum | core.*_version rows |", "|---|---|---:|",
                  f"| the fault runs | `{self.after_faults['all']}` | {self._version_rows(self.after_faults)} |"]
        for i, r in enumerate(self.rounds, 1):
            lines.append(f"| rerun {i} | `{r['all']}` | {self._version_rows(r)} |")
        differs = sorted(k for k in self.after_faults if k != "all" and self.rounds
                         and self.after_faults[k] != self.rounds[0][k])
        if differs:
            lines += ["", "Between the fault runs and the first rerun these parts changed: "
                      + ", ".join(f"`{k}`" for k in differs) + ". A database source read while its rows were "
                      "changing served a snapshot; rerunning that interval at its original clock serves the "
                      "versions the snapshot had already seen superseded, which the history now also keeps."]
        lines += ["", f"After the reruns, reconciling every interval again: lost {self.final.lost}, duplicates "
                  f"{self.final.duplicates}, wrong reasons {self.final.wrong_reason}.", "",
                  "## Readers", "",
                  f"`analyst` polled every `core.*_version` table {self.polls.get('analyst', 0)} times during the "
                  f"fault runs; batches seen with a partial row count: {len(self.partial_batches)}. `dashboard` "
                  f"polled `mart.indicator_values` {self.polls.get('dashboard', 0)} times and saw {self.mart_states} "
                  f"distinct states, {self.unseen_mart_states} of them not a committed refresh.", "",
                  "## Checks", ""]
        lines += [f"- [{'x' if ok else ' '}] {name}" for name, ok in self.checks]
        problems = self.totals.problems + self.final.problems
        if problems:
            lines += ["", "## Problems", ""] + [f"- {p}" for p in problems[:50]]
        if self.reader_errors:
            lines += ["", f"Reader connection errors (reconnected): {len(self.reader_errors)}"]
        return "\n".join(lines) + "\n"

    @staticmethod
    def _version_rows(parts: dict) -> int:
        return sum(v[0] for k, v in parts.items() if k.endswith("_version"))


def docs_path() -> Path:
    return PROJECT_ROOT / "docs" / "reliability.md"
