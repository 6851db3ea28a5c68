"""Freshness: has every source loaded the intervals that should be in by now?

An entity is stale at ``as_of`` when no loaded batch (``audit.batch``) covers the interval that
is due: the latest schedule interval that ended at least the spec's ``fresh_within_minutes``
before ``as_of``. (A gap behind a later load is stale too: a backfill that skipped a day.) The ``check_freshness`` DAG runs this at 06:15, before the 06:30
indicator run, and raises a ``source_stale`` alert per stale entity (``audit.alert`` and mail);
the alert names source, entity and instants, nothing from a record.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from croniter import croniter

from yhlaw.spec import SourceSpec
from yhlaw.zone import DISTRICT_TZ


@dataclass(frozen=True)
class Staleness:
    source: str
    entity: str
    expected_end: datetime              # this interval end should be loaded by now
    last_loaded_end: datetime | None    # the latest loaded interval's end (None: never loaded)

    @property
    def message(self) -> str:
        last = self.last_loaded_end.isoformat() if self.last_loaded_end else "never"
        return (f"{self.source}.{self.entity}: interval ending {self.expected_end.isoformat()} not loaded "
                f"(last loaded interval ends {last})")


def due_interval_end(spec: SourceSpec, as_of: datetime) -> datetime:
    """The latest schedule point that is ``fresh_within_minutes`` or more before ``as_of``."""
    tz = ZoneInfo(spec.schedule.get("timezone", DISTRICT_TZ))
    cutoff = (as_of - timedelta(minutes=spec.fresh_within_minutes)).astimezone(tz)
    itr = croniter(spec.schedule["cron"], cutoff + timedelta(microseconds=1))
    return itr.get_prev(datetime)


def stale_entities(cur, specs: list[SourceSpec], as_of: datetime) -> list[Staleness]:
    """Every entity of ``specs`` whose due interval is not loaded at ``as_of``."""
    out = []
    for spec in specs:
        due = due_interval_end(spec, as_of)
        cur.execute("""SELECT entity, bool_or(interval_start < %(due)s AND interval_end >= %(due)s),
                              max(interval_end)
                       FROM audit.batch WHERE source = %(source)s AND status = 'loaded' GROUP BY 1""",
                    {"due": due, "source": spec.name})
        loaded = {entity: (covered, last) for entity, covered, last in cur.fetchall()}
        for name in spec.entities:
            covered, last = loaded.get(name, (False, None))
            if not covered:
                out.append(Staleness(spec.name, name, due, last))
    return out
