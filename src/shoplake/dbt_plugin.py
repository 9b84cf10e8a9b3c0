"""The dbt-duckdb plugin of the shoplake profile: the e-mail salt as a session variable.

``email_hash`` (macros/hash_email.sql) reads the salt with ``getvariable('<name>')``
instead of a literal, so the salt is in no SQL text dbt writes (compiled/, run/,
manifest.json, run_results.json, dbt.log) nor in any object of the warehouse: the
variable lives in the connection only. DuckDB variables belong to one connection and
dbt-duckdb runs every query on a cursor (a connection of its own), so the plugin sets
it on the connection and on every cursor. The model that hashes is a table, so the
warehouse holds only the hashes (a view would call getvariable in analysts' sessions).

Registered in ``profiles.yml.example`` (``plugins: [{module: shoplake.dbt_plugin}]``);
the salt comes from :func:`shoplake.warehouse.email_salt`.
"""

from __future__ import annotations

from dbt.adapters.duckdb.plugins import BasePlugin

from shoplake.warehouse import SALT_VARIABLE, email_salt


class Plugin(BasePlugin):
    def configure_connection(self, conn) -> None:
        _set_salt(conn)

    def configure_cursor(self, cursor) -> None:
        _set_salt(cursor)


def _set_salt(conn) -> None:
    # A bound parameter: the value never becomes part of a statement's text.
    conn.execute(f"set variable {SALT_VARIABLE} = ?", [email_salt("dev")])
