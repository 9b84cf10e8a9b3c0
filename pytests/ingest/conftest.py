"""Fixtures for the ingest tests (helpers live in ingest_kit.py next to this file)."""

from __future__ import annotations

import pytest

from shoplake.lake import Lake


@pytest.fixture
def lake(tmp_path, monkeypatch) -> Lake:
    """An empty lake in a temporary directory; no crash failpoint armed in this process."""
    monkeypatch.delenv("SHOPLAKE_CRASH_AT", raising=False)
    root = tmp_path / "lake"
    root.mkdir()
    return Lake.at(root)
