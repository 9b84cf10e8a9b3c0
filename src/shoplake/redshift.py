"""The ``prod`` warehouse (Redshift) reached from Python, outside dbt: publish and maintain.

The connection comes from the same ``SHOPLAKE_REDSHIFT_*`` variables as the dbt profile
(``profiles.yml.example``), so one environment serves ``shoplake build --target prod``,
``shoplake publish --target prod`` and ``shoplake maintain --target prod``. Redshift
speaks the PostgreSQL wire protocol; psycopg (already a dependency) talks to it, with
TLS required as in the profile.
"""

from __future__ import annotations

import os
from typing import Any

from shoplake.errors import ShoplakeError

#: The Redshift role that may write UNLOAD output into the lake (``deploy aws`` creates
#: ``<name>-redshift-unload``; attach it to the cluster or workgroup beside Spectrum's).
UNLOAD_ROLE_ENV = "SHOPLAKE_REDSHIFT_UNLOAD_ROLE"


def schema() -> str:
    """The schema dbt builds the marts in on prod (the profile's default)."""
    return os.environ.get("SHOPLAKE_REDSHIFT_SCHEMA") or "analytics"


def connect(autocommit: bool = True) -> Any:
    """A psycopg connection to the prod warehouse; a clear error when it is not configured.

    ``autocommit`` defaults to on: VACUUM cannot run inside a transaction block, and
    UNLOAD needs none.
    """
    import psycopg

    missing = [
        name
        for name in ("SHOPLAKE_REDSHIFT_HOST", "SHOPLAKE_REDSHIFT_USER")
        if not os.environ.get(name)
    ]
    if missing:
        raise ShoplakeError(
            f"the prod target needs {' and '.join(missing)}",
            "set the SHOPLAKE_REDSHIFT_* variables (see docs/aws.md)",
        )
    try:
        return psycopg.connect(
            host=os.environ["SHOPLAKE_REDSHIFT_HOST"],
            port=int(os.environ.get("SHOPLAKE_REDSHIFT_PORT") or 5439),
            user=os.environ["SHOPLAKE_REDSHIFT_USER"],
            password=os.environ.get("SHOPLAKE_REDSHIFT_PASSWORD", ""),
            dbname=os.environ.get("SHOPLAKE_REDSHIFT_DBNAME") or "analytics",
            sslmode="require",
            autocommit=autocommit,
            connect_timeout=30,
        )
    except psycopg.Error as exc:
        raise ShoplakeError(
            f"cannot connect to Redshift at {os.environ['SHOPLAKE_REDSHIFT_HOST']}: "
            f"{str(exc).strip().splitlines()[0]}",
            "check SHOPLAKE_REDSHIFT_HOST/PORT/USER/PASSWORD and the network path",
        ) from exc


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def quote_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"
