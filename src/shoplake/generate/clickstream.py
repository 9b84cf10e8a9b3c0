"""Clickstream: sessions as funnels, written as hourly NDJSON files, fast.

Lines are assembled from precomputed pieces with string formatting (no ``json.dumps`` per
event): a session's constant tail (user, session, agent, ip), per-product attribute
snippets and per-hour timestamp prefixes. Every piece is free of ``"`` and ``\\`` (see
``data``), so the lines are valid JSON; the tests parse every line.

An event is held as ``(t_ms, body)`` where ``body`` is the line after the event_time
value. Events are bucketed by UTC hour; an hour is written once no later session can
still add to it. A writer may own only some hours (one day's, when days are written in
parallel): events of its sessions in other hours go to a ``_carry`` file of their hour.
"""

from __future__ import annotations

import bisect
import math
import random
from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime, timedelta
from operator import itemgetter
from urllib.parse import quote_plus

from shoplake.generate import data
from shoplake.generate.batches import Counts
from shoplake.generate.faults import bad_click_line, broken_click_file
from shoplake.generate.formats import HOUR_MS, Writer, format_amount, gzip_bytes, utc
from shoplake.generate.world import convert
from shoplake.lake import Lake

Event = tuple[int, str]
_time = itemgetter(0)
MAX_SESSION_MS = 45 * 60 * 1000
#: Whole-hour offsets (minutes) some clickstream producers write local times with.
CLICK_OFFSETS = (60, 120, -300, -240, 540, 0)


class Catalog:
    """What sessions need of the products: ids, page URLs, popularity, price history."""

    def __init__(self, history: dict[str, list[tuple[int, int]]], popularity: dict[str, float]):
        self.ids = sorted(history)
        self.history = [sorted(history[i]) for i in self.ids]
        self.cum: list[float] = []
        total = 0.0
        for i in self.ids:
            total += popularity[i]
            self.cum.append(total)
        slugs = [f"/p/{i.lower()}" for i in self.ids]
        self.paths = slugs
        self._prices: list[int] = []
        self._snippets: dict[str, list[str | None]] = {}

    def set_time(self, ms: int) -> None:
        """Prices as of ``ms`` (the generators call this at the start of each day)."""
        self._prices = []
        for hist in self.history:
            k = bisect.bisect(hist, (ms, 1 << 62)) - 1
            self._prices.append(hist[max(k, 0)][1])
        self._snippets.clear()

    def price(self, i: int) -> int:
        """List price (USD cents) of product ``i`` at the time set by :meth:`set_time`."""
        return self._prices[i]

    def pick(self, rnd: float) -> int:
        return bisect.bisect(self.cum, rnd * self.cum[-1])

    def snippets(self, currency: str) -> list[str | None]:
        """Per product, its cached attributes snippet in ``currency`` (None: not made yet)."""
        cache = self._snippets.get(currency)
        if cache is None:
            cache = self._snippets[currency] = [None] * len(self.ids)
        return cache

    def snippet(self, i: int, currency: str) -> str:
        """The attributes of a product_view / add_to_cart of product ``i``."""
        price = format_amount(convert(self._prices[i], currency))
        s = (
            f', "attributes": {{"product_id": "{self.ids[i]}", "price": "{price}", '
            f'"currency": "{currency}"}}'
        )
        self.snippets(currency)[i] = s
        return s


class Sessions:
    """Builds the events of one visit: a funnel that most visitors leave early."""

    def __init__(self, rng: random.Random, catalog: Catalog) -> None:
        self.rng = rng
        self.catalog = catalog
        self._queries = [(q, quote_plus(q)) for q in data.SEARCH_QUERIES]
        # body prefixes (everything after event_time up to the session's tail) per site
        self._search: dict[str, list[str]] = {}
        self._landing: dict[str, list[str]] = {}
        self._view: dict[str, list[str]] = {}
        self._cart: dict[str, list[str]] = {}
        for base in (data.SHOP, data.MOBILE_SHOP):
            self._search[base] = [
                f'", "action": "search", "page_url": "{base}/search?q={qq}", '
                f'"attributes": {{"query": "{q}"}}'
                for q, qq in self._queries
            ]
            self._landing[base] = [
                f'", "action": "page_view", "page_url": "{base}{page}"'
                for page in data.LANDING_PAGES
            ]
            self._view[base] = [
                f'", "action": "product_view", "page_url": "{base}{path}"' for path in catalog.paths
            ]
            self._cart[base] = [
                f'", "action": "add_to_cart", "page_url": "{base}{path}"' for path in catalog.paths
            ]

    def _tail(self, user_id: str, device: str) -> tuple[str, str]:
        """The end of every line of a session (user, session, agent, ip) and its site."""
        rng = self.rng
        if device == "desktop":
            agents, base = data.DESKTOP_AGENTS, data.SHOP
        elif device == "mobile_web":
            agents, base = data.MOBILE_AGENTS[:2], data.SHOP
        else:
            agents, base = data.MOBILE_AGENTS[2:], data.MOBILE_SHOP
        agent = agents[int(rng.random() * len(agents))]
        bits = rng.getrandbits(96)
        octets = data.IP_FIRST_OCTETS
        ip = (
            f"{octets[(bits & 255) % len(octets)]}.{(bits >> 8) & 255}."
            f"{(bits >> 16) & 255}.{((bits >> 24) & 255) or 1}"
        )
        tail = (
            f', "user_id": "{user_id}", "session_id": "s-{bits >> 32:016x}", '
            f'"user_agent": "{agent}", "ip": "{ip}"}}\n'
        )
        return tail, base

    def browse(self, start: int, user_id: str, device: str, currency: str) -> list[Event]:
        """A visit that does not buy: bounce, browse, cart, maybe an abandoned checkout."""
        rnd = self.rng.random
        log = math.log
        cat = self.catalog
        cum, total = cat.cum, cat.cum[-1]
        snippet = cat.snippet
        snips = cat.snippets(currency)
        tail, base = self._tail(user_id, device)
        searches, landings = self._search[base], self._landing[base]
        views, carts = self._view[base], self._cart[base]
        n_search, n_landing = len(searches), len(landings)
        out: list[Event] = []
        add = out.append
        t = start
        deadline = start + MAX_SESSION_MS
        if rnd() < 0.22:
            add((t, f"{searches[int(rnd() * n_search)]}{tail}"))
        else:
            add((t, f"{landings[int(rnd() * n_landing)]}{tail}"))
        cart: list[int] = []
        last = -1
        stay = 0.55
        while rnd() < stay and t < deadline:
            stay = 0.68
            t += 1000 + int(-25000.0 * log(1.0 - rnd()))
            r = rnd()
            if r < 0.7 or last < 0:
                last = bisect.bisect(cum, rnd() * total)
                snip = snips[last] or snippet(last, currency)
                add((t, f"{views[last]}{snip}{tail}"))
                if rnd() < 0.12:
                    t += 2000 + int(-8000.0 * log(1.0 - rnd()))
                    add((t, f"{carts[last]}{snip}{tail}"))
                    cart.append(last)
            elif r < 0.82:
                add((t, f"{searches[int(rnd() * n_search)]}{tail}"))
            elif r < 0.93 or not cart:
                add((t, f"{landings[int(rnd() * n_landing)]}{tail}"))
            elif rnd() < 0.35:
                gone = cart.pop()
                add((t, f'", "action": "remove_from_cart", "page_url": "{base}/cart", '
                        f'"attributes": {{"product_id": "{cat.ids[gone]}"}}{tail}'))  # fmt: skip
            else:
                add((t, f'", "action": "checkout_start", "page_url": "{base}/checkout", '
                        f'"attributes": {{"items": {len(cart)}}}{tail}'))  # fmt: skip
                break
        return out

    def purchase(
        self,
        at: int,
        user_id: str,
        device: str,
        order_id: str,
        currency: str,
        net_cents: int,
        lines: Iterable[tuple[str, int]],
    ) -> list[Event]:
        """A visit that ends in the order placed at ``at`` (the purchase event)."""
        rng = self.rng
        tail, base = self._tail(user_id, device)
        steps: list[str] = []
        if rng.random() < 0.3:
            q, qq = rng.choice(self._queries)
            steps.append(f'", "action": "search", "page_url": "{base}/search?q={qq}", '
                         f'"attributes": {{"query": "{q}"}}{tail}')  # fmt: skip
        else:
            page = rng.choice(data.LANDING_PAGES)
            steps.append(f'", "action": "page_view", "page_url": "{base}{page}"{tail}')
        items = 0
        for product_id, unit in lines:
            url = f"{base}/p/{product_id.lower()}"
            snip = (
                f', "attributes": {{"product_id": "{product_id}", '
                f'"price": "{format_amount(unit)}", "currency": "{currency}"}}'
            )
            steps.append(f'", "action": "product_view", "page_url": "{url}"{snip}{tail}')
            steps.append(f'", "action": "add_to_cart", "page_url": "{url}"{snip}{tail}')
            items += 1
        steps.append(f'", "action": "checkout_start", "page_url": "{base}/checkout", '
                     f'"attributes": {{"items": {items}}}{tail}')  # fmt: skip
        revenue = format_amount(net_cents)
        steps.append(
            f'", "action": "purchase", "page_url": "{base}/checkout/complete", '
            f'"attributes": {{"order_id": "{order_id}", "revenue": "{revenue}", '
            f'"currency": "{currency}"}}{tail}'
        )
        t = at + rng.randrange(50, 900)  # the purchase event fires just after the order
        out: list[Event] = []
        for body in reversed(steps):
            out.append((t, body))
            t -= 3000 + int(rng.expovariate(1 / 40000))
        out.reverse()
        return out


def _prefix(hour: int, style: str, offset_min: int) -> str:
    moment = utc(hour * HOUR_MS)
    if style == "offset":
        return f"{moment + timedelta(minutes=offset_min):%Y-%m-%dT%H:}"
    if style == "naive":
        return f"{moment:%Y-%m-%d %H:}"
    return f"{moment:%Y-%m-%dT%H:}"


def _suffix(style: str, offset_min: int) -> str:
    if style == "offset":
        sign = "+" if offset_min >= 0 else "-"
        return f"{sign}{abs(offset_min) // 60:02d}:00"
    return "" if style == "naive" else "Z"


_MMSS = [f"{m:02d}:{sec:02d}." for m in range(60) for sec in range(60)]
_MILLIS = [f"{i:03d}" for i in range(1000)]


def format_lines(events: list[Event], style: str, offset_min: int) -> list[str]:
    """NDJSON lines of time-sorted events, timestamps in one spelling (ms precision)."""
    suffix = _suffix(style, offset_min)
    mmss, millis = _MMSS, _MILLIS
    out: list[str] = []
    add = out.append
    hour = -1
    head = ""
    for t, body in events:
        h = t // HOUR_MS
        if h != hour:
            hour, head = h, f'{{"event_time": "{_prefix(h, style, offset_min)}'
        r = t - h * HOUR_MS
        add(f"{head}{mmss[r // 1000]}{millis[r % 1000]}{suffix}{body}")
    return out


class HourlyWriter:
    """Collects events per UTC hour and writes raw/clickstream/YYYY/MM/DD/HH/ files."""

    def __init__(
        self,
        lake: Lake,
        writer: Writer,
        seed: int,
        *,
        t_start: int,
        t_end: int,
        gzip_share: float = 0.15,
        resend_share: float = 0.0,
        faults: FaultHook | None = None,
        hours: tuple[int, int] | None = None,
        tag: str = "",
    ) -> None:
        """``hours``: the [first, end) hours this writer owns (None: all); events in other
        hours go to a ``_carry{tag}`` file of their hour, late files are named with ``tag``.
        """
        self.lake, self.writer, self.seed = lake, writer, seed
        self.hours, self.tag = hours, tag
        self.t_start, self.t_end = t_start, t_end
        self.gzip_share, self.resend_share = gzip_share, resend_share
        self.faults = faults
        self.counts = Counts()
        self._hours: dict[int, list[Event]] = defaultdict(list)
        self._late: dict[int, list[Event]] = defaultdict(list)

    def add(self, events: list[Event], late_hours: int = 0) -> int:
        """Add a session's events (those inside the window); returns how many were kept."""
        if not events:
            return 0
        first, last = events[0][0], events[-1][0]
        if first < self.t_start or last >= self.t_end:
            events = [e for e in events if self.t_start <= e[0] < self.t_end]
            if not events:
                return 0
            first, last = events[0][0], events[-1][0]
        if late_hours:  # offline batches land on the next 6-hour sync
            landing = last // HOUR_MS + late_hours
            self._late[landing + (-landing) % 6].extend(events)
        elif first // HOUR_MS == last // HOUR_MS:
            self._hours[first // HOUR_MS].extend(events)
        else:
            hours = self._hours
            for e in events:
                hours[e[0] // HOUR_MS].append(e)
        self.counts.records += len(events)
        return len(events)

    def flush_before(self, hour: int) -> None:
        for h in sorted(k for k in self._hours if k < hour):
            self._write_hour(h, self._hours.pop(h))

    def close(self) -> Counts:
        self.flush_before(1 << 62)
        for h in sorted(self._late):
            events = sorted(self._late.pop(h), key=_time)
            rng = random.Random(f"{self.seed}:clickstream:late:{h}")
            style, off, gz = self._style(rng)
            lines = format_lines(events, style, off)
            name = f"clickstream_{utc(h * HOUR_MS):%Y%m%d%H}_late{self.tag}.json"
            self._put(h, name, lines, gz)
            self.counts.late_files += 1
        return self.counts

    def _style(self, rng: random.Random) -> tuple[str, int, bool]:
        style = rng.choices(("zms", "offset", "naive"), (75, 13, 12))[0]
        offset = rng.choice(CLICK_OFFSETS) if style == "offset" else 0
        return style, offset, rng.random() < self.gzip_share

    def _put(self, hour: int, name: str, lines: list[str], gz: bool) -> bytes:
        data = "".join(lines).encode()
        if gz:
            data, name = gzip_bytes(data, level=1), name + ".gz"
        self.writer.write(f"{self.landing(hour)}/{name}", data)
        self.counts.files += 1
        return data

    def landing(self, hour: int) -> str:
        """The landing prefix (raw/clickstream/YYYY/MM/DD/HH) of an hour since the epoch."""
        moment = utc(hour * HOUR_MS)
        return self.lake.landing_prefix("clickstream", datetime(*moment.timetuple()[:4]))

    def _write_hour(self, h: int, events: list[Event]) -> None:
        events.sort(key=_time)  # stable: same-time events keep their order
        if self.hours is not None and not self.hours[0] <= h < self.hours[1]:
            rng = random.Random(f"{self.seed}:clickstream:{h}:carry{self.tag}")
            style, off, gz = self._style(rng)
            stem = f"clickstream_{utc(h * HOUR_MS):%Y%m%d%H}_carry{self.tag}"
            self._put(h, f"{stem}.json", format_lines(events, style, off), gz)
            return
        rng = random.Random(f"{self.seed}:clickstream:{h}")
        style, off, gz = self._style(rng)
        lines = format_lines(events, style, off)
        stem = f"clickstream_{utc(h * HOUR_MS):%Y%m%d%H}"
        parts = [lines]
        if len(lines) > 20 and rng.random() < 0.1:
            cut = rng.randrange(len(lines) // 4, 3 * len(lines) // 4)
            parts = [lines[:cut], lines[cut:]]
        resend = rng.random() < self.resend_share
        later = h + rng.randrange(0, 4)
        if self.faults is not None:
            self.faults.hour(h, parts[0], self, records=not resend)
        for k, part in enumerate(parts):
            data = self._put(h, f"{stem}_{k:02d}.json", part, gz)
            if k == 0 and resend:
                suffix = ".json.gz" if gz else ".json"
                self.writer.write(f"{self.landing(later)}/{stem}_{k:02d}_resent{suffix}", data)
                self.counts.files += 1
                self.counts.duplicates += len(part)


class FaultHook:
    """Puts bad lines into chosen hours and writes broken copies of chosen hour files."""

    def __init__(
        self, rng: random.Random, records: dict[int, list[str]], files: dict[int, list[str]]
    ):
        self.rng = rng
        self.records = records  # hour -> record-level fault kinds to add to its first file
        self.files = files  # hour -> file-level fault kinds (broken extra files)

    def hour(self, h: int, lines: list[str], out: HourlyWriter, *, records: bool) -> None:
        """Writes the hour's broken files; if ``records``, mixes bad lines into ``lines``."""
        for k, kind in enumerate(self.files.get(h, ())):
            name, payload = broken_click_file(kind, lines, self.rng)
            stem = f"clickstream_{utc(h * HOUR_MS):%Y%m%d%H}_{name}{k}"
            suffix = ".json.gz" if kind == "unreadable_gzip" else ".json"
            out.writer.write(f"{out.landing(h)}/{stem}{suffix}", payload)
            out.counts.files += 1
            out.counts.add_fault(kind)
        extra: dict[int, list[str]] = defaultdict(list)
        for kind in self.records.get(h, ()) if records else ():
            i = self.rng.randrange(len(lines))
            extra[i].append(bad_click_line(kind, lines[i], self.rng))
            out.counts.add_fault(kind)
        if extra:
            lines[:] = [x for i, line in enumerate(lines) for x in (line, *extra.get(i, ()))]
