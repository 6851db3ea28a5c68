"""Tests for the 执法监督 (浙江省行政执法监督系统) simulator: OAuth + pages under /api/zfjd/v1, 案卷评查
with 等次 revised after 复核, 投诉举报 with their 办理时限, people from the shared party pool."""

from __future__ import annotations

import json
import warnings
from collections import Counter
from datetime import date, datetime, timedelta

import pytest

with warnings.catch_warnings():  # starlette nags about httpx vs httpx2; irrelevant here
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

from yhlaw_dev.sim.framework import CST, TOWNS, id_card_check, party_pool, to_iso, uscc_check
from yhlaw_dev.sim.server import SimulatorConfig, create_app
from yhlaw_dev.sim.supervision import (DEPARTMENTS, DIRT_DEFAULTS, EXTENDED_LIMIT, MAX_LAG_DAYS, TIME_LIMIT,
                                       TOWN_TEAM, grade_of)

SECRET = "test-secret-not-real"
ADMIN = {"X-Sim-Admin": "test-admin-token"}
NOW = datetime(2022, 9, 1, tzinfo=CST)
WINDOW = {"updated_since": "2022-03-01T00:00:00+08:00", "updated_until": "2022-04-01T00:00:00+08:00"}
REVIEWS, COMPLAINTS, ORDERS = "/api/zfjd/v1/reviews", "/api/zfjd/v1/complaints", "/api/zfjd/v1/orders"
DEPT_CODES = {d.code for d in DEPARTMENTS} | {TOWN_TEAM.code}


def make_client(**overrides) -> TestClient:
    base = dict(source="supervision", client_secret=SECRET, admin_token=ADMIN["X-Sim-Admin"],
                start_date=date(2021, 12, 1), end_date=date(2022, 12, 31), now=NOW, slow_seconds=0.05)
    return TestClient(create_app(SimulatorConfig(**{**base, **overrides})))


def token(client: TestClient) -> dict[str, str]:
    r = client.post("/oauth/token", data={"grant_type": "client_credentials",
                                          "client_id": "yhlaw-etl", "client_secret": SECRET})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def fetch_all(client, path, page_size=1000, **window) -> list[dict]:
    auth = token(client)
    params = {**(window or WINDOW), "page_size": page_size}
    items, page = [], 1
    while True:
        body = client.get(path, params={**params, "page": page}, headers=auth).json()
        assert set(body) == {"total", "page", "page_size", "items"}
        items += body["items"]
        if page * page_size >= body["total"]:
            assert len(items) == body["total"]
            return items
        page += 1


def truth(client, entity, **window) -> list[dict]:
    params = {**(window or WINDOW), "entity": entity}
    return client.get("/_sim/truth", params=params, headers=ADMIN).json()["items"]


def clean(client, path, entity, key) -> list[dict]:
    """Served versions that carry no dirt at all (late corrections included: they are clean data)."""
    labels = {(r["key"], r["updatedAt"]): r["dirt"] for r in truth(client, entity)}
    return [i for i in fetch_all(client, path)
            if i[key] and set(labels[(i[key], i["updatedAt"])]) <= {"late_correction"}]


@pytest.fixture(scope="module")
def shared():
    return make_client()


@pytest.fixture
def client(shared):
    shared.put("/_sim/faults", json={}, headers=ADMIN)
    shared.put("/_sim/clock", json={"now": to_iso(NOW)}, headers=ADMIN)
    return shared


def test_healthz_auth_and_both_endpoints(client):
    assert client.get("/healthz").json() == {"status": "ok", "source": "supervision"}
    r = client.get(REVIEWS, params=WINDOW)
    assert r.status_code == 401 and r.json() == {"error": "invalid_token"}
    bad = client.post("/oauth/token", data={"grant_type": "client_credentials",
                                            "client_id": "yhlaw-etl", "client_secret": "wrong"})
    assert bad.status_code == 401
    for path in (REVIEWS, COMPLAINTS, ORDERS):
        assert client.get(path, params=WINDOW, headers=token(client)).status_code == 200
    assert client.get("/api/v1/cases", params=WINDOW, headers=token(client)).status_code == 404


@pytest.mark.parametrize("path, entity, least", [(REVIEWS, "reviews", 200), (COMPLAINTS, "complaints", 200),
                                                 (ORDERS, "orders", 60)])
def test_pages_partition_the_window_and_match_the_truth(client, path, entity, least):
    full = fetch_all(client, path)
    assert len(full) > least and fetch_all(client, path, page_size=37) == full
    a = fetch_all(client, path, updated_since=WINDOW["updated_since"], updated_until="2022-03-15T00:00:00+08:00")
    b = fetch_all(client, path, updated_since="2022-03-15T00:00:00+08:00", updated_until=WINDOW["updated_until"])
    assert a + b == full
    t = truth(client, entity)
    dupes = sum(n - 1 for n in Counter(json.dumps(i, sort_keys=True) for i in full).values())
    assert len(full) == len(t) + dupes == len(t) + sum("duplicate" in r["dirt"] for r in t)


def test_review_records_grade_by_score_and_units(client):
    items = clean(client, REVIEWS, "reviews", "reviewNo")
    towns = {t.code for t in TOWNS}
    for r in items:
        assert grade_of(r["score"]) == r["grade"], r
        assert r["deptCode"] in DEPT_CODES and r["townCode"] in towns
        assert (r["unitType"] == "镇街综合行政执法队") == (r["deptCode"] == TOWN_TEAM.code)
        if r["deptCode"] == TOWN_TEAM.code:
            assert r["deptName"].endswith("综合行政执法队") and ("街道" in r["deptName"] or "镇" in r["deptName"])
        assert r["batchName"].startswith(f"{r['reviewYear']}年度第") and r["reviewedOn"][:4] == str(r["reviewYear"])
        assert r["reviewedOn"] <= r["updatedAt"][:10]
    grades = Counter(r["grade"] for r in items)
    assert set(grades) == {"优秀", "良好", "合格", "不合格"}, grades
    assert 0.4 < (grades["优秀"] + grades["良好"]) / len(items) < 0.85, grades
    # Some departments have 不合格 files, and not all: the breakdown has something to show.
    failing = {r["deptCode"] for r in items if r["grade"] == "不合格"}
    assert failing and failing != DEPT_CODES


def test_recheck_revises_the_grade_as_a_later_version(client):
    """复核: about 10% of reviews get a second version 7-30 days later with another 等次 and a
    复核日期; the truth labels it a late correction (clean data, harmless to the oracle)."""
    collection = client.app.state.sim.source.collections["reviews"]
    records = [r for d in range(1, 29) for r in collection.records_for_day(date(2022, 3, d))]
    rechecked = [r for r in records if any(v.payload["recheckedOn"] for v in r.versions)]
    assert 0.04 < len(rechecked) / len(records) < 0.2
    for r in rechecked:
        first, revised = r.versions[0].payload, next(v for v in r.versions if v.payload["recheckedOn"])
        assert revised.payload["grade"] != first["grade"] and "late_correction" in revised.dirt
        days = (date.fromisoformat(revised.payload["recheckedOn"]) - date.fromisoformat(first["reviewedOn"])).days
        assert 7 <= days <= 30


def test_complaints_deadlines_and_in_time(client):
    items = clean(client, COMPLAINTS, "complaints", "complaintNo")
    assert {c["timeLimitDays"] for c in items} == {TIME_LIMIT, EXTENDED_LIMIT}
    concluded = [c for c in items if c["concludedAt"]]
    for c in concluded:
        received, done = datetime.fromisoformat(c["receivedAt"]), datetime.fromisoformat(c["concludedAt"])
        assert done > received
        assert c["inTime"] == ((done.date() - received.date()).days <= c["timeLimitDays"]), c
        assert c["founded"] and c["result"]
    for c in items:
        if not c["concludedAt"]:
            assert c["inTime"] is None and c["result"] is None
    late = sum(not c["inTime"] for c in concluded) / len(concluded)
    assert 0.02 < late < 0.2, late
    assert {c["channel"] for c in items} >= {"12345热线", "浙里办"}


def test_orders_deadlines_and_status(client):
    items = clean(client, ORDERS, "orders", "orderNo")
    assert {o["timeLimitDays"] for o in items} == {15, 30}
    for o in items:
        assert (o["status"] == "已办结") == (o["finishedAt"] is not None) == (o["inTime"] is not None) \
            == (o["outcome"] is not None), o
        if o["finishedAt"]:
            issued, done = datetime.fromisoformat(o["issuedAt"]), datetime.fromisoformat(o["finishedAt"])
            assert done > issued and o["inTime"] == ((done.date() - issued.date()).days <= o["timeLimitDays"])
    finished = [o for o in items if o["finishedAt"]]
    assert 0.02 < sum(not o["inTime"] for o in finished) / len(finished) < 0.25


def test_people_come_from_the_shared_pool_with_valid_ids(client):
    pool = party_pool(SimulatorConfig().seed)
    known = {p["idNo"] for p in pool.persons + pool.orgs}
    people = [i["party"] for path in (REVIEWS, ORDERS) for i in fetch_all(client, path)] + \
        [i["complainant"] for i in fetch_all(client, COMPLAINTS)]
    assert all(p["idNo"] in known for p in people)
    for p in people:
        body, check = p["idNo"][:17], p["idNo"][17]
        assert check == (id_card_check(body) if p["type"] == "person" else uscc_check(body))


def test_old_district_before_the_split():
    """Before 2021-04-09 the twenty 镇街 of the old district appear, after it only today's twelve."""
    plain = make_client(start_date=date(2021, 1, 1), end_date=date(2022, 12, 31), dirt="none")
    for entity in ("reviews", "complaints"):
        collection = plain.app.state.sim.source.collections[entity]

        def towns(year: int) -> set[str]:
            return {r.versions[0].payload["townCode"] for d in range(1, 28)
                    for r in collection.records_for_day(date(year, 3, d))}
        assert towns(2021) - {t.code for t in TOWNS}, f"{entity}: no 临平 镇街 before the split"
        assert towns(2022) <= {t.code for t in TOWNS}


def test_dirt_is_seeded_and_off_with_none(client):
    plain = make_client(dirt="none")
    for entity in ("reviews", "complaints", "orders"):
        labels = Counter(d for r in truth(plain, entity) for d in r["dirt"])
        assert set(labels) <= {"late_correction"}, labels
        dirty = Counter(d for r in truth(client, entity) for d in r["dirt"])
        assert {"late_correction"} <= set(dirty) and set(dirty) <= set(DIRT_DEFAULTS)
    # The same seed, the same records (the clean draws do not depend on the dirt's).
    a = plain.app.state.sim.source.collections["reviews"].records_for_day(date(2022, 3, 2))
    b = client.app.state.sim.source.collections["reviews"].records_for_day(date(2022, 3, 2))
    assert [r.versions[0].payload["score"] for r in a] == [r.versions[0].payload["score"] for r in b]


def test_versions_stay_within_the_max_lag(client):
    for entity in ("reviews", "complaints", "orders"):
        collection = client.app.state.sim.source.collections[entity]
        for d in range(1, 28):
            for r in collection.records_for_day(date(2022, 3, d)):
                assert (r.versions[-1].updated_at.date() - date(2022, 3, d)).days <= MAX_LAG_DAYS


def test_faults_are_injected_on_the_api(client):
    client.put("/_sim/faults", json={"5xx": 1.0}, headers=ADMIN)
    r = client.get(REVIEWS, params=WINDOW, headers={"Authorization": "Bearer x"})
    assert r.status_code in (500, 502, 503)
    client.put("/_sim/faults", json={}, headers=ADMIN)
    assert client.get("/_sim/faults", headers=ADMIN).json() == {}


def test_volumes_from_the_environment(monkeypatch):
    monkeypatch.setenv("SIM_SUP_REVIEWS_PER_DAY", "3")
    small = make_client(dirt="none")
    n = len(small.app.state.sim.source.collections["reviews"].records_for_day(date(2022, 3, 2)))
    assert 1 <= n <= 5
    monkeypatch.setenv("SIM_SUP_REVIEWS_PER_DAY", "many")
    with pytest.raises(Exception, match="SIM_SUP_REVIEWS_PER_DAY"):
        make_client()


# -- 网上执法效能评价 and 执法监督预警 (added for #16 items 4) ----------------------------------------

EVALUATIONS, WARNINGS = "/api/zfjd/v1/evaluations", "/api/zfjd/v1/warnings"


def fingerprint(records) -> str:
    import hashlib
    h = hashlib.sha256()
    for r in records:
        h.update(json.dumps([r.truth_key, [(v.updated_at.isoformat(), v.payload, list(v.dirt)) for v in r.versions]],
                            ensure_ascii=False, sort_keys=True).encode())
    return h.hexdigest()[:16]


def test_the_first_three_entities_are_served_as_before_the_new_ones():
    """The new entities draw from streams of their own: the records of the first three are byte for
    byte those of the simulator before them (fingerprints taken from that version)."""
    from yhlaw_dev.sim.supervision import build_source
    config = SimulatorConfig(source="supervision", start_date=date(2021, 1, 1), end_date=date(2022, 12, 31))
    source = build_source(config)
    days = [date(2021, 3, 1) + timedelta(days=i * 41) for i in range(16)]
    got = {e: fingerprint([r for d in days for r in source.collections[e].records_for_day(d)])
           for e in ("reviews", "complaints", "orders")}
    assert got == {"reviews": "cf578ab90ab21a8a", "complaints": "4c4cff67c0d1ed4e", "orders": "05009566fb1afa61"}


@pytest.mark.parametrize("path, entity, least", [(EVALUATIONS, "evaluations", 30), (WARNINGS, "warnings", 100)])
def test_new_endpoints_partition_the_window_and_match_the_truth(client, path, entity, least):
    full = fetch_all(client, path)
    assert len(full) > least and fetch_all(client, path, page_size=7) == full
    a = fetch_all(client, path, updated_since=WINDOW["updated_since"], updated_until="2022-03-15T00:00:00+08:00")
    b = fetch_all(client, path, updated_since="2022-03-15T00:00:00+08:00", updated_until=WINDOW["updated_until"])
    assert a + b == full
    t = truth(client, entity)
    assert len(full) == len(t) + sum("duplicate" in r["dirt"] for r in t)


def test_every_unit_of_every_town_is_evaluated_once_a_month_and_graded_by_score():
    from yhlaw_dev.sim.supervision import EVAL_UNITS, eval_grade
    plain = make_client(dirt="none", start_date=date(2021, 1, 1))
    collection = plain.app.state.sim.source.collections["evaluations"]
    assert collection.records_for_day(date(2022, 3, 2)) == []                 # only on the 1st
    march = [r.versions[0].payload for r in collection.records_for_day(date(2022, 3, 1))]
    assert {(p["townCode"], p["deptCode"]) for p in march} == {(t.code, u[0]) for t in TOWNS for u in EVAL_UNITS}
    assert len(march) == len(TOWNS) * len(EVAL_UNITS) and {p["periodStart"] for p in march} == {"2022-02-01"}
    before_split = collection.records_for_day(date(2021, 4, 1))               # March 2021: the twenty 镇街
    assert len(before_split) == 20 * len(EVAL_UNITS)
    records = [r for m in range(1, 13) for r in collection.records_for_day(date(2022, m, 1))]
    grades = Counter(r.versions[-1].payload["grade"] for r in records)
    assert {"优秀", "良好", "一般"} <= set(grades) and 0.4 < (grades["优秀"] + grades["良好"]) / len(records) < 0.9
    rescored = [r for r in records if len(r.versions) > 1]
    assert 0.03 < len(rescored) / len(records) < 0.15
    for r in records:
        for v in r.versions:
            assert v.payload["grade"] == eval_grade(v.payload["totalScore"]) and 0 <= v.payload["totalScore"] <= 100
    for r in rescored:
        first, last = r.versions[0].payload, r.versions[-1].payload
        assert last["totalScore"] > first["totalScore"] and last["recheckedOn"]
        assert "late_correction" in r.versions[-1].dirt


def test_warnings_deadlines_transfers_and_in_time(client):
    from yhlaw_dev.sim.supervision import WARNING_LIMITS
    items = clean(client, WARNINGS, "warnings", "warningNo")
    assert {w["timeLimitDays"] for w in items} == set(WARNING_LIMITS.values())
    for w in items:
        assert w["timeLimitDays"] == WARNING_LIMITS[w["warningLevel"]]
        assert (w["status"] == "已处置") == (w["handledAt"] is not None) == (w["inTime"] is not None) \
            == (w["result"] is not None), w
        due = datetime.fromisoformat(w["warnedAt"]).date() + timedelta(days=w["timeLimitDays"])
        if w["handledAt"]:
            handled = datetime.fromisoformat(w["handledAt"])
            assert handled > datetime.fromisoformat(w["warnedAt"]) and w["inTime"] == (handled.date() <= due)
        if w["transferred"]:       # 转督办 only once overdue, the day after the deadline
            assert not w["inTime"] and w["updatedAt"][:10] > due.isoformat()
    handled = [w for w in items if w["handledAt"]]
    assert 0.03 < sum(not w["inTime"] for w in handled) / len(handled) < 0.3
    assert any(w["transferred"] for w in items)


def test_new_entities_dirt_is_seeded_and_off_with_none(client):
    plain = make_client(dirt="none")
    for entity in ("evaluations", "warnings"):
        assert set(d for r in truth(plain, entity) for d in r["dirt"]) <= {"late_correction"}
    year = {"updated_since": "2021-12-01T00:00:00+08:00", "updated_until": "2022-09-01T00:00:00+08:00"}
    kinds = Counter(d for r in truth(client, "evaluations", **year) for d in r["dirt"])
    assert {"negative_amount", "town_name", "late_correction"} <= set(kinds), kinds
    scores = [i["totalScore"] for i in fetch_all(client, EVALUATIONS, **year)]
    assert -1 in scores and all(s == -1 or 0 <= s <= 100 for s in scores)
    assert "negative_amount" not in {d for e in ("reviews", "complaints", "orders", "warnings")
                                     for r in truth(client, e) for d in r["dirt"]}


def test_warnings_name_parties_from_the_shared_pool_and_evaluations_none(client):
    """A 预警 is about a case and its party; a 效能评价 scores a unit and names no person."""
    pool = party_pool(SimulatorConfig().seed)
    known = {p["idNo"] for p in pool.persons + pool.orgs}
    assert all(i["party"]["idNo"] in known for i in fetch_all(client, WARNINGS))
    assert not any(set(i) & {"party", "confirmer", "complainant"} for i in fetch_all(client, EVALUATIONS))


def test_warning_volume_from_the_environment(monkeypatch):
    monkeypatch.setenv("SIM_SUP_WARNINGS_PER_DAY", "2")
    small = make_client(dirt="none")
    assert 1 <= len(small.app.state.sim.source.collections["warnings"].records_for_day(date(2022, 3, 2))) <= 3
    monkeypatch.setenv("SIM_SUP_WARNINGS_PER_DAY", "lots")
    with pytest.raises(Exception, match="SIM_SUP_WARNINGS_PER_DAY"):
        make_client()
