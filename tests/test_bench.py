"""A tiny run of `make bench` (the benchmark itself is not a test and asserts no timings): every
part runs, against its own database and simulators, and the report holds every section; every
contender of §1a (the project, dlt merge and scd2, the tutorial path, the warm worker, both
COPYs) ran and loaded every row it should, typed."""

from __future__ import annotations

from pathlib import Path

from yhlaw_dev import bench, bench_peers
import pytest

from conftest import TEST_SIM_BASE_PORT, own_database

# Its own database and simulator ports, moved with the session's (WAREHOUSE_TEST_DATABASE,
# TEST_SIM_BASE_PORT) so that two suites side by side never share them.
BENCH_PORT = TEST_SIM_BASE_PORT + 20000          # 38801 beside the default 18801


@pytest.mark.stack      # reaches PostgreSQL, starts simulators and installs the peers' venv (once, .local/)
def test_bench_smoke_runs_every_part(settings, tmp_path):
    database = own_database(settings, "bench")
    own = bench.bench_settings(settings, namespace=database, port=BENCH_PORT, database=database)
    out = tmp_path / "benchmarks.md"
    r = bench.run(sizes=[300, 900], naive_sizes=[300], indicator_records=20_000, demo_days=0, bench=own,
                  airflow=settings, only=["enforcement.case"], out=out, log=lambda *_: None,
                  peer_sizes=[200], peer_runs=1, peer_entities=["enforcement.case"])

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

    _assert_peers(r["peers"])

    ind = r["indicators"]
    assert ind["core_records"] == sum(ind["counts"].values()) >= 19_000
    assert 0 < ind["incremental_months"] < ind["full_months"]
    assert ind["changed_records"] > 0

    parsed = {Path(str(d["file"])).name for d in r["dag_parse"]}
    assert {"compute_indicators.py", "ingest_enforcement.py", "ingest_ledgers.py"} <= parsed

    text = out.read_text(encoding="utf-8")
    for heading in ("## 1.", "## 1a.", "## 2.", "## 3.", "## 4.", "## 5.", "## 6."):
        assert heading in text
    assert "**no**" not in text, "a contender's run was not equivalent"


def _assert_peers(peers: dict) -> None:
    """§1a at 200 enforcement cases: every contender ran once and loaded what it should, with
    the dates, date-times and decimals typed in its target."""
    [row] = peers["rows"]
    assert row["entity"] == "enforcement.case" and row["records"] == 200
    assert set(row["runs"]) == {"project", "project_warm", "dlt_merge", "dlt_scd2", "tutorial"}
    for name, [run] in row["runs"].items():
        assert run["wall"] > 0
        assert run["loaded"] == run["expected"], name
        assert run["types"] and all(t["ok"] and t["filled"] > 0 for t in run["types"].values()), (name, run["types"])
    project = row["runs"]["project"][0]
    assert project["loaded"] + project["quarantined"] == project["records"] == 200
    assert project["copy_rows"] == {"copy_typed": project["loaded"], "copy_source": 200}
    # dlt loads every record with a key (one row per key), the tutorial drops what GX named.
    assert row["runs"]["dlt_merge"][0]["loaded"] == row["runs"]["dlt_scd2"][0]["loaded"] > project["loaded"]
    tutorial = row["runs"]["tutorial"][0]
    assert tutorial["records"] == 200 and 0 < tutorial["rejected"] < 200 and not tutorial["detail"]["could_not_run"]
    assert "penalty_amount" in row["runs"]["dlt_merge"][0]["types"], "dlt was not given the spec's decimal"
    assert peers["profile"]["seconds"] > 0 and peers["profile"]["buckets"], peers["profile"]


def test_peers_venv_fails_clearly_without_pypi(tmp_path, monkeypatch):
    """No package index reachable: the peers' venv is not half-built, and the message says why."""
    for var, value in {"PIP_INDEX_URL": "http://127.0.0.1:9/simple", "PIP_EXTRA_INDEX_URL": "",
                       "PIP_FIND_LINKS": "", "PIP_NO_INDEX": "", "PIP_RETRIES": "0", "PIP_TIMEOUT": "2",
                       "PIP_CONFIG_FILE": "/dev/null"}.items():
        monkeypatch.setenv(var, value)
    monkeypatch.delenv("PIP_NO_INDEX")
    venv = tmp_path / "bench-venv"
    with pytest.raises(bench_peers.PeersUnavailable, match="is PyPI reachable"):
        bench_peers.peers_python(venv=venv, log=lambda *_: None)
    assert not venv.exists()
