"""SNS, SQS and Lambda: the alert topic, the purchase-alert function and its failed-events queue."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from shoplake.alerts.lambda_handler import TOPIC_ENV
from shoplake.alerts.package import HANDLER
from shoplake.aws.deploy.account import Account
from shoplake.aws.deploy.resource import MISSING, Resource, missing_on, tag_list
from shoplake.aws.session import refused

LAMBDA_RUNTIME = "python3.12"
#: Must stay below the handler's claim lease (SHOPLAKE_ALERTS_CLAIM_LEASE_S, 120 s).
LAMBDA_TIMEOUT_S = 60
LAMBDA_MEMORY_MB = 256
#: Asynchronous invocations (S3 events): Lambda's retries of a failed event, and how long
#: it keeps trying; an event that exhausts either goes to the failed-events queue.
ALERT_RETRY_ATTEMPTS = 2
ALERT_MAX_EVENT_AGE_S = 6 * 3600
#: SQS's longest retention: time to notice the failures, fix the cause and replay.
FAILED_EVENTS_RETENTION_S = 14 * 24 * 3600


def topic(acct: Account) -> Resource:
    sns, d = acct.client("sns"), acct.d

    def read() -> Any:
        attrs = missing_on("NotFound", "NotFoundException")(
            lambda: sns.get_topic_attributes(TopicArn=acct.topic_arn)["Attributes"]
        )
        return MISSING if attrs is MISSING else {"KmsMasterKeyId": attrs.get("KmsMasterKeyId")}

    def apply(current: Any) -> None:
        if current is MISSING:
            sns.create_topic(
                Name=d.topic,
                Attributes={"KmsMasterKeyId": acct.key_arn},
                Tags=tag_list(d.tags),
            )
        else:
            sns.set_topic_attributes(
                TopicArn=acct.topic_arn, AttributeName="KmsMasterKeyId", AttributeValue=acct.key_arn
            )

    return Resource(
        "sns topic",
        d.topic,
        desired=lambda: {"KmsMasterKeyId": acct.key_arn},
        read=read,
        apply=apply,
    )


#: Lambda may not see a role created seconds ago (IAM is eventually consistent).
_ROLE_PROPAGATION_S = 60.0


def alert_function(acct: Account) -> list[Resource]:
    lam, d = acct.client("lambda"), acct.d

    def configuration() -> dict[str, Any]:
        return {
            "Runtime": LAMBDA_RUNTIME,
            "Handler": HANDLER,
            "Role": acct.role_arn("alert_lambda"),
            "Timeout": LAMBDA_TIMEOUT_S,
            "MemorySize": LAMBDA_MEMORY_MB,
            "Description": f"shoplake {d.name}: purchase alerts from new clickstream files",
            "Environment": {"Variables": {TOPIC_ENV: acct.topic_arn}},
        }

    def desired() -> dict[str, Any]:
        return {**configuration(), "CodeSha256": acct.lambda_package[1]}

    def read() -> Any:
        fn = missing_on("ResourceNotFoundException")(
            lambda: lam.get_function(FunctionName=d.function)["Configuration"]
        )
        if fn is MISSING:
            return MISSING
        return {k: fn.get(k) for k in desired()}

    def apply(current: Any) -> None:
        code, sha = acct.lambda_package
        if current is MISSING:
            _retry_while_role_propagates(
                lambda: lam.create_function(
                    FunctionName=d.function,
                    Code={"ZipFile": code},
                    Publish=False,
                    Tags=d.tags,
                    **configuration(),
                )
            )
            lam.get_waiter("function_active_v2").wait(FunctionName=d.function)
            return
        if current.get("CodeSha256") != sha:
            lam.update_function_code(FunctionName=d.function, ZipFile=code)
            lam.get_waiter("function_updated_v2").wait(FunctionName=d.function)
        if {k: current.get(k) for k in configuration()} != configuration():
            _retry_while_role_propagates(
                lambda: lam.update_function_configuration(
                    FunctionName=d.function, **configuration()
                )
            )
            lam.get_waiter("function_updated_v2").wait(FunctionName=d.function)

    statement_id = "shoplake-s3-raw-clickstream"

    def permission() -> dict[str, Any]:
        return {
            "Action": "lambda:InvokeFunction",
            "Principal": "s3.amazonaws.com",
            "SourceArn": f"arn:{acct.partition}:s3:::{d.raw_bucket}",
            "SourceAccount": acct.account,
        }

    def read_permission() -> Any:
        policy = missing_on("ResourceNotFoundException")(
            lambda: json.loads(lam.get_policy(FunctionName=d.function)["Policy"])
        )
        if policy is MISSING:
            return MISSING
        for stmt in policy.get("Statement", []):
            if stmt.get("Sid") == statement_id:
                cond = stmt.get("Condition", {})
                return {
                    "Action": stmt.get("Action"),
                    "Principal": stmt.get("Principal", {}).get("Service"),
                    "SourceArn": cond.get("ArnLike", {}).get("AWS:SourceArn"),
                    "SourceAccount": cond.get("StringEquals", {}).get("AWS:SourceAccount"),
                }
        return MISSING

    def apply_permission(current: Any) -> None:
        if current is not MISSING:
            lam.remove_permission(FunctionName=d.function, StatementId=statement_id)
        lam.add_permission(FunctionName=d.function, StatementId=statement_id, **permission())

    return [
        Resource("lambda function", d.function, desired, read, apply),
        Resource(
            "lambda permission",
            f"{d.function}/{statement_id}",
            desired=permission,
            read=read_permission,
            apply=apply_permission,
        ),
    ]


#: SQS's codes for a missing queue: the query-compatible one, and the error's API name.
_NO_QUEUE = ("AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist")


def failed_alerts_queue(acct: Account) -> Resource:
    """The queue that keeps the alert function's events Lambda gave up on, for replay."""
    sqs, d = acct.client("sqs"), acct.d
    found: dict[str, str] = {}

    def desired() -> dict[str, str]:
        # SQS answers every attribute as a string
        return {
            "KmsMasterKeyId": acct.key_arn,
            "MessageRetentionPeriod": str(FAILED_EVENTS_RETENTION_S),
        }

    def read() -> Any:
        url = missing_on(*_NO_QUEUE)(
            lambda: sqs.get_queue_url(QueueName=d.failed_alerts_queue)["QueueUrl"]
        )
        if url is MISSING:
            return MISSING
        found["url"] = url
        attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=list(desired()))
        return {k: attrs.get("Attributes", {}).get(k) for k in desired()}

    def apply(current: Any) -> None:
        if current is MISSING:
            sqs.create_queue(QueueName=d.failed_alerts_queue, Attributes=desired(), tags=d.tags)
        else:
            sqs.set_queue_attributes(QueueUrl=found["url"], Attributes=desired())

    return Resource("sqs queue", d.failed_alerts_queue, desired, read, apply)


def alert_failure_destination(acct: Account) -> Resource:
    """How Lambda treats the alert function's S3 events: a failed event is retried
    ``ALERT_RETRY_ATTEMPTS`` times within ``ALERT_MAX_EVENT_AGE_S``, then sent to the
    failed-events queue instead of being dropped (its purchases would never alert)."""
    lam, d = acct.client("lambda"), acct.d
    found: dict[str, Any] = {}

    def desired() -> dict[str, Any]:
        return {
            "MaximumRetryAttempts": ALERT_RETRY_ATTEMPTS,
            "MaximumEventAgeInSeconds": ALERT_MAX_EVENT_AGE_S,
            "OnFailure": acct.failed_alerts_queue_arn,
        }

    def read() -> Any:
        config = missing_on("ResourceNotFoundException")(
            lambda: lam.get_function_event_invoke_config(FunctionName=d.function)
        )
        if config is MISSING:
            return MISSING
        destinations = config.get("DestinationConfig") or {}
        found["on success"] = destinations.get("OnSuccess") or {}
        return {
            "MaximumRetryAttempts": config.get("MaximumRetryAttempts"),
            "MaximumEventAgeInSeconds": config.get("MaximumEventAgeInSeconds"),
            "OnFailure": (destinations.get("OnFailure") or {}).get("Destination"),
        }

    def apply(_: Any) -> None:
        want = desired()
        destinations: dict[str, Any] = {"OnFailure": {"Destination": want.pop("OnFailure")}}
        if found.get("on success"):  # someone else's; a put replaces the whole config
            destinations["OnSuccess"] = found["on success"]
        # Lambda checks that the function's role may send to the queue: a role policy
        # updated seconds ago may not be visible yet.
        _retry_while_role_propagates(
            lambda: lam.put_function_event_invoke_config(
                FunctionName=d.function, DestinationConfig=destinations, **want
            ),
            waiting_for="does not have permission",
        )

    return Resource("lambda event invoke config", d.function, desired, read, apply)


def _retry_while_role_propagates(
    call: Callable[[], Any], waiting_for: str = "cannot be assumed"
) -> Any:
    """``call``, again while Lambda refuses it with a message saying ``waiting_for``."""
    deadline = time.monotonic() + _ROLE_PROPAGATION_S
    delay = 1.0
    while True:
        with refused("InvalidParameterValueException", saying=waiting_for) as propagating:
            return call()
        if time.monotonic() > deadline and propagating.exc is not None:
            raise propagating.exc
        time.sleep(delay)
        delay = min(delay * 2, 10.0)
