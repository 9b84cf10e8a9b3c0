"""Errors that the CLI reports as one clear line (what, where, what to do).

:class:`ShoplakeError` and its subclasses are the failures shoplake knows how to name.
:func:`translate` turns the exceptions of the layers below (the OS, DuckDB, psycopg)
into them, in one place: the CLI uses it for every command, the daily run for the
error it records. :func:`redact` removes secrets from any text that leaves the process
as an error.
"""

from __future__ import annotations

import errno
import os
import re
from collections.abc import Iterable
from pathlib import Path

from shoplake.redact import MASK, redact_text


class ShoplakeError(Exception):
    """A known failure: printed as one line without a traceback (unless --debug).

    Each domain has its subclass below, carrying the fields a caller acts on (the
    dataset and file, the step and target, the resource); ``what`` and ``hint`` are the
    line the CLI prints."""

    def __init__(self, what: str, hint: str = "") -> None:
        super().__init__(what)
        self.what = what
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.what} — {self.hint}" if self.hint else self.what


class ConfigError(ShoplakeError):
    """A setting (shoplake.toml, a SHOPLAKE_* variable, a command-line option) is invalid."""

    def __init__(self, what: str, hint: str = "", *, setting: str | None = None) -> None:
        super().__init__(what, hint)
        self.setting = setting


class ContractError(ShoplakeError):
    """Input that the raw contract cannot take as a whole (a file, a dataset's layout);
    single bad records are quarantined, never raised."""

    def __init__(
        self, what: str, hint: str = "", *, dataset: str | None = None, file: str | None = None
    ) -> None:
        super().__init__(what, hint)
        self.dataset = dataset
        self.file = file


class IngestError(ContractError):
    """Ingest (or the quarantine replay) could not read, validate or publish a dataset."""


class StorageError(ShoplakeError):
    """The lake's storage (a directory or an S3 prefix) failed or refused an operation."""

    def __init__(self, what: str, hint: str = "", *, location: str | None = None) -> None:
        super().__init__(what, hint)
        self.location = location


class LakeBusyError(StorageError):
    """Another run holds the lake's lock."""


class LakeNotFoundError(StorageError):
    """The lake path given names no lake (and nothing was created there)."""


class DiskFullError(StorageError):
    """A write failed for lack of space (ENOSPC, EDQUOT) or a file-size limit (EFBIG)."""


class WarehouseError(ShoplakeError):
    """dbt, the warehouse or a step of the daily run failed (build, publish, docs, ...)."""

    def __init__(
        self, what: str, hint: str = "", *, step: str | None = None, target: str | None = None
    ) -> None:
        super().__init__(what, hint)
        self.step = step
        self.target = target


class WarehouseLockedError(WarehouseError):
    """Another process holds the DuckDB warehouse file open."""


class DatabaseConnectionError(ShoplakeError):
    """PostgreSQL could not be reached, or its DSN is not valid (no secret in the text)."""


class ExtractError(ShoplakeError):
    """Reading the products catalog from (or loading it into) PostgreSQL failed."""

    def __init__(self, what: str, hint: str = "", *, table: str | None = None) -> None:
        super().__init__(what, hint)
        self.table = table


class AwsError(ShoplakeError):
    """An AWS call (deploy, Glue, Athena, Redshift's catalog) failed or was refused."""

    def __init__(self, what: str, hint: str = "", *, resource: str | None = None) -> None:
        super().__init__(what, hint)
        self.resource = resource


class DeployError(AwsError):
    """``shoplake deploy aws`` cannot create or change a resource."""


class AlertsError(ShoplakeError):
    """The purchase alerts (watcher, webhook, Lambda) cannot run as configured."""


class NotifyError(ShoplakeError):
    """A team notification (webhook, SNS) is misconfigured."""

    def __init__(self, what: str, hint: str = "", *, channel: str | None = None) -> None:
        super().__init__(what, hint)
        self.channel = channel


#: OS errors that mean "no room to write": the file system, a quota, a file-size limit.
DISK_FULL_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}

#: How to read the DuckDB warehouse without holding its lock.
READ_WITHOUT_LOCKING = (
    "to read the warehouse without blocking builds use `shoplake sql` "
    "(it queries a snapshot and never holds the file)"
)

_LOCK_CONFLICT = re.compile(
    r'Could not set lock on file "(?P<path>[^"]+)": Conflicting lock is held in '
    r"(?P<program>.*?) \(PID (?P<pid>\d+)\)"
)


def process_name(pid: int) -> str:
    """A short description of a live process: ``pid 1234 (shoplake sql -c ...)``."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return f"pid {pid}"
    words = [w.decode(errors="replace") for w in raw.split(b"\0") if w]
    if len(words) >= 3 and words[1] == "-m" and words[2] == "shoplake.cli":
        words = ["shoplake", *words[3:]]  # python -m shoplake.cli ...
    elif words and Path(words[0]).name.startswith("python") and len(words) > 1:
        words = [Path(words[0]).name, *words[1:]]
    elif words:
        words[0] = Path(words[0]).name
    command = " ".join(" ".join(words).split())
    if len(command) > 80:
        command = command[:77] + "..."
    return f"pid {pid} ({redact(command)})" if command else f"pid {pid}"


def warehouse_lock_conflict(text: str) -> WarehouseLockedError | None:
    """The lock conflict DuckDB reports (in an exception or in dbt's output), if any."""
    match = _LOCK_CONFLICT.search(text)
    if not match:
        return None
    holder = process_name(int(match["pid"]))
    return WarehouseLockedError(
        f"the warehouse {match['path']} is held open by {holder}",
        f"close that connection and run the command again; {READ_WITHOUT_LOCKING}",
    )


# --- secrets ---------------------------------------------------------------------------
_SECRET_NAME = re.compile(r"PASSWORD|SECRET|TOKEN|SALT|CREDENTIAL|_KEY$|^PGPASS", re.I)
_CONNINFO_PASSWORD = re.compile(r"""(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)""", re.I)
_MIN_SECRET = 4  # shorter values would redact ordinary words
_MIN_ENV_SECRET = 6  # a variable named *_KEY may hold a short non-secret ("dev", "lake")


def dsn_secrets(dsn: str | None) -> list[str]:
    """The password of a DSN (URL or key=value form) and each of its words."""
    if not dsn:
        return []
    found: list[str] = []
    url = re.match(r"[a-z][a-z0-9+.-]*://(?:[^:/@]*):(?P<pw>.*)@", dsn, re.I)
    if url:
        found.append(url["pw"])
    for match in _CONNINFO_PASSWORD.finditer(dsn):
        value = match.group(2)
        found.append(value.strip("'"))
        # an unquoted password with a space: the rest of it is the next word(s)
        rest = dsn[match.end() :].split("=", 1)[0].split()
        found.extend(rest[:-1] if "=" in dsn[match.end() :] else rest)
    pieces = {p for value in found for p in [value, *value.split()] if p}
    return sorted(pieces, key=len, reverse=True)


def environment_secrets(environ: dict[str, str] | None = None) -> list[str]:
    """Values of environment variables whose names say they are secret."""
    env = os.environ if environ is None else environ
    values = [v for k, v in env.items() if _SECRET_NAME.search(k) and len(v) >= _MIN_ENV_SECRET]
    for name in ("SHOPLAKE_POSTGRES_DSN", "DATABASE_URL"):
        values += dsn_secrets(env.get(name))
    return values


_registered: list[str] = []


def register_secret(*values: str | None) -> None:
    """Remember values (a DSN given on the command line) that no error may show."""
    for value in values:
        if value:
            _registered.extend(dsn_secrets(value) or [])


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` without URL credentials (:func:`shoplake.redact.redact_text`), conninfo
    passwords and known secret values."""
    text = _CONNINFO_PASSWORD.sub(lambda m: f"{m.group(1)}{MASK}", text)
    values = {*secrets, *_registered, *environment_secrets()}
    return redact_text(text, *(v for v in values if len(v) >= _MIN_SECRET))


# --- translating the exceptions of the layers below -------------------------------------
def translate(exc: BaseException, *, where: str | None = None) -> ShoplakeError | None:
    """The :class:`ShoplakeError` that names ``exc``, or None for an unexpected error (a
    bug, shown with its traceback). ``where`` is the path the command works on (named in
    a disk-full error that the OS reported without a file name)."""
    if isinstance(exc, ShoplakeError):
        return exc
    if isinstance(exc, OSError) and exc.errno in DISK_FULL_ERRNOS:
        return disk_full(exc.errno, exc.filename or where)
    module = type(exc).__module__ or ""
    if module.startswith(("duckdb", "_duckdb")):
        conflict = warehouse_lock_conflict(str(exc))
        if conflict is not None:
            return conflict
        full = _duckdb_disk_full(str(exc))
        if full is not None:
            return disk_full(full[0], full[1] or where)
        return ShoplakeError(f"DuckDB: {redact(first_line(exc))}", "--debug shows the traceback")
    if module.startswith("psycopg"):
        return _postgres_error(exc)
    if isinstance(exc, OSError):
        return ShoplakeError(
            f"storage error: {redact(str(exc))}",
            "nothing half-written is left behind; check the disk or the S3 endpoint and "
            "run the command again (--debug shows the traceback)",
        )
    return None


def disk_full(number: int, path: str | os.PathLike | None) -> DiskFullError:
    what = "file size limit reached" if number == errno.EFBIG else "disk full"
    return DiskFullError(
        f"{what} at {path or '?'}",
        "nothing half-written was published: free some space and run the command again",
    )


_DUCKDB_ERRNO = re.compile(r'"errno"\s*:\s*"(\d+)"')
_DUCKDB_FILE = re.compile(r'(?:write|create|open) file \\?"(?P<path>[^"\\]+)\\?"')
_MESSAGES = {os.strerror(n): n for n in DISK_FULL_ERRNOS}


def _duckdb_disk_full(text: str) -> tuple[int, str | None] | None:
    """(errno, file) of a DuckDB write that failed for lack of space, if it was that."""
    match = _DUCKDB_ERRNO.search(text)
    number = int(match[1]) if match else None
    if number not in DISK_FULL_ERRNOS:
        number = next((n for message, n in _MESSAGES.items() if message in text), None)
    if number is None:
        return None
    file = _DUCKDB_FILE.search(text)
    return number, file["path"] if file else None


def _postgres_error(exc: BaseException) -> ShoplakeError:
    name = type(exc).__name__
    message = first_line(exc)
    if name == "ProgrammingError" and (
        "connection info string" in message or "percent-encoded" in message or "dsn" in message
    ):
        return invalid_dsn_error()
    if name in ("OperationalError", "InterfaceError"):
        return DatabaseConnectionError(
            f"cannot connect to PostgreSQL: {redact(message)}",
            "check the host, port, user and password of the DSN "
            "(--postgres-dsn or SHOPLAKE_POSTGRES_DSN)",
        )
    return ShoplakeError(f"PostgreSQL: {redact(message)}", "--debug shows the traceback")


def invalid_dsn_error() -> DatabaseConnectionError:
    """A DSN that does not parse. The parser's message quotes the DSN, so it is not shown."""
    return DatabaseConnectionError(
        "invalid PostgreSQL DSN (the parser's message is not shown: it quotes the DSN, "
        "which may hold a password)",
        "use key=value pairs (host=... dbname=... user=...) or a postgresql:// URL; "
        "percent-encode special characters of a password in a URL (a space is %20), quote "
        "it in single quotes in key=value form, or leave it out and set PGPASSWORD",
    )


def first_line(exc: BaseException) -> str:
    """The first meaningful line of an exception's message (a driver's, DuckDB's)."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__


def one_line(text: str) -> str:
    """Newlines and tabs folded into spaces: an error is printed on one line."""
    return " ".join(text.split())
