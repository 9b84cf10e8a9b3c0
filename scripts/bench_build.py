"""Benchmark the warehouse build on DuckDB: full build vs incremental build after one day.

    python scripts/bench_build.py [--days 90] [--orders-per-day 200] [--lake DIR]

1. ``shoplake generate`` writes --days days of raw data (default scale);
2. every raw file that landed before the last day is ingested, and the warehouse is
   built from scratch (``dbt build --full-refresh``: seeds, models, tests);
3. the last day's deliveries (a new day, late files, status changes re-sent) are
   ingested and the warehouse is built again, incrementally.

Prints wall-clock times of both builds and their ratio (target: incremental <= 10% of
full), and the same for the models alone (sum of the models' execution times from
dbt's run_results.json), which separates data work from dbt's fixed per-run cost
(start-up, parsing, ~160 tests that run on every build).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

from shoplake.generate import generate
from shoplake.ingest import run_ingest
from shoplake.lake import Lake, landing_time
from shoplake.warehouse import build


def land(source: Lake, lake: Lake, before: date | None) -> int:
    copied = 0
    for path in sorted((source.root / "raw").rglob("*")):
        if not path.is_file():
            continue
        relative = source.relative(path)
        landed = landing_time(relative)
        if before is not None and (landed is None or landed.date() >= before):
            continue
        target = lake.absolute(relative)
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target)
            copied += 1
    return copied


def model_seconds(run_results: Path) -> tuple[float, dict[str, float]]:
    results = json.loads(run_results.read_text())["results"]
    models = {
        r["unique_id"].split(".")[-1]: r["execution_time"]
        for r in results
        if r["unique_id"].startswith("model.")
    }
    return sum(models.values()), models


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=90, help="Days of history (default 90).")
    parser.add_argument(
        "--orders-per-day", type=int, default=200, help="Scale (default: 200, the default)."
    )
    parser.add_argument("--start", default="2026-07-01", help="First day (YYYY-MM-DD).")
    parser.add_argument("--lake", help="Work directory (default: a temporary directory).")
    args = parser.parse_args()

    work = Path(args.lake or tempfile.mkdtemp(prefix="shoplake-bench-build-"))
    start = date.fromisoformat(args.start)
    last_day = start + timedelta(days=args.days - 1)
    source, lake = Lake.at(work / "generated"), Lake.at(work / "lake")

    t = time.perf_counter()
    generate(source, start=start, days=args.days, orders_per_day=args.orders_per_day)
    print(
        f"generate: {args.days} days x {args.orders_per_day} orders/day "
        f"in {time.perf_counter() - t:.1f} s",
        flush=True,
    )

    # Ingest runs as a daily pipeline would: the first the morning after the 89th day,
    # the second a day later (ingested_at is the run's start; the facts' lookback of a
    # few hours must not reach back into the previous day's run).
    first_run = datetime.combine(last_day, datetime.min.time(), timezone.utc) + timedelta(hours=6)
    land(source, lake, before=last_day)
    t = time.perf_counter()
    run_ingest(lake, now=first_run)
    print(f"ingest (first {args.days - 1} days): {time.perf_counter() - t:.1f} s", flush=True)

    full = build(lake, full_refresh=True, quiet=True)
    full_models, full_by_model = model_seconds(full.run_results)
    print(f"full build:        {full.seconds:6.1f} s  (models {full_models:5.1f} s)", flush=True)

    land(source, lake, before=None)
    run_ingest(lake, now=first_run + timedelta(days=1))
    incremental = build(lake, quiet=True)
    inc_models, inc_by_model = model_seconds(incremental.run_results)
    print(f"incremental build: {incremental.seconds:6.1f} s  (models {inc_models:5.1f} s)")
    print(
        f"ratio incremental/full: {incremental.seconds / full.seconds:.1%} (wall clock), "
        f"{inc_models / full_models:.1%} (models only)"
    )
    facts = ("fact_orders", "sales_fact", "fact_payments", "fact_clicks")
    f_full = sum(full_by_model[m] for m in facts)
    f_inc = sum(inc_by_model[m] for m in facts)
    print(f"incremental facts: {f_inc:.2f} s vs {f_full:.2f} s full ({f_inc / f_full:.1%})")
    print(f"lake: {work}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
