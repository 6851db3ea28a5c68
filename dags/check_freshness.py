"""Airflow DAG `check_freshness`: at 06:15, an alert for every source that has not loaded its due interval."""

from yhlaw.dag_factory import build_freshness_dag

dag = build_freshness_dag()
