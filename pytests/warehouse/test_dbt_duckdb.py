"""dbt build on DuckDB over the lake; incremental runs equal a full refresh."""

from __future__ import annotations

import json
from datetime import datetime

import duckdb
from marts import DIMENSIONS, FACTS, GOLD
from warehouse_kit import duckdb_rows

from shoplake.ingest import run_ingest
from shoplake.lake import Lake
from shoplake.landing import land
from shoplake.warehouse import artifacts_dir, build, default_duckdb_path, docs_generate


def test_incremental_build_equals_full_refresh(fixture_lake, tmp_path):
    lake, fixture = fixture_lake
    # (the data tests run on the incremental build below)
    first = build(lake, tests=False, quiet=True)
    assert first.ok
    warehouse = default_duckdb_path(lake)
    before = {t: duckdb_rows(warehouse, t) for t in FACTS}
    _assert_documented_as_built(lake)
    assert (docs_generate(lake, quiet=True) / "index.html").is_file()

    # A second run with no new silver rows changes nothing.
    assert build(lake, tests=False, quiet=True).ok
    assert {t: duckdb_rows(warehouse, t) for t in FACTS} == before

    # The next ingest run: a new day, late lines and payments for old orders, status
    # changes of old orders, a customer and a product change, a late click.
    fixture.add_increment(ingested_at=datetime(2026, 11, 2, 6, 0))
    fixture.write()
    incremental = build(lake, quiet=True)
    assert incremental.ok

    rebuilt = tmp_path / "full_refresh.duckdb"
    full = build(lake, duckdb_path=rebuilt, full_refresh=True, tests=False, quiet=True)
    assert full.ok

    for table in FACTS + GOLD + DIMENSIONS:
        got, want = duckdb_rows(warehouse, table), duckdb_rows(rebuilt, table)
        assert got == want, f"{table}: incremental result differs from a full refresh"

    # ... and the increment did change the facts (the check is not vacuous).
    after = {t: duckdb_rows(warehouse, t) for t in FACTS}
    for table in FACTS:
        assert len(after[table]) > len(before[table]), table
    con = duckdb.connect(str(warehouse), read_only=True)
    changed = con.execute(
        "select count(*) from fact_orders where status = 'returned' "
        "and ingested_at = timestamp '2026-11-02 06:00:00' and order_date < date '2026-10-07'"
    ).fetchone()[0]
    late_lines = con.execute(
        "select count(*) from sales_fact where ingested_at = timestamp '2026-11-02 06:00:00' "
        "and sold_at < timestamp '2026-10-07'"
    ).fetchone()[0]
    con.close()
    assert changed >= 1, "status changes of old orders did not reach fact_orders"
    assert late_lines >= 3, "late order lines did not reach sales_fact"


def _assert_documented_as_built(lake: Lake) -> None:
    """Every model, seed and source is described, and so is every column it really has;
    each model is built in its layer's schema (staging and intermediate models in schemas
    of their own, the marts and seeds in main)."""
    manifest = json.loads((artifacts_dir(lake) / "target" / "manifest.json").read_text())
    con = duckdb.connect(str(default_duckdb_path(lake)), read_only=True)
    layers = {"staging": "main_staging", "intermediate": "main_intermediate"}
    schemas = set()
    try:
        for node in manifest["nodes"].values():
            if node["resource_type"] not in ("model", "seed"):
                continue
            name = node["name"]
            folder = node["original_file_path"].split("/")[1]  # models/<layer>/...
            schema = layers.get(folder, "main") if node["resource_type"] == "model" else "main"
            schemas.add(schema)
            assert node["description"].strip(), f"{name} has no description"
            documented = {c: v["description"] for c, v in node["columns"].items()}
            actual = [r[0] for r in con.execute(f"describe {schema}.{name}").fetchall()]
            missing = [c for c in actual if not documented.get(c, "").strip()]
            assert not missing, f"{name}: undocumented columns {missing}"
            assert set(documented) <= set(actual), f"{name}: documents columns it lacks"
    finally:
        con.close()
    assert schemas == {"main", "main_staging", "main_intermediate"}
    for source in manifest["sources"].values():
        assert source["description"].strip()
        assert all(c["description"].strip() for c in source["columns"].values())
    assert manifest["exposures"], "the dashboard exposure is missing"


def test_a_build_that_spills_past_the_memory_limit_goes_on(generated_raw, tmp_path, monkeypatch):
    """At a 40 MB limit even this small lake's models spill to the temp directory. The
    profile gives DuckDB its limits once, when the database opens: set again on each new
    cursor, as dbt-duckdb does with `settings`, DuckDB refused to switch the temp
    directory after a spill and the next model failed."""
    lake = Lake.at(tmp_path / "lake")
    assert land(generated_raw, lake) > 0
    assert run_ingest(lake).balanced
    monkeypatch.setenv("SHOPLAKE_DUCKDB_MEMORY_LIMIT", "40MB")
    result = build(lake, quiet=True)
    assert result.ok, result.failures
    con = duckdb.connect(str(default_duckdb_path(lake)), read_only=True)
    try:
        assert con.execute("select count(*) from main.fact_orders").fetchone()[0] > 0
    finally:
        con.close()
