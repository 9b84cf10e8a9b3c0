"""Fixtures of the operate checks: a small warehouse built once per test session (worker).

* ``built_lake`` (session): a generated lake (a few days, small scale, with every kind of
  bad input), ingested, built with dbt on DuckDB and with its docs site generated, plus
  what the generator and the ingest said they did. Treat it as read-only.
* ``lake_copy`` (function): a private copy of that lake (warehouse, docs, quarantine,
  run logs and all) that a test may change: add run history, delete the docs, ...
* ``faulty_lake`` (session): a copy with a broken fact row, a volume drop and a
  rejection-rate spike injected, and one `dbt test` run over it (faults_kit.py).

No ``SHOPLAKE_LAKE`` / ``SHOPLAKE_DUCKDB_PATH`` from the environment leaks into the
checks: each test starts without them.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import pytest

from shoplake.lake import Lake

#: The generated lake: a few days at a small scale, with faults (quarantine has rows).
BUILT_START, BUILT_DAYS, BUILT_ORDERS_PER_DAY, BUILT_SEED = date(2026, 10, 5), 4, 30, 11
_ENVIRONMENT = ("SHOPLAKE_LAKE", "SHOPLAKE_DUCKDB_PATH", "SHOPLAKE_CONFIG")


@dataclass(frozen=True)
class BuiltLake:
    lake: Lake
    generated: dict  # GenerateReport.as_dict(): what the generator wrote, faults per reason
    ingest_read: dict[str, int]  # records read per dataset, as the ingest run reported them
    first_day: date = BUILT_START  # the business days generated
    last_day: date = BUILT_START + timedelta(days=BUILT_DAYS - 1)

    @property
    def warehouse(self) -> Path:
        return self.lake.root / "warehouse.duckdb"


@pytest.fixture(autouse=True)
def _no_shoplake_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in _ENVIRONMENT:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="session")
def built_lake(tmp_path_factory: pytest.TempPathFactory) -> BuiltLake:
    from shoplake.generate import generate
    from shoplake.ingest import run_ingest
    from shoplake.warehouse import build, docs_generate

    lake = Lake.at(tmp_path_factory.mktemp("operate") / "lake")
    with pytest.MonkeyPatch.context() as mp:
        for name in _ENVIRONMENT:
            mp.delenv(name, raising=False)
        report = generate(
            lake,
            start=BUILT_START,
            days=BUILT_DAYS,
            orders_per_day=BUILT_ORDERS_PER_DAY,
            seed=BUILT_SEED,
            faults=True,
        )
        ingested = run_ingest(lake)
        assert ingested.balanced
        build(lake, quiet=True)
        docs_generate(lake, quiet=True)
    return BuiltLake(
        lake=lake,
        generated=report.as_dict(),
        ingest_read={name: s.read for name, s in ingested.datasets.items()},
    )


@pytest.fixture
def lake_copy(built_lake: BuiltLake, tmp_path: Path) -> Lake:
    target = tmp_path / "lake"
    shutil.copytree(built_lake.lake.root, target)
    return Lake.at(target)


@pytest.fixture(scope="session")
def faulty_lake(built_lake: BuiltLake, tmp_path_factory: pytest.TempPathFactory):
    from faults_kit import make_faulty_lake

    return make_faulty_lake(built_lake, tmp_path_factory.mktemp("faulty") / "lake")
