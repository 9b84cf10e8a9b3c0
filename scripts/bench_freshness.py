"""Freshness benchmark: from an hourly clickstream file landing to (a) its purchase alerts
and (b) its data in the gold marts, at the default scale.

    python scripts/bench_freshness.py [--days 30] [--orders-per-day 200] [--work DIR]

1. Generates ``--days`` days of raw data (the default scale) and runs the daily job once,
   so the warehouse is warm, as it is on any day but the first.
2. Starts ``shoplake alerts watch`` on the lake and lets it catch up with the backlog.
3. Lands one more hourly clickstream file (the next day's busiest hour, generated with
   another seed) in the current hour's landing folder, the way an uploader does: written
   under a ``_`` name, then renamed. The rename is time zero.
4. (a) waits until every purchase in that file has its alert in ``alerts/``; the expected
   alert ids are computed here from the file itself (``shoplake.contract.click_id``).
5. (b) runs what a landing-triggered (or hourly) run does, ``shoplake run --from ingest``,
   and records when the new hour's purchase sessions are in ``agg_daily_funnel`` (after
   the build step) and when the dashboard is rewritten (the end of the run).

The seeds ask for data in the dashboards within 2 hours of landing (aim: a minute); with
a daily schedule the wait for the next run dominates, so both figures are also what a
landing-triggered run achieves.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import duckdb

from shoplake.contract import click_id, format_utc
from shoplake.lake import Lake

SHOPLAKE = [sys.executable, "-m", "shoplake.cli"]


def shoplake(*args: str) -> float:
    started = time.perf_counter()
    subprocess.run([*SHOPLAKE, *args], check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def purchases(path: Path) -> set[str]:
    """Alert ids the file must produce: the click ids of its purchase events."""
    raw = path.read_bytes()
    text = (gzip.decompress(raw) if path.name.endswith(".gz") else raw).decode("utf-8-sig")
    ids = set()
    for line in text.splitlines():
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if not isinstance(event, dict) or event.get("action") != "purchase":
            continue
        when = datetime.fromisoformat(str(event["event_time"]).replace("Z", "+00:00"))
        ids.add(
            click_id(
                format_utc(when),
                event["user_id"],
                event["session_id"],
                event["action"],
                event.get("page_url"),
            )
        )
    return ids


def alert_ids(lake: Lake) -> set[str]:
    ids = set()
    for path in (lake.root / "alerts").rglob("*.ndjson"):
        if path.name.startswith(("_", ".")):
            continue
        for line in path.read_text("utf-8").splitlines():
            if line.strip():
                ids.add(json.loads(line)["alert_id"])
    return ids


def busiest_hour_file(scratch: Lake, day: date) -> Path:
    folder = scratch.root / "raw" / "clickstream" / f"{day:%Y/%m/%d}"
    files = [p for p in folder.rglob("*") if p.is_file() and not p.name.startswith(("_", "."))]
    return max(files, key=lambda p: len(purchases(p)))


def wait_quiet(lake: Lake, quiet_s: float = 3.0, timeout_s: float = 600.0) -> None:
    """Wait until the watcher has written no new alert file for ``quiet_s`` seconds."""
    deadline = time.monotonic() + timeout_s
    last, stable_since = -1, time.monotonic()
    while time.monotonic() < deadline:
        count = sum(1 for _ in (lake.root / "alerts").rglob("*.ndjson"))
        if count != last:
            last, stable_since = count, time.monotonic()
        elif time.monotonic() - stable_since >= quiet_s:
            return
        time.sleep(0.2)
    raise SystemExit("the watcher did not catch up with the backlog")


def funnel_has(lake: Lake, day: date) -> bool:
    with duckdb.connect(str(lake.root / "warehouse.duckdb"), read_only=True) as con:
        rows = con.execute(
            "select purchase_sessions from agg_daily_funnel where date_day = ?", [day]
        ).fetchall()
    return bool(rows and rows[0][0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--orders-per-day", type=int, default=200)
    parser.add_argument("--start", type=date.fromisoformat, default=date(2026, 10, 1))
    parser.add_argument("--work", type=Path, default=None, help="work directory (kept)")
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="shoplake-bench-freshness-"))
    lake = Lake.at(work / "lake")
    scratch = Lake.at(work / "next-day")
    shutil.rmtree(lake.root, ignore_errors=True)
    shutil.rmtree(scratch.root, ignore_errors=True)
    new_day = args.start + timedelta(days=args.days)

    print(f"generating {args.days} days at {args.orders_per_day} orders/day ...", flush=True)
    common = ["--orders-per-day", str(args.orders_per_day)]
    shoplake("generate", "--lake", str(lake.root), "--start", str(args.start),
             "--days", str(args.days), *common)  # fmt: skip
    shoplake("generate", "--lake", str(scratch.root), "--start", str(new_day), "--days", "1",
             "--seed", "7", *common)  # fmt: skip
    initial = shoplake("run", "--lake", str(lake.root))
    print(f"initial daily run: {initial:.1f} s", flush=True)

    watcher = subprocess.Popen(
        [*SHOPLAKE, "alerts", "watch", "--lake", str(lake.root), "--interval", "0.5"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_quiet(lake)
        source = busiest_hour_file(scratch, new_day)
        expected = purchases(source)
        # it lands now: raw/clickstream/<current UTC date and hour>/ (its events are of
        # the next business day; landing folders are by delivery time)
        relative = (
            lake.landing_dir("clickstream", datetime.now(timezone.utc)).relative_to(lake.root)
            / source.name
        )
        target = lake.root / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        upload = target.with_name(f"_{target.name}.uploading")
        shutil.copyfile(source, upload)
        landed = time.perf_counter()
        os.replace(upload, target)  # the file lands

        while not expected <= alert_ids(lake):
            if time.perf_counter() - landed > 300:
                raise SystemExit("alerts did not arrive within 5 minutes")
            time.sleep(0.05)
        to_alerts = time.perf_counter() - landed
    finally:
        watcher.terminate()
        watcher.wait(timeout=30)

    process = subprocess.Popen(
        [*SHOPLAKE, "run", "--lake", str(lake.root), "--from", "ingest"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    to_gold = None
    for line in process.stderr:
        if to_gold is None and "] docs:" in line:  # the build step finished
            to_gold = time.perf_counter() - landed
    if process.wait() != 0:
        raise SystemExit("the run failed")
    to_dashboard = time.perf_counter() - landed
    assert funnel_has(lake, new_day), "the new hour is not in agg_daily_funnel"

    print()
    print(f"hourly file: {relative} ({len(expected)} purchases)")
    print(f"{'landing -> purchase alerts':<40}{to_alerts:>8.2f} s")
    print(f"{'landing -> gold marts (ingest+build)':<40}{to_gold:>8.2f} s")
    print(f"{'landing -> dashboard (whole run)':<40}{to_dashboard:>8.2f} s")
    print(f"{'target (seeds: 2 h; aim 1 min)':<40}{'':>8}  alerts {to_alerts / 60:.3f} min, "
          f"gold {to_gold / 60:.2f} min")  # fmt: skip
    print(f"measured {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, work dir {work}")


if __name__ == "__main__":
    main()
