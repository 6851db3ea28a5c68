"""HTTP face of a simulated source: OAuth2 client-credentials tokens, paged
incremental list endpoints (one per collection), seeded fault injection and
``/_sim/*`` admin endpoints for tests.

Source-agnostic: the source is looked up in ``SOURCES`` by name and must
expose ``build_source(settings) -> SimSource``.
"""

from __future__ import annotations

import asyncio
import base64
import importlib
import json
import logging
import os
import random
import secrets
import threading
import time
from dataclasses import dataclass, field, fields
from datetime import date, datetime
from typing import Any, Callable, ClassVar, Mapping
from urllib.parse import parse_qs

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from .framework import FAULT_KINDS, FaultProfile, SimSource, WorldClock, parse_iso, to_iso

log = logging.getLogger("yhlaw.sim")

#: source name -> module exposing ``build_source(settings)``.
SOURCES = {"enforcement": "yhlaw.sim.enforcement"}

MAX_PAGE_SIZE = 1000
DEFAULT_PAGE_SIZE = 500
#: Where a list endpoint leaves its item count for the middleware's stats.
ITEMS_SCOPE_KEY = "yhlaw.sim.items"


class SettingsError(ValueError):
    """Invalid or missing simulator configuration."""


# --------------------------------------------------------------------------
# settings


@dataclass
class Settings:
    """Simulator configuration; ``from_env`` reads the ``SIM_*`` variables."""

    client_secret: str | None = None
    source: str = "enforcement"
    seed: int = 20220101
    cases_per_day: int = 40
    inspections_per_day: int = 60
    dirt: str = "default"
    faults: str = "none"
    client_id: str = "yhlaw-etl"
    admin_token: str | None = None
    token_ttl: int = 600
    slow_seconds: float = 5.0
    start_date: date = date(2021, 1, 1)
    end_date: date = date(2023, 12, 31)
    now: datetime | None = None  # initial pinned world clock; None = real time

    ENV: ClassVar[dict[str, str]] = {
        "seed": "SIM_SEED", "cases_per_day": "SIM_CASES_PER_DAY",
        "inspections_per_day": "SIM_INSPECTIONS_PER_DAY", "dirt": "SIM_DIRT",
        "faults": "SIM_FAULTS", "client_id": "SIM_CLIENT_ID",
        "client_secret": "SIM_CLIENT_SECRET", "admin_token": "SIM_ADMIN_TOKEN",
        "token_ttl": "SIM_TOKEN_TTL", "slow_seconds": "SIM_SLOW_SECONDS",
        "start_date": "SIM_START_DATE", "end_date": "SIM_END_DATE", "now": "SIM_NOW",
    }

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
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
        if not self.client_secret:
            raise SettingsError("SIM_CLIENT_SECRET is not set; the simulator refuses to start "
                                "without a client secret (export SIM_CLIENT_SECRET=...)")
        if self.source not in SOURCES:
            raise SettingsError(f"unknown source {self.source!r}; known: {sorted(SOURCES)}")
        if self.start_date > self.end_date:
            raise SettingsError("SIM_START_DATE is after SIM_END_DATE")
        if self.token_ttl < 0 or self.slow_seconds < 0:
            raise SettingsError("SIM_TOKEN_TTL and SIM_SLOW_SECONDS must be >= 0")


def _convert(name: str, raw: str, var: str) -> Any:
    """Convert an env string to the type of setting ``name``."""
    try:
        if name in ("seed", "cases_per_day", "inspections_per_day", "token_ttl"):
            return int(raw)
        if name == "slow_seconds":
            return float(raw)
        if name in ("start_date", "end_date"):
            return date.fromisoformat(raw)
        if name == "now":
            return parse_iso(raw)
    except ValueError as exc:
        raise SettingsError(f"{var}={raw!r}: {exc}") from None
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

    def __init__(self, settings: Settings, source: SimSource, wall_time: Callable[[], float]) -> None:
        self.settings, self.source = settings, source
        self.clock = WorldClock(settings.now)
        self.tokens = TokenStore(settings.token_ttl, wall_time)
        self.stats = Stats()
        self._lock = threading.Lock()
        self.set_faults(FaultProfile.parse(settings.faults))

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
    """Draws one fault per request to ``/api/*`` and ``/oauth/token``.

    ``reset`` sends the real status line and headers (with the real
    Content-Length), a third of the body, and then ends the ASGI call
    without completing the response: uvicorn closes the TCP connection, so
    clients see "connection broken / incomplete read".
    """

    def __init__(self, app, state: SimState) -> None:
        self.app, self.state = app, state

    @staticmethod
    def applies(path: str) -> bool:
        return path.startswith("/api/") or path == "/oauth/token"

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http" or not self.applies(scope["path"]):
            return await self.app(scope, receive, send)
        kind = self.state.next_fault()
        if kind == "token_expire":
            token = _bearer(scope["headers"])
            kind = kind if token and self.state.tokens.revoke(token) else None
        if kind is not None:
            self.state.record_fault(kind)
            log.info("fault %s on %s %s", kind, scope["method"], scope["path"])
        handlers = {None: self.app, "5xx": self._server_error, "429": self._rate_limit,
                    "slow": self._slow, "truncated": self._truncated, "malformed": self._malformed,
                    "token_expire": self.app, "reset": self._reset}
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
# app factory


def load_source(settings: Settings) -> SimSource:
    module = importlib.import_module(SOURCES[settings.source])
    return module.build_source(settings)


def create_app(settings: Settings, *, wall_time: Callable[[], float] = time.time) -> FastAPI:
    """Build the simulator app. ``wall_time`` drives token expiry (tests fake it)."""
    settings.validate()
    state = SimState(settings, load_source(settings), wall_time)
    app = FastAPI(title=f"yhlaw simulator: {settings.source}", docs_url=None, redoc_url=None)
    app.state.sim = state
    app.add_middleware(FaultInjector, state=state)

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse(exc.body, status_code=exc.status, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"error": "invalid_request", "detail": str(exc.errors())}, status_code=400)

    _add_public_routes(app, state)
    _add_admin_routes(app, state)
    return app


def _add_public_routes(app: FastAPI, state: SimState) -> None:
    settings = state.settings

    @app.get("/healthz")
    def healthz() -> dict:
        return {"status": "ok", "source": settings.source}

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

    for entity in state.source.collections:
        app.add_api_route(f"/api/v1/{entity}", _list_endpoint(state, entity), methods=["GET"])


def _list_endpoint(state: SimState, entity: str):
    collection = state.source.collections[entity]

    def list_items(request: Request, updated_since: str | None = None, updated_until: str | None = None,
                   page: str | None = None, page_size: str | None = None) -> JSONResponse:
        token = _bearer(request.headers)
        if not token or not state.tokens.valid(token):
            raise ApiError(401, "invalid_token", headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})
        since, until = _window(updated_since, updated_until)
        page_no = _positive_int(page, "page", 1)
        size = _positive_int(page_size, "page_size", DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)
        items = collection.expand(collection.query(since, until, state.clock.now()))
        chunk = items[(page_no - 1) * size: page_no * size]
        request.scope[ITEMS_SCOPE_KEY] = len(chunk)  # counted by FaultInjector once delivered
        return JSONResponse({"total": len(items), "page": page_no, "page_size": size, "items": chunk})

    list_items.__name__ = f"list_{entity}"
    return list_items


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

    def clock_view() -> dict:
        return {"now": to_iso(state.clock.now()), "fixed": state.clock.is_fixed}

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
                           f"body must map fault kinds {list(FAULT_KINDS)} to probabilities")
        try:
            state.set_faults(FaultProfile.from_mapping(body))
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
        return {"items": collection.truth(collection.query(since, until, state.clock.now()))}
