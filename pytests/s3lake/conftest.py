"""Fixtures for the S3 lake checks (helpers live in s3lake_kit.py next to this file)."""

from __future__ import annotations

import pytest


@pytest.fixture
def lake_url(s3_bucket: str, tmp_path, monkeypatch: pytest.MonkeyPatch) -> str:
    """An empty lake under a prefix of a fresh bucket on the local S3 endpoint.

    Local working files of S3 lakes (the dev warehouse) go to the test's directory, and
    no crash failpoint is armed in this process.
    """
    monkeypatch.delenv("SHOPLAKE_CRASH_AT", raising=False)
    monkeypatch.delenv("SHOPLAKE_LAKE", raising=False)
    monkeypatch.setenv("SHOPLAKE_LOCAL_DIR", str(tmp_path / "local"))
    return f"s3://{s3_bucket}/shop"
