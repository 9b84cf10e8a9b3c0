"""Crash-safe publishing: stage everything, write a commit marker, then move into place.

A run writes each output file (silver partitions, its quarantine file, the file
manifest, its run log) under ``_state/txn/<run_id>/`` at the path it will have in the
lake, then atomically writes ``COMMIT`` listing the moves and deletions, then performs
them with ``os.replace`` (atomic on POSIX) and removes the transaction directory.

- Killed before ``COMMIT`` exists: nothing was published; :func:`recover` deletes the
  leftovers. The lake is as it was.
- Killed after: :func:`recover` finishes the moves (roll forward). The lake is as the run
  meant it to be.

Each published file replaces its predecessor in one rename, so readers see the old or
the new partition, never half of one, and never both.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import signal
import time
from collections.abc import Iterator
from pathlib import Path

from shoplake.errors import LakeBusyError
from shoplake.files import fsync_dir, write_atomic
from shoplake.lake import Lake

COMMIT = "COMMIT"
CRASH_ENV = "SHOPLAKE_CRASH_AT"


def crash_point(name: str) -> None:
    """Failpoint for the crash tests: SIGKILL this process at ``name`` when asked to.

    Set ``SHOPLAKE_CRASH_AT=<name>``; the process dies exactly as with ``kill -9``.
    """
    if os.environ.get(CRASH_ENV) == name:
        os.kill(os.getpid(), signal.SIGKILL)


class Transaction:
    """Output of one run, staged under ``_state/txn/<run_id>/`` until committed."""

    def __init__(self, lake: Lake, run_id: str) -> None:
        self.lake = lake
        self.dir = lake.state_dir("txn", run_id)
        self.moves: list[str] = []  # lake-relative paths staged for publishing, in order
        self.deletes: list[str] = []  # lake-relative paths to remove

    def stage_path(self, relative: str) -> Path:
        """Where to write the staged copy of the lake file at ``relative``."""
        path = self.dir / "files" / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        if relative not in self.moves:
            self.moves.append(relative)
        return path

    def stage_bytes(self, relative: str, data: bytes) -> None:
        path = self.stage_path(relative)
        path.write_bytes(data)

    def delete(self, relative: str) -> None:
        self.deletes.append(relative)

    def commit(self) -> None:
        crash_point("before_commit")
        for relative in self.moves:  # staged data must be on disk before the marker
            _fsync_file(self.dir / "files" / relative)
        marker = {"moves": self.moves, "deletes": self.deletes}
        write_atomic(self.dir / COMMIT, json.dumps(marker, indent=1).encode())
        crash_point("after_commit")
        _apply(self.lake, self.dir, marker)

    def abort(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)


def _fsync_file(path: Path) -> None:
    with open(path, "rb") as fh:
        os.fsync(fh.fileno())


def _apply(lake: Lake, txn_dir: Path, marker: dict) -> None:
    """Publish a committed transaction. Idempotent: safe to repeat after a crash."""
    for i, relative in enumerate(marker["moves"]):
        staged = txn_dir / "files" / relative
        if staged.exists():
            target = lake.absolute(relative)
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(staged, target)
        if i == 0:
            crash_point("mid_publish")
    for relative in marker["deletes"]:
        with contextlib.suppress(FileNotFoundError):
            lake.absolute(relative).unlink()
    for directory in {lake.absolute(r).parent for r in marker["moves"]}:
        fsync_dir(directory)
    crash_point("before_cleanup")
    shutil.rmtree(txn_dir, ignore_errors=True)


def recover(lake: Lake) -> list[str]:
    """Finish committed transactions and drop uncommitted ones. Returns what was done."""
    done = []
    base = lake.state_dir("txn")
    if not base.is_dir():
        return done
    for txn_dir in sorted(p for p in base.iterdir() if p.is_dir()):
        marker_path = txn_dir / COMMIT
        if marker_path.is_file():
            _apply(lake, txn_dir, json.loads(marker_path.read_text()))
            done.append(f"finished interrupted run {txn_dir.name}")
        else:
            shutil.rmtree(txn_dir, ignore_errors=True)
            done.append(f"discarded unfinished run {txn_dir.name}")
    return done


@contextlib.contextmanager
def lake_lock(lake: Lake, name: str, wait: bool) -> Iterator[None]:
    """Hold ``_state/<name>.lock`` (an OS lock: released when the process dies)."""
    path = lake.state_dir(f"{name}.lock")
    path.parent.mkdir(parents=True, exist_ok=True)
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
                        f"another shoplake {name} is running on {lake.root} "
                        f"(pid {holder} holds {lake.relative(path)})",
                        "wait for it to finish, or rerun with --wait",
                    ) from None
                time.sleep(0.2)
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        yield
    finally:
        os.close(fd)  # closing releases the lock
