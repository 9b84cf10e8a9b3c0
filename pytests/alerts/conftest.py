"""Fixtures for the alerts tests (helpers live in alerts_kit.py next to this file)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from alerts_kit import Receiver


@pytest.fixture
def lake_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty local lake; no failpoint, webhook or ledger override from the outside."""
    for name in (
        "SHOPLAKE_CRASH_AT",
        "SHOPLAKE_ALERTS_WEBHOOK",
        "SHOPLAKE_ALERTS_WEBHOOK_SECRET",
        "SHOPLAKE_ALERTS_STATE",
    ):
        monkeypatch.delenv(name, raising=False)
    root = tmp_path / "lake"
    root.mkdir()
    return root


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A real HTTP webhook receiver on 127.0.0.1 that records every request."""
    server = Receiver()
    yield server
    server.down()
