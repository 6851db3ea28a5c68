"""Tests for the 公共法律服务 (legal services) simulator: OAuth + pages, nested stages."""

from __future__ import annotations

import json
import warnings
from collections import Counter
from datetime import date, datetime, timedelta

import pytest

with warnings.catch_warnings():  # starlette nags about httpx vs httpx2; irrelevant here
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

from yhlaw_dev.sim.framework import CST, FAULT_KINDS, TOWNS, id_card_check, to_iso, uscc_check
from yhlaw_dev.sim.legal_services import DIRT_DEFAULTS, STAGES
from yhlaw_dev.sim.server import SimulatorConfig, create_app

SECRET = "test-secret-not-real"
ADMIN = {"X-Sim-Admin": "test-admin-token"}
NOW = datetime(2022, 6, 1, tzinfo=CST)
WINDOW = {"updated_since": "2022-03-01T00:00:00+08:00", "updated_until": "2022-03-15T00:00:00+08:00"}
PATH = "/api/v1/services"


def make_client(**overrides) -> TestClient:
    base = dict(source="legal_services", client_secret=SECRET, admin_token=ADMIN["X-Sim-Admin"],
                services_per_day=40, start_date=date(2022, 1, 15), end_date=date(2022, 12, 31), now=NOW,
                slow_seconds=0.05)
    return TestClient(create_app(SimulatorConfig(**{**base, **overrides})))


def token(client: TestClient) -> dict[str, str]:
    r = client.post("/oauth/token", data={"grant_type": "client_credentials",
                                          "client_id": "yhlaw-etl", "client_secret": SECRET})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def fetch_all(client, auth=None, page_size=1000, **window) -> list[dict]:
    auth = auth or token(client)
    params = {**(window or WINDOW), "page_size": page_size}
    items, page = [], 1
    while True:
        body = client.get(PATH, params={**params, "page": page}, headers=auth).json()
        assert set(body) == {"total", "page", "page_size", "items"}
        items += body["items"]
        if page * page_size >= body["total"]:
            assert len(items) == body["total"]
            return items
        page += 1


def truth(client, **window) -> list[dict]:
    params = {**(window or WINDOW), "entity": "services"}
    return client.get("/_sim/truth", params=params, headers=ADMIN).json()["items"]


def labels(client) -> dict[tuple, list[str]]:
    return {(r["key"], r["updatedAt"]): r["dirt"] for r in truth(client)}


@pytest.fixture(scope="module")
def shared():
    return make_client()


@pytest.fixture
def client(shared):
    shared.put("/_sim/faults", json={}, headers=ADMIN)
    shared.put("/_sim/clock", json={"now": to_iso(NOW)}, headers=ADMIN)
    shared.post("/_sim/stats/reset", headers=ADMIN)
    return shared


def test_healthz_and_auth(client):
    assert client.get("/healthz").json() == {"status": "ok", "source": "legal_services"}
    r = client.get(PATH, params=WINDOW)
    assert r.status_code == 401 and r.json() == {"error": "invalid_token"}
    bad = client.post("/oauth/token", data={"grant_type": "client_credentials",
                                            "client_id": "yhlaw-etl", "client_secret": "wrong"})
    assert bad.status_code == 401 and bad.json() == {"error": "invalid_client"}
    assert client.get(PATH, params=WINDOW, headers=token(client)).status_code == 200
    assert client.get(PATH, params={**WINDOW, "page_size": 1001}, headers=token(client)).status_code == 400


def test_pagination_and_windows(client):
    auth = token(client)
    full = fetch_all(client, auth)
    assert len(full) > 200 and fetch_all(client, auth, page_size=37) == full
    a = fetch_all(client, auth, updated_since=WINDOW["updated_since"], updated_until="2022-03-07T09:30:00+08:00")
    b = fetch_all(client, auth, updated_since="2022-03-07T01:30:00Z", updated_until=WINDOW["updated_until"])
    assert a and b and a + b == full
    dupes = sum(n - 1 for n in Counter(json.dumps(i, sort_keys=True) for i in full).values())
    t = truth(client)
    assert len(full) == len(t) + dupes == len(t) + sum("duplicate" in r["dirt"] for r in t)


def test_clock_semantics(client):
    collection = client.app.state.sim.source.collections["services"]
    record = next(r for r in collection.records_for_day(date(2022, 3, 1)) if len(r.versions) >= 2)
    v0, v1 = record.versions[0].updated_at, record.versions[1].updated_at
    key = record.versions[1].payload["serviceNo"]

    def keys_in(start: datetime) -> list[str]:
        window = {"updated_since": to_iso(start), "updated_until": to_iso(start + timedelta(seconds=1))}
        return [i["serviceNo"] for i in fetch_all(client, **window)]

    client.put("/_sim/clock", json={"now": to_iso(v1 - timedelta(seconds=1))}, headers=ADMIN)
    assert key in keys_in(v0) and key not in keys_in(v1)
    client.put("/_sim/clock", json={"now": to_iso(v1)}, headers=ADMIN)
    assert key not in keys_in(v0) and key in keys_in(v1)


def test_record_shapes_and_mix(client):
    towns = {t.code for t in TOWNS}
    truth_labels = labels(client)
    items = fetch_all(client)
    clean = [s for s in items if s["serviceNo"] and not truth_labels[(s["serviceNo"], s["updatedAt"])]]
    assert len(clean) > 0.7 * len(items)
    for s in clean:
        assert set(s) == {"serviceNo", "serviceType", "channel", "fullyOnline", "oneVisit", "sameDay",
                          "satisfaction", "townCode", "applicant", "stages", "updatedAt"}
        assert s["serviceNo"].startswith("GF") and len(s["serviceNo"]) == 15 and s["townCode"] in towns
        assert s["channel"] in ("实体平台", "12348热线", "网络平台")
        idno = s["applicant"]["idNo"]
        check = id_card_check if s["applicant"]["type"] == "person" else uscc_check
        assert idno[-1] == check(idno[:17])
        names, times = [x["stage"] for x in s["stages"]], [x["time"] for x in s["stages"]]
        assert names == [n for n in STAGES if n in names] and names[0] == "受理" and times == sorted(times)
        done = names[-1] == "办结"
        assert (s["satisfaction"] is not None) == done
        if done and s["sameDay"]:
            assert times[-1][:10] == times[0][:10]
        if s["serviceType"] == "公证" and s["fullyOnline"]:
            assert s["channel"] == "网络平台"  # 互联网公证
    mix = Counter(s["serviceType"] for s in fetch_all(client, updated_since="2022-02-01T00:00:00+08:00",
                                                      updated_until="2022-04-01T00:00:00+08:00"))
    total = sum(mix.values())
    assert 0.5 < mix["法律咨询"] / total < 0.7 and 0.1 < mix["公证"] / total < 0.3
    assert 0.08 < mix["法律援助"] / total < 0.22 and 0.01 < mix["司法鉴定"] / total < 0.1
    consult = [r for d in range(10) for r in client.app.state.sim.source.collections["services"]
               .records_for_day(date(2022, 3, 1) + timedelta(days=d))
               if r.versions[0].payload["serviceType"] == "法律咨询"]
    single = sum(len(r.versions) == 1 and len(r.versions[0].payload["stages"]) >= 3 for r in consult)
    assert single > 0.6 * len(consult)  # 法律咨询: usually all stages on day 0 in one version


def test_incomplete_stages_are_not_dirt():
    c = make_client(dirt="none")
    truth_labels = labels(c)
    assert {k for ks in truth_labels.values() for k in ks} == {"incomplete_stages"}
    items = fetch_all(c)
    finals = [s for s in items if s["stages"][-1]["stage"] == "办结"]
    incomplete = [s for s in finals if "incomplete_stages" in truth_labels[(s["serviceNo"], s["updatedAt"])]]
    assert 0.05 < len(incomplete) / len(finals) < 0.16
    for s in items:
        names = [x["stage"] for x in s["stages"]]
        gap = any(n not in names for n in STAGES[:STAGES.index(names[-1])])
        assert gap == ("incomplete_stages" in truth_labels[(s["serviceNo"], s["updatedAt"])])


def test_truth_lists_dirt():
    heavy = ",".join(f"{kind}:0.1" for kind in DIRT_DEFAULTS)
    c = make_client(dirt=heavy)
    t = truth(c)
    kinds = Counter(k for row in t for k in row["dirt"])
    assert set(kinds) == set(DIRT_DEFAULTS) | {"incomplete_stages"}
    served = fetch_all(c)
    assert len(served) == len(t) + kinds["duplicate"]
    by_key = {(r["key"], r["updatedAt"]): r["dirt"] for r in t}
    for s in served:
        if s["serviceNo"] and "stages_out_of_order" in by_key[(s["serviceNo"], s["updatedAt"])]:
            times = [x["time"] for x in s["stages"]]
            assert times != sorted(times)


def _bad(text) -> bool:
    try:
        return datetime.fromisoformat(text).year in (1900, 2099)
    except ValueError:
        return True


def test_dirt_semantics():
    c = make_client(dirt="impossible_date:1")
    by_key = labels(c)
    for s in fetch_all(c):
        stages = {x["stage"]: x["time"] for x in s["stages"]}
        broken = _bad(stages["受理"]) or any(t < stages["受理"] for t in stages.values())
        assert broken == ("impossible_date" in by_key[(s["serviceNo"], s["updatedAt"])])
    c = make_client(dirt="missing_required:1")
    for s in fetch_all(c):
        assert s["serviceNo"] is None or "townCode" not in s or "受理" not in {x["stage"] for x in s["stages"]}


@pytest.mark.parametrize("kind", FAULT_KINDS)
def test_each_fault_kind(client, kind):
    auth = token(client)
    params = {**WINDOW, "page_size": 20}
    normal = client.get(PATH, params=params, headers=auth)
    client.post("/_sim/stats/reset", headers=ADMIN)
    client.put("/_sim/faults", json={kind: 1.0}, headers=ADMIN)
    r = client.get(PATH, params=params, headers=auth)
    client.put("/_sim/faults", json={}, headers=ADMIN)
    assert client.get("/_sim/stats", headers=ADMIN).json()["faults"] == {kind: 1}
    expected = {"5xx": (500, 502, 503), "429": (429,), "slow": (200,), "truncated": (200,),
                "malformed": (200,), "token_expire": (401,), "reset": (200,)}[kind]
    assert r.status_code in expected
    if kind == "slow":
        assert r.content == normal.content
    if kind in ("truncated", "malformed"):
        with pytest.raises(ValueError):
            json.loads(r.content)
    if kind == "reset":
        assert int(r.headers["content-length"]) > len(r.content)
    assert client.put("/_sim/faults", json={"cursor_expire": 1.0}, headers=ADMIN).status_code == 400


def test_parties_shared_across_sources(client):
    applicants = {s["applicant"]["idNo"] for s in fetch_all(client)}
    base = dict(client_secret=SECRET, start_date=date(2022, 1, 15), end_date=date(2022, 12, 31), now=NOW)
    enforcement = TestClient(create_app(SimulatorConfig(**base, cases_per_day=12, inspections_per_day=5)))
    cases = enforcement.get("/api/v1/cases", params={**WINDOW, "page_size": 1000},
                            headers=token(enforcement)).json()["items"]
    assert applicants & {c["party"]["idNo"] for c in cases if c["party"]["type"] == "person"}
    petitions = create_app(SimulatorConfig(**base, source="petitions", petitions_per_day=15)).state.sim.source
    petitioners = {r.versions[0].payload["petitioner"]["idNo"]
                   for d in range(30) for r in petitions.collections["petitions"]
                   .records_for_day(date(2022, 3, 1) + timedelta(days=d))}
    assert applicants & petitioners
