"""The real command (`shoplake alerts watch`) as a subprocess: latency from a file
landing to its webhook POST, and kill -9 at the documented failpoints and at random
moments, compared with the purchases the test wrote: no alert lost, none published
twice, none posted twice except in the one documented window (killed after the receiver
accepted a POST, before the ledger recorded it: re-posted with the same Idempotency-Key).
"""

from __future__ import annotations

import random
import signal
import statistics
import subprocess
import time
from collections import Counter
from datetime import datetime
from pathlib import Path

import pytest
from alerts_kit import (
    UTC,
    Receiver,
    WatchProcess,
    child_env,
    click,
    drop,
    expected_id,
    ndjson,
    published_alerts,
    purchase,
    watch_cmd,
)

MAR1_14 = datetime(2026, 3, 1, 14, tzinfo=UTC)


def _once(root: Path, url: str, crash_at: str | None = None) -> subprocess.CompletedProcess:
    env = child_env(SHOPLAKE_CRASH_AT=crash_at) if crash_at else child_env()
    return subprocess.run(
        watch_cmd(root, "--webhook", url, "--once", "--retry-for", "10"),
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


@pytest.mark.slow
def test_latency_from_landing_to_webhook(lake_root: Path, receiver: Receiver) -> None:
    watcher = WatchProcess(lake_root, receiver.url)
    latencies = []
    try:
        watcher.wait_started()
        for i in range(8):
            now = datetime.now(UTC)
            stamp = now.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
            data = ndjson([click(stamp, f"C{i}", f"lat{i}"), purchase(stamp, f"C{i}", f"lat{i}")])
            landed = time.time()
            drop(lake_root, now, f"part-{i:04d}.json", data)
            key = expected_id(stamp, f"C{i}", f"lat{i}")
            assert receiver.wait_for_keys({key}, timeout=30), watcher.lines
            arrived = next(r.at for r in receiver.accepted() if r.headers["Idempotency-Key"] == key)
            latencies.append(arrived - landed)
            time.sleep(random.uniform(0, 0.2))
        assert watcher.stop() == 0
    finally:
        if watcher.proc.poll() is None:
            watcher.kill()
    file_lines = [line for line in watcher.lines if " alerts=1 new=1 " in line]
    assert len(file_lines) == 8
    print(
        f"\nalerts latency, file landing -> webhook POST received ({len(latencies)} files, "
        f"--interval 0.05): median {statistics.median(latencies) * 1000:.0f} ms, "
        f"max {max(latencies) * 1000:.0f} ms"
    )
    assert max(latencies) < 30  # a sanity bound, not a performance check


def _three_purchases(root: Path) -> set[str]:
    drop(
        root,
        MAR1_14,
        "a.json",
        ndjson(
            [
                purchase("2026-03-01T14:01:00Z", "C1", "s1"),
                purchase("2026-03-02T00:00:00Z", "C2", "s2"),
            ]
        ),
    )
    drop(root, MAR1_14, "b.json", ndjson([purchase("2026-03-01T14:03:00Z", "C3", "s3")]))
    return {
        expected_id("2026-03-01T14:01:00.000000Z", "C1", "s1"),
        expected_id("2026-03-02T00:00:00.000000Z", "C2", "s2"),
        expected_id("2026-03-01T14:03:00.000000Z", "C3", "s3"),
    }


@pytest.mark.slow
@pytest.mark.parametrize(
    ("crash_at", "published_before_restart"),
    [
        ("alerts_after_record", 0),  # a.json's alerts are in the ledger, no file written
        ("alerts_after_publish", 1),  # one alerts/ file renamed into place, not yet marked
        ("alerts_after_post", 3),  # everything published, first POST accepted, not marked
    ],
)
def test_a_kill_at_each_failpoint_loses_nothing_and_doubles_nothing(
    lake_root: Path, receiver: Receiver, crash_at: str, published_before_restart: int
) -> None:
    assert _once(lake_root, receiver.url).returncode == 0  # alerts start, no file yet
    expected = _three_purchases(lake_root)
    killed = _once(lake_root, receiver.url, crash_at)
    assert killed.returncode == -signal.SIGKILL, killed.stdout + killed.stderr
    assert len(published_alerts(lake_root)) == published_before_restart

    done = _once(lake_root, receiver.url)
    assert done.returncode == 0, done.stdout + done.stderr
    assert Counter(a["alert_id"] for a in published_alerts(lake_root)) == dict.fromkeys(expected, 1)
    posted = receiver.accepted_keys()
    assert set(posted) == expected
    if crash_at == "alerts_after_post":  # the documented window: one re-post, same key
        (again,) = [key for key, n in posted.items() if n == 2]
        bodies = {r.body for r in receiver.accepted() if r.headers["Idempotency-Key"] == again}
        assert len(bodies) == 1
        assert sum(posted.values()) == len(expected) + 1
    else:
        assert posted == dict.fromkeys(expected, 1)
    assert _once(lake_root, receiver.url).returncode == 0
    assert sum(receiver.accepted_keys().values()) == sum(posted.values())


@pytest.mark.slow
def test_random_kills_while_files_land(lake_root: Path, receiver: Receiver) -> None:
    rng = random.Random(7)
    receiver.delay_s = 0.02
    expected: set[str] = set()
    kills = 0
    watcher = WatchProcess(lake_root, receiver.url)
    try:
        watcher.wait_started()
        for i in range(16):
            now = datetime.now(UTC)
            records = []
            for j in range(3):
                records.append(purchase(f"2026-03-01T14:{i:02d}:{j:02d}Z", f"C{i}", f"k{i}-{j}"))
                utc = f"2026-03-01T14:{i:02d}:{j:02d}.000000Z"
                expected.add(expected_id(utc, f"C{i}", f"k{i}-{j}"))
            drop(lake_root, now, f"part-{i:04d}.json", ndjson(records))
            if i % 4 == 1:  # a re-delivery of this file under another name
                drop(lake_root, now, f"part-{i:04d}-again.json", ndjson(records))
            time.sleep(rng.uniform(0.0, 0.15))
            if i % 2 == 1:  # kill -9 while it reads, publishes or posts
                watcher.kill()
                kills += 1
                watcher = WatchProcess(lake_root, receiver.url)
                watcher.wait_started()
        watcher.kill()
        kills += 1
    finally:
        if watcher.proc.poll() is None:
            watcher.kill()
    done = _once(lake_root, receiver.url)
    assert done.returncode == 0, done.stdout + done.stderr

    published = Counter(a["alert_id"] for a in published_alerts(lake_root))
    assert published == dict.fromkeys(expected, 1)
    posted = receiver.accepted_keys()
    assert set(posted) == expected
    reposted = sum(posted.values()) - len(expected)
    assert reposted <= kills  # at most the POST in flight at each kill
    finished_by_once = done.stdout.count(" new=")
    print(
        f"\n{kills} kills: {len(expected)} alerts, each published once; {reposted} re-posts "
        f"(same Idempotency-Key); {finished_by_once} files left for the final --once"
    )
