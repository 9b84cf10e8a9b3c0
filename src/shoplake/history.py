"""Run history: what every ``shoplake run`` did, recorded in the warehouse.

Analysts and the dashboard's data-quality panel query seven tables in the schema
``shoplake_ops`` of the warehouse the run built (the DuckDB file of the ``dev`` target,
or the PostgreSQL database of the ``postgres`` target):

* ``runs``: one row per run (status, failed step and error, duration, target, lake); a
  run whose steps all succeeded (or were skipped) is ``success``, one with a step that
  warned is ``warn``, and the steps' ``detail`` says why;
* ``run_steps``: one row per step of a run (status, start, seconds, detail);
* ``run_datasets``: per dataset, the ingest's accounting (read = written + quarantined +
  duplicates);
* ``run_schema_changes``: per dataset, the columns its files delivered that the contract
  does not have (``added``) and the optional contract columns they lacked
  (``vanished``), with how many files did so;
* ``run_tests``: every dbt data and unit test of the run's build, with its status;
* ``run_freshness``: every source's freshness against its SLA at the time of the run;
* ``run_test_failures``: per test that failed or warned, the relation of the audit
  schema holding its failing rows (dbt's ``store_failures``, replaced by every build) and
  the first :data:`FAILURE_SAMPLE_ROWS` of them, as they were at that run.

A run is written as a whole in one transaction (its earlier rows replaced), after every
step, so that a run that dies half-way is still visible, with the steps it finished: as
``running`` until the next run (or ``shoplake status``) finds its process gone (the run
lock free) and shows it ``abandoned``. The same record is kept as JSON under
``_state/pipeline/`` in the lake.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

SCHEMA = "shoplake_ops"

#: Step statuses. ``warn`` is a step that finished but reported a problem that does not
#: stop the run (unmatched raw files, too many quarantined records, stale sources, tests
#: that warned); ``skipped`` was not run (not configured, or resumed past).
STEP_STATUSES = ("success", "warn", "failed", "skipped")
#: ``abandoned``: the run's process died while it was ``running`` (killed, the machine
#: stopped); the next run records it so, and ``shoplake status`` shows it so at once.
#: ``warn``: the run finished, but a step warned (raw files that match no dataset, a
#: quarantine rate above the threshold, stale sources, dbt tests that warned).
RUN_STATUSES = ("running", "success", "warn", "failed", "abandoned")


@dataclass
class StepRecord:
    position: int
    step: str
    status: str = "skipped"
    started_at: datetime | None = None
    seconds: float | None = None
    detail: str = ""


@dataclass
class DatasetRecord:
    dataset: str
    files_read: int
    records_read: int
    written: int
    quarantined: int
    duplicates: int


#: The kinds of schema change ``run_schema_changes`` records.
SCHEMA_CHANGES = ("added", "vanished")


@dataclass
class SchemaChangeRecord:
    """A column of a dataset's files in one run's ingest that differs from the contract
    (``kind``): delivered but not in it (``added``), or in it, optional and not
    delivered (``vanished``), in ``files`` of the files read."""

    dataset: str
    column_name: str
    kind: str  # one of SCHEMA_CHANGES
    files: int


@dataclass
class TestRecord:
    unique_id: str
    name: str
    resource_type: str
    status: str
    failures: int | None
    seconds: float | None
    message: str


@dataclass
class FailureSample:
    """The first rows a failed (or warned) dbt test stored (``store_failures``): where
    they are, and a sample of them as JSON (``{"columns": [...], "rows": [[...], ...]}``)."""

    unique_id: str
    name: str
    relation: str
    stored_rows: int | None
    sample: str


@dataclass
class FreshnessRecord:
    source: str
    max_loaded_at: datetime | None
    snapshotted_at: datetime | None
    age_hours: float | None
    warn_after_hours: float | None
    error_after_hours: float | None
    status: str


@dataclass
class RunRecord:
    run_id: str
    started_at: datetime
    target: str
    lake: str
    status: str = "running"
    finished_at: datetime | None = None
    seconds: float | None = None
    failed_step: str | None = None
    error: str | None = None
    steps: list[StepRecord] = field(default_factory=list)
    datasets: list[DatasetRecord] = field(default_factory=list)
    schema_changes: list[SchemaChangeRecord] = field(default_factory=list)
    tests: list[TestRecord] = field(default_factory=list)
    freshness: list[FreshnessRecord] = field(default_factory=list)
    failure_samples: list[FailureSample] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return json.loads(json.dumps(asdict(self), default=_json_value))

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RunRecord:
        """The inverse of :meth:`to_json`."""
        values = {f.name: _from_json_value(f, data.get(f.name)) for f in fields(cls)}
        for record, attribute in _CHILD_TABLES.values():
            values[attribute] = [
                record(**{f.name: _from_json_value(f, item.get(f.name)) for f in fields(record)})
                for item in data.get(attribute, [])
            ]
        return cls(**values)


def _from_json_value(f: Any, value: Any) -> Any:
    if value is not None and str(f.type).split(" |")[0] == "datetime":
        return datetime.fromisoformat(value)
    return value


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"not JSON serialisable: {value!r}")


#: The tables, defined once by their record types: a column per field, typed from the
#: field's annotation (spelled so that DuckDB and PostgreSQL both accept it).
_CHILD_TABLES: dict[str, tuple[type, str]] = {
    "run_steps": (StepRecord, "steps"),
    "run_datasets": (DatasetRecord, "datasets"),
    "run_schema_changes": (SchemaChangeRecord, "schema_changes"),
    "run_tests": (TestRecord, "tests"),
    "run_freshness": (FreshnessRecord, "freshness"),
    "run_test_failures": (FailureSample, "failure_samples"),
}
_SQL_TYPES = {
    "str": "varchar",
    "int": "bigint",
    "float": "double precision",
    "datetime": "timestamp",
}


def _columns(record: type) -> list[tuple[str, str]]:
    children = {attribute for _, attribute in _CHILD_TABLES.values()}
    return [
        (f.name, _SQL_TYPES[str(f.type).split(" |")[0]])
        for f in fields(record)
        if f.name not in children
    ]


_RUN_COLUMNS = _columns(RunRecord)


def ddl() -> list[str]:
    """CREATE statements for the history schema (idempotent)."""
    statements = [f"create schema if not exists {SCHEMA}"]
    tables = {"runs": _RUN_COLUMNS}
    tables.update(
        {name: [("run_id", "varchar"), *_columns(rec)] for name, (rec, _) in _CHILD_TABLES.items()}
    )
    for name, columns in tables.items():
        body = ", ".join(f"{col} {kind}" for col, kind in columns)
        statements.append(f"create table if not exists {SCHEMA}.{name} ({body})")
    return statements


def table_rows(run: RunRecord) -> dict[str, tuple[list[str], list[tuple]]]:
    """The run as (column names, rows) per table."""
    rows = {
        "runs": (
            [col for col, _ in _RUN_COLUMNS],
            [tuple(db_value(getattr(run, col)) for col, _ in _RUN_COLUMNS)],
        )
    }
    for table, (record, attribute) in _CHILD_TABLES.items():
        names = [col for col, _ in _columns(record)]
        rows[table] = (
            ["run_id", *names],
            [
                (run.run_id, *(db_value(getattr(item, col)) for col in names))
                for item in getattr(run, attribute)
            ],
        )
    return rows


def db_value(value: Any) -> Any:
    """Timestamps are stored as naive UTC (the warehouse's convention)."""
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(timezone.utc).replace(tzinfo=None)
    return value


# --- writing ----------------------------------------------------------------------------
def record_duckdb(run: RunRecord, database: Path) -> None:
    """Replace the run's rows in a DuckDB warehouse file, in one transaction."""
    import duckdb

    database.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.closing(duckdb.connect(str(database))) as con:
        for statement in ddl():
            con.execute(statement).fetchall()
        con.execute("begin transaction").fetchall()
        try:
            _replace(con.executemany, con.execute, run, "?")
            con.execute("commit").fetchall()
        except BaseException:
            con.execute("rollback").fetchall()
            raise


def record_postgres(run: RunRecord, dsn: str) -> None:
    """Replace the run's rows in a PostgreSQL warehouse, in one transaction."""
    import psycopg

    # the connection commits on success and rolls back on error
    with psycopg.connect(dsn) as con, con.cursor() as cur:
        for statement in ddl():
            cur.execute(statement)
        _replace(cur.executemany, cur.execute, run, "%s")


def _replace(executemany, execute, run: RunRecord, placeholder: str) -> None:
    for table, (columns, rows) in table_rows(run).items():
        execute(f"delete from {SCHEMA}.{table} where run_id = {placeholder}", (run.run_id,))
        if rows:
            marks = ", ".join([placeholder] * len(columns))
            executemany(
                f"insert into {SCHEMA}.{table} ({', '.join(columns)}) values ({marks})", rows
            )


# --- reading ----------------------------------------------------------------------------
@dataclass(frozen=True)
class RunSummary:
    run_id: str
    started_at: datetime
    status: str
    seconds: float | None
    failed_step: str | None
    error: str | None
    steps: Sequence[tuple[str, str, float | None]]  # (step, status, seconds)
    quarantined: int
    tests_passed: int
    tests_total: int
    stale_sources: int


def last_runs_duckdb(database: Path, limit: int = 10) -> list[RunSummary]:
    """The newest runs recorded in a DuckDB warehouse (none if it has no history yet)."""
    from shoplake.warehouse import open_read_only

    if not database.is_file():
        return []
    with open_read_only(database) as con:
        known = con.execute(
            "select count(*) from information_schema.tables "
            "where table_schema = ? and table_name = 'runs'",
            [SCHEMA],
        ).fetchall()[0][0]
        if not known:
            return []
        return _summaries(lambda sql, params: con.execute(sql, params).fetchall(), limit)


def _summaries(query, limit: int) -> list[RunSummary]:
    runs = query(
        f"""
        select r.run_id, r.started_at, r.status, r.seconds, r.failed_step, r.error,
            (select coalesce(sum(quarantined), 0) from {SCHEMA}.run_datasets d
                where d.run_id = r.run_id),
            (select count(*) from {SCHEMA}.run_tests t
                where t.run_id = r.run_id and t.status = 'pass'),
            (select count(*) from {SCHEMA}.run_tests t where t.run_id = r.run_id),
            (select count(*) from {SCHEMA}.run_freshness f
                where f.run_id = r.run_id and f.status <> 'pass')
        from {SCHEMA}.runs r
        order by r.started_at desc, r.run_id desc
        limit ?
        """,
        [limit],
    )
    summaries = []
    for run_id, started, status, seconds, failed_step, error, quar, passed, total, stale in runs:
        steps = query(
            f"select step, status, seconds from {SCHEMA}.run_steps "
            "where run_id = ? order by position",
            [run_id],
        )
        summaries.append(
            RunSummary(
                run_id,
                started,
                status,
                seconds,
                failed_step,
                error,
                [tuple(s) for s in steps],
                int(quar),
                int(passed),
                int(total),
                int(stale),
            )
        )
    return summaries


@dataclass(frozen=True)
class FailingTest:
    run_id: str
    name: str
    status: str  # fail, warn or error
    failures: int | None
    message: str
    relation: str | None  # where its failing rows are stored (none for an error)
    columns: Sequence[str]
    rows: Sequence[Sequence[Any]]  # the first stored rows, as the run saw them


def failing_tests_duckdb(database: Path) -> list[FailingTest]:
    """The tests that failed, warned or errored in the newest run that has tests, with
    their stored rows (none if the warehouse has no history yet)."""
    from shoplake.warehouse import open_read_only

    if not database.is_file():
        return []
    with open_read_only(database) as con:
        tables = {
            name
            for (name,) in con.execute(
                "select table_name from information_schema.tables where table_schema = ?",
                [SCHEMA],
            ).fetchall()
        }
        if not {"runs", "run_tests"} <= tables:
            return []
        return _failing_tests(lambda sql, params: con.execute(sql, params).fetchall(), tables)


def _failing_tests(query, tables: set[str]) -> list[FailingTest]:
    newest = query(
        f"select r.run_id from {SCHEMA}.runs r where exists (select 1 from "
        f"{SCHEMA}.run_tests t where t.run_id = r.run_id) "
        "order by r.started_at desc, r.run_id desc limit 1",
        [],
    )
    if not newest:
        return []
    run_id = newest[0][0]
    samples: dict[str, tuple[str, dict]] = {}
    if "run_test_failures" in tables:
        for unique_id, relation, sample in query(
            f"select unique_id, relation, sample from {SCHEMA}.run_test_failures where run_id = ?",
            [run_id],
        ):
            samples[unique_id] = (relation, json.loads(sample or "{}"))
    found = []
    for unique_id, name, status, failures, message in query(
        f"select unique_id, name, status, failures, message from {SCHEMA}.run_tests "
        "where run_id = ? and status not in ('pass', 'success', 'skipped') "
        "order by case status when 'warn' then 1 else 0 end, name",
        [run_id],
    ):
        relation, sample = samples.get(unique_id, (None, {}))
        found.append(
            FailingTest(
                run_id=run_id,
                name=name,
                status=status,
                failures=failures,
                message=message or "",
                relation=relation,
                columns=sample.get("columns", []),
                rows=sample.get("rows", []),
            )
        )
    return found


# --- dbt artifacts ----------------------------------------------------------------------
def tests_from_run_results(run_results: dict) -> list[TestRecord]:
    """Data and unit tests of a ``dbt build`` (its run_results.json)."""
    tests = []
    for node in run_results.get("results", []):
        unique_id = str(node.get("unique_id", ""))
        resource_type = unique_id.split(".", 1)[0]
        if resource_type not in ("test", "unit_test"):
            continue
        failures = node.get("failures")
        tests.append(
            TestRecord(
                unique_id=unique_id,
                name=unique_id.split(".")[-1]
                if resource_type == "unit_test"
                else _test_name(unique_id),
                resource_type=resource_type,
                status=str(node.get("status")),
                failures=int(failures) if failures is not None else None,
                seconds=node.get("execution_time"),
                message=(node.get("message") or "")[:500],
            )
        )
    return tests


def _test_name(unique_id: str) -> str:
    """``test.shoplake.not_null_fact_orders_id.5a1b2c`` -> ``not_null_fact_orders_id``."""
    parts = unique_id.split(".")
    return parts[2] if len(parts) >= 3 else unique_id


#: Failing rows of a test kept in the run history (the audit relation holds them all,
#: until the next build replaces it).
FAILURE_SAMPLE_ROWS = 5


def failure_samples(
    run_results: dict, fetch: Callable[[str], tuple[list[str], list[tuple]]]
) -> list[FailureSample]:
    """For every test of a build that failed or warned and stored its failing rows (its
    ``relation_name`` in run_results.json), the first rows: ``fetch(sql)`` runs a query
    on the warehouse and returns (columns, rows). A relation that cannot be read (a
    build that stopped before writing it) is recorded with no sample."""
    samples = []
    for node in run_results.get("results", []):
        unique_id = str(node.get("unique_id", ""))
        relation = node.get("relation_name")
        if not unique_id.startswith("test.") or not relation:
            continue
        if node.get("status") not in ("fail", "warn"):
            continue
        try:
            columns, rows = fetch(f"select * from {relation} limit {FAILURE_SAMPLE_ROWS}")
            sample = json.dumps(
                {"columns": columns, "rows": [[_sample_value(v) for v in r] for r in rows]}
            )
        except Exception as exc:  # any driver's error: the relation is still named
            sample = json.dumps({"error": str(exc).strip().splitlines()[0][:300]})
        failures = node.get("failures")
        samples.append(
            FailureSample(
                unique_id=unique_id,
                name=_test_name(unique_id),
                relation=str(relation),
                stored_rows=int(failures) if failures is not None else None,
                sample=sample,
            )
        )
    return samples


#: Characters of one value kept in a sample (a sample fits any warehouse's text column).
SAMPLE_VALUE_CHARS = 200


def _sample_value(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, float)):
        return value
    # decimals, dates, timestamps: as the warehouse prints them
    return str(value)[:SAMPLE_VALUE_CHARS]


_PERIOD_HOURS = {"minute": 1 / 60, "hour": 1.0, "day": 24.0}


def freshness_from_sources(sources: dict) -> list[FreshnessRecord]:
    """Every source's freshness from ``dbt source freshness`` (its sources.json)."""
    records = []
    for node in sources.get("results", []):
        criteria = node.get("criteria") or {}
        records.append(
            FreshnessRecord(
                source=str(node.get("unique_id", "")).split(".")[-1],
                max_loaded_at=_parse_ts(node.get("max_loaded_at")),
                snapshotted_at=_parse_ts(node.get("snapshotted_at")),
                age_hours=(
                    node["max_loaded_at_time_ago_in_s"] / 3600
                    if node.get("max_loaded_at_time_ago_in_s") is not None
                    else None
                ),
                warn_after_hours=_hours(criteria.get("warn_after")),
                error_after_hours=_hours(criteria.get("error_after")),
                status=str(node.get("status")),
            )
        )
    return records


def _hours(threshold: dict | None) -> float | None:
    if not threshold or threshold.get("count") is None or not threshold.get("period"):
        return None
    return float(threshold["count"]) * _PERIOD_HOURS[threshold["period"]]


def _parse_ts(text: str | None) -> datetime | None:
    if not text:
        return None
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def iter_tables() -> Iterator[str]:
    """Qualified names of the history tables (docs, tests)."""
    yield f"{SCHEMA}.runs"
    for table in _CHILD_TABLES:
        yield f"{SCHEMA}.{table}"
