"""AWS Lambda handler: S3 ObjectCreated events for clickstream files -> one SNS message
per purchase, exactly once although S3 notifications are at-least-once.

Runs on the Lambda Python runtime with the standard library and boto3 only (see
:mod:`shoplake.alerts.package`); finds alerts with the same core as the local watcher.

Each alert is claimed before it is published, with an S3 conditional write of a marker
object ``<lake prefix>/alerts/_ledger/<alert_id>.json`` (``_ledger`` starts with ``_``, so
Athena and Spectrum skip it):

1. **claim**: ``PutObject(IfNoneMatch='*')`` of ``{"state": "pending", ...}``. Only one
   writer can create the object; everyone else gets 412 PreconditionFailed.
2. **publish** to the SNS topic (``SHOPLAKE_ALERTS_TOPIC_ARN``) with the alert id as a
   message attribute, and on FIFO topics as ``MessageDeduplicationId``.
3. **mark sent**: ``PutObject(IfMatch=<our claim's ETag>)`` of ``{"state": "sent", ...}``.

A second sight of an alert finds the marker: ``sent`` means done (a duplicate). A
``pending`` marker older than the lease (``SHOPLAKE_ALERTS_CLAIM_LEASE_S``, default 120 s,
which must exceed the function's timeout) belonged to an invocation that died between 1
and 3: it is taken over with ``IfMatch`` (one winner) and published. A younger one may
still be in progress elsewhere: the invocation fails with :class:`AlertsInFlight` after
doing everything else, so that Lambda retries the event later (asynchronous invocations
are retried twice, one and three minutes later) and the retry takes it over. So a
crash never loses an alert; the only duplicate is a death between 2 and 3, re-published
with the same alert id (dropped by a FIFO topic within its 5-minute window; subscribers
of a standard topic de-duplicate on the ``alert_id`` attribute).

The object is read as a stream through the same scanner as the watcher's, with the same
limits (the contract's depth, record and field sizes, gzip ratio and size): a line
beyond them is skipped and counted by reason, a file beyond them is a file error, and
neither stops the other alerts. An unexpected failure (S3, SNS) fails the invocation so
that Lambda retries it, with its message redacted (:mod:`shoplake.redact`): no
URL credentials reach the function's log.
"""

from __future__ import annotations

import json
import os
import time
from datetime import datetime, timezone
from typing import Any
from urllib.parse import unquote_plus

from shoplake.alerts.core import Alert, crash_point, scan_stream
from shoplake.alerts.stores import CLICKSTREAM_DIR, is_landed
from shoplake.errors import ConfigError, ShoplakeError
from shoplake.lake import ALERTS
from shoplake.redact import redact_text

TOPIC_ENV = "SHOPLAKE_ALERTS_TOPIC_ARN"
LEASE_ENV = "SHOPLAKE_ALERTS_CLAIM_LEASE_S"
DEFAULT_LEASE_S = 120.0
LEDGER_DIR = f"{ALERTS}/_ledger"
#: SNS FIFO topics need a group; one group keeps purchases in detection order.
FIFO_GROUP = "purchases"


class AlertsInFlight(Exception):
    """Some alerts are claimed by another (maybe dead) invocation whose lease has not
    expired: fail so that Lambda retries the event; the retry takes them over."""


class AlertsFailed(Exception):
    """The invocation failed (S3 or SNS unreachable, access denied, ...): Lambda retries
    it. The message is the cause's, redacted; the cause itself is not chained, so that
    nothing unredacted reaches the log."""


_clients: dict[tuple[str, str | None], Any] = {}


def _client(service: str) -> Any:
    """boto3 clients, made once per execution environment (and endpoint) and reused."""
    key = (service, os.environ.get("AWS_ENDPOINT_URL"))
    if key not in _clients:
        import boto3

        _clients[key] = boto3.client(service)
    return _clients[key]


def _error_code(exc: Exception) -> str:
    return str(getattr(exc, "response", {}).get("Error", {}).get("Code", ""))


def split_key(key: str) -> tuple[str, str] | None:
    """(lake prefix, lake-relative path) of a landed clickstream file's key, else None."""
    marker = CLICKSTREAM_DIR + "/"
    at = key.rfind(marker)
    while at > 0 and key[at - 1] != "/":
        at = key.rfind(marker, 0, at)
    if at < 0:
        return None
    prefix, relative = key[:at], key[at:]
    return (prefix, relative) if is_landed(relative) else None


def _marker(alert: Alert, state: str, **extra: Any) -> bytes:
    body = {"state": state, "alert": json.loads(alert.to_json()), **extra}
    return json.dumps(body, separators=(",", ":")).encode()


def _put(bucket: str, key: str, body: bytes, **condition: str) -> str | None:
    """A conditional PUT; returns the new ETag, or None if the condition did not hold."""
    try:
        response = _client("s3").put_object(
            Bucket=bucket, Key=key, Body=body, ContentType="application/json", **condition
        )
    except Exception as exc:
        # 412: the condition failed; 409: a concurrent conditional write on the same key
        if _error_code(exc) in ("PreconditionFailed", "412", "ConditionalRequestConflict"):
            return None
        raise
    return response["ETag"]


def _claim(bucket: str, key: str, alert: Alert, lease_s: float) -> str:
    """Claim an alert: its ETag if ours now, else "sent" or "in_flight"."""
    etag = _put(bucket, key, _marker(alert, "pending"), IfNoneMatch="*")
    if etag:
        return etag
    try:
        current = _client("s3").get_object(Bucket=bucket, Key=key)
    except Exception as exc:
        if _error_code(exc) in ("NoSuchKey", "404"):  # removed in between: try again later
            return "in_flight"
        raise
    if json.loads(current["Body"].read()).get("state") == "sent":
        return "sent"
    age = time.time() - current["LastModified"].timestamp()
    if age < lease_s:
        return "in_flight"
    etag = _put(bucket, key, _marker(alert, "pending", took_over=True), IfMatch=current["ETag"])
    return etag or "in_flight"


def publish(topic_arn: str, alert: Alert) -> str:
    """Publish one alert to SNS; returns the message id."""
    args: dict[str, Any] = {
        "TopicArn": topic_arn,
        "Message": alert.to_json(),
        "MessageAttributes": {
            "alert_id": {"DataType": "String", "StringValue": alert.alert_id},
            "event_type": {"DataType": "String", "StringValue": "purchase"},
        },
    }
    if alert.currency:  # lets subscribers filter by currency
        args["MessageAttributes"]["currency"] = {
            "DataType": "String",
            "StringValue": alert.currency,
        }
    if topic_arn.endswith(".fifo"):
        args["MessageGroupId"] = FIFO_GROUP
        args["MessageDeduplicationId"] = alert.alert_id
    return _client("sns").publish(**args)["MessageId"]


def publish_once(
    bucket: str, lake_prefix: str, alert: Alert, topic_arn: str, lease_s: float
) -> str:
    """Claim, publish, mark sent. Returns "published", "duplicate" or "in_flight"."""
    key = f"{lake_prefix}{LEDGER_DIR}/{alert.alert_id}.json"
    claim = _claim(bucket, key, alert, lease_s)
    if claim == "sent":
        return "duplicate"
    if claim == "in_flight":
        return "in_flight"
    crash_point("alerts_lambda_after_claim")
    message_id = publish(topic_arn, alert)
    crash_point("alerts_lambda_after_publish")
    # If this fails, our lease ran out and another invocation took the claim over: it
    # publishes the alert again (same id); nothing is lost.
    _put(bucket, key, _marker(alert, "sent", message_id=message_id), IfMatch=claim)
    return "published"


def handler(event: dict[str, Any], context: Any = None) -> dict[str, int]:
    """Entry point (``shoplake.alerts.lambda_handler.handler``) for S3 event notifications.

    Keys are URL-encoded in the event; the same object may come twice in one event or
    in several invocations. Keys that are not landed clickstream files (other datasets,
    ``_``/``.`` in-progress names) are ignored. Returns counts (also printed to the log;
    a file with skipped lines or a file error gets a log line of its own).
    """
    try:
        return _handle(event)
    except (AlertsInFlight, ShoplakeError):
        raise
    except Exception as exc:
        secrets = (os.environ.get("AWS_SECRET_ACCESS_KEY"), os.environ.get("AWS_SESSION_TOKEN"))
        message = redact_text(f"{type(exc).__name__}: {exc}", *secrets)
        raise AlertsFailed(message) from None


def _handle(event: dict[str, Any]) -> dict[str, int]:
    topic_arn = os.environ.get(TOPIC_ENV)
    if not topic_arn:
        raise ConfigError(
            f"{TOPIC_ENV} is not set", "set it to the alerts SNS topic's ARN", setting=TOPIC_ENV
        )
    lease_s = float(os.environ.get(LEASE_ENV, DEFAULT_LEASE_S))
    counts = dict.fromkeys(
        ("objects", "ignored", "missing", "alerts", "published", "duplicate", "in_flight"), 0
    )
    counts.update(bad_lines=0, skipped_lines=0, file_errors=0)
    in_flight: list[str] = []
    seen: set[tuple[str, str]] = set()
    for record in event.get("Records") or ():
        s3 = record.get("s3") or {}
        bucket = str((s3.get("bucket") or {}).get("name") or "")
        key = unquote_plus((s3.get("object") or {}).get("key") or "")
        where = split_key(key) if bucket else None
        if not str(record.get("eventName", "")).startswith("ObjectCreated") or where is None:
            counts["ignored"] += 1
            continue
        if (bucket, key) in seen:
            continue
        seen.add((bucket, key))
        try:
            obj = _client("s3").get_object(Bucket=bucket, Key=key)
        except Exception as exc:
            if _error_code(exc) in ("NoSuchKey", "404"):  # deleted since: nothing to alert
                counts["missing"] += 1
                continue
            raise
        counts["objects"] += 1
        body = obj["Body"]
        try:  # streamed: a large or hostile object never sits in memory whole
            scan = scan_stream(
                body.read, where[1], datetime.now(timezone.utc), obj.get("ContentLength")
            )
        finally:
            body.close()
        counts["bad_lines"] += scan.bad_lines
        counts["skipped_lines"] += sum(scan.skipped.values())
        counts["file_errors"] += scan.file_error is not None
        if scan.skipped or scan.file_error:
            print(
                json.dumps(
                    {
                        "shoplake_alerts_file": where[1],
                        "skipped": dict(sorted(scan.skipped.items())),
                        "file_error": scan.file_error,
                    }
                )
            )
        counts["alerts"] += len(scan.alerts)
        for alert in scan.alerts:
            outcome = publish_once(bucket, where[0], alert, topic_arn, lease_s)
            counts[outcome] += 1
            if outcome == "in_flight":
                in_flight.append(alert.alert_id)
    print(json.dumps({"shoplake_alerts": counts}))
    if in_flight:
        raise AlertsInFlight(
            f"{len(in_flight)} alerts are claimed by another invocation "
            f"(first: {in_flight[0]}); failing so that Lambda retries this event"
        )
    return counts
