"""IAM: each role's least-privilege managed policy, the role, its trust and the attachment."""

from __future__ import annotations

import json
from typing import Any

from shoplake.aws import policies
from shoplake.aws.deploy.account import Account
from shoplake.aws.deploy.resource import MISSING, Resource, missing_on, tag_list

#: Who may assume each role: its trust policy template and the services that template names.
ROLE_TRUST: dict[str, tuple[str, list[str]]] = {
    "ingest": ("trust_service", ["glue.amazonaws.com"]),
    "athena_reader": ("trust_account", []),
    "redshift_spectrum": (
        "trust_service",
        ["redshift.amazonaws.com", "redshift-serverless.amazonaws.com"],
    ),
    "alert_lambda": ("trust_service", ["lambda.amazonaws.com"]),
    "pipeline": ("trust_service", ["glue.amazonaws.com"]),
    "redshift_unload": (
        "trust_service",
        ["redshift.amazonaws.com", "redshift-serverless.amazonaws.com"],
    ),
}


#: IAM keeps at most five versions of a managed policy.
_MAX_POLICY_VERSIONS = 5


def role_with_policy(acct: Account, kind: str) -> list[Resource]:
    iam, d = acct.client("iam"), acct.d
    role_name, policy_arn = d.role(kind), acct.policy_arn(kind)
    trust_template, services = ROLE_TRUST[kind]

    def document() -> dict[str, Any]:
        return policies.render(kind, acct.policy_values)

    def trust() -> dict[str, Any]:
        return policies.render(trust_template, {**acct.policy_values, "Services": services})

    def read_policy() -> Any:
        policy = missing_on("NoSuchEntity")(lambda: iam.get_policy(PolicyArn=policy_arn)["Policy"])
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
                Tags=tag_list(d.tags),
            )
            return
        versions = iam.list_policy_versions(PolicyArn=policy_arn)["Versions"]
        old = sorted((v for v in versions if not v["IsDefaultVersion"]), key=_version_number)
        if len(versions) >= _MAX_POLICY_VERSIONS and old:
            iam.delete_policy_version(PolicyArn=policy_arn, VersionId=old[0]["VersionId"])
        iam.create_policy_version(PolicyArn=policy_arn, PolicyDocument=text, SetAsDefault=True)

    def read_role() -> Any:
        role = missing_on("NoSuchEntity")(lambda: iam.get_role(RoleName=role_name)["Role"])
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
                Tags=tag_list(d.tags),
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
