"""Simulated 浙江省投资项目在线审批监管平台 3.0 (工程建设项目审批管理系统) for 余杭区.

Two entities, served by the ``signed_cursor`` API style (AppKey + request signature, cursor
pages, as the province's 公共数据平台 shares its systems) under ``/api/tzxm/v1`` -- a style the
engine already reads for petitions, so this source needs a spec, SQL, suites and this module:

* ``projects`` (赋码项目): a project gets its 项目代码 (``2022-330110-34-03-061002``: year, 区划,
  行业大类, 01 审批 / 02 核准 / 03 备案, serial) when it is 赋码; a new version when its
  施工许可 is issued (已开工) and when it is 竣工验收备案 (已竣工), which carries the platform's
  own 全过程审批用时 in 工作日. About two in five change their 备案 details (总投资, 行业) weeks
  after a version: business as usual, labelled ``late_correction`` in the truth. 4% stop
  (已终止) after the first stage.
* ``approvals`` (审批事项办件): every item of the four 工程建设项目审批 stages (立项用地规划许可,
  工程建设许可, 施工许可, 竣工验收), 受理 then 办结, with the platform's 审批用时 (工作日, not
  counting 补正 or 公示: an item suspended for 补正 takes longer in calendar days than it counts).
  Items of a stage run in parallel; the project's figure is the sum over stages of the longest
  item of each (the platform's 并联审批 count). 工业项目 on “标准地+承诺制” get most items
  in hours (小时制, same day); about 10% of projects have one slow item, so some 一般企业投资项目
  go over 80 days. About 2% of 办件 have their 办结时间 corrected later (a clerical fix).

Between the stages lies the enterprise's own time (design, 中介, construction: months), which the
platform does not count. A project lives up to ``MAX_LAG_DAYS`` from 赋码 to 竣工验收.

Who: project units from the framework's shared party pool (mostly organisations). Where: the
project's 镇街; before 2021-04-09 the old district's twenty -- a project of a 镇街 that moved
to 临平区 goes with it, so nothing of it after the split is served here.

Volume: ``SIM_INV_PROJECTS_PER_DAY`` (default 3: about 1,000 projects a year).
"""

from __future__ import annotations

import os
import random
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from .framework import (
    CURRENT_TOWN_CODES,
    SHARED_DIRT_DEFAULTS,
    SPLIT_DAY,
    TOWN_NAME_VARIANTS,
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
    daily_count,
    day_start,
    draw_plan,
    finish_record,
    later,
    party_pool,
    pick_town,
    rng_for,
    to_iso,
)

MAX_LAG_DAYS = 900
PROJECTS_PER_DAY = 3
SPLIT_AT = day_start(SPLIT_DAY)
STAGES = ("立项用地规划许可", "工程建设许可", "施工许可", "竣工验收")
DEPTS = {
    "YH-FGJ": "杭州市余杭区发展和改革局",
    "YH-GHZY": "杭州市规划和自然资源局余杭分局",
    "YH-ZJJ": "杭州市余杭区住房和城乡建设局",
    "YH-STHJ": "杭州市生态环境局余杭分局",
    "YH-RFB": "杭州市余杭区国防动员办公室",
    "YH-LYSL": "杭州市余杭区林业水利局",
}
P_CHANGE, P_STOP, P_SLOW, P_SUSPEND, P_FIX = 0.4, 0.04, 0.10, 0.15, 0.02


@dataclass(frozen=True)
class Item:
    """One 审批事项: its stage, name, department, who needs it and its usual 工作日."""

    stage: int
    name: str
    dept: str
    applies: str        # all / gov / ent / 核准 / 备案 / share (drawn)
    days: tuple[int, int]
    hourly: bool = False   # can be done in hours (小时制) for a 标准地+承诺制 工业项目
    share: float = 1.0


ITEMS = (
    Item(0, "企业投资项目备案", "YH-FGJ", "备案", (0, 0), True),
    Item(0, "企业投资项目核准", "YH-FGJ", "核准", (5, 15)),
    Item(0, "政府投资项目可行性研究报告审批", "YH-FGJ", "gov", (5, 15)),
    Item(0, "建设项目用地预审与选址意见书核发", "YH-GHZY", "no_standard", (3, 10)),
    Item(0, "建设用地规划许可证核发", "YH-GHZY", "all", (1, 7), True),
    Item(0, "固定资产投资项目节能审查", "YH-FGJ", "share", (3, 10), True, 0.3),
    Item(1, "建设工程规划许可证核发", "YH-GHZY", "all", (3, 12), True),
    Item(1, "建设项目环境影响评价审批", "YH-STHJ", "share", (5, 20), True, 0.5),
    Item(1, "水土保持方案审批", "YH-LYSL", "share", (3, 10), False, 0.25),
    Item(2, "建筑工程施工许可证核发", "YH-ZJJ", "all", (1, 7), True),
    Item(2, "特殊建设工程消防设计审查", "YH-ZJJ", "share", (3, 12), False, 0.4),
    Item(2, "人防工程设计审查", "YH-RFB", "share", (2, 7), True, 0.4),
    Item(3, "规划条件核实", "YH-GHZY", "all", (3, 10)),
    Item(3, "特殊建设工程消防验收", "YH-ZJJ", "share", (3, 10), False, 0.4),
    Item(3, "建设工程竣工验收备案", "YH-ZJJ", "all", (1, 5), True),
)
#: 行业大类 (项目代码 third part) -> 门类.
INDUSTRIAL = Weighted((("34", "制造业"), ("39", "制造业"), ("38", "制造业"), ("26", "制造业")), (30, 30, 25, 15))
SERVICES = Weighted((("65", "信息传输、软件和信息技术服务业"), ("70", "房地产业"), ("72", "租赁和商务服务业")),
                    (45, 30, 25))
PUBLIC = Weighted((("48", "建筑业"), ("78", "水利、环境和公共设施管理业"), ("83", "教育")), (40, 35, 25))
KINDS = Weighted(("备案", "核准", "审批"), (80, 5, 15))
TYPE_CODE = {"审批": "01", "核准": "02", "备案": "03"}
PROJECT_VARIANTS = {
    "missing_required": ("key", "town", "codedAt"),
    "impossible_date": ("far_future", "far_past", "bad_calendar"),
    "town_name": TOWN_NAME_VARIANTS,
}
APPROVAL_VARIANTS = {
    "missing_required": ("key", "town", "acceptedAt", "projectCode"),
    "impossible_date": ("conclude_before_accept", "far_future", "far_past", "bad_calendar"),
    "town_name": TOWN_NAME_VARIANTS,
}
DIRT_DEFAULTS = dict(SHARED_DIRT_DEFAULTS)


def add_workdays(d: date, n: int) -> date:
    """``n`` working days after ``d`` (weekends skipped; holidays are not modelled)."""
    while n > 0:
        d += timedelta(days=1)
        n -= d.weekday() < 5
    return d


def next_workday(d: date) -> date:
    while d.weekday() >= 5:
        d += timedelta(days=1)
    return d


@dataclass
class Plan:
    """A project's whole life, drawn once: the base payload, its 办件 and the stage ends."""

    code: str
    base: dict[str, Any]
    coded: datetime
    approvals: list[tuple[Item, datetime, datetime, int]]   # item, 受理, 办结, 审批用时 (工作日)
    stage_days: list[int]
    stopped: bool
    hourly: bool


class ProjectWorld:
    """Draws each day's projects once (both entities read the same plans)."""

    def __init__(self, seed: int, per_day: int, parties: PartyPool) -> None:
        self.seed, self.per_day, self.parties = seed, per_day, parties
        self._cache: dict[date, list[Plan]] = {}

    def plans(self, d: date) -> list[Plan]:
        if d not in self._cache:
            rng = rng_for(self.seed, "project", d)
            self._cache[d] = [self._plan(d, i, rng) for i in range(daily_count(rng, d, self.per_day))]
        return self._cache[d]

    def _plan(self, d: date, i: int, rng: random.Random) -> Plan:
        kind = KINDS.pick(rng)
        gov = kind == "审批"
        industrial = not gov and rng.random() < 0.45
        code2, industry = (PUBLIC if gov else INDUSTRIAL if industrial else SERVICES).pick(rng)
        standard = industrial and rng.random() < 0.7
        commitment = standard and rng.random() < 0.8
        town = pick_town(rng, d).code
        code = f"{d.year}-330110-{code2}-{TYPE_CODE[kind]}-{d.timetuple().tm_yday:03d}{i:03d}"
        coded = at_work(d, rng, 8.5, 17)
        unit = dict(self.parties.pick(rng, 0.03))
        base = {
            "projectCode": code, "projectName": f"{unit['name'][:12]}{rng.choice(('新建', '扩建', '技改'))}"
                                                f"{'厂房' if industrial else '综合楼' if not gov else '工程'}项目",
            "projectType": "政府投资" if gov else "企业投资", "managementType": kind,
            "isGeneral": kind == "备案" and rng.random() < 0.92, "isIndustrial": industrial,
            "isStandardLand": standard, "isCommitment": commitment, "industry": industry,
            "totalInvestment": round(rng.lognormvariate(9.0, 1.0), 2), "townCode": town,
            "codedAt": to_iso(coded), "permitOn": None, "completedOn": None, "approvalDays": None,
            "status": "审批中", "unit": unit, "platformVersion": "3.0",
        }
        plan = Plan(code, base, coded, [], [], rng.random() < P_STOP, commitment)
        self._approvals(plan, rng, kind, standard)
        return plan

    def _approvals(self, plan: Plan, rng: random.Random, kind: str, standard: bool) -> None:
        """The four stages in turn, items of a stage in parallel, the enterprise's time between."""
        start = plan.coded.date()
        slow = rng.randrange(len(ITEMS)) if rng.random() < P_SLOW else None
        gaps = (rng.randint(20, 90), rng.randint(15, 60), rng.randint(150, 360))
        for stage in range(4):
            items = [(n, it) for n, it in enumerate(ITEMS) if it.stage == stage and self._applies(it, kind, standard, rng)]
            longest = 0
            for n, it in items:
                accepted = plan.coded if (stage == 0 and it.name == "企业投资项目备案") else \
                    at_work(next_workday(start + timedelta(days=rng.randint(0, 2))), rng, 8.5, 16.5)
                accepted = max(accepted, plan.coded)     # nothing is 受理 before the project has its code
                done, days = self._handle(rng, it, accepted, plan.hourly, n == slow)
                plan.approvals.append((it, accepted, done, days))
                longest = max(longest, days)
            plan.stage_days.append(longest)
            if stage == 0 and plan.stopped:
                return
            end = max(a[2] for a in plan.approvals)
            if stage < 3:
                start = end.date() + timedelta(days=gaps[stage])

    @staticmethod
    def _applies(it: Item, kind: str, standard: bool, rng: random.Random) -> bool:
        if it.applies == "share":
            return rng.random() < it.share
        return {"all": True, "gov": kind == "审批", "备案": kind == "备案", "核准": kind == "核准",
                "no_standard": not standard}[it.applies]

    @staticmethod
    def _handle(rng: random.Random, it: Item, accepted: datetime, hourly: bool, slow: bool) -> tuple[datetime, int]:
        """办结 and the platform's 审批用时: in hours (小时制), or in 工作日 with an optional 补正
        suspension the count leaves out."""
        if (it.hourly and hourly and rng.random() < 0.85 and not slow) or it.days == (0, 0):
            return accepted + timedelta(minutes=rng.randint(20, 330)), 0
        # A slow item (专家评审 rounds, a 听证, a department's backlog) is what takes a project past 80 days.
        days = rng.randint(*it.days) + (rng.randint(30, 70) if slow else 0)
        suspended = rng.randint(3, 10) if rng.random() < P_SUSPEND else 0
        done_day = add_workdays(accepted.date(), days) + timedelta(days=suspended)
        return at_work(next_workday(done_day), rng, 9, 17.5), days


# -------------------------------------------------------------- projects


def _before_split(plan: Plan, states: list[tuple[datetime, dict]]) -> list[tuple[datetime, dict]]:
    """A project of a 镇街 that moved to 临平区 went with it: nothing after the split is served."""
    if plan.base["townCode"] in CURRENT_TOWN_CODES:
        return states
    return [s for s in states if s[0] < SPLIT_AT]


class ProjectGenerator:
    def __init__(self, seed: int, world: ProjectWorld, dirt: DirtProfile) -> None:
        self.seed, self.world, self.dirt = seed, world, dirt

    def __call__(self, d: date) -> list[VersionedRecord]:
        drng = rng_for(self.seed, "project-dirt", d)
        out = []
        for plan in self.world.plans(d):
            rec = self.record(plan, d, drng)
            if rec is not None:
                out.append(rec)
        return out

    def record(self, plan: Plan, d: date, drng: random.Random) -> VersionedRecord | None:
        rng = rng_for(self.seed, "project-life", plan.code)
        states = self.states(plan, rng)
        change = self._change(rng, states, d)
        states = _before_split(plan, states)
        if not states:
            return None
        change = change if change is not None and change < len(states) else None
        dirt = draw_plan(self.dirt, drng, [k for k in DIRT_DEFAULTS if k != "late_correction"], PROJECT_VARIANTS, day=d)
        keyless = dirt.has("missing_required") and dirt.variant == "key"
        truth_key = f"<null>#{plan.code}" if keyless else plan.code
        return finish_record(truth_key, states, dirt, _project_dirt, change, d, MAX_LAG_DAYS)

    @staticmethod
    def states(plan: Plan, rng: random.Random) -> list[tuple[datetime, dict]]:
        """赋码; 已终止 or 施工许可 (已开工); 竣工验收备案 (已竣工) with the 全过程审批用时."""
        base = plan.base
        states = [(later(plan.coded, rng, 5, 60), dict(base, unit=dict(base["unit"])))]
        ends = {}
        for it, _, done, _ in plan.approvals:
            ends[it.stage] = max(ends.get(it.stage, done), done)
        if plan.stopped:
            states.append((later(ends[0], rng, 60, 60 * 24 * 20), {**base, "unit": dict(base["unit"]), "status": "已终止"}))
            return states
        permit = ends[2]
        started = {**states[-1][1], "unit": dict(base["unit"]), "permitOn": permit.date().isoformat(),
                   "status": "已开工"}
        states.append((later(permit, rng, 10, 240), started))
        done = ends[3]
        states.append((later(done, rng, 10, 240), {**started, "unit": dict(base["unit"]),
                                                   "completedOn": done.date().isoformat(),
                                                   "approvalDays": sum(plan.stage_days), "status": "已竣工"}))
        return states

    @staticmethod
    def _change(rng: random.Random, states: list, d: date) -> int | None:
        """项目信息变更: 5-40 days after a version (before the next), 总投资 or 行业 revised;
        the later versions carry it."""
        if rng.random() >= P_CHANGE:
            return None
        j = rng.randrange(len(states))
        when = at_work(states[j][0].date() + timedelta(days=rng.randint(5, 40)), rng, 9, 17)
        if when <= states[j][0] or (j + 1 < len(states) and when >= states[j + 1][0]) or \
                (when.date() - d).days > MAX_LAG_DAYS:
            return None
        field = rng.choice(("totalInvestment", "industry"))
        value = round(states[j][1]["totalInvestment"] * rng.uniform(0.6, 1.5), 2) if field == "totalInvestment" \
            else rng.choice([i for _, i in (*INDUSTRIAL.items, *SERVICES.items, *PUBLIC.items) if i != states[j][1]["industry"]])
        for k in range(j + 1, len(states)):
            states[k] = (states[k][0], {**states[k][1], field: value})
        states.insert(j + 1, (when, {**states[j][1], "unit": dict(states[j][1]["unit"]), field: value}))
        return j + 1


def _project_dirt(payload: dict, plan: DirtPlan) -> list[str]:
    payload["unit"] = dict(payload["unit"])
    if plan.has("missing_required") and plan.variant in ("key", "codedAt"):
        payload["projectCode" if plan.variant == "key" else "codedAt"] = None
        return ["missing_required"]
    if plan.has("impossible_date"):
        payload["codedAt"] = bad_timestamp(payload["codedAt"], plan.variant)
        return ["impossible_date"]
    return apply_town_dirt(payload, plan)


# -------------------------------------------------------------- 办件


class ApprovalGenerator:
    """The 办件 of the projects 赋码 on a day (each 受理, then 办结)."""

    def __init__(self, seed: int, world: ProjectWorld, dirt: DirtProfile) -> None:
        self.seed, self.world, self.dirt = seed, world, dirt

    def __call__(self, d: date) -> list[VersionedRecord]:
        drng = rng_for(self.seed, "approval-dirt", d)
        out = []
        for plan in self.world.plans(d):
            for n, (it, accepted, done, days) in enumerate(plan.approvals):
                rec = self.record(plan, n, it, accepted, done, days, d, drng)
                if rec is not None:
                    out.append(rec)
        return out

    def record(self, plan: Plan, n: int, it: Item, accepted: datetime, done: datetime, days: int,
               d: date, drng: random.Random) -> VersionedRecord | None:
        rng = rng_for(self.seed, "approval-life", plan.code, n)
        case_no = f"{plan.code.replace('-', '')}{n + 1:02d}"
        base = {
            "caseNo": case_no, "projectCode": plan.code, "stage": STAGES[it.stage], "itemName": it.name,
            "deptCode": it.dept, "deptName": DEPTS[it.dept], "townCode": plan.base["townCode"],
            "acceptedAt": to_iso(accepted), "concludedAt": None, "approvalDays": None,
            "isCommitment": plan.base["isCommitment"] and it.hourly, "result": None,
            "applicant": dict(plan.base["unit"]), "handler": DEPTS[it.dept],
        }
        result = "准予许可" if rng.random() < 0.97 else rng.choice(("不予许可", "撤回"))
        done_payload = {**base, "applicant": dict(base["applicant"]), "concludedAt": to_iso(done),
                        "approvalDays": days, "result": result}
        states = [(later(accepted, rng, 1, 15), base), (later(done, rng, 1, 30), done_payload)]
        fix = self._fix(rng, states, d)
        states = _before_split(plan, states)
        if not states:
            return None
        fix = fix if fix is not None and fix < len(states) else None
        dirt = draw_plan(self.dirt, drng, [k for k in DIRT_DEFAULTS if k != "late_correction"], APPROVAL_VARIANTS,
                         day=accepted.date())
        if dirt.has("impossible_date") and dirt.variant == "conclude_before_accept" and len(states) < 2:
            dirt.variant = "far_future"
        keyless = dirt.has("missing_required") and dirt.variant == "key"
        truth_key = f"<null>#{case_no}" if keyless else case_no
        return finish_record(truth_key, states, dirt, _approval_dirt, fix, d, MAX_LAG_DAYS)

    @staticmethod
    def _fix(rng: random.Random, states: list, d: date) -> int | None:
        """办结时间 corrected 5-40 days later: the clerk had entered the wrong hour that day."""
        if rng.random() >= P_FIX:
            return None
        last_at, last = states[-1]
        when = at_work(last_at.date() + timedelta(days=rng.randint(5, 40)), rng, 9, 17)
        if (when.date() - d).days > MAX_LAG_DAYS:
            return None
        accepted, concluded = datetime.fromisoformat(last["acceptedAt"]), datetime.fromisoformat(last["concludedAt"])
        fixed = max(accepted + timedelta(minutes=5), concluded - timedelta(minutes=rng.randint(10, 180)))
        states.append((when, {**last, "applicant": dict(last["applicant"]), "concludedAt": to_iso(fixed)}))
        return len(states) - 1


def _approval_dirt(payload: dict, plan: DirtPlan) -> list[str]:
    payload["applicant"] = dict(payload["applicant"])
    if plan.has("missing_required") and plan.variant in ("key", "acceptedAt", "projectCode"):
        payload[{"key": "caseNo"}.get(plan.variant, plan.variant)] = None
        return ["missing_required"]
    if plan.has("impossible_date"):
        if plan.variant == "conclude_before_accept":
            if payload["concludedAt"] is None:
                return []   # not concluded yet in this version
            accepted = datetime.fromisoformat(payload["acceptedAt"])
            payload["concludedAt"] = to_iso(accepted - timedelta(days=3, hours=2))
        else:
            payload["acceptedAt"] = bad_timestamp(payload["acceptedAt"], plan.variant)
        return ["impossible_date"]
    return apply_town_dirt(payload, plan)


# -------------------------------------------------------------- source factory


def _volume(settings: Any) -> int:
    value = getattr(settings, "inv_projects_per_day", None)
    if value is None:
        try:
            value = int(os.environ.get("SIM_INV_PROJECTS_PER_DAY") or PROJECTS_PER_DAY)
        except ValueError:
            raise ValueError("SIM_INV_PROJECTS_PER_DAY must be an integer") from None
    if not 0 <= value <= 999:
        raise ValueError("SIM_INV_PROJECTS_PER_DAY must be in 0..999 (3-digit serials)")
    return value


def build_source(settings: Any) -> SimSource:
    """Build the investment source from a settings object (see server.SimulatorConfig)."""
    dirt = DirtProfile.parse(settings.dirt, DIRT_DEFAULTS)
    world = ProjectWorld(settings.seed, _volume(settings), party_pool(settings.seed))
    span = dict(start=settings.start_date, end=settings.end_date, max_lag_days=MAX_LAG_DAYS, cache_days=MAX_LAG_DAYS + 30)
    return SimSource("investment", {
        "projects": DailyCollection("projects", ProjectGenerator(settings.seed, world, dirt), **span),
        "approvals": DailyCollection("approvals", ApprovalGenerator(settings.seed, world, dirt), **span),
    }, api="signed_cursor", path_prefix="/api/tzxm/v1")
