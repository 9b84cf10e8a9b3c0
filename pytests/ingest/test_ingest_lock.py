"""One run at a time: a second run exits with a clear message, or waits with --wait.

The lock is held by a separate process that takes it as a run does (``lock_holder``,
the same holder the S3 lake's checks use), or by a real concurrent ingest run.
"""

from __future__ import annotations

import subprocess
import time
from datetime import datetime

import pytest
from ingest_kit import (
    ORDER_COLS,
    PAYMENT_COLS,
    cli_cmd,
    cli_env,
    click,
    csv_text,
    ingest,
    ndjson,
    order,
    payment,
    run_cli,
    run_logs,
    silver,
    silver_by,
)

from shoplake.errors import ShoplakeError
from shoplake.landing import land_file


@pytest.fixture
def held_lock(lake, lock_holder):
    """A process holding the lake's ingest lock until the test releases or kills it."""
    return lock_holder(str(lake.root))


def _some_input(lake):
    land_file(lake, "orders", "2026-03-01", "o.csv", csv_text([order("O1")], ORDER_COLS))


def _mentions_lock(text: str) -> bool:
    text = text.lower()
    return any(w in text for w in ("lock", "another run", "another ingest", "in progress"))


def test_second_run_exits_with_a_clear_message(lake, held_lock):
    _some_input(lake)
    started = time.monotonic()
    proc = run_cli(lake, timeout=60)
    assert proc.returncode != 0
    assert time.monotonic() - started < 30  # it does not wait
    out = proc.stdout + proc.stderr
    assert _mentions_lock(out), out
    assert "Traceback" not in out  # one clear line, not a stack trace
    assert silver(lake, "orders") == []
    assert run_logs(lake) == {}


def test_python_api_refuses_a_busy_lake(lake, held_lock):
    _some_input(lake)
    with pytest.raises(ShoplakeError) as err:
        ingest(lake)
    assert _mentions_lock(str(err.value)), str(err.value)
    assert silver(lake, "orders") == []


def test_wait_blocks_until_the_lock_is_released(lake, held_lock):
    _some_input(lake)
    waiting = subprocess.Popen(
        cli_cmd(lake, "--wait"),
        env=cli_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )

    def nothing_written_yet():
        assert silver(lake, "orders") == []

    code, err = held_lock.release_to(waiting, after=2, while_held=nothing_written_yet)
    assert code == 0, err
    assert [r["order_id"] for r in silver(lake, "orders")] == ["O1"]


def test_lock_of_a_killed_holder_is_released(lake, held_lock):
    _some_input(lake)
    held_lock.kill()
    proc = run_cli(lake, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert [r["order_id"] for r in silver(lake, "orders")] == ["O1"]


def _many_clicks(lake, n_files: int, per_file: int) -> int:
    for f in range(n_files):
        events = [
            click(session_id=f"s{f}-{i}", event_time=f"2026-03-0{1 + f % 5}T{i % 24:02d}:00:00Z")
            for i in range(per_file)
        ]
        land_file(lake, "clickstream", datetime(2026, 3, 1, f % 24), f"e{f}.json", ndjson(events))
    return n_files * per_file


def _start(lake, *args):
    return subprocess.Popen(
        cli_cmd(lake, *args),
        env=cli_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_two_real_runs_at_once_one_refuses(lake):
    total = _many_clicks(lake, 30, 2000)  # a few seconds of work: the runs overlap
    procs = [_start(lake), _start(lake)]
    results = [p.communicate(timeout=240) for p in procs]
    codes = sorted(p.returncode for p in procs)
    assert codes[0] == 0, results
    assert codes[1] != 0, "both runs went ahead at once"
    (refused,) = [out + err for p, (out, err) in zip(procs, results, strict=True) if p.returncode]
    assert _mentions_lock(refused), refused
    (log,) = run_logs(lake).values()
    assert log["datasets"]["clickstream"]["written"] == total
    assert len(silver_by(lake, "clickstream", "click_id")) == total


def test_two_real_runs_with_wait_are_serialised(lake):
    n_files = 20
    total = _many_clicks(lake, n_files, 2000)
    land_file(lake, "payments", "2026-03-01", "p.csv", csv_text([payment("Y1")], PAYMENT_COLS))
    procs = [_start(lake, "--wait"), _start(lake, "--wait")]
    results = [p.communicate(timeout=240) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], results
    logs = list(run_logs(lake).values())
    assert len(logs) == 2
    # every file was read by exactly one of the two runs
    clicks = [log["datasets"]["clickstream"] for log in logs]
    assert sorted(st["files_read"] for st in clicks) == [0, n_files]
    assert sum(st["written"] for st in clicks) == total
    assert sum(st["duplicates"] for st in clicks) == 0
    assert len(silver_by(lake, "clickstream", "click_id")) == total
    assert [r["payment_id"] for r in silver(lake, "payments")] == ["Y1"]
