"""Helpers of the AWS checks (imported by name: every test folder has its own conftest)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from shoplake.aws.deploy import Deployment, DeployResult
from shoplake.aws.session import AwsSession


def unique_name() -> str:
    """A deployment name no other test uses (valid in bucket and role names)."""
    return f"t{uuid.uuid4().hex[:10]}"


@dataclass
class Deployed:
    """One deployment made by a fixture: its names, what the first run did, a session."""

    deployment: Deployment
    first_run: DeployResult
    session: AwsSession

    def client(self, service: str):
        return self.session.client(service)
