"""The Redshift Spectrum DDL of ``dbt run-operation stage_external_sources --target prod``
agrees with the Glue tables and partitions that ``shoplake deploy aws`` and
``sync_partitions`` create: same database, table names, columns, types, partition keys,
locations and format, and the same partition values and locations for the same days.

Why it matters: on AWS the run-operation finds the tables deploy created (it only creates
missing ones), so Spectrum reads with Glue's definitions; if the two disagreed, the
warehouse's sources would silently differ from what the dbt source YAML promises.

The SQL is captured offline (pytests/warehouse/redshift_capture.py: dbt-redshift with a
recording connection, no cluster); the Glue side is read back from the local endpoint.
"""

from __future__ import annotations

import io
import json
import re
from datetime import date
from pathlib import Path

import boto3
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from aws_kit import unique_name
from redshift_kit import capture

from shoplake.aws.catalog import sync_partitions
from shoplake.aws.deploy import Deployment, deploy

DAYS = [date(2026, 10, 1), date(2026, 10, 2), date(2026, 10, 3)]

_SCHEMA = re.compile(
    r"create external schema if not exists \"(?P<schema>\w+)\" from data catalog "
    r"database '(?P<database>[^']+)' iam_role '(?P<role>[^']+)'"
)
_TABLE = re.compile(
    r"create external table \"(?P<schema>\w+)\"\.\"(?P<table>\w+)\" \((?P<columns>.*?)\)\s*"
    r"partitioned by \((?P<partitions>.*?)\)\s*stored as (?P<format>\w+)\s*"
    r"location '(?P<location>[^']+)'",
    re.S,
)
_ADD_PARTITIONS = re.compile(
    r"alter table \"\w+\"\.\"(?P<table>\w+)\" add if not exists(?P<specs>.*)", re.S
)
_SPEC = re.compile(
    r"partition \(year = '(\d+)', month = '(\d+)', day = '(\d+)'\) location '([^']+)'"
)
_COLUMN = re.compile(r"^\"(\w+)\"\s+(.+)$", re.S)


def _capture_stage_external_sources(tmp: Path, env: dict[str, str]) -> list[str]:
    days = json.dumps({"start_date": f"{DAYS[0]}", "end_date": f"{DAYS[-1]}"})
    code, captured, output = capture(
        tmp, "run-operation", "stage_external_sources", "--args", days, env=env
    )
    assert code == 0, output[-4000:]
    return [item["sql"] for item in captured]


def _columns(text: str) -> list[tuple[str, str]]:
    """``"a" varchar(4), "b" decimal(18,2)`` -> [(a, varchar(4)), (b, decimal(18,2))]."""
    columns = []
    for item in re.split(r",\s*(?=\")", text.strip()):
        m = _COLUMN.match(item.strip())
        assert m, f"not a column definition: {item!r}"
        columns.append((m[1], m[2].strip()))
    return columns


@pytest.mark.slow
def test_spectrum_ddl_matches_the_glue_catalog(aws_env, tmp_path):
    d = Deployment(name=unique_name())
    deploy(d)
    s3, glue, iam = boto3.client("s3"), boto3.client("glue"), boto3.client("iam")
    # The endpoint speaks plain HTTP, which the bucket policy denies: drop it to upload.
    s3.delete_bucket_policy(Bucket=d.processed_bucket)
    buffer = io.BytesIO()
    pq.write_table(pa.table({"order_id": ["O1"]}), buffer)
    for day in DAYS:
        key = f"lake/silver/orders/year={day:%Y}/month={day:%m}/day={day:%d}/data.parquet"
        s3.put_object(Bucket=d.processed_bucket, Key=key, Body=buffer.getvalue())
    sync_partitions(d.lake_uri, d.glue_database)
    role_arn = iam.get_role(RoleName=d.role("redshift_spectrum"))["Role"]["Arn"]

    statements = _capture_stage_external_sources(
        tmp_path,
        {  # on top of redshift_kit.PROD_ENV: this deployment's lake, catalog and role
            "SHOPLAKE_LAKE": d.lake_uri,
            "SHOPLAKE_GLUE_DATABASE": d.glue_database,
            "SHOPLAKE_SPECTRUM_IAM_ROLE": role_arn,
        },
    )
    text = "\n".join(statements)

    (schema,) = [m.groupdict() for m in _SCHEMA.finditer(text)]
    assert schema["database"] == d.glue_database
    assert schema["role"] == role_arn

    tables = {m["table"]: m.groupdict() for m in _TABLE.finditer(text)}
    glue_tables = glue.get_tables(DatabaseName=d.glue_database)["TableList"]
    assert sorted(tables) == sorted(t["Name"] for t in glue_tables)
    for table in glue_tables:
        spectrum = tables[table["Name"]]
        storage = table["StorageDescriptor"]
        assert spectrum["schema"] == schema["schema"]
        assert _columns(spectrum["columns"]) == [(c["Name"], c["Type"]) for c in storage["Columns"]]
        assert _columns(spectrum["partitions"]) == [
            (p["Name"], p["Type"]) for p in table["PartitionKeys"]
        ]
        assert spectrum["location"] == storage["Location"]
        assert spectrum["format"] == "parquet"
        assert storage["SerdeInfo"]["SerializationLibrary"].endswith("ParquetHiveSerDe")

    # the partitions Spectrum would add for those days are the ones sync registered
    added: dict[str, list[tuple[str, ...]]] = {}
    for statement in statements:
        m = _ADD_PARTITIONS.search(statement)
        if m:
            added.setdefault(m["table"], []).extend(_SPEC.findall(m["specs"]))
    added = {table: sorted(specs) for table, specs in added.items()}
    assert sorted(added) == sorted(tables)
    registered = sorted(
        (*p["Values"], p["StorageDescriptor"]["Location"])
        for p in glue.get_partitions(DatabaseName=d.glue_database, TableName="orders")["Partitions"]
    )
    assert added["orders"] == registered
