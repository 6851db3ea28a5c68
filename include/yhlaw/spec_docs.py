"""What the source specs say, written where analysts read it: the fields' ``description`` as the
core columns' comments (``apply_column_comments``) and ``docs/sources.md`` (``render_sources_doc``,
``write_sources_doc``). The spec is the one text; a test keeps both copies current."""

from __future__ import annotations

import json
from pathlib import Path

from psycopg2 import sql

from yhlaw.markdown import cell
from yhlaw import paths
from yhlaw.spec import Entity, Field, SourceSpec, load_spec, source_names

SOURCES_DOC_PATH = paths.DOCS_DIR / "sources.md"


def column_descriptions() -> dict[tuple[str, str], str]:
    """(core table, column) -> description, for every spec field that has one."""
    out: dict[tuple[str, str], str] = {}
    for source in source_names():
        for e in load_spec(source).entities.values():
            for f in e.fields:
                if f.description:
                    out[(e.table, f.name)] = f.description
    return out


def apply_column_comments(conn) -> list[str]:
    """``COMMENT ON COLUMN core.<table>.<column>`` (and ``core.<table>_version.<column>`` where
    that table has the column) for every spec field with a description. Idempotent: only comments
    that differ are written (COMMENT takes a lock on the table). Returns the columns changed;
    the caller commits."""
    wanted = column_descriptions()
    tables = sorted({t for t, _ in wanted} | {f"{t}_version" for t, _ in wanted})
    with conn.cursor() as cur:
        cur.execute("""SELECT c.relname, a.attname, col_description(c.oid, a.attnum)
                       FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
                       JOIN pg_namespace n ON n.oid = c.relnamespace
                       WHERE n.nspname = 'core' AND c.relname = ANY(%s) AND a.attnum > 0 AND NOT a.attisdropped""",
                    (tables,))
        current = {(t, c): d for t, c, d in cur.fetchall()}
        missing = sorted(f"core.{t}.{c}" for t, c in wanted if (t, c) not in current)
        if missing:
            raise RuntimeError(f"spec fields without a core column (migrate first, or fix the spec): {missing}")
        changed = []
        for (table, column), text in sorted(wanted.items()):
            for t in (table, f"{table}_version"):
                if (t, column) in current and current[(t, column)] != text:
                    cur.execute(sql.SQL("COMMENT ON COLUMN {}.{} IS {}").format(
                        sql.Identifier("core", t), sql.Identifier(column), sql.Literal(text)))
                    changed.append(f"core.{t}.{column}")
    return changed


# -- docs/sources.md --------------------------------------------------------------------------

_PREAMBLE = [
    "# 数据来源 (Source catalog)", "",
    "Generated from `include/specs/*.yaml` by `python -m yhlaw docs` (`yhlaw.spec_docs.write_sources_doc`);",
    "do not edit by hand (a test compares it with the specs). Each source is one ingest DAG (`ingest_<source>`);",
    "each entity loads `core.<table>` (current state) and `core.<table>_version` (every version).",
    "The descriptions are also the core columns' comments in the warehouse; known values are the",
    "code sets the entity's Great Expectations suite checks: a value outside is recorded as a warning",
    "and the row still loads, unless the column is marked *(else quarantined)*.",
    "",
]


def _code(text: object) -> str:
    return f"`{text}`"


def _transport(spec: SourceSpec) -> str:
    t = dict(spec.transport)
    parts = [_code(t.pop("kind", "http"))]
    parts += [f"{k} {_code(v)}" for k, v in t.items()]
    return ", ".join(parts)


def _schedule(spec: SourceSpec) -> str:
    s = dict(spec.schedule)
    parts = [f"cron {_code(s.pop('cron', ''))}"]
    if "timezone" in s:
        parts[0] += f" ({s.pop('timezone')})"
    parts += [f"{k} {_code(v)}" for k, v in s.items()]
    return ", ".join(parts)


def _type(f: Field) -> str:
    opts = []
    if "stage" in f.options:
        opts.append(f"stage {f.options['stage']}")
    if "keep" in f.options:
        opts.append("keep " + ", ".join(map(str, f.options["keep"])))
    if "map" in f.options:
        opts.append("map " + ", ".join(f"{k}→{v}" for k, v in f.options["map"].items()))
    for k in ("role", "kind"):      # parties: which key, and its codes
        if k in f.options:
            opts.append(f"{k} {f.options[k]['from']}: " + ", ".join(f"{a}→{b}" for a, b in f.options[k]["map"].items()))
    for k in ("list_key", "time_key", "max_length", "id"):
        if k in f.options:
            opts.append(f"{k} {f.options[k]}")
    return f.type + (f" ({'; '.join(opts)})" if opts else "")


def _critical_in_set_columns(suite: str) -> set[str]:
    """Columns whose value-set expectation quarantines the row (severity critical)."""
    data = json.loads((paths.EXPECTATIONS_DIR / f"{suite}.json").read_text(encoding="utf-8"))
    return {x["kwargs"]["column"] for x in data.get("expectations", [])
            if x.get("type") == "expect_column_values_to_be_in_set" and x.get("severity") == "critical"}


def _entity(e: Entity) -> list[str]:
    lines = ["", f"### {e.title} (`{e.name}`)", "",
             f"- Read from: {_code(e.path)}; natural key {_code(e.key)} → {_code(e.natural_key)}; "
             f"update time {_code(e.updated_at)} → {_code(e.updated_column)}",
             f"- Tables: `core.{e.table}`, `core.{e.table}_version`; suite `expectations/{e.suite}.json`"]
    if e.dated_by:
        lines.append(f"- Dated by {_code(e.dated_by)}: a record of a 镇街 that left the district (临平区, "
                     "2021-04-09) dated before it left is the old district's history (loaded, counted in no mart)")
    if e.unmapped:
        lines.append("- Kept in raw only: " + ", ".join(map(_code, e.unmapped)))
    lines += ["", "| column | source path | type | description | known values |", "|---|---|---|---|---|"]
    critical = _critical_in_set_columns(e.suite)
    for f in e.fields:
        known = " / ".join(map(str, f.known_values))
        if known and f.name in critical:
            known += " *(else quarantined)*"
        lines.append(f"| {_code(f.name)} | {_code(cell(f.source))} | {cell(_type(f))} | {cell(f.description)} "
                     f"| {cell(known)} |")
    return lines


def render_sources_doc() -> str:
    lines = list(_PREAMBLE)
    specs = [load_spec(s) for s in source_names()]
    lines += ["| source | 来源 | transport | entities |", "|---|---|---|---|"]
    lines += [f"| [`{s.name}`](#{s.name}) | {cell(s.title)} | `{s.transport.get('kind', 'http')}` | "
              + ", ".join(f"`core.{e.table}`" for e in s.entities.values()) + " |" for s in specs]
    for s in specs:
        lines += ["", f'<a id="{s.name}"></a>', "", f"## {s.title} (`{s.name}`)", "",
                  f"- Spec: `include/specs/{s.name}.yaml`; Airflow connection {_code(s.connection)}",
                  f"- Transport: {_transport(s)}",
                  f"- Schedule: {_schedule(s)}",
                  "- PII (stays in `raw` and `quarantine`, read by `etl` only; `core` has the `party_key` HMAC): "
                  + (", ".join(map(_code, s.pii)) if s.pii else "none")]
        for e in s.entities.values():
            lines += _entity(e)
    return "\n".join(lines) + "\n"


def write_sources_doc() -> Path:
    SOURCES_DOC_PATH.write_text(render_sources_doc(), encoding="utf-8")
    return SOURCES_DOC_PATH
