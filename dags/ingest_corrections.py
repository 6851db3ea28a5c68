"""Airflow DAG `ingest_corrections`, built from include/specs/corrections.yaml by the one ingest factory."""

from yhlaw.dag_factory import build_ingest_dag

dag = build_ingest_dag("corrections")
