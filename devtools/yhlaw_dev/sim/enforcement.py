"""Simulated 浙江 统一处罚办案系统 (administrative enforcement) for 余杭区.

Two entities, ``cases`` (处罚案件, up to three lifecycle versions plus an
optional late correction) and ``inspections`` (行政检查, one version plus an
optional correction).  Clean data comes from one seeded RNG per record and
dirt from another, so the same seed with ``SIM_DIRT=none`` yields the same
records minus the dirt.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Callable, Sequence

from .framework import (  # noqa: F401  (towns and parties re-exported for callers and tests)
    DUPLICATE,
    EXCLUSIVE_DIRT as SHARED_EXCLUSIVE_DIRT,
    PRE2021_TOWN_CODES,
    SHARED_DIRT_DEFAULTS,
    TOWN_DIRT,
    TOWN_PICK,
    pick_town,
    TOWNS,
    UNKNOWN_TOWN_CODES,
    DailyCollection,
    DirtPlan,
    DirtProfile,
    PartyPool,
    SimSource,
    Town,
    VersionedRecord,
    Weighted,
    apply_town_dirt as _apply_town_dirt,
    at_work as _at,
    bad_timestamp,
    correction_time,
    daily_count,
    draw_plan,
    finish_record,
    id_card_check,
    later as _later,
    make_org,
    make_person,
    org_code_check,
    party_pool,
    rng_for,
    to_iso,
    town_value,
    uscc_check,
)

MAX_LAG_DAYS = 45

# --------------------------------------------------------------------------
# reference data (towns and parties live in the framework, shared by all sources)


@dataclass(frozen=True)
class Dept:
    code: str
    name: str
    case_prefix: str
    case_weight: int
    inspection_weight: int
    causes: tuple[str, ...]
    amount_scale: float  # median fine in yuan


DEPTS = (
    Dept("YH-ZHZF", "杭州市余杭区综合行政执法局", "杭余综执罚", 35, 25,
         ("未按规定设置户外广告", "占道经营", "违法建设", "擅自占用城市道路",
          "未按规定分类投放生活垃圾", "餐饮油烟直排", "建筑垃圾违规运输"), 2000),
    Dept("YH-SCJG", "杭州市余杭区市场监督管理局", "杭余市监罚", 20, 30,
         ("无证经营", "销售不合格产品", "虚假广告宣传", "未按规定明码标价",
          "经营超过保质期食品"), 5000),
    Dept("YH-STHJ", "杭州市生态环境局余杭分局", "杭环余罚", 10, 10,
         ("超标排放污染物", "未批先建", "违规处置危险废物", "噪声污染扰民"), 50000),
    Dept("YH-YJGL", "杭州市余杭区应急管理局", "杭余应急罚", 8, 15,
         ("未按规定开展安全培训", "安全隐患未及时整改", "违规储存危险化学品"), 20000),
    Dept("YH-WSJK", "杭州市余杭区卫生健康局", "杭余卫罚", 7, 10,
         ("公共场所无卫生许可证经营", "未取得医疗机构执业许可证擅自执业", "控烟违法行为"), 3000),
    Dept("YH-JTYS", "杭州市余杭区交通运输局", "杭余交罚", 10, 5,
         ("非法营运", "货车超限运输", "未按规定办理道路运输证"), 10000),
    Dept("YH-NYNC", "杭州市余杭区农业农村局", "杭余农罚", 5, 3,
         ("经营假劣农药", "非法捕捞水产品", "违规使用禁用兽药"), 3000),
    Dept("YH-WGLT", "杭州市余杭区文化和广电旅游体育局", "杭余文旅罚", 5, 2,
         ("擅自从事营业性演出", "网吧接纳未成年人"), 5000),
)

CASE_SOURCES = ("巡查发现", "投诉举报", "上级交办", "部门移送", "数据监测")
CASE_SOURCE_WEIGHTS = (45, 30, 5, 10, 10)
INSPECTION_RESULTS = ("合格", "责令整改", "立案查处")
INSPECTION_RESULT_WEIGHTS = (70, 25, 5)

DIRT_DEFAULTS = {**SHARED_DIRT_DEFAULTS, "negative_amount": 0.01}
INSPECTION_DIRT_KINDS = tuple(k for k in DIRT_DEFAULTS if k != "negative_amount")
#: Kinds that rewrite the same fields; at most one of them per record.
EXCLUSIVE_DIRT = (*SHARED_EXCLUSIVE_DIRT, "negative_amount")


CASE_DEPT_PICK = Weighted(DEPTS, [d.case_weight for d in DEPTS])
INSPECTION_DEPT_PICK = Weighted(DEPTS, [d.inspection_weight for d in DEPTS])
CASE_SOURCE_PICK = Weighted(CASE_SOURCES, CASE_SOURCE_WEIGHTS)
RESULT_PICK = Weighted(INSPECTION_RESULTS, INSPECTION_RESULT_WEIGHTS)

# --------------------------------------------------------------------------
# helpers shared by both entities


def _draw_plan(profile: DirtProfile, rng: random.Random, allowed: Sequence[str], day: date,
               variants: dict[str, Sequence[str]]) -> DirtPlan:
    return draw_plan(profile, rng, allowed, variants, EXCLUSIVE_DIRT, day=day)


def _finish(truth_key: str, states: list[tuple[datetime, dict]], plan: DirtPlan,
            apply: Callable[[dict, DirtPlan], list[str]], correction_index: int | None,
            created: date) -> VersionedRecord:
    return finish_record(truth_key, states, plan, apply, correction_index, created, MAX_LAG_DAYS)


# An offline case's 送达 or 执行 is sometimes done on paper and never time-stamped in the system:
# the case closes without 全流程自动留痕. From its own stream, so the other draws do not move.
ON_PAPER_SHARE = 0.3


def _stage_on_paper(seed: int, case_no: str, d: date) -> str | None:
    rng = rng_for(seed, "on-paper", case_no, d)
    return rng.choice(("送达", "执行")) if rng.random() < ON_PAPER_SHARE else None


def _correction_time(rng: random.Random, last: datetime, created: date) -> datetime | None:
    return correction_time(rng, last, created, MAX_LAG_DAYS)


# --------------------------------------------------------------------------
# cases

CASE_VARIANTS = {
    "missing_required": ("key", "town", "first_stage"),
    "impossible_date": ("far_future", "far_past", "bad_calendar", "close_before_open"),
    "town_name": ("name", "short", "code9"),
}


class CaseGenerator:
    """Generates 处罚案件 records created on a given day."""

    def __init__(self, seed: int, per_day: int, dirt: DirtProfile, parties: PartyPool) -> None:
        self.seed, self.per_day, self.dirt, self.parties = seed, per_day, dirt, parties

    def __call__(self, d: date) -> list[VersionedRecord]:
        rng, drng = rng_for(self.seed, "case", d), rng_for(self.seed, "case-dirt", d)
        return [self.record(d, i, rng, drng) for i in range(daily_count(rng, d, self.per_day))]

    def record(self, d: date, i: int, rng: random.Random, drng: random.Random) -> VersionedRecord:
        """Record ``i`` of day ``d``; ``rng`` feeds clean data, ``drng`` dirt."""
        dept = CASE_DEPT_PICK.pick(rng)
        case_no = f"{dept.case_prefix}〔{d.year}〕{d.timetuple().tm_yday:03d}{i:03d}号"
        base = {
            "caseNo": case_no, "deptCode": dept.code, "deptName": dept.name,
            "townCode": pick_town(rng, d).code, "causeName": rng.choice(dept.causes),
            "caseSource": CASE_SOURCE_PICK.pick(rng),
        }
        flags = {"fullyOnline": rng.random() < 0.9, "mobileHandled": rng.random() < 0.6}
        needs_review = rng.random() < 0.88  # the rest legitimately skip 法制审核
        amount = self._amount(rng, dept)
        party = self.parties.pick(rng, p_person=0.45)
        states = self._lifecycle(rng, d, base, flags, needs_review, amount, party, dept)

        plan = _draw_plan(self.dirt, drng, list(DIRT_DEFAULTS), d, CASE_VARIANTS)
        if plan.has("impossible_date") and plan.variant == "close_before_open" and len(states) < 3:
            plan.variant = "far_future"  # open cases have no 结案 to misdate
        correction = None
        if plan.has("late_correction"):
            correction = self._correct(drng, states, dept, plan, d)
        keyless = plan.has("missing_required") and plan.variant == "key"
        truth_key = f"<null>#{case_no}" if keyless else case_no
        return _finish(truth_key, states, plan, self._apply_dirt, correction, d)

    @staticmethod
    def _amount(rng: random.Random, dept: Dept) -> float:
        if rng.random() < 0.15:
            return 0.0  # 警告
        amount = max(50, round(rng.lognormvariate(0, 0.9) * dept.amount_scale, -2))
        if rng.random() < 0.2:  # plus 没收违法所得 with cents
            amount += rng.randint(1, 999_999) / 100
        return round(amount, 2)

    def _lifecycle(self, rng, d, base, flags, needs_review, amount, party,
                   dept) -> list[tuple[datetime, dict]]:
        """Up to three versions: created, decided, closed.  The amount is 0
        until 决定; legalReviewDone turns true once 法制审核 is recorded."""
        unit = dept.name
        stages = [("立案", _at(d, rng))]
        if rng.random() < 0.5:
            stages.append(("调查取证", _later(stages[-1][1], rng, 20, 240)))
        plan = rng.random()  # <0.06 open after creation, <0.10 open after decision

        def state(status: str, amt: float) -> tuple[datetime, dict]:
            updated = _later(stages[-1][1], rng, 1, 30)
            payload = {**base, "stages": [{"stage": s, "time": to_iso(t), "unit": unit} for s, t in stages],
                       "status": status, "penaltyAmount": amt, **flags,
                       "legalReviewDone": any(s == "法制审核" for s, _ in stages), "party": dict(party)}
            return updated, payload

        states = [state("办理中", 0.0)]
        if plan < 0.06:
            return states
        mid_day = d + timedelta(days=rng.randint(1, 10))
        t = _at(mid_day, rng, 9, 15)
        if len(stages) == 1:
            stages.append(("调查取证", t))
        for name in (["法制审核"] if needs_review else []) + ["决定"]:
            t = _later(t, rng, 30, 150)
            stages.append((name, t))
        states.append(state("办理中", amount))
        if plan < 0.10:
            return states
        t = _at(mid_day + timedelta(days=rng.randint(2, 30)), rng, 9, 14)
        on_paper = None if flags["fullyOnline"] else _stage_on_paper(self.seed, base["caseNo"], d)
        for name in ("送达", "执行", "结案"):
            if name != on_paper:
                stages.append((name, t))
            t = _later(t, rng, 30, 150)
        states.append(state("已结案", amount))
        return states

    @staticmethod
    def _correct(rng, states, dept, plan, d) -> int | None:
        """Append a late correction version; returns its index."""
        last_at, last = states[-1]
        when = _correction_time(rng, last_at, d)
        if when is None:
            return None
        fields = ["causeName"]
        if len(states) > 1:  # an amount exists only after 决定
            fields.append("penaltyAmount")
        if not any(plan.has(k) for k in TOWN_DIRT):
            fields.append("townCode")
        field = rng.choice(fields)
        payload = {**last, "stages": list(last["stages"]), "party": dict(last["party"])}
        if field == "penaltyAmount":
            payload["penaltyAmount"] = round(max(50.0, last["penaltyAmount"] * rng.uniform(0.5, 1.5)), -1)
        elif field == "causeName":
            payload["causeName"] = rng.choice([c for c in dept.causes if c != last["causeName"]])
        else:
            payload["townCode"] = rng.choice([t.code for t in TOWNS if t.code != last["townCode"]])
        states.append((when, payload))
        return len(states) - 1

    @staticmethod
    def _apply_dirt(payload: dict, plan: DirtPlan) -> list[str]:
        """Mutate one version's payload; return the dirt kinds it now has."""
        payload["stages"] = [dict(s) for s in payload["stages"]]
        stages = payload["stages"]
        if plan.has("missing_required") and plan.variant == "key":
            payload["caseNo"] = None
            return ["missing_required"]
        if plan.has("missing_required") and plan.variant == "first_stage":
            payload["stages"] = [s for s in stages if s["stage"] != "立案"]
            return ["missing_required"]
        if plan.has("impossible_date"):
            return CaseGenerator._misdate(stages, plan.variant)
        if plan.has("negative_amount"):
            if not any(s["stage"] == "决定" for s in stages):
                return []
            payload["penaltyAmount"] = -abs(payload["penaltyAmount"] or 500.0)
            return ["negative_amount"]
        return _apply_town_dirt(payload, plan)

    @staticmethod
    def _misdate(stages: list[dict], variant: str) -> list[str]:
        if variant == "close_before_open":
            closing = [s for s in stages if s["stage"] == "结案"]
            if not closing:
                return []
            opened = datetime.fromisoformat(stages[0]["time"])
            closing[0]["time"] = to_iso(opened - timedelta(days=365))
        else:
            stages[0]["time"] = bad_timestamp(stages[0]["time"], variant)
        return ["impossible_date"]


# --------------------------------------------------------------------------
# inspections

INSPECTION_VARIANTS = {
    "missing_required": ("key", "town", "inspectedAt"),
    "impossible_date": ("far_future", "far_past", "bad_calendar"),
    "town_name": ("name", "short", "code9"),
}


class InspectionGenerator:
    """Generates 行政检查 records created on a given day."""

    def __init__(self, seed: int, per_day: int, dirt: DirtProfile, parties: PartyPool) -> None:
        self.seed, self.per_day, self.dirt, self.parties = seed, per_day, dirt, parties

    def __call__(self, d: date) -> list[VersionedRecord]:
        rng, drng = rng_for(self.seed, "inspection", d), rng_for(self.seed, "inspection-dirt", d)
        return [self.record(d, i, rng, drng) for i in range(daily_count(rng, d, self.per_day))]

    def record(self, d: date, i: int, rng: random.Random, drng: random.Random) -> VersionedRecord:
        """Record ``i`` of day ``d``; ``rng`` feeds clean data, ``drng`` dirt."""
        dept = INSPECTION_DEPT_PICK.pick(rng)
        inspection_no = f"JC{d:%Y%m%d}{i:04d}"
        party = self.parties.pick(rng, p_person=0.1)
        inspected_at = _at(d, rng, 8.5, 17.5)
        payload = {
            "inspectionNo": inspection_no, "deptCode": dept.code, "deptName": dept.name,
            "townCode": pick_town(rng, d).code, "inspectedAt": to_iso(inspected_at),
            "objectName": party["name"], "party": party,
            "isMobile": rng.random() < 0.7, "isNonContact": rng.random() < 0.15,
            "isJoint": rng.random() < 0.25, "isDoubleRandom": rng.random() < 0.4,
            "result": RESULT_PICK.pick(rng),
        }
        states = [(_later(inspected_at, rng, 10, 600), payload)]

        plan = _draw_plan(self.dirt, drng, INSPECTION_DIRT_KINDS, d, INSPECTION_VARIANTS)
        correction = self._correct(drng, states, plan, d) if plan.has("late_correction") else None
        keyless = plan.has("missing_required") and plan.variant == "key"
        truth_key = f"<null>#{inspection_no}" if keyless else inspection_no
        return _finish(truth_key, states, plan, self._apply_dirt, correction, d)

    @staticmethod
    def _correct(rng, states, plan, d) -> int | None:
        last_at, last = states[-1]
        when = _correction_time(rng, last_at, d)
        if when is None:
            return None
        payload = {**last, "party": dict(last["party"])}
        if any(plan.has(k) for k in TOWN_DIRT) or rng.random() < 0.6:
            payload["result"] = rng.choice([r for r in INSPECTION_RESULTS if r != last["result"]])
        else:
            payload["townCode"] = rng.choice([t.code for t in TOWNS if t.code != last["townCode"]])
        states.append((when, payload))
        return len(states) - 1

    @staticmethod
    def _apply_dirt(payload: dict, plan: DirtPlan) -> list[str]:
        if plan.has("missing_required") and plan.variant == "key":
            payload["inspectionNo"] = None
            return ["missing_required"]
        if plan.has("missing_required") and plan.variant == "inspectedAt":
            payload["inspectedAt"] = None
            return ["missing_required"]
        if plan.has("impossible_date"):
            payload["inspectedAt"] = bad_timestamp(payload["inspectedAt"], plan.variant)
            return ["impossible_date"]
        return _apply_town_dirt(payload, plan)


# --------------------------------------------------------------------------
# source factory


def build_source(settings: Any) -> SimSource:
    """Build the enforcement source from a settings object (see server.SimulatorConfig)."""
    if settings.cases_per_day > 600 or settings.inspections_per_day > 6000:
        raise ValueError("volume too high for the 6-digit case / 4-digit inspection numbering")
    dirt = DirtProfile.parse(settings.dirt, DIRT_DEFAULTS)
    parties = party_pool(settings.seed)
    cases = CaseGenerator(settings.seed, settings.cases_per_day, dirt, parties)
    inspections = InspectionGenerator(settings.seed, settings.inspections_per_day, dirt, parties)
    span = dict(start=settings.start_date, end=settings.end_date, max_lag_days=MAX_LAG_DAYS)
    return SimSource("enforcement", {
        "cases": DailyCollection("cases", cases, **span),
        "inspections": DailyCollection("inspections", inspections, **span),
    })
