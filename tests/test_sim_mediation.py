"""Tests for the 人民调解 (mediation) simulator: the system's own PostgreSQL database."""

from __future__ import annotations

import time
import warnings
from datetime import date, datetime, timedelta

import psycopg2
import pytest

with warnings.catch_warnings():  # starlette nags about httpx vs httpx2; irrelevant here
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

from yhlaw_dev.sim.framework import CST, to_iso
from yhlaw_dev.sim.mediation import database_url
from yhlaw_dev.sim.server import SimulatorConfig, SimulatorConfigError, create_app

# Reaches PostgreSQL (and starts simulators) itself: the full tier only.
pytestmark = pytest.mark.stack

ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
DB = "yhlaw_sim_mediation_unittest"
READER = "mediation_reader_unittest"
ADMIN = {"X-Sim-Admin": "test-admin-token"}
NOW = datetime(2022, 4, 1, tzinfo=CST)
EPOCH = datetime(2000, 1, 1, tzinfo=CST)


def settings(**overrides) -> SimulatorConfig:
    base = dict(source="mediation", db_admin_url=ADMIN_URL, db_name=DB, db_reader=READER,
                admin_token=ADMIN["X-Sim-Admin"], mediations_per_day=12, start_date=date(2022, 3, 1),
                end_date=date(2022, 6, 30), now=NOW, system_tick_seconds=0)
    return SimulatorConfig(**{**base, **overrides})


def query(sql: str, params=None, user: str | None = None) -> list[tuple]:
    conn = psycopg2.connect(database_url(ADMIN_URL, DB, user))
    try:
        with conn.cursor() as cur:
            cur.execute(sql, params)
            return cur.fetchall()
    finally:
        conn.close()


@pytest.fixture(scope="module")
def client():
    client = TestClient(create_app(settings()))
    yield client
    client.app.state.sim.source.system.close()
    admin = psycopg2.connect(ADMIN_URL)
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)")
        cur.execute(f"DROP ROLE IF EXISTS {READER}")
    admin.close()


def set_clock(client: TestClient, when: datetime, **extra) -> dict:
    r = client.put("/_sim/clock", json={"now": to_iso(when), **extra}, headers=ADMIN)
    assert r.status_code == 200, r.text
    return r.json()


def truth_state(client: TestClient, now: datetime) -> dict[str, str]:
    r = client.get("/_sim/truth", params={"entity": "cases", "updated_since": to_iso(EPOCH),
                                          "updated_until": to_iso(now + timedelta(seconds=1))}, headers=ADMIN)
    assert r.status_code == 200, r.text
    return {i["key"]: i["updatedAt"] for i in r.json()["items"]}


def db_state() -> dict[str, str]:
    return {ajbh: to_iso(gxsj.replace(tzinfo=CST)) for ajbh, gxsj in query("SELECT ajbh, gxsj FROM tj_ajxx")}


def test_settings():
    SimulatorConfig(source="mediation", db_admin_url=ADMIN_URL).validate()  # no SIM_CLIENT_SECRET needed
    with pytest.raises(SimulatorConfigError, match="SIM_DB_ADMIN_URL"):
        SimulatorConfig(source="mediation").validate()
    s = SimulatorConfig.from_env(env={"SIM_DB_ADMIN_URL": ADMIN_URL, "SIM_MEDIATIONS_PER_DAY": "3"}, source="mediation")
    assert (s.db_name, s.db_reader, s.mediations_per_day) == ("yhlaw_sim_mediation", "mediation_reader", 3)


def test_schema_and_reader(client):
    assert client.get("/healthz").json() == {"status": "ok", "source": "mediation"}
    assert client.get("/api/v1/cases").status_code == 404
    cols = query("SELECT table_name, column_name, data_type, character_maximum_length, is_nullable "
                 "FROM information_schema.columns WHERE table_schema = 'public' ORDER BY table_name, ordinal_position")
    assert [c[:2] for c in cols] == [("tj_ajxx", c) for c in (
        "ajbh", "tjwyh_lx", "tjwyh_mc", "jflx", "ajly", "sfjfm", "xzqh", "slrq", "jarq", "tjjg", "xyje", "sfsfqr",
        "wpbh", "xfjbh", "gxsj")] + [("tj_dsr", c) for c in ("ajbh", "xh", "dsrdw", "dsrlx", "xm", "zjhm", "lxdh")]
    types = {(t, c): (dt, n, nl) for t, c, dt, n, nl in cols}
    assert types["tj_ajxx", "gxsj"] == ("timestamp without time zone", None, "NO")
    assert types["tj_ajxx", "slrq"][0] == "date" and types["tj_ajxx", "xyje"][0] == "numeric"
    assert types["tj_ajxx", "sfjfm"] == ("character", 1, "YES")
    assert types["tj_dsr", "zjhm"] == ("character varying", 30, "YES")
    assert query("SELECT indexdef FROM pg_indexes WHERE tablename = 'tj_ajxx' AND indexdef LIKE '%(gxsj)%'")
    # the reader role: SELECT yes, anything else no
    assert query("SELECT count(*) FROM tj_ajxx", user=READER)[0][0] > 0
    for statement in ("INSERT INTO tj_dsr VALUES ('x', 1, '申请人', '自然人', 'a', 'b', 'c')", "DELETE FROM tj_ajxx",
                      "CREATE TABLE t (x int)"):
        with pytest.raises(psycopg2.errors.InsufficientPrivilege):
            query(statement, user=READER)


def test_clock_sync_forward_and_backward(client):
    set_clock(client, NOW)
    assert db_state() == truth_state(client, NOW)
    for when in (datetime(2022, 4, 20, 10, tzinfo=CST), datetime(2022, 6, 1, tzinfo=CST),
                 datetime(2022, 3, 10, 15, tzinfo=CST), datetime(2022, 5, 5, tzinfo=CST)):
        view = set_clock(client, when)
        assert view["syncing"] is False and view["fixed"] is True
        state = db_state()
        assert state == truth_state(client, when)
        assert max(state.values()) <= to_iso(when)
    # a row equals its visible version: closed cases carry a result, open ones none
    rows = query("SELECT slrq, jarq, tjjg, sfsfqr, xyje FROM tj_ajxx")
    assert all((jarq is None) == (tjjg is None) == (sfsfqr is None) for _, jarq, tjjg, sfsfqr, _ in rows)
    assert {r[2] for r in rows} <= {None, "成功", "不成功"}
    # every party with its role: 申请人 first, then the 被申请人 (two when an insurer is one)
    assert query("SELECT count(DISTINCT ajbh) FROM tj_dsr")[0][0] == len(rows)
    assert not query("SELECT ajbh FROM tj_dsr GROUP BY ajbh HAVING NOT array_agg(xh ORDER BY xh) <@ '{1,2,3}' "
                     "OR min(xh) <> 1 OR count(*) < 2")
    assert {r for (r,) in query("SELECT DISTINCT dsrdw FROM tj_dsr WHERE xh = 1")} == {"申请人"}
    assert {r for (r,) in query("SELECT DISTINCT dsrdw FROM tj_dsr WHERE xh > 1")} == {"被申请人"}


def test_truth_dirt(client):
    set_clock(client, datetime(2022, 6, 30, tzinfo=CST))
    r = client.get("/_sim/truth", params={"entity": "cases", "updated_since": to_iso(EPOCH),
                                          "updated_until": "2022-07-01T00:00:00+08:00"}, headers=ADMIN).json()
    kinds = {k for i in r["items"] for k in i["dirt"]}
    assert "duplicate" not in kinds and kinds >= {"town_name", "late_correction"}
    assert all(i["updatedAt"].endswith("+08:00") for i in r["items"])
    negative = [i["key"] for i in r["items"] if "negative_amount" in i["dirt"]]
    if negative:
        assert all(x < 0 for (x,) in query("SELECT xyje FROM tj_ajxx WHERE ajbh = ANY(%s)", (negative,)))


def test_gradual_sync(client):
    start, end = datetime(2022, 4, 1, tzinfo=CST), datetime(2022, 4, 25, tzinfo=CST)
    set_clock(client, start)
    before = db_state()
    view = set_clock(client, end, gradual_seconds=1.5)
    assert view["syncing"] is True
    seen = [len(set(db_state().items()) - set(before.items()))]
    deadline = time.monotonic() + 10
    while client.get("/_sim/clock", headers=ADMIN).json()["syncing"] and time.monotonic() < deadline:
        time.sleep(0.2)
        seen.append(len(set(db_state().items()) - set(before.items())))
    final = db_state()
    assert final == truth_state(client, end)
    changed = len(set(final.items()) - set(before.items()))
    assert changed > 50
    assert seen[0] < changed and any(0 < n < changed for n in seen)  # rows changed while one watched
    assert seen == sorted(seen)
    assert client.put("/_sim/clock", json={"now": to_iso(end), "gradual_seconds": "x"},
                      headers=ADMIN).status_code == 400


def test_linked_cases_and_parties_are_the_worlds(client, tmp_path):
    """诉前委派 and 信访转办 cases are the world's: they carry the court's 民诉前调 number or the
    petition's number (as typed: mostly right, some missing); a failed 诉前委派 case is followed
    by a 民初 filed after it closed, a successful one never; every party is of the population."""
    from yhlaw_dev.sim.population import Population, world

    set_clock(client, datetime(2022, 7, 1, tzinfo=CST))  # after the last acceptance
    rows = query("SELECT ajbh, ajly, wpbh, xfjbh, jarq, tjjg FROM tj_ajxx WHERE ajly IN ('诉前委派', '信访转办')")
    assert not query("SELECT 1 FROM tj_ajxx WHERE ajly NOT IN ('诉前委派', '信访转办') "
                     "AND (wpbh IS NOT NULL OR xfjbh IS NOT NULL)")
    w = world(settings().seed)
    steps = {w.key(s): s for i in range(122) for s in w.records_on("mediation", date(2022, 3, 1) + timedelta(days=i))}
    right = filed = 0
    for ajbh, source, wpbh, xfjbh, jarq, tjjg in rows:
        step = steps[ajbh]
        assert step.source == source
        (name, (clean, typed)), = w.links(step).items()
        assert (wpbh if source == "诉前委派" else xfjbh) == typed
        right += typed == clean
        if source == "诉前委派" and jarq is not None:
            suits = [s for s in w.dispute(step.dispute).steps if s.kind == "民初"]
            assert (tjjg == "成功") <= (suits == [])
            assert all(s.day > jarq for s in suits)
            filed += len(suits)
    assert len(rows) > 150 and 0.75 < right / len(rows) < 1 and filed > 10
    ids = {p["idNo"] for p in Population(settings().seed).identities()}
    assert {z for (z,) in query("SELECT DISTINCT zjhm FROM tj_dsr")} <= ids
