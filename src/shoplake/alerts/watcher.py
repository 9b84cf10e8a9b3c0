"""The alerts watcher: new clickstream files -> ``alerts/`` NDJSON and webhook POSTs.

Exactly once per purchase, end to end, although file notifications are at-least-once,
files are re-delivered and the process may be killed at any instant:

1. **Record** (one SQLite transaction per source file): insert each alert by id (a
   re-delivered purchase is already there and is skipped), assign the new ones to an
   ``alerts/`` file, and mark the source file read. Before the commit nothing happened;
   after it, the alerts exist exactly once in the ledger.
2. **Publish**: write each ``alerts/`` file whose alerts are not yet published, whole,
   from the ledger (same bytes every time), atomically (a rename locally, one PUT on
   S3); then mark it published.
   A crash in between rewrites the same file with the same content on restart.
3. **Deliver** (only alerts made while a webhook was configured): POST each from the
   outbox, mark it delivered on 2xx; otherwise retry later with exponential backoff,
   never drop. The one window that remains is inherent: killed after the receiver
   accepted a POST but before the ledger recorded it, the alert is posted again on
   restart with the same ``Idempotency-Key``, which the receiver uses to de-duplicate.

See docs/alerts.md for the layout, payload and operations.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone

from shoplake.alerts.core import (
    Alert,
    FileScan,
    crash_point,
    parse_timestamp,
    scan_stream,
)
from shoplake.alerts.ledger import Ledger
from shoplake.alerts.stores import (
    NotARegularFile,
    landed_at,
    list_landed,
    open_landed,
    state_dir_for,
)
from shoplake.alerts.webhook import SECRET_ENV, WEBHOOK_ENV, DeliveryFailed, Webhook, backoff
from shoplake.contract import NOT_A_REGULAR_FILE, format_utc
from shoplake.errors import ConfigError, LakeBusyError, LakeNotFoundError, ShoplakeError
from shoplake.lake import ALERTS, Lake, day_partition
from shoplake.report import Report
from shoplake.storage import Entry, Lease

Log = Callable[[str], None]

#: Defaults by lake kind: local directory reads are cheap, S3 LISTs cost money.
DEFAULT_INTERVAL_S = {"local": 0.5, "s3": 5.0}
DEFAULT_SWEEP_S = {"local": 10.0, "s3": 300.0}
LOCK_NAME = "alerts"
#: The ledger's meta key of the first start (the bookmark alerts start from).
STARTED = "started_at"
#: Longest a watcher spends delivering before it looks for new files again.
DELIVERY_SLICE_S = 2.0


@dataclass
class FileResult:
    path: str
    alerts: int
    new_alerts: int
    bad_lines: int
    file_error: str | None
    latency_s: float | None  # landing (mtime) to alerts published; None: unknown (S3)
    skipped: str = ""  # lines beyond the contract's input limits: reason:count,...

    def line(self) -> str:
        latency = "?" if self.latency_s is None else f"{self.latency_s:.3f}s"
        error = f" file_error={self.file_error!r}" if self.file_error else ""
        skipped = f" skipped={self.skipped}" if self.skipped else ""
        return (
            f"{self.path} alerts={self.alerts} new={self.new_alerts} bad_lines={self.bad_lines}"
            f" latency={latency}{skipped}{error}"
        )


@dataclass
class Summary:
    """What one pass (``--once``) did, and what is still waiting."""

    files: list[FileResult] = field(default_factory=list)
    delivered: int = 0
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def new_alerts(self) -> int:
        return sum(f.new_alerts for f in self.files)

    @property
    def bad_lines(self) -> int:
        return sum(f.bad_lines for f in self.files)

    @property
    def max_latency_s(self) -> float | None:
        return max((f.latency_s for f in self.files if f.latency_s is not None), default=None)

    def as_report(self) -> Report:
        latency = self.max_latency_s
        return Report(
            title="purchase alerts",
            columns=("files read", "new alerts", "bad lines", "delivered", "undelivered"),
            rows=[
                (
                    len(self.files),
                    self.new_alerts,
                    self.bad_lines,
                    self.delivered,
                    self.counts.get("undelivered", 0),
                )
            ],
            notes=[
                "no new or changed clickstream files"
                if not self.files
                else f"max latency from landing to alert: {latency:.3f}s"
                if latency is not None
                else "latency unknown (S3 listings carry no time)",
                f"ledger: {self.counts.get('alerts', 0)} alerts from "
                f"{self.counts.get('files', 0)} files",
                *self._problems(),
            ],
        )

    def _problems(self) -> list[str]:
        """Notes on lines skipped for the input limits and on unusable files, if any."""
        skipped: dict[str, int] = {}
        for result in self.files:
            for item in filter(None, result.skipped.split(",")):
                reason, _, n = item.rpartition(":")
                skipped[reason] = skipped.get(reason, 0) + int(n)
        notes = []
        if skipped:
            reasons = ", ".join(f"{reason} {n}" for reason, n in sorted(skipped.items()))
            notes.append(f"lines skipped for the contract's input limits: {reasons}")
        errors = [f for f in self.files if f.file_error]
        if errors:
            notes.append(
                f"{len(errors)} files unusable as a whole (file_error), first: {errors[0].path}"
            )
        return notes


def out_path(alert: Alert, source: Entry, processed_at: str) -> str:
    """The ``alerts/`` file of a new alert: one per processed source file and event day.

    The name sorts by processing time and is unique per (source path, signature), so a
    re-processed file never overwrites an earlier batch.
    """
    tag = hashlib.sha1(f"{source.key}\0{source.signature}".encode()).hexdigest()[:10]
    stamp = processed_at.replace("-", "").replace(":", "").replace(".", "")
    day = datetime.strptime(alert.event_day, "%Y-%m-%d")
    return f"{ALERTS}/{day_partition(day)}/{stamp}-{tag}.ndjson"


class Watcher:
    """One lake's alert pipeline, run by the holder of the lake's alerts lock."""

    def __init__(
        self,
        lake: Lake,
        ledger: Ledger,
        webhook: Webhook | None,
        lease: Lease,
        log: Log,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.lake, self.ledger, self.webhook, self.lease = lake, ledger, webhook, lease
        self.log, self.clock = log, clock
        self.signatures = ledger.file_signatures()
        self.endpoint_failures = 0
        self.endpoint_retry_at = 0.0
        self.backfill: datetime | None = None  # --backfill, for start()

    # files -----------------------------------------------------------------------------
    def poll(self, full: bool) -> Iterator[FileResult]:
        """Process every landed file that is new or changed (all folders if ``full``),
        yielding each result as soon as the file is done (the caller may stop between)."""
        now = datetime.fromtimestamp(self.clock(), timezone.utc)
        for entry in list_landed(self.lake, None if full else now):
            if self.signatures.get(entry.key) != _signature(entry):
                result = self.process(entry)
                if result is not None:
                    yield result

    def start(self, backfill: datetime | None) -> Iterator[FileResult]:
        """Alerts start from now: the first start (no ledger yet) bookmarks the files
        already there as read, without alerts. With ``backfill`` (any start), the
        bookmarked files, and those back-filled from a later time, are read again for
        the purchases at or after ``backfill``; each result is yielded. The bookmark is
        one transaction and each file's back-fill another, so a kill in between leaves
        the rest for the next start with the same ``--backfill``; alerts already made
        are never made again (the ledger's ids)."""
        now = format_utc(datetime.fromtimestamp(self.clock(), timezone.utc))
        if self.ledger.meta(STARTED) is None:
            if self.signatures:  # a ledger from before the bookmark existed: it ran before
                self.ledger.set_meta(STARTED, now)
            else:
                existing = list_landed(self.lake)
                self.lease.check()
                count = self.ledger.bookmark(((e.key, _signature(e)) for e in existing), now)
                self.signatures = self.ledger.file_signatures()
                self.log(
                    f"first start: alerts start now; {count} clickstream files already in "
                    "the lake are bookmarked, not alerted (--backfill SINCE alerts their "
                    "purchases since then)"
                )
        if backfill is None:
            return
        since = format_utc(backfill)
        partial = self.ledger.alerted_since()
        todo = [
            e
            for e in list_landed(self.lake)
            if partial.get(e.key, "") > since and self.signatures.get(e.key) == _signature(e)
        ]
        self.log(f"backfill since {since}: {len(todo)} files to read")
        for entry in todo:
            result = self.process(entry, since=since)
            if result is not None:
                yield result

    def _scan(self, entry: Entry, detected: datetime) -> FileScan:
        try:
            with open_landed(self.lake, entry) as (read, size):
                return scan_stream(read, entry.key, detected, size)
        except NotARegularFile as exc:
            return FileScan(entry.key, file_error=f"{NOT_A_REGULAR_FILE}: {exc}")

    def process(self, entry: Entry, since: str | None = None) -> FileResult | None:
        """Read one file and record, publish its alerts (with ``since``: only those of
        purchases at or after that UTC time, a back-fill)."""
        detected = datetime.fromtimestamp(self.clock(), timezone.utc)
        processed_at = format_utc(detected)
        try:
            scan = self._scan(entry, detected)
        except FileNotFoundError:  # gone since it was listed; a new listing will tell
            return None
        alerts = [a for a in scan.alerts if since is None or a.event_time >= since]
        self.lease.check()  # never record or publish without holding the lock
        new = self.ledger.record_file(
            entry.key,
            _signature(entry),
            lines=scan.lines,
            bad_lines=scan.bad_lines,
            file_error=scan.file_error,
            alerts=[(a, out_path(a, entry, processed_at)) for a in alerts],
            deliver=self.webhook is not None,
            processed_at=processed_at,
            skipped=scan.skipped_text(),
            alerted_since=since,
        )
        self.signatures[entry.key] = _signature(entry)
        crash_point("alerts_after_record")
        self.publish()
        landed = landed_at(entry)
        return FileResult(
            entry.key,
            len(alerts),
            len(new),
            scan.bad_lines,
            scan.file_error,
            None if landed is None else max(self.clock() - landed, 0.0),
            scan.skipped_text(),
        )

    def publish(self) -> int:
        """Write every ``alerts/`` file that has unpublished alerts; returns how many."""
        pending = self.ledger.unpublished()
        for path, payloads in pending.items():
            self.lease.check()
            self.lake.write_atomic(path, "".join(p + "\n" for p in payloads))
            crash_point("alerts_after_publish")
            self.ledger.mark_published(path)
        return len(pending)

    # the webhook outbox ------------------------------------------------------------------
    def deliver(self, budget_s: float) -> int:
        """POST the due alerts, batch after batch while ``budget_s`` seconds last (the
        first batch is always tried); stops early if the receiver is down (it then waits
        out its backoff). Returns how many were accepted."""
        if self.webhook is None:
            return 0
        delivered = 0
        stop_at = self.clock() + budget_s
        while self.clock() >= self.endpoint_retry_at:
            due = self.ledger.due(self.clock())
            if not due:
                break
            for item in due:
                self.lease.check()
                try:
                    self.webhook.post(item.alert_id, item.payload, item.attempts + 1)
                except DeliveryFailed as exc:
                    if exc.endpoint_down:
                        self.endpoint_failures += 1
                        wait = backoff(self.endpoint_failures)
                        self.endpoint_retry_at = self.clock() + wait
                        self.ledger.mark_failed(item.alert_id, str(exc), self.endpoint_retry_at)
                        self.log(f"webhook: {exc}; retrying in {wait:.1f}s")
                        return delivered
                    retry_at = self.clock() + backoff(item.attempts + 1)
                    self.ledger.mark_failed(item.alert_id, str(exc), retry_at)
                    self.log(f"webhook rejected alert {item.alert_id}: {exc}; will retry")
                    continue
                crash_point("alerts_after_post")
                self.ledger.mark_delivered(item.alert_id, format_utc(datetime.now(timezone.utc)))
                self.endpoint_failures = 0
                delivered += 1
            if self.clock() >= stop_at:
                break
        return delivered

    def next_delivery_at(self) -> float | None:
        """When a delivery attempt is next due (epoch seconds), None if nothing waits."""
        if self.webhook is None:
            return None
        due = self.ledger.next_due()
        return None if due is None else max(due, self.endpoint_retry_at)


def parse_since(since: str | datetime) -> datetime:
    """``--backfill``'s value as an aware UTC time: a date (its midnight, UTC) or a
    timestamp as the contract writes them (no offset means UTC)."""
    if isinstance(since, datetime):
        return since if since.tzinfo else since.replace(tzinfo=timezone.utc)
    text = since.strip()
    parsed = parse_timestamp(text + "T00:00" if len(text) == 10 else text)
    if parsed is None:
        raise ConfigError(
            f"--backfill {since!r} is not a date or an ISO timestamp",
            "give a UTC date or time, e.g. --backfill 2026-03-01 or 2026-03-01T14:00:00Z",
            setting="backfill",
        )
    return parsed.replace(tzinfo=timezone.utc)


def _signature(entry: Entry) -> str:
    return ":".join(str(part) for part in entry.signature)


def _kind(lake: Lake) -> str:
    return "local" if lake.is_local else "s3"


@contextlib.contextmanager
def _running(
    location: str | os.PathLike | Lake,
    webhook: str | None,
    state_dir: str | os.PathLike | None,
    log: Log,
    backfill: str | datetime | None,
) -> Iterator[Watcher]:
    """Open the lake, take its alerts lock, open the ledger, finish what a killed run
    left unpublished (idempotent), and yield the watcher. The webhook defaults to
    SHOPLAKE_ALERTS_WEBHOOK."""
    since = None if backfill is None else parse_since(backfill)
    lake = Lake.at(location)
    if lake.is_local and not lake.root.is_dir():
        raise LakeNotFoundError(
            f"lake {lake.root} does not exist",
            "pass the lake's directory with --lake",
            location=str(lake.root),
        )
    webhook = webhook or os.environ.get(WEBHOOK_ENV)
    hook = Webhook(webhook, secret=os.environ.get(SECRET_ENV) or None) if webhook else None
    with contextlib.ExitStack() as stack:
        try:
            lease = stack.enter_context(lake.lock(LOCK_NAME))
        except LakeBusyError as exc:
            raise LakeBusyError(
                exc.what,
                "an alerts watcher processes new files as they land; stop it to run another",
            ) from None
        ledger = Ledger(state_dir_for(lake, state_dir))
        stack.callback(ledger.close)
        watcher = Watcher(lake, ledger, hook, lease, log)
        watcher.publish()
        watcher.backfill = since
        yield watcher


def process_pending(
    lake: str | os.PathLike | Lake,
    webhook: str | None = None,
    *,
    retry_for_s: float = 10.0,
    state_dir: str | os.PathLike | None = None,
    log: Log | None = None,
    backfill: str | datetime | None = None,
) -> Summary:
    """One pass: alerts for every new or changed clickstream file, then deliveries.

    ``lake`` is a directory or ``s3://bucket/prefix``; ``webhook`` defaults to
    SHOPLAKE_ALERTS_WEBHOOK (unset: alerts go to ``alerts/`` only). The first pass on a
    lake (no ledger yet) bookmarks the files already there and alerts none of them;
    ``backfill`` (a UTC date or timestamp) alerts their purchases from then on, once
    (see :meth:`Watcher.start`). Undelivered alerts
    are retried with backoff for up to ``retry_for_s`` seconds, then left in the outbox
    for the next pass or a running watcher. Raises :class:`shoplake.errors.LakeBusyError` if a
    watcher holds the lake (it does this work already). ``log`` gets one line per
    processed file.
    """
    log = log or (lambda line: None)
    with _running(lake, webhook, state_dir, log, backfill) as watcher:
        summary = Summary()
        for result in itertools.chain(watcher.start(watcher.backfill), watcher.poll(full=True)):
            log(result.line())
            summary.files.append(result)
        deadline = time.time() + retry_for_s
        while True:
            summary.delivered += watcher.deliver(max(deadline - time.time(), 0.0))
            due = watcher.next_delivery_at()
            if due is None or due >= deadline or time.time() >= deadline:
                break
            time.sleep(max(due - time.time(), 0.0))
        summary.counts = watcher.ledger.counts()
        return summary


def watch(
    lake: str | os.PathLike | Lake,
    webhook: str | None = None,
    *,
    interval_s: float | None = None,
    sweep_s: float | None = None,
    state_dir: str | os.PathLike | None = None,
    log: Log | None = None,
    stop: threading.Event | None = None,
    backfill: str | datetime | None = None,
) -> None:
    """Watch a lake until ``stop`` is set or SIGTERM/SIGINT arrives (then finish the
    file or POST in hand and return; a kill at any other moment is safe too).

    Alerts start from the first start (the files already there are bookmarked), or
    from ``backfill`` (see :meth:`Watcher.start`).

    Every ``interval_s`` it lists the recent landing folders, every ``sweep_s`` all of
    them (defaults: 0.5 s and 10 s locally, 5 s and 300 s on S3).
    """
    log = log or (lambda line: None)
    stop = stop or threading.Event()
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stop.set())
    with _running(lake, webhook, state_dir, log, backfill) as watcher:
        kind = _kind(watcher.lake)
        interval_s = interval_s or DEFAULT_INTERVAL_S[kind]
        sweep_s = sweep_s or DEFAULT_SWEEP_S[kind]
        for result in watcher.start(watcher.backfill):
            log(result.line())
            if stop.is_set():  # SIGTERM: the next start with --backfill goes on
                return
        hook = f"; webhook {watcher.webhook.shown}" if watcher.webhook else ""
        log(f"watching {watcher.lake.url()} (ledger {watcher.ledger.path}{hook})")
        next_sweep = 0.0
        while not stop.is_set():
            full = time.time() >= next_sweep
            if full:
                next_sweep = time.time() + sweep_s
            try:
                watcher.publish()  # anything a storage error left unpublished
                for result in watcher.poll(full=full):
                    log(result.line())
                    if stop.is_set():  # SIGTERM: leave the rest for the next start
                        break
            except LakeBusyError:
                raise
            except (OSError, ShoplakeError) as exc:  # storage hiccup (S3, NFS): try again
                log(f"storage error on {watcher.lake.url()}: {exc}")
                next_sweep = 0.0 if full else next_sweep
            delivered = 0 if stop.is_set() else watcher.deliver(DELIVERY_SLICE_S)
            if delivered:
                left = watcher.ledger.counts()["undelivered"]
                log(f"webhook: delivered {delivered}, {left} waiting")
            stop.wait(interval_s)


def status(lake: str | os.PathLike | Lake, *, state_dir: str | os.PathLike | None = None) -> Report:
    """The ledger's counts and the oldest undelivered alert (safe while a watcher runs)."""
    opened = Lake.at(lake)
    ledger = Ledger(state_dir_for(opened, state_dir))
    try:
        counts = ledger.counts()
        oldest = ledger.oldest_undelivered()
        started, bookmarked = ledger.meta(STARTED), ledger.bookmarked()
        skipped = ledger.skipped_lines()
    finally:
        ledger.close()
    notes = [f"ledger: {ledger.path}"]
    if started:
        notes.append(
            f"alerts since the first start, {started}"
            + (
                f"; {bookmarked} files there then are bookmarked, not alerted "
                "(watch --backfill SINCE alerts them)"
                if bookmarked
                else ""
            )
        )
    if skipped:
        notes.append(
            "lines skipped for the contract's input limits: "
            + ", ".join(f"{reason} {n}" for reason, n in skipped.items())
        )
    if oldest:
        notes.append(
            f"oldest undelivered: {oldest[0]} after {oldest[1]} attempts"
            + (f" (last error: {oldest[2]})" if oldest[2] else "")
        )
    return Report(
        title=f"purchase alerts of {opened.url()}",
        columns=tuple(counts),
        rows=[tuple(counts.values())],
        notes=notes,
    )
