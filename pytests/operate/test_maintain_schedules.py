"""The weekly upkeep entries in orchestration/: cron, the Airflow DAG and the dbt Cloud
job, and the dbt macro that job runs, whose statements (captured offline for the prod
target, as the build's are) must be exactly those of ``shoplake maintain``.
"""

from __future__ import annotations

import json
import re
import sys
import types
from pathlib import Path

import pytest
import sqlfluff
from redshift_kit import capture

from shoplake.maintain import mart_tables, statements

ROOT = Path(__file__).resolve().parents[2]
ORCHESTRATION = ROOT / "orchestration"


def test_crontab_runs_maintain_weekly_after_the_daily_run() -> None:
    lines = (ORCHESTRATION / "cron" / "shoplake.crontab").read_text().splitlines()
    jobs = [line for line in lines if line[:1].isdigit() and "shoplake maintain" in line]
    assert len(jobs) == 1
    minute, hour, day, month, weekday = jobs[0].split()[:5]
    assert (minute, hour, day, month, weekday) == ("0", "5", "*", "*", "0")


def _load_weekly_dag(monkeypatch: pytest.MonkeyPatch) -> dict:
    made: dict = {"tasks": []}

    class Dag:
        def __init__(self, **kwargs: object) -> None:
            made["kwargs"] = kwargs

        def __enter__(self) -> Dag:
            return self

        def __exit__(self, *exc: object) -> None:
            return None

    airflow = types.ModuleType("airflow")
    airflow.DAG = Dag
    bash = types.ModuleType("airflow.operators.bash")
    bash.BashOperator = lambda task_id, bash_command: made["tasks"].append((task_id, bash_command))
    for name, module in {
        "airflow": airflow,
        "airflow.operators": types.ModuleType("airflow.operators"),
        "airflow.operators.bash": bash,
    }.items():
        monkeypatch.setitem(sys.modules, name, module)
    source = ORCHESTRATION / "airflow" / "shoplake_weekly_maintain.py"
    exec(compile(source.read_text(), str(source), "exec"), {"__name__": "weekly"})
    return made


def test_airflow_runs_maintain_weekly_one_run_at_a_time(monkeypatch) -> None:
    made = _load_weekly_dag(monkeypatch)
    assert made["kwargs"]["schedule"] == "0 5 * * 0"
    assert made["kwargs"]["max_active_runs"] == 1
    assert [t for t, _ in made["tasks"]] == ["maintain"]
    assert made["tasks"][0][1].startswith("shoplake maintain --target ")


def test_dbt_cloud_weekly_job_runs_the_maintain_macro_on_prod() -> None:
    job = json.loads(
        (ORCHESTRATION / "dbt_cloud" / "shoplake_weekly_maintain_job.json").read_text()
    )
    assert job["settings"]["target_name"] == "prod"
    assert job["schedule"]["cron"] == "0 5 * * 0"
    assert job["execute_steps"] == ["dbt run-operation shoplake_maintain"]
    assert "macro shoplake_maintain(" in (ROOT / "macros" / "shoplake_maintain.sql").read_text()


def test_the_macro_sends_exactly_the_statements_of_shoplake_maintain(tmp_path) -> None:
    code, captured, output = capture(tmp_path, "run-operation", "shoplake_maintain")
    assert code == 0, output
    sql = [
        " ".join(re.sub(r"^\s*/\*.*?\*/", "", item["sql"], flags=re.S).split()) for item in captured
    ]
    sent = [s for s in sql if s.lower().startswith(("vacuum", "analyze"))]
    assert sent == statements("prod", mart_tables(), "analytics")
    # never inside a transaction block: no BEGIN between the first and the last of them
    first, last = sql.index(sent[0]), len(sql) - 1 - sql[::-1].index(sent[-1])
    assert not [s for s in sql[first:last] if s.upper() in ("BEGIN", "BEGIN TRANSACTION")]
    for sql in sent:
        sqlfluff.parse(sql, dialect="redshift")


def test_the_weekly_airflow_task_runs_shoplake_maintain_for_real(monkeypatch, lake_copy) -> None:
    import os
    import subprocess

    import jinja2

    made = _load_weekly_dag(monkeypatch)

    class Values:
        def get(self, key: str, default: str | None = None) -> str | None:
            return {"shoplake_lake": str(lake_copy.root)}.get(key, default)

    command = (
        jinja2.Environment(undefined=jinja2.StrictUndefined)
        .from_string(made["tasks"][0][1])
        .render(var=types.SimpleNamespace(value=Values()))
    )
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    result = subprocess.run(
        ["bash", "-c", command], env=env, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert "analyze" in result.stdout
    assert "checkpoint" in result.stdout
