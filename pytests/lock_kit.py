"""A lake's run lock held by another process, for local and s3:// lakes alike.

The holder takes the lock the way a shoplake run does (``Lake.lock``: flock on
``_state/<name>.lock`` in a directory, a conditional PUT of that key on S3) and keeps it
until the test releases it (a clean exit) or kills it (a crash: nothing released it).
The ``lock_holder`` fixture (pytests/conftest.py) starts them and kills what is left.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable

HOLDER = r"""
import sys
from shoplake.lake import Lake
with Lake.at(sys.argv[1]).lock(sys.argv[2]):
    print("locked", flush=True)
    sys.stdin.read()
"""


class LockHolder:
    """A child process that holds ``_state/<name>.lock`` of the lake at ``lake_url``."""

    def __init__(self, lake_url: str, name: str = "ingest") -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", HOLDER, lake_url, name],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().strip()
        assert line == "locked", f"the lock holder did not take the lock (said {line!r})"

    @property
    def pid(self) -> int:
        return self.proc.pid

    def release(self) -> None:
        """Let go of the lock as a finished run does (the holder exits cleanly)."""
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        assert self.proc.wait(timeout=10) == 0

    def release_to(
        self,
        waiting: subprocess.Popen,
        after: float,
        while_held: Callable[[], None] = lambda: None,
        timeout: float = 120,
    ) -> tuple[int, str]:
        """Hold on ``after`` seconds more while ``waiting`` (a run started with --wait,
        output piped as text) must still wait, run the ``while_held`` checks, then release
        and let the waiting run finish: its exit code and stderr."""
        try:
            time.sleep(after)
            assert waiting.poll() is None, "the --wait run did not wait for the lock"
            while_held()
            self.release()
            _, err = waiting.communicate(timeout=timeout)
        finally:
            if waiting.poll() is None:
                waiting.kill()
        return waiting.returncode, err

    def kill(self) -> None:
        """Kill the holder without it releasing anything (SIGKILL), and reap it."""
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=10)
