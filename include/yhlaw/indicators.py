"""The one indicator engine: the catalog in ``indicators/*.yaml`` -> ``mart.indicator_values``.

Each catalog file declares an indicator: what it measures (policy section and clause), its
numerator and denominator as SQL over ``core`` (a ``measure``: table, the column that places a
record in a month, a filter, an aggregate), its unit, direction, target and grains. A new
indicator is a new file; nothing here is per indicator.

How values are computed
  1. Monthly atoms (``mart.indicator_month_base``): per indicator, month and 镇街 the numerator
     and the denominator, for every town of the district, 0 where a town had no records.
  2. Every grain and level is rolled up from the atoms: a quarter, a year and the district are
     sums of numerators over sums of denominators (never averages of rates); a ``snapshot``
     indicator (staffing ledgers, stock of 失信被执行人) takes the last month of the period that
     has data. value = numerator / denominator x scale, NULL where the denominator is 0.

Incremental refresh
  A batch loaded since the last refresh (``audit.batch`` minus ``audit.indicator_input``)
  touches the months its records fall in now *and* fell in before (through the ``*_version``
  tables, so a correction that moves a case from March to April touches both). For counts and
  sums over records placed in a month (``delta_eligible``) the atoms of those months are
  maintained: what the changed records contribute now (``core``) is added and what they
  contributed before (their latest version from any other batch) is taken away, so a day's
  refresh costs in proportion to the records it changed. Other indicators (snapshots, stocks)
  and months without atoms yet are recomputed whole, as are the months of a batch merged again
  after the marts consumed it (a replay, a rebuild: ``audit.indicator_recheck``). Merges hold
  ``MARTS_LOCK`` shared and a refresh holds it exclusively, so a refresh sees one state.
  The quarters and years containing a touched month are rolled up again. A changed definition
  (spec hash) or reference input (population, departments) recomputes that indicator in full.
  ``refresh(full=True)`` recomputes everything and must give the same table; tests hold both
  paths to that. Changed published values are kept in ``mart.indicator_value_revision``.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from psycopg2 import sql

from yhlaw import paths
from yhlaw.spec import load_spec, source_names
from yhlaw.warehouse import MARTS_LOCK

log = logging.getLogger(__name__)

CATALOG_DIR = paths.CATALOG_DIR
DISTRICT_CODE = "330110000000"
TZ = "Asia/Shanghai"
GRAINS = ("month", "quarter", "year")
LOCK_KEY = MARTS_LOCK  # exclusive: one refresh at a time, and no merge into core meanwhile


class CatalogError(ValueError):
    """An indicator file is incomplete or inconsistent."""


@dataclass(frozen=True)
class Measure:
    """One side of an indicator: an aggregate over a core table, placed in months."""

    table: str                   # core.<table> (schema-qualified)
    value: str = "count(*)"      # one aggregate call (FILTER is appended)
    where: str = "true"
    period: str | None = None    # column placing a record in a month (flow)
    active: tuple[str, str] | None = None   # (start, end) columns: counted while active (stock)
    town: str = "town_code"
    join: str = ""
    population: bool = False     # denominator = resident population of the town

    @property
    def version_table(self) -> str:
        return f"{self.table}_version"

    def key(self) -> tuple:
        return (self.table, self.period, self.active, self.town, self.join)


@dataclass(frozen=True)
class Indicator:
    code: str
    name_zh: str
    name_en: str
    area: str
    section: str
    clause: str
    unit: str
    scale: float
    direction: str
    target: float | None
    target_source: str
    grains: tuple[str, ...]
    levels: tuple[str, ...]
    dimensions: tuple[str, ...]
    rollup: str
    numerator: Measure
    denominator: Measure | None
    parameters: dict[str, Any]
    assumptions: tuple[str, ...]
    spec_file: str
    spec_hash: str
    references: tuple[str, ...] = field(default=())

    @property
    def measures(self) -> list[Measure]:
        return [m for m in (self.numerator, self.denominator) if m is not None and not m.population]


def _measure(d: dict[str, Any] | None, where: str, params: dict[str, Any]) -> Measure | None:
    if d is None:
        return None
    if d.get("population"):
        return Measure(table="core.town_population", population=True)
    table = d.get("from")
    if not table or not str(table).startswith("core."):
        raise CatalogError(f"{where}: 'from' must name a core table")
    if bool(d.get("period")) == bool(d.get("active")):
        raise CatalogError(f"{where}: give exactly one of 'period' (flow) or 'active' (stock)")

    def render(text: str) -> str:
        try:
            return text.format(**{k: _literal(v) for k, v in params.items()})
        except KeyError as exc:
            raise CatalogError(f"{where}: unknown parameter {exc}") from exc

    return Measure(table=table, value=render(d.get("value", "count(*)")), where=render(str(d.get("where", "true"))),
                   period=d.get("period"), active=tuple(d["active"]) if d.get("active") else None,
                   town=d.get("town", "town_code"), join=render(d.get("join", "")))


def _literal(value: Any) -> str:
    """A parameter as SQL text: strings quoted, lists as ARRAY[...]."""
    if isinstance(value, (list, tuple)):
        return "ARRAY[" + ", ".join(_literal(v) for v in value) + "]"
    if isinstance(value, (int, float)):
        return repr(value)
    return "'" + str(value).replace("'", "''") + "'"


def parse_indicator(data: dict[str, Any], where: str, text: str = "") -> Indicator:
    for key in ("code", "name_zh", "name_en", "area", "policy", "unit", "direction", "target", "numerator",
                "assumptions"):
        if key not in data:
            raise CatalogError(f"{where}: missing key {key!r}")
    params = dict(data.get("parameters") or {})
    num = _measure(data["numerator"], f"{where}: numerator", params)
    den = _measure(data.get("denominator"), f"{where}: denominator", params)
    target = data["target"] or {}
    if data["direction"] not in ("higher", "lower"):
        raise CatalogError(f"{where}: direction must be higher or lower")
    grains = tuple(data.get("grains", GRAINS))
    if set(grains) - set(GRAINS) or "month" not in grains:
        raise CatalogError(f"{where}: grains must include month and be among {GRAINS}")
    levels = tuple(data.get("levels", ("town", "district")))
    rollup = data.get("rollup", "sum")
    if rollup not in ("sum", "snapshot"):
        raise CatalogError(f"{where}: rollup must be sum or snapshot")
    if num.population:
        raise CatalogError(f"{where}: population can only be a denominator")
    references = tuple(data.get("references", ())) + (("core.town_population",) if den and den.population else ())
    return Indicator(
        code=data["code"], name_zh=data["name_zh"], name_en=data["name_en"], area=data["area"],
        section=data["policy"]["section"], clause=data["policy"]["clause"], unit=data["unit"],
        scale=float(data.get("scale", 1)), direction=data["direction"],
        target=None if target.get("value") is None else float(target["value"]),
        target_source=target.get("source", "none stated"), grains=grains, levels=levels,
        dimensions=tuple(data.get("dimensions", ("town_code",))), rollup=rollup, numerator=num, denominator=den,
        parameters=params, assumptions=tuple(data["assumptions"]), spec_file=where,
        spec_hash=hashlib.sha256(text.encode()).hexdigest()[:16], references=references)


@lru_cache(maxsize=1)
def catalog(directory: Path = CATALOG_DIR) -> tuple[Indicator, ...]:
    out = []
    for path in sorted(directory.glob("*.yaml")):
        text = path.read_text(encoding="utf-8")
        ind = parse_indicator(yaml.safe_load(text), path.name, text)
        if ind.code != path.stem:
            raise CatalogError(f"{path.name}: code {ind.code!r} must match the file name")
        out.append(ind)
    return tuple(out)


def spec_tables() -> dict[tuple[str, str], tuple[str, str, str, tuple[str, ...]]]:
    """(source, entity) -> (core.<table>, natural key, update-time column, provenance columns)."""
    return {(s, e.name): (f"core.{e.table}", e.natural_key, e.updated_column, tuple(e.provenance_columns))
            for s in source_names() for e in load_spec(s).entities.values()}


def _ident(qualified: str) -> sql.Identifier:
    return sql.Identifier(*qualified.split("."))


_COLUMN_TYPES: dict[tuple[str, str], str] = {}   # filled once per refresh (see refresh)


def _column_type(cur, table: str, column: str) -> str:
    if (table, column) not in _COLUMN_TYPES:
        schema, name = table.split(".")
        cur.execute("""SELECT data_type FROM information_schema.columns
                       WHERE table_schema = %s AND table_name = %s AND column_name = %s""", (schema, name, column))
        row = cur.fetchone()
        if row is None:
            raise CatalogError(f"{table} has no column {column!r}")
        _COLUMN_TYPES[(table, column)] = row[0]
    return _COLUMN_TYPES[(table, column)]


def _local_month(cur, table: str, column: str, alias: str = "") -> sql.Composable:
    """date_trunc('month') of a column in local time, as a date."""
    col = sql.SQL(alias + ".") + sql.Identifier(column) if alias else sql.Identifier(column)
    if _column_type(cur, table, column).startswith("timestamp"):
        return sql.SQL("date_trunc('month', {} AT TIME ZONE {})::date").format(col, sql.Literal(TZ))
    return sql.SQL("date_trunc('month', {})::date").format(col)


def _bound(cur, table: str, column: str, param: str) -> sql.Composable:
    """A month boundary parameter in the column's type (timestamptz: local midnight)."""
    if _column_type(cur, table, column).startswith("timestamp"):
        return sql.SQL("({}::timestamp AT TIME ZONE {})").format(sql.Placeholder(param), sql.Literal(TZ))
    return sql.SQL("{}::date").format(sql.Placeholder(param))


# --------------------------------------------------------------------------------------------
# Which months to recompute


def _touched_months(cur, m: Measure, key: str | None, batches: list[str] | None) -> set[date]:
    """Months a measure's records fall in, now or in any earlier version, for the records the
    given batches touched (None: every record)."""
    if m.population:
        return set()
    vt = _ident(m.version_table)
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
            m=_local_month(cur, m.table, m.period, "v"), vt=vt, keyed=keyed)
        cur.execute(q, params)
        return {r[0] for r in cur.fetchall() if r[0] is not None}
    # Stock: every month from the earliest start among the touched records to the table's
    # latest event (a listing counts in every month it is active).
    start, end = m.active
    cur.execute(sql.SQL("SELECT min({s}) FROM {vt} v{keyed}").format(
        s=_local_month(cur, m.table, start, "v"), vt=vt, keyed=keyed), params)
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
    updated = _updated_column(m.table)
    cur.execute(sql.SQL("""SELECT greatest(max({s}), max({e}) FILTER (WHERE v.{ec} <= (SELECT max({u}) FROM {t})))
                           FROM {t} v""").format(
        s=_local_month(cur, m.table, start, "v"), e=_local_month(cur, m.table, end, "v"),
        ec=sql.Identifier(end), u=sql.Identifier(updated), t=_ident(m.table)))
    return cur.fetchone()[0]


def _months_up_to_horizon(cur, ind: Indicator, m: Measure) -> set[date]:
    """Months between the last one with atoms and the stock's horizon (new months to count)."""
    horizon = stock_horizon(cur, m)
    cur.execute("SELECT max(month_start) FROM mart.indicator_month_base WHERE indicator_code = %s", (ind.code,))
    last = cur.fetchone()[0]
    if horizon is None or last is None or horizon <= last:
        return set()
    months, m_ = set(), _add_months(last, 1)
    while m_ <= horizon:
        months.add(m_)
        m_ = _add_months(m_, 1)
    return months


def _drop_after(cur, ind: Indicator, horizon: date | None) -> None:
    for table, column in (("mart.indicator_month_base", "month_start"),
                          ("mart.indicator_dimension_month_base", "month_start"),
                          ("mart.indicator_values", "period_start"),
                          ("mart.indicator_values_by_dimension", "period_start")):
        cur.execute(sql.SQL("DELETE FROM {} WHERE indicator_code = %s AND ({} > %s OR %s IS NULL)").format(
            _ident(table), sql.Identifier(column)), (ind.code, horizon, horizon))


def _updated_column(table: str) -> str:
    for t, _, updated, _ in spec_tables().values():
        if t == table:
            return updated
    raise CatalogError(f"{table} is not the core table of any source spec")


def _stock_touched_months(cur, m: Measure, changes: "Changes") -> set[date]:
    """Months in which the changed records of a stock measure count differently: where a record
    is active at the month's end before and not now (or the reverse), and, where anything else
    about it changed (its town, its member), every month it is active in either state."""
    start, end = m.active
    key, _ = changes.tables[m.table]
    ignore = [start, end, *changes.provenance[m.table], "loaded_at", "batch_id", "record_hash"]
    before, now, k = changes.temp(m.table, "before"), changes.temp(m.table, "now"), sql.Identifier(key)
    cur.execute(sql.SQL("SELECT least(min({b}), min({n})) FROM {before} b FULL JOIN {now} n USING ({k})").format(
        b=_local_month(cur, m.table, start, "b"), n=_local_month(cur, m.table, start, "n"),
        before=before, now=now, k=k))
    first = cur.fetchone()[0]
    if first is None:
        return set()
    last = max(first, stock_horizon(cur, m) or first)

    def active(side: str) -> sql.Composable:   # as the stock query counts it: active at the month's end
        return sql.SQL("coalesce({s} < (mm.m + interval '1 month')::date AND ({e} IS NULL OR "
                       "{e} >= (mm.m + interval '1 month')::date), false)").format(
            s=sql.Identifier(f"{side}_s"), e=sql.Identifier(f"{side}_e"))

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


def _reference_checksums(cur, tables: set[str]) -> dict[str, str]:
    out = {}
    for t in sorted(tables):
        cur.execute(sql.SQL("SELECT md5(coalesce(string_agg(x::text, '|' ORDER BY x::text), '')) FROM {} x").format(
            _ident(t)))
        out[t] = cur.fetchone()[0]
    return out


# --------------------------------------------------------------------------------------------
# Monthly atoms


UNFILLED = "(未填)"


def _measure_query(cur, m: Measure, filters: list[tuple[str, str]], months_param: str,
                   member: str | None = None, relation: sql.Composable | None = None) -> sql.Composable:
    """SELECT town_code, month_start, [member,] <one column per filter> for the given months;
    ``member`` names a column of the measure's table to break the aggregates down by;
    ``relation`` replaces the table by a query over it (same columns, e.g. some records only)."""
    aggs = sql.SQL(", ").join(
        sql.SQL("{v} FILTER (WHERE {w})").format(v=sql.SQL(value), w=sql.SQL(where)) for value, where in filters)
    town = sql.SQL("({})::char(12)").format(sql.SQL(m.town))
    if member is None:
        member_col, group = sql.SQL(""), sql.SQL("1, 2")
    else:
        _column_type(cur, m.table, member)  # a declared dimension must be a column of the table
        member_col = sql.SQL("coalesce(({})::text, {}) AS member, ").format(sql.Identifier(member),
                                                                          sql.Literal(UNFILLED))
        group = sql.SQL("1, 2, 3")
    table = _ident(m.table) if relation is None else sql.SQL("({}) AS {}").format(
        relation, sql.Identifier(m.table.split(".")[1]))
    if m.period:
        month = _local_month(cur, m.table, m.period)
        return sql.SQL(
            """SELECT {town} AS town_code, {month} AS month_start, {member}{aggs}
               FROM {table} {join}
               WHERE {col} >= {lo} AND {col} < {hi} AND {month} = ANY({months})
               GROUP BY {group}""").format(
            town=town, month=month, member=member_col, aggs=aggs, table=table, join=sql.SQL(m.join),
            col=sql.Identifier(m.period), lo=_bound(cur, m.table, m.period, "lo"),
            hi=_bound(cur, m.table, m.period, "hi"), months=sql.Placeholder(months_param), group=group)
    start, end = m.active
    end_excl = sql.SQL("(mm.month_start + interval '1 month')::date")
    return sql.SQL(
        """SELECT {town} AS town_code, mm.month_start, {member}{aggs}
           FROM unnest({months}::date[]) AS mm(month_start)
           JOIN {table} {join} ON {s} < {e_x} AND ({e} IS NULL OR {e} >= {e_x})
           GROUP BY {group}""").format(
        town=town, member=member_col, aggs=aggs, months=sql.Placeholder(months_param), table=_ident(m.table),
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


def _grid_towns(ind: Indicator) -> sql.Composable:
    if "town" in ind.levels:
        return sql.SQL("SELECT town_code FROM core.dim_town WHERE in_district AND town_kind <> '区'")
    return sql.SQL("SELECT {}::char(12) AS town_code").format(sql.Literal(DISTRICT_CODE))


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
    params = _month_params(ind, months, dimension)
    num, den = ind.numerator, ind.denominator
    member = sql.SQL("") if dimension is None else sql.SQL("member, ")
    # A breakdown combination exists while it has records: their count is kept with it.
    rec, r = ([("count(*)", "true")], sql.SQL(", r")) if dimension else ([], sql.SQL(""))
    if den is not None and not den.population and den.key() == num.key():
        facts = sql.SQL("SELECT * FROM ({q}) nd (town_code, month_start, {m}n, d{r})").format(
            q=_measure_query(cur, num, [(num.value, num.where), (den.value, den.where), *rec], "months", dimension),
            m=member, r=r)
    else:
        n_q = _measure_query(cur, num, [(num.value, num.where), *rec], "months", dimension)
        if den is None:
            facts = sql.SQL("SELECT *, NULL::numeric AS d FROM ({q}) n_raw (town_code, month_start, {m}n{r})").format(
                q=n_q, m=member, r=r)
        else:
            d_q = _population_query(ind) if den.population else _measure_query(
                cur, den, [(den.value, den.where)], "months")
            # Totals keep a town-month that has only a denominator; breakdowns need a member.
            join = sql.SQL("FULL JOIN") if dimension is None else sql.SQL("LEFT JOIN")
            facts = sql.SQL("""SELECT * FROM ({n_q}) n_raw (town_code, month_start, {m}n{r})
                               {join} ({d_q}) d_raw (town_code, month_start, d) USING (town_code, month_start)""").format(
                n_q=n_q, m=member, r=r, join=join, d_q=d_q)
    if ind.rollup == "snapshot" and num.period:
        # A ledger snapshot: no row for a month = not reported (NULL), not zero staff. (A stock
        # such as active listings is different: none active is a real 0.)
        n_val, d_val = sql.SQL("n"), sql.SQL("d")
    else:
        n_val = sql.SQL("coalesce(n, 0)")
        d_val = sql.SQL("d") if den is None else sql.SQL("coalesce(d, 0)")
    if dimension is None:
        cur.execute("""DELETE FROM mart.indicator_month_base
                       WHERE indicator_code = %(code)s AND month_start = ANY(%(months)s::date[])""", params)
        cur.execute(sql.SQL(
            """WITH grid AS (SELECT g.town_code, mm.month_start
                             FROM ({towns}) g CROSS JOIN unnest(%(months)s::date[]) AS mm(month_start))
               INSERT INTO mart.indicator_month_base (indicator_code, month_start, town_code, numerator, denominator)
               SELECT %(code)s, grid.month_start, grid.town_code, {n}, {d}
               FROM grid LEFT JOIN ({facts}) f USING (town_code, month_start)""").format(
            towns=_grid_towns(ind), n=n_val, d=d_val, facts=facts), params)
    else:
        cur.execute("""DELETE FROM mart.indicator_dimension_month_base
                       WHERE indicator_code = %(code)s AND dimension = %(dim)s
                         AND month_start = ANY(%(months)s::date[])""", params)
        cur.execute(sql.SQL(
            """INSERT INTO mart.indicator_dimension_month_base
                 (indicator_code, dimension, member, month_start, town_code, numerator, denominator, records)
               SELECT %(code)s, %(dim)s, member, month_start, town_code, {n}, {d}, r FROM ({facts}) f
               WHERE town_code IN (SELECT town_code FROM ({towns}) g)""").format(
            n=n_val, d=d_val, facts=facts, towns=_grid_towns(ind)), params)


# --------------------------------------------------------------------------------------------
# Delta maintenance: what the changed records contribute now, minus what they contributed


def delta_eligible(ind: Indicator) -> bool:
    """Atoms that are sums over records placed in a month (counts, sums): a record's
    contribution can be taken out and put back. Snapshots, stocks (active at month end) and
    distinct counts are recomputed by month instead."""
    return ind.rollup == "sum" and all(m.period and "distinct" not in m.value.lower() for m in ind.measures)


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
            k, vt, t = sql.Identifier(key), _ident(f"{table}_version"), _ident(table)
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
    now = _measure_query(cur, m, filters, "months", dimension, changes.now(m.table))
    before = _measure_query(cur, m, filters, "months", dimension, changes.before(m.table))
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
    params = _month_params(ind, months, dimension)
    num, den = ind.numerator, ind.denominator
    same = den is not None and not den.population and den.key() == num.key()
    rec = [("count(*)", "true")] if dimension else []
    n_q = _measure_delta(cur, num, [(num.value, num.where), *([(den.value, den.where)] if same else []), *rec],
                         dimension, changes)
    d_q = (_measure_delta(cur, den, [(den.value, den.where)], None, changes)
           if den is not None and not den.population and not same and den.table in changes.batches else None)
    towns = _grid_towns(ind)
    if dimension is None:
        d_set = sql.SQL(", denominator = b.denominator + x.c1") if same else sql.SQL("")
        if num.table in changes.batches:
            cur.execute(sql.SQL(
                """UPDATE mart.indicator_month_base b SET numerator = b.numerator + x.c0{d_set}
                   FROM ({q}) x WHERE b.indicator_code = %(code)s AND b.town_code = x.town_code
                     AND b.month_start = x.month_start""").format(d_set=d_set, q=n_q), params)
        if d_q is not None:
            cur.execute(sql.SQL(
                """UPDATE mart.indicator_month_base b SET denominator = b.denominator + x.c0
                   FROM ({q}) x WHERE b.indicator_code = %(code)s AND b.town_code = x.town_code
                     AND b.month_start = x.month_start""").format(q=d_q), params)
        return
    if num.table in changes.batches:
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
            d_new=d_new, records=records, q=n_q, towns=towns, d_upd=d_upd), params)
        cur.execute("""DELETE FROM mart.indicator_dimension_month_base
                       WHERE indicator_code = %(code)s AND dimension = %(dim)s
                         AND month_start = ANY(%(months)s::date[]) AND records = 0""", params)
    if den is not None and not same:
        # The denominator of a share of the whole is the town's total for the month.
        cur.execute("""UPDATE mart.indicator_dimension_month_base b SET denominator = t.denominator
                       FROM mart.indicator_month_base t
                       WHERE b.indicator_code = %(code)s AND b.dimension = %(dim)s
                         AND b.month_start = ANY(%(months)s::date[]) AND t.indicator_code = b.indicator_code
                         AND t.month_start = b.month_start AND t.town_code = b.town_code
                         AND b.denominator IS DISTINCT FROM t.denominator""", params)


def _month_params(ind: Indicator, months: list[date], dimension: str | None) -> dict[str, Any]:
    """Query parameters for a set of months (sorted) of an indicator's atoms."""
    return {"months": months, "lo": months[0], "hi": _add_months(months[-1], 1), "code": ind.code,
            "dim": dimension}


def _add_months(d: date, n: int) -> date:
    y, m = divmod(d.month - 1 + n, 12)
    return date(d.year + y, m + 1, 1)


def period_start(d: date, grain: str) -> date:
    if grain == "month":
        return d.replace(day=1)
    if grain == "quarter":
        return date(d.year, 3 * ((d.month - 1) // 3) + 1, 1)
    return date(d.year, 1, 1)


def period_end(start: date, grain: str) -> date:
    return _add_months(start, {"month": 1, "quarter": 3, "year": 12}[grain])


# --------------------------------------------------------------------------------------------
# Roll-up and publish


def rollup_values(cur, ind: Indicator, months: list[date], dimension: str | None = None) -> None:
    """Fill temp table _iv_new (or, for a ``dimension``, _ivd_new) with the values of every
    period of every grain containing one of ``months``, for every town and the district, from
    the monthly atoms."""
    if not months:
        return
    target = sql.Literal(ind.target)
    cmp = sql.SQL(">=") if ind.direction == "higher" else sql.SQL("<=")
    value = (sql.SQL("n") if ind.denominator is None
             else sql.SQL("round(n / nullif(d, 0) * {}, 4)").format(sql.Literal(ind.scale)))
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
        if ind.rollup == "sum":
            # A population is a level, not a flow: a quarter's denominator is the population of
            # its last month (the period's year), not three months of it added up.
            den = (sql.SQL("(array_agg(denominator ORDER BY month_start DESC))[1]")
                   if ind.denominator is not None and ind.denominator.population else sql.SQL("sum(denominator)"))
            per_town = sql.SQL(
                """SELECT {p} AS period_start, {keys}town_code, sum(numerator) AS n, {den} AS d
                   FROM {base} {where} GROUP BY 1, {keys}town_code""").format(
                p=pstart, keys=keys, den=den, base=base, where=where)
        else:
            per_town = sql.SQL(
                """SELECT DISTINCT ON (1, {keys}town_code) {p} AS period_start, {keys}town_code,
                          numerator AS n, denominator AS d
                   FROM {base} {where}
                   ORDER BY 1, {keys}town_code, (numerator IS NOT NULL OR denominator IS NOT NULL) DESC,
                            month_start DESC""").format(p=pstart, keys=keys, base=base, where=where)
        levels = sql.SQL("SELECT period_start, {keys}town_code, n, d FROM pt").format(keys=keys)
        if "town" in ind.levels and "district" in ind.levels:
            levels += sql.SQL(" UNION ALL SELECT period_start, {keys}{district}::char(12), sum(n), sum(d) "
                              "FROM pt GROUP BY period_start{group}").format(
                keys=keys, district=sql.Literal(DISTRICT_CODE),
                group=sql.SQL("") if dimension is None else sql.SQL(", member"))
        cur.execute(sql.SQL(
            """WITH pt AS ({per_town}), lv AS ({levels}), v AS (SELECT *, {value} AS value FROM lv)
               INSERT INTO {out} ({out_cols}indicator_code, grain, period_start, town_code, numerator, denominator,
                                  value, unit, target, meets_target)
               SELECT {out_vals}%(code)s, %(grain)s, period_start, town_code, n, d, value, %(unit)s, {target},
                      CASE WHEN {target} IS NULL OR value IS NULL THEN NULL ELSE value {cmp} {target} END
               FROM v""").format(per_town=per_town, levels=levels, value=value, target=target, cmp=cmp, out=out,
                                 out_cols=out_cols, out_vals=out_vals),
            {"code": ind.code, "grain": grain, "lo": lo, "hi": hi, "periods": periods, "unit": ind.unit,
             "dim": dimension})


def publish(cur, refresh_id: int, reasons: dict[str, tuple[str, str, date | None]]) -> tuple[int, int]:
    """Merge _iv_new into mart.indicator_values; changed published values go to the revision
    history first. ``reasons``: indicator -> (kind, reason text, horizon). Kind 'data' means:
    a late correction if the period had ended before the earliest interval of the batches
    that changed it (the horizon); changes to a period still in progress (provisional values)
    are not recorded."""
    cur.execute("CREATE TEMP TABLE _reason (indicator_code text PRIMARY KEY, kind text, reason text, horizon date) "
                "ON COMMIT DROP")
    cur.executemany("INSERT INTO _reason VALUES (%s, %s, %s, %s)",
                    [(code, kind, text, horizon) for code, (kind, text, horizon) in reasons.items()])
    cur.execute(
        """INSERT INTO mart.indicator_value_revision
             (indicator_code, grain, period_start, town_code, old_numerator, old_denominator, old_value,
              new_numerator, new_denominator, new_value, published_at, revised_at, revision_kind, reason, refresh_id)
           SELECT o.indicator_code, o.grain, o.period_start, o.town_code, o.numerator, o.denominator, o.value,
                  n.numerator, n.denominator, n.value, o.computed_at, now(),
                  CASE WHEN r.kind <> 'data' THEN r.kind
                       WHEN (o.period_start + CASE o.grain WHEN 'month' THEN interval '1 month'
                             WHEN 'quarter' THEN interval '3 months' ELSE interval '1 year' END)::date <= r.horizon
                       THEN 'late_correction' ELSE 'period_in_progress' END,
                  r.reason, %s
           FROM mart.indicator_values o
           JOIN _iv_new n USING (indicator_code, grain, period_start, town_code)
           JOIN _reason r USING (indicator_code)
           WHERE (o.numerator, o.denominator, o.value) IS DISTINCT FROM (n.numerator, n.denominator, n.value)
             -- A period still in progress is provisional: its growth is not a revision.
             AND (r.kind <> 'data' OR (o.period_start + CASE o.grain WHEN 'month' THEN interval '1 month'
                  WHEN 'quarter' THEN interval '3 months' ELSE interval '1 year' END)::date <= r.horizon)""",
        (refresh_id,))
    revised = cur.rowcount
    cur.execute(
        """INSERT INTO mart.indicator_values AS o
             (indicator_code, grain, period_start, town_code, numerator, denominator, value, unit, target,
              meets_target, computed_at)
           SELECT indicator_code, grain, period_start, town_code, numerator, denominator, value, unit, target,
                  meets_target, now()
           FROM _iv_new
           ON CONFLICT (indicator_code, grain, period_start, town_code) DO UPDATE
             SET numerator = EXCLUDED.numerator, denominator = EXCLUDED.denominator, value = EXCLUDED.value,
                 unit = EXCLUDED.unit, target = EXCLUDED.target, meets_target = EXCLUDED.meets_target,
                 computed_at = EXCLUDED.computed_at
           WHERE (o.numerator, o.denominator, o.value, o.unit, o.target, o.meets_target)
                 IS DISTINCT FROM (EXCLUDED.numerator, EXCLUDED.denominator, EXCLUDED.value, EXCLUDED.unit,
                                   EXCLUDED.target, EXCLUDED.meets_target)""")
    written = cur.rowcount
    # Rows of recomputed periods that the new computation no longer produces.
    cur.execute(
        """DELETE FROM mart.indicator_values o
           USING (SELECT DISTINCT indicator_code, grain, period_start FROM _iv_new) p
           WHERE o.indicator_code = p.indicator_code AND o.grain = p.grain AND o.period_start = p.period_start
             AND NOT EXISTS (SELECT 1 FROM _iv_new n WHERE n.indicator_code = o.indicator_code
                             AND n.grain = o.grain AND n.period_start = o.period_start AND n.town_code = o.town_code)""")
    return written + cur.rowcount, revised


def publish_breakdowns(cur) -> int:
    """Merge _ivd_new into mart.indicator_values_by_dimension (changed rows only), dropping rows
    of recomputed periods that no longer exist (a member that disappeared from a month)."""
    cur.execute(
        """INSERT INTO mart.indicator_values_by_dimension AS o
             (indicator_code, dimension, member, grain, period_start, town_code, numerator, denominator, value,
              unit, target, meets_target, computed_at)
           SELECT indicator_code, dimension, member, grain, period_start, town_code, numerator, denominator, value,
                  unit, target, meets_target, now()
           FROM _ivd_new
           ON CONFLICT (indicator_code, dimension, member, grain, period_start, town_code) DO UPDATE
             SET numerator = EXCLUDED.numerator, denominator = EXCLUDED.denominator, value = EXCLUDED.value,
                 unit = EXCLUDED.unit, target = EXCLUDED.target, meets_target = EXCLUDED.meets_target,
                 computed_at = EXCLUDED.computed_at
           WHERE (o.numerator, o.denominator, o.value, o.unit, o.target, o.meets_target)
                 IS DISTINCT FROM (EXCLUDED.numerator, EXCLUDED.denominator, EXCLUDED.value, EXCLUDED.unit,
                                   EXCLUDED.target, EXCLUDED.meets_target)""")
    written = cur.rowcount
    cur.execute(
        """DELETE FROM mart.indicator_values_by_dimension o
           USING _ivd_periods p
           WHERE o.indicator_code = p.indicator_code AND o.dimension = p.dimension AND o.grain = p.grain
             AND o.period_start = p.period_start
             AND NOT EXISTS (SELECT 1 FROM _ivd_new n WHERE n.indicator_code = o.indicator_code
                             AND n.dimension = o.dimension AND n.member = o.member AND n.grain = o.grain
                             AND n.period_start = o.period_start AND n.town_code = o.town_code)""")
    return written + cur.rowcount


def breakdown_dimensions(ind: Indicator) -> list[str]:
    """The catalog's dimensions other than the town (which every value already has)."""
    return [d for d in ind.dimensions if d != "town_code"]


def _record_breakdown_periods(cur, ind: Indicator, dimension: str, months: list[date]) -> None:
    periods = {(g, period_start(m, g)) for g in ind.grains for m in months}
    cur.executemany("INSERT INTO _ivd_periods VALUES (%s, %s, %s, %s) ON CONFLICT DO NOTHING",
                    [(ind.code, dimension, g, p) for g, p in sorted(periods)])


def sync_catalog(cur, indicators: tuple[Indicator, ...]) -> dict[str, str | None]:
    """Upsert mart.indicator_catalog; drop indicators no longer in the catalog. Returns each
    indicator's previous spec hash (None if new)."""
    cur.execute("SELECT indicator_code, spec_hash FROM mart.indicator_catalog")
    previous = dict(cur.fetchall())
    for ind in indicators:
        den = ind.denominator
        cur.execute(
            """INSERT INTO mart.indicator_catalog (indicator_code, name_zh, name_en, area, policy_section, policy_clause,
                 unit, scale, direction, target, target_source, grains, levels, dimensions, numerator_sql,
                 denominator_sql, rollup, parameters, assumptions, spec_file, spec_hash, updated_at)
               VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, now())
               ON CONFLICT (indicator_code) DO UPDATE SET name_zh = EXCLUDED.name_zh, name_en = EXCLUDED.name_en,
                 area = EXCLUDED.area, policy_section = EXCLUDED.policy_section,
                 policy_clause = EXCLUDED.policy_clause, unit = EXCLUDED.unit, scale = EXCLUDED.scale,
                 direction = EXCLUDED.direction, target = EXCLUDED.target, target_source = EXCLUDED.target_source,
                 grains = EXCLUDED.grains, levels = EXCLUDED.levels, dimensions = EXCLUDED.dimensions,
                 numerator_sql = EXCLUDED.numerator_sql, denominator_sql = EXCLUDED.denominator_sql,
                 rollup = EXCLUDED.rollup, parameters = EXCLUDED.parameters, assumptions = EXCLUDED.assumptions,
                 spec_file = EXCLUDED.spec_file, spec_hash = EXCLUDED.spec_hash, updated_at = now()
               WHERE mart.indicator_catalog.spec_hash IS DISTINCT FROM EXCLUDED.spec_hash""",
            (ind.code, ind.name_zh, ind.name_en, ind.area, ind.section, ind.clause, ind.unit, ind.scale,
             ind.direction, ind.target, ind.target_source, list(ind.grains), list(ind.levels),
             list(ind.dimensions), describe(ind.numerator), describe(den) if den else None, ind.rollup,
             json.dumps(ind.parameters, ensure_ascii=False), list(ind.assumptions), ind.spec_file, ind.spec_hash))
    gone = set(previous) - {i.code for i in indicators}
    if gone:
        cur.execute("DELETE FROM mart.indicator_catalog WHERE indicator_code = ANY(%s)", (sorted(gone),))
    return {i.code: previous.get(i.code) for i in indicators}


def describe(m: Measure) -> str:
    if m.population:
        return "core.town_population.population (常住人口)"
    place = f"by month of {m.period}" if m.period else f"active at month end ({m.active[0]} .. {m.active[1]})"
    join = f" {m.join}" if m.join else ""
    return f"SELECT {m.value} FROM {m.table}{join} WHERE {m.where} -- {place}, per {m.town}"


def refresh(conn, *, full: bool = False, trigger: str | None = None,
            indicators: tuple[Indicator, ...] | None = None) -> dict[str, Any]:
    """Bring the marts up to date with core. Incremental unless ``full``. Caller commits."""
    indicators = indicators if indicators is not None else catalog()
    tables = spec_tables()
    keys = {t: k for t, k, *_ in tables.values()}
    _COLUMN_TYPES.clear()
    with conn.cursor() as cur:
        cur.execute("SELECT pg_advisory_xact_lock(%s)", (LOCK_KEY,))
        # Sorts and hashes over a month of a large table (distinct counts of a stock) stay in memory.
        cur.execute("SET LOCAL work_mem = '256MB'")
        cur.execute("INSERT INTO audit.indicator_refresh (mode, trigger) VALUES (%s, %s) RETURNING refresh_id",
                    ("full" if full else "incremental", trigger))
        refresh_id = cur.fetchone()[0]
        previous_hash = sync_catalog(cur, indicators)
        cur.execute("""SELECT b.batch_id, b.source, b.entity, b.interval_start FROM audit.batch b
                       LEFT JOIN audit.indicator_input i USING (batch_id)
                       WHERE b.status = 'loaded' AND i.batch_id IS NULL""")
        new = cur.fetchall()
        by_table: dict[str, list[tuple[str, Any]]] = {}
        for batch_id, source, entity, start in new:
            by_table.setdefault(tables.get((source, entity), ("?",))[0], []).append((batch_id, start))
        # Batches consumed before and merged again with changes since: recomputed by month.
        cur.execute("""SELECT r.batch_id, b.source, b.entity, b.interval_start FROM audit.indicator_recheck r
                       JOIN audit.batch b USING (batch_id)""")
        recheck = cur.fetchall()
        recheck_by_table: dict[str, list[tuple[str, Any]]] = {}
        for batch_id, source, entity, start in recheck:
            recheck_by_table.setdefault(tables.get((source, entity), ("?",))[0], []).append((batch_id, start))
        changes = Changes({t: [b for b, _ in bs] for t, bs in by_table.items()},
                          {t: (k, u) for t, k, u, _ in tables.values()},
                          {t: p for t, _, _, p in tables.values()})
        if not full:
            changes.materialise(cur)
        # Breakdown atoms from before they kept their record counts are recomputed once.
        cur.execute("SELECT DISTINCT indicator_code FROM mart.indicator_dimension_month_base WHERE records IS NULL")
        uncounted = {r[0] for r in cur.fetchall()}
        ref_tables = {t for i in indicators for t in i.references}
        checksums = _reference_checksums(cur, ref_tables)
        cur.execute("SELECT input, checksum FROM audit.indicator_reference_state")
        old_checksums = dict(cur.fetchall())
        changed_refs = {t for t, c in checksums.items() if old_checksums.get(t) != c}

        cur.execute("""CREATE TEMP TABLE _iv_new (LIKE mart.indicator_values INCLUDING INDEXES) ON COMMIT DROP""")
        cur.execute("ALTER TABLE _iv_new ALTER COLUMN computed_at DROP NOT NULL")
        cur.execute("CREATE TEMP TABLE _ivd_new (LIKE mart.indicator_values_by_dimension INCLUDING INDEXES) "
                    "ON COMMIT DROP")
        cur.execute("ALTER TABLE _ivd_new ALTER COLUMN computed_at DROP NOT NULL")
        cur.execute("""CREATE TEMP TABLE _ivd_periods (indicator_code text, dimension text, grain text,
                       period_start date, PRIMARY KEY (indicator_code, dimension, grain, period_start)) ON COMMIT DROP""")
        touched_log: dict[str, list[str]] = {}
        delta_log: dict[str, int] = {}
        reasons: dict[str, tuple[str, str, date | None]] = {}
        for ind in indicators:
            redefined = previous_hash.get(ind.code) not in (None, ind.spec_hash)
            all_months = full or previous_hash.get(ind.code) is None or redefined or bool(
                changed_refs & set(ind.references)) or ind.code in uncounted
            months: set[date] = set()           # recomputed whole
            delta: set[date] = set()            # maintained by the changed records' contributions
            horizon = None
            feeding: list[str] = []
            eligible = delta_eligible(ind)
            for m in ind.measures:
                if all_months:
                    months |= _touched_months(cur, m, keys.get(m.table), None)
                    continue
                batches = by_table.get(m.table, [])
                if m.active and batches and m.table in changes.tables:
                    touched = _stock_touched_months(cur, m, changes) | _months_up_to_horizon(cur, ind, m)
                else:
                    touched = _touched_months(cur, m, keys.get(m.table), [b for b, _ in batches])
                (delta if eligible else months).update(touched)
                again = recheck_by_table.get(m.table, [])
                months |= _touched_months(cur, m, keys.get(m.table), [b for b, _ in again])
                if batches or again:
                    feeding.append(f"{m.table}: {len(batches) + len(again)} batch(es)")
                    first = min(s for _, s in batches + again).astimezone(_tz()).date()
                    horizon = first if horizon is None else min(horizon, first)
            if delta:
                # A month without atoms yet (a new month) is computed whole.
                cur.execute("""SELECT DISTINCT month_start FROM mart.indicator_month_base
                               WHERE indicator_code = %s AND month_start = ANY(%s::date[])""",
                            (ind.code, sorted(delta)))
                existing = {r[0] for r in cur.fetchall()}
                months |= delta - existing
                delta = existing - months
            if all_months:
                cur.execute("SELECT DISTINCT month_start FROM mart.indicator_month_base WHERE indicator_code = %s",
                            (ind.code,))
                months |= {r[0] for r in cur.fetchall()}
                for m in ind.measures:
                    if m.active:      # no stock beyond its horizon (months an earlier refresh projected)
                        horizon = stock_horizon(cur, m)
                        months = {x for x in months if horizon is not None and x <= horizon}
                        _drop_after(cur, ind, horizon)
                # Breakdowns by a dimension the definition no longer declares go.
                for table in ("mart.indicator_dimension_month_base", "mart.indicator_values_by_dimension"):
                    cur.execute(sql.SQL("DELETE FROM {} WHERE indicator_code = %s AND dimension <> ALL(%s)").format(
                        _ident(table)), (ind.code, breakdown_dimensions(ind)))
            if not months and not delta:
                continue
            months_sorted = sorted(months | delta)
            compute_atoms(cur, ind, sorted(months))
            apply_delta(cur, ind, sorted(delta), changes)
            rollup_values(cur, ind, months_sorted)
            for dimension in breakdown_dimensions(ind):
                compute_atoms(cur, ind, sorted(months), dimension)
                apply_delta(cur, ind, sorted(delta), changes, dimension)
                rollup_values(cur, ind, months_sorted, dimension)
                _record_breakdown_periods(cur, ind, dimension, months_sorted)
            touched_log[ind.code] = [m.isoformat()[:7] for m in months_sorted]
            delta_log[ind.code] = len(delta)
            if redefined:
                reasons[ind.code] = ("definition_change", f"definition changed ({ind.spec_file} {ind.spec_hash})", None)
            elif all_months and not full and previous_hash.get(ind.code) is not None:
                reasons[ind.code] = ("late_correction",
                                     "reference data changed: " + ", ".join(sorted(changed_refs & set(ind.references))),
                                     None)
            else:
                reasons[ind.code] = ("data", (f"refresh {refresh_id}: " + "; ".join(feeding)) if feeding
                                     else f"full refresh {refresh_id}", horizon or date.max)
        cur.execute("ANALYZE _iv_new")
        cur.execute("ANALYZE _ivd_new")
        cur.execute("ANALYZE _ivd_periods")
        written, revised = publish(cur, refresh_id, reasons)
        written_breakdowns = publish_breakdowns(cur)
        for t, c in checksums.items():
            cur.execute("""INSERT INTO audit.indicator_reference_state (input, checksum) VALUES (%s, %s)
                           ON CONFLICT (input) DO UPDATE SET checksum = EXCLUDED.checksum""", (t, c))
        if new:
            cur.execute("INSERT INTO audit.indicator_input (batch_id, refresh_id) SELECT unnest(%s::text[]), %s",
                        ([b for b, *_ in new], refresh_id))
        if recheck:
            cur.execute("DELETE FROM audit.indicator_recheck WHERE batch_id = ANY(%s)", ([b for b, *_ in recheck],))
        cur.execute("""UPDATE audit.indicator_refresh SET finished_at = clock_timestamp(), new_batches = %s,
                         touched = %s, rows_written = %s, rows_revised = %s WHERE refresh_id = %s""",
                    (len(new), json.dumps(touched_log), written, revised, refresh_id))
    log.info("indicator refresh %d (%s): %d new batches, %d indicators recomputed, %d rows written, %d revised",
             refresh_id, "full" if full else "incremental", len(new), len(touched_log), written, revised)
    return {"refresh_id": refresh_id, "new_batches": len(new), "indicators": len(touched_log),
            "months": sum(len(v) for v in touched_log.values()), "delta_months": sum(delta_log.values()),
            "rows_written": written, "rows_revised": revised,
            "breakdown_rows_written": written_breakdowns}


def _tz():
    from zoneinfo import ZoneInfo

    return ZoneInfo(TZ)


def latest_district_values(conn, as_of: date | None = None) -> list[dict[str, Any]]:
    """The latest district-level monthly value of every indicator (up to ``as_of``), with the target."""
    with conn.cursor() as cur:
        cur.execute(
            """SELECT c.indicator_code, c.name_zh, l.period_start, l.value, c.unit, c.target, c.direction,
                      l.meets_target
               FROM mart.indicator_catalog c
               LEFT JOIN LATERAL (
                   SELECT period_start, value, meets_target FROM mart.indicator_values v
                   WHERE v.indicator_code = c.indicator_code AND v.town_code = %s AND v.grain = 'month'
                     AND (v.value IS NOT NULL OR v.numerator IS NOT NULL) AND v.period_start <= %s
                   ORDER BY period_start DESC LIMIT 1) l ON true
               ORDER BY c.area, c.indicator_code""", (DISTRICT_CODE, as_of or date.max))
        cols = [d[0] for d in cur.description]
        return [dict(zip(cols, r)) for r in cur.fetchall()]


# --------------------------------------------------------------------------------------------
# Documentation for analysts (docs/indicators.md is generated; a test keeps it current)

DOCS_PATH = paths.DOCS_DIR / "indicators.md"


def render_docs(indicators: tuple[Indicator, ...] | None = None) -> str:
    indicators = indicators if indicators is not None else catalog()
    lines = ["# 指标目录 (Indicator catalog)", "",
             "Generated from `indicators/*.yaml` by `python -m yhlaw indicators --docs`; do not edit by hand.",
             "Values are in `mart.indicator_values` (one row per indicator x grain x period x 镇街, the district is",
             "`330110000000`); the latest values with targets and changes are in `mart.indicator_latest`;",
             "changed published values are kept in `mart.indicator_value_revision`. Breakdowns by each",
             "indicator's other dimensions are in `mart.indicator_values_by_dimension` (a rate within the",
             "member where the denominator is over the same table, else a share of the town's total).", "",
             "How to read a value: value = numerator / denominator x scale, NULL where the denominator is 0.",
             "Quarters, years and the district add up numerators and denominators (never average rates);",
             "`snapshot` indicators take the last month of the period that has data.", "",
             "| code | 指标 | area | unit | direction | target |", "|---|---|---|---|---|---|"]
    for i in indicators:
        target = "—" if i.target is None else f"{i.target:g} {i.unit}"
        lines.append(f"| [`{i.code}`](#{i.code}) | {i.name_zh} | {i.area} | {i.unit} | {i.direction} | {target} |")
    for area in dict.fromkeys(i.area for i in indicators):
        lines += ["", f"## {area}"]
        for i in (x for x in indicators if x.area == area):
            lines += ["", f"### {i.code}", "", f"**{i.name_zh}** — {i.name_en}", "",
                      f"- Policy: {i.section} — “{i.clause}”",
                      f"- Unit: {i.unit} (scale {i.scale:g}); {i.direction} is better",
                      f"- Target: {'none stated' if i.target is None else f'{i.target:g}'} — {i.target_source}",
                      f"- Grains: {', '.join(i.grains)}; levels: {', '.join(i.levels)}; rollup: {i.rollup}",
                      f"- Dimensions: {', '.join(i.dimensions)} (breakdowns in `mart.indicator_values_by_dimension`)",
                      f"- Numerator: `{describe(i.numerator)}`",
                      f"- Denominator: `{describe(i.denominator)}`" if i.denominator else
                      "- Denominator: none (a count; value = numerator)"]
            if i.parameters:
                lines.append("- Parameters: " + ", ".join(f"`{k}` = {json.dumps(v, ensure_ascii=False)}"
                                                        for k, v in i.parameters.items()))
            lines += ["- Assumptions:"] + [f"  - {a}" for a in i.assumptions]
            lines.append(f"- Definition: `indicators/{i.spec_file}`")
    return "\n".join(lines) + "\n"


def write_docs() -> Path:
    DOCS_PATH.write_text(render_docs(), encoding="utf-8")
    return DOCS_PATH
