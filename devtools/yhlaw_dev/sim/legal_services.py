"""Simulated 公共法律服务平台 (public legal services) for 余杭区.

One entity, ``services`` (办件: 法律咨询、法律援助、司法鉴定、公证), served by
the ``oauth_paged`` API style exactly like enforcement.  Each record carries
a nested applicant and a stage list 受理 -> 审查 -> 办理 -> 办结; versions
appear as stages are recorded (法律咨询 usually all on day 0 in one version,
the others over 1-30 days), plus an optional late correction.

Truth labels beyond the shared dirt kinds:

* ``incomplete_stages`` -- NOT dirt: ~10% of records legitimately never
  record a middle stage (审查 or 办理); the platform's 全流程完整办件数据
  indicator measures exactly this.  Drawn from the clean RNG, so it is
  present even with ``SIM_DIRT=none``; listed on every version in which a
  later stage exists but an earlier middle stage is missing.
* ``stages_out_of_order`` -- dirt kind (default 5%): the served stage list
  is shuffled (the times themselves stay consistent); listed on versions
  whose list is actually out of time order.

Applicants come from the framework's shared party pool (same seed -> same
people as in the other sources).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from .framework import (
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
)

MAX_LAG_DAYS = 45
STAGES = ("受理", "审查", "办理", "办结")
INCOMPLETE = "incomplete_stages"
OUT_OF_ORDER = "stages_out_of_order"


@dataclass(frozen=True)
class ServiceType:
    name: str
    weight: int
    channels: Weighted
    p_person: float
    p_same_day: float


SERVICE_TYPES = (
    ServiceType("法律咨询", 60, Weighted(("12348热线", "网络平台", "实体平台"), (45, 40, 15)), 0.9, 0.95),
    ServiceType("法律援助", 15, Weighted(("实体平台", "网络平台", "12348热线"), (70, 25, 5)), 1.0, 0.03),
    ServiceType("司法鉴定", 5, Weighted(("实体平台", "网络平台"), (90, 10)), 0.7, 0.0),
    ServiceType("公证", 20, Weighted(("实体平台", "网络平台"), (75, 25)), 0.85, 0.3),
)
TYPE_PICK = Weighted(SERVICE_TYPES, [t.weight for t in SERVICE_TYPES])
SATISFACTION = Weighted(("满意", "基本满意", "不满意", "未评价"), (75, 12, 3, 10))
APPRAISERS = ("杭州余杭明正司法鉴定所", "浙江良渚司法鉴定中心", "杭州禾信司法鉴定所")

P_INCOMPLETE = 0.10
P_OPEN = 0.03  # non-consultation services still open at the end of their life

DIRT_DEFAULTS = {**SHARED_DIRT_DEFAULTS, OUT_OF_ORDER: 0.05}
VARIANTS = {
    "missing_required": ("key", "town", "first_stage"),
    "impossible_date": ("stage_before_accept", "far_future", "far_past", "bad_calendar"),
    "town_name": TOWN_NAME_VARIANTS,
}


@dataclass
class ServicePlan(DirtPlan):
    shuffle_seed: int = 0


def _unit(kind: str, channel: str, town_code: str, rng: random.Random) -> str:
    town = town_by_code(town_code)
    if kind == "法律咨询":
        return {"12348热线": "杭州市余杭区12348公共法律服务热线", "网络平台": "浙江法律服务网（余杭区）",
                }.get(channel, f"余杭区{town.name}公共法律服务工作站")
    if kind == "法律援助":
        return "杭州市余杭区法律援助中心"
    if kind == "司法鉴定":
        return rng.choice(APPRAISERS)
    return "浙江省杭州市余杭公证处"


def _step(prev: datetime, day: date, rng: random.Random, lo_min: int, hi_min: int) -> datetime:
    """The next stage time: on ``day`` during work hours, or shortly after
    ``prev`` when that is already ``day`` (or later)."""
    if day <= prev.date():
        return later(prev, rng, lo_min, hi_min)
    return at_work(day, rng, 9, 17)


class ServiceGenerator:
    """Generates 公共法律服务办件 records accepted on a given day."""

    def __init__(self, seed: int, per_day: int, dirt: DirtProfile, parties: PartyPool) -> None:
        self.seed, self.per_day, self.dirt, self.parties = seed, per_day, dirt, parties

    def __call__(self, d: date) -> list[VersionedRecord]:
        rng, drng = rng_for(self.seed, "service", d), rng_for(self.seed, "service-dirt", d)
        return [self.record(d, i, rng, drng) for i in range(daily_count(rng, d, self.per_day))]

    def record(self, d: date, i: int, rng: random.Random, drng: random.Random) -> VersionedRecord:
        kind = TYPE_PICK.pick(rng)
        channel = kind.channels.pick(rng)
        service_no = f"GF{d:%Y%m%d}{i:05d}"
        town = pick_town(rng, d).code
        online = channel != "实体平台"
        fully_online = {"法律咨询": online, "法律援助": channel == "网络平台" and rng.random() < 0.5,
                        "司法鉴定": False, "公证": channel == "网络平台"}[kind.name]
        same_day = rng.random() < kind.p_same_day
        base = {
            "serviceNo": service_no, "serviceType": kind.name, "channel": channel,
            "fullyOnline": fully_online, "oneVisit": fully_online or rng.random() < 0.85, "sameDay": same_day,
        }
        applicant = self.parties.pick(rng, kind.p_person)
        unit = _unit(kind.name, channel, town, rng)
        states = self._lifecycle(rng, d, kind.name, same_day, online, base, town, applicant, unit)

        plan = draw_plan(self.dirt, drng, list(DIRT_DEFAULTS), VARIANTS, day=d)
        plan = ServicePlan(plan.kinds, plan.variant, plan.value, shuffle_seed=drng.randrange(2**32))
        if plan.has("impossible_date") and plan.variant == "stage_before_accept" and \
                len(states[-1][1]["stages"]) < 2:
            plan.variant = "far_future"  # no later stage to misdate
        correction = self._correct(drng, states, plan, d) if plan.has("late_correction") else None
        keyless = plan.has("missing_required") and plan.variant == "key"
        truth_key = f"<null>#{service_no}" if keyless else service_no
        return finish_record(truth_key, states, plan, self._apply_dirt, correction, d, MAX_LAG_DAYS)

    def _lifecycle(self, rng: random.Random, d: date, kind: str, same_day: bool, online: bool, base: dict,
                   town: str, applicant: dict, unit: str) -> list[tuple[datetime, dict]]:
        """Stage events grouped into versions; a dropped middle stage (legitimately
        incomplete) is simply never recorded."""
        accepted = at_work(d, rng, 8.5, 20.5 if online and kind == "法律咨询" else 15.5)
        if same_day:
            times = [accepted]
            for lo, hi in ((2, 20), (5, 60), (1, 30)):
                times.append(later(times[-1], rng, lo, hi))
            # 法律咨询: usually one version with all four stages; otherwise 受理 first
            batches = [[0, 1, 2, 3]] if kind == "法律咨询" and rng.random() < 0.9 else [[0], [1, 2, 3]]
        else:
            total = rng.randint(1, 3) if kind == "法律咨询" else rng.randint(1, 30)
            review_day = d + timedelta(days=rng.randint(0, min(3, total)))
            handle_day = review_day + timedelta(days=rng.randint(0, (d + timedelta(days=total) - review_day).days))
            reviewed = _step(accepted, review_day, rng, 20, 180)
            handled = _step(reviewed, handle_day, rng, 30, 240)
            concluded = _step(handled, d + timedelta(days=total), rng, 30, 240)
            times = [accepted, reviewed, handled, concluded]
            batches = [[0], [1, 2], [3]] if rng.random() < 0.3 else [[0], [1], [2], [3]]
            if rng.random() < P_OPEN:
                batches = batches[:-1]  # still open
        missing = rng.choice((1, 2)) if rng.random() < P_INCOMPLETE else None
        satisfaction = SATISFACTION.pick(rng)

        isos = [to_iso(t) for t in times]
        states: list[tuple[datetime, dict]] = []
        recorded: list[int] = []
        for batch in batches:
            new = [n for n in batch if n != missing]
            if not new:
                continue
            recorded += new
            concluded = 3 in recorded
            payload = {
                **base, "satisfaction": satisfaction if concluded else None, "townCode": town,
                "applicant": dict(applicant),
                "stages": [{"stage": STAGES[n], "time": isos[n], "unit": unit} for n in recorded],
            }
            states.append((later(times[recorded[-1]], rng, 1, 20), payload))
        return states

    @staticmethod
    def _correct(rng: random.Random, states: list, plan: DirtPlan, d: date) -> int | None:
        """Append a late correction version (satisfaction or town)."""
        last_at, last = states[-1]
        when = correction_time(rng, last_at, d, MAX_LAG_DAYS)
        if when is None:
            return None
        options = ["satisfaction"] if last["satisfaction"] is not None else []
        if not any(plan.has(k) for k in TOWN_DIRT):
            options.append("townCode")
        if not options:
            return None
        field = rng.choice(options)
        payload = {**last, "applicant": dict(last["applicant"]), "stages": [dict(s) for s in last["stages"]]}
        if field == "satisfaction":
            payload["satisfaction"] = rng.choice([s for s in SATISFACTION.items if s != last["satisfaction"]])
        else:
            payload["townCode"] = rng.choice([t.code for t in TOWNS if t.code != last["townCode"]])
        states.append((when, payload))
        return len(states) - 1

    @staticmethod
    def _apply_dirt(payload: dict, plan: ServicePlan) -> list[str]:
        """Mutate one version's payload; return its truth labels (dirt kinds
        plus the non-dirt ``incomplete_stages``)."""
        payload["applicant"] = dict(payload["applicant"])
        payload["stages"] = [dict(s) for s in payload["stages"]]
        names = [s["stage"] for s in payload["stages"]]
        last = max(STAGES.index(n) for n in names)
        labels = [INCOMPLETE] if any(s not in names for s in STAGES[:last]) else []
        labels += ServiceGenerator._exclusive_dirt(payload, plan)
        if plan.has(OUT_OF_ORDER) and len(payload["stages"]) > 1:
            stages = payload["stages"]
            shuffled = list(stages)
            random.Random(plan.shuffle_seed).shuffle(shuffled)
            if shuffled == stages:
                shuffled.reverse()
            payload["stages"] = shuffled
            labels.append(OUT_OF_ORDER)
        return labels

    @staticmethod
    def _exclusive_dirt(payload: dict, plan: DirtPlan) -> list[str]:
        stages = payload["stages"]
        if plan.has("missing_required") and plan.variant == "key":
            payload["serviceNo"] = None
            return ["missing_required"]
        if plan.has("missing_required") and plan.variant == "first_stage":
            payload["stages"] = [s for s in stages if s["stage"] != "受理"]
            return ["missing_required"]
        if plan.has("impossible_date"):
            if plan.variant == "stage_before_accept":
                if len(stages) < 2:
                    return []  # nothing after 受理 yet
                accepted = datetime.fromisoformat(stages[0]["time"])
                stages[-1]["time"] = to_iso(accepted - timedelta(days=2, hours=3))
            else:
                stages[0]["time"] = bad_timestamp(stages[0]["time"], plan.variant)
            return ["impossible_date"]
        return apply_town_dirt(payload, plan)


def build_source(settings: Any) -> SimSource:
    """Build the legal-services source from a settings object (see server.SimulatorConfig)."""
    if settings.services_per_day > 20000:
        raise ValueError("volume too high for the 5-digit service numbering")
    dirt = DirtProfile.parse(settings.dirt, DIRT_DEFAULTS)
    generator = ServiceGenerator(settings.seed, settings.services_per_day, dirt, party_pool(settings.seed))
    collection = DailyCollection("services", generator, start=settings.start_date, end=settings.end_date,
                                 max_lag_days=MAX_LAG_DAYS)
    return SimSource("legal_services", {"services": collection}, api="oauth_paged", path_prefix="/api/v1")
