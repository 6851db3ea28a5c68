"""The HTTP reader: auth, pagination, retries, all driven by the spec.

Transient faults are retried in-process with exponential backoff and jitter: connection
errors and resets, timeouts, 5xx, 429 (honouring Retry-After), and 200 responses whose body is
not the JSON page we asked for (truncated or malformed). A 401 re-authenticates and retries.
Anything else (400, 403, 404) is a configuration error and fails at once.

Pages are read in order for a half-open window [since, until). If the server's total changes
while we read (records moved in or out of the window), the read restarts from the first page
so that no record is skipped by shifting pages.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import random
import re
import time
from datetime import datetime
from typing import Any, Callable
from urllib.parse import quote

import requests

from yhlaw.readers.base import ExtractStats, PageSink, SourceConnection, SourceError, TransientError, WindowRestart

log = logging.getLogger(__name__)


class HttpSourceClient:
    def __init__(
        self,
        credentials: SourceConnection,
        transport: dict[str, Any],
        *,
        max_attempts: int | None = None,
        backoff_base: float | None = None,
        backoff_max: float = 30.0,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.creds = credentials
        self.transport = {**transport, **dict(credentials.transport_overrides)}
        transport = self.transport
        self.timeout = float(transport.get("timeout_seconds", 10))
        self.page_size = int(transport.get("page_size", 500))
        self.max_attempts = int(max_attempts or transport.get("max_attempts", 8))
        self.backoff_base = float(backoff_base if backoff_base is not None else transport.get("backoff_seconds", 0.5))
        self.backoff_max = float(transport.get("backoff_max_seconds", backoff_max))
        # Bounds on time and size: a socket timeout only bounds the wait for one read, so a source
        # that dribbles a byte at a time is cut off by the request's own deadline; a whole window
        # read has a deadline and a page limit too (a looping source must not read for ever).
        self.request_deadline = float(transport.get("request_deadline_seconds", max(30.0, 3 * self.timeout)))
        self.read_deadline = float(transport.get("read_deadline_seconds", 3600))
        self.max_pages = int(transport.get("max_pages", 100_000))
        self._read_started = time.monotonic()
        self.sleep = sleep
        self.session = requests.Session()
        self.stats = ExtractStats()
        self._token: str | None = None
        self._token_expires = 0.0
        self._jitter = random.Random()

    # -- auth -------------------------------------------------------------------------
    def _authenticate(self) -> None:
        auth = self.transport.get("auth")
        if auth != "oauth_client_credentials":
            raise SourceError(f"unsupported auth {auth!r}")
        url = self.creds.base_url + self.transport.get("token_path", "/oauth/token")
        body = self._with_retries(
            lambda: self._send("POST", url, data={
                "grant_type": "client_credentials",
                "client_id": self.creds.client_id,
                "client_secret": self.creds.client_secret,
            }),
            what="token",
        )
        self._token, lifetime = token_fields(body)
        # Renew a little early: a token that expires between check and use costs a retry.
        self._token_expires = time.monotonic() + max(1.0, lifetime * 0.9)

    def _headers(self, method: str, path: str, params: dict[str, Any]) -> dict[str, str]:
        """Auth headers for one request, by the spec's ``auth`` style."""
        if self.transport.get("auth") == "api_key_signature":
            return {"Accept": "application/json", **sign_request(
                self.creds.client_id, self.creds.client_secret, method, path, params, int(time.time()))}
        if self._token is None or time.monotonic() >= self._token_expires:
            self._authenticate()
        return {"Authorization": f"Bearer {self._token}", "Accept": "application/json"}

    # -- one request ------------------------------------------------------------------
    def _send(self, method: str, url: str, **kwargs) -> dict[str, Any]:
        self.stats.requests += 1
        try:
            resp = self.session.request(method, url, timeout=self.timeout, stream=True, **kwargs)
            self._read_body(resp, url)
        except requests.Timeout as exc:
            raise TransientError("timeout", f"no answer within {self.timeout}s: {url}") from exc
        except requests.ConnectionError as exc:
            raise TransientError("connection", f"connection failed: {exc}") from exc
        except (requests.exceptions.ChunkedEncodingError, requests.exceptions.ContentDecodingError) as exc:
            raise TransientError("reset", f"connection broken while reading the response: {exc}") from exc
        if resp.status_code == 429:
            retry_after = _retry_after(resp.headers.get("Retry-After"))
            raise TransientError("429", "rate limited", retry_after)
        if resp.status_code >= 500:
            raise TransientError("5xx", f"HTTP {resp.status_code} from {url}")
        if resp.status_code == 401:
            if "token" in url.rsplit("/", 1)[-1] or "signature" in resp.text:
                raise SourceError(f"the source refused our credentials (401) at {url}; "
                                  "check the Airflow connection's login and password")
            self._token = None
            raise TransientError("401", "token rejected; re-authenticating")
        if resp.status_code == 410:
            raise WindowRestart(f"{url}: HTTP 410, our position in the window is gone")
        if resp.status_code != 200:
            raise SourceError(f"HTTP {resp.status_code} from {url} ({len(resp.content)} bytes)")
        return _json_body(resp, url)

    def _read_body(self, resp: requests.Response, url: str) -> None:
        """Read the whole body within the request's deadline (it stays in ``resp.content``)."""
        if resp.raw is None:      # a body already read (an adapter that does not stream)
            return
        deadline = time.monotonic() + self.request_deadline
        chunks = []
        for chunk in resp.iter_content(chunk_size=65536):
            chunks.append(chunk)
            if time.monotonic() > deadline:
                resp.close()
                raise TransientError("slow", f"{url}: the body took longer than {self.request_deadline:.0f}s")
        resp._content = b"".join(chunks)

    def _check_bounds(self, path: str, pages: int) -> None:
        """Fail the read, naming the bound, when a window has taken too long or too many pages."""
        if pages > self.max_pages:
            raise SourceError(f"{path}: more than {self.max_pages} pages in one window (transport max_pages)")
        if time.monotonic() - self._read_started > self.read_deadline:
            raise SourceError(f"{path}: the window was not read within {self.read_deadline:.0f}s "
                              "(transport read_deadline_seconds)")

    def _with_retries(self, call: Callable[[], dict[str, Any]], what: str) -> dict[str, Any]:
        for attempt in range(1, self.max_attempts + 1):
            try:
                return call()
            except TransientError as exc:
                self.stats.retries[exc.kind] += 1
                if exc.kind == "401":
                    self.stats.reauths += 1
                if attempt == self.max_attempts:
                    raise SourceError(f"{what}: gave up after {attempt} attempts; last error: {exc}") from exc
                delay = exc.retry_after if exc.retry_after is not None else min(
                    self.backoff_max, self.backoff_base * 2 ** (attempt - 1))
                delay = min(self.backoff_max, delay) * (1 + 0.1 * self._jitter.random())
                log.warning("%s: %s (attempt %d/%d), retrying in %.1fs", what, exc, attempt, self.max_attempts, delay)
                self.sleep(delay)
        raise AssertionError("unreachable")

    # -- pagination -------------------------------------------------------------------
    def read_window(self, path: str, since: datetime, until: datetime, sink: "PageSink") -> None:
        """Stream the records updated in [since, until) into ``sink``, page by page.

        Pagination styles (spec ``transport.pagination``): ``page`` (page + page_size, the body
        carries ``total``) and ``cursor`` (limit + opaque ``next_cursor``; an expired cursor,
        HTTP 410, means the window is read again from the start).
        """
        style = self.transport.get("pagination", "page")
        reader = {"page": self._read_pages, "cursor": self._read_cursor}.get(style)
        if reader is None:
            raise SourceError(f"unsupported pagination {style!r}")
        params = {"updated_since": since.isoformat(), "updated_until": until.isoformat()}
        self._read_started = time.monotonic()
        max_restarts, last = int(self.transport.get("max_restarts", 3)), "its total changed"
        for _ in range(max_restarts + 1):
            try:
                if reader(path, params, sink):
                    return
                last = "its total changed"
            except WindowRestart as exc:
                log.warning("%s; reading the window again", exc)
                last = str(exc)
            self.stats.restarts += 1
            sink.reset()
        raise SourceError(f"{path}: the window could not be read whole ({max_restarts} restarts; last: {last})")

    def _read_pages(self, path: str, params: dict[str, Any], sink: "PageSink") -> bool:
        """One pass over numbered pages; False if the window changed under us and must be re-read."""
        params = {**params, "page_size": self.page_size}
        total, page, seen, served, records, full = None, 1, 0, {}, set(), None
        while True:
            self._check_bounds(path, page)
            body = self._with_retries(lambda: self._checked_page(path, {**params, "page": page}),
                                      what=f"GET {path} page {page}")
            if total is None:
                total = body["total"]
            elif body["total"] != total:
                log.warning("%s: total changed from %s to %s during the read; restarting", path, total, body["total"])
                return False
            items = body["items"]
            self.stats.pages += 1
            if items:   # a page served again (or shifted onto another) hides the records it replaced
                digest = _digest(items)
                if digest in served:
                    raise WindowRestart(f"{path}: page {page} repeats page {served[digest]}")
                served[digest] = page
            seen += len(items)
            full = full or len(items)              # the server's page size (it may cap ours)
            records.update(_digest(item) for item in items)
            if items:
                sink.write(items)
            # Past the announced total, a full page may still be followed by more: pages that
            # overlap (a shifted offset) push records beyond it. Read until a short or empty page.
            if not items or (seen >= total and len(items) < full):
                self._check_total(path, total, seen, len(records))
                self.stats.records += seen
                return True
            page += 1

    @staticmethod
    def _check_total(path: str, total: int, seen: int, distinct: int) -> None:
        """All announced records were served: exactly ``total``, or more where every extra one is a
        repeat of a record already served (overlapping pages; the repeats land and are quarantined
        as duplicates). Fewer, or extras that are new records, is an error."""
        if seen == total or (seen > total and distinct == total):
            return
        raise SourceError(f"{path}: server announced {total} records but served {seen} ({distinct} distinct)")

    def _read_cursor(self, path: str, params: dict[str, Any], sink: "PageSink") -> bool:
        """One pass following ``next_cursor`` until it is null; a cursor served twice is a loop."""
        params = {**params, "limit": self.page_size}
        cursor, seen, cursors = None, 0, set()
        while True:
            self._check_bounds(path, len(cursors) + 1)
            query = {**params, **({"cursor": cursor} if cursor else {})}
            body = self._with_retries(lambda: self._checked_page(path, query), what=f"GET {path} after {seen}")
            self.stats.pages += 1
            seen += len(body["items"])
            if body["items"]:
                sink.write(body["items"])
            cursor = body.get("next_cursor")
            if not cursor:
                self.stats.records += seen
                return True
            if cursor in cursors:
                raise SourceError(f"{path}: the source sent a cursor it had sent before, after {len(cursors) + 1} "
                                  "pages: its cursors loop")
            cursors.add(cursor)

    def _checked_page(self, path: str, params: dict[str, Any]) -> dict[str, Any]:
        body = self._send("GET", self.creds.base_url + path, params=params,
                          headers=self._headers("GET", path, params))
        if not isinstance(body.get("items"), list):
            raise TransientError("malformed", f"page without items: keys {sorted(body)[:6]}")
        if self.transport.get("pagination", "page") == "page" and not isinstance(body.get("total"), int):
            raise TransientError("malformed", f"page without total: keys {sorted(body)[:6]}")
        if "next_cursor" in body and not (body["next_cursor"] is None or isinstance(body["next_cursor"], str)):
            raise TransientError("malformed", "next_cursor is neither a string nor null")
        if len(body["items"]) > self.page_size:
            raise TransientError("malformed", f"page larger than page_size ({len(body['items'])})")
        return body


# A page is {items: [record, ...]}; a record's own nesting is a few levels. Deeper is a hostile or
# broken body, and would exhaust Python's recursion when stored or typed.
MAX_JSON_DEPTH = 64


def json_depth(value: Any) -> int:
    """Nesting depth of a parsed JSON value (a scalar is 0), without recursion."""
    depth, stack = 0, [(value, 0)]
    while stack:
        v, d = stack.pop()
        if isinstance(v, dict):
            v = list(v.values())
        if isinstance(v, list):
            depth = max(depth, d + 1)
            if d + 1 > MAX_JSON_DEPTH:
                return d + 1
            stack.extend((x, d + 1) for x in v)
    return depth


TOKEN_LIFETIME_IF_UNSTATED = 300.0
_TOKEN_TEXT = re.compile(r"^[\x21-\x7e]{1,4096}$")      # printable ASCII, no spaces: a header value


def token_fields(body: dict[str, Any]) -> tuple[str, float]:
    """The access token and its lifetime in seconds from a token response. A token that is not a
    printable string is refused (naming the field, never the value); an ``expires_in`` that is not
    a positive finite number is taken as 60 s, so a bad one costs renewals, not failed requests."""
    import math

    token = body.get("access_token")
    if not isinstance(token, str) or not _TOKEN_TEXT.match(token):
        raise SourceError(f"token endpoint answered without a usable access_token (fields {sorted(body)[:8]}; "
                          f"access_token is {type(token).__name__})")
    lifetime = body.get("expires_in", TOKEN_LIFETIME_IF_UNSTATED)
    if isinstance(lifetime, bool) or not isinstance(lifetime, (int, float)) or not math.isfinite(lifetime) \
            or lifetime <= 0:
        log.warning("token endpoint: expires_in is not a positive number of seconds; renewing after 60 s")
        lifetime = 60.0
    return token, float(lifetime)


def _digest(item: Any) -> str:
    return hashlib.sha256(json.dumps(item, sort_keys=True, default=str).encode()).hexdigest()


def _json_body(resp: requests.Response, url: str) -> dict[str, Any]:
    """The body as a JSON object of bounded depth; anything else is a malformed page."""
    where = resp.url or url
    try:
        body = resp.json()
    except (ValueError, requests.exceptions.ContentDecodingError) as exc:
        raise TransientError("malformed", f"response from {where} is not JSON ({len(resp.content)} bytes"
                                          f"{_json_error_position(exc, resp.content)})") from exc
    except RecursionError as exc:
        raise TransientError("malformed", f"response from {where} nests too deeply to read "
                                          f"({len(resp.content)} bytes)") from exc
    if json_depth(body) > MAX_JSON_DEPTH:
        raise TransientError("malformed", f"response from {where} nests deeper than {MAX_JSON_DEPTH} "
                                          "levels (no record of a source is that deep)")
    if not isinstance(body, dict):
        raise TransientError("malformed", f"response JSON from {where} is a {type(body).__name__}, not an object")
    return body


def canonical_query(params: dict[str, Any]) -> str:
    """Query parameters sorted by name, values percent-encoded (the signature's view of them)."""
    return "&".join(f"{k}={quote(str(v), safe='')}" for k, v in sorted(params.items()))


def sign_request(api_key: str, secret: str, method: str, path: str, params: dict[str, Any],
                 timestamp: int) -> dict[str, str]:
    """Headers of the API-key + HMAC-SHA256 request signature (petition system style)."""
    message = f"{method.upper()}\n{path}\n{canonical_query(params)}\n{timestamp}"
    signature = hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()
    return {"X-Api-Key": api_key, "X-Timestamp": str(timestamp), "X-Signature": signature}


def _json_error_position(exc: Exception, content: bytes) -> str:
    """Where a JSON body broke: '; line 1 column 57 (char 56): Expecting ',' delimiter'. Never an
    excerpt of the body: pages carry names and ID numbers, and this message ends in task logs."""
    if not isinstance(exc, json.JSONDecodeError):
        try:
            json.loads(content.decode("utf-8"))
        except json.JSONDecodeError as parsed:
            exc = parsed
        except UnicodeDecodeError as bad:
            return f"; byte {bad.start} is not UTF-8 ({bad.reason})"
        else:
            return f"; {exc}"
    return f"; line {exc.lineno} column {exc.colno} (char {exc.pos}): {exc.msg}"


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None
