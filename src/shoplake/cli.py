"""The ``shoplake`` command line: options in, one call into a core module, a report out."""

from __future__ import annotations

import sys
from datetime import datetime, timedelta
from typing import Annotated

import typer

from shoplake import __version__
from shoplake.config import load_settings
from shoplake.errors import ShoplakeError
from shoplake.lake import Lake
from shoplake.report import Console

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

_state = {"debug": False}

LakeOption = Annotated[
    str | None,
    typer.Option(
        "--lake",
        help="Lake root directory. Default: SHOPLAKE_LAKE, then shoplake.toml, then ./lake.",
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


def _lake(option: str | None) -> Lake:
    return Lake.at(option or load_settings().lake)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"shoplake {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    debug: Annotated[
        bool, typer.Option("--debug", help="Show full tracebacks for errors.")
    ] = False,
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
) -> None:
    _state["debug"] = debug


@app.command()
def generate(
    start: Annotated[
        datetime,
        typer.Option(formats=["%Y-%m-%d"], help="First business day to generate (YYYY-MM-DD)."),
    ],
    days: Annotated[int, typer.Option(min=1, help="Number of days to generate.")] = 30,
    orders_per_day: Annotated[
        int,
        typer.Option(min=1, help="Average orders per day; clickstream volume scales with it."),
    ] = 200,
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
    """
    from shoplake.generate import generate as run_generate

    settings = load_settings()
    report = run_generate(
        _lake(lake),
        start=start.date(),
        days=days,
        orders_per_day=orders_per_day,
        seed=seed,
        faults=faults,
        postgres_dsn=postgres_dsn or settings.postgres_dsn,
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
    dsn = postgres_dsn or settings.postgres_dsn
    if not dsn:
        raise ShoplakeError(
            "no PostgreSQL DSN given", "pass --postgres-dsn or set SHOPLAKE_POSTGRES_DSN"
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
    wait: Annotated[
        bool,
        typer.Option(
            "--wait", help="If another run holds the lake, wait for it instead of exiting."
        ),
    ] = False,
    lake: LakeOption = None,
) -> None:
    """Raw -> silver: validate, type, de-duplicate, quarantine and publish partitions.

    Only new or changed raw files are read. Prints read = written + quarantined +
    duplicates per dataset; the run log is kept under _state/runs/.
    """
    from shoplake.ingest import run_ingest

    console = Console()
    with console.progress() as progress:
        report = run_ingest(_lake(lake), wait=wait, progress=progress)
    console.print_report(report.as_report())
    if not report.balanced:
        raise ShoplakeError(
            "ingest accounting does not balance (read != written + quarantined + duplicates)",
            "this is a bug in shoplake: please report it with the run log",
        )


@app.command()
def build(
    target: Annotated[
        str,
        typer.Option(
            help="dbt target: dev (DuckDB in the lake), postgres (loads silver into the "
            "`lake` schema first) or prod (Redshift with Spectrum sources)."
        ),
    ] = "dev",
    full_refresh: Annotated[
        bool,
        typer.Option("--full-refresh", help="Rebuild the incremental facts from scratch."),
    ] = False,
    select: Annotated[
        list[str] | None,
        typer.Option(help="dbt node selection, passed to `dbt build --select` (repeatable)."),
    ] = None,
    duckdb_path: Annotated[
        str | None,
        typer.Option(
            help="DuckDB warehouse file for the dev target. Default: SHOPLAKE_DUCKDB_PATH, "
            "then <lake>/warehouse.duckdb.",
            show_default=False,
        ),
    ] = None,
    postgres_dsn: DsnOption = None,
    lake: LakeOption = None,
) -> None:
    """Build the warehouse with dbt (staging, marts, gold) and run every test.

    Writes a temporary dbt profile from profiles.yml.example, so no profile needs
    editing; dbt's artifacts and logs go to <lake>/_state/dbt/<target>/. Incremental
    facts pick up late records and status changes since the last build.
    """
    from shoplake.warehouse import build as run_build

    location = lake or load_settings().lake
    result = run_build(
        # Redshift reads the lake itself (Spectrum): prod takes an s3:// location as is.
        location if target == "prod" and location.startswith("s3://") else _lake(location),
        target=target,
        full_refresh=full_refresh,
        select=select or (),
        duckdb_path=duckdb_path,
        postgres_dsn=postgres_dsn or load_settings().postgres_dsn,
    )
    Console().print_report(result.as_report())


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
    postgres` runs this first.
    """
    from shoplake.pgload import load_postgres as run_load

    dsn = postgres_dsn or load_settings().postgres_dsn
    if not dsn:
        raise ShoplakeError(
            "no PostgreSQL DSN given", "pass --postgres-dsn or set SHOPLAKE_POSTGRES_DSN"
        )
    Console().print_report(run_load(_lake(lake), dsn, schema).as_report())


def main() -> None:
    """Console-script entry point: known errors become one line and exit code 1."""
    try:
        app()
    except ShoplakeError as exc:
        if _state["debug"]:
            raise
        typer.echo(f"error: {exc}", err=True)
        sys.exit(1)


if __name__ == "__main__":  # pragma: no cover
    main()
