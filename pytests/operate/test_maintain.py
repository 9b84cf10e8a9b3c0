"""``shoplake.maintain``: the upkeep statements per target.

Redshift's are checked offline (SQLFluff's Redshift grammar, one statement per call) and
executed on the real PostgreSQL server, which, like Redshift, refuses VACUUM inside a
transaction block: that proves they are sent one by one outside a transaction.
PostgreSQL's ANALYZE is checked by the server's own statistics view; DuckDB's on the
built warehouse.
"""

from __future__ import annotations

import psycopg
import pytest
import sqlfluff

from shoplake.errors import ShoplakeError
from shoplake.maintain import execute_each, maintain, mart_tables, statements
from shoplake.warehouse import project_dir


def test_the_marts_are_the_model_files_of_models_marts():
    names = mart_tables()
    files = {p.stem for p in (project_dir() / "models" / "marts").rglob("*.sql")}
    assert set(names) == files
    assert {
        "fact_orders",
        "sales_fact",
        "fact_payments",
        "fact_clicks",
        "agg_daily_revenue",
    } <= files


def test_redshift_upkeep_vacuums_then_analyzes_each_table_in_valid_redshift_sql():
    sql = statements("prod", ["fact_orders", "agg_daily_revenue"], "analytics")
    assert sql == [
        'vacuum full "analytics"."fact_orders"',
        'analyze "analytics"."fact_orders"',
        'vacuum full "analytics"."agg_daily_revenue"',
        'analyze "analytics"."agg_daily_revenue"',
    ]
    for statement in statements("prod", mart_tables(), "analytics"):
        assert ";" not in statement  # one statement per call: never a transaction block
        sqlfluff.parse(statement, dialect="redshift")


def _marts_in_postgres(dsn: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as con:
        con.execute("create schema analytics")
        for table in ("fact_orders", "agg_daily_revenue"):
            con.execute(
                f"create table analytics.{table} as select g as id from generate_series(1, 500) g"
            )
            con.execute(f"delete from analytics.{table} where id % 2 = 0")
        con.execute("create view analytics.dim_date as select 1 as date_key")


def test_the_redshift_statements_run_outside_a_transaction(postgres_db):
    _marts_in_postgres(postgres_db)
    sql = statements("prod", ["fact_orders", "agg_daily_revenue"], "analytics")
    in_transaction = psycopg.connect(postgres_db)  # a transaction block: VACUUM is refused
    with in_transaction, pytest.raises(ShoplakeError, match="inside a transaction block"):
        execute_each(in_transaction, sql)
    with psycopg.connect(postgres_db, autocommit=True) as con:
        done = execute_each(con, sql)
    assert [s for s, _ in done] == sql
    with psycopg.connect(postgres_db) as con:
        rows = con.execute(
            "select relname, n_dead_tup, last_analyze is not null from pg_stat_user_tables "
            "where schemaname = 'analytics' order by relname"
        ).fetchall()
    assert rows == [("agg_daily_revenue", 0, True), ("fact_orders", 0, True)]


def test_postgres_upkeep_analyzes_the_mart_tables_that_exist(postgres_db):
    _marts_in_postgres(postgres_db)
    report = maintain(None, target="postgres", postgres_dsn=postgres_db)
    assert [s for s, _ in report.done] == [
        'analyze "analytics"."agg_daily_revenue"',
        'analyze "analytics"."fact_orders"',
    ]  # the view dim_date is not a table; marts not built are not there
    with psycopg.connect(postgres_db) as con:
        analyzed = con.execute(
            "select relname from pg_stat_user_tables where schemaname = 'analytics' "
            "and last_analyze is not null order by relname"
        ).fetchall()
    assert analyzed == [("agg_daily_revenue",), ("fact_orders",)]


def test_duckdb_upkeep_analyzes_and_checkpoints_the_warehouse(lake_copy):
    import duckdb

    warehouse = lake_copy.root / "warehouse.duckdb"
    before = duckdb.connect(str(warehouse), read_only=True)
    rows = before.execute("select count(*) from fact_orders").fetchone()[0]
    before.close()
    report = maintain(lake_copy)
    assert [s for s, _ in report.done] == ["analyze", "checkpoint"]
    assert not warehouse.with_name("warehouse.duckdb.wal").exists()
    after = duckdb.connect(str(warehouse), read_only=True)
    assert after.execute("select count(*) from fact_orders").fetchone()[0] == rows
    after.close()


def test_unknown_targets_and_missing_warehouses_are_clear_errors(tmp_path):
    with pytest.raises(ShoplakeError, match="unknown target"):
        maintain(tmp_path, target="snowflake")
    with pytest.raises(ShoplakeError, match="no warehouse at"):
        maintain(tmp_path / "lake")
    with pytest.raises(ShoplakeError, match="needs a PostgreSQL DSN"):
        maintain(tmp_path, target="postgres")
