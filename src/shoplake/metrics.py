"""``shoplake metrics``: the semantic layer (MetricFlow) queried against a lake's warehouse.

The metrics, semantic models and saved queries are defined once, in the dbt project's
``models/semantic/`` (the time spine is ``dim_date``). A query runs MetricFlow with the
same temporary profile and environment as ``shoplake build``
(:func:`shoplake.warehouse.profiles_dir`, :func:`shoplake.warehouse.dbt_env`), on every
target:

* the semantic manifest is (re)parsed with ``dbt parse`` into the lake's dbt artifacts
  (``<local dir>/_state/dbt/<target>/target/semantic_manifest.json``), so it always
  matches the project;
* MetricFlow then runs in a child process (dbt's adapter and logging state stay out of
  the caller), through the target's dbt adapter; on ``dev`` it reads a private copy of
  the DuckDB file, as ``shoplake sql`` does, so that a query never blocks a build.

:func:`explain` compiles the SQL a query would send without running it (MetricFlow's
explain, rendered in the target's dialect by the same engine and adapter as a query, but
no connection is opened): ``shoplake metrics query --explain`` prints it, on ``prod``
without a cluster.

:func:`validate` checks the semantic manifest with MetricFlow's own validator (what
``mf validate-configs`` runs before its warehouse checks).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from shoplake.errors import WarehouseError, one_line
from shoplake.lake import Lake
from shoplake.report import Report
from shoplake.warehouse import (
    LakeLike,
    artifacts_dir,
    dbt_env,
    open_read_only,
    output_log,
    profiles_dir,
    project_dir,
    run_dbt,
)

SEMANTIC_MANIFEST = "semantic_manifest.json"
_ERROR_MARK = "SHOPLAKE-METRICS-ERROR:"
_CHILD = "import sys; from shoplake.metrics import _child_main; _child_main(sys.argv[1:])"


@dataclass(frozen=True)
class MetricQuery:
    """One MetricFlow query: metrics by group-by items, or a saved query."""

    metrics: Sequence[str] = ()
    group_by: Sequence[str] = ()
    where: Sequence[str] = ()
    order: Sequence[str] = ()
    limit: int | None = None
    saved_query: str | None = None
    #: Compile the SQL MetricFlow would send, without sending it (no rows).
    explain: bool = False

    def as_json(self) -> dict[str, Any]:
        return {
            "metrics": list(self.metrics),
            "group_by": list(self.group_by),
            "where": list(self.where),
            "order": list(self.order),
            "limit": self.limit,
            "saved_query": self.saved_query,
            "explain": self.explain,
        }


@dataclass
class MetricResult:
    columns: list[str]
    rows: list[tuple]
    sql: str = ""
    notes: list[str] = field(default_factory=list)

    def as_report(self, title: str) -> Report:
        return Report(title=title, columns=tuple(self.columns), rows=self.rows, notes=self.notes)

    def records(self) -> list[dict[str, Any]]:
        return [dict(zip(self.columns, row, strict=True)) for row in self.rows]


# --- the semantic manifest --------------------------------------------------------------
#: What the semantic manifest depends on in the project (besides the environment).
_PROJECT_INPUTS = ("models", "macros", "dbt_project.yml")


def _inputs_mtime() -> int:
    root = project_dir()
    newest = 0
    for name in _PROJECT_INPUTS:
        path = root / name
        files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
        newest = max([newest, *(p.stat().st_mtime_ns for p in files)])
    return newest


def _where_marts_are(target: str, env: dict[str, str]) -> tuple[str, str]:
    """(database, schema) of the marts that the profile gives ``target`` under ``env``:
    what a semantic manifest parsed with that environment names in its relations."""
    if target == "dev":
        return Path(env["SHOPLAKE_DUCKDB_PATH"]).stem, "main"
    if target == "postgres":
        return env["SHOPLAKE_PG_DBNAME"], env.get("SHOPLAKE_PG_SCHEMA", "analytics")
    return (
        env.get("SHOPLAKE_REDSHIFT_DBNAME", "analytics"),
        env.get("SHOPLAKE_REDSHIFT_SCHEMA", "analytics"),
    )


def _is_current(path: Path, target: str, env: dict[str, str]) -> bool:
    """A semantic manifest newer than every project file it is made of, whose relations
    are where the marts of ``target`` are under ``env`` (a build writes one)."""
    try:
        data = json.loads(path.read_text("utf-8"))
        written = path.stat().st_mtime_ns
    except (OSError, ValueError):
        return False
    relations = {
        (m["node_relation"].get("database"), m["node_relation"].get("schema_name"))
        for m in data.get("semantic_models", [])
    }
    return written > _inputs_mtime() and relations == {
        _where_marts_are(target, {**os.environ, **env})
    }


def semantic_manifest(
    lake: LakeLike, target: str = "dev", *, env: dict[str, str] | None = None
) -> Path:
    """The lake's semantic_manifest.json for ``target`` (in its dbt artifacts): the one
    the last build or parse wrote when it is current, else a fresh ``dbt parse``."""
    lake = lake if isinstance(lake, Lake) else Lake.at(lake)
    env = env or dbt_env(lake, target)
    path = artifacts_dir(lake, target) / "target" / SEMANTIC_MANIFEST
    if _is_current(path, target, env):
        return path
    run = run_dbt(["parse"], lake, target, env=env, quiet=True)
    if not run.success or not path.is_file():
        errors = [ln for ln in run.output.splitlines() if "error" in ln.lower() and ln.strip()]
        detail = one_line(errors[-1])[:300] if errors else f"exit code {run.returncode}"
        raise WarehouseError(
            f"dbt parse --target {target} failed: {detail}",
            f"dbt's full output: {output_log(artifacts_dir(lake, target), ['parse'])}",
            step="metrics",
            target=target,
        )
    return path


def validate(manifest: Path) -> list[str]:
    """MetricFlow's semantic validation of a semantic manifest: the blocking issues
    (an empty list when it passes)."""
    from metricflow_semantic_interfaces.validations.semantic_manifest_validator import (
        SemanticManifestValidator,
    )
    from metricflow_semantics.model.dbt_manifest_parser import (
        parse_manifest_from_dbt_generated_manifest,
    )

    parsed = parse_manifest_from_dbt_generated_manifest(manifest.read_text("utf-8"))
    result = SemanticManifestValidator().validate_semantic_manifest(parsed)
    return [issue.as_readable_str() for issue in result.errors]


def list_metrics(manifest: Path) -> Report:
    """Every metric of the semantic manifest: name, type, label and description."""
    data = json.loads(manifest.read_text("utf-8"))
    rows = [
        (m["name"], m["type"], m.get("label") or "", " ".join((m.get("description") or "").split()))
        for m in sorted(data.get("metrics", []), key=lambda m: m["name"])
    ]
    saved = sorted(q["name"] for q in data.get("saved_queries", []))
    return Report(
        title=f"{len(rows)} metrics ({manifest})",
        columns=("metric", "type", "label", "description"),
        rows=rows,
        notes=[f"saved queries: {', '.join(saved)}"] if saved else [],
    )


# --- queries ------------------------------------------------------------------------------
def query(lake: LakeLike, request: MetricQuery, **kw: Any) -> MetricResult:
    """Run one MetricFlow query against the lake's warehouse (see :func:`query_many`)."""
    return query_many(lake, [request], **kw)[0]


def query_many(
    lake: LakeLike,
    requests: Sequence[MetricQuery],
    *,
    target: str = "dev",
    duckdb_path: str | os.PathLike | None = None,
    postgres_dsn: str | None = None,
    pg_schema: str | None = None,
) -> list[MetricResult]:
    """Run MetricFlow queries against the lake's warehouse on ``target``, in one child
    process (one adapter set-up for all of them)."""
    for request in requests:
        if not request.metrics and not request.saved_query:
            raise WarehouseError(
                "no metric to query", "pass --metrics M[,M] or --saved-query NAME", step="metrics"
            )
    lake = lake if isinstance(lake, Lake) else Lake.at(lake)
    env = dbt_env(
        lake, target, duckdb_path=duckdb_path, postgres_dsn=postgres_dsn, pg_schema=pg_schema
    )
    manifest = semantic_manifest(lake, target, env=env)
    _check_names(manifest, requests)
    with tempfile.TemporaryDirectory(prefix="shoplake-metrics-") as tmp:
        work = Path(tmp)
        if target == "dev" and not all(r.explain for r in requests):
            env = {**env, "SHOPLAKE_DUCKDB_PATH": str(_snapshot(env, work))}
        return _run_child(lake, target, env, manifest, requests, work)


def explain(lake: LakeLike, request: MetricQuery, **kw: Any) -> MetricResult:
    """The SQL MetricFlow would send for ``request`` on the target (``result.sql``, no
    rows), compiled by the target's adapter and dialect without connecting to it."""
    return query_many(lake, [replace(request, explain=True)], **kw)[0]


def _check_names(manifest: Path, requests: Sequence[MetricQuery]) -> None:
    """Unknown metric or saved-query names fail in one line before MetricFlow starts."""
    data = json.loads(manifest.read_text("utf-8"))
    known = {
        "metric": sorted(m["name"] for m in data.get("metrics", [])),
        "saved query": sorted(q["name"] for q in data.get("saved_queries", [])),
    }
    for request in requests:
        asked = {"metric": request.metrics, "saved query": [request.saved_query or ""][:1]}
        for kind, names in asked.items():
            unknown = [n for n in names if n and n not in known[kind]]
            if unknown:
                raise WarehouseError(
                    f"no {kind} named {', '.join(unknown)} in the semantic layer",
                    f"use one of {', '.join(known[kind])} (`shoplake metrics list`)",
                    step="metrics",
                )


def _snapshot(env: dict[str, str], work: Path) -> Path:
    """A private copy of the dev warehouse (same file name: the catalog keeps its name)."""
    path = Path(env["SHOPLAKE_DUCKDB_PATH"])
    copy = work / "warehouse" / path.name
    copy.parent.mkdir()
    with open_read_only(path):  # a shared lock: no build writes the file meanwhile
        shutil.copyfile(path, copy)
        wal = path.with_name(path.name + ".wal")
        if wal.is_file():
            shutil.copyfile(wal, copy.with_name(copy.name + ".wal"))
    return copy


def _run_child(
    lake: Lake,
    target: str,
    env: dict[str, str],
    manifest: Path,
    requests: Sequence[MetricQuery],
    work: Path,
) -> list[MetricResult]:
    logs = artifacts_dir(lake, target) / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    answer = work / "answer.json"
    spec = work / "request.json"
    with profiles_dir() as profiles:
        spec.write_text(
            json.dumps(
                {
                    "requests": [r.as_json() for r in requests],
                    "manifest": str(manifest),
                    "profiles": str(profiles),
                    "project": str(project_dir()),
                    "answer": str(answer),
                }
            ),
            "utf-8",
        )
        child_env = {
            **os.environ,
            **env,
            "DBT_LOG_PATH": str(logs),
            "DBT_TARGET_PATH": str(work / "target"),
            "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
            "MF_TELEMETRY_LEVEL": "NONE",
        }
        proc = subprocess.run(
            [sys.executable, "-c", _CHILD, str(spec)],
            env=child_env,
            cwd=work,
            capture_output=True,
            text=True,
            check=False,
        )
    (logs / "metrics.out").write_text(proc.stdout + proc.stderr, "utf-8")
    if proc.returncode != 0 or not answer.is_file():
        reason = _child_error(proc.stdout + proc.stderr)
        raise WarehouseError(
            f"metrics query --target {target} failed: {reason}",
            "check the metric and group-by names (`shoplake metrics list`); "
            f"full output: {logs / 'metrics.out'}",
            step="metrics",
            target=target,
        )
    return [
        MetricResult(columns=a["columns"], rows=[tuple(r) for r in a["rows"]], sql=a["sql"])
        for a in json.loads(answer.read_text("utf-8"))
    ]


def _child_error(output: str) -> str:
    marked = [ln.split(_ERROR_MARK, 1)[1] for ln in output.splitlines() if _ERROR_MARK in ln]
    if marked:
        return one_line(marked[-1])[:400]
    lines = [ln for ln in output.splitlines() if ln.strip()]
    return one_line(lines[-1])[:400] if lines else "MetricFlow exited without an answer"


def _plain(value: Any) -> Any:
    """JSON-ready: decimals as strings (exact), dates and timestamps as ISO text."""
    from decimal import Decimal

    if isinstance(value, Decimal):
        return str(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def _child_main(argv: Sequence[str]) -> None:
    """The child process: load the profile and adapter, run the query, write the answer."""
    spec = json.loads(Path(argv[0]).read_text("utf-8"))
    try:
        from dbt.adapters.factory import get_adapter_by_type
        from dbt_metricflow.cli.dbt_connectors.adapter_backed_client import (
            AdapterBackedSqlClient,
        )
        from dbt_metricflow.cli.dbt_connectors.dbt_config_accessor import dbtProjectMetadata
        from metricflow.engine.metricflow_engine import MetricFlowEngine, MetricFlowQueryRequest
        from metricflow_semantics.model.dbt_manifest_parser import (
            parse_manifest_from_dbt_generated_manifest,
        )
        from metricflow_semantics.model.semantic_manifest_lookup import SemanticManifestLookup

        metadata = dbtProjectMetadata.load_from_paths(
            profiles_path=Path(spec["profiles"]), project_path=Path(spec["project"])
        )
        adapter = get_adapter_by_type(metadata.profile.credentials.type)
        manifest = parse_manifest_from_dbt_generated_manifest(
            Path(spec["manifest"]).read_text("utf-8")
        )
        engine = MetricFlowEngine(
            semantic_manifest_lookup=SemanticManifestLookup(manifest),
            sql_client=AdapterBackedSqlClient(adapter),
        )
        answers: list[dict[str, Any]] = []
        for req in spec["requests"]:
            mf_request = MetricFlowQueryRequest.create(
                saved_query_name=req["saved_query"],
                metric_names=req["metrics"] or None,
                group_by_names=req["group_by"] or None,
                where_constraints=req["where"] or None,
                order_by_names=req["order"] or None,
                limit=req["limit"],
            )
            if req.get("explain"):  # the same request, compiled: nothing is sent
                statement = engine.explain(mf_request).sql_statement
                answers.append({"columns": [], "rows": [], "sql": statement.sql})
                continue
            result = engine.query(mf_request)
            df = result.result_df
            if df is None:  # a query always has a table; an explain would not
                raise RuntimeError("MetricFlow returned no result table")
            answers.append(
                {
                    "columns": list(df.column_names),
                    "rows": [[_plain(v) for v in row] for row in df.rows],
                    "sql": result.sql or "",
                }
            )
    except Exception as exc:  # reported to the parent as one line
        print(_ERROR_MARK + " " + one_line(str(exc) or type(exc).__name__))
        raise SystemExit(1) from None
    Path(spec["answer"]).write_text(json.dumps(answers), "utf-8")
