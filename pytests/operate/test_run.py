"""``shoplake run``: the daily job end to end, failures, resuming, the run lock, history.

Every run here is the real command in a child process over a lake generated with every
kind of bad input; expectations come from the generator's own record of what it wrote
(``_state/generate/summary.json``: records, duplicates and injected faults per dataset),
from dbt's manifest, and from the lake's files — never from the pipeline's output.
"""

from __future__ import annotations

import json
import re
import threading
from datetime import date, datetime, timezone
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from browser import load_page, screenshot_path
from run_kit import generated_lake, shoplake

from shoplake.dashboard import default_dashboard_path
from shoplake.ingest.transaction import lake_lock
from shoplake.lake import Lake
from shoplake.pipeline import STEPS
from shoplake.serve import make_server


def history(lake: Lake, sql: str) -> list[tuple]:
    with duckdb.connect(str(lake.root / "warehouse.duckdb"), read_only=True) as con:
        return con.execute(sql).fetchall()


def over_threshold(lake: Lake, share: float = 0.01) -> dict[str, tuple[int, int]]:
    """The datasets whose injected faults put more than ``share`` (the default threshold)
    of their records in quarantine, per the generator: {dataset: (quarantined, read)}."""
    summary = json.loads(lake.state_dir("generate", "summary.json").read_text())
    expected = {n: d["expected_ingest"] for n, d in summary["datasets"].items()}
    return {
        name: (e["quarantined"], e["read"])
        for name, e in expected.items()
        if e["read"] and e["quarantined"] / e["read"] > share
    }


@pytest.fixture(scope="module")
def completed_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Lake, str]:
    """One full daily run over a generated lake (shared by the checks below)."""
    lake = generated_lake(tmp_path_factory.mktemp("daily") / "lake")
    result = shoplake("run", "--lake", str(lake.root))
    assert result.returncode == 0, result.stdout + result.stderr
    return lake, result.stdout + result.stderr


def test_run_produces_warehouse_docs_and_dashboard(completed_run: tuple[Lake, str]) -> None:
    lake, output = completed_run
    docs = lake.state_dir("dbt", "dev", "target")
    for produced in (
        lake.root / "warehouse.duckdb",
        docs / "index.html",
        docs / "catalog.json",
        docs / "manifest.json",
    ):
        assert produced.is_file(), produced
    dashboard = next(line for line in output.splitlines() if "dashboard at " in line)
    assert Path(dashboard.split("dashboard at ", 1)[1].strip()).is_file()
    for step in STEPS:
        assert f"{step}:" in output  # every step is announced and timed


@pytest.mark.browser
def test_run_pages_load_in_chromium_without_errors(completed_run: tuple[Lake, str]) -> None:
    """The dashboard file and the served docs site, as a user opens them after a run."""
    lake, _ = completed_run
    dashboard = load_page(
        default_dashboard_path(lake).as_uri(),
        "run-dashboard",
        wait_for="#kpi-revenue .value",
    )
    assert not dashboard.problems, dashboard.problems
    server = make_server(lake, port=0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        docs = load_page(f"{server.url}docs/", "run-docs", wait_for="text=shoplake warehouse")
        served = load_page(f"{server.url}dashboard/", "run-served-dashboard")
    finally:
        server.shutdown()
        server.server_close()
    assert not docs.problems, docs.problems
    assert not served.problems, served.problems
    for name in ("run-dashboard", "run-docs", "run-served-dashboard"):
        assert screenshot_path(name).is_file()


def test_run_history_records_steps_accounting_and_tests(completed_run: tuple[Lake, str]) -> None:
    lake, _ = completed_run
    runs = history(lake, "select run_id, status, failed_step, seconds from shoplake_ops.runs")
    assert len(runs) == 1
    run_id, status, failed_step, seconds = runs[0]
    steps = history(
        lake,
        "select step, status, seconds, detail from shoplake_ops.run_steps "
        f"where run_id = '{run_id}' order by position",
    )
    assert [s[0] for s in steps] == list(STEPS)
    statuses = dict((s[0], s[1]) for s in steps)
    assert statuses["extract"] == "skipped"  # no DSN configured
    assert statuses["catalog"] == "skipped"  # a local lake has no Glue catalog
    assert all(statuses[s] in ("success", "warn") for s in STEPS if s not in ("extract", "catalog"))
    assert sum(s[2] for s in steps) <= seconds
    # a step that warned makes the run `warn`; the generated faults quarantine more than
    # the default 1% of some datasets, and the ingest step names exactly those
    assert (status, failed_step) == ("warn" if "warn" in statuses.values() else "success", None)
    over = over_threshold(lake)
    assert over, "the generator's faults should cross the default threshold somewhere"
    assert statuses["ingest"] == "warn"
    ingest_detail = dict((s[0], s[3]) for s in steps)["ingest"]
    crossed = ingest_detail.split("quarantine rate above the 1% threshold: ", 1)[1]
    assert set(re.findall(r"(\w+) [\d,]+ of [\d,]+ \(", crossed)) == set(over)
    for name, (quarantined, read) in over.items():
        assert f"{name} {quarantined:,} of {read:,} (" in crossed

    # the ingest's accounting equals what the generator says it wrote
    summary = json.loads(lake.state_dir("generate", "summary.json").read_text())
    recorded = {
        row[0]: row[1:]
        for row in history(
            lake,
            "select dataset, records_read, written, quarantined, duplicates "
            f"from shoplake_ops.run_datasets where run_id = '{run_id}'",
        )
    }
    for dataset, counts in summary["datasets"].items():
        expected = counts["expected_ingest"]
        assert recorded[dataset] == (
            expected["read"],
            expected["written"],
            expected["quarantined"],
            expected["duplicates"],
        ), dataset

    # every data and unit test of the project is recorded, none failed
    manifest = json.loads(lake.state_dir("dbt", "dev", "target", "manifest.json").read_text())
    expected_tests = {
        uid
        for uid in [*manifest["nodes"], *manifest.get("unit_tests", {})]
        if uid.split(".")[0] in ("test", "unit_test")
    }
    tests = history(
        lake, f"select unique_id, status from shoplake_ops.run_tests where run_id = '{run_id}'"
    )
    assert {t[0] for t in tests} == expected_tests
    assert not [t for t in tests if t[1] in ("fail", "error")]

    # freshness: every source of the lake, checked against its SLA (the run history's
    # own tables are a source too, of the anomaly tests, with no SLA)
    sources = {s["name"] for s in manifest["sources"].values() if s["source_name"] == "lake"}
    freshness = history(
        lake,
        "select source, status, warn_after_hours, error_after_hours "
        f"from shoplake_ops.run_freshness where run_id = '{run_id}'",
    )
    assert {f[0] for f in freshness} == sources
    assert all(f[1] == "pass" and f[2] < f[3] for f in freshness)  # just ingested


def test_status_prints_the_last_runs(completed_run: tuple[Lake, str]) -> None:
    lake, _ = completed_run
    result = shoplake("status", "--lake", str(lake.root))
    assert result.returncode == 0, result.stderr
    [(run_id, status)] = history(lake, "select run_id, status from shoplake_ops.runs")
    [row] = [line.split("\t") for line in result.stdout.splitlines() if line.startswith(run_id)]
    assert row[2] == status == "warn"  # see the history check above


def test_the_dashboard_shows_the_finished_run(completed_run: tuple[Lake, str]) -> None:
    """The page the run's last step wrote shows that run done (not `running`), with the
    status and duration the history recorded, and what made it warn."""
    lake, _ = completed_run
    [(run_id, status, seconds)] = history(
        lake, "select run_id, status, seconds from shoplake_ops.runs"
    )
    warned = history(
        lake,
        "select step, detail from shoplake_ops.run_steps "
        f"where run_id = '{run_id}' and status = 'warn' order by position",
    )
    page = default_dashboard_path(lake).read_text("utf-8")
    found = re.search(
        r'<script type="application/json" id="dashboard-data">(.*?)</script>', page, re.S
    )
    assert found
    data = json.loads(found.group(1))
    [shown] = data["quality"]["history"]["runs"]
    assert (shown["run_id"], shown["status"]) == (run_id, status)
    assert shown["seconds"] == pytest.approx(seconds)
    assert shown["warnings"] == [f"{step}: {detail}" for step, detail in warned]
    # the quarantine panel flags the datasets that crossed the threshold in this run
    flagged = {
        d["dataset"] for d in data["quality"]["quarantine"]["datasets"] if d["over_threshold"]
    }
    assert flagged == set(over_threshold(lake))


def test_a_failing_step_stops_the_run_and_from_resumes(tmp_path: Path) -> None:
    lake = generated_lake(tmp_path / "lake")
    # someone drops a file that does not match the payments schema into silver: the
    # build's staging model cannot cast it, so the build step fails
    assert shoplake("run", "--lake", str(lake.root), "--to", "ingest").returncode == 0
    intruder = lake.partition_dir("payments", date(2026, 10, 6))
    intruder.mkdir(parents=True, exist_ok=True)
    pq.write_table(
        pa.table({"payment_id": ["x-1"], "amount": ["not a number"]}),
        intruder / "intruder.parquet",
    )

    failed = shoplake("run", "--lake", str(lake.root), "--from", "freshness")
    assert failed.returncode == 1
    assert "failed at step build" in failed.stderr
    assert "shoplake run --from build" in failed.stderr
    assert not (lake.root / "site").exists() or not any((lake.root / "site").iterdir())

    (intruder / "intruder.parquet").unlink()
    resumed = shoplake("run", "--lake", str(lake.root), "--from", "build")
    assert resumed.returncode == 0, resumed.stderr

    runs = history(
        lake, "select run_id, status, failed_step from shoplake_ops.runs order by started_at"
    )
    assert [(r[1], r[2]) for r in runs] == [
        ("warn" if over_threshold(lake) else "success", None),  # --to ingest
        ("failed", "build"),
        (runs[2][1], None),  # --from build: `warn` if its build warned (below)
    ]
    steps = dict(
        history(
            lake,
            f"select step, status from shoplake_ops.run_steps where run_id = '{runs[1][0]}'",
        )
    )
    assert steps["build"] == "failed"
    assert steps["docs"] == steps["dashboard"] == "skipped"  # never reached
    resumed_steps = dict(
        history(
            lake,
            f"select step, status from shoplake_ops.run_steps where run_id = '{runs[2][0]}'",
        )
    )
    assert resumed_steps["ingest"] == "skipped"
    assert resumed_steps["build"] in ("success", "warn")  # warn: recency of old test data
    assert runs[2][1] == resumed_steps["build"]  # the only step that may warn

    # The next scheduled run finds nothing new: no source moved since the resumed run's
    # build, the project did not change since its docs, so both steps are skipped.
    day = datetime.now(timezone.utc).date()
    again = shoplake("run", "--lake", str(lake.root))
    assert again.returncode == 0, again.stderr
    [(run_id,)] = history(
        lake, "select run_id from shoplake_ops.runs order by started_at desc limit 1"
    )
    steps = {
        step: (status, detail)
        for step, status, detail in history(
            lake,
            f"select step, status, detail from shoplake_ops.run_steps where run_id = '{run_id}'",
        )
    }
    assert steps["ingest"][0] in ("success", "warn")  # it ran, and found no new raw file
    assert steps["freshness"][0] in ("success", "warn")
    if datetime.now(timezone.utc).date() == day:  # a new UTC day moves dim_date: it builds
        assert steps["build"][0] == "skipped", steps["build"]
        assert steps["build"][1].startswith("nothing new since the last build"), steps["build"]
    assert steps["docs"] == ("skipped", steps["docs"][1]), steps["docs"]
    assert steps["docs"][1].startswith("project unchanged since the docs were generated")
    assert steps["publish"][0] == steps["dashboard"][0] == "success"


def test_a_second_run_while_one_holds_the_lake_exits(tmp_path: Path) -> None:
    lake = generated_lake(tmp_path / "lake")
    with lake_lock(lake, "run", wait=False):
        busy = shoplake("run", "--lake", str(lake.root))
    assert busy.returncode == 1
    assert "another shoplake run is running" in busy.stderr
    assert not lake.state_dir("pipeline").exists()  # it did not start
    assert not (lake.root / "silver").exists()


def test_unknown_step_is_a_clear_error(tmp_path: Path) -> None:
    result = shoplake("run", "--lake", str(tmp_path), "--from", "deploy")
    assert result.returncode == 1
    assert "no such step" in result.stderr
    assert ", ".join(STEPS) in result.stderr
