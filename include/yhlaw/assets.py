"""Asset URIs of warehouse tables, in the postgres provider's form
``postgres://host:port/database/schema/table`` (what lineage tools understand).

Read at DAG-parse time, so it only looks at the environment: the ``warehouse`` connection as
Airflow's environment secrets backend holds it (``AIRFLOW_CONN_WAREHOUSE``, JSON or URI), else
``WAREHOUSE_URL``, else the default warehouse. No connection is opened.
"""

from __future__ import annotations

import json
import os
from urllib.parse import urlsplit

DEFAULT_WAREHOUSE_URL = "postgresql://etl@127.0.0.1:5432/yuhang_law"


def warehouse_location() -> tuple[str, int, str]:
    """(host, port, database) of the warehouse, from the environment only."""
    conn = os.environ.get("AIRFLOW_CONN_WAREHOUSE", "").strip()
    if conn.startswith("{"):
        c = json.loads(conn)
        return c.get("host") or "127.0.0.1", int(c.get("port") or 5432), c.get("schema") or "yuhang_law"
    parts = urlsplit(conn or os.environ.get("WAREHOUSE_URL") or DEFAULT_WAREHOUSE_URL)
    return parts.hostname or "127.0.0.1", parts.port or 5432, parts.path.lstrip("/") or "yuhang_law"


def table_uri(schema: str, table: str) -> str:
    host, port, database = warehouse_location()
    return f"postgres://{host}:{port}/{database}/{schema}/{table}"
