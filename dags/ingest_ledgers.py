"""Airflow DAG `ingest_ledgers`, built from include/specs/ledgers.yaml by the one ingest factory."""

from yhlaw.dag_factory import build_ingest_dag

dag = build_ingest_dag("ledgers")
