"""The PostgreSQL warehouse: connecting (with a clear error), creating it, migrating it.

Migrations are the plain SQL files in ``sql/migrations/`` named ``NNNN_description.sql``.
They are applied in order, each in its own transaction, and recorded with a checksum in
``audit.schema_migration``; changing a file that was already applied is an error, not a
silent drift. Applying them again is a no-op.
"""

from __future__ import annotations

import hashlib
import re
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator
from urllib.parse import urlsplit

import psycopg2
import psycopg2.extensions
from psycopg2 import sql

# Advisory lock between publishing into core and refreshing the marts: a merge holds it shared,
# an indicator refresh exclusively, so a refresh sees core and the batch list in one state.
MARTS_LOCK = 4_711_004

from yhlaw import paths
from yhlaw.settings import with_database

MIGRATIONS_DIR = paths.MIGRATIONS_DIR
MIGRATION_LOCK = 7_310_110  # advisory lock id: one migrator at a time


class WarehouseUnavailable(RuntimeError):
    """No PostgreSQL server answered, or it refused us. The message says how to fix it."""


def _redacted(url: str) -> str:
    parts = urlsplit(url)
    if parts.password:
        return url.replace(f":{parts.password}@", ":***@")
    return url


def connect(url: str, *, application_name: str = "yhlaw", **kwargs) -> psycopg2.extensions.connection:
    """Open a connection, translating "server not there" into an actionable message."""
    try:
        return psycopg2.connect(url, application_name=application_name, connect_timeout=5, **kwargs)
    except psycopg2.OperationalError as exc:
        text = str(exc).strip()
        parts = urlsplit(url)
        where = f"{parts.hostname or 'localhost'}:{parts.port or 5432}"
        if "does not exist" in text and "database" in text:
            hint = "run `make setup` (or `python -m yhlaw setup`) to create it"
        elif "role" in text and "does not exist" in text:
            hint = "run `make setup` as a user who may create roles, or create the role yourself"
        else:
            hint = (
                f"start PostgreSQL on {where} (on Debian: `pg_ctlcluster 15 main start`; "
                "with Docker: `docker compose up -d postgres`), or point WAREHOUSE_URL at a "
                "server you have, e.g. WAREHOUSE_URL=postgresql://etl@db.example:5432/yuhang_law"
            )
        raise WarehouseUnavailable(
            f"Cannot use the warehouse at {_redacted(url)}: {text.splitlines()[0]}\n  How to fix: {hint}"
        ) from exc


@contextmanager
def transaction(url: str, **kwargs) -> Iterator[psycopg2.extensions.connection]:
    """A connection whose work is committed on success and rolled back on any error."""
    conn = connect(url, **kwargs)
    try:
        with conn:
            yield conn
    finally:
        conn.close()


def ensure_database(admin_url: str, *, recreate: bool = False) -> None:
    """Create the warehouse database if it is missing (or drop and recreate it for tests)."""
    database = urlsplit(admin_url).path.lstrip("/")
    conn = connect(with_database(admin_url, "postgres"))
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            if recreate:
                cur.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = %s AND pid <> pg_backend_pid()",
                    (database,),
                )
                cur.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(database)))
            cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,))
            if cur.fetchone() is None:
                cur.execute(sql.SQL("CREATE DATABASE {} ENCODING 'UTF8' TEMPLATE template0").format(
                    sql.Identifier(database)))
    finally:
        conn.close()


_MIGRATION_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


def migration_files(directory: Path = MIGRATIONS_DIR) -> list[tuple[int, str, Path]]:
    found = []
    for path in sorted(directory.glob("*.sql")):
        m = _MIGRATION_NAME.match(path.name)
        if not m:
            raise ValueError(f"migration file name {path.name!r} is not NNNN_description.sql")
        found.append((int(m.group(1)), m.group(2), path))
    versions = [v for v, _, _ in found]
    if len(set(versions)) != len(versions):
        raise ValueError(f"two migrations share a version number in {directory}")
    return found


def migrate(admin_url: str, directory: Path = MIGRATIONS_DIR) -> list[str]:
    """Apply pending migrations in order; return the names applied now."""
    applied_now: list[str] = []
    with transaction(admin_url) as conn, conn.cursor() as cur:
        cur.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
        cur.execute("CREATE SCHEMA IF NOT EXISTS audit")
        cur.execute(
            """CREATE TABLE IF NOT EXISTS audit.schema_migration (
                   version integer PRIMARY KEY,
                   name text NOT NULL,
                   checksum text NOT NULL,
                   applied_at timestamptz NOT NULL DEFAULT now())"""
        )
        cur.execute("SELECT version, name, checksum FROM audit.schema_migration")
        done = {v: (n, c) for v, n, c in cur.fetchall()}
        for version, name, path in migration_files(directory):
            text = path.read_text(encoding="utf-8")
            checksum = hashlib.sha256(text.encode()).hexdigest()
            if version in done:
                if done[version][1] != checksum:
                    raise RuntimeError(
                        f"migration {path.name} was changed after it was applied; "
                        "add a new migration instead of editing an applied one"
                    )
                continue
            cur.execute(text)
            cur.execute(
                "INSERT INTO audit.schema_migration (version, name, checksum) VALUES (%s, %s, %s)",
                (version, name, checksum),
            )
            applied_now.append(path.name)
    return applied_now


def table_columns(url_or_conn, schema: str, table: str) -> list[str]:
    """Column names of a table, in order (used to check specs against the schema)."""
    q = (
        "SELECT column_name FROM information_schema.columns "
        "WHERE table_schema = %s AND table_name = %s ORDER BY ordinal_position"
    )
    if isinstance(url_or_conn, str):
        with transaction(url_or_conn) as conn, conn.cursor() as cur:
            cur.execute(q, (schema, table))
            return [r[0] for r in cur.fetchall()]
    with url_or_conn.cursor() as cur:
        cur.execute(q, (schema, table))
        return [r[0] for r in cur.fetchall()]


def table_checksum(conn, schema: str, table: str, exclude: tuple[str, ...] = ("loaded_at",)) -> tuple[int, str]:
    """(row count, md5 over all rows in key order) of a table, ignoring load-time columns.

    Two warehouses with the same checksum for every core table hold the same data.
    """
    cols = [c for c in table_columns(conn, schema, table) if c not in exclude]
    row = sql.SQL("ROW({})").format(sql.SQL(", ").join(map(sql.Identifier, cols)))
    query = sql.SQL("SELECT count(*), coalesce(md5(string_agg(t.r::text, E'\\n' ORDER BY t.r::text)), '') "
                    "FROM (SELECT {row} AS r FROM {table}) t").format(row=row, table=sql.Identifier(schema, table))
    with conn.cursor() as cur:
        cur.execute(query)
        count, digest = cur.fetchone()
    return count, digest
