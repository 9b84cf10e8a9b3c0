"""boto3 clients for shoplake: the standard AWS credential chain, one region, one endpoint.

Credentials are never passed around or stored by shoplake: boto3 finds them itself
(environment, shared config and credentials files, SSO, container or instance roles).
An S3-compatible or local endpoint is set with boto3's own ``AWS_ENDPOINT_URL`` (or a
per-service ``AWS_ENDPOINT_URL_<SERVICE>``), which boto3 honours for every client: this
module adds no endpoint setting of its own, so a client here and one created by s3fs or
the AWS CLI in the same environment always talk to the same place.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import cached_property
from typing import Any

from shoplake.errors import AwsError, ConfigError


class AwsSession:
    """A region plus lazily created clients; the account id is asked for once."""

    def __init__(self, region: str | None = None) -> None:
        import boto3
        from botocore.config import Config

        self._session = boto3.session.Session(region_name=region)
        if not self._session.region_name:
            raise ConfigError(
                "no AWS region configured",
                "pass --region or set AWS_REGION (or a region in ~/.aws/config)",
                setting="AWS_REGION",
            )
        # Standard retry mode backs off on throttling, which deploy's many calls can hit.
        self._config = Config(retries={"mode": "standard", "max_attempts": 8})
        self._clients: dict[str, Any] = {}

    @property
    def region(self) -> str:
        return self._session.region_name

    @property
    def partition(self) -> str:
        return self._session.get_partition_for_region(self.region)

    def client(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = self._session.client(service, config=self._config)
        return self._clients[service]

    @cached_property
    def account(self) -> str:
        """The account the credentials belong to (every ARN shoplake renders needs it)."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return self.client("sts").get_caller_identity()["Account"]
        except (ClientError, BotoCoreError) as exc:
            raise AwsError(
                f"cannot identify the AWS account: {exc}",
                "check the credentials (aws sts get-caller-identity) and AWS_ENDPOINT_URL",
                resource="sts",
            ) from exc


def error_code(exc: BaseException) -> str:
    """The service error code of a botocore ClientError ('' for anything else)."""
    response = getattr(exc, "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))


class Refusal:
    """What :func:`refused` let through quietly: the service's error, or None."""

    exc: Exception | None = None

    def __bool__(self) -> bool:
        return self.exc is not None


@contextmanager
def refused(*codes: str, saying: str = "") -> Iterator[Refusal]:
    """End the block quietly when the service refuses a call with one of ``codes`` (and
    a message containing ``saying``); the :class:`Refusal` it yields tells whether it
    did. Any other error goes through unchanged.

    The one place botocore's ClientError codes are matched::

        with refused("NoSuchEntity") as missing:
            role = iam.get_role(RoleName=name)["Role"]
        if missing:
            ...
    """
    refusal = Refusal()
    try:
        yield refusal
    except Exception as exc:
        if error_code(exc) not in codes or saying not in str(exc):
            raise
        refusal.exc = exc


@contextmanager
def aws_errors(what: str) -> Iterator[None]:
    """Turn an AWS failure while doing ``what`` into one clear ShoplakeError line."""
    from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

    try:
        yield
    except NoCredentialsError as exc:
        raise AwsError(
            f"{what}: no AWS credentials found",
            "configure the standard AWS chain (AWS_PROFILE, AWS_ACCESS_KEY_ID, SSO, a role)",
            resource=what,
        ) from exc
    except (ClientError, BotoCoreError) as exc:
        raise AwsError(
            f"{what}: {exc}",
            "check the credentials' permissions and the region, then rerun",
            resource=what,
        ) from exc
