"""shoplake.extract against a real PostgreSQL server (started by conftest.py)."""

from __future__ import annotations

import csv
import re
import socket
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
import pytest
from typer.testing import CliRunner

from shoplake import extract
from shoplake.cli import app
from shoplake.contract import PRODUCTS
from shoplake.errors import ShoplakeError
from shoplake.extract import extract_products
from shoplake.lake import Lake
from shoplake.products_table import load_products_table

UTC = timezone.utc
T0 = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)
TABLE = "public.products"
#: The raw contract's products columns, in the order RAW_CONTRACT.md lists them.
CONTRACT_COLUMNS = [
    "product_id",
    "sku",
    "name",
    "category",
    "subcategory",
    "brand",
    "list_price",
    "unit_cost",
    "is_active",
    "updated_at",
]
UTC_MICROS = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$")


def product(pid: str, updated_at: datetime, **changes: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "product_id": pid,
        "sku": f"SKU-{pid}",
        "name": f"Product {pid}",
        "category": "Home",
        "subcategory": "Lighting",
        "brand": "Lumen",
        "list_price": Decimal("19.90"),
        "unit_cost": Decimal("7.25"),
        "is_active": True,
        "updated_at": updated_at,
    }
    row.update(changes)
    return row


def raw_files(lake: Lake) -> list[Path]:
    return sorted(lake.raw_dir("products").rglob("*"), key=str)


def visible_csvs(lake: Lake) -> list[Path]:
    return [p for p in raw_files(lake) if p.is_file() and not p.name.startswith("_")]


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def ids_in(path: Path) -> list[str]:
    return [r["product_id"] for r in read_csv(path)]


@pytest.fixture
def lake(tmp_path: Path) -> Lake:
    return Lake.at(tmp_path / "lake")


def server_now(dsn: str) -> datetime:
    with psycopg.connect(dsn) as conn:
        return conn.execute("SELECT now()").fetchone()[0]  # type: ignore[index]


# --------------------------------------------------------------------------------------


@pytest.mark.postgres
def test_postgres_fixture_gives_an_empty_private_database(postgres_db: str) -> None:
    with psycopg.connect(postgres_db) as conn:
        tables = conn.execute(
            "SELECT count(*) FROM pg_tables WHERE schemaname NOT IN "
            "('pg_catalog', 'information_schema')"
        ).fetchone()
        listen = conn.execute("SHOW listen_addresses").fetchone()
        dbname = conn.execute("SELECT current_database()").fetchone()
    assert tables == (0,)
    assert listen == ("127.0.0.1",)
    assert dbname is not None
    assert dbname[0] not in ("postgres", "template1")


@pytest.mark.postgres
def test_load_products_table_builds_the_contract_table(postgres_db: str) -> None:
    rows = [product("p1", T0), product("p2", T0 + timedelta(seconds=1), unit_cost=None)]
    assert load_products_table(postgres_db, TABLE, rows) == 2
    with psycopg.connect(postgres_db) as conn:
        columns = conn.execute(
            "SELECT column_name, data_type, is_nullable, numeric_precision, numeric_scale "
            "FROM information_schema.columns WHERE table_schema = 'public' "
            "AND table_name = 'products' ORDER BY ordinal_position"
        ).fetchall()
        pkey = conn.execute(
            "SELECT a.attname FROM pg_index i JOIN pg_attribute a "
            "ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) "
            "WHERE i.indrelid = 'public.products'::regclass AND i.indisprimary"
        ).fetchall()
        indexdefs = [
            r[0]
            for r in conn.execute(
                "SELECT indexdef FROM pg_indexes WHERE tablename = 'products'"
            ).fetchall()
        ]
    assert columns == [
        ("product_id", "text", "NO", None, None),
        ("sku", "text", "NO", None, None),
        ("name", "text", "NO", None, None),
        ("category", "text", "NO", None, None),
        ("subcategory", "text", "YES", None, None),
        ("brand", "text", "YES", None, None),
        ("list_price", "numeric", "NO", 12, 2),
        ("unit_cost", "numeric", "YES", 12, 2),
        ("is_active", "boolean", "NO", None, None),
        ("updated_at", "timestamp with time zone", "NO", None, None),
    ]
    assert pkey == [("product_id",)]
    assert any(re.search(r"\(updated_at\b", d) for d in indexdefs), indexdefs

    # Upsert: identical rows change nothing, a changed row replaces the old one, and a
    # product given twice in one call keeps its newest version.
    assert load_products_table(postgres_db, TABLE, rows) == 0
    changed = product("p1", T0 + timedelta(minutes=5), list_price=Decimal("21.00"))
    older = product("p1", T0 + timedelta(minutes=1), list_price=Decimal("1.00"))
    assert load_products_table(postgres_db, TABLE, [changed, older]) == 1
    with psycopg.connect(postgres_db) as conn:
        got = conn.execute(
            "SELECT product_id, list_price, updated_at FROM products ORDER BY product_id"
        ).fetchall()
    assert got == [
        ("p1", Decimal("21.00"), T0 + timedelta(minutes=5)),
        ("p2", Decimal("19.90"), T0 + timedelta(seconds=1)),
    ]
    with pytest.raises(ValueError, match="sku"):
        load_products_table(postgres_db, TABLE, [product("p3", T0, sku=None)])


@pytest.mark.postgres
def test_first_extract_copies_everything_then_nothing_changes(postgres_db: str, lake: Lake) -> None:
    load_products_table(
        postgres_db,
        TABLE,
        [product("p2", T0), product("p1", T0 + timedelta(hours=1)), product("p3", T0)],
    )
    landed = datetime(2026, 11, 20, 8, 30, 15, 250000, tzinfo=UTC)

    first = extract_products(lake, postgres_db, TABLE, now=lambda: landed)

    assert first.rows == 3
    assert first.file == "raw/products/2026/11/20/products-20261120T083015250000Z.csv"
    assert first.old_watermark is None
    assert first.new_watermark == T0 + timedelta(hours=1)
    assert visible_csvs(lake) == [lake.absolute(first.file)]
    # ordered by (updated_at, product_id)
    assert ids_in(lake.absolute(first.file)) == ["p2", "p3", "p1"]
    assert lake.raw_files(PRODUCTS) == [lake.absolute(first.file)]  # ingest will see it
    assert lake.state_dir("extract", "products.json").is_file()
    report = first.as_report()
    assert report.rows[0][1] == 3
    assert report.rows[0][2] == first.file

    second = extract_products(lake, postgres_db, TABLE)

    assert second.rows == 0
    assert second.file is None
    assert second.old_watermark == second.new_watermark == T0 + timedelta(hours=1)
    assert visible_csvs(lake) == [lake.absolute(first.file)]
    assert not [p for p in raw_files(lake) if p.name.startswith("_")]
    assert second.as_report().rows[0][1] == 0


@pytest.mark.postgres
def test_updates_after_the_watermark_are_picked_up(postgres_db: str, lake: Lake) -> None:
    load_products_table(postgres_db, TABLE, [product(p, T0) for p in ("p1", "p2", "p3")])
    extract_products(lake, postgres_db, TABLE)

    load_products_table(
        postgres_db,
        TABLE,
        [
            product("p2", T0 + timedelta(minutes=10), list_price=Decimal("24.50")),
            product("p4", T0 + timedelta(minutes=5)),
        ],
    )
    result = extract_products(lake, postgres_db, TABLE)

    assert result.rows == 2
    assert result.old_watermark == T0
    assert result.new_watermark == T0 + timedelta(minutes=10)
    rows = read_csv(lake.absolute(result.file or ""))
    assert [(r["product_id"], r["list_price"], r["updated_at"]) for r in rows] == [
        ("p4", "19.90", "2026-03-01T12:05:00.000000Z"),
        ("p2", "24.50", "2026-03-01T12:10:00.000000Z"),
    ]
    assert extract_products(lake, postgres_db, TABLE).rows == 0


@pytest.mark.postgres
def test_rows_at_the_watermark_instant_are_not_lost(postgres_db: str, lake: Lake) -> None:
    t1, t2 = T0, T0 + timedelta(seconds=30)
    load_products_table(postgres_db, TABLE, [product("p-b", t1), product("p-m", t2)])
    first = extract_products(lake, postgres_db, TABLE)
    assert first.rows == 2
    assert first.new_watermark == t2

    # Committed after the first run, stamped with exactly the watermark instant; one id
    # sorts before the last extracted id (defeats a (updated_at, id) keyset), one after.
    load_products_table(postgres_db, TABLE, [product("p-a", t2), product("p-z", t2)])
    second = extract_products(lake, postgres_db, TABLE)

    assert second.rows == 2
    assert ids_in(lake.absolute(second.file or "")) == ["p-a", "p-z"]  # p-m not repeated
    assert second.new_watermark == t2

    # Still at the same instant: remembered keys accumulate, nothing is delivered twice.
    load_products_table(postgres_db, TABLE, [product("p-c", t2)])
    third = extract_products(lake, postgres_db, TABLE)
    assert ids_in(lake.absolute(third.file or "")) == ["p-c"]
    assert extract_products(lake, postgres_db, TABLE).rows == 0

    delivered = [pid for f in visible_csvs(lake) for pid in ids_in(f)]
    assert sorted(delivered) == ["p-a", "p-b", "p-c", "p-m", "p-z"]


@pytest.mark.postgres
def test_crash_before_the_watermark_is_saved_loses_nothing(
    postgres_db: str, lake: Lake, monkeypatch: pytest.MonkeyPatch
) -> None:
    load_products_table(postgres_db, TABLE, [product(f"p{i}", T0) for i in range(3)])

    def crash(*args: object) -> None:
        raise OSError("disk full while saving the watermark")

    monkeypatch.setattr(extract, "_save_state", crash)
    with pytest.raises(OSError, match="disk full"):
        extract_products(lake, postgres_db, TABLE)
    monkeypatch.undo()

    [crashed_file] = visible_csvs(lake)  # the file was published before the crash
    assert ids_in(crashed_file) == ["p0", "p1", "p2"]
    assert not lake.state_dir("extract", "products.json").exists()

    rerun = extract_products(
        lake, postgres_db, TABLE, now=lambda: datetime.now(UTC) + timedelta(seconds=1)
    )
    assert rerun.rows == 3  # same rows again: ingest counts them as duplicates
    assert len(visible_csvs(lake)) == 2

    load_products_table(postgres_db, TABLE, [product("p1", T0 + timedelta(hours=1))])
    after = extract_products(lake, postgres_db, TABLE)
    assert ids_in(lake.absolute(after.file or "")) == ["p1"]
    assert not [p for p in raw_files(lake) if p.name.startswith("_")]


@pytest.mark.postgres
def test_failure_while_writing_leaves_no_file_and_no_watermark(
    postgres_db: str, lake: Lake, monkeypatch: pytest.MonkeyPatch
) -> None:
    load_products_table(
        postgres_db,
        TABLE,
        [product("p1", T0), product("p2", T0, list_price=Decimal("66.60")), product("p3", T0)],
    )

    def explode(value: Decimal) -> str:
        if value == Decimal("66.60"):
            raise RuntimeError("boom on the second row")
        return str(value)

    monkeypatch.setitem(extract._FORMATTERS, extract.Kind.AMOUNT, explode)
    with pytest.raises(RuntimeError, match="boom"):
        extract_products(lake, postgres_db, TABLE)
    monkeypatch.undo()

    assert [p for p in raw_files(lake) if p.is_file()] == []  # neither final nor temp file
    assert not lake.state_dir("extract", "products.json").exists()
    assert extract_products(lake, postgres_db, TABLE).rows == 3


@pytest.mark.postgres
def test_output_csv_follows_the_raw_contract(postgres_db: str, lake: Lake) -> None:
    with psycopg.connect(postgres_db, autocommit=True) as conn:  # a non-UTC session default
        conn.execute(
            psycopg.sql.SQL("ALTER DATABASE {} SET timezone = 'Asia/Kolkata'").format(
                psycopg.sql.Identifier(conn.info.dbname)
            )
        )
    plus_two = timezone(timedelta(hours=2))
    load_products_table(
        postgres_db,
        TABLE,
        [
            {
                "product_id": "P-0001",
                "sku": "MUG-L",
                "name": 'Mug, "large"\nblue',
                "category": "Kitchen",
                "subcategory": None,
                "brand": "Ünïcode ☕",
                "list_price": Decimal("12.5"),
                "unit_cost": None,
                "is_active": False,
                "updated_at": datetime(2026, 3, 1, 14, 5, 9, 123456, tzinfo=plus_two),
            },
            {
                "product_id": "P-0002",
                "sku": "LAMP",
                "name": "Lamp",
                "category": "Home",
                "subcategory": "Lighting",
                "brand": "",
                "list_price": Decimal("7"),
                "unit_cost": Decimal("1000000.99"),
                "is_active": True,
                "updated_at": datetime(2026, 3, 1, 23, 30, tzinfo=UTC),
            },
        ],
    )
    result = extract_products(lake, postgres_db, TABLE)
    path = lake.absolute(result.file or "")

    data = path.read_bytes()
    assert not data.startswith(b"\xef\xbb\xbf")
    with path.open(encoding="utf-8", newline="") as f:
        reader = csv.reader(f)
        header = next(reader)
        body = list(reader)
    assert header == CONTRACT_COLUMNS
    assert [f.raw_name for f in PRODUCTS.fields] == CONTRACT_COLUMNS
    assert body == [
        [
            "P-0001",
            "MUG-L",
            'Mug, "large"\nblue',
            "Kitchen",
            "",
            "Ünïcode ☕",
            "12.50",
            "",
            "false",
            "2026-03-01T12:05:09.123456Z",
        ],
        [
            "P-0002",
            "LAMP",
            "Lamp",
            "Home",
            "Lighting",
            "",
            "7.00",
            "1000000.99",
            "true",
            "2026-03-01T23:30:00.000000Z",
        ],
    ]
    assert all(UTC_MICROS.match(row[-1]) for row in body)
    assert result.new_watermark == datetime(2026, 3, 1, 23, 30, tzinfo=UTC)


@pytest.mark.postgres
def test_large_catalog_streams_in_batches_in_order(postgres_db: str, lake: Lake) -> None:
    rows = [product(f"p{i:03d}", T0 + timedelta(seconds=i // 4)) for i in range(57)]
    load_products_table(postgres_db, TABLE, reversed(rows))

    result = extract_products(lake, postgres_db, TABLE, batch_size=10)

    assert result.rows == 57
    assert ids_in(lake.absolute(result.file or "")) == [f"p{i:03d}" for i in range(57)]
    assert result.new_watermark == T0 + timedelta(seconds=14)
    assert result.keys_at_watermark == 1  # only p056 shares the last instant


@pytest.mark.postgres
def test_future_and_too_recent_rows_wait_for_a_later_run(postgres_db: str, lake: Lake) -> None:
    now = server_now(postgres_db)
    load_products_table(
        postgres_db,
        TABLE,
        [product("past", T0), product("future", now + timedelta(hours=1))],
    )
    first = extract_products(lake, postgres_db, TABLE, safety_lag=timedelta(0))
    assert ids_in(lake.absolute(first.file or "")) == ["past"]
    assert first.new_watermark == T0  # the future row did not move it

    # A normal write after the run, stamped before the future row: must be found.
    load_products_table(postgres_db, TABLE, [product("recent", now - timedelta(seconds=2))])
    held_back = extract_products(lake, postgres_db, TABLE, safety_lag=timedelta(minutes=1))
    assert held_back.rows == 0  # younger than the lag
    assert held_back.cutoff < now
    picked = extract_products(lake, postgres_db, TABLE, safety_lag=timedelta(0))
    assert ids_in(lake.absolute(picked.file or "")) == ["recent"]


@pytest.mark.postgres
def test_schema_qualified_table_names_are_quoted(postgres_db: str, lake: Lake) -> None:
    odd = 'Catalog."Stock".products'  # three parts: rejected, not interpolated
    with pytest.raises(ShoplakeError, match="invalid products table name"):
        extract_products(lake, postgres_db, odd)

    table = "Catalog.Product List"
    assert load_products_table(postgres_db, table, [product("p1", T0)]) == 1
    with psycopg.connect(postgres_db) as conn:
        found = conn.execute(
            "SELECT table_schema, table_name FROM information_schema.tables "
            "WHERE table_schema = 'Catalog'"
        ).fetchall()
    assert found == [("Catalog", "Product List")]
    assert extract_products(lake, postgres_db, table).rows == 1

    # state is kept per table: the default table is a separate source
    load_products_table(postgres_db, TABLE, [product("q1", T0)])
    assert ids_in(lake.absolute(extract_products(lake, postgres_db, TABLE).file or "")) == ["q1"]


@pytest.mark.postgres
def test_missing_table_or_column_is_a_clear_error(postgres_db: str, lake: Lake) -> None:
    with pytest.raises(ShoplakeError) as missing:
        extract_products(lake, postgres_db, "public.nope")
    assert "'public.nope' does not exist" in str(missing.value)
    assert "\n" not in str(missing.value)

    load_products_table(postgres_db, TABLE, [product("p1", T0)])
    with pytest.raises(ShoplakeError, match="does not exist"):
        extract_products(lake, postgres_db, "public.products; DROP TABLE products")
    with psycopg.connect(postgres_db) as conn:
        assert conn.execute("SELECT count(*) FROM public.products").fetchone() == (1,)
        conn.execute("CREATE TABLE public.thin (product_id text, updated_at timestamptz)")
    with pytest.raises(ShoplakeError, match="lacks a contract column"):
        extract_products(lake, postgres_db, "public.thin")
    assert visible_csvs(lake) == []


def test_connection_errors_are_one_line_and_hide_the_password(lake: Lake) -> None:
    with socket.socket() as closed:  # bound but not listening: connection refused
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
        dsns = [
            f"host=127.0.0.1 port={port} dbname=shop user=etl password=s3cr3t-pw",
            f"postgresql://etl:s3cr3t-pw@127.0.0.1:{port}/shop",
        ]
        for dsn in dsns:
            with pytest.raises(ShoplakeError) as err:
                extract_products(lake, dsn, TABLE)
            message = str(err.value)
            assert "s3cr3t-pw" not in message
            assert "\n" not in message
            assert message.startswith(f"cannot connect to PostgreSQL at 127.0.0.1:{port}/shop")
            assert err.value.hint

    with pytest.raises(ShoplakeError) as bad:
        extract_products(lake, "host=127.0.0.1 password=s3cr3t-pw dbname", TABLE)
    assert str(bad.value).startswith("invalid PostgreSQL DSN")
    assert "s3cr3t-pw" not in str(bad.value)
    assert not lake.root.exists() or visible_csvs(lake) == []


@pytest.mark.postgres
def test_cli_extract_products(
    postgres_db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # no shoplake.toml from the working directory
    for var in ("SHOPLAKE_LAKE", "SHOPLAKE_POSTGRES_DSN", "SHOPLAKE_PRODUCTS_TABLE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.delenv("SHOPLAKE_CONFIG", raising=False)
    load_products_table(postgres_db, TABLE, [product("p1", T0), product("p2", T0)])
    runner = CliRunner()
    args = ["extract", "products", "--lake", str(tmp_path / "lk"), "--postgres-dsn", postgres_db]

    first = runner.invoke(app, args)
    assert first.exit_code == 0, first.output
    [written] = visible_csvs(Lake.at(tmp_path / "lk"))
    assert ids_in(written) == ["p1", "p2"]
    assert Lake.at(tmp_path / "lk").relative(written) in first.output
    assert re.search(r"^products\t2\t", first.output, re.M), first.output

    again = runner.invoke(app, args)
    assert again.exit_code == 0, again.output
    assert "no new or changed products" in again.output
    assert len(visible_csvs(Lake.at(tmp_path / "lk"))) == 1

    bad = runner.invoke(app, [*args[:-1], "host=127.0.0.1 port=1 password=hunter2"])
    assert bad.exit_code != 0
    assert isinstance(bad.exception, ShoplakeError)
    assert "hunter2" not in str(bad.exception)
