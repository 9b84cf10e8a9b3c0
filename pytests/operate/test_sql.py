"""``shoplake sql`` (issue 10, item 5): a read-only prompt and -c/--file mode on the
warehouse, tables listed, and a build never blocked by it."""

from __future__ import annotations

import csv
import io
import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

import duckdb
from cli_kit import run_shoplake, the_error_line

from shoplake.lake import Lake


def count(lake: Lake, table: str) -> int:
    con = duckdb.connect(str(lake.root / "warehouse.duckdb"), read_only=True)
    try:
        return con.execute(f"select count(*) from {table}").fetchall()[0][0]
    finally:
        con.close()


def test_command_and_file_mode_print_results(lake_copy: Lake, tmp_path: Path) -> None:
    orders = count(lake_copy, "fact_orders")
    result = run_shoplake(
        "sql", "--lake", str(lake_copy.root), "--csv",
        "-c", "select count(*) as n from fact_orders; select 'a,b' as text",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert list(csv.reader(io.StringIO(result.stdout))) == [["n"], [str(orders)], ["text"], ["a,b"]]

    script = tmp_path / "q.sql"
    script.write_text("select count(*) as n\nfrom fact_orders;\n")
    result = run_shoplake("sql", "--lake", str(lake_copy.root), "--file", str(script))
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[1:] == ["n", f"{orders:,}"]


def test_tables_are_listed(lake_copy: Lake) -> None:
    result = run_shoplake("sql", "--lake", str(lake_copy.root), "--tables")
    assert result.returncode == 0, result.stderr
    rows = [line.split("\t") for line in result.stdout.splitlines()[2:]]
    assert ["main", "fact_orders", "table"] in [r[:3] for r in rows]


def test_writing_is_refused_in_one_line_and_changes_nothing(lake_copy: Lake) -> None:
    before = count(lake_copy, "fact_orders")
    line = the_error_line(
        run_shoplake("sql", "--lake", str(lake_copy.root), "-c", "delete from fact_orders")
    )
    assert "read-only" in line
    assert count(lake_copy, "fact_orders") == before


def test_no_warehouse_is_one_line(tmp_path: Path) -> None:
    line = the_error_line(run_shoplake("sql", "--lake", str(tmp_path), "-c", "select 1"))
    assert "no warehouse at" in line
    assert "shoplake build" in line


def read_until(fd: int, stream, marker: str, timeout: float = 60) -> str:
    """What the child printed on ``stream`` up to and including ``marker``."""
    seen = ""
    deadline = time.monotonic() + timeout
    while marker not in seen:
        assert time.monotonic() < deadline, seen
        ready, _, _ = select.select([fd], [], [], 0.5)
        if ready:
            chunk = os.read(fd, 65536).decode()
            assert chunk, seen  # the child closed its output
            seen += chunk
    return seen


def test_an_open_prompt_never_blocks_a_build(lake_copy: Lake) -> None:
    master, terminal = pty.openpty()  # a terminal on stdin: the interactive prompt
    child = subprocess.Popen(
        [sys.executable, "-m", "shoplake.cli", "sql", "--lake", str(lake_copy.root)],
        stdin=terminal,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    os.close(terminal)
    out = child.stdout.fileno()
    try:
        opened = read_until(out, child.stdout, "shoplake> ")
        assert "fact_orders" in opened  # the tables, listed on start

        # the prompt is open; dbt opens the warehouse for writing whatever it selects
        build = run_shoplake("build", "--lake", str(lake_copy.root), "--select", "fact_orders")
        assert build.returncode == 0, build.stderr

        os.write(master, b"select count(*) as n\n")
        os.write(master, b"from fact_orders;\n")
        answer = read_until(out, child.stdout, "shoplake> ")
        assert f"n\n{count(lake_copy, 'fact_orders'):,}\n" in answer.replace("\r", "")
        os.write(master, b"drop table fact_orders;\n")
        assert "error: " in read_until(out, child.stdout, "shoplake> ")  # and it goes on
        os.write(master, b".quit\n")
        assert child.wait(timeout=30) == 0
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        os.close(master)
