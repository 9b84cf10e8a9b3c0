"""S3: the buckets and their settings, and the raw bucket's notifications to the alert function."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from shoplake.aws import buckets as bk
from shoplake.aws import policies
from shoplake.aws.deploy.account import Account
from shoplake.aws.deploy.resource import MISSING, Resource, missing_on, tag_list
from shoplake.aws.session import refused
from shoplake.contract import CLICKSTREAM
from shoplake.errors import DeployError
from shoplake.lake import RAW, Lake

#: S3's codes for a bucket that does not exist, and for one that belongs to someone else.
_NO_BUCKET = ("404", "NoSuchBucket", "NotFound")
_NOT_OURS = ("403", "AccessDenied", "Forbidden")


def bucket(acct: Account, plan: bk.BucketPlan) -> list[Resource]:
    s3, d, name = acct.client("s3"), acct.d, plan.name
    exists: dict[str, bool] = {}

    def read_bucket() -> Any:
        with refused(*_NO_BUCKET) as missing, refused(*_NOT_OURS) as not_ours:
            s3.head_bucket(Bucket=name, ExpectedBucketOwner=acct.account)
        if missing:
            exists[name] = False
            return MISSING
        if not_ours:
            raise DeployError(
                f"bucket {name} exists but does not belong to this account",
                "bucket names are global: choose another --name",
                resource=f"bucket {name}",
            ) from not_ours.exc
        exists[name] = True
        tags = bucket_tags()
        return {"tags": {k: v for k, v in tags.items() if k in d.tags}}

    def bucket_tags() -> dict[str, str]:
        tags = missing_on("NoSuchTagSet")(lambda: s3.get_bucket_tagging(Bucket=name)["TagSet"])
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
        s3.put_bucket_tagging(Bucket=name, Tagging={"TagSet": tag_list(tags)})

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
            return missing_on(*missing)(get)

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


def _bucket_policy(acct: Account, bucket: str) -> dict[str, Any]:
    return policies.render("bucket", {**acct.policy_values, "Bucket": bucket})


def raw_notifications(acct: Account) -> Resource:
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
