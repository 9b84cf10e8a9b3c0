#!/usr/bin/env python
"""Ingest benchmark: bare DuckDB COPY vs ``shoplake ingest`` vs PySpark local mode.

Generates N clickstream events with the project's generator
(:func:`shoplake.generate.generate_clickstream`: hourly NDJSON under ``raw/clickstream``),
then times, on that same input, in one run:

1. ``copy``     -- a bare DuckDB ``COPY`` from the NDJSON files to Parquet partitioned by the
                   event's UTC date (year/month/day): the engine's ceiling;
2. ``shoplake`` -- ``shoplake ingest`` (in-process ``run_ingest``): validation, click_id,
                   de-duplication, lineage, one sorted file per day, transactional publish;
3. ``pyspark``  -- the same transformation as (1) in PySpark local mode, what AWS Glue runs:
                   explicit schema, event_time parsed to a timestamp, year/month/day
                   derived, partitioned Snappy Parquet;
4. ``spark-1``, ``spark-2`` -- ``shoplake ingest --engine spark`` (the whole ingest of (2)
                   on PySpark, same lake out) at ``local[1]`` and ``local[2]``, each on a
                   fresh copy of the raw files.

With ``--csv-lines`` (default 2 M), the same side by side for CSV: a drop of that many
``sales`` lines in ``--csv-files`` daily files (written by this script, every line valid),
ingested by ``shoplake ingest`` against a bare DuckDB ``read_csv`` -> typed Parquet
partitioned by the sale's UTC date ``COPY``.

It prints events/s for each, the ratios against the targets (shoplake >= 0.8x COPY and
>= 4x PySpark), the silver-to-raw size ratio, the machine and the versions, markdown rows
for the README, and a cost table: the events/s per core each shoplake engine reached,
extrapolated to ``--cost-events`` (default 100 M) events a day, on AWS Glue for the
Spark engine (DPU-hours at ``--glue-dpu-hour-usd``) and on one on-demand instance of
this machine's size for the DuckDB engine (``--instance-hour-usd``). Ratios are of
wall-clock time; the CPU seconds of each contender (all its threads, the Spark JVM's
included) are shown too, as a check on a machine shared with other work. It always exits
0 once the figures are printed; a PySpark that cannot start (no Java, no pyspark) is
reported and skipped.

    .venv/bin/python scripts/bench_ingest.py                 # 5 M events (6-19 minutes)
    .venv/bin/python scripts/bench_ingest.py --events 200000 --skip-spark --csv-lines 100000
    .venv/bin/python scripts/bench_ingest.py --events 20000 --days 1 --csv-lines 0  # smoke

PySpark is a benchmark-only dependency (the ``bench`` extra): ``pip install -e '.[bench]'``.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb
import pyarrow

import shoplake
from shoplake.contract import CLICKSTREAM, SALES, Dataset
from shoplake.ingest import run_ingest
from shoplake.lake import Lake

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

#: First day of the generated events: fixed (reproducible input) and safely in the past,
#: so that no event is quarantined as a future timestamp.
START = date(2025, 3, 3)
SEED = 42
SPARK_MASTER = "local[2]"

#: The raw clickstream fields (contract order). Both the bare COPY and PySpark read every
#: field as text and keep ``attributes`` as JSON text, as silver does.
FIELDS = [f.raw_name for f in CLICKSTREAM.fields]

# the cost model --------------------------------------------------------------------------
#
# Published prices, us-east-1, on-demand, as far as they could be checked without the
# internet (a documentation search): $0.44 a DPU-hour is in copies of AWS Glue's pricing
# page (its ETL job example: DPUs x hours x $0.44) and in AWS's price list data, but the
# price list row of a Glue 5.0 Spark job in us-east-1 itself was not seen; the m7i.large
# price was not found in anything of AWS's (it is AWS's published Linux on-demand price
# as recalled, and matches a third-party price table). Both are flags: check them
# against aws.amazon.com/glue/pricing and aws.amazon.com/ec2/pricing before quoting.

#: AWS Glue's published price of Spark ETL jobs (Glue 5.0), us-east-1: USD per DPU-hour,
#: billed per second with a 1-minute minimum per job run (aws.amazon.com/glue/pricing).
GLUE_DPU_HOUR_USD = 0.44
#: A G.1X worker is 1 DPU, and a DPU is 4 vCPUs and 16 GB of memory (AWS Glue developer
#: guide, "AWS Glue worker types": confirmed).
GLUE_DPUS_PER_WORKER = 1
GLUE_VCPUS_PER_DPU = 4
#: A Glue Spark job runs on at least 2 workers (and shoplake's daily job on 2 G.1X:
#: docs/aws.md), and each run is billed for at least this many seconds.
GLUE_MIN_WORKERS = 2
GLUE_MIN_BILLED_SECONDS = 60
#: One machine of this one's size: an EC2 m7i.large (2 vCPUs, 8 GiB), Linux, on-demand,
#: us-east-1, USD per hour, billed per second (published price as recalled: see above).
INSTANCE_NAME = "m7i.large"
INSTANCE_VCPUS = 2
INSTANCE_HOUR_USD = 0.1008
#: The daily volume the cost lines are for.
COST_EVENTS = 100_000_000


@dataclass
class Result:
    name: str
    label: str
    seconds: float | None = None
    cpu: float | None = None  # CPU seconds (all threads) spent meanwhile by the contender
    startup: float | None = None  # untimed set-up (Spark session start)
    rows: int | None = None
    files: int | None = None
    bytes: int | None = None
    note: str = ""

    def rate(self, events: int) -> float | None:
        return events / self.seconds if self.seconds else None


# helpers -------------------------------------------------------------------------------


def process_cpu(pid: int) -> float:
    """CPU seconds (user + system, all threads) used so far by another process."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Stopwatch:
    """Wall-clock and CPU time of a block: this process's threads, plus a helper process's
    (the Spark JVM) when ``pid`` is given. CPU time shows how much of the wall time the
    contender really worked on a machine shared with others."""

    def __init__(self, pid: int | None = None) -> None:
        self.pid = pid
        self.seconds = self.cpu = 0.0

    def _cpu(self) -> float:
        return time.process_time() + (process_cpu(self.pid) if self.pid else 0.0)

    def __enter__(self) -> Stopwatch:
        self._cpu0, self._wall0 = self._cpu(), time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self._wall0
        self.cpu = self._cpu() - self._cpu0


def parquet_stats(root: Path) -> tuple[int, int]:
    """(number of Parquet files, their total bytes) under ``root``."""
    files = [p for p in root.rglob("*.parquet") if not p.name.startswith((".", "_"))]
    return len(files), sum(p.stat().st_size for p in files)


def count_rows(root: Path) -> int:
    glob = str(root / "**" / "*.parquet")
    con = duckdb.connect()
    try:
        return int(con.execute(f"select count(*) from read_parquet('{glob}')").fetchone()[0])
    finally:
        con.close()


def warm_page_cache(paths: list[Path]) -> None:
    """Read every raw file once so that no contender pays for a cold cache."""
    for path in paths:
        with path.open("rb") as fh:
            while fh.read(1 << 22):
                pass


def sql_list(paths: list[Path]) -> str:
    return "[" + ", ".join("'" + str(p).replace("'", "''") + "'" for p in paths) + "]"


def fmt_rate(rate: float | None) -> str:
    return f"{rate / 1e6:.3f} M/s" if rate else "n/a"


def fmt_bytes(n: int | None) -> str:
    if n is None:
        return "n/a"
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)


def java_version() -> str:
    java = shutil.which("java")
    if not java:
        return "not found"
    try:
        out = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError) as exc:
        return f"unknown ({exc})"
    lines = (out.stderr or out.stdout).strip().splitlines()
    return lines[0] if lines else "unknown"


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def memory_gib() -> str:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return f"{int(line.split()[1]) / 1024 / 1024:.0f} GiB"
    except OSError:
        pass
    return "unknown"


def load_average() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "n/a"


def pyspark_version() -> str:
    try:
        import pyspark
    except ImportError:
        return "not installed"
    return pyspark.__version__


# the contenders ------------------------------------------------------------------------


def bench_copy(raw_files: list[Path], out: Path) -> Result:
    """Bare DuckDB: NDJSON -> Parquet partitioned by the UTC date of event_time."""
    columns = ", ".join(
        f"'{name}': '{'JSON' if name == 'attributes' else 'VARCHAR'}'" for name in FIELDS
    )
    others = ", ".join(f'"{name}"' for name in FIELDS if name != "event_time")
    query = f"""
        copy (
            select ts as event_time, {others},
                   year(ts) as year, month(ts) as month, day(ts) as day
            from (
                select *, timezone('UTC', cast(event_time as timestamptz)) as ts
                from read_json({sql_list(raw_files)}, format = 'newline_delimited',
                               columns = {{{columns}}})
            )
        ) to '{out}' (format parquet, compression snappy, partition_by (year, month, day))
    """
    return timed_copy("copy", query, out)


def bench_shoplake(lake: Lake, ds: Dataset = CLICKSTREAM) -> Result:
    with Stopwatch() as watch:
        report = run_ingest(lake)
    stats = report.datasets[ds.name]
    silver = lake.silver_dir(ds.name)
    files, size = parquet_stats(silver)
    note = (
        f"read {stats.read:,}, written {stats.written:,}, quarantined {stats.quarantined:,}, "
        f"duplicates {stats.duplicates:,}, balanced {stats.balanced}"
    )
    rows = count_rows(silver)
    return Result(
        "shoplake",
        "shoplake ingest",
        watch.seconds,
        watch.cpu,
        rows=rows,
        files=files,
        bytes=size,
        note=note,
    )


#: The sales drop's columns, in the order of the raw contract.
SALES_FIELDS = [f.raw_name for f in SALES.fields]


def write_sales_drop(lake: Lake, lines: int, files: int) -> list[Path]:
    """``lines`` valid sales lines in ``files`` daily CSV files from START (one a day)."""
    paths = []
    per_file = -(-lines // files)
    for k in range(files):
        day = START.toordinal() + k
        d = date.fromordinal(day)
        path = lake.landing_dir(SALES.name, d) / f"sales_{d:%Y%m%d}_00.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        first, last = k * per_file, min(lines, (k + 1) * per_file)
        with path.open("w", encoding="utf-8", newline="") as fh:
            fh.write(",".join(SALES_FIELDS) + "\n")
            for n in range(first, last):
                sec = (n - first) * 86_399 // max(1, last - first)
                fh.write(
                    f"S{n:09d},O{n // 3:09d},P{n % 4999:05d},{1 + n % 3},"
                    f"{5 + n % 500}.{n % 100:02d},{'' if n % 4 else '0.50'},"
                    f"{d:%Y-%m-%d}T{sec // 3600:02d}:{sec // 60 % 60:02d}:{sec % 60:02d}Z\n"
                )
        paths.append(path)
    return paths


def bench_copy_csv(raw_files: list[Path], out: Path) -> Result:
    """Bare DuckDB: CSV -> typed Parquet partitioned by the UTC date of sold_at."""
    types = {"quantity": "BIGINT", "unit_price": "DECIMAL(18,2)", "sold_at": "TIMESTAMPTZ"}
    types["discount_amount"] = "DECIMAL(18,2)"
    columns = ", ".join(f"'{name}': '{types.get(name, 'VARCHAR')}'" for name in SALES_FIELDS)
    others = ", ".join(f'"{name}"' for name in SALES_FIELDS if name != "sold_at")
    query = f"""
        copy (
            select ts as sold_at, {others},
                   year(ts) as year, month(ts) as month, day(ts) as day
            from (
                select *, timezone('UTC', sold_at) as ts
                from read_csv({sql_list(raw_files)}, header = true, columns = {{{columns}}})
            )
        ) to '{out}' (format parquet, compression snappy, partition_by (year, month, day))
    """
    return timed_copy("copy_csv", query, out)


def timed_copy(name: str, query: str, out: Path) -> Result:
    """Run one bare DuckDB COPY statement (UTC session), timed, and measure what it wrote."""
    con = duckdb.connect()
    try:
        con.execute("set TimeZone = 'UTC'")
        with Stopwatch() as watch:
            con.execute(query).fetchall()
    finally:
        con.close()
    files, size = parquet_stats(out)
    rows = count_rows(out)
    return Result(name, "DuckDB COPY", watch.seconds, watch.cpu, rows=rows, files=files, bytes=size)


def start_spark(
    master: str, app: str, local_dir: Path, settings: dict[str, str]
) -> tuple[SparkSession, int | None]:
    """A Spark session of the benchmark's contenders on ``master``, with ``settings``
    beside the common ones, and its JVM's pid (None where it cannot be read: CPU time is
    then not shown). Raises what Spark raises when it cannot start."""
    from pyspark.sql import SparkSession

    builder = SparkSession.builder.master(master).appName(app)
    common = {
        "spark.driver.memory": "4g",
        "spark.sql.session.timeZone": "UTC",
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        "spark.local.dir": str(local_dir),
    }
    for key, value in {**common, **settings}.items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    try:
        jvm_pid: int | None = int(spark.sparkContext._jvm.java.lang.ProcessHandle.current().pid())
        process_cpu(jvm_pid)
    except Exception:  # CPU time is a bonus: no /proc, no py4j access
        jvm_pid = None
    return spark, jvm_pid


def bench_pyspark(raw_files: list[Path], out: Path, scratch: Path) -> Result:
    """The same job as the bare COPY, as a Glue (Spark) script would write it."""
    result = Result("pyspark", f"PySpark {SPARK_MASTER}")
    try:
        from pyspark.sql import functions as F
        from pyspark.sql.types import StringType, StructField, StructType
    except ImportError as exc:
        result.note = f"skipped: pyspark is not installed ({exc}); pip install -e '.[bench]'"
        return result

    started = time.perf_counter()
    try:
        # list the input files in the driver, not in a Spark job of its own
        listing = {"spark.sql.sources.parallelPartitionDiscovery.threshold": "100000"}
        spark, jvm_pid = start_spark(SPARK_MASTER, "shoplake-bench", scratch, listing)
    except Exception as exc:  # no Java, the JVM cannot start, ...
        result.note = f"skipped: Spark could not start: {type(exc).__name__}: {exc}".strip()
        return result
    startup = time.perf_counter() - started

    try:
        schema = StructType([StructField(name, StringType(), True) for name in FIELDS])
        with Stopwatch(jvm_pid) as watch:
            events = spark.read.schema(schema).json([str(p) for p in raw_files])
            (
                events.withColumn("event_time", F.to_timestamp("event_time"))
                .withColumn("year", F.year("event_time"))
                .withColumn("month", F.month("event_time"))
                .withColumn("day", F.dayofmonth("event_time"))
                .write.mode("overwrite")
                .option("compression", "snappy")
                .partitionBy("year", "month", "day")
                .parquet(str(out))
            )
    except Exception as exc:
        result.note = f"failed: {type(exc).__name__}: {exc}"
        traceback.print_exc()
        return result
    finally:
        spark.stop()
    result.seconds, result.cpu = watch.seconds, (watch.cpu if jvm_pid else None)
    result.files, result.bytes = parquet_stats(out)
    result.rows = count_rows(out)
    result.startup = startup
    result.note = f"session start {startup:.1f} s (not timed)"
    return result


def bench_shoplake_spark(raw: Path, work: Path, master: str) -> Result:
    """``shoplake ingest --engine spark`` on ``master``, on a fresh lake holding a copy
    of the raw zone ``raw`` (the session start is not timed, as for ``pyspark``)."""
    cores = int(master.removeprefix("local[").removesuffix("]"))
    name = f"spark-{cores}"
    result = Result(name, f"spark eng {master}")
    if importlib.util.find_spec("pyspark") is None:
        result.note = "skipped: pyspark is not installed; pip install -e '.[spark]'"
        return result
    lake = Lake.at(work / f"lake-{name}")
    shutil.copytree(raw, lake.root / "raw")
    started = time.perf_counter()
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    try:
        shuffle = {"spark.sql.shuffle.partitions": str(2 * cores)}
        spark, jvm_pid = start_spark(master, "shoplake-bench-engine", work / f"{name}-tmp", shuffle)
    except Exception as exc:  # no Java, the JVM cannot start, ...
        result.note = f"skipped: Spark could not start: {type(exc).__name__}: {exc}".strip()
        return result
    result.startup = time.perf_counter() - started
    running = spark.sparkContext.master
    try:
        with Stopwatch(jvm_pid) as watch:
            report = run_ingest(lake, engine="spark")
    except Exception as exc:
        result.note = f"failed: {type(exc).__name__}: {exc}"
        traceback.print_exc()
        return result
    finally:
        spark.stop()
    stats = report.datasets[CLICKSTREAM.name]
    silver = lake.silver_dir(CLICKSTREAM.name)
    result.seconds, result.cpu = watch.seconds, (watch.cpu if jvm_pid else None)
    result.files, result.bytes = parquet_stats(silver)
    result.rows = count_rows(silver)
    result.note = (
        f"{running}, session start {result.startup:.1f} s (not timed, the JVM may be up "
        f"already); read {stats.read:,}, written "
        f"{stats.written:,}, quarantined {stats.quarantined:,}, duplicates "
        f"{stats.duplicates:,}, balanced {stats.balanced}"
    )
    return result


# the cost lines ------------------------------------------------------------------------


@dataclass
class CostLine:
    engine: str
    per_core: float  # events/s per core, from the measured wall time
    per_cpu_second: float | None  # events per CPU second (all threads), the shared-machine check
    hours: float  # wall hours for the day's events on what is priced
    billed: float  # DPU-hours or instance-hours billed
    unit: str
    usd: float


def cores_of(result: Result) -> int:
    """The cores a contender ran on: its ``local[n]``, or this machine's."""
    if result.name.startswith("spark-"):
        return int(result.name.removeprefix("spark-"))
    return os.cpu_count() or 1


def cost_lines(args: argparse.Namespace, results: list[Result], events: int) -> list[CostLine]:
    """shoplake's engines, each at its measured events/s per core, on ``args.cost_events``
    events a day: the Spark engine on AWS Glue (G.1X workers), the DuckDB engine on one
    on-demand instance. Linear in cores: an extrapolation, not a measurement."""
    day = args.cost_events
    lines = []
    for r in results:
        if not r.seconds or not (r.name == "shoplake" or r.name.startswith("spark-")):
            continue
        cores = cores_of(r)
        per_core = events / r.seconds / cores
        per_cpu = events / r.cpu if r.cpu else None
        if r.name == "shoplake":
            hours = day / (per_core * args.instance_vcpus) / 3600
            lines.append(
                CostLine(
                    f"DuckDB, one {args.instance_name}",
                    per_core,
                    per_cpu,
                    hours,
                    hours,
                    "instance-h",
                    hours * args.instance_hour_usd,
                )
            )
            continue
        dpu_hours = day / (per_core * GLUE_VCPUS_PER_DPU) / 3600
        dpus = GLUE_MIN_WORKERS * GLUE_DPUS_PER_WORKER
        billed = max(dpu_hours, dpus * GLUE_MIN_BILLED_SECONDS / 3600)
        lines.append(
            CostLine(
                f"Spark local[{cores}] -> Glue G.1X",
                per_core,
                per_cpu,
                dpu_hours / dpus,
                billed,
                "DPU-h",
                billed * args.glue_dpu_hour_usd,
            )
        )
    return lines


def report_cost(args: argparse.Namespace, lines: list[CostLine], load: str) -> None:
    day = args.cost_events
    dpus = GLUE_MIN_WORKERS * GLUE_DPUS_PER_WORKER
    print()
    print(f"== Cost of {day:,} events a day, extrapolated from this run ==")
    if not lines:
        print("no shoplake engine was measured")
        return
    print(
        f"{'engine':<30} {'events/s/core':>13} {'events/CPU s':>12} {'hours/day':>9} "
        f"{'billed':>16} {'USD/day':>8}"
    )
    for c in lines:
        cpu = f"{c.per_cpu_second:,.0f}" if c.per_cpu_second else "-"
        billed = f"{c.billed:.3f} {c.unit}"
        print(
            f"{c.engine:<30} {c.per_core:>13,.0f} {cpu:>12} {c.hours:>9.2f} {billed:>16} "
            f"{c.usd:>8.3f}"
        )
    print(
        f"Glue: DPU-hours = events / (events/s per core x {GLUE_VCPUS_PER_DPU} vCPUs a DPU) "
        f"/ 3600, at ${args.glue_dpu_hour_usd:g} a DPU-hour (--glue-dpu-hour-usd; published "
        f"us-east-1 price of Glue 5.0 Spark jobs); G.1X workers ({GLUE_DPUS_PER_WORKER} DPU, "
        f"{GLUE_VCPUS_PER_DPU} vCPUs, 16 GB), one job run a day on the minimum of "
        f"{GLUE_MIN_WORKERS} workers (its wall hours above), billed per second, at least "
        f"{GLUE_MIN_BILLED_SECONDS} s x {dpus} DPUs."
    )
    machine = [c for c in lines if c.unit == "instance-h"]
    if machine:
        print(
            f"one machine: the DuckDB engine's events/s per core on the {args.instance_vcpus} "
            f"vCPUs of an on-demand {args.instance_name} at ${args.instance_hour_usd:g} an "
            f"hour (--instance-name, --instance-vcpus, --instance-hour-usd), billed for the "
            f"hours it works; kept up all day it costs ${24 * args.instance_hour_usd:.2f}."
        )
    print(
        "An extrapolation, not a measured cost: a per-core rate measured here "
        f"({os.cpu_count()} cores, shared with other work, load average {load}) is assumed "
        "to hold on every Glue and EC2 vCPU and to scale linearly with cores; S3 instead "
        "of a local disk, the Glue driver's share of a worker, job start-up, Glue's other "
        "charges and the instance's storage are left out."
    )
    print()
    print("README (markdown):")
    print(
        f"| engine | events/s per core | hours per {day / 1e6:g} M events "
        "| DPU-hours or instance-hours | USD per day |"
    )
    print("|---|---:|---:|---:|---:|")
    for c in lines:
        print(
            f"| {c.engine} | {c.per_core:,.0f} | {c.hours:.2f} | {c.billed:.3f} {c.unit} "
            f"| {c.usd:.3f} |"
        )


# main ----------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Benchmark NDJSON -> partitioned Parquet: bare DuckDB COPY, "
        "shoplake ingest and PySpark local mode, on the same generated clickstream.",
    )
    parser.add_argument(
        "--events",
        type=int,
        default=5_000_000,
        metavar="N",
        help="number of clickstream events to generate (default: %(default)s)",
    )
    parser.add_argument(
        "--days",
        type=int,
        default=7,
        metavar="D",
        help=f"days the events spread over, from {START} (hourly files; default: %(default)s)",
    )
    parser.add_argument(
        "--workdir",
        type=Path,
        default=None,
        metavar="DIR",
        help="directory in which a fresh bench-* directory is created for the lake and "
        "the outputs (default: the system temporary directory)",
    )
    parser.add_argument(
        "--keep",
        action="store_true",
        help="keep the generated input and the outputs instead of deleting them",
    )
    parser.add_argument(
        "--skip-spark",
        action="store_true",
        help="do not run the PySpark contender",
    )
    parser.add_argument(
        "--skip-spark-engine",
        action="store_true",
        help="do not run `shoplake ingest --engine spark` (at local[1] and local[2])",
    )
    parser.add_argument(
        "--csv-lines",
        type=int,
        default=2_000_000,
        metavar="N",
        help="sales lines of the CSV side by side, 0 to skip it (default: %(default)s)",
    )
    parser.add_argument(
        "--csv-files",
        type=int,
        default=8,
        metavar="F",
        help="daily CSV files the sales lines are split into (default: %(default)s)",
    )
    cost = parser.add_argument_group(
        "cost", "the cost lines: a measured per-core rate extrapolated to a daily volume"
    )
    cost.add_argument(
        "--cost-events",
        type=int,
        default=COST_EVENTS,
        metavar="N",
        help="events a day the cost lines are for (default: %(default)s)",
    )
    cost.add_argument(
        "--glue-dpu-hour-usd",
        type=float,
        default=GLUE_DPU_HOUR_USD,
        metavar="USD",
        help="AWS Glue's price of a DPU-hour (default: %(default)s, the published "
        "us-east-1 price of Glue 5.0 Spark jobs)",
    )
    cost.add_argument(
        "--instance-name",
        default=INSTANCE_NAME,
        metavar="TYPE",
        help="the on-demand instance the DuckDB engine is priced on (default: %(default)s)",
    )
    cost.add_argument(
        "--instance-vcpus",
        type=int,
        default=INSTANCE_VCPUS,
        metavar="N",
        help="its vCPUs (default: %(default)s, this machine's size)",
    )
    cost.add_argument(
        "--instance-hour-usd",
        type=float,
        default=INSTANCE_HOUR_USD,
        metavar="USD",
        help="its on-demand price an hour (default: %(default)s, the published us-east-1 "
        "Linux price of an m7i.large)",
    )
    args = parser.parse_args(argv)
    if args.cost_events < 1 or args.instance_vcpus < 1:
        parser.error("--cost-events and --instance-vcpus must be at least 1")
    if args.glue_dpu_hour_usd < 0 or args.instance_hour_usd < 0:
        parser.error("prices cannot be negative")
    if args.csv_lines < 0 or args.csv_files < 1:
        parser.error("--csv-lines must be at least 0 and --csv-files at least 1")
    if args.events < 1:
        parser.error("--events must be at least 1")
    if args.days < 1:
        parser.error("--days must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        from shoplake.generate import generate_clickstream
    except ImportError as exc:
        print(
            "the project's generator is not available "
            f"(shoplake.generate.generate_clickstream): {exc}",
            file=sys.stderr,
        )
        return 2

    if args.workdir is not None:
        args.workdir.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="bench-", dir=args.workdir)).resolve()
    load_before = load_average()
    try:
        results, events, gen_seconds, raw_bytes, raw_count = run(args, work, generate_clickstream)
        csv_results = run_csv(args, work) if args.csv_lines else None
    finally:
        if args.keep:
            print(f"\nkept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    load_after = load_average()
    report(args, results, events, gen_seconds, raw_bytes, raw_count, load_before, load_after)
    if csv_results is not None:
        report_csv(args, *csv_results)
    report_cost(
        args, cost_lines(args, results, events), f"{load_before} before, {load_after} after"
    )
    return 0


def run_csv(args: argparse.Namespace, work: Path) -> tuple[list[Result], int, int]:
    """The CSV side by side: a sales drop, a bare read_csv COPY and shoplake ingest."""
    lake = Lake.at(work / "lake-csv")
    print(f"writing {args.csv_lines:,} sales lines in {args.csv_files} CSV file(s) ...")
    raw_files = write_sales_drop(lake, args.csv_lines, args.csv_files)
    raw_bytes = sum(p.stat().st_size for p in raw_files)
    print(f"  {fmt_bytes(raw_bytes)}", flush=True)
    results = []
    for name, bench in (
        ("copy_csv", lambda: bench_copy_csv(raw_files, work / "copy-csv")),
        ("shoplake_csv", lambda: bench_shoplake(lake, SALES)),
    ):
        warm_page_cache(raw_files)
        print(f"running {name} ...", flush=True)
        result = bench()
        print(f"  {result.seconds:.1f} s, {fmt_rate(result.rate(args.csv_lines))}", flush=True)
        results.append(result)
    return results, raw_bytes, len(raw_files)


#: The README's ingest table: one row per input and shoplake engine, against the bare COPY
#: of the same input in the same run.
README_HEADER = (
    "| input | shoplake engine | cores | DuckDB COPY | shoplake ingest "
    "| shoplake / COPY (wall) | shoplake / COPY (CPU) | wall time vs DuckDB engine |\n"
    "|---|---|---:|---:|---:|---:|---:|---:|"
)


def readme_row(what: str, engine: str, r: Result, copy: Result, n: int) -> str:
    """The README row of ``r`` (all but its last cell) against the bare COPY ``copy``."""
    wall = f"{copy.seconds / r.seconds:.2f}x" if copy.seconds and r.seconds else "n/a"
    cpu = f"{copy.cpu / r.cpu:.2f}x" if copy.cpu and r.cpu else "n/a"
    return (
        f"| {what} | {engine} | {cores_of(r)} | {fmt_rate(copy.rate(n))} "
        f"| {fmt_rate(r.rate(n))} | {wall} | {cpu} |"
    )


def report_csv(args: argparse.Namespace, results: list[Result], raw_bytes: int, files: int) -> None:
    lines = args.csv_lines
    copy, ours = results
    print()
    print(f"== CSV -> partitioned Parquet: {lines:,} sales lines in {files} file(s) ==")
    print(f"input: {fmt_bytes(raw_bytes)} ({raw_bytes:,} bytes)")
    print(f"{'contender':<18} {'seconds':>8} {'cpu s':>7} {'lines/s':>11} {'rows':>11}")
    for r in results:
        print(
            f"{r.label:<18} {r.seconds:>8.2f} {r.cpu:>7.1f} {r.rate(lines):>11,.0f} "
            f"{r.rows if r.rows is not None else '-':>11,}"
        )
        if r.rows != lines:
            print(f"  {r.label}: ROW COUNT {r.rows:,} != {lines:,} lines written")
        if r.note:
            print(f"  {r.label}: {r.note}")
    vs = copy.seconds / ours.seconds if ours.seconds and copy.seconds else None
    verdict = (
        "n/a" if vs is None else f"{vs:.2f}x (target >= 0.8x: {'met' if vs >= 0.8 else 'MISSED'})"
    )
    cpu = f"; by CPU time {copy.cpu / ours.cpu:.2f}x" if copy.cpu and ours.cpu else ""
    print(f"shoplake / COPY     {verdict}{cpu}")
    print()
    print("README (markdown):")
    print(README_HEADER)
    print(readme_row(f"{lines:,} `sales` lines, CSV", "DuckDB", ours, copy, lines) + " 1 |")


def run(args: argparse.Namespace, work: Path, generate_clickstream) -> tuple:
    lake = Lake.at(work / "lake")
    print(f"workdir {work}")
    print(f"generating {args.events:,} clickstream events over {args.days} day(s) ...", flush=True)
    started = time.perf_counter()
    events = generate_clickstream(lake, start=START, days=args.days, events=args.events, seed=SEED)
    gen_seconds = time.perf_counter() - started
    raw_files = lake.raw_files(CLICKSTREAM)
    raw_bytes = sum(p.stat().st_size for p in raw_files)
    print(
        f"  {events:,} events in {len(raw_files)} files, {fmt_bytes(raw_bytes)}, "
        f"{gen_seconds:.1f} s",
        flush=True,
    )

    results: list[Result] = []
    contenders = [
        ("copy", lambda: bench_copy(raw_files, work / "copy")),
        ("shoplake", lambda: bench_shoplake(lake)),
    ]
    if not args.skip_spark:
        contenders.append(
            ("pyspark", lambda: bench_pyspark(raw_files, work / "spark", work / "spark-tmp"))
        )
    if not args.skip_spark_engine:
        contenders += [
            (f"shoplake spark {m}", lambda m=m: bench_shoplake_spark(lake.root / "raw", work, m))
            for m in ("local[1]", "local[2]")
        ]
    for name, bench in contenders:
        warm_page_cache(raw_files)
        print(f"running {name} ...", flush=True)
        result = bench()
        rate = result.rate(events)
        done = f"{result.seconds:.1f} s, {fmt_rate(rate)}" if result.seconds else result.note
        print(f"  {done}", flush=True)
        results.append(result)
    if args.skip_spark:
        results.append(Result("pyspark", f"PySpark {SPARK_MASTER}", note="skipped (--skip-spark)"))
    return results, events, gen_seconds, raw_bytes, len(raw_files)


def report(
    args: argparse.Namespace,
    results: list[Result],
    events: int,
    gen_seconds: float,
    raw_bytes: int,
    raw_count: int,
    load_before: str,
    load_after: str,
) -> None:
    by_name = {r.name: r for r in results}
    copy, ours, spark = by_name["copy"], by_name["shoplake"], by_name["pyspark"]

    print()
    print(f"== NDJSON -> partitioned Parquet: {events:,} clickstream events ==")
    print(
        f"input: {raw_count} hourly NDJSON files over {args.days} day(s), "
        f"{fmt_bytes(raw_bytes)} ({raw_bytes:,} bytes); generated in {gen_seconds:.1f} s"
    )
    print()
    header = f"{'contender':<18} {'seconds':>8} {'cpu s':>7} {'events/s':>11} {'rows':>11}"
    print(header + f" {'files':>5} {'parquet':>10} {'out/raw':>7}")
    for r in results:
        seconds = f"{r.seconds:.2f}" if r.seconds else "-"
        cpu = f"{r.cpu:.1f}" if r.cpu is not None else "-"
        rate = f"{r.rate(events):,.0f}" if r.seconds else "-"
        rows = f"{r.rows:,}" if r.rows is not None else "-"
        files = str(r.files) if r.files is not None else "-"
        ratio = f"{r.bytes / raw_bytes:.3f}" if r.bytes and raw_bytes else "-"
        print(
            f"{r.label:<18} {seconds:>8} {cpu:>7} {rate:>11} {rows:>11} {files:>5}"
            f" {fmt_bytes(r.bytes) if r.bytes else '-':>10} {ratio:>7}"
        )
    for r in results:
        if r.rows is not None and r.rows != events:
            r.note = f"ROW COUNT {r.rows:,} != {events:,} events generated. {r.note}".strip()
        if r.note:
            print(f"  {r.label}: {r.note}")

    def ratio(a: Result, b: Result) -> float | None:
        return a.seconds and b.seconds and b.seconds / a.seconds

    def cpu_ratio(a: Result, b: Result) -> str:
        return f"; by CPU time {b.cpu / a.cpu:.2f}x" if a.cpu and b.cpu else ""

    vs_copy, vs_spark = ratio(ours, copy), ratio(ours, spark)
    silver_ratio = ours.bytes / raw_bytes if ours.bytes and raw_bytes else None

    def verdict(value: float | None, target: float) -> str:
        if value is None:
            return "n/a"
        return f"{value:.2f}x (target >= {target:g}x: {'met' if value >= target else 'MISSED'})"

    print()
    print(f"shoplake / COPY     {verdict(vs_copy, 0.8)}{cpu_ratio(ours, copy)}")
    print(f"shoplake / PySpark  {verdict(vs_spark, 4)}{cpu_ratio(ours, spark)}")
    if ours.seconds and spark.seconds and spark.startup:
        with_start = (spark.seconds + spark.startup) / ours.seconds
        print(f"                    {with_start:.2f}x counting Spark's session start too")
    for r in results:
        if r.name.startswith("spark-") and r.seconds and ours.seconds:
            print(f"{r.label:<19} {r.seconds / ours.seconds:.2f}x the time of shoplake (DuckDB)")
    size = f"{silver_ratio:.3f} (silver Parquet / raw NDJSON bytes)" if silver_ratio else "n/a"
    print(f"silver / raw size   {size}")

    print()
    print(
        f"machine: {os.cpu_count()} cores ({cpu_model()}), {memory_gib()} memory, "
        f"{platform.system()} {platform.release()}; load average {load_before} before, "
        f"{load_after} after"
    )
    print(
        f"versions: Python {platform.python_version()}, shoplake {shoplake.__version__}, "
        f"DuckDB {duckdb.__version__}, PyArrow {pyarrow.__version__}, "
        f"PySpark {pyspark_version()}, Java {java_version()}"
    )

    def cell(value: float | None, fmt: str, suffix: str = "") -> str:
        return format(value, fmt) + suffix if value else "n/a"

    print()
    print("README (markdown):")
    print(README_HEADER)
    engines = [ours] + [r for r in results if r.name.startswith("spark-")]
    for r in engines:
        engine = "DuckDB" if r is ours else f"Spark local[{cores_of(r)}]"
        vs_duckdb = "1" if r is ours else cell(ratio(ours, r), ".2f", "x")
        print(readme_row(f"{events:,} events, NDJSON", engine, r, copy, events) + f" {vs_duckdb} |")
    print(
        f"(PySpark {SPARK_MASTER}, the bare job: {fmt_rate(spark.rate(events))}; "
        f"shoplake / PySpark {cell(vs_spark, '.1f', 'x')}; silver / raw "
        f"{cell(silver_ratio, '.2f')})"
    )


if __name__ == "__main__":
    sys.exit(main())
