"""Helpers for the S3 lake checks: the CLI as a child process, and the bucket read back
with boto3 and pyarrow directly (not through shoplake's own storage layer), so that what
the tests see is what any other S3 client would see."""

from __future__ import annotations

import hashlib
import io
import json
import subprocess
from pathlib import Path
from typing import Any

import boto3
import duckdb
import pyarrow.parquet as pq
from cli_kit import run_shoplake

#: Lineage that depends on which run wrote a row, not on the input.
RUN_COLUMNS = ("ingested_at", "run_id", "quarantined_at")
DATASETS = ("orders", "sales", "payments", "customers", "products", "clickstream", "exchange_rates")
STATS = ("files_read", "read", "written", "quarantined", "duplicates", "files_quarantined")


def s3() -> Any:
    return boto3.client("s3")  # endpoint and credentials: the aws_env fixture


def shoplake(*args: str, timeout: float = 300, **env: str) -> subprocess.CompletedProcess:
    """Run the CLI in a child process (the test's environment, plus ``env``)."""
    return run_shoplake(*args, env=env, without=("SHOPLAKE_CRASH_AT",), timeout=timeout)


def keys(bucket: str, prefix: str) -> list[str]:
    out = []
    for page in s3().get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        out += [o["Key"] for o in page.get("Contents", [])]
    return sorted(out)


def objects(bucket: str, prefix: str) -> dict[str, tuple[str, Any]]:
    """key (below ``prefix``) -> (ETag, LastModified) of every object."""
    out = {}
    for page in s3().get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for o in page.get("Contents", []):
            out[o["Key"][len(prefix) :]] = (o["ETag"], o["LastModified"])
    return out


def versions(bucket: str, prefix: str) -> dict[str, int]:
    """key -> number of versions (and delete markers) S3 keeps of it."""
    out: dict[str, int] = {}
    pages = s3().get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix=prefix)
    for page in pages:
        for v in page.get("Versions", []) + page.get("DeleteMarkers", []):
            out[v["Key"][len(prefix) :]] = out.get(v["Key"][len(prefix) :], 0) + 1
    return out


def get(bucket: str, key: str) -> bytes:
    return s3().get_object(Bucket=bucket, Key=key)["Body"].read()


def put(bucket: str, key: str, data: bytes | str) -> None:
    s3().put_object(Bucket=bucket, Key=key, Body=data.encode() if isinstance(data, str) else data)


def s3_file_hashes(bucket: str, prefix: str) -> dict[str, str]:
    return {k[len(prefix) :]: _sha(get(bucket, k)) for k in keys(bucket, prefix)}


def local_file_hashes(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): _sha(p.read_bytes())
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _rows(table: Any, drop: tuple[str, ...] = RUN_COLUMNS) -> list[tuple]:
    keep = [c for c in table.column_names if c not in drop]
    cols = [table.column(c).to_pylist() for c in keep]
    return sorted(zip(*cols, strict=True), key=repr) if cols else []


def s3_parquet(bucket: str, prefix: str) -> dict[str, list[tuple]]:
    """Every Parquet object under ``prefix``: relative key -> rows (run lineage dropped)."""
    return {
        k[len(prefix) :]: _rows(pq.read_table(io.BytesIO(get(bucket, k))))
        for k in keys(bucket, prefix)
        if k.endswith(".parquet")
    }


def local_parquet(root: Path) -> dict[str, list[tuple]]:
    return {
        p.relative_to(root).as_posix(): _rows(pq.read_table(p))
        for p in sorted(root.rglob("*.parquet"))
    }


def by_partition(files: dict[str, list[tuple]]) -> dict[str, list[tuple]]:
    """Quarantine files are named after the run: key them by dataset and partition."""
    out: dict[str, list[tuple]] = {}
    for key, rows in files.items():
        out.setdefault(key.rsplit("/", 1)[0], []).extend(rows)
    return {k: sorted(v, key=repr) for k, v in out.items()}


def run_logs(bucket: str, prefix: str) -> dict[str, dict]:
    base = f"{prefix}_state/runs/"
    return {k[len(base) : -len(".json")]: json.loads(get(bucket, k)) for k in keys(bucket, base)}


def totals(logs: list[dict]) -> dict[str, dict[str, int]]:
    """Accounting summed over run logs, per dataset."""
    out = {ds: dict.fromkeys(STATS, 0) for ds in DATASETS}
    for log in logs:
        for ds, st in log["datasets"].items():
            for f in STATS:
                out[ds][f] += st[f]
    return out


def mart_rows(warehouse: Path, table: str) -> list[tuple]:
    """A mart's rows without ``ingested_at`` (the run's time, not the data)."""
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        cols = [r[0] for r in con.execute(f"describe main.{table}").fetchall()]
        keep = ", ".join(f'"{c}"' for c in cols if c not in RUN_COLUMNS)
        return sorted(con.execute(f"select {keep} from main.{table}").fetchall(), key=repr)
    finally:
        con.close()
