"""Airflow DAG `ingest_ledgers`, built from src/yhlaw/specs/ledgers.yaml by the one ingest factory."""

from yhlaw.orchestration import build_ingest_dag

dag = build_ingest_dag("ledgers")
