"""What a build and the docs consumed: the fingerprints move with the data, the project
and the settings, and only with them (shoplake.build_state; no dbt run needed)."""

from __future__ import annotations

import json
import shutil
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from shoplake import build_state
from shoplake.lake import Lake
from shoplake.warehouse import dbt_env, project_dir

SALT = "a-test-salt"


def small_lake(root: Path) -> Lake:
    lake = Lake.at(root)
    partition = lake.partition_dir("orders", date(2026, 10, 1))
    partition.mkdir(parents=True)
    pq.write_table(pa.table({"order_id": ["o-1"]}), partition / "data.parquet")
    ingest_batch(lake, 1)
    return lake


def ingest_batch(lake: Lake, seq: int) -> None:
    path = lake.state_dir("ingest", "sequence.json")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"ingest_seq": seq}))


def copy_of_project(target: Path) -> Path:
    source = project_dir()
    for name in build_state.PROJECT_PATHS:
        if (source / name).is_dir():
            shutil.copytree(source / name, target / name)
        else:
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source / name, target / name)
    return target


def prints(lake: Lake, project: Path, salt: str = SALT) -> build_state.Fingerprints:
    return build_state.fingerprints(lake, project, dbt_env(lake, "dev"), salt)


def test_the_build_fingerprint_moves_with_the_data_and_the_docs_one_does_not(
    tmp_path: Path,
) -> None:
    lake = small_lake(tmp_path / "lake")
    project = copy_of_project(tmp_path / "project")
    first = prints(lake, project)
    assert prints(lake, project) == first  # nothing moved

    ingest_batch(lake, 2)  # a new ingest batch
    second = prints(lake, project)
    assert (second.build != first.build, second.docs, second.ingest_seq) == (True, first.docs, 2)

    # silver rewritten without a new batch (a quarantine replay, a compaction)
    extra = lake.partition_dir("orders", date(2026, 10, 2))
    extra.mkdir(parents=True)
    pq.write_table(pa.table({"order_id": ["o-2"]}), extra / "data.parquet")
    third = prints(lake, project)
    assert third.build != second.build
    assert third.docs == first.docs

    # another salt changes what the build would write, never the docs
    assert prints(lake, project, salt="another").build != third.build


def test_a_change_to_the_project_moves_both_fingerprints(tmp_path: Path) -> None:
    lake = small_lake(tmp_path / "lake")
    project = copy_of_project(tmp_path / "project")
    before = prints(lake, project)
    model = project / "models" / "marts" / "core" / "dim_users.sql"
    model.write_text(model.read_text() + "\n-- a comment\n")
    after = prints(lake, project)
    assert after.build != before.build
    assert after.docs != before.docs


def test_what_was_consumed_is_recorded_and_forgotten(tmp_path: Path) -> None:
    artifacts = tmp_path / "artifacts"
    assert not build_state.up_to_date(artifacts, "build", "f1")  # never built
    build_state.record(artifacts, "build", "f1", ingest_seq=7)
    build_state.record(artifacts, "docs", "d1")
    assert build_state.up_to_date(artifacts, "build", "f1")
    assert not build_state.up_to_date(artifacts, "build", "f2")
    assert build_state.consumed(artifacts, "build")["ingest_seq"] == 7
    build_state.forget(artifacts, "build")  # a build started
    assert not build_state.up_to_date(artifacts, "build", "f1")
    assert build_state.up_to_date(artifacts, "docs", "d1")
