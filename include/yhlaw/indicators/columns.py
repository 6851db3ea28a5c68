"""SQL building blocks over core columns: identifiers, a column's type, and the local month a
column places a record in (timestamps are read in the district's zone)."""

from __future__ import annotations

from psycopg2 import sql

from yhlaw.indicators.definitions import CatalogError
from yhlaw.zone import DISTRICT_TZ

_COLUMN_TYPES: dict[tuple[str, str], str] = {}   # filled once per refresh (see refresh)


def ident(qualified: str) -> sql.Identifier:
    return sql.Identifier(*qualified.split("."))


def forget_column_types() -> None:
    """Empty the cache of column types (a refresh starts with none)."""
    _COLUMN_TYPES.clear()


def column_type(cur, table: str, column: str) -> str:
    if (table, column) not in _COLUMN_TYPES:
        schema, name = table.split(".")
        cur.execute("""SELECT data_type FROM information_schema.columns
                       WHERE table_schema = %s AND table_name = %s AND column_name = %s""", (schema, name, column))
        row = cur.fetchone()
        if row is None:
            raise CatalogError(f"{table} has no column {column!r}")
        _COLUMN_TYPES[(table, column)] = row[0]
    return _COLUMN_TYPES[(table, column)]


def local_month(cur, table: str, column: str, alias: str = "") -> sql.Composable:
    """date_trunc('month') of a column in local time, as a date."""
    col = sql.SQL(alias + ".") + sql.Identifier(column) if alias else sql.Identifier(column)
    if column_type(cur, table, column).startswith("timestamp"):
        return sql.SQL("date_trunc('month', {} AT TIME ZONE {})::date").format(col, sql.Literal(DISTRICT_TZ))
    return sql.SQL("date_trunc('month', {})::date").format(col)


def bound(cur, table: str, column: str, param: str) -> sql.Composable:
    """A month boundary parameter in the column's type (timestamptz: local midnight)."""
    if column_type(cur, table, column).startswith("timestamp"):
        return sql.SQL("({}::timestamp AT TIME ZONE {})").format(sql.Placeholder(param), sql.Literal(DISTRICT_TZ))
    return sql.SQL("{}::date").format(sql.Placeholder(param))


def month_end(cur, table: str, column: str, month: sql.Composable) -> sql.Composable:
    """The end of the month starting at ``month`` (a date expression) in the column's type:
    local midnight for a timestamp column, the next month's first day for a date."""
    nxt = sql.SQL("({} + interval '1 month')::date").format(month)
    if column_type(cur, table, column).startswith("timestamp"):
        return sql.SQL("({}::timestamp AT TIME ZONE {})").format(nxt, sql.Literal(DISTRICT_TZ))
    return nxt
