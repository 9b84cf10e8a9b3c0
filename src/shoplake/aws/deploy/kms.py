"""KMS: the lake key (enabled, rotated) that encrypts buckets, query results and alerts."""

from __future__ import annotations

from typing import Any

from shoplake.aws.deploy.account import Account
from shoplake.aws.deploy.resource import MISSING, Resource, missing_on, tag_list
from shoplake.errors import DeployError


def lake_key(acct: Account) -> Resource:
    kms, d = acct.client("kms"), acct.d

    def read() -> Any:
        meta = missing_on("NotFoundException")(
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
                Tags=tag_list(d.tags, "TagKey", "TagValue"),
            )["KeyMetadata"]
            kms.create_alias(AliasName=d.key_alias, TargetKeyId=key["KeyId"])
            acct.forget_key()
            current = {"state": key["KeyState"], "rotation": False}
        key_id = acct.key_arn
        if current["state"] == "Disabled":
            kms.enable_key(KeyId=key_id)
        elif current["state"] not in ("Enabled", "Disabled"):
            raise DeployError(
                f"KMS key {d.key_alias} is {current['state']}",
                "cancel its deletion (kms cancel-key-deletion) or choose another --name",
                resource=d.key_alias,
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
