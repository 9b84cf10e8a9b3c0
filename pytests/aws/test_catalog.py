"""The Glue Data Catalog: tables that match the contract and the dbt sources, and
sync_partitions registering exactly the silver partitions that exist, idempotently.

Silver files are small real Parquet files written with pyarrow into the lake layout on
the local S3 endpoint; the expected partitions are the days written here.
"""

from __future__ import annotations

import io
from datetime import date, timedelta
from pathlib import Path

import boto3
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from aws_kit import unique_name

from shoplake.aws.catalog import sync_partitions
from shoplake.contract import DATASETS, LINEAGE_COLUMNS
from shoplake.errors import ShoplakeError
from shoplake.warehouse import project_dir

PARQUET_SERDE = "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"


def _table(deployed, name: str) -> dict:
    d = deployed.deployment
    return deployed.client("glue").get_table(DatabaseName=d.glue_database, Name=name)["Table"]


def test_one_glue_table_per_dataset_with_the_contracts_columns(deployed):
    d = deployed.deployment
    tables = deployed.client("glue").get_tables(DatabaseName=d.glue_database)["TableList"]
    assert sorted(t["Name"] for t in tables) == sorted(DATASETS)
    for name, ds in DATASETS.items():
        table = _table(deployed, name)
        storage = table["StorageDescriptor"]
        expected = [f.name for f in ds.fields] + [x.name for x in ds.derived]
        expected += [c for c, _, _ in LINEAGE_COLUMNS]
        assert [c["Name"] for c in storage["Columns"]] == expected
        assert [p["Name"] for p in table["PartitionKeys"]] == ["year", "month", "day"]
        assert storage["Location"] == f"s3://{d.processed_bucket}/lake/silver/{name}/"
        assert storage["SerdeInfo"]["SerializationLibrary"] == PARQUET_SERDE
        assert table["TableType"] == "EXTERNAL_TABLE"


def test_glue_tables_agree_with_the_dbt_source_definitions(deployed):
    """Same columns, types, partition keys and location as the committed source file."""
    d = deployed.deployment
    path = project_dir() / "models" / "staging" / "lake" / "_lake__sources.yml"
    (source,) = yaml.safe_load(path.read_text("utf-8"))["sources"]
    for spec in source["tables"]:
        table = _table(deployed, spec["name"])
        glue_columns = [(c["Name"], c["Type"]) for c in table["StorageDescriptor"]["Columns"]]
        assert glue_columns == [(c["name"], c["data_type"]) for c in spec["columns"]]
        partitions = [(p["Name"], p["Type"]) for p in table["PartitionKeys"]]
        assert partitions == [(p["name"], p["data_type"]) for p in spec["external"]["partitions"]]
        location = spec["external"]["location"].replace(
            "{{ env_var('SHOPLAKE_LAKE', 'lake') }}", d.lake_uri
        )
        assert table["StorageDescriptor"]["Location"] == location
        assert spec["external"]["file_format"] == "parquet"


# --- sync_partitions ------------------------------------------------------------------------
def _parquet() -> bytes:
    buffer = io.BytesIO()
    pq.write_table(pa.table({"order_id": ["O1", "O2"], "run_id": ["r1", "r1"]}), buffer)
    return buffer.getvalue()


def _put(bucket: str, key: str, body: bytes = b"") -> None:
    boto3.client("s3").put_object(Bucket=bucket, Key=key, Body=body or _parquet())


def _silver_key(prefix: str, dataset: str, day: date, name: str = "data.parquet") -> str:
    return f"{prefix}/silver/{dataset}/year={day:%Y}/month={day:%m}/day={day:%d}/{name}"


def _partitions(database: str, table: str) -> dict[tuple[str, ...], str]:
    pages = boto3.client("glue").get_paginator("get_partitions")
    return {
        tuple(p["Values"]): p["StorageDescriptor"]["Location"]
        for page in pages.paginate(DatabaseName=database, TableName=table)
        for p in page["Partitions"]
    }


def _expected(bucket: str, prefix: str, dataset: str, days) -> dict[tuple[str, ...], str]:
    return {
        (f"{d:%Y}", f"{d:%m}", f"{d:%d}"): (
            f"s3://{bucket}/{prefix}/silver/{dataset}/year={d:%Y}/month={d:%m}/day={d:%d}/"
        )
        for d in days
    }


ORDER_DAYS = [date(2026, 9, 30), date(2026, 10, 1), date(2026, 10, 2)]
CLICK_DAYS = [date(2026, 10, 2)]


@pytest.fixture
def silver_lake(s3_bucket: str) -> tuple[str, str]:
    """A lake on the endpoint with silver files for a few days, plus files that must not
    make a partition: an upload in progress, a transaction's staged copy, a raw file."""
    prefix = "shop/lake"
    for day in ORDER_DAYS:
        _put(s3_bucket, _silver_key(prefix, "orders", day))
    for day in CLICK_DAYS:
        _put(s3_bucket, _silver_key(prefix, "clickstream", day))
    _put(s3_bucket, _silver_key(prefix, "orders", date(2026, 10, 5), "_data.parquet.tmp"))
    _put(s3_bucket, f"{prefix}/_state/txn/r9/silver/orders/year=2026/month=10/day=06/data.parquet")
    _put(s3_bucket, f"{prefix}/raw/orders/2026/10/07/orders.csv", b"order_id\nO1\n")
    return s3_bucket, prefix


def test_sync_registers_exactly_the_published_silver_partitions(silver_lake):
    bucket, prefix = silver_lake
    database = unique_name()
    result = sync_partitions(f"s3://{bucket}/{prefix}", database)

    assert _partitions(database, "orders") == _expected(bucket, prefix, "orders", ORDER_DAYS)
    assert _partitions(database, "clickstream") == _expected(
        bucket, prefix, "clickstream", CLICK_DAYS
    )
    for name in set(DATASETS) - {"orders", "clickstream"}:
        assert _partitions(database, name) == {}
    assert result.added == {
        **{name: [] for name in DATASETS},
        "orders": ORDER_DAYS,
        "clickstream": CLICK_DAYS,
    }
    assert set(result.tables.values()) == {"created"}


def test_sync_is_idempotent_and_picks_up_new_and_lost_partitions(silver_lake):
    bucket, prefix = silver_lake
    lake, database = f"s3://{bucket}/{prefix}", unique_name()
    sync_partitions(lake, database)
    before = _partitions(database, "orders")

    again = sync_partitions(lake, database)
    assert again.added_count == 0
    assert set(again.tables.values()) == {"unchanged"}
    assert _partitions(database, "orders") == before

    # a new day arrives, and one registration got lost (a crash between ingest and sync)
    new_day = date(2026, 10, 3)
    _put(bucket, _silver_key(prefix, "orders", new_day))
    boto3.client("glue").batch_delete_partition(
        DatabaseName=database,
        TableName="orders",
        PartitionsToDelete=[{"Values": ["2026", "10", "01"]}],
    )
    third = sync_partitions(lake, database, datasets=["orders"])
    assert third.added == {"orders": [date(2026, 10, 1), new_day]}
    assert _partitions(database, "orders") == _expected(
        bucket, prefix, "orders", [*ORDER_DAYS, new_day]
    )


def test_sync_registers_more_partitions_than_one_glue_call_takes(s3_bucket):
    days = [date(2026, 1, 1) + timedelta(days=i) for i in range(130)]
    body = _parquet()
    for day in days:
        _put(s3_bucket, _silver_key("lake", "payments", day), body)
    database = unique_name()
    result = sync_partitions(f"s3://{s3_bucket}/lake", database, datasets=["payments"])
    assert result.added_count == 130
    assert _partitions(database, "payments") == _expected(s3_bucket, "lake", "payments", days)


def test_a_catalog_table_of_another_lake_is_an_error_not_repointed(silver_lake, s3_bucket):
    bucket, prefix = silver_lake
    database = unique_name()
    sync_partitions(f"s3://{bucket}/{prefix}", database, datasets=["orders"])
    with pytest.raises(ShoplakeError, match="not at this lake's"):
        sync_partitions(f"s3://{bucket}/elsewhere", database, datasets=["orders"])
    location = _partitions(database, "orders")[("2026", "10", "01")]
    assert location.startswith(f"s3://{bucket}/{prefix}/")


def test_sync_refuses_a_local_lake(tmp_path: Path, aws_env):
    with pytest.raises(ShoplakeError, match="local directory"):
        sync_partitions(str(tmp_path / "lake"), "anything")
