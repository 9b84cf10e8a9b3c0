"""The dbt sources of the warehouse, generated from :mod:`shoplake.contract`.

The silver lake's datasets are defined once, in ``contract.py``. This module turns them
into the dbt source file ``models/staging/lake/_lake__sources.yml`` (committed, so that
dbt works without running Python first; ``pytests/warehouse`` asserts it is in sync) and
gives the PostgreSQL loader, the Redshift Spectrum DDL and the Glue Data Catalog
(:mod:`shoplake.aws.catalog`) their column types.

One source table per dataset, three ways to reach it:

* DuckDB (dev): ``config.external_location`` makes dbt-duckdb read the lake's Parquet
  files directly, with Hive partitioning, from ``SHOPLAKE_LAKE``;
* PostgreSQL: tables of the ``lake`` schema, filled by :mod:`shoplake.pgload`;
* Redshift: tables of a Spectrum external schema, created by the project's
  ``stage_external_sources`` run-operation from the ``external`` block (location,
  Parquet, Hive partitions) and the columns' ``data_type`` (Redshift types).

Regenerate with ``python -m shoplake.dbt_sources``; check with ``--check``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from shoplake.contract import DATASETS, LINEAGE_COLUMNS, PARTITION_COLUMNS, Dataset, Kind
from shoplake.lake import SILVER

SOURCE_NAME = "lake"
SOURCES_YAML = Path("models/staging/lake/_lake__sources.yml")

#: Freshness of every source, on ``ingested_at``: a daily pipeline warns after a missed
#: day and errors after two.
FRESHNESS = {"warn_after": (26, "hour"), "error_after": (50, "hour")}

#: Redshift (Spectrum external table) type of each contract kind. Spectrum reads the
#: Parquet strings into these; lengths are generous where values are free text.
REDSHIFT_TYPES: dict[Kind, str] = {
    Kind.ID: "varchar(256)",
    Kind.TEXT: "varchar(4096)",
    Kind.TIMESTAMP: "timestamp",
    Kind.AMOUNT: "decimal(18,2)",
    Kind.INTEGER: "bigint",
    Kind.BOOLEAN: "boolean",
    Kind.ENUM: "varchar(64)",
    Kind.COUNTRY: "varchar(2)",
    Kind.CURRENCY: "varchar(3)",
    Kind.JSON: "varchar(65535)",
    Kind.DATE: "date",
    Kind.RATE: "decimal(20,10)",
}

#: Redshift type of a silver type, for the columns that have no contract kind (lineage,
#: derived columns).
REDSHIFT_BY_SILVER_TYPE = {
    "VARCHAR": "varchar(1024)",
    "BIGINT": "bigint",
    "TIMESTAMP": "timestamp",
    "DECIMAL(18,2)": "decimal(18,2)",
    "BOOLEAN": "boolean",
}

#: PostgreSQL type of a silver type (the loaded ``lake`` schema).
POSTGRES_BY_SILVER_TYPE = {
    "VARCHAR": "text",
    "BIGINT": "bigint",
    "TIMESTAMP": "timestamp",
    "DECIMAL(18,2)": "numeric(18,2)",
    "BOOLEAN": "boolean",
    "DATE": "date",
    "DECIMAL(20,10)": "numeric(20,10)",
}

#: Hive partition columns as Spectrum sees them (``year=2026/month=03/day=01``).
PARTITION_TYPES = {"year": "varchar(4)", "month": "varchar(2)", "day": "varchar(2)"}

LAKE_ROOT = "{{ env_var('SHOPLAKE_LAKE', 'lake') }}"

#: The lake root as a glob (a Jinja expression): a path is data, not a pattern. Glob
#: characters are bracketed (``[`` -> ``[[]``, ``*`` -> ``[*]``: DuckDB's glob has no
#: backslash escape, and ``it's [a] lake`` would match ``it's a lake``).
DUCKDB_LAKE_GLOB_ROOT = "modules.re.sub('[][*?]', '[\\g<0>]', env_var('SHOPLAKE_LAKE', 'lake'))"

#: Filters making a glob safe inside DuckDB's ``read_parquet('...')`` in
#: external_location: quotes doubled for the SQL literal, then braces doubled for
#: dbt-duckdb, which formats external_location with str.format_map.
DUCKDB_LITERAL_FILTERS = " | replace(\"'\", \"''\") | replace('{', '{{') | replace('}', '}}')"


def redshift_columns(ds: Dataset) -> list[tuple[str, str, str]]:
    """(column, Redshift type, description) of a dataset's silver table."""
    cols = [(f.name, REDSHIFT_TYPES[f.kind], f.description) for f in ds.fields]
    cols += [(d.name, REDSHIFT_BY_SILVER_TYPE[d.silver_type], d.description) for d in ds.derived]
    cols += [(c, REDSHIFT_BY_SILVER_TYPE[t], d) for c, t, d in LINEAGE_COLUMNS]
    return cols


def postgres_columns(ds: Dataset) -> list[tuple[str, str]]:
    """(column, PostgreSQL type) of a dataset's loaded table, in silver order."""
    return [(c, POSTGRES_BY_SILVER_TYPE[t]) for c, t in ds.silver_columns]


def _q(text: str) -> str:
    """A YAML double-quoted scalar."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def partition_description(ds: Dataset, column: str) -> str:
    return f"Hive partition: {column} of {ds.business_ts} (UTC)."


def external_location(lake_root: str, ds: Dataset) -> str:
    """Where a dataset's silver table lives under a lake root (trailing slash), as external
    tables name it: the dbt ``external.location`` (with the root as a Jinja expression)
    and the Glue table's location (:mod:`shoplake.aws.catalog`) both come from here."""
    return f"{lake_root.rstrip('/')}/{SILVER}/{ds.name}/"


def silver_glob_env(ds: Dataset) -> str:
    """The environment variable that replaces a dataset's silver glob on DuckDB:
    ``shoplake build`` points it at an empty, typed Parquet file when the lake has no
    silver files for the dataset (:func:`shoplake.warehouse.empty_sources`)."""
    return f"SHOPLAKE_SILVER_{ds.name.upper()}"


def duckdb_location(ds: Dataset) -> str:
    """``read_parquet`` of a dataset's silver files on DuckDB: the glob in
    ``SHOPLAKE_SILVER_<DATASET>`` when set, else the silver glob under the lake root."""
    pattern = f"/{SILVER}/{ds.name}/" + "/".join(f"{p}=*" for p in PARTITION_COLUMNS)
    glob = f"env_var('{silver_glob_env(ds)}', {DUCKDB_LAKE_GLOB_ROOT} ~ '{pattern}/*.parquet')"
    return (
        f"read_parquet('{{{{ {glob}{DUCKDB_LITERAL_FILTERS} }}}}',"
        " hive_partitioning = true, union_by_name = true)"
    )


def render_sources_yaml() -> str:
    """The text of ``_lake__sources.yml``, deterministic."""
    warn, error = FRESHNESS["warn_after"], FRESHNESS["error_after"]
    out = [
        "# GENERATED from src/shoplake/contract.py by `python -m shoplake.dbt_sources`.",
        "# Do not edit: change the contract and regenerate (a test checks this file).",
        "version: 2",
        "",
        "sources:",
        f"  - name: {SOURCE_NAME}",
        "    description: >-",
        "      The silver zone of the lake: typed, validated, de-duplicated Parquet written",
        "      by `shoplake ingest`, Hive-partitioned by business date",
        "      (year=/month=/day=). Read in place on DuckDB, loaded into the `lake` schema",
        "      on PostgreSQL, a Spectrum external schema on Redshift.",
        "    schema: \"{{ env_var('SHOPLAKE_SOURCE_SCHEMA', 'lake') }}\"",
        "    loader: shoplake ingest",
        "    config:",
        "      loaded_at_field: ingested_at",
        "      freshness:",
        f"        warn_after: {{count: {warn[0]}, period: {warn[1]}}}",
        f"        error_after: {{count: {error[0]}, period: {error[1]}}}",
        "    tables:",
    ]
    for ds in DATASETS.values():
        key = ", ".join(ds.key)
        out += [
            f"      - name: {ds.name}",
            f"        description: {_q(f'{ds.description} Silver key: ({key}).')}",
            "        config:",
            f"          external_location: {_q(duckdb_location(ds))}",
            "        external:",
            f"          location: {_q(external_location(LAKE_ROOT, ds))}",
            "          file_format: parquet",
            "          partitions:",
        ]
        for p in PARTITION_COLUMNS:
            out += [
                f"            - name: {p}",
                f"              data_type: {PARTITION_TYPES[p]}",
                f"              description: {_q(partition_description(ds, p))}",
            ]
        out.append("        columns:")
        for name, rtype, description in redshift_columns(ds):
            out += [
                f"          - name: {name}",
                f"            data_type: {rtype}",
                f"            description: {_q(description)}",
            ]
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--check", action="store_true", help="Exit 1 if the committed file is out of date."
    )
    parser.add_argument(
        "--project-dir", default=".", help="dbt project directory (default: current)."
    )
    args = parser.parse_args(argv)
    path = Path(args.project_dir) / SOURCES_YAML
    text = render_sources_yaml()
    if args.check:
        current = path.read_text("utf-8") if path.is_file() else ""
        if current != text:
            print(f"{path} is out of date: run `python -m shoplake.dbt_sources`", file=sys.stderr)
            return 1
        return 0
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, "utf-8")
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
