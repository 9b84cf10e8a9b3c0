"""The account being deployed to: its clients, ARNs and the values resources share."""

from __future__ import annotations

import base64
import hashlib
from functools import cached_property
from pathlib import Path
from typing import Any

from shoplake.alerts.lambda_handler import LEDGER_DIR
from shoplake.alerts.package import build_lambda_zip
from shoplake.aws import athena as athena_mod
from shoplake.aws.deploy.deployment import Deployment
from shoplake.aws.deploy.job_assets import JobAsset, dbt_project_archive, shoplake_wheel
from shoplake.aws.session import AwsSession, refused


class Account:
    """The account being deployed to: clients, ARNs, and values that resources share."""

    def __init__(
        self,
        session: AwsSession,
        deployment: Deployment,
        workdir: Path,
        project: Path | None,
        wheel: Path | None = None,
    ) -> None:
        self.session = session
        self.d = deployment
        self.workdir = workdir
        self._project = project
        self._wheel = wheel
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

    @property
    def notify_topic_arn(self) -> str:
        return self.arn("sns", self.d.notify_topic)

    @property
    def log_group_arn(self) -> str:
        return self.arn("logs", f"log-group:{self.d.log_group}")

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
            "NotifyTopicArn": self.notify_topic_arn,
            "LogGroupArn": self.log_group_arn,
            "JobAssetsPrefix": self.d.job_assets_prefix,
            "RedshiftSecretArn": self.arn("secretsmanager", f"secret:{self.d.redshift_secret}-*"),
            "MetricsNamespace": "shoplake",
        }

    @property
    def project(self) -> Path:
        """The dbt project deployed (its analyses, and the job's copy)."""
        from shoplake.warehouse import project_dir

        return self._project or project_dir()

    @cached_property
    def named_queries(self) -> list[athena_mod.NamedQuery]:
        return athena_mod.analyses(self.project)

    @cached_property
    def wheel(self) -> JobAsset:
        """The shoplake wheel the daily job installs (built once per deploy)."""
        return shoplake_wheel(self.d.job_assets_prefix, self._wheel)

    @cached_property
    def dbt_project(self) -> JobAsset:
        """The dbt project the daily job builds, as an archive."""
        return dbt_project_archive(self.d.job_assets_prefix, self.project)

    @cached_property
    def lambda_package(self) -> tuple[bytes, str]:
        """The alert function's zip and its base64 SHA-256 (how Lambda reports code); the
        zip is the same bytes for the same sources, so unchanged code compares equal."""
        data = build_lambda_zip(self.workdir).read_bytes()
        return data, base64.b64encode(hashlib.sha256(data).digest()).decode()
