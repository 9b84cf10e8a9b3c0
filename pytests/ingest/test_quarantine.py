"""`shoplake quarantine`: every rule a rejected record breaks, the listing, the export,
and quarantine files written before the rules were listed (issue 10, item 4).

Raw files are hand-written; each expected rule list is worked out from the contract
(docs/lake.md, "Validation rules": the first reason is the first rule in the table's
order, the list holds every rule the record breaks, a record that cannot be parsed
breaks only that rule).
"""

from __future__ import annotations

import csv
import json
from datetime import datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from cli_kit import run_shoplake, the_error_line
from ingest_kit import (
    ORDER_COLS,
    PAYMENT_COLS,
    click,
    csv_text,
    customer,
    customers_page,
    ingest,
    ndjson,
    order,
    parquet_rows,
    payment,
    quarantine,
)

from shoplake import quarantine as q
from shoplake.landing import land_file


def _rules(row) -> list[tuple[str, str | None]]:
    return [(r["reason"], r["field"]) for r in row["reasons"]]


def test_a_record_carries_every_rule_it_breaks(lake) -> None:
    land_file(
        lake,
        "orders",
        "2026-03-01",
        "orders.csv",
        csv_text(
            [
                order("O1"),
                order("O2", customer_id="", status="nope", currency="XYZ"),
                order("O3", order_ts="yesterday", shipping_country="pt"),
            ],
            ORDER_COLS,
        )
        + "O4,C1,too,few\n",
    )
    land_file(
        lake,
        "customers",
        "2026-03-01",
        "customers.json",
        customers_page([customer(5, segment="x", marketing_opt_in="yes")]),
    )
    land_file(
        lake,
        "clickstream",
        "2026-03-01T14:00",
        "events.ndjson",
        ndjson([click(user_id=7, session_id=["s"], action="fly"), "{not json"]),
    )
    ingest(lake)

    orders = {r["source_line"]: r for r in quarantine(lake, "orders")}
    assert set(orders) == {3, 4, 5}
    o2 = orders[3]
    assert (o2["reason"], o2["field"]) == ("missing_required", "customer_id")  # the first
    assert _rules(o2) == [
        ("missing_required", "customer_id"),
        ("out_of_enum", "status"),
        ("out_of_enum", "currency"),
    ]
    assert o2["reasons"][0]["detail"] == o2["detail"]
    assert "XYZ" in o2["reasons"][2]["detail"]
    assert _rules(orders[4]) == [("wrong_type", "order_ts"), ("out_of_enum", "shipping_country")]
    assert orders[5]["reason"] == "unparseable"
    assert _rules(orders[5]) == [("unparseable", None)]  # nothing else can be judged

    # JSON: every field of the wrong JSON type, and not also "missing"
    (c,) = quarantine(lake, "customers")
    assert (c["reason"], c["field"]) == ("wrong_type", "customer_id")
    assert _rules(c) == [
        ("wrong_type", "customer_id"),
        ("wrong_type", "marketing_opt_in"),
        ("out_of_enum", "segment"),
    ]
    clicks = {r["source_line"]: r for r in quarantine(lake, "clickstream")}
    assert _rules(clicks[1]) == [
        ("wrong_type", "user_id"),
        ("wrong_type", "session_id"),
        ("out_of_enum", "action"),
    ]
    assert _rules(clicks[2]) == [("unparseable", None)]


def test_listing_counts_and_samples(lake) -> None:
    land_file(
        lake,
        "orders",
        "2026-03-01",
        "orders.csv",
        csv_text(
            [
                order("O1"),
                order("O2", currency="XYZ"),
                order("O3", currency="ABC", status="nope"),
                order("O4", channel=""),
            ],
            ORDER_COLS,
        ),
    )
    land_file(lake, "payments", "2026-03-01", "payments.csv.gz", b"this is not gzip")
    report = ingest(lake)

    listing = q.list_quarantine(lake)
    day = datetime(2026, 3, 10).date()  # the run's date (ingest_kit.NOW)
    assert listing.counts == [
        ("orders", day, "missing_required", "channel", 1, 0, 0),
        ("orders", day, "out_of_enum", "currency", 1, 0, 0),  # O2
        ("orders", day, "out_of_enum", "status", 1, 0, 0),  # O3: status comes first
        ("payments", day, "unreadable_gzip", None, 1, 0, 0),
    ]
    samples = {(s.dataset, s.source_line): s for s in listing.samples}
    assert set(samples) == {("orders", 3), ("orders", 4), ("orders", 5), ("payments", None)}
    o3 = samples[("orders", 4)]
    assert o3.run_id == report.run_id
    text = "\n".join(o3.lines())
    assert "raw/orders/2026/03/01/orders.csv line 4" in text
    assert "out_of_enum (currency): currency: value not allowed: ABC" in text
    assert "out_of_enum (status): status: value not allowed: nope" in text
    assert '"order_id": "O3"' in text  # the raw text
    assert "whole file" in samples[("payments", None)].lines()[0]

    only = q.list_quarantine(lake, dataset="orders", reason="out_of_enum", samples=1)
    assert [c[4] for c in only.counts] == [1, 1]
    assert len(only.samples) == 1
    assert q.list_quarantine(lake, run="no-such-run").counts == []

    # the command: the same table, the samples, exit 0
    result = run_shoplake("quarantine", "--lake", str(lake.root), "--dataset", "orders")
    assert result.returncode == 0, result.stderr
    assert "orders\t2026-03-10\tout_of_enum\tcurrency\t1\t0\t0" in result.stdout
    assert "status: value not allowed: nope" in result.stdout
    assert "payments" not in result.stdout


def test_export_csv_and_parquet(lake, tmp_path) -> None:
    land_file(
        lake,
        "payments",
        "2026-03-01",
        "payments.csv",
        csv_text([payment("Y1"), payment("Y2", method="barter", amount="-1")], PAYMENT_COLS),
    )
    land_file(lake, "payments", "2026-03-02", "broken.csv.gz", b"\x1f\x8b broken")
    ingest(lake)

    out = tmp_path / "q.csv"
    result = run_shoplake("quarantine", "--lake", str(lake.root), "--export", str(out))
    assert result.returncode == 0, result.stderr
    assert "2 quarantined record(s) written" in result.stdout
    with out.open(newline="", encoding="utf-8") as f:
        rows = {r["source_file"]: r for r in csv.DictReader(f)}
    y2 = rows["raw/payments/2026/03/01/payments.csv"]
    assert (y2["source_line"], y2["level"], y2["reason"], y2["status"]) == (
        "3",
        "record",
        "out_of_enum",
        "quarantined",
    )
    assert [(r["reason"], r["field"]) for r in json.loads(y2["reasons"])] == [
        ("out_of_enum", "method"),
        ("out_of_range", "amount"),
    ]
    assert json.loads(y2["raw_record"])["method"] == "barter"
    broken = rows["raw/payments/2026/03/02/broken.csv.gz"]
    assert (broken["source_line"], broken["level"], broken["reason"]) == (
        "",
        "file",
        "unreadable_gzip",
    )

    pq_out = tmp_path / "q.parquet"
    assert q.export_quarantine(lake, pq_out, reason="out_of_range") == 1
    (row,) = parquet_rows(pq_out)
    assert row["source_line"] == 3
    assert [r["reason"] for r in row["reasons"]] == ["out_of_enum", "out_of_range"]

    line = the_error_line(
        run_shoplake("quarantine", "--lake", str(lake.root), "--export", str(tmp_path / "q.txt"))
    )
    assert "must end in .csv or .parquet" in line
    assert not (tmp_path / "q.txt").exists()


def test_quarantine_files_written_before_reasons_were_kept(lake) -> None:
    """A quarantine file of the earlier layout (no ``reasons`` column) lists with its one
    reason, beside a file of the new layout."""
    old = pa.table(
        {
            "run_id": ["20260101T000000Z-0ld000"],
            "dataset": ["sales"],
            "source_file": ["raw/sales/2026/01/01/sales.csv"],
            "source_line": pa.array([2], pa.int64()),
            "level": ["record"],
            "reason": ["out_of_range"],
            "field": ["quantity"],
            "detail": ["quantity is below 1: 0"],
            "raw_record": ['{"sale_id": "S1", "quantity": "0"}'],
            "quarantined_at": pa.array([datetime(2026, 1, 1)], pa.timestamp("us")),
        }
    )
    path = lake.root / "quarantine/sales/year=2026/month=01/day=01/20260101T000000Z-0ld000.parquet"
    path.parent.mkdir(parents=True)
    pq.write_table(old, path)
    land_file(
        lake, "orders", "2026-03-01", "orders.csv", csv_text([order(currency="X")], ORDER_COLS)
    )
    ingest(lake)

    listing = q.list_quarantine(lake, include_resolved=True)
    assert [(c[0], c[2], c[3], c[4]) for c in listing.counts] == [
        ("orders", "out_of_enum", "currency", 1),
        ("sales", "out_of_range", "quantity", 1),
    ]
    (sale,) = [s for s in listing.samples if s.dataset == "sales"]
    assert sale.reasons == [
        {"reason": "out_of_range", "field": "quantity", "detail": "quantity is below 1: 0"}
    ]


def test_errors_are_one_line(lake, tmp_path: Path) -> None:
    (lake.root / "raw").mkdir()  # a lake with nothing delivered yet
    line = the_error_line(
        run_shoplake("quarantine", "--lake", str(lake.root), "--dataset", "order")
    )
    assert "no dataset 'order'" in line
    assert "orders" in line
    line = the_error_line(run_shoplake("quarantine", "--lake", str(tmp_path / "typo")))
    assert "no lake at" in line
    assert not (tmp_path / "typo").exists()
    line = the_error_line(run_shoplake("quarantine", "replay", "--lake", str(tmp_path / "typo")))
    assert "no lake at" in line
    # nothing quarantined: said so, exit 0
    result = run_shoplake("quarantine", "--lake", str(lake.root))
    assert result.returncode == 0, result.stderr
    assert "no quarantined records" in result.stdout
