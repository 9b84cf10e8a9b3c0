"""The silver lake in the Glue Data Catalog: one external table per dataset, one partition
per silver day.

Athena and Redshift Spectrum find tables and partitions in the catalog; neither lists S3
on its own (Spectrum does not use Athena's partition projection), so a partition that is
not registered is invisible to both. Instead of a crawler, shoplake registers them
itself: :func:`sync_partitions` lists the published silver files under the lake root and
adds every partition the catalog does not have yet. It only adds, with
``batch_create_partition``, and treats "already exists" as done, so it is idempotent,
safe to run concurrently, and reconciles whatever an earlier crash left out: call it after
every ingest.

Table definitions are not written here: the columns and their types, the partition keys
and the location come from :mod:`shoplake.dbt_sources`, the same functions that write the
dbt source file from which the ``stage_external_sources`` run-operation creates the
Spectrum tables. A Glue type is the Redshift type of the column spelled the Hive way
(identical for the types the contract uses: ``varchar(n)``, ``decimal(p,s)``,
``bigint``, ``boolean``, ``timestamp``).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from shoplake.aws.session import AwsSession, aws_errors, error_code
from shoplake.contract import DATASETS, PARTITION_COLUMNS, Dataset
from shoplake.dbt_sources import (
    PARTITION_TYPES,
    external_location,
    partition_description,
    redshift_columns,
)
from shoplake.errors import AwsError, ConfigError
from shoplake.lake import Lake, day_partition
from shoplake.report import Report

#: The Glue database of the lake unless told otherwise: the same variable and default as
#: the dbt ``stage_external_sources`` operation (macros/stage_external_sources.sql).
DATABASE_ENV, DEFAULT_DATABASE = "SHOPLAKE_GLUE_DATABASE", "shoplake"

PARQUET_INPUT = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat"
PARQUET_OUTPUT = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat"
PARQUET_SERDE = "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
TABLE_PARAMETERS = {"classification": "parquet", "EXTERNAL": "TRUE"}

#: Glue accepts at most 100 partitions per BatchCreatePartition call.
PARTITION_BATCH = 100
#: Glue column comments are limited to 255 characters.
COMMENT_LIMIT = 255

#: Redshift type names that Hive (and so Glue and Athena DDL) spells differently.
_HIVE_NAMES = {"integer": "int", "double precision": "double", "real": "float"}
_SAME_IN_HIVE = re.compile(
    r"^(varchar\(\d+\)|char\(\d+\)|decimal\(\d+, ?\d+\)|bigint|smallint|int|boolean|"
    r"timestamp|date|double|float)$"
)


def default_database() -> str:
    return os.environ.get(DATABASE_ENV) or DEFAULT_DATABASE


def sync_if_configured(lake: Lake) -> PartitionSync | None:
    """After an ingest: register new partitions when the lake is on S3 and a Glue database
    is configured (``SHOPLAKE_GLUE_DATABASE``); None otherwise. S3-compatible stores other
    than AWS have no Glue, so the catalog is opt-in."""
    if lake.is_local or not os.environ.get(DATABASE_ENV):
        return None
    return sync_partitions(lake)


def glue_type(redshift_type: str) -> str:
    """The Glue (Hive) type of a Redshift external-table column type."""
    name = " ".join(redshift_type.lower().split())
    name = _HIVE_NAMES.get(name, name)
    if not _SAME_IN_HIVE.match(name):
        raise ValueError(f"no Glue type for Redshift type {redshift_type!r}")
    return name.replace(", ", ",")


def table_input(ds: Dataset, lake_uri: str) -> dict[str, Any]:
    """The Glue TableInput of a dataset's silver table under a lake root."""
    return {
        "Name": ds.name,
        "Description": ds.description,
        "TableType": "EXTERNAL_TABLE",
        "Parameters": dict(TABLE_PARAMETERS),
        "PartitionKeys": [
            {
                "Name": p,
                "Type": glue_type(PARTITION_TYPES[p]),
                "Comment": partition_description(ds, p),
            }
            for p in PARTITION_COLUMNS
        ],
        "StorageDescriptor": {
            "Columns": [
                {"Name": name, "Type": glue_type(rtype), "Comment": text[:COMMENT_LIMIT]}
                for name, rtype, text in redshift_columns(ds)
            ],
            "Location": external_location(lake_uri, ds),
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


def table_drift(current: dict[str, Any], desired: dict[str, Any]) -> list[str]:
    """What differs between a table read back from Glue and its desired TableInput
    (empty when nothing does). Keys Glue adds on its own are not compared."""
    cur_sd, want_sd = current.get("StorageDescriptor", {}), desired["StorageDescriptor"]

    def columns(cols: list[dict[str, Any]]) -> list[tuple[str, str, str]]:
        return [(c["Name"], c["Type"], c.get("Comment", "")) for c in cols]

    drift = []
    if columns(cur_sd.get("Columns", [])) != columns(want_sd["Columns"]):
        drift.append("columns")
    if columns(current.get("PartitionKeys", [])) != columns(desired["PartitionKeys"]):
        drift.append("partition keys")
    if cur_sd.get("Location") != want_sd["Location"]:
        drift.append("location")
    cur_serde = cur_sd.get("SerdeInfo", {}).get("SerializationLibrary")
    if (cur_sd.get("InputFormat"), cur_sd.get("OutputFormat"), cur_serde) != (
        want_sd["InputFormat"],
        want_sd["OutputFormat"],
        want_sd["SerdeInfo"]["SerializationLibrary"],
    ):
        drift.append("format")
    if current.get("TableType") != desired["TableType"] or any(
        current.get("Parameters", {}).get(k) != v for k, v in desired["Parameters"].items()
    ):
        drift.append("table type")
    if current.get("Description", "") != desired["Description"]:
        drift.append("description")
    return drift


def partition_values(day: date) -> list[str]:
    """Glue partition values of a silver day, read off the lake's own partition path
    (``year=2026/month=03/day=01`` -> ``['2026', '03', '01']``)."""
    return [segment.split("=", 1)[1] for segment in day_partition(day).split("/")]


_PARTITION = re.compile(r"/year=(\d{4})/month=(\d{2})/day=(\d{2})/[^/]+$")


def silver_days(lake: Lake, dataset: str) -> set[date]:
    """Days that have a published silver file of ``dataset`` (the lake decides what is
    published: :meth:`Lake.list_silver`; files in progress are never listed)."""
    days = set()
    for entry in lake.list_silver(dataset):
        m = _PARTITION.search(entry.key)
        try:
            day = date(int(m[1]), int(m[2]), int(m[3])) if m else None
        except ValueError:
            day = None  # not a calendar day: not a partition the lake writes
        if day is not None and entry.key.startswith(lake.partition_prefix(dataset, day) + "/"):
            days.add(day)
    return days


def registered_partitions(glue: Any, database: str, table: str) -> set[tuple[str, ...]]:
    pages = glue.get_paginator("get_partitions").paginate(
        DatabaseName=database, TableName=table, ExcludeColumnSchema=True
    )
    return {tuple(p["Values"]) for page in pages for p in page["Partitions"]}


def ensure_database(glue: Any, database: str) -> bool:
    """Create the Glue database if it does not exist; True if it was created."""
    try:
        glue.get_database(Name=database)
        return False
    except Exception as exc:
        if error_code(exc) != "EntityNotFoundException":
            raise
    try:
        glue.create_database(DatabaseInput=database_input(database))
    except Exception as exc:
        if error_code(exc) != "AlreadyExistsException":  # created meanwhile: fine
            raise
    return True


def database_input(database: str) -> dict[str, Any]:
    return {
        "Name": database,
        "Description": "shoplake: the silver zone of the lake (typed, de-duplicated Parquet).",
    }


def get_table(glue: Any, database: str, name: str) -> dict[str, Any] | None:
    try:
        return glue.get_table(DatabaseName=database, Name=name)["Table"]
    except Exception as exc:
        if error_code(exc) == "EntityNotFoundException":
            return None
        raise


def ensure_table(
    glue: Any, database: str, ds: Dataset, lake_uri: str
) -> tuple[str, dict[str, Any]]:
    """Create or update one silver table: ('created', 'updated' or 'unchanged', the table).

    A table that exists at another location belongs to another lake: that is an error,
    never silently repointed.
    """
    desired = table_input(ds, lake_uri)
    current = get_table(glue, database, ds.name)
    if current is None:
        try:
            glue.create_table(DatabaseName=database, TableInput=desired)
            return "created", desired
        except Exception as exc:
            if error_code(exc) != "AlreadyExistsException":
                raise
            current = get_table(glue, database, ds.name) or {}
    drift = table_drift(current, desired)
    if "location" in drift:
        raise AwsError(
            f"Glue table {database}.{ds.name} is at "
            f"{current['StorageDescriptor'].get('Location')}, not at this lake's "
            f"{desired['StorageDescriptor']['Location']}",
            f"use another Glue database for this lake ({DATABASE_ENV}) or redeploy",
            resource=f"{database}.{ds.name}",
        )
    if not drift:
        return "unchanged", current
    glue.update_table(DatabaseName=database, TableInput=desired)
    return "updated", desired


@dataclass
class PartitionSync:
    """What :func:`sync_partitions` did, per dataset."""

    database: str
    tables: dict[str, str] = field(default_factory=dict)  # dataset -> created/updated/...
    added: dict[str, list[date]] = field(default_factory=dict)
    registered: dict[str, int] = field(default_factory=dict)  # partitions after the sync

    @property
    def added_count(self) -> int:
        return sum(len(days) for days in self.added.values())

    def as_report(self) -> Report:
        return Report(
            title=f"Glue catalog {self.database}",
            columns=["table", "table definition", "partitions added", "partitions"],
            rows=[
                [name, self.tables.get(name, ""), len(self.added.get(name, [])), count]
                for name, count in self.registered.items()
            ],
        )


def sync_partitions(
    lake: Lake | str,
    database: str | None = None,
    *,
    datasets: Iterable[str] | None = None,
    session: AwsSession | None = None,
) -> PartitionSync:
    """Register every published silver partition of an ``s3://`` lake in Glue.

    Creates the database and any missing table first (so a fresh account works without
    ``shoplake deploy aws``), updates tables whose definition no longer matches the
    contract, then adds the partitions Glue lacks, 100 per call. Never deletes anything.
    ``database`` defaults to ``SHOPLAKE_GLUE_DATABASE``, then ``shoplake``.
    """
    lake = lake if isinstance(lake, Lake) else Lake.at(lake)
    if lake.is_local:
        raise ConfigError(
            f"lake {lake.url()} is a local directory: the Glue catalog points at S3",
            "use an s3://bucket/prefix lake",
            setting="lake",
        )
    lake_uri = lake.url()
    session = session or AwsSession()
    database = database or default_database()
    glue = session.client("glue")
    names = list(datasets) if datasets is not None else list(DATASETS)
    unknown = [n for n in names if n not in DATASETS]
    if unknown:
        raise ConfigError(
            f"unknown datasets {', '.join(unknown)}",
            f"known: {', '.join(DATASETS)}",
            setting="datasets",
        )
    result = PartitionSync(database)
    with aws_errors(f"registering {lake_uri} in Glue database {database}"):
        _sync(glue, lake, database, names, result)
    return result


def _sync(glue: Any, lake: Lake, database: str, names: list[str], result: PartitionSync) -> None:
    lake_uri = lake.url()
    ensure_database(glue, database)
    for name in names:
        ds = DATASETS[name]
        result.tables[name], table = ensure_table(glue, database, ds, lake_uri)
        existing = registered_partitions(glue, database, name)
        missing = sorted(
            d for d in silver_days(lake, name) if tuple(partition_values(d)) not in existing
        )
        for start in range(0, len(missing), PARTITION_BATCH):
            batch = missing[start : start + PARTITION_BATCH]
            _create_partitions(glue, database, table, batch)
        result.added[name] = missing
        result.registered[name] = len(existing) + len(missing)


def _create_partitions(glue: Any, database: str, table: dict[str, Any], days: list[date]) -> None:
    storage = table["StorageDescriptor"]
    location = storage["Location"].rstrip("/") + "/"
    inputs = [
        {
            "Values": partition_values(day),
            "StorageDescriptor": {**storage, "Location": f"{location}{day_partition(day)}/"},
        }
        for day in days
    ]
    response = glue.batch_create_partition(
        DatabaseName=database, TableName=table["Name"], PartitionInputList=inputs
    )
    errors = [
        e
        for e in response.get("Errors", [])
        if e.get("ErrorDetail", {}).get("ErrorCode") != "AlreadyExistsException"
    ]
    if errors:
        first = errors[0]
        raise AwsError(
            f"Glue refused {len(errors)} partition(s) of {database}.{table['Name']}, e.g. "
            f"{'/'.join(first.get('PartitionValues', []))}: "
            f"{first.get('ErrorDetail', {}).get('ErrorMessage', 'no reason given')}",
            "check the ingest role's Glue permissions; the next sync retries them",
            resource=f"{database}.{table['Name']}",
        )
