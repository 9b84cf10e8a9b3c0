{#- One row per calendar day, following the data: from the earliest business date of the
    facts (or var calendar_start, when set and earlier) to the latest one, or today if
    later, plus var calendar_horizon_days (366). No calendar to maintain: every build
    rebuilds it from the facts it comes after, so it covers every fact's date whatever
    the history's span, and grows as data arrives.

    The spine is generated without a fixed-size cross join: day numbers are thousands
    (only as many as the span needs) times 0-999, so a build makes about as many rows
    as the calendar has days, on every target (Redshift has no generate_series on its
    compute nodes). -#}
{%- set configured_start = var('calendar_start', none) %}
{%- set first_fact_day = 'coalesce(min(first_day), current_date)' %}
{%- if configured_start %}
    {%- set first_fact_day = "least(" ~ first_fact_day ~ ", cast('" ~ configured_start ~ "' as date))" %}
{%- endif %}

with

fact_days as (

    select
        min(order_date) as first_day,
        max(order_date) as last_day
    from {{ ref('fact_orders') }}

    union all

    select
        min(cast(sold_at as date)) as first_day,
        max(cast(sold_at as date)) as last_day
    from {{ ref('sales_fact') }}

    union all

    select
        min(payment_date) as first_day,
        max(payment_date) as last_day
    from {{ ref('fact_payments') }}

    union all

    select
        min(cast(event_time as date)) as first_day,
        max(cast(event_time as date)) as last_day
    from {{ ref('fact_clicks') }}

),

bounds as (

    select
        {{ first_fact_day }} as first_day,
        cast({{ dbt.dateadd(
            'day',
            var('calendar_horizon_days', 366),
            'greatest(coalesce(max(last_day), current_date), current_date)'
        ) }} as date) as last_day
    from fact_days

),

span as (

    select
        bounds.first_day,
        bounds.last_day - bounds.first_day + 1 as day_count
    from bounds

),

digits as (

    {{ digit_rows() }}

),

below_thousand as (

    select hundreds.n * 100 + tens.n * 10 + ones.n as n
    from digits as hundreds
    cross join digits as tens
    cross join digits as ones

),

thousands as (

    select below_thousand.n * 1000 as n
    from below_thousand
    cross join span
    where below_thousand.n * 1000 < span.day_count

),

days as (

    select
        cast({{ dbt.dateadd('day', 'thousands.n + below_thousand.n', 'span.first_day') }} as date)
            as date_day
    from thousands
    cross join below_thousand
    cross join span
    where thousands.n + below_thousand.n < span.day_count

),

final as (

    select
        {{ date_key('date_day') }} as date_key,
        date_day,
        cast(extract(year from date_day) as integer) as year,
        cast(extract(quarter from date_day) as integer) as quarter,
        cast(extract(month from date_day) as integer) as month,
        cast({{ month_name('cast(extract(month from date_day) as integer)') }} as varchar(16))
            as month_name,
        cast(extract(day from date_day) as integer) as day_of_month,
        {{ iso_day_of_week('date_day') }} as day_of_week,
        case
            when {{ iso_day_of_week('date_day') }} in (6, 7) then true else false
        end as is_weekend

    from days

)

select * from final
