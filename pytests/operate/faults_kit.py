"""A copy of the built lake with faults injected, and one `dbt test` run over it.

Faults (each on the generated data, recorded so that the checks know what to expect):

* one order whose net amount no longer equals gross minus discount (a broken fact row;
  its expression test, of severity error, fails and stores the row);
* two orders in three of the last day gone from fact_orders (a volume drop);
* a run history (``shoplake.history``) of one ingest run per day with a 1% quarantine
  rate for every dataset, except orders on the last day: 30% (a rejection-rate spike).

The one `dbt test` run (the anomaly tests and fact_orders' expression tests) compares
consecutive days (anomaly_period_days = 1): the four generated days are too few for
the same weekday of earlier weeks.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import duckdb

from shoplake import history
from shoplake.lake import Lake
from shoplake.warehouse import run_dbt

SELECTION = (
    "test_name:volume_anomaly test_name:quarantine_rate_anomaly "
    "test_name:business_time_freshness fact_orders,test_name:expression_is_true"
)
DAILY = {"anomaly_period_days": 1}
NORMAL_RATE, SPIKE_RATE = 0.01, 0.30


@dataclass(frozen=True)
class FaultyLake:
    lake: Lake
    results: dict[str, dict]  # the dbt test run's results, by test name
    run_results: dict  # run_results.json of that run
    broken_order: str  # the order whose amounts no longer add up
    last_day_orders: tuple[int, int]  # (before, after) the volume drop
    earlier_day_orders: list[int]  # orders per day before the last one, sorted
    days: int

    @property
    def warehouse(self) -> Path:
        return self.lake.root / "warehouse.duckdb"


def record_ingest_history(lake: Lake, built_lake, rates: dict[str, list[float]]) -> None:
    """One recorded run per business day of the lake, each ingesting one day's share of
    the records read, with the given quarantine rate per dataset and day."""
    first = datetime.combine(built_lake.first_day, datetime.min.time()) + timedelta(hours=2)
    days = (built_lake.last_day - built_lake.first_day).days + 1
    for day in range(days):
        datasets = []
        for name, read in built_lake.ingest_read.items():
            per_day = read // days
            quarantined = round(per_day * rates.get(name, [NORMAL_RATE] * days)[day])
            datasets.append(
                history.DatasetRecord(name, 1, per_day, per_day - quarantined, quarantined, 0)
            )
        history.record_duckdb(
            history.RunRecord(
                run_id=f"r{day}",
                started_at=first + timedelta(days=day),
                target="dev",
                lake=lake.url(),
                status="success",
                datasets=datasets,
            ),
            lake.root / "warehouse.duckdb",
        )


def make_faulty_lake(built_lake, root: Path) -> FaultyLake:
    shutil.copytree(built_lake.lake.root, root)
    lake = Lake.at(root)
    last = built_lake.last_day
    days = (last - built_lake.first_day).days + 1
    with duckdb.connect(str(root / "warehouse.duckdb")) as con:
        [(broken,)] = con.execute(
            "select min(order_id) from main.fact_orders where gross_amount > 0 and order_date < ?",
            [last],
        ).fetchall()
        con.execute(
            "update main.fact_orders set net_amount = net_amount + 1 where order_id = ?",
            [broken],
        ).fetchall()
        count = "select count(*) from main.fact_orders where order_date = ?"
        [(before,)] = con.execute(count, [last]).fetchall()
        earlier = sorted(
            n
            for (n,) in con.execute(
                "select count(*) from main.fact_orders where order_date < ? group by order_date",
                [last],
            ).fetchall()
        )
        con.execute(
            "delete from main.fact_orders where order_date = ? and hash(order_id) % 3 <> 0",
            [last],
        ).fetchall()
        [(after,)] = con.execute(count, [last]).fetchall()
    record_ingest_history(lake, built_lake, {"orders": [NORMAL_RATE] * (days - 1) + [SPIKE_RATE]})
    run = run_dbt(["test", "--select", SELECTION, "--vars", json.dumps(DAILY)], lake, quiet=True)
    run_results = run.run_results()
    assert run_results, run.output[-2000:]
    return FaultyLake(
        lake=lake,
        results={n["unique_id"].split(".")[2]: n for n in run_results["results"]},
        run_results=run_results,
        broken_order=broken,
        last_day_orders=(before, after),
        earlier_day_orders=earlier,
        days=days,
    )
