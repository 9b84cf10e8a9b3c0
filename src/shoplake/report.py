"""Terminal output: progress bars and tables on a terminal, plain lines otherwise."""

from __future__ import annotations

import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol


class Progress(Protocol):
    """What core modules call to report progress; they never print themselves."""

    def task(self, description: str, total: int) -> ProgressTask: ...


class ProgressTask(Protocol):
    def advance(self, amount: int = 1) -> None: ...


@dataclass
class Report:
    """A titled table of results plus free-form lines, printed by :class:`Console`."""

    title: str
    columns: Sequence[str]
    rows: Sequence[Sequence[Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


class _NullTask:
    def advance(self, amount: int = 1) -> None:
        pass


class NullProgress:
    """Progress that shows nothing (library use, tests)."""

    def task(self, description: str, total: int) -> _NullTask:
        return _NullTask()


class _PlainTask:
    def __init__(self, description: str, total: int) -> None:
        self.description, self.total, self.done = description, total, 0
        print(f"{description}: {total} to do", flush=True)

    def advance(self, amount: int = 1) -> None:
        self.done += amount
        if self.done == self.total:
            print(f"{self.description}: done", flush=True)


class PlainProgress:
    """One line when a task starts and one when it ends: for logs and pipes."""

    def task(self, description: str, total: int) -> _PlainTask:
        return _PlainTask(description, total)


class _RichTask:
    def __init__(self, bar: Any, task_id: Any) -> None:
        self.bar, self.task_id = bar, task_id

    def advance(self, amount: int = 1) -> None:
        self.bar.advance(self.task_id, amount)


class RichProgress:
    def __init__(self, bar: Any) -> None:
        self.bar = bar

    def task(self, description: str, total: int) -> _RichTask:
        return _RichTask(self.bar, self.bar.add_task(description, total=total))


class Console:
    """Prints reports: a rich table on a terminal, tab-separated lines otherwise."""

    def __init__(self, stream: Any = None) -> None:
        self.stream = stream or sys.stdout
        self.interactive = bool(getattr(self.stream, "isatty", lambda: False)())

    @contextmanager
    def progress(self) -> Iterator[Progress]:
        if not self.interactive:
            yield PlainProgress()
            return
        from rich.progress import BarColumn, MofNCompleteColumn, TimeElapsedColumn
        from rich.progress import Progress as RichBar

        with RichBar(
            "[progress.description]{task.description}",
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            transient=True,
        ) as bar:
            yield RichProgress(bar)

    def print_report(self, report: Report) -> None:
        if self.interactive:
            from rich.console import Console as RichConsole
            from rich.table import Table

            table = Table(title=report.title)
            for col in report.columns:
                table.add_column(col, justify="left" if col == report.columns[0] else "right")
            for row in report.rows:
                table.add_row(*(_cell(v) for v in row))
            out = RichConsole(file=self.stream)
            out.print(table)
            for note in report.notes:
                out.print(note)
            return
        print(report.title, file=self.stream)
        print("\t".join(report.columns), file=self.stream)
        for row in report.rows:
            print("\t".join(_cell(v) for v in row), file=self.stream)
        for note in report.notes:
            print(note, file=self.stream)


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.2f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return "" if value is None else str(value)
