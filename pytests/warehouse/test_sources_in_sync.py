"""The dbt sources are generated from shoplake.contract: the committed file must match."""

from __future__ import annotations

import yaml

from shoplake.contract import DATASETS, PARTITION_COLUMNS
from shoplake.dbt_sources import SOURCES_YAML, main, render_sources_yaml
from shoplake.warehouse import project_dir


def test_committed_sources_yaml_is_generated_from_the_contract():
    committed = (project_dir() / SOURCES_YAML).read_text("utf-8")
    assert committed == render_sources_yaml(), (
        "models/staging/lake/_lake__sources.yml is out of date: "
        "run `python -m shoplake.dbt_sources`"
    )
    assert main(["--check", "--project-dir", str(project_dir())]) == 0


def test_every_dataset_column_is_a_source_column_with_freshness():
    doc = yaml.safe_load(render_sources_yaml())
    (source,) = doc["sources"]
    assert source["config"]["loaded_at_field"] == "ingested_at"
    assert set(source["config"]["freshness"]) == {"warn_after", "error_after"}
    tables = {t["name"]: t for t in source["tables"]}
    assert set(tables) == set(DATASETS)
    for name, ds in DATASETS.items():
        table = tables[name]
        assert [c["name"] for c in table["columns"]] == [c for c, _ in ds.silver_columns]
        assert all(c["description"] and c["data_type"] for c in table["columns"])
        assert [p["name"] for p in table["external"]["partitions"]] == list(PARTITION_COLUMNS)
        assert f"/silver/{name}/" in table["config"]["external_location"]
        assert "hive_partitioning = true" in table["config"]["external_location"]
