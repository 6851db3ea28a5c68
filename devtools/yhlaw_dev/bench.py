"""``make bench``: ingest, validation and indicator refresh measured side by side, in one run.

Everything runs against a database of its own (``yuhang_law_bench``) and simulators of its own
(ports from 28801, their own databases and drop folder), so it never touches the demo's or the
tests' state. Figures are written to ``docs/benchmarks.md`` together with the command.

1. Ingest per source entity at each size (default 100k and 1M records): the full path
   (pre-generated source records -> raw -> validated -> core, in a child process as an ingest
   task would run) against (a) one plain COPY of the same typed rows into an unindexed table
   and (b) a naive load of the same rows with Airflow's ``PostgresHook.insert_rows``.
   The source records are real simulator output (a week of each system), replicated with
   unique keys, written to a JSON-lines file first: the source is not what is measured.
1a. The same ingest against what users would pick instead (``bench_contenders``): dlt (merge and
   scd2, in a venv of its own from ``devtools/bench-peers.lock``) and the tutorial path (pandas ->
   GX on the DataFrame -> ``to_sql`` -> ``INSERT … ON CONFLICT``), each a fresh process, at the
   daily size (5 alternating runs) and 100k (``BENCH_PEER_SIZES``), with COPY baselines, an
   equivalence check per run and a py-spy profile of the project's daily run.
   ``python -m yhlaw_dev.bench peers`` runs only this part and writes it into the report in place.
2. Great Expectations' share of the validate step, per size (from the step's own timings).
3. Indicator refresh over synthetic core tables (default 10M records over 2021-2025 and the
   twelve 镇街): a full rebuild against the incremental refresh after one day's changes
   (new records for the next day plus corrections of records from the last 90 days).
4. Peak memory (max RSS) of the ingest child process at each size.
5. DAG parse time per file, from Airflow's own ``airflow dags report``.
6. ``make demo`` over a few days: wall time, time inside tasks, and Airflow's share.
6a. The cockpit's server time per page on the demo's and the 10M warehouse, against the
   overview computed live from core (``bench_cockpit``).
"""

from __future__ import annotations

import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from psycopg2 import sql

from yhlaw.settings import PROJECT_ROOT, with_database
from yhlaw.spec import Entity, load_spec

from yhlaw_dev.sim import simulated_sources
from yhlaw_dev.world import DevSettings as Settings
from yhlaw.warehouse import transaction

BENCH_DB = "yuhang_law_bench"
DOCS = PROJECT_ROOT / "docs" / "benchmarks.md"
SAMPLE_START = datetime.fromisoformat("2022-03-01T00:00:00+08:00")


def bench_settings(settings: Settings, namespace: str | None = None, port: int | None = None,
                   database: str | None = None) -> Settings:
    """The bench's own database and simulators; ``BENCH_DATABASE``, ``BENCH_SIM_BASE_PORT`` and
    ``BENCH_NAMESPACE`` move them (two benches on one machine must not share either)."""
    namespace = namespace or os.environ.get("BENCH_NAMESPACE", "bench")
    port = port or int(os.environ.get("BENCH_SIM_BASE_PORT", "28801"))
    database = database or os.environ.get("BENCH_DATABASE", BENCH_DB)
    return replace(settings, warehouse_url=with_database(settings.warehouse_url, database),
                   sim_base_port=port, sim_namespace=namespace)


def entities() -> list[Entity]:
    return [e for s in simulated_sources() for e in load_spec(s).entities.values()]


# --------------------------------------------------------------------------------------------
# Source records: a week of every simulated system, replicated with unique keys


def collect_samples(settings: Settings, days: int = 7) -> dict[str, list[str]]:
    """Extract ``days`` of every source from its simulator into raw; return raw payloads per entity."""
    from yhlaw.readers import SourceConnection
    from yhlaw.pipeline import Window, extract_batch
    from yhlaw_dev.stack import simulators

    end = SAMPLE_START + timedelta(days=days)
    with simulators(settings, simulated_sources(), now=end + timedelta(hours=1)) as sims:
        for source, sim in sims.items():
            c = settings.source_connection(source, sim.url)
            conn = SourceConnection(c["conn_type"], c.get("host") or "", c.get("port"), c.get("schema") or "",
                                    c.get("login") or "", c.get("password") or "",
                                    tuple(sorted(json.loads(c.get("extra") or "{}").items())))
            for entity in load_spec(source).entities.values():
                extract_batch(entity, Window(SAMPLE_START, end), warehouse_url=settings.warehouse_url, connection=conn)
    out: dict[str, list[str]] = {}
    with transaction(settings.warehouse_url) as conn, conn.cursor() as cur:
        for e in entities():
            cur.execute("""SELECT r.payload::text FROM raw.record r JOIN raw.batch b USING (batch_id)
                           WHERE b.source = %s AND b.entity = %s ORDER BY r.batch_id, r.seq""", (e.source, e.name))
            out[f"{e.source}.{e.name}"] = [r[0] for r in cur.fetchall()]
    return out


def write_source_file(samples: list[str], entity: Entity, n: int, path: Path, tag: str) -> None:
    """n records as JSON lines: the samples again and again, each copy's keys made unique (and
    unique to this file, by ``tag``)."""
    with path.open("w", encoding="utf-8") as f:
        for i in range(n):
            rec = json.loads(samples[i % len(samples)])
            copy = i // len(samples)
            if isinstance(rec, dict) and rec.get(entity.key) is not None:
                rec[entity.key] = f"{rec[entity.key]}~{tag}.{copy}"
            f.write(json.dumps(rec, ensure_ascii=False, separators=(",", ":")) + "\n")


# --------------------------------------------------------------------------------------------
# Child process: one ingest of a source file, as an Airflow task would run it


def ingest_file(source: str, entity_name: str, path: str, warehouse_url: str, hmac_key: str,
                interval_start: str) -> dict[str, Any]:
    from yhlaw import store
    from yhlaw.pipeline import load_batch, validate_batch

    entity = load_spec(source).entities[entity_name]
    start = datetime.fromisoformat(interval_start)
    t: dict[str, float] = {}
    t0 = time.perf_counter()
    spool = store.Spool()
    with open(path, encoding="utf-8") as f:
        page: list[dict] = []
        for line in f:
            page.append(json.loads(line))
            if len(page) == 1000:
                spool.write(page)
                page = []
        if page:
            spool.write(page)
    t["read_source"] = time.perf_counter() - t0
    t1 = time.perf_counter()
    with transaction(warehouse_url) as conn:
        landed = store.land(conn, entity, spool, interval=(start, start + timedelta(days=1)), query_since=start,
                             extract_stats={}, dag_run_id="bench")
    spool.close()
    t["land_raw"] = time.perf_counter() - t1
    t2 = time.perf_counter()
    validated = validate_batch(entity, landed.batch_id, warehouse_url=warehouse_url, hmac_key=hmac_key)
    t["validate"] = time.perf_counter() - t2
    t3 = time.perf_counter()
    loaded = load_batch(entity, landed.batch_id, warehouse_url=warehouse_url)
    t["load_core"] = time.perf_counter() - t3
    t["total"] = time.perf_counter() - t0
    return {"batch_id": landed.batch_id, "received": landed.received, "loaded": loaded["loaded"],
            "quarantined": loaded["quarantined"], "timings": t, "validate_timings": validated["timings"],
            "typed_in_python": validated["typed_in_python"],
            "max_rss_mb": peak_rss_mb()}


def peak_rss_mb() -> float:
    """This process's peak resident memory. /proc's VmHWM starts afresh at exec; getrusage's
    ru_maxrss does not (a child inherits the high-water mark of the parent it was forked from)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def naive_file(source: str, entity_name: str, path: str, warehouse_url: str, hmac_key: str, table: str) -> dict:
    """The naive pipeline: parse and type the same records, insert them with PostgresHook.insert_rows."""
    import pandas as pd
    from airflow.providers.postgres.hooks.postgres import PostgresHook

    from yhlaw.normalise import Context, TownResolver, normalise
    from yhlaw.pii import PartyKeyer

    entity = load_spec(source).entities[entity_name]
    t0 = time.perf_counter()
    with transaction(warehouse_url) as conn, conn.cursor() as cur:
        cur.execute("SELECT a.alias, a.town_code, t.in_district FROM core.town_alias a JOIN core.dim_town t USING (town_code)")
        ctx = Context(TownResolver.from_rows(cur.fetchall()), PartyKeyer(hmac_key))
    with open(path, encoding="utf-8") as f:
        records = [json.loads(line) for line in f]
    frame = normalise(records, entity, ctx)[entity.columns]
    rows = [tuple(None if pd.isna(v) else v for v in r) for r in frame.itertuples(index=False, name=None)]
    t_parse = time.perf_counter() - t0
    os.environ["AIRFLOW_CONN_BENCH_WAREHOUSE"] = json.dumps(_conn_dict(warehouse_url))
    hook = PostgresHook(postgres_conn_id="bench_warehouse")
    t1 = time.perf_counter()
    hook.insert_rows(table, rows, target_fields=entity.columns, commit_every=1000)
    t_insert = time.perf_counter() - t1
    return {"rows": len(rows), "parse": t_parse, "insert": t_insert, "total": time.perf_counter() - t0,
            "max_rss_mb": peak_rss_mb()}


def _conn_dict(url: str) -> dict:
    from urllib.parse import urlsplit

    u = urlsplit(url)
    return {"conn_type": "postgres", "host": u.hostname, "port": u.port or 5432, "login": u.username,
            "password": u.password or "", "schema": u.path.lstrip("/")}


def _child(*args: str) -> dict:
    result = subprocess.run([sys.executable, "-m", "yhlaw_dev.bench", *args], capture_output=True, text=True,
                            env={**os.environ, "GX_ANALYTICS_ENABLED": "False"})
    if result.returncode != 0:
        raise RuntimeError(f"bench child {args[0]} failed:\n{result.stderr[-4000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


# --------------------------------------------------------------------------------------------
# 1, 2, 4: ingest


def _scratch_table(cur, name: str, definition: sql.Composable) -> sql.Composable:
    """``bench.<name>``, created afresh (unindexed) from ``definition`` (a column list or ``AS …``)."""
    target = sql.Identifier("bench", name)
    cur.execute("CREATE SCHEMA IF NOT EXISTS bench")
    cur.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(target))
    cur.execute(sql.SQL("CREATE TABLE {} {}").format(target, definition))
    return target


def _like_core(entity: Entity) -> sql.Composable:
    return sql.SQL("AS SELECT {} FROM {} WITH NO DATA").format(
        sql.SQL(", ").join(map(sql.Identifier, entity.columns)), sql.Identifier("core", f"{entity.table}_version"))


def _timed_copy(url: str, name: str, definition: sql.Composable, columns: list[str], csv_text) -> tuple[int, float]:
    """COPY CSV into a scratch table; return the rows copied and the seconds of the COPY alone."""
    with transaction(url) as conn, conn.cursor() as cur:
        target = _scratch_table(cur, name, definition)
        stmt = sql.SQL("COPY {} ({}) FROM STDIN WITH (FORMAT csv)").format(
            target, sql.SQL(", ").join(map(sql.Identifier, columns))).as_string(cur)
        t0 = time.perf_counter()
        cur.copy_expert(stmt, csv_text)
        elapsed = time.perf_counter() - t0
        rows = cur.rowcount
        cur.execute(sql.SQL("DROP TABLE {}").format(target))
    return rows, elapsed


def copy_baseline(url: str, entity: Entity, batch_id: str) -> tuple[int, float]:
    """COPY the batch's typed rows (as they reached core) into an unindexed table; time the COPY."""
    import io

    buf = io.StringIO()
    with transaction(url) as conn, conn.cursor() as cur:
        cur.copy_expert(sql.SQL("COPY (SELECT {} FROM {} WHERE batch_id = {}) TO STDOUT WITH (FORMAT csv)").format(
            sql.SQL(", ").join(map(sql.Identifier, entity.columns)), sql.Identifier("core", f"{entity.table}_version"),
            sql.Literal(batch_id)).as_string(cur), buf)
    buf.seek(0)
    return _timed_copy(url, f"copy_{entity.table}", _like_core(entity), entity.columns, buf)


def copy_source_baseline(url: str, path: Path) -> tuple[int, float]:
    """COPY the source records themselves (the JSON lines, as one ``jsonb`` column) into an
    unindexed table; time the COPY: the least it costs to move the source's bytes into PostgreSQL,
    which landing raw does before anything is typed."""
    import io

    from yhlaw.store import csv_quoted

    with path.open(encoding="utf-8") as f:
        buf = io.StringIO("".join(csv_quoted(line.rstrip("\n")) + "\n" for line in f))
    return _timed_copy(url, "copy_source", sql.SQL("(payload jsonb)"), ["payload"], buf)


def naive_table(url: str, entity: Entity) -> str:
    with transaction(url) as conn, conn.cursor() as cur:
        _scratch_table(cur, f"naive_{entity.table}", _like_core(entity))
        cur.execute("GRANT ALL ON ALL TABLES IN SCHEMA bench TO etl")
        cur.execute("GRANT USAGE ON SCHEMA bench TO etl")
    return f"bench.naive_{entity.table}"


def bench_ingest(settings: Settings, admin_url: str, samples: dict[str, list[str]], sizes: list[int],
                 naive_sizes: list[int], workdir: Path, log, only: list[str] | None = None,
                 naive_large: list[str] | None = None) -> list[dict]:
    """``naive_large``: entities to run the (slow) naive baseline for at sizes above the smallest."""
    results = []
    hmac_key = settings.secrets["PII_HMAC_KEY"]
    day = 0
    for e in entities():
        if only and f"{e.source}.{e.name}" not in only:
            continue
        for n in sizes:
            path = workdir / f"{e.source}.{e.name}.{n}.jsonl"
            day += 1
            write_source_file(samples[f"{e.source}.{e.name}"], e, n, path, str(day))
            start = (datetime.fromisoformat("2030-01-01T00:00:00+08:00") + timedelta(days=day)).isoformat()
            full = _child("_ingest", e.source, e.name, str(path), settings.warehouse_url, hmac_key, start)
            copied, t_copy = copy_baseline(admin_url, e, full["batch_id"])
            source_rows, t_copy_source = copy_source_baseline(admin_url, path)
            row = {"entity": f"{e.source}.{e.name}", "records": n, "loaded": full["loaded"],
                   "quarantined": full["quarantined"], "full": full["timings"], "validate": full["validate_timings"],
                   "typed_in_python": full["typed_in_python"],
                   "copy_rows": copied, "copy": t_copy, "copy_source_rows": source_rows, "copy_source": t_copy_source,
                   "rss_mb": full["max_rss_mb"]}
            if n in naive_sizes and (n <= min(sizes) or not naive_large or f"{e.source}.{e.name}" in naive_large):
                table = naive_table(admin_url, e)
                naive = _child("_naive", e.source, e.name, str(path), settings.warehouse_url, hmac_key, table)
                row["naive"] = naive
            path.unlink()
            log(f"  ingest {row['entity']:<28} {n:>9,} records: full {row['full']['total']:7.1f} s, "
                f"COPY {t_copy:6.2f} s" + (f", naive {row['naive']['total']:7.1f} s" if "naive" in row else ""))
            results.append(row)
    return results


# --------------------------------------------------------------------------------------------
# 3: indicator refresh over synthetic core tables

DAYS = 1826                        # 2021-01-01 .. 2025-12-31
def _towns() -> str:
    from yhlaw.reference import town_rows

    codes = [t["town_code"] for t in town_rows() if t["in_district"] == "true" and t["town_kind"] != "区"]
    return "ARRAY[" + ",".join(f"'{c}'" for c in codes) + "]::char(12)[]"


TOWNS = _towns()
DEPTS = "ARRAY['YH-ZHZF','YH-SCJG','YH-STHJ','YH-YJGL','YH-WSJK','YH-JTYS','YH-NYNC','YH-WGLT']"

# Share of the 10M records per table, and each table's columns as SQL over g (the row number),
# ts (its local timestamp) and dd (its date). Columns not named are NULL.
SYNTHETIC: dict[str, tuple[float, dict[str, str]]] = {
    "enforcement_case": (0.30, {
        "case_no": "'BE' || g", "dept_code": f"({DEPTS})[1 + g % 8]", "status": "CASE WHEN g % 10 < 8 THEN '已结案' ELSE '办理中' END",
        "case_source": "'巡查发现'", "fully_online": "g % 10 < 9", "mobile_handled": "g % 10 < 6",
        "legal_review_done": "g % 10 < 3", "filed_at": "ts", "investigated_at": "ts + interval '1 day'",
        "legal_reviewed_at": "CASE WHEN g % 10 < 3 THEN ts + interval '3 days' END",
        "decided_at": "CASE WHEN g % 10 < 9 THEN ts + interval '4 days' END",
        "served_at": "CASE WHEN g % 10 < 8 THEN ts + interval '6 days' END",
        "executed_at": "CASE WHEN g % 10 < 8 THEN ts + interval '9 days' END",
        "closed_at": "CASE WHEN g % 10 < 8 THEN ts + (10 + g % 20) * interval '1 day' END"}),
    "enforcement_inspection": (0.10, {
        "inspection_no": "'BI' || g", "dept_code": f"({DEPTS})[1 + g % 8]", "inspected_at": "ts",
        "is_non_contact": "g % 7 = 0", "is_joint": "g % 4 = 0", "is_mobile": "g % 2 = 0", "result": "'合格'"}),
    "court_case": (0.20, {
        "case_no": "'BC' || g", "case_type": "(ARRAY['民事','商事','行政','刑事','执行'])[1 + g % 5]",
        "procedure": "CASE WHEN g % 20 = 0 THEN '二审' ELSE '一审' END", "filed_on": "dd",
        "filing_channel": "(ARRAY['窗口立案','网上立案','跨域立案','移动微法院'])[1 + g % 4]",
        "hearing_mode": "(ARRAY['现场','远程视频','在线异步',NULL])[1 + g % 4]", "e_dossier": "g % 10 < 9",
        "e_payment_order": "g % 50 = 0", "source_file": "'bench.csv'", "delivered_at": "ts"}),
    "petition": (0.15, {
        "petition_no": "'BP' || g", "form": "(ARRAY['来信','来访','网上信访','电话'])[1 + g % 4]",
        "kind": "CASE WHEN g % 5 = 0 THEN '重复' ELSE '初信初访' END", "category": "'其他'", "registered_at": "ts",
        "concluded_at": "CASE WHEN g % 10 < 9 THEN ts + interval '20 days' END", "concluded_in_time": "g % 20 <> 0"}),
    "legal_service": (0.15, {
        "service_no": "'BL' || g", "service_type": "(ARRAY['法律咨询','法律援助','司法鉴定','公证'])[1 + g % 4]",
        "channel": "(ARRAY['实体平台','12348热线','网络平台'])[1 + g % 3]", "fully_online": "g % 3 = 2",
        "one_visit": "g % 10 < 9", "same_day": "g % 10 < 6", "accepted_at": "ts",
        "reviewed_at": "CASE WHEN g % 10 <> 0 THEN ts + interval '1 hour' END",
        "handled_at": "ts + interval '2 hours'", "concluded_at": "CASE WHEN g % 10 < 9 THEN ts + interval '1 day' END"}),
    "mediation_case": (0.08, {
        "case_no": "'BM' || g", "dispute_type": "'邻里'",
        "case_source": "(ARRAY['当事人申请','诉前委派','信访转办','主动排查'])[1 + g % 4]", "accepted_on": "dd",
        "closed_on": "CASE WHEN g % 10 < 9 THEN dd + 15 END",
        "result": "CASE WHEN g % 10 < 9 THEN (CASE WHEN g % 8 = 0 THEN '不成功' ELSE '成功' END) END"}),
    "dishonest_debtor": (0.02, {
        "listing_no": "'BD' || g", "party_type": "'person'", "party_key": "md5(g::text) || md5(g::text)",
        "listed_on": "dd", "removed_on": "CASE WHEN g % 3 = 0 THEN dd + 200 END", "source_file": "'bench.csv'",
        "delivered_at": "ts"}),
}


def _table_entity(table: str) -> Entity:
    """Any spec's entity, simulated here or not (SIM_SOURCES may leave the table's source out)."""
    from yhlaw.spec import source_names

    return next(e for s in source_names() for e in load_spec(s).entities.values() if e.table == table)


def _synthetic_select(table: str, columns: dict[str, str], first: int, last: int, per_day: float,
                      day_offset: str | None = None) -> sql.Composable:
    """SELECT every column of the table for rows g in [first, last]."""
    entity = _table_entity(table)
    day = day_offset or f"least({DAYS - 1}, floor((g - 1) / {per_day}))::int"
    exprs = []
    cols = entity.columns + ["batch_id", "record_hash"]
    for c in cols:
        if c == "batch_id":
            exprs.append(f"'bench.{table}.' || ({day})")
        elif c == "record_hash":
            exprs.append("md5(g::text)")
        elif c == "town_code":
            exprs.append(f"({TOWNS})[1 + (g / 3) % 12]")
        elif c == "source_updated_at":
            exprs.append("ts + interval '30 days'")
        else:
            exprs.append(columns.get(c, "NULL"))
    body = ", ".join(f"{x} AS {c}" for x, c in zip(exprs, cols))
    return sql.SQL(
        "SELECT {body} FROM generate_series({a}::bigint, {b}::bigint) AS g, "
        "LATERAL (SELECT ('2021-01-01 08:00+08'::timestamptz + ({day}) * interval '1 day' "
        "+ (g % 600) * interval '1 minute') AS ts) t, LATERAL (SELECT (t.ts AT TIME ZONE 'Asia/Shanghai')::date AS dd) d"
    ).format(body=sql.SQL(body), a=sql.Literal(first), b=sql.Literal(last), day=sql.SQL(day))


def build_synthetic_core(admin_url: str, total: int, log) -> dict[str, int]:
    counts = {}
    with transaction(admin_url) as conn, conn.cursor() as cur:
        for table, (share, columns) in SYNTHETIC.items():
            n = int(total * share)
            counts[table] = n
            entity = _table_entity(table)
            cols = sql.SQL(", ").join(map(sql.Identifier, entity.columns + ["batch_id", "record_hash"]))
            t0 = time.perf_counter()
            cur.execute(sql.SQL("TRUNCATE {}, {}").format(sql.Identifier("core", table),
                                                        sql.Identifier("core", f"{table}_version")))
            cur.execute(sql.SQL("INSERT INTO {} ({}) {}").format(
                sql.Identifier("core", table), cols, _synthetic_select(table, columns, 1, n, n / DAYS)))
            cur.execute(sql.SQL("INSERT INTO {v} ({cols}) SELECT {cols} FROM {c}").format(
                v=sql.Identifier("core", f"{table}_version"), c=sql.Identifier("core", table), cols=cols))
            _register_batches(cur, entity, sql.Identifier("core", table))
            log(f"  synthetic core.{table}: {n:,} rows in {time.perf_counter() - t0:.0f} s")
        cur.execute("ANALYZE")
    return counts


def _register_batches(cur, entity: Entity, table: sql.Composable) -> None:
    """raw.batch + audit.batch rows (status loaded) for the synthetic batches of a table."""
    cur.execute(sql.SQL(
        """INSERT INTO raw.batch (batch_id, source, entity, interval_start, interval_end, query_since, record_count,
                                  content_sha256)
           SELECT batch_id, %(s)s, %(e)s, t, t + interval '1 day', t, n, 'synthetic'
           FROM (SELECT batch_id, count(*) AS n, min(source_updated_at) - interval '30 days' AS t FROM {}
                 GROUP BY batch_id) b
           ON CONFLICT DO NOTHING""").format(table), {"s": entity.source, "e": entity.name})
    cur.execute(sql.SQL(
        """INSERT INTO audit.batch (batch_id, source, entity, interval_start, interval_end, status, received, loaded,
                                    quarantined)
           SELECT batch_id, %(s)s, %(e)s, t, t + interval '1 day', 'loaded', n, n, 0
           FROM (SELECT batch_id, count(*) AS n, min(source_updated_at) - interval '30 days' AS t FROM {}
                 GROUP BY batch_id) b
           ON CONFLICT DO NOTHING""").format(table), {"s": entity.source, "e": entity.name})


def one_days_changes(admin_url: str, counts: dict[str, int]) -> int:
    """The next day (2026-01-01): that day's new records for every table, plus corrections (a flag
    flipped, a newer version) of records from the last 90 days — through staging and the loader."""
    from yhlaw import store

    flips = {"enforcement_case": "fully_online", "enforcement_inspection": "is_joint", "court_case": "e_dossier",
             "petition": "concluded_in_time", "legal_service": "one_visit", "mediation_case": None,
             "dishonest_debtor": None}
    changed = 0
    with transaction(admin_url) as conn, conn.cursor() as cur:
        for table, (share, columns) in SYNTHETIC.items():
            entity = _table_entity(table)
            n = counts[table]
            per_day = max(1, round(n / DAYS))
            batch_id = f"bench.{table}.nextday"
            cols = entity.columns + ["batch_id", "record_hash"]
            col_list = sql.SQL(", ").join(map(sql.Identifier, cols))
            staging = store.staging_table(entity)
            cur.execute(sql.SQL("INSERT INTO {} ({}) {}").format(
                staging, col_list, _synthetic_select(table, columns, n + 1, n + per_day, per_day, str(DAYS))))
            cur.execute(sql.SQL("UPDATE {} SET batch_id = %s").format(staging), (batch_id,))
            # Corrections: a tenth of a day's volume, spread over the last 90 days' records.
            k = max(1, per_day // 10)
            stride = max(1, (per_day * 90) // k)
            flip = flips[table]
            if flip:
                changes = [sql.SQL("{c} = NOT coalesce({c}, false)").format(c=sql.Identifier(flip))]
            elif table == "mediation_case":
                changes = [sql.SQL("result = CASE result WHEN '成功' THEN '不成功' ELSE '成功' END")]
            else:
                changes = [sql.SQL("removed_on = coalesce(removed_on, listed_on + 30)")]
            cur.execute(sql.SQL(
                """INSERT INTO {staging} ({cols})
                   SELECT {cols} FROM (SELECT * FROM {core} WHERE {key} IN (
                       SELECT {key} FROM {core} ORDER BY source_updated_at DESC LIMIT {window}) ) c
                   WHERE (abs(hashtext({key}::text)) % {stride}) = 0""").format(
                staging=staging, cols=col_list, core=sql.Identifier("core", table),
                key=sql.Identifier(entity.natural_key), window=sql.Literal(per_day * 90), stride=sql.Literal(stride)))
            cur.execute(sql.SQL("""UPDATE {s} SET batch_id = %s, source_updated_at = source_updated_at + interval '1 day',
                                   {chg} WHERE batch_id <> %s""").format(
                s=staging, chg=sql.SQL(", ").join(changes)), (batch_id, batch_id))
            cur.execute(sql.SQL("SELECT count(*) FROM {} WHERE batch_id = %s").format(staging), (batch_id,))
            received = cur.fetchone()[0]
            changed += received
            cur.execute("""INSERT INTO raw.batch VALUES (%s, %s, %s, '2026-01-01 00:00+08', '2026-01-02 00:00+08',
                                                         '2026-01-01 00:00+08', %s, 'synthetic', now())""",
                        (batch_id, entity.source, entity.name, received))
            cur.execute("""INSERT INTO audit.batch (batch_id, source, entity, interval_start, interval_end, status,
                                                    received)
                           VALUES (%s, %s, %s, '2026-01-01 00:00+08', '2026-01-02 00:00+08', 'validated', %s)""",
                        (batch_id, entity.source, entity.name, received))
            store.merge(conn, entity, batch_id)
    return changed


def bench_indicators(admin_url: str, url: str, total: int, log) -> dict[str, Any]:
    from yhlaw import indicators

    counts = build_synthetic_core(admin_url, total, log)
    with transaction(url) as conn:
        t0 = time.perf_counter()
        first = indicators.refresh(conn, trigger="bench: first")
        t_first = time.perf_counter() - t0
    with transaction(url) as conn:
        t0 = time.perf_counter()
        full = indicators.refresh(conn, full=True, trigger="bench: full")
        t_full = time.perf_counter() - t0
    changed = one_days_changes(admin_url, counts)
    with transaction(url) as conn:
        t0 = time.perf_counter()
        inc = indicators.refresh(conn, trigger="bench: one day")
        t_inc = time.perf_counter() - t0
    with transaction(url) as conn, conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM mart.indicator_values")
        values = cur.fetchone()[0]
    log(f"  indicators: full {t_full:.1f} s, incremental after one day {t_inc:.2f} s")
    return {"core_records": sum(counts.values()), "counts": counts, "first": t_first, "full": t_full,
            "incremental": t_inc, "changed_records": changed, "full_months": full["months"],
            "incremental_months": inc["months"], "values": values, "first_result": first}


# --------------------------------------------------------------------------------------------
# 5, 6: DAG parse times, demo


def dag_parse_times(settings: Settings) -> list[dict]:
    from yhlaw.bootstrap import prepare_airflow

    prepare_airflow(settings)           # `dags report` needs a migrated metadata database
    env = {**os.environ, **settings.airflow_environment()}
    result = subprocess.run([sys.executable, "-m", "airflow", "dags", "report", "-o", "json"], env=env,
                            capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"airflow dags report failed:\n{result.stderr[-3000:]}")
    line = next(l for l in result.stdout.splitlines() if l.startswith("[{"))
    out = []
    for d in json.loads(line):
        h, m, sec = str(d["duration"]).split(":")
        out.append({**d, "duration": int(h) * 3600 + int(m) * 60 + float(sec)})
    return out


def demo_overhead(days: int) -> dict[str, float]:
    result = subprocess.run([sys.executable, "-m", "yhlaw_dev", "demo", "--days", str(days)], capture_output=True,
                            text=True)
    if result.returncode != 0:
        raise RuntimeError(f"demo failed:\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}")
    line = next(l for l in result.stdout.splitlines() if l.startswith("airflow overhead"))
    return json.loads(line.split(":", 1)[1])


# --------------------------------------------------------------------------------------------


def peer_sizes_from_env() -> list[int]:
    """§1a's sizes: ``BENCH_PEER_SIZES`` (comma-separated; ``0`` skips §1a), by default the daily
    size and 100k. 1M is opt-in (``BENCH_PEER_SIZES=700,100000,1000000``): dlt alone takes
    minutes per million here."""
    raw = os.environ.get("BENCH_PEER_SIZES", "700,100000")
    return [n for n in (int(x) for x in raw.split(",") if x.strip()) if n > 0]


def run(*, sizes: list[int], naive_sizes: list[int], indicator_records: int, demo_days: int,
        bench: Settings, airflow: Settings, only: list[str] | None = None, out: Path | None = DOCS,
        naive_large: list[str] | None = None, peer_sizes: list[int] | None = None, peer_runs: int = 5,
        peer_entities: list[str] | None = None, log=print) -> dict[str, Any]:
    """The whole benchmark against ``bench`` (its own database and simulators); ``airflow`` gives
    the Airflow environment for the DAG parse report. ``only``: entity names (source.entity).
    ``peer_sizes``: §1a's sizes (None: ``peer_sizes_from_env``; [] skips it), ``peer_runs`` runs
    of each contender at the daily size, ``peer_entities`` its entities (None: enforcement and
    court cases)."""
    from yhlaw.bootstrap import prepare_warehouse

    t0 = time.monotonic()
    prepare_warehouse(bench, recreate=True)
    log(f"bench warehouse {bench.database} ready; collecting a week of every source from its simulator")
    samples = collect_samples(bench)
    report: dict[str, Any] = {"machine": machine(), "sizes": sizes, "naive_sizes": naive_sizes,
                              "samples": {k: len(v) for k, v in samples.items()}}
    with tempfile.TemporaryDirectory() as tmp:
        report["ingest"] = bench_ingest(bench, bench.admin_url, samples, sizes, naive_sizes, Path(tmp), log, only,
                                        naive_large)
    peer_sizes = peer_sizes_from_env() if peer_sizes is None else peer_sizes
    if peer_sizes:
        from yhlaw_dev.bench_contenders import run_peers

        report["peers"] = run_peers(bench, samples, peer_sizes, daily_runs=peer_runs, only=peer_entities, log=log)
    report["indicators"] = bench_indicators(bench.admin_url, bench.warehouse_url, indicator_records, log) \
        if indicator_records else None
    if indicator_records:
        from yhlaw_dev.bench_cockpit import bench_cockpit, warehouse_with_values

        urls = {"demo warehouse": airflow.warehouse_url} if warehouse_with_values(airflow.warehouse_url) else {}
        report["cockpit"] = bench_cockpit({**urls, "10M benchmark warehouse": bench.warehouse_url}, log=log)
    report["dag_parse"] = dag_parse_times(airflow)
    report["demo"] = demo_overhead(demo_days) if demo_days else None
    report["wall"] = time.monotonic() - t0
    if out is not None:
        out.write_text(render(report) + hand_written(out), encoding="utf-8")
        log(f"wrote {out}")
    return report


HAND_WRITTEN = "## 7. "


def hand_written(out: Path) -> str:
    """The report's hand-written section (profiles, before/after), kept when it is regenerated."""
    text = out.read_text(encoding="utf-8") if out.exists() else ""
    i = text.find("\n" + HAND_WRITTEN)
    return "\n" + text[i + 1:] if i >= 0 else ""


def machine() -> dict[str, Any]:
    return {"cpus": os.cpu_count(), "python": platform.python_version(), "date": time.strftime("%Y-%m-%d"),
            "memory_gb": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30)}


COMMAND = "make bench"


def render(r: dict[str, Any]) -> str:
    """docs/benchmarks.md from a report."""
    m = r["machine"]
    L = ["# Benchmarks", "",
         f"Made by `{COMMAND}` on {m['date']} ({m['cpus']} cores, {m['memory_gb']} GiB, Python {m['python']}; "
         f"PostgreSQL on the same machine); the whole run took {r['wall'] / 60:.0f} min. Every comparison below "
         "was measured in this one run, side by side; ratios matter more than seconds on a shared machine.", "",
         "Source records are real simulator output (a week of each system: "
         + ", ".join(f"{k} {v}" for k, v in r["samples"].items())
         + " records, dirt included) replicated with unique keys into a JSON-lines file before timing, so "
         "the source is not what is measured; reading that file is inside the full path.", "",
         "## 1. Ingest: full path vs a plain COPY vs a naive insert", "",
         "Full path = read source records -> raw (COPY) -> typing (in SQL, Python for the records SQL "
         "does not vouch for) -> Great Expectations over the typed batch in PostgreSQL -> staging and "
         "quarantine -> merge into core and its version history, with reconciliation; one child "
         "process, as an ingest task runs. COPY = the same typed rows (as they reached core) copied into an "
         "unindexed table: the physical limit. COPY source = the source records themselves (the JSON "
         "lines) copied into an unindexed `jsonb` column: the least it costs to move the source into "
         "PostgreSQL, which landing raw does first. Naive = parse the records and type them in Python "
         "(`normalise`), then `PostgresHook.insert_rows` (commit every 1000) into an unindexed table. "
         "Floor = what the full path cannot skip however fast typing and validation get: reading the "
         "source, landing raw and merging into core (the same run's figures).", "",
         "| entity | records | loaded + quarantined | full path s | rows/s | COPY s | full / COPY | floor / COPY "
         "| COPY source s | full / COPY source | naive s | naive / full | peak RSS MB |",
         "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for x in r["ingest"]:
        full = x["full"]["total"]
        floor = x["full"]["read_source"] + x["full"]["land_raw"] + x["full"]["load_core"]
        naive = x.get("naive", {}).get("total")
        L.append(f"| {x['entity']} | {x['records']:,} | {x['loaded']:,} + {x['quarantined']:,} | {full:.1f} | "
                 f"{x['records'] / full:,.0f} | {x['copy']:.2f} | {full / x['copy']:.1f}x | {floor / x['copy']:.1f}x | "
                 f"{x['copy_source']:.2f} | {full / x['copy_source']:.1f}x | "
                 + (f"{naive:.1f} | {naive / full:.1f}x" if naive else "— | —") + f" | {x['rss_mb']:.0f} |")
    L += ["", "Goals: full path ≤ 3x COPY; ≥ 10x faster than naive."]
    for x in r["ingest"]:
        if "naive" in x:
            insert, typing, target = x["naive"]["insert"], x["naive"]["parse"], x["naive"]["total"] / 10
            floor = x["full"]["read_source"] + x["full"]["land_raw"] + x["full"]["load_core"]
            L += ["", f"What bounds them ({x['entity']}, {x['records']:,} records): the naive pipeline's "
                  f"`insert_rows` alone took {insert:.1f} s = {insert / x['copy']:.1f}x the COPY, and its typing "
                  f"{typing:.1f} s. A path 10x faster than the naive one would take {target:.2f} s = "
                  f"{target / x['copy']:.1f}x the COPY of the typed rows alone; the floor (read, land raw, "
                  f"merge) took {floor:.1f} s = {floor / target:.1f}x that, and copying the source records "
                  f"alone {x['copy_source']:.1f} s = {x['copy_source'] / x['copy']:.1f}x the COPY of the typed rows."]
    from yhlaw_dev.bench_contenders import render_section

    section = render_section(r.get("peers"))
    L += ["", *section] if section else []
    L += ["",
          "## 2. Where the full path spends its time; Great Expectations' share", "",
          "| entity | records | read source | land raw | validate | of which typing | typed in SQL | of which GX "
          "| of which publish | load core | GX share of batch |",
          "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for x in r["ingest"]:
        f, v = x["full"], x["validate"]
        in_sql = 1 - x.get("typed_in_python", 0) / x["records"]
        L.append(f"| {x['entity']} | {x['records']:,} | {f['read_source']:.1f} | {f['land_raw']:.1f} | "
                 f"{f['validate']:.1f} | {v.get('type', 0):.1f} | {in_sql:.1%} | {v.get('great_expectations', 0):.1f} | "
                 f"{v.get('publish_staging_quarantine', 0):.1f} | {f['load_core']:.1f} | "
                 f"{v.get('great_expectations', 0) / f['total']:.0%} |")
    L += ["", "## 4. Peak memory of an ingest task", "",
          "| entity | " + " | ".join(f"{n:,} records" for n in r["sizes"]) + " | ratio largest / smallest |",
          "|---|" + "---:|" * (len(r["sizes"]) + 1)]
    by_entity: dict[str, dict[int, float]] = {}
    for x in r["ingest"]:
        by_entity.setdefault(x["entity"], {})[x["records"]] = x["rss_mb"]
    for ent, mem in by_entity.items():
        vals = [mem.get(n) for n in r["sizes"]]
        ratio = (vals[-1] / vals[0]) if vals[0] and vals[-1] and len(vals) > 1 else None
        L.append(f"| {ent} | " + " | ".join(f"{v:.0f} MB" if v else "—" for v in vals)
                 + f" | {ratio:.2f}x |" if ratio else f"| {ent} | " + " | ".join(
                     f"{v:.0f} MB" if v else "—" for v in vals) + " | — |")
    L += ["", "Goal: ≤ 1.5x (streamed, not loaded whole)."]
    ind = r.get("indicators")
    L += ["", "## 3. Indicator refresh: full rebuild vs one day's changes", ""]
    if ind:
        L += [f"Synthetic core: {ind['core_records']:,} records over 2021-2025 and the twelve 镇街 ("
              + ", ".join(f"{t} {n:,}" for t, n in ind["counts"].items()) + "), each with its version row.", "",
              "| refresh | seconds | indicator-months recomputed |", "|---|---:|---:|",
              f"| first (nothing computed yet) | {ind['first']:.1f} | {ind['first_result']['months']:,} |",
              f"| full rebuild (`python -m yhlaw indicators --full`) | {ind['full']:.1f} | {ind['full_months']:,} |",
              f"| incremental after one day ({ind['changed_records']:,} new or corrected records) | "
              f"{ind['incremental']:.2f} | {ind['incremental_months']:,} |", "",
              f"Incremental / full = **{ind['incremental'] / ind['full']:.1%}** (goal ≤ 5%). "
              f"{ind['values']:,} rows in mart.indicator_values."]
    else:
        L.append("Not run (indicator_records = 0).")
    L += ["", "## 5. DAG parse time per file (`airflow dags report`)", "", "| file | seconds | DAGs | tasks |",
          "|---|---:|---:|---:|"]
    for d in r["dag_parse"]:
        L.append(f"| {Path(str(d.get('file', ''))).name} | {float(d.get('duration', 0)):.3f} | {d.get('dag_num')} | "
                 f"{d.get('task_num')} |")
    L += ["", "Goal: < 0.5 s each.", "", "## 6. `make demo`: Airflow's share", ""]
    demo = r.get("demo")
    if demo:
        L += [f"`python -m yhlaw_dev demo --days {demo['days']}`: {demo['runs']} DAG runs, wall {demo['wall']:.1f} s; "
              f"inside tasks {demo['task_seconds']:.1f} s; Airflow around them (run creation, scheduling "
              f"loop, state bookkeeping) {demo['airflow_seconds']:.1f} s = "
              f"{demo['airflow_seconds'] / demo['runs_seconds']:.0%} of the time spent in runs; start-up "
              f"{demo['setup_seconds']:.1f} s."]
    else:
        L.append("Not run.")
    from yhlaw_dev.bench_cockpit import render_cockpit

    L += render_cockpit(r.get("cockpit"))
    return "\n".join(L) + "\n"


def main(argv: list[str]) -> int:
    if argv and argv[0] == "_ingest":
        print(json.dumps(ingest_file(*argv[1:])))
        return 0
    if argv and argv[0] == "_naive":
        print(json.dumps(naive_file(*argv[1:])))
        return 0
    if argv and argv[0] == "peers":
        return peers_main(argv[1:])
    raise SystemExit("use `python -m yhlaw_dev bench` (this module's own entry points are for its child processes"
                     " and `peers`)")


def peers_main(argv: list[str]) -> int:
    """``python -m yhlaw_dev.bench peers``: only §1a, written into the report in place (every other
    section kept as it is), against a database and simulators of its own."""
    import argparse

    from yhlaw.bootstrap import prepare_warehouse
    from yhlaw_dev.bench_contenders import render_section, run_peers, write_section

    p = argparse.ArgumentParser(prog="python -m yhlaw_dev.bench peers")
    p.add_argument("--sizes", default=",".join(map(str, peer_sizes_from_env())), help="records per run, comma-separated")
    p.add_argument("--runs", type=int, default=5, help="runs of each contender at the daily size (larger: 1)")
    p.add_argument("--only", help="entities, e.g. enforcement.case,courts.case (default those two)")
    p.add_argument("--database", default=os.environ.get("BENCH_DATABASE", BENCH_DB))
    p.add_argument("--port", type=int, default=int(os.environ.get("BENCH_SIM_BASE_PORT", "28801")),
                   help="first port of the bench's simulators")
    p.add_argument("--large-runs", type=int, default=1, help="runs of each contender above the daily size")
    p.add_argument("--no-warm", action="store_true", help="skip the warm-worker contender")
    p.add_argument("--out", default=str(DOCS))
    a = p.parse_args(argv)
    os.environ.pop("WAREHOUSE_ADMIN_URL", None)
    own = bench_settings(Settings.from_env(), namespace=os.environ.get("BENCH_NAMESPACE", a.database), port=a.port,
                         database=a.database)
    prepare_warehouse(own, recreate=True)
    samples = collect_samples(own)
    r = run_peers(own, samples, [int(x) for x in a.sizes.split(",")], daily_runs=a.runs, large_runs=a.large_runs,
                  only=a.only.split(",") if a.only else None, warm=not a.no_warm)
    if r is None:
        return 1
    r["command"] = " ".join(["python -m yhlaw_dev.bench peers", *argv])
    r["date"] = time.strftime("%Y-%m-%d")
    write_section(Path(a.out), render_section(r))
    print(f"wrote §1a into {a.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
