"""The one HTTP extraction client: auth, pagination, retries, all driven by the spec.

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
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable
from urllib.parse import quote

import requests

log = logging.getLogger(__name__)


class SourceError(RuntimeError):
    """The source could not be read (after retries, or a non-retryable answer)."""


class WindowRestart(Exception):
    """The source says our position in the window is gone (e.g. an expired cursor): start over."""


class TransientError(Exception):
    def __init__(self, kind: str, message: str, retry_after: float | None = None):
        super().__init__(message)
        self.kind = kind
        self.retry_after = retry_after


@dataclass
class ExtractStats:
    requests: int = 0
    pages: int = 0
    records: int = 0
    restarts: int = 0
    reauths: int = 0
    retries: Counter = field(default_factory=Counter)

    def as_dict(self) -> dict[str, Any]:
        return {"requests": self.requests, "pages": self.pages, "records": self.records,
                "restarts": self.restarts, "reauths": self.reauths, "retries": dict(self.retries)}


@dataclass(frozen=True)
class SourceConnection:
    """Where a source is and how to log in: the fields of its Airflow connection.

    HTTP sources: host/port, ``schema`` = URL scheme, login = client id or API key, password =
    secret. Database sources: a SQLAlchemy URL from conn_type/host/port/login/password/schema
    (= database). Extras override the spec's transport settings (e.g. ``timeout_seconds``).
    """

    conn_type: str
    host: str
    port: int | None
    schema: str
    login: str
    password: str
    transport_overrides: tuple[tuple[str, Any], ...] = ()

    @classmethod
    def from_airflow_connection(cls, conn) -> "SourceConnection":
        extras = tuple(sorted((conn.extra_dejson or {}).items()))
        return cls(conn.conn_type or "http", conn.host or "", conn.port, conn.schema or "", conn.login or "",
                   conn.password or "", extras)

    @property
    def base_url(self) -> str:
        port = f":{self.port}" if self.port else ""
        return f"{self.schema or 'http'}://{self.host}{port}"

    @property
    def client_id(self) -> str:
        return self.login

    @property
    def client_secret(self) -> str:
        return self.password

    @property
    def sqlalchemy_url(self):
        from sqlalchemy.engine import URL

        driver = {"postgres": "postgresql+psycopg2", "postgresql": "postgresql+psycopg2",
                  "mysql": "mysql+pymysql"}.get(self.conn_type, self.conn_type)
        return URL.create(driver, username=self.login or None, password=self.password or None,
                          host=self.host or None, port=self.port, database=self.schema or None)


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
        if "access_token" not in body:
            raise SourceError(f"token endpoint answered without access_token: {sorted(body)}")
        self._token = body["access_token"]
        # Renew a little early: a token that expires between check and use costs a retry.
        self._token_expires = time.monotonic() + max(1.0, float(body.get("expires_in", 300)) * 0.9)

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
            resp = self.session.request(method, url, timeout=self.timeout, **kwargs)
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
                raise SourceError(f"the source refused our credentials (401) at {url}: {resp.text[:200]}; "
                                  "check the Airflow connection's login and password")
            self._token = None
            raise TransientError("401", "token rejected; re-authenticating")
        if resp.status_code == 410:
            raise WindowRestart(f"{url}: {resp.text[:200]}")
        if resp.status_code != 200:
            raise SourceError(f"HTTP {resp.status_code} from {url}: {resp.text[:300]}")
        try:
            body = resp.json()
        except (ValueError, requests.exceptions.ContentDecodingError) as exc:
            raise TransientError("malformed", f"response from {resp.url or url} is not JSON ({len(resp.content)} bytes"
                                              f"{_json_error_position(exc, resp.content)})") from exc
        if not isinstance(body, dict):
            raise TransientError("malformed", f"response JSON from {resp.url or url} is a {type(body).__name__}, "
                                              "not an object")
        return body

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
        max_restarts = int(self.transport.get("max_restarts", 3))
        for _ in range(max_restarts + 1):
            try:
                if reader(path, params, sink):
                    return
            except WindowRestart as exc:
                log.warning("%s; reading the window again", exc)
            self.stats.restarts += 1
            sink.reset()
        raise SourceError(f"{path}: the window kept changing while it was read ({max_restarts} restarts)")

    def _read_pages(self, path: str, params: dict[str, Any], sink: "PageSink") -> bool:
        """One pass over numbered pages; False if the window changed under us and must be re-read."""
        params = {**params, "page_size": self.page_size}
        total, page, seen = None, 1, 0
        while True:
            body = self._with_retries(lambda: self._checked_page(path, {**params, "page": page}),
                                      what=f"GET {path} page {page}")
            if total is None:
                total = body["total"]
            elif body["total"] != total:
                log.warning("%s: total changed from %s to %s during the read; restarting", path, total, body["total"])
                return False
            items = body["items"]
            self.stats.pages += 1
            seen += len(items)
            if items:
                sink.write(items)
            if seen >= total or not items:
                if seen != total:
                    raise SourceError(f"{path}: server announced {total} records but served {seen}")
                self.stats.records += seen
                return True
            page += 1

    def _read_cursor(self, path: str, params: dict[str, Any], sink: "PageSink") -> bool:
        """One pass following ``next_cursor`` until it is null."""
        params = {**params, "limit": self.page_size}
        cursor, seen = None, 0
        while True:
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


class PageSink:
    """Where pages go: ``write`` each page's items; ``reset`` discards all written so far."""

    def write(self, items: list[dict]) -> None:  # pragma: no cover - interface
        raise NotImplementedError

    def reset(self) -> None:  # pragma: no cover - interface
        raise NotImplementedError


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
    """Where a JSON body broke: '; line 1 column 57 (char 56): Expecting ',' delimiter, near ...'."""
    if not isinstance(exc, json.JSONDecodeError):
        try:
            json.loads(content.decode("utf-8"))
        except json.JSONDecodeError as parsed:
            exc = parsed
        except UnicodeDecodeError as bad:
            return f"; byte {bad.start} is not UTF-8: {bad.object[bad.start:bad.start + 4]!r}"
        else:
            return f"; {exc}"
    near = exc.doc[max(0, exc.pos - 30):exc.pos + 10]
    return f"; line {exc.lineno} column {exc.colno} (char {exc.pos}): {exc.msg}, near {near!r}"


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


class SqlSourceReader:
    """Reads a source system's database with incremental SQL on its update column.

    The entity's ``path`` names a query file (relative to the project) taking ``:since`` and
    ``:until``; it runs in one REPEATABLE READ, read-only transaction, so rows updated while we
    read cannot shift or tear the result (they are read again, newer, by a later window).
    Rows stream from a server-side cursor; dates and decimals become JSON-ready values.
    """

    def __init__(self, connection: SourceConnection, transport: dict[str, Any]):
        self.connection = connection
        self.transport = {**transport, **dict(connection.transport_overrides)}
        self.stats = ExtractStats()

    def _local(self, moment: datetime) -> datetime:
        """The window bound as the source stores times: naive local time (spec ``timezone``)."""
        if moment.tzinfo is None:
            return moment
        from zoneinfo import ZoneInfo

        return moment.astimezone(ZoneInfo(self.transport.get("timezone", "Asia/Shanghai"))).replace(tzinfo=None)

    def read_window(self, path: str, since: datetime, until: datetime, sink: "PageSink") -> None:
        from sqlalchemy import create_engine, text

        from yhlaw.settings import PROJECT_ROOT

        query = text((PROJECT_ROOT / path).read_text(encoding="utf-8"))
        chunk = int(self.transport.get("page_size", 5000))
        engine = create_engine(self.connection.sqlalchemy_url, pool_pre_ping=True)
        try:
            with engine.connect() as conn:
                conn = conn.execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True,
                                              stream_results=True, yield_per=chunk)
                self.stats.requests += 1
                result = conn.execute(query, {"since": self._local(since), "until": self._local(until)})
                for rows in result.mappings().partitions(chunk):
                    items = [{k: _json_ready(v) for k, v in row.items()} for row in rows]
                    self.stats.pages += 1
                    self.stats.records += len(items)
                    sink.write(items)
        except Exception as exc:
            from sqlalchemy.exc import DBAPIError, OperationalError

            if isinstance(exc, OperationalError) or (isinstance(exc, DBAPIError) and exc.connection_invalidated):
                raise SourceError(f"source database unavailable: {str(exc).splitlines()[0]}") from exc
            raise
        finally:
            engine.dispose()


class FileDropReader:
    """Reads export files that a system delivers into a drop location (local folder by default;
    any fsspec URL such as ``s3://bucket/prefix`` by the connection's ``path`` extra).

    Contract of the drop: a data file (CSV in any declared encoding, or XLSX) is complete only
    when its manifest ``<file>.manifest.json`` exists: ``{"file", "entity", "format",
    "encoding", "rows", "sha256", "delivered_at"}``. A window reads the files whose manifest says
    they were delivered in [since, until); a re-delivered (corrected) file is a new delivery.
    Each row becomes a record with the file's name, delivery time and as-of time added
    (``_file``, ``_delivered_at``, ``_as_of`` = end of the export day + the file's version). A file that does
    not match its manifest (half-written, truncated) is a transient fault: the task fails and
    is retried, since skipping it would lose it.
    """

    def __init__(self, connection: SourceConnection, transport: dict[str, Any]):
        self.transport = {**transport, **dict(connection.transport_overrides)}
        self.root = str(self.transport.get("path") or connection.host)
        self.stats = ExtractStats()

    def read_window(self, path: str, since: datetime, until: datetime, sink: "PageSink") -> None:
        import fsspec

        fs, root = fsspec.core.url_to_fs(self.root)
        manifests = []
        for m in sorted(fs.glob(f"{root.rstrip('/')}/{path}.manifest.json")):
            with fs.open(m, "rb") as f:
                manifest = json.loads(f.read().decode("utf-8"))
            delivered = datetime.fromisoformat(manifest["delivered_at"])
            if since <= delivered < until:
                manifests.append((delivered, m, manifest))
        for delivered, m, manifest in sorted(manifests, key=lambda x: (x[0], x[1])):
            data_path = m[: -len(".manifest.json")]
            data = self._complete_file(fs, data_path, manifest)
            rows = self._rows(data, manifest, data_path)
            if len(rows) != int(manifest["rows"]):
                raise SourceError(f"{data_path}: manifest announces {manifest['rows']} rows, file has {len(rows)}")
            name = data_path.rsplit("/", 1)[-1]
            # A row is the record's state at the end of its export day; a re-delivered file
            # (version 2, 3, ...) revises that day only. _as_of orders versions that way, so a
            # late correction of day D never overrides what day D+1 already said.
            as_of = f"{manifest['export_date']}T23:59:{min(59, int(manifest.get('version', 1))):02d}+08:00"
            for row in rows:
                row["_file"] = name
                row["_delivered_at"] = manifest["delivered_at"]
                row["_as_of"] = as_of
            self.stats.pages += 1
            self.stats.records += len(rows)
            if rows:
                sink.write(rows)

    def _complete_file(self, fs, data_path: str, manifest: dict[str, Any]) -> bytes:
        """The file's bytes once they match the manifest; a half-written file is re-read with
        backoff (the writer is still at it), and only then is it an error."""
        attempts = int(self.transport.get("max_attempts", 8))
        delay = float(self.transport.get("backoff_seconds", 0.5))
        for attempt in range(1, attempts + 1):
            with fs.open(data_path, "rb") as f:
                data = f.read()
            self.stats.requests += 1
            if hashlib.sha256(data).hexdigest() == manifest["sha256"]:
                return data
            self.stats.retries["half_written"] += 1
            if attempt < attempts:
                time.sleep(min(float(self.transport.get("backoff_max_seconds", 30)), delay * 2 ** (attempt - 1)))
        raise SourceError(f"{data_path}: content still does not match its manifest after {attempts} reads "
                          "(half-written or corrupted delivery); the task will retry")

    def _rows(self, data: bytes, manifest: dict[str, Any], where: str) -> list[dict[str, Any]]:
        """The file's rows as records (header -> value; empty cells None). A file that cannot be
        read as a whole (not decodable, malformed CSV, not a workbook, no or a broken header)
        raises SourceError naming the file and the line or cell: skipping it would lose it."""
        fmt = manifest.get("format", "csv")
        if fmt == "xlsx":
            return self._xlsx_rows(data, where)
        if fmt != "csv":
            raise SourceError(f"{where}: unknown format {fmt!r}")
        # UTF-8 first whatever the manifest says: it is self-validating (GBK text almost never
        # decodes as UTF-8), while UTF-8 bytes often "decode" as GBK into mojibake.
        declared = manifest.get("encoding", "utf-8")
        text = None
        failures = []
        for encoding in dict.fromkeys(["utf-8-sig", declared, "gb18030"]):
            try:
                text = data.decode(encoding)
            except LookupError:
                failures.append(f"{encoding}: unknown encoding")
                continue
            except UnicodeDecodeError as exc:
                failures.append(f"{encoding}: {_byte_position(data, exc)}")
                continue
            if encoding.replace("-sig", "").replace("_", "-").lower() != declared.replace("_", "-").lower() \
                    and not (declared.lower() in ("gbk", "gb2312", "gb18030") and encoding == "gb18030"):
                self.stats.retries["encoding_mismatch"] += 1
                log.warning("%s: declared %s but is %s", where, declared, encoding)
            break
        if text is None:
            raise SourceError(f"{where}: not decodable as {declared}, UTF-8 or GB18030 ({'; '.join(failures)})")
        return _csv_rows(text, where)

    @staticmethod
    def _xlsx_rows(data: bytes, where: str) -> list[dict[str, Any]]:
        import io as _io
        import zipfile

        from openpyxl import load_workbook

        try:
            sheet = load_workbook(_io.BytesIO(data), read_only=True, data_only=True).active
            values = list(sheet.iter_rows(values_only=True))
        except (zipfile.BadZipFile, KeyError, ValueError, OSError, EOFError) as exc:
            raise SourceError(f"{where}: not a readable XLSX workbook ({len(data)} bytes): "
                              f"{type(exc).__name__}: {exc}") from exc
        if not values:
            raise SourceError(f"{where}: the workbook's first sheet is empty (no header row)")
        header = [str(h).strip() if h is not None else "" for h in values[0]]
        _check_header(header, where, "row 1")
        rows = []
        for n, r in enumerate(values[1:], start=2):
            if not any(x is not None for x in r):
                continue
            stray = [x for i, x in enumerate(r) if x is not None and (i >= len(header) or not header[i])]
            if stray:
                raise SourceError(f"{where}: row {n} has values in columns without a header: {stray[:3]!r}")
            rows.append({h: _json_ready(v) for h, v in zip(header, r) if h})
        return rows


def _byte_position(data: bytes, exc: UnicodeDecodeError) -> str:
    """'line 3, byte 57 (b'\\xff\\xfe'): invalid start byte' for an undecodable spot."""
    line = data.count(b"\n", 0, exc.start) + 1
    return f"line {line}, byte {exc.start} ({data[exc.start:exc.start + 4]!r}): {exc.reason}"


def _check_header(header: list[str], where: str, at: str) -> None:
    named = [h for h in header if h]
    if not named:
        raise SourceError(f"{where}: {at}: no header (no column names)")
    dup = sorted({h for h in named if named.count(h) > 1})
    if dup:
        raise SourceError(f"{where}: {at}: duplicate column names {dup} in the header")


def _csv_rows(text: str, where: str) -> list[dict[str, Any]]:
    """Rows of a CSV text; a row with another number of fields than the header, or a broken
    quote, is an error naming its line (a shifted row would put values in the wrong columns)."""
    import csv as _csv
    import io as _io

    reader = _csv.reader(_io.StringIO(text), strict=True)
    try:
        header = [h.strip() for h in next(reader, [])]
        _check_header(header, where, "line 1")
        rows = []
        for row in reader:
            if not row or all(v == "" for v in row) and len(row) <= 1:
                continue                       # blank line
            if len(row) != len(header):
                raise SourceError(f"{where}: line {reader.line_num}: {len(row)} fields, the header has "
                                  f"{len(header)} (starts {','.join(row)[:60]!r})")
            rows.append({k: (v if v != "" else None) for k, v in zip(header, row) if k})
    except _csv.Error as exc:
        raise SourceError(f"{where}: line {reader.line_num}: malformed CSV: {exc}") from exc
    return rows


class LedgerFileReader(FileDropReader):
    """Ledgers a department maintains by hand (CSV in UTF-8 or GB18030, or XLSX) in a folder:
    no manifest, no delivery times. Every run reads every matching file as it is now — the
    window is ignored — and the rows' own update column decides what is new: the loader keeps
    one version per (key, update time), so an unchanged ledger changes nothing in core."""

    def read_window(self, path: str, since: datetime, until: datetime, sink: "PageSink") -> None:
        import fsspec

        fs, root = fsspec.core.url_to_fs(self.root)
        files = sorted(fs.glob(f"{root.rstrip('/')}/{path}"))
        for data_path in files:
            with fs.open(data_path, "rb") as f:
                data = f.read()
            self.stats.requests += 1
            fmt = "xlsx" if data_path.lower().endswith(".xlsx") else "csv"
            rows = self._rows(data, {"format": fmt, "encoding": "utf-8"}, data_path)
            name = data_path.rsplit("/", 1)[-1]
            for row in rows:
                row["_file"] = name
            self.stats.pages += 1
            self.stats.records += len(rows)
            if rows:
                sink.write(rows)


def _json_ready(value: Any) -> Any:
    from datetime import date
    from decimal import Decimal

    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def open_reader(connection: SourceConnection, transport: dict[str, Any], **options):
    """The reader for a spec's transport kind; every reader has ``read_window`` and ``stats``."""
    kind = transport.get("kind", "http")
    if kind == "http":
        return HttpSourceClient(connection, transport, **options)
    if kind == "sql":
        return SqlSourceReader(connection, transport)
    if kind == "file_drop":
        return FileDropReader(connection, transport)
    if kind == "ledger_file":
        return LedgerFileReader(connection, transport)
    raise SourceError(f"unsupported transport kind {kind!r}")
