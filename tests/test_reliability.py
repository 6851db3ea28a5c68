"""`make reliability` at CI size: every source x every fault kind through real Airflow, the real
simulators and a real warehouse (its own database and ports), then three reruns of every interval.

The runner's exit code is its own verdict; this test reads the table it wrote and the warehouse
it left, and checks them independently."""

from __future__ import annotations

import subprocess
import sys
from datetime import datetime

from yhlaw_dev.reliability import WAREHOUSE_FAULTS, plan, source_faults, transport_kind
from yhlaw.settings import Settings, with_database
from yhlaw_dev.sim import simulated_sources
from yhlaw.warehouse import transaction
import pytest

# Reaches PostgreSQL (and starts simulators) itself: the full tier only.
pytestmark = pytest.mark.stack

DATABASE = "yuhang_law_reliability_test"


def test_every_fault_kind_in_every_source_loses_and_duplicates_nothing(tmp_path):
    out = tmp_path / "reliability.md"
    result = subprocess.run([sys.executable, "-m", "yhlaw_dev", "reliability", "--quick", "--database", DATABASE,
                             "--port", "39801", "--out", str(out)], capture_output=True, text=True, timeout=1800)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]

    rows = [line.strip("|").split("|") for line in out.read_text().splitlines()
            if line.startswith("| ") and not line.startswith(("| source", "| after", "| **"))]
    table = {(r[0].strip(), r[1].strip()): [c.strip() for c in r[2:]] for r in rows if len(r) == 9}
    expected = {(sc.source, sc.fault) for sc in plan(simulated_sources(), datetime(2022, 3, 1), quick=True)}
    assert set(table) == expected
    for (source, fault), (injected, runs, served, loaded, quarantined, lost, duplicates) in table.items():
        assert injected != "0", f"{source}: {fault} was never injected"
        assert int(served) > 0 and int(lost) == 0 and int(duplicates) == 0, (source, fault, table[source, fault])
        if fault not in WAREHOUSE_FAULTS and transport_kind(source) == "http":
            kinds = {k.split()[0] for k in injected.split(", ")}
            assert len(kinds) >= len(source_faults(source)) - 2, f"{source}: only {kinds} fired"
    assert "- [ ]" not in out.read_text()

    # The warehouse it left: every batch loaded and reconciled, no content landed twice.
    url = with_database(Settings.from_env().warehouse_url, DATABASE)
    with transaction(url) as conn, conn.cursor() as cur:
        cur.execute("""SELECT count(*) FILTER (WHERE status <> 'loaded'),
                              count(*) FILTER (WHERE received <> loaded + quarantined) FROM audit.batch""")
        assert cur.fetchone() == (0, 0)
        cur.execute("""SELECT count(*) FROM (SELECT 1 FROM raw.batch GROUP BY source, entity, interval_start,
                                             content_sha256 HAVING count(*) > 1) t""")
        assert cur.fetchone()[0] == 0
        cur.execute("SELECT count(DISTINCT (source, interval_start)) FROM audit.batch")
        assert cur.fetchone()[0] == len(expected)
