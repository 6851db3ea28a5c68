"""A tiny run of `make bench` (the benchmark itself is not a test and asserts no timings): every
part runs, against its own database and simulators, and the report holds every section."""

from __future__ import annotations

from pathlib import Path

from yhlaw_dev import bench
import pytest

# Reaches PostgreSQL (and starts simulators) itself: the full tier only.
pytestmark = pytest.mark.stack


def test_bench_smoke_runs_every_part(settings, tmp_path):
    own = bench.bench_settings(settings, namespace="benchtest", port=38801, database="yuhang_law_bench_test")
    out = tmp_path / "benchmarks.md"
    r = bench.run(sizes=[300, 900], naive_sizes=[300], indicator_records=20_000, demo_days=0, bench=own,
                  airflow=settings, only=["enforcement.case"], out=out, log=lambda *_: None)

    ingest = r["ingest"]
    assert [x["records"] for x in ingest] == [300, 900]
    for x in ingest:
        # Nothing lost on the way: every record loaded or quarantined; the COPY baseline copied
        # exactly the rows that reached core.
        assert x["loaded"] + x["quarantined"] == x["records"] and x["quarantined"] > 0
        assert x["copy_rows"] == x["loaded"] and x["copy_source_rows"] == x["records"]
        assert x["validate"]["great_expectations"] > 0 and x["rss_mb"] > 0
        assert 0 <= x["typed_in_python"] < x["records"], "the SQL pass typed nothing"
    assert ingest[0]["naive"]["rows"] == 300 and "naive" not in ingest[1]

    ind = r["indicators"]
    assert ind["core_records"] == sum(ind["counts"].values()) >= 19_000
    assert 0 < ind["incremental_months"] < ind["full_months"]
    assert ind["changed_records"] > 0

    parsed = {Path(str(d["file"])).name for d in r["dag_parse"]}
    assert {"compute_indicators.py", "ingest_enforcement.py", "ingest_ledgers.py"} <= parsed

    text = out.read_text(encoding="utf-8")
    for heading in ("## 1.", "## 2.", "## 3.", "## 4.", "## 5.", "## 6."):
        assert heading in text
