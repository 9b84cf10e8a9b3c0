"""``shoplake extract products``: copy new and changed catalog rows from PostgreSQL to raw/.

Each run reads the rows of the products table (default ``public.products``) whose
``updated_at`` is at or after the saved watermark and writes them, ordered by
(updated_at, product_id), to one CSV file
``raw/products/YYYY/MM/DD/products-<UTC timestamp>.csv`` (landing date and time of the
run, UTC) in the raw contract's format. A run that finds nothing writes nothing.

Watermark: ``>=`` plus the keys seen at the watermark instant
    The state (``_state/extract/products.json``, per source table) holds the watermark
    ``W`` = the greatest ``updated_at`` extracted so far, and the ``product_id`` of every
    row extracted with ``updated_at = W``. The next run selects
    ``updated_at >= W`` except those keys. So a row written after the last run with
    ``updated_at`` exactly ``W`` (same transaction timestamp, a bulk load, a coarse clock)
    is still picked up, which ``updated_at > W`` would lose forever, and rows already
    delivered at ``W`` are not delivered again and again, which plain ``>=`` would do.
    A keyset watermark ``(updated_at, product_id) > (W, last_id)`` is not enough: it loses
    a row at ``W`` whose id sorts before ``last_id``. The key list is as long as the number
    of rows sharing the newest instant (usually one; a bulk load that stamps the whole
    catalog with one ``now()`` stores the whole catalog's ids once, which is acceptable).
    The watermark only advances to timestamps actually extracted, never to "now", so a
    row that becomes visible later with a timestamp between the last extracted one and
    the run's cut-off is still found by the next run.

Upper bound and safety lag: late commits and clocks
    ``updated_at`` is normally the writing transaction's ``now()``, i.e. its *start*
    time, which becomes visible only at commit. A transaction that is still open while a
    run reads its snapshot, and commits afterwards with an ``updated_at`` below the new
    watermark, would be missed for good (no timestamp-only watermark can see it). The run
    therefore reads only rows with ``updated_at <= now() - safety_lag`` (server clock,
    taken in the same snapshot); younger rows wait for the next run, and so do rows
    stamped in the future (an application server's clock ahead of the database): they
    must never push the watermark past the present, or every ordinary row written
    between "now" and that future instant would be skipped. The default lag is
    :data:`DEFAULT_SAFETY_LAG` (5 s): long enough for ordinary OLTP write transactions
    and small clock differences between application servers and the database, and free
    for a job that runs hourly or daily. **Limitation:** a writing transaction that stays
    open longer than the lag (or a clock more than the lag behind) can still be missed;
    if the source has those, raise ``safety_lag`` to more than the longest such
    transaction, or have the source stamp ``updated_at`` with ``clock_timestamp()`` in a
    trigger at the end of the transaction. An update that does not change ``updated_at``
    is invisible to any ``updated_at`` extract, by design of the contract.

Reading
    One ``REPEATABLE READ, READ ONLY`` transaction (one snapshot for the cut-off and all
    rows), streamed through a server-side cursor in batches of ``batch_size`` rows, so
    memory does not grow with the catalog. The session time zone is UTC.

Crash safety and re-runs
    The CSV is written to a scratch file (in a local lake: under a temporary name
    starting with ``_`` in the landing directory, which ingest, Spectrum and Athena
    ignore), then published in one step (:meth:`Lake.publish_file`: fsync and
    ``os.replace`` locally, a single upload on S3, which makes the object visible only
    once complete). Only after that is the new watermark saved, also atomically. A
    failure before the publish leaves no visible file and the old watermark; a crash
    between the publish and the state save leaves the file *and* the old watermark, so
    the next run extracts the same rows again into a second file. That is harmless:
    ingest counts identical re-deliveries as duplicates.
    Nothing is ever lost, at worst delivered twice. Two runs at the same time are safe in
    the same sense (duplicates, never a gap).

Output format (raw contract, products)
    Header = the contract's raw column names; timestamps ISO-8601 UTC with microseconds
    and ``Z``; amounts as plain decimal strings; booleans ``true``/``false``; null as an
    empty field; RFC 4180 quoting; UTF-8; LF line ends.

The source table itself (its columns from the contract, its DDL, the generator's upsert)
is :mod:`shoplake.products_table`; connections and their error lines are
:mod:`shoplake.postgres`.
"""

from __future__ import annotations

import csv
import json
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from shoplake.contract import PRODUCTS, Field, Kind, format_utc
from shoplake.errors import ConfigError, ExtractError, StorageError, first_line
from shoplake.lake import Lake
from shoplake.postgres import connect, describe, parse_dsn, redact_dsn, table_identifier
from shoplake.products_table import COLUMNS, PRIMARY_KEY, WATERMARK_COLUMN
from shoplake.report import Report

#: Rows younger than this (by the server's clock) are left for the next run; see above.
DEFAULT_SAFETY_LAG = timedelta(seconds=5)
#: Rows fetched from the server-side cursor per round trip.
DEFAULT_BATCH_SIZE = 5000
STATE_VERSION = 1


# ------------------------------------------------------------------------------------
# report


@dataclass
class ExtractReport:
    """What one extract run did (machine-readable fields, and a printable report)."""

    table: str
    rows: int
    file: str | None  # written file, relative to the lake root; None when nothing changed
    old_watermark: datetime | None
    new_watermark: datetime | None
    cutoff: datetime  # rows with updated_at after this were left for the next run
    safety_lag: timedelta
    keys_at_watermark: int  # product ids remembered at the new watermark instant
    seconds: float
    notes: list[str] = field(default_factory=list)

    def as_report(self) -> Report:
        def ts(value: datetime | None) -> str:
            return format_utc(value) if value is not None else "(none)"

        report = Report(
            title=f"extract products from {self.table}",
            columns=("dataset", "rows", "file", "old watermark", "new watermark"),
            rows=[
                (
                    "products",
                    self.rows,
                    self.file or "(none)",
                    ts(self.old_watermark),
                    ts(self.new_watermark),
                )
            ],
            notes=list(self.notes),
        )
        if self.rows == 0:
            report.notes.append("no new or changed products: no file written")
        report.notes.append(
            f"rows updated after {ts(self.cutoff)} (safety lag {self.safety_lag}) "
            f"are left for the next run; took {self.seconds:.2f} s"
        )
        return report


def _table_error(exc: psycopg.Error, table: str, params: dict[str, Any], dsn: str) -> ExtractError:
    where = describe(params)
    if isinstance(exc, psycopg.errors.UndefinedTable | psycopg.errors.InvalidSchemaName):
        return ExtractError(
            f"products table {table!r} does not exist in {where}",
            "check --table / SHOPLAKE_PRODUCTS_TABLE (schema.table, case-sensitive)",
            table=table,
        )
    if isinstance(exc, psycopg.errors.UndefinedColumn):
        return ExtractError(
            f"products table {table!r} in {where} lacks a contract column: "
            f"{redact_dsn(first_line(exc), dsn)}",
            f"the table needs the columns {', '.join(COLUMNS)}",
            table=table,
        )
    if isinstance(exc, psycopg.errors.InsufficientPrivilege):
        return ExtractError(
            f"no permission to read {table!r} in {where}: {redact_dsn(first_line(exc), dsn)}",
            "grant SELECT on the table to the extract's database user",
            table=table,
        )
    return ExtractError(
        f"reading {table!r} from {where} failed: {redact_dsn(first_line(exc), dsn)}",
        "check the database and retry; the watermark was not moved",
        table=table,
    )


# ------------------------------------------------------------------------------------
# state (watermark)


@dataclass
class Watermark:
    at: datetime | None = None  # greatest updated_at extracted so far
    keys: frozenset[str] = frozenset()  # product ids extracted with updated_at == at


def _state_key(lake: Lake) -> str:
    return lake.state_key("extract", "products.json")


def _load_state(lake: Lake) -> dict[str, Any]:
    key = _state_key(lake)
    try:
        state = json.loads(lake.read_bytes(key).decode("utf-8"))
        if not isinstance(state.get("tables"), dict):
            raise ValueError("no 'tables' object")
    except FileNotFoundError:
        return {"version": STATE_VERSION, "tables": {}}
    except (OSError, ValueError) as exc:
        raise StorageError(
            f"{lake.url(key)}: unreadable extract state ({exc})",
            "delete the file to extract the whole catalog again (ingest treats the "
            "re-delivered rows as duplicates)",
            location=lake.url(key),
        ) from None
    return state


def _watermark(state: dict[str, Any], table: str) -> Watermark:
    entry = state["tables"].get(table)
    if not entry or not entry.get("watermark"):
        return Watermark()
    return Watermark(
        datetime.fromisoformat(entry["watermark"]).astimezone(timezone.utc),
        frozenset(entry.get("keys_at_watermark", ())),
    )


def _save_state(lake: Lake, state: dict[str, Any]) -> None:
    lake.write_atomic(_state_key(lake), json.dumps(state, indent=1, sort_keys=True) + "\n")


# ------------------------------------------------------------------------------------
# CSV formatting


def _format_timestamp(value: datetime) -> str:
    if value.tzinfo is None:  # timestamptz always comes back aware; be safe anyway
        value = value.replace(tzinfo=timezone.utc)
    return format_utc(value)


def _format_amount(value: Decimal) -> str:
    return format(value, "f")


def _format_boolean(value: bool) -> str:
    return "true" if value else "false"


_FORMATTERS: dict[Kind, Callable[[Any], str]] = {
    Kind.TIMESTAMP: _format_timestamp,
    Kind.AMOUNT: _format_amount,
    Kind.BOOLEAN: _format_boolean,
}


def _row_formatter(fields: Iterable[Field]) -> Callable[[tuple[Any, ...]], list[str]]:
    funcs = [_FORMATTERS.get(f.kind, str) for f in fields]

    def fmt(row: tuple[Any, ...]) -> list[str]:
        return ["" if v is None else fn(v) for fn, v in zip(funcs, row, strict=True)]

    return fmt


class _LazyCsv:
    """A CSV file for the lake key ``final``, created only when the first row arrives."""

    def __init__(self, lake: Lake, final: str) -> None:
        self.lake, self.final = lake, final
        self.tmp: Path | None = None
        self._file: Any = None
        self._writer: Any = None

    def write(self, row: list[str]) -> None:
        if self._writer is None:
            self.tmp = self.lake.scratch_file(self.final)
            self._file = self.tmp.open("w", encoding="utf-8", newline="")
            self._writer = csv.writer(self._file, lineterminator="\n")
            self._writer.writerow(COLUMNS)
        self._writer.writerow(row)

    @property
    def started(self) -> bool:
        return self._file is not None

    def publish(self) -> None:
        """Put the file in place in one step (it becomes visible to ingest)."""
        assert self.tmp is not None
        self._file.close()
        self.lake.publish_file(self.tmp, self.final)

    def discard(self) -> None:
        if self._file is not None:
            self._file.close()
        if self.tmp is not None:
            self.tmp.unlink(missing_ok=True)


# ------------------------------------------------------------------------------------
# extract


def extract_products(
    lake: Lake,
    dsn: str,
    table: str = "public.products",
    *,
    safety_lag: timedelta = DEFAULT_SAFETY_LAG,
    batch_size: int = DEFAULT_BATCH_SIZE,
    now: Callable[[], datetime] | None = None,
) -> ExtractReport:
    """Copy products changed since the watermark into raw/products (see the module doc).

    ``now`` gives the landing time (default: the current UTC time); tests pin it.
    """
    if safety_lag < timedelta(0):
        raise ConfigError(
            f"safety lag {safety_lag} is negative", "use 0 or more", setting="safety_lag"
        )
    if batch_size < 1:
        raise ConfigError(
            f"batch size {batch_size} is below 1", "use 1 or more", setting="batch_size"
        )
    started = time.perf_counter()
    landed = (now or (lambda: datetime.now(timezone.utc)))().astimezone(timezone.utc)
    ident = table_identifier(table)
    params = parse_dsn(dsn)
    state = _load_state(lake)
    old = _watermark(state, table)

    target = lake.key(
        lake.landing_prefix(PRODUCTS.name, landed),
        f"{PRODUCTS.name}-{landed:%Y%m%dT%H%M%S%fZ}.csv",
    )
    out = _LazyCsv(lake, target)
    fmt = _row_formatter(PRODUCTS.fields)
    rows = 0
    last_at: datetime | None = None
    keys_at_last: set[str] = set()
    key_pos = COLUMNS.index(PRIMARY_KEY)
    at_pos = COLUMNS.index(WATERMARK_COLUMN)

    with connect(dsn) as conn:
        conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        conn.read_only = True
        try:
            with conn.transaction():
                cutoff = _cutoff(conn, safety_lag)
                for batch in _read_changes(conn, ident, old, cutoff, batch_size):
                    for row in batch:
                        at, key = row[at_pos], row[key_pos]
                        if at != last_at:
                            last_at, keys_at_last = at, set()
                        keys_at_last.add(key)
                        out.write(fmt(row))
                        rows += 1
        except psycopg.Error as exc:
            out.discard()
            raise _table_error(exc, table, params, dsn) from None
        except BaseException:
            out.discard()
            raise

    if not out.started:
        return ExtractReport(
            table=table,
            rows=0,
            file=None,
            old_watermark=old.at,
            new_watermark=old.at,
            cutoff=cutoff,
            safety_lag=safety_lag,
            keys_at_watermark=len(old.keys),
            seconds=time.perf_counter() - started,
        )

    assert last_at is not None
    new_at = last_at.astimezone(timezone.utc)
    if new_at == old.at:  # only more rows at the same instant: remember all of them
        keys_at_last |= old.keys
    try:
        out.publish()
    except BaseException:
        out.discard()
        raise
    state.setdefault("version", STATE_VERSION)
    state["tables"][table] = {
        "watermark": new_at.isoformat(),
        "keys_at_watermark": sorted(keys_at_last),
        "last_file": target,
        "last_rows": rows,
        "extracted_at": landed.isoformat(),
    }
    _save_state(lake, state)  # only after the file is in place (see the module doc)
    return ExtractReport(
        table=table,
        rows=rows,
        file=target,
        old_watermark=old.at,
        new_watermark=new_at,
        cutoff=cutoff,
        safety_lag=safety_lag,
        keys_at_watermark=len(keys_at_last),
        seconds=time.perf_counter() - started,
    )


def _cutoff(conn: psycopg.Connection[Any], safety_lag: timedelta) -> datetime:
    """The snapshot's upper bound: the server's transaction time minus the lag."""
    row = conn.execute("SELECT now() - %s::interval", (safety_lag,)).fetchone()
    assert row is not None
    return row[0].astimezone(timezone.utc)


def _read_changes(
    conn: psycopg.Connection[Any],
    ident: sql.Identifier,
    old: Watermark,
    cutoff: datetime,
    batch_size: int,
) -> Iterator[list[tuple[Any, ...]]]:
    """Rows changed since the watermark, ordered, in batches from a server-side cursor."""
    at = sql.Identifier(WATERMARK_COLUMN)
    key = sql.Identifier(PRIMARY_KEY)
    conditions = [sql.SQL("{} <= %(cutoff)s").format(at)]
    args: dict[str, Any] = {"cutoff": cutoff}
    if old.at is not None:
        conditions.append(sql.SQL("{} >= %(watermark)s").format(at))
        args["watermark"] = old.at
        if old.keys:
            conditions.append(
                sql.SQL("NOT ({} = %(watermark)s AND {} = ANY(%(seen)s))").format(at, key)
            )
            args["seen"] = sorted(old.keys)
    query = sql.SQL("SELECT {cols} FROM {table} WHERE {where} ORDER BY {at}, {key}").format(
        cols=sql.SQL(", ").join(sql.Identifier(c) for c in COLUMNS),
        table=ident,
        where=sql.SQL(" AND ").join(conditions),
        at=at,
        key=key,
    )
    with conn.cursor(name="shoplake_extract_products") as cur:
        cur.execute(query, args)
        while batch := cur.fetchmany(batch_size):
            yield batch
