"""``shoplake validate FILE...``: what ingest would do with each file, writing nothing.

The dataset comes from the file's path in a lake (``.../raw/<dataset>/YYYY/MM/DD/...``)
or from ``--dataset`` for a file anywhere else; the file is then read and validated by
the ingest engine itself (:class:`shoplake.ingest.engine.Checker`: the same readers, the
same validation SQL) on an in-memory DuckDB, so the verdict is ingest's: the records,
and each reject with its line and every rule it breaks. Nothing is written: no lake, no
manifest, no temporary file.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import duckdb

from shoplake.contract import DATASETS, Dataset, Format
from shoplake.errors import ConfigError, ContractError
from shoplake.ingest.engine import Checker
from shoplake.ingest.readers import FileRejected, decode
from shoplake.lake import RAW, is_landed, stray_file
from shoplake.quarantine import printable
from shoplake.storage import HIDDEN_PREFIXES, Entry


@dataclass
class Reject:
    line: int | None  # None: the whole file
    reasons: list[dict[str, str | None]]
    unit: str = "line"  # "record" for a JSON page: the position in its array

    def text(self) -> str:
        where = f"{self.unit} {self.line}" if self.line is not None else "whole file"
        rules = "; ".join(
            f"{r['reason']}"
            + (f" ({r['field']})" if r.get("field") else "")
            + f": {printable(r.get('detail') or '')}"
            for r in self.reasons
        )
        return f"  {where}: {rules}"


@dataclass
class Verdict:
    path: Path
    dataset: str | None
    how: str  # how the dataset was found ("by its path", "--dataset")
    records: int = 0
    rejects: list[Reject] = field(default_factory=list)
    extra_columns: int = 0
    not_read: str | None = None  # why ingest would not read the file at all

    @property
    def ok(self) -> bool:
        return self.not_read is None and not self.rejects

    def lines(self) -> list[str]:
        if self.not_read is not None:
            return [f"{self.path}: NOT READ by ingest: {self.not_read}"]
        head = f"{self.path}: {self.dataset} ({self.how})"
        if self.rejects and self.rejects[0].line is None:
            return [f"{head}, rejected as a whole file (quarantined):", self.rejects[0].text()]
        valid = self.records - len(self.rejects)
        out = [
            f"{head}, {self.records} record(s): {valid} valid, {len(self.rejects)} rejected"
            + (" (quarantined by ingest)" if self.rejects else "")
        ]
        if self.extra_columns:
            out.append(f"  {self.extra_columns} unknown column(s) ignored")
        out += [r.text() for r in self.rejects]
        return out


def dataset_of(path: Path) -> tuple[Dataset | None, str | None]:
    """The dataset of a file by its place under a lake's ``raw/``, or why it has none
    there: ``(dataset, None)``, ``(None, why ingest would not read it)`` or
    ``(None, None)`` when the path is not under any ``raw/`` folder."""
    parts = path.absolute().parts
    for i in range(len(parts) - 2, -1, -1):
        if parts[i] != RAW:
            continue
        key = "/".join((RAW, *parts[i + 1 :]))
        if any(p.startswith(HIDDEN_PREFIXES) for p in parts[i + 1 :]):
            return None, "its name starts with _ or . (an upload in progress: ingest skips it)"
        for ds in DATASETS.values():
            if is_landed(ds, key):
                return ds, None
        stray = stray_file(Entry(key, 0, 0))
        hint = f"; closest dataset: {stray.closest}" if stray.closest else ""
        return None, f"{stray.problem} (expected {stray.expected}{hint})"
    return None, None


def validate_files(
    paths: list[Path], dataset: str | None = None, now: datetime | None = None
) -> list[Verdict]:
    """What ingest would do with each file. A file that cannot be looked at (missing, a
    folder, no dataset to judge it by) is a one-line error before any is read."""
    forced = None
    if dataset is not None:
        forced = DATASETS.get(dataset)
        if forced is None:
            raise ConfigError(
                f"no dataset {dataset!r}", f"datasets are {', '.join(DATASETS)}", setting="dataset"
            )
    plan: list[tuple[Path, Dataset | None, str, str | None]] = []
    for path in paths:
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            raise ContractError(f"{path}: no such file", "check the path", file=str(path)) from None
        except OSError as exc:
            raise ContractError(
                f"{path}: cannot read it ({exc.strerror})", "", file=str(path)
            ) from None
        if stat.S_ISDIR(st.st_mode):
            raise ContractError(
                f"{path} is a folder", "give the files in it, e.g. DIR/*", file=str(path)
            ) from None
        ds, not_read = dataset_of(path)
        if forced is not None:
            plan.append((path, forced, "--dataset", None))
        elif ds is not None or not_read is not None:
            plan.append((path, ds, "by its path", not_read))
        else:
            raise ContractError(
                f"cannot tell the dataset of {path}: it is not under raw/<dataset>/ of a lake",
                f"pass --dataset ({', '.join(DATASETS)})",
                file=str(path),
            )
    moment = (now or datetime.now(timezone.utc)).astimezone(timezone.utc).replace(tzinfo=None)
    con = duckdb.connect()
    try:
        con.execute("SET TimeZone = 'UTC'")
        checker = Checker(con, moment)
        return [_judge(checker, p, ds, how, not_read) for p, ds, how, not_read in plan]
    finally:
        con.close()


def _judge(
    checker: Checker, path: Path, ds: Dataset | None, how: str, not_read: str | None
) -> Verdict:
    verdict = Verdict(path, ds.name if ds else None, how, not_read=not_read)
    if ds is None or not_read is not None:
        return verdict
    try:
        data = _read_regular(path)
        data = decode(data, path.name)
        checker.start(ds)
        verdict.extra_columns = checker.load_file(ds, str(path), data).extra_columns
    except FileRejected as rejected:
        verdict.rejects.append(
            Reject(None, [{"reason": rejected.reason, "field": None, "detail": rejected.detail}])
        )
        return verdict
    checker.check(ds)
    verdict.records = checker.count("select count(*) from checked")
    unit = "record" if ds.format is Format.JSON else "line"
    verdict.rejects = [
        Reject(line, reasons, unit)
        for line, reasons in checker.sql(
            "select source_line, reasons from checked where reason is not null order by source_line"
        )
    ]
    return verdict


def _read_regular(path: Path) -> bytes:
    """The file's bytes, opened without following a final link (ingest never reads a link
    or a special file: it quarantines them as ``not_a_regular_file``)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as exc:
        if os.path.islink(path):
            raise FileRejected(
                "not_a_regular_file", f"{path} is a symlink, not a regular file"
            ) from exc
        raise ContractError(
            f"{path}: cannot read it ({exc.strerror})", "", file=str(path)
        ) from None
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
            raise FileRejected("not_a_regular_file", f"{path} is not a regular file")
        return f.read()
