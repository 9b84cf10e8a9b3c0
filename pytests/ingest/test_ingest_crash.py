"""Crash safety: a run killed with SIGKILL at any moment leaves every partition either as
it was or as it will be (never half, never both), and the next run finishes the job so
that the lake ends up exactly as after a clean run, with every record accounted once.

The failpoints (SHOPLAKE_CRASH_AT) make the ingest process kill itself with a real
SIGKILL at the four documented points; the last test kills it from outside at random
moments of a larger run.
"""

from __future__ import annotations

import hashlib
import random
import shutil
import signal
import subprocess
import time
from collections import Counter
from datetime import datetime, timedelta, timezone

import pytest
from ingest_kit import (
    KEYS,
    ORDER_COLS,
    PAYMENT_COLS,
    SALE_COLS,
    STAT_FIELDS,
    check_stats,
    cli_cmd,
    cli_env,
    click,
    content,
    csv_text,
    ingest,
    ndjson,
    order,
    payment,
    quarantine,
    run_cli,
    run_logs,
    sale,
    silver,
    tree_state,
)

from shoplake.lake import Lake
from shoplake.landing import land_file

t = datetime
DATASETS = ("orders", "sales", "payments", "customers", "products", "clickstream")
CRASH_POINTS = ("before_commit", "after_commit", "mid_publish", "before_cleanup")


def _batch1(lake: Lake) -> None:
    land_file(
        lake,
        "orders",
        "2026-03-02",
        "a.csv",
        csv_text(
            [
                order("O1", order_ts="2026-03-01T09:00:00Z", updated_at="2026-03-01T09:00:00Z"),
                order("O2", order_ts="2026-03-02T09:00:00Z", updated_at="2026-03-02T09:00:00Z"),
                order("O3", order_ts="2026-03-01T11:00:00Z", updated_at="2026-03-01T11:00:00Z"),
            ],
            ORDER_COLS,
        ),
    )
    land_file(
        lake,
        "sales",
        "2026-03-02",
        "s.csv",
        csv_text(
            [
                sale("S1", sold_at="2026-03-01T09:00:00Z"),
                sale("S2", sold_at="2026-03-02T09:00:00Z"),
                sale("S3", quantity="x"),
            ],
            SALE_COLS,
        ),
    )
    events = [click(session_id=f"e{i}", event_time=f"2026-03-01T1{i}:00:00Z") for i in range(4)]
    events.append(click(session_id="e4", event_time="2026-03-02T00:10:00Z"))
    land_file(lake, "clickstream", t(2026, 3, 2, 1), "ev.json", ndjson(events))


#: batch 2 by hand: (files_read, read, written, quarantined, duplicates, files_quarantined)
BATCH2 = {
    # late O4 into 03-01, O1 re-sent, a new version of O2, O5 on a new day, a bad status;
    # plus a file that is not gzip
    "orders": (2, 6, 3, 2, 1, 1),
    # S2 re-sent, S4 on a new day, S5 late into 03-01
    "sales": (1, 3, 2, 0, 1, 0),
    "payments": (1, 2, 2, 0, 0, 0),
    # e5 on a new day, e0 re-sent, e6 late into 03-01, one broken line
    "clickstream": (1, 4, 2, 1, 1, 0),
}


def check_batch2(report, datasets=tuple(BATCH2)) -> None:
    """The report's counters of ``datasets`` are batch 2's, worked out by hand."""
    for ds in datasets:
        files, read, written, quar, dups, fq = BATCH2[ds]
        check_stats(
            report,
            ds,
            files_read=files,
            read=read,
            written=written,
            quarantined=quar,
            duplicates=dups,
            files_quarantined=fq,
        )


def _batch2(lake: Lake) -> None:
    land_file(
        lake,
        "orders",
        "2026-03-05",
        "late.csv",
        csv_text(
            [
                order("O4", order_ts="2026-03-01T20:00:00Z", updated_at="2026-03-01T20:00:00Z"),
                order("O1", order_ts="2026-03-01T09:00:00Z", updated_at="2026-03-01T09:00:00Z"),
                order(
                    "O2",
                    status="paid",
                    order_ts="2026-03-02T09:00:00Z",
                    updated_at="2026-03-03T09:00:00Z",
                ),
                order("O5", order_ts="2026-03-04T09:00:00Z", updated_at="2026-03-04T09:00:00Z"),
                order("O6", status="teleported"),
            ],
            ORDER_COLS,
        ),
    )
    land_file(lake, "orders", "2026-03-05", "broken.csv.gz", b"this is not gzip")
    land_file(
        lake,
        "sales",
        "2026-03-05",
        "s2.csv",
        csv_text(
            [
                sale("S2", sold_at="2026-03-02T09:00:00Z"),
                sale("S4", sold_at="2026-03-03T09:00:00Z"),
                sale("S5", sold_at="2026-03-01T23:00:00Z"),
            ],
            SALE_COLS,
        ),
    )
    land_file(
        lake,
        "payments",
        "2026-03-05",
        "p.csv",
        csv_text([payment("Y1"), payment("Y2", payment_ts="2026-03-04T10:00:00Z")], PAYMENT_COLS),
    )
    land_file(
        lake,
        "clickstream",
        t(2026, 3, 5, 0),
        "ev.json",
        ndjson(
            [
                click(session_id="e5", event_time="2026-03-05T00:01:00Z"),
                click(session_id="e0", event_time="2026-03-01T10:00:00Z"),
                click(session_id="e6", event_time="2026-03-01T22:00:00Z"),
                '{"event_time": oops}',
            ]
        ),
    )


def _partitions(lake: Lake) -> dict[tuple[str, str], list[tuple]]:
    """Every silver partition's content (without run-dependent lineage)."""
    out: dict[tuple[str, str], list[dict]] = {}
    for ds in DATASETS:
        for r in silver(lake, ds):
            out.setdefault((ds, r["_file"]), []).append(r)
    return {k: content(v) for k, v in out.items()}


def _assert_consistent(lake: Lake, before: dict, after: dict) -> None:
    """What a reader sees: each partition is exactly the old or the new version, one
    data.parquet per partition, no key twice."""
    for ds in DATASETS:
        files = [p for p in (lake.root / "silver" / ds).rglob("*") if p.is_file()]
        assert all(p.name == "data.parquet" for p in files), files
        seen = Counter(tuple(r[c] for c in KEYS[ds]) for r in silver(lake, ds))
        assert not [k for k, n in seen.items() if n > 1], f"{ds}: duplicate keys"
    now = _partitions(lake)
    for part in set(before) | set(after) | set(now):
        state = now.get(part)
        assert state in (before.get(part), after.get(part)), f"{part} is neither before nor after"


def _quarantined(lake: Lake) -> Counter:
    return Counter(
        (ds, r["source_file"], r["source_line"], r["reason"])
        for ds in DATASETS
        for r in quarantine(lake, ds)
    )


def _sum_logs(lake: Lake, exclude: set[str]) -> dict[str, dict[str, int]]:
    total = {ds: dict.fromkeys(STAT_FIELDS, 0) for ds in DATASETS}
    for run_id, log in run_logs(lake).items():
        if run_id in exclude:
            continue
        for ds, st in log["datasets"].items():
            for f in STAT_FIELDS:
                total.setdefault(ds, dict.fromkeys(STAT_FIELDS, 0))[f] += st[f]
    return total


def _no_txn_left(lake: Lake) -> bool:
    txn = lake.state_dir("txn")
    return not txn.exists() or not any(txn.iterdir())


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """A clean lake: batch 1, then batch 2, each ingested once without any crash."""
    root = tmp_path_factory.mktemp("reference") / "lake"
    root.mkdir()
    ref = Lake.at(root)
    _batch1(ref)
    ingest(ref, now=datetime.now(timezone.utc))
    before = _partitions(ref)
    _batch2(ref)
    report = ingest(ref, now=datetime.now(timezone.utc))
    check_batch2(report)
    return before, _partitions(ref), _quarantined(ref)


@pytest.mark.parametrize("point", CRASH_POINTS)
def test_killed_at_failpoint_then_rerun_equals_clean_run(lake, reference, point):
    ref_before, ref_after, ref_quarantine = reference
    _batch1(lake)
    first = run_cli(lake)
    assert first.returncode == 0, first.stderr
    (first_run,) = run_logs(lake)
    before = _partitions(lake)
    assert before == ref_before
    untouched = {
        k: v
        for k, v in tree_state(lake.root / "silver").items()
        if k
        in (
            "sales/year=2026/month=03/day=02/data.parquet",
            "clickstream/year=2026/month=03/day=02/data.parquet",
        )
    }
    assert len(untouched) == 2
    _batch2(lake)
    raw = tree_state(lake.root / "raw")

    crashed = run_cli(lake, SHOPLAKE_CRASH_AT=point)
    assert crashed.returncode == -signal.SIGKILL, (crashed.returncode, crashed.stderr)
    _assert_consistent(lake, ref_before, ref_after)
    if point == "before_commit":
        assert _partitions(lake) == ref_before
        assert list(run_logs(lake)) == [first_run]
    if point == "before_cleanup":
        assert _partitions(lake) == ref_after

    rerun = run_cli(lake)
    assert rerun.returncode == 0, rerun.stderr
    assert _partitions(lake) == ref_after
    _assert_consistent(lake, ref_after, ref_after)
    assert _quarantined(lake) == ref_quarantine  # every rejection recorded exactly once
    # the completed work is accounted once: the crashed run's log if it committed, plus
    # the rerun's, add up to one clean run over batch 2
    total = _sum_logs(lake, exclude={first_run})
    for ds, (files, read, written, quar, dups, fq) in BATCH2.items():
        got = total[ds]
        assert (
            got["files_read"],
            got["read"],
            got["written"],
            got["quarantined"],
            got["duplicates"],
            got["files_quarantined"],
        ) == (files, read, written, quar, dups, fq), (ds, got)
    assert len(run_logs(lake)) == (2 if point == "before_commit" else 3)
    assert _no_txn_left(lake)
    assert tree_state(lake.root / "raw") == raw
    silver_now = tree_state(lake.root / "silver")
    assert {k: silver_now[k] for k in untouched} == untouched

    # and the lake is settled: one more run reads and changes nothing
    settled = tree_state(lake.root / "silver")
    known = set(run_logs(lake))
    last = run_cli(lake)
    assert last.returncode == 0, last.stderr
    assert tree_state(lake.root / "silver") == settled
    (last_run,) = set(run_logs(lake)) - known
    assert all(st["read"] == 0 for st in run_logs(lake)[last_run]["datasets"].values())


# ---------------------------------------------------------------------------------------
# kill -9 from outside at random moments of a larger run
# ---------------------------------------------------------------------------------------
def _utc(ts: datetime) -> str:
    return ts.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _big_clickstream(lake: Lake, seed: int) -> dict[str, int]:
    """~36k NDJSON lines in 36 hourly files, events over 24 business days, with
    re-delivered events and broken lines; returns the expected counts by hand."""
    rng = random.Random(seed)
    keys: set[str] = set()
    read = quarantined = 0
    sent: list[str] = []
    for f in range(36):
        landed = datetime(2026, 3, 1 + f // 12, (f * 2) % 24)
        lines = []
        for i in range(1000):
            read += 1
            r = rng.random()
            if r < 0.01:
                lines.append('{"event_time": "2026-03-01T00:00:00Z", ')  # broken
                quarantined += 1
                continue
            if r < 0.06 and sent:
                lines.append(rng.choice(sent))  # re-delivered event
                continue
            ev = datetime(2026, 2, 6) + timedelta(
                days=rng.randrange(24),
                seconds=rng.randrange(86400),
                milliseconds=rng.randrange(1000),
            )
            user, session = f"C{rng.randrange(500):04d}", f"s-{f}-{i // 7}"
            action = rng.choice(["page_view", "product_view", "search", "add_to_cart"])
            url = f"https://shop.example.com/p/{rng.randrange(100)}"
            line = ndjson([click(event_time=_utc(ev), user_id=user, session_id=session,
                                 action=action, page_url=url)]).rstrip("\n")  # fmt: skip
            key = "\x1f".join([_utc(ev), user, session, action, url])
            keys.add(hashlib.md5(key.encode()).hexdigest())
            sent.append(line)
            lines.append(line)
        land_file(lake, "clickstream", landed, f"events-{f:03d}.json", "\n".join(lines) + "\n")
    return {"read": read, "written": len(keys), "quarantined": quarantined}


@pytest.mark.slow
def test_kill_9_at_random_moments_of_a_large_run(lake, tmp_path):
    seed = 20260301
    expected = _big_clickstream(lake, seed)
    expected["duplicates"] = expected["read"] - expected["written"] - expected["quarantined"]
    assert expected["duplicates"] > 1000

    ref = Lake.at(tmp_path / "ref")
    shutil.copytree(lake.root / "raw", ref.root / "raw")
    started = time.monotonic()
    done = run_cli(ref)
    duration = time.monotonic() - started
    assert done.returncode == 0, done.stderr
    (ref_log,) = run_logs(ref).values()
    assert {k: ref_log["datasets"]["clickstream"][k] for k in expected} == expected
    after = _partitions(ref)
    assert len(after) == 24

    rng = random.Random(seed)
    outcomes = []
    kills = 5
    for k in range(kills):
        proc = subprocess.Popen(
            cli_cmd(lake),
            env=cli_env(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        # spread the moments over the run: start-up, reading, staging, publishing
        time.sleep((0.2 + 0.8 * (k + rng.random()) / kills) * duration)
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
        outcomes.append(proc.wait(timeout=120))
        # a reader at this moment: every partition absent (as before) or complete
        _assert_consistent(lake, {}, after)
    assert -signal.SIGKILL in outcomes, f"no kill landed mid-run: {outcomes}"

    final = run_cli(lake)
    assert final.returncode == 0, final.stderr
    assert _partitions(lake) == after
    total = _sum_logs(lake, exclude=set())["clickstream"]
    assert {k: total[k] for k in expected} == expected, (outcomes, total)
    assert total["files_read"] == 36
    assert _no_txn_left(lake)
