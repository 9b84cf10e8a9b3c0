"""The run lock on S3, which has no file locks: a conditional PUT creates it, renewals keep
it, a dead or silent holder's lock is taken over; and the process identity a holder is
recognised by."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import threading
import time
import uuid
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shoplake.errors import LakeBusyError
from shoplake.storage import Lease, precondition_failed, s3_errors

if TYPE_CHECKING:
    from shoplake.storage import S3Storage

#: Seconds after which an S3 lock that nobody renewed is considered abandoned.
LOCK_TTL_ENV = "SHOPLAKE_S3_LOCK_TTL"
DEFAULT_LOCK_TTL = 60.0


def _process_identity() -> dict[str, Any]:
    """Who holds a lock: enough to tell, on the same machine, whether it is still alive.

    ``boot`` (kernel boot id) and ``pidns`` (pid namespace) make the pid meaningful only
    to a process that sees the same pid numbers; ``start`` (process start time in clock
    ticks) tells a reused pid from the holder.
    """
    ident: dict[str, Any] = {"host": socket.gethostname(), "pid": os.getpid()}
    with contextlib.suppress(OSError):
        ident["boot"] = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
        ident["pidns"] = os.stat("/proc/self/ns/pid").st_ino
        ident["start"] = _start_ticks(os.getpid())
    return ident


def _start_ticks(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat.rsplit(")", 1)[1].split()[19])  # field 22: starttime


def _holder_is_dead(holder: dict[str, Any]) -> bool:
    """True only when certain: the holder ran on this kernel, in this pid namespace, and
    its process is gone (or the pid now belongs to a younger process)."""
    me = _process_identity()
    if "boot" not in me or holder.get("boot") != me["boot"] or holder.get("pidns") != me["pidns"]:
        return False
    pid = holder.get("pid")
    if not isinstance(pid, int):
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return holder.get("start") is not None and _start_ticks(pid) != holder.get("start")


class S3Lock(Lease, contextlib.AbstractContextManager):
    """A run lock on S3, which has no file locks.

    Taking it: create the lock object with ``If-None-Match: *`` (S3 refuses with 412 if
    it exists: exactly one creator wins). The object names the holder (host, pid, and what
    makes the pid unambiguous) and is renewed every ``ttl / 4`` seconds with ``If-Match``
    on its ETag. Releasing it: a delete with ``If-Match``.

    A holder that died: if it ran on this machine (same boot id and pid namespace) and its
    process is gone, the lock is taken over at once; otherwise once nobody renewed it for
    the TTL its holder wrote into it (:data:`LOCK_TTL_ENV`, default 60 s), measured by
    S3's own clock (``Last-Modified`` against the response's ``Date``), so clock skew
    between machines does not matter.
    Taking over is a PUT with ``If-Match`` on the stale ETag: of several waiters only one
    succeeds. A holder that could not renew in time (paused, partitioned) learns it has
    lost the lock at its next renewal or :meth:`Lease.check`, and stops before publishing.
    """

    def __init__(self, storage: S3Storage, key: str, what: str, wait: bool) -> None:
        self.storage, self.key, self.what, self.wait = storage, key, what, wait
        self.ttl = float(os.environ.get(LOCK_TTL_ENV) or DEFAULT_LOCK_TTL)
        self.owner = uuid.uuid4().hex
        self.etag = ""
        self.beats = 0
        self.lost: str | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._s3_key = storage._object_key(key)
        self._written = 0.0  # time.monotonic() of the last successful write

    # the lock object -------------------------------------------------------------------
    def _body(self) -> bytes:
        doc = {
            "owner": self.owner,
            "what": self.what,
            "beats": self.beats,
            "ttl": self.ttl,
            "since": datetime.now(timezone.utc).isoformat(),
            **_process_identity(),
        }
        return json.dumps(doc, sort_keys=True).encode()

    def _put(self, **condition: str) -> str:
        out = self.storage.fs.call_s3(
            "put_object",
            Bucket=self.storage.bucket,
            Key=self._s3_key,
            Body=self._body(),
            **condition,
        )
        self._written = time.monotonic()
        return out["ETag"]

    def _current(self) -> tuple[str, dict[str, Any], float] | None:
        """(ETag, holder document, seconds since it was last written, by S3's clock)."""
        from fsspec.asyn import sync

        fs = self.storage.fs

        async def get() -> tuple[dict[str, Any], bytes]:
            out = await fs._call_s3("get_object", Bucket=self.storage.bucket, Key=self._s3_key)
            async with out["Body"] as body:
                return out, await body.read()

        try:
            out, raw = sync(fs.loop, get)
        except FileNotFoundError:
            return None
        try:
            holder = json.loads(raw)
        except ValueError:
            holder = {}
        date = out["ResponseMetadata"]["HTTPHeaders"].get("date")
        server_now = parsedate_to_datetime(date) if date else datetime.now(timezone.utc)
        age = (server_now - out["LastModified"]).total_seconds()
        return out["ETag"], holder if isinstance(holder, dict) else {}, age

    # acquire / renew / release ---------------------------------------------------------
    def __enter__(self) -> Lease:
        with s3_errors(self.storage, self.key):
            self._acquire()
        self._thread = threading.Thread(target=self._renew, name="shoplake-s3-lock", daemon=True)
        self._thread.start()
        return self

    def _acquire(self) -> None:
        while True:
            try:
                self.etag = self._put(IfNoneMatch="*")
                return
            except OSError as exc:
                if not precondition_failed(exc):
                    raise
            current = self._current()
            if current is None:
                continue  # released meanwhile: try again at once
            etag, holder, age = current
            if holder.get("owner") == self.owner:  # our create succeeded; a retry saw it
                self.etag = etag
                return
            if age > float(holder.get("ttl") or self.ttl) or _holder_is_dead(holder):
                try:
                    self.etag = self._put(IfMatch=etag)
                    return
                except OSError as exc:
                    if not precondition_failed(exc):
                        raise
                    continue  # another waiter took it over first
            if not self.wait:
                raise LakeBusyError(
                    f"another shoplake {self.what} is running on {self.storage.url_root} "
                    f"(pid {holder.get('pid', '?')} on {holder.get('host', '?')} holds "
                    f"{self.key}, renewed {age:.0f} s ago)",
                    "wait for it to finish, or rerun with --wait",
                    location=self.storage.url_root,
                )
            time.sleep(0.5)

    def _renew(self) -> None:
        while not self._stop.wait(self.ttl / 4):
            self.beats += 1
            try:
                self.etag = self._put(IfMatch=self.etag)
            except OSError as exc:
                if precondition_failed(exc):
                    self.lost = "another run took the lock over"
                    return
                # a transient error: try again at the next beat, while the TTL allows
            except Exception:  # a transient failure must not end the renewals
                continue

    def check(self) -> None:
        if not self.lost and time.monotonic() - self._written > self.ttl / 2:
            self.lost = f"it could not be renewed for {time.monotonic() - self._written:.0f} s"
        if self.lost:
            raise LakeBusyError(
                f"lost the {self.what} lock on {self.storage.url_root}: {self.lost}",
                "nothing was published by this run; rerun it",
                location=self.storage.url_root,
            )

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        if self.lost:
            return
        with contextlib.suppress(OSError):
            self.storage.fs.call_s3(
                "delete_object", Bucket=self.storage.bucket, Key=self._s3_key, IfMatch=self.etag
            )
