"""A run that stalls past its S3 lock's TTL right after its last lease check publishes
nothing: the run that took the lock over has discarded its staging, so applying its
commit marker would run the deletes without the copies.

The stall is reproduced exactly: the lease check passes, and at that moment the other
run's recovery (which found no commit marker) removes the staged objects.
"""

from __future__ import annotations

import pytest
from s3lake_kit import get, keys, put

from shoplake.errors import LakeBusyError
from shoplake.ingest.transaction import Transaction, recover
from shoplake.lake import Lake
from shoplake.storage import Lease

OLD = "silver/orders/year=2026/month=10/day=01/data.parquet"
NEW = "silver/orders/year=2026/month=10/day=02/data.parquet"


class TakenOverAfterCheck(Lease):
    """Passes the check; meanwhile another run takes the lock over and recovers."""

    def __init__(self, lake: Lake) -> None:
        self.lake = lake

    def check(self) -> None:
        assert recover(self.lake) == ["discarded unfinished run run-a"]


def test_a_run_that_lost_its_lock_before_committing_publishes_nothing(
    lake_url: str, s3_bucket: str
) -> None:
    lake = Lake.at(lake_url)
    put(s3_bucket, f"shop/{OLD}", b"old partition")
    tx = Transaction(lake, "run-a", lease=TakenOverAfterCheck(lake))
    tx.stage_bytes(NEW, b"new partition")
    tx.delete(OLD)  # its rows moved to the new partition

    with pytest.raises(LakeBusyError, match="nothing was published"):
        tx.commit()

    assert get(s3_bucket, f"shop/{OLD}") == b"old partition"  # nothing lost
    assert f"shop/{NEW}" not in keys(s3_bucket, "shop/")
    assert not keys(s3_bucket, "shop/_state/txn/")  # no marker for a later recovery
    assert recover(lake) == []
