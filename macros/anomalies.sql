{#- Helpers of the anomaly tests (tests/generic/*_anomaly.sql, business_time_freshness). -#}

{#- The current time in UTC as a timestamp without time zone (the warehouse's convention
    for every timestamp column). -#}
{% macro utc_now() -%}
    {{ return(adapter.dispatch('utc_now', 'shoplake')()) }}
{%- endmacro %}

{% macro default__utc_now() -%}
    (current_timestamp at time zone 'UTC')
{%- endmacro %}

{% macro redshift__utc_now() -%}
    getdate()
{%- endmacro %}

{#- Median of an expression within each group, the same on DuckDB, PostgreSQL and
    Redshift. -#}
{% macro group_median(expression) -%}
    percentile_cont(0.5) within group (order by {{ expression }})
{%- endmacro %}
