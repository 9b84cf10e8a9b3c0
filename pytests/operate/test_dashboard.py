"""``shoplake dashboard``: the page's figures against SQL written here over the marts, the
quality panel against the quarantine files and the generator's own counts, the page's
independence from the network, errors, and the page itself in headless Chromium.

Expected figures never come from the dashboard's code: revenue follows the warehouse
contract's rule (net amount in USD of orders not cancelled or returned), computed here
from ``fact_orders``; the funnel from ``fact_clicks``; quarantine counts from reading the
Parquet files with pyarrow and from what the generator says it injected.
"""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest
from browser import chromium, open_page, screenshot_path
from cli_kit import run_shoplake
from typer.testing import CliRunner

from shoplake.cli import app
from shoplake.dashboard import default_dashboard_path, write_dashboard
from shoplake.errors import ShoplakeError
from shoplake.lake import Lake

#: WAREHOUSE_CONTRACT.md: revenue leaves out orders in these statuses.
NOT_REVENUE = ("cancelled", "returned")
GENERATED_AT = datetime(2026, 11, 3, 7, 30)


# --- helpers ----------------------------------------------------------------------------
def embedded(page: Path) -> dict:
    """The JSON the page carries (what its script draws)."""
    found = re.search(
        r'<script type="application/json" id="dashboard-data">(.*?)</script>',
        page.read_text("utf-8"),
        re.S,
    )
    assert found, "no embedded data in the page"
    return json.loads(found.group(1))


def query(lake: Lake, sql: str, params: list | None = None) -> list[tuple]:
    con = duckdb.connect(str(lake.root / "warehouse.duckdb"), read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


def revenue_orders(lake: Lake, first: date, last: date, region: str | None = None):
    """(revenue, orders, distinct customers) per the contract, straight from fact_orders."""
    sql = """
        select coalesce(sum(o.net_amount_usd), 0), count(*), count(distinct o.customer_id)
        from main.fact_orders as o
        left join main.dim_geography as g on o.country_code = g.country_code
        where o.status not in (?, ?) and o.order_date between ? and ?
    """
    params: list = [*NOT_REVENUE, first, last]
    if region:
        sql += " and g.region = ?"
        params.append(region)
    [(revenue, orders, customers)] = query(lake, sql, params)
    return Decimal(revenue), orders, customers


def sessions(lake: Lake, first: date, last: date) -> tuple[int, int]:
    """(sessions, sessions with a purchase) by the day of each session's first event."""
    [(total, converted)] = query(
        lake,
        """
        with s as (
            select session_id, cast(min(event_time) as date) as day,
                max(case when action = 'purchase' then 1 else 0 end) as bought
            from main.fact_clicks group by session_id
        )
        select count(*), coalesce(sum(bought), 0) from s where day between ? and ?
        """,
        [first, last],
    )
    return total, converted


@pytest.fixture
def page(lake_copy: Lake) -> Path:
    return write_dashboard(lake_copy, now=GENERATED_AT)


HISTORY_DDL = [  # the run-history tables as the brief of issue 4 defines them
    "create schema if not exists shoplake_ops",
    "create table shoplake_ops.runs (run_id varchar, started_at timestamp, finished_at "
    "timestamp, seconds double, status varchar, failed_step varchar, error varchar, "
    "target varchar, lake varchar)",
    "create table shoplake_ops.run_steps (run_id varchar, position integer, step varchar, "
    "status varchar, started_at timestamp, seconds double, detail varchar)",
    "create table shoplake_ops.run_datasets (run_id varchar, dataset varchar, files_read "
    "bigint, records_read bigint, written bigint, quarantined bigint, duplicates bigint)",
    "create table shoplake_ops.run_tests (run_id varchar, unique_id varchar, name varchar, "
    "resource_type varchar, status varchar, failures bigint, seconds double, message varchar)",
    "create table shoplake_ops.run_freshness (run_id varchar, source varchar, max_loaded_at "
    "timestamp, snapshotted_at timestamp, age_hours double, warn_after_hours double, "
    "error_after_hours double, status varchar)",
]
T1 = datetime(2026, 11, 1, 2, 0)  # an older run that got as far as the tests
T2 = datetime(2026, 11, 2, 2, 0)  # the newest run, which failed before testing


def add_history(lake: Lake) -> None:
    con = duckdb.connect(str(lake.root / "warehouse.duckdb"))
    try:
        for statement in HISTORY_DDL:
            con.execute(statement).fetchall()
        con.executemany(
            "insert into shoplake_ops.runs values (?, ?, ?, ?, ?, ?, ?, 'dev', 'lake')",
            [
                ("r1", T1, T1 + timedelta(seconds=41), 41.5, "success", None, None),
                ("r2", T2, T2 + timedelta(seconds=9), 9.25, "failed", "build", "dbt failed"),
            ],
        ).fetchall()
        tests = [("r1", f"test.x.t{i}", f"t{i}", "test", "pass", 0, 0.1, "") for i in range(7)]
        tests += [
            ("r1", "unit_test.x.u1", "u1", "unit_test", "pass", 0, 0.2, ""),
            ("r1", "test.x.bad", "bad_one", "test", "fail", 3, 0.3, "Got 3 results"),
            ("r1", "test.x.old", "old_one", "test", "warn", 1, 0.3, "Got 1 result"),
        ]
        con.executemany(
            "insert into shoplake_ops.run_tests values (?, ?, ?, ?, ?, ?, ?, ?)", tests
        ).fetchall()
        con.executemany(
            "insert into shoplake_ops.run_freshness values (?, ?, ?, ?, ?, ?, ?, ?)",
            [
                ("r1", "orders", T1 - timedelta(hours=3), T1, 3.0, 26.0, 50.0, "pass"),
                ("r1", "products", T1 - timedelta(hours=30), T1, 30.0, 26.0, 50.0, "warn"),
            ],
        ).fetchall()
        con.executemany(
            "insert into shoplake_ops.run_datasets values (?, ?, ?, ?, ?, ?, ?)",
            [("r2", "orders", 3, 120, 110, 4, 6), ("r1", "orders", 9, 900, 880, 7, 13)],
        ).fetchall()
    finally:
        con.close()


# --- figures ----------------------------------------------------------------------------
def test_page_is_written_where_the_lake_keeps_its_site(lake_copy: Lake) -> None:
    path = write_dashboard(lake_copy)
    assert path == lake_copy.root / "site" / "dashboard.html" == default_dashboard_path(lake_copy)
    assert path.read_text("utf-8").startswith("<!doctype html>")
    assert not [p.name for p in path.parent.iterdir() if p.name != "dashboard.html"]


def test_revenue_orders_and_customers_match_the_facts(
    page: Path, lake_copy: Lake, built_lake
) -> None:
    data = embedded(page)
    assert (data["first_day"], data["last_day"]) == (
        str(built_lake.first_day),
        str(built_lake.last_day),
    )
    assert data["generated_at"] == "2026-11-03T07:30:00+00:00"

    revenue, orders, customers = revenue_orders(
        lake_copy, built_lake.first_day, built_lake.last_day
    )
    assert sum(r[5] for r in data["revenue"]) == pytest.approx(float(revenue), abs=0.005)
    assert sum(r[2] for r in data["revenue"]) == orders
    assert len({c for _, _, ids in data["customers"] for c in ids}) == customers

    regions = {r[1] for r in data["revenue"]}
    assert len(regions) >= 2
    for region in regions:
        revenue, orders, customers = revenue_orders(
            lake_copy, built_lake.first_day, built_lake.last_day, region
        )
        rows = [r for r in data["revenue"] if r[1] == region]
        assert sum(r[5] for r in rows) == pytest.approx(float(revenue), abs=0.005), region
        assert sum(r[2] for r in rows) == orders, region
        ids = {c for _, reg, members in data["customers"] if reg == region for c in members}
        assert len(ids) == customers, region

    # per day and region, the embedded customer lists agree with the gold table's count
    daily = {(d, r): c for d, r, _, _, c, _ in data["revenue"]}
    assert {(d, r): len(ids) for d, r, ids in data["customers"]} == daily


def test_funnel_payments_and_top_products_match_the_facts(
    page: Path, lake_copy: Lake, built_lake
) -> None:
    data = embedded(page)
    total, converted = sessions(lake_copy, built_lake.first_day, built_lake.last_day)
    assert total > 0
    assert sum(row[1] for row in data["funnel"]) == total
    assert sum(row[5] for row in data["funnel"]) == converted

    expected = Counter(
        {
            (m, s): n
            for m, s, n in query(
                lake_copy,
                "select method, status, count(*) from main.fact_payments group by 1, 2",
            )
        }
    )
    got: Counter = Counter()
    for _, method, status, n, _ in data["payments"]:
        got[(method, status)] += n
    assert got == expected

    top = query(
        lake_copy,
        f"""
        select p.name, sum(s.quantity), sum(s.total_amount_usd)
        from main.sales_fact as s
        inner join main.fact_orders as o on s.order_id = o.order_id
        inner join main.dim_products as p on s.product_key = p.product_key
        where o.status not in {NOT_REVENUE}
        group by p.name order by 3 desc, 1 limit 5
        """,
    )
    sales: dict[str, list] = defaultdict(lambda: [0, 0.0])
    for _, _, product, units, usd in data["product_sales"]:
        name = data["products"][product][1]
        sales[name][0] += units
        sales[name][1] += usd
    ranked = sorted(sales.items(), key=lambda kv: (-round(kv[1][1], 2), kv[0]))[:5]
    assert [name for name, _ in ranked] == [name for name, _, _ in top]
    for (_, (units, usd)), (_, want_units, want_usd) in zip(ranked, top, strict=True):
        assert units == want_units
        assert usd == pytest.approx(float(want_usd), abs=0.005)


def test_page_needs_no_network(page: Path) -> None:
    text = page.read_text("utf-8")
    assert not re.search(r"""(?:src|href)\s*=\s*["']?\s*(?:https?:)?//""", text, re.I)
    assert not re.search(r"""url\(\s*["']?\s*(?:https?:)?//""", text, re.I)
    assert "@import" not in text
    assert not re.search(r"<script[^>]+\bsrc=", text, re.I)
    assert not re.search(r"<link[^>]+rel=[\"']?stylesheet", text, re.I)
    assert '<a id="docs-link" href="../docs/"' in text  # the docs site, relative


# --- the quality panel ------------------------------------------------------------------
def test_quarantine_counts_and_rates(page: Path, lake_copy: Lake, built_lake) -> None:
    quarantine = embedded(page)["quality"]["quarantine"]
    rows = {d["dataset"]: d for d in quarantine["datasets"]}

    # counted here from the files themselves ...
    in_files: dict[str, Counter] = defaultdict(Counter)
    for file in lake_copy.root.glob("quarantine/*/year=*/month=*/day=*/*.parquet"):
        dataset = file.relative_to(lake_copy.root).parts[1]
        in_files[dataset].update(pq.read_table(file, columns=["reason"]).column(0).to_pylist())
    # ... and as the generator says it injected them
    injected = {
        name: Counter(ds["faults"]) for name, ds in built_lake.generated["datasets"].items()
    }
    assert sum(sum(c.values()) for c in injected.values()) > 0
    for name, dataset in rows.items():
        assert Counter(dict(dataset["reasons"])) == in_files[name] == injected[name], name
        assert dataset["quarantined"] == sum(injected[name].values())
        assert dataset["read"] == built_lake.ingest_read[name]
        assert dataset["read"] == built_lake.generated["datasets"][name]["expected_ingest"]["read"]
        assert dataset["rate"] == pytest.approx(dataset["quarantined"] / dataset["read"])
        # without run history, a dataset is flagged on its rate over every ingest run
        rate = sum(in_files[name].values()) / built_lake.ingest_read[name]
        assert dataset["over_threshold"] is (rate > 0.01), name
    assert set(rows) == set(injected)
    assert quarantine["ingest_runs"] == 1
    assert quarantine["threshold"] == 0.01  # the default: 1%


def test_quality_panel_without_run_history(page: Path) -> None:
    assert embedded(page)["quality"]["history"] == {"recorded": False}


def test_quality_panel_reads_the_run_history(lake_copy: Lake) -> None:
    add_history(lake_copy)
    history = embedded(write_dashboard(lake_copy))["quality"]["history"]
    assert history["recorded"] is True
    assert [r["run_id"] for r in history["runs"]] == ["r2", "r1"]  # newest first
    assert history["runs"][0]["status"] == "failed"
    assert history["runs"][0]["failed_step"] == "build"
    # r2 stopped before testing: tests and freshness are those of r1
    assert history["tests"]["run_id"] == "r1"
    statuses = Counter(row[2] for row in history["tests"]["rows"])
    assert statuses == {"pass": 8, "fail": 1, "warn": 1}
    bad = next(row for row in history["tests"]["rows"] if row[0] == "bad_one")
    assert bad[3:5] == [3, "Got 3 results"]
    assert history["freshness"]["run_id"] == "r1"
    assert {row[0]: (row[2], row[5]) for row in history["freshness"]["rows"]} == {
        "orders": (3.0, "pass"),
        "products": (30.0, "warn"),
    }
    assert history["datasets"]["run_id"] == "r2"
    assert history["datasets"]["rows"] == [["orders", 120, 4, 6]]


# --- errors -----------------------------------------------------------------------------
def test_no_warehouse_says_to_build_first(tmp_path: Path) -> None:
    with pytest.raises(ShoplakeError, match="no warehouse") as caught:
        write_dashboard(Lake.at(tmp_path / "empty-lake"))
    assert "shoplake build" in caught.value.hint
    assert not (tmp_path / "empty-lake" / "site").exists()


def test_warehouse_without_marts_says_to_build_first(tmp_path: Path) -> None:
    lake = Lake.at(tmp_path / "lake")
    lake.root.mkdir()
    duckdb.connect(str(lake.root / "warehouse.duckdb")).close()
    with pytest.raises(ShoplakeError, match="agg_daily_revenue") as caught:
        write_dashboard(lake)
    assert "shoplake build" in caught.value.hint


def test_empty_marts_say_to_ingest_and_build(lake_copy: Lake) -> None:
    con = duckdb.connect(str(lake_copy.root / "warehouse.duckdb"))
    con.execute("delete from main.agg_daily_revenue").fetchall()
    con.close()
    with pytest.raises(ShoplakeError, match="empty") as caught:
        write_dashboard(lake_copy)
    assert "shoplake build" in caught.value.hint
    assert not default_dashboard_path(lake_copy).exists()


def test_command_line(lake_copy: Lake, tmp_path: Path, built_lake) -> None:
    out = tmp_path / "elsewhere" / "kpis.html"
    result = CliRunner().invoke(
        app, ["dashboard", "--lake", str(lake_copy.root), "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert str(out) in result.output
    assert embedded(out)["first_day"] == str(built_lake.first_day)

    missing = CliRunner().invoke(app, ["dashboard", "--lake", str(tmp_path / "nothing")])
    assert missing.exit_code != 0
    assert isinstance(missing.exception, ShoplakeError)


# --- in the browser ---------------------------------------------------------------------
def kpi(page, key: str) -> float:
    return float(page.get_attribute(f"#kpi-{key}", "data-value"))


def set_dates(page, first: date, last: date) -> None:
    page.fill("#from", str(first))
    page.fill("#to", str(last))
    page.wait_for_selector(f'body[data-rendered^="{first}/{last}/"]')


@pytest.mark.browser
def test_dashboard_in_chromium_filters_recompute_the_kpis(
    page: Path, lake_copy: Lake, built_lake
) -> None:
    data = embedded(page)
    regions = sorted({r[1] for r in data["revenue"]})
    with chromium() as browser, open_page(browser, page.as_uri()) as (tab, check):
        # the whole range (a few days: the page starts with all of them)
        revenue, orders, customers = revenue_orders(
            lake_copy, built_lake.first_day, built_lake.last_day
        )
        assert kpi(tab, "revenue") == pytest.approx(float(revenue), abs=0.01)
        assert kpi(tab, "orders") == orders
        assert kpi(tab, "customers") == customers
        assert kpi(tab, "aov") == pytest.approx(float(revenue) / orders, abs=0.01)
        total, converted = sessions(lake_copy, built_lake.first_day, built_lake.last_day)
        assert kpi(tab, "conversion") == pytest.approx(converted / total, abs=1e-6)
        assert "no earlier period" in tab.inner_text("#kpi-revenue .delta")
        [(own, marketplace)] = query(
            lake_copy,
            "select count(*) filter (where channel <> 'marketplace'), "
            "count(*) filter (where channel = 'marketplace') from main.fact_orders "
            "where order_date between ? and ?",
            [built_lake.first_day, built_lake.last_day],
        )
        reconciled = tab.inner_text("#funnel-reconcile")
        assert f"Purchase sessions {converted:,} · web and app orders {own:,}" in reconciled
        assert f"marketplace orders {marketplace:,} (bought outside the shop" in reconciled
        if converted != own:
            assert f"{abs(converted - own):,} " in reconciled.split("no sessions)")[1]
        assert tab.inner_text("#meta").startswith("Data 5 Oct – 8 Oct 2026")
        tab.screenshot(path=str(screenshot_path("dashboard")), full_page=True)

        # a tooltip on hover: the first day's revenue
        day_revenue, _, _ = revenue_orders(lake_copy, built_lake.first_day, built_lake.first_day)
        tab.hover("#trend .hover-col >> nth=0")
        assert tab.is_visible("#tip")
        assert f"${round(day_revenue):,}" in tab.inner_text("#tip")

        # one region
        region = regions[0]
        tab.click(f'button[data-region="{region}"]')
        tab.wait_for_selector(f'body[data-rendered$="/{region}"]')
        revenue, orders, customers = revenue_orders(
            lake_copy, built_lake.first_day, built_lake.last_day, region
        )
        assert kpi(tab, "revenue") == pytest.approx(float(revenue), abs=0.01)
        assert kpi(tab, "orders") == orders
        assert kpi(tab, "customers") == customers

        # ... over the last two days, compared with the two days before
        first, last = built_lake.last_day - timedelta(days=1), built_lake.last_day
        set_dates(tab, first, last)
        revenue, orders, customers = revenue_orders(lake_copy, first, last, region)
        before, _, _ = revenue_orders(
            lake_copy, first - timedelta(days=2), first - timedelta(days=1), region
        )
        assert kpi(tab, "revenue") == pytest.approx(float(revenue), abs=0.01)
        assert kpi(tab, "customers") == customers
        change = (revenue - before) / before * 100
        shown = tab.inner_text("#kpi-revenue .delta")
        arrow = "▲" if change > 0 else "▼"
        assert f"{arrow} {'+' if change > 0 else '−'}{abs(change):.1f}%" in shown
        total, converted = sessions(lake_copy, first, last)
        assert kpi(tab, "conversion") == pytest.approx(converted / total, abs=1e-6)
        tab.screenshot(path=str(screenshot_path("dashboard-filtered")), full_page=True)

        # back to every region
        tab.click('button[data-region=""]')
        tab.wait_for_selector(f'body[data-rendered="{first}/{last}/all"]')
        revenue, _, _ = revenue_orders(lake_copy, first, last)
        assert kpi(tab, "revenue") == pytest.approx(float(revenue), abs=0.01)
    assert not check.problems, check.problems


@pytest.mark.browser
def test_dashboard_in_chromium_with_run_history_and_on_a_phone(lake_copy: Lake) -> None:
    add_history(lake_copy)
    path = write_dashboard(lake_copy)
    with chromium() as browser:
        with open_page(browser, path.as_uri()) as (tab, check):
            assert "8 of 10 passed" in " ".join(tab.inner_text("#quality-tests").split())
            assert "bad_one" in tab.inner_text("#quality-tests")
            assert tab.inner_text('#quality-freshness tr[data-source="products"]').count("warn")
            assert tab.is_visible("#quality-runs")
            tab.screenshot(path=str(screenshot_path("dashboard-with-history")), full_page=True)
        assert not check.problems, check.problems
        with open_page(browser, path.as_uri(), width=390, height=844) as (tab, check):
            scroll, width = tab.evaluate(
                "[document.documentElement.scrollWidth, window.innerWidth]"
            )
            assert scroll <= width, "the page is wider than a phone's screen"
            tab.screenshot(path=str(screenshot_path("dashboard-phone")), full_page=True)
        assert not check.problems, check.problems


@pytest.mark.browser
def test_dashboard_in_chromium_without_run_history(page: Path, lake_copy: Lake) -> None:
    [(source,)] = query(
        lake_copy, "select distinct rate_source from main_intermediate.int_exchange_rates_daily"
    )
    assert embedded(page)["quality"]["exchange_rates"] == {"source": source, "missing": []}
    with chromium() as browser, open_page(browser, page.as_uri()) as (tab, check):
        assert "No runs recorded yet" in tab.inner_text("#quality-norun")
        assert tab.is_visible("#quality-quarantine")
        rates = tab.inner_text("#quality-rates")
        assert "Every amount has a usable rate" in rates
        assert ("delivered exchange-rates feed" if source == "feed" else "demo rates") in rates
    assert not check.problems, check.problems


def test_amounts_without_a_usable_rate_are_named_on_the_page(lake_copy: Lake) -> None:
    con = duckdb.connect(str(lake_copy.root / "warehouse.duckdb"))
    try:  # the warehouse as a build leaves it when a CAD day has no rate within 7 days
        con.execute(
            "create or replace view main_intermediate.int_missing_exchange_rates as select "
            "'fact_orders' as fact, 'CAD' as currency, date '2026-10-06' as business_date, "
            "3 as records, cast(123.45 as decimal(38, 2)) as amount"
        )
    finally:
        con.close()
    page = write_dashboard(lake_copy, now=GENERATED_AT)
    missing = embedded(page)["quality"]["exchange_rates"]["missing"]
    assert missing == [["fact_orders", "CAD", "2026-10-06", 3, 123.45]]
    with chromium() as browser, open_page(browser, page.as_uri()) as (tab, check):
        rates = tab.inner_text("#quality-rates")
        assert "1 (currency, day) pairs without a usable rate" in rates
        row = tab.inner_text('#quality-rates tr[data-missing="CAD/2026-10-06"]')
        assert "fact_orders" in row
        assert "123.45" in row
    assert not check.problems, check.problems


def test_a_product_without_a_catalog_row_shows_its_id(lake_copy: Lake) -> None:
    # the best-selling product becomes an inferred member: sold, not (yet) in the catalog
    con = duckdb.connect(str(lake_copy.root / "warehouse.duckdb"))
    try:
        [(key, product_id)] = con.execute(
            "select p.product_key, p.product_id from main.sales_fact as s "
            "join main.dim_products as p using (product_key) "
            "group by 1, 2 order by sum(s.total_amount_usd) desc limit 1"
        ).fetchall()
        con.execute(
            "update main.dim_products set name = null, category = null, is_inferred = true "
            "where product_key = ?",
            [key],
        )
    finally:
        con.close()
    data = embedded(write_dashboard(lake_copy, now=GENERATED_AT))
    shown = [row for row in data["products"] if row[0] == key]
    assert shown == [[key, product_id, "unknown"]]


# --- the quarantine threshold ----------------------------------------------------------
def run_above_the_threshold(lake: Lake) -> dict:
    """A hand-written orders file, 47 of whose 100 records break the contract (an unknown
    status), lands in the built lake; `shoplake run` ingests it (it reads nothing else) and
    `shoplake dashboard` writes the page. Returns the page's data."""
    lines = ["order_id,customer_id,order_ts,status,channel,currency,shipping_country,updated_at"]
    lines += [
        f"H{i},C1,2026-10-06T10:00:00Z,{'placed' if i >= 47 else 'teleported'},web,EUR,PT,"
        "2026-10-06T10:00:00Z"
        for i in range(100)
    ]
    drop = lake.root / "raw" / "orders" / "2026" / "10" / "07" / "hand-written.csv"
    drop.write_text("\n".join(lines) + "\n")
    root = str(lake.root)
    ran = run_shoplake("run", "--lake", root, "--to", "ingest", without=("SHOPLAKE_POSTGRES_DSN",))
    assert ran.returncode == 0, ran.stderr
    written = run_shoplake("dashboard", "--lake", root)
    assert written.returncode == 0, written.stderr
    return embedded(default_dashboard_path(lake))


def test_a_run_above_the_quarantine_threshold_is_flagged_on_the_page(lake_copy: Lake) -> None:
    data = run_above_the_threshold(lake_copy)
    datasets = data["quality"]["quarantine"]["datasets"]
    assert {d["dataset"] for d in datasets if d["over_threshold"]} == {"orders"}
    [run] = data["quality"]["history"]["runs"]
    assert run["status"] == "warn"
    [warning] = run["warnings"]
    assert warning.startswith("ingest: 100 read, 53 written, 47 quarantined")
    assert "above the 1% threshold: orders 47 of 100 (47%)" in warning


@pytest.mark.browser
def test_dashboard_in_chromium_names_the_dataset_above_the_threshold(lake_copy: Lake) -> None:
    data = run_above_the_threshold(lake_copy)
    [run] = data["quality"]["history"]["runs"]
    page = default_dashboard_path(lake_copy).as_uri()
    with chromium() as browser, open_page(browser, page) as (tab, check):
        notice = " ".join(tab.inner_text("#quality-threshold").split())
        assert "above the 1.00% threshold in the latest run: orders" in notice
        assert "above 1.00%" in tab.inner_text('#quality-quarantine tr[data-dataset="orders"]')
        assert "above" not in tab.inner_text('#quality-quarantine tr[data-dataset="sales"]')
        assert tab.inner_text(f'#quality-runs tr[data-run="{run["run_id"]}"]').count("warn")
        tab.screenshot(path=str(screenshot_path("dashboard-quarantine-threshold")), full_page=True)
    assert not check.problems, check.problems
