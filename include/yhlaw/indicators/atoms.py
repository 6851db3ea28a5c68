"""Monthly atoms (``mart.indicator_month_base`` and, per dimension,
``mart.indicator_dimension_month_base``): per indicator, month and 镇街 the numerator and the
denominator, computed from the measures' queries over core."""

from __future__ import annotations

from datetime import date

from psycopg2 import sql

from yhlaw.reference import DISTRICT_CODE
from yhlaw.indicators.definitions import Indicator, Measure
from yhlaw.indicators.columns import bound, column_type, ident, local_month, month_end
from yhlaw.indicators.months import month_params

UNFILLED = "(未填)"


def measure_query(cur, m: Measure, filters: list[tuple[str, str]], months_param: str,
                  member: str | None = None, relation: sql.Composable | None = None) -> sql.Composable:
    """SELECT town_code, month_start, [member,] <one column per filter> for the given months;
    ``member`` names a column of the measure's table to break the aggregates down by;
    ``relation`` replaces the table by a query over it (same columns, e.g. some records only)."""
    aggs = sql.SQL(", ").join(
        sql.SQL("{v} FILTER (WHERE {w})").format(v=sql.SQL(value), w=sql.SQL(where)) for value, where in filters)
    town = sql.SQL("({})::char(12)").format(sql.SQL(m.town))
    member_col, group = _member_column(cur, m, member)
    if m.period:
        table = ident(m.table) if relation is None else sql.SQL("({}) AS {}").format(
            relation, sql.Identifier(m.table.split(".")[1]))
        return _flow_query(cur, m, town, member_col, aggs, table, months_param, group)
    return _stock_query(cur, m, town, member_col, aggs, months_param, group)


def _member_column(cur, m: Measure, member: str | None) -> tuple[sql.Composable, sql.Composable]:
    """The member column of a breakdown (empty for totals) and the GROUP BY positions."""
    if member is None:
        return sql.SQL(""), sql.SQL("1, 2")
    column_type(cur, m.table, member)  # a declared dimension must be a column of the table
    member_col = sql.SQL("coalesce(({})::text, {}) AS member, ").format(sql.Identifier(member),
                                                                      sql.Literal(UNFILLED))
    return member_col, sql.SQL("1, 2, 3")


def _flow_query(cur, m: Measure, town: sql.Composable, member_col: sql.Composable, aggs: sql.Composable,
                table: sql.Composable, months_param: str, group: sql.Composable) -> sql.Composable:
    """A flow: records placed in the month of their ``period`` column."""
    month = local_month(cur, m.table, m.period)
    return sql.SQL(
        """SELECT {town} AS town_code, {month} AS month_start, {member}{aggs}
           FROM {table} {join}
           WHERE {col} >= {lo} AND {col} < {hi} AND {month} = ANY({months})
           GROUP BY {group}""").format(
        town=town, month=month, member=member_col, aggs=aggs, table=table, join=sql.SQL(m.join),
        col=sql.Identifier(m.period), lo=bound(cur, m.table, m.period, "lo"),
        hi=bound(cur, m.table, m.period, "hi"), months=sql.Placeholder(months_param), group=group)


def _stock_query(cur, m: Measure, town: sql.Composable, member_col: sql.Composable, aggs: sql.Composable,
                 months_param: str, group: sql.Composable) -> sql.Composable:
    """A stock: records active at the month's end (always over the whole table); the end of a
    month is local midnight for timestamp columns."""
    start, end = m.active
    end_excl = month_end(cur, m.table, start, sql.SQL("mm.month_start"))
    return sql.SQL(
        """SELECT {town} AS town_code, mm.month_start, {member}{aggs}
           FROM unnest({months}::date[]) AS mm(month_start)
           JOIN {table} {join} ON {s} < {e_x} AND ({e} IS NULL OR {e} >= {e_x})
           GROUP BY {group}""").format(
        town=town, member=member_col, aggs=aggs, months=sql.Placeholder(months_param), table=ident(m.table),
        join=sql.SQL(m.join), s=sql.Identifier(start), e=sql.Identifier(end), e_x=end_excl, group=group)


def _population_query(ind: Indicator) -> sql.Composable:
    """Resident population of each town for each month: the period's year, or the latest earlier
    year on file (parameter population_year: period_year), or a fixed year."""
    basis = str(ind.parameters.get("population_year", "period_year"))
    year = sql.SQL("extract(year FROM mm.month_start)") if basis == "period_year" else sql.Literal(int(basis))
    return sql.SQL(
        """SELECT p.town_code, mm.month_start, p.population AS d
           FROM unnest(%(months)s::date[]) AS mm(month_start)
           CROSS JOIN LATERAL (
               SELECT DISTINCT ON (town_code) town_code, population FROM core.town_population
               WHERE year <= {year} AND town_code <> {district}
               ORDER BY town_code, year DESC) p""").format(year=year, district=sql.Literal(DISTRICT_CODE))


def grid_towns(ind: Indicator) -> sql.Composable:
    """The towns an indicator has atoms for: every 镇街, or the district alone."""
    if "town" in ind.levels:
        return sql.SQL("SELECT town_code FROM core.dim_town WHERE in_district AND town_kind <> '区'")
    return sql.SQL("SELECT {}::char(12) AS town_code").format(sql.Literal(DISTRICT_CODE))


def same_scan(ind: Indicator) -> bool:
    """Whether the denominator is over the same table and placement as the numerator (one scan)."""
    den = ind.denominator
    return den is not None and not den.population and den.key() == ind.numerator.key()


def compute_atoms(cur, ind: Indicator, months: list[date], dimension: str | None = None) -> None:
    """Replace the monthly atoms of ``ind`` for ``months``: the totals for every grid town and
    month (0 where a town had no records), or, broken down by ``dimension``, the (town, month,
    member) combinations that have records. A denominator over the same table and placement is
    computed in the same scan (and split by the member: a rate within it); any other
    denominator is the town's total (a share of the whole, e.g. cases of one type per 10,000
    residents)."""
    if not months:
        return
    months = sorted(months)
    params = month_params(ind, months, dimension)
    facts = _facts_query(cur, ind, dimension)
    n_val, d_val = _atom_values(ind)
    if dimension is None:
        _replace_totals(cur, ind, facts, n_val, d_val, params)
    else:
        _replace_breakdown(cur, ind, facts, n_val, d_val, params)


def _facts_query(cur, ind: Indicator, dimension: str | None) -> sql.Composable:
    """(town_code, month_start, [member,] n, d[, r]): the measures' aggregates per town and month;
    ``r``, a breakdown's record count (a combination exists while it has records)."""
    num, den = ind.numerator, ind.denominator
    member = sql.SQL("") if dimension is None else sql.SQL("member, ")
    rec, r = ([("count(*)", "true")], sql.SQL(", r")) if dimension else ([], sql.SQL(""))
    if ind.rollup == "median":
        return _sample_facts(cur, ind, dimension, member, rec, r)
    if same_scan(ind):
        return sql.SQL("SELECT * FROM ({q}) nd (town_code, month_start, {m}n, d{r})").format(
            q=measure_query(cur, num, [(num.value, num.where), (den.value, den.where), *rec], "months", dimension),
            m=member, r=r)
    n_q = measure_query(cur, num, [(num.value, num.where), *rec], "months", dimension)
    if den is None:
        return sql.SQL("SELECT *, NULL::numeric AS d FROM ({q}) n_raw (town_code, month_start, {m}n{r})").format(
            q=n_q, m=member, r=r)
    d_q = _population_query(ind) if den.population else measure_query(
        cur, den, [(den.value, den.where)], "months")
    # Totals keep a town-month that has only a denominator; breakdowns need a member.
    join = sql.SQL("FULL JOIN") if dimension is None else sql.SQL("LEFT JOIN")
    return sql.SQL("""SELECT * FROM ({n_q}) n_raw (town_code, month_start, {m}n{r})
                       {join} ({d_q}) d_raw (town_code, month_start, d) USING (town_code, month_start)""").format(
        n_q=n_q, m=member, r=r, join=join, d_q=d_q)


def _sample_facts(cur, ind: Indicator, dimension: str | None, member: sql.Composable, rec: list,
                  r: sql.Composable) -> sql.Composable:
    """A median's facts: per town and month the records' values (``s``, sorted) and their count
    (``d``); no numerator (a median is not a sum: quarters and the district take the median of
    the months' values together, see rollup)."""
    num = ind.numerator
    value = f"({num.value})::numeric"
    filters = [(f"array_agg({value} ORDER BY {value})", f"({num.where}) AND {value} IS NOT NULL"),
               (f"count({value})", num.where), *rec]
    return sql.SQL("SELECT town_code, month_start, {m}NULL::numeric AS n, d, s{r} "
                   "FROM ({q}) nd (town_code, month_start, {m}s, d{r})").format(
        q=measure_query(cur, num, filters, "months", dimension), m=member, r=r)


def _atom_values(ind: Indicator) -> tuple[sql.Composable, sql.Composable]:
    """The numerator and denominator an atom stores where a town-month has no facts."""
    if ind.rollup == "median":
        return sql.SQL("NULL::numeric"), sql.SQL("coalesce(d, 0)")
    if ind.rollup == "snapshot" and ind.numerator.period:
        # A ledger snapshot: no row for a month = not reported (NULL), not zero staff. (A stock
        # such as active listings is different: none active is a real 0.)
        return sql.SQL("n"), sql.SQL("d")
    return sql.SQL("coalesce(n, 0)"), (sql.SQL("d") if ind.denominator is None else sql.SQL("coalesce(d, 0)"))


def _replace_totals(cur, ind: Indicator, facts: sql.Composable, n_val: sql.Composable, d_val: sql.Composable,
                    params: dict) -> None:
    cur.execute("""DELETE FROM mart.indicator_month_base
                   WHERE indicator_code = %(code)s AND month_start = ANY(%(months)s::date[])""", params)
    cur.execute(sql.SQL(
        """WITH grid AS (SELECT g.town_code, mm.month_start
                         FROM ({towns}) g CROSS JOIN unnest(%(months)s::date[]) AS mm(month_start))
           INSERT INTO mart.indicator_month_base (indicator_code, month_start, town_code, numerator, denominator,
                                                  sample)
           SELECT %(code)s, grid.month_start, grid.town_code, {n}, {d}, {s}
           FROM grid LEFT JOIN ({facts}) f USING (town_code, month_start)""").format(
        towns=grid_towns(ind), n=n_val, d=d_val, s=_sample(ind), facts=facts), params)


def _replace_breakdown(cur, ind: Indicator, facts: sql.Composable, n_val: sql.Composable, d_val: sql.Composable,
                       params: dict) -> None:
    cur.execute("""DELETE FROM mart.indicator_dimension_month_base
                   WHERE indicator_code = %(code)s AND dimension = %(dim)s
                     AND month_start = ANY(%(months)s::date[])""", params)
    cur.execute(sql.SQL(
        """INSERT INTO mart.indicator_dimension_month_base
             (indicator_code, dimension, member, month_start, town_code, numerator, denominator, records, sample)
           SELECT %(code)s, %(dim)s, member, month_start, town_code, {n}, {d}, r, {s} FROM ({facts}) f
           WHERE town_code IN (SELECT town_code FROM ({towns}) g)""").format(
        n=n_val, d=d_val, s=_sample(ind), facts=facts, towns=grid_towns(ind)), params)


def _sample(ind: Indicator) -> sql.Composable:
    """The atom's sorted values: a median's only (other atoms add up, and keep none)."""
    return sql.SQL("f.s") if ind.rollup == "median" else sql.SQL("NULL::numeric[]")
