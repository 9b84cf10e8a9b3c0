"""The AWS side against a local endpoint (moto's server on 127.0.0.1): the Lambda handler
fed real-shaped S3 event payloads (URL-encoded keys, duplicates, the same event twice,
kills between claim and publish), its SNS messages read back through a subscribed SQS
queue; the Lambda zip imported and run with nothing but boto3 beside it; and the watcher
on an ``s3://`` lake."""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import socket
import subprocess
import sys
import zipfile
import zlib
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus

import boto3
import pytest
from alerts_kit import (
    PYTHON,
    UTC,
    Receiver,
    click,
    expected_id,
    ndjson,
    nested_purchase,
    purchase,
)

from shoplake.alerts import lambda_handler
from shoplake.alerts.package import HANDLER, build_lambda_zip
from shoplake.alerts.watcher import process_pending

LAKE = "shop/lake"
RAW = f"{LAKE}/raw/clickstream/2026/03/01/14"


@pytest.fixture
def topic(aws_env: dict[str, str], monkeypatch: pytest.MonkeyPatch, request) -> dict[str, str]:
    """An SNS topic with an SQS queue subscribed (raw delivery) to read what was published."""
    fifo = getattr(request, "param", False)
    suffix = ".fifo" if fifo else ""
    name = f"alerts-{request.node.name[:40].replace('[', '-').replace(']', '')}"
    sns, sqs = boto3.client("sns"), boto3.client("sqs")
    attrs = {"FifoTopic": "true", "ContentBasedDeduplication": "false"} if fifo else {}
    arn = sns.create_topic(Name=name + suffix, Attributes=attrs)["TopicArn"]
    queue = sqs.create_queue(
        QueueName=name + suffix, Attributes={"FifoQueue": "true"} if fifo else {}
    )["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    sns.subscribe(
        TopicArn=arn,
        Protocol="sqs",
        Endpoint=queue_arn,
        Attributes={"RawMessageDelivery": "true"},
    )
    monkeypatch.setenv(lambda_handler.TOPIC_ENV, arn)
    monkeypatch.delenv(lambda_handler.LEASE_ENV, raising=False)
    monkeypatch.delenv("SHOPLAKE_CRASH_AT", raising=False)
    return {"arn": arn, "queue": queue}


def received(queue: str) -> list[dict[str, Any]]:
    """Every message the queue got so far (each deleted once read)."""
    sqs = boto3.client("sqs")
    out = []
    while True:
        batch = sqs.receive_message(
            QueueUrl=queue, MaxNumberOfMessages=10, MessageAttributeNames=["All"]
        ).get("Messages", [])
        if not batch:
            return out
        for m in batch:
            out.append(m)
            sqs.delete_message(QueueUrl=queue, ReceiptHandle=m["ReceiptHandle"])


def put(bucket: str, key: str, data: bytes) -> None:
    boto3.client("s3").put_object(Bucket=bucket, Key=key, Body=data)


def s3_event(bucket: str, *keys: str, name: str = "ObjectCreated:Put") -> dict[str, Any]:
    """An S3 event notification as S3 sends it to Lambda (keys URL-encoded)."""
    return {
        "Records": [
            {
                "eventVersion": "2.1",
                "eventSource": "aws:s3",
                "awsRegion": "us-east-1",
                "eventTime": "2026-03-01T14:10:00.000Z",
                "eventName": name,
                "userIdentity": {"principalId": "AWS:EXAMPLE"},
                "requestParameters": {"sourceIPAddress": "203.0.113.7"},
                "responseElements": {"x-amz-request-id": "EXAMPLE", "x-amz-id-2": "EXAMPLE"},
                "s3": {
                    "s3SchemaVersion": "1.0",
                    "configurationId": "shoplake-alerts",
                    "bucket": {
                        "name": bucket,
                        "ownerIdentity": {"principalId": "EXAMPLE"},
                        "arn": f"arn:aws:s3:::{bucket}",
                    },
                    "object": {
                        "key": quote_plus(key, safe="/"),
                        "size": 1,
                        "eTag": "0123456789abcdef",
                        "sequencer": "0A1B2C3D4E5F678901",
                    },
                },
            }
            for key in keys
        ]
    }


def _lake_files(bucket: str) -> tuple[set[str], list[str]]:
    """Two files (one with a space and a plus in its name), gzip, a bad line."""
    put(
        bucket,
        f"{RAW}/part one+1.json",
        ndjson(
            [
                click("2026-03-01T14:00:00Z", "C1", "s1"),
                purchase("2026-03-01T14:01:00Z", "C1", "s1", "O1"),
                "{broken",
            ]
        ),
    )
    import gzip

    put(
        bucket,
        f"{RAW}/part-2.json.gz",
        gzip.compress(
            ndjson(
                [
                    purchase("2026-03-01T15:02:00+01:00", "C2", "s2", "O2", "10.00", "GBP"),
                    purchase("2026-03-01T14:03:00Z", "C3", "s3", "O3"),
                ]
            )
        ),
    )
    expected = {
        expected_id("2026-03-01T14:01:00.000000Z", "C1", "s1"),
        expected_id("2026-03-01T14:02:00.000000Z", "C2", "s2"),
        expected_id("2026-03-01T14:03:00.000000Z", "C3", "s3"),
    }
    return expected, [f"{RAW}/part one+1.json", f"{RAW}/part-2.json.gz"]


def test_each_purchase_is_published_once(s3_bucket: str, topic: dict[str, str]) -> None:
    expected, keys = _lake_files(s3_bucket)
    put(
        s3_bucket,
        f"{RAW}/copy.json",
        boto3.client("s3").get_object(Bucket=s3_bucket, Key=keys[0])["Body"].read(),
    )  # re-delivered under another name
    put(s3_bucket, f"{RAW}/_uploading.json", ndjson([purchase("2026-03-01T14:09:00Z")]))
    put(s3_bucket, f"{LAKE}/raw/orders/2026/03/01/o.csv", b"order_id\n")
    event = s3_event(
        s3_bucket,
        keys[0],
        keys[1],
        keys[0],  # the same object twice in one event
        f"{RAW}/copy.json",
        f"{RAW}/_uploading.json",
        f"{LAKE}/raw/orders/2026/03/01/o.csv",
    )
    counts = lambda_handler.handler(event, None)
    # three files read (part one, part-2, the copy); the broken line is in part one and copy
    assert (counts["objects"], counts["ignored"], counts["bad_lines"]) == (3, 2, 2)
    assert (counts["published"], counts["duplicate"], counts["in_flight"]) == (3, 1, 0)

    again = lambda_handler.handler(event, None)  # S3 delivered the whole event again
    assert (again["published"], again["duplicate"]) == (0, 4)
    lambda_handler.handler(s3_event(s3_bucket, keys[1], name="ObjectCreated:Copy"), None)

    messages = received(topic["queue"])
    ids = Counter(json.loads(m["Body"])["alert_id"] for m in messages)
    assert ids == dict.fromkeys(expected, 1)
    for m in messages:
        body = json.loads(m["Body"])
        assert m["MessageAttributes"]["alert_id"]["StringValue"] == body["alert_id"]
        assert m["MessageAttributes"]["event_type"]["StringValue"] == "purchase"
        assert body["source_file"].startswith("raw/clickstream/2026/03/01/14/")
    gbp = next(json.loads(m["Body"]) for m in messages if "GBP" in m["Body"])
    assert (gbp["event_time"], gbp["order_id"], gbp["revenue"]) == (
        "2026-03-01T14:02:00.000000Z",
        "O2",
        "10.00",
    )
    markers = boto3.client("s3").list_objects_v2(
        Bucket=s3_bucket, Prefix=f"{LAKE}/alerts/_ledger/"
    )["Contents"]
    assert len(markers) == 3


def test_missing_topic_and_deleted_objects(
    s3_bucket: str, topic: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    counts = lambda_handler.handler(s3_event(s3_bucket, f"{RAW}/gone.json"), None)
    assert (counts["missing"], counts["published"]) == (1, 0)
    monkeypatch.delenv(lambda_handler.TOPIC_ENV)
    with pytest.raises(Exception, match=lambda_handler.TOPIC_ENV):
        lambda_handler.handler(s3_event(s3_bucket, f"{RAW}/gone.json"), None)


def _invoke_in_subprocess(
    event: dict[str, Any], crash_at: str | None = None, lease: str | None = None
) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env.pop("SHOPLAKE_CRASH_AT", None)
    if crash_at:
        env["SHOPLAKE_CRASH_AT"] = crash_at
    if lease is not None:
        env[lambda_handler.LEASE_ENV] = lease
    code = (
        "import json, sys\n"
        "from shoplake.alerts.lambda_handler import handler\n"
        "print(json.dumps(handler(json.loads(sys.argv[1]), None)))\n"
    )
    return subprocess.run(
        [PYTHON, "-c", code, json.dumps(event)], capture_output=True, text=True, env=env
    )


def test_a_kill_between_claim_and_publish_is_recovered(
    s3_bucket: str, topic: dict[str, str]
) -> None:
    expected, keys = _lake_files(s3_bucket)
    event = s3_event(s3_bucket, *keys)
    killed = _invoke_in_subprocess(event, crash_at="alerts_lambda_after_claim")
    assert killed.returncode == -signal.SIGKILL
    assert received(topic["queue"]) == []  # claimed, never published

    # Lambda's retry within the lease: the claim may belong to a live invocation
    young = _invoke_in_subprocess(event)
    assert young.returncode == 1
    assert "AlertsInFlight" in young.stderr

    # a later retry (lease expired): takes the claim over and publishes
    retried = _invoke_in_subprocess(event, lease="0")
    assert retried.returncode == 0, retried.stderr
    ids = Counter(json.loads(m["Body"])["alert_id"] for m in received(topic["queue"]))
    assert ids == dict.fromkeys(expected, 1)
    assert _invoke_in_subprocess(event, lease="0").returncode == 0
    assert received(topic["queue"]) == []


@pytest.mark.parametrize("topic", [True], indirect=True, ids=["fifo"])
def test_a_kill_after_publish_is_deduplicated_by_a_fifo_topic(
    s3_bucket: str, topic: dict[str, str]
) -> None:
    expected, keys = _lake_files(s3_bucket)
    event = s3_event(s3_bucket, *keys)
    killed = _invoke_in_subprocess(event, crash_at="alerts_lambda_after_publish")
    assert killed.returncode == -signal.SIGKILL
    retried = _invoke_in_subprocess(event, lease="0")  # re-publishes the pending one
    assert retried.returncode == 0, retried.stderr
    assert json.loads(retried.stdout.splitlines()[-1])["published"] == 3  # one again
    ids = Counter(json.loads(m["Body"])["alert_id"] for m in received(topic["queue"]))
    assert ids == dict.fromkeys(expected, 1)


def _boto3_only(tmp_path: Path) -> Path:
    """A folder holding boto3 and its dependencies and nothing else."""
    folder = tmp_path / "runtime"
    folder.mkdir()
    for name in ("boto3", "botocore", "s3transfer", "jmespath", "dateutil", "urllib3", "six"):
        spec = importlib.util.find_spec(name)
        assert spec is not None
        assert spec.origin is not None
        origin = Path(spec.origin)
        source = origin.parent if origin.name == "__init__.py" else origin
        (folder / source.name).symlink_to(source)
    return folder


def test_the_lambda_zip_runs_with_only_boto3_beside_it(
    tmp_path: Path, s3_bucket: str, topic: dict[str, str]
) -> None:
    path = build_lambda_zip(tmp_path / "dist")
    names = zipfile.ZipFile(path).namelist()
    assert all(n.startswith("shoplake/") and n.endswith(".py") for n in names)
    assert "shoplake/alerts/lambda_handler.py" in names
    assert build_lambda_zip(tmp_path / "again").read_bytes() == path.read_bytes()

    expected, keys = _lake_files(s3_bucket)
    module, func = HANDLER.rsplit(".", 1)
    code = (
        "import json, sys\n"
        f"sys.path[:] = [{str(path)!r}, {str(_boto3_only(tmp_path))!r}] + "
        "[p for p in sys.path if 'site-packages' not in p and p]\n"
        f"from {module} import {func} as handler\n"
        "counts = handler(json.loads(sys.argv[1]), None)\n"
        "outside = sorted(n for n, m in sys.modules.items() if n.startswith('shoplake')\n"
        f"                 and not (getattr(m, '__file__', '') or '').startswith({str(path)!r}))\n"
        "heavy = sorted({'duckdb', 'pyarrow', 'numpy', 'typer', 's3fs'} & set(sys.modules))\n"
        "print(json.dumps({'counts': counts, 'outside': outside, 'heavy': heavy}))\n"
    )
    result = subprocess.run(
        [sys.executable, "-I", "-S", "-c", code, json.dumps(s3_event(s3_bucket, *keys))],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": ""},
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout.splitlines()[-1])
    assert (out["outside"], out["heavy"]) == ([], [])
    assert out["counts"]["published"] == 3
    ids = {json.loads(m["Body"])["alert_id"] for m in received(topic["queue"])}
    assert ids == expected


def test_the_handler_shares_the_scanners_limits(
    s3_bucket: str, topic: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    deep = nested_purchase("2026-03-01T14:00:00Z", "deep", 100_000)
    after = json.dumps(purchase("2026-03-01T14:00:01Z", "C1", "after"))
    put(s3_bucket, f"{RAW}/deep.json", f"{deep}\n{after}\n".encode())
    bomb = zlib.compressobj(6, zlib.DEFLATED, 31)  # gzip of 64 MiB of spaces: ~64 KB
    data = bomb.compress(ndjson([purchase("2026-03-01T14:00:02Z", "C1", "bomb")]))
    data += b"".join(bomb.compress(b" " * (1 << 20)) for _ in range(64)) + bomb.flush()
    put(s3_bucket, f"{RAW}/bomb.json.gz", data)
    put(s3_bucket, f"{RAW}/later.json", ndjson([purchase("2026-03-01T14:00:03Z", "C1", "later")]))
    keys = [f"{RAW}/deep.json", f"{RAW}/bomb.json.gz", f"{RAW}/later.json"]

    counts = lambda_handler.handler(s3_event(s3_bucket, *keys))
    assert (counts["published"], counts["skipped_lines"], counts["file_errors"]) == (2, 1, 1)
    sessions = {json.loads(m["Body"])["session_id"] for m in received(topic["queue"])}
    assert sessions == {"after", "later"}
    logged = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    files = {e["shoplake_alerts_file"]: e for e in logged if "shoplake_alerts_file" in e}
    assert files["raw/clickstream/2026/03/01/14/deep.json"]["skipped"] == {"too_deep": 1}
    bombed = files["raw/clickstream/2026/03/01/14/bomb.json.gz"]["file_error"]
    assert bombed.startswith("decompression_limit")


def test_a_failing_handler_shows_no_credentials(
    s3_bucket: str, topic: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://user:pass@127.0.0.1:{port}/?token=abc")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    with pytest.raises(lambda_handler.AlertsFailed) as failed:
        lambda_handler.handler(s3_event(s3_bucket, f"{RAW}/any.json"))
    message = str(failed.value)
    assert "127.0.0.1" in message
    assert all(marker not in message for marker in ("pass", "abc", "user:")), message
    assert failed.value.__cause__ is None
    assert failed.value.__suppress_context__


def test_the_watcher_on_an_s3_lake(
    s3_bucket: str, receiver: Receiver, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SHOPLAKE_LOCAL_DIR", str(tmp_path / "local"))
    monkeypatch.delenv("SHOPLAKE_ALERTS_STATE", raising=False)
    lake = f"s3://{s3_bucket}/{LAKE}"
    assert process_pending(lake, receiver.url).files == []  # alerts start: no files yet
    expected, _ = _lake_files(s3_bucket)
    put(s3_bucket, f"{RAW}/_uploading.json", ndjson([purchase("2026-03-01T14:09:00Z")]))
    lines: list[str] = []
    summary = process_pending(lake, receiver.url, log=lines.append)
    assert (len(summary.files), summary.new_alerts, summary.delivered) == (2, 3, 3)
    assert all("latency=?" in line for line in lines)  # S3 listings carry no time
    assert receiver.accepted_keys() == dict.fromkeys(expected, 1)

    s3 = boto3.client("s3")
    listed = s3.list_objects_v2(Bucket=s3_bucket, Prefix=f"{LAKE}/alerts/")["Contents"]
    published = []
    for obj in listed:
        assert obj["Key"].startswith(f"{LAKE}/alerts/year=2026/month=03/day=01/")
        body = s3.get_object(Bucket=s3_bucket, Key=obj["Key"])["Body"].read().decode()
        published += [json.loads(line)["alert_id"] for line in body.splitlines()]
    assert sorted(published) == sorted(expected)
    assert len(list((tmp_path / "local").rglob("ledger.sqlite"))) == 1

    assert process_pending(lake, receiver.url).files == []
    now = datetime.now(UTC)
    stamp = now.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    put(
        s3_bucket,
        f"{LAKE}/raw/clickstream/{now:%Y/%m/%d/%H}/live.json",
        ndjson([purchase(stamp, "C9", "live")]),
    )
    assert process_pending(lake, receiver.url).delivered == 1
    assert receiver.accepted_keys()[expected_id(stamp, "C9", "live")] == 1
