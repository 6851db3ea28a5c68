"""Airflow DAG `ingest_admin_review`, built from include/specs/admin_review.yaml by the one ingest factory."""

from yhlaw.dag_factory import build_ingest_dag

dag = build_ingest_dag("admin_review")
