"""Simulated 浙江省行政执法监督系统 (执法监督) for 余杭区.

Five entities, served by the ``oauth_paged`` API style (OAuth client credentials, numbered
pages) under ``/api/zfjd/v1`` -- the same style the engine already reads for enforcement, so
this source needs a spec, SQL, a suite and this module, and no engine code:

* ``reviews`` (行政执法案卷评查): one record per reviewed 案卷. The 区司法局 (行政执法监督机构)
  reviews case files of the district's enforcement departments and of the 镇街综合行政执法队 in
  numbered batches (``2022年度第1批``); each review gives a score out of 100 and the 等次
  优秀 (>= 90) / 良好 (80-89) / 合格 (60-79) / 不合格 (< 60), with the main problems found.
  About 10% are revised after 复核 (the reviewed unit's objection): a later version with a new
  score and 等次 and a 复核日期. That revision is business as usual, not dirt, but it *is* a late
  correction of the record, and the truth labels it so (the oracle treats it as harmless).
* ``complaints`` (行政执法投诉举报): received, handled by the complained-about unit within its
  办理时限 (30 days, 45 when extended), concluded with a 处理结果 and whether the complaint was
  founded (是否属实), then a 回访 with the complainant's satisfaction. About 8% are concluded late,
  2% stay open; the source says itself whether a case was concluded in time (是否按期).
* ``orders`` (执法问题督办件, 督查督办): the supervisor orders a unit to put a problem right within
  15 or 30 days (from 执法监督检查, a complaint, a case-file review or a higher level); the unit
  reports it 办结 with its 整改 outcome, about 10% late, 3% never within the record's life.
* ``evaluations`` (网上执法效能评价): on the 1st of each month the system scores the previous month
  of every 基层执法单元 -- each 镇街's 综合行政执法队 and the 综合执法中队 and 市场监管所 posted
  there -- from its cases (办案数, 平均办理时长, 法制审核率, 掌上执法率, 超期案件), 百分制 and
  优秀/良好/一般/较差; about 8% are re-scored after the unit's 复核 request (a later version).
* ``warnings`` (执法监督预警): the overnight scan flags cases (超期未结案, 法制审核缺失 ...) with a
  处置时限 of 3/7/15 days by level; about 12% are dealt with late and 3% never, half of those
  overdue are turned into a 督办件 (是否转督办).

The last two were added later with RNG streams of their own (and the evaluations' extra dirt kind
in a profile of its own), so the first three serve exactly what they served before them.

Who: the 当事人 of a reviewed case and the complainants come from the framework's shared
party pool (same seed, same people as the other sources). Where: the 镇街 of the case (a
department's case file) or of the 执法队 (a 镇街's own file); before 2021-04-09 the old
district's twenty 镇街. Clean data comes from seeded RNGs per day, dirt from another, so
``SIM_DIRT=none`` gives the same records minus the dirt.

Volumes: ``SIM_SUP_REVIEWS_PER_DAY`` (default 15), ``SIM_SUP_COMPLAINTS_PER_DAY`` (default 25) and
``SIM_SUP_ORDERS_PER_DAY`` (default 4) and ``SIM_SUP_WARNINGS_PER_DAY`` (default 6),
read here (the shared server settings carry the first sources' volumes only).
"""

from __future__ import annotations

import os
import random
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from .framework import (
    SHARED_DIRT_DEFAULTS,
    TOWN_DIRT,
    TOWN_NAME_VARIANTS,
    TOWNS,
    FORMER_TOWNS,
    SPLIT_DAY,
    DailyCollection,
    DirtPlan,
    DirtProfile,
    PartyPool,
    SimSource,
    VersionedRecord,
    Weighted,
    apply_town_dirt,
    at_work,
    bad_timestamp,
    correction_time,
    daily_count,
    draw_plan,
    finish_record,
    later,
    party_pool,
    pick_town,
    rng_for,
    to_iso,
    town_by_code,
)

#: A complaint lives up to 45 + 20 days (extended deadline, late conclusion, 回访); corrections
#: are capped at this lag too.
MAX_LAG_DAYS = 90
REVIEWS_PER_DAY = 15
COMPLAINTS_PER_DAY = 25
SUPERVISOR = "杭州市余杭区司法局"

# -------------------------------------------------------------- units under supervision


@dataclass(frozen=True)
class Unit:
    code: str
    name: str
    case_prefix: str
    weight: int


#: The district's enforcement departments (codes as in include/reference/departments.csv).
DEPARTMENTS = (
    Unit("YH-ZHZF", "杭州市余杭区综合行政执法局", "杭余综执罚", 25),
    Unit("YH-SCJG", "杭州市余杭区市场监督管理局", "杭余市监罚", 22),
    Unit("YH-STHJ", "杭州市生态环境局余杭分局", "杭环余罚", 10),
    Unit("YH-YJGL", "杭州市余杭区应急管理局", "杭余应急罚", 8),
    Unit("YH-WSJK", "杭州市余杭区卫生健康局", "杭余卫罚", 7),
    Unit("YH-JTYS", "杭州市余杭区交通运输局", "杭余交罚", 8),
    Unit("YH-NYNC", "杭州市余杭区农业农村局", "杭余农罚", 5),
    Unit("YH-WGLT", "杭州市余杭区文化和广电旅游体育局", "杭余文旅罚", 5),
)
#: A 镇街's own 综合行政执法队 (一支队伍管执法): one code, the 镇街 tells them apart.
TOWN_TEAM = Unit("YH-ZFD", "综合行政执法队", "综执队罚", 30)
UNIT_PICK = Weighted((*DEPARTMENTS, TOWN_TEAM), [u.weight for u in (*DEPARTMENTS, TOWN_TEAM)])
UNIT_TYPES = ("区级执法部门", "镇街综合行政执法队")


def unit_name(unit: Unit, town_code: str) -> str:
    if unit is TOWN_TEAM:
        return f"杭州市余杭区{town_by_code(town_code).name}综合行政执法队"
    return unit.name


# -------------------------------------------------------------- 案卷评查

#: 等次 by score (the common 百分制 scale: 优秀 >= 90, 良好 80-89, 合格 60-79, 不合格 < 60).
GRADES = ((90, "优秀"), (80, "良好"), (60, "合格"), (0, "不合格"))
CASE_TYPES = Weighted(("行政处罚", "行政许可", "行政检查", "行政强制"), (70, 12, 10, 8))
METHODS = Weighted(("集中评查", "交叉评查", "网上评查"), (40, 25, 35))
PROBLEMS = ("证据不充分", "事实认定不清", "适用法律依据不准确", "裁量理由未说明", "程序不合法",
            "法制审核意见缺失", "文书制作不规范", "送达程序不规范", "执法全过程记录缺失", "案卷归档不完整")
#: Each unit's quality: the mean of its scores (the 综合执法 teams of the 镇街 are newer).
QUALITY = {"YH-ZHZF": 85, "YH-SCJG": 88, "YH-STHJ": 85, "YH-YJGL": 80, "YH-WSJK": 84,
           "YH-JTYS": 77, "YH-NYNC": 82, "YH-WGLT": 83, "YH-ZFD": 76}
P_RECHECK = 0.10


def grade_of(score: float) -> str:
    return next(g for floor, g in GRADES if score >= floor)


def batch_name(d: date) -> str:
    """Review batches are per quarter of the review date: ``2022年度第1批``."""
    return f"{d.year}年度第{(d.month - 1) // 3 + 1}批行政执法案卷评查"


REVIEW_VARIANTS = {
    "missing_required": ("key", "town", "reviewedOn"),
    "impossible_date": ("far_future", "far_past", "bad_calendar"),
    "town_name": TOWN_NAME_VARIANTS,
}
COMPLAINT_VARIANTS = {
    "missing_required": ("key", "town", "receivedAt"),
    "impossible_date": ("conclude_before_receipt", "far_future", "far_past", "bad_calendar"),
    "town_name": TOWN_NAME_VARIANTS,
}
DIRT_DEFAULTS = dict(SHARED_DIRT_DEFAULTS)


def bad_date(real: str, variant: str) -> str:
    """An impossible calendar date derived from ``real`` (YYYY-MM-DD)."""
    if variant == "far_future":
        return "2099" + real[4:]
    if variant == "far_past":
        return "1900" + real[4:]
    return real[:4] + "-02-30"


class ReviewGenerator:
    """Generates 案卷评查 records of reviews done on a given day."""

    def __init__(self, seed: int, per_day: int, dirt: DirtProfile, parties: PartyPool) -> None:
        self.seed, self.per_day, self.dirt, self.parties = seed, per_day, dirt, parties

    def __call__(self, d: date) -> list[VersionedRecord]:
        rng, drng = rng_for(self.seed, "review", d), rng_for(self.seed, "review-dirt", d)
        return [self.record(d, i, rng, drng) for i in range(daily_count(rng, d, self.per_day))]

    def record(self, d: date, i: int, rng: random.Random, drng: random.Random) -> VersionedRecord:
        unit = UNIT_PICK.pick(rng)
        town = pick_town(rng, d).code
        review_no = f"YHAJPC{d:%Y%m%d}{i:04d}"
        closed = d - timedelta(days=rng.randint(20, 200))        # the reviewed case closed earlier
        score = self._score(rng, unit)
        base = {
            "reviewNo": review_no, "batchName": batch_name(d), "reviewYear": d.year,
            "reviewMethod": METHODS.pick(rng), "unitType": UNIT_TYPES[unit is TOWN_TEAM],
            "deptCode": unit.code, "deptName": unit_name(unit, town), "townCode": town,
            "caseNo": f"{unit.case_prefix}〔{closed.year}〕{closed.timetuple().tm_yday:03d}{rng.randrange(1000):03d}号",
            "caseType": CASE_TYPES.pick(rng), "reviewedOn": d.isoformat(), "recheckedOn": None,
            "party": dict(self.parties.pick(rng, 0.45)), "reviewer": SUPERVISOR,
        }
        states = [(at_work(d, rng, 16, 20), {**base, **self._graded(rng, score)})]
        recheck = self._recheck(rng, states, d)
        plan = draw_plan(self.dirt, drng, list(DIRT_DEFAULTS), REVIEW_VARIANTS, day=d)
        correction = recheck
        if plan.has("late_correction") and recheck is None:
            correction = self._correct(drng, states, plan, d)
        keyless = plan.has("missing_required") and plan.variant == "key"
        truth_key = f"<null>#{review_no}" if keyless else review_no
        return finish_record(truth_key, states, plan, self._apply_dirt, correction, d, MAX_LAG_DAYS)

    @staticmethod
    def _score(rng: random.Random, unit: Unit) -> float:
        return round(min(100.0, max(35.0, rng.gauss(QUALITY[unit.code], 9))), 1)

    @staticmethod
    def _graded(rng: random.Random, score: float) -> dict[str, Any]:
        grade = grade_of(score)
        n = {"优秀": 0, "良好": 1, "合格": 2, "不合格": 3}[grade] + rng.randint(0, 1)
        return {"score": score, "grade": grade, "problems": "；".join(rng.sample(PROBLEMS, n)) or None}

    @staticmethod
    def _recheck(rng: random.Random, states: list, d: date) -> int | None:
        """复核: the reviewed unit objected and the 等次 is revised 7-30 days later -- one grade up,
        or an 优秀 found too generous and marked down to 良好."""
        if rng.random() >= P_RECHECK:
            return None
        last = states[-1][1]
        day = d + timedelta(days=rng.randint(7, 30))
        if last["grade"] == "优秀":
            score = round(rng.uniform(84, 89.5), 1)
        else:
            floor = next(f for f, g in reversed(GRADES) if f > last["score"])   # the next grade up
            score = round(min(100.0, floor + rng.uniform(0, 5)), 1)
        revised = {**last, "party": dict(last["party"]), **ReviewGenerator._graded(rng, score),
                   "recheckedOn": day.isoformat()}
        states.append((at_work(day, rng, 9, 17), revised))
        return len(states) - 1

    @staticmethod
    def _correct(rng: random.Random, states: list, plan: DirtPlan, d: date) -> int | None:
        """A late correction of a clerical field: the case type or the 镇街."""
        last_at, last = states[-1]
        when = correction_time(rng, last_at, d, MAX_LAG_DAYS)
        if when is None:
            return None
        payload = {**last, "party": dict(last["party"])}
        if any(plan.has(k) for k in TOWN_DIRT) or last["deptCode"] == TOWN_TEAM.code or rng.random() < 0.5:
            payload["caseType"] = rng.choice([c for c in CASE_TYPES.items if c != last["caseType"]])
        else:
            payload["townCode"] = rng.choice([t.code for t in TOWNS if t.code != last["townCode"]])
        states.append((when, payload))
        return len(states) - 1

    @staticmethod
    def _apply_dirt(payload: dict, plan: DirtPlan) -> list[str]:
        payload["party"] = dict(payload["party"])
        if plan.has("missing_required") and plan.variant == "key":
            payload["reviewNo"] = None
            return ["missing_required"]
        if plan.has("missing_required") and plan.variant == "reviewedOn":
            payload["reviewedOn"] = None
            return ["missing_required"]
        if plan.has("impossible_date"):
            payload["reviewedOn"] = bad_date(payload["reviewedOn"], plan.variant)
            return ["impossible_date"]
        return apply_town_dirt(payload, plan)


# -------------------------------------------------------------- 投诉举报

CHANNELS = Weighted(("12345热线", "浙里办", "来信来访", "监督系统网上投诉", "上级交办"), (45, 20, 10, 15, 10))
CATEGORIES = Weighted(("执法不作为", "执法乱作为", "执法态度粗暴", "执法程序违法", "处罚畸轻畸重", "其他"),
                      (35, 15, 12, 15, 13, 10))
RESULTS_FOUNDED = ("责令改正", "撤销或变更执法行为", "追究执法过错责任")
RESULTS_UNFOUNDED = ("解释说明", "不予支持")
FOUNDED = Weighted(("属实", "部分属实", "不属实"), (18, 22, 60))
SATISFACTION = Weighted(("满意", "基本满意", "不满意", "未评价"), (60, 18, 10, 12))
TIME_LIMIT, EXTENDED_LIMIT = 30, 45
P_EXTENDED, P_LATE, P_OPEN = 0.08, 0.08, 0.02


class ComplaintGenerator:
    """Generates 执法投诉举报 records received on a given day."""

    def __init__(self, seed: int, per_day: int, dirt: DirtProfile, parties: PartyPool) -> None:
        self.seed, self.per_day, self.dirt, self.parties = seed, per_day, dirt, parties

    def __call__(self, d: date) -> list[VersionedRecord]:
        rng, drng = rng_for(self.seed, "complaint", d), rng_for(self.seed, "complaint-dirt", d)
        return [self.record(d, i, rng, drng) for i in range(daily_count(rng, d, self.per_day))]

    def record(self, d: date, i: int, rng: random.Random, drng: random.Random) -> VersionedRecord:
        unit = UNIT_PICK.pick(rng)
        town = pick_town(rng, d).code
        complaint_no = f"YHZFTS{d:%Y%m%d}{i:04d}"
        channel = CHANNELS.pick(rng)
        online = channel in ("12345热线", "浙里办", "监督系统网上投诉")
        received = at_work(d, rng, 0.5 if online else 8.5, 23.5 if online else 17)
        base = {
            "complaintNo": complaint_no, "receivedAt": to_iso(received), "channel": channel,
            "category": CATEGORIES.pick(rng), "deptCode": unit.code, "deptName": unit_name(unit, town),
            "townCode": town, "timeLimitDays": EXTENDED_LIMIT if rng.random() < P_EXTENDED else TIME_LIMIT,
            "concludedAt": None, "inTime": None, "result": None, "founded": None, "satisfaction": None,
            "complainant": dict(self.parties.pick(rng, 0.92)),
        }
        states = self._lifecycle(rng, d, received, base)
        plan = draw_plan(self.dirt, drng, list(DIRT_DEFAULTS), COMPLAINT_VARIANTS, day=d)
        if plan.has("impossible_date") and plan.variant == "conclude_before_receipt" and \
                states[-1][1]["concludedAt"] is None:
            plan.variant = "far_future"   # nothing concluded to misdate
        correction = self._correct(drng, states, plan, d) if plan.has("late_correction") else None
        keyless = plan.has("missing_required") and plan.variant == "key"
        truth_key = f"<null>#{complaint_no}" if keyless else complaint_no
        return finish_record(truth_key, states, plan, self._apply_dirt, correction, d, MAX_LAG_DAYS)

    @staticmethod
    def _lifecycle(rng: random.Random, d: date, received: datetime, base: dict) -> list[tuple[datetime, dict]]:
        """收件, then 办结 (in time or late), then 回访; 2% stay open."""
        states = [(later(received, rng, 5, 90), dict(base, complainant=dict(base["complainant"])))]
        if rng.random() < P_OPEN:
            return states
        limit = base["timeLimitDays"]
        days = rng.randint(limit + 1, limit + 15) if rng.random() < P_LATE else rng.randint(3, limit)
        concluded = at_work(d + timedelta(days=days), rng, 9, 17.5)
        founded = FOUNDED.pick(rng)
        result = rng.choice(RESULTS_UNFOUNDED if founded == "不属实" else RESULTS_FOUNDED)
        done = {**states[-1][1], "complainant": dict(base["complainant"]), "concludedAt": to_iso(concluded),
                "inTime": days <= limit, "result": result, "founded": founded}
        states.append((later(concluded, rng, 10, 120), done))
        visited = at_work(concluded.date() + timedelta(days=rng.randint(1, 5)), rng, 9, 17)
        states.append((later(visited, rng, 5, 60), {**done, "complainant": dict(base["complainant"]),
                                                     "satisfaction": SATISFACTION.pick(rng)}))
        return states

    @staticmethod
    def _correct(rng: random.Random, states: list, plan: DirtPlan, d: date) -> int | None:
        """A late correction: 是否属实 after a re-check, the satisfaction, or the 镇街."""
        last_at, last = states[-1]
        when = correction_time(rng, last_at, d, MAX_LAG_DAYS)
        if when is None:
            return None
        options = ["category"]
        if last["founded"] is not None:
            options += ["founded", "satisfaction"]
        if not any(plan.has(k) for k in TOWN_DIRT) and last["deptCode"] != TOWN_TEAM.code:
            options.append("townCode")
        field = rng.choice(options)
        payload = {**last, "complainant": dict(last["complainant"])}
        if field == "townCode":
            payload["townCode"] = rng.choice([t.code for t in TOWNS if t.code != last["townCode"]])
        else:
            pool = {"category": CATEGORIES, "founded": FOUNDED, "satisfaction": SATISFACTION}[field].items
            payload[field] = rng.choice([v for v in pool if v != last[field]])
        states.append((when, payload))
        return len(states) - 1

    @staticmethod
    def _apply_dirt(payload: dict, plan: DirtPlan) -> list[str]:
        payload["complainant"] = dict(payload["complainant"])
        if plan.has("missing_required") and plan.variant in ("key", "receivedAt"):
            payload["complaintNo" if plan.variant == "key" else "receivedAt"] = None
            return ["missing_required"]
        if plan.has("impossible_date"):
            if plan.variant == "conclude_before_receipt":
                if payload["concludedAt"] is None:
                    return []   # not concluded yet in this version
                received = datetime.fromisoformat(payload["receivedAt"])
                payload["concludedAt"] = to_iso(received - timedelta(days=4, hours=3))
            else:
                payload["receivedAt"] = bad_timestamp(payload["receivedAt"], plan.variant)
            return ["impossible_date"]
        return apply_town_dirt(payload, plan)


# -------------------------------------------------------------- 督办件

ORDER_SOURCES = Weighted(("执法监督检查", "投诉举报", "案卷评查", "上级交办"), (35, 30, 25, 10))
ORDER_PROBLEMS = Weighted(("执法不作为", "执法不规范", "案卷质量问题", "裁量不当", "其他"), (25, 35, 20, 12, 8))
ORDER_OUTCOMES = Weighted(("已整改", "部分整改"), (85, 15))
ORDER_LIMITS = Weighted((15, 30), (40, 60))
ORDERS_PER_DAY = 4
ORDER_VARIANTS = {
    "missing_required": ("key", "town", "issuedAt"),
    "impossible_date": ("finish_before_issue", "far_future", "far_past", "bad_calendar"),
    "town_name": TOWN_NAME_VARIANTS,
}


class OrderGenerator:
    """Generates 执法问题督办件 issued on a given day: 下发 to the unit with a 办理时限, 办结 with
    its 整改 outcome (about 10% late, 3% still open)."""

    def __init__(self, seed: int, per_day: int, dirt: DirtProfile, parties: PartyPool) -> None:
        self.seed, self.per_day, self.dirt, self.parties = seed, per_day, dirt, parties

    def __call__(self, d: date) -> list[VersionedRecord]:
        rng, drng = rng_for(self.seed, "order", d), rng_for(self.seed, "order-dirt", d)
        return [self.record(d, i, rng, drng) for i in range(daily_count(rng, d, self.per_day))]

    def record(self, d: date, i: int, rng: random.Random, drng: random.Random) -> VersionedRecord:
        unit = UNIT_PICK.pick(rng)
        town = pick_town(rng, d).code
        order_no = f"YHZFDB{d:%Y%m%d}{i:04d}"
        issued = at_work(d, rng, 9, 17)
        limit = ORDER_LIMITS.pick(rng)
        base = {
            "orderNo": order_no, "issuedAt": to_iso(issued), "orderSource": ORDER_SOURCES.pick(rng),
            "problemType": ORDER_PROBLEMS.pick(rng), "deptCode": unit.code, "deptName": unit_name(unit, town),
            "townCode": town, "timeLimitDays": limit, "status": "办理中", "finishedAt": None, "inTime": None,
            "outcome": None, "party": dict(self.parties.pick(rng, 0.4)), "issuer": SUPERVISOR,
        }
        states = [(later(issued, rng, 5, 60), dict(base, party=dict(base["party"])))]
        if rng.random() >= 0.03:
            days = rng.randint(limit + 1, limit + 20) if rng.random() < 0.10 else rng.randint(2, limit)
            finished = at_work(d + timedelta(days=days), rng, 9, 17.5)
            states.append((later(finished, rng, 10, 240), {**base, "party": dict(base["party"]), "status": "已办结",
                                                            "finishedAt": to_iso(finished), "inTime": days <= limit,
                                                            "outcome": ORDER_OUTCOMES.pick(rng)}))
        plan = draw_plan(self.dirt, drng, list(DIRT_DEFAULTS), ORDER_VARIANTS, day=d)
        if plan.has("impossible_date") and plan.variant == "finish_before_issue" and len(states) < 2:
            plan.variant = "far_future"
        correction = self._correct(drng, states, d) if plan.has("late_correction") else None
        keyless = plan.has("missing_required") and plan.variant == "key"
        truth_key = f"<null>#{order_no}" if keyless else order_no
        return finish_record(truth_key, states, plan, self._apply_dirt, correction, d, MAX_LAG_DAYS)

    @staticmethod
    def _correct(rng: random.Random, states: list, d: date) -> int | None:
        """A late correction of the problem type (re-classified by the supervisor)."""
        return reclassify(rng, states, d, "problemType", ORDER_PROBLEMS.items)

    @staticmethod
    def _apply_dirt(payload: dict, plan: DirtPlan) -> list[str]:
        return dated_pair_dirt(payload, plan, ("orderNo", "issuedAt", "finishedAt"), "finish_before_issue",
                               timedelta(days=2, hours=5))


# -------------------------------------------------------------- 网上执法效能评价

#: 等次 of the monthly 效能评价 (百分制): 优秀 >= 90, 良好 80-89.9, 一般 60-79.9, 较差 < 60.
EVAL_GRADES = ((90, "优秀"), (80, "良好"), (60, "一般"), (0, "较差"))
#: The units evaluated in every 镇街: its own 综合行政执法队 and the two departments' teams posted
#: there (综合执法中队, 市场监管所). A department's office-level work has no 镇街 and is not here.
EVAL_UNITS = (("YH-ZFD", "镇街综合行政执法队", "杭州市余杭区{town}综合行政执法队"),
              ("YH-ZHZF", "派驻执法中队", "杭州市余杭区综合行政执法局{short}中队"),
              ("YH-SCJG", "市场监管所", "杭州市余杭区市场监督管理局{short}市场监管所"))
P_EVAL_RECHECK = 0.08
EVAL_VARIANTS = {
    "missing_required": ("key", "town", "periodStart"),
    "impossible_date": ("far_future", "far_past"),
    "town_name": TOWN_NAME_VARIANTS,
}
#: The evaluations' dirt adds a negative score (the system's -1 placeholder for "not scored")
#: to the shared kinds; a profile of their own, so the other entities' draws stay as they were.
EVAL_DIRT_DEFAULTS = {**DIRT_DEFAULTS, "negative_amount": 0.01}
EVAL_EXCLUSIVE = ("missing_required", "unknown_town", "pre2021_town", "town_name", "impossible_date",
                  "negative_amount")


def eval_grade(score: float) -> str:
    return next(g for floor, g in EVAL_GRADES if score >= floor)


def evaluated_towns(period: date) -> tuple:
    """The 镇街 of the month evaluated: the old district's twenty before the split."""
    return TOWNS + (FORMER_TOWNS if period < SPLIT_DAY else ())


class EvaluationGenerator:
    """网上执法效能评价: on the 1st of each month the system scores every unit's previous month
    from its cases online (办案数, 平均办理时长, 法制审核率, 掌上执法率, 超期案件); a unit may ask
    for 复核 and is re-scored 7-20 days later (a later version, 复核日期 set)."""

    def __init__(self, seed: int, dirt: DirtProfile, parties: PartyPool) -> None:
        self.seed, self.dirt, self.parties = seed, dirt, parties

    def __call__(self, d: date) -> list[VersionedRecord]:
        if d.day != 1:
            return []
        rng, drng = rng_for(self.seed, "evaluation", d), rng_for(self.seed, "evaluation-dirt", d)
        period = (d - timedelta(days=1)).replace(day=1)
        return [self.record(d, period, town, unit, rng, drng)
                for town in evaluated_towns(period) for unit in EVAL_UNITS]

    def record(self, d: date, period: date, town, unit: tuple, rng: random.Random,
               drng: random.Random) -> VersionedRecord:
        code, unit_type, name = unit
        evaluation_no = f"YHXNPJ{period:%Y%m}{town.code}{code[3:]}"
        base = {"evaluationNo": evaluation_no, "periodType": "月度", "periodStart": period.isoformat(),
                "unitType": unit_type, "deptCode": code, "deptName": name.format(town=town.name, short=town.short),
                "townCode": town.code, **self._measures(rng, code), "evaluatedOn": d.isoformat(), "recheckedOn": None}
        states = [(at_work(d, rng, 1, 6), base)]
        recheck = self._recheck(rng, states, d)
        plan = draw_plan(self.dirt, drng, list(EVAL_DIRT_DEFAULTS), EVAL_VARIANTS, EVAL_EXCLUSIVE, day=period)
        correction = recheck
        if plan.has("late_correction") and recheck is None:
            correction = self._correct(drng, states, d)
        keyless = plan.has("missing_required") and plan.variant == "key"
        truth_key = f"<null>#{evaluation_no}" if keyless else evaluation_no
        return finish_record(truth_key, states, plan, self._apply_dirt, correction, d, MAX_LAG_DAYS)

    @staticmethod
    def _measures(rng: random.Random, code: str) -> dict[str, Any]:
        """The month's 指标 and the score they give (newer 镇街 teams score lower on average)."""
        cases = rng.randint(3, 60) if code != "YH-SCJG" else rng.randint(5, 90)
        review = round(min(100.0, rng.gauss(97 if code != "YH-ZFD" else 92, 4)), 1)
        mobile = round(min(100.0, rng.gauss(93 if code != "YH-ZFD" else 86, 6)), 1)
        days = round(max(3.0, rng.gauss(24, 8)), 1)
        overdue = sum(rng.random() < 0.03 for _ in range(cases))
        score = 40 * review / 100 + 35 * mobile / 100 + 15 * max(0.0, 1 - days / 90) + 4 - 2.5 * overdue
        score = round(min(100.0, max(30.0, score + rng.gauss(0, 4))), 1)
        return {"caseCount": cases, "avgHandlingDays": days, "legalReviewRate": review, "mobileRate": mobile,
                "overdueCount": overdue, "totalScore": score, "grade": eval_grade(score)}

    @staticmethod
    def _recheck(rng: random.Random, states: list, d: date) -> int | None:
        """复核: the unit's missing cases are counted after all; the score rises 1-8 points."""
        if rng.random() >= P_EVAL_RECHECK:
            return None
        last = states[-1][1]
        score = round(min(100.0, last["totalScore"] + rng.uniform(1, 8)), 1)
        day = d + timedelta(days=rng.randint(7, 20))
        revised = {**last, "caseCount": last["caseCount"] + rng.randint(1, 5),
                   "totalScore": score, "grade": eval_grade(score), "recheckedOn": day.isoformat()}
        states.append((at_work(day, rng, 9, 17), revised))
        return len(states) - 1

    @staticmethod
    def _correct(rng: random.Random, states: list, d: date) -> int | None:
        """A late correction of the 平均办理时长 (a case's closing date put right), score unchanged."""
        last_at, last = states[-1]
        when = correction_time(rng, last_at, d, MAX_LAG_DAYS)
        if when is None:
            return None
        payload = {**last,
                   "avgHandlingDays": round(last["avgHandlingDays"] + rng.choice((-1.5, -0.5, 0.5, 2.0)), 1)}
        states.append((when, payload))
        return len(states) - 1

    @staticmethod
    def _apply_dirt(payload: dict, plan: DirtPlan) -> list[str]:
        if plan.has("missing_required") and plan.variant in ("key", "periodStart"):
            payload["evaluationNo" if plan.variant == "key" else "periodStart"] = None
            return ["missing_required"]
        if plan.has("impossible_date"):
            payload["periodStart"] = bad_date(payload["periodStart"], plan.variant)
            return ["impossible_date"]
        if plan.has("negative_amount"):
            payload["totalScore"] = -1
            return ["negative_amount"]
        return apply_town_dirt(payload, plan)


# -------------------------------------------------------------- 执法监督预警

WARNING_TYPES = Weighted(("超期未结案", "应立未立", "法制审核缺失", "处罚畸轻畸重", "文书不规范", "执法全过程记录缺失"),
                         (30, 12, 15, 10, 23, 10))
WARNING_LEVELS = Weighted(("红色", "橙色", "黄色"), (10, 30, 60))
#: 处置期限 (自然日) by level: red warnings are to be dealt with first.
WARNING_LIMITS = {"红色": 3, "橙色": 7, "黄色": 15}
WARNING_RESULTS = Weighted(("已整改", "情况说明", "误报核销"), (70, 22, 8))
WARNINGS_PER_DAY = 6
P_WARNING_LATE, P_WARNING_OPEN, P_TRANSFER = 0.12, 0.03, 0.5
WARNING_VARIANTS = {
    "missing_required": ("key", "town", "warnedAt"),
    "impossible_date": ("handle_before_warning", "far_future", "far_past", "bad_calendar"),
    "town_name": TOWN_NAME_VARIANTS,
}


class WarningGenerator:
    """执法监督预警 raised on a given day: the system flags a case (超期未结案, 法制审核缺失 ...),
    the unit must deal with it by the 处置期限 (3/7/15 days by level); about 12% are dealt with
    late and 3% never, and half of those overdue are turned into a 督办件 (是否转督办)."""

    def __init__(self, seed: int, per_day: int, dirt: DirtProfile, parties: PartyPool) -> None:
        self.seed, self.per_day, self.dirt, self.parties = seed, per_day, dirt, parties

    def __call__(self, d: date) -> list[VersionedRecord]:
        rng, drng = rng_for(self.seed, "warning", d), rng_for(self.seed, "warning-dirt", d)
        return [self.record(d, i, rng, drng) for i in range(daily_count(rng, d, self.per_day))]

    def record(self, d: date, i: int, rng: random.Random, drng: random.Random) -> VersionedRecord:
        unit = UNIT_PICK.pick(rng)
        town = pick_town(rng, d).code
        warning_no = f"YHZFYJ{d:%Y%m%d}{i:04d}"
        warned = at_work(d, rng, 0.5, 6)              # the overnight scan of the cases
        level = WARNING_LEVELS.pick(rng)
        deadline = d + timedelta(days=WARNING_LIMITS[level])
        base = {"warningNo": warning_no, "warningType": WARNING_TYPES.pick(rng), "warningLevel": level,
                "deptCode": unit.code, "deptName": unit_name(unit, town), "townCode": town,
                "caseNo": f"{unit.case_prefix}〔{d.year}〕{rng.randrange(1, 999):03d}{rng.randrange(1000):03d}号",
                "warnedAt": to_iso(warned), "timeLimitDays": WARNING_LIMITS[level], "status": "待处置",
                "handledAt": None, "inTime": None, "result": None, "transferred": False,
                "party": dict(self.parties.pick(rng, 0.4))}
        states = self._lifecycle(rng, d, warned, deadline, base)
        plan = draw_plan(self.dirt, drng, list(DIRT_DEFAULTS), WARNING_VARIANTS, day=d)
        if plan.has("impossible_date") and plan.variant == "handle_before_warning" and \
                states[-1][1]["handledAt"] is None:
            plan.variant = "far_future"
        correction = self._correct(drng, states, d) if plan.has("late_correction") else None
        keyless = plan.has("missing_required") and plan.variant == "key"
        truth_key = f"<null>#{warning_no}" if keyless else warning_no
        return finish_record(truth_key, states, plan, self._apply_dirt, correction, d, MAX_LAG_DAYS)

    @staticmethod
    def _lifecycle(rng: random.Random, d: date, warned: datetime, deadline: date, base: dict) -> list:
        """预警, then (if overdue) 转督办 the day after the deadline, then 处置."""
        states = [(later(warned, rng, 1, 30), dict(base, party=dict(base["party"])))]
        u, limit = rng.random(), (deadline - d).days
        late = u < P_WARNING_LATE + P_WARNING_OPEN
        if late and rng.random() < P_TRANSFER:
            states.append((at_work(deadline + timedelta(days=1), rng, 9, 12),
                           {**states[-1][1], "party": dict(base["party"]), "transferred": True}))
        if u < P_WARNING_OPEN:
            return states
        days = rng.randint(limit + 1, limit + 20) if late else rng.randint(0, limit)
        handled = at_work(d + timedelta(days=days), rng, 13, 18)
        if handled <= states[-1][0]:
            handled = later(states[-1][0], rng, 30, 240)
        states.append((later(handled, rng, 5, 60), {**states[-1][1], "party": dict(base["party"]), "status": "已处置",
                                                     "handledAt": to_iso(handled),
                                                     "inTime": handled.date() <= deadline,
                                                     "result": WARNING_RESULTS.pick(rng)}))
        return states

    @staticmethod
    def _correct(rng: random.Random, states: list, d: date) -> int | None:
        """A late correction: the warning re-classified after the unit's explanation."""
        return reclassify(rng, states, d, "warningType", WARNING_TYPES.items)

    @staticmethod
    def _apply_dirt(payload: dict, plan: DirtPlan) -> list[str]:
        return dated_pair_dirt(payload, plan, ("warningNo", "warnedAt", "handledAt"), "handle_before_warning",
                               timedelta(days=1, hours=2))


def reclassify(rng: random.Random, states: list, d: date, field: str, choices) -> int | None:
    """A late correction that moves ``field`` of the last version to another of ``choices``
    (the case re-classified); the index of the new version, or None past the lag."""
    last_at, last = states[-1]
    when = correction_time(rng, last_at, d, MAX_LAG_DAYS)
    if when is None:
        return None
    payload = {**last, "party": dict(last["party"]), field: rng.choice([c for c in choices if c != last[field]])}
    states.append((when, payload))
    return len(states) - 1


def dated_pair_dirt(payload: dict, plan: DirtPlan, fields: tuple[str, str, str], before: str,
                    back: timedelta) -> list[str]:
    """Dirt on a record with a key, a start and an end time: the key or the start missing, the
    end ``back`` before the start (variant ``before``; none while it has no end), an impossible
    start, or the town's dirt."""
    key, start, end = fields
    payload["party"] = dict(payload["party"])
    if plan.has("missing_required") and plan.variant in ("key", start):
        payload[key if plan.variant == "key" else start] = None
        return ["missing_required"]
    if plan.has("impossible_date"):
        if plan.variant == before:
            if payload[end] is None:
                return []
            payload[end] = to_iso(datetime.fromisoformat(payload[start]) - back)
        else:
            payload[start] = bad_timestamp(payload[start], plan.variant)
        return ["impossible_date"]
    return apply_town_dirt(payload, plan)


# -------------------------------------------------------------- source factory


VOLUMES = (("sup_reviews_per_day", "SIM_SUP_REVIEWS_PER_DAY", REVIEWS_PER_DAY),
           ("sup_complaints_per_day", "SIM_SUP_COMPLAINTS_PER_DAY", COMPLAINTS_PER_DAY),
           ("sup_orders_per_day", "SIM_SUP_ORDERS_PER_DAY", ORDERS_PER_DAY))
#: Read like the others, kept out of VOLUMES so the first three generators are built as before.
WARNING_VOLUME = ("sup_warnings_per_day", "SIM_SUP_WARNINGS_PER_DAY", WARNINGS_PER_DAY)


def _volume(settings: Any, name: str, env: str, default: int) -> int:
    value = getattr(settings, name, None)
    if value is None:
        value = int(os.environ.get(env) or default)
    return value


def validate_settings(settings: Any) -> None:
    for name, env, default in (*VOLUMES, WARNING_VOLUME):
        try:
            value = _volume(settings, name, env, default)
        except ValueError:
            raise ValueError(f"{env} must be an integer") from None
        if not 0 <= value <= 9000:
            raise ValueError(f"{env} must be in 0..9000 (4-digit numbering)")


def build_source(settings: Any) -> SimSource:
    """Build the supervision source from a settings object (see server.SimulatorConfig)."""
    validate_settings(settings)
    eval_dirt = DirtProfile.parse(settings.dirt, EVAL_DIRT_DEFAULTS)
    # the same profile without the evaluations' own kind: the other entities draw as they always did
    dirt = DirtProfile({k: p for k, p in eval_dirt.probabilities.items() if k in DIRT_DEFAULTS})
    parties = party_pool(settings.seed)
    reviews, complaints, orders = (cls(settings.seed, _volume(settings, *volume), dirt, parties) for cls, volume in
                                   zip((ReviewGenerator, ComplaintGenerator, OrderGenerator), VOLUMES))
    evaluations = EvaluationGenerator(settings.seed, eval_dirt, parties)
    warnings = WarningGenerator(settings.seed, _volume(settings, *WARNING_VOLUME), dirt, parties)
    span = dict(start=settings.start_date, end=settings.end_date, max_lag_days=MAX_LAG_DAYS)
    return SimSource("supervision", {
        "reviews": DailyCollection("reviews", reviews, **span),
        "complaints": DailyCollection("complaints", complaints, **span),
        "orders": DailyCollection("orders", orders, **span),
        "evaluations": DailyCollection("evaluations", evaluations, **span),
        "warnings": DailyCollection("warnings", warnings, **span),
    }, api="oauth_paged", path_prefix="/api/zfjd/v1")
