"""Least exposure on disk (issue 9, row 16): what ingest, build, the docs, the dashboard
and alerts create (silver with emails, names and IPs, quarantined raw records, the
warehouse, the site, the alerts ledger) is readable by its owner only, by default."""

from __future__ import annotations

from pathlib import Path

from run_kit import generated_lake, shoplake


def test_a_run_creates_nothing_that_group_or_others_can_read(tmp_path: Path) -> None:
    lake = generated_lake(tmp_path / "lake")
    result = shoplake("run", "--lake", str(lake.root))
    assert result.returncode == 0, result.stderr
    alerts = shoplake("alerts", "watch", "--once", "--lake", str(lake.root))
    assert alerts.returncode == 0, alerts.stderr

    root = lake.root
    expected = [
        root / "warehouse.duckdb",
        root / "site" / "dashboard.html",
        root / "_state" / "dbt" / "dev" / "target" / "manifest.json",
        root / "_state" / "dbt" / "dev" / "target" / "index.html",
        root / "_state" / "dbt" / "dev" / "logs" / "dbt.log",
        root / "_state" / "alerts",
        *root.glob("silver/*/year=*/month=*/day=*/*.parquet"),
        *root.glob("quarantine/*/year=*/**/*.parquet"),
    ]
    assert any("silver" in str(p) for p in expected)
    assert any("quarantine" in str(p) for p in expected)
    for path in expected:
        assert path.exists(), path
    exposed = [
        f"{oct(p.stat().st_mode & 0o777)} {p.relative_to(root)}"
        for p in [root, *root.rglob("*")]
        if p.stat().st_mode & 0o077
    ]
    assert not exposed, exposed
