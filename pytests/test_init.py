"""`shoplake init`: a new lake with a documented shoplake.toml and one valid sample per
dataset that ingests with nothing quarantined (issue 10, item 7), run as a newcomer
would: in a fresh directory, without --lake for the commands after it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import fields
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

from shoplake.config import Settings, load_settings
from shoplake.contract import DATASETS
from shoplake.lake import is_landed

#: Settings that would point the commands elsewhere than the directory's shoplake.toml.
OUTSIDE = ("SHOPLAKE_LAKE", "SHOPLAKE_CONFIG", "SHOPLAKE_RAW", "SHOPLAKE_CRASH_AT")


def shoplake(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in OUTSIDE}
    return subprocess.run(
        [sys.executable, "-m", "shoplake.cli", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def files_under(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def one_error_line(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    return lines[0]


def test_init_then_ingest_quarantines_nothing(tmp_path: Path) -> None:
    result = shoplake(tmp_path, "init", "--lake", "shop")
    assert result.returncode == 0, result.stderr
    config = tmp_path / "shoplake.toml"
    text = config.read_text("utf-8")
    assert tomllib.loads(text)["shoplake"] == {"lake": "shop"}
    for f in fields(Settings):  # every setting config.py reads is named, with a comment
        assert f"\n# {f.name} = " in text or f"\n{f.name} = " in text, f.name
    assert load_settings({"SHOPLAKE_CONFIG": str(config)}).lake == "shop"

    lake = tmp_path / "shop"
    raw = sorted(k for k in files_under(lake) if k.startswith("raw/"))
    assert sorted(k.split("/")[1] for k in raw) == sorted(DATASETS)  # one file per dataset
    for key in raw:
        assert is_landed(DATASETS[key.split("/")[1]], key), key
        assert f"wrote {key}" in result.stdout
    assert set(files_under(lake)) == set(raw)  # nothing else yet

    checked = shoplake(tmp_path, "validate", *(str(lake / k) for k in raw))
    assert checked.returncode == 0, checked.stdout + checked.stderr

    ingested = shoplake(tmp_path, "ingest")  # the lake from ./shoplake.toml
    assert ingested.returncode == 0, ingested.stderr
    (log_file,) = (lake / "_state/runs").glob("*.json")
    log = json.loads(log_file.read_text())
    # the samples as written: 2 orders, 3 order lines, 2 payments, 2 customers,
    # 3 products, 5 clicks of one visit, 1 exchange rate (EUR)
    read = {
        "orders": 2,
        "sales": 3,
        "payments": 2,
        "customers": 2,
        "products": 3,
        "clickstream": 5,
        "exchange_rates": 1,
    }
    for name, stats in log["datasets"].items():
        assert (stats["read"], stats["written"], stats["quarantined"]) == (
            read[name],
            read[name],
            0,
        )
        assert stats["files_quarantined"] == 0
    assert log["warnings"] == []
    assert not (lake / "quarantine").exists()


def test_init_refuses_a_lake_that_is_not_empty(tmp_path: Path) -> None:
    lake = tmp_path / "mine"
    (lake / "raw/orders/2026/01/01").mkdir(parents=True)
    (lake / "raw/orders/2026/01/01/orders.csv").write_text("order_id\n")
    before = files_under(tmp_path)
    line = one_error_line(shoplake(tmp_path, "init", "--lake", "mine"))
    assert "is not empty: shoplake init only makes a new lake" in line
    assert files_under(tmp_path) == before  # no settings, no samples

    (tmp_path / "shoplake.toml").write_text('[shoplake]\nlake = "mine"\n')
    before = files_under(tmp_path)
    line = one_error_line(shoplake(tmp_path, "init", "--lake", "new"))
    assert "shoplake.toml already exists" in line
    assert "--config" in line
    assert files_under(tmp_path) == before
    assert not (tmp_path / "new").exists()

    # another settings file: the lake is named by its full path there
    other = tmp_path / "conf" / "shop.toml"
    result = shoplake(tmp_path, "init", "--lake", "new", "--config", str(other))
    assert result.returncode == 0, result.stderr
    assert tomllib.loads(other.read_text())["shoplake"]["lake"] == str(tmp_path / "new")
