"""Reading raw files: decoding (gzip, BOM, UTF-8) and the three formats of the contract.

Each reader turns one raw file into a :class:`RawRecords` batch: one raw string per
contract field and per record, with its line, the record as delivered, and what was
already wrong at parse time. Value validation happens later, in SQL, for every format
alike (see :mod:`shoplake.ingest.validate`). A problem with the file as a whole raises
:class:`FileRejected`, which quarantines the file.

NDJSON (the high-volume clickstream) is not parsed in Python: the reader only splits the
file into lines (zero-copy into Arrow) and DuckDB parses the JSON.
"""

from __future__ import annotations

import csv
import io
import json
import sys
import zlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pa_csv

from shoplake.contract import (
    DECOMPRESSION_LIMIT,
    FIELD_TOO_LARGE,
    MAX_DECOMPRESSED_BYTES,
    MAX_FIELD_BYTES,
    MAX_GZIP_RATIO,
    MAX_JSON_DEPTH,
    MAX_RECORD_BYTES,
    RECORD_TOO_LARGE,
    TOO_DEEP,
    Dataset,
    Format,
    Kind,
)

BOM = b"\xef\xbb\xbf"
#: Surrounding whitespace removed from every value (CSV fields and JSON strings alike).
WHITESPACE = " \t\r\n"
UNPARSEABLE, NOT_AN_OBJECT = "unparseable", "not_an_object"
#: Record-level limit breaches (parse errors with their own reason, see docs/lake.md).
LIMIT_REASONS = (TOO_DEEP, RECORD_TOO_LARGE, FIELD_TOO_LARGE)
#: How much of a record that breaks a size or depth limit the quarantine keeps.
EXCERPT_CHARS = 1024

# The csv module's default field limit (128 Ki characters) is below the contract's, and a
# field over it makes the parser lose its place in the file. The whole file is in memory
# already, so the parser may take any field; the contract's limits are checked per record.
csv.field_size_limit(sys.maxsize)


class FileRejected(Exception):
    """The whole file is unusable: quarantine it with ``reason`` and go on."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason, self.detail = reason, detail


@dataclass
class RawRecords:
    """Records of one file as raw strings, before validation.

    ``values[field]`` holds the trimmed raw text of each contract field (None when absent
    or empty). ``parse_error`` / ``type_error`` say what was wrong before any value could
    be checked (a reason code / the first field with a wrong JSON type); ``type_errors``
    lists every field with a wrong JSON type (JSON input only).
    """

    dataset: Dataset
    lines: list[int] = field(default_factory=list)
    raw: list[str] = field(default_factory=list)
    parse_error: list[str | None] = field(default_factory=list)
    type_error: list[str | None] = field(default_factory=list)
    type_errors: list[list[str] | None] = field(default_factory=list)
    values: dict[str, list[str | None]] = field(default_factory=dict)
    extra_columns: int = 0
    #: The columns the file delivered (CSV header names, lower case; JSON keys, nested
    #: ones under a contract object dotted), or None when it shows none (no header, no
    #: record that is an object): what :func:`column_changes` compares with the contract.
    columns: frozenset[str] | None = None

    def __post_init__(self) -> None:
        for f in self.dataset.fields:
            self.values.setdefault(f.name, [])

    def add(
        self,
        line: int,
        raw: str,
        values: dict[str, str | None] | None = None,
        parse_error: str | None = None,
        type_error: str | None = None,
        type_errors: list[str] | None = None,
    ) -> None:
        self.lines.append(line)
        self.raw.append(raw)
        self.parse_error.append(parse_error)
        self.type_error.append(type_error)
        self.type_errors.append(type_errors or None)
        values = values or {}
        for name, column in self.values.items():
            column.append(values.get(name))

    def __len__(self) -> int:
        return len(self.lines)

    def to_arrow(self, source_file: str) -> pa.Table:
        n = len(self.lines)
        columns: dict[str, Any] = {
            "source_file": pa.array([source_file] * n, pa.string()),
            "source_line": pa.array(self.lines, pa.int64()),
            "raw_record": pa.array(self.raw, pa.string()),
            "parse_error": pa.array(self.parse_error, pa.string()),
            "type_error": pa.array(self.type_error, pa.string()),
            "type_errors": pa.array(self.type_errors, pa.list_(pa.string())),
        }
        for name, column in self.values.items():
            columns[name] = pa.array(column, pa.string())
        return pa.table(columns)


def decode(data: bytes, name: str) -> bytes:
    """Decompress (``.gz``), drop a leading BOM and check UTF-8. Returns UTF-8 bytes."""
    if name.lower().endswith(".gz"):
        data = gunzip(data)
    if data.startswith(BOM):
        data = data[len(BOM) :]
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise FileRejected(
            "not_utf8", f"not UTF-8: byte {data[exc.start]:#04x} at offset {exc.start}"
        ) from exc
    return data


def gunzip(data: bytes) -> bytes:
    """Decompress a gzip file (one or more members), streaming, within the contract's
    limits: at most ``MAX_GZIP_RATIO`` times its compressed size and
    ``MAX_DECOMPRESSED_BYTES``. Past either, decompression stops at once (nothing beyond
    the limit is ever held) and the file is rejected (``decompression_limit``)."""
    if not data:
        return data  # an empty file holds no records
    cap = min(MAX_GZIP_RATIO * len(data), MAX_DECOMPRESSED_BYTES)
    out: list[bytes] = []
    size = 0
    rest = data
    chunk = 1 << 20
    try:
        while True:
            inflater = zlib.decompressobj(wbits=31)  # one gzip member
            pending = rest
            while not inflater.eof:
                piece = inflater.decompress(pending, min(chunk, cap + 1 - size))
                size += len(piece)
                if size > cap:
                    raise FileRejected(
                        DECOMPRESSION_LIMIT,
                        f"gzip expands past {limit_text(cap)} ({len(data):,} bytes compressed;"
                        f" limits {MAX_GZIP_RATIO}x and {limit_text(MAX_DECOMPRESSED_BYTES)})",
                    )
                out.append(piece)
                pending = inflater.unconsumed_tail
                if not piece and not pending:
                    raise EOFError("compressed file ended before the end-of-stream marker")
            rest = inflater.unused_data
            if not rest.strip(b"\x00"):  # trailing zero padding is allowed, as gzip does
                break
    except (EOFError, zlib.error) as exc:
        raise FileRejected("unreadable_gzip", f"cannot decompress gzip: {exc}") from exc
    return b"".join(out)


def limit_text(n: int) -> str:
    """A byte count as the contract writes it (``8 MiB``)."""
    for unit, size in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= size and n % size == 0:
            return f"{n // size} {unit}"
    return f"{n:,} bytes"


def _excerpt(text: str) -> str:
    return text if len(text) <= EXCERPT_CHARS else text[:EXCERPT_CHARS] + "..."


# Limits --------------------------------------------------------------------------------

#: ``[`` and ``]`` are ``{`` and ``}`` with bit 0x20 cleared: one test finds either
_OPENER, _CLOSER = ord("{"), ord("}")
_QUOTE, _BACKSLASH = ord('"'), ord("\\")


def json_depth_exceeds(data: bytes | memoryview, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether JSON text nests objects and arrays deeper than ``limit``, found without
    parsing it (no recursion, no Python object per value) in linear time: numpy finds
    the quotes that are not escaped (an even run of backslashes before them), the
    brackets outside strings and their running count, a chunk at a time (memory stays
    bounded). Text that is not valid JSON gets an answer too (the parser rejects it)."""
    arr = np.frombuffer(data, dtype=np.uint8)
    if np.count_nonzero((arr | 0x20) == _OPENER) <= limit:  # cannot be deeper: most text
        return False
    depth, in_string, last_plain = 0, 0, -1  # carried from chunk to chunk
    step = 1 << 18
    for start in range(0, len(arr), step):
        part = arr[start : start + step]
        at = np.arange(start, start + len(part), dtype=np.int64)
        plain = np.maximum.accumulate(np.where(part == _BACKSLASH, -1, at))
        plain = np.maximum(plain, last_plain)  # last non-backslash at or before each byte
        before = np.concatenate(([last_plain], plain[:-1]))  # ... strictly before it
        quotes = (part == _QUOTE) & ((at - 1 - before) % 2 == 0)
        inside = (np.cumsum(quotes, dtype=np.int64) + in_string) % 2 == 1
        folded = part | 0x20
        delta = ((folded == _OPENER).astype(np.int8) - (folded == _CLOSER)) * ~inside
        running = np.cumsum(delta, dtype=np.int64) + depth
        if int(running.max()) > limit:
            return True
        depth, in_string, last_plain = int(running[-1]), int(inside[-1]), int(plain[-1])
    return False


def _clean(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip(WHITESPACE)
    return value or None


# CSV -----------------------------------------------------------------------------------


def read_csv(ds: Dataset, text: str) -> RawRecords:
    """RFC 4180 CSV with a header; columns matched by name, case-insensitively."""
    out = RawRecords(ds)
    lines = io.StringIO(text, newline="")
    reader = csv.reader(lines, strict=True)
    try:
        header = next(reader)
    except StopIteration:
        return out  # an empty file holds no records
    except csv.Error as exc:
        raise FileRejected("missing_columns", f"unreadable CSV header: {exc}") from exc
    wanted, out.extra_columns = _csv_columns(ds, header)
    out.columns = header_columns(header)

    physical: list[str] = []  # the file's lines, split only if a row is malformed
    start = reader.line_num + 1
    while True:
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error:
            physical = physical or text.splitlines()
            bad = "\n".join(physical[start - 1 : max(start, reader.line_num)])
            out.add(start, bad, parse_error=UNPARSEABLE)
            start = reader.line_num + 1
            continue
        line, start = start, reader.line_num + 1
        if not row:
            continue  # blank line: no record
        too_large = _csv_limits(row, header)
        if too_large is not None:
            reason, column = too_large
            out.add(line, _excerpt(json.dumps(row, ensure_ascii=False)), None, reason, column)
            continue
        if len(row) != len(header):
            out.add(line, json.dumps(row, ensure_ascii=False), parse_error=UNPARSEABLE)
            continue
        raw = json.dumps(dict(zip(header, row, strict=True)), ensure_ascii=False)
        out.add(line, raw, {name: _clean(row[i]) for name, i in wanted if i is not None})
    return out


def _csv_columns(ds: Dataset, header: list[str]) -> tuple[list[tuple[str, int | None]], int]:
    """Each contract field's column position in a CSV header (None if absent; the first
    of repeated names), and how many unknown columns it has. Raises
    :class:`FileRejected` if a required column is missing."""
    position: dict[str, int] = {}
    for i, name in enumerate(h.strip().lower() for h in header):
        position.setdefault(name, i)
    missing = [c for c in ds.required_raw_columns if c not in position]
    if missing:
        raise FileRejected(
            "missing_columns", f"CSV header lacks required column(s): {', '.join(missing)}"
        )
    known = {f.raw_name for f in ds.fields}
    extra = sum(1 for n in position if n not in known)
    return [(f.name, position.get(f.raw_name)) for f in ds.fields], extra


def header_columns(header: list[str]) -> frozenset[str]:
    """The named columns of a CSV header as ingest matches them (trimmed, lower case;
    the empty name of a trailing comma is no column)."""
    return frozenset(n for n in (h.strip().lower() for h in header) if n)


def column_changes(ds: Dataset, columns: frozenset[str]) -> tuple[list[str], list[str]]:
    """How a file's delivered columns differ from the contract: (added, vanished).

    Added: delivered, not a contract field's raw name (nor the object holding nested
    ones, ``address`` of ``address.city``). Vanished: a field the contract allows to be
    absent that the file does not deliver (a missing required column rejects a CSV file
    before this; in JSON it quarantines each record)."""
    known = {f.raw_name for f in ds.fields}
    parents = {name.rsplit(".", 1)[0] for name in known if "." in name}
    added = sorted(c for c in columns if c not in known and c not in parents)
    vanished = [f.raw_name for f in ds.fields if not f.required and f.raw_name not in columns]
    return added, vanished


def json_columns(ds: Dataset, records: list[Any]) -> frozenset[str] | None:
    """The keys of a page's records (union), nested ones under an object the contract
    reads fields from as dotted paths; None when no record is an object."""
    parents = {f.raw_name.rsplit(".", 1)[0] for f in ds.fields if "." in f.raw_name}
    found: set[str] = set()
    objects = 0
    for record in records:
        if not isinstance(record, dict):
            continue
        objects += 1
        for key, value in record.items():
            found.add(key)
            if key in parents and isinstance(value, dict):
                found.update(f"{key}.{sub}" for sub in value)
    return frozenset(found) if objects else None


@dataclass
class CsvColumns:
    """Records of one CSV file read column by column (:func:`read_csv_columnar`): each
    column's raw text as delivered (``c0``, ``c1``, ... in header order), the line number
    and the line, without a Python object per value.
    :func:`shoplake.ingest.validate.csv_columns_sql` turns them into the relation
    :meth:`RawRecords.to_arrow` gives, but for the raw record, which stays the line:
    :meth:`raw_record` makes the row reader's text of it, for the records quarantined."""

    table: pa.Table  # source_line, raw_line (the line as delivered), c0, c1, ...
    header: list[str]
    wanted: list[tuple[str, int | None]]  # contract field -> its column (None: absent)
    extra_columns: int
    spaced: bool = True  # whether the file holds a space or tab (values may need trimming)
    columns: frozenset[str] | None = None  # as RawRecords.columns

    def __len__(self) -> int:
        return self.table.num_rows

    def to_arrow(self, source_file: str) -> pa.Table:
        files = pa.array([source_file] * len(self), pa.string())
        return self.table.add_column(0, "source_file", files)

    @staticmethod
    def raw_record(header: list[str], line: str) -> str:
        """A line's record as :func:`read_csv` keeps it: JSON of header -> value."""
        row = next(csv.reader([line]))
        return json.dumps(dict(zip(header, row, strict=True)), ensure_ascii=False)


def _csv_fast_bytes(data: bytes) -> bool:
    """Whether a CSV file's bytes are of the kind both CSV readers split alike, found
    with whole-file numpy passes: no NUL (the csv module rejects such a row), backslash
    or control character but tab, CR (only before LF) and LF (JSON escapes them in a
    quarantined record); no blank line; quotes (if any) only around whole fields that
    hold no quote and no line end (anything else is read row by row)."""
    arr = np.frombuffer(data, dtype=np.uint8)
    control = (arr < 0x20) & (arr != 9) & (arr != 10) & (arr != 13)
    if control.any() or (arr == _BACKSLASH).any():
        return False
    newlines = np.flatnonzero(arr == 10)
    if len(newlines) == 0 or data.count(b"\r") != data.count(b"\r\n"):
        return False
    starts = np.concatenate(([0], newlines + 1))
    starts = starts[starts < len(arr)]
    if (arr[starts] == 10).any() or (arr[starts] == 13).any():  # a blank line
        return False
    quotes = np.flatnonzero(arr == _QUOTE)
    if len(quotes) == 0:
        return True
    if len(quotes) % 2:
        return False
    opening, closing = quotes[0::2], quotes[1::2]
    before = np.where(opening > 0, arr[np.maximum(opening - 1, 0)], 10)
    after = np.where(closing + 1 < len(arr), arr[np.minimum(closing + 1, len(arr) - 1)], 10)
    same_line = np.searchsorted(newlines, opening) == np.searchsorted(newlines, closing)
    return bool(
        np.isin(before, (ord(","), 10)).all()
        and np.isin(after, (ord(","), 10, 13)).all()
        and same_line.all()
    )


def read_csv_columnar(ds: Dataset, data: bytes) -> CsvColumns | None:
    """The fast path for the common CSV file, with the same result as :func:`read_csv`:
    quotes (if any) around whole fields only, no blank lines, LF or CRLF line ends, no
    line near the size limits (so no row breaks a limit or fails to parse). Returns None
    when the file is not such a file (or Arrow's reader finds a row of the wrong width):
    :func:`read_csv` then reads it, with its line-level errors."""
    if not _csv_fast_bytes(data):
        return None
    ends = np.flatnonzero(np.frombuffer(data, dtype=np.uint8) == 10)
    lengths = np.diff(np.append(ends, len(data)), prepend=-1)
    if int(lengths.max()) > min(MAX_FIELD_BYTES, MAX_RECORD_BYTES):
        return None
    header = next(csv.reader([data[: ends[0]].decode("utf-8").rstrip("\r")]), [])
    wanted, extra = _csv_columns(ds, header)
    names = [f"c{i}" for i in range(len(header))]
    try:
        table = pa_csv.read_csv(
            io.BytesIO(data),
            read_options=pa_csv.ReadOptions(column_names=names, skip_rows=1),
            parse_options=pa_csv.ParseOptions(
                quote_char='"',
                double_quote=False,
                escape_char=False,
                newlines_in_values=False,
                ignore_empty_lines=False,
            ),
            convert_options=pa_csv.ConvertOptions(
                column_types=dict.fromkeys(names, pa.string()),
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
    except pa.ArrowInvalid:  # a row of another width: the row-by-row reader reports it
        return None
    offsets = np.append(ends + 1, len(data)).astype(np.int64)  # lines after the header
    if data.endswith(b"\n"):
        offsets = offsets[:-1]
    if len(offsets) - 1 != table.num_rows:
        return None
    raw_lines = pa.LargeStringArray.from_buffers(
        table.num_rows, pa.py_buffer(offsets.tobytes()), pa.py_buffer(data)
    )
    numbers = pa.array(np.arange(2, table.num_rows + 2, dtype=np.int64))
    table = table.add_column(0, "raw_line", raw_lines).add_column(0, "source_line", numbers)
    spaced = b" " in data or b"\t" in data
    return CsvColumns(table, header, wanted, extra, spaced, header_columns(header))


def _csv_limits(row: list[str], header: list[str]) -> tuple[str, str | None] | None:
    """(reason, column) when a CSV row breaks the record or field size limit.

    A character is at most 4 bytes in UTF-8: rows below a quarter of the limits (all but
    hostile ones) are passed on their lengths alone."""
    longest = max(map(len, row))
    total = sum(map(len, row)) + len(row)
    if longest * 4 <= MAX_FIELD_BYTES and total * 4 <= MAX_RECORD_BYTES:
        return None
    sizes = [len(value.encode("utf-8")) for value in row]
    if sum(sizes) + len(row) - 1 > MAX_RECORD_BYTES:
        return RECORD_TOO_LARGE, None
    for i, size in enumerate(sizes):
        if size > MAX_FIELD_BYTES:
            return FIELD_TOO_LARGE, header[i].strip().lower() if i < len(header) else None
    return None


# JSON pages ----------------------------------------------------------------------------


def read_json_page(ds: Dataset, text: str) -> RawRecords:
    """One API page: an object holding the record array, or a bare array."""
    out = RawRecords(ds)
    try:
        doc = json.loads(text)  # read_records checked its depth first
    except json.JSONDecodeError as exc:
        raise FileRejected("invalid_json", f"not valid JSON: {exc}") from exc
    if isinstance(doc, dict):
        records = doc.get(ds.json_array_key or "")
        if not isinstance(records, list):
            raise FileRejected(
                "not_object_or_array",
                f"JSON object without a {ds.json_array_key!r} array",
            )
    elif isinstance(doc, list):
        records = doc
    else:
        raise FileRejected(
            "not_object_or_array", f"JSON document is a {type(doc).__name__}, not an object"
        )
    out.columns = json_columns(ds, records)
    for position, record in enumerate(records, start=1):
        raw = json.dumps(record, ensure_ascii=False)
        if len(raw) * 4 > MAX_RECORD_BYTES and len(raw.encode("utf-8")) > MAX_RECORD_BYTES:
            out.add(position, _excerpt(raw), parse_error=RECORD_TOO_LARGE)
            continue
        if not isinstance(record, dict):
            out.add(position, raw, parse_error=NOT_AN_OBJECT)
            continue
        values, type_errors = _json_values(ds, record)
        first = type_errors[0] if type_errors else None
        out.add(position, raw, values, type_error=first, type_errors=type_errors)
    return out


def _json_values(ds: Dataset, record: dict) -> tuple[dict[str, str | None], list[str]]:
    """A record's raw texts, and every field whose JSON type does not fit (in order)."""
    values: dict[str, str | None] = {}
    type_errors = []
    for f in ds.fields:
        value: Any = record
        for part in f.raw_name.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        text, ok = _json_scalar(f.kind, value)
        if not ok:
            type_errors.append(f.name)
        values[f.name] = text
    return values, type_errors


def _json_scalar(kind: Kind, value: Any) -> tuple[str | None, bool]:
    """A JSON value as raw text for validation, and whether its JSON type fits the kind."""
    if value is None:
        return None, True
    if kind is Kind.BOOLEAN:
        return ("true" if value else "false", True) if isinstance(value, bool) else (None, False)
    if kind is Kind.JSON:
        ok = isinstance(value, dict)
        return (json.dumps(value, ensure_ascii=False) if ok else None), ok
    if isinstance(value, str):
        return _clean(value), True
    return None, False


# NDJSON --------------------------------------------------------------------------------


def ndjson_lines(data: bytes) -> pa.Table:
    """Split UTF-8 bytes into lines without copying them: (source_line, line, limit_error).

    Each line keeps its trailing newline (JSON ignores it); blank lines are dropped in SQL.
    ``limit_error`` is ``record_too_large`` or ``too_deep`` for a line that breaks the
    size or depth limit (and must not be parsed), else null: found with whole-file numpy
    passes; only a line with more than ``MAX_JSON_DEPTH`` brackets is looked at alone.
    """
    if not data:
        starts = np.zeros(0, dtype=np.int64)
    else:
        arr = np.frombuffer(data, dtype=np.uint8)
        starts = np.concatenate(([0], np.flatnonzero(arr == 10) + 1)).astype(np.int64)
        if starts[-1] == len(data):  # file ends with a newline: no empty last line
            starts = starts[:-1]
    offsets = np.append(starts, len(data)).astype(np.int64)
    n = len(starts)
    lines = pa.LargeStringArray.from_buffers(n, pa.py_buffer(offsets.tobytes()), pa.py_buffer(data))
    return pa.table(
        {
            "source_line": pa.array(np.arange(1, n + 1, dtype=np.int64)),
            "line": lines,
            "limit_error": _line_limits(data, offsets),
        }
    )


def _line_limits(data: bytes, offsets: np.ndarray) -> pa.Array:
    n = len(offsets) - 1
    too_large = np.diff(offsets) > MAX_RECORD_BYTES
    suspects = np.flatnonzero((_brackets_per_line(data, offsets) > MAX_JSON_DEPTH) & ~too_large)
    view = memoryview(data)
    deep = [i for i in suspects if json_depth_exceeds(view[offsets[i] : offsets[i + 1]])]
    if not deep and not too_large.any():
        return pa.nulls(n, pa.string())
    errors = np.full(n, None, dtype=object)
    errors[too_large] = RECORD_TOO_LARGE
    errors[deep] = TOO_DEEP
    return pa.array(errors, pa.string())


def _brackets_per_line(data: bytes, offsets: np.ndarray) -> np.ndarray:
    """How many ``{`` and ``[`` each line holds (strings included: an upper bound of its
    depth): the brackets' positions, found a chunk of the file at a time (memory stays
    bounded), counted between line offsets by binary search."""
    arr = np.frombuffer(data, dtype=np.uint8)
    at_offsets = np.empty(len(offsets), dtype=np.int64)  # brackets before each offset
    carry, step = 0, 1 << 22
    for start in range(0, len(arr), step):
        part = arr[start : start + step]
        found = np.flatnonzero((part | 0x20) == _OPENER)
        lo, hi = np.searchsorted(offsets, [start, start + len(part)])
        at_offsets[lo:hi] = carry + np.searchsorted(found, offsets[lo:hi] - start)
        carry += len(found)
    at_offsets[offsets >= len(arr)] = carry
    return np.diff(at_offsets)


def read_records(ds: Dataset, data: bytes) -> RawRecords | CsvColumns:
    """Parse decoded bytes of a CSV or JSON-page file (NDJSON goes through SQL)."""
    if ds.format is Format.JSON and json_depth_exceeds(data):
        raise FileRejected(
            TOO_DEEP, f"JSON page nests objects and arrays deeper than {MAX_JSON_DEPTH} levels"
        )
    if ds.format is Format.CSV:
        fast = read_csv_columnar(ds, data)
        return fast if fast is not None else read_csv(ds, data.decode("utf-8"))
    text = data.decode("utf-8")
    if ds.format is Format.JSON:
        return read_json_page(ds, text)
    raise ValueError(f"{ds.name}: {ds.format} files are split with ndjson_lines")
