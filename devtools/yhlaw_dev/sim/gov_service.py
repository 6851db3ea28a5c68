"""Simulated 余杭区政务服务办件库 and 政务服务"好差评"系统 (政务服务), as the district's 数据共享交换平台
shares them: one SOAP 1.1 web service, ``POST /services/ZwfwShareService``, one operation per entity
(``queryBanjian`` 办件, ``queryHaochaping`` 好差评, ``queryShixiang`` 事项实施清单), parameters
``updatedSince``/``updatedUntil``/``pageNo``/``pageSize``, WS-Security UsernameToken (PasswordDigest,
nonces not reusable) in the SOAP header; the answer ``<{op}Response><total/><records><record>…``,
empty fields as ``xsi:nil``. A wrong request is a ``soap:Client`` fault, refused credentials a
``wsse:FailedAuthentication`` fault (both HTTP 500, as SOAP 1.1 does); the framework's faults
(5xx from the gateway, 429, slow, truncated, malformed, reset) plus ``soap_fault``: a
``soap:Server`` fault (数据库忙).

* ``cases`` (办件): a few hundred a day district-wide (the real 办件库 holds thousands; the
  volume is kept moderate so tests stay fast: ``SIM_GOV_CASES_PER_DAY``, default 300). 个人办事,
  企业开办, 不动产登记 (the 分钟制 categories) and other 事项; 网上/掌上/窗口/自助终端; 受理 then
  办结 (用时 in minutes; the 分钟制 categories mostly within 30 / 60 / 60 minutes), 1% 不予受理
  or 退件; 全流程无纸化 mostly online. The applicant from the shared party pool; the 镇街 is the
  applicant's (a 镇街便民服务中心 window is in it).
* ``evaluation`` (好差评): about 60% of finished 办件 are evaluated (一次一评) within two days, in
  the five 国办发〔2019〕51号 grades; a 差评 (不满意/非常不满意) is 整改 within 15 working days (a
  new version: 已整改, or 不属实 after 核实), a few stay 待整改.
* ``item`` (事项实施清单): a few 事项 published (认领) a day, later adjusted: 网上/掌上可办 switched on,
  or 停用. Some carry the 法律法规特殊规定 flag (must be handled on site).

Dirt: missing fields, unknown / moved-out / misspelt 镇街, impossible dates, duplicates, late
corrections (a 办件's category or channel corrected, an evaluation's grade 复核). Deterministic per
seed; ``SIM_DIRT=none`` gives the same records minus the dirt.
"""

from __future__ import annotations

import base64
import hashlib
import os
import random
import secrets
import threading
import xml.etree.ElementTree as ET
from collections import OrderedDict
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import Any
from xml.sax.saxutils import escape

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from .framework import (
    SHARED_DIRT_DEFAULTS, TOWN_NAME_VARIANTS, DailyCollection, DirtPlan, DirtProfile, PartyPool, SimSource,
    VersionedRecord, Weighted, apply_town_dirt, at_work, bad_timestamp, correction_time, daily_count, draw_plan,
    finish_record, later, party_pool, parse_iso, pick_town, rng_for, to_iso,
)

SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
WSU = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
NAMESPACE = "http://zwfw.yuhang.gov.cn/share/"
ENDPOINT = "/services/ZwfwShareService"
OPERATIONS = {"queryBanjian": "cases", "queryHaochaping": "evaluation", "queryShixiang": "item"}
MAX_PAGE_SIZE = 1000
MAX_LAG_DAYS = 60
CASES_PER_DAY, ITEMS_PER_DAY = 300, 3
DIRT_DEFAULTS = dict(SHARED_DIRT_DEFAULTS)

# -------------------------------------------------------------- SOAP messages (shared with the hostile fake)


def render_value(tag: str, value: Any) -> str:
    if isinstance(value, dict):
        return f"<{tag}>" + "".join(render_value(k, v) for k, v in value.items()) + f"</{tag}>"
    if value is None:
        return f'<{tag} xsi:nil="true"/>'
    text = ("true" if value else "false") if isinstance(value, bool) else str(value)
    return f"<{tag}>{escape(text)}</{tag}>"


def envelope(inner: str) -> bytes:
    return (f'<?xml version="1.0" encoding="UTF-8"?><soap:Envelope xmlns:soap="{SOAP_ENV}" xmlns:xsi="{XSI}">'
            f"<soap:Body>{inner}</soap:Body></soap:Envelope>").encode("utf-8")


def render_page(operation: str, total: int, records: list[dict], page_no: int, page_size: int) -> bytes:
    body = "".join(render_value("record", {k: v for k, v in r.items() if not k.startswith("_")}) for r in records)
    return envelope(f'<ns2:{operation}Response xmlns:ns2="{NAMESPACE}"><total>{total}</total><pageNo>{page_no}'
                    f"</pageNo><pageSize>{page_size}</pageSize><records>{body}</records></ns2:{operation}Response>")


def render_fault(code: str, text: str) -> bytes:
    return envelope(f'<soap:Fault xmlns:wsse="{WSSE}"><faultcode>{code}</faultcode>'
                    f"<faultstring>{escape(text)}</faultstring></soap:Fault>")


class SoapRequestError(Exception):
    def __init__(self, code: str, text: str):
        super().__init__(text)
        self.code, self.text = code, text


def parse_request(data: bytes) -> tuple[str, dict[str, str], dict[str, str]]:
    """(operation, parameters, UsernameToken fields) of a request envelope; a DOCTYPE is refused
    (a service must not expand what a caller declares)."""
    if b"<!DOCTYPE" in data or b"<!ENTITY" in data:
        raise SoapRequestError("soap:Client", "DTD is not allowed in a SOAP message")
    try:
        root = ET.fromstring(data)
        body = root.find(f"{{{SOAP_ENV}}}Body")
        op = body[0]
    except (ET.ParseError, TypeError, IndexError) as exc:
        raise SoapRequestError("soap:Client", f"not a SOAP envelope: {type(exc).__name__}") from None
    name = op.tag.rsplit("}", 1)[-1]
    params = {c.tag.rsplit("}", 1)[-1]: (c.text or "") for c in op}
    token = root.find(f".//{{{WSSE}}}UsernameToken")
    fields = {} if token is None else {c.tag.rsplit("}", 1)[-1]: (c.text or "") for c in token}
    return name, params, fields


def digest_ok(fields: dict[str, str], login: str, password: str) -> bool:
    try:
        nonce = base64.b64decode(fields.get("Nonce", ""), validate=True)
    except ValueError:
        return False
    want = base64.b64encode(hashlib.sha1(nonce + fields.get("Created", "").encode() + password.encode())
                            .digest()).decode()
    return secrets.compare_digest(fields.get("Username", "").encode(), login.encode()) and \
        secrets.compare_digest(fields.get("Password", "").encode(), want.encode())


class NonceCache:
    """Nonces seen lately: a replayed request is refused (WS-Security's replay protection)."""

    def __init__(self, size: int = 50_000) -> None:
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._size, self._lock = size, threading.Lock()

    def fresh(self, nonce: str) -> bool:
        with self._lock:
            if nonce in self._seen:
                return False
            self._seen[nonce] = None
            if len(self._seen) > self._size:
                self._seen.popitem(last=False)
            return True


# -------------------------------------------------------------- 事项

#: (基本编码, 名称, 事项类型, 类别, 服务对象, 部门, 承诺时限 工作日)
CATALOGUE = (
    ("330110001", "居民身份证申领", "行政确认", "个人办事", "个人", "YH-GA", 0),
    ("330110002", "户口迁移登记", "行政确认", "个人办事", "个人", "YH-GA", 0),
    ("330110003", "城乡居民基本医疗保险参保登记", "公共服务", "个人办事", "个人", "YH-YB", 0),
    ("330110004", "社会保障卡申领", "公共服务", "个人办事", "个人", "YH-RS", 0),
    ("330110005", "生育登记", "公共服务", "个人办事", "个人", "YH-WSJK", 0),
    ("330110006", "残疾人证办理", "公共服务", "个人办事", "个人", "YH-CL", 5),
    ("330110007", "公司设立登记", "行政许可", "企业开办", "法人", "YH-SCJG", 0),
    ("330110008", "印章刻制备案", "其他行政权力", "企业开办", "法人", "YH-GA", 0),
    ("330110009", "企业社保登记", "公共服务", "企业开办", "法人", "YH-RS", 0),
    ("330110010", "不动产转移登记", "行政确认", "不动产登记", "个人和法人", "YH-GTZY", 0),
    ("330110011", "不动产抵押登记", "行政确认", "不动产登记", "个人和法人", "YH-GTZY", 0),
    ("330110012", "不动产首次登记", "行政确认", "不动产登记", "个人和法人", "YH-GTZY", 3),
    ("330110013", "食品经营许可", "行政许可", "其他", "法人", "YH-SCJG", 5),
    ("330110014", "建筑工程施工许可", "行政许可", "其他", "法人", "YH-ZJ", 5),
    ("330110015", "城镇污水排入排水管网许可", "行政许可", "其他", "法人", "YH-ZHZF", 7),
    ("330110016", "最低生活保障对象认定", "行政给付", "其他", "个人", "YH-MZ", 10),
    ("330110017", "医师执业注册", "行政许可", "其他", "个人", "YH-WSJK", 10),
    ("330110018", "再生育审批", "行政确认", "个人办事", "个人", "YH-WSJK", 5),
)
CATALOGUE_PICK = Weighted(CATALOGUE, (14, 8, 10, 10, 6, 2, 5, 4, 4, 9, 7, 2, 3, 2, 1, 2, 1, 1))
DEPT_NAMES = {"YH-GA": "杭州市公安局余杭区分局", "YH-YB": "杭州市余杭区医疗保障局", "YH-RS": "杭州市余杭区人力资源和社会保障局",
              "YH-WSJK": "杭州市余杭区卫生健康局", "YH-CL": "杭州市余杭区残疾人联合会", "YH-SCJG": "杭州市余杭区市场监督管理局",
              "YH-GTZY": "杭州市规划和自然资源局余杭分局", "YH-ZJ": "杭州市余杭区住房和城乡建设局",
              "YH-ZHZF": "杭州市余杭区综合行政执法局", "YH-MZ": "杭州市余杭区民政局"}
ITEM_TYPES = Weighted(("行政许可", "行政确认", "行政给付", "其他行政权力", "公共服务"), (35, 15, 5, 15, 30))
ITEM_CATEGORIES = Weighted(("个人办事", "企业开办", "不动产登记", "其他"), (35, 5, 5, 55))
ITEM_VARIANTS = {"missing_required": ("key", "publishDate"), "impossible_date": ("far_future", "far_past", "bad_calendar")}


def item_code(base: str, dept: str) -> str:
    """实施编码: the 实施主体's code + the 基本编码 (the catalogue's 事项 as the 办件 name them)."""
    return f"{dept.replace('-', '')}{base}"


class ItemGenerator:
    """事项 published (认领) on a day, then adjusted: 网办 switched on, or 停用."""

    def __init__(self, seed: int, per_day: int, dirt: DirtProfile) -> None:
        self.seed, self.per_day, self.dirt = seed, per_day, dirt

    def __call__(self, d: date) -> list[VersionedRecord]:
        rng, drng = rng_for(self.seed, "gov-item", d), rng_for(self.seed, "gov-item-dirt", d)
        return [self.record(d, i, rng, drng) for i in range(daily_count(rng, d, self.per_day))]

    def record(self, d: date, i: int, rng: random.Random, drng: random.Random) -> VersionedRecord:
        dept = rng.choice(sorted(DEPT_NAMES))
        town_level = rng.random() < 0.3
        code = f"{dept.replace('-', '')}9{d:%y%m%d}{i:02d}"
        exception = rng.random() < 0.04                          # 须现场核验/勘验: 法律法规特殊规定
        online = not exception and rng.random() < 0.85
        base = {"itemCode": code, "baseCode": f"3301109{d:%y%m%d}{i:02d}", "itemName": f"{DEPT_NAMES[dept][7:]}事项{i + 1}",
                "itemType": ITEM_TYPES.pick(rng), "category": ITEM_CATEGORIES.pick(rng),
                "serviceObject": rng.choice(("个人", "法人", "个人和法人")),
                "deptCode": "YH-ZJ" if town_level else dept,
                "deptName": f"杭州市余杭区{pick_town(rng, d).name}办事处" if town_level else DEPT_NAMES[dept],
                "implLevel": "镇街级" if town_level else "区级", "onlineAvailable": online,
                "mobileAvailable": online and rng.random() < 0.8, "paperless": online and rng.random() < 0.6,
                "legalException": exception, "promisedDays": rng.choice((0, 0, 1, 3, 5, 10, 20)),
                "status": "在用", "publishDate": d.isoformat(), "stopDate": None}
        states = [(at_work(d, rng, 9, 18), base)]
        if not online and not exception and rng.random() < 0.7:      # 网办 switched on later
            states.append((at_work(d + timedelta(days=rng.randint(3, 40)), rng), {**base, "onlineAvailable": True}))
        if rng.random() < 0.05:
            stopped = d + timedelta(days=rng.randint(41, 55))
            states.append((at_work(stopped, rng), {**states[-1][1], "status": "停用", "stopDate": stopped.isoformat()}))
        plan = draw_plan(self.dirt, drng, ["duplicate", "missing_required", "impossible_date", "late_correction"],
                         ITEM_VARIANTS, day=d)
        correction = None
        if plan.has("late_correction"):
            when = correction_time(drng, states[-1][0], d, MAX_LAG_DAYS)
            if when is not None and when > states[-1][0]:
                states.append((when, {**states[-1][1], "promisedDays": states[-1][1]["promisedDays"] + 1}))
                correction = len(states) - 1
        keyless = plan.has("missing_required") and plan.variant == "key"
        return finish_record(f"<null>#{code}" if keyless else code, states, plan, _item_dirt, correction, d,
                             MAX_LAG_DAYS)


def _item_dirt(payload: dict, plan: DirtPlan) -> list[str]:
    if plan.has("missing_required"):
        payload["itemCode" if plan.variant == "key" else "publishDate"] = None
        return ["missing_required"]
    if plan.has("impossible_date"):
        real = payload["publishDate"]
        payload["publishDate"] = {"far_future": "2099" + real[4:], "far_past": "1900" + real[4:]}.get(
            plan.variant, real[:4] + "-02-30")
        return ["impossible_date"]
    return []


# -------------------------------------------------------------- 办件

CHANNELS = Weighted(("网上", "掌上", "窗口", "自助终端"), (30, 35, 30, 5))
#: 分钟制: minutes within which most 办件 of the category are finished (杭州 "分钟制" commitments).
MINUTES = {"个人办事": 30, "企业开办": 60, "不动产登记": 60}
CASE_VARIANTS = {
    "missing_required": ("key", "town", "acceptTime"),
    "impossible_date": ("finish_before_accept", "far_future", "far_past", "bad_calendar"),
    "town_name": TOWN_NAME_VARIANTS,
}


def _minutes(rng: random.Random, category: str, promised_days: int) -> int:
    """用时: the 分钟制 categories within their minutes about 90% of the time; other 事项 in days."""
    limit = MINUTES.get(category)
    if limit is not None and promised_days == 0:
        return rng.randint(3, limit) if rng.random() < 0.9 else rng.randint(limit + 1, 4 * limit)
    return rng.randint(60, max(1, promised_days) * 8 * 60)


class CaseGenerator:
    """办件 accepted on a given day: 受理, then 办结 (or 不予受理/退件)."""

    def __init__(self, seed: int, per_day: int, dirt: DirtProfile, parties: PartyPool) -> None:
        self.seed, self.per_day, self.dirt, self.parties = seed, per_day, dirt, parties

    def __call__(self, d: date) -> list[VersionedRecord]:
        drng = rng_for(self.seed, "gov-case-dirt", d)
        return [self.record(d, states, drng) for states in self.clean(d)]

    @lru_cache(maxsize=64)
    def clean(self, d: date) -> tuple[tuple[tuple[datetime, dict], ...], ...]:
        """Each 办件's states without dirt (the evaluations are drawn from them too)."""
        rng = rng_for(self.seed, "gov-case", d)
        return tuple(tuple(self._lifecycle(d, i, rng)) for i in range(daily_count(rng, d, self.per_day)))

    def _lifecycle(self, d: date, i: int, rng: random.Random) -> list[tuple[datetime, dict]]:
        base_code, name, _, category, who, dept, days = CATALOGUE_PICK.pick(rng)
        channel = CHANNELS.pick(rng)
        online = channel in ("网上", "掌上")
        applicant = dict(self.parties.pick(rng, 0.1 if who == "法人" else 0.9 if who == "个人" else 0.7))
        town = pick_town(rng, d)
        in_town = channel == "窗口" and rng.random() < 0.5
        accepted = at_work(d, rng, 0.5 if online else 8.5, 23.5 if online else 17)
        base = {"caseNo": f"YHBJ{d:%Y%m%d}{i:05d}", "itemCode": item_code(base_code, dept), "itemName": name,
                "category": category, "channel": channel,
                "hall": f"{town.name}便民服务中心" if in_town else "余杭区行政服务中心",
                "hallTownCode": town.code if in_town else None, "townCode": town.code,
                "acceptTime": to_iso(accepted), "finishTime": None, "usedMinutes": None, "promisedDays": days,
                "paperless": rng.random() < (0.9 if online else 0.4), "status": "已受理", "applicant": applicant,
                "handler": DEPT_NAMES[dept]}
        states = [(later(accepted, rng, 1, 10), base)]
        if rng.random() < 0.01:
            states.append((later(accepted, rng, 20, 300), {**base, "status": rng.choice(("不予受理", "退件"))}))
            return states
        minutes = _minutes(rng, category, days)
        finished = accepted + timedelta(minutes=minutes)
        states.append((later(finished, rng, 1, 30), {**base, "status": "已办结", "finishTime": to_iso(finished),
                                                      "usedMinutes": minutes}))
        return states

    def record(self, d: date, clean: tuple, drng: random.Random) -> VersionedRecord:
        states = [(at, {**p, "applicant": dict(p["applicant"])}) for at, p in clean]
        plan = draw_plan(self.dirt, drng, list(DIRT_DEFAULTS), CASE_VARIANTS, day=d)
        if plan.has("impossible_date") and plan.variant == "finish_before_accept" and len(states) < 2:
            plan.variant = "far_future"
        correction = None
        if plan.has("late_correction"):
            when = correction_time(drng, states[-1][0], d, MAX_LAG_DAYS)
            if when is not None:
                states.append((when, {**states[-1][1], "applicant": dict(states[-1][1]["applicant"]),
                                      "paperless": not states[-1][1]["paperless"]}))
                correction = len(states) - 1
        key = states[0][1]["caseNo"]
        keyless = plan.has("missing_required") and plan.variant == "key"
        return finish_record(f"<null>#{key}" if keyless else key, states, plan, _case_dirt, correction, d,
                             MAX_LAG_DAYS)


def _case_dirt(payload: dict, plan: DirtPlan) -> list[str]:
    payload["applicant"] = dict(payload["applicant"])
    if plan.has("missing_required") and plan.variant in ("key", "acceptTime"):
        payload["caseNo" if plan.variant == "key" else "acceptTime"] = None
        return ["missing_required"]
    if plan.has("impossible_date"):
        if plan.variant == "finish_before_accept":
            if payload["finishTime"] is None:
                return []
            payload["finishTime"] = to_iso(parse_iso(payload["acceptTime"]) - timedelta(hours=5))
        else:
            payload["acceptTime"] = bad_timestamp(payload["acceptTime"], plan.variant)
        return ["impossible_date"]
    return apply_town_dirt(payload, plan)


# -------------------------------------------------------------- 好差评

GRADES = Weighted(("非常满意", "满意", "基本满意", "不满意", "非常不满意"), (80, 14, 3.5, 1.7, 0.8))
EVAL_CHANNELS = {"网上": "政务服务网", "掌上": "浙里办"}
EVAL_VARIANTS = {"missing_required": ("key", "town", "evalTime"),
                 "impossible_date": ("far_future", "far_past", "bad_calendar"), "town_name": TOWN_NAME_VARIANTS}


class EvaluationGenerator:
    """Evaluations of the 办件 accepted on a day: about 60% of the finished ones (一次一评)."""

    def __init__(self, seed: int, cases: CaseGenerator, dirt: DirtProfile) -> None:
        self.seed, self.cases, self.dirt = seed, cases, dirt

    def __call__(self, d: date) -> list[VersionedRecord]:
        rng, drng = rng_for(self.seed, "gov-eval", d), rng_for(self.seed, "gov-eval-dirt", d)
        out = []
        for n, clean in enumerate(self.cases.clean(d)):
            at, case = clean[-1]
            if case["status"] == "已办结" and rng.random() < 0.6:
                out.append(self.record(d, n, at, case, rng, drng))
        return out

    def record(self, d: date, n: int, at: datetime, case: dict, rng: random.Random,
               drng: random.Random) -> VersionedRecord:
        channel = EVAL_CHANNELS.get(case["channel"]) or rng.choice(("评价器", "二维码", "短信"))
        evaluated = later(at, rng, 2, 2 * 24 * 60)
        grade = GRADES.pick(rng)
        bad = grade in ("不满意", "非常不满意")
        base = {"evalNo": f"YHPJ{d:%Y%m%d}{n:05d}", "caseNo": case["caseNo"], "itemCode": case["itemCode"],
                "evalChannel": channel, "grade": grade, "evalTime": to_iso(evaluated), "townCode": case["townCode"],
                "rectifyStatus": "待整改" if bad else None, "rectifyTime": None,
                "evaluator": dict(case["applicant"])}
        states = [(later(evaluated, rng, 1, 20), base)]
        if bad and rng.random() < 0.9:                     # 整改 within 15 working days (about 21 days)
            done = at_work(evaluated.date() + timedelta(days=rng.randint(1, 21)), rng, 9, 17)
            states.append((later(done, rng, 5, 60), {**base, "rectifyStatus": rng.choice(("已整改",) * 4 + ("不属实",)),
                                                      "rectifyTime": to_iso(done)}))
        plan = draw_plan(self.dirt, drng, list(DIRT_DEFAULTS), EVAL_VARIANTS, day=d)
        correction = None
        if plan.has("late_correction") and not bad:        # 复核: a grade entered wrongly at the 评价器
            when = correction_time(drng, states[-1][0], d, MAX_LAG_DAYS)
            if when is not None:
                states.append((when, {**base, "grade": "满意" if grade != "满意" else "非常满意"}))
                correction = len(states) - 1
        keyless = plan.has("missing_required") and plan.variant == "key"
        return finish_record(f"<null>#{base['evalNo']}" if keyless else base["evalNo"], states, plan, _eval_dirt,
                             correction, d, MAX_LAG_DAYS)


def _eval_dirt(payload: dict, plan: DirtPlan) -> list[str]:
    payload["evaluator"] = dict(payload["evaluator"])
    if plan.has("missing_required") and plan.variant in ("key", "evalTime"):
        payload["evalNo" if plan.variant == "key" else "evalTime"] = None
        return ["missing_required"]
    if plan.has("impossible_date"):
        payload["evalTime"] = bad_timestamp(payload["evalTime"], plan.variant)
        return ["impossible_date"]
    return apply_town_dirt(payload, plan)


# -------------------------------------------------------------- the web service


def soap_api_class():
    """The ``soap`` API style for the simulator server (registered in ``server.API_STYLES`` when
    this source is built; the server module knows the HTTP styles only)."""
    from .server import ITEMS_SCOPE_KEY, Api

    class SoapApi(Api):
        extra_fault_kinds = ("soap_fault",)

        def __init__(self, state) -> None:
            super().__init__(state)
            self.nonces = NonceCache()

        def fault_applies(self, path: str) -> bool:
            return path.startswith("/services/")

        def arm_fault(self, kind: str, scope) -> str | None:
            if kind == "token_expire":           # no token to expire: WS-Security signs every request
                return None
            if kind == "soap_fault":
                scope["yhlaw_dev.soap_fault"] = True
            return kind

        def add_routes(self, app: FastAPI) -> None:
            @app.post(self.prefix + ENDPOINT)
            async def service(request: Request) -> Response:
                data = await request.body()
                if request.scope.get("yhlaw_dev.soap_fault"):
                    return _xml(500, render_fault("soap:Server", "数据库忙, 请稍后重试"))
                try:
                    answer, served = await run_in_threadpool(self.answer, data)
                except SoapRequestError as exc:
                    return _xml(500, render_fault(exc.code, exc.text))
                request.scope[ITEMS_SCOPE_KEY] = served
                return _xml(200, answer)

        def answer(self, data: bytes) -> tuple[bytes, int]:
            operation, params, token = parse_request(data)
            settings = self.settings
            if not digest_ok(token, settings.client_id, settings.client_secret or "") \
                    or not self.nonces.fresh(token.get("Nonce", "")):
                raise SoapRequestError("wsse:FailedAuthentication", "用户名令牌校验失败")
            if operation not in OPERATIONS:
                raise SoapRequestError("soap:Client", f"未知操作 {operation[:40]}")
            try:
                since, until = parse_iso(params["updatedSince"]), parse_iso(params["updatedUntil"])
                page_no, size = int(params.get("pageNo", "1")), int(params.get("pageSize", "200"))
            except (KeyError, ValueError):
                raise SoapRequestError("soap:Client", "参数 updatedSince/updatedUntil/pageNo/pageSize 无效") from None
            if since > until or page_no < 1 or not 1 <= size <= MAX_PAGE_SIZE:
                raise SoapRequestError("soap:Client", "参数超出范围")
            collection = self.state.source.collections[OPERATIONS[operation]]
            items = collection.expand(collection.query(since, until, self.state.clock.serving(until)))
            chunk = items[(page_no - 1) * size: page_no * size]
            return render_page(operation, len(items), chunk, page_no, size), len(chunk)

    def _xml(status: int, body: bytes) -> Response:
        return Response(content=body, status_code=status, media_type="text/xml; charset=utf-8")

    return SoapApi


# -------------------------------------------------------------- source factory

VOLUMES = (("gov_cases_per_day", "SIM_GOV_CASES_PER_DAY", CASES_PER_DAY),
           ("gov_items_per_day", "SIM_GOV_ITEMS_PER_DAY", ITEMS_PER_DAY))


def _volume(settings: Any, name: str, env: str, default: int) -> int:
    value = getattr(settings, name, None)
    return int(os.environ.get(env) or default) if value is None else value


def validate_settings(settings: Any) -> None:
    for name, env, default in VOLUMES:
        try:
            value = _volume(settings, name, env, default)
        except ValueError:
            raise ValueError(f"{env} must be an integer") from None
        if not 0 <= value <= (90000 if name == "gov_cases_per_day" else 90):
            raise ValueError(f"{env} is out of range (5-digit / 2-digit numbering)")


def build_source(settings: Any) -> SimSource:
    """Build the 政务服务 source from a settings object (see server.SimulatorConfig)."""
    from .server import API_STYLES

    API_STYLES.setdefault("soap", soap_api_class())
    validate_settings(settings)
    dirt = DirtProfile.parse(settings.dirt, DIRT_DEFAULTS)
    cases = CaseGenerator(settings.seed, _volume(settings, *VOLUMES[0]), dirt, party_pool(settings.seed))
    items = ItemGenerator(settings.seed, _volume(settings, *VOLUMES[1]), dirt)
    span = dict(start=settings.start_date, end=settings.end_date, max_lag_days=MAX_LAG_DAYS)
    return SimSource("gov_service", {
        "cases": DailyCollection("cases", cases, **span),
        "evaluation": DailyCollection("evaluation", EvaluationGenerator(settings.seed, cases, dirt), **span),
        "item": DailyCollection("item", items, **span),
    }, api="soap", path_prefix="")
