"""Gold from Redshift (prod), offline: the UNLOAD statements publish would send, parsed
with SQLFluff's Redshift grammar (like the build's SQL in pytests/warehouse), together
with the query each one unloads.

What this does not prove: that Redshift runs them (no cluster here), that the unload
role may write the scratch prefix, or the Parquet types Redshift writes.
"""

from __future__ import annotations

import re

import sqlfluff

from shoplake.gold import MARTS, unload_statements
from shoplake.lake import Lake

ROLE = "arn:aws:iam::123456789012:role/acme-shoplake-redshift-unload"


def _statements() -> dict[str, str]:
    lake = Lake.at("s3://acme-shoplake-processed/lake")
    return unload_statements(lake, "gold-20261203T020000Z-abc123", ROLE, "analytics")


def test_every_mart_is_unloaded_as_partitioned_parquet_into_the_run_scratch_prefix():
    statements = _statements()
    assert set(statements) == set(MARTS)
    for name, sql in statements.items():
        assert (
            f"to 's3://acme-shoplake-processed/lake/_state/gold/unload/"
            f"gold-20261203T020000Z-abc123/{name}/'" in sql
        )
        assert f"iam_role '{ROLE}'" in sql
        assert "format as parquet" in sql
        keys = MARTS[name].partition_keys
        if keys:
            assert sql.rstrip().endswith(f"partition by ({', '.join(keys)})")
        else:
            assert "partition by" not in sql
    assert "partition by (month, region)" in statements["agg_daily_revenue"]
    assert "partition by (region)" in statements["dim_customers"]
    assert "to_char(\"sold_at\", ''YYYY-MM'') as month" in statements["sales_fact"]


def test_unload_statements_and_their_queries_are_valid_redshift_sql():
    for name, sql in _statements().items():
        sqlfluff.parse(sql, dialect="redshift")  # raises on a parse error
        inner = re.match(r"unload \('(.*)'\)\nto ", sql, re.S)
        assert inner, name
        query = inner[1].replace("''", "'")
        sqlfluff.parse(query, dialect="redshift")
        assert query.startswith("select *")
        assert f'"analytics"."{name}"' in query
