"""Connections to the shop's PostgreSQL: DSN parsing, a connect with a timeout and a UTC
session, and error lines that never name a password."""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict

from shoplake.errors import (
    DatabaseConnectionError,
    ExtractError,
    dsn_secrets,
    first_line,
    invalid_dsn_error,
    redact,
)

#: How long to wait for the server when the DSN does not say (seconds).
CONNECT_TIMEOUT = 10


def redact_dsn(text: str, dsn: str) -> str:
    """``text`` with any password from ``dsn`` (or password-looking DSN parts) masked."""
    return redact(text, dsn_secrets(dsn))


def describe(params: dict[str, Any]) -> str:
    """host:port/dbname (user) of a parsed DSN, for messages; never the password."""
    host = params.get("host") or params.get("hostaddr") or "localhost"
    port = params.get("port") or "5432"
    user = params.get("user")
    where = f"{host}:{port}/{params.get('dbname') or user or '(default database)'}"
    return f"{where} as {user}" if user else where


def parse_dsn(dsn: str) -> dict[str, Any]:
    try:
        return conninfo_to_dict(dsn)
    except psycopg.ProgrammingError:
        raise invalid_dsn_error() from None


def connect(dsn: str, **kwargs: Any) -> psycopg.Connection[Any]:
    """Open a connection, or raise a one-line ShoplakeError that names no password."""
    params = parse_dsn(dsn)
    if "connect_timeout" not in params:
        kwargs.setdefault("connect_timeout", CONNECT_TIMEOUT)
    if "application_name" not in params:
        kwargs.setdefault("application_name", "shoplake")
    try:
        conn = psycopg.connect(dsn, **kwargs)
    except psycopg.Error as exc:
        raise DatabaseConnectionError(
            f"cannot connect to PostgreSQL at {describe(params)}: "
            f"{redact_dsn(first_line(exc), dsn)}",
            "check --postgres-dsn / SHOPLAKE_POSTGRES_DSN and that the server is running",
        ) from None
    conn.execute("SET TIME ZONE 'UTC'")
    conn.commit()
    return conn


def table_identifier(table: str) -> sql.Identifier:
    """``name`` or ``schema.name`` as a safely quoted identifier (names are literal)."""
    parts = table.split(".")
    if not 1 <= len(parts) <= 2 or not all(p.strip() for p in parts):
        raise ExtractError(
            f"invalid products table name {table!r}",
            "give it as table or schema.table, e.g. public.products",
            table=table,
        )
    return sql.Identifier(*(p.strip() for p in parts))
