"""The Lake API that every module (and other helpers) read and write the lake through:
the same behaviour on a local directory and on S3, checked against what plain boto3 or
the file system sees."""

from __future__ import annotations

from datetime import date, datetime

import pytest
from s3lake_kit import get, keys, put, shoplake

from shoplake.contract import DATASETS
from shoplake.errors import ShoplakeError
from shoplake.lake import Lake


@pytest.fixture(params=["local", "s3"])
def lake(request, tmp_path) -> Lake:
    if request.param == "local":
        return Lake.at(tmp_path / "lake")
    return Lake.at(request.getfixturevalue("lake_url"))


def _outside(lake: Lake, key: str, data: bytes) -> None:
    """Write a file as another program would (not through shoplake)."""
    if lake.is_local:
        path = lake.path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    else:
        bucket, _, prefix = lake.url()[len("s3://") :].partition("/")
        put(bucket, f"{prefix}/{key}", data)


def test_write_read_list_delete(lake):
    assert lake.list("") == []
    assert not lake.exists("_state/a.json")
    with pytest.raises(FileNotFoundError):
        lake.read_bytes("_state/a.json")
    lake.write_atomic("_state/a.json", '{"a": 1}')
    lake.write_atomic("_state/sub/b.bin", b"\x00\x01")
    assert lake.read_text("_state/a.json") == '{"a": 1}'
    assert lake.read_bytes("_state/sub/b.bin") == b"\x00\x01"
    _outside(lake, "_state/c.txt", b"from elsewhere")  # listings are never cached
    listed = lake.list("_state")
    assert [e.key for e in listed] == ["_state/a.json", "_state/c.txt", "_state/sub/b.bin"]
    assert [e.size for e in listed] == [8, 14, 2]
    assert lake.any("_state/sub")
    assert not lake.any("_state/su")  # a prefix is a folder, not a string prefix
    assert lake.list("_state/su") == []
    before = lake.info("_state/a.json")
    lake.write_atomic("_state/a.json", '{"a": 2}')
    assert lake.info("_state/a.json").version != before.version  # what a manifest compares
    assert [k for k, _ in lake.read_many(["_state/c.txt", "_state/a.json"])] == [
        "_state/c.txt",
        "_state/a.json",
    ]
    lake.delete("_state/a.json")
    lake.delete("_state/a.json")  # deleting what is gone is fine
    assert not lake.exists("_state/a.json")
    lake.delete_prefix("_state/sub")
    assert [e.key for e in lake.list("")] == ["_state/c.txt"]


def test_publish_a_local_file_in_one_step(lake):
    scratch = lake.scratch_file("raw/orders/2026/03/01/o.csv")
    scratch.write_text("order_id\nO1\n")
    assert lake.list_raw(DATASETS["orders"]) == []  # not visible while being written
    lake.publish_file(scratch, "raw/orders/2026/03/01/o.csv")
    assert not scratch.exists()
    assert [e.key for e in lake.list_raw(DATASETS["orders"])] == ["raw/orders/2026/03/01/o.csv"]
    assert lake.read_text("raw/orders/2026/03/01/o.csv") == "order_id\nO1\n"


def test_layout_and_urls(lake):
    assert lake.partition_key("orders", date(2026, 3, 1)) == (
        "silver/orders/year=2026/month=03/day=01/data.parquet"
    )
    assert lake.landing_prefix("clickstream", datetime(2026, 3, 1, 7)) == (
        "raw/clickstream/2026/03/01/07"
    )
    assert lake.url("silver/x") == f"{lake.url()}/silver/x"
    assert lake.relative(lake.url("silver/x")) == "silver/x"
    for name in ("_part.csv", ".hidden.csv", "o.txt"):  # in-progress uploads, other files
        _outside(lake, f"raw/orders/2026/03/01/{name}", b"x")
    _outside(lake, "raw/orders/2026/03/01/_tmp/o.csv", b"x")
    assert lake.list_raw(DATASETS["orders"]) == []


def test_s3_lake_paths_and_local_dir(lake_url, s3_bucket, tmp_path):
    lake = Lake.at(lake_url + "/")
    assert lake.url() == lake_url
    assert lake.local_dir == tmp_path / "local" / "s3" / s3_bucket / "shop"
    with pytest.raises(ShoplakeError, match="local lake directory"):
        _ = lake.root  # no local path for an object-store lake
    lake.write_atomic("_state/x.json", "{}")
    assert keys(s3_bucket, "shop/") == ["shop/_state/x.json"]
    assert get(s3_bucket, "shop/_state/x.json") == b"{}"


@pytest.mark.parametrize(
    ("location", "message"),
    [
        ("gs://bucket/lake", "only local directories and s3:// locations"),
        ("s3://", "not a valid S3 location"),
        ("s3://bucket/../x", "not a valid S3 location"),
    ],
)
def test_unsupported_locations_are_one_clear_line(location, message):
    result = shoplake("ingest", "--lake", location)
    assert result.returncode == 1
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_a_missing_bucket_is_one_clear_line(aws_env):
    result = shoplake("ingest", "--lake", "s3://no-such-bucket-here/lake")
    assert result.returncode == 1
    assert "bucket 'no-such-bucket-here' does not exist" in result.stderr
    assert "Traceback" not in result.stderr


def test_missing_credentials_are_one_clear_line(aws_env, monkeypatch, tmp_path):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(name)
    result = shoplake(
        "ingest",
        "--lake",
        "s3://some-bucket/lake",
        AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "none"),
        AWS_CONFIG_FILE=str(tmp_path / "none"),
        AWS_EC2_METADATA_DISABLED="true",
    )
    assert result.returncode == 1
    assert "no AWS credentials found" in result.stderr
    assert "Traceback" not in result.stderr
