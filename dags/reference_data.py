"""Airflow DAG `reference_data`: the versioned seed files in reference/ into core (one factory)."""

from yhlaw.dag_factory import build_reference_dag

dag = build_reference_dag()
