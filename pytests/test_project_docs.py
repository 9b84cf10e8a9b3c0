"""The reference pages in docs/ are generated from their one definition and in sync."""

from __future__ import annotations

from shoplake.contract import DATASETS
from shoplake.project_docs import CONTRACT_MD, WAREHOUSE_MD, main, rendered
from shoplake.warehouse import project_dir


def test_committed_pages_are_generated_from_their_definitions():
    for relative, text in rendered(project_dir()).items():
        assert (project_dir() / relative).read_text("utf-8") == text, (
            f"{relative} is out of date: run `python -m shoplake.project_docs`"
        )
    assert main(["--check", "--project-dir", str(project_dir())]) == 0


def test_contract_page_names_every_dataset_field_and_path():
    page = (project_dir() / CONTRACT_MD).read_text("utf-8")
    for name, ds in DATASETS.items():
        assert f"### {name}\n" in page
        assert f"`raw/{name}/YYYY/MM/DD/" in page
        for f in ds.fields:
            assert f"| {f.raw_name} |" in page


def test_warehouse_page_names_every_mart_the_project_builds():
    page = (project_dir() / WAREHOUSE_MD).read_text("utf-8")
    marts = sorted((project_dir() / "models" / "marts").rglob("*.sql"))
    assert marts
    for sql in marts:
        assert f"### {sql.stem}\n" in page
