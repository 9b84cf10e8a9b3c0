"""The quarantine: what was rejected and why (``shoplake quarantine``), an export of it,
and its replay into silver (``shoplake quarantine replay``).

The quarantine files (``quarantine/<dataset>/year=/month=/day=/<run_id>.parquet``) are
history and never rewritten. A replay re-validates the records still quarantined with
the ingest engine (the same readers, the same validation SQL), publishes those that now
pass into silver in one ingest transaction, and records each record it resolved in a
replay ledger (``_state/quarantine/replays/<replay_id>.parquet``, beside the replay's
log ``<replay_id>.json``), so that listing and replay know what was moved: a record is
moved once, and a second replay moves nothing. See docs/lake.md.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from shoplake.contract import DATASETS, Dataset
from shoplake.errors import ConfigError
from shoplake.ingest.engine import DatasetStats, Job, dumps, ingest_session, raw_contents
from shoplake.ingest.validate import lit
from shoplake.lake import Lake
from shoplake.report import Report
from shoplake.storage import HIDDEN_PREFIXES

#: Where replays keep their ledgers and logs.
REPLAYS = ("quarantine", "replays")
#: The ledger's outcome of a record moved out of the quarantine by a replay.
REPLAYED = "replayed"
#: ... of a record whose raw file was delivered again and read since it was quarantined.
SUPERSEDED = "superseded"
#: The listing's status of a record no replay resolved.
QUARANTINED = "quarantined"
#: Run ids of replays contain this (ingest run ids never do).
REPLAY_MARK = "-replay-"

LEDGER_SCHEMA = pa.schema(
    [
        ("dataset", pa.string()),
        ("run_id", pa.string()),  # the run that quarantined the record
        ("source_file", pa.string()),
        ("source_line", pa.int64()),  # null for a whole file
        ("level", pa.string()),
        ("outcome", pa.string()),
        ("replay_run_id", pa.string()),
        ("replayed_at", pa.timestamp("us")),
    ]
)
EXPORT_FORMATS = {".csv": "csv", ".parquet": "parquet"}


def quarantine_files(lake: Lake, dataset: str) -> list[str]:
    """The published quarantine files of a dataset (``_``/``.`` names are in progress)."""
    return [
        e.key
        for e in lake.list(lake.quarantine_prefix(dataset))
        if e.name.endswith(".parquet") and not e.name.startswith(HIDDEN_PREFIXES)
    ]


def ledger_files(lake: Lake) -> list[str]:
    return [
        e.key
        for e in lake.list(lake.state_key(*REPLAYS))
        if e.name.endswith(".parquet") and not e.name.startswith(HIDDEN_PREFIXES)
    ]


def _datasets(dataset: str | None) -> list[Dataset]:
    if dataset is None:
        return list(DATASETS.values())
    if dataset not in DATASETS:
        raise ConfigError(
            f"no dataset {dataset!r}",
            f"datasets are {', '.join(DATASETS)} (see docs/lake.md)",
            setting="dataset",
        )
    return [DATASETS[dataset]]


def _urls(lake: Lake, keys: list[str]) -> str:
    return "[" + ", ".join(lit(lake.glob_url(k)) for k in keys) + "]"


def load_quarantine(con: duckdb.DuckDBPyConnection, lake: Lake, datasets: list[Dataset]) -> int:
    """Create the table ``quarantine_rows`` on ``con``: every quarantined record and file of
    ``datasets``, with ``reasons`` (for files written before reasons were kept: the one
    reason), ``day`` (the run's UTC date) and ``status`` (quarantined, replayed or
    superseded), ``replay_run_id``. Returns its row count."""
    lake.attach(con)
    keys = [k for ds in datasets for k in quarantine_files(lake, ds.name)]
    ledgers = ledger_files(lake)
    if ledgers:
        con.execute(
            f"create or replace temp table ledger as select * from read_parquet("
            f"{_urls(lake, ledgers)}, union_by_name = true)"
        ).fetchall()
    else:
        con.register("empty_ledger", LEDGER_SCHEMA.empty_table())
        con.execute("create or replace temp table ledger as select * from empty_ledger").fetchall()
        con.unregister("empty_ledger")
    if not keys:
        con.execute(
            "create or replace temp table quarantine_rows (run_id varchar, dataset varchar, "
            "source_file varchar, source_line bigint, level varchar, reason varchar, "
            "field varchar, detail varchar, "
            "reasons struct(reason varchar, field varchar, detail varchar)[], "
            "raw_record varchar, quarantined_at timestamp, day date, status varchar, "
            "replay_run_id varchar)"
        ).fetchall()
        return 0
    src = f"read_parquet({_urls(lake, keys)}, union_by_name = true, hive_partitioning = false)"
    columns = {r[0] for r in con.execute(f"describe select * from {src}").fetchall()}
    reasons = "[{'reason': q.reason, 'field': q.field, 'detail': q.detail}]"
    if "reasons" in columns:  # every file, or some: union_by_name makes it null elsewhere
        reasons = f"coalesce(q.reasons, {reasons})"
    con.execute(
        f"""create or replace temp table quarantine_rows as
        select q.run_id, q.dataset, q.source_file, q.source_line, q.level, q.reason,
               q.field, q.detail, {reasons} as reasons, q.raw_record, q.quarantined_at,
               cast(q.quarantined_at as date) as day,
               coalesce(l.outcome, {lit(QUARANTINED)}) as status, l.replay_run_id
        from {src} as q
        left join ledger as l
          on l.dataset = q.dataset and l.run_id = q.run_id
         and l.source_file = q.source_file
         and l.source_line is not distinct from q.source_line"""
    ).fetchall()
    (rows,) = con.execute("select count(*) from quarantine_rows").fetchone() or (0,)
    return int(rows)


# --- listing and export -------------------------------------------------------------------
@dataclass
class Sample:
    dataset: str
    run_id: str
    source_file: str
    source_line: int | None
    level: str
    status: str
    reasons: list[dict[str, str | None]]
    raw_record: str | None

    def lines(self) -> list[str]:
        where = f"line {self.source_line}" if self.source_line is not None else "whole file"
        status = "" if self.status == QUARANTINED else f" [{self.status}]"
        out = [f"{self.dataset} {self.source_file} {where} (run {self.run_id}){status}:"]
        for r in self.reasons:
            fld = f" ({r['field']})" if r.get("field") else ""
            out.append(f"  {r['reason']}{fld}: {printable(r.get('detail') or '')}")
        if self.raw_record is not None:
            out.append(f"  raw: {printable(self.raw_record)}")
        return out


def printable(text: str, limit: int = 300) -> str:
    """Raw text safe for a terminal: control characters escaped, long text cut."""
    out = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
    return out if len(out) <= limit else out[:limit] + f"... ({len(out):,} characters)"


@dataclass
class Listing:
    counts: list[tuple[str, date, str, str | None, int, int, int]]
    samples: list[Sample]
    total: int
    filters: str

    def as_report(self) -> Report:
        notes = []
        if not self.counts:
            notes.append(f"no quarantined records{self.filters}")
        else:
            notes.append(
                "a record counts once, under the first rule it breaks (samples list every "
                "rule); replayed: moved to silver by `shoplake quarantine replay`; "
                "superseded: its raw file was delivered again and read since"
            )
        return Report(
            f"quarantine{self.filters}",
            ("dataset", "day", "reason", "field", "quarantined", "replayed", "superseded"),
            list(self.counts),
            notes,
        )


def _where(run: str | None, reason: str | None) -> tuple[str, list[Any]]:
    conds, params = ["true"], []
    if run:
        conds.append("run_id = ?")
        params.append(run)
    if reason:
        conds.append("list_contains(list_transform(reasons, lambda r: r.reason), ?)")
        params.append(reason)
    return " and ".join(conds), params


def _filters(dataset: str | None, run: str | None, reason: str | None) -> str:
    parts = [f"{k} {v}" for k, v in (("dataset", dataset), ("run", run), ("reason", reason)) if v]
    return f" ({', '.join(parts)})" if parts else ""


def list_quarantine(
    lake: Lake,
    *,
    dataset: str | None = None,
    run: str | None = None,
    reason: str | None = None,
    samples: int = 5,
    include_resolved: bool = False,
) -> Listing:
    """Counts by dataset, day, first reason and field, and up to ``samples`` records per
    dataset (still quarantined ones, or every one with ``include_resolved``)."""
    con = duckdb.connect()
    try:
        load_quarantine(con, lake, _datasets(dataset))
        where, params = _where(run, reason)
        counts = con.execute(
            f"""select dataset, day, reason, field,
                   count(*) filter (where status = {lit(QUARANTINED)}),
                   count(*) filter (where status = {lit(REPLAYED)}),
                   count(*) filter (where status = {lit(SUPERSEDED)})
            from quarantine_rows where {where}
            group by all order by dataset, day, reason, field nulls first""",
            params,
        ).fetchall()
        status = "true" if include_resolved else f"status = {lit(QUARANTINED)}"
        rows = con.execute(
            f"""select dataset, run_id, source_file, source_line, level, status, reasons,
                   raw_record
            from (select *, row_number() over (
                      partition by dataset order by run_id desc, source_file, source_line
                  ) as n
                  from quarantine_rows where {where} and {status})
            where n <= ? order by dataset, run_id desc, source_file, source_line""",
            [*params, samples],
        ).fetchall()
        total = sum(c[4] + c[5] + c[6] for c in counts)
    finally:
        con.close()
    return Listing(
        counts=[tuple(c) for c in counts],
        samples=[Sample(*r) for r in rows],
        total=total,
        filters=_filters(dataset, run, reason),
    )


def export_quarantine(
    lake: Lake,
    path: Path,
    *,
    dataset: str | None = None,
    run: str | None = None,
    reason: str | None = None,
) -> int:
    """Write every quarantined record and file (replayed and superseded ones included,
    with their status) to ``path``: CSV (``reasons`` as JSON text) or Parquet, by its
    extension. The file appears whole or not at all. Returns the rows written."""
    fmt = EXPORT_FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise ConfigError(
            f"cannot export to {path}: the file name must end in .csv or .parquet",
            "name the export file e.g. quarantine.csv or quarantine.parquet",
            setting="export",
        )
    if path.is_dir():
        raise ConfigError(
            f"cannot export to {path}: it is a directory", "give a file name", setting="export"
        )
    con = duckdb.connect()
    try:
        load_quarantine(con, lake, _datasets(dataset))
        where, params = _where(run, reason)
        reasons = "to_json(reasons)" if fmt == "csv" else "reasons"
        query = f"""select dataset, run_id, day, source_file, source_line, level, reason,
                   field, detail, {reasons} as reasons, raw_record, quarantined_at, status,
                   replay_run_id
            from quarantine_rows where {where}
            order by dataset, run_id, source_file, source_line nulls first"""
        (n,) = con.execute(f"select count(*) from ({query})", params).fetchone() or (0,)
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
        try:
            con.execute(
                f"copy ({query}) to {lit(str(tmp))} (format {fmt}"
                + (", header true" if fmt == "csv" else ", compression snappy")
                + ")",
                params,
            ).fetchall()
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
    finally:
        con.close()
    return n


# --- replay -----------------------------------------------------------------------------
@dataclass
class ReplayStats:
    """One dataset's replay. Every candidate is accounted for:
    ``candidates = superseded + replayed + replayed_files + still_quarantined``, and what
    entered the ingest engine balances:
    ``replayed + records_from_files = written + duplicates + new_quarantined``."""

    candidates: int = 0  # quarantined records and files not resolved before (after filters)
    superseded: int = 0  # their raw file was delivered again and read since
    replayed: int = 0  # records that now pass: moved to silver (written or duplicates)
    replayed_files: int = 0  # whole files that now read: their records went through ingest
    still_quarantined: int = 0  # still break a rule, or cannot be read again
    not_replayable: int = 0  # of those: only an excerpt kept, or a CSV row without fields
    files_missing: int = 0  # of those: whole files no longer in raw/
    records_from_files: int = 0  # records read from the replayed files
    written: int = 0  # new rows in silver
    duplicates: int = 0  # passed, but silver already held them
    new_quarantined: int = 0  # records of replayed files that break a rule (quarantined now)
    partitions_written: int = 0

    @property
    def balanced(self) -> bool:
        return self.candidates == (
            self.superseded + self.replayed + self.replayed_files + self.still_quarantined
        ) and self.replayed + self.records_from_files == (
            self.written + self.duplicates + self.new_quarantined
        )


@dataclass
class ReplayReport:
    run_id: str
    started_at: datetime
    finished_at: datetime | None = None
    datasets: dict[str, ReplayStats] = field(default_factory=dict)
    recovered: list[str] = field(default_factory=list)
    filters: dict[str, str | None] = field(default_factory=dict)
    log_path: str | None = None

    @property
    def balanced(self) -> bool:
        return all(s.balanced for s in self.datasets.values())

    def to_json(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "kind": "quarantine_replay",
            "started_at": self.started_at.isoformat(),
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
            "filters": self.filters,
            "balanced": self.balanced,
            "recovered": self.recovered,
            "datasets": {n: asdict(s) for n, s in self.datasets.items()},
        }

    def as_report(self) -> Report:
        columns = (
            "dataset",
            "candidates",
            "replayed",
            "files",
            "still quarantined",
            "superseded",
            "written",
            "duplicates",
            "new quarantined",
        )
        rows = [
            (
                n,
                s.candidates,
                s.replayed,
                s.replayed_files,
                s.still_quarantined,
                s.superseded,
                s.written,
                s.duplicates,
                s.new_quarantined,
            )
            for n, s in self.datasets.items()
        ]
        notes = list(self.recovered)
        if not any(s.candidates for s in self.datasets.values()):
            notes.append("nothing to replay: no quarantined record is left unresolved")
        else:
            notes.append(f"replay {self.run_id}: log in {self.log_path}")
        for n, s in self.datasets.items():
            if s.not_replayable:
                notes.append(
                    f"{n}: {s.not_replayable} record(s) cannot be read again from what the "
                    "quarantine kept (an excerpt of a record over a size limit, or a CSV row "
                    "that did not split into fields): deliver the file again"
                )
            if s.files_missing:
                notes.append(f"{n}: {s.files_missing} quarantined file(s) are no longer in raw/")
        if not self.balanced:
            notes.insert(0, "REPLAY ACCOUNTING DOES NOT BALANCE")
        return Report(f"shoplake quarantine replay {self.run_id}", columns, rows, notes)


def replay(
    lake: Lake,
    *,
    dataset: str | None = None,
    run: str | None = None,
    wait: bool = False,
    now: datetime | None = None,
) -> ReplayReport:
    """Re-validate the quarantined records (and whole files, re-read from raw/) that no
    replay resolved yet, and move those that pass into silver, in one transaction with
    the ledger, the file manifest and the replay's log. Holds the ingest lock."""
    datasets = _datasets(dataset)
    started = (now or datetime.now(timezone.utc)).astimezone(timezone.utc)
    run_id = f"{started:%Y%m%dT%H%M%S}Z{REPLAY_MARK}{secrets.token_hex(3)}"
    report = ReplayReport(run_id, started, filters={"dataset": dataset, "run": run})
    # records moved into silver carry a batch number of their own (the session's), so
    # that the incremental facts pick them up like any newly ingested rows
    with ingest_session(lake, run_id, started, wait) as session:
        report.recovered = session.recovered
        job, txn = session.job, session.txn
        ledger: list[dict[str, Any]] = []
        for ds in datasets:
            report.datasets[ds.name] = _replay_dataset(
                job, ds, run, session.manifest.setdefault(ds.name, {}), ledger
            )
        report.finished_at = datetime.now(timezone.utc)
        if any(s.candidates for s in report.datasets.values()):
            report.log_path = lake.state_key(*REPLAYS, f"{run_id}.json")
            if ledger:
                for row in ledger:
                    row.update(replay_run_id=run_id, replayed_at=job.now)
                path = txn.stage_path(lake.state_key(*REPLAYS, f"{run_id}.parquet"))
                pq.write_table(pa.Table.from_pylist(ledger, schema=LEDGER_SCHEMA), path)
            session.stage_manifest()
            session.stage_sequence()
            txn.stage_bytes(report.log_path, dumps(report.to_json()))
            txn.commit()
        else:
            txn.abort()
    return report


def _replay_dataset(
    job: Job,
    ds: Dataset,
    run: str | None,
    seen: dict[str, list[int | str]],
    ledger: list[dict[str, Any]],
) -> ReplayStats:
    stats = ReplayStats()
    con, lake = job.con, job.lake
    if not load_quarantine(con, lake, [ds]):
        return stats
    # A record or file is superseded when its raw file was read again after it was
    # quarantined: a later run quarantined something of that file, or an ingest run
    # (not a replay) wrote a row of it to silver.
    silver = lake.list_silver(ds.name)
    later_silver = (
        """or exists (select 1 from silver_runs s where s.source_file = c.source_file
                       and s.run_id > c.run_id)"""
        if silver
        else ""
    )
    if silver:
        urls = _urls(lake, [e.key for e in silver])
        job.sql(
            f"""create or replace temp table silver_runs as
            select distinct source_file, run_id from read_parquet({urls})
            where source_file in (select source_file from quarantine_rows
                                  where status = {lit(QUARANTINED)})
              and run_id not like {lit("%" + REPLAY_MARK + "%")}"""
        )
    run_filter = "and c.run_id = ?" if run else ""
    job.sql(
        f"""create or replace temp table replay_candidates as
        select c.*, (exists (select 1 from quarantine_rows o
                             where o.source_file = c.source_file and o.run_id > c.run_id)
                     {later_silver}) as superseded
        from quarantine_rows c
        where c.status = {lit(QUARANTINED)} {run_filter}""",
        [run] if run else [],
    )
    stats.candidates = job.count("select count(*) from replay_candidates")
    if not stats.candidates:
        return stats
    for r in job.sql(
        "select run_id, source_file, source_line, level from replay_candidates where superseded"
    ):
        run_id, source_file, line, level = r
        ledger.append(_ledger_row(ds, run_id, source_file, line, level, SUPERSEDED))
        stats.superseded += 1
    records = job.sql(
        """select run_id, source_file, source_line, raw_record from replay_candidates
        where not superseded and level = 'record' order by source_file, source_line"""
    )
    files = job.sql(
        """select run_id, source_file from replay_candidates
        where not superseded and level = 'file' order by source_file"""
    )
    job.start(ds)
    # whole files: read again from raw/, as ingest reads them
    present = {}
    for quarantine_run, key in files:
        entry = lake.info(key)
        if entry is None:
            stats.files_missing += 1
            continue
        present[key] = (quarantine_run, entry)
    for key, content in raw_contents(lake, list(present)):
        quarantine_run, entry = present[key]
        if job.read_file(ds, key, content)[1] is None:
            stats.replayed_files += 1
            seen[key] = entry.signature
            ledger.append(_ledger_row(ds, quarantine_run, key, None, "file", REPLAYED))
    # records: read again from the raw text the quarantine kept
    stored = [(f, line, raw) for _, f, line, raw in records]
    lost = set(job.load_stored(ds, stored))
    stats.not_replayable = len(lost)
    job.check(ds)
    kept = [r for i, r in enumerate(records) if i not in lost]
    stats.records_from_files = job.count("select count(*) from checked") - len(kept)
    con.register(
        "replayed_keys",
        pa.table(
            {
                "run_id": pa.array([r[0] for r in kept], pa.string()),
                "source_file": pa.array([r[1] for r in kept], pa.string()),
                "source_line": pa.array([r[2] for r in kept], pa.int64()),
            }
        ),
    )
    passed = job.sql(
        """select k.run_id, k.source_file, k.source_line from replayed_keys k
        join checked c using (source_file, source_line) where c.reason is null"""
    )
    for quarantine_run, key, line in passed:
        ledger.append(_ledger_row(ds, quarantine_run, key, line, "record", REPLAYED))
    stats.replayed = len(passed)
    # a record that still fails stays where it is: in its own run's quarantine file
    job.sql(
        """delete from checked where reason is not null
        and (source_file, source_line) in (select (source_file, source_line) from replayed_keys)"""
    )
    con.unregister("replayed_keys")
    stats.still_quarantined = (
        stats.candidates - stats.superseded - stats.replayed - stats.replayed_files
    )
    merged = DatasetStats()
    job.publish(ds, merged, [])
    stats.written, stats.duplicates = merged.written, merged.duplicates
    stats.new_quarantined, stats.partitions_written = merged.quarantined, merged.partitions_written
    return stats


def _ledger_row(
    ds: Dataset, run_id: str, source_file: str, line: int | None, level: str, outcome: str
) -> dict[str, Any]:
    return {
        "dataset": ds.name,
        "run_id": run_id,
        "source_file": source_file,
        "source_line": line,
        "level": level,
        "outcome": outcome,
    }
