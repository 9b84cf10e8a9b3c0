"""Stored test failures: the failing rows dbt keeps in the audit schema, read back.

Every data test stores its failing rows (``store_failures`` in dbt_project.yml) as one
table per test in the audit schema next to the marts (``main_audit`` on DuckDB,
``<schema>_audit`` on PostgreSQL and Redshift); each build replaces them, so the schema
holds the failures of the latest build only. A run records where each failed test's rows
are and the first of them (:func:`shoplake.history.failure_samples`), on every target.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from pathlib import Path

from shoplake import history

#: The schema suffix of the stored failures (``+schema`` of data_tests in dbt_project.yml).
AUDIT_SCHEMA_SUFFIX = "audit"

Fetch = Callable[[str], tuple[list[str], list[tuple]]]


@contextlib.contextmanager
def warehouse_fetch(
    target: str,
    *,
    duckdb_path: str | os.PathLike | None = None,
    postgres_dsn: str | None = None,
) -> Iterator[Fetch]:
    """A function running one query on the warehouse of ``target`` (read-only on DuckDB)
    and returning (columns, rows)."""
    if target == "dev":
        import duckdb

        if duckdb_path is None:
            raise ValueError("the dev target's stored failures need the DuckDB file")
        con = duckdb.connect(str(Path(duckdb_path)), read_only=True)

        def fetch(sql: str) -> tuple[list[str], list[tuple]]:
            cursor = con.execute(sql)
            return [d[0] for d in cursor.description], cursor.fetchall()

        try:
            yield fetch
        finally:
            con.close()
        return
    import psycopg

    if target == "postgres":
        if not postgres_dsn:
            raise ValueError("the postgres target's stored failures need its DSN")
        conn = psycopg.connect(postgres_dsn, autocommit=True)
    else:
        from shoplake.redshift import connect

        conn = connect()

    def fetch_pg(sql: str) -> tuple[list[str], list[tuple]]:
        with conn.cursor() as cur:
            cur.execute(sql)
            return [d.name for d in cur.description or []], cur.fetchall()

    try:
        yield fetch_pg
    finally:
        conn.close()


def stored_failures(
    run_results: dict,
    target: str,
    *,
    duckdb_path: str | os.PathLike | None = None,
    postgres_dsn: str | None = None,
) -> list[history.FailureSample]:
    """The failed and warned tests of a build with the first rows they stored."""
    failing = [
        n
        for n in run_results.get("results", [])
        if n.get("status") in ("fail", "warn") and n.get("relation_name")
    ]
    if not failing:
        return []
    with warehouse_fetch(target, duckdb_path=duckdb_path, postgres_dsn=postgres_dsn) as fetch:
        return history.failure_samples(run_results, fetch)
