"""What the daily Glue job runs, uploaded by deploy: the shoplake wheel and the dbt project.

Each asset is named by a digest of its content, so an unchanged asset is found where the
last deploy put it (no change), and a changed one is a new object, and so a visible
change of the job's arguments; nothing is overwritten. The digests cover what the files
hold, not the archive's timestamps: a wheel rebuilt from the same sources, or the same
project archived again, keeps its name.

* **The wheel**: ``--wheel PATH`` (a wheel you built, e.g. in CI), or else built from the
  source checkout shoplake runs from (``pip wheel --no-deps``, in a scratch copy of the
  checkout so that no ``build/`` directory is left in it). Glue installs it with
  ``--additional-python-modules``, on the driver and on every worker, which the Spark
  engine needs: its executors validate with shoplake's own code.
* **The dbt project**: ``dbt_project.yml``, the profile template and every directory the
  project names (models, macros, tests, seeds, analyses, snapshots), as a zip. The wheel
  holds the package only; the job's entry script unpacks the project and points
  ``SHOPLAKE_DBT_PROJECT_DIR`` at it.
"""

from __future__ import annotations

import functools
import hashlib
import io
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import yaml

import shoplake
from shoplake.errors import ConfigError
from shoplake.files import reproducible_zip
from shoplake.warehouse import PROFILE_TEMPLATE

#: The project settings naming directories a dbt run reads.
PROJECT_PATH_SETTINGS = (
    "model-paths",
    "macro-paths",
    "test-paths",
    "seed-paths",
    "analysis-paths",
    "snapshot-paths",
)
_SKIPPED_PARTS = {"__pycache__", "target", "logs", "dbt_packages", "build"}


@dataclass(frozen=True)
class JobAsset:
    """One file the job needs, with the processed-bucket key its content names."""

    key: str
    data: bytes
    content_type: str

    @property
    def name(self) -> str:
        return self.key.rsplit("/", 1)[-1]


def content_digest(entries: Iterable[tuple[str, bytes]]) -> str:
    """A short SHA-256 of (name, content) pairs, in name order."""
    digest = hashlib.sha256()
    for name, data in sorted(entries):
        digest.update(name.encode() + b"\0" + hashlib.sha256(data).digest())
    return digest.hexdigest()[:16]


def zip_entries(data: bytes) -> list[tuple[str, bytes]]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return [(i.filename, archive.read(i)) for i in archive.infolist() if not i.is_dir()]


# the wheel ---------------------------------------------------------------------------------


def source_checkout() -> Path | None:
    """The checkout shoplake runs from (its ``pyproject.toml`` names the project
    ``shoplake``), or None for an installed package."""
    root = Path(shoplake.__file__).resolve().parents[2]
    pyproject = root / "pyproject.toml"
    if not pyproject.is_file() or not (root / "src" / "shoplake").is_dir():
        return None
    return root if 'name = "shoplake"' in pyproject.read_text("utf-8") else None


def _files_under(root: Path, folder: str) -> list[Path]:
    """The files under ``root/folder`` a build reads: no caches, build output or
    bytecode."""
    out = []
    for path in sorted((root / folder).rglob("*")):
        parts = path.relative_to(root).parts
        skipped = set(parts) & _SKIPPED_PARTS or any(p.endswith(".egg-info") for p in parts)
        if path.is_file() and not skipped and path.suffix != ".pyc":
            out.append(path)
    return out


def _source_files(root: Path) -> list[Path]:
    files = [root / "pyproject.toml", root / "README.md", *_files_under(root, "src")]
    return [f for f in files if f.is_file()]


@functools.cache
def _built_wheel(root: Path, sources: str) -> tuple[str, bytes]:
    """The wheel of ``root`` (``sources``: the digest of its files, the cache's key)."""
    with tempfile.TemporaryDirectory(prefix="shoplake-wheel-") as tmp:
        copy = Path(tmp) / "src-copy"
        for path in _source_files(root):
            target = copy / path.relative_to(root)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)
        out = Path(tmp) / "dist"
        built = subprocess.run(
            [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(out), "."],
            cwd=copy,
            capture_output=True,
            text=True,
            check=False,
            env={**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"},
        )
        wheels = sorted(out.glob("shoplake-*.whl"))
        if built.returncode != 0 or not wheels:
            last = (built.stderr.strip().splitlines() or ["no wheel written"])[-1]
            raise ConfigError(
                f"cannot build the shoplake wheel from {root}: {last}",
                "build one yourself (pip wheel --no-deps . -w dist) and pass --wheel PATH",
                setting="wheel",
            )
        return wheels[-1].name, wheels[-1].read_bytes()


def shoplake_wheel(prefix: str, wheel: Path | None = None) -> JobAsset:
    """The shoplake wheel the job installs: ``wheel``, else one built from the checkout.
    Its key: ``<prefix>/wheels/<digest>/<the wheel's file name>`` (pip needs the name)."""
    if wheel is not None:
        if not wheel.is_file() or not wheel.name.startswith("shoplake-"):
            raise ConfigError(
                f"{wheel} is not a shoplake wheel file",
                "pass the path of a shoplake-<version>-py3-none-any.whl",
                setting="wheel",
            )
        name, data = wheel.name, wheel.read_bytes()
    else:
        root = source_checkout()
        if root is None:
            raise ConfigError(
                "shoplake is installed as a package, so deploy cannot build its wheel",
                "pass --wheel PATH (a shoplake wheel; pip download shoplake --no-deps "
                "fetches one), or run deploy from a checkout of the repository",
                setting="wheel",
            )
        sources = content_digest(
            (p.relative_to(root).as_posix(), p.read_bytes()) for p in _source_files(root)
        )
        name, data = _built_wheel(root, sources)
    try:
        entries = zip_entries(data)
    except zipfile.BadZipFile as exc:
        raise ConfigError(
            f"{name} is not a wheel (not a zip file)", "pass a wheel file", setting="wheel"
        ) from exc
    return JobAsset(f"{prefix}/wheels/{content_digest(entries)}/{name}", data, "application/zip")


# the dbt project ---------------------------------------------------------------------------


def project_files(project: Path) -> list[tuple[str, bytes]]:
    """(path in the archive, content) of every file a dbt run of ``project`` reads."""
    settings = yaml.safe_load((project / "dbt_project.yml").read_text("utf-8")) or {}
    out = [("dbt_project.yml", (project / "dbt_project.yml").read_bytes())]
    if (project / PROFILE_TEMPLATE).is_file():
        out.append((PROFILE_TEMPLATE, (project / PROFILE_TEMPLATE).read_bytes()))
    for setting in PROJECT_PATH_SETTINGS:
        for folder in settings.get(setting) or []:
            for path in _files_under(project, folder):
                out.append((path.relative_to(project).as_posix(), path.read_bytes()))
    return sorted(set(out))


def dbt_project_archive(prefix: str, project: Path) -> JobAsset:
    """The dbt project as a zip, keyed ``<prefix>/dbt-project-<digest>.zip``."""
    entries = project_files(project)
    return JobAsset(
        f"{prefix}/dbt-project-{content_digest(entries)}.zip",
        reproducible_zip(entries),
        "application/zip",
    )
