"""Each domain raises its own ShoplakeError subclass, with the fields a caller acts on.

These tests assert on the type and the fields, never on the message text; the message is
the CLI's one line (see test_cli_errors.py for how it is printed).
"""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from shoplake import config, maintain
from shoplake.alerts.webhook import Webhook
from shoplake.aws.deploy.deployment import Deployment
from shoplake.cli import main
from shoplake.errors import (
    AlertsError,
    ConfigError,
    ContractError,
    DatabaseConnectionError,
    ExtractError,
    LakeBusyError,
    ShoplakeError,
    StorageError,
)
from shoplake.lake import Lake
from shoplake.pgload import load_postgres
from shoplake.postgres import table_identifier
from shoplake.scaffold import init_lake
from shoplake.storage import parse_s3_url
from shoplake.validate_file import validate_files


def test_every_domain_error_is_a_shoplake_error() -> None:
    # The CLI prints any ShoplakeError as one line: a domain error must never escape it.
    for cls in (AlertsError, ConfigError, ContractError, ExtractError, StorageError):
        assert issubclass(cls, ShoplakeError)
    assert issubclass(LakeBusyError, StorageError)


@pytest.mark.parametrize(
    ("parse", "text", "setting"),
    [
        (config.parse_quarantine_threshold, "lots", "quarantine_threshold"),
        (config.parse_umask, "rwx", "umask"),
    ],
)
def test_an_invalid_setting_names_the_setting(parse, text: str, setting: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse(text)
    assert caught.value.setting == setting


def test_an_unknown_lake_scheme_names_the_option() -> None:
    with pytest.raises(ConfigError) as caught:
        Lake.at("ftp://example.com/lake")
    assert caught.value.setting is not None


def test_an_invalid_s3_location_is_a_storage_error_with_the_location() -> None:
    with pytest.raises(StorageError) as caught:
        parse_s3_url("s3://bucket/a/../b")
    assert caught.value.location == "s3://bucket/a/../b"


def test_a_held_lake_lock_is_lake_busy_with_the_lake(tmp_path: Path) -> None:
    lake = Lake.at(tmp_path)
    with lake.lock("ingest"), pytest.raises(LakeBusyError) as caught, lake.lock("ingest"):
        pass
    assert caught.value.location == str(tmp_path)


def test_a_bad_products_table_name_is_an_extract_error_with_the_table() -> None:
    with pytest.raises(ExtractError) as caught:
        table_identifier("a.b.c")
    assert caught.value.table == "a.b.c"


def _refuse(error: psycopg.Error):
    def connect(*args: object, **kwargs: object) -> None:
        raise error

    return connect


@pytest.mark.parametrize(
    "failure",
    [
        pytest.param(psycopg.OperationalError("connection refused"), id="unreachable"),
        pytest.param(psycopg.ProgrammingError("invalid dsn: missing '='"), id="invalid-dsn"),
        pytest.param(psycopg.NotSupportedError("protocol not supported"), id="other-driver-error"),
    ],
)
def test_a_postgres_load_that_cannot_connect_is_a_database_connection_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, failure: psycopg.Error
) -> None:
    monkeypatch.setattr(psycopg, "connect", _refuse(failure))
    with pytest.raises(DatabaseConnectionError) as caught:
        load_postgres(Lake.at(tmp_path), "host=db.invalid user=shop password=s3cret")
    assert caught.value.__cause__ is failure
    assert "s3cret" not in str(caught.value)


def test_a_folder_given_to_validate_is_a_contract_error_with_the_file(tmp_path: Path) -> None:
    with pytest.raises(ContractError) as caught:
        validate_files([tmp_path])
    assert caught.value.file == str(tmp_path)
    assert caught.value.dataset is None


def test_init_over_a_file_is_a_storage_error_with_the_location(tmp_path: Path) -> None:
    where = tmp_path / "not-a-dir"
    where.write_text("x")
    with pytest.raises(StorageError) as caught:
        init_lake(Lake.at(where), config=tmp_path / "shoplake.toml")
    assert caught.value.location == str(where)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("name", "Not A Bucket Name!"),
        ("schedule", "daily"),
        ("job_target", "staging"),
        ("engine", "flink"),
        ("worker_type", "G.025X"),
        ("workers", 1),
    ],
)
def test_a_deployment_setting_out_of_range_names_it(field: str, value: str | int) -> None:
    with pytest.raises(ConfigError) as caught:
        Deployment(**{field: value})
    assert caught.value.setting == field


def test_an_unknown_maintenance_target_names_the_setting() -> None:
    with pytest.raises(ConfigError) as caught:
        maintain.statements("staging", ["fact_orders"], "main")
    assert caught.value.setting == "target"


def test_a_webhook_that_is_not_http_is_an_alerts_error() -> None:
    with pytest.raises(AlertsError):
        Webhook("file:///etc/passwd")


def test_the_cli_prints_a_domain_error_as_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["validate", str(tmp_path)])
    assert exited.value.code not in (0, None)
    printed = capsys.readouterr()
    assert len(printed.err.strip().splitlines()) == 1
    assert "Traceback" not in printed.err + printed.out


def test_a_lake_without_orders_names_the_missing_dataset(tmp_path: Path) -> None:
    from shoplake.warehouse import check_required_datasets

    with pytest.raises(ContractError) as caught:
        check_required_datasets(Lake.at(tmp_path))
    assert caught.value.dataset == "orders"


def test_an_unknown_warehouse_target_names_the_setting(tmp_path: Path) -> None:
    from shoplake.warehouse import dbt_env

    with pytest.raises(ConfigError) as caught:
        dbt_env(Lake.at(tmp_path), "staging")
    assert caught.value.setting == "target"


def test_an_ingest_memory_limit_that_is_no_size_names_the_setting() -> None:
    from shoplake.ingest.resources import ingest_connection

    settings = config.Settings(ingest_memory_limit="plenty")
    with pytest.raises(ConfigError) as caught, ingest_connection(settings):
        pass
    assert caught.value.setting == "ingest_memory_limit"
