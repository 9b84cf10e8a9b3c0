"""Shared fixtures: a real PostgreSQL server on 127.0.0.1 (see postgres_server.py).

* ``postgres_server`` (session): the running :class:`postgres_server.PostgresServer`
  (``.dsn(db)``, ``.url(db)``, ``.conninfo(db)``, ``.create_database(name)``). Under
  pytest-xdist every worker starts its own server.
* ``postgres_dsn`` (session): DSN of a database created once per session (shared by the
  tests of the session: do not assume it is empty).
* ``postgres_db`` (function): DSN of a fresh empty database for one test, dropped after it.

And a local AWS endpoint, moto's server mode on 127.0.0.1 (see aws_server.py):

* ``aws_server`` (session): the running server (``.endpoint_url``, ``.environ()``).
* ``aws_env`` (function): sets AWS_ENDPOINT_URL, fake credentials and region for one test.
* ``s3_bucket`` (function): name of a fresh empty bucket on it.

And ``lock_holder`` (function): ``lock_holder(lake_url, name="ingest")`` starts a process
holding that lake's run lock, local or s3:// (see lock_kit.py); killed after the test.

A test that uses any of them is marked ``postgres`` (or ``aws``) automatically
(``-m "not postgres"`` deselects them). If the server cannot start, those tests fail
with the reason; they are never skipped.
"""

from __future__ import annotations

import itertools
import os
import re
from collections.abc import Callable, Iterator

import pytest
from aws_server import AwsEndpointUnavailable, AwsServer
from aws_server import start_server as start_aws_server
from lock_kit import LockHolder
from postgres_server import PostgresServer, PostgresUnavailable, start_server

POSTGRES_FIXTURES = frozenset({"postgres_server", "postgres_dsn", "postgres_db"})
_db_numbers = itertools.count(1)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        names = getattr(item, "fixturenames", ())
        if POSTGRES_FIXTURES.intersection(names):
            item.add_marker(pytest.mark.postgres)
        if AWS_FIXTURES.intersection(names):
            item.add_marker(pytest.mark.aws)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    try:
        server = start_server(tag=worker)
    except PostgresUnavailable as exc:
        reason = str(exc)
    else:
        reason = ""
    if reason:  # outside the except block: one clear message, no chained traceback
        pytest.fail(f"the PostgreSQL test server could not start: {reason}", pytrace=False)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def postgres_dsn(postgres_server: PostgresServer) -> str:
    return postgres_server.create_database("shoplake_session")


@pytest.fixture
def postgres_db(postgres_server: PostgresServer, request: pytest.FixtureRequest) -> Iterator[str]:
    slug = re.sub(r"[^a-z0-9]+", "_", request.node.name.lower()).strip("_")[:40]
    name = f"t{next(_db_numbers)}_{slug}"
    dsn = postgres_server.create_database(name)
    yield dsn
    postgres_server.drop_database(name)


# --- a local AWS endpoint (moto server mode) -------------------------------------------
AWS_FIXTURES = frozenset({"aws_server", "aws_env", "s3_bucket"})
_bucket_numbers = itertools.count(1)


@pytest.fixture(scope="session")
def aws_server() -> Iterator[AwsServer]:
    """moto's server on 127.0.0.1, one per xdist worker; fails (never skips) if it can't start."""
    try:
        server = start_aws_server()
    except AwsEndpointUnavailable as exc:
        reason = str(exc)
    else:
        reason = ""
    if reason:
        pytest.fail(f"the local AWS endpoint could not start: {reason}", pytrace=False)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def aws_env(aws_server: AwsServer, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The standard AWS environment variables pointing at the local endpoint (this test only)."""
    env = aws_server.environ()
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    return env


@pytest.fixture
def s3_bucket(aws_env: dict[str, str], request: pytest.FixtureRequest) -> str:
    """A fresh, empty bucket on the local endpoint; returns its name."""
    import boto3

    slug = re.sub(r"[^a-z0-9]+", "-", request.node.name.lower()).strip("-")[:40]
    name = f"t{next(_bucket_numbers)}-{slug}".strip("-")
    boto3.client("s3", endpoint_url=aws_env["AWS_ENDPOINT_URL"]).create_bucket(Bucket=name)
    return name


@pytest.fixture
def lock_holder() -> Iterator[Callable[..., LockHolder]]:
    """Start processes that hold a lake's run lock (local or s3://) until released or
    killed: ``lock_holder(lake_url, name="ingest")``. Any still running are killed after."""
    holders: list[LockHolder] = []

    def start(lake_url: str, name: str = "ingest") -> LockHolder:
        holders.append(LockHolder(lake_url, name))
        return holders[-1]

    yield start
    for holder in holders:
        holder.kill()
