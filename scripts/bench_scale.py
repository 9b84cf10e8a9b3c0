"""Benchmark shoplake at a scale: generate -> ingest -> build -> one more day -> build.

    python scripts/bench_scale.py [--events 1000000] [--days 30] [--ingest-by-day]
                                  [--work DIR] [--keep]

Each step runs the ``shoplake`` CLI in a child process, as a user would:

1. ``shoplake generate --events N'`` writes ``--days`` days of history and one more day
   into a source directory (N' is N for the history plus one day's worth);
2. the files that landed before the last day are linked into the lake, then
   ``shoplake ingest`` and ``shoplake build --full-refresh``;
3. the last day's files are linked in, then ``shoplake ingest`` and ``shoplake build``
   (incremental).

With ``--ingest-by-day`` the history is ingested as a daily schedule would have done it,
one landing day per ``shoplake ingest`` (the step's figures are the runs' sums, its peak
the largest), instead of in one first run.

Per step it prints wall time, clickstream events per second, peak memory of the step's
whole process tree (the sum of the processes' proportional set sizes, sampled every
0.2 s, and the largest single process's peak RSS from ``getrusage``), bytes read and
written by the tree (``/proc/<pid>/io`` ``rchar``/``wchar``: every byte passed through
``read``/``write`` calls, page cache included) and the files the step added under the
lake. Each step's peak is checked against ``--memory-limit-gb`` (default 8): the script
says which step exceeds it and exits with status 1.

Then, on the DuckDB warehouse the builds made (item 5 of the scale work: queries analysts
run stay interactive): every query of the dashboard (``shoplake dashboard``'s data, each
query timed), the four analyses in ``analyses/`` (compiled by ``dbt compile``), and a
date-filtered query on silver clickstream next to the same query over all of it, with the
bytes DuckDB read for each (``/proc/self/io``) and the files its scan opened (``EXPLAIN
ANALYZE``): the filtered one reads only its partition and, within it, the row groups of
its hour.

Ends with a markdown row per table for the README's Performance section. Linux only
(``/proc``). Needs nothing beyond shoplake's own dependencies.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import duckdb

from shoplake.dashboard import non_revenue_statuses
from shoplake.dashboard.data import business_data
from shoplake.dashboard.quality import exchange_rate_data, history_data
from shoplake.lake import Lake
from shoplake.landing import land
from shoplake.warehouse import default_duckdb_path, run_dbt

GB = 1024**3
#: Runs a command, then reports the I/O of its whole tree and the peak RSS of its largest
#: process: a process's /proc/self/io includes the I/O of the children it has reaped.
_WRAPPER = """
import json, resource, subprocess, sys
def io():
    with open('/proc/self/io') as f:
        return {k: int(v) for k, v in (line.split(': ') for line in f)}
before = io()
code = subprocess.call(sys.argv[2:])
after = io()
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
with open(sys.argv[1], 'w') as f:
    json.dump({'code': code, 'rchar': after['rchar'] - before['rchar'],
               'wchar': after['wchar'] - before['wchar'],
               'read_bytes': after['read_bytes'] - before['read_bytes'],
               'write_bytes': after['write_bytes'] - before['write_bytes'],
               'max_rss': usage.ru_maxrss * 1024,
               'cpu': usage.ru_utime + usage.ru_stime}, f)
sys.exit(code)
"""


@dataclass
class Step:
    name: str
    seconds: float = 0.0
    cpu: float = 0.0  # user + system seconds of the whole tree
    events: int = 0
    tree_peak: int = 0  # bytes: the largest sum of the tree's PSS seen
    process_peak: int = 0  # bytes: the largest single process's peak RSS
    read: int = 0
    written: int = 0
    files: int = 0
    code: int = 0
    output: str = ""
    killed: bool = False  # stopped by the bench: its tree went over the kill threshold

    @property
    def peak(self) -> int:
        return max(self.tree_peak, self.process_peak)

    @property
    def rate(self) -> float | None:
        return self.events / self.seconds if self.seconds and self.events else None


class StepKilled(Exception):
    def __init__(self, step: Step) -> None:
        self.step = step


@dataclass
class QueryTime:
    group: str
    name: str
    seconds: list[float] = field(default_factory=list)
    rows: int = 0
    note: str = ""

    @property
    def best(self) -> float:
        return min(self.seconds)


# measuring a child process tree --------------------------------------------------------
def descendants(root: int) -> list[int]:
    """``root`` and every process below it (from /proc/<pid>/stat's parent ids)."""
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        ppid = int(stat[stat.rindex(b")") + 2 :].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, ()))
    return found


def memory_of(pid: int) -> int:
    """Proportional set size of a process in bytes (shared pages split between sharers)."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


class TreeSampler(threading.Thread):
    """Samples the memory of a process tree until stopped; keeps the peak."""

    def __init__(self, root: int, kill_over: int | None, interval: float = 0.2) -> None:
        super().__init__(daemon=True)
        self.root, self.kill_over, self.interval = root, kill_over, interval
        self.peak = 0
        self.killed = False
        self._done = threading.Event()

    def run(self) -> None:
        while not self._done.is_set():
            total = sum(memory_of(pid) for pid in descendants(self.root))
            self.peak = max(self.peak, total)
            if self.kill_over is not None and total > self.kill_over and not self.killed:
                # the machine is shared: stop the step (its own session) before it hurts others
                self.killed = True
                os.killpg(self.root, signal.SIGKILL)
            self._done.wait(self.interval)

    def stop(self) -> int:
        self._done.set()
        self.join()
        return self.peak


def count_files(root: Path) -> int:
    return sum(len(files) for _, _, files in os.walk(root)) if root.exists() else 0


def run_step(
    name: str, argv: list[str], lake_root: Path, scratch: Path, env: dict, kill_over: int | None
) -> Step:
    """Run one shoplake command in a measured child process tree."""
    report = scratch / f"{name.replace(' ', '_')}.io.json"
    before = count_files(lake_root)
    began = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-c", _WRAPPER, str(report), *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        start_new_session=True,
    )
    sampler = TreeSampler(proc.pid, kill_over)
    sampler.start()
    try:
        output = proc.communicate()[0]
    except BaseException:  # interrupted: do not leave the step running
        os.killpg(proc.pid, signal.SIGKILL)
        raise
    seconds = time.perf_counter() - began
    tree_peak = sampler.stop()
    io = json.loads(report.read_text()) if report.exists() else {}
    step = Step(
        name,
        seconds=seconds,
        cpu=io.get("cpu", 0.0),
        tree_peak=tree_peak,
        process_peak=io.get("max_rss", 0),
        read=io.get("rchar", 0),
        written=io.get("wchar", 0),
        files=count_files(lake_root) - before,
        code=proc.returncode,
        output=output,
        killed=sampler.killed,
    )
    if sampler.killed:
        return step
    if proc.returncode != 0:
        sys.stderr.write(output)
        raise SystemExit(f"bench_scale: step {name!r} failed with exit status {proc.returncode}")
    return step


# the lake --------------------------------------------------------------------------------
def silver_rows(lake: Lake, dataset: str = "clickstream") -> int:
    if not list((lake.root / "silver" / dataset).glob("year=*")):
        return 0
    with duckdb.connect() as con:
        sql = "select count(*) from read_parquet(?)"
        return con.execute(sql, [lake.silver_glob(dataset)]).fetchone()[0]


# item 5: the queries -----------------------------------------------------------------------
class TimedConnection:
    """A DuckDB connection whose every ``execute(...).fetch*()`` is timed (the dashboard's
    data functions run on it unchanged)."""

    def __init__(self, con: duckdb.DuckDBPyConnection, group: str) -> None:
        self.con, self.group = con, group
        self.times: list[QueryTime] = []

    def execute(self, sql: str, params: list | None = None) -> _Fetched:
        began = time.perf_counter()
        rows = self.con.execute(sql, params or []).fetchall()
        name = " ".join(sql.split())[:70]
        self.times.append(QueryTime(self.group, name, [time.perf_counter() - began], len(rows)))
        return _Fetched(rows)


class _Fetched:
    def __init__(self, rows: list) -> None:
        self.rows = rows

    def fetchall(self) -> list:
        return self.rows

    def fetchone(self) -> Any:
        return self.rows[0] if self.rows else None


def dashboard_queries(path: Path, repeats: int) -> list[QueryTime]:
    """Every query ``shoplake dashboard`` runs, each timed ``repeats`` times."""
    merged: dict[int, QueryTime] = {}
    statuses = non_revenue_statuses()
    for _ in range(repeats):
        with duckdb.connect(str(path), read_only=True) as con:
            timed = TimedConnection(con, "dashboard")
            business_data(timed, statuses)
            history_data(timed)
            exchange_rate_data(timed)
        for i, q in enumerate(timed.times):
            if i in merged:
                merged[i].seconds += q.seconds
            else:
                merged[i] = q
    return list(merged.values())


def compiled_analyses(lake: Lake) -> dict[str, str]:
    """The analyses of analyses/ compiled for the dev target by ``dbt compile``."""
    run = run_dbt(["compile", "--select", "resource_type:analysis"], lake, quiet=True)
    if not run.success:
        raise SystemExit(f"bench_scale: dbt compile of the analyses failed:\n{run.output}")
    found = sorted(run.target_path.glob("compiled/*/analyses/*.sql"))
    return {p.stem: p.read_text() for p in found}


def analysis_queries(lake: Lake, path: Path, repeats: int) -> list[QueryTime]:
    out = []
    for name, sql in compiled_analyses(lake).items():
        q = QueryTime("analysis", name)
        for _ in range(repeats):
            with duckdb.connect(str(path), read_only=True) as con:
                began = time.perf_counter()
                q.rows = len(con.execute(sql).fetchall())
                q.seconds.append(time.perf_counter() - began)
        out.append(q)
    return out


def process_rchar() -> int:
    with open("/proc/self/io") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("rchar:"))


def silver_queries(lake: Lake, day: date, repeats: int) -> tuple[list[QueryTime], dict]:
    """The same query over all of silver clickstream, one day and one hour of that day:
    time, bytes read, files opened. The day and the hour both filter on the partition and
    on event_time, so that they read the same columns: the hour reads less because it
    skips the day file's row groups of other hours (their event_time statistics)."""
    glob = lake.silver_glob("clickstream")
    scan = f"read_parquet('{glob}', hive_partitioning = true)"
    select = "select count(*) as events, count(distinct session_id) as sessions"
    partition = f"year = {day.year} and month = {day.month} and day = {day.day}"

    def between(lo: datetime, hi: datetime) -> str:
        return (
            f"where {partition} and event_time >= timestamp '{lo:%Y-%m-%d %H:%M:%S}' "
            f"and event_time < timestamp '{hi:%Y-%m-%d %H:%M:%S}'"
        )

    midnight = datetime(day.year, day.month, day.day)
    ten = midnight + timedelta(hours=10)
    queries = {
        "all days": f"{select} from {scan}",
        f"{day}": f"{select} from {scan} {between(midnight, midnight + timedelta(days=1))}",
        f"{day} 10:00-11:00": f"{select} from {scan} {between(ten, ten + timedelta(hours=1))}",
    }
    day_file = lake.root / lake.partition_key("clickstream", day)
    with duckdb.connect() as con:
        sql = "select count(distinct row_group_id) from parquet_metadata(?)"
        groups = con.execute(sql, [str(day_file)]).fetchone()[0]
    silver_bytes = sum(
        p.stat().st_size for p in (lake.root / "silver" / "clickstream").rglob("*.parquet")
    )
    detail: dict[str, Any] = {
        "silver_bytes": silver_bytes,
        "day_file_bytes": day_file.stat().st_size,
        "day_row_groups": groups,
    }
    out = []
    for name, sql in queries.items():
        q = QueryTime("silver", name)
        with duckdb.connect() as con:
            con.execute("set enable_object_cache = false")
            for _ in range(repeats):
                read_before = process_rchar()
                began = time.perf_counter()
                q.rows = con.execute(sql).fetchone()[0]
                q.seconds.append(time.perf_counter() - began)
                read = process_rchar() - read_before
            plan = "\n".join(row[1] for row in con.execute(f"explain analyze {sql}").fetchall())
        files = re.search(r"Total Files Read:\s*(\d+)", plan)
        q.note = f"{read / 1e6:,.2f} MB read, {files.group(1) if files else '?'} files"
        detail[name] = {"bytes_read": read, "files": files.group(1) if files else None}
        out.append(q)
    return out, detail


# printing --------------------------------------------------------------------------------
def fmt_bytes(n: int) -> str:
    return f"{n / GB:.2f} GiB" if n >= GB else f"{n / 1024**2:.0f} MiB"


def fmt_seconds(s: float) -> str:
    return f"{s:.1f} s" if s < 120 else f"{s / 60:.1f} min"


def progress(s: Step) -> None:
    print(
        f"  {s.name}: {fmt_seconds(s.seconds)} ({fmt_seconds(s.cpu)} CPU), "
        f"{s.events:,} events, peak {fmt_bytes(s.peak)}",
        flush=True,
    )


def print_steps(steps: list[Step], limit: int) -> None:
    head = ("step", "wall", "cpu", "events", "events/s", "peak tree", "peak proc", "read")
    print("\n" + " | ".join(head) + " | written | files | <= limit")
    for s in steps:
        rate = f"{s.rate / 1e6:.3f} M/s" if s.rate else "-"
        ok = "stopped" if s.killed else "yes" if s.peak <= limit else "NO"
        print(
            f"{s.name} | {fmt_seconds(s.seconds)} | {fmt_seconds(s.cpu)} | {s.events:,} | "
            f"{rate} | {fmt_bytes(s.tree_peak)} | {fmt_bytes(s.process_peak)} | "
            f"{fmt_bytes(s.read)} | {fmt_bytes(s.written)} | {s.files:,} | {ok}"
        )


def print_queries(queries: list[QueryTime]) -> None:
    print("\ngroup | query | rows | first | best | note")
    for q in queries:
        print(
            f"{q.group} | {q.name} | {q.rows:,} | {q.seconds[0] * 1000:,.0f} ms | "
            f"{q.best * 1000:,.0f} ms | {q.note}"
        )


def markdown(events: int, steps: dict[str, Step], queries: list[QueryTime]) -> list[str]:
    def cell(name: str) -> str:
        s = steps[name]
        return f"{fmt_seconds(s.seconds)} ({fmt_seconds(s.cpu)} CPU), {fmt_bytes(s.peak)}"

    full, inc = steps["build full"], steps["build incremental"]
    dash = sum(q.best for q in queries if q.group == "dashboard")
    worst = max((q.best for q in queries if q.group == "analysis"), default=0.0)
    silver = [q for q in queries if q.group == "silver"]
    return [
        f"| {events:,} | {cell('generate')} | {cell('ingest history')} | "
        f"{cell('build full')} | {cell('ingest +1 day')} | {cell('build incremental')} | "
        f"{inc.seconds / full.seconds:.0%} | "
        f"{steps['ingest history'].rate / 1e6:.3f} M/s |",
        f"| {events:,} | {dash:.2f} s | {worst:.2f} s | "
        + " | ".join(f"{q.best * 1000:,.0f} ms ({q.note})" for q in silver)
        + " |",
    ]


# main ------------------------------------------------------------------------------------
def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--events",
        type=int,
        default=1_000_000,
        help="Clickstream events of the history (default 1,000,000; the curve: 1 M, 10 M, 100 M).",
    )
    parser.add_argument("--days", type=int, default=30, help="Days of history (default 30).")
    parser.add_argument(
        "--start",
        help="First day (YYYY-MM-DD; default: --days + 1 days ago, so that the history and "
        "the one more day end yesterday: later days would be future events, which ingest "
        "quarantines).",
    )
    parser.add_argument("--work", help="Work directory (default: a new temporary directory).")
    parser.add_argument("--keep", action="store_true", help="Keep the work directory.")
    parser.add_argument(
        "--memory-limit-gb", type=float, default=8.0, help="Peak memory allowed per step (8)."
    )
    parser.add_argument(
        "--ingest-by-day",
        action="store_true",
        help="Ingest the history one landing day per run (as a daily schedule would have) "
        "instead of in one run.",
    )
    parser.add_argument(
        "--kill-over-gb",
        type=float,
        default=12.0,
        help="Stop a step whose process tree goes over this many GB (12; 0: never), so "
        "that a step that does not fit leaves the rest of a shared machine alone.",
    )
    parser.add_argument(
        "--repeats", type=int, default=3, help="Runs of each query (the best is kept; 3)."
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    today = datetime.now(timezone.utc).date()
    start = date.fromisoformat(args.start) if args.start else today - timedelta(days=args.days + 1)
    last_day = start + timedelta(days=args.days)
    if last_day >= today:
        print(
            f"bench_scale: the one more day, {last_day}, is not in the past: its events "
            f"would be quarantined as future; pass a --start before "
            f"{today - timedelta(days=args.days)}",
            file=sys.stderr,
        )
        return 2
    work = Path(args.work or tempfile.mkdtemp(prefix="shoplake-bench-scale-"))
    work.mkdir(parents=True, exist_ok=True)
    source, lake_root, scratch = work / "generated", work / "lake", work / "scratch"
    for folder in (source, lake_root):
        if folder.exists() and any(folder.iterdir()):
            raise SystemExit(f"bench_scale: {folder} is not empty; pass another --work")
    for folder in (source, lake_root, scratch):
        folder.mkdir(parents=True, exist_ok=True)
    lake = Lake.at(lake_root)
    generated = Lake.at(source)
    limit = int(args.memory_limit_gb * GB)
    shoplake = [sys.executable, "-m", "shoplake.cli"]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    total_events = args.events + round(args.events / args.days)
    print(
        f"bench_scale: {args.events:,} events over {args.days} days from {start} "
        f"(+1 day), {os.cpu_count()} CPUs, {platform.platform()}, work dir {work}, "
        f"load average {os.getloadavg()[0]:.1f}"
    )
    steps: dict[str, Step] = {}

    kill_over = int(args.kill_over_gb * GB) if args.kill_over_gb else None

    def step(name: str, *command: str, root: Path = lake_root) -> Step:
        steps[name] = s = run_step(name, [*shoplake, *command], root, scratch, env, kill_over)
        if s.killed:
            raise StepKilled(s)
        return s

    def ingest_day_by_day(first: date, end: date) -> Step:
        """The history ingested as it would have landed, one day at a time: one step
        whose time, bytes and files are the sums and whose peak is the largest."""
        total = Step("ingest history")
        day = first
        while day < end:
            day += timedelta(days=1)
            land(generated, lake, day, link=True)
            s = step("ingest history", "ingest", "--lake", str(lake_root))
            total.seconds += s.seconds
            total.cpu += s.cpu
            total.read += s.read
            total.written += s.written
            total.files += s.files
            total.tree_peak = max(total.tree_peak, s.tree_peak)
            total.process_peak = max(total.process_peak, s.process_peak)
        steps[total.name] = total
        print(f"  ingested the history day by day ({(end - first).days} runs)")
        return total

    try:
        s = step(
            "generate",
            *("generate", "--lake", str(source), "--start", start.isoformat()),
            *("--days", str(args.days + 1), "--events", str(total_events)),
            root=source,
        )
        summary = json.loads((source / "_state" / "generate" / "summary.json").read_text())
        click = summary["datasets"]["clickstream"]
        s.events = click["records"] + click["duplicates"]
        progress(s)

        if args.ingest_by_day:
            s = ingest_day_by_day(start, last_day)
        else:
            print(f"  landed {land(generated, lake, last_day, link=True):,} files of the history")
            s = step("ingest history", "ingest", "--lake", str(lake_root))
        s.events = silver_rows(lake)
        progress(s)
        s = step("build full", "build", "--full-refresh", "--lake", str(lake_root))
        s.events = steps["ingest history"].events
        progress(s)

        print(f"  landed {land(generated, lake, None, link=True):,} files of {last_day}")
        s = step("ingest +1 day", "ingest", "--lake", str(lake_root))
        s.events = silver_rows(lake) - steps["ingest history"].events
        progress(s)
        s = step("build incremental", "build", "--lake", str(lake_root))
        s.events = steps["ingest +1 day"].events
        progress(s)

        warehouse = default_duckdb_path(lake)
        queries = dashboard_queries(warehouse, args.repeats)
        queries += analysis_queries(lake, warehouse, args.repeats)
        silver, detail = silver_queries(lake, start + timedelta(days=args.days // 2), args.repeats)
        queries += silver

        print_steps(list(steps.values()), limit)
        print(f"load average at the end: {os.getloadavg()[0]:.1f} (1 min)")
        print(
            f"\nincremental build / full build: "
            f"{steps['build incremental'].seconds / steps['build full'].seconds:.0%}"
        )
        print_queries(queries)
        print(
            f"\nsilver clickstream: {fmt_bytes(detail['silver_bytes'])} in Parquet, the "
            f"queried day's file {detail['day_file_bytes'] / 1e6:,.2f} MB in "
            f"{detail['day_row_groups']} row groups; warehouse "
            f"{fmt_bytes(warehouse.stat().st_size)}"
        )
        print("\nmarkdown (README, Performance):")
        for line in markdown(steps["ingest history"].events, steps, queries):
            print(line)
        over = [s for s in steps.values() if s.peak > limit]
        for s in over:
            print(
                f"bench_scale: step {s.name!r} peaked at {fmt_bytes(s.peak)}, over the "
                f"{args.memory_limit_gb:g} GB limit"
            )
        if not over:
            print(f"every step peaked at or under {args.memory_limit_gb:g} GB")
        return 1 if over else 0
    except StepKilled as stopped:
        print_steps(list(steps.values()), limit)
        print(
            f"bench_scale: step {stopped.step.name!r} stopped after "
            f"{fmt_seconds(stopped.step.seconds)}: its processes took more than "
            f"{args.kill_over_gb:g} GB (the limit is {args.memory_limit_gb:g} GB); "
            "the later steps did not run"
        )
        return 1
    finally:
        if not args.keep and not args.work:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
