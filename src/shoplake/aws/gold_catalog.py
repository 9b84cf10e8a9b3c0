"""Gold in the Glue Data Catalog: one external table per published mart, one partition
per ``gold/<mart>/month=.../region=.../`` folder.

The Athena named queries (the project's analyses) read the marts by name from the
workgroup's database; registering the published marts there under those names is what
lets them run as they are. Tables live in the same database as the silver tables (their
names never collide: datasets are ``orders``, ``customers``, ...; marts are
``fact_orders``, ``dim_customers``, ...). Columns are those of the published files, with
their types spelled the Hive way; the partition keys ``month`` and ``region`` are
strings, as in the paths.

Like the silver sync (:mod:`shoplake.aws.catalog`, whose table and partition helpers
this module reuses) it only creates and updates, treats "already exists" as done, and is
safe to repeat: a crash between publishing and registering is repaired by the next
publish.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Any

from shoplake.aws.catalog import (
    DATABASE_ENV,
    PARQUET_INPUT,
    PARQUET_OUTPUT,
    PARQUET_SERDE,
    PARTITION_BATCH,
    TABLE_PARAMETERS,
    default_database,
    ensure_database,
    get_table,
    registered_partitions,
    table_drift,
)
from shoplake.aws.session import AwsSession, aws_errors, error_code
from shoplake.errors import AwsError, ConfigError, ContractError
from shoplake.gold import MARTS, PublishReport, gold_prefix
from shoplake.lake import SILVER_FILE, Lake

#: DuckDB type names (as DESCRIBE spells them) -> Hive (Glue, Athena DDL) type names.
_HIVE = {
    "VARCHAR": "string",
    "BIGINT": "bigint",
    "INTEGER": "int",
    "SMALLINT": "smallint",
    "TINYINT": "tinyint",
    "BOOLEAN": "boolean",
    "DATE": "date",
    "TIMESTAMP": "timestamp",
    "TIMESTAMP WITH TIME ZONE": "timestamp",
    "DOUBLE": "double",
    "FLOAT": "float",
}
_DECIMAL = re.compile(r"^DECIMAL\((\d+),\s*(\d+)\)$")


def hive_type(duckdb_type: str) -> str:
    """The Glue type of a column of a published gold file."""
    name = duckdb_type.upper().strip()
    if name in _HIVE:
        return _HIVE[name]
    m = _DECIMAL.match(name)
    if m:
        return f"decimal({m[1]},{m[2]})"
    raise ContractError(
        f"no Glue type for the gold column type {duckdb_type!r}",
        "cast the column to a plain type in its mart",
    )


def gold_location(lake_uri: str, mart: str) -> str:
    return f"{lake_uri.rstrip('/')}/{gold_prefix(mart)}/"


def gold_table_input(mart: str, columns: list[tuple[str, str]], lake_uri: str) -> dict[str, Any]:
    """The Glue TableInput of one published mart."""
    return {
        "Name": mart,
        "Description": f"shoplake gold: the warehouse's {mart}, published to the lake.",
        "TableType": "EXTERNAL_TABLE",
        "Parameters": dict(TABLE_PARAMETERS),
        "PartitionKeys": [
            {"Name": k, "Type": "string", "Comment": f"{k} partition (the folder's {k}=)"}
            for k in MARTS[mart].partition_keys
        ],
        "StorageDescriptor": {
            "Columns": [
                {"Name": name, "Type": hive_type(dtype), "Comment": ""} for name, dtype in columns
            ],
            "Location": gold_location(lake_uri, mart),
            "InputFormat": PARQUET_INPUT,
            "OutputFormat": PARQUET_OUTPUT,
            "SerdeInfo": {
                "SerializationLibrary": PARQUET_SERDE,
                "Parameters": {"serialization.format": "1"},
            },
            "Compressed": False,
            "StoredAsSubDirectories": False,
        },
    }


@dataclass
class GoldCatalog:
    database: str
    tables: dict[str, str] = field(default_factory=dict)  # mart -> created/updated/unchanged
    added: dict[str, list[tuple[str, ...]]] = field(default_factory=dict)

    def summary(self) -> str:
        added = sum(len(v) for v in self.added.values())
        return f"{added} gold partitions added to Glue database {self.database}"


def register_if_configured(lake: Lake, report: PublishReport) -> GoldCatalog | None:
    """After a publish to an ``s3://`` lake with ``SHOPLAKE_GLUE_DATABASE`` set."""
    if lake.is_local or not os.environ.get(DATABASE_ENV):
        return None
    return register_gold(lake, report)


def register_gold(
    lake: Lake,
    report: PublishReport,
    database: str | None = None,
    *,
    session: AwsSession | None = None,
) -> GoldCatalog:
    """Create or update each published mart's table and add the partitions Glue lacks."""
    if lake.is_local:
        raise ConfigError(
            f"lake {lake.url()} is a local directory: the Glue catalog points at S3",
            "use an s3://bucket/prefix lake",
            setting="lake",
        )
    database = database or default_database()
    glue = (session or AwsSession()).client("glue")
    result = GoldCatalog(database)
    with aws_errors(f"registering the gold marts of {lake.url()} in Glue database {database}"):
        ensure_database(glue, database)
        for mart, published in report.marts.items():
            desired = gold_table_input(mart, published.columns, lake.url())
            result.tables[mart], table = _ensure_table(glue, database, desired)
            if MARTS[mart].partition_keys:
                result.added[mart] = _add_partitions(glue, database, table, lake, mart)
    return result


def _ensure_table(glue: Any, database: str, desired: dict[str, Any]) -> tuple[str, dict]:
    current = get_table(glue, database, desired["Name"])
    if current is None:
        try:
            glue.create_table(DatabaseName=database, TableInput=desired)
            return "created", desired
        except Exception as exc:
            if error_code(exc) != "AlreadyExistsException":
                raise
            current = get_table(glue, database, desired["Name"]) or {}
    drift = table_drift(current, desired)
    if "location" in drift:
        raise AwsError(
            f"Glue table {database}.{desired['Name']} is at "
            f"{current['StorageDescriptor'].get('Location')}, not at this lake's "
            f"{desired['StorageDescriptor']['Location']}",
            f"use another Glue database for this lake ({DATABASE_ENV})",
            resource=f"{database}.{desired['Name']}",
        )
    if not drift:
        return "unchanged", current
    glue.update_table(DatabaseName=database, TableInput=desired)
    return "updated", desired


def published_partitions(lake: Lake, mart: str) -> list[tuple[str, ...]]:
    """The partition values of every published file of a mart, read off its path."""
    keys = MARTS[mart].partition_keys
    out = []
    base = gold_prefix(mart) + "/"
    for entry in lake.list(gold_prefix(mart)):
        parts = entry.key[len(base) :].split("/")
        if parts[-1] != SILVER_FILE or len(parts) != len(keys) + 1:
            continue
        pairs = [p.split("=", 1) for p in parts[:-1]]
        if [p[0] for p in pairs] == keys and all(len(p) == 2 for p in pairs):
            out.append(tuple(p[1] for p in pairs))
    return out


def _add_partitions(
    glue: Any, database: str, table: dict, lake: Lake, mart: str
) -> list[tuple[str, ...]]:
    keys = MARTS[mart].partition_keys
    existing = registered_partitions(glue, database, mart)
    missing = sorted(v for v in published_partitions(lake, mart) if v not in existing)
    storage = table["StorageDescriptor"]
    location = storage["Location"].rstrip("/") + "/"
    for start in range(0, len(missing), PARTITION_BATCH):
        batch = missing[start : start + PARTITION_BATCH]
        inputs = [
            {
                "Values": list(values),
                "StorageDescriptor": {
                    **storage,
                    "Location": location
                    + "/".join(f"{k}={v}" for k, v in zip(keys, values, strict=True))
                    + "/",
                },
            }
            for values in batch
        ]
        response = glue.batch_create_partition(
            DatabaseName=database, TableName=mart, PartitionInputList=inputs
        )
        errors = [
            e
            for e in response.get("Errors", [])
            if e.get("ErrorDetail", {}).get("ErrorCode") != "AlreadyExistsException"
        ]
        if errors:
            raise AwsError(
                f"Glue refused {len(errors)} partition(s) of {database}.{mart}: "
                f"{errors[0].get('ErrorDetail', {}).get('ErrorMessage', 'no reason given')}",
                "check the pipeline role's Glue permissions; the next publish retries them",
                resource=f"{database}.{mart}",
            )
    return missing
