"""How complete each value is (``mart.indicator_period_status``), from what the entities an
indicator reads (``mart.indicator_source``) have loaded (``audit.batch``), written by every refresh
for every period in ``mart.indicator_values``:

* ``nodata``: an entity never loaded;
* ``partial``: the period starts before a window-read entity's first loaded interval, or a gap
  in its loaded intervals falls inside the period: it holds only the records that changed later
  (a snapshot entity, a ledger read whole each time, has no such limit);
* ``future``: the period starts after what an entity has loaded (e.g. a ledger row dated after
  the run's clock);
* ``provisional``: an entity has not loaded to the period's end (初步数, will still grow);
* ``settling``: every entity has loaded the period, not yet the months after it in which a record
  can still change it (``lookback_months``: a repeat petition within 90 days) (观察期内: published,
  may still fall; a change in that window is not a revision);
* ``final``: every entity has loaded the whole period and its observation window; ``final_since``
  is the refresh that first found it so (later corrections revise it, recorded in
  ``mart.indicator_value_revision``).

Published (``mart.indicator_values_published``) = final, settling or provisional.
"""

from __future__ import annotations

from yhlaw.zone import DISTRICT_TZ

_STATUS_SQL = """
WITH loaded AS MATERIALIZED (
    SELECT source, entity, min(interval_start) AS first_loaded, max(interval_end) AS loaded_to
    FROM audit.batch WHERE status = 'loaded' GROUP BY source, entity
), gaps AS MATERIALIZED (
    SELECT source, entity, gap_start, gap_end FROM mart.source_gap
), periods AS MATERIALIZED (
    SELECT v.indicator_code, v.grain, v.period_start,
           (v.period_start::timestamp AT TIME ZONE %(tz)s) AS starts,
           ((v.period_start + CASE v.grain WHEN 'month' THEN interval '1 month'
                                           WHEN 'quarter' THEN interval '3 months' ELSE interval '1 year' END
            )::timestamp AT TIME ZONE %(tz)s) AS ends,
           -- final once loaded past the end and the months after it a record can still change it
           ((v.period_start + CASE v.grain WHEN 'month' THEN interval '1 month'
                                           WHEN 'quarter' THEN interval '3 months' ELSE interval '1 year' END
             + make_interval(months => c.lookback_months))::timestamp AT TIME ZONE %(tz)s) AS settles
    FROM (SELECT DISTINCT indicator_code, grain, period_start FROM mart.indicator_values) v
    JOIN mart.indicator_catalog c USING (indicator_code)
), per_entity AS (
    SELECT p.indicator_code, p.grain, p.period_start, s.source || '/' || s.entity AS name,
           l.first_loaded IS NULL AS never_loaded,
           se.reads = 'window' AND (l.first_loaded > p.starts OR EXISTS (
               SELECT 1 FROM gaps g WHERE g.source = s.source AND g.entity = s.entity
                                      AND g.gap_start < p.ends AND g.gap_end > p.starts)) AS partial,
           l.loaded_to <= p.starts AS future,
           l.loaded_to < p.ends AS short,
           l.loaded_to < p.settles AS settling,
           l.loaded_to
    FROM periods p
    JOIN mart.indicator_source s USING (indicator_code)
    JOIN mart.source_entity se USING (source, entity)
    LEFT JOIN loaded l USING (source, entity)
), status AS (
    SELECT indicator_code, grain, period_start,
           CASE WHEN bool_or(never_loaded) THEN 'nodata' WHEN bool_or(partial) THEN 'partial'
                WHEN bool_or(future) THEN 'future' WHEN bool_or(short) THEN 'provisional'
                WHEN bool_or(settling) THEN 'settling' ELSE 'final' END AS completeness,
           CASE WHEN bool_or(never_loaded OR partial OR future OR settling) THEN min(loaded_to) END AS loaded_to,
           array_agg(name ORDER BY name) FILTER (WHERE never_loaded OR partial OR settling) AS incomplete_entities
    FROM per_entity
    GROUP BY indicator_code, grain, period_start
)
INSERT INTO mart.indicator_period_status AS o
    (indicator_code, grain, period_start, completeness, final_since, loaded_to, incomplete_entities)
SELECT indicator_code, grain, period_start, completeness,
       CASE WHEN completeness = 'final' THEN now() END, loaded_to, incomplete_entities
FROM status
ON CONFLICT (indicator_code, grain, period_start) DO UPDATE
    SET completeness = EXCLUDED.completeness, loaded_to = EXCLUDED.loaded_to,
        incomplete_entities = EXCLUDED.incomplete_entities, checked_at = now(),
        final_since = CASE WHEN EXCLUDED.completeness <> 'final' THEN NULL
                           ELSE coalesce(o.final_since, EXCLUDED.final_since) END
    WHERE (o.completeness, o.loaded_to, o.incomplete_entities)
          IS DISTINCT FROM (EXCLUDED.completeness, EXCLUDED.loaded_to, EXCLUDED.incomplete_entities)
"""


def record_completeness(cur) -> int:
    """Bring ``mart.indicator_period_status`` up to date with what has loaded; drop the periods
    no longer in ``mart.indicator_values``. Returns the rows changed."""
    cur.execute(_STATUS_SQL, {"tz": DISTRICT_TZ})
    changed = cur.rowcount
    cur.execute("""DELETE FROM mart.indicator_period_status s
                   WHERE NOT EXISTS (SELECT 1 FROM mart.indicator_values v WHERE v.indicator_code = s.indicator_code
                                       AND v.grain = s.grain AND v.period_start = s.period_start)""")
    return changed + cur.rowcount
