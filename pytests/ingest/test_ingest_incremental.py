"""Incremental behaviour: idempotent reruns, late data, re-delivery, versions of mutable
entities, corrections, small-file compaction. "Untouched" means the partition file keeps
its bytes, its mtime and its inode."""

from __future__ import annotations

import os
from datetime import datetime, timedelta

from ingest_kit import (
    NOW,
    ORDER_COLS,
    PAYMENT_COLS,
    SALE_COLS,
    check_stats,
    click,
    csv_text,
    customer,
    customers_page,
    ingest,
    ndjson,
    order,
    partition_path,
    payment,
    quarantine,
    rel,
    run_logs,
    sale,
    silver,
    silver_by,
    tree_state,
)

from shoplake.landing import land_file

t = datetime
DATASETS = ("orders", "sales", "payments", "customers", "products", "clickstream")


def _silver_state(lake):
    return tree_state(lake.root / "silver")


def _partition(lake, dataset, day):
    return _silver_state(lake).get(partition_path(dataset, day).removeprefix("silver/"))


def test_second_run_reads_nothing_and_changes_nothing(lake):
    land_file(
        lake,
        "orders",
        "2026-03-01",
        "o.csv",
        csv_text([order("O1"), order("O2", status="nope")], ORDER_COLS),
    )
    land_file(lake, "orders", "2026-03-01", "broken.csv.gz", b"not gzip at all")
    land_file(lake, "sales", "2026-03-02", "s.csv.gz", csv_text([sale("S1")], SALE_COLS), gz=True)
    land_file(lake, "customers", "2026-03-01", "c.json", customers_page([customer("C1")]))
    land_file(lake, "clickstream", t(2026, 3, 1, 5), "e.json", ndjson([click(), "{bad"]))
    first = ingest(lake)
    check_stats(first, "orders", read=3, written=1, quarantined=2, files_quarantined=1)
    silver_before = _silver_state(lake)
    quarantine_before = tree_state(lake.root / "quarantine")
    raw_before = tree_state(lake.root / "raw")
    q_rows = {ds: len(quarantine(lake, ds)) for ds in DATASETS}
    assert silver_before

    for n in (1, 2):
        again = ingest(lake, now=NOW + timedelta(hours=n))
        assert again.balanced is True
        assert again.run_id != first.run_id
        for ds in DATASETS:
            check_stats(
                again,
                ds,
                files_read=0,
                read=0,
                written=0,
                quarantined=0,
                duplicates=0,
                files_quarantined=0,
            )
        assert _silver_state(lake) == silver_before
        # earlier quarantine files untouched and nothing quarantined a second time
        after = tree_state(lake.root / "quarantine")
        assert {k: after[k] for k in quarantine_before} == quarantine_before
        assert {ds: len(quarantine(lake, ds)) for ds in DATASETS} == q_rows
    assert tree_state(lake.root / "raw") == raw_before
    assert len(run_logs(lake)) == 3


def test_touched_file_is_read_again_as_duplicates_without_rewriting(lake):
    path = land_file(
        lake,
        "payments",
        "2026-03-01",
        "p.csv",
        csv_text([payment("Y1"), payment("Y2", payment_ts="2026-03-02T08:00:00Z")], PAYMENT_COLS),
    )
    ingest(lake)
    before = _silver_state(lake)
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 5_000_000_000))
    again = ingest(lake, now=NOW + timedelta(hours=1))
    check_stats(again, "payments", files_read=1, read=2, written=0, duplicates=2, quarantined=0)
    assert _silver_state(lake) == before


def test_rewritten_raw_file_adds_only_its_new_records(lake):
    rows = [order("O1"), order("O2")]
    path = land_file(lake, "orders", "2026-03-01", "o.csv", csv_text(rows, ORDER_COLS))
    first = ingest(lake)
    path.write_text(csv_text([*rows, order("O3")], ORDER_COLS))
    second = ingest(lake, now=NOW + timedelta(hours=1))
    check_stats(second, "orders", files_read=1, read=3, written=1, duplicates=2, quarantined=0)
    got = silver_by(lake, "orders", "order_id")
    assert sorted(got) == ["O1", "O2", "O3"]
    assert got["O1"]["run_id"] == first.run_id
    assert got["O3"]["run_id"] == second.run_id
    assert got["O3"]["source_line"] == 4


def test_late_records_merge_into_their_older_partition(lake):
    first_file = land_file(
        lake,
        "orders",
        "2026-03-02",
        "o.csv",
        csv_text(
            [
                order("O0", order_ts="2026-02-27T10:00:00Z"),
                order("O1", order_ts="2026-03-01T10:00:00Z"),
                order("O2", order_ts="2026-03-02T10:00:00Z"),
            ],
            ORDER_COLS,
        ),
    )
    first = ingest(lake)
    before = _silver_state(lake)
    later = NOW + timedelta(days=1)
    # lands on 03-05 with a record of 03-01
    late_file = land_file(
        lake,
        "orders",
        "2026-03-05",
        "late.csv",
        csv_text([order("O3", order_ts="2026-03-01T23:00:00Z")], ORDER_COLS),
    )
    second = ingest(lake, now=later)
    check_stats(second, "orders", files_read=1, read=1, written=1, duplicates=0)
    after = _silver_state(lake)
    p0301 = "orders/year=2026/month=03/day=01/data.parquet"
    assert set(after) == set(before)
    for name in before:
        if name == p0301:
            assert after[name].sha256 != before[name].sha256
        else:
            assert after[name] == before[name], f"{name} was rewritten"
    rows = silver_by(lake, "orders", "order_id")
    day1 = partition_path("orders", "2026-03-01")
    assert sorted(r["order_id"] for r in rows.values() if r["_file"] == day1) == ["O1", "O3"]
    assert (rows["O1"]["run_id"], rows["O1"]["ingested_at"]) == (first.run_id, t(2026, 3, 10, 12))
    assert rows["O1"]["source_file"] == rel(lake, first_file)
    assert (rows["O3"]["run_id"], rows["O3"]["ingested_at"]) == (second.run_id, t(2026, 3, 11, 12))
    assert rows["O3"]["source_file"] == rel(lake, late_file)


def test_redelivered_records_are_duplicates_and_leave_silver_unchanged(lake):
    records = [
        sale("S1", sold_at="2026-03-01T10:00:00Z"),
        sale("S2", sold_at="2026-03-02T10:00:00Z", quantity="5"),
        sale("S3", sold_at="2026-03-03T10:00:00Z", discount_amount=""),
    ]
    land_file(lake, "sales", "2026-03-03", "sales-0001.csv", csv_text(records, SALE_COLS))
    ingest(lake)
    before = _silver_state(lake)

    # the same records under another name, another landing date, gzipped, other column
    # order, and with the same values written differently
    again = [
        sale("S1", sold_at="2026-03-01T11:00:00+01:00", unit_price="10", quantity="2"),
        sale("S2", sold_at="2026-03-02 10:00:00.000", quantity="5", discount_amount="1.5"),
        sale("S3", sold_at="2026-03-03T10:00:00Z", discount_amount="0.00"),
    ]
    land_file(
        lake,
        "sales",
        "2026-03-07",
        "resend-sales.csv",
        csv_text(again, list(reversed(SALE_COLS))),
        gz=True,
    )
    second = ingest(lake, now=NOW + timedelta(days=1))
    check_stats(second, "sales", files_read=1, read=3, written=0, duplicates=3, quarantined=0)
    assert _silver_state(lake) == before

    # a third delivery overlapping the first: only the partition of the new record moves
    land_file(
        lake,
        "sales",
        "2026-03-08",
        "more.csv",
        csv_text([records[0], sale("S4", sold_at="2026-03-04T09:00:00Z")], SALE_COLS),
    )
    third = ingest(lake, now=NOW + timedelta(days=2))
    check_stats(third, "sales", files_read=1, read=2, written=1, duplicates=1, quarantined=0)
    after = _silver_state(lake)
    assert {k: after[k] for k in before} == before
    assert set(after) - set(before) == {"sales/year=2026/month=03/day=04/data.parquet"}


def test_duplicates_within_one_run(lake):
    dup = sale("S1")
    path = land_file(
        lake, "sales", "2026-03-01", "a.csv", csv_text([dup, sale("S2"), dup], SALE_COLS)
    )
    land_file(lake, "sales", "2026-03-02", "b.csv", csv_text([dup], SALE_COLS))
    report = ingest(lake)
    check_stats(report, "sales", files_read=2, read=4, written=2, duplicates=2, quarantined=0)
    got = silver_by(lake, "sales", "sale_id")
    # the first delivery of identical content is the row kept
    assert (got["S1"]["source_file"], got["S1"]["source_line"]) == (rel(lake, path), 2)


def test_order_status_change_adds_a_version_and_a_resent_version_is_a_duplicate(lake):
    placed = order("O1", status="placed", updated_at="2026-03-01T10:00:00Z")
    land_file(lake, "orders", "2026-03-01", "a.csv", csv_text([placed], ORDER_COLS))
    first = ingest(lake)
    paid = order("O1", status="paid", updated_at="2026-03-01T12:00:00Z")
    land_file(lake, "orders", "2026-03-02", "b.csv", csv_text([paid, placed], ORDER_COLS))
    second = ingest(lake, now=NOW + timedelta(hours=2))
    check_stats(second, "orders", files_read=1, read=2, written=1, duplicates=1, quarantined=0)
    rows = silver(lake, "orders")
    versions = sorted((r["updated_at"], r["status"], r["run_id"]) for r in rows)
    assert versions == [
        (t(2026, 3, 1, 10), "placed", first.run_id),
        (t(2026, 3, 1, 12), "paid", second.run_id),
    ]
    # both versions belong to the order's business date
    assert {r["_file"] for r in rows} == {partition_path("orders", "2026-03-01")}

    # three versions in one run are three rows
    shipped = order("O1", status="shipped", updated_at="2026-03-02T09:00:00Z")
    delivered = order("O1", status="delivered", updated_at="2026-03-04T09:00:00Z")
    land_file(lake, "orders", "2026-03-04", "c.csv", csv_text([shipped, delivered], ORDER_COLS))
    third = ingest(lake, now=NOW + timedelta(hours=3))
    check_stats(third, "orders", read=2, written=2, duplicates=0)
    assert [r["status"] for r in sorted(silver(lake, "orders"), key=lambda r: r["updated_at"])] == [
        "placed",
        "paid",
        "shipped",
        "delivered",
    ]


def test_customer_versions_go_to_the_partition_of_their_updated_at(lake):
    land_file(lake, "customers", "2026-03-01", "p1.json", customers_page([customer("C1")]))
    ingest(lake)
    before = _silver_state(lake)
    v2 = customer("C1", segment="corporate", updated_at="2026-03-04T08:00:00Z")
    # page 2 of a later export: the new version and the old one again
    land_file(
        lake, "customers", "2026-03-04", "p2.json", customers_page([v2, customer("C1")], bare=True)
    )
    report = ingest(lake, now=NOW + timedelta(days=1))
    check_stats(report, "customers", read=2, written=1, duplicates=1)
    after = _silver_state(lake)
    assert {k: after[k] for k in before} == before
    got = silver_by(lake, "customers", "customer_id", "updated_at")
    assert sorted((k[1], r["segment"], r["_file"]) for k, r in got.items()) == [
        (t(2026, 3, 1), "consumer", partition_path("customers", "2026-03-01")),
        (t(2026, 3, 4, 8), "corporate", partition_path("customers", "2026-03-04")),
    ]


def test_a_later_delivery_of_a_key_replaces_its_content(lake):
    land_file(
        lake,
        "sales",
        "2026-03-01",
        "a.csv",
        csv_text([sale("S1", quantity="2"), sale("S2")], SALE_COLS),
    )
    ingest(lake)
    before = _silver_state(lake)
    fix = land_file(
        lake, "sales", "2026-03-03", "fix.csv", csv_text([sale("S1", quantity="3")], SALE_COLS)
    )
    second = ingest(lake, now=NOW + timedelta(days=1))
    check_stats(second, "sales", read=1, written=1, duplicates=0, quarantined=0)
    got = silver_by(lake, "sales", "sale_id")
    assert sorted(got) == ["S1", "S2"]
    assert got["S1"]["quantity"] == 3
    assert (got["S1"]["source_file"], got["S1"]["source_line"]) == (rel(lake, fix), 2)
    assert got["S2"]["quantity"] == 2
    assert _silver_state(lake) != before

    # within one run the later delivery (raw path order, then line) wins; the earlier
    # version is counted as a duplicate
    land_file(
        lake,
        "sales",
        "2026-03-05",
        "z.csv",
        csv_text([sale("S3", quantity="7"), sale("S4", quantity="1")], SALE_COLS),
    )
    last = land_file(
        lake,
        "sales",
        "2026-03-06",
        "a.csv",
        csv_text(
            [sale("S3", quantity="8"), sale("S4", quantity="4"), sale("S4", quantity="5")],
            SALE_COLS,
        ),
    )
    third = ingest(lake, now=NOW + timedelta(days=2))
    check_stats(third, "sales", files_read=2, read=5, written=2, duplicates=3, quarantined=0)
    got = silver_by(lake, "sales", "sale_id")
    assert (got["S3"]["quantity"], got["S3"]["source_line"]) == (8, 2)
    assert (got["S4"]["quantity"], got["S4"]["source_line"]) == (5, 4)
    assert got["S4"]["source_file"] == rel(lake, last)


def test_a_corrected_record_moving_to_another_day_is_kept_once(lake):
    land_file(
        lake,
        "payments",
        "2026-03-01",
        "a.csv",
        csv_text([payment("Y1"), payment("Y2")], PAYMENT_COLS),
    )
    ingest(lake)
    moved = payment("Y1", payment_ts="2026-03-02T09:00:00Z")
    land_file(lake, "payments", "2026-03-02", "b.csv", csv_text([moved], PAYMENT_COLS))
    report = ingest(lake, now=NOW + timedelta(hours=1))
    check_stats(report, "payments", read=1, written=1, duplicates=0)
    got = silver_by(lake, "payments", "payment_id")  # fails if Y1 is there twice
    assert got["Y1"]["payment_ts"] == t(2026, 3, 2, 9)
    assert got["Y1"]["_file"] == partition_path("payments", "2026-03-02")
    assert got["Y2"]["_file"] == partition_path("payments", "2026-03-01")


def test_24_hourly_drops_make_one_file_per_day(lake):
    for hour in range(24):
        events = [
            click(session_id=f"h{hour}-{i}", event_time=f"2026-03-01T{hour:02d}:{i:02d}:00Z")
            for i in range(5)
        ]
        land_file(
            lake, "clickstream", t(2026, 3, 1, hour), f"events-{hour:02d}.json", ndjson(events)
        )
    report = ingest(lake)
    check_stats(report, "clickstream", files_read=24, read=120, written=120, duplicates=0)
    files = sorted(_silver_state(lake))
    assert files == ["clickstream/year=2026/month=03/day=01/data.parquet"]
    assert len(silver(lake, "clickstream")) == 120

    # the next day's first hours carry a late event of 03-01: still one file per day
    for hour in range(3):
        events = [
            click(session_id=f"n{hour}", event_time=f"2026-03-02T{hour:02d}:30:00Z"),
            click(session_id=f"late{hour}", event_time=f"2026-03-01T23:5{hour}:30Z"),
        ]
        land_file(
            lake, "clickstream", t(2026, 3, 2, hour), "events.json.gz", ndjson(events), gz=True
        )
    report = ingest(lake, now=NOW + timedelta(hours=1))
    check_stats(report, "clickstream", files_read=3, read=6, written=6)
    assert sorted(_silver_state(lake)) == [
        "clickstream/year=2026/month=03/day=01/data.parquet",
        "clickstream/year=2026/month=03/day=02/data.parquet",
    ]
    assert len(silver(lake, "clickstream")) == 126


def test_the_same_click_with_another_offset_or_precision_is_a_duplicate(lake):
    a = click(event_time="2026-03-01T14:05:09.123Z", ip="203.0.113.7")
    b = click(event_time="2026-03-01T15:05:09.123000+01:00", ip="203.0.113.7")
    land_file(lake, "clickstream", t(2026, 3, 1, 14), "a.json", ndjson([a]))
    land_file(lake, "clickstream", t(2026, 3, 1, 15), "b.json", ndjson([b]))
    report = ingest(lake)
    check_stats(report, "clickstream", read=2, written=1, duplicates=1)
    (row,) = silver(lake, "clickstream")
    assert row["event_time"] == t(2026, 3, 1, 14, 5, 9, 123000)
