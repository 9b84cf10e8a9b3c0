"""The pre-commit hooks (.pre-commit-config.yaml) run offline on a clean clone and catch
a model that is not formatted as SQLFluff wants; every other hook passes there."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import yaml

from shoplake.warehouse import project_dir

UNFORMATTED = "models/marts/core/dim_users.sql"
HOOKS = ("ruff", "ruff-format", "sqlfluff", "sources-in-sync", "dbt-parse")


def test_hooks_are_local_and_download_nothing():
    config = yaml.safe_load((project_dir() / ".pre-commit-config.yaml").read_text("utf-8"))
    assert [repo["repo"] for repo in config["repos"]] == ["local"]
    hooks = config["repos"][0]["hooks"]
    assert [h["id"] for h in hooks] == list(HOOKS)
    for hook in hooks:
        assert hook["language"] == "system"
        assert "additional_dependencies" not in hook


def test_hooks_run_offline_on_a_clean_clone_and_catch_an_unformatted_model(tmp_path):
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "--quiet", str(project_dir()), str(clone)], check=True)
    model = clone / UNFORMATTED
    original = model.read_text("utf-8")
    assert "select" in original
    model.write_text(original.replace("select", "SELECT"), "utf-8")  # keywords must be lower case
    subprocess.run(["git", "add", UNFORMATTED], cwd=clone, check=True)
    home = tmp_path / "pre-commit-home"
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "PYTHONPATH": str(clone / "src"),
        "PRE_COMMIT_HOME": str(home),
        # no way out: any download would fail (and be seen below)
        "PIP_NO_INDEX": "1",
        "HTTPS_PROXY": "http://127.0.0.1:9",
        "HTTP_PROXY": "http://127.0.0.1:9",
        "https_proxy": "http://127.0.0.1:9",
        "http_proxy": "http://127.0.0.1:9",
    }
    env.pop("SHOPLAKE_DBT_PROJECT_DIR", None)
    proc = subprocess.run(
        [sys.executable, "-m", "pre_commit", "run", "--all-files", "--color", "never"],
        cwd=clone,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=900,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1, out
    verdicts = {}
    for line in out.splitlines():
        for name in (
            "ruff (lint)",
            "ruff (format)",
            "SQLFluff (dbt templater)",
            "dbt sources generated from the contract",
            "dbt parse",
        ):
            if line.startswith(name + "..."):
                verdicts[name] = line.rsplit(".", 1)[-1].strip()
    assert verdicts == {
        "ruff (lint)": "Passed",
        "ruff (format)": "Passed",
        "SQLFluff (dbt templater)": "Failed",
        "dbt sources generated from the contract": "Passed",
        "dbt parse": "Passed",
    }, out
    sqlfluff_report = out.split("SQLFluff (dbt templater)", 1)[1].split("dbt sources generated", 1)[
        0
    ]
    failing = {
        ln.split()[1].strip("[]") for ln in sqlfluff_report.splitlines() if ln.endswith("] FAIL")
    }
    assert failing == {UNFORMATTED}, sqlfluff_report
    assert "CP01" in sqlfluff_report
    # nothing was fetched: no hook repository or environment in pre-commit's home
    fetched = [p for p in home.rglob("*") if p.is_dir()] if home.exists() else []
    assert fetched == []
