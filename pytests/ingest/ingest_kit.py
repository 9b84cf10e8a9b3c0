"""Helpers for the ingest tests, written from the raw contract and docs/lake.md.

Raw files are written by hand (no generator): CSV with the csv module or literal text,
customer pages and NDJSON with json. The lake is read back with DuckDB exactly as a
downstream reader would (the silver glob with Hive partitioning, the quarantine glob).
Expected values are spelled out in the tests themselves; nothing here derives an
expectation from the engine's output (the crash tests also compare with a clean run over
the same input, whose counts they first check by hand).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

import duckdb

from shoplake.contract import DATASETS
from shoplake.lake import Lake, glob_escape

UTC = timezone.utc

#: The run start used by in-process runs (`run_ingest(..., now=NOW)`).
NOW = datetime(2026, 3, 10, 12, 0, 0, tzinfo=UTC)

STAT_FIELDS = (
    "files_read",
    "read",
    "written",
    "quarantined",
    "duplicates",
    "files_quarantined",
    "extra_columns",
)


def raw_columns(dataset: str) -> list[str]:
    """A dataset's raw field names (CSV header, JSON keys) in the contract's order."""
    return [f.raw_name for f in DATASETS[dataset].fields]


#: CSV headers in the contract's column order (tests reorder them where order matters).
ORDER_COLS = raw_columns("orders")
SALE_COLS = raw_columns("sales")
PAYMENT_COLS = raw_columns("payments")
PRODUCT_COLS = raw_columns("products")
CSV_COLS = {
    "orders": ORDER_COLS,
    "sales": SALE_COLS,
    "payments": PAYMENT_COLS,
    "products": PRODUCT_COLS,
}
#: The datasets the kit builds records for (every one but exchange_rates, which
#: test_exchange_rates.py writes by hand), with their silver key and business timestamp.
KIT_DATASETS = (*CSV_COLS, "customers", "clickstream")
KEYS = {name: DATASETS[name].key for name in KIT_DATASETS}
BUSINESS_TS = {name: DATASETS[name].business_ts for name in KIT_DATASETS}
#: Lineage that depends on which run wrote a row (not on the input).
RUN_LINEAGE = ("ingested_at", "run_id")


# ---------------------------------------------------------------------------------------
# valid records (every value a string, as delivered); tests override single fields
# ---------------------------------------------------------------------------------------
def order(order_id: str = "O1", **kw: Any) -> dict[str, Any]:
    rec = {
        "order_id": order_id,
        "customer_id": "C1",
        "order_ts": "2026-03-01T10:00:00Z",
        "status": "placed",
        "channel": "web",
        "currency": "EUR",
        "shipping_country": "PT",
        "updated_at": "2026-03-01T10:00:00Z",
    }
    rec.update(kw)
    return rec


def sale(sale_id: str = "S1", **kw: Any) -> dict[str, Any]:
    rec = {
        "sale_id": sale_id,
        "order_id": "O1",
        "product_id": "P1",
        "quantity": "2",
        "unit_price": "10.00",
        "discount_amount": "1.50",
        "sold_at": "2026-03-01T10:00:00Z",
    }
    rec.update(kw)
    return rec


def payment(payment_id: str = "Y1", **kw: Any) -> dict[str, Any]:
    rec = {
        "payment_id": payment_id,
        "order_id": "O1",
        "payment_ts": "2026-03-01T10:05:00Z",
        "method": "card",
        "status": "captured",
        "amount": "18.50",
        "currency": "EUR",
    }
    rec.update(kw)
    return rec


def product(product_id: str = "P1", **kw: Any) -> dict[str, Any]:
    rec = {
        "product_id": product_id,
        "sku": f"SKU-{product_id}",
        "name": "Blue mug",
        "category": "home",
        "subcategory": "kitchen",
        "brand": "Acme",
        "list_price": "12.90",
        "unit_cost": "4.10",
        "is_active": "true",
        "updated_at": "2026-03-01T08:00:00Z",
    }
    rec.update(kw)
    return rec


def customer(customer_id: Any = "C1", **kw: Any) -> dict[str, Any]:
    rec: dict[str, Any] = {
        "customer_id": customer_id,
        "email": f"{str(customer_id).lower()}@example.com",
        "first_name": "Ana",
        "last_name": "Silva",
        "segment": "consumer",
        "signup_ts": "2025-11-02T10:00:00Z",
        "address": {
            "city": "Porto",
            "region": "Porto",
            "postal_code": "4000-001",
            "country": "PT",
        },
        "marketing_opt_in": True,
        "updated_at": "2026-03-01T00:00:00Z",
    }
    rec.update(kw)
    return rec


def click(**kw: Any) -> dict[str, Any]:
    rec: dict[str, Any] = {
        "event_time": "2026-03-01T14:05:09.123Z",
        "user_id": "C1",
        "session_id": "s-1",
        "action": "page_view",
        "page_url": "https://shop.example.com/",
        "user_agent": "Mozilla/5.0",
        "ip": "203.0.113.7",
    }
    rec.update(kw)
    return rec


# ---------------------------------------------------------------------------------------
# raw file builders
# ---------------------------------------------------------------------------------------
def csv_text(
    records: list[dict[str, Any]],
    columns: list[str],
    *,
    eol: str = "\n",
    header: list[str] | None = None,
    quote_all: bool = False,
) -> str:
    """RFC 4180 CSV of ``records`` (None or a missing key is an empty field)."""
    buf = io.StringIO()
    w = csv.writer(
        buf, lineterminator=eol, quoting=csv.QUOTE_ALL if quote_all else csv.QUOTE_MINIMAL
    )
    w.writerow(header or columns)
    for rec in records:
        w.writerow(["" if rec.get(c) is None else rec[c] for c in columns])
    return buf.getvalue()


def customers_page(
    records: list[Any], *, bare: bool = False, page: int = 1, next_url: str | None = None
) -> str:
    if bare:
        return json.dumps(records, ensure_ascii=False)
    return json.dumps({"page": page, "customers": records, "next": next_url}, ensure_ascii=False)


def ndjson(lines: list[Any]) -> str:
    """One line per item: dicts (or any JSON value) are dumped, strings written as is."""
    out = []
    for item in lines:
        out.append(item if isinstance(item, str) else json.dumps(item, ensure_ascii=False))
    return "".join(line + "\n" for line in out)


def without(record: dict[str, Any], *keys: str) -> dict[str, Any]:
    """A copy of ``record`` without ``keys`` (a field left out, not sent as null)."""
    return {k: v for k, v in record.items() if k not in keys}


def cases_file(dataset: str, cases: list[Any], **page: Any) -> str:
    """A table of cases as one raw file of ``dataset``, each case's raw record at its line.

    ``cases`` are ``pytest.param`` objects whose values start (dataset, line, raw, ...);
    the lines must follow each other from the first record line (2 under a CSV header,
    else 1). CSV: a str raw record is the line as delivered, a dict is written like
    :func:`csv_text`; customers: one page (``page``: its page number and next link);
    clickstream: NDJSON."""
    values = [p.values for p in cases]
    assert {v[0] for v in values} == {dataset}
    first = 2 if dataset in CSV_COLS else 1
    assert [v[1] for v in values] == list(range(first, first + len(values)))
    raws = [v[2] for v in values]
    if dataset == "customers":
        return customers_page(raws, **page)
    if dataset == "clickstream":
        return ndjson(raws)
    cols = CSV_COLS[dataset]
    lines = [r if isinstance(r, str) else csv_text([r], cols).splitlines()[1] for r in raws]
    return "\n".join([",".join(cols), *lines]) + "\n"


def click_id_by_hand(utc: datetime, user: str, session: str, action: str, url: str | None) -> str:
    """The click_id docs/lake.md defines: md5 over the UTC time (microseconds, Z), user,
    session, action and page_url (empty when absent), joined by U+001F."""
    text = "\x1f".join([utc.strftime("%Y-%m-%dT%H:%M:%S.%fZ"), user, session, action, url or ""])
    return hashlib.md5(text.encode()).hexdigest()


def rel(lake: Lake, path: Path) -> str:
    return lake.relative(path)


# ---------------------------------------------------------------------------------------
# running ingest
# ---------------------------------------------------------------------------------------
def ingest(lake: Lake, now: datetime = NOW, **kw: Any):
    from shoplake.ingest import run_ingest

    return run_ingest(lake, now=now, **kw)


def stats(report: Any, dataset: str) -> dict[str, int]:
    """A dataset's counters from a report (a dataset the run had nothing for is zeros)."""
    ds = report.datasets.get(dataset)
    if ds is None:
        return dict.fromkeys(STAT_FIELDS, 0)
    if isinstance(ds, dict):
        return {f: ds[f] for f in STAT_FIELDS}
    return {f: getattr(ds, f) for f in STAT_FIELDS}


def check_stats(report: Any, dataset: str, **expected: int) -> dict[str, int]:
    """Assert the given counters and the accounting identity; return all counters."""
    got = stats(report, dataset)
    assert got["read"] == got["written"] + got["quarantined"] + got["duplicates"], got
    assert {k: got[k] for k in expected} == expected, (dataset, got)
    return got


def cli_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "SHOPLAKE_CRASH_AT"}
    env.update(extra)
    return env


def cli_cmd(lake: Lake, *args: str) -> list[str]:
    return [sys.executable, "-m", "shoplake.cli", "ingest", "--lake", str(lake.root), *args]


def run_cli(
    lake: Lake, *args: str, timeout: float = 240, **env: str
) -> subprocess.CompletedProcess:
    return subprocess.run(
        cli_cmd(lake, *args),
        env=cli_env(**env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def run_logs(lake: Lake) -> dict[str, dict]:
    runs = lake.state_dir("runs")
    if not runs.is_dir():
        return {}
    return {p.stem: json.loads(p.read_text("utf-8")) for p in sorted(runs.glob("*.json"))}


# ---------------------------------------------------------------------------------------
# reading the lake
# ---------------------------------------------------------------------------------------
def _query(sql: str, params: list | None = None) -> list[dict[str, Any]]:
    con = duckdb.connect()
    try:
        cur = con.execute(sql, params or [])
        cols = [d[0] for d in cur.description]
        return [dict(zip(cols, row, strict=True)) for row in cur.fetchall()]
    finally:
        con.close()


def silver(lake: Lake, dataset: str) -> list[dict[str, Any]]:
    """All silver rows of a dataset, as a downstream reader sees them, plus `_file`
    (the partition file relative to the lake root)."""
    if not list((lake.root / "silver" / dataset).glob("*/*/*/*.parquet")):
        return []
    rows = _query(
        "select * from read_parquet(?, hive_partitioning=true, filename='_file')",
        [f"{glob_escape(str(lake.root))}/silver/{dataset}/*/*/*/*.parquet"],
    )
    for r in rows:
        r["_file"] = Path(r["_file"]).relative_to(lake.root).as_posix()
    return rows


def silver_by(lake: Lake, dataset: str, *cols: str) -> dict[Any, dict[str, Any]]:
    """Silver rows keyed by one column (or a tuple of columns); fails on a repeated key."""
    out: dict[Any, dict[str, Any]] = {}
    for r in silver(lake, dataset):
        k = r[cols[0]] if len(cols) == 1 else tuple(r[c] for c in cols)
        assert k not in out, f"{dataset}: key {k!r} appears twice in silver"
        out[k] = r
    return out


def quarantine(lake: Lake, dataset: str) -> list[dict[str, Any]]:
    if not list((lake.root / "quarantine" / dataset).glob("*/*/*/*.parquet")):
        return []
    rows = _query(
        "select * from read_parquet(?, filename='_file')",
        [f"{glob_escape(str(lake.root))}/quarantine/{dataset}/*/*/*/*.parquet"],
    )
    for r in rows:
        r["_file"] = Path(r["_file"]).relative_to(lake.root).as_posix()
    return sorted(rows, key=lambda r: (r["source_file"], r["source_line"] or 0))


def parquet_schema(path: Path) -> dict[str, str]:
    rows = _query("describe select * from read_parquet(?, hive_partitioning=false)", [str(path)])
    return {r["column_name"]: r["column_type"] for r in rows}


def parquet_rows(path: Path) -> list[dict[str, Any]]:
    return _query("select * from read_parquet(?, hive_partitioning=false)", [str(path)])


def partition_path(dataset: str, day: str) -> str:
    d = date.fromisoformat(day)
    return f"silver/{dataset}/year={d:%Y}/month={d:%m}/day={d:%d}/data.parquet"


@dataclass(frozen=True)
class FileState:
    sha256: str
    mtime_ns: int
    ino: int


def tree_state(root: Path) -> dict[str, FileState]:
    """Every file under ``root``: content hash, mtime and inode (for "untouched")."""
    out = {}
    if not root.exists():
        return out
    for p in sorted(root.rglob("*")):
        if p.is_file():
            st = p.stat()
            out[p.relative_to(root).as_posix()] = FileState(
                hashlib.sha256(p.read_bytes()).hexdigest(), st.st_mtime_ns, st.st_ino
            )
    return out


def content(rows: list[dict[str, Any]], drop: tuple[str, ...] = RUN_LINEAGE) -> list[tuple]:
    """Rows as sorted tuples without the run-dependent lineage (to compare lakes)."""
    out = []
    for r in rows:
        out.append(tuple(sorted((k, _hashable(v)) for k, v in r.items() if k not in drop)))
    return sorted(out, key=repr)


def _hashable(v: Any) -> Any:
    if isinstance(v, (list, dict)):
        return json.dumps(v, sort_keys=True, default=str)
    return v


def lineage(
    source_file: str, line: int, run_id: str, at: datetime = NOW, seq: int = 1
) -> dict[str, Any]:
    """The lineage columns expected on a row first written by run ``run_id`` at ``at``,
    the ``seq``-th ingest run of the lake that wrote anything."""
    return {
        "source_file": source_file,
        "source_line": line,
        "ingested_at": at.astimezone(UTC).replace(tzinfo=None),
        "run_id": run_id,
        "ingest_seq": seq,
    }


def assert_silver(lake: Lake, dataset: str, expected: dict[Any, dict[str, Any]]) -> None:
    """Silver holds exactly the expected rows (keyed like KEYS[dataset]), each in the
    partition of its business date, with exactly the expected columns and values."""
    got: dict[tuple, dict[str, Any]] = {}
    for r in silver(lake, dataset):
        k = tuple(r[c] for c in KEYS[dataset])
        assert k not in got, f"{dataset}: key {k!r} appears twice in silver"
        got[k] = r
    assert sorted(got, key=repr) == sorted(expected, key=repr)
    for key, exp in expected.items():
        row = dict(got[key])
        file = row.pop("_file")
        hive = (row.pop("year"), row.pop("month"), row.pop("day"))
        business = row[BUSINESS_TS[dataset]]
        assert file == partition_path(dataset, business.date().isoformat()), key
        assert tuple(int(v) for v in hive) == (business.year, business.month, business.day)
        assert row == exp, key
