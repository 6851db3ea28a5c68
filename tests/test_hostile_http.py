"""The HTTP reader against a source of our own that misbehaves in ways the simulators do not:
cursors that loop back, endless pages, a body dribbled a byte at a time. Every read ends, in
bounded time and memory, with an error naming the bound; nothing is written as if complete."""

from __future__ import annotations

import json
import threading
import time
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest

from yhlaw.readers import HttpSourceClient, SourceConnection, SourceError


class ListSink:
    def __init__(self):
        self.items: list[dict] = []

    def write(self, items):
        self.items.extend(items)

    def reset(self):
        self.items.clear()


def _serve(handler_cls):
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler_cls)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


class Hostile(BaseHTTPRequestHandler):
    mode = "loop"

    def log_message(self, *args):
        pass

    def _json(self, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.mode == "dribble":
            for byte in data:
                self.wfile.write(bytes([byte]))
                self.wfile.flush()
                time.sleep(0.05)
        else:
            self.wfile.write(data)

    def do_POST(self):
        self._json({"access_token": "t", "expires_in": 600})

    def do_GET(self):
        q = {k: v[0] for k, v in parse_qs(urlsplit(self.path).query).items()}
        n = int(q.get("cursor", "c0")[1:]) if self.mode == "loop" else int(q.get("page", "1"))
        if self.mode == "loop":       # c0 -> c1 -> c2 -> c1 -> ...: a cursor that loops back
            nxt = {0: "c1", 1: "c2", 2: "c1"}[n]
            self._json({"items": [{"id": f"r{n}"}], "next_cursor": nxt})
        elif self.mode == "repeat":   # 6 records announced; page 2 serves page 1 again
            items = [{"id": f"r{i}"} for i in ((1, 2) if n in (1, 2) else (5, 6))]
            self._json({"items": items if n <= 3 else [], "total": 6})
        elif self.mode in ("overlap", "overlap_and_lose"):   # from page 2 on, each page starts one early
            records = [{"id": f"r{i}"} for i in range(1, 7)]
            size = int(q.get("page_size", "2"))
            start = 0 if n == 1 else (n - 1) * size - 1
            items = records[start:start + size]
            if self.mode == "overlap_and_lose" and n >= 3:
                items = []                                    # ... and never serves the rest
            self._json({"items": items, "total": 6})
        elif self.mode in ("deep", "very_deep"):   # a record nested 100 / 100,000 levels deep
            depth = 100 if self.mode == "deep" else 100_000
            data = ('{"items": [{"id": "x", "name": "张三", "n": ' + "[" * depth + "]" * depth + '}], "total": 1}').encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        elif self.mode == "endless":  # announces more than it ever finishes serving
            self._json({"items": [{"id": f"p{n}"}], "total": 10**9})
        else:
            self._json({"items": [{"id": "x", "name": "张三"}], "total": 1})


@pytest.fixture
def hostile():
    servers = []

    def start(mode: str):
        handler = type(f"Hostile_{mode}", (Hostile,), {"mode": mode})
        servers.append(_serve(handler))
        return servers[-1].server_address[1]

    yield start
    for s in servers:
        s.shutdown()


def _client(port: int, **transport) -> HttpSourceClient:
    conn = SourceConnection("http", "127.0.0.1", port, "http", "id", "secret", ())
    return HttpSourceClient(conn, {"kind": "http", "auth": "oauth_client_credentials", "page_size": 10,
                                   "timeout_seconds": 2, "max_attempts": 2, "backoff_seconds": 0, **transport},
                            sleep=lambda s: None)


WINDOW = (datetime(2022, 3, 1, tzinfo=timezone.utc), datetime(2022, 3, 2, tzinfo=timezone.utc))


def test_a_cursor_that_loops_back_ends_the_read(hostile):
    port = hostile("loop")
    sink = ListSink()
    with pytest.raises(SourceError, match="cursor it had sent before.*loop"):
        _client(port, pagination="cursor").read_window("/items", *WINDOW, sink)
    assert len(sink.items) <= 4, "the reader kept following the loop"


def test_pages_without_end_stop_at_the_page_limit(hostile):
    port = hostile("endless")
    with pytest.raises(SourceError, match="more than 25 pages.*max_pages"):
        _client(port, pagination="page", max_pages=25).read_window("/items", *WINDOW, ListSink())


def test_a_body_dribbled_byte_by_byte_is_cut_at_the_request_deadline(hostile):
    port = hostile("dribble")
    started = time.monotonic()
    with pytest.raises(SourceError, match="took longer than 1s") as err:
        _client(port, pagination="page", request_deadline_seconds=1).read_window("/items", *WINDOW, ListSink())
    # Two attempts of about a second each, not the minutes the body would take at this pace.
    assert time.monotonic() - started < 10
    assert "张三" not in str(err.value)


def test_the_whole_window_has_a_deadline(hostile):
    port = hostile("endless")
    client = _client(port, pagination="page", read_deadline_seconds=0.3)
    with pytest.raises(SourceError, match="not read within 0s.*read_deadline_seconds"):
        client.read_window("/items", *WINDOW, ListSink())
    assert client.stats.pages >= 1


def test_a_page_served_twice_is_noticed_not_counted_as_new_records(hostile):
    port = hostile("repeat")
    sink = ListSink()
    with pytest.raises(SourceError, match="could not be read whole.*page 2 repeats page 1"):
        _client(port, pagination="page", page_size=2, max_restarts=1).read_window("/items", *WINDOW, sink)
    assert sink.items == [], "records of an incomplete read reached the sink"


@pytest.mark.parametrize("mode", ["deep", "very_deep"])
def test_a_body_nested_without_bound_fails_the_read_naming_the_url(hostile, mode):
    """Nesting deeper than any record (or than Python can parse) is a malformed page: the read
    fails naming the endpoint, with no value of the body in the message."""
    port = hostile(mode)
    sink = ListSink()
    with pytest.raises(SourceError) as err:
        _client(port, pagination="page").read_window("/items", *WINDOW, sink)
    assert "/items" in str(err.value) and "nests" in str(err.value), str(err.value)
    assert "张三" not in str(err.value) and sink.items == []


@pytest.mark.parametrize("body, ok", [
    ({"access_token": "abc.DEF-123", "expires_in": 600}, (True, 600.0)),
    ({"access_token": "abc", "expires_in": "600"}, (True, 60.0)),          # a text: renew early
    ({"access_token": "abc", "expires_in": -5}, (True, 60.0)),
    ({"access_token": "abc", "expires_in": float("nan")}, (True, 60.0)),
    ({"access_token": "abc"}, (True, 300.0)),
    ({"access_token": "ab\r\nX-Injected: 1"}, (False, None)),              # would forge a header
    ({"access_token": 12345}, (False, None)),
    ({"access_token": None, "name": "张三"}, (False, None)),
    ({"token": "abc"}, (False, None)),
])
def test_odd_token_responses_are_refused_or_bounded_never_trusted(body, ok):
    from yhlaw.readers.http import token_fields

    if ok[0]:
        assert token_fields(body) == (body["access_token"], ok[1])
    else:
        with pytest.raises(SourceError) as err:
            token_fields(body)
        assert "张三" not in str(err.value) and "Injected" not in str(err.value)


def test_overlapping_pages_are_read_past_the_total_until_every_record_was_served(hostile):
    """Pages shifted by one from page 2 on: the announced total is reached one record early. The
    reader goes on to a short page and gets the record the overlap pushed out; the repeat lands
    (and is quarantined downstream as a duplicate). If the rest never comes, the read fails."""
    sink = ListSink()
    _client(hostile("overlap"), pagination="page", page_size=2).read_window("/items", *WINDOW, sink)
    assert sorted({i["id"] for i in sink.items}) == [f"r{i}" for i in range(1, 7)]
    assert len(sink.items) == 7
    with pytest.raises(SourceError, match="announced 6 records but served 4"):
        _client(hostile("overlap_and_lose"), pagination="page", page_size=2).read_window("/items", *WINDOW,
                                                                                         ListSink())
