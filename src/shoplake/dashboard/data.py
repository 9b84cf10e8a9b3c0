"""What the dashboard shows, read from the warehouse's marts as plain JSON-ready values.

The page filters by date range and region in the browser, so the data is kept at the
grain of the marts (day x region, day x method x status, day) rather than pre-summed.
Two figures cannot be summed from the gold tables over a date range and are embedded at
a finer grain instead:

* distinct customers: the customer ids of each day and region (as small integers), so
  that the page counts each customer once over any range and set of regions;
* top products: sales per day, region and product, so that the ranking follows the
  filter.

Both apply the warehouse's own revenue rule (the ``non_revenue_statuses`` variable of
``dbt_project.yml``), so that their totals agree with ``agg_daily_revenue``.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import duckdb

from shoplake.contract import REGIONS
from shoplake.errors import WarehouseError
from shoplake.warehouse import DUCKDB_SCHEMA

#: Schema of the marts in the DuckDB warehouse of the dev target.
MARTS_SCHEMA = DUCKDB_SCHEMA
#: The relations the dashboard reads (names fixed by the warehouse contract).
REQUIRED_MARTS = (
    "agg_daily_revenue",
    "agg_daily_funnel",
    "agg_payment_status",
    "fact_orders",
    "sales_fact",
    "dim_products",
    "dim_geography",
    "dim_date",
)
#: Region label for orders whose shipping country has no region in dim_geography.
UNKNOWN_REGION = "unknown"


def plain(value: Any) -> Any:
    """A JSON-ready value: money as float (the page formats it), dates as ISO strings."""
    if isinstance(value, Decimal):
        return float(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def query_rows(con: duckdb.DuckDBPyConnection, sql: str, params: list | None = None) -> list[list]:
    return [[plain(v) for v in row] for row in con.execute(sql, params or []).fetchall()]


def check_marts(con: duckdb.DuckDBPyConnection, where: str) -> None:
    """Fail with the command to run when the warehouse has not been built (or is empty)."""
    present = {
        name
        for (name,) in con.execute(
            "select table_name from information_schema.tables where table_schema = ?",
            [MARTS_SCHEMA],
        ).fetchall()
    }
    missing = [name for name in REQUIRED_MARTS if name not in present]
    if missing:
        raise WarehouseError(
            f"{where}: the warehouse has no {', '.join(missing)}",
            "run `shoplake build` (or `shoplake run`) first",
            step="dashboard",
        )
    days = con.execute(f"select count(*) from {MARTS_SCHEMA}.agg_daily_revenue").fetchall()[0][0]
    if not days:
        raise WarehouseError(
            f"{where}: the warehouse's marts are empty (no revenue on any day)",
            "run `shoplake ingest` and `shoplake build` first",
            step="dashboard",
        )


def _revenue_filter(non_revenue_statuses: list[str]) -> tuple[str, list[str]]:
    marks = ", ".join("?" for _ in non_revenue_statuses)
    return (f"o.status not in ({marks})" if marks else "true"), list(non_revenue_statuses)


def _region_order(found: set[str]) -> list[str]:
    """The contract's regions in its order (stable colours), then anything else found."""
    return [r for r in REGIONS if r in found] + sorted(found - set(REGIONS))


def business_data(
    con: duckdb.DuckDBPyConnection, non_revenue_statuses: list[str]
) -> dict[str, Any]:
    """Revenue, customers, payments, funnel and products, at the grain the filters need."""
    m = MARTS_SCHEMA
    revenue = query_rows(
        con,
        f"""
        select date_day, coalesce(region, '{UNKNOWN_REGION}'), orders, items, customers,
            revenue_usd
        from {m}.agg_daily_revenue
        order by date_day, 2
        """,
    )
    status_filter, params = _revenue_filter(non_revenue_statuses)
    ids: dict[str, int] = {}
    customers = []
    for day, region, members in con.execute(
        f"""
        select o.order_date, coalesce(g.region, '{UNKNOWN_REGION}'),
            list(distinct o.customer_id order by o.customer_id)
        from {m}.fact_orders as o
        left join {m}.dim_geography as g on o.country_code = g.country_code
        where {status_filter}
        group by 1, 2
        order by 1, 2
        """,
        params,
    ).fetchall():
        customers.append([plain(day), region, [ids.setdefault(c, len(ids)) for c in members]])

    product_sales = query_rows(
        con,
        f"""
        with lines as (
            select s.product_key, d.date_day, coalesce(g.region, '{UNKNOWN_REGION}') as region,
                s.quantity, s.total_amount_usd
            from {m}.sales_fact as s
            inner join {m}.fact_orders as o on s.order_id = o.order_id
            inner join {m}.dim_date as d on s.date_key = d.date_key
            left join {m}.dim_geography as g on o.country_code = g.country_code
            where {status_filter}
        )
        select date_day, region, product_key, sum(quantity), sum(total_amount_usd)
        from lines
        group by 1, 2, 3
        order by 1, 2, 3
        """,
        params,
    )
    keys = sorted({row[2] for row in product_sales})
    catalog = {
        key: [name, category]
        for key, name, category in con.execute(
            # a product sold before the catalog delivered it (an inferred member) has no
            # name yet: it shows as its id
            f"select product_key, coalesce(name, product_id), coalesce(category, ?) "
            f"from {m}.dim_products",
            [UNKNOWN_REGION],
        ).fetchall()
    }
    index = {key: i for i, key in enumerate(keys)}
    products = [
        [key, *catalog.get(key, [f"unknown product {key}", UNKNOWN_REGION])] for key in keys
    ]
    for row in product_sales:
        row[2] = index[row[2]]

    payments = query_rows(
        con,
        f"select date_day, method, status, payments, amount_usd from {m}.agg_payment_status "
        "order by date_day, method, status",
    )
    funnel = query_rows(
        con,
        f"""
        select date_day, sessions, product_view_sessions, add_to_cart_sessions,
            checkout_sessions, purchase_sessions
        from {m}.agg_daily_funnel
        order by date_day
        """,
    )
    # every order by channel, whatever its status, to reconcile the funnel's purchases:
    # marketplace orders are placed on the marketplace, so no session of ours buys them
    channel_orders = query_rows(
        con,
        f"select order_date, channel, count(*) from {m}.fact_orders group by 1, 2 order by 1, 2",
    )
    days = sorted({r[0] for r in revenue} | {r[0] for r in payments} | {r[0] for r in funnel})
    return {
        "first_day": days[0],
        "last_day": days[-1],
        "regions": _region_order({r[1] for r in revenue} | {r[1] for r in customers}),
        "revenue": revenue,
        "customers": customers,
        "products": products,
        "product_sales": product_sales,
        "payments": payments,
        "funnel": funnel,
        "channel_orders": channel_orders,
    }
