"""``shoplake serve``: the dbt docs site and the dashboard on one local port.

Routes:

* ``/``            a small landing page linking both, with when each was generated;
* ``/docs/``       the output of ``dbt docs generate`` (``index.html``, ``manifest.json``,
  ``catalog.json`` of the dev target's artifacts), the page with a "Dashboard" link added;
* ``/dashboard/``  the page ``shoplake dashboard`` wrote (``<lake>/site/dashboard.html``).

The server serves what is on disk and re-reads it on every request: a ``shoplake run``
(or ``shoplake dashboard``) while the server is up shows on the next page load. At start
it writes the dashboard only if there is none yet or the warehouse is newer than it, so
that ``serve`` alone is enough after a build.

Stdlib only (``ThreadingHTTPServer``), bound to 127.0.0.1 unless told otherwise: the docs
describe the warehouse's tables and code, which is not for everyone on the network.
"""

from __future__ import annotations

import errno
import html
import re
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

from shoplake.dashboard import default_dashboard_path, warehouse_path, write_dashboard
from shoplake.errors import ConfigError, ShoplakeError, WarehouseError
from shoplake.lake import Lake

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8080
#: The files of the docs site (the rest of dbt's target/ directory is not served).
DOCS_FILES = {
    "index.html": "text/html; charset=utf-8",
    "manifest.json": "application/json",
    "catalog.json": "application/json",
}
#: dbt's page links a favicon through an unexpanded template expression
#: (``${require(...)}``): a request that can only fail, so it is taken out.
_BROKEN_FAVICON = re.compile(r"""<link rel="shortcut icon" href="\$\{require\([^"]*"\s*/?>""")
#: dbt's page also references icons through Angular expressions (``{{ getIcon(...) }}``)
#: that the browser requests literally before Angular fills them in; they get an empty
#: SVG instead of a 404 (the interpolated references point inside the page).
_EMPTY_SVG = b'<svg xmlns="http://www.w3.org/2000/svg"/>'
DOCS_LINK = (
    '<link rel="icon" href="data:,">'
    '<a id="shoplake-dashboard-link" href="../dashboard/" title="shoplake dashboard" '
    'style="position:fixed;left:18px;bottom:18px;z-index:10000;padding:9px 16px;'
    "border-radius:999px;background:#0f172a;color:#fff;font:600 13px system-ui,-apple-system,"
    "'Segoe UI',Roboto,Arial,sans-serif;text-decoration:none;"
    'box-shadow:0 4px 14px rgba(15,23,42,.25)">Dashboard &rarr;</a>'
)


def docs_dir(lake: Lake) -> Path:
    """Where ``dbt docs generate`` put the site for the dev target."""
    from shoplake.warehouse import artifacts_dir

    return artifacts_dir(lake, "dev") / "target"


@dataclass
class Site:
    """What the server serves, found (and the dashboard refreshed) once at start."""

    lake: Lake
    docs: Path
    dashboard: Path
    dashboard_problem: str = ""  # why there is no dashboard page, if there is none
    notes: list[str] = field(default_factory=list)


def prepare_site(
    lake: Lake, *, duckdb_path: str | Path | None = None, dashboard: Path | None = None
) -> Site:
    """Check the docs exist, and (re)write the dashboard if it is missing or stale."""
    docs = docs_dir(lake)
    missing = [name for name in DOCS_FILES if not (docs / name).is_file()]
    if missing:
        raise WarehouseError(
            f"no docs site in {docs} (missing {', '.join(missing)})",
            "run `shoplake run` (it builds the warehouse and generates the docs), "
            "or `shoplake build` and then `dbt docs generate` for this lake",
            step="docs",
        )
    site = Site(lake, docs, Path(dashboard) if dashboard else default_dashboard_path(lake))
    warehouse = warehouse_path(lake, duckdb_path)
    stale = not site.dashboard.is_file() or (
        warehouse.is_file() and warehouse.stat().st_mtime > site.dashboard.stat().st_mtime
    )
    if stale:
        try:
            write_dashboard(lake, out=site.dashboard, duckdb_path=duckdb_path)
            site.notes.append(f"dashboard written to {site.dashboard}")
        except ShoplakeError as exc:
            if not site.dashboard.is_file():
                site.dashboard_problem = str(exc)
            site.notes.append(f"dashboard not refreshed: {exc}")
    return site


def _stamp(path: Path) -> str:
    try:
        mtime = path.stat().st_mtime
    except OSError:
        return "not generated yet"
    return datetime.fromtimestamp(mtime, timezone.utc).strftime("%d %b %Y, %H:%M UTC")


def landing_page(site: Site) -> str:
    def card(href: str, title: str, text: str, stamp: str) -> str:
        return (
            f'<a class="card" href="{href}"><h2>{title}</h2><p>{text}</p>'
            f'<p class="stamp">{html.escape(stamp)}</p></a>'
        )

    dashboard_text = (
        "Revenue, orders, AOV and customers by day and region, payments, top products, "
        "the funnel, and the data-quality panel."
    )
    if site.dashboard_problem:
        dashboard_text = f"Not available: {html.escape(site.dashboard_problem)}"
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>shoplake</title><link rel="icon" href="data:,">
<style>
body {{ margin: 0; font-family: system-ui, -apple-system, "Segoe UI", Roboto, Arial, sans-serif;
  background: #f4f6f9; color: #0f172a; }}
header {{ background: #0f172a; color: #fff; padding: 22px 32px; }}
header h1 {{ margin: 0; font-size: 22px; }} header p {{ margin: 4px 0 0; color: #94a3b8; }}
main {{ display: grid; grid-template-columns: repeat(auto-fit, minmax(280px, 1fr)); gap: 18px;
  max-width: 960px; margin: 28px auto; padding: 0 24px; }}
.card {{ display: block; background: #fff; border: 1px solid #e2e8f0; border-radius: 10px;
  padding: 20px 22px; color: inherit; text-decoration: none; }}
.card:hover {{ border-color: #2f5fd0; box-shadow: 0 4px 14px rgba(15,23,42,.08); }}
.card h2 {{ margin: 0 0 6px; font-size: 17px; color: #2f5fd0; }}
.card p {{ margin: 0; color: #334155; line-height: 1.45; }}
.card .stamp {{ margin-top: 10px; font-size: 12.5px; color: #64748b; }}
footer {{ text-align: center; color: #64748b; font-size: 12.5px; }}
</style></head><body>
<header><h1>shoplake</h1><p>{html.escape(site.lake.url())}</p></header>
<main>
{card("dashboard/", "Dashboard", dashboard_text, "written " + _stamp(site.dashboard))}
{
        card(
            "docs/",
            "Data docs",
            "The dbt docs site: every model, column, test and source, with lineage.",
            "generated " + _stamp(site.docs / "index.html"),
        )
    }
</main>
<footer>Refresh both with <code>shoplake run</code>, or the dashboard alone with
<code>shoplake dashboard</code>; reload the page afterwards.</footer>
</body></html>
"""


def docs_index(path: Path) -> bytes:
    """dbt's docs page with a link to the dashboard (and without its broken favicon link)."""
    text = path.read_text("utf-8")
    text = _BROKEN_FAVICON.sub("", text, count=1)
    head, sep, tail = text.rpartition("</body>")
    if not sep:
        return (text + DOCS_LINK).encode("utf-8")
    return (head + DOCS_LINK + sep + tail).encode("utf-8")


class SiteServer(ThreadingHTTPServer):
    """The HTTP server of :func:`make_server`; ``url`` is where it listens."""

    daemon_threads = True

    def __init__(
        self,
        address: tuple[str, int],
        site: Site,
        log: Callable[[str], None] | None,
        allowed_hosts: Sequence[str] = (),
    ):
        self.site = site
        self.log = log
        self.extra_hosts = tuple(allowed_hosts)
        super().__init__(address, _Handler)

    def allows_host(self, header: str | None) -> bool:
        """Whether a request's Host header names this server: 127.0.0.1, localhost,
        [::1] or the bound address, at its port, or a name given with --allow-host (with
        or without the port). Anything else, a DNS-rebinding page above all, gets 421."""
        if not header:
            return False
        host, port = str(self.server_address[0]), self.server_address[1]
        local = {"127.0.0.1", "localhost", "[::1]"}
        if host not in ("0.0.0.0", "::", ""):
            local.add(f"[{host}]" if ":" in host else host)
        allowed = {f"{name}:{port}" for name in local | set(self.extra_hosts)}
        allowed |= set(self.extra_hosts)  # as given: a proxy may drop or change the port
        if port == 80:
            allowed |= local
        return header.strip().lower() in {a.lower() for a in allowed}

    @property
    def url(self) -> str:
        address, port = self.server_address[:2]
        host = address.decode() if isinstance(address, bytes) else address
        shown = f"[{host}]" if ":" in host else host
        return f"http://{shown}:{port}/"


class _Handler(BaseHTTPRequestHandler):
    server: SiteServer
    server_version = "shoplake"

    def do_GET(self) -> None:
        self._respond(body=True)

    def do_HEAD(self) -> None:
        self._respond(body=False)

    def _respond(self, body: bool) -> None:
        if not self.server.allows_host(self.headers.get("Host")):
            return self._send(HTTPStatus.MISDIRECTED_REQUEST, b"", "text/plain", body)
        site = self.server.site
        path = urlsplit(self.path).path
        if path in ("/docs", "/dashboard"):
            return self._send(HTTPStatus.MOVED_PERMANENTLY, b"", "text/plain", body, path + "/")
        if path in ("/", "/index.html"):
            return self._send(HTTPStatus.OK, landing_page(site).encode(), "text/html", body)
        if path in ("/dashboard/", "/dashboard/index.html"):
            try:
                return self._send(HTTPStatus.OK, site.dashboard.read_bytes(), "text/html", body)
            except OSError:
                reason = site.dashboard_problem or f"{site.dashboard} does not exist"
                return self._not_found(f"No dashboard yet: {reason}. Run `shoplake dashboard`.")
        if path.startswith("/docs/"):
            name = unquote(path[len("/docs/") :]) or "index.html"
            if name.startswith("{{"):
                return self._send(HTTPStatus.OK, _EMPTY_SVG, "image/svg+xml", body)
            if name in DOCS_FILES:
                try:
                    file = site.docs / name
                    data = docs_index(file) if name == "index.html" else file.read_bytes()
                except OSError:
                    return self._not_found(f"{name} is missing from {site.docs}")
                return self._send(HTTPStatus.OK, data, DOCS_FILES[name], body)
        return self._not_found(f"Nothing at {path}. Try / for the dashboard and the docs.")

    def _not_found(self, message: str) -> None:
        page = (
            '<!doctype html><meta charset="utf-8"><link rel="icon" href="data:,">'
            f"<title>Not found</title><p>{html.escape(message)}</p>"
            '<p><a href="/">shoplake</a></p>'
        )
        self._send(HTTPStatus.NOT_FOUND, page.encode(), "text/html", True)

    def _send(
        self, status: HTTPStatus, data: bytes, kind: str, body: bool, location: str = ""
    ) -> None:
        self.send_response(status)
        if "charset" not in kind and kind.startswith("text/"):
            kind += "; charset=utf-8"
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-cache")
        if location:
            self.send_header("Location", location)
        self.end_headers()
        if body:
            self.wfile.write(data)

    def log_message(self, format: str, *args) -> None:
        if self.server.log:
            self.server.log(f"{self.address_string()} {format % args}")


def make_server(
    lake: Lake,
    *,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    duckdb_path: str | Path | None = None,
    log: Callable[[str], None] | None = None,
    allowed_hosts: Sequence[str] = (),
) -> SiteServer:
    """A server bound and ready (``serve_forever`` runs it); port 0 picks a free port.
    ``allowed_hosts``: more names the Host header may carry (see
    :meth:`SiteServer.allows_host`)."""
    site = prepare_site(lake, duckdb_path=duckdb_path)
    try:
        return SiteServer((host, port), site, log, allowed_hosts)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise ConfigError(
                f"port {port} on {host} is already in use",
                "stop the program using it or pick another with --port",
                setting="port",
            ) from exc
        raise ConfigError(
            f"cannot listen on {host}:{port}: {exc.strerror or exc}",
            "check --host (an address of this machine) and --port",
            setting="port",
        ) from exc


def serve(
    lake: Lake,
    *,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    duckdb_path: str | Path | None = None,
    allowed_hosts: Sequence[str] = (),
    say: Callable[[str], None] = print,
) -> None:
    """Serve until Ctrl-C (SIGINT) or SIGTERM, then close the socket and return.

    Both signals stop it even when the process was started with SIGINT ignored (as a
    shell's background job is), the way ``shoplake alerts watch`` stops."""
    server = make_server(
        lake,
        host=host,
        port=port,
        duckdb_path=duckdb_path,
        log=lambda line: print(line, file=sys.stderr),
        allowed_hosts=allowed_hosts,
    )
    for note in server.site.notes:
        say(note)
    say(f"serving {server.url} (dashboard: {server.url}dashboard/, docs: {server.url}docs/)")
    say("press Ctrl-C to stop")
    stops_on = (signal.SIGINT, signal.SIGTERM)
    in_main = threading.current_thread() is threading.main_thread()
    before = {sig: signal.signal(sig, signal.default_int_handler) for sig in stops_on if in_main}
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        say("stopped")
    finally:
        server.server_close()
        for sig, handler in before.items():
            signal.signal(sig, handler)
