"""Fixtures for the warehouse (dbt) checks; helpers live in warehouse_kit.py."""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from silver_fixture import SilverFixture
from warehouse_kit import GENERATED_DAYS, GENERATED_ORDERS_PER_DAY, GENERATED_START

from shoplake.lake import Lake


@pytest.fixture
def fixture_lake(tmp_path: Path) -> tuple[Lake, SilverFixture]:
    """A small hand-made silver lake (6 days), and the fixture to add an increment."""
    fixture = SilverFixture(tmp_path / "lake").build_base(date(2026, 10, 1), days=6)
    fixture.write()
    return Lake.at(tmp_path / "lake"), fixture


@pytest.fixture(scope="session")
def generated_raw(tmp_path_factory) -> Lake:
    """Raw files of a generated lake (`shoplake generate`), kept aside to be landed."""
    from shoplake.generate import generate

    source = Lake.at(tmp_path_factory.mktemp("generated") / "lake")
    generate(
        source,
        start=GENERATED_START,
        days=GENERATED_DAYS,
        orders_per_day=GENERATED_ORDERS_PER_DAY,
        seed=7,
    )
    return source
