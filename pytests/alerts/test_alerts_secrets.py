"""Webhook credentials and signatures (issue 9, row 10): a URL with a password and a token
is used for the request only and shown redacted everywhere else (output, error lines on
every retry, the ledger, `alerts status`); requests are signed over a timestamp and the
body, and a receiver using `verify_signature` rejects replays, old or tampered requests."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
import urllib.error
import urllib.request
from datetime import datetime
from pathlib import Path

import pytest
from alerts_kit import (
    UTC,
    Receiver,
    WatchProcess,
    drop,
    expected_id,
    ndjson,
    purchase,
    start_alerts,
)
from cli_kit import run_shoplake

from shoplake.alerts.watcher import process_pending
from shoplake.alerts.webhook import verify_signature
from shoplake.redact import redact_text, redact_url

SECRET = "whsec-7c1f"


def _secret_url(receiver: Receiver) -> str:
    return f"http://user:pass@127.0.0.1:{receiver.port}/hooks/purchases?token=abc&sig=x"


def _land_now(root: Path, session: str) -> str:
    now = datetime.now(UTC)
    stamp = now.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    drop(root, now, f"{session}.json", ndjson([purchase(stamp, "C1", session)]))
    return expected_id(stamp, "C1", session)


def _leaks(text: str | bytes) -> list[str]:
    data = text if isinstance(text, bytes) else text.encode()
    return [marker for marker in ("pass", "abc", "user:") if marker.encode() in data]


def test_redacted_urls_keep_the_host_and_path() -> None:
    assert (
        redact_url("http://user:pass@host:8080/hooks/p?token=abc&sig=x&flag#frag")
        == "http://***@host:8080/hooks/p?token=***&sig=***&***#***"
    )
    slack = "https://hooks.slack.com/services/T0001/B0002/Xq9Zk3Lm7Pw2Rt5Yv8Nb4Hc6"
    assert redact_url(slack) == "https://hooks.slack.com/services/T0001/B0002/***"
    assert redact_url("http://[::1]:99/p") == "http://[::1]:99/p"
    assert redact_url("http://host:notaport/") == "***"
    line = "failed: <urlopen error http://u:pw@h/x?k=v> and pw again"
    assert redact_text(line, "pw") == "failed: <urlopen error http://***@h/x?k=***> and *** again"


def test_credentials_never_leave_the_request(
    lake_root: Path, receiver: Receiver, tmp_path: Path
) -> None:
    url = _secret_url(receiver)
    start_alerts(lake_root)
    receiver.fail(3, status=503)  # three retries, each logged with its error
    watcher = WatchProcess(lake_root, url)
    try:
        watcher.wait_started()
        first = _land_now(lake_root, "retried")
        assert receiver.wait_for_keys({first}, timeout=30), watcher.lines
        receiver.down()  # now: connection refused, on every retry
        second = _land_now(lake_root, "refused")
        watcher.wait_for(lambda line: "Connection refused" in line, timeout=30)
        assert watcher.stop() == 0
    finally:
        if watcher.proc.poll() is None:
            watcher.kill()
    output = "\n".join(watcher.lines)
    assert sum("HTTP 503" in line for line in watcher.lines) == 3
    assert "webhook http://***@127.0.0.1:" in output  # shown, redacted
    assert "?token=***&sig=***" in output
    assert _leaks(output) == []

    # the request itself had everything: Basic auth from the userinfo, the query
    accepted = receiver.accepted()
    assert [r.headers["Idempotency-Key"] for r in accepted] == [first]
    assert accepted[0].path == "/hooks/purchases?token=abc&sig=x"
    assert accepted[0].headers["Authorization"] == "Basic " + base64.b64encode(b"user:pass").decode(
        "ascii"
    )

    status = run_shoplake("alerts", "status", "--lake", str(lake_root))
    assert status.returncode == 0, status.stderr
    assert "oldest undelivered: " + second in status.stdout
    assert "cannot reach http://***@127.0.0.1:" in status.stdout
    once = run_shoplake(
        "alerts", "watch", "--once", "--retry-for", "0", "--lake", str(lake_root), "--webhook", url
    )
    assert once.returncode == 0, once.stderr
    for text in (status.stdout, status.stderr, once.stdout, once.stderr):
        assert _leaks(text) == [], text
    state = lake_root / "_state"
    for path in [*state.rglob("*"), *(lake_root / "alerts").rglob("*")]:
        if path.is_file():
            assert _leaks(path.read_bytes()) == [], path


def test_a_bad_url_with_credentials_is_refused_without_showing_them(lake_root: Path) -> None:
    bad = "ftp://user:pass@example.com/x?token=abc"
    result = run_shoplake("alerts", "watch", "--once", "--lake", str(lake_root), "--webhook", bad)
    assert result.returncode == 1
    assert result.stderr.startswith("error: webhook URL 'ftp://***@example.com/x?token=***' is")
    assert _leaks(result.stdout + result.stderr) == []


def _replay(receiver: Receiver, headers: dict[str, str], body: bytes) -> int:
    request = urllib.request.Request(receiver.url, data=body, method="POST", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_the_receiver_verifies_signatures_and_refuses_replays(
    lake_root: Path, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    skew = {"s": 0.0}  # how much later than now the receiver thinks it is

    def verify(headers, body: bytes) -> bool:
        return verify_signature(SECRET, headers, body, now=time.time() + skew["s"])

    receiver.verifier = verify
    monkeypatch.setenv("SHOPLAKE_ALERTS_WEBHOOK_SECRET", SECRET)
    start_alerts(lake_root)
    key = _land_now(lake_root, "signed")
    summary = process_pending(lake_root, receiver.url)
    assert summary.delivered == 1  # the real request verified
    (request,) = receiver.accepted()
    assert request.headers["Idempotency-Key"] == key
    headers = {
        k: v for k, v in request.headers.items() if k.lower().startswith(("x-", "content-type"))
    }

    assert _replay(receiver, headers, request.body) == 200  # within the window: de-dup on key
    skew["s"] = 301  # the same request replayed five minutes later
    assert _replay(receiver, headers, request.body) == 401
    skew["s"] = 0
    tampered = request.body.replace(b'"revenue":"59.90"', b'"revenue":"0.01"')
    assert tampered != request.body
    assert _replay(receiver, headers, tampered) == 401
    newer = str(int(headers["X-Shoplake-Timestamp"]) + 1)
    fresh = {**headers, "X-Shoplake-Timestamp": newer}  # a fresher time, the old MAC
    assert _replay(receiver, fresh, request.body) == 401

    # the scheme as documented, computed here: v1=HMAC-SHA256(secret, "<ts>.<body>")
    now = 1_772_000_000
    mac = hmac.new(SECRET.encode(), f"{now}.{{}}".encode(), hashlib.sha256).hexdigest()
    good = {"x-shoplake-timestamp": str(now), "X-SHOPLAKE-SIGNATURE": f"v1={mac}"}
    assert verify_signature(SECRET, good, b"{}", now=now + 300)
    assert not verify_signature(SECRET, good, b"{}", now=now + 301)
    assert not verify_signature(SECRET, good, b"{}", now=now - 301)  # from the future
    assert not verify_signature("other", good, b"{}", now=now)
    rotated = {**good, "X-SHOPLAKE-SIGNATURE": f"v1=00ff, {good['X-SHOPLAKE-SIGNATURE']}"}
    assert verify_signature(SECRET, rotated, b"{}", now=now)
    assert not verify_signature(SECRET, {"X-Shoplake-Signature": "v1=00"}, b"{}")
