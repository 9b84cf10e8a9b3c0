"""Exchange-rate files: the long layout of the contract, and the wide central-bank one.

The long layout (``rate_date, currency, usd_per_unit``) is an ordinary contract CSV. The
wide layout is what central banks publish, e.g. the ECB's historical reference rates: a
``Date`` column, then one column per currency code holding units of that currency per
one EUR; an empty cell or ``N/A`` means no rate that day. Each rate of a wide file
becomes one long record, converted to US dollars per unit through the USD column of the
same date (``usd_per_unit = USD per EUR / units per EUR``; the USD column itself gives
EUR's rate), rounded half up to the contract's ``RATE_DECIMALS``. The records are then
validated like any other (:mod:`shoplake.ingest.validate`): a cell that is not a number,
or a date without a usable USD rate, is quarantined with its reason, the record as
delivered (``raw_record``: the date, the currency's cell and the USD cell) and the line.
"""

from __future__ import annotations

import csv
import io
import json
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from shoplake.contract import RATE_DECIMALS, Dataset, Field, Format, Kind
from shoplake.ingest.readers import FileRejected, RawRecords, read_csv

#: The date column of the wide layout (matched case-insensitively, like every header).
WIDE_DATE = "date"
#: The currency the wide layout's rates are quoted in, and the column converted through.
WIDE_BASE, WIDE_THROUGH = "EUR", "USD"
#: Cells that mean "no rate that day" (besides an empty cell), compared case-insensitively.
NO_RATE = ("n/a", "na", "-")
_QUANTUM = Decimal(1).scaleb(-RATE_DECIMALS)


def read_rates(ds: Dataset, data: bytes) -> RawRecords:
    """Records of an exchange-rate CSV in either layout (decoded UTF-8 bytes)."""
    text = data.decode("utf-8")
    header = _header(text)
    if header is None or ds.fields[0].raw_name in header or WIDE_DATE not in header:
        return read_csv(ds, text)  # the long layout (or no header: its usual errors)
    return read_wide(ds, text, header)


def _header(text: str) -> list[str] | None:
    """The lower-cased header names of a CSV text, or None when it has no usable header."""
    try:
        row = next(csv.reader(io.StringIO(text, newline=""), strict=True))
    except (StopIteration, csv.Error):
        return None
    return [h.strip().lower() for h in row]


def read_wide(ds: Dataset, text: str, header: list[str]) -> RawRecords:
    """One long record per rate of a wide file (Date + one column per currency)."""
    if WIDE_THROUGH.lower() not in header:
        raise FileRejected(
            "missing_columns",
            "wide exchange-rate CSV (Date, then units per EUR of each currency) has no "
            f"{WIDE_THROUGH} column to convert through",
        )
    codes = [h for h in dict.fromkeys(header) if h and h != WIDE_DATE]
    layout = Dataset(
        name=ds.name,
        format=Format.CSV,
        fields=(
            Field(WIDE_DATE, Kind.TEXT, required=True),
            *(Field(code, Kind.TEXT) for code in codes),
        ),
        key=(WIDE_DATE,),
        business_ts=WIDE_DATE,
        description="wide exchange-rate layout",
    )
    rows = read_csv(layout, text)
    out = RawRecords(ds)
    out.extra_columns = rows.extra_columns - (1 if "" in header else 0)  # trailing comma
    date_name, currency_name, rate_name = (f.name for f in ds.fields)
    for i, line in enumerate(rows.lines):
        if rows.parse_error[i] is not None:  # unparseable or too large: one record
            out.add(line, rows.raw[i], parse_error=rows.parse_error[i])
            continue
        day = rows.values[WIDE_DATE][i]
        through_cell = rows.values[WIDE_THROUGH.lower()][i]
        through = _number(through_cell)
        for code in codes:
            cell = rows.values[code][i]
            if cell is None or cell.lower() in NO_RATE:
                continue  # no rate that day
            base = code == WIDE_THROUGH.lower()
            delivered = {"Date": day, WIDE_THROUGH: through_cell}
            if not base:
                delivered[code.upper()] = cell
            out.add(
                line,
                json.dumps(delivered, ensure_ascii=False),
                {
                    date_name: day,
                    currency_name: WIDE_BASE if base else code.upper(),
                    rate_name: _usd_per_unit(cell, through, base=base),
                },
            )
    return out


def _number(text: str | None) -> Decimal | None:
    """A positive decimal, or None (empty, N/A, not a number, zero or negative)."""
    if text is None:
        return None
    try:
        value = Decimal(text)
    except InvalidOperation:
        return None
    return value if value.is_finite() and value > 0 else None


def _usd_per_unit(cell: str, through: Decimal | None, *, base: bool) -> str | None:
    """The raw ``usd_per_unit`` text of one wide cell.

    A cell that is not a positive number is passed on as delivered, so validation names
    it (``wrong_type`` or ``out_of_range``); without a USD rate that day the value is
    missing (``missing_required``)."""
    units = _number(cell)
    if units is None:
        return cell
    if base:  # the USD column: dollars per EUR are EUR's usd_per_unit
        return _rate_text(units)
    if through is None:
        return None
    return _rate_text(through / units)


def _rate_text(value: Decimal) -> str:
    return format(value.quantize(_QUANTUM, rounding=ROUND_HALF_UP), "f")
