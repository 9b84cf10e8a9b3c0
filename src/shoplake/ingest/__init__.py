"""Raw -> silver: the Glue ETL step, on DuckDB or (``--engine spark``) PySpark.

See docs/lake.md.
"""

from shoplake.ingest.engine import DatasetStats, IngestReport, run_ingest

__all__ = ["DatasetStats", "IngestReport", "run_ingest"]
