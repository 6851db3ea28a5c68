"""Operational alerts: failed tasks and DAG runs, and sources that have not loaded on time,
into ``audit.alert`` and by mail, free of PII.

Called by the Airflow listener in ``plugins/yhlaw_alerts.py`` and by the freshness check. A
listener must never make a task fail or hang, so both are best effort: a warehouse or mail
server that cannot be reached is logged (without the message) and that copy is dropped.

Mail goes through the Airflow connection ``smtp_alerts`` (type smtp: host, port, login and
password if the relay wants them; extra ``{"to": [...], "from": "...", "starttls": true}``);
without that connection alerts are only recorded.
"""

from __future__ import annotations

import json
import logging
import re
import smtplib
from dataclasses import dataclass
from email.message import EmailMessage

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
    kind: str                     # task_failed | dag_run_failed | source_stale
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


SMTP_CONNECTION = "smtp_alerts"
KIND_TITLES = {"task_failed": "任务失败", "dag_run_failed": "DAG 运行失败", "source_stale": "数据源未按时入库"}
SMTP_TIMEOUT = 10


def mail_text(alert: Alert) -> tuple[str, str]:
    """Subject and body of the alert's mail: identifiers and the scrubbed message only."""
    subject = f"[余杭数字法治数据平台] {KIND_TITLES.get(alert.kind, alert.kind)}: {alert.dag_id}" + (
        f".{alert.task_id}" if alert.task_id else "")
    fields = [("类型 kind", alert.kind), ("DAG", alert.dag_id), ("任务 task", alert.task_id),
              ("运行 run", alert.run_id), ("尝试 try", alert.try_number), ("异常 error", alert.error_type),
              ("信息 message", alert.message)]
    body = "\n".join(f"{name}: {value}" for name, value in fields if value is not None)
    return subject, body + "\n\n详情见 audit.alert 与 Airflow 任务日志 (details: audit.alert, the task log).\n"


def send_mail(connection, alert: Alert) -> bool:
    """Send the alert through an Airflow SMTP connection; False if it is not configured or fails."""
    extra = json.loads(connection.extra or "{}") if isinstance(connection.extra, str) else (connection.extra or {})
    recipients = extra.get("to") or []
    if isinstance(recipients, str):
        recipients = [r.strip() for r in recipients.split(",") if r.strip()]
    if not connection.host or not recipients:
        return False
    message = EmailMessage()
    message["Subject"], body = mail_text(alert)
    message["From"] = extra.get("from", "yhlaw-airflow@localhost")
    message["To"] = ", ".join(recipients)
    message.set_content(body)
    try:
        with smtplib.SMTP(connection.host, int(connection.port or 25), timeout=SMTP_TIMEOUT) as smtp:
            if extra.get("starttls"):
                smtp.starttls()
            if connection.login:
                smtp.login(connection.login, connection.password or "")
            smtp.send_message(message)
        return True
    except (OSError, smtplib.SMTPException) as exc:
        log.warning("alert mail for %s/%s not sent: %s", alert.dag_id, alert.task_id, type(exc).__name__)
        return False


def notify(url: str, alert: Alert, get_connection) -> None:
    """Record the alert and mail it (``get_connection(conn_id)``: Airflow's lookup)."""
    record(url, alert)
    try:
        connection = get_connection(SMTP_CONNECTION)
    except Exception:   # no such connection: alerts are only recorded
        return
    send_mail(connection, alert)
