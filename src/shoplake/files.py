"""Writing local files safely: readers see the old content or all of the new, never a part.

These are the local-directory primitives under :class:`shoplake.storage.LocalStorage`;
code that must also work on an S3 lake writes through :class:`shoplake.lake.Lake`.
"""

from __future__ import annotations

import contextlib
import io
import os
import zipfile
from collections.abc import Iterable
from pathlib import Path

_EPOCH = (1980, 1, 1, 0, 0, 0)  # the earliest time a zip entry can carry


def write_atomic(path: Path, data: bytes | str, *, durable: bool = True) -> None:
    """Write ``path`` via a hidden temporary file and a rename.

    The temporary name starts with ``_`` so that lake readers (and Spectrum/Athena) skip
    it if a crash leaves it behind. ``durable`` (default) fsyncs the file before the
    rename and the directory after it, so the new content survives a power loss; data
    that can be regenerated skips that cost.
    """
    ensure_dir(path.parent)
    tmp = path.with_name(f"_{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as fh:
        fh.write(data.encode("utf-8") if isinstance(data, str) else data)
        if durable:
            fh.flush()
            os.fsync(fh.fileno())
    os.replace(tmp, path)
    if durable:
        fsync_dir(path.parent)


def ensure_dir(path: Path) -> None:
    """Create a directory (and its parents) if missing. A stat first: creating one that
    exists costs far more on some file systems (overlay), and most already exist."""
    if not os.path.isdir(path):
        path.mkdir(parents=True, exist_ok=True)


def fsync_file(path: Path) -> None:
    """Make a file's content durable before it is renamed into place."""
    with open(path, "rb") as fh:
        os.fsync(fh.fileno())


def fsync_dir(path: Path) -> None:
    """Make a rename in ``path`` durable (best effort where the OS does not allow it)."""
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def reproducible_zip(entries: Iterable[tuple[str, bytes]]) -> bytes:
    """A zip of ``entries`` that is the same bytes for the same entries (fixed
    timestamps and modes, name order)."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in sorted(entries):
            info = zipfile.ZipInfo(name, date_time=_EPOCH)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, data)
    return out.getvalue()
