"""The ``shoplake`` command in a child process, as a user (or a scheduler) runs it."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterable


def run_shoplake(
    *args: str,
    env: dict[str, str] | None = None,
    without: Iterable[str] = (),
    timeout: float = 600,
    preexec_fn: Callable[[], None] | None = None,
) -> subprocess.CompletedProcess:
    """Run ``shoplake ARGS`` with the test's environment minus ``without``, plus ``env``;
    output is captured as text and a non-zero exit code is returned, not raised.
    ``preexec_fn`` runs in the child before shoplake starts (resource limits)."""
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
        preexec_fn=preexec_fn,
    )


def start_shoplake(
    *args: str, env: dict[str, str] | None = None, without: Iterable[str] = ()
) -> subprocess.Popen:
    """Start ``shoplake ARGS`` in a child process and return at once (stdout and stderr
    piped as text): for the checks that kill it, or race it against another. The child
    leads its own process group: ``os.killpg(proc.pid, SIGKILL)`` kills it with the dbt
    process it may be running, as a scheduler or the OOM killer would."""
    dropped = set(without)
    child = {k: v for k, v in os.environ.items() if k not in dropped}
    child.update(env or {})
    return subprocess.Popen(
        [sys.executable, "-m", "shoplake.cli", *args],
        env=child,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def the_error_line(result: subprocess.CompletedProcess, *, run: bool = False) -> str:
    """The one line a failed command printed: asserts a non-zero exit, no traceback and
    exactly one line on stderr, and returns it. ``run``: `shoplake run`, whose stderr
    also has its step progress lines ("[2/7] ingest: ..." and their indented outcome)."""
    assert result.returncode != 0, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    if run:
        lines = [ln for ln in lines if not ln.startswith(("[", " "))]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: "), lines[0]
    return lines[0]


def hold_duckdb_open(path: str, *, read_only: bool = True) -> subprocess.Popen:
    """Another process (an analyst's notebook) holding a DuckDB file open until killed;
    returns once the connection is open."""
    code = (
        "import sys, time, duckdb\n"
        f"con = duckdb.connect({path!r}, read_only={read_only!r})\n"
        "print('open', flush=True)\n"
        "time.sleep(600)\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert line.strip() == "open", proc.stderr.read() if proc.stderr else line
    return proc
