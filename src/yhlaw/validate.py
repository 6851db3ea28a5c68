"""The one validation runner.

Row level: a Great Expectations suite (``expectations/<suite>.json``) is run on each typed
chunk of a batch. Every expectation carries ``meta.reason`` (the quarantine reason code) and
``meta.check`` (a stable name); ``severity: critical`` sends failing rows to quarantine,
``warning`` only records the finding.

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
from pathlib import Path
from typing import Any

import pandas as pd

from yhlaw.settings import PROJECT_ROOT

EXPECTATIONS_DIR = PROJECT_ROOT / "expectations"
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
class ChunkOutcome:
    bad_rows: dict[int, list[dict[str, Any]]]       # frame index -> reasons with detail
    results: list[CheckResult]


_RUNNERS: dict[str, "SuiteRunner"] = {}


class SuiteRunner:
    """Runs one GX suite on pandas chunks. Build once per task; ``run`` per chunk."""

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
        asset = self.context.data_sources.add_pandas(f"chunks_{suite_name}").add_dataframe_asset("chunk")
        self.batch_definition = asset.add_batch_definition_whole_dataframe("whole_chunk")
        self.name = suite_name

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

    def run(self, frame: pd.DataFrame) -> ChunkOutcome:
        batch = self.batch_definition.get_batch(batch_parameters={"dataframe": frame})
        report = batch.validate(self.suite, result_format={"result_format": "COMPLETE"})
        bad: dict[int, list[dict[str, Any]]] = {}
        results = []
        for r in report.results:
            cfg = r.expectation_config
            meta = cfg.meta or {}
            critical = str(cfg.severity.value if hasattr(cfg.severity, "value") else cfg.severity) == "critical"
            if r.exception_info and r.exception_info.get("raised_exception"):
                raise RuntimeError(
                    f"suite {self.name}: expectation {meta['check']} could not run: "
                    f"{r.exception_info.get('exception_message')}"
                )
            indexes = list(r.result.get("unexpected_index_list") or [])
            columns = [v for k, v in cfg.kwargs.items() if k in ("column", "column_A", "column_B")]
            examples = []
            for i in indexes:
                detail = {
                    "reason": meta["reason"],
                    "check": meta["check"],
                    "columns": {c: _jsonable(frame.at[i, c]) for c in columns},
                }
                if len(examples) < 5:
                    examples.append(detail["columns"])
                if critical:
                    bad.setdefault(int(i), []).append(detail)
            results.append(
                CheckResult(
                    check=meta["check"], level="row", reason=meta["reason"], blocking=False,
                    success=bool(r.success), unexpected_count=len(indexes),
                    observed={"examples": examples, "severity": "critical" if critical else "warning"},
                )
            )
        return ChunkOutcome(bad_rows=bad, results=results)


def _jsonable(value: Any) -> Any:
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float) and value != value:
        return None
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
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
    out.append(CheckResult(
        "quarantine_ratio", "batch", "too_many_bad_rows", blocking=too_many, success=not too_many,
        observed={"quarantined": quarantined, "received": received, "ratio": round(ratio, 4), "limit": ratio_limit,
                  "min_rows": ratio_min_rows},
    ))

    vol = config.get("volume") or {}
    min_history = int(vol.get("min_history", 7))
    if len(history) >= min_history:
        median = statistics.median(history)
        low, high = median * float(vol.get("low_factor", 0.2)), median * float(vol.get("high_factor", 5.0))
        ok = low <= received <= high
        out.append(CheckResult(
            "volume", "batch", "volume_anomaly", blocking=not ok, success=ok,
            observed={"received": received, "median": median, "low": low, "high": high, "history": len(history)},
        ))
    else:
        out.append(CheckResult("volume", "batch", "volume_anomaly", blocking=False, success=True,
                               observed={"skipped": f"only {len(history)} earlier batches (< {min_history})"}))

    # Schema drift: an expected field absent from every record of a sizeable batch is a
    # removed or renamed column (blocking); fields the spec does not know are additions
    # (recorded, not blocking: the raw layer keeps them).
    min_rows = int(config.get("drift_min_rows", 20))
    missing = sorted(f for f in expected_fields if keys_seen.get(f, 0) == 0)
    drift_blocks = bool(missing) and received >= min_rows
    out.append(CheckResult(
        "schema_missing_fields", "batch", "schema_drift", blocking=drift_blocks, success=not drift_blocks,
        observed={"missing_fields": missing, "received": received},
    ))
    extra = sorted(k for k in keys_seen if k not in expected_fields)
    out.append(CheckResult(
        "schema_extra_fields", "batch", "schema_drift", blocking=False, success=not extra,
        observed={"unexpected_fields": extra},
    ))
    return out
