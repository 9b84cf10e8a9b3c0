"""``shoplake run``: the whole daily job, one step after another, timed and recorded.

Steps, in order (:data:`STEPS`):

1. ``extract``   products changed in PostgreSQL -> raw/products (skipped without a DSN);
2. ``ingest``    raw -> silver, quarantine and the accounting per dataset. Raw files that
   match no dataset's layout, and a dataset whose share of quarantined records is above
   the ``quarantine_threshold`` setting (default 1%), are reported (step status ``warn``);
3. ``catalog``   new silver partitions registered in the Glue Data Catalog (``s3://``
   lakes with ``SHOPLAKE_GLUE_DATABASE`` set; skipped otherwise), so Athena and Redshift
   Spectrum see them;
4. ``freshness`` ``dbt source freshness``: each source against its SLA. A stale source is
   reported (step status ``warn``) but does not stop the run: the marts are still built
   from what arrived, as dbt Cloud does with its freshness checkbox;
5. ``build``     ``dbt build``: seeds, models and the data and unit tests
   (:func:`shoplake.warehouse.build`); skipped when nothing it is built from moved
   since the last build (:mod:`shoplake.build_state`);
6. ``publish``   the gold marts to ``<lake>/gold/`` as partitioned Parquet, registered in
   Glue on S3 lakes (:mod:`shoplake.gold`; dev and prod targets, skipped on postgres);
7. ``docs``      ``dbt docs generate``: the analysts' docs site; skipped when the project
   did not change since it was generated;
8. ``dashboard`` the self-contained dashboard page (DuckDB warehouse only), written again
   once the run is recorded as finished, so that the page shows its own run's final
   status and duration, not ``running``.

A run that finishes is ``success``, or ``warn`` if any of its steps warned (the steps'
details say why); see :data:`shoplake.history.RUN_STATUSES`.

A failing step stops the run with a non-zero exit code and a message naming the step;
``--from STEP`` starts a new run at that step (the earlier ones are recorded as
skipped). The run holds the lake's ``run`` lock, so that a slow run and the next scheduled
one never overlap: the second exits at once (or waits, with ``--wait``); and the ``build``
lock that ``shoplake build`` takes, so that no build writes the warehouse meanwhile.

When a run ends, :mod:`shoplake.notify` tells the team about what went wrong (if a
webhook or SNS topic is configured), once per event.

Every run is recorded (see :mod:`shoplake.history`) in the warehouse after each step
(on prod in Redshift, when ``SHOPLAKE_REDSHIFT_HOST`` is set), and
as JSON under ``_state/pipeline/<run_id>.json`` in the lake (also when each step starts).
A run whose process died is still ``running`` there: the next run, holding the run lock,
records it ``abandoned`` (:func:`mark_abandoned`); ``shoplake status`` shows it so at once
(:func:`abandoned`, :func:`run_lock_is_held`).
"""

from __future__ import annotations

import json
import os
import re
import secrets
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import TypeVar

from shoplake import build_state, history
from shoplake.config import pg_env_dsn, quarantine_threshold
from shoplake.errors import (
    ConfigError,
    IngestError,
    LakeBusyError,
    ShoplakeError,
    WarehouseError,
    one_line,
    redact,
    translate,
)
from shoplake.ingest.transaction import lake_lock
from shoplake.lake import Lake
from shoplake.report import Report
from shoplake.warehouse import BUILD_LOCK


@dataclass
class RunOptions:
    target: str = "dev"
    postgres_dsn: str | None = None
    products_table: str = "public.products"
    duckdb_path: str | None = None
    full_refresh: bool = False
    wait: bool = False
    #: The quarantine rate per dataset above which the ingest step warns; None: the
    #: configured one (``quarantine_threshold`` in shoplake.toml, default 1%).
    quarantine_threshold: float | None = None


@dataclass
class _Context:
    lake: Lake
    options: RunOptions
    record: history.RunRecord
    say: Callable[[str], None]
    outputs: dict[str, str] = field(default_factory=dict)
    #: The page the dashboard step wrote, and its data: rewritten by :func:`_finish` with
    #: the run's final status and duration.
    dashboard: tuple[Path, dict] | None = None


#: What a step returns: its status ("success" or "warn", or "skipped") and a detail line.
StepOutcome = tuple[str, str]


def _extract(ctx: _Context) -> StepOutcome:
    if not ctx.options.postgres_dsn:
        return "skipped", "no PostgreSQL DSN configured (SHOPLAKE_POSTGRES_DSN)"
    from shoplake.extract import extract_products

    report = extract_products(ctx.lake, ctx.options.postgres_dsn, ctx.options.products_table)
    return "success", f"{report.rows} changed products" + (
        f" -> {report.file}" if report.file else ""
    )


def _ingest(ctx: _Context) -> StepOutcome:
    from shoplake.ingest import run_ingest

    report = run_ingest(ctx.lake, wait=ctx.options.wait)
    ctx.record.datasets = [
        history.DatasetRecord(
            dataset=name,
            files_read=s.files_read,
            records_read=s.read,
            written=s.written,
            quarantined=s.quarantined,
            duplicates=s.duplicates,
        )
        for name, s in report.datasets.items()
    ]
    ctx.record.schema_changes = [
        history.SchemaChangeRecord(name, column, kind, files)
        for name, s in report.datasets.items()
        for kind, columns in zip(
            history.SCHEMA_CHANGES, (s.columns_added, s.columns_vanished), strict=True
        )
        for column, files in sorted(columns.items())
    ]
    if not report.balanced:
        raise IngestError(
            "ingest accounting does not balance (read != written + quarantined + duplicates)",
            f"this is a bug in shoplake: please report it with {report.log_path}",
        )
    totals = [
        sum(getattr(d, f) for d in ctx.record.datasets)
        for f in ("records_read", "written", "quarantined", "duplicates")
    ]
    detail = "{:,} read, {:,} written, {:,} quarantined, {:,} duplicates".format(*totals)
    threshold = ctx.options.quarantine_threshold
    if threshold is None:
        threshold = quarantine_threshold()
    warnings = [*report.warnings, *_quarantine_warnings(ctx.record.datasets, threshold)]
    if warnings:
        return "warn", "; ".join([detail, *warnings])
    return "success", detail


def _quarantine_warnings(datasets: Sequence[history.DatasetRecord], threshold: float) -> list[str]:
    """One line naming the datasets whose share of quarantined records in this ingest is
    above ``threshold``, or none."""
    over = [
        f"{d.dataset} {d.quarantined:,} of {d.records_read:,} "
        f"({percent(d.quarantined / d.records_read)})"
        for d in datasets
        if d.records_read and d.quarantined / d.records_read > threshold
    ]
    if not over:
        return []
    return [f"quarantine rate above the {percent(threshold)} threshold: {', '.join(over)}"]


def percent(share: float) -> str:
    """0.01 -> ``1%``, 0.4712 -> ``47.1%``."""
    return f"{share * 100:.3g}%"


def _catalog(ctx: _Context) -> StepOutcome:
    if ctx.lake.is_local:
        return "skipped", "local lake: no catalog to update"
    from shoplake.aws.catalog import DATABASE_ENV, sync_if_configured

    synced = sync_if_configured(ctx.lake)
    if synced is None:
        return "skipped", f"no Glue database configured ({DATABASE_ENV})"
    return "success", f"{synced.added_count} partitions added to Glue database {synced.database}"


def _freshness(ctx: _Context) -> StepOutcome:
    from shoplake.warehouse import dbt_env, freshness_args, run_dbt

    env = dbt_env(ctx.lake, ctx.options.target, **_warehouse_kwargs(ctx.options))
    started = time.time()
    run = run_dbt(freshness_args(ctx.lake), ctx.lake, ctx.options.target, env=env, quiet=True)
    sources = run.target_path / "sources.json"
    if not sources.is_file() or sources.stat().st_mtime < started:
        tail = " / ".join(run.output.strip().splitlines()[-3:])
        return "warn", f"source freshness could not be checked: {tail}"
    ctx.record.freshness = history.freshness_from_sources(json.loads(sources.read_text()))
    stale = [f"{f.source} ({f.status})" for f in ctx.record.freshness if f.status != "pass"]
    if stale:
        return "warn", f"{len(stale)} of {len(ctx.record.freshness)} sources stale: " + ", ".join(
            stale
        )
    return "success", f"{len(ctx.record.freshness)} sources within their SLA"


def _fingerprints(ctx: _Context) -> build_state.Fingerprints:
    from shoplake.warehouse import dbt_env, email_salt, project_dir

    env = dbt_env(ctx.lake, ctx.options.target, **_warehouse_kwargs(ctx.options))
    return build_state.fingerprints(ctx.lake, project_dir(), env, email_salt(ctx.options.target))


def _build(ctx: _Context) -> StepOutcome:
    from shoplake.warehouse import artifacts_dir, build

    artifacts = artifacts_dir(ctx.lake, ctx.options.target)
    now = _fingerprints(ctx)
    if not ctx.options.full_refresh and _warehouse_exists(ctx):
        last = build_state.consumed(artifacts, "build")
        if last is not None and last.get("fingerprint") == now.build:
            return "skipped", (
                f"nothing new since the last build (ingest batch {now.ingest_seq}, "
                "same project and settings)"
            )
    started = time.time()
    results_path = artifacts / "target" / "run_results.json"
    try:
        result = build(
            ctx.lake,
            target=ctx.options.target,
            full_refresh=ctx.options.full_refresh,
            quiet=True,
            **_warehouse_kwargs(ctx.options),
        )
    finally:  # failed tests are history too, with the first rows they stored
        if results_path.is_file() and results_path.stat().st_mtime >= started:
            run_results = json.loads(results_path.read_text())
            ctx.record.tests = history.tests_from_run_results(run_results)
            ctx.record.failure_samples = _stored_failures(ctx, run_results)
    passed = sum(1 for t in ctx.record.tests if t.status == "pass")
    warned = sum(1 for t in ctx.record.tests if t.status == "warn")
    models = sum(n for status, n in result.statuses.items() if status == "success")
    detail = f"{models} nodes built, {passed}/{len(ctx.record.tests)} tests passed"
    if warned:
        return "warn", f"{detail}, {warned} warned"
    return "success", detail


def _stored_failures(ctx: _Context, run_results: dict) -> list[history.FailureSample]:
    """The failing tests' stored rows (:mod:`shoplake.audit`); none when the warehouse
    cannot be read back (the tests' statuses are recorded all the same)."""
    from shoplake.audit import stored_failures

    try:
        return stored_failures(
            run_results,
            ctx.options.target,
            duckdb_path=_duckdb_path(ctx.lake, ctx.options),
            postgres_dsn=ctx.options.postgres_dsn or pg_env_dsn(),
        )
    except Exception:  # a driver's or a configuration error: the run goes on
        return []


def _publish(ctx: _Context) -> StepOutcome:
    from shoplake.gold import publish_step

    return publish_step(
        ctx.lake,
        ctx.options.target,
        duckdb_path=ctx.options.duckdb_path,
        run_id=f"{ctx.record.run_id}-gold",
        wait=ctx.options.wait,
    )


def _docs(ctx: _Context) -> StepOutcome:
    from shoplake.warehouse import artifacts_dir, docs_generate

    artifacts = artifacts_dir(ctx.lake, ctx.options.target)
    now = _fingerprints(ctx).docs
    site = artifacts / "target"
    if all((site / f).is_file() for f in DOCS_FILES) and build_state.up_to_date(
        artifacts, "docs", now
    ):
        ctx.outputs["docs"] = str(site / "index.html")
        return "skipped", f"project unchanged since the docs were generated: {site}"
    build_state.forget(artifacts, "docs")
    site = docs_generate(
        ctx.lake, target=ctx.options.target, quiet=True, **_warehouse_kwargs(ctx.options)
    )
    build_state.record(artifacts, "docs", now)
    ctx.outputs["docs"] = str(site / "index.html")
    return "success", f"docs site in {site}"


#: The files of a generated docs site.
DOCS_FILES = ("index.html", "manifest.json", "catalog.json")


def _warehouse_exists(ctx: _Context) -> bool:
    """Whether the warehouse a skipped build would leave as it is exists (DuckDB: its file;
    on the server targets the database is not probed)."""
    return ctx.options.target != "dev" or _duckdb_path(ctx.lake, ctx.options).is_file()


def _dashboard(ctx: _Context) -> StepOutcome:
    if ctx.options.target != "dev":
        return "skipped", "the dashboard reads the DuckDB warehouse of the dev target"
    from shoplake.dashboard import collect, default_dashboard_path, write_page

    data = collect(ctx.lake, duckdb_path=_duckdb_path(ctx.lake, ctx.options))
    path = write_page(data, default_dashboard_path(ctx.lake))
    ctx.dashboard = (path, data)
    ctx.outputs["dashboard"] = str(path)
    return "success", f"dashboard at {path}"


def _warehouse_kwargs(options: RunOptions) -> dict:
    if options.target == "dev":
        return {"duckdb_path": options.duckdb_path}
    if options.target == "postgres":
        return {"postgres_dsn": options.postgres_dsn}
    return {}


def _duckdb_path(lake: Lake, options: RunOptions) -> Path:
    from shoplake.warehouse import dbt_env

    return Path(dbt_env(lake, "dev", duckdb_path=options.duckdb_path)["SHOPLAKE_DUCKDB_PATH"])


#: The steps of a run, in order: name -> (what it does, how).
STEPS: dict[str, tuple[str, Callable[[_Context], StepOutcome]]] = {
    "extract": ("copy changed products out of PostgreSQL (if a DSN is configured)", _extract),
    "ingest": ("raw -> silver: validate, de-duplicate, quarantine, publish", _ingest),
    "catalog": ("register new silver partitions in the Glue Data Catalog (S3 lakes)", _catalog),
    "freshness": ("dbt source freshness: every source against its SLA", _freshness),
    "build": ("dbt build: seeds, models, data and unit tests (if anything moved)", _build),
    "publish": ("gold marts to <lake>/gold/ as Parquet (+ Glue on S3 lakes)", _publish),
    "docs": ("dbt docs generate: the docs site (if the project changed)", _docs),
    "dashboard": ("the dashboard page (dev target)", _dashboard),
}


def _check_step(name: str | None, flag: str) -> None:
    if name is not None and name not in STEPS:
        raise ConfigError(
            f"{flag} {name!r}: no such step", f"steps are {', '.join(STEPS)}", setting=flag
        )


_RUN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]{0,99}")


def new_run_id(now: datetime) -> str:
    return f"{now:%Y%m%dT%H%M%S}Z-{secrets.token_hex(3)}"


def run_log_key(lake: Lake, run_id: str) -> str:
    """The lake key of a run's JSON record."""
    return lake.state_key("pipeline", f"{run_id}.json")


def run_pipeline(
    lake: Lake,
    options: RunOptions | None = None,
    *,
    from_step: str | None = None,
    to_step: str | None = None,
    run_id: str | None = None,
    say: Callable[[str], None] = print,
) -> history.RunRecord:
    """Run the steps from ``from_step`` to ``to_step`` (default: all); see the module doc.

    ``run_id`` names the run; if a run of that name was recorded already, its record is
    continued (a scheduler that runs one task per step passes the same id to each task,
    and the run's history shows all of its steps). Raises :class:`ShoplakeError` naming
    the failed step; the run is recorded either way.
    """
    options = options or RunOptions()
    if options.quarantine_threshold is None:  # a bad setting fails before anything runs
        options = replace(options, quarantine_threshold=quarantine_threshold())
    _check_step(from_step, "--from")
    _check_step(to_step, "--to")
    names = list(STEPS)
    first = names.index(from_step) if from_step else 0
    last = names.index(to_step) if to_step else len(names) - 1
    if first > last:
        raise ConfigError(
            f"--from {from_step} comes after --to {to_step}",
            f"steps run in the order {names}",
            setting="from",
        )
    with lake_lock(lake, RUN_LOCK, options.wait), lake_lock(lake, BUILD_LOCK, options.wait):
        for abandoned in mark_abandoned(lake, options, keep=run_id):
            say(f"run {abandoned.run_id} died while running (killed?): recorded as abandoned")
        record = _open_record(lake, options, run_id, names)
        ctx = _Context(lake, options, record, say)
        if not run_id:
            for step in record.steps[:first] + record.steps[last + 1 :]:
                step.detail = "not selected (--from/--to)"
        record.status, record.finished_at = "running", None
        record.failed_step = record.error = None
        failure: ShoplakeError | None = None
        for step in record.steps[first : last + 1]:
            say(f"[{step.position}/{len(names)}] {step.step}: {STEPS[step.step][0]}")
            step.started_at = datetime.now(timezone.utc)
            step.seconds = None
            _write_json(lake, record)  # a run killed in this step is found abandoned in it
            clock = time.perf_counter()
            try:
                step.status, step.detail = STEPS[step.step][1](ctx)
            except Exception as exc:
                failure = translate(exc)
                step.status = "failed"
                if failure is None:  # a bug: record it, then let the traceback through
                    step.detail = redact("".join(traceback.format_exception_only(exc)).strip())
                    _finish(ctx, failed=step)
                    raise
                step.detail = one_line(redact(str(failure)))
            finally:
                step.seconds = time.perf_counter() - clock
            say(f"      {step.status} in {step.seconds:.1f} s: {step.detail}")
            if failure:
                _finish(ctx, failed=step)
                raise WarehouseError(
                    f"run {record.run_id} failed at step {step.step}: {failure.what}",
                    f"{failure.hint + '; ' if failure.hint else ''}"
                    f"fix it, then resume with `shoplake run --from {step.step}`",
                    step=step.step,
                ) from failure
            _save(ctx, step)
        _finish(ctx, failed=None)
        return record


def _open_record(
    lake: Lake, options: RunOptions, run_id: str | None, names: list[str]
) -> history.RunRecord:
    if run_id:
        if not _RUN_ID.fullmatch(run_id):
            raise ConfigError(
                f"--run-id {run_id!r}: use letters, digits, '.', '_', '-' and '+' only",
                "for example airflow-20261122",
                setting="run_id",
            )
        key = run_log_key(lake, run_id)
        if lake.exists(key):
            record = history.RunRecord.from_json(json.loads(lake.read_text(key)))
            if [s.step for s in record.steps] == names and record.target == options.target:
                return record
            raise ConfigError(
                f"run {run_id} was recorded with other steps or another target",
                "use a new --run-id",
                setting="run_id",
            )
    started = datetime.now(timezone.utc)
    return history.RunRecord(
        run_id=run_id or new_run_id(started),
        started_at=started,
        target=options.target,
        lake=lake.url(),
        steps=[history.StepRecord(i + 1, name) for i, name in enumerate(names)],
    )


def _finish(ctx: _Context, failed: history.StepRecord | None) -> None:
    record = ctx.record
    record.finished_at = datetime.now(timezone.utc)
    record.seconds = (record.finished_at - record.started_at).total_seconds()
    if failed:
        record.status = "failed"
        record.failed_step, record.error = failed.step, failed.detail
    else:
        record.status = "warn" if any(s.status == "warn" for s in record.steps) else "success"
    try:
        _save(ctx, failed)
    finally:  # tell the team (never fails the run; see shoplake.notify)
        from shoplake.notify import after_run

        after_run(ctx.lake, record, ctx.say, ctx.options.quarantine_threshold)
    if ctx.dashboard and not failed:  # the page shows the run as it was recorded
        _final_dashboard(ctx)


def _final_dashboard(ctx: _Context) -> None:
    """Rewrite the page of the dashboard step with the run as it finished (the step wrote
    it while the run was still ``running``). Should that fail, the step's page stays."""
    from shoplake.dashboard import show_run, write_page

    assert ctx.dashboard is not None
    path, data = ctx.dashboard
    show_run(data, ctx.record)
    try:
        write_page(data, path)
    except Exception as exc:
        failure = translate(exc)
        if failure is None:
            raise
        ctx.say(f"      the dashboard keeps showing this run as running: {one_line(str(failure))}")


def _save(ctx: _Context, step: history.StepRecord | None) -> None:
    """Write the run to the lake (JSON) and to the warehouse's history tables.

    If the warehouse cannot take the record (another process holds the DuckDB file, the
    disk is full), the run fails at ``step`` with that reason, and the JSON record in
    the lake says so: no run is left ``running`` by a failure to record it."""
    record = ctx.record
    _write_json(ctx.lake, record)
    try:
        _record_in_warehouse(record, ctx.lake, ctx.options)
    except Exception as exc:
        failure = translate(exc)
        if failure is None:
            raise
        if record.status != "failed":
            record.status, record.finished_at = "failed", datetime.now(timezone.utc)
            record.seconds = (record.finished_at - record.started_at).total_seconds()
            record.failed_step = step.step if step else None
        record.error = one_line(redact(f"recording the run in the warehouse failed: {failure}"))
        _write_json(ctx.lake, record)
        raise WarehouseError(
            f"run {record.run_id}: recording it in the warehouse failed: {failure.what}",
            failure.hint,
            step="record",
        ) from exc


def _write_json(lake: Lake, record: history.RunRecord) -> None:
    lake.write_atomic(run_log_key(lake, record.run_id), json.dumps(record.to_json(), indent=2))


def _record_in_warehouse(record: history.RunRecord, lake: Lake, options: RunOptions) -> None:
    if options.target == "dev":
        history.record_duckdb(record, _duckdb_path(lake, options))
    elif options.target == "postgres" and (dsn := options.postgres_dsn or pg_env_dsn()):
        history.record_postgres(record, dsn)
    elif options.target == "prod" and os.environ.get("SHOPLAKE_REDSHIFT_HOST"):
        from shoplake.redshift import record_history

        record_history(record)


# --- runs that died ---------------------------------------------------------------------
#: The lake lock a run holds from start to end.
RUN_LOCK = "run"


def recorded_runs(lake: Lake) -> list[history.RunRecord]:
    """Every run recorded as JSON in the lake (``_state/pipeline/``), oldest first."""
    runs = []
    for entry in lake.list(lake.state_key("pipeline")):
        if not entry.key.endswith(".json") or entry.name.startswith(("_", ".")):
            continue
        try:
            runs.append(history.RunRecord.from_json(json.loads(lake.read_text(entry.key))))
        except (ValueError, TypeError, KeyError):
            continue  # not a run record
    return sorted(runs, key=lambda r: (r.started_at, r.run_id))


def run_lock_is_held(lake: Lake) -> bool:
    """Whether a live process holds the lake's run lock (probed without taking it on a
    local lake, so that a run starting at that moment is never refused)."""
    if lake.is_local:
        import fcntl

        path = lake.path(lake.state_key(f"{RUN_LOCK}.lock"))
        try:
            fd = os.open(path, os.O_RDONLY)
        except FileNotFoundError:
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        finally:
            os.close(fd)  # also releases the shared probe
        return False
    try:
        with lake_lock(lake, RUN_LOCK, False):
            return False
    except LakeBusyError:
        return True


_Run = TypeVar("_Run", history.RunRecord, history.RunSummary)


def abandoned(runs: Sequence[_Run], lock_held: bool) -> list[_Run]:
    """The ``running`` runs whose process is gone: all of them if the run lock is free;
    if it is held, all but the newest (the one holding it)."""
    running = [r for r in runs if r.status == "running"]
    return running[:-1] if lock_held else running


def mark_abandoned(
    lake: Lake, options: RunOptions, keep: str | None = None
) -> list[history.RunRecord]:
    """Record every run that died while ``running`` as ``abandoned`` (called under the
    run lock, so none of them is alive), in the lake and in the warehouse's history."""
    dead = [r for r in abandoned(recorded_runs(lake), lock_held=False) if r.run_id != keep]
    for record in dead:
        record.status = "abandoned"
        record.error = "the run's process died (killed, or the machine stopped) while running"
        for step in record.steps:
            if step.status == "skipped" and step.started_at is not None and step.seconds is None:
                step.status, step.detail = "failed", "interrupted"
        running_step = next(
            (s for s in record.steps if s.started_at is not None and s.seconds is None), None
        )
        record.failed_step = running_step.step if running_step else None
        _write_json(lake, record)
        if record.target == options.target:
            _record_in_warehouse(record, lake, options)
    return dead


def as_report(record: history.RunRecord) -> Report:
    rows = [
        (s.step, s.status, round(s.seconds, 1) if s.seconds is not None else None, s.detail)
        for s in record.steps
    ]
    return Report(
        title=f"run {record.run_id}: {record.status} in {record.seconds or 0:.1f} s",
        columns=("step", "status", "seconds", "detail"),
        rows=rows,
    )
