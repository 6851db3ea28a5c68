"""Tests for the 行政复议 / 行政应诉 (review) simulator: daily XML exports in a drop folder."""

from __future__ import annotations

import hashlib
import json
import warnings
from collections import Counter
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

with warnings.catch_warnings():  # starlette nags about httpx vs httpx2; irrelevant here
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

from yhlaw.readers.files import xml_rows
from yhlaw.spec import load_spec
from yhlaw_dev.sim.framework import CST, TOWNS, to_iso
from yhlaw_dev.sim.admin_review import LITIGATION_MAX_LAG, REVIEW_MAX_LAG, ReviewExports
from yhlaw_dev.sim.server import SimulatorConfig, SimulatorConfigError, create_app

ADMIN = {"X-Sim-Admin": "test-admin-token"}
START = datetime(2022, 3, 1, tzinfo=CST)
XML = load_spec("admin_review").transport["xml"]


def settings(drop: Path, **overrides) -> SimulatorConfig:
    base = dict(source="admin_review", drop_dir=str(drop), admin_token=ADMIN["X-Sim-Admin"],
                start_date=date(2022, 1, 1), end_date=date(2022, 6, 30), now=START, half_written_seconds=0.4,
                system_tick_seconds=0)
    return SimulatorConfig(**{**base, **overrides})


def make_client(drop: Path, **overrides) -> TestClient:
    return TestClient(create_app(settings(drop, **overrides)))


def set_clock(client: TestClient, when: datetime) -> None:
    r = client.put("/_sim/clock", json={"now": to_iso(when)}, headers=ADMIN)
    assert r.status_code == 200, r.text


def manifests(drop: Path) -> dict[str, dict]:
    return {m["file"]: m for m in (json.loads(p.read_text("utf-8")) for p in drop.glob("*.manifest.json"))}


def truth(client: TestClient, entity: str, since: datetime, until: datetime) -> list[dict]:
    r = client.get("/_sim/truth", params={"entity": entity, "updated_since": to_iso(since),
                                          "updated_until": to_iso(until)}, headers=ADMIN)
    assert r.status_code == 200, r.text
    return r.json()["items"]


@pytest.fixture(scope="module")
def drop(tmp_path_factory):
    """A drop folder filled to 2022-04-30 (late correction dirt raised so that there are some)."""
    path = tmp_path_factory.mktemp("drop")
    client = make_client(path, dirt="default,late_correction:0.3")
    set_clock(client, datetime(2022, 4, 30, 12, tzinfo=CST))
    client.app.state.sim.source.system.close()
    return path


def test_settings_need_a_drop_folder(tmp_path):
    SimulatorConfig(source="admin_review", drop_dir=str(tmp_path)).validate()   # no client secret needed
    with pytest.raises(SimulatorConfigError, match="SIM_DROP_DIR"):
        SimulatorConfig(source="admin_review").validate()


def test_every_file_is_utf8_xml_matching_its_manifest(drop):
    found = manifests(drop)
    assert found and all(n.endswith(".xml") for n in found)
    for name, m in found.items():
        data = (drop / name).read_bytes()
        assert m["sha256"] == hashlib.sha256(data).hexdigest() and m["format"] == "xml" and m["encoding"] == "utf-8"
        assert data.startswith(b'<?xml version="1.0" encoding="UTF-8"?>') and b"<!DOCTYPE" not in data
        rows = xml_rows(data, name, XML)     # the platform's own parser
        assert len(rows) == m["rows"]
        key = "复议案号" if name.startswith("xzfy_") else "案号"
        assert all(isinstance(r.get("申请人列表", r.get("原告列表")), list) for r in rows)
        assert sum(1 for r in rows if r[key]) >= len(rows) - 2


def test_rows_are_the_truth_of_the_delivery(drop):
    """/_sim/truth lists one item per distinct row of the files delivered in the window."""
    client = make_client(drop, dirt="default,late_correction:0.3", now=datetime(2022, 4, 30, 12, tzinfo=CST))
    since, until = datetime(2022, 3, 10, tzinfo=CST), datetime(2022, 3, 11, tzinfo=CST)
    for entity, prefix in (("reconsideration", "xzfy_"), ("litigation", "xzys_")):
        served = [(m, xml_rows((drop / n).read_bytes(), n, XML)) for n, m in manifests(drop).items()
                  if n.startswith(prefix) and since <= datetime.fromisoformat(m["delivered_at"]) < until]
        items = truth(client, entity, since, until)
        copies = sum(2 if "duplicate" in t["dirt"] else 1 for t in items)
        assert copies == sum(m["rows"] for m, _ in served) > 0


def test_bodies_courts_and_hearings_look_like_the_district():
    ex = ReviewExports(settings(Path("/nonexistent"), dirt="none"))
    kinds, courts, towns, appeared = Counter(), Counter(), set(), Counter()
    d = date(2022, 3, 1)
    while d < date(2022, 5, 1):
        for x in ex.schedule(d):
            for r in ex.rows(x):
                body = r.values.get("被申请人") or r.values["被告"]
                kinds[body["类型"]] += 1
                if body["类型"] == "镇街政府":
                    towns.add(body["镇街"])
                    assert body["名称"].endswith(("办事处", "人民政府")) and not body["部门代码"]
                if "案号" in r.values:
                    courts[r.values["案号"][6:12].split("行")[0]] += 1
                    if r.values["庭审记录"]:
                        appeared[r.values["负责人出庭"]["是否出庭"]] += 1
        d += timedelta(days=1)
    assert kinds["区级部门"] > kinds["镇街政府"] > 0
    assert towns <= {t.code for t in TOWNS} and len(towns) >= 6
    assert courts.most_common(1)[0][0] == "浙8601" and "浙0110" in courts      # cross-district first
    assert appeared["是"] > appeared["否"] > 0


def test_cases_run_their_course_within_the_lag():
    ex = ReviewExports(settings(Path("/nonexistent"), dirt="none"))
    for gen, lag in ((ex._by_day["reconsideration"].collection, REVIEW_MAX_LAG),
                     (ex._by_day["litigation"].collection, LITIGATION_MAX_LAG)):
        for record in gen.records_for_day(date(2022, 3, 1)):
            last = record.versions[-1].payload
            assert (record.versions[-1].updated_at.date() - date(2022, 3, 1)).days <= lag
            if "结果" in last and last["审结日期"]:
                assert last["结果"] and last["受理日期"] and last["审理期限"] == "60"
            if "判决结果" in last and last["审结日期"]:
                assert last["是否败诉"] == ("是" if last["判决结果"] in ("撤销", "确认违法", "责令履行", "变更", "确认无效")
                                          else "否")


def test_a_re_delivery_enters_the_results_the_first_lacked(drop):
    found = manifests(drop)
    v2 = [n for n in found if n.endswith("_v2.xml")]
    assert v2, "late_correction at 0.3 per export must re-deliver some day"
    entered = 0
    for name in v2:
        first = {r.get("复议案号") or r.get("案号"): r for r in
                 xml_rows((drop / name.replace("_v2", "")).read_bytes(), name, XML)}
        for r in xml_rows((drop / name).read_bytes(), name, XML):
            before = first[r.get("复议案号") or r.get("案号")]
            result = "结果" if "结果" in r else "判决结果"
            if r[result] and not before[result]:
                entered += 1
                assert r["审结日期"] == before["审结日期"]
    assert entered > 0


def test_same_world_same_bytes(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    for path in (a, b):
        client = make_client(path, now=datetime(2022, 3, 5, 12, tzinfo=CST))
        client.app.state.sim.source.system.close()
    files = sorted(p.name for p in a.iterdir())
    assert files and files == sorted(p.name for p in b.iterdir())
    assert all((a / n).read_bytes() == (b / n).read_bytes() for n in files)
