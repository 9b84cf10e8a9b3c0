"""Which clickstream files the alerts look at, on any lake (a directory or S3).

All I/O goes through :class:`shoplake.lake.Lake`; this module only adds what alerts need
on top: which keys are complete clickstream deliveries, and a cheap *recent* listing.

Raw paths carry the landing hour, so a file that lands now goes under the current hour's
folder. A recent listing reads only the folders of the previous, current and next hour
(three directory reads or S3 LISTs, however old the lake); a full listing walks every
landing folder and catches files dropped into older
ones. The watcher does a full listing at start-up and every ``--sweep`` seconds.
"""

from __future__ import annotations

import contextlib
import errno
import io
import os
import stat
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

from shoplake.contract import CLICKSTREAM
from shoplake.errors import ShoplakeError
from shoplake.lake import RAW, Lake, landing_time
from shoplake.storage import HIDDEN_PREFIXES, Entry

#: Hours before and after the current one that a recent listing reads.
RECENT_HOURS = (-1, 0, 1)
STATE_ENV = "SHOPLAKE_ALERTS_STATE"

#: raw/clickstream: deliveries sit at <it>/YYYY/MM/DD/HH/<name>.
CLICKSTREAM_DIR = Lake.key(RAW, CLICKSTREAM.name)
_DELIVERY_DEPTH = CLICKSTREAM_DIR.count("/") + 5


def is_landed(key: str) -> bool:
    """A complete clickstream delivery (as :meth:`Lake.list_raw` counts them): in an hourly
    landing folder, with a clickstream extension, and no ``_``/``.`` name on the way
    (those are uploads in progress, which Spectrum and Athena skip too)."""
    parts = key.split("/")
    return (
        key.startswith(CLICKSTREAM_DIR + "/")
        and key.count("/") == _DELIVERY_DEPTH
        and landing_time(key) is not None
        and not any(p.startswith(HIDDEN_PREFIXES) for p in parts[2:])
        and CLICKSTREAM.accepts(parts[-1])
    )


def list_landed(lake: Lake, recent_at: datetime | None = None) -> list[Entry]:
    """Landed clickstream files in key order: all, or those of the hours around
    ``recent_at``."""
    if recent_at is None:
        prefixes = [CLICKSTREAM_DIR]
    else:
        hour = recent_at.astimezone(timezone.utc).replace(
            minute=0, second=0, microsecond=0, tzinfo=None
        )
        prefixes = [
            lake.landing_prefix(CLICKSTREAM.name, hour + timedelta(hours=offset))
            for offset in RECENT_HOURS
        ]
    return [e for prefix in prefixes for e in lake.list(prefix + "/") if is_landed(e.key)]


class NotARegularFile(Exception):
    """A landed name that is a symbolic link (itself or a folder on its way), a FIFO, a
    device or a socket: never opened for reading."""


#: Flags for each step of a local path: never through a link, never block on a FIFO.
_NOFOLLOW = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
_DIRECTORY = _NOFOLLOW | getattr(os, "O_DIRECTORY", 0)


def _open_local(root: Path, key: str) -> io.FileIO:
    """Open ``root/key`` for reading, one path component at a time, refusing symbolic
    links at every step (``O_NOFOLLOW``) and anything but a regular file at the end
    (checked on the open descriptor, so nothing can be swapped in between)."""
    parts = key.split("/")
    fd = os.open(root, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        for i, part in enumerate(parts):
            flags = _NOFOLLOW if i == len(parts) - 1 else _DIRECTORY
            try:
                child = os.open(part, flags, dir_fd=fd)
            except OSError as exc:
                if exc.errno in (errno.ELOOP, errno.ENOTDIR, errno.ENXIO):
                    raise NotARegularFile(f"{key}: a link or not a regular file") from None
                raise
            os.close(fd)
            fd = child
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise NotARegularFile(f"{key}: not a regular file")
        file = io.FileIO(fd, "rb", closefd=True)
    except BaseException:
        os.close(fd)
        raise
    return file


@contextlib.contextmanager
def open_landed(lake: Lake, entry: Entry) -> Iterator[tuple[Callable[[int], bytes], int]]:
    """``(read, size)`` of a landed file. Locally the file is opened without following
    links and read in chunks (:class:`NotARegularFile` for links and special files, whose
    content is never read); on S3 the object is fetched (S3 has no links)."""
    path = None
    with contextlib.suppress(ShoplakeError):  # raised for keys stored on S3
        path = lake.path(entry.key)
    if path is not None:
        root = Path(*path.parts[: len(path.parts) - len(entry.key.split("/"))])
        with _open_local(root, entry.key) as file:
            yield file.read, os.fstat(file.fileno()).st_size
    else:
        data = lake.read_bytes(entry.key)
        yield io.BytesIO(data).read, len(data)


def landed_at(entry: Entry) -> float | None:
    """When a file landed (epoch seconds): its modification time on a local lake; None
    on S3, whose listing carries an ETag rather than a time."""
    return entry.version / 1e9 if isinstance(entry.version, int) else None


def state_dir_for(lake: Lake, explicit: str | os.PathLike | None = None) -> Path:
    """The ledger's folder: ``explicit``, else SHOPLAKE_ALERTS_STATE, else
    ``_state/alerts`` of the lake's local directory (the lake itself, or for an S3 lake
    its local working directory: SQLite needs a local file)."""
    chosen = explicit or os.environ.get(STATE_ENV)
    if chosen:
        return Path(chosen).expanduser()
    return lake.local_dir / lake.state_key("alerts")
