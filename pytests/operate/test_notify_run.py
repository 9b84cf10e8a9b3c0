"""``shoplake run`` tells the team: the real command in a child process, with
``SHOPLAKE_NOTIFY_WEBHOOK`` pointing at a real HTTP receiver on 127.0.0.1.

Expected messages follow from what the run recorded (its JSON record in the lake): one
per dataset whose quarantined share exceeds 1%, one for a failed step; none for a clean
run; none again when the same run is retried (same ``--run-id``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from notify_kit import Receiver
from run_kit import generated_lake, shoplake


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.stop()


def _record(lake, run_id: str) -> dict:
    return json.loads((lake.root / "_state" / "pipeline" / f"{run_id}.json").read_text())


def test_a_run_with_a_quarantine_spike_sends_one_message_per_dataset_once(tmp_path, receiver):
    lake = generated_lake(tmp_path / "lake")  # generated with faults: rejects in every dataset
    env = {"SHOPLAKE_NOTIFY_WEBHOOK": receiver.url}
    args = ("run", "--lake", str(lake.root), "--only", "ingest", "--run-id", "spike-1")

    first = shoplake(*args, env=env)
    assert first.returncode == 0, first.stderr
    datasets = _record(lake, "spike-1")["datasets"]
    again = shoplake(*args, env=env)  # the scheduler retries the task
    assert again.returncode == 0, again.stderr

    spiking = sorted(
        d["dataset"]
        for d in datasets
        if d["records_read"] and d["quarantined"] / d["records_read"] > 0.01
    )
    assert spiking  # the generated faults make a spike
    got = sorted(b["shoplake"]["dataset"] for b in receiver.accepted)
    assert got == spiking
    assert {b["shoplake"]["event"] for b in receiver.accepted} == {"quarantine"}
    assert "s3cr3t-token" not in first.stdout + first.stderr + again.stdout + again.stderr


def test_a_failing_run_sends_one_message_naming_the_resume_command(tmp_path, receiver):
    lake = generated_lake(tmp_path / "lake")  # no warehouse yet: the dashboard step fails
    env = {"SHOPLAKE_NOTIFY_WEBHOOK": receiver.url}
    result = shoplake("run", "--lake", str(lake.root), "--only", "dashboard", env=env)
    assert result.returncode == 1
    assert len(receiver.accepted) == 1
    body = receiver.accepted[0]
    assert body["shoplake"]["event"] == "run-failed"
    assert f"shoplake run --from dashboard --lake {lake.root}" in body["text"]


def test_a_clean_run_sends_nothing(tmp_path, receiver):
    lake = generated_lake(tmp_path / "lake")
    env = {"SHOPLAKE_NOTIFY_WEBHOOK": receiver.url}
    result = shoplake("run", "--lake", str(lake.root), "--only", "extract", env=env)
    assert result.returncode == 0, result.stderr
    assert receiver.requests == []
