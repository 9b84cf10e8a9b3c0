{#- The incremental watermark of a fact: a monotonic ingest batch number, not a clock.

    Every silver row carries `ingest_seq`, the sequence number of the ingest run that
    first wrote it (kept by ingest in the lake's state, one more for every run that
    writes anything, whatever the hosts' clocks say). A fact remembers the ingest_seq of
    what it loaded; an incremental run selects the silver rows of the batches after the
    newest one the fact holds (`ingest_seq > watermark`).

    A fact is behind the lake when it holds fewer rows than the silver rows of the
    batches it has loaded (a build that ran while a batch was being published, a fact
    built by an older watermark): the watermark is then -1, so the run re-reads every
    silver row and repairs the fact (delete+insert facts recompute, append facts add the
    rows they lack). The build that left a fact behind says so (its data test
    assert_facts_hold_every_silver_record fails); the run that finds a fact behind says
    so too (fact_watermark logs a warning line) and repairs it, without a full
    refresh. An empty fact also has the watermark -1.

    fact_load_state(): one row, the newest batch in the fact and its row count.
    ingest_watermark(loaded, expected): one row, the watermark, from the CTE `loaded`
    and a CTE `expected` holding `silver_rows`, the silver rows (counted as the fact
    counts them) of the batches up to loaded.newest_seq. -#}
{% macro fact_load_state() -%}
    select
        coalesce(max(ingest_seq), -1) as newest_seq,
        count(*) as fact_rows
    from {{ this }}
{%- endmacro %}

{% macro ingest_watermark(loaded='loaded', expected='expected') -%}
    select
        case
            when {{ expected }}.silver_rows = {{ loaded }}.fact_rows
                then {{ loaded }}.newest_seq
            else -1
        end as ingest_seq
    from {{ loaded }}
    cross join {{ expected }}
{%- endmacro %}

{#- The watermark of an incremental fact as a literal number, computed before the model's
    SQL runs (one query: the fact's newest batch and row count, and `expected_sql`, the
    body of a CTE `expected` that reads the CTE `loaded`). A literal in the model's
    filters (`ingest_seq > 41`) is what DuckDB and Spectrum push down to the Parquet scan:
    row groups and files whose ingest_seq statistics are all at or below it are skipped,
    so an incremental run reads what is new, not the history. When the fact is behind the
    lake, it logs one warning line and returns -1 (re-read everything, repair).

    In unit tests (the fact is a fixture, not a table to query), and at parse time, it
    returns the expression `(select watermark.ingest_seq from watermark)` instead: the
    same value from the CTEs incremental_watermark_ctes() writes there. -#}
{% macro fact_watermark(expected_sql) %}
    {%- if execute and model.resource_type == 'model' and flags.WHICH in ('run', 'build') -%}
        {%- set query -%}
            with loaded as ({{ fact_load_state() }}), expected as ({{ expected_sql }})
            select loaded.fact_rows, expected.silver_rows, loaded.newest_seq
            from loaded cross join expected
        {%- endset -%}
        {%- set row = run_query(query).rows[0] -%}
        {%- if row[0] != row[1] -%}
            {{ log("WARNING: " ~ this.identifier ~ " is behind the lake: it holds " ~ row[0]
                ~ " rows, the ingest batches it has loaded hold " ~ row[1]
                ~ "; this run re-reads every silver row to repair it", info=true) }}
            {{- return(-1) -}}
        {%- endif -%}
        {{- return(row[2] | int) -}}
    {%- endif -%}
    {{- return('(select watermark.ingest_seq from watermark)') -}}
{% endmacro %}

{#- The CTE `watermark` of an incremental fact (one row, ingest_seq), followed by a
    comma: the literal of fact_watermark() at run time; in unit tests the CTEs `loaded`,
    `expected` (the body `expected_sql`) and `watermark` computing it. -#}
{% macro incremental_watermark_ctes(expected_sql, watermark) -%}
{%- if watermark is number %}
watermark as (

    select cast({{ watermark }} as bigint) as ingest_seq

),
{%- else %}
loaded as (

    {{ fact_load_state() }}

),

expected as (

    {{ expected_sql }}

),

watermark as (

    {{ ingest_watermark() }}

),
{%- endif %}
{%- endmacro %}

{#- The order statuses that count as revenue, as a SQL list for `not in`. -#}
{% macro non_revenue_statuses() -%}
    ({%- for s in var('non_revenue_statuses') -%}'{{ s }}'{{ ', ' if not loop.last }}{%- endfor -%})
{%- endmacro %}

{#- The watermark of an incremental dimension, as a literal (see fact_watermark): the
    newest ingest batch the dimension holds when `count_column` summed over it equals
    `expected_sql` (a CTE body reading the CTE `loaded`, counting the source rows up to
    loaded.newest_seq), else -1 (recompute every key). -1 also when the dimension has no
    ingest_seq column yet (built by a version without it: the run recomputes every key
    and on_schema_change adds the column), in unit tests and at parse time. -#}
{% macro dimension_watermark(count_column, expected_sql) %}
    {%- if execute and model.resource_type == 'model' and flags.WHICH in ('run', 'build') -%}
        {%- set columns = adapter.get_columns_in_relation(this) | map(attribute='name')
            | map('lower') | list -%}
        {%- if 'ingest_seq' not in columns -%}
            {{- return(-1) -}}
        {%- endif -%}
        {%- set query -%}
            with loaded as (
                select
                    coalesce(max(ingest_seq), -1) as newest_seq,
                    coalesce(sum({{ count_column }}), 0) as fact_rows
                from {{ this }}
            ),
            expected as ({{ expected_sql }})
            select loaded.fact_rows, expected.silver_rows, loaded.newest_seq
            from loaded cross join expected
        {%- endset -%}
        {%- set row = run_query(query).rows[0] -%}
        {{- return(row[2] | int if row[0] == row[1] else -1) -}}
    {%- endif -%}
    {{- return(-1) -}}
{% endmacro %}
