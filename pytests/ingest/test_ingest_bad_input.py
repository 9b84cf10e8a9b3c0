"""Bad input of every kind the raw contract names: quarantined with the documented reason
code, field and line, never dropped, never crashing the run; the rest is kept.

Each kind of bad input is one case of a table (a record: its line, the record as
delivered, the reason and the field; a file: its name, bytes and reason), checked on its
own: it reached silver, or it was quarantined with that (source_line, reason, field).
Each file's totals are checked too, read = written + quarantined + duplicates with every
number worked out by hand. Assertions are on reason codes and fields, not on messages.
"""

from __future__ import annotations

import gzip
import json
from contextlib import contextmanager
from datetime import datetime, timedelta

import pytest
from ingest_kit import (
    NOW,
    ORDER_COLS,
    PAYMENT_COLS,
    PRODUCT_COLS,
    SALE_COLS,
    cases_file,
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
    without,
)

from shoplake.lake import Lake
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


@contextmanager
def _fresh_lake(tmp_path_factory):
    """An empty lake for a module's one run (no crash failpoint armed in this process)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("SHOPLAKE_CRASH_AT", raising=False)
        yield Lake.at(tmp_path_factory.mktemp("lake"))


def _check_row(r, src, line, level, reason, fld, dataset, report):
    """One quarantine row: where it came from, its level, reason and field (``fld`` may
    be a set of acceptable spellings, or None: not checked), its run and file."""
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
        f"quarantine/{dataset}/year={NOW:%Y}/month={NOW:%m}/day={NOW:%d}/{report.run_id}.parquet"
    )


def _check_schema(lake, rows):
    schema = parquet_schema(lake.root / rows[0]["_file"])
    assert set(schema) == QUARANTINE_COLUMNS
    assert schema["source_line"] == "BIGINT"


# ---------------------------------------------------------------------------------------
# record level: one table of cases per dataset, (line, raw record, reason, field); a case
# without a reason is a valid record that must reach silver. Each dataset's cases are one
# file, in line order (CSV: the header is line 1), and all six files are ingested in one
# run; every case is then checked on its own, and each file's totals by hand.
# ---------------------------------------------------------------------------------------
def _csv(record, columns) -> str:
    """A record as one CSV line (RFC 4180, as csv_text writes it)."""
    return csv_text([record], columns).splitlines()[1]


def _order(**kw) -> str:
    return _csv(order(**kw), ORDER_COLS)


def _sale(**kw) -> str:
    return _csv(sale(**kw), SALE_COLS)


def _payment(payment_id, **kw) -> str:
    return _csv(payment(payment_id, **kw), PAYMENT_COLS)


def _product(product_id, **kw) -> str:
    return _csv(product(product_id, **kw), PRODUCT_COLS)


def case(dataset, line, raw, reason=None, field=None, *, id):
    return pytest.param(dataset, line, raw, reason, field, id=f"{dataset}-{line}-{id}")


_GOOD_ORDER = _order(order_id="O1")
ORDER_CASES = [
    case("orders", 2, _GOOD_ORDER, id="valid"),
    case("orders", 3, _order(order_id=""), "missing_required", "order_id", id="empty-id"),
    case("orders", 4, _order(order_id="O3", customer_id="   "), "missing_required",
         "customer_id", id="blank-customer"),
    case("orders", 5, _order(order_id="O4", order_ts="yesterday"), "wrong_type", "order_ts",
         id="order_ts-not-a-time"),
    case("orders", 6, _order(order_id="O5", status="PAID"), "out_of_enum", "status",
         id="status-upper-case"),
    case("orders", 7, _order(order_id="O6", channel="fax"), "out_of_enum", "channel",
         id="unknown-channel"),
    case("orders", 8, _order(order_id="O7", currency="JPY"), "out_of_enum", "currency",
         id="unknown-currency"),
    case("orders", 9, _order(order_id="O8", currency="eur"), "out_of_enum", "currency",
         id="currency-lower-case"),
    case("orders", 10, _order(order_id="O9", shipping_country="pt"), "out_of_enum",
         "shipping_country", id="country-lower-case"),
    case("orders", 11, _order(order_id="O10", shipping_country="XX"), "out_of_enum",
         "shipping_country", id="unknown-country"),
    case("orders", 12, _order(order_id="O11", updated_at="2026-02-30T10:00:00Z"), "wrong_type",
         "updated_at", id="no-such-day"),
    # one second more than 24 h after the run start, written with an offset
    case("orders", 13, _order(order_id="O12", order_ts="2026-03-11T13:00:01+01:00"),
         "future_timestamp", "order_ts", id="future-with-offset"),
    case("orders", 14, _order(order_id="O13", updated_at=EDGE), id="exactly-24h-ahead"),
    case("orders", 15, "O14,C1,2026-03-01T10:00:00Z,placed", "unparseable", None,
         id="too-few-fields"),
    case("orders", 16, _GOOD_ORDER.replace("O1,", "O15,", 1) + ",extra", "unparseable", None,
         id="too-many-fields"),
    case("orders", 17, _order(order_id="O16", status="delivered"), id="delivered"),
    case("orders", 18, _order(order_id="O17", shipping_country="USA"), "out_of_enum",
         "shipping_country", id="alpha-3-country"),
    case("orders", 19, _order(order_id="O18", status=""), "missing_required", "status",
         id="empty-status"),
]  # fmt: skip

SALE_CASES = [
    case("sales", 2, _sale(sale_id="S1"), id="valid"),
    case("sales", 3, _sale(sale_id="S2", unit_price="abc"), "wrong_type", "unit_price",
         id="price-not-a-number"),
    case("sales", 4, _sale(sale_id="S3", unit_price="1.234"), "wrong_type", "unit_price",
         id="price-three-decimals"),
    case("sales", 5, _sale(sale_id="S4", quantity="2.5"), "wrong_type", "quantity",
         id="fractional-quantity"),
    case("sales", 6, _sale(sale_id="S5", quantity="0", discount_amount=""), "out_of_range",
         "quantity", id="zero-quantity"),
    # -5.00 is below its minimum (and so is 0 discount above 2 x -5.00)
    case("sales", 7, _sale(sale_id="S6", unit_price="-5.00", discount_amount=""),
         "out_of_range", {"unit_price", "discount_amount"}, id="negative-price"),
    # 2 x 10.00 = 20.00: a discount of 20.01 is above the line amount
    case("sales", 8, _sale(sale_id="S7", quantity="2", unit_price="10.00",
                           discount_amount="20.01"),
         "out_of_range", "discount_amount", id="discount-above-line-amount"),
    case("sales", 9, _sale(sale_id="S8", quantity="2", unit_price="10.00",
                           discount_amount="20.00"),
         id="discount-equal-to-line-amount"),
    case("sales", 10, _sale(sale_id="S9", discount_amount="-1.00"), "out_of_range",
         "discount_amount", id="negative-discount"),
    case("sales", 11, _sale(sale_id="S10", quantity=""), "missing_required", "quantity",
         id="empty-quantity"),
    case("sales", 12, _sale(sale_id="S11", sold_at=""), "missing_required", "sold_at",
         id="empty-sold_at"),
    case("sales", 13, _sale(sale_id="S12", quantity="two"), "wrong_type", "quantity",
         id="quantity-in-words"),
    case("sales", 14, _sale(sale_id="S13", unit_price="1e3"), "wrong_type", "unit_price",
         id="price-exponent"),
    case("sales", 15, _sale(sale_id="S14", unit_price="1,000.00"), "wrong_type", "unit_price",
         id="price-thousands-separator"),
    case("sales", 16, _sale(sale_id="S15", discount_amount="0.001"), "wrong_type",
         "discount_amount", id="discount-three-decimals"),
    case("sales", 17, _sale(sale_id="S16", sold_at=FUTURE), "future_timestamp", "sold_at",
         id="future"),
    case("sales", 18, _sale(sale_id="S17", product_id=""), "missing_required", "product_id",
         id="empty-product"),
    # the last line: a quote that is never closed (to the end of the file)
    case("sales", 19, 'S18,O1,P1,1,"2.00,,2026-03-01T10:00:00Z', "unparseable", None,
         id="quote-never-closed"),
]  # fmt: skip

PAYMENT_CASES = [
    case("payments", 2, _payment("Y1"), id="valid"),
    case("payments", 3, _payment("Y2", method="bitcoin"), "out_of_enum", "method",
         id="unknown-method"),
    case("payments", 4, _payment("Y3", status="CAPTURED"), "out_of_enum", "status",
         id="status-upper-case"),
    case("payments", 5, _payment("Y4", amount="-0.01"), "out_of_range", "amount",
         id="negative-amount"),
    case("payments", 6, _payment("Y5", amount="12.345"), "wrong_type", "amount",
         id="amount-three-decimals"),
    case("payments", 7, _payment("Y6", amount=""), "missing_required", "amount",
         id="empty-amount"),
    case("payments", 8, _payment("Y7", currency=""), "missing_required", "currency",
         id="empty-currency"),
    case("payments", 9, _payment("Y8", payment_ts="01/03/2026 10:00"), "wrong_type",
         "payment_ts", id="local-date-format"),
    case("payments", 10, _payment("", order_id="O9"), "missing_required", "payment_id",
         id="empty-id"),
    case("payments", 11, _payment("Y10", payment_ts="2026-03-01T10:00:00+25:00"), "wrong_type",
         "payment_ts", id="no-such-offset"),
]  # fmt: skip

PRODUCT_CASES = [
    case("products", 2, _product("P1"), id="valid"),
    case("products", 3, _product("P2", is_active="yes"), "wrong_type", "is_active",
         id="boolean-yes"),
    case("products", 4, _product("P3", is_active=""), "missing_required", "is_active",
         id="empty-is_active"),
    case("products", 5, _product("P4", list_price=""), "missing_required", "list_price",
         id="empty-list_price"),
    case("products", 6, _product("P5", unit_cost="-1.00"), "out_of_range", "unit_cost",
         id="negative-cost"),
    case("products", 7, _product("P6", unit_cost="abc"), "wrong_type", "unit_cost",
         id="cost-not-a-number"),
    case("products", 8, _product("P7", sku=""), "missing_required", "sku", id="empty-sku"),
    case("products", 9, _product("P8", updated_at="2026-03-01T25:00:00Z"), "wrong_type",
         "updated_at", id="no-such-hour"),
    case("products", 10, _product("P9", name="   "), "missing_required", "name",
         id="blank-name"),
    case("products", 11, _product("P10", category=""), "missing_required", "category",
         id="empty-category"),
]  # fmt: skip


_COUNTRY = {"address.country", "address_country"}
CUSTOMER_CASES = [
    case("customers", 1, customer("C1"), id="valid"),
    case("customers", 2, customer(123, email="x@example.com"), "wrong_type", "customer_id",
         id="id-as-a-json-number"),
    case("customers", 3, customer("C3", email=None), "missing_required", "email",
         id="null-email"),
    case("customers", 4, customer("C4", segment="vip"), "out_of_enum", "segment",
         id="unknown-segment"),
    case("customers", 5, without(customer("C5"), "address"), "missing_required",
         {"address", *_COUNTRY}, id="no-address"),
    case("customers", 6, customer("C6", address={**customer()["address"], "country": "pt"}),
         "out_of_enum", _COUNTRY, id="country-lower-case"),
    case("customers", 7, customer("C7", marketing_opt_in="yes"), "wrong_type",
         "marketing_opt_in", id="opt-in-as-a-string"),
    case("customers", 8, "C8", "not_an_object", None, id="a-string"),
    case("customers", 9, without(customer("C9"), "updated_at"), "missing_required",
         "updated_at", id="no-updated_at"),
    case("customers", 10, customer("C10", signup_ts="soon"), "wrong_type", "signup_ts",
         id="signup-not-a-time"),
    case("customers", 11, customer("C11", first_name=42), "wrong_type", "first_name",
         id="name-as-a-number"),
    case("customers", 12, customer("C12", updated_at=FUTURE), "future_timestamp", "updated_at",
         id="future"),
    case("customers", 13, None, "not_an_object", None, id="null"),
    case("customers", 14, customer("C14"), id="valid-after-null"),
    case("customers", 15, customer("C15", segment=""), "missing_required", "segment",
         id="empty-segment"),
]  # fmt: skip

_TRUNCATED_CLICK = '{"event_time": "2026-03-01T14:05:09Z", "user_id": '
CLICK_CASES = [
    case("clickstream", 1, click(session_id="s1"), id="valid"),
    case("clickstream", 2, _TRUNCATED_CLICK, "unparseable", None, id="truncated-line"),
    case("clickstream", 3, [1, 2, 3], "not_an_object", None, id="an-array"),
    case("clickstream", 4, '"just text"', "not_an_object", None, id="a-json-string"),
    case("clickstream", 5, click(session_id="s5", user_id=42), "wrong_type", "user_id",
         id="user-as-a-number"),
    case("clickstream", 6, click(session_id="s6", action="click"), "out_of_enum", "action",
         id="unknown-action"),
    case("clickstream", 7, click(session_id="s7", attributes="x"), "wrong_type", "attributes",
         id="attributes-a-string"),
    case("clickstream", 8, click(session_id="s8", attributes=[1, 2]), "wrong_type",
         "attributes", id="attributes-an-array"),
    case("clickstream", 9, without(click(session_id="s9"), "event_time"), "missing_required",
         "event_time", id="no-event_time"),
    case("clickstream", 10, click(session_id=""), "missing_required", "session_id",
         id="empty-session"),
    case("clickstream", 11, click(session_id="s11", event_time=FUTURE), "future_timestamp",
         "event_time", id="future"),
    case("clickstream", 12, "not json at all", "unparseable", None, id="not-json"),
    case("clickstream", 13, click(session_id="s13", event_time="2026-03-01T14:05:09.123"),
         id="no-offset-is-utc"),
    case("clickstream", 14, 42, "not_an_object", None, id="a-number"),
    case("clickstream", 15, click(session_id="s15", event_time=EDGE), id="exactly-24h-ahead"),
]  # fmt: skip

RECORD_CASES = {
    "orders": ORDER_CASES,
    "sales": SALE_CASES,
    "payments": PAYMENT_CASES,
    "products": PRODUCT_CASES,
    "customers": CUSTOMER_CASES,
    "clickstream": CLICK_CASES,
}
#: The file each dataset's cases are delivered in: (landing time, name).
RECORD_FILES = {
    "orders": ("2026-03-01", "orders.csv"),
    "sales": ("2026-03-01", "sales.csv"),
    "payments": ("2026-03-01", "p.csv"),
    "products": ("2026-03-01", "c.csv"),
    "customers": ("2026-03-01", "page.json"),
    "clickstream": (datetime(2026, 3, 1, 14), "e.json"),
}
#: Each file's counters, worked out by hand, and the keys that reach silver.
RECORD_TOTALS = {
    "orders": (dict(read=18, written=3, quarantined=15), ("order_id", ["O1", "O13", "O16"])),
    "sales": (dict(read=18, written=2, quarantined=16), ("sale_id", ["S1", "S8"])),
    "payments": (dict(read=10, written=1, quarantined=9), ("payment_id", ["Y1"])),
    "products": (dict(read=10, written=1, quarantined=9), ("product_id", ["P1"])),
    "customers": (dict(read=15, written=2, quarantined=13), ("customer_id", ["C1", "C14"])),
    "clickstream": (dict(read=15, written=3, quarantined=12),
                    ("session_id", ["s1", "s13", "s15"])),
}  # fmt: skip


@pytest.fixture(scope="module")
def record_run(tmp_path_factory):
    """Every dataset's record-level file landed in one lake, ingested once:
    (lake, report, {dataset: source_file})."""
    with _fresh_lake(tmp_path_factory) as lake:
        sources = land_record_cases(lake)
        yield lake, ingest(lake), sources


def land_record_cases(lake):
    """Land every dataset's file of record cases; returns {dataset: source_file}."""
    sources = {}
    for dataset, (when, name) in RECORD_FILES.items():
        path = land_file(lake, dataset, when, name, cases_file(dataset, RECORD_CASES[dataset]))
        sources[dataset] = rel(lake, path)
    return sources


@pytest.mark.parametrize(
    ("dataset", "line", "raw", "reason", "field"),
    [c for cases in RECORD_CASES.values() for c in cases],
)
def test_each_record_is_kept_or_quarantined_with_its_reason(
    record_run, dataset, line, raw, reason, field
):
    lake, report, sources = record_run
    src = sources[dataset]
    rejected = [r for r in quarantine(lake, dataset) if r["source_line"] == line]
    kept = [r for r in silver(lake, dataset) if r["source_line"] == line]
    if reason is None:
        assert rejected == []
        assert [r["source_file"] for r in kept] == [src]
    else:
        assert kept == []
        (row,) = rejected
        _check_row(row, src, line, "record", reason, field, dataset, report)


@pytest.mark.parametrize("dataset", RECORD_CASES)
def test_each_file_of_bad_records_balances_and_keeps_the_rest(record_run, dataset):
    lake, report, _ = record_run
    counts, (key, kept) = RECORD_TOTALS[dataset]
    check_stats(report, dataset, files_read=1, duplicates=0, files_quarantined=0, **counts)
    assert report.balanced is True
    assert sorted(r[key] for r in silver(lake, dataset)) == kept
    # nothing is quarantined but the cases with a reason, each once
    rows = quarantine(lake, dataset)
    bad = sorted(line for _, line, _, reason, _ in (p.values for p in RECORD_CASES[dataset])
                 if reason is not None)  # fmt: skip
    assert sorted(r["source_line"] for r in rows) == bad
    _check_schema(lake, rows)


@pytest.mark.parametrize(
    ("dataset", "line", "delivered"),
    [
        # a CSV row: a JSON object of header -> value, as delivered
        pytest.param("orders", 6, order("O5", status="PAID"), id="csv-row"),
        # a JSON record: the object as delivered
        pytest.param("customers", 4, customer("C4", segment="vip"), id="json-record"),
        # an NDJSON record: the line as delivered
        pytest.param("clickstream", 2, _TRUNCATED_CLICK, id="ndjson-broken-line"),
        pytest.param("clickstream", 6, ndjson([click(session_id="s6", action="click")])[:-1],
                     id="ndjson-line"),
    ],
)  # fmt: skip
def test_raw_record_is_the_record_as_delivered(record_run, dataset, line, delivered):
    lake, _, _ = record_run
    (row,) = [r for r in quarantine(lake, dataset) if r["source_line"] == line]
    if isinstance(delivered, str):
        assert row["raw_record"] == delivered
    else:
        assert json.loads(row["raw_record"]) == delivered


def test_a_discount_equal_to_the_line_amount_is_kept_exactly(record_run):
    lake, _, _ = record_run
    assert str(silver_by(lake, "sales", "sale_id")["S8"]["discount_amount"]) == "20.00"


# ---------------------------------------------------------------------------------------
# file level: one table of bad files, (dataset, file name, bytes, reason), delivered with
# good files of the same datasets in one lake and ingested in one run; nothing from a
# rejected file reaches silver, not even the readable part of a truncated gzip
# ---------------------------------------------------------------------------------------
DAY, HOUR = "2026-03-01", datetime(2026, 3, 1, 9)
_ORDERS = csv_text([order("O1"), order("O2")], ORDER_COLS)
_WHOLE_GZIP = gzip.compress(csv_text([order(f"T{i}") for i in range(300)], ORDER_COLS).encode())
_LATIN1_ORDERS = csv_text([order("O3"), order("O4", customer_id="Jos\u00e9")], ORDER_COLS)
_NO_CHANNEL = [c for c in ORDER_COLS if c != "channel"]
_NO_SALE_ID = [c for c in SALE_COLS if c != "sale_id"]
_CLICKS = ndjson([click(session_id="x1"), click(session_id="x2", page_url="/caf\u00e9")])


def file_case(dataset, name, data, reason, *, id):
    return pytest.param(dataset, name, data, reason, id=f"{dataset}-{id}")


FILE_CASES = [
    file_case("orders", "b-notgzip.csv.gz", _ORDERS, "unreadable_gzip", id="not-gzip"),
    file_case("orders", "c-truncated.csv.gz", _WHOLE_GZIP[: len(_WHOLE_GZIP) // 2],
              "unreadable_gzip", id="truncated-gzip"),
    file_case("orders", "d-latin1.csv", _LATIN1_ORDERS.encode("latin-1"), "not_utf8",
              id="latin-1"),
    file_case("orders", "e-latin1.csv.gz", gzip.compress(_LATIN1_ORDERS.encode("latin-1")),
              "not_utf8", id="gzipped-latin-1"),
    file_case("orders", "f-nochannel.csv", csv_text([order("O5")], _NO_CHANNEL),
              "missing_columns", id="no-channel-column"),
    # the other headers in upper case: still named, but a required one is missing
    file_case("sales", "s.csv", csv_text([sale("S1")], _NO_SALE_ID,
                                         header=[c.upper() for c in _NO_SALE_ID]),
              "missing_columns", id="no-id-column-other-headers-upper-case"),
    file_case("customers", "b-truncated.json", '{"customers": [{"customer_id": "C2"',
              "invalid_json", id="truncated"),
    file_case("customers", "c-string.json", '"just a string"', "not_object_or_array",
              id="a-string"),
    file_case("customers", "d-number.json", "42", "not_object_or_array", id="a-number"),
    file_case("customers", "e-null.json", "null", "not_object_or_array", id="null"),
    file_case("customers", "f-nokey.json", '{"data": [], "page": 1}', "not_object_or_array",
              id="no-customers-key"),
    file_case("customers", "g-notarray.json", '{"customers": "C1"}', "not_object_or_array",
              id="customers-not-an-array"),
    file_case("customers", "h-two-docs.json", "[] []", "invalid_json", id="two-documents"),
    file_case("customers", "i-latin1.json",
              customers_page([customer("C3", first_name="Jos\u00e9")]).encode("latin-1"),
              "not_utf8", id="latin-1"),
    file_case("customers", "j-notgz.json.gz", customers_page([customer("C4")]),
              "unreadable_gzip", id="not-gzip"),
    file_case("clickstream", "b.json", _CLICKS.encode("latin-1"), "not_utf8", id="latin-1"),
    file_case("clickstream", "c.json.gz", _CLICKS, "unreadable_gzip", id="not-gzip"),
]  # fmt: skip
#: The good files delivered next to them: (dataset, file name, text).
GOOD_FILES = [
    ("orders", "a-good.csv", _ORDERS),
    ("payments", "p.csv", csv_text([payment("Y1")], PAYMENT_COLS)),
    ("customers", "a.json", customers_page([customer("C1")])),
    ("clickstream", "a.json", ndjson([click(session_id="ok")])),
]
#: Each dataset's counters, worked out by hand (a rejected file counts one read and one
#: quarantined), and what reaches silver: (key, values, the file they come from).
FILE_TOTALS = {
    "orders": (dict(files_read=6, read=2 + 5, written=2, quarantined=5, files_quarantined=5),
               ("order_id", ["O1", "O2"], "a-good.csv")),
    "sales": (dict(files_read=1, read=1, written=0, quarantined=1, files_quarantined=1),
              ("sale_id", [], None)),
    "payments": (dict(files_read=1, read=1, written=1, quarantined=0, files_quarantined=0),
                 ("payment_id", ["Y1"], "p.csv")),
    "customers": (dict(files_read=10, read=10, written=1, quarantined=9, files_quarantined=9),
                  ("customer_id", ["C1"], "a.json")),
    "clickstream": (dict(files_read=3, read=1 + 2, written=1, quarantined=2,
                         files_quarantined=2),
                    ("session_id", ["ok"], "a.json")),
}  # fmt: skip


def _when(dataset):
    return HOUR if dataset == "clickstream" else DAY


@pytest.fixture(scope="module")
def file_run(tmp_path_factory):
    """The bad and the good files landed in one lake, ingested once:
    (lake, report, {(dataset, file name): source_file})."""
    with _fresh_lake(tmp_path_factory) as lake:
        sources = land_file_cases(lake)
        yield lake, ingest(lake), sources


def land_file_cases(lake):
    """Land the bad files and the good ones; returns {(dataset, file name): source_file}."""
    sources = {}
    for dataset, name, data, *_ in [*(p.values for p in FILE_CASES), *GOOD_FILES]:
        path = land_file(lake, dataset, _when(dataset), name, data)
        sources[dataset, name] = rel(lake, path)
    return sources


@pytest.mark.parametrize(("dataset", "name", "data", "reason"), FILE_CASES)
def test_each_bad_file_is_quarantined_whole_with_its_reason(file_run, dataset, name, data, reason):
    lake, report, sources = file_run
    src = sources[dataset, name]
    (row,) = [r for r in quarantine(lake, dataset) if r["source_file"] == src]
    _check_row(row, src, None, "file", reason, None, dataset, report)
    assert [r for r in silver(lake, dataset) if r["source_file"] == src] == []


def test_a_missing_column_is_named(file_run):
    lake, _, sources = file_run
    src = sources["orders", "f-nochannel.csv"]
    (row,) = [r for r in quarantine(lake, "orders") if r["source_file"] == src]
    assert "channel" in f"{row['field']} {row['detail']}"


@pytest.mark.parametrize("dataset", FILE_TOTALS)
def test_bad_files_do_not_stop_the_run(file_run, dataset):
    lake, report, sources = file_run
    counts, (key, kept, good) = FILE_TOTALS[dataset]
    check_stats(report, dataset, duplicates=0, **counts)
    assert report.balanced is True
    rows = silver(lake, dataset)
    assert sorted(r[key] for r in rows) == kept
    assert {r["source_file"] for r in rows} == ({sources[dataset, good]} if good else set())
    # nothing is quarantined but the bad files, each once
    quarantined = quarantine(lake, dataset)
    bad = [sources[d, n] for d, n, *_ in (p.values for p in FILE_CASES) if d == dataset]
    assert sorted(r["source_file"] for r in quarantined) == sorted(bad)
    if quarantined:
        _check_schema(lake, quarantined)


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
