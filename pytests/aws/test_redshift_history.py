"""Run history on prod (Redshift): the statements offline (SQLFluff's Redshift grammar,
with their parameters inlined), and executed on the real PostgreSQL server, which speaks
the protocol Redshift speaks (the same client sends them).

Not proved here: Redshift itself accepting them (no cluster).
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import psycopg
import sqlfluff

from shoplake import history
from shoplake.redshift import history_statements, record_history

NOW = datetime(2026, 12, 3, 2, 0, tzinfo=timezone.utc)
LONG_ERROR = "dbt build failed: " + "x" * 600


def _run(tests: int = 150) -> history.RunRecord:
    return history.RunRecord(
        run_id="glue-jr_0123abcd",
        started_at=NOW,
        finished_at=NOW + timedelta(minutes=5),
        seconds=300.0,
        target="prod",
        lake="s3://acme-shoplake-processed/lake",
        status="failed",
        failed_step="build",
        error=LONG_ERROR,
        steps=[history.StepRecord(1, "ingest", "success", NOW, 10.0, "ok")],
        datasets=[history.DatasetRecord("orders", 3, 100, 99, 1, 0)],
        tests=[
            history.TestRecord(f"test.t{i}", f"t{i}", "test", "pass", 0, 0.1, "")
            for i in range(tests)
        ],
        freshness=[history.FreshnessRecord("lake.orders", NOW, NOW, 1.0, 26.0, 50.0, "pass")],
    )


def _literal(value) -> str:
    if value is None:
        return "null"
    if isinstance(value, (int, float)):
        return str(value)
    return "'" + str(value).replace("'", "''") + "'"


def test_history_statements_are_valid_redshift_sql_with_lengths_on_varchar():
    statements = history_statements(_run())
    ddl = [sql for sql, _ in statements if sql.startswith("create table")]
    assert len(ddl) == len(list(history.iter_tables()))  # one per history table
    assert all(" varchar," not in sql and " varchar)" not in sql for sql in ddl)
    assert all("varchar(65535)" in sql for sql in ddl)
    inserts = [sql for sql, _ in statements if "run_tests" in sql and sql.startswith("insert")]
    assert len(inserts) == 2  # 150 rows in batches of 100
    for sql, params in statements:
        parts = sql.split("%s")
        assert len(parts) == len(params) + 1
        text = parts[0] + "".join(
            _literal(p) + rest for p, rest in zip(params, parts[1:], strict=True)
        )
        sqlfluff.parse(text, dialect="redshift")


def test_the_history_is_replaced_per_run_over_the_postgres_protocol(postgres_db):
    with psycopg.connect(postgres_db) as con:
        record_history(_run(), con)
        record_history(_run(tests=3), con)  # the run recorded again: its rows replaced
        runs = con.execute("select run_id, status, error from shoplake_ops.runs").fetchall()
        tests = con.execute("select count(*) from shoplake_ops.run_tests").fetchone()[0]
    assert runs == [("glue-jr_0123abcd", "failed", LONG_ERROR)]
    assert tests == 3
