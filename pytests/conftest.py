"""Shared fixtures: a real PostgreSQL server on 127.0.0.1 (see postgres_server.py).

* ``postgres_server`` (session): the running :class:`postgres_server.PostgresServer`
  (``.dsn(db)``, ``.url(db)``, ``.conninfo(db)``, ``.create_database(name)``). Under
  pytest-xdist every worker starts its own server.
* ``postgres_dsn`` (session): DSN of a database created once per session (shared by the
  tests of the session: do not assume it is empty).
* ``postgres_db`` (function): DSN of a fresh empty database for one test, dropped after it.

A test that uses any of them is marked ``postgres`` automatically (``-m "not postgres"``
deselects them). If the server cannot start, those tests fail with the reason; they are
never skipped.
"""

from __future__ import annotations

import itertools
import os
import re
from collections.abc import Iterator

import pytest
from postgres_server import PostgresServer, PostgresUnavailable, start_server

POSTGRES_FIXTURES = frozenset({"postgres_server", "postgres_dsn", "postgres_db"})
_db_numbers = itertools.count(1)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if POSTGRES_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.postgres)


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
