"""Publishing: the catalog into ``mart.indicator_catalog``, the rolled-up values (temp tables
``_iv_new``, ``_ivd_new``) into ``mart.indicator_values`` and ``mart.indicator_values_by_dimension``
with revisions of changed published values, and reading the latest published values back."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

from yhlaw.reference import DISTRICT_CODE
from yhlaw.indicators.definitions import Indicator, describe, source_entities
from yhlaw.indicators.months import period_start


def create_staging_tables(cur) -> None:
    """The temp tables a refresh rolls values up into and publishes from."""
    cur.execute("""CREATE TEMP TABLE _iv_new (LIKE mart.indicator_values INCLUDING INDEXES) ON COMMIT DROP""")
    cur.execute("ALTER TABLE _iv_new ALTER COLUMN computed_at DROP NOT NULL")
    cur.execute("CREATE TEMP TABLE _ivd_new (LIKE mart.indicator_values_by_dimension INCLUDING INDEXES) "
                "ON COMMIT DROP")
    cur.execute("ALTER TABLE _ivd_new ALTER COLUMN computed_at DROP NOT NULL")
    cur.execute("""CREATE TEMP TABLE _ivd_periods (indicator_code text, dimension text, grain text,
                   period_start date, PRIMARY KEY (indicator_code, dimension, grain, period_start)) ON COMMIT DROP""")


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
                 denominator_sql, rollup, parameters, assumptions, spec_file, spec_hash, caliber, target_trend,
                 lookback_months, updated_at)
               VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s,
                       %s, now())
               ON CONFLICT (indicator_code) DO UPDATE SET name_zh = EXCLUDED.name_zh, name_en = EXCLUDED.name_en,
                 area = EXCLUDED.area, policy_section = EXCLUDED.policy_section,
                 policy_clause = EXCLUDED.policy_clause, unit = EXCLUDED.unit, scale = EXCLUDED.scale,
                 direction = EXCLUDED.direction, target = EXCLUDED.target, target_source = EXCLUDED.target_source,
                 grains = EXCLUDED.grains, levels = EXCLUDED.levels, dimensions = EXCLUDED.dimensions,
                 numerator_sql = EXCLUDED.numerator_sql, denominator_sql = EXCLUDED.denominator_sql,
                 rollup = EXCLUDED.rollup, parameters = EXCLUDED.parameters, assumptions = EXCLUDED.assumptions,
                 spec_file = EXCLUDED.spec_file, spec_hash = EXCLUDED.spec_hash, caliber = EXCLUDED.caliber,
                 target_trend = EXCLUDED.target_trend, lookback_months = EXCLUDED.lookback_months,
                 updated_at = now()
               WHERE mart.indicator_catalog.spec_hash IS DISTINCT FROM EXCLUDED.spec_hash""",
            (ind.code, ind.name_zh, ind.name_en, ind.area, ind.section, ind.clause, ind.unit, ind.scale,
             ind.direction, ind.target, ind.target_source, list(ind.grains), list(ind.levels),
             list(ind.dimensions), describe(ind.numerator), describe(den) if den else None, ind.rollup,
             json.dumps(ind.parameters, ensure_ascii=False), list(ind.assumptions), ind.spec_file, ind.spec_hash,
             json.dumps(ind.caliber, ensure_ascii=False), ind.target_trend, ind.lookback_months))
    gone = set(previous) - {i.code for i in indicators}
    if gone:
        cur.execute("DELETE FROM mart.indicator_catalog WHERE indicator_code = ANY(%s)", (sorted(gone),))
    _sync_sources(cur, indicators)
    return {i.code: previous.get(i.code) for i in indicators}


def _sync_sources(cur, indicators: tuple[Indicator, ...]) -> None:
    """mart.source_entity from the specs and mart.indicator_source from the measures' tables
    (the reference tables, such as the population, are not sources)."""
    entities = source_entities()
    cur.execute("DELETE FROM mart.indicator_source")
    cur.execute("DELETE FROM mart.source_entity WHERE source || '/' || entity <> ALL(%s)",
                ([f"{s}/{e}" for s, e, _, _ in entities],))
    cur.executemany("""INSERT INTO mart.source_entity (source, entity, core_table, reads) VALUES (%s, %s, %s, %s)
                       ON CONFLICT (source, entity) DO UPDATE SET core_table = EXCLUDED.core_table,
                         reads = EXCLUDED.reads""", entities)
    by_table = {table: (s, e) for s, e, table, _ in entities}
    rows = {(i.code, *by_table[t]) for i in indicators
            for t in (*(m.table for m in i.measures), *i.references, *(d.table for d in i.depends_on)) if t in by_table}
    cur.executemany("INSERT INTO mart.indicator_source (indicator_code, source, entity) VALUES (%s, %s, %s)",
                    sorted(rows))


def assess_trends(cur) -> int:
    """meets_target of the indicators whose target is a trend (稳步下降): better than the same
    period a year earlier, where both values exist, neither period is partial and the earlier
    one is final; NULL (不可比) otherwise. Recomputed over every value of those indicators, so
    a full and an incremental refresh agree. Returns the rows changed."""
    cur.execute(
        """WITH assessed AS (
               SELECT v.indicator_code, v.grain, v.period_start, v.town_code,
                      CASE WHEN v.value IS NULL OR y.value IS NULL OR yc.completeness IS DISTINCT FROM 'final'
                                OR vc.completeness NOT IN ('final', 'settling', 'provisional') THEN NULL
                           WHEN c.target_trend = 'down' THEN v.value < y.value
                           ELSE v.value > y.value END AS meets
               FROM mart.indicator_values v
               JOIN mart.indicator_catalog c USING (indicator_code)
               LEFT JOIN mart.indicator_values y
                      ON y.indicator_code = v.indicator_code AND y.grain = v.grain AND y.town_code = v.town_code
                     AND y.period_start = (v.period_start - interval '1 year')::date
               LEFT JOIN mart.indicator_period_status vc
                      ON vc.indicator_code = v.indicator_code AND vc.grain = v.grain
                     AND vc.period_start = v.period_start
               LEFT JOIN mart.indicator_period_status yc
                      ON yc.indicator_code = y.indicator_code AND yc.grain = y.grain
                     AND yc.period_start = y.period_start
               WHERE c.target_trend IS NOT NULL)
           UPDATE mart.indicator_values v SET meets_target = a.meets
           FROM assessed a
           WHERE v.indicator_code = a.indicator_code AND v.grain = a.grain AND v.period_start = a.period_start
             AND v.town_code = a.town_code AND v.meets_target IS DISTINCT FROM a.meets""")
    return cur.rowcount


def record_breakdown_periods(cur, ind: Indicator, dimension: str, months: list[date]) -> None:
    periods = {(g, period_start(m, g)) for g in ind.grains for m in months}
    cur.executemany("INSERT INTO _ivd_periods VALUES (%s, %s, %s, %s) ON CONFLICT DO NOTHING",
                    [(ind.code, dimension, g, p) for g, p in sorted(periods)])


def publish(cur, refresh_id: int, reasons: dict[str, tuple[str, str, date | None]]) -> tuple[int, int]:
    """Merge _iv_new into mart.indicator_values; changed published values go to the revision
    history first. ``reasons``: indicator -> (kind, reason text, horizon). Kind 'data' means:
    a late correction if the period had ended before the earliest interval of the batches
    that changed it (the horizon) and its observation window (lookback_months); changes to a
    period still in progress or settling are not recorded."""
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
                             WHEN 'quarter' THEN interval '3 months' ELSE interval '1 year' END
                             + make_interval(months => c.lookback_months))::date <= r.horizon
                       THEN 'late_correction' ELSE 'period_in_progress' END,
                  r.reason, %s
           FROM mart.indicator_values o
           JOIN _iv_new n USING (indicator_code, grain, period_start, town_code)
           JOIN _reason r USING (indicator_code)
           JOIN mart.indicator_catalog c USING (indicator_code)
           WHERE (o.numerator, o.denominator, o.value) IS DISTINCT FROM (n.numerator, n.denominator, n.value)
             -- A period still in progress (provisional) or in its observation window (settling,
             -- lookback_months) is expected to change: that is not a revision.
             AND (r.kind <> 'data' OR (o.period_start + CASE o.grain WHEN 'month' THEN interval '1 month'
                  WHEN 'quarter' THEN interval '3 months' ELSE interval '1 year' END
                  + make_interval(months => c.lookback_months))::date <= r.horizon)""",
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
