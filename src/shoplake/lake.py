"""The lake, defined once: its layout (zones, raw landing paths, silver partitions, state
files) and the one API every module reads and writes it through.

A lake is a root, a local directory or ``s3://bucket/prefix``, with the zones ``raw/``,
``silver/``, ``quarantine/``, ``alerts/`` and ``_state/``. Every location is a
lake-relative *key* (``silver/orders/year=2026/month=03/day=01/data.parquet``) built by
the methods below; the bytes go through :class:`shoplake.storage.Storage` (see there for
what each backend guarantees). The API for other modules:

* layout, on keys: :meth:`Lake.state_key`, :meth:`Lake.landing_prefix`,
  :meth:`Lake.partition_key`, :meth:`Lake.quarantine_key`, :meth:`Lake.run_log_key`, ...;
* I/O on keys, the same on every lake: :meth:`Lake.read_bytes`, :meth:`Lake.read_text`,
  :meth:`Lake.read_many`, :meth:`Lake.write_atomic`, :meth:`Lake.exists`,
  :meth:`Lake.info`, :meth:`Lake.list`, :meth:`Lake.any`, :meth:`Lake.delete`,
  :meth:`Lake.scratch_file` + :meth:`Lake.publish_file` (a local file made visible at a
  key in one step), :meth:`Lake.lock` (one run at a time);
* engines: :meth:`Lake.url` (a key or glob as DuckDB/pyarrow/dbt read it) and
  :meth:`Lake.attach` (lets a DuckDB connection read ``s3://`` URLs);
* things that must be local files (the DuckDB warehouse, dbt's artifacts) go under
  :attr:`Lake.local_dir`.

The raw zone may live at another location than the root (``Lake.at(root, raw=...)``, the
``raw`` setting): the deployed layout keeps raw files in their own versioned bucket. Keys
stay the same (``raw/...``, as in lineage); only where their bytes go changes, and that is
decided here, by key, for every method above.

The ``Path``-returning methods (:attr:`Lake.root`, :meth:`Lake.state_dir`,
:meth:`Lake.partition_dir`, ...) exist for local lakes only (tests, tools that want
files); on an S3 lake they raise :class:`ShoplakeError`.
"""

from __future__ import annotations

import builtins
import os
import re
from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import date, datetime
from itertools import groupby
from pathlib import Path
from typing import Any

from shoplake.contract import DATASETS, Dataset
from shoplake.errors import ConfigError, StorageError
from shoplake.storage import HIDDEN_PREFIXES, Entry, Lease, LocalStorage, S3Storage, Storage

RAW, SILVER, QUARANTINE, ALERTS, STATE = "raw", "silver", "quarantine", "alerts", "_state"
#: The one file of each silver partition (replaced whole, so readers never see a part).
SILVER_FILE = "data.parquet"
#: Local working directory of S3 lakes (see :attr:`Lake.local_dir`).
LOCAL_DIR_ENV = "SHOPLAKE_LOCAL_DIR"

#: raw/<dataset>/YYYY/MM/DD[/HH]/<file>: the landing date (and hour) of a delivered file.
_LANDING = re.compile(
    r"^raw/(?P<dataset>[a-z_]+)/(?P<y>\d{4})/(?P<m>\d{2})/(?P<d>\d{2})/(?:(?P<h>\d{2})/)?[^/]+$"
)


@dataclass(frozen=True)
class Lake:
    """A lake: its layout and its storage (a local directory or an S3 prefix).

    ``raw_store``, when set, holds the ``raw/`` zone instead of ``store``: its own
    ``raw/`` folder is the lake's raw zone.
    """

    store: Storage
    raw_store: Storage | None = None

    @classmethod
    def at(cls, location: str | os.PathLike | Lake, raw: str | os.PathLike | None = None) -> Lake:
        """The lake at a directory or ``s3://bucket/prefix`` (nothing is touched yet).

        ``raw``: the directory or ``s3://`` location whose ``raw/`` folder is the raw zone
        (default: the lake root's). An already opened lake is returned as it is, so that
        functions can take either a location or a lake.
        """
        if isinstance(location, Lake):
            return location if raw is None else cls(location.store, _raw_store(location.store, raw))
        store = _storage(location, "--lake")
        return cls(store, None if raw is None else _raw_store(store, raw))

    @property
    def is_local(self) -> bool:
        return self.store.is_local

    def __str__(self) -> str:
        return self.url()

    @property
    def local_dir(self) -> Path:
        """Where files that cannot live in an object store go (the dev warehouse, dbt's
        artifacts): the lake directory itself, or for an S3 lake
        ``$SHOPLAKE_LOCAL_DIR/s3/<bucket>/<prefix>`` (default ``./.shoplake``), one
        directory per lake so that two lakes never share a warehouse."""
        if isinstance(self.store, LocalStorage):
            return self.store.root
        assert isinstance(self.store, S3Storage)
        base = Path(os.environ.get(LOCAL_DIR_ENV) or ".shoplake").expanduser().resolve()
        return base.joinpath("s3", self.store.bucket, *filter(None, self.store.prefix.split("/")))

    def _store(self, key: str) -> Storage:
        """The storage that holds ``key`` (a key, prefix or glob)."""
        if self.raw_store is not None and _in_raw_zone(key):
            return self.raw_store
        return self.store

    # layout: keys ----------------------------------------------------------------------
    @staticmethod
    def key(*parts: str) -> str:
        return "/".join(p.strip("/") for p in parts if p)

    def state_key(self, *parts: str) -> str:
        return self.key(STATE, *parts)

    def raw_prefix(self, dataset: str) -> str:
        return self.key(RAW, dataset)

    def landing_prefix(self, dataset: str, landed: date | datetime) -> str:
        """Where a file delivered at ``landed`` goes: raw/<dataset>/YYYY/MM/DD[/HH]."""
        parts = [f"{landed.year:04d}", f"{landed.month:02d}", f"{landed.day:02d}"]
        if DATASETS[dataset].hourly:
            parts.append(f"{landed.hour if isinstance(landed, datetime) else 0:02d}")
        return self.key(RAW, dataset, *parts)

    def silver_prefix(self, dataset: str) -> str:
        return self.key(SILVER, dataset)

    def partition_prefix(self, dataset: str, day: date) -> str:
        return self.key(SILVER, dataset, day_partition(day))

    def partition_key(self, dataset: str, day: date) -> str:
        """The silver file of one business day."""
        return self.key(SILVER, dataset, day_partition(day), SILVER_FILE)

    def quarantine_prefix(self, dataset: str) -> str:
        return self.key(QUARANTINE, dataset)

    def quarantine_key(self, dataset: str, day: date, run_id: str) -> str:
        """A run's rejects of one dataset, partitioned by the run's (UTC) date."""
        return self.key(QUARANTINE, dataset, day_partition(day), f"{run_id}.parquet")

    def run_log_key(self, run_id: str) -> str:
        return self.state_key("runs", f"{run_id}.json")

    def silver_glob(self, dataset: str) -> str:
        """URL glob over every published silver file of a dataset (for DuckDB readers);
        the lake's own location in it is escaped (see :func:`glob_escape`)."""
        return self.glob_url(self.key(SILVER, dataset), "year=*/month=*/day=*/*.parquet")

    def glob_url(self, key: str, pattern: str = "") -> str:
        """``key`` as a DuckDB file pattern matching exactly that key (its ``*``, ``?``,
        ``[``, ``]`` and the lake location's escaped), followed by the glob ``pattern``.

        DuckDB treats every path it reads as a glob, so a lake under ``/data/[a]/`` or a
        key with a ``*`` must be escaped to mean itself. Paste the result into SQL as a
        quoted literal (:func:`shoplake.ingest.validate.lit`) or pass it as a parameter.
        """
        literal = glob_escape(self.url(key))
        return f"{literal}/{pattern}" if pattern else literal

    def list_raw(self, ds: Dataset) -> list[Entry]:
        """Every delivered file of a dataset, in landing order (key order).

        Only regular files at raw/<dataset>/YYYY/MM/DD[/HH]/ with the dataset's extensions
        count; names starting with ``_`` or ``.`` (files or folders) are in-progress
        uploads and are ignored, as Spectrum and Athena do. Links are not followed (see
        :meth:`scan_raw` for the links and special files found).
        """
        return self.scan_raw(ds).files

    def scan_raw(self, ds: Dataset) -> RawScan:
        """One listing of a dataset's raw folder: its delivered files, and the links and
        special files found anywhere in it (never followed, never read)."""
        return self._scan_raw(self.raw_prefix(ds.name)).datasets[ds.name]

    def scan_raw_zone(self) -> RawZone:
        """One listing of the whole raw zone: each dataset's :class:`RawScan`, and every
        other (not hidden) file under ``raw/``, with what its path should have been."""
        return self._scan_raw(RAW)

    def _scan_raw(self, prefix: str) -> RawZone:
        zone = RawZone({name: RawScan() for name in DATASETS})
        for e in self.list(prefix, irregular=True):
            if _hidden(e.key):
                continue
            parts = e.key.split("/")
            scan = zone.datasets.get(parts[1]) if len(parts) > 2 else None
            if scan is not None and e.irregular is not None:
                scan.irregular.append(e)
            elif scan is not None and is_landed(DATASETS[parts[1]], e.key):
                scan.files.append(e)
            else:
                zone.strays.append(stray_file(e))
        return zone

    def list_silver(self, dataset: str) -> list[Entry]:
        """Every published silver partition file of a dataset."""
        return [e for e in self.list(self.silver_prefix(dataset)) if e.name == SILVER_FILE]

    # I/O on keys (every lake) ----------------------------------------------------------
    def url(self, key: str = "") -> str:
        """``key`` (or a glob) as DuckDB, pyarrow and dbt address it; without a key, the
        root (an absolute directory or ``s3://bucket/prefix``)."""
        return self._store(key).url(key)

    def read_bytes(self, key: str) -> bytes:
        return self._store(key).read_bytes(key)

    def read_text(self, key: str) -> str:
        return self.read_bytes(key).decode("utf-8")

    def read_many(self, keys: Iterable[str]) -> Iterator[tuple[str, bytes]]:
        """``(key, content)`` in order; S3 fetches several at a time (runs of keys in the
        same storage are fetched together)."""
        for store, run in groupby(keys, key=self._store):
            yield from store.read_many(run)

    def write_atomic(self, key: str, data: bytes | str, *, durable: bool = True) -> None:
        """Replace ``key``: readers see the old or the new content, never a part."""
        self._store(key).write_atomic(
            key, data.encode("utf-8") if isinstance(data, str) else data, durable=durable
        )

    def info(self, key: str) -> Entry | None:
        return self._store(key).info(key)

    def exists(self, key: str) -> bool:
        return self._store(key).exists(key)

    def list(self, prefix: str = "", *, irregular: bool = False) -> list[Entry]:
        """Every regular file under ``prefix``, sorted by key (nothing cached, no link
        followed); with ``irregular`` also links and special files (``Entry.irregular``)."""
        if self.raw_store is None or prefix.strip("/"):
            return self._store(prefix).list(prefix, irregular=irregular)
        # the whole lake: the root's files outside raw/, and the raw zone's
        rest = [e for e in self.store.list(prefix, irregular=irregular) if not _in_raw_zone(e.key)]
        return sorted(rest + self.raw_store.list(RAW, irregular=irregular), key=lambda e: e.key)

    def any(self, prefix: str) -> bool:
        if self.raw_store is None or prefix.strip("/"):
            return self._store(prefix).any(prefix)
        return bool(self.list(prefix))

    def delete(self, key: str) -> None:
        self._store(key).delete(key)

    def delete_prefix(self, prefix: str) -> None:
        if self.raw_store is not None and not prefix.strip("/"):
            self.raw_store.delete_prefix(RAW)
        self._store(prefix).delete_prefix(prefix)

    def scratch_file(self, key: str) -> Path:
        """A local path to write a file at; :meth:`publish_file` then puts it at ``key``."""
        return self._store(key).scratch_file(key)

    def publish_file(self, path: Path, key: str) -> None:
        """Make a finished local file visible at ``key`` in one step (the file is consumed)."""
        self.publish_files([(path, key)])

    def publish_files(self, items: builtins.list[tuple[Path, str]]) -> None:
        for store, run in groupby(items, key=lambda item: self._store(item[1])):
            store.publish_files(list(run))

    def lock(self, name: str, wait: bool = False) -> AbstractContextManager[Lease]:
        """Hold ``_state/<name>.lock`` for one run (see :class:`shoplake.storage.Storage`)."""
        return self.store.lock(self.state_key(f"{name}.lock"), name, wait)

    def attach(self, con: Any) -> None:
        """Let a DuckDB connection read this lake's URLs (registers s3fs for S3 lakes).

        One s3fs file system reads every bucket, and DuckDB takes one per protocol: the
        raw zone's is registered only when the root's is not (a local root)."""
        self.store.attach(con)
        if self.raw_store is not None and self.store.is_local:
            self.raw_store.attach(con)

    # local paths (local lakes only) ----------------------------------------------------
    @property
    def root(self) -> Path:
        if not isinstance(self.store, LocalStorage):
            raise StorageError(
                f"lake {self.url()}: this operation needs a local lake directory",
                "use a directory for --lake",
                location=self.url(),
            )
        return self.store.root

    def path(self, key: str) -> Path:
        store = self._store(key)
        if store is self.store:
            return self.root / key if key else self.root
        if not isinstance(store, LocalStorage):
            raise StorageError(
                f"raw zone {store.url()}: this operation needs a local raw directory",
                "use a directory for the raw location (SHOPLAKE_RAW)",
                location=store.url(),
            )
        return store.path(key)

    def zone(self, name: str) -> Path:
        return self.path(name)

    def raw_dir(self, dataset: str) -> Path:
        return self.path(self.raw_prefix(dataset))

    def silver_dir(self, dataset: str) -> Path:
        return self.path(self.silver_prefix(dataset))

    def quarantine_dir(self, dataset: str) -> Path:
        return self.path(self.quarantine_prefix(dataset))

    def state_dir(self, *parts: str) -> Path:
        return self.path(self.state_key(*parts))

    def landing_dir(self, dataset: str, landed: date | datetime) -> Path:
        return self.path(self.landing_prefix(dataset, landed))

    def raw_files(self, ds: Dataset) -> builtins.list[Path]:
        return [self.path(e.key) for e in self.list_raw(ds)]

    def partition_dir(self, dataset: str, day: date) -> Path:
        return self.path(self.partition_prefix(dataset, day))

    def quarantine_file(self, dataset: str, day: date, run_id: str) -> Path:
        return self.path(self.quarantine_key(dataset, day, run_id))

    def run_log(self, run_id: str) -> Path:
        return self.path(self.run_log_key(run_id))

    def relative(self, location: str | os.PathLike) -> str:
        """The key of a path or URL inside the lake (forward slashes, as in lineage)."""
        raw_root = self.raw_store.url(RAW) if self.raw_store is not None else None
        if isinstance(location, Path):
            if raw_root is not None and location.is_relative_to(raw_root):
                return Path(RAW, location.relative_to(raw_root)).as_posix()
            return location.relative_to(self.root).as_posix()
        text = str(location)
        if raw_root is not None and text.startswith(raw_root + "/"):
            return RAW + text[len(raw_root) :]
        base = self.url() + "/"
        return text[len(base) :] if text.startswith(base) else text

    def absolute(self, relative: str) -> Path:
        return self.path(relative)


def _storage(location: str | os.PathLike, option: str) -> Storage:
    text = str(location)
    if text.startswith("s3://"):
        return S3Storage(text)
    if "://" in text:
        raise ConfigError(
            f"lake {text!r}: only local directories and s3:// locations are supported",
            f"use a directory or s3://bucket/prefix for {option}",
            setting=option,
        )
    return LocalStorage(Path(text).expanduser().resolve())


def _raw_store(root: Storage, raw: str | os.PathLike) -> Storage | None:
    """The raw zone's own storage, or None when ``raw`` is the lake root itself."""
    store = _storage(raw, "the raw location (SHOPLAKE_RAW)")
    return None if store == root else store


def _in_raw_zone(key: str) -> bool:
    head = key.strip("/").split("/", 1)[0]
    return head == RAW


def day_partition(day: date) -> str:
    """The Hive partition path of a day: year=YYYY/month=MM/day=DD (always four digits
    of year: ``strftime('%Y')`` does not pad years before 1000 on every platform)."""
    return f"year={day.year:04d}/month={day.month:02d}/day={day.day:02d}"


def glob_escape(location: str) -> str:
    """A path or URL as a glob pattern that matches only itself: each of ``*``, ``?``,
    ``[``, ``]`` becomes a one-character class (``[*]``; DuckDB globs have no escape
    character)."""
    return _GLOB_CHARS.sub(lambda m: f"[{m[0]}]", location)


_GLOB_CHARS = re.compile(r"[*?\[\]]")


@dataclass
class RawScan:
    """What :meth:`Lake.scan_raw` found in a dataset's raw folder."""

    files: list[Entry] = field(default_factory=list)  # delivered files, in key order
    irregular: list[Entry] = field(default_factory=list)  # links and special files


@dataclass
class RawZone:
    """What :meth:`Lake.scan_raw_zone` found: per dataset, and the files that fit none."""

    datasets: dict[str, RawScan]
    strays: list[StrayFile] = field(default_factory=list)


@dataclass(frozen=True)
class StrayFile:
    """A file under ``raw/`` that is no dataset's delivery: never read, always reported."""

    key: str
    problem: str  # what is wrong with its path
    expected: str  # the layout it should follow
    closest: str | None  # the dataset it most likely belongs to

    def line(self) -> str:
        guess = f" (closest dataset: {self.closest})" if self.closest else ""
        return f"{self.key}: {self.problem}{guess}; expected {self.expected}"


def _hidden(key: str) -> bool:
    return any(p.startswith(HIDDEN_PREFIXES) for p in key.split("/")[1:])


def is_landed(ds: Dataset, key: str) -> bool:
    """Whether ``key`` is a delivery of ``ds``: raw/<dataset>/YYYY/MM/DD[/HH]/<file>
    (digits; HH only and always for an hourly dataset) with one of the dataset's
    extensions, in any case."""
    m = _LANDING.match(key)
    return (
        m is not None
        and m["dataset"] == ds.name
        and (m["h"] is not None) == ds.hourly
        and ds.accepts(key.rsplit("/", 1)[-1])
    )


def expected_layout(ds: Dataset) -> str:
    """The landing path of a dataset's files, as docs/lake.md writes it."""
    hour = "HH/" if ds.hourly else ""
    endings = "|".join(e for e in ds.accepted_extensions if not e.endswith(".gz"))
    return f"raw/{ds.name}/YYYY/MM/DD/{hour}<name>{endings}[.gz]"


def stray_file(e: Entry) -> StrayFile:
    """Why ``e`` (under ``raw/``) is no delivery, and the dataset it was probably meant for."""
    import difflib

    parts = e.key.split("/")
    name = parts[-1]
    folder = parts[1] if len(parts) > 2 else None
    by_extension = [n for n, ds in DATASETS.items() if ds.accepts(name)]
    if folder in DATASETS:
        closest: str | None = folder
    else:
        near = difflib.get_close_matches(folder or "", list(DATASETS), n=1, cutoff=0.6)
        if not near:
            stem = name.split(".", 1)[0].lower()
            near = difflib.get_close_matches(stem, by_extension or list(DATASETS), n=1)
        closest = near[0] if near else (by_extension[0] if len(by_extension) == 1 else None)
    ds = DATASETS.get(closest or "")
    if e.irregular is not None:
        problem = f"a {e.irregular}, not a regular file (not read)"
    elif folder is None:
        problem = "directly in raw/, not in a dataset folder"
    elif folder not in DATASETS:
        problem = f"raw/{folder}/ is no dataset's folder"
    elif ds is not None and not ds.accepts(name):
        problem = f"the file name does not end in {', '.join(ds.accepted_extensions)}"
    else:
        problem = "not in a landing-date folder"
    if ds is not None:
        expected = expected_layout(ds)
    else:
        expected = "raw/<dataset>/YYYY/MM/DD/<name> with <dataset> one of " + ", ".join(DATASETS)
    return StrayFile(e.key, problem, expected, closest)


def landing_time(relative_raw_path: str) -> datetime | None:
    """The landing date (and hour) encoded in a raw path, or None if it has none."""
    m = _LANDING.match(relative_raw_path)
    if not m:
        return None
    return datetime(int(m["y"]), int(m["m"]), int(m["d"]), int(m["h"] or 0))
