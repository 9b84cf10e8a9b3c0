"""Tell the team: one message per run event, to a webhook and/or an SNS topic, each once.

The events of a run (:func:`run_events`), read off its record (:mod:`shoplake.history`):

* ``run-failed`` — the step that failed, its error and the command that resumes the run;
* ``tests-failed`` / ``tests-warned`` — the dbt data and unit tests that failed (or
  errored) / warned in the build, one message for each group;
* ``quarantine`` — a dataset whose quarantined share of the records read exceeds the
  ``quarantine_threshold`` setting (default 1%, the one that makes the run ``warn``),
  one message per dataset;
* ``stale-source`` — a source whose newest record is older than the SLA (default 2 h) or
  that dbt's freshness check did not pass, one message per source;
* ``alerts-undelivered`` — purchase alerts whose webhook delivery has failed and that
  are still waiting in the alert watcher's outbox (its ledger beside the lake).

Where messages go: ``SHOPLAKE_NOTIFY_WEBHOOK`` (a JSON POST whose ``text`` field is
what Slack's incoming webhooks show; the event's details ride along under ``shoplake``)
and ``SHOPLAKE_NOTIFY_SNS_TOPIC`` (an SNS topic ARN; the text is the message), or the
same settings under ``[notify]`` in ``shoplake.toml`` (``webhook``, ``sns_topic``,
``stale_after_hours``; ``SHOPLAKE_NOTIFY_STALE_HOURS``). Both may be set; each gets every message.

Each message is sent once: an event's key names the run and the event
(``<run_id>/quarantine/orders``), and a delivered key is recorded in the lake's ledger
``_state/notify/sent/<channel>/``, so a retried run (the same ``--run-id``) or a second
call sends nothing again. Delivery is retried with exponential backoff; an event whose
delivery still fails is not recorded, so the next call for that run tries it again (and
the channel's remaining events wait for that call too: a receiver that is down is not
waited for once per event).
Delivery is at-least-once: a crash after the receiver accepted a message and before the
ledger recorded it sends it again, so every POST carries ``Idempotency-Key: <key>``.
Nothing here ever fails the run: every problem becomes a line of the report. URLs are
printed without credentials, query or path (a Slack webhook's path is its secret).

On AWS, :func:`put_metrics` also sends the run's figures to CloudWatch (namespace
``shoplake``, dimension ``Deployment``) when ``SHOPLAKE_CLOUDWATCH_DEPLOYMENT`` names
the deployment; ``deploy aws`` creates the alarms on them.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field, fields, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from shoplake.config import CONFIG_FILE
from shoplake.errors import ConfigError, NotifyError, ShoplakeError
from shoplake.history import RunRecord
from shoplake.lake import Lake

WEBHOOK_ENV = "SHOPLAKE_NOTIFY_WEBHOOK"
SNS_ENV = "SHOPLAKE_NOTIFY_SNS_TOPIC"
STALE_ENV = "SHOPLAKE_NOTIFY_STALE_HOURS"
CLOUDWATCH_ENV = "SHOPLAKE_CLOUDWATCH_DEPLOYMENT"
#: CloudWatch namespace of the run's metrics (deploy's alarms read it).
METRICS_NAMESPACE = "shoplake"
#: Test statuses (dbt's) that count as failed.
FAILED_TESTS = ("fail", "error")


@dataclass(frozen=True)
class NotifySettings:
    webhook: str | None = None
    sns_topic: str | None = None
    #: None: shoplake's ``quarantine_threshold`` setting (default 1%), the one that
    #: makes the run end ``warn``
    quarantine_rate: float | None = None
    stale_after_hours: float = 2.0
    cloudwatch_deployment: str | None = None
    attempts: int = 5
    backoff_s: float = 0.5
    timeout_s: float = 10.0

    @property
    def configured(self) -> bool:
        return bool(self.webhook or self.sns_topic)

    @classmethod
    def load(cls, environ: dict[str, str] | None = None) -> NotifySettings:
        """``[notify]`` of ``shoplake.toml`` (or ``SHOPLAKE_CONFIG``), then the
        ``SHOPLAKE_NOTIFY_*`` variables."""
        from shoplake.config import tomllib

        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        path = Path(env.get("SHOPLAKE_CONFIG", CONFIG_FILE))
        if path.is_file():
            try:
                table = tomllib.loads(path.read_text("utf-8")).get("notify", {})
            except tomllib.TOMLDecodeError as exc:
                raise ConfigError(f"{path}: not valid TOML ({exc})", "fix the file") from exc
            known = {"webhook", "sns_topic", "stale_after_hours"}
            unknown = sorted(set(table) - known)
            if unknown:
                raise ConfigError(
                    f"{path}: unknown [notify] settings {', '.join(unknown)}",
                    f"known settings are {', '.join(sorted(known))}",
                    setting=", ".join(unknown),
                )
            values.update(table)
        for name, var in (
            ("webhook", WEBHOOK_ENV),
            ("sns_topic", SNS_ENV),
            ("stale_after_hours", STALE_ENV),
            ("cloudwatch_deployment", CLOUDWATCH_ENV),
        ):
            if env.get(var):
                values[name] = env[var]
        types = {f.name: f.type for f in fields(cls)}
        if "stale_after_hours" in values:
            try:
                values["stale_after_hours"] = float(values["stale_after_hours"])
            except ValueError:
                raise ConfigError(
                    f"notify setting stale_after_hours = {values['stale_after_hours']!r} "
                    "is not a number",
                    f"set {STALE_ENV} or stale_after_hours under [notify] to hours, e.g. 2",
                    setting="stale_after_hours",
                ) from None
        assert set(values) <= set(types)
        return cls(**values)


def redact(url: str) -> str:
    """A URL as it may be printed: scheme and host only (no user, password, path or query:
    a Slack or Teams webhook's path is its credential)."""
    parts = urlsplit(url)
    if not parts.scheme or not parts.hostname:
        return "<webhook URL>"
    host = parts.hostname + (f":{parts.port}" if parts.port else "")
    rest = "/…" if (parts.path.strip("/") or parts.query) else ""
    return f"{parts.scheme}://{host}{rest}"


# ---------------------------------------------------------------------------------------
# events
# ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Event:
    key: str  # <run_id>/<kind>[/<what>]: the ledger's key
    kind: str
    text: str
    details: dict[str, Any] = field(default_factory=dict)

    def payload(self, record: RunRecord) -> dict[str, Any]:
        return {
            "text": self.text,
            "shoplake": {
                "event": self.kind,
                "key": self.key,
                "run_id": record.run_id,
                "lake": record.lake,
                "target": record.target,
                **self.details,
            },
        }


def run_events(
    record: RunRecord, settings: NotifySettings, lake: Lake | None = None
) -> list[Event]:
    """Every event of a run worth a message (none for a clean run)."""
    rid, where = record.run_id, f"on {record.lake}"
    threshold = settings.quarantine_rate
    if threshold is None:
        from shoplake.config import quarantine_threshold

        threshold = quarantine_threshold()
    events = []
    if record.status == "failed" and record.failed_step:
        step = record.failed_step
        resume = f"shoplake run --from {step} --lake {record.lake}"
        if record.target != "dev":
            resume += f" --target {record.target}"
        events.append(
            Event(
                f"{rid}/run-failed/{step}",
                "run-failed",
                f"shoplake run {rid} failed at step {step} {where}: {record.error}\n"
                f"Fix it, then resume with `{resume}`",
                {"step": step, "error": record.error, "resume": resume},
            )
        )
    for kind, statuses, verb in (
        ("tests-failed", FAILED_TESTS, "failed"),
        ("tests-warned", ("warn",), "warned"),
    ):
        tests = [t for t in record.tests if t.status in statuses]
        if tests:
            names = ", ".join(
                f"{t.name}" + (f" ({t.failures} rows)" if t.failures else "") for t in tests[:10]
            )
            more = f" and {len(tests) - 10} more" if len(tests) > 10 else ""
            events.append(
                Event(
                    f"{rid}/{kind}",
                    kind,
                    f"shoplake run {rid} {where}: {len(tests)} dbt tests {verb}: {names}{more}",
                    {"tests": [t.unique_id for t in tests]},
                )
            )
    for d in record.datasets:
        rate = d.quarantined / d.records_read if d.records_read else 0.0
        if rate > threshold:
            events.append(
                Event(
                    f"{rid}/quarantine/{d.dataset}",
                    "quarantine",
                    f"shoplake run {rid} {where}: {d.quarantined:,} of {d.records_read:,} "
                    f"{d.dataset} records quarantined ({rate:.1%}, threshold "
                    f"{threshold:.1%}); see `shoplake quarantine`",
                    {"dataset": d.dataset, "rate": rate, "quarantined": d.quarantined},
                )
            )
    for f in record.freshness:
        late = f.age_hours is not None and f.age_hours > settings.stale_after_hours
        if late or f.status != "pass":
            age = f"{f.age_hours:.1f} h" if f.age_hours is not None else "unknown"
            events.append(
                Event(
                    f"{rid}/stale-source/{f.source}",
                    "stale-source",
                    f"shoplake run {rid} {where}: source {f.source} is stale: newest record "
                    f"{age} old (SLA {settings.stale_after_hours:g} h, dbt freshness: {f.status})",
                    {"source": f.source, "age_hours": f.age_hours, "status": f.status},
                )
            )
    undelivered = _undelivered_alerts(lake) if lake is not None else None
    if undelivered:
        count, error = undelivered
        events.append(
            Event(
                f"{rid}/alerts-undelivered",
                "alerts-undelivered",
                f"shoplake {where}: purchase alert delivery is failing, {count} alerts wait for "
                f"their webhook (last error: {error}); `shoplake alerts watch` retries them",
                {"undelivered": count},
            )
        )
    return events


def _undelivered_alerts(lake: Lake) -> tuple[int, str] | None:
    """(alerts waiting in the outbox, the latest error) when a delivery has failed."""
    from shoplake.alerts.ledger import LEDGER_FILE, PENDING
    from shoplake.alerts.stores import state_dir_for

    path = state_dir_for(lake) / LEDGER_FILE
    if not path.is_file():
        return None
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
        try:
            waiting, failed, error = db.execute(
                "select count(*), coalesce(sum(attempts > 0), 0), max(last_error) "
                "from alerts where delivery = ?",
                (PENDING,),
            ).fetchall()[0]
        finally:
            db.close()
    except sqlite3.Error:
        return None
    return (waiting, error or "unknown") if failed else None


# ---------------------------------------------------------------------------------------
# delivery
# ---------------------------------------------------------------------------------------
@dataclass
class NotifyReport:
    events: list[Event] = field(default_factory=list)
    sent: list[tuple[str, str]] = field(default_factory=list)  # (channel, key)
    already_sent: list[tuple[str, str]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    metrics: int = 0

    def lines(self) -> list[str]:
        out = []
        if self.sent or self.already_sent:
            out.append(
                f"notify: {len(self.sent)} messages sent"
                + (f", {len(self.already_sent)} already sent before" if self.already_sent else "")
            )
        if self.metrics:
            out.append(f"notify: {self.metrics} metrics sent to CloudWatch")
        return out + [f"notify: {p}" for p in self.problems]


class _Channel:
    name: str
    label: str

    def send(self, event: Event, record: RunRecord, attempt: int) -> None:
        raise NotImplementedError


class _Retryable(Exception):
    pass


class _WebhookChannel(_Channel):
    name = "webhook"

    def __init__(self, url: str, timeout_s: float) -> None:
        from shoplake.alerts.webhook import Webhook

        self.label = redact(url)
        try:
            self.hook = Webhook(url, timeout_s=timeout_s)
        except ShoplakeError:
            raise NotifyError(
                f"the notify webhook {self.label} is not an http(s) URL",
                f"set {WEBHOOK_ENV} to https://host/path",
                channel=self.label,
            ) from None

    def send(self, event: Event, record: RunRecord, attempt: int) -> None:
        from shoplake.alerts.webhook import DeliveryFailed

        try:
            self.hook.post(event.key, json.dumps(event.payload(record)), attempt)
        except DeliveryFailed as exc:
            message = str(exc).replace(self.hook.url, self.label)
            if exc.endpoint_down:
                raise _Retryable(message) from None
            raise NotifyError(message, channel=self.label) from None


class _SnsChannel(_Channel):
    name = "sns"

    def __init__(self, topic: str, session: Any) -> None:
        self.label = f"SNS topic {topic}"
        self.topic = topic
        self.session = session

    def send(self, event: Event, record: RunRecord, attempt: int) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        from shoplake.aws.session import AwsSession

        self.session = self.session or AwsSession()
        try:
            self.session.client("sns").publish(
                TopicArn=self.topic,
                Subject=f"shoplake: {event.kind} ({record.run_id})"[:100],
                Message=event.text,
                MessageAttributes={
                    "event": {"DataType": "String", "StringValue": event.kind},
                    "key": {"DataType": "String", "StringValue": event.key},
                },
            )
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code in ("Throttling", "ThrottlingException", "InternalError", "ServiceUnavailable"):
                raise _Retryable(str(exc)) from None
            raise NotifyError(f"{self.label}: {exc}", channel=self.label) from None
        except BotoCoreError as exc:
            raise _Retryable(f"{self.label}: {exc}") from None


def _ledger_key(lake: Lake, channel: str, key: str) -> str:
    digest = hashlib.sha256(key.encode()).hexdigest()[:40]
    return lake.state_key("notify", "sent", channel, f"{digest}.json")


def notify_run(
    lake: Lake | str,
    record: RunRecord,
    settings: NotifySettings | None = None,
    *,
    session: Any = None,
    sleep: Callable[[float], None] = time.sleep,
) -> NotifyReport:
    """Send each event of ``record`` to every configured channel, once. Never raises."""
    report = NotifyReport()
    try:
        lake = Lake.at(lake)
        settings = settings or NotifySettings.load()
        report.events = run_events(record, settings, lake)
        channels: list[_Channel] = []
        if settings.webhook:
            channels.append(_WebhookChannel(settings.webhook, settings.timeout_s))
        if settings.sns_topic:
            channels.append(_SnsChannel(settings.sns_topic, session))
        for channel in channels:
            for i, event in enumerate(report.events):
                if not _deliver_once(lake, channel, event, record, settings, report, sleep):
                    rest = len(report.events) - i - 1
                    if rest:  # the receiver is down: do not wait for it once per event
                        report.problems.append(
                            f"{rest} more messages not tried on {channel.label}; the next "
                            f"notify of run {record.run_id} sends them"
                        )
                    break
        if settings.cloudwatch_deployment:
            report.metrics = put_metrics(record, settings.cloudwatch_deployment, session)
    except Exception as exc:  # notifying must never fail the run
        report.problems.append(f"not sent: {exc}")
    return report


def _deliver_once(
    lake: Lake,
    channel: _Channel,
    event: Event,
    record: RunRecord,
    settings: NotifySettings,
    report: NotifyReport,
    sleep: Callable[[float], None],
) -> bool:
    """Send one event unless the ledger has it; False when the channel is down."""
    from shoplake.alerts.webhook import backoff

    marker = _ledger_key(lake, channel.name, event.key)
    if lake.exists(marker):
        report.already_sent.append((channel.name, event.key))
        return True
    for attempt in range(1, settings.attempts + 1):
        try:
            channel.send(event, record, attempt)
        except _Retryable as exc:
            if attempt == settings.attempts:
                report.problems.append(
                    f"{event.kind} message not delivered to {channel.label} after {attempt} "
                    f"attempts ({exc}); the next notify of run {record.run_id} retries it"
                )
                return False
            sleep(backoff(attempt, settings.backoff_s, cap_s=30.0))
            continue
        except ShoplakeError as exc:
            report.problems.append(f"{event.kind} message refused by {channel.label}: {exc}")
            return True
        break
    sent = {"key": event.key, "sent_at": datetime.now(timezone.utc).isoformat()}
    lake.write_atomic(marker, json.dumps(sent))
    report.sent.append((channel.name, event.key))
    return True


# ---------------------------------------------------------------------------------------
# CloudWatch
# ---------------------------------------------------------------------------------------
def run_metrics(record: RunRecord) -> dict[str, tuple[float, str]]:
    """The run's figures as CloudWatch metrics: name -> (value, unit)."""
    lags = [f.age_hours for f in record.freshness if f.age_hours is not None]
    out = {
        "RunFailed": (1.0 if record.status == "failed" else 0.0, "Count"),
        "RunSeconds": (float(record.seconds or 0.0), "Seconds"),
        "RowsWritten": (float(sum(d.written for d in record.datasets)), "Count"),
        "RecordsQuarantined": (float(sum(d.quarantined for d in record.datasets)), "Count"),
    }
    if lags:
        out["FreshnessLagHours"] = (max(lags), "None")
    return out


def put_metrics(record: RunRecord, deployment: str, session: Any = None) -> int:
    """Send :func:`run_metrics` to CloudWatch; returns how many were sent."""
    from shoplake.aws.session import AwsSession, aws_errors

    session = session or AwsSession()
    stamp = record.finished_at or datetime.now(timezone.utc)
    data = [
        {
            "MetricName": name,
            "Dimensions": [{"Name": "Deployment", "Value": deployment}],
            "Timestamp": stamp,
            "Value": value,
            "Unit": unit,
        }
        for name, (value, unit) in run_metrics(record).items()
    ]
    with aws_errors(f"sending the run's metrics to CloudWatch ({METRICS_NAMESPACE})"):
        session.client("cloudwatch").put_metric_data(Namespace=METRICS_NAMESPACE, MetricData=data)
    return len(data)


def print_report(report: NotifyReport, say: Callable[[str], None] | None = None) -> None:
    say = say or (lambda line: print(line, file=sys.stderr))
    for line in report.lines():
        say(line)


def after_run(
    lake: Lake,
    record: RunRecord,
    say: Callable[[str], None],
    quarantine_threshold: float | None = None,
) -> NotifyReport | None:
    """What ``shoplake run`` calls when a run ends: notify if anything is configured, say
    what happened; never raises. ``quarantine_threshold``: the run's."""
    try:
        settings = replace(NotifySettings.load(), quarantine_rate=quarantine_threshold)
    except ShoplakeError as exc:
        say(f"notify: not sent: {exc}")
        return None
    if not (settings.configured or settings.cloudwatch_deployment):
        return None
    report = notify_run(lake, record, settings)
    for line in report.lines():
        say(line)
    return report
