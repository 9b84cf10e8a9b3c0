"""A shop that delivers only some datasets still builds; without orders, one line.

The raw zones are written by hand: a shop with orders, sales and payments only (no
customer feed, no product catalog, no clickstream) builds green on DuckDB and on
PostgreSQL: the facts are filled, the click fact is empty, products and customers are
inferred members. A lake without orders fails before dbt starts, in one line naming
orders and what to deliver.
"""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import duckdb
import psycopg
import pytest
from cli_kit import run_shoplake, the_error_line

from shoplake.contract import DATASETS
from shoplake.ingest import run_ingest
from shoplake.lake import Lake
from shoplake.warehouse import artifacts_dir, build, project_dir, source_freshness

ORDERS = [
    # order_id, customer_id, order_ts, status, channel, currency, shipping_country, updated_at
    ("O1", "C1", "2026-03-01T10:00:00Z", "placed", "web", "EUR", "PT", "2026-03-01T10:00:00Z"),
    ("O2", "C2", "2026-03-01T11:30:00Z", "placed", "mobile", "EUR", "ES", "2026-03-01T11:30:00Z"),
]
SALES = [
    # sale_id, order_id, product_id, quantity, unit_price, discount_amount, sold_at
    ("S1", "O1", "P1", "2", "10.00", "1.50", "2026-03-01T10:00:00Z"),
    ("S2", "O1", "P2", "1", "5.00", "", "2026-03-01T10:00:00Z"),
    ("S3", "O2", "P1", "3", "10.00", "0", "2026-03-01T11:30:00Z"),
]
PAYMENTS = [
    # payment_id, order_id, payment_ts, method, status, amount, currency
    ("Y1", "O1", "2026-03-01T10:05:00Z", "card", "captured", "23.50", "EUR"),
    ("Y2", "O2", "2026-03-01T11:35:00Z", "paypal", "captured", "30.00", "EUR"),
]
PRESENT = ("orders", "sales", "payments")
ABSENT = ("customers", "products", "clickstream", "exchange_rates")


def write_csv(lake: Lake, dataset: str, rows: list[tuple[str, ...]]) -> None:
    """raw/<dataset>/2026/03/01/<dataset>.csv, header from the contract's field names."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow([f.raw_name for f in DATASETS[dataset].fields])
    writer.writerows(rows)
    path = lake.root / "raw" / dataset / "2026" / "03" / "01" / f"{dataset}.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(buf.getvalue(), "utf-8")


@pytest.fixture(scope="module")
def partial_lake(tmp_path_factory: pytest.TempPathFactory) -> Lake:
    """A lake with orders, sales and payments ingested, nothing else delivered."""
    lake = Lake.at(tmp_path_factory.mktemp("partial") / "lake")
    write_csv(lake, "orders", ORDERS)
    write_csv(lake, "sales", SALES)
    write_csv(lake, "payments", PAYMENTS)
    report = run_ingest(lake)
    assert report.balanced
    assert {n: (d.written, d.quarantined) for n, d in report.datasets.items()} == {
        "orders": (2, 0),
        "sales": (3, 0),
        "payments": (2, 0),
        **dict.fromkeys(ABSENT, (0, 0)),
    }
    return lake


def only_recency_warnings(result) -> None:
    """Green: every node passed; the only warnings are the freshness checks by business
    time, dbt's recency and the project's (the hand-written records are from March 2026,
    and the click fact is empty)."""
    assert result.ok, result.failures
    assert result.statuses.get("success", 0) > 0
    assert result.statuses.get("pass", 0) > 0
    assert set(result.statuses) <= {"success", "pass", "warn", "no-op"}, result.statuses
    assert all(".recency_" in w or ".business_time_freshness_" in w for w in result.warnings), (
        result.warnings
    )


def test_a_shop_without_customers_products_or_clicks_builds_on_duckdb(
    partial_lake: Lake,
) -> None:
    only_recency_warnings(build(partial_lake, quiet=True))

    # nothing was written into silver/ for the datasets the shop does not deliver
    silver = sorted(p.name for p in (partial_lake.root / "silver").iterdir())
    assert silver == sorted(PRESENT)
    empty = sorted(p.name for p in (partial_lake.root / "_state" / "empty_sources").iterdir())
    assert empty == sorted(f"{name}.parquet" for name in ABSENT)

    con = duckdb.connect(str(partial_lake.root / "warehouse.duckdb"), read_only=True)
    try:
        q = lambda sql: con.execute(sql).fetchall()  # noqa: E731
        assert q("select count(*) from fact_clicks") == [(0,)]
        assert q("select count(*) from main_staging.stg_lake__clickstream") == [(0,)]
        assert q("select product_id, is_inferred, name from dim_products order by 1") == [
            ("P1", True, None),
            ("P2", True, None),
        ]
        assert q("select customer_id, is_inferred from dim_customers order by 1") == [
            ("C1", True),
            ("C2", True),
        ]
        # 2 * 10.00 - 1.50, 1 * 5.00 - 0, 3 * 10.00 - 0
        assert q("select count(*), sum(quantity) from sales_fact") == [(3, 6)]
        assert q(
            "select p.product_id, count(*) from sales_fact s "
            "join dim_products p on s.product_key = p.product_key group by 1 order by 1"
        ) == [("P1", 2), ("P2", 1)]
        assert q("select count(*) from fact_orders") == [(2,)]
        assert q("select count(*) from fact_payments") == [(2,)]
        # the empty sources are typed as silver is: a timestamp stays a timestamp
        types = dict(q("select column_name, data_type from information_schema.columns "
                       "where table_schema = 'main_staging' "
                       "and table_name = 'stg_lake__products'"))  # fmt: skip
        assert types["updated_at"] == "TIMESTAMP"
        assert types["list_price"] == "DECIMAL(18,2)"
    finally:
        con.close()

    # freshness checks the delivered datasets only: one not delivered is not stale
    sources = json.loads(source_freshness(partial_lake, quiet=True).read_text("utf-8"))
    assert {r["unique_id"].rsplit(".", 1)[1]: r["status"] for r in sources["results"]} == {
        name: "pass" for name in PRESENT
    }

    # docs/operate.md names the datasets each mart reads as dbt's lineage does
    manifest = artifacts_dir(partial_lake) / "target" / "manifest.json"
    assert documented_lineage() == manifest_lineage(json.loads(manifest.read_text("utf-8")))


def documented_lineage() -> dict[str, set[str]]:
    """mart -> datasets, from the table in docs/operate.md's section on missing datasets."""
    text = (project_dir() / "docs" / "operate.md").read_text("utf-8")
    section = text.split("## Datasets a shop does not deliver", 1)[1].split("\n## ", 1)[0]
    lineage = {}
    for row in re.findall(r"^\| (`.*)$", section, flags=re.M):
        marts, datasets = (cell.strip() for cell in row.split("|")[:2])
        reads = set() if datasets.startswith("(none") else set(datasets.split(", "))
        for mart in re.findall(r"`(\w+)`", marts):
            lineage[mart] = reads
    return lineage


def manifest_lineage(manifest: dict) -> dict[str, set[str]]:
    """mart -> the lake sources it reads, through every model in between."""
    parents = manifest["parent_map"]

    def sources(node: str) -> set[str]:
        found = set()
        for parent in parents.get(node, []):
            if parent.startswith("source.shoplake.lake."):
                found.add(parent.rsplit(".", 1)[1])
            else:
                found |= sources(parent)
        return found

    return {
        node["name"]: sources(uid)
        for uid, node in manifest["nodes"].items()
        if node["resource_type"] == "model" and node["path"].startswith("marts/")
    }


@pytest.mark.postgres
def test_a_shop_without_customers_products_or_clicks_builds_on_postgres(
    partial_lake: Lake, postgres_db: str
) -> None:
    only_recency_warnings(
        build(partial_lake, target="postgres", postgres_dsn=postgres_db, quiet=True)
    )
    with psycopg.connect(postgres_db) as conn:
        q = lambda sql: conn.execute(sql).fetchall()  # noqa: E731
        for name in ABSENT:  # pgload created the empty, typed tables
            assert q(f"select count(*) from lake.{name}") == [(0,)]
        assert q(
            "select data_type from information_schema.columns "
            "where table_schema = 'lake' and table_name = 'products' "
            "and column_name = 'updated_at'"
        ) == [("timestamp without time zone",)]
        assert q("select count(*) from analytics.fact_clicks") == [(0,)]
        assert q("select bool_and(is_inferred), count(*) from analytics.dim_products") == [
            (True, 2)
        ]
        assert q("select count(*), sum(quantity) from analytics.sales_fact") == [(3, 6)]


def test_a_lake_without_orders_fails_in_one_line_naming_orders(tmp_path: Path) -> None:
    lake = Lake.at(tmp_path / "lake")
    write_csv(lake, "sales", SALES)
    write_csv(lake, "payments", PAYMENTS)
    assert run_ingest(lake).balanced

    result = run_shoplake("build", "--lake", str(lake.root), without=("SHOPLAKE_DUCKDB_PATH",))
    line = the_error_line(result)
    assert "no orders in silver/" in line
    assert "deliver raw/orders/YYYY/MM/DD/" in line
    assert not (lake.root / "warehouse.duckdb").exists()
    assert not (lake.root / "_state" / "dbt").exists()  # dbt never started
