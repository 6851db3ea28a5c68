"""Simulated 人民调解信息系统 (people's mediation) for 余杭区: the system's own
PostgreSQL database.

Not an HTTP API: the simulator process serves only ``/healthz`` and
``/_sim/*``.  On start it drops and recreates database ``SIM_DB_NAME`` (via
``SIM_DB_ADMIN_URL``) with the system's schema (``tj_ajxx`` cases, ``tj_dsr``
parties; pinyin abbreviations, ``gxsj`` in local time without zone), creates
the login role ``SIM_DB_READER`` (CONNECT + SELECT only) and fills the tables
to the world clock.  Every ``PUT /_sim/clock`` then makes the tables hold, for
every case, its latest version with update time <= clock: incrementally when
the clock moves forward (optionally spread over ``gradual_seconds`` in small
committed steps from a background thread), by a rebuild when it moves back.

A case is accepted (受理, slrq), closed 1-30 days later (jarq, tjjg, xyje,
sfsfqr) and sometimes corrected later.  Each day's first cases are the world's
(``population.World``): 信访转办 cases carry the petition's number (xfjbh), 诉前委派
cases the court's 民诉前调 number (wpbh), as the committee typed them (sometimes
not at all, sometimes wrongly); when and how they end is the world's, so a failed
诉前委派 is followed by the court's 民初 and a 司法确认 (sfsfqr) by its 民特.  The
rest of the day's volume are the committees' own cases (当事人申请/主动排查) between
parties of the shared pool.  Every party is in ``tj_dsr`` with its role (dsrdw:
申请人/被申请人).  No ``duplicate`` dirt: a primary key cannot hold one.
"""

from __future__ import annotations

import logging
import math
import random
import threading
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import psycopg2
from psycopg2 import sql
from psycopg2.extensions import make_dsn, parse_dsn
from psycopg2.extras import execute_values

from .population import World, world
from .framework import (
    CST,
    SHARED_DIRT_DEFAULTS,
    TOWN_DIRT,
    TOWN_NAME_VARIANTS,
    pick_town,
    town_by_code,
    TOWNS,
    DailyCollection,
    DirtPlan,
    DirtProfile,
    PartyPool,
    SimSource,
    SourceSystem,
    VersionedRecord,
    Weighted,
    at_work,
    correction_time,
    daily_count,
    draw_plan,
    finish_record,
    party_pool,
    rng_for,
    town_value,
)

log = logging.getLogger("yhlaw_dev.sim.mediation")

NEEDS_CLIENT_SECRET = False
MAX_LAG_DAYS = 75  # closed within 30 days, corrected up to 40 days after that

SCHEMA = """
CREATE TABLE tj_ajxx (ajbh varchar(40) PRIMARY KEY, tjwyh_lx varchar(20), tjwyh_mc varchar(100),
    jflx varchar(20), ajly varchar(20), sfjfm char(1), xzqh varchar(40), slrq date, jarq date,
    tjjg varchar(10), xyje numeric(14,2), sfsfqr char(1), wpbh varchar(60), xfjbh varchar(40),
    gxsj timestamp NOT NULL);
CREATE TABLE tj_dsr (ajbh varchar(40) NOT NULL, xh int NOT NULL, dsrdw varchar(10), dsrlx varchar(10),
    xm varchar(100), zjhm varchar(30), lxdh varchar(20), PRIMARY KEY (ajbh, xh));
CREATE INDEX tj_ajxx_gxsj_idx ON tj_ajxx (gxsj);
"""
CASE_COLUMNS = ("ajbh", "tjwyh_lx", "tjwyh_mc", "jflx", "ajly", "sfjfm", "xzqh", "slrq", "jarq", "tjjg", "xyje",
                "sfsfqr", "wpbh", "xfjbh", "gxsj")

DISPUTES = Weighted(("婚姻家庭", "邻里", "房屋宅基地", "损害赔偿", "合同", "劳动争议", "交通事故", "医患", "物业",
                     "征地拆迁", "其他"), (14, 18, 8, 10, 12, 9, 10, 3, 7, 3, 6))
MONEY_DISPUTES = {"损害赔偿": 8000, "合同": 20000, "劳动争议": 12000, "交通事故": 15000, "医患": 30000,
                  "物业": 3000, "房屋宅基地": 10000, "征地拆迁": 50000, "婚姻家庭": 20000}
#: the committees' own cases (信访转办 and 诉前委派 ones are the world's: they carry a number)
SOURCES_PICK = Weighted(("当事人申请", "主动排查"), (60, 30))
COMMITTEE_TYPES = Weighted(("村居", "镇街", "行业性专业性"), (50, 35, 15))
#: 纠纷类型 -> the 行业性专业性 committee that takes it
TRADE_COMMITTEES = {"交通事故": "余杭区交通事故纠纷人民调解委员会", "医患": "余杭区医疗纠纷人民调解委员会",
                    "劳动争议": "余杭区劳动人事争议人民调解委员会", "物业": "余杭区物业纠纷人民调解委员会",
                    "合同": "余杭区商事纠纷人民调解委员会", "婚姻家庭": "余杭区婚姻家庭纠纷人民调解委员会"}
VILLAGES = ("红旗", "新港", "永安", "东塘", "前山", "长乐", "双桥", "安溪", "石濑", "南山", "杜城", "凤凰", "荆山",
            "联胜", "港东", "西溪")
P_SUCCESS = 0.93
P_OPEN = 0.02

DIRT_DEFAULTS = {k: p for k, p in SHARED_DIRT_DEFAULTS.items() if k != "duplicate"} | {"negative_amount": 0.01}
VARIANTS = {
    "missing_required": ("town", "slrq"),
    "impossible_date": ("close_before_accept", "far_future", "far_past"),
    "town_name": TOWN_NAME_VARIANTS,
}


def validate_settings(settings: Any) -> None:
    if not settings.db_admin_url:
        raise ValueError("SIM_DB_ADMIN_URL is not set; the mediation source creates its database through it")
    for name, value in (("SIM_DB_NAME", settings.db_name), ("SIM_DB_READER", settings.db_reader)):
        if not value or len(value) > 63:
            raise ValueError(f"{name} must be a non-empty identifier of at most 63 characters")
    if settings.mediations_per_day > 20000:
        raise ValueError("volume too high for the 5-digit ajbh numbering")


def _party(role: str, p: dict) -> dict:
    return {"dsrdw": role, "dsrlx": "自然人" if p["type"] == "person" else "法人", "xm": p["name"],
            "zjhm": p["idNo"], "lxdh": p["phone"]}


class MediationGenerator:
    """调解案件 accepted on a given day: the world's (信访转办, 诉前委派 and the disputes that
    reach the court later), then the committees' own."""

    def __init__(self, seed: int, per_day: int, dirt: DirtProfile, parties: PartyPool, start: date,
                 end: date, world: World | None = None) -> None:
        self.seed, self.per_day, self.dirt, self.parties = seed, per_day, dirt, parties
        self.start, self.end = start, end
        self.world = world or World(seed)

    def __call__(self, d: date) -> list[VersionedRecord]:
        rng, drng = rng_for(self.seed, "mediation", d), rng_for(self.seed, "mediation-dirt", d)
        steps = self.world.records_on("mediation", d)
        out = [self.world_record(d, i, step, rng, drng) for i, step in enumerate(steps)]
        n = daily_count(rng_for(self.seed, "mediation-count", d), d, self.per_day)
        for i in range(len(steps), max(n, len(steps))):
            dispute = DISPUTES.pick(rng)
            kind = COMMITTEE_TYPES.pick(rng)
            if kind == "行业性专业性" and dispute not in TRADE_COMMITTEES:
                kind = "镇街"
            town = pick_town(rng, d)
            a = self.parties.pick(rng, 0.92)
            b = self.parties.pick(rng, 0.35 if dispute in ("合同", "物业", "劳动争议", "医患") else 0.9)
            out.append(self.record(d, i, rng, drng, dispute, kind, town.code, SOURCES_PICK.pick(rng), {},
                                   [("申请人", a), ("被申请人", b)], None))
        return out

    def world_record(self, d: date, i: int, step: Any, rng: random.Random, drng: random.Random) -> VersionedRecord:
        dispute = self.world.dispute(step.dispute)
        jflx = dispute.cause.mediation
        kind = "行业性专业性" if jflx in TRADE_COMMITTEES and rng.random() < 0.5 else "镇街"
        # as the committee typed the numbers (clean when the world runs without dirt)
        links = {name: served if self.dirt.probabilities else clean
                 for name, (clean, served) in self.world.links(step).items()}
        confirmed = any(s.kind == "民特" and ("调解案件编号", step.n) in s.links for s in dispute.steps)
        fate = None if step.end is None else (step.end, step.outcome == "成功", confirmed)
        return self.record(d, i, rng, drng, jflx, kind, dispute.town, step.source, links,
                           self.world.parties(step), fate or "open")

    def record(self, d: date, i: int, rng: random.Random, drng: random.Random, dispute: str, kind: str,
               town: str, origin: str, links: dict, parties: list, fate: Any) -> VersionedRecord:
        """``fate``: None (the committee's own case: drawn here), "open", or (closed on, success,
        confirmed) as the world decided."""
        ajbh = f"YHTJ{d:%Y%m%d}{i:05d}"
        town_name = town_by_code(town).name
        name = {"村居": f"{rng.choice(VILLAGES)}{'社区' if town_name.endswith('街道') and rng.random() < 0.5 else '村'}"
                      f"人民调解委员会",
                "镇街": f"{town_name}人民调解委员会"}.get(kind) or TRADE_COMMITTEES[dispute]
        base = {"ajbh": ajbh, "tjwyh_lx": kind, "tjwyh_mc": name, "jflx": dispute, "ajly": origin,
                "sfjfm": "Y" if rng.random() < 0.3 else "N", "xzqh": town, "slrq": d.isoformat(), "jarq": None,
                "tjjg": None, "xyje": None, "sfsfqr": None, "wpbh": links.get("诉前调案号"),
                "xfjbh": links.get("信访件编号"), "parties": [_party(role, p) for role, p in parties]}
        accepted = at_work(d, rng)
        states = [(accepted, base)]
        if fate is None and rng.random() >= P_OPEN:
            success = rng.random() < P_SUCCESS
            fate = (d + timedelta(days=rng.randint(1, 30)), success, success and rng.random() < 0.15)
        if isinstance(fate, tuple):
            closed_day, success, confirmed = fate
            amount = None
            if success and dispute in MONEY_DISPUTES and rng.random() < 0.7:
                amount = Decimal(round(MONEY_DISPUTES[dispute] * math.exp(rng.gauss(0, 0.8)), -1)).quantize(
                    Decimal("0.01"))
            states.append((at_work(closed_day, rng), {**base, "jarq": closed_day.isoformat(),
                                                       "tjjg": "成功" if success else "不成功",
                                                       "xyje": str(amount) if amount is not None else None,
                                                       "sfsfqr": "Y" if confirmed else "N"}))
        plan = draw_plan(self.dirt, drng, list(DIRT_DEFAULTS), VARIANTS, day=d)
        last = states[-1][1]
        if plan.has("impossible_date") and plan.variant == "close_before_accept" and last["jarq"] is None:
            plan.variant = "far_future"
        if plan.has("negative_amount") and last["xyje"] is None:
            plan.kinds.remove("negative_amount")  # nothing to negate
        correction = None
        if plan.has("late_correction"):
            correction = self._correct(drng, states, plan, d)
        return finish_record(ajbh, states, plan, _apply_dirt, correction, d, MAX_LAG_DAYS)

    @staticmethod
    def _correct(rng: random.Random, states: list, plan: DirtPlan, d: date) -> int | None:
        last_at, last = states[-1]
        when = correction_time(rng, last_at, d, MAX_LAG_DAYS)
        if when is None:
            return None
        options = ["jflx", "sfjfm"] + (["xyje"] if last["xyje"] is not None else [])
        if not any(plan.has(k) for k in TOWN_DIRT):
            options.append("xzqh")
        field = rng.choice(options)
        payload = {**last, "parties": [dict(p) for p in last["parties"]]}
        if field == "jflx":
            payload["jflx"] = rng.choice([x for x in DISPUTES.items if x != last["jflx"]])
        elif field == "sfjfm":
            payload["sfjfm"] = "N" if last["sfjfm"] == "Y" else "Y"
        elif field == "xyje":
            payload["xyje"] = str((Decimal(last["xyje"]) * Decimal("1.1")).quantize(Decimal("0.01")))
        else:
            payload["xzqh"] = rng.choice([t.code for t in TOWNS if t.code != last["xzqh"]])
        states.append((when, payload))
        return len(states) - 1


def _apply_dirt(payload: dict, plan: DirtPlan) -> list[str]:
    payload["parties"] = [dict(p) for p in payload["parties"]]
    dirt = []
    if plan.has("negative_amount") and payload["xyje"] is not None:
        payload["xyje"] = str(-Decimal(payload["xyje"]))
        dirt.append("negative_amount")
    if plan.has("missing_required"):
        payload["xzqh" if plan.variant == "town" else "slrq"] = None
        return dirt + ["missing_required"]
    if plan.has("impossible_date"):
        if plan.variant == "close_before_accept":
            if payload["jarq"] is None:
                return dirt
            payload["jarq"] = (date.fromisoformat(payload["slrq"]) - timedelta(days=6)).isoformat()
        else:
            payload["slrq"] = ("2099" if plan.variant == "far_future" else "1900") + payload["slrq"][4:]
        return dirt + ["impossible_date"]
    if plan.has("unknown_town") or plan.has("pre2021_town"):
        payload["xzqh"] = plan.value
        return dirt + ["unknown_town" if plan.has("unknown_town") else "pre2021_town"]
    if plan.has("town_name"):
        payload["xzqh"] = town_value(payload["xzqh"], plan.variant)
        return dirt + ["town_name"]
    return dirt


# --------------------------------------------------------------------------
# the database


def database_url(admin_url: str, dbname: str, user: str | None = None) -> str:
    """``admin_url`` pointed at database ``dbname`` (and optionally as ``user``)."""
    params = {**parse_dsn(admin_url), "dbname": dbname}
    if user:
        params["user"] = user
        params.pop("password", None)
    return make_dsn(**params)


EPOCH = datetime(2000, 1, 1, tzinfo=CST)
TICK = timedelta(microseconds=1)


class MediationDatabase(SourceSystem):
    """Keeps the system's database equal to the records' state at the clock."""

    def __init__(self, settings: Any, collection: DailyCollection) -> None:
        self.admin_url, self.db_name, self.reader = settings.db_admin_url, settings.db_name, settings.db_reader
        self.url = database_url(self.admin_url, self.db_name)
        self.collection = collection
        self.state: Any = None
        self.db_clock: datetime | None = None  # the clock the tables reflect (or will, once a gradual sync ends)
        self._lock = threading.RLock()       # the connection and db_clock
        self._sync_lock = threading.Lock()   # one clock change at a time
        self._conn = None
        self._worker: threading.Thread | None = None
        self._hurry = threading.Event()

    # -- lifecycle ------------------------------------------------------------
    def start(self, state: Any) -> None:
        self.state = state
        self.create_database()
        self._conn = psycopg2.connect(self.url)
        with self._lock:
            self._rebuild(state.clock.now())

    def create_database(self) -> None:
        admin = psycopg2.connect(self.admin_url)
        admin.autocommit = True
        db, reader = sql.Identifier(self.db_name), sql.Identifier(self.reader)
        try:
            with admin.cursor() as cur:
                cur.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                            "WHERE datname = %s AND pid <> pg_backend_pid()", (self.db_name,))
                cur.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(db))
                cur.execute(sql.SQL("CREATE DATABASE {} ENCODING 'UTF8' TEMPLATE template0").format(db))
                cur.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (self.reader,))
                if cur.fetchone() is None:
                    cur.execute(sql.SQL("CREATE ROLE {} LOGIN").format(reader))
                cur.execute(sql.SQL("REVOKE ALL ON DATABASE {} FROM PUBLIC").format(db))
                cur.execute(sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(db, reader))
        finally:
            admin.close()
        conn = psycopg2.connect(self.url)
        try:
            with conn, conn.cursor() as cur:
                cur.execute(SCHEMA)
                cur.execute("REVOKE CREATE ON SCHEMA public FROM PUBLIC")
                cur.execute(sql.SQL("GRANT USAGE ON SCHEMA public TO {}").format(reader))
                cur.execute(sql.SQL("GRANT SELECT ON tj_ajxx, tj_dsr TO {}").format(reader))
        finally:
            conn.close()

    def close(self) -> None:
        self._finish_worker()
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    # -- clock ----------------------------------------------------------------
    def clock_view(self) -> dict[str, Any]:
        worker = self._worker
        return {"syncing": worker is not None and worker.is_alive()}

    def on_clock(self, now: datetime, options: Any) -> None:
        gradual = options.get("gradual_seconds")
        if gradual is not None and (isinstance(gradual, bool) or not isinstance(gradual, (int, float))
                                    or not 0 <= gradual <= 3600):
            raise ValueError("gradual_seconds must be a number of seconds in 0..3600")
        with self._sync_lock:
            self._finish_worker()
            self._sync(now, gradual, bool(options.get("_tick")))

    def _sync(self, now: datetime, gradual: float | None, tick: bool) -> None:
        with self._lock:
            if tick and self.state.clock.is_fixed:
                return
            previous = self.db_clock
            if previous is None or now < previous:
                self._rebuild(now)
                return
            if now == previous:
                return
            hits = self.collection.query(previous + TICK, now + TICK, now)
            self.db_clock = now
            if not gradual or not hits:
                self._apply(hits)
                return
            self._hurry.clear()
            self._worker = threading.Thread(target=self._gradually, args=(hits, float(gradual)),
                                            name="mediation-gradual-sync", daemon=True)
            self._worker.start()

    def _finish_worker(self) -> None:
        """Let a running gradual sync finish at once (no more pauses) and wait for it."""
        worker = self._worker
        if worker is not None:
            self._hurry.set()
            worker.join()
            self._worker = None

    def _gradually(self, hits: list, seconds: float) -> None:
        steps = max(1, min(len(hits), round(seconds / 0.1)))
        size = math.ceil(len(hits) / steps)
        chunks = [hits[i:i + size] for i in range(0, len(hits), size)]
        pause = seconds / len(chunks)
        for n, chunk in enumerate(chunks):
            with self._lock:
                self._apply(chunk)
            if n < len(chunks) - 1 and self._hurry.wait(pause):
                pause = 0

    # -- writing --------------------------------------------------------------
    def _rebuild(self, now: datetime) -> None:
        self._apply(self.collection.query(EPOCH, now + TICK, now), truncate=True)
        self.db_clock = now

    def _apply(self, hits: list, truncate: bool = False) -> None:
        """Upsert each hit's version and replace its parties, in one transaction
        (which first empties the tables if ``truncate``)."""
        cases, parties = [], []
        for hit in hits:
            p = hit.version.payload
            gxsj = hit.version.updated_at.astimezone(CST).replace(tzinfo=None)
            cases.append(tuple(p[c] for c in CASE_COLUMNS[:-1]) + (gxsj,))
            parties.extend((p["ajbh"], xh, q["dsrdw"], q["dsrlx"], q["xm"], q["zjhm"], q["lxdh"])
                           for xh, q in enumerate(p["parties"], start=1))
        if not cases and not truncate:
            return
        updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in CASE_COLUMNS[1:])
        with self._conn, self._conn.cursor() as cur:
            if truncate:
                cur.execute("TRUNCATE tj_dsr, tj_ajxx")
            for i in range(0, len(cases), 5000):
                batch = cases[i:i + 5000]
                execute_values(cur, f"INSERT INTO tj_ajxx ({', '.join(CASE_COLUMNS)}) VALUES %s "
                                    f"ON CONFLICT (ajbh) DO UPDATE SET {updates}", batch, page_size=1000)
                cur.execute("DELETE FROM tj_dsr WHERE ajbh = ANY(%s)", ([c[0] for c in batch],))
            execute_values(cur, "INSERT INTO tj_dsr (ajbh, xh, dsrdw, dsrlx, xm, zjhm, lxdh) VALUES %s", parties,
                           page_size=1000)


def build_source(settings: Any) -> SimSource:
    """Build the mediation source (a database) from a settings object (see server.SimulatorConfig)."""
    dirt = DirtProfile.parse(settings.dirt, DIRT_DEFAULTS)
    generator = MediationGenerator(settings.seed, settings.mediations_per_day, dirt, party_pool(settings.seed),
                                   settings.start_date, settings.end_date, world(settings.seed))
    collection = DailyCollection("cases", generator, start=settings.start_date, end=settings.end_date,
                                 max_lag_days=MAX_LAG_DAYS)
    return SimSource("mediation", {"cases": collection}, api="none", path_prefix="",
                     system=MediationDatabase(settings, collection))
