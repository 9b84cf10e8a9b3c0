"""Hostile and unlucky clickstream (issue 9, row 5 and the input limits): a line nested
100,000 deep, lines beyond the contract's depth, record and field limits, gzip bombs,
symbolic links and FIFOs in the landing folders. The scanner never raises; such a line
is skipped with its reason and the purchases after it, in the same file and in later
files, still alert; `alerts watch` survives restarts."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import zlib
from datetime import datetime
from pathlib import Path

from alerts_kit import (
    UTC,
    Receiver,
    WatchProcess,
    click,
    drop,
    expected_id,
    landing_dir,
    ndjson,
    nested_purchase,
    published_alerts,
    purchase,
    start_alerts,
)

from shoplake.alerts.core import scan_file
from shoplake.alerts.watcher import process_pending, status
from shoplake.contract import (
    MAX_FIELD_BYTES,
    MAX_GZIP_RATIO,
    MAX_JSON_DEPTH,
    MAX_RECORD_BYTES,
)

SOURCE = "raw/clickstream/2026/03/01/14/part-0001.json"
DETECTED = datetime(2026, 3, 1, 15, tzinfo=UTC)
MAR1_14 = datetime(2026, 3, 1, 14, tzinfo=UTC)


def test_a_line_nested_100000_deep_is_skipped_and_the_rest_alert() -> None:
    lines = [
        nested_purchase("2026-03-01T14:00:00Z", "deep", 100_000),
        json.dumps(purchase("2026-03-01T14:01:00Z", "C1", "after")),
    ]
    scan = scan_file(("\n".join(lines) + "\n").encode(), SOURCE, DETECTED)
    assert scan.file_error is None
    assert (scan.lines, scan.bad_lines, dict(scan.skipped)) == (2, 1, {"too_deep": 1})
    assert [(a.session_id, a.source_line) for a in scan.alerts] == [("after", 2)]


def test_the_depth_limit_is_the_contracts() -> None:
    at_limit = nested_purchase("2026-03-01T14:00:00Z", "at", MAX_JSON_DEPTH)
    over = nested_purchase("2026-03-01T14:00:01Z", "over", MAX_JSON_DEPTH + 1)
    assert json.loads(at_limit)["session_id"] == "at"  # both are valid JSON ...
    assert json.loads(over)["session_id"] == "over"
    # ... with brackets inside strings, which do not nest
    in_text = json.dumps(click("2026-03-01T14:00:02Z", "C1", "text", "purchase", "/" + "{[" * 99))
    scan = scan_file(f"{at_limit}\n{over}\n{in_text}\n".encode(), SOURCE, DETECTED)
    assert [a.session_id for a in scan.alerts] == ["at", "text"]
    assert dict(scan.skipped) == {"too_deep": 1}


def test_records_and_fields_beyond_the_size_limits_are_skipped() -> None:
    big_page = "https://shop.example.com/" + "p" * MAX_FIELD_BYTES  # one field too large
    huge = "x" * (MAX_RECORD_BYTES + 1)  # the whole line too large
    lines = [
        json.dumps(click("2026-03-01T14:00:00Z", "C1", "big", "purchase", big_page)),
        json.dumps({**purchase("2026-03-01T14:00:01Z", "C1", "huge"), "padding": huge}),
        json.dumps(purchase("2026-03-01T14:00:02Z", "C1", "fine")),
    ]
    data = ("\n".join(lines) + "\n").encode()
    scan = scan_file(data, SOURCE, DETECTED)
    assert dict(scan.skipped) == {"field_too_large": 1, "record_too_large": 1}
    assert (scan.lines, scan.bad_lines) == (3, 2)
    assert [(a.session_id, a.source_line) for a in scan.alerts] == [("fine", 3)]
    # the same without a final newline, and gzip in several members (as `cat a.gz b.gz`)
    assert scan_file(data.rstrip(b"\n"), SOURCE, DETECTED).alerts == scan.alerts
    member = gzip.compress(ndjson([purchase("2026-03-01T14:00:03Z", "C1", "second")]))
    two = scan_file(gzip.compress(ndjson([purchase("2026-03-01T14:00:02Z", "C1", "first")]))
                    + member, SOURCE + ".gz", DETECTED)  # fmt: skip
    assert [a.session_id for a in two.alerts] == ["first", "second"]


def _bomb(plain_bytes: int) -> bytes:
    """A gzip file of a purchase followed by ``plain_bytes`` of spaces, made in pieces."""
    out = zlib.compressobj(6, zlib.DEFLATED, 31)  # 31: gzip framing
    parts = [out.compress(ndjson([purchase("2026-03-01T14:00:00Z", "C1", "bomb")]))]
    block = b" " * (1 << 20)
    for _ in range(plain_bytes >> 20):
        parts.append(out.compress(block))
    parts.append(out.flush())
    return b"".join(parts)


def test_a_gzip_bomb_is_a_file_error_read_in_bounded_memory(tmp_path: Path) -> None:
    bomb = _bomb(256 << 20)  # 256 MiB of spaces in about 256 KB
    assert len(bomb) * MAX_GZIP_RATIO < 256 << 20
    (tmp_path / "bomb.json.gz").write_bytes(bomb)
    code = (
        "import resource, sys\n"
        "from datetime import datetime, timezone\n"
        "from shoplake.alerts.core import scan_file\n"
        "data = open(sys.argv[1], 'rb').read()\n"
        "base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "scan = scan_file(data, 'raw/clickstream/2026/03/01/14/b.json.gz',"
        " datetime(2026, 3, 1, 15, tzinfo=timezone.utc))\n"
        "grew = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base\n"
        "print(scan.file_error, len(scan.alerts), grew, sep='\\n')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "bomb.json.gz")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    error, alerts, grew_kib = done.stdout.splitlines()
    assert error.startswith(f"decompression_limit: expands beyond {MAX_GZIP_RATIO} times its")
    assert alerts == "0"  # ingest quarantines the whole file: none of it is alerted
    assert int(grew_kib) < 64 * 1024  # the scan held far less than the 256 MiB


def test_links_and_special_files_are_never_opened(lake_root: Path, tmp_path: Path) -> None:
    start_alerts(lake_root)
    outside = tmp_path / "outside"
    outside.mkdir()
    secret = "MARKER-SECRET-4711"
    (outside / "a.json").write_bytes(
        ndjson([purchase("2026-03-01T14:00:00Z", "C1", "outside", order=secret)])
    )
    folder = landing_dir(lake_root, MAR1_14)
    folder.mkdir(parents=True)
    (folder / "link.json").symlink_to(outside / "a.json")
    (folder / "environ.json").symlink_to("/proc/self/environ")
    os.mkfifo(folder / "fifo.json")
    linked_hour = landing_dir(lake_root, datetime(2026, 3, 1, 15, tzinfo=UTC))
    linked_hour.parent.mkdir(parents=True, exist_ok=True)
    linked_hour.symlink_to(outside, target_is_directory=True)
    drop(lake_root, MAR1_14, "good.json", ndjson([purchase("2026-03-01T14:05:00Z", "C1", "ok")]))
    deep = nested_purchase("2026-03-01T14:06:00Z", "deep", 100_000)
    drop(lake_root, MAR1_14, "deep.json", f"{deep}\n".encode())

    lines: list[str] = []
    summary = process_pending(lake_root, log=lines.append)  # returns: the FIFO never blocks
    assert [a["session_id"] for a in published_alerts(lake_root)] == ["ok"]
    assert summary.new_alerts == 1
    # the lake's listing holds regular files only (links and special files are ingest's
    # to quarantine, unread): the scanner sees just the two real files
    scanned = sorted(line.split()[0].rsplit("/", 1)[1] for line in lines)
    assert scanned == ["deep.json", "good.json"]
    notes = summary.as_report().notes
    assert "lines skipped for the contract's input limits: too_deep 1" in notes
    ledger = (lake_root / "_state" / "alerts" / "ledger.sqlite").read_bytes()
    assert secret.encode() not in ledger
    assert b"AWS_" not in ledger
    assert b"PATH=" not in ledger


def test_watch_survives_a_deep_line_and_restarts(lake_root: Path, receiver: Receiver) -> None:
    watcher = WatchProcess(lake_root, receiver.url)
    try:
        watcher.wait_started()
        now = datetime.now(UTC)
        stamp = now.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        deep = nested_purchase(stamp, "deep", 100_000)
        after = json.dumps(purchase(stamp, "C1", "after"))
        drop(lake_root, now, "deep.json", f"{deep}\n{after}\n".encode())
        assert receiver.wait_for_keys({expected_id(stamp, "C1", "after")}, timeout=20)
        watcher.wait_for(lambda line: "deep.json alerts=1 new=1 bad_lines=1" in line)
        (line,) = [line for line in watcher.lines if "deep.json" in line]
        assert line.endswith(" skipped=too_deep:1")
        assert watcher.stop() == 0

        for attempt in range(2):  # restarts: the deep file is not a reason to die
            watcher = WatchProcess(lake_root, receiver.url)
            watcher.wait_started()
            later = datetime.now(UTC)
            stamp2 = later.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
            data = f"{deep}\n{json.dumps(purchase(stamp2, 'C2', f'later{attempt}'))}\n"
            drop(lake_root, later, f"later{attempt}.json", data.encode())
            key = expected_id(stamp2, "C2", f"later{attempt}")
            assert receiver.wait_for_keys({key}, timeout=20), watcher.lines
            assert watcher.stop() == 0  # it lived, and stops cleanly
    finally:
        if watcher.proc.poll() is None:
            watcher.kill()
    assert sorted(receiver.accepted_keys().values()) == [1, 1, 1]
    notes = " ".join(status(lake_root).notes)
    assert "too_deep 3" in notes


def test_files_named_as_ingest_accepts_them_alert_too(lake_root: Path) -> None:
    """.ndjson, .jsonl and upper-case endings are clickstream for ingest: for alerts too."""
    drop(lake_root, MAR1_14, "a.ndjson", ndjson([purchase("2026-03-01T14:01:00Z", "C1", "a")]))
    drop(lake_root, MAR1_14, "b.JSONL", ndjson([purchase("2026-03-01T14:02:00Z", "C1", "b")]))
    packed = gzip.compress(ndjson([purchase("2026-03-01T14:03:00Z", "C1", "c")]))
    drop(lake_root, MAR1_14, "c.Json.GZ", packed)
    drop(lake_root, MAR1_14, "d.txt", ndjson([purchase("2026-03-01T14:04:00Z", "C1", "d")]))
    process_pending(lake_root, backfill="2026-03-01")
    assert sorted(a["session_id"] for a in published_alerts(lake_root)) == ["a", "b", "c"]
