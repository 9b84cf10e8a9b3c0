"""Helpers and constants for the warehouse (dbt) checks (fixtures are in conftest.py)."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import duckdb

from shoplake.lake import Lake

#: The generated lake of the cross-engine check: a few days at a small scale.
GENERATED_START, GENERATED_DAYS, GENERATED_ORDERS_PER_DAY = date(2026, 10, 1), 5, 40


def duckdb_rows(path: Path, table: str) -> list[tuple]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return sorted(con.execute(f"select * from main.{table}").fetchall(), key=repr)
    finally:
        con.close()


def duckdb_columns(path: Path, table: str) -> list[str]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return [r[0] for r in con.execute(f"describe main.{table}").fetchall()]
    finally:
        con.close()


def ingest(lake: Lake) -> None:
    from shoplake.ingest import run_ingest

    report = run_ingest(lake)
    assert report.balanced


def cutoff() -> date:
    """Landing date that splits the generated delivery into a first and a second run."""
    return GENERATED_START + timedelta(days=GENERATED_DAYS - 2)
