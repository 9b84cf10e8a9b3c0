"""Valid records of every dataset: business-date partition, types, values, lineage, layout.

Every expected value is written out by hand from the raw contract and docs/lake.md: one
table of cases per dataset, (line, the record as delivered, the silver row it must
become). Each dataset's cases are one file, landed at its documented key; the six files
are ingested in one run, then every case is checked on its own and every file as a whole
(counters, partitions, Parquet types).
"""

from __future__ import annotations

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
    BUSINESS_TS,
    KEYS,
    NOW,
    ORDER_COLS,
    PAYMENT_COLS,
    PRODUCT_COLS,
    SALE_COLS,
    UTC,
    cases_file,
    check_stats,
    click,
    click_id_by_hand,
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
    without,
)

from shoplake.contract import DATASETS
from shoplake.contract import click_id as contract_click_id
from shoplake.lake import Lake
from shoplake.landing import land_file

LINEAGE_TYPES = {
    "source_file": "VARCHAR",
    "source_line": "BIGINT",
    "ingested_at": "TIMESTAMP",
    "run_id": "VARCHAR",
    "ingest_seq": "BIGINT",
}
#: The documented silver types of each dataset's data columns (docs/lake.md).
SILVER_TYPES = {
    "orders": {
        "order_id": "VARCHAR",
        "customer_id": "VARCHAR",
        "order_ts": "TIMESTAMP",
        "status": "VARCHAR",
        "channel": "VARCHAR",
        "currency": "VARCHAR",
        "shipping_country": "VARCHAR",
        "updated_at": "TIMESTAMP",
    },
    "sales": {
        "sale_id": "VARCHAR",
        "order_id": "VARCHAR",
        "product_id": "VARCHAR",
        "quantity": "BIGINT",
        "unit_price": "DECIMAL(18,2)",
        "discount_amount": "DECIMAL(18,2)",
        "sold_at": "TIMESTAMP",
    },
    "payments": {
        "payment_id": "VARCHAR",
        "order_id": "VARCHAR",
        "payment_ts": "TIMESTAMP",
        "method": "VARCHAR",
        "status": "VARCHAR",
        "amount": "DECIMAL(18,2)",
        "currency": "VARCHAR",
    },
    "customers": {
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
    "products": {
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
    "clickstream": {
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
# one table of cases per dataset: (line, record as delivered, expected silver row); the
# expected row is the dataset's default row below with the case's columns changed
# ---------------------------------------------------------------------------------------
t = datetime
HOME, UA, IP = "https://shop.example.com/", "Mozilla/5.0", "203.0.113.7"
SIGNUP = t(2025, 11, 2, 10)
#: The silver row of each kit record builder's defaults (order(), sale(), ...).
DEFAULT_ROWS = {
    "orders": dict(order_id="O1", customer_id="C1", order_ts=t(2026, 3, 1, 10), status="placed",
                   channel="web", currency="EUR", shipping_country="PT",
                   updated_at=t(2026, 3, 1, 10)),
    "sales": dict(sale_id="S1", order_id="O1", product_id="P1", quantity=2,
                  unit_price=Decimal("10.00"), discount_amount=Decimal("1.50"),
                  sold_at=t(2026, 3, 1, 10)),
    "payments": dict(payment_id="Y1", order_id="O1", payment_ts=t(2026, 3, 1, 10, 5),
                     method="card", status="captured", amount=Decimal("18.50"),
                     currency="EUR"),
    "customers": dict(customer_id="C1", email="c1@example.com", first_name="Ana",
                      last_name="Silva", segment="consumer", signup_ts=SIGNUP,
                      address_city="Porto", address_region="Porto",
                      address_postal_code="4000-001", address_country="PT",
                      marketing_opt_in=True, updated_at=t(2026, 3, 1)),
    "products": dict(product_id="P1", sku="SKU-P1", name="Blue mug", category="home",
                     subcategory="kitchen", brand="Acme", list_price=Decimal("12.90"),
                     unit_cost=Decimal("4.10"), is_active=True, updated_at=t(2026, 3, 1, 8)),
    "clickstream": dict(event_time=t(2026, 3, 1, 14, 5, 9, 123000), user_id="C1",
                        session_id="s-1", action="page_view", page_url=HOME, user_agent=UA,
                        ip=IP, attributes=None, product_id=None, order_id=None),
}  # fmt: skip


def case(dataset, line, raw, *, id, **expected):
    row = {**DEFAULT_ROWS[dataset], **expected}
    return pytest.param(dataset, line, raw, row, id=f"{dataset}-{line}-{id}")


ORDER_CASES = [
    case("orders", 2, order("O1", order_ts="2026-03-01T10:00:00Z",
                            updated_at="2026-03-01T10:00:00Z"), id="utc"),
    # 00:30 at +01:00 is 23:30 UTC the day before
    case("orders", 3, order("O2", customer_id="C2", order_ts="2026-03-01T00:30:00+01:00",
                            status="paid", channel="mobile", currency="USD",
                            shipping_country="US", updated_at="2026-03-01T00:45:00+01:00"),
         id="offset-moves-the-day-back", order_id="O2", customer_id="C2",
         order_ts=t(2026, 2, 28, 23, 30), status="paid", channel="mobile", currency="USD",
         shipping_country="US", updated_at=t(2026, 2, 28, 23, 45)),
    # no offset = UTC, space separator
    case("orders", 4, order("O3", order_ts="2026-03-01 23:59:59", status="delivered",
                            channel="marketplace", currency="GBP", shipping_country="GB",
                            updated_at="2026-03-03 08:00:00"),
         id="no-offset-space-separator", order_id="O3", order_ts=t(2026, 3, 1, 23, 59, 59),
         status="delivered", channel="marketplace", currency="GBP", shipping_country="GB",
         updated_at=t(2026, 3, 3, 8)),
    # fractional seconds and a negative offset: 04:00:00.25 UTC on 03-02
    case("orders", 5, order("O4", order_ts="2026-03-02T01:00:00.250-03:00", status="cancelled",
                            currency="CAD", shipping_country="CA",
                            updated_at="2026-03-02T01:00:00.250-03:00"),
         id="fraction-negative-offset", order_id="O4", order_ts=t(2026, 3, 2, 4, 0, 0, 250000),
         status="cancelled", currency="CAD", shipping_country="CA",
         updated_at=t(2026, 3, 2, 4, 0, 0, 250000)),
    case("orders", 6, order("O5", status="shipped", currency="AUD", shipping_country="AU"),
         id="shipped-aud", order_id="O5", status="shipped", currency="AUD",
         shipping_country="AU"),
    case("orders", 7, order("O6", status="returned", shipping_country="DE"),
         id="returned", order_id="O6", status="returned", shipping_country="DE"),
]  # fmt: skip

SALE_CASES = [
    case("sales", 2, sale("S1", quantity="2", unit_price="10.00", discount_amount="1.50"),
         id="plain"),
    # empty discount = null = 0; sold 01:30 UTC on 03-02
    case("sales", 3, sale("S2", order_id="O2", product_id="P2", quantity="1", unit_price="5",
                          discount_amount="", sold_at="2026-03-01T23:30:00-02:00"),
         id="empty-discount-is-0", sale_id="S2", order_id="O2", product_id="P2", quantity=1,
         unit_price=Decimal("5.00"), discount_amount=Decimal("0.00"),
         sold_at=t(2026, 3, 2, 1, 30)),
    # one decimal, microseconds just before midnight
    case("sales", 4, sale("S3", quantity="3", unit_price="0.5", discount_amount="0.5",
                          sold_at="2026-02-28T23:59:59.999999Z"),
         id="one-decimal-microseconds", sale_id="S3", quantity=3, unit_price=Decimal("0.50"),
         discount_amount=Decimal("0.50"), sold_at=t(2026, 2, 28, 23, 59, 59, 999999)),
    # discount exactly quantity * unit_price is allowed; large amounts keep cents
    case("sales", 5, sale("S4", quantity="10", unit_price="1234567.89",
                          discount_amount="12345678.90", sold_at="2026-03-01T12:00:00+00:00"),
         id="discount-equal-to-line-amount", sale_id="S4", quantity=10,
         unit_price=Decimal("1234567.89"), discount_amount=Decimal("12345678.90"),
         sold_at=t(2026, 3, 1, 12)),
    # zero price is allowed (>= 0); big integer quantity
    case("sales", 6, sale("S5", quantity="1000000", unit_price="0.00", discount_amount="0"),
         id="zero-price-big-quantity", sale_id="S5", quantity=1000000,
         unit_price=Decimal("0.00"), discount_amount=Decimal("0.00")),
]  # fmt: skip

PAYMENT_CASES = [
    case("payments", 2, payment("Y1"), id="card"),
    case("payments", 3, payment("Y2", method="paypal", status="refunded", amount="0",
                                currency="USD", payment_ts="2026-03-01T00:00:00+00:00"),
         id="paypal-refunded-zero", payment_id="Y2", payment_ts=t(2026, 3, 1), method="paypal",
         status="refunded", amount=Decimal("0.00"), currency="USD"),
    # 00:59:59 at +01:00 is 23:59:59 UTC on 02-28
    case("payments", 4, payment("Y3", method="bank_transfer", status="authorized",
                                amount="100.1", currency="GBP",
                                payment_ts="2026-03-01T00:59:59+01:00"),
         id="bank-transfer-day-before", payment_id="Y3", payment_ts=t(2026, 2, 28, 23, 59, 59),
         method="bank_transfer", status="authorized", amount=Decimal("100.10"),
         currency="GBP"),
    case("payments", 5, payment("Y4", method="gift_card", status="failed", currency="CAD",
                                amount="7"),
         id="gift-card-failed", payment_id="Y4", method="gift_card", status="failed",
         amount=Decimal("7.00"), currency="CAD"),
    case("payments", 6, payment("Y5", method="cash_on_delivery", currency="AUD",
                                payment_ts="2026-03-01T10:05:00.000Z"),
         id="cash-on-delivery", payment_id="Y5", method="cash_on_delivery", currency="AUD"),
]  # fmt: skip

CUSTOMER_CASES = [
    case("customers", 1, customer("C1"), id="plain"),
    case("customers", 2,
         without(customer("C2", segment="small_business", marketing_opt_in=False,
                           updated_at="2026-03-01T00:30:00+01:00",  # 02-28 23:30 UTC
                           address={"city": "Lyon", "postal_code": "69001", "country": "FR"}),
                  "first_name"),
         id="no-first-name-partial-address", customer_id="C2", email="c2@example.com",
         first_name=None, segment="small_business", address_city="Lyon", address_region=None,
         address_postal_code="69001", address_country="FR", marketing_opt_in=False,
         updated_at=t(2026, 2, 28, 23, 30)),
    case("customers", 3,
         without(customer("C3", segment="corporate", signup_ts=None,
                           updated_at="2026-03-02 09:15:00"), "marketing_opt_in"),
         id="null-signup-no-opt-in", customer_id="C3", email="c3@example.com",
         segment="corporate", signup_ts=None, marketing_opt_in=None,
         updated_at=t(2026, 3, 2, 9, 15)),
    # a second version of C1 on the same page
    case("customers", 4, customer("C1", segment="corporate", updated_at="2026-03-02T00:00:00.5Z"),
         id="second-version", segment="corporate", updated_at=t(2026, 3, 2, 0, 0, 0, 500000)),
]  # fmt: skip

PRODUCT_CASES = [
    case("products", 2, product("P1", is_active="true"), id="true"),
    case("products", 3, product("P2", is_active="f", unit_cost="", subcategory="", brand="",
                                list_price="0"),
         id="f-empty-optionals-zero-price", product_id="P2", sku="SKU-P2", subcategory=None,
         brand=None, list_price=Decimal("0.00"), unit_cost=None, is_active=False),
    case("products", 4, product("P3", is_active="1", updated_at="2026-03-02 06:00:00",
                                list_price="99.9"),
         id="1-one-decimal", product_id="P3", sku="SKU-P3", list_price=Decimal("99.90"),
         updated_at=t(2026, 3, 2, 6)),
    case("products", 5, product("P4", is_active="FALSE", updated_at="2026-03-02T06:00:00+02:00"),
         id="FALSE-offset", product_id="P4", sku="SKU-P4", is_active=False,
         updated_at=t(2026, 3, 2, 4)),
    case("products", 6, product("P5", is_active="0"), id="0", product_id="P5", sku="SKU-P5",
         is_active=False),
    case("products", 7, product("P6", is_active="T"), id="T", product_id="P6", sku="SKU-P6"),
]  # fmt: skip

VIEW_ATTRS = {"product_id": "P1", "price": "12.90"}
BUY_ATTRS = {"order_id": "O42", "revenue": "59.90", "currency": "EUR"}
CHECKOUT = "https://shop.example.com/checkout/complete"
CLICK_CASES = [
    case("clickstream", 1, click(), id="no-attributes"),
    case("clickstream", 2, click(action="product_view", attributes=VIEW_ATTRS,
                                 event_time="2026-03-01T14:06:00Z"),
         id="product-view", event_time=t(2026, 3, 1, 14, 6), action="product_view",
         attributes=VIEW_ATTRS, product_id="P1"),
    case("clickstream", 3, click(action="purchase", page_url=CHECKOUT, attributes=BUY_ATTRS,
                                 event_time="2026-03-01T14:07:00.000001Z"),
         id="purchase", event_time=t(2026, 3, 1, 14, 7, 0, 1), action="purchase",
         page_url=CHECKOUT, attributes=BUY_ATTRS, order_id="O42"),
    # optional strings absent; +01:00 offset; half a second
    case("clickstream", 4, {"event_time": "2026-03-01T15:05:09.5+01:00", "user_id": "anon-7f",
                            "session_id": "s-2", "action": "search",
                            "attributes": {"query": "mug"}},
         id="optional-absent-offset", event_time=t(2026, 3, 1, 14, 5, 9, 500000),
         user_id="anon-7f", session_id="s-2", action="search", page_url=None, user_agent=None,
         ip=None, attributes={"query": "mug"}),
    # 23:30 at -01:00 is 00:30 UTC on 03-02
    case("clickstream", 5, click(action="add_to_cart", event_time="2026-03-01T23:30:00-01:00",
                                 attributes={}),
         id="offset-moves-the-day-on", event_time=t(2026, 3, 2, 0, 30), action="add_to_cart",
         attributes={}),
    case("clickstream", 6, click(action="checkout_start", event_time="2026-03-01 14:10:00",
                                 attributes=None),
         id="no-offset-null-attributes", event_time=t(2026, 3, 1, 14, 10),
         action="checkout_start"),
    case("clickstream", 7, click(action="remove_from_cart", event_time="2026-03-01T14:11:00Z"),
         id="remove-from-cart", event_time=t(2026, 3, 1, 14, 11), action="remove_from_cart"),
]  # fmt: skip

VALID_CASES = {
    "orders": ORDER_CASES,
    "sales": SALE_CASES,
    "payments": PAYMENT_CASES,
    "customers": CUSTOMER_CASES,
    "products": PRODUCT_CASES,
    "clickstream": CLICK_CASES,
}
#: Each dataset's file: (landing time, name, the key it must land at).
VALID_FILES = {
    "orders": ("2026-03-02", "orders_0001.csv", "raw/orders/2026/03/02/orders_0001.csv"),
    "sales": ("2026-03-02", "sales.csv", "raw/sales/2026/03/02/sales.csv"),
    "payments": ("2026-03-01", "payments.csv", "raw/payments/2026/03/01/payments.csv"),
    "customers": ("2026-03-02", "customers_p1.json",
                  "raw/customers/2026/03/02/customers_p1.json"),
    "products": ("2026-03-02", "catalog.csv", "raw/products/2026/03/02/catalog.csv"),
    "clickstream": (datetime(2026, 3, 1, 14), "events-0001.json",
                    "raw/clickstream/2026/03/01/14/events-0001.json"),
}  # fmt: skip
#: The partitions each file makes (every business date of its cases, UTC).
PARTITIONS = {
    "orders": ["2026-02-28", "2026-03-01", "2026-03-02"],
    "sales": ["2026-02-28", "2026-03-01", "2026-03-02"],
    "payments": ["2026-02-28", "2026-03-01"],
    "customers": ["2026-02-28", "2026-03-01", "2026-03-02"],
    "products": ["2026-03-01", "2026-03-02"],
    "clickstream": ["2026-03-01", "2026-03-02"],
}


@pytest.fixture(scope="module")
def valid_run(tmp_path_factory):
    """Every dataset's file of valid cases landed in one lake and ingested in one run
    (no crash failpoint armed in this process): (lake, report, {dataset: source_file})."""
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("SHOPLAKE_CRASH_AT", raising=False)
        lake = Lake.at(tmp_path_factory.mktemp("lake"))
        sources = {}
        for dataset, (when, name, _) in VALID_FILES.items():
            text = cases_file(dataset, VALID_CASES[dataset], page=1, next_url="/customers?page=2")
            path = land_file(lake, dataset, when, name, text)
            sources[dataset] = rel(lake, path)
        yield lake, ingest(lake), sources


@pytest.mark.parametrize(
    ("dataset", "line", "raw", "expected"),
    [c for cases in VALID_CASES.values() for c in cases],
)
def test_each_valid_record_lands_typed_in_its_business_date_partition(
    valid_run, dataset, line, raw, expected
):
    lake, report, sources = valid_run
    src = sources[dataset]
    expected = {**expected, **lineage(src, line, report.run_id)}
    if dataset == "clickstream":
        at, url = expected["event_time"], expected["page_url"]
        cid = click_id_by_hand(
            at, expected["user_id"], expected["session_id"], expected["action"], url
        )
        # the contract's own function agrees with the formula in docs/lake.md
        assert cid == contract_click_id(
            at.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            expected["user_id"],
            expected["session_id"],
            expected["action"],
            url,
        )
        expected["click_id"] = cid
    (row,) = [dict(r) for r in silver(lake, dataset) if r["source_line"] == line]
    file = row.pop("_file")
    hive = (row.pop("year"), row.pop("month"), row.pop("day"))
    business = row[BUSINESS_TS[dataset]]
    assert file == partition_path(dataset, business.date().isoformat())
    assert tuple(int(v) for v in hive) == (business.year, business.month, business.day)
    if dataset == "clickstream":  # attributes is JSON text: compare it parsed
        row["attributes"] = None if row["attributes"] is None else json.loads(row["attributes"])
    assert row == expected


@pytest.mark.parametrize("dataset", VALID_CASES)
def test_each_file_of_valid_records_is_written_whole(valid_run, dataset):
    lake, report, sources = valid_run
    n = len(VALID_CASES[dataset])
    assert sources[dataset] == VALID_FILES[dataset][2]
    check_stats(
        report,
        dataset,
        files_read=1,
        read=n,
        written=n,
        quarantined=0,
        duplicates=0,
        files_quarantined=0,
        extra_columns=0,
    )
    assert report.balanced is True
    # exactly the expected rows: one a key, none besides
    keys = sorted(tuple(r[c] for c in KEYS[dataset]) for r in silver(lake, dataset))
    if dataset == "clickstream":  # click_id is checked case by case
        assert len(set(keys)) == n
    else:
        expected = [tuple(p.values[3][c] for c in KEYS[dataset]) for p in VALID_CASES[dataset]]
        assert keys == sorted(expected)
    assert _only_files(lake, dataset) == [
        partition_path(dataset, day).removeprefix(f"silver/{dataset}/")
        for day in PARTITIONS[dataset]
    ]
    _assert_typed(lake, dataset, SILVER_TYPES[dataset])
    assert quarantine(lake, dataset) == []


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
