"""``shoplake ingest --engine spark``: the same ingest on PySpark (what AWS Glue 5.0 runs).

Nothing of the contract is written twice. Per dataset:

* **read and validate, on the executors**: the new raw files are spread over Spark
  tasks; each task reads its files with the DuckDB engine's own code
  (:func:`shoplake.ingest.engine.raw_contents`, :meth:`Checker.read_file
  <shoplake.ingest.engine.Checker.read_file>`: the same readers, limits and file
  rejections) and validates them with :meth:`Checker.check
  <shoplake.ingest.engine.Checker.check>` on an in-process DuckDB (the SQL generated from
  the contract: typing, reason codes, click ids, derived columns, line numbers and raw
  records), and writes the checked rows as a Parquet file of the run's transaction.
* **de-duplicate, in Spark**: the valid rows and the silver partitions they may touch
  are ranked per key by :func:`shoplake.ingest.engine.rank_sql` and
  :func:`~shoplake.ingest.engine.day_changes_sql`, the SQL the DuckDB engine runs too.
* **write, in Spark**: each changed day is one Snappy Parquet file (sorted by business
  time, then key), written by the executors into the transaction's folder; the
  quarantine file likewise.
* **commit, on the driver**: the files become the transaction's staged files and the
  run commits with :class:`shoplake.ingest.transaction.Transaction`, under the lake's
  lock, with its manifest and batch number, exactly as the DuckDB engine does: a lake
  may switch engines between runs, and either engine recovers a run the other left.

The Spark types of the silver columns come from the contract (:func:`spark_type`).
This engine needs the executors to see the lake's directory (a local lake and a
``local[n]`` master, or a shared file system).
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Callable, Iterable, Iterator
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shoplake.config import Settings
from shoplake.contract import DATASETS, Dataset
from shoplake.errors import ConfigError, IngestError
from shoplake.ingest.engine import (
    Checker,
    DatasetStats,
    Delivered,
    Job,
    day_changes_sql,
    rank_sql,
    raw_contents,
    silver_names,
)
from shoplake.ingest.resources import ingest_connection
from shoplake.ingest.transaction import crash_point
from shoplake.ingest.validate import lit
from shoplake.lake import Lake
from shoplake.report import Progress, ProgressTask

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame, SparkSession

#: The Spark SQL type of each silver type of the contract (``SILVER_TYPES``).
_SPARK_TYPES = {
    "VARCHAR": "string",
    "TIMESTAMP": "timestamp_ntz",  # UTC wall time, no zone: Parquet isAdjustedToUTC=false
    "BIGINT": "bigint",
    "BOOLEAN": "boolean",
    "DATE": "date",
}
#: The ``reasons`` column of the checked rows and of the quarantine.
REASONS_TYPE = "array<struct<reason: string, field: string, detail: string>>"
#: The lake's dates and times are proleptic Gregorian, as DuckDB (and the warehouse)
#: read and write them: Spark must neither rebase days before 1582 nor refuse them.
PARQUET_CONF = {
    "spark.sql.parquet.datetimeRebaseModeInRead": "CORRECTED",
    "spark.sql.parquet.datetimeRebaseModeInWrite": "CORRECTED",
    "spark.sql.parquet.int96RebaseModeInRead": "CORRECTED",
    "spark.sql.parquet.int96RebaseModeInWrite": "CORRECTED",
}
#: Raw files per validation task, at most (more tasks than cores balance uneven files).
TASKS_PER_CORE = 4


def spark_type(silver_type: str) -> str:
    """The Spark SQL type of a silver column type (``DECIMAL(18,2)`` -> ``decimal(18,2)``)."""
    if silver_type.upper().startswith("DECIMAL"):
        return silver_type.lower()
    return _SPARK_TYPES[silver_type.upper()]


def bq(name: str) -> str:
    """Quote a Spark SQL identifier."""
    return "`" + name.replace("`", "``") + "`"


def spark_content(columns: list[str]) -> str:
    """Spark: a row's content as one comparable value (a struct compares field by field,
    nulls equal: exact, where a hash could collide)."""
    return f"struct({', '.join(columns)})"


def silver_schema(ds: Dataset) -> str:
    """The silver table's Spark schema (DDL), from the contract."""
    return ", ".join(f"{bq(c)} {spark_type(t)}" for c, t in ds.silver_columns)


def checked_schema(ds: Dataset) -> str:
    """The Spark schema (DDL) of :meth:`Checker.check`'s ``checked`` table."""
    cols = [
        ("source_file", "string"),
        ("source_line", "bigint"),
        ("reason", "string"),
        ("field", "string"),
        ("detail", "string"),
        ("reasons", REASONS_TYPE),
        ("raw_record", "string"),
        *((f.name, spark_type(f.silver_type)) for f in ds.fields),
        *((d.name, spark_type(d.silver_type)) for d in ds.derived),
        ("partition_day", "date"),
    ]
    return ", ".join(f"{bq(c)} {t}" for c, t in cols)


def hadoop_path(path: Path) -> str:
    """A local path as Spark reads it: glob characters escaped (Hadoop globs paths)."""
    text = str(path)
    for char in "\\{}[]*?":
        text = text.replace(char, "\\" + char)
    return text


# the session ------------------------------------------------------------------------------


def spark_lake(lake: Lake) -> None:
    """Refuse a lake the Spark engine cannot write yet (one line, before any work)."""
    if not lake.is_local or (lake.raw_store is not None and not lake.raw_store.is_local):
        raise ConfigError(
            f"engine = spark ingests local lakes only for now, not {lake.url()}",
            "use engine = duckdb for an s3:// lake (SHOPLAKE_ENGINE or --engine)",
            setting="engine",
        )


def spark_session(settings: Settings) -> SparkSession:
    """The running Spark session (AWS Glue's, a test's), else a new one on
    ``settings.spark_master``. A missing PySpark or Java, or a Spark that does not
    start, is a one-line :class:`ConfigError`."""
    try:
        from pyspark.sql import SparkSession
    except ImportError as exc:
        raise ConfigError(
            "engine = spark needs PySpark, which is not installed",
            "pip install 'shoplake[spark]' (PySpark 3.5.4, as AWS Glue 5.0 runs), "
            "or set engine = duckdb",
            setting="engine",
        ) from exc
    active = SparkSession.getActiveSession()
    if active is not None:
        return active
    if not os.environ.get("JAVA_HOME") and shutil.which("java") is None:
        raise ConfigError(
            "engine = spark needs a Java runtime: java is not on PATH and JAVA_HOME is unset",
            "install Java 17 (Debian: apt-get install default-jre-headless), "
            "or set engine = duckdb",
            setting="engine",
        )
    # the executors' Python workers run this interpreter (with shoplake), not `python3`
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    builder = SparkSession.builder.master(settings.spark_master).appName("shoplake ingest")
    if settings.spark_master.startswith("local"):  # one machine: its loopback, its cores
        builder = (
            builder.config("spark.driver.host", "127.0.0.1")
            .config("spark.driver.bindAddress", "127.0.0.1")
            .config("spark.sql.shuffle.partitions", str(2 * (os.cpu_count() or 1)))
        )
    try:
        session = (
            builder.config("spark.ui.enabled", "false")
            .config("spark.ui.showConsoleProgress", "false")
            .config("spark.sql.session.timeZone", "UTC")
            # the ranked rows are cached: let adaptive execution size their partitions
            .config("spark.sql.optimizer.canChangeCachedPlanOutputPartitioning", "true")
            .getOrCreate()
        )
        session.sparkContext.setLogLevel("ERROR")
        return session
    except Exception as exc:  # PySpark's errors (no gateway, a bad master) have no base
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise ConfigError(
            f"cannot start Spark on master {settings.spark_master!r}: {first}",
            "check the Java runtime and SHOPLAKE_SPARK_MASTER / `spark_master`, "
            "or set engine = duckdb",
            setting="spark_master",
        ) from exc


# the executors' part ----------------------------------------------------------------------


def check_files(
    dataset: str, lake: Lake, settings: Settings, now: datetime, out_dir: str
) -> Callable[[int, Iterable[str]], Iterator[dict[str, Any]]]:
    """The task that validates a slice of the raw files on an executor: the files are
    read and checked by the DuckDB engine's :class:`Checker` (its readers and its
    validation SQL), the checked rows written to ``out_dir/checked-<task>.parquet``;
    yields what the driver needs of the batch (counts, days, rejected files)."""

    def run(index: int, keys: Iterable[str]) -> Iterator[dict[str, Any]]:
        todo = list(keys)
        if not todo:
            return
        ds = DATASETS[dataset]
        path = Path(out_dir) / f"checked-{index:05d}.parquet"
        delivered: list[Delivered] = []
        bad_files: list[dict[str, Any]] = []
        with ingest_connection(settings) as con:
            checker = Checker(con, now)
            checker.start(ds)
            for key, content in raw_contents(lake, todo):
                found, rejected = checker.read_file(ds, key, content)
                if found is not None:
                    delivered.append(found)
                if rejected is not None:
                    bad_files.append(rejected)
            checker.check(ds)
            rows, rejected_rows = checker.sql("select count(*), count(reason) from checked")[0]
            days = checker.sql("select distinct partition_day from checked where reason is null")
            checker.sql(f"copy checked to {lit(str(path))} (format parquet, compression snappy)")
        yield {
            "path": str(path),
            "files": len(todo),
            "rows": int(rows),
            "rejected": int(rejected_rows),
            "days": [d for (d,) in days],
            "delivered": delivered,
            "bad_files": bad_files,
        }

    return run


# the driver's part -------------------------------------------------------------------------


class SparkJob(Job):
    """One run's work with Spark: the DuckDB :class:`Job` of the run (its lake, its
    transaction, its batch number), reading, de-duplicating and writing with Spark."""

    spark: SparkSession
    settings: Settings
    #: The batch being ingested: its checked rows, how many, how many rejected, and the
    #: days of its valid rows.
    _checked: DataFrame | None = None
    _rows: int = 0
    _rejected: int = 0
    _days: frozenset[date] = frozenset()

    @classmethod
    def of(cls, job: Job, spark: SparkSession, settings: Settings) -> SparkJob:
        new = cls(job.lake, job.con, job.txn, job.run_id, job.now, job.ingest_seq)
        new.spark, new.settings = spark, settings
        for conf, value in PARQUET_CONF.items():
            spark.conf.set(conf, value)
        return new

    def ingest(
        self, ds: Dataset, seen: dict[str, list[int | str]], progress: Progress
    ) -> DatasetStats:
        """:meth:`Job.ingest` with Spark; a failed Spark job is one line (the JVM's
        stack trace stays behind ``--debug``)."""
        from py4j.protocol import Py4JError
        from pyspark.errors import PySparkException

        try:
            return super().ingest(ds, seen, progress)
        except (Py4JError, PySparkException) as exc:
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise IngestError(
                f"Spark failed while ingesting {ds.name}: {first}",
                "nothing was published; rerun with --debug for Spark's trace",
                dataset=ds.name,
            ) from exc

    @property
    def work(self) -> Path:
        """Spark's files of this run: inside the transaction's folder, so that the
        recovery of a killed run (by either engine) removes them with it."""
        return self.lake.path(self.txn.prefix) / "spark"

    def before_commit(self) -> None:
        crash_point("spark_work_files")  # everything staged, Spark's own files still there
        shutil.rmtree(self.work, ignore_errors=True)

    def _now(self) -> Column:
        from pyspark.sql import functions as F

        return F.expr(f"timestamp_ntz {lit(self.now.isoformat(sep=' '))}")

    # reading ------------------------------------------------------------------------------
    def read_batch(
        self,
        ds: Dataset,
        keys: list[str],
        stats: DatasetStats,
        bad_files: list[dict[str, Any]],
        task: ProgressTask,
    ) -> int:
        self._checked, self._rows, self._rejected, self._days = None, 0, 0, frozenset()
        if not keys:
            return 0
        out = self.work / ds.name / "checked"
        out.mkdir(parents=True, exist_ok=True)
        sc = self.spark.sparkContext
        slices = min(len(keys), sc.defaultParallelism * TASKS_PER_CORE)
        run = check_files(ds.name, self.lake, self.settings, self.now, str(out))
        batches = sc.parallelize(keys, slices).mapPartitionsWithIndex(run).collect()
        for batch in sorted(batches, key=lambda b: b["path"]):
            stats.files_read += batch["files"]
            for found in batch["delivered"]:
                stats.count_delivered(ds, found)
            bad_files.extend(batch["bad_files"])
            self._rows += batch["rows"]
            self._rejected += batch["rejected"]
            self._days |= frozenset(batch["days"])
        task.advance(len(keys))
        self._checked = self.spark.read.schema(checked_schema(ds)).parquet(
            *(hadoop_path(Path(b["path"])) for b in batches)
        )
        return self._rows

    # publishing ---------------------------------------------------------------------------
    def publish(self, ds: Dataset, stats: DatasetStats, bad_files: list[dict[str, Any]]) -> None:
        stats.quarantined = self._spark_quarantine(ds, bad_files)
        valid = self._rows - self._rejected
        if valid:
            stats.written, stats.partitions_written = self._spark_merge(ds)
        stats.duplicates = valid - stats.written
        stats.files_quarantined = len(bad_files)

    def _spark_quarantine(self, ds: Dataset, bad_files: list[dict[str, Any]]) -> int:
        """Stage the run's quarantine file of ``ds`` (records, then files, in the order
        of the DuckDB engine: by file and line, a file's own entry last)."""
        from pyspark.sql import functions as F

        total = self._rejected + len(bad_files)
        if not total:
            return 0
        now, run_id, name = self._now(), F.lit(self.run_id), F.lit(ds.name)
        parts = []
        if self._rejected:
            assert self._checked is not None
            parts.append(
                self._checked.where("reason is not null").select(
                    run_id.alias("run_id"),
                    name.alias("dataset"),
                    "source_file",
                    "source_line",
                    F.lit("record").alias("level"),
                    "reason",
                    "field",
                    "detail",
                    "reasons",
                    "raw_record",
                    now.alias("quarantined_at"),
                )
            )
        if bad_files:
            files = self.spark.createDataFrame(
                [(b["source_file"], b["reason"], b["detail"]) for b in bad_files],
                "source_file string, reason string, detail string",
            )
            none = F.lit(None).cast("string")
            parts.append(
                files.select(
                    run_id.alias("run_id"),
                    name.alias("dataset"),
                    "source_file",
                    F.lit(None).cast("bigint").alias("source_line"),
                    F.lit("file").alias("level"),
                    "reason",
                    none.alias("field"),
                    "detail",
                    F.array(F.struct(F.col("reason"), none.alias("field"), F.col("detail"))).alias(
                        "reasons"
                    ),
                    none.alias("raw_record"),
                    now.alias("quarantined_at"),
                )
            )
        rows = parts[0] if len(parts) == 1 else parts[0].unionByName(parts[1])
        ordered = rows.repartition(1).sortWithinPartitions(
            F.col("source_file").asc(), F.col("source_line").asc_nulls_last()
        )
        target = self.txn.stage_path(
            self.lake.quarantine_key(ds.name, self.now.date(), self.run_id)
        )
        written = self._write(ordered, self.work / ds.name / "quarantine")
        shutil.move(_only(written.get(None, [])), target)
        return total

    def _spark_merge(self, ds: Dataset) -> tuple[int, int]:
        """Merge the valid records with silver (the shared ranking); stage the changed
        days. -> (rows written, partitions written)."""
        from pyspark.sql import functions as F

        assert self._checked is not None
        columns = silver_names(ds)
        lineage = {
            "ingested_at": self._now(),
            "run_id": F.lit(self.run_id),
            "ingest_seq": F.lit(self.ingest_seq).cast("bigint"),
        }
        incoming = self._checked.where("reason is null").select(
            *(lineage[c].alias(c) if c in lineage else F.col(bq(c)) for c in columns),
            "partition_day",
            F.lit(1).alias("is_new"),
        )
        candidates = incoming
        existing = self._spark_existing_partitions(ds, incoming)
        if existing:
            old = (
                self.spark.read.schema(silver_schema(ds))
                .parquet(*(hadoop_path(self.lake.path(k)) for k in existing))
                .select(
                    *(F.col(bq(c)) for c in columns),
                    F.col(bq(ds.business_ts)).cast("date").alias("partition_day"),
                    F.lit(0).alias("is_new"),
                )
            )
            candidates = incoming.unionByName(old)
        view = f"shoplake_candidates_{ds.name}"
        candidates.createOrReplaceTempView(view)
        ranked = self.spark.sql(rank_sql(ds, view, bq, spark_content)).persist()
        try:
            ranked.createOrReplaceTempView(f"{view}_ranked")
            changes = self.spark.sql(day_changes_sql(f"{view}_ranked")).collect()
            changed = sorted(
                r["partition_day"] for r in changes if r["kept_new"] or r["dropped_old"]
            )
            written = sum(int(r["kept_new"]) for r in changes)
            files: dict[date | None, list[Path]] = {}
            if changed:
                key = [bq(k) for k in ds.key]
                output = (
                    ranked.where("rank_in_key = 1")
                    .where(F.col("partition_day").isin(changed))
                    .select(*(F.col(bq(c)) for c in columns), "partition_day")
                    .repartition(min(len(changed), self._cores()), "partition_day")
                    .sortWithinPartitions("partition_day", bq(ds.business_ts), *key)
                )
                files = self._write(output, self.work / ds.name / "silver", "partition_day")
        finally:
            ranked.unpersist()
            self.spark.catalog.dropTempView(f"{view}_ranked")
            self.spark.catalog.dropTempView(view)
        for day in changed:
            relative = self.lake.partition_key(ds.name, day)
            if day in files:
                shutil.move(_only(files[day]), self.txn.stage_path(relative))
            else:
                self.txn.delete(relative)  # every row of the partition moved elsewhere
        return written, len(changed)

    def _cores(self) -> int:
        return max(1, self.spark.sparkContext.defaultParallelism)

    def _spark_existing_partitions(self, ds: Dataset, incoming: DataFrame) -> list[str]:
        """Silver files (lake-relative) that may hold keys of the incoming records: the
        days of the incoming records, and (a key that does not fix its day) the days
        where an incoming key already lives."""
        from pyspark.sql import functions as F

        published = sorted(e.key for e in self.lake.list_silver(ds.name))
        if not published:
            return []
        days = set(self._days)
        if not ds.partition_fixed_by_key:
            key = list(ds.key)
            silver = (
                self.spark.read.schema(silver_schema(ds))
                .parquet(*(hadoop_path(self.lake.path(k)) for k in published))
                .select(*key, ds.business_ts)
            )
            found = (
                silver.join(incoming.select(*key).distinct(), key, "left_semi")
                .select(F.col(bq(ds.business_ts)).cast("date").alias("d"))
                .distinct()
                .collect()
            )
            days |= {r["d"] for r in found}
        keys = [self.lake.partition_key(ds.name, day) for day in sorted(days)]
        present = set(published)
        return [k for k in keys if k in present]

    def _write(
        self, frame: DataFrame, out: Path, partition: str | None = None
    ) -> dict[date | None, list[Path]]:
        """Write ``frame`` as Snappy Parquet under ``out`` (by day if ``partition``):
        the part files written, per day (None: not partitioned)."""
        writer = (
            frame.write.mode("overwrite")
            .option("compression", "snappy")
            .option("maxRecordsPerFile", 0)  # one file per day, whatever the session says
        )
        if partition is not None:
            writer = writer.partitionBy(partition)
        writer.parquet(str(out))
        found: dict[date | None, list[Path]] = {}
        for part in sorted(out.rglob("part-*.parquet")):
            day = None
            if partition is not None:
                day = date.fromisoformat(part.parent.name.removeprefix(f"{partition}="))
            found.setdefault(day, []).append(part)
        return found


def _only(parts: list[Path]) -> Path:
    """The one file Spark wrote for a partition (or the quarantine)."""
    if len(parts) != 1:
        raise IngestError(
            f"Spark wrote {len(parts)} files for one silver partition, not 1",
            "this is a bug in shoplake: please report it with the run log",
        )
    return parts[0]
