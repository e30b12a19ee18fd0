"""Scenario 1: three chained tasks, each running `true` in a subprocess (the supervisor runs the
same shape with its `command` operator). Schedule period from BENCH_CHAIN_SECONDS (default 15)."""
import os
from datetime import datetime, timedelta

from airflow.sdk import DAG
from airflow.providers.standard.operators.bash import BashOperator

with DAG(
    dag_id="bench_chain",
    schedule=timedelta(seconds=int(os.environ.get("BENCH_CHAIN_SECONDS", "15"))),
    start_date=datetime(2024, 1, 1),
    catchup=False,
    # runs may overlap so a slow run never delays the next tick's start (the supervisor's overlap policy is per pipeline too)
    max_active_runs=int(os.environ.get("BENCH_CHAIN_MAX_ACTIVE", "16")),
    is_paused_upon_creation=os.environ.get("BENCH_CHAIN_PAUSED", "1") == "1",
) as dag:
    a = BashOperator(task_id="t1", bash_command="true")
    b = BashOperator(task_id="t2", bash_command="true")
    c = BashOperator(task_id="t3", bash_command="true")
    a >> b >> c
