"""The ``shoplake`` command in a child process, as a user (or a scheduler) runs it."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterable


def run_shoplake(
    *args: str,
    env: dict[str, str] | None = None,
    without: Iterable[str] = (),
    timeout: float = 600,
) -> subprocess.CompletedProcess:
    """Run ``shoplake ARGS`` with the test's environment minus ``without``, plus ``env``;
    output is captured as text and a non-zero exit code is returned, not raised."""
    dropped = set(without)
    child = {k: v for k, v in os.environ.items() if k not in dropped}
    child.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "shoplake.cli", *args],
        env=child,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
