"""JSON Schemas of the declarative files (``include/schemas/``): source specs and indicator
definitions. Each file names its schema in a ``$schema`` key, so editors with the YAML language
server check it as it is typed; ``validate_document`` checks the same before the engine parses a
file, with a message naming the file, the JSON path and the problem."""

from __future__ import annotations

import difflib
import json
from functools import lru_cache
from pathlib import Path
from typing import Any

from yhlaw import paths

# document kind -> its schema file in include/schemas/
SCHEMAS = {
    "source-spec": "source-spec.schema.json",
    "indicator": "indicator.schema.json",
}
MAX_PROBLEMS = 10


def schema_path(kind: str) -> Path:
    if kind not in SCHEMAS:
        raise ValueError(f"unknown document kind {kind!r} (one of {sorted(SCHEMAS)})")
    return paths.SCHEMA_DIR / SCHEMAS[kind]


def schema_header(kind: str) -> str:
    """The ``$schema`` value a document of this kind carries (specs and indicators sit in sibling
    folders of ``include/schemas/``)."""
    return f"../schemas/{schema_path(kind).name}"


@lru_cache(maxsize=None)
def schema(kind: str) -> dict[str, Any]:
    return json.loads(schema_path(kind).read_text(encoding="utf-8"))


@lru_cache(maxsize=None)
def _validator(kind: str):
    from jsonschema import Draft202012Validator   # imported when first needed: DAG files import spec.py

    s = schema(kind)
    Draft202012Validator.check_schema(s)
    return Draft202012Validator(s)


class DocumentError(ValueError):
    """A document does not match its JSON Schema. ``problems`` holds (JSON path, message) pairs;
    the message names the file and each path."""

    def __init__(self, where: str, kind: str, problems: list[tuple[str, str]], more: int = 0):
        self.where, self.kind, self.problems = where, kind, problems
        lines = [f"{where}: {p}: {m}" for p, m in problems]
        if more:
            lines.append(f"{where}: ... and {more} more")
        if len(lines) == 1:
            message = lines[0]
        else:
            message = f"{where} does not match the {kind} schema ({schema_path(kind).name}):\n  " + "\n  ".join(lines)
        super().__init__(message)


def validate_document(data: Any, kind: str, where: str = "<document>") -> None:
    """Raise ``DocumentError`` if ``data`` (a parsed YAML document) does not match the ``kind``
    schema ("source-spec" or "indicator"); ``where`` names the file in the message."""
    errors = sorted(_validator(kind).iter_errors(data), key=lambda e: (list(map(str, e.absolute_path)), e.message))
    if not errors:
        return
    problems = list(dict.fromkeys(p for e in errors for p in _describe(e)))
    raise DocumentError(where, kind, problems[:MAX_PROBLEMS], max(0, len(problems) - MAX_PROBLEMS))


def _path(parts) -> str:
    out = "$"
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else f".{p}"
    return out


def _describe(e) -> list[tuple[str, str]]:
    """(JSON path, problem) pairs in words a spec author acts on."""
    where = list(e.absolute_path)
    schema_ = e.schema if isinstance(e.schema, dict) else {}
    special = _HANDLERS.get(e.validator)
    out = special(e, where, schema_) if special else None
    return out or [(_path(where), e.message)]


def _combination(e, where, schema_):
    """A rule over several keys (``not``, ``anyOf``, ...) says what it wants in ``errorMessage``;
    a ``not`` forbidding single keys (e.g. ``stage`` on a text field) names each key present."""
    if "errorMessage" not in schema_:
        return None
    if e.validator == "not" and isinstance(e.instance, dict) and len(e.validator_value.get("required", ())) <= 1:
        keys = [k for k in _required_keys(e.validator_value) if k in e.instance]
        if keys:
            return [(_path(where + [k]), f"not allowed here: {schema_['errorMessage']}") for k in keys]
    return [(_path(where), schema_["errorMessage"])]


def _unknown_keys(e, where, schema_):
    allowed = sorted(schema_.get("properties", {}))
    if not (allowed and isinstance(e.instance, dict)):
        return None
    out = []
    for key in (k for k in e.instance if k not in allowed):
        close = difflib.get_close_matches(str(key), allowed, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        out.append((_path(where + [key]), f"unknown key {key!r}{hint}; allowed: {', '.join(allowed)}"))
    return out


_HANDLERS = {
    "not": _combination, "anyOf": _combination, "oneOf": _combination, "contains": _combination,
    "additionalProperties": _unknown_keys,
    "required": lambda e, where, s: [(_path(where), f"missing key {e.message.split(' ')[0]}")],
    "enum": lambda e, where, s: [(_path(where), f"{e.instance!r} is not one of {e.validator_value}")],
    "propertyNames": lambda e, where, s: [(_path(where), f"key {e.instance!r}: {e.message}")],
}


def _required_keys(s: Any) -> list[str]:
    """The keys a ``not`` subschema forbids: its ``required`` lists, directly or under ``anyOf``."""
    if not isinstance(s, dict):
        return []
    keys = list(s.get("required", ()))
    for sub in s.get("anyOf", ()):
        keys += _required_keys(sub)
    return list(dict.fromkeys(keys))
