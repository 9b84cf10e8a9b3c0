"""The command line reports failures as one line and exit code 1, never a traceback."""

from __future__ import annotations

from pathlib import Path

from cli_kit import run_shoplake


def test_a_storage_failure_is_one_line(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where the lake's parent directory should be")
    result = run_shoplake("ingest", "--lake", str(blocker / "lake"))
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("error: storage error:")
    assert str(blocker) in lines[0]


def test_debug_shows_the_traceback(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    result = run_shoplake("--debug", "ingest", "--lake", str(blocker / "lake"))
    assert result.returncode != 0
    assert "Traceback" in result.stderr
