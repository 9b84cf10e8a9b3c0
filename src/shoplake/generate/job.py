"""One ``generate`` run: the shop simulated here, its parts written by worker processes."""

from __future__ import annotations

import json
import multiprocessing
import os
import random
import time
from datetime import date
from decimal import Decimal
from typing import Any

from shoplake.errors import ConfigError
from shoplake.generate.batches import BatchWriter, Counts, plan
from shoplake.generate.formats import Writer, utc
from shoplake.generate.rates import write_rates
from shoplake.generate.summary import BATCH_DATASETS, GenerateReport, merged
from shoplake.generate.traffic import ClickPlan
from shoplake.generate.world import World
from shoplake.lake import Lake

SUMMARY = ("generate", "summary.json")


def generate(
    lake: Lake,
    *,
    start: date,
    days: int,
    orders_per_day: int = 200,
    seed: int = 42,
    faults: bool = False,
    postgres_dsn: str | None = None,
    products_table: str = "public.products",
    workers: int | None = None,
) -> GenerateReport:
    """Write ``days`` days of raw data from ``start`` into ``lake`` (see the module doc).

    The shop is simulated first, in this process; then its datasets and each day of its
    clickstream are written by ``workers`` processes (default: one per CPU; one on an
    object store). Every part draws from a generator seeded by its own name, so the
    files are the same whatever the number of workers.
    """
    if days < 1 or orders_per_day < 1:
        raise ConfigError(
            f"nothing to generate for --days {days} --orders-per-day {orders_per_day}",
            "both must be at least 1",
            setting="days",
        )
    began = time.perf_counter()
    world = World(start, days, orders_per_day, seed).run(random.Random(f"{seed}:catalog"))
    loaded = None
    if postgres_dsn:  # first, so that a wrong DSN fails before anything is written
        from shoplake.products_table import load_products_table

        rows = [_product_row(rec) for _, rec in world.out["products"]]
        loaded = load_products_table(postgres_dsn, products_table, rows)
    tasks: list[tuple[str, int]] = [
        (name, 0) for name in BATCH_DATASETS if not (name == "products" and postgres_dsn)
    ]
    tasks += [("clickstream", d) for d in range(days)] + [("exchange_rates", 0)]
    job = _Job(lake, world, start, days, seed, faults)
    counts: dict[str, Counts] = {}
    written = 0
    for name, part, n_bytes in job.run(tasks, workers):
        counts[name] = merged(counts[name], part) if name in counts else part
        written += n_bytes
    report = GenerateReport(
        start=start,
        days=days,
        orders_per_day=orders_per_day,
        seed=seed,
        faults=faults,
        datasets=counts,
        products_loaded=loaded,
        bytes_written=written,
    )
    summary_key = lake.state_key(*SUMMARY)
    lake.write_atomic(summary_key, json.dumps(report.as_dict(), indent=2) + "\n")
    report.summary_path = lake.url(summary_key)
    report.seconds = time.perf_counter() - began
    return report


#: What one part of a job wrote: (dataset, counts, bytes).
Part = tuple[str, Counts, int]
#: The job the worker processes run: set before they are forked, read by _run_part.
_JOB: _Job | None = None


class _Job:
    """The parts of one ``generate`` (a batch dataset, a clickstream day, the rates)."""

    def __init__(
        self, lake: Lake, world: World, start: date, days: int, seed: int, faults: bool
    ) -> None:
        self.lake, self.world, self.start, self.days = lake, world, start, days
        self.seed, self.faults = seed, faults
        self.clicks = ClickPlan(world, seed, faults)

    def run(
        self, tasks: list[tuple[str, int]], workers: int | None
    ) -> list[tuple[str, Counts, int]]:
        """Each part's (dataset, counts, bytes written), in the order of ``tasks``."""
        n = workers or os.cpu_count() or 1
        n = min(n, len(tasks)) if self.lake.is_local else 1
        if n <= 1:
            return [self.part(*task) for task in tasks]
        global _JOB
        _JOB = self  # the forked workers inherit the simulated shop instead of a pickled copy
        try:
            with multiprocessing.get_context("fork").Pool(n) as pool:
                return pool.map(_run_part, tasks, chunksize=1)
        finally:
            _JOB = None

    def part(self, name: str, day: int) -> Part:
        lake, seed = self.lake, self.seed
        with Writer(lake) as writer:
            if name == "clickstream":
                counts = self.clicks.day(lake, writer, day)
            elif name == "exchange_rates":
                counts = write_rates(lake, writer, self.start, self.days, seed)
            else:
                fault_rng = random.Random(f"{seed}:faults:{name}") if self.faults else None
                files = plan(name, self.world.out[name], self.start, seed)
                counts = BatchWriter(lake, writer, name, seed).write_all(files, fault_rng)
        return name, counts, writer.bytes


def _run_part(task: tuple[str, int]) -> Part:
    assert _JOB is not None
    return _JOB.part(*task)


def _product_row(rec: dict[str, Any]) -> dict[str, Any]:
    """A catalog record as PostgreSQL values (Decimal, aware datetime)."""
    row = dict(rec)
    for key in ("list_price", "unit_cost"):
        if row[key] is not None:
            row[key] = Decimal(row[key]).scaleb(-2)
    row["updated_at"] = utc(rec["updated_at"])
    return row
