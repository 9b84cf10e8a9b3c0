{#- Fails when the newest value of a timestamp column is older than `interval` units of
    `datepart` before the reference time: the current time by default, or the newest
    value of `reference_column` in the same model (for example ingested_at, so that a
    lake of historical data is judged against when it was ingested). An empty model
    fails too. -#}
{% test recency(model, column_name, datepart, interval, reference_column=none) %}

{%- set reference -%}
    {%- if reference_column -%}
        max({{ reference_column }})
    {%- else -%}
        cast({{ dbt.current_timestamp() }} as timestamp)
    {%- endif -%}
{%- endset %}

with

newest as (

    select
        max({{ column_name }}) as newest_value,
        {{ reference }} as reference_time
    from {{ model }}

)

select *
from newest
where
    newest_value is null
    or newest_value < {{ dbt.dateadd(datepart, -1 * interval, 'reference_time') }}

{% endtest %}
