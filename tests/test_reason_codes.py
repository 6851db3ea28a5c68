"""The reason-code registry (include/reason_codes.yaml, yhlaw.reasons) against the code: every
reason anything can emit is registered with the severity and level it really has, every
registered code is emitted exactly where the registry says, the docs' table is the registry's,
and the warehouse's audit.reason_code holds exactly the registry.

Reasons are read from where the code keeps them (the suites' meta.reason, normalise's
HELPER_COLUMNS and TOWN_STATUS_REASONS, conform's FLAG_REASONS, validate's BATCH_CHECK_REASONS),
and literals anywhere else in the package are found by parsing its source."""

from __future__ import annotations

import ast
import inspect
import json
import re
from collections import defaultdict
from pathlib import Path

import pytest

from yhlaw import conform, paths, reasons
from yhlaw.conform import FLAG_REASONS
from yhlaw.normalise import HELPER_COLUMNS, TOWN_STATUS_REASONS
from yhlaw.reasons import (ReasonCodeError, load_reason_codes, parse_reason_codes, reason_docs_section, registry,
                           render_reason_table, unregistered_reasons, write_reason_docs)
from yhlaw.validate import BATCH_CHECK_REASONS, EXPECTATIONS_DIR, batch_checks

PACKAGE = paths.PROJECT_ROOT / "include" / "yhlaw"
TESTS = Path(__file__).parent
SUITES = sorted(EXPECTATIONS_DIR.glob("*.json"))


def suite_rules() -> list[tuple[str, dict]]:
    """(place, expectation) of every suite."""
    return [(f"expectations/{p.name}", e) for p in SUITES
            for e in json.loads(p.read_text(encoding="utf-8"))["expectations"]]


def literal_reasons() -> list[tuple[str, str, int]]:
    """(reason, place, line) of every reason written as a literal in the package: the reason of a
    ``CheckResult(...)`` call (third argument or ``reason=``) and the value of a ``"reason"`` key
    in a dict display. Place: ``yhlaw.<module>.<function>``."""
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        module = "yhlaw." + ".".join(path.relative_to(PACKAGE).with_suffix("").parts)
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for func in [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]:
            for node in ast.walk(func):
                values = []
                if isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", "")) == "CheckResult":
                    values = [*node.args[2:3], *(k.value for k in node.keywords if k.arg == "reason")]
                elif isinstance(node, ast.Dict):
                    values = [v for k, v in zip(node.keys, node.values)
                              if isinstance(k, ast.Constant) and k.value == "reason"]
                found += [(v.value, f"{module}.{func.name}", v.lineno) for v in values
                          if isinstance(v, ast.Constant) and isinstance(v.value, str)]
    return found


def emitted() -> dict[str, set[str]]:
    """code -> the places that emit it, as the code says."""
    out: dict[str, set[str]] = defaultdict(set)
    for place, rule in suite_rules():
        out[rule["meta"]["reason"]].add(place)
    for code in [*HELPER_COLUMNS.values(), *TOWN_STATUS_REASONS.values()]:
        out[code].add("yhlaw.normalise")
    for code in [*FLAG_REASONS.values(), *conform.PUBLISH_REASONS.values()]:
        out[code].add("yhlaw.conform")
    # The SQL typing gives the town statuses normalise gives (typing_select's CASE).
    conform_source = inspect.getsource(conform)
    for status, code in TOWN_STATUS_REASONS.items():
        if f"'{status}'" in conform_source:
            out[code].add("yhlaw.conform")
    for code in BATCH_CHECK_REASONS.values():
        out[code].add("yhlaw.validate.batch_checks")
    for code, place, _ in literal_reasons():
        out[code].add(place)
    return out


# -- the registry file ----------------------------------------------------------------------------

def _entry(**changes) -> dict:
    entry = {"code": "some_code", "severity": "critical", "level": "record", "title_zh": "名称",
             "description_zh": "说明", "emitted_by": ["yhlaw.normalise"], "trigger_en": "when"}
    entry.update(changes)
    return {k: v for k, v in entry.items() if v is not None}


@pytest.mark.parametrize("entries, says", [
    ([], "non-empty list"),
    ([_entry(), _entry()], "registered twice"),
    ([_entry(severity="fatal")], "severity must be one of"),
    ([_entry(level="row")], "level must be one of"),
    ([_entry(severity="blocking")], "a blocking code is batch-level"),
    ([_entry(level="batch")], "a critical code is record-level"),
    ([_entry(code="Bad-Code")], "lower_snake_case"),
    ([_entry(title_zh=None)], "missing fields ['title_zh']"),
    ([_entry(colour="red")], "unknown fields ['colour']"),
    ([_entry(emitted_by=[])], "at least one place"),
    ([_entry(emitted_by=["somewhere"])], "emitted_by names"),
    ([_entry(description_zh="  ")], "description_zh must be a non-empty string"),
])
def test_a_malformed_registry_is_refused_naming_the_entry(entries, says):
    with pytest.raises(ReasonCodeError, match=re.escape(says)):
        parse_reason_codes(entries, "r.yaml")


def test_the_registry_loads_once_and_is_read_only():
    codes = registry()
    assert codes is registry() and len(codes) >= 19
    with pytest.raises(TypeError):
        codes["x"] = codes["unknown_town"]       # type: ignore[index]


# -- every reason the code can emit is registered ----------------------------------------------------

def test_every_suite_reason_is_registered_with_the_severity_its_rule_has():
    codes, problems = registry(), []
    for place, rule in suite_rules():
        code, severity = rule["meta"]["reason"], rule.get("severity")
        if code not in codes:
            problems.append(f"{place}: {rule['meta']['check']}: reason {code!r} is not registered")
        elif (codes[code].severity, codes[code].level) != (severity, "record"):
            problems.append(f"{place}: {rule['meta']['check']}: {code} is a {severity} row rule, registered as "
                            f"{codes[code].severity} {codes[code].level}-level")
    assert not problems, "\n".join(problems)


def test_every_normalise_and_conform_reason_is_registered_and_the_suites_use_it():
    codes = registry()
    named = {**{f"normalise.HELPER_COLUMNS[{c!r}]": r for c, r in HELPER_COLUMNS.items()},
             **{f"normalise.TOWN_STATUS_REASONS[{s!r}]": r for s, r in TOWN_STATUS_REASONS.items()},
             **{f"conform.FLAG_REASONS[{c!r}]": r for c, r in FLAG_REASONS.items()}}
    unregistered = {where: r for where, r in named.items() if r not in codes or codes[r].severity != "critical"}
    assert not unregistered, f"not registered as critical record reasons: {unregistered}"
    # A suite's rule on a helper column, a town status or a batch flag carries the reason the
    # typing names for it.
    wrong = []
    for place, rule in suite_rules():
        column, reason = rule["kwargs"].get("column", ""), rule["meta"]["reason"]
        expected = HELPER_COLUMNS.get(column) or FLAG_REASONS.get(column)
        if re.fullmatch(r"_\w+_status", column):
            (status,) = rule["kwargs"]["value_set"]
            expected = TOWN_STATUS_REASONS[status]
        if expected and reason != expected:
            wrong.append(f"{place}: rule on {column} has reason {reason}, the typing names {expected}")
    assert not wrong, "\n".join(wrong)


def test_every_batch_check_reason_is_registered_with_what_it_does():
    codes = registry()
    # Every check at its worst: all rows bad, a tenth of the usual volume, a field gone, one added.
    worst = batch_checks(received=100, quarantined=100, history=[1000] * 28, keys_seen={"added": 100},
                         expected_fields={"gone"}, config={"max_quarantine_ratio": 0.1})
    assert {c.check for c in worst} == set(BATCH_CHECK_REASONS)
    blocks: dict[str, bool] = defaultdict(bool)
    for c in worst:
        assert c.reason == BATCH_CHECK_REASONS[c.check]
        blocks[c.reason] |= c.blocking
    for code, blocking in blocks.items():
        assert code in codes, f"batch reason {code!r} is not registered"
        assert (codes[code].level, codes[code].severity) == ("batch", "blocking" if blocking else "warning"), code


def test_no_reason_literal_anywhere_in_the_package_escapes_the_registry():
    unregistered = [f"{place} (line {line}): {code!r}" for code, place, line in literal_reasons()
                    if code not in registry()]
    assert not unregistered, "reasons written as literals but not registered:\n" + "\n".join(unregistered)


def test_every_reason_the_bad_input_corpus_expects_is_registered():
    """The reasons tests/test_bad_input.py expects: the cases it builds for every entity, and every
    set of reasons written in a case or compared with an outcome."""
    import test_bad_input as corpus

    expected: set[str] = set()
    for entity in corpus.ENTITIES:
        for case in corpus.corruptions(corpus.Shape.of(entity)):
            expected |= {r for reasons_ in case.expected if reasons_ for r in reasons_}
    tree = ast.parse((TESTS / "test_bad_input.py").read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        scopes = []
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) in ("case", "Case"):
            scopes = [*node.args[1:], *(k.value for k in node.keywords)]
        elif isinstance(node, ast.Compare) and any(isinstance(op, ast.Eq) for op in node.ops):
            scopes = [node.left, *node.comparators]
        expected |= {e.value for s in scopes for n in ast.walk(s) if isinstance(n, ast.Set)
                     for e in n.elts if isinstance(e, ast.Constant) and isinstance(e.value, str)}
    assert len(expected) >= 14, expected
    assert not expected - set(registry()), f"expected by the corpus, not registered: {expected - set(registry())}"


# -- and every registered code is emitted where the registry says ---------------------------------

def test_every_registered_code_is_emitted_exactly_where_the_registry_says():
    found, codes = emitted(), registry()
    unregistered = sorted(set(found) - set(codes))
    assert not unregistered, f"emitted but not registered: {unregistered}"
    dead = sorted(set(codes) - set(found))
    assert not dead, f"registered but emitted nowhere (remove them): {dead}"
    wrong = {c: {"registry": sorted(codes[c].emitted_by), "code": sorted(found[c])}
             for c in codes if set(codes[c].emitted_by) != found[c]}
    assert not wrong, "emitted_by differs from where the code emits:\n" + json.dumps(wrong, indent=1)


def test_the_tests_and_corpus_cases_the_registry_cites_exist():
    import test_bad_input as corpus

    sources = {p: p.read_text(encoding="utf-8") for p in TESTS.glob("test_*.py")}
    test_names = {m for text in sources.values() for m in re.findall(r"^def (test_\w+)", text, re.M)}
    case_names = {c.name for e in corpus.ENTITIES for c in corpus.corruptions(corpus.Shape.of(e))}
    case_names |= set(re.findall(r"[\"'](\w+)[\"']", sources[TESTS / "test_bad_input.py"]))
    missing = []
    for r in registry().values():
        for item in r.proven_by:
            for path in re.findall(r"tests/[\w/]+\.py", item):
                if not (paths.PROJECT_ROOT / path).exists():
                    missing.append(f"{r.code}: {path}")
            for name in re.findall(r"\btest_\w+", re.sub(r"tests/[\w/]+\.py", "", item)):
                if name not in test_names:
                    missing.append(f"{r.code}: test {name}")
            if re.fullmatch(r"[\w<>]+", item) and not item.startswith("test_"):
                pattern = re.compile(re.sub(r"<\w+>", r"\\w+", item) + "$")
                if not any(pattern.match(n) for n in case_names):
                    missing.append(f"{r.code}: corpus case {item}")
    assert not missing, "proven_by cites what does not exist:\n" + "\n".join(missing)


# -- the documentation ----------------------------------------------------------------------------

def test_the_docs_reason_tables_are_the_registry():
    text = reasons.REASON_DOCS_FILE.read_text(encoding="utf-8")
    assert reason_docs_section(text) == render_reason_table(), (
        "docs/data-quality.md's reason tables differ from include/reason_codes.yaml: run "
        "`python -c 'from yhlaw.reasons import write_reason_docs; write_reason_docs()'`")
    table = render_reason_table()
    assert all(f"| `{code}` |" in table for code in registry())


def test_writing_the_docs_replaces_only_the_marked_section(tmp_path):
    doc = tmp_path / "dq.md"
    doc.write_text(f"# Title\n\nbefore\n\n{reasons.DOCS_BEGIN}\n| old | table |\n{reasons.DOCS_END}\n\nafter\n",
                   encoding="utf-8")
    assert write_reason_docs(doc) is True
    text = doc.read_text(encoding="utf-8")
    assert text.startswith("# Title\n\nbefore\n\n" + reasons.DOCS_BEGIN + "\n") and text.endswith(
        reasons.DOCS_END + "\n\nafter\n")
    assert "| old | table |" not in text and reason_docs_section(text) == render_reason_table()
    assert write_reason_docs(doc) is False                # already current: unchanged
    doc.write_text("no markers\n", encoding="utf-8")
    with pytest.raises(ValueError, match="reason-codes:begin"):
        write_reason_docs(doc)


# -- the warehouse --------------------------------------------------------------------------------

def test_the_warehouse_holds_exactly_the_registry_and_only_registered_reasons(warehouse):
    from yhlaw.warehouse import transaction

    columns = "code, severity, level, title_zh, description_zh, emitted_by, trigger_en, proven_by"
    with transaction(warehouse) as conn, conn.cursor() as cur:
        cur.execute("""INSERT INTO audit.reason_code (code, severity, level, title_zh, description_zh, emitted_by,
                                                      trigger_en)
                       VALUES ('retired_code', 'warning', 'record', '已停用', '已停用', ARRAY['yhlaw.normalise'], 'x')
                       ON CONFLICT (code) DO NOTHING""")
        assert load_reason_codes(conn) == {"codes": len(registry()), "deleted": 1}
    with transaction(warehouse) as conn, conn.cursor() as cur:
        cur.execute("SELECT " + columns + ", updated_at FROM audit.reason_code ORDER BY code")
        rows = cur.fetchall()
        assert [r[:-1] for r in rows] == sorted(
            (r.code, r.severity, r.level, r.title_zh, r.description_zh, list(r.emitted_by), r.trigger_en,
             list(r.proven_by)) for r in registry().values())
        assert load_reason_codes(conn)["deleted"] == 0
        cur.execute("SELECT code, updated_at FROM audit.reason_code ORDER BY code")
        assert cur.fetchall() == [(r[0], r[-1]) for r in rows], "an unchanged entry's updated_at moved"
        # Whatever earlier tests of this session left in quarantine and audit is registered.
        assert unregistered_reasons(conn) == {}


def test_unregistered_reasons_names_what_and_where(warehouse):
    from yhlaw.warehouse import transaction

    with transaction(warehouse) as conn, conn.cursor() as cur:
        cur.execute("""INSERT INTO raw.batch (batch_id, source, entity, interval_start, interval_end, query_since,
                                              record_count, content_sha256)
                       VALUES ('reason-test', 's', 'e', now(), now(), now(), 1, 'x')""")
        cur.execute("""INSERT INTO audit.validation_result (batch_id, check_name, level, reason, blocking, success)
                       VALUES ('reason-test', 'a', 'row', 'no_such_reason', false, false),
                              ('reason-test', 'b', 'row', 'schema_drift', false, false),
                              ('reason-test', 'c', 'batch', 'volume_anomaly', false, true)""")
        cur.execute("""INSERT INTO quarantine.record (batch_id, seq, source, entity, reasons, details, payload)
                       VALUES ('reason-test', 0, 's', 'e', '{unknown_town,unknown_code_value}', '[]', '{}')""")
        assert unregistered_reasons(conn) == {
            "no_such_reason": ["audit.validation_result (row): not registered"],
            "schema_drift": ["audit.validation_result: recorded at level row, registered as batch-level"],
            "unknown_code_value": ["quarantine.record: registered as warning, but only critical reasons "
                                   "quarantine a record"],
        }
        conn.rollback()
