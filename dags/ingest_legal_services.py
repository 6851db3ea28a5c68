"""Airflow DAG `ingest_legal_services`, built from src/yhlaw/specs/legal_services.yaml by the one ingest factory."""

from yhlaw.orchestration import build_ingest_dag

dag = build_ingest_dag("legal_services")
