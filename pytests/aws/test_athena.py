"""Athena, as far as the local endpoint goes.

moto keeps workgroups and named queries, accepts query executions (recording their SQL,
database and workgroup), moves them QUEUED -> RUNNING -> SUCCEEDED as they are polled
(here: only after several polls, through moto's state-manager API) and returns whatever
rows were queued through its results API. It runs no SQL: that the named queries are
valid Athena SQL is checked with SQLFluff's Athena and Trino grammars instead, and
whether they return the right numbers is not checked here at all.
"""

from __future__ import annotations

import json
import re
import urllib.request

import boto3
import pytest
import sqlfluff
from typer.testing import CliRunner

from shoplake.cli import app
from shoplake.warehouse import project_dir


def _moto_api(endpoint: str, path: str, payload: dict) -> None:
    request = urllib.request.Request(
        f"{endpoint}/moto-api/{path}",
        data=json.dumps(payload).encode(),
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10):
        pass


def _named_queries(deployed) -> dict[str, dict]:
    athena = deployed.client("athena")
    ids = athena.list_named_queries(WorkGroup=deployed.deployment.workgroup)["NamedQueryIds"]
    queries = [athena.get_named_query(NamedQueryId=i)["NamedQuery"] for i in ids]
    return {q["Name"]: q for q in queries}


def test_every_analysis_is_a_named_query_of_the_workgroup(deployed):
    analyses = project_dir() / "analyses"
    queries = _named_queries(deployed)
    assert sorted(queries) == sorted(p.stem for p in analyses.glob("*.sql"))
    for name, query in queries.items():
        source = (analyses / f"{name}.sql").read_text("utf-8")
        sql = query["QueryString"]
        assert query["Database"] == deployed.deployment.glue_database
        assert query["WorkGroup"] == deployed.deployment.workgroup
        assert query["Description"]
        assert "{{" not in sql
        assert "{%" not in sql
        for ref in re.findall(r"ref\('(\w+)'\)", source):
            assert f'from "{ref}"' in sql  # a table of the query's database


@pytest.mark.parametrize("dialect", ["athena", "trino"])
def test_named_queries_parse_as_athena_sql(deployed, dialect):
    for name, query in _named_queries(deployed).items():
        try:
            sqlfluff.parse(query["QueryString"], dialect=dialect)
        except Exception as exc:  # SQLFluff's parse error names the offending segment
            pytest.fail(f"{name} is not valid {dialect} SQL: {exc}")


@pytest.fixture
def slow_executions(aws_server):
    """Query executions need two polls per state change (as on Athena, they take a while)."""
    model = {"model_name": "athena::execution"}
    transition = {"progression": "manual", "times": 2}
    _moto_api(
        aws_server.endpoint_url, "state-manager/set-transition", {**model, "transition": transition}
    )
    yield
    _moto_api(aws_server.endpoint_url, "state-manager/unset-transition", model)


def test_athena_query_runs_the_named_query_and_prints_its_rows(
    deployed, aws_server, slow_executions
):
    d = deployed.deployment
    columns = ["revenue_month", "region", "orders", "revenue_usd"]
    rows = [
        ["2026-10-01", "europe", "412", "30911.40"],
        ["2026-10-01", "north_america", "280", "20100.05"],
    ]
    _moto_api(
        aws_server.endpoint_url,
        "static/athena/query-results",
        {
            "results": [
                {
                    "rows": [{"Data": [{"VarCharValue": v} for v in r]} for r in [columns, *rows]],
                    "column_info": [
                        {"Name": c, "Label": c, "Type": "varchar", "Nullable": "UNKNOWN"}
                        for c in columns
                    ],
                }
            ]
        },
    )

    athena = deployed.client("athena")
    before = set(athena.list_query_executions(WorkGroup=d.workgroup)["QueryExecutionIds"])
    result = CliRunner().invoke(
        app, ["athena", "query", "monthly_revenue_trend", "--workgroup", d.workgroup]
    )

    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert "\t".join(columns) in lines
    for row in rows:
        assert "\t".join(row) in lines
    assert sum("\t".join(columns) == line for line in lines) == 1  # header row not repeated
    assert "2 rows" in result.output

    after = set(athena.list_query_executions(WorkGroup=d.workgroup)["QueryExecutionIds"])
    (execution_id,) = after - before
    execution = athena.get_query_execution(QueryExecutionId=execution_id)["QueryExecution"]
    assert execution["Query"] == _named_queries(deployed)["monthly_revenue_trend"]["QueryString"]
    assert execution["QueryExecutionContext"] == {"Database": d.glue_database}
    assert execution["WorkGroup"] == d.workgroup
    assert execution["Status"]["State"] == "SUCCEEDED"


def test_database_option_overrides_the_named_querys_database(deployed):
    d = deployed.deployment
    athena = deployed.client("athena")
    before = set(athena.list_query_executions(WorkGroup=d.workgroup)["QueryExecutionIds"])
    result = CliRunner().invoke(
        app,
        ["athena", "query", "conversion_funnel", "--workgroup", d.workgroup, "--database", "marts"],
    )
    assert result.exit_code == 0, result.output
    (new,) = set(athena.list_query_executions(WorkGroup=d.workgroup)["QueryExecutionIds"]) - before
    execution = athena.get_query_execution(QueryExecutionId=new)["QueryExecution"]
    assert execution["QueryExecutionContext"] == {"Database": "marts"}


def test_an_unknown_named_query_is_a_clear_error(deployed):
    result = CliRunner().invoke(
        app, ["athena", "query", "no_such_analysis", "--workgroup", deployed.deployment.workgroup]
    )
    assert result.exit_code == 1
    message = str(result.exception)
    assert "no named query 'no_such_analysis'" in message
    assert "monthly_revenue_trend" in message  # lists the ones there are


def test_athena_list_shows_the_named_queries(deployed):
    result = CliRunner().invoke(
        app, ["athena", "list", "--workgroup", deployed.deployment.workgroup]
    )
    assert result.exit_code == 0, result.output
    listed = {line.split("\t")[0] for line in result.output.splitlines()[2:]}
    assert listed == set(_named_queries(deployed))


def test_the_update_calls_moto_cannot_run_are_valid_athena_requests():
    """moto has no UpdateWorkGroup or UpdateNamedQuery: check what deploy would send for
    them against the Athena API's own request schema (botocore's service model)."""
    from botocore.validate import ParamValidator

    from shoplake.aws.athena import workgroup_configuration, workgroup_updates

    model = boto3.session.Session(region_name="us-east-1").client("athena").meta.service_model
    config = workgroup_configuration(
        "s3://x-processed/athena-results/", "arn:aws:kms:us-east-1:1:key/k", 10 * 1024**3
    )
    requests = {
        "CreateWorkGroup": {"Name": "x", "Configuration": config},
        "UpdateWorkGroup": {"WorkGroup": "x", "ConfigurationUpdates": workgroup_updates(config)},
        "UpdateNamedQuery": {
            "NamedQueryId": "0b7c",
            "Name": "monthly_revenue_trend",
            "Description": "d",
            "QueryString": "select 1",
        },
        "DeleteNamedQuery": {"NamedQueryId": "0b7c"},
    }
    for operation, params in requests.items():
        report = ParamValidator().validate(params, model.operation_model(operation).input_shape)
        assert not report.has_errors(), report.generate_report()
