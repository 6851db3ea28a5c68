"""The ``parties`` field type (#17): every party of a record, with its role and type as codes and
its ID as the keyed HMAC, typed the same way in Python (``normalise``) and in SQL (``conform``);
bad lists quarantined (``unparseable_value``, naming the party's position, never a value); no
name, ID number or phone survives; generated view ``core.record_party``."""

from __future__ import annotations

import hashlib
import json

import pandas as pd
import psycopg2
import pytest
from psycopg2 import sql

from yhlaw.normalise import Context, TownResolver, normalise, party_list
from yhlaw.pii import PartyKeyer
from yhlaw.spec import SpecError, parse_spec
from yhlaw.schemas import DocumentError, validate_document

KEY = "test key"
ROLES = {"申请人": "applicant", "被申请人": "respondent"}
KINDS = {"自然人": "person", "法人": "org", "非法人组织": "org"}
PARTIES = {"from": "parties", "type": "parties", "role": {"from": "role", "map": ROLES},
           "kind": {"from": "type", "map": KINDS}, "id": "idNo", "description": "全部当事人"}
# A court export's own (Chinese) keys.
COURT_PARTIES = {"from": "当事人", "type": "parties", "role": {"from": "诉讼地位", "map": {"原告": "plaintiff", "被告": "defendant"}},
                 "kind": {"from": "当事人类型", "map": KINDS}, "id": "证件号码"}
TABLE = "party_list_test"


def spec(fields: dict, table: str = TABLE):
    # source "mediation": the typing reads the source's transport (window, not snapshot)
    return parse_spec({"source": "mediation", "connection": "c", "transport": {"kind": "sql"}, "schedule": {},
                       "entities": {"case": {"path": "p", "key": "ajbh", "updated_at": "gxsj", "table": table,
                                             "natural_key": "case_no", "suite": "s", "fields": {
                                                 "case_no": {"from": "ajbh", "type": "text"},
                                                 **fields,
                                                 "source_updated_at": {"from": "gxsj", "type": "timestamp"}}}}},
                      "test").entities["case"]


ENTITY = spec({"party_key": {"from": "parties.0.idNo", "type": "party_key"}, "parties": PARTIES})
COURT = spec({"parties": COURT_PARTIES})
ALICE = {"role": "申请人", "type": "自然人", "name": "张三", "idNo": "33010519900307123X", "phone": "13800001111"}
BOB = {"role": "被申请人", "type": "法人", "name": "杭州某某有限公司", "idNo": "91330110MA2AAAAA1X", "phone": "057188880000"}


def ctx() -> Context:
    return Context(TownResolver({}), PartyKeyer(KEY))


def record(parties, n: int = 1) -> dict:
    return {"ajbh": f"T{n}", "gxsj": "2022-03-01T10:00:00", "parties": parties}


def typed(records: list[dict], entity=ENTITY) -> pd.DataFrame:
    return normalise(records, entity, ctx())


def test_every_party_is_typed_with_role_type_and_the_same_key_as_party_key():
    row = typed([record([ALICE, BOB])]).iloc[0]
    assert pd.isna(row["_parse_errors"])
    keyer = PartyKeyer(KEY)
    assert json.loads(row["parties"]) == [
        {"role": "applicant", "party_type": "person", "party_key": keyer(ALICE["idNo"])},
        {"role": "respondent", "party_type": "org", "party_key": keyer(BOB["idNo"])}]
    # the one keyed HMAC: the list's first key is the single party_key of the same ID
    assert json.loads(row["parties"])[0]["party_key"] == row["party_key"]


def test_no_name_id_number_or_phone_survives():
    frame = typed([record([ALICE, BOB]), record("[1, {}]"), record([{**ALICE, "role": "张三"}])])
    text = frame.to_json(force_ascii=False, date_format="iso")
    for p in (ALICE, BOB):
        for k in ("name", "idNo", "phone"):
            assert p[k] not in text and p[k].lower() not in text


def test_a_courts_chinese_keyed_list_and_a_list_in_one_csv_cell():
    court = [{"诉讼地位": "原告", "当事人类型": "自然人", "姓名": "张三", "证件号码": ALICE["idNo"]},
             {"诉讼地位": "被告", "当事人类型": "非法人组织", "姓名": "某某合伙", "证件号码": BOB["idNo"]}]
    frame = typed([{"ajbh": "C1", "gxsj": "2022-03-01", "当事人": court},
                   {"ajbh": "C2", "gxsj": "2022-03-01", "当事人": json.dumps(court, ensure_ascii=False)}], COURT)
    assert frame["_parse_errors"].isna().all()
    assert frame["parties"][0] == frame["parties"][1]
    assert [p["role"] for p in json.loads(frame["parties"][0])] == ["plaintiff", "defendant"]


def test_a_party_without_id_is_kept_unkeyed_and_ids_are_normalised_like_party_key():
    parties, why = party_list([{"role": "被申请人", "type": "自然人"}, {**ALICE, "idNo": None},
                               {**ALICE, "idNo": "  "}, {**ALICE, "idNo": "３３０１０５-19900307123x"}],
                              ENTITY.fields[2], ctx())
    assert why is None
    assert [p["party_key"] for p in parties[:3]] == [None, None, None]
    assert parties[3]["party_key"] == PartyKeyer(KEY)(ALICE["idNo"])


def test_absent_null_blank_and_empty_lists():
    frame = typed([record(None), {"ajbh": "T2", "gxsj": "2022-03-01"}, record(" "), record([]), record("null")])
    assert frame["_parse_errors"].isna().all()
    assert list(frame["parties"]) == [None, None, None, "[]", None]


@pytest.mark.parametrize("parties, says", [
    ({"role": "申请人"}, "dict where a list of parties is expected"),
    (42, "int where a list of parties is expected"),
    ("张三 33010519900307123X", "text that is not a JSON list of parties"),
    ("[" * 100000, "text that is not a JSON list of parties"),                 # hostile nesting: no crash
    ([ALICE, "张三"], "party 1: a JSON str where a party object is expected"),
    ([ALICE, [BOB]], "party 1: a JSON list where a party object is expected"),
    ([{**ALICE, "role": "证人"}], "party 0: role not one of 申请人/被申请人"),
    ([{**ALICE, "role": None}], "party 0: role missing"),
    ([{k: v for k, v in ALICE.items() if k != "role"}], "party 0: role missing"),
    ([{**ALICE, "role": ["申请人"]}], "party 0: role not one of"),
    ([BOB, {**ALICE, "type": "个体户"}], "party 1: type not one of 自然人/法人/非法人组织"),
    ([{**ALICE, "idNo": {"_unrepresentable": "x"}}], "party 0: ID number not text"),
    ([{**ALICE, "idNo": 3.3e17}], "party 0: ID number not text"),
    ({"_unrepresentable": "\"\\u0000\""}, "a value PostgreSQL cannot hold"),
])
def test_a_bad_list_is_an_unparseable_value_naming_the_party_never_a_value(parties, says):
    row = typed([record(parties)]).iloc[0]
    assert pd.isna(row["parties"])
    assert says in row["_parse_errors"] and row["_parse_errors"].startswith("parties: ")
    for value in ("张三", "证人", "个体户", ALICE["idNo"]):
        assert value not in row["_parse_errors"]


def test_the_spec_and_schema_hold_the_options_to_the_type():
    with pytest.raises(SpecError, match="needs role and id"):
        spec({"parties": {k: v for k, v in PARTIES.items() if k != "id"}})
    with pytest.raises(SpecError, match="options only"):
        spec({"party_type": {"from": "parties.0.type", "type": "text", "role": PARTIES["role"]}})
    doc = {"from": "p", "type": "parties", "id": "idNo", "role": {"from": "role", "map": {"申请人": "hero"}}}
    wrapper = {"$schema": "x", "source": "s", "connection": "c", "transport": {"kind": "sql"},
               "schedule": {"cron": "0 0 * * *", "timezone": "Asia/Shanghai", "start_date": "2020-01-01"},
               "entities": {"e": {"path": "p", "key": "k", "updated_at": "u", "table": "t", "natural_key": "k",
                                  "suite": "s", "fields": {"k": {"from": "k", "type": "text"},
                                                           "u": {"from": "u", "type": "timestamp"}, "p": doc}}}}
    with pytest.raises(DocumentError, match="hero"):
        validate_document(wrapper, "source-spec", "test.yaml")
    doc["role"]["map"] = ROLES
    validate_document(wrapper, "source-spec", "test.yaml")


def test_party_lists_never_reach_a_list_view_and_every_parties_field_reaches_record_party():
    from yhlaw import mart_views

    assert "parties" not in mart_views.listed_columns(ENTITY) and "party_key" not in mart_views.listed_columns(ENTITY)
    assert "parties" not in mart_views.column_labels(ENTITY)
    text = repr(mart_views.record_party_view_sql([ENTITY, COURT]))
    assert text.count("jsonb_array_elements") == 2 and text.count("UNION ALL") == 1
    assert "WHERE false" in repr(mart_views.record_party_view_sql([spec({})]))


# -- in the warehouse -----------------------------------------------------------------------------

BATCH = "mediation.case.parties-test"


def _records() -> list:
    """Clean lists (typed in SQL), lists SQL leaves to Python (padding, full-width IDs, a list in a
    text cell, a numeric ID) and bad ones (quarantined): both passes must agree on every one."""
    odd = [{**ALICE, "role": " 申请人"}, {**BOB, "idNo": "91330110-MA2AAAAA1X"}]
    return [record([ALICE, BOB], 1), record([BOB], 2), record([], 3), record(None, 4),
            record([{"role": "被申请人", "type": "法人"}, {**ALICE, "idNo": None}], 5),
            record(odd, 6), record(json.dumps([ALICE], ensure_ascii=False), 7),
            record([{**ALICE, "idNo": 330105199003071234}], 8),
            record([ALICE, "x"], 9), record({"role": "申请人"}, 10), record([{**ALICE, "role": "证人"}], 11),
            record([{**ALICE, "type": "个体户"}], 12), record(17, 13), record("[[[", 14),
            record([{**ALICE, "idNo": {"a": 1}}], 15), record([{**ALICE, "idNo": "Ｘ" * 70}], 16),
            {"ajbh": "T17", "gxsj": "2022-03-01T10:00:00"}, "not an object",
            record(json.dumps([ALICE, BOB], ensure_ascii=False), 19), record("[" * 5000, 20),
            record("[1, 2", 21), record("", 22), record('"[]"', 23)]


def _type(cur, sql_typing: bool):
    from yhlaw import conform

    conform.type_batch(cur, ENTITY, BATCH, ctx(), chunk_rows=100, sql_typing=sql_typing)
    cols = ["seq", *ENTITY.columns, "_parse_errors"]
    cur.execute(sql.SQL("SELECT {}, _fast FROM pg_temp.{} ORDER BY seq").format(
        sql.SQL(", ").join(map(sql.Identifier, cols)), sql.Identifier(f"typed_{TABLE}")))
    return cur.fetchall()


def by_seq_of(rows: list[tuple]) -> dict[int, tuple]:
    return {r[0]: r for r in rows}


def test_typing_in_sql_equals_normalise(settings, warehouse):
    """The same batch typed as validation does (SQL where it vouches) and all in Python: equal row
    for row; the clean lists typed in SQL, the others left to Python."""
    from yhlaw.warehouse import transaction

    records = _records()
    with transaction(settings.admin_url) as conn, conn.cursor() as cur:
        cur.execute(sql.SQL("CREATE TABLE staging.{} (batch_id text, case_no text, party_key char(64), "
                            "parties jsonb, source_updated_at timestamptz, record_hash text)").format(sql.Identifier(TABLE)))
        cur.execute("""INSERT INTO raw.batch (batch_id, source, entity, interval_start, interval_end, query_since,
                                              record_count, content_sha256)
                       VALUES (%s, 'mediation', 'case', '2022-03-01', '2022-03-02', '2022-03-01', %s, 'x')""",
                    (BATCH, len(records)))
        for seq, r in enumerate(records):
            payload = json.dumps(r, ensure_ascii=False)
            cur.execute("INSERT INTO raw.record (batch_id, seq, payload, payload_md5) VALUES (%s, %s, %s, %s)",
                        (BATCH, seq, payload, hashlib.md5(payload.encode()).hexdigest()))
        fast_rows = _type(cur, True)
        slow_rows = _type(cur, False)
        conn.rollback()
    assert [r[:-1] for r in fast_rows] == [r[:-1] for r in slow_rows]
    fast = {r[0] for r in fast_rows if r[-1]}
    assert fast == {0, 1, 2, 3, 4, 6, 16, 18}, fast             # the clean lists (in a text cell too), absent ones
    assert by_seq_of(slow_rows)[18][3] == by_seq_of(slow_rows)[0][3]
    by_seq = by_seq_of(slow_rows)
    assert by_seq[0][3] == [{"role": "applicant", "party_type": "person", "party_key": PartyKeyer(KEY)(ALICE["idNo"])},
                            {"role": "respondent", "party_type": "org", "party_key": PartyKeyer(KEY)(BOB["idNo"])}]
    assert by_seq[0][2] == by_seq[0][3][0]["party_key"]         # SQL's HMAC is Python's
    assert by_seq[5][3] == by_seq[0][3] and by_seq[6][3] == by_seq[0][3][:1]
    assert by_seq[7][3][0]["party_key"] == PartyKeyer(KEY)("330105199003071234")
    assert len(by_seq[15][3][0]["party_key"]) == 64
    bad = {s for s, r in by_seq.items() if r[5] and "parties:" in r[5]}
    assert bad == {*range(8, 15), 19, 20, 22}, bad              # "" is absent, a JSON string of a list is not a list
    assert by_seq[17][5].startswith("record: ")


def test_record_party_is_generated_readable_by_analyst_not_by_dashboard(warehouse):
    from yhlaw.settings import with_user
    from yhlaw.warehouse import transaction

    with transaction(with_user(warehouse, "analyst")) as conn, conn.cursor() as cur:
        cur.execute("SELECT source, entity, core_table, parties_column, natural_key, party_no, role, party_type, "
                    "party_key FROM core.record_party LIMIT 1")
        cur.execute("SELECT obj_description('core.record_party'::regclass)")
        assert "不含姓名" in cur.fetchone()[0]
    with pytest.raises(psycopg2.errors.InsufficientPrivilege):
        with transaction(with_user(warehouse, "dashboard")) as conn, conn.cursor() as cur:
            cur.execute("SELECT count(*) FROM core.record_party")
