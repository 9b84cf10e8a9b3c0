{#- Freshness by business time: fails (one row) when the newest value of column_name
    (an order's order_ts, a click's event_time: when it happened, not when it was
    loaded) is older than max_hours before now (UTC). Default: var
    business_freshness_hours (26 for the daily job; 2, the design's SLA, for runs
    triggered on landing). Warns by default. -#}
{% test business_time_freshness(model, column_name, max_hours=none) %}
{{ config(severity='warn') }}
{%- set max_hours = max_hours if max_hours is not none else var('business_freshness_hours') -%}

with

newest as (

    select max({{ column_name }}) as newest_at
    from {{ model }}

)

select
    newest_at,
    {{ utc_now() }} as checked_at,
    {{ max_hours }} as max_hours
from newest
where newest_at is null or newest_at < {{ dbt.dateadd('hour', -max_hours, utc_now()) }}

{% endtest %}
