"""The deployed roles are least-privilege: each may do what its job needs and nothing more.

Two judges: the policy documents as read back from IAM, evaluated per (action, resource,
context) with ``iam_eval`` for every service; and moto's own request authorizer, which
enforces identity policies on S3 object calls and SQS sends, for those grants. The
expectations are the jobs (ingest never deletes raw files, analysts read silver and write
only their query results, ...), written here, not read off the policies.
"""

from __future__ import annotations

import json
import urllib.request

import boto3
import pytest
from aws_kit import unique_name
from aws_server import start_server
from iam_eval import allowed

from shoplake.aws.deploy import Deployment, deploy
from shoplake.aws.policies import ROLE_POLICIES

REGION = "us-east-1"


@pytest.fixture(scope="module")
def roles(deployed) -> dict[str, list[dict]]:
    """The policy documents attached to each deployed role, as IAM holds them."""
    iam = deployed.client("iam")
    out = {}
    for kind in ROLE_POLICIES:
        attached = iam.list_attached_role_policies(RoleName=deployed.deployment.role(kind))
        docs = []
        for item in attached["AttachedPolicies"]:
            version = iam.get_policy(PolicyArn=item["PolicyArn"])["Policy"]["DefaultVersionId"]
            doc = iam.get_policy_version(PolicyArn=item["PolicyArn"], VersionId=version)
            docs.append(doc["PolicyVersion"]["Document"])
        out[kind] = docs
    return out


@pytest.fixture(scope="module")
def arns(deployed) -> dict[str, str]:
    d = deployed.deployment
    account = deployed.client("sts").get_caller_identity()["Account"]
    key = deployed.client("kms").describe_key(KeyId=d.key_alias)["KeyMetadata"]["Arn"]
    glue = f"arn:aws:glue:{REGION}:{account}"
    return {
        "raw": f"arn:aws:s3:::{d.raw_bucket}",
        "processed": f"arn:aws:s3:::{d.processed_bucket}",
        "archive": f"arn:aws:s3:::{d.archive_bucket}",
        "key": key,
        "catalog": f"{glue}:catalog",
        "database": f"{glue}:database/{d.glue_database}",
        "orders_table": f"{glue}:table/{d.glue_database}/orders",
        "other_table": f"{glue}:table/someone_else/orders",
        "workgroup": f"arn:aws:athena:{REGION}:{account}:workgroup/{d.workgroup}",
        "primary_workgroup": f"arn:aws:athena:{REGION}:{account}:workgroup/primary",
        "topic": f"arn:aws:sns:{REGION}:{account}:{d.topic}",
        "other_topic": f"arn:aws:sns:{REGION}:{account}:other",
        "failed_queue": f"arn:aws:sqs:{REGION}:{account}:{d.name}-purchase-alerts-failed",
        "other_queue": f"arn:aws:sqs:{REGION}:{account}:other",
        "log_stream": (
            f"arn:aws:logs:{REGION}:{account}:log-group:/aws/lambda/{d.function}:log-stream:x"
        ),
    }


VIA_S3 = {"kms:ViaService": f"s3.{REGION}.amazonaws.com"}
VIA_SNS = {"kms:ViaService": f"sns.{REGION}.amazonaws.com"}
VIA_SQS = {"kms:ViaService": f"sqs.{REGION}.amazonaws.com"}
RAW_ORDERS = "lake/raw/orders/2026/10/01/orders.csv"
RAW_PRODUCTS = "lake/raw/products/2026/10/01/products.csv"
RAW_CLICKS = "lake/raw/clickstream/2026/10/01/14/clicks.json"
SILVER = "lake/silver/orders/year=2026/month=10/day=01/data.parquet"
QUARANTINE = "lake/quarantine/orders/year=2026/month=10/day=01/r1.parquet"
STATE = "lake/_state/txn/r1/silver/orders/data.parquet"
RESULTS = "athena-results/0b7c.csv"
LEDGER = "lake/alerts/_ledger/a1.json"


def _check(docs: list[dict], arns: dict[str, str], cases: list[tuple]) -> None:
    wrong = []
    for expected, action, resource, *context in cases:
        target = resource.format(**arns)
        got = allowed(docs, action, target, context[0] if context else None)
        if got != expected:
            wrong.append(f"{action} on {target}: expected {expected}, got {got}")
    assert not wrong, "\n".join(wrong)


def test_ingest_reads_raw_publishes_the_lake_zones_and_never_deletes_raw(roles, arns):
    _check(
        roles["ingest"],
        arns,
        [
            (True, "s3:GetObject", "{raw}/" + RAW_ORDERS),
            (True, "s3:ListBucket", "{raw}", {"s3:prefix": "lake/raw/orders/"}),
            (True, "s3:PutObject", "{raw}/" + RAW_PRODUCTS),  # extract delivers products
            (True, "s3:PutObject", "{processed}/" + SILVER),
            (True, "s3:DeleteObject", "{processed}/" + SILVER),
            (True, "s3:PutObject", "{processed}/" + QUARANTINE),
            (True, "s3:DeleteObject", "{processed}/" + STATE),
            (True, "glue:BatchCreatePartition", "{orders_table}"),
            (True, "glue:CreateTable", "{database}"),
            (True, "kms:GenerateDataKey", "{key}", VIA_S3),
            # never changes what sources delivered, never touches other data
            (False, "s3:DeleteObject", "{raw}/" + RAW_ORDERS),
            (False, "s3:PutObject", "{raw}/" + RAW_ORDERS),
            (False, "s3:ListBucket", "{raw}", {"s3:prefix": ""}),
            (False, "s3:PutObject", "{processed}/" + RESULTS),
            (False, "s3:GetObject", "{archive}/lake/x"),
            (False, "glue:DeleteTable", "{orders_table}"),
            (False, "glue:DeletePartition", "{orders_table}"),
            (False, "glue:BatchCreatePartition", "{other_table}"),
            (False, "kms:Decrypt", "{key}"),  # only through S3
            (False, "kms:ScheduleKeyDeletion", "{key}", VIA_S3),
            (False, "sns:Publish", "{topic}"),
        ],
    )


def test_athena_readers_read_silver_and_write_only_their_query_results(roles, arns):
    _check(
        roles["athena_reader"],
        arns,
        [
            (True, "athena:StartQueryExecution", "{workgroup}"),
            (True, "athena:GetQueryResults", "{workgroup}"),
            (True, "athena:GetNamedQuery", "{workgroup}"),
            (True, "glue:GetTable", "{orders_table}"),
            (True, "glue:GetPartitions", "{orders_table}"),
            (True, "s3:GetObject", "{processed}/" + SILVER),
            (True, "s3:PutObject", "{processed}/" + RESULTS),  # Athena writes as the caller
            (True, "kms:Decrypt", "{key}", VIA_S3),
            (False, "athena:StartQueryExecution", "{primary_workgroup}"),
            (False, "athena:UpdateWorkGroup", "{workgroup}"),
            (False, "athena:CreateNamedQuery", "{workgroup}"),
            (False, "athena:DeleteNamedQuery", "{workgroup}"),
            (False, "s3:PutObject", "{processed}/" + SILVER),
            (False, "s3:DeleteObject", "{processed}/" + SILVER),
            (False, "s3:DeleteObject", "{processed}/" + RESULTS),
            (False, "s3:GetObject", "{processed}/" + QUARANTINE),  # raw records, personal data
            (False, "s3:GetObject", "{raw}/" + RAW_ORDERS),
            (False, "glue:CreatePartition", "{orders_table}"),
            (False, "glue:UpdateTable", "{orders_table}"),
            (False, "glue:DeleteTable", "{orders_table}"),
        ],
    )


def test_redshift_spectrum_reads_the_catalog_and_silver_only(roles, arns):
    _check(
        roles["redshift_spectrum"],
        arns,
        [
            (True, "glue:GetTable", "{orders_table}"),
            (True, "glue:GetPartitions", "{orders_table}"),
            (True, "glue:BatchCreatePartition", "{orders_table}"),  # stage_external_sources
            (True, "s3:GetObject", "{processed}/" + SILVER),  # Spectrum scans and COPY
            (True, "s3:ListBucket", "{processed}", {"s3:prefix": "lake/silver/orders/"}),
            (True, "kms:Decrypt", "{key}"),
            (False, "s3:PutObject", "{processed}/" + SILVER),
            (False, "s3:PutObject", "{processed}/" + RESULTS),
            (False, "s3:GetObject", "{raw}/" + RAW_ORDERS),
            (False, "s3:GetObject", "{processed}/" + QUARANTINE),
            (False, "s3:ListBucket", "{processed}", {"s3:prefix": "lake/quarantine/"}),
            (False, "glue:CreateTable", "{orders_table}"),
            (False, "glue:UpdateTable", "{orders_table}"),
            (False, "glue:DeleteTable", "{orders_table}"),
            (False, "kms:GenerateDataKey", "{key}"),  # reads, never writes encrypted data
        ],
    )


def test_the_alert_function_reads_new_clicks_and_publishes_to_its_topic_only(roles, arns):
    _check(
        roles["alert_lambda"],
        arns,
        [
            (True, "s3:GetObject", "{raw}/" + RAW_CLICKS),
            (True, "s3:PutObject", "{raw}/" + LEDGER),
            (True, "s3:GetObject", "{raw}/" + LEDGER),
            (True, "sns:Publish", "{topic}"),
            (True, "kms:GenerateDataKey", "{key}", VIA_SNS),
            (True, "logs:PutLogEvents", "{log_stream}"),
            # Lambda sends the events it gives up on as this role, into the encrypted queue
            (True, "sqs:SendMessage", "{failed_queue}"),
            (True, "kms:GenerateDataKey", "{key}", VIA_SQS),
            (True, "kms:Decrypt", "{key}", VIA_SQS),
            (False, "sqs:SendMessage", "{other_queue}"),
            (False, "sqs:ReceiveMessage", "{failed_queue}"),
            (False, "sqs:DeleteMessage", "{failed_queue}"),
            (False, "sqs:PurgeQueue", "{failed_queue}"),
            (False, "s3:GetObject", "{raw}/" + RAW_ORDERS),
            (False, "s3:PutObject", "{raw}/" + RAW_CLICKS),
            (False, "s3:DeleteObject", "{raw}/" + RAW_CLICKS),
            (False, "s3:DeleteObject", "{raw}/" + LEDGER),
            (False, "s3:GetObject", "{processed}/" + SILVER),
            (False, "sns:Publish", "{other_topic}"),
            (False, "kms:Decrypt", "{key}"),  # only through S3, SNS and SQS
        ],
    )


def test_every_grant_names_its_actions_and_this_deployments_resources(roles, arns):
    ours = (
        arns["raw"],
        arns["processed"],
        arns["key"],
        arns["catalog"],
        arns["database"],
        arns["orders_table"].rsplit("/", 1)[0] + "/",
        arns["workgroup"],
        arns["topic"],
        arns["failed_queue"],
        arns["log_stream"].split(":log-stream")[0],
    )
    for kind, docs in roles.items():
        for statement in (s for doc in docs for s in doc["Statement"]):
            assert statement["Effect"] == "Allow", (kind, statement)
            for action in _as_list(statement["Action"]):
                assert "*" not in action, (kind, action)  # every action spelled out
            for resource in _as_list(statement["Resource"]):
                assert resource.startswith(ours), (kind, resource)


def _as_list(value) -> list:
    return value if isinstance(value, list) else [value]


# --- moto's authorizer on real S3 calls ----------------------------------------------------
def _enable_authorization(endpoint: str) -> None:
    """From now on moto checks every request against the caller's IAM policies."""
    request = urllib.request.Request(
        f"{endpoint}/moto-api/reset-auth",
        data=b"0",
        method="POST",
        headers={"Content-Type": "text/plain"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert json.loads(response.read())["status"] == "ok"


@pytest.mark.aws
def test_moto_enforces_each_roles_s3_and_sqs_grants_on_real_requests(monkeypatch):
    """A dedicated endpoint (authorization cannot be switched off again): users holding
    exactly the deployed role policies try object calls; moto's authorizer decides."""
    server = start_server()
    try:
        for name, value in server.environ().items():
            monkeypatch.setenv(name, value)
        d = Deployment(name=unique_name())
        deploy(d)
        s3, iam = boto3.client("s3"), boto3.client("iam")
        for bucket in (d.raw_bucket, d.processed_bucket):
            # this endpoint speaks plain HTTP, which the bucket policies deny; identity
            # policies are what is checked here
            s3.delete_bucket_policy(Bucket=bucket)
        for bucket, key in [
            (d.raw_bucket, RAW_ORDERS),
            (d.raw_bucket, RAW_CLICKS),
            (d.processed_bucket, SILVER),
            (d.processed_bucket, QUARANTINE),
        ]:
            s3.put_object(Bucket=bucket, Key=key, Body=b"seed")
        sqs = boto3.client("sqs")
        failed_queue = sqs.get_queue_url(QueueName=d.failed_alerts_queue)["QueueUrl"]
        other_queue = sqs.create_queue(QueueName=f"{d.name}-other")["QueueUrl"]
        clients, sqs_clients = {}, {}
        for kind in ROLE_POLICIES:
            user = f"{d.name}-{kind.replace('_', '-')}-tester"
            iam.create_user(UserName=user)
            for item in iam.list_attached_role_policies(RoleName=d.role(kind))["AttachedPolicies"]:
                iam.attach_user_policy(UserName=user, PolicyArn=item["PolicyArn"])
            key = iam.create_access_key(UserName=user)["AccessKey"]
            credentials = {
                "aws_access_key_id": key["AccessKeyId"],
                "aws_secret_access_key": key["SecretAccessKey"],
            }
            clients[kind] = boto3.client("s3", **credentials)
            sqs_clients[kind] = boto3.client("sqs", **credentials)
        _enable_authorization(server.endpoint_url)

        def may(kind: str, call: str, bucket: str, key: str) -> bool:
            client = clients[kind]
            try:
                if call == "get":
                    client.get_object(Bucket=bucket, Key=key)["Body"].read()
                elif call == "put":
                    client.put_object(Bucket=bucket, Key=key, Body=b"x")
                else:
                    client.delete_object(Bucket=bucket, Key=key)
            except Exception as exc:
                if exc.response["Error"]["Code"] != "AccessDenied":
                    raise
                return False
            return True

        raw, processed = d.raw_bucket, d.processed_bucket
        expectations = [
            ("ingest", "get", raw, RAW_ORDERS, True),
            ("ingest", "delete", raw, RAW_ORDERS, False),
            ("ingest", "put", raw, RAW_ORDERS, False),
            ("ingest", "put", processed, SILVER, True),
            ("athena_reader", "get", processed, SILVER, True),
            ("athena_reader", "put", processed, SILVER, False),
            ("athena_reader", "delete", processed, SILVER, False),
            ("athena_reader", "get", processed, QUARANTINE, False),
            ("athena_reader", "get", raw, RAW_ORDERS, False),
            ("redshift_spectrum", "get", processed, SILVER, True),
            ("redshift_spectrum", "put", processed, SILVER, False),
            ("redshift_spectrum", "get", raw, RAW_ORDERS, False),
            ("alert_lambda", "get", raw, RAW_CLICKS, True),
            ("alert_lambda", "get", raw, RAW_ORDERS, False),
            ("alert_lambda", "put", raw, LEDGER, True),
            ("alert_lambda", "delete", raw, RAW_CLICKS, False),
            ("ingest", "delete", processed, SILVER, True),  # last: it removes the object
        ]
        wrong = [
            (kind, call, bucket, key, expected)
            for kind, call, bucket, key, expected in expectations
            if may(kind, call, bucket, key) != expected
        ]
        assert not wrong

        def may_send(kind: str, queue_url: str) -> bool:
            try:
                sqs_clients[kind].send_message(QueueUrl=queue_url, MessageBody="{}")
            except Exception as exc:
                # moto's authorizer answers this JSON API in XML: botocore sees only the 403
                if "<Code>AccessDenied</Code>" not in str(exc):
                    raise
                return False
            return True

        # Lambda delivers failed events with the function's role: into its queue only
        assert may_send("alert_lambda", failed_queue)
        assert not may_send("alert_lambda", other_queue)
        assert not may_send("ingest", failed_queue)
        # and the anonymous or unknown caller gets nothing at all
        with pytest.raises(Exception, match="InvalidAccessKeyId"):
            boto3.client("s3").get_object(Bucket=raw, Key=RAW_ORDERS)
    finally:
        server.stop()
