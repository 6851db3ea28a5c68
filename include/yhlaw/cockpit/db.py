"""The cockpit's only way to the warehouse: a small pool of read-only sessions as role dashboard.

Every session is read-only (``default_transaction_read_only``), reads timestamps in the district's
zone and gives up after ``statement_timeout``; each query's time is added to the request's
``Server-Timing`` (see ``app``)."""

from __future__ import annotations

import time
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, Iterator

from psycopg2.extras import RealDictCursor
from psycopg2.pool import ThreadedConnectionPool

from yhlaw.zone import DISTRICT_TZ

SESSION_OPTIONS = f"-c default_transaction_read_only=on -c TimeZone={DISTRICT_TZ} -c statement_timeout=10000"
# The request's database time: a one-element list, so that queries run in a worker thread (which
# gets a copy of the context) add to the request's own total.
db_seconds: ContextVar[list[float] | None] = ContextVar("db_seconds", default=None)


class Mart:
    def __init__(self, url: str, *, maxconn: int = 4):
        self.url = url
        self._pool = ThreadedConnectionPool(1, maxconn, url, options=SESSION_OPTIONS,
                                            application_name="yhlaw-cockpit")

    @contextmanager
    def cursor(self) -> Iterator[Any]:
        conn = self._pool.getconn()
        try:
            conn.autocommit = True
            with conn.cursor(cursor_factory=RealDictCursor) as cur:
                yield cur
        finally:
            self._pool.putconn(conn)

    def rows(self, query: Any, params: dict | None = None) -> list[dict]:
        started = time.perf_counter()
        try:
            with self.cursor() as cur:
                cur.execute(query, params or {})
                return [dict(r) for r in cur.fetchall()]
        finally:
            total = db_seconds.get()
            if total is not None:
                total[0] += time.perf_counter() - started

    def one(self, query: Any, params: dict | None = None) -> dict | None:
        found = self.rows(query, params)
        return found[0] if found else None

    def close(self) -> None:
        self._pool.closeall()
