"""The core: one clickstream file's bytes -> its purchase alerts, bad lines counted.

Expectations are spelled out from the input (UTC times by hand, ids per the contract's
click_id definition in alerts_kit); the last tests run the real ingest and DuckDB next to
the core and require the same verdicts and ids.
"""

from __future__ import annotations

import gzip
import json
from datetime import datetime, timedelta

import duckdb
import pytest
from alerts_kit import UTC, click, expected_id, ndjson, purchase
from hypothesis import given, settings
from hypothesis import strategies as st

from shoplake.alerts.core import parse_timestamp, scan_file
from shoplake.contract import CLICKSTREAM, Kind
from shoplake.ingest import run_ingest
from shoplake.ingest.validate import typed_expr
from shoplake.lake import Lake

DETECTED = datetime(2026, 3, 1, 15, 0, 0, tzinfo=UTC)
SOURCE = "raw/clickstream/2026/03/01/14/events.json"


def test_purchases_become_alerts_with_their_fields() -> None:
    data = ndjson(
        [
            click("2026-03-01T14:00:01Z", "C7", "s-1"),
            click("2026-03-01T14:00:05Z", "C7", "s-1", "add_to_cart", attributes={"x": 1}),
            purchase("2026-03-01T14:05:09.123+01:00", "C7", "s-1", "O42", "59.90", "EUR"),
            click("2026-03-01T14:06:00Z", "anon-9", "s-2", "search"),
            purchase("2026-03-01 14:07", "anon-9", "s-2", "O43", "5", "USD", page=None),
        ]
    )
    scan = scan_file(data, SOURCE, DETECTED)
    assert (scan.lines, scan.events, scan.bad_lines, scan.file_error) == (5, 5, 0, None)
    got = [json.loads(a.to_json()) for a in scan.alerts]
    assert got == [
        {
            "alert_id": expected_id("2026-03-01T13:05:09.123000Z", "C7", "s-1"),
            "event_time": "2026-03-01T13:05:09.123000Z",
            "user_id": "C7",
            "session_id": "s-1",
            "order_id": "O42",
            "revenue": "59.90",
            "currency": "EUR",
            "source_file": SOURCE,
            "source_line": 3,
            "detected_at": "2026-03-01T15:00:00.000000Z",
        },
        {
            "alert_id": expected_id("2026-03-01T14:07:00.000000Z", "anon-9", "s-2", None),
            "event_time": "2026-03-01T14:07:00.000000Z",
            "user_id": "anon-9",
            "session_id": "s-2",
            "order_id": "O43",
            "revenue": "5",
            "currency": "USD",
            "source_file": SOURCE,
            "source_line": 5,
            "detected_at": "2026-03-01T15:00:00.000000Z",
        },
    ]


def test_attributes_outside_the_contract_give_nulls_not_errors() -> None:
    odd = purchase("2026-03-01T14:00:00Z", session="a")
    odd["attributes"] = {"order_id": 17, "revenue": "12.345", "currency": "XYZ"}
    bare = purchase("2026-03-01T14:00:00Z", session="b")
    del bare["attributes"]
    scan = scan_file(ndjson([odd, bare]), SOURCE, DETECTED)
    assert [(a.session_id, a.order_id, a.revenue, a.currency) for a in scan.alerts] == [
        ("a", None, None, None),
        ("b", None, None, None),
    ]


def test_bad_lines_are_counted_and_never_alerted() -> None:
    good = purchase("2026-03-01T14:00:00Z", session="good")
    no_user = purchase("2026-03-01T14:00:00Z", session="x1")
    del no_user["user_id"]
    lines = [
        "{not json",
        "[1, 2]",
        json.dumps(no_user),
        json.dumps({**purchase("2026-03-01T14:00:00Z", session="x2"), "action": "Purchase"}),
        json.dumps(purchase("2026-02-30T14:00:00Z", session="x3")),  # no such day
        json.dumps(purchase("2026-03-03T15:00:01Z", session="x4")),  # > 24 h after detection
        json.dumps({**purchase("2026-03-01T14:00:00Z"), "session_id": 5}),
        json.dumps({**purchase("2026-03-01T14:00:00Z", session="x5"), "attributes": [1]}),
        json.dumps(good) + " trailing",
        "",  # blank lines are not records
        json.dumps(good),
        "\r",
    ]
    scan = scan_file(("\n".join(lines) + "\n").encode(), SOURCE, DETECTED)
    assert (scan.lines, scan.bad_lines, scan.events) == (10, 9, 1)
    assert [(a.session_id, a.source_line) for a in scan.alerts] == [("good", 11)]


def test_a_purchase_within_24_hours_of_detection_is_an_alert() -> None:
    scan = scan_file(ndjson([purchase("2026-03-02T15:00:00Z")]), SOURCE, DETECTED)
    assert (len(scan.alerts), scan.bad_lines) == (1, 0)


@pytest.mark.parametrize("variant", ["gzip", "bom_crlf", "gzip_bom_crlf"])
def test_gzip_bom_and_crlf_give_the_same_alerts(variant: str) -> None:
    records = [
        click("2026-03-01T14:00:00Z"),
        purchase("2026-03-01T14:01:00Z", "C1", "s1"),
        purchase("2026-03-01T14:02:00Z", "C2", "s2"),
    ]
    plain = scan_file(ndjson(records), SOURCE, DETECTED)
    data = ndjson(records, crlf="crlf" in variant, bom="bom" in variant)
    name = SOURCE
    if variant.startswith("gzip"):
        data, name = gzip.compress(data), SOURCE + ".gz"
    scan = scan_file(data, name, DETECTED)
    ids = [(a.alert_id, a.source_line) for a in scan.alerts]
    assert ids == [(a.alert_id, a.source_line) for a in plain.alerts]
    assert ids == [
        (expected_id("2026-03-01T14:01:00.000000Z", "C1", "s1"), 2),
        (expected_id("2026-03-01T14:02:00.000000Z", "C2", "s2"), 3),
    ]
    assert scan.bad_lines == 0


@pytest.mark.parametrize(
    ("name", "data", "reason"),
    [
        (SOURCE + ".gz", b"this is not gzip", "unreadable_gzip"),
        (SOURCE + ".gz", gzip.compress(b'{"a": 1}\n', mtime=0)[:-6], "unreadable_gzip"),
        (SOURCE, b'{"event_time": "\xff\xfe"}\n', "not_utf8"),
    ],
    ids=["not_gzip", "truncated_gzip", "not_utf8"],
)
def test_unusable_files_are_reported_not_raised(name: str, data: bytes, reason: str) -> None:
    scan = scan_file(data, name, DETECTED)
    assert scan.alerts == []
    assert str(scan.file_error).startswith(reason)


def test_a_purchase_repeated_in_a_file_is_one_alert() -> None:
    p = purchase("2026-03-01T14:00:00Z")
    same_instant = {**p, "event_time": "2026-03-01T15:00:00+01:00"}
    scan = scan_file(ndjson([p, click("2026-03-01T14:00:01Z"), same_instant]), SOURCE, DETECTED)
    assert [a.source_line for a in scan.alerts] == [1]


def test_the_core_handles_every_kind_of_clickstream_field() -> None:
    """If the contract gives clickstream a field of another kind, the core must learn it."""
    handled = {Kind.ID, Kind.TEXT, Kind.TIMESTAMP, Kind.ENUM, Kind.JSON}
    assert {f.kind for f in CLICKSTREAM.fields} <= handled


# --- the same verdicts and ids as ingest ------------------------------------------------
EDGE_CASES = {
    "plain": {},
    "padded_user": {"user_id": "  C1 "},
    "blank_user": {"user_id": "   "},
    "empty_user": {"user_id": ""},
    "null_user": {"user_id": None},
    "number_user": {"user_id": 5},
    "null_page": {"page_url": None},
    "empty_page": {"page_url": ""},
    "null_attributes": {"attributes": None},
    "list_attributes": {"attributes": [1]},
    "string_attributes": {"attributes": "x"},
    "number_agent": {"user_agent": 5},
    "action_case": {"action": "Purchase"},
    "unknown_action": {"action": "refund"},
    "hour_24": {"event_time": "2026-03-01T24:00:00Z"},
    "hour_24_late": {"event_time": "2026-03-01T24:00:01Z"},
    "second_60": {"event_time": "2026-03-01T14:05:60Z"},
    "nanoseconds": {"event_time": "2026-03-01T14:05:09.123456789+01:30"},
    "no_seconds": {"event_time": "2026-03-01 14:05"},
    "offset_hours": {"event_time": "2026-03-01T14:05:09-05"},
    "offset_compact": {"event_time": "2026-03-01T14:05:09+0530"},
    "padded_time": {"event_time": " 2026-03-01T14:05:09Z"},
    "lowercase_z": {"event_time": "2026-03-01t14:05:09z"},
    "feb_30": {"event_time": "2026-02-30T14:05:09Z"},
    "year_0": {"event_time": "0000-03-01T14:05:09Z"},
    "future": {"event_time": "2026-03-11T12:00:01Z"},
    "just_in_time": {"event_time": "2026-03-11T12:00:00Z"},
    "number_time": {"event_time": 1772374000},
    "unicode": {"user_id": "Ü\u2028x"},
}


def test_alert_ids_are_the_click_ids_ingest_writes(tmp_path) -> None:
    """The same file through the real ingest (DuckDB) and the core: the purchases ingest
    writes to silver are exactly the alerts, with the same ids and lines; what it
    quarantines is exactly the bad lines."""
    lines: list[str] = []
    for session, change in EDGE_CASES.items():
        record = purchase("2026-03-01T14:05:09.123Z", session=session)
        for key, value in change.items():
            record[key] = value
        lines.append(json.dumps(record))
    lines.append(
        '{"event_time": "2026-03-01T14:05:09Z", "user_id": "first", "user_id": '
        '"second", "session_id": "duplicate_key", "action": "purchase"}'
    )
    lines.append(
        '   {"event_time": "2026-03-01T14:05:09Z", "user_id": "u", '
        '"session_id": "leading_space", "action": "purchase"}'
    )
    lines.append(json.dumps(click("2026-03-01T14:05:09Z", session="a_page_view")))
    lines.append("   ")
    lines.append("null")
    data = ("\r\n".join(lines) + "\r\n").encode()
    now = datetime(2026, 3, 10, 12, 0, 0, tzinfo=UTC)

    root = tmp_path / "lake"
    folder = root / "raw" / "clickstream" / "2026" / "03" / "01" / "14"
    folder.mkdir(parents=True)
    (folder / "edge.json").write_bytes(data)
    run_ingest(Lake.at(root), now=now)
    con = duckdb.connect()
    silver = con.execute(
        "select click_id, source_line from read_parquet(?) where action = 'purchase'",
        [str(root / "silver" / "clickstream" / "*" / "*" / "*" / "*.parquet")],
    ).fetchall()
    quarantined = con.execute(
        "select count(*) from read_parquet(?)",
        [str(root / "quarantine" / "clickstream" / "*" / "*" / "*" / "*.parquet")],
    ).fetchall()[0][0]

    scan = scan_file(data, "raw/clickstream/2026/03/01/14/edge.json", now)
    assert sorted((a.alert_id, a.source_line) for a in scan.alerts) == sorted(silver)
    assert scan.bad_lines == quarantined
    assert len(silver) >= 12  # both verdicts are well represented
    assert quarantined >= 12


_digits = st.integers
_timestamp_text = st.builds(
    lambda y, mo, d, sep, h, mi, sec, frac, off: (
        f"{y:04d}-{mo:02d}-{d:02d}{sep}{h:02d}:{mi:02d}{sec}{frac}{off}"
    ),
    _digits(1900, 2100),
    _digits(0, 13),
    _digits(0, 32),
    st.sampled_from(["T", " ", "T", "t"]),
    _digits(0, 25),
    _digits(0, 61),
    st.one_of(st.just(""), _digits(0, 61).map(lambda s: f":{s:02d}")),
    st.one_of(
        st.just(""),
        st.text("0123456789", min_size=1, max_size=9).map(lambda f: "." + f),
        st.sampled_from([".", ".1234567890"]),
    ),
    st.one_of(
        st.sampled_from(["", "Z", "Z", "z", "+", "-1"]),
        st.builds(
            lambda sign, hh, sep, mm: f"{sign}{hh:02d}{sep}{mm}",
            st.sampled_from("+-"),
            _digits(0, 25),
            st.sampled_from(["", ":"]),
            st.one_of(st.just(""), _digits(0, 61).map(lambda m: f"{m:02d}")),
        ),
    ),
)


@pytest.fixture(scope="module")
def duck() -> duckdb.DuckDBPyConnection:
    return duckdb.connect()


@settings(max_examples=300, deadline=None)
@given(text=_timestamp_text)
def test_timestamps_parse_as_ingest_types_them(duck, text: str) -> None:
    """Ingest's own SQL (regex + DuckDB cast) and the core agree on every string."""
    expr = typed_expr(CLICKSTREAM.field("event_time"), "$1")
    ingested = duck.execute(f"select strftime({expr}, '%Y-%m-%dT%H:%M:%S.%fZ')", [text]).fetchall()[
        0
    ][0]
    parsed = parse_timestamp(text)
    assert (parsed and parsed.strftime("%Y-%m-%dT%H:%M:%S.%fZ")) == ingested, text


def test_24_hours_past_midnight_is_the_next_day() -> None:
    assert parse_timestamp("2026-12-31T24:00:00.000Z") == datetime(2027, 1, 1)
    assert parse_timestamp("2026-03-01T24:00:00+01:00") == datetime(2026, 3, 1, 23)
    assert parse_timestamp("2026-03-01T24:00:00.5Z") is None
    assert parse_timestamp("2026-03-01T12:00:00-23:59") == datetime(2026, 3, 2, 11, 59)
    assert datetime(2026, 3, 2) - parse_timestamp("2026-03-01T24:00") == timedelta(0)
