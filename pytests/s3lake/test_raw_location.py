"""The raw zone at its own location (``SHOPLAKE_RAW`` / ``Lake.at(root, raw=...)``), as
``shoplake deploy aws`` lays a lake out: raw files in a bucket of their own, everything
else under the lake root in another.

Checked on two buckets of the local S3 endpoint through the CLI, and on two directories:
raw files land only at the raw location, ingest reads them from there and publishes
silver at the root with the generator's own accounting, lineage keeps the lake-relative
``raw/...`` key, and a second ingest reads nothing.
"""

from __future__ import annotations

import io
import json
from datetime import date
from pathlib import Path

import pyarrow.parquet as pq
from s3lake_kit import DATASETS, STATS, get, keys, run_logs, s3, s3_file_hashes, shoplake

from shoplake.alerts.watcher import process_pending
from shoplake.config import load_settings
from shoplake.generate import generate
from shoplake.ingest.engine import run_ingest
from shoplake.lake import Lake

START = "2026-03-02"
GENERATE = ["--start", START, "--days", "2", "--orders-per-day", "8", "--seed", "3", "--faults"]


def _check_accounting(summary: dict, log: dict) -> None:
    """The run accounts for every delivered record as the generator counted them."""
    assert log["balanced"]
    for ds in DATASETS:
        expected = summary["datasets"][ds]["expected_ingest"]
        assert {k: log["datasets"][ds][k] for k in expected} == expected, ds
        assert log["datasets"][ds]["files_read"] == summary["datasets"][ds]["files"], ds


def test_generate_and_ingest_with_raw_in_its_own_bucket(s3_bucket, tmp_path, monkeypatch):
    monkeypatch.delenv("SHOPLAKE_CRASH_AT", raising=False)
    monkeypatch.setenv("SHOPLAKE_LOCAL_DIR", str(tmp_path / "local"))
    processed, raw = s3_bucket, f"{s3_bucket}-raw"
    s3().create_bucket(Bucket=raw)
    env = {"SHOPLAKE_LAKE": f"s3://{processed}/shop", "SHOPLAKE_RAW": f"s3://{raw}/shop"}

    done = shoplake("generate", *GENERATE, **env)
    assert done.returncode == 0, done.stderr
    summary = json.loads(get(processed, "shop/_state/generate/summary.json"))
    delivered = keys(raw, "")
    assert len(delivered) == sum(d["files"] for d in summary["datasets"].values())
    assert all(k.startswith("shop/raw/") for k in delivered)
    assert not keys(processed, "shop/raw/")

    done = shoplake("ingest", **env)
    assert done.returncode == 0, done.stderr
    (log,) = run_logs(processed, "shop/").values()
    _check_accounting(summary, log)
    assert keys(raw, "") == delivered  # ingest wrote nothing next to the raw files
    silver = keys(processed, "shop/silver/")
    assert {k.split("/")[2] for k in silver} == set(DATASETS)
    lineage = set()
    for key in silver:
        table = pq.read_table(io.BytesIO(get(processed, key)))
        lineage |= set(table.column("source_file").to_pylist())
    assert lineage
    assert {"shop/" + f for f in lineage} <= set(delivered)

    raw_before = s3_file_hashes(raw, "")
    done = shoplake("ingest", **env)
    assert done.returncode == 0, done.stderr
    second = [v for k, v in run_logs(processed, "shop/").items() if k != log["run_id"]]
    assert [st[f] for st in second[0]["datasets"].values() for f in STATS] == [0] * (
        len(STATS) * len(DATASETS)
    )
    assert s3_file_hashes(raw, "") == raw_before


def _files(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


def test_raw_zone_in_another_directory(tmp_path, monkeypatch):
    monkeypatch.delenv("SHOPLAKE_CRASH_AT", raising=False)
    root, landing = tmp_path / "lake", tmp_path / "landing"
    lake = Lake.at(root, raw=landing)
    start = date.fromisoformat(START)
    summary = generate(lake, start=start, days=2, orders_per_day=8, seed=3, faults=True).as_dict()
    delivered = _files(landing)
    assert len(delivered) == sum(d["files"] for d in summary["datasets"].values())
    assert all(f.startswith("raw/") for f in delivered)
    assert not (root / "raw").exists()

    first = run_ingest(lake)
    log = json.loads((root / first.log_path).read_text())
    _check_accounting(summary, log)
    assert _files(landing) == delivered
    lineage = {
        f
        for path in (root / "silver").rglob("*.parquet")
        for f in pq.read_table(path).column("source_file").to_pylist()
    }
    assert lineage
    assert lineage <= set(delivered)
    second = run_ingest(lake)
    assert [getattr(st, f) for st in second.datasets.values() for f in STATS] == [0] * (
        len(STATS) * len(DATASETS)
    )

    # the alerts watcher lists and reads raw/clickstream at the raw location too
    clicks = [f for f in delivered if f.startswith("raw/clickstream/")]
    done = process_pending(
        lake, state_dir=tmp_path / "alerts-state", retry_for_s=0, backfill="1970-01-01"
    )
    assert sorted(r.path for r in done.files) == clicks
    assert done.new_alerts > 0
    assert _files(root / "alerts")
    assert not (landing / "alerts").exists()


def test_raw_setting_reaches_the_lake(tmp_path):
    settings = load_settings(
        {"SHOPLAKE_CONFIG": str(tmp_path / "none.toml"), "SHOPLAKE_RAW": "s3://r/p"}
    )
    assert settings.raw == "s3://r/p"
    lake = Lake.at(tmp_path / "lake", raw=settings.raw)
    assert lake.url("raw/orders/2026/03/02/a.csv") == "s3://r/p/raw/orders/2026/03/02/a.csv"
    assert lake.url("silver/orders") == f"{tmp_path / 'lake'}/silver/orders"
    assert lake.relative("s3://r/p/raw/orders/x.csv") == "raw/orders/x.csv"
    assert Lake.at(tmp_path / "lake", raw=tmp_path / "lake") == Lake.at(tmp_path / "lake")
    assert load_settings({"SHOPLAKE_CONFIG": str(tmp_path / "none.toml")}).raw is None
