"""kill -9 during an ingest into an s3:// lake, then a rerun: nothing doubled, nothing lost.

The ingest kills itself with a real SIGKILL at each failpoint of the publishing protocol
(SHOPLAKE_CRASH_AT): before the commit marker, right after it, after the first of the
server-side copies, and before the staged objects are cleaned up. The reference is the
same two deliveries ingested without a crash into a local directory.
"""

from __future__ import annotations

import shutil
import signal
from datetime import date
from pathlib import Path

import pytest
from s3lake_kit import (
    DATASETS,
    STATS,
    by_partition,
    keys,
    local_parquet,
    objects,
    put,
    run_logs,
    s3_parquet,
    shoplake,
    totals,
)

from shoplake.generate import generate
from shoplake.ingest import run_ingest
from shoplake.lake import Lake, landing_time

START = date(2026, 3, 2)
CRASH_POINTS = ("before_commit", "after_commit", "mid_publish", "before_cleanup")
#: Datasets delivered (customers and products, with a partition per day of their long
#: history, would only make each run slower: the end-to-end test covers them on S3).
DELIVERED = ("orders", "sales", "payments", "clickstream")


def _deliveries(source: Path) -> tuple[list[Path], list[Path]]:
    """The generated raw files split by landing day: the first day, then the rest (late
    files of the first day's business dates and re-sent order updates among them)."""
    first, rest = [], []
    for path in sorted((source / "raw").rglob("*")):
        if path.is_file() and path.relative_to(source / "raw").parts[0] in DELIVERED:
            landed = landing_time(path.relative_to(source).as_posix())
            assert landed is not None
            (first if landed.date() == START else rest).append(path)
    return first, rest


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """Generated raw data, delivered in two batches into a local lake, each ingested once."""
    source = tmp_path_factory.mktemp("source")
    generate(Lake.at(source), start=START, days=2, orders_per_day=12, seed=11, faults=True)
    first, rest = _deliveries(source)
    assert first
    assert rest
    ref = tmp_path_factory.mktemp("reference")
    for batch in (first, rest):
        for path in batch:
            target = ref / path.relative_to(source)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)
        report = run_ingest(Lake.at(ref))
        assert report.balanced
        if batch is first:
            before = local_parquet(ref / "silver")
    second = {ds: {f: getattr(st, f) for f in STATS} for ds, st in report.datasets.items()}
    assert sum(st["read"] for st in second.values()) > 0
    return {
        "source": source,
        "batches": (first, rest),
        "before": before,
        "after": local_parquet(ref / "silver"),
        "quarantine": by_partition(local_parquet(ref / "quarantine")),
        "second": second,
    }


def _deliver(bucket: str, source: Path, batch: list[Path]) -> None:
    for path in batch:
        put(bucket, f"shop/{path.relative_to(source).as_posix()}", path.read_bytes())


def _assert_consistent(silver: dict, before: dict, after: dict) -> None:
    """What a reader sees: each partition exactly its old or its new version, one
    data.parquet per partition, never a staged or temporary object."""
    assert all(k.endswith("/data.parquet") for k in silver), sorted(silver)
    for part in set(silver) | set(before) | set(after):
        assert silver.get(part) in (before.get(part), after.get(part)), part


@pytest.mark.slow
@pytest.mark.parametrize("point", CRASH_POINTS)
def test_killed_during_ingest_to_s3_then_rerun_equals_a_clean_run(
    lake_url, s3_bucket, reference, point
):
    source, (first, rest) = reference["source"], reference["batches"]
    _deliver(s3_bucket, source, first)
    assert run_ingest(Lake.at(lake_url)).balanced
    (first_run,) = run_logs(s3_bucket, "shop/")
    assert s3_parquet(s3_bucket, "shop/silver/") == reference["before"]
    _deliver(s3_bucket, source, rest)
    raw = objects(s3_bucket, "shop/raw/")

    crashed = shoplake("ingest", "--lake", lake_url, SHOPLAKE_CRASH_AT=point)
    assert crashed.returncode == -signal.SIGKILL, (crashed.returncode, crashed.stderr)
    silver = s3_parquet(s3_bucket, "shop/silver/")
    _assert_consistent(silver, reference["before"], reference["after"])
    if point == "before_commit":
        assert silver == reference["before"]
        assert list(run_logs(s3_bucket, "shop/")) == [first_run]
    if point == "before_cleanup":
        assert silver == reference["after"]
    assert keys(s3_bucket, "shop/_state/ingest.lock")  # the dead run's lock is still there

    rerun = shoplake("ingest", "--lake", lake_url, timeout=120)
    assert rerun.returncode == 0, rerun.stderr  # the dead holder's lock is taken over
    assert s3_parquet(s3_bucket, "shop/silver/") == reference["after"]
    assert by_partition(s3_parquet(s3_bucket, "shop/quarantine/")) == reference["quarantine"]
    logs = run_logs(s3_bucket, "shop/")
    assert len(logs) == (2 if point == "before_commit" else 3)
    got = totals([log for run, log in logs.items() if run != first_run])
    assert got == {ds: reference["second"][ds] for ds in DATASETS}
    assert not keys(s3_bucket, "shop/_state/txn/")
    assert not keys(s3_bucket, "shop/_state/ingest.lock")
    assert objects(s3_bucket, "shop/raw/") == raw  # raw is never touched

    # settled: one more run reads nothing and rewrites no partition
    settled = objects(s3_bucket, "shop/silver/")
    last = shoplake("ingest", "--lake", lake_url)
    assert last.returncode == 0, last.stderr
    assert objects(s3_bucket, "shop/silver/") == settled
    (newest,) = set(run_logs(s3_bucket, "shop/")) - set(logs)
    assert all(st["read"] == 0 for st in run_logs(s3_bucket, "shop/")[newest]["datasets"].values())
