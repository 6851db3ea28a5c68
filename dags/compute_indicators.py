"""Airflow DAG `compute_indicators`: the indicator catalog (indicators/*.yaml) into the marts."""

from yhlaw.dag_factory import build_indicator_dag

dag = build_indicator_dag()
