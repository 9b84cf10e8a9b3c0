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

import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import boto3
from aws_kit import unique_name
from iam_eval import allowed

import shoplake
from shoplake import __version__
from shoplake.aws.deploy import Deployment, deploy, job_assets, runner
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
    assert args["--SHOPLAKE_ENGINE"] == "duckdb"
    assert args["--job-bookmark-option"] == "job-bookmark-disable"
    wheel, adapter = args["--additional-python-modules"].split(",")
    assert wheel.startswith(f"s3://{d.processed_bucket}/glue-job/wheels/")
    assert wheel.endswith(f"/shoplake-{__version__}-py3-none-any.whl")
    assert adapter == "dbt-redshift~=1.11.0"  # prod builds on Redshift

    # the entry script it names is in the bucket, and is Python
    script = job["Command"]["ScriptLocation"]
    bucket, key = script[len("s3://") :].split("/", 1)
    listed = deployed.client("s3").list_objects_v2(Bucket=bucket, Prefix=key)
    assert [o["Key"] for o in listed["Contents"]] == [key]
    assert listed["Contents"][0]["Size"] == len(runner.JOB_SCRIPT.encode())
    compile(runner.JOB_SCRIPT, "shoplake_job.py", "exec")


def _uploaded_zip(deployed, uri: str, asset: job_assets.JobAsset) -> zipfile.ZipFile:
    """The archive at ``uri``, which is ``asset`` (same MD5 and size: the bucket
    policy denies this endpoint's plain HTTP a GetObject)."""
    bucket, key = uri[len("s3://") :].split("/", 1)
    assert key == asset.key
    (listed,) = deployed.client("s3").list_objects_v2(Bucket=bucket, Prefix=key)["Contents"]
    assert listed["Size"] == len(asset.data)
    assert listed["ETag"].strip('"') == hashlib.md5(asset.data).hexdigest()
    return zipfile.ZipFile(io.BytesIO(asset.data))


def test_the_wheel_and_the_dbt_project_the_job_names_are_uploaded_whole(deployed):
    """The wheel holds every module and data file of the package and its metadata; the
    project archive every file of the dbt project's folders."""
    args = deployed.client("glue").get_job(JobName=deployed.deployment.job)["Job"][
        "DefaultArguments"
    ]
    acct = Account(deployed.session, deployed.deployment, workdir=None, project=None)
    package = Path(shoplake.__file__).parent
    wheel = _uploaded_zip(deployed, args["--additional-python-modules"].split(",")[0], acct.wheel)
    names = set(wheel.namelist())
    wanted = {"*.py", "*.json", "*.csv", "assets/*"}
    expected = {
        f"shoplake/{p.relative_to(package).as_posix()}"
        for p in package.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and any(p.match(w) for w in wanted)
    }
    assert expected
    assert expected <= names, sorted(expected - names)
    metadata = wheel.read(f"shoplake-{__version__}.dist-info/METADATA").decode()
    assert "Requires-Dist: duckdb" in metadata

    project = _uploaded_zip(deployed, args["--shoplake-project"], acct.dbt_project)
    root = Path(shoplake.__file__).resolve().parents[2]
    tracked = subprocess.run(
        ["git", "-C", str(root), "ls-files", "models", "macros", "tests", "seeds", "analyses"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert tracked
    assert set(tracked) <= set(project.namelist())
    assert {"dbt_project.yml", "profiles.yml.example"} <= set(project.namelist())


def test_a_spark_job_of_its_own_size_deploys_twice_without_changes(aws_env):
    d = Deployment(name=unique_name(), engine="spark", worker_type="G.2X", workers=10)
    first = deploy(d)
    assert first.pending
    job = boto3.client("glue").get_job(JobName=d.job)["Job"]
    assert (job["WorkerType"], job["NumberOfWorkers"]) == ("G.2X", 10)
    assert job["DefaultArguments"]["--SHOPLAKE_ENGINE"] == "spark"
    assert job["DefaultArguments"]["--job-bookmark-option"] == "job-bookmark-disable"
    trigger = boto3.client("glue").get_trigger(Name=d.trigger)["Trigger"]
    assert [a["JobName"] for a in trigger["Actions"]] == [d.job]
    assert deploy(d).pending == []


def test_switching_engine_or_size_and_a_changed_project_are_updates_of_the_job(deployed, tmp_path):
    d = deployed.deployment
    spark = Deployment(name=d.name, engine="spark", workers=4)
    plan = deploy(spark, plan_only=True, session=deployed.session)
    assert [(c.action, c.kind, set(c.detail.split(", "))) for c in plan.pending] == [
        ("update", "glue job", {"Description", "NumberOfWorkers", "DefaultArguments"})
    ]

    root = Path(shoplake.__file__).resolve().parents[2]
    project = tmp_path / "project"
    for relative, data in job_assets.project_files(root):
        (project / relative).parent.mkdir(parents=True, exist_ok=True)
        (project / relative).write_bytes(data)
    assert deploy(d, plan_only=True, session=deployed.session, project=project).pending == []
    (project / "models" / "marts" / "new_mart.sql").write_text("select 1 as one\n")
    plan = deploy(d, plan_only=True, session=deployed.session, project=project)
    assert [(c.action, c.kind) for c in plan.pending] == [
        ("create", "s3 object"),
        ("update", "glue job"),
    ]
    assert "/glue-job/dbt-project-" in plan.pending[0].name
    assert plan.pending[1].detail == "DefaultArguments"


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


def _one_day_lake(tmp_path: Path) -> Path:
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
    return lake


def _run_entry_script(tmp_path: Path, run_id: str, *args: str, **env: str):
    """The entry script as Glue starts it (``--JOB_RUN_ID``, the job's arguments), with
    this test's environment but no ``SHOPLAKE_*`` variables, plus ``env``."""
    script = tmp_path / "shoplake_job.py"
    script.write_text(runner.JOB_SCRIPT)
    child = {k: v for k, v in os.environ.items() if not k.startswith("SHOPLAKE_")}
    return subprocess.run(
        [
            sys.executable,
            str(script),
            "--JOB_ID",
            "j_1",
            "--JOB_RUN_ID",
            run_id,
            "--job-bookmark-option",
            "job-bookmark-disable",
            *args,
        ],
        env={**child, **env},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_the_entry_script_runs_shoplake_with_the_jobs_arguments_and_one_run_id(tmp_path):
    """A retry's run id has an ``_attempt_N`` suffix: the ``--SHOPLAKE_*`` arguments
    become the environment, and both attempts record the same run. The postgres target
    without a DSN stops the run at its first dbt step, after ingest has run, which is
    all this needs."""
    lake = _one_day_lake(tmp_path)
    for attempt in ("jr_0f1e2d", "jr_0f1e2d_attempt_1"):
        result = _run_entry_script(
            tmp_path, attempt, "--shoplake-target", "postgres", "--SHOPLAKE_LAKE", str(lake)
        )
        assert result.returncode == 1, result.stdout + result.stderr
        assert "run glue-jr_0f1e2d failed at step freshness" in result.stderr
    records = sorted(p.name for p in (lake / "_state" / "pipeline").glob("*.json"))
    assert records == ["glue-jr_0f1e2d.json"]
    record = json.loads((lake / "_state" / "pipeline" / "glue-jr_0f1e2d.json").read_text())
    assert record["target"] == "postgres"
    assert {s["step"]: s["status"] for s in record["steps"]}["ingest"] == "success"


def test_the_entry_script_unpacks_the_dbt_project_and_ingests_on_the_jobs_spark(
    tmp_path, s3_bucket
):
    """On the Spark engine the script starts the Spark session the job was given (here
    spark-submit's arguments name a local master, as Glue's name its cluster) before
    shoplake runs, and ingest runs on it; the dbt project comes from its archive."""
    lake = _one_day_lake(tmp_path)
    for raw in (lake / "raw").iterdir():  # one dataset is enough to see the engine
        if raw.name != "orders":
            shutil.rmtree(raw)
    root = Path(shoplake.__file__).resolve().parents[2]
    archive = job_assets.dbt_project_archive("glue-job", root)
    boto3.client("s3").put_object(Bucket=s3_bucket, Key=archive.key, Body=archive.data)
    local = tmp_path / "local"
    result = _run_entry_script(
        tmp_path,
        "jr_5a",
        "--shoplake-target",
        "postgres",
        "--shoplake-project",
        f"s3://{s3_bucket}/{archive.key}",
        "--SHOPLAKE_ENGINE",
        "spark",
        "--SHOPLAKE_LAKE",
        str(lake),
        "--SHOPLAKE_LOCAL_DIR",
        str(local),
        PYSPARK_SUBMIT_ARGS="--master local[1] pyspark-shell",
        PYSPARK_PYTHON=sys.executable,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert "run glue-jr_5a failed at step freshness" in result.stderr
    unpacked = local / "dbt-project" / archive.name.removesuffix(".zip")
    assert sorted(p.relative_to(unpacked).as_posix() for p in unpacked.rglob("*.sql")) == sorted(
        name for name, _ in job_assets.project_files(root) if name.endswith(".sql")
    )
    (log,) = (lake / "_state" / "runs").glob("*.json")
    ingest_log = json.loads(log.read_text())
    assert ingest_log["engine"] == "spark"
    assert ingest_log["datasets"]["orders"]["written"] > 0
