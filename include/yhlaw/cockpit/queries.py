"""Every query the cockpit's pages run, all against schema mart (the role dashboard can read
nothing else). Each returns plain dicts; no page builds SQL of its own."""

from __future__ import annotations

from datetime import date

from yhlaw.cockpit.db import Mart
from yhlaw.cockpit.periods import previous, year_before
from yhlaw.reference import DISTRICT_CODE

def towns(mart: Mart) -> list[dict]:
    return mart.rows("""SELECT town_code, town_name, town_kind FROM mart.dim_town
                        WHERE in_district AND town_kind IN ('街道', '镇') ORDER BY town_kind DESC, town_code""")


def catalog(mart: Mart) -> list[dict]:
    return mart.rows("SELECT * FROM mart.indicator_catalog ORDER BY area, indicator_code")


def periods(mart: Mart, grain: str) -> list[date]:
    """Periods with a district value that have begun by the latest loaded interval (a stock's
    months ahead of the loaded data are not offered)."""
    rows = mart.rows("""SELECT DISTINCT period_start FROM mart.indicator_values
                        WHERE grain = %(grain)s AND town_code = %(district)s AND value IS NOT NULL
                          AND period_start < (SELECT max(last_loaded_interval_end) FROM mart.source_freshness)::date
                        ORDER BY period_start DESC""", {"grain": grain, "district": DISTRICT_CODE})
    return [r["period_start"] for r in rows]


def overview(mart: Mart, grain: str, start: date, town: str = DISTRICT_CODE) -> list[dict]:
    """Every indicator with the grain: its value for the period and town, the period before and
    the same period a year before."""
    return mart.rows("""
        SELECT c.indicator_code, c.name_zh, c.area, c.policy_section, c.unit, c.direction, c.target,
               c.target_source, c.assumptions, v.value, v.numerator, v.denominator, v.meets_target, v.computed_at,
               p.value AS previous_value, y.value AS last_year_value
        FROM mart.indicator_catalog c
        LEFT JOIN mart.indicator_values v ON v.indicator_code = c.indicator_code AND v.grain = %(grain)s
             AND v.period_start = %(start)s AND v.town_code = %(town)s
        LEFT JOIN mart.indicator_values p ON p.indicator_code = c.indicator_code AND p.grain = %(grain)s
             AND p.period_start = %(prev)s AND p.town_code = %(town)s
        LEFT JOIN mart.indicator_values y ON y.indicator_code = c.indicator_code AND y.grain = %(grain)s
             AND y.period_start = %(ly)s AND y.town_code = %(town)s
        WHERE %(grain)s = ANY (c.grains) AND (%(town)s = %(district)s OR 'town' = ANY (c.levels))
        ORDER BY c.area, c.indicator_code""",
        {"grain": grain, "start": start, "prev": previous(start, grain), "ly": year_before(start),
         "town": town, "district": DISTRICT_CODE})


def ranking(mart: Mart, code: str, grain: str, start: date) -> list[dict]:
    return mart.rows("""SELECT town_code, town_name, peer_group, value, unit, meets_target,
                               rank_all, ranked_all, rank_in_group, ranked_in_group
                        FROM mart.indicator_ranking
                        WHERE indicator_code = %(code)s AND grain = %(grain)s AND period_start = %(start)s
                        ORDER BY rank_all NULLS LAST, town_code""", {"code": code, "grain": grain, "start": start})


def trend(mart: Mart, code: str, town: str) -> list[dict]:
    return mart.rows("""SELECT grain, period_start, value, numerator, denominator, meets_target, target FROM mart.indicator_values
                         WHERE indicator_code = %(code)s AND town_code = %(town)s
                         ORDER BY grain, period_start""", {"code": code, "town": town})


def breakdowns(mart: Mart, code: str, grain: str, start: date, town: str) -> list[dict]:
    """Values by each declared dimension; a department is shown by its name."""
    return mart.rows("""SELECT dimension, coalesce(d.dept_name, member) AS member, member AS member_code,
                                value, numerator, denominator, meets_target
                         FROM mart.indicator_values_by_dimension b
                         LEFT JOIN mart.dim_department d ON b.dimension = 'dept_code' AND d.dept_code = b.member
                         WHERE indicator_code = %(code)s AND grain = %(grain)s AND period_start = %(start)s
                           AND town_code = %(town)s AND dimension <> 'town_code'
                         ORDER BY dimension, denominator DESC NULLS LAST, numerator DESC NULLS LAST, member""",
                     {"code": code, "grain": grain, "start": start, "town": town})


def revisions(mart: Mart, code: str, town: str, limit: int = 50) -> list[dict]:
    return mart.rows("""SELECT grain, period_start, old_value, new_value, revision_kind, reason, published_at, revised_at
                        FROM mart.indicator_value_revision
                        WHERE indicator_code = %(code)s AND town_code = %(town)s AND revision_kind <> 'period_in_progress'
                        ORDER BY revised_at DESC, grain, period_start LIMIT %(limit)s""",
                     {"code": code, "town": town, "limit": limit})


def period_status(mart: Mart) -> list[dict]:
    return mart.rows("SELECT indicator_code, grain, period_start, completeness FROM mart.indicator_period_status")


def freshness(mart: Mart) -> list[dict]:
    return mart.rows("SELECT * FROM mart.source_freshness ORDER BY source, entity")


def quarantine_summary(mart: Mart) -> list[dict]:
    return mart.rows("""SELECT q.source, q.entity, q.reason, q.town_code, t.town_name, count(*) AS records,
                               max(q.quarantined_at) AS latest
                        FROM mart.quarantine_by_town q LEFT JOIN mart.dim_town t USING (town_code)
                        GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, records DESC, 3, 4""")


def stale_rows(mart: Mart) -> list[dict]:
    return mart.rows("SELECT * FROM mart.stale_by_entity WHERE stale_rows > 0 ORDER BY source, entity")


def reports(mart: Mart) -> list[dict]:
    return mart.rows("""SELECT DISTINCT ON (month_start) month_start, rendered_at, pdf_pages, indicators, provisional
                        FROM mart.monthly_report ORDER BY month_start DESC, rendered_at DESC""")


def report_files(mart: Mart, month: date) -> dict | None:
    return mart.one("""SELECT html_path, pdf_path FROM mart.monthly_report WHERE month_start = %(m)s
                       ORDER BY rendered_at DESC LIMIT 1""", {"m": month})


def indicator(mart: Mart, code: str) -> dict | None:
    return mart.one("SELECT * FROM mart.indicator_catalog WHERE indicator_code = %(code)s", {"code": code})


def ytd(mart: Mart, code: str, town: str) -> list[dict]:
    return mart.rows("""SELECT month_start, value, numerator, denominator, meets_target, target FROM mart.indicator_values_ytd
                         WHERE indicator_code = %(code)s AND town_code = %(town)s ORDER BY month_start""",
                     {"code": code, "town": town})


def ytd_at(mart: Mart, month: date, town: str = DISTRICT_CODE) -> dict[str, dict]:
    """Every indicator's 年度累计 up to a month: code -> row."""
    rows = mart.rows("""SELECT indicator_code, value, numerator, denominator, meets_target FROM mart.indicator_values_ytd
                         WHERE month_start = %(m)s AND town_code = %(town)s""", {"m": month, "town": town})
    return {r["indicator_code"]: r for r in rows}


def ranking_all(mart: Mart, grain: str, start: date) -> list[dict]:
    """Every indicator's ranking of the 镇街 for a period (the 通报's ranking table)."""
    return mart.rows("""SELECT indicator_code, town_code, town_name, peer_group, value, unit, meets_target,
                               rank_all, ranked_all FROM mart.indicator_ranking
                        WHERE grain = %(grain)s AND period_start = %(start)s
                        ORDER BY indicator_code, rank_all NULLS LAST, town_code""", {"grain": grain, "start": start})


def quarantined_between(mart: Mart, lo: date, hi: date) -> list[dict]:
    """Quarantined records of the batches whose interval starts in [lo, hi) (local dates), per
    source, entity and reason."""
    return mart.rows("""SELECT source, entity, reason, count(*) AS records,
                               count(*) FILTER (WHERE town_code IS NULL) AS town_unknown
                        FROM mart.quarantine_by_town
                        WHERE interval_start >= %(lo)s::date AND interval_start < %(hi)s::date
                        GROUP BY 1, 2, 3 ORDER BY 1, 2, records DESC, 3""", {"lo": lo, "hi": hi})
