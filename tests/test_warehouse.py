"""The warehouse itself: migrations, clear errors, roles, documentation in the catalog."""

from __future__ import annotations

import shutil

import psycopg2
import pytest

from yhlaw.settings import with_user
from yhlaw.warehouse import MIGRATIONS_DIR, WarehouseUnavailable, connect, migrate, transaction


def test_no_server_gives_an_actionable_error():
    with pytest.raises(WarehouseUnavailable) as info:
        connect("postgresql://etl@127.0.0.1:1/yuhang_law")
    text = str(info.value)
    assert "127.0.0.1:1" in text and "WAREHOUSE_URL" in text and "How to fix" in text


def test_missing_database_says_to_run_setup(warehouse):
    with pytest.raises(WarehouseUnavailable, match="make setup"):
        connect(warehouse.rsplit("/", 1)[0] + "/no_such_db_yhlaw")


def test_migrations_are_recorded_idempotent_and_tamper_evident(settings, warehouse, tmp_path):
    assert migrate(settings.admin_url) == []          # already applied by the fixture: nothing to do
    with transaction(settings.admin_url) as conn, conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM audit.schema_migration")
        assert cur.fetchone()[0] == len(list(MIGRATIONS_DIR.glob("*.sql")))
    changed = tmp_path / "migrations"
    shutil.copytree(MIGRATIONS_DIR, changed)
    first = sorted(changed.glob("*.sql"))[0]
    first.write_text(first.read_text() + "\n-- edited after release\n")
    with pytest.raises(RuntimeError, match="changed after it was applied"):
        migrate(settings.admin_url, changed)


def _can_read(url: str, table: str) -> bool:
    conn = connect(url)
    try:
        with conn.cursor() as cur:
            cur.execute(f"SELECT 1 FROM {table} LIMIT 1")
        return True
    except psycopg2.errors.InsufficientPrivilege:
        return False
    finally:
        conn.close()


@pytest.mark.parametrize("role, readable, refused", [
    ("analyst", ["core.enforcement_case", "core.dim_town"],
     ["raw.record", "quarantine.record", "staging.enforcement_case", "audit.batch"]),
    ("dashboard", [], ["core.enforcement_case", "raw.record", "quarantine.record", "audit.batch"]),
    ("etl", ["raw.record", "quarantine.record", "core.enforcement_case", "audit.batch"], []),
])
def test_roles_read_only_their_layers(warehouse, role, readable, refused):
    url = with_user(warehouse, role)
    for table in readable:
        assert _can_read(url, table), f"{role} should read {table}"
    for table in refused:
        assert not _can_read(url, table), f"{role} must not read {table}"


def test_raw_is_append_only_for_etl(warehouse):
    conn = connect(with_user(warehouse, "etl"))
    try:
        with conn.cursor() as cur, pytest.raises(psycopg2.errors.InsufficientPrivilege):
            cur.execute("UPDATE raw.record SET seq = seq WHERE false")
    finally:
        conn.close()


def test_every_core_table_and_column_is_documented(warehouse):
    with transaction(warehouse) as conn, conn.cursor() as cur:
        cur.execute("""SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                       WHERE n.nspname = 'core' AND c.relkind = 'r' AND obj_description(c.oid) IS NULL""")
        assert cur.fetchall() == []
        cur.execute("""SELECT c.relname, a.attname FROM pg_attribute a
                       JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
                       WHERE n.nspname = 'core' AND c.relkind = 'r' AND a.attnum > 0 AND NOT a.attisdropped
                         AND col_description(c.oid, a.attnum) IS NULL""")
        assert cur.fetchall() == []


def test_spec_fields_match_the_warehouse_tables(warehouse):
    from yhlaw.spec import META_COLUMNS, load_spec, source_names
    from yhlaw.warehouse import table_columns

    for source in source_names():
        for e in load_spec(source).entities.values():
            wanted = set(e.columns) | set(META_COLUMNS)
            for schema, table in (("staging", e.table), ("core", e.table), ("core", f"{e.table}_version")):
                missing = wanted - set(table_columns(warehouse, schema, table))
                assert not missing, f"{schema}.{table} lacks {missing} declared in specs/{source}.yaml"
