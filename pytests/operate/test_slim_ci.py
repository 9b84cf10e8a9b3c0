"""The pull-request job of .github/workflows/dbt.yml, run step by step on a clean clone
where one model was changed: only that model and its children are built, everything
else is read from production's relations (deferred to production's artifacts).

"Production" is the dev target of a lake holding the session's small silver data
(``built_lake``'s), built by the workflow's main job (the one full build here: DuckDB at
``<lake>/warehouse.duckdb``, artifacts pushed); the pull request builds
into a DuckDB file of its own and attaches production's read-only
(SHOPLAKE_DEFER_DUCKDB), as docs/ci.md describes for DuckDB. The steps are read from the
workflow file, not restated; ``uses:`` steps (checkout, Python) are the runner's
business and skipped.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import yaml
from cli_kit import run_shoplake, the_error_line

from shoplake.lake import Lake
from shoplake.warehouse import artifacts_dir, project_dir

CHANGED_MODEL = "models/marts/core/dim_customers.sql"
CHANGED_ID = "model.shoplake.dim_customers"
#: Where a model lives on DuckDB, by its layer (macros/generate_schema_name.sql): the
#: marts in main, staging and intermediate models in schemas of their own.
LAYER_SCHEMAS = {"stg": "main_staging", "int": "main_intermediate"}


def schema_of(model: str) -> str:
    return LAYER_SCHEMAS.get(model.split("_")[0], "main")


def git(*args: str, cwd: Path) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, check=True, capture_output=True, text=True
    ).stdout.strip()


def clean_clone(tmp_path: Path) -> tuple[Path, str]:
    """A clone of this repository with the pull request's change committed on a branch;
    returns it and the branch the pull request targets."""
    clone = tmp_path / "clone"
    git("clone", "--quiet", str(project_dir()), str(clone), cwd=tmp_path)
    base = git("rev-parse", "--abbrev-ref", "HEAD", cwd=clone)
    git("checkout", "--quiet", "-b", "the-pull-request", cwd=clone)
    model = clone / CHANGED_MODEL
    model.write_text(model.read_text("utf-8") + "-- the pull request's change\n", "utf-8")
    git("-c", "user.name=ci", "-c", "user.email=ci@example.com", "commit", "-qam", "pr", cwd=clone)
    return clone, base


def provide_venv(clone: Path) -> None:
    """The runner's `make setup` result without installing anything: .venv/bin holds
    wrappers around this interpreter, and the install stamp is newer than pyproject.toml
    (so `make setup` has nothing to do and every make target runs its recipe)."""
    bin_dir = clone / ".venv" / "bin"
    bin_dir.mkdir(parents=True)
    real_bin = Path(sys.executable).parent
    wrappers = {
        "python": f'exec {sys.executable} "$@"',
        "shoplake": f'exec {sys.executable} -m shoplake.cli "$@"',
        "ruff": f'exec {real_bin / "ruff"} "$@"',
        "mypy": f'exec {real_bin / "mypy"} "$@"',
    }
    for name, body in wrappers.items():
        (bin_dir / name).write_text(f"#!/bin/sh\n{body}\n")
        (bin_dir / name).chmod(0o755)
    os.utime(clone / "pyproject.toml", (1_000_000_000, 1_000_000_000))
    (clone / ".venv" / ".installed-stamp").touch()


def run_step(step: dict, clone: Path, env: dict[str, str], github_path: Path) -> None:
    """One ``run:`` step as the runner runs it (``bash -e``); what it appends to the
    GITHUB_PATH file is put in front of PATH for the steps after it."""
    github_path.touch()
    env["GITHUB_PATH"] = str(github_path)
    proc = subprocess.run(
        ["bash", "-e", "-c", step["run"]],
        cwd=clone,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, (step["name"], proc.stdout[-3000:], proc.stderr[-3000:])
    for entry in github_path.read_text().split():
        if entry not in env["PATH"].split(os.pathsep):
            env["PATH"] = f"{entry}{os.pathsep}{env['PATH']}"


def descendant_models(manifest: dict, node: str) -> set[str]:
    found, todo = set(), [node]
    while todo:
        for child in manifest["child_map"][todo.pop()]:
            if child.startswith("model.") and child not in found:
                found.add(child)
                todo.append(child)
    return found


def test_pull_request_job_builds_the_changed_model_and_its_children_and_defers_the_rest(
    built_lake, tmp_path
):
    # production: a lake with the session's small silver data, built by the main job
    production = Lake.at(tmp_path / "production")
    shutil.copytree(built_lake.lake.root / "silver", production.root / "silver")
    prod_warehouse = production.root / "warehouse.duckdb"
    clone, base = clean_clone(tmp_path)
    provide_venv(clone)
    env = {
        **os.environ,
        "PYTHONPATH": str(clone / "src"),
        "GITHUB_BASE_REF": base,
        "PIPELINE_TARGET": "dev",
        "SHOPLAKE_LAKE": production.url(),
    }
    env.pop("SHOPLAKE_DBT_PROJECT_DIR", None)
    jobs = yaml.safe_load((clone / ".github/workflows/dbt.yml").read_text())["jobs"]

    # main, before the pull request's change: the production job's set-up, build and push
    # (its docs step is test_docs_publish.py's, and the pull request's docs step below)
    git("checkout", "--quiet", base, cwd=clone)
    main_steps = [s for s in jobs["production"]["steps"] if "run" in s]
    assert [s["run"].split()[:2] for s in main_steps][1:] == [
        ["shoplake", "build"],
        ["shoplake", "artifacts"],
        ["shoplake", "docs"],
    ]
    main_env = dict(env)
    for step in main_steps[:3]:
        run_step(step, clone, main_env, tmp_path / "main_github_path")
    prod_manifest = json.loads(
        (production.root / "_state" / "dbt" / "dev" / "manifest.json").read_text("utf-8")
    )
    prod_mtime = prod_warehouse.stat().st_mtime_ns

    # the pull request: its own DuckDB file, production's attached read-only
    git("checkout", "--quiet", "the-pull-request", cwd=clone)
    env["SHOPLAKE_DUCKDB_PATH"] = str(tmp_path / "ci.duckdb")
    env["SHOPLAKE_DEFER_DUCKDB"] = str(prod_warehouse)
    build_results = None
    steps = [s for s in jobs["pull-request"]["steps"] if "run" in s]
    for step in steps:
        run_step(step, clone, env, tmp_path / "pr_github_path")
        if "state:modified+" in step["run"]:
            target = artifacts_dir(production, "dev")
            build_results = json.loads((target / "target" / "run_results.json").read_text())
    assert [s["run"].split()[0:2] for s in steps][-1] == ["shoplake", "docs"]
    assert build_results is not None, "the pull-request job has no state:modified+ build"
    assert (clone / "ci-site" / "docs" / "index.html").is_file()

    # built: exactly the changed model and the models downstream of it in production's graph
    expected = {CHANGED_ID} | descendant_models(prod_manifest, CHANGED_ID)
    built = {
        r["unique_id"] for r in build_results["results"] if r["unique_id"].startswith("model.")
    }
    assert built == expected
    not_green = {
        r["unique_id"]: r["status"]
        for r in build_results["results"]
        # exposures and saved queries (without exports) have nothing to build: no-op
        if not r["unique_id"].startswith(("exposure.", "saved_query."))
        and r["status"] not in ("success", "pass")
    }
    assert not_green == {}
    every_model = {n for n in prod_manifest["nodes"] if n.startswith("model.")}
    assert len(built) < len(every_model) / 4
    assert build_results["args"]["defer"] is True

    # deferred: the changed model read its parents from production's database
    con = duckdb.connect(str(tmp_path / "ci.duckdb"), read_only=True)
    try:
        # the models' schemas (the audit schema next to them holds the tests' stored rows)
        ci_tables = set(
            con.execute(
                "select table_schema, table_name from information_schema.tables "
                "where table_schema in ('main', 'main_staging', 'main_intermediate')"
            ).fetchall()
        )
    finally:
        con.close()
    names = [uid.split(".")[-1] for uid in built]
    assert ci_tables == {(schema_of(name), name) for name in names}
    compiled = next(
        r["compiled_code"] for r in build_results["results"] if r["unique_id"] == CHANGED_ID
    )
    parents = [p for p in prod_manifest["parent_map"][CHANGED_ID] if p.startswith("model.")]
    assert parents
    prod_db = prod_manifest["nodes"][parents[0]]["database"]
    assert prod_db == prod_warehouse.stem
    assert any(p.startswith("model.shoplake.int_") for p in parents)  # not only marts
    for parent in parents:
        name = parent.split(".")[-1]
        assert f'"{prod_db}"."{schema_of(name)}"."{name}"' in compiled
    assert prod_warehouse.stat().st_mtime_ns == prod_mtime  # production was only read
    shutil.rmtree(clone)


def test_defer_without_state_and_state_without_manifest_are_one_line(lake_copy, tmp_path):
    lake = str(lake_copy.root)
    line = the_error_line(run_shoplake("build", "--lake", lake, "--defer"))
    assert "--defer and --favor-state need --state DIR" in line
    empty = tmp_path / "state"
    empty.mkdir()
    line = the_error_line(run_shoplake("build", "--lake", lake, "--state", str(empty), "--defer"))
    assert f"no manifest.json in the --state directory {empty}" in line
    assert "shoplake artifacts pull" in line
