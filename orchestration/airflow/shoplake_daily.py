"""Airflow DAG: shoplake's daily run at 02:00 UTC, one task per step.

Each task runs ``shoplake run --only STEP`` with the same ``--run-id`` (derived from the
DAG run's logical date), so the warehouse's run history shows one run with all of its
steps, and a failed task can be retried or cleared on its own. The steps and their order
come from shoplake itself (``shoplake.pipeline.STEPS``): the scheduler's Python
environment needs the shoplake package installed (the workers need the ``shoplake``
command on PATH).

Configuration (Airflow Variables, all optional):

* ``shoplake_lake``: the lake (a directory or ``s3://bucket/prefix``); default: the
  worker's SHOPLAKE_LAKE or shoplake.toml;
* ``shoplake_target``: dbt target of the build (``dev``, ``postgres`` or ``prod``).

Secrets (PostgreSQL DSN, Redshift password, email salt) come from the workers'
environment (SHOPLAKE_* variables), never from the DAG.

Overlap: ``max_active_runs=1`` keeps Airflow from starting the next day's run before the
last one ended, and every task holds the lake's run lock, so a manual ``shoplake run``
and a task never run at the same time (the task waits for the lock: ``--wait``).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow import DAG

try:  # Airflow 3
    from airflow.providers.standard.operators.bash import BashOperator
except ImportError:  # Airflow 2
    from airflow.operators.bash import BashOperator

from shoplake.pipeline import STEPS

SCHEDULE = "0 2 * * *"  # daily at 02:00 UTC
RUN_ID = "airflow-{{ ds_nodash }}"
TARGET = "{{ var.value.get('shoplake_target', 'dev') }}"
LAKE_OPTION = (
    "{% if var.value.get('shoplake_lake', '') %}"
    "--lake '{{ var.value.get('shoplake_lake') }}'"
    "{% endif %}"
)


def step_command(step: str) -> str:
    """The shell command of one task (a Jinja template Airflow renders per run)."""
    return f"shoplake run --only {step} --run-id {RUN_ID} --target {TARGET} --wait {LAKE_OPTION}"


with DAG(
    dag_id="shoplake_daily",
    description="shoplake's daily run: " + ", ".join(STEPS),
    schedule=SCHEDULE,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    default_args={
        "owner": "data-engineering",
        "retries": 2,
        "retry_delay": timedelta(minutes=5),
        "retry_exponential_backoff": True,
        "execution_timeout": timedelta(hours=2),
    },
    tags=["shoplake"],
) as dag:
    previous = None
    for name in STEPS:
        task = BashOperator(task_id=name, bash_command=step_command(name))
        if previous is not None:
            previous >> task
        previous = task
