"""shoplake.landing: raw files put at the contract's landing keys, one by one or delivered
from another lake up to a cutoff (the helper the tests and the benchmarks share)."""

from __future__ import annotations

import gzip
from datetime import date, datetime
from pathlib import Path

import pytest

from shoplake.lake import Lake
from shoplake.landing import land, land_file


def test_land_file_writes_at_the_landing_key(tmp_path: Path) -> None:
    lake = Lake.at(tmp_path)
    daily = land_file(lake, "orders", "2026-03-01", "o.csv", "order_id\nO1\n")
    hourly = land_file(lake, "clickstream", datetime(2026, 3, 1, 14), "e.json", b"{}\n")
    assert lake.relative(daily) == "raw/orders/2026/03/01/o.csv"
    assert lake.relative(hourly) == "raw/clickstream/2026/03/01/14/e.json"
    assert daily.read_bytes() == b"order_id\nO1\n"
    assert hourly.read_bytes() == b"{}\n"


def test_land_file_with_a_bom_and_gzip(tmp_path: Path) -> None:
    lake = Lake.at(tmp_path)
    path = land_file(lake, "sales", date(2026, 3, 2), "s.csv", "sale_id\n", gz=True, bom=True)
    assert lake.relative(path) == "raw/sales/2026/03/02/s.csv.gz"
    assert gzip.decompress(path.read_bytes()) == b"\xef\xbb\xbfsale_id\n"
    # a fixed gzip mtime: the same input is the same bytes
    again = land_file(lake, "sales", date(2026, 3, 2), "t.csv", "sale_id\n", gz=True, bom=True)
    assert again.read_bytes() == path.read_bytes()


@pytest.mark.parametrize("link", [pytest.param(False, id="copy"), pytest.param(True, id="link")])
def test_land_delivers_what_landed_before_the_cutoff_then_the_rest(
    tmp_path: Path, link: bool
) -> None:
    source, lake = Lake.at(tmp_path / "source"), Lake.at(tmp_path / "lake")
    land_file(source, "orders", "2026-03-01", "a.csv", "a")
    land_file(source, "orders", "2026-03-02", "b.csv", "b")
    land_file(source, "clickstream", datetime(2026, 3, 1, 23), "c.json", "c")
    (source.root / "raw" / "orders" / "stray.csv").write_text("not in the layout")
    (source.root / "silver").mkdir()
    (source.root / "silver" / "x.parquet").write_text("not raw")

    assert land(source, lake, before=date(2026, 3, 2), link=link) == 2
    assert sorted(lake.relative(p) for p in (lake.root / "raw").rglob("*.*")) == [
        "raw/clickstream/2026/03/01/23/c.json",
        "raw/orders/2026/03/01/a.csv",
    ]
    # a file already delivered is left as it is; the rest comes now (without a cutoff,
    # a file outside the layout too)
    (lake.root / "raw/orders/2026/03/01/a.csv").unlink()
    (lake.root / "raw/orders/2026/03/01/a.csv").write_text("delivered earlier")
    assert land(source, lake, link=link) == 2
    assert sorted(lake.relative(p) for p in (lake.root / "raw").rglob("*.*")) == [
        "raw/clickstream/2026/03/01/23/c.json",
        "raw/orders/2026/03/01/a.csv",
        "raw/orders/2026/03/02/b.csv",
        "raw/orders/stray.csv",
    ]
    assert (lake.root / "raw/orders/2026/03/01/a.csv").read_text() == "delivered earlier"
    assert (lake.root / "raw/orders/2026/03/02/b.csv").read_text() == "b"
    assert not (lake.root / "silver").exists()
    same_inode = (lake.root / "raw/orders/2026/03/02/b.csv").stat().st_ino == (
        source.root / "raw/orders/2026/03/02/b.csv"
    ).stat().st_ino
    assert same_inode is link
