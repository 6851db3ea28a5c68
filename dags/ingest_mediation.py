"""Airflow DAG `ingest_mediation`, built from src/yhlaw/specs/mediation.yaml by the one ingest factory."""

from yhlaw.orchestration import build_ingest_dag

dag = build_ingest_dag("mediation")
