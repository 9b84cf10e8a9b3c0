{#- Daily row volume against the same weekday's trailing median: one row per business
    day (of column_name, from the first to the latest day of the data, days without rows
    counting 0) whose row count is outside median * (1 +- band), the median taken over
    the same weekday of the previous `weeks` weeks (at least `min_history` of them must
    exist). `period_days` is the spacing of the days compared (7: same weekday).
    Warns by default; the band and history come from the project variables
    anomaly_volume_band, anomaly_history_weeks and anomaly_min_history. -#}
{% test volume_anomaly(model, column_name, band=none, weeks=none, min_history=none, period_days=none) %}
{{ config(severity='warn') }}
{%- set band = band if band is not none else var('anomaly_volume_band') -%}
{%- set weeks = weeks if weeks is not none else var('anomaly_history_weeks') -%}
{%- set min_history = min_history if min_history is not none else var('anomaly_min_history') -%}
{%- set period_days = period_days if period_days is not none else var('anomaly_period_days') -%}

with

daily as (

    select
        cast({{ column_name }} as date) as business_day,
        count(*) as row_count
    from {{ model }}
    where {{ column_name }} is not null
    group by cast({{ column_name }} as date)

),

bounds as (

    select
        min(business_day) as first_day,
        max(business_day) as last_day
    from daily

),

days as (

    select
        calendar.date_day as business_day,
        coalesce(daily.row_count, 0) as row_count
    from {{ ref('dim_date') }} as calendar
    cross join bounds
    left join daily
        on calendar.date_day = daily.business_day
    where calendar.date_day between bounds.first_day and bounds.last_day

),

lags as (

    {%- for k in range(1, weeks + 1) %}
    select {{ k * period_days }} as lag_days{% if not loop.last %} union all{% endif %}
    {%- endfor %}

),

comparisons as (

    {#- an equi-join on each lag: the cost grows with the days, not with their square -#}
    select
        cur.business_day,
        cur.row_count,
        past.row_count as past_count
    from days as cur
    cross join lags
    inner join days as past
        on past.business_day = {{ dbt.dateadd('day', '-lags.lag_days', 'cur.business_day') }}

),

baseline as (

    select
        business_day,
        row_count,
        count(*) as history_days,
        {{ group_median('past_count') }} as median_count
    from comparisons
    group by business_day, row_count

)

select
    business_day,
    row_count,
    median_count,
    history_days,
    cast({{ band }} as numeric(9, 4)) as band
from baseline
where
    history_days >= {{ min_history }}
    and (
        row_count < (1 - {{ band }}) * median_count
        or row_count > (1 + {{ band }}) * median_count
    )

{% endtest %}
