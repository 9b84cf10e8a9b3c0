"""Crash-safe publishing: stage everything, write a commit marker, then put it in place.

A run writes each output file (silver partitions, its quarantine file, the file
manifest, its run log) to a local scratch file, and at commit stages them in the lake as
``_state/txn/<run_id>/files/<n>-<name>`` (one flat folder: a local lake makes it durable
with a single directory fsync). Then it writes ``_state/txn/<run_id>/COMMIT`` (one atomic
write) listing which staged file goes to which key and the keys to delete, then
publishes each staged file at its key, deletes, and removes the transaction.

* Local lake: publishing is ``os.replace`` (atomic on POSIX), after fsync of the staged
  files and before fsync of the directories.
* S3 lake (no rename): publishing is a server-side copy of the staged object to its key,
  a single-object operation that S3 makes visible atomically (strongly consistent
  reads); the staged objects are deleted only after every copy, the marker last.

Recovery (:func:`recover`, at the start of the next run, under the lock):

- killed before ``COMMIT`` exists: nothing was published; the staged leftovers are
  deleted. The lake is as it was.
- killed after: the publishing is repeated from the marker (roll forward; a copy or
  rename of a file already published is harmless). The lake is as the run meant it.

Each published file replaces its predecessor in one step, so readers see the old or the
new partition, never half of one, and never both.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
from collections.abc import Iterator
from pathlib import Path

from shoplake.errors import LakeBusyError
from shoplake.lake import Lake
from shoplake.storage import Lease

COMMIT = "COMMIT"
CRASH_ENV = "SHOPLAKE_CRASH_AT"


def crash_point(name: str) -> None:
    """Failpoint for the crash tests: SIGKILL this process at ``name`` when asked to.

    Set ``SHOPLAKE_CRASH_AT=<name>``; the process dies exactly as with ``kill -9``.
    """
    if os.environ.get(CRASH_ENV) == name:
        os.kill(os.getpid(), signal.SIGKILL)


def _txn_prefix(lake: Lake, run_id: str) -> str:
    return lake.state_key("txn", run_id)


class Transaction:
    """Output of one run, written to scratch files and staged until committed."""

    def __init__(self, lake: Lake, run_id: str, lease: Lease | None = None) -> None:
        self.lake = lake
        self.prefix = _txn_prefix(lake, run_id)
        self.lease = lease or Lease()
        self.moves: list[tuple[str, str]] = []  # (staged key, lake key), in order
        self.deletes: list[str] = []  # lake-relative keys to remove
        self._scratch: dict[str, Path] = {}  # lake key -> local file being written
        self.committed = False  # the marker is written: only roll forward from here

    def stage_path(self, relative: str) -> Path:
        """A local file to write the new content of the lake file at ``relative`` to."""
        if relative not in self._scratch:
            name = f"{len(self.moves):05d}-{relative.rsplit('/', 1)[-1]}"
            staged = self.lake.key(self.prefix, "files", name)
            self._scratch[relative] = self.lake.scratch_file(staged)
            self.moves.append((staged, relative))
        return self._scratch[relative]

    def stage_bytes(self, relative: str, data: bytes) -> None:
        self.stage_path(relative).write_bytes(data)

    def staged_key(self, name: str) -> str:
        """The lake key of a staged file named ``name`` (for a writer that puts its
        file in the lake itself and then :meth:`adopt` it)."""
        return self.lake.key(self.prefix, "files", name)

    def adopt(self, relative: str, staged: str) -> None:
        """Stage the file already written in the lake at ``staged`` (a
        :meth:`staged_key`, e.g. by a Spark executor) as the new content of ``relative``:
        the commit marker names it like any staged file, without uploading it again."""
        fresh = staged not in {s for s, _ in self.moves}
        if not fresh or not staged.startswith(self.staged_key("") + "/"):
            raise ValueError(f"not a fresh staged key of this transaction: {staged}")
        self.moves.append((staged, relative))

    def delete(self, relative: str) -> None:
        self.deletes.append(relative)

    def commit(self) -> None:
        crash_point("before_commit")
        # staged data must be durable in the lake before the marker names it
        self.lake.publish_files(
            [(self._scratch[r], staged) for staged, r in self.moves if r in self._scratch]
        )
        self._scratch.clear()
        self.lease.check()  # never commit without the lock (S3: it could have been lost)
        marker = {"moves": self.moves, "deletes": self.deletes}
        commit_key = self.lake.key(self.prefix, COMMIT)
        self.lake.write_atomic(commit_key, json.dumps(marker, indent=1))
        if not self.lake.is_local and not self._staged_files_intact():
            # S3 only: this run stalled past its lock's TTL after the check above, and the
            # run that took the lock over discarded our (then uncommitted) staging. Applying
            # the marker now would run its deletes without the copies: withdraw it instead.
            self.lake.delete(commit_key)
            self.lake.delete_prefix(self.prefix)
            raise LakeBusyError(
                "this run lost the lake's lock before publishing: nothing was published",
                "run it again",
            )
        self.committed = True
        crash_point("after_commit")
        _apply(self.lake, self.prefix, marker)

    def _staged_files_intact(self) -> bool:
        present = {e.key for e in self.lake.list(self.lake.key(self.prefix, "files"))}
        return all(staged in present for staged, _ in self.moves)

    def abort(self) -> None:
        """Drop an uncommitted run's files. A committed one is left for :func:`recover`
        to finish (publishing may have stopped half-way, e.g. on a network error)."""
        for path in self._scratch.values():
            path.unlink(missing_ok=True)
        self._scratch.clear()
        if not self.committed:
            self.lake.delete_prefix(self.prefix)


def _apply(lake: Lake, prefix: str, marker: dict) -> None:
    """Publish a committed transaction. Idempotent: safe to repeat after a crash."""
    pairs = [(staged, relative) for staged, relative in marker["moves"]]
    lake.store.promote(pairs[:1])
    crash_point("mid_publish")
    lake.store.promote(pairs[1:])
    for relative in marker["deletes"]:
        lake.delete(relative)
    crash_point("before_cleanup")
    # the staged files first, the marker last: a marker never outlives what it names
    # without the publishing being complete
    lake.delete_prefix(lake.key(prefix, "files"))
    lake.delete(lake.key(prefix, COMMIT))
    lake.delete_prefix(prefix)


def recover(lake: Lake) -> list[str]:
    """Finish committed transactions and drop uncommitted ones. Returns what was done."""
    done = []
    base = lake.state_key("txn")
    runs = {e.key[len(base) + 1 :].split("/", 1)[0] for e in lake.list(base)}
    if lake.is_local and lake.state_dir("txn").is_dir():  # also runs that died before
        runs |= {p.name for p in lake.state_dir("txn").iterdir() if p.is_dir()}  # any file
    for run_id in sorted(runs):
        prefix = _txn_prefix(lake, run_id)
        try:
            marker = json.loads(lake.read_bytes(lake.key(prefix, COMMIT)))
        except FileNotFoundError:
            lake.delete_prefix(prefix)
            done.append(f"discarded unfinished run {run_id}")
        else:
            _apply(lake, prefix, marker)
            done.append(f"finished interrupted run {run_id}")
    return done


@contextlib.contextmanager
def lake_lock(lake: Lake, name: str, wait: bool) -> Iterator[Lease]:
    """Hold ``_state/<name>.lock`` for one run (an OS lock locally, a conditional-write
    lock object on S3; see :mod:`shoplake.storage`)."""
    with lake.lock(name, wait) as lease:
        yield lease
