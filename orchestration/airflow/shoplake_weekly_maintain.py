"""Airflow DAG: shoplake's weekly warehouse upkeep, Sundays at 05:00 UTC.

One task, ``shoplake maintain`` on the Airflow Variables' lake and target (the same
``shoplake_lake`` and ``shoplake_target`` as the daily DAG): VACUUM and ANALYZE of the
marts on Redshift (``prod``), ANALYZE on PostgreSQL, ANALYZE and CHECKPOINT on DuckDB.
Secrets come from the workers' environment (SHOPLAKE_* variables), never from the DAG.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow import DAG

try:  # Airflow 3
    from airflow.providers.standard.operators.bash import BashOperator
except ImportError:  # Airflow 2
    from airflow.operators.bash import BashOperator

SCHEDULE = "0 5 * * 0"  # Sundays at 05:00 UTC, after the daily run
TARGET = "{{ var.value.get('shoplake_target', 'dev') }}"
LAKE_OPTION = (
    "{% if var.value.get('shoplake_lake', '') %}"
    "--lake '{{ var.value.get('shoplake_lake') }}'"
    "{% endif %}"
)
COMMAND = f"shoplake maintain --target {TARGET} {LAKE_OPTION}"

with DAG(
    dag_id="shoplake_weekly_maintain",
    description="shoplake's weekly warehouse upkeep (VACUUM/ANALYZE)",
    schedule=SCHEDULE,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    default_args={
        "owner": "data-engineering",
        "retries": 1,
        "retry_delay": timedelta(minutes=30),
        "execution_timeout": timedelta(hours=4),
    },
    tags=["shoplake"],
) as dag:
    BashOperator(task_id="maintain", bash_command=COMMAND)
