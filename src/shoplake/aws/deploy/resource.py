"""One resource deploy manages (desired, read back, apply) and the helpers every service shares."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from shoplake.aws.session import refused

#: Sentinel of a resource (or a bucket setting) that does not exist.
MISSING: Any = type("Missing", (), {"__repr__": lambda self: "MISSING"})()


def constant(value: Any) -> Callable[[], Any]:
    """A resource's ``desired`` when it is known up front (bound now, not at call time)."""
    return lambda: value


@dataclass
class Resource:
    """One thing deploy manages: how it should be, how it is, how to make it so.

    ``desired`` and ``read`` return the same comparable form (``read`` returns MISSING
    when the thing does not exist); ``apply`` receives what ``read`` returned.
    """

    kind: str
    name: str
    desired: Callable[[], Any]
    read: Callable[[], Any]
    apply: Callable[[Any], None]
    drift: Callable[[Any, Any], list[str]] | None = None

    def differences(self, current: Any, desired: Any) -> list[str]:
        if self.drift is not None:
            return self.drift(current, desired)
        if isinstance(current, dict) and isinstance(desired, dict):
            keys = sorted(set(current) | set(desired))
            return [k for k in keys if current.get(k) != desired.get(k)]
        return [] if current == desired else ["settings"]


def tag_list(tags: dict[str, str], key: str = "Key", value: str = "Value") -> list[dict]:
    return [{key: k, value: v} for k, v in sorted(tags.items())]


def missing_on(*codes: str) -> Callable[[Callable[[], Any]], Any]:
    """Call ``read`` and answer MISSING when the service says one of ``codes``."""

    def call(read: Callable[[], Any]) -> Any:
        with refused(*codes):
            return read()
        return MISSING

    return call
