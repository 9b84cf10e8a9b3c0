"""What each of the three buckets should look like, and the same read back from S3.

* **raw** — files as delivered (``<prefix>/raw/<dataset>/...``): versioned, so an
  overwrite or delete by mistake can be undone; Standard-IA after 30 days and Glacier
  after 90 (raw is read once, by the ingest run right after it lands); old versions
  expire after a year.
* **processed** — the lake root (``<prefix>/silver/``, ``quarantine/``, ``alerts/``,
  ``_state/``) and Athena's ``athena-results/``: quarantined records and query results
  expire; silver is rewritten in place by ingest and is not versioned.
* **archive** — long-term copies (exports, old run logs): Glacier from day 0.

Every bucket: SSE-KMS with the lake key by default (with an S3 Bucket Key, so KMS is
called per bucket key, not per object), all public access blocked, ACLs disabled
(bucket owner enforced), and the bucket policy of ``policies/bucket.json``.

Each ``*_config`` function returns the request payload; each ``comparable_*`` function
turns either that payload or S3's answer into one form, so that deploy compares like
with like.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from shoplake.aws.athena import RESULTS_PREFIX
from shoplake.contract import CLICKSTREAM
from shoplake.lake import QUARANTINE, RAW, Lake

RAW_TO_STANDARD_IA_DAYS = 30
RAW_TO_GLACIER_DAYS = 90
RAW_NONCURRENT_EXPIRY_DAYS = 365
DEFAULT_QUARANTINE_EXPIRY_DAYS = 90
ATHENA_RESULTS_EXPIRY_DAYS = 30
ABORT_UPLOADS_AFTER_DAYS = 7

PUBLIC_ACCESS_BLOCK = {
    "BlockPublicAcls": True,
    "IgnorePublicAcls": True,
    "BlockPublicPolicy": True,
    "RestrictPublicBuckets": True,
}
OWNERSHIP = {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}


@dataclass(frozen=True)
class BucketPlan:
    """One bucket's role and the settings that depend on it."""

    role: str  # raw, processed, archive
    name: str
    versioned: bool
    lifecycle: list[dict[str, Any]]


def bucket_plans(
    raw: str, processed: str, archive: str, prefix: str, quarantine_days: int
) -> list[BucketPlan]:
    return [
        BucketPlan("raw", raw, True, raw_lifecycle(prefix)),
        BucketPlan("processed", processed, False, processed_lifecycle(prefix, quarantine_days)),
        BucketPlan("archive", archive, False, archive_lifecycle()),
    ]


def _abort_uploads() -> dict[str, Any]:
    return {
        "ID": "abort-incomplete-uploads",
        "Filter": {"Prefix": ""},
        "Status": "Enabled",
        "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": ABORT_UPLOADS_AFTER_DAYS},
    }


def raw_lifecycle(prefix: str) -> list[dict[str, Any]]:
    return [
        {
            "ID": "raw-to-infrequent-access-then-glacier",
            "Filter": {"Prefix": Lake.key(prefix, RAW) + "/"},
            "Status": "Enabled",
            "Transitions": [
                {"Days": RAW_TO_STANDARD_IA_DAYS, "StorageClass": "STANDARD_IA"},
                {"Days": RAW_TO_GLACIER_DAYS, "StorageClass": "GLACIER"},
            ],
            "NoncurrentVersionExpiration": {"NoncurrentDays": RAW_NONCURRENT_EXPIRY_DAYS},
        },
        _abort_uploads(),
    ]


def processed_lifecycle(prefix: str, quarantine_days: int) -> list[dict[str, Any]]:
    return [
        {
            "ID": "quarantine-expiry",
            "Filter": {"Prefix": Lake.key(prefix, QUARANTINE) + "/"},
            "Status": "Enabled",
            "Expiration": {"Days": quarantine_days},
        },
        {
            "ID": "athena-results-expiry",
            "Filter": {"Prefix": RESULTS_PREFIX + "/"},
            "Status": "Enabled",
            "Expiration": {"Days": ATHENA_RESULTS_EXPIRY_DAYS},
        },
        _abort_uploads(),
    ]


def archive_lifecycle() -> list[dict[str, Any]]:
    return [
        {
            "ID": "archive-to-glacier",
            "Filter": {"Prefix": ""},
            "Status": "Enabled",
            "Transitions": [{"Days": 0, "StorageClass": "GLACIER"}],
        },
        _abort_uploads(),
    ]


def comparable_lifecycle(rules: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rules in one form (S3 may answer with the prefix outside ``Filter``, or none)."""

    def prefix(rule: dict[str, Any]) -> str:
        filt = rule.get("Filter") or {}
        return filt.get("Prefix", filt.get("And", {}).get("Prefix", rule.get("Prefix", "")))

    def days(rule: dict[str, Any], key: str, field: str) -> int | None:
        return (rule.get(key) or {}).get(field)

    return sorted(
        (
            {
                "id": r.get("ID"),
                "status": r.get("Status"),
                "prefix": prefix(r),
                "transitions": sorted(
                    (t.get("Days"), t.get("StorageClass")) for t in r.get("Transitions", [])
                ),
                "expiration_days": days(r, "Expiration", "Days"),
                "noncurrent_expiration_days": days(
                    r, "NoncurrentVersionExpiration", "NoncurrentDays"
                ),
                "abort_uploads_days": days(
                    r, "AbortIncompleteMultipartUpload", "DaysAfterInitiation"
                ),
            }
            for r in rules
        ),
        key=lambda r: str(r["id"]),
    )


def encryption_config(key_arn: str) -> dict[str, Any]:
    return {
        "Rules": [
            {
                "ApplyServerSideEncryptionByDefault": {
                    "SSEAlgorithm": "aws:kms",
                    "KMSMasterKeyID": key_arn,
                },
                "BucketKeyEnabled": True,
            }
        ]
    }


def comparable_encryption(config: dict[str, Any]) -> dict[str, Any]:
    rules = config.get("Rules") or [{}]
    default = rules[0].get("ApplyServerSideEncryptionByDefault", {})
    return {
        "algorithm": default.get("SSEAlgorithm"),
        "key": default.get("KMSMasterKeyID"),
        "bucket_key": bool(rules[0].get("BucketKeyEnabled")),
    }


#: Id prefix of the notifications deploy owns (others on the bucket are left alone).
NOTIFICATION_ID_PREFIX = "shoplake-"


def clickstream_notifications(
    function_arn: str, prefix: str, suffixes: tuple[str, ...]
) -> list[dict[str, Any]]:
    """One S3 -> Lambda notification per file suffix of new clickstream files.

    A notification has one suffix rule, and S3 refuses overlapping configurations for
    the same event, so ``.json`` and ``.json.gz`` (which do not overlap) get one each.
    """
    key_prefix = Lake.key(prefix, RAW, CLICKSTREAM.name) + "/"
    return [
        {
            "Id": f"{NOTIFICATION_ID_PREFIX}purchase-alerts{suffix.replace('.', '-')}",
            "LambdaFunctionArn": function_arn,
            "Events": ["s3:ObjectCreated:*"],
            "Filter": {
                "Key": {
                    "FilterRules": [
                        {"Name": "prefix", "Value": key_prefix},
                        {"Name": "suffix", "Value": suffix},
                    ]
                }
            },
        }
        for suffix in suffixes
    ]


def comparable_notifications(configs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Lambda notifications deploy owns, in one form (S3 answers ``Prefix``/``Suffix``)."""
    return sorted(
        (
            {
                "id": c.get("Id"),
                "function": c.get("LambdaFunctionArn"),
                "events": sorted(c.get("Events", [])),
                "rules": sorted(
                    (r["Name"].lower(), r["Value"])
                    for r in c.get("Filter", {}).get("Key", {}).get("FilterRules", [])
                ),
            }
            for c in configs
            if str(c.get("Id", "")).startswith(NOTIFICATION_ID_PREFIX)
        ),
        key=lambda c: str(c["id"]),
    )
