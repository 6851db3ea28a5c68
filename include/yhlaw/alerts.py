"""Operational alerts: failed tasks and DAG runs into ``audit.alert``, free of PII.

Called by the Airflow listener in ``plugins/yhlaw_alerts.py``. A listener must never make a
task fail or hang, so recording is best effort: a warehouse that cannot be reached is logged
(without the message) and the alert is dropped.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

log = logging.getLogger(__name__)

MAX_MESSAGE = 300
# Runs of 11 or more digits (with an optional check letter): ID numbers (15/18), mobile numbers
# (11), bank cards. Shorter runs are what names a place: the date and time in a batch id
# (20220228T1600), a line or a count; a 12-digit town code is masked too, which an operator can
# read from the batch instead.
_DIGIT_RUN = re.compile(r"(?<!\d)\d{11,}[Xx]?(?![\dA-Za-z])")


def scrub(text: str | None) -> str | None:
    """The first line of a message, long digit runs masked, at most MAX_MESSAGE characters."""
    if not text:
        return None
    first = str(text).strip().splitlines()[0] if str(text).strip() else ""
    return _DIGIT_RUN.sub("******", first)[:MAX_MESSAGE] or None


@dataclass(frozen=True)
class Alert:
    kind: str                     # task_failed | dag_run_failed
    dag_id: str
    task_id: str | None = None
    run_id: str | None = None
    try_number: int | None = None
    error_type: str | None = None
    message: str | None = None


def alert_from_error(kind: str, dag_id: str, error: BaseException | str | None, **ids) -> Alert:
    error_type = type(error).__name__ if isinstance(error, BaseException) else None
    return Alert(kind, dag_id, error_type=error_type, message=scrub(str(error) if error else None), **ids)


def record(url: str, alert: Alert) -> bool:
    """Insert the alert; False (and a log line without the message) if the warehouse refuses."""
    from yhlaw.warehouse import transaction

    try:
        with transaction(url) as conn, conn.cursor() as cur:
            cur.execute(
                """INSERT INTO audit.alert (kind, dag_id, task_id, run_id, try_number, error_type, message)
                   VALUES (%s, %s, %s, %s, %s, %s, %s)""",
                (alert.kind, alert.dag_id, alert.task_id, alert.run_id, alert.try_number, alert.error_type,
                 alert.message))
        return True
    except Exception as exc:   # never let an alert take a task down with it
        log.warning("alert for %s/%s not recorded: %s", alert.dag_id, alert.task_id, type(exc).__name__)
        return False
