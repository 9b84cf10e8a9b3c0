"""`shoplake deploy aws` against the local endpoint: plan, apply, idempotency, drift, and
every bucket/Lambda/SNS/Athena setting read back through boto3.

Expected values come from the issue and the raw contract (Standard-IA at 30 days,
Glacier at 90, SSE-KMS, ``.json``/``.json.gz`` clickstream files, ...), not from the code.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections import Counter

import boto3
import pytest
from aws_kit import unique_name
from iam_eval import denied
from typer.testing import CliRunner

from shoplake.alerts.package import build_lambda_zip
from shoplake.aws.deploy import Deployment, deploy
from shoplake.cli import app
from shoplake.contract import DATASETS
from shoplake.warehouse import project_dir

ACTIONS = ("create", "update", "no change")


def _rows(output: str) -> list[list[str]]:
    """The resource lines of deploy's plain-text report."""
    return [line.split("\t") for line in output.splitlines() if line.split("\t")[0] in ACTIONS]


def _error_code(call) -> str:
    try:
        call()
    except Exception as exc:
        return exc.response["Error"]["Code"]
    return ""


def test_plan_on_an_empty_account_lists_everything_as_create_and_creates_nothing(aws_env):
    d = Deployment(name=unique_name())
    result = deploy(d, plan_only=True)

    assert {c.action for c in result.changes} == {"create"}
    kinds = Counter(c.kind for c in result.changes)
    analyses = len(list((project_dir() / "analyses").glob("*.sql")))
    assert kinds == {
        "kms key": 1,
        "s3 bucket": 3,
        "s3 ownership controls": 3,
        "s3 public access block": 3,
        "s3 default encryption": 3,
        "s3 versioning": 1,  # raw only
        "s3 lifecycle": 3,
        "s3 bucket policy": 3,
        "glue database": 1,
        "glue table": len(DATASETS),
        "athena workgroup": 1,
        "athena named query": analyses,
        "iam policy": 6,  # + the daily job's two roles (pytests/aws/test_daily_job.py)
        "iam role": 6,
        "sns topic": 2,  # purchase alerts, the team's notifications
        "sqs queue": 1,
        "lambda function": 1,
        "lambda permission": 1,
        "lambda event invoke config": 1,
        "s3 event notification": 1,
        "s3 object": 3,  # the daily job's entry script, the shoplake wheel, the dbt project
        "logs log group": 1,
        "glue job": 1,
        "glue trigger": 1,
        "cloudwatch alarm": 3,
    }
    # ... and nothing of it exists afterwards
    s3 = boto3.client("s3")
    names = {b["Name"] for b in s3.list_buckets()["Buckets"]}
    assert not {d.raw_bucket, d.processed_bucket, d.archive_bucket} & names
    assert _error_code(lambda: boto3.client("kms").describe_key(KeyId=d.key_alias))
    assert _error_code(lambda: boto3.client("glue").get_database(Name=d.glue_database))
    assert _error_code(lambda: boto3.client("iam").get_role(RoleName=d.role("ingest")))
    assert _error_code(lambda: boto3.client("lambda").get_function(FunctionName=d.function))
    groups = {g["Name"] for g in boto3.client("athena").list_work_groups()["WorkGroups"]}
    assert d.workgroup not in groups
    topics = [t["TopicArn"] for t in boto3.client("sns").list_topics()["Topics"]]
    assert not [t for t in topics if t.endswith(f":{d.topic}")]
    sqs = boto3.client("sqs")
    assert _error_code(lambda: sqs.get_queue_url(QueueName=d.failed_alerts_queue))


def test_deploy_twice_the_second_run_changes_nothing(aws_env):
    name = unique_name()
    runner = CliRunner()

    first = runner.invoke(app, ["deploy", "aws", "--name", name, "--prefix", "prod/lake"])
    assert first.exit_code == 0, first.output
    first_rows = _rows(first.output)
    assert first_rows
    assert {r[0] for r in first_rows} == {"create"}

    second = runner.invoke(app, ["deploy", "aws", "--name", name, "--prefix", "prod/lake"])
    assert second.exit_code == 0, second.output
    assert [r[1:3] for r in _rows(second.output)] == [r[1:3] for r in first_rows]
    assert {r[0] for r in _rows(second.output)} == {"no change"}
    assert "no changes" in second.output

    plan = runner.invoke(app, ["deploy", "aws", "--plan", "--name", name, "--prefix", "prod/lake"])
    assert plan.exit_code == 0, plan.output
    assert {r[0] for r in _rows(plan.output)} == {"no change"}
    assert "0 to create, 0 to update" in plan.output


def test_drift_is_reported_as_update_and_repaired(aws_env):
    d = Deployment(name=unique_name())
    deploy(d)
    s3, glue, iam = boto3.client("s3"), boto3.client("glue"), boto3.client("iam")
    # someone changes things by hand
    s3.put_bucket_lifecycle_configuration(
        Bucket=d.raw_bucket,
        LifecycleConfiguration={
            "Rules": [
                {
                    "ID": "manual",
                    "Filter": {"Prefix": "lake/raw/"},
                    "Status": "Enabled",
                    "Transitions": [{"Days": 30, "StorageClass": "STANDARD_IA"}],
                }
            ]
        },
    )
    s3.delete_bucket_policy(Bucket=d.processed_bucket)
    s3.put_public_access_block(
        Bucket=d.archive_bucket,
        PublicAccessBlockConfiguration=dict.fromkeys(
            ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets"),
            False,
        ),
    )
    table = glue.get_table(DatabaseName=d.glue_database, Name="orders")["Table"]
    storage = dict(table["StorageDescriptor"], Columns=table["StorageDescriptor"]["Columns"][1:])
    kept = ("Name", "Description", "TableType", "Parameters", "PartitionKeys")
    table_input = {**{k: table[k] for k in kept}, "StorageDescriptor": storage}
    glue.update_table(DatabaseName=d.glue_database, TableInput=table_input)
    account = boto3.client("sts").get_caller_identity()["Account"]
    ingest_policy = f"arn:aws:iam::{account}:policy/{d.role('ingest')}"
    widened = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}],
    }
    iam.create_policy_version(
        PolicyArn=ingest_policy, PolicyDocument=json.dumps(widened), SetAsDefault=True
    )
    sqs = boto3.client("sqs")
    queue_url = sqs.get_queue_url(QueueName=d.failed_alerts_queue)["QueueUrl"]
    sqs.set_queue_attributes(QueueUrl=queue_url, Attributes={"MessageRetentionPeriod": "3600"})

    plan = deploy(d, plan_only=True)
    pending = {(c.kind, c.name): (c.action, c.detail) for c in plan.pending}
    assert pending == {
        ("s3 lifecycle", d.raw_bucket): ("update", "settings"),
        ("s3 bucket policy", d.processed_bucket): ("create", ""),
        ("s3 public access block", d.archive_bucket): (
            "update",
            "BlockPublicAcls, BlockPublicPolicy, IgnorePublicAcls, RestrictPublicBuckets",
        ),
        ("glue table", f"{d.glue_database}.orders"): ("update", "columns"),
        ("iam policy", d.role("ingest")): ("update", "statements"),
        ("sqs queue", d.failed_alerts_queue): ("update", "MessageRetentionPeriod"),
    }

    deploy(d)
    assert not deploy(d, plan_only=True).pending
    rules = s3.get_bucket_lifecycle_configuration(Bucket=d.raw_bucket)["Rules"]
    assert {t["StorageClass"] for r in rules for t in r.get("Transitions", [])} == {
        "STANDARD_IA",
        "GLACIER",
    }
    assert [
        r["AbortIncompleteMultipartUpload"] for r in rules if "AbortIncompleteMultipartUpload" in r
    ] == [{"DaysAfterInitiation": 7}]
    retention = sqs.get_queue_attributes(
        QueueUrl=queue_url, AttributeNames=["MessageRetentionPeriod"]
    )["Attributes"]["MessageRetentionPeriod"]
    assert retention == str(14 * 24 * 60 * 60)
    document = iam.get_policy_version(
        PolicyArn=ingest_policy,
        VersionId=iam.get_policy(PolicyArn=ingest_policy)["Policy"]["DefaultVersionId"],
    )["PolicyVersion"]["Document"]
    assert "s3:*" not in json.dumps(document)


def test_a_name_that_cannot_be_a_bucket_name_is_refused_with_a_clear_error(aws_env):
    result = CliRunner().invoke(app, ["deploy", "aws", "--plan", "--name", "Shop_Lake"])
    assert result.exit_code == 1
    assert "not usable in bucket and role names" in str(result.exception)


# --- what one deployment looks like, read back --------------------------------------------
@pytest.fixture(scope="module")
def key_arn(deployed) -> str:
    kms = deployed.client("kms")
    return kms.describe_key(KeyId=deployed.deployment.key_alias)["KeyMetadata"]["Arn"]


def _buckets(deployed) -> list[str]:
    d = deployed.deployment
    return [d.raw_bucket, d.processed_bucket, d.archive_bucket]


def test_every_bucket_is_encrypted_with_the_lake_key_and_closed_to_the_public(deployed, key_arn):
    s3 = deployed.client("s3")
    assert deployed.client("kms").get_key_rotation_status(KeyId=key_arn)["KeyRotationEnabled"]
    for bucket in _buckets(deployed):
        rule = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"][
            "Rules"
        ][0]
        assert rule["ApplyServerSideEncryptionByDefault"] == {
            "SSEAlgorithm": "aws:kms",
            "KMSMasterKeyID": key_arn,
        }
        assert rule["BucketKeyEnabled"] is True
        block = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
        assert block == {
            "BlockPublicAcls": True,
            "IgnorePublicAcls": True,
            "BlockPublicPolicy": True,
            "RestrictPublicBuckets": True,
        }
        ownership = s3.get_bucket_ownership_controls(Bucket=bucket)["OwnershipControls"]
        assert ownership["Rules"] == [{"ObjectOwnership": "BucketOwnerEnforced"}]


def test_only_the_raw_bucket_is_versioned(deployed):
    s3, d = deployed.client("s3"), deployed.deployment
    assert s3.get_bucket_versioning(Bucket=d.raw_bucket).get("Status") == "Enabled"
    assert s3.get_bucket_versioning(Bucket=d.processed_bucket).get("Status") is None
    assert s3.get_bucket_versioning(Bucket=d.archive_bucket).get("Status") is None


def _rule_for(rules: list[dict], prefix: str) -> dict:
    (rule,) = [r for r in rules if r.get("Filter", {}).get("Prefix") == prefix]
    return rule


def test_lifecycle_rules_tier_raw_and_expire_quarantine(deployed):
    s3, d = deployed.client("s3"), deployed.deployment
    raw_rules = s3.get_bucket_lifecycle_configuration(Bucket=d.raw_bucket)["Rules"]
    raw = _rule_for(raw_rules, "lake/raw/")
    assert raw["Status"] == "Enabled"
    assert sorted((t["Days"], t["StorageClass"]) for t in raw["Transitions"]) == [
        (30, "STANDARD_IA"),
        (90, "GLACIER"),
    ]
    processed = s3.get_bucket_lifecycle_configuration(Bucket=d.processed_bucket)["Rules"]
    quarantine = _rule_for(processed, "lake/quarantine/")
    assert quarantine["Status"] == "Enabled"
    assert quarantine["Expiration"] == {"Days": 90}
    # silver is never expired or tiered
    assert not [r for r in processed if r["Filter"].get("Prefix", "").startswith("lake/silver")]


def test_every_bucket_aborts_incomplete_uploads_after_7_days_beside_its_other_rules(deployed):
    s3, d = deployed.client("s3"), deployed.deployment
    other_rules = {
        d.raw_bucket: ["lake/raw/"],
        d.processed_bucket: ["lake/quarantine/", "athena-results/"],
        d.archive_bucket: [""],
    }
    for bucket, prefixes in other_rules.items():
        rules = s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
        (abort,) = [r for r in rules if "AbortIncompleteMultipartUpload" in r]
        assert abort["Status"] == "Enabled"
        assert abort["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": 7}
        assert abort["Filter"].get("Prefix", "") == ""  # the whole bucket
        assert not {"Expiration", "Transitions"} & set(abort)  # aborts uploads, nothing else
        others = [r for r in rules if r is not abort]
        assert sorted(r["Filter"].get("Prefix", "") for r in others) == sorted(prefixes)


def test_bucket_policies_deny_plain_http_and_other_encryption(deployed, key_arn):
    s3 = deployed.client("s3")
    tls = {"aws:SecureTransport": "true"}
    for bucket in _buckets(deployed):
        policy = [json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])]
        obj, arn = f"arn:aws:s3:::{bucket}/lake/x", f"arn:aws:s3:::{bucket}"
        # plain HTTP: every request on the bucket and its objects
        http = {"aws:SecureTransport": "false"}
        assert denied(policy, "s3:GetObject", obj, http)
        assert denied(policy, "s3:ListBucket", arn, http)
        assert not denied(policy, "s3:GetObject", obj, tls)
        # puts: another algorithm or another key are refused; the bucket default is not
        assert denied(
            policy, "s3:PutObject", obj, {**tls, "s3:x-amz-server-side-encryption": "AES256"}
        )
        other_key = key_arn.rsplit("/", 1)[0] + "/11111111-2222-3333-4444-555555555555"
        ask_other_key = {
            **tls,
            "s3:x-amz-server-side-encryption": "aws:kms",
            "s3:x-amz-server-side-encryption-aws-kms-key-id": other_key,
        }
        assert denied(policy, "s3:PutObject", obj, ask_other_key)
        ask_lake_key = {
            **ask_other_key,
            "s3:x-amz-server-side-encryption-aws-kms-key-id": key_arn,
        }
        assert not denied(policy, "s3:PutObject", obj, ask_lake_key)
        assert not denied(policy, "s3:PutObject", obj, tls)  # encrypted by the default


def test_new_clickstream_files_invoke_the_alert_function(deployed, tmp_path):
    d, lam = deployed.deployment, deployed.client("lambda")
    function = lam.get_function(FunctionName=d.function)["Configuration"]
    configs = deployed.client("s3").get_bucket_notification_configuration(Bucket=d.raw_bucket)[
        "LambdaFunctionConfigurations"
    ]
    assert {c["LambdaFunctionArn"] for c in configs} == {function["FunctionArn"]}
    filters = set()
    for config in configs:
        assert config["Events"] == ["s3:ObjectCreated:*"]
        rules = {r["Name"].lower(): r["Value"] for r in config["Filter"]["Key"]["FilterRules"]}
        filters.add((rules["prefix"], rules["suffix"]))
    assert filters == {("lake/raw/clickstream/", ".json"), ("lake/raw/clickstream/", ".json.gz")}

    assert function["Handler"] == "shoplake.alerts.lambda_handler.handler"
    assert function["Role"].endswith(f":role/{d.role('alert_lambda')}")
    topic_arn = function["Environment"]["Variables"]["SHOPLAKE_ALERTS_TOPIC_ARN"]
    assert topic_arn.endswith(f":{d.topic}")
    package = build_lambda_zip(tmp_path).read_bytes()
    assert function["CodeSha256"] == base64.b64encode(hashlib.sha256(package).digest()).decode()

    (statement,) = json.loads(lam.get_policy(FunctionName=d.function)["Policy"])["Statement"]
    assert statement["Principal"] == {"Service": "s3.amazonaws.com"}
    assert statement["Action"] == "lambda:InvokeFunction"
    assert statement["Condition"]["ArnLike"]["AWS:SourceArn"] == f"arn:aws:s3:::{d.raw_bucket}"


def test_events_the_alert_function_fails_on_go_to_an_encrypted_queue(deployed, key_arn):
    d, sqs = deployed.deployment, deployed.client("sqs")
    url = sqs.get_queue_url(QueueName=d.failed_alerts_queue)["QueueUrl"]
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert attributes["KmsMasterKeyId"] == key_arn
    assert attributes["MessageRetentionPeriod"] == str(14 * 24 * 60 * 60)
    assert sqs.list_queue_tags(QueueUrl=url)["Tags"] == {
        "project": "shoplake",
        "shoplake:deployment": d.name,
    }

    config = deployed.client("lambda").get_function_event_invoke_config(FunctionName=d.function)
    assert config["MaximumRetryAttempts"] == 2
    assert config["MaximumEventAgeInSeconds"] == 6 * 60 * 60
    assert config["DestinationConfig"]["OnFailure"] == {"Destination": attributes["QueueArn"]}
    assert not config["DestinationConfig"].get("OnSuccess")


def test_a_missing_or_changed_failure_destination_is_reported_and_created(aws_env):
    """moto keeps the *first* event invoke config a function was given (a later put is
    stored but never read back), so only the create path can be checked after applying;
    a changed config is checked as far as the plan reporting it."""
    d = Deployment(name=unique_name())
    deploy(d)
    lam = boto3.client("lambda")
    lam.delete_function_event_invoke_config(FunctionName=d.function)
    lam.put_function_event_invoke_config(
        FunctionName=d.function, MaximumRetryAttempts=0, MaximumEventAgeInSeconds=6 * 60 * 60
    )
    changed = [(c.action, c.kind, c.detail) for c in deploy(d, plan_only=True).pending]
    assert changed == [("update", "lambda event invoke config", "MaximumRetryAttempts, OnFailure")]

    lam.delete_function_event_invoke_config(FunctionName=d.function)
    missing = [(c.action, c.kind, c.name) for c in deploy(d, plan_only=True).pending]
    assert missing == [("create", "lambda event invoke config", d.function)]
    deploy(d)
    config = lam.get_function_event_invoke_config(FunctionName=d.function)
    assert config["MaximumRetryAttempts"] == 2
    assert config["DestinationConfig"]["OnFailure"]["Destination"].endswith(
        f":{d.failed_alerts_queue}"
    )
    assert not deploy(d, plan_only=True).pending


def test_the_alert_topic_and_athena_results_are_encrypted_with_the_lake_key(deployed, key_arn):
    d = deployed.deployment
    (topic,) = [
        t["TopicArn"]
        for t in deployed.client("sns").list_topics()["Topics"]
        if t["TopicArn"].endswith(f":{d.topic}")
    ]
    attributes = deployed.client("sns").get_topic_attributes(TopicArn=topic)["Attributes"]
    assert attributes["KmsMasterKeyId"] == key_arn

    group = deployed.client("athena").get_work_group(WorkGroup=d.workgroup)["WorkGroup"]
    config = group["Configuration"]
    assert config["EnforceWorkGroupConfiguration"] is True
    assert config["BytesScannedCutoffPerQuery"] == 10 * 1024**3
    assert config["ResultConfiguration"] == {
        "OutputLocation": f"s3://{d.processed_bucket}/athena-results/",
        "EncryptionConfiguration": {"EncryptionOption": "SSE_KMS", "KmsKey": key_arn},
    }


def test_without_a_region_deploy_says_so_in_one_line(monkeypatch, tmp_path):
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    result = CliRunner().invoke(app, ["deploy", "aws", "--plan"])
    assert result.exit_code == 1
    assert str(result.exception) == (
        "no AWS region configured — pass --region or set AWS_REGION (or a region in ~/.aws/config)"
    )
