"""Tests for the 政务服务 simulator (办件库 and 好差评 as a SOAP web service): envelopes in and out,
WS-Security digests and replays, faults as SOAP faults, the 办件/好差评/事项 records, dirt and volume."""

from __future__ import annotations

import os
import warnings
import xml.etree.ElementTree as ET
from collections import Counter
from datetime import date, datetime

import pytest

with warnings.catch_warnings():  # starlette nags about httpx vs httpx2; irrelevant here
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

from yhlaw.readers.files import xml_document
from yhlaw.readers.soap import security_header
from yhlaw_dev.sim.framework import CST, id_card_check, to_iso, uscc_check
from yhlaw_dev.sim.gov_service import GRADES, MAX_LAG_DAYS, MINUTES, NAMESPACE, SOAP_ENV
from yhlaw_dev.sim.server import SimulatorConfig, create_app

SECRET = "test-secret-not-real"
ADMIN = {"X-Sim-Admin": "test-admin-token"}
NOW = datetime(2022, 9, 1, tzinfo=CST)
SINCE, UNTIL = "2022-03-01T00:00:00+08:00", "2022-03-08T00:00:00+08:00"
URL = "/services/ZwfwShareService"


def make_client(**overrides) -> TestClient:
    base = dict(source="gov_service", client_secret=SECRET, admin_token=ADMIN["X-Sim-Admin"],
                start_date=date(2021, 12, 1), end_date=date(2022, 12, 31), now=NOW, slow_seconds=0.05)
    return TestClient(create_app(SimulatorConfig(**{**base, **overrides})))


def request(op: str, page: int = 1, size: int = 1000, since: str = SINCE, until: str = UNTIL,
            password: str = SECRET, nonce: bytes | None = None) -> bytes:
    header = security_header("yhlaw-etl", password, nonce or os.urandom(16), "2022-09-01T00:00:00Z")
    args = f"<s:updatedSince>{since}</s:updatedSince><s:updatedUntil>{until}</s:updatedUntil>" \
           f"<s:pageNo>{page}</s:pageNo><s:pageSize>{size}</s:pageSize>"
    return (f'<soap:Envelope xmlns:soap="{SOAP_ENV}" xmlns:s="{NAMESPACE}"><soap:Header>{header}</soap:Header>'
            f"<soap:Body><s:{op}>{args}</s:{op}></soap:Body></soap:Envelope>").encode()


def call(client, op: str, **kw) -> tuple[int, dict]:
    r = client.post(URL, content=request(op, **kw), headers={"Content-Type": "text/xml; charset=utf-8"})
    return r.status_code, xml_document(r.content, op, {"lists": ["records"]})["Envelope"]["Body"]


def fetch_all(client, op: str, size: int = 1000, **kw) -> list[dict]:
    items, page = [], 1
    while True:
        status, body = call(client, op, page=page, size=size, **kw)
        assert status == 200, body
        answer = body[f"{op}Response"]
        items += answer["records"]
        if page * size >= int(answer["total"]):
            assert len(items) == int(answer["total"])
            return items
        page += 1


def truth(client, entity) -> list[dict]:
    return client.get("/_sim/truth", params={"entity": entity, "updated_since": SINCE, "updated_until": UNTIL},
                      headers=ADMIN).json()["items"]


@pytest.fixture(scope="module")
def shared():
    return make_client()


@pytest.fixture
def client(shared):
    shared.put("/_sim/faults", json={}, headers=ADMIN)
    shared.put("/_sim/clock", json={"now": to_iso(NOW)}, headers=ADMIN)
    return shared


def test_operations_answer_with_total_and_records_and_nil_for_empty(client):
    cases = fetch_all(client, "queryBanjian")
    assert len(cases) > 700
    open_case = next(c for c in cases if c["finishTime"] is None)
    assert open_case["usedMinutes"] is None                    # <usedMinutes xsi:nil="true"/>
    assert fetch_all(client, "queryHaochaping") and fetch_all(client, "queryShixiang")


@pytest.mark.parametrize("op, entity, key", [("queryBanjian", "cases", "caseNo"),
                                             ("queryHaochaping", "evaluation", "evalNo"),
                                             ("queryShixiang", "item", "itemCode")])
def test_pages_partition_the_window_and_match_the_truth(client, op, entity, key):
    whole = fetch_all(client, op)
    paged = fetch_all(client, op, size=37)
    assert paged == whole
    served = Counter((r[key] or "", r["updatedAt"]) for r in whole)
    expected = Counter()
    for t in truth(client, entity):
        expected[("" if t["key"].startswith("<null>") else t["key"], t["updatedAt"])] += \
            2 if "duplicate" in t["dirt"] else 1
    assert served == expected


def test_ws_security_digest_and_replayed_nonces_are_refused(client):
    status, body = call(client, "queryBanjian", password="wrong")
    assert status == 500 and body["Fault"]["faultcode"] == "wsse:FailedAuthentication"
    nonce = os.urandom(16)
    assert call(client, "queryBanjian", nonce=nonce)[0] == 200
    status, body = call(client, "queryBanjian", nonce=nonce)
    assert status == 500 and body["Fault"]["faultcode"] == "wsse:FailedAuthentication"


def test_a_bad_request_is_a_client_fault(client):
    status, body = call(client, "queryNothing")
    assert status == 500 and body["Fault"]["faultcode"] == "soap:Client"
    status, body = call(client, "queryBanjian", since="昨天")
    assert status == 500 and body["Fault"]["faultcode"] == "soap:Client"
    r = client.post(URL, content=b'<!DOCTYPE x [<!ENTITY a "b">]><x>&a;</x>')
    assert r.status_code == 500 and b"soap:Client" in r.content


def test_soap_server_faults_are_injected(client):
    client.put("/_sim/faults", json={"soap_fault": 1.0}, headers=ADMIN)
    status, body = call(client, "queryBanjian")
    assert status == 500 and body["Fault"]["faultcode"] == "soap:Server"
    assert client.get("/_sim/stats", headers=ADMIN).json()["faults"]["soap_fault"] >= 1


def test_cases_minutes_channels_and_parties(client):
    cases = [c for c in fetch_all(client, "queryBanjian") if c["caseNo"] and c["status"] == "已办结"]
    fast = [c for c in cases if c["category"] in MINUTES and c["promisedDays"] == "0"]
    within = sum(int(c["usedMinutes"]) <= MINUTES[c["category"]] for c in fast)
    assert 0.8 < within / len(fast) < 0.97                  # 分钟制: most, not all
    assert {c["channel"] for c in cases} == {"网上", "掌上", "窗口", "自助终端"}
    online = [c for c in cases if c["channel"] in ("网上", "掌上")]
    assert sum(c["paperless"] == "true" for c in online) / len(online) > 0.8
    for c in cases[:200]:
        idno = c["applicant"]["idNo"]
        check = id_card_check(idno[:17]) if c["applicant"]["type"] == "person" else uscc_check(idno[:17])
        assert idno[17] == check


def test_evaluations_grades_and_bad_reviews_rectified(client):
    evals = fetch_all(client, "queryHaochaping", until="2022-04-01T00:00:00+08:00")
    grades = Counter(e["grade"] for e in evals)
    assert set(grades) <= set(GRADES.items) and grades["非常满意"] > len(evals) / 2
    bad = [e for e in evals if e["grade"] in ("不满意", "非常不满意") and e["evalNo"]]
    assert bad and all(e["rectifyStatus"] in ("待整改", "已整改", "不属实") for e in bad)
    assert any(e["rectifyStatus"] in ("已整改", "不属实") and e["rectifyTime"] for e in bad)


def test_dirt_is_seeded_and_off_with_none(client):
    kinds = Counter(d for t in truth(client, "cases") for d in t["dirt"])
    assert {"duplicate", "town_name", "late_correction"} <= set(kinds)
    plain = make_client(dirt="none")
    assert not [t for t in truth(plain, "cases") if t["dirt"]]


def test_versions_stay_within_the_max_lag_and_items_change_later(client):
    items = fetch_all(client, "queryShixiang", since="2022-01-01T00:00:00+08:00", until="2022-06-01T00:00:00+08:00")
    by_key = Counter(i["itemCode"] for i in items if i["itemCode"])
    assert any(n > 1 for n in by_key.values())                  # 网办 switched on, or 停用
    for i in items:
        if i["itemCode"] and i["publishDate"] and i["publishDate"][:4] == "2022":
            published = date.fromisoformat(i["publishDate"])
            assert (datetime.fromisoformat(i["updatedAt"]).date() - published).days <= MAX_LAG_DAYS
    answer = ET.fromstring(request("queryBanjian"))
    assert answer.tag == f"{{{SOAP_ENV}}}Envelope"
