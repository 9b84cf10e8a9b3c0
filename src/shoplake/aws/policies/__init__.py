"""IAM and bucket policies as plain JSON documents, rendered with a deployment's names.

Each ``*.json`` file next to this module is a policy document as AWS takes it, with
``${Name}`` placeholders in its strings (``${ProcessedBucket}``, ``${KeyArn}``, ...). A
string that is a placeholder and nothing else may take a list (``"${Services}"``). The
files are the policies: reviewing what a role may do means reading one short file, and
:mod:`shoplake.aws.deploy` sends exactly what :func:`render` returns.

The roles and what their documents grant:

* ``ingest`` — the pipeline job (extract + ingest): read ``raw/``, deliver extracted
  products to ``raw/products/``, read and replace ``silver/``, ``quarantine/`` and
  ``_state/``, register tables and partitions in the lake's Glue database. It can never
  delete or overwrite other raw files.
* ``athena_reader`` — analysts: run queries in the shoplake workgroup, read the catalog,
  ``silver/`` and ``gold/``, write their own query results (Athena writes them as the caller).
* ``redshift_spectrum`` — attached to the Redshift cluster or workgroup: read the catalog
  and ``silver/`` (Spectrum scans and ``COPY ... FORMAT AS PARQUET``), add partitions and
  create the database if missing (what ``stage_external_sources`` issues), decrypt.
* ``alert_lambda`` — the purchase-alert function (:mod:`shoplake.alerts.lambda_handler`):
  read new ``raw/clickstream/`` files, claim and mark alerts in its ledger
  (``alerts/_ledger/`` beside the lake prefix of the bucket the event came from),
  publish to the alerts topic, write its own logs. It may list the raw bucket (names
  only): without that, S3 answers a vanished object with 403 instead of 404 and the
  handler could not tell "deleted since" from "forbidden". Lambda sends the events it
  gives up on to the failed-events queue as this role: ``sqs:SendMessage`` on that queue
  only, and the lake key through SQS (which encrypts the queue with it).
* ``pipeline`` — the daily Glue job (``shoplake run``): the ingest role's grants, plus
  ``gold/`` (publish), reading the job's script, wheel and dbt project (``glue-job/``
  of the processed bucket), the Redshift password secret (``<name>/redshift``), publishing to the
  notification topic, ``cloudwatch:PutMetricData`` in the ``shoplake`` namespace only
  (the action has no resource-level permissions), and writing its own log streams.
* ``redshift_unload`` — attached to the Redshift cluster or workgroup beside the Spectrum
  role: write UNLOAD output into ``_state/gold/unload/`` (publish's scratch prefix) and
  nothing else, with the lake key through S3.
* ``bucket`` — every bucket: deny plain HTTP, deny puts that ask for another encryption
  or another KMS key (puts without an encryption header get the bucket default, SSE-KMS
  with the lake key).
"""

from __future__ import annotations

import json
import re
from importlib import resources
from string import Template
from typing import Any

_WHOLE = re.compile(r"^\$\{(\w+)\}$")

ROLE_POLICIES = ("ingest", "athena_reader", "redshift_spectrum", "alert_lambda")
#: The roles of the daily job on AWS: the Glue job's, and the one Redshift uses to UNLOAD
#: gold into the lake (their grants include CloudWatch's and Secrets Manager's, which
#: are not lake resources).
JOB_ROLE_POLICIES = ("pipeline", "redshift_unload")


def template(name: str) -> Any:
    """The policy document ``<name>.json`` as parsed JSON, placeholders unexpanded."""
    text = resources.files(__name__).joinpath(f"{name}.json").read_text("utf-8")
    return json.loads(text)


def render(name: str, values: dict[str, Any]) -> dict[str, Any]:
    """The policy document ``<name>.json`` with every placeholder replaced.

    A placeholder without a value raises KeyError: a half-rendered policy is never sent.
    """
    return _substitute(template(name), values)


def _substitute(node: Any, values: dict[str, Any]) -> Any:
    if isinstance(node, dict):
        return {k: _substitute(v, values) for k, v in node.items()}
    if isinstance(node, list):
        return [_substitute(v, values) for v in node]
    if isinstance(node, str):
        whole = _WHOLE.match(node)
        if whole:
            return values[whole[1]]
        return Template(node).substitute(values)
    return node


def canonical(document: dict[str, Any] | str) -> dict[str, Any]:
    """A policy in a form where equal meaning compares equal: single values as lists,
    lists sorted. AWS may hand a stored policy back with such details changed."""
    doc = json.loads(document) if isinstance(document, str) else document

    def norm(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: norm(v) for k, v in sorted(value.items())}
        if isinstance(value, (list, str)):
            items = value if isinstance(value, list) else [value]
            items = [norm(v) if isinstance(v, dict) else v for v in items]
            return sorted(items, key=lambda v: json.dumps(v, sort_keys=True))
        return value

    statements = doc.get("Statement", [])
    if isinstance(statements, dict):
        statements = [statements]
    return {
        "Version": doc.get("Version"),
        "Statement": sorted(
            (norm(s) for s in statements), key=lambda s: json.dumps(s, sort_keys=True)
        ),
    }
