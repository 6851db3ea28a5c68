"""The simulated world of #17: one population whose disputes move between petitions, mediation
and the court. Deterministic, computable day by day, paths that make sense, rates as chosen."""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta
from functools import lru_cache

import pytest

from yhlaw_dev.sim import population as pop
from yhlaw_dev.sim.courts import CourtExports
from yhlaw_dev.sim.framework import DirtProfile, party_pool
from yhlaw_dev.sim.mediation import DIRT_DEFAULTS as MEDIATION_DIRT, MediationGenerator
from yhlaw_dev.sim.petitions import DIRT_DEFAULTS as PETITION_DIRT, PetitionGenerator
from yhlaw_dev.sim.server import SimulatorConfig

SEED = 20220101
FIRST, LAST = date(2022, 1, 1), date(2022, 6, 30)   # after the split: no path is cut short by it


@lru_cache(maxsize=1)
def half_year() -> list[dict]:
    return pop.world(SEED).truth(FIRST, LAST)


def steps(kind: str) -> list[tuple[dict, dict]]:
    return [(t, s) for t in half_year() for s in t["steps"] if s["kind"] == kind]


def test_the_same_seed_is_the_same_world_and_another_seed_another():
    a, b = pop.World(SEED).truth(date(2022, 3, 1), date(2022, 3, 3)), pop.World(SEED).truth(date(2022, 3, 1),
                                                                                                date(2022, 3, 3))
    assert a == b and len(a) > 60
    assert pop.World(SEED + 1).truth(date(2022, 3, 1), date(2022, 3, 3)) != a


def test_a_day_computed_alone_is_the_day_computed_in_a_range():
    """What a system serves for day d does not depend on which days were asked for before."""
    day = date(2022, 5, 17)
    walked = pop.World(SEED)
    for n in range(20):
        for system in ("petitions", "mediation", "courts", "dishonest"):
            walked.records_on(system, day - timedelta(days=19 - n))
    alone = pop.World(SEED)
    for system in ("petitions", "mediation", "courts", "dishonest"):
        ours, theirs = walked.records_on(system, day), alone.records_on(system, day)
        assert ours == theirs and ours, system
        assert [walked.key(s) for s in ours] == [alone.key(s) for s in theirs]
        assert [walked.links(s) for s in ours] == [alone.links(s) for s in theirs]
    # and the simulators' records of that day: the same bytes whichever days came first
    dirt = DirtProfile.parse("default", MEDIATION_DIRT)
    ranged = MediationGenerator(SEED, 30, dirt, party_pool(SEED), date(2022, 1, 1), date(2022, 12, 31), walked)
    fresh = MediationGenerator(SEED, 30, dirt, party_pool(SEED), date(2022, 1, 1), date(2022, 12, 31), pop.World(SEED))
    for n in range(5):
        ranged(day - timedelta(days=n))
    assert ranged(day) == fresh(day)


def test_every_step_key_is_unique_and_in_its_system_format():
    keys = Counter(s["key"] for t in half_year() for s in t["steps"])
    assert keys.most_common(1)[0][1] == 1
    for _, s in steps("民初"):
        assert s["key"].startswith(f"({s['day'][:4]})浙0110民初")
    for _, s in steps("调解"):
        assert s["key"] == "YHTJ" + s["day"].replace("-", "") + s["key"][-5:]


def test_a_failed_pre_litigation_mediation_is_filed_after_it_ends_and_a_successful_one_never():
    filed = 0
    for t, s in steps("调解"):
        if s["source"] != "诉前委派":
            continue
        referral = t["steps"][s["n"] - 1]
        assert referral["kind"] == "诉前调" and s["links"] == {"诉前调案号": referral["key"]}
        suits = [x for x in t["steps"] if x["kind"] == "民初" and x["links"].get("诉前调案号") == referral["key"]]
        if s["outcome"] == "成功" or s["end"] is None:
            assert suits == []
        for suit in suits:
            assert suit["day"] > s["end"]
            filed += 1
    assert filed > 100


def test_links_point_backwards_to_the_step_they_name():
    by_key = {s["key"]: s for t in half_year() for s in t["steps"]}
    for kind, link, target in (("调解", "信访件编号", "信访"), ("民特", "调解案件编号", "调解"),
                               ("执", "执行依据案号", None), ("破申", "原案号", "执")):
        seen = 0
        for _, s in steps(kind):
            if link not in s["links"]:
                continue
            before = by_key.get(s["links"][link])
            if before is None:          # a step dated before FIRST's cohorts is not in this half year
                continue
            seen += 1
            assert target is None and before["kind"] in ("民初", "民特") or before["kind"] == target
            assert before["day"] <= s["day"] and (before["end"] is None or before["end"] <= s["day"])
        assert seen, kind
    for t, s in steps("失信"):
        execution = next(x for x in t["steps"] if x["key"] == s["links"]["执行案号"])
        assert execution["kind"] == "执" and execution["day"] < s["day"]
    for t, s in steps("破申"):
        assert t["parties"][1]["type"] == "org"


def test_repeat_petitions_are_by_the_same_person_about_the_same_dispute():
    repeats = steps("重复信访")
    assert len(repeats) > 200
    for t, s in repeats:
        first = t["steps"][0]
        assert first["kind"] == "信访" and first["day"] < s["day"]
        assert s["parties"][0] == first["parties"][0] and s["parties"][0]["role"] == "信访人"


def test_rates_are_the_chosen_ones():
    def share(pairs, hit) -> float:
        pairs = list(pairs)
        return sum(map(hit, pairs)) / len(pairs)

    closed = lambda src: [s for _, s in steps("调解") if s["source"] == src and s["end"]]  # noqa: E731
    assert share(closed("诉前委派"), lambda s: s["outcome"] == "成功") == pytest.approx(pop.P_SUCCESS["诉前委派"], abs=0.04)
    assert share(closed("信访转办"), lambda s: s["outcome"] == "成功") == pytest.approx(pop.P_SUCCESS["信访转办"], abs=0.06)
    petitions = [t for t in half_year() if t["origin"] == "信访"]
    assert share(petitions, lambda t: any(s["source"] == "信访转办" for s in t["steps"])) == \
        pytest.approx(pop.P_PETITION_TO_MEDIATION, abs=0.04)
    agreed = [(t, s) for t, s in steps("调解") if s["source"] == "诉前委派" and s["outcome"] == "成功"]
    assert share(agreed, lambda ts: any(x["kind"] == "民特" for x in ts[0]["steps"])) == \
        pytest.approx(pop.P_CONFIRM["诉前委派"], abs=0.05)
    judged = [(t, s) for t, s in steps("民初") if s["outcome"] in ("判决", "调解")]
    performed = 1 - pop.P_PAYMENT * (1 - pop.P_PERFORMED)
    assert share(judged, lambda ts: not any(x["kind"] == "执" and x["links"].get("执行依据案号") == ts[1]["key"]
                                            for x in ts[0]["steps"])) == pytest.approx(performed, abs=0.04)
    assert share(steps("执"), lambda ts: any(x["kind"] == "失信" for x in ts[0]["steps"])) == \
        pytest.approx(pop.P_DISHONEST, abs=0.05)
    typed = [s["served_links"]["信访件编号"] for _, s in steps("调解") if "信访件编号" in s["links"]]
    assert share(typed, lambda v: v is None) == pytest.approx(pop.LINK_DIRT["信访件编号"][0], abs=0.06)


def test_served_records_name_all_their_parties_and_they_are_of_the_population():
    people = {p["idNo"] for p in pop.Population(SEED).identities()}
    world = pop.world(SEED)
    day, end = date(2022, 3, 1), date(2022, 3, 7)
    settings = SimulatorConfig(source="courts", drop_dir="/nonexistent", start_date=day, end_date=end)
    petitions = PetitionGenerator(SEED, 25, DirtProfile.parse("default", PETITION_DIRT), party_pool(SEED), day, end,
                                  world)
    mediation = MediationGenerator(SEED, 30, DirtProfile.parse("default", MEDIATION_DIRT), party_pool(SEED), day,
                                   end, world)
    courts = CourtExports(settings)
    ids, roles = set(), Counter()
    for n in range(7):
        d = day + timedelta(days=n)
        for record in petitions(d):
            payload = record.versions[-1].payload
            assert payload["parties"][0]["idNo"] == payload["petitioner"]["idNo"]
            ids |= {p["idNo"] for p in payload["parties"]}
            roles.update(p["role"] for p in payload["parties"])
        for record in mediation(d):
            ids |= {p["zjhm"] for p in record.versions[-1].payload["parties"]}
            roles.update(p["dsrdw"] for p in record.versions[-1].payload["parties"])
        for head in courts.cases.heads(d):
            ids |= {p["idNo"] for _, p in head.parties}
            roles.update(r for r, _ in head.parties)
            assert head.parties[0][1] == head.party
    assert ids <= people and len(ids) > 500
    assert {"信访人", "被反映人", "申请人", "被申请人", "原告", "被告", "申请执行人", "被执行人"} <= set(roles)
