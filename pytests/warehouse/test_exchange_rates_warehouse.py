"""USD figures from delivered exchange rates, and a calendar that follows the data.

Written from the raw contract (section exchange_rates: the day's rate, else the latest
earlier one at most 7 days older; USD is always 1; a later delivery of a date and
currency corrects it) and the warehouse contract (`*_usd` null and reported without a
usable rate; the bundled demo rates only when no feed was ever delivered; dim_date
covers every fact's date whatever the history's span). Expected figures are worked out
here from the delivered rates and the facts' local amounts, never read back from the
warehouse's own USD columns.
"""

from __future__ import annotations

import csv
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import duckdb
import psycopg
from marts import DIMENSIONS, FACTS, GOLD
from silver_fixture import SilverFixture
from warehouse_kit import duckdb_rows

from shoplake.dashboard.quality import exchange_rate_data
from shoplake.lake import Lake
from shoplake.warehouse import build, default_duckdb_path

CENT = Decimal("0.01")
MISSING_RATE_TEST = "assert_every_amount_has_a_usable_rate"
DEMO_SEED = Path(__file__).parents[2] / "seeds" / "demo_exchange_rates.csv"

Rates = dict[tuple[str, date], Decimal]


def rate_for(rates: Rates, currency: str, day: date) -> Decimal | None:
    """The contract's rule: USD is 1; else the day's rate or the latest at most 7 days older."""
    if currency == "USD":
        return Decimal(1)
    for back in range(8):
        rate = rates.get((currency, day - timedelta(days=back)))
        if rate is not None:
            return rate
    return None


def to_usd(amount: Decimal, rate: Decimal | None) -> Decimal | None:
    return None if rate is None else (amount * rate).quantize(CENT, rounding=ROUND_HALF_UP)


def demo_rates() -> Rates:
    """The bundled demo rates: one per month, for every day of that month."""
    out: Rates = {}
    with DEMO_SEED.open() as f:
        for row in csv.DictReader(f):
            first = date.fromisoformat(row["rate_month"])
            day = first
            while day.month == first.month:
                out[(row["currency"], day)] = Decimal(row["usd_per_unit"])
                day += timedelta(days=1)
    return out


def query(path: Path, sql: str) -> list[dict]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        cur = con.execute(sql)
        cols = [d[0] for d in cur.description]
        return [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]
    finally:
        con.close()


def check_usd_figures(warehouse: Path, rates: Rates) -> set[tuple[str, str, date]]:
    """Every line, order and payment carries the USD value the contract gives it; returns
    the (fact, currency, date) whose amounts have no usable rate."""
    missing: set[tuple[str, str, date]] = set()
    lines = query(warehouse, "select * from sales_fact")
    by_order: dict[str, list[Decimal | None]] = {}
    for line in lines:
        want = to_usd(
            line["total_amount"], rate_for(rates, line["currency"], line["sold_at"].date())
        )
        assert line["total_amount_usd"] == want, line
        by_order.setdefault(line["order_id"], []).append(want)
    for order in query(warehouse, "select * from fact_orders"):
        rate = rate_for(rates, order["currency"], order["order_date"])
        parts = by_order.get(order["order_id"])
        if parts is None:
            want = to_usd(Decimal(0), rate)
        else:
            want = None if None in parts else sum(parts, Decimal(0))
        assert order["net_amount_usd"] == want, order
        if order["currency"] == "USD":
            assert order["net_amount_usd"] == order["net_amount"], order
        if want is None:
            missing.add(("fact_orders", order["currency"], order["order_date"]))
    for payment in query(warehouse, "select * from fact_payments"):
        rate = rate_for(rates, payment["currency"], payment["payment_date"])
        assert payment["amount_usd"] == to_usd(payment["amount"], rate), payment
        if rate is None:
            missing.add(("fact_payments", payment["currency"], payment["payment_date"]))
    return missing


def dashboard_rates(warehouse: Path) -> dict:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return exchange_rate_data(con)
    finally:
        con.close()


def reported_missing(warehouse: Path) -> set[tuple[str, str, date]]:
    rows = query(warehouse, "select * from main_intermediate.int_missing_exchange_rates")
    # the amount affected is the local amount of the facts without a USD value
    for r in rows:
        table, amount = (
            ("fact_orders", "net_amount")
            if r["fact"] == "fact_orders"
            else (
                "fact_payments",
                "amount",
            )
        )
        column = "order_date" if table == "fact_orders" else "payment_date"
        (want,) = query(
            warehouse,
            f"select count(*) as n, sum({amount}) as total from {table} "
            f"where currency = '{r['currency']}' and {column} = date '{r['business_date']}'",
        )
        assert (r["records"], r["amount"]) == (want["n"], want["total"]), r
    return {(r["fact"], r["currency"], r["business_date"]) for r in rows}


def test_delivered_rates_late_corrected_and_missing(fixture_lake, tmp_path):
    lake, fixture = fixture_lake  # 2026-10-01 .. 10-06, orders in USD, EUR, GBP, CAD, AUD
    warehouse = default_duckdb_path(lake)
    base = datetime(2026, 11, 1, 6, 0)  # the fixture's first ingest run
    for country, days in (("CA", (1, 4)), ("DE", (2, 3, 4, 5)), ("AU", (2,))):
        fixture.add_orders([date(2026, 10, d) for d in days], country, base, new_run=False)
    fixture.write()

    # No feed was ever delivered: the bundled demo rates convert.
    assert build(lake, tests=False, quiet=True).ok
    assert check_usd_figures(warehouse, demo_rates()) == set()
    assert dashboard_rates(warehouse) == {"source": "demo", "missing": []}

    # The first feed: EUR with a gap (10-03 .. 10-05 use 10-02's rate), GBP once, AUD
    # only 11 days before the first order, CAD not at all, a currency the shop does not
    # use. It replaces the demo rates everywhere, on the next incremental run.
    feed = [
        ("2026-10-01", "EUR", "1.1000"),
        ("2026-10-02", "EUR", "1.2000"),
        ("2026-10-06", "EUR", "1.3000"),
        ("2026-10-01", "GBP", "1.5000"),
        ("2026-09-20", "AUD", "0.7000"),
        ("2026-10-01", "JPY", "0.0067"),
    ]
    fixture.add_rates(feed, ingested_at=datetime(2026, 11, 1, 18, 0))
    fixture.write()
    assert build(lake, tests=False, quiet=True).ok
    rates = {(c, date.fromisoformat(d)): Decimal(r) for d, c, r in feed}
    missing = check_usd_figures(warehouse, rates)
    assert {c for _, c, _ in missing} == {"CAD", "AUD"}
    assert ("fact_orders", "CAD", date(2026, 10, 4)) in missing
    assert reported_missing(warehouse) == missing
    panel = dashboard_rates(warehouse)
    assert panel["source"] == "feed"
    assert {(f, c, date.fromisoformat(d)) for f, c, d, _, _ in panel["missing"]} == missing
    revenue_before = duckdb_rows(warehouse, "agg_daily_revenue")

    # Later: EUR of 10-02 corrected, CAD of 10-03 delivered late; then the next ingest
    # run of orders (a new day, late lines, status changes).
    fix = [("2026-10-02", "EUR", "1.2500"), ("2026-10-03", "CAD", "0.7500")]
    fixture.add_rates(fix, ingested_at=datetime(2026, 11, 2, 5, 0))
    fixture.add_increment(ingested_at=datetime(2026, 11, 2, 6, 0))
    fixture.write()
    result = build(lake, quiet=True)
    assert result.ok
    rates.update({(c, date.fromisoformat(d)): Decimal(r) for d, c, r in fix})
    missing = check_usd_figures(warehouse, rates)
    assert {c for _, c, _ in missing} == {"CAD", "AUD"}
    assert ("fact_orders", "CAD", date(2026, 10, 1)) in missing  # before the late rate
    assert not any(c == "CAD" and d >= date(2026, 10, 3) for _, c, d in missing)
    assert reported_missing(warehouse) == missing
    # the warning test names them; nothing fails
    assert any(MISSING_RATE_TEST in w for w in result.warnings), result.warnings
    # the corrected days are repriced in gold too
    revenue_after = duckdb_rows(warehouse, "agg_daily_revenue")
    changed_days = {r[0] for r in set(revenue_after) - set(revenue_before)}
    eur_days = {
        r["order_date"]
        for r in query(warehouse, "select * from fact_orders")
        if r["currency"] == "EUR"
        and r["status"] not in ("cancelled", "returned")
        and date(2026, 10, 2) <= r["order_date"] <= date(2026, 10, 5)
    }
    assert eur_days
    assert eur_days <= changed_days

    # incremental == full refresh
    rebuilt = tmp_path / "full_refresh.duckdb"
    assert build(lake, duckdb_path=rebuilt, full_refresh=True, tests=False, quiet=True).ok
    for table in FACTS + GOLD + DIMENSIONS:
        assert duckdb_rows(warehouse, table) == duckdb_rows(rebuilt, table), table


def test_decades_of_history_usd_shop_without_rates(tmp_path, postgres_db):
    """A USD shop loading its history: orders from 1970 and every year from 1992 to today,
    one in 2035, no rates file ever. Builds green on DuckDB and PostgreSQL, USD amounts
    are the local amounts, dim_date covers every fact's date; a later load of two EUR
    orders converts the one the demo rates cover and reports the other."""
    fixture = SilverFixture(tmp_path / "lake").build_base(date(1992, 1, 1), days=0)
    days = [date(1970, 1, 1), *(date(y, 6, 15) for y in range(1992, 2027)), date(2035, 12, 31)]
    days.append(date.today())
    fixture.add_orders(days, "US", datetime(2026, 11, 1, 6, 0), new_run=False)
    fixture.write()
    lake = Lake.at(tmp_path / "lake")
    assert not (tmp_path / "lake" / "silver" / "exchange_rates").exists()

    duck = build(lake, quiet=True)
    assert duck.ok
    assert not any(MISSING_RATE_TEST in w for w in duck.warnings), duck.warnings
    warehouse = default_duckdb_path(lake)
    assert check_usd_figures(warehouse, {}) == set()
    assert dashboard_rates(warehouse) == {"source": None, "missing": []}
    fact_days = set()
    for table, column in (
        ("fact_orders", "order_date"),
        ("sales_fact", "cast(sold_at as date)"),
        ("fact_payments", "payment_date"),
        ("fact_clicks", "cast(event_time as date)"),
    ):
        fact_days |= {r["d"] for r in query(warehouse, f"select {column} as d from {table}")}
    assert min(fact_days) <= date(1970, 1, 1)
    assert max(fact_days) == date(2035, 12, 31)
    calendar = [r["date_day"] for r in query(warehouse, "select * from dim_date order by 1")]
    assert calendar[0] == min(fact_days)
    assert calendar[-1] >= date(2035, 12, 31) + timedelta(days=366)  # the horizon
    assert len(calendar) == (calendar[-1] - calendar[0]).days + 1  # no day missing
    assert fact_days <= set(calendar)

    pg = build(lake, target="postgres", postgres_dsn=postgres_db, quiet=True)
    assert pg.ok
    assert not any(MISSING_RATE_TEST in w for w in pg.warnings), pg.warnings
    with psycopg.connect(postgres_db) as conn:
        pg_calendar = conn.execute(
            "select min(date_day), max(date_day), count(*) from analytics.dim_date"
        ).fetchone()
        differing = conn.execute(
            "select count(*) from analytics.fact_orders "
            "where net_amount_usd is distinct from net_amount"
        ).fetchone()[0]
    assert pg_calendar == (calendar[0], calendar[-1], len(calendar))
    assert differing == 0

    # Two EUR orders arrive: 2021 is covered by the demo rates, 1995 is not.
    fixture.add_orders([date(1995, 3, 1), date(2021, 3, 1)], "DE", datetime(2026, 11, 2, 6, 0))
    fixture.write()
    later = build(lake, quiet=True)
    assert later.ok
    assert any(MISSING_RATE_TEST in w for w in later.warnings), later.warnings
    missing = check_usd_figures(warehouse, demo_rates())
    assert ("fact_orders", "EUR", date(1995, 3, 1)) in missing
    assert not any(d.year == 2021 for _, _, d in missing)
    assert reported_missing(warehouse) == missing
