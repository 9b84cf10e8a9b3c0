"""``shoplake init``: a new lake with one small valid sample file per dataset, and a
``shoplake.toml`` naming it.

The samples are written by hand (not generated): a shop's first two orders, their lines
and payments, the two customers, the three products sold, the clicks of one visit and
the day's EUR exchange rate,
consistent with each other (the sales of an order add up to its payment). They land
where ingest reads them (``raw/<dataset>/YYYY/MM/DD/[HH/]``, today), dated yesterday, and
ingest with nothing quarantined: replace them with the shop's own files.
"""

from __future__ import annotations

import json
import os
import textwrap
from dataclasses import dataclass, field, fields
from datetime import datetime, timedelta, timezone
from pathlib import Path

from shoplake.config import CONFIG_FILE, Settings
from shoplake.errors import StorageError
from shoplake.lake import Lake

#: What each setting of ``shoplake.toml`` means (every field of Settings has a line).
SETTING_DOCS: dict[str, str] = {
    "lake": "The lake root: a directory or s3://bucket/prefix (SHOPLAKE_LAKE).",
    "raw": "Where the raw zone lives if not in the lake root: the directory or s3:// "
    "location whose raw/ folder holds it (SHOPLAKE_RAW).",
    "postgres_dsn": "PostgreSQL connection string (libpq DSN or URL) of the product "
    "catalog to extract, and of the `postgres` target (SHOPLAKE_POSTGRES_DSN). No "
    "password here: use PGPASSWORD or a .pgpass file.",
    "products_table": "The catalog table `shoplake extract products` reads "
    "(SHOPLAKE_PRODUCTS_TABLE).",
    "umask": "The umask (octal) of every command: 077 keeps every file shoplake writes "
    "readable by its owner only, 027 shares them with a group (SHOPLAKE_UMASK).",
    "quarantine_threshold": "The share of a dataset's records one ingest may quarantine "
    'before the run is marked warn: a fraction (0.01) or a percentage ("1%") '
    "(SHOPLAKE_QUARANTINE_THRESHOLD).",
    "ingest_memory_limit": "DuckDB's memory limit in ingest, e.g. 2GB; past it DuckDB "
    "spills to disk (SHOPLAKE_INGEST_MEMORY_LIMIT).",
    "ingest_temp_directory": "The directory under which ingest makes and removes its "
    "DuckDB spill directory; default the system's temporary directory "
    "(SHOPLAKE_INGEST_TEMP_DIRECTORY).",
    "engine": "The ingest engine: duckdb (one process, the default) or spark (PySpark: the "
    "spark extra and a Java runtime); a lake may switch between runs (SHOPLAKE_ENGINE).",
    "spark_master": "The Spark master of engine = spark when shoplake starts Spark itself, "
    "e.g. local[4]; an already running session (AWS Glue's) is used as is "
    "(SHOPLAKE_SPARK_MASTER).",
}
#: Example values shown for settings left at their default.
SETTING_EXAMPLES = {
    "raw": "s3://acme-raw/lake",
    "postgres_dsn": "host=db.example.com dbname=shop user=shoplake",
    "ingest_temp_directory": "/var/tmp",
}

#: The sample files: dataset -> (file name, content with {day} for yesterday's date).
SAMPLES: dict[str, tuple[str, str]] = {
    "orders": (
        "orders.csv",
        "order_id,customer_id,order_ts,status,channel,currency,shipping_country,updated_at\n"
        "O-1001,C-1,{day}T09:15:00Z,paid,web,EUR,PT,{day}T09:16:00Z\n"
        "O-1002,C-2,{day}T14:40:00Z,placed,mobile,USD,US,{day}T14:40:00Z\n",
    ),
    "sales": (
        "sales.csv",
        "sale_id,order_id,product_id,quantity,unit_price,discount_amount,sold_at\n"
        "S-1,O-1001,P-1,2,12.90,0,{day}T09:15:00Z\n"
        "S-2,O-1001,P-2,1,24.50,2.00,{day}T09:15:00Z\n"
        "S-3,O-1002,P-3,3,5.00,,{day}T14:40:00Z\n",
    ),
    "payments": (
        "payments.csv",
        "payment_id,order_id,payment_ts,method,status,amount,currency\n"
        "Y-1,O-1001,{day}T09:16:00Z,card,captured,48.30,EUR\n"
        "Y-2,O-1002,{day}T14:41:00Z,paypal,authorized,15.00,USD\n",
    ),
    "customers": (
        "customers.json",
        '{{"page": 1, "customers": [\n'
        '  {{"customer_id": "C-1", "email": "ana@example.com", "first_name": "Ana", '
        '"last_name": "Silva", "segment": "consumer", "signup_ts": "{day}T08:00:00Z", '
        '"address": {{"city": "Porto", "region": "Porto", "postal_code": "4000-001", '
        '"country": "PT"}}, "marketing_opt_in": true, "updated_at": "{day}T08:00:00Z"}},\n'
        '  {{"customer_id": "C-2", "email": "sam@example.com", "first_name": "Sam", '
        '"last_name": "Lee", "segment": "small_business", "signup_ts": "{day}T14:30:00Z", '
        '"address": {{"city": "Austin", "region": "TX", "postal_code": "78701", '
        '"country": "US"}}, "marketing_opt_in": false, "updated_at": "{day}T14:30:00Z"}}\n'
        '], "next": null}}\n',
    ),
    "products": (
        "products.csv",
        "product_id,sku,name,category,subcategory,brand,list_price,unit_cost,is_active,"
        "updated_at\n"
        "P-1,MUG-BLUE,Blue mug,home,kitchen,Acme,12.90,4.10,true,{day}T07:00:00Z\n"
        "P-2,TEE-M,T-shirt (M),apparel,tops,Northwind,24.50,9.00,true,{day}T07:00:00Z\n"
        'P-3,PEN-3,"Pens, pack of 3",office,writing,Acme,5.00,1.20,true,{day}T07:00:00Z\n',
    ),
    "exchange_rates": (
        "exchange_rates.csv",
        "rate_date,currency,usd_per_unit\n{day},EUR,1.0850\n",
    ),
    "clickstream": (
        "events.ndjson",
        '{{"event_time": "{day}T09:10:00Z", "user_id": "C-1", "session_id": "sess-1", '
        '"action": "page_view", "page_url": "https://shop.example.com/", '
        '"user_agent": "Mozilla/5.0", "ip": "203.0.113.10", "attributes": {{}}}}\n'
        '{{"event_time": "{day}T09:11:30Z", "user_id": "C-1", "session_id": "sess-1", '
        '"action": "product_view", "page_url": "https://shop.example.com/p/P-1", '
        '"user_agent": "Mozilla/5.0", "ip": "203.0.113.10", '
        '"attributes": {{"product_id": "P-1"}}}}\n'
        '{{"event_time": "{day}T09:12:00Z", "user_id": "C-1", "session_id": "sess-1", '
        '"action": "add_to_cart", "page_url": "https://shop.example.com/p/P-1", '
        '"user_agent": "Mozilla/5.0", "ip": "203.0.113.10", '
        '"attributes": {{"product_id": "P-1"}}}}\n'
        '{{"event_time": "{day}T09:14:00Z", "user_id": "C-1", "session_id": "sess-1", '
        '"action": "checkout_start", "page_url": "https://shop.example.com/checkout", '
        '"user_agent": "Mozilla/5.0", "ip": "203.0.113.10", "attributes": {{}}}}\n'
        '{{"event_time": "{day}T09:15:00Z", "user_id": "C-1", "session_id": "sess-1", '
        '"action": "purchase", "page_url": "https://shop.example.com/checkout/done", '
        '"user_agent": "Mozilla/5.0", "ip": "203.0.113.10", '
        '"attributes": {{"order_id": "O-1001"}}}}\n',
    ),
}


@dataclass
class InitReport:
    lake: str
    config: Path
    files: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        return [
            f"new lake at {self.lake}; settings in {self.config}",
            *(f"  wrote {key}" for key in self.files),
            "next: `shoplake validate FILE` checks a file of your own, `shoplake ingest` "
            "reads raw/ into silver, `shoplake run` does the whole job (replace the samples "
            "with your shop's files: docs/lake.md says where each goes)",
        ]


def config_text(settings: Settings) -> str:
    """``shoplake.toml`` with every setting config.py reads, each with what it means;
    the lake set, the others commented out at their default (or an example)."""
    out = [
        "# shoplake settings: read from ./shoplake.toml, or the file SHOPLAKE_CONFIG names.",
        "# SHOPLAKE_<NAME> environment variables override them; command-line flags override",
        "# both. Secrets (passwords, keys) never belong here: put them in the environment.",
        "[shoplake]",
    ]
    for f in fields(Settings):
        doc = SETTING_DOCS[f.name]  # a new setting must be documented here
        value = getattr(settings, f.name)
        out.append("")
        out += [f"# {line}" for line in textwrap.wrap(doc, 86)]
        if f.name == "lake":
            out.append(f"lake = {json.dumps(value)}")
        else:
            example = value if value is not None else SETTING_EXAMPLES.get(f.name, "")
            out.append(f"# {f.name} = {json.dumps(example)}")
    return "\n".join(out) + "\n"


def init_lake(
    location: str, config: Path, *, raw: str | None = None, now: datetime | None = None
) -> InitReport:
    """Make a new lake at ``location`` (refused if anything is there) with the sample
    files, and write ``config`` (refused if it exists) naming it."""
    lake = Lake.at(location, raw=raw)
    if lake.is_local and lake.root.exists():
        if not lake.root.is_dir():
            raise StorageError(
                f"{lake.root} is a file, not a directory",
                "choose a new path",
                location=str(lake.root),
            )
        if any(lake.root.iterdir()):
            raise _not_empty(lake.url())
    elif not lake.is_local and lake.any(""):
        raise _not_empty(lake.url())
    if lake.raw_store is not None and lake.any("raw"):
        raise _not_empty(lake.url("raw"))
    if config.exists():
        raise StorageError(
            f"{config} already exists: shoplake init does not overwrite settings",
            "keep it (and set `lake` in it), or pass --config with another file name",
            location=str(config),
        )
    now = (now or datetime.now(timezone.utc)).astimezone(timezone.utc)
    day = (now - timedelta(days=1)).date().isoformat()
    landed = now.replace(minute=0, second=0, microsecond=0, tzinfo=None)
    report = InitReport(lake.url(), config)
    for dataset, (name, text) in SAMPLES.items():
        key = lake.key(lake.landing_prefix(dataset, landed), name)
        lake.write_atomic(key, text.format(day=day))
        report.files.append(key)
    shown = location
    if lake.is_local and config.absolute().parent != Path.cwd():
        shown = str(lake.root)  # a relative path would be read from another directory
    text = config_text(Settings(lake=shown))
    config.parent.mkdir(parents=True, exist_ok=True)
    tmp = config.with_name(f".{config.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, config)
    return report


def _not_empty(where: str) -> StorageError:
    return StorageError(
        f"{where} is not empty: shoplake init only makes a new lake",
        "choose a new or empty directory; to bring data to an existing lake, put its files "
        "under raw/ (docs/lake.md) and run `shoplake ingest`",
        location=str(where),
    )


def default_config() -> Path:
    return Path(os.environ.get("SHOPLAKE_CONFIG") or CONFIG_FILE)
