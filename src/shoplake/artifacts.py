"""``shoplake artifacts push|pull``: each target's dbt artifacts kept in the lake.

A build leaves ``manifest.json`` and ``run_results.json`` in its local artifacts
directory (:func:`shoplake.warehouse.artifacts_dir`). ``push`` copies them into the lake
at ``_state/dbt/<target>/`` (a local directory or S3, through :class:`shoplake.lake.Lake`),
``pull`` copies them from there into a directory, the ``--state DIR`` of a slim build
(``shoplake build --select state:modified+ --state DIR --defer``): a pull request's
build compares its project with production's manifest and reads what it does not build
from production's relations.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from shoplake.errors import ConfigError, StorageError, WarehouseError
from shoplake.lake import Lake
from shoplake.warehouse import TARGETS, artifacts_dir

#: The artifacts a slim build needs: the manifest to compare with (``state:modified``) and
#: defer to, and the run's results (``result:<status>`` selectors, the record of the run).
ARTIFACT_FILES = ("manifest.json", "run_results.json")


@dataclass(frozen=True)
class Copied:
    """What a push or pull copied: file names and sizes, from where to where."""

    source: str
    destination: str
    files: tuple[tuple[str, int], ...]

    def line(self) -> str:
        sizes = ", ".join(f"{name} ({size:,} bytes)" for name, size in self.files)
        return f"{sizes}: {self.source} -> {self.destination}"


def state_prefix(lake: Lake, target: str) -> str:
    """The lake key under which a target's artifacts are kept: ``_state/dbt/<target>``."""
    _check_target(target)
    return lake.state_key("dbt", target)


def push(lake: Lake, target: str = "dev", *, source: Path | None = None) -> Copied:
    """Copy the last build's artifacts of ``target`` (from ``source``, default its local
    artifacts directory's ``target/``) into the lake; each file is one atomic write."""
    folder = Path(source) if source else artifacts_dir(lake, target) / "target"
    prefix = state_prefix(lake, target)
    payloads: list[tuple[str, bytes]] = []
    for name in ARTIFACT_FILES:
        path = folder / name
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise WarehouseError(
                f"no {name} in {folder}: nothing to push for target {target!r}",
                f"run `shoplake build --target {target}` for this lake first",
                step="artifacts",
                target=target,
            ) from None
        _check_json(data, str(path))
        payloads.append((name, data))
    # The manifest last: a reader that finds it finds the run results of the same build.
    for name, data in sorted(payloads, key=lambda item: item[0] == "manifest.json"):
        lake.write_atomic(lake.key(prefix, name), data)
    return Copied(str(folder), lake.url(prefix), tuple((n, len(d)) for n, d in payloads))


def pull(lake: Lake, target: str, to: Path) -> Copied:
    """Copy a target's artifacts from the lake into the directory ``to`` (created)."""
    prefix = state_prefix(lake, target)
    keys = [lake.key(prefix, name) for name in ARTIFACT_FILES]
    missing = [key for key in keys if not lake.exists(key)]
    if missing:
        raise StorageError(
            f"no dbt artifacts of target {target!r} in {lake.url(prefix)} "
            f"(missing {', '.join(k.rsplit('/', 1)[-1] for k in missing)})",
            f"build {target} and run `shoplake artifacts push --target {target}` first",
            location=lake.url(prefix),
        )
    to = Path(to)
    to.mkdir(parents=True, exist_ok=True)
    files: list[tuple[str, int]] = []
    for key, data in lake.read_many(keys):
        name = key.rsplit("/", 1)[-1]
        _check_json(data, lake.url(key))
        partial = to / f".{name}.partial"
        partial.write_bytes(data)
        os.replace(partial, to / name)
        files.append((name, len(data)))
    files.sort(key=lambda item: ARTIFACT_FILES.index(item[0]))
    return Copied(lake.url(prefix), str(to), tuple(files))


def _check_target(target: str) -> None:
    if target not in TARGETS:
        raise ConfigError(
            f"unknown target {target!r}", f"use one of {', '.join(TARGETS)}", setting="target"
        )


def _check_json(data: bytes, where: str) -> None:
    try:
        json.loads(data)
    except ValueError:
        raise StorageError(
            f"{where} is not a dbt artifact (not JSON)",
            "build the target again and push",
            location=where,
        ) from None
