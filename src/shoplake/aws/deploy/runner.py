"""AWS Glue: the scheduled job that runs ``shoplake run`` in the account, its log group,
its entry script, the wheel and dbt project it runs, and its schedule.

Why a Glue *Spark* job (``glueetl``, Glue 5.0) and not a Python shell job: Python shell
jobs run Python 3.9 at most, and shoplake needs 3.10 or later; Glue 5.0 runs Python
3.11 and Spark 3.5.4 (the PySpark shoplake pins). The job's ingest engine is the
deployment's ``engine``: ``duckdb`` runs on the driver; ``spark`` runs ingest on the
job's Spark session, its executors on the job's workers (``worker_type`` x ``workers``,
2 G.1X by default). The wheel comes in through ``--additional-python-modules`` (pip, at
job start, on the driver and every worker); the dbt project through ``--shoplake-project``
(an archive the entry script unpacks).

Job bookmarks are off (``--job-bookmark-option job-bookmark-disable``), on purpose: the
lake's manifest is the bookmark. Ingest reads every raw file the manifest has not seen
(by name, size and content), whichever engine or machine ran before, and a run that
fails publishes nothing and leaves the manifest as it was, so the next run reads the
same files again. A Glue bookmark would be a second, different record of what was read
(it only tracks what Glue's own DynamicFrame readers read, and it advances when a job
*run* succeeds, not when the lake's commit does): the two could disagree after a failed
publish or a manual ``shoplake ingest``, and files would be skipped.

Overlap: the job allows one concurrent run (``MaxConcurrentRuns`` 1: a scheduled start
while a run is going fails at once instead of queueing), and the run itself holds the
lake's run lock (an S3 lock object), so a manual ``shoplake run`` elsewhere and the job
never overlap either. Retries: ``MaxRetries`` more attempts; each attempt continues the
same run (its ``--run-id`` is the Glue run id without the ``_attempt_N`` suffix), so the
run history shows one run and the notifier sends each message once.
"""

from __future__ import annotations

import hashlib
from typing import Any

from shoplake.aws.deploy.account import Account
from shoplake.aws.deploy.resource import MISSING, Resource, missing_on
from shoplake.notify import CLOUDWATCH_ENV, SNS_ENV
from shoplake.redshift import UNLOAD_ROLE_ENV

GLUE_VERSION = "5.0"
LOG_RETENTION_DAYS = 30
#: What the prod target needs beside the wheel (the Redshift adapter is not one of
#: shoplake's own dependencies). One spec without commas: Glue splits the list on them.
REDSHIFT_ADAPTER = "dbt-redshift~=1.11.0"

#: The job's entry point, uploaded to ``s3://<name>-processed/glue-job/shoplake_job-<sha>.py``.
#: Glue passes the job's arguments as ``--NAME value`` pairs; ``--SHOPLAKE_*`` ones become
#: environment variables, so the job is configured exactly like a shell running shoplake.
JOB_SCRIPT = '''\
"""shoplake's daily job on AWS Glue (written by `shoplake deploy aws`; do not edit)."""

import json
import os
import re
import sys


def arguments(argv):
    out, i = {}, 0
    while i < len(argv):
        if argv[i].startswith("--") and i + 1 < len(argv):
            out[argv[i][2:]] = argv[i + 1]
            i += 2
        else:
            i += 1
    return out


args = arguments(sys.argv[1:])
for name, value in args.items():
    if name.startswith("SHOPLAKE_") and value:
        os.environ[name] = value
local_dir = os.environ.setdefault("SHOPLAKE_LOCAL_DIR", "/tmp/shoplake")
project = args.get("shoplake-project", "")
if project.startswith("s3://") and not os.environ.get("SHOPLAKE_DBT_PROJECT_DIR"):
    import io
    import zipfile

    import boto3

    bucket, _, key = project[len("s3://"):].partition("/")
    target = os.path.join(local_dir, "dbt-project", key.rsplit("/", 1)[-1][: -len(".zip")])
    try:
        body = boto3.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
        zipfile.ZipFile(io.BytesIO(body)).extractall(target)
    except Exception as exc:
        sys.exit(f"shoplake job: cannot unpack the dbt project {project}: {exc}")
    os.environ["SHOPLAKE_DBT_PROJECT_DIR"] = target
if os.environ.get("SHOPLAKE_ENGINE") == "spark" and not os.environ.get("SHOPLAKE_SPARK_MASTER"):
    # the job's own Spark (the master and workers Glue gave it): ingest takes this session
    from pyspark.sql import SparkSession

    SparkSession.builder.appName("shoplake").getOrCreate()
secret = args.get("redshift-secret")
if secret and not os.environ.get("SHOPLAKE_REDSHIFT_PASSWORD"):
    import boto3

    try:
        value = boto3.client("secretsmanager").get_secret_value(SecretId=secret)["SecretString"]
    except Exception as exc:  # no secret (no Redshift): the run says what is missing
        print(f"shoplake job: no Redshift password from secret {secret}: {exc}", file=sys.stderr)
    else:
        try:
            value = json.loads(value).get("password", value)
        except (ValueError, AttributeError):
            pass
        os.environ["SHOPLAKE_REDSHIFT_PASSWORD"] = value
run_id = "glue-" + re.sub(r"_attempt_[0-9]+$", "", args.get("JOB_RUN_ID", "manual"))
sys.argv = ["shoplake", "run", "--wait", "--target", args.get("shoplake-target", "prod"),
            "--run-id", run_id[:100]]
from shoplake.cli import main  # noqa: E402

main()
'''


def script_key(acct: Account) -> str:
    """The entry script's key, named by its content: a changed script is a new object
    (and so a visible change of the job's ScriptLocation); nothing is overwritten."""
    digest = hashlib.sha256(JOB_SCRIPT.encode()).hexdigest()[:12]
    return f"{acct.d.job_assets_prefix}/shoplake_job-{digest}.py"


def job_objects(acct: Account) -> list[Resource]:
    """The entry script, the wheel and the dbt project in the processed bucket. Listed,
    not read: each name says its content. Deploy puts them right after the bucket's
    default encryption, before the bucket policy."""
    return [
        job_object(acct, script_key(acct), JOB_SCRIPT.encode(), "text/x-python"),
        job_object(acct, acct.wheel.key, acct.wheel.data, acct.wheel.content_type),
        job_object(acct, acct.dbt_project.key, acct.dbt_project.data, "application/zip"),
    ]


def job_object(acct: Account, key: str, body: bytes, content_type: str) -> Resource:
    """One object the job reads, at a key named by its content (never overwritten)."""
    s3, d = acct.client("s3"), acct.d

    def read() -> Any:
        listed = missing_on("NoSuchBucket")(
            lambda: s3.list_objects_v2(Bucket=d.processed_bucket, Prefix=key, MaxKeys=1)
        )
        if listed is MISSING or not any(o["Key"] == key for o in listed.get("Contents", [])):
            return MISSING
        return {"key": key}

    def apply(_: Any) -> None:
        s3.put_object(Bucket=d.processed_bucket, Key=key, Body=body, ContentType=content_type)

    return Resource(
        "s3 object", f"s3://{d.processed_bucket}/{key}", lambda: {"key": key}, read, apply
    )


def log_group(acct: Account) -> Resource:
    logs, d = acct.client("logs"), acct.d

    def read() -> Any:
        groups = logs.describe_log_groups(logGroupNamePrefix=d.log_group)["logGroups"]
        group = next((g for g in groups if g["logGroupName"] == d.log_group), None)
        return MISSING if group is None else {"retentionInDays": group.get("retentionInDays")}

    def apply(current: Any) -> None:
        if current is MISSING:
            logs.create_log_group(logGroupName=d.log_group, tags=d.tags)
        logs.put_retention_policy(logGroupName=d.log_group, retentionInDays=LOG_RETENTION_DAYS)

    return Resource(
        "logs log group",
        d.log_group,
        desired=lambda: {"retentionInDays": LOG_RETENTION_DAYS},
        read=read,
        apply=apply,
    )


def job_arguments(acct: Account) -> dict[str, str]:
    """The job's default arguments deploy manages (others someone added are kept)."""
    d = acct.d
    modules = [f"s3://{d.processed_bucket}/{acct.wheel.key}"]
    if d.job_target == "prod":
        modules.append(REDSHIFT_ADAPTER)
    args = {
        "--job-language": "python",
        "--additional-python-modules": ",".join(modules),
        "--job-bookmark-option": "job-bookmark-disable",  # the lake's manifest is the bookmark
        "--enable-continuous-cloudwatch-log": "true",
        "--continuous-log-logGroup": d.log_group,
        "--shoplake-target": d.job_target,
        "--shoplake-project": f"s3://{d.processed_bucket}/{acct.dbt_project.key}",
        "--redshift-secret": d.redshift_secret,
        "--SHOPLAKE_ENGINE": d.engine,
        "--SHOPLAKE_LAKE": d.lake_uri,
        "--SHOPLAKE_RAW": d.raw_uri.rsplit("/raw", 1)[0],
        "--SHOPLAKE_GLUE_DATABASE": d.glue_database,
        f"--{SNS_ENV}": acct.notify_topic_arn,
        f"--{CLOUDWATCH_ENV}": d.name,
    }
    if d.job_target == "prod":
        args["--SHOPLAKE_SPECTRUM_IAM_ROLE"] = acct.role_arn("redshift_spectrum")
        args[f"--{UNLOAD_ROLE_ENV}"] = acct.role_arn("redshift_unload")
    return args


def job_definition(acct: Account) -> dict[str, Any]:
    """The job's settings deploy manages, DefaultArguments aside."""
    d = acct.d
    return {
        "Description": f"shoplake {d.name}: the daily run (shoplake run, {d.engine} ingest)",
        "Role": acct.role_arn("pipeline"),
        "Command": {
            "Name": "glueetl",
            "ScriptLocation": f"s3://{d.processed_bucket}/{script_key(acct)}",
            "PythonVersion": "3",
        },
        "GlueVersion": GLUE_VERSION,
        "WorkerType": d.worker_type,
        "NumberOfWorkers": d.workers,
        "MaxRetries": d.job_retries,
        "Timeout": d.job_timeout_minutes,
        "ExecutionProperty": {"MaxConcurrentRuns": 1},
    }


def job_update(acct: Account, existing_arguments: dict[str, str]) -> dict[str, Any]:
    """UpdateJob's JobUpdate: a put of the whole job, keeping arguments someone added."""
    return {
        **job_definition(acct),
        "DefaultArguments": {**existing_arguments, **job_arguments(acct)},
    }


def daily_job(acct: Account) -> Resource:
    glue, d = acct.client("glue"), acct.d
    found: dict[str, Any] = {}

    def desired() -> dict[str, Any]:
        return {**job_definition(acct), "DefaultArguments": job_arguments(acct)}

    def read() -> Any:
        job = missing_on("EntityNotFoundException")(lambda: glue.get_job(JobName=d.job)["Job"])
        if job is MISSING:
            return MISSING
        found["arguments"] = job.get("DefaultArguments") or {}
        definition = job_definition(acct)
        out = {k: job.get(k) for k in definition}
        command = job.get("Command") or {}
        out["Command"] = {k: command.get(k) for k in definition["Command"]}
        managed = job_arguments(acct)
        out["DefaultArguments"] = {k: v for k, v in found["arguments"].items() if k in managed}
        return out

    def apply(current: Any) -> None:
        if current is MISSING:
            glue.create_job(Name=d.job, Tags=d.tags, **desired())
        else:
            glue.update_job(JobName=d.job, JobUpdate=job_update(acct, found.get("arguments", {})))

    return Resource("glue job", d.job, desired, read, apply)


def trigger_update(acct: Account) -> dict[str, Any]:
    """UpdateTrigger's TriggerUpdate: the schedule and the job it starts."""
    return {"Schedule": acct.d.schedule, "Actions": [{"JobName": acct.d.job}]}


def daily_trigger(acct: Account) -> Resource:
    """The schedule: a Glue SCHEDULED trigger (no EventBridge rule or extra role needed)."""
    glue, d = acct.client("glue"), acct.d

    def desired() -> dict[str, Any]:
        return {
            "Type": "SCHEDULED",
            "Schedule": d.schedule,
            "Actions": [d.job],
            "State": "ACTIVATED",
        }

    def read() -> Any:
        trigger = missing_on("EntityNotFoundException")(
            lambda: glue.get_trigger(Name=d.trigger)["Trigger"]
        )
        if trigger is MISSING:
            return MISSING
        return {
            "Type": trigger.get("Type"),
            "Schedule": trigger.get("Schedule"),
            "Actions": [a.get("JobName") for a in trigger.get("Actions", [])],
            "State": trigger.get("State"),
        }

    def apply(current: Any) -> None:
        if current is MISSING:
            glue.create_trigger(
                Name=d.trigger,
                Type="SCHEDULED",
                Schedule=d.schedule,
                Actions=[{"JobName": d.job}],
                Description=f"shoplake {d.name}: the daily run, {d.schedule} (UTC)",
                StartOnCreation=True,
                Tags=d.tags,
            )
            return
        if (current["Schedule"], current["Actions"]) != (d.schedule, [d.job]):
            glue.update_trigger(Name=d.trigger, TriggerUpdate=trigger_update(acct))
        if current["State"] != "ACTIVATED":
            glue.start_trigger(Name=d.trigger)

    return Resource("glue trigger", d.trigger, desired, read, apply)
