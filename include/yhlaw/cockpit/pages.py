"""What each page shows, built from the queries' rows: statuses, changes, completeness marks and
the chart data. Pure functions of their inputs (the tests call them without a server)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from functools import lru_cache

from yhlaw.cockpit import periods, status
from yhlaw.reasons import registry
from yhlaw.spec import load_spec, source_names

# The 12 镇街 as tiles on a grid, roughly where they lie (north-west 百丈 to south-east 五常).
TILE_POSITIONS = {"百丈镇": (0, 0), "鸬鸟镇": (1, 0), "径山镇": (2, 0), "黄湖镇": (0, 1), "瓶窑镇": (2, 1),
                  "良渚街道": (3, 1), "仁和街道": (4, 0), "仓前街道": (3, 2), "中泰街道": (1, 3),
                  "余杭街道": (2, 3), "闲林街道": (3, 3), "五常街道": (4, 3)}


def _float(x):
    return None if x is None else float(x)


Cover = dict[tuple[str, str, date], str]   # (indicator, grain, period start) -> completeness


def coverage(status_rows: list[dict]) -> Cover:
    """How complete each period of each indicator is, as the marts say
    (``mart.indicator_period_status``, written by every refresh)."""
    return {(r["indicator_code"], r["grain"], r["period_start"]): r["completeness"] for r in status_rows}


def completeness(code: str, grain: str, start: date, cover: Cover) -> str:
    return cover.get((code, grain, start), "nodata")


def ytd_completeness(code: str, grain: str, start: date, cover: Cover) -> str:
    """年度累计 to the end of the period: the least complete month from January on (months without
    a value of the indicator have nothing to be complete about)."""
    end = periods.shift(start, grain, 1)
    months = [s for (c, g, s) in cover if c == code and g == "month" and s.year == start.year and s < end]
    return periods.least_complete(cover[(code, "month", m)] for m in months) if months else "nodata"


def card(row: dict, grain: str, start: date, cover: Cover) -> dict:
    """One indicator of the overview: value, status, changes on last period and last year (none
    against a period that is 不完整: it holds only the records that changed after it)."""
    code, value, unit, direction = row["indicator_code"], row["value"], row["unit"], row["direction"]
    prev = _comparable(row["previous_value"], code, grain, periods.previous(start, grain), cover)
    ly = _comparable(row["last_year_value"], code, grain, periods.year_before(start), cover)
    change = None if value is None or prev is None else Decimal(value) - Decimal(prev)
    yoy = None if value is None or ly is None else Decimal(value) - Decimal(ly)
    state = status.status(value, row["target"], row["meets_target"], direction, prev)
    done = completeness(code, grain, start, cover)
    ytd_done = ytd_completeness(code, grain, start, cover)
    return {**row, "status": state, "status_label": status.STATUS_LABELS[state],
            "value_text": status.fmt(value, unit), "target_text": _target_text(row),
            "change": _float(change), "change_text": _change_text(change, unit, row["previous_value"], prev),
            "change_dir": status.change_direction(change, direction),
            "yoy": _float(yoy), "yoy_text": _change_text(yoy, unit, row["last_year_value"], ly),
            "yoy_dir": status.change_direction(yoy, direction),
            "completeness": done, "completeness_label": periods.COMPLETENESS_LABELS[done],
            "ytd_partial": ytd_done == "partial"}


def _comparable(value, code: str, grain: str, start: date, cover: Cover):
    """A value to compare with: only a published one (final or provisional)."""
    return value if completeness(code, grain, start, cover) in periods.PUBLISHED else None


def _change_text(change, unit: str, published, compared) -> str:
    if published is not None and compared is None:
        return "不可比 (对比期不完整)"
    return status.fmt_change(change, unit)


def _target_text(row: dict) -> str:
    if row["target"] is None:
        return "无数值目标"
    sign = "≥" if row["direction"] == "higher" else "≤"
    return f"{sign} {status.fmt(row['target'], row['unit'])}{row['unit'] if row['unit'] in ('%', '天') else ''}"


def status_counts(cards: list[dict]) -> dict[str, int]:
    counts = {k: 0 for k in status.STATUS_LABELS}
    for c in cards:
        counts[c["status"]] += 1
    return counts


def tiles(ranking_rows: list[dict], unit: str) -> list[dict]:
    """The tile grid's cells: [x, y, value] with the town's name and rank."""
    out = []
    for r in ranking_rows:
        x, y = TILE_POSITIONS.get(r["town_name"], (5, len(out)))
        out.append({"x": x, "y": y, "value": _float(r["value"]), "name": r["town_name"], "code": r["town_code"],
                    "rank": r["rank_all"], "text": status.fmt(r["value"], unit)})
    return out


def trend_series(rows: list[dict], ytd_rows: list[dict], code: str, cover: Cover) -> dict:
    """grain -> [{period, label, value, numerator, denominator, completeness}], plus 'ytd'
    (年度累计 by month, complete only if the whole year so far is)."""
    out: dict[str, list[dict]] = {g: [] for g in (*periods.GRAINS, "ytd")}
    for r in rows:
        start = r["period_start"]
        out[r["grain"]].append(_point(r["grain"], start, r, completeness(code, r["grain"], start, cover)))
    for r in ytd_rows:
        start = r["month_start"]
        out["ytd"].append(_point("month", start, r, ytd_completeness(code, "month", start, cover)))
    return out


def _point(grain: str, start: date, r: dict, done: str) -> dict:
    return {"period": start.isoformat(), "label": periods.label(grain, start), "value": _float(r["value"]),
            "numerator": _float(r["numerator"]), "denominator": _float(r["denominator"]), "completeness": done,
            "completeness_label": periods.COMPLETENESS_LABELS[done]}


def breakdown_groups(rows: list[dict]) -> dict[str, list[dict]]:
    groups: dict[str, list[dict]] = {}
    for r in rows:
        groups.setdefault(r["dimension"], []).append(r)
    return groups


DIMENSION_LABELS = {"dept_code": "部门", "case_type": "案件类型", "channel": "渠道", "filing_channel": "立案方式",
                    "service_type": "服务类型", "procedure": "审判程序", "party_type": "当事人类型",
                    "hearing_mode": "庭审方式", "case_source": "案件来源", "category": "类别", "dispute_type": "纠纷类型",
                    "form": "形式", "kind": "种类"}


def dimension_label(dim: str) -> str:
    return DIMENSION_LABELS.get(dim, dim)


def cell(value) -> str:
    """A list view's value as a table cell: 是/否 for booleans, local time to the minute."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "是" if value else "否"
    if hasattr(value, "tzinfo") and hasattr(value, "hour"):
        return value.strftime("%Y-%m-%d %H:%M")
    return str(value)


def quarantine_groups(rows: list[dict]) -> list[dict]:
    """quarantine_summary rows (per reason and 镇街) grouped per source, entity and reason, the
    镇街 largest first (无法识别 where the record's own town could not be read)."""
    groups: dict[tuple, dict] = {}
    for r in rows:
        g = groups.setdefault((r["source"], r["entity"], r["reason"]), {
            "source": r["source"], "entity": r["entity"], "reason": r["reason"], "records": 0, "towns": [],
            "latest": r["latest"]})
        g["records"] += r["records"]
        g["towns"].append((r["town_name"] or "无法识别", r["records"]))
        g["latest"] = max(g["latest"], r["latest"])
    for g in groups.values():
        g["towns"].sort(key=lambda t: -t[1])
    return sorted(groups.values(), key=lambda g: (g["source"], g["entity"], -g["records"], g["reason"]))


@lru_cache(maxsize=1)
def _titles() -> dict[str, str]:
    out = {}
    for name in source_names():
        spec = load_spec(name)
        out[name] = spec.title
        out.update({f"{name}.{e}": ent.title for e, ent in spec.entities.items()})
    return out


def source_title(source: str, entity: str | None = None) -> str:
    return _titles().get(f"{source}.{entity}" if entity else source, entity or source)


def reason_title(code: str) -> str:
    found = registry().get(code)
    return found.title_zh if found else code
