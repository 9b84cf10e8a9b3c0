"""dbt build on a real PostgreSQL server over a generated lake: every model and test
passes, the marts hold the same figures as on DuckDB, before and after an incremental
run, the semantic layer's metrics equal SQL over the marts on both, and the incremental
DuckDB build equals a full refresh."""

from __future__ import annotations

import duckdb
import psycopg
from marts import DIMENSIONS, FACTS, GOLD
from metrics_checks import assert_metrics_equal_sql
from warehouse_kit import cutoff, duckdb_columns, duckdb_rows, ingest

from shoplake.lake import Lake
from shoplake.landing import land
from shoplake.pgload import load_postgres
from shoplake.warehouse import build, default_duckdb_path, docs_generate


def postgres_rows(dsn: str, table: str, columns: list[str]) -> list[tuple]:
    cols = ", ".join(f'"{c}"' for c in columns)
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(f"select {cols} from analytics.{table}").fetchall()
    return sorted((tuple(r) for r in rows), key=repr)


def assert_same_marts(lake: Lake, dsn: str, tables) -> None:
    warehouse = default_duckdb_path(lake)
    for table in tables:
        columns = duckdb_columns(warehouse, table)
        duck = duckdb_rows(warehouse, table)
        assert duck, f"{table} is empty: the comparison would prove nothing"
        assert postgres_rows(dsn, table, columns) == duck, (
            f"{table}: PostgreSQL and DuckDB disagree"
        )


def test_generated_lake_same_marts_on_postgres_and_duckdb(generated_raw, tmp_path, postgres_db):
    lake = Lake.at(tmp_path / "lake")
    # Day by day as delivered: first everything that landed before the cut-off ...
    assert land(generated_raw, lake, before=cutoff()) > 0
    ingest(lake)
    assert build(lake, quiet=True).ok
    assert build(lake, target="postgres", postgres_dsn=postgres_db, quiet=True).ok
    assert_same_marts(lake, postgres_db, GOLD + FACTS + DIMENSIONS)
    assert (
        docs_generate(lake, target="postgres", postgres_dsn=postgres_db, quiet=True)
        / "catalog.json"
    ).is_file()

    # ... then the rest: new days, late files, order status changes re-sent later.
    assert land(generated_raw, lake) > 0
    ingest(lake)
    assert build(lake, quiet=True).ok
    assert build(lake, target="postgres", postgres_dsn=postgres_db, quiet=True).ok
    assert_same_marts(lake, postgres_db, GOLD + FACTS + DIMENSIONS)

    # The semantic layer (MetricFlow) answers as SQL over the marts does, on both targets.
    def on_duckdb(sql: str) -> list[tuple]:
        with duckdb.connect(str(default_duckdb_path(lake)), read_only=True) as con:
            return con.execute(sql).fetchall()

    def on_postgres(sql: str) -> list[tuple]:
        with psycopg.connect(postgres_db) as conn:
            return conn.execute(sql).fetchall()

    assert_metrics_equal_sql(lake, on_duckdb, "main")
    assert_metrics_equal_sql(
        lake, on_postgres, "analytics", target="postgres", postgres_dsn=postgres_db
    )

    # The incremental DuckDB warehouse equals a full refresh of the same lake.
    rebuilt = tmp_path / "full_refresh.duckdb"
    assert build(lake, duckdb_path=rebuilt, full_refresh=True, tests=False, quiet=True).ok
    for table in FACTS + GOLD:
        assert duckdb_rows(default_duckdb_path(lake), table) == duckdb_rows(rebuilt, table), (
            f"{table}: incremental result differs from a full refresh"
        )


def test_loader_copies_every_silver_row(fixture_lake, postgres_db):
    lake, _ = fixture_lake
    report = load_postgres(lake, postgres_db)
    again = load_postgres(lake, postgres_db)  # a reload replaces, never appends
    assert report.rows == again.rows
    # the fixture lake never received a rates feed: its table is there, empty
    assert report.rows.pop("exchange_rates") == 0
    assert all(n > 0 for n in report.rows.values())
    with psycopg.connect(postgres_db) as conn:
        for table, n in report.rows.items():
            assert conn.execute(f"select count(*) from lake.{table}").fetchone()[0] == n
