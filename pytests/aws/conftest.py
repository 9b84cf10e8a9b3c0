"""Fixtures of the AWS checks, all against the local endpoint (moto's server mode).

* ``aws_module_env`` (module): the standard AWS variables pointing at the session's
  endpoint, for the tests of one module (the per-test ``aws_env`` does the same for one
  test);
* ``deployed`` (module): one ``shoplake deploy aws`` of a fresh, uniquely named
  deployment, shared by the module's read-only checks.

Names are unique per deployment (the endpoint is shared by every test of the worker and
is never reset), so tests never see each other's resources.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from aws_kit import Deployed, unique_name

from shoplake.aws.deploy import Deployment, deploy
from shoplake.aws.session import AwsSession


@pytest.fixture(scope="module")
def aws_module_env(aws_server) -> Iterator[dict[str, str]]:
    env = aws_server.environ()
    with pytest.MonkeyPatch.context() as mp:
        for name, value in env.items():
            mp.setenv(name, value)
        for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "SHOPLAKE_GLUE_DATABASE"):
            mp.delenv(name, raising=False)
        yield env


@pytest.fixture(scope="module")
def deployed(aws_module_env) -> Deployed:
    deployment = Deployment(name=unique_name(), prefix="lake")
    session = AwsSession()
    return Deployed(deployment, deploy(deployment, session=session), session)
