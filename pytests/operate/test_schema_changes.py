"""Schema changes in delivered files (tests/generic/schema_change_anomaly.sql): ingest
records, per run and dataset, the columns its files delivered that the contract does not
have and the optional contract columns they lacked (``shoplake_ops.run_schema_changes``);
the anomaly test warns when the latest run of a dataset saw such a change that its
earlier runs did not.

The raw files are written by hand: every field of the contract (its names from
``shoplake.contract``, the values below), then the same files with one column more or
one optional column less. Every run is the real ``shoplake run --to ingest`` in a child
process, and the anomaly test runs with dbt on the warehouse it recorded its history in.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import duckdb
from run_kit import shoplake

from shoplake.contract import CLICKSTREAM, CUSTOMERS, ORDERS, PRODUCTS, SALES, Dataset, Kind
from shoplake.dashboard.quality import history_data
from shoplake.lake import Lake
from shoplake.warehouse import run_dbt

SELECT = ["test", "--select", "test_name:schema_change_anomaly"]
DAY = "2026/11/20"

#: A valid raw value of each kind (ids get the record's number appended).
VALUES: dict[Kind, Any] = {
    Kind.ID: "X",
    Kind.TEXT: "text",
    Kind.TIMESTAMP: "2026-11-20T10:00:00Z",
    Kind.AMOUNT: "12.50",
    Kind.INTEGER: "2",
    Kind.BOOLEAN: "true",
    Kind.CURRENCY: "EUR",
    Kind.COUNTRY: "PT",
    Kind.JSON: {"product_id": "P1"},
}


def record(ds: Dataset, n: int, drop: str = "", **extra: Any) -> dict[str, Any]:
    """A valid record of ``ds`` with every contract field (raw names), but ``drop``."""
    out: dict[str, Any] = {}
    for f in ds.fields:
        if f.raw_name == drop:
            continue
        value = f.values[0] if f.kind is Kind.ENUM else VALUES[f.kind]
        out[f.raw_name] = f"{value}{n}" if f.kind is Kind.ID else value
    return {**out, **extra}


def csv_file(rows: list[dict[str, Any]]) -> str:
    header = list(rows[0])
    lines = [",".join(header)] + [",".join(str(r[h]) for h in header) for r in rows]
    return "\n".join(lines) + "\n"


def customers_page(rows: list[dict[str, Any]]) -> str:
    nested = []
    for r in rows:
        top = {k: v for k, v in r.items() if "." not in k}
        address = {k.split(".", 1)[1]: v for k, v in r.items() if k.startswith("address.")}
        nested.append({**top, "address": address})
    return json.dumps({"customers": nested})


def ndjson(rows: list[dict[str, Any]]) -> str:
    return "".join(json.dumps(r) + "\n" for r in rows)


def deliver(lake_root: Path, tag: str, files: dict[str, str]) -> None:
    for dataset, text in files.items():
        hour = "/10" if dataset == "clickstream" else ""
        suffix = "json" if dataset in ("customers", "clickstream") else "csv"
        path = lake_root / "raw" / dataset / f"{DAY}{hour}" / f"{dataset}_{tag}.{suffix}"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def ingest_run(lake: Lake) -> str:
    result = shoplake("run", "--lake", str(lake.root), "--to", "ingest")
    assert result.returncode == 0, result.stderr
    [(run_id,)] = ops(lake, "select run_id from shoplake_ops.runs order by started_at desc limit 1")
    return run_id


def ops(lake: Lake, sql: str) -> list[tuple]:
    with duckdb.connect(str(lake.root / "warehouse.duckdb"), read_only=True) as con:
        return con.execute(sql).fetchall()


def anomaly(lake: Lake) -> tuple[str, list[tuple]]:
    """The test's status and its stored rows (without the run's start time)."""
    run = run_dbt(SELECT, lake, quiet=True)
    results = run.run_results()
    assert results, run.output[-2000:]
    [node] = results["results"]
    rows = ops(
        lake,
        "select dataset, run_id, kind, column_name, files, earlier_runs "
        f"from {node['relation_name']} order by dataset, kind, column_name",
    )
    return node["status"], rows


def normal_files(n: int) -> dict[str, str]:
    return {
        "orders": csv_file([record(ORDERS, n)]),
        "sales": csv_file([record(SALES, n)]),
        "customers": customers_page([record(CUSTOMERS, n)]),
        "clickstream": ndjson([record(CLICKSTREAM, n)]),
    }


def test_added_and_vanished_columns_are_recorded_and_trip_the_anomaly_once(
    tmp_path: Path,
) -> None:
    root = tmp_path / "lake"
    lake = Lake.at(root)

    # run 1: files with exactly the contract's columns: nothing changed, nothing to warn
    deliver(root, "a", normal_files(1))
    first = ingest_run(lake)
    assert ops(lake, "select count(*) from shoplake_ops.run_schema_changes") == [(0,)]
    assert anomaly(lake) == ("pass", [])

    # run 2: an orders file with a column the contract lacks (and a normal one), a sales
    # file without the optional discount_amount, a customers page whose records lack
    # marketing_opt_in and carry an unknown nested address.floor, clicks with a referrer
    # and without ip; and the first products file ever, with a column the contract lacks
    deliver(
        root,
        "b",
        {
            "orders": csv_file([record(ORDERS, 2, loyalty_tier="gold")]),
            "sales": csv_file([record(SALES, 2, drop="discount_amount")]),
            "customers": customers_page(
                [record(CUSTOMERS, 2, drop="marketing_opt_in", **{"address.floor": "3"})]
            ),
            "clickstream": ndjson([record(CLICKSTREAM, 2, drop="ip", referrer="https://x")]),
            "products": csv_file([record(PRODUCTS, 2, warehouse_bin="A1")]),
        },
    )
    deliver(root, "b2", {"orders": csv_file([record(ORDERS, 3)])})
    second = ingest_run(lake)
    assert second != first
    expected = [
        ("clickstream", second, "added", "referrer", 1, 1),
        ("clickstream", second, "vanished", "ip", 1, 1),
        ("customers", second, "added", "address.floor", 1, 1),
        ("customers", second, "vanished", "marketing_opt_in", 1, 1),
        ("orders", second, "added", "loyalty_tier", 1, 1),
        ("products", second, "added", "warehouse_bin", 1, 0),
        ("sales", second, "vanished", "discount_amount", 1, 1),
    ]
    recorded = ops(
        lake,
        "select dataset, run_id, kind, column_name, files from shoplake_ops.run_schema_changes "
        "order by dataset, kind, column_name",
    )
    assert recorded == [r[:5] for r in expected]
    # every record is still accounted for (and was written: none breaks the contract)
    assert ops(
        lake,
        "select sum(records_read), sum(written), sum(quarantined), sum(duplicates) "
        f"from shoplake_ops.run_datasets where run_id = '{second}'",
    ) == [(6, 6, 0, 0)]
    # products' first run is the baseline (no earlier run to compare with): recorded, not
    # an anomaly; every other change is new
    assert anomaly(lake) == ("warn", [r for r in expected if r[0] != "products"])

    # the dashboard's quality panel shows the newest run's schema changes
    with duckdb.connect(str(root / "warehouse.duckdb"), read_only=True) as con:
        panel = history_data(con)["schema_changes"]
    assert panel["run_id"] == second
    assert [tuple(r) for r in panel["rows"]] == [(d, k, c, f) for d, _, k, c, f, _ in expected]

    # run 3: orders again with loyalty_tier: a change already seen is not new; the other
    # datasets read no file this run, so their latest run is still run 2 and still warns
    deliver(root, "c", {"orders": csv_file([record(ORDERS, 4, loyalty_tier="silver")])})
    ingest_run(lake)
    status, rows = anomaly(lake)
    assert status == "warn"
    assert [r for r in rows if r[0] == "orders"] == []
    assert rows == [r for r in expected if r[0] not in ("orders", "products")]

    # run 4: every dataset delivers contract-shaped files again: nothing to warn
    deliver(root, "d", normal_files(5))
    ingest_run(lake)
    assert anomaly(lake) == ("pass", [])
