"""Delta maintenance of the atoms: what the changed records contribute now, minus what they
contributed before (their latest version from any other batch)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from psycopg2 import sql

from yhlaw.indicators.atoms import grid_towns, measure_query, same_scan
from yhlaw.indicators.definitions import Indicator, Measure
from yhlaw.indicators.columns import ident
from yhlaw.indicators.months import month_params


def delta_eligible(ind: Indicator) -> bool:
    """Atoms that are sums over records placed in a month (counts, sums): a record's
    contribution can be taken out and put back. Snapshots, stocks (active at month end) and
    distinct counts are recomputed by month instead."""
    return ind.rollup == "sum" and not ind.lookback_months and not ind.depends_on and all(
        m.period and "distinct" not in m.value.lower() for m in ind.measures)


@dataclass(frozen=True)
class Changes:
    """The records of each core table that the new batches changed: their state now (core) and
    their state before those batches (the latest version from any other batch), each kept in a
    small temp table for the refresh (``materialise``), so that every delta query reads a few
    rows instead of probing the large tables again."""

    batches: dict[str, list[str]]            # core table -> new batch ids
    tables: dict[str, tuple[str, str]]       # core table -> (natural key, update-time column)
    provenance: dict[str, tuple[str, ...]]   # core table -> columns about the version, not the record

    @staticmethod
    def temp(table: str, state: str) -> sql.Identifier:
        return sql.Identifier(f"_{state}_{table.split('.')[1]}")

    def materialise(self, cur) -> None:
        for table, batches in self.batches.items():
            if table not in self.tables:
                continue
            key, updated = self.tables[table]
            k, vt, t = sql.Identifier(key), ident(f"{table}_version"), ident(table)
            changed = sql.SQL("SELECT DISTINCT {k} FROM {vt} WHERE batch_id = ANY(%(b)s)").format(k=k, vt=vt)
            cur.execute(sql.SQL("CREATE TEMP TABLE {tmp} ON COMMIT DROP AS SELECT c.* FROM ({changed}) x "
                                "JOIN {t} c USING ({k})").format(
                tmp=self.temp(table, "now"), changed=changed, t=t, k=k), {"b": batches})
            cur.execute(sql.SQL(
                """CREATE TEMP TABLE {tmp} ON COMMIT DROP AS
                   SELECT DISTINCT ON (v.{k}) v.* FROM ({changed}) x JOIN {vt} v USING ({k})
                   WHERE v.batch_id <> ALL(%(b)s) ORDER BY v.{k}, v.{u} DESC""").format(
                tmp=self.temp(table, "before"), changed=changed, vt=vt, k=k, u=sql.Identifier(updated)),
                {"b": batches})
            cur.execute(sql.SQL("ANALYZE {}, {}").format(self.temp(table, "now"), self.temp(table, "before")))

    def now(self, table: str) -> sql.Composable:
        return sql.SQL("SELECT * FROM {}").format(self.temp(table, "now"))

    def before(self, table: str) -> sql.Composable:
        return sql.SQL("SELECT * FROM {}").format(self.temp(table, "before"))


def _measure_delta(cur, m: Measure, filters: list[tuple[str, str]], dimension: str | None,
                   changes: Changes) -> sql.Composable:
    """(town_code, month_start, [member,] c0, c1, ...): per filter, the changed records'
    aggregate now minus before, for the months in %(months)s."""
    cols = [f"c{i}" for i in range(len(filters))]
    names = sql.SQL(", ").join(map(sql.Identifier, ["town_code", "month_start",
                                                    *([] if dimension is None else ["member"]), *cols]))
    keys = sql.SQL("town_code, month_start") + (sql.SQL("") if dimension is None else sql.SQL(", member"))
    now = measure_query(cur, m, filters, "months", dimension, changes.now(m.table))
    before = measure_query(cur, m, filters, "months", dimension, changes.before(m.table))
    return sql.SQL(
        """SELECT {keys}, {sums} FROM (
               SELECT * FROM ({now}) a ({names})
               UNION ALL
               SELECT {keys}, {negs} FROM ({before}) b ({names})) x
           GROUP BY {keys}""").format(
        keys=keys, names=names, now=now, before=before,
        sums=sql.SQL(", ").join(sql.SQL("sum({c}) AS {c}").format(c=sql.Identifier(c)) for c in cols),
        negs=sql.SQL(", ").join(sql.SQL("-{c}").format(c=sql.Identifier(c)) for c in cols))


def apply_delta(cur, ind: Indicator, months: list[date], changes: Changes, dimension: str | None = None) -> None:
    """Add to the atoms of ``months`` what the changed records contribute now and take away what
    they contributed before (see ``delta_eligible``). Totals first: a breakdown whose
    denominator is the town's total copies it from them."""
    if not months:
        return
    months = sorted(months)
    params = month_params(ind, months, dimension)
    num, den = ind.numerator, ind.denominator
    same = same_scan(ind)
    rec = [("count(*)", "true")] if dimension else []
    n_q = _measure_delta(cur, num, [(num.value, num.where), *([(den.value, den.where)] if same else []), *rec],
                         dimension, changes)
    d_q = (_measure_delta(cur, den, [(den.value, den.where)], None, changes)
           if den is not None and not den.population and not same and den.table in changes.batches else None)
    if dimension is None:
        _add_to_totals(cur, ind, changes, same, n_q, d_q, params)
    else:
        _add_to_breakdown(cur, ind, changes, same, n_q, params)


def _add_to_totals(cur, ind: Indicator, changes: Changes, same: bool, n_q: sql.Composable,
                   d_q: sql.Composable | None, params: dict[str, Any]) -> None:
    """The numerator's delta (and a same-scan denominator's), then another denominator's."""
    d_set = sql.SQL(", denominator = b.denominator + x.c1") if same else sql.SQL("")
    if ind.numerator.table in changes.batches:
        cur.execute(sql.SQL(
            """UPDATE mart.indicator_month_base b SET numerator = b.numerator + x.c0{d_set}
               FROM ({q}) x WHERE b.indicator_code = %(code)s AND b.town_code = x.town_code
                 AND b.month_start = x.month_start""").format(d_set=d_set, q=n_q), params)
    if d_q is not None:
        cur.execute(sql.SQL(
            """UPDATE mart.indicator_month_base b SET denominator = b.denominator + x.c0
               FROM ({q}) x WHERE b.indicator_code = %(code)s AND b.town_code = x.town_code
                 AND b.month_start = x.month_start""").format(q=d_q), params)


def _add_to_breakdown(cur, ind: Indicator, changes: Changes, same: bool, n_q: sql.Composable,
                      params: dict[str, Any]) -> None:
    if ind.numerator.table in changes.batches:
        _upsert_breakdown_delta(cur, ind, same, n_q, params)
    if ind.denominator is not None and not same:
        # The denominator of a share of the whole is the town's total for the month.
        cur.execute("""UPDATE mart.indicator_dimension_month_base b SET denominator = t.denominator
                       FROM mart.indicator_month_base t
                       WHERE b.indicator_code = %(code)s AND b.dimension = %(dim)s
                         AND b.month_start = ANY(%(months)s::date[]) AND t.indicator_code = b.indicator_code
                         AND t.month_start = b.month_start AND t.town_code = b.town_code
                         AND b.denominator IS DISTINCT FROM t.denominator""", params)


def _upsert_breakdown_delta(cur, ind: Indicator, same: bool, n_q: sql.Composable, params: dict[str, Any]) -> None:
    """Add the delta to the (town, month, member) combinations, creating new ones; drop those
    left without records."""
    d_new = sql.SQL("x.c1") if same else sql.SQL("NULL")
    records = sql.SQL("x.c2") if same else sql.SQL("x.c1")
    d_upd = sql.SQL("b.denominator + EXCLUDED.denominator") if same else sql.SQL("b.denominator")
    cur.execute(sql.SQL(
        """INSERT INTO mart.indicator_dimension_month_base AS b
             (indicator_code, dimension, member, month_start, town_code, numerator, denominator, records)
           SELECT %(code)s, %(dim)s, x.member, x.month_start, x.town_code, x.c0, {d_new}, {records}
           FROM ({q}) x WHERE x.town_code IN (SELECT town_code FROM ({towns}) g)
           ON CONFLICT (indicator_code, dimension, member, month_start, town_code) DO UPDATE
             SET numerator = b.numerator + EXCLUDED.numerator, denominator = {d_upd},
                 records = b.records + EXCLUDED.records""").format(
        d_new=d_new, records=records, q=n_q, towns=grid_towns(ind), d_upd=d_upd), params)
    cur.execute("""DELETE FROM mart.indicator_dimension_month_base
                   WHERE indicator_code = %(code)s AND dimension = %(dim)s
                     AND month_start = ANY(%(months)s::date[]) AND records = 0""", params)
