"""An ingest into an s3:// lake registers every silver partition it publishes in Glue.

The expected partitions are read back from the bucket with boto3 (every
``silver/<dataset>/year=/month=/day=/data.parquet`` object), the registered ones from
Glue's API: the two must be equal after the first ingest, after a later delivery of new
days, and a run that published nothing adds nothing.
"""

from __future__ import annotations

import re

import boto3
from s3lake_kit import keys, shoplake

from shoplake.contract import DATASETS

DATABASE = "shop_test_catalog"
SILVER = re.compile(r"silver/(?P<ds>[a-z_]+)/year=(\d{4})/month=(\d{2})/day=(\d{2})/data\.parquet$")


def silver_partitions(bucket: str) -> set[tuple[str, str, str, str]]:
    found = set()
    for key in keys(bucket, "shop/silver/"):
        m = SILVER.search(key)
        if m:
            found.add(m.groups())
    return found


def glue_partitions(database: str = DATABASE) -> set[tuple[str, str, str, str]]:
    glue = boto3.client("glue")
    found = set()
    for table in glue.get_tables(DatabaseName=database)["TableList"]:
        pages = glue.get_paginator("get_partitions").paginate(
            DatabaseName=database, TableName=table["Name"]
        )
        for page in pages:
            for partition in page["Partitions"]:
                found.add((table["Name"], *partition["Values"]))
    return found


def test_ingest_registers_every_silver_partition_in_glue(lake_url: str, s3_bucket: str) -> None:
    env = {"SHOPLAKE_GLUE_DATABASE": DATABASE}
    first = shoplake("generate", "--lake", lake_url, "--start", "2026-10-01", "--days", "2",
                     "--orders-per-day", "15")  # fmt: skip
    assert first.returncode == 0, first.stderr
    ingest = shoplake("ingest", "--lake", lake_url, **env)
    assert ingest.returncode == 0, ingest.stderr
    assert "Glue catalog" in ingest.stdout
    published = silver_partitions(s3_bucket)
    assert {p[0] for p in published} == set(DATASETS)  # the generator delivers every one
    assert glue_partitions() == published

    # two more days land: their partitions are registered, the old ones stay
    more = shoplake("generate", "--lake", lake_url, "--start", "2026-10-03", "--days", "2",
                    "--orders-per-day", "15", "--seed", "9")  # fmt: skip
    assert more.returncode == 0, more.stderr
    assert shoplake("ingest", "--lake", lake_url, **env).returncode == 0
    grown = silver_partitions(s3_bucket)
    assert grown > published
    assert glue_partitions() == grown

    # nothing new: nothing added
    again = shoplake("ingest", "--lake", lake_url, **env)
    assert again.returncode == 0, again.stderr
    assert glue_partitions() == grown


def test_without_a_glue_database_ingest_leaves_the_catalog_alone(
    lake_url: str, s3_bucket: str
) -> None:
    assert shoplake("generate", "--lake", lake_url, "--start", "2026-10-01", "--days", "1",
                    "--orders-per-day", "10").returncode == 0  # fmt: skip
    before = catalog()
    result = shoplake("ingest", "--lake", lake_url, SHOPLAKE_GLUE_DATABASE="")
    assert result.returncode == 0, result.stderr
    assert silver_partitions(s3_bucket)  # it did publish
    assert "Glue catalog" not in result.stdout
    assert catalog() == before  # (the local endpoint is shared by this worker's tests)


def catalog() -> dict[str, set]:
    """Every database of the endpoint's Glue catalog and its partitions."""
    databases = boto3.client("glue").get_databases()["DatabaseList"]
    return {d["Name"]: glue_partitions(d["Name"]) for d in databases}
