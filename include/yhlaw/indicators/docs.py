"""Documentation for analysts: ``docs/indicators.md`` is generated from the catalog (a test
keeps it current)."""

from __future__ import annotations

import json
from pathlib import Path

from yhlaw import paths
from yhlaw.indicators.definitions import Indicator, catalog, describe

DOCS_PATH = paths.DOCS_DIR / "indicators.md"

_PREAMBLE = [
    "# 指标目录 (Indicator catalog)", "",
    "Generated from `include/indicators/*.yaml` by `python -m yhlaw docs`; do not edit by hand.",
    "Values are in `mart.indicator_values` (one row per indicator x grain x period x 镇街, the district is",
    "`330110000000`); the latest values with targets and changes are in `mart.indicator_latest`;",
    "changed published values are kept in `mart.indicator_value_revision`. Breakdowns by each",
    "indicator's other dimensions are in `mart.indicator_values_by_dimension` (a rate within the",
    "member where the denominator is over the same table, else a share of the town's total).",
    "How complete each period is (终值 final / 观察期内 settling / 初步数 provisional / 不完整 partial /",
    "未到期 future, and since when final) is in `mart.indicator_period_status`;",
    "`mart.indicator_values_published` holds the values of final, settling and provisional periods only",
    "(settling: loaded to the period's end, not yet through its observation window, `lookback_months`,",
    "in which a later record can still lower it); a period before the first loaded interval of a",
    "source read by window (or with a gap in its loads) holds only records that changed later.",
    "Every value counts the district's 12 镇街 only: records of the 镇街 that moved to 临平区, dated",
    "before they moved, are loaded as the old district's history and counted nowhere.", "",
    "How to read a value: value = numerator / denominator x scale, NULL where the denominator is 0.",
    "Quarters, years and the district add up numerators and denominators (never average rates);",
    "`snapshot` indicators take the last month of the period that has data.",
    "A target stated as a trend (稳步下降) is met when the value is better than the same period a year",
    "earlier and that period's value is final (`mart.indicator_values.meets_target`; NULL = 不可比).", "",
    "| code | 指标 | area | unit | direction | target |", "|---|---|---|---|---|---|",
]


def render_docs(indicators: tuple[Indicator, ...] | None = None) -> str:
    indicators = indicators if indicators is not None else catalog()
    lines = list(_PREAMBLE)
    lines += [_summary_row(i) for i in indicators]
    for area in dict.fromkeys(i.area for i in indicators):
        lines += ["", f"## {area}"]
        for i in (x for x in indicators if x.area == area):
            lines += _section(i)
    return "\n".join(lines) + "\n"


_CALIBER_ZH = {"numerator": "分子", "denominator": "分母", "population": "人口", "coverage": "统计范围",
               "placement": "归属"}
_TREND_ZH = {"down": "稳步下降 (较上年同期下降为达标)", "up": "稳步提升 (较上年同期上升为达标)"}


def _target(i: Indicator) -> str:
    if i.target is not None:
        return f"{i.target:g}"
    return _TREND_ZH[i.target_trend] if i.target_trend else "none stated"


def _summary_row(i: Indicator) -> str:
    target = (f"{i.target:g} {i.unit}" if i.target is not None
              else (_TREND_ZH[i.target_trend].split(" ")[0] if i.target_trend else "—"))
    return f"| [`{i.code}`](#{i.code}) | {i.name_zh} | {i.area} | {i.unit} | {i.direction} | {target} |"


def _section(i: Indicator) -> list[str]:
    """One indicator's section: its definition, parameters, assumptions and file."""
    lines = ["", f"### {i.code}", "", f"**{i.name_zh}** — {i.name_en}", "",
             f"- Policy: {i.section} — “{i.clause}”",
             f"- Unit: {i.unit} (scale {i.scale:g}); {i.direction} is better",
             f"- Target: {_target(i)} — {i.target_source}",
             f"- Grains: {', '.join(i.grains)}; levels: {', '.join(i.levels)}; rollup: {i.rollup}",
             f"- Dimensions: {', '.join(i.dimensions)} (breakdowns in `mart.indicator_values_by_dimension`)",
             f"- Numerator: `{describe(i.numerator)}`",
             f"- Denominator: `{describe(i.denominator)}`" if i.denominator else
             "- Denominator: none (a median of the numerator's values)" if i.rollup == "median" else
             "- Denominator: none (a count; value = numerator)"]
    if i.lookback_months or i.depends_on:
        reads = "; reads " + ", ".join(f"`{d.table}` (by `{d.period}`)" for d in i.depends_on) if i.depends_on else ""
        lines.append(f"- Observation window: {i.lookback_months} month(s){reads}")
    if i.parameters:
        lines.append("- Parameters: " + ", ".join(f"`{k}` = {json.dumps(v, ensure_ascii=False)}"
                                                for k, v in i.parameters.items()))
    lines += ["- 口径:"] + [f"  - {_CALIBER_ZH[k]}: {v}" for k, v in i.caliber.items()]
    lines += ["- Assumptions:"] + [f"  - {a}" for a in i.assumptions]
    lines.append(f"- Definition: `indicators/{i.spec_file}`")
    return lines


def write_docs() -> Path:
    DOCS_PATH.write_text(render_docs(), encoding="utf-8")
    return DOCS_PATH
