"""The one validation runner.

Row level: a Great Expectations suite (``expectations/<suite>.json``) is run on the typed
batch where it is, in PostgreSQL (GX's SQL data source over the session's typed table, see
``yhlaw.conform``), and names the failing records by ``seq``. Every expectation carries
``meta.reason`` (the quarantine reason code) and ``meta.check`` (a stable name);
``severity: critical`` sends failing rows to quarantine, ``warning`` only records the finding.

Batch level (after all chunks): volume against recent history, schema drift, and the share of
quarantined rows. A blocking batch failure rejects the whole batch (the task fails, without
retries); non-blocking ones are recorded.

Both kinds land in ``audit.validation_result``.
"""

from __future__ import annotations

import json
import logging
import os
import statistics
import warnings
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Iterator

import pandas as pd
import psycopg2.extensions
from psycopg2 import sql

from yhlaw import paths

EXPECTATIONS_DIR = paths.EXPECTATIONS_DIR
log = logging.getLogger(__name__)


def _quiet_gx() -> None:
    """GX logs at INFO and trips a pandas deprecation warning per expectation: keep task logs readable."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
    warnings.filterwarnings("ignore", message="Series.values returning an ndarray that drops timezone")
    for name in ("great_expectations", "great_expectations.core", "great_expectations.data_context"):
        logging.getLogger(name).setLevel(logging.WARNING)


@dataclass
class CheckResult:
    check: str
    level: str                  # 'row' | 'batch'
    reason: str
    blocking: bool
    success: bool = True
    unexpected_count: int = 0
    observed: dict[str, Any] = field(default_factory=dict)

    def merge(self, other: "CheckResult") -> None:
        self.success = self.success and other.success
        self.unexpected_count += other.unexpected_count
        if other.observed.get("examples"):
            ex = self.observed.setdefault("examples", [])
            ex.extend(other.observed["examples"][: max(0, 5 - len(ex))])


@dataclass
class Outcome:
    bad_rows: dict[int, list[dict[str, Any]]]       # seq -> reasons with detail
    results: list[CheckResult]


_RUNNERS: dict[str, "SuiteRunner"] = {}
# Batch-level check -> the reason code it records (``batch_checks``; every code is registered in
# include/reason_codes.yaml, see ``yhlaw.reasons``). Row-level reasons are the suites' ``meta.reason``.
BATCH_CHECK_REASONS = {
    "quarantine_ratio": "too_many_bad_rows",
    "volume": "volume_anomaly",
    "schema_missing_fields": "schema_drift",
    "schema_extra_fields": "schema_drift",
}


class LendableConnection(psycopg2.extensions.connection):
    """A warehouse session that GX's SQLAlchemy engine can work in during one run.

    The typed batch is a temporary table, visible only in the session that built it, so GX must
    query through that session: ``SuiteRunner.run`` lends it (``lent``) to the engine, which
    gets it from a creator instead of connecting (``NullPool``). While lent, SQLAlchemy's
    rollback ends GX's read transaction as usual, but its close and commit do nothing: the
    session belongs to the validation, which commits and closes it itself."""

    lent = False

    def close(self) -> None:
        if not self.lent:
            super().close()

    def commit(self) -> None:
        if not self.lent:
            super().commit()


class SuiteRunner:
    """Runs one GX suite over a typed batch in PostgreSQL. Build once per process; ``run`` per batch."""

    def __init__(self, suite_name: str, directory: Path = EXPECTATIONS_DIR):
        _quiet_gx()
        import great_expectations as gx
        from great_expectations.data_context.types.base import ProgressBarsConfig

        path = directory / f"{suite_name}.json"
        spec = json.loads(path.read_text(encoding="utf-8"))
        for e in spec["expectations"]:
            meta = e.get("meta", {})
            if not meta.get("reason") or not meta.get("check"):
                raise ValueError(f"{path.name}: every expectation needs meta.reason and meta.check ({e['type']})")
        self.suite = gx.ExpectationSuite(**spec)
        self.context = gx.get_context(mode="ephemeral")
        self.context.variables.progress_bars = ProgressBarsConfig(globally=False)
        self.name = suite_name
        self._session: LendableConnection | None = None
        self._datasource = None
        self._batches: dict[str, Any] = {}

    def _batch_definition(self, conn, table: str):
        """GX's view of ``pg_temp.<table>`` (built on first use, while a connection is lent)."""
        from sqlalchemy.pool import NullPool

        if self._datasource is None:
            # The URL only names the dialect: every connection is the lent session.
            self._datasource = self.context.data_sources.add_postgres(
                f"warehouse_{self.name}", connection_string="postgresql+psycopg2://lent@session/typed",
                kwargs={"poolclass": NullPool, "creator": self._lent_session})
        if table not in self._batches:
            asset = self._datasource.add_table_asset(table, table_name=table, schema_name="pg_temp")
            self._batches[table] = asset.add_batch_definition_whole_table("whole_batch")
        return self._batches[table]

    @classmethod
    def for_suite(cls, suite_name: str) -> "SuiteRunner":
        """One runner per suite per process: building a GX context costs ~2 s, reuse costs 0."""
        if suite_name not in _RUNNERS:
            _RUNNERS[suite_name] = cls(suite_name)
        return _RUNNERS[suite_name]

    @property
    def columns(self) -> set[str]:
        cols = set()
        for e in self.suite.expectations:
            kw = e.configuration.kwargs
            cols.update(v for k, v in kw.items() if k in ("column", "column_A", "column_B"))
        return cols

    def _lent_session(self) -> LendableConnection:
        if self._session is None:
            raise RuntimeError("Great Expectations asked for the warehouse outside a validation run")
        return self._session

    def run(self, conn: LendableConnection, table: str, chunk_rows: int) -> Iterator[Outcome]:
        """Validate the session's typed table ``pg_temp.<table>`` (which has a ``seq`` column), one
        slice of ``chunk_rows`` records at a time (GX holds every failing row of what it
        validates in memory: slices keep a task's memory flat whatever the batch size). Yields
        each slice's outcome. Commits the session (its temporary objects) before each slice and
        rolls back GX's read transaction after it."""
        if not isinstance(conn, LendableConnection):
            raise TypeError("SuiteRunner.run needs a session opened with connection_factory=LendableConnection")
        source, part = sql.Identifier("pg_temp", table), sql.Identifier("pg_temp", f"{table}_slice")
        with conn.cursor() as cur:
            cur.execute(sql.SQL("SELECT min(seq), max(seq) FROM {}").format(source))
            low, high = cur.fetchone()
        if low is None:                   # an empty batch: nothing to check
            return
        for start in range(low, high + 1, chunk_rows):   # (seq starts at 0: a batch of one is 0..0)
            # A table of its own: GX's queries then read the slice, not the whole batch.
            with conn.cursor() as cur:
                cur.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(part))
                cur.execute(sql.SQL("CREATE TEMP TABLE {} AS SELECT * FROM {} WHERE seq >= %s AND seq < %s").format(
                    sql.Identifier(f"{table}_slice"), source), (start, start + chunk_rows))
            conn.commit()
            yield self._validate(conn, f"{table}_slice")

    def _validate(self, conn: LendableConnection, table: str) -> Outcome:
        report = self._report(conn, table)
        bad: dict[int, list[dict[str, Any]]] = {}
        results = [self._check_result(r, bad) for r in report.results]
        return Outcome(bad_rows=bad, results=results)

    def _report(self, conn: LendableConnection, table: str):
        """GX's validation of ``pg_temp.<table>``, in the lent session (rolled back after)."""
        self._session, conn.lent = conn, True
        try:
            batch = self._batch_definition(conn, table).get_batch()
            return batch.validate(self.suite, result_format={
                "result_format": "COMPLETE", "unexpected_index_column_names": ["seq"],
                "partial_unexpected_count": 1 << 62, "return_unexpected_index_query": False})
        finally:
            self._session, conn.lent = None, False
            conn.rollback()

    def _failing_rows(self, r, meta: dict[str, Any]) -> list[dict[str, Any]]:
        """The rows an expectation named (each with its ``seq``); raises if it could not run or
        counted other rows than it named."""
        if r.exception_info and r.exception_info.get("raised_exception"):
            raise RuntimeError(
                f"suite {self.name}: expectation {meta['check']} could not run: "
                f"{r.exception_info.get('exception_message')}"
            )
        unexpected = list(r.result.get("unexpected_index_list") or [])
        if len(unexpected) != (r.result.get("unexpected_count") or 0):
            raise RuntimeError(f"suite {self.name}: expectation {meta['check']} counted "
                               f"{r.result.get('unexpected_count')} failing rows but named {len(unexpected)}")
        return unexpected

    def _check_result(self, r, bad: dict[int, list[dict[str, Any]]]) -> CheckResult:
        """One expectation's result; a critical one adds its failing rows to ``bad`` (seq -> details)."""
        cfg = r.expectation_config
        meta = cfg.meta or {}
        critical = str(cfg.severity.value if hasattr(cfg.severity, "value") else cfg.severity) == "critical"
        unexpected = self._failing_rows(r, meta)
        columns = [v for k, v in cfg.kwargs.items() if k in ("column", "column_A", "column_B")]
        examples = []
        for row in unexpected:
            detail = {
                "reason": meta["reason"],
                "check": meta["check"],
                "columns": {c: _jsonable(row.get(c)) for c in columns},
            }
            if len(examples) < 5:
                examples.append(detail["columns"])
            if critical:
                bad.setdefault(int(row["seq"]), []).append(detail)
        return CheckResult(
            check=meta["check"], level="row", reason=meta["reason"], blocking=False,
            success=bool(r.success), unexpected_count=len(unexpected),
            observed={"examples": examples, "severity": "critical" if critical else "warning"},
        )


def _jsonable(value: Any) -> Any:
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float) and value != value:
        return None
    if isinstance(value, (pd.Timestamp, datetime, date)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if hasattr(value, "item"):
        return value.item()
    if isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


def merge_results(into: dict[str, CheckResult], results: list[CheckResult]) -> None:
    for r in results:
        if r.check in into:
            into[r.check].merge(r)
        else:
            into[r.check] = r


def _batch_result(check: str, **outcome: Any) -> CheckResult:
    return CheckResult(check, "batch", BATCH_CHECK_REASONS[check], **outcome)


def batch_checks(
    *,
    received: int,
    quarantined: int,
    history: list[int],
    keys_seen: dict[str, int],
    expected_fields: set[str],
    config: dict[str, Any],
) -> list[CheckResult]:
    """Batch-level checks; each says whether it blocks the load and what it observed."""
    out = []

    # A share needs a sample: below min_rows a few bad rows say nothing about the batch.
    ratio_limit = float(config.get("max_quarantine_ratio", 1.0))
    ratio_min_rows = int(config.get("ratio_min_rows", 20))
    ratio = quarantined / received if received else 0.0
    too_many = ratio > ratio_limit and received >= ratio_min_rows
    out.append(_batch_result(
        "quarantine_ratio", blocking=too_many, success=not too_many,
        observed={"quarantined": quarantined, "received": received, "ratio": round(ratio, 4), "limit": ratio_limit,
                  "min_rows": ratio_min_rows},
    ))

    vol = config.get("volume") or {}
    min_history = int(vol.get("min_history", 7))
    if len(history) >= min_history:
        median = statistics.median(history)
        low, high = median * float(vol.get("low_factor", 0.2)), median * float(vol.get("high_factor", 5.0))
        ok = low <= received <= high
        out.append(_batch_result(
            "volume", blocking=not ok, success=ok,
            observed={"received": received, "median": median, "low": low, "high": high, "history": len(history)},
        ))
    else:
        out.append(_batch_result("volume", blocking=False, success=True,
                                 observed={"skipped": f"only {len(history)} earlier batches (< {min_history})"}))

    # Schema drift: an expected field absent from every record of a sizeable batch is a
    # removed or renamed column (blocking); fields the spec does not know are additions
    # (recorded, not blocking: the raw layer keeps them).
    min_rows = int(config.get("drift_min_rows", 20))
    missing = sorted(f for f in expected_fields if keys_seen.get(f, 0) == 0)
    drift_blocks = bool(missing) and received >= min_rows
    out.append(_batch_result(
        "schema_missing_fields", blocking=drift_blocks, success=not drift_blocks,
        observed={"missing_fields": missing, "received": received},
    ))
    extra = sorted(k for k in keys_seen if k not in expected_fields)
    out.append(_batch_result(
        "schema_extra_fields", blocking=False, success=not extra,
        observed={"unexpected_fields": extra},
    ))
    return out
