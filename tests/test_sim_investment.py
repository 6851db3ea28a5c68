"""Tests for the 投资项目在线审批监管平台 simulator: signed cursor pages under /api/tzxm/v1; projects
from 赋码 to 竣工验收 with the platform's 全过程审批用时, the four stages' 办件 in order, 小时制 for
标准地+承诺制 工业项目, the enterprise's own time between the stages, late corrections."""

from __future__ import annotations

import hashlib
import hmac
import json
import warnings
from collections import Counter
from datetime import date, datetime, timedelta
from urllib.parse import quote

import pytest

with warnings.catch_warnings():  # starlette nags about httpx vs httpx2; irrelevant here
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

from yhlaw_dev.sim.framework import CST, TOWNS, party_pool
from yhlaw_dev.sim.investment import ITEMS, MAX_LAG_DAYS, STAGES, ProjectWorld, add_workdays
from yhlaw_dev.sim.server import SimulatorConfig, create_app

SECRET = "test-secret-not-real"
KEY = "yhlaw-etl"
ADMIN = {"X-Sim-Admin": "test-admin-token"}
NOW = datetime(2022, 6, 1, tzinfo=CST)
WINDOW = {"updated_since": "2022-03-01T00:00:00+08:00", "updated_until": "2022-04-01T00:00:00+08:00"}
PROJECTS, APPROVALS = "/api/tzxm/v1/projects", "/api/tzxm/v1/approvals"
SEED = SimulatorConfig().seed


def make_client(**overrides) -> TestClient:
    base = dict(source="investment", client_secret=SECRET, admin_token=ADMIN["X-Sim-Admin"], rate_limit_per_min=100_000,
                start_date=date(2021, 6, 1), end_date=date(2022, 12, 31), now=NOW, slow_seconds=0.05)
    client = TestClient(create_app(SimulatorConfig(**{**base, **overrides})))
    client.wall = client.app.state.sim.wall_time
    return client


def sign(path: str, params: dict, timestamp: int) -> dict[str, str]:
    """The documented signature, written again here (not the server's code)."""
    query = "&".join(f"{k}={quote(str(v), safe='')}" for k, v in sorted(params.items()))
    digest = hmac.new(SECRET.encode(), f"GET\n{path}\n{query}\n{timestamp}".encode(), hashlib.sha256).hexdigest()
    return {"X-Api-Key": KEY, "X-Timestamp": str(timestamp), "X-Signature": digest}


def fetch_all(client: TestClient, path: str, limit: int = 500, **window) -> list[dict]:
    params, out, cursor = {**(window or WINDOW), "limit": limit}, [], None
    while True:
        query = {**params, **({"cursor": cursor} if cursor else {})}
        r = client.get(path, params=query, headers=sign(path, query, int(client.wall())))
        assert r.status_code == 200, r.text
        out += r.json()["items"]
        cursor = r.json()["next_cursor"]
        if cursor is None:
            return out


@pytest.fixture(scope="module")
def client():
    return make_client()


@pytest.fixture(scope="module")
def plans():
    """Three months of projects, every plan whole (the world draws a project's life at 赋码)."""
    world = ProjectWorld(SEED, 3, party_pool(SEED))
    return [p for k in range(90) for p in world.plans(date(2022, 1, 1) + timedelta(days=k))]


def test_signed_pages_of_both_entities_and_a_bad_signature(client):
    for path in (PROJECTS, APPROVALS):
        items = fetch_all(client, path)
        assert items and fetch_all(client, path, limit=37) == items
    params = {**WINDOW, "limit": 10}
    headers = {**sign(PROJECTS, params, int(client.wall())), "X-Signature": "00" * 32}
    assert client.get(PROJECTS, params=params, headers=headers).status_code == 401


def test_project_codes_and_stages_in_order(plans):
    towns = {t.code for t in TOWNS}
    for p in plans:
        year, region, industry, kind, serial = p.code.split("-")
        assert (year, region, len(industry), len(serial)) == (str(p.coded.year), "330110", 2, 6)
        assert kind == {"审批": "01", "核准": "02", "备案": "03"}[p.base["managementType"]]
        assert p.base["townCode"] in towns
        stages = [it.stage for it, *_ in p.approvals]
        assert stages == sorted(stages) and (p.stopped or set(stages) == {0, 1, 2, 3}), p.code
        for it, accepted, done, days in p.approvals:
            assert accepted >= p.coded and done > accepted
            assert done.date() >= add_workdays(accepted.date(), days) or days == 0
        # A stage starts after the one before it has ended: the enterprise's own time lies between.
        ends = {}
        for it, accepted, done, _ in p.approvals:
            ends[it.stage] = max(ends.get(it.stage, done), done)
        for it, accepted, _, _ in p.approvals:
            if it.stage > 0:
                assert accepted.date() > ends[it.stage - 1].date(), p.code


def test_full_process_days_is_the_sum_of_each_stages_longest_item(plans):
    done = [p for p in plans if not p.stopped]
    for p in done:
        longest = [max([d for it, _, _, d in p.approvals if it.stage == s], default=0) for s in range(4)]
        assert p.stage_days == longest
    general = [sum(p.stage_days) for p in done if p.base["isGeneral"]]
    within = sum(d <= 80 for d in general) / len(general)
    assert 0.6 < within < 0.99, within                  # most within 最多80天, not all
    # Calendar time from 赋码 to 竣工验收 is far longer: construction is the enterprise's time.
    calendar = [(max(d for *_, d, _ in p.approvals) - p.coded).days for p in done]
    assert min(calendar) > 80
    assert Counter(p.stopped for p in plans)[True] / len(plans) < 0.1


def test_hourly_approvals_for_standard_land_industrial_projects(plans):
    hourly = [p for p in plans if p.hourly]
    assert hourly and all(p.base["isIndustrial"] and p.base["isStandardLand"] for p in hourly)
    same_day = [(done - accepted) < timedelta(hours=8)
                for p in hourly for it, accepted, done, _ in p.approvals if it.hourly]
    assert 0.6 < sum(same_day) / len(same_day) <= 1.0
    others = [(done - accepted) < timedelta(hours=8) for p in plans if not p.hourly
              for it, accepted, done, days in p.approvals if days > 0]
    assert not any(others)


def test_served_projects_carry_the_days_only_when_completed(client):
    items = fetch_all(client, PROJECTS, updated_since="2021-06-01T00:00:00+08:00",
                      updated_until="2022-06-01T00:00:00+08:00")
    clean = [i for i in items if i["projectCode"] and i["status"] in ("审批中", "已开工", "已竣工", "已终止")]
    for i in clean:
        assert (i["status"] == "已竣工") == (i["completedOn"] is not None) == (i["approvalDays"] is not None), i
        assert i["permitOn"] is None or i["status"] in ("已开工", "已竣工")
    assert {i["status"] for i in clean} >= {"审批中", "已开工"}
    assert all(i["unit"]["idNo"] for i in clean)


def test_approvals_name_their_stage_item_and_project(client):
    items = fetch_all(client, APPROVALS)
    names = {it.name for it in ITEMS}
    for i in items:
        if i["caseNo"] and i["projectCode"]:
            assert i["caseNo"].startswith(i["projectCode"].replace("-", ""))
            assert i["stage"] in STAGES and i["itemName"] in names
    assert len({i["projectCode"] for i in items}) > 20


def test_deterministic_and_dirt_off_with_none():
    a = ProjectWorld(SEED, 3, party_pool(SEED)).plans(date(2022, 3, 2))
    b = ProjectWorld(SEED, 3, party_pool(SEED)).plans(date(2022, 3, 2))
    assert [(p.code, p.stage_days) for p in a] == [(p.code, p.stage_days) for p in b]
    plain = make_client(dirt="none")
    for entity in ("projects", "approvals"):
        truth = plain.get("/_sim/truth", params={**WINDOW, "entity": entity}, headers=ADMIN).json()["items"]
        assert truth and set(d for r in truth for d in r["dirt"]) <= {"late_correction"}


def test_versions_stay_within_the_max_lag(client):
    for entity in ("projects", "approvals"):
        collection = client.app.state.sim.source.collections[entity]
        for d in range(1, 28, 3):
            for r in collection.records_for_day(date(2022, 3, d)):
                assert (r.versions[-1].updated_at.date() - date(2022, 3, d)).days <= MAX_LAG_DAYS
