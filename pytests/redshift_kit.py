"""Redshift without a cluster: run a dbt command for the ``prod`` target against the fake
connection of ``warehouse/redshift_capture.py`` and collect the SQL it would send.

Used by the offline Redshift checks (pytests/warehouse) and by the check that the
Spectrum DDL matches the deployed Glue catalog (pytests/aws).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from shoplake.warehouse import profiles_dir, project_dir

CAPTURE = Path(__file__).parent / "warehouse" / "redshift_capture.py"

#: What profiles.yml.example's prod output needs; nothing here reaches a server.
PROD_ENV = {
    "SHOPLAKE_REDSHIFT_HOST": "example.invalid",
    "SHOPLAKE_REDSHIFT_USER": "dbt",
    "SHOPLAKE_REDSHIFT_PASSWORD": "not-a-password",
    "SHOPLAKE_LAKE": "s3://shoplake-lake/prod",
    "SHOPLAKE_SPECTRUM_IAM_ROLE": "arn:aws:iam::123456789012:role/shoplake-spectrum",
    "SHOPLAKE_EMAIL_SALT": "offline-test-salt",
}


def dbt_argv(tmp: Path, profiles: Path, *args: str) -> list[str]:
    """A dbt command line for the prod target with its artifacts under ``tmp``."""
    return [
        *args,
        "--project-dir",
        str(project_dir()),
        "--profiles-dir",
        str(profiles),
        "--target",
        "prod",
        "--target-path",
        str(tmp / "target"),
        "--log-path",
        str(tmp / "logs"),
    ]


def capture(tmp: Path, *dbt_args: str, env: dict | None = None) -> tuple[int, list[dict], str]:
    """Run ``dbt <dbt_args> --target prod`` on the capturing connection.

    Returns dbt's exit code, the captured statements (``{"sql", "args"}``) and its output.
    ``env`` adds to (or overrides) :data:`PROD_ENV`.
    """
    out = tmp / "captured.json"
    with profiles_dir() as profiles:
        proc = subprocess.run(
            [sys.executable, str(CAPTURE), str(out), "--", *dbt_argv(tmp, profiles, *dbt_args)],
            env={**os.environ, **PROD_ENV, **(env or {})},
            capture_output=True,
            text=True,
            check=False,
            timeout=600,
        )
    captured = json.loads(out.read_text()) if out.exists() else []
    return proc.returncode, captured, proc.stdout + proc.stderr
