"""``shoplake deploy aws``: shoplake's AWS resources as code, with boto3 and JSON only.

Three steps, each plain:

1. **Desired state.** :class:`Deployment` names everything from ``--name`` and
   ``--prefix``; :func:`resources` lists every resource in dependency order, each with
   the state it should have (policies rendered from ``policies/*.json``, buckets from
   :mod:`~shoplake.aws.buckets`, Glue tables from :mod:`~shoplake.aws.catalog`, the
   workgroup and named queries from :mod:`~shoplake.aws.athena`).
2. **Diff.** Each resource reads its current state back through boto3 and turns it into
   the same comparable form: missing -> *create*, different -> *update* (with what
   differs), equal -> *no change*.
3. **Actions.** ``--plan`` stops after the diff and changes nothing. Otherwise each
   resource that is not in its desired state is created or updated, in order, so that a
   second run finds nothing to do. A run that stops half-way (crash, permission error)
   leaves finished resources finished; the next run does the rest.

Resources deploy manages are only ever created or updated, never deleted.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from shoplake.alerts.lambda_handler import LEDGER_DIR, TOPIC_ENV
from shoplake.alerts.package import HANDLER, build_lambda_zip
from shoplake.aws import athena as athena_mod
from shoplake.aws import buckets as bk
from shoplake.aws import catalog, policies
from shoplake.aws.session import AwsSession, aws_errors, refused
from shoplake.contract import CLICKSTREAM, DATASETS
from shoplake.errors import ShoplakeError
from shoplake.lake import RAW, Lake
from shoplake.report import Report

#: Sentinel of a resource (or a bucket setting) that does not exist.
MISSING: Any = type("Missing", (), {"__repr__": lambda self: "MISSING"})()

LAMBDA_RUNTIME = "python3.12"
#: Must stay below the handler's claim lease (SHOPLAKE_ALERTS_CLAIM_LEASE_S, 120 s).
LAMBDA_TIMEOUT_S = 60
LAMBDA_MEMORY_MB = 256
#: Asynchronous invocations (S3 events): Lambda's retries of a failed event, and how long
#: it keeps trying; an event that exhausts either goes to the failed-events queue.
ALERT_RETRY_ATTEMPTS = 2
ALERT_MAX_EVENT_AGE_S = 6 * 3600
#: SQS's longest retention: time to notice the failures, fix the cause and replay.
FAILED_EVENTS_RETENTION_S = 14 * 24 * 3600

_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{1,38}[a-z0-9]$")
_PREFIX = re.compile(r"^[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*$")

#: Who may assume each role: its trust policy template and the services that template names.
ROLE_TRUST: dict[str, tuple[str, list[str]]] = {
    "ingest": ("trust_service", ["glue.amazonaws.com"]),
    "athena_reader": ("trust_account", []),
    "redshift_spectrum": (
        "trust_service",
        ["redshift.amazonaws.com", "redshift-serverless.amazonaws.com"],
    ),
    "alert_lambda": ("trust_service", ["lambda.amazonaws.com"]),
}


@dataclass(frozen=True)
class Deployment:
    """Every name of one shoplake deployment, derived from two inputs.

    ``name`` prefixes every resource (bucket names are global: make it yours, e.g.
    ``acme-shoplake``); ``prefix`` is where the lake sits inside the buckets.
    """

    name: str = "shoplake"
    prefix: str = "lake"
    bytes_scanned_cutoff: int = athena_mod.DEFAULT_BYTES_SCANNED_CUTOFF
    quarantine_days: int = bk.DEFAULT_QUARANTINE_EXPIRY_DAYS

    def __post_init__(self) -> None:
        if not _NAME.match(self.name):
            raise ShoplakeError(
                f"deployment name {self.name!r} is not usable in bucket and role names",
                "use 3-40 lower-case letters, digits and hyphens, not starting or ending "
                "with a hyphen",
            )
        if self.prefix and not _PREFIX.match(self.prefix):
            raise ShoplakeError(
                f"lake prefix {self.prefix!r} is not a plain S3 key prefix",
                "use letters, digits, '.', '_', '-' and single slashes, e.g. lake or prod/lake",
            )
        if self.quarantine_days < 1:
            raise ShoplakeError("quarantine expiry must be at least 1 day", "")

    # buckets and the lake
    @property
    def raw_bucket(self) -> str:
        return f"{self.name}-raw"

    @property
    def processed_bucket(self) -> str:
        return f"{self.name}-processed"

    @property
    def archive_bucket(self) -> str:
        return f"{self.name}-archive"

    @property
    def lake_uri(self) -> str:
        """The lake root: silver, quarantine, alerts and _state live under it."""
        return f"s3://{self.processed_bucket}/{self.prefix}".rstrip("/")

    @property
    def raw_uri(self) -> str:
        """Where sources deliver raw files (the raw zone, in the versioned raw bucket)."""
        return f"s3://{self.raw_bucket}/{Lake.key(self.prefix, RAW)}"

    @property
    def results_uri(self) -> str:
        return f"s3://{self.processed_bucket}/{athena_mod.RESULTS_PREFIX}/"

    # everything else
    @property
    def key_alias(self) -> str:
        return f"alias/{self.name}-lake"

    @property
    def glue_database(self) -> str:
        return self.name.replace("-", "_")

    @property
    def workgroup(self) -> str:
        return self.name

    @property
    def topic(self) -> str:
        return f"{self.name}-purchase-alerts"

    @property
    def function(self) -> str:
        return f"{self.name}-purchase-alerts"

    @property
    def failed_alerts_queue(self) -> str:
        """Where the alert function's events go once Lambda gives up on them."""
        return f"{self.name}-purchase-alerts-failed"

    def role(self, kind: str) -> str:
        return f"{self.name}-{kind.replace('_', '-')}"

    @property
    def tags(self) -> dict[str, str]:
        return {"project": "shoplake", "shoplake:deployment": self.name}


@dataclass
class Change:
    action: str  # create, update, no change
    kind: str
    name: str
    detail: str = ""


@dataclass
class Resource:
    """One thing deploy manages: how it should be, how it is, how to make it so.

    ``desired`` and ``read`` return the same comparable form (``read`` returns MISSING
    when the thing does not exist); ``apply`` receives what ``read`` returned.
    """

    kind: str
    name: str
    desired: Callable[[], Any]
    read: Callable[[], Any]
    apply: Callable[[Any], None]
    drift: Callable[[Any, Any], list[str]] | None = None

    def differences(self, current: Any, desired: Any) -> list[str]:
        if self.drift is not None:
            return self.drift(current, desired)
        if isinstance(current, dict) and isinstance(desired, dict):
            keys = sorted(set(current) | set(desired))
            return [k for k in keys if current.get(k) != desired.get(k)]
        return [] if current == desired else ["settings"]


@dataclass
class DeployResult:
    deployment: Deployment
    plan_only: bool
    changes: list[Change] = field(default_factory=list)

    @property
    def pending(self) -> list[Change]:
        return [c for c in self.changes if c.action != "no change"]

    def as_report(self) -> Report:
        created = sum(c.action == "create" for c in self.changes)
        updated = sum(c.action == "update" for c in self.changes)
        unchanged = len(self.changes) - created - updated
        if self.plan_only:
            counts = f"{created} to create, {updated} to update, {unchanged} unchanged"
        else:
            counts = f"{created} created, {updated} updated, {unchanged} unchanged"
        notes = [counts]
        if self.plan_only:
            notes.append("plan only: nothing was changed")
        elif not self.pending:
            notes.append("no changes: everything was already as described")
        notes.append(
            f"lake: {self.deployment.lake_uri}  raw files: {self.deployment.raw_uri}/  "
            f"Glue database: {self.deployment.glue_database}  "
            f"Athena workgroup: {self.deployment.workgroup}"
        )
        return Report(
            title="deploy aws: plan" if self.plan_only else "deploy aws",
            columns=["action", "resource", "name", "what differs"],
            rows=[[c.action, c.kind, c.name, c.detail] for c in self.changes],
            notes=notes,
        )


def deploy(
    deployment: Deployment,
    *,
    plan_only: bool = False,
    session: AwsSession | None = None,
    project: Path | None = None,
) -> DeployResult:
    """Compare every resource with its desired state and (unless ``plan_only``) fix it.

    ``project`` is the dbt project whose analyses become named queries (default: the
    repository's).
    """
    session = session or AwsSession()
    with tempfile.TemporaryDirectory(prefix="shoplake-deploy-") as tmp:
        account = _Account(session, deployment, Path(tmp), project)
        result = DeployResult(deployment, plan_only)
        with aws_errors("deploy aws: listing the resources"):
            todo = resources(account)
        for resource in todo:
            with aws_errors(f"deploy aws: {resource.kind} {resource.name}"):
                current = resource.read()
                if current is MISSING:
                    change = Change("create", resource.kind, resource.name)
                else:
                    diff = resource.differences(current, resource.desired())
                    action = "update" if diff else "no change"
                    change = Change(action, resource.kind, resource.name, ", ".join(diff))
                if change.action != "no change" and not plan_only:
                    resource.apply(current)
            result.changes.append(change)
        return result


class _Account:
    """The account being deployed to: clients, ARNs, and values that resources share."""

    def __init__(
        self,
        session: AwsSession,
        deployment: Deployment,
        workdir: Path,
        project: Path | None,
    ) -> None:
        self.session = session
        self.d = deployment
        self.workdir = workdir
        self._project = project
        self._key_arn: str | None = None

    def client(self, service: str) -> Any:
        return self.session.client(service)

    @property
    def region(self) -> str:
        return self.session.region

    @property
    def partition(self) -> str:
        return self.session.partition

    @property
    def account(self) -> str:
        return self.session.account

    def arn(self, service: str, resource: str, region: bool = True) -> str:
        return (
            f"arn:{self.partition}:{service}:{self.region if region else ''}:"
            f"{self.account}:{resource}"
        )

    @property
    def key_arn(self) -> str:
        """The lake key's ARN; before the key exists (a plan), a stand-in that says so."""
        if self._key_arn is None:
            with refused("NotFoundException"):
                meta = self.client("kms").describe_key(KeyId=self.d.key_alias)["KeyMetadata"]
                self._key_arn = meta["Arn"]
            if self._key_arn is None:
                return self.arn("kms", "key/(created by deploy)")
        return self._key_arn

    def forget_key(self) -> None:
        self._key_arn = None

    @property
    def topic_arn(self) -> str:
        return self.arn("sns", self.d.topic)

    @property
    def function_arn(self) -> str:
        return self.arn("lambda", f"function:{self.d.function}")

    @property
    def failed_alerts_queue_arn(self) -> str:
        return self.arn("sqs", self.d.failed_alerts_queue)

    def role_arn(self, kind: str) -> str:
        return self.arn("iam", f"role/{self.d.role(kind)}", region=False)

    def policy_arn(self, kind: str) -> str:
        return self.arn("iam", f"policy/{self.d.role(kind)}", region=False)

    @property
    def policy_values(self) -> dict[str, Any]:
        """Every placeholder of the policy documents."""
        prefix = self.d.prefix.strip("/")
        return {
            "Partition": self.partition,
            "Region": self.region,
            "Account": self.account,
            "RawBucket": self.d.raw_bucket,
            "ProcessedBucket": self.d.processed_bucket,
            "LakePrefix": f"{prefix}/" if prefix else "",
            "ResultsPrefix": athena_mod.RESULTS_PREFIX,
            "KeyArn": self.key_arn,
            "GlueDatabase": self.d.glue_database,
            "Workgroup": self.d.workgroup,
            "TopicArn": self.topic_arn,
            "FunctionName": self.d.function,
            "AlertLedgerPrefix": LEDGER_DIR,
            "FailedAlertsQueueArn": self.failed_alerts_queue_arn,
        }

    @cached_property
    def named_queries(self) -> list[athena_mod.NamedQuery]:
        from shoplake.warehouse import project_dir

        return athena_mod.analyses(self._project or project_dir())

    @cached_property
    def lambda_package(self) -> tuple[bytes, str]:
        """The alert function's zip and its base64 SHA-256 (how Lambda reports code); the
        zip is the same bytes for the same sources, so unchanged code compares equal."""
        data = build_lambda_zip(self.workdir).read_bytes()
        return data, base64.b64encode(hashlib.sha256(data).digest()).decode()


def resources(acct: _Account) -> list[Resource]:
    """Every resource of a deployment, in the order they can be created."""
    d = acct.d
    out = [_kms_key(acct)]
    plans = bk.bucket_plans(
        d.raw_bucket, d.processed_bucket, d.archive_bucket, d.prefix, d.quarantine_days
    )
    for plan in plans:
        out += _bucket(acct, plan)
    out += _glue(acct)
    out += _athena(acct)
    for kind in policies.ROLE_POLICIES:
        out += _iam_role(acct, kind)
    out.append(_topic(acct))
    out.append(_failed_alerts_queue(acct))
    out += _alert_function(acct)
    out.append(_alert_failure_destination(acct))
    out.append(_raw_notifications(acct))
    return out


def _tag_list(tags: dict[str, str], key: str = "Key", value: str = "Value") -> list[dict]:
    return [{key: k, value: v} for k, v in sorted(tags.items())]


def _missing_on(*codes: str) -> Callable[[Callable[[], Any]], Any]:
    """Call ``read`` and answer MISSING when the service says one of ``codes``."""

    def call(read: Callable[[], Any]) -> Any:
        with refused(*codes):
            return read()
        return MISSING

    return call


# --- KMS -------------------------------------------------------------------------------
def _kms_key(acct: _Account) -> Resource:
    kms, d = acct.client("kms"), acct.d

    def read() -> Any:
        meta = _missing_on("NotFoundException")(
            lambda: kms.describe_key(KeyId=d.key_alias)["KeyMetadata"]
        )
        if meta is MISSING:
            return MISSING
        rotation = kms.get_key_rotation_status(KeyId=meta["KeyId"])["KeyRotationEnabled"]
        return {"state": meta["KeyState"], "rotation": rotation}

    def apply(current: Any) -> None:
        if current is MISSING:
            key = kms.create_key(
                Description=f"shoplake {d.name}: encrypts the lake buckets, query results "
                "and alert messages",
                KeyUsage="ENCRYPT_DECRYPT",
                Tags=_tag_list(d.tags, "TagKey", "TagValue"),
            )["KeyMetadata"]
            kms.create_alias(AliasName=d.key_alias, TargetKeyId=key["KeyId"])
            acct.forget_key()
            current = {"state": key["KeyState"], "rotation": False}
        key_id = acct.key_arn
        if current["state"] == "Disabled":
            kms.enable_key(KeyId=key_id)
        elif current["state"] not in ("Enabled", "Disabled"):
            raise ShoplakeError(
                f"KMS key {d.key_alias} is {current['state']}",
                "cancel its deletion (kms cancel-key-deletion) or choose another --name",
            )
        if not current["rotation"]:
            kms.enable_key_rotation(KeyId=key_id)

    return Resource(
        "kms key",
        d.key_alias,
        desired=lambda: {"state": "Enabled", "rotation": True},
        read=read,
        apply=apply,
    )


# --- S3 ---------------------------------------------------------------------------------
#: S3's codes for a bucket that does not exist, and for one that belongs to someone else.
_NO_BUCKET = ("404", "NoSuchBucket", "NotFound")
_NOT_OURS = ("403", "AccessDenied", "Forbidden")


def _bucket(acct: _Account, plan: bk.BucketPlan) -> list[Resource]:
    s3, d, name = acct.client("s3"), acct.d, plan.name
    exists: dict[str, bool] = {}

    def read_bucket() -> Any:
        with refused(*_NO_BUCKET) as missing, refused(*_NOT_OURS) as not_ours:
            s3.head_bucket(Bucket=name, ExpectedBucketOwner=acct.account)
        if missing:
            exists[name] = False
            return MISSING
        if not_ours:
            raise ShoplakeError(
                f"bucket {name} exists but does not belong to this account",
                "bucket names are global: choose another --name",
            ) from not_ours.exc
        exists[name] = True
        tags = bucket_tags()
        return {"tags": {k: v for k, v in tags.items() if k in d.tags}}

    def bucket_tags() -> dict[str, str]:
        tags = _missing_on("NoSuchTagSet")(lambda: s3.get_bucket_tagging(Bucket=name)["TagSet"])
        return {} if tags is MISSING else {t["Key"]: t["Value"] for t in tags}

    def apply_bucket(current: Any) -> None:
        if current is MISSING:
            kwargs: dict[str, Any] = {"Bucket": name}
            if acct.region != "us-east-1":
                kwargs["CreateBucketConfiguration"] = {"LocationConstraint": acct.region}
            s3.create_bucket(**kwargs)
            s3.get_waiter("bucket_exists").wait(Bucket=name)
            exists[name] = True
        # S3 replaces the whole tag set: keep tags that others put on the bucket
        tags = {**bucket_tags(), **d.tags}
        s3.put_bucket_tagging(Bucket=name, Tagging={"TagSet": _tag_list(tags)})

    def setting(
        kind: str,
        desired: Callable[[], Any],
        get: Callable[[], Any],
        put: Callable[[], None],
        missing: tuple[str, ...],
    ) -> Resource:
        def read() -> Any:
            if not exists.get(name):
                return MISSING
            return _missing_on(*missing)(get)

        return Resource(kind, name, desired=desired, read=read, apply=lambda _: put())

    out = [
        Resource("s3 bucket", name, lambda: {"tags": d.tags}, read_bucket, apply_bucket),
        setting(
            "s3 ownership controls",
            lambda: bk.OWNERSHIP,
            lambda: s3.get_bucket_ownership_controls(Bucket=name)["OwnershipControls"],
            lambda: s3.put_bucket_ownership_controls(Bucket=name, OwnershipControls=bk.OWNERSHIP),
            ("OwnershipControlsNotFoundError",),
        ),
        setting(
            "s3 public access block",
            lambda: bk.PUBLIC_ACCESS_BLOCK,
            lambda: s3.get_public_access_block(Bucket=name)["PublicAccessBlockConfiguration"],
            lambda: s3.put_public_access_block(
                Bucket=name, PublicAccessBlockConfiguration=bk.PUBLIC_ACCESS_BLOCK
            ),
            ("NoSuchPublicAccessBlockConfiguration",),
        ),
        setting(
            "s3 default encryption",
            lambda: bk.comparable_encryption(bk.encryption_config(acct.key_arn)),
            lambda: bk.comparable_encryption(
                s3.get_bucket_encryption(Bucket=name)["ServerSideEncryptionConfiguration"]
            ),
            lambda: s3.put_bucket_encryption(
                Bucket=name, ServerSideEncryptionConfiguration=bk.encryption_config(acct.key_arn)
            ),
            ("ServerSideEncryptionConfigurationNotFoundError",),
        ),
    ]
    if plan.versioned:

        def versioning() -> Any:
            status = s3.get_bucket_versioning(Bucket=name).get("Status")
            return {"Status": status} if status else MISSING

        out.append(
            setting(
                "s3 versioning",
                lambda: {"Status": "Enabled"},
                versioning,
                lambda: s3.put_bucket_versioning(
                    Bucket=name, VersioningConfiguration={"Status": "Enabled"}
                ),
                (),
            )
        )
    out += [
        setting(
            "s3 lifecycle",
            lambda: bk.comparable_lifecycle(plan.lifecycle),
            lambda: bk.comparable_lifecycle(
                s3.get_bucket_lifecycle_configuration(Bucket=name)["Rules"]
            ),
            lambda: s3.put_bucket_lifecycle_configuration(
                Bucket=name, LifecycleConfiguration={"Rules": plan.lifecycle}
            ),
            ("NoSuchLifecycleConfiguration",),
        ),
        setting(
            "s3 bucket policy",
            lambda: policies.canonical(_bucket_policy(acct, name)),
            lambda: policies.canonical(s3.get_bucket_policy(Bucket=name)["Policy"]),
            lambda: s3.put_bucket_policy(
                Bucket=name, Policy=json.dumps(_bucket_policy(acct, name))
            ),
            ("NoSuchBucketPolicy",),
        ),
    ]
    return out


def _bucket_policy(acct: _Account, bucket: str) -> dict[str, Any]:
    return policies.render("bucket", {**acct.policy_values, "Bucket": bucket})


def _raw_notifications(acct: _Account) -> Resource:
    """New clickstream files -> the alert function (after the function and its permission
    exist: S3 checks that it may invoke the function when the notification is saved)."""
    s3, d = acct.client("s3"), acct.d
    suffixes = CLICKSTREAM.extensions

    def desired_configs() -> list[dict[str, Any]]:
        return bk.clickstream_notifications(acct.function_arn, d.prefix, suffixes)

    def read() -> Any:
        if not _bucket_exists(s3, d.raw_bucket):
            return MISSING
        configs = s3.get_bucket_notification_configuration(Bucket=d.raw_bucket).get(
            "LambdaFunctionConfigurations", []
        )
        ours = bk.comparable_notifications(configs)
        return ours or MISSING

    def apply(_: Any) -> None:
        current = s3.get_bucket_notification_configuration(Bucket=d.raw_bucket)
        current.pop("ResponseMetadata", None)
        others = [
            c
            for c in current.get("LambdaFunctionConfigurations", [])
            if not str(c.get("Id", "")).startswith(bk.NOTIFICATION_ID_PREFIX)
        ]
        current["LambdaFunctionConfigurations"] = others + desired_configs()
        s3.put_bucket_notification_configuration(
            Bucket=d.raw_bucket, NotificationConfiguration=current
        )

    return Resource(
        "s3 event notification",
        f"{d.raw_bucket}/{Lake.key(d.prefix, RAW, CLICKSTREAM.name)}/",
        desired=lambda: bk.comparable_notifications(desired_configs()),
        read=read,
        apply=apply,
    )


def _bucket_exists(s3: Any, name: str) -> bool:
    with refused(*_NO_BUCKET):
        s3.head_bucket(Bucket=name)
        return True
    return False


# --- Glue -------------------------------------------------------------------------------
def _glue(acct: _Account) -> list[Resource]:
    glue, d = acct.client("glue"), acct.d

    def read_db() -> Any:
        db = _missing_on("EntityNotFoundException")(
            lambda: glue.get_database(Name=d.glue_database)["Database"]
        )
        return MISSING if db is MISSING else {"Description": db.get("Description", "")}

    def apply_db(current: Any) -> None:
        if current is MISSING:
            glue.create_database(DatabaseInput=catalog.database_input(d.glue_database))
        else:
            glue.update_database(
                Name=d.glue_database, DatabaseInput=catalog.database_input(d.glue_database)
            )

    out = [
        Resource(
            "glue database",
            d.glue_database,
            desired=lambda: {"Description": catalog.database_input(d.glue_database)["Description"]},
            read=read_db,
            apply=apply_db,
        )
    ]
    for ds in DATASETS.values():
        desired = catalog.table_input(ds, d.lake_uri)

        def read_table(name: str = ds.name) -> Any:
            table = catalog.get_table(glue, d.glue_database, name)
            return MISSING if table is None else table

        def apply_table(current: Any, desired: dict = desired) -> None:
            if current is MISSING:
                glue.create_table(DatabaseName=d.glue_database, TableInput=desired)
            else:
                glue.update_table(DatabaseName=d.glue_database, TableInput=desired)

        out.append(
            Resource(
                "glue table",
                f"{d.glue_database}.{ds.name}",
                desired=lambda desired=desired: desired,
                read=read_table,
                apply=apply_table,
                drift=catalog.table_drift,
            )
        )
    return out


# --- Athena -----------------------------------------------------------------------------
def _athena(acct: _Account) -> list[Resource]:
    athena, d = acct.client("athena"), acct.d

    def config() -> dict[str, Any]:
        return athena_mod.workgroup_configuration(
            d.results_uri, acct.key_arn, d.bytes_scanned_cutoff
        )

    def read_workgroup() -> Any:
        group = _missing_on("InvalidRequestException")(
            lambda: athena.get_work_group(WorkGroup=d.workgroup).get("WorkGroup")
        )
        if not group:  # some endpoints answer an empty document instead of an error
            return MISSING
        return athena_mod.comparable_workgroup(group.get("Configuration", {}))

    def apply_workgroup(current: Any) -> None:
        if current is MISSING:
            athena.create_work_group(
                Name=d.workgroup,
                Description=f"shoplake {d.name}: queries over the lake, scan-limited",
                Configuration=config(),
                Tags=_tag_list(d.tags),
            )
            return
        athena.update_work_group(
            WorkGroup=d.workgroup, ConfigurationUpdates=athena_mod.workgroup_updates(config())
        )

    out = [
        Resource(
            "athena workgroup",
            d.workgroup,
            desired=lambda: athena_mod.comparable_workgroup(config()),
            read=read_workgroup,
            apply=apply_workgroup,
        )
    ]
    for query in acct.named_queries:
        out.append(_named_query(acct, query))
    return out


def _named_query(acct: _Account, query: athena_mod.NamedQuery) -> Resource:
    athena, d = acct.client("athena"), acct.d
    desired = {
        "Database": d.glue_database,
        "Description": query.description,
        "QueryString": query.sql,
    }
    found: dict[str, str] = {}

    def read() -> Any:
        if not _workgroup_exists(athena, d.workgroup):
            return MISSING
        current = athena_mod.find_named_query(athena, d.workgroup, query.name)
        if current is None:
            return MISSING
        found["id"] = current["NamedQueryId"]
        return {k: current.get(k, "") for k in desired}

    def apply(current: Any) -> None:
        if current is not MISSING and current["Database"] == desired["Database"]:
            athena.update_named_query(
                NamedQueryId=found["id"],
                Name=query.name,
                Description=query.description,
                QueryString=query.sql,
            )
            return
        if current is not MISSING:  # the database of a named query cannot be updated
            athena.delete_named_query(NamedQueryId=found["id"])
        athena.create_named_query(Name=query.name, WorkGroup=d.workgroup, **desired)

    return Resource(
        "athena named query",
        f"{d.workgroup}/{query.name}",
        desired=lambda: desired,
        read=read,
        apply=apply,
    )


def _workgroup_exists(athena: Any, workgroup: str) -> bool:
    with refused("InvalidRequestException"):
        return bool(athena.get_work_group(WorkGroup=workgroup).get("WorkGroup"))
    return False


# --- IAM --------------------------------------------------------------------------------
#: IAM keeps at most five versions of a managed policy.
_MAX_POLICY_VERSIONS = 5


def _iam_role(acct: _Account, kind: str) -> list[Resource]:
    iam, d = acct.client("iam"), acct.d
    role_name, policy_arn = d.role(kind), acct.policy_arn(kind)
    trust_template, services = ROLE_TRUST[kind]

    def document() -> dict[str, Any]:
        return policies.render(kind, acct.policy_values)

    def trust() -> dict[str, Any]:
        return policies.render(trust_template, {**acct.policy_values, "Services": services})

    def read_policy() -> Any:
        policy = _missing_on("NoSuchEntity")(lambda: iam.get_policy(PolicyArn=policy_arn)["Policy"])
        if policy is MISSING:
            return MISSING
        version = iam.get_policy_version(
            PolicyArn=policy_arn, VersionId=policy["DefaultVersionId"]
        )["PolicyVersion"]
        return policies.canonical(version["Document"])

    def apply_policy(current: Any) -> None:
        text = json.dumps(document())
        if current is MISSING:
            iam.create_policy(
                PolicyName=role_name,
                PolicyDocument=text,
                Description=f"shoplake {d.name}: least privilege of the {kind} role",
                Tags=_tag_list(d.tags),
            )
            return
        versions = iam.list_policy_versions(PolicyArn=policy_arn)["Versions"]
        old = sorted((v for v in versions if not v["IsDefaultVersion"]), key=_version_number)
        if len(versions) >= _MAX_POLICY_VERSIONS and old:
            iam.delete_policy_version(PolicyArn=policy_arn, VersionId=old[0]["VersionId"])
        iam.create_policy_version(PolicyArn=policy_arn, PolicyDocument=text, SetAsDefault=True)

    def read_role() -> Any:
        role = _missing_on("NoSuchEntity")(lambda: iam.get_role(RoleName=role_name)["Role"])
        if role is MISSING:
            return MISSING
        attached = iam.list_attached_role_policies(RoleName=role_name)["AttachedPolicies"]
        return {
            "trust": policies.canonical(role["AssumeRolePolicyDocument"]),
            "policy attached": policy_arn in {p["PolicyArn"] for p in attached},
        }

    def apply_role(current: Any) -> None:
        if current is MISSING:
            iam.create_role(
                RoleName=role_name,
                AssumeRolePolicyDocument=json.dumps(trust()),
                Description=f"shoplake {d.name}: the {kind} role",
                Tags=_tag_list(d.tags),
            )
            current = {"trust": policies.canonical(trust()), "policy attached": False}
        elif current["trust"] != policies.canonical(trust()):
            iam.update_assume_role_policy(RoleName=role_name, PolicyDocument=json.dumps(trust()))
        if not current["policy attached"]:
            iam.attach_role_policy(RoleName=role_name, PolicyArn=policy_arn)

    return [
        Resource(
            "iam policy",
            role_name,
            desired=lambda: policies.canonical(document()),
            read=read_policy,
            apply=apply_policy,
            drift=lambda cur, want: [] if cur == want else ["statements"],
        ),
        Resource(
            "iam role",
            role_name,
            desired=lambda: {"trust": policies.canonical(trust()), "policy attached": True},
            read=read_role,
            apply=apply_role,
        ),
    ]


def _version_number(version: dict[str, Any]) -> int:
    return int(str(version["VersionId"]).lstrip("v") or 0)


# --- SNS and Lambda -----------------------------------------------------------------------
def _topic(acct: _Account) -> Resource:
    sns, d = acct.client("sns"), acct.d

    def read() -> Any:
        attrs = _missing_on("NotFound", "NotFoundException")(
            lambda: sns.get_topic_attributes(TopicArn=acct.topic_arn)["Attributes"]
        )
        return MISSING if attrs is MISSING else {"KmsMasterKeyId": attrs.get("KmsMasterKeyId")}

    def apply(current: Any) -> None:
        if current is MISSING:
            sns.create_topic(
                Name=d.topic,
                Attributes={"KmsMasterKeyId": acct.key_arn},
                Tags=_tag_list(d.tags),
            )
        else:
            sns.set_topic_attributes(
                TopicArn=acct.topic_arn, AttributeName="KmsMasterKeyId", AttributeValue=acct.key_arn
            )

    return Resource(
        "sns topic",
        d.topic,
        desired=lambda: {"KmsMasterKeyId": acct.key_arn},
        read=read,
        apply=apply,
    )


#: Lambda may not see a role created seconds ago (IAM is eventually consistent).
_ROLE_PROPAGATION_S = 60.0


def _alert_function(acct: _Account) -> list[Resource]:
    lam, d = acct.client("lambda"), acct.d

    def configuration() -> dict[str, Any]:
        return {
            "Runtime": LAMBDA_RUNTIME,
            "Handler": HANDLER,
            "Role": acct.role_arn("alert_lambda"),
            "Timeout": LAMBDA_TIMEOUT_S,
            "MemorySize": LAMBDA_MEMORY_MB,
            "Description": f"shoplake {d.name}: purchase alerts from new clickstream files",
            "Environment": {"Variables": {TOPIC_ENV: acct.topic_arn}},
        }

    def desired() -> dict[str, Any]:
        return {**configuration(), "CodeSha256": acct.lambda_package[1]}

    def read() -> Any:
        fn = _missing_on("ResourceNotFoundException")(
            lambda: lam.get_function(FunctionName=d.function)["Configuration"]
        )
        if fn is MISSING:
            return MISSING
        return {k: fn.get(k) for k in desired()}

    def apply(current: Any) -> None:
        code, sha = acct.lambda_package
        if current is MISSING:
            _retry_while_role_propagates(
                lambda: lam.create_function(
                    FunctionName=d.function,
                    Code={"ZipFile": code},
                    Publish=False,
                    Tags=d.tags,
                    **configuration(),
                )
            )
            lam.get_waiter("function_active_v2").wait(FunctionName=d.function)
            return
        if current.get("CodeSha256") != sha:
            lam.update_function_code(FunctionName=d.function, ZipFile=code)
            lam.get_waiter("function_updated_v2").wait(FunctionName=d.function)
        if {k: current.get(k) for k in configuration()} != configuration():
            _retry_while_role_propagates(
                lambda: lam.update_function_configuration(
                    FunctionName=d.function, **configuration()
                )
            )
            lam.get_waiter("function_updated_v2").wait(FunctionName=d.function)

    statement_id = "shoplake-s3-raw-clickstream"

    def permission() -> dict[str, Any]:
        return {
            "Action": "lambda:InvokeFunction",
            "Principal": "s3.amazonaws.com",
            "SourceArn": f"arn:{acct.partition}:s3:::{d.raw_bucket}",
            "SourceAccount": acct.account,
        }

    def read_permission() -> Any:
        policy = _missing_on("ResourceNotFoundException")(
            lambda: json.loads(lam.get_policy(FunctionName=d.function)["Policy"])
        )
        if policy is MISSING:
            return MISSING
        for stmt in policy.get("Statement", []):
            if stmt.get("Sid") == statement_id:
                cond = stmt.get("Condition", {})
                return {
                    "Action": stmt.get("Action"),
                    "Principal": stmt.get("Principal", {}).get("Service"),
                    "SourceArn": cond.get("ArnLike", {}).get("AWS:SourceArn"),
                    "SourceAccount": cond.get("StringEquals", {}).get("AWS:SourceAccount"),
                }
        return MISSING

    def apply_permission(current: Any) -> None:
        if current is not MISSING:
            lam.remove_permission(FunctionName=d.function, StatementId=statement_id)
        lam.add_permission(FunctionName=d.function, StatementId=statement_id, **permission())

    return [
        Resource("lambda function", d.function, desired, read, apply),
        Resource(
            "lambda permission",
            f"{d.function}/{statement_id}",
            desired=permission,
            read=read_permission,
            apply=apply_permission,
        ),
    ]


#: SQS's codes for a missing queue: the query-compatible one, and the error's API name.
_NO_QUEUE = ("AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist")


def _failed_alerts_queue(acct: _Account) -> Resource:
    """The queue that keeps the alert function's events Lambda gave up on, for replay."""
    sqs, d = acct.client("sqs"), acct.d
    found: dict[str, str] = {}

    def desired() -> dict[str, str]:
        # SQS answers every attribute as a string
        return {
            "KmsMasterKeyId": acct.key_arn,
            "MessageRetentionPeriod": str(FAILED_EVENTS_RETENTION_S),
        }

    def read() -> Any:
        url = _missing_on(*_NO_QUEUE)(
            lambda: sqs.get_queue_url(QueueName=d.failed_alerts_queue)["QueueUrl"]
        )
        if url is MISSING:
            return MISSING
        found["url"] = url
        attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=list(desired()))
        return {k: attrs.get("Attributes", {}).get(k) for k in desired()}

    def apply(current: Any) -> None:
        if current is MISSING:
            sqs.create_queue(QueueName=d.failed_alerts_queue, Attributes=desired(), tags=d.tags)
        else:
            sqs.set_queue_attributes(QueueUrl=found["url"], Attributes=desired())

    return Resource("sqs queue", d.failed_alerts_queue, desired, read, apply)


def _alert_failure_destination(acct: _Account) -> Resource:
    """How Lambda treats the alert function's S3 events: a failed event is retried
    ``ALERT_RETRY_ATTEMPTS`` times within ``ALERT_MAX_EVENT_AGE_S``, then sent to the
    failed-events queue instead of being dropped (its purchases would never alert)."""
    lam, d = acct.client("lambda"), acct.d
    found: dict[str, Any] = {}

    def desired() -> dict[str, Any]:
        return {
            "MaximumRetryAttempts": ALERT_RETRY_ATTEMPTS,
            "MaximumEventAgeInSeconds": ALERT_MAX_EVENT_AGE_S,
            "OnFailure": acct.failed_alerts_queue_arn,
        }

    def read() -> Any:
        config = _missing_on("ResourceNotFoundException")(
            lambda: lam.get_function_event_invoke_config(FunctionName=d.function)
        )
        if config is MISSING:
            return MISSING
        destinations = config.get("DestinationConfig") or {}
        found["on success"] = destinations.get("OnSuccess") or {}
        return {
            "MaximumRetryAttempts": config.get("MaximumRetryAttempts"),
            "MaximumEventAgeInSeconds": config.get("MaximumEventAgeInSeconds"),
            "OnFailure": (destinations.get("OnFailure") or {}).get("Destination"),
        }

    def apply(_: Any) -> None:
        want = desired()
        destinations: dict[str, Any] = {"OnFailure": {"Destination": want.pop("OnFailure")}}
        if found.get("on success"):  # someone else's; a put replaces the whole config
            destinations["OnSuccess"] = found["on success"]
        # Lambda checks that the function's role may send to the queue: a role policy
        # updated seconds ago may not be visible yet.
        _retry_while_role_propagates(
            lambda: lam.put_function_event_invoke_config(
                FunctionName=d.function, DestinationConfig=destinations, **want
            ),
            waiting_for="does not have permission",
        )

    return Resource("lambda event invoke config", d.function, desired, read, apply)


def _retry_while_role_propagates(
    call: Callable[[], Any], waiting_for: str = "cannot be assumed"
) -> Any:
    """``call``, again while Lambda refuses it with a message saying ``waiting_for``."""
    deadline = time.monotonic() + _ROLE_PROPAGATION_S
    delay = 1.0
    while True:
        with refused("InvalidParameterValueException", saying=waiting_for) as propagating:
            return call()
        if time.monotonic() > deadline and propagating.exc is not None:
            raise propagating.exc
        time.sleep(delay)
        delay = min(delay * 2, 10.0)
