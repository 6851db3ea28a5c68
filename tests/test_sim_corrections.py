"""Tests for the 社区矫正 (corrections) simulator: the 浙江智慧矫正系统's own MariaDB database."""

from __future__ import annotations

import time
import warnings
from collections import Counter
from datetime import date, datetime, timedelta
from pathlib import Path

import pymysql
import pytest

with warnings.catch_warnings():  # starlette nags about httpx vs httpx2; irrelevant here
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

from yhlaw_dev.sim import framework
from yhlaw_dev.sim.corrections import (DEFAULT_ADMIN_URL, DIRT_DEFAULTS, MAX_LAG_DAYS, PersonGenerator, _term_end,
                                       connect_args, place_of)
from yhlaw_dev.sim.framework import CST, TOWNS, DirtProfile, id_card_check, to_iso
from yhlaw_dev.sim.server import SimulatorConfig, SimulatorConfigError, create_app
from yhlaw_dev.world import DevSettings

ADMIN_URL = DEFAULT_ADMIN_URL
DB = "yhlaw_sim_corrections_unittest"
READER = "corrections_reader_unittest"
ADMIN = {"X-Sim-Admin": "test-admin-token"}
NOW = datetime(2022, 4, 1, tzinfo=CST)
EPOCH = datetime(2000, 1, 1, tzinfo=CST)
START = date(2022, 1, 1)


def settings(**overrides) -> SimulatorConfig:
    base = dict(source="corrections", db_name=DB, db_reader=READER, admin_token=ADMIN["X-Sim-Admin"],
                start_date=START, end_date=date(2023, 12, 31), now=NOW, system_tick_seconds=0)
    return SimulatorConfig(**{**base, **overrides})


def generator(per_day: int = 6, dirt: str = "default") -> PersonGenerator:
    return PersonGenerator(20220101, per_day, DirtProfile.parse(dirt, DIRT_DEFAULTS), framework.party_pool(20220101),
                           START)


# -- pure: the people (no database) -------------------------------------------------------------

def test_settings_and_the_environment_it_reads(monkeypatch):
    monkeypatch.delenv("SIM_MARIADB_ADMIN_URL", raising=False)
    monkeypatch.delenv("SIM_CORRECTIONS_PER_DAY", raising=False)
    SimulatorConfig(source="corrections").validate()        # no SIM_CLIENT_SECRET needed
    place = place_of(SimulatorConfig(source="corrections"))  # the shared defaults name mediation's system
    assert (place.admin_url, place.db_name, place.reader, place.per_day) == (
        "mysql://root@127.0.0.1:3306", "yhlaw_sim_corrections", "corrections_reader", 6)
    monkeypatch.setenv("SIM_MARIADB_ADMIN_URL", "postgresql://postgres@127.0.0.1/postgres")
    with pytest.raises(SimulatorConfigError, match="SIM_MARIADB_ADMIN_URL"):
        SimulatorConfig(source="corrections").validate()
    monkeypatch.setenv("SIM_MARIADB_ADMIN_URL", "mysql://root:pw@db.example:3307")
    with pytest.raises(SimulatorConfigError, match="SIM_DB_NAME"):
        SimulatorConfig(source="corrections", db_name="x; DROP DATABASE y").validate()
    assert connect_args("mysql://root:pw@db.example:3307", "d") == {
        "host": "db.example", "port": 3307, "user": "root", "password": "pw", "charset": "utf8mb4",
        "autocommit": False, "database": "d"}
    assert connect_args("mysql://root:pw@db.example", user="r")["password"] == ""   # the reader has none


def test_the_harness_points_the_pipeline_at_the_mariadb_database(monkeypatch):
    monkeypatch.setenv("SIM_MARIADB_ADMIN_URL", "mysql://root@10.0.0.5:3307")
    world = DevSettings(warehouse_url="postgresql://etl@127.0.0.1:5432/yuhang_law_x", admin_user="postgres",
                        airflow_home=Path("/tmp/unused"), sim_namespace="yuhang_law_x")
    conn = world.source_connection("corrections", "http://unused:1")
    assert conn == {"conn_type": "mysql", "host": "10.0.0.5", "port": 3307, "login": "corrections_reader",
                    "password": "", "schema": "yhlaw_sim_corrections_yuhang_law_x"}
    assert world.simulator_environment("corrections")["SIM_MARIADB_ADMIN_URL"] == "mysql://root@10.0.0.5:3307"
    assert world.source_connection("mediation", "http://unused:1")["conn_type"] == "postgres"


def test_term_end():
    assert _term_end(date(2022, 3, 1), 12) == date(2023, 2, 28)
    assert _term_end(date(2022, 1, 31), 1) == date(2022, 2, 27)     # 1 month from 31 Jan: through 27 Feb
    assert _term_end(date(2021, 11, 15), 3) == date(2022, 2, 14)


def test_people_lives_are_consistent_and_deterministic():
    days = [START + timedelta(days=i) for i in range(0, 120, 3)]
    people = [r for d in days for r in generator()(d)]
    assert people == [r for d in days for r in generator()(d)]          # the same seed, the same world
    migrated = [r for r in people if (r.versions[0].payload["rjrq"] or "9") < START.isoformat()]
    assert len(migrated) > 300, "the start day carries the roll of people already in correction"
    for r in people:
        stamps = [v.updated_at for v in r.versions]
        assert stamps == sorted(set(stamps))
        last = r.versions[-1]
        p = last.payload
        assert p["zjhm"][-1] == id_card_check(p["zjhm"][:17])
        if last.dirt:
            continue
        assert p["jzlb"] in ("管制", "缓刑", "假释", "暂予监外执行")
        if p["jjrq"] is not None:
            assert p["jjrq"] >= p["rjrq"] and p["jjlx"]
        if p["sfzf"] == "Y":
            assert p["rjrq"] <= p["zfzrq"] <= p["jjrq"] and p["jjlx"] in ("撤销缓刑", "撤销假释", "收监执行")
        if p["sfxj"] == "Y":
            assert p["jjlx"] == "期满解矫" and p["xjrq"] >= p["jjrq"]
        for v in r.versions:        # nothing is dated after the version that carries it
            for f in ("rjrq", "zjkhrq", "jjrq", "zfzrq", "xjrq"):
                if v.payload[f] and not v.dirt:
                    assert v.payload[f] <= v.updated_at.astimezone(CST).date().isoformat(), (f, v)


def test_dirt_and_late_corrections():
    kinds = Counter(k for d in range(60) for r in generator()(date(2022, 3, 1) + timedelta(days=d))
                    for v in r.versions for k in v.dirt)
    assert "duplicate" not in kinds
    assert {"missing_required", "unknown_town", "pre2021_town", "impossible_date", "town_name",
            "late_correction"} <= set(kinds)
    assert not [k for d in range(20) for r in generator(dirt="none")(date(2022, 3, 1) + timedelta(days=d))
                for v in r.versions for k in v.dirt]
    # a correction of the registration is a version of its own, and every later version keeps it
    for d in range(30):
        for r in generator()(date(2022, 3, 1) + timedelta(days=d)):
            marked = [i for i, v in enumerate(r.versions) if "late_correction" in v.dirt]
            if marked and not set(r.versions[0].dirt) - {"late_correction", "town_name"}:
                i = marked[0]
                changed = {k for k in ("zm", "jdjg", "xzqh") if r.versions[i].payload[k] != r.versions[i - 1].payload[k]}
                assert changed
                for later in r.versions[i:]:
                    assert all(later.payload[k] == r.versions[i].payload[k] for k in changed)


def test_old_district_people_leave_the_roll_at_the_split():
    gen = PersonGenerator(20220101, 6, DirtProfile.parse("none", DIRT_DEFAULTS), framework.party_pool(20220101),
                          date(2020, 1, 1))
    people = gen(date(2020, 1, 1)) + [r for i in range(60) for r in gen(date(2020, 6, 1) + timedelta(days=i))]
    current = {t.code for t in TOWNS}
    former = [r for r in people if r.versions[0].payload["xzqh"] not in current]
    assert former, "the old district had people under correction in the 镇街 that moved to 临平区"
    for r in former:
        p = r.versions[-1].payload
        assert p["jjrq"] <= "2021-04-08" and (p["jjlx"] == "迁出" or p["jjrq"] < "2021-04-08")


# -- the database (MariaDB) -----------------------------------------------------------------------

def query(sql: str, params=None, user: str | None = None) -> list[tuple]:
    conn = pymysql.connect(**connect_args(ADMIN_URL, DB, user))
    try:
        with conn.cursor() as cur:
            cur.execute(sql, params)
            return list(cur.fetchall())
    finally:
        conn.close()


@pytest.fixture(scope="module")
def client():
    client = TestClient(create_app(settings()))
    yield client
    client.app.state.sim.source.system.close()
    admin = pymysql.connect(**connect_args(ADMIN_URL))
    with admin.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS `{DB}`")
        cur.execute(f"DROP USER IF EXISTS '{READER}'@'%'")
    admin.close()


def set_clock(client: TestClient, when: datetime, **extra) -> dict:
    r = client.put("/_sim/clock", json={"now": to_iso(when), **extra}, headers=ADMIN)
    assert r.status_code == 200, r.text
    return r.json()


def truth_state(client: TestClient, now: datetime) -> dict[str, str]:
    r = client.get("/_sim/truth", params={"entity": "person", "updated_since": to_iso(EPOCH),
                                          "updated_until": to_iso(now + timedelta(seconds=1))}, headers=ADMIN)
    assert r.status_code == 200, r.text
    return {i["key"]: i["updatedAt"] for i in r.json()["items"]}


def db_state() -> dict[str, str]:
    return {k: to_iso(gxsj.replace(tzinfo=CST)) for k, gxsj in query("SELECT jzrybh, gxsj FROM jz_jzry")}


@pytest.mark.stack
def test_schema_and_reader(client):
    assert client.get("/healthz").json() == {"status": "ok", "source": "corrections"}
    assert client.get("/api/v1/person").status_code == 404
    cols = query("SELECT column_name, data_type, is_nullable FROM information_schema.columns "
                 "WHERE table_schema = %s AND table_name = 'jz_jzry' ORDER BY ordinal_position", (DB,))
    assert [c[0] for c in cols] == ["jzrybh", "xm", "zjhm", "lxdh", "jzlb", "zm", "jdjg", "jzqx", "rjrq", "xzqh",
                                    "sfsmc", "gljb", "sfdzdw", "jzapp", "zjkhrq", "jjrq", "jjlx", "sfzf", "zfzrq",
                                    "sfxj", "xjrq", "gxsj"]
    types = {c: (t, n) for c, t, n in cols}
    assert types["gxsj"] == ("datetime", "NO") and types["rjrq"][0] == "date" and types["jzqx"][0] == "int"
    assert query("SELECT 1 FROM information_schema.statistics WHERE table_schema = %s AND table_name = 'jz_jzry' "
                 "AND column_name = 'gxsj'", (DB,))
    # the reader account: SELECT yes, anything else no
    assert query("SELECT count(*) FROM jz_jzry", user=READER)[0][0] > 0
    for statement in ("INSERT INTO jz_jzry (jzrybh, gxsj) VALUES ('x', now())", "DELETE FROM jz_jzry",
                      "CREATE TABLE t (x int)"):
        with pytest.raises(pymysql.err.OperationalError, match="denied"):
            query(statement, user=READER)


@pytest.mark.stack
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
    # a released person carries a release type, one in correction none; PII is the pool's
    rows = query("SELECT jjrq, jjlx, zjhm FROM jz_jzry")
    assert all((jjrq is None) == (jjlx is None) for jjrq, jjlx, _ in rows)
    pool = framework.party_pool(settings().seed)
    assert {z for _, _, z in rows} <= {p["idNo"] for p in pool.persons}


@pytest.mark.stack
def test_gradual_sync_changes_rows_while_one_reads(client):
    start, end = datetime(2022, 4, 1, tzinfo=CST), datetime(2022, 4, 25, tzinfo=CST)
    set_clock(client, start)
    before = db_state()
    assert set_clock(client, end, gradual_seconds=1.5)["syncing"] is True
    seen = [len(set(db_state().items()) - set(before.items()))]
    deadline = time.monotonic() + 10
    while client.get("/_sim/clock", headers=ADMIN).json()["syncing"] and time.monotonic() < deadline:
        time.sleep(0.2)
        seen.append(len(set(db_state().items()) - set(before.items())))
    final = db_state()
    assert final == truth_state(client, end)
    changed = len(set(final.items()) - set(before.items()))
    assert changed > 50 and seen[0] < changed and seen == sorted(seen)


@pytest.mark.stack
def test_the_platform_reads_a_window_as_the_read_only_account(client):
    """The engine's own SQL reader, unchanged, on MariaDB through the spec's query: naive local
    DATETIMEs bound and read back as local time, the window's rows and only those."""
    from yhlaw.readers import PageSink, SourceConnection, SqlSourceReader
    from yhlaw.spec import load_spec

    class Sink(PageSink):
        def __init__(self):
            self.items = []

        def write(self, items):
            self.items += items

        def reset(self):
            self.items = []

    set_clock(client, datetime(2022, 5, 1, tzinfo=CST))
    since, until = datetime(2022, 4, 10, tzinfo=CST), datetime(2022, 4, 11, tzinfo=CST)
    spec = load_spec("corrections")
    sink = Sink()
    conn = SourceConnection("mysql", "127.0.0.1", 3306, DB, READER, "")
    SqlSourceReader(conn, {**spec.transport, "page_size": 7}).read_window(spec.entities["person"].path, since, until,
                                                                          sink)
    expected = {k: v for k, v in truth_state(client, until - timedelta(seconds=1)).items()
                if to_iso(since) <= v < to_iso(until)}
    assert {i["jzrybh"]: i["gxsj"] + "+08:00" for i in sink.items} == expected and len(expected) > 10
    assert all(set(i) >= {"xm", "zjhm", "lxdh", "rjrq"} for i in sink.items)


# -- 违规与奖惩 (jz_wgjc, added for #16 item 5) ---------------------------------------------------

def violations(dirt: str = "default"):
    from yhlaw_dev.sim.corrections import ViolationGenerator
    twin = generator(dirt="none")
    return twin, ViolationGenerator(20220101, twin, DirtProfile.parse(dirt, DIRT_DEFAULTS))


def fingerprint(records) -> str:
    import hashlib
    import json
    h = hashlib.sha256()
    for r in records:
        h.update(json.dumps([r.truth_key, [(v.updated_at.isoformat(), v.payload, list(v.dirt)) for v in r.versions]],
                            ensure_ascii=False, sort_keys=True).encode())
    return h.hexdigest()[:16]


def test_the_people_are_served_as_before_the_violations():
    """The violations have RNG streams of their own: the people are byte for byte those of the
    simulator before them (fingerprint taken from that version)."""
    from yhlaw_dev.sim.corrections import DirtProfile as Profile, party_pool
    cfg = SimulatorConfig(source="corrections", start_date=date(2021, 1, 1), end_date=date(2022, 12, 31))
    gen = PersonGenerator(cfg.seed, 6, Profile.parse(cfg.dirt, DIRT_DEFAULTS), party_pool(cfg.seed), cfg.start_date)
    days = [date(2021, 1, 1)] + [date(2021, 3, 1) + timedelta(days=i * 41) for i in range(16)]
    assert fingerprint([r for d in days for r in gen(d)]) == "66881f9e93fa8fcd"


def test_violations_belong_to_people_in_correction_and_precede_revocations():
    twin, gen = violations(dirt="none")
    days = [START] + [START + timedelta(days=i) for i in range(1, 200, 2)]
    people = {r.truth_key: r.versions[-1].payload for d in days for r in twin(d)}
    records = [r for d in days for r in gen(d)]
    assert records == [r for d in days for r in violations(dirt="none")[1](d)]     # deterministic
    kinds = Counter(r.versions[0].payload["jclb"] for r in records)
    assert {"训诫", "警告", "表扬"} <= set(kinds) and kinds["训诫"] + kinds["警告"] > kinds["表扬"]
    for r in records:
        p, person = r.versions[-1].payload, people[r.versions[0].payload["jzrybh"]]
        assert p["zjhm"] == person["zjhm"] and p["xzqh"] == person["xzqh"]      # keyed to the person, not the name
        assert person["rjrq"] <= p["jdrq"] <= person["jjrq"]
        assert (p["wglx"] is None) == (p["jclb"] in ("表扬", "提请减刑"))
        if p["wgrq"]:
            assert p["wgrq"] <= p["jdrq"]
        assert p["jdrq"] == r.versions[0].updated_at.astimezone(CST).date().isoformat()
    revoked = {k for k, p in people.items() if p["jjlx"] in ("撤销缓刑", "撤销假释", "收监执行") and p["sfzf"] != "Y"}
    asked = {r.versions[0].payload["jzrybh"] for r in records if r.versions[0].payload["jclb"].startswith("提请撤销")
             or r.versions[0].payload["jclb"] == "提请收监执行"}
    assert revoked and revoked <= asked


def test_violation_dirt_and_corrections():
    _, gen = violations()
    records = [r for d in range(0, 400, 2) for r in gen(date(2022, 1, 1) + timedelta(days=d))]
    kinds = Counter(k for r in records for v in r.versions for k in v.dirt)
    assert "duplicate" not in kinds
    assert {"missing_required", "unknown_town", "impossible_date", "town_name", "late_correction"} <= set(kinds)
    for r in records:
        if "late_correction" in r.versions[-1].dirt:
            assert r.versions[-1].payload["wglx"] != r.versions[-2].payload["wglx"]


@pytest.mark.stack
def test_the_violation_table_follows_the_clock_and_the_reader_reads_it(client):
    from yhlaw.readers import PageSink, SourceConnection, SqlSourceReader
    from yhlaw.spec import load_spec

    cols = [c[0] for c in query("SELECT column_name FROM information_schema.columns WHERE table_schema = %s "
                                "AND table_name = 'jz_wgjc' ORDER BY ordinal_position", (DB,))]
    assert cols == ["jcbh", "jzrybh", "xm", "zjhm", "jclb", "wglx", "wgrq", "jdrq", "jdjg", "xzqh", "sfsmc", "gxsj"]
    with pytest.raises(pymysql.err.OperationalError, match="denied"):
        query("DELETE FROM jz_wgjc", user=READER)
    for when in (datetime(2022, 6, 1, tzinfo=CST), datetime(2022, 5, 1, tzinfo=CST)):
        set_clock(client, when)
        r = client.get("/_sim/truth", params={"entity": "violation", "updated_since": to_iso(EPOCH),
                                              "updated_until": to_iso(when + timedelta(seconds=1))}, headers=ADMIN)
        want = {i["key"]: i["updatedAt"] for i in r.json()["items"]}
        got = {k: to_iso(g.replace(tzinfo=CST)) for k, g in query("SELECT jcbh, gxsj FROM jz_wgjc")}
        assert got == want and len(got) > 20
    persons = {p for (p,) in query("SELECT jzrybh FROM jz_jzry")}
    assert {p for (p,) in query("SELECT jzrybh FROM jz_wgjc")} <= persons

    class Sink(PageSink):
        def __init__(self):
            self.items = []

        def write(self, items):
            self.items += items

        def reset(self):
            self.items = []

    sink, spec = Sink(), load_spec("corrections")
    since, until = datetime(2022, 3, 1, tzinfo=CST), datetime(2022, 4, 1, tzinfo=CST)
    SqlSourceReader(SourceConnection("mysql", "127.0.0.1", 3306, DB, READER, ""), {**spec.transport, "page_size": 5}) \
        .read_window(spec.entities["violation"].path, since, until, sink)
    assert sink.items and all(since <= datetime.fromisoformat(i["gxsj"] + "+08:00") < until for i in sink.items)
