"""`shoplake alerts ...` through the CLI: output, environment, errors, the zip command."""

from __future__ import annotations

import subprocess
import zipfile
from datetime import datetime
from pathlib import Path

import pytest
from alerts_kit import PYTHON, UTC, Receiver, drop, expected_id, ndjson, purchase
from typer.testing import CliRunner

from shoplake.cli import app

MAR1_14 = datetime(2026, 3, 1, 14, tzinfo=UTC)


def test_watch_once_prints_a_line_per_file_and_a_summary(
    lake_root: Path, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    args = ["alerts", "watch", "--once", "--lake", str(lake_root)]
    assert CliRunner().invoke(app, args).exit_code == 0  # alerts start: nothing there yet
    drop(lake_root, MAR1_14, "a.json", ndjson([purchase("2026-03-01T14:01:00Z"), "bad"]))
    monkeypatch.setenv("SHOPLAKE_ALERTS_WEBHOOK", receiver.url)
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith(
        "raw/clickstream/2026/03/01/14/a.json alerts=1 new=1 bad_lines=1 latency="
    )
    assert lines[1:4] == [
        "purchase alerts",
        "files read\tnew alerts\tbad lines\tdelivered\tundelivered",
        "1\t1\t1\t1\t0",
    ]
    assert receiver.accepted_keys() == {expected_id("2026-03-01T14:01:00.000000Z", "C1", "s1"): 1}

    status = CliRunner().invoke(app, ["alerts", "status", "--lake", str(lake_root)])
    assert status.exit_code == 0, status.output
    assert status.output.splitlines()[1:3] == [
        "files\talerts\tunpublished\tundelivered\tdelivered",
        "1\t1\t0\t0\t1",
    ]


def test_known_errors_are_one_line(lake_root: Path) -> None:
    args = ["alerts", "watch", "--once", "--lake", str(lake_root)]
    result = subprocess.run(
        [PYTHON, "-m", "shoplake.cli", *args, "--webhook", "mailto:ops@example.com"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 1
    assert result.stderr.startswith("error: webhook URL 'mailto:ops@example.com' is not an")
    assert len(result.stderr.strip().splitlines()) == 1


def test_package_writes_the_lambda_zip(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["alerts", "package", "--dest", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "shoplake.alerts.lambda_handler.handler" in result.output
    names = zipfile.ZipFile(tmp_path / "shoplake-alerts-lambda.zip").namelist()
    assert "shoplake/alerts/core.py" in names
    assert not any("cli" in n or "ingest" in n or "watcher" in n for n in names)
