"""The one loader: landing, COPY and the merge into core.

* ``Spool`` buffers a window's records on local disk while they are read, so that memory
  stays flat whatever the volume and the batch id can be derived from the content.
* ``land`` writes a spool into ``raw`` (a batch whose content is already landed is reused:
  re-extracting an unchanged window does not grow the warehouse).
* ``copy_frame`` COPYs a typed frame into a table (``conform``: the records typed in Python).
  Staging and quarantine are filled inside the warehouse (``conform.publish``).
* ``merge`` upserts a validated batch from staging into core (latest update wins, every
  version kept), checks that the counts reconcile, and moves the watermark — one transaction.

SQL here is generated only from identifiers in the spec, quoted by the driver.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
import re
import tempfile
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import pandas as pd
from psycopg2 import sql

from yhlaw.readers import PageSink
from yhlaw.normalise import datetime_text
from yhlaw.spec import META_COLUMNS, Entity
from yhlaw.warehouse import MARTS_LOCK

csv.field_size_limit(1 << 30)


class ReconciliationError(RuntimeError):
    """received != loaded + quarantined: something would be lost; nothing is committed."""


def lock_entity(cur, entity: Entity) -> None:
    """Serialise work on one entity (two runs of the same interval never interleave)."""
    cur.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"{entity.source}.{entity.name}",))


# One encoder for every record: json.dumps with options builds a new encoder per call.
_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
# What a JSON page may carry that PostgreSQL text/jsonb cannot hold: NUL (\u0000), a lone
# surrogate (not UTF-8), bare NaN/Infinity (not JSON). Cheap test first, exact one after.
_UNSTORABLE_HINT = re.compile(r"\\u0000|NaN|Infinity")
UNREPRESENTABLE = "_unrepresentable"


def _escaped(value: Any) -> Any:
    """The value with every part PostgreSQL cannot hold replaced by ``{"_unrepresentable": its
    JSON text, ASCII-escaped}``: kept faithfully (``json.loads`` of that text gives it back), and
    typing reads the marker as a value it cannot read (unparseable_value, naming the field)."""
    if isinstance(value, float) and not math.isfinite(value):
        return {UNREPRESENTABLE: json.dumps(value)}
    if isinstance(value, str) and ("\x00" in value or not _utf8(value)):
        return {UNREPRESENTABLE: json.dumps(value, ensure_ascii=True)}
    if isinstance(value, dict):
        return {(k if "\x00" not in k and _utf8(k) else json.dumps(k, ensure_ascii=True)): _escaped(v)
                for k, v in value.items()}
    if isinstance(value, list):
        return [_escaped(v) for v in value]
    return value


def _utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
        return True
    except UnicodeEncodeError:
        return False


def storable_json(item: Any) -> str:
    """The record as JSON text PostgreSQL can hold, escaping what it cannot (see ``_escaped``)."""
    payload = _dumps(item)
    if _UNSTORABLE_HINT.search(payload) is None and _utf8(payload):
        return payload
    return _dumps(_escaped(item))


def csv_quoted(text: str) -> str:
    """``text`` as one quoted CSV field for COPY (its quotes doubled)."""
    return '"' + text.replace('"', '""') + '"'


class Spool(PageSink):
    """Records of one window, as CSV lines (seq, payload, md5) in a temporary file."""

    def __init__(self) -> None:
        self._file = tempfile.TemporaryFile(mode="w+", encoding="utf-8", newline="")
        self.reset()

    def reset(self) -> None:
        self._file.seek(0)
        self._file.truncate()
        self._digest = hashlib.sha256()
        self.count = 0
        self.keys_seen: Counter[str] = Counter()     # top-level key -> records that carry it

    def write(self, items: list[dict]) -> None:
        # Each record as one CSV line (seq, "payload", md5), written a page at a time. The payload
        # is always quoted (its quotes doubled): json.dumps escapes every control character, so
        # it never holds a line break. Same text as csv.writer, a third of the time.
        lines = []
        for item in items:
            payload = storable_json(item)
            md5 = hashlib.md5(payload.encode()).hexdigest()
            self._digest.update(md5.encode())
            lines.append(f"{self.count},{csv_quoted(payload)},{md5}\n")
            self.count += 1
            if isinstance(item, dict):
                self.keys_seen.update(item.keys())
        self._file.write("".join(lines))

    @property
    def sha256(self) -> str:
        return self._digest.hexdigest()

    def lines_with_prefix(self, prefix: str) -> io.TextIOBase:
        self._file.flush()
        self._file.seek(0)
        return _PrefixedLines(self._file, prefix)

    def close(self) -> None:
        self._file.close()


class _PrefixedLines(io.TextIOBase):
    """A read-only file that prepends a CSV field to every line (for COPY)."""

    def __init__(self, f, prefix: str):
        self._f, self._prefix = f, prefix

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> str:
        lines = self._f.readlines(size if size and size > 0 else -1)
        return "".join(self._prefix + line for line in lines)

    def readline(self, size: int = -1) -> str:
        line = self._f.readline()
        return self._prefix + line if line else ""


@dataclass(frozen=True)
class Landed:
    batch_id: str
    received: int
    reused: bool


def batch_id_for(entity: Entity, interval_start: datetime, content_sha256: str) -> str:
    """Source, entity, interval start (in UTC: the same instant written in another zone is the same
    interval) and content: identical content read for the same interval is the same batch."""
    start = interval_start.astimezone(timezone.utc)
    return f"{entity.source}.{entity.name}.{start:%Y%m%dT%H%M%z}.{content_sha256[:16]}"


def land(conn, entity: Entity, spool: Spool, *, interval: tuple[datetime, datetime], query_since: datetime,
         extract_stats: dict[str, Any], dag_run_id: str | None) -> Landed:
    """Write the spool to raw (unless identical content is already there) and open its audit row.

    Re-landing identical content leaves the batch's status alone: a concurrent run of the same
    interval may be between its validate and load, and validate sets the status anyway.
    """
    batch_id = batch_id_for(entity, interval[0], spool.sha256)
    with conn.cursor() as cur:
        lock_entity(cur, entity)
        cur.execute("SELECT 1 FROM raw.batch WHERE batch_id = %s", (batch_id,))
        reused = cur.fetchone() is not None
        if not reused:
            cur.execute(
                """INSERT INTO raw.batch (batch_id, source, entity, interval_start, interval_end,
                                          query_since, record_count, content_sha256, source_keys)
                   VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)""",
                (batch_id, entity.source, entity.name, interval[0], interval[1], query_since,
                 spool.count, spool.sha256, json.dumps(spool.keys_seen, ensure_ascii=False, sort_keys=True)),
            )
            cur.copy_expert(
                "COPY raw.record (batch_id, seq, payload, payload_md5) FROM STDIN WITH (FORMAT csv)",
                spool.lines_with_prefix(batch_id + ","),
            )
        cur.execute(
            """INSERT INTO audit.batch (batch_id, source, entity, interval_start, interval_end, status,
                                        received, extract_stats, dag_run_id)
               VALUES (%s, %s, %s, %s, %s, 'landed', %s, %s, %s)
               ON CONFLICT (batch_id) DO UPDATE
                 SET extract_stats = EXCLUDED.extract_stats, dag_run_id = EXCLUDED.dag_run_id,
                     attempts = audit.batch.attempts + 1""",
            (batch_id, entity.source, entity.name, interval[0], interval[1], spool.count,
             json.dumps(extract_stats), dag_run_id),
        )
    return Landed(batch_id, spool.count, reused)


def copy_frame(cur, table: sql.Composable, columns: list[str], frame: pd.DataFrame) -> None:
    """COPY a frame's columns into a table (CSV; empty unquoted field = NULL)."""
    if frame.empty:
        return
    buf = io.StringIO()
    out = frame[columns].copy()
    for c in columns:
        text = datetime_text(out[c])       # numpy formatting: pandas' date_format is the slow part
        if text is not None:
            out[c] = text
    out.to_csv(buf, index=False, header=False, date_format="%Y-%m-%dT%H:%M:%S.%f%z")
    buf.seek(0)
    stmt = sql.SQL("COPY {} ({}) FROM STDIN WITH (FORMAT csv)").format(
        table, sql.SQL(", ").join(map(sql.Identifier, columns)))
    cur.copy_expert(stmt.as_string(cur), buf)


def staging_table(entity: Entity) -> sql.Composable:
    return sql.Identifier("staging", entity.table)


def clear_batch(cur, entity: Entity, batch_id: str) -> None:
    """Remove what an earlier attempt at this batch left in staging, quarantine and audit."""
    cur.execute(sql.SQL("DELETE FROM {} WHERE batch_id = %s").format(staging_table(entity)), (batch_id,))
    cur.execute("DELETE FROM quarantine.record WHERE batch_id = %s", (batch_id,))
    cur.execute("DELETE FROM audit.validation_result WHERE batch_id = %s", (batch_id,))


def mark_stale_rows(cur, entity: Entity, batch_id: str) -> int:
    """``stale_since`` of the core rows whose keys this batch loaded or quarantined: the update
    time of the newest quarantined version newer than the row (NULL when the row is the newest
    one). Every quarantined record of the entity counts, so a later clean version clears it."""
    nk, upd = sql.Identifier(entity.natural_key), sql.Identifier(entity.updated_column)
    cur.execute(sql.SQL(
        """WITH keys AS (SELECT {nk} AS k FROM {staging} WHERE batch_id = %(b)s
                         UNION SELECT natural_key FROM quarantine.record
                               WHERE batch_id = %(b)s AND natural_key IS NOT NULL),
                newest AS (SELECT q.natural_key AS k, max(q.updated_at) AS u FROM quarantine.record q
                           JOIN keys ON keys.k = q.natural_key
                           WHERE q.source = %(s)s AND q.entity = %(e)s GROUP BY q.natural_key)
           UPDATE {core} c SET stale_since = CASE WHEN n.u > c.{upd} THEN n.u END
           FROM keys LEFT JOIN newest n ON n.k = keys.k
           WHERE c.{nk} = keys.k AND c.stale_since IS DISTINCT FROM CASE WHEN n.u > c.{upd} THEN n.u END""").format(
        nk=nk, upd=upd, staging=staging_table(entity), core=sql.Identifier("core", entity.table)),
        {"b": batch_id, "s": entity.source, "e": entity.name})
    return cur.rowcount


def merge(conn, entity: Entity, batch_id: str) -> dict[str, int]:
    """Staging -> core for one validated batch; reconcile; watermark. Caller commits."""
    cols = entity.columns + list(META_COLUMNS)
    col_list = sql.SQL(", ").join(map(sql.Identifier, cols))
    key = sql.Identifier(entity.natural_key)
    updated = sql.Identifier(entity.updated_column)
    core = sql.Identifier("core", entity.table)
    versions = sql.Identifier("core", f"{entity.table}_version")
    staging = staging_table(entity)
    with conn.cursor() as cur:
        lock_entity(cur, entity)
        cur.execute("SELECT pg_advisory_xact_lock_shared(%s)", (MARTS_LOCK,))
        cur.execute("SELECT status, received FROM audit.batch WHERE batch_id = %s FOR UPDATE", (batch_id,))
        row = cur.fetchone()
        if row is None or row[0] not in ("validated", "loaded"):
            raise RuntimeError(f"batch {batch_id} is {row[0] if row else 'unknown'}, not validated: run validate first")
        received = row[1]
        if row[0] == "loaded":
            cur.execute(sql.SQL("SELECT count(*) FROM {} WHERE batch_id = %s").format(staging), (batch_id,))
            if cur.fetchone()[0] == 0:
                # Published already by a concurrent run of the same interval after the same validation.
                cur.execute("SELECT loaded, quarantined FROM audit.batch WHERE batch_id = %s", (batch_id,))
                loaded, quarantined = cur.fetchone()
                return {"received": received, "loaded": loaded, "quarantined": quarantined,
                        "new_versions": 0, "core_rows_changed": 0}
        cur.execute(
            sql.SQL("""INSERT INTO {versions} ({cols})
                       SELECT {cols} FROM {staging} WHERE batch_id = %s
                       ON CONFLICT ({key}, {updated}) DO NOTHING""").format(
                versions=versions, cols=col_list, staging=staging, key=key, updated=updated),
            (batch_id,),
        )
        new_versions = cur.rowcount
        updates = sql.SQL(", ").join(
            sql.SQL("{c} = EXCLUDED.{c}").format(c=sql.Identifier(c)) for c in cols if c != entity.natural_key
        )
        cur.execute(
            sql.SQL("""INSERT INTO {core} ({cols})
                       SELECT DISTINCT ON ({key}) {cols} FROM {staging} WHERE batch_id = %s
                       ORDER BY {key}, {updated} DESC
                       ON CONFLICT ({key}) DO UPDATE SET {updates}, loaded_at = now()
                       WHERE {core}.{updated} < EXCLUDED.{updated}""").format(
                core=core, cols=col_list, key=key, staging=staging, updated=updated, updates=updates),
            (batch_id,),
        )
        changed = cur.rowcount
        mark_stale_rows(cur, entity, batch_id)
        cur.execute(sql.SQL("SELECT count(*), max({u}) FROM {s} WHERE batch_id = %s").format(
            u=updated, s=staging), (batch_id,))
        loaded, high_water = cur.fetchone()
        cur.execute("SELECT count(*) FROM quarantine.record WHERE batch_id = %s", (batch_id,))
        quarantined = cur.fetchone()[0]
        if received != loaded + quarantined:
            raise ReconciliationError(
                f"batch {batch_id}: received {received} != loaded {loaded} + quarantined {quarantined}")
        cur.execute(
            """UPDATE audit.batch SET status = 'loaded', loaded = %s, quarantined = %s, finished_at = now()
               WHERE batch_id = %s""",
            (loaded, quarantined, batch_id),
        )
        if high_water is not None:
            cur.execute(
                """INSERT INTO audit.watermark (source, entity, high_water, last_batch_id)
                   VALUES (%s, %s, %s, %s)
                   ON CONFLICT (source, entity) DO UPDATE
                     SET high_water = greatest(audit.watermark.high_water, EXCLUDED.high_water),
                         last_batch_id = EXCLUDED.last_batch_id, updated_at = now()""",
                (entity.source, entity.name, high_water, batch_id),
            )
        if new_versions or changed:
            # A batch the indicators consumed already, merged again with changes (a replay, a
            # rebuild): its months are recomputed by the next refresh.
            cur.execute("""INSERT INTO audit.indicator_recheck (batch_id)
                           SELECT batch_id FROM audit.indicator_input WHERE batch_id = %s
                           ON CONFLICT (batch_id) DO UPDATE SET merged_at = now()""", (batch_id,))
        cur.execute(sql.SQL("DELETE FROM {} WHERE batch_id = %s").format(staging), (batch_id,))
    return {"received": received, "loaded": loaded, "quarantined": quarantined,
            "new_versions": new_versions, "core_rows_changed": changed}
