"""The declarative files against their JSON Schemas, and the copies generated from the specs
(column comments, docs/sources.md, the suites' code sets) against the specs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from yhlaw import paths
from yhlaw.schemas import SCHEMAS, DocumentError, schema, schema_header, validate_document
from yhlaw.spec import FIELD_TYPES, SpecError, load_spec, source_names

DOCUMENTS = {"source-spec": paths.SPEC_DIR, "indicator": paths.CATALOG_DIR}


def _files(kind: str) -> list[Path]:
    return sorted(DOCUMENTS[kind].glob("*.yaml"))


def _value_sets(suite: str) -> dict[str, list]:
    """column -> value_set of the suite's expect_column_values_to_be_in_set (synthetic _columns left out)."""
    data = json.loads((paths.EXPECTATIONS_DIR / f"{suite}.json").read_text(encoding="utf-8"))
    return {e["kwargs"]["column"]: e["kwargs"]["value_set"] for e in data["expectations"]
            if e["type"] == "expect_column_values_to_be_in_set" and not e["kwargs"]["column"].startswith("_")}


@pytest.mark.parametrize("kind", sorted(SCHEMAS))
def test_every_file_names_its_schema_first_and_validates(kind):
    files = _files(kind)
    assert files
    for path in files:
        text = path.read_text(encoding="utf-8")
        first = next(line for line in text.splitlines() if line.strip() and not line.startswith("#"))
        assert first == f"$schema: {schema_header(kind)}", f"{path.name}: the first key must be the $schema header"
        assert (path.parent / schema_header(kind)).resolve().is_file()
        validate_document(yaml.safe_load(text), kind, path.name)


@pytest.mark.parametrize("kind", sorted(SCHEMAS))
def test_schemas_are_draft_2020_12_and_every_property_is_described(kind):
    from jsonschema import Draft202012Validator

    s = schema(kind)
    Draft202012Validator.check_schema(s)
    assert s["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert s["title"] and s["description"]
    undescribed = []

    def walk(node, where):
        if isinstance(node, dict):
            for name, sub in (node.get("properties") or {}).items():
                if not (isinstance(sub, dict) and sub.get("description")):
                    undescribed.append(f"{where}.properties.{name}")
            for key, sub in node.items():
                if key != "if":                  # conditions test values, they declare nothing
                    walk(sub, f"{where}.{key}")
        elif isinstance(node, list):
            for i, sub in enumerate(node):
                walk(sub, f"{where}[{i}]")
    walk(s, "$")
    assert undescribed == []


def test_schema_code_sets_are_the_ones_the_engine_accepts():
    from yhlaw.indicators import GRAINS
    from yhlaw.readers import SourceConnection, SourceError, open_reader

    spec_defs = schema("source-spec")["$defs"]
    assert set(spec_defs["field"]["properties"]["type"]["enum"]) == FIELD_TYPES
    connection = SourceConnection("http", "localhost", None, "", "", "")
    for kind in spec_defs["transport"]["properties"]["kind"]["enum"]:
        assert open_reader(connection, {"kind": kind, "auth": "api_key_signature"}) is not None
    with pytest.raises(SourceError):
        open_reader(connection, {"kind": "ftp"})
    indicator = schema("indicator")["properties"]
    assert tuple(indicator["grains"]["items"]["enum"]) == GRAINS
    assert set(indicator["direction"]["enum"]) == {"higher", "lower"}
    assert set(indicator["rollup"]["enum"]) == {"sum", "snapshot", "median"}


def test_a_bad_spec_is_refused_with_the_file_and_path(tmp_path, monkeypatch):
    import yhlaw.spec as spec_module

    good = (paths.SPEC_DIR / "courts.yaml").read_text(encoding="utf-8")
    bad = (good.replace("source: courts", "source: planted")
               .replace("cause:                 {from: 案由, type: text", "cause:                 {from: 案由, tpye: text")
               .replace("filed_on:              {from: 立案日期, type: date",
                        "filed_on:              {from: 立案日期, type: money"))
    assert bad.count("tpye") == 1 and bad.count("money") == 1
    (tmp_path / "planted.yaml").write_text(bad, encoding="utf-8")
    monkeypatch.setattr(spec_module, "SPEC_DIR", tmp_path)
    load_spec.cache_clear()
    try:
        with pytest.raises(SpecError) as info:
            load_spec("planted")
    finally:
        load_spec.cache_clear()
    text = str(info.value)
    assert "planted.yaml" in text
    assert "$.entities.case.fields.cause.tpye: unknown key 'tpye' (did you mean 'type'?)" in text
    assert "$.entities.case.fields.cause: missing key 'type'" in text
    assert "$.entities.case.fields.filed_on.type: 'money' is not one of" in text
    assert isinstance(info.value.__cause__, DocumentError)


def test_a_bad_transport_and_schedule_are_refused():
    data = yaml.safe_load((paths.SPEC_DIR / "mediation.yaml").read_text(encoding="utf-8"))
    data["transport"]["pagination"] = "cursor"              # an http setting on a database source
    data["schedule"]["start_date"] = yaml.safe_load("2021-01-01")   # unquoted: a date, not text
    with pytest.raises(DocumentError) as info:
        validate_document(data, "source-spec", "mediation.yaml")
    text = str(info.value)
    assert "mediation.yaml: $.transport.pagination: not allowed here" in text
    assert "mediation.yaml: $.schedule.start_date: datetime.date(2021, 1, 1) is not of type 'string'" in text


def test_a_bad_indicator_is_refused_with_the_file_and_path():
    from yhlaw.indicators import parse_indicator

    data = yaml.safe_load((paths.CATALOG_DIR / "staff_fill_rate.yaml").read_text(encoding="utf-8"))
    data["denominater"] = data.pop("denominator")          # the parser alone reads this as no denominator
    assert parse_indicator(data, "staff_fill_rate.yaml").denominator is None
    data["unit"] = "percent"
    data["numerator"]["active"] = ["as_of", "as_of"]       # both a flow and a stock
    with pytest.raises(DocumentError) as info:
        validate_document(data, "indicator", "staff_fill_rate.yaml")
    text = str(info.value)
    assert "staff_fill_rate.yaml: $.denominater: unknown key 'denominater' (did you mean 'denominator'?)" in text
    assert "staff_fill_rate.yaml: $.unit: 'percent' is not one of" in text
    assert "staff_fill_rate.yaml: $.numerator: give exactly one of 'period' (flow) or 'active' (stock)" in text


def test_known_values_are_the_suites_value_sets():
    checked = 0
    for source in source_names():
        for e in load_spec(source).entities.values():
            sets = _value_sets(e.suite)
            fields = {f.name: f for f in e.fields}
            assert set(sets) <= set(fields), f"{e.suite}.json checks a value set on a column the spec lacks"
            for f in e.fields:
                if f.name in sets:
                    assert list(f.known_values) == sets[f.name], \
                        f"{source}.yaml {e.name}.{f.name}: known_values differ from expectations/{e.suite}.json"
                    checked += 1
                else:
                    assert not f.known_values, \
                        f"{source}.yaml {e.name}.{f.name}: known_values but no value-set check in {e.suite}.json"
    assert checked >= 10


def test_every_spec_field_has_a_description():
    missing = [f"{s}.{e.name}.{f.name}" for s in source_names() for e in load_spec(s).entities.values()
               for f in e.fields if not f.description.strip()]
    assert missing == []


def test_sources_doc_is_current():
    from yhlaw.spec_docs import SOURCES_DOC_PATH, render_sources_doc

    assert SOURCES_DOC_PATH.read_text(encoding="utf-8") == render_sources_doc(), \
        "docs/sources.md is stale: run python -m yhlaw docs (yhlaw.spec_docs.write_sources_doc)"


def test_core_column_comments_are_the_spec_descriptions(settings, warehouse):
    from psycopg2 import sql

    from yhlaw.spec_docs import apply_column_comments, column_descriptions
    from yhlaw.warehouse import transaction

    wanted = column_descriptions()
    with transaction(settings.admin_url) as conn, conn.cursor() as cur:
        cur.execute(sql.SQL("COMMENT ON COLUMN {} IS {}").format(
            sql.Identifier("core", "petition_version", "kind"), sql.Literal("stale")))
    with transaction(settings.admin_url) as conn:
        changed = apply_column_comments(conn)
    assert "core.petition_version.kind" in changed
    with transaction(settings.admin_url) as conn:
        assert apply_column_comments(conn) == [], "a second run changes nothing"
    with transaction(warehouse) as conn, conn.cursor() as cur:
        cur.execute("""SELECT c.relname, a.attname, col_description(c.oid, a.attnum) FROM pg_attribute a
                       JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
                       WHERE n.nspname = 'core' AND c.relkind = 'r' AND a.attnum > 0 AND NOT a.attisdropped""")
        comments = {(t, c): d for t, c, d in cur.fetchall()}
    for (table, column), text in wanted.items():
        assert comments[(table, column)] == text, f"core.{table}.{column}"
        assert comments[(f"{table}_version", column)] == text, f"core.{table}_version.{column}"


def test_a_median_is_over_records_placed_in_months_with_no_denominator():
    from yhlaw.indicators import parse_indicator
    from yhlaw.indicators.definitions import CatalogError

    data = yaml.safe_load((paths.CATALOG_DIR / "enf_avg_days_to_close.yaml").read_text(encoding="utf-8"))
    data["rollup"] = "median"
    with pytest.raises(CatalogError, match="a median is over records placed in months"):
        parse_indicator(data, "enf_avg_days_to_close.yaml")          # it still has a denominator
    data.pop("denominator")
    data["numerator"]["value"] = "extract(epoch FROM closed_at - filed_at) / 86400.0"
    assert parse_indicator(data, "enf_avg_days_to_close.yaml").rollup == "median"
    data["numerator"] = {"from": "core.enforcement_case", "active": ["filed_at", "closed_at"], "value": "1"}
    with pytest.raises(CatalogError, match="a median is over records placed in months"):
        parse_indicator(data, "enf_avg_days_to_close.yaml")          # a stock has no records of a month
