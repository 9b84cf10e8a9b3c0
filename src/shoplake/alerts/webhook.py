"""Posting alerts to a webhook: one JSON object per request, retried with backoff.

Standard library only (``urllib``): a POST per alert needs no HTTP client package, and the
watcher should start fast and stay small as a long-running service.

Each request carries ``Idempotency-Key: <alert_id>``: delivery is at-least-once (a crash
after the receiver accepted a POST but before the ledger recorded it sends it again), so
receivers de-duplicate on that key. With ``SHOPLAKE_ALERTS_WEBHOOK_SECRET`` set, requests
are also signed over the time of sending and the body::

    X-Shoplake-Timestamp: <unix seconds>
    X-Shoplake-Signature: v1=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>

so a receiver can tell them from forgeries and, with :func:`verify_signature`'s
tolerance window, from old requests replayed.

The URL's credentials (``user:password@``, query values, token-like path segments) go
into the request only; every message shows the URL redacted
(:func:`shoplake.redact.redact_url`). ``user:password@`` is sent as HTTP Basic
authentication.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.client
import random
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

from shoplake import __version__
from shoplake.errors import AlertsError
from shoplake.redact import redact_text, redact_url

WEBHOOK_ENV = "SHOPLAKE_ALERTS_WEBHOOK"
SECRET_ENV = "SHOPLAKE_ALERTS_WEBHOOK_SECRET"

#: Statuses that say "the receiver is unwell, try later" rather than "not this alert".
_RETRY_LATER = frozenset({408, 425, 429})
TIMESTAMP_HEADER = "X-Shoplake-Timestamp"
SIGNATURE_HEADER = "X-Shoplake-Signature"
#: The signature scheme: HMAC-SHA256 over ``<timestamp>.<body>``.
SIGNATURE_VERSION = "v1"
DEFAULT_TOLERANCE_S = 300


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The ``X-Shoplake-Signature`` value of a body sent at ``timestamp`` (unix seconds)."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"{SIGNATURE_VERSION}={mac.hexdigest()}"


def verify_signature(
    secret: str,
    headers: Mapping[str, str] | Any,
    body: bytes,
    tolerance_seconds: float = DEFAULT_TOLERANCE_S,
    now: float | None = None,
) -> bool:
    """Whether a request is a genuine, fresh shoplake alert: its ``X-Shoplake-Signature``
    is the HMAC of its ``X-Shoplake-Timestamp`` and ``body`` (the raw bytes received)
    with ``secret``, and that timestamp is within ``tolerance_seconds`` of ``now``
    (default: the current time). An old request replayed, a body or timestamp changed
    in transit, or a wrong secret give False. ``headers``: any mapping (or
    ``http.server``'s message) of the request headers; names are case-insensitive. The
    signature header may list several ``v1=`` values (comma-separated) during a
    secret's rotation; one match suffices.

    Within the window a replay still verifies: de-duplicate on ``Idempotency-Key``.
    """
    lowered = {str(k).lower(): str(v) for k, v in headers.items()}
    stamp = lowered.get(TIMESTAMP_HEADER.lower(), "")
    given = lowered.get(SIGNATURE_HEADER.lower(), "")
    if not stamp.isdigit() or not given:
        return False
    now = time.time() if now is None else now
    if abs(now - int(stamp)) > tolerance_seconds:
        return False
    expected = sign(secret, int(stamp), body)
    return any(hmac.compare_digest(expected, v.strip()) for v in given.split(","))


class DeliveryFailed(Exception):
    """A POST was not accepted. ``endpoint_down``: the receiver, not the alert, failed
    (connection refused, timeout, 5xx, 429), so the other alerts wait too."""

    def __init__(self, message: str, endpoint_down: bool) -> None:
        super().__init__(message)
        self.endpoint_down = endpoint_down


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A redirected POST would silently become a GET: treat redirects as failures."""

    def redirect_request(self, *args, **kwargs):
        return None


_opener = urllib.request.build_opener(_NoRedirects)


@dataclass(frozen=True)
class Webhook:
    """A webhook endpoint. ``url`` is used for the request only; ``shown`` is what may be
    printed (the URL redacted)."""

    url: str = field(repr=False)
    secret: str | None = field(default=None, repr=False)
    timeout_s: float = 10.0

    def __post_init__(self) -> None:
        try:
            parts = urlsplit(self.url)
            ok = parts.scheme in ("http", "https") and bool(parts.hostname)
            parts.port  # noqa: B018 - raises for a port that is not a number
        except ValueError:
            ok = False
        if not ok:
            raise AlertsError(
                f"webhook URL {self.shown!r} is not an http(s) URL",
                f"use --webhook https://host/path or set {WEBHOOK_ENV}",
            )

    @property
    def shown(self) -> str:
        """The URL as it may be shown: credentials, query values and tokens masked."""
        return redact_url(self.url)

    def _target(self) -> tuple[str, str | None]:
        """(the URL without userinfo, an ``Authorization`` header value or None)."""
        parts = urlsplit(self.url)
        if "@" not in parts.netloc:
            return self.url, None
        userinfo, _, hostport = parts.netloc.rpartition("@")
        user, _, password = userinfo.partition(":")
        token = base64.b64encode(f"{unquote(user)}:{unquote(password)}".encode()).decode()
        return urlunsplit(parts._replace(netloc=hostport)), f"Basic {token}"

    def headers(
        self, alert_id: str, body: bytes, attempt: int, now: float | None = None
    ) -> dict[str, str]:
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "Idempotency-Key": alert_id,
            "User-Agent": f"shoplake/{__version__}",
            "X-Shoplake-Attempt": str(attempt),
        }
        if self.secret:
            timestamp = int(time.time() if now is None else now)
            headers[TIMESTAMP_HEADER] = str(timestamp)
            headers[SIGNATURE_HEADER] = sign(self.secret, timestamp, body)
        return headers

    def _redact(self, text: object) -> str:
        """An error's text with nothing of the URL's credentials or the secret in it."""
        shown = str(text).replace(self.url, self.shown)
        parts = urlsplit(self.url)
        return redact_text(shown, parts.password, parts.username, self.secret)

    def post(self, alert_id: str, payload: str, attempt: int) -> None:
        """POST one alert; returns when the receiver answered 2xx, else DeliveryFailed
        (its message shows the URL redacted)."""
        body = payload.encode("utf-8")
        url, authorization = self._target()
        headers = self.headers(alert_id, body, attempt)
        if authorization:
            headers["Authorization"] = authorization
        request = urllib.request.Request(url, data=body, method="POST", headers=headers)
        try:
            with _opener.open(request, timeout=self.timeout_s) as response:
                response.read()
        except urllib.error.HTTPError as exc:
            exc.close()
            down = exc.code >= 500 or exc.code in _RETRY_LATER
            message = self._redact(f"HTTP {exc.code} {exc.reason} from {self.shown}")
            raise DeliveryFailed(message, endpoint_down=down) from None
        except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as exc:
            reason = self._redact(getattr(exc, "reason", exc))
            raise DeliveryFailed(
                f"cannot reach {self.shown}: {reason}", endpoint_down=True
            ) from None


def backoff(failures: int, base_s: float = 0.5, cap_s: float = 60.0) -> float:
    """Seconds to wait after ``failures`` consecutive failures: exponential, capped,
    with jitter (half fixed, half random) so that many senders do not retry in step."""
    delay = min(cap_s, base_s * 2 ** max(failures - 1, 0))
    return delay / 2 + random.uniform(0, delay / 2)
