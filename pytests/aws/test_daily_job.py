"""The daily job on AWS, against the local endpoint: the Glue job that runs
``shoplake run``, its schedule, role, log group and entry script, the notification topic
and the alarms, all read back through boto3 after one deploy (the module's ``deployed``
fixture); a second deploy changes nothing; the schedule is configurable; hand-made drift
is reported and repaired.

moto lacks UpdateJob and UpdateTrigger: what deploy would send for them is checked
against the Glue API's request schema only (botocore's service model). moto does not run
jobs or fire triggers, and evaluates no alarm.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import boto3
from aws_kit import unique_name
from iam_eval import allowed

from shoplake.aws.deploy import Deployment, deploy, runner
from shoplake.aws.deploy.account import Account

REGION = "us-east-1"


def _role_documents(deployed, kind: str) -> list[dict]:
    iam = deployed.client("iam")
    docs = []
    for item in iam.list_attached_role_policies(RoleName=deployed.deployment.role(kind))[
        "AttachedPolicies"
    ]:
        version = iam.get_policy(PolicyArn=item["PolicyArn"])["Policy"]["DefaultVersionId"]
        doc = iam.get_policy_version(PolicyArn=item["PolicyArn"], VersionId=version)
        docs.append(doc["PolicyVersion"]["Document"])
    return docs


def test_the_glue_job_runs_shoplake_daily_with_retries_a_timeout_and_one_run_at_a_time(
    deployed,
):
    d = deployed.deployment
    job = deployed.client("glue").get_job(JobName=d.job)["Job"]
    account = deployed.client("sts").get_caller_identity()["Account"]
    assert job["Role"] == f"arn:aws:iam::{account}:role/{d.name}-pipeline"
    assert job["Command"]["Name"] == "glueetl"
    assert job["Command"]["PythonVersion"] == "3"
    assert job["GlueVersion"] == "5.0"  # Python 3.11: Python shell jobs stop at 3.9
    assert (job["WorkerType"], job["NumberOfWorkers"]) == ("G.1X", 2)
    assert job["MaxRetries"] == 1
    assert job["Timeout"] == 180
    assert job["ExecutionProperty"] == {"MaxConcurrentRuns": 1}
    args = job["DefaultArguments"]
    assert args["--SHOPLAKE_LAKE"] == f"s3://{d.processed_bucket}/lake"
    assert args["--SHOPLAKE_RAW"] == f"s3://{d.raw_bucket}/lake"
    assert args["--SHOPLAKE_GLUE_DATABASE"] == d.glue_database
    assert args["--SHOPLAKE_NOTIFY_SNS_TOPIC"] == (
        f"arn:aws:sns:{REGION}:{account}:{d.name}-notifications"
    )
    assert args["--SHOPLAKE_CLOUDWATCH_DEPLOYMENT"] == d.name
    assert args["--SHOPLAKE_REDSHIFT_UNLOAD_ROLE"].endswith(f":role/{d.name}-redshift-unload")
    assert args["--continuous-log-logGroup"] == d.log_group
    assert args["--shoplake-target"] == "prod"
    assert args["--additional-python-modules"].startswith(
        f"s3://{d.processed_bucket}/glue-job/shoplake-"
    )

    # the entry script it names is in the bucket, and is Python
    script = job["Command"]["ScriptLocation"]
    bucket, key = script[len("s3://") :].split("/", 1)
    listed = deployed.client("s3").list_objects_v2(Bucket=bucket, Prefix=key)
    assert [o["Key"] for o in listed["Contents"]] == [key]
    assert listed["Contents"][0]["Size"] == len(runner.JOB_SCRIPT.encode())
    compile(runner.JOB_SCRIPT, "shoplake_job.py", "exec")


def test_the_schedule_is_a_glue_trigger_daily_at_two_utc(deployed):
    d = deployed.deployment
    trigger = deployed.client("glue").get_trigger(Name=d.trigger)["Trigger"]
    assert trigger["Type"] == "SCHEDULED"
    assert trigger["Schedule"] == "cron(0 2 * * ? *)"
    assert trigger["State"] == "ACTIVATED"
    assert [a["JobName"] for a in trigger["Actions"]] == [d.job]


def test_the_job_logs_to_its_own_group_and_alarms_notify_the_team_topic(deployed):
    d = deployed.deployment
    groups = deployed.client("logs").describe_log_groups(logGroupNamePrefix=d.log_group)
    assert [(g["logGroupName"], g["retentionInDays"]) for g in groups["logGroups"]] == [
        (d.log_group, 30)
    ]
    account = deployed.client("sts").get_caller_identity()["Account"]
    topic = f"arn:aws:sns:{REGION}:{account}:{d.name}-notifications"
    deployed.client("sns").get_topic_attributes(TopicArn=topic)  # exists
    alarms = {
        a["AlarmName"]: a
        for a in deployed.client("cloudwatch").describe_alarms(AlarmNamePrefix=d.name)[
            "MetricAlarms"
        ]
    }
    assert set(alarms) == {
        f"{d.name}-run-failed",
        f"{d.name}-stale-data",
        f"{d.name}-purchase-alerts-failed",
    }
    failed, stale = alarms[f"{d.name}-run-failed"], alarms[f"{d.name}-stale-data"]
    ours = [{"Name": "Deployment", "Value": d.name}]
    assert (failed["Namespace"], failed["MetricName"], failed["Dimensions"]) == (
        "shoplake",
        "RunFailed",
        ours,
    )
    assert (failed["ComparisonOperator"], failed["Threshold"]) == (
        "GreaterThanOrEqualToThreshold",
        1.0,
    )
    assert (stale["MetricName"], stale["Threshold"], stale["TreatMissingData"]) == (
        "FreshnessLagHours",
        26.0,
        "breaching",
    )
    queue = alarms[f"{d.name}-purchase-alerts-failed"]
    assert queue["Dimensions"] == [{"Name": "QueueName", "Value": d.failed_alerts_queue}]
    for alarm in alarms.values():
        assert alarm["AlarmActions"] == [topic]
        assert alarm["OKActions"] == [topic]


def test_the_job_roles_are_least_privilege(deployed):
    d = deployed.deployment
    account = deployed.client("sts").get_caller_identity()["Account"]
    processed, raw = f"arn:aws:s3:::{d.processed_bucket}", f"arn:aws:s3:::{d.raw_bucket}"
    notify = f"arn:aws:sns:{REGION}:{account}:{d.name}-notifications"
    alerts = f"arn:aws:sns:{REGION}:{account}:{d.topic}"
    secret = f"arn:aws:secretsmanager:{REGION}:{account}:secret:{d.name}/redshift-AbCdEf"
    group = f"arn:aws:logs:{REGION}:{account}:log-group:{d.log_group}:log-stream:x"
    pipeline = _role_documents(deployed, "pipeline")
    ns = {"cloudwatch:namespace": "shoplake"}
    cases = [
        (True, "s3:PutObject", f"{processed}/lake/gold/agg_daily_revenue/month=2026-10/x"),
        (True, "s3:DeleteObject", f"{processed}/lake/gold/agg_daily_revenue/month=2026-10/x"),
        (True, "s3:PutObject", f"{processed}/lake/silver/orders/x"),
        (True, "s3:GetObject", f"{raw}/lake/raw/orders/2026/10/01/o.csv"),
        (True, "s3:GetObject", f"{processed}/glue-job/shoplake_job-1.py"),
        (True, "sns:Publish", notify),
        (True, "cloudwatch:PutMetricData", "*", ns),
        (True, "secretsmanager:GetSecretValue", secret),
        (True, "logs:PutLogEvents", group),
        (True, "glue:CreateTable", f"arn:aws:glue:{REGION}:{account}:database/{d.glue_database}"),
        (False, "s3:PutObject", f"{processed}/glue-job/shoplake_job-1.py"),
        (False, "s3:DeleteObject", f"{raw}/lake/raw/orders/2026/10/01/o.csv"),
        (False, "s3:PutObject", f"{processed}/athena-results/x.csv"),
        (False, "sns:Publish", alerts),
        (False, "cloudwatch:PutMetricData", "*", {"cloudwatch:namespace": "AWS/Glue"}),
        (False, "secretsmanager:GetSecretValue", secret.replace("/redshift", "/other")),
        (False, "glue:DeleteTable", f"arn:aws:glue:{REGION}:{account}:table/{d.glue_database}/x"),
    ]
    unload = _role_documents(deployed, "redshift_unload")
    unload_cases = [
        (True, "s3:PutObject", f"{processed}/lake/_state/gold/unload/r1/agg_daily_revenue/x"),
        (False, "s3:PutObject", f"{processed}/lake/gold/agg_daily_revenue/x"),
        (False, "s3:PutObject", f"{processed}/lake/silver/orders/x"),
        (False, "s3:GetObject", f"{processed}/lake/silver/orders/x"),
        (False, "s3:DeleteObject", f"{processed}/lake/_state/gold/unload/r1/x"),
    ]
    wrong = [
        f"{kind} {action} on {resource}: expected {expected}"
        for kind, docs, table in (("pipeline", pipeline, cases), ("unload", unload, unload_cases))
        for expected, action, resource, *context in table
        if allowed(docs, action, resource, context[0] if context else None) != expected
    ]
    assert not wrong, "\n".join(wrong)
    trust = deployed.client("iam").get_role(RoleName=d.role("pipeline"))["Role"]
    services = trust["AssumeRolePolicyDocument"]["Statement"][0]["Principal"]["Service"]
    assert services in ("glue.amazonaws.com", ["glue.amazonaws.com"])


def test_a_second_deploy_changes_nothing_and_another_schedule_is_an_update(deployed):
    again = deploy(deployed.deployment, session=deployed.session)
    assert again.pending == []
    later = Deployment(name=deployed.deployment.name, schedule="cron(30 4 * * ? *)")
    plan = deploy(later, plan_only=True, session=deployed.session)
    assert [(c.action, c.kind, c.detail) for c in plan.pending] == [
        ("update", "glue trigger", "Schedule")
    ]


def test_drift_of_the_job_resources_is_reported_and_repaired(aws_env):
    d = Deployment(name=unique_name())
    deploy(d)
    boto3.client("logs").put_retention_policy(logGroupName=d.log_group, retentionInDays=1)
    boto3.client("cloudwatch").delete_alarms(AlarmNames=[d.alarm("stale-data")])
    boto3.client("glue").stop_trigger(Name=d.trigger)

    plan = deploy(d, plan_only=True)
    assert sorted((c.action, c.kind, c.detail) for c in plan.pending) == [
        ("create", "cloudwatch alarm", ""),
        ("update", "glue trigger", "State"),
        ("update", "logs log group", "retentionInDays"),
    ]
    deploy(d)
    assert deploy(d, plan_only=True).pending == []


def test_the_update_calls_moto_cannot_run_are_valid_glue_requests(deployed):
    from botocore.validate import ParamValidator

    acct = Account(deployed.session, deployed.deployment, workdir=None, project=None)
    model = boto3.session.Session(region_name=REGION).client("glue").meta.service_model
    requests = {
        "UpdateJob": {
            "JobName": deployed.deployment.job,
            "JobUpdate": runner.job_update(acct, {"--SHOPLAKE_REDSHIFT_HOST": "h"}),
        },
        "UpdateTrigger": {
            "Name": deployed.deployment.trigger,
            "TriggerUpdate": runner.trigger_update(acct),
        },
    }
    for operation, params in requests.items():
        report = ParamValidator().validate(params, model.operation_model(operation).input_shape)
        assert not report.has_errors(), report.generate_report()
    kept = requests["UpdateJob"]["JobUpdate"]["DefaultArguments"]
    assert kept["--SHOPLAKE_REDSHIFT_HOST"] == "h"  # arguments someone added are kept
    assert json.dumps(kept)  # plain strings only


def test_the_entry_script_runs_shoplake_with_the_jobs_arguments_and_one_run_id(tmp_path):
    """The script as Glue would start it (a retry's run id has an ``_attempt_N`` suffix):
    the ``--SHOPLAKE_*`` arguments become the environment, and both attempts record the
    same run. The postgres target without a DSN stops the run at its first dbt step,
    after ingest has run, which is all this needs."""
    from cli_kit import run_shoplake

    lake = tmp_path / "lake"
    generated = run_shoplake(
        "generate",
        "--lake",
        str(lake),
        "--start",
        "2026-10-05",
        "--days",
        "1",
        "--orders-per-day",
        "5",
        without=("SHOPLAKE_LAKE",),
    )
    assert generated.returncode == 0, generated.stderr
    script = tmp_path / "shoplake_job.py"
    script.write_text(runner.JOB_SCRIPT)
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHOPLAKE_")}
    for attempt in ("jr_0f1e2d", "jr_0f1e2d_attempt_1"):
        result = subprocess.run(
            [
                sys.executable,
                str(script),
                "--JOB_ID",
                "j_1",
                "--JOB_RUN_ID",
                attempt,
                "--job-bookmark-option",
                "job-bookmark-disable",
                "--shoplake-target",
                "postgres",
                "--SHOPLAKE_LAKE",
                str(lake),
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert result.returncode == 1, result.stdout + result.stderr
        assert "run glue-jr_0f1e2d failed at step freshness" in result.stderr
    records = sorted(p.name for p in (lake / "_state" / "pipeline").glob("*.json"))
    assert records == ["glue-jr_0f1e2d.json"]
    record = json.loads((lake / "_state" / "pipeline" / "glue-jr_0f1e2d.json").read_text())
    assert record["target"] == "postgres"
    assert {s["step"]: s["status"] for s in record["steps"]}["ingest"] == "success"
