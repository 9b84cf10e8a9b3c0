{#- Redshift Spectrum: the lake's silver tables as an external schema, generated from the
    source definitions (models/staging/lake/_lake__sources.yml, itself generated from
    shoplake.contract) -- what the dbt-external-tables package does, for this project.

        dbt run-operation stage_external_sources --target prod \
            --args '{start_date: "2026-03-01", end_date: "2026-03-31"}'

    1. create external schema <source schema> from the Glue Data Catalog database
       SHOPLAKE_GLUE_DATABASE (default shoplake) with the IAM role
       SHOPLAKE_SPECTRUM_IAM_ROLE (created with the catalog database if missing);
    2. create every source table that has an `external` block and does not exist yet
       (refresh: true drops and recreates them), columns and types from the source YAML,
       Parquet, partitioned by the Hive columns year/month/day;
    3. add the day partitions from start_date to end_date (default: yesterday and today,
       what a daily run needs; a backfill passes the range), up to 100 per statement,
       `if not exists`, so re-running is harmless.

    On AWS, `shoplake deploy aws` creates the same tables in the Glue database (from the
    same source definitions; pytests/aws/test_spectrum_matches_glue.py checks that the
    two agree) and shoplake.aws.catalog.sync_partitions, run after every ingest into an
    s3:// lake, registers each new partition there, so steps 2 and 3 find everything in
    place and change nothing. On other adapters the operation does nothing. -#}
{% macro stage_external_sources(start_date=none, end_date=none, refresh=false, source_name='lake') %}
    {%- if target.type != 'redshift' -%}
        {{ log("stage_external_sources: nothing to do on " ~ target.type ~ " (sources are read in place or loaded)", info=true) }}
        {{ return(none) }}
    {%- endif -%}
    {%- for statement in external_sources_ddl(start_date, end_date, refresh, source_name) -%}
        {{ log("stage_external_sources: " ~ (statement | replace('\n', ' '))[:120], info=true) }}
        {%- do run_query(statement) -%}
    {%- endfor -%}
{% endmacro %}

{#- The statements of stage_external_sources, in order (also used by tests). -#}
{% macro external_sources_ddl(start_date=none, end_date=none, refresh=false, source_name='lake') %}
    {%- set statements = [] -%}
    {%- set today = modules.datetime.date.today() -%}
    {%- set start = start_date or (today - modules.datetime.timedelta(days=1)).isoformat() -%}
    {%- set end = end_date or today.isoformat() -%}
    {#- dates_in_range includes both ends -#}
    {%- set days = dbt.dates_in_range(start, end, in_fmt='%Y-%m-%d', out_fmt='%Y-%m-%d') -%}
    {%- set sources = [] -%}
    {%- for node in graph.sources.values() -%}
        {%- if node.source_name == source_name and node.external and node.external.location -%}
            {%- do sources.append(node) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- set schemas = [] -%}
    {%- for node in sources -%}
        {%- if node.schema not in schemas -%}
            {%- do schemas.append(node.schema) -%}
            {%- do statements.append(
                "create external schema if not exists " ~ adapter.quote(node.schema)
                ~ " from data catalog database " ~ sql_string(env_var('SHOPLAKE_GLUE_DATABASE', 'shoplake'))
                ~ " iam_role " ~ sql_string(env_var('SHOPLAKE_SPECTRUM_IAM_ROLE', 'default'))
                ~ " create external database if not exists") -%}
        {%- endif -%}
    {%- endfor -%}
    {%- for node in sources -%}
        {%- set relation = adapter.quote(node.schema) ~ "." ~ adapter.quote(node.identifier) -%}
        {%- set location = node.external.location.rstrip('/') ~ '/' -%}
        {%- set partitions = node.external.partitions or [] -%}
        {%- if refresh or not external_table_exists(node.schema, node.identifier) -%}
            {%- if refresh -%}
                {%- do statements.append("drop table if exists " ~ relation) -%}
            {%- endif -%}
            {%- set columns = [] -%}
            {%- for column in node.columns.values() -%}
                {%- do columns.append(adapter.quote(column.name) ~ " " ~ column.data_type) -%}
            {%- endfor -%}
            {%- set partition_columns = [] -%}
            {%- for p in partitions -%}
                {%- do partition_columns.append(adapter.quote(p.name) ~ " " ~ p.data_type) -%}
            {%- endfor -%}
            {%- set ddl -%}
create external table {{ relation }} (
    {{ columns | join(',\n    ') }}
)
{%- if partition_columns %}
partitioned by ({{ partition_columns | join(', ') }})
{%- endif %}
stored as {{ node.external.file_format or 'parquet' }}
location {{ sql_string(location) }}
            {%- endset -%}
            {%- do statements.append(ddl) -%}
        {%- endif -%}
        {%- if partitions | map(attribute='name') | list == ['year', 'month', 'day'] -%}
            {%- for batch in days | batch(100) -%}
                {%- set specs = [] -%}
                {%- for day in batch -%}
                    {%- set y, m, d = day.split('-') -%}
                    {%- do specs.append(
                        "partition (year = '" ~ y ~ "', month = '" ~ m ~ "', day = '" ~ d ~ "') location "
                        ~ sql_string(location ~ "year=" ~ y ~ "/month=" ~ m ~ "/day=" ~ d ~ "/")) -%}
                {%- endfor -%}
                {%- do statements.append("alter table " ~ relation ~ " add if not exists\n" ~ (specs | join('\n'))) -%}
            {%- endfor -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(statements) }}
{% endmacro %}

{% macro external_table_exists(schema, identifier) %}
    {%- if not execute -%}{{ return(false) }}{%- endif -%}
    {%- set query -%}
        select 1 from svv_external_tables
        where schemaname = {{ sql_string(schema) }} and tablename = {{ sql_string(identifier) }}
    {%- endset -%}
    {%- set result = run_query(query) -%}
    {{ return(result is not none and (result.rows | length) > 0) }}
{% endmacro %}

{#- A text as a SQL string literal: quotes doubled, so a path or a name is data, never
    SQL (a lake location may hold quotes: `s3://b/it's '||' x/`). -#}
{% macro sql_string(text) -%}
    '{{ text | replace("'", "''") }}'
{%- endmacro %}
