"""Readers of the source systems, one per transport kind; ``open_reader`` picks it from the spec.

Every reader has ``read_window(path, since, until, sink)`` and ``stats``: HTTP APIs
(``http``), SOAP web services (``soap``, the HTTP reader with SOAP envelopes), a source system's
database (``database``), export files in a drop folder and hand-kept ledgers (``files``).
"""

from __future__ import annotations

from typing import Any

from yhlaw.readers.base import (ExtractStats, PageSink, SourceConnection, SourceError, TransientError,
                                WindowRestart, json_ready)
from yhlaw.readers.database import SqlSourceReader
from yhlaw.readers.files import FileDropReader, LedgerFileReader
from yhlaw.readers.http import HttpSourceClient, canonical_query, sign_request
from yhlaw.readers.soap import SoapSourceClient

__all__ = ["ExtractStats", "FileDropReader", "HttpSourceClient", "LedgerFileReader", "PageSink", "SourceConnection",
           "SoapSourceClient", "SourceError", "SqlSourceReader", "TransientError", "WindowRestart", "canonical_query",
           "json_ready", "open_reader", "sign_request"]


def open_reader(connection: SourceConnection, transport: dict[str, Any], **options):
    """The reader for a spec's transport kind; every reader has ``read_window`` and ``stats``."""
    kind = transport.get("kind", "http")
    if kind == "http":
        return HttpSourceClient(connection, transport, **options)
    if kind == "soap":
        return SoapSourceClient(connection, transport, **options)
    if kind == "sql":
        return SqlSourceReader(connection, transport)
    if kind == "file_drop":
        return FileDropReader(connection, transport)
    if kind == "ledger_file":
        return LedgerFileReader(connection, transport)
    raise SourceError(f"unsupported transport kind {kind!r}")
