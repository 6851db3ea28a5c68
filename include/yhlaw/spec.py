"""Source specs: one YAML file per source in ``include/specs/``; the engine reads nothing else.

A spec names the transport (how to reach the system), the schedule, the PII fields, and per
entity: the endpoint, the natural key, the update-time field, the warehouse table, the Great
Expectations suite and the typed fields (core column <- source path, type, and for analysts a
Chinese ``description`` and the ``known_values`` of a code column). ``load_spec`` checks a file
against ``include/schemas/source-spec.schema.json`` first (its ``$schema`` header names it, for
editors; the engine ignores the key), then makes the checks a schema cannot (the natural key and
the update time are mapped fields).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from yhlaw.schemas import DocumentError, validate_document

SPEC_DIR = Path(__file__).resolve().parents[1] / "specs"
FIELD_TYPES = {"text", "decimal", "integer", "bool", "timestamp", "date", "town", "party_key",
               "stage_time", "json", "parties"}
# Columns every core table carries besides the spec's fields.
META_COLUMNS = ("batch_id", "record_hash")
# Columns only core.<table> carries (not its _version history): what the merge keeps about the
# row (stale_since: a newer version of it is in quarantine).
CORE_ONLY_COLUMNS = ("stale_since",)
# Field keys that document the column and do not change how it is typed.
DOC_KEYS = ("description", "known_values")


# 06:15 for a daily interval ending at midnight: before compute_indicators' 06:30 run.
DEFAULT_FRESH_WITHIN_MINUTES = 375


# Transports whose every read returns the whole dataset as it stands (not a window of changes):
# a period before the first loaded interval is complete for them.
SNAPSHOT_TRANSPORTS = frozenset({"ledger_file"})


class SpecError(ValueError):
    """A spec file is malformed; the message names the file and the key."""


@dataclass(frozen=True)
class Field:
    name: str                      # column in staging/core
    source: str                    # dotted path in the source record, e.g. "party.idNo"
    type: str
    options: dict[str, Any] = field(default_factory=dict)
    description: str = ""          # the column comment (Chinese), see yhlaw.spec_docs
    known_values: tuple[Any, ...] = ()   # closed code set, equal to the suite's value_set

    @property
    def root(self) -> str:
        return self.source.split(".", 1)[0]


@dataclass(frozen=True)
class Entity:
    source: str
    name: str
    title: str
    path: str
    key: str                       # natural key, source field name
    updated_at: str                # update-time field, source field name
    table: str                     # core.<table>, core.<table>_version, staging.<table>
    natural_key: str               # natural key, column name
    suite: str                     # expectations/<suite>.json
    fields: tuple[Field, ...]
    unmapped: tuple[str, ...] = ()
    batch_checks: dict[str, Any] = field(default_factory=dict)
    dated_by: str | None = None    # column dating what the record is about (see the schema)

    @property
    def columns(self) -> list[str]:
        return [f.name for f in self.fields]

    @property
    def provenance_columns(self) -> list[str]:
        """Columns that say when and how a version arrived (the update time, reader-added fields
        such as the delivered file), not what the record says."""
        return [f.name for f in self.fields if f.source.startswith("_") or f.source == self.updated_at]

    @property
    def expected_source_fields(self) -> set[str]:
        return {f.root for f in self.fields} | set(self.unmapped)

    @property
    def updated_column(self) -> str:
        for f in self.fields:
            if f.source == self.updated_at:
                return f.name
        raise SpecError(f"{self.source}.{self.name}: no field maps the update time {self.updated_at!r}")

    @property
    def asset_uri(self) -> str:
        """The core table's Asset URI, in the postgres provider's form."""
        from yhlaw.assets import table_uri

        return table_uri("core", self.table)


@dataclass(frozen=True)
class SourceSpec:
    name: str
    title: str
    connection: str
    transport: dict[str, Any]
    schedule: dict[str, Any]
    pii: tuple[str, ...]
    entities: dict[str, Entity]

    @property
    def reads(self) -> str:
        """snapshot (every read is the whole dataset) or window (the changes in an interval)."""
        return "snapshot" if self.transport.get("kind") in SNAPSHOT_TRANSPORTS else "window"

    @property
    def overlap_minutes(self) -> int:
        return int(self.schedule.get("overlap_minutes", 0))

    @property
    def fresh_within_minutes(self) -> int:
        """How long after its end an interval must be loaded (check_freshness)."""
        return int(self.schedule.get("fresh_within_minutes", DEFAULT_FRESH_WITHIN_MINUTES))


def _require(d: dict, key: str, where: str) -> Any:
    if key not in d:
        raise SpecError(f"{where}: missing key {key!r}")
    return d[key]


def parse_spec(data: dict[str, Any], where: str) -> SourceSpec:
    """A spec from its parsed YAML (keys it does not read, such as ``$schema``, are ignored)."""
    name = _require(data, "source", where)
    entities = {}
    for ename, e in _require(data, "entities", where).items():
        ewhere = f"{where}: entities.{ename}"
        fields = []
        for col, f in _require(e, "fields", ewhere).items():
            ftype = _require(f, "type", f"{ewhere}.fields.{col}")
            if ftype not in FIELD_TYPES:
                raise SpecError(f"{ewhere}.fields.{col}: unknown type {ftype!r} (one of {sorted(FIELD_TYPES)})")
            if {"role", "id"} - set(f) if ftype == "parties" else {"role", "kind", "id"} & set(f):
                raise SpecError(f"{ewhere}.fields.{col}: type parties needs role and id; role, kind, id are its options only")
            options = {k: v for k, v in f.items() if k not in ("from", "type") + DOC_KEYS}
            fields.append(Field(col, _require(f, "from", f"{ewhere}.fields.{col}"), ftype, options,
                                description=str(f.get("description") or ""),
                                known_values=tuple(f.get("known_values") or ())))
        entity = Entity(
            source=name,
            name=ename,
            title=e.get("title", ename),
            path=_require(e, "path", ewhere),
            key=_require(e, "key", ewhere),
            updated_at=_require(e, "updated_at", ewhere),
            table=_require(e, "table", ewhere),
            natural_key=_require(e, "natural_key", ewhere),
            suite=_require(e, "suite", ewhere),
            fields=tuple(fields),
            unmapped=tuple(e.get("unmapped", ())),
            batch_checks=dict(e.get("batch_checks", {})),
            dated_by=e.get("dated_by"),
        )
        for column in (entity.natural_key, entity.dated_by or entity.natural_key):
            if column not in entity.columns:
                raise SpecError(f"{ewhere}: {column!r} (natural_key or dated_by) is not a field")
        entity.updated_column  # raises if the update time is not mapped
        entities[ename] = entity
    return SourceSpec(
        name=name,
        title=data.get("title", name),
        connection=_require(data, "connection", where),
        transport=dict(_require(data, "transport", where)),
        schedule=dict(_require(data, "schedule", where)),
        pii=tuple(data.get("pii", ())),
        entities=entities,
    )


@lru_cache(maxsize=None)
def load_spec(source: str) -> SourceSpec:
    path = SPEC_DIR / f"{source}.yaml"
    if not path.exists():
        raise SpecError(f"no spec for source {source!r}: expected {path}")
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    try:
        validate_document(data, "source-spec", path.name)
    except DocumentError as exc:
        raise SpecError(str(exc)) from exc
    spec = parse_spec(data, str(path.name))
    if spec.name != source:
        raise SpecError(f"{path.name}: declares source {spec.name!r}, expected {source!r}")
    return spec


def source_names() -> list[str]:
    """Every source with a spec (each gets an ingest DAG)."""
    return sorted(p.stem for p in SPEC_DIR.glob("*.yaml"))
