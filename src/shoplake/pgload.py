"""Load the silver lake into PostgreSQL (the ``lake`` schema the dbt sources read there).

PostgreSQL cannot read Parquet, so the warehouse's PostgreSQL target reads copies of
the silver tables. Each run replaces every table's contents inside one transaction
(truncate + COPY), so dbt never sees a half-loaded lake, and the rows keep their
``ingested_at``: the incremental models behave exactly as they do over the Parquet
files. Columns and types come from ``shoplake.contract`` (via ``shoplake.dbt_sources``).
Every dataset of the contract gets its table: one the lake has no silver files for (a
shop that does not deliver it) is an empty, typed table, so the warehouse still builds.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import psycopg
from psycopg import sql

from shoplake.contract import DATASETS
from shoplake.dbt_sources import postgres_columns
from shoplake.errors import DatabaseConnectionError, first_line, redact, register_secret, translate
from shoplake.lake import Lake
from shoplake.report import Report

DEFAULT_SCHEMA = "lake"


@dataclass
class LoadReport:
    schema: str
    rows: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    def as_report(self) -> Report:
        return Report(
            title=f"silver -> PostgreSQL schema {self.schema} ({self.seconds:.1f} s)",
            columns=("table", "rows"),
            rows=[(t, n) for t, n in self.rows.items()],
        )


def _existing_columns(cur: psycopg.Cursor, schema: str, table: str) -> list[tuple[str, str]]:
    cur.execute(
        "select column_name, data_type, numeric_precision, numeric_scale "
        "from information_schema.columns where table_schema = %s and table_name = %s "
        "order by ordinal_position",
        (schema, table),
    )
    return [(name, dtype) for name, dtype, _, _ in cur.fetchall()]


_PG_INFO_TYPES = {
    "text": "text",
    "bigint": "bigint",
    "timestamp": "timestamp without time zone",
    "numeric(18,2)": "numeric",
    "boolean": "boolean",
    "date": "date",
    "numeric(20,10)": "numeric",
}


def load_postgres(lake: Lake, dsn: str, schema: str = DEFAULT_SCHEMA) -> LoadReport:
    """Replace the contents of ``<schema>.<dataset>`` with the lake's silver rows."""
    started = time.perf_counter()
    report = LoadReport(schema=schema)
    try:
        conn = psycopg.connect(dsn)
    except psycopg.Error as exc:
        register_secret(dsn)
        found = translate(exc)
        if isinstance(found, DatabaseConnectionError):
            raise found from exc
        # a failed connect is a connection error whatever the driver called it
        raise DatabaseConnectionError(
            f"cannot connect to PostgreSQL: {redact(first_line(exc))}",
            "check --postgres-dsn / SHOPLAKE_POSTGRES_DSN and that the server is running",
        ) from exc
    duck = duckdb.connect()
    lake.attach(duck)  # an s3:// lake is read through s3fs
    with conn, tempfile.TemporaryDirectory(prefix="shoplake-pgload-") as tmp:
        cur = conn.cursor()
        cur.execute(sql.SQL("create schema if not exists {}").format(sql.Identifier(schema)))
        for name, ds in DATASETS.items():
            columns = postgres_columns(ds)
            table = sql.Identifier(schema, name)
            wanted = [(c, _PG_INFO_TYPES[t]) for c, t in columns]
            existing = _existing_columns(cur, schema, name)
            if existing and existing != wanted:
                # The contract changed: recreate (dependent staging views go with it;
                # dbt recreates them).
                cur.execute(sql.SQL("drop table {} cascade").format(table))
                existing = []
            if not existing:
                cur.execute(
                    sql.SQL("create table {} ({})").format(
                        table,
                        sql.SQL(", ").join(
                            sql.SQL("{} {}").format(sql.Identifier(c), sql.SQL(t))
                            for c, t in columns
                        ),
                    )
                )
            cur.execute(sql.SQL("truncate table {}").format(table))
            if not lake.list_silver(name):
                report.rows[name] = 0
                continue
            csv_path = Path(tmp) / f"{name}.csv"
            col_list = ", ".join(f'"{c}"' for c, _ in columns)
            glob = lake.silver_glob(name).replace("'", "''")
            duck.execute(
                f"copy (select {col_list} from read_parquet('{glob}', union_by_name = true)) "
                f"to '{csv_path}' (format csv, header false)"
            )
            copy_sql = sql.SQL("copy {} ({}) from stdin (format csv)").format(
                table, sql.SQL(", ").join(sql.Identifier(c) for c, _ in columns)
            )
            with cur.copy(copy_sql) as copy, csv_path.open("rb") as f:
                while chunk := f.read(1 << 20):
                    copy.write(chunk)
            (report.rows[name],) = cur.execute(
                sql.SQL("select count(*) from {}").format(table)
            ).fetchone() or (0,)
        cur.execute(sql.SQL("analyze"))
    duck.close()
    conn.close()
    report.seconds = time.perf_counter() - started
    return report
