"""Configuration: defaults, then a config file, then SHOPLAKE_* environment variables,
then command-line flags (applied by the CLI).

The config file is ``shoplake.toml`` in the working directory, or the file named by
``SHOPLAKE_CONFIG``; keys live under a ``[shoplake]`` table. Secrets (database passwords,
cloud credentials) never belong in it: put them in the environment (a DSN may name a
password file or rely on PGPASSWORD).
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, fields
from pathlib import Path

from shoplake.errors import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

CONFIG_FILE = "shoplake.toml"


@dataclass(frozen=True)
class Settings:
    lake: str = "./lake"
    #: Where the raw zone lives, if not in the lake root: the directory or s3:// location
    #: whose ``raw/`` folder holds it (the deployed layout has a separate raw bucket).
    raw: str | None = None
    postgres_dsn: str | None = None
    products_table: str = "public.products"
    #: The process umask (octal) of every command: files shoplake creates (silver with
    #: personal data, quarantined raw records, the warehouse, the site, alerts) are
    #: readable by their owner only by default. ``022`` gives the usual 0644/0755.
    umask: str = "077"
    #: The share of a dataset's records read by one ingest that may be quarantined before
    #: the run is marked ``warn`` (a fraction, ``0.01``, or a percentage, ``"1%"``).
    quarantine_threshold: str = "1%"
    #: DuckDB's memory limit in ingest (and the quarantine replay), e.g. ``"2GB"``: past
    #: it, DuckDB spills to a temporary directory, so a backlog of any size is ingested
    #: in bounded memory (the process peaks somewhat above it: Python, one file's bytes).
    ingest_memory_limit: str = "2GB"
    #: The directory under which each ingest run makes (and removes) its DuckDB spill
    #: directory; default the system's temporary directory (``TMPDIR``). Spilled data
    #: can reach a few times the raw backlog's size on a first load of a long history.
    ingest_temp_directory: str | None = None
    #: The ingest engine: ``duckdb`` (one process; the default) or ``spark`` (PySpark, the
    #: ``spark`` extra and a Java runtime). Both apply the one contract to the same lake
    #: with the same transaction, so a lake may switch engines between runs.
    engine: str = "duckdb"
    #: The Spark master of ``engine = "spark"`` when shoplake starts the Spark session
    #: itself (a session already running in the process, as on AWS Glue, is used as is).
    spark_master: str = "local[*]"


#: The ingest engines (:attr:`Settings.engine`).
ENGINES = ("duckdb", "spark")


def parse_engine(text: str) -> str:
    """``"spark"`` / ``"DuckDB"`` -> the engine's name; anything else is a one-line error."""
    name = text.strip().lower()
    if name not in ENGINES:
        raise ConfigError(
            f"ingest engine {text!r} is not one of {', '.join(ENGINES)}",
            "pass --engine duckdb|spark, or set SHOPLAKE_ENGINE or `engine` in shoplake.toml",
            setting="engine",
        )
    return name


def parse_umask(text: str) -> int:
    """``"077"`` / ``"0o077"`` -> 0o077; anything else is a one-line error."""
    try:
        value = int(text.strip().removeprefix("0o"), 8)
    except ValueError:
        value = -1
    if not 0 <= value <= 0o777:
        raise ConfigError(
            f"umask {text!r} is not an octal file mode mask",
            "set SHOPLAKE_UMASK or `umask` in shoplake.toml to e.g. 077 (owner only) or 022",
            setting="umask",
        )
    return value


def parse_quarantine_threshold(text: str) -> float:
    """``"1%"`` / ``"0.01"`` -> 0.01; anything outside 0..100 % is a one-line error."""
    raw = text.strip()
    try:
        value = float(raw[:-1]) / 100 if raw.endswith("%") else float(raw)
    except ValueError:
        value = -1.0
    if not 0 <= value <= 1:
        raise ConfigError(
            f"quarantine threshold {text!r} is not a share of records",
            "set SHOPLAKE_QUARANTINE_THRESHOLD or `quarantine_threshold` in shoplake.toml "
            'to a fraction (0.01) or a percentage ("1%")',
            setting="quarantine_threshold",
        )
    return value


def quarantine_threshold(settings: Settings | None = None) -> float:
    """The configured quarantine threshold (see :attr:`Settings.quarantine_threshold`)."""
    return parse_quarantine_threshold((settings or load_settings()).quarantine_threshold)


#: The PostgreSQL connection variables of the ``postgres`` target (profiles.yml.example
#: reads them), and their defaults there.
PG_ENV_DEFAULTS = {
    "SHOPLAKE_PG_HOST": "127.0.0.1",
    "SHOPLAKE_PG_PORT": "5432",
    "SHOPLAKE_PG_USER": "postgres",
    "SHOPLAKE_PG_PASSWORD": "",
    "SHOPLAKE_PG_DBNAME": "postgres",
}
_PG_KEYWORDS = {
    "SHOPLAKE_PG_HOST": "host",
    "SHOPLAKE_PG_PORT": "port",
    "SHOPLAKE_PG_USER": "user",
    "SHOPLAKE_PG_PASSWORD": "password",
    "SHOPLAKE_PG_DBNAME": "dbname",
}


def pg_env_dsn(environ: dict[str, str] | None = None) -> str | None:
    """The ``postgres`` target's DSN from ``SHOPLAKE_PG_HOST/PORT/USER/PASSWORD/DBNAME``
    (unset ones take the profile's defaults), or None if none of them is set."""
    env = os.environ if environ is None else environ
    if not any(env.get(name) for name in PG_ENV_DEFAULTS):
        return None
    from psycopg.conninfo import make_conninfo

    values = {
        _PG_KEYWORDS[name]: env.get(name) or default for name, default in PG_ENV_DEFAULTS.items()
    }
    return make_conninfo(**{k: v for k, v in values.items() if v})


def apply_umask(settings: Settings) -> int:
    """Set the process umask from the settings (children such as dbt inherit it)."""
    value = parse_umask(settings.umask)
    os.umask(value)
    return value


def load_settings(environ: dict[str, str] | None = None) -> Settings:
    env = os.environ if environ is None else environ
    values: dict[str, str] = {}
    path = Path(env.get("SHOPLAKE_CONFIG", CONFIG_FILE))
    if path.is_file():
        try:
            data = tomllib.loads(path.read_text("utf-8")).get("shoplake", {})
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: not valid TOML ({exc})", "fix or remove the file") from exc
        known = {f.name for f in fields(Settings)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(
                f"{path}: unknown settings {', '.join(unknown)}",
                f"known settings are {', '.join(sorted(known))}",
                setting=", ".join(unknown),
            )
        # umask = 0o077 (a TOML integer) means the same as umask = "077"
        values.update(
            {
                k: format(v, "o") if isinstance(v, int) and k == "umask" else str(v)
                for k, v in data.items()
            }
        )
    for f in fields(Settings):
        env_value = env.get(f"SHOPLAKE_{f.name.upper()}")
        if env_value:
            values[f.name] = env_value
    return Settings(**values)
