"""Airflow plugin: every failed task and DAG run of the platform is recorded in ``audit.alert``.

A listener (Airflow's pluggy hooks) that calls the package; the logic is in ``yhlaw.alerts``.
"""

from __future__ import annotations


from airflow.listeners import hookimpl
from airflow.plugins_manager import AirflowPlugin


class _AlertListener:
    """Hears task and DAG-run failures; writes one PII-free row each through the warehouse
    connection."""

    @hookimpl
    def on_task_instance_failed(self, previous_state, task_instance, error):
        from yhlaw.alerts import alert_from_error, record
        from yhlaw.dag_factory import warehouse_url

        record(warehouse_url(), alert_from_error(
            "task_failed", task_instance.dag_id, error, task_id=task_instance.task_id,
            run_id=task_instance.run_id, try_number=getattr(task_instance, "try_number", None)))

    @hookimpl
    def on_dag_run_failed(self, dag_run, msg):
        from yhlaw.alerts import alert_from_error, record
        from yhlaw.dag_factory import warehouse_url

        record(warehouse_url(), alert_from_error("dag_run_failed", dag_run.dag_id, msg, run_id=dag_run.run_id))


alert_listener = _AlertListener()


class YhlawAlertsPlugin(AirflowPlugin):
    name = "yhlaw_alerts"
    listeners = [alert_listener]
