"""Periods as the cockpit shows them: labels, the period before and a year before, and how
complete a period's values are given what the sources have loaded.

Completeness (per indicator, from the entities its numerator and denominator read):
* ``partial``: the period starts before the unbroken run of loaded intervals of one of those
  entities (``mart.source_freshness.contiguous_from``: never loaded, or a skipped interval
  since), so it holds only the records that changed later (a value for it is not comparable);
* ``provisional``: some entity has not yet loaded up to the period's end (初步数, may still grow);
* ``final``: every entity has loaded the whole period (later corrections still revise it, and the
  revision is recorded in ``mart.indicator_value_revision``).
"""

from __future__ import annotations

from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from yhlaw.indicators.months import add_months, period_end
from yhlaw.zone import DISTRICT_TZ

GRAINS = ("month", "quarter", "year")
GRAIN_LABELS = {"month": "月度", "quarter": "季度", "year": "年度"}
COMPLETENESS_LABELS = {"final": "终值", "provisional": "初步数", "partial": "不完整", "nodata": "无数据"}
_STEP = {"month": 1, "quarter": 3, "year": 12}


def label(grain: str, start: date) -> str:
    if grain == "month":
        return f"{start.year}年{start.month}月"
    if grain == "quarter":
        return f"{start.year}年第{(start.month - 1) // 3 + 1}季度"
    return f"{start.year}年"


def shift(start: date, grain: str, periods: int) -> date:
    return add_months(start, _STEP[grain] * periods)


def previous(start: date, grain: str) -> date:
    return shift(start, grain, -1)


def year_before(start: date) -> date:
    return date(start.year - 1, start.month, 1)


def local_midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), ZoneInfo(DISTRICT_TZ))


def completeness(grain: str, start: date, coverage: list[tuple[datetime | None, datetime | None]]) -> str:
    """``coverage``: (start of the unbroken run of loaded intervals, last loaded interval end) of
    every entity the indicator reads."""
    return span_completeness(start, period_end(start, grain), coverage)


def span_completeness(begin: date, end: date, coverage: list[tuple[datetime | None, datetime | None]]) -> str:
    """Completeness of the days [begin, end) (e.g. 年度累计: 1 January to a month's end)."""
    if not coverage or any(first is None for first, _ in coverage):
        return "nodata"
    if local_midnight(begin) < max(first for first, _ in coverage):
        return "partial"
    if local_midnight(end) > min(last for _, last in coverage):
        return "provisional"
    return "final"


def ytd_completeness(start: date, grain: str, coverage: list[tuple[datetime | None, datetime | None]]) -> str:
    """Completeness of 年度累计 up to the end of the period: 1 January to that end."""
    return span_completeness(date(start.year, 1, 1), shift(start, grain, 1), coverage)
