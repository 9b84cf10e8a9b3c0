"""Gold in the lake: ``shoplake.gold.publish`` on the generated, built warehouse.

The expected rows are the warehouse's own marts, read here with plain SQL; the gold
files are read back with DuckDB's Hive partitioning (as Athena would read the folders),
so both the files' rows and their partition paths are checked. Crash safety is checked
by killing a real publish process at the protocol's failpoints.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest

from shoplake.gold import MARTS, publish
from shoplake.lake import Lake

#: The partitions the contract asks for, by mart: (month of which date, by region?)
EXPECTED_LAYOUT = {
    "agg_daily_revenue": ("date_day", True),
    "agg_daily_funnel": ("date_day", False),
    "agg_payment_status": ("date_day", False),
    "agg_customer_segments": (None, False),
}


def _gold_files(lake: Lake) -> dict[str, bytes]:
    root = lake.root / "gold"
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*.parquet")}


def _mismatches(lake: Lake, mart: str) -> tuple[int, int, int]:
    """(rows in the mart, rows only in the mart, rows only in the gold files)."""
    month_of, by_region = (
        (MARTS[mart].month_of, MARTS[mart].by_region)
        if mart not in EXPECTED_LAYOUT
        else EXPECTED_LAYOUT[mart]
    )
    con = duckdb.connect(str(lake.root / "warehouse.duckdb"), read_only=True)
    try:
        columns = [r[0] for r in con.execute(f"describe main.{mart}").fetchall()]
        cols = ", ".join(f'"{c}"' for c in columns)
        glob = f"{lake.root}/gold/{mart}/**/*.parquet"
        hive = "true" if month_of or by_region else "false"
        gold = f"read_parquet('{glob}', hive_partitioning = {hive}, hive_types_autocast = false)"
        if month_of:  # the folder's month is the month of the business date
            bad = con.execute(
                f"select count(*) from {gold} where month <> strftime(cast({month_of} as date), "
                "'%Y-%m')"
            ).fetchone()[0]
            assert bad == 0, mart
        total = con.execute(f"select count(*) from main.{mart}").fetchone()[0]
        only_mart = con.execute(
            f"select count(*) from (select {cols} from main.{mart} except all "
            f"select {cols} from {gold})"
        ).fetchone()[0]
        only_gold = con.execute(
            f"select count(*) from (select {cols} from {gold} except all "
            f"select {cols} from main.{mart})"
        ).fetchone()[0]
        return total, only_mart, only_gold
    finally:
        con.close()


def test_gold_files_hold_exactly_the_marts_and_a_second_publish_writes_nothing(lake_copy):
    first = publish(lake_copy)
    assert set(first.marts) >= set(EXPECTED_LAYOUT)
    for mart in first.marts:
        total, only_mart, only_gold = _mismatches(lake_copy, mart)
        assert total > 0, mart
        assert (only_mart, only_gold) == (0, 0), mart
    files = sorted((lake_copy.root / "gold").rglob("*.parquet"))
    revenue = [p for p in files if "/agg_daily_revenue/" in p.as_posix()]
    regions = {p.parent.name for p in revenue}
    assert all(p.parent.parent.name == "month=2026-10" for p in revenue)
    assert len(regions) > 1
    assert all(r.startswith("region=") for r in regions)
    assert (lake_copy.root / "gold/agg_customer_segments/data.parquet").is_file()
    for path in files:  # Snappy, and no partition column inside the files
        meta = pq.ParquetFile(path).metadata
        assert meta.row_group(0).column(0).compression == "SNAPPY"
        names = set(pq.read_schema(path).names)
        mart = path.relative_to(lake_copy.root / "gold").parts[0]
        assert "month" not in names
        assert "region" not in names or not MARTS[mart].by_region
    before = {p: p.stat().st_mtime_ns for p in files}

    second = publish(lake_copy)
    assert second.written == 0
    assert second.deleted == 0
    assert {p: p.stat().st_mtime_ns for p in files} == before
    assert not (lake_copy.root / "_state/txn").exists() or not any(
        (lake_copy.root / "_state/txn").iterdir()
    )


def _change_two_regions(lake: Lake) -> list[str]:
    con = duckdb.connect(str(lake.root / "warehouse.duckdb"))
    try:
        regions = [
            r[0]
            for r in con.execute(
                "select distinct region from main.agg_daily_revenue order by region limit 2"
            ).fetchall()
        ]
        con.execute(
            "update main.agg_daily_revenue set orders = orders + 1000 where region in (?, ?)",
            regions,
        )
    finally:
        con.close()
    return [f"month=2026-10/region={r}" for r in regions]


def test_only_the_changed_partitions_are_rewritten(lake_copy):
    publish(lake_copy)
    old = _gold_files(lake_copy)
    changed = _change_two_regions(lake_copy)

    report = publish(lake_copy)

    assert sorted(report.marts["agg_daily_revenue"].written) == changed
    assert report.written == 2
    new = _gold_files(lake_copy)
    differ = sorted(k for k in old if old[k] != new[k])
    assert differ == [f"agg_daily_revenue/{p}/data.parquet" for p in changed]
    assert _mismatches(lake_copy, "agg_daily_revenue")[1:] == (0, 0)


def _publish_process(lake: Lake, crash_at: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "SHOPLAKE_CRASH_AT": crash_at}
    code = "import sys; from shoplake.gold import publish; publish(sys.argv[1])"
    return subprocess.run(
        [sys.executable, "-c", code, str(lake.root)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize(
    ("crash_at", "new_after_crash"), [("before_commit", 0), ("mid_publish", 1)]
)
def test_a_kill_during_publish_leaves_whole_old_or_new_partitions(
    lake_copy, crash_at, new_after_crash
):
    publish(lake_copy)
    old = _gold_files(lake_copy)
    changed = [f"agg_daily_revenue/{p}/data.parquet" for p in _change_two_regions(lake_copy)]

    killed = _publish_process(lake_copy, crash_at)
    assert killed.returncode == -9, killed.stderr

    after = _gold_files(lake_copy)
    assert set(after) == set(old)  # no file missing, no stray file among the partitions
    for key in after:  # every file is a whole Parquet file
        pq.read_table(lake_copy.root / "gold" / key)
    replaced = [k for k in changed if after[k] != old[k]]
    assert len(replaced) == new_after_crash
    assert all(after[k] == old[k] for k in old if k not in changed)

    recovered = publish(lake_copy)  # recovery rolls forward (or discards), then publishes
    assert _mismatches(lake_copy, "agg_daily_revenue")[1:] == (0, 0)
    final = _gold_files(lake_copy)
    assert all(final[k] != old[k] for k in changed)
    assert any("interrupted" in r or "unfinished" in r for r in recovered.recovered)
    assert publish(lake_copy).written == 0


def test_publish_without_a_warehouse_is_one_clear_error(tmp_path: Path):
    from shoplake.errors import ShoplakeError

    with pytest.raises(ShoplakeError, match=r"no warehouse at .*run `shoplake build`"):
        publish(tmp_path / "lake")


def test_shoplake_publish_prints_what_it_wrote_and_nothing_the_second_time(lake_copy):
    from run_kit import shoplake

    first = shoplake("publish", "--lake", str(lake_copy.root))
    assert first.returncode == 0, first.stderr
    assert "agg_daily_revenue" in first.stdout
    second = shoplake("publish", "--lake", str(lake_copy.root))
    assert second.returncode == 0, second.stderr
    assert " 0 written, 0 deleted" in second.stdout
    bad = shoplake("publish", "--lake", str(lake_copy.root), "--target", "postgres")
    assert bad.returncode == 1
    assert "dev (DuckDB) or prod (Redshift)" in bad.stderr
    assert "Traceback" not in bad.stderr
