"""End to end through real Airflow (dag.test on the DAGs parsed from dags/), the real simulators
and the real PostgreSQL warehouse, for every source spec: what a source served is exactly what
the warehouse holds.

The tests in this module build on each other in order (one warehouse, days loaded in turn).
Everything source-specific is read from the spec, so a new source is covered by adding it.
"""

from __future__ import annotations

import json
import re
import os
from collections import Counter
from datetime import datetime, timedelta, timezone

import pytest
from psycopg2 import sql

from conftest import (TEST_SIM_BASE_PORT, day, run_day, source_connection_env, source_keys_stored_and_counted,
                      type_both_ways)
from yhlaw.pipeline import window_for
from yhlaw_dev.reliability import (ERROR_DIRT, api_name, instant, reconcile_interval, simulator_faults,
                               transport_kind, version_stamps)
from yhlaw.spec import load_spec
from yhlaw_dev.sim import simulated_sources
from yhlaw.warehouse import table_checksum, transaction

SOURCES = simulated_sources()
DAYS = ["2022-03-01", "2022-03-02", "2022-03-03"]


def kind(source: str) -> str:
    return transport_kind(source)


def stamps(entity) -> tuple[str, str]:
    return version_stamps(entity)


def entities(source: str):
    return load_spec(source).entities.values()


def core_checksums(url: str, sources=SOURCES) -> dict[str, tuple[int, str]]:
    with transaction(url) as conn:
        return {f"{e.table}{v}": table_checksum(conn, "core", f"{e.table}{v}")
                for s in sources for e in entities(s) for v in ("", "_version")}


def check_against_truth(url: str, sim, entity, start, truth=None) -> dict[str, int]:
    """The one oracle (yhlaw_dev.reliability.reconcile_interval): every record version the source
    served for this run's window is in core, or in quarantine with the reason its dirt calls
    for; counts reconcile exactly; core holds no version the source did not serve."""
    r = reconcile_interval(url, sim, entity, start, truth=truth)
    assert not r.problems, "\n".join(r.problems)
    assert (r.lost, r.duplicates, r.wrong_reason) == (0, 0, 0)
    return {"served": r.served, "loaded": r.loaded, "quarantined": r.quarantined}


@pytest.mark.parametrize("source", SOURCES)
def test_days_load_and_reconcile_with_the_source(source, dags, sims, warehouse):
    totals = Counter()
    for d in DAYS:
        assert run_day(dags[source], sims[source], day(d)) == "success"
        for entity in entities(source):
            totals.update(check_against_truth(warehouse, sims[source], entity, day(d)))
    # The default dirt profile must have produced rejects, or this test proves nothing.
    assert totals["quarantined"] > 5 and totals["loaded"] > 50
    with transaction(warehouse) as conn, conn.cursor() as cur:
        cur.execute("SELECT DISTINCT unnest(reasons) FROM quarantine.record WHERE source = %s", (source,))
        reasons = {r[0] for r in cur.fetchall()}
        # Each quarantined record was matched to its dirt above; here: several kinds occurred.
        assert len(reasons & {"duplicate_record", "unknown_town", "town_out_of_district", "missing_required_field",
                              "impossible_date", "unparseable_value", "amount_out_of_range"}) >= 3, reasons
        for entity in entities(source):
            # Names given instead of codes were resolved; PII never reaches core (keys are HMACs).
            # (A record about a unit, such as a 效能评价, names no party; a 事项 has no 镇街.)
            checks = [check for column, check in (("town_code", "town_code IS NULL"),
                                                  ("party_key", "party_key !~ '^[0-9a-f]{64}$'"))
                      if column in entity.columns]
            if checks:
                cur.execute(f"SELECT count(*) FROM core.{entity.table} WHERE {' OR '.join(checks)}")
                assert cur.fetchone()[0] == 0
            if has_party(entity) and any(f.type == "parties" for f in entity.fields):
                # All parties with their roles (#17): the first is the record's own party.
                cur.execute("""SELECT count(*), count(*) FILTER (WHERE (p.party_key, p.party_type)
                                                               IS DISTINCT FROM (c.party_key, c.party_type))
                               FROM core.record_party p JOIN core.{t} c ON c.{nk}::text = p.natural_key
                               WHERE p.core_table = %s AND p.party_no = 1""".format(
                    t=entity.table, nk=entity.natural_key), (entity.table,))
                parties, differ = cur.fetchone()
                assert parties > 0 and differ == 0, (entity.table, parties, differ)
            cur.execute("SELECT high_water FROM audit.watermark WHERE source = %s AND entity = %s",
                        (source, entity.name))
            assert cur.fetchone()[0] <= day(DAYS[-1]) + timedelta(days=1)


def has_party(entity) -> bool:
    return "party_key" in entity.columns


BEFORE_THE_SPLIT = "2020-06-01"   # 临平区 was set up on 2021-04-09; a backfill reaches back to 2020-01


@pytest.mark.parametrize("source", SOURCES)
def test_a_day_before_the_split_loads_the_old_district_and_counts_only_todays(source, dags, sims, warehouse):
    """A backfill of a day when 临平街道 and seven others were still 余杭区: their records are
    valid history (in core with their old codes, no rejected batch), and no mart counts them.
    (Before the replay test below teaches the reference data the simulators' unknown codes.)"""
    from yhlaw import indicators

    assert run_day(dags[source], sims[source], day(BEFORE_THE_SPLIT)) == "success"
    former = 0
    for entity in entities(source):
        check_against_truth(warehouse, sims[source], entity, day(BEFORE_THE_SPLIT))
        with transaction(warehouse) as conn, conn.cursor() as cur:
            cur.execute("SELECT status FROM audit.batch WHERE source = %s AND entity = %s AND interval_start = %s",
                        (source, entity.name, day(BEFORE_THE_SPLIT)))
            assert [r[0] for r in cur.fetchall()] == ["loaded"]
            if any(f.type == "town" for f in entity.fields):
                cur.execute(sql.SQL("SELECT count(*) FROM {} c JOIN core.dim_town d USING (town_code) "
                                    "WHERE NOT d.in_district").format(sql.Identifier("core", entity.table)))
                former += cur.fetchone()[0]
    assert former > 0, "the simulated old district has records in the 镇街 that moved"
    with transaction(warehouse) as conn:
        indicators.refresh(conn, trigger="test before the split")
    with transaction(warehouse) as conn, conn.cursor() as cur:
        cur.execute("""SELECT count(*) FROM mart.indicator_values v JOIN core.dim_town d USING (town_code)
                       WHERE NOT d.in_district""")
        assert cur.fetchone()[0] == 0


@pytest.mark.parametrize("source", SOURCES)
def test_typing_in_sql_equals_normalise_on_what_the_simulators_served(source, warehouse):
    """Every batch the days above landed, typed as validation does (SQL where the typer vouches
    for a record, Python for the rest) and all in Python, gives the same rows; and most of the
    simulators' records, dirt included, are typed in SQL, or the fast path is not doing its job.
    The key counts the drift check reads, stored when each batch landed, are its payloads'."""
    records = in_sql = 0
    for entity in entities(source):
        with transaction(warehouse) as conn, conn.cursor() as cur:
            cur.execute("SELECT batch_id, record_count FROM raw.batch WHERE source = %s AND entity = %s",
                        (source, entity.name))
            batches = cur.fetchall()
        for batch_id, count in batches:
            fast, diffs = type_both_ways(warehouse, entity, batch_id)
            assert diffs == [], f"{batch_id}: {diffs[:5]}"
            stored, counted = source_keys_stored_and_counted(warehouse, batch_id)
            assert stored == counted, batch_id
            records, in_sql = records + count, in_sql + len(fast)
    assert records > 50 and in_sql >= 0.8 * records, (in_sql, records)


def test_the_oracle_counts_a_lost_and_a_duplicated_record(sims, warehouse, settings):
    """The oracle that the tests and `make reliability` rely on can fail: a version removed from
    core is counted lost, and the same content landed twice for an interval is counted twice."""
    entity, sim, start = list(entities("enforcement"))[0], sims["enforcement"], day(DAYS[0])
    sim.set_clock(start + timedelta(days=1, hours=1))      # the world as that day's run saw it
    before = core_checksums(warehouse, ["enforcement"])
    assert reconcile_interval(warehouse, sim, entity, start).problems == []
    table = f"core.{entity.table}_version"
    with transaction(settings.admin_url) as conn, conn.cursor() as cur:
        cur.execute(f"""CREATE TABLE public.oracle_saved AS SELECT * FROM {table}
                        WHERE source_updated_at >= %s ORDER BY source_updated_at LIMIT 1""", (start,))
        cur.execute(f"DELETE FROM {table} t USING public.oracle_saved s WHERE t.batch_id = s.batch_id "
                    f"AND t.{entity.natural_key} = s.{entity.natural_key} AND t.source_updated_at = s.source_updated_at")
        cur.execute("""INSERT INTO raw.batch (batch_id, source, entity, interval_start, interval_end, query_since,
                                              record_count, content_sha256)
                       SELECT batch_id || '.twin', source, entity, interval_start, interval_end, query_since,
                              record_count, content_sha256
                       FROM raw.batch WHERE source = 'enforcement' AND entity = %s AND interval_start = %s""",
                    (entity.name, start))
    try:
        r = reconcile_interval(warehouse, sim, entity, start)
        assert r.lost == 1
        assert r.duplicates == r.received > 0
    finally:
        with transaction(settings.admin_url) as conn, conn.cursor() as cur:
            cur.execute(f"INSERT INTO {table} SELECT * FROM public.oracle_saved")
            cur.execute("DROP TABLE public.oracle_saved")
            cur.execute("DELETE FROM raw.batch WHERE batch_id LIKE '%.twin'")
    assert core_checksums(warehouse, ["enforcement"]) == before
    assert reconcile_interval(warehouse, sim, entity, start).problems == []


def test_the_same_party_has_the_same_key_in_every_source(warehouse):
    """The simulators draw parties from one population: keyed HMACs must link them."""
    tables = [e.table for s in SOURCES for e in entities(s) if has_party(e)]
    with transaction(warehouse) as conn, conn.cursor() as cur:
        union = " UNION ALL ".join(f"SELECT DISTINCT party_key, '{t}' AS t FROM core.{t}" for t in tables)
        cur.execute(f"SELECT party_key, count(DISTINCT t) FROM ({union}) x GROUP BY 1 HAVING count(DISTINCT t) > 1")
        shared = cur.fetchall()
    if len(SOURCES) > 1:
        assert len(shared) > 0, "no party links across sources"


@pytest.mark.parametrize("source", SOURCES)
def test_rerun_of_an_interval_leaves_the_warehouse_identical(source, dags, sims, warehouse):
    before = core_checksums(warehouse)
    with transaction(warehouse) as conn, conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM raw.record")
        raw_before = cur.fetchone()[0]
    assert run_day(dags[source], sims[source], day(DAYS[1])) == "success"
    assert core_checksums(warehouse) == before
    with transaction(warehouse) as conn, conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM raw.record")
        assert cur.fetchone()[0] == raw_before, "unchanged source content must reuse the landed batch"
        cur.execute("SELECT max(attempts) FROM audit.batch WHERE source = %s AND interval_start = %s",
                    (source, day(DAYS[1])))
        assert cur.fetchone()[0] == 2


@pytest.mark.parametrize("source", SOURCES)
def test_late_correction_updates_the_core_row(source, dags, sims, warehouse):
    sim, entity = sims[source], list(entities(source))[0]
    _, version_stamp = stamps(entity)
    last = day(DAYS[-1]) + timedelta(days=1)
    horizon = last + timedelta(days=45)
    sim.set_clock(horizon)
    with transaction(warehouse) as conn, conn.cursor() as cur:
        cur.execute(f"SELECT {entity.natural_key}, record_hash FROM core.{entity.table}")
        loaded = dict(cur.fetchall())
    corrections = [t for t in sim.truth(api_name(entity), last, horizon)
                   if "late_correction" in t["dirt"] and t["key"] in loaded
                   and not set(t["dirt"]) & set(ERROR_DIRT)]
    assert corrections, "the simulator produced no late correction of an early record"
    target = corrections[0]
    corrected_at = instant(target["updatedAt"]).in_timezone("Asia/Shanghai")
    assert run_day(dags[source], sim, corrected_at.start_of("day")) == "success"

    def state():
        with transaction(warehouse) as conn, conn.cursor() as cur:
            cur.execute(f"SELECT source_updated_at, record_hash FROM core.{entity.table} "
                        f"WHERE {entity.natural_key} = %s", (target["key"],))
            current = cur.fetchone()
            cur.execute(f"SELECT {version_stamp}, source_updated_at, record_hash FROM core.{entity.table}_version "
                        f"WHERE {entity.natural_key} = %s ORDER BY source_updated_at", (target["key"],))
            return current, cur.fetchall()
    current, versions = state()
    assert corrected_at in [v[0] for v in versions], "the correction is not in the version history"
    assert current[1] == versions[-1][2], "core must hold the latest version"
    if kind(source) != "file_drop":   # a corrected re-delivery revises its own day, not later ones
        assert current[0] == corrected_at
        assert current[1] != loaded[target["key"]], "the correction changed nothing"
    # Re-running an early day afterwards must not roll the correction back.
    assert run_day(dags[source], sim, day(DAYS[0])) == "success"
    assert state() == (current, versions)


def fault_mix(source: str) -> dict[str, float]:
    """The faults the source's simulator injects (a database source's rows changing during the
    read: see test_rows_changing_during_the_read_lose_nothing)."""
    return simulator_faults(source)


@pytest.fixture
def small_pages(request, warehouse):
    """Small pages (connection extras) so that a day takes ~15 requests per entity, and a
    retry budget that a run of faults cannot exhaust: every fault kind gets its chance."""
    source = request.node.callspec.params["source"]
    with transaction(warehouse) as conn, conn.cursor() as cur:
        cur.execute("SELECT min(received) FROM audit.batch WHERE source = %s AND status = 'loaded'", (source,))
        smallest = cur.fetchone()[0] or 30
    env = source_connection_env(source)
    original = os.environ[env]
    conn = json.loads(original)
    conn["extra"] = json.dumps({**json.loads(conn.get("extra") or "{}"), "page_size": max(2, smallest // 15),
                                "max_attempts": 15, "backoff_max_seconds": 0.2, "max_restarts": 30})
    os.environ[env] = json.dumps(conn)
    yield
    os.environ[env] = original


@pytest.mark.parametrize("source", SOURCES)
def test_every_fault_kind_is_survived_with_nothing_lost(source, dags, sims, warehouse, small_pages):
    sim, faults_wanted = sims[source], fault_mix(source)
    before = core_checksums(warehouse, [source])
    sim.admin("POST", "/_sim/stats/reset")
    sim.set_faults(faults_wanted)
    try:
        # A day already loaded: the faulty read must land exactly the same content ...
        assert run_day(dags[source], sim, day(DAYS[2])) == "success"
        assert core_checksums(warehouse, [source]) == before
        # ... and a new day must reconcile record for record. (Files are delivered once, when
        # the world reaches them: a file drop needs a day beyond what earlier tests delivered.)
        new_day = day("2022-05-20") if kind(source) == "file_drop" else day("2022-03-04")
        for _ in range(4):   # enough requests for every kind to have fired
            assert run_day(dags[source], sim, new_day) == "success"
        faults = sim.admin("GET", "/_sim/stats")["faults"]
    finally:
        sim.set_faults({})
    for entity in entities(source):
        check_against_truth(warehouse, sim, entity, new_day)
    assert {k for k, n in faults.items() if n} >= set(faults_wanted), f"faults injected: {faults}"


@pytest.mark.parametrize("source", [s for s in SOURCES if kind(s) == "sql"])
def test_rows_changing_during_the_read_lose_nothing(source, dags, sims, warehouse):
    """A database source keeps changing while we read it. The read is one snapshot; what moved
    out of the window meanwhile arrives, newer, with the next window: no record state is lost."""
    import threading

    sim, d = sims[source], day("2022-03-05")
    end = d + timedelta(days=1)
    sim.set_clock(end + timedelta(hours=1))
    truths = {e.name: sim.truth(api_name(e), window_for(source, d, end).since, end) for e in entities(source)}
    # Twelve more hours of the world arrive gradually, from the moment the run starts.
    mover = threading.Thread(target=sim.admin, args=("PUT", "/_sim/clock",
                             {"now": (end + timedelta(hours=13)).isoformat(), "gradual_seconds": 4}))
    from yhlaw_dev.stack import run_dag_for_interval, run_state
    mover.start()
    assert run_state(run_dag_for_interval(dags[source], end)) == "success"
    mover.join()
    assert run_day(dags[source], sim, end) == "success"      # the next window, read normally
    for entity in entities(source):
        check_against_truth(warehouse, sim, entity, end)
        with transaction(warehouse) as conn, conn.cursor() as cur:
            cur.execute(f"SELECT {entity.natural_key}, source_updated_at FROM core.{entity.table}")
            latest = dict(cur.fetchall())
        for t in truths[entity.name]:
            if not set(t["dirt"]) & set(ERROR_DIRT):
                assert latest[t["key"]] >= instant(t["updatedAt"]), f"{t} was lost"


def test_a_batch_with_too_many_bad_rows_is_rejected_without_touching_core(ingest_dag, settings, warehouse, monkeypatch):
    """Blocking batch check: the run fails (no retry), raw keeps the batch, core is unchanged;
    the listener records the failure and mails it (to a local SMTP sink), without PII."""
    from yhlaw_dev.smtp_sink import SmtpSink
    from yhlaw_dev.stack import simulator

    before = core_checksums(warehouse)
    started = datetime.now(timezone.utc)
    env = source_connection_env("enforcement")
    original = os.environ[env]
    sink = SmtpSink()
    monkeypatch.setenv("AIRFLOW_CONN_SMTP_ALERTS", json.dumps(
        {"conn_type": "smtp", "host": "127.0.0.1", "port": sink.port,
         "extra": json.dumps({"to": ["yfzq-ops@example.gov.cn"], "from": "airflow@example.gov.cn"})}))
    with sink, simulator(settings, "enforcement", port=TEST_SIM_BASE_PORT + 50,
                         extra_env={"SIM_DIRT": "unknown_town:0.6"}) as dirty:
        conn = json.loads(original)
        conn["port"] = dirty.port
        os.environ[env] = json.dumps(conn)
        try:
            state = run_day(ingest_dag, dirty, day("2022-03-10"))
        finally:
            os.environ[env] = original
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
    # The listener in plugins/ recorded the failed task, with no identifying value in it.
    with transaction(warehouse) as conn, conn.cursor() as cur:
        cur.execute("SELECT kind, task_id, error_type, message FROM audit.alert WHERE dag_id = 'ingest_enforcement' "
                    "AND raised_at >= %s ORDER BY alert_id", (started,))
        alerts = cur.fetchall()
    assert ("task_failed", "validate_case", "AirflowFailException") in [a[:3] for a in alerts], alerts
    assert all("too_many_bad_rows" in a[3] for a in alerts if a[1] == "validate_case"), alerts
    assert not any(re.search(r"(?<!\d)\d{11,}", a[3] or "") for a in alerts), alerts
    assert any("enforcement.case." in (a[3] or "") for a in alerts), "the alert names the batch"
    subjects = [m["Subject"] for m in sink.messages]
    assert any("ingest_enforcement.validate_case" in s for s in subjects), subjects
    assert any("dag_run_failed" in m.get_content() for m in sink.messages), "the failed run is mailed too"
    assert all(m["To"] == "yfzq-ops@example.gov.cn" for m in sink.messages)
    assert not any(re.search(r"(?<!\d)\d{11,}", m.get_content()) for m in sink.messages)


@pytest.mark.parametrize("source", SOURCES)
def test_rebuild_from_raw_reproduces_core_and_rotates_the_party_key(source, warehouse, settings):
    """core is a pure function of raw: rebuilding gives the same tables; a new HMAC key changes
    every party key consistently (the same party still links), and nothing else. A key other
    than the warehouse's is refused (by tasks and by set-up) until it is rotated in on purpose."""
    from yhlaw.bootstrap import prepare_warehouse
    from yhlaw.key_check import KeyMismatch, fingerprint
    from yhlaw.pipeline import rebuild, rotate_key

    key, new_key = settings.secrets["PII_HMAC_KEY"], "rotated-" + settings.secrets["PII_HMAC_KEY"]
    before = core_checksums(warehouse, [source])
    entity = next(e for e in entities(source) if has_party(e))

    def parties():
        with transaction(warehouse) as conn, conn.cursor() as cur:
            cur.execute(f"SELECT {entity.natural_key}, party_key FROM core.{entity.table} ORDER BY 1")
            return cur.fetchall()

    def warehouse_key():
        with transaction(warehouse) as conn, conn.cursor() as cur:
            cur.execute("SELECT fingerprint FROM audit.pii_key")
            return cur.fetchone()[0]

    old = parties()
    assert warehouse_key() == fingerprint(key)
    with pytest.raises(KeyMismatch, match="docs/security.md"):
        rebuild(entity, warehouse_url=warehouse, hmac_key=new_key)
    assert parties() == old                      # refused before anything was touched
    rotate_key([entity], warehouse_url=warehouse, new_key=new_key)
    new = parties()
    assert warehouse_key() == fingerprint(new_key)
    assert [c for c, _ in new] == [c for c, _ in old]
    assert all(a != b for (_, a), (_, b) in zip(old, new) if a)
    # The rotation is a bijection on parties: records that shared a party still share one.
    pairs = {(a, b) for (_, a), (_, b) in zip(old, new)}
    assert len({a for a, _ in pairs}) == len({b for _, b in pairs}) == len(pairs)
    with pytest.raises(KeyMismatch) as refused:   # a set-up with the old key: refused, and no key in the message
        prepare_warehouse(settings)
    assert key not in str(refused.value) and new_key not in str(refused.value)
    rotate_key([entity], warehouse_url=warehouse, new_key=key)
    assert core_checksums(warehouse, [source]) == before
    prepare_warehouse(settings)


def test_ledgers_and_indicators_through_airflow(airflow, warehouse, tmp_path, monkeypatch):
    """The hand-maintained ledgers go through the same pipeline as every source (GX rules,
    quarantine with reasons, reconciliation); then compute_indicators refreshes the marts from
    everything the tests above loaded, incrementally, and a full rebuild gives the same table."""
    import csv
    import json
    import shutil

    from yhlaw import indicators
    from yhlaw_dev.stack import load_dag, run_dag_for_interval, run_state
    from yhlaw.settings import PROJECT_ROOT

    for name in ("staffing.csv", "publicity_sites.csv"):
        shutil.copy(PROJECT_ROOT / "include" / "reference" / "ledgers" / name, tmp_path / name)
    bad_staffing = [["2023Q4-BAD-1", "2023-12-31", "YH-ZHZF", "600", "10", "12", "5", "2024-01-05 10:00:00"],
                    ["2023Q4-BAD-2", "2023-12-31", "YH-SCJG", "150", "十二", "3", "5", "2024-01-05 10:00:00"],
                    ["2023Q4-BAD-3", "2023-12-31", "YH-NOPE", "150", "120", "3", "5", "2024-01-05 10:00:00"]]
    with (tmp_path / "staffing.csv").open("a", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows(bad_staffing)
    with (tmp_path / "publicity_sites.csv").open("a", newline="", encoding="utf-8") as f:
        csv.writer(f).writerow(["2023Q4-BAD", "2023-12-31", "不存在镇", "10", "5", "2024-01-05 10:00:00"])
    monkeypatch.setenv("AIRFLOW_CONN_SRC_LEDGERS", json.dumps(
        {"conn_type": "fs", "extra": json.dumps({"path": str(tmp_path)})}))

    ledgers = load_dag("ingest_ledgers")
    assert run_state(run_dag_for_interval(ledgers, day("2022-03-02"))) == "success"
    with transaction(warehouse) as conn, conn.cursor() as cur:
        cur.execute("""SELECT entity, received, loaded, quarantined FROM audit.batch
                       WHERE source = 'ledgers' ORDER BY entity""")
        batches = cur.fetchall()
        cur.execute("""SELECT record_key, reasons FROM quarantine.record WHERE source = 'ledgers' ORDER BY 1""")
        quarantined = dict(cur.fetchall())
        cur.execute("SELECT count(*) FROM core.enforcement_staffing")
        staffing_rows = cur.fetchone()[0]
    good = {"publicity": 144, "staffing": 96}
    assert batches == [("publicity", 145, 144, 1), ("staffing", 99, 96, 3)]
    assert staffing_rows == good["staffing"]
    assert quarantined == {"2023Q4-BAD": ["unknown_town"], "2023Q4-BAD-1": ["inconsistent_counts"],
                           "2023Q4-BAD-2": ["missing_required_field", "unparseable_value"], "2023Q4-BAD-3": ["unknown_department"]}

    compute = load_dag("compute_indicators")
    assert run_state(run_dag_for_interval(compute, day("2022-03-02"))) == "success"

    def mart():
        with transaction(warehouse) as conn, conn.cursor() as cur:
            cur.execute("""SELECT indicator_code, grain, period_start, town_code, numerator, denominator, value,
                                  target, meets_target FROM mart.indicator_values""")
            totals = {r[:4]: r[4:] for r in cur.fetchall()}
            cur.execute("""SELECT indicator_code, dimension, member, grain, period_start, town_code, numerator,
                                  denominator, value, meets_target FROM mart.indicator_values_by_dimension""")
            return totals, {r[:6]: r[6:] for r in cur.fetchall()}

    incremental = mart()
    codes = {c.code for c in indicators.catalog()}
    assert {k[0] for k in incremental[0]} == codes, "every indicator has values from the simulators' data"
    assert {k[0] for k in incremental[1]} == {c.code for c in indicators.catalog()
                                              if indicators.breakdown_dimensions(c)}
    with transaction(warehouse) as conn:
        indicators.refresh(conn, full=True, trigger="test: full rebuild")
    assert mart() == incremental


def test_quarantined_records_are_replayed_after_a_fix_idempotently(airflow, warehouse, settings):
    """Records quarantined for an unknown 镇街 spelling load once the reference data learns the
    spelling: the replay DAG re-validates their batches from raw, the counts still reconcile,
    a second replay changes nothing, and the next indicator refresh counts them."""
    from yhlaw import indicators
    from yhlaw.normalise import get_path
    from yhlaw.pipeline import replay
    from yhlaw_dev.stack import load_dag, run_state

    with transaction(warehouse) as conn, conn.cursor() as cur:
        cur.execute("""SELECT source, entity, batch_id, seq, record_key, payload FROM quarantine.record
                       WHERE reasons = '{unknown_town}'""")
        stuck = cur.fetchall()
        cur.execute("SELECT town_code FROM core.dim_town WHERE in_district AND town_kind <> '区' "
                    "ORDER BY town_code LIMIT 1")
        town = cur.fetchone()[0]
    assert len({s for s, *_ in stuck}) >= 3, f"the simulators' dirt should have quarantined unknown towns: {stuck}"
    spellings = set()
    for source, entity_name, *_, payload in stuck:
        field = next(f for f in load_spec(source).entities[entity_name].fields if f.type == "town")
        spellings.add("".join(str(get_path(payload, field.source)).split()))

    def quarantine_state():
        with transaction(warehouse) as conn, conn.cursor() as cur:
            cur.execute("SELECT batch_id, seq, reasons FROM quarantine.record ORDER BY 1, 2")
            rows = cur.fetchall()
            cur.execute("SELECT count(*) FROM audit.batch WHERE status = 'loaded' AND received <> loaded + quarantined")
            return rows, cur.fetchone()[0]

    before_q, unreconciled = quarantine_state()
    assert unreconciled == 0
    # The fix: the reference data learns the spellings (as a new row in reference/town_aliases.csv would).
    with transaction(settings.admin_url) as conn, conn.cursor() as cur:
        cur.executemany("INSERT INTO core.town_alias (alias, town_code, alias_kind) VALUES (%s, %s, 'code12')",
                        [(s, town) for s in sorted(spellings)])

    replay_dag = load_dag("replay_quarantine")
    for source in sorted({s for s, *_ in stuck}):
        assert run_state(replay_dag.test(run_conf={"source": source, "reason": "unknown_town"})) == "success"

    after_q, unreconciled = quarantine_state()
    released = {(b, s) for _, _, b, s, *_ in stuck}
    assert unreconciled == 0
    assert {(b, s) for b, s, _ in after_q} == {(b, s) for b, s, _ in before_q} - released
    with transaction(warehouse) as conn, conn.cursor() as cur:
        for source, entity_name, batch_id, _, key, payload in stuck:
            e = load_spec(source).entities[entity_name]
            cur.execute(f"SELECT town_code FROM core.{e.table}_version WHERE {e.natural_key} = %s AND batch_id = %s",
                        (key, batch_id))
            assert cur.fetchall() == [(town,)], f"{source}.{entity_name} {key} was not released into core"
        cur.execute("SELECT sum(quarantined_before - quarantined_after) FROM audit.replay WHERE reason_filter = 'unknown_town'")
        assert cur.fetchone()[0] == len(stuck)

    def replay_all(reason):
        for source in SOURCES:
            for entity in entities(source):
                replay(entity, warehouse_url=warehouse, hmac_key=settings.secrets["PII_HMAC_KEY"], reason=reason,
                       run_id=f"test: {reason}")
        return core_checksums(warehouse), quarantine_state()

    # The same replay again changes nothing.
    assert replay_all("unknown_town") == (core_checksums(warehouse), (after_q, 0))
    # A replay of everything quarantined or rejected (the rejected 2022-03-10 batch was mostly
    # unknown towns: it loads now) is idempotent too.
    everything = replay_all(None)
    assert everything[1][1] == 0
    assert replay_all(None) == everything

    # The marts count the released records: the incremental refresh equals a full rebuild.
    def mart():
        with transaction(warehouse) as conn, conn.cursor() as cur:
            cur.execute("SELECT indicator_code, grain, period_start, town_code, numerator, denominator "
                        "FROM mart.indicator_values ORDER BY 1, 2, 3, 4")
            return cur.fetchall()

    with transaction(warehouse) as conn:
        assert indicators.refresh(conn, trigger="test: after replay")["new_batches"] > 0
    incremental = mart()
    with transaction(warehouse) as conn:
        indicators.refresh(conn, full=True, trigger="test: full rebuild")
    assert mart() == incremental


def test_no_identifying_value_reaches_what_analysts_and_dashboards_read(warehouse):
    """Every name, ID number and phone number the sources served (their specs' ``pii`` paths, read
    from raw as etl) is absent from every text column analyst and dashboard can read; and neither
    role can read any table of raw, staging, quarantine or audit."""
    from yhlaw.normalise import get_path
    from yhlaw.settings import with_user

    def leaves(value):
        if isinstance(value, dict):      # a party object: its identifying fields, not its type or role
            for k, v in value.items():
                if any(w in k.lower() for w in ("name", "idno", "phone", "名称", "号码")):
                    yield from leaves(v)
        elif isinstance(value, list):
            for v in value:
                yield from leaves(v)
        elif isinstance(value, (str, int)) and len(str(value)) >= 2:
            yield str(value)

    pii: set[str] = set()
    with transaction(warehouse) as conn, conn.cursor() as cur:
        for source in SOURCES:
            paths = load_spec(source).pii
            cur.execute("SELECT payload FROM raw.record r JOIN raw.batch b USING (batch_id) WHERE b.source = %s",
                        (source,))
            for (payload,) in cur.fetchall():
                for path in paths:
                    pii.update(leaves(get_path(payload, path) if isinstance(payload, dict) else None))
    assert len(pii) > 1000, f"the sources served too few identifying values to test with: {len(pii)}"
    for role, schemas in (("analyst", ("core", "mart")), ("dashboard", ("mart",))):
        with transaction(with_user(warehouse, role)) as conn, conn.cursor() as cur:
            cur.execute("""SELECT n.nspname, c.relname, has_table_privilege(c.oid, 'SELECT')
                           FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                           WHERE c.relkind IN ('r', 'v', 'p') AND n.nspname IN ('raw', 'staging', 'quarantine',
                                                                                 'audit', 'core', 'mart')""")
            readable = {(s, t) for s, t, ok in cur.fetchall() if ok}
            assert {s for s, _ in readable} == set(schemas), f"{role} reads {sorted(readable)}"
            # Source-derived tables (core tables with a batch, every mart table); the reference
            # tables (镇街 names and aliases, departments) are public and come from the repository.
            cur.execute("""SELECT c.table_schema, c.table_name, c.column_name FROM information_schema.columns c
                           WHERE c.table_schema = ANY(%s)
                             AND c.data_type IN ('text', 'character varying', 'character')
                             AND (c.table_schema = 'mart' OR EXISTS (
                                   SELECT 1 FROM information_schema.columns b WHERE b.table_schema = c.table_schema
                                     AND b.table_name = c.table_name AND b.column_name = 'batch_id'))""",
                        (list(schemas),))
            for schema, table, column in cur.fetchall():
                cur.execute(sql.SQL("SELECT {c}::text FROM {t} WHERE {c}::text = ANY(%s) LIMIT 3").format(
                    c=sql.Identifier(column), t=sql.Identifier(schema, table)), (sorted(pii),))
                leaked = cur.fetchall()
                assert not leaked, f"{schema}.{table}.{column} readable by {role} holds identifying values {leaked}"


def test_every_reason_the_runs_above_recorded_is_registered(warehouse):
    """After every source's days, faults, rejections and replays: each reason in quarantine and
    in the validation results is in the registry, at its level and severity."""
    from yhlaw.reasons import unregistered_reasons

    with transaction(warehouse) as conn, conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM quarantine.record")
        assert cur.fetchone()[0] > 0, "the runs above quarantined nothing: this check would prove nothing"
        assert unregistered_reasons(conn) == {}

