"""The records behind a value (案卷评查, 督办): the rows of ``mart.list_<table>`` that an
indicator's denominator counts for a 镇街 and period, each marked whether its numerator counts it.

The catalog's own measures drive it: the list view has core's column names (less the party
keys), so the measure's ``where`` runs on it unchanged. An indicator can be listed when its
numerator and denominator read one table with no join (or it has no denominator); a measure
whose filter needs a hidden column fails to run and the page says it cannot be listed.
The SQL comes from the catalog (trusted); the request gives only the indicator code (looked up
in the catalog), the 镇街 (a code from ``mart.dim_town``) and the period (a date).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import psycopg2
from psycopg2 import sql

from yhlaw.cockpit.db import Mart
from yhlaw.indicators import catalog
from yhlaw.indicators.definitions import Indicator, Measure
from yhlaw.indicators.months import period_end
from yhlaw.mart_views import list_view_name
from yhlaw.reference import DISTRICT_CODE

LIMIT = 500


@dataclass
class Listing:
    columns: list[str]
    rows: list[dict]
    total: int
    in_numerator: int
    error: str | None = None


def indicator(code: str) -> Indicator | None:
    return next((i for i in catalog() if i.code == code), None)


def listable(ind: Indicator) -> bool:
    num, den = ind.numerator, ind.denominator
    if num.join or (den is not None and (den.population or den.join)):
        return False
    return den is None or (den.table == num.table and den.period == num.period and den.active == num.active)


def _view(m: Measure) -> sql.Composable:
    return sql.SQL("mart.{}").format(sql.Identifier(list_view_name(m.table.split(".", 1)[1])))


def _in_period(m: Measure) -> sql.Composable:
    """Flow: the period column within [start, end) (local midnight: the session's zone is the
    district's); stock: active at the period's end."""
    if m.period:
        col = sql.Identifier(m.period)
        return sql.SQL("{c} >= %(lo)s::date AND {c} < %(hi)s::date").format(c=col)
    start, end = (sql.Identifier(c) for c in m.active)
    return sql.SQL("{s} < %(hi)s::date AND ({e} IS NULL OR {e} >= %(hi)s::date)").format(s=start, e=end)


def _query(ind: Indicator, select: sql.Composable, town: str) -> sql.Composable:
    base = ind.denominator or ind.numerator
    town_filter = sql.SQL("true") if town == DISTRICT_CODE else sql.SQL("({}) = %(town)s").format(sql.SQL(base.town))
    return sql.SQL("SELECT {sel} FROM {view} WHERE ({where}) AND {period} AND {town}").format(
        sel=select, view=_view(base), where=sql.SQL(base.where), period=_in_period(base), town=town_filter)


def listing(mart: Mart, ind: Indicator, grain: str, start: date, town: str, columns: list[str]) -> Listing:
    """Up to ``LIMIT`` rows, newest first, with ``counts`` (in the numerator) and the totals."""
    params = {"lo": start, "hi": period_end(start, grain), "town": town}
    counts = sql.SQL("({})").format(sql.SQL(ind.numerator.where)) if ind.denominator else sql.SQL("true")
    base = ind.denominator or ind.numerator
    order = sql.Identifier(base.period or base.active[0])
    cols = sql.SQL(", ").join(sql.Identifier(c) for c in columns)
    rows_q = _query(ind, sql.SQL("{cols}, {counts} AS counts").format(cols=cols, counts=counts), town) + \
        sql.SQL(" ORDER BY {o} DESC NULLS LAST LIMIT {n}").format(o=order, n=sql.Literal(LIMIT))
    total_q = _query(ind, sql.SQL("count(*) AS total, count(*) FILTER (WHERE {c}) AS counted").format(c=counts), town)
    try:
        totals = mart.one(total_q, params)
        rows = mart.rows(rows_q, params)
    except psycopg2.Error as exc:       # a filter on a column the list view does not expose
        return Listing(columns, [], 0, 0, error=type(exc).__name__)
    return Listing(columns, rows, totals["total"], totals["counted"])
