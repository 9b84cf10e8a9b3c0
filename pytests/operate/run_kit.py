"""Helpers of the daily-run checks: the shoplake command in a child process, a lake."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from shoplake.lake import Lake

START, DAYS, ORDERS_PER_DAY = "2026-10-05", 3, 25


def shoplake(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    child_env = {**os.environ, **(env or {})}
    child_env.pop("SHOPLAKE_POSTGRES_DSN", None)  # extract: skipped unless a test sets it
    return subprocess.run(
        [sys.executable, "-m", "shoplake.cli", *args],
        capture_output=True,
        text=True,
        env=child_env,
        check=False,
    )


def generated_lake(root: Path) -> Lake:
    result = shoplake(
        "generate",
        "--lake",
        str(root),
        "--start",
        START,
        "--days",
        str(DAYS),
        "--orders-per-day",
        str(ORDERS_PER_DAY),
        "--faults",
    )
    assert result.returncode == 0, result.stderr
    return Lake.at(root)
