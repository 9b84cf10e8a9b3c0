"""Helpers and constants for the warehouse (dbt) checks (fixtures are in conftest.py)."""

from __future__ import annotations

import shutil
from datetime import date, timedelta
from pathlib import Path

import duckdb

from shoplake.lake import Lake, landing_time

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


def land(source: Lake, lake: Lake, before: date | None = None) -> int:
    """Copy the raw files that landed before a date (all of them with None) into a lake,
    as the source systems would have delivered them day by day; returns how many."""
    copied = 0
    for path in sorted((source.root / "raw").rglob("*")):
        if not path.is_file():
            continue
        relative = source.relative(path)
        landed = landing_time(relative)
        if before is not None and (landed is None or landed.date() >= before):
            continue
        target = lake.absolute(relative)
        if target.exists():
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, target)
        copied += 1
    return copied


def ingest(lake: Lake) -> None:
    from shoplake.ingest import run_ingest

    report = run_ingest(lake)
    assert report.balanced


def cutoff() -> date:
    """Landing date that splits the generated delivery into a first and a second run."""
    return GENERATED_START + timedelta(days=GENERATED_DAYS - 2)
