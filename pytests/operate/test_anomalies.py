"""The anomaly tests (tests/generic/volume_anomaly.sql, quarantine_rate_anomaly.sql,
business_time_freshness.sql) on the generated, built lake: the normal lake trips no
volume or quarantine anomaly; on a copy of it (faults_kit.py), a volume drop injected
into the last day's orders and a spike of that day's orders rejection rate in the run
history do, and warn (never fail) with the day and figures as their stored rows, while
the untouched facts and datasets trip nothing in the same run.
"""

from __future__ import annotations

import duckdb
import pytest
from faults_kit import NORMAL_RATE, FaultyLake


def stored(faulty: FaultyLake, relation: str) -> list[tuple]:
    with duckdb.connect(str(faulty.warehouse), read_only=True) as con:
        return con.execute(f"select * from {relation}").fetchall()


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
    faulty_lake: FaultyLake, built_lake
) -> None:
    results, last, days = faulty_lake.results, built_lake.last_day, faulty_lake.days
    before, after = faulty_lake.last_day_orders
    assert after < before / 2

    volume = results["volume_anomaly_fact_orders_order_date"]
    assert volume["status"] == "warn"
    [(day, rows, median, history_days, _band)] = stored(faulty_lake, volume["relation_name"])
    assert (day, rows, history_days) == (last, after, days - 1)
    earlier = faulty_lake.earlier_day_orders
    assert len(earlier) == 3  # an odd number of earlier days: the median is the middle one
    assert median == earlier[1]
    # the other facts (the dropped orders' lines are still there) are normal
    for other in ("sales_fact_sold_at", "fact_payments_payment_date", "fact_clicks_event_time"):
        assert results[f"volume_anomaly_{other}"]["status"] == "pass", other

    [quarantine] = [v for k, v in results.items() if "quarantine_rate_anomaly" in k]
    assert quarantine["status"] == "warn"
    # only orders: every other dataset kept its normal rate
    [(dataset, run_day, read, quarantined, rate, median_rate, n)] = stored(
        faulty_lake, quarantine["relation_name"]
    )
    assert (dataset, run_day, n) == ("orders", last, days - 1)
    assert rate == pytest.approx(quarantined / read)
    assert rate > 0.25
    assert median_rate == pytest.approx(NORMAL_RATE, abs=0.005)
    # anomalies warn: they never fail a build
    anomalies = [v for k, v in results.items() if "anomaly" in k or "freshness" in k]
    assert {v["status"] for v in anomalies} == {"pass", "warn"}
