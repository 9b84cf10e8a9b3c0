"""``shoplake ingest --engine spark``: the same ingest on PySpark (what AWS Glue 5.0 runs).

Nothing of the contract is written twice. Per dataset:

* **read and validate, on the executors**: the new raw files are spread over Spark
  tasks; each task reads its files with the DuckDB engine's own code
  (:func:`shoplake.ingest.engine.raw_contents`, :meth:`Checker.read_file
  <shoplake.ingest.engine.Checker.read_file>`: the same readers, limits and file
  rejections) and validates them with :meth:`Checker.check
  <shoplake.ingest.engine.Checker.check>` on an in-process DuckDB (the SQL generated from
  the contract: typing, reason codes, click ids, derived columns, line numbers and raw
  records), and writes the checked rows as a Parquet file of the run's transaction
  (through the lake's storage: a local file, or an object under the lake's ``s3://``
  prefix).
* **de-duplicate, in Spark**: the valid rows and the silver partitions they may touch
  are ranked per key by :func:`shoplake.ingest.engine.rank_sql` and
  :func:`~shoplake.ingest.engine.day_changes_sql`, the SQL the DuckDB engine runs too.
* **write, in Spark**: each changed day is one Snappy Parquet file (sorted by business
  time, then key), written by the executors into the transaction's folder; the
  quarantine file likewise. On a local lake Spark's Parquet writer writes them; on an
  ``s3://`` lake (this PySpark has no ``s3a://`` file system: hadoop-aws is not part of
  it) the executors write each file with pyarrow and upload it through the lake's
  storage straight to its staged key (:meth:`Transaction.adopt
  <shoplake.ingest.transaction.Transaction.adopt>`), and Parquet that Spark reads back
  (the checked rows, the silver partitions a batch touches) is read by the executors
  with pyarrow too (:func:`read_rows`).
* **commit, on the driver**: the files become the transaction's staged files and the
  run commits with :class:`shoplake.ingest.transaction.Transaction`, under the lake's
  lock, with its manifest and batch number, exactly as the DuckDB engine does: a lake
  may switch engines between runs, and either engine recovers a run the other left.

The Spark types of the silver columns come from the contract (:func:`spark_type`).
A local lake needs executors that see its directory (a ``local[n]`` master, or a shared
file system); an ``s3://`` lake needs executors that reach the bucket (the driver's
``AWS_*`` variables, when set, are passed to them: :func:`executor_environment`).
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import shutil
import sys
from collections.abc import Callable, Iterable, Iterator
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from shoplake.config import Settings
from shoplake.contract import DATASETS, Dataset
from shoplake.errors import ConfigError, IngestError
from shoplake.ingest.engine import (
    QUARANTINE_SCHEMA,
    REASON,
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
    from pyspark import SparkContext
    from pyspark.sql import Column, DataFrame, Row, SparkSession

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
#: The driver's environment that reaches S3, passed to the executors' Python workers of
#: a run on an ``s3://`` lake (the variables set; the AWS chain of each worker does the rest).
AWS_ENVIRONMENT = (
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_S3",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_PROFILE",
    "AWS_CONFIG_FILE",
    "AWS_SHARED_CREDENTIALS_FILE",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
)
#: Rows an executor buffers before writing them to a staged Parquet file (a row group).
ROWS_PER_GROUP = 65_536
_ARROW_TYPES = {
    "string": pa.string(),
    "timestamp_ntz": pa.timestamp("us"),
    "bigint": pa.int64(),
    "boolean": pa.bool_(),
    "date": pa.date32(),
    REASONS_TYPE: pa.list_(REASON),
}
_DECIMAL = re.compile(r"decimal\((\d+),\s*(\d+)\)")


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


def silver_schema(ds: Dataset, only: Iterable[str] | None = None) -> str:
    """The silver table's Spark schema (DDL), from the contract (``only``: those columns)."""
    return ddl(_silver_columns(ds, only))


def silver_arrow_schema(ds: Dataset, only: Iterable[str] | None = None) -> pa.Schema:
    """The silver table's schema as pyarrow reads and writes it (``only``: those columns)."""
    return arrow_schema(_silver_columns(ds, only))


def _silver_columns(ds: Dataset, only: Iterable[str] | None) -> list[tuple[str, str]]:
    cols = [(c, spark_type(t)) for c, t in ds.silver_columns]
    if only is None:
        return cols
    wanted = set(only)
    return [(c, t) for c, t in cols if c in wanted]


def ddl(columns: list[tuple[str, str]]) -> str:
    """A Spark schema (DDL) of ``(name, Spark type)`` columns."""
    return ", ".join(f"{bq(c)} {t}" for c, t in columns)


def arrow_type(spark: str) -> pa.DataType:
    """The Arrow type of a Spark type of this module (the Parquet type both write)."""
    m = _DECIMAL.fullmatch(spark)
    if m:
        return pa.decimal128(int(m[1]), int(m[2]))
    return _ARROW_TYPES[spark]


def arrow_schema(columns: list[tuple[str, str]]) -> pa.Schema:
    return pa.schema([(c, arrow_type(t)) for c, t in columns])


def checked_schema(ds: Dataset) -> str:
    """The Spark schema (DDL) of :meth:`Checker.check`'s ``checked`` table."""
    return ddl(checked_columns(ds))


def checked_columns(ds: Dataset) -> list[tuple[str, str]]:
    """The columns of :meth:`Checker.check`'s ``checked`` table, with their Spark types."""
    return [
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


def hadoop_path(path: Path) -> str:
    """A local path as Spark reads it: glob characters escaped (Hadoop globs paths)."""
    text = str(path)
    for char in "\\{}[]*?":
        text = text.replace(char, "\\" + char)
    return text


# the session ------------------------------------------------------------------------------


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
    dataset: str, lake: Lake, settings: Settings, now: datetime, out: str
) -> Callable[[int, Iterable[str]], Iterator[dict[str, Any]]]:
    """The task that validates a slice of the raw files on an executor: the files are
    read (through the lake's storage) and checked by the DuckDB engine's
    :class:`Checker` (its readers and its validation SQL), the checked rows written to
    the lake at ``out/checked-<task>.parquet``; yields what the driver needs of the
    batch (counts, days, rejected files)."""

    def run(index: int, keys: Iterable[str]) -> Iterator[dict[str, Any]]:
        todo = list(keys)
        if not todo:
            return
        ds = DATASETS[dataset]
        key = lake.key(out, f"checked-{index:05d}.parquet")
        path = lake.scratch_file(key)
        delivered: list[Delivered] = []
        bad_files: list[dict[str, Any]] = []
        try:
            with ingest_connection(settings) as con:
                checker = Checker(con, now)
                checker.start(ds)
                for raw_key, content in raw_contents(lake, todo):
                    found, rejected = checker.read_file(ds, raw_key, content)
                    if found is not None:
                        delivered.append(found)
                    if rejected is not None:
                        bad_files.append(rejected)
                checker.check(ds)
                rows, rejected_rows = checker.sql("select count(*), count(reason) from checked")[0]
                days = checker.sql(
                    "select distinct partition_day from checked where reason is null"
                )
                checker.sql(
                    f"copy checked to {lit(str(path))} (format parquet, compression snappy)"
                )
            lake.publish_file(path, key)
        finally:
            path.unlink(missing_ok=True)
        yield {
            "key": key,
            "files": len(todo),
            "rows": int(rows),
            "rejected": int(rejected_rows),
            "days": [d for (d,) in days],
            "delivered": delivered,
            "bad_files": bad_files,
        }

    return run


def read_rows(lake: Lake, schema: pa.Schema) -> Callable[[Iterable[str]], Iterator[tuple]]:
    """The task that reads Parquet files of the lake (keys) on an executor with pyarrow,
    through the lake's storage: their rows as tuples of ``schema``'s columns (a column a
    file lacks, e.g. ``ingest_seq`` in silver written before it existed, reads as null)."""

    def run(keys: Iterable[str]) -> Iterator[tuple]:
        import pyarrow.parquet as pq

        for _key, data in lake.read_many(list(keys)):
            parquet = pq.ParquetFile(io.BytesIO(data))
            present = set(parquet.schema_arrow.names)
            table = parquet.read(columns=[n for n in schema.names if n in present])
            columns = [
                table.column(f.name).cast(f.type)
                if f.name in present
                else pa.nulls(table.num_rows, f.type)
                for f in schema
            ]
            yield from zip(*(c.to_pylist() for c in columns), strict=True)

    return run


class _StagedFiles:
    """An executor's staged Parquet files, one per day (or one): written with pyarrow
    to local scratch files, then uploaded to their keys through the lake's storage."""

    def __init__(self, lake: Lake, schema: pa.Schema, prefix: str, stem: str) -> None:
        self.lake, self.schema, self.prefix, self.stem = lake, schema, prefix, stem
        self.files: list[tuple[Path, str]] = []
        self.written: list[tuple[date | None, str, int]] = []
        self._writer: Any = None
        self._rows: list[dict[str, Any]] = []

    def open(self, day: date | None) -> None:
        import pyarrow.parquet as pq

        self.close()
        name = (
            f"{self.stem}-{day.isoformat()}.parquet" if day is not None else f"{self.stem}.parquet"
        )
        key = self.lake.key(self.prefix, name)
        path = self.lake.scratch_file(key)
        self.files.append((path, key))
        self.written.append((day, key, 0))
        self._writer = pq.ParquetWriter(
            path, self.schema, compression="snappy", store_decimal_as_integer=True
        )

    def add(self, row: dict[str, Any]) -> None:
        self._rows.append(row)
        if len(self._rows) >= ROWS_PER_GROUP:
            self._flush()

    def _flush(self) -> None:
        if self._rows:
            self._writer.write_table(pa.Table.from_pylist(self._rows, schema=self.schema))
            day, key, n = self.written[-1]
            self.written[-1] = (day, key, n + len(self._rows))
            self._rows = []

    def close(self) -> None:
        if self._writer is not None:
            self._flush()
            self._writer.close()
            self._writer = None

    def publish(self) -> None:
        self.close()
        self.lake.publish_files(self.files)

    def discard(self) -> None:
        for path, _ in self.files:
            path.unlink(missing_ok=True)


def stage_rows(
    lake: Lake, schema: pa.Schema, prefix: str, stem: str, partition: str | None
) -> Callable[[Iterable[Row]], Iterator[tuple[date | None, str, int]]]:
    """The task that writes a partition of sorted rows on an executor: one Parquet file
    of ``schema`` per value of ``partition`` (the rows of a day are contiguous), or one
    file, at ``prefix/<stem>[-<day>].parquet`` in the lake; yields (day, key, rows) of
    each file."""

    def run(rows: Iterable[Row]) -> Iterator[tuple[date | None, str, int]]:
        staged = _StagedFiles(lake, schema, prefix, stem)
        names = schema.names
        current: Any = staged  # no day yet
        try:
            for row in rows:
                day = row[partition] if partition is not None else None
                if day != current:
                    staged.open(day)
                    current = day
                record = row.asDict(recursive=True)
                staged.add({n: record[n] for n in names})
            staged.publish()
        finally:
            staged.discard()
        yield from staged.written

    return run


def spark_error_line(exc: BaseException) -> str:
    """One line for a failed Spark job: the shoplake error an executor raised (an S3
    object it could not read or write, say), as its worker reported it; else the first
    line of Spark's message."""
    text = str(exc).strip()
    raised = _EXECUTOR_ERROR.findall(text)
    if raised:
        return raised[-1].strip()
    return (text.splitlines() or [type(exc).__name__])[0]


_EXECUTOR_ERROR = re.compile(r"^shoplake\.errors\.\w+: (.+)$", re.MULTILINE)


@contextlib.contextmanager
def executor_environment(sc: SparkContext, names: Iterable[str]) -> Iterator[None]:
    """The driver's values of ``names`` (those set) in the environment of the Python
    workers that the Spark jobs defined meanwhile start (``SparkContext.environment``, as
    ``spark.executorEnv.*`` sets it); the session's own values are put back after."""
    env = sc.environment
    before = {n: env.get(n) for n in names}
    for name in names:
        value = os.environ.get(name)
        if value is not None:
            env[name] = value
    try:
        yield
    finally:
        for name, value in before.items():
            if value is None:
                env.pop(name, None)
            else:
                env[name] = value


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

    @property
    def remote(self) -> bool:
        """Whether the lake is in S3: its Parquet is then read and written by the
        executors with pyarrow through the lake's storage (Spark has no S3 file system
        here), and staged files go straight to the transaction's folder in the bucket."""
        return not self.lake.is_local

    def ingest(
        self, ds: Dataset, seen: dict[str, list[int | str]], progress: Progress
    ) -> DatasetStats:
        """:meth:`Job.ingest` with Spark; a failed Spark job is one line (the JVM's
        stack trace stays behind ``--debug``)."""
        from py4j.protocol import Py4JError
        from pyspark.errors import PySparkException

        uses_s3 = self.remote or (
            self.lake.raw_store is not None and not self.lake.raw_store.is_local
        )
        names = AWS_ENVIRONMENT if uses_s3 else ()
        try:
            with executor_environment(self.spark.sparkContext, names):
                return super().ingest(ds, seen, progress)
        except (Py4JError, PySparkException) as exc:
            raise IngestError(
                f"Spark failed while ingesting {ds.name}: {spark_error_line(exc)}",
                "nothing was published; rerun with --debug for Spark's trace",
                dataset=ds.name,
            ) from exc
        finally:
            if self._checked is not None:
                self._checked.unpersist()
                self._checked = None

    @property
    def work(self) -> str:
        """Spark's files of this run (a lake key): inside the transaction's folder, so
        that the recovery of a killed run (by either engine) removes them with it."""
        return self.lake.key(self.txn.prefix, "spark")

    def before_commit(self) -> None:
        crash_point("spark_work_files")  # everything staged, Spark's own files still there
        self.lake.delete_prefix(self.work)

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
        out = self.lake.key(self.work, ds.name, "checked")
        sc = self.spark.sparkContext
        slices = min(len(keys), sc.defaultParallelism * TASKS_PER_CORE)
        run = check_files(ds.name, self.lake, self.settings, self.now, out)
        batches = sc.parallelize(keys, slices).mapPartitionsWithIndex(run).collect()
        for batch in sorted(batches, key=lambda b: b["key"]):
            stats.files_read += batch["files"]
            for found in batch["delivered"]:
                stats.count_delivered(ds, found)
            bad_files.extend(batch["bad_files"])
            self._rows += batch["rows"]
            self._rejected += batch["rejected"]
            self._days |= frozenset(batch["days"])
        task.advance(len(keys))
        columns = checked_columns(ds)
        self._checked = self._read(ddl(columns), arrow_schema(columns), [b["key"] for b in batches])
        if self.remote:  # read once from S3, used by the quarantine and the merge
            self._checked = self._checked.persist()
        return self._rows

    def _read(self, schema: str, arrow: pa.Schema, keys: list[str]) -> DataFrame:
        """The rows of the lake's Parquet files ``keys`` with the Spark ``schema``: read
        by Spark on a local lake, by the executors with pyarrow on an S3 lake."""
        if not self.remote:
            return self.spark.read.schema(schema).parquet(
                *(hadoop_path(self.lake.path(k)) for k in keys)
            )
        sc = self.spark.sparkContext
        slices = max(1, min(len(keys), sc.defaultParallelism * TASKS_PER_CORE))
        rows = sc.parallelize(keys, slices).mapPartitions(read_rows(self.lake, arrow))
        return self.spark.createDataFrame(rows, schema, verifySchema=False)

    def _read_silver(
        self, ds: Dataset, keys: list[str], only: list[str] | None = None
    ) -> DataFrame:
        return self._read(silver_schema(ds, only), silver_arrow_schema(ds, only), keys)

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
        relative = self.lake.quarantine_key(ds.name, self.now.date(), self.run_id)
        written = self._write(ordered, ds, "quarantine", QUARANTINE_SCHEMA)
        self._stage(_only(written.get(None, [])), relative)
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
            old = self._read_silver(ds, existing).select(
                *(F.col(bq(c)) for c in columns),
                F.col(bq(ds.business_ts)).cast("date").alias("partition_day"),
                F.lit(0).alias("is_new"),
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
            files: dict[date | None, list[Path | str]] = {}
            if changed:
                key = [bq(k) for k in ds.key]
                output = (
                    ranked.where("rank_in_key = 1")
                    .where(F.col("partition_day").isin(changed))
                    .select(*(F.col(bq(c)) for c in columns), "partition_day")
                    .repartition(min(len(changed), self._cores()), "partition_day")
                    .sortWithinPartitions("partition_day", bq(ds.business_ts), *key)
                )
                files = self._write(output, ds, "silver", silver_arrow_schema(ds), "partition_day")
        finally:
            ranked.unpersist()
            self.spark.catalog.dropTempView(f"{view}_ranked")
            self.spark.catalog.dropTempView(view)
        for day in changed:
            relative = self.lake.partition_key(ds.name, day)
            if day in files:
                self._stage(_only(files[day]), relative)
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
            silver = self._read_silver(ds, published, [*key, ds.business_ts]).select(
                *key, ds.business_ts
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
        self,
        frame: DataFrame,
        ds: Dataset,
        what: str,
        schema: pa.Schema,
        partition: str | None = None,
    ) -> dict[date | None, list[Path | str]]:
        """Write ``frame`` as Snappy Parquet (one file per day if ``partition``): the
        files written, per day (None: not partitioned). A local lake: Spark's writer,
        into ``spark/<dataset>/<what>`` of the transaction, the local files returned. An
        S3 lake: the executors, with pyarrow (columns of ``schema``), to staged keys of
        the transaction (``files/spark-<dataset>-<what>[-<day>].parquet``), returned."""
        found: dict[date | None, list[Path | str]] = {}
        if self.remote:
            run = stage_rows(
                self.lake, schema, self.txn.staged_key(""), f"spark-{ds.name}-{what}", partition
            )
            for day, key, _ in frame.rdd.mapPartitions(run).collect():
                found.setdefault(day, []).append(key)
            return found
        out = self.lake.path(self.lake.key(self.work, ds.name, what))
        writer = (
            frame.write.mode("overwrite")
            .option("compression", "snappy")
            .option("maxRecordsPerFile", 0)  # one file per day, whatever the session says
        )
        if partition is not None:
            writer = writer.partitionBy(partition)
        writer.parquet(str(out))
        for part in sorted(out.rglob("part-*.parquet")):
            day = None
            if partition is not None:
                day = date.fromisoformat(part.parent.name.removeprefix(f"{partition}="))
            found.setdefault(day, []).append(part)
        return found

    def _stage(self, written: Path | str, relative: str) -> None:
        """Make a file :meth:`_write` wrote the staged content of ``relative``: a local
        file is moved to its staged path, a staged key of the bucket adopted as it is."""
        if isinstance(written, Path):
            shutil.move(written, self.txn.stage_path(relative))
        else:
            self.txn.adopt(relative, written)


def _only(parts: list[Path | str]) -> Path | str:
    """The one file Spark wrote for a partition (or the quarantine)."""
    if len(parts) != 1:
        raise IngestError(
            f"Spark wrote {len(parts)} files for one silver partition, not 1",
            "this is a bug in shoplake: please report it with the run log",
        )
    return parts[0]
