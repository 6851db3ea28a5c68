"""Airflow plugin: every failed task and DAG run of the platform is recorded in ``audit.alert``
and mailed through the ``smtp_alerts`` connection when there is one.

A listener (Airflow's pluggy hooks) that calls the package; the logic is in ``yhlaw.alerts``.
"""

from __future__ import annotations


from airflow.listeners import hookimpl
from airflow.plugins_manager import AirflowPlugin


class _AlertListener:
    """Hears task and DAG-run failures; writes one PII-free row each through the warehouse
    connection, and a mail."""

    @hookimpl
    def on_task_instance_failed(self, previous_state, task_instance, error):
        from yhlaw.alerts import alert_from_error, notify
        from yhlaw.dag_factory import connection, warehouse_url

        notify(warehouse_url(), alert_from_error(
            "task_failed", task_instance.dag_id, error, task_id=task_instance.task_id,
            run_id=task_instance.run_id, try_number=getattr(task_instance, "try_number", None)), connection)

    @hookimpl
    def on_dag_run_failed(self, dag_run, msg):
        from yhlaw.alerts import alert_from_error, notify
        from yhlaw.dag_factory import connection, warehouse_url

        notify(warehouse_url(), alert_from_error("dag_run_failed", dag_run.dag_id, msg, run_id=dag_run.run_id),
               connection)


alert_listener = _AlertListener()


class YhlawAlertsPlugin(AirflowPlugin):
    name = "yhlaw_alerts"
    listeners = [alert_listener]
