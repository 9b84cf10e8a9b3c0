"""A run's status says what went wrong short of failing: ``warn`` for raw files that match
no dataset's layout and for a quarantine rate above the threshold; ``success`` only for a
run with nothing wrong; and the dashboard a run writes shows that run as it finished.

The raw zones here are written by hand (the records and their faults spelled out below),
and every run is the real ``shoplake run`` in a child process.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

import duckdb
import pytest
from cli_kit import the_error_line
from run_kit import shoplake

from shoplake.lake import Lake

ORDER_HEADER = "order_id,customer_id,order_ts,status,channel,currency,shipping_country,updated_at"


def orders_csv(good: int, bad: int) -> str:
    """``good`` valid orders, then ``bad`` ones whose status is not one of the contract's."""
    lines = [ORDER_HEADER]
    for i in range(good + bad):
        status = "placed" if i < good else "teleported"
        lines.append(f"O{i},C1,2026-11-20T10:00:00Z,{status},web,EUR,PT,2026-11-20T10:00:00Z")
    return "\n".join(lines) + "\n"


def raw_zone(root: Path, files: dict[str, str]) -> Lake:
    for relative, text in files.items():
        path = root / "raw" / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return Lake.at(root)


def ops(lake: Lake, sql: str) -> list[tuple]:
    with duckdb.connect(str(lake.root / "warehouse.duckdb"), read_only=True) as con:
        return con.execute(sql).fetchall()


def the_run(lake: Lake) -> tuple[str, str, dict[str, tuple[str, str]], dict]:
    """(run_id, status, {step: (status, detail)}, JSON record) of the lake's only run."""
    [(run_id, status)] = ops(lake, "select run_id, status from shoplake_ops.runs")
    steps = {
        step: (st, detail)
        for step, st, detail in ops(
            lake,
            "select step, status, detail from shoplake_ops.run_steps "
            f"where run_id = '{run_id}' order by position",
        )
    }
    record = json.loads(lake.state_dir("pipeline", f"{run_id}.json").read_text())
    return run_id, status, steps, record


def status_row(lake: Lake, run_id: str) -> list[str]:
    result = shoplake("status", "--lake", str(lake.root))
    assert result.returncode == 0, result.stderr
    [row] = [line.split("\t") for line in result.stdout.splitlines() if line.startswith(run_id)]
    return row


def test_unmatched_raw_files_make_the_run_warn(tmp_path: Path) -> None:
    lake = raw_zone(
        tmp_path / "lake",
        {
            "orders/2026/11/20/orders.csv": orders_csv(good=5, bad=0),
            "orders/orders.csv": orders_csv(good=2, bad=0),  # no landing-date folders
            "order/2026/11/20/orders.csv": orders_csv(good=2, bad=0),  # misspelled dataset
        },
    )
    result = shoplake("run", "--lake", str(lake.root), "--to", "ingest")
    assert result.returncode == 0, result.stderr  # a warning is not a failure

    run_id, status, steps, record = the_run(lake)
    assert status == "warn"
    ingest_status, detail = steps["ingest"]
    assert ingest_status == "warn"
    assert "2 raw files under raw/ match no dataset's layout" in detail
    assert "5 read, 5 written, 0 quarantined" in detail
    assert "quarantine rate" not in detail  # nothing was rejected
    # the run's JSON record in the lake says the same
    assert record["status"] == "warn"
    assert next(s for s in record["steps"] if s["step"] == "ingest")["detail"] == detail
    # ... and the ingest's own run log names every file
    [log] = lake.state_dir("runs").glob("*.json")
    unmatched = {f["key"] for f in json.loads(log.read_text())["unmatched_files"]}
    assert unmatched == {"raw/orders/orders.csv", "raw/order/2026/11/20/orders.csv"}
    assert status_row(lake, run_id)[2] == "warn"


def test_a_quarantine_rate_above_the_threshold_makes_the_run_warn(tmp_path: Path) -> None:
    # 47 of the 100 orders break the contract (an unknown status), the 20 payments are fine
    payments = ["payment_id,order_id,payment_ts,method,status,amount,currency"] + [
        f"Y{i},O{i},2026-11-20T10:05:00Z,card,captured,18.50,EUR" for i in range(20)
    ]
    lake = raw_zone(
        tmp_path / "lake",
        {
            "orders/2026/11/20/orders.csv": orders_csv(good=53, bad=47),
            "payments/2026/11/20/payments.csv": "\n".join(payments) + "\n",
        },
    )
    result = shoplake("run", "--lake", str(lake.root), "--to", "ingest")
    assert result.returncode == 0, result.stderr

    run_id, status, steps, record = the_run(lake)
    assert status == record["status"] == "warn"
    ingest_status, detail = steps["ingest"]
    assert ingest_status == "warn"
    assert "quarantine rate above the 1% threshold: orders 47 of 100 (47%)" in detail
    assert "payments" not in detail.split("threshold")[1]  # 0 of 20: within it
    assert "match no dataset" not in detail
    assert "orders 47 of 100 (47%)" in result.stderr  # the step's line says so too
    assert status_row(lake, run_id)[2] == "warn"


@pytest.mark.parametrize("how", ["environment", "shoplake.toml"])
def test_the_threshold_is_configurable(tmp_path: Path, how: str) -> None:
    lake = raw_zone(tmp_path / "lake", {"orders/2026/11/20/o.csv": orders_csv(good=53, bad=47)})
    env = {}
    if how == "environment":
        env["SHOPLAKE_QUARANTINE_THRESHOLD"] = "0.5"
    else:
        config = tmp_path / "shoplake.toml"
        config.write_text('[shoplake]\nquarantine_threshold = "50%"\n')
        env["SHOPLAKE_CONFIG"] = str(config)
    result = shoplake("run", "--lake", str(lake.root), "--to", "ingest", env=env)
    assert result.returncode == 0, result.stderr
    _, status, steps, _ = the_run(lake)
    assert (status, steps["ingest"][0]) == ("success", "success")  # 47% is within 50%
    assert "47 quarantined" in steps["ingest"][1]


def test_an_invalid_threshold_is_one_line_and_runs_nothing(tmp_path: Path) -> None:
    lake = raw_zone(tmp_path / "lake", {"orders/2026/11/20/o.csv": orders_csv(good=3, bad=0)})
    result = shoplake(
        "run", "--lake", str(lake.root), env={"SHOPLAKE_QUARANTINE_THRESHOLD": "lots"}
    )
    line = the_error_line(result, run=True)
    assert "quarantine threshold 'lots'" in line
    assert "SHOPLAKE_QUARANTINE_THRESHOLD" in line
    assert not (lake.root / "silver").exists()
    assert not lake.state_dir("pipeline").exists()


# --- a run with nothing wrong, and the page it writes ------------------------------------
def embedded(page: Path) -> dict:
    found = re.search(
        r'<script type="application/json" id="dashboard-data">(.*?)</script>',
        page.read_text("utf-8"),
        re.S,
    )
    assert found, "no embedded data in the page"
    return json.loads(found.group(1))


def test_a_run_with_nothing_wrong_is_success_and_its_page_shows_it_finished(
    tmp_path: Path,
) -> None:
    # recent days without faults: nothing to quarantine, nothing stale, no recency warning
    root = tmp_path / "lake"
    start = datetime.now(timezone.utc).date() - timedelta(days=3)
    generated = shoplake(
        "generate", "--lake", str(root), "--start", str(start), "--days", "3",
        "--orders-per-day", "20",
    )  # fmt: skip
    assert generated.returncode == 0, generated.stderr
    lake = Lake.at(root)
    result = shoplake("run", "--lake", str(root))
    assert result.returncode == 0, result.stderr

    run_id, status, steps, record = the_run(lake)
    assert status == "success", steps
    assert {s for s, _ in steps.values()} <= {"success", "skipped"}
    assert "0 quarantined" in steps["ingest"][1]

    # the page the run's dashboard step wrote shows the run done, with its duration
    [(seconds, finished)] = ops(
        lake, f"select seconds, finished_at from shoplake_ops.runs where run_id = '{run_id}'"
    )
    assert finished is not None
    runs = embedded(root / "site" / "dashboard.html")["quality"]["history"]["runs"]
    assert runs[0]["run_id"] == run_id
    assert runs[0]["status"] == "success"
    assert runs[0]["seconds"] == pytest.approx(seconds) == pytest.approx(record["seconds"])
    assert runs[0]["warnings"] == []
    assert record["started_at"].startswith(runs[0]["started_at"])
