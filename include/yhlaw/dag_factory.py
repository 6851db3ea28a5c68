"""Airflow glue: one factory turns a source spec into its ingest DAG.

At parse time this reads only the source's small YAML spec and builds the DAG object; it opens
no connection and imports neither pandas nor Great Expectations (those load inside tasks).

Per entity of the source: ``extract_<entity>`` -> ``validate_<entity>`` -> ``load_<entity>``;
the load task publishes the Asset of the entity's core table for downstream DAGs.
Transient faults (HTTP, database) are retried with exponential backoff; a rejected batch
(bad data) fails at once without retries.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

import pendulum

from yhlaw.assets import table_uri
from yhlaw.spec import Entity, SourceSpec, load_spec, source_names
from yhlaw.zone import DISTRICT_TZ

log = logging.getLogger(__name__)
OWNER = "data-platform"
# Time limits: no task may hold a worker slot for ever (a source that never finishes, a lock
# never released), and a run that has not finished by then is failed, so the next one starts.
# An ingest spec may set its own (schedule.task_timeout_minutes, schedule.run_timeout_minutes).
TASK_TIMEOUT = timedelta(minutes=60)
FRESHNESS_CRON = "15 6 * * *"     # before compute_indicators' 06:30 run
RUN_TIMEOUT = timedelta(hours=4)


def task_defaults(*, retries: int, backoff: bool = True, timeout: timedelta = TASK_TIMEOUT) -> dict[str, Any]:
    """Every task's owner, retries (exponential backoff from 30 s) and time limit."""
    return {"owner": OWNER, "retries": retries, "retry_delay": timedelta(seconds=30),
            "retry_exponential_backoff": backoff, "execution_timeout": timeout}


def connection(conn_id: str):
    """An Airflow connection (from the environment's secrets backend, in this project)."""
    from airflow.sdk import BaseHook

    return BaseHook.get_connection(conn_id)


def warehouse_url() -> str:
    """The ``warehouse`` Airflow connection as a libpq URL."""
    from psycopg2.extensions import make_dsn

    c = connection("warehouse")
    return make_dsn(host=c.host, port=c.port or 5432, user=c.login, password=c.password or None,
                    dbname=c.schema)


def hmac_key() -> str:
    return connection("pii_hmac").password or ""


def doc_md(spec: SourceSpec) -> str:
    lines = [f"# 采集: {spec.title}", "",
             f"Incremental ingest of `{spec.name}` by update time, one data interval per run "
             f"(with a {spec.overlap_minutes}-minute overlap). Spec: `include/specs/{spec.name}.yaml`.", "",
             "| entity | endpoint | core table | suite |", "|---|---|---|---|"]
    for e in spec.entities.values():
        lines.append(f"| {e.title} | `{e.path}` | `core.{e.table}` | `expectations/{e.suite}.json` |")
    tables = ", ".join(f"`core.{e.table}`" for e in spec.entities.values())
    lines += ["", "Rejected batches (blocking batch checks) fail without retry; see `audit.batch.error`.", "",
              f"- Fields, source paths and known values: `docs/sources.md` ({spec.name}).",
              f"- 口径 of the indicators computed from {tables}: `docs/indicators.md` (each lists its tables).",
              "- Quarantine reasons: `docs/data-quality.md`; alerts and freshness: `docs/operations.md`."]
    return "\n".join(lines)


def _window(entity: Entity, context: dict[str, Any]):
    from yhlaw.pipeline import window_for

    start, end = context["data_interval_start"], context["data_interval_end"]
    if start is None or end is None or start >= end:
        raise ValueError(f"run {context.get('run_id')} has no data interval; this DAG needs an interval timetable")
    return window_for(entity.source, start, end)


def run_extract(source: str, entity_name: str, **context) -> dict[str, Any]:
    from yhlaw.readers import SourceConnection
    from yhlaw.pipeline import entity_of, extract_batch

    entity = entity_of(source, entity_name)
    spec = load_spec(source)
    return extract_batch(entity, _window(entity, context), warehouse_url=warehouse_url(),
                   connection=SourceConnection.from_airflow_connection(connection(spec.connection)),
                   dag_run_id=context.get("run_id"))


def run_validate(source: str, entity_name: str, landed: dict[str, Any]) -> dict[str, Any]:
    from airflow.sdk.exceptions import AirflowFailException

    from yhlaw.key_check import KeyMismatch
    from yhlaw.pipeline import BatchRejected, entity_of, validate_batch

    try:
        return validate_batch(entity_of(source, entity_name), landed["batch_id"],
                        warehouse_url=warehouse_url(), hmac_key=hmac_key())
    except (BatchRejected, KeyMismatch) as exc:     # bad data or the wrong key: a retry cannot help
        raise AirflowFailException(str(exc)) from exc


def run_load(source: str, entity_name: str, validated: dict[str, Any]) -> dict[str, Any]:
    from yhlaw.pipeline import entity_of, load_batch

    return load_batch(entity_of(source, entity_name), validated["batch_id"], warehouse_url=warehouse_url())


def build_ingest_dag(source: str):
    from airflow.sdk import CronDataIntervalTimetable, TaskGroup, dag, task

    spec = load_spec(source)
    sched = spec.schedule
    tz = sched.get("timezone", DISTRICT_TZ)

    @dag(
        dag_id=f"ingest_{source}",
        dag_display_name=f"采集 · {spec.title}",
        schedule=CronDataIntervalTimetable(sched["cron"], timezone=tz),
        start_date=pendulum.parse(sched["start_date"], tz=tz),
        catchup=bool(sched.get("catchup", False)),
        max_active_runs=int(sched.get("max_active_runs", 4)),
        dagrun_timeout=timedelta(minutes=int(sched.get("run_timeout_minutes", RUN_TIMEOUT.total_seconds() // 60))),
        default_args={**task_defaults(retries=3, timeout=timedelta(minutes=int(sched.get(
            "task_timeout_minutes", TASK_TIMEOUT.total_seconds() // 60)))), "max_retry_delay": timedelta(minutes=10)},
        tags=["ingest", source],
        doc_md=doc_md(spec),
    )
    def ingest():
        for name, entity in spec.entities.items():
            # One group per entity in the UI; task ids stay extract_<entity> etc. (no group prefix).
            with TaskGroup(group_id=name, prefix_group_id=False, tooltip=entity.title):
                extract = task(task_id=f"extract_{name}", task_display_name=f"抽取 · {entity.title}")(run_extract)
                validate = task(task_id=f"validate_{name}", task_display_name=f"校验 · {entity.title}")(run_validate)
                publish = task(task_id=f"load_{name}", task_display_name=f"入库 · {entity.title}",
                               outlets=[table_asset("core", entity.table)])(run_load)
                landed = extract(source, name)
                publish(source, name, validate(source, name, landed))

    return ingest()


def run_replay(**context) -> dict[str, Any]:
    from yhlaw.pipeline import replay

    params = context["params"]
    spec = load_spec(params["source"])
    return {name: replay(entity, warehouse_url=warehouse_url(), hmac_key=hmac_key(),
                         reason=params.get("reason") or None, run_id=context["run_id"])
            for name, entity in spec.entities.items() if name in (params.get("entities") or spec.entities)}


def build_replay_dag():
    """``replay_quarantine``: triggered by hand after a fix (a new rule, an added town alias):
    re-validate the source's quarantined records and rejected batches from raw; what passes now
    goes to core. Idempotent, so triggering it twice is harmless."""
    from airflow.sdk import Param, dag, task

    @dag(
        dag_id="replay_quarantine",
        dag_display_name="隔离记录重放",
        schedule=None,
        start_date=pendulum.datetime(2021, 1, 1, tz=DISTRICT_TZ),
        catchup=False,
        max_active_runs=1,
        params={
            "source": Param(source_names()[0], enum=source_names(), description="source spec to replay"),
            "entities": Param([], type="array", description="entity names; empty = every entity of the source"),
            "reason": Param(None, type=["null", "string"], description="only batches with this quarantine reason"),
        },
        dagrun_timeout=RUN_TIMEOUT,
        default_args=task_defaults(retries=1, backoff=False),
        tags=["quarantine", "ops"],
        doc_md="# 隔离记录重放\n\nAfter fixing a rule or reference data, trigger with "
               "`{\"source\": \"enforcement\", \"reason\": \"unknown_town\"}`. Each batch is re-validated "
               "from raw; see `audit.replay`. Command line: `python -m yhlaw replay --source S`.",
    )
    def replay_quarantine():
        task(task_id="replay", task_display_name="重放隔离记录")(run_replay)()

    return replay_quarantine()


def run_reference_load() -> dict[str, int]:
    from yhlaw.reference import load_reference
    from yhlaw.warehouse import transaction

    with transaction(warehouse_url()) as conn:
        return load_reference(conn)


def build_reference_dag():
    """Reference data (include/reference/*.csv: 镇街, aliases, population, departments) into core.

    Daily and idempotent, so a changed seed file reaches the warehouse by the next morning;
    publishes the reference Asset for indicator DAGs (population is a denominator).
    """
    from airflow.sdk import dag, task

    @dag(
        dag_id="reference_data",
        dag_display_name="参考数据",
        is_paused_upon_creation=False,    # the repository's own files; the indicators need them
        schedule="@daily",
        start_date=pendulum.datetime(2021, 1, 1, tz=DISTRICT_TZ),
        catchup=False,
        max_active_runs=1,
        dagrun_timeout=RUN_TIMEOUT,
        default_args=task_defaults(retries=3),
        tags=["reference"],
        doc_md="# 参考数据\n\nLoads `include/reference/towns.csv`, `population.csv`, `departments.csv` into "
               "`core.dim_town`, `core.town_alias`, `core.town_population`, `core.dim_department`. "
               "Files are checked on load (every year has every 镇街, counts positive, aliases unique).",
    )
    def reference():
        task(task_id="load_reference", task_display_name="装载参考数据",
             outlets=reference_assets())(run_reference_load)()

    return reference()


# The reference tables the indicators read (population is a denominator, towns place records).
REFERENCE_TABLES = ("dim_town", "town_alias", "town_population", "dim_department")


def table_asset(schema: str, table: str):
    """The Asset of a warehouse table: named schema.table, URI in the postgres provider's form."""
    from airflow.sdk import Asset

    return Asset(name=f"{schema}.{table}", uri=table_uri(schema, table))


def reference_assets() -> list:
    return [table_asset("core", t) for t in REFERENCE_TABLES]


def run_freshness_check(**context) -> dict[str, Any]:
    from yhlaw.alerts import Alert, notify
    from yhlaw.freshness import stale_entities
    from yhlaw.warehouse import transaction

    run, url = context["dag_run"], warehouse_url()
    as_of = run.logical_date or run.run_after
    specs = [load_spec(s) for s in source_names()]
    with transaction(url) as conn, conn.cursor() as cur:
        stale = stale_entities(cur, specs, as_of)
    for item in stale:
        log.warning("stale: %s", item.message)
        notify(url, Alert("source_stale", run.dag_id, task_id=context["ti"].task_id, run_id=run.run_id,
                          message=item.message), connection)
    entities = sum(len(s.entities) for s in specs)
    log.info("freshness at %s: %d of %d entities stale", as_of, len(stale), entities)
    return {"as_of": as_of.isoformat(), "entities": entities, "stale": [f"{s.source}.{s.entity}" for s in stale]}


def build_freshness_dag():
    """``check_freshness``: at 06:15, before the 06:30 indicator run, a source_stale alert for
    every source entity whose due interval is not loaded (``yhlaw.freshness``)."""
    from airflow.sdk import CronTriggerTimetable, dag, task

    @dag(
        dag_id="check_freshness",
        dag_display_name="数据时效检查",
        schedule=CronTriggerTimetable(FRESHNESS_CRON, timezone=DISTRICT_TZ),
        start_date=pendulum.datetime(2021, 1, 1, tz=DISTRICT_TZ),
        catchup=False,
        max_active_runs=1,
        is_paused_upon_creation=False,
        dagrun_timeout=timedelta(minutes=30),
        default_args=task_defaults(retries=2, timeout=timedelta(minutes=10)),
        tags=["ops", "freshness"],
        doc_md="# 数据时效检查\n\nEvery morning at 06:15: each source entity whose interval due by its spec's "
               "`schedule.fresh_within_minutes` (default 375: 06:15 for a daily source) has no loaded batch "
               "raises a `source_stale` alert (`audit.alert`, and mail through `smtp_alerts`).",
    )
    def check_freshness():
        task(task_id="check_freshness", task_display_name="检查各数据源是否按时入库")(run_freshness_check)()

    return check_freshness()


def run_indicator_refresh(**context) -> dict[str, Any]:
    from yhlaw.indicators import refresh
    from yhlaw.warehouse import transaction

    with transaction(warehouse_url()) as conn:
        return refresh(conn, trigger=context.get("run_id"))


def run_link_refresh(**context) -> dict[str, Any]:
    from yhlaw.linkage import refresh_links
    from yhlaw.warehouse import transaction

    with transaction(warehouse_url()) as conn:
        return refresh_links(conn)


def build_link_dag():
    """``link_disputes``: every morning at 05:45, the links between the records of one dispute
    across 信访, 调解 and 诉讼 (``core.dispute_link``, docs/linkage.md). Its own DAG, not a step of
    every indicator run: a refresh re-reads every unlinked record's parties (about 20 s at 16k
    records), and no indicator reads the links yet (the funnel reads the explicit keys)."""
    from airflow.sdk import CronTriggerTimetable, dag, task

    @dag(
        dag_id="link_disputes",
        dag_display_name="纠纷跨系统关联",
        schedule=CronTriggerTimetable("45 5 * * *", timezone=DISTRICT_TZ),
        start_date=pendulum.datetime(2021, 1, 1, tz=DISTRICT_TZ),
        catchup=False,
        max_active_runs=1,
        is_paused_upon_creation=False,
        dagrun_timeout=timedelta(hours=1),
        default_args=task_defaults(retries=2, timeout=timedelta(minutes=45)),
        tags=["linkage", "core"],
        doc_md="# 纠纷跨系统关联\n\nEvery morning at 05:45: `core.refresh_dispute_links()` recomputes "
               "`core.dispute_link` — explicit keys (信访件编号, 诉前委派编号, 执行依据案号, 原案号, 调解案件编号) "
               "first, the party key with cause and dates as the fallback. Precision and recall against the "
               "simulated world: `docs/linkage.md`.",
    )
    def link_disputes():
        task(task_id="link_disputes", task_display_name="刷新纠纷关联")(run_link_refresh)()

    return link_disputes()


def build_indicator_dag():
    """``compute_indicators``: refresh the marts whenever any core table changes (its Asset) and
    every morning. Incremental: only the months the new batches touch are recomputed."""
    from airflow.sdk import AssetAny, AssetOrTimeSchedule, CronTriggerTimetable, dag, task

    tz = DISTRICT_TZ
    assets = [table_asset("core", e.table) for s in source_names() for e in load_spec(s).entities.values()]
    assets += reference_assets()

    @dag(
        dag_id="compute_indicators",
        dag_display_name="指标计算",
        # Unpaused from the start: Asset events that arrive while a DAG is paused are lost to it,
        # and it reaches no source system (the ingest DAGs start paused: an operator decides).
        is_paused_upon_creation=False,
        schedule=AssetOrTimeSchedule(timetable=CronTriggerTimetable("30 6 * * *", timezone=tz),
                                     assets=AssetAny(*assets)),
        start_date=pendulum.datetime(2021, 1, 1, tz=tz),
        catchup=False,
        max_active_runs=1,
        dagrun_timeout=RUN_TIMEOUT,
        default_args=task_defaults(retries=3),
        tags=["indicators", "mart"],
        doc_md="# 指标计算\n\nIncremental refresh of `mart.indicator_values` from `core` (catalog: "
               "`include/indicators/*.yaml`, see `docs/indicators.md`). Runs when any ingest publishes its core "
               "Asset, and daily at 06:30. Full rebuild: `python -m yhlaw indicators --full`.",
    )
    def compute_indicators():
        task(task_id="refresh_indicators", task_display_name="刷新指标",
             outlets=[table_asset("mart", "indicator_values")])(
            run_indicator_refresh)()

    return compute_indicators()


REPORT_WAIT = timedelta(days=3)      # the 通报 goes out by the 4th even if a source is late


def _report_month(context: dict[str, Any]):
    start = context["data_interval_start"]
    if start is None:
        raise ValueError(f"run {context.get('run_id')} has no data interval; monthly_report needs one")
    return pendulum.instance(start).in_tz(DISTRICT_TZ).date().replace(day=1)


def run_month_complete(**context) -> bool:
    """Poke: has every source entity loaded up to the month's end?"""
    from yhlaw.cockpit import queries
    from yhlaw.cockpit.db import Mart
    from yhlaw.cockpit.report import lagging_sources

    month = _report_month(context)
    mart = Mart(warehouse_url(), maxconn=1)
    try:
        lagging = lagging_sources(queries.freshness(mart), month)
    finally:
        mart.close()
    log.info("monthly report %s: %d source entities not loaded to the month's end", month, len(lagging))
    return not lagging


def run_monthly_report(**context) -> dict[str, Any]:
    """Render the month's 通报; after the wait ran out it is rendered anyway, marked 含初步数."""
    from yhlaw.cockpit.report import render_month

    row = render_month(warehouse_url(), _report_month(context), force=True, run_id=context.get("run_id"))
    return {k: (str(v) if not isinstance(v, (int, bool)) else v) for k, v in row.items()}


def build_report_dag():
    """``monthly_report``: after each month, wait until every source has loaded it (at most
    ``REPORT_WAIT``), then render the 月度通报 (HTML and PDF, ``mart.monthly_report``)."""
    from airflow.sdk import CronDataIntervalTimetable, dag, task

    @dag(
        dag_id="monthly_report",
        dag_display_name="月度通报",
        is_paused_upon_creation=False,     # reads the warehouse only, like check_freshness
        schedule=CronDataIntervalTimetable("0 0 1 * *", timezone=DISTRICT_TZ),
        start_date=pendulum.datetime(2022, 1, 1, tz=DISTRICT_TZ),
        catchup=False,
        max_active_runs=1,
        dagrun_timeout=REPORT_WAIT + timedelta(hours=6),
        default_args=task_defaults(retries=2, timeout=timedelta(minutes=15)),
        tags=["report", "mart"],
        doc_md="# 月度通报\n\nOne run per month (its data interval is the month). `wait_for_month` waits "
               "(rescheduling, hourly) until every source entity has loaded the whole month, for at most "
               f"{REPORT_WAIT.days} days; `render_report` then prints the report (HTML and PDF, headless Chromium) "
               "into `.local/reports/YYYY-MM/` and records it in `mart.monthly_report`; rendered after the wait "
               "ran out, it says 含初步数 and names the late sources. By hand: `python -m yhlaw report YYYY-MM`.",
    )
    def monthly_report():
        wait = task.sensor(task_id="wait_for_month", task_display_name="等待本月数据装载完整",
                           poke_interval=3600, timeout=REPORT_WAIT.total_seconds(), mode="reschedule",
                           soft_fail=True)(run_month_complete)()
        render = task(task_id="render_report", task_display_name="生成月度通报", trigger_rule="all_done")(
            run_monthly_report)()
        wait >> render

    return monthly_report()
