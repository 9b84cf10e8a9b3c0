"""The alerts Lambda's deployment package: a zip of just the modules its handler imports.

The Lambda Python runtime brings the standard library and boto3; everything else the
handler needs is a handful of stdlib-only shoplake modules, so the zip is a few dozen
kilobytes with no DuckDB, Arrow or NumPy in it. Which modules: the shoplake modules the
handler imports, directly or through each other, found by reading their import
statements (:mod:`modulefinder`), so the list cannot go stale. A test imports the
handler from the zip alone, with only boto3 beside it, so an import that needs more
fails there. The archive is byte-for-byte the same for
the same sources (fixed timestamps and order), so a deploy that compares the code's
SHA-256 changes nothing when nothing changed.
"""

from __future__ import annotations

from modulefinder import ModuleFinder
from pathlib import Path

import shoplake
from shoplake.files import reproducible_zip, write_atomic

HANDLER = "shoplake.alerts.lambda_handler.handler"
ZIP_NAME = "shoplake-alerts-lambda.zip"


def handler_modules() -> list[str]:
    """Package-relative files of the shoplake modules the handler imports (sorted)."""
    source = Path(shoplake.__file__).parent
    finder = ModuleFinder(path=[str(source.parent)])  # only shoplake is searched
    finder.run_script(str(source / "alerts" / "lambda_handler.py"))
    files = {
        Path(path).relative_to(source).as_posix()
        for name, module in finder.modules.items()
        if name.split(".")[0] == "shoplake" and (path := getattr(module, "__file__", None))
    }
    return sorted(files | {"__init__.py", "alerts/lambda_handler.py"})


def build_lambda_zip(dest_dir: str | Path) -> Path:
    """Write ``<dest_dir>/shoplake-alerts-lambda.zip`` and return its path.

    Handler: ``shoplake.alerts.lambda_handler.handler``; environment:
    ``SHOPLAKE_ALERTS_TOPIC_ARN`` (required), ``SHOPLAKE_ALERTS_CLAIM_LEASE_S``.
    """
    source = Path(shoplake.__file__).parent
    dest = Path(dest_dir)
    dest.mkdir(parents=True, exist_ok=True)
    target = dest / ZIP_NAME
    entries = [(f"shoplake/{r}", (source / r).read_bytes()) for r in handler_modules()]
    write_atomic(target, reproducible_zip(entries), durable=False)
    return target
