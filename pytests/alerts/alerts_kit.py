"""Helpers for the alerts tests, written from the raw contract and docs/alerts.md.

Clickstream files are written by hand (json.dumps per line) and dropped the way a
producer does: under an in-progress ``_`` name, then renamed. Expected alert ids are
computed here from the contract's definition of click_id (md5 over the UTC event time
``YYYY-MM-DDTHH:MM:SS.ffffffZ``, user, session, action and page URL joined by the unit
separator) with the UTC time spelled out by each test, never by the code under test.

:class:`Receiver` is a real HTTP server on 127.0.0.1 that records every request and can
fail (an HTTP status) or be down (port closed: connection refused) on demand.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

UTC = timezone.utc
PAGE = "https://shop.example.com/checkout/complete"
REPO = Path(__file__).resolve().parents[2]
PYTHON = sys.executable  # the test's interpreter (a worktree has no .venv of its own)


def click(
    event_time: str,
    user: str = "C1",
    session: str = "s1",
    action: str = "page_view",
    page: str | None = "https://shop.example.com/",
    **extra: Any,
) -> dict[str, Any]:
    record: dict[str, Any] = {
        "event_time": event_time,
        "user_id": user,
        "session_id": session,
        "action": action,
    }
    if page is not None:
        record["page_url"] = page
    record.update(extra)
    return record


def purchase(
    event_time: str,
    user: str = "C1",
    session: str = "s1",
    order: str = "O1",
    revenue: str = "59.90",
    currency: str = "EUR",
    page: str | None = PAGE,
) -> dict[str, Any]:
    return click(
        event_time,
        user,
        session,
        "purchase",
        page,
        attributes={"order_id": order, "revenue": revenue, "currency": currency},
    )


def nested_purchase(event_time: str, session: str, levels: int) -> str:
    """A purchase line whose record nests ``levels`` deep in all (the record itself is
    level 1, ``attributes`` level 2, ...), written as text: json.dumps cannot go deep."""
    head = json.dumps(click(event_time, "C1", session, "purchase"))[:-1]
    inner = levels - 1  # objects inside the record
    return head + ', "attributes": ' + '{"d": ' * (inner - 1) + "{}" + "}" * (inner - 1) + "}"


def expected_id(utc_time: str, user: str, session: str, page: str | None = PAGE) -> str:
    """click_id of a purchase per the contract; ``utc_time`` as YYYY-MM-DDTHH:MM:SS.ffffffZ."""
    text = "\x1f".join((utc_time, user, session, "purchase", page or ""))
    return hashlib.md5(text.encode()).hexdigest()


def ndjson(records: list[dict[str, Any] | str], crlf: bool = False, bom: bool = False) -> bytes:
    """NDJSON bytes; a str item is written as the raw line (for bad lines)."""
    end = "\r\n" if crlf else "\n"
    text = "".join((r if isinstance(r, str) else json.dumps(r)) + end for r in records)
    return (b"\xef\xbb\xbf" if bom else b"") + text.encode("utf-8")


def landing_dir(root: Path, landed: datetime) -> Path:
    return root / "raw" / "clickstream" / f"{landed:%Y/%m/%d/%H}"


def drop(root: Path, landed: datetime, name: str, data: bytes) -> Path:
    """Deliver a file as producers do: write ``_<name>``, then rename it into place."""
    folder = landing_dir(root, landed)
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f"_{name}.uploading"
    tmp.write_bytes(gzip.compress(data) if name.endswith(".gz") else data)
    final = folder / name
    os.replace(tmp, final)
    return final


def alert_files(root: Path) -> list[Path]:
    base = root / "alerts"
    if not base.is_dir():
        return []
    return sorted(p for p in base.glob("year=*/month=*/day=*/*") if not p.name.startswith("_"))


def published_alerts(root: Path) -> list[dict[str, Any]]:
    """Every alert line under alerts/ (hidden temporary files skipped, as readers do)."""
    out = []
    for path in alert_files(root):
        for line in path.read_text("utf-8").splitlines():
            alert = json.loads(line)
            alert["_file"] = path.relative_to(root).as_posix()
            out.append(alert)
    return out


def snapshot(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in alert_files(root)}


def start_alerts(root: Path | str, **kwargs: Any) -> None:
    """Start alerts on a lake before the test's files land: the first start bookmarks
    what is there (here: nothing) and alerts only for files that land after it."""
    from shoplake.alerts.watcher import process_pending

    process_pending(root, retry_for_s=0, **kwargs)


def watch_cmd(root: Path, *args: str) -> list[str]:
    return [PYTHON, "-m", "shoplake.cli", "alerts", "watch", "--lake", str(root), *args]


def child_env(**extra: str) -> dict[str, str]:
    """The test's environment without failpoints or alerts settings, plus ``extra``."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SHOPLAKE_CRASH_AT", "SHOPLAKE_ALERTS_"))
    }
    env.update(extra)
    return env


class WatchProcess:
    """`shoplake alerts watch` in a subprocess, stdout and stderr collected line by line
    (``lines``: both, in order; ``stderr``: stderr alone)."""

    def __init__(self, root: Path, url: str | None, *args: str, **env: str) -> None:
        self.lines: list[str] = []
        self.stderr: list[str] = []
        hook = ["--webhook", url] if url else []
        self.proc = subprocess.Popen(
            watch_cmd(root, *hook, "--interval", "0.05", *args),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=child_env(**env),
        )
        assert self.proc.stdout is not None
        assert self.proc.stderr is not None
        threading.Thread(target=self._read, args=(self.proc.stdout, None), daemon=True).start()
        threading.Thread(
            target=self._read, args=(self.proc.stderr, self.stderr), daemon=True
        ).start()

    def _read(self, stream: Any, also: list[str] | None) -> None:
        for line in stream:
            self.lines.append(line.rstrip("\n"))
            if also is not None:
                also.append(line.rstrip("\n"))

    def wait_for(self, predicate: Any, timeout: float = 30) -> None:
        """Wait until some output line satisfies ``predicate`` (the process must live)."""
        deadline = time.time() + timeout
        while not any(predicate(line) for line in list(self.lines)):
            assert self.proc.poll() is None, self.lines
            assert time.time() < deadline, self.lines
            time.sleep(0.02)

    def wait_started(self, timeout: float = 30) -> None:
        self.wait_for(lambda line: line.startswith("watching"), timeout)

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=30)


def now_utc() -> datetime:
    return datetime.now(UTC)


# --- a real webhook receiver --------------------------------------------------------------
@dataclass
class Request:
    path: str
    headers: dict[str, str]
    body: bytes
    status: int
    at: float  # time.time() when it arrived

    @property
    def json(self) -> dict[str, Any]:
        return json.loads(self.body)


class Receiver:
    """An HTTP server on 127.0.0.1 that records requests.

    ``fail(n, status)``: answer the next ``n`` requests with ``status``; ``reject(key)``
    answers 400 for that Idempotency-Key until ``reject(None)``; ``down()`` closes the
    port (connection refused), ``up()`` listens again on the same port; ``delay_s`` makes
    every answer that slow (a kill then often lands while a POST is in flight);
    ``verifier(headers, body)``, when set, must return True or the answer is 401 (as a
    receiver checking signatures does).
    """

    delay_s = 0.0
    verifier: Any = None

    def __init__(self) -> None:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self.requests: list[Request] = []
        self._lock = threading.Lock()
        self._failures: list[int] = []
        self._rejected: str | None = None
        self.server: ThreadingHTTPServer | None = None
        self.up()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/purchases"

    def up(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                time.sleep(receiver.delay_s)
                key = self.headers.get("Idempotency-Key")
                verifier = receiver.verifier
                with receiver._lock:
                    if verifier is not None and not verifier(self.headers, body):
                        status = 401
                    elif receiver._failures:
                        status = receiver._failures.pop(0)
                    elif key is not None and key == receiver._rejected:
                        status = 400
                    else:
                        status = 200
                    receiver.requests.append(
                        Request(self.path, dict(self.headers), body, status, time.time())
                    )
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def down(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    def fail(self, n: int, status: int = 500) -> None:
        with self._lock:
            self._failures = [status] * n

    def reject(self, key: str | None) -> None:
        with self._lock:
            self._rejected = key

    def accepted(self) -> list[Request]:
        with self._lock:
            return [r for r in self.requests if 200 <= r.status < 300]

    def accepted_keys(self) -> Counter[str]:
        return Counter(r.headers["Idempotency-Key"] for r in self.accepted())

    def wait_for_keys(self, keys: set[str], timeout: float) -> bool:
        deadline = time.time() + timeout
        while time.time() < deadline:
            if keys <= set(self.accepted_keys()):
                return True
            time.sleep(0.02)
        return False
