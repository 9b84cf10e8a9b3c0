"""The notifier against a real HTTP receiver on 127.0.0.1 (and SNS on the local AWS
endpoint): one JSON message per run event, none for a clean run, each exactly once even
when the receiver fails first or the run is notified again (a retried run).

The runs are recorded as ``shoplake run`` records them (:class:`RunRecord`), with the
figures each event is about written here.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import boto3
import pytest
from notify_kit import Receiver

from shoplake import history
from shoplake.history import DatasetRecord, FreshnessRecord, RunRecord, StepRecord
from shoplake.lake import Lake
from shoplake.notify import NotifySettings, notify_run, redact, run_events

NOW = datetime(2026, 12, 3, 2, 30, tzinfo=timezone.utc)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.stop()


def _settings(url: str, **kw) -> NotifySettings:
    return NotifySettings(webhook=url, backoff_s=0.01, **kw)


def _run(lake: Lake, **changes) -> RunRecord:
    """A run of the daily job that went well, unless ``changes`` say otherwise."""
    steps = [StepRecord(i + 1, s, "success") for i, s in enumerate(("ingest", "build", "docs"))]
    record = RunRecord(
        run_id=f"20261203T020000Z-{uuid.uuid4().hex[:6]}",
        started_at=NOW,
        finished_at=NOW + timedelta(minutes=3),
        seconds=180.0,
        target="dev",
        lake=lake.url(),
        status="success",
        steps=steps,
        datasets=[DatasetRecord("orders", 3, 1000, 995, 5, 0)],  # 0.5%: below 1%
        tests=[
            history.TestRecord("test.shoplake.not_null_x", "not_null_x", "test", "pass", 0, 0.1, "")
        ],
        freshness=[FreshnessRecord("lake.orders", NOW, NOW, 0.5, 26.0, 50.0, "pass")],
    )
    for name, value in changes.items():
        setattr(record, name, value)
    return record


def _lake(tmp_path: Path) -> Lake:
    return Lake.at(tmp_path / "lake")


def test_a_clean_run_sends_nothing(tmp_path, receiver):
    report = notify_run(_lake(tmp_path), _run(_lake(tmp_path)), _settings(receiver.url))
    assert receiver.requests == []
    assert report.problems == []


def test_a_failing_run_sends_one_message_with_the_resume_command(tmp_path, receiver):
    lake = _lake(tmp_path)
    run = _run(lake, status="failed", failed_step="build", error="dbt build failed: 2 errors")
    run.steps[1].status = "failed"

    notify_run(lake, run, _settings(receiver.url))
    notify_run(lake, run, _settings(receiver.url))  # the run retried: nothing again

    assert len(receiver.requests) == 1
    _, headers, body = receiver.requests[0]
    assert headers["Content-Type"].startswith("application/json")
    assert "build" in body["text"]
    assert "dbt build failed: 2 errors" in body["text"]
    assert f"shoplake run --from build --lake {lake.url()}" in body["text"]
    assert body["shoplake"]["event"] == "run-failed"
    assert headers["Idempotency-Key"] == f"{run.run_id}/run-failed/build"


def test_a_quarantine_spike_sends_one_message_per_dataset_above_the_threshold(tmp_path, receiver):
    lake = _lake(tmp_path)
    run = _run(
        lake,
        datasets=[
            DatasetRecord("orders", 3, 1000, 950, 50, 0),  # 5%
            DatasetRecord("payments", 3, 1000, 990, 10, 0),  # exactly 1%: not above
            DatasetRecord("clickstream", 24, 0, 0, 0, 0),
        ],
    )
    notify_run(lake, run, _settings(receiver.url))
    assert [b["shoplake"]["event"] for b in receiver.accepted] == ["quarantine"]
    assert receiver.accepted[0]["shoplake"]["dataset"] == "orders"
    assert "50 of 1,000 orders records quarantined (5.0%" in receiver.accepted[0]["text"]

    notify_run(lake, run, _settings(receiver.url, quarantine_rate=0.005))
    assert [b["shoplake"]["dataset"] for b in receiver.accepted] == ["orders", "payments"]


def test_a_stale_source_and_failed_tests_each_send_one_message(tmp_path, receiver):
    lake = _lake(tmp_path)
    run = _run(
        lake,
        freshness=[
            FreshnessRecord("lake.orders", NOW, NOW, 0.5, 26.0, 50.0, "pass"),
            FreshnessRecord("lake.customers", NOW, NOW, 3.0, 26.0, 50.0, "pass"),  # > 2 h
        ],
        tests=[
            history.TestRecord(
                "test.a", "unique_fact_orders_order_id", "test", "fail", 3, 0.1, "x"
            ),
            history.TestRecord("test.b", "recency_orders", "test", "warn", 1, 0.1, "y"),
            history.TestRecord("test.c", "not_null_x", "test", "pass", 0, 0.1, ""),
        ],
    )
    notify_run(lake, run, _settings(receiver.url))
    kinds = sorted(b["shoplake"]["event"] for b in receiver.accepted)
    assert kinds == ["stale-source", "tests-failed", "tests-warned"]
    stale = next(b for b in receiver.accepted if b["shoplake"]["event"] == "stale-source")
    assert stale["shoplake"]["source"] == "lake.customers"
    failed = next(b for b in receiver.accepted if b["shoplake"]["event"] == "tests-failed")
    assert "unique_fact_orders_order_id (3 rows)" in failed["text"]
    assert "recency_orders" not in failed["text"]


def test_a_receiver_that_fails_then_recovers_gets_each_message_once(tmp_path):
    lake = _lake(tmp_path)
    receiver = Receiver(fail_first=3)
    try:
        run = _run(
            lake,
            status="failed",
            failed_step="ingest",
            error="boom",
            datasets=[DatasetRecord("orders", 3, 100, 90, 10, 0)],
        )
        first = notify_run(lake, run, _settings(receiver.url))
        again = notify_run(lake, run, _settings(receiver.url))  # the run retried
    finally:
        receiver.stop()
    assert [s for s, _, _ in receiver.requests].count(500) == 3
    keys = [b["shoplake"]["key"] for b in receiver.accepted]
    assert sorted(keys) == sorted(
        [f"{run.run_id}/run-failed/ingest", f"{run.run_id}/quarantine/orders"]
    )
    assert first.problems == []
    assert len(again.already_sent) == 2
    assert again.sent == []


def test_a_receiver_that_stays_down_never_fails_the_run_and_hides_the_url_secret(tmp_path):
    lake = _lake(tmp_path)
    receiver = Receiver(fail_first=10**6)
    run = _run(
        lake,
        status="failed",
        failed_step="build",
        error="boom",
        datasets=[DatasetRecord("orders", 3, 100, 90, 10, 0)],
    )
    try:
        report = notify_run(lake, run, _settings(receiver.url, attempts=3))
        assert len(receiver.requests) == 3  # the first message's attempts; then it gives up
        assert report.sent == []
        assert len(report.problems) == 2
        assert "1 more messages not tried" in report.problems[1]
        assert "s3cr3t-token" not in " ".join(report.lines())
        assert redact(receiver.url) in report.problems[0]
        receiver.fail_first = 0  # recovered: the next notify of the run delivers them
        later = notify_run(lake, run, _settings(receiver.url))
    finally:
        receiver.stop()
    assert sorted(later.sent) == [
        ("webhook", f"{run.run_id}/quarantine/orders"),
        ("webhook", f"{run.run_id}/run-failed/build"),
    ]
    assert len(receiver.accepted) == 2

    # nobody listening at all
    report = notify_run(
        lake,
        _run(lake, status="failed", failed_step="x", error="e"),
        _settings("http://127.0.0.1:9/hook?token=abc", attempts=2),
    )
    assert report.problems
    assert "token=abc" not in " ".join(report.lines())


def test_redact_keeps_only_scheme_and_host():
    assert redact("https://user:pw@hooks.slack.com/services/T/B/secret?x=1") == (
        "https://hooks.slack.com/…"
    )
    assert redact("http://127.0.0.1:8080") == "http://127.0.0.1:8080"


def test_settings_come_from_shoplake_toml_then_the_environment(tmp_path, monkeypatch):
    config = tmp_path / "shoplake.toml"
    config.write_text(
        '[shoplake]\nquarantine_threshold = "5%"\n'
        '[notify]\nwebhook = "https://example.invalid/a"\nstale_after_hours = 3\n'
    )
    env = {"SHOPLAKE_CONFIG": str(config), "SHOPLAKE_NOTIFY_STALE_HOURS": "4"}
    settings = NotifySettings.load(env)
    assert settings.webhook == "https://example.invalid/a"
    assert settings.quarantine_rate is None  # shoplake's quarantine_threshold, read below
    assert settings.stale_after_hours == 4.0
    env["SHOPLAKE_NOTIFY_WEBHOOK"] = "https://example.invalid/b"
    assert NotifySettings.load(env).webhook == "https://example.invalid/b"

    monkeypatch.setenv("SHOPLAKE_CONFIG", str(config))  # quarantine_threshold = "5%"
    lake = _lake(tmp_path)
    below = _run(lake, datasets=[DatasetRecord("orders", 3, 100, 97, 3, 0)])
    above = _run(lake, datasets=[DatasetRecord("orders", 3, 100, 94, 6, 0)])
    assert run_events(below, settings) == []
    assert [e.kind for e in run_events(above, settings)] == ["quarantine"]


def test_sns_gets_each_message_once_and_cloudwatch_the_run_figures(tmp_path, aws_env):
    sns, sqs = boto3.client("sns"), boto3.client("sqs")
    topic = sns.create_topic(Name=f"notify-{uuid.uuid4().hex[:8]}")["TopicArn"]
    queue = sqs.create_queue(QueueName=f"notify-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
    lake = _lake(tmp_path)
    deployment = f"d{uuid.uuid4().hex[:8]}"
    run = _run(lake, status="failed", failed_step="build", error="boom")
    settings = NotifySettings(sns_topic=topic, cloudwatch_deployment=deployment)

    report = notify_run(lake, run, settings)
    notify_run(lake, run, settings)

    assert report.problems == []
    messages = []
    for _ in range(3):
        got = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, WaitTimeSeconds=1)
        messages += got.get("Messages", [])
    bodies = [json.loads(m["Body"]) for m in messages]
    assert len(bodies) == 1
    assert "shoplake run --from build" in bodies[0]["Message"]
    cw = boto3.client("cloudwatch")
    stats = cw.get_metric_statistics(
        Namespace="shoplake",
        MetricName="RunFailed",
        Dimensions=[{"Name": "Deployment", "Value": deployment}],
        StartTime=NOW - timedelta(hours=1),
        EndTime=NOW + timedelta(hours=1),
        Period=3600,
        Statistics=["Maximum"],
    )["Datapoints"]
    assert [p["Maximum"] for p in stats] == [1.0]
    names = {
        m["MetricName"]
        for m in cw.list_metrics(
            Namespace="shoplake", Dimensions=[{"Name": "Deployment", "Value": deployment}]
        )["Metrics"]
    }
    assert names == {
        "RunFailed",
        "RunSeconds",
        "RowsWritten",
        "RecordsQuarantined",
        "FreshnessLagHours",
    }


def test_purchase_alerts_that_could_not_be_delivered_send_one_message(tmp_path, receiver):
    from datetime import date

    from shoplake.alerts.watcher import process_pending
    from shoplake.generate import generate

    lake = _lake(tmp_path)
    generate(lake, start=date(2026, 12, 2), days=1, orders_per_day=5, seed=3)
    alerts_hook = Receiver(fail_first=10**6)  # the alerts' webhook is down
    try:
        summary = process_pending(lake, alerts_hook.url, retry_for_s=0.0, backfill="2026-12-02")
    finally:
        alerts_hook.stop()
    assert summary.counts["undelivered"] > 0

    run = _run(lake)
    notify_run(lake, run, _settings(receiver.url))
    notify_run(lake, run, _settings(receiver.url))

    assert [b["shoplake"]["event"] for b in receiver.accepted] == ["alerts-undelivered"]
    body = receiver.accepted[0]
    assert body["shoplake"]["undelivered"] == summary.counts["undelivered"]
    assert "HTTP 500" in body["text"]
