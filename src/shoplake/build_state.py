"""What the last build and docs of a lake consumed, so that a run with nothing new skips them.

``shoplake run`` builds the warehouse only when something it is built from moved since
the last successful build of the same target and warehouse:

* the lake's silver data: the ingest batch number (``_state/ingest/sequence.json``, one
  more for every ingest run that wrote anything) and the listing of the silver files
  (key, size, version: a quarantine replay or a compaction shows here too);
* the dbt project: a hash of every file dbt reads (:data:`PROJECT_PATHS`) and dbt's version;
* the build's environment: the target's connection settings, the e-mail salt (hashed),
  and the UTC day (``dim_date`` runs to today plus its horizon; the recency tests read
  the clock);
* the warehouse itself: on DuckDB its file must still exist.

The docs site is regenerated only when the project or the target's settings changed
since it was last generated (or its files are gone): a build over new rows does not
change what the docs describe.

What a build or docs generation consumed is kept in ``<artifacts>/consumed.json`` (the
target's dbt artifacts directory, :func:`shoplake.warehouse.artifacts_dir`), written only
after it succeeded; the fingerprint is taken before it starts, so data that lands during
a build is built by the next run. ``--full-refresh`` always builds.

The record of the last build also scopes the next build's tests: the ingest batch it
consumed is the ``SHOPLAKE_TESTS_CHANGED_SINCE`` of the next build of the same warehouse
(:data:`CHANGED_SINCE_ENV`, ``macros/test_scope.sql``), and the project hash its unit
tests passed with lets the next build leave them out (:func:`shoplake.warehouse.build`).
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from shoplake.lake import SILVER, Lake

#: The files and directories of the dbt project a build or the docs depend on.
PROJECT_PATHS = (
    "dbt_project.yml",
    "profiles.yml.example",
    "models",
    "macros",
    "tests",
    "seeds",
    "analyses",
    "src/shoplake/reference",
    "src/shoplake/dbt_plugin.py",
)
#: Where, under a target's artifacts directory, the consumed fingerprints are kept.
CONSUMED_FILE = "consumed.json"
#: The ingest batch counter (:mod:`shoplake.ingest.engine`).
SEQUENCE_KEY = ("ingest", "sequence.json")


def project_hash(project: Path) -> str:
    """sha256 over the path and content of every file of :data:`PROJECT_PATHS`."""
    digest = hashlib.sha256()
    for name in PROJECT_PATHS:
        root = project / name
        files = sorted(p for p in root.rglob("*") if p.is_file()) if root.is_dir() else [root]
        for path in files:
            if not path.is_file() or "__pycache__" in path.parts:
                continue
            digest.update(path.relative_to(project).as_posix().encode() + b"\0")
            digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def ingest_sequence(lake: Lake) -> int:
    """The number of the last ingest run that wrote anything (0 before the first)."""
    try:
        return int(json.loads(lake.read_bytes(lake.state_key(*SEQUENCE_KEY)))["ingest_seq"])
    except FileNotFoundError:
        return 0


def silver_listing_hash(lake: Lake) -> str:
    """sha256 of the silver zone's listing: every file's key, size and version."""
    digest = hashlib.sha256()
    for entry in lake.list(SILVER):
        digest.update(f"{entry.key}\0{entry.size}\0{entry.version}\n".encode())
    return digest.hexdigest()


def _digest(parts: dict) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


def _settings(env: dict[str, str]) -> dict[str, str]:
    """The build's environment with secrets replaced by their hashes."""
    secret = ("PASSWORD", "SALT", "PGOPTIONS")
    return {
        k: (hashlib.sha256(v.encode()).hexdigest() if any(s in k for s in secret) else v)
        for k, v in sorted(env.items())
    }


def _dbt_version() -> str:
    from importlib.metadata import version

    return version("dbt-core")


#: The environment variable that tells dbt the batch after which a build's rows are new
#: (macros/test_scope.sql).
CHANGED_SINCE_ENV = "SHOPLAKE_TESTS_CHANGED_SINCE"


@dataclass(frozen=True)
class Fingerprints:
    """What a build and the docs would consume now, and which warehouse they write."""

    build: str
    docs: str
    ingest_seq: int
    warehouse: str


def fingerprints(lake: Lake, project: Path, env: dict[str, str], salt: str) -> Fingerprints:
    """The fingerprints of a build and of the docs for ``env`` (:func:`dbt_env`)."""
    settings = _settings({**env, "SHOPLAKE_EMAIL_SALT": salt})
    common = {"project": project_hash(project), "dbt": _dbt_version(), "settings": settings}
    seq = ingest_sequence(lake)
    build = {
        **common,
        "ingest_seq": seq,
        "silver": silver_listing_hash(lake),
        "day": datetime.now(timezone.utc).date().isoformat(),
    }
    warehouse = _digest({k: v for k, v in settings.items() if k != "SHOPLAKE_EMAIL_SALT"})
    return Fingerprints(
        build=_digest(build), docs=_digest(common), ingest_seq=seq, warehouse=warehouse
    )


def record_build(artifacts: Path, consumed: Fingerprints) -> None:
    """Remember what a successful, tested build of the whole warehouse consumed."""
    record(
        artifacts,
        "build",
        consumed.build,
        ingest_seq=consumed.ingest_seq,
        warehouse=consumed.warehouse,
    )


def changed_since(artifacts: Path, now: Fingerprints) -> int:
    """The ingest batch after which a build's rows are new: the one the last recorded
    build of the same warehouse consumed; -1 (every row) if there is none."""
    last = consumed(artifacts, "build")
    if last is None or last.get("warehouse") != now.warehouse:
        return -1
    seq = last.get("ingest_seq")
    return seq if isinstance(seq, int) and seq <= now.ingest_seq else -1


def _read(artifacts: Path) -> dict:
    try:
        return json.loads((artifacts / CONSUMED_FILE).read_text("utf-8"))
    except (OSError, ValueError):
        return {}


def record(artifacts: Path, what: str, fingerprint: str, **extra: object) -> None:
    """Remember that ``what`` (``build`` or ``docs``) succeeded with ``fingerprint``."""
    consumed = _read(artifacts)
    consumed[what] = {
        "fingerprint": fingerprint,
        "at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        **extra,
    }
    artifacts.mkdir(parents=True, exist_ok=True)
    path = artifacts / CONSUMED_FILE
    partial = path.with_suffix(".json.partial")
    partial.write_text(json.dumps(consumed, indent=1, sort_keys=True), "utf-8")
    os.replace(partial, path)


def forget(artifacts: Path, what: str) -> None:
    """Forget what ``what`` consumed (a build that failed or changed the warehouse
    partially: the next run builds again)."""
    consumed = _read(artifacts)
    if consumed.pop(what, None) is not None:
        path = artifacts / CONSUMED_FILE
        partial = path.with_suffix(".json.partial")
        partial.write_text(json.dumps(consumed, indent=1, sort_keys=True), "utf-8")
        os.replace(partial, path)


def consumed(artifacts: Path, what: str) -> dict | None:
    """What the last successful ``what`` consumed (None: never, or forgotten)."""
    entry = _read(artifacts).get(what)
    return entry if isinstance(entry, dict) else None


def up_to_date(artifacts: Path, what: str, fingerprint: str) -> bool:
    entry = consumed(artifacts, what)
    return entry is not None and entry.get("fingerprint") == fingerprint
