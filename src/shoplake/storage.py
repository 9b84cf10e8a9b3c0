"""Where the lake's bytes live: a local directory or an S3 prefix, behind one small API.

:class:`shoplake.lake.Lake` builds every lake-relative *key* (``silver/orders/...``) and
hands the I/O to a :class:`Storage`. Two backends:

* :class:`LocalStorage`: a directory, through ``os``/``pathlib`` directly (atomic
  ``os.replace``, fsync, ``flock``), with no cost over plain files;
* :class:`S3Storage`: ``s3://bucket/prefix`` through s3fs (credentials and endpoint from
  the standard AWS chain, including ``AWS_ENDPOINT_URL``).

What both guarantee, and why the S3 version holds:

* a write is atomic for readers (old content or all of the new): locally a temporary
  ``_``-prefixed file renamed into place; on S3 a single PUT (or a multipart upload, which
  becomes visible only when completed), and S3 reads are strongly consistent;
* listings skip nothing and cache nothing (s3fs's listing cache is off: another process
  may have written since);
* the run lock: locally an OS file lock (released when the process dies); on S3 an object
  created with a conditional PUT (``If-None-Match: *``) and renewed with ``If-Match``, see
  :class:`shoplake.s3lock.S3Lock`.
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import errno
import fcntl
import os
import shutil
import stat
import tempfile
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shoplake.errors import LakeBusyError, StorageError
from shoplake.files import ensure_dir, fsync_dir, fsync_file, write_atomic

#: Names that lake readers (and Spectrum, Athena) skip: in-progress or internal files.
HIDDEN_PREFIXES = ("_", ".")


@dataclass(frozen=True)
class Entry:
    """A file of the lake as listed: its key, size and a version that changes with content.

    ``version`` is the modification time in nanoseconds for a local file and the ETag
    for an S3 object; ``signature`` is what ingest's file manifest compares.

    ``irregular`` names what a local entry is when it is not a regular file (``symlink``,
    ``fifo``, ``socket``, ``device``, ``other``): listed only on request (see
    :meth:`Storage.list`), never read; its size and version are the link's own (lstat).
    """

    key: str
    size: int
    version: int | str
    irregular: str | None = None

    @property
    def name(self) -> str:
        return self.key.rsplit("/", 1)[-1]

    @property
    def signature(self) -> list[int | str]:
        base: list[int | str] = [self.size, self.version]
        return base if self.irregular is None else [*base, self.irregular]


class NotRegularFile(OSError):
    """A key that is a link or a special file where a regular file was to be read."""

    def __init__(self, key: str, kind: str) -> None:
        super().__init__(errno.ELOOP if kind == "symlink" else errno.EINVAL, kind, key)
        self.key, self.kind = key, kind


def file_kind(mode: int) -> str | None:
    """None for a regular file, else what it is (from an lstat ``st_mode``)."""
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISLNK(mode):
        return "symlink"
    if stat.S_ISFIFO(mode):
        return "fifo"
    if stat.S_ISSOCK(mode):
        return "socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "device"
    if stat.S_ISDIR(mode):
        return "directory"
    return "other"


class Lease:
    """A held run lock. ``check()`` raises if the lock was lost (S3: taken over after the
    holder stopped renewing it), so that a run never publishes without holding it."""

    def check(self) -> None:  # a local OS lock cannot be lost while the process lives
        return None


class Storage(ABC):
    """The I/O of a lake on lake-relative keys (``/``-separated, no leading slash)."""

    #: The lake root as given to DuckDB, pyarrow and dbt (a directory or ``s3://b/p``).
    url_root: str

    def url(self, key: str = "") -> str:
        """The location of ``key`` for DuckDB, pyarrow and dbt (may contain globs)."""
        return f"{self.url_root}/{key}" if key else self.url_root

    @property
    def is_local(self) -> bool:
        return False

    # reading ---------------------------------------------------------------------------
    @abstractmethod
    def read_bytes(self, key: str) -> bytes:
        """The content of ``key``; FileNotFoundError if there is none."""

    def read_many(self, keys: Iterable[str]) -> Iterator[tuple[str, bytes]]:
        """``(key, content)`` in the order given (S3 fetches several at a time)."""
        for key in keys:
            yield key, self.read_bytes(key)

    @abstractmethod
    def info(self, key: str) -> Entry | None:
        """The file at ``key``, or None."""

    def exists(self, key: str) -> bool:
        return self.info(key) is not None

    @abstractmethod
    def list(self, prefix: str, *, irregular: bool = False) -> list[Entry]:
        """Every file under ``prefix`` (a key prefix ending at a ``/``), sorted by key.

        Only regular files; links are never followed (a linked directory is not entered).
        With ``irregular``, links and special files are listed too, as entries with
        :attr:`Entry.irregular` set (an object store has none)."""

    @abstractmethod
    def any(self, prefix: str) -> bool:
        """Whether at least one file lies under ``prefix``."""

    # writing ---------------------------------------------------------------------------
    @abstractmethod
    def write_atomic(self, key: str, data: bytes, *, durable: bool = True) -> None:
        """Replace ``key`` with ``data``: readers see the old or the new content, never a
        part. ``durable=False`` skips fsync locally (regenerable data)."""

    @abstractmethod
    def scratch_file(self, key: str) -> Path:
        """A fresh local path to write a file that :meth:`publish_files` puts at ``key``."""

    @abstractmethod
    def publish_files(self, items: builtins.list[tuple[Path, str]]) -> None:
        """Put each finished local file (from :meth:`scratch_file`) at its key, each one
        atomically for readers; the local files are consumed."""

    def publish_file(self, path: Path, key: str) -> None:
        self.publish_files([(path, key)])

    @abstractmethod
    def promote(self, pairs: builtins.list[tuple[str, str]]) -> None:
        """For each ``(source, target)`` whose source still exists, make ``target`` hold
        the source's content in one atomic step. Idempotent: repeating it after a crash
        is safe. Locally a rename (the source is gone); on S3 a server-side copy (the
        source stays until deleted)."""

    @abstractmethod
    def delete(self, key: str) -> None:
        """Remove ``key`` if it exists."""

    @abstractmethod
    def delete_prefix(self, prefix: str) -> None:
        """Remove every file under ``prefix``."""

    # coordination and engines ----------------------------------------------------------
    @abstractmethod
    def lock(self, key: str, what: str, wait: bool) -> contextlib.AbstractContextManager[Lease]:
        """Hold the lock object ``key`` for one run of ``what``; with ``wait``, wait for
        the holder; otherwise raise :class:`LakeBusyError` at once."""

    def attach(self, con: Any) -> None:
        """Let a DuckDB connection read (and write single files at) this storage's URLs."""
        return None


# ---------------------------------------------------------------------------------------
# a local directory
# ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class LocalStorage(Storage):
    root: Path

    @property
    def url_root(self) -> str:  # type: ignore[override]
        return str(self.root)

    @property
    def is_local(self) -> bool:
        return True

    def path(self, key: str) -> Path:
        return self.root / key if key else self.root

    def read_bytes(self, key: str) -> bytes:
        """The content of the regular file at ``key``, opened without following a link
        anywhere below the root (``O_NOFOLLOW`` on each component): a link or a special
        file raises :class:`NotRegularFile` and is not opened (a FIFO cannot block)."""
        fd = self._open_regular(key)
        with open(fd, "rb", closefd=True) as fh:
            return fh.read()

    def _open_regular(self, key: str) -> int:
        parts = [p for p in key.split("/") if p]
        if not parts:
            raise IsADirectoryError(errno.EISDIR, "is the lake root", str(self.root))
        directory = os.open(self.root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            for i, part in enumerate(parts[:-1]):
                flags = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
                try:
                    child = os.open(part, flags, dir_fd=directory)
                except FileNotFoundError:
                    raise
                except OSError:  # ELOOP (a link) or ENOTDIR (a special file)
                    st = os.stat(part, dir_fd=directory, follow_symlinks=False)
                    raise NotRegularFile(
                        "/".join(parts[: i + 1]), file_kind(st.st_mode) or "file"
                    ) from None
                os.close(directory)
                directory = child
            st = os.stat(parts[-1], dir_fd=directory, follow_symlinks=False)
            kind = file_kind(st.st_mode)
            if kind is not None:  # never opened: a FIFO would block, a device act
                raise NotRegularFile(key, kind)
            try:
                fd = os.open(
                    parts[-1],
                    os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC,
                    dir_fd=directory,
                )
            except OSError as exc:
                if exc.errno == errno.ELOOP:  # became a link since the stat
                    raise NotRegularFile(key, "symlink") from None
                raise
        finally:
            os.close(directory)
        kind = file_kind(os.fstat(fd).st_mode)
        if kind is not None:  # became a special file since the stat
            os.close(fd)
            raise NotRegularFile(key, kind)
        return fd

    def info(self, key: str) -> Entry | None:
        try:
            st = self.path(key).stat()
        except (FileNotFoundError, NotADirectoryError):
            return None
        return Entry(key, st.st_size, st.st_mtime_ns) if stat.S_ISREG(st.st_mode) else None

    def list(self, prefix: str, *, irregular: bool = False) -> list[Entry]:
        """Walks without following links: ``lstat`` decides what each name is."""
        top = prefix.rstrip("/")
        out: list[Entry] = []
        link = self._linked_component(top)
        if link is not None:  # a component of the prefix itself is a link: not entered
            if irregular:
                out.append(link)
            return out
        stack = [(self.path(top), top)]
        while stack:
            directory, key = stack.pop()
            try:
                with os.scandir(directory) as it:
                    for item in it:
                        child = f"{key}/{item.name}" if key else item.name
                        if item.is_dir(follow_symlinks=False):
                            stack.append((Path(item.path), child))
                        elif item.is_file(follow_symlinks=False):
                            st = item.stat(follow_symlinks=False)
                            out.append(Entry(child, st.st_size, st.st_mtime_ns))
                        elif irregular:
                            st = item.stat(follow_symlinks=False)
                            kind = file_kind(st.st_mode) or "other"
                            out.append(Entry(child, st.st_size, st.st_mtime_ns, kind))
            except (FileNotFoundError, NotADirectoryError):
                continue
        return sorted(out, key=lambda e: e.key)

    def _linked_component(self, key: str) -> Entry | None:
        """The first component of ``key`` below the root that is not a directory (a link
        or a special file), as an irregular entry; None if every one is a directory or
        missing."""
        path = self.root
        parts = [p for p in key.split("/") if p]
        for i, part in enumerate(parts):
            path = path / part
            try:
                st = path.lstat()
            except (FileNotFoundError, NotADirectoryError):
                return None
            if not stat.S_ISDIR(st.st_mode):
                kind = file_kind(st.st_mode)
                if kind is None:
                    return None  # a regular file where a folder was expected: lists nothing
                return Entry("/".join(parts[: i + 1]), st.st_size, st.st_mtime_ns, kind)
        return None

    def any(self, prefix: str) -> bool:
        if self._linked_component(prefix.rstrip("/")) is not None:
            return False
        stack = [self.path(prefix.rstrip("/"))]
        while stack:
            try:
                with os.scandir(stack.pop()) as it:
                    for item in it:
                        if item.is_file(follow_symlinks=False):
                            return True
                        if item.is_dir(follow_symlinks=False):
                            stack.append(Path(item.path))
            except (FileNotFoundError, NotADirectoryError):
                continue
        return False

    def write_atomic(self, key: str, data: bytes, *, durable: bool = True) -> None:
        write_atomic(self.path(key), data, durable=durable)

    def scratch_file(self, key: str) -> Path:
        """``_<name>.<pid>.tmp`` beside the target: same file system, so publishing is a
        rename; the ``_`` keeps readers away from it if a crash leaves it behind."""
        target = self.path(key)
        ensure_dir(target.parent)
        return target.with_name(f"_{target.name}.{os.getpid()}.tmp")

    def publish_files(self, items: builtins.list[tuple[Path, str]]) -> None:
        directories = set()
        for path, key in items:
            target = self.path(key)
            fsync_file(path)
            ensure_dir(target.parent)
            os.replace(path, target)
            directories.add(target.parent)
        for directory in directories:
            fsync_dir(directory)

    def promote(self, pairs: builtins.list[tuple[str, str]]) -> None:
        directories = set()
        for source, target in pairs:
            staged, final = self.path(source), self.path(target)
            if staged.exists():
                ensure_dir(final.parent)
                os.replace(staged, final)
                directories.add(final.parent)
        for directory in directories:
            fsync_dir(directory)

    def delete(self, key: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.path(key).unlink()

    def delete_prefix(self, prefix: str) -> None:
        shutil.rmtree(self.path(prefix.rstrip("/")), ignore_errors=True)

    @contextlib.contextmanager
    def lock(self, key: str, what: str, wait: bool) -> Iterator[Lease]:
        """An OS lock (flock) on the file ``key``: released when the process dies."""
        path = self.path(key)
        ensure_dir(path.parent)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if not wait:
                        holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "?"
                        raise LakeBusyError(
                            f"another shoplake {what} is running on {self.root} "
                            f"(pid {holder} holds {key})",
                            "wait for it to finish, or rerun with --wait",
                            location=str(self.root),
                        ) from None
                    time.sleep(0.2)
            os.ftruncate(fd, 0)
            os.pwrite(fd, str(os.getpid()).encode(), 0)
            yield Lease()
        finally:
            os.close(fd)  # closing releases the lock


# ---------------------------------------------------------------------------------------
# an S3 prefix
# ---------------------------------------------------------------------------------------
def parse_s3_url(url: str) -> tuple[str, str]:
    """``s3://bucket/some/prefix/`` -> ``("bucket", "some/prefix")``."""
    rest = url[len("s3://") :]
    bucket, _, prefix = rest.partition("/")
    prefix = "/".join(p for p in prefix.split("/") if p)
    if not bucket or any(p in (".", "..") for p in prefix.split("/")):
        raise StorageError(
            f"lake {url!r}: not a valid S3 location",
            "use s3://bucket or s3://bucket/prefix",
            location=url,
        )
    return bucket, prefix


class S3Storage(Storage):
    """A lake under ``s3://bucket/prefix`` (s3fs; one client per storage object)."""

    #: Requests in flight at once for reads, uploads and copies of many files.
    CONCURRENCY = 32

    def __init__(self, url: str) -> None:
        self.bucket, self.prefix = parse_s3_url(url)
        self.url_root = f"s3://{self.bucket}" + (f"/{self.prefix}" if self.prefix else "")
        self._fs: Any = None
        self._fs_lock = threading.Lock()

    def __eq__(self, other: object) -> bool:
        return isinstance(other, S3Storage) and other.url_root == self.url_root

    def __hash__(self) -> int:
        return hash(self.url_root)

    def __repr__(self) -> str:
        return f"S3Storage({self.url_root!r})"

    def __getstate__(self) -> dict[str, Any]:
        """Pickled (to a Spark executor) without its client and lock: the copy opens
        its own s3fs client, with the credentials and endpoint of where it runs."""
        return {"bucket": self.bucket, "prefix": self.prefix, "url_root": self.url_root}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._fs = None
        self._fs_lock = threading.Lock()

    @property
    def fs(self) -> Any:
        """The s3fs file system, created on first use (no network before that)."""
        with self._fs_lock:
            if self._fs is None:
                import s3fs

                self._fs = s3fs.S3FileSystem(use_listings_cache=False, skip_instance_cache=True)
            return self._fs

    def _path(self, key: str) -> str:
        """bucket/prefix/key, the form s3fs takes."""
        return "/".join(p for p in (self.bucket, self.prefix, key.strip("/")) if p)

    def _object_key(self, key: str) -> str:
        """The S3 object key of a lake key (prefix included, bucket not)."""
        return "/".join(p for p in (self.prefix, key.strip("/")) if p)

    def _key(self, path: str) -> str:
        base = self._path("") + "/"
        return path[len(base) :] if path.startswith(base) else path

    # reading ---------------------------------------------------------------------------
    def read_bytes(self, key: str) -> bytes:
        with s3_errors(self, key):
            return self.fs.cat_file(self._path(key))

    def read_many(self, keys: Iterable[str]) -> Iterator[tuple[str, bytes]]:
        """Fetched :data:`CONCURRENCY` at a time (memory stays bounded by one batch)."""
        batch: builtins.list[str] = []
        for key in keys:
            batch.append(key)
            if len(batch) == self.CONCURRENCY:
                yield from zip(batch, self._each(self.fs._cat_file, batch), strict=True)
                batch = []
        if batch:
            yield from zip(batch, self._each(self.fs._cat_file, batch), strict=True)

    def _each(self, call: Callable[..., Awaitable[Any]], *columns: list[Any]) -> list[Any]:
        """``call(a, b, ...)`` for each row of the columns, where the last column holds
        lake keys (passed as s3fs paths), at most :data:`CONCURRENCY` at a time on
        s3fs's event loop; results in order."""
        from fsspec.asyn import sync

        *others, keys = columns
        rows = list(zip(*others, [self._path(k) for k in keys], strict=True))

        async def run() -> list[Any]:
            gate = asyncio.Semaphore(self.CONCURRENCY)

            async def one(row: tuple[str, ...]) -> Any:
                async with gate:
                    return await call(*row)

            return await asyncio.gather(*(one(row) for row in rows))

        with s3_errors(self, keys[0] if keys else ""):
            return sync(self.fs.loop, run) if rows else []

    def info(self, key: str) -> Entry | None:
        with s3_errors(self, key):
            try:
                out = self.fs.call_s3("head_object", Bucket=self.bucket, Key=self._object_key(key))
            except FileNotFoundError:
                return None
        return Entry(key, int(out["ContentLength"]), out["ETag"])

    def list(self, prefix: str, *, irregular: bool = False) -> list[Entry]:
        with s3_errors(self, prefix):
            found = self.fs.find(self._path(prefix.rstrip("/")), detail=True)
        return sorted(
            (
                Entry(self._key(path), int(d.get("size") or 0), d.get("ETag", ""))
                for path, d in found.items()
                if d.get("type") != "directory"
            ),
            key=lambda e: e.key,
        )

    def any(self, prefix: str) -> bool:
        with s3_errors(self, prefix):
            out = self.fs.call_s3(
                "list_objects_v2",
                Bucket=self.bucket,
                Prefix=(self._object_key(prefix.rstrip("/")) + "/").lstrip("/"),
                MaxKeys=1,
            )
        return bool(out.get("KeyCount") or out.get("Contents"))

    # writing ---------------------------------------------------------------------------
    def write_atomic(self, key: str, data: bytes, *, durable: bool = True) -> None:
        """One PUT: S3 makes an object visible only once it is complete."""
        with s3_errors(self, key):
            self.fs.pipe_file(self._path(key), data)

    def scratch_file(self, key: str) -> Path:
        fd, name = tempfile.mkstemp(prefix="shoplake-", suffix="-" + key.rsplit("/", 1)[-1])
        os.close(fd)
        return Path(name)

    def publish_files(self, items: builtins.list[tuple[Path, str]]) -> None:
        """Upload concurrently; each object appears complete or not at all."""
        self._each(self.fs._put_file, [str(p) for p, _ in items], [k for _, k in items])
        for path, _ in items:
            path.unlink(missing_ok=True)

    def promote(self, pairs: builtins.list[tuple[str, str]]) -> None:
        """Server-side copies (each one atomic), of the sources that still exist."""
        if not pairs:
            return
        common = os.path.commonpath([s for s, _ in pairs]) if len(pairs) > 1 else pairs[0][0]
        present = {e.key for e in self.list(common)} if len(pairs) > 1 else None
        todo = [
            (s, t) for s, t in pairs if (s in present if present is not None else self.exists(s))
        ]
        self._each(self.fs._cp_file, [self._path(s) for s, _ in todo], [t for _, t in todo])

    def delete(self, key: str) -> None:
        with s3_errors(self, key), contextlib.suppress(FileNotFoundError):
            self.fs.rm_file(self._path(key))

    def delete_prefix(self, prefix: str) -> None:
        keys = [e.key for e in self.list(prefix)]
        if keys:
            with s3_errors(self, prefix):
                self.fs.rm([self._path(k) for k in keys])

    def lock(self, key: str, what: str, wait: bool) -> contextlib.AbstractContextManager[Lease]:
        from shoplake.s3lock import S3Lock  # s3lock builds on this module

        return S3Lock(self, key, what, wait)

    def attach(self, con: Any) -> None:
        con.register_filesystem(self.fs)


@contextlib.contextmanager
def s3_errors(storage: S3Storage, key: str) -> Iterator[None]:
    """Credentials, endpoint and bucket problems as one clear ShoplakeError."""
    from botocore.exceptions import BotoCoreError, NoCredentialsError

    where = storage.url(key)
    try:
        yield
    except NoCredentialsError:
        raise StorageError(
            f"{where}: no AWS credentials found",
            "set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY (standard AWS chain)",
            location=where,
        ) from None
    except PermissionError as exc:
        raise StorageError(
            f"{where}: access denied ({exc})",
            "check the credentials' S3 permissions",
            location=where,
        ) from None
    except BotoCoreError as exc:
        raise StorageError(
            f"{where}: cannot reach S3 ({exc})",
            "check AWS_ENDPOINT_URL / the network, and the region",
            location=where,
        ) from None
    except FileNotFoundError as exc:
        if error_code(exc) == "NoSuchBucket":
            raise StorageError(
                f"{where}: bucket {storage.bucket!r} does not exist",
                "create it (shoplake deploy aws) or fix --lake (or SHOPLAKE_RAW)",
                location=where,
            ) from None
        raise


def error_code(exc: BaseException) -> str:
    """The S3 error code behind an exception s3fs translated (or raised itself)."""
    for err in (exc, exc.__cause__):
        response = getattr(err, "response", None)
        if isinstance(response, dict):
            return str(response.get("Error", {}).get("Code", ""))
    return ""


def precondition_failed(exc: BaseException) -> bool:
    return isinstance(exc, FileExistsError) or error_code(exc) in (
        "PreconditionFailed",  # 412: the condition did not hold
        "ConditionalRequestConflict",  # 409: a concurrent conditional write won
    )


__all__ = [
    "HIDDEN_PREFIXES",
    "Entry",
    "Lease",
    "LocalStorage",
    "NotRegularFile",
    "S3Storage",
    "Storage",
    "error_code",
    "parse_s3_url",
    "precondition_failed",
    "s3_errors",
]
