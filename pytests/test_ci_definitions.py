"""The shop's CI definitions (.github/workflows/dbt.yml, .gitlab-ci.yml): valid YAML, and
every command they run is a `make` target of the Makefile or a `shoplake` command with
options it has (the slim build itself runs in pytests/operate/test_slim_ci.py)."""

from __future__ import annotations

import re
import shlex

import pytest
import typer.main
import yaml

from shoplake.cli import app
from shoplake.warehouse import project_dir

GITHUB = ".github/workflows/dbt.yml"
GITLAB = ".gitlab-ci.yml"
#: Runner plumbing a step may do besides `make` and `shoplake`: put the venv on PATH
#: (GitHub's GITHUB_PATH file, GitLab's export) and fetch the target branch to diff with.
PLUMBING = (
    re.compile(r'^echo "\$PWD/\.venv/bin" >> "\$GITHUB_PATH"$'),
    re.compile(r'^export (PATH|PIPELINE_TARGET)="[^"]*"$'),
    re.compile(r'^git fetch origin "\$CI_MERGE_REQUEST_TARGET_BRANCH_NAME"$'),
)
#: Secrets the pipelines read: each one named in both files and in docs/ci.md.
SECRETS = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "SHOPLAKE_REDSHIFT_HOST",
    "SHOPLAKE_REDSHIFT_USER",
    "SHOPLAKE_REDSHIFT_PASSWORD",
    "SHOPLAKE_EMAIL_SALT",
)


def load(relative: str) -> dict:
    return yaml.safe_load((project_dir() / relative).read_text("utf-8"))


def github_commands(job: str) -> list[str]:
    steps = load(GITHUB)["jobs"][job]["steps"]
    return [step["run"] for step in steps if "run" in step]


def gitlab_commands(job: str) -> list[str]:
    doc = load(GITLAB)
    return [*doc["default"]["before_script"], *doc[job]["script"]]


def make_targets() -> set[str]:
    text = (project_dir() / "Makefile").read_text("utf-8")
    return set(re.findall(r"^([a-z][a-z0-9-]*):", text, flags=re.MULTILINE))


def check_command(line: str) -> None:
    """One shell line: each `&&` part is plumbing, `make TARGET [VAR=...]`, or a
    `shoplake` command whose every option exists."""
    for part in (p.strip() for p in line.split("&&")):
        if any(pattern.match(part) for pattern in PLUMBING):
            continue
        words = shlex.split(part)
        if words[0] == "make":
            targets = [w for w in words[1:] if "=" not in w]
            assert targets, part
            assert set(targets) <= make_targets(), f"{part}: no such make target"
            continue
        assert words[0] == "shoplake", f"{part}: neither make nor shoplake"
        command = typer.main.get_command(app)
        args = words[1:]
        while hasattr(command, "commands"):  # a group: the next word names a subcommand
            assert args, f"{part}: no subcommand"
            assert args[0] in command.commands, f"{part}: no command {args[0]!r}"
            command, args = command.commands[args[0]], args[1:]
        options = {o for p in command.params for o in (*p.opts, *p.secondary_opts)}
        given = {a.split("=", 1)[0] for a in args if a.startswith("--")}
        assert given <= options, f"{part}: unknown options {sorted(given - options)}"


def test_workflow_files_are_yaml_with_the_jobs_and_triggers():
    github = load(GITHUB)
    assert set(github["jobs"]) == {"pull-request", "production"}
    # PyYAML reads the key `on` as True (YAML 1.1)
    assert set(github[True]) == {"pull_request", "push"}
    gitlab = load(GITLAB)
    assert {"merge-request", "production"} <= set(gitlab)


@pytest.mark.parametrize(
    "commands",
    [
        github_commands("pull-request"),
        github_commands("production"),
        gitlab_commands("merge-request"),
        gitlab_commands("production"),
    ],
    ids=["github-pr", "github-main", "gitlab-mr", "gitlab-main"],
)
def test_every_command_is_a_make_target_or_a_shoplake_command(commands):
    assert commands
    for line in commands:
        check_command(line)


def test_both_pipelines_run_the_same_shoplake_commands():
    for github_job, gitlab_job in (("pull-request", "merge-request"), ("production", "production")):
        ours = [c for c in github_commands(github_job) if c.startswith("shoplake ")]
        theirs = [c for c in gitlab_commands(gitlab_job) if c.startswith("shoplake ")]
        assert ours == theirs


def test_a_wrong_command_is_caught():
    for line in ("shoplake artifacts fetch --to x", "shoplake build --deferred", "make deploy"):
        with pytest.raises(AssertionError):
            check_command(line)


def test_secrets_come_from_the_secret_store_named_in_one_place_and_documented():
    github = load(GITHUB)
    for name in SECRETS:
        assert github["env"][name] == "${{ secrets." + name + " }}"
    for job in github["jobs"].values():  # nowhere else in the workflow
        assert not set(job.get("env", {})) & set(SECRETS)
        for step in job["steps"]:
            assert "secrets." not in str(step)
    gitlab_text = (project_dir() / GITLAB).read_text("utf-8")
    ci_doc = (project_dir() / "docs" / "ci.md").read_text("utf-8")
    for name in SECRETS:
        assert name in gitlab_text
        assert f"| `{name}` |" in ci_doc
