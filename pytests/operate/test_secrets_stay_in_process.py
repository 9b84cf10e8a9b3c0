"""What one whole run leaves on disk: no secret, and nothing others can read.

The whole pipeline runs once (module fixture) with marker secrets in its environment (the
e-mail salt, a PostgreSQL password, AWS keys, webhook credentials), with a link to the
process environment planted in the raw zone, and then:

* every file the lake, the dbt artifacts and logs and the served site contain is searched
  for the markers: each is a string that nothing else in a lake could contain by chance,
  so finding any part of one anywhere is a leak;
* least exposure (issue 9): what ingest, build, the docs, the dashboard and alerts create
  (silver with emails, names and IPs, quarantined raw records, the warehouse, the site,
  the alerts ledger) is readable by its owner only, by default.
"""

from __future__ import annotations

import http.server
import threading
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest
from cli_kit import run_shoplake
from run_kit import START, generated_lake

from shoplake.serve import make_server
from shoplake.warehouse import project_dir

SALT = "saltmarker9f2c41"
PG_PASSWORD = "pgpassmarker5d17"
AWS_SECRET = "awssecretmarker83ab"
WEBHOOK_PASSWORD = "hookpassmarker2e6f"
WEBHOOK_TOKEN = "hooktokenmarker7c90"
MARKERS = (SALT, PG_PASSWORD, AWS_SECRET, WEBHOOK_PASSWORD, WEBHOOK_TOKEN)


@contextmanager
def webhook_receiver() -> Iterator[str]:
    """An HTTP receiver on 127.0.0.1 that accepts every POST; yields its base URL."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def served_bodies(lake_root: Path) -> dict[str, bytes]:
    """Every page and file `shoplake serve` answers for, fetched over HTTP."""
    from shoplake.lake import Lake

    server = make_server(Lake.at(lake_root), port=0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    bodies: dict[str, bytes] = {}
    try:
        for path in (
            "",
            "docs/",
            "docs/index.html",
            "docs/manifest.json",
            "docs/catalog.json",
            "dashboard/",
        ):
            with urllib.request.urlopen(server.url + path, timeout=30) as resp:
                bodies[path] = resp.read()
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
    return bodies


def leaks(data: bytes) -> list[str]:
    return [m for m in MARKERS if m.encode() in data]


@dataclass(frozen=True)
class SecretRun:
    lake_root: Path
    outputs: list[str]  # stdout and stderr of every command


@pytest.fixture(scope="module")
def secret_run(tmp_path_factory: pytest.TempPathFactory, postgres_server) -> Iterator[SecretRun]:
    """generate, `shoplake run` (extract from PostgreSQL included), a PostgreSQL build and
    the alerts watcher, all with the marker secrets in their environment."""
    tmp_path = tmp_path_factory.mktemp("secret-run")
    postgres_db = postgres_server.create_database("secret_run")
    lake = generated_lake(tmp_path / "lake")
    dsn = f"{postgres_db} password={PG_PASSWORD}"  # the server trusts: any password works
    env = {
        "SHOPLAKE_EMAIL_SALT": SALT,
        "SHOPLAKE_POSTGRES_DSN": dsn,
        "PGPASSWORD": PG_PASSWORD,
        "AWS_SECRET_ACCESS_KEY": AWS_SECRET,
    }
    # a link to this process's environment, dropped where clickstream lands
    hour = lake.root / "raw" / "clickstream" / START.replace("-", "/") / "09"
    hour.mkdir(parents=True, exist_ok=True)
    (hour / "environ.json").symlink_to("/proc/self/environ")

    # the catalog in PostgreSQL, so the run's extract step connects with the password
    loaded = run_shoplake(
        "generate",
        "--lake",
        str(tmp_path / "catalog-only"),
        "--start",
        START,
        "--days",
        "1",
        "--orders-per-day",
        "1",
        env=env,
    )
    assert loaded.returncode == 0, loaded.stderr

    run = run_shoplake("run", "--lake", str(lake.root), env=env)
    assert run.returncode == 0, run.stdout + run.stderr
    outputs = [run.stdout, run.stderr]

    pg = run_shoplake(
        "build", "--lake", str(lake.root), "--target", "postgres", "--postgres-dsn", dsn, env=env
    )
    assert pg.returncode == 0, pg.stdout + pg.stderr
    outputs += [pg.stdout, pg.stderr]

    with webhook_receiver() as host:
        hook = f"http://alerts:{WEBHOOK_PASSWORD}@{host}/hook?token={WEBHOOK_TOKEN}"
        for args in (
            ("alerts", "watch", "--once", "--backfill", START, "--webhook", hook),
            ("alerts", "status"),
        ):
            alerts = run_shoplake(*args, "--lake", str(lake.root), env=env)
            assert alerts.returncode == 0, alerts.stdout + alerts.stderr
            outputs += [alerts.stdout, alerts.stderr]
    assert list(lake.root.glob("alerts/**/*.ndjson")), "the watcher published no alert"
    yield SecretRun(lake.root, outputs)
    postgres_server.drop_database("secret_run")


def test_no_secret_reaches_any_artifact(secret_run: SecretRun) -> None:
    lake_root, outputs = secret_run.lake_root, secret_run.outputs
    # the output of every command
    for text in outputs:
        assert not leaks(text.encode()), text

    # every file of the lake (silver, quarantine, run logs, dbt artifacts and logs, the
    # warehouse, the site, the alert ledger), and dbt's default places in the project
    searched = 0
    roots = [lake_root, project_dir() / "target", project_dir() / "logs"]
    for root in roots:
        for path in root.rglob("*"):
            if path.is_file() and not path.is_symlink():
                assert not leaks(path.read_bytes()), path
                searched += 1
    assert searched > 50

    # the objects' SQL as the warehouse stores it
    with duckdb.connect(str(lake_root / "warehouse.duckdb"), read_only=True) as con:
        definitions = con.execute(
            "select coalesce(sql, '') from duckdb_views() "
            "union all select coalesce(sql, '') from duckdb_tables()"
        ).fetchall()
    assert definitions
    for (sql,) in definitions:
        assert not leaks(sql.encode()), sql

    # what `shoplake serve` sends
    for path, body in served_bodies(lake_root).items():
        assert not leaks(body), path

    # and the hashed e-mails really are salted with the marker: every customer's hash is
    # the SHA-256 of the marker and one of its delivered addresses
    with duckdb.connect(str(lake_root / "warehouse.duckdb"), read_only=True) as con:
        customers, matched = con.execute(
            "select count(*), count(*) filter (where exists ("
            "  select 1 from read_parquet(?) as silver"
            "  where silver.customer_id = dim.customer_id"
            "    and dim.email_hash = sha256(? || lower(trim(silver.email)))))"
            " from main.dim_customers as dim where not dim.is_inferred",
            [str(lake_root / "silver" / "customers" / "**" / "*.parquet"), SALT],
        ).fetchone()
    assert customers > 0
    assert matched == customers


def test_the_run_creates_nothing_that_group_or_others_can_read(secret_run: SecretRun) -> None:
    root = secret_run.lake_root
    expected = [
        root / "warehouse.duckdb",
        root / "site" / "dashboard.html",
        root / "_state" / "dbt" / "dev" / "target" / "manifest.json",
        root / "_state" / "dbt" / "dev" / "target" / "index.html",
        root / "_state" / "dbt" / "dev" / "logs" / "dbt.log",
        root / "_state" / "alerts",
        *root.glob("silver/*/year=*/month=*/day=*/*.parquet"),
        *root.glob("quarantine/*/year=*/**/*.parquet"),
    ]
    assert any("silver" in str(p) for p in expected)
    assert any("quarantine" in str(p) for p in expected)
    for path in expected:
        assert path.exists(), path
    exposed = [
        f"{oct(p.lstat().st_mode & 0o777)} {p.relative_to(root)}"
        for p in [root, *root.rglob("*")]
        if not p.is_symlink() and p.lstat().st_mode & 0o077
    ]
    assert not exposed, exposed
