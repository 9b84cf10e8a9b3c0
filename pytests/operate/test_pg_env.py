"""``SHOPLAKE_PG_*`` as the README documents it: with no DSN, ``shoplake load postgres``,
``shoplake build --target postgres`` and ``shoplake run --target postgres`` connect with
SHOPLAKE_PG_HOST, _PORT, _USER, _PASSWORD and _DBNAME, against the real PostgreSQL
test server (pytests/conftest.py). No libpq variable (PGHOST, ...) is left to help.
"""

from __future__ import annotations

import duckdb
import psycopg
import pytest
from cli_kit import run_shoplake, the_error_line
from psycopg.conninfo import conninfo_to_dict

from shoplake.contract import DATASETS
from shoplake.lake import Lake

#: Nothing but SHOPLAKE_PG_* may say where the database is.
NOT_INHERITED = (
    "SHOPLAKE_POSTGRES_DSN",
    "SHOPLAKE_CONFIG",
    *("SHOPLAKE_PG_HOST", "SHOPLAKE_PG_PORT", "SHOPLAKE_PG_USER", "SHOPLAKE_PG_PASSWORD"),
    "SHOPLAKE_PG_DBNAME",
    *("PGHOST", "PGHOSTADDR", "PGPORT", "PGUSER", "PGPASSWORD", "PGDATABASE", "PGSERVICE"),
)


def shoplake(*args: str, env: dict[str, str] | None = None):
    return run_shoplake(*args, env=env, without=NOT_INHERITED)


def pg_env(dsn: str) -> dict[str, str]:
    info = conninfo_to_dict(dsn)
    return {
        "SHOPLAKE_PG_HOST": str(info["host"]),
        "SHOPLAKE_PG_PORT": str(info["port"]),
        "SHOPLAKE_PG_USER": str(info["user"]),
        "SHOPLAKE_PG_DBNAME": str(info["dbname"]),
        # the test server trusts local connections: the password is passed, not checked
        "SHOPLAKE_PG_PASSWORD": "not-checked-by-the-test-server",
    }


@pytest.fixture(scope="module")
def ingested(tmp_path_factory: pytest.TempPathFactory) -> Lake:
    root = tmp_path_factory.mktemp("pgenv") / "lake"
    generated = shoplake(
        "generate", "--lake", str(root), "--start", "2026-10-05", "--days", "1",
        "--orders-per-day", "5",
    )  # fmt: skip
    assert generated.returncode == 0, generated.stderr
    ingested = shoplake("ingest", "--lake", str(root))
    assert ingested.returncode == 0, ingested.stderr
    return Lake.at(root)


def silver_rows(lake: Lake, dataset: str) -> int:
    with duckdb.connect() as con:
        return con.execute(
            "select count(*) from read_parquet(?, hive_partitioning = true)",
            [str(lake.root / "silver" / dataset / "*" / "*" / "*" / "*.parquet")],
        ).fetchall()[0][0]


def test_load_and_build_connect_with_shoplake_pg_variables(
    ingested: Lake, postgres_db: str
) -> None:
    lake = ingested
    env = pg_env(postgres_db)
    loaded = shoplake("load", "postgres", "--lake", str(lake.root), env=env)
    assert loaded.returncode == 0, loaded.stderr
    with psycopg.connect(postgres_db) as con:
        for name in DATASETS:
            [(n,)] = con.execute(f"select count(*) from lake.{name}").fetchall()
            assert n == silver_rows(lake, name), name

    # one model (dbt's cautious selection leaves out the tests that also read other marts)
    built = shoplake(
        "build", "--lake", str(lake.root), "--target", "postgres",
        "--select", "stg_lake__orders", env={**env, "DBT_INDIRECT_SELECTION": "cautious"},
    )  # fmt: skip
    assert built.returncode == 0, built.stderr
    with psycopg.connect(postgres_db) as con:
        [(n,)] = con.execute("select count(*) from analytics_staging.stg_lake__orders").fetchall()
    assert n == silver_rows(lake, "orders")


def test_run_records_its_history_there(ingested: Lake, postgres_db: str) -> None:
    result = shoplake(
        "run", "--lake", str(ingested.root), "--target", "postgres", "--only", "ingest",
        env=pg_env(postgres_db),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    with psycopg.connect(postgres_db) as con:
        steps = con.execute(
            "select r.status, s.step, s.status from shoplake_ops.runs r "
            "join shoplake_ops.run_steps s using (run_id) where s.step = 'ingest'"
        ).fetchall()
    assert steps == [("success", "ingest", "success")]  # nothing new to read


def test_without_a_dsn_or_shoplake_pg_variables_the_error_names_both(ingested: Lake) -> None:
    for args in (
        ("load", "postgres", "--lake", str(ingested.root)),
        ("build", "--lake", str(ingested.root), "--target", "postgres"),
    ):
        line = the_error_line(shoplake(*args))
        assert "--postgres-dsn" in line, line
        assert "SHOPLAKE_PG_HOST" in line, line
