"""Simulated 法院 case exports (诉讼) for 余杭区: daily files in a drop folder.

Not an HTTP API: the simulator process serves only ``/healthz`` and
``/_sim/*``; the "system" is the drop folder ``SIM_DROP_DIR``.  On start and on
every ``PUT /_sim/clock`` every delivery due by the clock and not yet there is
written (idempotently: same bytes for the same file; nothing is ever deleted).

Per export day D (SIM_START_DATE..SIM_END_DATE), delivered D+1 02:00 +08:00:

* ``cases_YYYYMMDD.csv`` (GBK; ~20% of days ``cases_YYYYMMDD.xlsx`` instead):
  one row per case whose state changed on D (filed, hearing, closed), as at
  the end of D.  A case lives up to 90 days.  The 民初, 民特, 执 and 破申 cases are
  the world's (``population.World``): a 民初 after a failed 诉前调 names its 民诉前调
  number (诉前委派编号), a 民特 the 调解案件编号 it confirms, an 执 its 执行依据案号,
  a 破申 the 执 case it came from (原案号) -- as the clerk typed them, sometimes not
  at all or wrongly; ``当事人`` lists every party with its role (JSON, Chinese
  keys), the single 当事人 columns stay the first party.  The court's other cases
  (刑初, 行初, 民终, 民督) are this simulator's own.  ~5% of exports are re-delivered
  3-20 days later as ``cases_YYYYMMDD_v2.csv`` (version 2): the same rows,
  some corrected (``late_correction``).
* ``dishonest_YYYYMMDD.csv`` (GBK): 失信被执行人 listings made on D (the world's:
  the 被执行人 of an 执 case) and removals on D (the removal repeats the row with
  移除日期 set).

Each data file is followed by ``<file>.manifest.json`` (written after the
data file).  ~10% of CSV files are ``encoding_mixup``: declared gbk, written
as UTF-8.  The ``half_written`` fault writes a truncated data file plus its
(correct) manifest and completes the data file ``SIM_HALF_WRITTEN_SECONDS``
later.

Ground truth (``/_sim/truth``): one item per distinct row of each delivered
file, ``updatedAt`` = the file's delivered_at.  Parties come from the world's
population (which holds the shared party pool).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import logging
import os
import threading
import zipfile
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from typing import Any, Sequence
from xml.sax.saxutils import escape as xml_escape

from .population import World, world
from .framework import (
    COURT_CODE,
    CST,
    DUPLICATE,
    SHARED_DIRT_DEFAULTS,
    TOWN_DIRT,
    TOWN_NAME_VARIANTS,
    pick_town,
    TOWNS,
    DailyCollection,
    DirtPlan,
    DirtProfile,
    SimSource,
    SourceSystem,
    Version,
    VersionedRecord,
    Weighted,
    at_work,
    day_start,
    daily_count,
    draw_plan,
    finish_record,
    later,
    party_pool,
    rng_for,
    to_iso,
    town_value,
)

log = logging.getLogger("yhlaw_dev.sim.courts")

NEEDS_CLIENT_SECRET = False

CASE_HEADERS = ("案号", "案件类型", "案由", "审判程序", "立案日期", "立案方式", "庭审方式", "电子卷宗随案生成",
                "电子督促程序", "结案日期", "结案方式", "当事人类型", "当事人名称", "证件号码", "住所地", "诉前委派编号",
                "执行依据案号", "原案号", "调解案件编号", "当事人")
DISHONEST_HEADERS = ("失信编号", "执行案号", "被执行人类型", "被执行人名称", "证件号码", "住所地", "纳入日期", "移除日期")

CASE_MAX_LAG = 90       # a case's versions span at most 90 days
DISHONEST_MAX_LAG = 60  # removal at most 60 days after listing
DELIVERY_MAX_LAG = 22   # v1 at D+1, v2 at D+1+3..20
P_XLSX = 0.20
# With the last day of each month the court also sends the whole 失信 list as it stands at its
# end (全量名单, a second file of that export day: version 2): what a first load starts its stock
# from, since the daily files hold only the day's changes.
HALF_WRITTEN = "half_written"
ENCODING_MIXUP = "encoding_mixup"
XLSX = "xlsx"  # truth label (not dirt): the row came in an xlsx file

CASE_TYPES = Weighted(("民事", "商事", "执行", "行政", "刑事"), (55, 15, 20, 3, 7))
CAUSES = {
    "民事": ("民间借贷纠纷", "离婚纠纷", "机动车交通事故责任纠纷", "物业服务合同纠纷", "劳动争议",
           "房屋租赁合同纠纷", "健康权纠纷", "相邻关系纠纷", "继承纠纷"),
    "商事": ("买卖合同纠纷", "金融借款合同纠纷", "建设工程施工合同纠纷", "服务合同纠纷", "承揽合同纠纷",
           "股权转让纠纷", "信用卡纠纷"),
    "执行": ("民间借贷纠纷", "买卖合同纠纷", "金融借款合同纠纷", "劳动争议", "机动车交通事故责任纠纷"),
    "行政": ("行政处罚", "行政强制", "政府信息公开", "行政许可", "行政协议"),
    "刑事": ("危险驾驶罪", "盗窃罪", "诈骗罪", "帮助信息网络犯罪活动罪", "开设赌场罪", "故意伤害罪"),
}
P_PERSON = {"民事": 0.85, "商事": 0.35, "执行": 0.6, "行政": 0.6, "刑事": 1.0}
#: The court's own cases (民初, 民特, 执 and 破申 are the world's): 刑初, 行初, 民终 and 民督, with
#: their share of the court's volume (7, 3, 3.5, 2 of 100).
LOCAL_KINDS = Weighted((("刑事", "一审"), ("行政", "一审"), ("民事", "二审"), ("商事", "二审"), ("民事", "督促")),
                       (7, 3, 2.5, 1, 2))
WORLD_PROCEDURE = {"民初": "一审", "民特": "特别程序", "执": "执行", "破申": "破产审查"}
ROLE_TYPES = {"person": "自然人", "org": "法人"}
TYPE_CHAR = {"民事": "民", "商事": "民", "行政": "行", "刑事": "刑"}
FILING = Weighted(("窗口立案", "网上立案", "跨域立案", "移动微法院"), (35, 40, 5, 20))
HEARING = Weighted(("现场", "远程视频", "在线异步"), (70, 22, 8))
CLOSING = {
    "民事": Weighted(("判决", "调解", "撤诉", "驳回", "裁定"), (40, 32, 18, 5, 5)),
    "商事": Weighted(("判决", "调解", "撤诉", "驳回", "裁定"), (45, 28, 17, 5, 5)),
    "行政": Weighted(("判决", "撤诉", "驳回", "裁定"), (50, 25, 20, 5)),
    "刑事": Weighted(("判决", "裁定"), (95, 5)),
    "执行": Weighted(("执行完毕", "裁定"), (55, 45)),
}

#: Per-record kinds are shared ones (drawn per case / listing); late_correction
#: is drawn per cases export (v2 re-delivery) and encoding_mixup per CSV file.
DIRT_DEFAULTS = {**SHARED_DIRT_DEFAULTS, "late_correction": 0.05, ENCODING_MIXUP: 0.10}
RECORD_DIRT = ("duplicate", "missing_required", "unknown_town", "pre2021_town", "town_name", "impossible_date")
CASE_VARIANTS = {
    "missing_required": ("key", "filed", "town"),
    "impossible_date": ("close_before_file", "far_future", "far_past", "bad_calendar"),
    "town_name": TOWN_NAME_VARIANTS,
}
DISHONEST_VARIANTS = {
    "missing_required": ("key", "town"),
    "impossible_date": ("remove_before_list", "far_future", "far_past", "bad_calendar"),
    "town_name": TOWN_NAME_VARIANTS,
}


def validate_settings(settings: Any) -> None:
    if not settings.drop_dir:
        raise ValueError("SIM_DROP_DIR is not set; the courts source writes its exports there")
    if settings.half_written_seconds < 0:
        raise ValueError("SIM_HALF_WRITTEN_SECONDS must be >= 0")


def _bad_date(real: str, variant: str) -> str:
    if variant == "far_future":
        return "2099" + real[4:]
    if variant == "far_past":
        return "1900" + real[4:]
    return real[:4] + "-02-30"  # bad_calendar


def _town_dirt(payload: dict, field: str, plan: DirtPlan) -> list[str]:
    if plan.has("unknown_town") or plan.has("pre2021_town"):
        payload[field] = plan.value
        return ["unknown_town" if plan.has("unknown_town") else "pre2021_town"]
    if plan.has("town_name"):
        payload[field] = town_value(payload[field], plan.variant)
        return ["town_name"]
    return []


# --------------------------------------------------------------------------
# cases


@dataclass(frozen=True)
class CaseHead:
    """A case's clean identity (what other records may refer to), and for the world's cases
    how they end (``fate``: None = this simulator draws it; () = still open; (day, manner))."""

    case_no: str
    case_type: str
    procedure: str
    cause: str
    party: dict
    town: str
    referral: str
    parties: tuple = ()          # (role, identity)
    links: tuple = ()            # (header, key as the clerk typed it)
    fate: tuple | None = None


class CaseGenerator:
    """Court cases filed on a given day, each with up to three versions."""

    def __init__(self, seed: int, per_day: int, dirt: DirtProfile, start: date, end: date,
                 world: World | None = None) -> None:
        self.seed, self.per_day, self.dirt, self.start, self.end = seed, per_day, dirt, start, end
        self.pool = party_pool(seed)
        self.world = world or World(seed)
        self._offsets: dict[int, list[int]] = {}
        self._heads: dict[date, list[CaseHead]] = {}
        self._lock = threading.Lock()

    def count(self, d: date) -> int:
        """The court's own cases filed on ``d`` (the rest of its volume is the world's)."""
        if d > self.end:
            return 0
        own = daily_count(rng_for(self.seed, "court-case-count", d), d, self.per_day)
        return max(0, own - len(self.world.records_on("courts", d)))

    def _offset(self, d: date) -> int:
        """The court's own cases filed earlier in ``d``'s year (their 案号 sequence runs per year)."""
        with self._lock:
            offsets = self._offsets.get(d.year)
        if offsets is None:
            offsets, total, day = [], 0, date(d.year, 1, 1)
            while day.year == d.year:
                offsets.append(total)
                total += self.count(day)
                day += timedelta(days=1)
            with self._lock:
                self._offsets[d.year] = offsets
        return offsets[d.timetuple().tm_yday - 1]

    def heads(self, d: date) -> list[CaseHead]:
        with self._lock:
            cached = self._heads.get(d)
        if cached is not None:
            return cached
        heads = [self._world_head(step) for step in self.world.records_on("courts", d)]
        first = self._offset(d) + 1 if self.count(d) else 0
        for i in range(self.count(d)):
            rng = rng_for(self.seed, "court-case", d, i)
            case_type, procedure = LOCAL_KINDS.pick(rng)
            cause = rng.choice(CAUSES[case_type])
            party, town = self.pool.pick(rng, P_PERSON[case_type]), pick_town(rng, d).code
            word = {"一审": "初", "二审": "终", "督促": "督"}[procedure]
            court = "浙01" if procedure == "二审" else COURT_CODE
            role = {"二审": "上诉人", "督促": "申请人"}.get(procedure, "被告人" if case_type == "刑事" else "原告")
            heads.append(CaseHead(f"({d.year}){court}{TYPE_CHAR[case_type]}{word}{first + i}号", case_type,
                                  procedure, cause, party, town, "", ((role, party),)))
        with self._lock:
            self._heads[d] = heads
        return heads

    def _world_head(self, step) -> CaseHead:
        dispute = self.world.dispute(step.dispute)
        cause = dispute.cause
        case_type = {"民初": cause.case_type, "民特": "民事", "执": "执行", "破申": "商事"}[step.kind]
        reason = {"民特": "申请司法确认调解协议", "破申": "破产清算"}.get(step.kind, cause.court)
        parties = tuple(self.world.parties(step))
        typed = {name: served if self.dirt.probabilities else clean
                 for name, (clean, served) in self.world.links(step).items()}
        links = tuple((h, typed[n] or "") for h, n in (("诉前委派编号", "诉前调案号"), ("执行依据案号", "执行依据案号"),
                                                ("原案号", "原案号"), ("调解案件编号", "调解案件编号")) if n in typed)
        fate = () if step.end is None else (step.end, step.outcome)
        return CaseHead(self.world.key(step), case_type, WORLD_PROCEDURE[step.kind], reason, parties[0][1],
                        dispute.town, dict(links).get("诉前委派编号") or "", parties, links, fate)

    def __call__(self, d: date) -> list[VersionedRecord]:
        drng = rng_for(self.seed, "court-case-dirt", d)
        return [self.record(d, i, head, drng) for i, head in enumerate(self.heads(d))]

    def record(self, d: date, i: int, head: CaseHead, drng) -> VersionedRecord:
        rng = rng_for(self.seed, "court-case-life", d, i)
        case_no, procedure = head.case_no, head.procedure
        supervised = procedure == "督促"
        base = {
            "案号": case_no, "案件类型": head.case_type, "案由": head.cause, "审判程序": procedure,
            "立案日期": d.isoformat(), "立案方式": FILING.pick(rng), "庭审方式": "",
            "电子卷宗随案生成": "是" if rng.random() < 0.92 else "否", "电子督促程序": "否",
            "结案日期": "", "结案方式": "", "当事人类型": "自然人" if head.party["type"] == "person" else "法人",
            "当事人名称": head.party["name"], "证件号码": head.party["idNo"], "住所地": head.town,
            "诉前委派编号": "", "执行依据案号": "", "原案号": "", "调解案件编号": "", **dict(head.links),
            "当事人": _parties_cell(head.parties),
        }
        # A 支付令 application is a 督促 case of its own (民督), electronic when applied for online.
        base["电子督促程序"] = "是" if supervised and base["立案方式"] != "窗口立案" else "否"
        states: list[tuple[datetime, dict]] = [(at_work(d, rng, 8.5, 17.5), dict(base))]

        def step(day: date, **changes: str) -> None:
            prev_at, prev = states[-1]
            payload = {**prev, **changes}
            if day <= prev_at.date():  # same day: the export shows the state at the end of the day
                states[-1] = (later(prev_at, rng, 10, 90), payload)
            else:
                states.append((at_work(day, rng, 9, 17.5), payload))

        def close(day: date, how: str | None = None) -> None:
            day = min(day, d + timedelta(days=CASE_MAX_LAG))
            step(day, 结案日期=day.isoformat(), 结案方式=how or CLOSING[head.case_type].pick(rng))

        if head.fate is not None:
            self._world_life(d, head, rng, step, close)
        elif supervised:  # 支付令: no hearing
            if rng.random() < 0.9:
                close(d + timedelta(days=rng.randint(15, 40)), "裁定")
        else:
            hearing = d + timedelta(days=rng.randint(10, 50))
            step(hearing, 庭审方式=HEARING.pick(rng))
            if rng.random() < 0.85:
                close(hearing + timedelta(days=rng.choice((0, 0, rng.randint(1, 30)))))

        plan = draw_plan(self.dirt, drng, RECORD_DIRT, CASE_VARIANTS, day=d)
        if plan.has("impossible_date") and plan.variant == "close_before_file" and not states[-1][1]["结案日期"]:
            plan.variant = "far_future"
        keyless = plan.has("missing_required") and plan.variant == "key"
        truth_key = f"<null>#{case_no}" if keyless else case_no
        return finish_record(truth_key, states, plan, _case_dirt, None, d, CASE_MAX_LAG)


    @staticmethod
    def _world_life(d: date, head: CaseHead, rng, step, close) -> None:
        """Hearing and closing as the world decided (a 民初 judged or mediated is heard first)."""
        if not head.fate:  # still open: a 民初 may have been heard
            if head.procedure == "一审" and rng.random() < 0.6:
                step(d + timedelta(days=rng.randint(10, 50)), 庭审方式=HEARING.pick(rng))
            return
        end, manner = head.fate
        if head.procedure == "一审" and manner in ("判决", "调解", "驳回") and (end - d).days >= 2:
            step(d + timedelta(days=rng.randint(1, (end - d).days - 1)), 庭审方式=HEARING.pick(rng))
        close(end, manner)


def _parties_cell(parties: tuple) -> str:
    """All parties with their roles, as the court's export writes them (JSON, Chinese keys)."""
    return json.dumps([{"诉讼地位": role, "类型": ROLE_TYPES[p["type"]], "名称": p["name"], "证件号码": p["idNo"],
                        "联系电话": p["phone"]} for role, p in parties], ensure_ascii=False, separators=(",", ":"))


def _case_dirt(payload: dict, plan: DirtPlan) -> list[str]:
    if plan.has("missing_required"):
        payload[{"key": "案号", "filed": "立案日期", "town": "住所地"}[plan.variant]] = ""
        return ["missing_required"]
    if plan.has("impossible_date"):
        if plan.variant == "close_before_file":
            if not payload["结案日期"]:
                return []  # not closed in this version
            payload["结案日期"] = (date.fromisoformat(payload["立案日期"]) - timedelta(days=9)).isoformat()
        else:
            payload["立案日期"] = _bad_date(payload["立案日期"], plan.variant)
        return ["impossible_date"]
    return _town_dirt(payload, "住所地", plan)


# --------------------------------------------------------------------------
# dishonest (失信被执行人)


class DishonestGenerator:
    """失信 listings made on a given day: the world's (the 被执行人 of an 执 case of 15-80 days
    before, whose 执行案号 the listing carries); ~35% removed later."""

    def __init__(self, seed: int, dirt: DirtProfile, cases: CaseGenerator, start: date, end: date) -> None:
        self.seed, self.dirt, self.cases, self.start, self.end = seed, dirt, cases, start, end

    def __call__(self, d: date) -> list[VersionedRecord]:
        rng, drng = rng_for(self.seed, "dishonest", d), rng_for(self.seed, "dishonest-dirt", d)
        world = self.cases.world
        records = []
        for step in world.records_on("dishonest", d):
            removed, lag = rng.random() < 0.35, rng.randint(20, DISHONEST_MAX_LAG)
            listed_at, removed_at = at_work(d, rng, 9, 17), at_work(d + timedelta(days=lag), rng, 9, 17)
            (_, debtor), = world.parties(step)
            number = world.key(step)
            base = {"失信编号": number, "执行案号": world.key(world.step(step, dict(step.links)["执行案号"])),
                    "被执行人类型": "自然人" if debtor["type"] == "person" else "法人",
                    "被执行人名称": debtor["name"], "证件号码": debtor["idNo"],
                    "住所地": world.dispute(step.dispute).town, "纳入日期": d.isoformat(), "移除日期": ""}
            states = [(listed_at, dict(base))]
            if removed:
                states.append((removed_at, {**base, "移除日期": removed_at.date().isoformat()}))
            plan = draw_plan(self.dirt, drng, RECORD_DIRT, DISHONEST_VARIANTS, day=d)
            if plan.has("impossible_date") and plan.variant == "remove_before_list" and not removed:
                plan.variant = "far_future"
            keyless = plan.has("missing_required") and plan.variant == "key"
            records.append(finish_record(f"<null>#{number}" if keyless else number, states, plan,
                                         _dishonest_dirt, None, d, DISHONEST_MAX_LAG))
        return records


def _dishonest_dirt(payload: dict, plan: DirtPlan) -> list[str]:
    if plan.has("missing_required"):
        payload[{"key": "失信编号", "town": "住所地"}[plan.variant]] = ""
        return ["missing_required"]
    if plan.has("impossible_date"):
        if plan.variant == "remove_before_list":
            if not payload["移除日期"]:
                return []
            payload["移除日期"] = (date.fromisoformat(payload["纳入日期"]) - timedelta(days=5)).isoformat()
        else:
            payload["纳入日期"] = _bad_date(payload["纳入日期"], plan.variant)
        return ["impossible_date"]
    return _town_dirt(payload, "住所地", plan)


# --------------------------------------------------------------------------
# exports and deliveries


@dataclass(frozen=True)
class Delivery:
    """One data file (plus its manifest) and when it is delivered."""

    name: str
    entity: str
    format: str          # csv | xlsx
    version: int         # 1 | 2
    export_date: date
    delivered_at: datetime
    mixup: bool          # declared gbk, written as UTF-8
    full: bool = False   # the whole list as it stands at the end of export_date, not the day's changes

    @property
    def declared_encoding(self) -> str:
        return "utf-8" if self.format == "xlsx" else "gbk"

    @property
    def actual_encoding(self) -> str:
        return "utf-8" if self.mixup or self.format == "xlsx" else "gbk"


@dataclass(frozen=True)
class Row:
    key: str
    values: dict   # header -> text
    dirt: tuple[str, ...]

    @property
    def copies(self) -> int:
        return 2 if DUPLICATE in self.dirt else 1


class _ByDay:
    """Record versions of a ``DailyCollection`` indexed by the day they were
    made (the export day), over creation days up to ``lag`` days back."""

    def __init__(self, collection: DailyCollection, lag: int) -> None:
        self.collection, self.lag = collection, lag
        self._index: dict[date, dict[date, list[tuple[str, Version]]]] = {}
        self._lock = threading.Lock()

    def _day_index(self, created: date) -> dict[date, list[tuple[str, Version]]]:
        with self._lock:
            cached = self._index.get(created)
        if cached is None:
            cached = {}
            for record in self.collection.records_for_day(created):
                for version in record.versions:
                    cached.setdefault(version.updated_at.date(), []).append((record.truth_key, version))
            with self._lock:
                self._index[created] = cached
                while len(self._index) > 500:
                    self._index.pop(next(iter(self._index)))
        return cached

    def versions_on(self, d: date) -> list[tuple[str, Version]]:
        out = []
        for back in range(self.lag, -1, -1):
            out.extend(self._day_index(d - timedelta(days=back)).get(d, []))
        return sorted(out, key=lambda kv: (kv[0], kv[1].updated_at))


class CourtExports:
    """What the court delivers for each export day: schedule and rows."""

    def __init__(self, settings: Any) -> None:
        self.seed, self.start, self.end = settings.seed, settings.start_date, settings.end_date
        self.dirt = DirtProfile.parse(settings.dirt, DIRT_DEFAULTS)
        self.cases = CaseGenerator(self.seed, settings.court_cases_per_day, self.dirt, self.start, self.end,
                                   world(self.seed))
        self.case_records = DailyCollection("court_cases", self.cases, self.start, self.end, CASE_MAX_LAG)
        self.dishonest = DishonestGenerator(self.seed, self.dirt, self.cases, self.start, self.end)
        self.dishonest_records = DailyCollection("court_dishonest", self.dishonest, self.start, self.end,
                                                 DISHONEST_MAX_LAG)
        self._by_day = {"cases": _ByDay(self.case_records, CASE_MAX_LAG),
                        "dishonest": _ByDay(self.dishonest_records, DISHONEST_MAX_LAG)}
        self._schedule: dict[date, tuple[Delivery, ...]] = {}
        self._lock = threading.Lock()

    # -- schedule (cheap: no rows) -------------------------------------------
    def schedule(self, d: date) -> tuple[Delivery, ...]:
        if not self.start <= d <= self.end:
            return ()
        with self._lock:
            cached = self._schedule.get(d)
        if cached is not None:
            return cached
        crng, drng = rng_for(self.seed, "court-export", d), rng_for(self.seed, "court-export-dirt", d)
        p_mixup = self.dirt.probabilities.get(ENCODING_MIXUP, 0.0)
        p_v2 = self.dirt.probabilities.get("late_correction", 0.0)
        xlsx = crng.random() < P_XLSX
        mixup_cases, mixup_dishonest, mixup_v2 = (drng.random() < p_mixup for _ in range(3))
        v2, v2_days = drng.random() < p_v2, drng.randint(3, 20)
        at = day_start(d + timedelta(days=1)) + timedelta(hours=2)
        stamp = f"{d:%Y%m%d}"
        out = [Delivery(f"cases_{stamp}.{'xlsx' if xlsx else 'csv'}", "cases", "xlsx" if xlsx else "csv", 1, d, at,
                        mixup_cases and not xlsx),
               Delivery(f"dishonest_{stamp}.csv", "dishonest", "csv", 1, d, at, mixup_dishonest)]
        if v2:
            out.append(Delivery(f"cases_{stamp}_v2.csv", "cases", "csv", 2, d, at + timedelta(days=v2_days),
                                mixup_v2))
        if (d + timedelta(days=1)).day == 1:
            out.append(Delivery(f"dishonest_full_{stamp}.csv", "dishonest", "csv", 2, d, at, False, full=True))
        result = tuple(out)
        with self._lock:
            self._schedule[d] = result
        return result

    # -- rows -----------------------------------------------------------------
    def rows(self, delivery: Delivery) -> list[Row]:
        """The distinct rows of a delivery (a ``duplicate`` row is written twice)."""
        labels = ((XLSX,) if delivery.format == "xlsx" else ()) + ((ENCODING_MIXUP,) if delivery.mixup else ())
        versions = self._listed_on(delivery.export_date) if delivery.full else \
            self._by_day[delivery.entity].versions_on(delivery.export_date)
        rows = [Row(key, {k: v for k, v in version.payload.items() if k != "updatedAt"}, version.dirt)
                for key, version in versions]
        if delivery.version == 2 and not delivery.full:
            rows = self._corrected(rows, delivery.export_date)
        return [Row(r.key, r.values, tuple(sorted(set(r.dirt + labels)))) for r in rows]

    def _listed_on(self, d: date) -> list[tuple[str, Version]]:
        """Every listing on the 失信 list at the end of ``d``: its latest version by then, unless that
        version removed it on or before ``d``."""
        out, day = [], self.start
        while day <= d:
            for record in self.dishonest_records.records_for_day(day):
                known = [v for v in record.versions if v.updated_at.astimezone(CST).date() <= d]
                removed = known[-1].payload.get("移除日期") if known else None
                if known and not (removed and removed <= d.isoformat()):
                    out.append((record.truth_key, known[-1]))
            day += timedelta(days=1)
        return sorted(out, key=lambda kv: kv[0])

    def _corrected(self, rows: list[Row], d: date) -> list[Row]:
        rng = rng_for(self.seed, "court-v2", d)
        if not rows:
            return rows
        k = max(1, round(len(rows) * rng.uniform(0.05, 0.2)))
        out = list(rows)
        for i in sorted(rng.sample(range(len(rows)), k)):
            values = dict(rows[i].values)
            options = ["案由", "立案方式"] + (["庭审方式"] if values["庭审方式"] else [])
            if not any(kind in rows[i].dirt for kind in TOWN_DIRT + ("town_name",)):
                options.append("住所地")
            field = rng.choice(options)
            if field == "案由":
                values[field] = rng.choice([c for c in CAUSES[values["案件类型"]] if c != values[field]])
            elif field == "立案方式":
                values[field] = rng.choice([f for f in FILING.items if f != values[field]])
            elif field == "庭审方式":
                values[field] = rng.choice([h for h in HEARING.items if h != values[field]])
            else:
                values[field] = rng.choice([t.code for t in TOWNS if t.code != values[field]])
            out[i] = Row(rows[i].key, values, rows[i].dirt + ("late_correction",))
        return out

    def deliveries_of(self, entity: str, d: date) -> list[VersionedRecord]:
        """Truth view: each distinct row of the day's files of ``entity`` as a
        one-version record stamped with the file's delivery time."""
        out = []
        for delivery in self.schedule(d):
            if delivery.entity == entity:
                out.extend(VersionedRecord(r.key, (Version(delivery.delivered_at, r.values, r.dirt),))
                           for r in self.rows(delivery))
        return out

    # -- bytes ----------------------------------------------------------------
    def render(self, delivery: Delivery) -> tuple[bytes, int]:
        """The data file's bytes and its number of data rows."""
        headers = CASE_HEADERS if delivery.entity == "cases" else DISHONEST_HEADERS
        table = [[row.values[h] for h in headers] for row in self.rows(delivery) for _ in range(row.copies)]
        if delivery.format == "xlsx":
            return _xlsx_bytes(headers, table, delivery.delivered_at, delivery.entity), len(table)
        buf = io.StringIO()
        writer = csv.writer(buf)
        writer.writerow(headers)
        writer.writerows(table)
        return buf.getvalue().encode(delivery.actual_encoding), len(table)


_ZIP_EPOCH = (2000, 1, 1, 0, 0, 0)
_XLSX_PARTS = {
    "[Content_Types].xml": (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        '<Override PartName="/xl/workbook.xml" '
        'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
        '<Override PartName="/xl/worksheets/sheet1.xml" '
        'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
        '<Override PartName="/docProps/core.xml" '
        'ContentType="application/vnd.openxmlformats-package.core-properties+xml"/>'
        '</Types>'),
    "_rels/.rels": (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        '<Relationship Id="rId1" '
        'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" '
        'Target="xl/workbook.xml"/>'
        '<Relationship Id="rId2" '
        'Type="http://schemas.openxmlformats.org/package/2006/relationships/metadata/core-properties" '
        'Target="docProps/core.xml"/>'
        '</Relationships>'),
    "xl/_rels/workbook.xml.rels": (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        '<Relationship Id="rId1" '
        'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" '
        'Target="worksheets/sheet1.xml"/>'
        '</Relationships>'),
}


def _col(n: int) -> str:
    name = ""
    while n:
        n, r = divmod(n - 1, 26)
        name = chr(65 + r) + name
    return name


def _xlsx_bytes(headers: Sequence[str], table: list[list[str]], when: datetime, title: str) -> bytes:
    """A minimal one-sheet workbook, every cell an inline string (so 证件号码
    and dirty dates stay text).  Written directly rather than with openpyxl
    (which is ~50x slower and stamps the save time into the file): the bytes
    depend only on the input.  openpyxl/pandas read it as usual."""
    cols = [_col(i + 1) for i in range(len(headers))]
    out = ['<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
           '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
           f'<dimension ref="A1:{cols[-1]}{len(table) + 1}"/><sheetData>']
    for r, row in enumerate([list(headers), *table], start=1):
        out.append(f'<row r="{r}">')
        out.extend(f'<c r="{c}{r}" t="inlineStr"><is><t>{xml_escape(v)}</t></is></c>'
                   for c, v in zip(cols, row) if v != "")
        out.append("</row>")
    out.append("</sheetData></worksheet>")
    stamp = when.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    parts = {
        **_XLSX_PARTS,
        "docProps/core.xml": (
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            '<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties" '
            'xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:dcterms="http://purl.org/dc/terms/" '
            'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><dc:creator>余杭区人民法院</dc:creator>'
            f'<dcterms:created xsi:type="dcterms:W3CDTF">{stamp}</dcterms:created>'
            f'<dcterms:modified xsi:type="dcterms:W3CDTF">{stamp}</dcterms:modified></cp:coreProperties>'),
        "xl/workbook.xml": (
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
            'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
            f'<sheets><sheet name="{title}" sheetId="1" r:id="rId1"/></sheets></workbook>'),
        "xl/worksheets/sheet1.xml": "".join(out),
    }
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, text in parts.items():
            entry = zipfile.ZipInfo(name, date_time=_ZIP_EPOCH)
            entry.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(entry, text.encode("utf-8"))
    return buf.getvalue()


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.part")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def _world_fingerprint(settings: Any) -> str:
    """What the delivered files depend on: the world's settings and this simulator's code."""
    here = Path(__file__).parent
    parts = [repr((settings.seed, settings.dirt, settings.start_date, settings.end_date, settings.court_cases_per_day))]
    parts += [(here / name).read_text("utf-8") for name in ("courts.py", "framework.py", "population.py")]
    return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()


def manifest_name(name: str) -> str:
    return f"{name}.manifest.json"


class DropFolder(SourceSystem):
    """The drop folder: writes every delivery due by the clock, once."""

    fault_kinds = (HALF_WRITTEN,)

    def __init__(self, settings: Any, exports: CourtExports) -> None:
        self.dir, self.exports = Path(settings.drop_dir), exports
        self.world = _world_fingerprint(settings)
        self.complete_after = settings.half_written_seconds
        self.state: Any = None
        self._lock = threading.Lock()
        self._pending: dict[str, tuple[threading.Timer, bytes]] = {}
        self._pending_lock = threading.Lock()

    def start(self, state: Any) -> None:
        self.state = state
        self.dir.mkdir(parents=True, exist_ok=True)
        with self._lock:
            self._forget_another_world()
            self._repair()
            self._deliver(state.clock.now())

    def on_clock(self, now: datetime, options: Any) -> None:
        with self._lock:
            if options.get("_tick") and self.state.clock.is_fixed:
                return
            self._deliver(now)

    def due(self, now: datetime) -> list[Delivery]:
        """Deliveries with delivered_at <= now, in delivery order."""
        out, d = [], self.exports.start
        last = min(self.exports.end, now.astimezone(CST).date())
        while d <= last:
            out.extend(x for x in self.exports.schedule(d) if x.delivered_at <= now)
            d += timedelta(days=1)
        return sorted(out, key=lambda x: (x.delivered_at, x.name))

    def _deliver(self, now: datetime) -> None:
        for delivery in self.due(now):
            if not (self.dir / manifest_name(delivery.name)).exists():
                self._write(delivery)

    def _write(self, delivery: Delivery) -> None:
        data, rows = self.exports.render(delivery)
        manifest = {"file": delivery.name, "entity": delivery.entity, "format": delivery.format,
                    "encoding": delivery.declared_encoding, "rows": rows, "sha256": hashlib.sha256(data).hexdigest(),
                    "delivered_at": to_iso(delivery.delivered_at), "export_date": delivery.export_date.isoformat(),
                    "version": delivery.version}
        path = self.dir / delivery.name
        half = self.state.fault_happens(HALF_WRITTEN)
        if half:
            _write_atomic(path, data[: len(data) // 2])
            self.state.record_fault(HALF_WRITTEN)
            timer = threading.Timer(self.complete_after, self._complete, (delivery.name,))
            timer.daemon = True
            with self._pending_lock:
                self._pending[delivery.name] = (timer, data)
            log.info("half_written %s (completes in %ss)", delivery.name, self.complete_after)
        else:
            _write_atomic(path, data)
        _write_atomic(self.dir / manifest_name(delivery.name),
                      json.dumps(manifest, ensure_ascii=False, indent=2).encode("utf-8") + b"\n")
        self.state.served(rows)
        if half:
            timer.start()

    def _complete(self, name: str) -> None:
        with self._pending_lock:
            entry = self._pending.pop(name, None)
        if entry is not None:
            _write_atomic(self.dir / name, entry[1])

    def _forget_another_world(self) -> None:
        """Files another world left (other settings, or another version of this simulator) go:
        the court of this world never delivered them."""
        marker = self.dir / ".world"
        if not marker.exists() or marker.read_text("utf-8") != self.world:   # no marker: an older simulator's
            for path in self.dir.iterdir():
                if path.is_file() and (path.suffix in (".csv", ".xlsx") or path.name.endswith(".manifest.json")):
                    path.unlink()
        marker.write_text(self.world, "utf-8")

    def _repair(self) -> None:
        """Data files a previous process left truncated (or lost) are rewritten."""
        for manifest_path in sorted(self.dir.glob("*.manifest.json")):
            try:
                manifest = json.loads(manifest_path.read_text("utf-8"))
                path = self.dir / manifest["file"]
                ok = path.exists() and hashlib.sha256(path.read_bytes()).hexdigest() == manifest["sha256"]
            except (ValueError, KeyError, OSError):
                continue
            if ok:
                continue
            export_date = date.fromisoformat(manifest["export_date"])
            for delivery in self.exports.schedule(export_date):
                if delivery.name == manifest["file"]:
                    _write_atomic(path, self.exports.render(delivery)[0])

    def pending(self) -> list[str]:
        with self._pending_lock:
            return sorted(self._pending)

    def close(self) -> None:
        with self._pending_lock:
            pending, self._pending = self._pending, {}
        for name, (timer, data) in pending.items():
            timer.cancel()
            _write_atomic(self.dir / name, data)


def build_source(settings: Any) -> SimSource:
    """Build the courts source (drop folder) from a settings object (see server.SimulatorConfig)."""
    exports = CourtExports(settings)
    collections = {
        entity: DailyCollection(entity, lambda d, e=entity: exports.deliveries_of(e, d), settings.start_date,
                                settings.end_date, max_lag_days=DELIVERY_MAX_LAG)
        for entity in ("cases", "dishonest")
    }
    return SimSource("courts", collections, api="none", path_prefix="", system=DropFolder(settings, exports))
