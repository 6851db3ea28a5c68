"""End to end through real Airflow (dag.test on the DAG parsed from dags/), the real simulator
and the real PostgreSQL warehouse: what the source served is exactly what the warehouse holds.

The tests in this module build on each other in order (one warehouse, days loaded in turn).
"""

from __future__ import annotations

import json
import os
from collections import Counter
from datetime import timedelta

import pendulum
import pytest

from conftest import day, run_day
from yhlaw.pipeline import window_for
from yhlaw.warehouse import table_checksum, transaction

DAYS = ["2022-03-01", "2022-03-02", "2022-03-03"]
ENTITIES = {"case": ("cases", "enforcement_case", "case_no"),
            "inspection": ("inspections", "enforcement_inspection", "inspection_no")}
# The simulator's dirt kinds and the quarantine reasons that must catch them.
ERROR_DIRT = {
    "missing_required": {"missing_required_field"},
    "unknown_town": {"unknown_town"},
    "pre2021_town": {"town_out_of_district"},
    "impossible_date": {"impossible_date", "unparseable_value"},
    "negative_amount": {"amount_out_of_range"},
}
HARMLESS_DIRT = {"town_name", "late_correction", "duplicate"}


def core_checksums(url: str) -> dict[str, tuple[int, str]]:
    with transaction(url) as conn:
        return {f"{t}{v}": table_checksum(conn, "core", f"{t}{v}")
                for _, t, _ in ENTITIES.values() for v in ("", "_version")}


def check_against_truth(url: str, sim, entity: str, start) -> dict[str, int]:
    """Every record version the source served for this run's window is in core or in
    quarantine with the reason its dirt calls for, and the counts reconcile exactly."""
    api_name, table, key_col = ENTITIES[entity]
    window = window_for("enforcement", start, start + timedelta(days=1))
    truth = sim.truth(api_name, window.since, window.end)
    served = len(truth) + sum("duplicate" in t["dirt"] for t in truth)
    with transaction(url) as conn, conn.cursor() as cur:
        cur.execute(
            """SELECT batch_id, status, received, loaded, quarantined FROM audit.batch
               WHERE source = 'enforcement' AND entity = %s AND interval_start = %s
               ORDER BY landed_at DESC LIMIT 1""", (entity, window.start))
        batch_id, status, received, loaded, quarantined = cur.fetchone()
        assert status == "loaded"
        assert received == served, f"{entity} {start}: landed {received}, simulator served {served}"
        assert received == loaded + quarantined
        cur.execute("SELECT record_key, payload->>'updatedAt', reasons FROM quarantine.record WHERE batch_id = %s",
                    (batch_id,))
        quarantined_rows = cur.fetchall()
        # Records in the overlap with the previous window may have been loaded by that batch.
        cur.execute(f"SELECT {key_col}, source_updated_at FROM core.{table}_version "
                    "WHERE source_updated_at >= %s AND source_updated_at < %s", (window.since, window.end))
        versions = {(k, ts) for k, ts in cur.fetchall()}
    assert len(quarantined_rows) == quarantined

    by_key = {}
    for key, updated, reasons in quarantined_rows:
        by_key.setdefault((key, updated), []).append(set(reasons))
    null_keyed = Counter()
    for key, updated, reasons in quarantined_rows:
        if key is None:
            null_keyed["missing_required_field" in reasons] += 1

    expected_quarantine = 0
    for t in truth:
        copies = 2 if "duplicate" in t["dirt"] else 1
        errors = [d for d in t["dirt"] if d in ERROR_DIRT]
        unknown = set(t["dirt"]) - set(ERROR_DIRT) - HARMLESS_DIRT
        assert not unknown, f"test does not know dirt kinds {unknown}"
        if t["key"].startswith("<null>"):
            expected_quarantine += copies
            continue
        found = by_key.get((t["key"], t["updatedAt"]), [])
        if errors:
            assert len(found) == copies, f"{t} should be quarantined {copies}x, found {found}"
            for reasons in found:
                for d in errors:
                    assert reasons & ERROR_DIRT[d], f"{t}: reasons {reasons} miss {ERROR_DIRT[d]}"
            expected_quarantine += copies
        else:
            ts = pendulum.parse(t["updatedAt"])
            assert (t["key"], ts) in versions, f"clean record {t} is not in core.{table}_version"
            if copies == 2:
                assert found == [{"duplicate_record"}], f"{t}: second copy should be a duplicate_record"
                expected_quarantine += 1
    assert null_keyed[False] == 0, "a record without key was quarantined for another reason only"
    assert quarantined == expected_quarantine
    return {"served": served, "loaded": loaded, "quarantined": quarantined}


def test_days_load_and_reconcile_with_the_source(ingest_dag, sim, warehouse):
    totals = Counter()
    for d in DAYS:
        assert run_day(ingest_dag, sim, day(d)) == "success"
        for entity in ENTITIES:
            totals.update(check_against_truth(warehouse, sim, entity, day(d)))
    # The default dirt profile must have produced rejects, or this test proves nothing.
    assert totals["quarantined"] > 10 and totals["loaded"] > 300
    with transaction(warehouse) as conn, conn.cursor() as cur:
        cur.execute("SELECT DISTINCT unnest(reasons) FROM quarantine.record")
        reasons = {r[0] for r in cur.fetchall()}
        assert {"duplicate_record", "unknown_town", "town_out_of_district", "missing_required_field"} <= reasons
        # Names given instead of codes were resolved, not rejected; PII never reaches core.
        cur.execute("SELECT count(*) FROM core.enforcement_case WHERE town_code IS NULL OR party_key !~ '^[0-9a-f]{64}$'")
        assert cur.fetchone()[0] == 0
        cur.execute("SELECT high_water FROM audit.watermark WHERE source = 'enforcement' AND entity = 'case'")
        assert cur.fetchone()[0] <= day(DAYS[-1]) + timedelta(days=1)


def test_rerun_of_an_interval_leaves_the_warehouse_identical(ingest_dag, sim, warehouse):
    before = core_checksums(warehouse)
    with transaction(warehouse) as conn, conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM raw.record")
        raw_before = cur.fetchone()[0]
    assert run_day(ingest_dag, sim, day(DAYS[1])) == "success"
    assert core_checksums(warehouse) == before
    with transaction(warehouse) as conn, conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM raw.record")
        assert cur.fetchone()[0] == raw_before, "unchanged source content must reuse the landed batch"
        cur.execute("SELECT max(attempts) FROM audit.batch WHERE interval_start = %s", (day(DAYS[1]),))
        assert cur.fetchone()[0] == 2


def test_late_correction_updates_the_core_row(ingest_dag, sim, warehouse):
    first, last = day(DAYS[0]), day(DAYS[-1]) + timedelta(days=1)
    horizon = last + timedelta(days=45)
    sim.set_clock(horizon)
    with transaction(warehouse) as conn, conn.cursor() as cur:
        cur.execute("SELECT case_no, source_updated_at, penalty_amount, town_code, cause FROM core.enforcement_case")
        loaded = {r[0]: r[1:] for r in cur.fetchall()}
    corrections = [t for t in sim.truth("cases", last, horizon)
                   if "late_correction" in t["dirt"] and t["key"] in loaded
                   and not set(t["dirt"]) & set(ERROR_DIRT)]
    assert corrections, "the simulator produced no late correction of an early case"
    target = corrections[0]
    corrected_at = pendulum.parse(target["updatedAt"]).in_timezone("Asia/Shanghai")
    assert run_day(ingest_dag, sim, corrected_at.start_of("day")) == "success"
    with transaction(warehouse) as conn, conn.cursor() as cur:
        cur.execute("SELECT source_updated_at, penalty_amount, town_code, cause FROM core.enforcement_case "
                    "WHERE case_no = %s", (target["key"],))
        now_row = cur.fetchone()
        cur.execute("SELECT count(*) FROM core.enforcement_case_version WHERE case_no = %s", (target["key"],))
        n_versions = cur.fetchone()[0]
    assert now_row[0] == corrected_at
    assert now_row[1:] != loaded[target["key"]][1:], "the correction changed nothing visible"
    assert n_versions >= 2
    # Re-running an early day afterwards must not roll the correction back.
    assert run_day(ingest_dag, sim, day(DAYS[0])) == "success"
    with transaction(warehouse) as conn, conn.cursor() as cur:
        cur.execute("SELECT source_updated_at FROM core.enforcement_case WHERE case_no = %s", (target["key"],))
        assert cur.fetchone()[0] == corrected_at


FAULTS = {"5xx": 0.12, "429": 0.06, "slow": 0.04, "truncated": 0.08, "malformed": 0.08,
          "token_expire": 0.08, "reset": 0.08}


def test_every_fault_kind_is_survived_with_nothing_lost(ingest_dag, sim, warehouse):
    before = core_checksums(warehouse)
    sim.admin("POST", "/_sim/stats/reset")
    sim.set_faults(FAULTS)
    try:
        # A day already loaded: the faulty read must land exactly the same content ...
        assert run_day(ingest_dag, sim, day(DAYS[2])) == "success"
        assert core_checksums(warehouse) == before
        # ... and a new day must reconcile record for record.
        new_day = day("2022-03-04")
        for _ in range(3):   # enough requests for every kind to have fired
            assert run_day(ingest_dag, sim, new_day) == "success"
        faults = sim.admin("GET", "/_sim/stats")["faults"]
    finally:
        sim.set_faults({})
    for entity in ENTITIES:
        check_against_truth(warehouse, sim, entity, new_day)
    assert {k for k, n in faults.items() if n} == set(FAULTS), f"faults injected: {faults}"
    with transaction(warehouse) as conn, conn.cursor() as cur:
        cur.execute("SELECT extract_stats FROM audit.batch WHERE interval_start = %s", (new_day,))
        retried = sum(sum(stats["retries"].values()) for (stats,) in cur.fetchall())
    assert retried > 0, "the last run met no fault: the client's retries were not exercised"


def test_a_batch_with_too_many_bad_rows_is_rejected_without_touching_core(ingest_dag, settings, warehouse):
    """Blocking batch check: the run fails (no retry), raw keeps the batch, core is unchanged."""
    from yhlaw.runtime import simulator

    before = core_checksums(warehouse)
    original = os.environ["AIRFLOW_CONN_SRC_ENFORCEMENT"]
    with simulator(settings, "enforcement", port=18811, extra_env={"SIM_DIRT": "unknown_town:0.6"}) as dirty:
        conn = json.loads(original)
        conn["port"] = dirty.port
        os.environ["AIRFLOW_CONN_SRC_ENFORCEMENT"] = json.dumps(conn)
        try:
            state = run_day(ingest_dag, dirty, day("2022-03-10"))
        finally:
            os.environ["AIRFLOW_CONN_SRC_ENFORCEMENT"] = original
    assert state == "failed"
    assert core_checksums(warehouse) == before
    with transaction(warehouse) as conn, conn.cursor() as cur:
        cur.execute("SELECT status, error, received FROM audit.batch WHERE interval_start = %s AND entity = 'case'",
                    (day("2022-03-10"),))
        status, error, received = cur.fetchone()
        cur.execute("SELECT count(*) FROM raw.record r JOIN audit.batch b USING (batch_id) "
                    "WHERE b.interval_start = %s AND b.entity = 'case'", (day("2022-03-10"),))
        raw_rows = cur.fetchone()[0]
    assert status == "rejected" and "too_many_bad_rows" in error
    assert raw_rows == received > 0


def test_rebuild_from_raw_reproduces_core_and_rotates_the_party_key(warehouse, settings):
    """core is a pure function of raw: rebuilding gives the same tables; a new HMAC key changes
    every party key consistently (the same party still links), and nothing else."""
    from yhlaw.pipeline import entity_of, rebuild

    key = settings.secrets["PII_HMAC_KEY"]
    before = core_checksums(warehouse)
    case = entity_of("enforcement", "case")

    def parties():
        with transaction(warehouse) as conn, conn.cursor() as cur:
            cur.execute("SELECT case_no, party_key FROM core.enforcement_case ORDER BY case_no")
            return cur.fetchall()

    old = parties()
    rebuild(case, warehouse_url=warehouse, hmac_key="rotated-" + key)
    new = parties()
    assert [c for c, _ in new] == [c for c, _ in old]
    assert all(a != b for (_, a), (_, b) in zip(old, new) if a)
    # The rotation is a bijection on parties: cases that shared a party still share one.
    pairs = {(a, b) for (_, a), (_, b) in zip(old, new)}
    assert len({a for a, _ in pairs}) == len({b for _, b in pairs}) == len(pairs)
    rebuild(case, warehouse_url=warehouse, hmac_key=key)
    assert core_checksums(warehouse) == before
