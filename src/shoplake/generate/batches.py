"""Batch sources (orders, sales, payments, products as CSV; customers as JSON pages):
which records go into which file, when each file lands, and how it is written.

A record lands on the day it was exported (its ``export_ms``); a day's export is split
into parts (CSV) or pages (JSON), and a few files land 1-3 days late. A few intact files
are delivered a second time under another name. With ``--faults``, bad records are mixed
into some files and broken renditions of some files are dropped next to them.
"""

from __future__ import annotations

import itertools
import random
from collections import defaultdict
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from typing import Any

from shoplake.contract import DATASETS, Dataset
from shoplake.generate import faults as bad
from shoplake.generate.data import API_PAGES
from shoplake.generate.formats import (
    DAY_MS,
    Style,
    Writer,
    csv_columns,
    csv_rows,
    draw_style,
    encode,
    render_csv,
    render_json,
)
from shoplake.lake import Lake

#: Share of files delivered 1-3 days after their export day.
LATE_SHARE = 0.06
#: Share of intact files delivered twice (at least one per dataset with two files).
RESEND_SHARE = 0.03


@dataclass
class Counts:
    """What was written for one dataset (the generator's report and summary)."""

    files: int = 0
    records: int = 0
    duplicates: int = 0
    late_files: int = 0
    faults: dict[str, int] = field(default_factory=dict)

    def add_fault(self, kind: str, n: int = 1) -> None:
        self.faults[kind] = self.faults.get(kind, 0) + n


@dataclass
class Planned:
    """One file to deliver."""

    name: str  # without extension
    export_day: date
    landed: date
    records: list[dict[str, Any]]
    page: int = 0  # JSON pages: 1-based page number, 0 for CSV
    last_page: bool = True
    bare_array: bool | None = None
    bad_records: list[str] = field(default_factory=list)  # fault kinds to mix in


def _date_of(ms: int) -> date:
    return date.fromordinal(date(1970, 1, 1).toordinal() + ms // DAY_MS)


def plan(
    dataset: str, rows: list[tuple[int, dict[str, Any]]], start: date, seed: int
) -> list[Planned]:
    """Group exported records into files and decide when each file lands."""
    rng = random.Random(f"{seed}:plan:{dataset}")
    by_day: dict[date, list[tuple[int, dict[str, Any]]]] = defaultdict(list)
    for ms, rec in rows:
        by_day[_date_of(ms)].append((ms, rec))
    files: list[Planned] = []
    for day in sorted(by_day):
        records = [rec for _, rec in sorted(by_day[day], key=lambda item: item[0])]
        stamp = f"{day:%Y%m%d}"
        if dataset == "customers":
            size = rng.choice((100, 200, 250))
            chunks = [records[i : i + size] for i in range(0, len(records), size)]
            lag = rng.randint(1, 3) if rng.random() < LATE_SHARE else 0
            bare = rng.random() < 0.2
            for n, chunk in enumerate(chunks, 1):
                files.append(
                    Planned(
                        f"customers_{stamp}_p{n:03d}",
                        day,
                        day + timedelta(days=lag),
                        chunk,
                        page=n,
                        last_page=n == len(chunks),
                        bare_array=bare,
                    )
                )
            continue
        if dataset == "products" and day == start:  # the initial full dump, then changes
            t0 = (start.toordinal() - date(1970, 1, 1).toordinal()) * DAY_MS
            full = [rec for rec in records if rec["updated_at"] < t0]
            for n, i in enumerate(range(0, len(full), 500)):
                files.append(Planned(f"products_full_{stamp}_{n:02d}", day, day, full[i : i + 500]))
            records = [rec for rec in records if rec["updated_at"] >= t0]
            if not records:
                continue
        # a day's export in one to three parts, each maybe delivered late
        k = min(rng.choices((1, 2, 3), (70, 20, 10))[0], len(records))
        cuts = sorted(rng.sample(range(1, len(records)), k - 1)) if k > 1 else []
        bounds = [0, *cuts, len(records)]
        for n, (a, b) in enumerate(itertools.pairwise(bounds)):
            lag = rng.randint(1, 3) if rng.random() < LATE_SHARE else 0
            files.append(
                Planned(f"{dataset}_{stamp}_{n:02d}", day, day + timedelta(days=lag), records[a:b])
            )
    return files


class BatchWriter:
    """Writes one dataset's planned files, with duplicates and (optionally) faults."""

    def __init__(self, lake: Lake, writer: Writer, dataset: str, seed: int) -> None:
        self.lake, self.writer, self.seed = lake, writer, seed
        self.ds: Dataset = DATASETS[dataset]
        self.counts = Counts()

    def style(self, pf: Planned) -> tuple[Style, random.Random]:
        rng = random.Random(f"{self.seed}:style:{pf.name}")
        kind = "json" if self.ds.name == "customers" else "csv"
        style = draw_style(rng, kind, gzip_share=0.25 if kind == "json" else 0.2)
        if pf.bare_array is not None:
            style = replace(style, bare_array=pf.bare_array)
        return style, rng

    def write_all(self, files: list[Planned], fault_rng: random.Random | None) -> Counts:
        resend_rng = random.Random(f"{self.seed}:resend:{self.ds.name}")
        n_resend = max(1, round(len(files) * RESEND_SHARE)) if len(files) >= 2 else 0
        resend = set(resend_rng.sample(range(len(files)), n_resend))
        broken: list[tuple[Planned, str]] = []
        if fault_rng is not None and files:
            targets = [pf for i, pf in enumerate(files) if i not in resend] or files
            for kind in bad.RECORD_FAULTS[self.ds.name]:
                for _ in range(fault_rng.randint(2, 4)):
                    fault_rng.choice(targets).bad_records.append(kind)
            for kind in bad.FILE_FAULTS[self.ds.name]:
                for _ in range(fault_rng.randint(1, 2)):
                    broken.append((fault_rng.choice(files), kind))
        for i, pf in enumerate(files):
            data, ext = self._render(pf, fault_rng)
            landing = self.lake.landing_prefix(self.ds.name, pf.landed)
            self.writer.write(f"{landing}/{pf.name}{ext}", data)
            self.counts.files += 1
            self.counts.records += len(pf.records)
            self.counts.late_files += pf.landed > pf.export_day
            if i in resend:
                later = pf.landed + timedelta(days=resend_rng.randint(0, 1))
                landing = self.lake.landing_prefix(self.ds.name, later)
                self.writer.write(f"{landing}/{pf.name}_resent{ext}", data)
                self.counts.files += 1
                self.counts.duplicates += len(pf.records)
        for k, (pf, kind) in enumerate(broken):
            assert fault_rng is not None
            data, ext = self._render_broken(pf, kind, fault_rng)
            name = f"{pf.name}_{bad.FILE_LABELS[kind]}{k}{ext}"
            landing = self.lake.landing_prefix(self.ds.name, pf.landed)
            self.writer.write(f"{landing}/{name}", data)
            self.counts.files += 1
            self.counts.add_fault(kind)
        return self.counts

    # rendering -----------------------------------------------------------------------
    def _render(self, pf: Planned, fault_rng: random.Random | None) -> tuple[bytes, str]:
        style, rng = self.style(pf)
        if self.ds.name == "customers":
            text = self._page_text(pf, style, fault_rng)
            return encode(text, style), ".json.gz" if style.gzip else ".json"
        cols = csv_columns(self.ds, style, rng)
        rows = csv_rows(self.ds, pf.records, cols, style)
        if pf.bad_records and fault_rng is not None:
            extra: dict[int, list[list[str]]] = defaultdict(list)
            for kind in pf.bad_records:
                i = fault_rng.randrange(len(rows))
                extra[i].append(bad.bad_csv_row(self.ds, kind, cols, rows[i], fault_rng))
                self.counts.add_fault(kind)
            rows = [r for i, row in enumerate(rows) for r in (row, *extra.get(i, ()))]
        return encode(render_csv(cols, rows, style), style), ".csv.gz" if style.gzip else ".csv"

    def _customer(self, rec: dict[str, Any], style: Style) -> dict[str, Any]:
        out = dict(rec)
        out["address"] = dict(rec["address"])
        out["signup_ts"] = style.ts_text(rec["signup_ts"])
        out["updated_at"] = style.ts_text(rec["updated_at"])
        return out

    def _page_text(self, pf: Planned, style: Style, fault_rng: random.Random | None) -> str:
        items: list[Any] = [self._customer(rec, style) for rec in pf.records]
        if pf.bad_records and fault_rng is not None:
            extra: dict[int, list[Any]] = defaultdict(list)
            for kind in pf.bad_records:
                i = fault_rng.randrange(len(items))
                extra[i].append(bad.bad_customer(kind, items[i], fault_rng))
                self.counts.add_fault(kind)
            items = [x for i, item in enumerate(items) for x in (item, *extra.get(i, ()))]
        if style.bare_array:
            return render_json(items, style)
        nxt = None if pf.last_page else f"{API_PAGES}?since={pf.export_day}&page={pf.page + 1}"
        return render_json({"page": pf.page, "next": nxt, "customers": items}, style)

    def _render_broken(self, pf: Planned, kind: str, rng: random.Random) -> tuple[bytes, str]:
        style, srng = self.style(pf)
        style = replace(style, gzip=False, bom=False)
        if self.ds.name == "customers":
            text = self._page_text(replace(pf, bad_records=[]), style, None)
            data = bad.broken_page(kind, text, rng)
            return data, ".json.gz" if kind == "unreadable_gzip" else ".json"
        cols = csv_columns(self.ds, style, srng)
        if kind == "missing_columns":
            cols.remove(rng.choice(self.ds.required_raw_columns))
        text = render_csv(cols, csv_rows(self.ds, pf.records, cols, style), style)
        if kind == "unreadable_gzip":
            return bad.truncated_gzip(text.encode()), ".csv.gz"
        if kind == "not_utf8":
            return bad.not_utf8(text), ".csv"
        return text.encode(), ".csv"
