"""``shoplake generate``: realistic, deterministic raw data for the lake.

One producer of data under the raw contract (docs/contract.md): orders,
sales and payments as CSV exports, customers as JSON API pages, the product catalog as
CSV dumps (or loaded into PostgreSQL for ``shoplake extract products``), and hourly
NDJSON clickstream, and a daily exchange-rate feed (``rates``). Same arguments and seed,
same bytes.

What the data looks like:

* a simulated shop (``world``): a catalog with long-tailed popularity and price changes,
  customers who sign up before their first order and come back Pareto-style, orders with
  weekly and daily seasonality that go placed -> paid -> shipped -> delivered (some
  cancelled or returned), each status change re-sent with a later ``updated_at``;
  payments that fail and are retried, authorisations, refunds; five currencies;
* sessions (``clickstream``): funnels that mostly end early, and for every web and app
  order a session that ends in its ``purchase`` event;
* delivery (``batches``, ``formats``): a day's export split into files, some files late,
  a few delivered twice, and every valid format variant mixed in;
* with ``faults``, every kind of bad input the contract lists (``faults``), counted.

The shop is simulated in one process; the batch datasets and each day of clickstream are
then written by worker processes (one per CPU), each part from a generator seeded by its
own name, so the files do not depend on the number of workers. Clickstream is written hour
by hour as the day's sessions advance (a day's worth of events at most is held).

The counts go to the report and, as JSON, to ``_state/generate/summary.json``.
"""

from __future__ import annotations

import bisect
import json
import multiprocessing
import os
import random
import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from shoplake.errors import ConfigError
from shoplake.generate.batches import BatchWriter, Counts, plan
from shoplake.generate.clickstream import Catalog, FaultHook, HourlyWriter, Sessions
from shoplake.generate.faults import FILE_FAULTS, RECORD_FAULTS
from shoplake.generate.formats import DAY_MS, HOUR_MS, Writer, utc
from shoplake.generate.rates import write_rates
from shoplake.generate.world import World, convert, currency_for
from shoplake.lake import Lake
from shoplake.report import Report

__all__ = ["Counts", "GenerateReport", "generate", "generate_clickstream", "orders_per_day_for"]

BATCH_DATASETS = ("orders", "sales", "payments", "customers", "products")
DATASET_ORDER = (*BATCH_DATASETS, "clickstream", "exchange_rates")
#: Share of sessions that end in a purchase in the benchmark clickstream (generate_clickstream;
#: the shop itself converts by region, weekday and campaign: see data.REGION_CONVERSION).
CONVERSION = 0.03
#: Share of sessions from visitors who are logged in.
KNOWN_VISITORS = 0.35
SUMMARY = ("generate", "summary.json")
#: Clickstream events per order, on average over campaigns and weekdays: the purchase
#: session and the visits that did not buy (measured: 60 days x 200 orders/day, seed 42).
EVENTS_PER_ORDER = 86.0


@dataclass
class GenerateReport:
    """What ``generate`` wrote: per dataset files, records, duplicates, faults."""

    start: date
    days: int
    orders_per_day: int
    seed: int
    faults: bool
    datasets: dict[str, Counts]
    products_loaded: int | None = None  # rows upserted into PostgreSQL, when a DSN was given
    summary_path: str | None = None  # where the counts were written (path or URL)
    seconds: float = 0.0
    bytes_written: int = 0

    def fault_totals(self) -> dict[str, int]:
        totals: dict[str, int] = defaultdict(int)
        for counts in self.datasets.values():
            for kind, n in counts.faults.items():
                totals[kind] += n
        return dict(sorted(totals.items()))

    def as_dict(self) -> dict[str, Any]:
        """Machine-readable counts (also written to ``_state/generate/summary.json``).

        Per dataset: ``records`` valid distinct records, ``duplicates`` records delivered
        again in exact copies of files, ``faults`` bad records or files per reason code
        (a broken file counts one), and what an ingest of exactly these files must
        account: ``read = records + duplicates + quarantined``.
        """
        datasets = {}
        for name in DATASET_ORDER:
            if name not in self.datasets:
                continue
            c = self.datasets[name]
            quarantined = sum(c.faults.values())
            datasets[name] = {
                "files": c.files,
                "records": c.records,
                "duplicates": c.duplicates,
                "late_files": c.late_files,
                "faults": dict(sorted(c.faults.items())),
                "expected_ingest": {
                    "read": c.records + c.duplicates + quarantined,
                    "written": c.records,
                    "quarantined": quarantined,
                    "duplicates": c.duplicates,
                },
            }
        return {
            "start": self.start.isoformat(),
            "days": self.days,
            "orders_per_day": self.orders_per_day,
            "seed": self.seed,
            "faults_requested": self.faults,
            "products_loaded_to_postgres": self.products_loaded,
            "datasets": datasets,
            "fault_totals": self.fault_totals(),
        }

    def as_report(self) -> Report:
        end = date.fromordinal(self.start.toordinal() + self.days - 1)
        rows = [
            (name, c.files, c.records, c.duplicates, c.late_files, sum(c.faults.values()))
            for name in DATASET_ORDER
            if (c := self.datasets.get(name)) is not None
        ]
        report = Report(
            title=f"Generated raw data for {self.start} .. {end} (seed {self.seed})",
            columns=("dataset", "files", "records", "duplicates", "late files", "faults"),
            rows=rows,
        )
        if self.products_loaded is not None:
            report.notes.append(
                f"products: catalog loaded into PostgreSQL ({self.products_loaded} rows "
                "inserted or changed); run `shoplake extract products` to land it in raw/"
            )
        totals = self.fault_totals()
        if totals:
            report.notes.append(
                "faults injected: " + ", ".join(f"{k}={v}" for k, v in totals.items())
            )
        mb = self.bytes_written / 1e6
        report.notes.append(f"wrote {mb:.1f} MB in {self.seconds:.1f} s")
        if self.summary_path is not None:
            report.notes.append(f"counts: {self.summary_path}")
        return report


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
        counts[name] = _merged(counts[name], part) if name in counts else part
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


def orders_per_day_for(events: int, days: int) -> int:
    """The ``orders_per_day`` that makes about ``events`` clickstream events in ``days``."""
    return max(1, round(events / (days * EVENTS_PER_ORDER)))


def generate_clickstream(lake: Lake, *, start: date, days: int, events: int, seed: int = 42) -> int:
    """Write about ``events`` valid clickstream events (and nothing else) over ``days``
    days from ``start``; returns the exact number written.

    For benchmarks: no duplicate files and no faults, so an ingest of these files
    writes exactly the returned number of events. Purchases carry made-up order ids.
    """
    if days < 1 or events < 0:
        raise ConfigError(f"cannot generate {events} events over {days} days", setting="events")
    world = World(start, days, 400, seed)
    world.build_catalog(random.Random(f"{seed}:catalog"))
    rng = random.Random(f"{seed}:clickstream-bench")
    catalog = _catalog(world)
    sessions = Sessions(rng, catalog)
    with Writer(lake) as writer:
        out = HourlyWriter(lake, writer, seed, t_start=world.t0, t_end=world.t_end)
        geo = world.geo
        first_hour = world.t0 // HOUR_MS
        budgets = _hour_budgets(world, events)
        rnd = rng.random
        currencies = [currency_for(code) for code in geo.codes]
        order_seq = 0
        for k, budget in enumerate(budgets):
            h = first_hour + k
            if k % 24 == 0:
                catalog.set_time(h * HOUR_MS)
                order_seq = 0
            while budget > 0:
                t = h * HOUR_MS + int(rnd() * HOUR_MS)
                currency = currencies[bisect.bisect(geo.cum, rnd() * geo.cum[-1])]
                device = _device(rng)
                if rnd() < KNOWN_VISITORS:
                    user = f"C{1 + int(rnd() * 50_000):06d}"
                else:
                    user = f"anon-{rng.getrandbits(40):010x}"
                if rnd() < CONVERSION:
                    order_seq += 1
                    lines = []
                    for _ in range(rng.choice((1, 1, 1, 2, 3))):
                        i = catalog.pick(rng.random())
                        lines.append((catalog.ids[i], convert(catalog.price(i), currency)))
                    order_id = f"O{utc(t):%y%m%d}{order_seq:05d}"
                    net = sum(unit for _, unit in lines)
                    evs = sessions.purchase(t, user, device, order_id, currency, net, lines)
                else:
                    evs = sessions.browse(t, user, device, currency)
                budget -= out.add(evs if len(evs) <= budget else evs[:budget])
            out.flush_before(h)
        return out.close().records


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
        self.clicks = _ClickPlan(world, seed, faults)

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


def _merged(a: Counts, b: Counts) -> Counts:
    faults = dict(a.faults)
    for kind, n in b.faults.items():
        faults[kind] = faults.get(kind, 0) + n
    return Counts(
        files=a.files + b.files,
        records=a.records + b.records,
        duplicates=a.duplicates + b.duplicates,
        late_files=a.late_files + b.late_files,
        faults=faults,
    )


# helpers ---------------------------------------------------------------------------------
def _catalog(world: World) -> Catalog:
    history: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for _, rec in world.out["products"]:
        history[rec["product_id"]].append((rec["updated_at"], rec["list_price"]))
    return Catalog(history, {p.product_id: p.popularity for p in world.products})


def _hour_budgets(world: World, events: int) -> list[int]:
    """Events per hour of the window: daily curve of the customer mix, weekly rhythm."""
    from shoplake.generate import data

    geo = world.geo
    curve = [0.0] * 24
    prev = 0.0
    for code, cum in zip(geo.codes, geo.cum, strict=True):
        share, prev = cum - prev, cum
        off = geo.offset[code]
        for h in range(24):
            curve[h] += share * data.LOCAL_HOURS[(h + off) % 24]
    weights = [
        data.WEEKDAY_ORDERS[date.fromordinal(world.start.toordinal() + d).weekday()] * curve[h]
        for d in range(world.days)
        for h in range(24)
    ]
    total = sum(weights)
    exact = [events * w / total for w in weights]
    budgets = [int(x) for x in exact]
    by_remainder = sorted(range(len(exact)), key=lambda i: (budgets[i] - exact[i], i))
    for i in by_remainder[: events - sum(budgets)]:
        budgets[i] += 1
    return budgets


class _ClickPlan:
    """What every day of the shop's clickstream needs, made once before the days run."""

    def __init__(self, world: World, seed: int, faults: bool) -> None:
        self.world, self.seed = world, seed
        self.catalog = _catalog(world)
        self.purchases: dict[int, list[Any]] = defaultdict(list)
        for order in world.orders:
            self.purchases[order.order_ms // HOUR_MS].append(order)
        self.fault_records: dict[int, list[str]] | None = None
        self.fault_files: dict[int, list[str]] = {}
        if faults:
            first_hour, end_hour = world.t0 // HOUR_MS, world.t_end // HOUR_MS
            frng = random.Random(f"{seed}:faults:clickstream")
            busy = [h for h in range(first_hour, end_hour) if 9 <= h % 24 <= 21]
            records: dict[int, list[str]] = defaultdict(list)
            for kind in RECORD_FAULTS["clickstream"]:
                for _ in range(frng.randint(2, 4)):
                    records[frng.choice(busy)].append(kind)
            files: dict[int, list[str]] = defaultdict(list)
            for kind in FILE_FAULTS["clickstream"]:
                for _ in range(frng.randint(1, 2)):
                    files[frng.choice(busy)].append(kind)
            self.fault_records, self.fault_files = dict(records), dict(files)

    def day(self, lake: Lake, writer: Writer, d: int) -> Counts:
        """Write the sessions that start on day ``d`` (a pure function of the seed and d).

        Hours of the day get their usual files; events of these sessions that fall into a
        neighbouring day's hour go to a ``_carry`` file there, offline app sessions to
        ``_late`` files tagged with the day, so days can be written in any order, at once.
        """
        world, seed, catalog = self.world, self.seed, self.catalog
        rng = random.Random(f"{seed}:clickstream:{d}")
        sessions = Sessions(rng, catalog)
        hook = None
        if self.fault_records is not None:
            frng = random.Random(f"{seed}:faults:clickstream:{d}")
            hook = FaultHook(frng, self.fault_records, self.fault_files)
        day0 = world.t0 + d * DAY_MS
        first = day0 // HOUR_MS
        out = HourlyWriter(
            lake,
            writer,
            seed,
            t_start=world.t0,
            t_end=world.t_end,
            resend_share=0.01,
            faults=hook,
            hours=(first, first + 24),
            tag=f"{utc(day0):%Y%m%d}",
        )
        geo = world.geo
        purchases = self.purchases
        catalog.set_time(day0)
        pool = world.pool_at_day[d]
        # visits that do not buy: so many per purchase as the visitor's country, the
        # weekday and any campaign convert, plus every checkout an outage lost
        visitors: list[tuple[str, float]] = [
            (o.country, o.visits_without_purchase)
            for h in range(24)
            for o in purchases.get(first + h, ())
        ]
        visitors += [(c, 1 / world.conversion(c, d)) for _, c in world.lost_checkouts[d]]
        starts: dict[int, list[tuple[int, str]]] = defaultdict(list)
        owed = 0.0
        for country, visits in visitors:
            owed += visits
            while owed >= 1:
                owed -= 1
                t = day0 + geo.time_of_day_ms(rng, country) - rng.randrange(1000)
                starts[t // HOUR_MS].append((t, country))
        for h in range(first, first + 24):
            for o in purchases.get(h, ()):
                device = "app" if o.channel == "mobile" else rng.choice(("desktop", "mobile_web"))
                evs = sessions.purchase(
                    o.order_ms, o.customer_id, device, o.order_id, o.currency, o.net_cents, o.lines
                )
                out.add(evs, _late_hours(rng, device))
            for t, country in sorted(starts.get(h, ())):
                device = _device(rng)
                if pool and rng.random() < KNOWN_VISITORS:
                    c = world.pick_customer(pool, rng)
                    user, currency = c.customer_id, currency_for(c.country)
                else:
                    user, currency = f"anon-{rng.getrandbits(40):010x}", currency_for(country)
                out.add(sessions.browse(t, user, device, currency), _late_hours(rng, device))
            out.flush_before(h)
        return out.close()


def _device(rng: random.Random) -> str:
    r = rng.random()
    return "desktop" if r < 0.45 else "mobile_web" if r < 0.7 else "app"


def _late_hours(rng: random.Random, device: str) -> int:
    """App sessions recorded offline arrive hours or days later."""
    if device == "app" and rng.random() < 0.005:
        return rng.randint(2, 72)
    return 0


def _product_row(rec: dict[str, Any]) -> dict[str, Any]:
    """A catalog record as PostgreSQL values (Decimal, aware datetime)."""
    row = dict(rec)
    for key in ("list_price", "unit_cost"):
        if row[key] is not None:
            row[key] = Decimal(row[key]).scaleb(-2)
    row["updated_at"] = utc(rec["updated_at"])
    return row
