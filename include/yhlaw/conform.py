"""Typing a landed batch inside the warehouse: raw ``jsonb`` -> a typed table of the session.

``normalise`` (Python) defines what every field type means and names every problem. Most source
values are already in a canonical form (an ISO 8601 time, a plain number, a known town code),
and typing those is a cast that PostgreSQL can do where the data is, instead of moving the
batch through Python and back. So a batch is typed in two passes:

1. **In SQL**, one ``INSERT … SELECT`` over ``raw.record`` (``typing_select``). Per field, the
   spec's type gives an *ok* predicate (the value is present and in a form whose typed value is
   beyond doubt, and about which ``normalise`` would have nothing to say) and the typed value.
   A record is typed here only if every field is absent or ok and none of its dates is after
   its update time or the batch's interval end. The predicates are deliberately narrow:
   anything unusual is not ok, so SQL never has to explain a problem.
2. **In Python**, every other record (the dirt, other formats, unknown towns, text with odd
   white space or characters mojibake is made of) goes through ``normalise``, which types it
   and names what is wrong in the helper columns, as before.

Both passes must give the same row for a record that SQL types: ``type_batch(sql_typing=False)``
types everything in Python, and the tests compare the two over every record of the bad-input
corpus and of what the simulators serve (``tests/conftest.py::type_both_ways``).

The result is the session's temporary table ``pg_temp.typed_<table>``: ``seq``, the spec's
columns, the helper columns the suite reads, the batch flags ``_duplicate``/``_conflict`` and
``_fast`` (true: typed in SQL). No other session sees it; ``publish`` moves the outcome to
staging and quarantine in the validation's one publishing transaction.
"""

from __future__ import annotations

import io
import json
from datetime import datetime
from typing import Iterable

import pandas as pd
from psycopg2 import sql

from yhlaw import store
from yhlaw.normalise import (DEFAULT_MAX_TEXT_LENGTH, FALSE_VALUES, FUTURE_TOLERANCE, HELPER_COLUMNS,
                             SNAPSHOT_TRANSPORTS, TRUE_VALUES, Context, _MOJIBAKE_CANDIDATE, normalise)
from yhlaw.spec import Entity, Field, load_spec
from yhlaw.zone import DISTRICT_TZ

# Dates and times typed in SQL have one of these shapes (digits shown as 0): ISO 8601 with an
# offset, "Z" or none (local time), to the second, or a date alone; anything else (fractions,
# other separators, other formats) is left to normalise.
_MOMENT_SHAPES = ("0000-00-00T00:00:00+00:00", "0000-00-00T00:00:00-00:00", "0000-00-00T00:00:00Z",
                  "0000-00-00T00:00:00", "0000-00-00 00:00:00", "0000-00-00")
_DECIMAL_RE = r"^-?[0-9]{1,12}(\.[0-9]{1,2})?$"
_INTEGER_RE = r"^-?[0-9]{1,15}$"
# ASCII letters and digits, at most _PARTY_MAX_LENGTH of them: as a length test plus an unbounded
# class (PostgreSQL's regex engine expands a bounded repeat like {1,64} into that many states:
# 0.35 s per 100k values instead of 0.05 s).
_PARTY_RE = r"^[0-9A-Za-z]+$"
_PARTY_MAX_LENGTH = 64
# Characters Python's str.strip()/split() may treat as white space, and other invisible ones. A
# record's text fields are joined by _SEP and checked by one expression: text that begins or
# ends with one of these, or holds a character mojibake is made of, is left to normalise.
_SPACE = r"[\x01-\x20\x7f-\xa0\u1680\u180e\u2000-\u200f\u2028-\u202f\u205f-\u2064\u3000\ufeff]"
_SEP = "\ue000"
_TEXTS_SUSPECT_RE = f"(^|{_SEP}){_SPACE}|{_SPACE}({_SEP}|$)|{_MOJIBAKE_CANDIDATE.pattern}"
LOCAL_ZONE = DISTRICT_TZ
TYPED_PREFIX = "typed_"
# Batch flags of the typed table (computed over the raw batch in ``typing_select``) -> the
# quarantine reason of the suite rule that requires them false.
FLAG_REASONS = {"_duplicate": "duplicate_record", "_conflict": "conflicting_duplicate"}
# Found when the batch is published, against the versions already stored.
PUBLISH_REASONS = {"changed_version": "changed_without_new_update_time"}


def typed_table_name(entity: Entity) -> str:
    return TYPED_PREFIX + entity.table


def typed_table(entity: Entity) -> sql.Composable:
    return sql.Identifier(typed_table_name(entity))


def town_fields(entity: Entity) -> list[Field]:
    return [f for f in entity.fields if f.type == "town"]


def helper_columns(entity: Entity) -> list[str]:
    return [*HELPER_COLUMNS, *(f"_{f.name}_status" for f in town_fields(entity)), *FLAG_REASONS]


def _path(f: Field) -> sql.Composable:
    """``get_path`` in SQL: a numeric part indexes a list, any other part reads an object key."""
    parts = f.source.split(".")
    if len(parts) == 1:
        return sql.SQL("(r.payload -> {})").format(sql.Literal(parts[0]))
    return sql.SQL("(r.payload #> {}::text[])").format(sql.Literal(parts))


def _stage_map(f: Field) -> sql.Composable:
    """The field's list of stage items as an object: stage name -> its first item (normalise's
    ``_stage_time`` takes the first item whose ``list_key`` equals the stage)."""
    key = sql.Literal(f.options.get("list_key", "stage"))
    return sql.SQL(
        "CASE WHEN jsonb_typeof({v}) = 'array' THEN (SELECT jsonb_object_agg(e ->> {key}, e ORDER BY o DESC) "
        "FROM jsonb_array_elements({v}) WITH ORDINALITY x (e, o) "
        "WHERE jsonb_typeof(e) = 'object' AND jsonb_typeof(e -> {key}) = 'string') END").format(v=_path(f), key=key)


def _stage_key(f: Field) -> tuple[str, str]:
    return f.source, f.options.get("list_key", "stage")


def _moment_ok(t: sql.Composable) -> sql.Composable:
    """Whether text ``t`` (a jsonb string) is an ISO date or time of a shape typed here, on the
    calendar, in 2001-2048 (well inside normalise.PLAUSIBLE_DATES whatever the zone)."""
    shapes = sql.SQL(", ").join(map(sql.Literal, _MOMENT_SHAPES))
    return sql.SQL(
        "CASE WHEN translate({t}, '123456789', '000000000') IN ({shapes}) THEN"
        " substr({t}, 1, 4)::int BETWEEN 2001 AND 2048 AND substr({t}, 6, 2)::int BETWEEN 1 AND 12"
        " AND substr({t}, 9, 2)::int BETWEEN 1 AND (CASE substr({t}, 6, 2) WHEN '02' THEN"
        " 28 + (mod(substr({t}, 1, 4)::int, 4) = 0)::int WHEN '04' THEN 30 WHEN '06' THEN 30 WHEN '09' THEN 30"
        " WHEN '11' THEN 30 ELSE 31 END)"
        " AND (length({t}) = 10 OR (substr({t}, 12, 2)::int <= 23 AND substr({t}, 15, 2)::int <= 59"
        " AND substr({t}, 18, 2)::int <= 59))"
        " AND (length({t}) <> 25 OR (substr({t}, 21, 2)::int <= 14 AND substr({t}, 24, 2)::int <= 59))"
        " ELSE false END").format(t=t, shapes=shapes)


def _text_value(t: sql.Composable, f: Field) -> sql.Composable:
    return _mapped(t, f.options.get("map") or {})


def _mapped(t: sql.Composable, mapping: dict) -> sql.Composable:
    if not mapping:
        return t
    whens = sql.SQL(" ").join(sql.SQL("WHEN {} THEN {}").format(sql.Literal(k), sql.Literal(v))
                              for k, v in mapping.items())
    return sql.SQL("CASE {t} {whens} ELSE {t} END").format(t=t, whens=whens)


def _is_string(v: sql.Composable) -> sql.Composable:
    return sql.SQL("jsonb_typeof({}) = 'string'").format(v)


def _moment_sql(f: Field, v: sql.Composable, t: sql.Composable) -> tuple[sql.Composable, sql.Composable]:
    """``timestamp`` and ``stage_time``: with an offset or "Z" as given, else a local time."""
    return (sql.SQL("({} AND {})").format(_is_string(v), _moment_ok(t)),
            sql.SQL("CASE WHEN length({t}) IN (20, 25) THEN {t}::timestamptz "
                    "ELSE {t}::timestamp AT TIME ZONE {zone} END").format(t=t, zone=sql.Literal(LOCAL_ZONE)))


def _date_sql(f: Field, v: sql.Composable, t: sql.Composable) -> tuple[sql.Composable, sql.Composable]:
    return (sql.SQL("({} AND length({}) = 10 AND {})").format(_is_string(v), t, _moment_ok(t)),
            sql.SQL("{}::date").format(t))


def _text_sql(f: Field, v: sql.Composable, t: sql.Composable) -> tuple[sql.Composable, sql.Composable]:
    limit = int(f.options.get("max_length", DEFAULT_MAX_TEXT_LENGTH))
    return (sql.SQL("({} AND char_length({}) <= {})").format(_is_string(v), t, sql.Literal(limit)),
            _text_value(sql.SQL("NULLIF({}, '')").format(t), f))


def _number_sql(f: Field, v: sql.Composable, t: sql.Composable) -> tuple[sql.Composable, sql.Composable]:
    """``decimal`` and ``integer``: plain digits (a JSON number or a string of one)."""
    pattern = _DECIMAL_RE if f.type == "decimal" else _INTEGER_RE
    return (sql.SQL("(jsonb_typeof({}) IN ('number', 'string') AND {} ~ {})").format(v, t, sql.Literal(pattern)),
            sql.SQL("{}::{}").format(t, sql.SQL("numeric" if f.type == "decimal" else "bigint")))


def _bool_sql(f: Field, v: sql.Composable, t: sql.Composable) -> tuple[sql.Composable, sql.Composable]:
    trues = sorted(x for x in TRUE_VALUES if isinstance(x, str))
    falses = sorted(x for x in FALSE_VALUES if isinstance(x, str))
    ok = sql.SQL("(jsonb_typeof({v}) = 'boolean' OR (jsonb_typeof({v}) = 'string' AND {t} IN ({tf}))"
                 " OR (jsonb_typeof({v}) = 'number' AND {t} IN ('0', '1')))").format(
        v=v, t=t, tf=sql.SQL(", ").join(map(sql.Literal, trues + falses)))
    value = sql.SQL("({t} IN ({tr}))").format(t=t, tr=sql.SQL(", ").join(map(sql.Literal, [*trues, "true"])))
    return ok, value


def _party_key_sql(f: Field, v: sql.Composable, t: sql.Composable) -> tuple[sql.Composable, sql.Composable]:
    return (sql.SQL("({} AND char_length({}) <= {} AND {} ~ {})").format(
                _is_string(v), t, sql.Literal(_PARTY_MAX_LENGTH), t, sql.Literal(_PARTY_RE)),
            sql.SQL("encode(ext.hmac(convert_to(upper({}), 'UTF8'), (SELECT k FROM pg_temp.pii_key), "
                    "'sha256'), 'hex')").format(t))


def _json_sql(f: Field, v: sql.Composable, t: sql.Composable) -> tuple[sql.Composable, sql.Composable]:
    """Any JSON value but null, without a character mojibake is made of; ``keep``: the list's
    objects reduced to those keys."""
    keep = f.options.get("keep")
    ok = sql.SQL("(jsonb_typeof({}) <> 'null' AND {}::text !~ {})").format(
        v, v, sql.Literal(_MOJIBAKE_CANDIDATE.pattern))
    if not keep:
        return ok, v
    obj = sql.SQL("jsonb_build_object({})").format(sql.SQL(", ").join(
        sql.SQL("{}, e -> {}").format(sql.Literal(k), sql.Literal(k)) for k in keep))
    return ok, sql.SQL(
        "CASE WHEN jsonb_typeof({v}) = 'array' THEN COALESCE((SELECT jsonb_agg(CASE WHEN jsonb_typeof(e) = 'object' "
        "THEN {obj} ELSE e END ORDER BY o) FROM jsonb_array_elements({v}) WITH ORDINALITY x (e, o)), '[]'::jsonb) "
        "ELSE {v} END").format(v=v, obj=obj)


def _party_code_sql(e: sql.Composable, option: dict | None) -> tuple[sql.Composable, sql.Composable]:
    """A party's role or kind: (present as one of the map's source codes, its warehouse code)."""
    if option is None:
        return sql.SQL("true"), sql.SQL("NULL::text")
    k, mapping = sql.Literal(option["from"]), option["map"]
    keys = sql.SQL(", ").join(map(sql.Literal, mapping))
    return (sql.SQL("(jsonb_typeof({e} -> {k}) = 'string' AND {e} ->> {k} IN ({keys}))").format(e=e, k=k, keys=keys),
            _mapped(sql.SQL("({} ->> {})").format(e, k), mapping))


def _parties_sql(f: Field, v: sql.Composable, t: sql.Composable) -> tuple[sql.Composable, sql.Composable]:
    """``parties``: an array of objects whose role (and kind) are source codes of the spec's maps
    and whose ID is absent, null or plain letters and digits (as ``party_key``); each becomes
    {role, party_type, party_key}, in the source's order. A list exported into a CSV/XLSX cell is
    JSON text: parsed by ``pg_temp.jsonb_or_null`` (NULL, not an error, for text that is not JSON).
    Anything else (IDs with separators or full-width digits, padded codes, bad lists) is left to
    normalise. CASE, not AND: jsonb_array_elements fails on a non-array, AND fixes no order."""
    v = sql.SQL("(CASE jsonb_typeof({v}) WHEN 'array' THEN {v} WHEN 'string' THEN pg_temp.jsonb_or_null({v} #>> '{{}}') "
                "END)").format(v=v)
    e, ident = sql.SQL("e"), sql.Literal(f.options["id"])
    role_ok, role = _party_code_sql(e, f.options["role"])
    kind_ok, kind = _party_code_sql(e, f.options.get("kind"))
    id_ok = sql.SQL("(COALESCE(jsonb_typeof(e -> {i}), 'null') = 'null' OR (jsonb_typeof(e -> {i}) = 'string' "
                    "AND char_length(e ->> {i}) <= {n} AND e ->> {i} ~ {re}))").format(
        i=ident, n=sql.Literal(_PARTY_MAX_LENGTH), re=sql.Literal(_PARTY_RE))
    ok = sql.SQL("(CASE WHEN jsonb_typeof({v}) = 'array' THEN NOT EXISTS (SELECT 1 FROM jsonb_array_elements({v}) e "
                 "WHERE NOT COALESCE(jsonb_typeof(e) = 'object' AND {r} AND {k} AND {i}, false)) ELSE false END)").format(
        v=v, r=role_ok, k=kind_ok, i=id_ok)
    key = sql.SQL("CASE WHEN jsonb_typeof(e -> {i}) = 'string' THEN encode(ext.hmac(convert_to(upper(e ->> {i}), "
                  "'UTF8'), (SELECT k FROM pg_temp.pii_key), 'sha256'), 'hex') END").format(i=ident)
    value = sql.SQL("CASE WHEN jsonb_typeof({v}) = 'array' THEN COALESCE((SELECT jsonb_agg(jsonb_build_object("
                    "'role', {r}, 'party_type', {k}, 'party_key', {key}) ORDER BY o) "
                    "FROM jsonb_array_elements({v}) WITH ORDINALITY x (e, o)), '[]'::jsonb) END").format(
        v=v, r=role, k=kind, key=key)
    return ok, value


# Field type -> its (ok, value) in SQL; ``town`` fields are looked up instead (``_town_columns``).
_FIELD_SQL = {"timestamp": _moment_sql, "stage_time": _moment_sql, "date": _date_sql, "text": _text_sql,
              "decimal": _number_sql, "integer": _number_sql, "bool": _bool_sql, "party_key": _party_key_sql,
              "json": _json_sql, "parties": _parties_sql}


def field_sql(f: Field, v: sql.Composable, t: sql.Composable) -> tuple[sql.Composable, sql.Composable]:
    """(ok, value) of one field whose jsonb value is ``v`` and text ``t``: ``ok`` holds when the
    value is present and in a form typed here; ``value`` is its typed value, given ``ok``. A
    record is typed here if each field is absent or ok (``text``: and the record's texts pass
    ``_TEXTS_SUSPECT_RE``)."""
    typed = _FIELD_SQL.get(f.type)
    if typed is None:
        raise ValueError(f"field {f.name}: no SQL typing for type {f.type!r}")
    return typed(f, v, t)


def _stage_maps(fields: list[Field]) -> dict[tuple[str, str], tuple[sql.Composable, sql.Composable]]:
    """One map column per stage list (source and list key) the entity's stage times read:
    (source, list key) -> (its name in x, its expression)."""
    maps: dict[tuple[str, str], tuple[sql.Composable, sql.Composable]] = {}
    for f in fields:
        if f.type == "stage_time" and _stage_key(f) not in maps:
            maps[_stage_key(f)] = (sql.Identifier(f"map{len(maps)}"), _stage_map(f))
    return maps


def _source_columns(fields: list[Field], v: list[sql.Composable],
                    t: list[sql.Composable]) -> tuple[list[sql.Composable], list[sql.Composable]]:
    """Columns of levels x (the stage maps, then every other field's value and text by its path)
    and y0 (each stage time's value and text, from its map)."""
    maps = _stage_maps(fields)
    x_cols = [sql.SQL("{} AS {}").format(expr, name) for name, expr in maps.values()]
    y0_cols = []
    for i, f in enumerate(fields):
        if f.type == "stage_time":
            src = sql.SQL("(x.{} -> {} -> {})").format(maps[_stage_key(f)][0], sql.Literal(f.options["stage"]),
                                                       sql.Literal(f.options.get("time_key", "time")))
            y0_cols.append(sql.SQL("{src} AS {v}, {src} #>> '{{}}' AS {t}").format(src=src, v=v[i], t=t[i]))
        else:
            x_cols.append(sql.SQL("{src} AS {v}, {src} #>> '{{}}' AS {t}").format(src=_path(f), v=v[i], t=t[i]))
    return x_cols, y0_cols


def _town_columns(i: int, f: Field, v: sql.Composable, t: sql.Composable, ok: sql.Composable):
    """A town field: (its join to the session's town aliases, its y columns (code, status, ok),
    its z columns, its status column)."""
    name, alias, status = sql.Identifier(f.name), sql.Identifier(f"town{i}"), sql.Identifier(f"_{f.name}_status")
    join = sql.SQL("LEFT JOIN pg_temp.town_lookup {a} ON {a}.alias = y0.{t}").format(a=alias, t=t)
    checks = [
        sql.SQL("{a}.town_code AS {name}, CASE WHEN y0.{v} IS NULL OR jsonb_typeof(y0.{v}) = 'null' "
                "THEN 'missing' WHEN {a}.alias IS NULL THEN 'unknown' WHEN {a}.in_district "
                "THEN 'current' ELSE 'moved_out' END AS {s}").format(a=alias, name=name, v=v, s=status),
        # found under its exact text (nothing for normalise to remove), or absent
        sql.SQL("(y0.{v} IS NULL OR jsonb_typeof(y0.{v}) = 'null' OR ({a}.alias IS NOT NULL "
                "AND jsonb_typeof(y0.{v}) = 'string')) AS {ok}").format(v=v, a=alias, ok=ok),
    ]
    return join, checks, sql.SQL("y.{}, y.{}").format(name, ok), status


def _value_columns(f: Field, v: sql.Composable, t: sql.Composable, ok: sql.Composable):
    """Any other field: (its y column: whether it is ok, with its value and text; its z columns:
    the typed value and whether the field is ok or absent)."""
    present_ok, _ = field_sql(f, sql.SQL("y0.{}").format(v), sql.SQL("y0.{}").format(t))
    check = sql.SQL("{p} AS {ok}, y0.{v}, y0.{t}").format(v=v, t=t, p=present_ok, ok=ok)
    _, value = field_sql(f, sql.SQL("y.{}").format(v), sql.SQL("y.{}").format(t))
    typed = sql.SQL("CASE WHEN y.{ok} THEN {value} END AS {name}, "
                    "(y.{ok} OR y.{v} IS NULL OR jsonb_typeof(y.{v}) = 'null') AS {ok}").format(
        ok=ok, value=value, name=sql.Identifier(f.name), v=v)
    return check, typed


def _texts_ok(texts: list[sql.Composable]) -> sql.Composable:
    """Whether none of the record's texts begins or ends with white space or holds a character
    mojibake is made of."""
    if not texts:
        return sql.SQL("true")
    return sql.SQL("concat_ws({sep}, {texts}) !~ {re}").format(
        sep=sql.Literal(_SEP), texts=sql.SQL(", ").join(texts), re=sql.Literal(_TEXTS_SUSPECT_RE))


def _check_columns(fields: list[Field], v: list[sql.Composable], t: list[sql.Composable],
                   ok: list[sql.Composable]) -> dict[str, list[sql.Composable]]:
    """Per level, what each field adds: y checks, z columns, town joins and statuses, and the
    texts checked together."""
    out: dict[str, list[sql.Composable]] = {"y_checks": [], "z_cols": [], "joins": [], "statuses": [], "texts": []}
    for i, f in enumerate(fields):
        if f.type == "town":
            join, checks, typed, status = _town_columns(i, f, v[i], t[i], ok[i])
            out["joins"].append(join)
            out["y_checks"].extend(checks)
            out["statuses"].append(status)
        else:
            check, typed = _value_columns(f, v[i], t[i], ok[i])
            out["y_checks"].append(check)
            if f.type == "text":
                out["texts"].append(sql.SQL("y0.{}").format(t[i]))
        out["z_cols"].append(typed)
    return out


def typing_select(entity: Entity, *, interval_end: datetime | None) -> sql.Composable:
    """SELECT seq, the typed columns, the town statuses, _duplicate, _conflict and _fast (typed
    here and clean) for the records of batch ``%(batch)s`` in raw.

    Nested levels, each kept from being folded into the next (OFFSET 0) so that every path and
    predicate is computed once per record: x the fields' source values (stage lists as a map of
    their first item per stage), y0 the stage times, y whether each value is ok (and the towns),
    z the typed values, and last the batch flags, the future-date rule and ``_fast``.
    ``_conflict`` is false here: ``_flag_conflicts`` sets it once every record is typed."""
    fields = list(entity.fields)
    n = range(len(fields))
    v = [sql.Identifier(f"v{i}") for i in n]
    t = [sql.Identifier(f"t{i}") for i in n]
    ok = [sql.Identifier(f"ok{i}") for i in n]
    ident = sql.Identifier
    x_cols, y_cols = _source_columns(fields, v, t)
    parts = _check_columns(fields, v, t, ok)
    statuses = parts["statuses"]
    texts_ok = _texts_ok(parts["texts"])
    fast = sql.SQL(" AND ").join([sql.SQL("z.is_object"), sql.SQL("z.texts_ok"),
                                  *(sql.SQL("z.{}").format(o) for o in ok), *_not_future(entity, interval_end)])
    return sql.SQL(
        """SELECT z.seq, {cols}, {statuses}
                  row_number() OVER (PARTITION BY z.payload_md5 ORDER BY z.seq) > 1 AS _duplicate,
                  false AS _conflict,
                  COALESCE({fast}, false) AS _fast
           FROM (SELECT y.seq, y.payload_md5, y.is_object, y.texts_ok, {statuses_y} {z_cols}
                 FROM (SELECT y0.seq, y0.payload_md5, y0.is_object, {texts_ok} AS texts_ok, {y_checks}
                       FROM (SELECT x.*, {y0_cols}
                             FROM (SELECT r.seq, r.payload_md5, jsonb_typeof(r.payload) = 'object' AS is_object, {x_cols}
                                   FROM raw.record r WHERE r.batch_id = %(batch)s OFFSET 0) x
                             OFFSET 0) y0 {joins}
                       OFFSET 0) y
                 OFFSET 0) z"""
    ).format(cols=sql.SQL(", ").join(sql.SQL("z.{}").format(ident(c)) for c in entity.columns),
             statuses=sql.SQL("").join(sql.SQL("z.{}, ").format(s) for s in statuses),
             statuses_y=sql.SQL("").join(sql.SQL("y.{}, ").format(s) for s in statuses),
             z_cols=sql.SQL(", ").join(parts["z_cols"]), fast=fast, texts_ok=texts_ok,
             y_checks=sql.SQL(", ").join(parts["y_checks"]), x_cols=sql.SQL(", ").join(x_cols),
             y0_cols=sql.SQL(", ").join(y_cols) if y_cols else sql.SQL("true AS no_stage_times"),
             joins=sql.SQL(" ").join(parts["joins"]))


def _not_future(entity: Entity, interval_end: datetime | None) -> list[sql.Composable]:
    """normalise's future-date rule as predicates over the typed values (``z.<column>``) that hold
    when it has nothing to say."""
    out = []
    tolerance = sql.Literal(f"{int(FUTURE_TOLERANCE.total_seconds())} seconds")
    values = {f.name: sql.SQL("z.{}").format(sql.Identifier(f.name)) for f in entity.fields}
    updated = values[entity.updated_column]
    snapshot = load_spec(entity.source).transport.get("kind") in SNAPSHOT_TRANSPORTS
    for f in entity.fields:
        if f.type not in ("timestamp", "date", "stage_time"):
            continue
        moment = values[f.name]
        if f.type == "date":
            moment = sql.SQL("(({})::timestamp AT TIME ZONE {})").format(moment, sql.Literal(LOCAL_ZONE))
        if f.name != entity.updated_column and not f.source.startswith("_"):
            out.append(sql.SQL("COALESCE(NOT ({} > {} + {}::interval), true)").format(moment, updated, tolerance))
        if interval_end is not None and not snapshot:
            out.append(sql.SQL("COALESCE(NOT ({} > {}::timestamptz + {}::interval), true)").format(
                moment, sql.Literal(interval_end.isoformat()), tolerance))
    return out


def record_hash_sql(entity: Entity) -> sql.Composable:
    """md5 of the typed values (text form, NULL as \\N, joined by U+001F): equal content, equal hash,
    whatever the source's formatting; computed where the typed rows are."""
    parts = sql.SQL(", ").join(sql.SQL("COALESCE({}::text, '\\N')").format(sql.Identifier(c)) for c in entity.columns)
    return sql.SQL("md5(concat_ws(chr(31), {}))").format(parts)


def type_batch(cur, entity: Entity, batch_id: str, ctx: Context, *, chunk_rows: int,
               sql_typing: bool = True) -> dict[str, int]:
    """Fill ``pg_temp.typed_<table>`` with the batch's records, typed (see the module docstring).
    ``sql_typing=False`` types every record in Python (for tests that compare the two passes)."""
    typed = typed_table(entity)
    _prepare_session(cur, entity, ctx)
    columns = ["seq", *entity.columns, *helper_columns(entity)]
    # JIT compiling this statement's hundreds of expressions costs more than it saves, and for a
    # small batch (most daily ones) it is nearly all of the time.
    cur.execute("SET LOCAL jit = off")
    cur.execute("SET LOCAL work_mem = '256MB'")      # the batch flags' sorts stay in memory
    cur.execute(sql.SQL("INSERT INTO pg_temp.{t} ({cols}, _fast) {select}").format(
        t=typed, cols=sql.SQL(", ").join(map(sql.Identifier, [c for c in columns if c not in HELPER_COLUMNS])),
        select=typing_select(entity, interval_end=ctx.interval_end)), {"batch": batch_id})
    total = cur.rowcount
    if not sql_typing:
        cur.execute(sql.SQL("UPDATE pg_temp.{} SET _fast = false").format(typed))
    cur.execute(sql.SQL("SELECT count(*) FROM pg_temp.{} WHERE NOT _fast").format(typed))
    slow = cur.fetchone()[0]
    if slow:
        for chunk in _slow_chunks(cur.connection, entity, batch_id, chunk_rows):
            records = [json.loads(p) for p in chunk["payload"]]
            frame = normalise(records, entity, ctx)
            frame["seq"] = chunk["seq"].to_numpy()
            frame["_duplicate"] = chunk["_duplicate"].to_numpy()
            frame["_conflict"] = chunk["_conflict"].to_numpy()
            cur.execute(sql.SQL("DELETE FROM pg_temp.{} WHERE seq = ANY(%s)").format(typed), (chunk["seq"].tolist(),))
            store.copy_frame(cur, sql.SQL("pg_temp.{}").format(typed), columns, frame)
    _flag_conflicts(cur, entity, batch_id)
    _date_former_towns(cur, entity)
    cur.execute(sql.SQL("ANALYZE pg_temp.{}").format(typed))   # no autovacuum for temporary tables
    return {"records": total, "typed_in_sql": total - slow, "typed_in_python": slow}


def _date_former_towns(cur, entity: Entity) -> None:
    """A 镇街 that has left the district (core.dim_town.left_on) is the old district's history in
    a record dated before it left: status ``former`` (loaded; the marts count only current 镇街)
    instead of ``moved_out`` (quarantined as town_out_of_district). Dated by ``entity.dated_by``
    (a local date for a timestamp); an undated entity or record keeps ``moved_out``."""
    if entity.dated_by is None:
        return
    dated = next(f for f in entity.fields if f.name == entity.dated_by)
    day = sql.SQL("(t.{} AT TIME ZONE {})::date").format(sql.Identifier(dated.name), sql.Literal(LOCAL_ZONE)) \
        if dated.type in ("timestamp", "stage_time") else sql.SQL("t.{}").format(sql.Identifier(dated.name))
    for f in town_fields(entity):
        status = sql.Identifier(f"_{f.name}_status")
        cur.execute(sql.SQL(
            """UPDATE pg_temp.{typed} t SET {status} = 'former'
               FROM core.dim_town d
               WHERE t.{status} = 'moved_out' AND d.town_code = t.{town} AND d.left_on IS NOT NULL
                 AND {day} < d.left_on""").format(
            typed=typed_table(entity), status=status, town=sql.Identifier(f.name), day=day))


def _flag_conflicts(cur, entity: Entity, batch_id: str) -> None:
    """``_conflict``: records with the same key and update time *as stored* (the final typed key,
    trimmed, and the update time as an instant; the text as received where a value could not be
    typed) but other content. Set once every record is typed, in SQL or in Python (a key with
    padding SQL leaves to Python is the same key once trimmed): neither may replace the other
    unseen."""
    cur.execute(sql.SQL(
        """WITH f AS (
               SELECT t.seq, r.payload_md5, COALESCE(t.{nk}, r.payload ->> {key}) AS k, t.{upd} AS u,
                      CASE WHEN t.{upd} IS NULL THEN r.payload ->> {upd_key} END AS u_text
               FROM pg_temp.{typed} t JOIN raw.record r ON r.batch_id = %s AND r.seq = t.seq),
           c AS (
               SELECT seq, k IS NOT NULL AND min(payload_md5) OVER w IS DISTINCT FROM max(payload_md5) OVER w AS conflict
               FROM f WINDOW w AS (PARTITION BY k, u, u_text))
           UPDATE pg_temp.{typed} t SET _conflict = c.conflict
           FROM c WHERE c.seq = t.seq AND t._conflict IS DISTINCT FROM c.conflict""").format(
        nk=sql.Identifier(entity.natural_key), upd=sql.Identifier(entity.updated_column),
        key=sql.Literal(entity.key), upd_key=sql.Literal(entity.updated_at), typed=typed_table(entity)), (batch_id,))


def _prepare_session(cur, entity: Entity, ctx: Context) -> None:
    """The session's typed table (emptied), the town aliases and the PII key. The key goes in by
    COPY into a temporary table: never into a statement's text, which logs and pg_stat_activity
    would show."""
    typed = typed_table(entity)
    cur.execute(sql.SQL("DROP TABLE IF EXISTS pg_temp.{}").format(typed))
    cur.execute(sql.SQL("CREATE TEMP TABLE {t} AS SELECT NULL::int AS seq, {cols} FROM {staging} WITH NO DATA").format(
        t=typed, cols=sql.SQL(", ").join(map(sql.Identifier, entity.columns)), staging=store.staging_table(entity)))
    helpers = [sql.SQL("ADD COLUMN {} {}").format(sql.Identifier(c), sql.SQL(
        "boolean" if c in FLAG_REASONS else "text")) for c in helper_columns(entity)]
    # Numbers wide enough for any value the typing reads: a value out of the column's range is
    # the suite's to find (amount_out_of_range, count_out_of_range), not a failed insert.
    widened = [sql.SQL("ALTER COLUMN {} TYPE {}").format(sql.Identifier(f.name), sql.SQL(
        "numeric" if f.type == "decimal" else "numeric(20)")) for f in entity.fields if f.type in ("decimal", "integer")]
    cur.execute(sql.SQL("ALTER TABLE pg_temp.{} ADD PRIMARY KEY (seq), ADD COLUMN _fast boolean, {}").format(
        typed, sql.SQL(", ").join(helpers + widened)))
    cur.execute("DROP TABLE IF EXISTS pg_temp.bad_rows")
    cur.execute("CREATE TEMP TABLE bad_rows (seq int PRIMARY KEY, reasons text[], details jsonb)")
    cur.execute("DROP TABLE IF EXISTS pg_temp.town_lookup")
    cur.execute("CREATE TEMP TABLE town_lookup (alias text PRIMARY KEY, town_code char(12), in_district boolean)")
    rows = "".join(f"{_copy_text(a)}\t{c}\t{'t' if d else 'f'}\n" for a, (c, d) in ctx.towns.aliases.items())
    _copy_in(cur, "town_lookup", rows)
    # A party list in a CSV/XLSX cell is JSON text; a cast would fail the statement on bad text.
    cur.execute("CREATE OR REPLACE FUNCTION pg_temp.jsonb_or_null(t text) RETURNS jsonb LANGUAGE plpgsql IMMUTABLE "
                "AS 'BEGIN RETURN t::jsonb; EXCEPTION WHEN others THEN RETURN NULL; END'")
    cur.execute("DROP TABLE IF EXISTS pg_temp.pii_key")
    cur.execute("CREATE TEMP TABLE pii_key (k bytea)")
    _copy_in(cur, "pii_key", "\\\\x" + ctx.party_keyer.key_bytes.hex() + "\n")


def _copy_text(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def _copy_in(cur, temp_table: str, text: str) -> None:
    cur.copy_expert(sql.SQL("COPY {} FROM STDIN").format(sql.Identifier("pg_temp", temp_table)).as_string(cur),
                    io.StringIO(text))


def _slow_chunks(conn, entity: Entity, batch_id: str, chunk_rows: int) -> Iterable[pd.DataFrame]:
    """Raw payloads of the records left to Python, with their batch flags, in seq order."""
    query = sql.SQL("""SELECT r.seq, r.payload::text, t._duplicate, t._conflict
                       FROM pg_temp.{t} t JOIN raw.record r ON r.batch_id = %s AND r.seq = t.seq
                       WHERE NOT t._fast ORDER BY r.seq""").format(t=typed_table(entity))
    with conn.cursor(name=f"slow_{batch_id[-16:]}") as cur:
        cur.itersize = chunk_rows
        cur.execute(query, (batch_id,))
        while True:
            rows = cur.fetchmany(chunk_rows)
            if not rows:
                return
            yield pd.DataFrame(rows, columns=["seq", "payload", "_duplicate", "_conflict"])


def record_failures(cur, bad_rows: dict[int, list[dict]]) -> None:
    """Add records that failed validation (``seq`` -> the failed checks) to the session's
    ``pg_temp.bad_rows``, for ``publish``."""
    lines = []
    for seq, failed in sorted(bad_rows.items()):
        reasons = "{" + ",".join(sorted({d["reason"] for d in failed})) + "}"
        lines.append(f"{seq}\t{_copy_text(reasons)}\t{_copy_text(json.dumps(failed, ensure_ascii=False))}\n")
    if lines:
        _copy_in(cur, "bad_rows", "".join(lines))


def _flag_changed_versions(cur, entity: Entity) -> None:
    """A good record whose key and update time are a version already stored, with other content
    (a file re-delivered corrected under the same name and version, a row edited without moving
    its update column): quarantined, since merging it would silently keep the old version. The
    content compared is what the record says, value by value: not when or how it arrived, and not
    the party keys, which are pseudonyms of what it says under a key (another key is a key
    matter, not a changed record)."""
    typed, ident = typed_table(entity), sql.Identifier
    content = [f.name for f in entity.fields
               if f.name not in entity.provenance_columns and f.type != "party_key"]
    nk, upd = ident(entity.natural_key), ident(entity.updated_column)
    reason = PUBLISH_REASONS["changed_version"]
    cur.execute(sql.SQL(
        """INSERT INTO pg_temp.bad_rows (seq, reasons, details)
           SELECT t.seq, ARRAY[%(reason)s], jsonb_build_array(jsonb_build_object(
                      'reason', %(reason)s, 'check', 'stored_version_unchanged',
                      'columns', jsonb_build_object(%(nk)s, t.{nk}, %(upd)s, t.{upd}),
                      'stored_batch', v.batch_id))
           FROM pg_temp.{typed} t JOIN {versions} v ON v.{nk} = t.{nk} AND v.{upd} = t.{upd}
           WHERE ({t_content}) IS DISTINCT FROM ({v_content})
             AND NOT EXISTS (SELECT 1 FROM pg_temp.bad_rows b WHERE b.seq = t.seq)""").format(
        typed=typed, versions=ident("core", f"{entity.table}_version"), nk=nk, upd=upd,
        t_content=sql.SQL(", ").join(sql.SQL("t.{}").format(ident(c)) for c in content),
        v_content=sql.SQL(", ").join(sql.SQL("v.{}").format(ident(c)) for c in content)),
        {"reason": reason, "nk": entity.natural_key, "upd": entity.updated_column})


def publish(cur, entity: Entity, batch_id: str) -> int:
    """The session's typed batch out to where others see it: good records to staging (with their
    record hash), those in ``pg_temp.bad_rows`` to quarantine with their reasons and raw payload.
    Returns the number quarantined. Runs inside the caller's publishing transaction."""
    typed = typed_table(entity)
    cols = sql.SQL(", ").join(map(sql.Identifier, entity.columns))
    _flag_changed_versions(cur, entity)
    cur.execute("ANALYZE pg_temp.bad_rows")
    cur.execute(sql.SQL("""INSERT INTO {staging} (batch_id, {cols}, record_hash)
                           SELECT %s, {cols}, {hash} FROM pg_temp.{typed} t
                           WHERE NOT EXISTS (SELECT 1 FROM pg_temp.bad_rows b WHERE b.seq = t.seq)""").format(
        staging=store.staging_table(entity), cols=cols, hash=record_hash_sql(entity), typed=typed), (batch_id,))
    # With the key and update time as typing could read them (NULL where it could not): what
    # tells the merge that a core row has a newer version in quarantine.
    cur.execute(sql.SQL("""INSERT INTO quarantine.record (batch_id, seq, source, entity, record_key, reasons, details, payload,
                                                          natural_key, updated_at)
                           SELECT r.batch_id, b.seq, %s, %s, r.payload ->> {key}, b.reasons, b.details, r.payload,
                                  t.{nk}, t.{upd}
                           FROM pg_temp.bad_rows b JOIN raw.record r ON r.batch_id = %s AND r.seq = b.seq
                           LEFT JOIN pg_temp.{typed} t ON t.seq = b.seq""").format(
        key=sql.Literal(entity.key), nk=sql.Identifier(entity.natural_key), upd=sql.Identifier(entity.updated_column),
        typed=typed), (entity.source, entity.name, batch_id))
    quarantined = cur.rowcount
    cur.execute("SELECT count(*) FROM pg_temp.bad_rows")
    failed = cur.fetchone()[0]
    if quarantined != failed:
        raise RuntimeError(f"batch {batch_id}: {failed} records failed validation but {quarantined} reached quarantine")
    return quarantined
