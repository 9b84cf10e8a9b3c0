"""Gold in the lake: the marts analysts query, published as Hive-partitioned Parquet.

``shoplake publish`` (and the ``publish`` step of ``shoplake run``) writes each mart of
:data:`MARTS` to ``<lake>/gold/<mart>/`` as Snappy Parquet, one ``data.parquet`` per
partition: ``month=YYYY-MM`` (of the mart's business date) and, for marts with a region,
``region=<region>``; a mart with neither is one file, ``gold/<mart>/data.parquet``.
The partition columns live in the path only (the Hive convention Athena, Spectrum,
Spark and DuckDB's ``hive_partitioning`` follow); a null value is
``__HIVE_DEFAULT_PARTITION__``, which they all read back as null.

Where the rows come from:

* ``dev``: the DuckDB warehouse, read-only;
* ``prod``: Redshift, through ``UNLOAD ... FORMAT AS PARQUET PARTITION BY (...)`` into
  the transaction's scratch prefix ``_state/gold/unload/<run_id>/<mart>/`` (see
  :func:`unload_statement`), read back from there with DuckDB.

Publishing is ingest's crash-safe protocol (:class:`shoplake.ingest.transaction.Transaction`):
changed partitions are staged, a commit marker is written, then each file replaces its
predecessor in one step; a run killed before the marker changed nothing, one killed
after is finished by the next publish (or ingest). Readers see the old or the new
partition, never half of one. Publishing holds the lake's ``ingest`` lock, the lock that
guards the transaction area it shares with ingest.

Only changed partitions are rewritten: every partition's content hash (its rows, in a
canonical order, and the mart's column names and types) is kept in
``_state/gold/manifest.json``, which is published in the same transaction as the files.
A partition whose hash is unchanged and whose file is in place is left alone; a partition
that no longer has rows is deleted. So a second publish of the same warehouse writes
nothing.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import quote

from shoplake.errors import ConfigError, WarehouseError
from shoplake.ingest.transaction import Transaction, lake_lock, recover
from shoplake.lake import SILVER_FILE, Lake
from shoplake.report import Report

GOLD = "gold"
#: Hive's name of the partition of null values (read back as null by every engine).
NULL_PARTITION = "__HIVE_DEFAULT_PARTITION__"
TARGETS = ("dev", "prod")


@dataclass(frozen=True)
class Mart:
    """A published mart: which column's month partitions it, whether it has a region."""

    name: str
    month_of: str | None = None
    by_region: bool = False

    @property
    def partition_keys(self) -> list[str]:
        return (["month"] if self.month_of else []) + (["region"] if self.by_region else [])


#: The marts in the lake: the gold aggregates, and the dimensions and facts the Athena
#: analyses (analyses/*.sql) read, so that every named query runs on the catalog.
MARTS: dict[str, Mart] = {
    m.name: m
    for m in (
        Mart("agg_daily_revenue", month_of="date_day", by_region=True),
        Mart("agg_daily_funnel", month_of="date_day"),
        Mart("agg_payment_status", month_of="date_day"),
        Mart("agg_customer_segments"),
        Mart("dim_customers", by_region=True),
        Mart("dim_products"),
        Mart("fact_orders", month_of="order_date"),
        Mart("sales_fact", month_of="sold_at"),
    )
}


def gold_prefix(mart: str) -> str:
    return Lake.key(GOLD, mart)


def partition_path(values: dict[str, str | None]) -> str:
    """``{"month": "2026-10", "region": "europe"}`` -> ``month=2026-10/region=europe``."""
    return "/".join(f"{k}={_path_value(v)}" for k, v in values.items())


def _path_value(value: str | None) -> str:
    if value is None:
        return NULL_PARTITION
    return quote(value, safe="-_.")  # Hive escapes the same way: %XX


def gold_key(mart: str, partition: str) -> str:
    return Lake.key(GOLD, mart, partition, SILVER_FILE)


def manifest_key(lake: Lake) -> str:
    return lake.state_key("gold", "manifest.json")


def unload_prefix(lake: Lake, run_id: str) -> str:
    return lake.state_key("gold", "unload", run_id)


# ---------------------------------------------------------------------------------------
# the result
# ---------------------------------------------------------------------------------------
@dataclass
class MartPublish:
    partitions: int = 0
    written: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    #: (column, DuckDB type) of the data files, partition keys excluded
    columns: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class PublishReport:
    lake: str
    target: str
    run_id: str
    marts: dict[str, MartPublish] = field(default_factory=dict)
    recovered: list[str] = field(default_factory=list)
    catalog: Any = None  # shoplake.aws.gold_catalog.GoldCatalog on S3 lakes with Glue

    @property
    def written(self) -> int:
        return sum(len(m.written) for m in self.marts.values())

    @property
    def deleted(self) -> int:
        return sum(len(m.deleted) for m in self.marts.values())

    def summary(self) -> str:
        total = sum(m.partitions for m in self.marts.values())
        text = (
            f"{len(self.marts)} marts, {total} partitions: {self.written} written, "
            f"{self.deleted} deleted, {total - self.written} unchanged"
        )
        if self.catalog is not None:
            text += f"; {self.catalog.summary()}"
        return text

    def as_report(self) -> Report:
        return Report(
            title=f"publish gold to {self.lake}/{GOLD} ({self.target})",
            columns=["mart", "partitions", "written", "deleted"],
            rows=[
                [name, m.partitions, len(m.written), len(m.deleted)]
                for name, m in self.marts.items()
            ],
            notes=[*self.recovered, self.summary()],
        )


# ---------------------------------------------------------------------------------------
# publishing
# ---------------------------------------------------------------------------------------
def publish(
    lake: Lake | str,
    *,
    target: str = "dev",
    duckdb_path: str | os.PathLike | None = None,
    run_id: str | None = None,
    wait: bool = False,
    catalog: bool = True,
) -> PublishReport:
    """Publish every mart of :data:`MARTS` to ``<lake>/gold/`` (see the module doc).

    ``target``: ``dev`` reads the DuckDB warehouse (``duckdb_path``, default the
    lake's), ``prod`` unloads from Redshift. With ``catalog`` (default), an ``s3://``
    lake with ``SHOPLAKE_GLUE_DATABASE`` set also gets its gold tables and partitions
    registered in Glue.
    """
    lake = Lake.at(lake)
    if target not in TARGETS:
        raise ConfigError(
            f"publish reads the marts of the dev (DuckDB) or prod (Redshift) target, "
            f"not {target!r}",
            "use --target dev or --target prod",
            setting="target",
        )
    run_id = run_id or f"gold-{datetime.now(timezone.utc):%Y%m%dT%H%M%S}Z-{secrets.token_hex(3)}"
    report = PublishReport(lake.url(), target, run_id)
    with lake_lock(lake, "ingest", wait) as lease:
        report.recovered = recover(lake)
        lake.delete_prefix(lake.state_key("gold", "unload"))  # scratch of killed runs
        sources = _duckdb_sources if target == "dev" else _redshift_sources
        with sources(lake, run_id, duckdb_path) as (con, relations):
            _publish_all(lake, con, relations, Transaction(lake, run_id, lease), report)
        lake.delete_prefix(unload_prefix(lake, run_id))
    if catalog and not lake.is_local:
        from shoplake.aws.gold_catalog import register_if_configured

        report.catalog = register_if_configured(lake, report)
    return report


def _publish_all(
    lake: Lake, con: Any, relations: dict[str, str], txn: Transaction, report: PublishReport
) -> None:
    old = _read_manifest(lake)
    new: dict[str, dict[str, str]] = {}
    try:
        for name, relation in relations.items():
            mart = MARTS[name]
            result = report.marts[name] = MartPublish()
            new[name] = _stage_mart(lake, con, mart, relation, old.get(name, {}), txn, result)
        if report.written or report.deleted or new != old:
            txn.stage_bytes(manifest_key(lake), json.dumps(new, indent=1, sort_keys=True).encode())
            txn.commit()
        else:
            txn.abort()
    except BaseException:
        txn.abort()
        raise


def _stage_mart(
    lake: Lake,
    con: Any,
    mart: Mart,
    relation: str,
    previous: dict[str, str],
    txn: Transaction,
    result: MartPublish,
) -> dict[str, str]:
    """Stage the changed partitions of one mart; returns its new manifest entry."""
    keys = mart.partition_keys
    described = con.execute(f"describe select * from {relation}").fetchall()
    result.columns = [(c[0], c[1]) for c in described if c[0] not in keys]
    if [c[0] for c in described if c[0] in keys] != keys:
        raise WarehouseError(
            f"mart {mart.name}: expected the partition columns {keys} in {relation}",
            "this is a bug in shoplake: please report it",
            step="publish",
        )
    data = ", ".join(_ident(c) for c, _ in result.columns)
    schema_sig = json.dumps(result.columns)
    group = ", ".join(_ident(k) for k in keys)
    rows = con.execute(
        f"select {group + ', ' if keys else ''}count(*), "
        f"md5(string_agg(h, '' order by h)) "
        f"from (select {group + ', ' if keys else ''}md5(cast(row({data}) as varchar)) as h "
        f"from {relation}) t" + (f" group by {group}" if keys else "")
    ).fetchall()
    present = {e.key for e in lake.list(gold_prefix(mart.name))}
    manifest: dict[str, str] = {}
    for row in rows:
        values = dict(zip(keys, row[: len(keys)], strict=True))
        count, digest = row[len(keys)], row[len(keys) + 1]
        if not count:
            continue  # an empty mart (no partitioned rows) has no file
        partition = partition_path({k: None if v is None else str(v) for k, v in values.items()})
        content = hashlib.sha256(f"{schema_sig}\n{digest}".encode()).hexdigest()
        manifest[partition] = content
        key = gold_key(mart.name, partition)
        if previous.get(partition) == content and key in present:
            continue
        where = " and ".join(
            f"{_ident(k)} is null" if v is None else f"{_ident(k)} = {_literal(str(v))}"
            for k, v in values.items()
        )
        path = txn.stage_path(key)
        con.execute(
            f"copy (select {data} from {relation}{' where ' + where if where else ''} "
            f"order by all) to {_literal(str(path))} (format parquet, compression snappy)"
        )
        result.written.append(partition)
    result.partitions = len(manifest)
    wanted = {gold_key(mart.name, p) for p in manifest}
    for key in sorted(present - wanted):
        if key.endswith("/" + SILVER_FILE) and not _hidden(key, mart.name):
            txn.delete(key)
            result.deleted.append(key[len(gold_prefix(mart.name)) + 1 : -len(SILVER_FILE) - 1])
    return manifest


def _hidden(key: str, mart: str) -> bool:
    rest = key[len(gold_prefix(mart)) + 1 :]
    return any(part.startswith(("_", ".")) for part in rest.split("/"))


def _read_manifest(lake: Lake) -> dict[str, dict[str, str]]:
    try:
        return json.loads(lake.read_bytes(manifest_key(lake)))
    except FileNotFoundError:
        return {}


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


# ---------------------------------------------------------------------------------------
# where the rows come from
# ---------------------------------------------------------------------------------------
def _month_sql(column: str) -> str:
    return f"strftime(cast({_ident(column)} as date), '%Y-%m')"


def duckdb_relation(mart: Mart, schema: str = "main") -> str:
    """The mart as publish reads it from DuckDB: its columns (the partition columns
    last), plus ``month`` derived from its business date."""
    parts = ["*"]
    if mart.by_region:
        parts = ['* exclude ("region")']
    if mart.month_of:
        parts.append(f'{_month_sql(mart.month_of)} as "month"')
    if mart.by_region:
        parts.append('"region"')
    return f"(select {', '.join(parts)} from {_ident(schema)}.{_ident(mart.name)})"


@contextlib.contextmanager
def _duckdb_sources(
    lake: Lake, run_id: str, duckdb_path: str | os.PathLike | None
) -> Iterator[tuple[Any, dict[str, str]]]:
    from shoplake.warehouse import dbt_env, open_read_only

    path = Path(dbt_env(lake, "dev", duckdb_path=duckdb_path)["SHOPLAKE_DUCKDB_PATH"])
    with open_read_only(path) as con:
        tables = {
            r[0]
            for r in con.execute(
                "select table_name from information_schema.tables where table_schema = 'main'"
            ).fetchall()
        }
        missing = [m for m in MARTS if m not in tables]
        if missing:
            raise WarehouseError(
                f"the warehouse {path} has no {', '.join(missing)}",
                "run `shoplake build` first",
                step="publish",
            )
        yield con, {name: duckdb_relation(mart) for name, mart in MARTS.items()}


def unload_statement(mart: Mart, schema: str, location: str, iam_role: str) -> str:
    """Redshift's UNLOAD of one mart into ``location`` (an ``s3://`` prefix ending in
    ``/``) in the layout of the lake: Parquet (Snappy, UNLOAD's default for Parquet),
    partitioned by ``month`` and ``region`` where the mart has them (the partition
    columns go into the path, not the files)."""
    from shoplake.redshift import quote_ident, quote_literal

    columns = ["*"]
    if mart.month_of:
        columns.append(f"to_char({quote_ident(mart.month_of)}, 'YYYY-MM') as month")
    query = f"select {', '.join(columns)} from {quote_ident(schema)}.{quote_ident(mart.name)}"
    sql = (
        f"unload ({quote_literal(query)})\n"
        f"to {quote_literal(location)}\n"
        f"iam_role {quote_literal(iam_role)}\n"
        f"format as parquet"
    )
    if mart.partition_keys:
        sql += f"\npartition by ({', '.join(mart.partition_keys)})"
    return sql


def unload_statements(lake: Lake, run_id: str, iam_role: str, schema: str) -> dict[str, str]:
    """Every mart's UNLOAD for one run, into the run's scratch prefix of the lake."""
    base = lake.url(unload_prefix(lake, run_id))
    return {
        name: unload_statement(mart, schema, f"{base}/{name}/", iam_role)
        for name, mart in MARTS.items()
    }


_UNLOADED = re.compile(r"\.parquet$")


@contextlib.contextmanager
def _redshift_sources(
    lake: Lake, run_id: str, duckdb_path: object
) -> Iterator[tuple[Any, dict[str, str]]]:
    import duckdb

    from shoplake import redshift

    if lake.is_local:
        raise ConfigError(
            f"lake {lake.url()}: Redshift unloads to S3 only",
            "use an s3:// lake for prod",
            setting="lake",
        )
    role = os.environ.get(redshift.UNLOAD_ROLE_ENV)
    if not role:
        raise ConfigError(
            f"publishing from Redshift needs {redshift.UNLOAD_ROLE_ENV}",
            "set it to the ARN of the <name>-redshift-unload role deploy created",
            setting=redshift.UNLOAD_ROLE_ENV,
        )
    statements = unload_statements(lake, run_id, role, redshift.schema())
    with redshift.connect() as rs:
        for sql in statements.values():
            rs.execute(sql)
    con = duckdb.connect()
    try:
        lake.attach(con)
        relations = {}
        for name, mart in MARTS.items():
            prefix = Lake.key(unload_prefix(lake, run_id), name)
            files = [e.key for e in lake.list(prefix) if _UNLOADED.search(e.key)]
            if not files:  # UNLOAD writes no file for an empty mart
                continue
            urls = ", ".join(_literal(lake.url(k)) for k in files)
            relations[name] = (
                f"(select * from read_parquet([{urls}], hive_partitioning = "
                f"{'true' if mart.partition_keys else 'false'}, hive_types_autocast = false))"
            )
        yield con, relations
    finally:
        con.close()


def publish_step(
    lake: Lake, target: str, *, duckdb_path: str | os.PathLike | None, run_id: str, wait: bool
) -> tuple[str, str]:
    """The ``publish`` step of ``shoplake run``: (status, detail)."""
    if target not in TARGETS:
        return "skipped", f"gold is published from the dev or prod warehouse, not {target}"
    report = publish(lake, target=target, duckdb_path=duckdb_path, run_id=run_id, wait=wait)
    return "success", f"gold to {lake.url(GOLD)}: {report.summary()}"
