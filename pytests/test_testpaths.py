"""pyproject's ``testpaths`` lists the test folders in the order xdist hands them out;
every test module of the tree must be under one of them, or `make test` never runs it."""

from __future__ import annotations

from pathlib import Path

from shoplake.config import tomllib  # the standard library's, or tomli before 3.11

ROOT = Path(__file__).resolve().parent.parent


def test_every_test_module_is_under_a_testpath() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))
    testpaths = config["tool"]["pytest"]["ini_options"]["testpaths"]
    covered: set[Path] = set()
    for entry in testpaths:
        for path in ROOT.glob(entry):
            covered.update([path] if path.is_file() else path.rglob("test_*.py"))
    modules = set((ROOT / "pytests").rglob("test_*.py"))
    assert modules, "no test module found: the check would prove nothing"
    assert sorted(p.relative_to(ROOT) for p in modules - covered) == []
