"""A small evaluator of identity-based IAM policies, for asking "may this role do X to Y?".

moto's server has no policy simulator (iam:SimulatePrincipalPolicy) and enforces policies
for S3 object calls only; this answers the question for every service from the policy
documents alone, the way IAM decides for one identity policy: an explicit Deny wins,
otherwise an Allow whose Action, Resource and Condition all match, otherwise denied.
Actions match case-insensitively with ``*``/``?`` wildcards, resources case-sensitively;
conditions support the operators shoplake's policies use (String(Not)Equals,
String(Not)Like, Bool, Null) over a context dict given by the caller. Anything else in a
policy (NotAction, NotResource, other operators) is refused, so a policy that grows past
what this evaluator understands fails the tests instead of being misjudged.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

_SUPPORTED_OPERATORS = {
    "StringEquals",
    "StringNotEquals",
    "StringLike",
    "StringNotLike",
    "Bool",
    "Null",
}


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _wildcard(pattern: str, value: str, ignore_case: bool = False) -> bool:
    regex = "".join(".*" if ch == "*" else "." if ch == "?" else re.escape(ch) for ch in pattern)
    return re.fullmatch(regex, value, re.IGNORECASE if ignore_case else 0) is not None


def _condition_holds(condition: dict[str, Any], context: dict[str, str]) -> bool:
    for operator, tests in condition.items():
        if operator not in _SUPPORTED_OPERATORS:
            raise ValueError(f"condition operator {operator} is not understood here")
        for key, expected in tests.items():
            present = key in context
            values = _as_list(expected)
            actual = context.get(key, "")
            if operator == "Null":
                # "true": the key must be absent; "false": it must be present
                if (str(values[0]).lower() == "true") == present:
                    return False
            elif operator in ("StringEquals", "Bool"):
                if not present or actual not in [str(v) for v in values]:
                    return False
            elif operator == "StringNotEquals":
                if present and actual in [str(v) for v in values]:
                    return False
            elif operator == "StringLike":
                if not present or not any(_wildcard(v, actual) for v in values):
                    return False
            elif (
                operator == "StringNotLike"
                and present
                and any(_wildcard(v, actual) for v in values)
            ):
                return False
    return True


def _statement_matches(
    statement: dict[str, Any], action: str, resource: str, context: dict[str, str]
) -> bool:
    unsupported = {"NotAction", "NotResource", "NotPrincipal"} & set(statement)
    if unsupported:
        raise ValueError(f"{sorted(unsupported)} is not understood here")
    if not any(_wildcard(a, action, ignore_case=True) for a in _as_list(statement["Action"])):
        return False
    if not any(_wildcard(r, resource) for r in _as_list(statement["Resource"])):
        return False
    return _condition_holds(statement.get("Condition", {}), context)


def allowed(
    policies: Iterable[dict[str, Any]],
    action: str,
    resource: str,
    context: dict[str, str] | None = None,
) -> bool:
    """Whether an identity holding ``policies`` may do ``action`` on ``resource``."""
    context = context or {}
    allow = False
    for policy in policies:
        for statement in _as_list(policy["Statement"]):
            if _statement_matches(statement, action, resource, context):
                if statement["Effect"] == "Deny":
                    return False
                allow = True
    return allow


def denied(
    policies: Iterable[dict[str, Any]],
    action: str,
    resource: str,
    context: dict[str, str] | None = None,
) -> bool:
    """Whether a Deny statement of ``policies`` matches (resource policies such as a
    bucket policy deny; whether something is allowed is up to the caller's own policy)."""
    context = context or {}
    return any(
        statement["Effect"] == "Deny" and _statement_matches(statement, action, resource, context)
        for policy in policies
        for statement in _as_list(policy["Statement"])
    )
