"""`make demo` keeps to its own directory: it never deletes a lake it did not make."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from shoplake.warehouse import project_dir


def test_make_demo_refuses_a_directory_it_did_not_make(tmp_path: Path) -> None:
    users = tmp_path / "my-lake"
    (users / "raw" / "orders").mkdir(parents=True)
    own = users / "raw" / "orders" / "mine.csv"
    own.write_text("order_id\nO1\n")
    make = shutil.which("make")
    assert make, "make is needed to run make demo"
    result = subprocess.run(
        [make, "-s", "-C", str(project_dir()), "demo", f"DEMO_LAKE={users}"],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode != 0
    assert f"{users} exists and was not made by make demo" in result.stderr
    assert own.read_text() == "order_id\nO1\n"
    assert sorted(p.name for p in users.rglob("*")) == ["mine.csv", "orders", "raw"]


def test_make_demo_defaults_to_its_own_directory() -> None:
    result = subprocess.run(
        ["make", "-n", "-C", str(project_dir()), "demo"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "--lake demo-lake" in result.stdout
    assert "rm -rf demo-lake" in result.stdout
    assert "rm -rf lake" not in result.stdout
