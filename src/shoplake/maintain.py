"""``shoplake maintain``: the warehouse's upkeep, weekly (cron, Airflow, dbt Cloud).

The tables are the marts (``models/marts/**``: the incremental facts, the dimensions and
the gold aggregates) that exist in the target's warehouse; views are left alone.
What runs, per target (:func:`statements`):

* ``prod`` (Redshift): ``VACUUM FULL`` then ``ANALYZE`` of each table. The incremental
  facts are updated by delete+insert, which leaves deleted rows and an unsorted region
  behind until a vacuum reclaims and re-sorts them; ANALYZE refreshes the planner's
  statistics. VACUUM cannot run inside a transaction block, so every statement is sent
  on its own on an autocommit connection (:func:`execute_each`).
* ``postgres``: ``ANALYZE`` of each table (autovacuum reclaims space on its own).
* ``dev`` (DuckDB): ``ANALYZE`` (statistics of every table), then ``CHECKPOINT`` (the
  write-ahead log folded into the database file); DuckDB needs no vacuum of its own.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shoplake.errors import ConfigError, DatabaseConnectionError, WarehouseError
from shoplake.redshift import quote_ident
from shoplake.report import Report

TARGETS = ("dev", "postgres", "prod")


def mart_tables(project: Path | None = None) -> list[str]:
    """The marts' model names, from the dbt project's ``models/marts`` folder."""
    from shoplake.warehouse import project_dir

    root = (project or project_dir()) / "models" / "marts"
    return sorted(p.stem for p in root.rglob("*.sql"))


def statements(target: str, tables: Iterable[str], schema: str) -> list[str]:
    """The upkeep statements of ``target`` for ``tables`` of ``schema``, in order."""
    names = [f"{quote_ident(schema)}.{quote_ident(t)}" for t in tables]
    if target == "prod":
        return [sql for name in names for sql in (f"vacuum full {name}", f"analyze {name}")]
    if target == "postgres":
        return [f"analyze {name}" for name in names]
    if target == "dev":
        return ["analyze", "checkpoint"]
    raise ConfigError(
        f"unknown target {target!r}", f"use one of {', '.join(TARGETS)}", setting="target"
    )


def execute_each(con: Any, sql: list[str]) -> list[tuple[str, float]]:
    """Run each statement on its own (autocommit), timed; stops at the first error."""
    import psycopg

    done = []
    for statement in sql:
        clock = time.perf_counter()
        try:
            con.execute(statement)
        except psycopg.Error as exc:
            raise WarehouseError(
                f"maintenance stopped at `{statement}`: {str(exc).strip().splitlines()[0]}",
                "the statements before it are done; fix the cause and rerun `shoplake maintain`",
                step="maintain",
            ) from exc
        done.append((statement, time.perf_counter() - clock))
    return done


@dataclass
class MaintainReport:
    target: str
    done: list[tuple[str, float]] = field(default_factory=list)

    def as_report(self) -> Report:
        total = sum(s for _, s in self.done)
        return Report(
            title=f"maintain ({self.target})",
            columns=["statement", "seconds"],
            rows=[[sql, round(s, 2)] for sql, s in self.done],
            notes=[f"{len(self.done)} statements in {total:.1f} s"],
        )


def _existing(con: Any, schema: str, wanted: list[str]) -> list[str]:
    rows = con.execute(
        "select tablename from pg_tables where schemaname = %s", (schema,)
    ).fetchall()
    present = {r[0] for r in rows}
    return [t for t in wanted if t in present]


def maintain(
    lake: Any,
    *,
    target: str = "dev",
    duckdb_path: str | os.PathLike | None = None,
    postgres_dsn: str | None = None,
    pg_schema: str | None = None,
    wait: bool = False,
    say: Callable[[str], None] | None = None,
) -> MaintainReport:
    """Run the upkeep of ``target``'s warehouse (see the module doc), holding the lake's
    build lock (as ``shoplake build`` and ``shoplake run`` do) when a lake is given."""
    if lake is None:
        return _maintain(None, target, duckdb_path, postgres_dsn, pg_schema, say)
    from shoplake.ingest.transaction import lake_lock
    from shoplake.lake import Lake
    from shoplake.warehouse import BUILD_LOCK

    lake = Lake.at(lake)
    with lake_lock(lake, BUILD_LOCK, wait):
        return _maintain(lake, target, duckdb_path, postgres_dsn, pg_schema, say)


def _maintain(
    lake: Any,
    target: str,
    duckdb_path: str | os.PathLike | None,
    postgres_dsn: str | None,
    pg_schema: str | None,
    say: Callable[[str], None] | None,
) -> MaintainReport:
    if target not in TARGETS:
        statements(target, [], "")  # raises the unknown-target error
    report = MaintainReport(target)
    wanted = mart_tables()
    if target == "dev":
        report.done = _maintain_duckdb(lake, duckdb_path)
    elif target == "postgres":
        import psycopg

        from shoplake.config import pg_env_dsn

        postgres_dsn = postgres_dsn or pg_env_dsn()
        if not postgres_dsn:
            raise ConfigError(
                "the postgres target needs a PostgreSQL DSN",
                "pass --postgres-dsn or set SHOPLAKE_POSTGRES_DSN "
                "(or SHOPLAKE_PG_HOST/PORT/USER/PASSWORD/DBNAME)",
                setting="postgres_dsn",
            )
        schema = pg_schema or os.environ.get("SHOPLAKE_PG_SCHEMA") or "analytics"
        try:
            con = psycopg.connect(postgres_dsn, autocommit=True)
        except psycopg.Error as exc:
            raise DatabaseConnectionError(
                f"cannot connect to PostgreSQL: {str(exc).strip().splitlines()[0]}",
                "check the DSN (--postgres-dsn / SHOPLAKE_POSTGRES_DSN)",
            ) from exc
        with con:
            report.done = execute_each(
                con, statements("postgres", _existing(con, schema, wanted), schema)
            )
    elif target == "prod":
        from shoplake import redshift

        schema = redshift.schema()
        with redshift.connect(autocommit=True) as con:
            report.done = execute_each(
                con, statements("prod", _existing(con, schema, wanted), schema)
            )
    if not report.done and say:
        say(f"maintain ({target}): no mart tables found: run `shoplake build` first")
    return report


def _maintain_duckdb(lake: Any, duckdb_path: str | os.PathLike | None) -> list[tuple[str, float]]:
    import duckdb

    from shoplake.warehouse import dbt_env

    path = Path(dbt_env(lake, "dev", duckdb_path=duckdb_path)["SHOPLAKE_DUCKDB_PATH"])
    if not path.is_file():
        raise WarehouseError(
            f"no warehouse at {path}", "run `shoplake build` first", step="maintain", target="dev"
        )
    try:
        con = duckdb.connect(str(path))
    except duckdb.Error as exc:
        raise WarehouseError(
            f"cannot open the warehouse {path}: {str(exc).splitlines()[0]}",
            "if a build is running, run maintain when it has finished",
            step="maintain",
            target="dev",
        ) from exc
    done = []
    try:
        for sql in statements("dev", [], "main"):
            clock = time.perf_counter()
            con.execute(sql)
            done.append((sql, time.perf_counter() - clock))
    finally:
        con.close()
    return done
