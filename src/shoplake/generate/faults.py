"""Bad input for ``--faults``: each bad record or file has exactly one problem, named by
the reason code ingest must quarantine it with (docs/lake.md, "Validation rules").

Bad records are extra copies of good records with one thing broken, inserted next to
the original; broken files are extra, broken renditions of files that are also delivered
intact. So the good data is the same with and without ``--faults``.
"""

from __future__ import annotations

import copy
import json
import random
from typing import Any

from shoplake.contract import Dataset, Field, Kind
from shoplake.generate.formats import format_amount, gzip_bytes

#: Record-level reason codes injected per dataset.
RECORD_FAULTS: dict[str, tuple[str, ...]] = {
    "orders": ("unparseable", "missing_required", "wrong_type", "out_of_enum", "future_timestamp"),
    "sales": ("unparseable", "missing_required", "wrong_type", "out_of_range", "future_timestamp"),
    "payments": (
        "unparseable",
        "missing_required",
        "wrong_type",
        "out_of_enum",
        "future_timestamp",
    ),
    "products": ("unparseable", "missing_required", "wrong_type", "future_timestamp"),
    "customers": (
        "not_an_object",
        "missing_required",
        "wrong_type",
        "out_of_enum",
        "future_timestamp",
    ),
    "clickstream": (
        "unparseable",
        "not_an_object",
        "missing_required",
        "wrong_type",
        "out_of_enum",
        "future_timestamp",
    ),
}
#: File-level reason codes injected per dataset.
FILE_FAULTS: dict[str, tuple[str, ...]] = {
    "orders": ("missing_columns", "unreadable_gzip"),
    "sales": ("missing_columns",),
    "payments": ("not_utf8",),
    "products": ("not_utf8", "missing_columns"),
    "customers": ("invalid_json", "not_object_or_array", "unreadable_gzip"),
    "clickstream": ("unreadable_gzip", "not_utf8"),
}
#: Name fragment of each kind of broken file (what a source would plausibly call it).
FILE_LABELS = {
    "missing_columns": "legacy",
    "unreadable_gzip": "upload",
    "not_utf8": "excel",
    "invalid_json": "partial",
    "not_object_or_array": "error",
}

#: Years added to make a timestamp lie in the future: a multiple of 4 keeps 29 February.
FUTURE_YEARS = 12
WRONG_VALUES = {
    Kind.TIMESTAMP: ("01/10/2026 14:05", "yesterday", "n/a"),
    Kind.AMOUNT: ("12,50", "N/A", "$19.99"),
    Kind.INTEGER: ("two", "1.5", "3 pcs"),
    Kind.BOOLEAN: ("yes", "no", "maybe"),
}


def future(text: str) -> str:
    """The same timestamp text, years later (beyond any ingest's 24 h tolerance)."""
    return f"{int(text[:4]) + FUTURE_YEARS:04d}{text[4:]}"


def _bad_enum(f: Field, value: str, rng: random.Random) -> str:
    if f.kind is Kind.COUNTRY:
        return value.lower()
    if f.kind is Kind.CURRENCY:
        return rng.choice(("JPY", "CHF", value.lower()))
    options = [value.capitalize(), value.upper(), "unknown", "pending", "other"]
    return rng.choice([o for o in options if o not in f.values])


def bad_csv_row(
    ds: Dataset, kind: str, cols: list[str], row: list[str], rng: random.Random
) -> list[str]:
    """A copy of a CSV row (as written) with one problem of ``kind``."""
    row = list(row)
    fields = [f for f in ds.fields if f.raw_name in cols]

    def pick(*kinds: Kind, required: bool = False) -> tuple[int, Field]:
        options = [f for f in fields if f.kind in kinds and (f.required or not required)]
        f = rng.choice(options)
        return cols.index(f.raw_name), f

    if kind == "unparseable":  # a truncated line: too few fields
        return row[: max(1, len(row) - rng.randint(1, 3))]
    if kind == "missing_required":
        i, _ = pick(*Kind, required=True)
        row[i] = ""
    elif kind == "wrong_type":
        i, f = pick(Kind.TIMESTAMP, Kind.AMOUNT, Kind.INTEGER, Kind.BOOLEAN)
        row[i] = rng.choice(WRONG_VALUES[f.kind])
    elif kind == "out_of_enum":
        i, f = pick(Kind.ENUM, Kind.CURRENCY, Kind.COUNTRY)
        row[i] = _bad_enum(f, row[i], rng)
    elif kind == "out_of_range":  # sales: no units, or a discount above the line's value
        q = cols.index("quantity")
        if rng.random() < 0.5:
            row[q] = "0"
        else:
            gross = int(row[q]) * _cents(row[cols.index("unit_price")])
            row[cols.index("discount_amount")] = format_amount(gross + rng.randint(1, 500))
    elif kind == "future_timestamp":
        i, _ = pick(Kind.TIMESTAMP, required=True)
        row[i] = future(row[i])
    else:
        raise ValueError(f"no CSV record fault {kind!r}")
    return row


def _cents(text: str) -> int:
    units, _, frac = text.partition(".")
    return int(units) * 100 + int((frac + "00")[:2])


def bad_customer(kind: str, obj: dict[str, Any], rng: random.Random) -> Any:
    """A copy of a customer object (as written) with one problem of ``kind``."""
    if kind == "not_an_object":
        return rng.choice((obj["customer_id"], None, 42, [obj["customer_id"], obj["email"]]))
    obj = copy.deepcopy(obj)
    r = rng.randrange(3)
    if kind == "missing_required":
        if r == 0:
            del obj["email"]
        elif r == 1:
            obj["address"]["country"] = None
        else:
            obj["segment"] = ""
    elif kind == "wrong_type":
        if r == 0:
            obj["marketing_opt_in"] = "yes"
        elif r == 1:
            obj["signup_ts"] = 1696156800
        else:
            obj["updated_at"] = "yesterday"
    elif kind == "out_of_enum":
        if r == 0:
            obj["address"]["country"] = obj["address"]["country"].lower()
        else:
            obj["segment"] = rng.choice(("vip", "Consumer", "enterprise"))
    elif kind == "future_timestamp":
        obj["updated_at"] = future(obj["updated_at"])
    else:
        raise ValueError(f"no customer fault {kind!r}")
    return obj


def bad_click_line(kind: str, line: str, rng: random.Random) -> str:
    """A copy of a clickstream line with one problem of ``kind``."""
    if kind == "unparseable":  # cut off mid-line
        return line[: len(line) // 2] + "\n"
    obj = json.loads(line)
    if kind == "not_an_object":
        return json.dumps([obj["event_time"], obj["user_id"], obj["action"]]) + "\n"
    if kind == "missing_required":
        del obj[rng.choice(("session_id", "user_id", "action"))]
    elif kind == "wrong_type":
        if rng.random() < 0.5:
            obj["event_time"] = 1790000000
        else:
            obj["user_id"] = 12345
    elif kind == "out_of_enum":
        obj["action"] = rng.choice(("click", "Purchase", "add-to-cart"))
    elif kind == "future_timestamp":
        obj["event_time"] = future(obj["event_time"])
    else:
        raise ValueError(f"no clickstream fault {kind!r}")
    return json.dumps(obj, ensure_ascii=False) + "\n"


def truncated_gzip(data: bytes) -> bytes:
    """A gzip stream cut off part-way (an interrupted upload)."""
    packed = gzip_bytes(data)
    return packed[: max(12, len(packed) * 2 // 3)]


def not_utf8(text: str) -> bytes:
    """The text as a legacy encoding would write it: Windows-1252, or UTF-16 if plain ASCII."""
    data = text.encode("cp1252", errors="replace")
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return data
    return text.encode("utf-16")


def broken_click_file(kind: str, lines: list[str], rng: random.Random) -> tuple[str, bytes]:
    """(name label, bytes) of a broken rendition of an hour's lines."""
    sample = lines[: rng.randint(5, 50)]
    if kind == "unreadable_gzip":
        return FILE_LABELS[kind], truncated_gzip("".join(sample).encode())
    if kind == "not_utf8":
        obj = json.loads(sample[0])
        obj["action"] = "search"
        obj["attributes"] = {"query": "crème brûlée"}
        first = json.dumps(obj, ensure_ascii=False) + "\n"
        return "latin1", not_utf8(first + "".join(sample[1:]))
    raise ValueError(f"no clickstream file fault {kind!r}")


def broken_page(kind: str, text: str, rng: random.Random) -> bytes:
    """A customers page that is not a usable JSON document."""
    if kind == "invalid_json":
        return text[: len(text) * 3 // 5].encode()
    if kind == "not_object_or_array":
        return rng.choice(
            (
                '"rate limit exceeded"\n',
                '{"error": {"code": 429, "message": "Too Many Requests"}, "page": 3}\n',
                "null\n",
            )
        ).encode()
    if kind == "unreadable_gzip":
        return truncated_gzip(text.encode())
    raise ValueError(f"no customers file fault {kind!r}")
