"""Airflow DAG `ingest_courts`, built from include/specs/courts.yaml by the one ingest factory."""

from yhlaw.dag_factory import build_ingest_dag

dag = build_ingest_dag("courts")
