"""Errors that the CLI reports as one clear line (what, where, what to do)."""

from __future__ import annotations


class ShoplakeError(Exception):
    """A known failure: printed as one line without a traceback (unless --debug)."""

    def __init__(self, what: str, hint: str = "") -> None:
        super().__init__(what)
        self.what = what
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.what} — {self.hint}" if self.hint else self.what


class LakeBusyError(ShoplakeError):
    """Another run holds the lake's lock."""
