"""Posting alerts to a webhook: one JSON object per request, retried with backoff.

Standard library only (``urllib``): a POST per alert needs no HTTP client package, and the
watcher should start fast and stay small as a long-running service.

Each request carries ``Idempotency-Key: <alert_id>``: delivery is at-least-once (a crash
after the receiver accepted a POST but before the ledger recorded it sends it again), so
receivers de-duplicate on that key. With ``SHOPLAKE_ALERTS_WEBHOOK_SECRET`` set, requests
are also signed (``X-Shoplake-Signature: sha256=<hex HMAC of the body>``) so a receiver
can tell them from forgeries.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import random
import urllib.error
import urllib.request
from dataclasses import dataclass
from urllib.parse import urlsplit

from shoplake import __version__
from shoplake.errors import ShoplakeError

WEBHOOK_ENV = "SHOPLAKE_ALERTS_WEBHOOK"
SECRET_ENV = "SHOPLAKE_ALERTS_WEBHOOK_SECRET"

#: Statuses that say "the receiver is unwell, try later" rather than "not this alert".
_RETRY_LATER = frozenset({408, 425, 429})


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
    url: str
    secret: str | None = None
    timeout_s: float = 10.0

    def __post_init__(self) -> None:
        parts = urlsplit(self.url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ShoplakeError(
                f"webhook URL {self.url!r} is not an http(s) URL",
                f"pass --webhook https://host/path or set {WEBHOOK_ENV}",
            )

    def headers(self, alert_id: str, body: bytes, attempt: int) -> dict[str, str]:
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "Idempotency-Key": alert_id,
            "User-Agent": f"shoplake/{__version__}",
            "X-Shoplake-Attempt": str(attempt),
        }
        if self.secret:
            digest = hmac.new(self.secret.encode(), body, hashlib.sha256).hexdigest()
            headers["X-Shoplake-Signature"] = f"sha256={digest}"
        return headers

    def post(self, alert_id: str, payload: str, attempt: int) -> None:
        """POST one alert; returns when the receiver answered 2xx, else DeliveryFailed."""
        body = payload.encode("utf-8")
        request = urllib.request.Request(
            self.url, data=body, method="POST", headers=self.headers(alert_id, body, attempt)
        )
        try:
            with _opener.open(request, timeout=self.timeout_s) as response:
                response.read()
        except urllib.error.HTTPError as exc:
            exc.close()
            down = exc.code >= 500 or exc.code in _RETRY_LATER
            raise DeliveryFailed(f"HTTP {exc.code} {exc.reason}", endpoint_down=down) from None
        except (urllib.error.URLError, http.client.HTTPException, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise DeliveryFailed(f"cannot reach {self.url}: {reason}", endpoint_down=True) from None


def backoff(failures: int, base_s: float = 0.5, cap_s: float = 60.0) -> float:
    """Seconds to wait after ``failures`` consecutive failures: exponential, capped,
    with jitter (half fixed, half random) so that many senders do not retry in step."""
    delay = min(cap_s, base_s * 2 ** max(failures - 1, 0))
    return delay / 2 + random.uniform(0, delay / 2)
