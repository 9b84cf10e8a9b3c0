"""Purchase alerts from one clickstream file: the core shared by the watcher and the Lambda.

Standard library only (plus :mod:`shoplake.contract`, itself stdlib-only), because the
same code runs in the AWS Lambda runtime, where only the standard library and boto3
exist; and cheap, because it runs on every landed file: one JSON parse and a few checks
per line, no DuckDB, no Arrow.

A line is an event exactly when ingest would write it to silver (the contract's
clickstream fields, the same JSON type rules, the same timestamp grammar, the same
24-hour future limit, relative to the time of detection), so an alert's ``alert_id`` is
the ``click_id`` of that purchase's row in silver and in ``fact_clicks``. A test runs this
scanner and the real ingest over the same file and compares. Lines ingest would
quarantine are counted as ``bad_lines`` and never become alerts: quarantining them is
ingest's business.
"""

from __future__ import annotations

import codecs
import gzip
import io
import json
import os
import re
import signal
import zlib
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from itertools import accumulate
from typing import Any

from shoplake.contract import (
    CLICKSTREAM,
    CURRENCIES,
    DECOMPRESSION_LIMIT,
    FIELD_TOO_LARGE,
    MAX_DECOMPRESSED_BYTES,
    MAX_FIELD_BYTES,
    MAX_FUTURE_SKEW_HOURS,
    MAX_GZIP_RATIO,
    MAX_JSON_DEPTH,
    MAX_RECORD_BYTES,
    RECORD_TOO_LARGE,
    TOO_DEEP,
    Kind,
    click_id,
    format_utc,
)

PURCHASE = "purchase"
CRASH_ENV = "SHOPLAKE_CRASH_AT"

#: The contract's timestamp grammar (``shoplake.ingest.validate.TIMESTAMP_RE``) with
#: groups; a test checks both accept the same strings and give the same instant.
_TIMESTAMP = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?"
    r"(?:(Z)|([+-])([01]\d|2[0-3])(?::?([0-5]\d))?)?"
)
#: A purchase's revenue as the contract writes amounts: a decimal string, <= 2 decimals.
_REVENUE = re.compile(r"\d{1,16}(?:\.\d{1,2})?")


def parse_timestamp(text: str) -> datetime | None:
    """A contract timestamp as a UTC-naive datetime, or None when ingest would reject it.

    Follows ingest (DuckDB's cast): no offset means UTC, fractions beyond microseconds
    are truncated, ``24:00[:00[.0]]`` is midnight of the next day, and impossible dates
    are rejected. (Years that an offset pushes outside 1..9999 are rejected here and kept
    by DuckDB; no real clickstream carries them.)
    """
    m = _TIMESTAMP.fullmatch(text)
    if m is None:
        return None
    year, month, day, hour, minute = int(m[1]), int(m[2]), int(m[3]), int(m[4]), int(m[5])
    second = int(m[6] or 0)
    fraction = m[7] or ""
    micro = int(fraction[:6].ljust(6, "0")) if fraction else 0
    next_day = hour == 24 and minute == second == 0 and not fraction.strip("0")
    try:
        ts = datetime(year, month, day, 0 if next_day else hour, minute, second, micro)
        if next_day:
            ts += timedelta(days=1)
        if m[9]:
            offset = timedelta(hours=int(m[10]), minutes=int(m[11] or 0))
            ts = ts - offset if m[9] == "+" else ts + offset
    except (ValueError, OverflowError):
        return None
    return ts


@dataclass(frozen=True)
class Alert:
    """One purchase, as written to ``alerts/`` and posted to webhooks and SNS.

    ``event_time`` and ``detected_at`` are UTC (``...Z``); ``revenue`` stays a decimal
    string, never a float; ``order_id``, ``revenue`` and ``currency`` come from the
    event's attributes and are null when absent or not as the contract writes them.
    """

    alert_id: str
    event_time: str
    user_id: str
    session_id: str
    order_id: str | None
    revenue: str | None
    currency: str | None
    source_file: str
    source_line: int
    detected_at: str

    @property
    def event_day(self) -> str:
        """UTC date of the purchase (YYYY-MM-DD): the alert's partition."""
        return self.event_time[:10]

    def to_json(self) -> str:
        """The alert as one compact JSON line (without the newline); fields in fixed order."""
        return json.dumps(
            {
                "alert_id": self.alert_id,
                "event_time": self.event_time,
                "user_id": self.user_id,
                "session_id": self.session_id,
                "order_id": self.order_id,
                "revenue": self.revenue,
                "currency": self.currency,
                "source_file": self.source_file,
                "source_line": self.source_line,
                "detected_at": self.detected_at,
            },
            ensure_ascii=False,
            separators=(",", ":"),
        )


#: Why a line was skipped although it may look like an event: the contract's input limits
#: (ingest quarantines such records with the same reasons), and a last-resort catch-all.
UNEXPECTED = "unexpected"
#: Whole-file verdicts (``FileScan.file_error`` starts with one of these).
UNREADABLE_GZIP = "unreadable_gzip"
NOT_UTF8 = "not_utf8"

#: How much is read (and decompressed) at a time: the scanner's memory is this plus one
#: record, whatever the file's size.
CHUNK_BYTES = 1024 * 1024

Read = Callable[[int], bytes]


@dataclass
class FileScan:
    """What one clickstream file holds, as far as alerts are concerned.

    ``lines`` counts non-empty lines; ``bad_lines`` those ingest would quarantine, of
    which ``skipped`` counts by reason the ones that break an input limit of the contract
    (too deep, too large); ``file_error`` is set (and nothing else counted) when the file
    as a whole is unusable (unreadable gzip, a gzip beyond the decompression limits, not
    UTF-8, not a regular file). Purchases repeated within the file give one alert.
    """

    source_file: str
    alerts: list[Alert] = field(default_factory=list)
    lines: int = 0
    events: int = 0
    bad_lines: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    file_error: str | None = None

    def skipped_text(self) -> str:
        """``reason:count,...`` of the skipped lines ("" if none), sorted by reason."""
        return ",".join(f"{reason}:{n}" for reason, n in sorted(self.skipped.items()))


class FileUnusable(Exception):
    """The file as a whole cannot be scanned; the message starts with its reason code."""


class _SourceFailed(Exception):
    """Reading the stored file failed (inside the gzip reader, which would take an
    OSError for bad gzip): the file must be read again later, not judged."""


def _first_key_wins(pairs: list[tuple[str, object]]) -> dict[str, object]:
    """JSON objects keep the first of repeated keys, as ingest's parser does."""
    out: dict[str, object] = {}
    for key, value in pairs:
        out.setdefault(key, value)
    return out


_decoder = json.JSONDecoder(object_pairs_hook=_first_key_wins)
#: Per clickstream field, what the per-line check needs, looked up once:
#: (raw name, required, is a JSON object, is a timestamp, allowed values or None).
_FIELDS = tuple(
    (
        f.raw_name,
        f.required,
        f.kind is Kind.JSON,
        f.kind is Kind.TIMESTAMP,
        frozenset(f.values) if f.kind is Kind.ENUM else None,
    )
    for f in CLICKSTREAM.fields
)
#: JSON string literals (removed before brackets are counted).
_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"?', re.DOTALL)
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_STEP = {"[": 1, "{": 1, "]": -1, "}": -1}


def too_deep(text: str) -> bool:
    """Whether a JSON text nests objects and arrays deeper than MAX_JSON_DEPTH (the
    top-level object is level 1), found without parsing, so that no depth can exhaust
    the parser's recursion."""
    if text.count("{") + text.count("[") <= MAX_JSON_DEPTH:  # the common case, in C
        return False
    brackets = _NOT_BRACKET.sub("", _JSON_STRING.sub("", text))
    return max(accumulate(_STEP[c] for c in brackets), default=0) > MAX_JSON_DEPTH


def _read_source(read: Read, name: str, size: int | None) -> Read:
    """The file's plain bytes as ``read(n)`` calls: gzip (``.gz``) is decompressed as it
    is read, and stops with :class:`FileUnusable` beyond MAX_GZIP_RATIO times ``size``
    (the compressed size, if known) or MAX_DECOMPRESSED_BYTES."""
    if not name.lower().endswith(".gz"):
        return read

    class _Raw(io.RawIOBase):
        def readable(self) -> bool:
            return True

        def readinto(self, buffer: Any) -> int:
            try:
                chunk = read(len(buffer))
            except OSError as exc:  # the storage, not the gzip: not the file's fault
                raise _SourceFailed(exc) from exc
            buffer[: len(chunk)] = chunk
            return len(chunk)

    cap = MAX_DECOMPRESSED_BYTES
    if size is not None:
        cap = min(cap, MAX_GZIP_RATIO * size)
    inflater = gzip.GzipFile(fileobj=io.BufferedReader(_Raw(), CHUNK_BYTES), mode="rb")
    total = 0

    def read_plain(n: int) -> bytes:
        nonlocal total
        try:
            chunk = inflater.read(n)
        except (OSError, EOFError, zlib.error) as exc:
            raise FileUnusable(f"{UNREADABLE_GZIP}: {exc}") from None
        total += len(chunk)
        if total > cap:
            limit = (
                f"{MAX_GZIP_RATIO} times its {size:,} compressed bytes"
                if size is not None and cap < MAX_DECOMPRESSED_BYTES
                else f"{MAX_DECOMPRESSED_BYTES:,} bytes"
            )
            raise FileUnusable(f"{DECOMPRESSION_LIMIT}: expands beyond {limit}")
        return chunk

    return read_plain


def _lines(read: Read) -> Iterator[tuple[bytes | None, int]]:
    """The file's lines (without ``\\n``) with their byte offset; a line longer than
    MAX_RECORD_BYTES comes as None, and is never held in memory whole."""
    pending: list[bytes] = []
    size = 0
    too_long = False
    offset = 0  # of the pending line
    while chunk := read(CHUNK_BYTES):
        parts = chunk.split(b"\n")
        for i, part in enumerate(parts):
            size += len(part)
            if size > MAX_RECORD_BYTES:
                too_long, pending = True, []
            elif not too_long:
                pending.append(part)
            if i == len(parts) - 1:
                break  # the line goes on in the next chunk
            yield (None if too_long else b"".join(pending)), offset
            offset += size + 1
            pending, size, too_long = [], 0, False
    if size or too_long:
        yield (None if too_long else b"".join(pending)), offset


def _check(record: dict[str, object], latest: datetime) -> datetime | str | None:
    """The UTC event time if ingest would accept the record; a skip reason, or None for
    an ordinary bad line."""
    event_time = None
    for name, required, is_object, is_timestamp, allowed in _FIELDS:
        value = record.get(name)
        if is_object:
            if value is not None and not isinstance(value, dict):
                return None
            continue
        if value is None or value == "":
            if required:
                return None
            continue
        if not isinstance(value, str):
            return None
        if allowed is not None and value not in allowed:
            return None
        if is_timestamp:
            event_time = parse_timestamp(value)
            if event_time is None or event_time > latest:
                return None
    return event_time


def _field_too_large(record: dict[str, object]) -> bool:
    """Whether a contract field's text value exceeds MAX_FIELD_BYTES (UTF-8)."""
    return any(
        isinstance(value, str) and len(value.encode()) > MAX_FIELD_BYTES
        for value in (record.get(name) for name, *_ in _FIELDS)
    )


def _event(line: str, latest: datetime) -> tuple[dict[str, object], datetime] | str | None:
    """The record and its UTC event time if ingest would accept the line; else a skip
    reason (an input limit), or None (an ordinary bad line)."""
    if too_deep(line):
        return TOO_DEEP
    try:
        record = _decoder.decode(line)
    except RecursionError:  # cannot happen below MAX_JSON_DEPTH; never let it escape
        return TOO_DEEP
    except ValueError:
        return None
    if not isinstance(record, dict):
        return None
    if len(line) * 4 > MAX_FIELD_BYTES and _field_too_large(record):  # only long lines
        return FIELD_TOO_LARGE
    checked = _check(record, latest)
    if not isinstance(checked, datetime):
        return checked
    return record, checked


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _alert(
    record: dict[str, object], event_time: datetime, source: str, line: int, detected: str
) -> Alert:
    when = format_utc(event_time)
    user_id, session_id = str(record["user_id"]), str(record["session_id"])
    attributes = record.get("attributes") or {}
    assert isinstance(attributes, dict)
    revenue, currency = _text(attributes.get("revenue")), _text(attributes.get("currency"))
    return Alert(
        alert_id=click_id(when, user_id, session_id, PURCHASE, _text(record.get("page_url"))),
        event_time=when,
        user_id=user_id,
        session_id=session_id,
        order_id=_text(attributes.get("order_id")),
        revenue=revenue if revenue and _REVENUE.fullmatch(revenue) else None,
        currency=currency if currency in CURRENCIES else None,
        source_file=source,
        source_line=line,
        detected_at=detected,
    )


def scan_stream(
    read: Read, source_file: str, detected_at: datetime, size: int | None = None
) -> FileScan:
    """The purchase alerts in one clickstream file read through ``read(n)`` (a file's or
    an HTTP body's ``read``), NDJSON, maybe gzip, BOM, CRLF.

    ``source_file`` is the file's lake-relative path (``raw/clickstream/...``; a ``.gz``
    suffix means gzip); ``size`` its size in bytes (for the gzip ratio limit);
    ``detected_at`` (aware, or naive UTC) is stamped on each alert and is the "now" of
    the 24-hour future-timestamp rule. Reads the file once, in chunks, holding at most
    one record (MAX_RECORD_BYTES) besides; never raises for bad content: a line beyond
    the contract's limits is skipped with its reason, a line the scanner cannot handle
    for any other reason is skipped as ``unexpected``, and an unusable file is a
    ``file_error``.
    """
    scan = FileScan(source_file)
    if detected_at.tzinfo is not None:
        detected_at = detected_at.astimezone(timezone.utc).replace(tzinfo=None)
    detected = format_utc(detected_at)
    latest = detected_at + timedelta(hours=MAX_FUTURE_SKEW_HOURS)
    seen: set[str] = set()
    try:
        lines = _lines(_read_source(read, source_file, size))
        for number, (raw, offset) in enumerate(lines, start=1):
            if number == 1 and raw is not None and raw.startswith(codecs.BOM_UTF8):
                raw, offset = raw[len(codecs.BOM_UTF8) :], offset + len(codecs.BOM_UTF8)
            if raw in (b"", b"\r"):
                continue
            scan.lines += 1
            if raw is None:
                parsed: tuple[dict[str, object], datetime] | str | None = RECORD_TOO_LARGE
            else:
                try:
                    line = raw.decode("utf-8")
                except UnicodeDecodeError as exc:
                    at = offset + exc.start
                    raise FileUnusable(
                        f"{NOT_UTF8}: byte {raw[exc.start]:#04x} at offset {at}"
                    ) from None
                try:
                    parsed = _event(line, latest)
                except Exception:  # a bug must not stop the alerts of the other lines
                    parsed = UNEXPECTED
            if not isinstance(parsed, tuple):
                scan.bad_lines += 1
                if parsed is not None:
                    scan.skipped[parsed] += 1
                continue
            scan.events += 1
            record, event_time = parsed
            if record["action"] != PURCHASE:
                continue
            try:
                alert = _alert(record, event_time, source_file, number, detected)
            except Exception:
                scan.events -= 1
                scan.bad_lines += 1
                scan.skipped[UNEXPECTED] += 1
                continue
            if alert.alert_id in seen:
                continue
            seen.add(alert.alert_id)
            scan.alerts.append(alert)
    except FileUnusable as exc:
        return FileScan(source_file, file_error=str(exc))
    except _SourceFailed as exc:
        raise exc.args[0] from None
    return scan


def scan_file(data: bytes, source_file: str, detected_at: datetime) -> FileScan:
    """:func:`scan_stream` of a file's bytes in memory."""
    return scan_stream(io.BytesIO(data).read, source_file, detected_at, len(data))


def crash_point(name: str) -> None:
    """Failpoint for the crash tests: with ``SHOPLAKE_CRASH_AT=<name>`` the process
    SIGKILLs itself here, exactly as ``kill -9`` would (same variable as ingest's)."""
    if os.environ.get(CRASH_ENV) == name:
        os.kill(os.getpid(), signal.SIGKILL)
