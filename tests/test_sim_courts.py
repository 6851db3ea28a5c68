"""Tests for the 法院 (courts) simulator: daily export files in a drop folder."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import time
import warnings
from collections import Counter
from datetime import date, datetime, timedelta
from pathlib import Path

import openpyxl
import pytest

with warnings.catch_warnings():  # starlette nags about httpx vs httpx2; irrelevant here
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

from yhlaw_dev.sim.courts import CASE_HEADERS, DISHONEST_HEADERS, CourtExports
from yhlaw_dev.sim.framework import CST, TOWNS, to_iso
from yhlaw_dev.sim.population import Population
from yhlaw_dev.sim.server import SimulatorConfig, SimulatorConfigError, create_app

ADMIN = {"X-Sim-Admin": "test-admin-token"}
START = datetime(2022, 3, 1, tzinfo=CST)


def settings(drop: Path, **overrides) -> SimulatorConfig:
    base = dict(source="courts", drop_dir=str(drop), admin_token=ADMIN["X-Sim-Admin"], court_cases_per_day=20,
                start_date=date(2022, 3, 1), end_date=date(2022, 4, 30), now=START, half_written_seconds=0.4,
                system_tick_seconds=0)
    return SimulatorConfig(**{**base, **overrides})


def make_client(drop: Path, **overrides) -> TestClient:
    return TestClient(create_app(settings(drop, **overrides)))


def set_clock(client: TestClient, when: datetime) -> dict:
    r = client.put("/_sim/clock", json={"now": to_iso(when)}, headers=ADMIN)
    assert r.status_code == 200, r.text
    return r.json()


def manifests(drop: Path) -> dict[str, dict]:
    return {m["file"]: m for m in (json.loads(p.read_text("utf-8")) for p in drop.glob("*.manifest.json"))}


def read_rows(drop: Path, manifest: dict) -> list[dict]:
    data = (drop / manifest["file"]).read_bytes()
    if manifest["format"] == "xlsx":
        ws = openpyxl.load_workbook(io.BytesIO(data), read_only=True).active
        table = [["" if v is None else v for v in row] for row in ws.iter_rows(values_only=True)]
    else:
        table = list(csv.reader(io.StringIO(data.decode(manifest["encoding"]))))
    header, body = table[0], table[1:]
    return [dict(zip(header, row)) for row in body]


def truth(client: TestClient, entity: str, since: datetime, until: datetime) -> list[dict]:
    r = client.get("/_sim/truth", params={"entity": entity, "updated_since": to_iso(since),
                                          "updated_until": to_iso(until)}, headers=ADMIN)
    assert r.status_code == 200, r.text
    return r.json()["items"]


@pytest.fixture(scope="module")
def drop(tmp_path_factory):
    """A drop folder filled to 2022-03-15 by a clean-encoding simulator."""
    path = tmp_path_factory.mktemp("drop")
    client = make_client(path, dirt="default,encoding_mixup:0")
    set_clock(client, datetime(2022, 3, 15, 12, tzinfo=CST))
    client.app.state.sim.source.system.close()
    return path


def test_settings_and_endpoints(tmp_path):
    SimulatorConfig(source="courts", drop_dir=str(tmp_path)).validate()  # no SIM_CLIENT_SECRET needed
    with pytest.raises(SimulatorConfigError, match="SIM_DROP_DIR"):
        SimulatorConfig(source="courts").validate()
    client = make_client(tmp_path / "new")
    assert (tmp_path / "new").is_dir() and [p.name for p in (tmp_path / "new").iterdir()] == [".world"]  # nothing due yet
    assert client.get("/healthz").json() == {"status": "ok", "source": "courts"}
    assert client.get("/api/v1/cases").status_code == 404
    assert client.post("/oauth/token").status_code == 404
    assert client.get("/_sim/clock").status_code == 403
    assert client.get("/_sim/truth", params={"entity": "nope"}, headers=ADMIN).status_code == 400
    r = client.put("/_sim/faults", json={"5xx": 0.5, "half_written": 0.2}, headers=ADMIN)
    assert r.status_code == 200 and r.json() == {"5xx": 0.5, "half_written": 0.2}


def test_files_and_manifests(drop):
    found = manifests(drop)
    days = [date(2022, 3, 1) + timedelta(days=i) for i in range(14)]  # D+1 02:00 <= 03-15 12:00
    for d in days:
        assert f"dishonest_{d:%Y%m%d}.csv" in found
        assert (f"cases_{d:%Y%m%d}.csv" in found) != (f"cases_{d:%Y%m%d}.xlsx" in found)
    assert not any("20220315" in name for name in found)
    assert any(m["format"] == "xlsx" for m in found.values())
    assert sorted(p.name for p in drop.iterdir() if not p.name.endswith(".manifest.json") and p.name != ".world") == sorted(found)
    for name, m in found.items():
        data = (drop / name).read_bytes()
        assert m["sha256"] == hashlib.sha256(data).hexdigest()
        assert (drop / name).stat().st_mtime_ns <= (drop / f"{name}.manifest.json").stat().st_mtime_ns
        assert m["encoding"] == ("utf-8" if m["format"] == "xlsx" else "gbk")
        delivered = datetime.fromisoformat(m["delivered_at"])
        assert m["delivered_at"].endswith("+08:00") and delivered.time().hour == 2
        if m["version"] == 1:
            assert delivered.date() == date.fromisoformat(m["export_date"]) + timedelta(days=1)
        rows = read_rows(drop, m)
        assert len(rows) == m["rows"]
        assert tuple(rows[0]) if rows else True
        headers = CASE_HEADERS if m["entity"] == "cases" else DISHONEST_HEADERS
        assert all(tuple(r) == headers for r in rows)
        if m["format"] == "csv":
            assert data.decode("gbk").splitlines()[0] == ",".join(headers)


def test_case_rows(drop):
    rows = [r for m in manifests(drop).values() if m["entity"] == "cases" for r in read_rows(drop, m)]
    assert len(rows) > 150
    codes = {t.code for t in TOWNS}
    assert sum(r["住所地"] in codes for r in rows) > 0.85 * len(rows)
    assert {r["案件类型"] for r in rows} >= {"民事", "商事", "执行"}
    for r in rows:
        if r["案号"] and r["案件类型"] == "执行":
            assert r["案号"].startswith("(2022)浙0110执") and r["审判程序"] == "执行"
        if r["诉前委派编号"]:
            assert r["案件类型"] in ("民事", "商事") and "民诉前调" in r["诉前委派编号"]
        assert r["电子督促程序"] in ("是", "否") and r["当事人类型"] in ("自然人", "法人")
    # the same case shows up again when it changes (hearing, closing)
    later = [r for r in rows if r["结案日期"] or r["庭审方式"]]
    assert later and {r["立案日期"] for r in later} <= {r["立案日期"] for r in rows} | {""} | {
        r["立案日期"] for r in later}
    # every party of the world's population, all of them listed with roles; the first is the 当事人 columns
    people = {p["idNo"] for p in Population(settings(drop).seed).identities()}
    assert {r["证件号码"] for r in rows} <= people
    for r in rows:
        parties = json.loads(r["当事人"])
        assert parties[0]["证件号码"] == r["证件号码"] and parties[0]["名称"] == r["当事人名称"]
        assert {p["证件号码"] for p in parties} <= people
        if r["审判程序"] == "执行":
            roles = [p["诉讼地位"] for p in parties]
            assert roles[0] == "申请执行人" and set(roles[1:]) == {"被执行人"}
    assert sum(bool(r["执行依据案号"]) for r in rows if r["审判程序"] == "执行") > 0.85 * sum(
        r["审判程序"] == "执行" for r in rows)


def test_idempotent_and_backwards(drop, tmp_path):
    before = {p.name: p.read_bytes() for p in drop.iterdir()}
    client = make_client(drop, dirt="default,encoding_mixup:0")  # restart over the same folder
    set_clock(client, datetime(2022, 3, 5, tzinfo=CST))  # backwards: nothing new
    assert {p.name: p.read_bytes() for p in drop.iterdir()} == before
    other = make_client(tmp_path, dirt="default,encoding_mixup:0")
    set_clock(other, datetime(2022, 3, 8, tzinfo=CST))
    for p in tmp_path.iterdir():
        assert p.read_bytes() == before[p.name]


def test_truth_partitions_by_delivery(drop):
    client = make_client(drop, dirt="default,encoding_mixup:0")
    set_clock(client, datetime(2022, 3, 15, 12, tzinfo=CST))
    found = manifests(drop)
    day = datetime(2022, 3, 4, tzinfo=CST)
    for entity in ("cases", "dishonest"):
        items = truth(client, entity, day, day + timedelta(days=1))
        files = [m for m in found.values() if m["entity"] == entity
                 and day <= datetime.fromisoformat(m["delivered_at"]) < day + timedelta(days=1)]
        assert len(files) == 1
        key = "案号" if entity == "cases" else "失信编号"
        rows = read_rows(drop, files[0])
        served = [r[key] for r in rows]
        assert all(i["updatedAt"] == files[0]["delivered_at"] for i in items)
        dupes = [i for i in items if "duplicate" in i["dirt"]]
        assert len(rows) == len(items) + len(dupes)
        assert sorted(k for k in served if k) == sorted(
            i["key"] for i in items if not i["key"].startswith("<null>#") for _ in range(1 + ("duplicate" in i["dirt"])))
        if files[0]["format"] == "xlsx":
            assert all("xlsx" in i["dirt"] for i in items)
    # whole span: every delivered row is in exactly one window
    total = sum(len(truth(client, "cases", START + timedelta(days=i), START + timedelta(days=i + 1)))
                for i in range(16))
    assert total == len(truth(client, "cases", START, START + timedelta(days=16)))


def test_v2_redelivery(tmp_path):
    client = make_client(tmp_path, dirt="default,late_correction:0.5,encoding_mixup:0", court_cases_per_day=8)
    set_clock(client, datetime(2022, 4, 5, tzinfo=CST))
    found = manifests(tmp_path)
    v2s = [m for m in found.values() if m["version"] == 2 and not m["file"].startswith("dishonest_full_")]
    assert v2s and all(m["file"].endswith("_v2.csv") and m["entity"] == "cases" for m in v2s)
    changed_at: dict[str, set] = {}
    for m in v2s:
        v1 = next(x for x in found.values() if x["export_date"] == m["export_date"] and x["entity"] == "cases"
                  and x["version"] == 1)
        delay = datetime.fromisoformat(m["delivered_at"]) - datetime.fromisoformat(v1["delivered_at"])
        assert timedelta(days=3) <= delay <= timedelta(days=20)
        old, new = read_rows(tmp_path, v1), read_rows(tmp_path, m)
        assert [r["证件号码"] for r in old] == [r["证件号码"] for r in new]
        changed = [b["案号"] for a, b in zip(old, new) if a != b]
        assert changed
        changed_at.setdefault(m["delivered_at"], set()).update(changed)
    for when, changed in changed_at.items():  # several v2 files may arrive at the same 02:00
        at = datetime.fromisoformat(when)
        items = truth(client, "cases", at, at + timedelta(seconds=1))
        flagged = [i["key"] for i in items if "late_correction" in i["dirt"]]
        assert sorted(changed - {""}) == sorted(k for k in flagged if not k.startswith("<null>#"))


def test_encoding_mixup(tmp_path):
    client = make_client(tmp_path, dirt="default,encoding_mixup:1")
    set_clock(client, datetime(2022, 3, 6, tzinfo=CST))
    found = manifests(tmp_path)
    csvs = [m for m in found.values() if m["format"] == "csv"]
    assert csvs
    for m in csvs:
        data = (tmp_path / m["file"]).read_bytes()
        assert m["encoding"] == "gbk"
        text = data.decode("utf-8")
        assert text.encode("gbk") != data  # really UTF-8, not GBK
        assert text.splitlines()[0].startswith(("案号", "失信编号"))
    items = truth(client, "dishonest", START, START + timedelta(days=6))
    assert items and all("encoding_mixup" in i["dirt"] for i in items)


def test_half_written_fault(tmp_path):
    client = make_client(tmp_path, dirt="none")
    assert client.put("/_sim/faults", json={"half_written": 1.0}, headers=ADMIN).status_code == 200
    set_clock(client, datetime(2022, 3, 3, 3, tzinfo=CST))
    found = manifests(tmp_path)
    assert len(found) == 4  # 03-01 and 03-02, cases + dishonest
    for name, m in found.items():
        assert hashlib.sha256((tmp_path / name).read_bytes()).hexdigest() != m["sha256"]
    assert client.get("/_sim/stats", headers=ADMIN).json()["faults"] == {"half_written": 4}
    deadline = time.monotonic() + 5
    while client.app.state.sim.source.system.pending() and time.monotonic() < deadline:
        time.sleep(0.05)
    for name, m in found.items():
        assert hashlib.sha256((tmp_path / name).read_bytes()).hexdigest() == m["sha256"]


def test_linked_cases_come_from_the_world(tmp_path):
    """民初 after a failed 诉前调, 民特, 执 and 破申 are the world's cases, numbered by it, carrying
    the keys of the records before them as the clerk typed them (mostly right)."""
    from yhlaw_dev.sim.population import world

    exports = CourtExports(settings(tmp_path, court_cases_per_day=50))  # the default volume
    w = world(exports.seed)
    links, typed_right, civil, referred = Counter(), Counter(), 0, 0
    for d in (date(2022, 3, 1) + timedelta(days=i) for i in range(28)):
        heads = exports.cases.heads(d)
        steps = w.records_on("courts", d)
        assert [h.case_no for h in heads[:len(steps)]] == [w.key(s) for s in steps]
        for head, step in zip(heads, steps):
            served = dict(head.links)
            for name, (clean, typed) in w.links(step).items():
                header = "诉前委派编号" if name == "诉前调案号" else name
                assert served[header] == (typed or "")
                links[step.kind] += 1
                typed_right[step.kind] += typed == clean
            if head.referral:
                assert head.procedure == "一审" and head.case_type in ("民事", "商事")
        civil += sum(h.procedure == "一审" and h.case_type in ("民事", "商事") for h in heads)
        referred += sum(bool(h.referral) for h in heads)
    assert set(links) == {"民初", "民特", "执"} or set(links) == {"民初", "民特", "执", "破申"}
    assert all(0.8 < typed_right[k] / links[k] < 1 for k in ("民初", "执"))
    assert 0.02 < referred / civil < 0.15


def test_the_whole_list_comes_with_each_month_end(tmp_path):
    """With 03-31 the court sends every listing on the 失信 list at that day's end (a second file
    of the export day): listed by then, not removed by then, each once."""
    client = make_client(tmp_path, dirt="none")
    set_clock(client, datetime(2022, 4, 2, tzinfo=CST))
    found = manifests(tmp_path)
    full = [m for m in found.values() if m["file"].startswith("dishonest_full_")]
    assert [(m["file"], m["export_date"], m["version"]) for m in full] == [
        ("dishonest_full_20220331.csv", "2022-03-31", 2)]
    rows = read_rows(tmp_path, full[0])
    daily = [r for m in found.values() if m["entity"] == "dishonest" and m["version"] == 1
             for r in read_rows(tmp_path, m)]
    latest = {}
    for r in sorted(daily, key=lambda r: r["移除日期"] or ""):   # a removal is the listing's later state
        latest[r["失信编号"]] = r
    active = {k for k, r in latest.items() if r["纳入日期"] <= "2022-03-31" and not (r["移除日期"] and r["移除日期"] <= "2022-03-31")}
    assert rows and len({r["失信编号"] for r in rows}) == len(rows)
    assert {r["失信编号"] for r in rows} == active


def test_files_another_world_left_are_not_delivered_by_this_one(tmp_path):
    """A drop folder written by other settings (or another version of the simulator) is emptied
    on start: this world's court never delivered those files."""
    make_client(tmp_path, seed=7)
    set_clock(make_client(tmp_path, seed=7), datetime(2022, 3, 4, tzinfo=CST))
    theirs = {name: (tmp_path / name).read_bytes() for name in manifests(tmp_path)}
    assert theirs
    (tmp_path / ".world").unlink()                         # as an older simulator left its folder
    client = make_client(tmp_path, seed=8)
    set_clock(client, datetime(2022, 3, 4, tzinfo=CST))
    ours = manifests(tmp_path)
    files = {p.name for p in tmp_path.iterdir() if p.suffix in (".csv", ".xlsx")}
    assert files == set(ours)                              # nothing of the other world is left
    assert any((tmp_path / n).read_bytes() != theirs.get(n) for n in ours)   # this world's rows
    set_clock(make_client(tmp_path, seed=7), datetime(2022, 3, 4, tzinfo=CST))   # and back
    assert {name: (tmp_path / name).read_bytes() for name in manifests(tmp_path)} == theirs
