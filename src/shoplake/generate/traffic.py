"""Who visits the shop: each day's clickstream of the shop, and benchmark traffic."""

from __future__ import annotations

import bisect
import random
from collections import defaultdict
from datetime import date
from typing import Any

from shoplake.errors import ConfigError
from shoplake.generate.batches import Counts
from shoplake.generate.clickstream import Catalog, FaultHook, HourlyWriter, Sessions
from shoplake.generate.faults import FILE_FAULTS, RECORD_FAULTS
from shoplake.generate.formats import DAY_MS, HOUR_MS, Writer, utc
from shoplake.generate.world import World, convert, currency_for
from shoplake.lake import Lake

#: Share of sessions that end in a purchase in the benchmark clickstream (generate_clickstream;
#: the shop itself converts by region, weekday and campaign: see data.REGION_CONVERSION).
CONVERSION = 0.03
#: Share of sessions from visitors who are logged in.
KNOWN_VISITORS = 0.35
#: Clickstream events per order, on average over campaigns and weekdays: the purchase
#: session and the visits that did not buy (measured: 60 days x 200 orders/day, seed 42).
EVENTS_PER_ORDER = 86.0


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
    catalog = catalog_of(world)
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


def catalog_of(world: World) -> Catalog:
    """The shop's catalog as sessions browse it: price history and popularity."""
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


class ClickPlan:
    """What every day of the shop's clickstream needs, made once before the days run."""

    def __init__(self, world: World, seed: int, faults: bool) -> None:
        self.world, self.seed = world, seed
        self.catalog = catalog_of(world)
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
