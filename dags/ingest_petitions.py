"""Airflow DAG `ingest_petitions`, built from include/specs/petitions.yaml by the one ingest factory."""

from yhlaw.dag_factory import build_ingest_dag

dag = build_ingest_dag("petitions")
