"""The three steps of an ingest, for any source and entity: extract_batch, validate_batch, load_batch.

Plain functions of (entity, window or batch id, settings): Airflow tasks call them, tests can
call them without a scheduler. Write, audit, then publish: core only changes in ``load``,
inside one transaction that also checks the counts and moves the watermark.
"""

from __future__ import annotations

import json
import logging
import time
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from psycopg2 import sql

from yhlaw import store
from yhlaw import conform
from yhlaw.readers import SourceConnection, open_reader
from yhlaw.normalise import Context, TownResolver
from yhlaw.key_check import check_key, record_rotation
from yhlaw.pii import PartyKeyer
from yhlaw.spec import META_COLUMNS, Entity, load_spec
from yhlaw.validate import CheckResult, LendableConnection, SuiteRunner, batch_checks, merge_results
from yhlaw.warehouse import transaction

log = logging.getLogger(__name__)
# Records typed in Python at a time (the few the SQL pass leaves to normalise): normalise's
# frames cost tens of KB a record at their peak, so small chunks keep a task's memory flat.
CHUNK_ROWS = 5_000
# Records per Great Expectations run over a typed batch: GX holds a run's failing rows in
# memory (the whole of a 1M-record batch in one run: 1.7 GB), and each run has a fixed cost.
GX_SLICE_ROWS = 100_000


class BatchRejected(RuntimeError):
    """The batch as a whole is unusable (drift, volume, too many bad rows). Do not retry."""


@dataclass(frozen=True)
class Window:
    """The run's data interval [start, end) and the query start (start minus the overlap)."""

    start: datetime
    end: datetime
    overlap: timedelta = timedelta(0)

    @property
    def since(self) -> datetime:
        return self.start - self.overlap


def entity_of(source: str, entity: str) -> Entity:
    return load_spec(source).entities[entity]


def per_second(records: int, seconds: float) -> str:
    """A rate for the task log: "1234 records/s"."""
    return f"{records / seconds:.0f} records/s" if seconds > 0 else "- records/s"


def window_for(source: str, start: datetime, end: datetime) -> Window:
    return Window(start, end, timedelta(minutes=load_spec(source).overlap_minutes))


def extract_batch(entity: Entity, window: Window, *, warehouse_url: str, connection: SourceConnection,
            dag_run_id: str | None = None, client_options: dict[str, Any] | None = None) -> dict[str, Any]:
    """Read the window from the source into raw; return the batch id and counts."""
    transport = load_spec(entity.source).transport
    client = open_reader(connection, transport, **(client_options or {}))
    spool = store.Spool()
    started = time.perf_counter()
    try:
        client.read_window(entity.path, window.since, window.end, spool)
        with transaction(warehouse_url) as conn:
            landed = store.land(conn, entity, spool, interval=(window.start, window.end),
                                 query_since=window.since, extract_stats=client.stats.as_dict(),
                                 dag_run_id=dag_run_id)
    finally:
        spool.close()
    seconds = time.perf_counter() - started
    log.info("%s.%s %s..%s: %d records landed as %s%s in %.1f s (%s); reader: %s", entity.source, entity.name,
             window.start, window.end, landed.received, landed.batch_id, " (unchanged, reused)" if landed.reused else "",
             seconds, per_second(landed.received, seconds), client.stats.as_dict())
    return {"batch_id": landed.batch_id, "received": landed.received, "reused": landed.reused,
            "extract": client.stats.as_dict()}


def _town_resolver(cur) -> TownResolver:
    cur.execute("SELECT a.alias, a.town_code, t.in_district FROM core.town_alias a JOIN core.dim_town t USING (town_code)")
    return TownResolver.from_rows(cur.fetchall())


def validate_batch(entity: Entity, batch_id: str, *, warehouse_url: str, hmac_key: str,
             chunk_rows: int = CHUNK_ROWS, slice_rows: int = GX_SLICE_ROWS, runner: SuiteRunner | None = None,
             accepted: bool = False, sql_typing: bool = True, rotating: bool = False) -> dict[str, Any]:
    """Type and check the batch: good rows to staging, bad rows to quarantine with reasons.

    In one session: the batch is typed into a temporary table (``conform``; reads raw only), the
    GX suite runs over it in PostgreSQL, and then one transaction publishes the outcome to
    staging, quarantine and audit. Only that last step writes anything other sessions see, so
    a run that dies on the way leaves nothing behind, and two runs of one batch never mix.

    Raises BatchRejected (after recording why) when a blocking batch-level check fails.
    ``accepted``: the batch was loaded before (a replay); batch checks are recorded but no
    longer block, so a replay never takes back what an earlier load published.
    ``sql_typing=False`` types every record in Python, ``slice_rows`` sets how many records GX
    checks at a time (tests vary both). A key other than the warehouse's raises KeyMismatch
    (``key_check``) unless ``rotating`` (a rebuild under a new key).
    """
    runner = runner or SuiteRunner.for_suite(entity.suite)
    keyer = PartyKeyer(hmac_key)
    timings: Counter[str] = Counter()   # seconds per stage, for the benchmarks
    clock = time.perf_counter()

    def lap(stage: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        timings[stage] += now - clock
        clock = now

    rejection: str | None = None
    with transaction(warehouse_url, connection_factory=LendableConnection) as conn:
        with conn.cursor() as cur:
            if not rotating:
                check_key(cur, keyer.key_bytes)
            received, interval_start, interval_end, source_keys = _landed(cur, batch_id)
            ctx = Context(_town_resolver(cur), keyer, interval_end=interval_end)
            typed = conform.type_batch(cur, entity, batch_id, ctx, chunk_rows=chunk_rows, sql_typing=sql_typing)
        conn.commit()                     # commits nothing but this session's temporary tables
        lap("type")
        results: dict[str, CheckResult] = {}
        for outcome in runner.run(conn, conform.typed_table_name(entity), slice_rows):
            merge_results(results, outcome.results)
            with conn.cursor() as cur:
                conform.record_failures(cur, outcome.bad_rows)
            conn.commit()                 # again only this session's temporary tables
        lap("great_expectations")
        with conn.cursor() as cur:
            store.lock_entity(cur, entity)
            store.clear_batch(cur, entity, batch_id)
            quarantined = conform.publish(cur, entity, batch_id)
            lap("publish_staging_quarantine")
            keys_seen = _source_keys(cur, batch_id, source_keys)
            cur.execute(
                """SELECT received FROM (
                       SELECT DISTINCT ON (interval_start) interval_start, received FROM audit.batch
                       WHERE source = %s AND entity = %s AND status = 'loaded' AND interval_start < %s
                       ORDER BY interval_start DESC, finished_at DESC) h
                   LIMIT 28""",
                (entity.source, entity.name, interval_start),
            )
            history = [r[0] for r in cur.fetchall()]
            checks = batch_checks(received=received, quarantined=quarantined, history=history,
                                  keys_seen=keys_seen, expected_fields=entity.expected_source_fields,
                                  config=entity.batch_checks)
            merge_results(results, checks)
            _record_results(cur, batch_id, results.values())
            lap("batch_checks")
            blocking = [] if accepted else [c for c in checks if c.blocking]
            if blocking:
                rejection = "; ".join(f"{c.reason} ({c.check}): {json.dumps(c.observed, ensure_ascii=False)}"
                                      for c in blocking)
                cur.execute(sql.SQL("DELETE FROM {} WHERE batch_id = %s").format(store.staging_table(entity)),
                            (batch_id,))
                cur.execute("DELETE FROM quarantine.record WHERE batch_id = %s", (batch_id,))
                cur.execute("UPDATE audit.batch SET status = 'rejected', error = %s, finished_at = now() "
                            "WHERE batch_id = %s", (rejection, batch_id))
            else:
                cur.execute("UPDATE audit.batch SET status = 'validated', quarantined = %s, loaded = %s "
                            "WHERE batch_id = %s", (quarantined, received - quarantined, batch_id))
    if rejection:
        raise BatchRejected(f"batch {batch_id} rejected: {rejection}. The records stay in raw; "
                            "fix the cause and re-run this interval.")
    summary = {"batch_id": batch_id, "received": received, "quarantined": quarantined,
               "valid": received - quarantined,
               "reasons": {r.reason: r.unexpected_count for r in results.values()
                           if r.level == "row" and r.unexpected_count},
               "typed_in_python": typed["typed_in_python"],
               "timings": {k: round(v, 3) for k, v in timings.items()}}
    log.info("validated %s: %d received, %d valid, %d quarantined (%.1f%%) in %.1f s (%s); reasons %s; timings %s",
             batch_id, received, received - quarantined, quarantined, 100.0 * quarantined / max(received, 1),
             sum(timings.values()), per_second(received, sum(timings.values())), summary["reasons"],
             summary["timings"])
    return summary


def _landed(cur, batch_id: str) -> tuple:
    """(record count, interval start, interval end, source keys counted) of a landed batch."""
    cur.execute("SELECT record_count, interval_start, interval_end, source_keys FROM raw.batch "
                "WHERE batch_id = %s", (batch_id,))
    row = cur.fetchone()
    if row is None:
        raise RuntimeError(f"no landed batch {batch_id}")
    return row


def _source_keys(cur, batch_id: str, counted_at_landing: dict[str, int] | None) -> dict[str, int]:
    """How many of the batch's records carry each top-level key: as counted when it landed, or,
    for a batch landed before raw.batch.source_keys existed, from its payloads."""
    if counted_at_landing is not None:
        return counted_at_landing
    cur.execute("SELECT k, count(*) FROM raw.record, jsonb_object_keys(payload) AS k "
                "WHERE batch_id = %s AND jsonb_typeof(payload) = 'object' GROUP BY k", (batch_id,))
    return dict(cur.fetchall())


def _record_results(cur, batch_id: str, results) -> None:
    cur.executemany(
        """INSERT INTO audit.validation_result
               (batch_id, check_name, level, reason, blocking, success, unexpected_count, observed)
           VALUES (%s, %s, %s, %s, %s, %s, %s, %s)""",
        [(batch_id, r.check, r.level, r.reason, r.blocking, r.success, r.unexpected_count,
          json.dumps(r.observed, ensure_ascii=False, default=str)) for r in results],
    )


def load_batch(entity: Entity, batch_id: str, *, warehouse_url: str) -> dict[str, Any]:
    """Publish a validated batch into core (one transaction)."""
    started = time.perf_counter()
    with transaction(warehouse_url) as conn:
        counts = store.merge(conn, entity, batch_id)
    seconds = time.perf_counter() - started
    log.info("loaded %s into core.%s in %.1f s (%s): %s", batch_id, entity.table, seconds,
             per_second(counts.get("received", 0), seconds), counts)
    return {"batch_id": batch_id, **counts}


def replay(entity: Entity, *, warehouse_url: str, hmac_key: str, reason: str | None = None,
           run_id: str) -> dict[str, Any]:
    """Re-validate, with today's rules and reference data, every batch of the entity that has
    quarantined records (only those with ``reason`` if given) or was rejected as a whole and not
    superseded by a later load of its interval. Records that now pass go to core; the rest stay
    in quarantine with their (possibly new) reasons. Each batch is recorded in ``audit.replay``.

    Idempotent: validation re-derives the batch from raw, and merging is order-safe (latest
    update wins, versions are kept once), so a second replay changes nothing in core.
    """
    with transaction(warehouse_url) as conn, conn.cursor() as cur:
        cur.execute(
            """SELECT b.batch_id, b.status, b.quarantined FROM audit.batch b
               WHERE b.source = %(s)s AND b.entity = %(e)s AND (
                     (b.status = 'loaded' AND b.quarantined > 0
                      AND (%(r)s::text IS NULL OR EXISTS (SELECT 1 FROM quarantine.record q
                                                          WHERE q.batch_id = b.batch_id AND %(r)s = ANY (q.reasons))))
                  OR (b.status = 'rejected' AND %(r)s::text IS NULL AND NOT EXISTS (
                        SELECT 1 FROM audit.batch l WHERE l.source = b.source AND l.entity = b.entity
                          AND l.interval_start = b.interval_start AND l.status = 'loaded'
                          AND l.landed_at > b.landed_at)))
               ORDER BY b.landed_at, b.interval_start""",
            {"s": entity.source, "e": entity.name, "r": reason})
        batches = cur.fetchall()
    runner = SuiteRunner.for_suite(entity.suite)
    totals = Counter(batches=len(batches))
    for batch_id, status_before, quarantined_before in batches:
        error = None
        totals["quarantined_before"] += quarantined_before or 0
        try:
            validate_batch(entity, batch_id, warehouse_url=warehouse_url, hmac_key=hmac_key, runner=runner,
                     accepted=status_before == "loaded")
            after = load_batch(entity, batch_id, warehouse_url=warehouse_url)
            status_after, quarantined_after, loaded_after = "loaded", after["quarantined"], after["loaded"]
            totals["quarantined_after"] += quarantined_after
            totals["released"] += ((quarantined_before or 0) - quarantined_after if status_before == "loaded"
                                   else loaded_after)
            totals["new_versions"] += after["new_versions"]
        except BatchRejected as exc:
            status_after, quarantined_after, loaded_after, error = "rejected", None, None, str(exc)
            totals["still_rejected"] += 1
        with transaction(warehouse_url) as conn, conn.cursor() as cur:
            cur.execute(
                """INSERT INTO audit.replay (run_id, source, entity, batch_id, reason_filter, status_before,
                                             quarantined_before, status_after, quarantined_after, loaded_after, error)
                   VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)""",
                (run_id, entity.source, entity.name, batch_id, reason, status_before, quarantined_before,
                 status_after, quarantined_after, loaded_after, error))
    log.info("replayed %s.%s (reason %s): %s", entity.source, entity.name, reason or "any", dict(totals))
    return dict(totals)


def rebuild(entity: Entity, *, warehouse_url: str, hmac_key: str, rotating: bool = False) -> dict[str, int]:
    """Re-derive core (and quarantine) for one entity from raw: every loaded batch, in landing order.

    Gives the same core as the incremental runs did (merges are order-safe), or, ``rotating``
    under a new HMAC key, the same core with new party keys (``rotate_key`` does every entity).
    Not atomic: stop the entity's DAG first.
    """
    core = sql.Identifier("core", entity.table)
    versions = sql.Identifier("core", f"{entity.table}_version")
    with transaction(warehouse_url) as conn, conn.cursor() as cur:
        if not rotating:
            check_key(cur, hmac_key)
        store.lock_entity(cur, entity)
        cur.execute(sql.SQL("TRUNCATE {}, {}").format(core, versions))
        cur.execute("DELETE FROM audit.watermark WHERE source = %s AND entity = %s", (entity.source, entity.name))
        cur.execute("SELECT batch_id FROM audit.batch WHERE source = %s AND entity = %s AND status = 'loaded' "
                    "ORDER BY landed_at, interval_start", (entity.source, entity.name))
        batches = [r[0] for r in cur.fetchall()]
    runner = SuiteRunner.for_suite(entity.suite)
    for batch_id in batches:
        validate_batch(entity, batch_id, warehouse_url=warehouse_url, hmac_key=hmac_key, runner=runner,
                       rotating=rotating)
        load_batch(entity, batch_id, warehouse_url=warehouse_url)
    return {"batches": len(batches)}


def rotate_key(entities: list[Entity], *, warehouse_url: str, new_key: str) -> dict[str, int]:
    """Rebuild every entity under ``new_key``, then make it the warehouse's key (audit.pii_key).

    Every entity, not one source: party keys of two keys would not link across sources. A
    rotation that stops half-way leaves the old fingerprint, so tasks keep refusing the new
    key until ``rotate_key`` is run again to the end. Pause the ingest DAGs first.
    """
    done = {f"{e.source}.{e.name}": rebuild(e, warehouse_url=warehouse_url, hmac_key=new_key, rotating=True)["batches"]
            for e in entities}
    with transaction(warehouse_url) as conn, conn.cursor() as cur:
        record_rotation(cur, new_key)
    log.info("PII key rotated: %d entities rebuilt", len(done))
    return done


__all__ = ["BatchRejected", "Window", "entity_of", "window_for", "extract_batch", "validate_batch", "load_batch", "replay", "rebuild", "rotate_key",
           "META_COLUMNS"]
