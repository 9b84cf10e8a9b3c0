"""The watcher in-process: alerts/ files, re-delivery, in-progress names, the webhook
outbox against a real HTTP receiver (failing, refusing, recovering), the lake lock."""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import os
import threading
import time
from datetime import datetime
from pathlib import Path

import pytest
from alerts_kit import (
    UTC,
    Receiver,
    alert_files,
    click,
    drop,
    expected_id,
    landing_dir,
    ndjson,
    published_alerts,
    purchase,
    snapshot,
    start_alerts,
)

from shoplake.alerts.watcher import process_pending, status, watch
from shoplake.errors import LakeBusyError, ShoplakeError

MAR1_14 = datetime(2026, 3, 1, 14, tzinfo=UTC)
MAR2_09 = datetime(2026, 3, 2, 9, tzinfo=UTC)


def _two_days(root: Path) -> set[str]:
    """Two files landing after alerts started; the second lands on 2 March with a late
    purchase of 1 March."""
    start_alerts(root)
    drop(
        root,
        MAR1_14,
        "a.json",
        ndjson(
            [
                click("2026-03-01T14:00:00Z", "C1", "s1"),
                purchase("2026-03-01T14:01:00Z", "C1", "s1", "O1"),
                purchase("2026-03-01T14:02:00Z", "C2", "s2", "O2"),
                "not json",
            ]
        ),
    )
    drop(
        root,
        MAR2_09,
        "b.json.gz",
        ndjson(
            [
                purchase("2026-03-02T09:00:00Z", "C3", "s3", "O3"),
                purchase("2026-03-01T23:59:59Z", "C4", "s4", "O4"),  # arrives late
            ]
        ),
    )
    return {
        expected_id("2026-03-01T14:01:00.000000Z", "C1", "s1"),
        expected_id("2026-03-01T14:02:00.000000Z", "C2", "s2"),
        expected_id("2026-03-02T09:00:00.000000Z", "C3", "s3"),
        expected_id("2026-03-01T23:59:59.000000Z", "C4", "s4"),
    }


def test_alerts_are_published_by_event_day_once(lake_root: Path) -> None:
    expected = _two_days(lake_root)
    lines: list[str] = []
    summary = process_pending(lake_root, log=lines.append)

    alerts = published_alerts(lake_root)
    assert sorted(a["alert_id"] for a in alerts) == sorted(expected)
    for a in alerts:
        y, m, d = a["event_time"][:10].split("-")
        assert a["_file"].startswith(f"alerts/year={y}/month={m}/day={d}/")
    late = next(a for a in alerts if a["user_id"] == "C4")
    assert (late["source_file"], late["source_line"]) == (
        "raw/clickstream/2026/03/02/09/b.json.gz",
        2,
    )
    assert (len(summary.files), summary.new_alerts, summary.bad_lines) == (2, 4, 1)
    assert len(lines) == 2
    assert lines[0].startswith("raw/clickstream/2026/03/01/14/a.json alerts=2 new=2 bad_lines=1")

    before = snapshot(lake_root)
    again = process_pending(lake_root)
    assert (again.files, snapshot(lake_root)) == ([], before)


def test_redelivered_files_never_alert_twice(lake_root: Path) -> None:
    start_alerts(lake_root)
    records = [purchase("2026-03-01T14:01:00Z", "C1", "s1"), click("2026-03-01T14:02:00Z")]
    first = drop(lake_root, MAR1_14, "a.json", ndjson(records))
    process_pending(lake_root)
    assert len(published_alerts(lake_root)) == 1

    drop(lake_root, MAR2_09, "a-copy.json", ndjson(records))  # same content, new name
    drop(lake_root, MAR2_09, "a-copy.json.gz", ndjson(records, crlf=True))  # and gzipped
    os.utime(first, (time.time() + 5, time.time() + 5))  # touched
    drop(lake_root, MAR1_14, "a.json", ndjson(records))  # the same name rewritten
    summary = process_pending(lake_root)
    assert len(summary.files) == 3  # all were read again ...
    assert summary.new_alerts == 0  # ... and nothing was new
    assert len(published_alerts(lake_root)) == 1

    more = [*records, purchase("2026-03-01T14:03:00Z", "C9", "s9")]
    drop(lake_root, MAR1_14, "a.json", ndjson(more))  # rewritten with one more purchase
    process_pending(lake_root)
    ids = [a["alert_id"] for a in published_alerts(lake_root)]
    assert sorted(ids) == sorted(
        [
            expected_id("2026-03-01T14:01:00.000000Z", "C1", "s1"),
            expected_id("2026-03-01T14:03:00.000000Z", "C9", "s9"),
        ]
    )


def test_in_progress_names_are_ignored_until_renamed(lake_root: Path) -> None:
    start_alerts(lake_root)
    folder = landing_dir(lake_root, MAR1_14)
    folder.mkdir(parents=True)
    data = ndjson([purchase("2026-03-01T14:01:00Z")])
    (folder / "_part-1.json").write_bytes(data)
    (folder / ".part-2.json").write_bytes(data)
    (folder / "_tmp").mkdir()
    (folder / "_tmp" / "part-3.json").write_bytes(data)
    (folder / "notes.txt").write_bytes(data)  # not a clickstream extension
    (folder.parent / "day-level.json").write_bytes(data)  # not in an hour folder
    assert process_pending(lake_root).files == []
    assert published_alerts(lake_root) == []

    os.replace(folder / "_part-1.json", folder / "part-1.json")
    summary = process_pending(lake_root)
    assert [f.path for f in summary.files] == ["raw/clickstream/2026/03/01/14/part-1.json"]
    assert len(published_alerts(lake_root)) == 1


def test_the_webhook_gets_each_alert_once_signed(
    lake_root: Path, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SHOPLAKE_ALERTS_WEBHOOK_SECRET", "s3cret")
    expected = _two_days(lake_root)
    summary = process_pending(lake_root, receiver.url)
    assert summary.delivered == 4
    assert receiver.accepted_keys() == dict.fromkeys(expected, 1)
    lines = {a["alert_id"]: a for a in published_alerts(lake_root)}
    for request in receiver.requests:
        key = request.headers["Idempotency-Key"]
        assert request.path == "/hooks/purchases"
        assert request.headers["Content-Type"].startswith("application/json")
        assert request.json == {k: v for k, v in lines[key].items() if k != "_file"}
        stamp = request.headers["X-Shoplake-Timestamp"]
        assert abs(int(stamp) - request.at) < 5
        signed = stamp.encode() + b"." + request.body
        mac = hmac.new(b"s3cret", signed, hashlib.sha256).hexdigest()
        assert request.headers["X-Shoplake-Signature"] == f"v1={mac}"
    process_pending(lake_root, receiver.url)
    assert len(receiver.requests) == 4  # nothing is sent again


def test_a_failing_webhook_is_retried_with_backoff_until_it_recovers(
    lake_root: Path, receiver: Receiver
) -> None:
    expected = _two_days(lake_root)
    receiver.fail(3, status=503)
    summary = process_pending(lake_root, receiver.url, retry_for_s=20)
    assert summary.delivered == 4
    assert receiver.accepted_keys() == dict.fromkeys(expected, 1)
    failed = [r for r in receiver.requests if r.status == 503]
    assert len(failed) == 3
    assert {r.headers["Idempotency-Key"] for r in failed} <= expected
    first = receiver.requests[:4]
    gaps = [b.at - a.at for a, b in itertools.pairwise(first)]
    assert gaps[2] > gaps[0]  # the waits double (0.25-0.5 s, 0.5-1 s, 1-2 s with jitter)
    print(f"\nretry gaps after 503s: {', '.join(f'{g:.2f}s' for g in gaps)}")


def test_a_refusing_webhook_keeps_alerts_in_the_outbox(lake_root: Path, receiver: Receiver) -> None:
    expected = _two_days(lake_root)
    receiver.down()
    summary = process_pending(lake_root, receiver.url, retry_for_s=0.5)
    assert (summary.delivered, summary.counts["undelivered"]) == (0, 4)
    assert len(published_alerts(lake_root)) == 4  # alerts/ does not wait for the webhook
    assert "undelivered" in status(lake_root).columns

    receiver.up()
    again = process_pending(lake_root, receiver.url)
    assert (again.files, again.delivered, again.counts["undelivered"]) == ([], 4, 0)
    assert receiver.accepted_keys() == dict.fromkeys(expected, 1)


def test_a_rejected_alert_does_not_hold_up_the_others(lake_root: Path, receiver: Receiver) -> None:
    expected = _two_days(lake_root)
    refused = expected_id("2026-03-01T14:01:00.000000Z", "C1", "s1")
    receiver.reject(refused)
    summary = process_pending(lake_root, receiver.url, retry_for_s=0)
    assert summary.delivered == 3
    assert set(receiver.accepted_keys()) == expected - {refused}
    report = status(lake_root)
    assert any(refused in note and "HTTP 400" in note for note in report.notes)

    receiver.reject(None)
    time.sleep(1.0)  # its backoff (at most 0.5 s after one failure) has passed
    assert process_pending(lake_root, receiver.url, retry_for_s=0).delivered == 1
    assert receiver.accepted_keys() == dict.fromkeys(expected, 1)


def test_alerts_made_without_a_webhook_are_not_sent_later(
    lake_root: Path, receiver: Receiver
) -> None:
    _two_days(lake_root)
    process_pending(lake_root)
    assert process_pending(lake_root, receiver.url).delivered == 0
    assert receiver.requests == []


def test_bad_webhook_urls_are_refused(lake_root: Path) -> None:
    with pytest.raises(ShoplakeError, match="not an http"):
        process_pending(lake_root, "ftp://example.com/x")


def test_the_watcher_picks_up_files_as_they_land_and_holds_the_lake(
    lake_root: Path, receiver: Receiver
) -> None:
    lines: list[str] = []
    stop = threading.Event()
    thread = threading.Thread(
        target=watch,
        args=(lake_root, receiver.url),
        kwargs={"interval_s": 0.05, "sweep_s": 0.5, "log": lines.append, "stop": stop},
    )
    thread.start()
    try:
        deadline = time.time() + 10
        while not any(line.startswith("watching") for line in lines):
            assert time.time() < deadline, lines
            time.sleep(0.02)
        with pytest.raises(LakeBusyError, match="alerts"):
            process_pending(lake_root)

        now = datetime.now(UTC)
        stamp = now.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        drop(lake_root, now, "now.json", ndjson([purchase(stamp, "C1", "live")]))
        live = expected_id(stamp, "C1", "live")
        assert receiver.wait_for_keys({live}, timeout=10)

        # dropped into an old landing folder: found by the full listing (sweep)
        drop(lake_root, MAR1_14, "old.json", ndjson([purchase("2026-03-01T14:01:00Z")]))
        old = expected_id("2026-03-01T14:01:00.000000Z", "C1", "s1")
        assert receiver.wait_for_keys({live, old}, timeout=10)
    finally:
        stop.set()
        thread.join(timeout=10)
    assert not thread.is_alive()
    assert receiver.accepted_keys() == {live: 1, old: 1}
    assert sum(" alerts=1 new=1 " in line for line in lines) == 2
    assert len(alert_files(lake_root)) == 2
    json.loads(alert_files(lake_root)[0].read_text())  # one complete JSON line
