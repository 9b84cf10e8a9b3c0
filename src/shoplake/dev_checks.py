"""The dbt project's developer checks, run with its profile set up: SQLFluff (dbt templater)
on given or changed SQL files, and ``dbt parse``; used by the pre-commit hooks, ``make
sql-lint`` / ``make dbt-parse`` and CI.

``python -m shoplake.dev_checks sqlfluff [--changed-since REF] [FILE ...]`` lints the
files given, or those under models/, tests/ and analyses/ changed since the git ``REF``,
or all of them; ``python -m shoplake.dev_checks dbt-parse`` parses the project. Neither
needs a lake: a scratch one in a temporary directory stands in (nothing is read).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

from shoplake.warehouse import profiles_dir, project_dir, run_dbt

#: Where the SQL that SQLFluff lints lives (the rest is excluded by .sqlfluffignore).
SQL_DIRS = ("models", "tests", "analyses")


@contextlib.contextmanager
def scratch_environment() -> Iterator[tuple[Path, dict[str, str]]]:
    """A temporary directory and the environment of a dbt command that reads no lake."""
    with tempfile.TemporaryDirectory(prefix="shoplake-dev-checks-") as tmp, profiles_dir() as pd:
        env = {
            **os.environ,
            "DBT_PROFILES_DIR": str(pd),
            "SHOPLAKE_LAKE": str(Path(tmp) / "lake"),
            "SHOPLAKE_DUCKDB_PATH": str(Path(tmp) / "check.duckdb"),
        }
        env.pop("SHOPLAKE_DEFER_DUCKDB", None)
        yield Path(tmp), env


def changed_sql(since: str, root: Path) -> list[str]:
    """The SQL files under :data:`SQL_DIRS` added or changed since the git ref ``since``."""
    proc = subprocess.run(
        ["git", "diff", "--name-only", "--diff-filter=ACMR", f"{since}...HEAD", "--", *SQL_DIRS],
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        reason = (proc.stderr.strip().splitlines() or ["git diff failed"])[-1]
        raise SystemExit(f"sql-lint: cannot list the SQL changed since {since}: {reason}")
    return [name for name in proc.stdout.split() if name.endswith(".sql")]


def sqlfluff(files: Sequence[str], since: str | None = None) -> int:
    root = project_dir()
    if since:
        files = changed_sql(since, root)
        if not files:
            print(f"sql-lint: no SQL under {', '.join(SQL_DIRS)} changed since {since}")
            return 0
    with scratch_environment() as (_, env):
        argv = [sys.executable, "-m", "sqlfluff", "lint", *(files or SQL_DIRS)]
        return subprocess.run(argv, cwd=root, env=env, check=False).returncode


def dbt_parse() -> int:
    with scratch_environment() as (tmp, env):
        lake = env["SHOPLAKE_LAKE"]
        run_env = {k: env[k] for k in ("SHOPLAKE_LAKE", "SHOPLAKE_DUCKDB_PATH")}
        run = run_dbt(["parse"], lake, "dev", env=run_env, artifacts=tmp / "dbt", quiet=True)
    if not run.success:
        sys.stderr.write(run.output)
    return run.returncode


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    lint = commands.add_parser("sqlfluff", help="SQLFluff lint of SQL files (dbt templater).")
    lint.add_argument("files", nargs="*", help="Files to lint (default: all, or --changed-since).")
    lint.add_argument("--changed-since", metavar="REF", help="Lint only SQL changed since REF.")
    commands.add_parser("dbt-parse", help="`dbt parse` of the project.")
    args = parser.parse_args(argv)
    if args.command == "sqlfluff":
        return sqlfluff(args.files, args.changed_since)
    return dbt_parse()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
