"""Failures you can open: a deliberately broken fact row (faults_kit.py) fails its dbt
test, the failing row is stored in the audit schema, the run history links the failed
test to it with its first rows, and the dashboard's quality panel and `shoplake status
--tests` show it."""

from __future__ import annotations

import json
import shutil
from datetime import datetime
from pathlib import Path

import duckdb
from browser import chromium, open_page
from cli_kit import run_shoplake
from faults_kit import FaultyLake

from shoplake import history
from shoplake.audit import stored_failures
from shoplake.dashboard import write_dashboard
from shoplake.lake import Lake

BROKEN_TEST = "expression_is_true_fact_orders_gross_amount_discount_amount_net_amount"


def test_a_broken_fact_row_is_stored_linked_and_shown(
    faulty_lake: FaultyLake, tmp_path: Path
) -> None:
    order_id = faulty_lake.broken_order
    results = faulty_lake.run_results
    # the broken row fails its expression test (severity error); fact_orders' other
    # expression test passes
    expressions = {
        k: v["status"] for k, v in faulty_lake.results.items() if k.startswith("expression_is_true")
    }
    assert len(expressions) == 2
    assert [k for k, status in expressions.items() if status == "fail"] == [BROKEN_TEST]

    # the failing row is in the audit schema, as dbt stored it
    relation = faulty_lake.results[BROKEN_TEST]["relation_name"]
    assert '"main_audit"' in relation
    with duckdb.connect(str(faulty_lake.warehouse), read_only=True) as con:
        assert [r[0] for r in con.execute(f"select order_id from {relation}").fetchall()] == [
            order_id
        ]

    # the run history links the failed test to its stored row
    lake = Lake.at(tmp_path / "lake")
    shutil.copytree(faulty_lake.lake.root, lake.root)
    warehouse = lake.root / "warehouse.duckdb"
    samples = stored_failures(results, "dev", duckdb_path=warehouse)
    [sample] = [s for s in samples if s.name == BROKEN_TEST]
    assert sample.relation == relation
    assert sample.stored_rows == 1
    rows = json.loads(sample.sample)
    assert rows["rows"][0][rows["columns"].index("order_id")] == order_id
    # the tripped anomalies are linked to their rows too
    assert {"volume_anomaly_fact_orders_order_date"} <= {s.name for s in samples}
    record = history.RunRecord(
        run_id="run-broken",
        started_at=datetime(2026, 11, 3, 2, 0),
        target="dev",
        lake=lake.url(),
        status="failed",
        failed_step="build",
        tests=history.tests_from_run_results(results),
        failure_samples=samples,
    )
    history.record_duckdb(record, warehouse)

    # the dashboard's quality panel shows it, and marks the anomalies
    page = write_dashboard(lake)
    with chromium() as browser, open_page(browser, page.as_uri()) as (tab, check):
        shown = tab.inner_text("#quality-failures")
        assert BROKEN_TEST in shown
        assert order_id in shown
        assert relation.replace('"', "") in shown.replace('"', "")
        assert "anomaly" in tab.inner_text(
            "#quality-failures .failure:has(code:text-is('volume_anomaly_fact_orders_order_date'))"
        )
    assert not check.problems, check.problems

    # and `shoplake status --tests` lists it with its first row
    out = run_shoplake("status", "--tests", "--lake", str(lake.root))
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
