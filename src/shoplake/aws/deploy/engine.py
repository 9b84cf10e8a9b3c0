"""The engine: every resource in dependency order, diffed against the account, then applied."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from shoplake.aws import buckets as bk
from shoplake.aws import policies
from shoplake.aws.deploy import alerts, glue_athena, iam, kms, monitoring, runner, s3
from shoplake.aws.deploy.account import Account
from shoplake.aws.deploy.deployment import Deployment
from shoplake.aws.deploy.resource import MISSING, Resource
from shoplake.aws.session import AwsSession, aws_errors
from shoplake.report import Report


@dataclass
class Change:
    action: str  # create, update, no change
    kind: str
    name: str
    detail: str = ""


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
    wheel: Path | None = None,
) -> DeployResult:
    """Compare every resource with its desired state and (unless ``plan_only``) fix it.

    ``project`` is the dbt project the daily job builds and whose analyses become named
    queries (default: the repository's); ``wheel`` the shoplake wheel the job installs
    (default: one built from the checkout shoplake runs from).
    """
    session = session or AwsSession()
    with tempfile.TemporaryDirectory(prefix="shoplake-deploy-") as tmp:
        account = Account(session, deployment, Path(tmp), project, wheel)
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


def resources(acct: Account) -> list[Resource]:
    """Every resource of a deployment, in the order they can be created."""
    d = acct.d
    out = [kms.lake_key(acct)]
    plans = bk.bucket_plans(
        d.raw_bucket, d.processed_bucket, d.archive_bucket, d.prefix, d.quarantine_days
    )
    for plan in plans:
        bucket = s3.bucket(acct, plan)
        if plan.name == d.processed_bucket:  # the job's files: encrypted, before the policy
            at = next(i for i, r in enumerate(bucket) if r.kind == "s3 bucket policy")
            bucket[at:at] = runner.job_objects(acct)
        out += bucket
    out += glue_athena.glue_catalog(acct)
    out += glue_athena.athena_workgroup(acct)
    for kind in policies.ROLE_POLICIES + policies.JOB_ROLE_POLICIES:
        out += iam.role_with_policy(acct, kind)
    out.append(alerts.topic(acct))
    out.append(alerts.failed_alerts_queue(acct))
    out += alerts.alert_function(acct)
    out.append(alerts.alert_failure_destination(acct))
    out.append(s3.raw_notifications(acct))
    # the daily job and its monitoring
    out.append(monitoring.notify_topic(acct))
    out.append(runner.log_group(acct))
    out.append(runner.daily_job(acct))
    out.append(runner.daily_trigger(acct))
    out += monitoring.alarms(acct)
    return out
