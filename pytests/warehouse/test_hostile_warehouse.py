"""The warehouse under hostile and unlucky input (issue 9): rows 2, 6, 8, 13 and 17.

Each check reproduces the reported failure through ``shoplake.warehouse.build`` (what
``shoplake build`` runs) and states the expected figures from the input, computed here.
"""

from __future__ import annotations

import csv
import hashlib
import json
from datetime import date, datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import duckdb
import pytest
from silver_fixture import SilverFixture

from shoplake.ingest import run_ingest
from shoplake.lake import Lake
from shoplake.landing import land
from shoplake.warehouse import (
    artifacts_dir,
    build,
    default_duckdb_path,
    docs_generate,
    project_dir,
)

SALT_MARKER = "SALT-MARKER-7f3a"
CENTS = Decimal("0.01")


def _query(warehouse: Path, sql: str) -> list[tuple]:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def _rates() -> dict[tuple[str, str], Decimal]:
    """(rate month, currency) -> USD per unit, from the project's demo rates (the fixture
    lake has no rates feed: they convert, each for every day of its month)."""
    with open(project_dir() / "seeds" / "demo_exchange_rates.csv", newline="") as f:
        return {
            (r["rate_month"], r["currency"]): Decimal(r["usd_per_unit"]) for r in csv.DictReader(f)
        }


def _usd(amount: Decimal, currency: str, day: date, rates) -> Decimal:
    rate = rates[(f"{day:%Y-%m}-01", currency)]
    return (amount * rate).quantize(CENTS, rounding=ROUND_HALF_UP)


# ----------------------------------------------------------------------------- row 2
def test_email_salt_reaches_no_artifact(fixture_lake, monkeypatch):
    lake, fixture = fixture_lake
    monkeypatch.setenv("SHOPLAKE_EMAIL_SALT", SALT_MARKER)
    assert build(lake, tests=False, quiet=True).ok  # (no test renders the salt)
    docs = docs_generate(lake, quiet=True)  # what `shoplake serve` serves
    assert (docs / "index.html").is_file()

    # Every file of the lake: silver, state, dbt's target/ (compiled, run, manifest,
    # run_results, catalog, partial-parse state) and logs/, and warehouse.duckdb itself.
    files = [p for p in lake.root.rglob("*") if p.is_file()]
    assert any(p.name == "dbt.log" for p in files)
    assert any(p.name == "manifest.json" for p in files)
    assert default_duckdb_path(lake) in files
    leaked = [str(p) for p in files if SALT_MARKER.encode() in p.read_bytes()]
    assert not leaked, f"the salt is in {leaked}"
    definitions = _query(
        default_duckdb_path(lake),
        "select sql from duckdb_views() where sql is not null"
        " union all select sql from duckdb_tables() where sql is not null",
    )
    assert definitions
    assert not [d for (d,) in definitions if SALT_MARKER in d]

    # ... and the hashes are the salted ones.
    emails = {r["customer_id"]: r["email"] for r in fixture.rows["customers"]}
    want = {
        cid: hashlib.sha256((SALT_MARKER + email.strip().lower()).encode()).hexdigest()
        for cid, email in emails.items()
    }
    got = dict(
        _query(
            default_duckdb_path(lake),
            "select customer_id, email_hash from dim_customers where not is_inferred",
        )
    )
    assert got == want


# ----------------------------------------------------------------------------- row 6
def test_amounts_at_the_contract_bounds_build_exactly(fixture_lake):
    """qty 1,000,000 x 999,999.99 and 1 x 999,999,999,999.99 (the contract's bounds):
    `Overflow in multiplication of DECIMAL(18)` before; exact figures now."""
    lake, fixture = fixture_lake
    orders = {o["order_id"]: o for o in fixture.orders}
    eur = [s for s in fixture.rows["sales"] if orders[s["order_id"]]["currency"] == "EUR"]
    big_quantity, big_price = eur[0], next(s for s in eur if s["order_id"] != eur[0]["order_id"])
    big_quantity.update(quantity=1_000_000, unit_price=Decimal("999999.99"), discount_amount=0)
    big_price.update(quantity=1, unit_price=Decimal("999999999999.99"), discount_amount=0)
    fixture.write()
    assert build(lake, quiet=True).ok

    rates = _rates()
    warehouse = default_duckdb_path(lake)
    for sale, total in ((big_quantity, "999999990000.00"), (big_price, "999999999999.99")):
        got = _query(
            warehouse,
            "select total_amount, total_amount_usd from sales_fact"
            f" where sale_id = '{sale['sale_id']}'",
        )
        usd = _usd(Decimal(total), "EUR", sale["sold_at"].date(), rates)
        assert got == [(Decimal(total), usd)]
        # The order adds up its lines exactly, in the order currency and in USD.
        lines = [s for s in fixture.rows["sales"] if s["order_id"] == sale["order_id"]]
        gross = sum(Decimal(s["quantity"]) * s["unit_price"] for s in lines)
        net = gross - sum(Decimal(s["discount_amount"]) for s in lines)
        net_usd = sum(
            _usd(
                Decimal(s["quantity"]) * s["unit_price"] - Decimal(s["discount_amount"]),
                "EUR",
                s["sold_at"].date(),
                rates,
            )
            for s in lines
        )
        assert _query(
            warehouse,
            "select gross_amount, net_amount, net_amount_usd from fact_orders"
            f" where order_id = '{sale['order_id']}'",
        ) == [(gross, net, net_usd)]


# ------------------------------------------------------------------------- rows 13, 17
def _silver_keys(lake: Lake, dataset: str, key: str) -> set:
    glob = str(lake.root / "silver" / dataset / "**" / "*.parquet")
    con = duckdb.connect()
    try:
        return {
            r[0]
            for r in con.execute(f"select distinct {key} from read_parquet(?)", [glob]).fetchall()
        }
    finally:
        con.close()


def _assert_facts_hold_every_silver_record(lake: Lake) -> None:
    warehouse = default_duckdb_path(lake)
    for fact, dataset, key in (
        ("fact_orders", "orders", "order_id"),
        ("sales_fact", "sales", "sale_id"),
        ("fact_payments", "payments", "payment_id"),
        ("fact_clicks", "clickstream", "click_id"),
    ):
        silver = _silver_keys(lake, dataset, key)
        in_fact = [r[0] for r in _query(warehouse, f"select {key} from {fact}")]
        assert len(in_fact) == len(set(in_fact)), f"{fact}: duplicate rows"
        assert set(in_fact) == silver, (
            f"{fact}: {len(silver - set(in_fact))} silver records missing"
        )


def _assert_money_adds_up(lake: Lake) -> None:
    warehouse = default_duckdb_path(lake)
    ((orders_usd, lines_usd, gold_usd, revenue_usd),) = _query(
        warehouse,
        """select
            (select sum(net_amount_usd) from fact_orders),
            (select sum(total_amount_usd) from sales_fact),
            (select sum(revenue_usd) from agg_daily_revenue),
            (select sum(net_amount_usd) from fact_orders
             where status not in ('cancelled', 'returned'))""",
    )
    assert orders_usd == lines_usd, f"fact_orders {orders_usd} != sales_fact {lines_usd}"
    assert gold_usd == revenue_usd
    per_order = _query(
        warehouse,
        """select o.order_id from fact_orders as o
        inner join (select order_id, sum(total_amount_usd) as usd from sales_fact group by 1) as s
            on o.order_id = s.order_id
        where o.net_amount_usd != s.usd""",
    )
    assert per_order == []


def test_ingest_clock_behind_the_previous_run_loses_nothing(generated_raw, tmp_path):
    """Row 13: the second ingest's clock runs 5 h behind the first's. Row 17: on this
    generated (demo) lake, orders and lines agree in USD to the cent, and gold with them."""
    lake = Lake.at(tmp_path / "lake")
    first_day = date(2026, 10, 3)
    first_run = datetime(2026, 12, 1, 6, 0, tzinfo=timezone.utc)
    assert land(generated_raw, lake, before=first_day) > 0
    assert run_ingest(lake, now=first_run).balanced
    assert build(lake, tests=False, quiet=True).ok

    assert land(generated_raw, lake) > 0
    assert run_ingest(lake, now=first_run - timedelta(hours=5)).balanced
    assert run_ingest(lake, now=first_run).balanced  # nothing new: no batch number used
    sequence = json.loads((lake.root / "_state" / "ingest" / "sequence.json").read_text())
    assert sequence == {"ingest_seq": 2}
    con = duckdb.connect()
    batches = con.execute(
        "select ingest_seq, min(ingested_at), max(ingested_at) from read_parquet(?)"
        " group by 1 order by 1",
        [str(lake.root / "silver" / "orders" / "**" / "*.parquet")],
    ).fetchall()
    con.close()
    assert [b[0] for b in batches] == [1, 2]
    assert batches[1][2] < batches[0][1], "the second batch is not 'older' by the clock"

    assert build(lake, quiet=True).ok  # with its data tests
    _assert_facts_hold_every_silver_record(lake)
    _assert_money_adds_up(lake)

    # A fact that fell behind the lake (here: rows lost) is repaired by the next plain
    # incremental build, without --full-refresh.
    con = duckdb.connect(str(default_duckdb_path(lake)))
    for fact, key in (
        ("fact_orders", "order_id"),
        ("sales_fact", "sale_id"),
        ("fact_clicks", "click_id"),
        ("fact_payments", "payment_id"),
    ):
        con.execute(
            f"delete from {fact} where {key} in (select {key} from {fact} order by {key} limit 5)"
        )
    con.close()
    log = artifacts_dir(lake) / "logs" / "dbt.log"
    notices_before = log.read_text("utf-8").count("is behind the lake")
    assert build(lake, quiet=True).ok
    _assert_facts_hold_every_silver_record(lake)
    _assert_money_adds_up(lake)
    # ... and the build said so, once per fact.
    assert log.read_text("utf-8").count("is behind the lake") - notices_before >= 4


# ----------------------------------------------------------------------------- row 8
@pytest.mark.parametrize("name", ["it's [a] lake '||' x"])
def test_lake_path_with_quotes_and_brackets_reads_its_own_data(tmp_path, name):
    """The lake's path is data: quotes do not end the SQL literal, `'||'` does not splice
    another path in, `[a]` is not a glob class matching the decoy `it's a lake '||' x`."""
    fixture = SilverFixture(tmp_path / name).build_base(date(2026, 10, 1), days=3)
    fixture.write()
    decoy = SilverFixture(tmp_path / name.replace("[a]", "a"), seed=8)
    decoy.build_base(date(2026, 10, 1), days=1, orders_per_day=2).write()
    lake = Lake.at(tmp_path / name)
    assert build(lake, tests=False, quiet=True).ok

    warehouse = default_duckdb_path(lake)
    assert warehouse.parent == tmp_path / name
    got = {r[0] for r in _query(warehouse, "select order_id from fact_orders")}
    assert got == {o["order_id"] for o in fixture.orders}
    assert len(got) > len(decoy.orders)
