"""A small hand-made silver lake for the warehouse checks (no generator, no ingest).

Writes ``<lake>/silver/<dataset>/year=YYYY/month=MM/day=DD/data.parquet`` with exactly the
columns and types of ``Dataset.silver_columns`` (contract.py), one row per key, mutable
entities with one row per version, lineage columns filled. Deterministic for a seed.

``SilverFixture.add_increment`` simulates what the next ingest run publishes: a new
business day, plus late records and status changes for earlier days, all carrying the
new run's ``ingested_at`` — exactly the case the incremental facts must handle.
"""

from __future__ import annotations

import random
import shutil
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import duckdb
import pyarrow as pa

from shoplake.contract import DATASETS, click_id, format_utc

COUNTRIES = {  # country -> currency
    "US": "USD",
    "CA": "CAD",
    "MX": "USD",
    "BR": "USD",
    "GB": "GBP",
    "DE": "EUR",
    "FR": "EUR",
    "PT": "EUR",
    "ZA": "USD",
    "AE": "USD",
    "JP": "USD",
    "AU": "AUD",
    "IN": "USD",
}
SEGMENTS = ("consumer", "small_business", "corporate")
CATEGORIES = {
    "electronics": ("audio", "phones"),
    "home": ("kitchen", "garden"),
    "fashion": ("shoes", "bags"),
}

_ARROW = {
    "VARCHAR": pa.string(),
    "TIMESTAMP": pa.timestamp("us"),
    "DECIMAL(18,2)": pa.decimal128(18, 2),
    "BIGINT": pa.int64(),
    "BOOLEAN": pa.bool_(),
    "DATE": pa.date32(),
    "DECIMAL(20,10)": pa.decimal128(20, 10),
}


def _money(x: float) -> Decimal:
    return Decimal(f"{x:.2f}")


class SilverFixture:
    """Rows of every dataset kept in memory and written out as silver partitions."""

    def __init__(self, lake: Path, seed: int = 7) -> None:
        self.lake = Path(lake)
        self.rng = random.Random(seed)
        self.rows: dict[str, list[dict]] = {name: [] for name in DATASETS}
        self.run = 0
        self.orders: list[dict] = []  # latest version of each order
        self.n_orders = self.n_sales = self.n_payments = 0

    # ---------------------------------------------------------------- helpers
    def _lineage(self, dataset: str, ingested_at: datetime) -> dict:
        return {
            "source_file": f"raw/{dataset}/{ingested_at:%Y/%m/%d}/run{self.run}.csv",
            "source_line": len(self.rows[dataset]) + 2,
            "ingested_at": ingested_at,
            "run_id": f"run-{self.run:04d}",
            "ingest_seq": self.run,
        }

    def _add(self, dataset: str, ingested_at: datetime, **values) -> dict:
        row = {**values, **self._lineage(dataset, ingested_at)}
        self.rows[dataset].append(row)
        return row

    # ---------------------------------------------------------------- entities
    def _customers(self, ingested_at: datetime, n: int, since: datetime) -> None:
        for i in range(n):
            cid = f"C{i:05d}"
            country = self.rng.choice(sorted(COUNTRIES))
            segment = self.rng.choice(SEGMENTS)
            signup = since - timedelta(days=self.rng.randint(30, 400))
            base = {
                "customer_id": cid,
                "email": f"User{i}@Example.com ",
                "first_name": f"First{i}",
                "last_name": f"Last{i}",
                "segment": segment,
                "signup_ts": signup,
                "address_city": "City",
                "address_region": "Region",
                "address_postal_code": f"{10000 + i}",
                "address_country": country,
                "marketing_opt_in": i % 2 == 0,
            }
            self._add("customers", ingested_at, **base, updated_at=signup)
            if i % 4 == 0:  # a second version: the customer moved segment
                other = SEGMENTS[(SEGMENTS.index(segment) + 1) % 3]
                self._add(
                    "customers",
                    ingested_at,
                    **{**base, "segment": other},
                    updated_at=since - timedelta(days=self.rng.randint(1, 20)),
                )

    def _products(self, ingested_at: datetime, n: int, since: datetime) -> None:
        for i in range(n):
            category = sorted(CATEGORIES)[i % 3]
            base = {
                "product_id": f"P{i:04d}",
                "sku": f"SKU-{i:04d}",
                "name": f"Product {i}",
                "category": category,
                "subcategory": CATEGORIES[category][i % 2],
                "brand": f"Brand{i % 5}",
                "list_price": _money(5 + (i * 7.3) % 200),
                "unit_cost": _money(2 + (i * 3.1) % 90),
                "is_active": True,
            }
            self._add("products", ingested_at, **base, updated_at=since - timedelta(days=60))
            if i % 5 == 0:
                self._add(
                    "products",
                    ingested_at,
                    **{**base, "list_price": base["list_price"] + 1},
                    updated_at=since - timedelta(days=3),
                )

    def _order(
        self,
        day: date,
        ingested_at: datetime,
        n_customers: int,
        n_products: int,
        country: str | None = None,
    ):
        self.n_orders += 1
        oid = f"O{self.n_orders:07d}"
        cid = f"C{self.rng.randrange(n_customers):05d}"
        country = country or self.rng.choice(sorted(COUNTRIES))
        ts = datetime(
            day.year, day.month, day.day, self.rng.randint(0, 23), self.rng.randint(0, 59)
        )
        order = {
            "order_id": oid,
            "customer_id": cid,
            "order_ts": ts,
            "status": "placed",
            "channel": self.rng.choice(("web", "mobile", "marketplace")),
            "currency": COUNTRIES[country],
            "shipping_country": country,
            "updated_at": ts,
        }
        self._add("orders", ingested_at, **order)
        # status moves on within the day for most orders
        final = self.rng.choice(("paid", "shipped", "delivered", "cancelled", "returned", "paid"))
        order = {**order, "status": final, "updated_at": ts + timedelta(minutes=30)}
        self._add("orders", ingested_at, **order)
        self.orders.append(order)
        total = Decimal("0")
        for _ in range(self.rng.randint(1, 3)):
            total += self._sale(order, ingested_at, n_products)
        self._payment(order, total, ingested_at)
        self._session(order, ingested_at, n_products)
        return order

    def _sale(self, order: dict, ingested_at: datetime, n_products: int, late: bool = False):
        self.n_sales += 1
        qty = self.rng.randint(1, 4)
        price = _money(self.rng.uniform(3, 150))
        discount = _money(float(price) * qty * self.rng.choice((0, 0, 0.1, 0.05)))
        self._add(
            "sales",
            ingested_at,
            sale_id=f"S{self.n_sales:08d}",
            order_id=order["order_id"],
            product_id=f"P{self.rng.randrange(n_products):04d}",
            quantity=qty,
            unit_price=price,
            discount_amount=discount,
            sold_at=order["order_ts"] + timedelta(minutes=1 if not late else 5),
        )
        return price * qty - discount

    def _payment(self, order: dict, amount: Decimal, ingested_at: datetime) -> None:
        self.n_payments += 1
        failed = self.rng.random() < 0.1
        self._add(
            "payments",
            ingested_at,
            payment_id=f"PAY{self.n_payments:07d}",
            order_id=order["order_id"],
            payment_ts=order["order_ts"] + timedelta(minutes=2),
            method=self.rng.choice(("card", "paypal", "bank_transfer", "gift_card")),
            status="failed" if failed else "captured",
            amount=amount,
            currency=order["currency"],
        )

    def _click(self, ingested_at: datetime, **event) -> None:
        event.setdefault("page_url", "https://shop.example.com/")
        event.setdefault("user_agent", "Mozilla/5.0 (X11; Linux x86_64)")
        event.setdefault("ip", "203.0.113.7")
        event.setdefault("attributes", None)
        event.setdefault("product_id", None)
        event.setdefault("order_id", None)
        event["click_id"] = click_id(
            format_utc(event["event_time"]),
            event["user_id"],
            event["session_id"],
            event["action"],
            event["page_url"],
        )
        self._add("clickstream", ingested_at, **event)

    def _session(self, order: dict, ingested_at: datetime, n_products: int) -> None:
        sid = f"s-{order['order_id']}"
        t = order["order_ts"] - timedelta(minutes=10)
        pid = f"P{self.rng.randrange(n_products):04d}"
        user = order["customer_id"]
        steps = [
            ("page_view", None, None, "https://shop.example.com/"),
            ("product_view", pid, None, f"https://shop.example.com/p/{pid}"),
            ("add_to_cart", pid, None, "https://shop.example.com/cart"),
            ("checkout_start", None, None, "https://shop.example.com/checkout"),
            ("purchase", None, order["order_id"], "https://shop.example.com/checkout/complete"),
        ]
        for k, (action, product, oid, url) in enumerate(steps):
            attrs = None
            if product:
                attrs = f'{{"product_id": "{product}"}}'
            if oid:
                attrs = f'{{"order_id": "{oid}"}}'
            self._click(
                ingested_at,
                event_time=t + timedelta(minutes=2 * k),
                user_id=user,
                session_id=sid,
                action=action,
                page_url=url,
                attributes=attrs,
                product_id=product,
                order_id=oid,
            )

    def _browse(self, day: date, ingested_at: datetime, k: int) -> None:
        t = datetime(day.year, day.month, day.day, 12, k % 60, 7)
        sid = f"s-anon-{day:%Y%m%d}-{k}"
        self._click(
            ingested_at, event_time=t, user_id=f"anon-{k}", session_id=sid, action="page_view"
        )
        if k % 2:
            self._click(
                ingested_at,
                event_time=t + timedelta(seconds=30),
                user_id=f"anon-{k}",
                session_id=sid,
                action="search",
                page_url="https://shop.example.com/search?q=x",
            )

    # ---------------------------------------------------------------- public
    def build_base(
        self, start: date, days: int, orders_per_day: int = 12, ingested_at: datetime | None = None
    ) -> SilverFixture:
        self.run += 1
        self.start, self.days = start, days
        self.n_customers, self.n_products = 40, 25
        ingested = ingested_at or datetime(2026, 11, 1, 6, 0)
        since = datetime(start.year, start.month, start.day)
        self._customers(ingested, self.n_customers, since)
        self._products(ingested, self.n_products, since)
        for d in range(days):
            day = start + timedelta(days=d)
            for _ in range(orders_per_day + (d % 3)):
                self._order(day, ingested, self.n_customers, self.n_products)
            for k in range(4):
                self._browse(day, ingested, k)
        return self

    def add_increment(self, ingested_at: datetime | None = None) -> SilverFixture:
        """Next ingest run: one new day, late lines/payments/clicks and status changes."""
        self.run += 1
        ingested = ingested_at or datetime(2026, 11, 2, 6, 0)
        new_day = self.start + timedelta(days=self.days)
        self.days += 1
        for _ in range(8):
            self._order(new_day, ingested, self.n_customers, self.n_products)
        # status changes of earlier orders (a new version, later updated_at)
        for order in self.orders[:5]:
            status = "delivered" if order["status"] != "cancelled" else "cancelled"
            changed = {**order, "status": "returned" if status == "delivered" else status}
            changed["updated_at"] = order["updated_at"] + timedelta(days=3)
            self._add("orders", ingested, **changed)
        # late order lines and payments for old orders (their business day is in the past)
        for order in self.orders[5:8]:
            amount = self._sale(order, ingested, self.n_products, late=True)
            self._payment(order, amount, ingested)
        # an order whose lines had not arrived: header now, lines in this same run
        late_day = self.start + timedelta(days=1)
        self._order(late_day, ingested, self.n_customers, self.n_products)
        # a customer changes segment, a product changes price
        first = next(r for r in self.rows["customers"] if r["customer_id"] == "C00001")
        cust = {c: first[c] for c, _ in DATASETS["customers"].silver_columns if c in first}
        for c in ("source_file", "source_line", "ingested_at", "run_id"):
            cust.pop(c, None)
        cust["segment"] = "corporate" if cust["segment"] != "corporate" else "consumer"
        cust["updated_at"] = datetime(new_day.year, new_day.month, new_day.day, 9)
        self._add("customers", ingested, **cust)
        prod = {c: v for c, v in self.rows["products"][1].items()}
        for c in ("source_file", "source_line", "ingested_at", "run_id"):
            prod.pop(c, None)
        prod["list_price"] = prod["list_price"] + 2
        prod["updated_at"] = datetime(new_day.year, new_day.month, new_day.day, 8)
        self._add("products", ingested, **prod)
        for k in range(4):
            self._browse(new_day, ingested, 100 + k)
        self._browse(self.start, ingested, 200)  # a late click for the first day
        return self

    def add_orders(
        self, days: list[date], country: str, ingested_at: datetime, new_run: bool = True
    ) -> list[dict]:
        """Orders (with lines, a payment and a session) shipped to ``country`` on each day,
        written by the next ingest run (or the current one, ``new_run=False``)."""
        if new_run:
            self.run += 1
        return [
            self._order(day, ingested_at, self.n_customers, self.n_products, country)
            for day in days
        ]

    def add_rates(self, rates: list[tuple[str, str, str]], ingested_at: datetime) -> None:
        """An exchange-rate delivery, as the next ingest run publishes it: silver keeps
        every distinct (rate_date, currency, usd_per_unit); ``rates`` are such triples
        (ISO date, currency, decimal text)."""
        self.run += 1
        for day, currency, rate in rates:
            self._add(
                "exchange_rates",
                ingested_at,
                rate_date=date.fromisoformat(day),
                currency=currency,
                usd_per_unit=Decimal(rate),
            )

    def write(self) -> Path:
        """(Re)write every silver partition from the rows in memory."""
        con = duckdb.connect()
        for name, ds in DATASETS.items():
            target = self.lake / "silver" / name
            shutil.rmtree(target, ignore_errors=True)
            cols = ds.silver_columns
            schema = pa.schema([(c, _ARROW[t]) for c, t in cols])
            table = pa.Table.from_pylist(
                [{c: r.get(c) for c, _ in cols} for r in self.rows[name]], schema=schema
            )
            con.register("rows_in", table)
            order_by = ", ".join(ds.key)
            days = con.execute(
                f"select distinct cast({ds.business_ts} as date) from rows_in"
            ).fetchall()
            for (day,) in days:
                path = target / f"year={day:%Y}" / f"month={day:%m}" / f"day={day:%d}"
                path.mkdir(parents=True, exist_ok=True)
                out = str(path / "data.parquet").replace("'", "''")  # paths with quotes
                con.execute(
                    f"copy (select * from rows_in where cast({ds.business_ts} as date) = "
                    f"'{day:%Y-%m-%d}' order by {order_by}) to '{out}' (format parquet)"
                )
            con.unregister("rows_in")
        con.close()
        return self.lake
