"""Equivalent of the seed's domain_ingestion_dag.py for the benchmark (same shape, schedule and
task ids). Tasks are real operators doing what the supervisor's counterparts do at the protocol
level: a TCP connect to Kafka, the ingestion as a subprocess, a log line as the notification."""
from datetime import datetime, timedelta
import socket

from airflow.sdk import DAG
from airflow.providers.standard.operators.python import PythonOperator
from airflow.providers.standard.operators.bash import BashOperator


def check_kafka_health(kafka_servers="127.0.0.1:9092", **_):
    host, port = kafka_servers.split(",")[0].rsplit(":", 1)
    socket.create_connection((host, int(port)), timeout=5).close()


with DAG(
    dag_id="domain_ingestion_dag",
    schedule="0 * * * *",
    start_date=datetime(2024, 1, 1),
    catchup=False,
    default_args={"retries": 2, "retry_delay": timedelta(minutes=1)},
) as dag:
    t1 = PythonOperator(task_id="check_kafka_health", python_callable=check_kafka_health)
    t2 = BashOperator(task_id="run_full_ingestion", bash_command="true")
    t3 = PythonOperator(task_id="send_success_notification", python_callable=lambda: print("Domain ingestion finished"))
    t1 >> t2 >> t3
