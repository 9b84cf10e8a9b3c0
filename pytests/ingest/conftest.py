"""Fixtures for the ingest tests (helpers live in ingest_kit.py next to this file)."""

from __future__ import annotations

import os
import sys

import pytest

from shoplake.lake import Lake


@pytest.fixture
def lake(tmp_path, monkeypatch) -> Lake:
    """An empty lake in a temporary directory; no crash failpoint armed in this process."""
    monkeypatch.delenv("SHOPLAKE_CRASH_AT", raising=False)
    root = tmp_path / "lake"
    root.mkdir()
    return Lake.at(root)


@pytest.fixture(scope="session")
def spark():
    """One local Spark session for the whole test session (``local[2]`` on 127.0.0.1, no
    UI, two shuffle partitions): the Spark engine takes the running session. A machine
    without Java or PySpark fails the tests that ask for it (they never skip)."""
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    from pyspark.sql import SparkSession

    session = (
        SparkSession.builder.master("local[2]")
        .appName("shoplake tests")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.sql.session.timeZone", "UTC")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()
