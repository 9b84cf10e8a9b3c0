"""Redshift without a cluster: parse the project for the prod target, and capture the SQL
that `dbt build --target prod` (and the Spectrum staging operation) would send, then
validate every statement with SQLFluff's Redshift dialect.

What this proves: the project compiles for Redshift (dispatch macros pick their Redshift
versions, configs such as dist/sort/backup/bind render), every statement dbt-redshift
would send -- DDL with the contracts' column types, late-binding views, incremental
delete+insert, seeds, tests, the external schema/table/partition DDL -- is syntactically
valid Redshift SQL as SQLFluff's grammar knows it, the e-mail salt travels only as a
bound parameter (never in a statement's text), and the salt guard refuses a prod run
without SHOPLAKE_EMAIL_SALT.

What it does not prove: that Redshift accepts the statements semantically (types,
functions' argument types, permissions, Spectrum reading the Parquet files), that the
contract types match what Redshift infers for each query (the check needs a live
cluster and is switched off in the capture), incremental runs against existing tables
(the fake cluster is always empty), or query results. SQLFluff's grammar is not
Redshift's parser either: it can accept something Redshift rejects, and the reverse.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest
import sqlfluff
from cli_kit import run_shoplake
from redshift_kit import PROD_ENV, capture, dbt_argv
from sqlfluff.api.simple import APIParsingError

from shoplake.metrics import validate
from shoplake.warehouse import profiles_dir


def _literal(value) -> str:
    if value is None:
        return "null"
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    return "'" + str(value).replace("'", "''") + "'"


def _statement_text(item: dict) -> str:
    """The statement with its bind parameters (seeds) inlined as literals."""
    sql = item["sql"]
    for value in item["args"] or []:
        sql = sql.replace("%s", _literal(value), 1)
    return sql


#: SQLFluff's Redshift grammar has no ALTER TABLE ... ADD PARTITION (Spectrum external
#: tables). Those statements are checked against the documented synopsis instead:
#: ALTER TABLE t ADD [IF NOT EXISTS] PARTITION (col = 'v' [, ...]) LOCATION 's3://...' [...]
_ADD_PARTITION = re.compile(
    r"^\s*(/\*.*?\*/\s*)?alter table (\"\w+\"|\w+)\.(\"\w+\"|\w+) add if not exists\s+"
    r"(partition \((\w+ = '[^']*'(, )?)+\) location 's3://[^']+/'\s*)+$",
    re.S | re.I,
)


def _unparsable(sql: str) -> str | None:
    if re.search(r"^\s*(/\*.*?\*/\s*)?alter table \S+ add if not exists\s+partition", sql, re.S):
        return None if _ADD_PARTITION.match(sql) else "does not match ALTER TABLE ADD PARTITION"
    try:
        sqlfluff.parse(sql, dialect="redshift")
    except APIParsingError as exc:
        return str(exc)[:800]
    return None


def test_dbt_parse_with_the_prod_target(tmp_path):
    with profiles_dir() as profiles:
        proc = subprocess.run(
            [
                sys.executable,
                "-c",
                "from dbt.cli.main import cli; cli()",
                *dbt_argv(tmp_path, profiles, "parse"),
            ],
            env={**os.environ, **PROD_ENV},
            capture_output=True,
            text=True,
            check=False,
        )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    manifest = json.loads((tmp_path / "target" / "manifest.json").read_text())
    assert manifest["metadata"]["adapter_type"] == "redshift"
    models = {n["name"]: n for n in manifest["nodes"].values() if n["resource_type"] == "model"}
    assert models["fact_orders"]["config"]["dist"] == "order_id"
    assert models["dim_date"]["config"]["dist"] == "all"
    assert models["stg_lake__orders"]["config"]["bind"] is False
    assert all(
        m["config"]["contract"]["enforced"]
        for name, m in models.items()
        if m["original_file_path"].startswith("models/marts/")
    )
    # the semantic layer parses for Redshift and passes MetricFlow's validation
    semantic = tmp_path / "target" / "semantic_manifest.json"
    assert validate(semantic) == []
    relations = {
        (m["node_relation"]["database"], m["node_relation"]["schema_name"])
        for m in json.loads(semantic.read_text())["semantic_models"]
    }
    assert relations == {("analytics", "analytics")}  # the profile's defaults


@pytest.fixture(scope="module")
def captured_build(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("redshift")
    code, build, output = capture(
        tmp, "build", "--exclude-resource-type", "unit_test", "--threads", "1"
    )
    assert code == 0, output[-4000:]
    code, staging, output = capture(
        tmp,
        "run-operation",
        "stage_external_sources",
        "--args",
        '{start_date: "2026-10-01", end_date: "2026-10-03"}',
    )
    assert code == 0, output[-4000:]
    # dbt docs generate works for the prod target too; the catalog (column types read
    # from the cluster's system tables) needs a live cluster, so it is left empty here.
    code, _, output = capture(tmp, "docs", "generate", "--empty-catalog")
    assert code == 0, output[-4000:]
    assert (tmp / "target" / "index.html").is_file()
    return build, staging


def test_build_sends_redshift_specific_ddl(captured_build):
    build, staging = captured_build
    text = "\n".join(item["sql"] for item in build)
    assert re.search(r"create\s+view.*stg_lake__orders.*with no schema binding", text, re.S | re.I)
    # each layer in its schema: staging and intermediate next to the marts' analytics
    for schema, model in (
        ("analytics_staging", "stg_lake__orders"),
        ("analytics_intermediate", "int_sales_converted"),
        ("analytics", "fact_orders"),
    ):
        assert re.search(rf'create\s+schema\s+if\s+not\s+exists\s+"{schema}"', text, re.I)
        assert f'"analytics"."{schema}"."{model}' in text, model
    assert re.search(r"diststyle\s+key\s+distkey\s*\(\s*order_id\s*\)", text, re.I)
    assert re.search(r"diststyle\s+all", text, re.I)
    assert re.search(r"backup\s+no", text, re.I)
    assert "sha2(" in text  # the Redshift version of the e-mail hash
    assert '"lake"."orders"' in text or "lake.orders" in text
    ddl = "\n".join(item["sql"] for item in staging)
    assert "create external schema if not exists" in ddl
    assert "stored as parquet" in ddl
    assert "location 's3://shoplake-lake/prod/silver/orders/'" in ddl
    assert "partition (year = '2026', month = '10', day = '03')" in ddl


def test_every_captured_statement_is_valid_redshift_sql(captured_build):
    build, staging = captured_build
    statements = {_statement_text(item) for item in build + staging}
    statements = {s for s in statements if s.strip()}
    assert len(statements) > 50
    problems = {}
    for sql in sorted(statements):
        error = _unparsable(sql)
        if error:
            problems[sql[:300]] = error
    assert not problems, json.dumps(problems, indent=1)[:6000]


def test_salt_is_a_bound_parameter_never_sql_text(captured_build):
    """Row 2 of issue 9 on Redshift: the hashing model reads a session context variable
    that its pre-hook sets with a bound parameter, so the salt is in no statement."""
    build, _ = captured_build
    salt = PROD_ENV["SHOPLAKE_EMAIL_SALT"]
    assert not [item["sql"][:200] for item in build if salt in item["sql"]]
    setters = [item for item in build if "set_config('shoplake.email_salt'" in item["sql"]]
    assert setters
    assert all(item["args"] == [salt] for item in setters)
    hashing = [item["sql"] for item in build if "sha2(" in item["sql"]]
    assert hashing
    assert all("current_setting('shoplake.email_salt')" in sql for sql in hashing)
    # ... and the statement that sets it runs before the table that hashes is created.
    first_set = build.index(setters[0])
    create = next(
        i
        for i, item in enumerate(build)
        if re.search(r"create\s+table.*stg_lake__customers", item["sql"], re.S | re.I)
    )
    assert first_set < create


def test_prod_refuses_to_hash_emails_without_a_salt(tmp_path):
    code, _, output = capture(
        tmp_path,
        "compile",
        "--select",
        "stg_lake__customers",
        env={"SHOPLAKE_EMAIL_SALT": ""},
    )
    assert code != 0
    assert "SHOPLAKE_EMAIL_SALT is not set" in output


def test_a_metrics_query_on_prod_compiles_to_redshift_sql_without_a_cluster(tmp_path):
    """`shoplake metrics query --target prod --explain`: the MetricFlow request a query
    sends, compiled by the Redshift adapter's dialect against the prod semantic manifest,
    with no connection (the host does not exist). Running it needs a cluster."""
    lake = tmp_path / "lake"
    (lake / "raw").mkdir(parents=True)
    weekend = "{{ TimeDimension('metric_time', date_part_name='dow') }} in (6, 7)"
    result = run_shoplake(
        "metrics", "query", "--lake", str(lake), "--target", "prod", "--explain",
        "--metrics", "aov_usd,orders", "--group-by", "country__region", "--where", weekend,
        env=PROD_ENV,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    sql = result.stdout
    # the marts where the prod profile puts them (database and schema analytics)
    assert '"analytics"."analytics"."fact_orders"' in sql
    assert '"analytics"."analytics"."dim_geography"' in sql
    assert "main" not in re.findall(r'"(\w+)"\."\w+"', sql)
    # Redshift's dialect: the ratio's cast, and the ISO day of week (Redshift's is 0-6,
    # Sunday 0) for the filter on Saturdays and Sundays
    assert "AS DOUBLE PRECISION" in sql
    assert re.search(r"CASE WHEN EXTRACT\(dow FROM order_date\) = 0 THEN EXTRACT\(dow", sql)
    assert "in (6, 7)" in sql
    assert _unparsable(sql) is None
