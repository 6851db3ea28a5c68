"""Airflow DAG `ingest_investment`, built from include/specs/investment.yaml by the one ingest factory."""

from yhlaw.dag_factory import build_ingest_dag

dag = build_ingest_dag("investment")
