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

import logging
import random
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable

import requests

log = logging.getLogger(__name__)


class SourceError(RuntimeError):
    """The source could not be read (after retries, or a non-retryable answer)."""


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
class Credentials:
    base_url: str
    client_id: str
    client_secret: str
    transport_overrides: tuple[tuple[str, Any], ...] = ()   # from the connection's extras

    @classmethod
    def from_airflow_connection(cls, conn) -> "Credentials":
        """host/port/schema(=URL scheme), login = client id, password = secret; extras such as
        ``{"timeout_seconds": 5, "page_size": 1000}`` override the spec's transport settings."""
        scheme = conn.schema or "http"
        port = f":{conn.port}" if conn.port else ""
        extras = tuple(sorted((conn.extra_dejson or {}).items()))
        return cls(f"{scheme}://{conn.host}{port}", conn.login or "", conn.password or "", extras)


class HttpSourceClient:
    def __init__(
        self,
        credentials: Credentials,
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
        self.backoff_max = backoff_max
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

    def _headers(self) -> dict[str, str]:
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
            if "token" in url.rsplit("/", 1)[-1]:
                raise SourceError(f"the source refused our client credentials (401) at {url}; "
                                  "check the Airflow connection's login and password")
            self._token = None
            raise TransientError("401", "token rejected; re-authenticating")
        if resp.status_code != 200:
            raise SourceError(f"HTTP {resp.status_code} from {url}: {resp.text[:300]}")
        try:
            body = resp.json()
        except (ValueError, requests.exceptions.ContentDecodingError) as exc:
            raise TransientError("malformed", f"response is not JSON ({len(resp.content)} bytes)") from exc
        if not isinstance(body, dict):
            raise TransientError("malformed", "response JSON is not an object")
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

    def get(self, path: str, params: dict[str, Any]) -> dict[str, Any]:
        url = self.creds.base_url + path
        return self._with_retries(lambda: self._send("GET", url, params=params, headers=self._headers()),
                                  what=f"GET {path} {params}")

    # -- pagination -------------------------------------------------------------------
    def read_window(self, path: str, since: datetime, until: datetime, sink: "PageSink",
                    max_restarts: int = 3) -> None:
        """Stream the records updated in [since, until) into ``sink``, page by page."""
        style = self.transport.get("pagination", "page")
        if style != "page":
            raise SourceError(f"unsupported pagination {style!r}")
        params = {"updated_since": since.isoformat(), "updated_until": until.isoformat(),
                  "page_size": self.page_size}
        for _ in range(max_restarts + 1):
            if self._read_pages(path, params, sink):
                return
            self.stats.restarts += 1
            sink.reset()
        raise SourceError(f"{path}: the window kept changing while it was read ({max_restarts} restarts)")

    def _read_pages(self, path: str, params: dict[str, Any], sink: "PageSink") -> bool:
        """One pass over the pages; False if the window changed under us and must be re-read."""
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

    def _checked_page(self, path: str, params: dict[str, Any]) -> dict[str, Any]:
        body = self._send("GET", self.creds.base_url + path, params=params, headers=self._headers())
        if not isinstance(body.get("items"), list) or not isinstance(body.get("total"), int):
            raise TransientError("malformed", f"page without items/total: keys {sorted(body)[:6]}")
        if len(body["items"]) > self.page_size:
            raise TransientError("malformed", f"page larger than page_size ({len(body['items'])})")
        return body


class PageSink:
    """Where pages go: ``write`` each page's items; ``reset`` discards all written so far."""

    def write(self, items: list[dict]) -> None:  # pragma: no cover - interface
        raise NotImplementedError

    def reset(self) -> None:  # pragma: no cover - interface
        raise NotImplementedError


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None
