"""The dashboard page: one HTML file with its stylesheet, script and data inline.

Nothing is fetched when the page opens (no CDN, fonts or images), so it works offline,
from a file, behind a proxy, and as a static object on S3.
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

ASSETS = resources.files("shoplake.dashboard") / "assets"


def _asset(name: str) -> str:
    return (ASSETS / name).read_text("utf-8")


def embed_json(data: Any) -> str:
    """JSON safe inside a <script> element: ``<`` only occurs in strings, where the
    ``\\u003c`` escape keeps ``</script>`` and ``<!--`` out of the page's markup."""
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False).replace("<", "\\u003c")


def render_page(data: dict[str, Any]) -> str:
    """The complete page for the data of :func:`shoplake.dashboard.collect`."""
    page = _asset("page.html")
    for marker, text in (
        ("/*__CSS__*/", _asset("dashboard.css")),
        ("/*__JS__*/", _asset("dashboard.js")),
        ("__DATA__", embed_json(data)),
    ):
        head, sep, tail = page.partition(marker)
        if not sep:
            raise RuntimeError(f"dashboard template has no {marker} marker")
        page = head + text + tail  # partition, not replace: the data may contain a marker
    return page
