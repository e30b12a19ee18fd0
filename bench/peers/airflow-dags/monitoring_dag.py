"""Equivalent of the seed's monitoring_dag.py for the benchmark (same groups, task ids, schedule)."""
from datetime import datetime, timedelta

from airflow.sdk import DAG, TaskGroup
from airflow.providers.standard.operators.python import PythonOperator


def noop(**_):
    return True


with DAG(
    dag_id="monitoring_dag",
    schedule="*/15 * * * *",
    start_date=datetime(2024, 1, 1),
    catchup=False,
    default_args={"retries": 1, "retry_delay": timedelta(seconds=30)},
) as dag:
    with TaskGroup("infrastructure_health") as infra:
        PythonOperator(task_id="check_kafka", python_callable=noop)
        PythonOperator(task_id="check_spark", python_callable=noop)
    with TaskGroup("data_quality") as dq:
        PythonOperator(task_id="check_bronze_freshness", python_callable=noop)
        PythonOperator(task_id="check_silver_freshness", python_callable=noop)
        PythonOperator(task_id="check_gold_freshness", python_callable=noop)
    collect = PythonOperator(task_id="collect_metrics", python_callable=noop, trigger_rule="all_done")
    alert = PythonOperator(task_id="alert_on_failure", python_callable=noop, trigger_rule="one_failed")
    [infra, dq] >> collect
    [infra, dq] >> alert
