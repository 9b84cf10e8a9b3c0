"""``shoplake sql``: query the DuckDB warehouse without ever blocking a build.

DuckDB lets no writer open a database file while any other process holds it open, even
read-only. So the warehouse is not queried in place: it is opened read-only just long
enough to copy it (the shared lock guarantees no build writes it meanwhile) into a
private temporary directory (mode 0700), and the copy is queried, read-only. A build
that starts while a prompt is open is not held up; the prompt keeps answering from the
snapshot it took (``.refresh`` takes a new one).
"""

from __future__ import annotations

import contextlib
import csv
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, TextIO

from shoplake.errors import translate
from shoplake.report import Report

#: Rows printed per statement in the table view (``--csv`` prints them all).
MAX_ROWS = 1000

TABLES_SQL = """
select schema_name as schema, table_name as name, 'table' as kind, estimated_size as rows
from duckdb_tables() where not internal
union all
select schema_name, view_name, 'view', null from duckdb_views() where not internal
order by schema, name
"""

HELP = (
    "end a statement with ';'. Commands: .tables (tables and views), .refresh (a new "
    "snapshot of the warehouse), .quit (or Ctrl-D). The snapshot is read-only."
)


@contextlib.contextmanager
def snapshot(path: Path) -> Iterator[Any]:
    """A read-only connection to a private copy of the warehouse file at ``path``."""
    import duckdb

    from shoplake.warehouse import open_read_only

    with tempfile.TemporaryDirectory(prefix="shoplake-sql-") as tmp:
        copy = Path(tmp) / path.name  # same name: the catalog keeps its name
        with open_read_only(path):  # a shared lock: no build writes the file meanwhile
            shutil.copyfile(path, copy)
            wal = path.with_name(path.name + ".wal")
            if wal.is_file():
                shutil.copyfile(wal, copy.with_name(copy.name + ".wal"))
        con = duckdb.connect(str(copy), read_only=True)
        try:
            yield con
        finally:
            con.close()


def tables(con: Any) -> Report:
    cursor = con.execute(TABLES_SQL)
    return Report(
        title="tables and views (rows: DuckDB's estimate)",
        columns=tuple(d[0] for d in cursor.description),
        rows=cursor.fetchall(),
    )


def run_script(con: Any, text: str) -> Iterator[tuple[str, list[str], list[tuple]]]:
    """Execute each statement of ``text``; yields (statement, columns, rows) for those
    that return rows. A failing statement raises (DuckDB's error)."""
    for statement in con.extract_statements(text):
        cursor = con.execute(statement.query)
        if cursor.description is None:
            continue
        yield (
            " ".join(statement.query.split()).rstrip(";"),
            [d[0] for d in cursor.description],
            cursor.fetchall(),
        )


def as_report(statement: str, columns: list[str], rows: list[tuple]) -> Report:
    shown = rows[:MAX_ROWS]
    notes = [f"({len(rows) - MAX_ROWS:,} more rows: use --csv)"] if len(rows) > MAX_ROWS else []
    title = statement if len(statement) <= 80 else statement[:77] + "..."
    return Report(title=f"{title} ({len(rows):,} rows)", columns=columns, rows=shown, notes=notes)


def write_csv(stream: TextIO, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    writer = csv.writer(stream, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows(rows)


def prompt(
    open_snapshot: Callable[[], contextlib.AbstractContextManager[Any]],
    read: Callable[[str], str],
    show: Callable[[Report], None],
    say: Callable[[str], None],
) -> None:
    """An interactive prompt: statements end with ';'; errors are one line and the prompt
    goes on. ``read`` raises EOFError at the end of input."""
    stack = contextlib.ExitStack()
    con = stack.enter_context(open_snapshot())
    show(tables(con))
    say(HELP)
    pending: list[str] = []
    try:
        while True:
            try:
                line = read("shoplake> " if not pending else "     ...> ")
            except EOFError:
                say("")
                return
            command = line.strip()
            if not pending and command in (".quit", ".exit"):
                return
            if not pending and command == ".tables":
                show(tables(con))
                continue
            if not pending and command == ".refresh":
                stack.close()
                stack = contextlib.ExitStack()
                con = stack.enter_context(open_snapshot())
                say("new snapshot taken")
                continue
            pending.append(line)
            if not command.endswith(";"):
                continue
            text, pending = "\n".join(pending), []
            try:
                for statement, columns, rows in run_script(con, text):
                    show(as_report(statement, columns, rows))
            except Exception as exc:
                error = translate(exc)
                if error is None:
                    raise
                say(f"error: {error.what}")
    finally:
        stack.close()
