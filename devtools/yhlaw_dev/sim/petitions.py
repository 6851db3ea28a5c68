"""Simulated 信访信息系统 (petitions) for 余杭区.

One entity, ``petitions`` (信访件), served by the ``signed_cursor`` API
style (API key + request signature, cursor pages, per-minute rate limit).
A petition lives through up to four versions -- registered (登记), accepted
(受理, with 转办/交办), concluded (答复/办结) and evaluated (评价) -- plus an
optional late correction.

Each day's first petitions are the world's (``population.World``): petitions about
a dispute between parties, some handed on to a mediation committee (信访转办, which
carries the petition number), and their repeats (重复信访, about 15% of all) by the
same petitioner.  The rest of the day's volume are the system's own one-off
petitions by people of the shared party pool.  Every petition lists all its
parties with roles (``parties``: 信访人, and 被反映人 when the world knows one);
``petitioner`` stays the first of them.  Clean data comes
from seeded RNGs per day (and per record for who/what), dirt from another,
so ``SIM_DIRT=none`` gives the same records minus the dirt.
"""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta
from typing import Any

from .population import World, world
from .framework import (
    SHARED_DIRT_DEFAULTS,
    TOWN_DIRT,
    TOWN_NAME_VARIANTS,
    pick_town,
    TOWNS,
    DailyCollection,
    DirtPlan,
    DirtProfile,
    PartyPool,
    SimSource,
    VersionedRecord,
    Weighted,
    apply_town_dirt,
    at_work,
    bad_timestamp,
    correction_time,
    daily_count,
    draw_plan,
    finish_record,
    later,
    party_pool,
    rng_for,
    to_iso,
    town_unit,
)

#: Registration to evaluation spans up to 20 + 75 + 10 = 105 days; late
#: corrections are capped at this lag too.
MAX_LAG_DAYS = 110

ACCEPT_LIMIT = timedelta(days=15)   # 受理 within 15 days of 登记
CONCLUDE_LIMIT = timedelta(days=60)  # 办结 within 60 days of 受理
BUREAU = "杭州市余杭区信访局"

FORMS = Weighted(("来信", "来访", "网上信访", "电话"), (15, 25, 45, 15))
#: category -> the department petitions of that kind are handed to.
CATEGORIES = {
    "劳动社保": "杭州市余杭区人力资源和社会保障局",
    "城乡建设": "杭州市余杭区住房和城乡建设局",
    "国土资源": "杭州市规划和自然资源局余杭分局",
    "农村农业": "杭州市余杭区农业农村局",
    "环境保护": "杭州市生态环境局余杭分局",
    "涉法涉诉": "杭州市余杭区司法局",
    "卫生健康": "杭州市余杭区卫生健康局",
    "其他": None,  # handled by the town
}
CATEGORY_PICK = Weighted(tuple(CATEGORIES), (22, 25, 10, 8, 10, 7, 6, 12))
SATISFACTION = Weighted(("满意", "基本满意", "不满意", "未评价"), (68, 15, 7, 10))

P_BACKLOG = 0.05
P_NEVER_ACCEPTED = 0.02

DIRT_DEFAULTS = dict(SHARED_DIRT_DEFAULTS)
VARIANTS = {
    "missing_required": ("key", "town", "registeredAt"),
    "impossible_date": ("accept_before_register", "conclude_before_accept",
                        "far_future", "far_past", "bad_calendar"),
    "town_name": TOWN_NAME_VARIANTS,
}


class PetitionGenerator:
    """Generates 信访件 records registered on a given day: the world's, then the system's own."""

    def __init__(self, seed: int, per_day: int, dirt: DirtProfile, parties: PartyPool,
                 start: date, end: date, world: World | None = None) -> None:
        self.seed, self.per_day, self.dirt, self.parties = seed, per_day, dirt, parties
        self.start, self.end = start, end
        self.world = world or World(seed)

    def count(self, d: date) -> int:
        if not self.start <= d <= self.end:
            return 0
        own = daily_count(rng_for(self.seed, "petition-count", d), d, self.per_day)
        return max(own, len(self.world.records_on("petitions", d)))

    def origin(self, d: date, i: int) -> tuple[list[tuple[str, dict]], str, str, bool]:
        """(parties with roles, category, townCode, is_repeat) of petition ``i`` of day ``d``:
        the world's dispute, or a one-off petition of the system's own."""
        steps = self.world.records_on("petitions", d)
        if i < len(steps):
            step = steps[i]
            dispute = self.world.dispute(step.dispute)
            return self.world.parties(step), dispute.cause.petition, dispute.town, step.kind == "重复信访"
        rng = rng_for(self.seed, "petition-origin", d, i)
        return [("信访人", self.parties.pick(rng, p_person=1.0))], CATEGORY_PICK.pick(rng), pick_town(rng, d).code, False

    # -- records -----------------------------------------------------------
    def __call__(self, d: date) -> list[VersionedRecord]:
        rng, drng = rng_for(self.seed, "petition", d), rng_for(self.seed, "petition-dirt", d)
        return [self.record(d, i, rng, drng) for i in range(self.count(d))]

    def record(self, d: date, i: int, rng: random.Random, drng: random.Random) -> VersionedRecord:
        petition_no = f"YHXF{d:%Y%m%d}{i:05d}"
        parties, category, town, repeat = self.origin(d, i)
        base = {
            "petitionNo": petition_no, "form": FORMS.pick(rng), "kind": "重复" if repeat else "初信初访",
            "agentHandled": rng.random() < 0.25, "townCode": town, "category": category,
        }
        backlog = rng.random() < P_BACKLOG
        states = self._lifecycle(rng, d, base, backlog, parties)

        plan = draw_plan(self.dirt, drng, list(DIRT_DEFAULTS), VARIANTS, day=d)
        last = states[-1][1]
        if plan.has("impossible_date") and (
                (plan.variant == "accept_before_register" and last["acceptedAt"] is None)
                or (plan.variant == "conclude_before_accept" and last["concludedAt"] is None)):
            plan.variant = "far_future"  # no such stage to misdate
        correction = self._correct(drng, states, plan, d) if plan.has("late_correction") else None
        keyless = plan.has("missing_required") and plan.variant == "key"
        truth_key = f"<null>#{petition_no}" if keyless else petition_no
        return finish_record(truth_key, states, plan, self._apply_dirt, correction, d, MAX_LAG_DAYS)

    def _lifecycle(self, rng: random.Random, d: date, base: dict, backlog: bool,
                   parties: list[tuple[str, dict]]) -> list[tuple[datetime, dict]]:
        """Up to four versions: registered, accepted, concluded, evaluated."""
        online = base["form"] in ("网上信访", "电话")
        registered = at_work(d, rng, 0.5 if online else 8.5, 23.5 if online else 17.5)
        handler = CATEGORIES[base["category"]] or town_unit(base["townCode"])
        entry_unit = BUREAU if base["form"] != "来访" or rng.random() < 0.5 else town_unit(base["townCode"])
        log = [("登记", registered, entry_unit, to_iso(registered))]
        fields: dict[str, Any] = {"registeredAt": registered, "acceptedAt": None, "concludedAt": None,
                                  "satisfaction": None}
        fate = rng.random()

        def state() -> tuple[datetime, dict]:
            updated = later(log[-1][1], rng, 1, 30)
            iso = {e[1]: e[3] for e in log}
            accepted, concluded = fields["acceptedAt"], fields["concludedAt"]
            payload = {
                **base,
                "registeredAt": iso[registered],
                "acceptedAt": iso[accepted] if accepted else None,
                "concludedAt": iso[concluded] if concluded else None,
                "acceptedInTime": (accepted - registered <= ACCEPT_LIMIT) if accepted else None,
                "concludedInTime": (concluded - accepted <= CONCLUDE_LIMIT) if concluded else None,
                "satisfaction": fields["satisfaction"], "isBacklog": backlog, "petitioner": dict(parties[0][1]),
                "parties": [{"role": role, **p} for role, p in parties],
                "operationLog": [{"op": op, "time": text, "unit": unit} for op, _, unit, text in log],
            }
            return updated, payload

        states = [state()]
        if fate < P_NEVER_ACCEPTED:
            return states
        # 受理: 0-14 days after 登记, ~8% late (16-20 days, so acceptedInTime is false)
        offset = rng.randint(16, 20) if rng.random() < 0.08 else rng.randint(0, 14)
        accepted = later(registered, rng, 20, 180) if offset == 0 else at_work(d + timedelta(days=offset), rng, 8.5, 16)
        fields["acceptedAt"] = accepted
        handed = later(accepted, rng, 10, 120)
        log.append(("受理", accepted, BUREAU, to_iso(accepted)))
        log.append(("交办" if rng.random() < 0.3 else "转办", handed, handler, to_iso(handed)))
        states.append(state())
        if backlog and rng.random() < 0.6:
            return states  # 积案: still open
        # 办结: 10-59 days after 受理, ~10% late (61-75 days); backlog cases always late
        late = backlog or rng.random() < 0.10
        day = accepted.date() + timedelta(days=rng.randint(61, 75) if late else rng.randint(10, 59))
        answered = at_work(day, rng, 8.5, 12)
        concluded = later(answered, rng, 30, 300)
        log.append(("答复", answered, handler, to_iso(answered)))
        log.append(("办结", concluded, handler, to_iso(concluded)))
        fields["concludedAt"] = concluded
        states.append(state())
        # 评价: 1-10 days later
        evaluated = at_work(day + timedelta(days=rng.randint(1, 10)), rng)
        fields["satisfaction"] = SATISFACTION.pick(rng)
        log.append(("评价", evaluated, BUREAU, to_iso(evaluated)))
        states.append(state())
        return states

    @staticmethod
    def _correct(rng: random.Random, states: list, plan: DirtPlan, d: date) -> int | None:
        """Append a late correction version (category, town or satisfaction)."""
        last_at, last = states[-1]
        when = correction_time(rng, last_at, d, MAX_LAG_DAYS)
        if when is None:
            return None
        options = ["category"]
        if last["satisfaction"] is not None:
            options.append("satisfaction")
        if not any(plan.has(k) for k in TOWN_DIRT):
            options.append("townCode")
        field = rng.choice(options)
        payload = {**last, "petitioner": dict(last["petitioner"]), "parties": [dict(p) for p in last["parties"]],
                   "operationLog": [dict(e) for e in last["operationLog"]]}
        if field == "category":
            payload["category"] = rng.choice([c for c in CATEGORIES if c != last["category"]])
        elif field == "satisfaction":
            payload["satisfaction"] = rng.choice([s for s in SATISFACTION.items if s != last["satisfaction"]])
        else:
            payload["townCode"] = rng.choice([t.code for t in TOWNS if t.code != last["townCode"]])
        states.append((when, payload))
        return len(states) - 1

    @staticmethod
    def _apply_dirt(payload: dict, plan: DirtPlan) -> list[str]:
        """Mutate one version's payload; return the dirt kinds it now has."""
        payload["operationLog"] = [dict(e) for e in payload["operationLog"]]
        payload["petitioner"] = dict(payload["petitioner"])
        payload["parties"] = [dict(p) for p in payload["parties"]]
        if plan.has("missing_required") and plan.variant == "key":
            payload["petitionNo"] = None
            return ["missing_required"]
        if plan.has("missing_required") and plan.variant == "registeredAt":
            payload["registeredAt"] = None
            return ["missing_required"]
        if plan.has("impossible_date"):
            return PetitionGenerator._misdate(payload, plan.variant)
        return apply_town_dirt(payload, plan)

    @staticmethod
    def _misdate(payload: dict, variant: str) -> list[str]:
        if variant == "accept_before_register":
            if payload["acceptedAt"] is None:
                return []  # not accepted yet in this version
            registered = datetime.fromisoformat(payload["registeredAt"])
            payload["acceptedAt"] = to_iso(registered - timedelta(days=3, hours=2))
        elif variant == "conclude_before_accept":
            if payload["concludedAt"] is None:
                return []
            accepted = datetime.fromisoformat(payload["acceptedAt"])
            payload["concludedAt"] = to_iso(accepted - timedelta(days=30))
        else:
            payload["registeredAt"] = bad_timestamp(payload["registeredAt"], variant)
        return ["impossible_date"]


def build_source(settings: Any) -> SimSource:
    """Build the petitions source from a settings object (see server.SimulatorConfig)."""
    if settings.petitions_per_day > 20000:
        raise ValueError("volume too high for the 5-digit petition numbering")
    dirt = DirtProfile.parse(settings.dirt, DIRT_DEFAULTS)
    generator = PetitionGenerator(settings.seed, settings.petitions_per_day, dirt, party_pool(settings.seed),
                                  settings.start_date, settings.end_date, world(settings.seed))
    collection = DailyCollection("petitions", generator, start=settings.start_date, end=settings.end_date,
                                 max_lag_days=MAX_LAG_DAYS)
    return SimSource("petitions", {"petitions": collection}, api="signed_cursor", path_prefix="/api/v2")

