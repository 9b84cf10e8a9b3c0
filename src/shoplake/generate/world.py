"""The simulated shop: catalog, customers and orders with their life cycles.

Everything is a pure function of the arguments and the seed. Times are integer epoch
milliseconds (UTC), money is integer cents. The output is, per dataset, a list of
``(export_ms, record)``: ``record`` is keyed by the contract's raw field names with typed
values, ``export_ms`` is when the source system exported it (its landing time).
"""

from __future__ import annotations

import bisect
import itertools
import math
import random
import unicodedata
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from shoplake.contract import countries
from shoplake.generate import data
from shoplake.generate.formats import DAY_MS, HOUR_MS, SECOND_MS

QUANTITIES = (1, 2, 3, 4, 6, 10)
QUANTITY_WEIGHTS = (70, 18, 6, 3, 2, 1)
BUSINESS_QUANTITY_WEIGHTS = (30, 25, 15, 10, 10, 10)
#: Days before the window when the source systems were migrated (see World._history_ms).
MIGRATION_DAYS = 30
Rows = list[tuple[int, dict[str, Any]]]


@dataclass
class Product:
    product_id: str
    sku: str
    name: str
    category: str
    subcategory: str | None
    brand: str | None
    list_cents: int
    cost_cents: int | None
    is_active: bool
    updated_ms: int
    popularity: float

    def record(self) -> dict[str, Any]:
        return {
            "product_id": self.product_id,
            "sku": self.sku,
            "name": self.name,
            "category": self.category,
            "subcategory": self.subcategory,
            "brand": self.brand,
            "list_price": self.list_cents,
            "unit_cost": self.cost_cents,
            "is_active": self.is_active,
            "updated_at": self.updated_ms,
        }


@dataclass
class Customer:
    customer_id: str
    email: str
    first_name: str
    last_name: str
    segment: str
    signup_ms: int
    city: str | None
    region: str | None
    postal_code: str | None
    country: str
    opt_in: bool
    updated_ms: int

    def record(self) -> dict[str, Any]:
        return {
            "customer_id": self.customer_id,
            "email": self.email,
            "first_name": self.first_name,
            "last_name": self.last_name,
            "segment": self.segment,
            "signup_ts": self.signup_ms,
            "address": {
                "city": self.city,
                "region": self.region,
                "postal_code": self.postal_code,
                "country": self.country,
            },
            "marketing_opt_in": self.opt_in,
            "updated_at": self.updated_ms,
        }


@dataclass
class Order:
    """What the clickstream needs to know about an order."""

    order_id: str
    customer_id: str
    order_ms: int
    channel: str
    currency: str
    net_cents: int
    lines: list[tuple[str, int]] = field(default_factory=list)  # (product_id, unit cents)
    country: str = ""  # the customer's country
    #: Visits that did not buy for this one that did (1 / conversion - 1)
    visits_without_purchase: float = 0.0


@dataclass(frozen=True)
class ShopDay:
    """What kind of day the shop has: a campaign, a checkout outage (UTC ms window)."""

    campaign: bool = False
    outage: tuple[int, int] | None = None


def shop_calendar(rng: random.Random, t0: int, days: int) -> list[ShopDay]:
    """Campaigns (a few days every few weeks) and rare checkout outages, day by day."""
    calendar: list[ShopDay] = []
    campaign_left = 0
    for d in range(days):
        if campaign_left == 0 and rng.random() < data.CAMPAIGN_START:
            campaign_left = rng.randint(*data.CAMPAIGN_DAYS)
        outage = None
        if rng.random() < data.OUTAGE_CHANCE:
            start = t0 + d * DAY_MS + rng.randrange(0, 20) * HOUR_MS
            outage = (start, start + rng.randint(*data.OUTAGE_HOURS) * HOUR_MS)
        calendar.append(ShopDay(campaign=campaign_left > 0, outage=outage))
        campaign_left = max(0, campaign_left - 1)
    return calendar


def currency_for(country: str) -> str:
    if country in data.EUROZONE:
        return "EUR"
    return data.CURRENCY_OF.get(country, "USD")


def convert(usd_cents: int, currency: str) -> int:
    """A USD list price in another currency, rounded to a price point ending in 9."""
    if currency == "USD":
        return usd_cents
    cents = round(usd_cents * data.FX[currency])
    return max(9, cents - cents % 10 + 9) if cents >= 1000 else cents


class Geography:
    """Where customers live: countries with their weights, offsets and address formats."""

    def __init__(self) -> None:
        table = countries()
        tail = sorted(c for c in table if c not in data.PLACES)
        self.codes = [*data.PLACES, *tail]
        tail_weight = data.LONG_TAIL_SHARE / len(tail)
        weights = [data.PLACES[c][0] for c in data.PLACES] + [tail_weight] * len(tail)
        self.cum = list(itertools.accumulate(weights))
        self.region = {c: table[c].region for c in self.codes}
        self.offset = {
            c: data.PLACES[c][1] if c in data.PLACES else data.REGION_OFFSET[self.region[c]]
            for c in self.codes
        }
        # cumulative weights of the UTC hour of activity, per UTC offset
        self._hours: dict[int, list[float]] = {}
        for off in set(self.offset.values()):
            w = [data.LOCAL_HOURS[(h + off) % 24] for h in range(24)]
            self._hours[off] = list(itertools.accumulate(w))

    def country(self, rng: random.Random) -> str:
        return self.codes[bisect.bisect(self.cum, rng.random() * self.cum[-1])]

    def time_of_day_ms(self, rng: random.Random, country: str) -> int:
        """A UTC time of day (ms after midnight, whole seconds, > 0) shaped by local hours."""
        cum = self._hours[self.offset[country]]
        hour = bisect.bisect(cum, rng.random() * cum[-1])
        return hour * HOUR_MS + (1 + int(rng.random() * 3599)) * SECOND_MS

    def address(
        self, rng: random.Random, country: str
    ) -> tuple[str | None, str | None, str | None]:
        place = data.PLACES.get(country)
        if place is None:
            return None, None, None
        city, region = rng.choice(place[3])
        postal = "".join(
            str(rng.randrange(10))
            if ch == "9"
            else chr(65 + rng.randrange(26))
            if ch == "A"
            else ch
            for ch in place[2]
        )
        return city, region, postal or None


def _ascii(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(ch for ch in folded.lower() if ch.isalnum())


class World:
    """Runs the shop day by day and collects what each source system exports."""

    def __init__(self, start: date, days: int, orders_per_day: int, seed: int) -> None:
        self.start, self.days, self.per_day = start, days, orders_per_day
        self.t0 = to_ms_date(start)
        self.t_end = self.t0 + days * DAY_MS
        self.rng = random.Random(f"{seed}:world")
        self.geo = Geography()
        self.out: dict[str, Rows] = {n: [] for n in ("orders", "sales", "payments")}
        self.out["customers"] = []
        self.out["products"] = []
        self.orders: list[Order] = []  # web and mobile orders, for the clickstream
        self.calendar = shop_calendar(random.Random(f"{seed}:calendar"), self.t0, days)
        #: Per day, the (time, country) of web and app checkouts lost to an outage: their
        #: visits happened, their orders did not.
        self.lost_checkouts: list[list[tuple[int, str]]] = [[] for _ in range(days)]
        self.pool_at_day: list[int] = []  # customers who had signed up when each day began
        self.products: list[Product] = []
        self.customers: list[Customer] = []
        self._cust_cum: list[float] = []
        self._active: list[Product] = []
        self._active_cum: list[float] = []

    # catalog -------------------------------------------------------------------------
    def build_catalog(self, catalog_rng: random.Random) -> None:
        """A few hundred to 2000 products, long-tailed popularity; depends on seed only."""
        rng = catalog_rng
        n = min(2000, max(200, 5 * self.per_day))
        subcats = [
            (cat, code, sub)
            for cat, (code, subs) in data.CATALOG.items()
            for sub in subs
            for _ in range(round(4 * data.CATEGORY_WEIGHT[cat]))
        ]
        ranks = list(range(1, n + 1))
        rng.shuffle(ranks)
        for i in range(n):
            cat, code, (sub, sub_code, lo, hi, nouns) = rng.choice(subcats)
            brand = rng.choice(data.BRANDS)
            name = f"{brand} {rng.choice(data.ADJECTIVES)} {rng.choice(nouns)}"
            if rng.random() < 0.4:
                name += f", {rng.choice(data.VARIANTS)}"
            if i % 50 == 7:  # a few names span two lines
                name += "\n(gift set, 3 pieces)"
            usd = lo * math.exp(rng.random() * math.log(hi / lo))
            list_cents = max(99, int(usd) * 100 + rng.choice((99, 49, 95, 0)))
            self.products.append(
                Product(
                    product_id=f"P{i + 1:05d}",
                    sku=f"{code}-{sub_code}-{i + 1:05d}",
                    name=name,
                    category=cat,
                    subcategory=sub if rng.random() > 0.02 else None,
                    brand=brand if rng.random() > 0.03 else None,
                    list_cents=list_cents,
                    cost_cents=round(list_cents * rng.uniform(0.35, 0.72)),
                    is_active=rng.random() > 0.04,
                    updated_ms=self._history_ms(rng, self.t0 - 400 * DAY_MS),
                    popularity=ranks[i] ** -1.1,
                )
            )
        for p in self.products:
            self.out["products"].append((self.t0, p.record()))
        self._refresh_active()

    def _refresh_active(self) -> None:
        self._active = [p for p in self.products if p.is_active]
        self._active_cum = list(itertools.accumulate(p.popularity for p in self._active))

    def pick_product(self, rng: random.Random) -> Product:
        return self._active[bisect.bisect(self._active_cum, rng.random() * self._active_cum[-1])]

    def _change_product(self, p: Product, at: int) -> None:
        rng = self.rng
        r = rng.random()
        if r < 0.12 and p.is_active:
            p.is_active = False
        elif r < 0.2 and not p.is_active:
            p.is_active = True
        else:
            factor = rng.choice((0.8, 0.85, 0.9, 0.95, 1.05, 1.1, 1.15))
            p.list_cents = max(99, int(p.list_cents * factor) // 100 * 100 + 99)
            if p.cost_cents is not None and rng.random() < 0.3:
                p.cost_cents = round(p.cost_cents * rng.uniform(0.95, 1.08))
            if p.cost_cents is not None and p.cost_cents >= p.list_cents * 0.9:
                p.cost_cents = round(p.list_cents * 0.7)
        p.updated_ms = at
        self.out["products"].append((at, p.record()))

    # customers -----------------------------------------------------------------------
    def _new_customer(self, signup_ms: int, country: str | None = None) -> Customer:
        rng = self.rng
        country = country or self.geo.country(rng)
        region = self.geo.region[country]
        first = rng.choice(data.FIRST_NAMES[region])
        last = rng.choice(data.LAST_NAMES[region])
        city, state, postal = self.geo.address(rng, country)
        day = f"{_date_of(signup_ms):%y%m%d}" if signup_ms >= self.t0 else ""
        seq = len(self.customers) + 1
        cid = f"C{day}{seq:05d}" if day else f"C{seq:06d}"
        segments = [name for name, _ in data.SEGMENTS_WEIGHTS]
        segment = rng.choices(segments, [weight for _, weight in data.SEGMENTS_WEIGHTS])[0]
        c = Customer(
            customer_id=cid,
            email=f"{_ascii(first)}.{_ascii(last)}{seq}@{rng.choice(data.EMAIL_DOMAINS)}",
            first_name=first,
            last_name=last,
            segment=segment,
            signup_ms=signup_ms,
            city=city,
            region=state,
            postal_code=postal,
            country=country,
            opt_in=rng.random() < 0.45,
            updated_ms=signup_ms,
        )
        self.customers.append(c)
        weight = min(rng.paretovariate(1.2), 60.0)
        self._cust_cum.append((self._cust_cum[-1] if self._cust_cum else 0.0) + weight)
        return c

    def _emit_customer(self, c: Customer) -> None:
        export = max(c.updated_ms, self.t0)
        self.out["customers"].append((export, c.record()))

    def _change_customer(self, c: Customer, at: int) -> None:
        rng = self.rng
        r = rng.random()
        if r < 0.45:
            c.opt_in = not c.opt_in
        elif r < 0.8:
            country = c.country if rng.random() > 0.1 else self.geo.country(rng)
            c.city, c.region, c.postal_code = self.geo.address(rng, country)
            c.country = country
        elif r < 0.95:
            c.segment = {"consumer": "small_business", "small_business": "corporate"}.get(
                c.segment, "small_business"
            )
        else:
            c.email = c.email.replace("@", ".new@", 1)
        c.updated_ms = at
        self._emit_customer(c)

    def pick_customer(self, pool: int, rng: random.Random | None = None) -> Customer:
        """One of the first ``pool`` customers, returning customers weighted Pareto-like."""
        rng = rng or self.rng
        i = bisect.bisect(self._cust_cum, rng.random() * self._cust_cum[pool - 1], 0, pool)
        return self.customers[i]

    # the simulation ------------------------------------------------------------------
    def _history_ms(self, rng: random.Random, created: int) -> int:
        """Last change before the window of a record created at ``created``.

        The source systems were migrated MIGRATION_DAYS before the window (which stamped
        most older records); the rest changed since. This keeps the initial snapshot in a
        few dozen business-date partitions instead of hundreds.
        """
        migrated = self.t0 - MIGRATION_DAYS * DAY_MS + 3 * HOUR_MS
        if created >= migrated:
            return created
        if rng.random() < 0.65:
            return migrated
        return migrated + rng.randrange(1, (self.t0 - migrated) // SECOND_MS) * SECOND_MS

    def run(self, catalog_rng: random.Random) -> World:
        self.build_catalog(catalog_rng)
        rng = self.rng
        base = max(100, self.per_day * 15)
        for _ in range(base):
            signup = self.t0 - rng.randrange(1, 730 * 24 * 3600) * SECOND_MS
            c = self._new_customer(signup)
            c.updated_ms = self._history_ms(rng, signup)
            if c.updated_ms != signup and rng.random() < 0.3:
                c.opt_in = not c.opt_in
            self._emit_customer(c)
        for d in range(self.days):
            self._day(d)
        return self

    def _day(self, d: int) -> None:
        rng = self.rng
        day0 = self.t0 + d * DAY_MS
        weekday = _weekday(self.start, d)  # 0 = Monday
        today = self.calendar[d]
        rate = self.per_day * data.WEEKDAY_ORDERS[weekday]
        if today.campaign:
            rate *= data.CAMPAIGN_ORDERS
        n = max(0, round(rate * rng.gauss(1, 0.06)))
        pool = len(self.customers)
        self.pool_at_day.append(pool)
        events: list[tuple[int, int, str, Any]] = []
        seq = itertools.count()
        for _ in range(n):
            if rng.random() < 0.38:
                who: Any = self.geo.country(rng)  # a new customer
                country = who
            else:
                who = self.pick_customer(pool)
                country = who.country
            events.append((day0 + self.geo.time_of_day_ms(rng, country), next(seq), "order", who))
        for _ in range(round(n * 0.08)):  # sign-ups that do not order
            country = self.geo.country(rng)
            at = day0 + self.geo.time_of_day_ms(rng, country)
            events.append((at, next(seq), "signup", country))
        for _ in range(_poisson(rng, pool * 0.002)):
            c = self.customers[rng.randrange(pool)]
            events.append((day0 + self.geo.time_of_day_ms(rng, c.country), next(seq), "cust", c))
        for _ in range(_poisson(rng, len(self.products) * 0.004)):
            at = day0 + rng.randrange(6 * 3600, 20 * 3600) * SECOND_MS
            events.append((at, next(seq), "product", rng.choice(self.products)))
        events.sort(key=lambda e: (e[0], e[1]))
        order_seq = itertools.count(1)
        for at, _, kind, what in events:
            if kind == "order":
                if today.outage and today.outage[0] <= at < today.outage[1]:
                    country = what if isinstance(what, str) else what.country
                    self.lost_checkouts[d].append((at, country))
                    continue
                if isinstance(what, str):
                    signup = max(day0, at - rng.randrange(60, 2400) * SECOND_MS)
                    what = self._new_customer(min(signup, at - SECOND_MS), what)
                    self._emit_customer(what)
                order_id = f"O{_date_of(day0):%y%m%d}{next(order_seq):05d}"
                self._order(what, at, order_id, d)
            elif kind == "signup":
                self._emit_customer(self._new_customer(at, what))
            elif kind == "cust":
                if what.updated_ms < at:
                    self._change_customer(what, at)
            else:
                if what.updated_ms < at:
                    self._change_product(what, at)
                    self._refresh_active()

    def conversion(self, country: str, d: int) -> float:
        """Share of day ``d``'s web and app visits from ``country`` that end in a purchase."""
        rate = data.REGION_CONVERSION[self.geo.region[country]]
        rate *= data.WEEKDAY_CONVERSION[_weekday(self.start, d)]
        return rate * (data.CAMPAIGN_CONVERSION if self.calendar[d].campaign else 1.0)

    def _order(self, c: Customer, at: int, order_id: str, d: int) -> None:
        rng = self.rng
        weekday, campaign = _weekday(self.start, d), self.calendar[d].campaign
        region = self.geo.region[c.country]
        country = c.country if rng.random() > 0.03 else self.geo.country(rng)
        currency = currency_for(country)
        mix = data.CHANNEL_MIX[weekday >= 5]
        channel = rng.choices(("web", "mobile", "marketplace"), mix)[0]
        n_lines = 1 + min(_geometric(rng, data.LINE_STOP[channel]), 5)
        products: list[Product] = []
        while len(products) < n_lines:
            p = self.pick_product(rng)
            if p not in products:
                products.append(p)
            elif len(self._active) <= n_lines:
                break
        order = Order(order_id, c.customer_id, at, channel, currency, 0, country=c.country)
        order.visits_without_purchase = 1 / self.conversion(c.country, d) - 1
        big = c.segment != "consumer"
        net = 0
        line_totals = []
        for i, p in enumerate(products, 1):
            qty = rng.choices(QUANTITIES, BUSINESS_QUANTITY_WEIGHTS if big else QUANTITY_WEIGHTS)[0]
            unit = convert(p.list_cents, currency)
            gross = qty * unit
            none, zero, _ = data.DISCOUNTS[campaign]
            r = rng.random()
            if r < none:
                discount = None
            elif r < none + zero:
                discount = 0
            else:
                discount = gross * rng.choice(data.DISCOUNT_PERCENTS[campaign]) // 100
            total = gross - (discount or 0)
            net += total
            line_totals.append(total)
            order.lines.append((p.product_id, unit))
            self.out["sales"].append(
                (
                    at,
                    {
                        "sale_id": f"S{order_id[1:]}-{i}",
                        "order_id": order_id,
                        "product_id": p.product_id,
                        "quantity": qty,
                        "unit_price": unit,
                        "discount_amount": discount,
                        "sold_at": at,
                    },
                )
            )
        order.net_cents = net
        versions, payments = self._life_cycle(order, region, line_totals, rng.random() < 0.12)
        header = {
            "order_id": order_id,
            "customer_id": c.customer_id,
            "order_ts": at,
            "status": "placed",
            "channel": channel,
            "currency": currency,
            "shipping_country": country,
            "updated_at": at,
        }
        for status, ts in versions:
            if ts < self.t_end:
                self.out["orders"].append((ts, {**header, "status": status, "updated_at": ts}))
        for k, (ts, method, status, cents) in enumerate(payments, 1):
            if ts < self.t_end:
                row = {
                    "payment_id": f"PAY{order_id[1:]}-{k}",
                    "order_id": order_id,
                    "payment_ts": ts,
                    "method": method,
                    "status": status,
                    "amount": cents,
                    "currency": currency,
                }
                self.out["payments"].append((ts, row))
        if channel != "marketplace":
            self.orders.append(order)

    def _life_cycle(
        self, o: Order, region: str, line_totals: list[int], returns_prone: bool
    ) -> tuple[list[tuple[str, int]], list[tuple[int, str, str, int]]]:
        """Status changes (status, time) and payments (time, method, status, cents)."""
        rng = self.rng
        t, net = o.order_ms, o.net_cents
        versions = [("placed", t)]
        pays: list[tuple[int, str, str, int]] = []

        def hours(lo: float, hi: float) -> int:
            return round(rng.uniform(lo, hi) * 3600) * SECOND_MS

        if o.channel == "marketplace":
            method = rng.choice(("card", "card", "paypal"))
        elif rng.random() < data.COD_SHARE[region]:
            method = "cash_on_delivery"
        else:
            mix = data.PAYMENT_MIX[region]
            method = rng.choices(list(mix), list(mix.values()))[0]

        if method == "cash_on_delivery":
            shipped = t + hours(6, 60)
            delivered = shipped + hours(24, 144)
            versions.append(("shipped", shipped))
            if rng.random() < 0.07:  # refused at the door
                versions.append(("cancelled", delivered))
                return versions, pays
            versions.append(("delivered", delivered))
            pays.append((delivered + hours(0, 0.1), method, "captured", net))
            return self._maybe_return(versions, pays, delivered, line_totals, returns_prone)

        if method == "bank_transfer":
            if rng.random() < 0.1:  # never paid
                versions.append(("cancelled", t + hours(168, 170)))
                return versions, pays
            paid = t + hours(4, 72)
        else:
            paid = t + rng.randrange(3, 90) * SECOND_MS
            if rng.random() < 0.07:  # declined
                pays.append((paid, method, "failed", net))
                if rng.random() < 0.25:
                    versions.append(("cancelled", paid + hours(1, 3)))
                    return versions, pays
                paid += rng.randrange(60, 1200) * SECOND_MS
                if rng.random() < 0.4:
                    method = rng.choice(("card", "paypal", "gift_card"))
            if method == "card" and rng.random() < 0.1:  # authorised, captured after review
                pays.append((paid, method, "authorized", net))
                paid += rng.randrange(60, 1800) * SECOND_MS
        pays.append((paid, method, "captured", net))
        versions.append(("paid", paid))
        if rng.random() < 0.025:  # cancelled by the customer before shipping
            cancelled = paid + hours(0.5, 20)
            versions.append(("cancelled", cancelled))
            pays.append((cancelled + hours(0.1, 24), method, "refunded", net))
            return versions, pays
        shipped = paid + hours(3, 48)
        delivered = shipped + hours(24, 144)
        versions += [("shipped", shipped), ("delivered", delivered)]
        return self._maybe_return(versions, pays, delivered, line_totals, returns_prone)

    def _maybe_return(
        self,
        versions: list[tuple[str, int]],
        pays: list[tuple[int, str, str, int]],
        delivered: int,
        line_totals: list[int],
        returns_prone: bool,
    ) -> tuple[list[tuple[str, int]], list[tuple[int, str, str, int]]]:
        rng = self.rng
        if rng.random() < (0.15 if returns_prone else 0.05):
            returned = delivered + round(rng.uniform(3, 20) * DAY_MS / 1000) * 1000
            versions.append(("returned", returned))
            method = pays[-1][1] if pays else "bank_transfer"
            if method == "cash_on_delivery":
                method = "bank_transfer"
            amount = sum(line_totals) if rng.random() < 0.6 else rng.choice(line_totals)
            refund = returned + round(rng.uniform(1, 4) * DAY_MS / 1000) * 1000
            pays.append((refund, method, "refunded", amount))
        return versions, pays


def to_ms_date(day: date) -> int:
    return (day.toordinal() - date(1970, 1, 1).toordinal()) * DAY_MS


def _date_of(ms: int) -> date:
    return date.fromordinal(date(1970, 1, 1).toordinal() + ms // DAY_MS)


def _weekday(start: date, d: int) -> int:
    return date.fromordinal(start.toordinal() + d).weekday()


def _poisson(rng: random.Random, mean: float) -> int:
    if mean <= 0:
        return 0
    if mean > 30:
        return max(0, round(rng.gauss(mean, math.sqrt(mean))))
    limit, k, p = math.exp(-mean), 0, rng.random()
    while p > limit:
        k += 1
        p *= rng.random()
    return k


def _geometric(rng: random.Random, p: float) -> int:
    """Failures before the first success, each trial succeeding with probability p."""
    k = 0
    while rng.random() > p:
        k += 1
    return k
