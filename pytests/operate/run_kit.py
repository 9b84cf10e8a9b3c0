"""Helpers of the daily-run checks: the shoplake command in a child process, a lake."""

from __future__ import annotations

import subprocess
from pathlib import Path

from cli_kit import run_shoplake

from shoplake.lake import Lake

START, DAYS, ORDERS_PER_DAY = "2026-10-05", 3, 25


def shoplake(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    # extract is skipped unless a test configures a DSN itself
    return run_shoplake(*args, env=env, without=("SHOPLAKE_POSTGRES_DSN",))


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
