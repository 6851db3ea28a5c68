"""Airflow DAG `ingest_gov_service`, built from include/specs/gov_service.yaml by the one ingest factory."""

from yhlaw.dag_factory import build_ingest_dag

dag = build_ingest_dag("gov_service")
