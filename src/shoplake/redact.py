"""Text as it may be shown: URLs without the credentials they carry, known secrets masked.

A webhook URL often is the credential, or carries one: ``https://user:password@host/``,
``?token=...&sig=...``, or a secret path segment (``/services/T0/B0/XXXXXXXXXXXXXXXXXXXXXXXX``).
The full URL is used for the request only; whatever is printed, logged, stored in the
ledger or put into an error message goes through :func:`redact_url` (one URL) or
:func:`redact_text` (any text that may contain URLs). Standard library only: the Lambda
uses it too.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit, urlunsplit

MASK = "***"

#: A URL inside some text (an error message): scheme, ``://``, up to a space or quote.
_URL_IN_TEXT = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s'\"<>]+")
#: A path segment that looks like a token: 16 or more URL-safe characters, with both a
#: letter and a digit (``hooks``, ``purchases``, ``v1`` and dates stay readable).
_TOKEN_SEGMENT = re.compile(r"(?=[^/]*[A-Za-z])(?=[^/]*\d)[A-Za-z0-9_.~%-]{16,}")


def redact_url(url: str) -> str:
    """``url`` with its userinfo, every query value, its fragment and token-like path
    segments replaced by ``***``; scheme, host, port and the plain path stay.

    >>> redact_url("http://user:pass@host:8080/hook?token=abc&sig=x#frag")
    'http://***@host:8080/hook?token=***&sig=***#***'
    """
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port is not None else ""
    except ValueError:  # not even a URL (a bad port, brackets): show nothing of it
        return MASK
    if ":" in host:  # IPv6
        host = f"[{host}]"
    netloc = (f"{MASK}@" if "@" in parts.netloc else "") + host + port
    path = "/".join(
        MASK if _TOKEN_SEGMENT.fullmatch(segment) else segment for segment in parts.path.split("/")
    )
    query = "&".join(
        f"{item.split('=', 1)[0]}={MASK}" if "=" in item else MASK
        for item in parts.query.split("&")
        if item
    )
    return urlunsplit((parts.scheme, netloc, path, query, MASK if parts.fragment else ""))


def redact_text(text: str, *secrets: str | None) -> str:
    """``text`` with every URL in it redacted and every one of ``secrets`` (a password,
    a token, the full URL) replaced by ``***`` wherever it appears."""
    for secret in sorted((s for s in secrets if s), key=len, reverse=True):
        text = text.replace(secret, MASK)
    return _URL_IN_TEXT.sub(lambda m: redact_url(m.group()), text)
