"""What every reader shares: the source connection, the errors, the page sink, read statistics."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any


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


class PageSink:
    """Where pages go: ``write`` each page's items; ``reset`` discards all written so far."""

    def write(self, items: list[dict]) -> None:  # pragma: no cover - interface
        raise NotImplementedError

    def reset(self) -> None:  # pragma: no cover - interface
        raise NotImplementedError


def json_ready(value: Any) -> Any:
    """A database or spreadsheet value as JSON can carry it (dates as ISO text, decimals as text)."""
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value
