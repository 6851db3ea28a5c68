"""Tests for the upstream simulator (framework + enforcement source + HTTP).

The petitions and legal-services sources have their own test files."""

from __future__ import annotations

import json
import random
import time
import warnings
from collections import Counter
from datetime import date, datetime, timedelta

import pytest

with warnings.catch_warnings():  # starlette nags about httpx vs httpx2; irrelevant here
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

from yhlaw_dev.sim.enforcement import DIRT_DEFAULTS, TOWNS, id_card_check, uscc_check
from yhlaw_dev.sim import enforcement, framework
from yhlaw_dev.sim.framework import CST, FAULT_KINDS, DirtProfile, FaultProfile, rng_for, to_iso
from yhlaw_dev.sim.server import SOURCES, SimulatorConfig, SimulatorConfigError, create_app

SECRET = "test-secret-not-real"
ADMIN = {"X-Sim-Admin": "test-admin-token"}
NOW = datetime(2022, 6, 1, tzinfo=CST)
WINDOW = {"updated_since": "2022-03-01T00:00:00+08:00", "updated_until": "2022-04-01T00:00:00+08:00"}


class FakeWall:
    """Controllable wall clock for token expiry."""

    def __init__(self) -> None:
        self.t = 1_000_000.0

    def __call__(self) -> float:
        return self.t


def make_settings(**overrides) -> SimulatorConfig:
    base = dict(client_secret=SECRET, admin_token=ADMIN["X-Sim-Admin"], cases_per_day=12,
                inspections_per_day=15, start_date=date(2022, 1, 1), end_date=date(2022, 12, 31),
                now=NOW, slow_seconds=0.05, token_ttl=600)
    return SimulatorConfig(**{**base, **overrides})


def make_client(wall: FakeWall | None = None, **overrides) -> TestClient:
    return TestClient(create_app(make_settings(**overrides), wall_time=wall or FakeWall()))


def token(client: TestClient) -> dict[str, str]:
    r = client.post("/oauth/token", data={"grant_type": "client_credentials",
                                          "client_id": "yhlaw-etl", "client_secret": SECRET})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 600
    return {"Authorization": f"Bearer {body['access_token']}"}


def fetch_all(client, auth, entity="cases", page_size=1000, **window) -> list[dict]:
    params = {**(window or WINDOW), "page_size": page_size}
    items, page = [], 1
    while True:
        r = client.get(f"/api/v1/{entity}", params={**params, "page": page}, headers=auth)
        assert r.status_code == 200, r.text
        body = r.json()
        items += body["items"]
        if page * page_size >= body["total"]:
            assert len(items) == body["total"]
            return items
        page += 1


@pytest.fixture(scope="module")
def shared():
    """One app for read-mostly tests; per-test state is reset by ``client``."""
    return make_client()


@pytest.fixture
def client(shared):
    shared.put("/_sim/faults", json={}, headers=ADMIN)
    shared.put("/_sim/clock", json={"now": to_iso(NOW)}, headers=ADMIN)
    shared.post("/_sim/stats/reset", headers=ADMIN)
    return shared


# ---------------------------------------------------------------- framework


def test_rng_and_profiles():
    assert rng_for(1, "a", date(2022, 1, 1)).random() == rng_for(1, "a", date(2022, 1, 1)).random()
    assert rng_for(1, "a").random() != rng_for(2, "a").random()
    assert DirtProfile.parse("none", DIRT_DEFAULTS).probabilities == {}
    assert DirtProfile.parse("default", DIRT_DEFAULTS).probabilities == DIRT_DEFAULTS
    assert DirtProfile.parse("duplicate:0.5", DIRT_DEFAULTS).probabilities == {"duplicate": 0.5}
    assert FaultProfile.parse("5xx:0.2,429:0.1").probabilities == {"5xx": 0.2, "429": 0.1}
    with pytest.raises(ValueError):
        FaultProfile.parse("teapot:0.1")
    with pytest.raises(ValueError):
        FaultProfile.parse("5xx:0.8,429:0.8")


def test_fault_kinds_per_source():
    extended = FAULT_KINDS + ("cursor_expire",)
    with pytest.raises(ValueError):
        FaultProfile.parse("cursor_expire:0.1")
    assert FaultProfile.parse("cursor_expire:0.1", extended).probabilities == {"cursor_expire": 0.1}
    # appending a kind never changes the draws of the shared kinds
    base = FaultProfile.parse("5xx:0.3,reset:0.2")
    wider = FaultProfile.from_mapping({"5xx": 0.3, "reset": 0.2, "cursor_expire": 0.1}, extended)
    a, b = random.Random(5), random.Random(5)
    pairs = [(base.draw(a), wider.draw(b)) for _ in range(200)]
    assert all(x == y or (x is None and y == "cursor_expire") for x, y in pairs)


def test_shared_world():
    assert enforcement.TOWNS is framework.TOWNS and len(framework.TOWNS) == 12
    assert framework.party_pool(7) is framework.party_pool(7)
    assert framework.PartyPool(7).persons == framework.party_pool(7).persons
    assert framework.PartyPool(8).persons != framework.party_pool(7).persons
    for source in ("enforcement", "petitions", "legal_services"):
        assert source in SOURCES


def test_settings_require_secret():
    with pytest.raises(SimulatorConfigError, match="SIM_CLIENT_SECRET"):
        SimulatorConfig.from_env(env={}).validate()
    s = SimulatorConfig.from_env(env={"SIM_CLIENT_SECRET": "x", "SIM_SEED": "7", "SIM_END_DATE": "2022-02-01"})
    assert (s.seed, s.end_date, s.cases_per_day) == (7, date(2022, 2, 1), 40)
    s = SimulatorConfig.from_env(env={"SIM_CLIENT_SECRET": "x", "SIM_PETITIONS_PER_DAY": "3", "SIM_SERVICES_PER_DAY": "4",
                               "SIM_CURSOR_TTL": "9", "SIM_RATE_LIMIT_PER_MIN": "2"})
    assert (s.petitions_per_day, s.services_per_day, s.cursor_ttl, s.rate_limit_per_min) == (3, 4, 9, 2)
    assert (SimulatorConfig().petitions_per_day, SimulatorConfig().services_per_day) == (25, 60)
    assert (SimulatorConfig().cursor_ttl, SimulatorConfig().rate_limit_per_min) == (300, 600)
    with pytest.raises(SimulatorConfigError, match="source"):
        SimulatorConfig(client_secret="x", source="nope").validate()


# ---------------------------------------------------------------- auth


def test_healthz_needs_nothing(client):
    assert client.get("/healthz").json() == {"status": "ok", "source": "enforcement"}


def test_auth_failures():
    wall = FakeWall()
    c = make_client(wall)
    assert c.get("/api/v1/cases", params=WINDOW).status_code == 401
    assert c.get("/api/v1/cases", params=WINDOW).json() == {"error": "invalid_token"}
    bad = c.post("/oauth/token", data={"grant_type": "client_credentials",
                                       "client_id": "yhlaw-etl", "client_secret": "wrong"})
    assert bad.status_code == 401 and bad.json() == {"error": "invalid_client"}
    assert c.get("/api/v1/cases", params=WINDOW, headers={"Authorization": "Bearer nope"}).status_code == 401
    auth = token(c)
    assert c.get("/api/v1/cases", params=WINDOW, headers=auth).status_code == 200
    wall.t += 601
    r = c.get("/api/v1/cases", params=WINDOW, headers=auth)
    assert r.status_code == 401 and r.json() == {"error": "invalid_token"}


def test_admin_needs_token(client):
    assert client.get("/_sim/stats").status_code == 403
    assert client.get("/_sim/stats", headers={"X-Sim-Admin": "guess"}).status_code == 403
    c = make_client(admin_token=None)
    assert c.get("/_sim/clock", headers=ADMIN).status_code == 403


# ---------------------------------------------------------------- data semantics


def test_determinism():
    a, b = make_client(), make_client()
    page = {**WINDOW, "page": 2, "page_size": 50}
    ra = a.get("/api/v1/cases", params=page, headers=token(a))
    rb = b.get("/api/v1/cases", params=page, headers=token(b))
    assert ra.content == rb.content and len(ra.json()["items"]) == 50
    other = make_client(seed=1)
    assert other.get("/api/v1/cases", params=page, headers=token(other)).content != ra.content


def test_pagination_consistent(client):
    auth = token(client)
    full = fetch_all(client, auth)
    paged = fetch_all(client, auth, page_size=37)
    assert paged == full and len(full) > 100
    assert client.get("/_sim/stats", headers=ADMIN).json()["items_served"] == 2 * len(full)
    ordered = [(i["updatedAt"], i["caseNo"] or "") for i in full]
    assert [i["updatedAt"] for i in full] == sorted(i["updatedAt"] for i in full)
    dupes = [x for x, n in Counter(json.dumps(i, sort_keys=True) for i in full).items() if n > 1]
    assert len(ordered) - len(set(ordered)) == len(dupes)  # only dirt duplicates repeat
    beyond = client.get("/api/v1/cases", params={**WINDOW, "page": 999}, headers=auth).json()
    assert beyond["items"] == [] and beyond["total"] == len(full)


def test_bad_requests(client):
    auth = token(client)
    assert client.get("/api/v1/cases", params={**WINDOW, "page_size": 1001}, headers=auth).status_code == 400
    assert client.get("/api/v1/cases", params={**WINDOW, "page": 0}, headers=auth).status_code == 400
    assert client.get("/api/v1/cases", params={"updated_since": WINDOW["updated_since"]},
                      headers=auth).status_code == 400
    assert client.get("/api/v1/cases", params={**WINDOW, "updated_until": "yesterday"},
                      headers=auth).status_code == 400


def test_windows_partition(client):
    auth = token(client)
    for entity in ("cases", "inspections"):
        a = fetch_all(client, auth, entity, updated_since="2022-03-01T00:00:00+08:00",
                      updated_until="2022-03-10T12:00:00+08:00")
        b = fetch_all(client, auth, entity, updated_since="2022-03-10T04:00:00Z",
                      updated_until="2022-04-01T00:00:00+08:00")
        assert a and b and a + b == fetch_all(client, auth, entity)


def test_clock_semantics(client):
    cases = client.app.state.sim.source.collections["cases"]
    record = next(r for r in cases.records_for_day(date(2022, 3, 1)) if len(r.versions) >= 2)
    v0, v1 = record.versions[0].updated_at, record.versions[1].updated_at
    key = record.versions[1].payload["caseNo"]
    auth = token(client)

    def keys_in(start: datetime, seconds: int = 1) -> list[str]:
        window = {"updated_since": to_iso(start), "updated_until": to_iso(start + timedelta(seconds=seconds))}
        return [i["caseNo"] for i in fetch_all(client, auth, **window)]

    client.put("/_sim/clock", json={"now": to_iso(v1 - timedelta(seconds=1))}, headers=ADMIN)
    assert key in keys_in(v0) and key not in keys_in(v1)
    client.put("/_sim/clock", json={"now": to_iso(v1)}, headers=ADMIN)
    assert key not in keys_in(v0) and key in keys_in(v1)
    assert client.get("/_sim/clock", headers=ADMIN).json() == {"now": to_iso(v1), "fixed": True,
                                                               "follow_minutes": None}
    client.put("/_sim/clock", json={"now": None}, headers=ADMIN)
    assert client.get("/_sim/clock", headers=ADMIN).json()["fixed"] is False


def test_following_clock_answers_each_window_as_at_its_end():
    """SIM_CLOCK_FOLLOW_MINUTES: a backfill today reads, window by window, what a run on
    schedule (window end + lag) read then; the truth endpoint answers on the same clock."""
    day1 = {"updated_since": "2022-03-01T00:00:00+08:00", "updated_until": "2022-03-02T00:00:00+08:00"}
    lag = timedelta(hours=1)
    on_schedule = make_client(now=datetime(2022, 3, 2, 1, 0, tzinfo=CST))
    today = make_client(now=datetime(2026, 12, 2, 9, 0, tzinfo=CST), follow_minutes=60)
    late = make_client(now=datetime(2026, 12, 2, 9, 0, tzinfo=CST))
    served = {name: fetch_all(c, token(c), **day1) for name, c in
              (("on_schedule", on_schedule), ("today", today), ("late", late))}
    assert served["today"] == served["on_schedule"] and served["today"]
    assert served["late"] != served["on_schedule"]        # without it, later updates moved records on
    truth = today.get("/_sim/truth", params={"entity": "cases", **day1}, headers=ADMIN).json()["items"]
    assert len(truth) == len({i["caseNo"] for i in served["today"]})
    assert today.app.state.sim.clock.serving(datetime(2026, 1, 1, tzinfo=CST)) == datetime(2026, 1, 1, tzinfo=CST) + lag


def test_record_shapes(client):
    auth = token(client)
    towns = {t.code for t in TOWNS}
    truth = client.get("/_sim/truth", params={**WINDOW, "entity": "cases"}, headers=ADMIN).json()["items"]
    dirty = {(row["key"], row["updatedAt"]) for row in truth if row["dirt"]}
    cases = fetch_all(client, auth)
    clean = [c for c in cases if (c["caseNo"], c["updatedAt"]) not in dirty]
    assert len(clean) > 0.8 * len(cases)
    for case in clean:
        assert case["townCode"] in towns and case["updatedAt"].endswith("+08:00")
        idno = case["party"]["idNo"]
        check = id_card_check if case["party"]["type"] == "person" else uscc_check
        assert len(idno) == 18 and idno[-1] == check(idno[:17])
        names = [s["stage"] for s in case["stages"]]
        assert names[0] == "立案" and (case["status"] == "已结案") == (names[-1] == "结案")
    parties = Counter(c["party"]["idNo"] for c in cases)
    assert parties.most_common(1)[0][1] > 1  # identities recur across cases
    inspections = fetch_all(client, auth, "inspections")
    assert {"inspectionNo", "inspectedAt", "isJoint", "isDoubleRandom", "result"} <= set(inspections[0])


def test_truth_lists_dirt():
    heavy = ",".join(f"{kind}:0.1" for kind in DIRT_DEFAULTS)
    c = make_client(dirt=heavy)
    params = {**WINDOW, "entity": "cases"}
    truth = c.get("/_sim/truth", params=params, headers=ADMIN).json()["items"]
    kinds = Counter(k for row in truth for k in row["dirt"])
    assert set(kinds) == set(DIRT_DEFAULTS)
    served = fetch_all(c, token(c))
    assert len(served) == len(truth) + kinds["duplicate"]
    assert {row["key"] for row in truth if not row["key"].startswith("<null>#")} == \
        {i["caseNo"] for i in served if i["caseNo"]}
    nulls = [row for row in truth if row["key"].startswith("<null>#")]
    assert len(nulls) == sum(1 for i in served if i["caseNo"] is None) - sum(
        1 for row in nulls if "duplicate" in row["dirt"])
    clean = make_client(dirt="none")
    clean_truth = clean.get("/_sim/truth", params=params, headers=ADMIN).json()["items"]
    assert clean_truth and all(row["dirt"] == [] for row in clean_truth)


# ---------------------------------------------------------------- faults


def _faulted(client, kind: str):
    auth = token(client)
    assert client.put("/_sim/faults", json={kind: 1.0}, headers=ADMIN).status_code == 200
    start = time.perf_counter()
    r = client.get("/api/v1/cases", params={**WINDOW, "page_size": 20}, headers=auth)
    elapsed = time.perf_counter() - start
    client.put("/_sim/faults", json={}, headers=ADMIN)
    stats = client.get("/_sim/stats", headers=ADMIN).json()
    assert stats["faults"] == {kind: 1} and stats["requests"] == 2
    delivered = 20 if kind == "slow" else 0
    assert stats["items_served"] == delivered
    return r, elapsed, auth


@pytest.mark.parametrize("kind", ["5xx", "429", "slow", "truncated", "malformed", "token_expire", "reset"])
def test_each_fault_kind(client, kind):
    r, elapsed, auth = _faulted(client, kind)
    normal = client.get("/api/v1/cases", params={**WINDOW, "page_size": 20}, headers=auth)
    if kind == "5xx":
        assert r.status_code in (500, 502, 503) and "error" in r.json()
    elif kind == "429":
        assert r.status_code == 429 and r.headers["retry-after"] == "1"
        assert r.json() == {"error": "rate_limited"}
    elif kind == "slow":
        assert r.status_code == 200 and elapsed >= 0.05 and r.content == normal.content
    elif kind == "truncated":
        assert r.status_code == 200 and int(r.headers["content-length"]) == len(r.content)
        assert normal.content.startswith(r.content) and len(r.content) < len(normal.content)
        with pytest.raises(ValueError):
            json.loads(r.content)
    elif kind == "malformed":
        assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")
        assert r.text.startswith("<html>")
        with pytest.raises(ValueError):
            r.json()
    elif kind == "token_expire":
        assert r.status_code == 401 and r.json() == {"error": "invalid_token"}
        assert normal.status_code == 401  # the token stays dead
    elif kind == "reset":
        # In-process there is no socket: the response is left incomplete.
        assert int(r.headers["content-length"]) == len(normal.content) > len(r.content)


def test_faults_only_on_api(client):
    client.put("/_sim/faults", json={"5xx": 1.0}, headers=ADMIN)
    assert client.get("/healthz").status_code == 200
    assert client.get("/_sim/stats", headers=ADMIN).json() == {"requests": 0, "faults": {}, "items_served": 0}
    assert client.post("/oauth/token", data={"grant_type": "client_credentials"}).status_code >= 500


def test_fault_sequence_is_seeded(client):
    def run() -> list[int]:
        client.put("/_sim/faults", json={"5xx": 0.3, "429": 0.3}, headers=ADMIN)
        return [client.get("/api/v1/cases", params=WINDOW).status_code for _ in range(30)]

    first = run()
    assert first == run() and {401, 429} <= set(first)
    assert client.put("/_sim/faults", json={"5xx": 2}, headers=ADMIN).status_code == 400
