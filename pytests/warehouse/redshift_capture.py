"""Run dbt against Redshift without a cluster, recording every SQL statement it sends.

Usage (by test_redshift_offline.py, in a child process)::

    python redshift_capture.py OUT.json -- <dbt arguments>

``redshift_connector.connect`` is replaced by a recording connection: each statement is
kept and answered as an empty cluster would answer it (no schemas, no relations), with
the few answers dbt cannot do without made up: one row of zero failures for each data
test, a day count for dbt.date_spine. The contract check (which compares the column
types Redshift would infer for a model's query with the declared ones) is switched off,
because only a real cluster can infer them. The captured statements go to OUT.json.
"""

from __future__ import annotations

import json
import re
import sys

import redshift_connector

CAPTURED: list[dict] = []


class FakeCursor:
    def __init__(self) -> None:
        self.description = None
        self.rowcount = -1
        self.redshift_rowcount = -1
        self._rows: list[tuple] = []
        self.arraysize = 1

    def execute(self, operation: str, args=None, stream=None, merge_socket_read=False):
        CAPTURED.append({"sql": operation, "args": list(args) if args else None})
        self._answer(operation)
        return self

    def executemany(self, operation: str, param_sets):
        for params in param_sets:
            self.execute(operation, params)
        return self

    def _answer(self, sql: str) -> None:
        text = " ".join(sql.lower().split())
        if "dbt_internal_test" in text:
            self.description = [("failures",), ("should_warn",), ("should_error",)]
            self._rows = [(0, False, False)]
        elif re.search(r"^(/\*.*?\*/ )?select datediff\(", text):
            self.description = [("datediff",)]
            self._rows = [(4018,)]
        else:
            self.description = None
            self._rows = []
        self.rowcount = self.redshift_rowcount = len(self._rows)

    def fetchall(self):
        rows, self._rows = self._rows, []
        return rows

    def fetchmany(self, size=None):
        n = size or self.arraysize
        rows, self._rows = self._rows[:n], self._rows[n:]
        return rows

    def fetchone(self):
        return self._rows.pop(0) if self._rows else None

    def close(self) -> None:
        pass

    def __enter__(self) -> FakeCursor:
        return self

    def __exit__(self, *exc: object) -> None:
        pass


class FakeConnection:
    autocommit = True

    def cursor(self) -> FakeCursor:
        return FakeCursor()

    def commit(self) -> None:
        pass

    def rollback(self) -> None:
        pass

    def close(self) -> None:
        pass


def fake_connect(*args, **kwargs) -> FakeConnection:
    return FakeConnection()


def main(argv: list[str]) -> int:
    out, dbt_args = argv[0], argv[argv.index("--") + 1 :]
    redshift_connector.connect = fake_connect
    from dbt.adapters.redshift import connections as rs_connections
    from dbt.adapters.redshift.impl import RedshiftAdapter

    rs_connections.redshift_connector.connect = fake_connect
    # Only a live cluster can say which column types a query yields: the contract
    # comparison sees no columns on either side (the DDL with the declared types is
    # still generated and captured).
    RedshiftAdapter.get_column_schema_from_query = lambda self, sql: []
    from dbt.cli.main import dbtRunner

    result = dbtRunner().invoke(dbt_args)
    with open(out, "w", encoding="utf-8") as f:
        json.dump(CAPTURED, f)
    if result.exception is not None:
        print(f"dbt raised: {result.exception!r}", file=sys.stderr)
    return 0 if result.success else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
