"""Benchmark the warehouse build on DuckDB: full build vs incremental build after one day.

    python scripts/bench_build.py [--days 60] [--orders-per-day 2000] [--lake DIR]
    python scripts/bench_build.py --days 30 365 --orders-per-day 100

For every --days N (a separate lake each):

1. ``shoplake generate`` writes N days of raw data at --orders-per-day;
2. every raw file that landed before the last day is ingested, dbt parses the project
   once (so that both builds below start from the same partial-parse state, as every
   daily build does), and the warehouse is built from scratch (``--full-refresh``:
   seeds, models, data and unit tests);
3. the last day's deliveries (a new day, late files, status changes re-sent) are
   ingested and the warehouse is built again as ``shoplake build`` does it
   (incremental models; the unit tests, which depend on the project only, already
   passed for these files).

Prints, per history length, both builds' wall-clock times and their ratio (target:
incremental <= 10% of full), where the incremental build's time goes (dbt's fixed cost:
start-up, parsing and writing artifacts, the wall time outside run_results.json's
elapsed time; models; data tests; the slowest nodes), and with two or more lengths the
ratio of the longest history's incremental time to the shortest's (target: <= 1.5x at
a fixed daily volume).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

from shoplake.generate import generate
from shoplake.ingest import run_ingest
from shoplake.lake import Lake
from shoplake.landing import land
from shoplake.warehouse import BuildResult, build, run_dbt

FACTS = ("fact_orders", "sales_fact", "fact_payments", "fact_clicks")


def breakdown(result: BuildResult) -> dict:
    """Seconds per kind of node, dbt's own elapsed time, and every node's time."""
    assert result.run_results is not None
    data = json.loads(result.run_results.read_text())
    nodes = {r["unique_id"]: r["execution_time"] for r in data["results"]}
    kinds: dict[str, float] = {}
    for uid, seconds in nodes.items():
        kinds[uid.split(".")[0]] = kinds.get(uid.split(".")[0], 0.0) + seconds
    return {"elapsed": data["elapsed_time"], "kinds": kinds, "nodes": nodes}


def describe(name: str, result: BuildResult) -> dict:
    b = breakdown(result)
    kinds = b["kinds"]
    fixed = result.seconds - b["elapsed"]
    print(
        f"{name:<18} {result.seconds:6.1f} s  (dbt fixed cost {fixed:4.1f} s; models "
        f"{kinds.get('model', 0):5.1f} s, data tests {kinds.get('test', 0):5.1f} s, "
        f"unit tests {kinds.get('unit_test', 0):4.1f} s, seeds {kinds.get('seed', 0):4.1f} s)",
        flush=True,
    )
    return b


def bench(days: int, orders_per_day: int, start: date, work: Path) -> tuple[float, float]:
    """One history length: (full build seconds, incremental build seconds)."""
    last_day = start + timedelta(days=days - 1)
    source, lake = Lake.at(work / "generated"), Lake.at(work / "lake")
    print(f"--- {days} days x {orders_per_day} orders/day ({work})", flush=True)
    t = time.perf_counter()
    generate(source, start=start, days=days, orders_per_day=orders_per_day)
    print(f"generate: {time.perf_counter() - t:.1f} s", flush=True)

    # Ingest runs as a daily pipeline would: the first the morning of the last day, the
    # second a day later (ingested_at is the run's start; the facts' lookback of a few
    # hours must not reach back into the previous day's run).
    first_run = datetime.combine(last_day, datetime.min.time(), timezone.utc) + timedelta(hours=6)
    land(source, lake, before=last_day)
    t = time.perf_counter()
    run_ingest(lake, now=first_run)
    print(f"ingest (first {days - 1} days): {time.perf_counter() - t:.1f} s", flush=True)

    run_dbt(["parse"], lake, quiet=True)  # the partial-parse state every daily build has
    full = build(lake, full_refresh=True, quiet=True)
    full_b = describe("full build:", full)

    land(source, lake, before=None)
    run_ingest(lake, now=first_run + timedelta(days=1))
    incremental = build(lake, quiet=True)
    inc_b = describe("incremental build:", incremental)
    print(f"ratio incremental/full: {incremental.seconds / full.seconds:.1%} (wall clock)")
    f_full = sum(full_b["nodes"][f"model.shoplake.{m}"] for m in FACTS)
    f_inc = sum(inc_b["nodes"][f"model.shoplake.{m}"] for m in FACTS)
    print(f"incremental facts: {f_inc:.2f} s vs {f_full:.2f} s full ({f_inc / f_full:.1%})")
    slowest = sorted(inc_b["nodes"].items(), key=lambda kv: -kv[1])[:6]
    print(
        "slowest incremental nodes: "
        + ", ".join(f"{u.split('.')[-1]} {s:.2f} s" for u, s in slowest)
    )
    return full.seconds, incremental.seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--days", type=int, nargs="+", default=[60], help="Days of history (default 60)."
    )
    parser.add_argument(
        "--orders-per-day", type=int, default=2000, help="Daily volume (default 2000)."
    )
    parser.add_argument("--start", default="2025-07-01", help="First day (YYYY-MM-DD).")
    parser.add_argument("--lake", help="Work directory (default: a temporary directory).")
    args = parser.parse_args()

    work = Path(args.lake or tempfile.mkdtemp(prefix="shoplake-bench-build-"))
    start = date.fromisoformat(args.start)
    results = {
        days: bench(days, args.orders_per_day, start, work / f"{days}d") for days in args.days
    }
    if len(results) > 1:
        shortest, longest = min(results), max(results)
        ratio = results[longest][1] / results[shortest][1]
        print(
            f"incremental build at {longest} vs {shortest} days of history "
            f"({args.orders_per_day} orders/day): {results[longest][1]:.1f} s vs "
            f"{results[shortest][1]:.1f} s = {ratio:.2f}x (target <= 1.5x)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
