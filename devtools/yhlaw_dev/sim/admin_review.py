"""Simulated 行政复议 and 行政应诉 exports for 余杭区: daily XML files in a drop folder.

Two systems of 区司法局 export here: the 行政复议办案系统 (智慧复议: cases against district
departments and 镇街 governments) and the 行政应诉 ledger (the courts' 行政 first-instance cases
against the same bodies; most are heard cross-district by 杭州铁路运输法院, 浙8601).

Not an HTTP API: like the courts' drop (``courts.DropFolder``, reused here) the simulator process
serves only ``/healthz`` and ``/_sim/*``; the "system" is the folder ``SIM_DROP_DIR``.

Per export day D (SIM_START_DATE..SIM_END_DATE), delivered D+1 01:30 +08:00:

* ``xzfy_YYYYMMDD.xml`` (行政复议) and ``xzys_YYYYMMDD.xml`` (行政应诉): UTF-8, root
  ``<行政复议案件导出>`` / ``<行政应诉案件导出>`` with an ``<导出信息>`` header and one ``<记录>``
  per case whose state changed on D, as at the end of D: nested ``<申请人列表>``/``<原告列表>``
  (PII), ``<被申请人>``/``<被告>`` (a department or a 镇街 government), ``<庭审记录>`` and
  ``<负责人出庭>``.
* ``late_correction`` (per export): the file is re-delivered 3-20 days later as
  ``..._v2.xml`` (version 2). Its first delivery lacked results the clerk entered only later
  (结果 / 判决结果 of cases closed that day); the re-delivery has them (or, if no case closed,
  one corrected 申请事项类别 / 案由).

Each data file is followed by ``<file>.manifest.json``; the ``half_written`` fault writes a
truncated file first (DropFolder). Record dirt is the shared kinds (duplicate, missing key /
date / 住所地, unknown and pre-2021 towns, town names, impossible dates). Ground truth
(``/_sim/truth``): one item per distinct row of each delivered file, ``updatedAt`` = the
file's delivered_at.
"""

from __future__ import annotations

import copy
import hashlib
import threading
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable
from xml.sax.saxutils import escape as xml_escape, quoteattr

from .courts import DropFolder, Row, _ByDay
from .framework import (
    SHARED_DIRT_DEFAULTS,
    DailyCollection,
    DirtPlan,
    DirtProfile,
    SimSource,
    Version,
    VersionedRecord,
    Weighted,
    at_work,
    daily_count,
    day_start,
    draw_plan,
    finish_record,
    later,
    party_pool,
    pick_town,
    rng_for,
    town_unit,
    town_value,
)

NEEDS_CLIENT_SECRET = False

REVIEWS_PER_DAY = 5
LITIGATIONS_PER_DAY = 3
REVIEW_MAX_LAG = 120        # 收案 .. 受理 (<= 5) + 60 + 30 延长 + late
LITIGATION_MAX_LAG = 150    # 登记 .. hearings .. 审结
DELIVERY_MAX_LAG = 22       # v1 at D+1, v2 at D+1+3..20
ENTITIES = {"reconsideration": "xzfy", "litigation": "xzys"}
ROOTS = {"reconsideration": "行政复议案件导出", "litigation": "行政应诉案件导出"}
SYSTEMS = {"reconsideration": "行政复议办案系统", "litigation": "行政应诉台账"}
LIST_ITEMS = {"申请人列表": "申请人", "原告列表": "原告", "庭审记录": "庭审"}

# District departments (include/reference/departments.csv) that are 被申请人 / 被告.
DEPARTMENTS = Weighted((
    ("YH-ZHZF", "杭州市余杭区综合行政执法局"), ("YH-SCJG", "杭州市余杭区市场监督管理局"),
    ("YH-STHJ", "杭州市生态环境局余杭分局"), ("YH-YJGL", "杭州市余杭区应急管理局"),
    ("YH-WSJK", "杭州市余杭区卫生健康局"), ("YH-JTYS", "杭州市余杭区交通运输局"),
    ("YH-NYNC", "杭州市余杭区农业农村局"), ("YH-WGLT", "杭州市余杭区文化和广电旅游体育局"),
), (30, 25, 10, 6, 6, 10, 8, 5))
P_TOWN_BODY = 0.25          # 被申请人 / 被告 is a 镇街 government (征地、拆迁、拆违、环境治理 ...)
CHANNELS = Weighted(("网上申请", "当面递交", "邮寄"), (45, 35, 20))
CATEGORIES = Weighted(("行政处罚", "行政强制", "行政许可", "政府信息公开", "行政不作为", "征收补偿", "行政确认", "其他"),
                      (30, 10, 8, 18, 12, 10, 6, 6))
TOWN_CATEGORIES = Weighted(("行政强制", "政府信息公开", "行政不作为", "征收补偿", "行政处罚"), (30, 20, 15, 25, 10))
REVIEW_RESULTS = Weighted(("维持", "驳回", "撤销", "变更", "确认违法", "责令履行", "调解", "和解", "撤回", "终止"),
                          (42, 14, 8, 2, 5, 4, 5, 6, 11, 3))
QUICK_RESULTS = ("调解", "和解", "撤回", "终止")
CAUSES = Weighted(("行政处罚", "行政强制", "行政许可", "政府信息公开", "行政不作为", "征收补偿", "行政协议", "行政确认"),
                  (28, 14, 6, 18, 12, 12, 5, 5))
# Where 余杭's first-instance 行政 cases are heard: mostly 杭州铁路运输法院 (cross-district
# concentrated jurisdiction); 不动产 (征收补偿) by the court of the place (余杭区人民法院); cases
# with the district government as 复议机关 co-defendant partly 异地交叉 (拱墅 / 萧山).
COURTS = {"浙8601": "杭州铁路运输法院", "浙0110": "杭州市余杭区人民法院",
          "浙0105": "杭州市拱墅区人民法院", "浙0109": "杭州市萧山区人民法院"}
HEARING_MODES = Weighted(("现场", "远程视频"), (85, 15))
JUDGMENTS = Weighted(("驳回诉讼请求", "准予撤诉", "驳回起诉", "撤销", "确认违法", "责令履行", "变更", "确认无效"),
                     (55, 12, 8, 10, 8, 4, 1, 2))
LOST = {"撤销", "确认违法", "责令履行", "变更", "确认无效"}
DEPT_HEADS = ("局长", "副局长", "副局长", "副局长")
TOWN_HEADS = {"街道": ("主任", "副主任", "副主任"), "镇": ("镇长", "副镇长", "副镇长")}

# Both systems are keyed by hand from paper files (the 应诉 ledger entirely: a clerk copies the
# court's 应诉通知书), and a case often appears twice when a ledger row is re-entered: more
# missing and mistyped values and duplicates than the district's other systems have.
DIRT_DEFAULTS = {**SHARED_DIRT_DEFAULTS, "duplicate": 0.04, "missing_required": 0.03, "unknown_town": 0.02,
                 "impossible_date": 0.02, "late_correction": 0.08}
RECORD_DIRT = ("duplicate", "missing_required", "unknown_town", "pre2021_town", "town_name", "impossible_date")
VARIANTS = {
    "missing_required": ("key", "dated", "town"),
    "impossible_date": ("close_before_file", "far_future", "far_past", "bad_calendar"),
    "town_name": ("name", "short", "code9"),
}
# Per entity: (key field, dated field, party list, closing date, result fields)
SHAPE = {
    "reconsideration": ("复议案号", "收案日期", "申请人列表", "审结日期", ("结果",)),
    "litigation": ("案号", "立案日期", "原告列表", "审结日期", ("判决结果", "是否败诉")),
}


def validate_settings(settings: Any) -> None:
    if not settings.drop_dir:
        raise ValueError("SIM_DROP_DIR is not set; the review source writes its exports there")
    if settings.half_written_seconds < 0:
        raise ValueError("SIM_HALF_WRITTEN_SECONDS must be >= 0")


@lru_cache(maxsize=64)
def _offsets(seed: int, what: str, year: int, per_day: int) -> tuple[int, ...]:
    """Cases of ``year`` before each of its days (the case numbers run per year)."""
    out, total, d = [], 0, date(year, 1, 1)
    while d.year == year:
        out.append(total)
        total += daily_count(rng_for(seed, what, "count", d), d, per_day)
        d += timedelta(days=1)
    return tuple(out)


def _body(rng, d: date) -> dict[str, str]:
    """A 被申请人 / 被告: a district department, or a 镇街 government."""
    if rng.random() < P_TOWN_BODY:
        code = pick_town(rng, d).code
        return {"类型": "镇街政府", "部门代码": "", "镇街": code, "名称": town_unit(code)}
    code, name = DEPARTMENTS.pick(rng)
    return {"类型": "区级部门", "部门代码": code, "镇街": "", "名称": name}


def _parties(pool, rng, d: date) -> list[dict[str, str]]:
    out = []
    for _ in range(1 if rng.random() < 0.85 else rng.randint(2, 3)):
        p = pool.pick(rng, 0.75)
        out.append({"类型": "自然人" if p["type"] == "person" else "法人", "名称": p["name"], "证件号码": p["idNo"],
                    "手机号码": p["phone"], "住所地": pick_town(rng, d).code})
    return out


class _States:
    """A case's states, one per day it changed (the export shows the state at the end of a day).
    States share their nested objects: a change replaces a nested value, never edits it (the dirt
    copies the one list it edits)."""

    def __init__(self, rng, first_at: datetime, payload: dict):
        self.rng, self.items = rng, [(first_at, payload)]

    def step(self, day: date, **changes: Any) -> None:
        prev_at, prev = self.items[-1]
        payload = {**prev, **changes}
        if day <= prev_at.date():
            self.items[-1] = (later(prev_at, self.rng, 10, 90), payload)
        else:
            self.items.append((at_work(day, self.rng, 9, 17.5), payload))


def _dirt_for(entity: str) -> Callable[[dict, DirtPlan], list[str]]:
    key, dated, parties, closed, _ = SHAPE[entity]

    def apply(payload: dict, plan: DirtPlan) -> list[str]:
        if not plan.kinds:
            return []
        payload[parties] = copy.deepcopy(payload[parties])     # versions share nothing they dirty
        first = payload[parties][0]
        if plan.has("missing_required"):
            if plan.variant == "town":
                first["住所地"] = ""
            else:
                payload[key if plan.variant == "key" else dated] = ""
            return ["missing_required"]
        if plan.has("impossible_date"):
            if plan.variant == "close_before_file":
                if not payload[closed]:
                    return []
                payload[closed] = (date.fromisoformat(payload[dated]) - timedelta(days=7)).isoformat()
            else:
                real = payload[dated]
                payload[dated] = {"far_future": "2099" + real[4:], "far_past": "1900" + real[4:]}.get(
                    plan.variant, real[:4] + "-02-30")
            return ["impossible_date"]
        if plan.has("unknown_town") or plan.has("pre2021_town"):
            first["住所地"] = plan.value
            return ["unknown_town" if plan.has("unknown_town") else "pre2021_town"]
        if plan.has("town_name"):
            first["住所地"] = town_value(first["住所地"], plan.variant)
            return ["town_name"]
        return []
    return apply


def _finish(entity: str, truth_key: str, states: _States, seed: int, d: date, i: int, lag: int,
            dirt: DirtProfile) -> VersionedRecord:
    plan = draw_plan(dirt, rng_for(seed, entity, "dirt", d, i), RECORD_DIRT, VARIANTS, day=d)
    closed = SHAPE[entity][3]
    if plan.has("impossible_date") and plan.variant == "close_before_file" and not states.items[-1][1][closed]:
        plan.variant = "far_future"
    if plan.has("missing_required") and plan.variant == "key":
        truth_key = f"<null>#{truth_key}"
    return finish_record(truth_key, states.items, plan, _dirt_for(entity), None, d, lag)


class ReviewGenerator:
    """行政复议 cases received on a day (收案日期), each with its versions."""

    def __init__(self, seed: int, dirt: DirtProfile, start: date, end: date, per_day: int = REVIEWS_PER_DAY):
        self.seed, self.dirt, self.start, self.end, self.per_day = seed, dirt, start, end, per_day
        self.pool = party_pool(seed)

    def count(self, d: date) -> int:
        return daily_count(rng_for(self.seed, "review", "count", d), d, self.per_day)

    def number(self, d: date, i: int) -> str:
        first = _offsets(self.seed, "review", d.year, self.per_day)[d.timetuple().tm_yday - 1] + 1
        return f"余政复〔{d.year}〕{first + i}号"

    def __call__(self, d: date) -> list[VersionedRecord]:
        return [self.record(d, i) for i in range(self.count(d))]

    def record(self, d: date, i: int) -> VersionedRecord:
        rng = rng_for(self.seed, "review", "life", d, i)
        body = _body(rng, d)
        category = (TOWN_CATEGORIES if body["类型"] == "镇街政府" else CATEGORIES).pick(rng)
        base = {"复议案号": self.number(d, i), "申请日期": (d - timedelta(days=rng.choice((0, 0, 1, 2, 3, 5)))).isoformat(),
                "收案日期": d.isoformat(), "受理日期": "", "申请方式": CHANNELS.pick(rng), "申请事项类别": category,
                "被申请人": body, "审理期限": "", "延长期限": "", "审结日期": "", "结果": "",
                "申请人列表": _parties(self.pool, rng, d)}
        states = _States(rng, at_work(d, rng, 8.5, 17.5), base)
        accepted = d + timedelta(days=rng.randint(1, 5))
        states.step(accepted, 受理日期=accepted.isoformat(), 审理期限="60", 延长期限="0")
        result = REVIEW_RESULTS.pick(rng)
        extended = result not in QUICK_RESULTS and rng.random() < 0.12
        if extended:
            states.step(accepted + timedelta(days=rng.randint(45, 58)), 延长期限="30")
        limit = 90 if extended else 60
        days = rng.randint(10, 50) if result in QUICK_RESULTS else rng.randint(61, 88) if extended else rng.randint(25, 58)
        if rng.random() < 0.04:      # 超期审结
            days = limit + rng.randint(1, 15)
        closed = accepted + timedelta(days=days)
        states.step(closed, 审结日期=closed.isoformat(), 结果=result)
        return _finish("reconsideration", base["复议案号"], states, self.seed, d, i, REVIEW_MAX_LAG, self.dirt)


class LitigationGenerator:
    """行政应诉 cases registered on a day (收到应诉通知), each with its versions."""

    def __init__(self, seed: int, dirt: DirtProfile, reviews: ReviewGenerator, per_day: int = LITIGATIONS_PER_DAY):
        self.seed, self.dirt, self.reviews, self.per_day = seed, dirt, reviews, per_day
        self.pool = party_pool(seed)

    def count(self, d: date) -> int:
        return daily_count(rng_for(self.seed, "litigation", "count", d), d, self.per_day)

    def __call__(self, d: date) -> list[VersionedRecord]:
        return [self.record(d, i) for i in range(self.count(d))]

    def _court(self, rng, cause: str, co_defendant: bool) -> str:
        if cause == "征收补偿" and rng.random() < 0.7:
            return "浙0110"
        if co_defendant and rng.random() < 0.4:
            return rng.choice(("浙0105", "浙0109"))
        return "浙8601"

    def record(self, d: date, i: int) -> VersionedRecord:
        rng = rng_for(self.seed, "litigation", "life", d, i)
        body, cause = _body(rng, d), CAUSES.pick(rng)
        earlier = d - timedelta(days=rng.randint(70, 150))
        co_defendant = rng.random() < 0.3 and self.reviews.count(earlier) > 0
        court = self._court(rng, cause, co_defendant)
        seq = _offsets(self.seed, "litigation", d.year, self.per_day)[d.timetuple().tm_yday - 1] + i
        filed = max(d - timedelta(days=rng.randint(2, 12)), date(d.year, 1, 1))
        base = {"案号": f"({d.year}){court}行初{100 + 3 * seq + rng.randint(0, 2)}号", "管辖法院": COURTS[court],
                "立案日期": filed.isoformat(), "登记日期": d.isoformat(), "案由": cause, "被告": body,
                "复议机关共同被告": "是" if co_defendant else "否",
                "原复议案号": self.reviews.number(earlier, 0) if co_defendant else "",
                "庭审记录": [], "负责人出庭": {"是否出庭": "", "出庭负责人职务": ""},
                "判决结果": "", "是否败诉": "", "审结日期": "", "原告列表": _parties(self.pool, rng, d)}
        states = _States(rng, at_work(d, rng, 8.5, 17.5), base)
        fate = rng.random()
        if fate < 0.15:              # 撤诉 / 驳回起诉 before any hearing
            closed = d + timedelta(days=rng.randint(10, 45))
            judgment = "准予撤诉" if fate < 0.11 else "驳回起诉"
            states.step(closed, 审结日期=closed.isoformat(), 判决结果=judgment, 是否败诉="否")
        else:
            hearing = d + timedelta(days=rng.randint(25, 70))
            appeared = rng.random() < 0.9
            titles = DEPT_HEADS if body["类型"] == "区级部门" else TOWN_HEADS["街道" if "街道" in body["名称"] else "镇"]
            record = [{"开庭日期": hearing.isoformat(), "庭审方式": HEARING_MODES.pick(rng)}]
            states.step(hearing, 庭审记录=record, 负责人出庭={"是否出庭": "是" if appeared else "否",
                                                     "出庭负责人职务": rng.choice(titles) if appeared else ""})
            last = hearing
            if rng.random() < 0.15:
                last = hearing + timedelta(days=rng.randint(15, 30))
                states.step(last, 庭审记录=record + [{"开庭日期": last.isoformat(), "庭审方式": HEARING_MODES.pick(rng)}])
            if rng.random() < 0.95:
                closed, judgment = last + timedelta(days=rng.randint(10, 45)), JUDGMENTS.pick(rng)
                states.step(closed, 审结日期=closed.isoformat(), 判决结果=judgment,
                            是否败诉="是" if judgment in LOST else "否")
        return _finish("litigation", base["案号"], states, self.seed, d, i, LITIGATION_MAX_LAG, self.dirt)


# --------------------------------------------------------------------------
# deliveries


@dataclass(frozen=True)
class Delivery:
    """One XML file (plus its manifest) and when it is delivered (the attributes DropFolder reads)."""

    name: str
    entity: str
    version: int
    export_date: date
    delivered_at: datetime
    format: str = "xml"
    declared_encoding: str = "utf-8"


class ReviewExports:
    """What the two systems deliver for each export day: schedule, rows and bytes."""

    def __init__(self, settings: Any) -> None:
        self.seed, self.start, self.end = settings.seed, settings.start_date, settings.end_date
        self.dirt = DirtProfile.parse(settings.dirt, DIRT_DEFAULTS)
        reviews = ReviewGenerator(self.seed, self.dirt, self.start, self.end)
        generators = {"reconsideration": (reviews, REVIEW_MAX_LAG),
                      "litigation": (LitigationGenerator(self.seed, self.dirt, reviews), LITIGATION_MAX_LAG)}
        self._by_day = {e: _ByDay(DailyCollection(f"review_{e}", g, self.start, self.end, lag), lag)
                        for e, (g, lag) in generators.items()}
        self._schedule: dict[date, tuple[Delivery, ...]] = {}
        self._lock = threading.Lock()

    def schedule(self, d: date) -> tuple[Delivery, ...]:
        if not self.start <= d <= self.end:
            return ()
        with self._lock:
            cached = self._schedule.get(d)
        if cached is not None:
            return cached
        at = day_start(d + timedelta(days=1)) + timedelta(hours=1, minutes=30)
        p_v2 = self.dirt.probabilities.get("late_correction", 0.0)
        out = []
        for entity, prefix in ENTITIES.items():
            rng = rng_for(self.seed, "review-export", entity, d)
            out.append(Delivery(f"{prefix}_{d:%Y%m%d}.xml", entity, 1, d, at))
            if rng.random() < p_v2:
                out.append(Delivery(f"{prefix}_{d:%Y%m%d}_v2.xml", entity, 2, d,
                                    at + timedelta(days=rng.randint(3, 20))))
        result = tuple(out)
        with self._lock:
            self._schedule[d] = result
        return result

    def _corrected(self, entity: str, d: date) -> bool:
        return any(x.entity == entity and x.version == 2 for x in self.schedule(d))

    def rows(self, delivery: Delivery) -> list[Row]:
        """The distinct rows of a delivery. The first delivery of a day that is re-delivered lacks
        some results (entered late); the re-delivery has every row as it truly was."""
        versions = self._by_day[delivery.entity].versions_on(delivery.export_date)
        rows = [Row(key, {k: v for k, v in version.payload.items() if k != "updatedAt"}, version.dirt)
                for key, version in versions]
        if not self._corrected(delivery.entity, delivery.export_date) or not rows:
            return rows
        late = self._late_rows(delivery.entity, delivery.export_date, rows)
        if delivery.version == 1:
            results = SHAPE[delivery.entity][4]
            return [Row(r.key, {**r.values, **{f: "" for f in results}} if n in late else r.values, r.dirt)
                    for n, r in enumerate(rows)]
        return [Row(r.key, self._amended(delivery.entity, r.values, late.get(n)), r.dirt + ("late_correction",))
                if n in late else r for n, r in enumerate(rows)]

    def _late_rows(self, entity: str, d: date, rows: list[Row]) -> dict[int, str]:
        """Rows the re-delivery changes: index -> 'result' (entered late) or 'category'."""
        rng = rng_for(self.seed, "review-late", entity, d)
        closed_field, result_field = SHAPE[entity][3], SHAPE[entity][4][0]
        late = {n: "result" for n, r in enumerate(rows)
                if r.values[closed_field] == d.isoformat() and r.values[result_field] and rng.random() < 0.5}
        return late or {rng.randrange(len(rows)): "category"}

    @staticmethod
    def _amended(entity: str, values: dict, what: str | None) -> dict:
        if what == "result":
            return values
        field = "申请事项类别" if entity == "reconsideration" else "案由"
        choices = (CATEGORIES if entity == "reconsideration" else CAUSES).items
        return {**values, field: next(c for c in choices if c != values[field])}

    def deliveries_of(self, entity: str, d: date) -> list[VersionedRecord]:
        """Truth view: each distinct row of the day's files of ``entity``, stamped with the file's delivery time."""
        return [VersionedRecord(r.key, (Version(x.delivered_at, r.values, r.dirt),))
                for x in self.schedule(d) if x.entity == entity for r in self.rows(x)]

    def render(self, delivery: Delivery) -> tuple[bytes, int]:
        """The XML file's bytes and its number of records."""
        rows = [r for r in self.rows(delivery) for _ in range(r.copies)]
        root = ROOTS[delivery.entity]
        out = ['<?xml version="1.0" encoding="UTF-8"?>',
               f'<{root} 系统={quoteattr(SYSTEMS[delivery.entity])} 导出日期="{delivery.export_date}" '
               f'版本="{delivery.version}">',
               f"  <导出信息><导出单位>杭州市余杭区司法局</导出单位><记录数>{len(rows)}</记录数></导出信息>"]
        out += ["  <记录>" + "".join(_xml(k, v) for k, v in r.values.items()) + "</记录>" for r in rows]
        out.append(f"</{root}>")
        return ("\n".join(out) + "\n").encode("utf-8"), len(rows)


def _xml(tag: str, value: Any) -> str:
    if isinstance(value, list):
        return f"<{tag}>" + "".join(_xml(LIST_ITEMS[tag], v) for v in value) + f"</{tag}>"
    if isinstance(value, dict):
        return f"<{tag}>" + "".join(_xml(k, v) for k, v in value.items()) + f"</{tag}>"
    return f"<{tag}/>" if value in ("", None) else f"<{tag}>{xml_escape(str(value))}</{tag}>"


class ReviewDropFolder(DropFolder):
    """The courts' drop folder, delivering these XML exports (its world is this module's)."""

    def __init__(self, settings: Any, exports: ReviewExports) -> None:
        super().__init__(settings, exports)
        here = Path(__file__).parent
        parts = [repr((settings.seed, settings.dirt, settings.start_date, settings.end_date))]
        parts += [(here / name).read_text("utf-8") for name in (Path(__file__).name, "courts.py", "framework.py")]
        self.world = hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()

    def _forget_another_world(self) -> None:
        marker = self.dir / ".world"
        if not marker.exists() or marker.read_text("utf-8") != self.world:
            for path in self.dir.iterdir():
                if path.is_file() and (path.suffix == ".xml" or path.name.endswith(".manifest.json")):
                    path.unlink()
        marker.write_text(self.world, "utf-8")


def build_source(settings: Any) -> SimSource:
    """Build the review source (drop folder) from a settings object (see server.SimulatorConfig)."""
    exports = ReviewExports(settings)
    collections = {
        entity: DailyCollection(entity, lambda d, e=entity: exports.deliveries_of(e, d), settings.start_date,
                                settings.end_date, max_lag_days=DELIVERY_MAX_LAG)
        for entity in ENTITIES
    }
    return SimSource("admin_review", collections, api="none", path_prefix="", system=ReviewDropFolder(settings, exports))
