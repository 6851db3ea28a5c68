"""The reason-code registry (``include/reason_codes.yaml``): every quarantine and batch reason
code the platform can emit, with its severity, level and a Chinese name and explanation.

* ``registry()`` reads and checks the file once per process (unique codes, known severities
  and levels, a severity that fits the level);
* ``load_reason_codes(conn)`` makes ``audit.reason_code`` hold exactly the registry (migration
  0017), at set-up;
* ``render_reason_table()`` / ``write_reason_docs()``: the registry as the markdown tables of
  ``docs/data-quality.md``, between the ``reason-codes`` marker comments;
* ``unregistered_reasons(conn)``: reasons in ``quarantine.record`` or ``audit.validation_result``
  that the registry does not know (or knows at another level), for the end-to-end tests.

``tests/test_reason_codes.py`` holds the registry against the code: every reason a suite,
``normalise``, ``conform`` or ``validate.batch_checks`` can emit is registered, and every
registered code is emitted where ``emitted_by`` says.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType
from typing import Any, Mapping

import yaml

from yhlaw.markdown import cell
from yhlaw import paths

REASON_CODES_FILE = paths.INCLUDE_DIR / "reason_codes.yaml"
REASON_DOCS_FILE = paths.DOCS_DIR / "data-quality.md"
DOCS_BEGIN = "<!-- reason-codes:begin -->"
DOCS_END = "<!-- reason-codes:end -->"

# severity -> what it does (and the level it belongs to, if only one).
SEVERITIES = {"critical": "隔离记录", "blocking": "拒收整批", "warning": "仅记录"}
SEVERITY_LEVEL = {"critical": "record", "blocking": "batch"}
LEVELS = {"record": "记录级", "batch": "批次级"}
# audit.validation_result.level -> registry level
RESULT_LEVELS = {"row": "record", "batch": "batch"}
_REQUIRED = ("code", "severity", "level", "title_zh", "description_zh", "emitted_by", "trigger_en")
_OPTIONAL = ("proven_by",)
_CODE = re.compile(r"^[a-z][a-z0-9_]*$")
_EMITTER = re.compile(r"^(expectations/[a-z0-9_]+\.json|yhlaw(\.[a-z_]+)+)$")


class ReasonCodeError(ValueError):
    """The registry file is malformed; the message names the file and the entry."""


@dataclass(frozen=True)
class ReasonCode:
    code: str
    severity: str                  # critical | blocking | warning
    level: str                     # record | batch
    title_zh: str
    description_zh: str
    emitted_by: tuple[str, ...]
    trigger_en: str
    proven_by: tuple[str, ...] = ()


def _text(entry: dict, key: str, where: str) -> str:
    value = entry.get(key)
    if not isinstance(value, str) or not value.strip():
        raise ReasonCodeError(f"{where}: {key} must be a non-empty string, not {value!r}")
    return value.strip()


def _texts(entry: dict, key: str, where: str, *, required: bool) -> tuple[str, ...]:
    value = entry.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise ReasonCodeError(f"{where}: {key} must be a list of non-empty strings, not {value!r}")
    if required and not value:
        raise ReasonCodeError(f"{where}: {key} must name at least one place")
    if len(set(value)) != len(value):
        raise ReasonCodeError(f"{where}: {key} lists a place twice: {value}")
    return tuple(v.strip() for v in value)


def _severity_and_level(entry: dict, where: str) -> tuple[str, str]:
    severity, level = entry["severity"], entry["level"]
    if severity not in SEVERITIES:
        raise ReasonCodeError(f"{where}: severity must be one of {sorted(SEVERITIES)}, not {severity!r}")
    if level not in LEVELS:
        raise ReasonCodeError(f"{where}: level must be one of {sorted(LEVELS)}, not {level!r}")
    if SEVERITY_LEVEL.get(severity, level) != level:
        raise ReasonCodeError(f"{where}: a {severity} code is {SEVERITY_LEVEL[severity]}-level, not {level}")
    return severity, level


def _entry(entry: Any, where: str) -> ReasonCode:
    if not isinstance(entry, dict):
        raise ReasonCodeError(f"{where}: an entry must be a mapping, not {type(entry).__name__}")
    code = entry.get("code")
    if not isinstance(code, str) or not _CODE.match(code):
        raise ReasonCodeError(f"{where}: code must be lower_snake_case, not {code!r}")
    where = f"{where} ({code})"
    missing = [k for k in _REQUIRED if k not in entry]
    unknown = sorted(set(entry) - set(_REQUIRED) - set(_OPTIONAL))
    if missing or unknown:
        raise ReasonCodeError(f"{where}: missing fields {missing}, unknown fields {unknown}")
    severity, level = _severity_and_level(entry, where)
    emitted_by = _texts(entry, "emitted_by", where, required=True)
    bad = [e for e in emitted_by if not _EMITTER.match(e)]
    if bad:
        raise ReasonCodeError(f"{where}: emitted_by names expectations/<suite>.json or a yhlaw module: {bad}")
    return ReasonCode(code=code, severity=severity, level=level, title_zh=_text(entry, "title_zh", where),
                      description_zh=_text(entry, "description_zh", where), emitted_by=emitted_by,
                      trigger_en=_text(entry, "trigger_en", where),
                      proven_by=_texts(entry, "proven_by", where, required=False))


def parse_reason_codes(entries: Any, where: str = "reason_codes.yaml") -> Mapping[str, ReasonCode]:
    """The registry from the file's parsed YAML (a list of entries), checked; in file order."""
    if not isinstance(entries, list) or not entries:
        raise ReasonCodeError(f"{where}: expected a non-empty list of reason codes")
    out: dict[str, ReasonCode] = {}
    for i, raw in enumerate(entries, 1):
        entry = _entry(raw, f"{where}: entry {i}")
        if entry.code in out:
            raise ReasonCodeError(f"{where}: entry {i}: code {entry.code!r} is registered twice")
        out[entry.code] = entry
    return MappingProxyType(out)


@lru_cache(maxsize=None)
def _registry(path: Path) -> Mapping[str, ReasonCode]:
    return parse_reason_codes(yaml.safe_load(path.read_text(encoding="utf-8")), path.name)


def registry() -> Mapping[str, ReasonCode]:
    """code -> ReasonCode, read and checked once per process (read-only)."""
    return _registry(REASON_CODES_FILE)


# -- the warehouse --------------------------------------------------------------------------------

def load_reason_codes(conn) -> dict[str, int]:
    """Make ``audit.reason_code`` hold exactly the registry: upsert every code (``updated_at``
    moves only when an entry changed), delete codes no longer in the file. Caller commits."""
    codes = registry()
    with conn.cursor() as cur:
        cur.executemany(
            """INSERT INTO audit.reason_code (code, severity, level, title_zh, description_zh, emitted_by,
                                              trigger_en, proven_by)
               VALUES (%s, %s, %s, %s, %s, %s, %s, %s)
               ON CONFLICT (code) DO UPDATE
                 SET severity = EXCLUDED.severity, level = EXCLUDED.level, title_zh = EXCLUDED.title_zh,
                     description_zh = EXCLUDED.description_zh, emitted_by = EXCLUDED.emitted_by,
                     trigger_en = EXCLUDED.trigger_en, proven_by = EXCLUDED.proven_by, updated_at = now()
                 WHERE (audit.reason_code.severity, audit.reason_code.level, audit.reason_code.title_zh,
                        audit.reason_code.description_zh, audit.reason_code.emitted_by,
                        audit.reason_code.trigger_en, audit.reason_code.proven_by)
                       IS DISTINCT FROM (EXCLUDED.severity, EXCLUDED.level, EXCLUDED.title_zh,
                                         EXCLUDED.description_zh, EXCLUDED.emitted_by,
                                         EXCLUDED.trigger_en, EXCLUDED.proven_by)""",
            [(r.code, r.severity, r.level, r.title_zh, r.description_zh, list(r.emitted_by), r.trigger_en,
              list(r.proven_by)) for r in codes.values()])
        cur.execute("DELETE FROM audit.reason_code WHERE code <> ALL (%s::text[])", (list(codes),))
        deleted = cur.rowcount
    return {"codes": len(codes), "deleted": deleted}


def unregistered_reasons(conn) -> dict[str, list[str]]:
    """Reasons found in ``quarantine.record.reasons`` or ``audit.validation_result.reason`` that
    the registry does not know, or knows at another level or severity: code -> what is wrong
    where. Empty when every reason in the warehouse is registered."""
    codes = registry()
    problems: dict[str, list[str]] = {}
    with conn.cursor() as cur:
        cur.execute("SELECT DISTINCT unnest(reasons) FROM quarantine.record")
        for (code,) in cur.fetchall():
            known = codes.get(code)
            if known is None:
                problems.setdefault(code, []).append("quarantine.record: not registered")
            elif known.severity != "critical":
                problems.setdefault(code, []).append(f"quarantine.record: registered as {known.severity}, "
                                                     "but only critical reasons quarantine a record")
        cur.execute("SELECT DISTINCT reason, level FROM audit.validation_result")
        for code, level in cur.fetchall():
            known = codes.get(code)
            if known is None:
                problems.setdefault(code, []).append(f"audit.validation_result ({level}): not registered")
            elif RESULT_LEVELS.get(level) != known.level:
                problems.setdefault(code, []).append(f"audit.validation_result: recorded at level {level}, "
                                                     f"registered as {known.level}-level")
    return {code: sorted(set(p)) for code, p in sorted(problems.items())}


# -- the documentation ----------------------------------------------------------------------------

def _proven_by(items: tuple[str, ...]) -> str:
    """Case and test names in code style, notes as written (after a semicolon); a note in
    parentheses stays with the item before it."""
    out = ""
    for item in items:
        shown = item if " " in item or "`" in item else f"`{item}`"
        if not out:
            out = shown
        elif item.startswith("("):
            out += " " + shown
        elif " " in item:
            out += "; " + shown
        else:
            out += ", " + shown
    return out or "—"


def _emitted_by(places: tuple[str, ...], suites: set[str]) -> str:
    named = {p.removeprefix("expectations/").removesuffix(".json") for p in places if p.startswith("expectations/")}
    shown = []
    if named:
        shown.append("every suite" if suites and named == suites else "suites " + ", ".join(sorted(named)))
    shown += [f"`{p}`" for p in places if not p.startswith("expectations/")]
    return "; ".join(shown)


def render_reason_table() -> str:
    """The registry as markdown: one table of record reasons, one of batch reasons."""
    codes = registry()
    suites = {p.stem for p in paths.EXPECTATIONS_DIR.glob("*.json")}
    out = ["<!-- Generated from include/reason_codes.yaml by yhlaw.reasons.write_reason_docs(): "
           "edit the registry, then run it; tests/test_reason_codes.py fails while this table differs. -->",
           "",
           "Severity: **critical** — the record goes to `quarantine.record` (隔离记录); **blocking** — the batch "
           "is rejected, the task fails, nothing of it reaches core or quarantine (拒收整批); **warning** — "
           "recorded in `audit.validation_result` only, the record loads (仅记录). Every code is also in "
           "`audit.reason_code`."]
    headings = {"record": "### Record reasons", "batch": "### Batch reasons"}
    for level, heading in headings.items():
        out += ["", heading, "",
                "| reason | severity | 名称 | 含义与处理 | what triggers it | proven by | emitted by |",
                "|---|---|---|---|---|---|---|"]
        for r in codes.values():
            if r.level != level:
                continue
            out.append("| " + " | ".join([
                f"`{r.code}`", f"{r.severity} ({SEVERITIES[r.severity]})", cell(r.title_zh), cell(r.description_zh),
                cell(r.trigger_en), cell(_proven_by(r.proven_by)), cell(_emitted_by(r.emitted_by, suites)),
            ]) + " |")
    return "\n".join(out) + "\n"


def reason_docs_section(text: str, where: str = "data-quality.md") -> str:
    """What stands between the markers in ``text`` (without the line breaks around it)."""
    if text.count(DOCS_BEGIN) != 1 or text.count(DOCS_END) != 1 or text.index(DOCS_BEGIN) > text.index(DOCS_END):
        raise ValueError(f"{where}: needs one {DOCS_BEGIN} line followed by one {DOCS_END} line")
    inner = text[text.index(DOCS_BEGIN) + len(DOCS_BEGIN):text.index(DOCS_END)]
    return inner.strip("\n") + "\n"


def write_reason_docs(path: Path = REASON_DOCS_FILE) -> bool:
    """Replace the section between the markers in ``path`` with ``render_reason_table()``;
    everything else stays as it is. Returns whether the file changed."""
    text = path.read_text(encoding="utf-8")
    reason_docs_section(text, path.name)            # the markers are there, once, in order
    head, rest = text.split(DOCS_BEGIN, 1)
    _, tail = rest.split(DOCS_END, 1)
    new = f"{head}{DOCS_BEGIN}\n{render_reason_table()}{DOCS_END}{tail}"
    if new == text:
        return False
    path.write_text(new, encoding="utf-8")
    return True
