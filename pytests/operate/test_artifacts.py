"""`shoplake artifacts push|pull`: a target's manifest.json and run_results.json round-trip
through the lake's `_state/dbt/<target>/`, on a local lake and on the local S3 endpoint."""

from __future__ import annotations

import shutil

import boto3
from cli_kit import run_shoplake, the_error_line

from shoplake.artifacts import ARTIFACT_FILES, push
from shoplake.lake import Lake
from shoplake.warehouse import artifacts_dir


def test_push_then_pull_round_trips_on_a_local_lake(lake_copy, tmp_path):
    built = artifacts_dir(lake_copy, "dev") / "target"
    pushed = run_shoplake("artifacts", "push", "--lake", str(lake_copy.root))
    assert pushed.returncode == 0, pushed.stderr
    for name in ARTIFACT_FILES:
        kept = lake_copy.root / "_state" / "dbt" / "dev" / name
        assert kept.read_bytes() == (built / name).read_bytes()
    # the next build replaces target/; the lake keeps what was pushed
    shutil.rmtree(built)
    pulled = run_shoplake(
        "artifacts", "pull", "--lake", str(lake_copy.root), "--to", str(tmp_path / "state")
    )
    assert pulled.returncode == 0, pulled.stderr
    for name in ARTIFACT_FILES:
        assert (tmp_path / "state" / name).read_bytes() == (
            lake_copy.root / "_state" / "dbt" / "dev" / name
        ).read_bytes()
    assert b'"nodes"' in (tmp_path / "state" / "manifest.json").read_bytes()


def test_push_then_pull_round_trips_on_s3(built_lake, s3_bucket, aws_env, tmp_path, monkeypatch):
    monkeypatch.setenv("SHOPLAKE_LOCAL_DIR", str(tmp_path / "local"))
    lake_url = f"s3://{s3_bucket}/shop"
    lake = Lake.at(lake_url)
    local = artifacts_dir(lake, "dev") / "target"  # where a build of this S3 lake leaves them
    local.mkdir(parents=True)
    built = artifacts_dir(built_lake.lake, "dev") / "target"
    for name in ARTIFACT_FILES:
        shutil.copyfile(built / name, local / name)
    push(lake, "dev")
    s3 = boto3.client("s3", endpoint_url=aws_env["AWS_ENDPOINT_URL"])
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket=s3_bucket)["Contents"]}
    assert keys == {f"shop/_state/dbt/dev/{name}" for name in ARTIFACT_FILES}
    shutil.rmtree(local)
    pulled = run_shoplake("artifacts", "pull", "--lake", lake_url, "--to", str(tmp_path / "state"))
    assert pulled.returncode == 0, pulled.stderr
    for name in ARTIFACT_FILES:
        assert (tmp_path / "state" / name).read_bytes() == (built / name).read_bytes()


def test_pull_of_a_target_never_pushed_is_one_line(lake_copy, tmp_path):
    to = tmp_path / "state"
    result = run_shoplake(
        "artifacts",
        "pull",
        "--lake",
        str(lake_copy.root),
        "--target",
        "prod",
        "--to",
        str(to),
    )
    line = the_error_line(result)
    assert "no dbt artifacts of target 'prod'" in line
    assert "shoplake artifacts push --target prod" in line
    assert not to.exists()


def test_push_without_a_build_is_one_line(lake_copy):
    shutil.rmtree(artifacts_dir(lake_copy, "dev") / "target")
    line = the_error_line(run_shoplake("artifacts", "push", "--lake", str(lake_copy.root)))
    assert "no manifest.json" in line
    assert "shoplake build --target dev" in line
    assert not (lake_copy.root / "_state" / "dbt" / "dev" / "manifest.json").exists()
