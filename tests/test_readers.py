"""The non-HTTP readers on small local fixtures: a file drop folder and a source database."""

from __future__ import annotations

import hashlib
import io
import json
from datetime import datetime, timedelta, timezone

import pytest
from openpyxl import Workbook

from yhlaw.readers import FileDropReader, SourceConnection, SourceError, SqlSourceReader
from yhlaw.store import Spool
from yhlaw.settings import with_database
from yhlaw.warehouse import connect

TZ = timezone(timedelta(hours=8))
T0 = datetime(2022, 3, 1, tzinfo=TZ)


class ListSink(Spool):
    """A sink that keeps what it was given (the real Spool, plus a list for assertions)."""

    def reset(self) -> None:
        super().reset()
        self.items = []

    def write(self, items):
        super().write(items)
        self.items.extend(items)


def deliver(folder, name, data: bytes, *, rows, delivered_at, fmt="csv", encoding="utf-8", sha=None):
    (folder / name).write_bytes(data)
    manifest = {"file": name, "entity": "cases", "format": fmt, "encoding": encoding, "rows": rows,
                "sha256": sha or hashlib.sha256(data).hexdigest(), "delivered_at": delivered_at.isoformat(),
                "export_date": (delivered_at - timedelta(days=1)).date().isoformat(), "version": 1}
    (folder / f"{name}.manifest.json").write_text(json.dumps(manifest))


def drop_reader(folder) -> FileDropReader:
    return FileDropReader(SourceConnection("fs", "", None, "", "", "", (("path", str(folder)),)),
                          {"kind": "file_drop", "max_attempts": 3, "backoff_seconds": 0.01})


def test_file_drop_reads_gbk_csv_and_xlsx_by_delivery_window(tmp_path):
    csv_text = "案号,案件类型,立案日期\n(2022)浙0110民初1号,民事,2022-03-01\n(2022)浙0110民初2号,商事,\n"
    deliver(tmp_path, "cases_20220301.csv", csv_text.encode("gbk"), rows=2, encoding="gbk",
            delivered_at=T0 + timedelta(hours=20))
    wb = Workbook()
    wb.active.append(["案号", "案件类型", "立案日期"])
    wb.active.append(["(2022)浙0110行初3号", "行政", "2022-03-02"])
    buf = io.BytesIO()
    wb.save(buf)
    deliver(tmp_path, "cases_20220302.xlsx", buf.getvalue(), rows=1, fmt="xlsx",
            delivered_at=T0 + timedelta(days=1, hours=20))
    # Mislabelled: declared GBK, really UTF-8 (a known mix-up of the court exports).
    deliver(tmp_path, "cases_20220303.csv", "案号,案件类型,立案日期\n(2022)浙0110民初4号,民事,2022-03-03\n".encode(),
            rows=1, encoding="gbk", delivered_at=T0 + timedelta(days=2, hours=20))

    reader, sink = drop_reader(tmp_path), ListSink()
    reader.read_window("cases_*", T0, T0 + timedelta(days=2), sink)
    assert [r["案号"] for r in sink.items] == ["(2022)浙0110民初1号", "(2022)浙0110民初2号", "(2022)浙0110行初3号"]
    assert sink.items[1]["立案日期"] is None and sink.items[0]["_file"] == "cases_20220301.csv"
    assert sink.items[2]["_delivered_at"] == (T0 + timedelta(days=1, hours=20)).isoformat()

    reader, sink = drop_reader(tmp_path), ListSink()
    reader.read_window("cases_*", T0 + timedelta(days=2), T0 + timedelta(days=3), sink)
    assert [r["案号"] for r in sink.items] == ["(2022)浙0110民初4号"]
    assert reader.stats.retries["encoding_mismatch"] == 1


def _workbook(build) -> bytes:
    wb = Workbook()
    build(wb)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def test_a_spreadsheet_is_read_as_a_person_sees_it(tmp_path):
    """Merged cells hold their value for every cell of the merge (and the row says so); a formula
    saved without its result is a marker the typer quarantines, never an empty cell; cached
    results of formulas are read."""
    def build(wb):
        ws = wb.active
        ws.append(["案号", "案件类型", "标的额", "立案日期"])
        ws.append(["(2022)浙0110民初1号", "民事", "=1+1", "2022-03-01"])      # no cached value
        ws.append(["(2022)浙0110民初2号", None, 300, "2022-03-01"])
        ws.append(["(2022)浙0110民初3号", None, 400, "2022-03-01"])
        ws.merge_cells("B2:B4")                                                # 民事 for all three
        ws["B2"] = "民事"
    deliver(tmp_path, "cases_20220301.xlsx", _workbook(build), rows=3, fmt="xlsx", delivered_at=T0 + timedelta(hours=20))
    sink = ListSink()
    drop_reader(tmp_path).read_window("cases_*", T0, T0 + timedelta(days=1), sink)
    first, second, third = sink.items
    assert [r["案件类型"] for r in sink.items] == ["民事"] * 3
    assert "_merged_cells" not in first and second["_merged_cells"] == third["_merged_cells"] == ["案件类型"]
    assert first["标的额"] == {"_formula": "=1+1"} and second["标的额"] == 300


def test_a_workbook_with_data_on_two_sheets_is_refused_naming_them(tmp_path):
    def build(wb):
        wb.active.append(["案号"])
        wb.active.append(["(2022)浙0110民初1号"])
        other = wb.create_sheet("补充")
        other.append(["案号"])
        other.append(["(2022)浙0110民初2号"])
    deliver(tmp_path, "cases_20220301.xlsx", _workbook(build), rows=1, fmt="xlsx", delivered_at=T0 + timedelta(hours=20))
    with pytest.raises(SourceError, match="data on 2 sheets .*'补充'"):
        drop_reader(tmp_path).read_window("cases_*", T0, T0 + timedelta(days=1), ListSink())


def test_file_drop_refuses_a_half_written_delivery(tmp_path):
    full = "案号\n(2022)浙0110民初1号\n(2022)浙0110民初2号\n".encode()
    deliver(tmp_path, "cases_20220301.csv", full[:20], rows=2, sha=hashlib.sha256(full).hexdigest(),
            delivered_at=T0 + timedelta(hours=1))
    with pytest.raises(SourceError, match="half-written"):
        drop_reader(tmp_path).read_window("cases_*", T0, T0 + timedelta(days=1), ListSink())
    # Completed while we wait: read, counted as a retry, not an error.
    import threading
    threading.Timer(0.05, lambda: (tmp_path / "cases_20220301.csv").write_bytes(full)).start()
    reader, sink = FileDropReader(SourceConnection("fs", "", None, "", "", "", (("path", str(tmp_path)),)),
                                  {"kind": "file_drop", "max_attempts": 6, "backoff_seconds": 0.05}), ListSink()
    reader.read_window("cases_*", T0, T0 + timedelta(days=1), sink)
    assert len(sink.items) == 2 and reader.stats.retries["half_written"] >= 1
    assert sink.items[0]["_as_of"] == "2022-02-28T23:59:01+08:00"
    # A file without a manifest is not delivered yet: nothing is read, nothing fails.
    (tmp_path / "cases_20220301.csv.manifest.json").unlink()
    sink = ListSink()
    drop_reader(tmp_path).read_window("cases_*", T0, T0 + timedelta(days=1), sink)
    assert sink.items == []


@pytest.fixture
def source_db(settings, tmp_path):
    """A throwaway database standing in for a source system's own schema."""
    name = "yhlaw_test_source_reader"
    admin = connect(with_database(settings.admin_url, "postgres"))
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS {name}")
        cur.execute(f"CREATE DATABASE {name}")
    url = with_database(settings.admin_url, name)
    conn = connect(url)
    with conn, conn.cursor() as cur:
        cur.execute("CREATE TABLE tj_case (ajbh text PRIMARY KEY, xyje numeric(12,2), slrq date, gxsj timestamp)")
        cur.execute("INSERT INTO tj_case VALUES ('A1', 100.50, '2022-03-01', '2022-03-01 10:00'), "
                    "('A2', NULL, '2022-03-01', '2022-03-01 23:59:59'), ('A3', 5, '2022-03-02', '2022-03-02 00:00')")
    conn.close()
    query = tmp_path / "q.sql"
    query.write_text("SELECT ajbh, xyje, slrq, gxsj FROM tj_case WHERE gxsj >= :since AND gxsj < :until ORDER BY gxsj, ajbh")
    yield url, query
    with admin.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS {name}")
    admin.close()


def test_sql_reader_reads_the_window_as_json_ready_records(source_db, monkeypatch):
    from urllib.parse import urlsplit

    import yhlaw.paths

    url, query = source_db
    monkeypatch.setattr(yhlaw.paths, "PROJECT_ROOT", query.parent)
    u = urlsplit(url)
    conn = SourceConnection("postgres", u.hostname, u.port, u.path.lstrip("/"), u.username, "", ())
    sink = ListSink()
    # The window is aware (Asia/Shanghai, as Airflow gives it); the source stores naive local times.
    start = datetime(2022, 2, 28, 16, tzinfo=timezone.utc)
    SqlSourceReader(conn, {"kind": "sql", "page_size": 2}).read_window(query.name, start, start + timedelta(days=1), sink)
    assert sink.items == [
        {"ajbh": "A1", "xyje": "100.50", "slrq": "2022-03-01", "gxsj": "2022-03-01T10:00:00"},
        {"ajbh": "A2", "xyje": None, "slrq": "2022-03-01", "gxsj": "2022-03-01T23:59:59"},
    ]


@pytest.mark.stack
def test_a_source_row_without_update_time_is_read_by_every_window_not_never(settings):
    """The shipped mediation query on the system's schema, gxsj not enforced: a case with a NULL
    update time is in every window's result (and typing quarantines it), never in none."""
    from yhlaw_dev.hostile import sql_source

    name = "yhlaw_test_source_undated"
    admin = connect(with_database(settings.admin_url, "postgres"))
    admin.autocommit = True
    try:
        # The system's schema without its constraints (hostile.MEDIATION_DDL), three cases.
        source = sql_source(settings.admin_url, name, [{"ajbh": "T1", "gxsj": "2022-03-01 10:00"},
                                                       {"ajbh": "T2", "gxsj": None},
                                                       {"ajbh": "T3", "gxsj": "2022-03-02 09:00"}])
        start = datetime(2022, 2, 28, 16, tzinfo=timezone.utc)
        seen = []
        for day in range(2):
            sink = ListSink()
            SqlSourceReader(source, {"kind": "sql"}).read_window(
                "sql/sources/mediation_case.sql", start + timedelta(days=day), start + timedelta(days=day + 1), sink)
            seen.append([r["ajbh"] for r in sink.items])
        assert seen == [["T1", "T2"], ["T3", "T2"]]
    finally:
        with admin.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS {name}")
        admin.close()


# --------------------------------------------------------------------------------------------
# XML exports (format "xml" in the manifest; the spec's transport.xml says which elements are
# records and which are lists)

XML_OPTIONS = {"records": ["记录"], "lists": ["申请人列表", "庭审记录"]}
XML_EXPORT = """<?xml version="1.0" encoding="UTF-8"?>
<行政复议案件导出 系统="行政复议办案系统" 导出日期="2022-03-01">
  <导出信息><记录数>2</记录数></导出信息>
  <记录>
    <复议案号>余政复〔2022〕1号</复议案号><结果/>
    <被申请人><类型>镇街政府</类型><镇街>330110005000</镇街></被申请人>
    <申请人列表><申请人><名称>张三</名称><证件号码>330110199001011234</证件号码></申请人></申请人列表>
    <庭审记录/>
  </记录>
  <记录 序号="2"><复议案号>A &amp; B &#x4E2D;</复议案号><申请人列表/></记录>
</行政复议案件导出>
"""


def xml_reader(folder, options=XML_OPTIONS) -> FileDropReader:
    return FileDropReader(SourceConnection("fs", "", None, "", "", "", (("path", str(folder)),)),
                          {"kind": "file_drop", "xml": options, "max_attempts": 2, "backoff_seconds": 0.01})


def test_file_drop_reads_an_xml_export_into_nested_records(tmp_path):
    deliver(tmp_path, "xzfy_20220301.xml", XML_EXPORT.encode("utf-8"), rows=2, delivered_at=T0, fmt="xml")
    sink = ListSink()
    xml_reader(tmp_path).read_window("xzfy_*", T0 - timedelta(hours=1), T0 + timedelta(hours=1), sink)
    first, second = sink.items
    assert first["复议案号"] == "余政复〔2022〕1号" and first["结果"] is None
    assert first["被申请人"] == {"类型": "镇街政府", "镇街": "330110005000"}
    assert first["申请人列表"] == [{"名称": "张三", "证件号码": "330110199001011234"}]     # a list of one
    assert first["庭审记录"] == [] and second["申请人列表"] == []                           # ... or of none
    assert second["复议案号"] == "A & B 中" and second["@序号"] == "2"                    # entities of XML itself
    assert first["_file"] == "xzfy_20220301.xml" and first["_as_of"] == "2022-02-28T23:59:01+08:00"
    assert "导出信息" not in first and len(sink.items) == 2                                 # the header is no record


@pytest.mark.parametrize("data, says", [
    # Declarations are refused before any entity is defined, so none is ever expanded or fetched.
    ('<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "秘密"><!ENTITY b "&a;&a;&a;&a;">]>'
     '<r><记录><x>&b;</x></记录></r>', "declares a DOCTYPE or entity"),
    ('<?xml version="1.0"?><!DOCTYPE r SYSTEM "file:///etc/passwd"><r><记录/></r>', "declares a DOCTYPE"),
    ('<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "http://127.0.0.1:9/x">]><r><记录>&x;</记录></r>',
     "declares a DOCTYPE"),
    ('<r><记录><x>&undefined;</x></记录></r>', "not well-formed XML: undefined entity at line 1"),
    ("<r>" + "<记录>" + "<a>" * 40 + "</a>" * 40 + "</记录></r>", "element 1 under the root (<记录>/<a>"),
    ("<r><记录><x>张三</x><x>李四</x></记录></r>", "element 1 under the root (<记录>): <x> repeats outside a list"),
    ("<r><h/><记录>张三<x>1</x></记录></r>", "element 2 under the root (<记录>): text mixed with child elements"),
    ('<r><记录><x k="张三">1</x></记录></r>', "(<记录>/<x>): attributes on a value element"),
    ("<r><记录><x>330110199001011234</x></记录>", "not well-formed XML: no element found at line 1"),
    ("", "not well-formed XML: no element found"),
], ids=["billion_laughs", "external_dtd", "external_entity", "undefined_entity", "too_deep", "repeated_child",
        "mixed_text", "leaf_attribute", "truncated", "empty"])
def test_a_hostile_or_broken_xml_export_fails_the_read_naming_where_never_what(tmp_path, data, says):
    deliver(tmp_path, "xzfy_20220301.xml", data.encode("utf-8"), rows=1, delivered_at=T0, fmt="xml")
    with pytest.raises(SourceError) as err:
        xml_reader(tmp_path).read_window("xzfy_*", T0 - timedelta(hours=1), T0 + timedelta(hours=1), ListSink())
    message = str(err.value)
    assert "xzfy_20220301.xml" in message and says in message, message
    assert not any(v in message for v in ("张三", "李四", "秘密", "330110199001011234", "passwd")), message


def test_an_xml_export_in_an_encoding_expat_cannot_read_is_refused(tmp_path):
    data = '<?xml version="1.0" encoding="GBK"?><r><记录><x>张三</x></记录></r>'.encode("gbk")
    deliver(tmp_path, "xzfy_20220301.xml", data, rows=1, delivered_at=T0, fmt="xml", encoding="gbk")
    with pytest.raises(SourceError, match="xzfy_20220301.xml: XML in an unreadable encoding"):
        xml_reader(tmp_path).read_window("xzfy_*", T0 - timedelta(hours=1), T0 + timedelta(hours=1), ListSink())


def test_xml_records_the_manifest_does_not_announce_fail_the_read(tmp_path):
    """A record element misnamed in the file (not in transport.xml.records) is not silently skipped:
    the count announced by the manifest no longer matches."""
    deliver(tmp_path, "xzfy_20220301.xml", XML_EXPORT.replace("<记录 序号", "<案件 序号").replace(
        "</记录>\n</行政", "</案件>\n</行政").encode("utf-8"), rows=2, delivered_at=T0, fmt="xml")
    with pytest.raises(SourceError, match="manifest announces 2 rows, file has 1"):
        xml_reader(tmp_path).read_window("xzfy_*", T0 - timedelta(hours=1), T0 + timedelta(hours=1), ListSink())
