"""`shoplake validate FILE...`: what ingest would do with a file, writing nothing
(issue 10, item 7). Hand-written files; the expected lines and rules come from the
contract (docs/lake.md), and the verdict is checked against a real ingest of the same
files.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

from cli_kit import run_shoplake, the_error_line
from ingest_kit import (
    ORDER_COLS,
    SALE_COLS,
    click,
    csv_text,
    customer,
    customers_page,
    ingest,
    ndjson,
    order,
    quarantine,
    sale,
    tree_state,
)

from shoplake.landing import land_file
from shoplake.validate_file import validate_files


def _validate(tmp_path, *args: str):
    """Run the command from ``tmp_path``; assert that nothing under it changed."""
    before = tree_state(tmp_path)
    result = subprocess.run(
        [sys.executable, "-m", "shoplake.cli", "validate", *args],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert tree_state(tmp_path) == before, "validate wrote something"
    return result


def test_a_lake_file_with_rejects(lake, tmp_path) -> None:
    path = land_file(
        lake,
        "orders",
        "2026-03-01",
        "orders.csv",
        csv_text(
            [order("O1"), order("O2", customer_id="", currency="XYZ"), order("O3")], ORDER_COLS
        )
        + "O4,broken\n",
    )
    result = _validate(tmp_path, str(path))
    assert result.returncode == 1, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == f"{path}: orders (by its path), 4 record(s): 2 valid, 2 rejected " + (
        "(quarantined by ingest)"
    )
    assert lines[1] == (
        "  line 3: missing_required (customer_id): required field customer_id is missing or "
        "empty; out_of_enum (currency): currency: value not allowed: XYZ"
    )
    assert lines[2].startswith("  line 5: unparseable: ")
    assert len(lines) == 3
    assert not (lake.root / "_state").exists()
    assert not (lake.root / "silver").exists()

    # ingest agrees: the same lines, the same rules
    ingest(lake)
    assert [
        (r["source_line"], [x["reason"] for x in r["reasons"]]) for r in quarantine(lake, "orders")
    ] == [(3, ["missing_required", "out_of_enum"]), (5, ["unparseable"])]


def test_valid_files_of_every_format_exit_0(lake, tmp_path) -> None:
    paths = [
        land_file(lake, "sales", "2026-03-01", "sales.CSV", csv_text([sale()], SALE_COLS)),
        land_file(lake, "customers", "2026-03-01", "c.json", customers_page([customer()])),
        land_file(lake, "clickstream", "2026-03-01T14:00", "e.jsonl", ndjson([click(), click()])),
        land_file(lake, "sales", "2026-03-02", "s.csv", csv_text([sale()], SALE_COLS), gz=True),
    ]
    result = _validate(tmp_path, *map(str, paths))
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout.splitlines()
    assert out[0] == f"{paths[0]}: sales (by its path), 1 record(s): 1 valid, 0 rejected"
    assert out[1] == f"{paths[1]}: customers (by its path), 1 record(s): 1 valid, 0 rejected"
    assert out[2] == f"{paths[2]}: clickstream (by its path), 2 record(s): 2 valid, 0 rejected"
    assert out[3].startswith(f"{paths[3]}: sales (by its path), 1 record(s)")
    assert out[4] == "4 files: 4 valid, 0 with rejects"


def test_json_rejects_name_the_record_and_every_wrong_field(lake, tmp_path) -> None:
    path = land_file(
        lake,
        "customers",
        "2026-03-01",
        "page.json",
        customers_page([customer("C1"), customer(7, segment="vip", marketing_opt_in="yes")]),
    )
    (verdict,) = validate_files([path])
    assert verdict.dataset == "customers"
    assert verdict.records == 2
    (reject,) = verdict.rejects
    assert reject.line == 2
    assert [(r["reason"], r["field"]) for r in reject.reasons] == [
        ("wrong_type", "customer_id"),
        ("wrong_type", "marketing_opt_in"),
        ("out_of_enum", "segment"),
    ]
    assert "record 2: wrong_type (customer_id)" in reject.text()


def test_a_file_outside_a_lake_needs_dataset(tmp_path) -> None:
    own = tmp_path / "export.csv"
    own.write_text(csv_text([order("O1"), order("O2", channel="fax")], ORDER_COLS))
    line = the_error_line(_validate(tmp_path, str(own)))
    assert "cannot tell the dataset of" in line
    assert "--dataset" in line
    result = _validate(tmp_path, str(own), "--dataset", "orders")
    assert result.returncode == 1
    assert result.stdout.splitlines() == [
        f"{own}: orders (--dataset), 2 record(s): 1 valid, 1 rejected (quarantined by ingest)",
        "  line 3: out_of_enum (channel): channel: value not allowed: fax",
    ]
    gz = tmp_path / "broken.csv.gz"
    gz.write_bytes(b"\x1f\x8b\x08 cut")
    result = _validate(tmp_path, str(gz), "--dataset", "sales")
    assert result.returncode == 1
    assert result.stdout.splitlines()[1].startswith("  whole file: unreadable_gzip: ")


def test_files_ingest_would_not_read(lake, tmp_path) -> None:
    no_date = lake.root / "raw/orders/orders.csv"
    no_date.parent.mkdir(parents=True)
    no_date.write_text(csv_text([order()], ORDER_COLS))
    typo = lake.root / "raw/order/2026/03/01/orders.csv"
    typo.parent.mkdir(parents=True)
    shutil.copy(no_date, typo)
    hidden = lake.root / "raw/orders/2026/03/01/_upload.csv"
    hidden.parent.mkdir(parents=True)
    shutil.copy(no_date, hidden)
    link = lake.root / "raw/orders/2026/03/01/link.csv"
    os.symlink(no_date, link)
    result = _validate(tmp_path, str(no_date), str(typo), str(hidden), str(link))
    assert result.returncode == 1
    out = result.stdout.splitlines()
    assert out[0].startswith(f"{no_date}: NOT READ by ingest: not in a landing-date folder")
    assert "raw/orders/YYYY/MM/DD/<name>" in out[0]
    assert out[1].startswith(f"{typo}: NOT READ by ingest: raw/order/ is no dataset's folder")
    assert "closest dataset: orders" in out[1]
    assert out[2] == f"{hidden}: NOT READ by ingest: its name starts with _ or . (an upload " + (
        "in progress: ingest skips it)"
    )
    assert out[3] == f"{link}: orders (by its path), rejected as a whole file (quarantined):"
    assert out[4].startswith("  whole file: not_a_regular_file: ")
    assert out[5] == "4 files: 0 valid, 4 with rejects"


def test_unusable_input_is_one_line(tmp_path) -> None:
    line = the_error_line(_validate(tmp_path, str(tmp_path / "nope.csv"), "--dataset", "orders"))
    assert line == f"error: {tmp_path / 'nope.csv'}: no such file — check the path"
    line = the_error_line(_validate(tmp_path, str(tmp_path), "--dataset", "orders"))
    assert "is a folder" in line
    f = tmp_path / "x.csv"
    f.write_text("a\n1\n")
    line = the_error_line(_validate(tmp_path, str(f), "--dataset", "order"))
    assert "no dataset 'order'" in line
    result = run_shoplake("validate")
    assert result.returncode == 2  # usage: no file given
    assert "Missing argument" in result.stderr
