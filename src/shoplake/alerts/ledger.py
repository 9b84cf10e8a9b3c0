"""The watcher's durable state: an SQLite ledger (WAL mode) under ``_state/alerts/``.

Why SQLite: exactly-once needs "this alert id exists" and "these files were read" to
become true together, atomically, and to survive ``kill -9`` and power loss. One SQLite
transaction per processed file gives that (WAL, ``synchronous=FULL``), with no server,
and the same file answers "what is still to publish or deliver" after a restart.

Tables:

- ``files``: every clickstream file processed, by lake-relative path, with the
  signature it had (size and mtime, or size and ETag on S3). A file whose signature
  changes (rewritten, touched) is read again; its alerts are then found in ``alerts``.
  ``alerted_since`` says which of its purchases were alerted: NULL all of them; a UTC
  time those at or after it (a ``--backfill``); :data:`BOOKMARKED` none (the file was
  there when the first watcher started: alerts start from then).
- ``meta``: ``started_at``, when the first watcher started (the start bookmark).
- ``alerts``: one row per alert id (the primary key makes a second insert a no-op),
  with the exact JSON line, the ``alerts/`` file it belongs to and whether that file is
  published, and the webhook outbox columns (delivery state, attempts, next attempt,
  last error).
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from shoplake.alerts.core import Alert

LEDGER_FILE = "ledger.sqlite"

#: ``alerts.delivery`` values. NULL: no webhook was configured when the alert was made.
PENDING, DELIVERED = "pending", "delivered"
#: ``files.alerted_since`` of a file bookmarked at the first start: later than any event.
BOOKMARKED = "9999-12-31T23:59:59.999999Z"

_SCHEMA = """
create table if not exists files (
    path text primary key,
    signature text not null,
    lines integer not null,
    alerts integer not null,
    new_alerts integer not null,
    bad_lines integer not null,
    file_error text,
    processed_at text not null,
    skipped text,
    alerted_since text
);
create table if not exists meta (
    key text primary key,
    value text not null
);
create table if not exists alerts (
    alert_id text primary key,
    payload text not null,
    out_path text not null,
    published integer not null default 0,
    delivery text,
    attempts integer not null default 0,
    next_attempt_at real not null default 0,
    last_error text,
    delivered_at text
);
create index if not exists alerts_unpublished on alerts (out_path) where published = 0;
create index if not exists alerts_outbox on alerts (next_attempt_at) where delivery = 'pending';
"""


@dataclass(frozen=True)
class Outgoing:
    """An alert waiting in the outbox."""

    alert_id: str
    payload: str
    attempts: int


class Ledger:
    """The SQLite ledger of one lake's alerts; used by one process at a time (the holder
    of the lake's ``alerts`` lock)."""

    def __init__(self, state_dir: Path) -> None:
        state_dir.mkdir(parents=True, exist_ok=True)
        self.path = state_dir / LEDGER_FILE
        self.db = sqlite3.connect(self.path, isolation_level=None, timeout=30)
        self.db.execute("pragma journal_mode = wal")
        self.db.execute("pragma synchronous = full")
        self.db.executescript(_SCHEMA)
        columns = {row[1] for row in self.db.execute("pragma table_info(files)")}
        for column in ("skipped", "alerted_since"):  # ledgers made before these existed
            if column not in columns:
                self.db.execute(f"alter table files add column {column} text")

    def close(self) -> None:
        self.db.close()

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        self.db.execute("begin immediate")
        try:
            yield self.db
        except BaseException:
            self.db.execute("rollback")
            raise
        self.db.execute("commit")

    # files -------------------------------------------------------------------------
    def file_signatures(self) -> dict[str, str]:
        return dict(self.db.execute("select path, signature from files").fetchall())

    def meta(self, key: str) -> str | None:
        rows = self.db.execute("select value from meta where key = ?", (key,)).fetchall()
        return rows[0][0] if rows else None

    def set_meta(self, key: str, value: str) -> None:
        self.db.execute("insert or replace into meta (key, value) values (?, ?)", (key, value))

    def bookmark(self, files: Iterable[tuple[str, str]], started_at: str) -> int:
        """The first start: record ``(path, signature)`` of the files already there as
        read without alerts, and when this was; one transaction. Returns how many."""
        count = 0
        with self._transaction() as db:
            for path, signature in files:
                count += 1
                db.execute(
                    "insert or ignore into files (path, signature, lines, alerts, new_alerts, "
                    "bad_lines, processed_at, alerted_since) values (?, ?, 0, 0, 0, 0, ?, ?)",
                    (path, signature, started_at, BOOKMARKED),
                )
            db.execute(
                "insert or replace into meta (key, value) values ('started_at', ?)",
                (started_at,),
            )
        return count

    def alerted_since(self) -> dict[str, str]:
        """``path -> alerted_since`` of the files not every purchase of which was alerted
        (bookmarked or back-filled from a time)."""
        rows = self.db.execute(
            "select path, alerted_since from files where alerted_since is not null"
        ).fetchall()
        return dict(rows)

    def record_file(
        self,
        path: str,
        signature: str,
        *,
        lines: int,
        bad_lines: int,
        file_error: str | None,
        alerts: Iterable[tuple[Alert, str]],
        deliver: bool,
        processed_at: str,
        skipped: str = "",
        alerted_since: str | None = None,
    ) -> list[Alert]:
        """In one transaction: add the alerts not seen before and mark the file read.

        ``alerts`` pairs each alert with the ``alerts/`` file it would be published in.
        Returns the alerts that were new; the others already exist (re-delivered events).
        ``skipped`` is the lines skipped by reason (``reason:count,...``);
        ``alerted_since`` set when only the purchases from that UTC time on were given.
        """
        new: list[Alert] = []
        total = 0
        with self._transaction() as db:
            for alert, out_path in alerts:
                total += 1
                cursor = db.execute(
                    "insert or ignore into alerts (alert_id, payload, out_path, delivery) "
                    "values (?, ?, ?, ?)",
                    (alert.alert_id, alert.to_json(), out_path, PENDING if deliver else None),
                )
                if cursor.rowcount:
                    new.append(alert)
            db.execute(
                "insert or replace into files (path, signature, lines, alerts, new_alerts, "
                "bad_lines, file_error, processed_at, skipped, alerted_since) "
                "values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    path,
                    signature,
                    lines,
                    total,
                    len(new),
                    bad_lines,
                    file_error,
                    processed_at,
                    skipped or None,
                    alerted_since,
                ),
            )
        return new

    # publishing to alerts/ ---------------------------------------------------------------
    def unpublished(self) -> dict[str, list[str]]:
        """Per ``alerts/`` file that still has to be (re)written, all of its JSON lines.

        The whole content comes from the ledger, so writing a file again after a crash
        gives the same bytes: publishing is idempotent.
        """
        rows = self.db.execute(
            "select out_path, payload from alerts where out_path in "
            "(select distinct out_path from alerts where published = 0) order by rowid"
        ).fetchall()
        files: dict[str, list[str]] = {}
        for out_path, payload in rows:
            files.setdefault(out_path, []).append(payload)
        return files

    def mark_published(self, out_path: str) -> None:
        self.db.execute("update alerts set published = 1 where out_path = ?", (out_path,))

    # the webhook outbox ------------------------------------------------------------------
    def due(self, now: float, limit: int = 100) -> list[Outgoing]:
        """Undelivered alerts whose next attempt is due, oldest first."""
        rows = self.db.execute(
            "select alert_id, payload, attempts from alerts "
            "where delivery = 'pending' and next_attempt_at <= ? order by rowid limit ?",
            (now, limit),
        ).fetchall()
        return [Outgoing(*row) for row in rows]

    def next_due(self) -> float | None:
        """When the earliest undelivered alert is due (epoch seconds), None if none."""
        return self.db.execute(
            "select min(next_attempt_at) from alerts where delivery = 'pending'"
        ).fetchall()[0][0]

    def mark_delivered(self, alert_id: str, delivered_at: str) -> None:
        self.db.execute(
            "update alerts set delivery = ?, delivered_at = ?, attempts = attempts + 1, "
            "last_error = null where alert_id = ?",
            (DELIVERED, delivered_at, alert_id),
        )

    def mark_failed(self, alert_id: str, error: str, next_attempt_at: float) -> None:
        self.db.execute(
            "update alerts set attempts = attempts + 1, last_error = ?, next_attempt_at = ? "
            "where alert_id = ?",
            (error, next_attempt_at, alert_id),
        )

    # status ------------------------------------------------------------------------------
    def counts(self) -> dict[str, int]:
        row = self.db.execute(
            "select count(*), coalesce(sum(published = 0), 0), "
            "coalesce(sum(delivery = 'pending'), 0), coalesce(sum(delivery = 'delivered'), 0) "
            "from alerts"
        ).fetchall()[0]
        files = self.db.execute(
            "select count(*) from files where alerted_since is null or alerted_since != ?",
            (BOOKMARKED,),
        ).fetchall()[0][0]
        return {
            "files": files,
            "alerts": row[0],
            "unpublished": row[1],
            "undelivered": row[2],
            "delivered": row[3],
        }

    def bookmarked(self) -> int:
        """How many files of the first start's bookmark were never read for alerts."""
        return self.db.execute(
            "select count(*) from files where alerted_since = ?", (BOOKMARKED,)
        ).fetchall()[0][0]

    def skipped_lines(self) -> dict[str, int]:
        """Lines skipped for an input limit, by reason, over all files read."""
        out: dict[str, int] = {}
        for (text,) in self.db.execute("select skipped from files where skipped is not null"):
            for item in text.split(","):
                reason, _, n = item.rpartition(":")
                out[reason] = out.get(reason, 0) + int(n)
        return dict(sorted(out.items()))

    def oldest_undelivered(self) -> tuple[str, int, str | None] | None:
        """(alert_id, attempts, last_error) of the oldest alert still in the outbox."""
        rows = self.db.execute(
            "select alert_id, attempts, last_error from alerts "
            "where delivery = 'pending' order by rowid limit 1"
        ).fetchall()
        return rows[0] if rows else None
