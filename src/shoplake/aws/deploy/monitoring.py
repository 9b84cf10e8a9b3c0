"""SNS and CloudWatch: the team's notification topic and the alarms on the run's metrics.

The daily job sends its figures (:func:`shoplake.notify.put_metrics`, namespace
``shoplake``, dimension ``Deployment=<name>``) and its messages (the notifier) to the
topic ``<name>-notifications``; the alarms below notify the same topic, so subscribing
the team (e-mail, chat, paging) to one topic covers both.

The topic is not encrypted with the lake key: CloudWatch alarms can only publish to an
encrypted topic whose key policy admits ``cloudwatch.amazonaws.com``, and the lake key's
policy is the account's default. Its messages carry run ids, counts, dataset names and
error lines, never records.
"""

from __future__ import annotations

from typing import Any

from shoplake.aws.deploy.account import Account
from shoplake.aws.deploy.resource import MISSING, Resource, constant, missing_on, tag_list
from shoplake.notify import METRICS_NAMESPACE


def notify_topic(acct: Account) -> Resource:
    sns, d = acct.client("sns"), acct.d
    display = f"shoplake {d.name}"

    def read() -> Any:
        attrs = missing_on("NotFound", "NotFoundException")(
            lambda: sns.get_topic_attributes(TopicArn=acct.notify_topic_arn)["Attributes"]
        )
        return MISSING if attrs is MISSING else {"DisplayName": attrs.get("DisplayName")}

    def apply(current: Any) -> None:
        if current is MISSING:
            sns.create_topic(
                Name=d.notify_topic, Attributes={"DisplayName": display}, Tags=tag_list(d.tags)
            )
        else:
            sns.set_topic_attributes(
                TopicArn=acct.notify_topic_arn, AttributeName="DisplayName", AttributeValue=display
            )

    return Resource(
        "sns topic",
        d.notify_topic,
        desired=lambda: {"DisplayName": display},
        read=read,
        apply=apply,
    )


def alarm_definitions(acct: Account) -> dict[str, dict[str, Any]]:
    """Each alarm's PutMetricAlarm parameters (name aside)."""
    d = acct.d
    ours = [{"Name": "Deployment", "Value": d.name}]
    actions = {"AlarmActions": [acct.notify_topic_arn], "OKActions": [acct.notify_topic_arn]}
    return {
        d.alarm("run-failed"): {
            "AlarmDescription": f"shoplake {d.name}: a run of the daily job failed",
            "Namespace": METRICS_NAMESPACE,
            "MetricName": "RunFailed",
            "Dimensions": ours,
            "Statistic": "Maximum",
            "Period": 3600,
            "EvaluationPeriods": 1,
            "Threshold": 1.0,
            "ComparisonOperator": "GreaterThanOrEqualToThreshold",
            "TreatMissingData": "notBreaching",
            **actions,
        },
        d.alarm("stale-data"): {
            "AlarmDescription": (
                f"shoplake {d.name}: the newest source record is older than "
                f"{d.stale_after_hours:g} h, or no run reported in a day"
            ),
            "Namespace": METRICS_NAMESPACE,
            "MetricName": "FreshnessLagHours",
            "Dimensions": ours,
            "Statistic": "Maximum",
            "Period": 86400,
            "EvaluationPeriods": 1,
            "Threshold": float(d.stale_after_hours),
            "ComparisonOperator": "GreaterThanThreshold",
            "TreatMissingData": "breaching",  # no run, no figures: the data is getting old
            **actions,
        },
        d.alarm("purchase-alerts-failed"): {
            "AlarmDescription": (
                f"shoplake {d.name}: purchase-alert events failed and wait in "
                f"{d.failed_alerts_queue} for replay"
            ),
            "Namespace": "AWS/SQS",
            "MetricName": "ApproximateNumberOfMessagesVisible",
            "Dimensions": [{"Name": "QueueName", "Value": d.failed_alerts_queue}],
            "Statistic": "Maximum",
            "Period": 300,
            "EvaluationPeriods": 1,
            "Threshold": 0.0,
            "ComparisonOperator": "GreaterThanThreshold",
            "TreatMissingData": "notBreaching",
            **actions,
        },
    }


def alarms(acct: Account) -> list[Resource]:
    cw = acct.client("cloudwatch")
    out = []
    for name, definition in alarm_definitions(acct).items():

        def read(name: str = name, definition: dict = definition) -> Any:
            found = cw.describe_alarms(AlarmNames=[name], AlarmTypes=["MetricAlarm"])
            alarm = next(iter(found.get("MetricAlarms", [])), None)
            if alarm is None:
                return MISSING
            return {k: alarm.get(k) for k in definition}

        def apply(_: Any, name: str = name, definition: dict = definition) -> None:
            cw.put_metric_alarm(AlarmName=name, **definition)  # creates or replaces

        out.append(
            Resource(
                "cloudwatch alarm",
                name,
                desired=constant(definition),
                read=read,
                apply=apply,
            )
        )
    return out
