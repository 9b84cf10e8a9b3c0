"""The PostgreSQL side of an s3:// lake: ``shoplake extract products`` (the catalog in a
real PostgreSQL, the CSV and the watermark on S3, a second run delivers nothing) and
``shoplake load postgres`` (silver read from S3 into the ``lake`` schema)."""

from __future__ import annotations

import csv
import io
import json

import psycopg
from s3lake_kit import DATASETS, get, keys, run_logs, s3_parquet, shoplake


def test_extract_products_to_s3_then_ingest_and_load(lake_url, s3_bucket, postgres_db):
    done = shoplake(
        "generate", "--lake", lake_url, "--start", "2026-03-02", "--days", "1",
        "--orders-per-day", "5", "--postgres-dsn", postgres_db,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert not keys(s3_bucket, "shop/raw/products/")  # the catalog went to PostgreSQL
    with psycopg.connect(postgres_db) as conn:
        (in_table,) = conn.execute("select count(*) from public.products").fetchone()
    assert in_table > 0

    done = shoplake("extract", "products", "--lake", lake_url, "--postgres-dsn", postgres_db)
    assert done.returncode == 0, done.stderr
    (extracted,) = keys(s3_bucket, "shop/raw/products/")
    rows = list(csv.DictReader(io.StringIO(get(s3_bucket, extracted).decode())))
    assert len(rows) == in_table
    state = json.loads(get(s3_bucket, "shop/_state/extract/products.json"))
    assert state["tables"]["public.products"]["last_file"] == extracted[len("shop/") :]

    again = shoplake("extract", "products", "--lake", lake_url, "--postgres-dsn", postgres_db)
    assert again.returncode == 0, again.stderr
    assert keys(s3_bucket, "shop/raw/products/") == [extracted]  # nothing new: no file
    assert not [k for k in keys(s3_bucket, "shop/raw/") if "/_" in k]  # no temporary files

    done = shoplake("ingest", "--lake", lake_url)
    assert done.returncode == 0, done.stderr
    (log,) = run_logs(s3_bucket, "shop/").values()
    assert log["datasets"]["products"]["read"] == in_table
    assert log["datasets"]["products"]["written"] == in_table

    done = shoplake("load", "postgres", "--lake", lake_url, "--postgres-dsn", postgres_db)
    assert done.returncode == 0, done.stderr
    with psycopg.connect(postgres_db) as conn:
        for ds in DATASETS:
            silver = s3_parquet(s3_bucket, f"shop/silver/{ds}/")
            (loaded,) = conn.execute(f"select count(*) from lake.{ds}").fetchone()
            assert loaded == sum(len(rows) for rows in silver.values()), ds
