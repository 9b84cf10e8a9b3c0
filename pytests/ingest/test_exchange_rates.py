"""exchange_rates ingest, written from the raw contract (section exchange_rates) and
docs/lake.md: the long layout, the wide central-bank layout (units per EUR, converted
through USD), validation and quarantine, re-delivery and corrections."""

from __future__ import annotations

from decimal import Decimal

from ingest_kit import NOW, check_stats, ingest, quarantine, raw_columns, silver

from shoplake.landing import land_file

#: The long layout's header: the contract's fields (the wide layout is written by hand).
LONG = raw_columns("exchange_rates")


def _long(rows: list[tuple[str, str, str]], header: str = ",".join(LONG)):
    return header + "\n" + "".join(f"{d},{c},{r}\n" for d, c, r in rows)


def _rates(lake) -> dict[tuple[str, str], list[Decimal]]:
    out: dict[tuple[str, str], list[Decimal]] = {}
    for r in silver(lake, "exchange_rates"):
        out.setdefault((r["rate_date"].isoformat(), r["currency"]), []).append(r["usd_per_unit"])
    return {k: sorted(v) for k, v in out.items()}


def test_long_layout_validated_and_quarantined(lake):
    text = _long(
        [
            ("2026-03-02", "EUR", "1.0825000001"),  # ten decimals: fine
            ("2026-03-02", "JPY", "0.0066"),  # any ISO 4217 code, not only the shop's
            ("2026-03-02", "usd", "1"),  # lower case: not an ISO code
            ("2026-03-02", "GBP", "0"),  # must be > 0
            ("2026-03-02", "CAD", "-0.7"),  # not a rate
            ("2026-03-02", "AUD", "0.65000000001"),  # eleven decimals
            ("2026-03-02", "USD", "1.1"),  # USD is always 1
            ("2026-03-02", "USD", "1.000"),  # ... which may be delivered
            ("2026-02-30", "EUR", "1.08"),  # no such day
            ("2026-03-02T00:00:00Z", "CHF", "1.1"),  # a date, not a timestamp
            ("2026-03-20", "EUR", "1.08"),  # after the run (NOW is 2026-03-10)
            ("", "EUR", "1.08"),
        ]
    )
    land_file(lake, "exchange_rates", "2026-03-03T08:00", "rates.csv", text)
    report = ingest(lake)
    check_stats(report, "exchange_rates", read=12, written=3, quarantined=9, duplicates=0)
    assert _rates(lake) == {
        ("2026-03-02", "EUR"): [Decimal("1.0825000001")],
        ("2026-03-02", "JPY"): [Decimal("0.0066")],
        ("2026-03-02", "USD"): [Decimal("1")],
    }
    by_line = {
        q["source_line"]: (q["reason"], q["field"]) for q in quarantine(lake, "exchange_rates")
    }
    assert by_line == {
        4: ("out_of_enum", "currency"),
        5: ("out_of_range", "usd_per_unit"),
        6: ("wrong_type", "usd_per_unit"),
        7: ("wrong_type", "usd_per_unit"),
        8: ("out_of_range", "usd_per_unit"),
        10: ("wrong_type", "rate_date"),
        11: ("wrong_type", "rate_date"),
        12: ("future_timestamp", "rate_date"),
        13: ("missing_required", "rate_date"),
    }
    # silver is partitioned by the rate's date
    assert {r["_file"] for r in silver(lake, "exchange_rates")} == {
        "silver/exchange_rates/year=2026/month=03/day=02/data.parquet"
    }


#: The ECB's historical reference-rate CSV as published: Date first, units per EUR, N/A
#: for no rate, a trailing comma on every line (an empty last column).
ECB = (
    "Date,USD,JPY,GBP,CYP,\r\n"
    "2026-03-03,1.0800,160.00,0.8500,N/A,\r\n"
    "2026-03-02,1.0750,N/A,0.8400,,\r\n"
    "2026-03-01,N/A,161.0,0.84,N/A,\r\n"  # no USD rate: nothing to convert through
    "2026-02-27,1.07,abc,0.83,0.58,\r\n"
)


def test_wide_layout_converted_through_usd(lake):
    land_file(lake, "exchange_rates", "2026-03-04T07:00", "eurofxref-hist.csv", ECB, gz=True)
    report = ingest(lake)
    # 2026-03-03: EUR, JPY, GBP; 03-02: EUR, GBP; 03-01: JPY, GBP (no USD);
    # 02-27: EUR, JPY (abc), GBP, CYP
    check_stats(
        report, "exchange_rates", read=11, written=8, quarantined=3, duplicates=0, extra_columns=0
    )
    assert _rates(lake) == {
        ("2026-03-03", "EUR"): [Decimal("1.08")],
        ("2026-03-03", "JPY"): [Decimal("0.00675")],  # 1.08 / 160
        ("2026-03-03", "GBP"): [Decimal("1.2705882353")],  # 1.08 / 0.85, half up
        ("2026-03-02", "EUR"): [Decimal("1.075")],
        ("2026-03-02", "GBP"): [Decimal("1.2797619048")],  # 1.075 / 0.84
        ("2026-02-27", "EUR"): [Decimal("1.07")],
        ("2026-02-27", "GBP"): [Decimal("1.2891566265")],  # 1.07 / 0.83
        ("2026-02-27", "CYP"): [Decimal("1.8448275862")],  # 1.07 / 0.58
    }
    bad = {
        (q["source_line"], q["reason"], q["field"]): q for q in quarantine(lake, "exchange_rates")
    }
    assert set(bad) == {
        (4, "missing_required", "usd_per_unit"),  # JPY and GBP on 03-01
        (5, "wrong_type", "usd_per_unit"),  # JPY abc on 02-27
    }
    assert len(quarantine(lake, "exchange_rates")) == 3
    jpy = bad[(5, "wrong_type", "usd_per_unit")]
    assert jpy["detail"].endswith("abc")
    assert '"JPY": "abc"' in jpy["raw_record"]
    assert '"Date": "2026-02-27"' in jpy["raw_record"]


def test_wide_layout_without_usd_column_is_a_bad_file(lake):
    land_file(
        lake, "exchange_rates", "2026-03-04T07:00", "no_usd.csv", "Date,JPY\n2026-03-03,160\n"
    )
    report = ingest(lake)
    check_stats(report, "exchange_rates", files_quarantined=1, read=1, quarantined=1)
    (bad,) = quarantine(lake, "exchange_rates")
    assert (bad["level"], bad["reason"]) == ("file", "missing_columns")
    assert "USD" in bad["detail"]


def test_redelivery_is_a_duplicate_and_a_correction_is_a_new_version(lake):
    land_file(lake, "exchange_rates", "2026-03-04T07:00", "ecb.csv", ECB)
    ingest(lake)
    # the same publication again under another name (sources deliver files twice)
    land_file(lake, "exchange_rates", "2026-03-05T07:00", "ecb-again.csv", ECB)
    report = ingest(lake)
    check_stats(report, "exchange_rates", read=11, written=0, quarantined=3, duplicates=8)
    # a correction of one day's GBP rate, in the long layout, then delivered once more
    fix = _long([("2026-03-03", "GBP", "1.27"), ("2026-03-02", "GBP", "1.2797619048")])
    land_file(lake, "exchange_rates", "2026-03-06T07:00", "fix.csv", fix)
    report = ingest(lake)
    check_stats(report, "exchange_rates", read=2, written=1, duplicates=1)
    land_file(lake, "exchange_rates", "2026-03-07T07:00", "fix-again.csv", fix)
    check_stats(ingest(lake), "exchange_rates", read=2, written=0, duplicates=2)
    versions = sorted(
        (r["ingest_seq"], r["usd_per_unit"])
        for r in silver(lake, "exchange_rates")
        if (r["rate_date"].isoformat(), r["currency"]) == ("2026-03-03", "GBP")
    )
    # both values stay in silver; the correction carries the later ingest batch
    assert [v for _, v in versions] == [Decimal("1.2705882353"), Decimal("1.27")]
    assert versions[0][0] < versions[1][0]


def test_replay_keeps_wide_records_and_replays_long_ones(lake):
    from shoplake.quarantine import replay

    land_file(lake, "exchange_rates", "2026-03-04T07:00", "ecb.csv", ECB)
    # a long-layout rate for a day after the run: quarantined now, valid later
    land_file(
        lake,
        "exchange_rates",
        "2026-03-04T07:00",
        "early.csv",
        _long([("2026-03-12", "EUR", "1.09")]),
    )
    ingest(lake)
    assert len(quarantine(lake, "exchange_rates")) == 4
    later = replay(lake, now=NOW.replace(day=13))
    s = later.datasets["exchange_rates"]
    # the long record now passes; the three wide ones cannot be read back as records
    assert (s.candidates, s.replayed, s.written) == (4, 1, 1)
    assert (s.still_quarantined, s.not_replayable) == (3, 3)
    assert ("2026-03-12", "EUR") in _rates(lake)
