"""One simulated population whose disputes move between the district's systems (issue #17).

Petitions (信访), people's mediation (人民调解) and the court (诉讼, 执行, 失信, 破产) serve the
records of the same **disputes** here: a dispute starts on a day and moves through the systems
with the probabilities and delays below, carrying the explicit link keys a real system records
(the petition number on a 信访转办 mediation, the court's 民诉前调 number on a 诉前委派 mediation
and on the 民初 case filed after it failed, the 调解案件编号 on a 司法确认 (民特), the 执行依据案号
on an 执 case, the 执 number on a 执转破 破申) -- sometimes missing or mistyped, as in life.

Paths (字号 as the court writes them)::

    信访 ─(转办)→ 调解 ─(不成功)→ 诉前调 (民诉前调) → 调解 (诉前委派) ─(不成功)→ 民初 (filed after it)
                    └(成功)→ 民特 (司法确认, some)         └(成功)→ 民特 (some), no 民初
    民初 (判决/调解, not performed) → 执 (执行依据案号) → 失信 → 破申 (执转破, debtor an org)
    信访 ─→ 重复信访 by the same person (more often when the dispute was not resolved)

Disputes also start directly at a mediation committee (当事人申请/主动排查), at the court's
referral desk (诉前委派 at filing) or as a 民初 filed at once.

**Deterministic and per-day computable.** Disputes are generated per start-day *cohort*
(``rng_for(seed, "dispute", d)``); every step of a dispute falls within ``MAX_DELAY`` days of its
start, so the steps a system serves on day d come from cohorts d-MAX_DELAY..d (cached). Keys are
the world's own: the i-th petition of the world on day d is ``YHXF{d}{i:05d}``, the i-th mediation
case ``YHTJ{d}{i:05d}`` (the simulators number their other, single-system records after these),
and the court numbers 民初, 民特, 民诉前调, 执 and 破申 per year in sequences of the world alone
(its other cases -- 刑初, 行初, 民终, 民督 -- are the courts simulator's own).

**Ground truth** (``World.truth``): every dispute's ordered steps with system, kind, record key,
day, end, outcome, its clean and served link keys and all its parties with roles. For tests and
oracles only: no simulator serves it.

Rates (chosen; the nominal per-day figures are before the weekday factor of ``daily_count``):

* Disputes starting per day: 8 with a petition, 5 at a committee, 5 at the court's 诉前委派
  desk, 32 filed at once (民初). With what follows from them the world serves about 12
  petitions, 13 mediation cases and 43 court cases (民初, 民特, 执, 破申) a day; each
  simulator fills its configured volume (SIM_*_PER_DAY) with records of its own, numbered
  after the world's, so the default volumes stay as they were.

* 诉前调解成功率 (诉前委派 mediations ending 成功) 0.45 -- the brief's 30-60% for Zhejiang courts;
  the Zhejiang reports below describe 诉前化解 around or above half of the filings in the best
  courts; 人民调解 straight at a committee ends 成功 0.90 (the national 人民调解 statistics report
  over 95%; a register with failures in it is more useful), a 信访转办 mediation 0.75.
* 信访转调解: 0.40 of petitions about a dispute between parties are handed to a committee
  (信访转办); of the rest 0.15 end up at the court's 诉前委派 desk.
* After a failed committee mediation: 0.55 go to the court and are referred (诉前调), 0.15 are
  filed at once (民初). After a failed 诉前调: 0.85 are filed (民初) 1-10 days after it closed.
* 司法确认: 0.30 of successful 诉前调 agreements, 0.10 of other successful mediations.
* 民初: 0.12 still open after 90 days; closed by 判决 40 / 调解 32 / 撤诉 18 / 驳回 5 / 裁定 5;
  a 判决/调解 with a payment (0.85) is performed without 执行 in 0.55 (自动履行率; Zhejiang's
  reports put it around half), else an 执 case 20-120 days after closing; 0.10 of 民特 likewise.
* 执: 0.30 end in a 失信 listing 15-80 days after filing (终本); 0.08 of listed orgs go to 破申.
* 重复信访: an unresolved petition is repeated by the same person 7-90 days later with 0.5
  (and once more with 0.4), a resolved one with 0.1.

Sources for the picture (not for exact figures, which no public source gives per district):
浙江高院《“社会调解优先, 法院诉讼断后”》(cdfy.scssfw.gov.cn/article/detail/2018/11/id/3585880.shtml),
湖州中院 诉源治理调研 (chinacourt.org/article/detail/2021/07/id/6174127.shtml: 诉前化解率 =
诉前调成功案件数 / 一审民商事收案数), 《通过诉前调解控制“诉讼爆炸”》(清华法学 2020(4)).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import lru_cache
from typing import Any, Iterator

from .framework import (
    COURT_CODE,
    CURRENT_TOWN_CODES,
    SPLIT_DAY,
    Weighted,
    daily_count,
    make_org,
    make_person,
    party_pool,
    pick_town,
    rng_for,
)

# ------------------------------------------------------------------ rates

PETITION_DISPUTES_PER_DAY = 8
MEDIATION_DISPUTES_PER_DAY = 5
REFERRAL_DISPUTES_PER_DAY = 5
COURT_DISPUTES_PER_DAY = 32
ORIGINS = (("信访", PETITION_DISPUTES_PER_DAY), ("调解", MEDIATION_DISPUTES_PER_DAY),
           ("诉前委派", REFERRAL_DISPUTES_PER_DAY), ("诉讼", COURT_DISPUTES_PER_DAY))

P_PETITION_TO_MEDIATION = 0.40
P_PETITION_TO_REFERRAL = 0.15
P_SUCCESS = {"信访转办": 0.75, "当事人申请": 0.90, "主动排查": 0.90, "诉前委派": 0.45}
P_MEDIATION_OPEN = 0.02
P_FAILED_TO_REFERRAL, P_FAILED_TO_FILING = 0.55, 0.15
P_REFERRAL_FAILED_FILED = 0.85
P_CONFIRM = {"诉前委派": 0.30}
P_CONFIRM_OTHER = 0.10
P_CIVIL_OPEN = 0.12
CIVIL_CLOSING = Weighted(("判决", "调解", "撤诉", "驳回", "裁定"), (40, 32, 18, 5, 5))
P_PAYMENT, P_PERFORMED = 0.85, 0.55
P_CONFIRMED_EXECUTED = 0.10
P_DISHONEST, P_BANKRUPTCY = 0.30, 0.08
P_REPEAT_UNRESOLVED, P_REPEAT_RESOLVED, P_REPEAT_AGAIN = 0.5, 0.1, 0.4

#: Every step of a dispute falls within this many days of its start (asserted when generated).
MAX_DELAY = 520

#: Link dirt (real: 信访转办 often recorded without the petition number).
LINK_DIRT = {"信访件编号": (0.15, 0.03), "诉前调案号": (0.05, 0.03), "调解案件编号": (0.10, 0.03),
             "执行依据案号": (0.05, 0.03), "原案号": (0.05, 0.03)}

# ------------------------------------------------------------------ what disputes are about


@dataclass(frozen=True)
class Cause:
    """A kind of dispute as each system names it, who the parties usually are, its weights."""

    court: str          # 案由
    case_type: str      # 民事 / 商事
    mediation: str      # the mediation system's 纠纷类型
    petition: str       # the petition system's 内容分类
    p_person_a: float   # applicant / plaintiff a person
    p_person_b: float   # respondent / defendant a person
    weight: int         # at the court and the committees
    petition_weight: int


CAUSES = (
    Cause("民间借贷纠纷", "民事", "合同", "涉法涉诉", 0.9, 0.85, 20, 10),
    Cause("离婚纠纷", "民事", "婚姻家庭", "其他", 1.0, 1.0, 8, 6),
    Cause("机动车交通事故责任纠纷", "民事", "交通事故", "其他", 1.0, 0.7, 14, 4),
    Cause("物业服务合同纠纷", "民事", "物业", "城乡建设", 0.1, 1.0, 10, 14),
    Cause("劳动争议", "民事", "劳动争议", "劳动社保", 1.0, 0.1, 10, 24),
    Cause("相邻关系纠纷", "民事", "邻里", "农村农业", 1.0, 1.0, 4, 12),
    Cause("健康权纠纷", "民事", "损害赔偿", "其他", 1.0, 0.8, 6, 4),
    Cause("房屋租赁合同纠纷", "民事", "房屋宅基地", "城乡建设", 0.7, 0.8, 4, 6),
    Cause("买卖合同纠纷", "商事", "合同", "其他", 0.3, 0.4, 16, 2),
    Cause("服务合同纠纷", "商事", "合同", "其他", 0.4, 0.4, 8, 2),
)
COURT_CAUSE = Weighted(CAUSES, [c.weight for c in CAUSES])
PETITION_CAUSE = Weighted(CAUSES, [c.petition_weight for c in CAUSES])

#: Roles of the dispute's parties (A, B, the second respondent C) in each kind of record.
ROLES = {
    "信访": ("信访人", "被反映人", "被反映人"), "重复信访": ("信访人", "被反映人", "被反映人"),
    "调解": ("申请人", "被申请人", "被申请人"), "诉前调": ("原告", "被告", "被告"),
    "民初": ("原告", "被告", "被告"), "民特": ("申请人", "申请人", "申请人"),
    "执": ("申请执行人", "被执行人", "被执行人"), "失信": (None, "被执行人", None),
    "破申": ("申请人", "被申请人", None),
}
SYSTEM = {"信访": "petitions", "重复信访": "petitions", "调解": "mediation", "诉前调": "courts", "民初": "courts",
          "民特": "courts", "执": "courts", "失信": "courts", "破申": "courts"}
SYSTEM_KINDS = {"petitions": ("信访", "重复信访"), "mediation": ("调解",), "courts": ("民初", "民特", "执", "破申"),
                "dishonest": ("失信",)}
BLOCK = 32   # days whose steps are collected together (one pass over the cohorts that reach them)
#: 字号 numbered per year by the world (失信 has its own listing numbers).
COURT_SEQUENCES = ("民初", "民特", "诉前调", "执", "破申")

# ------------------------------------------------------------------ population


class Population:
    """The district's people and organisations for a seed.

    The shared ``PartyPool`` (the frequent parties every simulator draws from) plus residents
    and firms made on demand from their index (``rng_for(seed, "resident"|"firm", i)``), so
    the population is large (people rarely meet the same stranger in two disputes) yet cheap."""

    PERSONS, ORGS = 60000, 12000

    def __init__(self, seed: int) -> None:
        self.seed, self.pool = seed, party_pool(seed)
        self.person = lru_cache(maxsize=100000)(self._person)
        self.org = lru_cache(maxsize=30000)(self._org)

    def _person(self, i: int) -> dict[str, Any]:
        return self.pool.persons[i] if i < len(self.pool.persons) else make_person(rng_for(self.seed, "resident", i))

    def _org(self, i: int) -> dict[str, Any]:
        return self.pool.orgs[i] if i < len(self.pool.orgs) else make_org(rng_for(self.seed, "firm", i))

    def pick(self, rng: random.Random, p_person: float) -> tuple[str, int]:
        """A person (or org) as ("person"|"org", index): a quarter (half) from the frequent
        parties, the rest anyone. ``get`` makes the identity (only when it is served)."""
        if rng.random() < p_person:
            kind, frequent, n, size = "person", 0.25, self.PERSONS, len(self.pool.persons)
        else:
            kind, frequent, n, size = "org", 0.5, self.ORGS, len(self.pool.orgs)
        return kind, int(size * rng.random() ** 2.5) if rng.random() < frequent else rng.randrange(n)

    def get(self, ref: tuple[str, int]) -> dict[str, Any]:
        return dict(self.person(ref[1]) if ref[0] == "person" else self.org(ref[1]))

    def identities(self) -> Iterator[dict[str, Any]]:
        """Everyone (slow-ish: tests only)."""
        yield from (self.person(i) for i in range(self.PERSONS))
        yield from (self.org(i) for i in range(self.ORGS))


# ------------------------------------------------------------------ disputes


@dataclass(frozen=True)
class Step:
    """One record of a dispute in one system. ``links``: the keys of earlier steps it carries,
    by link name -> index of that step in the dispute. ``source``: a mediation's 案件来源."""

    dispute: str
    n: int
    kind: str
    day: date
    end: date | None = None
    outcome: str | None = None
    links: tuple[tuple[str, int], ...] = ()
    source: str = ""
    served: bool = True   # 诉前调 has a number but no record in any simulated system

    @property
    def system(self) -> str:
        return SYSTEM[self.kind]


@dataclass(frozen=True)
class Dispute:
    id: str
    start: date
    origin: str
    cause: Cause
    town: str
    parties: tuple[tuple[str, int], ...]   # A (applicant/plaintiff/petitioner), B (respondent), maybe C
    steps: tuple[Step, ...]


@dataclass
class _Chain:
    """Builds one dispute's steps (``rng`` is the cohort's)."""

    dispute: str
    rng: random.Random
    town: str
    debtor_is_org: bool
    steps: list[Step] = field(default_factory=list)

    def add(self, kind: str, day: date, **kw: Any) -> int | None:
        # After the split a 镇街 that left is 临平区's: its systems, not ours, see the rest.
        if day >= SPLIT_DAY and self.town not in CURRENT_TOWN_CODES:
            return None
        self.steps.append(Step(self.dispute, len(self.steps), kind, day, **kw))
        return len(self.steps) - 1

    def mediate(self, source: str, day: date, referral: int | None = None) -> bool:
        """A committee's case; returns whether it ended 成功."""
        rng = self.rng
        links = self._link("信访件编号", 0) if source == "信访转办" else self._link("诉前调案号", referral)
        if rng.random() < P_MEDIATION_OPEN:
            self.add("调解", day, source=source, links=links)
            return False
        end, success = day + timedelta(days=rng.randint(1, 30)), rng.random() < P_SUCCESS[source]
        n = self.add("调解", day, end=end, outcome="成功" if success else "不成功", source=source, links=links)
        if n is None:
            return False
        if success:
            if rng.random() < P_CONFIRM.get(source, P_CONFIRM_OTHER):
                filed = end + timedelta(days=rng.randint(1, 20))
                m = self.add("民特", filed, end=filed + timedelta(days=rng.randint(0, 10)), outcome="裁定",
                             links=self._link("调解案件编号", n))
                if m is not None and rng.random() < P_CONFIRMED_EXECUTED:
                    self.execute(m, self.steps[m].end + timedelta(days=rng.randint(20, 60)))
            return True
        if source == "诉前委派":
            if rng.random() < P_REFERRAL_FAILED_FILED:
                self.civil(end + timedelta(days=rng.randint(1, 10)), referral)
            return False
        r = rng.random()
        if r < P_FAILED_TO_REFERRAL:
            self.refer(end + timedelta(days=rng.randint(3, 20)))
        elif r < P_FAILED_TO_REFERRAL + P_FAILED_TO_FILING:
            self.civil(end + timedelta(days=rng.randint(5, 30)))
        return False

    def refer(self, day: date) -> bool:
        """诉前委派: the court numbers the referral (民诉前调) and a committee accepts it."""
        n = self.add("诉前调", day, served=False)
        if n is None:
            return False
        return self.mediate("诉前委派", day + timedelta(days=self.rng.choice((0, 0, 1, 1, 2))), n)

    def civil(self, day: date, referral: int | None = None) -> None:
        rng = self.rng
        if rng.random() < P_CIVIL_OPEN:
            self.add("民初", day, links=self._link("诉前调案号", referral))
            return
        manner = CIVIL_CLOSING.pick(rng)
        end = day + timedelta(days=rng.randint(3, 30) if manner == "撤诉" else rng.randint(10, 90))
        n = self.add("民初", day, end=end, outcome=manner, links=self._link("诉前调案号", referral))
        if n is not None and manner in ("判决", "调解") and rng.random() < P_PAYMENT \
                and rng.random() >= P_PERFORMED:
            self.execute(n, end + timedelta(days=rng.randint(20, 120)))

    def execute(self, basis: int, day: date) -> None:
        rng = self.rng
        if rng.random() < P_DISHONEST:
            listed = day + timedelta(days=rng.randint(15, 80))
            n = self.add("执", day, end=min(listed + timedelta(days=rng.randint(0, 10)), day + timedelta(days=90)),
                         outcome="裁定", links=self._link("执行依据案号", basis))
            if n is None or self.add("失信", listed, links=(("执行案号", n),)) is None:
                return
            if self.debtor_is_org and rng.random() < P_BANKRUPTCY:
                filed = listed + timedelta(days=rng.randint(30, 120))
                self.add("破申", filed, end=filed + timedelta(days=rng.randint(10, 60)), outcome="裁定",
                         links=self._link("原案号", n))
            return
        closed = rng.random() < 0.8
        self.add("执", day, end=day + timedelta(days=rng.randint(20, 90)) if closed else None,
                 outcome=("执行完毕" if rng.random() < 0.7 else "裁定") if closed else None,
                 links=self._link("执行依据案号", basis))

    def repeats(self, first: date, resolved: bool) -> None:
        rng = self.rng
        if rng.random() >= (P_REPEAT_RESOLVED if resolved else P_REPEAT_UNRESOLVED):
            return
        day = first + timedelta(days=rng.randint(7, 90))
        self.add("重复信访", day)
        if rng.random() < P_REPEAT_AGAIN:
            self.add("重复信访", day + timedelta(days=rng.randint(7, 90)))

    @staticmethod
    def _link(name: str, n: int | None) -> tuple[tuple[str, int], ...]:
        return () if n is None else ((name, n),)


# ------------------------------------------------------------------ the world


class World:
    """Disputes of a seed, their steps by system and day, keys and ground truth."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self.population = Population(seed)
        self.cohort = lru_cache(maxsize=2048)(self._cohort)
        self._block = lru_cache(maxsize=64)(self._block_index)
        self._order = lru_cache(maxsize=4096)(self._records_on)
        self._offsets = lru_cache(maxsize=64)(self._year_offsets)

    # -- generation -----------------------------------------------------------
    def _cohort(self, d: date) -> tuple[Dispute, ...]:
        """The disputes that start on ``d``."""
        rng, out = rng_for(self.seed, "dispute", d), []
        for origin, rate in ORIGINS:
            for _ in range(daily_count(rng_for(self.seed, "dispute-count", origin, d), d, rate)):
                out.append(self._dispute(rng, d, f"D{d:%Y%m%d}{len(out):03d}", origin))
        return tuple(out)

    def _dispute(self, rng: random.Random, d: date, ident: str, origin: str) -> Dispute:
        cause = (PETITION_CAUSE if origin == "信访" else COURT_CAUSE).pick(rng)
        town = pick_town(rng, d).code
        a = self.population.pick(rng, 1.0 if origin == "信访" else cause.p_person_a)
        b = self.population.pick(rng, cause.p_person_b)
        while b == a:
            b = self.population.pick(rng, cause.p_person_b)
        parties = (a, b)
        if cause.mediation == "交通事故" and rng.random() < 0.5:  # the insurer is sued with the driver
            parties += (self.population.pick(rng, 0.0),)
        chain = _Chain(ident, rng, town, b[0] == "org")
        if origin == "信访":
            chain.add("信访", d)
            resolved = False
            if rng.random() < P_PETITION_TO_MEDIATION:
                resolved = chain.mediate("信访转办", d + timedelta(days=rng.randint(2, 15)))
            elif rng.random() < P_PETITION_TO_REFERRAL:
                chain.refer(d + timedelta(days=rng.randint(10, 60)))
            chain.repeats(d, resolved)
        elif origin == "调解":
            chain.mediate("当事人申请" if rng.random() < 2 / 3 else "主动排查", d)
        elif origin == "诉前委派":
            chain.refer(d)
        else:
            chain.civil(d)
        steps = tuple(sorted(chain.steps, key=lambda s: s.n))
        assert all((s.day - d).days <= MAX_DELAY and (s.end is None or (s.end - d).days <= MAX_DELAY)
                   for s in steps), "a step beyond MAX_DELAY"
        return Dispute(ident, d, origin, cause, town, parties, steps)

    def _block_index(self, block: int) -> dict[tuple[str, date], tuple[Step, ...]]:
        """Steps dated in block ``block`` (BLOCK days from ordinal block * BLOCK) by (kind, day),
        in the world's order (dispute id, step): from the cohorts that can reach them."""
        first = date.fromordinal(block * BLOCK)
        last = first + timedelta(days=BLOCK - 1)
        index: dict[tuple[str, date], list[Step]] = {}
        d = first - timedelta(days=MAX_DELAY)
        while d <= last:
            for dispute in self.cohort(d):
                for step in dispute.steps:
                    if first <= step.day <= last:
                        index.setdefault((step.kind, step.day), []).append(step)
            d += timedelta(days=1)
        return {k: tuple(v) for k, v in index.items()}   # cohorts come in order: already sorted

    def steps_on(self, kind: str, d: date) -> tuple[Step, ...]:
        """Steps of ``kind`` dated ``d``, in the world's order (dispute id, step)."""
        return self._block(d.toordinal() // BLOCK).get((kind, d), ())

    def records_on(self, system: str, d: date) -> tuple[Step, ...]:
        """The served records of ``system`` made on ``d``: petitions registered, mediation cases
        accepted, court cases filed (``民初``, ``民特``, ``执``, ``破申``) or 失信 listed."""
        return self._order(system, d)

    def _records_on(self, system: str, d: date) -> tuple[Step, ...]:
        steps = [s for k in SYSTEM_KINDS[system] for s in self.steps_on(k, d) if s.served]
        return tuple(sorted(steps, key=lambda s: (s.dispute, s.n)))

    def index_of(self, step: Step) -> int:
        """The step's position among its system's records of its day (or its 字号's)."""
        system = "dishonest" if step.kind == "失信" else step.system
        group = self.steps_on(step.kind, step.day) if system == "courts" else self.records_on(system, step.day)
        return next(i for i, s in enumerate(group) if s.dispute == step.dispute and s.n == step.n)

    def dispute(self, ident: str) -> Dispute:
        start = date(int(ident[1:5]), int(ident[5:7]), int(ident[7:9]))
        return self.cohort(start)[int(ident[9:])]

    def step(self, ref: Step, n: int) -> Step:
        return self.dispute(ref.dispute).steps[n]

    # -- keys -----------------------------------------------------------------
    def key(self, step: Step) -> str:
        """The record key the step's system gives it."""
        d, i = step.day, self.index_of(step)
        if step.kind in ("信访", "重复信访"):
            return f"YHXF{d:%Y%m%d}{i:05d}"
        if step.kind == "调解":
            return f"YHTJ{d:%Y%m%d}{i:05d}"
        if step.kind == "失信":
            return f"SX330110{d:%Y%m%d}{i + 1:04d}"
        seq = self._offsets(d.year, step.kind)[d.timetuple().tm_yday - 1] + i + 1
        word = "民诉前调" if step.kind == "诉前调" else step.kind
        return f"({d.year}){COURT_CODE}{word}{seq}号"

    def _year_offsets(self, year: int, kind: str) -> tuple[int, ...]:
        """How many ``kind`` the court numbered in ``year`` before each day of it."""
        out, total, d = [], 0, date(year, 1, 1)
        while d.year == year:
            out.append(total)
            total += len(self.steps_on(kind, d))
            d += timedelta(days=1)
        return tuple(out)

    def links(self, step: Step) -> dict[str, tuple[str, str | None]]:
        """Link name -> (the clean key, the key as served: None when missing, maybe mistyped)."""
        out = {}
        for name, n in step.links:
            clean = self.key(self.step(step, n))
            missing, mistyped = LINK_DIRT.get(name, (0.0, 0.0))
            rng = rng_for(self.seed, "link", step.dispute, step.n, name)
            u = rng.random()
            served = None if u < missing else (_mistype(rng, clean) if u < missing + mistyped else clean)
            out[name] = (clean, served)
        return out

    def parties(self, step: Step) -> list[tuple[str, dict]]:
        """(role, identity) of every party the step's record names, in the dispute's order."""
        dispute = self.dispute(step.dispute)
        return [(role, self.population.get(p)) for role, p in zip(ROLES[step.kind], dispute.parties) if role]

    # -- truth ----------------------------------------------------------------
    def truth(self, first: date, last: date) -> list[dict[str, Any]]:
        """Every dispute that started in [first, last], with its path (never served)."""
        out, d = [], first
        while d <= last:
            out.extend(self.truth_of(x) for x in self.cohort(d))
            d += timedelta(days=1)
        return out

    def truth_of(self, dispute: Dispute) -> dict[str, Any]:
        def step_view(s: Step) -> dict[str, Any]:
            links = self.links(s)
            return {"n": s.n, "system": s.system, "kind": s.kind, "key": self.key(s), "served": s.served,
                    "day": s.day.isoformat(), "end": s.end.isoformat() if s.end else None, "outcome": s.outcome,
                    "source": s.source or None, "links": {k: v[0] for k, v in links.items()},
                    "served_links": {k: v[1] for k, v in links.items()},
                    "parties": [{"role": r, "type": p["type"], "idNo": p["idNo"]} for r, p in self.parties(s)]}
        return {"dispute": dispute.id, "start": dispute.start.isoformat(), "origin": dispute.origin,
                "cause": dispute.cause.court, "town": dispute.town,
                "parties": [{"type": p["type"], "idNo": p["idNo"]} for p in map(self.population.get, dispute.parties)],
                "steps": [step_view(s) for s in dispute.steps]}


def _mistype(rng: random.Random, key: str) -> str:
    """A key as a clerk might retype it: full-width brackets, a wrong digit, a stray space."""
    variant = rng.choice(("fullwidth", "digit", "space")) if "(" in key else rng.choice(("digit", "space"))
    if variant == "fullwidth":
        return key.replace("(", "（").replace(")", "）")
    if variant == "space":
        return key[:4] + " " + key[4:]
    digits = [i for i, c in enumerate(key) if c.isdigit()]
    i = digits[-1 - rng.randrange(min(3, len(digits)))]
    return key[:i] + str((int(key[i]) + rng.randint(1, 9)) % 10) + key[i + 1:]


@lru_cache(maxsize=4)
def world(seed: int) -> World:
    """The world of ``seed`` (one shared instance per process)."""
    return World(seed)
