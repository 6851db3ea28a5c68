"""Airflow DAG `link_disputes`: the records of one dispute linked across 信访, 调解 and 诉讼 (docs/linkage.md)."""

from yhlaw.dag_factory import build_link_dag

dag = build_link_dag()
