"""The columnar CSV reader and the bounded DuckDB connection of ingest (issue 17).

The columnar reader must give, for every file it accepts, exactly the relation the
row-by-row reader gives (lines, trimmed values, the raw record of a reject, the rules
broken); every file it declines is read row by row, with its line-level errors. The
expectations are the row-by-row reader's own output on the same bytes, never figures
copied from the new code.
"""

from __future__ import annotations

import json
from datetime import datetime

import duckdb
import pytest
from ingest_kit import SALE_COLS, check_stats, click, ingest, ndjson, quarantine, without

from shoplake.config import Settings
from shoplake.contract import CLICKSTREAM, DATASETS, SALES
from shoplake.errors import ShoplakeError
from shoplake.ingest import engine
from shoplake.ingest.engine import Checker
from shoplake.ingest.readers import RawRecords, read_csv, read_csv_columnar
from shoplake.ingest.resources import ingest_connection
from shoplake.landing import land_file

NOW = datetime(2026, 3, 2, 12, 0, 0)
HEADER = ",".join(SALE_COLS)

#: Files the columnar reader must take, each with valid and rejected rows.
ACCEPTED = {
    "plain": f"{HEADER}\nS1,O1,P1,2,9.99,,2026-03-01T10:00:00Z\nS2,O1,P2,0,1.00,0.50,soon\n",
    "crlf, no final line end": (
        f"{HEADER}\r\nS1,O1,P1,1,5.00,1.00,2026-03-01T10:00:00Z\r\nS2,,P2,x,-1,,2026-03-01"
    ),
    "quoted whole fields, commas inside": (
        '"sale_id","order_id","product_id","quantity","unit_price","discount_amount","sold_at"\n'
        '"S1","O,1","P1","3","2.50","","2026-03-01T10:00:00Z"\n'
        '"S2","O2","","1","2.50","9.00","2026-03-01T11:00:00Z"\n'
    ),
    "whitespace, tabs, unicode, extra and repeated columns": (
        "Sale_ID , order_id,product_id,quantity,unit_price,sold_at,note,note\n"
        " S1 ,\tO1\t,P1,1,1.00,2026-03-01T10:00:00Z,café \t ok,second\n"
        "S2,O2,P2,  ,1.00,2026-03-01T10:00:00Z,first,\ta\tb\n"
    ),
}
#: Files it must decline (the row-by-row reader gives their line-level errors).
DECLINED = {
    "a quoted line end": f'{HEADER}\nS1,"O\n1",P1,1,1.00,,2026-03-01T10:00:00Z\n',
    "an escaped quote": f'{HEADER}\nS1,"O""1",P1,1,1.00,,2026-03-01T10:00:00Z\n',
    "a quote inside a field": f'{HEADER}\nS1,O"1,P1,1,1.00,,2026-03-01T10:00:00Z\n',
    "a blank line": f"{HEADER}\nS1,O1,P1,1,1.00,,2026-03-01T10:00:00Z\n\nS2,O1,P1,1,1,,x\n",
    "a row of the wrong width": f"{HEADER}\nS1,O1,P1,1,1.00,2026-03-01T10:00:00Z\n",
    "a NUL byte": f"{HEADER}\nS1,O\x001,P1,1,1.00,,2026-03-01T10:00:00Z\n",
    "a backslash": f"{HEADER}\nS1,O\\1,P1,1,1.00,,2026-03-01T10:00:00Z\n",
    "a lone CR": f"{HEADER}\nS1,O1,P1,1,1.00,,2026-03-01T10:00:00Z\rS2,O1,P1,1,1,,x\n",
}


def _checked(records) -> list[tuple]:
    """The ``checked`` relation that validation builds from one file's records."""
    con = duckdb.connect()
    try:
        con.execute("SET TimeZone = 'UTC'")
        checker = Checker(con, NOW)
        checker.start(SALES)
        checker._insert_records(records, "raw/sales/f.csv")
        checker.check(SALES)
        return con.execute("select * from checked order by source_line").fetchall()
    finally:
        con.close()


@pytest.mark.parametrize("name", list(ACCEPTED))
def test_the_columnar_reader_gives_what_the_row_reader_gives(name: str) -> None:
    data = ACCEPTED[name].encode("utf-8")
    fast = read_csv_columnar(SALES, data)
    slow = read_csv(SALES, data.decode("utf-8"))
    assert fast is not None, f"{name}: declined"
    assert isinstance(slow, RawRecords)
    assert fast.extra_columns == slow.extra_columns
    rows = _checked(fast)
    assert rows == _checked(slow)
    assert any(r[2] is not None for r in rows), "each sample has a reject"


@pytest.mark.parametrize("name", list(DECLINED))
def test_the_columnar_reader_declines_what_it_cannot_split_alike(name: str) -> None:
    assert read_csv_columnar(SALES, DECLINED[name].encode("utf-8")) is None


def test_a_declined_file_still_gives_line_numbered_rejects(lake) -> None:
    good = "S9,O9,P9,1,1.00,,2026-03-01T09:00:00Z"
    text = f'{HEADER}\n{good}\nS1,"O""1",P1,1,1.00,,2026-03-01T10:00:00Z\nS2,O2,P2\n'
    land_file(lake, "sales", "2026-03-01", "sales.csv", text)
    check_stats(ingest(lake), "sales", read=3, written=2, quarantined=1)
    [reject] = quarantine(lake, "sales")
    assert (reject["source_line"], reject["reason"]) == (4, "unparseable")


def test_the_ingest_connection_is_bounded_and_spills_to_its_own_directory(tmp_path) -> None:
    settings = Settings(ingest_memory_limit="20MB", ingest_temp_directory=str(tmp_path))
    with ingest_connection(settings) as con:
        limit = con.execute("select current_setting('memory_limit')").fetchone()[0]
        assert limit in ("20.0 MB", "19.0 MiB"), limit
        assert list(tmp_path.iterdir()) == [], "no directory before anything spills"
        con.execute(  # about 60 MB: three times the limit
            "create table t as select repeat('x', 100) || range as s from range(600000)"
        )
        [spill] = tmp_path.iterdir()
        assert spill.name.startswith("shoplake-ingest-")
        assert any(spill.iterdir()), "nothing spilled"
    assert list(tmp_path.iterdir()) == [], "the spill directory is removed"


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        (Settings(ingest_memory_limit="lots"), "is not a size"),
        (Settings(ingest_temp_directory="/nonexistent/spill"), "does not exist"),
    ],
)
def test_bad_ingest_limits_are_one_line_errors(settings: Settings, message: str) -> None:
    with pytest.raises(ShoplakeError, match=message), ingest_connection(settings):
        pass


def test_every_csv_dataset_of_the_generator_shape_takes_the_columnar_path() -> None:
    """The orders layout the generator writes (every field quoted) is columnar too."""
    orders = DATASETS["orders"]
    cols = [f.raw_name for f in orders.fields]
    row = {
        "order_id": "O1",
        "customer_id": "C1",
        "order_ts": "2026-03-01T10:00:00Z",
        "status": "placed",
        "channel": "web",
        "currency": "EUR",
        "shipping_country": "DE",
        "updated_at": "2026-03-01T10:00:00Z",
    }
    line = ",".join(f'"{row.get(c, "")}"' for c in cols)
    data = (",".join(f'"{c}"' for c in cols) + "\n" + line + "\n").encode()
    assert read_csv_columnar(orders, data) is not None


#: NDJSON files of one batch: valid lines, rejects and lines that are no record, keys
#: beyond the contract and a file whose objects lack an optional one.
NDJSON_FILES = {
    "raw/clickstream/2026/03/01/10/a.json": ndjson(
        [click(), '{"event_time": 5}', "not json", "", click(extra="x", user_id="C2"), [1]]
    ),
    "raw/clickstream/2026/03/01/11/b.json": ndjson(
        [without(click(session_id="s-2"), "ip"), click(action="fly"), "{}"]
    ),
    "raw/clickstream/2026/03/01/12/c.json": ndjson(["[]", "", "{broken"]),
}


def _ndjson_batch(monkeypatch, chunk_bytes: int) -> tuple[list[tuple], dict]:
    monkeypatch.setattr(engine, "NDJSON_CHUNK_BYTES", chunk_bytes)
    con = duckdb.connect()
    try:
        con.execute("SET TimeZone = 'UTC'")
        checker = Checker(con, NOW)
        checker.start(CLICKSTREAM)
        found = {
            key: checker.load_file(CLICKSTREAM, key, text.encode("utf-8"))
            for key, text in NDJSON_FILES.items()
        }
        checker.check(CLICKSTREAM)
        rows = con.execute("select * from checked order by source_file, source_line").fetchall()
        return rows, {key: d.columns for key, d in found.items()}
    finally:
        con.close()


def test_ndjson_lines_validated_in_chunks_give_what_one_chunk_gives(monkeypatch) -> None:
    """A batch's NDJSON lines are validated a chunk of files at a time: a file per
    chunk gives the same checked rows and delivered columns as the whole batch at once,
    and each file's columns are the keys of its objects (found here by json.loads)."""
    whole = _ndjson_batch(monkeypatch, 1 << 30)
    assert _ndjson_batch(monkeypatch, 1) == whole
    rows, columns = whole
    assert len(rows) == 12 - 2, "blank lines are no record"
    for key, text in NDJSON_FILES.items():
        objects = []
        for line in text.splitlines():
            try:
                value = json.loads(line)
            except ValueError:
                continue
            if isinstance(value, dict):
                objects.append(value)
        expected = frozenset(k for o in objects for k in o) if objects else None
        assert columns[key] == expected, key
