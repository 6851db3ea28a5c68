"""Mart views generated from the source specs at set-up, so that a new source reaches the cockpit
with its spec alone:

* ``mart.list_<table>``: the records of ``core.<table>`` as the cockpit may list them behind a
  value (drill-down): every spec field except party keys (``party_key`` type), with the same
  column names as core, so an indicator's ``where`` clauses run against it unchanged; in free
  text other than the natural key, runs of 11+ digits (an ID or phone number typed by hand) are
  masked.
* ``mart.stale_rows``: per entity, the exact count of core rows whose newest version is
  quarantined, and of all rows (a scan: for analysts);
* ``mart.stale_by_entity``: the same stale count through the partial index on ``stale_since``
  and the table's estimated size (for the cockpit).
* ``core.record_party`` (not a mart: analysts and the linkage read it, dashboards cannot): one row
  per party of every record, from every ``parties`` field (role, type, keyed HMAC; no name or number).
* ``mart.quarantine_by_town``: one row per quarantined record and reason, with the 镇街 read from
  the record's own town field (the spec's ``town`` field, resolved through ``core.town_alias``)
  where it can be, and nothing of the payload.

``apply_mart_views(conn)`` replaces them in the caller's transaction (idempotent); the role
``dashboard`` reads them through the mart schema's default privileges.
"""

from __future__ import annotations

import re

from psycopg2 import sql

from yhlaw.spec import Entity, load_spec, source_names

# Identifying, even as an HMAC (a party key, a list of them): never in a list view.
HIDDEN_TYPES = frozenset({"party_key", "parties"})


def list_view_name(table: str) -> str:
    return f"list_{table}"


def listed_columns(entity: Entity) -> list[str]:
    """The columns ``mart.list_<table>`` exposes, in spec order."""
    return [f.name for f in entity.fields if f.type not in HIDDEN_TYPES]


def _entities() -> list[Entity]:
    return [e for s in source_names() for e in load_spec(s).entities.values()]


def entity_for_table(table: str) -> Entity | None:
    """The spec entity loading ``core.<table>`` (``table`` with or without the schema)."""
    name = table.split(".", 1)[-1]
    return next((e for e in _entities() if e.table == name), None)


def column_labels(entity: Entity) -> dict[str, str]:
    """Listed column -> its Chinese label (the spec description up to the first punctuation)."""
    return {f.name: re.split(r"[,，:：(（;；]", f.description, maxsplit=1)[0].strip() or f.name
            for f in entity.fields if f.type not in HIDDEN_TYPES}


# A run of 11 or more digits in free text (an 身份证号, a mobile number typed into a note by a
# clerk) is masked in the list views; no case number, code or date has one.
IDENTIFIER_RUN = "[0-9]{11,}[Xx]?"
MASK = "＊＊＊"


def masked(expr: sql.Composable) -> sql.Composable:
    return sql.SQL("regexp_replace({}, {}, {}, 'g')").format(expr, sql.Literal(IDENTIFIER_RUN), sql.Literal(MASK))


def _listed(entity: Entity, field) -> sql.Composable:
    col = sql.Identifier(field.name)
    if field.type == "text" and field.name != entity.natural_key:
        return sql.SQL("{} AS {}").format(masked(col), col)
    return col


def list_view_sql(entity: Entity) -> sql.Composable:
    cols = sql.SQL(", ").join(_listed(entity, f) for f in entity.fields if f.type not in HIDDEN_TYPES)
    return sql.SQL("CREATE VIEW mart.{view} AS SELECT {cols}, stale_since FROM core.{table}").format(
        view=sql.Identifier(list_view_name(entity.table)), cols=cols, table=sql.Identifier(entity.table))


def _town_expr(entity: Entity) -> sql.Composable:
    towns = [f for f in entity.fields if f.type == "town"]
    if not towns:
        return sql.SQL("NULL::text")
    parts = towns[0].source.split(".")
    return sql.SQL("regexp_replace(q.payload #>> {}::text[], '[[:space:]\u3000]', '', 'g')").format(
        sql.Literal(parts))


def stale_view_sql(entities: list[Entity]) -> sql.Composable:
    """Per entity: rows whose newest version is quarantined (through the partial index on
    stale_since), and the table's size as the planner estimates it (no scan)."""
    selects = [sql.SQL("""SELECT {source}::text AS source, {entity}::text AS entity, {name}::text AS core_table,
               (SELECT count(*) FROM core.{table} WHERE stale_since IS NOT NULL) AS stale_rows,
               (SELECT min(stale_since) FROM core.{table} WHERE stale_since IS NOT NULL) AS oldest_stale_since,
               (SELECT greatest(reltuples, 0)::bigint FROM pg_class WHERE oid = {regclass}::regclass) AS rows_estimate""").format(
        source=sql.Literal(e.source), entity=sql.Literal(e.name), name=sql.Literal(e.table),
        table=sql.Identifier(e.table), regclass=sql.Literal(f"core.{e.table}")) for e in entities]
    return sql.SQL("CREATE VIEW mart.stale_by_entity AS\n") + sql.SQL("\nUNION ALL\n").join(selects)


def exact_stale_view_sql(entities: list[Entity]) -> sql.Composable:
    """Per entity: stale rows and all rows, counted exactly (one scan of each core table)."""
    selects = [sql.SQL("""SELECT {source}::text AS source, {entity}::text AS entity, {name}::text AS core_table,
               count(*) FILTER (WHERE stale_since IS NOT NULL) AS stale_rows, count(*) AS rows,
               min(stale_since) AS oldest_stale_since FROM core.{table}""").format(
        source=sql.Literal(e.source), entity=sql.Literal(e.name), name=sql.Literal(e.table),
        table=sql.Identifier(e.table)) for e in entities]
    return sql.SQL("CREATE VIEW mart.stale_rows AS\n") + sql.SQL("\nUNION ALL\n").join(selects)


def quarantine_view_sql(entities: list[Entity]) -> sql.Composable:
    selects = [sql.SQL("""SELECT q.batch_id, q.seq, q.source, q.entity, r.reason, a.town_code, b.interval_start,
               q.quarantined_at
        FROM quarantine.record q CROSS JOIN LATERAL unnest(q.reasons) AS r(reason)
        JOIN audit.batch b ON b.batch_id = q.batch_id
        LEFT JOIN core.town_alias a ON a.alias = {town}
        WHERE q.source = {source} AND q.entity = {entity}""").format(
        town=_town_expr(e), source=sql.Literal(e.source), entity=sql.Literal(e.name)) for e in entities]
    return sql.SQL("CREATE VIEW mart.quarantine_by_town AS\n") + sql.SQL("\nUNION ALL\n").join(selects)


def record_party_view_sql(entities: list[Entity]) -> sql.Composable:
    """One row per party of every record, over every spec field of type ``parties`` (a jsonb array
    on the record's core row): what linkage joins on across systems. CREATE OR REPLACE, not DROP:
    the linkage views built on it survive a set-up. No such field yet: the view is empty."""
    selects = [sql.SQL("""SELECT {source}::text AS source, {entity}::text AS entity, {name}::text AS core_table,
               {col}::text AS parties_column, t.{nk}::text AS natural_key, p.n AS party_no, p.e ->> 'role' AS role,
               p.e ->> 'party_type' AS party_type, p.e ->> 'party_key' AS party_key
               FROM core.{table} t CROSS JOIN LATERAL jsonb_array_elements(t.{ident}) WITH ORDINALITY p (e, n)""").format(
        source=sql.Literal(e.source), entity=sql.Literal(e.name), name=sql.Literal(e.table), col=sql.Literal(f.name),
        nk=sql.Identifier(e.natural_key), table=sql.Identifier(e.table), ident=sql.Identifier(f.name))
        for e in entities for f in e.fields if f.type == "parties"]
    empty = sql.SQL("SELECT NULL::text, NULL::text, NULL::text, NULL::text, NULL::text, NULL::bigint, NULL::text, "
                    "NULL::text, NULL::text WHERE false")
    return sql.SQL("CREATE OR REPLACE VIEW core.record_party (source, entity, core_table, parties_column, natural_key, "
                   "party_no, role, party_type, party_key) AS\n") + sql.SQL("\nUNION ALL\n").join(selects or [empty])


RECORD_PARTY_COMMENTS = ("当事人 (由来源规格中 parties 类型字段生成): 每条记录的每个当事人一行, 只有角色、类型和证件号的 HMAC 键, "
                         "不含姓名、证件号、电话; 供跨系统关联 (按 party_key 连接), 看板不可读", {
    "source": "来源", "entity": "实体", "core_table": "记录所在核心层表", "parties_column": "当事人列表所在列",
    "natural_key": "记录的自然键 (核心层表的主键, 文本)", "party_no": "在来源当事人列表中的序号 (从 1 起)",
    "role": "诉讼/调解地位 (规范化): applicant 申请人, respondent 被申请人, plaintiff 原告, defendant 被告, "
            "third_party 第三人, appellant 上诉人, appellee 被上诉人, accused 被告人, petitioner 信访人, "
            "reported 被反映人, enforcement_applicant 申请执行人, enforcement_respondent 被执行人",
    "party_type": "当事人类型: person / org (来源未给出类型时为空)",
    "party_key": "当事人键: 证件号 HMAC-SHA256, 与各来源的 party_key 一致; 来源无证件号时为空 (无法关联)"})


_COMMENTS = {
    "stale_rows": ("数据质量: 各来源、实体的核心层过期行数 (最新版本被隔离, 核心层仍为旧版本), 精确计数 (由来源规格生成)", {
        "source": "来源", "entity": "实体", "core_table": "核心层表", "stale_rows": "过期行数: 有更新版本被隔离的核心行",
        "rows": "核心行总数", "oldest_stale_since": "最早的被隔离新版本的更新时间"}),
    "stale_by_entity": ("数据质量 (看板用): 每个来源实体中最新版本被隔离、核心层仍是旧版本的行数 (精确计数见 mart.stale_rows)", {
        "source": "来源", "entity": "实体", "core_table": "核心表", "stale_rows": "滞后行数 (最新版本被隔离)",
        "oldest_stale_since": "最早的滞后时间", "rows_estimate": "核心表行数 (规划器估计值, 不扫描全表)"}),
    "quarantine_by_town": ("数据质量: 每条隔离记录 × 原因一行, 镇街取自记录自身的镇街字段 (无法识别时为空); 不含载荷", {
        "batch_id": "批次", "seq": "批次内序号", "source": "来源", "entity": "实体", "reason": "隔离原因代码, 见 audit.reason_code",
        "town_code": "记录中的镇街 (经 core.town_alias 识别; 缺失或无法识别为空)",
        "interval_start": "所在批次的抽取区间开始时间 (记录属于哪一天的数据)", "quarantined_at": "隔离时间"}),
}


def _comment(cur, view: str, table_comment: str, columns: dict[str, str]) -> None:
    cur.execute(sql.SQL("COMMENT ON VIEW mart.{} IS {}").format(sql.Identifier(view), sql.Literal(table_comment)))
    for col, text in columns.items():
        cur.execute(sql.SQL("COMMENT ON COLUMN mart.{}.{} IS {}").format(
            sql.Identifier(view), sql.Identifier(col), sql.Literal(text)))


def apply_mart_views(conn) -> list[str]:
    """(Re)create every generated mart view with its comments; returns their names."""
    entities = _entities()
    names = []
    with conn.cursor() as cur:
        for e in entities:
            view = list_view_name(e.table)
            cur.execute(sql.SQL("DROP VIEW IF EXISTS mart.{}").format(sql.Identifier(view)))
            cur.execute(list_view_sql(e))
            docs = {f.name: f.description for f in e.fields if f.type not in HIDDEN_TYPES and f.description}
            docs["stale_since"] = "有更新版本被隔离时, 该版本的更新时间 (为空 = 当前版本最新)"
            _comment(cur, view, f"明细 (看板下钻用): core.{e.table} 的记录, 不含当事人键 — {e.title}", docs)
            names.append(view)
        cur.execute(record_party_view_sql(entities))
        cur.execute(sql.SQL("COMMENT ON VIEW core.record_party IS {}").format(sql.Literal(RECORD_PARTY_COMMENTS[0])))
        for col, text in RECORD_PARTY_COMMENTS[1].items():
            cur.execute(sql.SQL("COMMENT ON COLUMN core.record_party.{} IS {}").format(sql.Identifier(col), sql.Literal(text)))
        names.append("record_party")
        for view, build in (("stale_rows", exact_stale_view_sql), ("stale_by_entity", stale_view_sql),
                            ("quarantine_by_town", quarantine_view_sql)):
            cur.execute(sql.SQL("DROP VIEW IF EXISTS mart.{}").format(sql.Identifier(view)))
            cur.execute(build(entities))
            _comment(cur, view, *_COMMENTS[view])
            names.append(view)
    return names
