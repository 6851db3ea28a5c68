"""`make reliability` at CI size: every source x every fault kind through real Airflow, the real
simulators and a real warehouse (its own database and ports), then three reruns of every interval.

The runner's exit code is its own verdict; this test reads the table it wrote and the warehouse
it left, and checks them independently."""

from __future__ import annotations

import subprocess
import sys
from datetime import datetime

from yhlaw_dev.reliability import FEW_PAGES, WAREHOUSE_FAULTS, plan, source_faults, transport_kind
from yhlaw.settings import Settings, with_database
from yhlaw_dev.sim import simulated_sources
from yhlaw.warehouse import transaction
import pytest

from conftest import TEST_SIM_BASE_PORT, own_database

# Reaches PostgreSQL (and starts simulators) itself: the full tier only.
pytestmark = pytest.mark.stack

# Its own database and simulator ports, moved with the session's (WAREHOUSE_TEST_DATABASE,
# TEST_SIM_BASE_PORT) so that two suites side by side never share them.
RELIABILITY_PORT = TEST_SIM_BASE_PORT + 21000          # 39801 beside the default 18801


def test_every_fault_kind_in_every_source_loses_and_duplicates_nothing(settings, tmp_path):
    database = own_database(settings, "reliability")
    out = tmp_path / "reliability.md"
    result = subprocess.run([sys.executable, "-m", "yhlaw_dev", "reliability", "--quick", "--database", database,
                             "--port", str(RELIABILITY_PORT), "--out", str(out)],
                            capture_output=True, text=True, timeout=1800)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]

    rows = [line.strip("|").split("|") for line in out.read_text().splitlines()
            if line.startswith("| ") and not line.startswith(("| source", "| after", "| **"))]
    table = {(r[0].strip(), r[1].strip()): [c.strip() for c in r[2:]] for r in rows if len(r) == 9}
    expected = {(sc.source, sc.fault) for sc in plan(simulated_sources(), datetime(2022, 3, 1), quick=True)}
    assert set(table) == expected
    for (source, fault), (injected, runs, served, loaded, quarantined, lost, duplicates) in table.items():
        assert injected != "0", f"{source}: {fault} was never injected"
        assert int(served) > 0 and int(lost) == 0 and int(duplicates) == 0, (source, fault, table[source, fault])
        if fault not in WAREHOUSE_FAULTS and transport_kind(source) == "http" and source not in FEW_PAGES:
            kinds = {k.split()[0] for k in injected.split(", ")}
            assert len(kinds) >= len(source_faults(source)) - 2, f"{source}: only {kinds} fired"
    assert "- [ ]" not in out.read_text()

    # The warehouse it left: every batch loaded and reconciled, no content landed twice.
    url = with_database(Settings.from_env().warehouse_url, database)
    with transaction(url) as conn, conn.cursor() as cur:
        cur.execute("""SELECT count(*) FILTER (WHERE status <> 'loaded'),
                              count(*) FILTER (WHERE received <> loaded + quarantined) FROM audit.batch""")
        assert cur.fetchone() == (0, 0)
        cur.execute("""SELECT count(*) FROM (SELECT 1 FROM raw.batch GROUP BY source, entity, interval_start,
                                             content_sha256 HAVING count(*) > 1) t""")
        assert cur.fetchone()[0] == 0
        cur.execute("SELECT count(DISTINCT (source, interval_start)) FROM audit.batch")
        assert cur.fetchone()[0] == len(expected)


def test_hostile_sources_lose_alter_and_leak_nothing_and_the_check_can_fail(settings, tmp_path):
    """Every transport's hostile fake through the real pipeline: lost 0, altered 0, nothing that
    must be quarantined in core, no PII in any message, tricks refused. Then the reconciliation
    is shown to see a record that was never stored and a core value that was changed."""
    from dataclasses import replace

    from conftest import own_database
    from yhlaw_dev import hostile

    own = replace(settings, warehouse_url=with_database(settings.warehouse_url, own_database(settings, "hostile")))
    results = hostile.run(own, tmp_path)
    report = hostile.report(results)
    assert {r.transport for r in results} == set(hostile.TRANSPORTS)
    assert all(r.ok for r in results), report
    assert all(r.served == r.received == r.loaded + r.quarantined and r.quarantined > 0 for r in results), report
    out = tmp_path / "reliability.md"
    out.write_text("# Reliability\n")
    hostile.write_section(out, report)
    hostile.write_section(out, report)                  # rewritten in place, not appended twice
    assert out.read_text().count("## Hostile sources") == 1 and out.read_text().startswith("# Reliability")

    # The oracle can fail: a probe never stored is lost, a changed core text is altered.
    entity = hostile.entity_of(hostile.TRANSPORTS["http_page"])
    served = hostile.probes(entity, "http_page")
    with transaction(own.warehouse_url) as conn, conn.cursor() as cur:
        cur.execute("SELECT batch_id FROM audit.batch WHERE source = 'enforcement' AND status = 'loaded'")
        (batch_id,) = cur.fetchone()
        probe = next(p for p in served if p.text)
        column, value = probe.text
        key = hostile.get(probe.record, hostile.field_of(entity, entity.natural_key))
        cur.execute(f"UPDATE core.{entity.table}_version SET {column} = {column} || '!' WHERE case_no = %s", (key,))
    never_stored = hostile.Probe("never_stored", {**served[0].record, "caseNo": "NEVER-STORED-1"})
    check = hostile.Result("http_page", "enforcement.case")
    hostile.reconcile(check, entity, own.warehouse_url, batch_id, served + [never_stored])
    assert (check.lost, check.altered) == (1, 1), check
