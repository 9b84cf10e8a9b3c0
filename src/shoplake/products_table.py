"""The products source table in PostgreSQL, from the contract: its columns, key and version
column, its DDL, and the upsert the data generator loads the catalog with."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timezone
from typing import Any

import psycopg
from psycopg import sql

from shoplake.contract import PRODUCTS, Kind
from shoplake.errors import ExtractError, first_line
from shoplake.postgres import connect, describe, parse_dsn, redact_dsn, table_identifier

#: PostgreSQL type of each contract kind the products table uses.
PG_TYPES: dict[Kind, str] = {
    Kind.ID: "text",
    Kind.TEXT: "text",
    Kind.AMOUNT: "numeric(12,2)",
    Kind.BOOLEAN: "boolean",
    Kind.TIMESTAMP: "timestamptz",
}

#: Source table columns, in contract order (raw names = the CSV header).
COLUMNS: tuple[str, ...] = tuple(f.raw_name for f in PRODUCTS.fields)
#: The source table's primary key: the contract's id field.
(PRIMARY_KEY,) = (f.raw_name for f in PRODUCTS.fields if f.kind is Kind.ID)
#: The version column the watermark follows.
WATERMARK_COLUMN: str = PRODUCTS.field(PRODUCTS.version_field or "").raw_name


def products_table_ddl(table: str = "public.products") -> sql.Composed:
    """CREATE TABLE IF NOT EXISTS for the products source table, from the contract."""
    columns = [
        sql.SQL("{} {}{}").format(
            sql.Identifier(f.raw_name),
            sql.SQL(PG_TYPES[f.kind]),
            sql.SQL(" NOT NULL") if f.required else sql.SQL(""),
        )
        for f in PRODUCTS.fields
    ]
    columns.append(sql.SQL("PRIMARY KEY ({})").format(sql.Identifier(PRIMARY_KEY)))
    return sql.SQL("CREATE TABLE IF NOT EXISTS {} ({})").format(
        table_identifier(table), sql.SQL(", ").join(columns)
    )


def load_products_table(dsn: str, table: str, rows: Iterable[dict[str, Any]]) -> int:
    """Create the products table if missing and upsert ``rows`` into it.

    Rows are dicts keyed by the contract's field names with Python values (str, Decimal,
    bool, aware datetime; a naive datetime is taken as UTC, as the contract says; None
    for null). The table gets an index on (updated_at, product_id), which serves the
    extract's range scan and its order. Rows with a product_id already in the table
    replace it; if ``rows`` holds one product several times, the newest updated_at wins.
    Returns the number of rows inserted or changed (an identical row counts 0).
    """
    ident = table_identifier(table)
    schema = table.split(".")[0].strip() if "." in table else None
    params = parse_dsn(dsn)
    names = COLUMNS
    required = {f.name for f in PRODUCTS.fields if f.required}
    staging = sql.Identifier("_shoplake_load_products")
    cols = sql.SQL(", ").join(sql.Identifier(c) for c in names)
    non_key = [c for c in names if c != PRIMARY_KEY]
    upsert = sql.SQL(
        "INSERT INTO {table} AS t ({cols}) "
        "SELECT DISTINCT ON ({key}) {cols} FROM {staging} ORDER BY {key}, {at} DESC "
        "ON CONFLICT ({key}) DO UPDATE SET {sets} "
        "WHERE ({old}) IS DISTINCT FROM ({new})"
    ).format(
        table=ident,
        cols=cols,
        staging=staging,
        key=sql.Identifier(PRIMARY_KEY),
        at=sql.Identifier(WATERMARK_COLUMN),
        sets=sql.SQL(", ").join(
            sql.SQL("{c} = EXCLUDED.{c}").format(c=sql.Identifier(c)) for c in non_key
        ),
        old=sql.SQL(", ").join(sql.SQL("t.{}").format(sql.Identifier(c)) for c in non_key),
        new=sql.SQL(", ").join(sql.SQL("EXCLUDED.{}").format(sql.Identifier(c)) for c in non_key),
    )
    table_name = table.split(".")[-1].strip()
    index = sql.SQL("CREATE INDEX IF NOT EXISTS {} ON {} ({}, {})").format(
        sql.Identifier(f"{table_name}_{WATERMARK_COLUMN}_idx"[:63]),
        ident,
        sql.Identifier(WATERMARK_COLUMN),
        sql.Identifier(PRIMARY_KEY),
    )

    def values(row: dict[str, Any]) -> tuple[Any, ...]:
        missing = sorted(c for c in required if row.get(c) is None)
        if missing:
            raise ValueError(f"product row lacks required field(s) {missing}: {row!r}")
        out = []
        for f in PRODUCTS.fields:
            v = row.get(f.name)
            if isinstance(v, datetime) and v.tzinfo is None:
                v = v.replace(tzinfo=timezone.utc)
            out.append(v)
        return tuple(out)

    with connect(dsn) as conn:
        try:
            with conn.transaction():
                if schema is not None:
                    exists = conn.execute(
                        "SELECT 1 FROM pg_namespace WHERE nspname = %s", (schema,)
                    ).fetchone()
                    if not exists:
                        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
                conn.execute(products_table_ddl(table))
                conn.execute(index)
                conn.execute(
                    sql.SQL(
                        "CREATE TEMP TABLE {} ON COMMIT DROP AS SELECT {} FROM {} WITH NO DATA"
                    ).format(staging, cols, ident)
                )
                with conn.cursor() as cur:
                    with cur.copy(sql.SQL("COPY {} ({}) FROM STDIN").format(staging, cols)) as copy:
                        for row in rows:
                            copy.write_row(values(row))
                    cur.execute(upsert)
                    return max(cur.rowcount, 0)
        except psycopg.Error as exc:
            raise ExtractError(
                f"loading products into {table!r} at {describe(params)} failed: "
                f"{redact_dsn(first_line(exc), dsn)}",
                "check that the database user may create and write the table",
                table=table,
            ) from None
