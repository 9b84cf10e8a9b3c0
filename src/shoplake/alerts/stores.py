"""Which clickstream files the alerts look at, on any lake (a directory or S3).

All I/O goes through :class:`shoplake.lake.Lake`; this module only adds what alerts need
on top: which keys are complete clickstream deliveries, and a cheap *recent* listing.

Raw paths carry the landing hour, so a file that lands now goes under the current hour's
folder. A recent listing reads only the folders of the previous, current and next hour
(three directory reads or S3 LISTs, however old the lake); a full listing walks every
landing folder and catches files dropped into older
ones. The watcher does a full listing at start-up and every ``--sweep`` seconds.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta, timezone
from pathlib import Path

from shoplake.contract import CLICKSTREAM
from shoplake.lake import RAW, Lake, landing_time
from shoplake.storage import HIDDEN_PREFIXES, Entry

#: Hours before and after the current one that a recent listing reads.
RECENT_HOURS = (-1, 0, 1)
STATE_ENV = "SHOPLAKE_ALERTS_STATE"

#: raw/clickstream: deliveries sit at <it>/YYYY/MM/DD/HH/<name>.
CLICKSTREAM_DIR = Lake.key(RAW, CLICKSTREAM.name)
_DELIVERY_DEPTH = CLICKSTREAM_DIR.count("/") + 5


def is_landed(key: str) -> bool:
    """A complete clickstream delivery (as :meth:`Lake.list_raw` counts them): in an hourly
    landing folder, with a clickstream extension, and no ``_``/``.`` name on the way
    (those are uploads in progress, which Spectrum and Athena skip too)."""
    parts = key.split("/")
    return (
        key.startswith(CLICKSTREAM_DIR + "/")
        and key.count("/") == _DELIVERY_DEPTH
        and landing_time(key) is not None
        and not any(p.startswith(HIDDEN_PREFIXES) for p in parts[2:])
        and key.endswith(CLICKSTREAM.extensions)
    )


def list_landed(lake: Lake, recent_at: datetime | None = None) -> list[Entry]:
    """Landed clickstream files in key order: all, or those of the hours around
    ``recent_at``."""
    if recent_at is None:
        prefixes = [CLICKSTREAM_DIR]
    else:
        hour = recent_at.astimezone(timezone.utc).replace(
            minute=0, second=0, microsecond=0, tzinfo=None
        )
        prefixes = [
            lake.landing_prefix(CLICKSTREAM.name, hour + timedelta(hours=offset))
            for offset in RECENT_HOURS
        ]
    return [e for prefix in prefixes for e in lake.list(prefix + "/") if is_landed(e.key)]


def landed_at(entry: Entry) -> float | None:
    """When a file landed (epoch seconds): its modification time on a local lake; None
    on S3, whose listing carries an ETag rather than a time."""
    return entry.version / 1e9 if isinstance(entry.version, int) else None


def state_dir_for(lake: Lake, explicit: str | os.PathLike | None = None) -> Path:
    """The ledger's folder: ``explicit``, else SHOPLAKE_ALERTS_STATE, else
    ``_state/alerts`` of the lake's local directory (the lake itself, or for an S3 lake
    its local working directory: SQLite needs a local file)."""
    chosen = explicit or os.environ.get(STATE_ENV)
    if chosen:
        return Path(chosen).expanduser()
    return lake.local_dir / lake.state_key("alerts")
