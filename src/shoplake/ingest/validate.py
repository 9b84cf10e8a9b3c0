"""Validation as SQL generated from the contract: raw strings in, typed rows or reasons out.

Every format ends up as the same relation of raw strings (see
:class:`shoplake.ingest.readers.RawRecords`); :func:`validate_sql` types it and gives
each record either a silver row or the rules it breaks: ``reason``/``field``/``detail``
give the first, in this order: parse error, wrong JSON type, missing required field,
wrong type, out of enum, out of range, future timestamp; ``reasons`` lists every one (a
record that cannot be parsed breaks only that rule). The reason codes are documented in
docs/lake.md.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from shoplake.contract import (
    CURRENCIES,
    MAX_FIELD_BYTES,
    MAX_FUTURE_SKEW_HOURS,
    MAX_JSON_DEPTH,
    MAX_RECORD_BYTES,
    MIN_TIMESTAMP_YEAR,
    RATE_DECIMALS,
    RATE_INTEGER_DIGITS,
    Dataset,
    Field,
    Kind,
    countries,
)
from shoplake.ingest.readers import (
    EXCERPT_CHARS,
    FIELD_TOO_LARGE,
    LIMIT_REASONS,
    NOT_AN_OBJECT,
    RECORD_TOO_LARGE,
    TOO_DEEP,
    WHITESPACE,
    CsvColumns,
    limit_text,
)

#: ISO-8601 timestamps the contract accepts (DuckDB's cast alone is more lenient).
TIMESTAMP_RE = (
    r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]([01]\d|2[0-3])(:?[0-5]\d)?)?"
)
AMOUNT_RE = r"-?\d{1,16}(\.\d{1,2})?"
DATE_RE = r"\d{4}-\d{2}-\d{2}"
RATE_RE = rf"\d{{1,{RATE_INTEGER_DIGITS}}}(\.\d{{1,{RATE_DECIMALS}}})?"
#: Characters an id may not hold: the C0 controls and DEL (RE2 syntax).
ID_FORBIDDEN_RE = r"[\x00-\x1f\x7f]"
INTEGER_RE = r"[+-]?\d{1,18}"
TRUE_WORDS, FALSE_WORDS = ("true", "t", "1"), ("false", "f", "0")

#: JSON types (DuckDB json_type) that each kind accepts in JSON input.
JSON_TYPES: dict[Kind, tuple[str, ...]] = {
    Kind.BOOLEAN: ("BOOLEAN",),
    Kind.JSON: ("OBJECT",),
    Kind.INTEGER: ("BIGINT", "UBIGINT", "VARCHAR"),
}


def q(name: str) -> str:
    """Quote an identifier."""
    return '"' + name.replace('"', '""') + '"'


def lit(value: str) -> str:
    """Quote a string literal."""
    return "'" + value.replace("'", "''") + "'"


def _in_list(values: tuple[str, ...] | list[str]) -> str:
    return ", ".join(lit(v) for v in values)


def typed_expr(f: Field, raw: str) -> str:
    """SQL turning the raw text column ``raw`` into the field's silver type (NULL if not)."""
    if f.kind is Kind.TIMESTAMP:
        return (
            f"case when regexp_full_match({raw}, {lit(TIMESTAMP_RE)}) "
            f"and not starts_with({raw}, '0000') "  # year 0 is 1 BC: no such date here
            f"then timezone('UTC', try_cast({raw} as timestamptz)) end"
        )
    if f.kind is Kind.AMOUNT:
        return (
            f"case when regexp_full_match({raw}, {lit(AMOUNT_RE)}) "
            f"then cast({raw} as decimal(18, 2)) end"
        )
    if f.kind is Kind.INTEGER:
        return (
            f"case when regexp_full_match({raw}, {lit(INTEGER_RE)}) then cast({raw} as bigint) end"
        )
    if f.kind is Kind.DATE:
        return (
            f"case when regexp_full_match({raw}, {lit(DATE_RE)}) "
            f"and not starts_with({raw}, '0000') then try_cast({raw} as date) end"
        )
    if f.kind is Kind.RATE:
        return (
            f"case when regexp_full_match({raw}, {lit(RATE_RE)}) "
            f"then cast({raw} as {f.silver_type.lower()}) end"
        )
    if f.kind is Kind.BOOLEAN:
        return (
            f"case when lower({raw}) in ({_in_list(TRUE_WORDS)}) then true "
            f"when lower({raw}) in ({_in_list(FALSE_WORDS)}) then false end"
        )
    return raw


@dataclass(frozen=True)
class Check:
    condition: str  # SQL over raw_<field> and the typed columns; true = record rejected
    reason: str
    field: str | None
    detail: str  # SQL string expression
    first: bool = True  # may be the first reason (``reason``/``field``/``detail``)
    listed: bool = True  # is listed in ``reasons``

    def sql_reason(self) -> str:
        return "parse_error" if self.reason == "" else lit(self.reason)

    def sql_field(self) -> str:
        return lit(self.field) if self.field else "type_error"


def _json_type_detail(name_sql: str) -> str:
    return f"'field ' || {name_sql} || ' has the wrong JSON type'"


def _value(raw: str) -> str:
    return f"coalesce({raw}, '')"


def checks(ds: Dataset, now_sql: str) -> Iterator[Check]:
    """Every rule of the dataset, in the order reasons are reported."""
    yield Check(
        "parse_error is not null",
        "",
        None,
        f"case parse_error when {lit(NOT_AN_OBJECT)} then 'record is not a JSON object' "
        f"when {lit(TOO_DEEP)} then "
        f"{lit(f'record nests objects and arrays deeper than {MAX_JSON_DEPTH} levels')} "
        f"when {lit(RECORD_TOO_LARGE)} then "
        f"{lit(f'record is larger than {limit_text(MAX_RECORD_BYTES)}')} "
        f"when {lit(FIELD_TOO_LARGE)} then 'field ' || coalesce(type_error, '?') || "
        f"{lit(f' is larger than {limit_text(MAX_FIELD_BYTES)}')} "
        "else 'record could not be parsed (malformed JSON or CSV row)' end",
    )
    yield Check(
        "type_error is not null",
        "wrong_type",
        None,
        _json_type_detail("type_error"),
        listed=False,
    )
    for f in ds.fields:  # every field of the wrong JSON type (type_error is the first)
        yield Check(
            f"list_contains(type_errors, {lit(f.name)})",
            "wrong_type",
            f.name,
            _json_type_detail(lit(f.name)),
            first=False,
        )
    for f in ds.fields:
        raw = q("raw_" + f.name)
        yield Check(
            f"strlen({raw}) > {MAX_FIELD_BYTES}",
            FIELD_TOO_LARGE,
            f.name,
            lit(f"{f.raw_name} is larger than {limit_text(MAX_FIELD_BYTES)}"),
        )
    for f in ds.fields:
        if f.required:
            yield Check(  # a value of the wrong JSON type is not missing as well
                f"{q('raw_' + f.name)} is null"
                f" and not coalesce(list_contains(type_errors, {lit(f.name)}), false)",
                "missing_required",
                f.name,
                lit(f"required field {f.raw_name} is missing or empty"),
            )
    for f in ds.fields:
        if f.kind is Kind.ID:
            raw = q("raw_" + f.name)
            yield Check(
                f"regexp_matches({raw}, {lit(ID_FORBIDDEN_RE)})",
                "invalid_id",
                f.name,
                lit(f"{f.raw_name} holds a control character (U+0000-U+001F or U+007F)"),
            )
    for f in ds.fields:
        raw, typed = q("raw_" + f.name), q(f.name)
        if f.kind in (
            Kind.TIMESTAMP,
            Kind.DATE,
            Kind.AMOUNT,
            Kind.INTEGER,
            Kind.BOOLEAN,
            Kind.RATE,
        ):
            yield Check(
                f"{raw} is not null and {typed} is null",
                "wrong_type",
                f.name,
                f"{lit(f'{f.raw_name}: not a valid {f.kind.value}: ')} || {_value(raw)}",
            )
    for f in ds.fields:
        allowed: tuple[str, ...] | list[str] = ()
        if f.kind is Kind.ENUM:
            allowed = f.values
        elif f.kind is Kind.CURRENCY:
            allowed = CURRENCIES
        elif f.kind is Kind.COUNTRY:
            allowed = sorted(countries())
        if allowed:
            yield Check(
                f"{q('raw_' + f.name)} not in ({_in_list(allowed)})",
                "out_of_enum",
                f.name,
                f"{lit(f'{f.raw_name}: value not allowed: ')} || {_value(q('raw_' + f.name))}",
            )
    for f in ds.fields:
        raw = _value(q("raw_" + f.name))
        if f.minimum is not None:
            yield Check(
                f"{q(f.name)} < {f.minimum}",
                "out_of_range",
                f.name,
                f"{lit(f'{f.raw_name} is below {f.minimum}: ')} || {raw}",
            )
        if f.maximum is not None:
            yield Check(
                f"{q(f.name)} > {f.maximum}",
                "out_of_range",
                f.name,
                f"{lit(f'{f.raw_name} is above {f.maximum}: ')} || {raw}",
            )
        if f.kind in (Kind.TIMESTAMP, Kind.DATE):
            yield Check(
                f"{q(f.name)} < timestamp '{MIN_TIMESTAMP_YEAR:04d}-01-01'",
                "out_of_range",
                f.name,
                f"{lit(f'{f.raw_name} is before year {MIN_TIMESTAMP_YEAR} (UTC): ')} || {raw}",
            )
    for rule in ds.rules:
        yield Check(f"({rule.violated_when})", rule.reason, rule.field, lit(rule.detail))
    for f in ds.fields:
        if f.kind in (Kind.TIMESTAMP, Kind.DATE):
            yield Check(
                f"{q(f.name)} > {now_sql} + interval {MAX_FUTURE_SKEW_HOURS} hour",
                "future_timestamp",
                f.name,
                f"{lit(f'{f.raw_name} is more than {MAX_FUTURE_SKEW_HOURS}h after ingestion: ')}"
                f" || {_value(q('raw_' + f.name))}",
            )


def _case(parts: list[tuple[str, str]]) -> str:
    whens = " ".join(f"when {cond} then {value}" for cond, value in parts)
    return f"case {whens} end"


def validate_sql(ds: Dataset, source: str, now_sql: str) -> str:
    """SELECT over ``source`` (raw strings) giving typed columns plus reason/field/detail
    (the first rule broken) and ``reasons`` (every rule broken: a list of structs with
    ``reason``, ``field`` and ``detail``; the first is the same as reason/field/detail).

    ``reason`` is NULL for a valid record. Absent values with a ``null_as`` default get it.
    """
    cols_raw = ", ".join(f"{q(f.name)} as {q('raw_' + f.name)}" for f in ds.fields)
    typed = ", ".join(f"{typed_expr(f, q('raw_' + f.name))} as {q(f.name)}" for f in ds.fields)
    first = [c for c in checks(ds, now_sql) if c.first]
    reason = _case([(c.condition, c.sql_reason()) for c in first])
    field = _case([(c.condition, c.sql_field()) for c in first])
    detail = _case([(c.condition, c.detail) for c in first])
    one = "{'reason': reason, 'field': field, 'detail': detail}"
    every = ", ".join(
        f"case when {c.condition} then "
        f"{{'reason': {c.sql_reason()}, 'field': {c.sql_field()}, 'detail': {c.detail}}} end"
        for c in checks(ds, now_sql)
        if c.listed and c.reason != ""
    )
    reasons = (
        f"case when reason is null then null when parse_error is not null then [{one}] "
        f"else list_filter([{every}], lambda x: x is not null) end"
    )
    silver = ", ".join(
        f"coalesce({q(f.name)}, {f.null_as}) as {q(f.name)}" if f.null_as else q(f.name)
        for f in ds.fields
    )
    return f"""
    with raw as (
        select source_file, source_line, raw_record, parse_error, type_error, type_errors,
               {cols_raw}
        from {source}
    ),
    typed as (
        select *, {typed} from raw
    ),
    first_reason as (
        select *, {reason} as reason from typed
    ),
    checked as (  -- the rules are run again only on the records that break one
        select *,
               case when reason is not null then {field} end as field,
               case when reason is not null then {detail} end as detail,
               {reasons} as reasons
        from first_reason
    )
    select source_file, source_line, reason, field, detail, reasons, {silver},
           case when reason in ({_in_list(LIMIT_REASONS)})
                     and length(raw_record) > {EXCERPT_CHARS}
                then left(raw_record, {EXCERPT_CHARS}) || '...'
                when reason is not null
                then rtrim(raw_record, chr(13) || chr(10)) end as raw_record
    from checked
    """


#: First character of a JSON value's text -> whether it is of an accepted type.
_FIRST_CHARS: dict[str, tuple[str, ...]] = {
    "VARCHAR": ('"',),
    "OBJECT": ("{",),
    "BOOLEAN": ("t", "f"),
    "BIGINT": tuple("-0123456789"),
    "UBIGINT": tuple("0123456789"),
}


def _trimmed(value: str) -> str:
    """Trim WHITESPACE around ``value`` and make '' null; cheap byte tests skip clean values."""
    chars = [f"chr({ord(c)})" for c in WHITESPACE]
    dirty = " or ".join(f"prefix({value}, {c}) or suffix({value}, {c})" for c in chars)
    return (
        f"nullif(case when {dirty} then trim({value}, {' || '.join(chars)}) else {value} end, '')"
    )


def ndjson_parse_sql(ds: Dataset, lines: str) -> str:
    """SELECT over ``lines`` (source_file, source_line, line) giving the raw-string relation.

    Each line is parsed once, into the JSON text of each field: its first character gives
    the value's JSON type, and ``json_extract_string`` unescapes the (small) value alone
    (cheaper than parsing the whole line a second time into strings). ``try`` turns
    an unparseable line into NULL so that it is quarantined, not fatal; a line with a
    ``limit_error`` (too large or too deep) is not parsed at all. Lines keep their line
    end (JSON ignores it); empty lines are not records.
    """
    if any("." in f.raw_name for f in ds.fields):
        raise ValueError(f"{ds.name}: nested fields are not supported for NDJSON")
    as_json = "{" + ", ".join(f'"{f.raw_name}": "JSON"' for f in ds.fields) + "}"
    values, type_errors = [], []
    for f in ds.fields:
        first = f"left(j.{q(f.raw_name)}::varchar, 1)"
        accepted = JSON_TYPES.get(f.kind, ("VARCHAR",))
        chars = [c for t in accepted for c in _FIRST_CHARS[t]]
        if f.kind is Kind.JSON:
            value = f"case when {first} = '{{' then j.{q(f.raw_name)}::varchar end"
        else:
            value = (
                f"case when {first} in ({_in_list(chars)}) "
                f"then nullif(json_extract_string(j.{q(f.raw_name)}, '$'), '') end"
            )
        values.append(f"{value} as {q(f.name)}")
        type_errors.append((f"{first} not in ({_in_list(chars)})", lit(f.name)))
    every_type_error = ", ".join(f"case when {cond} then {name} end" for cond, name in type_errors)
    return f"""
    with parsed as (
        select source_file, source_line, line, limit_error,
               case when limit_error is null then try(from_json(line, {lit(as_json)})) end as j,
               left(line, 1) = '{{' or starts_with(ltrim(line), '{{') as is_object
        from {lines}
        where line <> chr(10) and line <> chr(13) || chr(10) and line <> ''
    )
    select source_file, source_line, line as raw_record,
           case when limit_error is not null then limit_error
                when not is_object and json_valid(line) then 'not_an_object'
                when not is_object or j is null then 'unparseable' end as parse_error,
           case when is_object and j is not null then {_case(type_errors)} end as type_error,
           case when is_object and j is not null then list_filter([{every_type_error}],
                lambda x: x is not null) end as type_errors,
           {", ".join(values)}
    from parsed
    """


def csv_columns_sql(records: CsvColumns, relation: str) -> str:
    """SELECT over ``relation`` (:meth:`CsvColumns.to_arrow`) giving the raw-string
    relation, as :func:`shoplake.ingest.readers.read_csv` builds it (each field trimmed,
    empty is null), but for ``raw_record``: the line as delivered, which the quarantine
    keeps as :meth:`CsvColumns.raw_record` (see :meth:`Checker.check`)."""

    def value(i: int | None) -> str:
        if i is None:
            return "cast(null as varchar)"
        return _trimmed(f"c{i}") if records.spaced else f"nullif(c{i}, '')"

    values = ", ".join(f"{value(i)} as {q(name)}" for name, i in records.wanted)
    return (
        "select source_file, source_line, raw_line as raw_record,"
        " cast(null as varchar) as parse_error, cast(null as varchar) as type_error,"
        f" cast(null as varchar[]) as type_errors, {values} from {relation}"
    )
