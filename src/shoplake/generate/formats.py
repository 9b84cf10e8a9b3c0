"""How a raw file looks on disk: the format variants every source mixes in.

A :class:`Style` is drawn per file from a generator seeded by the file's name, so the
same file always looks the same, whatever else was generated. All variants are valid
input under the raw contract: gzip, a UTF-8 BOM, CRLF line ends, shuffled or upper-case
headers, unknown extra columns, quoting everything, timestamps with ``Z``, with an
offset or without one (UTC), amounts with or without trailing zeros, booleans spelled
``true``/``t``/``1``.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import random
from collections.abc import Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from shoplake.contract import Dataset, Kind
from shoplake.lake import Lake

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
SECOND_MS = 1000
HOUR_MS = 3_600_000
DAY_MS = 86_400_000

#: Offsets some exporters write local times with (minutes east of UTC).
OFFSETS = (60, 120, -300, -240, 330, 540, 0)
EXTRA_COLUMNS = ("export_batch", "source_system", "exported_by", "row_hash")
BOOLEANS = (("true", "false"), ("t", "f"), ("1", "0"), ("TRUE", "FALSE"))


def utc(ms: int) -> datetime:
    """The aware UTC datetime of an epoch-milliseconds instant."""
    return EPOCH + timedelta(milliseconds=ms)


_DAY_TEXT: dict[int, str] = {}


def day_text(day: int) -> str:
    """``YYYY-MM-DD`` of a day number since 1970-01-01 (cached: formatting is hot)."""
    text = _DAY_TEXT.get(day)
    if text is None:
        text = _DAY_TEXT[day] = f"{utc(day * DAY_MS):%Y-%m-%d}"
    return text


def format_ts(ms: int, style: str, offset_min: int = 0) -> str:
    """An ISO-8601 timestamp in one of the accepted spellings (z, zms, offset, naive)."""
    if style == "offset":
        ms += offset_min * 60_000
    day, rest = divmod(ms, DAY_MS)
    secs, milli = divmod(rest, 1000)
    hour, secs = divmod(secs, 3600)
    clock = f"{hour:02d}:{secs // 60:02d}:{secs % 60:02d}"
    if style == "z":
        return f"{day_text(day)}T{clock}Z"
    if style == "zms":
        return f"{day_text(day)}T{clock}.{milli:03d}Z"
    if style == "naive":
        return f"{day_text(day)} {clock}"
    sign = "+" if offset_min >= 0 else "-"
    oh, om = divmod(abs(offset_min), 60)
    return f"{day_text(day)}T{clock}{sign}{oh:02d}:{om:02d}"


def format_amount(cents: int, short: bool = False) -> str:
    units, rest = divmod(cents, 100)
    if not short or rest % 10:
        return f"{units}.{rest:02d}"
    return f"{units}" if rest == 0 else f"{units}.{rest // 10}"


@dataclass(frozen=True)
class Style:
    """The look of one raw file."""

    gzip: bool = False
    ts: str = "z"  # z | zms | offset | naive
    offset_min: int = 0
    short_amounts: bool = False
    booleans: tuple[str, str] = ("true", "false")
    # CSV
    bom: bool = False
    crlf: bool = False
    quote_all: bool = False
    upper_header: bool = False
    shuffle: bool = False
    extra: tuple[str, ...] = ()
    # JSON
    bare_array: bool = False
    indent: int | None = None
    ascii_only: bool = False

    def ts_text(self, ms: int) -> str:
        return format_ts(ms, self.ts, self.offset_min)


def draw_style(rng: random.Random, kind: str, gzip_share: float = 0.2) -> Style:
    """A random but plausible look for a file of ``kind`` ('csv' or 'json')."""
    ts = rng.choices(("z", "zms", "offset", "naive"), (50, 15, 20, 15))[0]
    common: dict[str, Any] = {
        "gzip": rng.random() < gzip_share,
        "ts": ts,
        "offset_min": rng.choice(OFFSETS) if ts == "offset" else 0,
        "short_amounts": rng.random() < 0.1,
    }
    if kind == "json":
        return Style(
            **common,
            bare_array=rng.random() < 0.2,
            indent=rng.choice((None, None, 2)),
            ascii_only=rng.random() < 0.3,
        )
    n_extra = rng.choices((0, 1, 2), (85, 10, 5))[0]
    return Style(
        **common,
        booleans=rng.choice(BOOLEANS),
        bom=rng.random() < 0.1,
        crlf=rng.random() < 0.3,
        quote_all=rng.random() < 0.12,
        upper_header=rng.random() < 0.05,
        shuffle=rng.random() < 0.2,
        extra=tuple(rng.sample(EXTRA_COLUMNS, n_extra)),
    )


def csv_value(kind: Kind, value: Any, style: Style) -> str:
    """A typed record value as CSV text ('' is null)."""
    if value is None:
        return ""
    if kind is Kind.TIMESTAMP:
        return style.ts_text(value)
    if kind is Kind.AMOUNT:
        return format_amount(value, style.short_amounts)
    if kind is Kind.BOOLEAN:
        return style.booleans[0] if value else style.booleans[1]
    return str(value)


def csv_columns(ds: Dataset, style: Style, rng: random.Random) -> list[str]:
    """The file's columns: the contract's (maybe shuffled) plus unknown extras."""
    cols = [f.raw_name for f in ds.fields]
    if style.shuffle:
        rng.shuffle(cols)
    for extra in style.extra:
        cols.insert(rng.randrange(len(cols) + 1), extra)
    return cols


def csv_rows(
    ds: Dataset, records: Iterable[dict[str, Any]], cols: Sequence[str], style: Style
) -> list[list[str]]:
    """Records as CSV text fields in the order of ``cols``."""
    kinds = {f.raw_name: f.kind for f in ds.fields}
    plan = [(c, kinds.get(c)) for c in cols]
    return [
        [
            _extra_value(c, rec) if kind is None else csv_value(kind, rec[c], style)
            for c, kind in plan
        ]
        for rec in records
    ]


def _extra_value(column: str, record: dict[str, Any]) -> str:
    """A plausible value for an unknown extra column, derived from the record's id."""
    key = str(next(iter(record.values())))
    return {
        "export_batch": "B" + str(sum(map(ord, key)) % 97),
        "source_system": "oms-eu-1" if sum(map(ord, key)) % 3 else "oms-us-2",
        "exported_by": "etl",
        "row_hash": f"{hash_text(key):08x}",
    }.get(column, "")


def hash_text(text: str) -> int:
    """A stable (process-independent) small hash."""
    h = 2166136261
    for ch in text.encode():
        h = ((h ^ ch) * 16777619) & 0xFFFFFFFF
    return h


def render_csv(header: Sequence[str], rows: Iterable[Sequence[str]], style: Style) -> str:
    buf = io.StringIO()
    writer = csv.writer(
        buf,
        lineterminator="\r\n" if style.crlf else "\n",
        quoting=csv.QUOTE_ALL if style.quote_all else csv.QUOTE_MINIMAL,
    )
    writer.writerow([h.upper() for h in header] if style.upper_header else header)
    writer.writerows(rows)
    return buf.getvalue()


def render_json(document: Any, style: Style) -> str:
    return json.dumps(document, indent=style.indent, ensure_ascii=style.ascii_only) + "\n"


def encode(text: str, style: Style) -> bytes:
    data = (("\ufeff" + text) if style.bom else text).encode("utf-8")
    return gzip_bytes(data) if style.gzip else data


def gzip_bytes(data: bytes, level: int = 6) -> bytes:
    """Gzip with a fixed header (no name, mtime 0): same input, same bytes."""
    return gzip.compress(data, compresslevel=level, mtime=0)


class Writer:
    """Writes raw files into a lake, each one atomically (see :meth:`Lake.write_atomic`).

    Generated data can be regenerated, so local files are not fsynced. On an object
    store each file is one PUT; several go at once (:data:`UPLOADS` at a time), and
    :meth:`close` (or leaving the ``with`` block) waits for them and raises the first
    failure.
    """

    UPLOADS = 16

    def __init__(self, lake: Lake) -> None:
        self.lake = lake
        self.files = 0
        self.bytes = 0
        self._pool = None if lake.is_local else ThreadPoolExecutor(self.UPLOADS)
        self._pending: list[Future[None]] = []

    def write(self, key: str, data: bytes) -> None:
        self.files += 1
        self.bytes += len(data)
        if self._pool is None:
            self.lake.write_atomic(key, data, durable=False)
            return
        self._pending.append(self._pool.submit(self.lake.write_atomic, key, data))
        if len(self._pending) >= 4 * self.UPLOADS:
            self._drain()

    def _drain(self) -> None:
        pending, self._pending = self._pending, []
        for future in pending:
            future.result()

    def close(self) -> None:
        """Wait until every file is written."""
        if self._pool is not None:
            try:
                self._drain()
            finally:
                self._pool.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> Writer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
