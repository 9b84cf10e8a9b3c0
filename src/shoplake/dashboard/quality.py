"""The data-quality panel: dbt tests and their stored failing rows, source freshness,
schema changes in delivered files, the run list, and quarantine.

Tests, freshness, schema changes and the run list come from the run history that
``shoplake run`` records in the warehouse (:mod:`shoplake.history`); a warehouse built
by hand has none, and the panel says so instead of failing.

Quarantine comes from the lake itself (local or S3): every rejected record is a row of
a quarantine Parquet file, and every ingest run's log (``_state/runs/``) counts the
records it read.
Both cover every ingest run, including ones run by hand, so the rate per dataset
(quarantined / read) compares like with like. The history adds what the latest recorded
run read and rejected.
"""

from __future__ import annotations

import json
import posixpath
from typing import Any

import duckdb

from shoplake import history
from shoplake.contract import DATASETS
from shoplake.dashboard.data import plain, query_rows
from shoplake.lake import Lake
from shoplake.storage import HIDDEN_PREFIXES

#: How many runs the run list shows, and what it shows of each.
RECENT_RUNS = 10
RUN_FIELDS = ("run_id", "started_at", "seconds", "status", "failed_step", "error")


def run_entry(record: history.RunRecord) -> dict[str, Any]:
    """A run as the run list shows it, from its record (the run writing the page)."""
    entry = {name: plain(history.db_value(getattr(record, name))) for name in RUN_FIELDS}
    entry["warnings"] = [_warning(s.step, s.detail) for s in record.steps if s.status == "warn"]
    return entry


def _warning(step: str, detail: str) -> str:
    """What made a run ``warn``, per step that warned."""
    return f"{step}: {detail}"


def _tables(con: duckdb.DuckDBPyConnection) -> set[str]:
    return {
        name
        for (name,) in con.execute(
            "select table_name from information_schema.tables where table_schema = ?",
            [history.SCHEMA],
        ).fetchall()
    }


def _newest_run_with(con: duckdb.DuckDBPyConnection, table: str) -> str | None:
    """The newest run that has rows in a child table (a run that stopped early has none)."""
    found = con.execute(
        f"""
        select r.run_id from {history.SCHEMA}.runs as r
        where exists (select 1 from {history.SCHEMA}.{table} as c where c.run_id = r.run_id)
        order by r.started_at desc, r.run_id desc
        limit 1
        """
    ).fetchall()
    return found[0][0] if found else None


def history_data(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    """Recent runs, and the tests, freshness and ingest figures of the newest runs that
    have them. ``recorded`` is False when the warehouse holds no run history."""
    s = history.SCHEMA
    tables = _tables(con)
    if "runs" not in tables:
        return {"recorded": False}
    runs = [
        dict(zip(RUN_FIELDS, row, strict=True))
        for row in query_rows(
            con,
            f"select {', '.join(RUN_FIELDS)} from {s}.runs "
            "order by started_at desc, run_id desc limit ?",
            [RECENT_RUNS],
        )
    ]
    if not runs:
        return {"recorded": False}
    for run in runs:  # what made a run `warn`
        run["warnings"] = (
            [
                _warning(step, detail)
                for step, detail in query_rows(
                    con,
                    f"select step, detail from {s}.run_steps "
                    "where run_id = ? and status = 'warn' order by position",
                    [run["run_id"]],
                )
            ]
            if "run_steps" in tables
            else []
        )
    started = {r["run_id"]: r["started_at"] for r in runs}

    def section(table: str, columns: str, order: str) -> dict[str, Any] | None:
        run_id = _newest_run_with(con, table) if table in tables else None
        if run_id is None:
            return None
        if run_id not in started:
            started.update(
                (row[0], row[1])
                for row in query_rows(
                    con, f"select run_id, started_at from {s}.runs where run_id = ?", [run_id]
                )
            )
        rows = query_rows(
            con, f"select {columns} from {s}.{table} where run_id = ? order by {order}", [run_id]
        )
        return {"run_id": run_id, "started_at": started[run_id], "rows": rows}

    tests = section(
        "run_tests", "name, resource_type, status, failures, message", "resource_type, name"
    )
    return {
        "recorded": True,
        "runs": runs,
        "tests": tests,
        "failures": _failure_samples(con, tables, tests),
        "freshness": section(
            "run_freshness",
            "source, max_loaded_at, age_hours, warn_after_hours, error_after_hours, status",
            "source",
        ),
        "datasets": section(
            "run_datasets", "dataset, records_read, quarantined, duplicates", "dataset"
        ),
        # the newest run whose ingest saw columns added to or vanished from the contract's
        "schema_changes": section(
            "run_schema_changes", "dataset, kind, column_name, files", "dataset, kind, column_name"
        ),
    }


def _failure_samples(
    con: duckdb.DuckDBPyConnection, tables: set[str], tests: dict[str, Any] | None
) -> dict[str, Any] | None:
    """The stored failing rows of the tests' run (:mod:`shoplake.audit`): per failed or
    warned test its audit relation and first rows."""
    if tests is None or "run_test_failures" not in tables:
        return None
    rows = [
        [name, relation, stored, json.loads(sample or "{}")]
        for name, relation, stored, sample in query_rows(
            con,
            f"select name, relation, stored_rows, sample from {history.SCHEMA}.run_test_failures "
            "where run_id = ? order by name",
            [tests["run_id"]],
        )
    ]
    return {"run_id": tests["run_id"], "started_at": tests["started_at"], "rows": rows}


def quarantine_keys(lake: Lake, dataset: str) -> list[str]:
    """The published quarantine files of a dataset (``_``/``.`` names are in progress)."""
    return [
        entry.key
        for entry in lake.list(lake.quarantine_prefix(dataset))
        if entry.name.endswith(".parquet") and not entry.name.startswith(HIDDEN_PREFIXES)
    ]


def records_read(lake: Lake) -> tuple[dict[str, int], int]:
    """Records read per dataset over every ingest run's log, and how many runs."""
    logs = posixpath.dirname(lake.run_log_key("any"))
    totals: dict[str, int] = {}
    runs = 0
    for entry in lake.list(logs):
        if not entry.name.endswith(".json") or entry.name.startswith(HIDDEN_PREFIXES):
            continue
        try:
            log = json.loads(lake.read_text(entry.key))
        except (OSError, ValueError):
            continue  # a damaged log: its run is left out of the rate
        runs += 1
        for name, stats in (log.get("datasets") or {}).items():
            totals[name] = totals.get(name, 0) + int(stats.get("read") or 0)
    return totals, runs


def quarantine_data(
    lake: Lake, latest: dict[str, Any] | None = None, threshold: float | None = None
) -> dict[str, Any]:
    """Quarantined records per dataset and reason, and the rate against records read.

    With ``threshold`` (a share), each dataset says whether its rate is above it
    (``over_threshold``): the rate of the latest recorded run's ingest when ``latest``
    (:func:`history_data`'s ``datasets`` section) has the dataset, as that run's status
    was judged on it, else the rate over every ingest run."""
    read, runs = records_read(lake)
    latest_rates = {
        dataset: (quarantined / records if records else None)
        for dataset, records, quarantined, *_ in (latest or {}).get("rows", [])
    }
    con = duckdb.connect()
    try:
        lake.attach(con)
        datasets = []
        for name in DATASETS:
            keys = quarantine_keys(lake, name)
            reasons: list[list] = []
            if keys:
                reasons = query_rows(
                    con,
                    "select reason, count(*) as n from read_parquet(?) "
                    "group by reason order by n desc, reason",
                    [[lake.url(key) for key in keys]],
                )
            quarantined = sum(n for _, n in reasons)
            total = read.get(name, 0)
            rate = quarantined / total if total else None
            judged = latest_rates.get(name, rate)
            datasets.append(
                {
                    "dataset": name,
                    "read": total,
                    "quarantined": quarantined,
                    "rate": rate,
                    "reasons": reasons,
                    "over_threshold": threshold is not None
                    and judged is not None
                    and judged > threshold,
                }
            )
    finally:
        con.close()
    return {"ingest_runs": runs, "threshold": threshold, "datasets": datasets}


def exchange_rate_data(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    """Which rates convert the USD figures, and the amounts left without a USD value.

    ``source`` is ``feed`` (delivered rates), ``demo`` (the bundled demo rates: no feed
    was ever delivered) or None (no rate at all, e.g. a USD-only shop); ``missing`` lists
    (fact, currency, business_date, records, amount) with no usable rate (the warehouse's
    int_missing_exchange_rates, also reported by a warning test); None before a build
    that has them."""
    from shoplake.dashboard.data import MARTS_SCHEMA
    from shoplake.warehouse import model_schema

    daily, missing_rates = "int_exchange_rates_daily", "int_missing_exchange_rates"
    m = model_schema(daily, MARTS_SCHEMA)
    present = {
        name
        for (name,) in con.execute(
            "select table_name from information_schema.tables where table_schema = ?", [m]
        ).fetchall()
    }
    if not {daily, missing_rates} <= present:
        return {"source": None, "missing": None}
    sources = [r[0] for r in query_rows(con, f"select distinct rate_source from {m}.{daily}")]
    missing = query_rows(
        con,
        "select fact, currency, business_date, records, amount "
        f"from {m}.{missing_rates} order by business_date, currency, fact",
    )
    return {"source": sources[0] if sources else None, "missing": missing}
