"""The semantic layer's answers against SQL written here over the marts, on any target.

Expected figures follow WAREHOUSE_CONTRACT.md (revenue: net amount in USD of the orders
not cancelled or returned; conversion: sessions with a purchase over sessions, by the day
of a session's first event), computed from the facts and dimensions directly, never
from the semantic layer's definitions or the gold tables.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal

import pytest

from shoplake.lake import Lake
from shoplake.metrics import MetricQuery, query_many

NOT_REVENUE = ("cancelled", "returned")
#: Runs SQL (literals inline, no parameters) on a target's warehouse and returns rows.
Sql = Callable[[str], list[tuple]]


def _day(value) -> date:
    return date.fromisoformat(str(value)[:10])


def _dec(value) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def assert_metrics_equal_sql(
    lake: Lake, sql: Sql, schema: str, *, target: str = "dev", postgres_dsn: str | None = None
) -> None:
    """Revenue, orders, AOV, items, customers by day and region, for a period and a
    region, conversion by day, payments by status and new customers by segment, through
    MetricFlow on ``target``, equal SQL over the marts in ``schema``."""
    s = schema
    revenue_rule = f"o.status not in {NOT_REVENUE!r}"
    days = sql(f"select min(order_date), max(order_date) from {s}.fact_orders")
    first, last = (_day(v) for v in days[0])
    assert first < last, "the lake must span several days for a period to mean anything"
    region = sql(
        f"select g.region from {s}.fact_orders o join {s}.dim_geography g "
        f"on o.country_code = g.country_code where {revenue_rule} "
        "group by g.region order by count(*) desc limit 1"
    )[0][0]
    period_where = f"{{{{ TimeDimension('metric_time', 'day') }}}} > '{first}'"
    answers = query_many(
        lake,
        [
            MetricQuery(
                metrics=("revenue_usd", "orders", "items", "aov_usd"),
                group_by=("metric_time__day", "country__region"),
            ),
            MetricQuery(
                metrics=("revenue_usd", "orders", "customers", "aov_usd"),
                group_by=("country__region",),
                where=(period_where,),
            ),
            MetricQuery(metrics=("customers",)),
            MetricQuery(metrics=("sessions", "conversion_rate"), group_by=("metric_time__day",)),
            MetricQuery(
                metrics=("payments", "payment_success_rate", "refund_rate"),
                group_by=("payment__method",),
            ),
            MetricQuery(metrics=("new_customers",), group_by=("customer__segment",)),
        ],
        target=target,
        postgres_dsn=postgres_dsn,
    )
    by_day_region, period, everyone, funnel, payments, segments = (a.records() for a in answers)

    # revenue, orders, items and AOV per day and region
    expected = {
        (_day(day), reg): (_dec(rev), n, items)
        for day, reg, rev, n, items in sql(
            f"select o.order_date, g.region, sum(o.net_amount_usd), count(*), "
            f"sum(o.item_count) from {s}.fact_orders o left join {s}.dim_geography g "
            f"on o.country_code = g.country_code where {revenue_rule} group by 1, 2"
        )
    }
    got = {
        (_day(r["metric_time__day"]), r["country__region"]): (
            _dec(r["revenue_usd"]),
            int(r["orders"]),
            int(r["items"]),
        )
        for r in by_day_region
    }
    assert got == expected
    assert len(got) > 5
    for r in by_day_region:
        assert float(r["aov_usd"]) == pytest.approx(float(r["revenue_usd"]) / int(r["orders"]))

    # a period (every day but the first) and one region: distinct customers too
    [(rev, n, customers)] = sql(
        f"select sum(o.net_amount_usd), count(*), count(distinct o.customer_id) "
        f"from {s}.fact_orders o join {s}.dim_geography g on o.country_code = g.country_code "
        f"where {revenue_rule} and g.region = '{region}' "
        f"and o.order_date > '{first}'"
    )
    [row] = [r for r in period if r["country__region"] == region]
    assert (_dec(row["revenue_usd"]), int(row["orders"]), int(row["customers"])) == (
        _dec(rev),
        n,
        customers,
    )
    [(all_customers,)] = sql(
        f"select count(distinct customer_id) from {s}.fact_orders o where {revenue_rule}"
    )
    assert [int(r["customers"]) for r in everyone] == [all_customers]

    # conversion by the day of each session's first event
    expected_funnel = {
        _day(day): (total, bought)
        for day, total, bought in sql(
            "select day, count(*), sum(bought) from ("
            "select session_id, cast(min(event_time) as date) as day, "
            "max(case when action = 'purchase' then 1 else 0 end) as bought "
            f"from {s}.fact_clicks group by session_id) as sessions group by day"
        )
    }
    assert {_day(r["metric_time__day"]): int(r["sessions"]) for r in funnel} == {
        d: t for d, (t, _) in expected_funnel.items()
    }
    for r in funnel:
        total, bought = expected_funnel[_day(r["metric_time__day"])]
        assert float(r["conversion_rate"]) == pytest.approx(bought / total)

    # payment success and refund rates per method
    expected_payments = {
        method: (n, ok, refunded)
        for method, n, ok, refunded in sql(
            "select method, count(*), sum(case when status <> 'failed' then 1 else 0 end), "
            "sum(case when status = 'refunded' then 1 else 0 end) "
            f"from {s}.fact_payments group by method"
        )
    }
    assert {r["payment__method"] for r in payments} == set(expected_payments)
    for r in payments:
        n, ok, refunded = expected_payments[r["payment__method"]]
        assert int(r["payments"]) == n
        assert float(r["payment_success_rate"]) == pytest.approx(ok / n)
        assert float(r["refund_rate"]) == pytest.approx(refunded / n)

    # new customers: first revenue order, per segment, counted from the orders
    expected_segments = dict(
        sql(
            "select c.segment, count(*) from ("
            f"select customer_key from {s}.fact_orders o where {revenue_rule} "
            f"group by customer_key) as firsts join {s}.dim_customers c "
            "on firsts.customer_key = c.customer_key group by c.segment"
        )
    )
    assert {r["customer__segment"]: int(r["new_customers"]) for r in segments} == (
        expected_segments
    )
