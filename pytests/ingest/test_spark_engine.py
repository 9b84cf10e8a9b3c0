"""``shoplake ingest --engine spark`` gives the lake the DuckDB engine gives.

Every comparison runs both engines on identical copies of one lake (the same raw files,
the same silver and state before the run) and asks for the same lake after it: each
silver partition file row for row in file order with every column and the same Parquet
types, each quarantine file row for row (reason, field, detail, reasons, file, line,
raw record), the same accounting per dataset, the same file manifest and batch number.
Only the new run's id differs (it is random), so it is compared as "this run".

The inputs are the hand-written cases of the other ingest test modules, run as they
are (their own assertions check the DuckDB lake against values worked out by hand),
with their ``ingest`` replaced by one that also runs Spark on a copy and compares; a
small generated lake with every kind of fault; a Spark ingest killed with SIGKILL at a
failpoint and then finished by either engine; a lake that switches engine between
days; and an ``s3://`` lake on moto's server (compared after a download with boto3),
ingested by either engine, and killed under Spark half-way through publishing. The
expected values come from the DuckDB engine or the hand-written input, never from the
Spark output.
"""

from __future__ import annotations

import inspect
import json
import shutil
import subprocess
import sys
from dataclasses import asdict
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest
import test_exchange_rates
import test_ingest_bad_input
import test_ingest_formats
import test_ingest_hostile
import test_ingest_incremental
from ingest_kit import (
    NOW,
    RUN_LINEAGE,
    cli_cmd,
    cli_env,
    parquet_rows,
    parquet_schema,
)
from marts import DIMENSIONS, FACTS, GOLD
from test_ingest_crash import _batch1, _batch2, check_batch2

from shoplake.ingest import IngestReport, run_ingest
from shoplake.ingest.spark import spark_error_line
from shoplake.lake import Lake
from shoplake.warehouse import build, default_duckdb_path

pytestmark = pytest.mark.spark

#: Columns that depend on when and by which run a row was written (a child's clock).
RUN_TIMES = (*RUN_LINEAGE, "quarantined_at")
STATE_FILES = ("_state/ingest/files.json", "_state/ingest/sequence.json")


# comparing two lakes ----------------------------------------------------------------------
def _files(lake: Lake, zone: str) -> list[str]:
    return sorted(
        p.relative_to(lake.root).as_posix() for p in (lake.root / zone).rglob("*.parquet")
    )


def _rows(path: Path, run_id: str, drop: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    """A Parquet file's rows in file order; ``run_id`` (this run) reads as "RUN"."""
    rows = []
    for row in parquet_rows(path):
        rows.append({k: ("RUN" if v == run_id else v) for k, v in row.items() if k not in drop})
    return rows


def assert_same_lake(
    duck: Lake,
    duck_report: IngestReport,
    spark: Lake,
    spark_report: IngestReport,
    *,
    drop: tuple[str, ...] = (),
) -> None:
    """The lakes are equal but for the id of the run just made (see the module doc);
    ``drop`` names columns not compared (the run time of runs made in a child)."""
    assert {n: asdict(s) for n, s in spark_report.datasets.items()} == {
        n: asdict(s) for n, s in duck_report.datasets.items()
    }
    assert spark_report.balanced
    assert duck_report.balanced
    assert spark_report.unmatched == duck_report.unmatched
    assert spark_report.recovered == duck_report.recovered
    _assert_same_files(duck, duck_report.run_id, spark, spark_report.run_id, drop)


def _assert_same_files(duck: Lake, duck_run: str, spark: Lake, spark_run: str, drop) -> None:
    silver = _files(duck, "silver")
    assert _files(spark, "silver") == silver
    for key in silver:
        assert parquet_schema(spark.root / key) == parquet_schema(duck.root / key), key
        assert _rows(spark.root / key, spark_run, drop) == _rows(duck.root / key, duck_run, drop)
    quarantine = [k.replace(duck_run, "RUN") for k in _files(duck, "quarantine")]
    assert [k.replace(spark_run, "RUN") for k in _files(spark, "quarantine")] == quarantine
    for key in quarantine:
        d, s = duck.root / key.replace("RUN", duck_run), spark.root / key.replace("RUN", spark_run)
        assert parquet_schema(s) == parquet_schema(d), key
        assert _rows(s, spark_run, drop) == _rows(d, duck_run, drop), key
    for key in STATE_FILES:
        assert (spark.root / key).read_bytes() == (duck.root / key).read_bytes(), key
    for lake in (duck, spark):  # nothing staged is left behind (Spark's work files neither)
        txn = lake.state_dir("txn")
        assert not txn.exists() or not any(txn.iterdir())


def warehouse_rows(lake: Lake, table: str) -> list[tuple]:
    """Every row of a mart of the lake's dev warehouse, sorted."""
    con = duckdb.connect(str(default_duckdb_path(lake)), read_only=True)
    try:
        return sorted(con.execute(f"select * from main.{table}").fetchall(), key=repr)
    finally:
        con.close()


def copy_lake(lake: Lake, name: str) -> Lake:
    """An identical copy beside the lake (file times kept: the manifest compares them)."""
    target = lake.root.parent / name
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(lake.root, target, symlinks=True)
    return Lake.at(target)


def both_engines(lake: Lake, now: datetime = NOW, **kw: Any) -> IngestReport:
    """Ingest ``lake`` with DuckDB and a copy of it with Spark; the lakes must be equal.
    Returns the DuckDB report (what the calling test goes on to check)."""
    twin = copy_lake(lake, lake.root.name + "-spark")
    duck = run_ingest(lake, now=now, engine="duckdb", **kw)
    spark = run_ingest(twin, now=now, engine="spark", **kw)
    assert_same_lake(lake, duck, twin, spark)
    return duck


# the hand-written cases of the other modules, with both engines ------------------------------
CASES = [
    (test_ingest_formats, "test_csv_gzip_bom_crlf", {"gz": True, "bom": True, "eol": "\r\n"}),
    (test_exchange_rates, "test_long_layout_validated_and_quarantined", {}),
    (test_ingest_incremental, "test_a_later_delivery_of_a_key_replaces_its_content", {}),
    (test_ingest_incremental, "test_rewritten_raw_file_adds_only_its_new_records", {}),
    (test_ingest_incremental, "test_late_records_merge_into_their_older_partition", {}),
    (test_ingest_formats, "test_awkward_file_names_and_lake_path", {}),
    (test_ingest_hostile, "test_links_and_special_files_are_quarantined_unread", {}),
    (test_ingest_hostile, "test_deep_clickstream_lines_are_quarantined_per_line", {}),
    (test_ingest_hostile, "test_years_before_1000_are_quarantined_and_partitions_zero_padded", {}),
    (test_ingest_hostile, "test_amounts_quantities_and_line_totals_beyond_the_bounds", {}),
    (test_ingest_hostile, "test_control_characters_in_ids_are_rejected", {}),
    (test_ingest_hostile, "test_a_lake_path_with_quotes_brackets_and_globs_ingests_twice", {}),
    (
        test_ingest_hostile,
        "test_raw_files_off_the_layout_are_reported_and_common_extensions_accepted",
        {},
    ),
]


@pytest.mark.parametrize(("module", "name", "params"), CASES, ids=[c[1][5:] for c in CASES])
def test_hand_written_cases_give_the_same_lake(
    spark, lake, tmp_path, monkeypatch, module, name, params
):
    monkeypatch.setattr(module, "ingest", both_engines)
    case = getattr(module, name)
    fixtures = {"lake": lake, "tmp_path": tmp_path}
    wanted = [p for p in inspect.signature(case).parameters if p in fixtures]
    case(**{p: fixtures[p] for p in wanted}, **params)


@pytest.mark.parametrize(
    "land",
    [test_ingest_bad_input.land_record_cases, test_ingest_bad_input.land_file_cases],
    ids=["bad_records_of_every_dataset", "bad_files_of_every_dataset"],
)
def test_the_bad_input_tables_give_the_same_lake(spark, lake, land):
    """The bad-input module's tables (every record case of each dataset in its file, every
    bad file beside good ones), landed as that module lands them, ingested by both."""
    land(lake)
    report = both_engines(lake)
    stats = report.datasets.values()
    assert sum(s.quarantined for s in stats), "no record was quarantined: nothing compared"
    assert sum(s.written for s in stats), "no record was written: nothing compared"


# a generated lake with every kind of fault ------------------------------------------------
def test_a_generated_lake_with_faults_gives_the_same_lake_and_warehouse(spark, tmp_path):
    """Two days of generated data with every kind of fault: the same lake, and the dbt
    build of each lake gives the same warehouse (every fact, dimension and aggregate)."""
    root = tmp_path / "generated"
    args = ["--start", "2026-03-01", "--days", "2", "--orders-per-day", "15", "--faults"]
    done = subprocess.run(
        [sys.executable, "-m", "shoplake.cli", "generate", "--lake", str(root), *args],
        env=cli_env(),
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    report = both_engines(Lake.at(root))
    faults = json.loads((root / "_state" / "generate" / "summary.json").read_text("utf-8"))
    assert faults, "the generator wrote no summary"
    assert all(s.read for s in report.datasets.values())
    assert sum(s.quarantined for s in report.datasets.values()) > 0
    assert sum(s.files_quarantined for s in report.datasets.values()) > 0
    assert sum(s.duplicates for s in report.datasets.values()) > 0

    duck, by_spark = Lake.at(root), Lake.at(root.parent / (root.name + "-spark"))
    for built in (duck, by_spark):
        assert build(built, tests=False, quiet=True).ok
    for table in (*FACTS, *DIMENSIONS, *GOLD):
        rows = warehouse_rows(duck, table)
        assert rows, table
        assert warehouse_rows(by_spark, table) == rows, table


# switching engines between runs -----------------------------------------------------------
def test_duckdb_day_one_then_spark_day_two_equals_duckdb_both_days(spark, lake):
    _batch1(lake)
    run_ingest(lake, now=NOW, engine="duckdb")
    _batch2(lake)
    report = both_engines(lake, now=NOW + timedelta(days=1))
    check_batch2(report)


# a Spark ingest killed with SIGKILL, finished by either engine ------------------------------
@pytest.mark.slow
@pytest.mark.parametrize("point", ["spark_work_files", "mid_publish"])
def test_a_killed_spark_ingest_is_finished_by_either_engine(spark, lake, point):
    """Batch 1 in, batch 2 landed; a Spark ingest (a child process) dies with SIGKILL
    at ``point``: with everything staged but not committed (the staged partitions and
    Spark's own files are left) or half-way through publishing. The next ingest, by
    DuckDB or by Spark, ends with the lake an uninterrupted DuckDB run makes."""
    _batch1(lake)
    run_ingest(lake, now=NOW, engine="duckdb")
    _batch2(lake)
    reference = copy_lake(lake, "reference")
    ref_report = run_ingest(reference, engine="duckdb")

    killed = subprocess.run(
        cli_cmd(lake, "--engine", "spark"),
        env=cli_env(SHOPLAKE_CRASH_AT=point, SHOPLAKE_SPARK_MASTER="local[2]"),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert killed.returncode == -9, killed.stderr[-2000:]
    staged = list(lake.state_dir("txn").rglob("*"))
    assert any(p.is_file() for p in staged), "the killed run left nothing to recover"
    if point == "spark_work_files":  # Spark's own files are in the transaction's folder
        assert any(p.is_file() and "spark" in p.parts for p in staged)
    (run_id,) = [p.name for p in lake.state_dir("txn").iterdir()]

    by_spark = copy_lake(lake, "finished-by-spark")
    for engine, finished in (("duckdb", lake), ("spark", by_spark)):
        report = run_ingest(finished, engine=engine)
        done = "discarded unfinished" if point == "spark_work_files" else "finished interrupted"
        assert report.recovered == [f"{done} run {run_id}"]
        if point == "spark_work_files":  # the rerun does the whole batch: same counts
            assert {n: asdict(s) for n, s in report.datasets.items()} == {
                n: asdict(s) for n, s in ref_report.datasets.items()
            }
            finished_run = report.run_id
        else:  # the killed run's own work was published: the rerun has nothing to read
            assert all(s.read == 0 for s in report.datasets.values())
            finished_run = run_id
        _assert_same_files(reference, ref_report.run_id, finished, finished_run, drop=RUN_TIMES)


# one-line errors ---------------------------------------------------------------------------
def test_spark_without_java_is_one_line_error(lake, tmp_path):
    (lake.root / "raw").mkdir()
    env = cli_env(SHOPLAKE_ENGINE="spark", PATH=str(tmp_path / "no-java-here"))
    env.pop("JAVA_HOME", None)
    done = subprocess.run(
        cli_cmd(lake), env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "Java runtime" in lines[0]
    assert "Traceback" not in done.stderr
    assert not (lake.root / "_state").exists()  # refused before the lake was touched


def test_the_engine_setting_of_shoplake_toml_and_the_flag_over_it(lake, tmp_path):
    """``engine = "spark"`` in shoplake.toml picks Spark (here: no Java, so its one-line
    error); ``--engine duckdb`` overrides the file and ingests."""
    (lake.root / "raw").mkdir()
    config = tmp_path / "shoplake.toml"
    config.write_text('[shoplake]\nengine = "spark"\n', "utf-8")
    env = cli_env(SHOPLAKE_CONFIG=str(config), PATH=str(tmp_path / "no-java-here"))
    env.pop("JAVA_HOME", None)
    env.pop("SHOPLAKE_ENGINE", None)
    run = {"env": env, "capture_output": True, "text": True, "timeout": 120, "check": False}
    by_file = subprocess.run(cli_cmd(lake), **run)
    assert by_file.returncode == 1
    assert "engine = spark needs a Java runtime" in by_file.stderr
    by_flag = subprocess.run(cli_cmd(lake, "--engine", "duckdb"), **run)
    assert by_flag.returncode == 0, by_flag.stderr
    assert (lake.root / "_state" / "runs").is_dir()


def test_an_unknown_engine_is_one_line_error(lake):
    (lake.root / "raw").mkdir()
    done = subprocess.run(
        cli_cmd(lake, "--engine", "flink"),
        env=cli_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [done.stderr.strip()]
    assert "'flink' is not one of duckdb, spark" in done.stderr


# an s3:// lake (moto's server on 127.0.0.1) ---------------------------------------------------
#: The datasets of the two batches delivered to the S3 lakes: orders (a key that does not
#: fix its day, decimals, a rejected record and a rejected file, late records, a new
#: version of a key) and clickstream (NDJSON, a broken line); each dataset costs a few
#: seconds of Spark jobs.
S3_DATASETS = ("orders", "clickstream")


def _bucket() -> Any:
    import boto3

    return boto3.client("s3")  # endpoint and credentials: the aws_env fixture


def _keys(bucket: str, prefix: str) -> list[str]:
    out = []
    for page in _bucket().get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        out += [o["Key"] for o in page.get("Contents", [])]
    return sorted(out)


def _upload_raw(bucket: str, prefix: str, source: Lake, datasets: tuple[str, ...]) -> None:
    """The source lake's raw files of ``datasets`` not yet in ``s3://bucket/prefix``
    (the same bytes)."""
    present = set(_keys(bucket, f"{prefix}/raw/"))
    for path in sorted((source.root / "raw").rglob("*")):
        key = f"{prefix}/{path.relative_to(source.root).as_posix()}"
        if path.is_file() and key.split("/")[2] in datasets and key not in present:
            _bucket().put_object(Bucket=bucket, Key=key, Body=path.read_bytes())


def _copy_prefix(bucket: str, source: str, target: str) -> None:
    """Server-side copies: the same bytes and ETags (the manifest records ETags)."""
    for key in _keys(bucket, f"{source}/"):
        copy = {"Bucket": bucket, "Key": key}
        _bucket().copy_object(Bucket=bucket, Key=target + key[len(source) :], CopySource=copy)


def _download(bucket: str, prefix: str, target: Path) -> Lake:
    """The lake under ``s3://bucket/prefix`` as a local directory, read with boto3 (not
    through shoplake's storage), for the local lake comparisons above."""
    for key in _keys(bucket, f"{prefix}/"):
        path = target / key[len(prefix) + 1 :]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(_bucket().get_object(Bucket=bucket, Key=key)["Body"].read())
    return Lake.at(target)


@pytest.fixture
def s3_lakes(spark, s3_bucket, tmp_path, monkeypatch, request) -> tuple[str, Lake]:
    """Batch 1 ingested by DuckDB into ``s3://<bucket>/duck``, copied to ``.../spark``;
    batch 2 landed in both (the datasets of the test's parameter, else
    :data:`S3_DATASETS`). Returns the bucket and the local lake the batches come from."""
    datasets = getattr(request, "param", S3_DATASETS)
    monkeypatch.delenv("SHOPLAKE_CRASH_AT", raising=False)
    monkeypatch.setenv("SHOPLAKE_LOCAL_DIR", str(tmp_path / "local"))
    source = Lake.at(tmp_path / "source")
    source.root.mkdir()
    _batch1(source)
    _upload_raw(s3_bucket, "duck", source, datasets)
    assert run_ingest(Lake.at(f"s3://{s3_bucket}/duck"), now=NOW, engine="duckdb").balanced
    _copy_prefix(s3_bucket, "duck", "spark")
    _batch2(source)
    for prefix in ("duck", "spark"):
        _upload_raw(s3_bucket, prefix, source, datasets)
    return s3_bucket, source


def test_an_s3_lake_ingested_by_spark_equals_it_ingested_by_duckdb(s3_lakes, tmp_path):
    """Day two on an ``s3://`` lake: the Spark engine (executors reading raw files,
    existing silver and their checked rows from the bucket, staging their Parquet in the
    transaction's prefix) leaves the lake the DuckDB engine leaves, object for object."""
    bucket, _ = s3_lakes
    later = NOW + timedelta(days=1)
    duck = run_ingest(Lake.at(f"s3://{bucket}/duck"), now=later, engine="duckdb")
    by_spark = run_ingest(Lake.at(f"s3://{bucket}/spark"), now=later, engine="spark")
    check_batch2(duck, S3_DATASETS)
    assert not _keys(bucket, "spark/_state/txn/")  # Spark's staged and work objects are gone
    assert_same_lake(
        _download(bucket, "duck", tmp_path / "duck"),
        duck,
        _download(bucket, "spark", tmp_path / "spark"),
        by_spark,
    )


@pytest.mark.slow
@pytest.mark.parametrize("s3_lakes", [("orders",)], indirect=True, ids=["orders"])
def test_a_spark_ingest_killed_on_s3_mid_publish_is_finished_by_duckdb(s3_lakes, tmp_path):
    """Day two by Spark on an ``s3://`` lake, killed with SIGKILL half-way through
    publishing (its marker names the partition files its executors staged in the
    bucket): the next DuckDB ingest takes the dead run's S3 lock over, rolls the run
    forward from the marker and the lake is the one an uninterrupted DuckDB run makes."""
    bucket, _ = s3_lakes
    reference = run_ingest(Lake.at(f"s3://{bucket}/duck"), engine="duckdb")
    url = f"s3://{bucket}/spark"
    killed = subprocess.run(
        [sys.executable, "-m", "shoplake.cli", "ingest", "--lake", url, "--engine", "spark"],
        env=cli_env(
            SHOPLAKE_CRASH_AT="mid_publish",
            SHOPLAKE_SPARK_MASTER="local[2]",
            # a JVM that lives seconds: its first compiler only (starts jobs faster)
            JAVA_TOOL_OPTIONS="-XX:TieredStopAtLevel=1",
        ),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert killed.returncode == -9, killed.stderr[-2000:]
    staged = _keys(bucket, "spark/_state/txn/")
    (run_id,) = {k.split("/")[3] for k in staged}
    assert f"spark/_state/txn/{run_id}/COMMIT" in staged
    assert any(k.rsplit("/", 1)[-1].startswith("spark-orders-silver-") for k in staged)
    assert _keys(bucket, "spark/_state/ingest.lock")  # the dead run's lock is still there

    finished = run_ingest(Lake.at(url), engine="duckdb")
    assert finished.recovered == [f"finished interrupted run {run_id}"]
    assert all(s.read == 0 for s in finished.datasets.values())  # the killed run's work
    assert not _keys(bucket, "spark/_state/txn/")
    _assert_same_files(
        _download(bucket, "duck", tmp_path / "duck"),
        reference.run_id,
        _download(bucket, "spark", tmp_path / "spark"),
        run_id,
        drop=RUN_TIMES,
    )


def test_an_executors_shoplake_error_is_the_line_of_a_failed_spark_job():
    """What Py4J reports of a task that raised (the worker's traceback inside the JVM's
    message): the executor's own one-line error is the line shown."""
    trace = (
        "An error occurred while calling o87.collectAndServe.\n"
        ": org.apache.spark.SparkException: Job aborted due to stage failure: ...\n"
        "Traceback (most recent call last):\n"
        '  File "spark.py", line 1, in run\n'
        "shoplake.errors.StorageError: s3://b/shop/raw/x.csv: no AWS credentials found\n"
        "\tat org.apache.spark.api.python.BasePythonRunner.handlePythonException"
    )
    assert spark_error_line(Exception(trace)) == "s3://b/shop/raw/x.csv: no AWS credentials found"
    assert spark_error_line(Exception("first line\nsecond")) == "first line"
