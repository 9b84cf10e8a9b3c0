"""SQLFluff lint (dbt templater, DuckDB profile) of the models, singular tests and analyses."""

from __future__ import annotations

import os
import subprocess
import sys

from shoplake.warehouse import profiles_dir, project_dir


def test_sql_is_lint_clean(tmp_path):
    with profiles_dir() as profiles:
        env = {
            **os.environ,
            "DBT_PROFILES_DIR": str(profiles),
            "SHOPLAKE_DUCKDB_PATH": str(tmp_path / "lint.duckdb"),
            "SHOPLAKE_LAKE": str(tmp_path / "lake"),
        }
        proc = subprocess.run(
            [sys.executable, "-m", "sqlfluff", "lint", "models", "tests", "analyses"],
            cwd=project_dir(),
            env=env,
            capture_output=True,
            text=True,
            check=False,
            timeout=600,
        )
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-2000:]
