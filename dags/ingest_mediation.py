"""Airflow DAG `ingest_mediation`, built from include/specs/mediation.yaml by the one ingest factory."""

from yhlaw.dag_factory import build_ingest_dag

dag = build_ingest_dag("mediation")
