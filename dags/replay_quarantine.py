"""Airflow DAG `replay_quarantine`: re-validate quarantined records after a fix (manual trigger)."""

from yhlaw.dag_factory import build_replay_dag

dag = build_replay_dag()
