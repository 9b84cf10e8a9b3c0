"""Hostile and unlucky input (issue 9): links and special files, nesting bombs, gzip
bombs, huge fields and records, out-of-range years and amounts, control characters in
ids, and a lake whose path is full of SQL and glob syntax.

Each test is written from a reproduction: the bad file or record is quarantined with the
reason docs/lake.md gives, nothing of it leaks, the good files around it are ingested,
the accounting balances and the next run goes on.
"""

from __future__ import annotations

import gzip
import json
import os
import resource
import subprocess
import zlib
from datetime import date, datetime
from pathlib import Path

import pytest
from ingest_kit import (
    ORDER_COLS,
    PAYMENT_COLS,
    PRODUCT_COLS,
    SALE_COLS,
    check_stats,
    cli_cmd,
    cli_env,
    click,
    csv_text,
    customer,
    customers_page,
    ingest,
    ndjson,
    order,
    payment,
    product,
    quarantine,
    rel,
    run_cli,
    run_logs,
    sale,
    silver,
    silver_by,
    tree_state,
)

from shoplake.contract import (
    MAX_AMOUNT,
    MAX_FIELD_BYTES,
    MAX_JSON_DEPTH,
    MAX_QUANTITY,
    MAX_RECORD_BYTES,
)
from shoplake.ingest import readers
from shoplake.lake import Lake, day_partition
from shoplake.landing import land_file
from shoplake.storage import NotRegularFile

MARKERS = ("AWS_SECRET_ACCESS_KEY=marker-aws-7d1f", "PGPASSWORD=marker-pg-93ab")


def _lake_bytes(lake: Lake) -> bytes:
    """Every byte of every regular file in the lake (links not followed)."""
    out = []
    for dirpath, _, names in os.walk(lake.root):
        for name in names:
            path = Path(dirpath, name)
            if path.is_file() and not path.is_symlink():
                out.append(path.read_bytes())
    return b"\n".join(out)


def _file_rejects(lake: Lake, dataset: str) -> dict[str, dict]:
    rows = [r for r in quarantine(lake, dataset) if r["level"] == "file"]
    return {r["source_file"]: r for r in rows}


# ---------------------------------------------------------------------------------------
# row 1: links and special files
# ---------------------------------------------------------------------------------------
def test_links_and_special_files_are_quarantined_unread(lake, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    secrets = outside / "environ"
    secrets.write_text("\0".join(MARKERS) + "\0")
    foreign = outside / "orders.csv"  # a valid orders file outside the lake
    foreign.write_text(csv_text([order("FOREIGN")], ORDER_COLS))
    foreign_dir = outside / "day"
    foreign_dir.mkdir()
    (foreign_dir / "payments.csv").write_text(csv_text([payment("YFOREIGN")], PAYMENT_COLS))

    good = land_file(lake, "orders", "2026-03-01", "a-good.csv", csv_text([order()], ORDER_COLS))
    day = good.parent
    (day / "b-outside.csv").symlink_to(foreign)
    clicks = lake.landing_dir("clickstream", datetime(2026, 3, 1, 7))
    clicks.mkdir(parents=True)
    (clicks / "env.json").symlink_to(secrets)
    land_file(lake, "clickstream", datetime(2026, 3, 1, 7), "z-good.json", ndjson([click()]))
    pipe = lake.landing_dir("sales", date(2026, 3, 1)) / "pipe.csv"
    pipe.parent.mkdir(parents=True)
    os.mkfifo(pipe)  # reading it would block forever
    payments = lake.raw_dir("payments") / "2026" / "03"
    payments.mkdir(parents=True)
    (payments / "02").symlink_to(foreign_dir, target_is_directory=True)

    done = run_cli(lake, timeout=60)  # a process: a read of the FIFO would hang
    assert done.returncode == 0, done.stderr

    (log,) = run_logs(lake).values()
    assert log["balanced"] is True
    assert silver_by(lake, "orders", "order_id").keys() == {"O1"}  # not FOREIGN
    assert silver(lake, "payments") == []  # the linked folder is not entered
    assert len(silver(lake, "clickstream")) == 1
    expected = {
        "orders": (rel(lake, day / "b-outside.csv"), "symlink"),
        "clickstream": (rel(lake, clicks / "env.json"), "symlink"),
        "sales": (rel(lake, pipe), "fifo"),
        "payments": ("raw/payments/2026/03/02", "symlink"),
    }
    for dataset, (key, kind) in expected.items():
        rejects = _file_rejects(lake, dataset)
        assert rejects.keys() == {key}, dataset
        row = rejects[key]
        assert row["reason"] == "not_a_regular_file"
        assert kind in row["detail"]
        assert row["raw_record"] is None  # nothing of the target was read
        counts = log["datasets"][dataset]
        assert counts["files_quarantined"] == 1
        assert counts["read"] == counts["written"] + counts["quarantined"] + counts["duplicates"]
    assert log["datasets"]["orders"]["written"] == 1
    content = _lake_bytes(lake)
    for marker in MARKERS:
        assert marker.encode() not in content
        assert marker.split("=")[1].encode() not in content
    assert b"FOREIGN" not in content

    again = run_cli(lake, timeout=60)  # the run goes on and re-reads nothing
    assert again.returncode == 0, again.stderr
    # run ids start with the second they began in: two runs in one second sort by their
    # random tail, so the second run's log is the one that is not the first's
    (second,) = [v for v in run_logs(lake).values() if v["run_id"] != log["run_id"]]
    assert all(s["read"] == 0 for s in second["datasets"].values()), second


def test_a_read_refuses_a_link_as_the_file_or_as_a_folder_on_its_path(lake, tmp_path):
    """The read itself refuses links (O_NOFOLLOW on every component below the root)."""
    secret = tmp_path / "secret.txt"
    secret.write_text(MARKERS[0])
    land_file(lake, "orders", "2026-03-01", "a.csv", "x")
    link = lake.landing_dir("orders", date(2026, 3, 1)) / "a.csv"
    link.unlink()
    link.symlink_to(secret)
    with pytest.raises(NotRegularFile, match="symlink"):
        lake.read_bytes(rel(lake, link))
    folder = lake.raw_dir("customers")
    folder.parent.mkdir(parents=True, exist_ok=True)
    folder.symlink_to(tmp_path, target_is_directory=True)
    with pytest.raises(NotRegularFile, match="symlink"):
        lake.read_bytes("raw/customers/secret.txt")
    assert lake.list("raw/customers") == []
    assert [e.irregular for e in lake.list("raw/customers", irregular=True)] == ["symlink"]


# ---------------------------------------------------------------------------------------
# rows 3 and 5: nesting depth
# ---------------------------------------------------------------------------------------
def _nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def test_deeply_nested_customer_pages_are_quarantined_and_later_pages_ingested(lake):
    def page_with_extra(customer_id: str, levels: int) -> str:
        """A page whose one customer carries ``levels`` nested arrays (built as text:
        Python's own parser would not get past ~1,000 levels)."""
        page = customers_page([customer(customer_id, extra=None)])
        return page.replace('"extra": null', '"extra": ' + _nested(levels))

    land_file(lake, "customers", "2026-03-01", "a-980.json", page_with_extra("C2", 977))
    bomb = '{"customers": [' + _nested(100_000) + "]}"
    land_file(lake, "customers", "2026-03-01", "b-100000.json", bomb)
    # depth exactly the limit: page object, customers array, customer, 61 more levels
    fits = page_with_extra("C3", MAX_JSON_DEPTH - 3)
    land_file(lake, "customers", "2026-03-01", "c-64.json", fits)
    # brackets inside strings are not nesting
    text = customer("C4", first_name="[" * 5000 + "{" * 5000)
    land_file(lake, "customers", "2026-03-02", "d-good.json", customers_page([customer(), text]))

    report = ingest(lake)
    check_stats(report, "customers", files_read=4, read=5, written=3, files_quarantined=2)
    assert silver_by(lake, "customers", "customer_id").keys() == {"C1", "C3", "C4"}
    rejects = _file_rejects(lake, "customers")
    assert {Path(k).name for k in rejects} == {"a-980.json", "b-100000.json"}
    for row in rejects.values():
        assert row["reason"] == "too_deep"
        assert str(MAX_JSON_DEPTH) in row["detail"]
        assert row["raw_record"] is None

    land_file(lake, "customers", "2026-03-03", "e-late.json", customers_page([customer("C5")]))
    later = ingest(lake)  # the next run is not blocked by the bad pages
    check_stats(later, "customers", files_read=1, read=1, written=1)


def test_deep_clickstream_lines_are_quarantined_per_line(lake):
    def nested_attributes(levels: int) -> str:
        """A click whose attributes nest ``levels`` objects (the line itself is one more)."""
        line = json.dumps(click(attributes={}))
        inner = '{"a": ' * (levels - 1) + "{}" + "}" * (levels - 1)
        return line.replace('"attributes": {}', f'"attributes": {inner}')

    lines = [
        nested_attributes(MAX_JSON_DEPTH - 1),  # 1: 64 levels in all: accepted
        nested_attributes(MAX_JSON_DEPTH),  # 2: 65: too deep
        nested_attributes(100_000),  # 3
        click(session_id="s-2", attributes={"items": [{"n": i} for i in range(200)]}),  # 4
        click(session_id="s-3", attributes={"query": "[" * 1000}),  # 5: a string
        "[" * 100_000,  # 6: not even an object
        click(session_id="s-4", attributes={"query": "[" * 100 + '\\"' * 200_000}),  # 7: < 1 MiB
    ]
    path = land_file(lake, "clickstream", datetime(2026, 3, 1, 7), "c.json", ndjson(lines))
    report = ingest(lake)
    check_stats(report, "clickstream", read=7, written=4, quarantined=3, duplicates=0)
    assert len(silver(lake, "clickstream")) == 4
    rows = {r["source_line"]: r for r in quarantine(lake, "clickstream")}
    assert sorted(rows) == [2, 3, 6]
    for row in rows.values():
        assert (row["source_file"], row["level"], row["reason"]) == (
            rel(lake, path),
            "record",
            "too_deep",
        )
        assert len(row["raw_record"]) <= readers.EXCERPT_CHARS + 3


# ---------------------------------------------------------------------------------------
# rows 4 and 15: years before 1000, zero-padded partitions
# ---------------------------------------------------------------------------------------
def test_years_before_1000_are_quarantined_and_partitions_zero_padded(lake):
    records = [
        order("O1"),  # 2
        order("O2", order_ts="0001-01-01T00:00:00+01:00"),  # 3: year 0 in UTC
        order("O3", order_ts="0999-12-31T23:59:59Z"),  # 4
        order("O4", updated_at="0500-06-01T00:00:00Z"),  # 5
        order("O5", order_ts="1000-01-01T00:30:00+01:00"),  # 6: 0999-12-31 in UTC
        order("O6", order_ts="1000-01-01T00:00:00Z"),  # 7: the first accepted instant
    ]
    path = land_file(lake, "orders", "2026-03-01", "o.csv", csv_text(records, ORDER_COLS))
    report = ingest(lake)
    check_stats(report, "orders", read=6, written=2, quarantined=4)
    rows = {r["source_line"]: (r["reason"], r["field"]) for r in quarantine(lake, "orders")}
    assert rows == {
        3: ("out_of_range", "order_ts"),
        4: ("out_of_range", "order_ts"),
        5: ("out_of_range", "updated_at"),
        6: ("out_of_range", "order_ts"),
    }
    assert all("before year 1000" in r["detail"] for r in quarantine(lake, "orders"))
    assert (lake.root / "silver/orders/year=1000/month=01/day=01/data.parquet").is_file()
    assert silver_by(lake, "orders", "order_id")["O6"]["source_file"] == rel(lake, path)
    assert ingest(lake).datasets["orders"].read == 0  # the next run goes on

    assert day_partition(date(999, 1, 2)) == "year=0999/month=01/day=02"
    assert day_partition(date(5, 12, 31)) == "year=0005/month=12/day=31"
    assert lake.landing_prefix("orders", date(7, 3, 4)) == "raw/orders/0007/03/04"


# ---------------------------------------------------------------------------------------
# row 6: amounts, quantities and line totals the warehouse types can hold
# ---------------------------------------------------------------------------------------
def test_amounts_quantities_and_line_totals_beyond_the_bounds(lake):
    assert (MAX_AMOUNT, MAX_QUANTITY) == ("999999999999.99", 1_000_000)
    sales = [
        sale("S1"),  # 2
        sale("S2", quantity="1000000", unit_price="9999999999999999.99"),  # 3: the issue's
        sale("S3", quantity="1000001", unit_price="1.00", discount_amount=""),  # 4
        sale("S4", quantity="1000000", unit_price="999999.99", discount_amount=""),  # 5: fits
        sale("S5", quantity="1000000", unit_price="1000000.00", discount_amount=""),  # 6
        sale("S6", quantity="1", unit_price="999999999999.99", discount_amount="0"),  # 7: fits
        sale("S7", quantity="1", unit_price="1.00", discount_amount="1000000000000.00"),  # 8
    ]
    land_file(lake, "sales", "2026-03-01", "s.csv", csv_text(sales, SALE_COLS))
    payments = [
        payment("Y1", amount="999999999999.99"),  # 2: the largest amount
        payment("Y2", amount="1000000000000.00"),  # 3
        payment("Y3", amount="9999999999999999.99"),  # 4
    ]
    land_file(lake, "payments", "2026-03-01", "p.csv", csv_text(payments, PAYMENT_COLS))
    report = ingest(lake)
    check_stats(report, "sales", read=7, written=3, quarantined=4)
    check_stats(report, "payments", read=3, written=1, quarantined=2)
    assert silver_by(lake, "sales", "sale_id").keys() == {"S1", "S4", "S6"}
    assert str(silver_by(lake, "payments", "payment_id")["Y1"]["amount"]) == MAX_AMOUNT
    got = {r["source_line"]: (r["reason"], r["field"]) for r in quarantine(lake, "sales")}
    assert got == {
        3: ("out_of_range", "unit_price"),
        4: ("out_of_range", "quantity"),
        6: ("out_of_range", "quantity"),  # the line total
        8: ("out_of_range", "discount_amount"),
    }
    got = {r["source_line"]: (r["reason"], r["field"]) for r in quarantine(lake, "payments")}
    assert got == {3: ("out_of_range", "amount"), 4: ("out_of_range", "amount")}


# ---------------------------------------------------------------------------------------
# row 7: big fields and records
# ---------------------------------------------------------------------------------------
def test_a_quoted_field_over_128_kib_parses_and_the_rows_after_it_are_kept(lake):
    records = [product("P1"), product("P2", name='a "big", name\n' * 15_000), product("P3")]
    land_file(lake, "products", "2026-03-01", "p.csv", csv_text(records, PRODUCT_COLS))
    records.append(product("P4"))
    report = ingest(lake)
    check_stats(report, "products", read=3, written=3, quarantined=0)  # not 134,467
    got = silver_by(lake, "products", "product_id")
    assert got.keys() == {"P1", "P2", "P3"}
    assert got["P2"]["name"] == ('a "big", name\n' * 15_000).strip()


def test_fields_and_records_over_the_limits_quarantine_only_themselves(lake):
    at_limit = "x" * (MAX_FIELD_BYTES - 2) + "é"  # exactly the limit in UTF-8 bytes
    over = "é" * (MAX_FIELD_BYTES // 2) + "x"  # one byte over (fewer characters)
    columns = [*PRODUCT_COLS, *(f"x{i}" for i in range(8))]
    big = dict.fromkeys((f"x{i}" for i in range(8)), "y" * MAX_FIELD_BYTES)
    records = [
        product("P1"),  # 2
        product("P2", name=at_limit),  # 3
        product("P3", brand=f'"{over}"'),  # 4
        product("P4", **big),  # 5: nine fields within the limit, over 8 MiB together
        product("P5"),  # 6
    ]
    land_file(lake, "products", "2026-03-01", "p.csv", csv_text(records, columns))
    long_url = "https://shop.example.com/" + "q" * MAX_FIELD_BYTES
    lines = [
        click(),  # 1
        click(session_id="s-2", page_url=long_url),  # 2
        click(session_id="s-3", user_agent="u" * MAX_RECORD_BYTES),  # 3
        click(session_id="s-4"),  # 4
    ]
    land_file(lake, "clickstream", datetime(2026, 3, 1, 7), "c.json", ndjson(lines))
    page = customers_page([customer("C1", notes="n" * MAX_RECORD_BYTES), customer("C2")])
    land_file(lake, "customers", "2026-03-01", "c.json", page)

    report = ingest(lake)
    check_stats(report, "products", read=5, written=3, quarantined=2, extra_columns=8)
    check_stats(report, "clickstream", read=4, written=2, quarantined=2)
    check_stats(report, "customers", read=2, written=1, quarantined=1)
    products = silver_by(lake, "products", "product_id")
    assert products.keys() == {"P1", "P2", "P5"}
    assert products["P2"]["name"] == at_limit
    expect = {
        "products": {4: ("field_too_large", "brand"), 5: ("record_too_large", None)},
        "clickstream": {2: ("field_too_large", "page_url"), 3: ("record_too_large", None)},
        "customers": {1: ("record_too_large", None)},
    }
    for dataset, want in expect.items():
        rows = {r["source_line"]: r for r in quarantine(lake, dataset)}
        assert {n: (r["reason"], r["field"]) for n, r in rows.items()} == want, dataset
        for r in rows.values():  # the quarantine keeps an excerpt, the raw file the rest
            assert len(r["raw_record"]) <= readers.EXCERPT_CHARS + 3
            assert "MiB" in r["detail"]
    assert sorted(r["session_id"] for r in silver(lake, "clickstream")) == ["s-1", "s-4"]


# ---------------------------------------------------------------------------------------
# row 9: gzip bombs
# ---------------------------------------------------------------------------------------
def _gzip_bomb(members: int) -> bytes:
    """``members`` gzip members of 1 MiB of zeros each (about 1 KiB compressed apiece)."""
    return gzip.compress(b"\0" * (1 << 20), mtime=0) * members


def test_a_gzip_bomb_is_quarantined_in_bounded_memory(lake):
    bomb = _gzip_bomb(1024)  # ~1 MB expanding to 1 GiB
    assert 900_000 < len(bomb) < 1_200_000
    land_file(lake, "customers", "2026-03-01", "a-bomb.json.gz", bomb)
    land_file(lake, "customers", "2026-03-01", "b-good.json", customers_page([customer()]))
    single = zlib.compressobj(9, zlib.DEFLATED, 31)  # one member, 64 MiB of one line
    one = single.compress(b"[" + b" " * (64 << 20)) + single.flush()
    land_file(lake, "orders", "2026-03-01", "a-bomb.csv.gz", one)
    land_file(lake, "orders", "2026-03-01", "b-good.csv", csv_text([order()], ORDER_COLS))

    child = subprocess.Popen(
        cli_cmd(lake), env=cli_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    _, err = child.communicate(timeout=120)
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)  # the largest child so far
    assert child.returncode == 0, err
    assert usage.ru_maxrss < 600_000  # KiB (~230 MB measured): far from the 1 GiB expanded

    (log,) = run_logs(lake).values()
    assert log["balanced"] is True
    assert silver_by(lake, "customers", "customer_id").keys() == {"C1"}
    assert silver_by(lake, "orders", "order_id").keys() == {"O1"}
    for dataset, name in (("customers", "a-bomb.json.gz"), ("orders", "a-bomb.csv.gz")):
        (row,) = _file_rejects(lake, dataset).values()
        assert (Path(row["source_file"]).name, row["reason"]) == (name, "decompression_limit")
        assert "100x" in row["detail"]
        assert row["raw_record"] is None
        quarantine_files = list((lake.root / "quarantine" / dataset).rglob("*.parquet"))
        assert sum(p.stat().st_size for p in quarantine_files) < 64 * 1024


def test_gzip_limits_and_multi_member_files(monkeypatch):
    two = gzip.compress(b"a,b\n", mtime=0) + gzip.compress(b"1,2\n", mtime=0)
    assert readers.gunzip(two) == b"a,b\n1,2\n"  # members are concatenated, as gzip does
    assert readers.gunzip(b"") == b""
    with pytest.raises(readers.FileRejected) as bad:
        readers.gunzip(two[:-6])
    assert bad.value.reason == "unreadable_gzip"
    text = os.urandom(4096).hex().encode()  # compresses about 2:1
    monkeypatch.setattr(readers, "MAX_DECOMPRESSED_BYTES", len(text) - 1)
    with pytest.raises(readers.FileRejected) as capped:
        readers.gunzip(gzip.compress(text))
    assert capped.value.reason == "decompression_limit"
    monkeypatch.setattr(readers, "MAX_DECOMPRESSED_BYTES", len(text))
    assert readers.gunzip(gzip.compress(text)) == text


# ---------------------------------------------------------------------------------------
# row 15: control characters in ids
# ---------------------------------------------------------------------------------------
def test_control_characters_in_ids_are_rejected(lake):
    orders = [
        order("O1"),  # 2
        order("O2", customer_id="C000001\x00"),  # 3: the phantom customer
        order("O3\x07"),  # 4
        order("O4", customer_id="C\x7f1"),  # 5
        order("O5", customer_id="C\u00e91"),  # 6: other characters are fine
    ]
    land_file(lake, "orders", "2026-03-01", "o.csv", csv_text(orders, ORDER_COLS))
    lines = [click(), click(user_id="C1\u0000"), click(session_id="s\u001b[1m")]
    land_file(lake, "clickstream", datetime(2026, 3, 1, 7), "c.json", ndjson(lines))
    page = customers_page([customer("C1"), customer("C2\n3")])
    land_file(lake, "customers", "2026-03-01", "c.json", page)
    report = ingest(lake)
    check_stats(report, "orders", read=5, written=2, quarantined=3)
    check_stats(report, "clickstream", read=3, written=1, quarantined=2)
    check_stats(report, "customers", read=2, written=1, quarantined=1)
    assert silver_by(lake, "orders", "order_id").keys() == {"O1", "O5"}
    expect = {
        "orders": {3: "customer_id", 4: "order_id", 5: "customer_id"},
        "clickstream": {2: "user_id", 3: "session_id"},
        "customers": {2: "customer_id"},
    }
    for dataset, want in expect.items():
        rows = quarantine(lake, dataset)
        assert {r["source_line"]: r["field"] for r in rows} == want, dataset
        assert {r["reason"] for r in rows} == {"invalid_id"}
        assert all(r["field"] in r["detail"] for r in rows)


# ---------------------------------------------------------------------------------------
# row 8: paths are data
# ---------------------------------------------------------------------------------------
def test_a_lake_path_with_quotes_brackets_and_globs_ingests_twice(tmp_path):
    root = tmp_path / "it's [a] lake '||' x *?"
    root.mkdir()
    lake = Lake.at(root)
    land_file(lake, "orders", "2026-03-01", "o[1].csv", csv_text([order("O1")], ORDER_COLS))
    land_file(lake, "sales", "2026-03-01", "s*.csv", csv_text([sale("S1")], SALE_COLS))
    land_file(lake, "customers", "2026-03-01", "c?.json", customers_page([customer()]))
    land_file(lake, "clickstream", datetime(2026, 3, 1, 7), "c.json", ndjson([click()]))
    first = ingest(lake)
    for dataset in ("orders", "sales", "customers", "clickstream"):
        check_stats(first, dataset, read=1, written=1)

    # a later run merges into the partitions written above (reads them back by path)
    more = [order("O1"), order("O1", updated_at="2026-03-02T00:00:00Z"), order("O2")]
    land_file(lake, "orders", "2026-03-02", "o'2'.csv", csv_text(more, ORDER_COLS))
    land_file(lake, "sales", "2026-03-02", "s]2.csv", csv_text([sale("S1"), sale("S2")], SALE_COLS))
    second = ingest(lake)
    check_stats(second, "orders", read=3, written=2, duplicates=1)
    check_stats(second, "sales", read=2, written=1, duplicates=1)
    assert len(silver(lake, "orders")) == 3
    assert silver_by(lake, "sales", "sale_id").keys() == {"S1", "S2"}

    silver_before = tree_state(root / "silver")
    third = ingest(lake)  # nothing new: nothing changes
    assert all(s.read == 0 for s in third.datasets.values())
    assert tree_state(root / "silver") == silver_before


# ---------------------------------------------------------------------------------------
# issue 10, item 1: every raw file is accounted for
# ---------------------------------------------------------------------------------------
def test_raw_files_off_the_layout_are_reported_and_common_extensions_accepted(lake):
    raw = lake.root / "raw"
    accepted = {
        "raw/clickstream/2026/03/01/07/events.ndjson": ndjson([click()]),
        "raw/clickstream/2026/03/01/07/more.JSONL": ndjson([click(session_id="s-2")]),
        "raw/orders/2026/03/01/orders.CSV": csv_text([order("O1")], ORDER_COLS),
        "raw/sales/2026/03/01/sales.Csv.GZ": gzip.compress(
            csv_text([sale("S1")], SALE_COLS).encode()
        ),
    }
    strays = {  # key: (closest dataset, a word of the problem, a word of the expected path)
        "raw/events.ndjson": ("clickstream", "directly in raw/", "HH/"),
        "raw/orders/orders.csv": ("orders", "landing-date", "raw/orders/YYYY/MM/DD/"),
        "raw/order/2026/03/01/o.csv": ("orders", "raw/order/", "raw/orders/YYYY/MM/DD/"),
        "raw/clickstream/2026/03/01/c.json": ("clickstream", "landing-date", "HH/"),
        "raw/payments/2026/03/01/p.txt": ("payments", ".csv", "raw/payments/YYYY/MM/DD/"),
        "raw/misc/notes.md": (None, "raw/misc/", "raw/<dataset>/"),
    }
    for key, text in accepted.items():
        path = lake.root / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(text if isinstance(text, bytes) else text.encode())
    for key in strays:
        path = lake.root / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(csv_text([order("STRAY")], ORDER_COLS))
    (raw / "orders" / "2026" / "03" / "01" / "_upload.csv.tmp").write_text("x")  # in progress

    report = ingest(lake)
    check_stats(report, "clickstream", files_read=2, read=2, written=2)
    check_stats(report, "orders", files_read=1, read=1, written=1)
    check_stats(report, "sales", files_read=1, read=1, written=1)
    check_stats(report, "payments", files_read=0, read=0)
    assert silver_by(lake, "orders", "order_id").keys() == {"O1"}

    got = {s.key: s for s in report.unmatched}
    assert got.keys() == strays.keys()
    for key, (closest, problem, expected) in strays.items():
        assert got[key].closest == closest, key
        assert problem in got[key].problem, (key, got[key].problem)
        assert expected in got[key].expected, (key, got[key].expected)
    (warning,) = report.warnings
    assert warning.startswith("6 raw files under raw/ match no dataset's layout")
    notes = report.as_report().notes
    assert notes[0].startswith("NOT READ: 6 file(s)")
    assert all(any(key in n for n in notes) for key in strays)
    (log,) = run_logs(lake).values()
    assert {u["key"] for u in log["unmatched_files"]} == strays.keys()
    assert log["warnings"] == report.warnings

    again = ingest(lake)  # still there, still reported; nothing is read again
    assert {s.key for s in again.unmatched} == strays.keys()
    assert all(s.read == 0 for s in again.datasets.values())


def test_a_lake_with_only_good_files_has_no_warnings(lake):
    land_file(lake, "orders", "2026-03-01", "o.csv", csv_text([order()], ORDER_COLS))
    report = ingest(lake)
    assert report.unmatched == []
    assert report.warnings == []
    assert not any("NOT READ" in n for n in report.as_report().notes)
