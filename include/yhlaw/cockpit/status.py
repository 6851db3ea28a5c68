"""Red, amber, green; arrows; numbers as the cockpit and the 通报 print them.

口径 of the colours (written in docs/cockpit.md too):
* 绿 (green): the value meets the policy's target;
* 黄 (amber): it misses the target by no more than ``AMBER_BAND`` of the target (10%, e.g. 86%
  against ≥ 95% is red, 90% is amber), or there is no numeric target and the value moved the wrong
  way on the previous period by more than ``AMBER_BAND`` of the previous value (a share falling
  from 28% to 24.5%; not one falling from 62% to 60%);
* 红 (red): it misses the target by more than that;
* 灰 (grey): no target and no worsening (shown with its arrow); 无数据 when there is no value.
"""

from __future__ import annotations

from decimal import Decimal

AMBER_BAND = 0.10
STATUS_LABELS = {"green": "达标", "amber": "预警", "red": "未达标", "grey": "无目标", "nodata": "无数据"}


def change_direction(change: float | Decimal | None, direction: str) -> str | None:
    """'better', 'worse' or 'same' for a change of the value, given which way is better."""
    if change is None:
        return None
    if change == 0:
        return "same"
    return "better" if (change > 0) == (direction == "higher") else "worse"


def status(value, target, meets: bool | None, direction: str, previous=None) -> str:
    if value is None:
        return "nodata"
    if target is None:
        moved = change_direction(None if previous is None else value - previous, direction)
        far = previous is not None and abs(float(value) - float(previous)) > AMBER_BAND * abs(float(previous))
        return "amber" if moved == "worse" and far else "grey"
    if meets:
        return "green"
    gap = abs(float(value) - float(target))
    return "amber" if gap <= AMBER_BAND * abs(float(target)) else "red"


def fmt(value, unit: str) -> str:
    """A value as printed: two decimals for rates and per-10k figures, one for days, whole counts."""
    if value is None:
        return "—"
    if unit == "件" or unit == "个":
        return f"{float(value):,.0f}"
    if unit == "天":
        return f"{float(value):.1f}"
    return f"{float(value):.2f}"


def fmt_change(change, unit: str) -> str:
    if change is None:
        return "—"
    text = fmt(abs(change), unit)
    sign = "+" if change > 0 else ("−" if change < 0 else "±")
    return f"{sign}{text}{'个百分点' if unit == '%' else ''}"
