"""Which months to recompute: period arithmetic, the months the changed records of a measure
fall in (now or in any earlier version), and the horizon of a stock."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Any

from psycopg2 import sql

from yhlaw.indicators.definitions import Indicator, Measure, updated_column
from yhlaw.indicators.columns import ident, local_month, month_end
from yhlaw.spec import CORE_ONLY_COLUMNS, META_COLUMNS

if TYPE_CHECKING:
    from yhlaw.indicators.delta import Changes


def add_months(d: date, n: int) -> date:
    y, m = divmod(d.month - 1 + n, 12)
    return date(d.year + y, m + 1, 1)


def period_start(d: date, grain: str) -> date:
    if grain == "month":
        return d.replace(day=1)
    if grain == "quarter":
        return date(d.year, 3 * ((d.month - 1) // 3) + 1, 1)
    return date(d.year, 1, 1)


def period_end(start: date, grain: str) -> date:
    return add_months(start, {"month": 1, "quarter": 3, "year": 12}[grain])


def month_params(ind: Indicator, months: list[date], dimension: str | None) -> dict[str, Any]:
    """Query parameters for a set of months (sorted) of an indicator's atoms."""
    return {"months": months, "lo": months[0], "hi": add_months(months[-1], 1), "code": ind.code,
            "dim": dimension}


def touched_months(cur, m: Measure, key: str | None, batches: list[str] | None) -> set[date]:
    """Months a measure's records fall in, now or in any earlier version, for the records the
    given batches touched (None: every record)."""
    if m.population:
        return set()
    vt = ident(m.version_table)
    keyed = sql.SQL("")
    params: dict[str, Any] = {}
    if batches is not None:
        if not batches or key is None:
            return set()
        keyed = sql.SQL(" WHERE {k} IN (SELECT {k} FROM {vt} WHERE batch_id = ANY(%(batches)s))").format(
            k=sql.Identifier(key), vt=vt)
        params["batches"] = batches
    if m.period:
        q = sql.SQL("SELECT DISTINCT {m} FROM {vt} v{keyed}").format(
            m=local_month(cur, m.table, m.period, "v"), vt=vt, keyed=keyed)
        cur.execute(q, params)
        return {r[0] for r in cur.fetchall() if r[0] is not None}
    return _stock_months(cur, m, vt, keyed, params)


def _stock_months(cur, m: Measure, vt: sql.Identifier, keyed: sql.Composable, params: dict[str, Any]) -> set[date]:
    """Stock: every month from the earliest start among the touched records to the table's
    latest event (a listing counts in every month it is active)."""
    start, end = m.active
    cur.execute(sql.SQL("SELECT min({s}) FROM {vt} v{keyed}").format(
        s=local_month(cur, m.table, start, "v"), vt=vt, keyed=keyed), params)
    first = cur.fetchone()[0]
    if first is None:
        return set()
    last = stock_horizon(cur, m) or first
    cur.execute("SELECT generate_series(%s::date, %s::date, interval '1 month')::date", (first, max(first, last)))
    return {r[0] for r in cur.fetchall()}


def stock_horizon(cur, m: Measure) -> date | None:
    """The last month a stock is counted for: the latest month in which something happened to
    it (a record started, or ended by the time of the source's latest update). An end date still
    in the future (a listing's planned removal) is a plan, not an event: months after the
    horizon would be projections, and the latest value a dashboard shows must not be one."""
    start, end = m.active
    updated = updated_column(m.table)
    cur.execute(sql.SQL("""SELECT greatest(max({s}), max({e}) FILTER (WHERE v.{ec} <= (SELECT max({u}) FROM {t})))
                           FROM {t} v""").format(
        s=local_month(cur, m.table, start, "v"), e=local_month(cur, m.table, end, "v"),
        ec=sql.Identifier(end), u=sql.Identifier(updated), t=ident(m.table)))
    return cur.fetchone()[0]


def months_up_to_horizon(cur, ind: Indicator, m: Measure) -> set[date]:
    """Months between the last one with atoms and the stock's horizon (new months to count)."""
    horizon = stock_horizon(cur, m)
    cur.execute("SELECT max(month_start) FROM mart.indicator_month_base WHERE indicator_code = %s", (ind.code,))
    last = cur.fetchone()[0]
    if horizon is None or last is None or horizon <= last:
        return set()
    months, m_ = set(), add_months(last, 1)
    while m_ <= horizon:
        months.add(m_)
        m_ = add_months(m_, 1)
    return months


def drop_after(cur, ind: Indicator, horizon: date | None) -> None:
    """Delete an indicator's atoms and values after ``horizon`` (all of them if it is None)."""
    for table, column in (("mart.indicator_month_base", "month_start"),
                          ("mart.indicator_dimension_month_base", "month_start"),
                          ("mart.indicator_values", "period_start"),
                          ("mart.indicator_values_by_dimension", "period_start")):
        cur.execute(sql.SQL("DELETE FROM {} WHERE indicator_code = %s AND ({} > %s OR %s IS NULL)").format(
            ident(table), sql.Identifier(column)), (ind.code, horizon, horizon))


def stock_touched_months(cur, m: Measure, changes: Changes) -> set[date]:
    """Months in which the changed records of a stock measure count differently: where a record
    is active at the month's end before and not now (or the reverse), and, where anything else
    about it changed (its town, its member), every month it is active in either state."""
    start, end = m.active
    key, _ = changes.tables[m.table]
    ignore = [start, end, *changes.provenance[m.table], "loaded_at", *META_COLUMNS, *CORE_ONLY_COLUMNS]
    before, now, k = changes.temp(m.table, "before"), changes.temp(m.table, "now"), sql.Identifier(key)
    cur.execute(sql.SQL("SELECT least(min({b}), min({n})) FROM {before} b FULL JOIN {now} n USING ({k})").format(
        b=local_month(cur, m.table, start, "b"), n=local_month(cur, m.table, start, "n"),
        before=before, now=now, k=k))
    first = cur.fetchone()[0]
    if first is None:
        return set()
    last = max(first, stock_horizon(cur, m) or first)

    month_end_ = month_end(cur, m.table, start, sql.SQL("mm.m"))

    def active(side: str) -> sql.Composable:   # as the stock query counts it: active at the month's end
        return sql.SQL("coalesce({s} < {x} AND ({e} IS NULL OR {e} >= {x}), false)").format(
            s=sql.Identifier(f"{side}_s"), e=sql.Identifier(f"{side}_e"), x=month_end_)

    cur.execute(sql.SQL(
        """WITH p AS (
               SELECT b.{s} AS b_s, b.{e} AS b_e, n.{s} AS n_s, n.{e} AS n_e,
                      (to_jsonb(b) - %(ignore)s::text[]) IS DISTINCT FROM (to_jsonb(n) - %(ignore)s::text[]) AS other
               FROM {before} b FULL JOIN {now} n USING ({k}))
           SELECT DISTINCT mm.m
           FROM (SELECT g::date AS m FROM generate_series(%(first)s::date, %(last)s::date, interval '1 month') g) mm, p
           WHERE {ab} IS DISTINCT FROM {an} OR (p.other AND ({ab} OR {an}))""").format(
        s=sql.Identifier(start), e=sql.Identifier(end), before=before, now=now, k=k,
        ab=active("b"), an=active("n")), {"first": first, "last": last, "ignore": ignore})
    return {r[0] for r in cur.fetchall()}
