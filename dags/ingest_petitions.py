"""Airflow DAG `ingest_petitions`, built from src/yhlaw/specs/petitions.yaml by the one ingest factory."""

from yhlaw.orchestration import build_ingest_dag

dag = build_ingest_dag("petitions")
