"""shoplake.generate: the raw data it writes follows the raw contract, and says what it did.

The files are read back here with the csv, json and gzip modules and checked against
the contract with a small validator of this test's own (not ingest's), so that the
counts the generator reports are compared with counts made independently.
"""

from __future__ import annotations

import collections
import csv
import gzip
import hashlib
import io
import json
import re
import zlib
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from shoplake.cli import app
from shoplake.contract import (
    CURRENCIES,
    DATASETS,
    ORDER_STATUSES,
    REGIONS,
    Dataset,
    Format,
    Kind,
    click_id,
    countries,
    format_utc,
)
from shoplake.generate import generate, generate_clickstream
from shoplake.lake import Lake, landing_time

START = date(2026, 10, 1)
DAYS = 6
SMALL = {"start": START, "days": DAYS, "orders_per_day": 25, "seed": 7}
UTC = timezone.utc
NOW = datetime.now(UTC)

TS = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}(:?\d{2})?)?$")
AMOUNT = re.compile(r"^\d+(\.\d{1,2})?$")
INTEGER = re.compile(r"^[+-]?\d+$")
CSV_BOOLEANS = {"true", "false", "t", "f", "1", "0"}


# an independent reader and validator of raw files ----------------------------------------
def parse_ts(text: str) -> datetime:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def check_value(kind: Kind, value: Any, values: tuple[str, ...], csv_text: bool) -> str | None:
    """The reason code a non-null value breaks, or None."""
    if kind is Kind.BOOLEAN:
        ok = value.lower() in CSV_BOOLEANS if csv_text else isinstance(value, bool)
        return None if ok else "wrong_type"
    if kind is Kind.JSON:
        return None if isinstance(value, dict) else "wrong_type"
    if not isinstance(value, str):
        return "wrong_type"
    if kind is Kind.TIMESTAMP:
        if not TS.match(value):
            return "wrong_type"
        try:
            moment = parse_ts(value)
        except ValueError:
            return "wrong_type"
        return "future_timestamp" if moment > NOW + timedelta(hours=24) else None
    if kind is Kind.AMOUNT and not AMOUNT.match(value):
        return "wrong_type"
    if kind is Kind.INTEGER:
        return None if INTEGER.match(value) else "wrong_type"
    if kind is Kind.ENUM and value not in values:
        return "out_of_enum"
    if kind is Kind.CURRENCY and value not in CURRENCIES:
        return "out_of_enum"
    if kind is Kind.COUNTRY and value not in countries():
        return "out_of_enum"
    return None


def check_record(ds: Dataset, rec: dict[str, Any], csv_text: bool) -> str | None:
    """The reason code a record (raw names -> raw values) is bad for, or None."""
    for f in ds.fields:
        value = rec.get(f.raw_name)
        if value is None or value == "":
            if f.required:
                return "missing_required"
            continue
        problem = check_value(f.kind, value, f.values, csv_text)
        if problem:
            return problem
        if f.minimum is not None and Decimal(value) < f.minimum:
            return "out_of_range"
    if ds.name == "sales" and rec.get("discount_amount"):
        gross = Decimal(rec["quantity"]) * Decimal(rec["unit_price"])
        if Decimal(rec["discount_amount"]) > gross:
            return "out_of_range"
    return None


def flatten(obj: dict[str, Any]) -> dict[str, Any]:
    out = dict(obj)
    address = obj.get("address")
    if isinstance(address, dict):
        for key, value in address.items():
            out[f"address.{key}"] = value
    return out


@dataclass
class RawFile:
    path: Path
    dataset: str
    problem: str | None = None  # file-level reason code
    records: list[dict[str, Any]] = field(default_factory=list)  # good records
    bad: list[str] = field(default_factory=list)  # record-level reason codes
    text: str = ""
    gzipped: bool = False
    bom: bool = False


def read_raw(path: Path, ds: Dataset) -> RawFile:
    out = RawFile(path, ds.name, gzipped=path.name.endswith(".gz"))
    data = path.read_bytes()
    if out.gzipped:
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error):
            out.problem = "unreadable_gzip"
            return out
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        out.problem = "not_utf8"
        return out
    out.bom = text.startswith("\ufeff")
    out.text = text = text.removeprefix("\ufeff")
    if ds.format is Format.CSV:
        rows = list(csv.reader(io.StringIO(text, newline="")))
        header = [h.lower() for h in rows[0]]
        if not set(ds.required_raw_columns) <= set(header):
            out.problem = "missing_columns"
            return out
        for row in rows[1:]:
            if len(row) != len(header):
                out.bad.append("unparseable")
                continue
            rec = dict(zip(header, row, strict=True))
            problem = check_record(ds, rec, csv_text=True)
            out.bad.append(problem) if problem else out.records.append(rec)
        return out
    if ds.format is Format.JSON:
        try:
            doc = json.loads(text)
        except ValueError:
            out.problem = "invalid_json"
            return out
        if isinstance(doc, dict) and isinstance(doc.get("customers"), list):
            items = doc["customers"]
        elif isinstance(doc, list):
            items = doc
        else:
            out.problem = "not_object_or_array"
            return out
    else:
        items = []
        for line in text.splitlines():
            try:
                items.append(json.loads(line))
            except ValueError:
                out.bad.append("unparseable")
    for item in items:
        if not isinstance(item, dict):
            out.bad.append("not_an_object")
            continue
        rec = flatten(item)
        problem = check_record(ds, rec, csv_text=False)
        out.bad.append(problem) if problem else out.records.append(rec)
    return out


def read_lake(lake: Lake) -> dict[str, list[RawFile]]:
    return {name: [read_raw(p, ds) for p in lake.raw_files(ds)] for name, ds in DATASETS.items()}


def good(files: list[RawFile]) -> list[dict[str, Any]]:
    return [rec for f in files for rec in f.records]


def landed(f: RawFile, lake: Lake) -> date:
    moment = landing_time(lake.relative(f.path))
    assert moment is not None
    return moment.date()


def record_key(ds: Dataset, rec: dict[str, Any]) -> tuple[Any, ...]:
    """The silver key of a good record (docs/lake.md), timestamps normalised to UTC."""
    if ds.name == "clickstream":
        when = format_utc(parse_ts(rec["event_time"]))
        parts = (rec["user_id"], rec["session_id"], rec["action"], rec.get("page_url"))
        return (click_id(when, *parts),)
    return tuple(parse_ts(rec[k]) if ds.field(k).kind is Kind.TIMESTAMP else rec[k] for k in ds.key)


def summary(lake: Lake) -> dict[str, Any]:
    return json.loads(lake.state_dir("generate", "summary.json").read_text())


def all_bytes(lake: Lake) -> dict[str, str]:
    return {
        lake.relative(p): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(lake.zone("raw").rglob("*"))
        if p.is_file()
    }


# fixtures: one clean and one faulty small world, generated once ---------------------------
@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> tuple[Lake, Any, dict[str, list[RawFile]]]:
    lake = Lake.at(tmp_path_factory.mktemp("clean"))
    report = generate(lake, **SMALL)
    return lake, report, read_lake(lake)


@pytest.fixture(scope="module")
def faulty(tmp_path_factory: pytest.TempPathFactory) -> tuple[Lake, Any, dict[str, list[RawFile]]]:
    lake = Lake.at(tmp_path_factory.mktemp("faulty"))
    report = generate(lake, **SMALL, faults=True)
    return lake, report, read_lake(lake)


# countries ------------------------------------------------------------------------------
def test_countries_reference_table() -> None:
    table = countries()
    assert len(table) >= 245
    assert all(re.fullmatch(r"[A-Z]{2}", code) for code in table)
    assert {c.region for c in table.values()} == set(REGIONS)
    assert all(c.name and c.subregion for c in table.values())
    expected = {
        "US": "north_america",
        "CA": "north_america",
        "GL": "north_america",
        "MX": "latin_america",
        "JM": "latin_america",
        "BR": "latin_america",
        "DE": "europe",
        "RU": "europe",
        "AE": "middle_east_africa",
        "NG": "middle_east_africa",
        "JP": "asia_pacific",
        "AU": "asia_pacific",
        "KZ": "asia_pacific",
    }
    assert {code: table[code].region for code in expected} == expected
    assert table["CD"].name.count(",") == 1  # names with commas survive the CSV quoting


def test_country_codes_are_unique_in_the_file() -> None:
    from importlib import resources

    text = resources.files("shoplake.reference").joinpath("countries.csv").read_text("utf-8")
    rows = list(csv.DictReader(io.StringIO(text)))
    codes = [r["country_code"] for r in rows]
    assert len(codes) == len(set(codes)) == len(countries())
    assert list(rows[0]) == ["country_code", "country_name", "region", "subregion"]


# shape and contract --------------------------------------------------------------------
def test_every_dataset_is_delivered_and_valid_without_faults(clean) -> None:
    lake, report, files = clean
    for name in DATASETS:
        assert files[name], f"no {name} files"
        assert all(f.problem is None for f in files[name]), name
        assert [b for f in files[name] for b in f.bad] == [], name
    assert not list(lake.zone("raw").rglob("_*")), "temporary files left behind"
    assert report.fault_totals() == {}


def test_counts_agree_with_an_independent_count(faulty) -> None:
    lake, report, files = faulty
    counted = summary(lake)["datasets"]
    assert set(counted) == set(DATASETS)
    for name, ds_files in files.items():
        faults: collections.Counter[str] = collections.Counter()
        for f in ds_files:
            if f.problem:
                faults[f.problem] += 1
            faults.update(f.bad)
        assert dict(faults) == counted[name]["faults"], name
        # exact copies of a file are re-deliveries: their records are duplicates
        by_content = collections.defaultdict(list)
        for f in ds_files:
            if f.problem is None:
                by_content[hashlib.sha256(f.path.read_bytes()).hexdigest()].append(f)
        duplicates = sum(len(g[0].records) * (len(g) - 1) for g in by_content.values())
        assert duplicates == counted[name]["duplicates"], name
        assert len(good(ds_files)) - duplicates == counted[name]["records"], name
        keys = {record_key(DATASETS[name], rec) for rec in good(ds_files)}
        assert len(keys) == counted[name]["records"], name  # every good record a new key
        assert len(ds_files) == counted[name]["files"], name
        expected = counted[name]["expected_ingest"]
        assert expected["read"] == sum(len(f.records) + len(f.bad) for f in ds_files) + sum(
            1 for f in ds_files if f.problem
        )
    assert report.as_dict()["datasets"] == counted


def test_faults_cover_every_reason_code(faulty) -> None:
    lake, report, _ = faulty
    kinds = set(summary(lake)["fault_totals"])
    assert kinds == {
        "unparseable",
        "not_an_object",
        "missing_required",
        "wrong_type",
        "out_of_enum",
        "out_of_range",
        "future_timestamp",
        "unreadable_gzip",
        "not_utf8",
        "missing_columns",
        "invalid_json",
        "not_object_or_array",
    }
    assert kinds == set(report.fault_totals())


def test_faults_leave_the_good_data_unchanged(clean, faulty) -> None:
    def key(rec: dict[str, Any]) -> str:
        return json.dumps(rec, sort_keys=True)

    for name in DATASETS:
        with_faults = collections.Counter(map(key, good(faulty[2][name])))
        without = collections.Counter(map(key, good(clean[2][name])))
        assert with_faults == without, name
        clean_counts = summary(clean[0])["datasets"][name]
        faulty_counts = summary(faulty[0])["datasets"][name]
        for key_ in ("records", "duplicates"):
            assert clean_counts[key_] == faulty_counts[key_], (name, key_)


def test_same_seed_same_bytes_other_seed_other_bytes(faulty, tmp_path: Path) -> None:
    again = Lake.at(tmp_path / "again")
    generate(again, **SMALL, faults=True)
    assert all_bytes(again) == all_bytes(faulty[0])
    assert summary(again) == summary(faulty[0])
    other = Lake.at(tmp_path / "other")
    generate(other, **{**SMALL, "seed": 8, "days": 1})
    first_day = {k: v for k, v in all_bytes(faulty[0]).items() if "/2026/10/01/" in k}
    assert set(all_bytes(other).values()).isdisjoint(first_day.values())


def test_files_land_by_day_some_late(clean) -> None:
    lake, _, files = clean
    late = 0
    for name, stamp in (("sales", "sold_at"), ("payments", "payment_ts")):
        for f in files[name]:
            days = {parse_ts(r[stamp]).date() for r in f.records}
            assert max(days) <= landed(f, lake), f.path  # nothing lands before it happened
            late += max(days) < landed(f, lake)
    assert late >= 1
    clicks = files["clickstream"]
    hours = {landing_time(lake.relative(f.path)) for f in clicks}
    assert len(hours) >= DAYS * 24 - 2  # hourly files
    on_time = [f for f in clicks if "late" not in f.path.name and "resent" not in f.path.name]
    for f in on_time:
        hour = landing_time(lake.relative(f.path))
        for r in f.records:
            moment = parse_ts(r["event_time"]).astimezone(UTC).replace(tzinfo=None)
            assert moment.replace(minute=0, second=0, microsecond=0) == hour


def test_business_dates_are_inside_the_window(clean) -> None:
    _, _, files = clean
    lo = datetime(START.year, START.month, START.day, tzinfo=UTC)
    hi = lo + timedelta(days=DAYS)
    for name, stamp in (
        ("orders", "order_ts"),
        ("sales", "sold_at"),
        ("clickstream", "event_time"),
    ):
        for rec in good(files[name]):
            assert lo <= parse_ts(rec[stamp]) < hi, (name, rec)


def test_orders_are_resent_when_their_status_changes(clean) -> None:
    _, _, files = clean
    versions = collections.defaultdict(list)
    for rec in good(files["orders"]):
        versions[rec["order_id"]].append(rec)
    assert set(ORDER_STATUSES) <= {r["status"] for r in good(files["orders"])} | {"returned"}
    resent = 0
    for order_id, recs in versions.items():
        distinct = {parse_ts(r["updated_at"]): r for r in recs}  # re-deliveries collapse
        chain = [distinct[t] for t in sorted(distinct)]
        assert chain[0]["status"] == "placed", order_id
        assert len({parse_ts(r["order_ts"]) for r in chain}) == 1
        assert len({(r["customer_id"], r["currency"], r["channel"]) for r in chain}) == 1
        resent += len(chain) >= 3
    assert resent > len(versions) / 2


def test_lines_payments_and_customers_fit_their_orders(clean) -> None:
    _, _, files = clean
    orders = {r["order_id"]: r for r in good(files["orders"])}
    net: dict[str, Decimal] = collections.defaultdict(Decimal)
    sale_ids = set()
    for s in good(files["sales"]):
        assert s["order_id"] in orders
        gross = int(s["quantity"]) * Decimal(s["unit_price"])
        discount = Decimal(s["discount_amount"] or 0)
        assert 0 <= discount <= gross
        if s["sale_id"] not in sale_ids:
            net[s["order_id"]] += gross - discount
            sale_ids.add(s["sale_id"])
        assert parse_ts(s["sold_at"]) == parse_ts(orders[s["order_id"]]["order_ts"])
    assert set(net) == set(orders)
    methods = set()
    for p in good(files["payments"]):
        order = orders[p["order_id"]]
        assert p["currency"] == order["currency"]
        methods.add(p["method"])
        if p["status"] in ("captured", "authorized", "failed"):
            assert Decimal(p["amount"]) == net[p["order_id"]]
        else:
            assert Decimal(p["amount"]) <= net[p["order_id"]]
    assert len(methods) >= 4
    customers = collections.defaultdict(list)
    for c in good(files["customers"]):
        customers[c["customer_id"]].append(c)
    first_order: dict[str, datetime] = {}
    for o in orders.values():
        t = parse_ts(o["order_ts"])
        first_order[o["customer_id"]] = min(t, first_order.get(o["customer_id"], t))
    for cid, t in first_order.items():
        assert cid in customers, cid
        assert all(parse_ts(c["signup_ts"]) < t for c in customers[cid])
    changed = [v for v in customers.values() if len({parse_ts(c["updated_at"]) for c in v}) > 1]
    assert changed, "no customer was re-sent with a later updated_at"
    repeat = collections.Counter(o["customer_id"] for o in orders.values())
    assert sum(n for n in repeat.values() if n > 1) > len(orders) / 10  # returning customers


def test_regions_currencies_and_plausible_currency(clean) -> None:
    _, _, files = clean
    orders = good(files["orders"])
    table = countries()
    assert {o["currency"] for o in orders} == set(CURRENCIES)
    assert {table[o["shipping_country"]].region for o in orders} == set(REGIONS)
    by_country = {
        "US": "USD",
        "CA": "CAD",
        "GB": "GBP",
        "AU": "AUD",
        "DE": "EUR",
        "FR": "EUR",
        "JP": "USD",
    }
    for o in orders:
        if o["shipping_country"] in by_country:
            assert o["currency"] == by_country[o["shipping_country"]], o


def test_products_catalog_and_price_changes(clean) -> None:
    _, _, files = clean
    products = good(files["products"])
    ids = {p["product_id"] for p in products}
    assert 200 <= len(ids) <= 2000
    assert all(
        Decimal(p["unit_cost"]) < Decimal(p["list_price"]) for p in products if p["unit_cost"]
    )
    assert {p["is_active"].lower() in ("false", "f", "0") for p in products} == {True, False}
    assert len({p["category"] for p in products}) >= 6
    versions = collections.Counter(p["product_id"] for p in products)
    assert max(versions.values()) >= 2  # changed products are dumped again
    assert any("\n" in p["name"] for p in products)
    assert any("," in p["name"] for p in products)
    assert any('"' in p["name"] for p in products)
    sold = collections.Counter(s["product_id"] for s in good(files["sales"]))
    assert set(sold) <= ids
    top = sum(n for _, n in sold.most_common(len(ids) // 10))
    assert top > sum(sold.values()) / 4  # a long tail: a tenth of products sell a quarter


def test_clickstream_funnels_and_purchases_match_orders(clean) -> None:
    _, _, files = clean
    events = good(files["clickstream"])
    orders = {r["order_id"]: r for r in good(files["orders"])}
    net: dict[str, Decimal] = collections.defaultdict(Decimal)
    for s in {s["sale_id"]: s for s in good(files["sales"])}.values():
        net[s["order_id"]] += int(s["quantity"]) * Decimal(s["unit_price"]) - Decimal(
            s["discount_amount"] or 0
        )
    actions = collections.Counter(e["action"] for e in events)
    assert set(actions) == set(DATASETS["clickstream"].field("action").values)
    purchases = {}
    for e in events:
        attrs = e.get("attributes") or {}
        if e["action"] == "purchase":
            order = orders[attrs["order_id"]]
            assert e["user_id"] == order["customer_id"]
            assert attrs["currency"] == order["currency"]
            assert Decimal(attrs["revenue"]) == net[attrs["order_id"]]
            purchases[attrs["order_id"]] = e
        elif e["action"] in ("product_view", "add_to_cart"):
            assert AMOUNT.match(attrs["price"])
            assert attrs["product_id"].startswith("P")
        elif e["action"] == "search":
            assert attrs["query"]
        assert e["page_url"].startswith("https://")
        assert e["user_agent"]
        assert e["ip"]
    web_and_app = {k for k, o in orders.items() if o["channel"] != "marketplace"}
    assert set(purchases) == web_and_app
    sessions = {e["session_id"] for e in events}
    assert 0.01 < len(purchases) / len(sessions) < 0.08  # conversion of a few per cent
    assert actions["page_view"] + actions["search"] > actions["product_view"] / 2
    assert any(e["user_id"].startswith("anon-") for e in events)


def test_format_variants_are_mixed_in(clean) -> None:
    _, _, files = clean
    csvs = [f for n in ("orders", "sales", "payments", "products") for f in files[n]]
    assert any(f.gzipped for f in csvs)
    assert any(f.bom for f in csvs)
    assert any("\r\n" in f.text for f in csvs)
    assert any("\r\n" not in f.text for f in csvs)
    headers = [[c.lower() for c in next(csv.reader(io.StringIO(f.text)))] for f in csvs]
    names = {f.raw_name for ds in DATASETS.values() for f in ds.fields}
    assert any(set(h) - names for h in headers)  # unknown extra columns
    contract_order = [
        [c for c in h if c in names] == [f.raw_name for f in DATASETS[raw.dataset].fields]
        for h, raw in zip(headers, csvs, strict=True)
    ]
    assert True in contract_order
    assert False in contract_order  # column order varies between files
    pages = [json.loads(f.text) for f in files["customers"]]
    assert any(isinstance(p, list) for p in pages)
    assert any(isinstance(p, dict) for p in pages)
    stamps = [
        r[f.name]
        for n in ("orders", "sales", "payments", "products")
        for f in DATASETS[n].fields
        if f.kind is Kind.TIMESTAMP
        for r in good(files[n])
    ]
    assert any(s.endswith("Z") for s in stamps)
    assert any(re.search(r"[+-]\d\d:\d\d$", s) for s in stamps)
    assert any(re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", s) for s in stamps)
    assert any(f.gzipped for f in files["clickstream"])


def test_scale_changes_volume(tmp_path: Path) -> None:
    small, large = Lake.at(tmp_path / "s"), Lake.at(tmp_path / "l")
    a = generate(small, start=START, days=2, orders_per_day=10, seed=3).as_dict()["datasets"]
    b = generate(large, start=START, days=2, orders_per_day=40, seed=3).as_dict()["datasets"]
    for name in ("orders", "sales", "clickstream"):
        assert 2.5 < b[name]["records"] / a[name]["records"] < 6, name


def test_report_table(faulty) -> None:
    _, report, _ = faulty
    table = report.as_report()
    assert [row[0] for row in table.rows] == list(DATASETS)
    assert any("faults injected" in note for note in table.notes)


def test_cli_generate(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app,
        [
            "generate",
            "--lake",
            str(tmp_path),
            "--start",
            "2026-10-01",
            "--days",
            "1",
            "--orders-per-day",
            "5",
            "--seed",
            "1",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "orders" in result.output
    assert (tmp_path / "_state" / "generate" / "summary.json").is_file()


def test_generate_clickstream_for_benchmarks(tmp_path: Path) -> None:
    lake = Lake.at(tmp_path)
    n = generate_clickstream(lake, start=START, days=2, events=20_000, seed=5)
    assert n == 20_000
    files = [read_raw(p, DATASETS["clickstream"]) for p in lake.raw_files(DATASETS["clickstream"])]
    assert sum(len(f.records) for f in files) == n
    assert all(not f.bad and f.problem is None for f in files)
    assert {p.name for p in lake.zone("raw").iterdir()} == {"clickstream"}
    purchases = [r for f in files for r in f.records if r["action"] == "purchase"]
    assert purchases
    assert all({"order_id", "revenue", "currency"} <= set(p["attributes"]) for p in purchases)
    lo = datetime(2026, 10, 1, tzinfo=UTC)
    assert all(
        lo <= parse_ts(r["event_time"]) < lo + timedelta(days=2) for f in files for r in f.records
    )


def test_products_go_to_postgres_when_a_dsn_is_given(postgres_db: str, tmp_path: Path) -> None:
    import psycopg

    lake = Lake.at(tmp_path)
    report = generate(lake, start=START, days=2, orders_per_day=5, seed=2, postgres_dsn=postgres_db,
                      products_table="shop.products")  # fmt: skip
    assert not lake.raw_dir("products").exists()
    assert "products" not in summary(lake)["datasets"]
    with psycopg.connect(postgres_db) as conn:
        n, inactive, cheaper = conn.execute(
            "select count(*), count(*) filter (where not is_active), "
            "count(*) filter (where unit_cost < list_price) from shop.products"
        ).fetchone()
    assert report.products_loaded == n >= 200
    assert 0 < inactive < n
    assert cheaper == n
    sold = {r["product_id"] for f in read_lake(lake)["sales"] for r in f.records}
    with psycopg.connect(postgres_db) as conn:
        ids = {r[0] for r in conn.execute("select product_id from shop.products")}
    assert sold <= ids


def test_the_shop_varies_by_weekday_channel_campaign_and_outage(tmp_path: Path) -> None:
    """Eight weeks of the demo shop: its trends must mean something. Weekends bring more
    visits that buy less, app baskets are smaller than web ones and marketplace ones
    larger, a campaign lifts orders for a few days with most lines discounted, and a
    checkout outage leaves busy hours without a single order."""
    import duckdb

    lake = Lake.at(tmp_path / "lake")
    generate(lake, start=date(2026, 6, 1), days=56, orders_per_day=100, seed=42)
    con = duckdb.connect()
    raw = str(lake.root / "raw")
    con.execute(
        f"""
        create view clicks as select * from read_ndjson('{raw}/clickstream/*/*/*/*/*.json*',
            columns = {{'event_time': 'timestamptz', 'session_id': 'varchar',
                        'action': 'varchar'}});
        create view orders as select distinct order_id, channel, currency,
            cast(cast(order_ts as timestamptz) as date) as day
            from read_csv('{raw}/orders/*/*/*/*.csv*', all_varchar = true, union_by_name = true);
        create view lines as select distinct sale_id, order_id,
            cast(quantity as int) * cast(unit_price as decimal(18, 2)) as gross,
            coalesce(cast(nullif(discount_amount, '') as decimal(18, 2)), 0) as discount
            from read_csv('{raw}/sales/*/*/*/*.csv*', all_varchar = true, union_by_name = true);
        """
    )
    weekend, weekday = con.execute(
        """
        with s as (
            select session_id, min(event_time) as t, max(action = 'purchase')::int as bought
            from clicks group by 1
        )
        select avg(bought) filter (where isodow(t) >= 6), avg(bought) filter (where isodow(t) < 6)
        from s
        """
    ).fetchone()
    assert weekend < weekday * 0.92

    basket = dict(
        con.execute(
            "select channel, sum(gross) / count(distinct order_id) from orders "
            "join lines using (order_id) where currency = 'USD' group by 1"
        ).fetchall()
    )
    assert basket["mobile"] < basket["web"] < basket["marketplace"]

    days = con.execute(
        "select day, count(distinct order_id), "
        "avg((discount > 0)::int) from orders join lines using (order_id) group by 1 order by 1"
    ).fetchall()
    median = sorted(n for _, n, _ in days)[len(days) // 2]
    campaign = [(d, share) for d, n, share in days if n > 1.4 * median]
    assert len(campaign) >= 2
    assert min(share for _, share in campaign) > 0.5
    assert max(share for _, n, share in days if n < 1.2 * median) < 0.3

    hourly = con.execute(
        "select cast(order_ts as timestamptz) as t from "
        f"read_csv('{raw}/orders/*/*/*/*.csv*', all_varchar = true, union_by_name = true)"
    ).fetchall()
    per_hour = collections.Counter((t.date(), t.hour) for (t,) in hourly)
    busy = [h for h in range(24) if sum(per_hour[(d, h)] for d, _, _ in days) / len(days) >= 5]
    assert busy
    gaps = [
        (d, h)
        for d, _, _ in days
        for h in busy
        if h + 1 in busy and per_hour[(d, h)] == 0 and per_hour[(d, h + 1)] == 0
    ]
    assert gaps, "no checkout outage: every busy hour of every day has orders"


def test_the_files_are_the_same_for_any_number_of_workers(tmp_path: Path) -> None:
    size = {"start": START, "days": 3, "orders_per_day": 12, "seed": 11, "faults": True}
    one, three = Lake.at(tmp_path / "one"), Lake.at(tmp_path / "three")
    generate(one, **size, workers=1)
    generate(three, **size, workers=3)
    assert all_bytes(one) == all_bytes(three)
    assert summary(one) == summary(three)
    # the days are written apart: sessions that cross midnight go to the next day's hour
    assert any("_carry" in name for name in all_bytes(one))


def test_cli_generate_asks_for_a_number_of_events(tmp_path: Path) -> None:
    window = ["--start", "2026-10-01", "--days", "2"]
    result = CliRunner().invoke(
        app, ["generate", "--lake", str(tmp_path), *window, "--events", "20000", "--seed", "2"]
    )
    assert result.exit_code == 0, result.output
    lake = Lake.at(tmp_path)
    ds = DATASETS["clickstream"]
    events = sum(len(read_raw(p, ds).records) for p in lake.raw_files(ds))
    assert 0.75 * 20_000 < events < 1.25 * 20_000
    order_files = [read_raw(p, DATASETS["orders"]) for p in lake.raw_files(DATASETS["orders"])]
    orders = {r["order_id"] for f in order_files for r in f.records}
    assert 0.75 < len(orders) / (20_000 / 86) < 1.25  # the other datasets in proportion
