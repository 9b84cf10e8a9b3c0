"""Valid records of every dataset: business-date partition, types, values, lineage, layout.

Every expected value is written out by hand from the raw contract and docs/lake.md.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest
from ingest_kit import (
    KEYS,
    NOW,
    ORDER_COLS,
    PAYMENT_COLS,
    PRODUCT_COLS,
    SALE_COLS,
    UTC,
    assert_silver,
    check_stats,
    click,
    csv_text,
    customer,
    customers_page,
    ingest,
    lineage,
    ndjson,
    order,
    parquet_rows,
    parquet_schema,
    partition_path,
    payment,
    product,
    quarantine,
    rel,
    run_cli,
    run_logs,
    sale,
    silver,
    tree_state,
)

from shoplake.contract import DATASETS
from shoplake.landing import land_file

LINEAGE_TYPES = {
    "source_file": "VARCHAR",
    "source_line": "BIGINT",
    "ingested_at": "TIMESTAMP",
    "run_id": "VARCHAR",
    "ingest_seq": "BIGINT",
}


def _only_files(lake, dataset: str) -> list[str]:
    return sorted(tree_state(lake.root / "silver" / dataset))


def _assert_typed(lake, dataset: str, types: dict) -> None:
    """Each partition file: data.parquet, Snappy, exactly the documented columns and types."""
    files = sorted((lake.root / "silver" / dataset).glob("*/*/*/*"))
    assert files
    for f in files:
        assert f.name == "data.parquet"
        assert parquet_schema(f) == {**types, **LINEAGE_TYPES}
        con = duckdb.connect()
        codecs = {
            r[0]
            for r in con.execute("select compression from parquet_metadata(?)", [str(f)]).fetchall()
        }
        con.close()
        assert codecs == {"SNAPPY"}, (f, codecs)


# ---------------------------------------------------------------------------------------
def test_orders_land_in_utc_business_date_partitions(lake):
    records = [
        order("O1", order_ts="2026-03-01T10:00:00Z", updated_at="2026-03-01T10:00:00Z"),
        # 00:30 at +01:00 is 23:30 UTC the day before
        order(
            "O2",
            customer_id="C2",
            order_ts="2026-03-01T00:30:00+01:00",
            status="paid",
            channel="mobile",
            currency="USD",
            shipping_country="US",
            updated_at="2026-03-01T00:45:00+01:00",
        ),
        # no offset = UTC, space separator
        order(
            "O3",
            order_ts="2026-03-01 23:59:59",
            status="delivered",
            channel="marketplace",
            currency="GBP",
            shipping_country="GB",
            updated_at="2026-03-03 08:00:00",
        ),
        # fractional seconds and a negative offset: 04:00:00.25 UTC on 03-02
        order(
            "O4",
            order_ts="2026-03-02T01:00:00.250-03:00",
            status="cancelled",
            currency="CAD",
            shipping_country="CA",
            updated_at="2026-03-02T01:00:00.250-03:00",
        ),
        order("O5", status="shipped", currency="AUD", shipping_country="AU"),
        order("O6", status="returned", shipping_country="DE"),
    ]
    path = land_file(lake, "orders", "2026-03-02", "orders_0001.csv", csv_text(records, ORDER_COLS))
    src = rel(lake, path)
    assert src == "raw/orders/2026/03/02/orders_0001.csv"

    report = ingest(lake)
    check_stats(
        report,
        "orders",
        files_read=1,
        read=6,
        written=6,
        quarantined=0,
        duplicates=0,
        files_quarantined=0,
        extra_columns=0,
    )
    assert report.balanced is True
    rid = report.run_id

    def row(oid, cust, ots, status, channel, cur, country, upd, line):
        return {
            "order_id": oid,
            "customer_id": cust,
            "order_ts": ots,
            "status": status,
            "channel": channel,
            "currency": cur,
            "shipping_country": country,
            "updated_at": upd,
            **lineage(src, line, rid),
        }

    t = datetime
    assert_silver(
        lake,
        "orders",
        {
            ("O1", t(2026, 3, 1, 10)): row(
                "O1", "C1", t(2026, 3, 1, 10), "placed", "web", "EUR", "PT", t(2026, 3, 1, 10), 2
            ),
            ("O2", t(2026, 2, 28, 23, 45)): row(
                "O2",
                "C2",
                t(2026, 2, 28, 23, 30),
                "paid",
                "mobile",
                "USD",
                "US",
                t(2026, 2, 28, 23, 45),
                3,
            ),
            ("O3", t(2026, 3, 3, 8)): row(
                "O3",
                "C1",
                t(2026, 3, 1, 23, 59, 59),
                "delivered",
                "marketplace",
                "GBP",
                "GB",
                t(2026, 3, 3, 8),
                4,
            ),
            ("O4", t(2026, 3, 2, 4, 0, 0, 250000)): row(
                "O4",
                "C1",
                t(2026, 3, 2, 4, 0, 0, 250000),
                "cancelled",
                "web",
                "CAD",
                "CA",
                t(2026, 3, 2, 4, 0, 0, 250000),
                5,
            ),
            ("O5", t(2026, 3, 1, 10)): row(
                "O5", "C1", t(2026, 3, 1, 10), "shipped", "web", "AUD", "AU", t(2026, 3, 1, 10), 6
            ),
            ("O6", t(2026, 3, 1, 10)): row(
                "O6", "C1", t(2026, 3, 1, 10), "returned", "web", "EUR", "DE", t(2026, 3, 1, 10), 7
            ),
        },
    )
    assert _only_files(lake, "orders") == [
        "year=2026/month=02/day=28/data.parquet",
        "year=2026/month=03/day=01/data.parquet",
        "year=2026/month=03/day=02/data.parquet",
    ]
    _assert_typed(
        lake,
        "orders",
        {
            "order_id": "VARCHAR",
            "customer_id": "VARCHAR",
            "order_ts": "TIMESTAMP",
            "status": "VARCHAR",
            "channel": "VARCHAR",
            "currency": "VARCHAR",
            "shipping_country": "VARCHAR",
            "updated_at": "TIMESTAMP",
        },
    )
    assert quarantine(lake, "orders") == []


def test_sales_amounts_quantities_and_discounts(lake):
    records = [
        sale("S1", quantity="2", unit_price="10.00", discount_amount="1.50"),
        # empty discount = null = 0; sold 01:30 UTC on 03-02
        sale(
            "S2",
            order_id="O2",
            product_id="P2",
            quantity="1",
            unit_price="5",
            discount_amount="",
            sold_at="2026-03-01T23:30:00-02:00",
        ),
        # one decimal, microseconds just before midnight
        sale(
            "S3",
            quantity="3",
            unit_price="0.5",
            discount_amount="0.5",
            sold_at="2026-02-28T23:59:59.999999Z",
        ),
        # discount exactly quantity * unit_price is allowed; large amounts keep cents
        sale(
            "S4",
            quantity="10",
            unit_price="1234567.89",
            discount_amount="12345678.90",
            sold_at="2026-03-01T12:00:00+00:00",
        ),
        # zero price is allowed (>= 0); big integer quantity
        sale("S5", quantity="1000000", unit_price="0.00", discount_amount="0"),
    ]
    path = land_file(lake, "sales", "2026-03-02", "sales.csv", csv_text(records, SALE_COLS))
    src = rel(lake, path)
    report = ingest(lake)
    check_stats(report, "sales", files_read=1, read=5, written=5, quarantined=0, duplicates=0)
    rid = report.run_id
    t = datetime

    def row(sid, oid, pid, q, p, d, at, line):
        return {
            "sale_id": sid,
            "order_id": oid,
            "product_id": pid,
            "quantity": q,
            "unit_price": Decimal(p),
            "discount_amount": Decimal(d),
            "sold_at": at,
            **lineage(src, line, rid),
        }

    assert_silver(
        lake,
        "sales",
        {
            ("S1",): row("S1", "O1", "P1", 2, "10.00", "1.50", t(2026, 3, 1, 10), 2),
            ("S2",): row("S2", "O2", "P2", 1, "5.00", "0.00", t(2026, 3, 2, 1, 30), 3),
            ("S3",): row(
                "S3", "O1", "P1", 3, "0.50", "0.50", t(2026, 2, 28, 23, 59, 59, 999999), 4
            ),
            ("S4",): row("S4", "O1", "P1", 10, "1234567.89", "12345678.90", t(2026, 3, 1, 12), 5),
            ("S5",): row("S5", "O1", "P1", 1000000, "0.00", "0.00", t(2026, 3, 1, 10), 6),
        },
    )
    _assert_typed(
        lake,
        "sales",
        {
            "sale_id": "VARCHAR",
            "order_id": "VARCHAR",
            "product_id": "VARCHAR",
            "quantity": "BIGINT",
            "unit_price": "DECIMAL(18,2)",
            "discount_amount": "DECIMAL(18,2)",
            "sold_at": "TIMESTAMP",
        },
    )


def test_payments_every_method_status_and_currency(lake):
    records = [
        payment("Y1"),
        payment(
            "Y2",
            method="paypal",
            status="refunded",
            amount="0",
            currency="USD",
            payment_ts="2026-03-01T00:00:00+00:00",
        ),
        # 00:59:59 at +01:00 is 23:59:59 UTC on 02-28
        payment(
            "Y3",
            method="bank_transfer",
            status="authorized",
            amount="100.1",
            currency="GBP",
            payment_ts="2026-03-01T00:59:59+01:00",
        ),
        payment("Y4", method="gift_card", status="failed", currency="CAD", amount="7"),
        payment(
            "Y5",
            method="cash_on_delivery",
            currency="AUD",
            payment_ts="2026-03-01T10:05:00.000Z",
        ),
    ]
    path = land_file(
        lake, "payments", "2026-03-01", "payments.csv", csv_text(records, PAYMENT_COLS)
    )
    src = rel(lake, path)
    report = ingest(lake)
    check_stats(report, "payments", files_read=1, read=5, written=5, quarantined=0, duplicates=0)
    rid = report.run_id
    t = datetime

    def row(pid, at, method, status, amount, cur, line):
        return {
            "payment_id": pid,
            "order_id": "O1",
            "payment_ts": at,
            "method": method,
            "status": status,
            "amount": Decimal(amount),
            "currency": cur,
            **lineage(src, line, rid),
        }

    assert_silver(
        lake,
        "payments",
        {
            ("Y1",): row("Y1", t(2026, 3, 1, 10, 5), "card", "captured", "18.50", "EUR", 2),
            ("Y2",): row("Y2", t(2026, 3, 1), "paypal", "refunded", "0.00", "USD", 3),
            ("Y3",): row(
                "Y3",
                t(2026, 2, 28, 23, 59, 59),
                "bank_transfer",
                "authorized",
                "100.10",
                "GBP",
                4,
            ),
            ("Y4",): row("Y4", t(2026, 3, 1, 10, 5), "gift_card", "failed", "7.00", "CAD", 5),
            ("Y5",): row(
                "Y5", t(2026, 3, 1, 10, 5), "cash_on_delivery", "captured", "18.50", "AUD", 6
            ),
        },
    )
    _assert_typed(
        lake,
        "payments",
        {
            "payment_id": "VARCHAR",
            "order_id": "VARCHAR",
            "payment_ts": "TIMESTAMP",
            "method": "VARCHAR",
            "status": "VARCHAR",
            "amount": "DECIMAL(18,2)",
            "currency": "VARCHAR",
        },
    )


def test_customers_page_flattens_address_and_keeps_versions(lake):
    c2 = customer(
        "C2",
        segment="small_business",
        marketing_opt_in=False,
        updated_at="2026-03-01T00:30:00+01:00",  # 02-28 23:30 UTC
        address={"city": "Lyon", "postal_code": "69001", "country": "FR"},
    )
    del c2["first_name"]
    c3 = customer("C3", segment="corporate", signup_ts=None, updated_at="2026-03-02 09:15:00")
    del c3["marketing_opt_in"]
    # a second version of C1 on the same page
    c1b = customer("C1", segment="corporate", updated_at="2026-03-02T00:00:00.5Z")
    page = customers_page([customer("C1"), c2, c3, c1b], page=1, next_url="/customers?page=2")
    path = land_file(lake, "customers", "2026-03-02", "customers_p1.json", page)
    src = rel(lake, path)
    report = ingest(lake)
    check_stats(report, "customers", files_read=1, read=4, written=4, quarantined=0, duplicates=0)
    rid = report.run_id
    t = datetime

    def row(cid, email, first, segment, signup, city, region, postal, country, opt, upd, line):
        return {
            "customer_id": cid,
            "email": email,
            "first_name": first,
            "last_name": "Silva",
            "segment": segment,
            "signup_ts": signup,
            "address_city": city,
            "address_region": region,
            "address_postal_code": postal,
            "address_country": country,
            "marketing_opt_in": opt,
            "updated_at": upd,
            **lineage(src, line, rid),
        }

    signup = t(2025, 11, 2, 10)
    assert_silver(
        lake,
        "customers",
        {
            ("C1", t(2026, 3, 1)): row(
                "C1",
                "c1@example.com",
                "Ana",
                "consumer",
                signup,
                "Porto",
                "Porto",
                "4000-001",
                "PT",
                True,
                t(2026, 3, 1),
                1,
            ),
            ("C2", t(2026, 2, 28, 23, 30)): row(
                "C2",
                "c2@example.com",
                None,
                "small_business",
                signup,
                "Lyon",
                None,
                "69001",
                "FR",
                False,
                t(2026, 2, 28, 23, 30),
                2,
            ),
            ("C3", t(2026, 3, 2, 9, 15)): row(
                "C3",
                "c3@example.com",
                "Ana",
                "corporate",
                None,
                "Porto",
                "Porto",
                "4000-001",
                "PT",
                None,
                t(2026, 3, 2, 9, 15),
                3,
            ),
            ("C1", t(2026, 3, 2, 0, 0, 0, 500000)): row(
                "C1",
                "c1@example.com",
                "Ana",
                "corporate",
                signup,
                "Porto",
                "Porto",
                "4000-001",
                "PT",
                True,
                t(2026, 3, 2, 0, 0, 0, 500000),
                4,
            ),
        },
    )
    _assert_typed(
        lake,
        "customers",
        {
            "customer_id": "VARCHAR",
            "email": "VARCHAR",
            "first_name": "VARCHAR",
            "last_name": "VARCHAR",
            "segment": "VARCHAR",
            "signup_ts": "TIMESTAMP",
            "address_city": "VARCHAR",
            "address_region": "VARCHAR",
            "address_postal_code": "VARCHAR",
            "address_country": "VARCHAR",
            "marketing_opt_in": "BOOLEAN",
            "updated_at": "TIMESTAMP",
        },
    )


def test_products_csv_dump_booleans_and_nullable_columns(lake):
    records = [
        product("P1", is_active="true"),
        product("P2", is_active="f", unit_cost="", subcategory="", brand="", list_price="0"),
        product("P3", is_active="1", updated_at="2026-03-02 06:00:00", list_price="99.9"),
        product("P4", is_active="FALSE", updated_at="2026-03-02T06:00:00+02:00"),
        product("P5", is_active="0"),
        product("P6", is_active="T"),
    ]
    path = land_file(lake, "products", "2026-03-02", "catalog.csv", csv_text(records, PRODUCT_COLS))
    src = rel(lake, path)
    report = ingest(lake)
    check_stats(report, "products", files_read=1, read=6, written=6, quarantined=0, duplicates=0)
    rid = report.run_id
    t = datetime

    def row(pid, sub, brand, price, cost, active, upd, line):
        return {
            "product_id": pid,
            "sku": f"SKU-{pid}",
            "name": "Blue mug",
            "category": "home",
            "subcategory": sub,
            "brand": brand,
            "list_price": Decimal(price),
            "unit_cost": None if cost is None else Decimal(cost),
            "is_active": active,
            "updated_at": upd,
            **lineage(src, line, rid),
        }

    u = t(2026, 3, 1, 8)
    assert_silver(
        lake,
        "products",
        {
            ("P1", u): row("P1", "kitchen", "Acme", "12.90", "4.10", True, u, 2),
            ("P2", u): row("P2", None, None, "0.00", None, False, u, 3),
            ("P3", t(2026, 3, 2, 6)): row(
                "P3", "kitchen", "Acme", "99.90", "4.10", True, t(2026, 3, 2, 6), 4
            ),
            ("P4", t(2026, 3, 2, 4)): row(
                "P4", "kitchen", "Acme", "12.90", "4.10", False, t(2026, 3, 2, 4), 5
            ),
            ("P5", u): row("P5", "kitchen", "Acme", "12.90", "4.10", False, u, 6),
            ("P6", u): row("P6", "kitchen", "Acme", "12.90", "4.10", True, u, 7),
        },
    )
    _assert_typed(
        lake,
        "products",
        {
            "product_id": "VARCHAR",
            "sku": "VARCHAR",
            "name": "VARCHAR",
            "category": "VARCHAR",
            "subcategory": "VARCHAR",
            "brand": "VARCHAR",
            "list_price": "DECIMAL(18,2)",
            "unit_cost": "DECIMAL(18,2)",
            "is_active": "BOOLEAN",
            "updated_at": "TIMESTAMP",
        },
    )


def _click_id(utc: datetime, user: str, session: str, action: str, url: str | None) -> str:
    """md5 over the UTC time (microseconds, Z), user, session, action, page_url (docs)."""
    text = "\x1f".join([utc.strftime("%Y-%m-%dT%H:%M:%S.%fZ"), user, session, action, url or ""])
    return hashlib.md5(text.encode()).hexdigest()


def test_clickstream_click_id_attributes_and_partitions(lake):
    from shoplake.contract import click_id as contract_click_id

    t = datetime
    view_attrs = {"product_id": "P1", "price": "12.90"}
    buy_attrs = {"order_id": "O42", "revenue": "59.90", "currency": "EUR"}
    lines = [
        click(),  # no attributes
        click(action="product_view", attributes=view_attrs, event_time="2026-03-01T14:06:00Z"),
        click(
            action="purchase",
            page_url="https://shop.example.com/checkout/complete",
            attributes=buy_attrs,
            event_time="2026-03-01T14:07:00.000001Z",
        ),
        # optional strings absent; +01:00 offset; half a second
        {
            "event_time": "2026-03-01T15:05:09.5+01:00",
            "user_id": "anon-7f",
            "session_id": "s-2",
            "action": "search",
            "attributes": {"query": "mug"},
        },
        # 23:30 at -01:00 is 00:30 UTC on 03-02
        click(action="add_to_cart", event_time="2026-03-01T23:30:00-01:00", attributes={}),
        click(action="checkout_start", event_time="2026-03-01 14:10:00", attributes=None),
        click(action="remove_from_cart", event_time="2026-03-01T14:11:00Z"),
    ]
    path = land_file(
        lake, "clickstream", datetime(2026, 3, 1, 14), "events-0001.json", ndjson(lines)
    )
    src = rel(lake, path)
    assert src == "raw/clickstream/2026/03/01/14/events-0001.json"
    report = ingest(lake)
    check_stats(report, "clickstream", files_read=1, read=7, written=7, quarantined=0)
    rid = report.run_id

    ua, ip, home = "Mozilla/5.0", "203.0.113.7", "https://shop.example.com/"

    def row(at, user, session, action, url, agent, addr, attrs, pid, oid, line):
        cid = _click_id(at, user, session, action, url)
        # the contract's own function agrees with the formula in docs/lake.md
        assert cid == contract_click_id(
            at.strftime("%Y-%m-%dT%H:%M:%S.%fZ"), user, session, action, url
        )
        return cid, {
            "event_time": at,
            "user_id": user,
            "session_id": session,
            "action": action,
            "page_url": url,
            "user_agent": agent,
            "ip": addr,
            "attributes": attrs,
            "click_id": cid,
            "product_id": pid,
            "order_id": oid,
            **lineage(src, line, rid),
        }

    rows = [
        row(t(2026, 3, 1, 14, 5, 9, 123000), "C1", "s-1", "page_view", home, ua, ip, None,
            None, None, 1),
        row(t(2026, 3, 1, 14, 6), "C1", "s-1", "product_view", home, ua, ip, view_attrs,
            "P1", None, 2),
        row(t(2026, 3, 1, 14, 7, 0, 1), "C1", "s-1", "purchase",
            "https://shop.example.com/checkout/complete", ua, ip, buy_attrs, None, "O42", 3),
        row(t(2026, 3, 1, 14, 5, 9, 500000), "anon-7f", "s-2", "search", None, None, None,
            {"query": "mug"}, None, None, 4),
        row(t(2026, 3, 2, 0, 30), "C1", "s-1", "add_to_cart", home, ua, ip, {}, None, None, 5),
        row(t(2026, 3, 1, 14, 10), "C1", "s-1", "checkout_start", home, ua, ip, None, None,
            None, 6),
        row(t(2026, 3, 1, 14, 11), "C1", "s-1", "remove_from_cart", home, ua, ip, None, None,
            None, 7),
    ]  # fmt: skip
    got = {r["click_id"]: r for r in silver(lake, "clickstream")}
    # attributes is JSON text: compare it parsed
    for r in got.values():
        r["attributes"] = None if r["attributes"] is None else json.loads(r["attributes"])
    expected = dict(rows)
    assert sorted(got) == sorted(expected)
    for cid, exp in expected.items():
        r = dict(got[cid])
        file = r.pop("_file")
        r.pop("year"), r.pop("month"), r.pop("day")
        assert file == partition_path("clickstream", exp["event_time"].date().isoformat())
        assert r == exp
    _assert_typed(
        lake,
        "clickstream",
        {
            "event_time": "TIMESTAMP",
            "user_id": "VARCHAR",
            "session_id": "VARCHAR",
            "action": "VARCHAR",
            "page_url": "VARCHAR",
            "user_agent": "VARCHAR",
            "ip": "VARCHAR",
            "attributes": "VARCHAR",
            "click_id": "VARCHAR",
            "product_id": "VARCHAR",
            "order_id": "VARCHAR",
        },
    )


def test_one_run_over_every_dataset_and_its_run_log(lake):
    land_file(lake, "orders", "2026-03-01", "o.csv", csv_text([order("O1")], ORDER_COLS))
    land_file(lake, "sales", "2026-03-01", "s.csv", csv_text([sale("S1"), sale("S2")], SALE_COLS))
    land_file(lake, "payments", "2026-03-01", "p.csv", csv_text([payment("Y1")], PAYMENT_COLS))
    land_file(lake, "customers", "2026-03-01", "c.json", customers_page([customer("C1")]))
    land_file(lake, "products", "2026-03-01", "p.csv", csv_text([product("P1")], PRODUCT_COLS))
    land_file(lake, "clickstream", datetime(2026, 3, 1, 9), "e.json", ndjson([click()] * 3))
    report = ingest(lake)
    expected = {
        "orders": (1, 1, 0),
        "sales": (2, 2, 0),
        "payments": (1, 1, 0),
        "customers": (1, 1, 0),
        "products": (1, 1, 0),
        "clickstream": (3, 1, 2),  # the same event three times: one click, two duplicates
    }
    for ds, (read, written, dups) in expected.items():
        check_stats(
            report,
            ds,
            files_read=1,
            read=read,
            written=written,
            quarantined=0,
            duplicates=dups,
            files_quarantined=0,
        )
    assert report.balanced is True

    logs = run_logs(lake)
    assert list(logs) == [report.run_id]
    log = logs[report.run_id]
    assert log["run_id"] == report.run_id
    started = datetime.fromisoformat(log["started_at"].replace("Z", "+00:00"))
    finished = datetime.fromisoformat(log["finished_at"].replace("Z", "+00:00"))
    if started.tzinfo is None:
        started, finished = started.replace(tzinfo=UTC), finished.replace(tzinfo=UTC)
    assert started == NOW
    assert finished >= started
    for ds, (read, written, dups) in expected.items():
        entry = log["datasets"][ds]
        assert entry["read"] == read
        assert entry["written"] == written
        assert entry["duplicates"] == dups
        assert entry["quarantined"] == 0
        assert entry["files_read"] == 1
        assert entry["files_quarantined"] == 0
        assert entry["extra_columns"] == 0
    # raw files are never modified or deleted
    assert len(list((lake.root / "raw").rglob("*.*"))) == 6
    # no transaction left behind
    txn = lake.state_dir("txn")
    assert not txn.exists() or not any(txn.iterdir())


def test_empty_lake_runs_and_reports_zero(lake):
    report = ingest(lake)
    assert report.balanced is True
    for ds in ("orders", "sales", "payments", "customers", "products", "clickstream"):
        check_stats(report, ds, files_read=0, read=0, written=0, quarantined=0, duplicates=0)
    assert not list((lake.root / "silver").rglob("*.parquet"))


def test_cli_exits_zero_with_quarantined_records_and_stamps_run_time(lake):
    records = [order("O1"), order("O2", status="lost")]
    land_file(lake, "orders", "2026-03-01", "o.csv", csv_text(records, ORDER_COLS))
    before = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    proc = run_cli(lake)
    after = datetime.now(UTC).replace(tzinfo=None) + timedelta(seconds=1)
    assert proc.returncode == 0, proc.stderr
    (log,) = run_logs(lake).values()
    assert log["datasets"]["orders"]["read"] == 2
    assert log["datasets"]["orders"]["written"] == 1
    assert log["datasets"]["orders"]["quarantined"] == 1
    (row,) = silver(lake, "orders")
    assert row["order_id"] == "O1"
    assert row["run_id"] == log["run_id"]
    # ingested_at is the run's real start time in UTC (no `now` override on the CLI)
    assert before <= row["ingested_at"] <= after


def test_console_script_is_installed_and_runs_ingest(lake):
    script = Path(sys.executable).with_name("shoplake")
    exe = str(script) if script.exists() else shutil.which("shoplake")
    assert exe, "the shoplake console script is not installed"
    land_file(lake, "payments", "2026-03-01", "p.csv", csv_text([payment("Y1")], PAYMENT_COLS))
    proc = subprocess.run(
        [exe, "ingest", "--lake", str(lake.root)], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stderr
    assert [r["payment_id"] for r in silver(lake, "payments")] == ["Y1"]


SORT_CASES = {
    # rows given in neither key nor time order, all on one business day
    "orders": (
        ORDER_COLS,
        [
            order("O3", order_ts="2026-03-01T08:00:00Z", updated_at="2026-03-01T08:00:00Z"),
            order("O1", order_ts="2026-03-01T12:00:00Z", updated_at="2026-03-01T12:00:00Z"),
            order("O2", order_ts="2026-03-01T09:00:00Z", updated_at="2026-03-01T11:00:00Z"),
            order("O2", order_ts="2026-03-01T09:00:00Z", updated_at="2026-03-01T09:30:00Z"),
        ],
    ),
    "sales": (
        SALE_COLS,
        [
            sale("S2", sold_at="2026-03-01T08:00:00Z"),
            sale("S10", sold_at="2026-03-01T12:00:00Z"),
            sale("S1", sold_at="2026-03-01T23:00:00Z"),
        ],
    ),
    "payments": (
        PAYMENT_COLS,
        [
            payment("Y9", payment_ts="2026-03-01T01:00:00Z"),
            payment("Y1", payment_ts="2026-03-01T02:00:00Z"),
            payment("Y5", payment_ts="2026-03-01T00:30:00Z"),
        ],
    ),
    "products": (
        PRODUCT_COLS,
        [
            product("P2", updated_at="2026-03-01T01:00:00Z"),
            product("P1", updated_at="2026-03-01T05:00:00Z"),
            product("P1", updated_at="2026-03-01T03:00:00Z"),
        ],
    ),
}


@pytest.mark.parametrize("dataset", [*SORT_CASES, "customers", "clickstream"])
def test_rows_are_sorted_by_business_time_then_key_in_each_partition(lake, dataset):
    if dataset in SORT_CASES:
        cols, records = SORT_CASES[dataset]
        land_file(lake, dataset, "2026-03-02", "x.csv", csv_text(records, cols))
        n = len(records)
    elif dataset == "customers":
        records = [
            customer("C2", updated_at="2026-03-01T01:00:00Z"),
            customer("C1", updated_at="2026-03-01T05:00:00Z"),
            customer("C1", updated_at="2026-03-01T03:00:00Z"),
        ]
        land_file(lake, dataset, "2026-03-02", "x.json", customers_page(records))
        n = len(records)
    else:
        n = 20
        events = [
            click(session_id=f"s{i}", event_time=f"2026-03-01T{i:02d}:00:00Z") for i in range(n)
        ]
        land_file(lake, dataset, datetime(2026, 3, 2, 0), "x.json", ndjson(events))
    report = ingest(lake)
    check_stats(report, dataset, read=n, written=n)
    (f,) = (lake.root / "silver" / dataset).glob("*/*/*/*.parquet")
    business_ts = DATASETS[dataset].business_ts
    keys = [(r[business_ts], *(r[k] for k in KEYS[dataset])) for r in parquet_rows(f)]
    assert len(keys) == n
    assert keys == sorted(keys)
