"""A `shoplake run` killed with SIGKILL does not stay `running` (issue row 14): `status`
shows it abandoned at once, and the next run records it so, in the lake and the
warehouse."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import duckdb
from cli_kit import start_shoplake
from run_kit import generated_lake, shoplake

from shoplake.lake import Lake


def records(lake: Lake) -> dict[str, dict]:
    found = {}
    for path in lake.state_dir("pipeline").glob("*.json"):
        try:
            found[path.stem] = json.loads(path.read_text())
        except ValueError:  # being replaced this very moment
            continue
    return found


def kill_during(lake: Lake, step: str) -> str:
    """Start `shoplake run`, SIGKILL it (and its process group) once ``step`` has started;
    return the run's id."""
    proc = start_shoplake("run", "--lake", str(lake.root), without=["SHOPLAKE_POSTGRES_DSN"])
    deadline = time.monotonic() + 120
    while True:
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the run never reached the step"
        started = [
            run_id
            for run_id, record in records(lake).items()
            if any(s["step"] == step and s["started_at"] for s in record["steps"])
        ]
        if started:
            break
        time.sleep(0.01)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.communicate()
    assert proc.returncode == -signal.SIGKILL
    [run_id] = started
    return run_id


def status_of(lake: Lake, run_id: str) -> str:
    result = shoplake("status", "--lake", str(lake.root))
    assert result.returncode == 0, result.stderr
    [line] = [ln for ln in result.stdout.splitlines() if ln.startswith(run_id)]
    return line.split("\t")[2]


def test_a_killed_run_is_shown_and_then_recorded_abandoned(tmp_path: Path) -> None:
    lake = generated_lake(tmp_path / "lake")
    killed = kill_during(lake, "ingest")
    assert records(lake)[killed]["status"] == "running"  # as the process left it

    assert status_of(lake, killed) == "abandoned"  # the run lock is free: nobody runs it

    again = shoplake("run", "--lake", str(lake.root), "--to", "ingest")
    assert again.returncode == 0, again.stderr
    assert f"run {killed} died while running" in again.stderr

    record = records(lake)[killed]
    assert record["status"] == "abandoned"
    assert record["failed_step"] == "ingest"
    assert record["finished_at"] is None  # nobody saw it end
    con = duckdb.connect(str(lake.root / "warehouse.duckdb"), read_only=True)
    try:
        rows = con.execute(
            "select status, failed_step from shoplake_ops.runs where run_id = ?", [killed]
        ).fetchall()
    finally:
        con.close()
    assert rows == [("abandoned", "ingest")]
    assert status_of(lake, killed) == "abandoned at ingest"
    [newer] = set(records(lake)) - {killed}
    # it finished: `warn`, as the generated faults quarantine more than 1% of a dataset
    assert status_of(lake, newer) == records(lake)[newer]["status"] == "warn"
