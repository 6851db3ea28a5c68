"""The bad-input corpus (issue #5): every way a source's data can be wrong, for every source
entity, through the real loader, the real validation (GX suites) and the real PostgreSQL
warehouse.

Per entity (read from the specs, so a new source is covered once it has a known-good record in
``tests/corpus/good_records.json``): copies of the good record are corrupted one way each and
landed as one batch with clean copies (``load.Spool`` + ``load.land``), then
``pipeline.validate`` and ``pipeline.load`` run. Every corrupted record must be in
``quarantine.record`` with exactly the reasons its corruption calls for, every clean record in
core, text that looks like SQL or HTML in core verbatim, and the batch must reconcile
(received = loaded + quarantined). Whole-batch faults (a malformed JSON page, a malformed,
truncated or undecodable CSV/XLSX file, a drifted schema) must fail with a message that names
what and where. docs/data-quality.md lists the reasons and which case here proves each.
"""

from __future__ import annotations

import copy
import hashlib
import io
import json
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable

import pandas as pd
import pytest
from psycopg2 import sql
import requests
from openpyxl import Workbook

from conftest import own_database, source_keys_stored_and_counted, type_both_ways
from yhlaw import pipeline
from yhlaw.readers import FileDropReader, HttpSourceClient, LedgerFileReader, SourceConnection, SourceError
from yhlaw.store import Spool, land
from yhlaw.normalise import DEFAULT_MAX_TEXT_LENGTH, HELPER_COLUMNS, Context, TownResolver, normalise
from yhlaw.pii import PartyKeyer
from yhlaw.spec import Entity, Field, load_spec, source_names
from yhlaw.validate import EXPECTATIONS_DIR
from yhlaw.warehouse import transaction

CORPUS = Path(__file__).with_name("corpus")
GOOD = {k: v for k, v in json.loads((CORPUS / "good_records.json").read_text(encoding="utf-8")).items()
        if not k.startswith("_")}
ENTITIES = [load_spec(s).entities[e] for s in source_names() for e in load_spec(s).entities]
IDS = [f"{e.source}.{e.name}" for e in ENTITIES]
HMAC_KEY = "bad-input-test-key"
TZ = timezone(timedelta(hours=8))
CLEAN_COPIES = 160            # enough that the corruptions stay under every max_quarantine_ratio
LOADED = None                 # expected outcome of a record that must load
SQL_TEXT = "'); DROP TABLE core.{table};--"
HTML_TEXT = "<script>alert(1)</script>"
DATED = ("date", "timestamp", "stage_time")


# -- the entity as the corruptions see it -------------------------------------------------------

def suite_rules(entity: Entity) -> list[dict]:
    return json.loads((EXPECTATIONS_DIR / f"{entity.suite}.json").read_text(encoding="utf-8"))["expectations"]


def get(record: dict, f: Field) -> Any:
    if f.type == "stage_time":
        return next(s.get("time") for s in record[f.source] if s.get("stage") == f.options["stage"])
    value: Any = record
    for part in f.source.split("."):
        value = value[int(part)] if isinstance(value, list) else value.get(part)
    return value


def put(record: dict, f: Field, value: Any) -> dict:
    if f.type == "stage_time":
        next(s for s in record[f.source] if s.get("stage") == f.options["stage"])["time"] = value
        return record
    *path, last = f.source.split(".")
    target: Any = record
    for part in path:
        target = target[int(part)] if isinstance(target, list) else target[part]
    target[last] = value
    return record


@dataclass
class Shape:
    """What the corruptions need to know about an entity: read from its spec and suite."""

    entity: Entity
    good: dict
    required: set[str] = field(default_factory=set)       # columns a critical not-null rule requires
    town_required: bool = False
    coded: set[str] = field(default_factory=set)          # columns with a critical value set

    @classmethod
    def of(cls, entity: Entity) -> "Shape":
        key = f"{entity.source}.{entity.name}"
        assert key in GOOD, f"add a known-good {key} record to tests/corpus/good_records.json"
        shape = cls(entity, GOOD[key])
        for rule in suite_rules(entity):
            kw, critical = rule["kwargs"], rule.get("severity") == "critical"
            if critical and rule["type"] == "expect_column_values_to_not_be_null":
                shape.required.add(kw["column"])
            if critical and rule["type"] == "expect_column_values_to_not_be_in_set" and kw["value_set"] == ["missing"]:
                shape.town_required = True
            if critical and rule["type"] == "expect_column_values_to_be_in_set" and not kw["column"].startswith("_"):
                shape.coded.add(kw["column"])
        return shape

    def fields(self, *types: str) -> list[Field]:
        return [f for f in self.entity.fields if f.type in types]

    @property
    def key_field(self) -> Field:
        return next(f for f in self.entity.fields if f.name == self.entity.natural_key)

    @property
    def updated_field(self) -> Field:
        return next(f for f in self.entity.fields if f.name == self.entity.updated_column)

    @property
    def events(self) -> list[Field]:
        """Dates of things that happened to the record (not the update time, not reader metadata)."""
        return [f for f in self.fields(*DATED) if f.name != self.entity.updated_column
                and not f.source.startswith("_") and get(self.good, f)]

    @property
    def latest_event(self) -> Field:
        return max(self.events, key=lambda f: _instant(get(self.good, f)))

    @property
    def free_text(self) -> list[Field]:
        """Text columns a source may fill with anything (no code list, no mapping, not the key)."""
        return [f for f in self.fields("text") if f.name != self.entity.natural_key and f.name not in self.coded
                and "map" not in f.options and not f.source.startswith("_") and get(self.good, f)]

    @property
    def chinese_text(self) -> Field | None:
        return next((f for f in self.free_text if any("\u4e00" <= c <= "\u9fff" for c in str(get(self.good, f)))),
                    None)

    @property
    def town(self) -> Field | None:
        return next(iter(self.fields("town")), None)

    def when_null(self, f: Field) -> set[str]:
        """The extra reason a required column gets when its value could not be read."""
        return {"missing_required_field"} if f.name in self.required else set()

    def record(self, tag: str, **changes: Any) -> dict:
        rec = copy.deepcopy(self.good)
        put(rec, self.key_field, f"{get(self.good, self.key_field)}-{tag}")
        return rec


@dataclass
class Case:
    name: str
    records: list[Any]
    expected: list[set[str] | None]     # per record: its quarantine reasons, or LOADED


def _instant(text: str) -> pd.Timestamp:
    """A source's date or time as an instant (naive = Asia/Shanghai, as the sources write them)."""
    t = pd.Timestamp(text)
    return t.tz_localize("Asia/Shanghai") if t.tzinfo is None else t.tz_convert("Asia/Shanghai")


def _shift(text: str, f: Field, delta: timedelta) -> str:
    t = _instant(text) + delta
    return t.strftime("%Y-%m-%d") if f.type == "date" else t.isoformat()


def _pop(record: dict, f: Field) -> dict:
    """The record without the field at all (a nested path: the key removed from its object)."""
    *path, last = f.source.split(".")
    target: Any = record
    for part in path:
        target = target[int(part)] if isinstance(target, list) else target[part]
    target.pop(last)
    return record


def _backdate(record: dict, shape: Shape, day: date) -> dict:
    """Every event of the record moved back by the same span, so that its ``dated_by`` falls on
    ``day`` (the update time stays: an old case updated now)."""
    dated = next(f for f in shape.entity.fields if f.name == shape.entity.dated_by)
    delta = pd.Timestamp(day).tz_localize("Asia/Shanghai") - _instant(get(record, dated)).normalize()
    for f in shape.events:
        put(record, f, _shift(get(record, f), f, delta))
    return record


def _with_year(text: str, year: int) -> str:
    return f"{year}{str(text)[4:]}"


def corruptions(shape: Shape) -> list[Case]:
    """Every corruption that applies to the entity, each on its own copy of the good record."""
    e, cases = shape.entity, []

    def case(name: str, expected: set[str] | None, mutate: Callable[[dict], Any]) -> None:
        rec = shape.record(name)
        mutate(rec)
        cases.append(Case(name, [rec], [expected]))

    first = shape.events[0]
    latest = shape.latest_event
    # Dates: other formats, not on the calendar, implausible, in the future.
    for name, value in [("date_chinese", "2022年3月1日"), ("date_slashes", "2022/3/1"),
                        ("date_compact", "20220301"), ("date_excel_serial", 44621),
                        ("date_unix_epoch", 1646100000)]:
        case(name, {"date_format_not_iso"} | shape.when_null(first), lambda r, v=value: put(r, first, v))
    case("date_not_on_calendar", {"unparseable_value"} | shape.when_null(first),
         lambda r: put(r, first, get(r, first)[:4] + "-02-30" + get(r, first)[10:]))
    case("date_garbage", {"unparseable_value"} | shape.when_null(first), lambda r: put(r, first, "下周三"))
    case("date_1900", {"impossible_date"}, lambda r: put(r, first, _with_year(get(r, first), 1900)))
    case("date_9999", {"impossible_date", "future_date"}, lambda r: put(r, latest, _with_year(get(r, latest), 9999)))
    case("date_2099", {"impossible_date", "future_date"}, lambda r: put(r, latest, _with_year(get(r, latest), 2099)))
    if latest is not first:   # out of order: the last stage a day before the first one
        case("date_before_first_stage", {"impossible_date"},
             lambda r: put(r, latest, _shift(get(r, first), latest, timedelta(days=-1))))
    case("date_after_update", {"future_date"},
         lambda r: put(r, latest, _shift(get(r, shape.updated_field), latest, timedelta(days=3))))
    # Amounts and counts.
    for f in shape.fields("decimal"):
        case(f"{f.name}_negative", {"amount_out_of_range"}, lambda r, f=f: put(r, f, "-100.00"))
        case(f"{f.name}_absurd", {"amount_out_of_range"}, lambda r, f=f: put(r, f, 1e12))
        case(f"{f.name}_garbage", {"unparseable_value"} | shape.when_null(f), lambda r, f=f: put(r, f, "十二元"))
        # Read exactly or not at all: a decimal comma is no thousands separator, a third decimal no rounding.
        case(f"{f.name}_decimal_comma", {"unparseable_value"} | shape.when_null(f), lambda r, f=f: put(r, f, "16,00"))
        case(f"{f.name}_three_decimals", {"unparseable_value"} | shape.when_null(f),
             lambda r, f=f: put(r, f, "12.345"))
        case(f"{f.name}_float_three_decimals", {"unparseable_value"} | shape.when_null(f),
             lambda r, f=f: put(r, f, 0.125))
    counts = shape.fields("integer")
    if counts:
        case("count_absurd", {"count_out_of_range"}, lambda r: put(r, counts[0], "1000000"))
        case("count_negative", {"count_out_of_range"}, lambda r: put(r, counts[-1], "-1"))
    # Rules of the entity's own: a code outside a critical code list (e.g. 部门代码), counts that
    # contradict each other (e.g. 法制审核人员 > 在岗执法人员).
    by_column = {f.name: f for f in e.fields}
    for rule in suite_rules(e):
        kw = rule["kwargs"]
        if rule.get("severity") != "critical" or kw.get("column", "").startswith("_"):
            continue
        if rule["type"] == "expect_column_values_to_be_in_set" and kw["column"] in by_column:
            f = by_column[kw["column"]]
            case(f"{f.name}_not_in_code_list", {rule["meta"]["reason"]}, lambda r, f=f: put(r, f, "NOT-A-CODE"))
        if rule["meta"]["reason"] == "inconsistent_counts":
            big, small = by_column[kw["column_A"]], by_column[kw["column_B"]]
            case(f"{small.name}_exceeds_{big.name}", {"inconsistent_counts"},
                 lambda r, big=big, small=small: put(r, small, str(int(get(r, big)) + 1)))
    # Towns: unknown code, pre-2021 code and name (now 临平区), mojibake name, absent column.
    if shape.town:
        t = shape.town
        case("town_unknown", {"unknown_town"}, lambda r: put(r, t, "330110999000"))
        case("town_pre2021_code", {"town_out_of_district"}, lambda r: put(r, t, "330110001000"))
        case("town_pre2021_name", {"town_out_of_district"}, lambda r: put(r, t, "临平街道"))
        case("town_linping_district_code", {"town_out_of_district"}, lambda r: put(r, t, "330113001000"))
        if e.dated_by:
            # The same 镇街 in a record about something before it moved (2021-04-09): the old
            # district's history, loaded (and counted in no mart).
            case("town_pre2021_code_dated_before_it_moved", LOADED,
                 lambda r: _backdate(put(r, t, "330110001000"), shape, date(2021, 3, 31)))
        case("town_mojibake", {"unknown_town", "mojibake_text"},
             lambda r: put(r, t, "仁和街道".encode("utf-8").decode("gbk", errors="replace")))
        case("town_column_absent", {"missing_required_field"} if shape.town_required else LOADED,
             lambda r: _pop(r, t))
    # Text: oversize, mojibake three ways, an object where text belongs.
    text = (shape.free_text or [shape.key_field])[0]
    case("text_oversize", {"field_too_long"}, lambda r: put(r, text, "长" * 5000))
    case("text_object", {"unparseable_value"}, lambda r: put(r, text, {"value": "x"}))
    zh = shape.chinese_text
    if zh:
        original = str(get(shape.good, zh))
        case("mojibake_utf8_as_gbk", {"mojibake_text"},
             lambda r: put(r, zh, original.encode("utf-8").decode("gbk", errors="replace")))
        case("mojibake_utf8_as_latin1", {"mojibake_text"},
             lambda r: put(r, zh, original.encode("utf-8").decode("latin-1")))
        case("mojibake_gbk_as_utf8_and_back", {"mojibake_text"},
             lambda r: put(r, zh, original.encode("gbk").decode("utf-8", errors="replace")))
    for f in shape.fields("bool")[:1]:
        case("bool_garbage", {"unparseable_value"}, lambda r, f=f: put(r, f, "maybe"))
    # Keys: missing, duplicated exactly, duplicated with conflicting content.
    case("key_missing", {"missing_required_field"}, lambda r: put(r, shape.key_field, None))
    cases.append(Case("not_an_object", ["a JSON string where a record belongs"],
                      [{"unparseable_value", "missing_required_field"}]))
    conflict_a, conflict_b = shape.record("conflict"), shape.record("conflict")
    tweak = (shape.fields("decimal") or shape.fields("integer") or [text])[0]
    put(conflict_b, tweak, f"{get(conflict_b, tweak)}（更正）" if tweak.type == "text"
        else str(float(get(conflict_b, tweak)) + 1) if tweak.type == "decimal" else str(int(get(conflict_b, tweak)) + 1))
    cases.append(Case("conflicting_duplicate", [conflict_a, conflict_b],
                      [{"conflicting_duplicate"}, {"conflicting_duplicate"}]))
    # Legitimate text that looks like SQL or HTML, and an added column: all load.
    case("sql_in_key", LOADED, lambda r: put(r, shape.key_field, get(r, shape.key_field)
                                               + SQL_TEXT.format(table=e.table)))
    for name, value in [("html_in_text", HTML_TEXT), ("sql_in_text", SQL_TEXT.format(table=e.table))]:
        if shape.free_text:
            case(name, LOADED, lambda r, v=value: put(r, shape.free_text[0], v))
    case("extra_column", LOADED, lambda r: r.update(__unexpected="added by the source"))
    # Text padded with white space (an ideographic space, a tab) is the same text, trimmed.
    if shape.free_text and get(shape.good, shape.free_text[0]):
        case("text_padded", LOADED, lambda r: put(r, shape.free_text[0], f"\u3000 {get(r, shape.free_text[0])}\t"))
    # Values PostgreSQL cannot hold: kept escaped in raw, the record quarantined, its batch loads.
    if shape.free_text:
        text = shape.free_text[0]
        case("text_nul", {"unparseable_value"}, lambda r: put(r, text, f"{get(r, text)}\x00尾"))
        case("text_lone_surrogate", {"unparseable_value"}, lambda r: put(r, text, f"{get(r, text)}\ud800"))
    for f in shape.fields("decimal")[:1]:
        case(f"{f.name}_nan", {"unparseable_value"} | shape.when_null(f), lambda r, f=f: put(r, f, float("nan")))
        case(f"{f.name}_infinity", {"unparseable_value"} | shape.when_null(f), lambda r, f=f: put(r, f, float("inf")))
    cases += twins(shape)
    return cases


def twins(shape: Shape) -> list[Case]:
    """Two records that are one record as the warehouse stores it (the same key and the same
    update instant) with different content: neither may vanish; both are quarantined as a
    conflict. The key written with padding (spaces, NBSP, an ideographic space) on one of them;
    the update time written in another UTC offset on one of them."""
    out = []
    key, upd = shape.key_field, shape.updated_field
    a, b = shape.record("twin_padded_key"), shape.record("twin_padded_key")
    put(b, key, f"\u00a0 {get(b, key)}\u3000")
    if shape.free_text:
        put(b, shape.free_text[0], f"{get(b, shape.free_text[0])}（更正）")
    out.append(Case("twin_padded_key", [a, b], [{"conflicting_duplicate"}] * 2))
    if upd.type == "timestamp" and not upd.source.startswith("_"):
        c, d = shape.record("twin_other_offset"), shape.record("twin_other_offset")
        put(d, upd, _instant(get(d, upd)).astimezone(timezone.utc).isoformat().replace("+00:00", "Z"))
        if shape.free_text:
            put(d, shape.free_text[0], f"{get(d, shape.free_text[0])}（更正）")
        out.append(Case("twin_other_offset", [c, d], [{"conflicting_duplicate"}] * 2))
    return out


# -- running a batch through the real pipeline ---------------------------------------------------

def interval_of(shape: Shape) -> tuple[datetime, datetime]:
    """The day the good record falls in (by delivery for file drops, else by update time)."""
    t = _instant(shape.good.get("_delivered_at") or get(shape.good, shape.updated_field))
    start = datetime(t.year, t.month, t.day, tzinfo=TZ)
    return start, start + timedelta(days=1)


def land_batch(url: str, entity: Entity, records: list[Any], interval: tuple[datetime, datetime]) -> str:
    spool = Spool()
    try:
        spool.write(records)
        with transaction(url) as conn:
            return land(conn, entity, spool, interval=interval, query_since=interval[0],
                        extract_stats={"test": "bad input"}, dag_run_id=None).batch_id
    finally:
        spool.close()


def quarantined(url: str, batch_id: str) -> list[tuple[str | None, frozenset[str], list]]:
    with transaction(url) as conn, conn.cursor() as cur:
        cur.execute("SELECT record_key, reasons, details FROM quarantine.record WHERE batch_id = %s ORDER BY seq",
                    (batch_id,))
        return [(k, frozenset(r), d) for k, r, d in cur.fetchall()]


@dataclass
class Outcome:
    shape: Shape
    batch_id: str
    labels: list[str]                        # per seq: "clean" or the corruption's name
    expected: list[set[str] | None]          # per seq: quarantine reasons, or LOADED
    keys: dict[str, str]                     # corruption name -> its (first) record's key
    validated: dict
    loaded: dict

    def quarantined(self, url: str) -> dict[int, tuple[str, frozenset[str], list]]:
        with transaction(url) as conn, conn.cursor() as cur:
            cur.execute("SELECT seq, reasons, details FROM quarantine.record WHERE batch_id = %s", (self.batch_id,))
            return {seq: (self.labels[seq], frozenset(r), d) for seq, r, d in cur.fetchall()}


_OUTCOMES: dict[str, Outcome] = {}
FUTURE_UPDATE = "update_after_interval"
NO_UPDATE = "no_update_time"


@pytest.fixture(scope="module")
def warehouse(settings) -> str:
    """A warehouse of its own: the corpus batches must not share intervals with the end-to-end
    tests' batches in the session's test warehouse."""
    from dataclasses import replace

    from yhlaw.bootstrap import prepare_warehouse
    from yhlaw.settings import with_database

    own = replace(settings, warehouse_url=with_database(settings.warehouse_url, own_database(settings, "badinput")))
    prepare_warehouse(own, recreate=True)
    return own.warehouse_url


@pytest.fixture
def outcome(request, warehouse) -> Outcome:
    """The entity's corpus batch, landed, validated and loaded once per session."""
    entity: Entity = request.param
    key = f"{entity.source}.{entity.name}"
    if key not in _OUTCOMES:
        shape = Shape.of(entity)
        clean = [shape.record(f"C{i:03d}") for i in range(CLEAN_COPIES)]
        cases = [Case("clean", clean, [LOADED] * len(clean)), *corruptions(shape),
                 Case("exact_duplicate", [copy.deepcopy(clean[0])], [{"duplicate_record"}])]
        # An update time weeks after the batch's interval (window sources only: a file drop's
        # and a ledger's update time is not the source's to get wrong in that way).
        if load_spec(entity.source).transport["kind"] in ("http", "soap", "sql"):
            rec = shape.record(FUTURE_UPDATE)
            put(rec, shape.updated_field, _shift(get(rec, shape.updated_field), shape.updated_field, timedelta(days=40)))
            cases.append(Case(FUTURE_UPDATE, [rec], [{"future_date"}]))
            # No update time at all (a NULL in the control column): it cannot be merged in order.
            rec = shape.record(NO_UPDATE)
            put(rec, shape.updated_field, None)
            cases.append(Case(NO_UPDATE, [rec], [{"missing_required_field"}]))
        records = [r for c in cases for r in c.records]
        labels = [c.name for c in cases for _ in c.records]
        expected = [x for c in cases for x in c.expected]
        keys = {c.name: str(get(c.records[0], shape.key_field)) if isinstance(c.records[0], dict) else None
                for c in cases}
        batch_id = land_batch(warehouse, entity, records, interval_of(shape))
        validated = pipeline.validate_batch(entity, batch_id, warehouse_url=warehouse, hmac_key=HMAC_KEY)
        loaded = pipeline.load_batch(entity, batch_id, warehouse_url=warehouse)
        _OUTCOMES[key] = Outcome(shape, batch_id, labels, expected, keys, validated, loaded)
    return _OUTCOMES[key]


def core_rows(url: str, entity: Entity, batch_id: str) -> dict[str, dict]:
    with transaction(url) as conn, conn.cursor() as cur:
        cur.execute(f'SELECT to_jsonb(t) FROM core."{entity.table}" t WHERE batch_id = %s', (batch_id,))
        return {r[0][entity.natural_key]: r[0] for r in cur.fetchall()}


# -- per record: the precise reason --------------------------------------------------------------

@pytest.mark.parametrize("outcome", ENTITIES, ids=IDS, indirect=True)
def test_each_corruption_is_quarantined_with_its_precise_reasons(outcome, warehouse):
    got = outcome.quarantined(warehouse)
    actual = {seq: sorted(reasons) for seq, (label, reasons, _) in got.items()}
    expected = {seq: sorted(x) for seq, x in enumerate(outcome.expected) if x is not None}
    wrong = {outcome.labels[seq]: {"got": actual.get(seq, "loaded"), "expected": expected.get(seq, "loaded")}
             for seq in sorted(set(actual) | set(expected)) if actual.get(seq) != expected.get(seq)}
    assert not wrong, f"{outcome.shape.entity.source}.{outcome.shape.entity.name}: {wrong}"
    # The details name the field and say what is wrong with it.
    details = {label: json.dumps(d, ensure_ascii=False) for label, _, d in got.values()}
    first = outcome.shape.events[0].name
    assert f"{first}: '2022/3/1' is a date in another format than ISO 8601" in details["date_slashes"]
    assert f"{first}: '44621' looks like an Excel serial day number" in details["date_excel_serial"]
    text = (outcome.shape.free_text or [outcome.shape.key_field])[0]
    limit = text.options.get("max_length", DEFAULT_MAX_TEXT_LENGTH)
    assert f"{text.name}: 5000 characters (at most {limit})" in details["text_oversize"]
    assert "is after the record's update time" in details["date_after_update"]


@pytest.mark.parametrize("outcome", ENTITIES, ids=IDS, indirect=True)
def test_clean_records_and_legitimate_odd_text_load_and_the_batch_reconciles(outcome, warehouse):
    shape, entity = outcome.shape, outcome.shape.entity
    rows = core_rows(warehouse, entity, outcome.batch_id)
    must_load = {outcome.keys[label] for label, x in zip(outcome.labels, outcome.expected) if x is None}
    clean_keys = [f"{get(shape.good, shape.key_field)}-C{i:03d}" for i in range(CLEAN_COPIES)]
    assert set(clean_keys) - set(rows) == set(), "clean records missing from core"
    assert must_load - set(rows) == set(), "legitimate records missing from core"
    assert set(rows) - set(clean_keys) - must_load == set(), "corrupted records reached core"
    n_quarantined = sum(x is not None for x in outcome.expected)
    with transaction(warehouse) as conn, conn.cursor() as cur:
        cur.execute("SELECT status, received, loaded, quarantined FROM audit.batch WHERE batch_id = %s",
                    (outcome.batch_id,))
        status, received, loaded, quarantined_n = cur.fetchone()
        cur.execute("SELECT count(*) FROM raw.record WHERE batch_id = %s", (outcome.batch_id,))
        raw_n = cur.fetchone()[0]
        cur.execute("""SELECT success, blocking, observed FROM audit.validation_result
                       WHERE batch_id = %s AND check_name = 'schema_extra_fields'""", (outcome.batch_id,))
        extra_ok, extra_blocking, extra_observed = cur.fetchone()
    assert status == "loaded" and received == raw_n == len(outcome.labels) == loaded + quarantined_n
    assert quarantined_n == n_quarantined
    assert loaded == len(rows) and outcome.loaded["loaded"] == loaded and outcome.validated["valid"] == loaded
    assert (extra_ok, extra_blocking, extra_observed["unexpected_fields"]) == (False, False, ["__unexpected"])

    # SQL- and HTML-looking text is data: in core verbatim, nothing else about the record changed.
    twin = rows[clean_keys[0]]
    ignore = {entity.natural_key, "record_hash", "batch_id", "loaded_at"}

    def same(row: dict, col: str | None = None) -> dict:
        return {k: v for k, v in row.items() if k not in ignore | {col}}
    sql_key = outcome.keys["sql_in_key"]
    assert sql_key.endswith(SQL_TEXT.format(table=entity.table)) and same(rows[sql_key]) == same(twin)
    for label, value in [("html_in_text", HTML_TEXT), ("sql_in_text", SQL_TEXT.format(table=entity.table))]:
        if shape.free_text:
            col = shape.free_text[0].name
            row = rows[outcome.keys[label]]
            assert row[col] == value and same(row, col) == same(twin, col)
    if "text_padded" in outcome.keys:
        assert same(rows[outcome.keys["text_padded"]]) == same(twin)
    with transaction(warehouse) as conn, conn.cursor() as cur:
        cur.execute(f'SELECT count(*) FROM core."{entity.table}"')   # the table is still there
        assert cur.fetchone()[0] >= len(rows)


@pytest.mark.parametrize("outcome", ENTITIES, ids=IDS, indirect=True)
def test_typing_in_sql_equals_normalise_record_for_record(outcome, warehouse):
    """Validation types a record in SQL only where the typer vouches for it, and in Python
    (``normalise``) otherwise. Every record of the corpus, clean or corrupt, must come out the
    same both ways, and every clean record must have been typed in SQL."""
    typed_in_sql, diffs = type_both_ways(warehouse, outcome.shape.entity, outcome.batch_id)
    assert diffs == []
    clean = {seq for seq, label in enumerate(outcome.labels) if label == "clean"}
    assert clean <= typed_in_sql, f"clean records left to Python: {sorted(clean - typed_in_sql)}"
    # The drift check's key counts, stored at landing, are those of the payloads in raw.
    stored, counted = source_keys_stored_and_counted(warehouse, outcome.batch_id)
    assert stored == counted and stored


@pytest.mark.parametrize("outcome", ENTITIES[:3], ids=IDS[:3], indirect=True)
def test_validation_in_slices_finds_the_same_records_and_reasons(outcome, warehouse):
    """GX checks a typed batch a slice at a time; slices of 7 records find what one slice did."""
    before = outcome.quarantined(warehouse)
    sliced = pipeline.validate_batch(outcome.shape.entity, outcome.batch_id, warehouse_url=warehouse, hmac_key=HMAC_KEY,
                               slice_rows=7, accepted=True)
    after = outcome.quarantined(warehouse)
    loaded = pipeline.load_batch(outcome.shape.entity, outcome.batch_id, warehouse_url=warehouse)
    assert len(outcome.labels) > 3 * 7
    assert {s: r for s, (_, r, _) in after.items()} == {s: r for s, (_, r, _) in before.items()}
    assert sliced["reasons"] == outcome.validated["reasons"]
    assert (loaded["new_versions"], loaded["core_rows_changed"]) == (0, 0)


@pytest.mark.parametrize("outcome", [e for e in ENTITIES if load_spec(e.source).transport["kind"] in ("http", "soap", "sql")],
                         ids=[i for e, i in zip(ENTITIES, IDS) if load_spec(e.source).transport["kind"] in ("http", "soap", "sql")],
                         indirect=True)
def test_an_update_time_after_the_batch_interval_is_a_future_date(outcome, warehouse):
    got = {label: reasons for label, reasons, _ in outcome.quarantined(warehouse).values()}
    assert got.get(FUTURE_UPDATE) == frozenset({"future_date"})


def test_future_dates_against_the_interval_end_once_the_caller_gives_it():
    """The normalise half of the rule above (the test above runs it through the pipeline): an
    update time after the interval end (+ tolerance) is a future date; snapshot sources ignore
    the interval."""
    rows = [("330110009000", "330110009000", True)]
    ctx = Context(TownResolver.from_rows(rows), PartyKeyer("k"), interval_end=datetime(2022, 3, 2, tzinfo=TZ))
    case = Shape.of(load_spec("enforcement").entities["case"])
    late = case.record("late")
    late["updatedAt"] = "2022-03-02T00:30:00+08:00"
    within = case.record("within")
    within["updatedAt"] = "2022-03-02T00:05:00+08:00"          # within the 10 minutes' tolerance
    frame = normalise([case.good, late, within], case.entity, ctx)
    assert frame["_future_dates"].isna().tolist() == [True, False, True]
    assert "after the batch's interval end 2022-03-02T00:00:00+08:00" in frame.at[1, "_future_dates"]
    ledger = Shape.of(load_spec("ledgers").entities["publicity"])
    frame = normalise([ledger.good], ledger.entity, Context(TownResolver.from_rows(rows), PartyKeyer("k"),
                                                            interval_end=datetime(2021, 1, 1, tzinfo=TZ)))
    assert frame["_future_dates"].isna().all(), "a ledger is a snapshot: the run's interval says nothing"


# -- whole batches that are unusable --------------------------------------------------------------

@pytest.mark.parametrize("entity", ENTITIES, ids=IDS)
def test_a_required_column_missing_from_the_whole_batch_rejects_it_naming_field_and_batch(entity, warehouse):
    shape = Shape.of(entity)
    start, end = interval_of(shape)
    records = []
    for i in range(25):
        rec = shape.record(f"D{i:03d}")
        rec[f"{entity.key}_renamed"] = rec.pop(entity.key)
        records.append(rec)
    batch_id = land_batch(warehouse, entity, records, (start + timedelta(days=7), end + timedelta(days=7)))
    with pytest.raises(pipeline.BatchRejected) as err:
        pipeline.validate_batch(entity, batch_id, warehouse_url=warehouse, hmac_key=HMAC_KEY)
    message = str(err.value)
    assert f"batch {batch_id} rejected" in message
    assert "schema_drift (schema_missing_fields)" in message
    assert f'"missing_fields": ["{entity.key}"]' in message
    with transaction(warehouse) as conn, conn.cursor() as cur:
        cur.execute("SELECT status, error FROM audit.batch WHERE batch_id = %s", (batch_id,))
        status, error = cur.fetchone()
        cur.execute("SELECT count(*) FROM quarantine.record WHERE batch_id = %s", (batch_id,))
        in_quarantine = cur.fetchone()[0]
        cur.execute(f'SELECT count(*) FROM core."{entity.table}" WHERE batch_id = %s', (batch_id,))
        in_core = cur.fetchone()[0]
    assert status == "rejected" and entity.key in error and in_quarantine == in_core == 0


class _Sink(Spool):
    def reset(self) -> None:
        super().reset()
        self.items: list = []

    def write(self, items) -> None:
        super().write(items)
        self.items.extend(items)


HTTP_ENTITIES = [e for e in ENTITIES if load_spec(e.source).transport["kind"] == "http"]


def _fake_http(body: bytes):
    def request(method, url, **kwargs):
        resp = requests.Response()
        resp.status_code, resp.url = 200, url
        resp.headers["Content-Type"] = "application/json"
        resp._content = json.dumps({"access_token": "t", "expires_in": 300}).encode() \
            if url.endswith("/oauth/token") else body
        return resp
    return request


@pytest.mark.parametrize("entity", HTTP_ENTITIES, ids=[f"{e.source}.{e.name}" for e in HTTP_ENTITIES])
@pytest.mark.parametrize("body, says", [
    (b'{"total": 2, "items": [{"caseNo": "A", "updatedAt": "2022-03-01T10:00:00+08:00"}, {"caseNo": "B", "upd',
     ["is not JSON", "line 1 column", "char"]),
    (b'{"total": 1, "items": [{"caseNo": "A",, "x": 1}]}', ["is not JSON", "line 1 column 39 (char 38)",
                                                           "Expecting property name"]),
    (b'[{"caseNo": "A"}]', ["is a list, not an object"]),
    (b'{"total": 1, "items": {"caseNo": "A"}}', ["page without items"]),
])
def test_a_malformed_json_page_fails_the_read_naming_endpoint_page_and_position(entity, body, says):
    spec = load_spec(entity.source)
    client = HttpSourceClient(SourceConnection("http", "source.invalid", 8801, "http", "id", "secret"),
                              spec.transport, max_attempts=2, sleep=lambda s: None)
    client.session.request = _fake_http(body)
    with pytest.raises(SourceError) as err:
        client.read_window(entity.path, datetime(2022, 3, 1, tzinfo=TZ), datetime(2022, 3, 2, tzinfo=TZ), _Sink())
    message = str(err.value)
    assert f"GET {entity.path}" in message and "gave up after 2 attempts" in message
    for s in says:
        assert s in message, message
    # Where, never what: no value of the page is quoted (pages carry names and ID numbers).
    assert "2022-03-01T10:00:00" not in message and '"A"' not in message, message
    assert client.stats.retries["malformed"] == 2


SOAP_ENTITIES = [e for e in ENTITIES if load_spec(e.source).transport["kind"] == "soap"]


def _fake_soap(body: bytes):
    def post(url, **kwargs):
        resp = requests.Response()
        resp.status_code, resp.url, resp._content = 200, url, body
        return resp
    return post


@pytest.mark.parametrize("entity", SOAP_ENTITIES, ids=[f"{e.source}.{e.name}" for e in SOAP_ENTITIES])
@pytest.mark.parametrize("body, says", [
    (b'<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><x><total>1</total>'
     b'<records><record><caseNo>A', ["not well-formed XML", "at line 1"]),
    (b'<html><body>A</body></html>', ["not a SOAP envelope"]),
    (b'<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><other>A</other></soap:Body>'
     b'</soap:Envelope>',
     ["Response> in the SOAP Body"]),
])
def test_a_malformed_soap_page_fails_the_read_naming_operation_and_position(entity, body, says):
    from yhlaw.readers import open_reader

    reader = open_reader(SourceConnection("http", "source.invalid", 8801, "http", "id", "secret"),
                         load_spec(entity.source).transport, max_attempts=2, sleep=lambda s: None)
    reader.session.post = _fake_soap(body)
    with pytest.raises(SourceError) as err:
        reader.read_window(entity.path, datetime(2022, 3, 1, tzinfo=TZ), datetime(2022, 3, 2, tzinfo=TZ), _Sink())
    message = str(err.value)
    assert entity.path in message and "gave up after 2 attempts" in message
    for s in says:
        assert s in message, message
    assert ">A<" not in message and "caseNo>A" not in message, message      # where, never what
    assert reader.stats.retries["malformed"] == 2


def _deliver(folder: Path, name: str, data: bytes, *, rows: int, fmt: str = "csv", encoding: str = "gbk",
             delivered: datetime = datetime(2022, 3, 2, 6, 30, tzinfo=TZ), export_date: str = "2022-03-01") -> None:
    (folder / name).write_bytes(data)
    (folder / f"{name}.manifest.json").write_text(json.dumps({
        "file": name, "entity": name.split("_")[0], "format": fmt, "encoding": encoding, "rows": rows,
        "sha256": hashlib.sha256(data).hexdigest(), "delivered_at": delivered.isoformat(),
        "export_date": export_date, "version": 1}))


def _drop(folder: Path) -> FileDropReader:
    return FileDropReader(SourceConnection("fs", "", None, "", "", "", (("path", str(folder)),)),
                          {"kind": "file_drop", "max_attempts": 2, "backoff_seconds": 0.01})


def _xlsx(rows: list[list[Any]], merges: tuple[str, ...] = ()) -> bytes:
    wb = Workbook()
    for r in rows:
        wb.active.append(r)
    for cells in merges:
        top = wb.active[cells.split(":")[0]].value
        wb.active.merge_cells(cells)
        wb.active[cells.split(":")[0]] = top
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


HEADER = "案号,案件类型,立案日期,住所地\n"
GOOD_ROW = "(2022)浙0110民初1号,民事,2022-03-01,330110013000\n"


@pytest.mark.parametrize("name, data, rows, fmt, says", [
    ("cases_20220301.csv", (HEADER + GOOD_ROW + "(2022)浙0110民初2号,民事,2022-03-01,余杭,街道\n").encode("gbk"), 2, "csv",
     ["cases_20220301.csv: line 3: 5 fields, the header has 4"]),
    ("cases_20220301.csv", (HEADER + GOOD_ROW + '"(2022)浙0110民初2号,民事,2022-03-01,330110013000\n').encode("gbk"), 2,
     "csv", ["cases_20220301.csv: line 3: malformed CSV: unexpected end of data"]),
    ("cases_20220301.csv", (HEADER + GOOD_ROW).encode("gbk") + b"(2022)\xff\xfe,\xa1,2022-03-01,x\n", 2, "csv",
     ["cases_20220301.csv: not decodable as gbk, UTF-8 or GB18030", "line 3, byte"]),
    ("cases_20220301.csv", (HEADER + GOOD_ROW).encode("gbk"), 3, "csv",
     ["cases_20220301.csv: manifest announces 3 rows, file has 1"]),
    ("cases_20220301.csv", ("案号,案号,立案日期\n" + "a,b,2022-03-01\n").encode("gbk"), 1, "csv",
     ["line 1: duplicate column names ['案号']"]),
    ("cases_20220301.csv", b"", 0, "csv", ["cases_20220301.csv: line 1: no header"]),
    ("cases_20220301.xlsx", b"PK\x03\x04 this is not a workbook", 1, "xlsx",
     ["cases_20220301.xlsx: not a readable XLSX workbook", "BadZipFile"]),
    ("cases_20220301.xlsx", _xlsx([["案号", "立案日期"], ["(2022)浙0110民初1号", "2022-03-01"]])[:900], 1, "xlsx",
     ["cases_20220301.xlsx: not a readable XLSX workbook"]),
    ("cases_20220301.xlsx", _xlsx([["案号", "立案日期"], ["(2022)浙0110民初1号", "2022-03-01", "多出来的"]]), 1, "xlsx",
     ["cases_20220301.xlsx: row 2 has values in columns without a header: column(s) [3]"]),
    ("cases_20220301.xlsx", _xlsx([]), 0, "xlsx", ["cases_20220301.xlsx: ", "no header"]),
], ids=["csv_extra_field", "csv_open_quote", "csv_undecodable", "csv_truncated", "csv_duplicate_header", "csv_empty",
        "xlsx_not_a_zip", "xlsx_truncated", "xlsx_cells_beyond_header", "xlsx_empty"])
def test_an_unusable_file_fails_the_read_naming_file_and_line(tmp_path, name, data, rows, fmt, says):
    _deliver(tmp_path, name, data, rows=rows, fmt=fmt)
    with pytest.raises(SourceError) as err:
        _drop(tmp_path).read_window("cases_*", datetime(2022, 3, 2, tzinfo=TZ), datetime(2022, 3, 3, tzinfo=TZ), _Sink())
    for s in says:
        assert s in str(err.value), str(err.value)
    # Positions, never values: no cell of a data row (case numbers, names, the stray cell) is quoted.
    assert not any(v in str(err.value) for v in ("民初", "多出来的", "\\x")), str(err.value)


@pytest.mark.parametrize("change, says", [
    (lambda m: "{not json", "the manifest is not JSON"),
    (lambda m: [m], "is a list, not an object"),
    (lambda m: {k: v for k, v in m.items() if k != "delivered_at"}, "delivered_at"),
    (lambda m: {**m, "delivered_at": "2022-03-02T06:30:00"}, "delivered_at (no UTC offset)"),
    (lambda m: {**m, "delivered_at": "昨天"}, "delivered_at (not ISO 8601)"),
    (lambda m: {**m, "rows": "1"}, "rows (not a count)"),
    (lambda m: {**m, "rows": -1}, "rows (not a count)"),
    (lambda m: {**m, "sha256": None}, "sha256"),
    (lambda m: {**m, "export_date": "20220301X"}, "export_date (not a date)"),
    (lambda m: {**m, "version": 0}, "version (not a positive integer)"),
    (lambda m: {**m, "file": "cases_20220302.csv"}, "file (names another file)"),
], ids=["not_json", "not_object", "no_delivery_time", "naive_delivery_time", "delivery_time_text", "rows_text",
        "rows_negative", "no_checksum", "export_date", "version_zero", "other_file"])
def test_an_odd_manifest_fails_the_read_naming_manifest_and_field(tmp_path, change, says):
    """A delivery time, row count or checksum that cannot be read exactly is not guessed: the
    read fails (and retries), naming the manifest and the field, never a value of the file."""
    _deliver(tmp_path, "cases_20220301.csv", (HEADER + GOOD_ROW).encode("gbk"), rows=1)
    path = tmp_path / "cases_20220301.csv.manifest.json"
    changed = change(json.loads(path.read_text()))
    path.write_text(changed if isinstance(changed, str) else json.dumps(changed, ensure_ascii=False))
    with pytest.raises(SourceError) as err:
        _drop(tmp_path).read_window("cases_*", datetime(2022, 3, 2, tzinfo=TZ), datetime(2022, 3, 3, tzinfo=TZ), _Sink())
    assert "cases_20220301.csv.manifest.json" in str(err.value) and says in str(err.value), str(err.value)
    assert "民初" not in str(err.value) and "昨天" not in str(err.value)


def test_a_malformed_ledger_file_fails_the_read_naming_file_and_line(tmp_path):
    (tmp_path / "staffing.csv").write_text("台账编号,统计日期,部门代码\n2022Q1-A,2022-03-31,YH-ZHZF\n2022Q1-B,2022-03-31\n",
                                           encoding="utf-8")
    reader = LedgerFileReader(SourceConnection("fs", "", None, "", "", "", (("path", str(tmp_path)),)),
                              {"kind": "ledger_file"})
    with pytest.raises(SourceError, match=r"staffing\.csv: line 3: 2 fields, the header has 3"):
        reader.read_window("staffing*.csv", datetime(2022, 4, 1, tzinfo=TZ), datetime(2022, 4, 2, tzinfo=TZ), _Sink())


def test_court_files_with_wrong_encodings_and_excel_dates_through_reader_and_pipeline(tmp_path, warehouse):
    """Through the file-drop reader and the real pipeline: a GBK file declared UTF-8 is read
    right (harmless); rows whose text was mangled before export (UTF-8 shown as GBK, GBK shown
    as UTF-8 and saved again) are quarantined as mojibake_text; an XLSX date cell holding an
    Excel serial number is date_format_not_iso, a real date cell loads; a formula saved without
    its result is quarantined (never read as an empty cell); a merged cell holds for its rows."""
    entity = load_spec("courts").entities["case"]
    header = ["案号", "案件类型", "案由", "审判程序", "立案日期", "立案方式", "庭审方式", "电子卷宗随案生成", "电子督促程序",
              "结案日期", "结案方式", "当事人类型", "当事人名称", "证件号码", "住所地", "诉前委派编号", "执行依据案号", "原案号",
              "调解案件编号", "当事人"]
    parties = json.dumps([{"诉讼地位": "原告", "类型": "法人", "名称": "杭州径嘉餐饮管理有限公司", "证件号码": "913301100GF3AQ776T"}],
                         ensure_ascii=False)

    def row(n: int, **over: Any) -> list[Any]:
        r = dict(zip(header, [f"(2022)浙0110民初{n}号", "民事", "劳动争议", "一审普通程序", "2022-02-20", "网上立案", "在线庭审",
                              "是", "否", "2022-03-01", "调解", "法人", "杭州径嘉餐饮管理有限公司", "913301100GF3AQ776T",
                              "仁和街道", "", "", "", "", parties]))
        r.update(over)
        return [r[h] for h in header]

    def csv_bytes(rows: list[list[Any]], encoding: str) -> bytes:
        import csv as _csv
        buf = io.StringIO()
        _csv.writer(buf, lineterminator="\n").writerows([header, *rows])
        return buf.getvalue().encode(encoding)

    mislabelled = [row(n) for n in range(1, 21)]                       # GBK bytes, declared UTF-8
    mangled = [row(21), row(22, 案由="劳动争议".encode("utf-8").decode("gbk", errors="replace")),
               row(23, 案由="劳动争议".encode("gbk").decode("utf-8", errors="replace")),
               row(24, 住所地="仁和街道".encode("utf-8").decode("gbk", errors="replace"))] + [row(n) for n in range(25, 41)]
    _deliver(tmp_path, "cases_20220301.csv", csv_bytes(mislabelled, "gbk"), rows=20, encoding="utf-8")
    _deliver(tmp_path, "cases_20220301b.csv", csv_bytes(mangled, "utf-8"), rows=20, encoding="utf-8",
             delivered=datetime(2022, 3, 2, 7, tzinfo=TZ))
    # 43: a formula saved without its result; 44-46: 案由 merged over three rows (C5:C7).
    excel = [row(41, 立案日期=44612), row(42, 立案日期=datetime(2022, 2, 20)), row(43, 立案日期="=DATE(2022,2,20)")] + [
        row(n) for n in range(44, 61)]
    _deliver(tmp_path, "cases_20220301.xlsx", _xlsx([header, *excel], merges=("C5:C7",)), rows=20, fmt="xlsx",
             delivered=datetime(2022, 3, 2, 8, tzinfo=TZ))
    window = pipeline.window_for("courts", datetime(2022, 3, 2, tzinfo=TZ), datetime(2022, 3, 3, tzinfo=TZ))
    extracted = pipeline.extract_batch(entity, window, warehouse_url=warehouse,
                                 connection=SourceConnection("fs", "", None, "", "", "", (("path", str(tmp_path)),)))
    assert extracted["received"] == 60 and extracted["extract"]["retries"] == {"encoding_mismatch": 1}
    pipeline.validate_batch(entity, extracted["batch_id"], warehouse_url=warehouse, hmac_key=HMAC_KEY)
    counts = pipeline.load_batch(entity, extracted["batch_id"], warehouse_url=warehouse)
    got = {k: set(r) for k, r, _ in quarantined(warehouse, extracted["batch_id"])}
    assert got == {"(2022)浙0110民初22号": {"mojibake_text"}, "(2022)浙0110民初23号": {"mojibake_text"},
                   "(2022)浙0110民初24号": {"unknown_town", "mojibake_text"},
                   "(2022)浙0110民初41号": {"date_format_not_iso", "missing_required_field"},
                   "(2022)浙0110民初43号": {"unparseable_value", "missing_required_field"}}
    details = {k: json.dumps(d, ensure_ascii=False) for k, _, d in quarantined(warehouse, extracted["batch_id"])}
    assert "formula whose result the file does not carry" in details["(2022)浙0110民初43号"]
    assert (counts["received"], counts["loaded"], counts["quarantined"]) == (60, 55, 5)
    assert [r["cause"] for k, r in core_rows(warehouse, entity, extracted["batch_id"]).items()
            if k in ("(2022)浙0110民初44号", "(2022)浙0110民初45号", "(2022)浙0110民初46号")] == ["劳动争议"] * 3
    rows = core_rows(warehouse, entity, extracted["batch_id"])
    assert rows["(2022)浙0110民初1号"]["cause"] == "劳动争议" and rows["(2022)浙0110民初1号"]["town_code"] == "330110009000"
    assert rows["(2022)浙0110民初42号"]["filed_on"] == "2022-02-20"


# -- the rules cover every entity ----------------------------------------------------------------

@pytest.mark.parametrize("entity", ENTITIES, ids=IDS)
def test_every_suite_has_the_generic_rules_and_every_amount_a_range(entity):
    rules = suite_rules(entity)
    critical = {(r["kwargs"].get("column"), r["meta"]["reason"]) for r in rules if r.get("severity") == "critical"}
    for column, reason in HELPER_COLUMNS.items():
        assert (column, reason) in critical, f"{entity.suite}: no critical rule on {column} ({reason})"
    # The control columns: a record without its key or its update time cannot be merged.
    for column in (entity.natural_key, entity.updated_column):
        assert (column, "missing_required_field") in critical, f"{entity.suite}: {column} may be NULL"
    for f in entity.fields:
        if f.type == "decimal":
            assert (f.name, "amount_out_of_range") in critical, f"{entity.suite}: amount {f.name} has no range"
        if f.type == "integer":
            assert (f.name, "count_out_of_range") in critical, f"{entity.suite}: count {f.name} has no range"
    undescribed = [r["meta"]["check"] for r in rules if r["kwargs"].get("column") in HELPER_COLUMNS
                   and not r["meta"].get("description")]
    assert not undescribed, f"{entity.suite}: rules without meta.description: {undescribed}"


ONE_PER_TRANSPORT = list({load_spec(e.source).transport["kind"]: e for e in ENTITIES}.values())


@pytest.mark.parametrize("entity", ONE_PER_TRANSPORT, ids=[f"{e.source}.{e.name}" for e in ONE_PER_TRANSPORT])
def test_a_batch_of_one_record_is_checked_too(entity, warehouse):
    """A day with a single record (a 复核 re-score, a quiet 督办 day) is a batch of one, seq 0:
    the suite runs over it like any other, and a bad record is quarantined, not loaded (it
    once slipped through unchecked and failed core's CHECK in the merge)."""
    shape = Shape.of(entity)
    rec = shape.record("alone")
    put(rec, shape.key_field, None)
    start, end = interval_of(shape)
    batch = land_batch(warehouse, entity, [rec], (start + timedelta(days=5), end + timedelta(days=5)))
    validated = pipeline.validate_batch(entity, batch, warehouse_url=warehouse, hmac_key=HMAC_KEY)
    loaded = pipeline.load_batch(entity, batch, warehouse_url=warehouse)
    (_, reasons, _), = quarantined(warehouse, batch)
    assert "missing_required_field" in reasons and validated["quarantined"] == loaded["quarantined"] == 1


@pytest.mark.parametrize("entity", ENTITIES, ids=IDS)
def test_a_changed_record_with_the_same_update_time_is_quarantined_not_dropped(entity, warehouse):
    """A second delivery of a record under the same key and update time but with other content
    (a file re-delivered corrected under the same name and version; a ledger row edited without
    moving its date): the stored version stays, the new content is quarantined with its reason,
    the batch reconciles. The same content delivered again changes nothing."""
    shape = Shape.of(entity)
    field = (shape.free_text or shape.fields("decimal", "integer"))[0]
    first = [shape.record("resent")] + [shape.record(f"R{i:03d}") for i in range(30)]
    start, end = interval_of(shape)
    batch1 = land_batch(warehouse, entity, first, (start, end))
    pipeline.validate_batch(entity, batch1, warehouse_url=warehouse, hmac_key=HMAC_KEY)
    pipeline.load_batch(entity, batch1, warehouse_url=warehouse)
    changed = copy.deepcopy(first)
    value = get(changed[0], field)
    put(changed[0], field, f"{value}（更正）" if field.type == "text" else str(int(float(value or 0)) + 1))
    batch2 = land_batch(warehouse, entity, changed, (start + timedelta(days=1), end + timedelta(days=1)))
    pipeline.validate_batch(entity, batch2, warehouse_url=warehouse, hmac_key=HMAC_KEY)
    loaded = pipeline.load_batch(entity, batch2, warehouse_url=warehouse)
    (record_key, reasons, details), = quarantined(warehouse, batch2)
    assert reasons == {"changed_without_new_update_time"} and details[0]["stored_batch"] == batch1
    assert loaded["received"] == len(changed) and loaded["quarantined"] == 1
    key = str(get(first[0], shape.key_field)).strip()
    with transaction(warehouse) as conn, conn.cursor() as cur:
        cur.execute(sql.SQL("SELECT batch_id FROM {} WHERE {} = %s").format(
            sql.Identifier("core", entity.table), sql.Identifier(entity.natural_key)), (key,))
        assert cur.fetchone()[0] == batch1, "the stored version was replaced"
    again = land_batch(warehouse, entity, first, (start + timedelta(days=2), end + timedelta(days=2)))
    pipeline.validate_batch(entity, again, warehouse_url=warehouse, hmac_key=HMAC_KEY)
    pipeline.load_batch(entity, again, warehouse_url=warehouse)
    assert quarantined(warehouse, again) == []


@pytest.mark.parametrize("entity", ENTITIES, ids=IDS)
def test_a_core_row_whose_newer_version_is_quarantined_says_so(entity, warehouse):
    """Core keeps the last clean version when a newer one is quarantined; the row carries
    stale_since (the newer version's update time) and mart.stale_rows counts it, until a clean
    newer version arrives."""
    shape = Shape.of(entity)
    upd, first = shape.updated_field, shape.events[0]
    base = [shape.record("stale")] + [shape.record(f"S{i:03d}") for i in range(30)]
    start, end = interval_of(shape)
    versions = []
    for hours, dirty in ((0, False), (1, True), (2, False)):
        records = copy.deepcopy(base)
        put(records[0], upd, _shift(get(base[0], upd), upd, timedelta(hours=hours)))
        if dirty:
            put(records[0], first, "下周三")
        batch = land_batch(warehouse, entity, records, (start + timedelta(days=5 + hours), end + timedelta(days=5 + hours)))
        pipeline.validate_batch(entity, batch, warehouse_url=warehouse, hmac_key=HMAC_KEY)
        pipeline.load_batch(entity, batch, warehouse_url=warehouse)
        with transaction(warehouse) as conn, conn.cursor() as cur:
            cur.execute(sql.SQL("SELECT {}, stale_since FROM {} WHERE {} = %s").format(
                sql.Identifier(entity.updated_column), sql.Identifier("core", entity.table),
                sql.Identifier(entity.natural_key)), (str(get(base[0], shape.key_field)),))
            versions.append(cur.fetchone())
            cur.execute("SELECT stale_rows FROM mart.stale_rows WHERE source = %s AND entity = %s",
                        (entity.source, entity.name))
            versions[-1] += cur.fetchone()
    (u0, s0, n0), (u1, s1, n1), (u2, s2, n2) = versions
    assert s0 is None and u1 == u0 and s1 is not None and s1 > u0 and n1 == n0 + 1, versions
    assert u2 > s1 and s2 is None and n2 == n0, versions
