"""Bad input of every kind the raw contract names: quarantined with the documented reason
code, field and line, never dropped, never crashing the run; the rest is kept.

Each file is checked row by row: which records reached silver, which were quarantined
with which (source_line, reason, field), and read = written + quarantined + duplicates
with every number worked out by hand.
"""

from __future__ import annotations

import gzip
import json
from datetime import datetime, timedelta

from ingest_kit import (
    NOW,
    ORDER_COLS,
    PAYMENT_COLS,
    PRODUCT_COLS,
    SALE_COLS,
    check_stats,
    click,
    csv_text,
    customer,
    customers_page,
    ingest,
    ndjson,
    order,
    parquet_schema,
    payment,
    product,
    quarantine,
    rel,
    sale,
    silver,
    silver_by,
)

from shoplake.landing import land_file

QUARANTINE_COLUMNS = {
    "run_id",
    "dataset",
    "source_file",
    "source_line",
    "level",
    "reason",
    "field",
    "detail",
    "reasons",
    "raw_record",
    "quarantined_at",
}
FUTURE = (NOW + timedelta(hours=24, seconds=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
EDGE = (NOW + timedelta(hours=24)).strftime("%Y-%m-%dT%H:%M:%SZ")


def _iso(d: datetime) -> str:
    return d.strftime("%Y-%m-%dT%H:%M:%SZ")


def check_quarantine(lake, dataset, report, expected):
    """``expected``: (source_file, source_line, level, reason, field) per rejected record
    or file; ``field`` may be a set of acceptable spellings (dotted JSON path or column)."""
    rows = quarantine(lake, dataset)
    assert len(rows) == len(expected), [(r["source_line"], r["reason"], r["field"]) for r in rows]
    got = sorted(rows, key=lambda r: (r["source_file"], r["source_line"] or 0))
    want = sorted(expected, key=lambda e: (e[0], e[1] or 0))
    for r, (src, line, level, reason, fld) in zip(got, want, strict=True):
        where = (src, line, r["reason"], r["field"])
        assert (r["source_file"], r["source_line"]) == (src, line), where
        assert r["level"] == level, where
        assert r["reason"] == reason, where
        if isinstance(fld, set):
            assert r["field"] in fld, where
        elif fld is not None:
            assert r["field"] == fld, where
        assert r["dataset"] == dataset
        assert r["run_id"] == report.run_id
        assert isinstance(r["detail"], str), where
        assert r["detail"].strip(), where
        assert r["quarantined_at"] is not None
        # one file per run, in the partition of the run's UTC date
        assert r["_file"] == (
            f"quarantine/{dataset}/year={NOW:%Y}/month={NOW:%m}/day={NOW:%d}/"
            f"{report.run_id}.parquet"
        )
    if rows:
        schema = parquet_schema(lake.root / rows[0]["_file"])
        assert set(schema) == QUARANTINE_COLUMNS
        assert schema["source_line"] == "BIGINT"
    return {(r["source_file"], r["source_line"]): r for r in rows}


# ---------------------------------------------------------------------------------------
# record level
# ---------------------------------------------------------------------------------------
def test_orders_record_level_rejections(lake):
    header = ",".join(ORDER_COLS)
    good = csv_text([order("O1")], ORDER_COLS).splitlines()[1]

    def line(**kw):
        return csv_text([order(**kw)], ORDER_COLS).splitlines()[1]

    rows = [
        header,  # 1
        good,  # 2
        line(order_id=""),  # 3
        line(order_id="O3", customer_id="   "),  # 4
        line(order_id="O4", order_ts="yesterday"),  # 5
        line(order_id="O5", status="PAID"),  # 6
        line(order_id="O6", channel="fax"),  # 7
        line(order_id="O7", currency="JPY"),  # 8
        line(order_id="O8", currency="eur"),  # 9
        line(order_id="O9", shipping_country="pt"),  # 10
        line(order_id="O10", shipping_country="XX"),  # 11
        line(order_id="O11", updated_at="2026-02-30T10:00:00Z"),  # 12
        # one second more than 24 h after the run start, written with an offset
        line(order_id="O12", order_ts="2026-03-11T13:00:01+01:00"),  # 13
        line(order_id="O13", updated_at=EDGE),  # 14: exactly 24 h ahead is allowed
        "O14,C1,2026-03-01T10:00:00Z,placed",  # 15: too few fields
        good.replace("O1,", "O15,", 1) + ",extra",  # 16: too many fields
        line(order_id="O16", status="delivered"),  # 17
        line(order_id="O17", shipping_country="USA"),  # 18
        line(order_id="O18", status=""),  # 19
    ]
    path = land_file(lake, "orders", "2026-03-01", "orders.csv", "\n".join(rows) + "\n")
    src = rel(lake, path)
    report = ingest(lake)
    check_stats(
        report,
        "orders",
        files_read=1,
        read=18,
        written=3,
        quarantined=15,
        duplicates=0,
        files_quarantined=0,
    )
    assert report.balanced is True
    assert sorted(r["order_id"] for r in silver(lake, "orders")) == ["O1", "O13", "O16"]
    q = check_quarantine(
        lake,
        "orders",
        report,
        [
            (src, 3, "record", "missing_required", "order_id"),
            (src, 4, "record", "missing_required", "customer_id"),
            (src, 5, "record", "wrong_type", "order_ts"),
            (src, 6, "record", "out_of_enum", "status"),
            (src, 7, "record", "out_of_enum", "channel"),
            (src, 8, "record", "out_of_enum", "currency"),
            (src, 9, "record", "out_of_enum", "currency"),
            (src, 10, "record", "out_of_enum", "shipping_country"),
            (src, 11, "record", "out_of_enum", "shipping_country"),
            (src, 12, "record", "wrong_type", "updated_at"),
            (src, 13, "record", "future_timestamp", "order_ts"),
            (src, 15, "record", "unparseable", None),
            (src, 16, "record", "unparseable", None),
            (src, 18, "record", "out_of_enum", "shipping_country"),
            (src, 19, "record", "missing_required", "status"),
        ],
    )
    # raw_record of a CSV row: the row as a JSON object of header -> value, as delivered
    assert json.loads(q[(src, 6)]["raw_record"]) == order("O5", status="PAID")


def test_sales_amount_quantity_and_discount_rules(lake):
    def line(**kw):
        return csv_text([sale(**kw)], SALE_COLS).splitlines()[1]

    rows = [
        ",".join(SALE_COLS),  # 1
        line(sale_id="S1"),  # 2
        line(sale_id="S2", unit_price="abc"),  # 3
        line(sale_id="S3", unit_price="1.234"),  # 4: three decimals
        line(sale_id="S4", quantity="2.5"),  # 5
        line(sale_id="S5", quantity="0", discount_amount=""),  # 6
        line(sale_id="S6", unit_price="-5.00", discount_amount=""),  # 7
        # 2 x 10.00 = 20.00: a discount of 20.01 is above the line amount
        line(sale_id="S7", quantity="2", unit_price="10.00", discount_amount="20.01"),  # 8
        line(sale_id="S8", quantity="2", unit_price="10.00", discount_amount="20.00"),  # 9
        line(sale_id="S9", discount_amount="-1.00"),  # 10
        line(sale_id="S10", quantity=""),  # 11
        line(sale_id="S11", sold_at=""),  # 12
        line(sale_id="S12", quantity="two"),  # 13
        line(sale_id="S13", unit_price="1e3"),  # 14
        line(sale_id="S14", unit_price="1,000.00"),  # 15
        line(sale_id="S15", discount_amount="0.001"),  # 16
        line(sale_id="S16", sold_at=FUTURE),  # 17
        line(sale_id="S17", product_id=""),  # 18
        'S18,O1,P1,1,"2.00,,2026-03-01T10:00:00Z',  # 19: quote never closed (to EOF)
    ]
    path = land_file(lake, "sales", "2026-03-01", "sales.csv", "\n".join(rows) + "\n")
    src = rel(lake, path)
    report = ingest(lake)
    check_stats(report, "sales", files_read=1, read=18, written=2, quarantined=16, duplicates=0)
    got = silver_by(lake, "sales", "sale_id")
    assert sorted(got) == ["S1", "S8"]
    assert str(got["S8"]["discount_amount"]) == "20.00"
    check_quarantine(
        lake,
        "sales",
        report,
        [
            (src, 3, "record", "wrong_type", "unit_price"),
            (src, 4, "record", "wrong_type", "unit_price"),
            (src, 5, "record", "wrong_type", "quantity"),
            (src, 6, "record", "out_of_range", "quantity"),
            # -5.00 is below its minimum (and so is 0 discount above 2 x -5.00)
            (src, 7, "record", "out_of_range", {"unit_price", "discount_amount"}),
            (src, 8, "record", "out_of_range", "discount_amount"),
            (src, 10, "record", "out_of_range", "discount_amount"),
            (src, 11, "record", "missing_required", "quantity"),
            (src, 12, "record", "missing_required", "sold_at"),
            (src, 13, "record", "wrong_type", "quantity"),
            (src, 14, "record", "wrong_type", "unit_price"),
            (src, 15, "record", "wrong_type", "unit_price"),
            (src, 16, "record", "wrong_type", "discount_amount"),
            (src, 17, "record", "future_timestamp", "sold_at"),
            (src, 18, "record", "missing_required", "product_id"),
            (src, 19, "record", "unparseable", None),
        ],
    )


def test_payments_enum_amount_and_required_rules(lake):
    records = [
        payment("Y1"),  # 2
        payment("Y2", method="bitcoin"),  # 3
        payment("Y3", status="CAPTURED"),  # 4
        payment("Y4", amount="-0.01"),  # 5
        payment("Y5", amount="12.345"),  # 6
        payment("Y6", amount=""),  # 7
        payment("Y7", currency=""),  # 8
        payment("Y8", payment_ts="01/03/2026 10:00"),  # 9
        payment("", order_id="O9"),  # 10
        payment("Y10", payment_ts="2026-03-01T10:00:00+25:00"),  # 11: no such offset
    ]
    path = land_file(lake, "payments", "2026-03-01", "p.csv", csv_text(records, PAYMENT_COLS))
    src = rel(lake, path)
    report = ingest(lake)
    check_stats(report, "payments", read=10, written=1, quarantined=9, duplicates=0)
    assert [r["payment_id"] for r in silver(lake, "payments")] == ["Y1"]
    check_quarantine(
        lake,
        "payments",
        report,
        [
            (src, 3, "record", "out_of_enum", "method"),
            (src, 4, "record", "out_of_enum", "status"),
            (src, 5, "record", "out_of_range", "amount"),
            (src, 6, "record", "wrong_type", "amount"),
            (src, 7, "record", "missing_required", "amount"),
            (src, 8, "record", "missing_required", "currency"),
            (src, 9, "record", "wrong_type", "payment_ts"),
            (src, 10, "record", "missing_required", "payment_id"),
            (src, 11, "record", "wrong_type", "payment_ts"),
        ],
    )


def test_products_boolean_price_and_required_rules(lake):
    records = [
        product("P1"),  # 2
        product("P2", is_active="yes"),  # 3
        product("P3", is_active=""),  # 4
        product("P4", list_price=""),  # 5
        product("P5", unit_cost="-1.00"),  # 6
        product("P6", unit_cost="abc"),  # 7
        product("P7", sku=""),  # 8
        product("P8", updated_at="2026-03-01T25:00:00Z"),  # 9
        product("P9", name="   "),  # 10
        product("P10", category=""),  # 11
    ]
    path = land_file(lake, "products", "2026-03-01", "c.csv", csv_text(records, PRODUCT_COLS))
    src = rel(lake, path)
    report = ingest(lake)
    check_stats(report, "products", read=10, written=1, quarantined=9, duplicates=0)
    assert [r["product_id"] for r in silver(lake, "products")] == ["P1"]
    check_quarantine(
        lake,
        "products",
        report,
        [
            (src, 3, "record", "wrong_type", "is_active"),
            (src, 4, "record", "missing_required", "is_active"),
            (src, 5, "record", "missing_required", "list_price"),
            (src, 6, "record", "out_of_range", "unit_cost"),
            (src, 7, "record", "wrong_type", "unit_cost"),
            (src, 8, "record", "missing_required", "sku"),
            (src, 9, "record", "wrong_type", "updated_at"),
            (src, 10, "record", "missing_required", "name"),
            (src, 11, "record", "missing_required", "category"),
        ],
    )


def test_customers_record_level_rejections(lake):
    no_address = customer("C5")
    del no_address["address"]
    no_updated = customer("C9")
    del no_updated["updated_at"]
    bad_country = customer("C6")
    bad_country["address"] = {**bad_country["address"], "country": "pt"}
    records = [
        customer("C1"),  # 1
        customer(123, email="x@example.com"),  # 2: id as a JSON number
        customer("C3", email=None),  # 3
        customer("C4", segment="vip"),  # 4
        no_address,  # 5
        bad_country,  # 6
        customer("C7", marketing_opt_in="yes"),  # 7
        "C8",  # 8: not an object
        no_updated,  # 9
        customer("C10", signup_ts="soon"),  # 10
        customer("C11", first_name=42),  # 11
        customer("C12", updated_at=FUTURE),  # 12
        None,  # 13: not an object
        customer("C14"),  # 14
        customer("C15", segment=""),  # 15
    ]
    path = land_file(lake, "customers", "2026-03-01", "page.json", customers_page(records))
    src = rel(lake, path)
    report = ingest(lake)
    check_stats(report, "customers", read=15, written=2, quarantined=13, duplicates=0)
    assert sorted(r["customer_id"] for r in silver(lake, "customers")) == ["C1", "C14"]
    country = {"address.country", "address_country"}
    q = check_quarantine(
        lake,
        "customers",
        report,
        [
            (src, 2, "record", "wrong_type", "customer_id"),
            (src, 3, "record", "missing_required", "email"),
            (src, 4, "record", "out_of_enum", "segment"),
            (src, 5, "record", "missing_required", {"address", *country}),
            (src, 6, "record", "out_of_enum", country),
            (src, 7, "record", "wrong_type", "marketing_opt_in"),
            (src, 8, "record", "not_an_object", None),
            (src, 9, "record", "missing_required", "updated_at"),
            (src, 10, "record", "wrong_type", "signup_ts"),
            (src, 11, "record", "wrong_type", "first_name"),
            (src, 12, "record", "future_timestamp", "updated_at"),
            (src, 13, "record", "not_an_object", None),
            (src, 15, "record", "missing_required", "segment"),
        ],
    )
    # raw_record of a JSON record: the object as delivered
    assert json.loads(q[(src, 4)]["raw_record"]) == customer("C4", segment="vip")


def test_clickstream_record_level_rejections(lake):
    truncated = '{"event_time": "2026-03-01T14:05:09Z", "user_id": '
    no_time = click(session_id="s9")
    del no_time["event_time"]
    lines = [
        click(session_id="s1"),  # 1
        truncated,  # 2
        [1, 2, 3],  # 3
        '"just text"',  # 4: a JSON string
        click(session_id="s5", user_id=42),  # 5
        click(session_id="s6", action="click"),  # 6
        click(session_id="s7", attributes="x"),  # 7
        click(session_id="s8", attributes=[1, 2]),  # 8
        no_time,  # 9
        click(session_id=""),  # 10
        click(session_id="s11", event_time=FUTURE),  # 11
        "not json at all",  # 12
        click(session_id="s13", event_time="2026-03-01T14:05:09.123"),  # 13
        42,  # 14
        click(session_id="s15", event_time=EDGE),  # 15: exactly 24 h ahead is allowed
    ]
    text = ndjson(lines)
    path = land_file(lake, "clickstream", datetime(2026, 3, 1, 14), "e.json", text)
    src = rel(lake, path)
    report = ingest(lake)
    check_stats(report, "clickstream", read=15, written=3, quarantined=12, duplicates=0)
    assert sorted(r["session_id"] for r in silver(lake, "clickstream")) == ["s1", "s13", "s15"]
    q = check_quarantine(
        lake,
        "clickstream",
        report,
        [
            (src, 2, "record", "unparseable", None),
            (src, 3, "record", "not_an_object", None),
            (src, 4, "record", "not_an_object", None),
            (src, 5, "record", "wrong_type", "user_id"),
            (src, 6, "record", "out_of_enum", "action"),
            (src, 7, "record", "wrong_type", "attributes"),
            (src, 8, "record", "wrong_type", "attributes"),
            (src, 9, "record", "missing_required", "event_time"),
            (src, 10, "record", "missing_required", "session_id"),
            (src, 11, "record", "future_timestamp", "event_time"),
            (src, 12, "record", "unparseable", None),
            (src, 14, "record", "not_an_object", None),
        ],
    )
    # raw_record of an NDJSON record: the line as delivered
    raw_lines = text.split("\n")
    assert q[(src, 2)]["raw_record"] == truncated
    assert q[(src, 6)]["raw_record"] == raw_lines[5]


# ---------------------------------------------------------------------------------------
# file level
# ---------------------------------------------------------------------------------------
def test_csv_file_level_rejections_do_not_stop_the_run(lake):
    day = "2026-03-01"
    good_text = csv_text([order("O1"), order("O2")], ORDER_COLS)
    good = land_file(lake, "orders", day, "a-good.csv", good_text)
    not_gzip = land_file(lake, "orders", day, "b-notgzip.csv.gz", good_text)
    whole = gzip.compress(csv_text([order(f"T{i}") for i in range(300)], ORDER_COLS).encode())
    truncated = land_file(lake, "orders", day, "c-truncated.csv.gz", whole[: len(whole) // 2])
    latin1 = csv_text([order("O3"), order("O4", customer_id="Jos\u00e9")], ORDER_COLS)
    not_utf8 = land_file(lake, "orders", day, "d-latin1.csv", latin1.encode("latin-1"))
    gz_latin1 = land_file(
        lake, "orders", day, "e-latin1.csv.gz", gzip.compress(latin1.encode("latin-1"))
    )
    no_channel = [c for c in ORDER_COLS if c != "channel"]
    missing = land_file(lake, "orders", day, "f-nochannel.csv", csv_text([order("O5")], no_channel))
    land_file(lake, "payments", day, "p.csv", csv_text([payment("Y1")], PAYMENT_COLS))

    report = ingest(lake)
    check_stats(
        report,
        "orders",
        files_read=6,
        read=2 + 5,
        written=2,
        quarantined=5,
        duplicates=0,
        files_quarantined=5,
    )
    check_stats(report, "payments", read=1, written=1)
    assert report.balanced is True
    # nothing from a rejected file reaches silver, not even the readable part of a
    # truncated gzip
    assert sorted(silver_by(lake, "orders", "order_id")) == ["O1", "O2"]
    assert all(r["source_file"] == rel(lake, good) for r in silver(lake, "orders"))
    q = check_quarantine(
        lake,
        "orders",
        report,
        [
            (rel(lake, not_gzip), None, "file", "unreadable_gzip", None),
            (rel(lake, truncated), None, "file", "unreadable_gzip", None),
            (rel(lake, not_utf8), None, "file", "not_utf8", None),
            (rel(lake, gz_latin1), None, "file", "not_utf8", None),
            (rel(lake, missing), None, "file", "missing_columns", None),
        ],
    )
    row = q[(rel(lake, missing), None)]
    assert "channel" in f"{row['field']} {row['detail']}"


def test_csv_missing_required_column_with_other_headers_in_any_case(lake):
    cols = [c for c in SALE_COLS if c != "sale_id"]
    header = [c.upper() for c in cols]
    path = land_file(
        lake, "sales", "2026-03-01", "s.csv", csv_text([sale("S1")], cols, header=header)
    )
    report = ingest(lake)
    check_stats(report, "sales", read=1, written=0, quarantined=1, files_quarantined=1)
    check_quarantine(
        lake, "sales", report, [(rel(lake, path), None, "file", "missing_columns", None)]
    )
    assert silver(lake, "sales") == []


def test_customer_page_file_level_rejections(lake):
    day = "2026-03-01"
    good = land_file(lake, "customers", day, "a.json", customers_page([customer("C1")]))
    bad = {
        "b-truncated.json": ('{"customers": [{"customer_id": "C2"', "invalid_json"),
        "c-string.json": ('"just a string"', "not_object_or_array"),
        "d-number.json": ("42", "not_object_or_array"),
        "e-null.json": ("null", "not_object_or_array"),
        "f-nokey.json": ('{"data": [], "page": 1}', "not_object_or_array"),
        "g-notarray.json": ('{"customers": "C1"}', "not_object_or_array"),
        "h-two-docs.json": ("[] []", "invalid_json"),
    }
    paths = {n: land_file(lake, "customers", day, n, text) for n, (text, _) in bad.items()}
    latin1 = land_file(
        lake,
        "customers",
        day,
        "i-latin1.json",
        customers_page([customer("C3", first_name="Jos\u00e9")]).encode("latin-1"),
    )
    notgz = land_file(lake, "customers", day, "j-notgz.json.gz", customers_page([customer("C4")]))
    report = ingest(lake)
    n_bad = len(bad) + 2
    check_stats(
        report,
        "customers",
        files_read=1 + n_bad,
        read=1 + n_bad,
        written=1,
        quarantined=n_bad,
        files_quarantined=n_bad,
    )
    assert [r["source_file"] for r in silver(lake, "customers")] == [rel(lake, good)]
    expected = [(rel(lake, paths[n]), None, "file", reason, None) for n, (_, reason) in bad.items()]
    expected += [
        (rel(lake, latin1), None, "file", "not_utf8", None),
        (rel(lake, notgz), None, "file", "unreadable_gzip", None),
    ]
    check_quarantine(lake, "customers", report, expected)


def test_ndjson_file_level_rejections(lake):
    h = datetime(2026, 3, 1, 9)
    good = land_file(lake, "clickstream", h, "a.json", ndjson([click(session_id="ok")]))
    text = ndjson([click(session_id="x1"), click(session_id="x2", page_url="/caf\u00e9")])
    latin1 = land_file(lake, "clickstream", h, "b.json", text.encode("latin-1"))
    notgz = land_file(lake, "clickstream", h, "c.json.gz", text)
    report = ingest(lake)
    check_stats(
        report,
        "clickstream",
        files_read=3,
        read=1 + 2,
        written=1,
        quarantined=2,
        files_quarantined=2,
    )
    assert [r["session_id"] for r in silver(lake, "clickstream")] == ["ok"]
    assert silver(lake, "clickstream")[0]["source_file"] == rel(lake, good)
    check_quarantine(
        lake,
        "clickstream",
        report,
        [
            (rel(lake, latin1), None, "file", "not_utf8", None),
            (rel(lake, notgz), None, "file", "unreadable_gzip", None),
        ],
    )


def test_quarantine_of_a_later_run_goes_to_its_own_date_and_file(lake):
    land_file(
        lake,
        "payments",
        "2026-03-01",
        "a.csv",
        csv_text([payment("Y1"), payment("Y2", method="cheque")], PAYMENT_COLS),
    )
    first = ingest(lake)
    later = NOW + timedelta(days=2)
    land_file(
        lake,
        "payments",
        "2026-03-12",
        "b.csv",
        csv_text([payment("Y3", amount="x"), payment("Y4")], PAYMENT_COLS),
    )
    second = ingest(lake, now=later)
    check_stats(second, "payments", files_read=1, read=2, written=1, quarantined=1)
    files = sorted(
        p.relative_to(lake.root).as_posix()
        for p in (lake.root / "quarantine" / "payments").rglob("*")
        if p.is_file()
    )
    assert files == [
        f"quarantine/payments/year=2026/month=03/day=10/{first.run_id}.parquet",
        f"quarantine/payments/year=2026/month=03/day=12/{second.run_id}.parquet",
    ]
    rows = quarantine(lake, "payments")
    assert sorted((r["run_id"], r["field"], r["source_line"]) for r in rows) == sorted(
        [(first.run_id, "method", 3), (second.run_id, "amount", 2)]
    )
    assert sorted(r["payment_id"] for r in silver(lake, "payments")) == ["Y1", "Y4"]


def test_values_beyond_the_silver_types_are_quarantined_not_crashing(lake):
    """DECIMAL(18,2) holds 16 integer digits, BIGINT up to 9223372036854775807."""
    records = [
        sale("S1"),  # 2
        sale("S2", quantity="99999999999999999999"),  # 3: beyond BIGINT
        sale("S3", unit_price="12345678901234567.00", discount_amount=""),  # 4: 17 digits
        sale("S4", sold_at="0000-01-01T00:00:00Z"),  # 5: no year 0
    ]
    path = land_file(lake, "sales", "2026-03-01", "s.csv", csv_text(records, SALE_COLS))
    src = rel(lake, path)
    report = ingest(lake)
    check_stats(report, "sales", read=4, written=1, quarantined=3)
    assert [r["sale_id"] for r in silver(lake, "sales")] == ["S1"]
    too_big = {"wrong_type", "out_of_range"}
    rows = {r["source_line"]: r for r in quarantine(lake, "sales")}
    assert sorted(rows) == [3, 4, 5]
    assert (rows[3]["reason"] in too_big, rows[3]["field"]) == (True, "quantity")
    assert (rows[4]["reason"] in too_big, rows[4]["field"]) == (True, "unit_price")
    assert (rows[5]["reason"], rows[5]["field"]) == ("wrong_type", "sold_at")
    assert all(r["source_file"] == src for r in rows.values())
