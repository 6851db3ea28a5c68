"""The SOAP reader (yhlaw.readers.soap) against a small web service of our own: paging through
<total> and <records>, WS-Security UsernameToken digests, faults by kind (Server retried, Client
and WS-Security failing at once), and hostile or broken XML failing named, never with a value."""

from __future__ import annotations

import threading
import xml.etree.ElementTree as ET
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from xml.sax.saxutils import escape

import pytest

from yhlaw.readers import SoapSourceClient, SourceConnection, SourceError, open_reader
from yhlaw.readers.soap import SOAP_ENV, WSSE, WSU, password_digest

NS = "http://zwfw.yuhang.gov.cn/share/"
PATH = "/services/ZwfwShareService#queryBanjian"
WINDOW = (datetime(2022, 3, 1, tzinfo=timezone.utc), datetime(2022, 3, 2, tzinfo=timezone.utc))
RECORDS = [{"caseNo": f"BJ{i:03d}", "applicant": {"name": "张三", "idNo": "330110199001011234"}} for i in range(7)]


class ListSink:
    def __init__(self):
        self.items: list[dict] = []

    def write(self, items):
        self.items.extend(items)

    def reset(self):
        self.items.clear()


def envelope(inner: str) -> bytes:
    return (f'<?xml version="1.0" encoding="UTF-8"?><soap:Envelope xmlns:soap="{SOAP_ENV}"><soap:Body>'
            f"{inner}</soap:Body></soap:Envelope>").encode()


def fault(code: str, text: str) -> bytes:
    return envelope(f"<soap:Fault><faultcode>{code}</faultcode><faultstring>{escape(text)}</faultstring></soap:Fault>")


def record_xml(r: dict) -> str:
    return "<record>" + "".join(f"<{k}>" + ("".join(f"<{a}>{escape(b)}</{a}>" for a, b in v.items())
                                          if isinstance(v, dict) else escape(v)) + f"</{k}>"
                                for k, v in r.items()) + "</record>"


def page(op: str, total: int, records: list[dict]) -> bytes:
    return envelope(f'<ns:{op}Response xmlns:ns="{NS}"><total>{total}</total><records>'
                    + "".join(map(record_xml, records)) + f"</records></ns:{op}Response>")


class Service(BaseHTTPRequestHandler):
    mode = "ok"
    calls: list = []

    def log_message(self, *args):
        pass

    def answer(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "text/xml; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        root = ET.fromstring(self.rfile.read(int(self.headers["Content-Length"])))
        op = root.find(f"{{{SOAP_ENV}}}Body")[0]
        args = {c.tag.split("}")[1]: c.text for c in op}
        token = root.find(f".//{{{WSSE}}}UsernameToken")
        import base64
        nonce = base64.b64decode(token.find(f"{{{WSSE}}}Nonce").text)
        created = token.find(f"{{{WSU}}}Created").text
        ok = token.find(f"{{{WSSE}}}Password").text == password_digest(nonce, created, "secret")
        self.calls.append((op.tag.split("}")[1], args, self.headers.get("SOAPAction")))
        n, size = int(args["pageNo"]), int(args["pageSize"])
        mode = self.mode
        if not ok or mode == "auth":
            return self.answer(500, fault("wsse:FailedAuthentication", "用户名或密码错误"))
        if mode == "client":
            return self.answer(500, fault("soap:Client", "参数 updatedSince 格式错误 330110199001011234"))
        if mode == "server_once" and len(self.calls) == 1:
            return self.answer(500, fault("soap:Server", "数据库忙"))
        if mode == "gateway_once" and len(self.calls) == 1:
            return self.answer(503, b"<html>503</html>")
        if mode == "grows" and len(self.calls) == 2:      # a record moved into the window mid-read
            return self.answer(200, page("queryBanjian", 8, RECORDS[size:2 * size]))
        if mode == "huge":
            return self.answer(200, page("queryBanjian", 1, [{"caseNo": "x" * 300_000}]))
        if mode in HOSTILE:
            return self.answer(200, HOSTILE[mode])
        self.answer(200, page("queryBanjian", len(RECORDS), RECORDS[(n - 1) * size: n * size]))


HOSTILE = {
    "billion_laughs": b'<?xml version="1.0"?><!DOCTYPE e [<!ENTITY a "\xe5\xbc\xa0\xe4\xb8\x89"><!ENTITY b "&a;&a;&a;">]>'
                      b'<e>&b;</e>',
    "external_entity": b'<?xml version="1.0"?><!DOCTYPE e [<!ENTITY x SYSTEM "file:///etc/passwd">]><e>&x;</e>',
    "deep": envelope('<ns:queryBanjianResponse xmlns:ns="x"><total>1</total><records><record><caseNo>'
                     + "<a>" * 40 + "</a>" * 40 + "</caseNo></record></records></ns:queryBanjianResponse>"),
    "not_envelope": b"<html><body>\xe7\xbd\x91\xe5\x85\xb3\xe9\x94\x99\xe8\xaf\xaf</body></html>",
    "no_total": envelope('<ns:queryBanjianResponse xmlns:ns="x"><records/></ns:queryBanjianResponse>'),
    "repeated": envelope('<ns:queryBanjianResponse xmlns:ns="x"><total>1</total><records><record><caseNo>1'
                         '</caseNo><caseNo>330110199001011234</caseNo></record></records></ns:queryBanjianResponse>'),
}


@pytest.fixture
def service():
    servers = []

    def start(mode: str = "ok") -> int:
        handler = type(f"Service_{mode}", (Service,), {"mode": mode, "calls": []})
        server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append((server, handler))
        return server.server_address[1]

    start.calls = lambda port: next(h.calls for s, h in servers if s.server_address[1] == port)
    yield start
    for server, _ in servers:
        server.shutdown()


def client(port: int, password: str = "secret", **transport) -> SoapSourceClient:
    conn = SourceConnection("http", "127.0.0.1", port, "http", "yhlaw-etl", password, ())
    spec = {"kind": "soap", "auth": "ws_security_username_token", "soap": {"namespace": NS}, "page_size": 3,
            "timeout_seconds": 2, "max_attempts": 3, "backoff_seconds": 0, **transport}
    return open_reader(conn, spec, sleep=lambda s: None)


def test_pages_are_read_through_total_with_the_operation_and_a_password_digest(service):
    port = service()
    sink = ListSink()
    reader = client(port)
    reader.read_window(PATH, *WINDOW, sink)
    assert [r["caseNo"] for r in sink.items] == [f"BJ{i:03d}" for i in range(7)]
    assert sink.items[0]["applicant"] == {"name": "张三", "idNo": "330110199001011234"}
    assert reader.stats.pages == 3 and reader.stats.records == 7


def test_the_request_carries_window_paging_and_soap_action(service):
    port = service()
    client(port).read_window(PATH, *WINDOW, ListSink())
    op, args, action = service.calls(port)[0]
    assert op == "queryBanjian" and action == f'"{NS}queryBanjian"'
    assert args == {"updatedSince": WINDOW[0].isoformat(), "updatedUntil": WINDOW[1].isoformat(),
                    "pageNo": "1", "pageSize": "3"}


def test_a_server_fault_or_a_gateway_error_is_retried(service):
    for mode in ("server_once", "gateway_once"):
        reader = client(service(mode))
        sink = ListSink()
        reader.read_window(PATH, *WINDOW, sink)
        assert len(sink.items) == 7 and sum(reader.stats.retries.values()) == 1, mode


def test_a_client_fault_fails_at_once_without_the_value_it_echoed(service):
    reader = client(service("client"))
    with pytest.raises(SourceError, match="SOAP fault Client.*not retried") as err:
        reader.read_window(PATH, *WINDOW, ListSink())
    assert reader.stats.requests == 1 and "330110199001011234" not in str(err.value)


@pytest.mark.parametrize("mode, password", [("ok", "wrong"), ("auth", "secret")])
def test_refused_credentials_fail_at_once_naming_the_connection(service, mode, password):
    reader = client(service(mode), password=password)
    with pytest.raises(SourceError, match="refused our WS-Security credentials.*login 'yhlaw-etl' at http://127") as err:
        reader.read_window(PATH, *WINDOW, ListSink())
    assert reader.stats.requests == 1 and "wrong" not in str(err.value)


def test_a_total_that_changes_mid_read_restarts_the_window(service):
    reader = client(service("grows"))
    sink = ListSink()
    reader.read_window(PATH, *WINDOW, sink)
    assert reader.stats.restarts == 1 and len(sink.items) == 7


@pytest.mark.parametrize("mode, says", [
    ("billion_laughs", "declares a DOCTYPE or entity"),
    ("external_entity", "declares a DOCTYPE or entity"),
    ("deep", "nests deeper than 32"),
    ("not_envelope", "not a SOAP envelope"),
    ("no_total", "<total> is not a count"),
    ("repeated", "<caseNo> repeats outside a list"),
])
def test_hostile_or_broken_answers_fail_naming_the_operation_never_a_value(service, mode, says):
    reader = client(service(mode))
    with pytest.raises(SourceError) as err:
        reader.read_window(PATH, *WINDOW, ListSink())
    message = str(err.value)
    assert "queryBanjian" in message and says in message, message
    assert not any(v in message for v in ("张三", "330110199001011234", "passwd", "网关")), message


def test_a_body_beyond_max_body_bytes_fails_naming_the_bound(service):
    with pytest.raises(SourceError, match="max_body_bytes"):
        client(service("huge"), max_body_bytes=100_000).read_window(PATH, *WINDOW, ListSink())


def test_an_entity_path_without_an_operation_is_a_configuration_error(service):
    with pytest.raises(SourceError, match="<endpoint>#<operation>"):
        client(service()).read_window("/services/ZwfwShareService", *WINDOW, ListSink())
