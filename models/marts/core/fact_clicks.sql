{#- One row per distinct clickstream event (click_id is deterministic, so a re-delivered
    event is the same row). Events are immutable and silver holds each click_id once, with
    the ingest_seq of the batch that first wrote it: the incremental run appends the rows
    of the batches after the watermark (late events included; macros/incremental.sql).
    Appending never rewrites the fact, unlike delete+insert, which has to look up every
    key of the (large) table; only a repair run (watermark -1) compares with every key. -#}
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='append_new_columns',
    dist='session_id',
    sort=['event_time'],
    backup=true
) }}

with

clicks as (

    select * from {{ ref('stg_lake__clickstream') }}

),

{% if is_incremental() %}

{%- set expected_sql %}
    select count(*) as silver_rows
    from {{ ref('stg_lake__clickstream') }} as clicks
    cross join loaded
    where clicks.ingest_seq <= loaded.newest_seq
{%- endset %}
{%- set watermark = fact_watermark(expected_sql) %}
{{- incremental_watermark_ctes(expected_sql, watermark) }}

already_loaded as (

    select fact.click_id
    from {{ this }} as fact
    where coalesce(fact.ingest_seq, -1) >= {{ watermark }}

),

{% endif %}

selected_clicks as (

    select clicks.*
    from clicks
    {% if is_incremental() %}
        left join already_loaded
            on clicks.click_id = already_loaded.click_id
        where
            clicks.ingest_seq > {{ watermark }}
            and already_loaded.click_id is null
    {% endif %}

),

final as (

    select
        cast(click_id as varchar(32)) as click_id,
        event_time,
        {{ date_key('cast(event_time as date)') }} as date_key,
        cast(user_id as varchar(256)) as user_id,
        cast(session_id as varchar(256)) as session_id,
        cast(action as varchar(32)) as action,
        cast(page_url as varchar(4096)) as page_url,
        cast(product_id as varchar(256)) as product_id,
        cast(order_id as varchar(256)) as order_id,
        cast(user_agent as varchar(4096)) as user_agent,
        ingested_at,
        ingest_seq

    from selected_clicks

)

select * from final
