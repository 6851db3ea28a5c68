"""Source-agnostic building blocks for the upstream-system simulators.

A simulated source is a set of *collections* (one per API entity).  Each
collection generates its records day by day, deterministically from a seed,
and every record is a list of versions stamped with ``updated_at``.  A query
asks "which record versions, as visible at the world clock, were last updated
inside [since, until)?" -- exactly what an incremental ingest job asks a real
API.

Nothing in this module knows about any particular source or its fields.
"""

from __future__ import annotations

import hashlib
import random
import threading
from collections import OrderedDict
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
    """The simulator's "now": real time unless pinned to a fixed instant."""

    def __init__(self, fixed: datetime | None = None) -> None:
        self._lock = threading.Lock()
        self._fixed: datetime | None = None
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


FAULT_KINDS = ("5xx", "429", "slow", "truncated", "malformed", "token_expire", "reset")


@dataclass(frozen=True)
class FaultProfile:
    """Per-request probabilities of transport/API faults (at most one per
    request; probabilities must sum to <= 1)."""

    probabilities: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for kind, p in self.probabilities.items():
            if kind not in FAULT_KINDS:
                raise ValueError(f"unknown fault kind {kind!r}; known: {list(FAULT_KINDS)}")
            _probability(p, f"fault {kind}")
        if sum(self.probabilities.values()) > 1.0 + 1e-9:
            raise ValueError("fault probabilities must sum to at most 1")

    @classmethod
    def parse(cls, spec: str) -> FaultProfile:
        spec = (spec or "").strip()
        if spec in ("", "none"):
            return cls({})
        return cls.from_mapping(_parse_probabilities(spec, FAULT_KINDS, "fault"))

    @classmethod
    def from_mapping(cls, mapping: Mapping[str, Any]) -> FaultProfile:
        probs = {str(k): _probability(v, f"fault {k}") for k, v in mapping.items()}
        return cls({k: p for k, p in probs.items() if p > 0})

    def draw(self, rng: random.Random) -> str | None:
        """One uniform draw per call (so arrival order is deterministic)."""
        u = rng.random()
        cumulative = 0.0
        for kind in FAULT_KINDS:
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
    """A simulated upstream system: a name plus its collections by entity."""

    name: str
    collections: dict[str, DailyCollection]
