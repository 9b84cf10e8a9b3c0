"""The command line reports failures as one line and exit code 1, never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest
from cli_kit import run_shoplake, the_error_line


def test_a_storage_failure_is_one_line(tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    (lake / "raw").mkdir(parents=True)
    blocker = lake / "_state"
    blocker.write_text("a file where the lake's state directory should be")
    line = the_error_line(run_shoplake("ingest", "--lake", str(lake)))
    assert line.startswith("error: storage error:")
    assert str(blocker) in line


@pytest.mark.parametrize("command", ["ingest", "build", "status", "dashboard"])
def test_a_lake_path_with_no_lake_is_one_line_and_nothing_is_created(
    tmp_path: Path, command: str
) -> None:
    typo = tmp_path / "typo"
    line = the_error_line(run_shoplake(command, "--lake", str(typo)))
    assert f"no lake at {typo}: the directory does not exist" in line
    assert "nothing was created" in line
    assert not typo.exists()

    empty = tmp_path / "empty"
    empty.mkdir()
    line = the_error_line(run_shoplake(command, "--lake", str(empty)))
    assert f"{empty} is not a lake" in line
    assert list(empty.iterdir()) == []


def test_debug_shows_the_traceback(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    result = run_shoplake("--debug", "ingest", "--lake", str(blocker / "lake"))
    assert result.returncode != 0
    assert "Traceback" in result.stderr


# --- a DSN with a space in its password (issue 9, row 11): no part of it shown ---------
SECRET_WORDS = ("s3cr3tA", "w0rdB")
BAD_DSNS = (
    "postgresql://u:pa ss@127.0.0.1:1/db",  # the reproduction
    "postgresql://shop:s3cr3tA w0rdB@127.0.0.1:1/db",
    "host=127.0.0.1 port=1 user=shop password=s3cr3tA w0rdB dbname=db",
    # valid, but nothing listens on port 1: the connection error names no password either
    "host=127.0.0.1 port=1 user=shop password='s3cr3tA w0rdB' dbname=db connect_timeout=3",
    "postgresql://shop:s3cr3tA%20w0rdB@127.0.0.1:1/db?connect_timeout=3",
)


def assert_no_secret(text: str) -> None:
    for word in (*SECRET_WORDS, "pa ss", 'in "pa', '"ss"', "%20w0rd"):
        assert word not in text, text


@pytest.mark.parametrize("dsn", BAD_DSNS)
@pytest.mark.parametrize(
    "command",
    [("extract", "products"), ("load", "postgres"), ("build", "--target", "postgres")],
    ids=["extract", "load", "build"],
)
def test_a_bad_dsn_is_one_line_without_its_password(
    tmp_path: Path, command: tuple[str, ...], dsn: str
) -> None:
    lake = tmp_path / "lake"
    (lake / "silver" / "orders").mkdir(parents=True)  # a lake to build from
    (lake / "silver" / "orders" / "data.parquet").write_bytes(b"")
    result = run_shoplake(*command, "--postgres-dsn", dsn, "--lake", str(lake))
    line = the_error_line(result)
    assert "PostgreSQL" in line
    assert_no_secret(result.stderr + result.stdout)


def test_a_run_with_a_bad_dsn_in_the_environment_fails_in_one_line_and_records_no_secret(
    tmp_path: Path,
) -> None:
    lake = tmp_path / "lake"
    result = run_shoplake("run", "--lake", str(lake), env={"SHOPLAKE_POSTGRES_DSN": BAD_DSNS[2]})
    line = the_error_line(result, run=True)
    assert "failed at step extract" in line
    assert_no_secret(result.stderr + result.stdout)
    [record] = (lake / "_state" / "pipeline").glob("*.json")
    assert '"status": "failed"' in record.read_text()
    for path in lake.rglob("*"):
        if path.is_file():
            assert_no_secret(path.read_bytes().decode("utf-8", "replace"))


# --- --debug anywhere (issue 10, item 3) ----------------------------------------------
@pytest.mark.parametrize(
    "args",
    [
        ("--debug", "ingest", "--lake", "{blocked}"),
        ("ingest", "--lake", "{blocked}", "--debug"),
        ("build", "--debug", "--lake", "{blocked}"),
        ("alerts", "status", "--lake", "{blocked}", "--debug"),
        ("extract", "products", "--debug", "--postgres-dsn", BAD_DSNS[2]),
    ],
    ids=["before", "after", "build", "subcommand", "extract"],
)
def test_debug_is_accepted_with_every_command_and_shows_the_traceback(
    tmp_path: Path, args: tuple[str, ...]
) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    argv = [a.replace("{blocked}", str(blocker / "lake")) for a in args]
    if "--lake" not in argv:
        argv += ["--lake", str(blocker / "lake")]
    result = run_shoplake(*argv)
    assert result.returncode != 0
    assert "Traceback" in result.stderr
    assert "No such option" not in result.stderr


# --- the umask setting (issue 9, row 16) ----------------------------------------------
def test_an_invalid_umask_is_one_line(tmp_path: Path) -> None:
    line = the_error_line(
        run_shoplake("ingest", "--lake", str(tmp_path / "lake"), env={"SHOPLAKE_UMASK": "rw-"})
    )
    assert "SHOPLAKE_UMASK" in line
    assert not (tmp_path / "lake").exists()


@pytest.mark.parametrize(
    ("setting", "file_mode", "dir_mode"),
    [({}, 0o600, 0o700), ({"SHOPLAKE_UMASK": "022"}, 0o644, 0o755)],
    ids=["default", "022"],
)
def test_files_are_created_with_the_configured_umask(
    tmp_path: Path, setting: dict[str, str], file_mode: int, dir_mode: int
) -> None:
    lake = tmp_path / "lake"
    result = run_shoplake(
        "generate",
        "--lake",
        str(lake),
        "--start",
        "2026-10-05",
        "--days",
        "1",
        "--orders-per-day",
        "5",
        env=setting,
        without=["SHOPLAKE_UMASK"],
    )
    assert result.returncode == 0, result.stderr
    files = [p for p in lake.rglob("*") if p.is_file()]
    dirs = [lake, *(p for p in lake.rglob("*") if p.is_dir())]
    assert files
    assert {p.stat().st_mode & 0o777 for p in files} == {file_mode}
    assert {p.stat().st_mode & 0o777 for p in dirs} == {dir_mode}


def test_the_umask_can_be_set_in_shoplake_toml(tmp_path: Path) -> None:
    config = tmp_path / "shoplake.toml"
    config.write_text("[shoplake]\numask = 0o027\n")
    lake = tmp_path / "lake"
    result = run_shoplake(
        "generate",
        "--lake",
        str(lake),
        "--start",
        "2026-10-05",
        "--days",
        "1",
        "--orders-per-day",
        "5",
        env={"SHOPLAKE_CONFIG": str(config)},
        without=["SHOPLAKE_UMASK"],
    )
    assert result.returncode == 0, result.stderr
    assert {p.stat().st_mode & 0o777 for p in lake.rglob("*") if p.is_file()} == {0o640}


@pytest.mark.parametrize(
    ("day", "said"),
    [
        ("2026-02-30", "2026-02-30 is not a calendar day: February 2026 has 28 days"),
        ("2023-02-29", "2023-02-29 is not a calendar day: February 2023 has 28 days"),
        ("2026-13-01", "2026-13-01: there is no month 13"),
        ("0000-01-01", "0000-01-01: years start at 0001"),
        ("26-1-1", "'26-1-1' is not a day written as YYYY-MM-DD"),
    ],
)
def test_an_impossible_day_is_explained_and_nothing_is_written(
    tmp_path: Path, day: str, said: str
) -> None:
    lake = tmp_path / "lake"
    result = run_shoplake("generate", "--lake", str(lake), "--start", day, "--days", "1")
    assert result.returncode == 2
    assert said in result.stderr
    assert "Traceback" not in result.stderr
    assert not lake.exists()
