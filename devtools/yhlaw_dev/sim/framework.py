"""Source-agnostic building blocks for the upstream-system simulators.

A simulated source is a set of *collections* (one per API entity).  Each
collection generates its records day by day, deterministically from a seed,
and every record is a list of versions stamped with ``updated_at``.  A query
asks "which record versions, as visible at the world clock, were last updated
inside [since, until)?" -- exactly what an incremental ingest job asks a real
API.

The first part knows nothing about any particular source or its fields.
The second part (below "shared 余杭区 world") holds what every simulated
source of the district shares, so that sources agree with each other: the
12 towns and their dirty variants, and one seeded pool of parties (persons
with valid 身份证号, organisations with valid 统一社会信用代码) from which
all sources draw -- the same seed gives the same people everywhere -- plus
the record-building helpers (dirt plans, lifecycle timing) they reuse.
"""

from __future__ import annotations

import hashlib
import random
import threading
from collections import OrderedDict
from functools import lru_cache
from itertools import accumulate
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from typing import Any, Callable, Iterable, Mapping, Sequence

#: All simulated systems speak Asia/Shanghai time (a fixed +08:00, no DST).
CST = timezone(timedelta(hours=8), name="Asia/Shanghai")

#: Dirt kind understood by the framework itself: the item is served twice.
DUPLICATE = "duplicate"


# --------------------------------------------------------------------------
# time helpers


def to_iso(dt: datetime) -> str:
    """Render an aware datetime as ISO 8601 in +08:00, to the second."""
    if dt.tzinfo is not CST:
        dt = dt.astimezone(CST)
    return dt.isoformat(timespec="seconds")


def parse_iso(text: str) -> datetime:
    """Parse an ISO 8601 timestamp that carries an offset (``Z`` allowed).

    Raises ``ValueError`` for malformed or offset-less input.
    """
    dt = datetime.fromisoformat(text.strip())
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise ValueError(f"timestamp {text!r} has no UTC offset")
    return dt


def day_start(d: date) -> datetime:
    """Midnight of ``d`` in Asia/Shanghai."""
    return datetime.combine(d, time(0, 0), tzinfo=CST)


class WorldClock:
    """The simulator's "now": real time unless pinned to a fixed instant.

    ``follow``: a query for the window ending at U is answered as the system stood at
    ``U + follow`` (never later than "now"), as if every run had called on schedule; a backfill
    run today then reads the world the daily runs read in their time (the demo's world).
    Systems written up to the clock (a file drop, a database) do not follow: they are read as
    they stand.
    """

    def __init__(self, fixed: datetime | None = None, follow: timedelta | None = None) -> None:
        self._lock = threading.Lock()
        self._fixed: datetime | None = None
        self.follow = follow
        self.set(fixed)

    def set(self, fixed: datetime | None) -> None:
        """Pin the clock to ``fixed`` (aware datetime) or release it (None)."""
        if fixed is not None and fixed.tzinfo is None:
            raise ValueError("WorldClock needs an aware datetime")
        with self._lock:
            self._fixed = fixed.astimezone(CST) if fixed is not None else None

    @property
    def is_fixed(self) -> bool:
        return self._fixed is not None

    def now(self) -> datetime:
        with self._lock:
            fixed = self._fixed
        return fixed if fixed is not None else datetime.now(CST)

    def serving(self, until: datetime) -> datetime:
        """The instant a query for a window ending at ``until`` is answered at."""
        now = self.now()
        return now if self.follow is None else min(now, (until + self.follow).astimezone(CST))


# --------------------------------------------------------------------------
# determinism


def rng_for(seed: int | str, *keys: Any) -> random.Random:
    """A ``random.Random`` seeded from a stable hash of ``seed`` and ``keys``.

    Uses SHA-256 (never ``hash()``, which is salted per process), so the
    same inputs give the same stream in every run and on every machine.
    """
    material = "\x1f".join(str(part) for part in (seed, *keys)).encode("utf-8")
    digest = hashlib.sha256(material).digest()
    return random.Random(int.from_bytes(digest[:16], "big"))


# --------------------------------------------------------------------------
# records


@dataclass(frozen=True)
class Version:
    """One state of a record: when it changed, what it looked like, and
    which dirt kinds this served payload carries (ground truth)."""

    updated_at: datetime
    payload: Mapping[str, Any]
    dirt: tuple[str, ...] = ()


@dataclass(frozen=True)
class VersionedRecord:
    """A record's life: its natural key plus versions in time order.

    ``truth_key`` identifies the record even when the served key is dirty
    (e.g. null); it also breaks ties in the serving order.
    """

    truth_key: str
    versions: tuple[Version, ...]

    def visible_at(self, now: datetime) -> Version | None:
        """The latest version with ``updated_at <= now`` (None if none yet)."""
        current = None
        for version in self.versions:
            if version.updated_at > now:
                break
            current = version
        return current


# --------------------------------------------------------------------------
# profiles


def _parse_probabilities(spec: str, known: Iterable[str], what: str) -> dict[str, float]:
    """Parse ``"kind:p,kind:p"`` into a dict, validating kinds and ranges."""
    known = set(known)
    result: dict[str, float] = {}
    for part in (p.strip() for p in spec.split(",")):
        if not part:
            continue
        kind, sep, value = part.partition(":")
        kind = kind.strip()
        if kind not in known:
            raise ValueError(f"unknown {what} kind {kind!r}; known: {sorted(known)}")
        if not sep:
            raise ValueError(f"{what} {kind!r} needs a probability, e.g. {kind}:0.01")
        result[kind] = _probability(value, f"{what} {kind}")
    return result


def _probability(value: Any, label: str) -> float:
    try:
        p = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{label}: probability {value!r} is not a number") from None
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"{label}: probability {p} is outside [0, 1]")
    return p


@dataclass(frozen=True)
class DirtProfile:
    """Per-record probabilities of each named dirt kind.

    Spec strings: ``"none"``; ``"default"`` (the source's defaults); or a
    comma list ``"duplicate:0.02,some_kind:0.01"``.  A list may start
    with ``default`` to override only some defaults
    (``"default,duplicate:0.1"``); otherwise unlisted kinds are off.
    """

    probabilities: Mapping[str, float] = field(default_factory=dict)

    @classmethod
    def parse(cls, spec: str, defaults: Mapping[str, float]) -> DirtProfile:
        spec = (spec or "").strip()
        if spec in ("", "none"):
            return cls({})
        parts = [p.strip() for p in spec.split(",")]
        base: dict[str, float] = {}
        if parts[0] == "default":
            base = dict(defaults)
            parts = parts[1:]
        base.update(_parse_probabilities(",".join(parts), defaults.keys(), "dirt"))
        return cls({k: p for k, p in base.items() if p > 0})

    def draw(self, rng: random.Random, exclusive: Sequence[str] = ()) -> list[str]:
        """Independently draw each kind; of the ``exclusive`` kinds keep only
        the first drawn (in ``exclusive`` order) so they never collide."""
        drawn = [k for k, p in sorted(self.probabilities.items()) if rng.random() < p]
        clashing = [k for k in exclusive if k in drawn]
        return [k for k in drawn if k not in clashing[1:]]


#: Fault kinds every source understands; a source's API may add its own
#: (appended after these, so adding kinds never changes the draws of these).
FAULT_KINDS = ("5xx", "429", "slow", "truncated", "malformed", "token_expire", "reset")


@dataclass(frozen=True)
class FaultProfile:
    """Per-request probabilities of transport/API faults (at most one per
    request; probabilities must sum to <= 1).  ``kinds`` are the kinds the
    source understands, in draw order."""

    probabilities: Mapping[str, float] = field(default_factory=dict)
    kinds: tuple[str, ...] = FAULT_KINDS

    def __post_init__(self) -> None:
        for kind, p in self.probabilities.items():
            if kind not in self.kinds:
                raise ValueError(f"unknown fault kind {kind!r}; known: {list(self.kinds)}")
            _probability(p, f"fault {kind}")
        if sum(self.probabilities.values()) > 1.0 + 1e-9:
            raise ValueError("fault probabilities must sum to at most 1")

    @classmethod
    def parse(cls, spec: str, kinds: tuple[str, ...] = FAULT_KINDS) -> FaultProfile:
        spec = (spec or "").strip()
        if spec in ("", "none"):
            return cls({}, kinds)
        return cls.from_mapping(_parse_probabilities(spec, kinds, "fault"), kinds)

    @classmethod
    def from_mapping(cls, mapping: Mapping[str, Any], kinds: tuple[str, ...] = FAULT_KINDS) -> FaultProfile:
        probs = {str(k): _probability(v, f"fault {k}") for k, v in mapping.items()}
        return cls({k: p for k, p in probs.items() if p > 0}, kinds)

    def draw(self, rng: random.Random) -> str | None:
        """One uniform draw per call (so arrival order is deterministic)."""
        u = rng.random()
        cumulative = 0.0
        for kind in self.kinds:
            cumulative += self.probabilities.get(kind, 0.0)
            if u < cumulative:
                return kind
        return None


# --------------------------------------------------------------------------
# collections and queries

DayGenerator = Callable[[date], list[VersionedRecord]]


@dataclass(frozen=True)
class Hit:
    """A record version that matched a query."""

    record: VersionedRecord
    version: Version

    @property
    def copies(self) -> int:
        return 2 if DUPLICATE in self.version.dirt else 1


class DailyCollection:
    """One API entity: records generated per creation day, cached, queried
    by update-time window as seen at a given world-clock instant."""

    def __init__(
        self,
        name: str,
        generate_day: DayGenerator,
        start: date,
        end: date,
        max_lag_days: int = 45,
        cache_days: int = 400,
    ) -> None:
        self.name = name
        self._generate_day = generate_day
        self.start, self.end = start, end
        self.max_lag_days = max_lag_days
        self._cache: OrderedDict[date, list[VersionedRecord]] = OrderedDict()
        self._cache_days = cache_days
        self._lock = threading.Lock()

    def records_for_day(self, d: date) -> list[VersionedRecord]:
        """Records created on ``d`` (LRU-cached; empty outside start..end)."""
        if not self.start <= d <= self.end:
            return []
        with self._lock:
            if d in self._cache:
                self._cache.move_to_end(d)
                return self._cache[d]
        records = self._generate_day(d)
        with self._lock:
            self._cache[d] = records
            while len(self._cache) > self._cache_days:
                self._cache.popitem(last=False)
        return records

    def creation_days(self, since: datetime, until: datetime, now: datetime) -> Iterable[date]:
        """Creation days that can hold a version updated in [since, until)."""
        first = max(since.astimezone(CST).date() - timedelta(days=self.max_lag_days), self.start)
        last = min(until.astimezone(CST).date(), now.astimezone(CST).date(), self.end)
        d = first
        while d <= last:
            yield d
            d += timedelta(days=1)

    def query(self, since: datetime, until: datetime, now: datetime) -> list[Hit]:
        """Visible versions with ``since <= updated_at < until``, ordered by
        (updated_at, truth_key)."""
        hits = []
        for d in self.creation_days(since, until, now):
            for record in self.records_for_day(d):
                version = record.visible_at(now)
                if version is not None and since <= version.updated_at < until:
                    hits.append(Hit(record, version))
        hits.sort(key=lambda h: (h.version.updated_at, h.record.truth_key))
        return hits

    @staticmethod
    def expand(hits: Sequence[Hit]) -> list[Mapping[str, Any]]:
        """The served item list: payloads, duplicated where dirt says so."""
        items: list[Mapping[str, Any]] = []
        for hit in hits:
            items.extend([hit.version.payload] * hit.copies)
        return items

    @staticmethod
    def truth(hits: Sequence[Hit]) -> list[dict[str, Any]]:
        """Ground truth rows: one per distinct visible record version."""
        return [
            {
                "key": h.record.truth_key,
                "updatedAt": to_iso(h.version.updated_at),
                "dirt": list(h.version.dirt),
            }
            for h in hits
        ]


@dataclass
class SimSource:
    """A simulated upstream system: a name, its collections by entity, and
    the API style the server gives it (see ``server.API_STYLES``):
    ``oauth_paged`` (OAuth2 client credentials + page/page_size/total) or
    ``signed_cursor`` (API key + request signature + opaque cursors).
    List endpoints live at ``{path_prefix}/{entity}``.  A source that is
    not an HTTP API uses ``api="none"`` and a ``system`` (see
    ``SourceSystem``); its collections then only back ``/_sim/truth``."""

    name: str
    collections: dict[str, DailyCollection]
    api: str = "oauth_paged"
    path_prefix: str = "/api/v1"
    system: Any = None



# ==========================================================================
# shared 余杭区 world: towns, parties, record-building helpers
#
# Every source of the district uses these, so that e.g. the same person
# (same 身份证号) turns up in enforcement cases, petitions and legal-service
# applications for the same seed.  Changing the draw order here changes the
# output of every source.


@dataclass(frozen=True)
class Town:
    code: str
    name: str
    weight: int

    @property
    def short(self) -> str:
        return self.name.removesuffix("街道").removesuffix("镇")


TOWNS = (
    Town("330110005000", "五常街道", 14),
    Town("330110009000", "仁和街道", 6),
    Town("330110010000", "良渚街道", 14),
    Town("330110011000", "闲林街道", 10),
    Town("330110012000", "仓前街道", 12),
    Town("330110013000", "余杭街道", 10),
    Town("330110014000", "中泰街道", 5),
    Town("330110109000", "径山镇", 5),
    Town("330110110000", "瓶窑镇", 6),
    Town("330110111000", "鸬鸟镇", 2),
    Town("330110112000", "百丈镇", 2),
    Town("330110113000", "黄湖镇", 2),
)
# Before 2021-04-09 (临平区成立) the district had twenty 镇街: these eight moved to 临平区, about as
# many residents as the twelve that stayed (七普: 1,175,841 against 1,226,673).
SPLIT_DAY = date(2021, 4, 9)
FORMER_TOWNS = (
    Town("330110001000", "临平街道", 14),
    Town("330110002000", "南苑街道", 12),
    Town("330110003000", "东湖街道", 12),
    Town("330110004000", "星桥街道", 10),
    Town("330110006000", "乔司街道", 12),
    Town("330110007000", "运河街道", 6),
    Town("330110008000", "崇贤街道", 8),
    Town("330110102000", "塘栖镇", 10),
)
UNKNOWN_TOWN_CODES = ("330110999000", "330199001000", "330110200000")
PRE2021_TOWN_CODES = (
    "330110001000", "330110002000", "330110003000", "330110004000",
    "330110006000", "330110007000", "330110008000", "330110102000",
)


def town_unit(code: str) -> str:
    """The town government's name (街道办事处 / 镇人民政府) for a valid code."""
    town = town_by_code(code)
    return f"余杭区{town.name}办事处" if town.name.endswith("街道") else f"余杭区{town.name}人民政府"


class Weighted:
    """Pre-accumulated weighted choice."""

    def __init__(self, items: Sequence[Any], weights: Sequence[float]) -> None:
        self.items, self.cum = list(items), list(accumulate(weights))

    def pick(self, rng: random.Random) -> Any:
        return rng.choices(self.items, cum_weights=self.cum)[0]


TOWN_PICK = Weighted(TOWNS, [t.weight for t in TOWNS])
CURRENT_TOWN_CODES = frozenset(t.code for t in TOWNS)
OLD_DISTRICT_PICK = Weighted(TOWNS + FORMER_TOWNS, [t.weight for t in TOWNS + FORMER_TOWNS])


def pick_town(rng: random.Random, d: date) -> Town:
    """The 镇街 a record about day ``d`` is in: one of the old district's twenty before the split,
    of the twelve after (the same draws as ever after it)."""
    return (TOWN_PICK if d >= SPLIT_DAY else OLD_DISTRICT_PICK).pick(rng)


def town_by_code(code: str) -> Town:
    return next(t for t in TOWNS + FORMER_TOWNS if t.code == code)

# -------------------------------------------------------------- shared dirt

#: Dirt kinds every source knows, with default per-record probabilities.
#: ``duplicate``: served twice; ``missing_required``: a key/required field
#: null or absent; ``unknown_town`` / ``pre2021_town``: a town code that is
#: not one of the 12 (made up, or abolished by the 2021 re-division);
#: ``town_name``: a valid town written as a name / short name / 9-digit code;
#: ``impossible_date``: a date that cannot be; ``late_correction``: an extra
#: version weeks later changing a field.
SHARED_DIRT_DEFAULTS = {
    "duplicate": 0.02,
    "missing_required": 0.01,
    "unknown_town": 0.01,
    "pre2021_town": 0.01,
    "town_name": 0.03,
    "impossible_date": 0.01,
    "late_correction": 0.03,
}
#: Kinds that rewrite the same fields; at most one of them per record.
EXCLUSIVE_DIRT = ("missing_required", "unknown_town", "pre2021_town", "town_name", "impossible_date")
TOWN_DIRT = ("missing_required", "unknown_town", "pre2021_town")
TOWN_NAME_VARIANTS = ("name", "short", "code9")

# -------------------------------------------------------------- parties

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶程苏魏吕丁沈姚卢姜钟陆汪范金方俞邵钱严戴孔汤"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华建国文辉鹏飞玲红波宇浩晨欣怡婷佳琪俊杭越江"
NAME_STEMS = "天恒鑫瑞华盛远达宏兴泰隆丰源博雅康嘉新锦城佳信诚卓越益峰晟禾良渚径山"
INDUSTRIES = ("科技", "贸易", "建筑工程", "餐饮管理", "物流", "食品", "环保科技", "建材", "机械制造", "电子商务")
SHOPS = ("小吃店", "便利店", "五金店", "理发店", "水果店", "面馆", "汽修店")
ID_REGIONS = ("330110", "330110", "330110", "330106", "330102",
              "330184", "330522", "342401", "410523", "512930")
USCC_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"
USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
ORG_CODE_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)
ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def id_card_check(body17: str) -> str:
    """GB 11643 check character for a 17-digit 身份证 body."""
    return "10X98765432"[sum(int(c) * w for c, w in zip(body17, ID_WEIGHTS)) % 11]


def org_code_check(body8: str) -> str:
    """GB 11714 check character for an 8-character 组织机构代码 body."""
    total = sum((int(c) if c.isdigit() else ord(c) - 55) * w for c, w in zip(body8, ORG_CODE_WEIGHTS))
    c9 = 11 - total % 11
    return {10: "X", 11: "0"}.get(c9, str(c9))


def uscc_check(body17: str) -> str:
    """GB 32100 check character for a 17-character 统一社会信用代码 body."""
    total = sum(USCC_CHARS.index(c) * w for c, w in zip(body17, USCC_WEIGHTS))
    return USCC_CHARS[(31 - total % 31) % 31]


def phone_number(rng: random.Random) -> str:
    return "1" + rng.choice("35789") + "".join(rng.choices("0123456789", k=9))


def make_person(rng: random.Random) -> dict[str, Any]:
    name = rng.choice(SURNAMES) + "".join(rng.choices(GIVEN, k=rng.choice((1, 2, 2))))
    birth = date(1955, 1, 1) + timedelta(days=rng.randrange(365 * 49))
    body = f"{rng.choice(ID_REGIONS)}{birth:%Y%m%d}{rng.randrange(1000):03d}"
    return {"type": "person", "name": name, "idNo": body + id_card_check(body), "phone": phone_number(rng)}


def make_org(rng: random.Random) -> dict[str, Any]:
    stem = "".join(rng.sample(NAME_STEMS, 2))
    if rng.random() < 0.3:  # 个体工商户
        name, kind = f"余杭区{rng.choice(TOWNS).short}{stem}{rng.choice(SHOPS)}", "92"
    else:
        name, kind = f"杭州{stem}{rng.choice(INDUSTRIES)}有限公司", "91"
    org8 = "".join(rng.choices(USCC_CHARS[:10] * 3 + USCC_CHARS[10:], k=8))
    body = f"{kind}330110{org8}{org_code_check(org8)}"
    return {"type": "org", "name": name, "idNo": body + uscc_check(body), "phone": phone_number(rng)}


class PartyPool:
    """A few thousand seeded identities; popular ones recur often.

    Built from the seed alone, so every source of the same seed sees the same
    pool (use ``party_pool(seed)`` to share one instance per process)."""

    def __init__(self, seed: int, persons: int = 3000, orgs: int = 2000) -> None:
        rng = rng_for(seed, "party-pool")
        self.persons = [make_person(rng) for _ in range(persons)]
        self.orgs = [make_org(rng) for _ in range(orgs)]

    def pick(self, rng: random.Random, p_person: float) -> dict[str, Any]:
        pool = self.persons if rng.random() < p_person else self.orgs
        return dict(pool[int(len(pool) * rng.random() ** 2.5)])


@lru_cache(maxsize=8)
def party_pool(seed: int) -> PartyPool:
    """The district's party pool for ``seed`` (one shared, read-only instance)."""
    return PartyPool(seed)


# -------------------------------------------------------------- record helpers


def at_work(d: date, rng: random.Random, earliest_h: float = 8.5, latest_h: float = 18.0) -> datetime:
    """A random working-hours instant on day ``d``."""
    return day_start(d) + timedelta(seconds=rng.randint(int(earliest_h * 3600), int(latest_h * 3600)))


def later(t: datetime, rng: random.Random, lo_min: int, hi_min: int) -> datetime:
    return t + timedelta(minutes=rng.randint(lo_min, hi_min))


def daily_count(rng: random.Random, d: date, per_day: int) -> int:
    """Records created on ``d``: fewer at weekends, +-25% noise."""
    factor = 0.35 if d.weekday() >= 5 else 1.15
    return max(0, round(per_day * factor * rng.uniform(0.75, 1.25)))


def town_value(code: str, form: str) -> str:
    """Render a valid town in a non-canonical but normalisable form."""
    town = town_by_code(code)
    return {"name": town.name, "short": town.short, "code9": code[:9]}[form]


def bad_timestamp(real: str, variant: str) -> str:
    """An impossible timestamp derived from ``real`` (an ISO string)."""
    if variant == "far_future":
        return "2099" + real[4:]
    if variant == "far_past":
        return "1900" + real[4:]
    return real[:4] + "-02-30T10:00:00+08:00"  # bad_calendar


@dataclass
class DirtPlan:
    """Dirt drawn once per record, applied to each of its versions."""

    kinds: list[str]
    variant: str = ""
    value: str = ""

    def has(self, kind: str) -> bool:
        return kind in self.kinds


def apply_town_dirt(payload: dict, plan: DirtPlan) -> list[str]:
    """Town-related dirt shared by all entities; returns applied kinds."""
    if plan.has("missing_required") and plan.variant == "town":
        del payload["townCode"]
        return ["missing_required"]
    if plan.has("unknown_town") or plan.has("pre2021_town"):
        payload["townCode"] = plan.value
        return ["unknown_town" if plan.has("unknown_town") else "pre2021_town"]
    if plan.has("town_name"):
        payload["townCode"] = town_value(payload["townCode"], plan.variant)
        return ["town_name"]
    return []


def draw_plan(profile: DirtProfile, rng: random.Random, allowed: Sequence[str],
              variants: Mapping[str, Sequence[str]], exclusive: Sequence[str] = EXCLUSIVE_DIRT,
              day: date | None = None) -> DirtPlan:
    """Draw a record's dirt kinds (restricted to ``allowed``) and, for the
    kinds in ``variants``, which variant; town dirt also gets its value. Before the split
    (``day``) a 临平 code is valid, so that dirt is an unknown code instead."""
    kinds = [k for k in profile.draw(rng, exclusive) if k in allowed]
    if day is not None and day < SPLIT_DAY:
        kinds = ["unknown_town" if k == "pre2021_town" else k for k in kinds]
    plan = DirtPlan(kinds)
    for kind in kinds:
        if kind in variants:
            plan.variant = rng.choice(variants[kind])
        if kind == "unknown_town":
            plan.value = rng.choice(UNKNOWN_TOWN_CODES)
        elif kind == "pre2021_town":
            plan.value = rng.choice(PRE2021_TOWN_CODES)
    return plan


def finish_record(truth_key: str, states: list[tuple[datetime, dict]], plan: DirtPlan,
                  apply: Callable[[dict, DirtPlan], list[str]], correction_index: int | None,
                  created: date, max_lag_days: int) -> VersionedRecord:
    """Stamp ``updatedAt``, apply dirt to each version state and freeze the
    record.  ``apply`` mutates one payload and returns its dirt kinds (it may
    also return non-dirt truth labels, e.g. ``incomplete_stages``)."""
    versions = []
    for n, (updated_at, payload) in enumerate(states):
        assert (updated_at.date() - created).days <= max_lag_days, "version beyond max lag"
        payload["updatedAt"] = to_iso(updated_at)
        dirt = apply(payload, plan)
        if plan.has(DUPLICATE):
            dirt.append(DUPLICATE)
        if n == correction_index:
            dirt.append("late_correction")
        versions.append(Version(updated_at, payload, tuple(sorted(dirt))))
    return VersionedRecord(truth_key, tuple(versions))


def correction_time(rng: random.Random, last: datetime, created: date, max_lag_days: int) -> datetime | None:
    """5-40 days after ``last``, but never beyond the max lag (None if no room)."""
    day = min(last.date() + timedelta(days=rng.randint(5, 40)), created + timedelta(days=max_lag_days))
    return at_work(day, rng, 9, 17) if day > last.date() else None


# -------------------------------------------------------------- non-HTTP systems


class SourceSystem:
    """The "system" of a source that is not an HTTP API (a drop folder, a
    database) which the simulator process maintains as the world clock moves.

    The server calls ``start`` once (before serving), ``on_clock`` after every
    ``PUT /_sim/clock`` (and periodically while the clock runs in real time),
    merges ``clock_view`` into ``GET/PUT /_sim/clock`` and calls ``close`` on
    shutdown.  ``fault_kinds`` are this system's own fault kinds, appended to
    the shared ones (which it accepts and ignores)."""

    fault_kinds: tuple[str, ...] = ()

    def start(self, state: Any) -> None:
        raise NotImplementedError

    def on_clock(self, now: datetime, options: Mapping[str, Any]) -> None:
        raise NotImplementedError

    def clock_view(self) -> dict[str, Any]:
        return {}

    def close(self) -> None:
        pass


# -------------------------------------------------------------- court referrals
#
# 诉前委派: the district court refers disputes to pre-litigation mediation.
# The referral numbers, dates and parties are a function of the seed alone, so
# the courts source (诉前委派编号 on its cases) and the mediation source
# (a 诉前委派 mediation case with wpbh = that number) agree for the same seed,
# whatever volumes either is configured with.

COURT_CODE = "浙0110"  # 杭州市余杭区人民法院
REFERRALS_PER_DAY = 5

#: (案由 as the court writes it, 案件类型, the mediation system's 纠纷类型)
REFERRAL_CAUSES = (
    ("民间借贷纠纷", "民事", "合同"), ("离婚纠纷", "民事", "婚姻家庭"),
    ("机动车交通事故责任纠纷", "民事", "交通事故"), ("物业服务合同纠纷", "民事", "物业"),
    ("劳动争议", "民事", "劳动争议"), ("相邻关系纠纷", "民事", "邻里"),
    ("健康权纠纷", "民事", "损害赔偿"), ("买卖合同纠纷", "商事", "合同"),
    ("服务合同纠纷", "商事", "合同"), ("承揽合同纠纷", "商事", "合同"),
)
REFERRAL_CAUSE_PICK = Weighted(REFERRAL_CAUSES, (20, 8, 14, 10, 10, 4, 6, 16, 8, 4))


@dataclass(frozen=True)
class Referral:
    """One 诉前委派: the court files it on ``day`` and the mediation
    committee accepts it ``accept_lag`` days later."""

    number: str
    day: date
    cause: str
    case_type: str
    dispute_type: str
    applicant: Mapping[str, Any]
    respondent: Mapping[str, Any]
    town: str
    accept_lag: int


def referral_count(seed: int, d: date) -> int:
    return daily_count(rng_for(seed, "referral-count", d), d, REFERRALS_PER_DAY)


@lru_cache(maxsize=16)
def _referral_offsets(seed: int, year: int) -> tuple[int, ...]:
    """Referrals of ``year`` before each day of it (index = day of year - 1)."""
    offsets, total, d = [], 0, date(year, 1, 1)
    while d.year == year:
        offsets.append(total)
        total += referral_count(seed, d)
        d += timedelta(days=1)
    return tuple(offsets)


@lru_cache(maxsize=512)
def referrals(seed: int, d: date) -> tuple[Referral, ...]:
    """The court's 诉前委派 of day ``d`` (numbered per year, like the court does)."""
    first = _referral_offsets(seed, d.year)[d.timetuple().tm_yday - 1] + 1
    pool = party_pool(seed)
    out = []
    for i in range(referral_count(seed, d)):
        rng = rng_for(seed, "referral", d, i)
        cause, case_type, dispute = REFERRAL_CAUSE_PICK.pick(rng)
        p_person = 0.9 if case_type == "民事" else 0.4
        applicant, respondent = pool.pick(rng, p_person), pool.pick(rng, 0.5)
        if respondent["idNo"] == applicant["idNo"]:
            respondent = pool.pick(rng, 0.5)
        out.append(Referral(f"({d.year}){COURT_CODE}民诉前调{first + i}号", d, cause, case_type, dispute,
                            # the 镇街 as it stands when the referral is accepted (<= 2 days later)
                            applicant, respondent, pick_town(rng, d + timedelta(days=2)).code,
                            rng.choice((0, 0, 1, 1, 2))))
    return tuple(out)
