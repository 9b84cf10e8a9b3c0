"""``shoplake serve``: the docs site and the dashboard on one local port, over real HTTP
(a server on 127.0.0.1 and a client), in headless Chromium, and as a child process
stopped with Ctrl-C (SIGINT) or SIGTERM."""

from __future__ import annotations

import json
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import closing, contextmanager

import pytest
from browser import chromium, load_page, open_page, screenshot_path

from shoplake.dashboard import default_dashboard_path, write_dashboard
from shoplake.errors import ShoplakeError
from shoplake.lake import Lake
from shoplake.serve import make_server
from shoplake.warehouse import project_dir


@contextmanager
def running(lake: Lake, **kw) -> Iterator[str]:
    """A server on a free port of 127.0.0.1, serving in a thread; yields its base URL."""
    server = make_server(lake, port=0, **kw)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.url
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def fetch(url: str, method: str = "GET") -> tuple[int, dict[str, str], bytes]:
    """Status, headers and body, without following redirects."""

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    opener = urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(urllib.request.Request(url, method=method), timeout=30) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), err.read()


def docs(lake: Lake):
    return lake.root / "_state" / "dbt" / "dev" / "target"


def free_port() -> int:
    with closing(socket.socket()) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_serves_landing_page_docs_and_dashboard(lake_copy: Lake) -> None:
    dashboard = write_dashboard(lake_copy)
    with running(lake_copy) as url:
        assert url.startswith("http://127.0.0.1:")

        status, headers, body = fetch(url)
        assert status == 200
        assert headers["Content-Type"].startswith("text/html")
        assert 'href="dashboard/"' in body.decode()
        assert 'href="docs/"' in body.decode()

        status, _, body = fetch(url + "dashboard/")
        assert (status, body) == (200, dashboard.read_bytes())

        status, _, body = fetch(url + "docs/")
        page = body.decode()
        original = (docs(lake_copy) / "index.html").read_text("utf-8")
        assert status == 200
        assert '<a id="shoplake-dashboard-link" href="../dashboard/"' in page
        assert page.count("</body>") == 1
        assert page.index("shoplake-dashboard-link") < page.index("</body>")
        assert "${require(" not in page  # dbt's unexpanded favicon reference is gone
        assert len(page) - len(original) < 1000  # the rest is dbt's page as generated

        for name in ("manifest.json", "catalog.json"):
            status, headers, body = fetch(url + "docs/" + name)
            assert status == 200
            assert headers["Content-Type"] == "application/json"
            assert json.loads(body) == json.loads((docs(lake_copy) / name).read_text("utf-8"))
        status, _, body = fetch(url + "docs/manifest.json?cb=123")
        assert status == 200

        for path in ("docs", "dashboard"):
            status, headers, _ = fetch(url + path)
            assert (status, headers["Location"]) == (301, f"/{path}/")
        status, headers, body = fetch(url + "docs/", method="HEAD")
        assert status == 200
        assert body == b""
        assert int(headers["Content-Length"]) > 0

        # only the docs site's files: not the rest of dbt's target directory, nor the lake
        assert (docs(lake_copy) / "run_results.json").is_file()
        for path in (
            "docs/run_results.json",
            "docs/../warehouse.duckdb",
            "docs/compiled",
            "warehouse.duckdb",
            "site/dashboard.html",
            "nothing-here",
        ):
            assert fetch(url + path)[0] == 404, path


def test_a_later_dashboard_is_served_without_a_restart(lake_copy: Lake) -> None:
    page = write_dashboard(lake_copy)
    with running(lake_copy) as url:
        page.write_text("<!doctype html><p>written by a later run</p>", "utf-8")
        assert b"written by a later run" in fetch(url + "dashboard/")[2]


def test_writes_the_dashboard_when_missing(lake_copy: Lake) -> None:
    page = default_dashboard_path(lake_copy)
    assert not page.exists()
    server = make_server(lake_copy, port=0)
    server.server_close()
    assert page.is_file()
    assert any("dashboard written" in note for note in server.site.notes)


def test_without_marts_the_docs_are_served_and_the_dashboard_explains(lake_copy: Lake) -> None:
    (lake_copy.root / "warehouse.duckdb").unlink()
    with running(lake_copy) as url:
        assert fetch(url + "docs/")[0] == 200
        status, _, body = fetch(url + "dashboard/")
        assert status == 404
        assert "shoplake build" in body.decode()
        assert "Not available" in fetch(url)[2].decode()


def test_no_docs_says_how_to_generate_them(lake_copy: Lake) -> None:
    shutil.rmtree(docs(lake_copy))
    with pytest.raises(ShoplakeError, match="no docs site") as caught:
        make_server(lake_copy, port=0)
    assert "shoplake run" in caught.value.hint


def test_port_in_use_is_a_clear_error(lake_copy: Lake) -> None:
    with closing(socket.socket()) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(ShoplakeError, match=f"port {port} on 127.0.0.1 is already in use"):
            make_server(lake_copy, port=port)


def _as_a_background_job() -> None:
    """A shell without job control starts background commands with SIGINT ignored."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


@pytest.mark.parametrize(
    ("stop", "start"),
    [
        (signal.SIGINT, None),
        (signal.SIGINT, _as_a_background_job),
        (signal.SIGTERM, None),
    ],
    ids=["ctrl_c", "ctrl_c_with_sigint_inherited_ignored", "sigterm"],
)
def test_command_serves_until_stopped(lake_copy: Lake, stop: int, start) -> None:
    port = free_port()
    command = ["serve", "--lake", str(lake_copy.root), "--port", str(port)]
    child = subprocess.Popen(
        [sys.executable, "-m", "shoplake.cli", *command],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=start,
    )
    try:
        lines = []
        for line in child.stdout:
            lines.append(line)
            if line.startswith("serving "):
                break
        assert lines, child.stderr.read()
        assert re.search(rf"serving http://127\.0\.0\.1:{port}/", lines[-1]), lines
        assert fetch(f"http://127.0.0.1:{port}/docs/")[0] == 200
        child.send_signal(stop)
        out, err = child.communicate(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert child.returncode == 0, err
    assert "stopped" in out
    assert "Traceback" not in err
    with closing(socket.socket()) as again:  # nothing listens there any more
        again.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as a server would
        again.bind(("127.0.0.1", port))
        again.listen()


def overview_heading() -> str:
    """The first heading of the docs site's home page (the project's models/overview.md)."""
    text = (project_dir() / "models" / "overview.md").read_text("utf-8")
    return next(line[2:].strip() for line in text.splitlines() if line.startswith("# "))


@pytest.mark.browser
def test_docs_and_dashboard_in_chromium_link_to_each_other(lake_copy: Lake) -> None:
    write_dashboard(lake_copy)
    home = f"text={overview_heading()}"
    with running(lake_copy) as url, chromium() as browser:
        landing = load_page(url, "serve-landing", browser=browser, wait_for="text=Data docs")
        assert not landing.problems, landing.problems
        assert landing.screenshot.is_file()
        with open_page(browser, url) as (page, check):
            page.click("text=Data docs")
            page.wait_for_url(re.compile(r".*/docs/.*"))
            page.wait_for_selector(home)  # the docs app has loaded the project and rendered
            page.wait_for_load_state("networkidle")
            page.screenshot(path=str(screenshot_path("serve-docs")))
            page.click("#shoplake-dashboard-link")
            page.wait_for_url(url + "dashboard/")
            page.wait_for_selector("#kpi-revenue .value")
            page.wait_for_load_state("networkidle")
            page.screenshot(path=str(screenshot_path("serve-dashboard")), full_page=True)
            assert page.get_attribute("#docs-link", "href") == "../docs/"
            page.click("#docs-link")
            page.wait_for_url(re.compile(r".*/docs/.*"))
            page.wait_for_selector(home)
            page.wait_for_load_state("networkidle")
        assert not check.problems, check.problems

        with open_page(browser, url + "docs/#!/model/model.shoplake.agg_daily_revenue") as (
            page,
            check,
        ):
            page.wait_for_selector("text=revenue_usd >> visible=true")
            page.wait_for_load_state("networkidle")
            page.screenshot(path=str(screenshot_path("serve-docs-model")))
        assert not check.problems, check.problems


def raw_get(port: int, path: str, host: str | None) -> tuple[int, bytes]:
    """A GET written by hand, with exactly the Host header given (None: no header), as a
    page on another site reaches 127.0.0.1 after a DNS rebinding. (status, body)."""
    request = f"GET {path} HTTP/1.0\r\n" + (f"Host: {host}\r\n" if host is not None else "")
    with socket.create_connection(("127.0.0.1", port), timeout=30) as conn:
        conn.sendall((request + "\r\n").encode())
        response = b""
        while chunk := conn.recv(65536):
            response += chunk
    head, _, body = response.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


def test_serve_answers_only_requests_for_its_own_host_names(lake_copy: Lake) -> None:
    write_dashboard(lake_copy)
    port = free_port()
    command = ["serve", "--lake", str(lake_copy.root), "--port", str(port)]
    child = subprocess.Popen(
        [sys.executable, "-m", "shoplake.cli", *command, "--allow-host", "shop.internal"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        for line in child.stdout:
            if line.startswith("serving "):
                break
        for host in ("evil.example", f"evil.example:{port}", f"127.0.0.1.evil.example:{port}"):
            for path in ("/", "/docs/manifest.json", "/dashboard/"):
                assert raw_get(port, path, host) == (421, b""), (host, path)
        assert raw_get(port, "/", None) == (421, b"")
        for host in (
            f"127.0.0.1:{port}",
            f"localhost:{port}",
            "shop.internal",
            f"shop.internal:{port}",
        ):
            status, body = raw_get(port, "/dashboard/", host)
            assert status == 200, host
            assert b"<html" in body.lower()
    finally:
        child.send_signal(signal.SIGINT)
        child.communicate(timeout=30)
