"""Raw files put where the contract says they land: raw/<dataset>/YYYY/MM/DD[/HH]/<name>.

For tests and benchmarks that play a source system on a local lake: :func:`land_file`
drops one file as a source delivers it, :func:`land` delivers a generated lake's raw files
into another lake, the days before a cutoff first (history), then the rest.
"""

from __future__ import annotations

import codecs
import gzip
import os
import shutil
from datetime import date, datetime
from pathlib import Path

from shoplake.lake import RAW, Lake, landing_time

__all__ = ["land", "land_file"]


def land_file(
    lake: Lake,
    dataset: str,
    when: str | date | datetime,
    name: str,
    content: str | bytes,
    *,
    gz: bool = False,
    bom: bool = False,
) -> Path:
    """Drop a raw file at raw/<dataset>/YYYY/MM/DD[/HH]/<name>[.gz] as a source would.

    ``when`` is the delivery time (an ISO string, a date or a datetime; the hour counts
    for hourly datasets); text is written as UTF-8, after a BOM with ``bom``, and
    gzip-compressed (with a fixed mtime, so the bytes are reproducible) with ``gz``."""
    if isinstance(when, str):
        when = datetime.fromisoformat(when)
    data = content.encode("utf-8") if isinstance(content, str) else content
    if bom:
        data = codecs.BOM_UTF8 + data
    if gz:
        data = gzip.compress(data, mtime=0)
        if not name.endswith(".gz"):
            name += ".gz"
    path = lake.landing_dir(dataset, when) / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def land(source: Lake, lake: Lake, before: date | None = None, *, link: bool = False) -> int:
    """Deliver the raw files of ``source`` that landed before ``before`` (all of them with
    None) into ``lake`` at the same keys, as the source systems would have day by day;
    returns how many were new. A file already in ``lake`` is left as it is. With
    ``link``, files are hard-linked where the file system allows it (else copied)."""
    delivered = 0
    for path in sorted((source.root / RAW).rglob("*")):
        if not path.is_file():
            continue
        relative = source.relative(path)
        landed = landing_time(relative)
        if before is not None and (landed is None or landed.date() >= before):
            continue
        target = lake.absolute(relative)
        if target.exists():
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        if link:
            try:
                os.link(path, target)
            except OSError:
                shutil.copy2(path, target)
        else:
            shutil.copy2(path, target)
        delivered += 1
    return delivered
