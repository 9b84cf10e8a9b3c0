"""One ingest at a time on an s3:// lake, where there are no file locks.

The lock is an object created with a conditional PUT (If-None-Match: *): the endpoint
must refuse a second create with 412, which is checked here with plain boto3. A holder
is either another process holding the lake's lock through shoplake (``lock_holder``, the
same holder the local lake's checks use), a lock object as a run on another machine
leaves it, or a real concurrent ingest.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time

import pytest
from botocore.exceptions import ClientError
from s3lake_kit import get, keys, put, run_logs, s3, s3_parquet, shoplake

from shoplake.contract import ORDERS
from shoplake.errors import LakeBusyError
from shoplake.ingest.transaction import Transaction
from shoplake.lake import Lake

ORDER_HEADER = ",".join(f.raw_name for f in ORDERS.fields)
LOCK = "shop/_state/ingest.lock"


def _orders(bucket: str, name: str, ids: list[str]) -> None:
    rows = [f"{i},C1,2026-03-01T10:00:00Z,placed,web,EUR,PT,2026-03-01T10:00:00Z" for i in ids]
    put(bucket, f"shop/raw/orders/2026/03/01/{name}", "\n".join([ORDER_HEADER, *rows]) + "\n")


def _order_ids(bucket: str) -> list[str]:
    return sorted(r[0] for rows in s3_parquet(bucket, "shop/silver/orders/").values() for r in rows)


def _busy(result: subprocess.CompletedProcess) -> bool:
    text = result.stdout + result.stderr
    return (
        result.returncode == 1
        and "another shoplake ingest is running" in text
        and "Traceback" not in text
    )


@pytest.fixture
def holder(lake_url, lock_holder):
    """A process holding the lake's ingest lock until the test releases or kills it."""
    return lock_holder(lake_url)


def test_a_held_lock_refuses_a_run_and_wait_waits(lake_url, s3_bucket, holder):
    _orders(s3_bucket, "a.csv", ["O1"])
    with pytest.raises(ClientError) as refused:  # the endpoint honours conditional writes
        s3().put_object(Bucket=s3_bucket, Key=LOCK, Body=b"x", IfNoneMatch="*")
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 412

    busy = shoplake("ingest", "--lake", lake_url, timeout=60)
    assert _busy(busy), busy.stderr
    assert _order_ids(s3_bucket) == []
    assert run_logs(s3_bucket, "shop/") == {}

    waiting = subprocess.Popen(
        [sys.executable, "-m", "shoplake.cli", "ingest", "--lake", lake_url, "--wait"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    code, err = holder.release_to(waiting, after=3)
    assert code == 0, err
    assert _order_ids(s3_bucket) == ["O1"]
    assert not keys(s3_bucket, LOCK)


def test_the_lock_of_a_killed_holder_is_taken_over_at_once(lake_url, s3_bucket, holder):
    _orders(s3_bucket, "a.csv", ["O1"])
    holder.kill()
    assert keys(s3_bucket, LOCK)  # a dead process cannot release it
    started = time.monotonic()
    done = shoplake("ingest", "--lake", lake_url, timeout=120)
    assert done.returncode == 0, done.stderr
    assert time.monotonic() - started < 30  # far less than the 60 s a silent lock lives
    assert _order_ids(s3_bucket) == ["O1"]


def test_a_lock_left_on_another_machine_expires(lake_url, s3_bucket):
    """Nobody here can tell whether a holder elsewhere is alive: its lock counts until
    nobody renewed it for the TTL (by S3's clock), then the next run takes it over."""
    _orders(s3_bucket, "a.csv", ["O1"])
    ttl = 3
    other = {"owner": "x", "host": "elsewhere", "pid": 1, "boot": "another-kernel", "ttl": ttl}
    # The holder elsewhere renews its lock while the first run tries (however slowly that
    # run starts on a loaded machine), then stops renewing.
    stop, renewed = threading.Event(), [time.monotonic()]

    def renew() -> None:
        while not stop.wait(0.5):
            put(s3_bucket, LOCK, json.dumps(other))
            renewed.append(time.monotonic())

    put(s3_bucket, LOCK, json.dumps(other))
    renewer = threading.Thread(target=renew, daemon=True)
    renewer.start()
    try:
        busy = shoplake("ingest", "--lake", lake_url, timeout=60)
    finally:
        stop.set()
        renewer.join()
    assert _busy(busy), busy.stderr
    assert "elsewhere" in busy.stderr
    time.sleep(max(0.0, renewed[-1] + ttl + 1 - time.monotonic()))
    done = shoplake("ingest", "--lake", lake_url, timeout=60)
    assert done.returncode == 0, done.stderr
    assert _order_ids(s3_bucket) == ["O1"]


def test_two_real_runs_with_wait_are_serialised(lake_url, s3_bucket):
    ids = [f"O{i:03d}" for i in range(200)]
    for k in range(20):  # enough files that the two runs overlap
        _orders(s3_bucket, f"o{k:02d}.csv", ids[k * 10 : (k + 1) * 10])
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "shoplake.cli", "ingest", "--lake", lake_url, "--wait"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    results = [p.communicate(timeout=240) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], results
    orders = [log["datasets"]["orders"] for log in run_logs(s3_bucket, "shop/").values()]
    assert sorted(st["files_read"] for st in orders) == [0, 20]  # each file read once
    assert sum(st["written"] for st in orders) == 200
    assert sum(st["duplicates"] for st in orders) == 0
    assert _order_ids(s3_bucket) == ids


def test_a_run_that_lost_its_lock_publishes_nothing(lake_url, s3_bucket, monkeypatch):
    """A holder paused past the TTL may find its lock taken over: it must notice (at the
    next renewal) and refuse to write its commit marker, and leave the new lock alone."""
    monkeypatch.setenv("SHOPLAKE_S3_LOCK_TTL", "2")
    lake = Lake.at(lake_url)
    with lake.lock("ingest") as lease:
        txn = Transaction(lake, "run-1", lease)
        txn.stage_bytes("silver/orders/year=2026/month=03/day=01/data.parquet", b"new")
        taken_over = json.dumps({"owner": "another-run", "host": "elsewhere", "ttl": 60})
        put(s3_bucket, LOCK, taken_over)
        time.sleep(1.5)  # renewals come every TTL / 4
        with pytest.raises(LakeBusyError, match="lost the ingest lock"):
            txn.commit()
        txn.abort()
    assert not keys(s3_bucket, "shop/silver/")
    assert not keys(s3_bucket, "shop/_state/txn/")
    assert get(s3_bucket, LOCK).decode() == taken_over
