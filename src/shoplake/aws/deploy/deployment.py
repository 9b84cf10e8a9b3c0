"""The names of one deployment: every bucket, key, role, table and function, from two inputs."""

from __future__ import annotations

import re
from dataclasses import dataclass

from shoplake.aws import athena as athena_mod
from shoplake.aws import buckets as bk
from shoplake.config import ENGINES
from shoplake.errors import ConfigError
from shoplake.lake import RAW, Lake

#: The daily job's schedule: Glue's cron syntax (UTC), daily at 02:00.
DEFAULT_SCHEDULE = "cron(0 2 * * ? *)"
_SCHEDULE = re.compile(r"^cron\(\S+ \S+ \S+ \S+ \S+ \S+\)$")
_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{1,38}[a-z0-9]$")
_PREFIX = re.compile(r"^[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*$")
#: The worker types of a Glue 5.0 Spark job (G.025X is for streaming jobs only), and the
#: fewest workers Glue accepts (one driver, one executor) and a sane upper bound.
WORKER_TYPES = ("G.1X", "G.2X", "G.4X", "G.8X")
MIN_WORKERS, MAX_WORKERS = 2, 299


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
    #: the daily job: when (Glue cron, UTC), which dbt target it builds, its limits
    schedule: str = DEFAULT_SCHEDULE
    job_target: str = "prod"
    job_timeout_minutes: int = 180
    job_retries: int = 1
    #: the ingest engine the job runs (``duckdb`` on the driver, or ``spark`` on the
    #: job's workers) and the job's size
    engine: str = "duckdb"
    worker_type: str = "G.1X"
    workers: int = 2
    #: the stale-data alarm: the newest record older than this many hours (dbt's warn SLA)
    stale_after_hours: float = 26.0

    def __post_init__(self) -> None:
        if not _NAME.match(self.name):
            raise ConfigError(
                f"deployment name {self.name!r} is not usable in bucket and role names",
                "use 3-40 lower-case letters, digits and hyphens, not starting or ending "
                "with a hyphen",
                setting="name",
            )
        if self.prefix and not _PREFIX.match(self.prefix):
            raise ConfigError(
                f"lake prefix {self.prefix!r} is not a plain S3 key prefix",
                "use letters, digits, '.', '_', '-' and single slashes, e.g. lake or prod/lake",
                setting="prefix",
            )
        if self.quarantine_days < 1:
            raise ConfigError(
                "quarantine expiry must be at least 1 day", "", setting="quarantine_days"
            )
        if not _SCHEDULE.match(self.schedule):
            raise ConfigError(
                f"schedule {self.schedule!r} is not a Glue cron expression",
                "use cron(minutes hours day-of-month month day-of-week year), e.g. "
                "cron(0 2 * * ? *) for 02:00 UTC daily",
                setting="schedule",
            )
        if self.job_target not in ("dev", "postgres", "prod"):
            raise ConfigError(
                f"job target {self.job_target!r} is not a shoplake target",
                "use dev, postgres or prod",
                setting="job_target",
            )
        if not 1 <= self.job_timeout_minutes <= 2880 or not 0 <= self.job_retries <= 10:
            raise ConfigError(
                "the job's timeout must be 1-2880 minutes and its retries 0-10",
                "pass other values",
                setting="job_timeout_minutes",
            )
        if self.engine not in ENGINES:
            raise ConfigError(
                f"engine {self.engine!r} is not one of {', '.join(ENGINES)}",
                "pass --engine duckdb or --engine spark",
                setting="engine",
            )
        if self.worker_type not in WORKER_TYPES:
            raise ConfigError(
                f"worker type {self.worker_type!r} is not one of a Glue 5.0 Spark job",
                f"use one of {', '.join(WORKER_TYPES)}",
                setting="worker_type",
            )
        if not MIN_WORKERS <= self.workers <= MAX_WORKERS:
            raise ConfigError(
                f"{self.workers} workers is not a Glue job size",
                f"use {MIN_WORKERS}-{MAX_WORKERS} workers",
                setting="workers",
            )

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

    # the daily job (AWS Glue) and its monitoring
    @property
    def job(self) -> str:
        return f"{self.name}-daily"

    @property
    def trigger(self) -> str:
        return f"{self.name}-daily-schedule"

    @property
    def log_group(self) -> str:
        return f"/aws-glue/shoplake/{self.name}"

    @property
    def job_assets_prefix(self) -> str:
        """Where the job's script, the shoplake wheel and the dbt project sit in the
        processed bucket (outside the lake prefix)."""
        return "glue-job"

    @property
    def redshift_secret(self) -> str:
        """The Secrets Manager secret holding the Redshift password (created by you)."""
        return f"{self.name}/redshift"

    @property
    def notify_topic(self) -> str:
        return f"{self.name}-notifications"

    def alarm(self, what: str) -> str:
        return f"{self.name}-{what}"

    def role(self, kind: str) -> str:
        return f"{self.name}-{kind.replace('_', '-')}"

    @property
    def tags(self) -> dict[str, str]:
        return {"project": "shoplake", "shoplake:deployment": self.name}
