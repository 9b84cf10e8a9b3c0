"""A warehouse held open by another process, two builds at once: one line each, naming
who holds what (issue rows 11 and 12), and a build that waits when asked to."""

from __future__ import annotations

import os
import time
from pathlib import Path

from cli_kit import hold_duckdb_open, run_shoplake, start_shoplake, the_error_line

from shoplake.errors import WarehouseLockedError
from shoplake.ingest.transaction import lake_lock
from shoplake.lake import Lake
from shoplake.warehouse import BUILD_LOCK, build_failure, dbt_env, output_log, run_dbt
from shoplake.warehouse import _summarise as summarise


def test_build_with_a_reader_open_names_the_reader_and_how_to_read_without_locking(
    lake_copy: Lake,
) -> None:
    reader = hold_duckdb_open(str(lake_copy.root / "warehouse.duckdb"))
    try:
        line = the_error_line(run_shoplake("build", "--lake", str(lake_copy.root)))
    finally:
        reader.kill()
        reader.wait()
    assert f"held open by pid {reader.pid} (python" in line, line
    assert str(lake_copy.root / "warehouse.duckdb") in line
    assert "shoplake sql" in line  # how to read it without blocking builds


def test_run_with_a_reader_open_fails_in_one_line_and_records_why(lake_copy: Lake) -> None:
    reader = hold_duckdb_open(str(lake_copy.root / "warehouse.duckdb"))
    try:
        result = run_shoplake(
            "run", "--lake", str(lake_copy.root), without=["SHOPLAKE_POSTGRES_DSN"]
        )
    finally:
        reader.kill()
        reader.wait()
    line = the_error_line(result, run=True)
    assert f"held open by pid {reader.pid}" in line, line
    # the run's record in the lake says it failed, and why; it is not left `running`
    [record] = list(lake_copy.state_dir("pipeline").glob("*.json"))
    text = record.read_text()
    assert '"status": "failed"' in text
    assert f"pid {reader.pid}" in text


def test_a_lock_conflict_inside_dbt_is_one_line_not_dbts_output(lake_copy: Lake) -> None:
    """The conflict seen by dbt itself (a reader that opened the file after shoplake's own
    check): reported as the holder, with dbt's output kept in its log file."""
    warehouse = lake_copy.root / "warehouse.duckdb"
    reader = hold_duckdb_open(str(warehouse))
    args = ["build", "--select", "stg_lake__orders"]
    try:
        run = run_dbt(args, lake_copy, "dev", env=dbt_env(lake_copy, "dev"), quiet=True)
    finally:
        reader.kill()
        reader.wait()
    assert not run.success
    artifacts = lake_copy.root / "_state" / "dbt" / "dev"
    error = build_failure(run, summarise(run, "dev", "build", 0.0), args, artifacts, quiet=True)
    assert isinstance(error, WarehouseLockedError)
    assert f"pid {reader.pid}" in str(error)
    assert "\n" not in str(error)
    log = output_log(artifacts, args)
    assert str(log) in str(error)
    assert "Could not set lock" in log.read_text()


def test_a_second_build_exits_at_once_naming_the_first(lake_copy: Lake) -> None:
    with lake_lock(lake_copy, BUILD_LOCK, wait=False):  # a build in progress (this process)
        started = time.monotonic()
        line = the_error_line(run_shoplake("build", "--lake", str(lake_copy.root)))
        assert time.monotonic() - started < 30
    assert "another shoplake build is running" in line
    assert f"pid {os.getpid()}" in line
    assert "--wait" in line


def test_two_builds_at_once_one_fails_fast_and_with_wait_both_succeed(lake_copy: Lake) -> None:
    root = str(lake_copy.root)
    first = start_shoplake("build", "--lake", root)
    lock = Path(root) / "_state" / "build.lock"
    deadline = time.monotonic() + 60
    while not (lock.is_file() and lock.read_text().strip() == str(first.pid)):
        assert first.poll() is None, first.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.05)
    line = the_error_line(run_shoplake("build", "--lake", root))  # the first takes ~10 s
    assert f"pid {first.pid} holds _state/build.lock" in line
    waiting = run_shoplake("build", "--wait", "--lake", root, "--select", "stg_lake__orders")
    _out, err = first.communicate(timeout=300)
    assert first.returncode == 0, err
    assert waiting.returncode == 0, waiting.stderr


def test_a_failing_build_prints_the_failing_node_and_the_log_not_dbts_output(
    lake_copy: Lake,
) -> None:
    [partition, *_] = sorted(lake_copy.silver_dir("orders").rglob("*.parquet"))
    partition.write_bytes(b"not parquet")
    line = the_error_line(
        run_shoplake("build", "--lake", str(lake_copy.root), "--select", "stg_lake__orders")
    )
    assert "model.shoplake.stg_lake__orders" in line
    assert str(partition) in line  # the reason, not dbt's "Runtime Error in model" line
    log = lake_copy.root / "_state" / "dbt" / "dev" / "logs" / "build.out"
    assert str(log) in line
    assert "stg_lake__orders" in log.read_text()
