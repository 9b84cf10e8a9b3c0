"""The ``shoplake`` command line: options in, one call into a core module, a report out."""

from __future__ import annotations

import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer

from shoplake import __version__
from shoplake.config import apply_umask, load_settings
from shoplake.errors import (
    ConfigError,
    IngestError,
    LakeNotFoundError,
    StorageError,
    WarehouseError,
    one_line,
    redact,
    register_secret,
    translate,
)
from shoplake.lake import Lake
from shoplake.pipeline import STEPS
from shoplake.report import Console, Report
from shoplake.serve import DEFAULT_HOST, DEFAULT_PORT

app = typer.Typer(
    name="shoplake",
    help="An e-commerce analytics warehouse as code: raw files -> Parquet lake -> dbt marts.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    add_completion=False,
)
extract_app = typer.Typer(help="Copy data out of source systems into raw/.", no_args_is_help=True)
app.add_typer(extract_app, name="extract")

#: ``debug``: --debug was given; ``where``: the lake the command works on (for errors).
_state: dict = {"debug": False, "where": None}

LakeOption = Annotated[
    str | None,
    typer.Option(
        "--lake",
        help="Lake root: a directory or s3://bucket/prefix (AWS credentials and endpoint "
        "from the standard AWS chain). Default: SHOPLAKE_LAKE, then shoplake.toml, then ./lake.",
        show_default=False,
    ),
]
DsnOption = Annotated[
    str | None,
    typer.Option(
        "--postgres-dsn",
        help="PostgreSQL connection string (libpq DSN or URL). Default: SHOPLAKE_POSTGRES_DSN.",
        show_default=False,
    ),
]

WaitOption = Annotated[
    bool,
    typer.Option("--wait", help="If another run holds the lake, wait for it instead of exiting."),
]
FullRefreshOption = Annotated[
    bool, typer.Option("--full-refresh", help="Rebuild the incremental facts from scratch.")
]
DuckdbPathOption = Annotated[
    str | None,
    typer.Option(
        help="DuckDB warehouse file of the dev target. Default: SHOPLAKE_DUCKDB_PATH, then "
        "<lake>/warehouse.duckdb (for an s3:// lake, in its local directory).",
        show_default=False,
    ),
]


def _lake(option: str | None) -> Lake:
    settings = load_settings()
    lake = Lake.at(option or settings.lake, raw=settings.raw)
    _state["where"] = lake.url()
    return lake


#: What makes a location a lake: any of these in its root.
LAKE_MARKERS = ("raw", "silver", "quarantine", "_state", "warehouse.duckdb")


def _existing_lake(option: str | None) -> Lake:
    """The lake of a command that reads one (ingest, build, status, dashboard): a path
    with no lake is one line, and nothing is created there (a typo in --lake)."""
    lake = _lake(option)
    raw_elsewhere = lake.raw_store is not None
    if lake.is_local:
        found = lake.root.is_dir() and any((lake.root / m).exists() for m in LAKE_MARKERS)
    else:
        found = any(lake.any(m) for m in LAKE_MARKERS if m != "warehouse.duckdb")
    if not found and raw_elsewhere:
        found = lake.any("raw")  # a first ingest from a separate raw location
    if found:
        return lake
    if lake.is_local and not lake.root.exists():
        what = f"no lake at {lake.root}: the directory does not exist"
    elif lake.is_local:
        what = f"{lake.root} is not a lake: it has no {', '.join(LAKE_MARKERS[:-1])}"
    else:
        what = f"no lake at {lake.url()}: nothing under it"
    raise LakeNotFoundError(
        what,
        "check --lake / SHOPLAKE_LAKE (nothing was created); deliver raw files under "
        "<lake>/raw/ or make a demo lake with `shoplake generate --lake PATH`",
    )


def _dsn(option: str | None) -> str | None:
    """The PostgreSQL DSN of a command (option, then settings); never shown in an error."""
    dsn = option or load_settings().postgres_dsn
    register_secret(dsn)
    return dsn


def _version(value: bool) -> None:
    if value:
        typer.echo(f"shoplake {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    debug: Annotated[
        bool,
        typer.Option(
            "--debug",
            help="Show the full traceback of an error instead of its one line. Accepted "
            "anywhere on the command line, with every command.",
        ),
    ] = False,
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
) -> None:
    _state["debug"] = _state["debug"] or debug


def calendar_day(text: str) -> datetime:
    """A YYYY-MM-DD option value; an impossible day says why, not just "bad format"."""
    import calendar
    import re

    match = re.fullmatch(r"(\d{4})-(\d{2})-(\d{2})", text.strip())
    if not match:
        raise typer.BadParameter(f"{text!r} is not a day written as YYYY-MM-DD")
    year, month, day = (int(g) for g in match.groups())
    if year < 1:
        raise typer.BadParameter(f"{text}: years start at 0001")
    if not 1 <= month <= 12:
        raise typer.BadParameter(f"{text}: there is no month {month}")
    last = calendar.monthrange(year, month)[1]
    if not 1 <= day <= last:
        raise typer.BadParameter(
            f"{text} is not a calendar day: {calendar.month_name[month]} {year} has {last} days"
        )
    return datetime(year, month, day)


@app.command()
def generate(
    start: Annotated[
        datetime,
        typer.Option(
            parser=calendar_day,
            metavar="YYYY-MM-DD",
            help="First business day to generate (YYYY-MM-DD).",
        ),
    ],
    days: Annotated[int, typer.Option(min=1, help="Number of days to generate.")] = 30,
    orders_per_day: Annotated[
        int | None,
        typer.Option(
            min=1, help="Average orders per day (default 200); clickstream volume scales with it."
        ),
    ] = None,
    events: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="About this many clickstream events over the --days: sets --orders-per-day "
            "(every other dataset in proportion).",
        ),
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="Processes writing the datasets and days at once (default: one per CPU; "
            "the files are the same for any number).",
        ),
    ] = None,
    seed: Annotated[int, typer.Option(help="Random seed: same seed, same files.")] = 42,
    faults: Annotated[
        bool,
        typer.Option(
            "--faults",
            help="Mix in every kind of bad input the raw contract lists (counted in the report).",
        ),
    ] = False,
    postgres_dsn: DsnOption = None,
    lake: LakeOption = None,
) -> None:
    """Write realistic raw data (orders, sales, payments, customers, products, clickstream).

    Without --postgres-dsn the product catalog is dropped as CSV under raw/products/;
    with it, the catalog is loaded into PostgreSQL for `shoplake extract products`.
    --events N asks for a volume instead of --orders-per-day: about N clickstream events
    (each order comes with about 86, counting the visits that did not buy).
    """
    from shoplake.generate import generate as run_generate
    from shoplake.generate import orders_per_day_for

    settings = load_settings()
    if events is not None and orders_per_day is not None:
        raise ConfigError(
            "--orders-per-day and --events both set the volume",
            "give one of them",
            setting="--events",
        )
    if events is not None:
        orders_per_day = orders_per_day_for(events, days)
    report = run_generate(
        _lake(lake),
        start=start.date(),
        days=days,
        orders_per_day=orders_per_day or 200,
        workers=workers,
        seed=seed,
        faults=faults,
        postgres_dsn=_dsn(postgres_dsn),
        products_table=settings.products_table,
    )
    Console().print_report(report.as_report())


@extract_app.command("products")
def extract_products(
    postgres_dsn: DsnOption = None,
    table: Annotated[
        str | None,
        typer.Option(help="Source table. Default: SHOPLAKE_PRODUCTS_TABLE or public.products."),
    ] = None,
    safety_lag: Annotated[
        float,
        typer.Option(
            min=0,
            help="Seconds: only copy rows with updated_at at least this old (server clock), "
            "so that rows of transactions still in flight are not skipped.",
        ),
    ] = 5.0,
    lake: LakeOption = None,
) -> None:
    """Copy new and changed products (by updated_at watermark) into raw/products/.

    Rows stamped at the same instant as the watermark are never lost; a crash between
    writing the file and saving the watermark only re-delivers rows (ingest counts them
    as duplicates).
    """
    from shoplake.extract import extract_products as run_extract

    settings = load_settings()
    dsn = _dsn(postgres_dsn)
    if not dsn:
        raise ConfigError(
            "no PostgreSQL DSN given",
            "pass --postgres-dsn or set SHOPLAKE_POSTGRES_DSN",
            setting="postgres_dsn",
        )
    report = run_extract(
        _lake(lake),
        dsn,
        table or settings.products_table,
        safety_lag=timedelta(seconds=safety_lag),
    )
    Console().print_report(report.as_report())


@app.command()
def ingest(
    wait: WaitOption = False,
    lake: LakeOption = None,
    engine: Annotated[
        str | None,
        typer.Option(
            "--engine",
            help="duckdb (one process) or spark (PySpark: the `spark` extra and Java; local "
            "or s3:// lakes). Both give the same lake and may take turns. Default: "
            "SHOPLAKE_ENGINE, "
            "then `engine` in shoplake.toml, then duckdb.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Raw -> silver: validate, type, de-duplicate, quarantine and publish partitions.

    Only new or changed raw files are read. Prints read = written + quarantined +
    duplicates per dataset; the run log is kept under _state/runs/. On an s3:// lake with
    SHOPLAKE_GLUE_DATABASE set, the new partitions are then registered in that Glue
    database (Athena and Redshift Spectrum see them at once). With --engine spark the
    same contract runs on PySpark (SHOPLAKE_SPARK_MASTER, default local[*]).
    """
    from shoplake.ingest import run_ingest

    console = Console()
    the_lake = _existing_lake(lake)
    with console.progress() as progress:
        report = run_ingest(the_lake, wait=wait, progress=progress, engine=engine)
    console.print_report(report.as_report())
    if not report.balanced:
        raise IngestError(
            "ingest accounting does not balance (read != written + quarantined + duplicates)",
            "this is a bug in shoplake: please report it with the run log",
        )
    if not the_lake.is_local:
        from shoplake.aws.catalog import sync_if_configured

        synced = sync_if_configured(the_lake)
        if synced is not None:
            console.print_report(synced.as_report())


@app.command()
def build(
    target: Annotated[
        str,
        typer.Option(
            help="dbt target: dev (DuckDB in the lake), postgres (loads silver into the "
            "`lake` schema first; --postgres-dsn, else SHOPLAKE_PG_HOST/PORT/USER/PASSWORD/"
            "DBNAME) or prod (Redshift with Spectrum sources)."
        ),
    ] = "dev",
    full_refresh: FullRefreshOption = False,
    select: Annotated[
        list[str] | None,
        typer.Option(help="dbt node selection, passed to `dbt build --select` (repeatable)."),
    ] = None,
    state: Annotated[
        Path | None,
        typer.Option(
            help="Directory with another run's manifest.json (`shoplake artifacts pull`): "
            "`--select state:modified+` builds what changed since that run.",
            show_default=False,
        ),
    ] = None,
    defer: Annotated[
        bool,
        typer.Option(
            "--defer",
            help="With --state: refs to models not selected read that run's relations "
            "(on DuckDB its file, SHOPLAKE_DEFER_DUCKDB; see docs/ci.md).",
        ),
    ] = False,
    favor_state: Annotated[
        bool,
        typer.Option(
            "--favor-state",
            help="With --defer: read the state's relations even where this target has its own.",
        ),
    ] = False,
    wait: WaitOption = False,
    duckdb_path: DuckdbPathOption = None,
    postgres_dsn: DsnOption = None,
    lake: LakeOption = None,
) -> None:
    """Build the warehouse with dbt (staging, marts, gold) and run every test.

    Writes a temporary dbt profile from profiles.yml.example, so no profile needs
    editing; dbt's artifacts and logs go to <lake>/_state/dbt/<target>/ (for an s3://
    lake: .shoplake/s3/<bucket>/<prefix>/_state/dbt/<target>/ under SHOPLAKE_LOCAL_DIR or
    the current directory), dbt's output to logs/build.out there: a failure is one line
    naming the failing nodes and that file. Incremental facts pick up late records and
    status changes since the last build. Only orders must be delivered: a dataset with
    no silver files reads as empty (see docs/operate.md for which marts need which), a
    lake without orders is refused in one line. A build holds the lake's build lock (as
    `shoplake run` does): a second build exits at once (or waits, with --wait); a
    warehouse held open by another process is named in one line. A slim build (a pull
    request's CI): `--select state:modified+ --state DIR --defer` (docs/ci.md).
    """
    from shoplake.ingest.transaction import lake_lock
    from shoplake.warehouse import BUILD_LOCK
    from shoplake.warehouse import build as run_build

    the_lake = _existing_lake(lake)
    with lake_lock(the_lake, BUILD_LOCK, wait):
        result = run_build(
            the_lake,
            target=target,
            full_refresh=full_refresh,
            select=select or (),
            duckdb_path=duckdb_path,
            postgres_dsn=_dsn(postgres_dsn),
            quiet=True,
            state=state,
            defer=defer,
            favor_state=favor_state,
        )
    Console().print_report(result.as_report())


@app.command()
def publish(
    target: Annotated[
        str,
        typer.Option(
            help="Where the marts come from: dev (the DuckDB warehouse) or prod (Redshift, "
            "by UNLOAD into the lake; needs SHOPLAKE_REDSHIFT_UNLOAD_ROLE)."
        ),
    ] = "dev",
    wait: WaitOption = False,
    duckdb_path: DuckdbPathOption = None,
    lake: LakeOption = None,
) -> None:
    """Publish the gold marts to <lake>/gold/<mart>/ as Snappy Parquet, Hive-partitioned by
    month=YYYY-MM and region=<region> where the mart has them (the `publish` step of
    `shoplake run`).

    Crash-safe like silver: readers see each partition old or new, never half; only
    partitions whose rows changed are rewritten (a second publish writes nothing). On an
    s3:// lake with SHOPLAKE_GLUE_DATABASE set, each mart is also a Glue table with its
    partitions, so the Athena named queries run on them.
    """
    from shoplake.gold import publish as publish_gold

    report = publish_gold(_existing_lake(lake), target=target, duckdb_path=duckdb_path, wait=wait)
    Console().print_report(report.as_report())


@app.command()
def maintain(
    target: Annotated[
        str, typer.Option(help="Warehouse to keep up: dev (DuckDB), postgres or prod (Redshift).")
    ] = "dev",
    wait: WaitOption = False,
    duckdb_path: DuckdbPathOption = None,
    postgres_dsn: DsnOption = None,
    lake: LakeOption = None,
) -> None:
    """Warehouse upkeep, weekly: VACUUM FULL and ANALYZE of each mart table on prod
    (Redshift; one statement at a time, outside any transaction), ANALYZE on postgres,
    ANALYZE and CHECKPOINT on dev (DuckDB). Holds the lake's build lock."""
    from shoplake.maintain import maintain as run_maintain

    report = run_maintain(
        _existing_lake(lake),
        target=target,
        duckdb_path=duckdb_path,
        postgres_dsn=_dsn(postgres_dsn),
        wait=wait,
        say=lambda line: typer.echo(line, err=True),
    )
    Console().print_report(report.as_report())


@app.command("run")
def run_daily(
    target: Annotated[
        str, typer.Option(help="dbt target of the build step: dev, postgres or prod.")
    ] = "dev",
    from_step: Annotated[
        str | None,
        typer.Option(
            "--from",
            help=f"Start at this step (resume after a failure): {', '.join(STEPS)}.",
            show_default=False,
        ),
    ] = None,
    to_step: Annotated[
        str | None,
        typer.Option("--to", help="Stop after this step.", show_default=False),
    ] = None,
    only: Annotated[
        str | None,
        typer.Option(
            "--only", help="Run just this step (one scheduler task per step).", show_default=False
        ),
    ] = None,
    run_id: Annotated[
        str | None,
        typer.Option(
            "--run-id",
            help="Name of the run. A run of that name recorded before is continued: a "
            "scheduler running one task per step passes the same id to every task.",
            show_default=False,
        ),
    ] = None,
    full_refresh: FullRefreshOption = False,
    wait: WaitOption = False,
    duckdb_path: DuckdbPathOption = None,
    postgres_dsn: DsnOption = None,
    lake: LakeOption = None,
) -> None:
    """The daily job: extract (if a DSN is configured), ingest, Glue catalog (S3 lakes), source
    freshness, dbt build, publish (gold to the lake), docs, dashboard.

    Each step is timed and reported; a failing step stops the run with exit code 1 and
    says how to resume (--from STEP). Stale sources, raw files that match no dataset's
    layout and a dataset's quarantine rate above quarantine_threshold (default 1%;
    SHOPLAKE_QUARANTINE_THRESHOLD) are reported, not fatal: the run ends `warn`. Every run is
    recorded in the warehouse (schema shoplake_ops; see `shoplake status`). A run holds the
    lake's run lock: a second run started meanwhile exits at once (or waits, with --wait).
    The build is skipped when nothing it reads moved since the last successful build (no new
    ingest batch, silver, project, settings or day), and the docs when the project did not
    change; the step says why (--full-refresh always builds).
    When it ends, what went wrong is sent once to SHOPLAKE_NOTIFY_WEBHOOK and/or
    SHOPLAKE_NOTIFY_SNS_TOPIC, if set (never failing the run).
    """
    from shoplake.pipeline import RunOptions, as_report, run_pipeline

    if only and (from_step or to_step):
        raise ConfigError(
            "--only cannot be combined with --from/--to", "use one or the other", setting="only"
        )
    settings = load_settings()
    record = run_pipeline(
        _lake(lake),
        RunOptions(
            target=target,
            postgres_dsn=_dsn(postgres_dsn),
            products_table=settings.products_table,
            duckdb_path=duckdb_path,
            full_refresh=full_refresh,
            wait=wait,
        ),
        from_step=only or from_step,
        to_step=only or to_step,
        run_id=run_id,
        say=lambda line: typer.echo(line, err=True),
    )
    Console().print_report(as_report(record))


@app.command()
def status(
    limit: Annotated[int, typer.Option(min=1, help="How many runs to show.")] = 10,
    tests: Annotated[
        bool,
        typer.Option(
            "--tests",
            help="Instead: the tests that failed or warned in the newest run with tests, "
            "each with where its failing rows are stored and the first of them.",
        ),
    ] = False,
    duckdb_path: DuckdbPathOption = None,
    lake: LakeOption = None,
) -> None:
    """The last runs of `shoplake run`: status (success, warn, failed, ...), step timings,
    quarantined records, tests and stale sources (from the warehouse's shoplake_ops
    tables). A run recorded as running whose process is gone (killed) is shown as
    abandoned."""
    from shoplake.history import last_runs_duckdb
    from shoplake.pipeline import abandoned, run_lock_is_held
    from shoplake.warehouse import dbt_env

    the_lake = _existing_lake(lake)
    path = dbt_env(the_lake, "dev", duckdb_path=duckdb_path)["SHOPLAKE_DUCKDB_PATH"]
    if tests:
        _status_tests(Path(path))
        return
    runs = last_runs_duckdb(Path(path), limit)
    if not runs:
        typer.echo(f"no runs recorded yet in {path}: run `shoplake run`")
        return
    # a run still `running` whose process is gone is shown as what it is
    dead = {r.run_id for r in abandoned(runs[::-1], lock_held=run_lock_is_held(the_lake))}
    rows = [
        (
            r.run_id,
            f"{r.started_at:%Y-%m-%d %H:%M:%S}",
            ("abandoned" if r.run_id in dead else r.status)
            + (f" at {r.failed_step}" if r.failed_step else ""),
            round(r.seconds, 1) if r.seconds is not None else None,
            " ".join(f"{step}={secs:.0f}s" for step, st, secs in r.steps if secs is not None),
            r.quarantined,
            f"{r.tests_passed}/{r.tests_total}",
            r.stale_sources,
        )
        for r in runs
    ]
    Console().print_report(
        Report(
            title=f"last {len(rows)} runs ({path})",
            columns=(
                "run",
                "started (UTC)",
                "status",
                "seconds",
                "steps",
                "quarantined",
                "tests passed",
                "stale sources",
            ),
            rows=rows,
        )
    )


def _status_tests(path: Path) -> None:
    """`shoplake status --tests`: failing tests of the newest run, with their first rows."""
    from shoplake.history import failing_tests_duckdb

    failing = failing_tests_duckdb(path)
    if not failing:
        typer.echo(f"no failing or warning tests in the newest recorded run ({path})")
        return
    console = Console()
    typer.echo(f"run {failing[0].run_id}: {len(failing)} test(s) failed or warned")
    for test in failing:
        count = "" if test.failures is None else f", {test.failures:,} failing row(s)"
        where = f", stored in {test.relation}" if test.relation else ""
        notes = [test.message] if test.message and not test.rows else []
        console.print_report(
            Report(
                title=f"{test.status}: {test.name}{count}{where}",
                columns=tuple(test.columns) or ("message",),
                rows=[tuple(r) for r in test.rows],
                notes=notes,
            )
        )


@app.command("sql")
def sql_command(
    command: Annotated[
        list[str] | None,
        typer.Option(
            "--command",
            "-c",
            help="SQL to run (repeatable; several statements separated by ';' are fine).",
            show_default=False,
        ),
    ] = None,
    file: Annotated[
        Path | None,
        typer.Option("--file", help="A file of SQL statements to run.", show_default=False),
    ] = None,
    tables: Annotated[
        bool, typer.Option("--tables", help="List the warehouse's tables and views.")
    ] = False,
    as_csv: Annotated[
        bool,
        typer.Option("--csv", help="Print results as CSV (every row) instead of tables."),
    ] = False,
    duckdb_path: DuckdbPathOption = None,
    lake: LakeOption = None,
) -> None:
    """Query the DuckDB warehouse read-only, without ever blocking a build.

    With -c or --file: run the statements and print each result. Without them: an
    interactive prompt (statements end with ';'; .tables, .refresh, .quit), or the SQL
    read from standard input when it is not a terminal. The warehouse is copied to a
    private temporary snapshot (its lock held only while copying) and the snapshot is
    queried, so a build or a run can write the warehouse meanwhile.
    """
    from shoplake import sqlshell
    from shoplake.warehouse import dbt_env

    path = Path(dbt_env(_lake(lake), "dev", duckdb_path=duckdb_path)["SHOPLAKE_DUCKDB_PATH"])
    console = Console()

    def show(report: Report) -> None:
        if as_csv:
            sqlshell.write_csv(sys.stdout, list(report.columns), list(report.rows))
        else:
            console.print_report(report)

    scripts = list(command or [])
    if file is not None:
        try:
            scripts.append(file.read_text("utf-8"))
        except OSError as exc:
            raise ConfigError(
                f"cannot read {file}: {exc.strerror}", "check --file", setting="file"
            ) from exc
    if not scripts and not tables and sys.stdin.isatty():

        def read(prompt: str) -> str:
            return input(prompt)

        sqlshell.prompt(lambda: sqlshell.snapshot(path), read, show, typer.echo)
        return
    if not scripts and not tables:
        scripts.append(sys.stdin.read())
    with sqlshell.snapshot(path) as con:
        if tables:
            show(sqlshell.tables(con))
        for script in scripts:
            for statement, columns, rows in sqlshell.run_script(con, script):
                if as_csv:
                    sqlshell.write_csv(sys.stdout, columns, rows)
                else:
                    console.print_report(sqlshell.as_report(statement, columns, rows))


# --- metrics (the semantic layer) --------------------------------------------------------
metrics_app = typer.Typer(
    help="The semantic layer (MetricFlow): metrics defined once in models/semantic/.",
    no_args_is_help=True,
)
app.add_typer(metrics_app, name="metrics")
MetricsTargetOption = Annotated[
    str,
    typer.Option(
        help="Warehouse to query: dev (DuckDB in the lake), postgres (--postgres-dsn, else "
        "SHOPLAKE_PG_*) or prod (Redshift, SHOPLAKE_REDSHIFT_*)."
    ),
]


def _comma_list(values: list[str] | None) -> list[str]:
    return [v.strip() for value in values or [] for v in value.split(",") if v.strip()]


@metrics_app.command("list")
def metrics_list(
    target: MetricsTargetOption = "dev",
    duckdb_path: DuckdbPathOption = None,
    postgres_dsn: DsnOption = None,
    lake: LakeOption = None,
) -> None:
    """The metrics (name, type, label, definition) and saved queries of the semantic layer."""
    from shoplake import metrics

    manifest = _semantic_manifest(target, duckdb_path, postgres_dsn, lake)
    Console().print_report(metrics.list_metrics(manifest))


def _semantic_manifest(
    target: str, duckdb_path: str | None, postgres_dsn: str | None, lake: str | None
) -> Path:
    """The semantic manifest of the lake's project for ``target`` (parsed if out of date)."""
    from shoplake import metrics
    from shoplake.warehouse import dbt_env

    the_lake = _lake(lake)
    env = dbt_env(the_lake, target, duckdb_path=duckdb_path, postgres_dsn=_dsn(postgres_dsn))
    return metrics.semantic_manifest(the_lake, target, env=env)


@metrics_app.command("validate")
def metrics_validate(
    target: MetricsTargetOption = "dev",
    duckdb_path: DuckdbPathOption = None,
    postgres_dsn: DsnOption = None,
    lake: LakeOption = None,
) -> None:
    """Check the semantic models, metrics and saved queries with MetricFlow's validator."""
    from shoplake import metrics

    manifest = _semantic_manifest(target, duckdb_path, postgres_dsn, lake)
    issues = metrics.validate(manifest)
    if issues:
        raise WarehouseError(
            f"the semantic layer has {len(issues)} blocking issue(s): {one_line(issues[0])}",
            "fix models/semantic/ (or the marts' YAML it refers to)",
            step="metrics",
            target=target,
        )
    typer.echo(f"semantic layer valid ({manifest})")


@metrics_app.command("query")
def metrics_query(
    metric_names: Annotated[
        list[str] | None,
        typer.Option(
            "--metrics", help="Metrics, comma-separated (repeatable).", show_default=False
        ),
    ] = None,
    group_by: Annotated[
        list[str] | None,
        typer.Option(
            help="Group-by items, comma-separated (repeatable): metric_time__day, "
            "country__region, order__channel, customer__segment, product__category, "
            "payment__method, payment__status, ...",
            show_default=False,
        ),
    ] = None,
    where: Annotated[
        list[str] | None,
        typer.Option(
            help="A MetricFlow filter (repeatable), e.g. "
            "\"{{ Dimension('country__region') }} = 'europe'\".",
            show_default=False,
        ),
    ] = None,
    order: Annotated[
        list[str] | None,
        typer.Option(
            help="Order by these metrics or group-by items, comma-separated; '-' in front "
            "sorts descending.",
            show_default=False,
        ),
    ] = None,
    limit: Annotated[int | None, typer.Option(min=1, help="At most this many rows.")] = None,
    saved_query: Annotated[
        str | None,
        typer.Option(help="Run a saved query (see `shoplake metrics list`).", show_default=False),
    ] = None,
    csv_file: Annotated[
        Path | None,
        typer.Option("--csv", help="Write every row to this CSV file.", show_default=False),
    ] = None,
    explain: Annotated[
        bool,
        typer.Option(
            "--explain",
            help="Print the SQL MetricFlow would send to the target's warehouse, in its "
            "dialect, without running it (no connection is opened).",
        ),
    ] = False,
    target: MetricsTargetOption = "dev",
    duckdb_path: DuckdbPathOption = None,
    postgres_dsn: DsnOption = None,
    lake: LakeOption = None,
) -> None:
    """Query metrics through MetricFlow against the lake's warehouse (same temporary
    profile as `shoplake build`; dev reads a private copy of the DuckDB file)."""
    from shoplake import metrics, sqlshell

    request = metrics.MetricQuery(
        metrics=_comma_list(metric_names),
        group_by=_comma_list(group_by),
        where=list(where or []),
        order=_comma_list(order),
        limit=limit,
        saved_query=saved_query,
        explain=explain,
    )
    result = metrics.query(
        _existing_lake(lake),
        request,
        target=target,
        duckdb_path=duckdb_path,
        postgres_dsn=_dsn(postgres_dsn),
    )
    if explain:
        typer.echo(result.sql.strip())
        return
    if csv_file is not None:
        try:
            with csv_file.open("w", encoding="utf-8", newline="") as stream:
                sqlshell.write_csv(stream, result.columns, result.rows)
        except OSError as exc:
            raise StorageError(
                f"cannot write {csv_file}: {exc.strerror}", "check --csv", location=str(csv_file)
            ) from exc
        typer.echo(f"{len(result.rows):,} row(s) written to {csv_file}")
        return
    title = saved_query or ", ".join(request.metrics)
    Console().print_report(result.as_report(f"{title} ({len(result.rows):,} rows, {target})"))


# --- quarantine ---------------------------------------------------------------------------
quarantine_app = typer.Typer(add_completion=False)
app.add_typer(quarantine_app, name="quarantine")
QuarantineDatasetOption = Annotated[
    str | None,
    typer.Option("--dataset", help="Only this dataset (orders, sales, ...).", show_default=False),
]
QuarantineRunOption = Annotated[
    str | None,
    typer.Option(
        "--run", help="Only what this ingest run (its run id) quarantined.", show_default=False
    ),
]


@quarantine_app.callback(invoke_without_command=True)
def quarantine_list(
    ctx: typer.Context,
    dataset: QuarantineDatasetOption = None,
    run: QuarantineRunOption = None,
    reason: Annotated[
        str | None,
        typer.Option(help="Only records breaking this rule (a reason code).", show_default=False),
    ] = None,
    samples: Annotated[
        int, typer.Option(min=0, help="Sample records shown per dataset (0: none).")
    ] = 5,
    show_all: Annotated[
        bool,
        typer.Option("--all", help="Samples include records already replayed or superseded."),
    ] = False,
    export: Annotated[
        Path | None,
        typer.Option(
            help="Write every matching quarantined record (with its status) to this file: "
            "CSV or Parquet, by its extension (.csv, .parquet).",
            show_default=False,
        ),
    ] = None,
    lake: LakeOption = None,
) -> None:
    """What ingest rejected: counts by dataset, day, reason and field, and sample records
    with their raw text and every rule they break.

    A record counts under the first rule it breaks. Records moved to silver by `shoplake
    quarantine replay` are counted as replayed, records whose raw file was delivered and
    read again as superseded; the quarantine files themselves are never changed.
    """
    if ctx.invoked_subcommand is not None:
        return
    from shoplake import quarantine

    the_lake = _existing_lake(lake)
    if export is not None:
        n = quarantine.export_quarantine(the_lake, export, dataset=dataset, run=run, reason=reason)
        typer.echo(f"{n:,} quarantined record(s) written to {export}")
        return
    listing = quarantine.list_quarantine(
        the_lake,
        dataset=dataset,
        run=run,
        reason=reason,
        samples=samples,
        include_resolved=show_all,
    )
    Console().print_report(listing.as_report())
    for sample in listing.samples:
        for line in sample.lines():
            typer.echo(line)


@quarantine_app.command("replay")
def quarantine_replay(
    dataset: QuarantineDatasetOption = None,
    run: QuarantineRunOption = None,
    wait: WaitOption = False,
    lake: LakeOption = None,
) -> None:
    """Validate the quarantined records again (after an upstream fix or a contract change)
    and move those that now pass into silver.

    Whole quarantined files are read again from raw/ if they are still there. Each record
    is moved once: the replay ledger under _state/quarantine/replays/ records what moved
    (with the replay's log), so a second replay moves nothing. Records that still break
    a rule stay quarantined. Holds the lake's ingest lock (--wait to wait for a run).
    """
    from shoplake.quarantine import replay

    report = replay(_existing_lake(lake), dataset=dataset, run=run, wait=wait)
    Console().print_report(report.as_report())
    if not report.balanced:
        raise IngestError(
            "replay accounting does not balance",
            "this is a bug in shoplake: please report it with the replay log",
        )


@app.command("init")
def init_command(
    lake: Annotated[
        str | None,
        typer.Option(
            "--lake",
            help="Where the new lake goes: a new or empty directory (or s3://bucket/prefix). "
            "Default: SHOPLAKE_LAKE, then ./lake.",
            show_default=False,
        ),
    ] = None,
    config: Annotated[
        Path | None,
        typer.Option(
            help="The settings file to write. Default: SHOPLAKE_CONFIG, then ./shoplake.toml "
            "(where shoplake reads it).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Make a new lake: a shoplake.toml naming it (every setting, documented) and one small
    valid sample file per dataset where ingest reads it, raw/<dataset>/YYYY/MM/DD/.

    Refuses a lake directory that is not empty and an existing settings file. The samples
    ingest with nothing quarantined; replace them with the shop's own files.
    """
    from shoplake.scaffold import default_config, init_lake

    settings = load_settings()
    location = lake or settings.lake
    _state["where"] = location
    report = init_lake(location, config or default_config(), raw=settings.raw)
    for line in report.lines():
        typer.echo(line)


@app.command("validate")
def validate_command(
    files: Annotated[list[Path], typer.Argument(help="Raw files to check.", show_default=False)],
    dataset: Annotated[
        str | None,
        typer.Option(
            help="The dataset of files that are not under a lake's raw/<dataset>/ "
            "(orders, sales, payments, customers, products, clickstream).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Say what ingest would do with each file, writing nothing: its dataset (by its path
    under raw/, or --dataset), its records, and each reject with its line and every rule
    it breaks (or why the file would not be read at all).

    Exit code 0 when every file is valid, 1 when any record or file would be rejected or
    not read.
    """
    from shoplake.validate_file import validate_files

    verdicts = validate_files(files, dataset=dataset)
    for verdict in verdicts:
        for line in verdict.lines():
            typer.echo(line)
    bad = sum(not v.ok for v in verdicts)
    if len(verdicts) > 1:
        typer.echo(f"{len(verdicts)} files: {len(verdicts) - bad} valid, {bad} with rejects")
    if bad:
        raise typer.Exit(1)


load_app = typer.Typer(help="Copy the silver lake into a database.", no_args_is_help=True)
app.add_typer(load_app, name="load")


@load_app.command("postgres")
def load_postgres(
    postgres_dsn: DsnOption = None,
    schema: Annotated[
        str, typer.Option(help="Schema that receives one table per silver dataset.")
    ] = "lake",
    lake: LakeOption = None,
) -> None:
    """Replace the tables of a PostgreSQL schema with the lake's silver rows.

    The dbt `postgres` target reads its sources there; `shoplake build --target
    postgres` runs this first. Without a DSN (--postgres-dsn, SHOPLAKE_POSTGRES_DSN) the
    connection is SHOPLAKE_PG_HOST, _PORT, _USER, _PASSWORD and _DBNAME.
    """
    from shoplake.pgload import load_postgres as run_load
    from shoplake.warehouse import postgres_target_dsn

    dsn = postgres_target_dsn(_dsn(postgres_dsn))
    Console().print_report(run_load(_lake(lake), dsn, schema).as_report())


# --- alerts -------------------------------------------------------------------------------
alerts_app = typer.Typer(
    help="Real-time purchase alerts: one per purchase, exactly once.", no_args_is_help=True
)
app.add_typer(alerts_app, name="alerts")
AlertsStateOption = Annotated[
    str | None,
    typer.Option(
        "--state-dir",
        help="Folder of the alerts ledger (SQLite). Default: SHOPLAKE_ALERTS_STATE, then "
        "<lake>/_state/alerts; for an s3:// lake, _state/alerts in its local working "
        "directory (SHOPLAKE_LOCAL_DIR, default ./.shoplake, /s3/<bucket>/<prefix>).",
        show_default=False,
    ),
]


@alerts_app.command("watch")
def alerts_watch(
    webhook: Annotated[
        str | None,
        typer.Option(
            envvar="SHOPLAKE_ALERTS_WEBHOOK",
            help="POST each alert as JSON to this URL (Idempotency-Key: <alert_id>; signed "
            "with SHOPLAKE_ALERTS_WEBHOOK_SECRET when set). Default: SHOPLAKE_ALERTS_WEBHOOK.",
            show_default=False,
        ),
    ] = None,
    interval: Annotated[
        float | None,
        typer.Option(
            min=0.05,
            help="Seconds between looks at the recent landing folders. Default: 0.5 "
            "(s3:// lakes: 5, as S3 charges per LIST).",
            show_default=False,
        ),
    ] = None,
    sweep: Annotated[
        float | None,
        typer.Option(
            min=0.1,
            help="Seconds between full listings of raw/clickstream/ (files dropped into older "
            "landing folders). Default: 10 (s3:// lakes: 300).",
            show_default=False,
        ),
    ] = None,
    once: Annotated[
        bool,
        typer.Option(
            "--once", help="Process what is there, deliver, print a summary and exit (cron)."
        ),
    ] = False,
    retry_for: Annotated[
        float,
        typer.Option(
            min=0,
            help="With --once: seconds to keep retrying undelivered alerts before exiting "
            "(they stay in the outbox for the next run).",
        ),
    ] = 10.0,
    backfill: Annotated[
        str | None,
        typer.Option(
            metavar="SINCE",
            help="Also alert for the purchases at or after SINCE (a UTC date, 2026-03-01, "
            "or timestamp, 2026-03-01T14:00:00Z) in the files that were already in the lake "
            "when alerts started; each once, however often it is given. Without it, the "
            "first start alerts only for files that land after it.",
            show_default=False,
        ),
    ] = None,
    state_dir: AlertsStateOption = None,
    lake: LakeOption = None,
) -> None:
    """Turn new clickstream files into purchase alerts as they land.

    Watches raw/clickstream/YYYY/MM/DD/HH/ (names starting with _ or . are uploads in
    progress and skipped), writes one alert per purchase to
    alerts/year=YYYY/month=MM/day=DD/*.ndjson and, with --webhook, POSTs it with retries
    and backoff. Exactly once per purchase across restarts, kills and re-delivered
    files. Prints one line per processed file: path, alerts, new, bad lines, latency.
    One watcher per lake. Alerts start from now: the first start bookmarks the files
    already there and alerts none of them (unless --backfill); later starts go on from
    the ledger, catching up with what landed meanwhile.
    """
    from shoplake.alerts.watcher import process_pending, watch

    location = _lake(lake)

    def say(line: str) -> None:
        typer.echo(line)
        sys.stdout.flush()

    if once:
        summary = process_pending(
            location,
            webhook,
            retry_for_s=retry_for,
            state_dir=state_dir,
            log=say,
            backfill=backfill,
        )
        Console().print_report(summary.as_report())
        return
    watch(
        location,
        webhook,
        interval_s=interval,
        sweep_s=sweep,
        state_dir=state_dir,
        log=say,
        backfill=backfill,
    )


@alerts_app.command("status")
def alerts_status(state_dir: AlertsStateOption = None, lake: LakeOption = None) -> None:
    """Counts from the alerts ledger: files read, alerts, unpublished, undelivered."""
    from shoplake.alerts.watcher import status as alerts_ledger_status

    Console().print_report(alerts_ledger_status(_lake(lake), state_dir=state_dir))


@alerts_app.command("package")
def alerts_package(
    dest: Annotated[
        Path, typer.Option(help="Folder to write shoplake-alerts-lambda.zip into.")
    ] = Path("dist"),
) -> None:
    """Build the AWS Lambda zip of the alerts handler (stdlib + boto3 from the runtime).

    Handler: shoplake.alerts.lambda_handler.handler. Environment:
    SHOPLAKE_ALERTS_TOPIC_ARN (SNS topic), SHOPLAKE_ALERTS_CLAIM_LEASE_S (default 120).
    """
    from shoplake.alerts.package import HANDLER, build_lambda_zip

    path = build_lambda_zip(dest)
    typer.echo(f"{path} ({path.stat().st_size:,} bytes; handler {HANDLER})")


@app.command()
def dashboard(
    out: Annotated[
        Path | None,
        typer.Option(
            help="Where to write the page. Default: <lake>/site/dashboard.html (for an s3:// "
            "lake, in its local directory).",
            show_default=False,
        ),
    ] = None,
    duckdb_path: DuckdbPathOption = None,
    lake: LakeOption = None,
) -> None:
    """Write the dashboard: one self-contained HTML page (no network needed to open it).

    Revenue, orders, AOV and customers by day and region, payment status mix, top
    products, the clickstream funnel, and a data-quality panel (dbt tests, source
    freshness and recent runs from `shoplake run`'s history; quarantine per dataset).
    The page filters by date range and region. Reads the warehouse read-only: build it
    first (`shoplake build` or `shoplake run`).
    """
    from shoplake.dashboard import write_dashboard

    path = write_dashboard(_existing_lake(lake), out=out, duckdb_path=duckdb_path)
    typer.echo(f"dashboard written to {path} ({path.stat().st_size:,} bytes)")


@app.command()
def serve(
    port: Annotated[
        int, typer.Option(min=0, max=65535, help="TCP port to listen on.")
    ] = DEFAULT_PORT,
    host: Annotated[
        str,
        typer.Option(help="Address to bind. The default keeps the site on this machine."),
    ] = DEFAULT_HOST,
    allow_host: Annotated[
        list[str] | None,
        typer.Option(
            help="Another name (or name:port) the site is reached by, e.g. behind a proxy "
            "(repeatable). Requests whose Host header is not 127.0.0.1, localhost, [::1], "
            "the bound address or such a name get 421 and no content.",
            show_default=False,
        ),
    ] = None,
    duckdb_path: DuckdbPathOption = None,
    lake: LakeOption = None,
) -> None:
    """Serve the dbt docs site (/docs/) and the dashboard (/dashboard/) on one port.

    Needs the docs generated (`shoplake run` does it). Writes the dashboard first if it
    is missing or older than the warehouse; after that, reload the page to see what a
    later `shoplake run` or `shoplake dashboard` wrote. Ctrl-C or SIGTERM stops the
    server. The Host header is checked (a web page on another site cannot read this one
    through DNS rebinding): see --allow-host.
    """
    from shoplake.serve import serve as run_serve

    run_serve(
        _lake(lake),
        host=host,
        port=port,
        duckdb_path=duckdb_path,
        allowed_hosts=allow_host or (),
        say=typer.echo,
    )


# --- artifacts: each target's dbt artifacts in the lake ----------------------------------
artifacts_app = typer.Typer(
    help="Keep each target's dbt artifacts (manifest.json, run_results.json) in the lake, "
    "at _state/dbt/<target>/, for slim builds that defer to them.",
    no_args_is_help=True,
)
app.add_typer(artifacts_app, name="artifacts")
ArtifactsTargetOption = Annotated[
    str, typer.Option("--target", help="dbt target whose artifacts these are.")
]


@artifacts_app.command("push")
def artifacts_push(target: ArtifactsTargetOption = "dev", lake: LakeOption = None) -> None:
    """Copy the last build's manifest.json and run_results.json into the lake."""
    from shoplake.artifacts import push

    typer.echo(f"pushed {push(_existing_lake(lake), target).line()}")


@artifacts_app.command("pull")
def artifacts_pull(
    to: Annotated[
        Path,
        typer.Option(help="Directory to write them to (the --state DIR of `shoplake build`)."),
    ],
    target: ArtifactsTargetOption = "dev",
    lake: LakeOption = None,
) -> None:
    """Copy a target's manifest.json and run_results.json from the lake into a directory."""
    from shoplake.artifacts import pull

    typer.echo(f"pulled {pull(_existing_lake(lake), target, to).line()}")


# --- docs: the published docs site ----------------------------------------------------------
docs_app = typer.Typer(help="The dbt docs site and the dashboard.", no_args_is_help=True)
app.add_typer(docs_app, name="docs")


@docs_app.command("publish")
def docs_publish(
    to: Annotated[
        str,
        typer.Option(
            help="Where the static site goes: a directory or s3://bucket/prefix (private; "
            "see docs/ci.md for the read policy)."
        ),
    ],
    target: Annotated[str, typer.Option(help="dbt target to document.")] = "dev",
    generate: Annotated[
        bool,
        typer.Option(help="Run `dbt docs generate` first (else publish the last docs)."),
    ] = True,
    dashboard: Annotated[
        bool, typer.Option(help="Include the dashboard (dev target: the DuckDB warehouse).")
    ] = True,
    duckdb_path: DuckdbPathOption = None,
    postgres_dsn: DsnOption = None,
    lake: LakeOption = None,
) -> None:
    """Write the dbt docs site and the dashboard as a static site to a directory or S3.

    index.html links docs/index.html (dbt's docs page, with its manifest.json and
    catalog.json) and dashboard/index.html; any static file server, or a private bucket
    behind CloudFront, serves it as it is.
    """
    from shoplake.docs_site import publish_docs

    result = publish_docs(
        _existing_lake(lake),
        to,
        target=target,
        generate=generate,
        dashboard=dashboard,
        duckdb_path=duckdb_path,
        postgres_dsn=_dsn(postgres_dsn),
    )
    Console().print_report(
        Report(
            title=f"docs site published to {result.destination}",
            columns=("file", "bytes"),
            rows=result.files,
            notes=result.notes,
        )
    )


# --- deploy and athena (AWS) ----------------------------------------------------------------
deploy_app = typer.Typer(help="Create or update shoplake's cloud resources.", no_args_is_help=True)
app.add_typer(deploy_app, name="deploy")
athena_app = typer.Typer(help="Run the sample analyses on Amazon Athena.", no_args_is_help=True)
app.add_typer(athena_app, name="athena")
RegionOption = Annotated[
    str | None,
    typer.Option(
        help="AWS region. Default: the AWS configuration (AWS_REGION, AWS_DEFAULT_REGION, "
        "~/.aws/config). Credentials always come from the standard AWS chain; "
        "AWS_ENDPOINT_URL points every call at another endpoint.",
        show_default=False,
    ),
]
WorkgroupOption = Annotated[
    str, typer.Option(help="Athena workgroup (`deploy aws` creates one named --name).")
]


@deploy_app.command("aws")
def deploy_aws(
    plan: Annotated[
        bool,
        typer.Option("--plan", help="Print what would be created or updated; change nothing."),
    ] = False,
    name: Annotated[
        str,
        typer.Option(
            help="Prefix of every resource name. Bucket names are global, so make it yours "
            "(e.g. acme-shoplake): buckets <name>-raw, -processed and -archive, Glue "
            "database <name> (- becomes _), Athena workgroup <name>, roles <name>-ingest, "
            "-athena-reader, -redshift-spectrum, -alert-lambda, -pipeline and -redshift-unload, "
            "KMS alias "
            "alias/<name>-lake, topic and function <name>-purchase-alerts, queue "
            "<name>-purchase-alerts-failed."
        ),
    ] = "shoplake",
    prefix: Annotated[
        str,
        typer.Option(
            help="Where the lake sits in the buckets: raw files under "
            "s3://<name>-raw/<prefix>/raw/, the lake root (silver, quarantine, _state) at "
            "s3://<name>-processed/<prefix>."
        ),
    ] = "lake",
    athena_scan_limit_mb: Annotated[
        int,
        typer.Option(
            min=10, help="Bytes-scanned limit per Athena query, in MiB (Athena's minimum: 10)."
        ),
    ] = 10240,
    quarantine_days: Annotated[
        int, typer.Option(min=1, help="Days after which quarantined records expire.")
    ] = 90,
    schedule: Annotated[
        str,
        typer.Option(help="When the daily Glue job runs: a Glue cron expression, in UTC."),
    ] = "cron(0 2 * * ? *)",
    job_target: Annotated[
        str, typer.Option(help="dbt target the daily job builds: prod, postgres or dev.")
    ] = "prod",
    engine: Annotated[
        str,
        typer.Option(
            help="Ingest engine of the daily job: duckdb (on the job's driver) or spark "
            "(on the job's Spark workers)."
        ),
    ] = "duckdb",
    worker_type: Annotated[
        str, typer.Option(help="Glue worker type of the daily job: G.1X, G.2X, G.4X or G.8X.")
    ] = "G.1X",
    workers: Annotated[
        int, typer.Option(help="Number of Glue workers of the daily job (2 or more).")
    ] = 2,
    wheel: Annotated[
        Path | None,
        typer.Option(
            help="The shoplake wheel the daily job installs. Default: built from the "
            "checkout shoplake runs from (pip wheel --no-deps).",
            show_default=False,
        ),
    ] = None,
    region: RegionOption = None,
) -> None:
    """Create or update shoplake's AWS resources so they match their description.

    KMS key; raw (versioned), processed and archive buckets with SSE-KMS, public access
    blocked, lifecycle rules (raw to Standard-IA at 30 days and Glacier at 90,
    quarantine and Athena results expiry, incomplete uploads aborted after 7 days) and
    policies denying plain HTTP and other encryption; the Glue database and one table
    per silver dataset; the Athena workgroup (encrypted results, scan limit) with the
    analyses as named queries; least-privilege IAM policies and roles (ingest, Athena
    readers, Redshift Spectrum, alert Lambda); the SNS topic and the purchase-alert
    Lambda on new clickstream files, with an SQS queue for the events it still fails on
    after two retries; the daily Glue job running `shoplake run` with the --engine ingest
    engine on --workers x --worker-type (role <name>-pipeline, log group, retries,
    timeout, job bookmarks off, a trigger on --schedule), its entry script, the shoplake
    wheel and the dbt project uploaded to s3://<name>-processed/glue-job/, the Redshift
    unload role, the
    team's topic <name>-notifications and CloudWatch alarms (failed run, stale data,
    failed alert events). Prints one line per resource: create, update (and what
    differs) or no change. Running it again changes nothing; nothing is ever deleted.
    """
    from shoplake.aws.deploy import Deployment, deploy
    from shoplake.aws.session import AwsSession

    deployment = Deployment(
        name=name,
        prefix=prefix.strip("/"),
        bytes_scanned_cutoff=athena_scan_limit_mb * 1024 * 1024,
        quarantine_days=quarantine_days,
        schedule=schedule,
        job_target=job_target,
        engine=engine.strip().lower(),
        worker_type=worker_type,
        workers=workers,
    )
    result = deploy(deployment, plan_only=plan, session=AwsSession(region), wheel=wheel)
    Console().print_report(result.as_report())


@athena_app.command("query")
def athena_query(
    query: Annotated[
        str,
        typer.Argument(
            metavar="NAME",
            help="Named query: an analysis of analyses/, e.g. monthly_revenue_trend.",
        ),
    ],
    workgroup: WorkgroupOption = "shoplake",
    database: Annotated[
        str | None,
        typer.Option(
            help="Glue database to run in. Default: the named query's own (the lake's).",
            show_default=False,
        ),
    ] = None,
    timeout: Annotated[
        float, typer.Option(min=1, help="Seconds to wait before stopping the query.")
    ] = 600.0,
    region: RegionOption = None,
) -> None:
    """Run one of the workgroup's named queries, wait for it and print its rows.

    The workgroup's settings apply (encrypted results, bytes-scanned limit): a query
    that fails or hits the limit exits non-zero with Athena's reason.
    """
    from shoplake.aws.athena import run_named_query
    from shoplake.aws.session import AwsSession

    result = run_named_query(
        query, workgroup, database, session=AwsSession(region), timeout_seconds=timeout
    )
    Console().print_report(result.as_report())


@athena_app.command("list")
def athena_list(workgroup: WorkgroupOption = "shoplake", region: RegionOption = None) -> None:
    """List the workgroup's named queries (name, database, description)."""
    from shoplake.aws.athena import named_queries_report
    from shoplake.aws.session import AwsSession

    Console().print_report(named_queries_report(workgroup, session=AwsSession(region)))


def _take_debug_flag(argv: list[str]) -> list[str]:
    """``--debug`` is accepted anywhere on the command line (before or after the
    command, on any subcommand); it is taken out here and shows tracebacks."""
    end = argv.index("--") if "--" in argv else len(argv)
    if "--debug" in argv[:end]:
        _state["debug"] = True
        return [a for a in argv[:end] if a != "--debug"] + argv[end:]
    return argv


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point: every failure becomes one line and exit code 1.

    Exceptions are mapped in one place (:func:`shoplake.errors.translate`): shoplake's own
    errors, a full disk (ENOSPC, EDQUOT, EFBIG: "disk full at <path>"), a DuckDB
    warehouse held by another process (who holds it), PostgreSQL connection and DSN
    errors (no part of a password), other storage failures. Whatever was being published
    is safe (see docs/lake.md), so rerunning is the remedy. Every line is redacted
    (:func:`shoplake.errors.redact`). ``--debug`` shows the traceback instead.
    """
    args = _take_debug_flag(list(sys.argv[1:] if argv is None else argv))
    try:
        apply_umask(load_settings())
        app(args=args, prog_name="shoplake")
    except Exception as exc:
        if _state["debug"]:
            raise
        error = translate(exc, where=_state["where"])
        if error is None:  # a bug: the traceback is what helps
            raise
        typer.echo(f"error: {one_line(redact(str(error)))}", err=True)
        sys.exit(1)


if __name__ == "__main__":  # pragma: no cover
    main()
