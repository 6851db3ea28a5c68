"""Linkage of disputes across systems (#17, deliverable 3), measured against the world's truth.

150 days of petitions, mediation and courts (the simulators at their default volumes and dirt)
are loaded through the pipeline functions directly (no Airflow: whole months per batch), the
links refreshed, and every link compared with ``World.truth``: precision and recall per link
type and per method. The thresholds and why are in THRESHOLDS and docs/linkage.md.
"""

from __future__ import annotations

import json
import os
from collections import Counter, defaultdict
from dataclasses import replace
from datetime import date, timedelta

import pendulum
import pytest

from conftest import TEST_SIM_BASE_PORT, own_database
from yhlaw.linkage import normalise_key, refresh_links
from yhlaw.settings import with_database
from yhlaw.warehouse import transaction

pytestmark = pytest.mark.stack

SOURCES = ("petitions", "mediation", "courts")
FIRST, DAYS, BATCH_DAYS = date(2022, 1, 1), 150, 30
SEED = 20220101            # the simulators' default (SIM_SEED)
# Disputes that start in the first months have their whole path (or most of it) in the window.
TRUTH_LAST = FIRST + timedelta(days=DAYS - 1)

# (precision, recall) that must hold, per link type. Why (docs/linkage.md has the detail):
# explicit keys are missing 5-15% and mistyped 3% (a third of the mistypes a wrong digit, which
# no normalisation repairs), the party key then recovers most; a wrong digit landing on another
# existing case is refused when no party is shared. Types with no explicit key at all (repeat
# petitions, a failed committee mediation's next step, a petition's referral) rest on the party
# key alone, and frequent parties (the shared pool) make false candidates: lower bars there.
THRESHOLDS = {
    "信访→调解": (0.97, 0.95), "诉前调→民初": (0.97, 0.95), "调解→民特": (0.97, 0.95),
    "民初/民特→执": (0.97, 0.95), "执→失信": (0.97, 0.95), "执→破申": (0.5, 0.66),
    "信访→重复信访": (0.95, 0.95), "调解→诉前调": (0.90, 0.90), "调解→民初": (0.80, 0.90),
    "信访→诉前调": (0.65, 0.70),
}
METHOD_PRECISION = {"explicit_exact": 0.98, "explicit_normalised": 0.95, "party_key": 0.88}


def load(own, sims) -> None:
    from yhlaw.pipeline import extract_batch, load_batch, validate_batch, window_for
    from yhlaw.readers import SourceConnection
    from yhlaw.spec import load_spec

    start0 = pendulum.datetime(FIRST.year, FIRST.month, FIRST.day, tz="Asia/Shanghai")
    end = start0 + timedelta(days=DAYS)
    for source, sim in sims.items():
        c = own.source_connection(source, sim.url)
        conn = SourceConnection(c["conn_type"], c.get("host") or "", c.get("port"), c.get("schema") or "",
                                c.get("login") or "", c.get("password") or "",
                                tuple(sorted(json.loads(c.get("extra") or "{}").items())))
        start = start0
        while start < end:
            stop = min(start + timedelta(days=BATCH_DAYS), end)
            for entity in load_spec(source).entities.values():
                landed = extract_batch(entity, window_for(source, start, stop), warehouse_url=own.warehouse_url,
                                       connection=conn)
                validate_batch(entity, landed["batch_id"], warehouse_url=own.warehouse_url, hmac_key=own.hmac_key)
                load_batch(entity, landed["batch_id"], warehouse_url=own.warehouse_url)
            start = stop


@pytest.fixture(scope="module")
def linked(settings):
    """(warehouse url, the links as (type, method, from key, to key), the refresh counts twice)."""
    from yhlaw.bootstrap import prepare_warehouse
    from yhlaw_dev.stack import simulators

    mp = pytest.MonkeyPatch()
    mp.delenv("WAREHOUSE_ADMIN_URL", raising=False)
    database = own_database(settings, "linkage")
    own = replace(settings, warehouse_url=with_database(settings.warehouse_url, database),
                  sim_namespace=database, sim_base_port=TEST_SIM_BASE_PORT + 50)
    prepare_warehouse(own, recreate=True)
    mp.undo()
    end = pendulum.datetime(FIRST.year, FIRST.month, FIRST.day, tz="Asia/Shanghai") + timedelta(days=DAYS)
    env = {"SIM_SEED": str(SEED), "SIM_START_DATE": FIRST.isoformat(), "SIM_END_DATE": (FIRST + timedelta(days=DAYS)).isoformat()}
    with simulators(own, list(SOURCES), now=end + timedelta(hours=1), extra_env=env) as sims:
        load(own, sims)
    with transaction(own.warehouse_url) as conn:
        first = refresh_links(conn)
    with transaction(own.warehouse_url) as conn:
        second = refresh_links(conn)
    with transaction(own.warehouse_url) as conn, conn.cursor() as cur:
        cur.execute("SELECT link_type, method, from_key, to_key FROM core.dispute_link")
        links = cur.fetchall()
    return own.warehouse_url, links, first, second, SEED


def truth_links(seed: int, keys: set[str]) -> dict[tuple[str, str], str]:
    """(from key, to key) -> link type, for the world's links whose two records are in core."""
    from yhlaw_dev.sim.population import world

    out = {}
    for d in world_days():
        for dispute in world(seed).truth(d, d):
            for from_key, to_key, kind in dispute_links(dispute["steps"]):
                if from_key in keys and to_key in keys:
                    out[(from_key, to_key)] = kind
    return out


def world_days():
    from yhlaw_dev.sim.population import MAX_DELAY

    d = FIRST - timedelta(days=MAX_DELAY)
    while d <= TRUTH_LAST:
        yield d
        d += timedelta(days=1)


def step_kind(step: dict) -> str:
    if step["kind"] == "调解" and step["source"] == "诉前委派":
        return "诉前调"
    return step["kind"]


def dispute_links(steps: list[dict]):
    """The truth's links between served records: each served step and the served step it follows."""
    by_n = {s["n"]: s for s in steps}
    referral_mediation = {}   # 诉前调 step n -> the 诉前委派 mediation that carries its number
    for s in steps:
        if s["kind"] == "调解" and "诉前调案号" in s["links"]:
            referral_mediation[s["links"]["诉前调案号"]] = s
    petitions = [s for s in steps if s["kind"] in ("信访", "重复信访")]
    for s in steps:
        if not s["served"]:
            continue
        prev = predecessor(s, steps, by_n, referral_mediation, petitions)
        if prev is not None:
            kind = link_type(step_kind(prev), step_kind(s))
            yield prev["key"], s["key"], kind


def predecessor(s, steps, by_n, referral_mediation, petitions):
    kind = s["kind"]
    if kind == "重复信访":
        earlier = [p for p in petitions if p["day"] < s["day"]]
        return max(earlier, key=lambda p: p["day"]) if earlier else None
    if kind == "调解" and s["source"] == "信访转办":
        return by_n[0]
    if kind == "调解" and s["source"] == "诉前委派":
        referral = next(x for x in steps if x["kind"] == "诉前调" and x["key"] == s["links"]["诉前调案号"])
        return by_n.get(referral["n"] - 1)
    if kind == "民初":
        if "诉前调案号" in s["links"]:
            return referral_mediation.get(s["links"]["诉前调案号"])
        return by_n.get(s["n"] - 1)
    names = {"民特": "调解案件编号", "执": "执行依据案号", "失信": "执行案号", "破申": "原案号"}
    if kind in names:
        key = s["links"][names[kind]]
        return next(x for x in steps if x["key"] == key)
    return None


def link_type(a: str, b: str) -> str:
    if b == "执":
        return "民初/民特→执"
    if b == "民特":
        return "调解→民特"
    if b == "重复信访" or a == "重复信访":
        return "信访→" + b if b != "重复信访" else "信访→重复信访"
    return f"{a}→{b}"


def measure(links, truth) -> tuple[dict, dict]:
    """Precision and recall per link type, precision per method (a found link is right when the
    truth has the same pair; the type is the truth's)."""
    by_type, by_method = defaultdict(Counter), defaultdict(Counter)
    found = set()
    for link_type_, method, from_key, to_key in links:
        right = (from_key, to_key) in truth
        by_type[link_type_]["found"] += 1
        by_type[link_type_]["right"] += right
        by_method[method]["found"] += 1
        by_method[method]["right"] += right
        found.add((from_key, to_key))
    for pair, kind in truth.items():
        by_type[kind]["truth"] += 1
        by_type[kind]["recalled"] += pair in found
    return by_type, by_method


def table(by_type, by_method) -> str:
    rows = ["| link type | truth | found | precision | recall |", "|---|---:|---:|---:|---:|"]
    for kind, c in sorted(by_type.items()):
        p = c["right"] / c["found"] if c["found"] else float("nan")
        r = c["recalled"] / c["truth"] if c["truth"] else float("nan")
        rows.append(f"| {kind} | {c['truth']} | {c['found']} | {p:.3f} | {r:.3f} |")
    rows += ["", "| method | found | precision |", "|---|---:|---:|"]
    for method, c in sorted(by_method.items()):
        rows.append(f"| {method} | {c['found']} | {c['right'] / c['found']:.3f} |")
    return "\n".join(rows)


def core_keys(url: str) -> set[str]:
    with transaction(url) as conn, conn.cursor() as cur:
        cur.execute("SELECT record_key FROM core.dispute_record")
        return {r[0] for r in cur.fetchall()}


def test_links_meet_precision_and_recall_against_the_truth(linked):
    url, links, *_, seed = linked
    truth = truth_links(seed, core_keys(url))
    by_type, by_method = measure(links, truth)
    report = table(by_type, by_method)
    print("\n" + report)
    out = os.environ.get("LINKAGE_REPORT")
    if out:
        with open(out, "w") as f:
            f.write(report + "\n")
    for kind, (p_min, r_min) in THRESHOLDS.items():
        c = by_type[kind]
        assert c["truth"] >= 3, (kind, c)      # the window must exercise every type
        assert c["right"] / c["found"] >= p_min, (kind, dict(c))
        assert c["recalled"] / c["truth"] >= r_min, (kind, dict(c))
    for method, p_min in METHOD_PRECISION.items():
        c = by_method[method]
        assert c["found"] > 0 and c["right"] / c["found"] >= p_min, (method, dict(c))


def test_one_link_per_record_and_the_refresh_is_idempotent(linked):
    url, links, first, second, _ = linked
    assert first["inserted"] == len(links) > 1000
    assert second == {"inserted": 0, "updated": 0, "deleted": 0}
    assert len({to_key for *_, to_key in links}) == len(links)
    with transaction(url) as conn, conn.cursor() as cur:
        cur.execute("""SELECT count(*) FROM core.dispute_link l
                       WHERE l.method = 'party_key' AND EXISTS (SELECT 1 FROM core.dispute_link_rule r
                                                                WHERE r.link_type = l.link_type AND r.one_per_from)
                       GROUP BY l.link_type, l.from_table, l.from_key HAVING count(*) > 1""")
        assert cur.fetchall() == []


def test_the_sql_normalisation_is_the_python_one_on_every_key(linked):
    url = linked[0]
    with transaction(url) as conn, conn.cursor() as cur:
        cur.execute("""SELECT typed_key, core.normalise_link_key(typed_key) FROM core.dispute_link_key
                       UNION ALL SELECT k, core.normalise_link_key(k)
                       FROM unnest(%s::text[]) AS k""", (SAMPLES,))
        pairs = cur.fetchall()
    assert len(pairs) > 500
    assert [normalise_key(k) for k, _ in pairs] == [n for _, n in pairs]


SAMPLES = ["（2022）浙0110民初123号", "(2022)浙0110 民初123号", "〔2022〕浙0110执7号", "YHXF20220101 00003",
           "ＹＨＴＪ２０２２０１０１０００１２", "\u3000(2022)浙0110民特5号 ", " ", "(2022)浙0110民初123号"]
