"""The DuckDB connection of an ingest run, within its memory limit and spill directory."""

from __future__ import annotations

import secrets
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from shoplake.config import Settings, load_settings
from shoplake.errors import ConfigError
from shoplake.ingest.validate import lit


@contextmanager
def ingest_connection(settings: Settings | None = None) -> Iterator[duckdb.DuckDBPyConnection]:
    """An in-memory DuckDB connection limited to ``ingest_memory_limit``, spilling to a
    directory of its own under ``ingest_temp_directory`` (made only if it spills, and
    removed when it closes).

    Insertion order is not preserved (every result ingest writes is ordered explicitly),
    which lets DuckDB stream large inserts and copies instead of buffering them.
    """
    settings = settings or load_settings()
    parent = settings.ingest_temp_directory
    if parent is not None and not Path(parent).is_dir():
        raise ConfigError(
            f"ingest temporary directory {parent} does not exist",
            "create it, or set SHOPLAKE_INGEST_TEMP_DIRECTORY / `ingest_temp_directory` in "
            "shoplake.toml to an existing directory",
            setting="ingest_temp_directory",
        )
    # DuckDB makes the directory only if it spills, and removes it when it closes: a
    # killed run that did not spill leaves nothing behind
    spill = Path(parent or tempfile.gettempdir()) / f"shoplake-ingest-{secrets.token_hex(6)}"
    try:
        con = duckdb.connect()
        try:
            con.execute("SET TimeZone = 'UTC'")
            con.execute(f"SET temp_directory = {lit(str(spill))}")
            con.execute("SET preserve_insertion_order = false")
            try:
                con.execute(f"SET memory_limit = {lit(settings.ingest_memory_limit)}")
            except duckdb.Error as exc:
                raise ConfigError(
                    f"ingest memory limit {settings.ingest_memory_limit!r} is not a size",
                    "set SHOPLAKE_INGEST_MEMORY_LIMIT or `ingest_memory_limit` in shoplake.toml "
                    'to a size such as "2GB" or "512MB"',
                    setting="ingest_memory_limit",
                ) from exc
            yield con
        finally:
            con.close()
    finally:
        shutil.rmtree(spill, ignore_errors=True)
