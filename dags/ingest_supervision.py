"""Airflow DAG `ingest_supervision`, built from include/specs/supervision.yaml by the one ingest factory."""

from yhlaw.dag_factory import build_ingest_dag

dag = build_ingest_dag("supervision")
