"""Raw -> silver: the Glue ETL step, on DuckDB. See docs/lake.md."""

from shoplake.ingest.engine import DatasetStats, IngestReport, run_ingest

__all__ = ["DatasetStats", "IngestReport", "run_ingest"]
