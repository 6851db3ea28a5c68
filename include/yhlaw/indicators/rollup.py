"""Roll-up: every grain and level from the monthly atoms into the temp tables ``_iv_new`` (and
``_ivd_new`` for breakdowns) that ``publish`` merges into the marts."""

from __future__ import annotations

from datetime import date

from psycopg2 import sql

from yhlaw.reference import DISTRICT_CODE
from yhlaw.indicators.definitions import Indicator
from yhlaw.indicators.months import period_end, period_start


def rollup_values(cur, ind: Indicator, months: list[date], dimension: str | None = None) -> None:
    """Fill temp table _iv_new (or, for a ``dimension``, _ivd_new) with the values of every
    period of every grain containing one of ``months``, for every town and the district, from
    the monthly atoms."""
    if not months:
        return
    target = sql.Literal(ind.target)
    cmp = sql.SQL(">=") if ind.direction == "higher" else sql.SQL("<=")
    value = (sql.SQL("round(n, 4)") if ind.rollup == "median" else sql.SQL("n") if ind.denominator is None
             else sql.SQL("round(n / nullif(d, 0) * {}, 4)").format(sql.Literal(ind.scale)))
    # A median's mart row: no numerator (the median is the value), the records as denominator.
    num_out = sql.SQL("NULL::numeric") if ind.rollup == "median" else sql.SQL("n")
    if dimension is None:
        base, keys, dim_filter = sql.SQL("mart.indicator_month_base"), sql.SQL(""), sql.SQL("")
        out, out_cols = sql.SQL("_iv_new"), sql.SQL("")
    else:
        base, keys = sql.SQL("mart.indicator_dimension_month_base"), sql.SQL("member, ")
        dim_filter = sql.SQL(" AND dimension = %(dim)s")
        out, out_cols = sql.SQL("_ivd_new"), sql.SQL("dimension, member, ")
    out_vals = sql.SQL("") if dimension is None else sql.SQL("%(dim)s, member, ")
    for grain in ind.grains:
        periods = sorted({period_start(m, grain) for m in months})
        lo, hi = periods[0], period_end(periods[-1], grain)
        pstart = sql.SQL("date_trunc({}, month_start)::date").format(sql.Literal(grain))
        where = sql.SQL("""WHERE indicator_code = %(code)s AND month_start >= %(lo)s AND month_start < %(hi)s
                             AND {p} = ANY(%(periods)s::date[]){dim}""").format(p=pstart, dim=dim_filter)
        if ind.rollup == "median":
            per_town, levels = _median_queries(ind, pstart, keys, base, where, dimension)
        else:
            per_town, levels = _per_town_query(ind, pstart, keys, base, where), _levels_query(ind, keys, dimension)
        cur.execute(sql.SQL(
            """WITH pt AS ({per_town}), lv AS ({levels}), v AS (SELECT *, {value} AS value FROM lv)
               INSERT INTO {out} ({out_cols}indicator_code, grain, period_start, town_code, numerator, denominator,
                                  value, unit, target, meets_target)
               SELECT {out_vals}%(code)s, %(grain)s, period_start, town_code, {num_out}, d, value, %(unit)s, {target},
                      CASE WHEN {target} IS NULL OR value IS NULL THEN NULL ELSE value {cmp} {target} END
               FROM v""").format(per_town=per_town, levels=levels, value=value, num_out=num_out, target=target, cmp=cmp,
                                 out=out,
                                 out_cols=out_cols, out_vals=out_vals),
            {"code": ind.code, "grain": grain, "lo": lo, "hi": hi, "periods": periods, "unit": ind.unit,
             "dim": dimension})


def _per_town_query(ind: Indicator, pstart: sql.Composable, keys: sql.Composable, base: sql.Composable,
                    where: sql.Composable) -> sql.Composable:
    """(period_start, [member,] town_code, n, d) of each town for each period of the grain."""
    if ind.rollup == "sum":
        # A population is a level, not a flow: a quarter's denominator is the population of
        # its last month (the period's year), not three months of it added up.
        den = (sql.SQL("(array_agg(denominator ORDER BY month_start DESC))[1]")
               if ind.denominator is not None and ind.denominator.population else sql.SQL("sum(denominator)"))
        return sql.SQL(
            """SELECT {p} AS period_start, {keys}town_code, sum(numerator) AS n, {den} AS d
               FROM {base} {where} GROUP BY 1, {keys}town_code""").format(
            p=pstart, keys=keys, den=den, base=base, where=where)
    return sql.SQL(
        """SELECT DISTINCT ON (1, {keys}town_code) {p} AS period_start, {keys}town_code,
                  numerator AS n, denominator AS d
           FROM {base} {where}
           ORDER BY 1, {keys}town_code, (numerator IS NOT NULL OR denominator IS NOT NULL) DESC,
                    month_start DESC""").format(p=pstart, keys=keys, base=base, where=where)


def _levels_query(ind: Indicator, keys: sql.Composable, dimension: str | None) -> sql.Composable:
    """The towns of ``pt`` and, where the indicator has both levels, the district as their sum."""
    levels = sql.SQL("SELECT period_start, {keys}town_code, n, d FROM pt").format(keys=keys)
    if "town" in ind.levels and "district" in ind.levels:
        district = sql.Literal(DISTRICT_CODE)
        d = sql.SQL("sum(d)")
        if dimension is not None and ind.denominator is not None and ind.denominator.population:
            # A member's cases per 10,000 of the district's residents, not of the residents of the
            # 镇街 that happen to have the member (the totals, rolled up first, hold the former).
            d = sql.SQL("""(SELECT t.denominator FROM _iv_new t WHERE t.indicator_code = %(code)s
                             AND t.grain = %(grain)s AND t.period_start = pt.period_start
                             AND t.town_code = {district})""").format(district=district)
        levels += sql.SQL(" UNION ALL SELECT period_start, {keys}{district}::char(12), sum(n), {d} "
                          "FROM pt GROUP BY period_start{group}").format(
            keys=keys, district=district, d=d, group=sql.SQL("") if dimension is None else sql.SQL(", member"))
    return levels


def _median_queries(ind: Indicator, pstart: sql.Composable, keys: sql.Composable, base: sql.Composable,
                    where: sql.Composable, dimension: str | None) -> tuple[sql.Composable, sql.Composable]:
    """(per town, levels) of a median: the median of the values of all the period's records, per
    town and, where the indicator has both levels, over every town's records together (a median of
    medians would not be the district's median). ``n`` is the median, ``d`` the records."""
    median = sql.SQL("percentile_cont(0.5) WITHIN GROUP (ORDER BY x)::numeric AS n, count(x)::numeric AS d")
    scan = sql.SQL("{base} LEFT JOIN LATERAL unnest(sample) AS u(x) ON true {where}").format(base=base, where=where)
    per_town = sql.SQL("SELECT {p} AS period_start, {keys}town_code, {median} FROM {scan} "
                       "GROUP BY 1, {keys}town_code").format(p=pstart, keys=keys, median=median, scan=scan)
    levels = sql.SQL("SELECT period_start, {keys}town_code, n, d FROM pt").format(keys=keys)
    if "town" in ind.levels and "district" in ind.levels:
        levels += sql.SQL(" UNION ALL SELECT {p}, {keys}{district}::char(12), {median} FROM {scan} "
                          "GROUP BY 1{group}").format(
            p=pstart, keys=keys, district=sql.Literal(DISTRICT_CODE), median=median, scan=scan,
            group=sql.SQL("") if dimension is None else sql.SQL(", member"))
    return per_town, levels
