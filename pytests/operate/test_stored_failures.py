"""Failures you can open: a deliberately broken fact row fails its dbt test, the failing
row is stored in the audit schema, the run history links the failed test to it with its
first rows, and the dashboard's quality panel and `shoplake status --tests` show it."""

from __future__ import annotations

import json
from datetime import datetime

import duckdb
from browser import chromium, open_page
from cli_kit import run_shoplake

from shoplake import history
from shoplake.audit import stored_failures
from shoplake.dashboard import write_dashboard
from shoplake.lake import Lake
from shoplake.warehouse import run_dbt

BROKEN_TEST = "expression_is_true_fact_orders_gross_amount_discount_amount_net_amount"


def break_one_order(lake: Lake) -> str:
    """One order whose net amount no longer equals gross minus discount; its id."""
    with duckdb.connect(str(lake.root / "warehouse.duckdb")) as con:
        [(order_id,)] = con.execute(
            "select min(order_id) from main.fact_orders where gross_amount > 0"
        ).fetchall()
        con.execute(
            "update main.fact_orders set net_amount = net_amount + 1 where order_id = ?",
            [order_id],
        ).fetchall()
    return order_id


def test_a_broken_fact_row_is_stored_linked_and_shown(lake_copy: Lake) -> None:
    order_id = break_one_order(lake_copy)
    warehouse = lake_copy.root / "warehouse.duckdb"
    # the expression tests of fact_orders (all of fact_orders' tests would do, slower)
    run = run_dbt(
        ["test", "--select", "fact_orders,test_name:expression_is_true"], lake_copy, quiet=True
    )
    assert not run.success  # the broken row fails a test of severity error
    results = run.run_results()
    assert len(results["results"]) == 2
    failed = [n for n in results["results"] if n["status"] == "fail"]
    assert [n["unique_id"].split(".")[2] for n in failed] == [BROKEN_TEST]

    # the failing row is in the audit schema, as dbt stored it
    relation = failed[0]["relation_name"]
    assert '"main_audit"' in relation
    with duckdb.connect(str(warehouse), read_only=True) as con:
        assert [r[0] for r in con.execute(f"select order_id from {relation}").fetchall()] == [
            order_id
        ]

    # the run history links the failed test to its stored row
    samples = stored_failures(results, "dev", duckdb_path=warehouse)
    [sample] = [s for s in samples if s.name == BROKEN_TEST]
    assert sample.relation == relation
    assert sample.stored_rows == 1
    rows = json.loads(sample.sample)
    assert rows["rows"][0][rows["columns"].index("order_id")] == order_id
    record = history.RunRecord(
        run_id="run-broken",
        started_at=datetime(2026, 11, 3, 2, 0),
        target="dev",
        lake=lake_copy.url(),
        status="failed",
        failed_step="build",
        tests=history.tests_from_run_results(results),
        failure_samples=samples,
    )
    history.record_duckdb(record, warehouse)

    # the dashboard's quality panel shows it
    page = write_dashboard(lake_copy)
    with chromium() as browser, open_page(browser, page.as_uri()) as (tab, check):
        shown = tab.inner_text("#quality-failures")
        assert BROKEN_TEST in shown
        assert order_id in shown
        assert relation.replace('"', "") in shown.replace('"', "")
    assert not check.problems, check.problems

    # and `shoplake status --tests` lists it with its first row
    out = run_shoplake("status", "--tests", "--lake", str(lake_copy.root))
    assert out.returncode == 0, out.stderr
    assert f"fail: {BROKEN_TEST}, 1 failing row(s), stored in {relation}" in out.stdout
    assert order_id in out.stdout


def test_status_tests_without_failures_says_so(lake_copy: Lake) -> None:
    history.record_duckdb(
        history.RunRecord(
            run_id="run-ok",
            started_at=datetime(2026, 11, 3, 2, 0),
            target="dev",
            lake=lake_copy.url(),
            status="success",
            tests=[history.TestRecord("test.shoplake.t.1", "t", "test", "pass", 0, 0.1, "")],
        ),
        lake_copy.root / "warehouse.duckdb",
    )
    out = run_shoplake("status", "--tests", "--lake", str(lake_copy.root))
    assert out.returncode == 0, out.stderr
    assert "no failing or warning tests in the newest recorded run" in out.stdout
