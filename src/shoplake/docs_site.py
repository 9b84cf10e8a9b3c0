"""``shoplake docs publish``: the dbt docs site and the dashboard as a static site.

Layout of what is written at the destination (a directory or ``s3://bucket/prefix``):

* ``index.html``            the landing page linking both (as ``shoplake serve`` shows it);
* ``docs/index.html``       dbt's docs page with a link to the dashboard, next to
  ``docs/manifest.json`` and ``docs/catalog.json`` that it loads;
* ``dashboard/index.html``  the dashboard page (DuckDB warehouse only).

Links between the pages name ``index.html`` explicitly, so the site works from any
static file server and from an S3 bucket behind CloudFront without a rewrite rule.
Pages are written one file at a time, each atomically; the landing page last.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from shoplake.errors import WarehouseError
from shoplake.lake import Lake
from shoplake.storage import S3Storage

CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".json": "application/json",
}


@dataclass
class Published:
    destination: str
    files: list[tuple[str, int]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def publish_docs(
    lake: Lake,
    to: str | os.PathLike,
    *,
    target: str = "dev",
    generate: bool = True,
    dashboard: bool = True,
    duckdb_path: str | os.PathLike | None = None,
    postgres_dsn: str | None = None,
) -> Published:
    """Generate the docs of ``target`` (unless ``generate`` is false: the last
    ``dbt docs generate``'s), write the dashboard (dev target), and publish both at ``to``."""
    from shoplake.serve import DOCS_FILES, Site, docs_index, landing_page
    from shoplake.warehouse import artifacts_dir, docs_generate

    if generate:
        kw: dict = {"duckdb_path": duckdb_path} if target == "dev" else {}
        if target == "postgres":
            kw["postgres_dsn"] = postgres_dsn
        docs = docs_generate(lake, target=target, quiet=True, **kw)
    else:
        docs = artifacts_dir(lake, target) / "target"
    missing = [name for name in DOCS_FILES if not (docs / name).is_file()]
    if missing:
        raise WarehouseError(
            f"no docs site in {docs} (missing {', '.join(missing)})",
            f"drop --no-generate, or run `shoplake build --target {target}` first",
            step="docs",
        )
    site_pages: list[tuple[str, bytes]] = [
        ("docs/index.html", _explicit_index(docs_index(docs / "index.html"), "../dashboard/")),
        *((f"docs/{n}", (docs / n).read_bytes()) for n in DOCS_FILES if n != "index.html"),
    ]
    result = Published(destination=str(to))
    with tempfile.TemporaryDirectory(prefix="shoplake-site-") as tmp:
        page = Path(tmp) / "dashboard.html"
        site = Site(lake, docs, page)
        if _write_dashboard(lake, page, target, dashboard, duckdb_path, result.notes):
            site_pages.append(("dashboard/index.html", page.read_bytes()))
        else:
            site.dashboard_problem = result.notes[-1]
        landing = landing_page(site).encode("utf-8")
    for href in ("dashboard/", "docs/"):
        landing = _explicit_index(landing, href)
    site_pages.append(("index.html", landing))
    destination = Lake.at(to)
    for key, data in site_pages:
        _write(destination, key, data)
        result.files.append((key, len(data)))
    result.destination = destination.url()
    return result


def _write_dashboard(
    lake: Lake,
    page: Path,
    target: str,
    wanted: bool,
    duckdb_path: str | os.PathLike | None,
    notes: list[str],
) -> bool:
    """Write the dashboard page from the DuckDB warehouse; False (and why, in notes)
    when it is not published."""
    if not wanted:
        notes.append("dashboard not published (--no-dashboard)")
        return False
    if target != "dev":
        notes.append(f"dashboard not published: it reads the DuckDB warehouse, not {target}")
        return False
    from shoplake.dashboard import collect, write_page

    data = collect(lake, duckdb_path=duckdb_path)
    data["docs_href"] = "../docs/index.html"  # the site's layout, explicit (see above)
    write_page(data, page)
    return True


def _explicit_index(page: bytes, href: str) -> bytes:
    """``href="<dir>/"`` links as ``href="<dir>/index.html"`` (static hosting)."""
    return page.replace(f'href="{href}"'.encode(), f'href="{href}index.html"'.encode())


def _write(destination: Lake, key: str, data: bytes) -> None:
    """One page: atomic on a directory; on S3 one PUT with its Content-Type, so that a
    browser shows it through CloudFront instead of downloading it."""
    store = destination.store
    if isinstance(store, S3Storage):
        content_type = CONTENT_TYPES.get(Path(key).suffix, "application/octet-stream")
        store.fs.pipe_file(store.url(key), data, ContentType=content_type)
    else:
        destination.write_atomic(key, data)
