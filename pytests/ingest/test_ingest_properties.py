"""Property tests: whatever a source drops, ingest never crashes and accounts for every
record; every valid record generated here reaches silver with its exact values, every
invalid one is quarantined with the reason the contract gives.

Each example runs ingest on a fresh lake in a temporary directory (in-process, with the
run time fixed at NOW).
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import tempfile
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ingest_kit import (
    CSV_COLS,
    KEYS,
    NOW,
    check_stats,
    click_id_by_hand,
    ingest,
    quarantine,
    silver,
)

from shoplake.contract import CLICK_ACTIONS, SEGMENTS
from shoplake.lake import Lake
from shoplake.landing import land_file

PROFILE = settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
DATASETS = ("orders", "sales", "payments", "customers", "products", "clickstream")

#: any unicode a UTF-8 file can carry, NUL aside: commas, quotes, newlines, U+2028,
#: NEL, control characters, emoji, ...
ANY_CHAR = st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00")
#: the same without a bare carriage return, whose line counting CSV leaves open
CSV_CHAR = st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00\r")
#: what an id may hold: the contract forbids control characters (U+0000-U+001F, U+007F)
CONTROL = "".join(map(chr, range(0x20))) + "\x7f"
ID_CHAR = st.characters(blacklist_categories=("Cs",), blacklist_characters=CONTROL)


def _fresh_lake(tmp: str) -> Lake:
    root = Path(tmp) / "lake"
    root.mkdir()
    return Lake.at(root)


def _wrap(prefix: str, text: str) -> str:
    """An id or text with arbitrary content but no whitespace at its edges."""
    return f"{prefix}<{text}>"


# ---------------------------------------------------------------------------------------
# timestamps and amounts, with the value silver must hold
# ---------------------------------------------------------------------------------------
@st.composite
def timestamps(draw) -> tuple[str, datetime]:
    """An accepted timestamp text and its UTC value (docs/lake.md grammar)."""
    utc = draw(st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2026, 3, 10)))
    seconds = draw(st.booleans())
    if not seconds:
        utc = utc.replace(second=0, microsecond=0)
    digits = draw(st.sampled_from([0, 1, 3, 6])) if seconds else 0
    utc = utc.replace(microsecond=utc.microsecond // 10 ** (6 - digits) * 10 ** (6 - digits))
    offset_min = draw(st.sampled_from([None, 0, 60, -300, 330, -570, 840, -720]))
    local = utc + timedelta(minutes=offset_min or 0)
    text = local.strftime("%Y-%m-%d") + draw(st.sampled_from(["T", " "]))
    text += local.strftime("%H:%M")
    if seconds:
        text += local.strftime(":%S")
        if digits:
            text += "." + f"{local.microsecond:06d}"[:digits]
    if offset_min is None:
        pass  # no offset: UTC
    elif offset_min == 0 and draw(st.booleans()):
        text += "Z"
    else:
        sign = "-" if offset_min < 0 else "+"
        h, m = divmod(abs(offset_min), 60)
        text += f"{sign}{h:02d}:{m:02d}" if (m or draw(st.booleans())) else f"{sign}{h:02d}"
    return text, utc


def amount_text(cents: int, form: int) -> str:
    whole, frac = divmod(cents, 100)
    if form == 0 and frac == 0:
        return str(whole)
    if form == 1 and frac % 10 == 0:
        return f"{whole}.{frac // 10}"
    return f"{whole}.{frac:02d}"


FUTURE = (NOW + timedelta(hours=25)).strftime("%Y-%m-%dT%H:%M:%SZ")


# ---------------------------------------------------------------------------------------
# arbitrary bytes
# ---------------------------------------------------------------------------------------
@st.composite
def raw_files(draw) -> tuple[str, bytes, bool]:
    ds = draw(st.sampled_from(DATASETS))
    kind = draw(st.sampled_from(["bytes", "text", "header+bytes", "header+text", "json"]))
    header = (",".join(CSV_COLS[ds]) + "\n").encode() if ds in CSV_COLS else b""
    if kind == "bytes":
        data = draw(st.binary(max_size=600))
    elif kind == "text":
        data = draw(st.text(ANY_CHAR, max_size=300)).encode()
    elif kind == "header+bytes":
        data = header + draw(st.binary(max_size=400))
    elif kind == "header+text":
        data = header + draw(st.text(ANY_CHAR | st.sampled_from(',"\n'), max_size=300)).encode()
    else:
        values = st.recursive(
            st.none() | st.booleans() | st.integers() | st.text(ANY_CHAR, max_size=8),
            lambda inner: (
                st.lists(inner, max_size=3)
                | st.dictionaries(st.text(max_size=12), inner, max_size=4)
            ),
            max_leaves=12,
        )
        docs = draw(st.lists(values, min_size=1, max_size=5))
        data = "\n".join(json.dumps(d, ensure_ascii=False) for d in docs).encode()
    return ds, data, draw(st.booleans())


@PROFILE
@given(raw_files())
def test_arbitrary_bytes_never_crash_and_are_accounted(case):
    dataset, data, gz = case
    with tempfile.TemporaryDirectory() as tmp:
        lake = _fresh_lake(tmp)
        when = datetime(2026, 3, 1, 7)
        ext = ".csv" if dataset in CSV_COLS else ".json"
        land_file(lake, dataset, when, "drop" + ext, gzip.compress(data) if gz else data)
        report = ingest(lake)
        assert report.balanced is True
        got = check_stats(report, dataset, files_read=1)
        rows = silver(lake, dataset)
        # a fresh lake: each written record is one silver row, each rejection one row
        assert len(rows) == got["written"]
        assert len(quarantine(lake, dataset)) == got["quarantined"]
        assert got["files_quarantined"] <= 1
        for r in rows:
            assert all(r[k] is not None for k in KEYS[dataset])
        if got["files_quarantined"]:
            assert got["read"] == got["quarantined"] == 1


# ---------------------------------------------------------------------------------------
# sales CSV rows
# ---------------------------------------------------------------------------------------
SALE_FAULTS = [
    ("sale_id", "", "missing_required"),
    ("order_id", "   ", "missing_required"),
    ("product_id", "", "missing_required"),
    ("quantity", "0", "out_of_range"),
    ("quantity", "2.5", "wrong_type"),
    ("quantity", "x1", "wrong_type"),
    ("quantity", "", "missing_required"),
    ("unit_price", "1.234", "wrong_type"),
    ("unit_price", "abc", "wrong_type"),
    ("unit_price", "", "missing_required"),
    ("discount_amount", "OVER", "out_of_range"),
    ("discount_amount", "0.001", "wrong_type"),
    ("sold_at", "not a time", "wrong_type"),
    ("sold_at", FUTURE, "future_timestamp"),
    ("sold_at", "", "missing_required"),
    ("sold_at", "0999-12-31T23:59:59Z", "out_of_range"),
    ("sale_id", "S\x00", "invalid_id"),
    ("product_id", "P\x1f1", "invalid_id"),
    ("order_id", "O\x7f", "invalid_id"),
    ("quantity", "1000001", "out_of_range"),
    ("unit_price", "1000000000000.00", "out_of_range"),
]


@st.composite
def sale_rows(draw, i: int):
    text = st.text(ID_CHAR, max_size=10)
    qty = draw(st.integers(1, 1000))
    price_cents = draw(st.integers(0, 10**9))
    disc_cents = draw(st.none() | st.integers(0, qty * price_cents))
    ts_text, ts_utc = draw(timestamps())
    raw = {
        "sale_id": _wrap(f"S{i}", draw(text)),
        "order_id": _wrap("O", draw(text)),
        "product_id": _wrap("P", draw(text)),
        "quantity": str(qty),
        "unit_price": amount_text(price_cents, draw(st.integers(0, 2))),
        "discount_amount": "" if disc_cents is None else amount_text(disc_cents, 2),
        "sold_at": ts_text,
    }
    expected = {
        "sale_id": raw["sale_id"],
        "order_id": raw["order_id"],
        "product_id": raw["product_id"],
        "quantity": qty,
        "unit_price": Decimal(price_cents) / 100,
        "discount_amount": Decimal(disc_cents or 0) / 100,
        "sold_at": ts_utc,
    }
    fault = draw(st.none() | st.none() | st.sampled_from(SALE_FAULTS))
    if fault:
        field, value, _ = fault
        if value == "OVER":
            value = amount_text(qty * price_cents + 1, 2)
        raw[field] = value
        if field == "quantity" and value == "0":
            raw["discount_amount"] = ""  # keep it the only problem of the row
    return raw, expected, fault


@PROFILE
@given(st.data())
def test_sales_rows_valid_land_invalid_are_quarantined(data):
    n = data.draw(st.integers(1, 12))
    rows = [data.draw(sale_rows(i)) for i in range(n)]
    repeats = data.draw(st.lists(st.sampled_from(range(n)), max_size=3))
    columns = list(CSV_COLS["sales"])
    data.draw(st.randoms()).shuffle(columns)
    header = [c.upper() if data.draw(st.booleans()) else c for c in columns]
    extra = data.draw(st.booleans())
    if extra:
        at = data.draw(st.integers(0, len(columns)))
        columns.insert(at, "note")
        header.insert(at, "note")
    eol = data.draw(st.sampled_from(["\n", "\r\n"]))

    def serialise(vals: list[str]) -> str:
        buf = io.StringIO()
        csv.writer(buf, lineterminator=eol).writerow(vals)
        return buf.getvalue()

    def row_text(raw: dict) -> str:
        return serialise([raw.get(c, "free, text\n" + raw["sale_id"]) for c in columns])

    head = serialise(header)
    body, line, records = [], 2, []  # (source_line, raw, expected, fault)
    for raw, expected, fault in rows:
        text = row_text(raw)
        records.append((line, raw, expected, fault))
        body.append(text)
        line += text.count("\n")
    dups = 0
    for k in repeats:
        if rows[k][2] is None:  # re-send a valid row verbatim: a duplicate
            body.append(row_text(rows[k][0]))
            dups += 1
    bad = {ln: fault for ln, _, _, fault in records if fault}
    good = {exp["sale_id"]: (ln, exp) for ln, _, exp, fault in records if not fault}

    with tempfile.TemporaryDirectory() as tmp:
        lake = _fresh_lake(tmp)
        path = land_file(
            lake,
            "sales",
            "2026-03-10",
            "sales.csv",
            head + "".join(body),
            gz=data.draw(st.booleans()),
            bom=data.draw(st.booleans()),
        )
        report = ingest(lake)
        check_stats(
            report,
            "sales",
            read=n + dups,
            written=len(good),
            quarantined=len(bad),
            duplicates=dups,
            extra_columns=int(extra),
        )
        src = lake.relative(path)
        got = {r["sale_id"]: r for r in silver(lake, "sales")}
        assert sorted(got) == sorted(good)
        for sid, (ln, exp) in good.items():
            r = got[sid]
            assert {k: r[k] for k in exp} == exp
            assert (r["source_file"], r["source_line"]) == (src, ln)
        q = {r["source_line"]: r for r in quarantine(lake, "sales")}
        assert sorted(q) == sorted(bad)
        for ln, (field, _, reason) in bad.items():
            assert (q[ln]["reason"], q[ln]["field"]) == (reason, field), ln


# ---------------------------------------------------------------------------------------
# clickstream NDJSON lines
# ---------------------------------------------------------------------------------------
CLICK_FAULTS = [
    ("action", "click", "out_of_enum"),
    ("action", "Page_View", "out_of_enum"),
    ("user_id", 42, "wrong_type"),
    ("user_id", None, "missing_required"),
    ("session_id", "", "missing_required"),
    ("event_time", "not a time", "wrong_type"),
    ("event_time", FUTURE, "future_timestamp"),
    ("attributes", "x", "wrong_type"),
    ("attributes", [1, 2], "wrong_type"),
    ("page_url", 7, "wrong_type"),
    (None, "[1, 2]", "not_an_object"),
    (None, '"text"', "not_an_object"),
    (None, "TRUNCATE", "unparseable"),
    ("user_id", "C\x00", "invalid_id"),
    ("session_id", "s\t1", "invalid_id"),
    ("event_time", "0001-01-01T00:00:00+01:00", "out_of_range"),
]


@st.composite
def click_lines(draw, i: int):
    text = st.text(ANY_CHAR, max_size=10)
    ids = st.text(ID_CHAR, max_size=10)
    ts_text, ts_utc = draw(timestamps())
    ev: dict = {
        "event_time": ts_text,
        "user_id": _wrap("C", draw(ids)),
        "session_id": _wrap(f"s{i}", draw(ids)),
        "action": draw(st.sampled_from(CLICK_ACTIONS)),
    }
    for opt in ("page_url", "user_agent", "ip"):
        choice = draw(st.sampled_from(["absent", "null", "text"]))
        if choice != "absent":
            ev[opt] = None if choice == "null" else _wrap(opt, draw(text))
    attrs = draw(
        st.none()
        | st.just("absent")
        | st.fixed_dictionaries(
            {},
            optional={
                "product_id": text.map(lambda s: _wrap("P", s)),
                "order_id": text.map(lambda s: _wrap("O", s)),
                "price": st.sampled_from(["12.90", "0.5"]),
                "query": text,
            },
        )
    )
    if attrs != "absent":
        ev["attributes"] = attrs
    attrs = None if attrs == "absent" else attrs
    expected = {
        "event_time": ts_utc,
        "user_id": ev["user_id"],
        "session_id": ev["session_id"],
        "action": ev["action"],
        "page_url": ev.get("page_url"),
        "user_agent": ev.get("user_agent"),
        "ip": ev.get("ip"),
        "product_id": (attrs or {}).get("product_id"),
        "order_id": (attrs or {}).get("order_id"),
        "click_id": click_id_by_hand(
            ts_utc, ev["user_id"], ev["session_id"], ev["action"], ev.get("page_url")
        ),
    }
    fault = draw(st.none() | st.none() | st.sampled_from(CLICK_FAULTS))
    if fault is None:
        line = json.dumps(ev, ensure_ascii=False)
    elif fault[0] is None:
        value = fault[1]
        line = json.dumps(ev, ensure_ascii=False)[:-3] if value == "TRUNCATE" else value
    else:
        ev[fault[0]] = fault[1]
        line = json.dumps(ev, ensure_ascii=False)
    return line, expected, attrs, fault


@PROFILE
@given(st.data())
def test_clickstream_lines_valid_land_invalid_are_quarantined(data):
    n = data.draw(st.integers(1, 12))
    lines = [data.draw(click_lines(i)) for i in range(n)]
    repeats = data.draw(st.lists(st.sampled_from(range(n)), max_size=3))
    body = [line for line, _, _, _ in lines]
    dups = 0
    for k in repeats:
        if lines[k][3] is None:
            body.append(lines[k][0])  # the same event again
            dups += 1
    eol = data.draw(st.sampled_from(["\n", "\r\n"]))
    good = {
        exp["click_id"]: (i + 1, exp, attrs) for i, (_, exp, attrs, f) in enumerate(lines) if not f
    }
    bad = {i + 1: f for i, (_, _, _, f) in enumerate(lines) if f}
    with tempfile.TemporaryDirectory() as tmp:
        lake = _fresh_lake(tmp)
        path = land_file(
            lake,
            "clickstream",
            datetime(2026, 3, 10, 9),
            "events.json",
            eol.join(body) + eol,
            gz=data.draw(st.booleans()),
        )
        report = ingest(lake)
        check_stats(
            report,
            "clickstream",
            read=n + dups,
            written=len(good),
            quarantined=len(bad),
            duplicates=dups,
        )
        got = {r["click_id"]: r for r in silver(lake, "clickstream")}
        assert sorted(got) == sorted(good)
        for cid, (ln, exp, attrs) in good.items():
            r = got[cid]
            assert {k: r[k] for k in exp} == exp
            assert (None if r["attributes"] is None else json.loads(r["attributes"])) == attrs
            assert (r["source_file"], r["source_line"]) == (lake.relative(path), ln)
        q = {r["source_line"]: r for r in quarantine(lake, "clickstream")}
        assert sorted(q) == sorted(bad)
        for ln, (field, _, reason) in bad.items():
            assert q[ln]["reason"] == reason, (ln, q[ln]["reason"], q[ln]["detail"])
            if field:
                assert q[ln]["field"] == field


# ---------------------------------------------------------------------------------------
# customer pages
# ---------------------------------------------------------------------------------------
CUSTOMER_FAULTS = [
    ("customer_id", 123, "wrong_type"),
    ("email", None, "missing_required"),
    ("email", " ", "missing_required"),
    ("segment", "vip", "out_of_enum"),
    ("segment", "Consumer", "out_of_enum"),
    ("marketing_opt_in", "yes", "wrong_type"),
    ("updated_at", "soon", "wrong_type"),
    ("updated_at", FUTURE, "future_timestamp"),
    ("signup_ts", "2026-02-30T00:00:00Z", "wrong_type"),
    (None, "not an object", "not_an_object"),
    ("customer_id", "C\x001", "invalid_id"),
    ("updated_at", "0500-06-01T00:00:00Z", "out_of_range"),
]


@st.composite
def customers(draw, i: int):
    text = st.text(ANY_CHAR, max_size=10)
    ids = st.text(ID_CHAR, max_size=10)
    upd_text, upd = draw(timestamps())
    signup_text, signup = draw(st.none() | timestamps()) or (None, None)
    city = draw(st.none() | text.map(lambda s: _wrap("city", s)))
    rec = {
        "customer_id": _wrap(f"C{i}", draw(ids)),
        "email": _wrap("mail", draw(text)),
        "first_name": draw(st.none() | text.map(lambda s: _wrap("F", s))),
        "last_name": draw(st.none() | text.map(lambda s: _wrap("L", s))),
        "segment": draw(st.sampled_from(SEGMENTS)),
        "signup_ts": signup_text,
        "address": {"city": city, "country": draw(st.sampled_from(["PT", "US", "DE", "JP"]))},
        "marketing_opt_in": draw(st.none() | st.booleans()),
        "updated_at": upd_text,
        draw(text.map(lambda s: _wrap("extra", s))): draw(text),  # unknown key: ignored
    }
    expected = {
        "customer_id": rec["customer_id"],
        "email": rec["email"],
        "first_name": rec["first_name"],
        "last_name": rec["last_name"],
        "segment": rec["segment"],
        "signup_ts": signup,
        "address_city": city,
        "address_region": None,
        "address_postal_code": None,
        "address_country": rec["address"]["country"],
        "marketing_opt_in": rec["marketing_opt_in"],
        "updated_at": upd,
    }
    fault = draw(st.none() | st.none() | st.sampled_from(CUSTOMER_FAULTS))
    if fault:
        if fault[0] is None:
            rec = fault[1]
        else:
            rec[fault[0]] = fault[1]
    return rec, expected, fault


@PROFILE
@given(st.data())
def test_customer_pages_valid_land_invalid_are_quarantined(data):
    n = data.draw(st.integers(0, 10))
    items = [data.draw(customers(i)) for i in range(n)]
    records = [rec for rec, _, _ in items]
    if data.draw(st.booleans()):
        page = json.dumps(records, ensure_ascii=False)
    else:
        page = json.dumps({"page": 2, "customers": records, "next": None}, ensure_ascii=False)
    good = {exp["customer_id"]: (i + 1, exp) for i, (_, exp, f) in enumerate(items) if not f}
    bad = {i + 1: f for i, (_, _, f) in enumerate(items) if f}
    with tempfile.TemporaryDirectory() as tmp:
        lake = _fresh_lake(tmp)
        path = land_file(
            lake, "customers", "2026-03-10", "page-2.json", page, gz=data.draw(st.booleans())
        )
        report = ingest(lake)
        check_stats(
            report,
            "customers",
            files_read=1,
            read=n,
            written=len(good),
            quarantined=len(bad),
            duplicates=0,
        )
        got = {r["customer_id"]: r for r in silver(lake, "customers")}
        assert sorted(got) == sorted(good)
        for cid, (pos, exp) in good.items():
            r = got[cid]
            assert {k: r[k] for k in exp} == exp
            assert (r["source_file"], r["source_line"]) == (lake.relative(path), pos)
        q = {r["source_line"]: r for r in quarantine(lake, "customers")}
        assert sorted(q) == sorted(bad)
        for pos, (field, _, reason) in bad.items():
            assert q[pos]["reason"] == reason, (pos, q[pos]["detail"])
            if field:
                assert q[pos]["field"] == field


# ---------------------------------------------------------------------------------------
# timestamp texts of the accepted shape with any digits in them
# ---------------------------------------------------------------------------------------
@st.composite
def timestamp_shapes(draw) -> tuple[str, str, datetime | None]:
    """A text of the form YYYY-MM-DD[T ]HH:MM[:SS[.f]][Z|±HH[:MM]] with arbitrary
    (possibly impossible) numbers, and what ingest must make of it: (reason or "ok",
    UTC value)."""
    year = draw(st.sampled_from([0, 1, 999, 1000, 1970, 2024, 2026, 2026, 9999]))
    month, day = draw(st.integers(0, 13)), draw(st.integers(0, 32))
    hour, minute = draw(st.integers(0, 25)), draw(st.integers(0, 61))
    second = draw(st.none() | st.integers(0, 59) | st.integers(61, 99))
    frac = None
    if second is not None:
        frac = draw(st.none() | st.text("0123456789", min_size=1, max_size=6))
    off = draw(st.none() | st.tuples(st.sampled_from("+-"), st.integers(0, 25), st.integers(0, 61)))
    text = f"{year:04d}-{month:02d}-{day:02d}{draw(st.sampled_from('T '))}{hour:02d}:{minute:02d}"
    if second is not None:
        text += f":{second:02d}" + (f".{frac}" if frac else "")
    if off is not None:
        text += f"{off[0]}{off[1]:02d}:{off[2]:02d}"
    try:
        local = datetime(
            year, month, day, hour, minute, second or 0, int((frac or "0").ljust(6, "0"))
        )
    except ValueError:
        return text, "wrong_type", None
    if off is not None and (off[1] > 23 or off[2] > 59):
        return text, "wrong_type", None
    if off is not None:
        delta = timedelta(hours=off[1], minutes=off[2])
        try:
            local = local - delta if off[0] == "+" else local + delta
        except OverflowError:  # year 9999 west of UTC: after year 9999; year 1 east: year 0
            return text, "future_timestamp" if year == 9999 else "out_of_range", None
    if local.year < 1000:  # the contract's earliest year, in UTC
        return text, "out_of_range", None
    if local > (NOW + timedelta(hours=24)).replace(tzinfo=None):
        return text, "future_timestamp", None
    return text, "ok", local


@PROFILE
@given(st.lists(timestamp_shapes(), min_size=1, max_size=12))
def test_timestamp_texts_are_typed_or_quarantined_never_crash(cases):
    records = [
        {"payment_id": f"Y{i}", "order_id": "O1", "payment_ts": text, "method": "card",
         "status": "captured", "amount": "1.00", "currency": "EUR"}
        for i, (text, _, _) in enumerate(cases)
    ]  # fmt: skip
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=CSV_COLS["payments"], lineterminator="\n")
    w.writeheader()
    w.writerows(records)
    ok = {f"Y{i}": utc for i, (_, verdict, utc) in enumerate(cases) if verdict == "ok"}
    bad = {i + 2: verdict for i, (_, verdict, _) in enumerate(cases) if verdict != "ok"}
    with tempfile.TemporaryDirectory() as tmp:
        lake = _fresh_lake(tmp)
        land_file(lake, "payments", "2026-03-10", "p.csv", buf.getvalue())
        report = ingest(lake)
        check_stats(report, "payments", read=len(cases), written=len(ok), quarantined=len(bad))
        got = {r["payment_id"]: r["payment_ts"] for r in silver(lake, "payments")}
        assert got == ok
        q = {r["source_line"]: (r["reason"], r["field"]) for r in quarantine(lake, "payments")}
        assert q == {ln: (verdict, "payment_ts") for ln, verdict in bad.items()}
