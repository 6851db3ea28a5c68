"""Simulated 浙江智慧矫正系统 (community corrections) for 余杭区: the system's own MariaDB database.

Not an HTTP API: the simulator process serves only ``/healthz`` and ``/_sim/*``.  On start it
drops and recreates MariaDB database ``SIM_DB_NAME`` (through ``SIM_MARIADB_ADMIN_URL``, default
``mysql://root@127.0.0.1:3306``) with the system's table ``jz_jzry`` (在矫人员; pinyin
abbreviations, ``gxsj`` a DATETIME in local time without zone) and ``jz_wgjc`` (below), creates
the account ``SIM_DB_READER`` with SELECT on those tables only, and fills the table to the world clock.
Every ``PUT /_sim/clock`` then makes the table hold, for every person, the latest version with
update time <= clock (the mediation simulator's sync: forward incrementally, optionally spread
over ``gradual_seconds``; backward by a rebuild), all in InnoDB transactions.

A person is registered on 入矫 (rjrq; 缓刑 mostly, then 假释, 暂予监外执行, 管制), binds the
"之矫汇"/"智汇矫" APP or is given an electronic tag days later, is reviewed every quarter
(zjkhrq, 管理等级 gljb), and leaves on 解矫 (jjrq, jjlx: 期满解矫 at the end of the term, or
撤销缓刑/撤销假释/收监执行 after a violation or a new crime (sfzf, zfzrq), or 死亡), and most of
those released at term end are handed over to 安置帮教 (sfxj, xjrq) within days.  People in
correction before 2020 arrive with the start day (the system's data migration); people in a
镇街 that moved to 临平区 on 2021-04-09 leave the district's roll that day (迁出).  Identities come
from the shared party pool, so the same people turn up in the other sources.  No ``duplicate``
dirt: a primary key cannot hold one.

A second table ``jz_wgjc`` (奖惩记录) holds each person's 训诫, 警告, 提请治安管理处罚, 提请撤销缓刑/
假释 or 收监执行 (a revocation is preceded by its 警告 and 提请), 表扬 and 提请减刑, with the person's
矫正人员编号 and 身份证号 (never matched by name). They are drawn from the people's clean lives by
a twin of the person generator without dirt and from RNG streams of their own, so ``jz_jzry``
holds exactly what it held before the table was added.
"""

from __future__ import annotations

import calendar
import os
import random
import threading
from dataclasses import dataclass, fields as dataclass_fields
from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import unquote, urlsplit

import pymysql

from .framework import (
    CST,
    SHARED_DIRT_DEFAULTS,
    SPLIT_DAY,
    TOWN_DIRT,
    TOWN_NAME_VARIANTS,
    DailyCollection,
    DirtPlan,
    DirtProfile,
    PartyPool,
    SimSource,
    VersionedRecord,
    Weighted,
    at_work,
    correction_time,
    daily_count,
    draw_plan,
    finish_record,
    party_pool,
    pick_town,
    rng_for,
    town_by_code,
    town_value,
    TOWNS,
)
from .mediation import MediationDatabase

NEEDS_CLIENT_SECRET = False
DEFAULT_ADMIN_URL = "mysql://root@127.0.0.1:3306"
DEFAULT_DB_NAME, DEFAULT_READER = "yhlaw_sim_corrections", "corrections_reader"
DEFAULT_PER_DAY = 6   # 入矫 per working day: above the district's real intake, for test volume
#: Five years of term, 60 days to 安置帮教, 40 days to a late correction.
MAX_LAG_DAYS = 5 * 366 + 110

SCHEMA = """
CREATE TABLE jz_jzry (
    jzrybh varchar(32) NOT NULL PRIMARY KEY COMMENT '矫正人员编号',
    xm varchar(50) COMMENT '姓名', zjhm varchar(30) COMMENT '身份证号', lxdh varchar(20) COMMENT '联系电话',
    jzlb varchar(20) COMMENT '矫正类别', zm varchar(50) COMMENT '罪名', jdjg varchar(100) COMMENT '决定机关',
    jzqx int COMMENT '矫正期限(月)', rjrq date COMMENT '入矫日期', xzqh varchar(40) COMMENT '执行地镇街',
    sfsmc varchar(50) COMMENT '司法所', gljb varchar(10) COMMENT '管理等级', sfdzdw char(1) COMMENT '是否电子定位',
    jzapp varchar(10) COMMENT '矫正APP', zjkhrq date COMMENT '最近考核日期', jjrq date COMMENT '解矫日期',
    jjlx varchar(20) COMMENT '解矫类型', sfzf char(1) COMMENT '是否再犯罪', zfzrq date COMMENT '再犯罪日期',
    sfxj char(1) COMMENT '是否安置帮教衔接', xjrq date COMMENT '衔接日期',
    gxsj datetime NOT NULL COMMENT '更新时间',
    KEY idx_jz_jzry_gxsj (gxsj)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COMMENT='社区矫正人员信息'
"""
COLUMNS = ("jzrybh", "xm", "zjhm", "lxdh", "jzlb", "zm", "jdjg", "jzqx", "rjrq", "xzqh", "sfsmc", "gljb", "sfdzdw",
           "jzapp", "zjkhrq", "jjrq", "jjlx", "sfzf", "zfzrq", "sfxj", "xjrq", "gxsj")

CATEGORIES = Weighted(("缓刑", "假释", "暂予监外执行", "管制"), (86, 7, 4, 3))
TERMS = {"缓刑": (6, 8, 10, 12, 12, 12, 18, 18, 24, 24, 36, 36, 48, 60), "假释": tuple(range(3, 31)),
         "暂予监外执行": (6, 12, 12, 18, 24), "管制": tuple(range(3, 25))}
REVOKED = {"缓刑": "撤销缓刑", "假释": "撤销假释", "暂予监外执行": "收监执行", "管制": "收监执行"}
CRIMES = Weighted(("危险驾驶罪", "盗窃罪", "帮助信息网络犯罪活动罪", "诈骗罪", "故意伤害罪", "开设赌场罪", "交通肇事罪",
                   "掩饰、隐瞒犯罪所得罪", "寻衅滋事罪", "非法经营罪"), (34, 14, 12, 9, 8, 5, 5, 5, 4, 4))
COURTS = Weighted(("杭州市余杭区人民法院", "杭州市中级人民法院", "杭州市临平区人民法院", "杭州市西湖区人民法院",
                   "杭州市拱墅区人民法院", "德清县人民法院"), (70, 6, 8, 6, 5, 5))
BODIES = {"假释": Weighted(("杭州市中级人民法院", "湖州市中级人民法院"), (85, 15)),
          "暂予监外执行": Weighted(("浙江省监狱管理局", "杭州市余杭区人民法院", "杭州市公安局余杭区分局"), (50, 35, 15))}
LEVELS = ("严管", "普管", "宽管")
APPS = ("之矫汇", "智汇矫")
#: Share of people under correction who use an app, by year of the 智慧矫正 roll-out.
APP_SHARE = {2019: 0.45, 2020: 0.6, 2021: 0.8, 2022: 0.92, 2023: 0.97}
P_TAG, P_REOFFEND, P_REVOKE, P_DEATH = 0.08, 0.004, 0.012, 0.002
P_LINKED, P_LINKED_LATE = 0.93, 0.04
MIGRATION_DAYS = 900   # the start day's roll reaches back this far

DIRT_DEFAULTS = {k: p for k, p in SHARED_DIRT_DEFAULTS.items() if k != "duplicate"} | {
    "missing_required": 0.025, "unknown_town": 0.02, "pre2021_town": 0.015, "impossible_date": 0.025,
    "late_correction": 0.2}
VARIANTS = {
    "missing_required": ("town", "rjrq"),
    "impossible_date": ("release_before_entry", "far_future", "far_past"),
    "town_name": TOWN_NAME_VARIANTS,
}


# --------------------------------------------------------------------------
# settings (read beside the shared SimulatorConfig, which knows nothing of this source)


@dataclass(frozen=True)
class Place:
    """Where the system's database is and who reads it."""

    admin_url: str
    db_name: str
    reader: str
    per_day: int


def _default_of(settings: Any, name: str) -> Any:
    field = next((f for f in dataclass_fields(type(settings)) if f.name == name), None)
    return field.default if field is not None else None


def place_of(settings: Any) -> Place:
    """SIM_MARIADB_ADMIN_URL and SIM_CORRECTIONS_PER_DAY from the environment; SIM_DB_NAME and
    SIM_DB_READER as set (the shared settings' defaults name the mediation system: not ours)."""
    db_name, reader = settings.db_name, settings.db_reader
    if db_name == _default_of(settings, "db_name"):
        db_name = DEFAULT_DB_NAME
    if reader == _default_of(settings, "db_reader"):
        reader = DEFAULT_READER
    try:
        per_day = int(os.environ.get("SIM_CORRECTIONS_PER_DAY", DEFAULT_PER_DAY))
    except ValueError:
        raise ValueError("SIM_CORRECTIONS_PER_DAY must be an integer") from None
    return Place(os.environ.get("SIM_MARIADB_ADMIN_URL") or DEFAULT_ADMIN_URL, db_name, reader, per_day)


def validate_settings(settings: Any) -> None:
    place = place_of(settings)
    parts = urlsplit(place.admin_url)
    if parts.scheme not in ("mysql", "mariadb") or not parts.hostname:
        raise ValueError("SIM_MARIADB_ADMIN_URL must look like mysql://root@127.0.0.1:3306")
    for name, value in (("SIM_DB_NAME", place.db_name), ("SIM_DB_READER", place.reader)):
        if not value or len(value) > 64 or not value.replace("_", "").isalnum():
            raise ValueError(f"{name} must be a non-empty identifier of at most 64 letters, digits or _")
    if not 0 <= place.per_day <= 2000:
        raise ValueError("SIM_CORRECTIONS_PER_DAY must be in 0..2000")


def connect_args(admin_url: str, database: str | None = None, user: str | None = None) -> dict:
    """pymysql.connect arguments for ``admin_url`` (optionally another database / user)."""
    u = urlsplit(admin_url)
    args = {"host": u.hostname, "port": u.port or 3306, "user": user or unquote(u.username or "root"),
            "password": "" if user else unquote(u.password or ""), "charset": "utf8mb4", "autocommit": False}
    if database:
        args["database"] = database
    return args


# --------------------------------------------------------------------------
# the people


def _term_end(d: date, months: int) -> date:
    """The last day of a term of ``months`` calendar months starting on ``d``."""
    y, m = divmod(d.month - 1 + months, 12)
    y, m = d.year + y, m + 1
    return date(y, m, min(d.day, calendar.monthrange(y, m)[1])) - timedelta(days=1)


def _body(rng: random.Random, category: str) -> str:
    return (BODIES.get(category) or COURTS).pick(rng)


class PersonGenerator:
    """在矫人员 registered on a given day (and, on the start day, the roll migrated into the system)."""

    def __init__(self, seed: int, per_day: int, dirt: DirtProfile, parties: PartyPool, start: date) -> None:
        self.seed, self.per_day, self.dirt, self.parties, self.start = seed, per_day, dirt, parties, start

    def __call__(self, d: date) -> list[VersionedRecord]:
        rng, drng = rng_for(self.seed, "corrections", d), rng_for(self.seed, "corrections-dirt", d)
        n = daily_count(rng_for(self.seed, "corrections-count", d), d, self.per_day)
        entries = [(d, i) for i in range(n)]
        if d == self.start:   # the roll on the day the system went live: entered before it
            back = round(self.per_day * 0.8 * MIGRATION_DAYS / 2)
            entries += [(d - timedelta(days=rng.randint(1, MIGRATION_DAYS)), n + j) for j in range(back)]
        out = []
        for entered, i in entries:
            record = self.person(d, entered, i, rng, drng)
            if record is not None:
                out.append(record)
        return out

    def person(self, d: date, entered: date, i: int, rng: random.Random, drng: random.Random) -> VersionedRecord | None:
        category = CATEGORIES.pick(rng)
        months = rng.choice(TERMS[category])
        ends = _term_end(entered, months)
        if ends < d:                              # a migrated person whose term was already over
            return None
        town = pick_town(rng, entered)
        who = self.parties.pick(rng, 1.0)
        base = {"jzrybh": f"JZ330110{entered:%Y%m%d}{i:04d}", "xm": who["name"],
                "zjhm": who["idNo"], "lxdh": who["phone"], "jzlb": category, "zm": CRIMES.pick(rng),
                "jdjg": _body(rng, category), "jzqx": months, "rjrq": entered.isoformat(), "xzqh": town.code,
                "sfsmc": f"{town.short}司法所", "gljb": "严管" if rng.random() < 0.3 else "普管", "sfdzdw": "N",
                "jzapp": "无", "zjkhrq": None, "jjrq": None, "jjlx": None, "sfzf": "N", "zfzrq": None,
                "sfxj": None, "xjrq": None}
        events = Timeline(rng, d, base)
        events.supervise(entered, ends, category)
        events.leave(ends, category, town.code)
        states = events.states()
        plan = draw_plan(self.dirt, drng, list(DIRT_DEFAULTS), VARIANTS, day=entered)
        if plan.has("impossible_date") and plan.variant == "release_before_entry" and states[-1][1]["jjrq"] is None:
            plan.variant = "far_future"
        correction = self._correct(drng, states, plan, d) if plan.has("late_correction") else None
        return finish_record(base["jzrybh"], states, plan, _apply_dirt, correction, d, MAX_LAG_DAYS)

    @staticmethod
    def _correct(rng: random.Random, states: list, plan: DirtPlan, d: date) -> int | None:
        """入矫登记信息更正: 5-40 days after the registration a field of it is corrected; the
        correction is a version of its own and every later version carries it."""
        when = correction_time(rng, states[0][0], d, MAX_LAG_DAYS)
        if when is None:
            return None
        first = states[0][1]
        options = ["zm", "jdjg"]
        if not any(plan.has(k) for k in TOWN_DIRT) and first["xzqh"] in {t.code for t in TOWNS}:
            options.append("xzqh")
        field = rng.choice(options)
        if field == "zm":
            change = {"zm": rng.choice([c for c in CRIMES.items if c != first["zm"]])}
        elif field == "jdjg":
            change = {"jdjg": rng.choice([c for c in COURTS.items if c != first["jdjg"]])}
        else:
            town = rng.choice([t for t in TOWNS if t.code != first["xzqh"]])
            change = {"xzqh": town.code, "sfsmc": f"{town.short}司法所"}
        while any(at == when for at, _ in states):
            when += timedelta(minutes=1)
        pos = sum(1 for at, _ in states if at < when)
        states.insert(pos, (when, {**states[pos - 1][1], **change}))
        for i in range(pos + 1, len(states)):
            states[i] = (states[i][0], {**states[i][1], **change})
        return pos


class Timeline:
    """A person's versions: each event on a day changes fields; one version per day."""

    def __init__(self, rng: random.Random, created: date, base: dict) -> None:
        self.rng, self.created, self.days = rng, created, {created: dict(base)}
        self.last_day = created

    def at(self, day: date, **changes: Any) -> None:
        day = max(day, self.created)
        self.days.setdefault(day, {}).update(changes)
        self.last_day = max(self.last_day, day)

    def supervise(self, entered: date, ends: date, category: str) -> None:
        rng = self.rng
        year = max(entered.year, 2019)
        if rng.random() < APP_SHARE.get(year, 0.97):
            self.at(max(entered, self.created) + timedelta(days=rng.randint(1, 10)), jzapp=rng.choice(APPS))
        if rng.random() < P_TAG:
            self.at(max(entered, self.created) + timedelta(days=rng.randint(0, 3)), sfdzdw="Y", gljb="严管")
        review = entered + timedelta(days=90)
        while review < ends:
            if review > self.created:
                change = {"zjkhrq": review.isoformat()}
                if rng.random() < 0.3:
                    change["gljb"] = rng.choice(LEVELS)
                if rng.random() < 0.15 and review.year >= 2020:
                    change["jzapp"] = rng.choice(APPS)
                self.at(review, **change)
            review += timedelta(days=90)

    def leave(self, ends: date, category: str, town: str) -> None:
        rng, entered = self.rng, date.fromisoformat(self.days[self.created]["rjrq"])
        span = max(1, (ends - entered).days)
        u = rng.random()
        if town_by_code(town) not in TOWNS and ends >= SPLIT_DAY:
            self._cut(SPLIT_DAY - timedelta(days=1), jjlx="迁出")
        elif u < P_REOFFEND:
            crime = entered + timedelta(days=rng.randint(1, span))
            self._cut(crime + timedelta(days=rng.randint(20, 60)), jjlx=REVOKED[category], sfzf="Y",
                      zfzrq=crime.isoformat())
        elif u < P_REOFFEND + P_REVOKE:
            self._cut(entered + timedelta(days=rng.randint(30, span)), jjlx=REVOKED[category])
        elif u < P_REOFFEND + P_REVOKE + P_DEATH:
            self._cut(entered + timedelta(days=rng.randint(1, span)), jjlx="死亡")
        else:
            self._cut(ends, jjlx="期满解矫")
            v = rng.random()
            if v < P_LINKED + P_LINKED_LATE:
                linked = ends + timedelta(days=rng.randint(0, 10) if v < P_LINKED else rng.randint(31, 60))
                self.at(linked, sfxj="Y", xjrq=linked.isoformat())
            else:
                self.at(ends + timedelta(days=30), sfxj="N")

    def _cut(self, day: date, **changes: Any) -> None:
        """解矫 on ``day``: later events of the supervision never happen."""
        day = max(day, self.created)
        self.days = {k: v for k, v in self.days.items() if k <= day}
        self.at(day, jjrq=day.isoformat(), **changes)

    def states(self) -> list[tuple[datetime, dict]]:
        out, current = [], {}
        for day in sorted(self.days):
            current = {**current, **self.days[day]}
            when = at_work(day, self.rng)
            if out and when <= out[-1][0]:
                when = out[-1][0] + timedelta(minutes=1)
            out.append((when, dict(current)))
        return out


def _apply_dirt(payload: dict, plan: DirtPlan) -> list[str]:
    if plan.has("missing_required"):
        payload["xzqh" if plan.variant == "town" else "rjrq"] = None
        return ["missing_required"]
    if plan.has("impossible_date"):
        if plan.variant == "release_before_entry":
            if payload["jjrq"] is None:
                return []
            payload["jjrq"] = (date.fromisoformat(payload["rjrq"]) - timedelta(days=9)).isoformat()
        else:
            payload["rjrq"] = ("2099" if plan.variant == "far_future" else "1900") + payload["rjrq"][4:]
        return ["impossible_date"]
    if plan.has("unknown_town") or plan.has("pre2021_town"):
        payload["xzqh"] = plan.value
        return ["unknown_town" if plan.has("unknown_town") else "pre2021_town"]
    if plan.has("town_name"):
        payload["xzqh"] = town_value(payload["xzqh"], plan.variant)
        return ["town_name"]
    return []


# --------------------------------------------------------------------------
# 违规与奖惩 (jz_wgjc): the system's record of each 训诫, 警告, 提请 and 表扬 of a person

VIOLATION_SCHEMA = """
CREATE TABLE jz_wgjc (
    jcbh varchar(40) NOT NULL PRIMARY KEY COMMENT '奖惩编号',
    jzrybh varchar(32) COMMENT '矫正人员编号', xm varchar(50) COMMENT '姓名', zjhm varchar(30) COMMENT '身份证号',
    jclb varchar(20) COMMENT '奖惩类别', wglx varchar(30) COMMENT '违规类型', wgrq date COMMENT '违规发生日期',
    jdrq date COMMENT '决定日期', jdjg varchar(100) COMMENT '决定机关', xzqh varchar(40) COMMENT '执行地镇街',
    sfsmc varchar(50) COMMENT '司法所', gxsj datetime NOT NULL COMMENT '更新时间',
    KEY idx_jz_wgjc_gxsj (gxsj), KEY idx_jz_wgjc_jzrybh (jzrybh)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COMMENT='社区矫正对象奖惩记录'
"""
VIOLATION_COLUMNS = ("jcbh", "jzrybh", "xm", "zjhm", "jclb", "wglx", "wgrq", "jdrq", "jdjg", "xzqh", "sfsmc", "gxsj")
#: 违规 as 社区矫正法实施办法 §34-35 and the provincial rules describe them (训诫 for the light cases,
#: 警告 for the heavier or repeated, 提请治安管理处罚 to the police).
VIOLATION_TYPES = Weighted(("未按规定报到", "未经批准离开所居住市县", "脱离监管", "不按规定参加教育学习",
                            "电子定位违规", "违反禁止令", "不按规定报告", "其他违反监督管理规定"),
                           (14, 18, 3, 25, 10, 4, 20, 6))
MINOR_SANCTIONS = Weighted(("训诫", "警告", "提请治安管理处罚"), (60, 35, 5))
CORRECTION_BODY, POLICE = "杭州市余杭区社区矫正管理局", "杭州市公安局余杭区分局"
#: The 提请 that precedes a revocation (the person's release type says which).
REVOKE_REQUEST = {"撤销缓刑": "提请撤销缓刑", "撤销假释": "提请撤销假释", "收监执行": "提请收监执行"}
P_VIOLATION_QUARTER, P_PRAISE_YEAR, P_REDUCTION = 0.03, 0.05, 0.002
VIOLATION_VARIANTS = {
    "missing_required": ("town", "jdrq"),
    "impossible_date": ("decision_before_violation", "far_future", "far_past"),
    "town_name": TOWN_NAME_VARIANTS,
}


class ViolationGenerator:
    """违规与奖惩 of the people registered on a given day: drawn from their clean lives (a twin of
    the person generator without dirt, so the persons' own draws are untouched), from their own
    RNG stream; a revocation is preceded by the 警告 and the 提请 that led to it."""

    def __init__(self, seed: int, people: PersonGenerator, dirt: DirtProfile) -> None:
        self.seed, self.people, self.dirt = seed, people, dirt

    def __call__(self, d: date) -> list[VersionedRecord]:
        rng, drng = rng_for(self.seed, "violation", d), rng_for(self.seed, "violation-dirt", d)
        out = []
        for person in self.people(d):
            for n, (event, when) in enumerate(self.events(rng, d, person.versions[-1].payload)):
                out.append(self.record(d, person.versions[-1].payload, n, event, when, drng))
        return out

    def events(self, rng: random.Random, created: date, p: dict) -> list[tuple[dict, date]]:
        """(fields, decision day) of a person's 奖惩, none before the record exists."""
        first, last = max(date.fromisoformat(p["rjrq"]), created), date.fromisoformat(p["jjrq"])
        out = []
        if p["jjlx"] in REVOKE_REQUEST and p["sfzf"] != "Y":
            ask = max(first, last - timedelta(days=rng.randint(15, 40)))     # never before the record
            warned = max(first, ask - timedelta(days=rng.randint(10, 60)))
            kind = VIOLATION_TYPES.pick(rng)
            out += [({"jclb": "警告", "wglx": kind}, warned), ({"jclb": REVOKE_REQUEST[p["jjlx"]], "wglx": kind}, ask)]
        day = first + timedelta(days=rng.randint(20, 90))
        while day < last:
            if rng.random() < P_VIOLATION_QUARTER:
                out.append(({"jclb": MINOR_SANCTIONS.pick(rng), "wglx": VIOLATION_TYPES.pick(rng)}, day))
            if rng.random() < P_PRAISE_YEAR / 4:
                out.append(({"jclb": "表扬", "wglx": None}, day + timedelta(days=rng.randint(0, 30))))
            if rng.random() < P_REDUCTION:
                out.append(({"jclb": "提请减刑", "wglx": None}, day + timedelta(days=rng.randint(0, 30))))
            day += timedelta(days=90)
        return sorted(((e, w) for e, w in out if first <= w <= last), key=lambda x: x[1])

    def record(self, d: date, p: dict, n: int, event: dict, decided: date, drng: random.Random) -> VersionedRecord:
        rng = rng_for(self.seed, "violation", p["jzrybh"], n)
        occurred = decided - timedelta(days=rng.randint(1, 10)) if event["wglx"] else None
        body = POLICE if event["jclb"] == "提请治安管理处罚" else CORRECTION_BODY
        base = {"jcbh": f"WG{p['jzrybh'][2:]}{n:02d}", "jzrybh": p["jzrybh"], "xm": p["xm"], "zjhm": p["zjhm"],
                **event, "wgrq": occurred and occurred.isoformat(), "jdrq": decided.isoformat(), "jdjg": body,
                "xzqh": p["xzqh"], "sfsmc": p["sfsmc"]}
        states = [(at_work(decided, rng, 9, 17.5), base)]
        plan = draw_plan(self.dirt, drng, list(DIRT_DEFAULTS), VIOLATION_VARIANTS, day=decided)
        if plan.has("impossible_date") and plan.variant == "decision_before_violation" and occurred is None:
            plan.variant = "far_future"
        correction = None
        if plan.has("late_correction") and event["wglx"]:
            correction = _reclassify(drng, states, d)
        return finish_record(base["jcbh"], states, plan, _violation_dirt, correction, d, MAX_LAG_DAYS)


def _reclassify(rng: random.Random, states: list, d: date) -> int | None:
    """A late correction: the 违规类型 re-entered after the 司法所's check."""
    last_at, last = states[-1]
    when = correction_time(rng, last_at, d, MAX_LAG_DAYS)
    if when is None:
        return None
    states.append((when, {**last, "wglx": rng.choice([t for t in VIOLATION_TYPES.items if t != last["wglx"]])}))
    return len(states) - 1


def _violation_dirt(payload: dict, plan: DirtPlan) -> list[str]:
    if plan.has("missing_required"):
        payload["xzqh" if plan.variant == "town" else "jdrq"] = None
        return ["missing_required"]
    if plan.has("impossible_date"):
        if plan.variant == "decision_before_violation":
            payload["jdrq"] = (date.fromisoformat(payload["wgrq"]) - timedelta(days=5)).isoformat()
        else:
            payload["jdrq"] = ("2099" if plan.variant == "far_future" else "1900") + payload["jdrq"][4:]
        return ["impossible_date"]
    if plan.has("unknown_town") or plan.has("pre2021_town"):
        payload["xzqh"] = plan.value
        return ["unknown_town" if plan.has("unknown_town") else "pre2021_town"]
    if plan.has("town_name"):
        payload["xzqh"] = town_value(payload["xzqh"], plan.variant)
        return ["town_name"]
    return []


# --------------------------------------------------------------------------
# the database


class CorrectionsDatabase(MediationDatabase):
    """Keeps the MariaDB table equal to the people's state at the clock (the clock handling is
    the mediation system's; only the database differs)."""

    def __init__(self, settings: Any, collection: DailyCollection, violations: DailyCollection | None = None) -> None:
        place = place_of(settings)
        self.admin_url, self.db_name, self.reader = place.admin_url, place.db_name, place.reader
        self.collection = Tables(collection, violations)
        self.state: Any = None
        self.db_clock: datetime | None = None
        self._lock = threading.RLock()
        self._sync_lock = threading.Lock()
        self._conn = None
        self._worker: threading.Thread | None = None
        self._hurry = threading.Event()

    def start(self, state: Any) -> None:
        self.state = state
        self.create_database()
        self._conn = pymysql.connect(**connect_args(self.admin_url, self.db_name))
        with self._lock:
            self._rebuild(state.clock.now())

    def create_database(self) -> None:
        admin = pymysql.connect(**connect_args(self.admin_url))
        db, reader = f"`{self.db_name}`", f"'{self.reader}'@'%'"
        try:
            with admin.cursor() as cur:
                cur.execute(f"DROP DATABASE IF EXISTS {db}")
                cur.execute(f"CREATE DATABASE {db} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
                cur.execute(f"CREATE USER IF NOT EXISTS {reader}")
                cur.execute(f"USE {db}")
                cur.execute(SCHEMA)
                cur.execute(VIOLATION_SCHEMA)
                cur.execute(f"GRANT SELECT ON {db}.jz_jzry TO {reader}")
                cur.execute(f"GRANT SELECT ON {db}.jz_wgjc TO {reader}")
            admin.commit()
        finally:
            admin.close()

    def _apply(self, hits: list, truncate: bool = False) -> None:
        """Upsert each hit's version into its table, in one transaction (which first empties the
        tables if ``truncate``: DELETE, not TRUNCATE, which would commit on its own)."""
        people, violations = [], []
        for hit in hits:
            p = hit.version.payload
            gxsj = hit.version.updated_at.astimezone(CST).replace(tzinfo=None)
            if "jcbh" in p:
                violations.append(tuple(p[c] for c in VIOLATION_COLUMNS[:-1]) + (gxsj,))
            else:
                people.append(tuple(p[c] for c in COLUMNS[:-1]) + (gxsj,))
        if not people and not violations and not truncate:
            return
        conn = self._conn
        try:
            with conn.cursor() as cur:
                if truncate:
                    cur.execute("DELETE FROM jz_jzry")
                    cur.execute("DELETE FROM jz_wgjc")
                for table, columns, rows in (("jz_jzry", COLUMNS, people), ("jz_wgjc", VIOLATION_COLUMNS, violations)):
                    statement = _upsert(table, columns)
                    for i in range(0, len(rows), 2000):
                        cur.executemany(statement, rows[i:i + 2000])
            conn.commit()
        except Exception:
            conn.rollback()
            raise


def _upsert(table: str, columns: tuple[str, ...]) -> str:
    updates = ", ".join(f"{c} = VALUES({c})" for c in columns[1:])
    return (f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join(['%s'] * len(columns))}) "
            f"ON DUPLICATE KEY UPDATE {updates}")


class Tables:
    """The system's two tables as one collection for the clock sync: their hits, in time order."""

    def __init__(self, *collections: DailyCollection | None) -> None:
        self.collections = [c for c in collections if c is not None]

    def query(self, since: datetime, until: datetime, now: datetime) -> list:
        hits = [h for c in self.collections for h in c.query(since, until, now)]
        hits.sort(key=lambda h: (h.version.updated_at, h.record.truth_key))
        return hits


def build_source(settings: Any) -> SimSource:
    """Build the corrections source (a MariaDB database) from a settings object (server.SimulatorConfig)."""
    place = place_of(settings)
    dirt = DirtProfile.parse(settings.dirt, DIRT_DEFAULTS)
    parties = party_pool(settings.seed)
    generator = PersonGenerator(settings.seed, place.per_day, dirt, parties, settings.start_date)
    span = dict(start=settings.start_date, end=settings.end_date, max_lag_days=MAX_LAG_DAYS,
                cache_days=MAX_LAG_DAYS + 400)
    collection = DailyCollection("person", generator, **span)
    # the violations come from the people's clean lives (a twin without dirt: the same draws)
    twin = PersonGenerator(settings.seed, place.per_day, DirtProfile({}), parties, settings.start_date)
    violations = DailyCollection("violation", ViolationGenerator(settings.seed, twin, dirt), **span)
    return SimSource("corrections", {"person": collection, "violation": violations}, api="none", path_prefix="",
                     system=CorrectionsDatabase(settings, collection, violations))
