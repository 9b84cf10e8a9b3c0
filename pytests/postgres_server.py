"""Start and stop a throwaway PostgreSQL server on 127.0.0.1 (tests and scripts).

The server is real (the Debian ``postgresql`` package's binaries), private to the
process that starts it and thrown away when it stops:

* binaries: the newest ``/usr/lib/postgresql/<version>/bin``, else ``pg_ctl`` on PATH;
* data directory in a fresh temporary directory, made with ``initdb --no-sync``;
* listens on 127.0.0.1 only, on a free TCP port, no Unix socket, trust authentication
  (it is reachable only from this machine and holds only test data);
* durability switched off (``fsync``, ``synchronous_commit``, ``full_page_writes``) for
  speed: start-up takes about a second;
* as root (CI), ``initdb`` and ``pg_ctl`` refuse to run, so they run as the ``postgres``
  OS user (created by the Debian package) through ``runuser`` (or ``su``), and the
  temporary directory is handed to that user.

A server left behind by a process that died without stopping it (SIGKILL, a CI
timeout) is stopped and removed by the next :func:`start_server` on the machine.

Use from Python::

    with start_server() as server:
        dsn = server.create_database("scratch")

or from a shell (prints the DSN, stops on Ctrl-C or SIGTERM)::

    python pytests/postgres_server.py
"""

from __future__ import annotations

import atexit
import contextlib
import os
import pwd
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from psycopg import sql
from psycopg.conninfo import make_conninfo

#: Temporary directories of servers started here are named <tempdir>/<PREFIX><tag>-...
PREFIX = "shoplake-pg-"
#: Database superuser created by initdb.
SUPERUSER = "postgres"
#: OS user that runs the server when this process is root.
OS_USER_WHEN_ROOT = "postgres"
HOST = "127.0.0.1"

#: Appended to postgresql.conf: local only, fast, quiet. Durability is off on purpose.
SERVER_SETTINGS: dict[str, str] = {
    "listen_addresses": f"'{HOST}'",
    "unix_socket_directories": "''",
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "wal_level": "minimal",
    "max_wal_senders": "0",
    "shared_buffers": "64MB",
    "max_connections": "50",
    "logging_collector": "off",
    "log_min_messages": "warning",
    "log_min_error_statement": "panic",
}


class PostgresUnavailable(RuntimeError):
    """The server could not be found, initialised or started (message says why)."""


def find_bindir() -> Path:
    """The newest /usr/lib/postgresql/<version>/bin, else the directory of pg_ctl on PATH."""

    def version(path: Path) -> tuple[int, ...]:
        return tuple(int(p) for p in re.findall(r"\d+", path.parent.parent.name))

    installed = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"), key=version)
    if installed:
        return installed[-1].parent
    on_path = shutil.which("pg_ctl")
    if on_path:
        return Path(on_path).resolve().parent
    raise PostgresUnavailable(
        "PostgreSQL server binaries (initdb, pg_ctl) not found in /usr/lib/postgresql/*/bin "
        "or on PATH; install them with `make postgres` (scripts/ensure_postgres.sh) or "
        "`apt-get install postgresql`"
    )


def free_port() -> int:
    """A TCP port that is free on 127.0.0.1 right now (the caller retries on a race)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def _run_as_prefix() -> tuple[list[str], pwd.struct_passwd | None]:
    """Command prefix that runs a server binary as a non-root user, and that user."""
    if os.geteuid() != 0:
        return [], None
    try:
        user = pwd.getpwnam(OS_USER_WHEN_ROOT)
    except KeyError:
        raise PostgresUnavailable(
            f"running as root, and PostgreSQL refuses to run as root, but there is no "
            f"{OS_USER_WHEN_ROOT!r} OS user to run it as; install the Debian postgresql "
            f"package (it creates the user) or run the tests as a normal user"
        ) from None
    runuser = shutil.which("runuser")
    if runuser:
        return [runuser, "-u", user.pw_name, "--"], user
    su = shutil.which("su")
    if su:
        return [su, "-s", "/bin/sh", user.pw_name, "-c"], user  # command joined below
    raise PostgresUnavailable("running as root and neither runuser nor su is available")


def _clean_env() -> dict[str, str]:
    """The environment without libpq/server variables (PGDATA, PGPORT, ...) and locale."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PG", "LC_"))}
    env["LANG"] = "C"
    return env


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@dataclass
class PostgresServer:
    """A running throwaway server; :meth:`stop` ends it and deletes its files."""

    bindir: Path
    base: Path  # temporary directory: data/, server.log, owner.pid
    port: int
    run_as: list[str] = field(default_factory=list)
    stopped: bool = False

    @property
    def host(self) -> str:
        return HOST

    @property
    def user(self) -> str:
        return SUPERUSER

    @property
    def datadir(self) -> Path:
        return self.base / "data"

    @property
    def logfile(self) -> Path:
        return self.base / "server.log"

    # connection strings -------------------------------------------------------------
    def conninfo(self, dbname: str = "postgres") -> dict[str, str | int]:
        """Connection parameters (e.g. for a dbt profile)."""
        return {"host": HOST, "port": self.port, "user": SUPERUSER, "dbname": dbname}

    def dsn(self, dbname: str = "postgres") -> str:
        """libpq key=value DSN for a database of this server."""
        return make_conninfo(**self.conninfo(dbname))  # type: ignore[arg-type]

    def url(self, dbname: str = "postgres") -> str:
        return f"postgresql://{SUPERUSER}@{HOST}:{self.port}/{dbname}"

    # databases ----------------------------------------------------------------------
    def create_database(self, name: str) -> str:
        """Create an empty database (from template1) and return its DSN."""
        with psycopg.connect(self.dsn(), autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return self.dsn(name)

    def drop_database(self, name: str) -> None:
        """Drop a database, disconnecting whoever is still connected to it."""
        with psycopg.connect(self.dsn(), autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )

    # life cycle -----------------------------------------------------------------------
    def _cmd(self, *args: str | os.PathLike[str]) -> list[str]:
        argv = [str(a) for a in args]
        if self.run_as and self.run_as[-1] == "-c":  # su: one shell command string
            return [*self.run_as, shlex.join(argv)]
        return [*self.run_as, *argv]

    def _run(self, *args: str | os.PathLike[str], timeout: float = 60) -> None:
        cmd = self._cmd(*args)
        proc = subprocess.run(
            cmd,
            cwd=self.base,  # the server user may not be able to read the caller's cwd
            env=_clean_env(),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if proc.returncode != 0:
            out = (proc.stdout + proc.stderr).strip()
            raise PostgresUnavailable(
                f"`{shlex.join(str(a) for a in args)}` failed with exit code "
                f"{proc.returncode}: {out}{self._log_excerpt()}"
            )

    def _log_excerpt(self, lines: int = 15) -> str:
        try:
            text = self.logfile.read_text("utf-8", errors="replace").strip().splitlines()
        except OSError:
            return ""
        return ("\nserver log:\n" + "\n".join(text[-lines:])) if text else ""

    def log_tail(self, lines: int = 30) -> str:
        return self._log_excerpt(lines)

    def stop(self) -> None:
        """Stop the server (immediate shutdown: nothing to keep) and delete its files."""
        if self.stopped:
            return
        self.stopped = True
        try:
            if (self.datadir / "postmaster.pid").exists():
                self._run(
                    self.bindir / "pg_ctl", "-D", self.datadir, "-m", "immediate", "-w", "stop"
                )
        except (PostgresUnavailable, subprocess.TimeoutExpired, OSError):
            _kill_postmaster(self.datadir)
        finally:
            shutil.rmtree(self.base, ignore_errors=True)

    def __enter__(self) -> PostgresServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _kill_postmaster(datadir: Path) -> None:
    """Last resort: SIGQUIT (immediate shutdown) to the postmaster named in postmaster.pid."""
    try:
        pid = int((datadir / "postmaster.pid").read_text().split()[0])
        os.kill(pid, signal.SIGQUIT)
    except (OSError, ValueError, IndexError):
        pass


def cleanup_stale_servers() -> int:
    """Stop and delete servers whose starting process has died; returns how many."""
    cleaned = 0
    for base in Path(tempfile.gettempdir()).glob(PREFIX + "*"):
        try:
            owner = int((base / "owner.pid").read_text().strip())
        except (OSError, ValueError):
            continue  # being created right now, or not ours
        if _pid_alive(owner):
            continue
        prefix, _ = _run_as_prefix()
        server = PostgresServer(find_bindir(), base, port=0, run_as=prefix)
        server.stop()
        cleaned += 1
    return cleaned


def start_server(tag: str = "", *, timeout: float = 60, attempts: int = 3) -> PostgresServer:
    """Initialise and start a server; raises :class:`PostgresUnavailable` with the reason.

    ``tag`` goes into the temporary directory's name (e.g. the pytest-xdist worker id).
    The server is also stopped at interpreter exit if the caller forgets.
    """
    bindir = find_bindir()
    run_as, os_user = _run_as_prefix()
    with contextlib.suppress(Exception):
        cleanup_stale_servers()
    safe_tag = re.sub(r"[^A-Za-z0-9_]", "_", tag)
    base = Path(tempfile.mkdtemp(prefix=f"{PREFIX}{safe_tag}-" if safe_tag else PREFIX))
    if os_user is not None:
        os.chown(base, os_user.pw_uid, os_user.pw_gid)
    server = PostgresServer(bindir, base, port=0, run_as=run_as)
    atexit.register(server.stop)
    try:
        (base / "owner.pid").write_text(str(os.getpid()))
        server._run(
            bindir / "initdb",
            "-D",
            server.datadir,
            "-U",
            SUPERUSER,
            "--auth=trust",
            "--encoding=UTF8",
            "--no-locale",
            "--no-sync",
            "--no-instructions",
            timeout=timeout,
        )
        conf = server.datadir / "postgresql.conf"
        with conf.open("a", encoding="utf-8") as f:
            f.write("\n# shoplake test server\n")
            f.writelines(f"{k} = {v}\n" for k, v in SERVER_SETTINGS.items())
        for attempt in range(1, attempts + 1):
            server.port = free_port()
            with conf.open("a", encoding="utf-8") as f:
                f.write(f"port = {server.port}\n")  # the last setting wins
            try:
                server._run(
                    bindir / "pg_ctl",
                    "-D",
                    server.datadir,
                    "-l",
                    server.logfile,
                    "-w",
                    "-t",
                    str(int(timeout)),
                    "-s",
                    "start",
                    timeout=timeout + 5,
                )
                break
            except PostgresUnavailable as exc:
                port_taken = "already in use" in str(exc) or "could not bind" in str(exc)
                if not port_taken or attempt == attempts:
                    raise
        _wait_ready(server, timeout)
    except subprocess.TimeoutExpired as exc:
        server.stop()
        raise PostgresUnavailable(
            f"PostgreSQL did not start within {timeout:.0f} s: {exc}"
        ) from exc
    except BaseException:
        server.stop()
        raise
    return server


def _wait_ready(server: PostgresServer, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with psycopg.connect(server.dsn(), connect_timeout=5) as conn:
                conn.execute("SELECT 1")
            return
        except psycopg.OperationalError as exc:
            if time.monotonic() > deadline:
                raise PostgresUnavailable(
                    f"PostgreSQL started but accepts no connections on {HOST}:{server.port}: "
                    f"{exc}{server.log_tail()}"
                ) from exc
            time.sleep(0.05)


def main() -> int:
    """Start a server, print its DSN, and keep it until Ctrl-C or SIGTERM."""
    try:
        server = start_server("cli")
    except PostgresUnavailable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print(server.dsn(), flush=True)
    try:
        signal.pause()
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
