"""The generated shop's exchange-rate feed (dataset ``exchange_rates`` of the contract).

Daily reference rates as a bank delivers them, so the demo converts with delivered rates
rather than the bundled demo rates: no rates on Saturdays and Sundays (weekend amounts
convert with Friday's rate, at most 7 days older), a first delivery with the week
before the window (history), then one file per business day, landed that afternoon;
one of them also corrects the previous business day's GBP rate. All in the long layout
(``rate_date, currency, usd_per_unit``); the wide central-bank layout is for real feeds
(tests write it by hand). Rates wander a little around the generator's fixed price
rates (``data.FX``).
"""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from shoplake.generate import data
from shoplake.generate.batches import Counts
from shoplake.generate.formats import Writer
from shoplake.lake import Lake

DATASET = "exchange_rates"
#: The currencies quoted (USD is always 1 and needs no rate).
QUOTED = tuple(c for c in data.FX if c != "USD")
#: Days of history the first (wide) delivery covers before the window.
HISTORY_DAYS = 7


def _business_days(first: date, last: date) -> list[date]:
    days, day = [], first
    while day <= last:
        if day.weekday() < 5:
            days.append(day)
        day += timedelta(days=1)
    return days


def _usd_per_unit(rng: random.Random, days: list[date]) -> dict[date, dict[str, Decimal]]:
    """A small random walk of each currency's USD rate around 1 / data.FX."""
    level = {c: 1 / data.FX[c] for c in QUOTED}
    out: dict[date, dict[str, Decimal]] = {}
    for day in days:
        for c in QUOTED:
            level[c] *= 1 + rng.gauss(0, 0.003)
        out[day] = {c: _decimal(level[c], 6) for c in QUOTED}
    return out


def _decimal(value: float, places: int) -> Decimal:
    return Decimal(repr(value)).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


def write_rates(lake: Lake, writer: Writer, start: date, days: int, seed: int) -> Counts:
    """Write the feed for the window ``start`` .. ``start + days - 1``; returns its counts."""
    rng = random.Random(f"{seed}:rates")
    history = _business_days(start - timedelta(days=HISTORY_DAYS), start - timedelta(days=1))
    window = _business_days(start, start + timedelta(days=days - 1))
    rates = _usd_per_unit(rng, history + window)
    counts = Counts()

    def deliver(landed: datetime, name: str, text: str, records: int) -> None:
        writer.write(f"{lake.landing_prefix(DATASET, landed)}/{name}", text.encode())
        counts.files += 1
        counts.records += records

    def text(rows: list[tuple[date, str, Decimal]]) -> str:
        return "rate_date,currency,usd_per_unit\n" + "".join(f"{d},{c},{r}\n" for d, c, r in rows)

    if history:
        rows = [(day, c, rates[day][c]) for day in history for c in QUOTED]
        landed = datetime(start.year, start.month, start.day, 6)
        deliver(landed, "reference-rates-history.csv", text(rows), len(rows))
    for k, day in enumerate(window):
        rows = [(day, c, rates[day][c]) for c in QUOTED]
        if k == 2:  # a correction of the previous business day's GBP rate
            before = window[k - 1]
            rows.append((before, "GBP", rates[before]["GBP"] + Decimal("0.001")))
        landed = datetime(day.year, day.month, day.day, 16)
        deliver(landed, f"reference-rates-{day:%Y%m%d}.csv", text(rows), len(rows))
    return counts
