"""Unit tests of the package: parsing, normalisation, HMAC keys, specs, batch checks."""

from __future__ import annotations

import hashlib
import hmac

import pandas as pd
import pytest

from yhlaw.normalise import Context, TownResolver, normalise
from yhlaw.pii import PartyKeyer, normalise_identifier
from yhlaw.reference import town_aliases, town_rows
from yhlaw.spec import SpecError, load_spec, parse_spec, source_names
from yhlaw.validate import batch_checks



def resolver() -> TownResolver:
    rows = town_rows()
    in_district = {r["town_code"]: r["in_district"] == "true" for r in rows}
    return TownResolver.from_rows((a, c, in_district[c]) for a, c, _ in town_aliases(rows))


@pytest.mark.parametrize("written, code, status", [
    ("330110010000", "330110010000", "current"),
    ("330110010", "330110010000", "current"),
    ("良渚街道", "330110010000", "current"),
    (" 良 渚 ", "330110010000", "current"),
    ("余杭镇", "330110013000", "current"),        # old name
    ("330110001000", "330110001000", "moved_out"),  # 临平街道, 临平区 since 2021
    ("塘栖镇", "330110102000", "moved_out"),
    ("330113002000", "330110002000", "moved_out"),  # 南苑街道 under 临平区's own code (330113…)
    ("330113100", "330110102000", "moved_out"),     # 塘栖镇, 9 digits
    ("330113999000", None, "unknown"),
    ("330110999000", None, "unknown"),
    ("", None, "missing"),
    (None, None, "missing"),
])
def test_town_resolution(written, code, status):
    assert resolver().resolve(written) == (code, status)


def test_reference_has_twelve_towns_and_eight_moved_out():
    rows = town_rows()
    assert sum(r["in_district"] == "true" and r["town_kind"] != "区" for r in rows) == 12
    assert sorted(r["town_code"][:9] for r in rows if r["in_district"] == "false") == [
        "330110001", "330110002", "330110003", "330110004", "330110006", "330110007", "330110008", "330110102"]


def test_identifier_normalisation_and_keyed_hash():
    assert normalise_identifier(" 33010519900307１２3x ") == "33010519900307123X"
    assert normalise_identifier("9133-0110-MA2 7XY") == "91330110MA27XY"
    keyer = PartyKeyer("k1")
    a = keyer("330105199003071234")
    assert a == keyer("3301 0519 9003 0712 34") == hmac.new(b"k1", b"330105199003071234", hashlib.sha256).hexdigest()
    assert a != PartyKeyer("k2")("330105199003071234"), "the key must matter"
    assert a != hashlib.sha256(b"330105199003071234").hexdigest(), "must not be a plain hash"
    assert keyer(None) is None and keyer("  ") is None
    with pytest.raises(ValueError, match="pii_hmac"):
        PartyKeyer("")


def _case(**over):
    rec = {"caseNo": "C1", "deptCode": "D", "deptName": "区综合行政执法局", "townCode": "良渚",
           "causeName": "占道经营", "caseSource": "巡查发现", "status": "办理中", "penaltyAmount": "1,200.5",
           "fullyOnline": True, "mobileHandled": "否", "legalReviewDone": 1,
           "party": {"type": "person", "name": "张三", "idNo": "330105199003071234", "phone": "13800000000"},
           "stages": [{"stage": "立案", "time": "2022-03-01T09:00:00+08:00", "unit": "x"},
                      {"stage": "结案", "time": "2022-03-05 10:00:00", "unit": "x"}],
           "updatedAt": "2022-03-05T10:00:00+08:00"}
    rec.update(over)
    return rec


def test_normalise_types_every_field_and_reports_what_it_cannot_read():
    entity = load_spec("enforcement").entities["case"]
    ctx = Context(resolver(), PartyKeyer("k"))
    frame = normalise([_case(), _case(caseNo="C2", penaltyAmount="abc", updatedAt="2022-02-30T10:00:00+08:00",
                                      townCode="330110001000")], entity, ctx)
    good, bad = frame.iloc[0], frame.iloc[1]
    assert good["town_code"] == "330110010000" and good["_town_code_status"] == "current"
    assert good["penalty_amount"] == 1200.5
    assert good["fully_online"] is True or good["fully_online"] == True  # noqa: E712
    assert good["mobile_handled"] == False and good["legal_review_done"] == True  # noqa: E712
    assert good["filed_at"] == pd.Timestamp("2022-03-01T01:00:00Z")
    assert good["closed_at"] == pd.Timestamp("2022-03-05T02:00:00Z"), "naive times are Asia/Shanghai"
    assert good["party_key"] == PartyKeyer("k")("330105199003071234")
    assert "张三" not in frame.to_string() and "13800000000" not in frame.to_string()
    assert pd.isna(good["_parse_errors"])
    assert bad["_town_code_status"] == "moved_out"
    assert "penalty_amount" in bad["_parse_errors"] and "source_updated_at" in bad["_parse_errors"]
    assert pd.isna(bad["penalty_amount"]) and pd.isna(bad["source_updated_at"])


def test_record_hash_ignores_formatting_but_not_content(db):
    """The hash is computed in the warehouse from the typed values, whichever pass typed them:
    the same content written two ways (one typed in Python, one in SQL) hashes the same."""
    from datetime import datetime, timezone

    from psycopg2 import sql

    from yhlaw import conform, pipeline
    from yhlaw.store import Spool, land

    entity = load_spec("enforcement").entities["case"]
    spool = Spool()
    spool.write([_case(), _case(penaltyAmount=1200.50, townCode="330110010000"), _case(penaltyAmount=1)])
    start = datetime(2031, 1, 1, tzinfo=timezone.utc)
    batch_id = land(db, entity, spool, interval=(start, start), query_since=start, extract_stats={},
                    dag_run_id=None).batch_id
    spool.close()
    with db.cursor() as cur:
        ctx = Context(pipeline._town_resolver(cur), PartyKeyer("k"))
        conform.type_batch(cur, entity, batch_id, ctx, chunk_rows=10)
        cur.execute(sql.SQL("SELECT _fast, {} FROM pg_temp.{} ORDER BY seq").format(
            conform.record_hash_sql(entity), conform.typed_table(entity)))
        rows = cur.fetchall()
    db.rollback()
    assert [fast for fast, _ in rows] == [None, True, True], "'1,200.5' is left to Python, the rest typed in SQL"
    assert rows[0][1] == rows[1][1] != rows[2][1]


def test_specs_load_and_bad_specs_are_named():
    assert "enforcement" in source_names()
    for s in source_names():
        spec = load_spec(s)
        for e in spec.entities.values():
            assert e.natural_key in e.columns and e.updated_column
            assert (e.suite and e.table)
    with pytest.raises(SpecError, match="unknown type 'money'"):
        parse_spec({"source": "x", "connection": "c", "transport": {}, "schedule": {}, "entities": {
            "a": {"path": "/a", "key": "k", "updated_at": "u", "table": "t", "natural_key": "k", "suite": "s",
                  "fields": {"k": {"from": "k", "type": "money"}}}}}, "x.yaml")
    with pytest.raises(SpecError, match="entities.a: missing key 'fields'"):
        parse_spec({"source": "x", "connection": "c", "transport": {}, "schedule": {}, "entities": {"a": {}}},
                   "x.yaml")


def test_batch_checks_block_on_volume_drift_and_bad_ratio_but_not_on_additions():
    base = dict(expected_fields={"a", "b"}, config={"max_quarantine_ratio": 0.2,
                                                     "volume": {"min_history": 3, "low_factor": 0.5,
                                                                "high_factor": 2}})
    ok = batch_checks(received=100, quarantined=5, history=[90, 100, 110], keys_seen={"a": 100, "b": 99}, **base)
    assert not any(c.blocking for c in ok)
    blocking = lambda checks: {c.reason for c in checks if c.blocking}  # noqa: E731
    assert blocking(batch_checks(received=100, quarantined=30, history=[], keys_seen={"a": 1, "b": 1}, **base)) \
        == {"too_many_bad_rows"}
    assert blocking(batch_checks(received=3, quarantined=1, history=[], keys_seen={"a": 1, "b": 1}, **base)) \
        == set(), "three rows are no sample"
    assert blocking(batch_checks(received=10, quarantined=0, history=[90, 100, 110], keys_seen={"a": 1, "b": 1},
                                 **base)) == {"volume_anomaly"}
    drift = batch_checks(received=100, quarantined=0, history=[], keys_seen={"a": 100, "c": 100}, **base)
    assert blocking(drift) == {"schema_drift"}
    extra = [c for c in drift if c.check == "schema_extra_fields"][0]
    assert not extra.blocking and extra.observed["unexpected_fields"] == ["c"]


def test_copy_frame_formats_datetimes_exactly(db):
    """The vectorised datetime text of COPY keeps instants, microseconds, dates (local midnights)
    and NULLs."""
    from datetime import date, datetime, timezone

    import pandas as pd
    from psycopg2 import sql as _sql

    from yhlaw.store import copy_frame

    ts = pd.to_datetime(["2022-03-01T08:00:00.123456+08:00", None, "2021-12-31T23:59:59+00:00"], utc=True,
                        format="ISO8601")
    days = pd.to_datetime(["2022-03-01", "2021-01-31", None]).tz_localize("Asia/Shanghai")
    frame = pd.DataFrame({"ts": ts, "d": days, "x": ["a", None, "c"]})
    with db.cursor() as cur:
        cur.execute("CREATE TEMP TABLE copy_check (ts timestamptz, d date, x text)")
        copy_frame(cur, _sql.Identifier("copy_check"), ["ts", "d", "x"], frame)
        cur.execute("SELECT ts, d, x FROM copy_check")
        rows = cur.fetchall()
    assert rows == [(datetime(2022, 3, 1, 0, 0, 0, 123456, tzinfo=timezone.utc), date(2022, 3, 1), "a"),
                    (None, date(2021, 1, 31), None),
                    (datetime(2021, 12, 31, 23, 59, 59, tzinfo=timezone.utc), None, "c")]


def test_amounts_are_read_exactly_or_not_at_all():
    from decimal import Decimal

    from yhlaw.normalise import exact_amount

    read = {v: exact_amount(v)[0] for v in ("16.00", "1,234,567.89", " 12 ", 12, 12.5, "-3.1", 1e12)}
    assert read == {"16.00": Decimal("16.00"), "1,234,567.89": Decimal("1234567.89"), " 12 ": Decimal(12), 12: 12,
                    12.5: Decimal("12.5"), "-3.1": Decimal("-3.1"), 1e12: Decimal(10**12)}
    for bad in ("16,00", "1,2345", "12.345", 0.125, "1.2.3", float("nan"), float("inf"), True, "12元", ",5"):
        amount, why = exact_amount(bad)
        assert amount is None and why, bad


def test_the_interval_due_for_freshness_follows_the_spec_schedule():
    from datetime import datetime, timedelta
    from zoneinfo import ZoneInfo

    from yhlaw.freshness import due_interval_end
    from yhlaw.spec import load_spec

    cst = ZoneInfo("Asia/Shanghai")
    daily, ledgers = load_spec("enforcement"), load_spec("ledgers")
    assert daily.fresh_within_minutes == 375
    at = datetime(2022, 3, 5, 6, 15, tzinfo=cst)        # 06:15: yesterday's interval is due
    assert due_interval_end(daily, at) == datetime(2022, 3, 5, 0, 0, tzinfo=cst)
    assert due_interval_end(daily, at - timedelta(seconds=1)) == datetime(2022, 3, 4, 0, 0, tzinfo=cst)
    assert due_interval_end(ledgers, at) == datetime(2022, 3, 4, 6, 0, tzinfo=cst)   # runs at 06:00: due by 12:15
    assert due_interval_end(daily, at.astimezone(ZoneInfo("UTC"))) == datetime(2022, 3, 5, tzinfo=cst)


# 村 and 社区 per 镇街 in the National Bureau of Statistics' 统计用区划和城乡划分代码: the 2021
# edition (as at 2021-10-31) and the 2022 edition (as at 2022-10-31; nine new 社区, no 村 changed).
NBS_VILLAGES_COMMUNITIES = {
    "330110005000": ((0, 18), (0, 20)), "330110009000": ((18, 2), (18, 4)), "330110010000": ((20, 23), (20, 24)),
    "330110011000": ((8, 13), (8, 13)), "330110012000": ((6, 7), (6, 10)), "330110013000": ((11, 16), (11, 16)),
    "330110014000": ((10, 5), (10, 6)), "330110109000": ((13, 2), (13, 2)), "330110110000": ((13, 8), (13, 8)),
    "330110111000": ((6, 1), (6, 1)), "330110112000": ((6, 1), (6, 1)), "330110113000": ((5, 1), (5, 1)),
}


def test_publicity_ledger_counts_the_real_villages_and_communities():
    """法治宣传阵地覆盖率's denominator is the 镇街 itself plus its 村 and 社区: the shipped ledger
    holds the official counts of the latest edition published before the quarter ended."""
    import csv

    from yhlaw.paths import PROJECT_ROOT

    path = PROJECT_ROOT / "include" / "reference" / "ledgers" / "publicity_sites.csv"
    rows = list(csv.reader(path.open(encoding="utf-8", newline="")))[1:]
    assert {r[2] for r in rows} == set(NBS_VILLAGES_COMMUNITIES) and len(rows) == 12 * 12
    for _, day, town, total, built, _ in rows:
        edition = NBS_VILLAGES_COMMUNITIES[town][0 if day <= "2022-10-31" else 1]
        assert int(total) == 1 + sum(edition), (town, day)
        assert 0 <= int(built) <= int(total)
    assert sum(int(r[3]) for r in rows if r[1] == "2021-12-31") == 12 + 116 + 97
