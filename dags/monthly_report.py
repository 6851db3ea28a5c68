"""Airflow DAG `monthly_report`: the 月度通报 of each month, once its data is loaded (HTML and PDF)."""

from yhlaw.dag_factory import build_report_dag

dag = build_report_dag()
