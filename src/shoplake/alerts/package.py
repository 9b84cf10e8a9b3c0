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

import zipfile
from modulefinder import ModuleFinder
from pathlib import Path

import shoplake

HANDLER = "shoplake.alerts.lambda_handler.handler"
ZIP_NAME = "shoplake-alerts-lambda.zip"

_EPOCH = (1980, 1, 1, 0, 0, 0)  # the earliest time a zip entry can carry


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
    tmp = dest / f"_{ZIP_NAME}.tmp"
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for relative in handler_modules():
            info = zipfile.ZipInfo(f"shoplake/{relative}", date_time=_EPOCH)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, (source / relative).read_bytes())
    tmp.replace(target)
    return target
