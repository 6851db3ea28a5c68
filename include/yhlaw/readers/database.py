"""The database reader: incremental SQL on a source system's update column."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from yhlaw.readers.base import ExtractStats, PageSink, SourceConnection, SourceError, json_ready
from yhlaw.zone import DISTRICT_TZ


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
        return moment.astimezone(ZoneInfo(self.transport.get("timezone", DISTRICT_TZ))).replace(tzinfo=None)

    def read_window(self, path: str, since: datetime, until: datetime, sink: "PageSink") -> None:
        from sqlalchemy import create_engine, text

        from yhlaw import paths

        query = text((paths.PROJECT_ROOT / path).read_text(encoding="utf-8"))
        chunk = int(self.transport.get("page_size", 5000))
        engine = create_engine(self.connection.sqlalchemy_url, pool_pre_ping=True)
        try:
            with engine.connect() as conn:
                conn = conn.execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True,
                                              stream_results=True, yield_per=chunk)
                self.stats.requests += 1
                result = conn.execute(query, {"since": self._local(since), "until": self._local(until)})
                for rows in result.mappings().partitions(chunk):
                    items = [{k: json_ready(v) for k, v in row.items()} for row in rows]
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
