"""The anomaly tests (tests/generic/volume_anomaly.sql, quarantine_rate_anomaly.sql,
business_time_freshness.sql) on the generated, built lake: the normal lake trips no
volume or quarantine anomaly; on a copy of it, a volume drop injected into one day's
orders (rows deleted from fact_orders) and a spike of one day's rejection rate in the
run history (runs recorded with shoplake.history) do, and warn (never fail) with the day
and figures as their stored rows.

The generated lake spans four days (Monday to Thursday), too short for the same weekday
of earlier weeks: the injected run compares consecutive days (anomaly_period_days = 1),
the one knob the production default (7) changes.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import duckdb
import pytest

from shoplake import history
from shoplake.lake import Lake
from shoplake.warehouse import run_dbt

ANOMALY_TESTS = (
    "test_name:volume_anomaly test_name:quarantine_rate_anomaly test_name:business_time_freshness"
)
DAILY = {"anomaly_period_days": 1}


def anomaly_run(lake: Lake) -> dict[str, dict]:
    """`dbt test` of the anomaly tests on the lake's warehouse: result per test name."""
    run = run_dbt(
        ["test", "--select", ANOMALY_TESTS, "--vars", json.dumps(DAILY)], lake, quiet=True
    )
    assert run.success, run.output[-2000:]
    return {n["unique_id"].split(".")[2]: n for n in run.run_results()["results"]}


def stored(lake: Lake, relation: str) -> list[tuple]:
    with duckdb.connect(str(lake.root / "warehouse.duckdb"), read_only=True) as con:
        return con.execute(f"select * from {relation}").fetchall()


def record_ingest_history(lake: Lake, built_lake, rates: dict[str, list[float]]) -> None:
    """One recorded run per business day of the lake, each ingesting one day's share of
    the records read, with the given quarantine rate per dataset and day."""
    first = datetime.combine(built_lake.first_day, datetime.min.time()) + timedelta(hours=2)
    days = (built_lake.last_day - built_lake.first_day).days + 1
    for day in range(days):
        started = first + timedelta(days=day)
        datasets = []
        for name, read in built_lake.ingest_read.items():
            per_day = read // days
            quarantined = round(per_day * rates.get(name, [0.01] * days)[day])
            datasets.append(
                history.DatasetRecord(name, 1, per_day, per_day - quarantined, quarantined, 0)
            )
        history.record_duckdb(
            history.RunRecord(
                run_id=f"r{day}",
                started_at=started,
                target="dev",
                lake=lake.url(),
                status="success",
                datasets=datasets,
            ),
            lake.root / "warehouse.duckdb",
        )


def test_the_built_lake_tripped_no_anomaly(built_lake) -> None:
    """The fixture's own `dbt build` ran every anomaly test on the normal lake: each
    stored its failing rows (none) in the audit schema."""
    with duckdb.connect(str(built_lake.warehouse), read_only=True) as con:
        stored_rows = {
            name: con.execute(f'select count(*) from main_audit."{name}"').fetchall()[0][0]
            for (name,) in con.execute(
                "select table_name from information_schema.tables "
                "where table_schema = 'main_audit' and (table_name like '%anomaly%' "
                "or table_name like 'business_time_freshness%')"
            ).fetchall()
        }
    volume = {k: v for k, v in stored_rows.items() if k.startswith("volume_anomaly_")}
    assert volume == {
        "volume_anomaly_fact_orders_order_date": 0,
        "volume_anomaly_sales_fact_sold_at": 0,
        "volume_anomaly_fact_payments_payment_date": 0,
        "volume_anomaly_fact_clicks_event_time": 0,
    }
    # no run history yet: nothing to compare
    assert [v for k, v in stored_rows.items() if "quarantine_rate_anomaly" in k] == [0]
    # the generated lake is weeks old: its newest order and click are far past the SLA
    assert [v for k, v in stored_rows.items() if k.startswith("business_time_freshness")] == [
        1,
        1,
    ]


def test_a_volume_drop_and_a_rejection_spike_trip_the_anomaly_tests(
    lake_copy: Lake, built_lake
) -> None:
    """One day's orders drop and its orders rejection rate jumps; every other fact and
    dataset, with a normal history, trips nothing in the same run."""
    last = built_lake.last_day
    with duckdb.connect(str(lake_copy.root / "warehouse.duckdb")) as con:
        [(before,)] = con.execute(
            "select count(*) from main.fact_orders where order_date = ?", [last]
        ).fetchall()
        earlier = sorted(
            n
            for (n,) in con.execute(
                "select count(*) from main.fact_orders where order_date < ? group by order_date",
                [last],
            ).fetchall()
        )
        # two orders in three of the last day never arrive
        con.execute(
            "delete from main.fact_orders where order_date = ? and hash(order_id) % 3 <> 0",
            [last],
        ).fetchall()
        [(after,)] = con.execute(
            "select count(*) from main.fact_orders where order_date = ?", [last]
        ).fetchall()
    assert after < before / 2
    days = (last - built_lake.first_day).days + 1
    record_ingest_history(lake_copy, built_lake, {"orders": [0.01] * (days - 1) + [0.30]})

    results = anomaly_run(lake_copy)
    volume = results["volume_anomaly_fact_orders_order_date"]
    assert volume["status"] == "warn"
    [(day, rows, median, history_days, _band)] = stored(lake_copy, volume["relation_name"])
    assert (day, rows, history_days) == (last, after, days - 1)
    assert len(earlier) == 3  # an odd number of earlier days: the median is the middle one
    assert median == earlier[1]
    # the other facts (the dropped orders' lines are still there) are normal
    for other in ("sales_fact_sold_at", "fact_payments_payment_date", "fact_clicks_event_time"):
        assert results[f"volume_anomaly_{other}"]["status"] == "pass", other

    [quarantine] = [v for k, v in results.items() if "quarantine_rate_anomaly" in k]
    assert quarantine["status"] == "warn"
    # only orders: every other dataset kept its 1% rate
    [(dataset, run_day, read, quarantined, rate, median_rate, n)] = stored(
        lake_copy, quarantine["relation_name"]
    )
    assert (dataset, run_day, n) == ("orders", last, days - 1)
    assert rate == pytest.approx(quarantined / read)
    assert rate > 0.25
    assert median_rate == pytest.approx(0.01, abs=0.005)
