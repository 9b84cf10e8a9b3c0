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

The modules: :mod:`.deployment` (the names), :mod:`.account` (clients, ARNs, shared
values), :mod:`.resource` (one resource and the helpers services share), :mod:`.engine`
(the order, the diff, the apply) and one per service family: :mod:`.kms`, :mod:`.s3`
(buckets and notifications), :mod:`.glue_athena`, :mod:`.iam`, :mod:`.alerts` (SNS, SQS
and Lambda).
"""

from shoplake.aws.deploy.deployment import Deployment
from shoplake.aws.deploy.engine import Change, DeployResult, deploy, resources
from shoplake.aws.deploy.resource import MISSING, Resource

__all__ = ["MISSING", "Change", "DeployResult", "Deployment", "Resource", "deploy", "resources"]
