"""The lake layout, defined once: zones, raw landing paths, silver partitions, state files.

A lake is a root directory with the zones ``raw/``, ``silver/``, ``quarantine/``,
``alerts/`` and ``_state/``. Every path the pipeline reads or writes is built here.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from shoplake.contract import DATASETS, Dataset
from shoplake.errors import ShoplakeError

RAW, SILVER, QUARANTINE, ALERTS, STATE = "raw", "silver", "quarantine", "alerts", "_state"

#: raw/<dataset>/YYYY/MM/DD[/HH]/<file>: the landing date (and hour) of a delivered file.
_LANDING = re.compile(
    r"^raw/(?P<dataset>[a-z_]+)/(?P<y>\d{4})/(?P<m>\d{2})/(?P<d>\d{2})/(?:(?P<h>\d{2})/)?[^/]+$"
)


@dataclass(frozen=True)
class Lake:
    """A lake rooted at a local directory."""

    root: Path

    @classmethod
    def at(cls, location: str | os.PathLike) -> Lake:
        text = str(location)
        if "://" in text:
            raise ShoplakeError(
                f"lake {text!r}: object-store lakes are not supported by this version",
                "use a local directory for --lake",
            )
        return cls(Path(text).expanduser().resolve())

    # zones -------------------------------------------------------------------------
    def zone(self, name: str) -> Path:
        return self.root / name

    def raw_dir(self, dataset: str) -> Path:
        return self.root / RAW / dataset

    def silver_dir(self, dataset: str) -> Path:
        return self.root / SILVER / dataset

    def quarantine_dir(self, dataset: str) -> Path:
        return self.root / QUARANTINE / dataset

    def state_dir(self, *parts: str) -> Path:
        return self.root.joinpath(STATE, *parts)

    # raw ---------------------------------------------------------------------------
    def landing_dir(self, dataset: str, landed: date | datetime) -> Path:
        """Where a file delivered at ``landed`` goes: raw/<dataset>/YYYY/MM/DD[/HH]."""
        ds = DATASETS[dataset]
        path = self.raw_dir(dataset) / f"{landed:%Y}" / f"{landed:%m}" / f"{landed:%d}"
        if ds.hourly:
            hour = landed.hour if isinstance(landed, datetime) else 0
            path = path / f"{hour:02d}"
        return path

    def raw_files(self, ds: Dataset) -> list[Path]:
        """Every delivered file of a dataset, in landing order (path order).

        Names starting with ``_`` or ``.`` are in-progress uploads and are ignored, as
        Spectrum and Athena do.
        """
        base = self.raw_dir(ds.name)
        if not base.is_dir():
            return []
        depth = 4 if ds.hourly else 3  # YYYY/MM/DD[/HH]
        files = []
        for path in base.glob("/".join(["*"] * (depth + 1))):
            if path.name.startswith(("_", ".")) or not path.is_file():
                continue
            if path.name.endswith(ds.extensions):
                files.append(path)
        return sorted(files, key=lambda p: self.relative(p))

    # silver ------------------------------------------------------------------------
    def partition_dir(self, dataset: str, day: date) -> Path:
        return self.silver_dir(dataset) / f"year={day:%Y}" / f"month={day:%m}" / f"day={day:%d}"

    def silver_glob(self, dataset: str) -> str:
        """Glob over every published silver file of a dataset (for DuckDB readers)."""
        return str(self.silver_dir(dataset) / "year=*" / "month=*" / "day=*" / "*.parquet")

    # quarantine and run logs -----------------------------------------------------------
    def quarantine_file(self, dataset: str, day: date, run_id: str) -> Path:
        """A run's rejects of one dataset, partitioned by the run's (UTC) date."""
        return self.quarantine_dir(dataset) / day_partition(day) / f"{run_id}.parquet"

    def run_log(self, run_id: str) -> Path:
        return self.state_dir("runs", f"{run_id}.json")

    # helpers -----------------------------------------------------------------------
    def relative(self, path: Path) -> str:
        """Path relative to the lake root with forward slashes (as stored in lineage)."""
        return path.relative_to(self.root).as_posix()

    def absolute(self, relative: str) -> Path:
        return self.root / relative


def day_partition(day: date) -> str:
    """The Hive partition path of a day: year=YYYY/month=MM/day=DD."""
    return f"year={day:%Y}/month={day:%m}/day={day:%d}"


def landing_time(relative_raw_path: str) -> datetime | None:
    """The landing date (and hour) encoded in a raw path, or None if it has none."""
    m = _LANDING.match(relative_raw_path)
    if not m:
        return None
    return datetime(int(m["y"]), int(m["m"]), int(m["d"]), int(m["h"] or 0))
