{#- One row per clickstream user_id (customers and anonymous visitors).

    Incremental (delete+insert on user_id), by the users the run touches: those with
    events of the ingest batches after the watermark (the newest batch among the
    events it holds, ingest_seq, taken as a literal before the run: macros/incremental.sql),
    and those whose is_customer no longer matches dim_customers. Click events never
    change, so an untouched user's row stays right. When the dimension holds fewer
    events than fact_clicks holds up to its watermark (fact_clicks repaired with older
    batches), the watermark is -1 and every user is recomputed. -#}
{{ config(
    materialized='incremental',
    unique_key='user_id',
    incremental_strategy='delete+insert',
    on_schema_change='append_new_columns'
) }}

with

clicks as (

    select * from {{ ref('fact_clicks') }}

),

customers as (

    select * from {{ ref('dim_customers') }}

),

{% if is_incremental() %}

{%- set expected_sql %}
    select count(*) as silver_rows
    from {{ ref('fact_clicks') }} as clicks
    cross join loaded
    where clicks.ingest_seq <= loaded.newest_seq
{%- endset %}
{%- set watermark = dimension_watermark('events', expected_sql) %}

touched_users as (

    select clicks.user_id
    from clicks
    where clicks.ingest_seq > {{ watermark }}

    union all

    select users.user_id
    from {{ this }} as users
    left join customers
        on users.user_id = customers.customer_id
    where users.is_customer != (customers.customer_id is not null)

),

{% endif %}

selected_clicks as (

    select clicks.*
    from clicks
    {% if is_incremental() %}
        where clicks.user_id in (select touched_users.user_id from touched_users)
    {% endif %}

),

latest_click as (

    select
        user_id,
        user_agent,
        row_number() over (
            partition by user_id
            order by event_time desc, click_id desc
        ) as recency_rank

    from selected_clicks

),

user_summary as (

    select
        user_id,
        min(event_time) as first_seen,
        max(event_time) as last_seen,
        count(*) as events,
        count(distinct session_id) as sessions,
        max(ingest_seq) as ingest_seq

    from selected_clicks
    group by user_id

),

final as (

    select
        cast(user_summary.user_id as varchar(256)) as user_id,
        user_summary.first_seen,
        user_summary.last_seen,
        cast(latest_click.user_agent as varchar(4096)) as last_user_agent,
        (customers.customer_id is not null) as is_customer,
        cast(user_summary.events as bigint) as events,
        cast(user_summary.sessions as bigint) as sessions,
        cast(user_summary.ingest_seq as bigint) as ingest_seq

    from user_summary
    inner join latest_click
        on
            user_summary.user_id = latest_click.user_id
            and latest_click.recency_rank = 1
    left join customers
        on user_summary.user_id = customers.customer_id

)

select * from final
