"""Every delivery variant the raw contract accepts must be ingested, with the right values
and lineage: gzip, BOM, CRLF, RFC 4180 quoting, column order and header case, timestamp
forms, unknown extra columns, both customer page shapes, empty = null, trimming."""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal

import pytest
from ingest_kit import (
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

from shoplake.lake import Lake
from shoplake.landing import land_file

t = datetime


@pytest.mark.parametrize(
    ("gz", "bom", "eol"), [(True, False, "\n"), (False, True, "\r\n"), (True, True, "\r\n")]
)
def test_csv_gzip_bom_crlf(lake, gz, bom, eol):
    # the BOM sits right before the first header name, which is a required column
    text = csv_text([order("O1"), order("O2", status="paid")], ORDER_COLS, eol=eol)
    path = land_file(lake, "orders", "2026-03-01", "orders.csv", text, gz=gz, bom=bom)
    report = ingest(lake)
    check_stats(
        report,
        "orders",
        files_read=1,
        read=2,
        written=2,
        quarantined=0,
        files_quarantined=0,
        extra_columns=0,
    )
    got = silver_by(lake, "orders", "order_id")
    assert sorted(got) == ["O1", "O2"]
    assert got["O2"]["status"] == "paid"
    assert got["O2"]["shipping_country"] == "PT"  # last column: no stray \r
    assert got["O1"]["updated_at"] == t(2026, 3, 1, 10)
    src = rel(lake, path)
    assert src.endswith(".csv.gz" if gz else ".csv")
    assert {(r["source_file"], r["source_line"]) for r in got.values()} == {(src, 2), (src, 3)}


@pytest.mark.parametrize("eol", ["\n", "\r\n"])
def test_csv_quoted_commas_quotes_and_newlines(lake, eol):
    head = ",".join(PRODUCT_COLS)
    tail = "Acme,12.90,,true,2026-03-01T08:00:00Z"
    lines = [
        head,
        'P1,SKU-P1,"Mug, ""large""\nblue",home,,' + tail,  # lines 2-3
        "P2,SKU-P2,Plate,home,," + tail,  # line 4
        'P3,SKU-P3,"a\nb\nc",home,"kitchen, dining",' + tail,  # lines 5-7
        '"P4","SKU-P4","""quoted""","home","","Acme","1.5","","false","2026-03-01T08:00:00Z"',
    ]
    path = land_file(lake, "products", "2026-03-01", "catalog.csv", eol.join(lines) + eol)
    src = rel(lake, path)
    report = ingest(lake)
    check_stats(report, "products", read=4, written=4, quarantined=0, duplicates=0)
    got = silver_by(lake, "products", "product_id")
    assert got["P1"]["name"] == 'Mug, "large"\nblue'
    assert got["P1"]["subcategory"] is None
    assert got["P2"]["name"] == "Plate"
    assert got["P3"]["name"] == "a\nb\nc"
    assert got["P3"]["subcategory"] == "kitchen, dining"
    assert got["P4"]["name"] == '"quoted"'
    assert got["P4"]["subcategory"] is None  # a quoted empty field is empty too
    assert got["P4"]["list_price"] == Decimal("1.50")
    assert got["P4"]["is_active"] is False
    # CSV source_line: the line where the record starts, header = line 1
    assert {k: (r["source_file"], r["source_line"]) for k, r in got.items()} == {
        "P1": (src, 2),
        "P2": (src, 4),
        "P3": (src, 5),
        "P4": (src, 8),
    }


def test_column_order_and_header_case_differ_between_files(lake):
    land_file(lake, "sales", "2026-03-01", "a.csv", csv_text([sale("S1", quantity="3")], SALE_COLS))
    shuffled = list(reversed(SALE_COLS))
    header = [
        "SOLD_AT",
        "Discount_Amount",
        "Unit_Price",
        "QUANTITY",
        "Product_ID",
        "order_id",
        "Sale_Id",
    ]
    assert [h.lower() for h in header] == shuffled
    land_file(
        lake,
        "sales",
        "2026-03-01",
        "b.csv",
        csv_text(
            [sale("S2", order_id="O9", product_id="P9", quantity="4", unit_price="2.25")],
            shuffled,
            header=header,
        ),
    )
    report = ingest(lake)
    check_stats(report, "sales", files_read=2, read=2, written=2, quarantined=0)
    got = silver_by(lake, "sales", "sale_id")
    assert got["S1"]["quantity"] == 3
    assert got["S1"]["unit_price"] == Decimal("10.00")
    s2 = got["S2"]
    assert (s2["order_id"], s2["product_id"], s2["quantity"]) == ("O9", "P9", 4)
    assert (s2["unit_price"], s2["discount_amount"]) == (Decimal("2.25"), Decimal("1.50"))
    assert s2["sold_at"] == t(2026, 3, 1, 10)


def test_timestamp_forms_are_normalised_to_utc(lake):
    forms = {
        "Y01": ("2026-03-01T14:05:09Z", t(2026, 3, 1, 14, 5, 9)),
        "Y02": ("2026-03-01T14:05:09.123+01:00", t(2026, 3, 1, 13, 5, 9, 123000)),
        "Y03": ("2026-03-01 14:05:09", t(2026, 3, 1, 14, 5, 9)),
        "Y04": ("2026-03-01T14:05", t(2026, 3, 1, 14, 5)),
        "Y05": ("2026-03-01T14:05:09+01", t(2026, 3, 1, 13, 5, 9)),
        "Y06": ("2026-03-01T14:05:09.123456-05:30", t(2026, 3, 1, 19, 35, 9, 123456)),
        "Y07": ("2026-03-01 14:05:09.1Z", t(2026, 3, 1, 14, 5, 9, 100000)),
        "Y08": ("2026-03-01T14:05:09+00:00", t(2026, 3, 1, 14, 5, 9)),
        "Y09": ("2026-03-01T00:15:00+05:30", t(2026, 2, 28, 18, 45)),
        "Y10": ("2026-02-28T23:00:00-01:00", t(2026, 3, 1, 0, 0)),
        "Y11": ("2026-03-01 09:00", t(2026, 3, 1, 9, 0)),
    }
    records = [payment(pid, payment_ts=raw) for pid, (raw, _) in forms.items()]
    land_file(lake, "payments", "2026-03-01", "p.csv", csv_text(records, PAYMENT_COLS))
    report = ingest(lake)
    check_stats(report, "payments", read=len(forms), written=len(forms), quarantined=0)
    got = silver(lake, "payments")
    assert {r["payment_id"]: r["payment_ts"] for r in got} == {
        pid: want for pid, (_, want) in forms.items()
    }
    for r in got:
        d = r["payment_ts"]
        assert r["_file"] == f"silver/payments/year={d:%Y}/month={d:%m}/day={d:%d}/data.parquet"


def test_unknown_extra_columns_are_ignored_and_counted(lake):
    cols = [*ORDER_COLS[:1], "coupon_code", *ORDER_COLS[1:], "Internal Note"]
    rec = order("O1", coupon_code="SPRING10", **{"Internal Note": "call, maybe"})
    land_file(lake, "orders", "2026-03-01", "o.csv", csv_text([rec], cols))
    report = ingest(lake)
    check_stats(report, "orders", read=1, written=1, quarantined=0, extra_columns=2)
    (row,) = silver(lake, "orders")
    assert row["customer_id"] == "C1"
    assert row["shipping_country"] == "PT"
    schema = parquet_schema(lake.root / row["_file"])
    assert "coupon_code" not in schema
    assert not any("note" in c.lower() for c in schema)


def test_optional_csv_columns_may_be_absent(lake):
    sales_cols = [c for c in SALE_COLS if c != "discount_amount"]
    land_file(lake, "sales", "2026-03-01", "s.csv", csv_text([sale("S1")], sales_cols))
    prod_cols = [c for c in PRODUCT_COLS if c not in ("subcategory", "brand", "unit_cost")]
    land_file(lake, "products", "2026-03-01", "p.csv", csv_text([product("P1")], prod_cols))
    report = ingest(lake)
    check_stats(report, "sales", read=1, written=1, files_quarantined=0)
    check_stats(report, "products", read=1, written=1, files_quarantined=0)
    (s,) = silver(lake, "sales")
    assert s["discount_amount"] == Decimal("0.00")  # null discount means 0
    (p,) = silver(lake, "products")
    assert (p["subcategory"], p["brand"], p["unit_cost"]) == (None, None, None)
    assert p["list_price"] == Decimal("12.90")


def test_values_are_trimmed_and_empty_is_null(lake):
    head = ",".join(ORDER_COLS)
    text = (
        head
        + "\n"
        + "  O1 , C1,  2026-03-01T10:00:00Z , paid ,web ,EUR, PT ,2026-03-01T11:00:00Z \n"
        + '"  O2  ","C2 ","2026-03-01T10:00:00Z","placed","  mobile","USD","US",'
        + '"2026-03-01T10:00:00Z"\n'
    )
    land_file(lake, "orders", "2026-03-01", "o.csv", text)
    sales_text = csv_text(
        [sale("S1", quantity=" 2 ", unit_price=" 10.00 ", discount_amount="  ")], SALE_COLS
    )
    land_file(lake, "sales", "2026-03-01", "s.csv", sales_text)
    c = customer("C1", email="  ana@example.com  ", first_name=" Ana ", last_name="")
    land_file(lake, "customers", "2026-03-01", "c.json", customers_page([c]))
    report = ingest(lake)
    check_stats(report, "orders", read=2, written=2, quarantined=0)
    check_stats(report, "sales", read=1, written=1, quarantined=0)
    check_stats(report, "customers", read=1, written=1, quarantined=0)
    got = silver_by(lake, "orders", "order_id")
    o1 = got["O1"]
    assert (o1["customer_id"], o1["status"], o1["channel"], o1["shipping_country"]) == (
        "C1",
        "paid",
        "web",
        "PT",
    )
    assert (o1["order_ts"], o1["updated_at"]) == (t(2026, 3, 1, 10), t(2026, 3, 1, 11))
    assert (got["O2"]["customer_id"], got["O2"]["channel"]) == ("C2", "mobile")
    (s,) = silver(lake, "sales")
    # a blank discount is empty, so null, so 0
    assert (s["quantity"], s["unit_price"], s["discount_amount"]) == (
        2,
        Decimal("10.00"),
        Decimal("0.00"),
    )
    (cu,) = silver(lake, "customers")
    assert (cu["email"], cu["first_name"], cu["last_name"]) == ("ana@example.com", "Ana", None)


def test_customer_page_shapes(lake):
    c1, c2, c3 = customer("C1"), customer("C2"), customer("C3")
    wrapped = json.dumps(
        {"page": 1, "per_page": 2, "customers": [c1, c2], "next": "/customers?page=2", "x": {}}
    )
    p1 = land_file(lake, "customers", "2026-03-01", "page-1.json", wrapped)
    p2 = land_file(
        lake, "customers", "2026-03-01", "page-2.json", json.dumps([c3], indent=2), bom=True
    )
    land_file(
        lake,
        "customers",
        "2026-03-01",
        "page-3.json",
        customers_page([], page=3, next_url=None),
        gz=True,
    )
    land_file(lake, "customers", "2026-03-01", "page-4.json", "[]")
    report = ingest(lake)
    check_stats(
        report,
        "customers",
        files_read=4,
        read=3,
        written=3,
        quarantined=0,
        files_quarantined=0,
    )
    got = silver_by(lake, "customers", "customer_id")
    # JSON source_line: the 1-based position in the customer array
    assert {k: (r["source_file"], r["source_line"]) for k, r in got.items()} == {
        "C1": (rel(lake, p1), 1),
        "C2": (rel(lake, p1), 2),
        "C3": (rel(lake, p2), 1),
    }
    assert got["C3"]["address_country"] == "PT"
    assert got["C3"]["marketing_opt_in"] is True


def test_json_gzip_and_ndjson_line_end_variants(lake):
    land_file(
        lake,
        "customers",
        "2026-03-01",
        "page.json",
        customers_page([customer("C1")]),
        gz=True,
        bom=True,
    )
    h = 14
    crlf = ndjson([click(session_id="a1"), click(session_id="a2")]).replace("\n", "\r\n")
    f1 = land_file(lake, "clickstream", t(2026, 3, 1, h), "crlf.json", crlf)
    no_final_eol = ndjson([click(session_id="b1"), click(session_id="b2")]).rstrip("\n")
    f2 = land_file(lake, "clickstream", t(2026, 3, 1, h), "noeol.json", no_final_eol)
    f3 = land_file(
        lake,
        "clickstream",
        t(2026, 3, 1, h),
        "bomgz.json",
        ndjson([click(session_id="c1")]),
        gz=True,
        bom=True,
    )
    report = ingest(lake)
    check_stats(report, "customers", files_read=1, read=1, written=1, quarantined=0)
    check_stats(report, "clickstream", files_read=3, read=5, written=5, quarantined=0)
    got = {
        r["session_id"]: (r["source_file"], r["source_line"]) for r in silver(lake, "clickstream")
    }
    assert got == {
        "a1": (rel(lake, f1), 1),
        "a2": (rel(lake, f1), 2),
        "b1": (rel(lake, f2), 1),
        "b2": (rel(lake, f2), 2),
        "c1": (rel(lake, f3), 1),
    }
    assert rel(lake, f3).endswith(".json.gz")
    (cu,) = silver(lake, "customers")
    assert cu["customer_id"] == "C1"  # the BOM is not part of the document


def test_header_only_and_empty_files_hold_no_records(lake):
    land_file(lake, "payments", "2026-03-01", "none.csv", ",".join(PAYMENT_COLS) + "\n")
    land_file(lake, "clickstream", t(2026, 3, 1, 3), "none.json", "")
    report = ingest(lake)
    check_stats(
        report, "payments", files_read=1, read=0, written=0, quarantined=0, files_quarantined=0
    )
    check_stats(
        report,
        "clickstream",
        files_read=1,
        read=0,
        written=0,
        quarantined=0,
        files_quarantined=0,
    )
    assert quarantine(lake, "payments") == []
    assert quarantine(lake, "clickstream") == []


def test_in_progress_and_foreign_files_are_not_read(lake):
    good = csv_text([order("O1")], ORDER_COLS)
    land_file(lake, "orders", "2026-03-01", "orders.csv", good)
    pending = land_file(
        lake, "orders", "2026-03-01", "_upload.csv", csv_text([order("O2")], ORDER_COLS)
    )
    land_file(lake, "orders", "2026-03-01", ".orders.csv", csv_text([order("O3")], ORDER_COLS))
    land_file(lake, "orders", "2026-03-01", "readme.txt", "not data")
    land_file(lake, "orders", "2026-03-01", "orders.csv.part", "garbage,\x00\x01")
    report = ingest(lake)
    check_stats(report, "orders", files_read=1, read=1, written=1, quarantined=0)
    assert sorted(silver_by(lake, "orders", "order_id")) == ["O1"]
    assert quarantine(lake, "orders") == []
    # the upload completes: renamed into its final name, it is read by the next run
    pending.rename(pending.with_name("orders-2.csv"))
    report = ingest(lake)
    check_stats(report, "orders", files_read=1, read=1, written=1)
    assert sorted(silver_by(lake, "orders", "order_id")) == ["O1", "O2"]
    silver_files = [p.name for p in (lake.root / "silver").rglob("*") if p.is_file()]
    assert silver_files == ["data.parquet"]


def test_awkward_file_names_and_lake_path(tmp_path):
    """Spaces, quotes and non-ASCII in the lake path and in raw file names."""
    root = tmp_path / "shop lake's d\u00e9p\u00f4t"
    root.mkdir()
    odd = Lake.at(root)
    names = ["orders march.csv", "o'brien.csv", "donn\u00e9es;1.csv", 'say "hi".csv']
    paths = [
        land_file(odd, "orders", "2026-03-01", name, csv_text([order(f"O{i}")], ORDER_COLS))
        for i, name in enumerate(names)
    ]
    report = ingest(odd)
    check_stats(report, "orders", files_read=4, read=4, written=4, quarantined=0)
    got = silver_by(odd, "orders", "order_id")
    assert {k: r["source_file"] for k, r in got.items()} == {
        f"O{i}": f"raw/orders/2026/03/01/{name}" for i, name in enumerate(names)
    }
    assert all(p.exists() for p in paths)
    again = ingest(odd)
    check_stats(again, "orders", files_read=0, read=0)
