"""Airflow DAG `ingest_courts`, built from src/yhlaw/specs/courts.yaml by the one ingest factory."""

from yhlaw.orchestration import build_ingest_dag

dag = build_ingest_dag("courts")
