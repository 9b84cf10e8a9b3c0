"""The ``prod`` warehouse (Redshift) reached from Python, outside dbt: publish and maintain.

The connection comes from the same ``SHOPLAKE_REDSHIFT_*`` variables as the dbt profile
(``profiles.yml.example``), so one environment serves ``shoplake build --target prod``,
``shoplake publish --target prod`` and ``shoplake maintain --target prod``, and the run
history of prod runs (:func:`record_history`). Redshift
speaks the PostgreSQL wire protocol; psycopg (already a dependency) talks to it, with
TLS required as in the profile.
"""

from __future__ import annotations

import os
import re
from typing import Any

from shoplake.errors import ConfigError, DatabaseConnectionError, WarehouseError
from shoplake.history import SCHEMA, RunRecord, ddl, table_rows

#: The Redshift role that may write UNLOAD output into the lake (``deploy aws`` creates
#: ``<name>-redshift-unload``; attach it to the cluster or workgroup beside Spectrum's).
UNLOAD_ROLE_ENV = "SHOPLAKE_REDSHIFT_UNLOAD_ROLE"


def schema() -> str:
    """The schema dbt builds the marts in on prod (the profile's default)."""
    return os.environ.get("SHOPLAKE_REDSHIFT_SCHEMA") or "analytics"


def connect(autocommit: bool = True) -> Any:
    """A psycopg connection to the prod warehouse; a clear error when it is not configured.

    ``autocommit`` defaults to on: VACUUM cannot run inside a transaction block, and
    UNLOAD needs none.
    """
    import psycopg

    missing = [
        name
        for name in ("SHOPLAKE_REDSHIFT_HOST", "SHOPLAKE_REDSHIFT_USER")
        if not os.environ.get(name)
    ]
    if missing:
        raise ConfigError(
            f"the prod target needs {' and '.join(missing)}",
            "set the SHOPLAKE_REDSHIFT_* variables (see docs/aws.md)",
            setting=", ".join(missing),
        )
    try:
        return psycopg.connect(
            host=os.environ["SHOPLAKE_REDSHIFT_HOST"],
            port=int(os.environ.get("SHOPLAKE_REDSHIFT_PORT") or 5439),
            user=os.environ["SHOPLAKE_REDSHIFT_USER"],
            password=os.environ.get("SHOPLAKE_REDSHIFT_PASSWORD", ""),
            dbname=os.environ.get("SHOPLAKE_REDSHIFT_DBNAME") or "analytics",
            sslmode="require",
            autocommit=autocommit,
            connect_timeout=30,
        )
    except psycopg.Error as exc:
        raise DatabaseConnectionError(
            f"cannot connect to Redshift at {os.environ['SHOPLAKE_REDSHIFT_HOST']}: "
            f"{str(exc).strip().splitlines()[0]}",
            "check SHOPLAKE_REDSHIFT_HOST/PORT/USER/PASSWORD and the network path",
        ) from exc


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def quote_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


# --- run history on prod ------------------------------------------------------------------
#: Redshift's ``varchar`` without a length holds 256 bytes; errors and test messages are
#: longer. Its longest is 65535.
_VARCHAR = re.compile(r"\bvarchar\b(?!\()")
#: Rows per INSERT: Redshift runs one statement at a time slowly, so rows go in batches.
_INSERT_BATCH = 100


def history_statements(run: RunRecord) -> list[tuple[str, tuple]]:
    """The run-history statements for Redshift, with their parameters: the tables of
    :mod:`shoplake.history` (schema ``shoplake_ops``), the run's earlier rows deleted,
    its rows inserted in batches. The DDL is :func:`shoplake.history.ddl` with lengths on
    ``varchar`` (all the rest is SQL Redshift takes as it is)."""
    out: list[tuple[str, tuple]] = [(_VARCHAR.sub("varchar(65535)", sql), ()) for sql in ddl()]
    for table, (columns, rows) in table_rows(run).items():
        out.append((f"delete from {SCHEMA}.{table} where run_id = %s", (run.run_id,)))
        for start in range(0, len(rows), _INSERT_BATCH):
            batch = rows[start : start + _INSERT_BATCH]
            marks = ", ".join("(" + ", ".join(["%s"] * len(columns)) + ")" for _ in batch)
            params = tuple(value for row in batch for value in row)
            out.append(
                (f"insert into {SCHEMA}.{table} ({', '.join(columns)}) values {marks}", params)
            )
    return out


def record_history(run: RunRecord, con: Any | None = None) -> None:
    """Replace the run's rows in the prod warehouse's ``shoplake_ops`` tables, the
    deletes and inserts in one transaction (the DDL before it)."""
    import psycopg

    own = con is None
    con = con or connect(autocommit=False)
    try:
        statements = history_statements(run)
        schema_sql = [s for s in statements if s[0].startswith("create ")]
        with con.transaction():
            for sql, params in schema_sql:
                con.execute(sql, params or None)
        with con.transaction():
            for sql, params in statements[len(schema_sql) :]:
                con.execute(sql, params or None)
    except psycopg.Error as exc:
        raise WarehouseError(
            f"cannot record run {run.run_id} in Redshift: {str(exc).strip().splitlines()[0]}",
            "the run's JSON record in the lake (_state/pipeline/) is complete",
            step="history",
            target="prod",
        ) from exc
    finally:
        if own:
            con.close()
