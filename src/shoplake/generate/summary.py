"""What one ``generate`` wrote: per-dataset counts, as summary.json and as a report."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from typing import Any

from shoplake.generate.batches import Counts
from shoplake.report import Report

BATCH_DATASETS = ("orders", "sales", "payments", "customers", "products")
DATASET_ORDER = (*BATCH_DATASETS, "clickstream", "exchange_rates")


@dataclass
class GenerateReport:
    """What ``generate`` wrote: per dataset files, records, duplicates, faults."""

    start: date
    days: int
    orders_per_day: int
    seed: int
    faults: bool
    datasets: dict[str, Counts]
    products_loaded: int | None = None  # rows upserted into PostgreSQL, when a DSN was given
    summary_path: str | None = None  # where the counts were written (path or URL)
    seconds: float = 0.0
    bytes_written: int = 0

    def fault_totals(self) -> dict[str, int]:
        totals: dict[str, int] = defaultdict(int)
        for counts in self.datasets.values():
            for kind, n in counts.faults.items():
                totals[kind] += n
        return dict(sorted(totals.items()))

    def as_dict(self) -> dict[str, Any]:
        """Machine-readable counts (also written to ``_state/generate/summary.json``).

        Per dataset: ``records`` valid distinct records, ``duplicates`` records delivered
        again in exact copies of files, ``faults`` bad records or files per reason code
        (a broken file counts one), and what an ingest of exactly these files must
        account: ``read = records + duplicates + quarantined``.
        """
        datasets = {}
        for name in DATASET_ORDER:
            if name not in self.datasets:
                continue
            c = self.datasets[name]
            quarantined = sum(c.faults.values())
            datasets[name] = {
                "files": c.files,
                "records": c.records,
                "duplicates": c.duplicates,
                "late_files": c.late_files,
                "faults": dict(sorted(c.faults.items())),
                "expected_ingest": {
                    "read": c.records + c.duplicates + quarantined,
                    "written": c.records,
                    "quarantined": quarantined,
                    "duplicates": c.duplicates,
                },
            }
        return {
            "start": self.start.isoformat(),
            "days": self.days,
            "orders_per_day": self.orders_per_day,
            "seed": self.seed,
            "faults_requested": self.faults,
            "products_loaded_to_postgres": self.products_loaded,
            "datasets": datasets,
            "fault_totals": self.fault_totals(),
        }

    def as_report(self) -> Report:
        end = date.fromordinal(self.start.toordinal() + self.days - 1)
        rows = [
            (name, c.files, c.records, c.duplicates, c.late_files, sum(c.faults.values()))
            for name in DATASET_ORDER
            if (c := self.datasets.get(name)) is not None
        ]
        report = Report(
            title=f"Generated raw data for {self.start} .. {end} (seed {self.seed})",
            columns=("dataset", "files", "records", "duplicates", "late files", "faults"),
            rows=rows,
        )
        if self.products_loaded is not None:
            report.notes.append(
                f"products: catalog loaded into PostgreSQL ({self.products_loaded} rows "
                "inserted or changed); run `shoplake extract products` to land it in raw/"
            )
        totals = self.fault_totals()
        if totals:
            report.notes.append(
                "faults injected: " + ", ".join(f"{k}={v}" for k, v in totals.items())
            )
        mb = self.bytes_written / 1e6
        report.notes.append(f"wrote {mb:.1f} MB in {self.seconds:.1f} s")
        if self.summary_path is not None:
            report.notes.append(f"counts: {self.summary_path}")
        return report


def merged(a: Counts, b: Counts) -> Counts:
    """The counts of two parts of one dataset, added up."""
    faults = dict(a.faults)
    for kind, n in b.faults.items():
        faults[kind] = faults.get(kind, 0) + n
    return Counts(
        files=a.files + b.files,
        records=a.records + b.records,
        duplicates=a.duplicates + b.duplicates,
        late_files=a.late_files + b.late_files,
        faults=faults,
    )
