"""``shoplake ingest``: raw -> silver for every dataset of the contract, on DuckDB.

Per dataset: find new or changed raw files, read them (:mod:`.readers`), validate in SQL
(:mod:`.validate`), merge with the silver rows of the partitions they touch, and stage
the changed partitions, the quarantine and the bookkeeping in one transaction
(:mod:`.transaction`) that is published at the end of the run.
"""

from __future__ import annotations

import csv
import io
import json
import os
import secrets
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from shoplake.config import load_settings, parse_engine
from shoplake.contract import DATASETS, LINEAGE_COLUMNS, NOT_A_REGULAR_FILE, Dataset, Format
from shoplake.ingest.rates import read_rates
from shoplake.ingest.readers import (
    EXCERPT_CHARS,
    CsvColumns,
    FileRejected,
    RawRecords,
    column_changes,
    decode,
    ndjson_lines,
    read_records,
)
from shoplake.ingest.resources import ingest_connection
from shoplake.ingest.transaction import Transaction, lake_lock, recover
from shoplake.ingest.validate import csv_columns_sql, lit, ndjson_parse_sql, q, validate_sql
from shoplake.lake import Lake, RawZone, StrayFile
from shoplake.report import NullProgress, Progress, ProgressTask, Report
from shoplake.storage import NotRegularFile

MANIFEST = ("ingest", "files.json")
#: The ingest batch counter: ``{"ingest_seq": n}``, the number of the last run that wrote
#: anything; published in the same transaction as the rows that carry it.
SEQUENCE = ("ingest", "sequence.json")
LINEAGE = [name for name, _, _ in LINEAGE_COLUMNS]
#: An engine's expression for a row's content, from its quoted columns (:func:`rank_sql`).
ContentFn = Callable[[list[str]], str]
#: Bytes of NDJSON lines gathered before they are validated in one statement: fewer,
#: larger statements, and memory bounded by about this much raw text at a time.
NDJSON_CHUNK_BYTES = 64 << 20

#: One rule a quarantined record breaks (``reasons`` lists them all, the first first).
REASON = pa.struct([("reason", pa.string()), ("field", pa.string()), ("detail", pa.string())])
QUARANTINE_SCHEMA = pa.schema(
    [
        ("run_id", pa.string()),
        ("dataset", pa.string()),
        ("source_file", pa.string()),
        ("source_line", pa.int64()),
        ("level", pa.string()),
        ("reason", pa.string()),
        ("field", pa.string()),
        ("detail", pa.string()),
        ("reasons", pa.list_(REASON)),
        ("raw_record", pa.string()),
        ("quarantined_at", pa.timestamp("us")),
    ]
)


@dataclass
class DatasetStats:
    files_read: int = 0
    read: int = 0
    written: int = 0
    quarantined: int = 0
    duplicates: int = 0
    files_quarantined: int = 0
    extra_columns: int = 0
    partitions_written: int = 0
    #: Schema changes in the files read (:func:`shoplake.ingest.readers.column_changes`):
    #: column -> how many files delivered it though the contract does not have it, and
    #: optional contract column -> how many files lacked it.
    columns_added: dict[str, int] = field(default_factory=dict)
    columns_vanished: dict[str, int] = field(default_factory=dict)

    @property
    def balanced(self) -> bool:
        return self.read == self.written + self.quarantined + self.duplicates

    def count_delivered(self, ds: Dataset, delivered: Delivered) -> None:
        """Count a file's extra columns and its schema changes against the contract."""
        self.extra_columns += delivered.extra_columns
        if delivered.columns is not None:
            added, vanished = column_changes(ds, delivered.columns)
            for name in added:
                self.columns_added[name] = self.columns_added.get(name, 0) + 1
            for name in vanished:
                self.columns_vanished[name] = self.columns_vanished.get(name, 0) + 1


@dataclass
class IngestReport:
    run_id: str
    started_at: datetime
    finished_at: datetime | None = None
    datasets: dict[str, DatasetStats] = field(default_factory=dict)
    recovered: list[str] = field(default_factory=list)
    log_path: str = ""  # lake-relative path of the run log
    unmatched: list[StrayFile] = field(default_factory=list)  # raw files of no dataset
    engine: str = "duckdb"  # the engine that ran it

    #: How many unmatched files the printed report names (the run log keeps them all).
    NOTES_SHOWN = 20

    @property
    def balanced(self) -> bool:
        return all(s.balanced for s in self.datasets.values())

    @property
    def warnings(self) -> list[str]:
        """What should make the run's status ``warn``: one line per kind of problem."""
        if not self.unmatched:
            return []
        n = len(self.unmatched)
        return [
            f"{n} raw file{'s' if n > 1 else ''} under raw/ match{'' if n > 1 else 'es'} no "
            f"dataset's layout and {'were' if n > 1 else 'was'} not read "
            f"(first: {self.unmatched[0].line()})"
        ]

    def to_json(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "engine": self.engine,
            "started_at": self.started_at.isoformat(),
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
            "balanced": self.balanced,
            "recovered": self.recovered,
            "datasets": {name: asdict(s) for name, s in self.datasets.items()},
            "unmatched_files": [asdict(s) for s in self.unmatched],
            "warnings": self.warnings,
        }

    def as_report(self) -> Report:
        columns = (
            "dataset",
            "files",
            "read",
            "written",
            "quarantined",
            "duplicates",
            "bad files",
            "partitions",
        )
        rows = [
            (
                name,
                s.files_read,
                s.read,
                s.written,
                s.quarantined,
                s.duplicates,
                s.files_quarantined,
                s.partitions_written,
            )
            for name, s in self.datasets.items()
        ]
        notes = [*self.recovered, f"run {self.run_id}: log in {self.log_path}"]
        extra = {n: s.extra_columns for n, s in self.datasets.items() if s.extra_columns}
        if extra:
            notes.insert(
                0,
                "unknown extra columns ignored: " + ", ".join(f"{n} {c}" for n, c in extra.items()),
            )
        if self.unmatched:
            shown = self.unmatched[: self.NOTES_SHOWN]
            more = len(self.unmatched) - len(shown)
            notes[:0] = [
                f"NOT READ: {len(self.unmatched)} file(s) under raw/ match no dataset's layout"
                " (rename or move them; they are listed in the run log):",
                *(f"  {s.line()}" for s in shown),
                *([f"  ... and {more} more"] if more else []),
            ]
        if not self.balanced:
            notes.insert(0, "ACCOUNTING DOES NOT BALANCE: read != written + quarantined + dups")
        return Report("shoplake ingest", columns, rows, notes)


def run_ingest(
    lake: Lake,
    *,
    wait: bool = False,
    progress: Progress | None = None,
    now: datetime | None = None,
    engine: str | None = None,
) -> IngestReport:
    """Ingest every new or changed raw file of every dataset into silver.

    ``engine``: ``duckdb`` or ``spark`` (default: the ``engine`` setting). The Spark
    engine's session is started (or the running one taken) before the lake is locked,
    so a missing Java or PySpark stops the run in one line before it touches the lake.
    """
    settings = load_settings()
    engine = parse_engine(engine or settings.engine)
    spark = None
    if engine == "spark":
        from shoplake.ingest.spark import spark_session

        spark = spark_session(settings)
    started = (now or datetime.now(timezone.utc)).astimezone(timezone.utc)
    run_id = f"{started:%Y%m%dT%H%M%S}Z-{secrets.token_hex(3)}"
    report = IngestReport(run_id=run_id, started_at=started, engine=engine)
    with ingest_session(lake, run_id, started, wait) as session:
        report.recovered = session.recovered
        job, txn, manifest = session.job, session.txn, session.manifest
        if spark is not None:
            from shoplake.ingest.spark import SparkJob

            job = SparkJob.of(job, spark, settings)
        for ds in DATASETS.values():
            files = manifest.setdefault(ds.name, {})
            report.datasets[ds.name] = job.ingest(ds, files, progress or NullProgress())
        report.unmatched = job.zone.strays
        report.finished_at = datetime.now(timezone.utc)
        report.log_path = lake.run_log_key(run_id)
        if session.stage_manifest():  # a run that read nothing leaves it untouched
            session.stage_sequence()
        txn.stage_bytes(report.log_path, dumps(report.to_json()))
        job.before_commit()
        txn.commit()
    return report


@dataclass
class Session:
    """One run's hold on the lake for writing silver: the ingest lock (after recovering
    what a crashed run left), the file manifest as it was, the run's batch number, its
    transaction, and a :class:`Job` on its own DuckDB connection."""

    lake: Lake
    txn: Transaction
    job: Job
    recovered: list[str]
    manifest: dict[str, dict[str, list[int | str]]]
    ingest_seq: int
    _manifest_before: bytes

    def stage_manifest(self) -> bool:
        """Stage the file manifest if the run changed it; whether it did."""
        changed = dumps(self.manifest) != self._manifest_before
        if changed:
            self.txn.stage_bytes(self.lake.state_key(*MANIFEST), dumps(self.manifest))
        return changed

    def stage_sequence(self) -> None:
        """Stage the run's batch number as the newest (the rows it writes carry it)."""
        self.txn.stage_bytes(self.lake.state_key(*SEQUENCE), dumps({"ingest_seq": self.ingest_seq}))


@contextmanager
def ingest_session(lake: Lake, run_id: str, started: datetime, wait: bool) -> Iterator[Session]:
    """The :class:`Session` of a run that writes silver (ingest, a quarantine replay).

    The caller stages what it wrote and commits (or aborts) the transaction; an
    exception aborts it. The connection is closed and the lock released either way.
    """
    with lake_lock(lake, "ingest", wait) as lease:
        recovered = recover(lake)
        manifest = load_manifest(lake, lake.state_key(*MANIFEST))
        ingest_seq = load_sequence(lake, lake.state_key(*SEQUENCE)) + 1
        txn = Transaction(lake, run_id, lease)
        try:
            with ingest_connection() as con:
                lake.attach(con)
                job = Job(lake, con, txn, run_id, started.replace(tzinfo=None), ingest_seq)
                yield Session(lake, txn, job, recovered, manifest, ingest_seq, dumps(manifest))
        except BaseException:
            txn.abort()
            raise


def _not_regular(key: str, kind: str | None) -> FileRejected:
    return FileRejected(
        NOT_A_REGULAR_FILE,
        f"{key} is a {kind or 'other'}, not a regular file: links and special files are not read",
    )


def rejected_file(relative: str, rejected: FileRejected) -> dict[str, Any]:
    """The quarantine entry of a rejected file."""
    return {"source_file": relative, "reason": rejected.reason, "detail": rejected.detail}


def dumps(obj: Any) -> bytes:
    return json.dumps(obj, indent=1, sort_keys=True).encode()


def load_manifest(lake: Lake, key: str) -> dict[str, dict[str, list[int | str]]]:
    """Raw files already ingested: key -> signature (size and mtime, or size and ETag)."""
    try:
        return json.loads(lake.read_bytes(key))
    except FileNotFoundError:
        return {}


def load_sequence(lake: Lake, key: str) -> int:
    """The number of the last ingest run that wrote anything (0 before the first)."""
    try:
        return int(json.loads(lake.read_bytes(key))["ingest_seq"])
    except FileNotFoundError:
        return 0


@dataclass
class Delivered:
    """What :meth:`Checker.load_file` found about a file's columns: how many it has that
    the contract does not (``extra_columns``), and the columns it delivered (None when
    it shows none: an empty CSV, a page or NDJSON file without one JSON object). An
    NDJSON file's columns are filled in when its lines are validated (in a chunk of the
    batch's files, at :meth:`Checker.check` at the latest): read them after that."""

    extra_columns: int
    columns: frozenset[str] | None


def silver_names(ds: Dataset) -> list[str]:
    """The silver columns of ``ds`` in file order: data, derived, lineage."""
    return [name for name, _ in ds.silver_columns]


def duckdb_content_hash(columns: list[str]) -> str:
    """DuckDB: one value that is equal for rows of equal content (``columns``)."""
    return f"hash({', '.join(columns)})"


def rank_sql(ds: Dataset, source: str, quote: Callable[[str], str], content: ContentFn) -> str:
    """SELECT ranking the candidate rows of ``source`` (silver columns, ``partition_day``
    and ``is_new``, 1 for a row of this run, 0 for one already in silver) within their
    key: ``rank_in_key`` 1 is the row silver keeps. Both engines run it (DuckDB on the
    repeated keys, Spark SQL on every candidate); ``quote`` quotes an identifier and
    ``content`` gives the engine's expression for a row's content.

    The content of the latest delivery (raw path, then line; a file read again is
    delivered later than its earlier content) wins; among rows with that content the
    one already in silver, else the earliest delivered, is kept, so an identical
    re-delivery never changes silver.
    """
    key = ", ".join(quote(k) for k in ds.key)
    data = [f.name for f in ds.fields] + [d.name for d in ds.derived]
    columns = ", ".join(quote(c) for c in [*silver_names(ds), "partition_day", "is_new"])
    return f"""select {columns}, row_number() over (
            partition by {key}
            order by (content_hash = winning_hash) desc, is_new, source_file, source_line
        ) as rank_in_key
        from (
            select *, first_value(content_hash) over (
                partition by {key} order by source_file desc, source_line desc, is_new desc
            ) as winning_hash
            from (
                select *, {content([quote(c) for c in data])} as content_hash from {source}
            ) as hashed
        ) as won"""


def day_changes_sql(ranked: str) -> str:
    """Per partition day of ``ranked`` (:func:`rank_sql`): rows of this run that silver
    keeps, and rows of silver that it drops. A day with either is rewritten."""
    return f"""select partition_day,
        sum(case when rank_in_key = 1 and is_new = 1 then 1 else 0 end) as kept_new,
        sum(case when rank_in_key > 1 and is_new = 0 then 1 else 0 end) as dropped_old
    from {ranked} group by partition_day"""


def raw_contents(lake: Lake, keys: list[str]) -> Iterator[tuple[str, bytes | NotRegularFile]]:
    """``(key, content)`` of each raw file, in order; a file that turned into a link
    or a special file since it was listed gives its :class:`NotRegularFile` instead
    (it is not opened) and the reading goes on with the next one."""
    while keys:
        done = 0
        try:
            for key, content in lake.read_many(keys):
                done += 1
                yield key, content
            return
        except NotRegularFile as exc:
            yield keys[done], exc
            keys = keys[done + 1 :]


class Checker:
    """Validation of one dataset's raw records on a DuckDB connection, writing nothing:
    :meth:`start`, then load raw files (:meth:`load_file`) or raw texts kept in the
    quarantine (:meth:`load_stored`), then :meth:`check` builds the ``checked`` table
    (typed columns, ``reason``/``field``/``detail``/``reasons``, ``raw_record``,
    ``partition_day``). Ingest, ``shoplake validate`` and the quarantine replay share it.
    """

    def __init__(self, con: duckdb.DuckDBPyConnection, now: datetime) -> None:
        self.con, self.now = con, now
        #: The header of each file of the batch read by the columnar CSV reader (its
        #: quarantined records are turned into the row reader's text at the end).
        self._csv_headers: dict[str, list[str]] = {}
        #: NDJSON lines not validated yet (source_file, source_line, line, limit_error),
        #: the Delivered of each of their files, their bytes, and whether ``checked``
        #: has been started for the batch.
        self._chunk: list[pa.Table] = []
        self._chunk_files: dict[str, Delivered] = {}
        self._chunk_bytes = 0
        self._checked_started = False
        self._dataset: Dataset | None = None  # the batch's (set by start)
        self.now_sql = f"timestamp {lit(now.isoformat(sep=' '))}"

    @property
    def _batch(self) -> Dataset:
        """The dataset of the batch (:meth:`start`)."""
        if self._dataset is None:
            raise RuntimeError("Checker.start() the batch first")
        return self._dataset

    def sql(self, query: str, params: list | None = None) -> list[tuple]:
        """Run a statement and drain its result (DuckDB 2 requires it before the next)."""
        return self.con.execute(query, params or []).fetchall()

    def count(self, query: str) -> int:
        return int(self.sql(query)[0][0])

    def start(self, ds: Dataset) -> None:
        """Start a batch of ``ds``: its records are validated into ``checked`` as they
        are loaded (a CSV or JSON file at a time, NDJSON a chunk of files at a time)."""
        self._dataset = ds
        self._csv_headers = {}
        self._chunk, self._chunk_files, self._chunk_bytes = [], {}, 0
        self._checked_started = False

    def load_file(self, ds: Dataset, relative: str, data: bytes) -> Delivered:
        """Validate one decoded file's records into ``checked`` (an NDJSON file's lines
        once its chunk is full, or at :meth:`check`); returns its unknown extra columns
        (not counted for NDJSON) and the columns it delivered."""
        if ds.format is Format.NDJSON:
            delivered = Delivered(0, None)  # columns: when the chunk is validated
            self._chunk_files[relative] = delivered
            self._insert_lines(ndjson_lines(data), relative)
            return delivered
        records = (read_rates if ds.name == "exchange_rates" else read_records)(ds, data)
        if records:
            self._insert_records(records, relative)
        return Delivered(records.extra_columns, records.columns)

    def _ndjson_columns(self, relation: str) -> None:
        """Fill in the columns of the chunk's files (:attr:`_chunk_files`): the top-level
        keys of each file's objects (union); None without one. Lines over a limit are
        not parsed; one that is not JSON counts no key."""
        rows = self.sql(  # objects of the same keys are one group (most of a file)
            f"""select source_file, any_value(keys) from (
                select source_file, try(json_keys(line)) as keys from {relation}
                where limit_error is null and starts_with(ltrim(line), '{{')
            )
            group by source_file, to_json(keys)::varchar"""
        )
        found: dict[str, set[str]] = {}
        for source_file, keys in rows:
            if keys is not None:  # not JSON: no key
                found.setdefault(source_file, set()).update(keys)
        for source_file, keys in found.items():
            delivered = self._chunk_files.get(source_file)
            if delivered is not None:
                delivered.columns = frozenset(keys)

    def read_file(
        self, ds: Dataset, relative: str, content: bytes | NotRegularFile
    ) -> tuple[Delivered | None, dict[str, Any] | None]:
        """Decode and load one raw file's records: (what it delivered, None when the file
        as a whole is rejected; its quarantine entry then). Both engines read every file
        with it (the Spark engine on its executors)."""
        try:
            if isinstance(content, NotRegularFile):
                raise _not_regular(content.key, content.kind)
            data = decode(content, relative.rsplit("/", 1)[-1])
            return self.load_file(ds, relative, data), None
        except FileRejected as rejected:
            return None, rejected_file(relative, rejected)

    def load_stored(self, ds: Dataset, stored: list[tuple[str, int, str]]) -> list[int]:
        """Append records kept as raw text in the quarantine, ``(source_file, source_line,
        raw_record)`` each, read by the same reader as their file was: an NDJSON line as
        a line, a customer as an element of a page, a CSV row (kept as header -> value)
        as a one-row CSV with that header. Returns the positions in ``stored`` of the
        records that cannot be read again from what the quarantine kept (a CSV row that
        did not split into fields, an excerpt of a record over a size limit)."""
        lost: list[int] = []
        groups: dict[tuple[str, ...], list[int]] = {}
        usable: list[int] = []
        for i, (_, _, raw) in enumerate(stored):
            if raw is None or (raw.endswith("...") and len(raw) == EXCERPT_CHARS + 3):
                lost.append(i)
                continue
            if ds.format is Format.CSV:
                try:
                    row = json.loads(raw)
                except ValueError:
                    row = None
                if not isinstance(row, dict):
                    lost.append(i)
                    continue
                groups.setdefault(tuple(row), []).append(i)
            else:
                usable.append(i)
        if ds.format is Format.NDJSON:
            text = "".join(stored[i][2].replace("\n", " ") + "\n" for i in usable)
            self._insert_lines(ndjson_lines(text.encode("utf-8")), None, stored, usable)
        elif ds.format is Format.JSON and usable:
            page = "[" + ",".join(stored[i][2] for i in usable) + "]"
            self._insert_records(read_records(ds, page.encode("utf-8")), "", stored, usable)
        for header, positions in groups.items():
            buf = io.StringIO()
            writer = csv.writer(buf, lineterminator="\n")
            writer.writerow(header)
            for i in positions:
                writer.writerow(json.loads(stored[i][2]).values())
            try:
                records = read_records(ds, buf.getvalue().encode("utf-8"))
            except FileRejected:  # the contract now requires a column these rows lack
                lost.extend(positions)
                continue
            self._insert_records(records, "", stored, positions)
        return sorted(lost)

    def _insert_lines(
        self,
        lines: pa.Table,
        relative: str | None,
        stored: list[tuple[str, int, str]] | None = None,
        positions: list[int] | None = None,
    ) -> None:
        """Add NDJSON lines to the chunk (validated once it holds NDJSON_CHUNK_BYTES)."""
        if stored is not None and positions is not None:
            lines = _with_lineage(lines, stored, positions)
        else:
            files = pa.array([relative] * lines.num_rows, pa.string())
            lines = lines.add_column(0, "source_file", files)
        self._chunk.append(lines.select(["source_file", "source_line", "line", "limit_error"]))
        self._chunk_bytes += lines.column("line").nbytes
        if self._chunk_bytes >= NDJSON_CHUNK_BYTES:
            self._check_chunk(self._batch)

    def _check_chunk(self, ds: Dataset) -> None:
        """Validate the chunk's NDJSON lines into ``checked`` (started by the batch's
        first chunk, even an empty one), straight from Arrow: the lines are not copied
        into a table, and only a rejected record keeps its line."""
        if self._chunk:
            chunk = pa.concat_tables(self._chunk)
        else:
            chunk = ndjson_lines(b"").add_column(0, "source_file", pa.array([], pa.string()))
        self._chunk, self._chunk_bytes = [], 0
        self.con.register("chunk_lines", chunk)
        try:
            if self._chunk_files:
                self._ndjson_columns("chunk_lines")
            self._chunk_files = {}
            self._add_checked(ds, f"({ndjson_parse_sql(ds, 'chunk_lines')})")
        finally:
            self.con.unregister("chunk_lines")

    def _add_checked(self, ds: Dataset, source: str) -> None:
        """Validate the raw strings ``source`` (a relation or a parenthesized SELECT)
        into ``checked``, which the batch's first call creates."""
        derived = "".join(f", {d.sql} as {q(d.name)}" for d in ds.derived)
        select = f"""select *{derived}, cast({q(ds.business_ts)} as date) as partition_day
            from ({validate_sql(ds, source, self.now_sql)})"""
        if self._checked_started:
            self.sql(f"insert into checked {select}")
        else:
            self.sql(f"create or replace table checked as {select}")
            self._checked_started = True

    def _insert_records(
        self,
        records: RawRecords | CsvColumns,
        source_file: str,
        stored: list[tuple[str, int, str]] | None = None,
        positions: list[int] | None = None,
    ) -> None:
        table = records.to_arrow(source_file)
        if stored is not None and positions is not None:
            table = _with_lineage(table, stored, positions)
        self.con.register("file_records", table)
        try:
            select = "select * from file_records"
            if isinstance(records, CsvColumns):
                select = csv_columns_sql(records, "file_records")
                files = [stored[i][0] for i in positions or ()] if stored else [source_file]
                self._csv_headers.update(dict.fromkeys(files, records.header))
            self._add_checked(self._batch, f"({select})")
        finally:
            self.con.unregister("file_records")

    def check(self, ds: Dataset) -> None:
        """Finish the ``checked`` table of what was loaded: validate the NDJSON lines
        not validated yet (or make the empty table of a batch with no record)."""
        if ds.format is Format.NDJSON:
            if self._chunk or not self._checked_started:
                self._check_chunk(ds)
            return
        if not self._checked_started:
            self.con.register("file_records", RawRecords(ds).to_arrow(""))
            try:
                self._add_checked(ds, "file_records")
            finally:
                self.con.unregister("file_records")
        if self._csv_headers:
            self._csv_raw_records()

    def _csv_raw_records(self) -> None:
        """Give the quarantined records of columnar CSV files the row reader's raw text
        (JSON of header -> value) in place of their line (a few rows: the rejects)."""
        files = pa.table({"f": pa.array(list(self._csv_headers), pa.string())})
        self.con.register("csv_files", files)
        rows = self.sql(
            """select source_file, source_line, raw_record from checked
            where reason is not null and source_file in (select f from csv_files)"""
        )
        self.con.unregister("csv_files")
        if not rows:
            return
        fixed = pa.table(
            {
                "f": pa.array([r[0] for r in rows], pa.string()),
                "l": pa.array([r[1] for r in rows], pa.int64()),
                "raw": [CsvColumns.raw_record(self._csv_headers[r[0]], r[2]) for r in rows],
            }
        )
        self.con.register("csv_raw", fixed)
        self.sql(
            """update checked set raw_record = csv_raw.raw from csv_raw
            where checked.source_file = csv_raw.f and checked.source_line = csv_raw.l"""
        )
        self.con.unregister("csv_raw")


def _with_lineage(
    table: pa.Table, stored: list[tuple[str, int, str]], positions: list[int]
) -> pa.Table:
    """A batch read from stored raw texts, given the file and line each record came from
    (its rows are those of ``positions``, in order)."""
    files = pa.array([stored[i][0] for i in positions], pa.string())
    lines = pa.array([stored[i][1] for i in positions], pa.int64())
    names = table.column_names
    table = table.set_column(names.index("source_line"), "source_line", lines)
    if "source_file" in names:
        return table.set_column(names.index("source_file"), "source_file", files)
    return table.append_column("source_file", files)


class Job(Checker):
    """One run's work on one DuckDB connection."""

    def __init__(
        self,
        lake: Lake,
        con: duckdb.DuckDBPyConnection,
        txn: Transaction,
        run_id: str,
        now,
        ingest_seq: int,
    ) -> None:
        super().__init__(con, now)
        self.lake, self.txn, self.run_id = lake, txn, run_id
        self.ingest_seq = ingest_seq
        self._zone: RawZone | None = None

    def before_commit(self) -> None:
        """Called with everything staged, just before the commit (the Spark engine
        removes its working files there)."""

    @property
    def zone(self) -> RawZone:
        """The raw zone, listed once per run (every dataset's files, and the strays)."""
        if self._zone is None:
            self._zone = self.lake.scan_raw_zone()
        return self._zone

    # reading ---------------------------------------------------------------------------
    def ingest(
        self, ds: Dataset, seen: dict[str, list[int | str]], progress: Progress
    ) -> DatasetStats:
        stats = DatasetStats()
        scan = self.zone.datasets[ds.name]
        todo = {e.key: e.signature for e in scan.files if seen.get(e.key) != e.signature}
        links = [e for e in scan.irregular if seen.get(e.key) != e.signature]
        if not todo and not links:
            return stats
        task = progress.task(f"ingest {ds.name}", total=len(todo) + len(links))
        bad_files: list[dict[str, Any]] = []
        for entry in links:  # never opened: listed without following, quarantined unread
            stats.files_read += 1
            bad_files.append(rejected_file(entry.key, _not_regular(entry.key, entry.irregular)))
            seen[entry.key] = entry.signature
            task.advance()
        stats.read = self.read_batch(ds, list(todo), stats, bad_files, task) + len(bad_files)
        seen.update(todo)
        self.publish(ds, stats, bad_files)
        return stats

    def read_batch(
        self,
        ds: Dataset,
        keys: list[str],
        stats: DatasetStats,
        bad_files: list[dict[str, Any]],
        task: ProgressTask,
    ) -> int:
        """Read and validate the raw files ``keys`` (the ``checked`` table); counts the
        files and their extra columns in ``stats``, appends the rejected files to
        ``bad_files``; returns how many records were read."""
        self.start(ds)
        found: list[Delivered] = []
        for relative, content in raw_contents(self.lake, keys):
            stats.files_read += 1
            delivered, rejected = self.read_file(ds, relative, content)
            if delivered is not None:
                found.append(delivered)
            if rejected is not None:
                bad_files.append(rejected)
            task.advance()
        self.check(ds)
        for delivered in found:  # an NDJSON file's columns are known once it is checked
            stats.count_delivered(ds, delivered)
        return self.count("select count(*) from checked")

    def publish(self, ds: Dataset, stats: DatasetStats, bad_files: list[dict[str, Any]]) -> None:
        """Stage the quarantine (``checked``'s rejects and the rejected files) and the
        silver partitions the valid records change; fills in the stats."""
        stats.quarantined = self._stage_quarantine(ds, bad_files)
        valid = self.count("select count(*) from checked where reason is null")
        if valid:
            stats.written, stats.partitions_written = self._merge(ds)
        stats.duplicates = valid - stats.written
        stats.files_quarantined = len(bad_files)

    # quarantine ------------------------------------------------------------------------
    def _stage_quarantine(self, ds: Dataset, bad_files: list[dict[str, Any]]) -> int:
        records = self.count("select count(*) from checked where reason is not null")
        total = records + len(bad_files)
        if not total:
            return 0
        files = pa.Table.from_pylist(
            [
                {
                    "run_id": self.run_id,
                    "dataset": ds.name,
                    "source_file": b["source_file"],
                    "source_line": None,
                    "level": "file",
                    "reason": b["reason"],
                    "field": None,
                    "detail": b["detail"],
                    "reasons": [{"reason": b["reason"], "field": None, "detail": b["detail"]}],
                    "raw_record": None,
                    "quarantined_at": self.now,
                }
                for b in bad_files
            ],
            schema=QUARANTINE_SCHEMA,
        )
        self.con.register("bad_files", files)
        target = self.txn.stage_path(
            self.lake.quarantine_key(ds.name, self.now.date(), self.run_id)
        )
        self.sql(
            f"""copy (
                select {lit(self.run_id)} as run_id, {lit(ds.name)} as dataset, source_file,
                       source_line, 'record' as level, reason, field, detail, reasons,
                       raw_record, {self.now_sql} as quarantined_at
                from checked where reason is not null
                union all by name
                select * from bad_files
                order by source_file, source_line
            ) to {lit(str(target))} (format parquet, compression snappy)"""
        )
        self.con.unregister("bad_files")
        return total

    # merging into silver ---------------------------------------------------------------
    def _merge(self, ds: Dataset) -> tuple[int, int]:
        """Merge valid records with silver; stage changed partitions. -> (written, parts)."""
        data_cols = [f.name for f in ds.fields] + [d.name for d in ds.derived]
        silver_cols = ", ".join(q(c) for c in [*data_cols, *LINEAGE])
        key = ", ".join(q(k) for k in ds.key)
        self.sql(
            f"""create or replace view incoming as
            select * exclude (raw_record, reason, field, detail, reasons),
                   {self.now_sql} as ingested_at, {lit(self.run_id)} as run_id,
                   cast({self.ingest_seq} as bigint) as ingest_seq
            from checked where reason is null"""
        )
        existing = self._existing_partitions(ds)
        parts = [f"select {silver_cols}, partition_day, 1 as is_new from incoming"]
        if existing:
            files = "[" + ", ".join(lit(self.lake.glob_url(p)) for p in existing) + "]"
            parts.append(
                f"select {self._existing_columns(files, data_cols)},"
                f" cast({q(ds.business_ts)} as date) as partition_day,"
                f" 0 as is_new from read_parquet({files}, union_by_name = true)"
            )
        # not temporary: the cursors that write days in parallel read them
        self.sql(f"create or replace view candidates as {' union all '.join(parts)}")
        self.sql(
            f"""create or replace temp table repeated as
            select {key} from candidates group by {key} having count(*) > 1"""
        )
        if not existing and not self.count("select count(*) from repeated"):
            # A first load of distinct keys (the common case): nothing to rank.
            final = "candidates"
            changed = [r[0] for r in self.sql("select distinct partition_day from candidates")]
        else:
            self._rank(ds)
            final = "(select * from ranked where rank_in_key = 1)"
            changed = [r[0] for r in self.sql(day_changes_sql("ranked")) if r[1] > 0 or r[2] > 0]
        written = self.count(f"select count(*) from {final} where is_new = 1")
        self._stage_partitions(ds, final, sorted(changed), silver_cols, key)
        return written, len(changed)

    def _existing_columns(self, files: str, data_cols: list[str]) -> str:
        """The silver columns of published files; a lineage column that files written
        before it existed lack (ingest_seq) reads as null."""
        present = {r[0] for r in self.sql(f"select distinct name from parquet_schema({files})")}
        lineage = [
            q(c) if c in present else f"cast(null as {t}) as {q(c)}" for c, t, _ in LINEAGE_COLUMNS
        ]
        return ", ".join([*(q(c) for c in data_cols), *lineage])

    def _rank(self, ds: Dataset) -> None:
        """Rank the candidates of each repeated key (:func:`rank_sql`): rank 1 is the
        row silver keeps; a key delivered once is rank 1 without ranking."""
        key = ", ".join(q(k) for k in ds.key)
        repeated = f"(select * from candidates semi join repeated using ({key}))"
        self.sql(
            f"""create or replace temp table ranked as
            select *, 1 as rank_in_key from candidates anti join repeated using ({key})
            union all by name
            {rank_sql(ds, repeated, q, duckdb_content_hash)}"""
        )

    def _existing_partitions(self, ds: Dataset) -> list[str]:
        """Silver files (lake-relative) that may hold keys of the incoming records."""
        published = {e.key for e in self.lake.list_silver(ds.name)}
        if not published:
            return []
        days = {
            r[0]
            for r in self.sql(f"select distinct cast({q(ds.business_ts)} as date) from incoming")
        }
        if not ds.partition_fixed_by_key:
            days |= self._days_holding_incoming_keys(ds)
        keys = [self.lake.partition_key(ds.name, day) for day in sorted(days)]
        return [key for key in keys if key in published]

    def _days_holding_incoming_keys(self, ds: Dataset) -> set[date]:
        """Partitions where a key of the incoming batch already lives (any business date)."""
        key = ", ".join(q(k) for k in ds.key)
        glob = lit(self.lake.silver_glob(ds.name))
        rows = self.sql(
            f"""select distinct cast({q(ds.business_ts)} as date)
            from read_parquet({glob}) as s
            where ({key}) in (select ({key}) from incoming)"""
        )
        return {r[0] for r in rows}

    def _stage_partitions(
        self, ds: Dataset, final: str, days: list[date], silver_cols: str, key: str
    ) -> None:
        """Write one sorted Parquet file per changed day; a day left empty is deleted.

        A first load of distinct keys writes each day straight from the checked records;
        otherwise the rows that silver keeps are gathered first (reading silver once).
        Each day is sorted as it is written (a day at a time: bounded sorts)."""
        if not days:
            return
        source = final
        if final != "candidates":
            self.con.register("changed_days", pa.table({"d": pa.array(days, pa.date32())}))
            self.sql(
                f"""create or replace table output as
                select {silver_cols}, partition_day from {final}
                where partition_day in (select d from changed_days)"""
            )
            self.con.unregister("changed_days")
            source = "output"
        rows = dict(self.sql(f"select partition_day, count(*) from {source} group by all"))
        copies = []
        for day in days:
            relative = self.lake.partition_key(ds.name, day)
            if rows.get(day):
                copies.append((day, self.txn.stage_path(relative)))
            else:
                self.txn.delete(relative)  # every row of the partition moved elsewhere

        def copy_day(job: tuple[date, Path]) -> None:
            day, target = job
            cursor = self.con.cursor()  # a day's file is small: write several days at once
            try:
                cursor.execute(
                    f"""copy (
                        select {silver_cols} from {source} where partition_day = ?
                        order by {q(ds.business_ts)}, {key}
                    ) to {lit(str(target))} (format parquet, compression snappy)""",
                    [day],
                ).fetchall()
            finally:
                cursor.close()

        with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
            list(pool.map(copy_day, copies))
        if source == "output":
            self.sql("drop table output")
