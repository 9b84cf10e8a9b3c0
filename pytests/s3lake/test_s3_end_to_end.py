"""The whole path on an s3:// lake, through the CLI: generate -> ingest -> build (dev).

The same arguments on a local directory are the reference: the raw files must be the
same bytes, silver and quarantine the same rows, the marts the same figures. The
accounting is checked against the generator's own counts of what it delivered, and a
second ingest must not write a single object (S3 versioning shows every write).
"""

from __future__ import annotations

import json

import pytest
from marts import DIMENSIONS, FACTS, GOLD
from s3lake_kit import (
    DATASETS,
    STATS,
    by_partition,
    get,
    keys,
    local_file_hashes,
    local_parquet,
    mart_rows,
    objects,
    run_logs,
    s3,
    s3_file_hashes,
    s3_parquet,
    shoplake,
    versions,
)

from shoplake.lake import Lake
from shoplake.warehouse import build

GENERATE = ["--start", "2026-03-02", "--days", "2", "--orders-per-day", "20", "--seed", "5"]
#: Per-run bookkeeping that every run writes or touches by design.
RUN_STATE = ("_state/runs/", "_state/txn/", "_state/ingest.lock")


def _persistent(listing: dict) -> dict:
    return {k: v for k, v in listing.items() if not k.startswith(RUN_STATE)}


@pytest.mark.slow
def test_generate_ingest_build_on_s3_match_a_local_lake(lake_url, s3_bucket, tmp_path):
    s3().put_bucket_versioning(Bucket=s3_bucket, VersioningConfiguration={"Status": "Enabled"})
    local = tmp_path / "lake"

    # generate: same bytes on S3 as in a directory
    for where in (lake_url, str(local)):
        done = shoplake("generate", "--lake", where, *GENERATE, "--faults")
        assert done.returncode == 0, done.stderr
    assert s3_file_hashes(s3_bucket, "shop/raw/") == local_file_hashes(local / "raw")
    assert not [k for k in keys(s3_bucket, "shop/raw/") if "/_" in k]  # no temporary objects
    summary = json.loads(get(s3_bucket, "shop/_state/generate/summary.json"))

    # ingest: every delivered record accounted as the generator counted it
    done = shoplake("ingest", "--lake", lake_url)
    assert done.returncode == 0, done.stderr
    (log,) = run_logs(s3_bucket, "shop/").values()
    assert log["balanced"]
    for ds in DATASETS:
        expected = summary["datasets"][ds]["expected_ingest"]
        got = {k: log["datasets"][ds][k] for k in expected}
        assert got == expected, ds
        assert log["datasets"][ds]["files_read"] == summary["datasets"][ds]["files"], ds
    assert sum(summary["fault_totals"].values()) > 0  # bad input was there to account for

    done = shoplake("ingest", "--lake", str(local))
    assert done.returncode == 0, done.stderr
    silver = s3_parquet(s3_bucket, "shop/silver/")
    assert silver == local_parquet(local / "silver")
    assert {k.split("/")[0] for k in silver} == set(DATASETS)
    assert by_partition(s3_parquet(s3_bucket, "shop/quarantine/")) == by_partition(
        local_parquet(local / "quarantine")
    )

    # a second ingest reads nothing and writes nothing but its own run log
    before = _persistent(objects(s3_bucket, "shop/"))
    kept = _persistent(versions(s3_bucket, "shop/"))
    done = shoplake("ingest", "--lake", lake_url)
    assert done.returncode == 0, done.stderr
    assert _persistent(objects(s3_bucket, "shop/")) == before  # same ETags, same times
    assert _persistent(versions(s3_bucket, "shop/")) == kept  # not even an identical PUT
    second = [v for k, v in run_logs(s3_bucket, "shop/").items() if k != log["run_id"]]
    assert [st[f] for st in second[0]["datasets"].values() for f in STATS] == [0] * (
        len(STATS) * len(DATASETS)
    )
    assert not keys(s3_bucket, "shop/_state/txn/")
    assert not keys(s3_bucket, "shop/_state/ingest.lock")

    # build on S3 (every dbt test included) = build on the local lake
    done = shoplake("build", "--lake", lake_url, "--target", "dev")
    assert done.returncode == 0, done.stdout + done.stderr
    warehouse = tmp_path / "local" / "s3" / s3_bucket / "shop" / "warehouse.duckdb"
    assert warehouse.is_file()
    assert not [k for k in keys(s3_bucket, "shop/") if k.endswith(".duckdb")]
    reference = tmp_path / "reference.duckdb"
    build(Lake.at(local), duckdb_path=reference, tests=False, quiet=True)
    for table in FACTS + GOLD + DIMENSIONS:
        rows = mart_rows(warehouse, table)
        assert rows, f"{table} is empty: the comparison would prove nothing"
        assert rows == mart_rows(reference, table), table
