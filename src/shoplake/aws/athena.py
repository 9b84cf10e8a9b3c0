"""Athena: the shoplake workgroup, the sample analyses as named queries, running one.

**Workgroup.** Query results go to the processed bucket's ``athena-results/`` prefix,
encrypted with the lake's KMS key; every query is cut off after a configurable number of
bytes scanned; the workgroup's settings override whatever a client asks for (enforced),
so nobody can write unencrypted results elsewhere or scan without a limit.

**Named queries from dbt analyses.** The project's ``analyses/*.sql`` are dbt analyses:
Jinja with ``ref()`` and macros. They are rendered here without dbt, with the same
macros (the project's ``macros/`` and dbt's own cross-database ``dbt.*`` macros, each
``adapter.dispatch`` resolved to the ``athena__`` version if there is one, else the
``default__`` one) and three Athena rules:

* ``ref('x')`` becomes the table ``"x"`` of the named query's database (the lake's Glue
  database): the marts must be in that database for the query to run. They live in the
  warehouse (Redshift), so publish the ones analysts need there first, e.g. on Redshift
  ``create external table lake.agg_daily_revenue stored as parquet location 's3://...'
  as select * from analytics.agg_daily_revenue`` (docs/aws.md);
* ``var()`` reads ``dbt_project.yml``'s vars;
* Athena's engine (Trino) has no ``numeric`` type name, so ``numeric(p, s)`` is spelled
  ``decimal(p, s)``.
"""

from __future__ import annotations

import importlib.util
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shoplake.aws.session import AwsSession, aws_errors
from shoplake.errors import AwsError, ConfigError, WarehouseError
from shoplake.report import Report

#: Where query results go inside the processed bucket.
RESULTS_PREFIX = "athena-results"
#: Bytes one query may scan before Athena cancels it (a scan of the whole silver zone of
#: a year of default-scale data is far below this; a runaway cross join is not).
DEFAULT_BYTES_SCANNED_CUTOFF = 10 * 1024**3
#: Athena refuses a smaller cut-off.
MIN_BYTES_SCANNED_CUTOFF = 10 * 1024**2
ENGINE_VERSION = "Athena engine version 3"

_NUMERIC = re.compile(r"\bnumeric\s*\(", re.IGNORECASE)


def workgroup_configuration(
    output_location: str, key_arn: str, bytes_scanned_cutoff: int
) -> dict[str, Any]:
    """The workgroup's Configuration (the shape create_work_group takes)."""
    if bytes_scanned_cutoff < MIN_BYTES_SCANNED_CUTOFF:
        raise ConfigError(
            f"a bytes-scanned limit of {bytes_scanned_cutoff:,} bytes is below Athena's "
            f"minimum of {MIN_BYTES_SCANNED_CUTOFF:,}",
            "pass a larger limit",
            setting="bytes_scanned_cutoff",
        )
    return {
        "ResultConfiguration": {
            "OutputLocation": output_location,
            "EncryptionConfiguration": {"EncryptionOption": "SSE_KMS", "KmsKey": key_arn},
        },
        "EnforceWorkGroupConfiguration": True,
        "PublishCloudWatchMetricsEnabled": True,
        "BytesScannedCutoffPerQuery": bytes_scanned_cutoff,
        "RequesterPaysEnabled": False,
        "EngineVersion": {"SelectedEngineVersion": ENGINE_VERSION},
    }


def workgroup_updates(configuration: dict[str, Any]) -> dict[str, Any]:
    """The ``ConfigurationUpdates`` of update_work_group that set ``configuration``."""
    updates = {k: v for k, v in configuration.items() if k != "ResultConfiguration"}
    updates["ResultConfigurationUpdates"] = configuration["ResultConfiguration"]
    return updates


def comparable_workgroup(configuration: dict[str, Any]) -> dict[str, Any]:
    """The settings of a workgroup that shoplake manages, from get_work_group's answer
    or from :func:`workgroup_configuration` (so the two compare)."""
    result = configuration.get("ResultConfiguration", {})
    encryption = result.get("EncryptionConfiguration", {})
    return {
        "output_location": result.get("OutputLocation"),
        "encryption": encryption.get("EncryptionOption"),
        "kms_key": encryption.get("KmsKey"),
        "enforced": configuration.get("EnforceWorkGroupConfiguration"),
        "cloudwatch_metrics": configuration.get("PublishCloudWatchMetricsEnabled"),
        "bytes_scanned_cutoff": configuration.get("BytesScannedCutoffPerQuery"),
        "engine": configuration.get("EngineVersion", {}).get("SelectedEngineVersion"),
    }


# --- analyses -> named queries ---------------------------------------------------------
@dataclass(frozen=True)
class NamedQuery:
    name: str
    description: str
    sql: str


def analyses(project: Path) -> list[NamedQuery]:
    """Every analysis of the dbt project rendered for Athena, by name."""
    import yaml

    descriptions: dict[str, str] = {}
    folder = project / "analyses"
    for path in sorted(folder.glob("*.yml")):
        for item in (yaml.safe_load(path.read_text("utf-8")) or {}).get("analyses", []):
            descriptions[item["name"]] = item.get("description", "")
    renderer = AnalysisRenderer(project)
    return [
        NamedQuery(path.stem, descriptions.get(path.stem, ""), renderer.render(path))
        for path in sorted(folder.glob("*.sql"))
    ]


class AnalysisRenderer:
    """Renders dbt analyses for Athena with plain Jinja (see the module docstring)."""

    def __init__(self, project: Path) -> None:
        import jinja2
        import yaml

        self.project = project
        config = yaml.safe_load((project / "dbt_project.yml").read_text("utf-8"))
        self.vars: dict[str, Any] = config.get("vars", {}) or {}
        self.env = jinja2.Environment(
            extensions=["jinja2.ext.do", "jinja2.ext.loopcontrols"],
            undefined=jinja2.StrictUndefined,
        )
        self.env.globals.update(
            ref=lambda name, *_: f'"{name}"',
            var=self._var,
            config=lambda **_: "",
            adapter=_Dispatcher(self._namespaces),
            **{"return": lambda value: value},
        )
        self.dbt = self._module(_dbt_macro_dir().glob("*.sql"))
        self.env.globals["dbt"] = self.dbt
        self.project_macros = self._module(sorted((project / "macros").glob("*.sql")))
        for name in dir(self.project_macros):
            if not name.startswith("_"):
                self.env.globals[name] = getattr(self.project_macros, name)

    def _namespaces(self) -> dict[str, Any]:
        return {"dbt": self.dbt, "shoplake": self.project_macros}

    def _module(self, paths: Any) -> Any:
        source = "\n".join(Path(p).read_text("utf-8") for p in paths)
        return self.env.from_string(source).module

    def _var(self, name: str, default: Any = None) -> Any:
        if name in self.vars:
            return self.vars[name]
        if default is not None:
            return default
        raise ConfigError(f"dbt var {name!r} is not set in dbt_project.yml", "", setting=name)

    def render(self, path: Path) -> str:
        sql = self.env.from_string(path.read_text("utf-8")).render()
        sql = _NUMERIC.sub("decimal(", sql)
        return "\n".join(line.rstrip() for line in sql.strip().splitlines()) + "\n"


class _Dispatcher:
    """``adapter.dispatch(name, namespace)``: the ``athena__`` macro, else ``default__``."""

    def __init__(self, namespaces: Callable[[], dict[str, Any]]) -> None:
        self._namespaces = namespaces

    def dispatch(self, name: str, macro_namespace: str = "dbt") -> Any:
        module = self._namespaces()[macro_namespace]
        for prefix in ("athena__", "default__"):
            macro = getattr(module, f"{prefix}{name}", None)
            if macro is not None:
                return macro
        raise WarehouseError(f"macro {macro_namespace}.{name} has no default version", "")


def _dbt_macro_dir() -> Path:
    """dbt's cross-database macros (date_trunc, dateadd, ...) as shipped with dbt (found
    without importing the package, which would load much of dbt)."""
    spec = importlib.util.find_spec("dbt.include.global_project")
    if spec is None or spec.origin is None:
        raise WarehouseError(
            "dbt's global project macros are not installed", "pip install dbt-core"
        )
    return Path(spec.origin).parent / "macros" / "utils"


# --- running a named query ---------------------------------------------------------------
@dataclass
class QueryResult:
    name: str
    query_execution_id: str
    columns: list[str]
    rows: list[list[str | None]] = field(default_factory=list)
    bytes_scanned: int = 0

    def as_report(self) -> Report:
        return Report(
            title=f"athena: {self.name}",
            columns=self.columns or ["(no columns)"],
            rows=[list(r) for r in self.rows],
            notes=[
                f"{len(self.rows):,} rows, {self.bytes_scanned:,} bytes scanned "
                f"(query execution {self.query_execution_id})"
            ],
        )


def find_named_query(athena: Any, workgroup: str, name: str) -> dict[str, Any] | None:
    """The named query called ``name`` in a workgroup (Athena names are not unique: the
    first one wins, and deploy never creates a second)."""
    for query in list_named_queries(athena, workgroup):
        if query["Name"] == name:
            return query
    return None


def list_named_queries(athena: Any, workgroup: str) -> list[dict[str, Any]]:
    ids: list[str] = []
    token = None
    while True:
        kwargs = {"WorkGroup": workgroup, **({"NextToken": token} if token else {})}
        page = athena.list_named_queries(**kwargs)
        ids += page.get("NamedQueryIds", [])
        token = page.get("NextToken")
        if not token:
            break
    # one get per id: BatchGetNamedQuery is not in every S3-compatible test endpoint,
    # and a workgroup holds a handful of named queries
    return [athena.get_named_query(NamedQueryId=i)["NamedQuery"] for i in ids]


def named_queries_report(workgroup: str, *, session: AwsSession | None = None) -> Report:
    """The workgroup's named queries: name, database, description."""
    athena = (session or AwsSession()).client("athena")
    with aws_errors(f"listing the named queries of Athena workgroup {workgroup!r}"):
        queries = sorted(list_named_queries(athena, workgroup), key=lambda q: q["Name"])
    return Report(
        title=f"Athena named queries in {workgroup}",
        columns=["name", "database", "description"],
        rows=[[q["Name"], q.get("Database", ""), q.get("Description", "")] for q in queries],
    )


def run_named_query(
    name: str,
    workgroup: str,
    database: str | None = None,
    *,
    session: AwsSession | None = None,
    poll_seconds: float = 1.0,
    timeout_seconds: float = 600.0,
    sleep: Callable[[float], None] = time.sleep,
) -> QueryResult:
    """Start the workgroup's named query ``name``, wait for it, and return its rows.

    ``database`` overrides the named query's own database. A query that fails, is
    cancelled or outlives ``timeout_seconds`` (then it is stopped) raises ShoplakeError
    with Athena's reason.
    """
    session = session or AwsSession()
    athena = session.client("athena")
    with aws_errors(f"athena query {name!r} in workgroup {workgroup!r}"):
        query = find_named_query(athena, workgroup, name)
        if query is None:
            known = sorted(q["Name"] for q in list_named_queries(athena, workgroup))
            raise AwsError(
                f"no named query {name!r} in Athena workgroup {workgroup!r}",
                f"known: {', '.join(known)}" if known else "run `shoplake deploy aws` first",
                resource=f"athena named query {name}",
            )
        execution_id = athena.start_query_execution(
            QueryString=query["QueryString"],
            QueryExecutionContext={"Database": database or query["Database"]},
            WorkGroup=workgroup,
        )["QueryExecutionId"]
        execution = _wait(athena, execution_id, name, poll_seconds, timeout_seconds, sleep)
        columns, rows = _results(athena, execution_id)
    return QueryResult(
        name=name,
        query_execution_id=execution_id,
        columns=columns,
        rows=rows,
        bytes_scanned=int(execution.get("Statistics", {}).get("DataScannedInBytes", 0)),
    )


def _wait(
    athena: Any,
    execution_id: str,
    name: str,
    poll_seconds: float,
    timeout_seconds: float,
    sleep: Callable[[float], None],
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_seconds
    delay = min(poll_seconds, 0.2)  # short queries finish fast: start polling quickly
    while True:
        execution = athena.get_query_execution(QueryExecutionId=execution_id)["QueryExecution"]
        status = execution["Status"]
        state = status["State"]
        if state == "SUCCEEDED":
            return execution
        if state in ("FAILED", "CANCELLED"):
            reason = status.get("StateChangeReason") or status.get("AthenaError", {}).get(
                "ErrorMessage", "no reason given"
            )
            raise AwsError(
                f"Athena query {name!r} {state.lower()}: {reason}",
                f"query execution {execution_id}; see the Athena console for details",
                resource=f"athena query {name}",
            )
        if time.monotonic() > deadline:
            athena.stop_query_execution(QueryExecutionId=execution_id)
            raise AwsError(
                f"Athena query {name!r} still {state.lower()} after {timeout_seconds:.0f} s; "
                "stopped it",
                "raise --timeout, or check the workgroup's queue",
                resource=f"athena query {name}",
            )
        sleep(delay)
        delay = min(delay * 2, poll_seconds)


def _results(athena: Any, execution_id: str) -> tuple[list[str], list[list[str | None]]]:
    columns: list[str] = []
    rows: list[list[str | None]] = []
    for page in athena.get_paginator("get_query_results").paginate(QueryExecutionId=execution_id):
        if not columns:
            info = page.get("ResultSet", {}).get("ResultSetMetadata", {}).get("ColumnInfo", [])
            columns = [c.get("Label") or c.get("Name", "") for c in info]
        for row in page.get("ResultSet", {}).get("Rows", []):
            rows.append([cell.get("VarCharValue") for cell in row.get("Data", [])])
    # The first row of a SELECT's results repeats the column names.
    if rows and columns and rows[0] == columns:
        rows = rows[1:]
    return columns, rows
