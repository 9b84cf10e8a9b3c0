"""The dbt project's conventions, checked by dbt-score on the manifest of a real build:
dbt-score's generic rules (documentation) and the project's own
(src/shoplake/dbt_conventions.py)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from shoplake.warehouse import project_dir


def dbt_score(manifest: Path) -> tuple[int, dict]:
    """``dbt-score lint`` of ``manifest`` with the project's configuration (pyproject.toml)."""
    proc = subprocess.run(
        [sys.executable, "-m", "dbt_score", "lint", "--manifest", str(manifest), "-f", "json"],
        cwd=project_dir(),
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    start = proc.stdout.find("{")
    assert start >= 0, proc.stdout + proc.stderr
    return proc.returncode, json.JSONDecoder().raw_decode(proc.stdout[start:])[0]


def failures(report: dict) -> dict[str, set[str]]:
    """Failing rule names (without their namespace) per evaluated item."""
    failing: dict[str, set[str]] = {}
    for name, item in report["evaluables"].items():
        bad = {r.rsplit(".", 1)[-1] for r, v in item["results"].items() if v["result"] != "OK"}
        if bad:
            failing[name] = bad
    return failing


def test_every_model_follows_the_conventions(built_lake) -> None:
    manifest = built_lake.lake.root / "_state" / "dbt" / "dev" / "target" / "manifest.json"
    code, report = dbt_score(manifest)
    assert failures(report) == {}
    assert code == 0
    models = [name for name in report["evaluables"] if name.startswith("model.")]
    assert len(models) > 20  # the project's models were all evaluated


def test_a_model_that_breaks_a_convention_is_caught(built_lake, tmp_path: Path) -> None:
    source = built_lake.lake.root / "_state" / "dbt" / "dev" / "target" / "manifest.json"
    manifest = json.loads(source.read_text("utf-8"))
    nodes = manifest["nodes"]
    # a gold mart made protected, a core mart without its contract, a model misnamed
    gold = nodes["model.shoplake.agg_daily_revenue"]
    gold["access"] = "protected"
    nodes["model.shoplake.dim_products"]["config"]["contract"] = {"enforced": False}
    misnamed = nodes.pop("model.shoplake.int_sales_converted")
    misnamed["name"] = "sales_converted"
    misnamed["unique_id"] = "model.shoplake.sales_converted"
    nodes[misnamed["unique_id"]] = misnamed
    for node in nodes.values():  # its tests follow it
        if node.get("attached_node") == "model.shoplake.int_sales_converted":
            node["attached_node"] = misnamed["unique_id"]
        depends = node.get("depends_on", {}).get("nodes", [])
        node.get("depends_on", {})["nodes"] = [
            misnamed["unique_id"] if d == "model.shoplake.int_sales_converted" else d
            for d in depends
        ]
    broken = tmp_path / "manifest.json"
    broken.write_text(json.dumps(manifest), "utf-8")

    code, report = dbt_score(broken)
    assert code != 0
    failing = failures(report)
    assert failing == {
        "model.shoplake.agg_daily_revenue": {"access_follows_the_layer"},
        "model.shoplake.dim_products": {"mart_contract_is_enforced"},
        "model.shoplake.sales_converted": {"name_follows_its_layer"},
    }
