"""Airflow DAG `ingest_legal_services`, built from include/specs/legal_services.yaml by the one ingest factory."""

from yhlaw.dag_factory import build_ingest_dag

dag = build_ingest_dag("legal_services")
