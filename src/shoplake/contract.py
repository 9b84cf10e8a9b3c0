"""The raw data contract and the silver schema, defined once.

Everything that needs to know a dataset's fields, types, keys or partitioning imports it
from here: the generator, the ingest validator, the product extract, the dbt sources (via
``shoplake contract`` output) and the tests' expectations of *shape* (never of values).

See ``docs/lake.md`` for the prose version: layout, rules, reason codes and limits.
"""

from __future__ import annotations

import csv
import hashlib
from dataclasses import dataclass
from enum import Enum
from functools import cache
from importlib import resources


class Kind(str, Enum):
    """How a raw string value is validated and what it becomes in silver."""

    ID = "id"  # opaque non-empty string
    TEXT = "text"  # any string
    TIMESTAMP = "timestamp"  # ISO-8601, normalised to UTC
    DATE = "date"  # YYYY-MM-DD (a calendar day, no time)
    AMOUNT = "amount"  # decimal string, at most 2 decimals
    INTEGER = "integer"
    BOOLEAN = "boolean"
    ENUM = "enum"
    COUNTRY = "country"  # ISO 3166-1 alpha-2, upper case
    CURRENCY = "currency"
    JSON = "json"  # a JSON object kept as text (clickstream attributes)
    RATE = "rate"  # decimal string, at most RATE_DECIMALS decimals (exchange rates)


#: Silver (Parquet / DuckDB) type of each kind.
SILVER_TYPES: dict[Kind, str] = {
    Kind.ID: "VARCHAR",
    Kind.TEXT: "VARCHAR",
    Kind.TIMESTAMP: "TIMESTAMP",
    Kind.AMOUNT: "DECIMAL(18,2)",
    Kind.INTEGER: "BIGINT",
    Kind.BOOLEAN: "BOOLEAN",
    Kind.ENUM: "VARCHAR",
    Kind.COUNTRY: "VARCHAR",
    Kind.CURRENCY: "VARCHAR",
    Kind.JSON: "VARCHAR",
    Kind.DATE: "DATE",
    Kind.RATE: "DECIMAL(20,10)",
}

#: Decimals of an exchange rate (``Kind.RATE``), and digits before the decimal point.
RATE_DECIMALS, RATE_INTEGER_DIGITS = 10, 10

CURRENCIES = ("USD", "EUR", "GBP", "CAD", "AUD")
ORDER_STATUSES = ("placed", "paid", "shipped", "delivered", "cancelled", "returned")
CHANNELS = ("web", "mobile", "marketplace")
PAYMENT_METHODS = ("card", "paypal", "bank_transfer", "gift_card", "cash_on_delivery")
PAYMENT_STATUSES = ("authorized", "captured", "failed", "refunded")
SEGMENTS = ("consumer", "small_business", "corporate")
CLICK_ACTIONS = (
    "page_view",
    "product_view",
    "search",
    "add_to_cart",
    "remove_from_cart",
    "checkout_start",
    "purchase",
)
REGIONS = ("north_america", "latin_america", "europe", "middle_east_africa", "asia_pacific")

#: How far in the future (relative to the ingest run) a timestamp may lie.
MAX_FUTURE_SKEW_HOURS = 24

# Limits on what one input may cost. Each breach quarantines the record (or the file) with
# its own reason; ingest and the alert scanner share them.
#: Deepest nesting of JSON objects and arrays in one record or page.
MAX_JSON_DEPTH = 64
#: Largest record: one CSV row, one NDJSON line or one JSON-page element (bytes, UTF-8).
MAX_RECORD_BYTES = 8 * 1024 * 1024
#: Largest single field value (bytes, UTF-8).
MAX_FIELD_BYTES = 1024 * 1024
#: A gzip file may expand at most this many times its compressed size...
MAX_GZIP_RATIO = 100
#: ...and to at most this many bytes.
MAX_DECOMPRESSED_BYTES = 4 * 1024 * 1024 * 1024
#: Earliest year a timestamp may have (the latest is ingestion + MAX_FUTURE_SKEW_HOURS).
MIN_TIMESTAMP_YEAR = 1000
#: Largest amount (in the record's currency) and the largest line total quantity * price.
MAX_AMOUNT = "999999999999.99"
#: Largest quantity of one order line.
MAX_QUANTITY = 1_000_000

# Reason codes of the limits above and of files that are not files, shared by ingest's
# quarantine and the alert scanner's skip counts.
TOO_DEEP = "too_deep"
RECORD_TOO_LARGE = "record_too_large"
FIELD_TOO_LARGE = "field_too_large"
DECOMPRESSION_LIMIT = "decompression_limit"
NOT_A_REGULAR_FILE = "not_a_regular_file"


@dataclass(frozen=True)
class Field:
    """One column of a dataset: where it comes from in the raw record and its rules."""

    name: str  # silver column name
    kind: Kind
    required: bool = False
    values: tuple[str, ...] = ()  # allowed values for ENUM
    minimum: int | None = None  # for INTEGER and AMOUNT
    bound: int | str | None = None  # largest value for INTEGER (AMOUNT: MAX_AMOUNT)
    source: str | None = None  # raw name (CSV header) or dotted JSON path; default = name
    description: str = ""
    null_as: str | None = None  # SQL literal stored in silver when the value is absent

    @property
    def raw_name(self) -> str:
        return self.source or self.name

    @property
    def silver_type(self) -> str:
        return SILVER_TYPES[self.kind]

    @property
    def maximum(self) -> int | str | None:
        """The largest value the contract accepts (SQL numeric literal), if bounded."""
        if self.bound is not None:
            return self.bound
        return MAX_AMOUNT if self.kind is Kind.AMOUNT else None


@dataclass(frozen=True)
class RowRule:
    """A check across fields: the record is quarantined when ``violated_when`` holds.

    ``violated_when`` is a SQL condition over the typed silver columns.
    """

    field: str
    violated_when: str
    reason: str
    detail: str


@dataclass(frozen=True)
class Derived:
    """A silver column computed by ingest from the typed columns (SQL expression)."""

    name: str
    silver_type: str
    sql: str
    inputs: tuple[str, ...]
    description: str


class Format(str, Enum):
    CSV = "csv"
    JSON = "json"  # one API page per file: {"customers": [...]} or a bare array
    NDJSON = "ndjson"


@dataclass(frozen=True)
class Dataset:
    """A raw dataset of the contract and its silver table."""

    name: str
    format: Format
    fields: tuple[Field, ...]
    key: tuple[str, ...]  # identifies one record version in silver
    business_ts: str  # timestamp field whose UTC date is the silver partition
    description: str
    version_field: str | None = None  # mutable entities: newest updated_at wins downstream
    hourly: bool = False  # raw landing path has an HH level
    json_array_key: str | None = None  # for Format.JSON: the key holding the record array
    rules: tuple[RowRule, ...] = ()  # checks across fields, on typed values
    derived: tuple[Derived, ...] = ()  # columns computed by ingest, not delivered

    @property
    def partition_fixed_by_key(self) -> bool:
        """True when a key can only ever live in one partition (its key fixes the date).

        Then de-duplication needs to look only at the partitions a batch touches; other
        datasets also look up their keys in every partition (a re-sent record may carry a
        corrected business timestamp).
        """
        return self.business_ts in self.key or any(
            d.name in self.key and self.business_ts in d.inputs for d in self.derived
        )

    @property
    def extensions(self) -> tuple[str, ...]:
        """The canonical file name endings (what the generator writes, and what the
        alerts' S3 notifications filter on): ``.csv``/``.json``, plain or ``.gz``."""
        ext = {"csv": ".csv", "json": ".json", "ndjson": ".json"}[self.format.value]
        return (ext, ext + ".gz")

    @property
    def accepted_extensions(self) -> tuple[str, ...]:
        """Every file name ending ingest accepts (lower case; see :meth:`accepts`)."""
        base = {"csv": (".csv",), "json": (".json",), "ndjson": (".json", ".ndjson", ".jsonl")}
        return tuple(e + gz for e in base[self.format.value] for gz in ("", ".gz"))

    def accepts(self, name: str) -> bool:
        """Whether a raw file name has one of the dataset's endings, in any case."""
        return name.lower().endswith(self.accepted_extensions)

    @property
    def required_raw_columns(self) -> tuple[str, ...]:
        """CSV header names that must be present for the file to be readable at all."""
        return tuple(f.raw_name for f in self.fields if f.required)

    def field(self, name: str) -> Field:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(f"{self.name} has no field {name!r}")

    @property
    def silver_columns(self) -> tuple[tuple[str, str], ...]:
        """(column, type) of the silver table, data columns first, then lineage."""
        cols = [(f.name, f.silver_type) for f in self.fields]
        cols += [(d.name, d.silver_type) for d in self.derived]
        cols += [(c, t) for c, t, _ in LINEAGE_COLUMNS]
        return tuple(cols)


#: Columns ingest adds to every silver row: where it came from and when it was ingested.
LINEAGE_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("source_file", "VARCHAR", "Raw file the row was read from, relative to the lake root."),
    ("source_line", "BIGINT", "Line (CSV/NDJSON) or array position (JSON) in the source file."),
    ("ingested_at", "TIMESTAMP", "UTC start time of the ingest run that first wrote the row."),
    ("run_id", "VARCHAR", "Ingest run that first wrote the row."),
    (
        "ingest_seq",
        "BIGINT",
        "Sequence number of the ingest run that first wrote the row: one more for every run "
        "that writes anything, whatever the clocks say (the warehouse's incremental watermark).",
    ),
)

#: Hive partition columns of every silver table (from the business timestamp, UTC).
PARTITION_COLUMNS = ("year", "month", "day")


def _f(name: str, kind: Kind, required: bool = False, **kw) -> Field:
    return Field(name=name, kind=kind, required=required, **kw)


ORDERS = Dataset(
    name="orders",
    format=Format.CSV,
    description="Order headers. Re-sent with a later updated_at when the status changes.",
    key=("order_id", "updated_at"),
    version_field="updated_at",
    business_ts="order_ts",
    fields=(
        _f("order_id", Kind.ID, True, description="Order identifier."),
        _f("customer_id", Kind.ID, True, description="Customer who placed the order."),
        _f("order_ts", Kind.TIMESTAMP, True, description="When the order was placed (UTC)."),
        _f("status", Kind.ENUM, True, values=ORDER_STATUSES, description="Order status."),
        _f("channel", Kind.ENUM, True, values=CHANNELS, description="Sales channel."),
        _f("currency", Kind.CURRENCY, True, description="Currency of the order's amounts."),
        _f("shipping_country", Kind.COUNTRY, True, description="ISO 3166-1 alpha-2 code."),
        _f("updated_at", Kind.TIMESTAMP, True, description="Version time of this record."),
    ),
)

SALES = Dataset(
    name="sales",
    format=Format.CSV,
    description="Order lines.",
    key=("sale_id",),
    business_ts="sold_at",
    fields=(
        _f("sale_id", Kind.ID, True, description="Order line identifier."),
        _f("order_id", Kind.ID, True, description="Order the line belongs to."),
        _f("product_id", Kind.ID, True, description="Product sold."),
        _f(
            "quantity",
            Kind.INTEGER,
            True,
            minimum=1,
            bound=MAX_QUANTITY,
            description="Units sold.",
        ),
        _f("unit_price", Kind.AMOUNT, True, minimum=0, description="Price per unit."),
        _f(
            "discount_amount",
            Kind.AMOUNT,
            minimum=0,
            null_as="0",
            description="Discount on the line; null in raw means 0.",
        ),
        _f("sold_at", Kind.TIMESTAMP, True, description="When the line was sold (UTC)."),
    ),
    rules=(
        # quantity * unit_price in DECIMAL(38,2): exact for every value that passed the
        # type checks (the product of two bounded inputs can exceed DECIMAL(18,2))
        RowRule(
            field="quantity",
            violated_when=f"cast(unit_price as decimal(38, 2)) * quantity > {MAX_AMOUNT}",
            reason="out_of_range",
            detail=f"quantity * unit_price is above {MAX_AMOUNT}",
        ),
        RowRule(
            field="discount_amount",
            violated_when="discount_amount > cast(unit_price as decimal(38, 2)) * quantity",
            reason="out_of_range",
            detail="discount_amount is greater than quantity * unit_price",
        ),
    ),
)

PAYMENTS = Dataset(
    name="payments",
    format=Format.CSV,
    description="Payment transactions.",
    key=("payment_id",),
    business_ts="payment_ts",
    fields=(
        _f("payment_id", Kind.ID, True, description="Payment identifier."),
        _f("order_id", Kind.ID, True, description="Order paid."),
        _f("payment_ts", Kind.TIMESTAMP, True, description="When the payment happened (UTC)."),
        _f("method", Kind.ENUM, True, values=PAYMENT_METHODS, description="Payment method."),
        _f("status", Kind.ENUM, True, values=PAYMENT_STATUSES, description="Payment status."),
        _f("amount", Kind.AMOUNT, True, minimum=0, description="Amount in `currency`."),
        _f("currency", Kind.CURRENCY, True, description="Currency of the amount."),
    ),
)

CUSTOMERS = Dataset(
    name="customers",
    format=Format.JSON,
    json_array_key="customers",
    description="Customers from the API; one row per customer version.",
    key=("customer_id", "updated_at"),
    version_field="updated_at",
    business_ts="updated_at",
    fields=(
        _f("customer_id", Kind.ID, True, description="Customer identifier."),
        _f("email", Kind.TEXT, True, description="E-mail address (personal data)."),
        _f("first_name", Kind.TEXT, description="First name (personal data)."),
        _f("last_name", Kind.TEXT, description="Last name (personal data)."),
        _f("segment", Kind.ENUM, True, values=SEGMENTS, description="Customer segment."),
        _f("signup_ts", Kind.TIMESTAMP, description="When the customer signed up (UTC)."),
        _f("address_city", Kind.TEXT, source="address.city", description="City."),
        _f("address_region", Kind.TEXT, source="address.region", description="State/region."),
        _f(
            "address_postal_code",
            Kind.TEXT,
            source="address.postal_code",
            description="Postal code (personal data).",
        ),
        _f(
            "address_country",
            Kind.COUNTRY,
            True,
            source="address.country",
            description="Country, ISO 3166-1 alpha-2.",
        ),
        _f("marketing_opt_in", Kind.BOOLEAN, description="Consented to marketing."),
        _f("updated_at", Kind.TIMESTAMP, True, description="Version time of this record."),
    ),
)

PRODUCTS = Dataset(
    name="products",
    format=Format.CSV,
    description="Product catalog changes (extracted from PostgreSQL or dropped as CSV).",
    key=("product_id", "updated_at"),
    version_field="updated_at",
    business_ts="updated_at",
    fields=(
        _f("product_id", Kind.ID, True, description="Product identifier."),
        _f("sku", Kind.TEXT, True, description="Stock keeping unit."),
        _f("name", Kind.TEXT, True, description="Product name."),
        _f("category", Kind.TEXT, True, description="Category."),
        _f("subcategory", Kind.TEXT, description="Subcategory."),
        _f("brand", Kind.TEXT, description="Brand."),
        _f("list_price", Kind.AMOUNT, True, minimum=0, description="List price."),
        _f("unit_cost", Kind.AMOUNT, minimum=0, description="Unit cost."),
        _f("is_active", Kind.BOOLEAN, True, description="Whether the product is sold."),
        _f("updated_at", Kind.TIMESTAMP, True, description="Version time of this record."),
    ),
)

#: DuckDB expression for click_id over columns event_time (TIMESTAMP, UTC), user_id,
#: session_id, action and page_url. Must stay equal to :func:`click_id`.
CLICK_ID_SQL = (
    "md5(concat_ws(chr(31), strftime(event_time, '%Y-%m-%dT%H:%M:%S.%fZ'), "
    "user_id, session_id, action, coalesce(page_url, '')))"
)


CLICKSTREAM = Dataset(
    name="clickstream",
    format=Format.NDJSON,
    hourly=True,
    description="Web and app events, one row per distinct event.",
    key=("click_id",),
    business_ts="event_time",
    fields=(
        _f("event_time", Kind.TIMESTAMP, True, description="When the event happened (UTC)."),
        _f("user_id", Kind.ID, True, description="Customer id or anon-... visitor id."),
        _f("session_id", Kind.ID, True, description="Session identifier."),
        _f("action", Kind.ENUM, True, values=CLICK_ACTIONS, description="Event type."),
        _f("page_url", Kind.TEXT, description="Page URL."),
        _f("user_agent", Kind.TEXT, description="Browser user agent."),
        _f("ip", Kind.TEXT, description="Client IP (personal data)."),
        _f("attributes", Kind.JSON, description="Free-form event attributes (JSON object)."),
    ),
    derived=(
        Derived(
            "click_id",
            "VARCHAR",
            CLICK_ID_SQL,
            ("event_time", "user_id", "session_id", "action", "page_url"),
            "Deterministic event id: md5 of UTC event time, user, session, action, page.",
        ),
        Derived(
            "product_id",
            "VARCHAR",
            "json_extract_string(attributes, '$.product_id')",
            ("attributes",),
            "attributes.product_id, when present (product views, cart events).",
        ),
        Derived(
            "order_id",
            "VARCHAR",
            "json_extract_string(attributes, '$.order_id')",
            ("attributes",),
            "attributes.order_id, when present (purchase events).",
        ),
    ),
)

#: How many days an exchange rate stays usable: an amount converts with the rate of its
#: business date, else the latest earlier one at most this many days older.
RATE_LOOKBACK_DAYS = 7

EXCHANGE_RATES = Dataset(
    name="exchange_rates",
    format=Format.CSV,
    description=(
        "Daily reference exchange rates: US dollars for one unit of a currency. Delivered"
        " long (rate_date, currency, usd_per_unit) or wide as central banks publish them"
        " (Date, then one column of units per EUR for each currency; converted on ingest)."
        " A later delivery of a (rate_date, currency) corrects the earlier one: silver keeps"
        " every distinct value, the warehouse uses the latest delivered (ingest_seq)."
    ),
    key=("rate_date", "currency", "usd_per_unit"),
    business_ts="rate_date",
    fields=(
        _f("rate_date", Kind.DATE, True, description="Business date the rate applies to."),
        _f("currency", Kind.TEXT, True, description="ISO 4217 currency code (3 letters)."),
        _f(
            "usd_per_unit",
            Kind.RATE,
            True,
            description="US dollars for one unit of the currency (> 0, at most 10 decimals).",
        ),
    ),
    rules=(
        RowRule(
            field="currency",
            violated_when="not regexp_full_match(currency, '[A-Z]{3}')",
            reason="out_of_enum",
            detail="currency is not an ISO 4217 code (three upper-case letters)",
        ),
        RowRule(
            field="usd_per_unit",
            violated_when="usd_per_unit <= 0",
            reason="out_of_range",
            detail="usd_per_unit is 0 or less",
        ),
        RowRule(
            field="usd_per_unit",
            violated_when="currency = 'USD' and usd_per_unit <> 1",
            reason="out_of_range",
            detail="a USD rate other than 1 (USD is always 1)",
        ),
    ),
)

DATASETS: dict[str, Dataset] = {
    d.name: d for d in (ORDERS, SALES, PAYMENTS, CUSTOMERS, PRODUCTS, CLICKSTREAM, EXCHANGE_RATES)
}


def click_id(
    event_time_utc_iso: str, user_id: str, session_id: str, action: str, page_url: str | None
) -> str:
    """The deterministic id of a clickstream event.

    ``event_time_utc_iso`` is the event time normalised to UTC and formatted as
    ``YYYY-MM-DDTHH:MM:SS.ffffffZ`` (see :func:`format_utc`), so that the same instant
    written with another offset or precision is the same click. The SQL twin used by
    ingest is ``CLICK_ID_SQL`` below; a unit test keeps the two equal.
    """
    parts = (event_time_utc_iso, user_id, session_id, action, page_url or "")
    return hashlib.md5("\x1f".join(parts).encode()).hexdigest()


def format_utc(ts) -> str:
    """Format an aware or UTC-naive datetime as the canonical click_id time string."""
    from datetime import timezone

    if ts.tzinfo is not None:
        ts = ts.astimezone(timezone.utc).replace(tzinfo=None)
    return ts.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(frozen=True)
class Country:
    code: str
    name: str
    region: str
    subregion: str


@cache
def countries() -> dict[str, Country]:
    """ISO 3166-1 alpha-2 countries with the warehouse's regions (the geography seed)."""
    text = resources.files("shoplake.reference").joinpath("countries.csv").read_text("utf-8")
    rows = csv.DictReader(text.splitlines())
    return {
        r["country_code"]: Country(
            r["country_code"], r["country_name"], r["region"], r["subregion"]
        )
        for r in rows
    }
