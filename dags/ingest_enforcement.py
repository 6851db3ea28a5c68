"""Airflow DAG `ingest_enforcement`: 行政执法 cases and inspections, daily, incremental.

Built from include/specs/enforcement.yaml by the one ingest factory (schedule, tasks and
Assets come from the spec); the logic lives in the yhlaw package.
"""

from yhlaw.dag_factory import build_ingest_dag

dag = build_ingest_dag("enforcement")
