"""Gold on an S3 lake (the local AWS endpoint): published from the DuckDB warehouse into
``s3://.../gold/``, and registered in Glue so the Athena named queries find every mart
they read, with the warehouse's columns, and every published partition.

Not checked here: Athena running the queries (moto runs none).
"""

from __future__ import annotations

import re
import uuid

import boto3
import duckdb
import pytest

from shoplake.gold import MARTS, publish
from shoplake.lake import Lake
from shoplake.warehouse import project_dir


@pytest.fixture
def glue_database(aws_env, monkeypatch) -> str:
    name = f"gold_{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv("SHOPLAKE_GLUE_DATABASE", name)
    return name


def _warehouse_columns(built_lake, mart: str) -> list[str]:
    con = duckdb.connect(str(built_lake.warehouse), read_only=True)
    try:
        return [r[0] for r in con.execute(f"describe main.{mart}").fetchall()]
    finally:
        con.close()


def test_gold_on_s3_is_registered_in_glue_for_the_athena_analyses(
    built_lake, s3_bucket, glue_database, tmp_path, monkeypatch
):
    monkeypatch.setenv("SHOPLAKE_LOCAL_DIR", str(tmp_path / "local"))
    lake = Lake.at(f"s3://{s3_bucket}/lake")

    first = publish(lake, duckdb_path=built_lake.warehouse)

    assert first.written > 0
    s3 = boto3.client("s3")
    keys = {
        o["Key"]
        for page in s3.get_paginator("list_objects_v2").paginate(
            Bucket=s3_bucket, Prefix="lake/gold/"
        )
        for o in page.get("Contents", [])
    }
    glue = boto3.client("glue")
    for mart in MARTS:
        table = glue.get_table(DatabaseName=glue_database, Name=mart)["Table"]
        assert table["StorageDescriptor"]["Location"] == f"s3://{s3_bucket}/lake/gold/{mart}/"
        glue_columns = [c["Name"] for c in table["StorageDescriptor"]["Columns"]] + [
            k["Name"] for k in table["PartitionKeys"]
        ]
        expected = _warehouse_columns(built_lake, mart)
        if MARTS[mart].month_of:
            expected.append("month")
        assert sorted(glue_columns) == sorted(expected), mart
        files = sorted(
            k[len(f"lake/gold/{mart}/") : -len("/data.parquet")]
            for k in keys
            if k.startswith(f"lake/gold/{mart}/") and k.endswith("/data.parquet")
        )
        partitions = glue.get_partitions(DatabaseName=glue_database, TableName=mart)["Partitions"]
        registered = sorted(
            p["StorageDescriptor"]["Location"][len(f"s3://{s3_bucket}/lake/gold/{mart}/") :].rstrip(
                "/"
            )
            for p in partitions
        )
        if MARTS[mart].partition_keys:
            assert registered == files, mart
            assert files
            for p in partitions:
                assert (
                    "/".join(
                        f"{k['Name']}={v}"
                        for k, v in zip(table["PartitionKeys"], p["Values"], strict=True)
                    )
                    in p["StorageDescriptor"]["Location"]
                )
        else:
            assert keys >= {f"lake/gold/{mart}/data.parquet"}
            assert registered == []

    # every relation an analysis (an Athena named query) reads is a table in the database
    referenced = set()
    for sql in (project_dir() / "analyses").glob("*.sql"):
        referenced |= set(re.findall(r"ref\('([a-z_]+)'\)", sql.read_text()))
    tables = {t["Name"] for t in glue.get_tables(DatabaseName=glue_database)["TableList"]}
    assert referenced <= tables

    second = publish(lake, duckdb_path=built_lake.warehouse)
    assert second.written == 0
    assert second.catalog.summary().startswith("0 gold partitions added")
    assert set(second.catalog.tables.values()) == {"unchanged"}
