"""``shoplake build``: run the dbt project for a lake and a target, no profile editing.

The profile is ``profiles.yml.example`` at the project root, copied into a temporary
profiles directory; everything it needs comes from environment variables that this
module sets for the run (lake root, DuckDB file, PostgreSQL connection from the DSN).
Targets:

* ``dev`` (default): DuckDB at ``<lake>/warehouse.duckdb`` (or ``duckdb_path`` /
  ``SHOPLAKE_DUCKDB_PATH``), sources read the lake's Parquet in place. A DuckDB file
  cannot live in an object store: for an ``s3://`` lake the default file is
  ``<local dir>/warehouse.duckdb`` (:attr:`shoplake.lake.Lake.local_dir`, one local
  directory per lake), and the profile registers s3fs with DuckDB so that the sources
  read the ``s3://`` Parquet files in place;
* ``postgres``: the silver tables are first loaded into the ``lake`` schema
  (:mod:`shoplake.pgload`), then dbt builds into ``SHOPLAKE_PG_SCHEMA`` (``analytics``);
* ``prod``: Redshift from ``SHOPLAKE_REDSHIFT_*``; the Spectrum external schema, tables
  and recent partitions are staged first (``stage_external_sources`` run-operation).

The e-mail salt (``SHOPLAKE_EMAIL_SALT``, :func:`email_salt`) is never rendered into SQL:
on DuckDB the profile's plugin (:mod:`shoplake.dbt_plugin`) sets it as a session
variable, on PostgreSQL it is a custom session setting passed in ``PGOPTIONS`` (libpq
sends it at connection start, outside any statement), and on Redshift a pre-hook sets a
session context variable with a bound parameter (``macros/hash_email.sql``). SQL reads
it by name (``getvariable`` / ``current_setting``).

Only ``orders`` is required (:data:`REQUIRED_DATASETS`; a lake without it is refused in
one line before dbt starts). A dataset the lake has no silver files for reads as empty:
on DuckDB its source is pointed at a zero-row Parquet file with its silver schema
(:func:`empty_sources`), on PostgreSQL :mod:`shoplake.pgload` creates its empty table.

dbt's artifacts and logs go to ``<local dir>/_state/dbt/<target>/`` (the lake directory
itself for a local lake) so that runs on different lakes never share a ``target/``
directory.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from shoplake import build_state
from shoplake.config import pg_env_dsn
from shoplake.contract import DATASETS, PARTITION_COLUMNS
from shoplake.dbt_sources import SOURCE_NAME, silver_glob_env
from shoplake.errors import (
    ConfigError,
    ContractError,
    ShoplakeError,
    WarehouseError,
    one_line,
    register_secret,
    warehouse_lock_conflict,
)
from shoplake.lake import SILVER, STATE, Lake, expected_layout, glob_escape
from shoplake.report import Report

TARGETS = ("dev", "postgres", "prod")
#: The target schema of the DuckDB warehouse (the profile's ``dev`` output): the marts'.
DUCKDB_SCHEMA = "main"
#: Where each layer lives (macros/generate_schema_name.sql): the models whose name has one
#: of these prefixes in ``<target schema>_<layer>``; the marts (dimensions, facts, gold
#: aggregates) and seeds in the target schema itself, the analysts' one.
LAYER_SCHEMAS = {"stg_": "staging", "int_": "intermediate"}


def model_schema(model: str, target_schema: str = DUCKDB_SCHEMA) -> str:
    """The schema a model is built in: ``main_staging.stg_lake__orders``,
    ``main_intermediate.int_sales_converted``, ``main.fact_orders`` on DuckDB."""
    for prefix, layer in LAYER_SCHEMAS.items():
        if model.startswith(prefix):
            return f"{target_schema}_{layer}"
    return target_schema


#: The lake lock a build holds (``shoplake build``, and ``shoplake run`` for its whole run).
BUILD_LOCK = "build"
PROFILE_TEMPLATE = "profiles.yml.example"

#: The public salt of the local targets (generated test data only), so that a fresh
#: checkout builds; a production hash is never made with it.
DEV_EMAIL_SALT = "shoplake-public-development-salt"
DEV_SALT_TARGETS = ("dev", "postgres")
#: Where SQL finds the salt: a DuckDB variable, a PostgreSQL/Redshift session setting.
SALT_VARIABLE = "shoplake_email_salt"
SALT_SETTING = "shoplake.email_salt"


#: The datasets the warehouse cannot be built without: every fact is an order's. Every
#: other dataset is optional; without it its source reads as empty (docs/operate.md).
REQUIRED_DATASETS = ("orders",)
#: Where a build keeps the empty, typed Parquet file of each dataset the lake has no
#: silver files for (under ``<local dir>/_state/``; silver/ holds only ingested data).
EMPTY_SOURCES = "empty_sources"


def email_salt(target: str) -> str:
    """SHOPLAKE_EMAIL_SALT; on the local targets the public development salt when unset."""
    salt = os.environ.get("SHOPLAKE_EMAIL_SALT", "")
    if salt:
        return salt
    if target in DEV_SALT_TARGETS:
        return DEV_EMAIL_SALT
    raise ConfigError(
        f"SHOPLAKE_EMAIL_SALT is not set: target {target!r} needs the e-mail hashing salt",
        "export SHOPLAKE_EMAIL_SALT (it is never stored in the repository) and run again",
        setting="SHOPLAKE_EMAIL_SALT",
    )


def _pg_option(name: str, value: str) -> str:
    """One ``-c name=value`` of libpq's options, spaces and backslashes escaped."""
    return f"-c {name}=" + value.replace("\\", "\\\\").replace(" ", "\\ ")


def project_dir() -> Path:
    """The dbt project: SHOPLAKE_DBT_PROJECT_DIR, else the repository this package is in."""
    configured = os.environ.get("SHOPLAKE_DBT_PROJECT_DIR")
    candidates = [Path(configured)] if configured else []
    candidates += [Path(__file__).resolve().parents[2], Path.cwd()]
    for path in candidates:
        if (path / "dbt_project.yml").is_file():
            return path.resolve()
    raise WarehouseError(
        "dbt project not found (no dbt_project.yml next to the shoplake package)",
        "run from a checkout of the repository or set SHOPLAKE_DBT_PROJECT_DIR",
    )


#: A lake, or its location (a directory or s3://bucket/prefix).
LakeLike = Lake | str


def _as_lake(lake: LakeLike) -> Lake:
    return lake if isinstance(lake, Lake) else Lake.at(lake)


def artifacts_dir(lake: LakeLike, target: str = "dev") -> Path:
    """Where dbt writes target/ (manifest, run_results, docs) and logs/ for a lake:
    ``<local dir>/_state/dbt/<target>/`` (local dir: see :attr:`Lake.local_dir`)."""
    return _as_lake(lake).local_dir / STATE / "dbt" / target


def default_duckdb_path(lake: LakeLike) -> Path:
    """The dev warehouse of a lake: ``<local dir>/warehouse.duckdb``."""
    return _as_lake(lake).local_dir / "warehouse.duckdb"


@dataclass
class BuildResult:
    target: str
    command: str
    seconds: float
    statuses: dict[str, int] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    run_results: Path | None = None

    @property
    def ok(self) -> bool:
        return not self.failures

    def as_report(self) -> Report:
        rows = [(status, n) for status, n in sorted(self.statuses.items())]
        notes = [f"failed: {f}" for f in self.failures] + [f"warning: {w}" for w in self.warnings]
        return Report(
            title=f"dbt {self.command} --target {self.target} ({self.seconds:.1f} s)",
            columns=("status", "nodes"),
            rows=rows,
            notes=notes,
        )


def dbt_env(
    lake: LakeLike,
    target: str,
    *,
    duckdb_path: str | os.PathLike | None = None,
    postgres_dsn: str | None = None,
    pg_schema: str | None = None,
) -> dict[str, str]:
    """The environment variables profiles.yml.example and the project read for a run."""
    if target not in TARGETS:
        raise ConfigError(
            f"unknown target {target!r}", f"use one of {', '.join(TARGETS)}", setting="target"
        )
    lake = _as_lake(lake)
    env = {"SHOPLAKE_LAKE": lake.url(), "SHOPLAKE_DBT_TARGET": target}
    if target == "dev":
        path = duckdb_path or os.environ.get("SHOPLAKE_DUCKDB_PATH") or default_duckdb_path(lake)
        env["SHOPLAKE_DUCKDB_PATH"] = str(Path(path).expanduser().resolve())
    elif target == "postgres":
        postgres_dsn = postgres_target_dsn(postgres_dsn)
        from psycopg.conninfo import conninfo_to_dict

        info = conninfo_to_dict(postgres_dsn)
        env["SHOPLAKE_PG_HOST"] = str(info.get("host") or "127.0.0.1")
        env["SHOPLAKE_PG_PORT"] = str(info.get("port") or 5432)
        env["SHOPLAKE_PG_USER"] = str(info.get("user") or os.environ.get("USER", "postgres"))
        env["SHOPLAKE_PG_DBNAME"] = str(info.get("dbname") or env["SHOPLAKE_PG_USER"])
        if info.get("password"):
            env["SHOPLAKE_PG_PASSWORD"] = str(info["password"])
        if pg_schema:
            env["SHOPLAKE_PG_SCHEMA"] = pg_schema
        options = [os.environ.get("PGOPTIONS", ""), _pg_option(SALT_SETTING, email_salt(target))]
        env["PGOPTIONS"] = " ".join(o for o in options if o)
    return env


def postgres_target_dsn(postgres_dsn: str | None) -> str:
    """The ``postgres`` target's DSN: the one given (``--postgres-dsn``,
    ``SHOPLAKE_POSTGRES_DSN``), else one made of ``SHOPLAKE_PG_*``; neither is an error."""
    dsn = postgres_dsn or pg_env_dsn()
    if not dsn:
        raise ConfigError(
            "the postgres target needs a PostgreSQL connection",
            "pass --postgres-dsn, or set SHOPLAKE_POSTGRES_DSN or SHOPLAKE_PG_HOST, "
            "SHOPLAKE_PG_PORT, SHOPLAKE_PG_USER, SHOPLAKE_PG_PASSWORD, SHOPLAKE_PG_DBNAME",
            setting="postgres_dsn",
        )
    register_secret(dsn)
    return dsn


@contextlib.contextmanager
def profiles_dir() -> Iterator[Path]:
    """A temporary profiles directory holding the project's profile template."""
    with tempfile.TemporaryDirectory(prefix="shoplake-dbt-profiles-") as tmp:
        shutil.copyfile(project_dir() / PROFILE_TEMPLATE, Path(tmp) / "profiles.yml")
        yield Path(tmp)


_DBT_MAIN = "import sys; from dbt.cli.main import cli; sys.exit(cli(prog_name='dbt'))"


@dataclass
class DbtRun:
    """Outcome of one dbt command: exit code, captured output (when quiet), artifacts."""

    returncode: int
    output: str
    target_path: Path

    @property
    def success(self) -> bool:
        return self.returncode == 0

    def run_results(self) -> dict | None:
        path = self.target_path / "run_results.json"
        try:
            return json.loads(path.read_text("utf-8"))
        except (OSError, ValueError):
            return None


def run_dbt(
    args: Sequence[str],
    lake: LakeLike,
    target: str = "dev",
    *,
    env: dict[str, str] | None = None,
    artifacts: Path | None = None,
    quiet: bool = False,
) -> DbtRun:
    """Run one dbt command for a lake and target, in a child process.

    A child process keeps dbt's global state (logging, adapter connections: dbt-duckdb
    holds the database file open) out of the caller. ``quiet`` captures dbt's output
    instead of streaming it.
    """
    out = artifacts or artifacts_dir(lake, target)
    target_path = out / "target"
    with profiles_dir() as profiles:
        argv = [
            sys.executable,
            "-c",
            _DBT_MAIN,
            *(["--quiet"] if quiet else []),
            "--no-use-colors",
            *args,
            "--project-dir",
            str(project_dir()),
            "--profiles-dir",
            str(profiles),
            "--target",
            target,
            "--target-path",
            str(target_path),
            "--log-path",
            str(out / "logs"),
        ]
        child_env = {**os.environ, **(env or dbt_env(lake, target))}
        if target == "dev":
            child_env = {k: v for k, v in child_env.items() if not k.startswith(SILVER_ENV)}
            child_env.update(empty_sources(lake))
        child_env.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
        if quiet:
            proc = subprocess.run(argv, env=child_env, capture_output=True, text=True, check=False)
            output = _without_exit_noise(proc.stdout + proc.stderr)
            _keep_output(out, args, output)
        else:
            proc = subprocess.run(
                argv, env=child_env, stderr=subprocess.PIPE, text=True, check=False
            )
            output = proc.stderr
            sys.stderr.write(_without_exit_noise(proc.stderr))
    return DbtRun(proc.returncode, output, target_path)


SILVER_ENV = "SHOPLAKE_SILVER_"


def empty_sources(lake: LakeLike) -> dict[str, str]:
    """For every dataset the lake has no silver files for, a zero-row Parquet file with
    its silver schema (contract columns, lineage, Hive partition columns as text) under
    ``<local dir>/_state/empty_sources/``, and the environment variable pointing its
    DuckDB source there (``SHOPLAKE_SILVER_<DATASET>``, :mod:`shoplake.dbt_sources`)."""
    import duckdb

    lake = _as_lake(lake)
    env: dict[str, str] = {}
    missing = [ds for ds in DATASETS.values() if not lake.list_silver(ds.name)]
    if not missing:
        return env
    folder = lake.local_dir / STATE / EMPTY_SOURCES
    folder.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    try:
        for ds in missing:
            columns = [*ds.silver_columns, *((p, "VARCHAR") for p in PARTITION_COLUMNS)]
            select = ", ".join(f'cast(null as {t}) as "{c}"' for c, t in columns)
            path = folder / f"{ds.name}.parquet"
            partial = path.with_suffix(".parquet.partial")
            dest = str(partial).replace("'", "''")
            con.execute(f"copy (select {select} from range(0)) to '{dest}' (format parquet)")
            os.replace(partial, path)
            env[silver_glob_env(ds)] = glob_escape(str(path))
    finally:
        con.close()
    return env


def check_required_datasets(lake: Lake) -> None:
    """Fail in one line when the lake lacks a dataset the warehouse cannot do without."""
    for name in REQUIRED_DATASETS:
        if not lake.list_silver(name):
            raise ContractError(
                f"{lake.url()}: no {name} in silver/: the warehouse needs {name} "
                "(every other dataset is optional)",
                f"deliver {expected_layout(DATASETS[name])} and run `shoplake ingest`",
                dataset=name,
            )


def output_log(artifacts: Path, args: Sequence[str]) -> Path:
    """Where the captured output of a quiet dbt command is kept: ``logs/<command>.out``."""
    command = "-".join(a for a in args[:2] if not a.startswith("-")) or "dbt"
    return artifacts / "logs" / f"{command}.out"


def _keep_output(artifacts: Path, args: Sequence[str], output: str) -> None:
    path = output_log(artifacts, args)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(output, "utf-8")


def _without_exit_noise(text: str) -> str:
    """dbt's stderr without the reference-leak report DuckDB's bindings print at exit."""
    lines = text.splitlines(keepends=True)
    return "".join(
        line
        for line in lines
        if not line.startswith(("nanobind:", " - leaked", " - ... skipped", "See https://nanobind"))
    )


_WRAPPER_LINE = re.compile(r"^(Runtime|Database|Compilation) Error in \w+ ")


def _node_error(message: str | None, status: str) -> str:
    """A failed node's one line: the reason, not dbt's "Runtime Error in model ..." line."""
    lines = [ln.strip() for ln in (message or "").splitlines() if ln.strip()]
    reasons = [ln for ln in lines if not _WRAPPER_LINE.match(ln)]
    return (reasons or lines or [status])[0][:300]


def _summarise(run: DbtRun, target: str, command: str, seconds: float) -> BuildResult:
    summary = BuildResult(target=target, command=command, seconds=seconds)
    results = run.run_results() or {}
    for node in results.get("results", []):
        status = str(node.get("status"))
        summary.statuses[status] = summary.statuses.get(status, 0) + 1
        name = node.get("unique_id", "?")
        if status in ("error", "fail", "runtime error"):
            summary.failures.append(f"{name}: {_node_error(node.get('message'), status)}")
        elif status == "warn":
            summary.warnings.append(name)
    if not run.success and not summary.failures:
        tail = [line for line in run.output.strip().splitlines() if line.strip()][-3:]
        summary.failures.append(" / ".join(tail) or f"dbt exited with code {run.returncode}")
    summary.run_results = run.target_path / "run_results.json"
    return summary


def stage_spectrum(lake: LakeLike, *, days_back: int = 3, artifacts: Path | None = None) -> None:
    """Redshift: create the external schema/tables and add recent day partitions."""
    from datetime import date, timedelta

    today = date.today()
    args = json.dumps(
        {"start_date": str(today - timedelta(days=days_back)), "end_date": str(today)}
    )
    run = run_dbt(
        ["run-operation", "stage_external_sources", "--args", args],
        lake,
        "prod",
        artifacts=artifacts,
    )
    if not run.success:
        raise WarehouseError(
            "staging the Spectrum external tables failed",
            "see the dbt output above",
            step="stage",
            target="prod",
        )


def build(
    lake: LakeLike,
    *,
    target: str = "dev",
    full_refresh: bool = False,
    select: Sequence[str] = (),
    exclude: Sequence[str] = (),
    duckdb_path: str | os.PathLike | None = None,
    postgres_dsn: str | None = None,
    pg_schema: str | None = None,
    load: bool = True,
    tests: bool = True,
    vars: dict | None = None,
    artifacts: Path | None = None,
    quiet: bool = False,
    state: str | os.PathLike | None = None,
    defer: bool = False,
    favor_state: bool = False,
    unit_tests: bool | None = None,
) -> BuildResult:
    """``dbt build`` of the warehouse for a lake; raises ShoplakeError when it fails.

    ``tests=False`` builds seeds and models only (benchmarks, comparison builds).
    ``state``/``defer``/``favor_state``: a slim build against another run's artifacts
    (:func:`state_args`).
    ``unit_tests`` (default: only when they have not passed yet for this very project,
    or with ``full_refresh``): the dbt unit tests check the models' SQL on fixed inputs,
    so they depend on the project's files alone, not on the lake's data.
    """
    slim = state_args(state, defer=defer, favor_state=favor_state)  # refused before any work
    env = dbt_env(
        lake, target, duckdb_path=duckdb_path, postgres_dsn=postgres_dsn, pg_schema=pg_schema
    )
    if target == "dev":
        Path(env["SHOPLAKE_DUCKDB_PATH"]).parent.mkdir(parents=True, exist_ok=True)
        check_warehouse_writable(Path(env["SHOPLAKE_DUCKDB_PATH"]))
    lake = _as_lake(lake)
    if target == "prod" and lake.is_local:
        raise ConfigError(
            f"the prod target reads the lake from S3, not {lake.url()!r}",
            "pass --lake s3://bucket/prefix (or set SHOPLAKE_LAKE)",
            setting="lake",
        )
    if target != "prod" and not lake.any(SILVER):
        raise WarehouseError(
            f"{lake.url()}: no silver/ zone to build from",
            "run `shoplake ingest` first",
            step="build",
        )
    if target != "prod":
        check_required_datasets(lake)
    # The warehouse is about to change: until a run records what this build consumed,
    # the next `shoplake run` builds (src/shoplake/build_state.py).
    out = artifacts or artifacts_dir(lake, target)
    consumed = build_state.fingerprints(lake, project_dir(), env, email_salt(target))
    changed_since = -1 if full_refresh else build_state.changed_since(out, consumed)
    build_state.forget(out, "build")
    project = build_state.project_hash(project_dir())
    if unit_tests is None:
        unit_tests = full_refresh or not build_state.up_to_date(out, "unit_tests", project)
    started = time.perf_counter()
    if target == "postgres" and load:
        from shoplake.pgload import load_postgres

        load_postgres(lake, postgres_target_dsn(postgres_dsn))
    if target == "prod":
        stage_spectrum(lake, artifacts=artifacts)
    args = ["build"]
    if full_refresh:
        args.append("--full-refresh")
    for s in select:
        args += ["--select", s]
    for s in exclude:
        args += ["--exclude", s]
    if not tests:  # models and seeds only (benchmarks, comparison builds)
        args += ["--exclude-resource-type", "test", "--exclude-resource-type", "unit_test"]
    elif not unit_tests:  # passed already for these very files
        args += ["--exclude-resource-type", "unit_test"]
    if vars:
        args += ["--vars", json.dumps(vars)]
    args += slim
    # The data tests scoped to the rows a build changed read this (macros/test_scope.sql).
    run_env = {**env, build_state.CHANGED_SINCE_ENV: str(changed_since)}
    run = run_dbt(args, lake, target, env=run_env, artifacts=artifacts, quiet=quiet)
    summary = _summarise(run, target, "build", time.perf_counter() - started)
    if not run.success or summary.failures:
        raise build_failure(run, summary, args, out, quiet)
    if tests and not select and not exclude and not slim:  # the whole warehouse, tested
        build_state.record_build(out, consumed)
        if unit_tests:
            build_state.record(out, "unit_tests", project)
    return summary


def state_args(
    state: str | os.PathLike | None, *, defer: bool = False, favor_state: bool = False
) -> list[str]:
    """dbt's arguments of a slim build: ``--state DIR`` (the manifest.json that
    ``state:modified`` compares with, e.g. pulled by ``shoplake artifacts pull``), and
    with ``defer`` the refs to unselected models read that run's relations."""
    if state is None:
        if defer or favor_state:
            raise ConfigError(
                "--defer and --favor-state need --state DIR",
                "pass --state with production's artifacts (`shoplake artifacts pull`)",
                setting="state",
            )
        return []
    manifest = Path(state) / "manifest.json"
    if not manifest.is_file():
        raise ConfigError(
            f"no manifest.json in the --state directory {state}",
            "pull production's artifacts into it first: `shoplake artifacts pull --to DIR`",
            setting="state",
        )
    args = ["--state", str(Path(state).resolve())]
    if defer:
        args.append("--defer")
    if favor_state:
        args.append("--favor-state")
    return args


#: Failing nodes named in a build's one-line error (the rest are counted).
FAILURES_SHOWN = 3


#: Seconds a build waits for a short-lived reader of the warehouse (``shoplake sql``
#: copying its snapshot, the dashboard reading it) before naming the holder.
LOCK_GRACE_S = 3.0


def check_warehouse_writable(path: Path) -> None:
    """Fail in one line, before dbt starts, if another process holds the DuckDB file
    (a reader too: DuckDB lets no writer in while any connection is open)."""
    import duckdb

    if not path.is_file():
        return
    deadline = time.monotonic() + LOCK_GRACE_S
    while True:
        try:
            duckdb.connect(str(path)).close()
            return
        except duckdb.Error as exc:
            conflict = warehouse_lock_conflict(str(exc))
            if conflict is None:
                raise
            if time.monotonic() >= deadline:
                raise conflict from exc
        time.sleep(0.2)


def build_failure(
    run: DbtRun, summary: BuildResult, args: Sequence[str], artifacts: Path, quiet: bool
) -> ShoplakeError:
    """One line for a failed dbt build: the lock conflict if that was it, else the
    failing nodes' first lines; the full output stays in the log file."""
    where = output_log(artifacts, args) if quiet else artifacts / "logs"
    conflict = warehouse_lock_conflict(run.output)
    if conflict is not None:
        conflict.hint += f"; dbt's output: {where}"
        return conflict
    failures = summary.failures
    detail = "; ".join(failures[:FAILURES_SHOWN]) or "dbt reported a failure"
    if len(failures) > FAILURES_SHOWN:
        detail += f" (and {len(failures) - FAILURES_SHOWN} more)"
    return WarehouseError(
        f"dbt {args[0]} --target {summary.target} failed: {one_line(detail)}",
        f"dbt's full output: {where}",
        step=args[0],
        target=summary.target,
    )


def docs_generate(lake: LakeLike, *, target: str = "dev", quiet: bool = False, **kw) -> Path:
    """``dbt docs generate``; returns the directory holding index.html."""
    env = dbt_env(lake, target, **kw)
    args = ["docs", "generate"]
    run = run_dbt(args, lake, target, env=env, quiet=quiet)
    if not run.success:
        raise _command_failure(run, args, artifacts_dir(lake, target), quiet, "see dbt's output")
    return artifacts_dir(lake, target) / "target"


def freshness_args(lake: LakeLike) -> list[str]:
    """``dbt source freshness`` over the datasets the lake has silver files for: a dataset
    the shop does not deliver reads as empty (:func:`empty_sources`), and is not stale."""
    lake = _as_lake(lake)
    delivered = [name for name in DATASETS if lake.list_silver(name)]
    selection = [f"source:{SOURCE_NAME}.{name}" for name in delivered]
    return ["source", "freshness", *(["--select", *selection] if selection else [])]


def source_freshness(lake: LakeLike, *, target: str = "dev", quiet: bool = False, **kw) -> Path:
    """``dbt source freshness`` (ingested_at of every delivered silver table); returns
    sources.json."""
    env = dbt_env(lake, target, **kw)
    args = freshness_args(lake)
    run = run_dbt(args, lake, target, env=env, quiet=quiet)
    if not run.success:
        raise _command_failure(
            run, args, artifacts_dir(lake, target), quiet, "run `shoplake ingest`, or see"
        )
    return run.target_path / "sources.json"


def _command_failure(
    run: DbtRun, args: Sequence[str], artifacts: Path, quiet: bool, hint: str
) -> ShoplakeError:
    """One line for a failed dbt command other than build (its last error line)."""
    where = output_log(artifacts, args) if quiet else artifacts / "logs"
    conflict = warehouse_lock_conflict(run.output)
    if conflict is not None:
        conflict.hint += f"; dbt's output: {where}"
        return conflict
    errors = [ln for ln in run.output.splitlines() if "error" in ln.lower() and ln.strip()]
    detail = one_line(errors[-1])[:300] if errors else f"exit code {run.returncode}"
    return WarehouseError(
        f"dbt {' '.join(args)} failed: {detail}", f"{hint} {where}", step=args[0] if args else None
    )


@contextlib.contextmanager
def open_read_only(path: Path) -> Iterator:
    """A read-only DuckDB connection to a warehouse file; clear errors when it is missing
    or a build holds it open for writing."""
    import duckdb

    if not path.is_file():
        raise WarehouseError(
            f"no warehouse at {path}", "run `shoplake build` (or `shoplake run`) first", step="read"
        )
    try:
        con = duckdb.connect(str(path), read_only=True)
    except duckdb.Error as exc:
        conflict = warehouse_lock_conflict(str(exc))
        if conflict is not None:
            conflict.hint = "a build is writing it: try again when it has finished"
            raise conflict from exc
        raise WarehouseError(
            f"cannot open the warehouse {path} read-only: {str(exc).splitlines()[0]}",
            "if a build is writing it, try again when it has finished",
            step="read",
        ) from exc
    try:
        yield con
    finally:
        con.close()
