"""`shoplake quarantine replay`: quarantined records validated again, those that now pass
moved into silver exactly once, with the accounting kept whole (issue 10, item 4).

The reproductions: a record stamped too far in the future passes once its time has come
(an upstream clock fixed, the run later); a contract change (a new sales channel) lets
records through; a corrupt gzip replaced in place by the good file is read again; a file
re-delivered and ingested since makes its old rejects superseded. Each count is worked
out by hand from the hand-written files.
"""

from __future__ import annotations

import dataclasses
import gzip
import json
from datetime import timedelta

import pytest
from cli_kit import run_shoplake
from ingest_kit import (
    NOW,
    ORDER_COLS,
    PAYMENT_COLS,
    click,
    csv_text,
    customer,
    customers_page,
    ingest,
    ndjson,
    order,
    payment,
    quarantine,
    silver,
    silver_by,
    tree_state,
)

from shoplake.contract import DATASETS
from shoplake.landing import land_file
from shoplake.quarantine import list_quarantine, replay

ORDERS_FILE = "raw/orders/2026/03/10/orders.csv"
LATER = NOW + timedelta(days=3)


def _iso(d) -> str:
    return d.strftime("%Y-%m-%dT%H:%M:%SZ")


def _future_orders(lake) -> None:
    """O1 valid; O2 30 h after the run (future_timestamp); O3 with an unknown currency."""
    soon = _iso(NOW + timedelta(hours=30))
    land_file(
        lake,
        "orders",
        "2026-03-10",
        "orders.csv",
        csv_text(
            [order("O1"), order("O2", order_ts=soon, updated_at=soon), order("O3", currency="XX")],
            ORDER_COLS,
        ),
    )


def _ledger(lake) -> list[dict]:
    from ingest_kit import parquet_rows

    rows = []
    for p in sorted((lake.root / "_state/quarantine/replays").glob("*.parquet")):
        rows += parquet_rows(p)
    return rows


def test_replay_moves_a_record_that_now_passes_exactly_once(lake) -> None:
    _future_orders(lake)
    first = ingest(lake)
    assert sorted(silver_by(lake, "orders", "order_id")) == ["O1"]

    # at the same time nothing passes yet: both stay, nothing is moved
    same = replay(lake, now=NOW)
    s = same.datasets["orders"]
    assert (s.candidates, s.replayed, s.still_quarantined, s.written) == (2, 0, 2, 0)
    assert _ledger(lake) == []

    later = replay(lake, now=LATER)
    s = later.datasets["orders"]
    assert (s.candidates, s.replayed, s.still_quarantined) == (2, 1, 1)
    assert (s.written, s.duplicates, s.new_quarantined, s.superseded) == (1, 0, 0, 0)
    assert later.balanced
    rows = silver_by(lake, "orders", "order_id")
    assert sorted(rows) == ["O1", "O2"]
    o2 = rows["O2"]
    # lineage: still the raw file and line it was delivered in; the replay wrote it
    assert (o2["source_file"], o2["source_line"]) == (ORDERS_FILE, 3)
    assert o2["run_id"] == later.run_id
    assert o2["ingested_at"] == LATER.replace(tzinfo=None)
    # ... as a batch of its own, after the ingest's, so the incremental facts take it
    assert o2["ingest_seq"] > rows["O1"]["ingest_seq"]

    # the quarantine keeps its history; the ledger marks the move
    assert [(r["source_line"], r["reason"]) for r in quarantine(lake, "orders")] == [
        (3, "future_timestamp"),
        (4, "out_of_enum"),
    ]
    (moved,) = _ledger(lake)
    assert (moved["run_id"], moved["source_file"], moved["source_line"], moved["outcome"]) == (
        first.run_id,
        ORDERS_FILE,
        3,
        "replayed",
    )
    assert moved["replay_run_id"] == later.run_id
    log = json.loads((lake.root / later.log_path).read_text())
    assert log["kind"] == "quarantine_replay"
    assert log["datasets"]["orders"]["replayed"] == 1
    assert log["datasets"]["orders"]["still_quarantined"] == 1

    # listing: O2 counted as replayed, O3 still quarantined
    counts = {(c[2], c[3]): c[4:] for c in list_quarantine(lake).counts}
    assert counts == {
        ("future_timestamp", "order_ts"): (0, 1, 0),
        ("out_of_enum", "currency"): (1, 0, 0),
    }

    # again: nothing moves, silver is unchanged, O2 is never written twice
    before = tree_state(lake.root / "silver")
    again = replay(lake, now=LATER)
    s = again.datasets["orders"]
    assert (s.candidates, s.replayed, s.written, s.still_quarantined) == (1, 0, 0, 1)
    assert tree_state(lake.root / "silver") == before
    assert len(_ledger(lake)) == 1
    # and an ingest afterwards reads nothing new
    assert ingest(lake, now=LATER).datasets["orders"].read == 0
    assert [r["order_id"] for r in silver(lake, "orders")].count("O2") == 1


def test_replay_after_a_contract_change_with_filters(lake, monkeypatch) -> None:
    """A new channel ("kiosk") is added to the contract: the records quarantined for it
    pass; --dataset and --run limit what is replayed."""
    land_file(
        lake,
        "orders",
        "2026-03-10",
        "a.csv",
        csv_text([order("O1", channel="kiosk"), order("O2", channel="kiosk")], ORDER_COLS),
    )
    run_a = ingest(lake)
    land_file(
        lake,
        "orders",
        "2026-03-11",
        "b.csv",
        csv_text([order("O3", channel="kiosk", status="lost")], ORDER_COLS),
    )
    land_file(
        lake,
        "payments",
        "2026-03-11",
        "p.csv",
        csv_text([payment("Y1", method="kiosk_card")], PAYMENT_COLS),
    )
    ingest(lake, now=NOW + timedelta(hours=1))
    assert silver(lake, "orders") == []

    orders = DATASETS["orders"]
    channel = orders.field("channel")
    kiosk = dataclasses.replace(channel, values=(*channel.values, "kiosk"))
    changed = dataclasses.replace(
        orders, fields=tuple(kiosk if f.name == "channel" else f for f in orders.fields)
    )
    monkeypatch.setitem(DATASETS, "orders", changed)

    only_a = replay(lake, dataset="orders", run=run_a.run_id, now=LATER)
    assert list(only_a.datasets) == ["orders"]
    s = only_a.datasets["orders"]
    assert (s.candidates, s.replayed, s.written, s.still_quarantined) == (2, 2, 2, 0)
    assert sorted(silver_by(lake, "orders", "order_id")) == ["O1", "O2"]

    rest = replay(lake, now=LATER)
    s = rest.datasets["orders"]
    # O3 also has an unknown status: still quarantined
    assert (s.candidates, s.replayed, s.still_quarantined) == (1, 0, 1)
    assert (rest.datasets["payments"].candidates, rest.datasets["payments"].replayed) == (1, 0)
    assert sorted(silver_by(lake, "orders", "order_id")) == ["O1", "O2"]


def test_a_whole_file_is_read_again_from_raw(lake) -> None:
    path = land_file(lake, "payments", "2026-03-10", "payments.csv.gz", b"\x1f\x8b cut short")
    land_file(lake, "payments", "2026-03-10", "gone.csv.gz", b"\x1f\x8b also broken")
    ingest(lake)
    assert [r["reason"] for r in quarantine(lake, "payments")] == ["unreadable_gzip"] * 2
    (lake.root / "raw/payments/2026/03/10/gone.csv.gz").unlink()

    # the source fixes the file in place (same path): two good payments, one bad
    good = csv_text(
        [payment("Y1"), payment("Y2"), payment("Y3", currency="XX")], PAYMENT_COLS
    ).encode()
    path.write_bytes(gzip.compress(good))
    result = replay(lake, now=LATER)
    s = result.datasets["payments"]
    assert (s.candidates, s.replayed_files, s.files_missing, s.still_quarantined) == (2, 1, 1, 1)
    assert (s.records_from_files, s.written, s.duplicates, s.new_quarantined) == (3, 2, 0, 1)
    assert result.balanced
    assert sorted(silver_by(lake, "payments", "payment_id")) == ["Y1", "Y2"]
    # the file's bad record is quarantined now, by the replay, with its line
    new = [r for r in quarantine(lake, "payments") if r["run_id"] == result.run_id]
    assert [(r["source_line"], r["reason"], r["field"]) for r in new] == [
        (4, "out_of_enum", "currency")
    ]
    # the file manifest knows the file as read: ingest does not read it again
    assert ingest(lake, now=LATER).datasets["payments"].read == 0
    # a second replay moves nothing: the missing file and Y3 stay quarantined
    again = replay(lake, now=LATER).datasets["payments"]
    assert (again.candidates, again.replayed, again.replayed_files, again.written) == (2, 0, 0, 0)
    assert sorted(silver_by(lake, "payments", "payment_id")) == ["Y1", "Y2"]


def test_a_file_delivered_again_and_read_supersedes_its_old_rejects(lake) -> None:
    _future_orders(lake)
    ingest(lake)
    # the source sends the file again with O2's clock fixed and O3's currency too
    land_file(
        lake,
        "orders",
        "2026-03-10",
        "orders.csv",
        csv_text([order("O1"), order("O2"), order("O3")], ORDER_COLS),
    )
    ingest(lake, now=NOW + timedelta(hours=1))
    assert sorted(silver_by(lake, "orders", "order_id")) == ["O1", "O2", "O3"]
    before = tree_state(lake.root / "silver")

    result = replay(lake, now=LATER)
    s = result.datasets["orders"]
    assert (s.candidates, s.superseded, s.replayed, s.written) == (2, 2, 0, 0)
    assert tree_state(lake.root / "silver") == before  # the old O2 never lands
    counts = [c[4:] for c in list_quarantine(lake).counts]
    assert counts == [(0, 0, 1), (0, 0, 1)]
    assert replay(lake, now=LATER).datasets["orders"].candidates == 0


def test_the_command(lake) -> None:
    _future_orders(lake)
    ingest(lake)
    result = run_shoplake("quarantine", "replay", "--lake", str(lake.root), "--dataset", "orders")
    # the command runs now, long after NOW: the future order is in the past
    assert result.returncode == 0, result.stderr
    header, *rows = [ln for ln in result.stdout.splitlines() if "\t" in ln]
    assert header.split("\t")[:5] == [
        "dataset",
        "candidates",
        "replayed",
        "files",
        "still quarantined",
    ]
    assert rows == ["orders\t2\t1\t0\t1\t0\t1\t0\t0"]
    assert "log in _state/quarantine/replays/" in result.stdout
    again = run_shoplake("quarantine", "replay", "--lake", str(lake.root), "--dataset", "orders")
    assert "orders\t1\t0\t0\t1\t0\t0\t0\t0" in again.stdout


@pytest.mark.parametrize("point", ["before_commit", "after_commit"])
def test_a_killed_replay_moves_all_or_nothing(lake, point) -> None:
    """Killed before its commit marker: nothing moved; after it: the next ingest rolls it
    forward; either way the record is in silver once and marked moved once."""
    _future_orders(lake)
    ingest(lake)
    result = run_shoplake(
        "quarantine", "replay", "--lake", str(lake.root), env={"SHOPLAKE_CRASH_AT": point}
    )
    assert result.returncode != 0
    ingest(lake, now=LATER)  # recovers the transaction (discards it, or finishes it)
    moved = 0 if point == "before_commit" else 1
    assert len(_ledger(lake)) == moved
    assert sorted(silver_by(lake, "orders", "order_id")) == ["O1", "O2"][: 1 + moved]
    replay(lake, now=LATER)
    assert sorted(silver_by(lake, "orders", "order_id")) == ["O1", "O2"]
    assert len(_ledger(lake)) == 1


def test_json_pages_and_ndjson_lines_are_read_again_by_their_own_readers(lake) -> None:
    """A customer (an element of a page) and a click (an NDJSON line) stamped 30 h ahead:
    replayed later, each lands with every field typed as ingest types it."""
    soon = _iso(NOW + timedelta(hours=30))
    land_file(
        lake,
        "customers",
        "2026-03-10",
        "page.json",
        customers_page([customer("C1"), customer("C2", updated_at=soon, marketing_opt_in=False)]),
    )
    land_file(
        lake,
        "clickstream",
        "2026-03-10T12:00",
        "events.ndjson",
        ndjson([click(), click(event_time=soon, attributes={"product_id": "P9"}), "{broken"]),
    )
    ingest(lake)
    assert sorted(silver_by(lake, "customers", "customer_id")) == ["C1"]
    assert len(silver(lake, "clickstream")) == 1

    result = replay(lake, now=LATER)
    c, k = result.datasets["customers"], result.datasets["clickstream"]
    assert (c.candidates, c.replayed, c.written) == (1, 1, 1)
    # the unparseable line cannot pass: it stays
    assert (k.candidates, k.replayed, k.written, k.still_quarantined) == (2, 1, 1, 1)
    c2 = silver_by(lake, "customers", "customer_id")["C2"]
    assert (c2["address_city"], c2["address_country"], c2["marketing_opt_in"]) == (
        "Porto",
        "PT",
        False,
    )
    assert (c2["source_file"], c2["source_line"]) == ("raw/customers/2026/03/10/page.json", 2)
    clicks = {r["source_line"]: r for r in silver(lake, "clickstream")}
    assert sorted(clicks) == [1, 2]
    assert clicks[2]["product_id"] == "P9"
    assert clicks[2]["click_id"] != clicks[1]["click_id"]
    assert clicks[2]["event_time"] == (NOW + timedelta(hours=30)).replace(tzinfo=None)
