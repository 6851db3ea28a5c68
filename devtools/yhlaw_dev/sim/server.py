"""HTTP face of a simulated source: incremental list endpoints (one per
collection) in the source's API style, seeded fault injection and ``/_sim/*``
admin endpoints for tests.

Source-agnostic: the source is looked up in ``SOURCES`` by name and must
expose ``build_source(settings) -> SimSource``; ``SimSource.api`` picks the
API style from ``API_STYLES``:

* ``oauth_paged`` -- OAuth2 client-credentials tokens (``POST /oauth/token``),
  ``GET {prefix}/{entity}?updated_since&updated_until&page&page_size`` ->
  ``{"total", "page", "page_size", "items"}``.
* ``signed_cursor`` -- no token: every request carries ``X-Api-Key``,
  ``X-Timestamp`` and ``X-Signature`` (HMAC-SHA256, see ``signature``);
  ``GET {prefix}/{entity}?updated_since&updated_until&limit[&cursor]`` ->
  ``{"items", "next_cursor"}`` with keyset cursors that expire, and a
  per-key rolling-minute rate limit (429 + Retry-After).
* ``none`` -- no data endpoint at all: the source is a ``SourceSystem``
  (a drop folder, a database) that the process keeps in step with the world
  clock; only ``/healthz`` and ``/_sim/*`` are served.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import bisect
import hashlib
import hmac
import importlib
import json
import logging
import math
import os
import random
import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass, field, fields
from datetime import date, datetime, timedelta, timezone
from typing import Any, Callable, ClassVar, Mapping
from urllib.parse import parse_qs, quote

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from . import SIMULATORS
from .framework import FAULT_KINDS, DailyCollection, FaultProfile, SimSource, WorldClock, parse_iso, to_iso

log = logging.getLogger("yhlaw_dev.sim")

#: source name -> module exposing ``build_source(settings)``.
SOURCES = {name: sim.module for name, sim in SIMULATORS.items()}

MAX_PAGE_SIZE = 1000
DEFAULT_PAGE_SIZE = 500
MAX_CURSOR_LIMIT = 500
DEFAULT_CURSOR_LIMIT = 200
#: Largest accepted |wall clock - X-Timestamp| of a signed request, seconds.
SIGNATURE_MAX_SKEW = 300
#: Where a list endpoint leaves its item count for the middleware's stats.
ITEMS_SCOPE_KEY = "yhlaw_dev.sim.items"


class SimulatorConfigError(ValueError):
    """Invalid or missing simulator configuration."""


# --------------------------------------------------------------------------
# settings


@dataclass
class SimulatorConfig:
    """Simulator configuration; ``from_env`` reads the ``SIM_*`` variables."""

    client_secret: str | None = None
    source: str = "enforcement"
    seed: int = 20220101
    cases_per_day: int = 40
    inspections_per_day: int = 60
    petitions_per_day: int = 25
    services_per_day: int = 60
    court_cases_per_day: int = 50
    mediations_per_day: int = 30
    drop_dir: str | None = None  # courts: the drop folder
    half_written_seconds: float = 2.0  # courts: how long a half_written file stays truncated
    db_admin_url: str | None = None  # mediation: libpq URL of a role that may create databases/roles
    db_name: str = "yhlaw_sim_mediation"
    db_reader: str = "mediation_reader"
    system_tick_seconds: float = 5.0  # non-HTTP sources: catch-up interval while the clock is real time
    dirt: str = "default"
    faults: str = "none"
    client_id: str = "yhlaw-etl"
    admin_token: str | None = None
    token_ttl: int = 600
    cursor_ttl: int = 300
    rate_limit_per_min: int = 600
    slow_seconds: float = 5.0
    start_date: date = date(2020, 1, 1)   # the old district (twenty 镇街) until 2021-04-09, then today's
    end_date: date = date(2023, 12, 31)
    now: datetime | None = None  # initial pinned world clock; None = real time
    follow_minutes: int | None = None  # HTTP queries answered as at window end + this (WorldClock.follow)

    ENV: ClassVar[dict[str, str]] = {
        "seed": "SIM_SEED", "cases_per_day": "SIM_CASES_PER_DAY",
        "inspections_per_day": "SIM_INSPECTIONS_PER_DAY", "dirt": "SIM_DIRT",
        "petitions_per_day": "SIM_PETITIONS_PER_DAY", "services_per_day": "SIM_SERVICES_PER_DAY",
        "cursor_ttl": "SIM_CURSOR_TTL", "rate_limit_per_min": "SIM_RATE_LIMIT_PER_MIN",
        "faults": "SIM_FAULTS", "client_id": "SIM_CLIENT_ID",
        "client_secret": "SIM_CLIENT_SECRET", "admin_token": "SIM_ADMIN_TOKEN",
        "token_ttl": "SIM_TOKEN_TTL", "slow_seconds": "SIM_SLOW_SECONDS",
        "start_date": "SIM_START_DATE", "end_date": "SIM_END_DATE", "now": "SIM_NOW",
        "follow_minutes": "SIM_CLOCK_FOLLOW_MINUTES",
        "court_cases_per_day": "SIM_COURT_CASES_PER_DAY", "mediations_per_day": "SIM_MEDIATIONS_PER_DAY",
        "drop_dir": "SIM_DROP_DIR", "half_written_seconds": "SIM_HALF_WRITTEN_SECONDS",
        "db_admin_url": "SIM_DB_ADMIN_URL", "db_name": "SIM_DB_NAME", "db_reader": "SIM_DB_READER",
        "system_tick_seconds": "SIM_SYSTEM_TICK_SECONDS",
    }

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> SimulatorConfig:
        """Build settings: explicit ``overrides`` (non-None) win over env vars,
        which win over defaults."""
        env = os.environ if env is None else env
        values: dict[str, Any] = {}
        for f in fields(cls):
            if overrides.get(f.name) is not None:
                values[f.name] = overrides[f.name]
            elif env.get(cls.ENV.get(f.name, "")):
                values[f.name] = _convert(f.name, env[cls.ENV[f.name]], cls.ENV[f.name])
        return cls(**values)

    def validate(self) -> None:
        if self.source not in SOURCES:
            raise SimulatorConfigError(f"unknown source {self.source!r}; known: {sorted(SOURCES)}")
        module = importlib.import_module(SOURCES[self.source])
        if getattr(module, "NEEDS_CLIENT_SECRET", True) and not self.client_secret:
            raise SimulatorConfigError("SIM_CLIENT_SECRET is not set; the simulator refuses to start "
                                "without a client secret (export SIM_CLIENT_SECRET=...)")
        if hasattr(module, "validate_settings"):
            try:
                module.validate_settings(self)
            except ValueError as exc:
                raise SimulatorConfigError(str(exc)) from None
        if self.start_date > self.end_date:
            raise SimulatorConfigError("SIM_START_DATE is after SIM_END_DATE")
        if self.token_ttl < 0 or self.slow_seconds < 0 or self.cursor_ttl < 0:
            raise SimulatorConfigError("SIM_TOKEN_TTL, SIM_CURSOR_TTL and SIM_SLOW_SECONDS must be >= 0")
        if self.rate_limit_per_min < 1:
            raise SimulatorConfigError("SIM_RATE_LIMIT_PER_MIN must be >= 1")
        volumes = (self.cases_per_day, self.inspections_per_day, self.petitions_per_day, self.services_per_day,
                   self.court_cases_per_day, self.mediations_per_day)
        if min(volumes) < 0:
            raise SimulatorConfigError("SIM_*_PER_DAY volumes must be >= 0")


def _convert(name: str, raw: str, var: str) -> Any:
    """Convert an env string to the type of setting ``name``."""
    try:
        if name in ("seed", "cases_per_day", "inspections_per_day", "petitions_per_day", "services_per_day",
                    "token_ttl", "cursor_ttl", "rate_limit_per_min", "court_cases_per_day", "mediations_per_day",
                    "follow_minutes"):
            return int(raw)
        if name in ("slow_seconds", "half_written_seconds", "system_tick_seconds"):
            return float(raw)
        if name in ("start_date", "end_date"):
            return date.fromisoformat(raw)
        if name == "now":
            return parse_iso(raw)
    except ValueError as exc:
        raise SimulatorConfigError(f"{var}={raw!r}: {exc}") from None
    return raw


# --------------------------------------------------------------------------
# runtime state


class ApiError(Exception):
    """Short-circuit a request with a JSON error body."""

    def __init__(self, status: int, error: str, detail: str | None = None,
                 headers: dict[str, str] | None = None) -> None:
        self.status, self.headers = status, headers
        self.body = {"error": error, **({"detail": detail} if detail else {})}


class TokenStore:
    """Opaque bearer tokens with wall-clock expiry (not the world clock)."""

    def __init__(self, ttl: int, wall_time: Callable[[], float] = time.time) -> None:
        self.ttl, self._wall_time = ttl, wall_time
        self._tokens: dict[str, float] = {}
        self._lock = threading.Lock()

    def issue(self) -> str:
        token = secrets.token_urlsafe(32)
        now = self._wall_time()
        with self._lock:
            self._tokens = {t: exp for t, exp in self._tokens.items() if exp > now}
            self._tokens[token] = now + self.ttl
        return token

    def valid(self, token: str) -> bool:
        with self._lock:
            expiry = self._tokens.get(token)
        return expiry is not None and self._wall_time() < expiry

    def revoke(self, token: str) -> bool:
        with self._lock:
            return self._tokens.pop(token, None) is not None


@dataclass
class Stats:
    requests: int = 0
    faults: dict[str, int] = field(default_factory=dict)
    items_served: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {"requests": self.requests, "faults": dict(self.faults), "items_served": self.items_served}


class SimState:
    """Everything mutable about a running simulator."""

    def __init__(self, settings: SimulatorConfig, source: SimSource, wall_time: Callable[[], float],
                 fault_kinds: tuple[str, ...] = FAULT_KINDS) -> None:
        self.settings, self.source, self.wall_time = settings, source, wall_time
        self.fault_kinds = fault_kinds
        self.clock = WorldClock(settings.now, None if settings.follow_minutes is None
                                else timedelta(minutes=settings.follow_minutes))
        self.tokens = TokenStore(settings.token_ttl, wall_time)
        self.stats = Stats()
        self._lock = threading.Lock()
        self.set_faults(FaultProfile.parse(settings.faults, fault_kinds))
        self.api: Api | None = None  # set by create_app

    def set_faults(self, profile: FaultProfile) -> None:
        """Replace the fault profile and restart its seeded draw sequence."""
        with self._lock:
            self.faults = profile
            self._fault_rng = random.Random(self.settings.seed)

    def next_fault(self) -> str | None:
        """Count one faultable request and draw its fault (arrival order)."""
        with self._lock:
            self.stats.requests += 1
            return self.faults.draw(self._fault_rng)

    def fault_choice(self, options: tuple) -> Any:
        """A further draw from the fault RNG (e.g. which 5xx status)."""
        with self._lock:
            return self._fault_rng.choice(options)

    def fault_happens(self, kind: str) -> bool:
        """One draw from the fault RNG: does fault ``kind`` hit this event?
        (For a system's own faults, which fire on deliveries, not requests.)"""
        with self._lock:
            p = self.faults.probabilities.get(kind, 0.0)
            return self._fault_rng.random() < p

    def record_fault(self, kind: str) -> None:
        with self._lock:
            self.stats.faults[kind] = self.stats.faults.get(kind, 0) + 1

    def served(self, n: int) -> None:
        with self._lock:
            self.stats.items_served += n

    def reset_stats(self) -> None:
        with self._lock:
            self.stats = Stats()


# --------------------------------------------------------------------------
# fault injection (pure ASGI middleware)

MALFORMED_BODY = "<html><head><title>502</title></head><body><h1>网关错误</h1></body></html>".encode()


def _bearer(headers: Mapping[str, str] | list[tuple[bytes, bytes]]) -> str | None:
    """The bearer token from an Authorization header value or ASGI headers."""
    if isinstance(headers, list):
        value = next((v.decode("latin-1") for k, v in headers if k == b"authorization"), "")
    else:
        value = headers.get("authorization") or ""
    scheme, _, token = value.partition(" ")
    return (token.strip() or None) if scheme.lower() == "bearer" else None


async def _send_raw(send, status: int, body: bytes, headers: list[tuple[bytes, bytes]] = ()) -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json; charset=utf-8"),
                            (b"content-length", str(len(body)).encode()), *headers]})
    await send({"type": "http.response.body", "body": body})


async def _capture(app, scope, receive) -> tuple[dict, bytes]:
    """Run ``app`` and return its response start message and full body."""
    start: dict = {}
    chunks: list[bytes] = []

    async def capture(message: dict) -> None:
        if message["type"] == "http.response.start":
            start.update(message)
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    await app(scope, receive, capture)
    return start, b"".join(chunks)


def _cut(body: bytes, fraction: float) -> bytes:
    """Cut ``body`` at ``fraction`` of its length, on a UTF-8 boundary."""
    n = max(1, int(len(body) * fraction)) if len(body) > 1 else 0
    while 0 < n < len(body) and body[n] & 0xC0 == 0x80:
        n -= 1
    return body[:n]


def _with_length(headers: list[tuple[bytes, bytes]], length: int) -> list[tuple[bytes, bytes]]:
    kept = [(k, v) for k, v in headers if k != b"content-length"]
    return kept + [(b"content-length", str(length).encode())]


class FaultInjector:
    """Draws one fault per request to the source's API (``/api/*`` and, for
    OAuth sources, ``/oauth/token``).

    Auth-related kinds only fire when there is something to break: the API
    style's ``arm_fault`` turns ``token_expire`` without a live token (and
    e.g. ``cursor_expire`` without a cursor) into no fault at all.

    ``reset`` sends the real status line and headers (with the real
    Content-Length), a third of the body, and then ends the ASGI call
    without completing the response: uvicorn closes the TCP connection, so
    clients see "connection broken / incomplete read".
    """

    def __init__(self, app, state: SimState) -> None:
        self.app, self.state = app, state

    async def __call__(self, scope, receive, send) -> None:
        api = self.state.api
        if scope["type"] != "http" or not api.fault_applies(scope["path"]):
            return await self.app(scope, receive, send)
        kind = self.state.next_fault()
        if kind is not None:
            kind = api.arm_fault(kind, scope)
        if kind is not None:
            self.state.record_fault(kind)
            log.info("fault %s on %s %s", kind, scope["method"], scope["path"])
        handlers = {None: self.app, "5xx": self._server_error, "429": self._rate_limit,
                    "slow": self._slow, "truncated": self._truncated, "malformed": self._malformed,
                    "token_expire": self.app, "reset": self._reset}
        handlers.update({k: self.app for k in api.extra_fault_kinds})  # armed above; the route answers
        await handlers[kind](scope, receive, send)
        if kind not in ("truncated", "reset"):  # items in a broken body were never delivered
            self.state.served(scope.get(ITEMS_SCOPE_KEY, 0))

    async def _server_error(self, scope, receive, send) -> None:
        status = self.state.fault_choice((500, 502, 503, 503))
        body = json.dumps({"error": "upstream_unavailable", "status": status}).encode()
        await _send_raw(send, status, body)

    async def _rate_limit(self, scope, receive, send) -> None:
        await _send_raw(send, 429, b'{"error": "rate_limited"}', [(b"retry-after", b"1")])

    async def _slow(self, scope, receive, send) -> None:
        await asyncio.sleep(self.state.settings.slow_seconds)
        await self.app(scope, receive, send)

    async def _malformed(self, scope, receive, send) -> None:
        await _send_raw(send, 200, MALFORMED_BODY)

    async def _truncated(self, scope, receive, send) -> None:
        start, body = await _capture(self.app, scope, receive)
        cut = _cut(body, 0.5)
        await send({**start, "headers": _with_length(start.get("headers", []), len(cut))})
        await send({"type": "http.response.body", "body": cut})

    async def _reset(self, scope, receive, send) -> None:
        start, body = await _capture(self.app, scope, receive)
        await send({**start, "headers": _with_length(start.get("headers", []), len(body))})
        await send({"type": "http.response.body", "body": _cut(body, 1 / 3), "more_body": True})
        # Returning here leaves the response incomplete; the server drops the connection.


# --------------------------------------------------------------------------
# request helpers


def _window(since: str | None, until: str | None) -> tuple[datetime, datetime]:
    if not since or not until:
        raise ApiError(400, "invalid_request", "updated_since and updated_until are required")
    try:
        start, end = parse_iso(since), parse_iso(until)
    except ValueError as exc:
        raise ApiError(400, "invalid_request", f"bad timestamp: {exc}") from None
    if start > end:
        raise ApiError(400, "invalid_request", "updated_since is after updated_until")
    return start, end


def _positive_int(raw: str | None, name: str, default: int, maximum: int | None = None) -> int:
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ApiError(400, "invalid_request", f"{name} must be an integer") from None
    if value < 1 or (maximum is not None and value > maximum):
        raise ApiError(400, "invalid_request", f"{name} must be in 1..{maximum or 'inf'}")
    return value


def _client_credentials(request: Request, form: dict[str, list[str]]) -> tuple[str, str]:
    """client_id/secret from the form, or from HTTP Basic auth."""
    cid, secret = form.get("client_id", [""])[0], form.get("client_secret", [""])[0]
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if not secret and scheme.lower() == "basic":
        try:
            cid, _, secret = base64.b64decode(value).decode().partition(":")
        except ValueError:
            pass
    return cid, secret


# --------------------------------------------------------------------------
# API styles


def _scope_query(scope) -> dict[str, list[str]]:
    return parse_qs(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)


class Api:
    """One API style: its public routes and how its faults arm."""

    #: Fault kinds of this style beyond ``FAULT_KINDS`` (drawn after them).
    extra_fault_kinds: tuple[str, ...] = ()

    def __init__(self, state: SimState) -> None:
        self.state, self.settings = state, state.settings
        self.prefix = state.source.path_prefix.rstrip("/")

    def fault_applies(self, path: str) -> bool:
        return path.startswith("/api/")

    def arm_fault(self, kind: str, scope) -> str | None:
        """Prepare fault ``kind`` for this request; None if it cannot apply."""
        return kind

    def add_routes(self, app: FastAPI) -> None:
        for entity, collection in self.state.source.collections.items():
            endpoint = self.list_endpoint(entity, collection)
            endpoint.__name__ = f"list_{entity}"
            app.add_api_route(f"{self.prefix}/{entity}", endpoint, methods=["GET"])

    def list_endpoint(self, entity: str, collection: DailyCollection) -> Callable:
        raise NotImplementedError


class OAuthPagedApi(Api):
    """OAuth2 client credentials + numbered pages with a total."""

    def fault_applies(self, path: str) -> bool:
        return path.startswith("/api/") or path == "/oauth/token"

    def arm_fault(self, kind: str, scope) -> str | None:
        if kind == "token_expire":
            token = _bearer(scope["headers"])
            return kind if token and self.state.tokens.revoke(token) else None
        return kind

    def add_routes(self, app: FastAPI) -> None:
        state, settings = self.state, self.settings

        @app.post("/oauth/token")
        async def token(request: Request) -> JSONResponse:
            form = parse_qs((await request.body()).decode("utf-8", "replace"))
            if form.get("grant_type", [""])[0] != "client_credentials":
                raise ApiError(400, "unsupported_grant_type")
            cid, secret = _client_credentials(request, form)
            ok = secrets.compare_digest(cid.encode(), settings.client_id.encode()) and \
                secrets.compare_digest(secret.encode(), settings.client_secret.encode())
            if not ok:
                raise ApiError(401, "invalid_client")
            return JSONResponse({"access_token": state.tokens.issue(), "token_type": "Bearer",
                                 "expires_in": settings.token_ttl})

        super().add_routes(app)

    def list_endpoint(self, entity: str, collection: DailyCollection) -> Callable:
        state = self.state

        def list_items(request: Request, updated_since: str | None = None, updated_until: str | None = None,
                       page: str | None = None, page_size: str | None = None) -> JSONResponse:
            token = _bearer(request.headers)
            if not token or not state.tokens.valid(token):
                raise ApiError(401, "invalid_token", headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})
            since, until = _window(updated_since, updated_until)
            page_no = _positive_int(page, "page", 1)
            size = _positive_int(page_size, "page_size", DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)
            items = collection.expand(collection.query(since, until, state.clock.serving(until)))
            chunk = items[(page_no - 1) * size: page_no * size]
            request.scope[ITEMS_SCOPE_KEY] = len(chunk)  # counted by FaultInjector once delivered
            return JSONResponse({"total": len(items), "page": page_no, "page_size": size, "items": chunk})

        return list_items


def canonical_query(pairs: list[tuple[str, str]]) -> str:
    """The signature's view of a query: sorted by name (then value), ``k=v``
    joined by ``&``, values percent-encoded with ``quote(v, safe="")``."""
    return "&".join(f"{k}={quote(v, safe='')}" for k, v in sorted(pairs))


def signature(secret: str, method: str, path: str, pairs: list[tuple[str, str]], timestamp: str) -> str:
    """Hex HMAC-SHA256 over ``METHOD\npath\ncanonical_query\ntimestamp``."""
    message = f"{method.upper()}\n{path}\n{canonical_query(pairs)}\n{timestamp}"
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


class RateLimiter:
    """At most ``limit`` accepted requests per rolling 60 s per key (wall clock).
    Rejected requests take no slot."""

    WINDOW = 60.0

    def __init__(self, limit: int, wall_time: Callable[[], float]) -> None:
        self.limit, self._wall_time = limit, wall_time
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def acquire(self, key: str) -> int | None:
        """Take a slot; None if granted, else seconds until one frees (>= 1)."""
        now = self._wall_time()
        with self._lock:
            hits = self._hits.setdefault(key, deque())
            while hits and hits[0] <= now - self.WINDOW:
                hits.popleft()
            if len(hits) >= self.limit:
                return max(1, math.ceil(hits[0] + self.WINDOW - now))
            hits.append(now)
            return None


class SignedCursorApi(Api):
    """API key + HMAC request signature, keyset cursors, per-minute rate limit.

    A cursor is ``base64url(json).mac``: the window, the last served
    position (updatedAt, record key, copies of it served -- a ``duplicate``
    is served twice and may straddle a page boundary) and its wall-clock
    issue time.  The MAC (per-process secret) makes cursors tamper-evident;
    a server restart therefore invalidates outstanding cursors (400).
    """

    extra_fault_kinds = ("cursor_expire",)

    def __init__(self, state: SimState) -> None:
        super().__init__(state)
        self.limiter = RateLimiter(self.settings.rate_limit_per_min, state.wall_time)
        self._cursor_key = secrets.token_bytes(32)
        self._revoked: set[str] = set()
        self._lock = threading.Lock()

    def arm_fault(self, kind: str, scope) -> str | None:
        if kind == "token_expire":
            return None  # no tokens here
        if kind == "cursor_expire":
            cursor = (_scope_query(scope).get("cursor") or [""])[0]
            if not cursor:
                return None
            with self._lock:
                self._revoked.add(cursor)
        return kind

    # -- auth -----------------------------------------------------------------
    def authenticate(self, request: Request) -> str:
        """Check the request signature; return the API key."""
        headers = request.headers
        key, stamp, given = (headers.get(h, "") for h in ("x-api-key", "x-timestamp", "x-signature"))
        invalid = ApiError(401, "invalid_signature")
        if not key or not stamp or not given:
            raise invalid
        if not secrets.compare_digest(key.encode(), self.settings.client_id.encode()):
            raise invalid
        try:
            skew = abs(self.state.wall_time() - int(stamp))
        except ValueError:
            raise invalid from None
        if skew > SIGNATURE_MAX_SKEW:
            raise invalid
        expected = signature(self.settings.client_secret, request.method, request.url.path,
                             request.query_params.multi_items(), stamp)
        if not secrets.compare_digest(given.strip().lower().encode(), expected.encode()):
            raise invalid
        return key

    # -- cursors --------------------------------------------------------------
    def _mac(self, body: str) -> str:
        return hmac.new(self._cursor_key, body.encode(), hashlib.sha256).hexdigest()[:24]

    def encode_cursor(self, window: tuple[str, str], position: tuple[datetime, str, int]) -> str:
        updated_at, key, copy = position
        doc = {"w": list(window), "t": updated_at.isoformat(), "k": key, "c": copy,
               "i": round(self.state.wall_time(), 3)}
        body = base64.urlsafe_b64encode(json.dumps(doc, separators=(",", ":"), ensure_ascii=False)
                                        .encode()).decode().rstrip("=")
        return f"{body}.{self._mac(body)}"

    def decode_cursor(self, cursor: str, window: tuple[str, str]) -> tuple[datetime, str, int]:
        with self._lock:
            revoked = cursor in self._revoked
        body, _, mac = cursor.partition(".")
        if not hmac.compare_digest(mac.encode(), self._mac(body).encode()):
            raise ApiError(400, "invalid_request", "cursor is not one this server issued")
        doc = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
        if revoked or self.state.wall_time() >= doc["i"] + self.settings.cursor_ttl:
            raise ApiError(410, "cursor_expired")
        if tuple(doc["w"]) != window:
            raise ApiError(400, "invalid_request", "cursor belongs to a different updated_since/updated_until")
        return datetime.fromisoformat(doc["t"]), doc["k"], int(doc["c"])

    # -- list -----------------------------------------------------------------
    def list_endpoint(self, entity: str, collection: DailyCollection) -> Callable:
        state = self.state

        def list_items(request: Request, updated_since: str | None = None, updated_until: str | None = None,
                       limit: str | None = None, cursor: str | None = None) -> JSONResponse:
            key = self.authenticate(request)
            wait = self.limiter.acquire(key)
            if wait is not None:
                raise ApiError(429, "rate_limited", headers={"Retry-After": str(wait)})
            since, until = _window(updated_since, updated_until)
            size = _positive_int(limit, "limit", DEFAULT_CURSOR_LIMIT, MAX_CURSOR_LIMIT)
            window = tuple(dt.astimezone(timezone.utc).isoformat() for dt in (since, until))
            # The served sequence: (updatedAt, key, copy number) strictly increasing.
            served = [(h.version.updated_at, h.record.truth_key, n, h.version.payload)
                      for h in collection.query(since, until, state.clock.serving(until)) for n in range(h.copies)]
            start = 0
            if cursor:
                position = self.decode_cursor(cursor, window)
                start = bisect.bisect_right([s[:3] for s in served], position)
            chunk = served[start:start + size]
            more = start + size < len(served)
            next_cursor = self.encode_cursor(window, chunk[-1][:3]) if more and chunk else None
            request.scope[ITEMS_SCOPE_KEY] = len(chunk)
            return JSONResponse({"items": [s[3] for s in chunk], "next_cursor": next_cursor})

        return list_items


class NoApi(Api):
    """No data endpoint: the source is a ``SourceSystem`` (files, a database)."""

    def fault_applies(self, path: str) -> bool:
        return False

    def add_routes(self, app: FastAPI) -> None:
        pass


#: ``SimSource.api`` -> API style.
API_STYLES: dict[str, type[Api]] = {"oauth_paged": OAuthPagedApi, "signed_cursor": SignedCursorApi,
                                    "none": NoApi}


# --------------------------------------------------------------------------
# app factory


def load_source(settings: SimulatorConfig) -> SimSource:
    module = importlib.import_module(SOURCES[settings.source])
    return module.build_source(settings)


def create_app(settings: SimulatorConfig, *, wall_time: Callable[[], float] = time.time) -> FastAPI:
    """Build the simulator app. ``wall_time`` drives token/cursor expiry,
    signature timestamps and rate limits (tests fake it)."""
    settings.validate()
    source = load_source(settings)
    api_cls = API_STYLES[source.api]
    system = source.system
    extra = api_cls.extra_fault_kinds + (system.fault_kinds if system is not None else ())
    state = SimState(settings, source, wall_time, FAULT_KINDS + extra)
    state.api = api_cls(state)
    ticker = None
    if system is not None:
        # A file drop or a database is written up to the clock and read as it stands: a window is
        # not answered "as at its end" (SIM_CLOCK_FOLLOW_MINUTES applies to API queries only).
        state.clock.follow = None
        system.start(state)  # e.g. write the files / fill the database up to the clock
        ticker = _SystemTicker(state, system, settings.system_tick_seconds)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        yield
        if ticker is not None:
            ticker.stop()
            await run_in_threadpool(system.close)

    app = FastAPI(title=f"yhlaw simulator: {settings.source}", docs_url=None, redoc_url=None, lifespan=lifespan)
    app.state.sim = state
    app.state.ticker = ticker
    app.add_middleware(FaultInjector, state=state)

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse(exc.body, status_code=exc.status, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"error": "invalid_request", "detail": str(exc.errors())}, status_code=400)

    @app.get("/healthz")
    def healthz() -> dict:
        return {"status": "ok", "source": settings.source}

    state.api.add_routes(app)
    _add_admin_routes(app, state)
    return app


def _add_admin_routes(app: FastAPI, state: SimState) -> None:
    admin_token = state.settings.admin_token

    def check(request: Request) -> None:
        given = request.headers.get("x-sim-admin", "")
        if not admin_token or not secrets.compare_digest(given.encode(), admin_token.encode()):
            raise ApiError(403, "forbidden", "admin endpoints need X-Sim-Admin (and SIM_ADMIN_TOKEN set)")

    async def json_body(request: Request) -> Any:
        try:
            return json.loads(await request.body() or b"null")
        except ValueError:
            raise ApiError(400, "invalid_request", "body must be JSON") from None

    system = state.source.system

    def clock_view() -> dict:
        view = {"now": to_iso(state.clock.now()), "fixed": state.clock.is_fixed,
                "follow_minutes": None if state.clock.follow is None else state.clock.follow.total_seconds() / 60}
        if system is not None:
            view.update(system.clock_view())
        return view

    @app.get("/_sim/clock")
    def get_clock(request: Request) -> dict:
        check(request)
        return clock_view()

    @app.put("/_sim/clock")
    async def put_clock(request: Request) -> dict:
        check(request)
        body = await json_body(request)
        if not isinstance(body, dict) or "now" not in body:
            raise ApiError(400, "invalid_request", 'body must be {"now": "<iso>"} or {"now": null}')
        try:
            state.clock.set(parse_iso(body["now"]) if body["now"] is not None else None)
        except (TypeError, ValueError) as exc:
            raise ApiError(400, "invalid_request", str(exc)) from None
        if system is not None:  # bring the system (files, database) to the new clock before answering
            options = {k: v for k, v in body.items() if k != "now"}
            try:
                await run_in_threadpool(system.on_clock, state.clock.now(), options)
            except ValueError as exc:
                raise ApiError(400, "invalid_request", str(exc)) from None
        return clock_view()

    @app.get("/_sim/faults")
    def get_faults(request: Request) -> dict:
        check(request)
        return dict(state.faults.probabilities)

    @app.put("/_sim/faults")
    async def put_faults(request: Request) -> dict:
        check(request)
        body = await json_body(request)
        if not isinstance(body, dict):
            raise ApiError(400, "invalid_request",
                           f"body must map fault kinds {list(state.fault_kinds)} to probabilities")
        try:
            state.set_faults(FaultProfile.from_mapping(body, state.fault_kinds))
        except ValueError as exc:
            raise ApiError(400, "invalid_request", str(exc)) from None
        return dict(state.faults.probabilities)

    @app.get("/_sim/stats")
    def get_stats(request: Request) -> dict:
        check(request)
        return state.stats.as_dict()

    @app.post("/_sim/stats/reset")
    def reset_stats(request: Request) -> dict:
        check(request)
        state.reset_stats()
        return state.stats.as_dict()

    @app.get("/_sim/truth")
    def truth(request: Request, entity: str | None = None, updated_since: str | None = None,
              updated_until: str | None = None) -> dict:
        check(request)
        if entity not in state.source.collections:
            raise ApiError(400, "invalid_request",
                           f"entity must be one of {sorted(state.source.collections)}")
        since, until = _window(updated_since, updated_until)
        collection = state.source.collections[entity]
        return {"items": collection.truth(collection.query(since, until, state.clock.serving(until)))}


class _SystemTicker:
    """While the world clock runs in real time, keep a non-HTTP system in
    step with it (deliveries fall due as time passes).  A pinned clock is
    only moved by ``PUT /_sim/clock``, so the ticker then does nothing."""

    def __init__(self, state: SimState, system: Any, interval: float) -> None:
        self.state, self.system, self.interval = state, system, interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sim-system-ticker", daemon=True)
        if interval > 0:
            self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            if self.state.clock.is_fixed:
                continue
            try:
                self.system.on_clock(self.state.clock.now(), {"_tick": True})
            except Exception:  # keep ticking; the next PUT /_sim/clock reports errors
                log.exception("system catch-up failed")

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=30)
