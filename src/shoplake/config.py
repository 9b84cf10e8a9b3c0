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

from shoplake.errors import ShoplakeError

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


def parse_umask(text: str) -> int:
    """``"077"`` / ``"0o077"`` -> 0o077; anything else is a one-line error."""
    try:
        value = int(text.strip().removeprefix("0o"), 8)
    except ValueError:
        value = -1
    if not 0 <= value <= 0o777:
        raise ShoplakeError(
            f"umask {text!r} is not an octal file mode mask",
            "set SHOPLAKE_UMASK or `umask` in shoplake.toml to e.g. 077 (owner only) or 022",
        )
    return value


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
            raise ShoplakeError(
                f"{path}: not valid TOML ({exc})", "fix or remove the file"
            ) from exc
        known = {f.name for f in fields(Settings)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ShoplakeError(
                f"{path}: unknown settings {', '.join(unknown)}",
                f"known settings are {', '.join(sorted(known))}",
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
