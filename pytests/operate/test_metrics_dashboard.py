"""The semantic layer from the command line and against the dashboard, on the generated,
built lake: `shoplake metrics validate/list/query` work on it, and the dashboard's KPI
tiles (drawn in headless Chromium) equal the semantic layer's answers for the same period
and region. Metric answers against SQL over the marts, on DuckDB and PostgreSQL, are
checked in pytests/warehouse/ (metrics_checks.py)."""

from __future__ import annotations

import csv
from datetime import timedelta
from pathlib import Path

import pytest
from browser import chromium, open_page
from cli_kit import run_shoplake

from shoplake.dashboard import write_dashboard
from shoplake.lake import Lake
from shoplake.metrics import MetricQuery, query_many

KPI_METRICS = ("revenue_usd", "orders", "aov_usd", "customers")


def kpi(tab, key: str) -> float:
    return float(tab.get_attribute(f"#kpi-{key}", "data-value"))


def period(first, last) -> str:
    day = "{{ TimeDimension('metric_time', 'day') }}"
    return f"{day} >= '{first}' and {day} <= '{last}'"


def test_metrics_validate_list_and_query_on_the_command_line(
    lake_copy: Lake, built_lake, tmp_path: Path
) -> None:
    lake = str(lake_copy.root)
    valid = run_shoplake("metrics", "validate", "--lake", lake)
    assert valid.returncode == 0, valid.stderr
    assert valid.stdout.startswith("semantic layer valid")
    listed = run_shoplake("metrics", "list", "--lake", lake)
    assert listed.returncode == 0, listed.stderr
    names = {line.split("\t")[0] for line in listed.stdout.splitlines()[2:] if "\t" in line}
    assert {
        "revenue_usd",
        "orders",
        "aov_usd",
        "items",
        "customers",
        "new_customers",
        "sessions",
        "conversion_rate",
        "payment_success_rate",
        "refund_rate",
    } <= names
    assert "saved queries: customers_by_segment, daily_funnel" in listed.stdout

    out = tmp_path / "orders.csv"
    queried = run_shoplake(
        "metrics", "query", "--lake", lake, "--metrics", "orders", "--group-by",
        "metric_time__day", "--order", "metric_time__day", "--limit", "2", "--csv", str(out),
    )  # fmt: skip
    assert queried.returncode == 0, queried.stderr
    rows = list(csv.reader(out.open()))
    assert rows[0] == ["metric_time__day", "orders"]
    assert [r[0][:10] for r in rows[1:]] == [
        str(built_lake.first_day),
        str(built_lake.first_day + timedelta(days=1)),
    ]

    unknown = run_shoplake("metrics", "query", "--lake", lake, "--metrics", "no_such_metric")
    assert unknown.returncode != 0
    [line] = unknown.stderr.strip().splitlines()
    assert "no_such_metric" in line
    assert "Traceback" not in unknown.stderr


@pytest.mark.browser
def test_dashboard_kpis_equal_the_semantic_layer(lake_copy: Lake, built_lake) -> None:
    first, last = built_lake.first_day, built_lake.last_day
    recent = last - timedelta(days=1)
    everything, by_region, recently, funnel, recent_funnel = query_many(
        lake_copy,
        [
            MetricQuery(metrics=KPI_METRICS),
            MetricQuery(metrics=KPI_METRICS, group_by=("country__region",)),
            MetricQuery(
                metrics=KPI_METRICS, group_by=("country__region",), where=(period(recent, last),)
            ),
            MetricQuery(metrics=("conversion_rate",)),
            MetricQuery(metrics=("conversion_rate",), where=(period(recent, last),)),
        ],
    )
    [total] = everything.records()
    regions = {r["country__region"]: r for r in by_region.records()}
    region = max((r for r in regions if r), key=lambda r: regions[r]["orders"])
    [recent_region] = [r for r in recently.records() if r["country__region"] == region]

    page = write_dashboard(lake_copy)
    with chromium() as browser, open_page(browser, page.as_uri()) as (tab, check):
        # the page opens on every day and region
        assert kpi(tab, "revenue") == pytest.approx(float(total["revenue_usd"]), abs=0.005)
        assert kpi(tab, "orders") == total["orders"]
        assert kpi(tab, "aov") == pytest.approx(float(total["aov_usd"]), abs=0.005)
        assert kpi(tab, "customers") == total["customers"]
        [conversion] = funnel.records()
        assert kpi(tab, "conversion") == pytest.approx(conversion["conversion_rate"], abs=1e-6)

        # one region, then the last two days of it
        tab.click(f'button[data-region="{region}"]')
        tab.wait_for_selector(f'body[data-rendered$="/{region}"]')
        assert kpi(tab, "revenue") == pytest.approx(
            float(regions[region]["revenue_usd"]), abs=0.005
        )
        assert kpi(tab, "orders") == regions[region]["orders"]
        assert kpi(tab, "customers") == regions[region]["customers"]
        tab.fill("#from", str(recent))
        tab.fill("#to", str(last))
        tab.wait_for_selector(f'body[data-rendered^="{recent}/{last}/"]')
        assert kpi(tab, "revenue") == pytest.approx(float(recent_region["revenue_usd"]), abs=0.005)
        assert kpi(tab, "orders") == recent_region["orders"]
        assert kpi(tab, "aov") == pytest.approx(float(recent_region["aov_usd"]), abs=0.005)
        assert kpi(tab, "customers") == recent_region["customers"]
        # clicks carry no region: the conversion tile is every region's
        [recent_conversion] = recent_funnel.records()
        assert kpi(tab, "conversion") == pytest.approx(
            recent_conversion["conversion_rate"], abs=1e-6
        )
    assert not check.problems, check.problems
    assert first < recent
