"""Alerts start from now (issue 10, item 6): the first `alerts watch` on a lake with
history alerts nothing of the past, only files landing after it starts; later starts go
on from the ledger (nothing lost while the watcher was down); `--backfill SINCE` alerts
the past purchases from SINCE on, exactly once, even when killed half-way."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
from collections import Counter
from datetime import datetime
from pathlib import Path

from alerts_kit import (
    UTC,
    Receiver,
    WatchProcess,
    child_env,
    drop,
    expected_id,
    ndjson,
    published_alerts,
    purchase,
    watch_cmd,
)

from shoplake.alerts.watcher import process_pending, status

MAR1_09 = datetime(2026, 3, 1, 9, tzinfo=UTC)
MAR2_09 = datetime(2026, 3, 2, 9, tzinfo=UTC)
MAR3_09 = datetime(2026, 3, 3, 9, tzinfo=UTC)


def _history(root: Path) -> dict[str, str]:
    """Three days of clickstream already in the lake; session -> expected alert id."""
    ids = {}
    for landed, day in ((MAR1_09, "01"), (MAR2_09, "02"), (MAR3_09, "03")):
        records = []
        for hour in ("09", "15"):  # a morning and an afternoon purchase each day
            session = f"d{day}h{hour}"
            records.append(purchase(f"2026-03-{day}T{hour}:00:00Z", "C1", session))
            ids[session] = expected_id(f"2026-03-{day}T{hour}:00:00.000000Z", "C1", session)
        drop(root, landed, f"part-{day}.json", ndjson(records))
    return ids


def _once(root: Path, url: str, *args: str, crash_at: str | None = None):
    env = child_env(SHOPLAKE_CRASH_AT=crash_at) if crash_at else child_env()
    return subprocess.run(
        watch_cmd(root, "--webhook", url, "--once", "--retry-for", "5", *args),
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def _now_file(root: Path, session: str, landed: datetime | None = None) -> str:
    now = datetime.now(UTC)
    stamp = now.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    drop(root, landed or now, f"{session}.json", ndjson([purchase(stamp, "C2", session)]))
    return expected_id(stamp, "C2", session)


def test_the_first_watch_alerts_only_what_lands_after_it(
    lake_root: Path, receiver: Receiver
) -> None:
    _history(lake_root)
    watcher = WatchProcess(lake_root, receiver.url)
    try:
        watcher.wait_started()
        assert any(
            line.startswith("first start: alerts start now; 3 clickstream files")
            for line in watcher.lines
        ), watcher.lines
        live = _now_file(lake_root, "live")
        assert receiver.wait_for_keys({live}, timeout=20), watcher.lines
        assert watcher.stop() == 0

        # landed while the watcher was down, one into an old folder: found on restart
        down = _now_file(lake_root, "down")
        old_folder = _now_file(lake_root, "old-folder", landed=MAR1_09)
        watcher = WatchProcess(lake_root, receiver.url, "--sweep", "0.2")
        watcher.wait_started()
        assert receiver.wait_for_keys({live, down, old_folder}, timeout=20), watcher.lines
        assert not any(line.startswith("first start") for line in watcher.lines)
        assert watcher.stop() == 0
    finally:
        if watcher.proc.poll() is None:
            watcher.kill()
    assert receiver.accepted_keys() == {live: 1, down: 1, old_folder: 1}
    assert sorted(a["alert_id"] for a in published_alerts(lake_root)) == sorted(
        [live, down, old_folder]
    )
    report = status(lake_root)
    assert report.rows[0][:2] == (3, 3)  # files read, alerts: the bookmarked 3 are not read
    assert any("3 files there then are bookmarked" in note for note in report.notes)


def test_backfill_replays_the_window_exactly_once(lake_root: Path, receiver: Receiver) -> None:
    ids = _history(lake_root)
    first = _once(lake_root, receiver.url, "--backfill", "2026-03-02")
    assert first.returncode == 0, first.stderr
    window = {ids["d02h09"], ids["d02h15"], ids["d03h09"], ids["d03h15"]}
    assert receiver.accepted_keys() == dict.fromkeys(window, 1)
    assert "backfill since 2026-03-02T00:00:00.000000Z: 3 files to read" in first.stdout

    again = _once(lake_root, receiver.url, "--backfill", "2026-03-02")  # given again
    assert again.returncode == 0, again.stderr
    assert "backfill since 2026-03-02T00:00:00.000000Z: 0 files to read" in again.stdout
    assert receiver.accepted_keys() == dict.fromkeys(window, 1)

    earlier = _once(lake_root, receiver.url, "--backfill", "2026-03-01T12:00:00+00:00")
    assert earlier.returncode == 0, earlier.stderr
    window.add(ids["d01h15"])  # the morning of 1 March stays before the window
    assert receiver.accepted_keys() == dict.fromkeys(window, 1)
    plain = _once(lake_root, receiver.url)
    assert plain.returncode == 0, plain.stderr
    assert Counter(a["alert_id"] for a in published_alerts(lake_root)) == dict.fromkeys(window, 1)
    assert receiver.accepted_keys() == dict.fromkeys(window, 1)


def test_a_backfill_killed_half_way_finishes_on_the_next_start(
    lake_root: Path, receiver: Receiver
) -> None:
    ids = _history(lake_root)
    killed = _once(
        lake_root, receiver.url, "--backfill", "2026-03-01", crash_at="alerts_after_record"
    )
    assert killed.returncode == -signal.SIGKILL, killed.stdout + killed.stderr
    plain = _once(lake_root, receiver.url)  # a restart without --backfill: no more of it
    assert plain.returncode == 0, plain.stderr
    assert len(published_alerts(lake_root)) == 2  # the file recorded before the kill
    done = _once(lake_root, receiver.url, "--backfill", "2026-03-01")
    assert done.returncode == 0, done.stderr
    assert "backfill since 2026-03-01T00:00:00.000000Z: 2 files to read" in done.stdout
    assert Counter(a["alert_id"] for a in published_alerts(lake_root)) == dict.fromkeys(
        ids.values(), 1
    )
    assert receiver.accepted_keys() == dict.fromkeys(ids.values(), 1)


def test_a_bad_backfill_is_one_line(lake_root: Path, receiver: Receiver) -> None:
    result = _once(lake_root, receiver.url, "--backfill", "last tuesday")
    assert result.returncode == 1
    assert result.stderr.startswith("error: --backfill 'last tuesday' is not a date")
    assert len(result.stderr.strip().splitlines()) == 1
    assert not (lake_root / "_state" / "alerts").exists()  # nothing was started


def test_a_ledger_from_before_the_bookmark_goes_on(lake_root: Path) -> None:
    """An upgrade: a ledger written before `started_at` and `alerted_since` existed
    (the old schema, one file read) is not a first start; what landed since alerts."""
    state = lake_root / "_state" / "alerts"
    state.mkdir(parents=True)
    with sqlite3.connect(state / "ledger.sqlite") as db:
        db.execute(
            "create table files (path text primary key, signature text not null, lines integer"
            " not null, alerts integer not null, new_alerts integer not null, bad_lines integer"
            " not null, file_error text, processed_at text not null)"
        )
        db.execute(
            "insert into files values ('raw/clickstream/2026/03/01/09/old.json', '1:1', 1, 0, 0,"
            " 0, null, '2026-03-01T09:00:00.000000Z')"
        )
    ids = _history(lake_root)  # landed while the old watcher was stopped for the upgrade
    lines: list[str] = []
    summary = process_pending(lake_root, log=lines.append)
    assert not any(line.startswith("first start") for line in lines)
    assert summary.new_alerts == len(ids)
    assert sorted(a["alert_id"] for a in published_alerts(lake_root)) == sorted(ids.values())
