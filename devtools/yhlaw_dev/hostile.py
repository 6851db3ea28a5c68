"""Hostile sources (``make reliability``, ``python -m yhlaw_dev reliability --hostile``).

The simulators misbehave only in the ways they were built to. Here each transport gets a fake of
our own that serves what a hostile or broken system would, through the platform's real readers,
typing, GX validation and merge into a warehouse of its own, and everything is reconciled with
what the fake served:

- **lost**: served records found neither in core (a version from this batch) nor in quarantine,
  counted per key after normalisation (twins that collapse onto one key must all be accounted);
- **altered**: a record in core whose key, update instant or probed text differs from what was
  served (text must arrive verbatim; instants compared as instants);
- **let through**: a record that must be quarantined (NUL, lone surrogate, NaN, a decimal comma,
  an amount with more decimals than the column, no update time) but is in core;
- **PII in messages**: any served name, ID or phone number in a log line, exception or
  ``audit.batch`` error the run produced.

Transport tricks that cannot be read whole (a page served twice, a cursor that loops, an XML export
or a SOAP answer that declares entities to expand or fetch, a storm of SOAP faults, pages without
end, a body beyond its bound) must fail the read with a PII-free error and land nothing.
"""

from __future__ import annotations

import copy
import csv
import io
import json
import logging
import threading
import unicodedata
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable, Iterator
from urllib.parse import parse_qs, urlsplit

from psycopg2 import sql

from yhlaw import pipeline
from yhlaw.normalise import get_path
from yhlaw.paths import PROJECT_ROOT
from yhlaw.readers import SourceConnection, SourceError
from yhlaw.spec import Entity, Field, load_spec
from yhlaw.warehouse import connect, transaction

CST = timezone(timedelta(hours=8))
DAY = datetime(2022, 3, 1, tzinfo=CST)
GOOD = json.loads((PROJECT_ROOT / "tests" / "corpus" / "good_records.json").read_text(encoding="utf-8"))
CLEAN = 160                     # enough that the hostile records stay under max_quarantine_ratio
HMAC_KEY = "hostile-mode-key"  # not a secret: the party keys of a throwaway warehouse
TRANSPORTS = {"http_page": "enforcement.case", "http_cursor": "petitions.petition",
              "file_drop_csv": "courts.case", "file_drop_xlsx": "courts.case", "sql": "mediation.case",
              "file_drop_xml": "admin_review.reconsideration", "sql_mysql": "corrections.person",
              "soap": "gov_service.case"}
NAN = "__NaN__"                 # rendered as a bare NaN token in a JSON body
# What each transport trick must come to: refused (it cannot be read whole), or read whole.
TRICKS = {"repeat_page": "refused, nothing landed", "cursor_loop": "refused, nothing landed",
          "overlapping_pages": "read whole", "xml_entity_expansion": "refused, nothing landed",
          "xml_external_entity": "refused, nothing landed", "soap_fault_storm": "refused, nothing landed",
          "endless_pages": "refused, nothing landed", "huge_body": "refused, nothing landed"}
# An XML export that declares entities: expansion (billion laughs) or a file/URL fetched by the parser.
XML_DOCTYPES = {"xml_entity_expansion": '<!DOCTYPE 导出 [<!ENTITY a "哈哈哈哈哈哈哈哈"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">'
                                        '<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;">]>',
                "xml_external_entity": '<!DOCTYPE 导出 [<!ENTITY c SYSTEM "file:///etc/passwd">]>'}
PII_KEYS = ("name", "idNo", "phone", "当事人名称", "证件号码", "xm", "zjhm", "lxdh", "手机号码")


@dataclass
class Probe:
    name: str
    record: dict
    expect: str = "either"      # core | quarantine | either
    text: tuple[str, str] | None = None   # (core column, exact value) that must hold in core


@dataclass
class Result:
    transport: str
    entity: str
    served: int = 0
    received: int = 0
    loaded: int = 0
    quarantined: int = 0
    lost: int = 0
    altered: int = 0
    let_through: int = 0
    wrongly_quarantined: int = 0
    pii_messages: int = 0
    tricks: dict[str, str] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.lost or self.altered or self.let_through or self.pii_messages or self.problems
                    or any(v != TRICKS[k] for k, v in self.tricks.items()))


# -- the records --------------------------------------------------------------------------------

def entity_of(name: str) -> Entity:
    source, entity = name.split(".")
    return load_spec(source).entities[entity]


def field_of(entity: Entity, column: str) -> Field:
    return next(f for f in entity.fields if f.name == column)


def put(record: dict, f: Field, value: Any) -> None:
    *path, last = f.source.split(".")
    target: Any = record
    for part in path:
        target = target[int(part)] if isinstance(target, list) else target[part]
    target[last] = value


def get(record: dict, f: Field) -> Any:
    return get_path(record, f.source)


def norm_key(value: Any) -> str | None:
    """The key as an independent reader would compare it: NFKC (full width to ASCII), trimmed
    of every kind of white space."""
    if value is None:
        return None
    return unicodedata.normalize("NFKC", str(value)).strip() or None


def probes(entity: Entity, transport: str) -> list[Probe]:
    """Clean copies and hostile variants of the entity's known-good record."""
    good = GOOD[f"{entity.source}.{entity.name}"]
    key, updated = field_of(entity, entity.natural_key), field_of(entity, entity.updated_column)
    text = next(f for f in entity.fields if f.type == "text" and f.name not in (entity.natural_key,)
                and not f.source.startswith("_") and "map" not in f.options)

    tag = transport.replace("_", "")
    good = copy.deepcopy(good)
    put(good, key, f"{get(good, key)}-{tag}")       # each transport its own keys

    def variant(name: str, n: int, expect: str = "either", **changes: Any) -> Probe:
        rec = copy.deepcopy(good)
        put(rec, key, f"{get(good, key)}-{name}-{n}")
        for column, value in changes.items():
            put(rec, field_of(entity, column) if column in entity.columns else text, value)
        return Probe(name, rec, expect)

    out = [variant("clean", n, "core") for n in range(CLEAN)]
    out += _text_probes(entity, text, variant, transport)
    out += _key_twins(good, key, text)
    if not updated.source.startswith("_"):           # the source's own update time (not a file's)
        out += _instant_probes(good, key, updated, text, transport)
    out += _amount_probes(entity, variant, transport)
    return out


def _text_probes(entity, text: Field, variant, transport: str) -> list[Probe]:
    out = []
    for n, value in enumerate(["'); DROP TABLE core.x;--", "<script>alert(1)</script>", "第一行\n第二行", "  前后空格  "]):
        p = variant("text", n)
        put(p.record, text, value)
        p.text = (text.name, value.strip())
        out.append(p)
    if transport != "file_drop_xlsx":    # in a CSV or an API "=1+1" is text; in a workbook a formula
        p = variant("text", 9)
        put(p.record, text, "=1+1")
        p.text = (text.name, "=1+1")
        out.append(p)
    bad = {"http_page": ["含\x00空字符", "\ud800孤立代理"], "http_cursor": ["含\x00空字符", "\ud800孤立代理"],
           "sql": [], "file_drop_csv": [], "file_drop_xlsx": ["=1+1"], "file_drop_xml": [],
           "sql_mysql": ["含\x00空字符"], "soap": []}[transport]   # XML 1.0 carries neither NUL nor a surrogate   # MariaDB stores a NUL in text; PostgreSQL cannot
    for n, value in enumerate(bad):
        p = variant("unrepresentable", n, "quarantine")
        put(p.record, text, value)
        out.append(p)
    return out


def _key_twins(good: dict, key: Field, text: Field) -> list[Probe]:
    """One key written four ways that normalise to the same key, each with other content."""
    base = f"{get(good, key)}-twin"
    forms = [base, f" {base} ", f"{base}\u00a0", unicodedata.normalize("NFKC", base).translate(
        {c: c + 0xFEE0 for c in range(0x21, 0x7F)})]
    out = []
    for n, form in enumerate(forms):
        rec = copy.deepcopy(good)
        put(rec, key, form)
        put(rec, text, f"版本{n}")
        out.append(Probe("key_twin", rec))
    return out


def _instant_probes(good: dict, key: Field, updated: Field, text: Field, transport: str) -> list[Probe]:
    """The same instant written in two UTC offsets, with different content: a conflict."""
    if transport.startswith("sql"):       # the database stores local time without a zone
        return _mysql_probes(good, key, updated) if transport == "sql_mysql" else []
    moment = datetime.fromisoformat(str(get(good, updated))).astimezone(CST)
    out = []
    for n, written in enumerate([moment.isoformat(), moment.astimezone(timezone.utc).isoformat()]):
        rec = copy.deepcopy(good)
        put(rec, key, f"{get(good, key)}-offsets")
        put(rec, updated, written)
        put(rec, text, f"版本{n}")
        out.append(Probe("same_instant_two_offsets", rec))
    rec = copy.deepcopy(good)
    put(rec, key, f"{get(good, key)}-no-update")
    put(rec, updated, None)
    out.append(Probe("no_update_time", rec, "quarantine"))
    return out


def _mysql_probes(good: dict, key: Field, updated: Field) -> list[Probe]:
    """What a MySQL/MariaDB that enforces nothing holds (sql_mode without NO_ZERO_DATE, no NOT
    NULL): no update time, zero dates as update time and as a date (read back as text)."""
    out = []
    for name, column, value in (("no_update_time", updated.source, None),
                                ("zero_update_time", updated.source, "0000-00-00 00:00:00"),
                                ("zero_date", "rjrq", "0000-00-00")):
        rec = copy.deepcopy(good)
        put(rec, key, f"{get(good, key)}-{name}")
        rec[column] = value
        out.append(Probe(name, rec, "quarantine"))
    return out


def _amount_probes(entity: Entity, variant, transport: str) -> list[Probe]:
    amounts = [f for f in entity.fields if f.type == "decimal"]
    if not amounts:
        return []
    column = amounts[0].name
    bad = ["16,00", "1600.005"] + ([NAN] if transport.startswith("http") else [])
    return [variant("amount", n, "quarantine", **{column: v}) for n, v in enumerate(bad)]


def pii_values(served: list[Probe]) -> set[str]:
    values: set[str] = set()

    def walk(v: Any, k: str = "") -> None:
        if isinstance(v, dict):
            for kk, vv in v.items():
                walk(vv, kk)
        elif isinstance(v, list):
            for vv in v:
                walk(vv, k)
        elif k in PII_KEYS and isinstance(v, str) and len(v) >= 2:
            values.add(v)
    for p in served:
        walk(p.record)
    return values


# -- the fakes: one per transport ------------------------------------------------------------

def render_json(body: dict) -> bytes:
    """JSON as a careless system writes it: bare NaN, lone surrogates escaped (\\ud800)."""
    text = json.dumps(body, ensure_ascii=True, allow_nan=True)
    return text.replace(f'"{NAN}"', "NaN").encode("ascii")


class _Api(BaseHTTPRequestHandler):
    records: list[dict] = []
    page_size = 50
    trick = ""                 # "" | "repeat_page" | "cursor_loop"

    def log_message(self, *args):
        pass

    def _send(self, body: dict) -> None:
        data = render_json(body)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):
        self._send({"access_token": "hostile", "token_type": "Bearer", "expires_in": 600})

    def do_GET(self):
        q = {k: v[0] for k, v in parse_qs(urlsplit(self.path).query).items()}
        if "page" in q:
            n = int(q["page"])
            n = 1 if (self.trick == "repeat_page" and n == 2) else n
            size = int(q.get("page_size", self.page_size))
            start = (n - 1) * size - (1 if self.trick == "overlapping_pages" and n > 1 else 0)
            self._send({"items": self.records[start: start + size], "total": len(self.records),
                        "page": n, "page_size": size})
            return
        start, size = int(q.get("cursor", "0") or 0), int(q.get("limit", self.page_size))
        nxt = start + size if start + size < len(self.records) else None
        if self.trick == "cursor_loop" and nxt is not None and nxt >= 2 * size:
            nxt = size                                       # ... c50 -> c100 -> c50 -> ...
        self._send({"items": self.records[start:start + size],
                    "next_cursor": None if nxt is None else str(nxt)})


SOAP_TRICKS = ("repeat_page", "overlapping_pages", "xml_entity_expansion", "xml_external_entity",
               "soap_fault_storm", "endless_pages", "huge_body")
SOAP_MAX_BODY = 2_000_000       # the fake's connection bound (max_body_bytes); huge_body serves more


class _SoapService(BaseHTTPRequestHandler):
    """The 政务服务 web service as a hostile system serves it: the probes as SOAP pages (the
    simulator's message format), or one trick of ``SOAP_TRICKS``. Any credentials are accepted
    (the simulator's tests check the digest); the operation and paging come from the envelope."""

    records: list[dict] = []
    trick = ""

    def log_message(self, *args):
        pass

    def do_POST(self):
        from yhlaw_dev.sim.gov_service import parse_request, render_fault, render_page

        op, params, _ = parse_request(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
        n, size = int(params["pageNo"]), int(params["pageSize"])
        if self.trick == "soap_fault_storm":
            return self._answer(500, render_fault("soap:Server", "数据库忙"))
        n = 1 if (self.trick == "repeat_page" and n == 2) else n
        start = (n - 1) * size - (1 if self.trick == "overlapping_pages" and n > 1 else 0)
        page, total = self.records[start: start + size], len(self.records)
        if self.trick == "endless_pages":          # always one more page of new records
            page, total = [{**self.records[0], "caseNo": f"E{n}-{i}"} for i in range(size)], 10 ** 9
        if self.trick == "huge_body":
            page = [{**self.records[0], "itemName": "办" * SOAP_MAX_BODY}]
        body = render_page(op, total, page, n, size)
        if self.trick in XML_DOCTYPES:             # a DOCTYPE declaring entities, one text referring to them
            body = body.replace(b"?>", b"?>" + XML_DOCTYPES[self.trick].replace("导出", "soap:Envelope")
                                .encode("utf-8"), 1).replace(b"<itemName>", b"<itemName>&c;", 1)
        self._answer(200, body)

    def _answer(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "text/xml; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):     # the reader stopped at its body bound
            pass


@contextmanager
def soap_fake(records: list[dict], trick: str = "") -> Iterator[SourceConnection]:
    handler = type("HostileSoap", (_SoapService,), {"records": records, "trick": trick})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield SourceConnection("http", "127.0.0.1", server.server_address[1], "http", "hostile", "secret",
                               (("backoff_seconds", 0), ("max_attempts", 2), ("page_size", _Api.page_size),
                                ("timeout_seconds", 5), ("max_pages", 20), ("max_body_bytes", SOAP_MAX_BODY)))
    finally:
        server.shutdown()


@contextmanager
def http_fake(records: list[dict], trick: str = "") -> Iterator[SourceConnection]:
    handler = type("HostileApi", (_Api,), {"records": records, "trick": trick})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield SourceConnection("http", "127.0.0.1", server.server_address[1], "http", "hostile", "secret",
                               (("backoff_seconds", 0), ("max_attempts", 2), ("page_size", _Api.page_size),
                                ("timeout_seconds", 5)))
    finally:
        server.shutdown()


def file_drop(folder: Path, records: list[dict], fmt: str) -> SourceConnection:
    """One delivery of the records (CSV in UTF-8, or XLSX, where "=1+1" is a formula saved without
    its result), with its manifest."""
    import hashlib

    from openpyxl import Workbook

    folder.mkdir(parents=True, exist_ok=True)
    header = [k for k in records[0] if not k.startswith("_")]
    name = f"{'xzfy' if fmt == 'xml' else 'cases'}_{DAY:%Y%m%d}.{fmt}"
    if fmt == "xml":
        data = render_xml(records)
    elif fmt == "csv":
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerows([header, *[[r.get(h) if r.get(h) is not None else "" for h in header] for r in records]])
        data = buf.getvalue().encode("utf-8")
    else:
        wb = Workbook()
        for r in [header, *[[r.get(h) for h in header] for r in records]]:
            wb.active.append(r)
        buf = io.BytesIO()
        wb.save(buf)
        data = buf.getvalue()
    (folder / name).write_bytes(data)
    (folder / f"{name}.manifest.json").write_text(json.dumps({
        "file": name, "entity": "cases", "format": fmt, "encoding": "utf-8", "rows": len(records),
        "sha256": hashlib.sha256(data).hexdigest(), "delivered_at": (DAY + timedelta(hours=20)).isoformat(),
        "export_date": DAY.date().isoformat(), "version": 1}))
    return SourceConnection("fs", "", None, "", "", "", (("path", str(folder)),))


def render_xml(records: list[dict]) -> bytes:
    """An XML export (UTF-8, one <记录> per record, nested objects and lists as elements; text
    escaped, white space kept as served)."""
    from xml.sax.saxutils import escape

    def element(tag: str, value: Any) -> str:
        if isinstance(value, dict):
            return f"<{tag}>" + "".join(element(k, v) for k, v in value.items()) + f"</{tag}>"
        if isinstance(value, list):
            return f"<{tag}>" + "".join(element("项", v) for v in value) + f"</{tag}>"
        return f"<{tag}/>" if value is None else f"<{tag}>{escape(str(value))}</{tag}>"
    body = "".join("<记录>" + "".join(element(k, v) for k, v in r.items() if not k.startswith("_")) + "</记录>\n"
                   for r in records)
    return f'<?xml version="1.0" encoding="UTF-8"?>\n<导出>\n{body}</导出>\n'.encode("utf-8")


MEDIATION_DDL = """
CREATE TABLE tj_ajxx (ajbh text, tjwyh_lx text, tjwyh_mc text, jflx text, ajly text, sfjfm text, xzqh text,
                      slrq date, jarq date, tjjg text, xyje text, sfsfqr text, wpbh text, xfjbh text,
                      gxsj timestamp);
CREATE TABLE tj_dsr (ajbh text, xh int, dsrdw text, dsrlx text, xm text, zjhm text, lxdh text);
"""


def sql_source(admin_url: str, database: str, records: list[dict]) -> SourceConnection:
    """A mediation system database that enforces nothing (no key, update time not required)."""
    from yhlaw.settings import with_database
    from yhlaw.warehouse import ensure_database

    url = with_database(admin_url, database)
    ensure_database(url, recreate=True)
    conn = connect(url)
    with conn, conn.cursor() as cur:
        cur.execute(MEDIATION_DDL)
        columns = [c for c in records[0] if c != "parties"]
        for r in records:
            cur.execute(sql.SQL("INSERT INTO tj_ajxx ({}) VALUES ({})").format(
                sql.SQL(", ").join(map(sql.Identifier, columns)), sql.SQL(", ").join([sql.Placeholder()] * len(columns))),
                [r.get(c) for c in columns])
            for n, p in enumerate(r.get("parties") or [], start=1):
                cur.execute("INSERT INTO tj_dsr VALUES (%s, %s, %s, %s, %s, %s, %s)",
                            (r["ajbh"], n, p.get("role"), p.get("type"), p.get("name"), p.get("idNo"), p.get("phone")))
    conn.close()
    u = urlsplit(url)
    return SourceConnection("postgres", u.hostname, u.port or 5432, database, u.username, "", ())


MYSQL_DDL = """
CREATE TABLE jz_jzry (jzrybh text, xm text, zjhm text, lxdh text, jzlb text, zm text, jdjg text, jzqx text,
                      rjrq date, xzqh text, sfsmc text, gljb text, sfdzdw text, jzapp text, zjkhrq date, jjrq date,
                      jjlx text, sfzf text, zfzrq date, sfxj text, xjrq date, gxsj datetime NULL)
    DEFAULT CHARSET=utf8mb4
"""


def mysql_source(database: str, records: list[dict]) -> SourceConnection:
    """A 智慧矫正 system database on MariaDB that enforces nothing: no key, update time not
    required, zero dates allowed (sql_mode ''), NUL kept in text. On SIM_MARIADB_ADMIN_URL."""
    import os

    import pymysql

    u = urlsplit(os.environ.get("SIM_MARIADB_ADMIN_URL") or "mysql://root@127.0.0.1:3306")
    args = dict(host=u.hostname, port=u.port or 3306, user=u.username or "root", password=u.password or "",
                charset="utf8mb4")
    conn = pymysql.connect(**args)
    try:
        with conn.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS `{database}`")
            cur.execute(f"CREATE DATABASE `{database}` CHARACTER SET utf8mb4")
            cur.execute(f"USE `{database}`")
            cur.execute("SET SESSION sql_mode = ''")
            cur.execute(MYSQL_DDL)
            columns = list(records[0])
            cur.executemany(f"INSERT INTO jz_jzry ({', '.join(columns)}) VALUES ({', '.join(['%s'] * len(columns))})",
                            [[r.get(c) for c in columns] for r in records])
        conn.commit()
    finally:
        conn.close()
    return SourceConnection("mysql", args["host"], args["port"], database, args["user"], args["password"], ())


# -- one transport: serve, run the pipeline, reconcile -----------------------------------------

class _Messages(logging.Handler):
    """Every log line the platform emits during a run (what would end in a task log)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


@contextmanager
def captured() -> Iterator[_Messages]:
    handler, logger = _Messages(), logging.getLogger("yhlaw")
    old = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old)


def run_pipeline(entity: Entity, warehouse: str, connection: SourceConnection, messages: list[str]) -> str | None:
    """extract -> validate -> load for the probe day; the batch id (None if the read failed)."""
    window = pipeline.window_for(entity.source, DAY, DAY + timedelta(days=1))
    try:
        landed = pipeline.extract_batch(entity, window, warehouse_url=warehouse, connection=connection)
        pipeline.validate_batch(entity, landed["batch_id"], warehouse_url=warehouse, hmac_key=HMAC_KEY)
        pipeline.load_batch(entity, landed["batch_id"], warehouse_url=warehouse)
        return landed["batch_id"]
    except Exception as exc:       # the message is what a task log would show
        messages.append(f"{type(exc).__name__}: {exc}")
        return None


def reconcile(result: Result, entity: Entity, warehouse: str, batch_id: str, served: list[Probe]) -> None:
    """Per normalised key: every served record in core (this batch) or in quarantine."""
    from collections import Counter

    with transaction(warehouse) as conn, conn.cursor() as cur:
        cur.execute("SELECT received, loaded, quarantined, error FROM audit.batch WHERE batch_id = %s", (batch_id,))
        result.received, result.loaded, result.quarantined, error = cur.fetchone()
        cur.execute("SELECT record_key FROM quarantine.record WHERE batch_id = %s", (batch_id,))
        in_quarantine = Counter(norm_key(k) for (k,) in cur.fetchall())
        cur.execute(sql.SQL("SELECT * FROM {} WHERE batch_id = %s").format(
            sql.Identifier("core", f"{entity.table}_version")), (batch_id,))
        names = [d.name for d in cur.description]
        in_core = [dict(zip(names, r)) for r in cur.fetchall()]
    key_field, updated = field_of(entity, entity.natural_key), field_of(entity, entity.updated_column)
    keys = [norm_key(get(p.record, key_field)) for p in served]
    served_keys = Counter(keys)
    core_keys = Counter(norm_key(r[entity.natural_key]) for r in in_core)
    for key, n in served_keys.items():
        result.lost += max(0, n - in_quarantine.get(key, 0) - core_keys.get(key, 0))
    by_key = {norm_key(r[entity.natural_key]): r for r in in_core}
    for p, key in zip(served, keys):
        row = by_key.get(key)
        if p.expect == "core" and row is None:
            result.wrongly_quarantined += 1
        if row is None or served_keys[key] > 1:     # twins: which one is in core is the merge's call
            continue
        if p.expect == "quarantine":
            result.let_through += 1
            result.problems.append(f"{p.name}: loaded into core")
        result.altered += _altered(p, row, updated, result)
    if error:
        result.problems.append(f"batch error: {error}")


def _altered(p: Probe, row: dict, updated: Field, result: Result) -> int:
    served_at = get(p.record, updated)
    if served_at is not None and not updated.source.startswith("_"):
        moment = datetime.fromisoformat(str(served_at))
        moment = moment if moment.tzinfo else moment.replace(tzinfo=CST)
        if row["source_updated_at"] != moment:
            result.problems.append(f"{p.name}: update time {row['source_updated_at']} for {served_at}")
            return 1
    if p.text and row.get(p.text[0]) != p.text[1]:
        result.problems.append(f"{p.name}: {p.text[0]} not verbatim")
        return 1
    return 0


def run_transport(transport: str, warehouse: str, admin_url: str, workdir: Path) -> Result:
    entity = entity_of(TRANSPORTS[transport])
    served = probes(entity, transport)
    result = Result(transport, TRANSPORTS[transport], served=len(served))
    messages: list[str] = []
    with captured() as log, source_for(transport, served, admin_url, workdir) as connection:
        batch_id = run_pipeline(entity, warehouse, connection, messages)
    messages += log.lines
    if batch_id is None:
        result.problems.append(f"the read failed: {messages[-1] if messages else '?'}")
    else:
        reconcile(result, entity, warehouse, batch_id, served)
    leaks = pii_values(served)
    result.pii_messages = sum(any(v in m for v in leaks) for m in messages)
    if transport.startswith("http"):
        result.tricks = run_tricks(entity, transport, served, warehouse)
    elif transport == "file_drop_xml":
        result.tricks = {trick: _xml_trick(entity, trick, served, warehouse, workdir, days)
                         for days, trick in enumerate(XML_DOCTYPES, start=1)}
    elif transport == "soap":
        result.tricks = {trick: _trick(entity, trick, served, warehouse, days, fake=soap_fake)
                         for days, trick in enumerate(SOAP_TRICKS, start=1)}
    return result


def _xml_trick(entity: Entity, trick: str, served: list[Probe], warehouse: str, workdir: Path, days: int) -> str:
    """The export with a DOCTYPE declaring entities and one record's text referring to them: the
    read must fail (naming no value) and land nothing."""
    import hashlib

    records = copy.deepcopy([p.record for p in served])
    text = next(f for f in entity.fields if f.type == "text" and f.name != entity.natural_key
                and not f.source.startswith("_") and "map" not in f.options)
    put(records[0], text, "@@ENTITY@@")
    folder = workdir / trick
    connection = file_drop(folder, records, "xml")
    name = f"xzfy_{DAY:%Y%m%d}.xml"
    data = (folder / name).read_bytes().replace(b"?>\n", b"?>\n" + XML_DOCTYPES[trick].encode("utf-8") + b"\n", 1)
    (folder / name).write_bytes(data.replace(b"@@ENTITY@@", b"&c;"))
    manifest = json.loads((folder / f"{name}.manifest.json").read_text())
    manifest.update(sha256=hashlib.sha256((folder / name).read_bytes()).hexdigest(),
                    delivered_at=(DAY + timedelta(days=days, hours=20)).isoformat())
    (folder / f"{name}.manifest.json").write_text(json.dumps(manifest))
    before, messages = _scalar(warehouse, "SELECT count(*) FROM raw.batch"), []
    window = pipeline.window_for(entity.source, DAY + timedelta(days=days), DAY + timedelta(days=days + 1))
    with captured() as log:
        try:
            pipeline.extract_batch(entity, window, warehouse_url=warehouse, connection=connection)
            outcome = "read it"
        except SourceError as exc:
            messages.append(str(exc))
            outcome = "refused, nothing landed"
    if outcome.startswith("refused") and _scalar(warehouse, "SELECT count(*) FROM raw.batch") != before:
        outcome = "refused, but landed a partial batch"
    if any(v in m for m in messages + log.lines for v in pii_values(served) | {"哈哈", "root:"}):
        outcome += "; PII in its message"
    return outcome


@contextmanager
def source_for(transport: str, served: list[Probe], admin_url: str, workdir: Path) -> Iterator[SourceConnection]:
    records = [p.record for p in served]
    if transport.startswith("http"):
        with http_fake(records) as connection:
            yield connection
    elif transport == "soap":
        with soap_fake(records) as connection:
            yield connection
    elif transport.startswith("file_drop"):
        yield file_drop(workdir / transport, records, transport.rsplit("_", 1)[1])
    elif transport == "sql_mysql":
        yield mysql_source(urlsplit(admin_url).path.lstrip("/") + "_corrections_system", records)
    else:
        from urllib.parse import urlsplit as _split

        yield sql_source(admin_url, _split(admin_url).path.lstrip("/") + "_mediation_system", records)


def run_tricks(entity: Entity, transport: str, served: list[Probe], warehouse: str) -> dict[str, str]:
    """Tricks of the transport: a page served twice and a cursor that loops must fail the read
    (PII-free, landing nothing); pages that overlap must still be read whole."""
    tricks = ["repeat_page", "overlapping_pages"] if transport == "http_page" else ["cursor_loop"]
    return {trick: _trick(entity, trick, served, warehouse, days) for days, trick in enumerate(tricks, start=1)}


def _trick(entity: Entity, trick: str, served: list[Probe], warehouse: str, days: int, fake=None) -> str:
    leaks = pii_values(served)
    messages: list[str] = []
    before = _scalar(warehouse, "SELECT count(*) FROM raw.batch")
    with captured() as log, (fake or http_fake)([p.record for p in served], trick) as connection:
        window = pipeline.window_for(entity.source, DAY + timedelta(days=days), DAY + timedelta(days=days + 1))
        try:
            landed = pipeline.extract_batch(entity, window, warehouse_url=warehouse, connection=connection)
            distinct = _scalar(warehouse, "SELECT count(DISTINCT payload) FROM raw.record WHERE batch_id = %s",
                               (landed["batch_id"],))
            outcome = "read whole" if distinct == len(served) else f"read {distinct} of {len(served)} records"
        except SourceError as exc:
            messages.append(str(exc))
            outcome = "refused, nothing landed"
    if outcome.startswith("refused") and _scalar(warehouse, "SELECT count(*) FROM raw.batch") != before:
        outcome = "refused, but landed a partial batch"
    if any(v in m for m in messages + log.lines for v in leaks):
        outcome += "; PII in its message"
    return outcome


def _scalar(warehouse: str, query: str, params: tuple = ()) -> Any:
    with transaction(warehouse) as conn, conn.cursor() as cur:
        cur.execute(query, params)
        return cur.fetchone()[0]


def run(warehouse_settings, workdir: Path, transports: list[str] | None = None) -> list[Result]:
    """Every transport's fake through the pipeline into a fresh warehouse."""
    from yhlaw.bootstrap import prepare_warehouse

    prepare_warehouse(warehouse_settings, recreate=True)     # its own database: its own PII key
    return [run_transport(t, warehouse_settings.warehouse_url, warehouse_settings.admin_url, workdir)
            for t in (transports or list(TRANSPORTS))]


def report(results: list[Result]) -> str:
    lines = ["## Hostile sources", "",
             "Fakes of our own per transport (`devtools/yhlaw_dev/hostile.py`): key twins after normalisation, "
             "one instant in two UTC offsets, NUL and lone surrogates, bare NaN, decimal commas, excess "
             "decimals, no update time, SQL/HTML/newline text, a formula saved without its result, a page "
             "served twice, pages that overlap, a cursor that loops, MySQL zero dates, XML declaring entities (expansion, external); SOAP: entities, fault storms, endless pages, huge bodies. Through the real readers, typing, GX and merge; reconciled "
             "per key with what was served.", "",
             "| transport | entity | served | received | loaded | quarantined | lost | altered | let through "
             "| clean quarantined | PII in messages | tricks |", "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        tricks = "; ".join(f"{k}: {v}" for k, v in r.tricks.items()) or "–"
        lines.append(f"| {r.transport} | {r.entity} | {r.served} | {r.received} | {r.loaded} | {r.quarantined} "
                     f"| {r.lost} | {r.altered} | {r.let_through} | {r.wrongly_quarantined} | {r.pii_messages} "
                     f"| {tricks} |")
    problems = [f"- {r.transport}: {p}" for r in results for p in r.problems]
    return "\n".join(lines + ([""] + problems if problems else []) + [""])


SECTION = ("<!-- hostile sources: written by python -m yhlaw_dev reliability -->",
           "<!-- end of hostile sources -->")


def write_section(out: Path, text: str) -> None:
    """Put the hostile-sources section into the report, replacing an earlier one."""
    old = out.read_text(encoding="utf-8") if out.exists() else ""
    if SECTION[0] in old:
        head, rest = old.split(SECTION[0], 1)
        old = head + rest.split(SECTION[1], 1)[-1].lstrip("\n")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(old.rstrip("\n") + f"\n\n{SECTION[0]}\n{text}{SECTION[1]}\n", encoding="utf-8")


def main(settings, database: str, out: Path | None) -> int:
    """Run every transport's fake; print (and write) the table; 0 only if nothing was lost,
    altered, let through or leaked."""
    import tempfile
    from dataclasses import replace

    from yhlaw.settings import with_database

    own = replace(settings, warehouse_url=with_database(settings.warehouse_url, database))
    with tempfile.TemporaryDirectory(prefix="yhlaw-hostile-") as work:
        results = run(own, Path(work))
    text = report(results)
    print(text)
    if out:
        write_section(out, text)
        print(f"wrote the hostile-sources section of {out}")
    return 0 if all(r.ok for r in results) else 1
