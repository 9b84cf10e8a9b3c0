"""Ingest on a full disk (issue row 11): one line "disk full at <path>", the lake left as
it was, and the next run, with space again, ingests everything.

The disk is a small tmpfs mounted for the test (the tests run as root in their
container); where mounting is not allowed, a file-size limit (RLIMIT_FSIZE) on the
ingest process stands in for it and the line says "file size limit reached at"."""

from __future__ import annotations

import contextlib
import hashlib
import os
import resource
import shutil
import signal
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

from cli_kit import run_shoplake, the_error_line
from run_kit import generated_lake

#: Run-lock files: created (or rewritten with the pid) by every run, full disk or not.
LOCKS = {"_state/ingest.lock"}


def snapshot(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and str(p.relative_to(root)) not in LOCKS
    }


@contextlib.contextmanager
def small_disk(where: Path, megabytes: int) -> Iterator[bool]:
    """A tmpfs of ``megabytes`` at ``where``; yields False if mounting is not allowed."""
    where.mkdir()
    mounted = (
        subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={megabytes}m", "tmpfs", str(where)],
            capture_output=True,
            check=False,
        ).returncode
        == 0
    )
    try:
        yield mounted
    finally:
        if mounted:
            subprocess.run(["umount", str(where)], check=True)


def fill(disk: Path, leave: int) -> Path:
    """Take all free space on ``disk`` but ``leave`` bytes."""
    stat = os.statvfs(disk)
    filler = disk / "filler"
    with open(filler, "wb") as fh:
        fh.truncate(0)
        fh.write(b"\0" * max(stat.f_bavail * stat.f_frsize - leave, 0))
    return filler


def file_size_limit(limit: int) -> Callable[[], None]:
    def apply() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG instead of being killed
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return apply


def test_ingest_on_a_full_disk_is_one_line_and_leaves_the_lake_as_it_was(tmp_path: Path) -> None:
    source = generated_lake(tmp_path / "generated")
    with small_disk(tmp_path / "disk", megabytes=8) as mounted:
        lake = tmp_path / "disk" / "lake"
        shutil.copytree(source.root, lake)
        before = snapshot(lake)
        if mounted:
            filler = fill(tmp_path / "disk", leave=64 * 1024)
            result = run_shoplake("ingest", "--lake", str(lake))
            expected = "error: disk full at "
        else:
            result = run_shoplake(
                "ingest", "--lake", str(lake), preexec_fn=file_size_limit(16 * 1024)
            )
            expected = "error: file size limit reached at "
        line = the_error_line(result)
        assert line.startswith(expected + str(lake)), line
        assert "run the command again" in line
        assert snapshot(lake) == before  # nothing half-written, nothing published

        if mounted:
            filler.unlink()
        again = run_shoplake("ingest", "--lake", str(lake))
        assert again.returncode == 0, again.stderr
        assert any((lake / "silver").rglob("*.parquet"))
