"""Periods as the cockpit shows them: labels, the period before and a year before, and the
completeness marks of the values (computed by the indicator refresh into
``mart.indicator_period_status``: see ``yhlaw.indicators.completeness``)."""

from __future__ import annotations

from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from yhlaw.indicators.months import add_months
from yhlaw.zone import DISTRICT_TZ

GRAINS = ("month", "quarter", "year")
GRAIN_LABELS = {"month": "月度", "quarter": "季度", "year": "年度"}
COMPLETENESS_LABELS = {"final": "终值", "settling": "观察期内", "provisional": "初步数", "partial": "不完整", "future": "未到期",
                       "nodata": "无数据"}
PUBLISHED = ("final", "settling", "provisional")        # what mart.indicator_values_published holds
_ORDER = ("nodata", "partial", "future", "provisional", "settling", "final")   # least complete first
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


def least_complete(marks) -> str:
    """The least complete of several marks (a span is as complete as its least complete part)."""
    return min(marks, key=_ORDER.index, default="nodata")
