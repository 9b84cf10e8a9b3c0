"""The README and docs/ say only what the code does: every ``SHOPLAKE_*`` variable they
name is read by the code (or the dbt project), the ``shoplake.toml`` keys the README lists
are the settings, and no count that goes stale (``165 tests``) is written into the README
by hand."""

from __future__ import annotations

import re
from dataclasses import fields
from pathlib import Path

from shoplake.config import Settings

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
#: Where a variable may be read: the package, the dbt project and its profile, the
#: scripts, and the tests (test-only switches such as SHOPLAKE_SCREENSHOT_DIR).
CODE = [
    *(ROOT / "src").rglob("*.py"),
    *(ROOT / "models").rglob("*.yml"),
    *(ROOT / "models").rglob("*.sql"),
    *(ROOT / "macros").rglob("*.sql"),
    *(ROOT / "scripts").glob("*"),
    *(ROOT / "pytests").rglob("*.py"),
    ROOT / "dbt_project.yml",
    ROOT / "profiles.yml.example",
]
VARIABLE = re.compile(r"\bSHOPLAKE_[A-Z0-9_]*[A-Z0-9]\b")


def test_every_variable_the_docs_name_is_read_by_the_code() -> None:
    code = "\n".join(p.read_text("utf-8", errors="replace") for p in CODE if p.is_file())
    code = code.replace(Path(__file__).read_text("utf-8"), "")  # not this check itself
    for doc in DOCS:
        named = set(VARIABLE.findall(doc.read_text("utf-8")))
        missing = sorted(v for v in named if v not in code)
        assert not missing, f"{doc.name} names variables no code reads: {missing}"


def test_the_readme_lists_the_settings_of_shoplake_toml() -> None:
    readme = ROOT.joinpath("README.md").read_text("utf-8")
    listed = re.search(r"`shoplake\.toml` \(`\[shoplake\]` table with (.*?)\)", readme, re.S)
    assert listed, "the README's configuration paragraph is gone"
    keys = set(re.findall(r"`(\w+)`", listed.group(1)))
    assert keys == {f.name for f in fields(Settings)}


def test_the_readme_writes_no_count_by_hand() -> None:
    readme = ROOT.joinpath("README.md").read_text("utf-8")
    counts = re.findall(
        r"\b\d[\d,]* (?:data |unit |dbt |python )?(?:tests|models|marts|checks)\b", readme, re.I
    )
    assert not counts, f"counts that go stale, written by hand: {counts}"
