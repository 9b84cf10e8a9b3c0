"""The schedules in orchestration/: what they run, run for real.

Airflow itself is not installed here (it is a large server application with its own
pinned dependencies), so the DAG file is loaded with a minimal stand-in for the three
Airflow names it uses (``DAG``, ``BashOperator`` and ``>>``) that records the DAG's
arguments and tasks. The tasks' commands are then rendered with Jinja the way Airflow
renders them and executed, in the DAG's order, against a real lake: what is checked is
that the schedule's tasks make one complete, recorded daily run.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import types
from pathlib import Path

import duckdb
import jinja2
import pytest
import yaml
from run_kit import generated_lake

from shoplake.pipeline import STEPS

ROOT = Path(__file__).resolve().parents[2]
ORCHESTRATION = ROOT / "orchestration"


class _Task:
    def __init__(self, task_id: str, bash_command: str, dag: _Dag) -> None:
        self.task_id, self.bash_command, self.upstream = task_id, bash_command, []
        dag.tasks.append(self)

    def __rshift__(self, other: _Task) -> _Task:
        other.upstream.append(self)
        return other


class _Dag:
    current: _Dag | None = None

    def __init__(self, **kwargs: object) -> None:
        self.kwargs, self.tasks = kwargs, []

    def __enter__(self) -> _Dag:
        _Dag.current = self
        return self

    def __exit__(self, *exc: object) -> None:
        _Dag.current = None


def load_dag(monkeypatch: pytest.MonkeyPatch) -> _Dag:
    airflow = types.ModuleType("airflow")
    airflow.DAG = _Dag
    bash = types.ModuleType("airflow.operators.bash")
    bash.BashOperator = lambda task_id, bash_command: _Task(task_id, bash_command, _Dag.current)
    for name, module in {
        "airflow": airflow,
        "airflow.operators": types.ModuleType("airflow.operators"),
        "airflow.operators.bash": bash,
    }.items():
        monkeypatch.setitem(sys.modules, name, module)
    namespace: dict[str, object] = {"__name__": "shoplake_daily"}
    source = ORCHESTRATION / "airflow" / "shoplake_daily.py"
    exec(compile(source.read_text(), str(source), "exec"), namespace)
    return namespace["dag"]


def render(template: str, *, ds_nodash: str, variables: dict[str, str]) -> str:
    """Render a task's command as Airflow does: Jinja with ``ds_nodash`` and ``var.value``."""

    class _Values:
        def get(self, key: str, default: str | None = None) -> str | None:
            return variables.get(key, default)

    context = {"ds_nodash": ds_nodash, "var": types.SimpleNamespace(value=_Values())}
    return (
        jinja2.Environment(undefined=jinja2.StrictUndefined).from_string(template).render(context)
    )


def test_airflow_dag_is_daily_at_two_utc_with_one_task_per_step(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    dag = load_dag(monkeypatch)
    assert dag.kwargs["schedule"] == "0 2 * * *"
    assert dag.kwargs["max_active_runs"] == 1
    assert dag.kwargs["catchup"] is False
    assert dag.kwargs["default_args"]["retries"] >= 1
    assert [t.task_id for t in dag.tasks] == list(STEPS)
    for previous, task in zip(dag.tasks, dag.tasks[1:], strict=False):
        assert task.upstream == [previous]


def test_airflow_tasks_make_one_recorded_daily_run(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    lake = generated_lake(tmp_path / "lake")
    dag = load_dag(monkeypatch)
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    env.pop("SHOPLAKE_POSTGRES_DSN", None)
    for task in dag.tasks:
        command = render(
            task.bash_command, ds_nodash="20261007", variables={"shoplake_lake": str(lake.root)}
        )
        result = subprocess.run(
            ["bash", "-c", command], env=env, capture_output=True, text=True, check=False
        )
        assert result.returncode == 0, f"{task.task_id}: {result.stderr}"

    with duckdb.connect(str(lake.root / "warehouse.duckdb"), read_only=True) as con:
        runs = con.execute("select run_id, status from shoplake_ops.runs").fetchall()
        steps = con.execute(
            "select step, status from shoplake_ops.run_steps order by position"
        ).fetchall()
    # a step that warned makes the run `warn` (the generated faults quarantine >1% of some)
    assert runs == [("airflow-20261007", "warn" if "warn" in dict(steps).values() else "success")]
    assert [s[0] for s in steps] == list(STEPS)
    assert dict(steps)["extract"] == dict(steps)["catalog"] == "skipped"  # no DSN, local lake
    # warn: the build's recency tests and freshness may warn on generated past data
    assert all(
        status in ("success", "warn")
        for step, status in steps
        if step not in ("extract", "catalog")
    )


def test_crontab_runs_the_daily_job_at_two_utc() -> None:
    lines = (ORCHESTRATION / "cron" / "shoplake.crontab").read_text().splitlines()
    entries = [line for line in lines if line.strip() and not line.startswith("#")]
    assert "CRON_TZ=UTC" in entries
    jobs = [line for line in entries if re.match(r"^[\d*]", line)]
    assert len(jobs) == 1
    assert jobs[0].split()[:5] == ["0", "2", "*", "*", "*"]
    assert "shoplake run --wait" in jobs[0]


def test_dbt_cloud_job_runs_the_projects_prod_target() -> None:
    job = json.loads((ORCHESTRATION / "dbt_cloud" / "shoplake_daily_job.json").read_text())
    profile = yaml.safe_load((ROOT / "profiles.yml.example").read_text())
    (outputs,) = [p["outputs"] for p in profile.values() if isinstance(p, dict)]
    assert job["settings"]["target_name"] in outputs
    assert job["triggers"]["schedule"] is True
    assert job["run_generate_sources"] is True  # source freshness first
    assert job["generate_docs"] is True
    assert "dbt build" in job["execute_steps"]
    operations = [s.split()[2] for s in job["execute_steps"] if s.startswith("dbt run-operation")]
    macros = "".join(p.read_text() for p in (ROOT / "macros").glob("*.sql"))
    for operation in operations:
        assert f"macro {operation}(" in macros
