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
import json
import os
import re
import signal
import zlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from shoplake.contract import (
    CLICKSTREAM,
    CURRENCIES,
    MAX_FUTURE_SKEW_HOURS,
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


@dataclass
class FileScan:
    """What one clickstream file holds, as far as alerts are concerned.

    ``lines`` counts non-empty lines; ``bad_lines`` those ingest would quarantine;
    ``file_error`` is set (and nothing else counted) when the file as a whole is unusable
    (unreadable gzip, not UTF-8). Purchases repeated within the file give one alert.
    """

    source_file: str
    alerts: list[Alert] = field(default_factory=list)
    lines: int = 0
    events: int = 0
    bad_lines: int = 0
    file_error: str | None = None


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


def _decode(data: bytes, name: str) -> str:
    """Decompress (``.gz``), drop a byte-order mark, decode UTF-8; ValueError if unusable."""
    if name.endswith(".gz"):
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as exc:
            raise ValueError(f"unreadable_gzip: {exc}") from exc
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8) :]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"not_utf8: byte {data[exc.start]:#04x} at offset {exc.start}") from exc


def _event(line: str, latest: datetime) -> tuple[dict[str, object], datetime] | None:
    """The record and its UTC event time if ingest would accept the line, else None."""
    try:
        record = _decoder.decode(line)
    except ValueError:
        return None
    if not isinstance(record, dict):
        return None
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
    assert event_time is not None  # event_time is required
    return record, event_time


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def scan_file(data: bytes, source_file: str, detected_at: datetime) -> FileScan:
    """The purchase alerts in one clickstream file (NDJSON, maybe gzip, BOM, CRLF).

    ``source_file`` is the file's lake-relative path (``raw/clickstream/...``; a ``.gz``
    suffix means gzip); ``detected_at`` (aware, or naive UTC) is stamped on each alert
    and is the "now" of the 24-hour future-timestamp rule. Never raises for bad content.
    """
    scan = FileScan(source_file)
    try:
        text = _decode(data, source_file)
    except ValueError as exc:
        scan.file_error = str(exc)
        return scan
    if detected_at.tzinfo is not None:
        detected_at = detected_at.astimezone(timezone.utc).replace(tzinfo=None)
    detected = format_utc(detected_at)
    latest = detected_at + timedelta(hours=MAX_FUTURE_SKEW_HOURS)
    seen: set[str] = set()
    for number, line in enumerate(text.split("\n"), start=1):
        if line in ("", "\r"):
            continue
        scan.lines += 1
        parsed = _event(line, latest)
        if parsed is None:
            scan.bad_lines += 1
            continue
        scan.events += 1
        record, event_time = parsed
        if record["action"] != PURCHASE:
            continue
        when = format_utc(event_time)
        user_id, session_id = str(record["user_id"]), str(record["session_id"])
        alert_id = click_id(when, user_id, session_id, PURCHASE, _text(record.get("page_url")))
        if alert_id in seen:
            continue
        seen.add(alert_id)
        attributes = record.get("attributes") or {}
        assert isinstance(attributes, dict)
        revenue, currency = _text(attributes.get("revenue")), _text(attributes.get("currency"))
        scan.alerts.append(
            Alert(
                alert_id=alert_id,
                event_time=when,
                user_id=user_id,
                session_id=session_id,
                order_id=_text(attributes.get("order_id")),
                revenue=revenue if revenue and _REVENUE.fullmatch(revenue) else None,
                currency=currency if currency in CURRENCIES else None,
                source_file=source_file,
                source_line=number,
                detected_at=detected,
            )
        )
    return scan


def crash_point(name: str) -> None:
    """Failpoint for the crash tests: with ``SHOPLAKE_CRASH_AT=<name>`` the process
    SIGKILLs itself here, exactly as ``kill -9`` would (same variable as ingest's)."""
    if os.environ.get(CRASH_ENV) == name:
        os.kill(os.getpid(), signal.SIGKILL)
