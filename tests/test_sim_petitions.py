"""Tests for the 信访 (petitions) simulator: signed requests, cursor pages, rate limit."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import warnings
from collections import Counter
from datetime import date, datetime, timedelta
from urllib.parse import quote

import pytest

with warnings.catch_warnings():  # starlette nags about httpx vs httpx2; irrelevant here
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

from yhlaw_dev.sim.framework import CST, FAULT_KINDS, TOWNS, id_card_check, to_iso
from yhlaw_dev.sim.petitions import DIRT_DEFAULTS, MAX_LAG_DAYS
from yhlaw_dev.sim.server import SimulatorConfig, canonical_query, create_app

SECRET = "test-secret-not-real"
KEY = "yhlaw-etl"
ADMIN = {"X-Sim-Admin": "test-admin-token"}
NOW = datetime(2022, 6, 1, tzinfo=CST)
WINDOW = {"updated_since": "2022-03-01T00:00:00+08:00", "updated_until": "2022-04-01T00:00:00+08:00"}
PATH = "/api/v2/petitions"


class FakeWall:
    """Controllable wall clock: signature timestamps, cursor expiry, rate limit."""

    def __init__(self) -> None:
        self.t = 1_700_000_000.0

    def __call__(self) -> float:
        return self.t


def make_client(wall: FakeWall | None = None, **overrides) -> TestClient:
    base = dict(source="petitions", client_secret=SECRET, admin_token=ADMIN["X-Sim-Admin"],
                petitions_per_day=15, cases_per_day=12, inspections_per_day=5,
                start_date=date(2022, 2, 15), end_date=date(2022, 12, 31), now=NOW, slow_seconds=0.05)
    client = TestClient(create_app(SimulatorConfig(**{**base, **overrides}), wall_time=wall or FakeWall()))
    client.wall = client.app.state.sim.wall_time
    return client


def sign(params: dict, timestamp: int, secret: str = SECRET, key: str = KEY, method: str = "GET",
         path: str = PATH) -> dict[str, str]:
    """Independent implementation of the documented signature (not the server's)."""
    query = "&".join(f"{k}={quote(str(v), safe='')}" for k, v in sorted(params.items()))
    message = f"{method}\n{path}\n{query}\n{timestamp}"
    digest = hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()
    return {"X-Api-Key": key, "X-Timestamp": str(timestamp), "X-Signature": digest}


def get(client: TestClient, params: dict, **sign_kw):
    headers = sign(params, int(client.wall()), **sign_kw)
    return client.get(PATH, params=params, headers=headers)


def pages(client: TestClient, limit: int = 500, **window) -> list[list[dict]]:
    params = {**(window or WINDOW), "limit": limit}
    out, cursor = [], None
    while True:
        r = get(client, {**params, **({"cursor": cursor} if cursor else {})})
        assert r.status_code == 200, r.text
        body = r.json()
        assert set(body) == {"items", "next_cursor"} and len(body["items"]) <= limit
        out.append(body["items"])
        cursor = body["next_cursor"]
        if cursor is None:
            return out


def fetch_all(client: TestClient, limit: int = 500, **window) -> list[dict]:
    return [item for page in pages(client, limit, **window) for item in page]


def truth(client: TestClient, **window) -> list[dict]:
    params = {**(window or WINDOW), "entity": "petitions"}
    return client.get("/_sim/truth", params=params, headers=ADMIN).json()["items"]


@pytest.fixture(scope="module")
def shared():
    return make_client(rate_limit_per_min=100_000, start_date=date(2022, 1, 1))


@pytest.fixture
def client(shared):
    shared.put("/_sim/faults", json={}, headers=ADMIN)
    shared.put("/_sim/clock", json={"now": to_iso(NOW)}, headers=ADMIN)
    shared.post("/_sim/stats/reset", headers=ADMIN)
    return shared


# ---------------------------------------------------------------- auth


def test_healthz(client):
    assert client.get("/healthz").json() == {"status": "ok", "source": "petitions"}
    assert client.post("/oauth/token", data={"grant_type": "client_credentials"}).status_code in (404, 405)


def test_canonical_query_contract():
    pairs = [("updated_until", "2022-04-01T00:00:00+08:00"), ("limit", "200"), ("cursor", "abc"),
             ("updated_since", "2022-03-01T00:00:00+08:00")]
    assert canonical_query(pairs) == ("cursor=abc&limit=200&updated_since=2022-03-01T00%3A00%3A00%2B08%3A00"
                                      "&updated_until=2022-04-01T00%3A00%3A00%2B08%3A00")


def test_signature_auth(client):
    params = {**WINDOW, "limit": 5}
    now = int(client.wall())
    ok = client.get(PATH, params=params, headers=sign(params, now))
    assert ok.status_code == 200 and len(ok.json()["items"]) == 5
    bad = [
        {},                                                     # no headers
        sign(params, now, secret="wrong"),                      # wrong secret
        sign(params, now, key="someone-else"),                  # unknown key
        sign(params, now - 301),                                # stale timestamp
        sign(params, now + 301),                                # from the future
        sign({**params, "limit": 6}, now),                      # signed other params
        sign(params, now, path="/api/v2/other"),                # signed another path
        {**sign(params, now), "X-Timestamp": "yesterday"},
        {**sign(params, now), "X-Signature": "00" * 32},
    ]
    for headers in bad:
        r = client.get(PATH, params=params, headers=headers)
        assert r.status_code == 401 and r.json() == {"error": "invalid_signature"}, headers
    assert client.get(PATH, params=params, headers=sign(params, now - 300)).status_code == 200


def test_admin_needs_token(client):
    assert client.get("/_sim/stats").status_code == 403
    assert client.get("/_sim/truth", params={**WINDOW, "entity": "petitions"}).status_code == 403


# ---------------------------------------------------------------- cursor pagination


def test_cursor_pages_partition_the_window(client):
    full = fetch_all(client)
    assert len(full) > 300
    assert fetch_all(client, limit=37) == full
    # Cut a page right between the two copies of a duplicate: still exactly once more.
    keys = [(i["updatedAt"], i["petitionNo"]) for i in full]
    first_dup = next(n for n in range(len(keys) - 1) if full[n] == full[n + 1])
    split = pages(client, limit=first_dup + 1)
    assert split[0][-1] == split[1][0] == full[first_dup]
    assert [i for p in split for i in p] == full
    assert keys == sorted(keys, key=lambda k: (k[0], k[1] or ""))
    dupes = sum(n - 1 for n in Counter(json.dumps(i, sort_keys=True) for i in full).values())
    t = truth(client)
    assert dupes == sum("duplicate" in row["dirt"] for row in t) and len(full) == len(t) + dupes
    # items served are counted
    client.post("/_sim/stats/reset", headers=ADMIN)
    fetch_all(client, limit=100)
    assert client.get("/_sim/stats", headers=ADMIN).json()["items_served"] == len(full)


def test_bad_requests(client):
    assert get(client, {**WINDOW, "limit": 501}).status_code == 400
    assert get(client, {**WINDOW, "limit": 0}).status_code == 400
    assert get(client, {"updated_since": WINDOW["updated_since"]}).status_code == 400
    assert get(client, {**WINDOW, "updated_until": "yesterday"}).status_code == 400
    assert len(get(client, WINDOW).json()["items"]) == 200  # default limit


def test_cursor_window_and_tampering(client):
    cursor = get(client, {**WINDOW, "limit": 10}).json()["next_cursor"]
    other = {**WINDOW, "updated_until": "2022-04-02T00:00:00+08:00"}
    assert get(client, {**other, "limit": 10, "cursor": cursor}).status_code == 400
    # the same instants written in another offset are the same window
    utc = {"updated_since": "2022-02-28T16:00:00Z", "updated_until": "2022-03-31T16:00:00+00:00"}
    assert get(client, {**utc, "limit": 10, "cursor": cursor}).status_code == 200
    body, mac = cursor.split(".")
    doc = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    doc["i"] += 10_000
    forged = base64.urlsafe_b64encode(json.dumps(doc).encode()).decode().rstrip("=") + "." + mac
    assert get(client, {**WINDOW, "limit": 10, "cursor": forged}).status_code == 400
    assert get(client, {**WINDOW, "limit": 10, "cursor": "garbage"}).status_code == 400


def test_cursor_expiry():
    wall = FakeWall()
    c = make_client(wall, cursor_ttl=300)
    first = get(c, {**WINDOW, "limit": 10}).json()
    wall.t += 299
    assert get(c, {**WINDOW, "limit": 10, "cursor": first["next_cursor"]}).status_code == 200
    wall.t += 1
    r = get(c, {**WINDOW, "limit": 10, "cursor": first["next_cursor"]})
    assert r.status_code == 410 and r.json() == {"error": "cursor_expired"}
    # starting the window over works
    assert get(c, {**WINDOW, "limit": 10}).json()["items"] == first["items"]


def test_rate_limit():
    wall = FakeWall()
    c = make_client(wall, rate_limit_per_min=3)
    params = {**WINDOW, "limit": 1}
    for _ in range(3):
        assert get(c, params).status_code == 200
        wall.t += 10
    r = get(c, params)
    assert r.status_code == 429 and r.json() == {"error": "rate_limited"}
    assert r.headers["retry-after"] == "30"  # the first slot frees 60 s after it was taken
    wall.t += 29.5
    assert get(c, params).status_code == 429 and get(c, params).headers["retry-after"] == "1"
    wall.t += 0.5
    assert get(c, params).status_code == 200
    assert get(c, params).status_code == 429  # the freed slot is taken again
    # bad signatures do not eat slots (auth first)
    assert get(c, params, secret="wrong").status_code == 401


# ---------------------------------------------------------------- data semantics


def test_windows_partition(client):
    a = fetch_all(client, updated_since="2022-03-01T00:00:00+08:00", updated_until="2022-03-10T12:00:00+08:00")
    b = fetch_all(client, updated_since="2022-03-10T04:00:00Z", updated_until="2022-04-01T00:00:00+08:00")
    assert a and b and a + b == fetch_all(client)


def test_clock_semantics(client):
    collection = client.app.state.sim.source.collections["petitions"]
    record = next(r for r in collection.records_for_day(date(2022, 3, 1)) if len(r.versions) >= 2)
    v0, v1 = record.versions[0].updated_at, record.versions[1].updated_at
    key = record.versions[1].payload["petitionNo"]

    def keys_in(start: datetime) -> list[str]:
        window = {"updated_since": to_iso(start), "updated_until": to_iso(start + timedelta(seconds=1))}
        return [i["petitionNo"] for i in fetch_all(client, **window)]

    client.put("/_sim/clock", json={"now": to_iso(v1 - timedelta(seconds=1))}, headers=ADMIN)
    assert key in keys_in(v0) and key not in keys_in(v1)
    client.put("/_sim/clock", json={"now": to_iso(v1)}, headers=ADMIN)
    assert key not in keys_in(v0) and key in keys_in(v1)
    assert client.get("/_sim/clock", headers=ADMIN).json() == {"now": to_iso(v1), "fixed": True, "follow_minutes": None}


def test_determinism():
    week = {"updated_since": "2022-03-01T00:00:00+08:00", "updated_until": "2022-03-08T00:00:00+08:00"}
    a, b, other = make_client(), make_client(), make_client(seed=1)
    assert fetch_all(a, **week) == fetch_all(b, **week)
    assert fetch_all(other, **week) != fetch_all(a, **week)


def test_record_shapes(client):
    towns = {t.code for t in TOWNS}
    dirty = {(row["key"], row["updatedAt"]) for row in truth(client) if row["dirt"]}
    items = fetch_all(client)
    clean = [p for p in items if p["petitionNo"] and (p["petitionNo"], p["updatedAt"]) not in dirty]
    assert len(clean) > 0.8 * len(items)
    ops = {"登记", "受理", "转办", "交办", "答复", "办结", "评价"}
    for p in clean:
        assert set(p) == {"petitionNo", "form", "kind", "agentHandled", "townCode", "category", "registeredAt",
                          "acceptedAt", "concludedAt", "acceptedInTime", "concludedInTime", "satisfaction",
                          "isBacklog", "petitioner", "parties", "operationLog", "updatedAt"}
        assert p["parties"][0] == {"role": "信访人", **p["petitioner"]}
        assert {q["role"] for q in p["parties"][1:]} <= {"被反映人"}
        assert p["petitionNo"].startswith("YHXF") and len(p["petitionNo"]) == 17
        assert p["townCode"] in towns and p["form"] in ("来信", "来访", "网上信访", "电话")
        idno = p["petitioner"]["idNo"]
        assert p["petitioner"]["type"] == "person" and idno[-1] == id_card_check(idno[:17])
        log = p["operationLog"]
        assert log[0]["op"] == "登记" and {e["op"] for e in log} <= ops
        assert [e["time"] for e in log] == sorted(e["time"] for e in log)
        reg = datetime.fromisoformat(p["registeredAt"])
        if p["acceptedAt"] is None:
            assert p["acceptedInTime"] is None and p["concludedAt"] is None
            continue
        acc = datetime.fromisoformat(p["acceptedAt"])
        assert acc > reg and p["acceptedInTime"] == (acc - reg <= timedelta(days=15))
        if p["concludedAt"] is None:
            assert p["concludedInTime"] is None and p["satisfaction"] is None
            continue
        con = datetime.fromisoformat(p["concludedAt"])
        assert con > acc and p["concludedInTime"] == (con - acc <= timedelta(days=60))
        assert (p["satisfaction"] is not None) == (log[-1]["op"] == "评价")


def test_lifecycle_mix():
    """Rates over a quarter, read straight from the generator (dirt off)."""
    from yhlaw_dev.sim.population import world

    c = make_client(dirt="none", petitions_per_day=25, start_date=date(2022, 1, 1))
    collection = c.app.state.sim.source.collections["petitions"]
    finals, repeats = [], 0
    for n in range(120):
        d = date(2022, 1, 1) + timedelta(days=n)
        records = collection.records_for_day(d)
        steps = world(SimulatorConfig().seed).records_on("petitions", d)
        for i, r in enumerate(records):
            p = r.versions[-1].payload
            assert (r.versions[-1].updated_at.date() - d).days <= MAX_LAG_DAYS
            if p["kind"] == "重复":
                # a repeat is the world's, by the person who petitioned first about that dispute
                first = world(SimulatorConfig().seed).dispute(steps[i].dispute).steps[0]
                assert steps[i].kind == "重复信访" and first.kind == "信访" and first.day < d
                assert p["petitioner"]["idNo"] == world(SimulatorConfig().seed).parties(first)[0][1]["idNo"]
                repeats += 1
            finals.append(p)
    accepted = [p for p in finals if p["acceptedAt"]]
    concluded = [p for p in finals if p["concludedAt"]]
    assert 0.05 < sum(not p["acceptedInTime"] for p in accepted) / len(accepted) < 0.12
    assert 0.07 < sum(not p["concludedInTime"] for p in concluded) / len(concluded) < 0.16
    assert 0.03 < sum(p["isBacklog"] for p in finals) / len(finals) < 0.08
    assert 0.08 < repeats / len(finals) < 0.22
    assert {p["satisfaction"] for p in concluded} == {"满意", "基本满意", "不满意", "未评价"}


def test_truth_lists_dirt():
    heavy = ",".join(f"{kind}:0.1" for kind in DIRT_DEFAULTS)
    c = make_client(dirt=heavy)
    t = truth(c)
    kinds = Counter(k for row in t for k in row["dirt"])
    assert set(kinds) == set(DIRT_DEFAULTS)
    served = fetch_all(c)
    assert len(served) == len(t) + kinds["duplicate"]
    assert {r["key"] for r in t if not r["key"].startswith("<null>#")} == {i["petitionNo"] for i in served
                                                                           if i["petitionNo"]}
    clean = make_client(dirt="none")
    assert all(row["dirt"] == [] for row in truth(clean))


def _bad_date(text) -> bool:
    try:
        return datetime.fromisoformat(text).year in (1900, 2099)
    except ValueError:
        return True


def test_dirt_semantics():
    c = make_client(dirt="impossible_date:1")
    items = fetch_all(c)
    by_key = {(r["key"], r["updatedAt"]): r["dirt"] for r in truth(c)}
    for p in items:
        dirty = "impossible_date" in by_key[(p["petitionNo"], p["updatedAt"])]
        reg, acc, con = p["registeredAt"], p["acceptedAt"], p["concludedAt"]
        broken = _bad_date(reg) or (acc is not None and not _bad_date(reg) and acc < reg) or \
            (con is not None and acc is not None and con < acc)
        assert broken == dirty, p
    c = make_client(dirt="missing_required:1")
    for p in fetch_all(c):
        assert p["petitionNo"] is None or "townCode" not in p or p["registeredAt"] is None


# ---------------------------------------------------------------- faults

FAULTS = FAULT_KINDS + ("cursor_expire",)


@pytest.mark.parametrize("kind", FAULTS)
def test_each_fault_kind(client, kind):
    params = {**WINDOW, "limit": 20}
    first = get(client, params)
    cursor = first.json()["next_cursor"]
    follow = {**params, "cursor": cursor}
    normal = get(client, follow)
    client.post("/_sim/stats/reset", headers=ADMIN)
    assert client.put("/_sim/faults", json={kind: 1.0}, headers=ADMIN).status_code == 200
    start = time.perf_counter()
    r = get(client, follow)
    elapsed = time.perf_counter() - start
    client.put("/_sim/faults", json={}, headers=ADMIN)
    stats = client.get("/_sim/stats", headers=ADMIN).json()
    fired = {} if kind == "token_expire" else {kind: 1}  # no token to expire on a signed API
    assert stats["faults"] == fired and stats["requests"] == 1
    assert stats["items_served"] == (20 if kind in ("slow", "token_expire") else 0)
    if kind == "5xx":
        assert r.status_code in (500, 502, 503) and "error" in r.json()
    elif kind == "429":
        assert r.status_code == 429 and r.headers["retry-after"] == "1" and r.json() == {"error": "rate_limited"}
    elif kind in ("slow", "token_expire"):
        assert r.status_code == 200 and r.json()["items"] == normal.json()["items"]
        assert kind != "slow" or elapsed >= 0.05
    elif kind == "truncated":
        assert r.status_code == 200 and int(r.headers["content-length"]) == len(r.content)
        with pytest.raises(ValueError):
            json.loads(r.content)
    elif kind == "malformed":
        assert r.status_code == 200 and r.text.startswith("<html>")
    elif kind == "reset":
        assert int(r.headers["content-length"]) > len(r.content)
    elif kind == "cursor_expire":
        assert r.status_code == 410 and r.json() == {"error": "cursor_expired"}
        assert get(client, follow).status_code == 410  # that cursor stays dead
        assert get(client, params).status_code == 200  # the window can be read again


def test_cursor_expire_needs_a_cursor(client):
    client.put("/_sim/faults", json={"cursor_expire": 1.0}, headers=ADMIN)
    assert get(client, {**WINDOW, "limit": 5}).status_code == 200
    assert client.get("/_sim/stats", headers=ADMIN).json()["faults"] == {}
    assert client.put("/_sim/faults", json={"teapot": 1.0}, headers=ADMIN).status_code == 400


# ---------------------------------------------------------------- shared parties


def test_parties_shared_with_enforcement(client):
    enforcement = TestClient(create_app(SimulatorConfig(client_secret=SECRET, cases_per_day=12, inspections_per_day=5,
                                                 start_date=date(2022, 1, 1), end_date=date(2022, 12, 31),
                                                 now=NOW)))
    tok = enforcement.post("/oauth/token", data={"grant_type": "client_credentials", "client_id": KEY,
                                                 "client_secret": SECRET}).json()["access_token"]
    cases = enforcement.get("/api/v1/cases", params={**WINDOW, "page_size": 1000},
                            headers={"Authorization": f"Bearer {tok}"}).json()["items"]
    persons = {c["party"]["idNo"] for c in cases if c["party"]["type"] == "person"}
    petitioners = {p["petitioner"]["idNo"] for p in fetch_all(client)}
    assert persons & petitioners
